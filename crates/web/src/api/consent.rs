//! The consent ledger over the API: staff record and withdraw consent, other applications
//! of the authority ask whether a purpose may use a person's data now, and every consent
//! can be exported as an ISO/IEC TS 27560 record.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{HeaderMap, LOCATION};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use kluis_domain::access::{Clearance, Permission};
use kluis_domain::consent::{
    ConsentEventKind, ConsentGiven, ConsentState, GivenBy, WithdrawalChannel,
};
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::register::ProcessingActivity;
use kluis_domain::text::Lang;
use kluis_store::{Consent, ConsentSubject, StoredConsentEvent};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::handlers::ApiJson;
use super::inventory::{invalid, processing, refuse, scope};
use crate::auth::{ApiUser, BearerToken};
use crate::error::ApiError;
use crate::state::{AppState, PurposeCheck};
use crate::trace::Trace;

/// Most people one consent check asks about: a mailing of a few thousand takes a few calls.
pub const MAX_CHECK_PEOPLE: usize = 1_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewConsent {
    /// The purpose: a processing activity whose legal basis is consent.
    activity: String,
    #[serde(flatten)]
    given: ConsentGiven,
    /// The parent or guardian consenting for a child under 16 (a data subject id).
    #[serde(default)]
    guardian: Option<Uuid>,
}

#[derive(Serialize)]
pub struct ConsentBody {
    id: Uuid,
    subject_id: Uuid,
    activity: String,
    state: ConsentState,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: Option<Date>,
    /// Whether the purpose may use the person's data now.
    allowed: bool,
    /// The one-click link that withdraws this consent (for mail on behalf of the purpose).
    #[serde(skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<String>,
    events: Vec<EventBody>,
}

#[derive(Serialize)]
pub struct EventBody {
    seq: i64,
    kind: ConsentEventKind,
    #[serde(with = "time::serde::rfc3339")]
    at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none", flatten)]
    given: Option<ConsentGiven>,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_by: Option<GivenBy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    guardian: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<WithdrawalChannel>,
    actor_kind: kluis_domain::processing_log::ActorKind,
}

fn event_body(e: StoredConsentEvent) -> EventBody {
    EventBody {
        seq: e.seq,
        kind: e.kind,
        at: e.at,
        given: e.given,
        given_by: e.given_by,
        guardian: e.guardian,
        channel: e.channel,
        actor_kind: e.actor_kind,
    }
}

/// The link that withdraws `consent` with one click, when it can still be withdrawn.
pub fn unsubscribe_url(state: &AppState, consent: &Consent) -> Result<Option<String>, ApiError> {
    if !consent.state.allows_processing() {
        return Ok(None);
    }
    let token = state.store.unsubscribe_link(consent, state.now())?;
    Ok(Some(format!(
        "{}/consent/unsubscribe/{token}",
        state.settings.public_url
    )))
}

fn consent_body(state: &AppState, consent: Consent) -> Result<ConsentBody, ApiError> {
    let now = state.now();
    Ok(ConsentBody {
        unsubscribe_url: unsubscribe_url(state, &consent)?,
        allowed: kluis_domain::consent::allows(consent.state, consent.valid_until, now),
        id: consent.id,
        subject_id: consent.subject_id,
        activity: consent.activity,
        state: consent.state,
        valid_until: consent.valid_until,
        events: consent.events.into_iter().map(event_body).collect(),
    })
}

/// `POST /api/v1/subjects/{id}/consents`: records consent given on paper, orally, by
/// e-mail or through another form. Giving again renews; the history keeps every step.
pub async fn give(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(subject): Path<Uuid>,
    ApiJson(body): ApiJson<NewConsent>,
) -> Result<Response, ApiError> {
    user.require(Permission::RecordConsent)?;
    let p = processing(&state, &user, trace, &headers);
    let (clearance, _) = scope(&state, &user, &p, Some(subject)).await?;
    if let Err(refusal) = clearance.check(&body.activity) {
        refuse(&state, &p, subject, std::slice::from_ref(&body.activity)).await;
        return Err(ApiError::Forbidden(refusal.to_string()));
    }
    let consent = state
        .store
        .give_consent(&p, subject, &body.activity, &body.given, body.guardian)
        .await
        .map_err(invalid)?;
    send_receipt(&state, &consent, &body.given).await;
    let location = format!("/api/v1/consents/{}", consent.id);
    let mut response = (StatusCode::CREATED, Json(consent_body(&state, consent)?)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(LOCATION, v);
    }
    Ok(response)
}

