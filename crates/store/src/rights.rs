//! Data-subject rights requests: intake with a receipt, the secret status link, the
//! timeline, identity documents (sealed, destroyed on closing), deadlines and decisions.
//!
//! Every change goes through the domain's state machine ([`rights::next_stage`]) inside one
//! transaction with an optimistic version check, and adds a step to the timeline.

use kluis_domain::mail::OutgoingMail;
use kluis_domain::register::{Controller, ProcessingActivity};
use kluis_domain::rights::{
    self, Decision, DpvRequestStatus, Notice, RequestChannel, Requester, ResponseDeadline, Right,
    Stage, Step, Urgency,
};
use kluis_domain::text::Lang;
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::error::stale;
use crate::mail::enqueue_mail;
use crate::{Store, StoreError, fill_random, new_id, timestamp};

/// A request as it is filed, by the portal or by staff.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub controller: String,
    pub rights: Vec<Right>,
    pub channel: RequestChannel,
    pub requester: Requester,
    /// The language to answer in.
    pub language: Lang,
    /// When the request reached the authority (a letter may be registered days later).
    pub received_on: Date,
}

/// What the requester is given once the request is filed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FiledRequest {
    pub id: Uuid,
    /// Quoted in every letter; random, so it says nothing about other requests.
    pub reference: String,
    /// The secret of the status link, shown once: only its hash is kept.
    pub status_token: String,
    pub due_on: Date,
}

/// What the status link shows: no personal data, nothing about other requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicStatus {
    pub reference: String,
    pub rights: Vec<Right>,
    pub stage: Stage,
    pub status: DpvRequestStatus,
    pub received_on: Date,
    pub due_on: Date,
    pub extended: bool,
}

/// A request for staff, with its personal data.
#[derive(Debug, Clone, PartialEq)]
pub struct RightsRequest {
    pub id: Uuid,
    pub reference: String,
    pub controller: String,
    pub rights: Vec<Right>,
    pub channel: RequestChannel,
    pub stage: Stage,
    pub status: DpvRequestStatus,
    pub deadline: ResponseDeadline,
    pub requester: Requester,
    pub language: Lang,
    /// The data subject in the vault, once the caseworker matched the identity.
    pub subject_id: Option<Uuid>,
    /// The username of the caseworker who handles it and gets the daily reminders.
    pub assignee: Option<String>,
    pub decisions: Vec<Decision>,
    pub fulfilled: bool,
    pub version: i64,
    pub timeline: Vec<RequestStep>,
    pub documents: Vec<IdentityDocument>,
}

impl RightsRequest {
    /// Whether any decision grants something.
    pub fn grants(&self) -> bool {
        self.decisions.iter().any(Decision::grants)
    }
}

/// One line of a request in a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSummary {
    pub id: Uuid,
    pub reference: String,
    pub controller: String,
    pub rights: Vec<Right>,
    pub stage: Stage,
    pub received_on: Date,
    pub due_on: Date,
    pub urgency: Urgency,
    /// The username of the caseworker who handles it.
    pub assignee: Option<String>,
}

/// Which requests a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RequestFilter {
    /// Every request not yet closed.
    #[default]
    Open,
    /// Open and past the deadline.
    Overdue,
    /// Open and due within [`rights::DUE_SOON_DAYS`] days (or overdue).
    DueSoon,
    /// Every request, closed ones too.
    All,
}

/// A step of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStep {
    pub seq: i64,
    pub at: OffsetDateTime,
    /// What happened, e.g. `received`, `identity_verified`, `deadline_extended`.
    pub step: String,
    /// Where the request stood after it.
    pub stage: Stage,
    /// Who did it: a staff member's username, `requester` or `kluis`.
    pub actor: String,
    pub note: Option<String>,
}

/// An uploaded proof of identity; its content is gone once `destroyed_at` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocument {
    pub id: Uuid,
    pub media_type: String,
    pub size: i64,
    pub uploaded_at: OffsetDateTime,
    pub destroyed_at: Option<OffsetDateTime>,
}

