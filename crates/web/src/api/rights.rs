//! Data-subject rights requests over the API, for staff: register a request received by
//! mail, letter or at the desk, list what is open, overdue or due soon, and take a request
//! through identity verification, decisions, fulfilment and closing.
//!
//! Requests hold personal data: every call needs the `dpo` or `caseworker` role and a
//! signed confidentiality statement.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, ETAG, HeaderMap, LOCATION,
};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::Permission;
use kluis_domain::access_package::PackageKind;
use kluis_domain::rights::{
    self, Decision, DpvRequestStatus, Outcome, RefusalGround, RequestChannel, Requester,
    ResponseDeadline, Right, Stage, Urgency,
};
use kluis_domain::text::Lang;
use kluis_store::{
    FiledRequest, NewRequest, RequestChange, RequestFilter, RequestStep, RequestSummary,
    RightsRequest,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::handlers::{ApiJson, etag, if_match};
use super::inventory::invalid;
use crate::access_package::{Format as PackageFormat, PackageError};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Checks that `user` may handle rights requests: the role, then the confidentiality
/// statement every reader of personal data must have signed.
async fn handler(state: &AppState, user: &ApiUser) -> Result<(), ApiError> {
    user.require(Permission::HandleRightsRequests)?;
    let clearance = state.store.clearance(user.0.id).await?;
    clearance
        .scope()
        .map(|_| ())
        .map_err(|r| ApiError::Forbidden(r.to_string()))
}

/// The secret status link of a request, on kluis's public site.
pub fn status_url(state: &AppState, token: &str) -> String {
    format!("{}/rights/status/{token}", state.settings.public_url)
}

/// A request registered by staff.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequestBody {
    controller: String,
    rights: Vec<Right>,
    channel: RequestChannel,
    requester: Requester,
    #[serde(default = "dutch")]
    language: Lang,
    /// When it reached the authority; today when left out.
    #[serde(default)]
    received_on: Option<Date>,
}

fn dutch() -> Lang {
    Lang::Nl
}

/// What filing answers: the status link is shown this once.
#[derive(Serialize)]
pub struct FiledBody {
    id: Uuid,
    reference: String,
    status_url: String,
    due_on: Date,
}

/// `POST /api/v1/rights-requests`: registers a request received by e-mail, letter or at the
/// desk; the receipt is mailed when the requester gave an address.
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(body): ApiJson<NewRequestBody>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let now = state.now();
    let new = NewRequest {
        controller: body.controller,
        rights: body.rights,
        channel: body.channel,
        requester: body.requester,
        language: body.language,
        received_on: body.received_on.unwrap_or(now.date()),
    };
    let filed = file(&state, &new, &user.0.username, now).await?;
    let mut response = (
        StatusCode::CREATED,
        Json(FiledBody {
            id: filed.id,
            reference: filed.reference.clone(),
            status_url: status_url(&state, &filed.status_token),
            due_on: filed.due_on,
        }),
    )
        .into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/v1/rights-requests/{}", filed.id)) {
        response.headers_mut().insert(LOCATION, location);
    }
    Ok(response)
}

/// Files `new` with its receipt mail (when the requester gave an e-mail address): the one
/// way the portal and staff file requests.
pub async fn file(
    state: &AppState,
    new: &NewRequest,
    actor: &str,
    now: OffsetDateTime,
) -> Result<FiledRequest, ApiError> {
    let organisation = match state.store.controller(&new.controller).await? {
        Some(c) => c.value.name.show(new.language).to_string(),
        None => {
            return Err(ApiError::NotFound {
                what: "controller",
                id: new.controller.clone(),
            });
        }
    };
    let (to, lang, asked) = (
        new.requester.email.clone(),
        new.language,
        new.rights.clone(),
    );
    let received_on = new.received_on;
    state
        .store
        .file_request(
            new,
            |filed| {
                let link = status_url(state, &filed.status_token);
                to.map(|to| {
                    rights::receipt_mail(
                        to,
                        lang,
                        &rights::ReceiptFacts {
                            organisation: &organisation,
                            reference: &filed.reference,
                            rights: &asked,
                            received_on,
                            due_on: filed.due_on,
                            status_url: &link,
                        },
                    )
                })
            },
            actor,
            now,
        )
        .await
        .map_err(invalid)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    filter: Option<String>,
}

