//! Data-subject rights requests in the back-office: the list, the earliest deadline first
//! (open, overdue, due within 7 days, all), and one request with its decisions, its ID copy's
//! fate and its timeline. Reading only: staff take a request through its steps with the API
//! or `kluis request`. Requests hold personal data: the dpo or caseworker role and a signed
//! confidentiality statement are needed, as in the API.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::rights::Urgency;
use kluis_domain::statement::date_in_words;
use kluis_domain::text::Lang;
use kluis_store::{RequestFilter, RightsRequest, Session};
use serde::Deserialize;
use uuid::Uuid;

use super::{Ctx, StaffSession, forbidden, lang_of, not_found, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    lang: Option<String>,
    #[serde(default)]
    show: Option<String>,
}

pub struct Row {
    reference: String,
    href: String,
    rights: String,
    controller: String,
    stage: String,
    received: String,
    due: String,
    urgency: String,
    /// Overdue or due soon: shown in bold.
    alert: bool,
}

#[derive(Template)]
#[template(path = "admin/rights.html")]
pub struct ListPage {
    ctx: Ctx,
    /// (link, label, current).
    filters: Vec<(String, String, bool)>,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/rights_request.html")]
pub struct RequestPage {
    ctx: Ctx,
    urgency: String,
    alert: bool,
    rows: Vec<(String, String)>,
    decisions: Vec<String>,
    documents: Vec<String>,
    timeline: Vec<String>,
    back: String,
}

translated!(ListPage, RequestPage);

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.rights.{key}")).to_string()
}

fn label(lang: Lang, key: String) -> String {
    i18n::t(lang, &key).to_string()
}

fn urgency(lang: Lang, u: Urgency) -> (String, bool) {
    match u {
        Urgency::Overdue(n) => (
            i18n::tf(lang, "admin.rights.days_late", &[("n", &n.to_string())]),
            true,
        ),
        Urgency::DueSoon(n) => (
            i18n::tf(lang, "admin.rights.days_left", &[("n", &n.to_string())]),
            true,
        ),
        Urgency::OnTime => (t(lang, "on_time"), false),
    }
}

/// Whether the signed-in staff member may read requests; None when they may.
async fn refused(state: &AppState, lang: Lang, session: &Session) -> Option<Response> {
    if !Permission::HandleRightsRequests.granted_to(&session.user.roles) {
        return Some(forbidden(lang, session));
    }
    match state.store.clearance(session.user.id).await {
        Ok(clearance) if clearance.scope().is_ok() => None,
        Ok(_) => Some(forbidden(lang, session)),
        Err(e) => Some(store_failure(lang, Some(session), e)),
    }
}

