//! kluis's own vault of personal data: data subjects and records under processing
//! activities. Every method writes its processing-log entries in its own transaction.
//!
//! National numbers and BSNs are stored as AEAD envelopes bound to their row (the
//! associated data names table, column and id) and found through a keyed blind index.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::{Bsn, EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::inventory::{self, RecordInput, RecordRetention, SubjectIdentity};
use kluis_domain::processing_log::{LogAction, NewLogEntry};
use kluis_domain::retention::{Deadline, RetentionEvent};
use kluis_keys::Keyring;
use serde_json::Value;
use sqlx::Row;
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::restriction::{
    RecordRestriction, objection_in_force, request_about, restriction_in_force,
};
use crate::{Store, StoreError, new_id, timestamp};

/// Loads the current version of an activity inside a transaction: (activity, version).
macro_rules! load_activity {
    ($tx:ident, $id:expr) => {{
        let id: &str = $id;
        let row: Option<(
            sqlx::types::Json<kluis_domain::register::ProcessingActivity>,
            i64,
        )> = sqlx::query_as("SELECT document, version FROM activities WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *$tx)
            .await?;
        let (sqlx::types::Json(activity), version) = row.ok_or_else(|| StoreError::NotFound {
            what: "processing activity",
            id: id.to_string(),
        })?;
        (activity, version)
    }};
}

/// Computes the deadline of every record of `$activity` again, inside the transaction that
/// changes the activity, so no record keeps a deadline its rule no longer gives. Records
/// whose schedule the activity dropped keep theirs, and the DPO is told by the error.
macro_rules! recompute_deadlines {
    ($tx:ident, $activity:expr) => {{
        let activity: &kluis_domain::register::ProcessingActivity = $activity;
        type Row = (
            uuid::Uuid,
            String,
            time::Date,
            sqlx::types::Json<
                std::collections::BTreeMap<kluis_domain::retention::RetentionEvent, time::Date>,
            >,
            i64,
            Option<time::Date>,
            String,
            Option<time::Date>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT r.id, r.schedule, r.collected_on, r.events, r.extensions, s.birth_date, \
             r.deadline_kind, r.deadline, r.deadline_event \
             FROM records r JOIN data_subjects s ON s.id = r.subject_id WHERE r.activity_id = $1",
        )
        .bind(&activity.id)
        .fetch_all(&mut *$tx)
        .await?;
        for (id, schedule, collected_on, events, extensions, birth_date, kind, date, event) in rows
        {
            let schedule = kluis_domain::inventory::schedule(activity, Some(&schedule))
                .map_err(|e| $crate::StoreError::Invalid(format!(
                    "{e}; records still follow that schedule: keep it, or move those records first"
                )))?;
            let deadline = kluis_domain::inventory::deadline(
                schedule,
                &kluis_domain::inventory::RecordRetention {
                    collected_on: Some(collected_on),
                    events: events.0,
                    birth_date,
                    extensions: u8::try_from(extensions).unwrap_or(u8::MAX),
                    withdrawn_on: None,
                },
            )
            .map_err(|e| $crate::StoreError::Invalid(format!("record {id}: {e}")))?;
            let (new_kind, new_date, new_event) =
                kluis_domain::inventory::deadline_columns(&deadline);
            if (new_kind, new_date, new_event) != (kind.as_str(), date, event.as_deref()) {
                sqlx::query(
                    "UPDATE records SET deadline_kind = $2, deadline = $3, deadline_event = $4 \
                     WHERE id = $1",
                )
                .bind(id)
                .bind(new_kind)
                .bind(new_date)
                .bind(new_event)
                .execute(&mut *$tx)
                .await?;
            }
        }
    }};
}
pub(crate) use {load_activity, recompute_deadlines};

/// A data subject as stored, identifiers decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub id: Uuid,
    pub identity: SubjectIdentity,
    /// Parents or guardians who act for this person.
    pub guardians: Vec<Uuid>,
    /// The processing activity the person was first recorded for.
    pub recorded_under: String,
    pub version: i64,
    pub created_at: OffsetDateTime,
}

/// A record of personal data under one processing activity.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub activity: String,
    pub schedule: String,
    pub category: DataCategory,
    pub fields: BTreeMap<String, Value>,
    pub source: Option<String>,
    pub collected_on: Date,
    pub events: BTreeMap<RetentionEvent, Date>,
    pub provided_by_subject: bool,
    pub extensions: i64,
    pub deadline: Deadline,
    pub version: i64,
    /// The restriction of processing the record is under (GDPR art. 18): views then show
    /// it without its fields.
    pub restriction: Option<RecordRestriction>,
}

/// A data subject with the records the caller may see.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectView {
    pub subject: Subject,
    pub records: Vec<Record>,
}