#[derive(Serialize)]
pub struct SummaryBody {
    id: Uuid,
    reference: String,
    controller: String,
    rights: Vec<Right>,
    stage: Stage,
    received_on: Date,
    due_on: Date,
    urgency: Urgency,
    /// The username of the caseworker who handles it.
    assignee: Option<String>,
}

impl From<RequestSummary> for SummaryBody {
    fn from(s: RequestSummary) -> Self {
        SummaryBody {
            id: s.id,
            reference: s.reference,
            controller: s.controller,
            rights: s.rights,
            stage: s.stage,
            received_on: s.received_on,
            due_on: s.due_on,
            urgency: s.urgency,
            assignee: s.assignee,
        }
    }
}

/// `GET /api/v1/rights-requests?filter=open|overdue|due_soon|all`: due first.
pub async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<SummaryBody>>, ApiError> {
    handler(&state, &user).await?;
    let filter = match query.filter.as_deref() {
        None | Some("open") => RequestFilter::Open,
        Some("overdue") => RequestFilter::Overdue,
        Some("due_soon") => RequestFilter::DueSoon,
        Some("all") => RequestFilter::All,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "filter '{other}' is not one of open, overdue, due_soon, all"
            )));
        }
    };
    let list = state
        .store
        .rights_requests(filter, state.now().date())
        .await?;
    Ok(Json(list.into_iter().map(SummaryBody::from).collect()))
}

#[derive(Serialize)]
pub struct RequestBody {
    id: Uuid,
    reference: String,
    controller: String,
    rights: Vec<Right>,
    channel: RequestChannel,
    stage: Stage,
    /// The request status of the Data Privacy Vocabulary.
    status: DpvRequestStatus,
    status_dpv: &'static str,
    deadline: ResponseDeadline,
    due_on: Date,
    urgency: Urgency,
    requester: Requester,
    language: Lang,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject_id: Option<Uuid>,
    assignee: Option<String>,
    decisions: Vec<Decision>,
    fulfilled: bool,
    version: i64,
    timeline: Vec<StepBody>,
    documents: Vec<DocumentBody>,
}

#[derive(Serialize)]
pub struct StepBody {
    seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    step: String,
    stage: Stage,
    actor: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

#[derive(Serialize)]
pub struct DocumentBody {
    id: Uuid,
    media_type: String,
    size: i64,
    #[serde(with = "time::serde::rfc3339")]
    uploaded_at: OffsetDateTime,
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    destroyed_at: Option<OffsetDateTime>,
}

fn request_body(r: RightsRequest, today: Date) -> RequestBody {
    RequestBody {
        due_on: r.deadline.due_on(),
        urgency: r.deadline.urgency(today),
        status_dpv: r.status.dpv(),
        id: r.id,
        reference: r.reference,
        controller: r.controller,
        rights: r.rights,
        channel: r.channel,
        stage: r.stage,
        status: r.status,
        deadline: r.deadline,
        requester: r.requester,
        language: r.language,
        subject_id: r.subject_id,
        assignee: r.assignee,
        decisions: r.decisions,
        fulfilled: r.fulfilled,
        version: r.version,
        timeline: r
            .timeline
            .into_iter()
            .map(|s: RequestStep| StepBody {
                seq: s.seq,
                at: s.at,
                step: s.step,
                stage: s.stage,
                actor: s.actor,
                note: s.note,
            })
            .collect(),
        documents: r
            .documents
            .into_iter()
            .map(|d| DocumentBody {
                id: d.id,
                media_type: d.media_type,
                size: d.size,
                uploaded_at: d.uploaded_at,
                destroyed_at: d.destroyed_at,
            })
            .collect(),
    }
}

fn with_etag(request: RightsRequest, today: Date) -> Response {
    let version = request.version;
    let mut response = Json(request_body(request, today)).into_response();
    response.headers_mut().insert(ETAG, etag(version));
    response
}

/// `GET /api/v1/rights-requests/{id}`: the request with its timeline; ETag = version.
pub async fn get(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let request = state.store.rights_request(id).await?;
    Ok(with_etag(request, state.now().date()))
}

/// A change to a request, as the API takes it.
#[derive(Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChangeBody {
    RequestIdentity {
        note: String,
    },
    VerifyIdentity {
        #[serde(default)]
        subject_id: Option<Uuid>,
    },
    Decide {
        decisions: Vec<Decision>,
    },
    Close {
        note: String,
    },
    Extend {
        months: u8,
        reason: String,
        told_on: Date,
    },
}