/// `GET /admin/rights?show=overdue|due_soon|all`.
pub async fn list(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<ListQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(
        &super::LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    if let Some(refusal) = refused(&state, lang, &staff.session).await {
        return refusal;
    }
    let show = q.show.as_deref().unwrap_or("");
    let filter = match show {
        "overdue" => RequestFilter::Overdue,
        "due_soon" => RequestFilter::DueSoon,
        "all" => RequestFilter::All,
        _ => RequestFilter::Open,
    };
    let today = state.now().date();
    let list = match state.store.rights_requests(filter, today).await {
        Ok(list) => list,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let filters = [
        ("", "open"),
        ("overdue", "overdue"),
        ("due_soon", "due_soon"),
        ("all", "all"),
    ]
    .into_iter()
    .map(|(value, key)| {
        let href = if value.is_empty() {
            format!("/admin/rights?lang={}", lang.code())
        } else {
            format!("/admin/rights?lang={}&show={value}", lang.code())
        };
        (href, t(lang, key), show == value)
    })
    .collect();
    let rows = list
        .into_iter()
        .map(|r| {
            let (urgency, alert) = urgency(lang, r.urgency);
            Row {
                href: format!("/admin/rights/{}?lang={}", r.id, lang.code()),
                reference: r.reference,
                rights: r
                    .rights
                    .iter()
                    .map(|x| label(lang, x.label_key()))
                    .collect::<Vec<_>>()
                    .join(", "),
                controller: r.controller,
                stage: label(lang, r.stage.label_key()),
                received: date_in_words(lang, r.received_on),
                due: date_in_words(lang, r.due_on),
                urgency,
                alert,
            }
        })
        .collect();
    let extra = if show.is_empty() {
        String::new()
    } else {
        format!("&show={show}")
    };
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        "/admin/rights",
        &extra,
        t(lang, "title"),
    );
    page(StatusCode::OK, &ListPage { ctx, filters, rows })
}

/// `GET /admin/rights/{id}`: one request in full.
pub async fn view(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    if let Some(refusal) = refused(&state, lang, &staff.session).await {
        return refusal;
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let r = match state.store.rights_request(id).await {
        Ok(r) => r,
        Err(kluis_store::StoreError::NotFound { .. }) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let (urgency, alert) = urgency(lang, r.deadline.urgency(state.now().date()));
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/rights/{id}"),
        "",
        r.reference.clone(),
    );
    let p = RequestPage {
        ctx,
        urgency,
        alert,
        rows: fields(lang, &r),
        decisions: r
            .decisions
            .iter()
            .map(|d| {
                let grounds: Vec<String> = d
                    .grounds
                    .iter()
                    .map(|g| format!("{} ({})", label(lang, g.label_key()), g.article(d.right)))
                    .collect();
                let mut line = format!(
                    "{}, {}: {}",
                    label(lang, d.right.label_key()),
                    d.activity,
                    label(lang, d.outcome.label_key())
                );
                if !grounds.is_empty() {
                    line.push_str(&format!(" — {}", grounds.join(", ")));
                }
                line.push_str(&format!(". {}", d.motivation));
                line
            })
            .collect(),
        documents: r
            .documents
            .iter()
            .map(|d| match d.destroyed_at {
                Some(at) => i18n::tf(
                    lang,
                    "admin.rights.document_destroyed",
                    &[
                        ("type", &d.media_type),
                        ("at", &date_in_words(lang, at.date())),
                    ],
                ),
                None => i18n::tf(
                    lang,
                    "admin.rights.document_kept",
                    &[("type", &d.media_type), ("size", &d.size.to_string())],
                ),
            })
            .collect(),
        timeline: r
            .timeline
            .iter()
            .map(|s| {
                let note = s
                    .note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default();
                format!(
                    "{} {} — {} ({}){note}",
                    date_in_words(lang, s.at.date()),
                    s.at.time().to_string().get(..5).unwrap_or_default(),
                    s.step,
                    s.actor
                )
            })
            .collect(),
        back: format!("/admin/rights?lang={}", lang.code()),
    };
    page(StatusCode::OK, &p)
}

/// The request's facts as label and value, in the page's language.
fn fields(lang: Lang, r: &RightsRequest) -> Vec<(String, String)> {
    let person = &r.requester.identity;
    let name = [person.given_name.as_deref(), person.family_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let extension = r
        .deadline
        .extension
        .as_ref()
        .map(|e| format!("{} — {}", e.months, e.reason))
        .unwrap_or_default();
    vec![
        (t(lang, "controller"), r.controller.clone()),
        (
            t(lang, "rights"),
            r.rights
                .iter()
                .map(|x| label(lang, x.label_key()))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        (t(lang, "channel"), label(lang, r.channel.label_key())),
        (t(lang, "stage"), label(lang, r.stage.label_key())),
        (
            t(lang, "status"),
            format!("{} ({})", label(lang, r.status.label_key()), r.status.dpv()),
        ),
        (
            t(lang, "received"),
            date_in_words(lang, r.deadline.received_on),
        ),
        (t(lang, "due"), date_in_words(lang, r.deadline.due_on())),
        (t(lang, "extension"), extension),
        (t(lang, "person"), name),
        (
            t(lang, "acting_for"),
            label(lang, r.requester.acting_for.label_key()),
        ),
        (
            t(lang, "email"),
            r.requester
                .email
                .as_ref()
                .map(|e| e.as_str().to_string())
                .unwrap_or_default(),
        ),
        (
            t(lang, "postal_address"),
            r.requester.postal_address.clone().unwrap_or_default(),
        ),
        (t(lang, "message"), r.requester.message.clone()),
        (t(lang, "language"), r.language.code().to_string()),
    ]
}
