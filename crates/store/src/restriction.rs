//! Restriction of processing (GDPR art. 18), objections (art. 21) and rectification or
//! completion (art. 16) of records in the vault, each done at the rights request that asked
//! for it, named by its reference.
//!
//! A restriction and an objection hold per data subject and processing activity: that is
//! how a request is decided (one decision per right and activity), and it covers every
//! record of the person under the activity, also one stored while it holds. Erasing records
//! leaves a restriction in place; deleting the subject removes it.
//!
//! How the vault enforces them (see `vault.rs`):
//! - a restricted record is only stored: views of the person show it as restricted, with its
//!   category and the request, but not its fields, and log that refusal; `change_record` is
//!   refused. Storing a new record under a restriction is allowed (it is storage) and the new
//!   record is restricted at once. Erasure stays possible.
//! - an objection without compelling grounds stops processing of the person under that
//!   activity: `add_record` and `change_record` are refused, and the refusal is logged.
//! - [`Store::rectify_record`] is the one change allowed on a restricted record, and only for
//!   the request that asked for the restriction: art. 18(1)(a) restricts processing while
//!   the accuracy the person contests is verified, and the rectification is how that ends.
//!   It is allowed under an objection: correcting the data is the person's own right (art.
//!   16), not processing for the purpose they objected to.
//!
//! The functions below are what a fulfilment orchestrator calls; each returns a small report
//! to store with the request, and each is idempotent for the same request, so a fulfilment
//! that stopped halfway can be run again.

use std::collections::BTreeMap;

use kluis_domain::inventory::{MAX_FIELDS, MAX_FIELDS_BYTES};
use kluis_domain::processing_log::LogAction;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::{RECORD_COLUMNS, RecordRow, load_activity, record_from_row};
use crate::{Store, StoreError, new_id, timestamp};

/// The restriction a record is under, as views show it instead of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordRestriction {
    /// The rights request that asked for it.
    pub request_reference: String,
    pub since: OffsetDateTime,
}

/// A restriction of processing of one person's data under one activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Restriction {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub activity: String,
    pub request_reference: String,
    pub since: OffsetDateTime,
    pub restricted_by: String,
    /// When the person was told the restriction would be lifted (art. 18(3)).
    pub told_on: Option<Date>,
    pub lifted_at: Option<OffsetDateTime>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

/// An objection of one person to processing under one activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Objection {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub activity: String,
    pub request_reference: String,
    pub recorded_at: OffsetDateTime,
    pub recorded_by: String,
    /// The compelling legitimate grounds that override the objection (art. 21(1)); while
    /// there are none, the objection stops processing.
    pub compelling_grounds: Option<String>,
    pub grounds_recorded_at: Option<OffsetDateTime>,
    pub grounds_recorded_by: Option<String>,
}

impl Objection {
    /// Whether the objection stops processing: no compelling grounds were recorded.
    pub fn in_force(&self) -> bool {
        self.compelling_grounds.is_none()
    }
}

/// What [`Store::restrict`] or [`Store::lift_restriction`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RestrictionReport {
    pub restriction: Restriction,
    /// False when the restriction was already in force (asked again, or by another request:
    /// then `restriction.request_reference` names the request that did).
    pub changed: bool,
    /// The person's records under the activity that the restriction covers.
    pub records: u64,
}

/// What [`Store::record_objection`] or [`Store::record_compelling_grounds`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectionReport {
    pub objection: Objection,
    /// False when the same request's objection (or grounds) had been recorded already.
    pub changed: bool,
    /// The person's records under the activity whose processing the objection stops (0
    /// when compelling grounds let processing continue).
    pub records: u64,
}

/// One field's value before and after a rectification; `old` is `None` for a completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub old: Option<Value>,
    pub new: Value,
}

/// What [`Store::rectify_record`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RectificationReport {
    pub record_id: Uuid,
    pub subject_id: Uuid,
    pub activity: String,
    pub request_reference: String,
    /// Fields whose value was replaced (rectification).
    pub rectified: Vec<String>,
    /// Fields the record did not have (completion).
    pub completed: Vec<String>,
    /// Fields that already held the value asked: left alone (a run repeated).
    pub unchanged: Vec<String>,
    /// The record's version after the change.
    pub record_version: i64,
}

