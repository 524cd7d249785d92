//! The personal-data inventory over the API: data subjects, their records, searches,
//! disclosures and the processing log. Need-to-know decides what each caller sees, and
//! every refused attempt is itself logged.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, HeaderMap, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::{Clearance, Permission, Refusal, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::{Bsn, EmailAddress, NationalNumber, PhoneNumber};
use kluis_domain::inventory::{self, RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogEntry, LogSelector};
use kluis_domain::retention::{Deadline, RetentionEvent};
use kluis_store::{Processing, Record, RecordChange, StoreError, SubjectQuery, SubjectView};
use serde::{Deserialize, Serialize};
use time::Date;
use uuid::Uuid;

use super::handlers::{ApiJson, etag, if_match};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::Trace;

/// The request or case a processing serves, sent by the caller for the log.
const CASE_HEADER: &str = "kluis-case";

/// Most log entries one query returns.
const MAX_LOG_ENTRIES: i64 = 1_000;

pub(super) fn processing(
    state: &AppState,
    user: &ApiUser,
    trace: Trace,
    headers: &HeaderMap,
) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(user.0.id.to_string()),
            name: user.0.username.clone(),
        },
        trace: trace.0,
        case_ref: headers
            .get(CASE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().chars().take(100).collect::<String>())
            .filter(|v| !v.is_empty()),
        now: state.now(),
    }
}

/// The caller's need-to-know scope; a refusal is logged against `subject` when one is
/// named, then answered with 403.
pub(super) async fn scope(
    state: &AppState,
    user: &ApiUser,
    processing: &Processing,
    subject: Option<Uuid>,
) -> Result<(Clearance, Scope), ApiError> {
    let clearance = state.store.clearance(user.0.id).await?;
    match clearance.scope() {
        Ok(scope) => Ok((clearance, scope)),
        Err(refusal) => {
            if let Some(subject) = subject {
                refuse(state, processing, subject, &[]).await;
            }
            Err(ApiError::Forbidden(refusal.to_string()))
        }
    }
}

/// Logs a refused attempt on a subject. Logging failures are reported, not hidden, but
/// do not turn the refusal into a different answer.
pub(super) async fn refuse(
    state: &AppState,
    processing: &Processing,
    subject: Uuid,
    activities: &[String],
) {
    if let Err(e) = state
        .store
        .record_refusal(processing, subject, activities)
        .await
    {
        tracing::error!(error = %e, %subject, "cannot log a refused access");
    }
}

/// The store's need-to-know refusal (already logged by the store) as a 403.
fn refused(e: StoreError) -> ApiError {
    match e {
        StoreError::OutOfScope { activities } => {
            ApiError::Forbidden(Refusal::NotAssigned(activities.join(", ")).to_string())
        }
        other => invalid(other),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewSubject {
    /// The processing activity under which the person is recorded.
    activity: String,
    #[serde(flatten)]
    identity: SubjectIdentity,
    #[serde(default)]
    guardians: Vec<Uuid>,
}

#[derive(Serialize)]
pub struct SubjectBody {
    id: Uuid,
    version: i64,
    #[serde(flatten)]
    identity: SubjectIdentity,
    guardians: Vec<Uuid>,
    /// A child under 16 needs a parent or guardian to act for them.
    #[serde(skip_serializing_if = "Option::is_none")]
    child: Option<bool>,
    records: Vec<RecordBody>,
}

#[derive(Serialize)]
pub struct RecordBody {
    id: Uuid,
    subject_id: Uuid,
    version: i64,
    activity: String,
    schedule: String,
    category: DataCategory,
    fields: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    collected_on: Date,
    events: BTreeMap<RetentionEvent, Date>,
    provided_by_subject: bool,
    retention: DeadlineBody,
}

/// A deadline: `{"kind": "on", "date": "2027-06-30"}` or `{"kind": "awaiting_event",
/// "event": "end_of_procedure"}`, ...
#[derive(Serialize)]
pub struct DeadlineBody {
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    date: Option<Date>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
}

fn deadline_body(d: &Deadline) -> DeadlineBody {
    let (kind, date, event) = inventory::deadline_columns(d);
    DeadlineBody { kind, date, event }
}

fn record_body(r: Record) -> RecordBody {
    RecordBody {
        retention: deadline_body(&r.deadline),
        id: r.id,
        subject_id: r.subject_id,
        version: r.version,
        activity: r.activity,
        schedule: r.schedule,
        category: r.category,
        fields: r.fields,
        source: r.source,
        collected_on: r.collected_on,
        events: r.events,
        provided_by_subject: r.provided_by_subject,
    }
}

fn subject_body(view: SubjectView, today: Date) -> SubjectBody {
    let s = view.subject;
    SubjectBody {
        child: s.identity.is_child_on(today),
        id: s.id,
        version: s.version,
        identity: s.identity,
        guardians: s.guardians,
        records: view.records.into_iter().map(record_body).collect(),
    }
}

/// `POST /api/v1/subjects`: records a person under an activity, or returns the person
/// already known by that national number or BSN (200 instead of 201).
pub async fn create_subject(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewSubject>,
) -> Result<Response, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (clearance, _) = scope(&state, &user, &p, None).await?;
    clearance
        .check(&body.activity)
        .map_err(|r| ApiError::Forbidden(r.to_string()))?;
    let (subject, created) = state
        .store
        .record_subject(&p, &body.activity, &body.identity, &body.guardians)
        .await
        .map_err(invalid)?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let location = format!("/api/v1/subjects/{}", subject.id);
    let today = p.now.date();
    let body = subject_body(
        SubjectView {
            subject,
            records: Vec::new(),
        },
        today,
    );
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, v);
    }
    Ok(response)
}