/// Queues the receipt of a consent to the one who gave it. The consent is stored first:
/// a receipt that cannot be queued is logged, and the consent stands.
async fn send_receipt(state: &AppState, consent: &Consent, given: &ConsentGiven) {
    if let Err(e) = queue_receipt(state, consent, given).await {
        tracing::error!(error = %e, consent = %consent.id, "cannot queue the consent receipt");
    }
}

async fn queue_receipt(
    state: &AppState,
    consent: &Consent,
    given: &ConsentGiven,
) -> Result<(), ApiError> {
    let (Some(to), Some(unsubscribe_url)) = (
        state.store.consent_mail_address(consent).await?,
        unsubscribe_url(state, consent)?,
    ) else {
        return Ok(());
    };
    let Some(activity) = state.store.activity(&consent.activity).await? else {
        return Ok(());
    };
    let activity = activity.value;
    let organisation = state
        .store
        .controller(&activity.controller)
        .await?
        .map(|c| c.value.name.show(given.language).to_string())
        .unwrap_or_default();
    let lang = given.language;
    let withdrawal = activity
        .consent
        .as_ref()
        .map(|t| t.withdrawal.show(lang))
        .unwrap_or_default();
    let mail = kluis_domain::consent::receipt_mail(
        to,
        given,
        &activity.id,
        kluis_domain::consent::ReceiptFacts {
            organisation: &organisation,
            purpose: activity.name.show(lang),
            withdrawal,
            unsubscribe_url,
        },
    );
    state.store.enqueue_mail(&mail, state.now()).await?;
    Ok(())
}

/// `GET /api/v1/subjects/{id}/consents`: the person's consents for the caller's purposes.
pub async fn of_subject(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(subject): Path<Uuid>,
) -> Result<Json<Vec<ConsentBody>>, ApiError> {
    let p = processing(&state, &user, trace, &headers);
    let (_, scope) = scope(&state, &user, &p, Some(subject)).await?;
    let consents = state.store.consents_of_subject(&p, subject).await?;
    consents
        .into_iter()
        .filter(|c| scope.allows(&c.activity))
        .map(|c| consent_body(&state, c))
        .collect::<Result<_, _>>()
        .map(Json)
}

/// A consent the caller may see, or 404/403 (a refusal is logged).
async fn visible_consent(
    state: &AppState,
    user: &ApiUser,
    trace: Trace,
    headers: &HeaderMap,
    id: Uuid,
) -> Result<(Consent, kluis_store::Processing), ApiError> {
    let p = processing(state, user, trace, headers);
    let (_, scope) = scope(state, user, &p, None).await?;
    let not_found = || ApiError::NotFound {
        what: "consent",
        id: id.to_string(),
    };
    let consent = state.store.consent(&p, id).await?.ok_or_else(not_found)?;
    if !scope.allows(&consent.activity) {
        refuse(
            state,
            &p,
            consent.subject_id,
            std::slice::from_ref(&consent.activity),
        )
        .await;
        return Err(ApiError::Forbidden(
            kluis_domain::access::Refusal::NotAssigned(consent.activity).to_string(),
        ));
    }
    Ok((consent, p))
}

