//! The end of a restriction (GDPR art. 18(3)) and of an objection's effect (art. 21(1)),
//! for the API as `kluis subject lift-restriction` and `kluis subject object
//! --compelling-grounds` do it on the command line: first the marks the request set in
//! connected systems are cleared ([`crate::system_marks`]), then the vault records it.
//! While a system's marks cannot be cleared nothing is recorded, the restriction or
//! objection stays in force, and the answer is a 502 that names the system.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use kluis_domain::access::Permission;
use serde::Deserialize;
use time::Date;
use uuid::Uuid;

use super::handlers::ApiJson;
use super::inventory::{invalid, processing, refuse, scope};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::system_marks::{LiftReport, OverrideReport, SystemUnmarked, lift_restriction};
use crate::trace::Trace;

/// `POST /api/v1/subjects/{id}/restrictions/lift`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiftBody {
    activity: String,
    /// The reference of the rights request that asked for the restriction.
    request: String,
    /// The day the person was told the restriction would be lifted (art. 18(3)).
    told_on: Date,
    /// Why it ends: accuracy verified, the objection weighed, ...
    reason: String,
}

/// Lifts the restriction of the subject's data under an activity, once the person was
/// told. 422 for another request's reference, a told-on day after today or no reason; 404
/// without a restriction in force; 502 when a system's marks could not be cleared.
pub async fn lift(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<LiftBody>,
) -> Result<Json<LiftReport>, ApiError> {
    let mut p = processing(&state, &user, trace, &headers);
    p.case_ref = Some(body.request.clone());
    may_end(&state, &user, &p, id, &body.activity).await?;
    let report = lift_restriction(
        &state.store,
        &state.settings.system_urls,
        &p,
        id,
        (&body.activity, &body.request),
        body.told_on,
        &body.reason,
    )
    .await
    .map_err(invalid)?;
    if report.lifted.is_none() {
        return Err(not_cleared(
            "the restriction stays in force",
            &report.systems,
        ));
    }
    Ok(Json(report))
}

/// `POST /api/v1/subjects/{id}/objections/compelling-grounds`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroundsBody {
    activity: String,
    /// The reference of the rights request that objected.
    request: String,
    /// The compelling legitimate grounds that override the person's interests (art. 21(1)).
    grounds: String,
}

/// Records the compelling grounds that let processing go on despite an objection. 422
/// without grounds or for an unknown request; 502 when a system's marks could not be
/// cleared.
pub async fn compelling_grounds(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<GroundsBody>,
) -> Result<Json<OverrideReport>, ApiError> {
    let mut p = processing(&state, &user, trace, &headers);
    p.case_ref = Some(body.request.clone());
    may_end(&state, &user, &p, id, &body.activity).await?;
    let report = crate::system_marks::override_objection(
        &state.store,
        &state.settings.system_urls,
        &p,
        id,
        (&body.activity, &body.request),
        &body.grounds,
    )
    .await
    .map_err(invalid)?;
    if report.recorded.is_none() {
        return Err(not_cleared("the objection stays in force", &report.systems));
    }
    Ok(Json(report))
}

/// Rights-request staff with need-to-know of the activity; a refusal is logged against
/// the subject.
async fn may_end(
    state: &AppState,
    user: &ApiUser,
    processing: &kluis_store::Processing,
    subject: Uuid,
    activity: &str,
) -> Result<(), ApiError> {
    user.require(Permission::HandleRightsRequests)?;
    let (clearance, _) = scope(state, user, processing, Some(subject)).await?;
    if let Err(refusal) = clearance.check(activity) {
        refuse(state, processing, subject, &[activity.to_string()]).await;
        return Err(ApiError::Forbidden(refusal.to_string()));
    }
    Ok(())
}

/// The systems whose marks could not be cleared, and what to do.
fn not_cleared(what: &str, systems: &[SystemUnmarked]) -> ApiError {
    let failed: Vec<String> = systems
        .iter()
        .filter_map(|s| Some(format!("{}: {}", s.system, s.error.as_ref()?)))
        .collect();
    ApiError::BadGateway(format!(
        "{what}: the restriction mark could not be cleared in {}. Repair that, then ask again",
        failed.join("; ")
    ))
}