/// A change staff make to a request.
#[derive(Debug, Clone, PartialEq)]
pub enum RequestChange {
    /// Ask the requester for more proof of identity; the note says what.
    RequestIdentity { note: String },
    /// The identity is verified; optionally the data subject in the vault it matches.
    VerifyIdentity { subject_id: Option<Uuid> },
    /// Decisions on every right asked (replacing earlier ones until fulfilment).
    Decide { decisions: Vec<Decision> },
    /// What was granted has been carried out; the note says what was done.
    Fulfil { note: String },
    /// The closing letter went out.
    Close { note: String },
    /// More time, told to the person (art. 12(3)).
    Extend {
        months: u8,
        reason: String,
        told_on: Date,
    },
}

/// Largest identity document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// The columns of a request, in the order [`RequestRow`] reads them.
const REQUEST_COLUMNS: &str = "id, reference, controller_id, rights, channel, stage, deadline, \
     requester, language, subject_id, decisions, fulfilled, version, \
     (SELECT username FROM users WHERE users.id = assigned_to)";

type RequestRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    String,
    Vec<u8>,
    String,
    Option<Uuid>,
    String,
    bool,
    i64,
    Option<String>,
);

/// The columns of a request in a list, as [`summary_from_row`] reads them.
type SummaryRow = (Uuid, String, String, String, String, String, Option<String>);

fn summary_from_row(row: SummaryRow, today: Date) -> Result<RequestSummary, StoreError> {
    let (id, reference, controller, asked, stage, deadline, assignee) = row;
    let deadline: ResponseDeadline = from_json("deadline", &deadline)?;
    Ok(RequestSummary {
        id,
        reference,
        controller,
        rights: from_json("rights", &asked)?,
        stage: parse("request stage", &stage)?,
        received_on: deadline.received_on,
        due_on: deadline.due_on(),
        urgency: deadline.urgency(today),
        assignee,
    })
}

/// Additional data bound to a sealed requester, so an envelope cannot be moved to another
/// request.
fn requester_aad(id: Uuid) -> Vec<u8> {
    [b"kluis rights request ".as_slice(), id.as_bytes()].concat()
}

fn document_aad(id: Uuid) -> Vec<u8> {
    [b"kluis identity document ".as_slice(), id.as_bytes()].concat()
}