impl From<ChangeBody> for RequestChange {
    fn from(c: ChangeBody) -> Self {
        match c {
            ChangeBody::RequestIdentity { note } => RequestChange::RequestIdentity { note },
            ChangeBody::VerifyIdentity { subject_id } => {
                RequestChange::VerifyIdentity { subject_id }
            }
            ChangeBody::Decide { decisions } => RequestChange::Decide { decisions },
            ChangeBody::Close { note } => RequestChange::Close { note },
            ChangeBody::Extend {
                months,
                reason,
                told_on,
            } => RequestChange::Extend {
                months,
                reason,
                told_on,
            },
        }
    }
}

/// `POST /api/v1/rights-requests/{id}/changes` with `If-Match`: one step of the request.
/// A step the request's stage does not allow is refused with 422 and changes nothing.
pub async fn change(
    State(state): State<AppState>,
    user: ApiUser,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let expected = if_match(&headers)?;
    let now = state.now();
    let request = state
        .store
        .change_request(id, expected, &body.into(), &user.0.username, now)
        .await
        .map_err(invalid)?;
    Ok(with_etag(request, now.date()))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssigneeBody {
    username: String,
}

/// `PUT /api/v1/rights-requests/{id}/assignee` with `If-Match`: the caseworker (or DPO)
/// who handles the request and gets its reminders. 422 for someone who may not handle
/// rights requests, 404 for an unknown user.
pub async fn assign(
    State(state): State<AppState>,
    user: ApiUser,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<AssigneeBody>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let expected = if_match(&headers)?;
    let now = state.now();
    let request = state
        .store
        .assign_request(id, expected, &body.username, &user.0.username, now)
        .await
        .map_err(invalid)?;
    Ok(with_etag(request, now.date()))
}

/// A decision the register proposes.
#[derive(Serialize)]
pub struct DefaultBody {
    right: Right,
    activity: String,
    outcome: Outcome,
    ground: RefusalGround,
    article: &'static str,
    motivation: String,
}

/// `GET /api/v1/rights-requests/{id}/default-decisions`: for each right asked and each
/// processing activity of the controller, the decision the register supplies (erasure
/// refused where a legal obligation keeps the data, portability refused for a public task,
/// ...), in the requester's language, for the caseworker to confirm.
pub async fn default_decisions(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<Vec<DefaultBody>>, ApiError> {
    handler(&state, &user).await?;
    let request = state.store.rights_request(id).await?;
    let activities: Vec<_> = state
        .store
        .activities(Some(&request.controller))
        .await?
        .into_iter()
        .map(|a| a.value)
        .collect();
    let out = rights::default_decisions(&request.rights, &activities, request.language)
        .into_iter()
        .map(|d| DefaultBody {
            article: d.grounds[0].article(d.right),
            right: d.right,
            activity: d.activity,
            outcome: d.outcome,
            ground: d.grounds[0],
            motivation: d.motivation,
        })
        .collect();
    Ok(Json(out))
}

/// `GET /api/v1/rights-requests/{id}/documents/{document}`: the ID copy, for the caseworker
/// who compares it with the inventory. Each look is written to the request's timeline; a
/// destroyed copy is gone (404). Never cached, never rendered as anything but its type.
pub async fn document(
    State(state): State<AppState>,
    user: ApiUser,
    Path((id, document)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let Some((media_type, content)) = state
        .store
        .identity_document(id, document, &user.0.username, state.now())
        .await?
    else {
        return Err(ApiError::NotFound {
            what: "identity document",
            id: document.to_string(),
        });
    };
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_str(&media_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        HeaderName::from_static("x-content-type-options"),
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"id-copy\""),
    );
    Ok(response)
}

/// `?format=` of a package download.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageQuery {
    #[serde(default)]
    format: Option<String>,
}

/// `GET /api/v1/rights-requests/{id}/access-package?format=html|pdf|zip`: the access
/// package (art. 15) of a decided request, for the activities access was granted for.
/// 409 while no data may be released (identity not verified, not decided, refused).
pub async fn access_package(
    State(state): State<AppState>,
    user: ApiUser,
    trace: crate::trace::Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(query): Query<PackageQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.unwrap_or_else(|| "html".into());
    package(
        &state,
        &user,
        trace,
        &headers,
        id,
        PackageKind::Access,
        &format,
    )
    .await
}

/// `GET /api/v1/rights-requests/{id}/portability?format=json|csv`: the data the person
/// provided under consent or contract (art. 20), where portability was granted.
pub async fn portability(
    State(state): State<AppState>,
    user: ApiUser,
    trace: crate::trace::Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(query): Query<PackageQuery>,
) -> Result<Response, ApiError> {
    let format = query.format.unwrap_or_else(|| "json".into());
    package(
        &state,
        &user,
        trace,
        &headers,
        id,
        PackageKind::Portability,
        &format,
    )
    .await
}

async fn package(
    state: &AppState,
    user: &ApiUser,
    trace: crate::trace::Trace,
    headers: &HeaderMap,
    id: Uuid,
    kind: PackageKind,
    format: &str,
) -> Result<Response, ApiError> {
    handler(state, user).await?;
    let format = PackageFormat::parse(kind, format).map_err(ApiError::BadRequest)?;
    let request = state.store.rights_request(id).await?;
    let mut processing = super::inventory::processing(state, user, trace, headers);
    processing.case_ref = Some(request.reference.clone());
    let download = crate::access_package::produce_gated(state, &processing, &request, kind, format)
        .await
        .map_err(|e| match e {
            PackageError::NotReleasable(why) => ApiError::InUse(why.to_string()),
            PackageError::Store(e) => e.into(),
            e @ PackageError::Render(_) => ApiError::Internal(e.to_string()),
        })?;
    Ok(download.into_attachment())
}

/// `GET /api/v1/rights-requests/{id}/letter`: the latest letter to the person (closing
/// letter, extension, request for proof of identity) as a PDF to print and post, for a
/// person without an e-mail address; it is the letter mailed otherwise. 422 when nothing
/// was written to the person yet.
pub async fn letter(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    handler(&state, &user).await?;
    let (request, letter) = state.store.latest_letter(id).await.map_err(invalid)?;
    let pdf = crate::letters::letter_pdf(&request, &letter, state.now().date());
    let mut response = pdf.into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-letter.pdf\"",
        request.reference
    )) {
        h.insert(CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// Where to send a portability export: the receiving controller's HTTPS endpoint and name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransmissionBody {
    #[serde(default)]
    endpoint: String,
    #[serde(default)]
    recipient: String,
    /// json (the default) or csv.
    #[serde(default)]
    format: Option<String>,
}

/// `POST /api/v1/rights-requests/{id}/portability/transmissions`: sends the portability
/// export (art. 20(2)) straight to another controller's HTTPS endpoint, and answers 201 with
/// what was delivered. 422 for an endpoint that is not https or carries credentials, or no
/// recipient (nothing sent or recorded), and for an endpoint on an internal network that
/// `[rights] portability_allowed_hosts` does not list (nothing sent; on the timeline as a
/// failed transmission); 409 while no data may be released (as the download); 502 with the
/// endpoint's answer or the connection error when it was not taken (on the timeline as a
/// failed transmission, nothing logged as disclosed).
pub async fn transmit_portability(
    State(state): State<AppState>,
    user: ApiUser,
    trace: crate::trace::Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<TransmissionBody>,
) -> Result<Response, ApiError> {
    use crate::portability::{Destination, TransmitError, transmit};

    handler(&state, &user).await?;
    let destination =
        Destination::parse(&body.endpoint, &body.recipient).map_err(ApiError::Unprocessable)?;
    let format = PackageFormat::parse(
        PackageKind::Portability,
        body.format.as_deref().unwrap_or("json"),
    )
    .map_err(ApiError::Unprocessable)?;
    let request = state.store.rights_request(id).await?;
    let mut processing = super::inventory::processing(&state, &user, trace, &headers);
    processing.case_ref = Some(request.reference.clone());
    let problem = |e: TransmitError| match e {
        TransmitError::Invalid(why) => ApiError::Unprocessable(why),
        TransmitError::NotReleasable(why) => ApiError::InUse(why.to_string()),
        TransmitError::Store(e) => e.into(),
        e @ TransmitError::Render(_) => ApiError::Internal(e.to_string()),
        e @ TransmitError::Refused { .. } => ApiError::Unprocessable(e.to_string()),
        e @ TransmitError::Failed { .. } => ApiError::BadGateway(e.to_string()),
    };
    let sent = transmit(&state, &processing, &request, &destination, format)
        .await
        .map_err(problem)?;
    Ok((StatusCode::CREATED, Json(sent)).into_response())
}

/// What `POST .../fulfilment` takes: optionally, the staff member's confirmation of the
/// actions carried out by hand (what they did).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FulfilmentBody {
    #[serde(default)]
    done_by_hand: Option<String>,
}

