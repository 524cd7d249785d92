//! The breach register in the back-office: the list with the 72-hour clock (all, open,
//! overdue) and one breach in full. Reading only: the DPO records through the API or the
//! command line. The DPO, administrators and auditors may read.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::breach::{self, ClockStatus, ReportedBy, show_time};
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::{Breach, BreachFilter};
use serde::Deserialize;
use time::OffsetDateTime;
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
    /// The start of what happened.
    summary: String,
    href: String,
    controller: String,
    aware_at: String,
    due: String,
    risk: String,
    clock: String,
    /// Due soon or overdue: shown in bold.
    alert: bool,
    file: String,
}

#[derive(Template)]
#[template(path = "admin/breaches.html")]
pub struct ListPage {
    ctx: Ctx,
    /// (link, label, current).
    filters: Vec<(String, String, bool)>,
    rows: Vec<Row>,
}

#[derive(Template)]
#[template(path = "admin/breach.html")]
pub struct BreachPage {
    ctx: Ctx,
    clock: String,
    alert: bool,
    rows: Vec<(String, String)>,
    notifications: Vec<String>,
    people: Vec<String>,
    back: String,
}

translated!(ListPage, BreachPage);

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.breaches.{key}")).to_string()
}

fn label(lang: Lang, key: String) -> String {
    i18n::t(lang, &key).to_string()
}

/// How much of the description the list shows.
const SUMMARY_CHARS: usize = 80;

fn alerting(clock: ClockStatus) -> bool {
    matches!(clock, ClockStatus::DueSoon | ClockStatus::Overdue)
}

fn risk(lang: Lang, b: &Breach) -> String {
    b.facts
        .risk_level()
        .map_or_else(|| t(lang, "not_assessed"), |r| label(lang, r.label_key()))
}

fn row(lang: Lang, b: &Breach, now: OffsetDateTime) -> Row {
    let clock = b.clock(now);
    let mut summary: String = b.facts.description.chars().take(SUMMARY_CHARS).collect();
    if b.facts.description.chars().count() > SUMMARY_CHARS {
        summary.push('…');
    }
    Row {
        summary,
        reference: b.reference(),
        href: format!("/admin/breaches/{}?lang={}", b.id, lang.code()),
        controller: b.facts.controller.clone(),
        aware_at: show_time(b.facts.aware_at),
        due: show_time(b.facts.notification_due()),
        risk: risk(lang, b),
        clock: label(lang, clock.label_key()),
        alert: alerting(clock),
        file: t(
            lang,
            if b.facts.is_open() {
                "file_open"
            } else {
                "file_closed"
            },
        ),
    }
}

