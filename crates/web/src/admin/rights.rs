//! Data-subject rights requests in the back-office: the list, the earliest deadline first
//! (open, overdue, due within 7 days, all), and one request with its decisions, its ID copy's
//! fate and its timeline, with a form for each step its stage allows (assign, ask for proof
//! of identity, verify, decide, extend, fulfil, tell a recipient, close), as in the API and
//! `kluis request`; once data may be released, the access package and portability export to
//! download or send, and a rectification in a connected system (see [`release`]).
//! Requests hold personal data: the dpo or caseworker role and a signed confidentiality
//! statement are needed, as in the API.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::access::Permission;
use kluis_domain::access_package::PackageKind;
use kluis_domain::i18n;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::rights::{self, Decision, Outcome, RefusalGround, Right, Stage, Step, Urgency};
use kluis_domain::statement::date_in_words;
use kluis_domain::text::Lang;
use kluis_store::{
    ActionStatus, CarriedOutBy, FulfilmentAction, PACKAGE, Processing, RecipientToTell,
    RequestChange, RequestFilter, RightsRequest, Session, StoreError, VAULT,
};
use serde::Deserialize;
use uuid::Uuid;

use super::form::FormData;
use super::{Ctx, StaffSession, forbidden, lang_of, not_found, page, store_failure, translated};
use crate::fulfilment::FulfilmentError;
use crate::pages::Translated as _;
use crate::state::AppState;
use crate::trace::Trace;
use release::NotDone;

pub mod release;

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
    assignee: String,
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
    /// The step just taken.
    done: Option<String>,
    /// Why the step just tried was refused.
    error: Option<String>,
    /// Where the step forms post.
    action: String,
    /// The version the forms change (the optimistic lock).
    version: i64,
    forms: StepForms,
    rows: Vec<(String, String)>,
    decisions: Vec<String>,
    /// What carrying out the request takes, per right, activity and place, and how far it got.
    actions: Vec<ActionLine>,
    /// The recipients to tell of a rectification, erasure or restriction (art. 19).
    recipients: Vec<String>,
    /// The recipients not told yet, for the "told" form (empty: no form).
    untold: Vec<String>,
    documents: Vec<String>,
    /// The access package and portability export to download: (link, label).
    downloads: Vec<(String, String)>,
    /// Whether the portability export may be sent to another controller.
    transmit: bool,
    timeline: Vec<String>,
    back: String,
}

