//! Who is calling the API: a staff member identified by a bearer token.
//!
//! The API takes tokens only; the back-office uses sessions with CSRF tokens (see
//! `admin`). Keeping the two apart means no cookie ever authorises an API call, so the
//! API needs no CSRF defence.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use kluis_domain::access::{Permission, Role};
use kluis_store::User;

use crate::error::ApiError;
use crate::state::AppState;

/// A staff member authenticated by `Authorization: Bearer kluis_...`.
pub struct ApiUser(pub User);

impl ApiUser {
    pub fn require(&self, permission: Permission) -> Result<(), ApiError> {
        if permission.granted_to(&self.0.roles) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(permission_roles(permission)))
        }
    }

    /// The name recorded in version history.
    pub fn actor(&self) -> &str {
        &self.0.username
    }
}

/// The roles that grant a permission, for the error message: "dpo or admin".
pub fn permission_roles(permission: Permission) -> String {
    let holders: Vec<&str> = Role::ALL
        .iter()
        .filter(|r| permission.granted_to(&[**r]))
        .map(|r| r.name())
        .collect();
    if holders.len() == Role::ALL.len() {
        "any staff role".to_string()
    } else {
        holders.join(" or ")
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        BearerToken::from_request_parts(parts, state)
            .await?
            .user(state)
            .await
    }
}

/// The secret of `Authorization: Bearer kluis_...`, not checked yet: for a handler that
/// checks it in the same database round trip as its own reads (the consent check).
pub struct BearerToken(pub String);

impl BearerToken {
    /// The staff member the token belongs to.
    pub async fn user(&self, state: &AppState) -> Result<ApiUser, ApiError> {
        let user = state
            .store
            .user_for_api_token(&self.0, state.now())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        Ok(ApiUser(user))
    }
}

impl FromRequestParts<AppState> for BearerToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| BearerToken(t.trim().to_string()))
            .ok_or(ApiError::Unauthenticated)
    }
}