/// `GET /admin/breaches?show=open|overdue`.
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
    if !breach::may_read(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let show = q.show.as_deref().unwrap_or("");
    let filter = BreachFilter {
        open: show == "open",
        overdue: show == "overdue",
    };
    let now = state.now();
    let list = match state.store.breaches(filter, now).await {
        Ok(list) => list,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let filters = [("", "all"), ("open", "open"), ("overdue", "overdue")]
        .into_iter()
        .map(|(value, key)| {
            let href = if value.is_empty() {
                format!("/admin/breaches?lang={}", lang.code())
            } else {
                format!("/admin/breaches?lang={}&show={value}", lang.code())
            };
            (href, t(lang, key), show == value)
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
        "/admin/breaches",
        &extra,
        t(lang, "title"),
    );
    let p = ListPage {
        ctx,
        filters,
        rows: list.iter().map(|b| row(lang, b, now)).collect(),
    };
    page(StatusCode::OK, &p)
}

/// `GET /admin/breaches/{id}`: one breach in full.
pub async fn view(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&q, &headers);
    if !breach::may_read(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let b = match state.store.breach(id).await {
        Ok(Some(b)) => b,
        Ok(None) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let now = state.now();
    let clock = b.clock(now);
    let f = &b.facts;
    let names = |v: Vec<String>| v.join(", ");
    let reporter = match &f.reported_by {
        ReportedBy::Staff { name } => {
            format!("{} ({name})", label(lang, "breach_reporter.staff".into()))
        }
        ReportedBy::Processor { name } => {
            format!(
                "{} ({name})",
                label(lang, "breach_reporter.processor".into())
            )
        }
        ReportedBy::Citizen { contact } => match contact {
            Some(c) => format!("{} ({c})", label(lang, "breach_reporter.citizen".into())),
            None => label(lang, "breach_reporter.citizen".into()),
        },
    };
    let rows = vec![
        (t(lang, "controller"), f.controller.clone()),
        (t(lang, "detected_at"), show_time(f.detected_at)),
        (t(lang, "aware_at"), show_time(f.aware_at)),
        (t(lang, "due"), show_time(f.notification_due())),
        (t(lang, "reported_by"), reporter),
        (t(lang, "description"), f.description.clone()),
        (
            t(lang, "data_categories"),
            names(
                f.data_categories
                    .iter()
                    .map(|c| label(lang, c.label_key()))
                    .collect(),
            ),
        ),
        (
            t(lang, "subject_categories"),
            names(
                f.subject_categories
                    .iter()
                    .map(|c| label(lang, c.label_key()))
                    .collect(),
            ),
        ),
        (
            t(lang, "approx_subjects"),
            f.approx_subjects.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (
            t(lang, "approx_records"),
            f.approx_records.map(|n| n.to_string()).unwrap_or_default(),
        ),
        (t(lang, "consequences"), f.consequences.clone()),
        (t(lang, "measures_taken"), f.measures_taken.clone()),
        (t(lang, "measures_proposed"), f.measures_proposed.clone()),
        (t(lang, "risk"), risk(lang, &b)),
        (
            t(lang, "risk_reasons"),
            f.risk
                .as_ref()
                .map(|r| r.reasons.clone())
                .unwrap_or_default(),
        ),
        (
            t(lang, "file"),
            t(
                lang,
                if f.is_open() {
                    "file_open"
                } else {
                    "file_closed"
                },
            ),
        ),
    ];
    let notifications = b
        .notices
        .iter()
        .map(|n| {
            let mut text = format!(
                "{}, {}: {}",
                label(lang, n.notice.phase.label_key()),
                show_time(n.notice.sent_at),
                n.notice.content
            );
            if let Some(reason) = &n.notice.delay_reason {
                text.push_str(&format!(" ({}: {reason})", t(lang, "delay_reason")));
            }
            text
        })
        .collect();
    let mut people = Vec::new();
    match &b.art34 {
        Some(d) if d.decision.inform => people.push(i18n::tf(
            lang,
            "admin.breaches.people_inform",
            &[("reasons", &d.decision.reasons)],
        )),
        Some(d) => {
            let article = d.decision.ground.map_or_else(String::new, |g| {
                format!("{} ({})", g.article(), label(lang, g.label_key()))
            });
            people.push(i18n::tf(
                lang,
                "admin.breaches.people_exempt",
                &[("article", &article), ("reasons", &d.decision.reasons)],
            ));
        }
        None if breach::people_must_be_told(f, None) => people.push(t(lang, "people_must")),
        None => people.push(t(lang, "people_undecided")),
    }
    if b.people_told > 0 {
        people.push(i18n::tf(
            lang,
            "admin.breaches.people_told",
            &[("count", &b.people_told.to_string())],
        ));
        people.push(i18n::tf(
            lang,
            "admin.breaches.people_mailed",
            &[("count", &b.people_mailed.to_string())],
        ));
    }
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        &format!("/admin/breaches/{id}"),
        "",
        format!("{} {}", t(lang, "title"), b.reference()),
    );
    let p = BreachPage {
        ctx,
        clock: label(lang, clock.label_key()),
        alert: alerting(clock),
        rows,
        notifications,
        people,
        back: format!("/admin/breaches?lang={}", lang.code()),
    };
    page(StatusCode::OK, &p)
}