/// One action of the fulfilment, as the page shows it.
pub struct ActionLine {
    what: String,
    place: String,
    status: String,
    /// Failed: shown as an error.
    failed: bool,
    /// The instruction for an action by hand, or the last error.
    detail: String,
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
                assignee: r.assignee.unwrap_or_else(|| t(lang, "unassigned")),
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

/// `GET /admin/rights/{id}`: one request in full, with the forms of the steps it allows.
pub async fn view(
    State(state): State<AppState>,
    staff: StaffSession,
    Path(id): Path<String>,
    Query(q): Query<ViewQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(&super::LangQuery { lang: q.lang }, &headers);
    if let Some(refusal) = refused(&state, lang, &staff.session).await {
        return refusal;
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let done = q
        .done
        .filter(|d| STEPS.contains(&d.as_str()))
        .map(|d| match d.as_str() {
            // Counts only: the values themselves never go into a URL.
            "rectify" => {
                let count = |n: &Option<String>| {
                    let n = n.as_deref().and_then(|n| n.parse::<u64>().ok());
                    n.unwrap_or_default().to_string()
                };
                i18n::tf(
                    lang,
                    "admin.rights.done_rectify",
                    &[("changed", &count(&q.changed)), ("rows", &count(&q.rows))],
                )
            }
            d => t(lang, &format!("done_{d}")),
        });
    request_page(&state, &staff, lang, id, StatusCode::OK, Notice::Done(done)).await
}

#[derive(Debug, Default, Deserialize)]
pub struct ViewQuery {
    lang: Option<String>,
    /// The step just taken, to confirm it.
    done: Option<String>,
    /// After a rectification: the person's rows changed, of how many (text: a tampered
    /// link shows 0 rather than an error).
    changed: Option<String>,
    rows: Option<String>,
}

/// The steps the page's forms post, by the `step` field.
const STEPS: &[&str] = &[
    "assign",
    "ask_identity",
    "verify",
    "decide",
    "extend",
    "fulfil",
    "told",
    "close",
    "transmit",
    "rectify",
];

/// What the page says above the request: a step done, or why the last one was refused.
enum Notice {
    Done(Option<String>),
    Refused(String),
}

/// Empty decision rows the decide form offers beyond the register's defaults.
const BLANK_DECISIONS: usize = 3;

async fn request_page(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    id: Uuid,
    status: StatusCode,
    notice: Notice,
) -> Response {
    let r = match state.store.rights_request(id).await {
        Ok(r) => r,
        Err(kluis_store::StoreError::NotFound { .. }) => return not_found(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let forms = match step_forms(state, lang, &r).await {
        Ok(forms) => forms,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let fulfilment = match state.store.fulfilment_status(id).await {
        Ok(status) => status,
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
    let (done, error) = match notice {
        Notice::Done(done) => (done, None),
        Notice::Refused(message) => (None, Some(message)),
    };
    let p = RequestPage {
        ctx,
        urgency,
        alert,
        done,
        error,
        action: format!("/admin/rights/{id}?lang={}", lang.code()),
        version: r.version,
        forms,
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
        actions: fulfilment
            .actions
            .iter()
            .map(|a| action_line(lang, a))
            .collect(),
        recipients: fulfilment
            .recipients
            .iter()
            .map(|x| recipient_line(lang, x))
            .collect(),
        untold: if r.stage == Stage::Closed {
            Vec::new()
        } else {
            let names: std::collections::BTreeSet<String> = fulfilment
                .untold()
                .into_iter()
                .map(|x| x.recipient.clone())
                .collect();
            names.into_iter().collect()
        },
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
        downloads: release::downloads(lang, &r),
        transmit: release::releasable(PackageKind::Portability, &r),
        back: format!("/admin/rights?lang={}", lang.code()),
    };
    page(status, &p)
}

fn action_line(lang: Lang, a: &FulfilmentAction) -> ActionLine {
    let place = match a.target.as_str() {
        VAULT => t(lang, "place_vault"),
        PACKAGE => t(lang, "place_package"),
        system => i18n::tf(lang, "admin.rights.place_system", &[("system", system)]),
    };
    let by = match a.carried_out_by {
        CarriedOutBy::Kluis => t(lang, "by_kluis"),
        CarriedOutBy::Staff => t(lang, "by_hand"),
    };
    ActionLine {
        what: format!("{}, {}", label(lang, a.right.label_key()), a.activity),
        place,
        status: format!("{} ({by})", t(lang, &format!("action_{}", a.status.name()))),
        failed: a.status == ActionStatus::Failed,
        detail: match (a.status, &a.error, &a.instruction) {
            (ActionStatus::Done, _, _) => String::new(),
            (_, Some(error), _) => error.clone(),
            (_, None, Some(instruction)) => instruction.clone(),
            _ => String::new(),
        },
    }
}

fn recipient_line(lang: Lang, x: &RecipientToTell) -> String {
    let what = format!("{}, {}", label(lang, x.right.label_key()), x.activity);
    match (&x.told_at, &x.how) {
        (Some(at), how) => i18n::tf(
            lang,
            "admin.rights.recipient_told",
            &[
                ("recipient", &x.recipient),
                ("what", &what),
                ("at", &date_in_words(lang, at.date())),
                ("how", how.as_deref().unwrap_or_default()),
            ],
        ),
        (None, _) => i18n::tf(
            lang,
            "admin.rights.recipient_untold",
            &[("recipient", &x.recipient), ("what", &what)],
        ),
    }
}

/// The forms of the steps the request's stage allows, as the state machine says.
pub struct StepForms {
    /// Staff who may handle requests: (username, name, currently assigned).
    assign: Option<Vec<(String, String, bool)>>,
    ask_identity: bool,
    verify: bool,
    /// One row per decision to take: the register's defaults, then blank rows.
    decide: Option<DecideForm>,
    extend: bool,
    fulfil: bool,
    close: bool,
    /// The connected systems a rectification can be made in (empty: no form).
    rectify: Vec<String>,
}

impl StepForms {
    fn any(&self) -> bool {
        !self.rectify.is_empty()
            || self.assign.is_some()
            || self.ask_identity
            || self.verify
            || self.decide.is_some()
            || self.extend
            || self.fulfil
            || self.close
    }
}

pub struct DecideForm {
    rows: Vec<DecisionRow>,
    /// (value, label) of the rights asked, the controller's activities, the outcomes and
    /// the refusal grounds, for the blank rows' lists.
    rights: Vec<(String, String)>,
    activities: Vec<(String, String)>,
    outcomes: Vec<(String, String)>,
    grounds: Vec<(String, String)>,
}

pub struct DecisionRow {
    index: usize,
    /// Set for a row the register proposes: right and activity are fixed.
    fixed: Option<(String, String)>,
    right: String,
    activity: String,
    outcome: String,
    ground: String,
    motivation: String,
}

async fn step_forms(
    state: &AppState,
    lang: Lang,
    r: &RightsRequest,
) -> Result<StepForms, kluis_store::StoreError> {
    let allows = |step: Step| rights::next_stage(r.stage, &step, r.grants()).is_ok();
    let open = r.stage != Stage::Closed;
    let assign = if open {
        let staff = state
            .store
            .users()
            .await?
            .into_iter()
            .filter(|u| !u.disabled && Permission::HandleRightsRequests.granted_to(&u.roles))
            .map(|u| {
                let current = r.assignee.as_deref() == Some(u.username.as_str());
                (u.username, u.display_name, current)
            })
            .collect();
        Some(staff)
    } else {
        None
    };
    let decide = if allows(Step::Decide) {
        Some(decide_form(state, lang, r).await?)
    } else {
        None
    };
    Ok(StepForms {
        assign,
        ask_identity: allows(Step::RequestIdentity),
        verify: allows(Step::VerifyIdentity),
        decide,
        extend: open && r.deadline.extension.is_none(),
        fulfil: allows(Step::Fulfil),
        close: allows(Step::Close),
        rectify: release::rectification_systems(state, r).await?,
    })
}

/// The decide form: the decisions taken so far, or else the register's defaults, then
/// blank rows for the rights and activities the caseworker judges.
async fn decide_form(
    state: &AppState,
    lang: Lang,
    r: &RightsRequest,
) -> Result<DecideForm, kluis_store::StoreError> {
    let activities: Vec<_> = state
        .store
        .activities(Some(&r.controller))
        .await?
        .into_iter()
        .map(|a| a.value)
        .collect();
    let proposed = if r.decisions.is_empty() {
        rights::default_decisions(&r.rights, &activities, lang)
    } else {
        r.decisions.clone()
    };
    let name_of = |id: &str| {
        activities
            .iter()
            .find(|a| a.id == id)
            .map(|a| a.name.show(lang).to_string())
            .unwrap_or_else(|| id.to_string())
    };
    let mut rows: Vec<DecisionRow> = proposed
        .iter()
        .enumerate()
        .map(|(index, d)| DecisionRow {
            index,
            fixed: Some((label(lang, d.right.label_key()), name_of(&d.activity))),
            right: d.right.name().into(),
            activity: d.activity.clone(),
            outcome: d.outcome.name().into(),
            ground: d
                .grounds
                .first()
                .map(|g| g.name().into())
                .unwrap_or_default(),
            motivation: d.motivation.clone(),
        })
        .collect();
    for index in rows.len()..rows.len() + BLANK_DECISIONS {
        rows.push(DecisionRow {
            index,
            fixed: None,
            right: String::new(),
            activity: String::new(),
            outcome: String::new(),
            ground: String::new(),
            motivation: String::new(),
        });
    }
    Ok(DecideForm {
        rows,
        rights: r
            .rights
            .iter()
            .map(|x| (x.name().into(), label(lang, x.label_key())))
            .collect(),
        activities: activities
            .iter()
            .map(|a| (a.id.clone(), a.name.show(lang).to_string()))
            .collect(),
        outcomes: Outcome::ALL
            .iter()
            .map(|o| (o.name().into(), label(lang, o.label_key())))
            .collect(),
        grounds: RefusalGround::ALL
            .iter()
            .map(|g| (g.name().into(), label(lang, g.label_key())))
            .collect(),
    })
}

/// `POST /admin/rights/{id}`: one step, named by the form's `step` field, at the version
/// the page showed. Done: back to the page, which confirms it. Refused: the page again,
/// saying why, with nothing changed.
pub async fn step(
    State(state): State<AppState>,
    staff: StaffSession,
    trace: Trace,
    Path(id): Path<String>,
    Query(q): Query<super::LangQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(&q, &headers);
    let form = FormData(fields);
    if let Some(refusal) = staff.csrf_refusal(&form, lang) {
        return refusal;
    }
    if let Some(refusal) = refused(&state, lang, &staff.session).await {
        return refusal;
    }
    let Ok(id) = id.parse::<Uuid>() else {
        return not_found(lang, &staff.session);
    };
    let refuse = |status, message: String| {
        request_page(&state, &staff, lang, id, status, Notice::Refused(message))
    };
    let Ok(version) = form.get("version").parse::<i64>() else {
        return refuse(StatusCode::UNPROCESSABLE_ENTITY, t(lang, "stale")).await;
    };
    let name = form.get("step").to_string();
    let now = state.now();
    let actor = staff.actor().to_string();
    // What the page says after the redirect besides the step's name.
    let mut said = String::new();
    let result = match name.as_str() {
        "fulfil" => match fulfil(&state, &staff, trace, id, version, form.get("note")).await {
            Ok(()) => Ok(()),
            Err(FulfilmentError::Refused(why)) => return refuse(StatusCode::CONFLICT, why).await,
            Err(FulfilmentError::Store(e)) => Err(e),
        },
        "transmit" => {
            let processing = processing(&state, &staff, trace);
            match release::transmit(&state, processing, id, &form).await {
                Ok(_) => Ok(()),
                Err(NotDone::Refused(status, why)) => return refuse(status, why).await,
                Err(NotDone::Store(e)) => Err(e),
            }
        }
        "rectify" => {
            let processing = processing(&state, &staff, trace);
            match release::rectify(&state, processing, id, &form, lang).await {
                Ok(outcome) => {
                    said = format!("&changed={}&rows={}", outcome.changed, outcome.rows);
                    Ok(())
                }
                Err(NotDone::Refused(status, why)) => return refuse(status, why).await,
                Err(NotDone::Store(e)) => Err(e),
            }
        }
        "told" => state
            .store
            .record_recipient_told(id, form.get("recipient"), form.get("how"), &actor, now)
            .await
            .map(|_| ()),
        "assign" => state
            .store
            .assign_request(id, version, form.get("assignee"), &actor, now)
            .await
            .map(|_| ()),
        other => match change_from_form(other, &form, lang, now.date()) {
            Ok(change) => state
                .store
                .change_request(id, version, &change, &actor, now)
                .await
                .map(|_| ()),
            Err(message) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, message).await,
        },
    };
    match result {
        Ok(_) => Redirect::to(&format!(
            "/admin/rights/{id}?lang={}&done={name}{said}",
            lang.code()
        ))
        .into_response(),
        Err(StoreError::Invalid(message)) => {
            refuse(StatusCode::UNPROCESSABLE_ENTITY, message).await
        }
        Err(StoreError::Conflict { .. }) => refuse(StatusCode::CONFLICT, t(lang, "stale")).await,
        Err(StoreError::NotFound { what: "user", .. }) => {
            refuse(StatusCode::UNPROCESSABLE_ENTITY, t(lang, "no_such_staff")).await
        }
        Err(StoreError::NotFound { .. }) => not_found(lang, &staff.session),
        Err(e) => store_failure(lang, Some(&staff.session), e),
    }
}

/// Carries out the request as the API and `kluis request fulfil` do, at the version the
/// page showed; a note confirms what was done by hand.
async fn fulfil(
    state: &AppState,
    staff: &StaffSession,
    trace: Trace,
    id: Uuid,
    version: i64,
    note: &str,
) -> Result<(), FulfilmentError> {
    let current = state.store.rights_request(id).await?;
    if current.version != version {
        return Err(StoreError::Conflict {
            what: "rights request",
            id: id.to_string(),
            expected: version,
            actual: current.version,
        }
        .into());
    }
    let processing = processing(state, staff, trace);
    let note = Some(note.trim()).filter(|n| !n.is_empty());
    crate::fulfilment::fulfil_gated(state, &processing, id, note)
        .await
        .map(|_| ())
}

/// Who works on the person's data from the back-office, for the processing log: the
/// signed-in staff member, as the API's caller is.
fn processing(state: &AppState, staff: &StaffSession, trace: Trace) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(staff.session.user.id.to_string()),
            name: staff.actor().to_string(),
        },
        trace: trace.0,
        case_ref: None,
        now: state.now(),
    }
}

/// The change a step's form asks for, or what is wrong with the form, in the page's
/// language.
fn change_from_form(
    step: &str,
    form: &FormData,
    lang: Lang,
    today: time::Date,
) -> Result<RequestChange, String> {
    let text = |name: &str, missing: &str| {
        let value = form.get(name).trim();
        if value.is_empty() {
            Err(t(lang, missing))
        } else {
            Ok(value.to_string())
        }
    };
    Ok(match step {
        "ask_identity" => RequestChange::RequestIdentity {
            note: text("note", "note_missing")?,
        },
        "verify" => RequestChange::VerifyIdentity {
            subject_id: match form.get("subject").trim() {
                "" => None,
                id => Some(id.parse().map_err(|_| t(lang, "bad_subject"))?),
            },
        },
        "decide" => RequestChange::Decide {
            decisions: decisions_from_form(form, lang)?,
        },
        "extend" => RequestChange::Extend {
            months: match form.get("months") {
                "1" => 1,
                "2" => 2,
                _ => return Err(t(lang, "bad_months")),
            },
            reason: text("reason", "reason_missing")?,
            told_on: today,
        },
        "close" => RequestChange::Close {
            note: text("note", "note_missing")?,
        },
        _ => return Err(t(lang, "unknown_step")),
    })
}

/// The decisions of the decide form: every row with an outcome; a row without one is left
/// out (the blank rows the caseworker did not use).
fn decisions_from_form(form: &FormData, lang: Lang) -> Result<Vec<Decision>, String> {
    let mut decisions = Vec::new();
    for index in 0.. {
        let field = |name: &str| format!("d{index}.{name}");
        if !form.0.iter().any(|(k, _)| *k == field("outcome")) {
            break;
        }
        let outcome = form.get(&field("outcome"));
        if outcome.is_empty() {
            continue;
        }
        let row = index + 1;
        let bad = |what: &str| {
            i18n::tf(
                lang,
                "admin.rights.bad_decision",
                &[("row", &row.to_string()), ("what", &t(lang, what))],
            )
        };
        let right: Right = form
            .get(&field("right"))
            .parse()
            .map_err(|_| bad("decision_right"))?;
        let activity = form.get(&field("activity")).trim().to_string();
        if activity.is_empty() {
            return Err(bad("decision_activity"));
        }
        let grounds = match form.get(&field("ground")) {
            "" => Vec::new(),
            g => vec![g.parse().map_err(|_| bad("decision_ground"))?],
        };
        decisions.push(Decision {
            right,
            activity,
            outcome: outcome.parse().map_err(|_| bad("decision_outcome"))?,
            grounds,
            motivation: form.get(&field("motivation")).trim().to_string(),
        });
    }
    if decisions.is_empty() {
        return Err(t(lang, "no_decisions_given"));
    }
    Ok(decisions)
}

/// The request's facts as label and value, in the page's language.
fn fields(lang: Lang, r: &RightsRequest) -> Vec<(String, String)> {
    let person = &r.requester.identity;
    let name = person.full_name();
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
            t(lang, "assignee"),
            r.assignee.clone().unwrap_or_else(|| t(lang, "unassigned")),
        ),
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