/// `GET /api/v1/subjects/{id}`: the person with the records of the caller's activities.
pub async fn get_subject(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<SubjectBody>, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, Some(id)).await?;
    match state.store.subject(&p, id, &scope).await {
        Ok(Some(view)) => Ok(Json(subject_body(view, p.now.date()))),
        Ok(None) => Err(ApiError::NotFound {
            what: "data subject",
            id: id.to_string(),
        }),
        Err(e) => Err(refused(e)),
    }
}

/// `POST /api/v1/subjects/{id}/records`.
pub async fn add_record(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(input): ApiJson<RecordInput>,
) -> Result<Response, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (clearance, _) = scope(&state, &user, &p, Some(id)).await?;
    if let Err(refusal) = clearance.check(&input.activity) {
        refuse(&state, &p, id, std::slice::from_ref(&input.activity)).await;
        return Err(ApiError::Forbidden(refusal.to_string()));
    }
    let record = state
        .store
        .add_record(&p, id, &input)
        .await
        .map_err(invalid)?;
    let mut response = (StatusCode::CREATED, Json(record_body(record.clone()))).into_response();
    response.headers_mut().insert(ETAG, etag(record.version));
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordPatch {
    #[serde(default)]
    fields: Option<BTreeMap<String, serde_json::Value>>,
    #[serde(default, with = "double_option")]
    source: Option<Option<String>>,
    #[serde(default)]
    events: Option<BTreeMap<RetentionEvent, Date>>,
}

/// `null` clears a field, absence leaves it: serde needs help to tell them apart.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// `PATCH /api/v1/records/{id}` with `If-Match`: changes fields, source or event dates;
/// the retention deadline is computed again.
pub async fn change_record(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(patch): ApiJson<RecordPatch>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    let change = RecordChange {
        fields: patch.fields,
        source: patch.source,
        events: patch.events,
    };
    let record = state
        .store
        .change_record(&p, id, expected, &change, &scope)
        .await
        .map_err(refused)?;
    let mut response = Json(record_body(record.clone())).into_response();
    response.headers_mut().insert(ETAG, etag(record.version));
    Ok(response)
}

/// One identifier to search by.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    #[serde(default)]
    national_number: Option<String>,
    #[serde(default)]
    bsn: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

impl Search {
    /// The one identifier given, validated (check digits included).
    fn query(&self) -> Result<SubjectQuery, ApiError> {
        let given = [
            self.national_number.is_some(),
            self.bsn.is_some(),
            self.email.is_some(),
            self.phone.is_some(),
        ]
        .iter()
        .filter(|g| **g)
        .count();
        if given != 1 {
            return Err(ApiError::Unprocessable(
                "give exactly one of national_number, bsn, email or phone".into(),
            ));
        }
        let bad = |e: &dyn std::fmt::Display| ApiError::Unprocessable(e.to_string());
        if let Some(n) = &self.national_number {
            return n
                .parse::<NationalNumber>()
                .map(SubjectQuery::NationalNumber)
                .map_err(|e| bad(&e));
        }
        if let Some(b) = &self.bsn {
            return b.parse::<Bsn>().map(SubjectQuery::Bsn).map_err(|e| bad(&e));
        }
        if let Some(e) = &self.email {
            return e
                .parse::<EmailAddress>()
                .map(SubjectQuery::Email)
                .map_err(|e| bad(&e));
        }
        let phone = self.phone.as_deref().unwrap_or_default();
        phone
            .parse::<PhoneNumber>()
            .map(SubjectQuery::Phone)
            .map_err(|e| bad(&e))
    }
}

#[derive(Serialize)]
pub struct SearchResult {
    /// The people in kluis's own vault.
    subjects: Vec<SubjectBody>,
    /// Their rows in the authority's other systems, per system; a system that could not
    /// be searched says so in `error`, and the result is then incomplete.
    systems: Vec<crate::systems::SystemResult>,
}

