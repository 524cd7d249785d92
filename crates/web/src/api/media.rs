//! The media database over the API: staff record photos and videos, link the people
//! identifiable on them (a targeted item only with the person's consent), record removal
//! requests, and work through the list of published items that must be taken down.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{HeaderMap, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::{Permission, Refusal};
use kluis_domain::media::{MediaKind, NewMediaItem, RemovalChannel, TakeDownReason};
use kluis_store::{MediaItem, MediaItemView, StoreError};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::handlers::ApiJson;
use super::inventory::{invalid, processing, scope};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::Trace;

/// An item as the API shows it. Staff names stay in the audit log.
#[derive(Serialize)]
pub struct MediaBody {
    id: Uuid,
    title: String,
    kind: MediaKind,
    activity: String,
    taken_on: Date,
    reference: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_on: Option<Date>,
    /// Out in the world: published and not taken down.
    published: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    taken_down_at: Option<OffsetDateTime>,
    /// Why the item must be taken down now; empty when it may stay.
    take_down: Vec<TakeDownReason>,
    /// The people on the item (only when one item is read; the read is logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    subjects: Option<Vec<SubjectLinkBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    removal_requests: Option<Vec<RemovalRequestBody>>,
}

#[derive(Serialize)]
pub struct SubjectLinkBody {
    subject_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    linked_at: OffsetDateTime,
    /// Whether the person's consent for the item's activity allows processing now.
    consent_allows: bool,
}

#[derive(Serialize)]
pub struct RemovalRequestBody {
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    requested_at: OffsetDateTime,
    channel: RemovalChannel,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

fn media_body(item: MediaItem) -> MediaBody {
    MediaBody {
        published: item.published(),
        id: item.id,
        title: item.title,
        kind: item.kind,
        activity: item.activity,
        taken_on: item.taken_on,
        reference: item.reference,
        published_on: item.published_on,
        created_at: item.created_at,
        taken_down_at: item.taken_down_at,
        take_down: item.take_down,
        subjects: None,
        removal_requests: None,
    }
}

fn view_body(view: MediaItemView) -> MediaBody {
    MediaBody {
        subjects: Some(
            view.subjects
                .into_iter()
                .map(|s| SubjectLinkBody {
                    subject_id: s.subject_id,
                    linked_at: s.linked_at,
                    consent_allows: s.consent_allows,
                })
                .collect(),
        ),
        removal_requests: Some(
            view.removal_requests
                .into_iter()
                .map(|r| RemovalRequestBody {
                    id: r.id,
                    subject_id: r.subject_id,
                    requested_at: r.requested_at,
                    channel: r.channel,
                    note: r.note,
                })
                .collect(),
        ),
        ..media_body(view.item)
    }
}

/// The store's need-to-know refusal (already logged by the store) as a 403; a broken
/// rule as a 422.
fn refused(e: StoreError) -> ApiError {
    match e {
        StoreError::OutOfScope { activities } => {
            ApiError::Forbidden(Refusal::NotAssigned(activities.join(", ")).to_string())
        }
        other => invalid(other),
    }
}

fn with_status(status: StatusCode, item: MediaItem) -> Response {
    let location = format!("/api/v1/media/{}", item.id);
    let mut response = (status, Json(media_body(item))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

/// `POST /api/v1/media`: records a photo or video under the activity it is used for.
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewMediaItem>,
) -> Result<Response, ApiError> {
    user.require(Permission::RecordConsent)?;
    let p = processing(&state, &user, trace, &headers);
    let (clearance, _) = scope(&state, &user, &p, None).await?;
    clearance
        .check(&body.activity)
        .map_err(|r| ApiError::Forbidden(r.to_string()))?;
    let item = state
        .store
        .add_media_item(&p, &body)
        .await
        .map_err(invalid)?;
    Ok(with_status(StatusCode::CREATED, item))
}

/// `GET /api/v1/media/{id}`: an item with the people on it and its removal requests.
pub async fn get(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<MediaBody>, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    let view = state
        .store
        .media_item(&p, id, &scope)
        .await
        .map_err(refused)?
        .ok_or_else(|| ApiError::NotFound {
            what: "media item",
            id: id.to_string(),
        })?;
    Ok(Json(view_body(view)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLink {
    /// The data subject identifiable on the item.
    subject: Uuid,
}

/// `POST /api/v1/media/{id}/subjects`: links a person identifiable on the item. A
/// targeted item needs the person's valid consent for the item's activity (422 without);
/// linking again answers 200 and changes nothing.
pub async fn link(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NewLink>,
) -> Result<Response, ApiError> {
    user.require(Permission::RecordConsent)?;
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, Some(body.subject)).await?;
    let (item, created) = state
        .store
        .link_media_subject(&p, id, body.subject, &scope)
        .await
        .map_err(refused)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(with_status(status, item))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRemovalRequest {
    /// The person who asked, when known to kluis.
    #[serde(default)]
    subject: Option<Uuid>,
    channel: RemovalChannel,
    /// Who to remove or what was said ("the man in the red coat, left").
    #[serde(default)]
    note: Option<String>,
}

/// `POST /api/v1/media/{id}/removal-requests`: records that someone asked for the item to
/// be removed; a published item then appears on the take-down list.
pub async fn request_removal(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<NewRemovalRequest>,
) -> Result<Response, ApiError> {
    user.require(Permission::RecordConsent)?;
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, body.subject).await?;
    let item = state
        .store
        .record_media_removal_request(
            &p,
            id,
            body.subject,
            body.channel,
            body.note.as_deref(),
            &scope,
        )
        .await
        .map_err(refused)?;
    Ok(with_status(StatusCode::CREATED, item))
}

/// `GET /api/v1/media/take-down`: the published items of the caller's activities that
/// must be taken down, with the reasons.
pub async fn to_take_down(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
) -> Result<Json<Vec<MediaBody>>, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    let items = state.store.media_to_take_down(&scope, state.now()).await?;
    Ok(Json(items.into_iter().map(media_body).collect()))
}

/// `POST /api/v1/media/{id}/taken-down`: staff took the item down; it leaves the list.
/// Idempotent.
pub async fn taken_down(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<MediaBody>, ApiError> {
    user.require(Permission::RecordConsent)?;
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    let (item, _) = state
        .store
        .mark_media_taken_down(&p, id, &scope)
        .await
        .map_err(refused)?;
    Ok(Json(media_body(item)))
}

/// The published items showing `subject` for `activity` that must come down now that the
/// person withdrew: part of the staff withdrawal answer.
pub(super) async fn take_down_after_withdrawal(
    state: &AppState,
    subject: Uuid,
    activity: &str,
) -> Result<Vec<MediaBody>, ApiError> {
    let items = state
        .store
        .media_to_take_down_for(subject, activity, state.now())
        .await?;
    Ok(items.into_iter().map(media_body).collect())
}