/// How to find a data subject in the vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectQuery {
    Id(Uuid),
    NationalNumber(NationalNumber),
    Bsn(Bsn),
    Email(EmailAddress),
    Phone(PhoneNumber),
}

/// A change to a record: only the parts given change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordChange {
    pub fields: Option<BTreeMap<String, Value>>,
    pub source: Option<Option<String>>,
    pub events: Option<BTreeMap<RetentionEvent, Date>>,
}

type SubjectRow = (
    Uuid,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Date>,
    i64,
    OffsetDateTime,
    String,
);

const SUBJECT_COLUMNS: &str = "id, national_number, bsn, email, phone, given_name, family_name, \
     birth_date, version, created_at, recorded_under FROM data_subjects";

pub(crate) type RecordRow = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    Json<BTreeMap<String, Value>>,
    Option<String>,
    Date,
    Json<BTreeMap<RetentionEvent, Date>>,
    bool,
    i64,
    String,
    Option<Date>,
    Option<String>,
    i64,
);

/// A record with the restriction in force on it, if any: request reference and since when.
type RestrictedRecordRow = (RecordRow, Option<String>, Option<OffsetDateTime>);

/// Subjects per IN list: under both backends' bound-parameter limits.
const SUBJECTS_PER_QUERY: usize = 1_000;

pub(crate) const RECORD_COLUMNS: &str = "id, subject_id, activity_id, schedule, category, fields, source, \
     collected_on, events, provided_by_subject, extensions, deadline_kind, deadline, \
     deadline_event, version FROM records";

pub(crate) fn record_from_row(row: RecordRow) -> Result<Record, StoreError> {
    let (
        id,
        subject_id,
        activity,
        schedule,
        category,
        Json(fields),
        source,
        collected_on,
        Json(events),
        provided_by_subject,
        extensions,
        deadline_kind,
        deadline,
        deadline_event,
        version,
    ) = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("record {id}: {what}"));
    Ok(Record {
        id,
        subject_id,
        activity,
        schedule,
        category: category.parse().map_err(|_| corrupt("unknown category"))?,
        fields,
        source,
        collected_on,
        events,
        provided_by_subject,
        extensions,
        deadline: inventory::deadline_from_columns(
            &deadline_kind,
            deadline,
            deadline_event.as_deref(),
        )
        .ok_or_else(|| corrupt("unknown deadline"))?,
        version,
        restriction: None,
    })
}

/// The associated data that binds an envelope to its row and column: an envelope copied
/// to another row or column does not decrypt.
pub(crate) fn aad(column: &str, id: Uuid) -> Vec<u8> {
    format!("data_subjects/{column}/{id}").into_bytes()
}

/// A subject's sensitive identifiers as stored: (envelope, blind index) per column.
struct Sealed {
    national_number: (Option<Vec<u8>>, Option<Vec<u8>>),
    bsn: (Option<Vec<u8>>, Option<Vec<u8>>),
}

/// Encrypts the national number and BSN of subject `id` under the current key, with
/// their blind indexes.
fn seal(keys: &Keyring, id: Uuid, identity: &SubjectIdentity) -> Result<Sealed, StoreError> {
    let one = |column: &str, kind: IdentifierKind, digits: Option<String>| {
        digits
            .map(|d| {
                Ok::<_, StoreError>((
                    keys.encrypt(&aad(column, id), d.as_bytes())
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                    keys.blind_index(kind.name(), &d).to_vec(),
                ))
            })
            .transpose()
            .map(Option::unzip)
    };
    Ok(Sealed {
        national_number: one(
            "national_number",
            IdentifierKind::NationalNumber,
            identity.national_number.as_ref().map(|n| n.digits()),
        )?,
        bsn: one(
            "bsn",
            IdentifierKind::Bsn,
            identity.bsn.as_ref().map(|b| b.digits()),
        )?,
    })
}

impl Store {
    /// Adds the keys that encrypt identifiers and make blind indexes and pseudonyms.
    pub fn with_keys(mut self, keys: std::sync::Arc<Keyring>) -> Store {
        self.keys = Some(keys);
        self
    }

    /// Whether the store was opened with keys (personal data needs them).
    pub fn has_keys(&self) -> bool {
        self.keys.is_some()
    }

    pub(crate) fn keys(&self) -> Result<&Keyring, StoreError> {
        self.keys.as_deref().ok_or(StoreError::NoKeys)
    }

    /// The pseudonym the processing log uses for a person known by this identifier.
    pub fn subject_pseudonym(
        &self,
        kind: IdentifierKind,
        normalised: &str,
    ) -> Result<String, StoreError> {
        Ok(self.keys()?.pseudonym(kind.name(), normalised))
    }

    /// Every pseudonym the log may use for this person: one per identifier.
    pub fn subject_pseudonyms(
        &self,
        identity: &SubjectIdentity,
    ) -> Result<Vec<String>, StoreError> {
        let keys = self.keys()?;
        Ok(identity
            .identifiers()
            .iter()
            .map(|(kind, value)| keys.pseudonym(kind.name(), value))
            .collect())
    }