/// `POST /api/v1/rights-requests/{id}/fulfilment`: carries out what was granted in the
/// vault and every connected system, resuming after a failure (done actions are never
/// redone). 200 with the status per right, activity and place, also when a system failed:
/// the request then stays decided and the failed places show their error (run it again
/// once repaired). 409 when the request may not be carried out (not decided, everything
/// refused, identity not verified).
pub async fn run_fulfilment(
    State(state): State<AppState>,
    user: ApiUser,
    trace: crate::trace::Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    body: axum::body::Bytes,
) -> Result<Json<kluis_store::FulfilmentStatus>, ApiError> {
    handler(&state, &user).await?;
    // The body is optional: without one, nothing is confirmed by hand.
    let body: FulfilmentBody = if body.iter().all(u8::is_ascii_whitespace) {
        FulfilmentBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| {
            ApiError::BadRequest(format!(
                "the body is a JSON object with an optional \"done_by_hand\" note: {e}"
            ))
        })?
    };
    let processing = super::inventory::processing(&state, &user, trace, &headers);
    let status =
        crate::fulfilment::fulfil_gated(&state, &processing, id, body.done_by_hand.as_deref())
            .await
            .map_err(|e| match e {
                crate::fulfilment::FulfilmentError::Refused(why) => ApiError::InUse(why),
                crate::fulfilment::FulfilmentError::Store(e) => invalid(e),
            })?;
    Ok(Json(status))
}

