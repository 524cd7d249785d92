//! The retention plan in the back-office: what will be destroyed up to a day, per
//! processing activity, with what legal holds keep and what waits for review, and the
//! latest sweeps. Reading only: holds, lists and the sweep are for the command line. The
//! DPO and auditors may read.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kluis_domain::access::Permission;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use serde::Deserialize;

use super::form::{format_date, parse_date};
use super::{Ctx, StaffSession, forbidden, lang_of, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::state::AppState;

/// How far ahead the page looks when no day is given.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize)]
pub struct PlanQuery {
    lang: Option<String>,
    until: Option<String>,
}

pub struct Line {
    activity: String,
    controller: String,
    due: i64,
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

#[derive(Template)]
#[template(path = "admin/retention.html")]
pub struct PlanPage {
    ctx: Ctx,
    until: String,
    error: Option<String>,
    lines: Vec<Line>,
    runs: Vec<Run>,
}

translated!(PlanPage);

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("admin.retention.{key}")).to_string()
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
    let today = state.now().date();
    let raw = q.until.as_deref().unwrap_or("").trim().to_string();
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
    let plan = match state.store.retention_plan(until, today).await {
        Ok(plan) => plan,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let runs = match state.store.retention_runs(5).await {
        Ok(runs) => runs,
        Err(e) => return store_failure(lang, Some(&staff.session), e),
    };
    let ctx = Ctx::new(
        lang,
        Some(&staff.session),
        "/admin/retention",
        &format!("&until={until}"),
        t(lang, "title"),
    );
    let p = PlanPage {
        ctx,
        until: if error.is_some() {
            raw
        } else {
            until.to_string()
        },
        error: error.clone(),
        lines: plan
            .activities
            .into_iter()
            .map(|l| Line {
                activity: l.activity,
                controller: l.controller,
                due: l.due,
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
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page(status, &p)
}
