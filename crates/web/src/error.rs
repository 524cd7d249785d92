//! Errors of the HTTP layer: one enum, mapped here and only here to status codes and to
//! RFC 9457 problem documents. Internal causes are logged, never sent to the client.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kluis_store::StoreError;
use serde::Serialize;

/// A field-level problem, e.g. one issue of register validation.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// Where the problem is (a field name or a register location).
    pub field: String,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("sign in or send a valid API token (Authorization: Bearer kluis_...)")]
    Unauthenticated,
    #[error("your account lacks the role this needs ({0})")]
    Forbidden(String),
    #[error("{what} '{id}' does not exist")]
    NotFound { what: &'static str, id: String },
    #[error("{what} '{id}' already exists")]
    AlreadyExists { what: &'static str, id: String },
    #[error(
        "{what} '{id}' was changed by someone else (you have version {expected}, the current one is {actual}): reload it and apply your change again"
    )]
    Conflict {
        what: &'static str,
        id: String,
        expected: i64,
        actual: i64,
    },
    #[error("{0}")]
    InUse(String),
    /// Processing the person's data is restricted (GDPR art. 18) or objected to (art. 21):
    /// the message names the request.
    #[error("{0}")]
    ProcessingStopped(String),
    #[error(
        "send the version you edit in an If-Match header (the ETag of the GET), so nobody's change is overwritten"
    )]
    PreconditionRequired,
    #[error("the request body is larger than kluis accepts")]
    PayloadTooLarge,
    /// A cookie choice made on a banner that has changed since.
    #[error("{0}")]
    StaleBanner(String),
    /// A cross-origin request from a website not in the configured allowed origins.
    #[error("{0}")]
    OriginNotAllowed(String),
    #[error("send the body as {0}")]
    UnsupportedMediaType(&'static str),
    #[error("{0}")]
    Unprocessable(String),
    #[error("the change would make the register invalid")]
    InvalidRegister(Vec<FieldError>),
    /// Another system kluis sent something to did not take it (its answer or the
    /// connection error).
    #[error("{0}")]
    BadGateway(String),
    #[error("the database is unavailable; try again shortly")]
    Unavailable,
    #[error("something went wrong on our side; the details are in the server log")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound { .. } => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } | ApiError::InUse(_) => {
                StatusCode::CONFLICT
            }
            ApiError::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::StaleBanner(_) => StatusCode::CONFLICT,
            ApiError::ProcessingStopped(_) => StatusCode::CONFLICT,
            ApiError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unprocessable(_) | ApiError::InvalidRegister(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BadGateway(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A stable slug naming the kind of problem, used in the problem `type`.
    pub fn kind(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad-request",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound { .. } => "not-found",
            ApiError::AlreadyExists { .. } => "already-exists",
            ApiError::Conflict { .. } => "stale-version",
            ApiError::InUse(_) => "in-use",
            ApiError::ProcessingStopped(_) => "processing-stopped",
            ApiError::PreconditionRequired => "version-required",
            ApiError::PayloadTooLarge => "too-large",
            ApiError::StaleBanner(_) => "stale-banner",
            ApiError::OriginNotAllowed(_) => "origin-not-allowed",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Unprocessable(_) => "unprocessable",
            ApiError::InvalidRegister(_) => "invalid-register",
            ApiError::BadGateway(_) => "bad-gateway",
            ApiError::Unavailable => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Not signed in",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PRECONDITION_REQUIRED => "Version required",
            StatusCode::PAYLOAD_TOO_LARGE => "Body too large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported media type",
            StatusCode::UNPROCESSABLE_ENTITY => "Invalid content",
            StatusCode::BAD_GATEWAY => "Not delivered",
            StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
            _ => "Internal error",
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "request failed");
        }
        let status = self.status();
        let problem = Problem {
            kind: format!("https://kluis.dev/problems/{}", self.kind()),
            title: self.title().to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            errors: match self {
                ApiError::InvalidRegister(errors) => errors,
                _ => Vec::new(),
            },
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => ApiError::NotFound { what, id },
            StoreError::AlreadyExists { what, id } => ApiError::AlreadyExists { what, id },
            StoreError::Conflict {
                what,
                id,
                expected,
                actual,
            } => ApiError::Conflict {
                what,
                id,
                expected,
                actual,
            },
            e @ StoreError::InUse { .. } => ApiError::InUse(e.to_string()),
            e @ (StoreError::Restricted { .. } | StoreError::Objected { .. }) => {
                ApiError::ProcessingStopped(e.to_string())
            }
            StoreError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::UnsupportedMediaType("application/json")
            }
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::BadRequest(format!("the body is not valid JSON: {}", e.body_text()))
            }
            JsonRejection::JsonDataError(e) => ApiError::Unprocessable(e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::BadRequest(r.body_text())
    }
}