/// A reference such as `RQ-7K3M-Q9XD-2B`: 60 random bits in Crockford's base 32 (no I, L,
/// O, U), easy to read out on the phone.
fn new_reference() -> Result<String, StoreError> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = [0u8; 8];
    fill_random(&mut bytes)?;
    let mut n = u64::from_le_bytes(bytes);
    let mut chars = String::with_capacity(12);
    for _ in 0..12 {
        chars.push(ALPHABET[(n & 31) as usize] as char);
        n >>= 5;
    }
    Ok(format!(
        "RQ-{}-{}-{}",
        &chars[0..4],
        &chars[4..8],
        &chars[8..12]
    ))
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("unknown {what} '{value}'")))
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> Result<T, StoreError> {
    serde_json::from_str(value).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Adds a step to the timeline of the request whose id is `$id`, inside `$tx`.
macro_rules! add_step {
    ($tx:ident, $id:expr, $now:expr, $step:expr, $stage:expr, $actor:expr, $note:expr) => {{
        let seq: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM rights_request_steps WHERE request_id = $1",
        )
        .bind($id)
        .fetch_one(&mut *$tx)
        .await?;
        let note: Option<&str> = $note;
        sqlx::query(
            "INSERT INTO rights_request_steps (request_id, seq, at, step, stage, actor, note) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind($id)
        .bind(seq)
        .bind($now)
        .bind($step)
        .bind(Stage::name($stage))
        .bind($actor)
        .bind(note)
        .execute(&mut *$tx)
        .await?;
    }};
}

mod assignment;
mod letter;
mod rectification;
mod transmission;
pub use assignment::{Reminder, ReminderRun};
pub use rectification::{RectificationInSystem, RowValue, SystemRectification};
pub use transmission::{Transmission, TransmissionOutcome};

impl Store {
    /// Files a request: checks it, seals what identifies the requester, computes the
    /// deadline from the controller's country, and sends the receipt (`receipt`, queued in
    /// the same transaction) so the request is acknowledged at once.
    pub async fn file_request(
        &self,
        new: &NewRequest,
        receipt: impl FnOnce(&FiledRequest) -> Option<OutgoingMail>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<FiledRequest, StoreError> {
        let now = timestamp(now);
        rights::check_request(&new.rights, &new.requester, now.date())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if new.received_on > now.date() {
            return Err(StoreError::Invalid(format!(
                "a request cannot be received on {}, after today",
                new.received_on
            )));
        }
        let mut asked = new.rights.clone();
        asked.sort();
        asked.dedup();
        let keys = self.keys()?;
        let id = new_id(now)?;
        let sealed = keys
            .encrypt(&requester_aad(id), to_json(&new.requester)?.as_bytes())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut secret = [0u8; 32];
        fill_random(&mut secret)?;
        let status_token = hex::encode(secret);
        let reference = new_reference()?;
        write_transaction!(self, |tx| {
            let controller: Option<Json<Controller>> =
                sqlx::query_scalar("SELECT document FROM controllers WHERE id = $1")
                    .bind(&new.controller)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(Json(controller)) = controller else {
                return Err(StoreError::NotFound {
                    what: "controller",
                    id: new.controller.clone(),
                });
            };
            let deadline = ResponseDeadline::new(new.received_on, controller.address.country)
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            sqlx::query(
                "INSERT INTO rights_requests (id, reference, status_token_hash, controller_id, \
                 rights, channel, stage, received_on, due_on, deadline, requester, language, \
                 subject_id, decisions, fulfilled, version, created_at, updated_at, closed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL, '[]', FALSE, \
                 1, $13, $13, NULL)",
            )
            .bind(id)
            .bind(&reference)
            .bind(token_hash(&status_token))
            .bind(&new.controller)
            .bind(to_json(&asked)?)
            .bind(new.channel.name())
            .bind(Stage::Acknowledged.name())
            .bind(new.received_on)
            .bind(deadline.due_on())
            .bind(to_json(&deadline)?)
            .bind(&sealed)
            .bind(new.language.code())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            add_step!(
                tx,
                id,
                now,
                "received",
                Stage::Received,
                actor,
                Some(new.channel.name())
            );
            let filed = FiledRequest {
                id,
                reference: reference.clone(),
                status_token: status_token.clone(),
                due_on: deadline.due_on(),
            };
            let note = match receipt(&filed) {
                Some(mail) => {
                    enqueue_mail!(tx, &mail, now);
                    "receipt shown and mailed"
                }
                None => "receipt shown",
            };
            add_step!(
                tx,
                id,
                now,
                "acknowledged",
                Stage::Acknowledged,
                "kluis",
                Some(note)
            );
            Ok::<_, StoreError>(filed)
        })
    }

    /// What the secret status link shows, or None for a link that is not one (whether it
    /// never existed or was mistyped looks the same).
    pub async fn request_status(&self, token: &str) -> Result<Option<PublicStatus>, StoreError> {
        if token.len() != 64 {
            return Ok(None);
        }
        let row: Option<(String, String, String, String, String, bool)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT reference, rights, stage, deadline, decisions, fulfilled \
                 FROM rights_requests WHERE status_token_hash = $1",
            )
            .bind(token_hash(token))
            .fetch_optional(pool)
            .await?
        });
        let Some((reference, asked, stage, deadline, decisions, fulfilled)) = row else {
            return Ok(None);
        };
        let stage: Stage = parse("request stage", &stage)?;
        let deadline: ResponseDeadline = from_json("deadline", &deadline)?;
        let decisions: Vec<Decision> = from_json("decisions", &decisions)?;
        let grants = decisions.iter().any(Decision::grants);
        Ok(Some(PublicStatus {
            reference,
            rights: from_json("rights", &asked)?,
            stage,
            status: rights::dpv_status(stage, grants, fulfilled),
            received_on: deadline.received_on,
            due_on: deadline.due_on(),
            extended: deadline.extension.is_some(),
        }))
    }

    /// A request with its personal data, timeline and documents.
    pub async fn rights_request(&self, id: Uuid) -> Result<RightsRequest, StoreError> {
        let (row, steps, documents) = read_transaction!(self, |tx| {
            let row: Option<RequestRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {REQUEST_COLUMNS} FROM rights_requests WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let steps: Vec<(i64, OffsetDateTime, String, String, String, Option<String>)> =
                sqlx::query_as(
                    "SELECT seq, at, step, stage, actor, note FROM rights_request_steps \
                     WHERE request_id = $1 ORDER BY seq",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            let documents: Vec<(Uuid, String, i64, OffsetDateTime, Option<OffsetDateTime>)> =
                sqlx::query_as(
                    "SELECT id, media_type, size, uploaded_at, destroyed_at \
                     FROM rights_request_documents WHERE request_id = $1 ORDER BY uploaded_at, id",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
            (row, steps, documents)
        });
        let row = row.ok_or_else(|| StoreError::NotFound {
            what: "rights request",
            id: id.to_string(),
        })?;
        let mut request = self.request_from_row(row)?;
        request.timeline = steps
            .into_iter()
            .map(|(seq, at, step, stage, actor, note)| {
                Ok(RequestStep {
                    seq,
                    at,
                    step,
                    stage: parse("request stage", &stage)?,
                    actor,
                    note,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        request.documents = documents
            .into_iter()
            .map(
                |(id, media_type, size, uploaded_at, destroyed_at)| IdentityDocument {
                    id,
                    media_type,
                    size,
                    uploaded_at,
                    destroyed_at,
                },
            )
            .collect();
        Ok(request)
    }

    /// The request with this reference, for staff who were given it in a letter.
    pub async fn rights_request_by_reference(
        &self,
        reference: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM rights_requests WHERE reference = $1")
                .bind(reference.trim().to_uppercase())
                .fetch_optional(pool)
                .await?
        }))
    }

    /// Requests by `filter`, those due first.
    pub async fn rights_requests(
        &self,
        filter: RequestFilter,
        today: Date,
    ) -> Result<Vec<RequestSummary>, StoreError> {
        let (condition, bound) = match filter {
            RequestFilter::Open => ("stage <> 'closed'", None),
            RequestFilter::Overdue => ("stage <> 'closed' AND due_on < $1", Some(today)),
            RequestFilter::DueSoon => (
                "stage <> 'closed' AND due_on <= $1",
                Some(today + time::Duration::days(rights::DUE_SOON_DAYS)),
            ),
            RequestFilter::All => ("TRUE", None),
        };
        let sql = format!(
            "SELECT id, reference, controller_id, rights, stage, deadline, \
             (SELECT username FROM users WHERE users.id = assigned_to) FROM rights_requests \
             WHERE {condition} ORDER BY due_on, reference"
        );
        let rows: Vec<SummaryRow> = on_pool!(self, |pool| {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()));
            if let Some(day) = bound {
                query = query.bind(day);
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter()
            .map(|row| summary_from_row(row, today))
            .collect()
    }

    /// Applies `change` to the request at version `expected_version`, as `actor`.
    ///
    /// Refused, changing nothing, when the state machine does not allow it, when the
    /// decisions are incomplete or unmotivated, or when someone else changed the request
    /// first. Closing destroys the identity documents' content.
    pub async fn change_request(
        &self,
        id: Uuid,
        expected_version: i64,
        change: &RequestChange,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RightsRequest, StoreError> {
        let now = timestamp(now);
        write_transaction!(self, |tx| {
            let row: Option<RequestRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {REQUEST_COLUMNS} FROM rights_requests WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Err(stale(
                    "rights request",
                    &id.to_string(),
                    expected_version,
                    None,
                ));
            };
            let mut request = self.request_from_row(row)?;
            if request.version != expected_version {
                return Err(stale(
                    "rights request",
                    &id.to_string(),
                    expected_version,
                    Some(request.version),
                ));
            }
            let (step_name, note) = match change {
                RequestChange::Extend {
                    months,
                    reason,
                    told_on,
                } => {
                    if request.stage == Stage::Closed {
                        return Err(StoreError::Invalid(
                            "a closed request does not change".into(),
                        ));
                    }
                    request.deadline = request
                        .deadline
                        .extend(*months, reason, *told_on)
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    ("deadline_extended", Some(reason.clone()))
                }
                other => {
                    let (step, note) = match other {
                        RequestChange::RequestIdentity { note } => {
                            (Step::RequestIdentity, Some(note.clone()))
                        }
                        RequestChange::VerifyIdentity { subject_id } => {
                            request.subject_id = *subject_id;
                            (Step::VerifyIdentity, None)
                        }
                        RequestChange::Decide { decisions } => {
                            rights::check_decisions(&request.rights, decisions)
                                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                            for d in decisions {
                                let owner: Option<String> = sqlx::query_scalar(
                                    "SELECT controller_id FROM activities WHERE id = $1",
                                )
                                .bind(&d.activity)
                                .fetch_optional(&mut *tx)
                                .await?;
                                if owner.as_deref() != Some(request.controller.as_str()) {
                                    return Err(StoreError::Invalid(format!(
                                        "'{}' is not a processing activity of {}",
                                        d.activity, request.controller
                                    )));
                                }
                            }
                            request.decisions = decisions.clone();
                            (Step::Decide, None)
                        }
                        RequestChange::Fulfil { note } => {
                            // Nothing is reported done that was not done: the request is
                            // fulfilled only by a fulfilment run whose every action is done.
                            let (planned, open): (i64, i64) = sqlx::query_as(
                                "SELECT count(*), \
                                 coalesce(sum(CASE WHEN status = 'done' THEN 0 ELSE 1 END), 0) \
                                 FROM rights_request_actions WHERE request_id = $1",
                            )
                            .bind(id)
                            .fetch_one(&mut *tx)
                            .await?;
                            if request.grants() && (planned == 0 || open > 0) {
                                return Err(StoreError::Invalid(format!(
                                    "{} carry it out first: run the fulfilment (kluis request \
                                     fulfil, or POST /api/v1/rights-requests/{{id}}/fulfilment) \
                                     and confirm what was done by hand with a note",
                                    if planned == 0 {
                                        "nothing of this request has been carried out yet:"
                                            .to_string()
                                    } else {
                                        format!("{open} of its {planned} actions are not done:")
                                    }
                                )));
                            }
                            (Step::Fulfil, Some(note.clone()))
                        }
                        RequestChange::Close { note } => {
                            // Art. 19: every recipient is told of a rectification, erasure
                            // or restriction before the request closes.
                            let untold =
                                crate::fulfilment::untold_recipients!(tx, id, &request.decisions);
                            if !untold.is_empty() && request.stage == Stage::Fulfilled {
                                return Err(StoreError::Invalid(format!(
                                    "tell the recipients of the data first (GDPR art. 19): {} \
                                     not told yet; record each with `kluis request told` or \
                                     POST /api/v1/rights-requests/{{id}}/recipients-told",
                                    untold.into_iter().collect::<Vec<_>>().join(", ")
                                )));
                            }
                            (Step::Close, Some(note.clone()))
                        }
                        RequestChange::Extend { .. } => unreachable!("handled above"),
                    };
                    request.stage = rights::next_stage(request.stage, &step, request.grants())
                        .map_err(|e| StoreError::Invalid(e.to_string()))?;
                    if step == Step::Fulfil {
                        request.fulfilled = true;
                    }
                    (step_label(&step), note)
                }
            };
            request.version += 1;
            request.status = rights::dpv_status(request.stage, request.grants(), request.fulfilled);
            let closed_at = (request.stage == Stage::Closed).then_some(now);
            sqlx::query(
                "UPDATE rights_requests SET stage = $2, due_on = $3, deadline = $4, \
                 subject_id = $5, decisions = $6, fulfilled = $7, version = $8, \
                 updated_at = $9, closed_at = $10 WHERE id = $1",
            )
            .bind(id)
            .bind(request.stage.name())
            .bind(request.deadline.due_on())
            .bind(to_json(&request.deadline)?)
            .bind(request.subject_id)
            .bind(to_json(&request.decisions)?)
            .bind(request.fulfilled)
            .bind(request.version)
            .bind(now)
            .bind(closed_at)
            .execute(&mut *tx)
            .await?;
            add_step!(
                tx,
                id,
                now,
                step_name,
                request.stage,
                actor,
                note.as_deref()
            );
            // An extension and a request for proof of identity are told to the person,
            // with the change itself: telling is part of the step (art. 12(3), 12(6)).
            let notice = match change {
                RequestChange::Extend { months, reason, .. } => Some(Notice::Extension {
                    months: *months,
                    reason,
                    due_on: request.deadline.due_on(),
                }),
                RequestChange::RequestIdentity { note } => Some(Notice::IdentityRequested { note }),
                _ => None,
            };
            // The closing letter carries every decision, or, closed without any (an identity
            // never proven), the reason no action was taken (art. 12(4)).
            let closing = match change {
                RequestChange::Close { note } => Some(note.as_str()),
                _ => None,
            };
            if (notice.is_some() || closing.is_some()) && request.requester.email.is_none() {
                // No mail address: staff print the letter and post it.
                let what = format!(
                    "the person has no e-mail address: print the letter (kluis request \
                     letter {}) and post it",
                    request.reference
                );
                add_step!(
                    tx,
                    id,
                    now,
                    "letter_to_post",
                    request.stage,
                    "kluis",
                    Some(what.as_str())
                );
            }
            if let (true, Some(to)) = (
                notice.is_some() || closing.is_some(),
                request.requester.email.clone(),
            ) {
                let controller: Option<Json<Controller>> =
                    sqlx::query_scalar("SELECT document FROM controllers WHERE id = $1")
                        .bind(&request.controller)
                        .fetch_optional(&mut *tx)
                        .await?;
                let (organisation, authorities) = match controller {
                    Some(Json(c)) => (
                        c.name.show(request.language).to_string(),
                        c.supervisory_authorities,
                    ),
                    None => (request.controller.clone(), Vec::new()),
                };
                let mail = match notice {
                    Some(notice) => rights::notice_letter(
                        request.language,
                        &organisation,
                        &request.reference,
                        &notice,
                    )
                    .mail(to),
                    None => {
                        let activities: Vec<Json<ProcessingActivity>> = sqlx::query_scalar(
                            "SELECT document FROM activities WHERE controller_id = $1",
                        )
                        .bind(&request.controller)
                        .fetch_all(&mut *tx)
                        .await?;
                        let name = |id: &str| {
                            activities.iter().find(|a| a.0.id == id).map_or_else(
                                || id.to_string(),
                                |a| a.0.name.show(request.language).to_string(),
                            )
                        };
                        rights::closing_letter(
                            request.language,
                            &rights::Closing {
                                organisation: &organisation,
                                reference: &request.reference,
                                decisions: &request.decisions,
                                note: closing.unwrap_or_default(),
                                authorities: &authorities,
                            },
                            name,
                        )
                        .mail(to)
                    }
                };
                enqueue_mail!(tx, &mail, now);
                add_step!(
                    tx,
                    id,
                    now,
                    "requester_told",
                    request.stage,
                    "kluis",
                    Some(mail.subject.as_str())
                );
            }
            if request.stage == Stage::Closed {
                let destroyed = sqlx::query(
                    "UPDATE rights_request_documents SET sealed = NULL, destroyed_at = $2 \
                     WHERE request_id = $1 AND destroyed_at IS NULL",
                )
                .bind(id)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if destroyed > 0 {
                    let note = format!("{destroyed} identity document(s) destroyed");
                    add_step!(
                        tx,
                        id,
                        now,
                        "identity_documents_destroyed",
                        Stage::Closed,
                        "kluis",
                        Some(note.as_str())
                    );
                }
            }
            Ok::<_, StoreError>(())
        })?;
        self.rights_request(id).await
    }

    /// Keeps an uploaded proof of identity, sealed, until the request closes. The caller
    /// checked the content type by sniffing; this checks size and the request's stage.
    pub async fn attach_identity_document(
        &self,
        request_id: Uuid,
        media_type: &str,
        content: &[u8],
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        if content.is_empty() || content.len() > MAX_DOCUMENT_BYTES {
            return Err(StoreError::Invalid(format!(
                "an identity document is 1 byte to {} MiB; this one is {} bytes",
                MAX_DOCUMENT_BYTES / 1024 / 1024,
                content.len()
            )));
        }
        let now = timestamp(now);
        let id = new_id(now)?;
        let sealed = self
            .keys()?
            .encrypt(&document_aad(id), content)
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        write_transaction!(self, |tx| {
            let stage: Option<String> =
                sqlx::query_scalar("SELECT stage FROM rights_requests WHERE id = $1")
                    .bind(request_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            let stage: Stage = match stage {
                Some(s) => parse("request stage", &s)?,
                None => {
                    return Err(StoreError::NotFound {
                        what: "rights request",
                        id: request_id.to_string(),
                    });
                }
            };
            if stage == Stage::Closed {
                return Err(StoreError::Invalid(
                    "the request is closed: it takes no more documents".into(),
                ));
            }
            sqlx::query(
                "INSERT INTO rights_request_documents (id, request_id, media_type, size, sealed, \
                 uploaded_at, destroyed_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)",
            )
            .bind(id)
            .bind(request_id)
            .bind(media_type)
            .bind(content.len() as i64)
            .bind(&sealed)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            add_step!(
                tx,
                request_id,
                now,
                "identity_document_added",
                stage,
                actor,
                Some(media_type)
            );
            Ok::<_, StoreError>(())
        })?;
        Ok(id)
    }

    /// The content of an identity document, for the caseworker comparing it with the
    /// inventory; None once destroyed. Every look is written to the request's timeline.
    pub async fn identity_document(
        &self,
        request_id: Uuid,
        document_id: Uuid,
        viewer: &str,
        now: OffsetDateTime,
    ) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let now = timestamp(now);
        let row = write_transaction!(self, |tx| {
            let row: Option<(String, Option<Vec<u8>>, String)> = sqlx::query_as(
                "SELECT d.media_type, d.sealed, r.stage FROM rights_request_documents d \
                 JOIN rights_requests r ON r.id = d.request_id \
                 WHERE d.id = $1 AND d.request_id = $2",
            )
            .bind(document_id)
            .bind(request_id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((_, Some(_), stage)) = &row {
                let stage: Stage = parse("request stage", stage)?;
                add_step!(
                    tx,
                    request_id,
                    now,
                    "identity_document_viewed",
                    stage,
                    viewer,
                    None
                );
            }
            Ok::<_, StoreError>(row)
        })?;
        let Some((media_type, Some(sealed), _)) = row else {
            return Ok(None);
        };
        let content = self
            .keys()?
            .decrypt(&document_aad(document_id), &sealed)
            .map_err(|e| StoreError::Corrupt(format!("identity document: {e}")))?;
        Ok(Some((media_type, content)))
    }

    fn request_from_row(&self, row: RequestRow) -> Result<RightsRequest, StoreError> {
        let (
            id,
            reference,
            controller,
            asked,
            channel,
            stage,
            deadline,
            sealed,
            language,
            subject_id,
            decisions,
            fulfilled,
            version,
            assignee,
        ) = row;
        let requester = self
            .keys()?
            .decrypt(&requester_aad(id), &sealed)
            .map_err(|e| StoreError::Corrupt(format!("rights request {reference}: {e}")))?;
        let stage: Stage = parse("request stage", &stage)?;
        let decisions: Vec<Decision> = from_json("decisions", &decisions)?;
        let grants = decisions.iter().any(Decision::grants);
        Ok(RightsRequest {
            id,
            reference,
            controller,
            rights: from_json("rights", &asked)?,
            channel: parse("request channel", &channel)?,
            stage,
            status: rights::dpv_status(stage, grants, fulfilled),
            deadline: from_json("deadline", &deadline)?,
            requester: serde_json::from_slice(&requester)
                .map_err(|e| StoreError::Corrupt(format!("requester: {e}")))?,
            language: parse("language", &language)?,
            subject_id,
            assignee,
            decisions,
            fulfilled,
            version,
            timeline: Vec::new(),
            documents: Vec::new(),
        })
    }
}

/// The timeline's name for a step.
fn step_label(step: &Step) -> &'static str {
    match step {
        Step::Acknowledge => "acknowledged",
        Step::RequestIdentity => "identity_requested",
        Step::VerifyIdentity => "identity_verified",
        Step::Decide => "decided",
        Step::Fulfil => "fulfilled",
        Step::Close => "closed",
    }
}
