//! The register of data breaches over the API: the DPO (or an administrator) documents
//! each breach, records the phases of the notification to the supervisory authority and
//! the art. 34 decision, gets the authority's form filled in, and finds and tells the
//! people affected. Auditors read.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header::{ETAG, HeaderMap, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::Scope;
use kluis_domain::breach::{
    self, AffectedQuery, Art34Decision, AuthorityNotice, BreachChange, BreachFacts, ClockStatus,
    DraftInput, NotificationDraft,
};
use kluis_domain::legal::SupervisoryAuthority;
use kluis_domain::text::Lang;
use kluis_store::{Breach, BreachFilter};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use super::handlers::{ApiJson, etag, if_match, optional_if_match};
use super::inventory::{invalid, processing, scope};
use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::state::AppState;
use crate::trace::Trace;

fn require_record(user: &ApiUser) -> Result<(), ApiError> {
    if breach::may_record(&user.0.roles) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("dpo or admin".into()))
    }
}

fn require_read(user: &ApiUser) -> Result<(), ApiError> {
    if breach::may_read(&user.0.roles) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("dpo, admin or auditor".into()))
    }
}

fn not_found(id: Uuid) -> ApiError {
    ApiError::NotFound {
        what: "breach",
        id: id.to_string(),
    }
}

/// A breach as the API shows it: the documentation with the clock worked out.
#[derive(Serialize)]
pub struct BreachBody {
    id: Uuid,
    reference: String,
    version: i64,
    #[serde(flatten)]
    facts: BreachFacts,
    /// aware_at + 72 hours.
    #[serde(with = "time::serde::rfc3339")]
    notification_due: OffsetDateTime,
    clock: ClockStatus,
    /// A high risk and no art. 34(3) ground: the people must be told.
    people_must_be_told: bool,
    notifications: Vec<NoticeBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    art34: Option<Art34Body>,
    /// People a notice was prepared for.
    people_told: i64,
    /// Of those, people whose mail went out.
    people_mailed: i64,
    /// People found only in a connected system and mailed a notice, per system.
    people_told_in_systems: BTreeMap<String, i64>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    created_by: String,
    #[serde(with = "time::serde::rfc3339")]
    updated_at: OffsetDateTime,
    updated_by: String,
}

#[derive(Serialize)]
pub struct NoticeBody {
    seq: i64,
    #[serde(flatten)]
    notice: AuthorityNotice,
    #[serde(with = "time::serde::rfc3339")]
    recorded_at: OffsetDateTime,
    recorded_by: String,
}

#[derive(Serialize)]
pub struct Art34Body {
    #[serde(flatten)]
    decision: Art34Decision,
    #[serde(with = "time::serde::rfc3339")]
    decided_at: OffsetDateTime,
    decided_by: String,
}

pub fn breach_body(b: Breach, now: OffsetDateTime) -> BreachBody {
    BreachBody {
        reference: b.reference(),
        clock: b.clock(now),
        notification_due: b.facts.notification_due(),
        people_must_be_told: breach::people_must_be_told(
            &b.facts,
            b.art34.as_ref().map(|d| &d.decision),
        ),
        id: b.id,
        version: b.version,
        facts: b.facts,
        notifications: b
            .notices
            .into_iter()
            .map(|n| NoticeBody {
                seq: n.seq,
                notice: n.notice,
                recorded_at: n.recorded_at,
                recorded_by: n.recorded_by,
            })
            .collect(),
        art34: b.art34.map(|d| Art34Body {
            decision: d.decision,
            decided_at: d.decided_at,
            decided_by: d.decided_by,
        }),
        people_told: b.people_told,
        people_mailed: b.people_mailed,
        people_told_in_systems: b.people_told_in_systems,
        created_at: b.created_at,
        created_by: b.created_by,
        updated_at: b.updated_at,
        updated_by: b.updated_by,
    }
}

/// The breach with its version as ETag (and its address when created).
fn respond(status: StatusCode, b: Breach, now: OffsetDateTime) -> Response {
    let version = b.version;
    let location = format!("/api/v1/breaches/{}", b.id);
    let mut response = (status, Json(breach_body(b, now))).into_response();
    response.headers_mut().insert(ETAG, etag(version));
    if status == StatusCode::CREATED
        && let Ok(v) = HeaderValue::from_str(&location)
    {
        response.headers_mut().insert(LOCATION, v);
    }
    response
}

async fn load(state: &AppState, id: Uuid) -> Result<Breach, ApiError> {
    state.store.breach(id).await?.ok_or_else(|| not_found(id))
}

