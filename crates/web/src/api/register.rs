//! Register-wide operations: activities with their history, export and import, and the
//! privacy statement.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::Permission;
use kluis_domain::completeness;
use kluis_domain::register::ProcessingActivity;
use kluis_domain::text::Lang;
use kluis_domain::{art30, dpv, i18n, register_file};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::handlers::{ApiJson, Listed};
use crate::auth::ApiUser;
use crate::error::{ApiError, FieldError};
use crate::state::AppState;
use crate::statements::{self, Format};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActivityFilter {
    controller: Option<String>,
}

pub async fn list_activities(
    State(state): State<AppState>,
    user: ApiUser,
    Query(filter): Query<ActivityFilter>,
) -> Result<Response, ApiError> {
    user.require(Permission::ReadRegister)?;
    let controller = filter.controller.as_deref();
    // Read the revision before the rows: the rows are then at least that new.
    let revision = state.store.activities_revision().await?;
    let cached = lock(&state).get(revision, controller);
    let json = match cached {
        Some(json) => json,
        None => {
            let list = state.store.activities(controller).await?;
            let listed: Vec<Listed<ProcessingActivity>> =
                list.into_iter().map(Listed::from).collect();
            let json =
                serde_json::to_vec(&listed).map_err(|e| ApiError::Internal(e.to_string()))?;
            let json = Bytes::from(json);
            lock(&state).put(revision, controller, json.clone());
            json
        }
    };
    Ok((
        [(CONTENT_TYPE, HeaderValue::from_static("application/json"))],
        json,
    )
        .into_response())
}

/// The cache of lists; it is only ever replaced whole, so a lock poisoned by a panic
/// elsewhere still holds a consistent value and is taken over.
fn lock(state: &AppState) -> std::sync::MutexGuard<'_, crate::state::ActivityLists> {
    state
        .activity_lists
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Serialize)]
pub struct VersionOut {
    version: i64,
    #[serde(with = "time::serde::rfc3339")]
    valid_from: OffsetDateTime,
    recorded_by: String,
    activity: ProcessingActivity,
}