    /// (pseudonym, identifier kind) under which the log records this person: their most
    /// reliable identifier.
    pub(crate) fn log_subject(
        &self,
        identity: &SubjectIdentity,
    ) -> Result<(String, String), StoreError> {
        let keys = self.keys()?;
        let (kind, value) = identity
            .identifiers()
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt("a data subject without identifiers".into()))?;
        Ok((keys.pseudonym(kind.name(), &value), kind.name().to_string()))
    }

    /// Records a data subject under a processing activity, or finds the one already known
    /// by the same national number or BSN. Returns the subject and whether it is new.
    pub async fn record_subject(
        &self,
        processing: &Processing,
        activity_id: &str,
        identity: &SubjectIdentity,
        guardians: &[Uuid],
    ) -> Result<(Subject, bool), StoreError> {
        let keys = self.keys()?;
        let now = timestamp(processing.now);
        identity
            .check(now.date())
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let log_subject = self.log_subject(identity)?;
        let nn_indexes = identity
            .national_number
            .as_ref()
            .map(|n| keys.blind_indexes(IdentifierKind::NationalNumber.name(), &n.digits()));
        let bsn_indexes = identity
            .bsn
            .as_ref()
            .map(|b| keys.blind_indexes(IdentifierKind::Bsn.name(), &b.digits()));
        let (subject, created) = write_transaction!(self, |tx| {
            let (activity, version) = load_activity!(tx, activity_id);
            let activity_ref = ActivityRef::from_activity(&activity, version);
            let mut existing: Option<Uuid> = None;
            for (column, indexes) in [
                ("national_number_index", &nn_indexes),
                ("bsn_index", &bsn_indexes),
            ] {
                for index in indexes.iter().flatten() {
                    if existing.is_none() {
                        existing = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                            "SELECT id FROM data_subjects WHERE {column} = $1"
                        )))
                        .bind(index.to_vec())
                        .fetch_optional(&mut *tx)
                        .await?;
                    }
                }
            }
            if let Some(id) = existing {
                let entry = activity_ref.entry(
                    LogAction::SearchHit,
                    log_subject.clone(),
                    vec![DataCategory::Identification.name().to_string()],
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                (id, false)
            } else {
                let id = new_id(now)?;
                let Sealed {
                    national_number: (nn, nn_index),
                    bsn: (bsn, bsn_index),
                } = seal(keys, id, identity)?;
                sqlx::query(
                    "INSERT INTO data_subjects (id, national_number, national_number_index, \
                     bsn, bsn_index, email, phone, given_name, family_name, birth_date, \
                     recorded_under, version, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, 1, $11, $11)",
                )
                .bind(id)
                .bind(nn)
                .bind(nn_index)
                .bind(bsn)
                .bind(bsn_index)
                .bind(identity.email.as_ref().map(|e| e.as_str().to_string()))
                .bind(identity.phone.as_ref().map(|p| p.as_str().to_string()))
                .bind(identity.given_name.clone())
                .bind(identity.family_name.clone())
                .bind(identity.birth_date)
                .bind(now)
                .bind(&activity.id)
                .execute(&mut *tx)
                .await?;
                for guardian in guardians {
                    if *guardian == id {
                        return Err(StoreError::Invalid(
                            "a data subject cannot be their own guardian".into(),
                        ));
                    }
                    sqlx::query(
                        "INSERT INTO guardianships (subject_id, guardian_id, recorded_at) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(id)
                    .bind(*guardian)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| {
                        crate::error::on_foreign_key(
                            e,
                            StoreError::NotFound {
                                what: "guardian",
                                id: guardian.to_string(),
                            },
                        )
                    })?;
                }
                let entry = activity_ref.entry(
                    LogAction::Create,
                    log_subject.clone(),
                    vec![DataCategory::Identification.name().to_string()],
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                (id, true)
            }
        });
        let subject = self
            .subject_unlogged(subject)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a subject vanished while recording it".into()))?;
        Ok((subject, created))
    }

    /// Records personal data of a subject under a processing activity, with its retention
    /// deadline computed from the activity's schedule.
    pub async fn add_record(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        input: &RecordInput,
    ) -> Result<Record, StoreError> {
        let now = timestamp(processing.now);
        let (subject, log_subject) = self.subject_for_log(subject_id).await?;
        let id = new_id(now)?;
        let added = async {
            Ok(write_transaction!(self, |tx| {
                let (activity, version) = load_activity!(tx, &input.activity);
                if let Some(reference) = objection_in_force!(&mut *tx, subject_id, &activity.id) {
                    return Err(StoreError::Objected {
                        activity: activity.id.clone(),
                        reference,
                    });
                }
                // Storing is what a restriction still allows: the new record is restricted too.
                let restriction = restriction_in_force!(&mut *tx, subject_id, &activity.id).map(
                    |(request_reference, since)| RecordRestriction {
                        request_reference,
                        since,
                    },
                );
                let schedule = input
                    .check(&activity, now.date())
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let deadline = inventory::deadline(
                    schedule,
                    &RecordRetention {
                        collected_on: Some(input.collected_on),
                        events: input.events.clone(),
                        birth_date: subject.identity.birth_date,
                        extensions: 0,
                        withdrawn_on: None,
                    },
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let (kind, date, event) = inventory::deadline_columns(&deadline);
                sqlx::query(
                    "INSERT INTO records (id, subject_id, activity_id, schedule, category, fields, \
                 source, collected_on, events, provided_by_subject, extensions, deadline_kind, \
                 deadline, deadline_event, version, created_at, updated_at, case_ref) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12, $13, 1, $14, $14, \
                 $15)",
                )
                .bind(id)
                .bind(subject_id)
                .bind(&activity.id)
                .bind(&schedule.key)
                .bind(input.category.name())
                .bind(Json(&input.fields))
                .bind(input.source.clone())
                .bind(input.collected_on)
                .bind(Json(&input.events))
                .bind(input.provided_by_subject)
                .bind(kind)
                .bind(date)
                .bind(event)
                .bind(now)
                // The case the record was collected for: a legal hold on the case keeps it.
                .bind(processing.case_ref.as_deref())
                .execute(&mut *tx)
                .await?;
                let entry = ActivityRef::from_activity(&activity, version).entry(
                    LogAction::Create,
                    log_subject,
                    vec![input.category.name().to_string()],
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                Record {
                    id,
                    subject_id,
                    activity: activity.id.clone(),
                    schedule: schedule.key.clone(),
                    category: input.category,
                    fields: input.fields.clone(),
                    source: input.source.clone(),
                    collected_on: input.collected_on,
                    events: input.events.clone(),
                    provided_by_subject: input.provided_by_subject,
                    extensions: 0,
                    deadline,
                    version: 1,
                    restriction,
                }
            }))
        }
        .await;
        self.log_if_stopped(processing, subject_id, &input.activity, added)
            .await
    }

    /// Changes a record of an activity in `scope`, if its stored version is
    /// `expected_version`; the deadline is computed again from the new event dates.
    pub async fn change_record(
        &self,
        processing: &Processing,
        record_id: Uuid,
        expected_version: i64,
        change: &RecordChange,
        scope: &Scope,
    ) -> Result<Record, StoreError> {
        let now = timestamp(processing.now);
        let keys_subject = |identity: &SubjectIdentity| self.log_subject(identity);
        // Need-to-know first, outside the change's transaction, so the refusal is logged.
        let owner: Option<(Uuid, String)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT subject_id, activity_id FROM records WHERE id = $1")
                .bind(record_id)
                .fetch_optional(pool)
                .await?
        });
        if let Some((subject_id, activity)) = &owner
            && !scope.allows(activity)
        {
            let activities = vec![activity.clone()];
            self.record_refusal(processing, *subject_id, &activities)
                .await?;
            return Err(StoreError::OutOfScope { activities });
        }
        let changed = async {
            Ok(write_transaction!(self, |tx| {
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
                if record.version != expected_version {
                    return Err(crate::error::stale(
                        "record",
                        &record_id.to_string(),
                        expected_version,
                        Some(record.version),
                    ));
                }
                // A restriction or objection in force stops the change (logged as refused).
                if let Some((reference, since)) =
                    restriction_in_force!(&mut *tx, record.subject_id, &record.activity)
                {
                    return Err(StoreError::Restricted {
                        activity: record.activity,
                        reference,
                        since: since.date(),
                    });
                }
                if let Some(reference) =
                    objection_in_force!(&mut *tx, record.subject_id, &record.activity)
                {
                    return Err(StoreError::Objected {
                        activity: record.activity,
                        reference,
                    });
                }
                let subject_row: SubjectRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUBJECT_COLUMNS} WHERE id = $1"
                )))
                .bind(record.subject_id)
                .fetch_one(&mut *tx)
                .await?;
                let identity = self.identity_from_row(&subject_row)?;
                let (activity, version) = load_activity!(tx, &record.activity);
                if let Some(fields) = &change.fields {
                    record.fields = fields.clone();
                }
                if let Some(source) = &change.source {
                    record.source = source.clone();
                }
                if let Some(events) = &change.events {
                    record.events = events.clone();
                }
                let schedule = inventory::schedule(&activity, Some(&record.schedule))
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                record.deadline = inventory::deadline(
                    schedule,
                    &RecordRetention {
                        collected_on: Some(record.collected_on),
                        events: record.events.clone(),
                        birth_date: identity.birth_date,
                        extensions: u8::try_from(record.extensions).unwrap_or(u8::MAX),
                        withdrawn_on: None,
                    },
                )
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
                let (kind, date, event) = inventory::deadline_columns(&record.deadline);
                sqlx::query(
                    "UPDATE records SET fields = $2, source = $3, events = $4, deadline_kind = $5, \
                 deadline = $6, deadline_event = $7, version = version + 1, updated_at = $8 \
                 WHERE id = $1",
                )
                .bind(record_id)
                .bind(Json(&record.fields))
                .bind(record.source.clone())
                .bind(Json(&record.events))
                .bind(kind)
                .bind(date)
                .bind(event)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                record.version += 1;
                let entry = ActivityRef::from_activity(&activity, version).entry(
                    LogAction::Update,
                    keys_subject(&identity)?,
                    vec![record.category.name().to_string()],
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                record
            }))
        }
        .await;
        match owner {
            Some((subject_id, activity)) => {
                self.log_if_stopped(processing, subject_id, &activity, changed)
                    .await
            }
            None => changed,
        }
    }

    /// Logs as refused a change that a restriction (GDPR art. 18) or objection (art. 21) in
    /// force stopped. The write transaction checks them, so one recorded meanwhile wins;
    /// the refusal is logged after its rollback.
    async fn log_if_stopped<T>(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        activity: &str,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(StoreError::Restricted { .. } | StoreError::Objected { .. }) = &result {
            self.record_refusal(processing, subject_id, &[activity.to_string()])
                .await?;
        }
        result
    }

    /// A data subject with the records of the activities in `scope`, logged as a read.
    ///
    /// `Ok(None)`: no such subject. `Err(OutOfScope)`: the subject exists but none of its
    /// records is in scope; the refusal is logged.
    ///
    /// A restricted record is shown with its restriction and without its fields, and that
    /// withheld read is logged as refused (GDPR art. 18(2)).
    pub async fn subject(
        &self,
        processing: &Processing,
        id: Uuid,
        scope: &Scope,
    ) -> Result<Option<SubjectView>, StoreError> {
        self.subject_view(processing, id, scope, None).await
    }

    /// A data subject with the records of the activities in `scope`, restricted records
    /// with their fields, for the person's own rights request `request_reference` (access,
    /// portability): giving people their own data is not processing for another purpose,
    /// so a restriction does not withhold it (GDPR art. 18(2) allows only storage *besides*
    /// what the person asks). The request must be open and linked to this data subject;
    /// the read is logged under the request.
    pub async fn subject_for_request(
        &self,
        processing: &Processing,
        id: Uuid,
        scope: &Scope,
        request_reference: &str,
    ) -> Result<Option<SubjectView>, StoreError> {
        self.subject_view(processing, id, scope, Some(request_reference))
            .await
    }

    /// The subject's view: for a rights request (`request_reference`) restricted records
    /// keep their fields and the read is logged under the request; otherwise restricted
    /// records are withheld.
    async fn subject_view(
        &self,
        processing: &Processing,
        id: Uuid,
        scope: &Scope,
        request_reference: Option<&str>,
    ) -> Result<Option<SubjectView>, StoreError> {
        let Some(subject) = self.subject_unlogged(id).await? else {
            return Ok(None);
        };
        let processing = match request_reference {
            Some(reference) => {
                let (reference, _) = on_pool!(self, |pool| request_about!(pool, reference, id));
                Processing {
                    case_ref: Some(reference),
                    ..processing.clone()
                }
            }
            None => processing.clone(),
        };
        let withhold_restricted = request_reference.is_none();
        let records = self.records_of(&[id], withhold_restricted).await?;
        let (visible, hidden): (Vec<Record>, Vec<Record>) =
            records.into_iter().partition(|r| scope.allows(&r.activity));
        if visible.is_empty() && !scope.allows(&subject.recorded_under) {
            let mut activities: BTreeSet<String> = hidden.into_iter().map(|r| r.activity).collect();
            activities.insert(subject.recorded_under.clone());
            let activities: Vec<String> = activities.into_iter().collect();
            self.record_refusal(&processing, id, &activities).await?;
            return Err(StoreError::OutOfScope { activities });
        }
        let view = SubjectView {
            subject,
            records: visible,
        };
        self.log_views(
            &processing,
            LogAction::Read,
            std::slice::from_ref(&view),
            withhold_restricted,
        )
        .await?;
        Ok(Some(view))
    }

    /// Data subjects matching the query, each with the records in `scope`; subjects with
    /// nothing in scope are left out, as if unknown. Each hit is logged.
    pub async fn find_subjects(
        &self,
        processing: &Processing,
        query: &SubjectQuery,
        scope: &Scope,
    ) -> Result<Vec<SubjectView>, StoreError> {
        let ids = self.matching_subjects(query).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let records = self.records_of(&ids, true).await?;
        let mut views = Vec::new();
        for id in ids {
            let Some(subject) = self.subject_unlogged(id).await? else {
                continue;
            };
            let visible: Vec<Record> = records
                .iter()
                .filter(|r| r.subject_id == id && scope.allows(&r.activity))
                .cloned()
                .collect();
            if visible.is_empty() && !scope.allows(&subject.recorded_under) {
                continue;
            }
            views.push(SubjectView {
                subject,
                records: visible,
            });
        }
        self.log_views(processing, LogAction::SearchHit, &views, true)
            .await?;
        Ok(views)
    }

    /// Records that personal data left the authority: to whom, on which legal ground.
    pub async fn record_disclosure(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        activity_id: &str,
        categories: &[DataCategory],
        recipient: &str,
        legal_ground: &str,
    ) -> Result<(), StoreError> {
        if recipient.trim().is_empty() || legal_ground.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a disclosure needs the recipient and the legal ground (e.g. a court order's \
                 reference)"
                    .into(),
            ));
        }
        let (_, log_subject) = self.subject_for_log(subject_id).await?;
        write_transaction!(self, |tx| {
            let (activity, version) = load_activity!(tx, activity_id);
            let mut entry = ActivityRef::from_activity(&activity, version).entry(
                LogAction::Disclose,
                log_subject,
                categories.iter().map(|c| c.name().to_string()).collect(),
                processing.case_ref.clone(),
            );
            entry.recipient = Some(recipient.trim().to_string());
            entry.legal_ground = Some(legal_ground.trim().to_string());
            append_log!(tx, processing, vec![entry]);
        });
        Ok(())
    }

    /// Logs that a search found a person in a connected system: one entry per processing
    /// activity the system serves, with the categories found, under the pseudonym of the
    /// identifier the person was searched by.
    pub async fn log_system_hits(
        &self,
        processing: &Processing,
        system: &str,
        activities: &[String],
        subject: (IdentifierKind, &str),
        categories: &BTreeSet<DataCategory>,
    ) -> Result<(), StoreError> {
        let pseudonym = (
            self.keys()?.pseudonym(subject.0.name(), subject.1),
            subject.0.name().to_string(),
        );
        let mut entries = Vec::new();
        for id in activities {
            if let Some(activity) = self.activity(id).await? {
                let mut entry = ActivityRef::from_activity(&activity.value, activity.version)
                    .entry(
                        LogAction::SearchHit,
                        pseudonym.clone(),
                        categories.iter().map(|c| c.name().to_string()).collect(),
                        processing.case_ref.clone(),
                    );
                entry.system = system.to_string();
                entries.push(entry);
            }
        }
        self.append_log(processing, entries).await?;
        Ok(())
    }

    /// Logs a refused attempt to open a subject's data: one entry per activity the
    /// subject's records belong to (or `activities`, when the caller knows them).
    pub async fn record_refusal(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        activities: &[String],
    ) -> Result<(), StoreError> {
        let Some(subject) = self.subject_unlogged(subject_id).await? else {
            return Ok(());
        };
        let log_subject = self.log_subject(&subject.identity)?;
        let mut ids: BTreeSet<String> = activities.iter().cloned().collect();
        if ids.is_empty() {
            ids = self
                .records_of(&[subject_id], true)
                .await?
                .into_iter()
                .map(|r| r.activity)
                .collect();
        }
        let mut entries = Vec::new();
        for id in ids {
            if let Some(activity) = self.activity(&id).await? {
                entries.push(
                    ActivityRef::from_activity(&activity.value, activity.version).entry(
                        LogAction::Refused,
                        log_subject.clone(),
                        Vec::new(),
                        processing.case_ref.clone(),
                    ),
                );
            }
        }
        self.append_log(processing, entries).await?;
        Ok(())
    }

    /// The log pseudonyms of a subject in the vault, without logging a read: the log
    /// query that uses them is itself what the caller asked for.
    pub async fn subject_pseudonyms_of(&self, subject_id: Uuid) -> Result<Vec<String>, StoreError> {
        let subject =
            self.subject_unlogged(subject_id)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: "data subject",
                    id: subject_id.to_string(),
                })?;
        self.subject_pseudonyms(&subject.identity)
    }

    /// One log entry per subject and activity shown, with the categories shown.
    /// With `withheld`, restricted records were shown without their fields: logged as
    /// refused, with their categories.
    async fn log_views(
        &self,
        processing: &Processing,
        action: LogAction,
        views: &[SubjectView],
        withheld: bool,
    ) -> Result<(), StoreError> {
        let activities = self.activity_refs(views).await?;
        let mut entries: Vec<NewLogEntry> = Vec::new();
        for view in views {
            let subject = self.log_subject(&view.subject.identity)?;
            let mut by_activity: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
            // The identity is shown with the records, under their activities; without any
            // record, under the activity the person was recorded for.
            if view.records.is_empty() {
                by_activity
                    .entry(view.subject.recorded_under.as_str())
                    .or_default()
                    .insert(DataCategory::Identification.name());
            }
            // A restricted record's fields were withheld: that refusal is what is logged.
            let mut refused: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
            for r in &view.records {
                let categories = by_activity.entry(r.activity.as_str()).or_default();
                categories.insert(DataCategory::Identification.name());
                if withheld && r.restriction.is_some() {
                    refused
                        .entry(r.activity.as_str())
                        .or_default()
                        .insert(r.category.name());
                } else {
                    categories.insert(r.category.name());
                }
            }
            for (activity, categories) in refused {
                if let Some(activity_ref) = activities.get(activity) {
                    entries.push(activity_ref.entry(
                        LogAction::Refused,
                        subject.clone(),
                        categories.into_iter().map(str::to_string).collect(),
                        processing.case_ref.clone(),
                    ));
                }
            }
            for (activity, categories) in by_activity {
                if let Some(activity_ref) = activities.get(activity) {
                    entries.push(activity_ref.entry(
                        action,
                        subject.clone(),
                        categories.into_iter().map(str::to_string).collect(),
                        processing.case_ref.clone(),
                    ));
                }
            }
        }
        if !entries.is_empty() {
            self.append_log(processing, entries).await?;
        }
        Ok(())
    }

    async fn activity_refs(
        &self,
        views: &[SubjectView],
    ) -> Result<BTreeMap<String, ActivityRef>, StoreError> {
        let ids: BTreeSet<&str> = views
            .iter()
            .flat_map(|v| {
                v.records
                    .iter()
                    .map(|r| r.activity.as_str())
                    .chain([v.subject.recorded_under.as_str()])
            })
            .collect();
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(activity) = self.activity(id).await? {
                out.insert(
                    id.to_string(),
                    ActivityRef::from_activity(&activity.value, activity.version),
                );
            }
        }
        Ok(out)
    }

    async fn matching_subjects(&self, query: &SubjectQuery) -> Result<Vec<Uuid>, StoreError> {
        let keys = self.keys()?;
        let (column, kind, value) = match query {
            SubjectQuery::Id(id) => return Ok(vec![*id]),
            SubjectQuery::Email(e) => return self.subjects_by_text("email", e.as_str()).await,
            SubjectQuery::Phone(p) => return self.subjects_by_text("phone", p.as_str()).await,
            SubjectQuery::NationalNumber(n) => (
                "national_number_index",
                IdentifierKind::NationalNumber,
                n.digits(),
            ),
            SubjectQuery::Bsn(b) => ("bsn_index", IdentifierKind::Bsn, b.digits()),
        };
        // During a key rotation a subject is indexed under the old key or the new one.
        let mut ids = Vec::new();
        for index in keys.blind_indexes(kind.name(), &value) {
            let found: Option<Uuid> = on_pool!(self, |pool| {
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT id FROM data_subjects WHERE {column} = $1"
                )))
                .bind(index.to_vec())
                .fetch_optional(pool)
                .await?
            });
            if let Some(id) = found
                && !ids.contains(&id)
            {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    async fn subjects_by_text(&self, column: &str, value: &str) -> Result<Vec<Uuid>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM data_subjects WHERE {column} = $1 ORDER BY id"
            )))
            .bind(value)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The records of `subjects`; a restricted record comes with its restriction and, with
    /// `withhold_restricted`, without its fields, which only storage may touch (GDPR art.
    /// 18(2)).
    async fn records_of(
        &self,
        subjects: &[Uuid],
        withhold_restricted: bool,
    ) -> Result<Vec<Record>, StoreError> {
        let mut out = Vec::new();
        for chunk in subjects.chunks(SUBJECTS_PER_QUERY) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            // One query with the restriction in force joined in (at most one per subject and
            // activity, by the unique index `restrictions_in_force`): a lookup is on the hot
            // path of every search.
            let sql = format!(
                "SELECT rec.*, x.request_reference AS restricted_at_request, \
                 x.since AS restricted_since FROM (SELECT {RECORD_COLUMNS} \
                 WHERE subject_id IN ({list})) rec LEFT JOIN restrictions x \
                 ON x.subject_id = rec.subject_id AND x.activity_id = rec.activity_id \
                 AND x.lifted_at IS NULL ORDER BY rec.subject_id, rec.activity_id, rec.id"
            );
            let rows: Vec<RestrictedRecordRow> = on_pool!(self, |pool| {
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.clone()));
                for id in chunk {
                    query = query.bind(*id);
                }
                query
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|row| {
                        Ok((
                            sqlx::FromRow::from_row(row)?,
                            // By name, not position: a column added to the record's
                            // select cannot shift them.
                            row.try_get("restricted_at_request")?,
                            row.try_get("restricted_since")?,
                        ))
                    })
                    .collect::<Result<_, sqlx::Error>>()?
            });
            for (row, reference, since) in rows {
                let mut record = record_from_row(row)?;
                if let (Some(request_reference), Some(since)) = (reference, since) {
                    if withhold_restricted {
                        record.fields.clear();
                    }
                    record.restriction = Some(RecordRestriction {
                        request_reference,
                        since,
                    });
                }
                out.push(record);
            }
        }
        Ok(out)
    }

    /// A subject without logging: for kluis's own bookkeeping, never shown as such.
    /// A data subject that must exist, with the (pseudonym, identifier kind) the log
    /// names them by.
    pub(crate) async fn subject_for_log(
        &self,
        id: Uuid,
    ) -> Result<(Subject, (String, String)), StoreError> {
        let subject = self
            .subject_unlogged(id)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "data subject",
                id: id.to_string(),
            })?;
        let log_subject = self.log_subject(&subject.identity)?;
        Ok((subject, log_subject))
    }

    pub(crate) async fn subject_unlogged(&self, id: Uuid) -> Result<Option<Subject>, StoreError> {
        let row: Option<SubjectRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {SUBJECT_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        let identity = self.identity_from_row(&row)?;
        let guardians: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT guardian_id FROM guardianships WHERE subject_id = $1 ORDER BY guardian_id",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        Ok(Some(Subject {
            id,
            identity,
            guardians,
            version: row.8,
            created_at: row.9,
            recorded_under: row.10,
        }))
    }

    fn identity_from_row(&self, row: &SubjectRow) -> Result<SubjectIdentity, StoreError> {
        let keys = self.keys()?;
        let id = row.0;
        let decrypt = |column: &str,
                       envelope: &Option<Vec<u8>>|
         -> Result<Option<String>, StoreError> {
            envelope
                .as_ref()
                .map(|e| {
                    let plain = keys.decrypt(&aad(column, id), e).map_err(|err| {
                        StoreError::Corrupt(format!(
                            "the {column} of data subject {id} does not decrypt: {err}; check \
                             that the configured keys include the key it was encrypted with"
                        ))
                    })?;
                    String::from_utf8(plain)
                        .map_err(|_| StoreError::Corrupt(format!("{column} of {id} is not text")))
                })
                .transpose()
        };
        let corrupt = |what: &str| StoreError::Corrupt(format!("data subject {id}: {what}"));
        Ok(SubjectIdentity {
            national_number: decrypt("national_number", &row.1)?
                .map(|d| d.parse().map_err(|_| corrupt("national number")))
                .transpose()?,
            bsn: decrypt("bsn", &row.2)?
                .map(|d| d.parse().map_err(|_| corrupt("BSN")))
                .transpose()?,
            email: row
                .3
                .as_deref()
                .map(|e| e.parse().map_err(|_| corrupt("e-mail")))
                .transpose()?,
            phone: row
                .4
                .as_deref()
                .map(|p| p.parse().map_err(|_| corrupt("phone")))
                .transpose()?,
            given_name: row.5.clone(),
            family_name: row.6.clone(),
            birth_date: row.7,
        })
    }

    /// Re-encrypts every identifier not under the current key and recomputes the blind
    /// indexes with it, in transactions of at most 1,000 subjects. Safe to run again after
    /// an interruption. Returns how many subjects were rewritten.
    pub async fn rotate_keys(&self) -> Result<usize, StoreError> {
        let keys = self.keys()?;
        let mut rewritten = 0;
        let mut after = Uuid::nil();
        loop {
            let rows: Vec<SubjectRow> = on_pool!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {SUBJECT_COLUMNS} WHERE id > $1 ORDER BY id LIMIT 1000"
                )))
                .bind(after)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.0) else {
                break;
            };
            let stale: Vec<&SubjectRow> = rows
                .iter()
                .filter(|r| {
                    [&r.1, &r.2]
                        .into_iter()
                        .flatten()
                        .any(|e| !keys.is_current(e))
                })
                .collect();
            let mut updates = Vec::new();
            for row in &stale {
                let identity = self.identity_from_row(row)?;
                let id = row.0;
                let sealed = seal(keys, id, &identity)?;
                updates.push((id, sealed.national_number, sealed.bsn));
            }
            if !updates.is_empty() {
                write_transaction!(self, |tx| {
                    for (id, (nn, nn_index), (bsn, bsn_index)) in &updates {
                        sqlx::query(
                            "UPDATE data_subjects SET national_number = $2, \
                             national_number_index = $3, bsn = $4, bsn_index = $5 WHERE id = $1",
                        )
                        .bind(*id)
                        .bind(nn.clone())
                        .bind(nn_index.clone())
                        .bind(bsn.clone())
                        .bind(bsn_index.clone())
                        .execute(&mut *tx)
                        .await?;
                    }
                });
                rewritten += updates.len();
            }
            after = last;
        }
        Ok(rewritten)
    }
}