impl RectificationReport {
    /// How many records were changed: 1, or 0 when every value was already right.
    pub fn records_affected(&self) -> u64 {
        u64::from(!self.rectified.is_empty() || !self.completed.is_empty())
    }
}

/// A rectification as kept for its request: old and new values, unsealed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rectification {
    pub id: Uuid,
    pub record_id: Uuid,
    pub request_reference: String,
    pub changes: BTreeMap<String, FieldChange>,
    pub rectified_at: OffsetDateTime,
    pub rectified_by: String,
}

/// The restriction in force on a person's data under an activity, if any:
/// (request reference, since). `$exec` is a pool or `&mut *tx`.
macro_rules! restriction_in_force {
    ($exec:expr, $subject:expr, $activity:expr) => {{
        let found: Option<(String, time::OffsetDateTime)> = sqlx::query_as(
            "SELECT request_reference, since FROM restrictions \
             WHERE subject_id = $1 AND activity_id = $2 AND lifted_at IS NULL",
        )
        .bind($subject)
        .bind($activity)
        .fetch_optional($exec)
        .await?;
        found
    }};
}

/// The reference of the earliest objection in force to processing a person's data under
/// an activity, if any. `$exec` is a pool or `&mut *tx`.
macro_rules! objection_in_force {
    ($exec:expr, $subject:expr, $activity:expr) => {{
        let found: Option<String> = sqlx::query_scalar(
            "SELECT request_reference FROM objections WHERE subject_id = $1 \
             AND activity_id = $2 AND compelling_grounds IS NULL ORDER BY recorded_at LIMIT 1",
        )
        .bind($subject)
        .bind($activity)
        .fetch_optional($exec)
        .await?;
        found
    }};
}

/// Checks that the rights request `$reference` is open and about data subject `$subject`,
/// so nobody restricts or changes a person's data on someone else's request. Evaluates to
/// (the reference as stored, the controller the request was made to).
macro_rules! request_about {
    ($exec:expr, $reference:expr, $subject:expr) => {{
        let reference: String = $crate::restriction::normalise_reference($reference)?;
        let subject: uuid::Uuid = $subject;
        let row: Option<(Option<uuid::Uuid>, String, String)> = sqlx::query_as(
            "SELECT subject_id, stage, controller_id FROM rights_requests WHERE reference = $1",
        )
        .bind(&reference)
        .fetch_optional($exec)
        .await?;
        let (about, stage, controller) = row.ok_or_else(|| StoreError::NotFound {
            what: "rights request",
            id: reference.clone(),
        })?;
        if stage == "closed" {
            return Err(StoreError::Invalid(format!(
                "request {reference} is closed: a closed request does not change anyone's \
                 data; file a new request"
            )));
        }
        match about {
            Some(id) if id == subject => {}
            Some(_) => {
                return Err(StoreError::Invalid(format!(
                    "request {reference} is about another data subject than {subject}: use \
                     the request of this person"
                )));
            }
            None => {
                return Err(StoreError::Invalid(format!(
                    "request {reference} is not linked to a data subject in the vault: verify \
                     the requester's identity with the subject (kluis request verify \
                     {reference} --subject {subject}) first"
                )));
            }
        }
        (reference, controller)
    }};
}

/// Refuses acting under a request on an activity of another controller than the one the
/// request was made to.
fn same_controller(
    reference: &str,
    controller: &str,
    activity: &kluis_domain::register::ProcessingActivity,
) -> Result<(), StoreError> {
    if activity.controller != controller {
        return Err(StoreError::Invalid(format!(
            "request {reference} was made to {controller}, but processing activity '{}' is \
             {}'s: each controller handles the requests made to it",
            activity.id, activity.controller
        )));
    }
    Ok(())
}

pub(crate) use {objection_in_force, request_about, restriction_in_force};

