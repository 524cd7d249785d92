//! The retention plan in the back-office: what will be destroyed up to a day, per
//! processing activity (erased and anonymised apart) and per connected system and table
//! (deleted, anonymised, kept, as the dataset map says), with what legal holds keep and
//! what waits for review, the destruction lists, the holds in force and the latest sweeps. The DPO and auditors may
//! read.
//!
//! The DPO also works here, as with `kluis retention`: approves a destruction list where
//! the controller requires approval, places and lifts legal holds, and extends an
//! extendable retention period. Holds and extensions touch personal data and are logged
//! for every person they cover: they need the dpo role and a signed confidentiality
//! statement. Each form posts to `/admin/retention`, named by its `action` field; done, the
//! page confirms it (`?done=`); refused, the page says why, with nothing changed.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::access::{Permission, Role, Scope};
use kluis_domain::destruction::{HoldScope, ListState, NewHold};
use kluis_domain::i18n;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::text::Lang;
use kluis_store::{Processing, StoreError};
use serde::Deserialize;
use time::Date;
use uuid::Uuid;

use super::form::{FormData, format_date, parse_date};
use super::{Ctx, StaffSession, forbidden, lang_of, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::state::AppState;
use crate::trace::Trace;

/// How far ahead the page looks when no day is given.
const DEFAULT_DAYS: i64 = 30;

/// The actions the page's forms post, by the `action` field.
const ACTIONS: &[&str] = &["approve", "reject", "hold", "lift", "extend"];

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    lang: Option<String>,
    until: Option<String>,
    /// The action just taken, to confirm it.
    done: Option<String>,
}

pub struct Line {
    activity: String,
    controller: String,
    due: i64,
    to_erase: i64,
    to_anonymise: i64,
    earliest: String,
    held: i64,
    to_review: i64,
    approved: String,
}

pub struct Run {
    started: String,
    state: String,
    destroyed: i64,
    subjects: i64,
    held: i64,
    awaiting: i64,
}

pub struct ListLine {
    id: String,
    controller: String,
    until: String,
    records: i64,
    state: String,
    created: String,
    approved: String,
    /// Still waiting for the DPO: the approve form is offered.
    proposed: bool,
}

pub struct HoldLine {
    id: String,
    scope: String,
    target: String,
    reason: String,
    from: String,
    until: String,
    placed: String,
}

/// What the DPO typed in the hold and extend forms, shown again when refused.
#[derive(Default)]
pub struct Typed {
    scope: String,
    target: String,
    reason: String,
    from: String,
    until: String,
    record: String,
}

#[derive(Template)]
#[template(path = "admin/retention.html")]
pub struct PlanPage {
    ctx: Ctx,
    until: String,
    error: Option<String>,
    /// The action just taken.
    done: Option<String>,
    /// Why the action just tried was refused.
    refused: Option<String>,
    /// The DPO with a signed confidentiality statement: the forms are offered.
    may_act: bool,
    /// The DPO without a signed confidentiality statement: told why there are no forms.
    needs_statement: bool,
    /// Where the forms post.
    action: String,
    typed: Typed,
    /// (value, label) of what a hold can cover.
    scopes: Vec<(String, String)>,
    lines: Vec<Line>,
    /// The connected systems' part of the plan, per table.
    systems: Vec<crate::retention_systems::SystemPlan>,
    /// Some system has tables to show (the others only say why they cannot).
    system_rows: bool,
    lists: Vec<ListLine>,
    holds: Vec<HoldLine>,
    runs: Vec<Run>,
}

translated!(PlanPage);

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.retention.{key}")).to_string()
}

/// What the page says above the plan: an action done, or why the last one was refused.
enum Notice {
    Done(Option<String>),
    Refused(String),
}