/// `GET /api/v1/consents/{id}`: one consent with its history.
pub async fn get(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<ConsentBody>, ApiError> {
    let (consent, _) = visible_consent(&state, &user, trace, &headers, id).await?;
    Ok(Json(consent_body(&state, consent)?))
}

#[derive(Serialize)]
pub struct WithdrawalBody {
    /// False when the consent was already withdrawn: withdrawing again changes nothing.
    changed: bool,
    consent: ConsentBody,
    /// Published photos and videos showing the person for this purpose: take them down.
    take_down: Vec<super::media::MediaBody>,
}

/// `POST /api/v1/consents/{id}/withdrawal`: a staff member withdraws consent at the
/// person's request (desk, phone, letter). Idempotent.
pub async fn withdraw(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<WithdrawalBody>, ApiError> {
    user.require(Permission::RecordConsent)?;
    let (_, p) = visible_consent(&state, &user, trace, &headers, id).await?;
    let withdrawal = state
        .store
        .withdraw_consent(&p, id, WithdrawalChannel::Staff)
        .await
        .map_err(invalid)?;
    let c = &withdrawal.consent;
    let take_down =
        super::media::take_down_after_withdrawal(&state, c.subject_id, &c.activity).await?;
    Ok(Json(WithdrawalBody {
        changed: withdrawal.changed,
        consent: consent_body(&state, withdrawal.consent)?,
        take_down,
    }))
}

/// One person a consent check asks about: by e-mail address or by data subject id.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckPerson {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    subject: Option<Uuid>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// The purpose: a processing activity.
    purpose: String,
    people: Vec<CheckPerson>,
}

#[derive(Serialize)]
pub struct CheckAnswer {
    allowed: bool,
    /// `null` when the person never consented to this purpose (or is not known).
    state: Option<ConsentState>,
    #[serde(skip_serializing_if = "Option::is_none")]
    valid_until: Option<Date>,
    /// For mail sent on behalf of the purpose: the one-click unsubscribe link to put in
    /// its `List-Unsubscribe` header (RFC 8058).
    #[serde(skip_serializing_if = "Option::is_none")]
    unsubscribe_url: Option<String>,
}

#[derive(Serialize)]
pub struct CheckResponse {
    purpose: String,
    /// One answer per person asked, in the same order.
    results: Vec<CheckAnswer>,
}

fn check_person(index: usize, person: CheckPerson) -> Result<ConsentSubject, ApiError> {
    match (person.email, person.subject) {
        (Some(email), None) => email
            .parse::<EmailAddress>()
            .map(ConsentSubject::Email)
            .map_err(|e| ApiError::BadRequest(format!("people[{index}].email: {e}"))),
        (None, Some(id)) => Ok(ConsentSubject::Id(id)),
        _ => Err(ApiError::BadRequest(format!(
            "people[{index}]: give either \"email\" or \"subject\" (a data subject id), not both \
             and not neither"
        ))),
    }
}

/// The people a check asks about, or why the request is bad.
fn check_people(people: Vec<CheckPerson>) -> Result<Vec<ConsentSubject>, ApiError> {
    if people.is_empty() || people.len() > MAX_CHECK_PEOPLE {
        return Err(ApiError::BadRequest(format!(
            "ask about 1 to {MAX_CHECK_PEOPLE} people at once; this asked about {}",
            people.len()
        )));
    }
    people
        .into_iter()
        .enumerate()
        .map(|(i, p)| check_person(i, p))
        .collect()
}

/// `POST /api/v1/consent/check`: may `purpose` use these people's data now? For other
/// applications of the authority (a newsletter tool) with an `application` token assigned
/// to the purpose.
///
/// Built for many calls a second: the token, its user, the assignment, the activities'
/// revision and the first person's consent come in one query
/// ([`kluis_store::Store::check_consent_with_token`]), and whether the purpose may ask
/// consent is remembered per activities revision. Nothing about consent is cached, so a
/// withdrawal counts from the very next check, on every instance.
pub async fn check(
    State(state): State<AppState>,
    token: BearerToken,
    body: Result<ApiJson<CheckRequest>, ApiError>,
) -> Result<Json<CheckResponse>, ApiError> {
    let request = body.and_then(|ApiJson(b)| Ok((b.purpose, check_people(b.people)?)));
    let (purpose, people) = match request {
        Ok(request) => request,
        Err(bad_request) => {
            // Who may ask comes before what is wrong with the question.
            token
                .user(&state)
                .await?
                .require(Permission::CheckConsent)?;
            return Err(bad_request);
        }
    };
    let now = state.now();
    let checked = state
        .store
        .check_consent_with_token(&token.0, &purpose, &people, now)
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    ApiUser(checked.user.clone()).require(Permission::CheckConsent)?;
    // Clearance::check_consent reads only the roles and the assignment to this purpose.
    let clearance = Clearance {
        roles: checked.user.roles,
        activities: checked
            .assigned
            .then(|| purpose.clone())
            .into_iter()
            .collect(),
        confidentiality_signed_on: None,
    };
    clearance
        .check_consent(&purpose)
        .map_err(|r| ApiError::Forbidden(r.to_string()))?;
    match purpose_check(&state, &purpose, checked.activities_revision).await? {
        PurposeCheck::OnConsent => {}
        PurposeCheck::Unknown => {
            return Err(ApiError::NotFound {
                what: "processing activity",
                id: purpose,
            });
        }
        PurposeCheck::Refused(why) => return Err(ApiError::Unprocessable(why)),
    }
    let keys_available = state.store.has_keys();
    let results = checked
        .answers
        .into_iter()
        .map(|a| {
            let unsubscribe_url = match (a.allowed, a.consent_id, a.last_given_event) {
                (true, Some(id), Some(given)) if keys_available => state
                    .store
                    .unsubscribe_token(id, given, now)
                    .ok()
                    .map(|t| format!("{}/consent/unsubscribe/{t}", state.settings.public_url)),
                _ => None,
            };
            CheckAnswer {
                allowed: a.allowed,
                state: a.state,
                valid_until: a.valid_until,
                unsubscribe_url,
            }
        })
        .collect();
    Ok(Json(CheckResponse { purpose, results }))
}

/// Whether `purpose` may ask consent, as of activities revision `revision` (or later).
async fn purpose_check(
    state: &AppState,
    purpose: &str,
    revision: i64,
) -> Result<PurposeCheck, ApiError> {
    let known = state
        .consent_purposes
        .lock()
        .ok()
        .and_then(|p| p.get(revision, purpose));
    if let Some(check) = known {
        return Ok(check);
    }
    let check = match state.store.activity(purpose).await? {
        None => PurposeCheck::Unknown,
        Some(activity) => match kluis_domain::consent::check_activity(&activity.value) {
            Ok(()) => PurposeCheck::OnConsent,
            Err(e) => PurposeCheck::Refused(e.to_string()),
        },
    };
    if let Ok(mut purposes) = state.consent_purposes.lock() {
        purposes.put(revision, purpose, check.clone());
    }
    Ok(check)
}

/// `GET /api/v1/consents/{id}/iso27560`: the consent as an ISO/IEC TS 27560 consent
/// record: the notice the person saw, the purpose with its legal basis and controller,
/// the state and every event, with the person named only by the log's pseudonym.
pub async fn iso27560(
    State(state): State<AppState>,
    user: ApiUser,
    trace: Trace,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (consent, _) = visible_consent(&state, &user, trace, &headers, id).await?;
    let missing = |what: &'static str, id: &str| ApiError::NotFound {
        what,
        id: id.to_string(),
    };
    let activity = state
        .store
        .activity(&consent.activity)
        .await?
        .ok_or_else(|| missing("processing activity", &consent.activity))?
        .value;
    let controller = state
        .store
        .controller(&activity.controller)
        .await?
        .ok_or_else(|| missing("controller", &activity.controller))?
        .value;
    let pseudonym = state
        .store
        .subject_log_pseudonym(consent.subject_id)
        .await?;
    Ok(Json(iso27560_record(
        &consent,
        &activity,
        &controller,
        &pseudonym,
        state.now(),
    )))
}