/// A request reference as stored: trimmed, upper case.
pub(crate) fn normalise_reference(reference: &str) -> Result<String, StoreError> {
    let reference = reference.trim().to_uppercase();
    if reference.is_empty() {
        return Err(StoreError::Invalid(
            "name the rights request that asks for this by its reference".into(),
        ));
    }
    Ok(reference)
}

/// The associated data binding a rectification's sealed values to its row.
fn rectification_aad(id: Uuid) -> Vec<u8> {
    format!("rectifications/sealed/{id}").into_bytes()
}

type RestrictionRow = (
    Uuid,
    Uuid,
    String,
    String,
    OffsetDateTime,
    String,
    Option<Date>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
);

const RESTRICTION_COLUMNS: &str = "id, subject_id, activity_id, request_reference, since, \
     restricted_by, told_on, lifted_at, lifted_by, lift_reason FROM restrictions";

fn restriction_from_row(row: RestrictionRow) -> Restriction {
    let (
        id,
        subject_id,
        activity,
        request_reference,
        since,
        restricted_by,
        told_on,
        lifted_at,
        lifted_by,
        lift_reason,
    ) = row;
    Restriction {
        id,
        subject_id,
        activity,
        request_reference,
        since,
        restricted_by,
        told_on,
        lifted_at,
        lifted_by,
        lift_reason,
    }
}

type ObjectionRow = (
    Uuid,
    Uuid,
    String,
    String,
    OffsetDateTime,
    String,
    Option<String>,
    Option<OffsetDateTime>,
    Option<String>,
);

const OBJECTION_COLUMNS: &str = "id, subject_id, activity_id, request_reference, recorded_at, \
     recorded_by, compelling_grounds, grounds_recorded_at, grounds_recorded_by FROM objections";

fn objection_from_row(row: ObjectionRow) -> Objection {
    let (
        id,
        subject_id,
        activity,
        request_reference,
        recorded_at,
        recorded_by,
        compelling_grounds,
        grounds_recorded_at,
        grounds_recorded_by,
    ) = row;
    Objection {
        id,
        subject_id,
        activity,
        request_reference,
        recorded_at,
        recorded_by,
        compelling_grounds,
        grounds_recorded_at,
        grounds_recorded_by,
    }
}

/// Refuses an empty actor or text, which the tables require.
/// Refuses to lift `restriction` (when known) unless the person was told (art. 18(3)) on a
/// day not after today and not before it began, and a reason is given. Callers that do
/// something first, like clearing the marks in connected systems, ask before they start.
pub fn may_lift(
    restriction: Option<&Restriction>,
    told_on: Date,
    reason: &str,
    now: OffsetDateTime,
) -> Result<(), StoreError> {
    required(reason, "the reason the restriction ends")?;
    if told_on > now.date() {
        return Err(StoreError::Invalid(format!(
            "the person must be told before the restriction is lifted (GDPR art. 18(3)): \
             {told_on} is after today; lift it once they have been told"
        )));
    }
    if let Some(r) = restriction
        && told_on < r.since.date()
    {
        return Err(StoreError::Invalid(format!(
            "the person was told on {told_on}, before the restriction began on {}: tell \
             them now that it will be lifted",
            r.since.date()
        )));
    }
    Ok(())
}

fn required(value: &str, what: &str) -> Result<String, StoreError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{what} is required")));
    }
    Ok(value.to_string())
}

/// Evaluates to the number of records of `$subject` under `$activity`, failing with
/// NotFound when the subject does not exist.
macro_rules! records_under {
    ($tx:ident, $subject:expr, $activity:expr) => {{
        let subject: uuid::Uuid = $subject;
        let exists: Option<uuid::Uuid> =
            sqlx::query_scalar("SELECT id FROM data_subjects WHERE id = $1")
                .bind(subject)
                .fetch_optional(&mut *$tx)
                .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: "data subject",
                id: subject.to_string(),
            });
        }
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM records WHERE subject_id = $1 AND activity_id = $2",
        )
        .bind(subject)
        .bind($activity)
        .fetch_one(&mut *$tx)
        .await?;
        u64::try_from(n).unwrap_or(0)
    }};
}