/// `GET /api/v1/rights-requests/{id}/fulfilment`: the actions and their status, and the
/// recipients to tell (art. 19).
pub async fn fulfilment_status(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Json<kluis_store::FulfilmentStatus>, ApiError> {
    handler(&state, &user).await?;
    Ok(Json(state.store.fulfilment_status(id).await?))
}

/// A recipient told of a rectification, erasure or restriction.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToldBody {
    recipient: String,
    how: String,
}

/// `POST /api/v1/rights-requests/{id}/recipients-told`: records that a recipient of the
/// data was told (art. 19), by the caller, now; 422 for a name the register does not list
/// for the request or before what they are told of was carried out.
pub async fn recipients_told(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<ToldBody>,
) -> Result<Json<kluis_store::FulfilmentStatus>, ApiError> {
    handler(&state, &user).await?;
    let status = state
        .store
        .record_recipient_told(
            id,
            &body.recipient,
            &body.how,
            &user.0.username,
            state.now(),
        )
        .await
        .map_err(invalid)?;
    Ok(Json(status))
}

/// What `POST .../rectifications` takes: the place in a connected system and its new value.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RectificationBody {
    system: String,
    table: String,
    column: String,
    value: String,
}

/// `POST /api/v1/rights-requests/{id}/rectifications`: sets one column of the person's
/// rows in one table of a connected system to a new value (GDPR art. 16), records it on
/// the timeline and in the processing log, keeps the old and new values sealed with the
/// request and answers with each changed row's old value. 422 for an unknown system or a column the
/// dataset map does not list, 409 unless rectification was granted for an activity the
/// system serves (and the identity verified), 502 with the system's error when it could
/// not be done there (nothing changed).
pub async fn rectify_in_system(
    State(state): State<AppState>,
    user: ApiUser,
    trace: crate::trace::Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<RectificationBody>,
) -> Result<Json<crate::rectification::RectificationOutcome>, ApiError> {
    use crate::rectification::RectificationError;
    handler(&state, &user).await?;
    let processing = super::inventory::processing(&state, &user, trace, &headers);
    let outcome = crate::rectification::rectify_in_system(
        &state.store,
        &state.settings.system_urls,
        &processing,
        id,
        &body.system,
        &body.table,
        &body.column,
        &body.value,
    )
    .await
    .map_err(|e| match e {
        RectificationError::Invalid(why) => ApiError::Unprocessable(why),
        RectificationError::Refused(why) => ApiError::InUse(why),
        e @ RectificationError::System { .. } => ApiError::BadGateway(e.to_string()),
        RectificationError::Store(e) => invalid(e),
    })?;
    Ok(Json(outcome))
}