/// `POST /api/v1/subjects/search`: everyone the identifier finds, within need-to-know.
/// POST, so the identifier never lands in an access log's URL.
pub async fn search(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    ApiJson(search): ApiJson<Search>,
) -> Result<Json<SearchResult>, ApiError> {
    let query = search.query()?;
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    let views = state.store.find_subjects(&p, &query, &scope).await?;
    let identities: Vec<&SubjectIdentity> = views.iter().map(|v| &v.subject.identity).collect();
    let (person, primary) = crate::systems::person_query(&query, &identities);
    let systems = crate::systems::search(
        &state.store,
        &state.settings.system_urls,
        &p,
        &person,
        primary.as_ref(),
        &scope,
    )
    .await?;
    let today = p.now.date();
    Ok(Json(SearchResult {
        subjects: views.into_iter().map(|v| subject_body(v, today)).collect(),
        systems,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    activity: String,
    categories: Vec<DataCategory>,
    recipient: String,
    legal_ground: String,
}

/// `POST /api/v1/subjects/{id}/disclosures`: personal data left the authority (police,
/// a court order), recorded with its recipient and legal ground.
pub async fn disclose(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(d): ApiJson<Disclosure>,
) -> Result<StatusCode, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (clearance, _) = scope(&state, &user, &p, Some(id)).await?;
    if let Err(refusal) = clearance.check(&d.activity) {
        refuse(&state, &p, id, std::slice::from_ref(&d.activity)).await;
        return Err(ApiError::Forbidden(refusal.to_string()));
    }
    state
        .store
        .record_disclosure(
            &p,
            id,
            &d.activity,
            &d.categories,
            &d.recipient,
            &d.legal_ground,
        )
        .await
        .map_err(invalid)?;
    Ok(StatusCode::CREATED)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    #[serde(default)]
    trace: Option<String>,
    #[serde(default)]
    activity: Option<String>,
    /// A data subject in the vault, by id.
    #[serde(default)]
    subject: Option<Uuid>,
    #[serde(default)]
    limit: Option<i64>,
}

#[derive(Serialize)]
pub struct LogEntryBody {
    seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    at: time::OffsetDateTime,
    trace_id: String,
    span_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_span_id: Option<String>,
    action: &'static str,
    organisation: String,
    activity: String,
    activity_version: i64,
    purpose: String,
    legal_basis: String,
    subject: String,
    subject_type: String,
    data_categories: Vec<String>,
    system: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    case_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recipient: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    legal_ground: Option<String>,
    actor_kind: &'static str,
    /// Only in the audit view (DPO and auditors).
    #[serde(skip_serializing_if = "Option::is_none")]
    actor: Option<ActorBody>,
    hash: String,
}

#[derive(Serialize)]
pub struct ActorBody {
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    name: String,
}

fn log_entry_body(e: LogEntry, audit: bool) -> LogEntryBody {
    let n = e.entry;
    LogEntryBody {
        seq: e.seq,
        at: e.at,
        trace_id: e.trace_id,
        span_id: e.span_id,
        parent_span_id: e.parent_span_id,
        action: n.action.name(),
        organisation: n.organisation,
        activity: n.activity,
        activity_version: n.activity_version,
        purpose: n.purpose,
        legal_basis: n.legal_basis,
        subject: n.subject,
        subject_type: n.subject_type,
        data_categories: n.data_categories,
        system: n.system,
        case_ref: n.case_ref,
        recipient: n.recipient,
        legal_ground: n.legal_ground,
        actor_kind: e.actor.kind.name(),
        actor: audit.then_some(ActorBody {
            id: e.actor.id,
            name: e.actor.name,
        }),
        hash: hex_string(&e.hash),
    }
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /api/v1/log?trace=…|activity=…|subject=…`: entries the caller may see. The DPO
/// and auditors see everything with the staff identities (the audit view); a caseworker
/// sees the entries of their own activities without them. 400 without a selector.
pub async fn log(
    State(state): State<AppState>,
    user: ApiUser,
    Query(q): Query<LogQuery>,
) -> Result<Json<Vec<LogEntryBody>>, ApiError> {
    let audit = Permission::ReadAuditLog.granted_to(&user.0.roles);
    let scope = if audit {
        Scope::All
    } else {
        state
            .store
            .clearance(user.0.id)
            .await?
            .scope()
            .map_err(|r| ApiError::Forbidden(r.to_string()))?
    };
    let subjects = match q.subject {
        Some(id) => state.store.subject_pseudonyms_of(id).await?,
        None => Vec::new(),
    };
    let selector = LogSelector {
        trace_id: q.trace,
        activity: q.activity,
        subjects,
    };
    selector
        .check()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let limit = q.limit.unwrap_or(MAX_LOG_ENTRIES).clamp(1, MAX_LOG_ENTRIES);
    let entries = state.store.log_entries(&selector, &scope, limit).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| log_entry_body(e, audit))
            .collect(),
    ))
}

#[derive(Serialize)]
pub struct Anchor {
    /// `seq:hash`, to keep outside kluis and give to `kluis log verify --anchor`.
    anchor: String,
    seq: i64,
}

/// `GET /api/v1/log/head`: the chain's head, the anchor an auditor keeps.
pub async fn log_head(
    State(state): State<AppState>,
    user: ApiUser,
) -> Result<Json<Anchor>, ApiError> {
    user.require(Permission::ReadAuditLog)?;
    let head = state.store.log_head().await?;
    Ok(Json(Anchor {
        anchor: head.to_string(),
        seq: head.seq,
    }))
}

/// Store errors about the request itself are the caller's to fix: 422.
pub(super) fn invalid(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(message) => ApiError::Unprocessable(message),
        other => other.into(),
    }
}