impl Store {
    /// Restricts processing of the data of `subject_id` under `activity` (GDPR art. 18) at
    /// the rights request `request_reference`, which must be open and linked to that data
    /// subject. From then on the vault only stores those records (see the module notes).
    ///
    /// Idempotent: when a restriction is already in force (from this request or another),
    /// it is returned with `changed: false`.
    /// Errors: `NotFound` (subject, activity or request), `Invalid` (request closed or about
    /// someone else).
    pub async fn restrict(
        &self,
        subject_id: Uuid,
        activity: &str,
        request_reference: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RestrictionReport, StoreError> {
        let now = timestamp(now);
        let actor = required(actor, "who restricts (the actor)")?;
        write_transaction!(self, |tx| {
            let (activity, _) = load_activity!(tx, activity);
            let records = records_under!(tx, subject_id, &activity.id);
            let (reference, controller) = request_about!(&mut *tx, request_reference, subject_id);
            same_controller(&reference, &controller, &activity)?;
            let existing: Option<RestrictionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RESTRICTION_COLUMNS} \
                 WHERE subject_id = $1 AND activity_id = $2 AND lifted_at IS NULL"
            )))
            .bind(subject_id)
            .bind(&activity.id)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                return Ok(RestrictionReport {
                    restriction: restriction_from_row(row),
                    changed: false,
                    records,
                });
            }
            let restriction = Restriction {
                id: new_id(now)?,
                subject_id,
                activity: activity.id.clone(),
                request_reference: reference,
                since: now,
                restricted_by: actor,
                told_on: None,
                lifted_at: None,
                lifted_by: None,
                lift_reason: None,
            };
            sqlx::query(
                "INSERT INTO restrictions (id, subject_id, activity_id, request_reference, \
                 since, restricted_by) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(restriction.id)
            .bind(subject_id)
            .bind(&restriction.activity)
            .bind(&restriction.request_reference)
            .bind(now)
            .bind(&restriction.restricted_by)
            .execute(&mut *tx)
            .await?;
            Ok(RestrictionReport {
                restriction,
                changed: true,
                records,
            })
        })
    }

    /// Lifts the restriction in force on the data of `subject_id` under `activity`. Art.
    /// 18(3): the person is told before it is lifted, so `told_on` (the day they were told)
    /// is required and cannot be after today; `reason` says why it ends (accuracy verified,
    /// the objection weighed, ...).
    ///
    /// Errors: `NotFound` when no restriction is in force, `Invalid` for a missing reason or
    /// a `told_on` in the future.
    pub async fn lift_restriction(
        &self,
        subject_id: Uuid,
        activity: &str,
        told_on: Date,
        reason: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<RestrictionReport, StoreError> {
        let now = timestamp(now);
        let actor = required(actor, "who lifts the restriction (the actor)")?;
        let reason = required(reason, "the reason the restriction ends")?;
        may_lift(None, told_on, &reason, now)?;
        write_transaction!(self, |tx| {
            let row: Option<RestrictionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RESTRICTION_COLUMNS} \
                 WHERE subject_id = $1 AND activity_id = $2 AND lifted_at IS NULL"
            )))
            .bind(subject_id)
            .bind(activity)
            .fetch_optional(&mut *tx)
            .await?;
            let mut restriction =
                restriction_from_row(row.ok_or_else(|| StoreError::NotFound {
                    what: "restriction in force",
                    id: format!("data subject {subject_id} under {activity}"),
                })?);
            may_lift(Some(&restriction), told_on, &reason, now)?;
            sqlx::query(
                "UPDATE restrictions SET told_on = $2, lifted_at = $3, lifted_by = $4, \
                 lift_reason = $5 WHERE id = $1",
            )
            .bind(restriction.id)
            .bind(told_on)
            .bind(now)
            .bind(&actor)
            .bind(&reason)
            .execute(&mut *tx)
            .await?;
            let records = records_under!(tx, subject_id, activity);
            restriction.told_on = Some(told_on);
            restriction.lifted_at = Some(now);
            restriction.lifted_by = Some(actor);
            restriction.lift_reason = Some(reason);
            Ok(RestrictionReport {
                restriction,
                changed: true,
                records,
            })
        })
    }

    /// Records that `subject_id` objects to processing under `activity` (GDPR art. 21) at
    /// request `request_reference` (open, linked to that subject). Until compelling grounds
    /// are recorded ([`Store::record_compelling_grounds`]) the vault refuses to add or change
    /// the person's records under the activity.
    ///
    /// Idempotent per request: the same request's objection is returned with `changed: false`.
    pub async fn record_objection(
        &self,
        subject_id: Uuid,
        activity: &str,
        request_reference: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<ObjectionReport, StoreError> {
        let now = timestamp(now);
        let actor = required(actor, "who records the objection (the actor)")?;
        write_transaction!(self, |tx| {
            let (activity, _) = load_activity!(tx, activity);
            let records = records_under!(tx, subject_id, &activity.id);
            let (reference, controller) = request_about!(&mut *tx, request_reference, subject_id);
            same_controller(&reference, &controller, &activity)?;
            let existing: Option<ObjectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {OBJECTION_COLUMNS} \
                 WHERE subject_id = $1 AND activity_id = $2 AND request_reference = $3"
            )))
            .bind(subject_id)
            .bind(&activity.id)
            .bind(&reference)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some(row) = existing {
                let objection = objection_from_row(row);
                let records = if objection.in_force() { records } else { 0 };
                return Ok(ObjectionReport {
                    objection,
                    changed: false,
                    records,
                });
            }
            let objection = Objection {
                id: new_id(now)?,
                subject_id,
                activity: activity.id.clone(),
                request_reference: reference,
                recorded_at: now,
                recorded_by: actor,
                compelling_grounds: None,
                grounds_recorded_at: None,
                grounds_recorded_by: None,
            };
            sqlx::query(
                "INSERT INTO objections (id, subject_id, activity_id, request_reference, \
                 recorded_at, recorded_by) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(objection.id)
            .bind(subject_id)
            .bind(&objection.activity)
            .bind(&objection.request_reference)
            .bind(now)
            .bind(&objection.recorded_by)
            .execute(&mut *tx)
            .await?;
            Ok(ObjectionReport {
                objection,
                changed: true,
                records,
            })
        })
    }

    /// Records the compelling legitimate grounds that override the objection made at
    /// `request_reference` (art. 21(1)): processing under the activity may continue. The
    /// grounds are what the refusal letter cites. Recording the same grounds again changes
    /// nothing; other grounds for an objection already overridden are refused.
    pub async fn record_compelling_grounds(
        &self,
        subject_id: Uuid,
        activity: &str,
        request_reference: &str,
        grounds: &str,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<ObjectionReport, StoreError> {
        let now = timestamp(now);
        let actor = required(actor, "who records the grounds (the actor)")?;
        let grounds = required(grounds, "the compelling grounds")?;
        let reference = normalise_reference(request_reference)?;
        write_transaction!(self, |tx| {
            let row: Option<ObjectionRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {OBJECTION_COLUMNS} \
                 WHERE subject_id = $1 AND activity_id = $2 AND request_reference = $3"
            )))
            .bind(subject_id)
            .bind(activity)
            .bind(&reference)
            .fetch_optional(&mut *tx)
            .await?;
            let mut objection = objection_from_row(row.ok_or_else(|| StoreError::NotFound {
                what: "objection",
                id: format!("{reference} by data subject {subject_id} under {activity}"),
            })?);
            match objection.compelling_grounds.as_deref() {
                Some(recorded) if recorded == grounds => {
                    return Ok(ObjectionReport {
                        objection,
                        changed: false,
                        records: 0,
                    });
                }
                Some(_) => {
                    return Err(StoreError::Invalid(format!(
                        "compelling grounds were already recorded for the objection of request \
                         {reference}; they are part of the decision and are not rewritten"
                    )));
                }
                None => {}
            }
            sqlx::query(
                "UPDATE objections SET compelling_grounds = $2, grounds_recorded_at = $3, \
                 grounds_recorded_by = $4 WHERE id = $1",
            )
            .bind(objection.id)
            .bind(&grounds)
            .bind(now)
            .bind(&actor)
            .execute(&mut *tx)
            .await?;
            objection.compelling_grounds = Some(grounds);
            objection.grounds_recorded_at = Some(now);
            objection.grounds_recorded_by = Some(actor);
            Ok(ObjectionReport {
                objection,
                changed: true,
                records: 0,
            })
        })
    }

    /// Rectifies or completes a record (GDPR art. 16) at request `request_reference` (open,
    /// linked to the record's subject): each field in `changes` gets its new value. The
    /// record, the old and new values (sealed with the store's keys, kept for the request)
    /// and a processing-log entry (action `update`, the request as case, the fields named in
    /// its legal ground) are written in one transaction.
    ///
    /// Fields already holding the value asked are left alone, so a repeated run changes
    /// nothing. A restricted record is rectified only at the request that restricted it.
    /// Errors: `NotFound` (record or request), `Restricted`, `Invalid` (no changes, a null
    /// value, a bad field name or size, request closed or about someone else).
    pub async fn rectify_record(
        &self,
        processing: &Processing,
        record_id: Uuid,
        changes: &BTreeMap<String, Value>,
        request_reference: &str,
    ) -> Result<RectificationReport, StoreError> {
        let now = timestamp(processing.now);
        check_changes(changes)?;
        let keys = self.keys()?;
        let subject_id: Option<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT subject_id FROM records WHERE id = $1")
                .bind(record_id)
                .fetch_optional(pool)
                .await?
        });
        let subject_id = subject_id.ok_or_else(|| StoreError::NotFound {
            what: "record",
            id: record_id.to_string(),
        })?;
        let (_, log_subject) = self.subject_for_log(subject_id).await?;
        let id = new_id(now)?;
        write_transaction!(self, |tx| {
            let row: Option<RecordRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RECORD_COLUMNS} WHERE id = $1"
            )))
            .bind(record_id)
            .fetch_optional(&mut *tx)
            .await?;
            let mut record = record_from_row(row.ok_or_else(|| StoreError::NotFound {
                what: "record",
                id: record_id.to_string(),
            })?)?;
            let (reference, controller) =
                request_about!(&mut *tx, request_reference, record.subject_id);
            let (activity, activity_version) = load_activity!(tx, &record.activity);
            same_controller(&reference, &controller, &activity)?;
            if let Some((restricted_by, since)) =
                restriction_in_force!(&mut *tx, record.subject_id, &record.activity)
                && restricted_by != reference
            {
                return Err(StoreError::Restricted {
                    activity: record.activity,
                    reference: restricted_by,
                    since: since.date(),
                });
            }
            let mut report = RectificationReport {
                record_id,
                subject_id: record.subject_id,
                activity: record.activity.clone(),
                request_reference: reference.clone(),
                rectified: Vec::new(),
                completed: Vec::new(),
                unchanged: Vec::new(),
                record_version: record.version,
            };
            let mut sealed_changes: BTreeMap<String, FieldChange> = BTreeMap::new();
            for (field, new) in changes {
                let old = record.fields.insert(field.clone(), new.clone());
                match &old {
                    Some(old) if old == new => report.unchanged.push(field.clone()),
                    Some(_) => report.rectified.push(field.clone()),
                    None => report.completed.push(field.clone()),
                }
                if old.as_ref() != Some(new) {
                    sealed_changes.insert(
                        field.clone(),
                        FieldChange {
                            old,
                            new: new.clone(),
                        },
                    );
                }
            }
            if sealed_changes.is_empty() {
                return Ok(report);
            }
            check_fields_fit(&record.fields)?;
            let names: Vec<String> = sealed_changes.keys().cloned().collect();
            let plain = serde_json::to_vec(&sealed_changes)
                .map_err(|e| StoreError::Corrupt(format!("rectification: {e}")))?;
            let sealed = keys
                .encrypt(&rectification_aad(id), &plain)
                .map_err(|e| StoreError::Unavailable(e.to_string()))?;
            sqlx::query(
                "UPDATE records SET fields = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(record_id)
            .bind(Json(&record.fields))
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO rectifications (id, record_id, request_reference, fields, sealed, \
                 rectified_at, rectified_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(id)
            .bind(record_id)
            .bind(&reference)
            .bind(Json(&names))
            .bind(sealed)
            .bind(now)
            .bind(&processing.actor.name)
            .execute(&mut *tx)
            .await?;
            let mut entry = ActivityRef::from_activity(&activity, activity_version).entry(
                LogAction::Update,
                log_subject,
                vec![record.category.name().to_string()],
                Some(reference.clone()),
            );
            // The log has no column for field names; the ground of this change is the
            // person's right to rectification, and the fields it touched belong with it.
            entry.legal_ground = Some(format!(
                "GDPR art. 16 rectification, request {reference}: {}",
                names.join(", ")
            ));
            append_log!(tx, processing, vec![entry]);
            report.record_version = record.version + 1;
            Ok(report)
        })
    }

    /// The restrictions of a data subject's data, in force or lifted, oldest first.
    pub async fn restrictions(&self, subject_id: Uuid) -> Result<Vec<Restriction>, StoreError> {
        let rows: Vec<RestrictionRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RESTRICTION_COLUMNS} WHERE subject_id = $1 ORDER BY since, id"
            )))
            .bind(subject_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(restriction_from_row).collect())
    }

    /// The objections of a data subject, oldest first.
    pub async fn objections(&self, subject_id: Uuid) -> Result<Vec<Objection>, StoreError> {
        let rows: Vec<ObjectionRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {OBJECTION_COLUMNS} WHERE subject_id = $1 ORDER BY recorded_at, id"
            )))
            .bind(subject_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(objection_from_row).collect())
    }

    /// The rectifications done at a request, with their old and new values unsealed, in
    /// the order they were done: for the closing letter and for telling recipients (art. 19).
    pub async fn rectifications(
        &self,
        request_reference: &str,
    ) -> Result<Vec<Rectification>, StoreError> {
        let keys = self.keys()?;
        let reference = normalise_reference(request_reference)?;
        type Row = (Uuid, Uuid, String, Vec<u8>, OffsetDateTime, String);
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, record_id, request_reference, sealed, rectified_at, rectified_by \
                 FROM rectifications WHERE request_reference = $1 ORDER BY rectified_at, id",
            )
            .bind(&reference)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(id, record_id, request_reference, sealed, at, by)| {
                let plain = keys.decrypt(&rectification_aad(id), &sealed).map_err(|e| {
                    StoreError::Corrupt(format!(
                        "rectification {id} does not decrypt: {e}; check that the \
                             configured keys include the key it was sealed with"
                    ))
                })?;
                let changes = serde_json::from_slice(&plain)
                    .map_err(|e| StoreError::Corrupt(format!("rectification {id}: {e}")))?;
                Ok(Rectification {
                    id,
                    record_id,
                    request_reference,
                    changes,
                    rectified_at: at,
                    rectified_by: by,
                })
            })
            .collect()
    }
}

