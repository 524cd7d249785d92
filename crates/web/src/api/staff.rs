//! Need-to-know administration: which staff member works on which processing activity,
//! and their signed confidentiality statements.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use kluis_domain::access::Permission;
use kluis_store::User;
use serde::{Deserialize, Serialize};
use time::Date;

use super::handlers::ApiJson;
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;

async fn staff_member(state: &AppState, username: &str) -> Result<User, ApiError> {
    state
        .store
        .user_by_username(username)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "staff member",
            id: username.to_string(),
        })
}

/// `PUT /api/v1/users/{username}/activities/{activity}`: assigns; 409 if already so.
pub async fn assign(
    State(state): State<AppState>,
    user: ApiUser,
    Path((username, activity)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    user.require(Permission::ManageStaff)?;
    let member = staff_member(&state, &username).await?;
    state
        .store
        .assign_activity(member.id, &activity, user.actor(), state.now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v1/users/{username}/activities/{activity}`: ends the assignment.
pub async fn unassign(
    State(state): State<AppState>,
    user: ApiUser,
    Path((username, activity)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    user.require(Permission::ManageStaff)?;
    let member = staff_member(&state, &username).await?;
    state.store.unassign_activity(member.id, &activity).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStatement {
    signed_on: Date,
    /// Where the signed statement is kept.
    reference: String,
}

#[derive(Serialize)]
pub struct Clearance {
    username: String,
    activities: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    confidentiality_signed_on: Option<Date>,
}

/// `POST /api/v1/users/{username}/confidentiality-statements`.
pub async fn record_statement(
    State(state): State<AppState>,
    user: ApiUser,
    Path(username): Path<String>,
    ApiJson(body): ApiJson<NewStatement>,
) -> Result<(StatusCode, Json<Clearance>), ApiError> {
    user.require(Permission::ManageStaff)?;
    let member = staff_member(&state, &username).await?;
    state
        .store
        .record_confidentiality_statement(
            member.id,
            body.signed_on,
            &body.reference,
            user.actor(),
            state.now(),
        )
        .await
        .map_err(|e| match e {
            kluis_store::StoreError::Invalid(m) => ApiError::Unprocessable(m),
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, clearance(&state, member).await?))
}

/// `GET /api/v1/users/{username}/clearance`: assignments and the latest statement.
pub async fn get_clearance(
    State(state): State<AppState>,
    user: ApiUser,
    Path(username): Path<String>,
) -> Result<Json<Clearance>, ApiError> {
    if user.0.username != username {
        user.require(Permission::ManageStaff)?;
    }
    let member = staff_member(&state, &username).await?;
    clearance(&state, member).await
}

async fn clearance(state: &AppState, member: User) -> Result<Json<Clearance>, ApiError> {
    let c = state.store.clearance(member.id).await?;
    Ok(Json(Clearance {
        username: member.username,
        activities: c.activities.into_iter().collect(),
        confidentiality_signed_on: c.confidentiality_signed_on,
    }))
}
