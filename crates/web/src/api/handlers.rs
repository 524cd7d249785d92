//! The generic register handlers shared by controllers, processors, agreements and
//! activities.

use axum::Json;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::header::{ETAG, IF_MATCH, LOCATION};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::Permission;
use kluis_domain::register::Register;
use kluis_domain::validate::{self, Issue};
use kluis_store::Versioned;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::entity::{Deletable, Entity};
use crate::auth::ApiUser;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;

/// A JSON body whose rejections become problem documents.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let Json(value) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(value))
    }
}

/// One entry of a list, with the version to send back in If-Match.
#[derive(Serialize)]
pub struct Listed<T> {
    pub version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(flatten)]
    pub value: T,
}

impl<T> From<Versioned<T>> for Listed<T> {
    fn from(v: Versioned<T>) -> Self {
        Listed {
            version: v.version,
            updated_at: v.updated_at,
            value: v.value,
        }
    }
}

pub fn etag(version: i64) -> HeaderValue {
    // A decimal number in quotes is always a valid header value.
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The version a client says it edits, from `If-Match: "3"` (weak tags accepted).
pub fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    optional_if_match(headers)?.ok_or(ApiError::PreconditionRequired)
}

/// The version an `If-Match` header names, when there is one: for the steps that are
/// safe without it (they add to a record) but must not be taken on a version the caller
/// has not seen when it is given.
pub fn optional_if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(raw) = headers.get(IF_MATCH) else {
        return Ok(None);
    };
    raw.to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/").trim_matches('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| {
            ApiError::BadRequest(
                "If-Match must be the ETag of the version you edit, e.g. \"3\"".into(),
            )
        })
}

/// The body of a single entity with its version as ETag.
pub fn versioned_response<T: Serialize>(status: StatusCode, v: Versioned<T>) -> Response {
    let mut response = (status, Json(v.value)).into_response();
    response.headers_mut().insert(ETAG, etag(v.version));
    response
}

/// Validates the register as it would be after a change, reporting every issue.
pub fn check(register: &Register) -> Result<(), ApiError> {
    let issues = validate::validate(register);
    if issues.is_empty() {
        return Ok(());
    }
    Err(ApiError::InvalidRegister(
        issues.into_iter().map(field_error).collect(),
    ))
}

fn field_error(issue: Issue) -> FieldError {
    let field = match issue.at.field {
        Some(f) => format!("{}[{}].{f}", issue.at.section.key(), issue.at.index),
        None => format!("{}[{}]", issue.at.section.key(), issue.at.index),
    };
    FieldError {
        field,
        message: issue.message,
    }
}

/// The register with `value` in place of the entry with the same id (or added).
fn with_entry<E: Entity>(mut register: Register, value: &E) -> Register {
    let entries = E::entries(&mut register);
    match entries.iter_mut().find(|e| e.id() == value.id()) {
        Some(slot) => *slot = value.clone(),
        None => entries.push(value.clone()),
    }
    register
}

pub async fn list<E: Entity>(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<Vec<Listed<E>>>, ApiError> {
    user.require(Permission::ReadRegister)?;
    Ok(Json(
        E::list(&state.store)
            .await?
            .into_iter()
            .map(Listed::from)
            .collect(),
    ))
}

pub async fn get<E: Entity>(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    user.require(Permission::ReadRegister)?;
    let v = E::get(&state.store, &id)
        .await?
        .ok_or(ApiError::NotFound { what: E::WHAT, id })?;
    Ok(versioned_response(StatusCode::OK, v))
}

pub async fn create<E: Entity>(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(value): ApiJson<E>,
) -> Result<Response, ApiError> {
    user.require(Permission::EditRegister)?;
    if E::get(&state.store, value.id()).await?.is_some() {
        return Err(ApiError::AlreadyExists {
            what: E::WHAT,
            id: value.id().to_string(),
        });
    }
    check(&with_entry(state.store.register().await?, &value))?;
    let saved = E::put(&state.store, &value, None, user.actor(), state.now()).await?;
    let mut response = versioned_response(StatusCode::CREATED, saved);
    if let Ok(location) = HeaderValue::from_str(value.id()) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

pub async fn update<E: Entity>(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(value): ApiJson<E>,
) -> Result<Response, ApiError> {
    user.require(Permission::EditRegister)?;
    let expected = if_match(&headers)?;
    if value.id() != id {
        return Err(ApiError::Unprocessable(format!(
            "the body is {} '{}' but the URL names '{id}': ids cannot be changed, create a new one instead",
            E::WHAT,
            value.id()
        )));
    }
    if E::get(&state.store, &id).await?.is_none() {
        return Err(ApiError::NotFound { what: E::WHAT, id });
    }
    check(&with_entry(state.store.register().await?, &value))?;
    let saved = E::put(
        &state.store,
        &value,
        Some(expected),
        user.actor(),
        state.now(),
    )
    .await?;
    Ok(versioned_response(StatusCode::OK, saved))
}

pub async fn delete<E: Deletable>(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    user.require(Permission::EditRegister)?;
    let expected = if_match(&headers)?;
    if E::get(&state.store, &id).await?.is_none() {
        return Err(ApiError::NotFound { what: E::WHAT, id });
    }
    let mut register = state.store.register().await?;
    E::entries(&mut register).retain(|e| e.id() != id);
    check(&register)?;
    E::delete(&state.store, &id, expected).await?;
    Ok(StatusCode::NO_CONTENT)
}