/// `GET /admin/retention?until=YYYY-MM-DD`.
pub async fn plan(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = lang_of(
        &super::LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    if !Permission::ReadAuditLog.granted_to(&staff.session.user.roles) {
        return forbidden(lang, &staff.session);
    }
    let done = q
        .done
        .filter(|d| ACTIONS.contains(&d.as_str()))
        .map(|d| t(lang, &format!("done_{d}")));
    render(
        &state,
        &staff,
        lang,
        q.until.as_deref().unwrap_or(""),
        StatusCode::OK,
        Notice::Done(done),
        Typed::default(),
    )
    .await
}

async fn render(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    until: &str,
    status: StatusCode,
    notice: Notice,
    typed: Typed,
) -> Response {
    let today = state.now().date();
    let raw = until.trim().to_string();
    let (until, error) = if raw.is_empty() {
        (today + time::Duration::days(DEFAULT_DAYS), None)
    } else {
        match parse_date(&raw) {
            Some(d) => (d, None),
            None => (
                today + time::Duration::days(DEFAULT_DAYS),
                Some(i18n::tf(lang, "form.error.date", &[("value", &raw)])),
            ),
        }
    };
    let session = Some(&staff.session);
    let plan = match state.store.retention_plan(until, today).await {
        Ok(plan) => plan,
        Err(e) => return store_failure(lang, session, e),
    };
    let systems = match crate::retention_systems::systems_plan(
        &state.store,
        &state.settings.system_urls,
        until,
        today,
    )
    .await
    {
        Ok(systems) => systems,
        Err(e) => return store_failure(lang, session, e),
    };
    let runs = match state.store.retention_runs(5).await {
        Ok(runs) => runs,
        Err(e) => return store_failure(lang, session, e),
    };
    let lists = match state.store.destruction_lists().await {
        Ok(lists) => lists,
        Err(e) => return store_failure(lang, session, e),
    };
    let holds = match state.store.holds(false).await {
        Ok(holds) => holds,
        Err(e) => return store_failure(lang, session, e),
    };
    let may_act = match may_act(state, &staff.session).await {
        Ok(may) => may,
        Err(e) => return store_failure(lang, session, e),
    };
    let ctx = Ctx::new(
        lang,
        session,
        "/admin/retention",
        &format!("&until={until}"),
        t(lang, "title"),
    );
    let (done, refused) = match notice {
        Notice::Done(done) => (done, None),
        Notice::Refused(message) => (None, Some(message)),
    };
    let p = PlanPage {
        ctx,
        until: if error.is_some() {
            raw
        } else {
            until.to_string()
        },
        error: error.clone(),
        done,
        refused,
        may_act,
        needs_statement: !may_act && staff.session.user.roles.contains(&Role::Dpo),
        action: format!("/admin/retention?lang={}&until={until}", lang.code()),
        typed: Typed {
            from: if typed.from.is_empty() {
                format_date(today)
            } else {
                typed.from
            },
            ..typed
        },
        scopes: HoldScope::ALL
            .iter()
            .map(|s| {
                (
                    s.name().to_string(),
                    t(lang, &format!("scope_{}", s.name())),
                )
            })
            .collect(),
        lines: plan
            .activities
            .into_iter()
            .map(|l| Line {
                activity: l.activity,
                controller: l.controller,
                due: l.due,
                to_erase: l.to_erase,
                to_anonymise: l.to_anonymise,
                earliest: l.earliest_deadline.map(format_date).unwrap_or_default(),
                held: l.held,
                to_review: l.to_review,
                approved: if l.approval_required {
                    l.approved.to_string()
                } else {
                    t(lang, "no_approval")
                },
            })
            .collect(),
        system_rows: systems.iter().any(|s| !s.tables.is_empty()),
        systems,
        lists: lists
            .into_iter()
            .map(|l| ListLine {
                id: l.id.to_string(),
                controller: l.controller,
                until: format_date(l.until),
                records: l.records,
                state: t(lang, &format!("list_{}", l.state.name())),
                created: format!(
                    "{} ({})",
                    kluis_domain::breach::show_time(l.created_at),
                    l.created_by
                ),
                approved: match (l.approved_at, l.approved_by, l.rejected_at, l.rejected_by) {
                    (Some(at), Some(by), _, _) => {
                        format!("{} ({by})", kluis_domain::breach::show_time(at))
                    }
                    (_, _, Some(at), Some(by)) => i18n::tf(
                        lang,
                        "admin.retention.rejected",
                        &[
                            ("at", &kluis_domain::breach::show_time(at)),
                            ("by", &by),
                            ("reason", l.rejection_reason.as_deref().unwrap_or_default()),
                        ],
                    ),
                    _ => String::new(),
                },
                proposed: l.state == ListState::Proposed,
            })
            .collect(),
        holds: holds
            .into_iter()
            .map(|h| HoldLine {
                id: h.id.to_string(),
                scope: t(lang, &format!("scope_{}", h.scope.name())),
                target: h.target,
                reason: h.reason,
                from: format_date(h.from),
                until: h
                    .until
                    .map(format_date)
                    .unwrap_or_else(|| t(lang, "until_lifted")),
                placed: format!(
                    "{} ({})",
                    kluis_domain::breach::show_time(h.placed_at),
                    h.placed_by
                ),
            })
            .collect(),
        runs: runs
            .into_iter()
            .map(|r| Run {
                started: kluis_domain::breach::show_time(r.started_at),
                state: r.state.to_string(),
                destroyed: r.destroyed,
                subjects: r.subjects_deleted,
                held: r.held,
                awaiting: r.awaiting_approval,
            })
            .collect(),
    };
    let status = if error.is_some() && status == StatusCode::OK {
        StatusCode::BAD_REQUEST
    } else {
        status
    };
    page(status, &p)
}

/// Whether the staff member may work on retention here: the DPO, with a signed
/// confidentiality statement (holds and extensions touch personal data).
async fn may_act(state: &AppState, session: &kluis_store::Session) -> Result<bool, StoreError> {
    if !session.user.roles.contains(&Role::Dpo) {
        return Ok(false);
    }
    Ok(state
        .store
        .clearance(session.user.id)
        .await?
        .scope()
        .is_ok())
}

/// `POST /admin/retention`: one action, named by the form's `action` field.
pub async fn act(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<PlanQuery>,
    headers: HeaderMap,
    trace: Trace,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = lang_of(
        &super::LangQuery {
            lang: q.lang.clone(),
        },
        &headers,
    );
    let form = FormData(fields);
    if let Some(refusal) = staff.csrf_refusal(&form, lang) {
        return refusal;
    }
    match may_act(&state, &staff.session).await {
        Ok(true) => {}
        Ok(false) => return forbidden(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    }
    let until = q.until.clone().unwrap_or_default();
    let typed = Typed {
        scope: form.get("scope").to_string(),
        target: form.get("target").trim().to_string(),
        reason: form.get("reason").to_string(),
        from: form.get("from").trim().to_string(),
        until: form.get("until").trim().to_string(),
        record: form.get("record").trim().to_string(),
    };
    let name = form.get("action").to_string();
    let processing = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(staff.session.user.id.to_string()),
            name: staff.actor().to_string(),
        },
        trace: trace.0,
        case_ref: None,
        now: state.now(),
    };
    let result = match perform(&state, &staff, lang, &name, &form, &processing).await {
        Ok(result) => result,
        Err((status, message)) => {
            return render(
                &state,
                &staff,
                lang,
                &until,
                status,
                Notice::Refused(message),
                typed,
            )
            .await;
        }
    };
    let (status, message) = match result {
        Ok(()) => {
            let mut to = format!("/admin/retention?lang={}&done={name}", lang.code());
            if let Some(d) = q.until.as_deref().and_then(parse_date) {
                to.push_str(&format!("&until={d}"));
            }
            return Redirect::to(&to).into_response();
        }
        Err(StoreError::Invalid(message)) => (StatusCode::UNPROCESSABLE_ENTITY, message),
        Err(StoreError::NotFound { what, id }) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            i18n::tf(
                lang,
                "admin.retention.not_found",
                &[("what", what), ("id", &id)],
            ),
        ),
        Err(StoreError::OutOfScope { .. }) => return forbidden(lang, &staff.session),
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    render(
        &state,
        &staff,
        lang,
        &until,
        status,
        Notice::Refused(message),
        typed,
    )
    .await
}