/// A rectification names at least one field, by a name a record may have, and sets a value
/// (removing data is erasure, not rectification).
fn check_changes(changes: &BTreeMap<String, Value>) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Err(StoreError::Invalid(
            "name at least one field to rectify or complete, with its new value".into(),
        ));
    }
    if let Some(field) = changes.keys().find(|k| k.is_empty() || k.len() > 64) {
        return Err(StoreError::Invalid(format!(
            "'{field}' is not a field name: use 1 to 64 characters"
        )));
    }
    if let Some((field, _)) = changes.iter().find(|(_, v)| v.is_null()) {
        return Err(StoreError::Invalid(format!(
            "field '{field}': a rectification sets a value; to remove data, erase it"
        )));
    }
    Ok(())
}

/// The record after the change stays within what any record may hold.
fn check_fields_fit(fields: &BTreeMap<String, Value>) -> Result<(), StoreError> {
    let bytes = serde_json::to_vec(fields).map_or(usize::MAX, |v| v.len());
    if fields.len() > MAX_FIELDS || bytes > MAX_FIELDS_BYTES {
        return Err(StoreError::Invalid(format!(
            "after this change the record would exceed {MAX_FIELDS} fields or \
             {MAX_FIELDS_BYTES} bytes: rectify fewer or shorter fields"
        )));
    }
    Ok(())
}