/// `POST /api/v1/breaches`: registers a breach (art. 33(5)). An awareness time in the
/// future is refused with 422.
pub async fn create(
    State(state): State<AppState>,
    user: ApiUser,
    ApiJson(facts): ApiJson<BreachFacts>,
) -> Result<Response, ApiError> {
    require_record(&user)?;
    let now = state.now();
    let b = state
        .store
        .create_breach(&facts, user.actor(), now)
        .await
        .map_err(invalid)?;
    Ok(respond(StatusCode::CREATED, b, now))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[serde(default)]
    open: bool,
    #[serde(default)]
    overdue: bool,
}

/// `GET /api/v1/breaches?open=true&overdue=true`: the register, most recent first.
pub async fn list(
    State(state): State<AppState>,
    user: ApiUser,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<BreachBody>>, ApiError> {
    require_read(&user)?;
    let Query(q) = query?;
    let now = state.now();
    let list = state
        .store
        .breaches(
            BreachFilter {
                open: q.open,
                overdue: q.overdue,
            },
            now,
        )
        .await?;
    Ok(Json(
        list.into_iter().map(|b| breach_body(b, now)).collect(),
    ))
}

/// `GET /api/v1/breaches/{id}` (ETag = version).
pub async fn get(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    require_read(&user)?;
    Ok(respond(
        StatusCode::OK,
        load(&state, id).await?,
        state.now(),
    ))
}

/// `PATCH /api/v1/breaches/{id}` with `If-Match`: changes the fields given.
pub async fn update(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(change): ApiJson<BreachChange>,
) -> Result<Response, ApiError> {
    require_record(&user)?;
    let expected = if_match(&headers)?;
    let now = state.now();
    let b = state
        .store
        .update_breach(id, expected, &change, user.actor(), now)
        .await
        .map_err(invalid)?;
    Ok(respond(StatusCode::OK, b, now))
}

/// `POST /api/v1/breaches/{id}/notifications`: records a phase of the notification to
/// the supervisory authority (art. 33(4)); late initial notices need the reasons. With
/// `If-Match`, only on that version of the breach (409 otherwise).
pub async fn notify_authority(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(notice): ApiJson<AuthorityNotice>,
) -> Result<Response, ApiError> {
    require_record(&user)?;
    let expected = optional_if_match(&headers)?;
    let now = state.now();
    let b = state
        .store
        .record_breach_notice(id, expected, &notice, user.actor(), now)
        .await
        .map_err(invalid)?;
    Ok(respond(StatusCode::CREATED, b, now))
}

/// `PUT /api/v1/breaches/{id}/art34-decision`: whether the people are told, or on which
/// art. 34(3) ground not. With `If-Match`, only on that version of the breach (409
/// otherwise).
pub async fn decide_art34(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    headers: HeaderMap,
    ApiJson(decision): ApiJson<Art34Decision>,
) -> Result<Response, ApiError> {
    require_record(&user)?;
    let expected = optional_if_match(&headers)?;
    let now = state.now();
    let b = state
        .store
        .record_art34_decision(id, expected, &decision, user.actor(), now)
        .await
        .map_err(invalid)?;
    Ok(respond(StatusCode::OK, b, now))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftQuery {
    /// gba, vtc or ap; default: the controller's first supervisory authority.
    #[serde(default)]
    authority: Option<SupervisoryAuthority>,
    /// nl or fr, as the authority's form offers; default: its first.
    #[serde(default)]
    lang: Option<Lang>,
}

/// The draft of the notification for breach `id`, from the file and the controller as
/// the register has it now.
async fn notification_draft(
    state: &AppState,
    id: Uuid,
    authority: Option<SupervisoryAuthority>,
    lang: Option<Lang>,
) -> Result<NotificationDraft, ApiError> {
    let b = load(state, id).await?;
    let controller = state
        .store
        .controller(&b.facts.controller)
        .await?
        .ok_or_else(|| {
            ApiError::Unprocessable(format!(
                "controller '{}' of this breach is no longer in the register: add it again to \
                 make the draft",
                b.facts.controller
            ))
        })?
        .value;
    let notices = b.authority_notices();
    breach::draft(&DraftInput {
        facts: &b.facts,
        controller: &controller,
        notices: &notices,
        decision: b.art34.as_ref().map(|d| &d.decision),
        authority,
        language: lang,
    })
    .map_err(|e| ApiError::Unprocessable(e.to_string()))
}

/// `GET /api/v1/breaches/{id}/notification-draft?authority=&lang=`: the fields of the
/// supervisory authority's form, filled in from the file.
pub async fn draft(
    State(state): State<AppState>,
    user: ApiUser,
    Path(id): Path<Uuid>,
    query: Result<Query<DraftQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<NotificationDraft>, ApiError> {
    require_read(&user)?;
    let Query(q) = query?;
    Ok(Json(
        notification_draft(&state, id, q.authority, q.lang).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffectedRequest {
    /// Records under these processing activities ...
    #[serde(default)]
    activities: std::collections::BTreeSet<String>,
    /// ... and/or of these data categories ...
    #[serde(default)]
    data_categories: std::collections::BTreeSet<kluis_domain::category::DataCategory>,
    /// ... collected in this window (both ends included) ...
    #[serde(default)]
    collected_from: Option<time::Date>,
    #[serde(default)]
    collected_until: Option<time::Date>,
    /// ... in these places only: connected systems by name, `kluis` for the vault.
    #[serde(default)]
    systems: std::collections::BTreeSet<String>,
    /// When the people must be told: how many to list per connected system (default
    /// 1,000, at most 10,000) ...
    #[serde(default)]
    limit: Option<usize>,
    /// ... after skipping this many, for the next page.
    #[serde(default)]
    offset: Option<usize>,
    /// Also prepare the notice to each person (needs a decision to tell them).
    #[serde(default)]
    notify: bool,
    /// The mail's language for the vault's people whose language kluis does not know
    /// (people found only in a connected system get the controller's language).
    #[serde(default)]
    language: Option<Lang>,
}

#[derive(Serialize)]
pub struct AffectedBody {
    /// People found in kluis's vault (the connected systems are in `systems`).
    count: usize,
    subjects: Vec<Uuid>,
    records: i64,
    by_activity: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    without_email: Option<i64>,
    /// With `notify`: who the vault's people without an e-mail address are, to send
    /// them a letter.
    #[serde(skip_serializing_if = "Option::is_none")]
    to_tell_by_post: Option<Vec<kluis_store::LetterRecipient>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    already_told: Option<i64>,
    /// The connected systems: per system the rows and people affected, and who they are
    /// when the risk is high or the people are to be told; with the people of the vault
    /// and the systems counted once where that can be told.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    in_systems: Option<crate::breach_systems::AffectedInSystems>,
    /// With `notify`: the people found only in connected systems, mailed in the
    /// controller's language (once per address and breach), or to tell by post.
    #[serde(skip_serializing_if = "Option::is_none")]
    told_in_systems: Option<crate::breach_systems::ToldInSystems>,
}

/// `POST /api/v1/breaches/{id}/affected`: finds the people affected in the inventory
/// (each one found is logged) and, with `notify`, queues a mail to each in their language.
pub async fn affected(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    ApiJson(body): ApiJson<AffectedRequest>,
) -> Result<Json<AffectedBody>, ApiError> {
    require_record(&user)?;
    let query = AffectedQuery {
        activities: body.activities,
        data_categories: body.data_categories,
        collected_from: body.collected_from,
        collected_until: body.collected_until,
        systems: body.systems,
    };
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, None).await?;
    if scope != Scope::All {
        return Err(ApiError::Forbidden(
            "finding the people affected by a breach searches every processing activity: \
             only the DPO may"
                .into(),
        ));
    }
    if !body.notify {
        // Who the people are is read only when they must be told (art. 34).
        let b = load(&state, id).await?;
        let page = (
            body.limit.unwrap_or(crate::breach_systems::DEFAULT_LIST),
            body.offset.unwrap_or(0),
        );
        let found = crate::breach_systems::find_everywhere(
            &state.store,
            &state.settings.system_urls,
            &p,
            &b,
            &query,
            page,
        )
        .await
        .map_err(invalid)?;
        let vault = found.vault;
        return Ok(Json(AffectedBody {
            count: vault.subjects.len(),
            subjects: vault.subjects,
            records: vault.records,
            by_activity: vault.by_activity,
            queued: None,
            without_email: None,
            to_tell_by_post: None,
            already_told: None,
            in_systems: Some(found.in_systems),
            told_in_systems: None,
        }));
    }
    let b = load(&state, id).await?;
    let told = crate::breach_systems::tell_people(
        &state.store,
        &state.settings.system_urls,
        &p,
        &b,
        &query,
        body.language.unwrap_or(Lang::Nl),
    )
    .await
    .map_err(invalid)?;
    let outcome = told.vault;
    let found = outcome.affected;
    Ok(Json(AffectedBody {
        count: found.subjects.len(),
        subjects: found.subjects,
        records: found.records,
        by_activity: found.by_activity,
        queued: Some(outcome.queued),
        without_email: Some(outcome.without_email),
        to_tell_by_post: Some(outcome.to_tell_by_post),
        already_told: Some(outcome.already_told),
        in_systems: None,
        told_in_systems: Some(told.in_systems),
    }))
}