/// Reads the form of `action` and asks the store to do it. The outer error is a form the
/// store never saw (422) or a list or hold already decided (409); the inner result is the
/// store's answer.
async fn perform(
    state: &AppState,
    staff: &StaffSession,
    lang: Lang,
    action: &str,
    form: &FormData,
    processing: &Processing,
) -> Result<Result<(), StoreError>, (StatusCode, String)> {
    let bad = |key: &str| (StatusCode::UNPROCESSABLE_ENTITY, t(lang, key));
    let id = |field: &str, key: &str| form.get(field).trim().parse::<Uuid>().map_err(|_| bad(key));
    let now = processing.now;
    Ok(match action {
        "approve" | "reject" => {
            let list = id("list", "bad_list")?;
            match state.store.destruction_list(list).await {
                Ok(l) if l.state != ListState::Proposed => {
                    return Err((StatusCode::CONFLICT, t(lang, "list_decided")));
                }
                Ok(_) => {}
                Err(e) => return Ok(Err(e)),
            }
            if action == "approve" {
                state
                    .store
                    .approve_destruction_list(list, staff.actor(), now)
                    .await
                    .map(drop)
            } else {
                state
                    .store
                    .reject_destruction_list(list, staff.actor(), form.get("reason"), now)
                    .await
                    .map(drop)
            }
        }
        "lift" => {
            let hold = id("hold", "bad_hold")?;
            match state.store.hold(hold).await {
                Ok(h) if h.lifted_at.is_some() => {
                    return Err((StatusCode::CONFLICT, t(lang, "hold_lifted")));
                }
                Ok(_) => {}
                Err(e) => return Ok(Err(e)),
            }
            state
                .store
                .lift_hold(processing, hold, form.get("reason"))
                .await
                .map(drop)
        }
        "hold" => {
            let scope: HoldScope = form.get("scope").parse().map_err(|_| bad("bad_scope"))?;
            let date = |field: &str| -> Result<Option<Date>, (StatusCode, String)> {
                match form.get(field).trim() {
                    "" => Ok(None),
                    raw => parse_date(raw).map(Some).ok_or_else(|| {
                        (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            i18n::tf(lang, "form.error.date", &[("value", raw)]),
                        )
                    }),
                }
            };
            let hold = NewHold {
                scope,
                target: form.get("target").trim().to_string(),
                reason: form.get("reason").to_string(),
                from: date("from")?.unwrap_or(now.date()),
                until: date("until")?,
            };
            state.store.place_hold(processing, &hold).await.map(drop)
        }
        "extend" => {
            let record = id("record", "bad_record")?;
            state
                .store
                .extend_retention(processing, record, &Scope::All)
                .await
                .map(drop)
        }
        _ => return Err(bad("unknown_action")),
    })
}