fn iso27560_record(
    consent: &Consent,
    activity: &ProcessingActivity,
    controller: &kluis_domain::register::Controller,
    pseudonym: &str,
    now: OffsetDateTime,
) -> serde_json::Value {
    use serde_json::json;
    let rfc3339 = |t: OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    let last_given = consent.events.iter().rev().find_map(|e| e.given.as_ref());
    let events: Vec<_> = consent
        .events
        .iter()
        .map(|e| {
            json!({
                "event_type": e.kind,
                "event_time": rfc3339(e.at),
                "event_by": match (e.kind, e.given_by) {
                    (ConsentEventKind::Withdrawn, _) => "pii_principal",
                    (_, Some(GivenBy::Guardian)) => "guardian",
                    _ => "pii_principal",
                },
                "collection_method": e.given.as_ref().map(|g| g.method),
                "withdrawal_method": e.channel,
                "evidence": e.given.as_ref().map(|g| g.evidence.clone()),
                "recorded_by": e.actor_kind,
            })
        })
        .collect();
    let lang = last_given.map_or(Lang::Nl, |g| g.language);
    json!({
        "schema_version": "ISO/IEC TS 27560:2023",
        "record_id": consent.id,
        "record_timestamp": rfc3339(now),
        "pii_principal_id": pseudonym,
        "consent_state": consent.state,
        "valid_until": consent.valid_until,
        "notice": last_given.map(|g| json!({
            "notice_text": g.notice_text,
            "language": g.language,
            "privacy_statement_version": g.statement_version,
        })),
        "purposes": [{
            "processing_activity": activity.id,
            "purpose": activity.purposes.iter().map(|p| p.show(lang).to_string()).collect::<Vec<_>>(),
            "legal_basis": "eu-gdpr:A6-1-a",
            "explicit": activity.consent.as_ref().is_some_and(|t| t.explicit),
            "pii_categories": activity.data_categories,
        }],
        "pii_controllers": [{
            "id": controller.id,
            "name": controller.name.show(lang),
            "contact": controller.dpo.email,
        }],
        "jurisdiction": controller.address.country,
        "delegation": consent.events.iter().rev().find_map(|e| e.guardian).map(|g| json!({
            "by": "guardian",
            "guardian_subject_id": g,
        })),
        "events": events,
    })
}