pub async fn activity_versions(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionOut>>, ApiError> {
    user.require(Permission::ReadRegister)?;
    let versions = state.store.activity_versions(&id).await?;
    if versions.is_empty() {
        return Err(ApiError::NotFound {
            what: "processing activity",
            id,
        });
    }
    Ok(Json(
        versions
            .into_iter()
            .map(|v| VersionOut {
                version: v.version,
                valid_from: v.valid_from,
                recorded_by: v.recorded_by,
                activity: v.activity,
            })
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangQuery {
    lang: Option<String>,
}

fn lang_of(q: Option<&str>) -> Result<Lang, ApiError> {
    q.map_or(Ok(Lang::En), |l| {
        l.parse()
            .map_err(|e: kluis_domain::text::UnknownLang| ApiError::BadRequest(e.to_string()))
    })
}

#[derive(Serialize)]
pub struct GapOut {
    #[serde(flatten)]
    gap: completeness::Gap,
    article: &'static str,
    explanation: String,
}

#[derive(Serialize)]
pub struct CompletenessOut {
    activity: String,
    complete: bool,
    gaps: Vec<GapOut>,
}

pub async fn completeness(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    Query(q): Query<LangQuery>,
) -> Result<Json<CompletenessOut>, ApiError> {
    user.require(Permission::ReadRegister)?;
    let lang = lang_of(q.lang.as_deref())?;
    let activity = state
        .store
        .activity(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "processing activity",
            id: id.clone(),
        })?
        .value;
    let controller = state
        .store
        .controller(&activity.controller)
        .await?
        .map(|c| c.value);
    let gaps = completeness::check(&activity, controller.as_ref());
    Ok(Json(CompletenessOut {
        activity: id,
        complete: gaps.is_empty(),
        gaps: gaps
            .into_iter()
            .map(|g| GapOut {
                article: g.article(),
                explanation: i18n::t(lang, g.label_key()).to_string(),
                gap: g,
            })
            .collect(),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    format: Option<String>,
    lang: Option<String>,
}

fn with_type(body: String, content_type: &'static str) -> Response {
    (
        [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

pub async fn export(
    State(state): State<AppState>,
    user: ApiUser,
    Query(q): Query<ExportQuery>,
) -> Result<Response, ApiError> {
    user.require(Permission::ReadRegister)?;
    let register = state.store.register().await?;
    let internal = |e: &dyn std::fmt::Display| ApiError::Internal(e.to_string());
    Ok(match q.format.as_deref().unwrap_or("json") {
        "json" => Json(register).into_response(),
        "yaml" => with_type(
            register_file::to_yaml(&register).map_err(|e| internal(&e))?,
            "application/yaml",
        ),
        "dpv" => with_type(
            dpv::to_json_ld(&register).to_string(),
            "application/ld+json",
        ),
        "csv" => {
            let lang = lang_of(q.lang.as_deref())?;
            with_type(
                art30::to_csv(&register, lang).map_err(|e| internal(&e))?,
                "text/csv; charset=utf-8",
            )
        }
        other => {
            return Err(ApiError::BadRequest(format!(
                "unknown format '{other}': use yaml, json, csv or dpv"
            )));
        }
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    #[serde(default)]
    prune: bool,
}

#[derive(Serialize)]
pub struct ImportOut {
    created: usize,
    updated: usize,
    unchanged: usize,
    retired: usize,
}

pub async fn import(
    State(state): State<AppState>,
    user: ApiUser,
    Query(q): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportOut>, ApiError> {
    user.require(Permission::EditRegister)?;
    let content_type = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !matches!(
        essence,
        "application/yaml" | "application/x-yaml" | "text/yaml"
    ) {
        return Err(ApiError::UnsupportedMediaType("application/yaml"));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the register must be UTF-8 text".into()))?;
    let register = register_file::parse("body", text).map_err(|e| {
        ApiError::InvalidRegister(
            e.problems
                .into_iter()
                .map(|p| FieldError {
                    field: match (p.line, p.column) {
                        (Some(l), Some(c)) => format!("line {l}, column {c}"),
                        (Some(l), None) => format!("line {l}"),
                        _ => "body".into(),
                    },
                    message: p.message,
                })
                .collect(),
        )
    })?;
    let s = state
        .store
        .import_register(&register, q.prune, user.actor(), state.now())
        .await?;
    Ok(Json(ImportOut {
        created: s.created,
        updated: s.updated,
        unchanged: s.unchanged,
        retired: s.retired,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatementQuery {
    lang: Option<String>,
    format: Option<String>,
}

pub async fn statement_preview(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    Query(q): Query<StatementQuery>,
) -> Result<Response, ApiError> {
    user.require(Permission::ReadRegister)?;
    let lang = lang_of(q.lang.as_deref())?;
    let format: Format = q
        .format
        .as_deref()
        .unwrap_or("html")
        .parse()
        .map_err(ApiError::BadRequest)?;
    let prepared = statements::preview(&state.store, &id, state.now().date())
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "controller",
            id: id.clone(),
        })?;
    let body = prepared
        .render(&id, lang, format)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(match format {
        Format::Html => with_type(body, "text/html; charset=utf-8"),
        Format::Markdown => with_type(body, "text/markdown; charset=utf-8"),
    })
}

#[derive(Serialize)]
pub struct StatementVersionOut {
    controller: String,
    version: i64,
    effective_date: Date,
    #[serde(with = "time::serde::rfc3339")]
    published_at: OffsetDateTime,
    published_by: String,
}

impl From<kluis_store::StatementVersion> for StatementVersionOut {
    fn from(v: kluis_store::StatementVersion) -> Self {
        StatementVersionOut {
            controller: v.controller,
            version: v.version,
            effective_date: v.effective_date,
            published_at: v.published_at,
            published_by: v.published_by,
        }
    }
}

pub async fn statement_versions(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<StatementVersionOut>>, ApiError> {
    user.require(Permission::ReadRegister)?;
    if state.store.controller(&id).await?.is_none() {
        return Err(ApiError::NotFound {
            what: "controller",
            id,
        });
    }
    Ok(Json(
        state
            .store
            .statement_versions(&id)
            .await?
            .into_iter()
            .map(Into::into)
            .collect(),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    effective_date: Date,
}

pub async fn publish(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Publish>,
) -> Result<(StatusCode, Json<StatementVersionOut>), ApiError> {
    user.require(Permission::PublishStatement)?;
    let v = publish_statement(&state, &id, body.effective_date, user.actor()).await?;
    Ok((StatusCode::CREATED, Json(v.into())))
}

/// Publishes the current register of a controller as the next statement version.
pub async fn publish_statement(
    state: &AppState,
    controller: &str,
    effective_date: Date,
    actor: &str,
) -> Result<kluis_store::StatementVersion, ApiError> {
    let now = state.now();
    if effective_date < now.date() {
        return Err(ApiError::Unprocessable(format!(
            "the effective date {effective_date} lies in the past: a statement takes effect today or later"
        )));
    }
    statements::publish(&state.store, controller, effective_date, actor, now)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "controller",
            id: controller.to_string(),
        })
}
