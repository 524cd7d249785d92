//! Retention enforcement: legal holds, extensions, the plan of what will be destroyed, the
//! DPO's destruction lists, and the sweep that destroys what is due.
//!
//! The sweep works in batches; each batch is one transaction that deletes the records,
//! writes their destruction-log and processing-log entries and moves the run's counters,
//! so a sweep killed between batches lost nothing and the next run goes on where it
//! stopped. One lease row (`job_leases`) makes sure only one kluis sweeps at a time; every
//! batch renews it, and every change that could make a record safe from destruction (a
//! hold, an extension) takes the same row, so it never interleaves with a batch.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use kluis_domain::access::{Role, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::destruction::{
    self, Destroyed, DestructionMethod, HoldScope, ListState, NewDestruction, NewHold, RunState,
};
use kluis_domain::identifiers::IdentifierKind;
use kluis_domain::inventory::{self, RecordRetention, SubjectIdentity};
use kluis_domain::processing_log::{LogAction, NewLogEntry};
use kluis_domain::register::ProcessingActivity;
use kluis_domain::retention::{Anonymisation, COPY_DATES, RetentionEvent, RetentionRule};
use sqlx::types::Json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log, append_log_bulk};
use crate::vault::{aad, load_activity};
use crate::{Store, StoreError, new_id, timestamp};

/// The lease row of the retention sweep.
const SWEEP_JOB: &str = "retention_sweep";

/// Rows per multi-row INSERT and per IN list: under both backends' bound-parameter limits.
const CHUNK: usize = 1_000;

/// A legal hold as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    pub id: Uuid,
    pub scope: HoldScope,
    /// The record's or subject's id, or the case reference.
    pub target: String,
    pub reason: String,
    pub from: Date,
    pub until: Option<Date>,
    pub placed_at: OffsetDateTime,
    pub placed_by: String,
    pub lifted_at: Option<OffsetDateTime>,
    pub lifted_by: Option<String>,
    pub lift_reason: Option<String>,
}

/// A record's retention after a staff member extended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub record_id: Uuid,
    pub extensions: u8,
    pub max_extensions: u8,
    /// The new deadline; None while the event the period runs from has not happened.
    pub deadline: Option<Date>,
}

/// What will be destroyed up to a day, per processing activity.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionPlan {
    pub until: Date,
    pub activities: Vec<PlanLine>,
}

/// One activity's part of the plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanLine {
    pub activity: String,
    pub controller: String,
    /// Records whose deadline falls on or before the plan's day and that no hold keeps.
    pub due: i64,
    /// Of `due`, those erased: their schedule has no `anonymise`.
    pub to_erase: i64,
    /// Of `due`, those anonymised: their schedule keeps an anonymous copy (the fields it
    /// names, dates generalised) and the link to the person goes.
    pub to_anonymise: i64,
    pub earliest_deadline: Option<Date>,
    /// Records past or reaching their deadline that a legal hold keeps.
    pub held: i64,
    /// Records kept while needed or under archive law: staff or the archivist review them.
    pub to_review: i64,
    /// The controller destroys only what the DPO approved on a destruction list.
    pub approval_required: bool,
    /// Of `due`, those on an approved destruction list.
    pub approved: i64,
}

/// A destruction list drawn up for the DPO.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DestructionList {
    pub id: Uuid,
    pub controller: String,
    pub until: Date,
    pub state: ListState,
    pub records: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    pub created_by: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub approved_at: Option<OffsetDateTime>,
    pub approved_by: Option<String>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub rejected_at: Option<OffsetDateTime>,
    pub rejected_by: Option<String>,
    pub rejection_reason: Option<String>,
}

/// How a sweep runs.
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Records per transaction.
    pub batch_size: usize,
    /// How long the lease lasts without renewal; each batch renews it.
    pub lease: time::Duration,
    /// The scheduled job: run only if no sweep finished today yet.
    pub once_per_day: bool,
    /// For tests: stop after this many batches as if killed, leaving the run "running"
    /// and the lease taken, as a crash would.
    pub stop_after_batches: Option<usize>,
}

impl Default for SweepOptions {
    fn default() -> Self {
        SweepOptions {
            batch_size: 10_000,
            lease: time::Duration::minutes(10),
            once_per_day: false,
            stop_after_batches: None,
        }
    }
}

/// What asking for a sweep led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepOutcome {
    /// This sweep ran; the run as it ended.
    Ran(RetentionRun),
    /// Another kluis holds the sweep's lease until then.
    Taken {
        holder: Option<String>,
        until: OffsetDateTime,
    },
    /// The daily sweep already ran on this day.
    AlreadyRanToday(Date),
}

/// A retention run as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RetentionRun {
    pub id: Uuid,
    pub state: RunState,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    pub started_by: String,
    pub destroyed: i64,
    pub subjects_deleted: i64,
    /// Records past their deadline that a legal hold kept.
    pub held: i64,
    /// Records past their deadline not yet on a list the DPO approved.
    pub awaiting_approval: i64,
    pub batches: i64,
    pub error: Option<String>,
}

/// One entry of the destruction log as read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DestructionLogEntry {
    pub seq: i64,
    pub run_id: Option<Uuid>,
    #[serde(with = "time::serde::rfc3339")]
    pub destroyed_at: OffsetDateTime,
    pub system: String,
    pub table: String,
    pub activity: String,
    pub schedule: String,
    pub rule: String,
    /// The record, when the entry is about one record destroyed on its own.
    pub record_id: Option<Uuid>,
    /// Every vault record the entry covers: `record_id`, or the records of a sweep's batch
    /// (one activity, schedule and deadline), as many as `rows`.
    pub record_ids: Vec<Uuid>,
    pub rows: i64,
    pub method: DestructionMethod,
    pub deadline: Option<Date>,
}

/// A record the sweep anonymised: no person, a new id, the fields its schedule keeps, and
/// no exact date: each to its month (`2026-09`), a birth date in a field to its year
/// (`kluis_domain::retention::COPY_DATES`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AnonymisedRecord {
    pub id: Uuid,
    pub activity: String,
    pub schedule: String,
    pub category: String,
    pub fields: BTreeMap<String, serde_json::Value>,
    /// The month the record's data was collected in.
    pub collected_in: String,
    /// The month its retention ended in.
    pub deadline_in: Option<String>,
    /// The month the sweep anonymised it in.
    pub anonymised_in: String,
}

/// A due record's columns that its anonymised copy keeps, as read in a batch.
type AnonymiseRow = (
    Uuid,
    String,
    String,
    String,
    Json<BTreeMap<String, serde_json::Value>>,
    Date,
    Option<Date>,
);

type HoldRow = (
    Uuid,
    String,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    String,
    Date,
    Option<Date>,
    OffsetDateTime,
    String,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
);

const HOLD_COLUMNS: &str = "id, scope, record_id, subject_id, case_ref, reason, held_from, \
     held_until, placed_at, placed_by, lifted_at, lifted_by, lift_reason FROM legal_holds";

fn hold_from_row(row: HoldRow) -> Result<Hold, StoreError> {
    let (id, scope, record, subject, case, reason, from, until, placed_at, placed_by, la, lb, lr) =
        row;
    let scope: HoldScope = scope
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("legal hold {id}: unknown scope")))?;
    let target = match scope {
        HoldScope::Record => record.map(|r| r.to_string()),
        HoldScope::Subject => subject.map(|s| s.to_string()),
        HoldScope::Case => case,
    }
    .ok_or_else(|| StoreError::Corrupt(format!("legal hold {id}: no target")))?;
    Ok(Hold {
        id,
        scope,
        target,
        reason,
        from,
        until,
        placed_at,
        placed_by,
        lifted_at: la,
        lifted_by: lb,
        lift_reason: lr,
    })
}

type ListRow = (
    Uuid,
    String,
    Date,
    String,
    i64,
    OffsetDateTime,
    String,
    Option<OffsetDateTime>,
    Option<String>,
    Option<OffsetDateTime>,
    Option<String>,
    Option<String>,
);

const LIST_COLUMNS: &str = "id, controller_id, until_date, state, records, created_at, \
     created_by, approved_at, approved_by, rejected_at, rejected_by, rejection_reason \
     FROM destruction_lists";

fn list_from_row(row: ListRow) -> Result<DestructionList, StoreError> {
    let (
        id,
        controller,
        until,
        state,
        records,
        created_at,
        created_by,
        approved_at,
        by,
        rejected_at,
        rejected_by,
        rejection_reason,
    ) = row;
    Ok(DestructionList {
        id,
        controller,
        until,
        state: state
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("destruction list {id}: unknown state")))?,
        records,
        created_at,
        created_by,
        approved_at,
        approved_by: by,
        rejected_at,
        rejected_by,
        rejection_reason,
    })
}

type RunRow = (
    Uuid,
    String,
    OffsetDateTime,
    Option<OffsetDateTime>,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    Option<String>,
);

const RUN_COLUMNS: &str = "id, state, started_at, finished_at, started_by, destroyed, \
     subjects_deleted, held, awaiting_approval, batches, error FROM retention_runs";

fn run_from_row(row: RunRow) -> Result<RetentionRun, StoreError> {
    let (id, state, started_at, finished_at, started_by, d, s, h, a, b, error) = row;
    Ok(RetentionRun {
        id,
        state: state
            .parse()
            .map_err(|_| StoreError::Corrupt(format!("retention run {id}: unknown state")))?,
        started_at,
        finished_at,
        started_by,
        destroyed: d,
        subjects_deleted: s,
        held: h,
        awaiting_approval: a,
        batches: b,
        error,
    })
}

type DestructionRow = (
    i64,
    Option<Uuid>,
    OffsetDateTime,
    String,
    String,
    String,
    String,
    String,
    Option<Uuid>,
    i64,
    String,
    Option<Date>,
    Option<Vec<u8>>,
);

/// The identifier columns of a data subject, enough to name them in the processing log.
type IdentityRow = (
    Uuid,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Date>,
    String,
);

/// The legal holds in force on a day, as sets the sweep and the plan test records against.
#[derive(Debug, Default)]
struct ActiveHolds {
    records: HashSet<Uuid>,
    subjects: HashSet<Uuid>,
    cases: HashSet<String>,
}

impl ActiveHolds {
    fn holds(&self, record: Uuid, subject: Uuid, case: Option<&str>) -> bool {
        self.records.contains(&record)
            || self.subjects.contains(&subject)
            || case.is_some_and(|c| self.cases.contains(c))
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.subjects.is_empty() && self.cases.is_empty()
    }

    /// `(r.id IN (..) OR r.subject_id IN (..) OR r.case_ref IN (..))`, or a false
    /// condition when nothing is held.
    fn push_condition<DB: sqlx::Database>(&self, q: &mut sqlx::QueryBuilder<DB>)
    where
        for<'t> Uuid: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
        for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    {
        q.push("(1 = 0");
        for (column, ids) in [("r.id", &self.records), ("r.subject_id", &self.subjects)] {
            if !ids.is_empty() {
                q.push(format!(" OR {column} IN ("));
                let mut list = q.separated(", ");
                for id in ids {
                    list.push_bind(*id);
                }
                q.push(")");
            }
        }
        if !self.cases.is_empty() {
            q.push(" OR r.case_ref IN (");
            let mut list = q.separated(", ");
            for c in &self.cases {
                list.push_bind(c.clone());
            }
            q.push(")");
        }
        q.push(")");
    }
}

/// Loads the holds in force on `$today` inside `$tx`.
macro_rules! active_holds {
    ($tx:ident, $today:expr) => {{
        let rows: Vec<(Option<Uuid>, Option<Uuid>, Option<String>)> = sqlx::query_as(
            "SELECT record_id, subject_id, case_ref FROM legal_holds WHERE lifted_at IS NULL \
             AND held_from <= $1 AND (held_until IS NULL OR held_until >= $1)",
        )
        .bind($today)
        .fetch_all(&mut *$tx)
        .await?;
        let mut holds = ActiveHolds::default();
        for (record, subject, case) in rows {
            if let Some(r) = record {
                holds.records.insert(r);
            }
            if let Some(s) = subject {
                holds.subjects.insert(s);
            }
            if let Some(c) = case {
                holds.cases.insert(c);
            }
        }
        holds
    }};
}

/// Takes the sweep's lease row inside `$tx`: a change that protects a record from
/// destruction waits for the batch in flight, and the next batch sees it.
macro_rules! serialise_with_sweep {
    ($tx:ident) => {
        sqlx::query("UPDATE job_leases SET name = name WHERE name = $1")
            .bind(SWEEP_JOB)
            .execute(&mut *$tx)
            .await?;
    };
}

/// Writes destruction-log entries inside `$tx`, in multi-row INSERTs.
macro_rules! insert_destructions {
    ($tx:ident, $run:expr, $now:expr, $entries:expr) => {{
        let run: Option<Uuid> = $run;
        let now: OffsetDateTime = $now;
        let entries: &[NewDestruction] = $entries;
        for chunk in entries.chunks(CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO destruction_log (run_id, destroyed_at, system, table_name, \
                 activity, schedule, rule, record_id, row_count, method, deadline) ",
            );
            insert.push_values(chunk, |mut row, e| {
                let (system, table) = e.what.place();
                let record_id = match &e.what {
                    Destroyed::VaultRecord { record_id } => Uuid::parse_str(record_id).ok(),
                    _ => None,
                };
                row.push_bind(run)
                    .push_bind(now)
                    .push_bind(system.to_string())
                    .push_bind(table.to_string())
                    .push_bind(e.activity.clone())
                    .push_bind(e.schedule.clone())
                    .push_bind(e.rule.clone())
                    .push_bind(record_id)
                    .push_bind(i64::try_from(e.what.rows()).unwrap_or(i64::MAX))
                    .push_bind(e.method.name())
                    .push_bind(e.deadline);
            });
            insert.build().execute(&mut *$tx).await?;
        }
    }};
}

fn millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_millis(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn invalid(e: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(e.to_string())
}

/// What the sweep's statements say differently per backend. A list of ids: PostgreSQL
/// binds one array (`= ANY($1)`), parsed once whatever its length; SQLite, which has no
/// arrays, binds each id (`IN (?, ..)`), as many per statement as its limit of 32,766
/// parameters allows. Many rows read as one: each backend's JSON functions.
trait SweepDialect: sqlx::Database {
    const IDS_PER_STATEMENT: usize;
    fn push_ids(q: &mut sqlx::QueryBuilder<Self>, column: &str, ids: &[Uuid]);
    /// The JSON array of SQL expressions, and the aggregate of such arrays as JSON text.
    const JSON_ARRAY: &'static str;
    const JSON_AGG: (&'static str, &'static str);
    /// A BLOB column in hex, for JSON.
    fn hex(column: &str) -> String;
    /// An id column as text (hex on SQLite, where ids are BLOBs), for JSON.
    fn id_text(column: &str) -> String;
}

impl SweepDialect for sqlx::Sqlite {
    const IDS_PER_STATEMENT: usize = 30_000;
    const JSON_ARRAY: &'static str = "json_array";
    const JSON_AGG: (&'static str, &'static str) = ("json_group_array(", ")");
    fn hex(column: &str) -> String {
        // hex(NULL) is '', which the reader takes as NULL.
        format!("hex({column})")
    }
    fn id_text(column: &str) -> String {
        format!("hex({column})")
    }
    fn push_ids(q: &mut sqlx::QueryBuilder<Self>, column: &str, ids: &[Uuid]) {
        q.push(column).push(" IN (");
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        q.push(")");
    }
}

impl SweepDialect for sqlx::Postgres {
    const IDS_PER_STATEMENT: usize = 1_000_000;
    const JSON_ARRAY: &'static str = "json_build_array";
    const JSON_AGG: (&'static str, &'static str) = ("json_agg(", ")::TEXT");
    fn hex(column: &str) -> String {
        format!("encode({column}, 'hex')")
    }
    fn id_text(column: &str) -> String {
        // A UUID is text in JSON already.
        column.to_string()
    }
    fn push_ids(q: &mut sqlx::QueryBuilder<Self>, column: &str, ids: &[Uuid]) {
        q.push(column)
            .push(" = ANY(")
            .push_bind(ids.to_vec())
            .push(")");
    }
}

/// `{head}{column} IN (ids){tail}`, in as few statements as the backend allows.
fn id_statements<DB: SweepDialect>(
    head: &str,
    column: &str,
    ids: &[Uuid],
    tail: &str,
) -> Vec<sqlx::QueryBuilder<DB>> {
    ids.chunks(DB::IDS_PER_STATEMENT)
        .map(|chunk| {
            let mut q = sqlx::QueryBuilder::new(head);
            DB::push_ids(&mut q, column, chunk);
            q.push(tail);
            q
        })
        .collect()
}

/// The next due records after `cursor` with their subjects' identifiers (the log names
/// each person erased), in (deadline, id) order, as one JSON array of [`CandidateJson`].
fn candidates_query<DB>(
    today: Date,
    cursor: Option<(Date, Uuid)>,
    limit: i64,
) -> sqlx::QueryBuilder<DB>
where
    DB: SweepDialect,
    for<'t> Date: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Uuid: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    DB::Arguments: Default,
{
    let columns = [
        DB::id_text("c.id"),
        DB::id_text("c.subject_id"),
        "c.activity_id".into(),
        "c.schedule".into(),
        "c.category".into(),
        "c.deadline".into(),
        "c.case_ref".into(),
        DB::hex("c.national_number"),
        DB::hex("c.bsn"),
        "c.email".into(),
        "c.phone".into(),
        "c.given_name".into(),
        "c.family_name".into(),
        "c.birth_date".into(),
        "c.recorded_under".into(),
    ]
    .join(", ");
    let (agg, agg_end) = DB::JSON_AGG;
    let mut q = sqlx::QueryBuilder::new(format!(
        "SELECT {agg}{}({columns}){agg_end} FROM (\
         SELECT r.id, r.subject_id, r.activity_id, r.schedule, r.category, r.deadline, \
         r.case_ref, s.national_number, s.bsn, s.email, s.phone, s.given_name, s.family_name, \
         s.birth_date, s.recorded_under \
         FROM records r JOIN data_subjects s ON s.id = r.subject_id \
         WHERE r.deadline_kind = 'on' AND r.deadline < ",
        DB::JSON_ARRAY
    ));
    q.push_bind(today);
    if let Some((d, id)) = cursor {
        // A row value, so both databases start the index scan right after the cursor.
        q.push(" AND (r.deadline, r.id) > (")
            .push_bind(d)
            .push(", ")
            .push_bind(id)
            .push(")");
    }
    q.push(" ORDER BY r.deadline, r.id LIMIT ")
        .push_bind(limit)
        .push(") c");
    q
}

/// Which of `ids` still exist as data subjects, as one JSON array of ids per statement.
fn kept_subjects_queries<DB: SweepDialect>(ids: &[Uuid]) -> Vec<sqlx::QueryBuilder<DB>> {
    let (agg, agg_end) = DB::JSON_AGG;
    id_statements(
        &format!(
            "SELECT {agg}{}{agg_end} FROM data_subjects WHERE ",
            DB::id_text("id")
        ),
        "id",
        ids,
        "",
    )
}

/// A due record and its subject's identifiers as [`candidates_query`] gives them: ids and
/// envelopes in hex, dates as text.
type CandidateJson = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    String,
);

fn uuid_of(hex: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(hex).map_err(|_| StoreError::Corrupt(format!("'{hex}' is not an id")))
}

fn date_of(text: &str) -> Result<Date, StoreError> {
    Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| StoreError::Corrupt(format!("'{text}' is not a date")))
}

fn candidate_from_json(row: CandidateJson) -> Result<(Candidate, IdentityRow), StoreError> {
    let (id, subject, activity, schedule, category, deadline, case_ref) =
        (row.0, row.1, row.2, row.3, row.4, row.5, row.6);
    let envelope = |hex: Option<String>| -> Result<Option<Vec<u8>>, StoreError> {
        match hex.filter(|h| !h.is_empty()) {
            None => Ok(None),
            Some(h) => hex::decode(&h).map(Some).map_err(|_| {
                StoreError::Corrupt(format!("data subject {subject}: an envelope is not hex"))
            }),
        }
    };
    let subject_id = uuid_of(&subject)?;
    let identity = (
        subject_id,
        envelope(row.7)?,
        envelope(row.8)?,
        row.9,
        row.10,
        row.11,
        row.12,
        row.13.as_deref().map(date_of).transpose()?,
        row.14,
    );
    let candidate = Candidate {
        id: uuid_of(&id)?,
        subject: subject_id,
        activity,
        schedule,
        category,
        deadline: date_of(&deadline)?,
        case_ref,
    };
    Ok((candidate, identity))
}

/// The records of one activity, schedule and deadline that a sweep's batch destroyed: one
/// destruction-log entry, however many records.
struct RecordsDestroyed<'c> {
    activity: &'c str,
    schedule: &'c str,
    rule: String,
    deadline: Date,
    method: DestructionMethod,
    ids: Vec<Uuid>,
}

/// Record ids as the destruction log keeps a batch's: 16 bytes each, one after the other.
fn pack_ids(ids: &[Uuid]) -> Vec<u8> {
    ids.iter().flat_map(|id| *id.as_bytes()).collect()
}

fn unpack_ids(packed: &[u8]) -> Option<Vec<Uuid>> {
    let ids = packed.chunks_exact(16);
    if !ids.remainder().is_empty() {
        return None;
    }
    Some(
        ids.map(|b| Uuid::from_bytes(b.try_into().unwrap_or_default()))
            .collect(),
    )
}

/// The INSERTs of a batch's record entries, each with its ids packed.
fn batch_destruction_statements<DB>(
    run: Uuid,
    now: OffsetDateTime,
    destroyed: &[RecordsDestroyed<'_>],
) -> Vec<sqlx::QueryBuilder<DB>>
where
    DB: sqlx::Database,
    for<'t> Uuid: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> OffsetDateTime: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Date: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> String: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> &'static str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Vec<u8>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    for<'t> Option<Uuid>: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    DB::Arguments: Default,
{
    destroyed
        .chunks(CHUNK)
        .map(|chunk| {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO destruction_log (run_id, destroyed_at, system, table_name, \
                 activity, schedule, rule, record_id, row_count, method, deadline, record_ids) ",
            );
            insert.push_values(chunk, |mut row, d| {
                row.push_bind(run)
                    .push_bind(now)
                    .push_bind("kluis")
                    .push_bind("records")
                    .push_bind(d.activity.to_string())
                    .push_bind(d.schedule.to_string())
                    .push_bind(d.rule.clone())
                    .push_bind(None::<Uuid>)
                    .push_bind(i64::try_from(d.ids.len()).unwrap_or(i64::MAX))
                    .push_bind(d.method.name())
                    .push_bind(d.deadline)
                    .push_bind(pack_ids(&d.ids));
            });
            insert
        })
        .collect()
}

/// What the sweep knows of each activity for the whole run.
struct ActivityInfo {
    log: ActivityRef,
    controller: String,
    rules: BTreeMap<String, RetentionRule>,
    /// The schedules whose records are anonymised, with what they keep.
    anonymise: BTreeMap<String, Anonymisation>,
}

impl ActivityInfo {
    /// What a record of `schedule` keeps when anonymised; None when it is erased.
    fn keeps(&self, schedule: &str) -> Option<&Anonymisation> {
        self.anonymise.get(schedule)
    }
}

/// A due record the batch looked at.
struct Candidate {
    id: Uuid,
    subject: Uuid,
    activity: String,
    schedule: String,
    category: String,
    deadline: Date,
    case_ref: Option<String>,
}

/// What one batch did.
#[derive(Default)]
struct BatchOutcome {
    looked_at: usize,
    /// Where the next batch starts: (deadline, id) of the last record looked at.
    cursor: Option<(Date, Uuid)>,
    lease_lost: bool,
}

impl Store {
    // ── Legal holds ──────────────────────────────────────────────────────────────────

    /// Places a legal hold: held data is never swept while the hold applies. Logged for
    /// every data subject whose records it covers.
    pub async fn place_hold(
        &self,
        processing: &Processing,
        hold: &NewHold,
    ) -> Result<Hold, StoreError> {
        let now = timestamp(processing.now);
        hold.check(now.date()).map_err(invalid)?;
        let parse_id = |what: &str| {
            Uuid::parse_str(hold.target.trim()).map_err(|_| {
                StoreError::Invalid(format!(
                    "'{}' is not a {what} id: give the id kluis shows for the {what}",
                    hold.target
                ))
            })
        };
        let (record_id, subject_id, case_ref) = match hold.scope {
            HoldScope::Record => (Some(parse_id("record")?), None, None),
            HoldScope::Subject => (None, Some(parse_id("data subject")?), None),
            HoldScope::Case => (None, None, Some(hold.target.trim().to_string())),
        };
        let covered = self
            .covered_records(record_id, subject_id, case_ref.as_deref())
            .await?;
        if let Some(id) = record_id.filter(|_| covered.is_empty()) {
            return Err(StoreError::NotFound {
                what: "record",
                id: id.to_string(),
            });
        }
        if let Some(id) = subject_id
            && self.subject_unlogged(id).await?.is_none()
        {
            return Err(StoreError::NotFound {
                what: "data subject",
                id: id.to_string(),
            });
        }
        let entries = self.hold_log_entries(processing, &covered).await?;
        let id = new_id(now)?;
        let placed_by = processing.actor.name.clone();
        write_transaction!(self, |tx| {
            serialise_with_sweep!(tx);
            sqlx::query(
                "INSERT INTO legal_holds (id, scope, record_id, subject_id, case_ref, reason, \
                 held_from, held_until, placed_at, placed_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(id)
            .bind(hold.scope.name())
            .bind(record_id)
            .bind(subject_id)
            .bind(case_ref.clone())
            .bind(hold.reason.trim())
            .bind(hold.from)
            .bind(hold.until)
            .bind(now)
            .bind(&placed_by)
            .execute(&mut *tx)
            .await?;
            append_log!(tx, processing, entries);
        });
        self.hold(id).await
    }

    /// Lifts a hold: recorded with who, when and why, never deleted.
    pub async fn lift_hold(
        &self,
        processing: &Processing,
        id: Uuid,
        reason: &str,
    ) -> Result<Hold, StoreError> {
        let now = timestamp(processing.now);
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid(
                "say why the hold is lifted (the case closed, the court ruled)".into(),
            ));
        }
        let hold = self.hold(id).await?;
        if hold.lifted_at.is_some() {
            return Err(StoreError::Invalid(format!(
                "legal hold {id} was already lifted on {}",
                hold.lifted_at
                    .map(|t| t.date().to_string())
                    .unwrap_or_default()
            )));
        }
        let (record_id, subject_id, case_ref) = match hold.scope {
            HoldScope::Record => (Uuid::parse_str(&hold.target).ok(), None, None),
            HoldScope::Subject => (None, Uuid::parse_str(&hold.target).ok(), None),
            HoldScope::Case => (None, None, Some(hold.target.clone())),
        };
        let covered = self
            .covered_records(record_id, subject_id, case_ref.as_deref())
            .await?;
        let entries = self.hold_log_entries(processing, &covered).await?;
        write_transaction!(self, |tx| {
            let changed = sqlx::query(
                "UPDATE legal_holds SET lifted_at = $2, lifted_by = $3, lift_reason = $4 \
                 WHERE id = $1 AND lifted_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .bind(&processing.actor.name)
            .bind(reason.trim())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::Invalid(format!(
                    "legal hold {id} was lifted by someone else just now"
                )));
            }
            append_log!(tx, processing, entries);
        });
        self.hold(id).await
    }

    /// One legal hold.
    pub async fn hold(&self, id: Uuid) -> Result<Hold, StoreError> {
        let row: Option<HoldRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {HOLD_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        hold_from_row(row.ok_or_else(|| StoreError::NotFound {
            what: "legal hold",
            id: id.to_string(),
        })?)
    }

    /// Legal holds, newest first; lifted ones too when asked.
    pub async fn holds(&self, with_lifted: bool) -> Result<Vec<Hold>, StoreError> {
        let rows: Vec<HoldRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {HOLD_COLUMNS} WHERE $1 OR lifted_at IS NULL ORDER BY placed_at DESC, id"
            )))
            .bind(with_lifted)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(hold_from_row).collect()
    }

    /// Links a record to a case (or unlinks it with None), so a hold on the case holds it.
    pub async fn link_record_to_case(
        &self,
        processing: &Processing,
        record_id: Uuid,
        case_ref: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = timestamp(processing.now);
        let case_ref = case_ref.map(str::trim);
        if case_ref.is_some_and(|c| c.is_empty() || c.chars().count() > 100) {
            return Err(StoreError::Invalid(
                "a case reference is 1 to 100 characters".into(),
            ));
        }
        let covered = self.covered_records(Some(record_id), None, None).await?;
        if covered.is_empty() {
            return Err(StoreError::NotFound {
                what: "record",
                id: record_id.to_string(),
            });
        }
        let entries = self.hold_log_entries(processing, &covered).await?;
        write_transaction!(self, |tx| {
            serialise_with_sweep!(tx);
            sqlx::query(
                "UPDATE records SET case_ref = $2, version = version + 1, updated_at = $3 \
                 WHERE id = $1",
            )
            .bind(record_id)
            .bind(case_ref)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append_log!(tx, processing, entries);
        });
        Ok(())
    }

    /// The identifiers of the people a legal hold in force on `today` keeps: those held
    /// themselves, and those whose held records, or records of a held case, the vault
    /// holds. The sweep of connected systems leaves these people's rows alone: a dataset
    /// map cannot tell which of a person's rows belong to a record or a case, so a hold
    /// on one keeps them all. (A person known only by name and birth date has no
    /// identifier a dataset map can match.)
    pub async fn held_people(&self, today: Date) -> Result<Vec<SubjectIdentity>, StoreError> {
        let ids: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT s.id FROM data_subjects s WHERE EXISTS (SELECT 1 FROM legal_holds h \
                 WHERE h.lifted_at IS NULL AND h.held_from <= $1 \
                 AND (h.held_until IS NULL OR h.held_until >= $1) \
                 AND (h.subject_id = s.id OR EXISTS (SELECT 1 FROM records r \
                 WHERE r.subject_id = s.id AND (r.id = h.record_id OR r.case_ref = h.case_ref)))) \
                 ORDER BY s.id",
            )
            .bind(today)
            .fetch_all(pool)
            .await?
        });
        let mut people = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(subject) = self.subject_unlogged(id).await? {
                people.push(subject.identity);
            }
        }
        Ok(people)
    }

    /// The reasons of the legal holds in force on `today` that keep data of the data
    /// subject `subject_id`: on the person, one of their records, or a case one of their
    /// records belongs to. Empty when none does.
    pub async fn hold_reasons(
        &self,
        subject_id: Uuid,
        today: Date,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT DISTINCT h.reason FROM legal_holds h WHERE h.lifted_at IS NULL \
                 AND h.held_from <= $2 AND (h.held_until IS NULL OR h.held_until >= $2) \
                 AND (h.subject_id = $1 OR EXISTS (SELECT 1 FROM records r \
                 WHERE r.subject_id = $1 AND (r.id = h.record_id OR r.case_ref = h.case_ref))) \
                 ORDER BY h.reason",
            )
            .bind(subject_id)
            .bind(today)
            .fetch_all(pool)
            .await?
        }))
    }

    /// The records the sweep anonymised for `activity`, oldest first (for tests: nothing
    /// in kluis reads the copies back yet).
    #[cfg(feature = "testing")]
    pub async fn anonymised_records(
        &self,
        activity: &str,
    ) -> Result<Vec<AnonymisedRecord>, StoreError> {
        type Row = (
            Uuid,
            String,
            String,
            String,
            Json<BTreeMap<String, serde_json::Value>>,
            String,
            Option<String>,
            String,
        );
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, activity_id, schedule, category, fields, collected_in, deadline_in, \
                 anonymised_in FROM anonymised_records WHERE activity_id = $1 \
                 ORDER BY anonymised_in, id",
            )
            .bind(activity)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(
                    id,
                    activity,
                    schedule,
                    category,
                    Json(fields),
                    collected_in,
                    deadline_in,
                    at,
                )| {
                    AnonymisedRecord {
                        id,
                        activity,
                        schedule,
                        category,
                        fields,
                        collected_in,
                        deadline_in,
                        anonymised_in: at,
                    }
                },
            )
            .collect())
    }

    /// Whether the vault still holds a record, without reading its data (for tests).
    #[cfg(feature = "testing")]
    pub async fn record_exists(&self, id: Uuid) -> Result<bool, StoreError> {
        Ok(!self.covered_records(Some(id), None, None).await?.is_empty())
    }

    /// (record, subject, activity, category) of the records a hold target covers.
    async fn covered_records(
        &self,
        record: Option<Uuid>,
        subject: Option<Uuid>,
        case: Option<&str>,
    ) -> Result<Vec<(Uuid, Uuid, String, String)>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, subject_id, activity_id, category FROM records \
                 WHERE id = $1 OR subject_id = $2 OR case_ref = $3 ORDER BY id",
            )
            .bind(record)
            .bind(subject)
            .bind(case)
            .fetch_all(pool)
            .await?
        }))
    }

    /// One Update entry per subject and activity of the records a hold changes.
    async fn hold_log_entries(
        &self,
        processing: &Processing,
        covered: &[(Uuid, Uuid, String, String)],
    ) -> Result<Vec<NewLogEntry>, StoreError> {
        let mut grouped: BTreeMap<(Uuid, &str), BTreeSet<&str>> = BTreeMap::new();
        for (_, subject, activity, category) in covered {
            grouped
                .entry((*subject, activity.as_str()))
                .or_default()
                .insert(category.as_str());
        }
        let mut refs: HashMap<&str, ActivityRef> = HashMap::new();
        let mut names: HashMap<Uuid, (String, String)> = HashMap::new();
        let mut entries = Vec::new();
        for ((subject, activity), categories) in grouped {
            if !refs.contains_key(activity) {
                let a = self
                    .activity(activity)
                    .await?
                    .ok_or_else(|| StoreError::NotFound {
                        what: "processing activity",
                        id: activity.to_string(),
                    })?;
                refs.insert(activity, ActivityRef::from_activity(&a.value, a.version));
            }
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(subject) {
                slot.insert(self.subject_for_log(subject).await?.1);
            }
            entries.push(refs[activity].entry(
                LogAction::Update,
                names[&subject].clone(),
                categories.into_iter().map(str::to_string).collect(),
                processing.case_ref.clone(),
            ));
        }
        Ok(entries)
    }

    // ── Extensions ───────────────────────────────────────────────────────────────────

    /// Extends an extendable retention period by one extension (a staff decision, e.g. to
    /// keep an applicant in the reserve another year); refused beyond the rule's cap.
    pub async fn extend_retention(
        &self,
        processing: &Processing,
        record_id: Uuid,
        scope: &Scope,
    ) -> Result<Extension, StoreError> {
        let now = timestamp(processing.now);
        let covered = self.covered_records(Some(record_id), None, None).await?;
        let Some((_, subject_id, activity_id, _)) = covered.first().cloned() else {
            return Err(StoreError::NotFound {
                what: "record",
                id: record_id.to_string(),
            });
        };
        if !scope.allows(&activity_id) {
            let activities = vec![activity_id];
            self.record_refusal(processing, subject_id, &activities)
                .await?;
            return Err(StoreError::OutOfScope { activities });
        }
        let entries = self.hold_log_entries(processing, &covered).await?;
        let extension = write_transaction!(self, |tx| {
            serialise_with_sweep!(tx);
            type Row = (String, Date, Json<BTreeMap<RetentionEvent, Date>>, i64);
            let (schedule, collected_on, Json(events), extensions): Row = sqlx::query_as(
                "SELECT schedule, collected_on, events, extensions FROM records WHERE id = $1",
            )
            .bind(record_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "record",
                id: record_id.to_string(),
            })?;
            let (activity, _) = load_activity!(tx, &activity_id);
            let schedule = inventory::schedule(&activity, Some(&schedule)).map_err(invalid)?;
            let current = u8::try_from(extensions).unwrap_or(u8::MAX);
            let next = destruction::extend(&schedule.rule, current).map_err(invalid)?;
            let deadline = inventory::deadline(
                schedule,
                &RecordRetention {
                    collected_on: Some(collected_on),
                    events,
                    birth_date: None,
                    extensions: next,
                    withdrawn_on: None,
                },
            )
            .map_err(invalid)?;
            let (kind, date, event) = inventory::deadline_columns(&deadline);
            sqlx::query(
                "UPDATE records SET extensions = $2, deadline_kind = $3, deadline = $4, \
                 deadline_event = $5, version = version + 1, updated_at = $6 WHERE id = $1",
            )
            .bind(record_id)
            .bind(i64::from(next))
            .bind(kind)
            .bind(date)
            .bind(event)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            append_log!(tx, processing, entries);
            let max_extensions = match &schedule.rule {
                RetentionRule::Extendable { max_extensions, .. } => *max_extensions,
                _ => 0,
            };
            Extension {
                record_id,
                extensions: next,
                max_extensions,
                deadline: date,
            }
        });
        Ok(extension)
    }

    // ── Approval and destruction lists ───────────────────────────────────────────────

    /// Says whether a controller destroys only what the DPO approved on a list.
    pub async fn set_destruction_approval(
        &self,
        controller: &str,
        required: bool,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        if self.controller(controller).await?.is_none() {
            return Err(StoreError::NotFound {
                what: "controller",
                id: controller.to_string(),
            });
        }
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO destruction_approval (controller_id, required, set_at, set_by) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (controller_id) DO UPDATE SET \
                 required = excluded.required, set_at = excluded.set_at, set_by = excluded.set_by",
            )
            .bind(controller)
            .bind(required)
            .bind(now)
            .bind(by)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The controllers that destroy only what the DPO approved.
    pub async fn controllers_requiring_approval(&self) -> Result<BTreeSet<String>, StoreError> {
        let rows: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT controller_id FROM destruction_approval WHERE required ORDER BY 1",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().collect())
    }

    /// Draws up a destruction list for a controller that requires approval: its records
    /// due on or before `until` that no hold keeps and no approved list has yet.
    pub async fn create_destruction_list(
        &self,
        controller: &str,
        until: Date,
        by: &str,
        now: OffsetDateTime,
    ) -> Result<DestructionList, StoreError> {
        let now = timestamp(now);
        if !self
            .controllers_requiring_approval()
            .await?
            .contains(controller)
        {
            return Err(StoreError::Invalid(format!(
                "controller '{controller}' does not require approval of destruction: the sweep \
                 destroys its records when due; to require it, run `kluis retention approval \
                 --controller {controller} --required true`"
            )));
        }
        let id = new_id(now)?;
        let count = write_transaction!(self, |tx| {
            let holds = active_holds!(tx, now.date());
            let rows: Vec<(Uuid, Uuid, Option<String>)> = sqlx::query_as(
                "SELECT r.id, r.subject_id, r.case_ref FROM records r \
                 JOIN activities a ON a.id = r.activity_id \
                 WHERE a.controller_id = $1 AND r.deadline_kind = 'on' AND r.deadline <= $2 \
                 AND NOT EXISTS (SELECT 1 FROM destruction_list_records lr \
                   JOIN destruction_lists l ON l.id = lr.list_id \
                   WHERE lr.record_id = r.id AND l.state = 'approved') \
                 ORDER BY r.deadline, r.id",
            )
            .bind(controller)
            .bind(until)
            .fetch_all(&mut *tx)
            .await?;
            let listed: Vec<Uuid> = rows
                .into_iter()
                .filter(|(r, s, c)| !holds.holds(*r, *s, c.as_deref()))
                .map(|(r, _, _)| r)
                .collect();
            if listed.is_empty() {
                return Err(StoreError::Invalid(format!(
                    "nothing of controller '{controller}' is due on or before {until} (held \
                     records and records already approved are left out)"
                )));
            }
            sqlx::query(
                "INSERT INTO destruction_lists (id, controller_id, until_date, state, records, \
                 created_at, created_by) VALUES ($1, $2, $3, 'proposed', $4, $5, $6)",
            )
            .bind(id)
            .bind(controller)
            .bind(until)
            .bind(i64::try_from(listed.len()).unwrap_or(i64::MAX))
            .bind(now)
            .bind(by)
            .execute(&mut *tx)
            .await?;
            for chunk in listed.chunks(CHUNK) {
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO destruction_list_records (list_id, record_id) ",
                );
                insert.push_values(chunk, |mut row, r| {
                    row.push_bind(id).push_bind(*r);
                });
                insert.build().execute(&mut *tx).await?;
            }
            listed.len()
        });
        tracing::info!(%id, controller, records = count, "destruction list drawn up");
        self.destruction_list(id).await
    }

    /// The DPO approves a list; refused for anyone else, for a list already approved, and
    /// while a legal hold covers a listed record (the DPO draws up a fresh list).
    pub async fn approve_destruction_list(
        &self,
        id: Uuid,
        dpo: &str,
        now: OffsetDateTime,
    ) -> Result<DestructionList, StoreError> {
        let now = timestamp(now);
        let user = self.dpo_account(dpo, "approves").await?;
        write_transaction!(self, |tx| {
            serialise_with_sweep!(tx);
            let state: Option<String> =
                sqlx::query_scalar("SELECT state FROM destruction_lists WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            match state.as_deref() {
                None => {
                    return Err(StoreError::NotFound {
                        what: "destruction list",
                        id: id.to_string(),
                    });
                }
                Some("proposed") => {}
                Some(other) => {
                    return Err(StoreError::Invalid(format!(
                        "destruction list {id} is {other}, not proposed: it cannot be approved again"
                    )));
                }
            }
            let holds = active_holds!(tx, now.date());
            if !holds.is_empty() {
                let rows: Vec<(Uuid, Uuid, Option<String>)> = sqlx::query_as(
                    "SELECT r.id, r.subject_id, r.case_ref FROM destruction_list_records lr \
                     JOIN records r ON r.id = lr.record_id WHERE lr.list_id = $1",
                )
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                let held = rows
                    .iter()
                    .filter(|(r, s, c)| holds.holds(*r, *s, c.as_deref()))
                    .count();
                if held > 0 {
                    return Err(StoreError::Invalid(format!(
                        "{held} records on destruction list {id} came under a legal hold since \
                         it was drawn up: held data is never destroyed; draw up a new list"
                    )));
                }
            }
            sqlx::query(
                "UPDATE destruction_lists SET state = 'approved', approved_at = $2, \
                 approved_by = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(now)
            .bind(&user.username)
            .execute(&mut *tx)
            .await?;
        });
        self.destruction_list(id).await
    }

    /// The DPO rejects a proposed list, with the reason: nothing it lists is destroyed by
    /// it, and the next list drawn up lists those records again. Refused for anyone else,
    /// without a reason, and for a list no longer proposed.
    pub async fn reject_destruction_list(
        &self,
        id: Uuid,
        dpo: &str,
        reason: &str,
        now: OffsetDateTime,
    ) -> Result<DestructionList, StoreError> {
        let now = timestamp(now);
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(StoreError::Invalid(
                "say why the list is rejected: the reason is kept with the list".into(),
            ));
        }
        let user = self.dpo_account(dpo, "rejects").await?;
        write_transaction!(self, |tx| {
            let rejected = sqlx::query(
                "UPDATE destruction_lists SET state = 'rejected', rejected_at = $2, \
                 rejected_by = $3, rejection_reason = $4 WHERE id = $1 AND state = 'proposed'",
            )
            .bind(id)
            .bind(now)
            .bind(&user.username)
            .bind(reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if rejected == 0 {
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM destruction_lists WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&mut *tx)
                        .await?;
                return Err(match state {
                    None => StoreError::NotFound {
                        what: "destruction list",
                        id: id.to_string(),
                    },
                    Some(state) => StoreError::Invalid(format!(
                        "destruction list {id} is {state}, not proposed: only a proposed list \
                         is rejected"
                    )),
                });
            }
        });
        self.destruction_list(id).await
    }

    /// The enabled account `username` with the dpo role, or why not: only the DPO `does`
    /// (approves, rejects) destruction lists.
    async fn dpo_account(&self, username: &str, does: &str) -> Result<crate::User, StoreError> {
        let user = self
            .user_by_username(username)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "staff account",
                id: username.to_string(),
            })?;
        if user.disabled || !user.roles.contains(&Role::Dpo) {
            return Err(StoreError::Invalid(format!(
                "'{username}' is not the data protection officer: only an account with the \
                 dpo role {does} destruction lists"
            )));
        }
        Ok(user)
    }

    pub async fn destruction_list(&self, id: Uuid) -> Result<DestructionList, StoreError> {
        let row: Option<ListRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LIST_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        list_from_row(row.ok_or_else(|| StoreError::NotFound {
            what: "destruction list",
            id: id.to_string(),
        })?)
    }

    /// Destruction lists, newest first.
    pub async fn destruction_lists(&self) -> Result<Vec<DestructionList>, StoreError> {
        let rows: Vec<ListRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {LIST_COLUMNS} ORDER BY created_at DESC, id"
            )))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(list_from_row).collect()
    }

    // ── The plan ─────────────────────────────────────────────────────────────────────

    /// What will be destroyed up to and including `until`, per activity, erased and
    /// anonymised apart, leaving out what the holds in force on `today` keep (counted
    /// apart), with the records to review.
    pub async fn retention_plan(
        &self,
        until: Date,
        today: Date,
    ) -> Result<RetentionPlan, StoreError> {
        let approval = self.controllers_requiring_approval().await?;
        let controllers: BTreeMap<String, String> = on_pool!(self, |pool| {
            sqlx::query_as::<_, (String, String)>("SELECT id, controller_id FROM activities")
                .fetch_all(pool)
                .await?
                .into_iter()
                .collect()
        });
        type Counts = Vec<(String, i64, Option<String>)>;
        let (due, held, approved, review, by_schedule): (Counts, Counts, Counts, Counts, Counts) =
            read_transaction!(self, |tx| {
                let holds = active_holds!(tx, today);
                // Per activity, with the earliest deadline; or per activity and schedule,
                // which says whether the records are erased or anonymised.
                let grouped = |held: Option<bool>, approved: bool, per_schedule: bool| {
                    let mut q = sqlx::QueryBuilder::new(if per_schedule {
                        "SELECT r.activity_id, COUNT(*), r.schedule \
                         FROM records r WHERE r.deadline_kind = 'on' AND r.deadline <= "
                    } else {
                        "SELECT r.activity_id, COUNT(*), CAST(MIN(r.deadline) AS TEXT) \
                         FROM records r WHERE r.deadline_kind = 'on' AND r.deadline <= "
                    });
                    q.push_bind(until);
                    match held {
                        Some(true) => {
                            q.push(" AND ");
                            holds.push_condition(&mut q);
                        }
                        Some(false) => {
                            q.push(" AND NOT ");
                            holds.push_condition(&mut q);
                        }
                        None => {}
                    }
                    if approved {
                        q.push(
                            " AND EXISTS (SELECT 1 FROM destruction_list_records lr \
                             JOIN destruction_lists l ON l.id = lr.list_id \
                             WHERE lr.record_id = r.id AND l.state = 'approved')",
                        );
                    }
                    q.push(if per_schedule {
                        " GROUP BY r.activity_id, r.schedule"
                    } else {
                        " GROUP BY r.activity_id"
                    });
                    q
                };
                let due: Counts = grouped(Some(false), false, false)
                    .build_query_as()
                    .fetch_all(&mut *tx)
                    .await?;
                let by_schedule: Counts = grouped(Some(false), false, true)
                    .build_query_as()
                    .fetch_all(&mut *tx)
                    .await?;
                let held: Counts = if holds.is_empty() {
                    Vec::new()
                } else {
                    grouped(Some(true), false, false)
                        .build_query_as()
                        .fetch_all(&mut *tx)
                        .await?
                };
                let approved: Counts = if approval.is_empty() {
                    Vec::new()
                } else {
                    grouped(Some(false), true, false)
                        .build_query_as()
                        .fetch_all(&mut *tx)
                        .await?
                };
                let review: Counts = sqlx::query_as(
                    "SELECT activity_id, COUNT(*), CAST(NULL AS TEXT) FROM records \
                     WHERE deadline_kind IN ('need_review', 'archive_review') \
                     GROUP BY activity_id",
                )
                .fetch_all(&mut *tx)
                .await?;
                (due, held, approved, review, by_schedule)
            });
        let mut lines: BTreeMap<String, PlanLine> = BTreeMap::new();
        fn line<'l>(
            lines: &'l mut BTreeMap<String, PlanLine>,
            controllers: &BTreeMap<String, String>,
            approval: &BTreeSet<String>,
            activity: &str,
        ) -> &'l mut PlanLine {
            lines.entry(activity.to_string()).or_insert_with(|| {
                let controller = controllers.get(activity).cloned().unwrap_or_default();
                PlanLine {
                    activity: activity.to_string(),
                    approval_required: approval.contains(&controller),
                    controller,
                    due: 0,
                    to_erase: 0,
                    to_anonymise: 0,
                    earliest_deadline: None,
                    held: 0,
                    to_review: 0,
                    approved: 0,
                }
            })
        }
        let date = |s: Option<String>| -> Result<Option<Date>, StoreError> {
            s.map(|s| {
                Date::parse(
                    &s,
                    time::macros::format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| StoreError::Corrupt(format!("deadline '{s}' is not a date")))
            })
            .transpose()
        };
        for (activity, n, earliest) in due {
            let l = line(&mut lines, &controllers, &approval, &activity);
            l.due = n;
            l.earliest_deadline = date(earliest)?;
        }
        // The activity's schedule decides: anonymised when it says so, erased otherwise.
        let activities = self.sweep_context().await?;
        for (activity, n, schedule) in by_schedule {
            let anonymised = activities
                .get(&activity)
                .zip(schedule.as_deref())
                .is_some_and(|(a, s)| a.keeps(s).is_some());
            let l = line(&mut lines, &controllers, &approval, &activity);
            if anonymised {
                l.to_anonymise += n;
            } else {
                l.to_erase += n;
            }
        }
        for (activity, n, _) in held {
            line(&mut lines, &controllers, &approval, &activity).held = n;
        }
        for (activity, n, _) in approved {
            line(&mut lines, &controllers, &approval, &activity).approved = n;
        }
        for (activity, n, _) in review {
            line(&mut lines, &controllers, &approval, &activity).to_review = n;
        }
        Ok(RetentionPlan {
            until,
            activities: lines.into_values().collect(),
        })
    }

    // ── The sweep ────────────────────────────────────────────────────────────────────

    /// Takes a job's lease until `now + duration` if it expired (and, with `once_on`, if the
    /// job did not run on that day yet). Returns whether this caller holds it now.
    pub async fn take_job_lease(
        &self,
        job: &str,
        holder: &str,
        now: OffsetDateTime,
        duration: time::Duration,
        once_on: Option<Date>,
    ) -> Result<bool, StoreError> {
        let taken = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE job_leases SET holder = $2, leased_until = $3 \
                 WHERE name = $1 AND leased_until <= $4 \
                 AND ($5 IS NULL OR last_run_on IS NULL OR last_run_on < $5)",
            )
            .bind(job)
            .bind(holder)
            .bind(millis(now + duration))
            .bind(millis(now))
            .bind(once_on)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(taken == 1)
    }

    /// Gives a job's lease back; `ran_on` records the day it completed.
    pub async fn release_job_lease(
        &self,
        job: &str,
        holder: &str,
        now: OffsetDateTime,
        ran_on: Option<Date>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE job_leases SET holder = NULL, leased_until = $3, \
                 last_run_on = COALESCE($4, last_run_on) WHERE name = $1 AND holder = $2",
            )
            .bind(job)
            .bind(holder)
            .bind(millis(now))
            .bind(ran_on)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Destroys every vault record whose deadline has passed (`deadline < today`), unless
    /// a legal hold keeps it or its controller requires approval and no approved list
    /// names it. Data subjects left with nothing are deleted too. `processing` names the
    /// job (ActorKind::SystemJob) and the clock.
    pub async fn sweep_retention(
        &self,
        processing: &Processing,
        options: &SweepOptions,
    ) -> Result<SweepOutcome, StoreError> {
        if options.batch_size == 0 || options.batch_size > 100_000 {
            return Err(StoreError::Invalid(
                "a sweep's batch size is between 1 and 100,000 records".into(),
            ));
        }
        let now = timestamp(processing.now);
        let today = now.date();
        let run_id = new_id(now)?;
        let holder = run_id.to_string();
        let once_on = options.once_per_day.then_some(today);
        if !self
            .take_job_lease(SWEEP_JOB, &holder, now, options.lease, once_on)
            .await?
        {
            let (holder, until, last): (Option<String>, i64, Option<Date>) =
                on_pool!(self, |pool| {
                    sqlx::query_as(
                        "SELECT holder, leased_until, last_run_on FROM job_leases WHERE name = $1",
                    )
                    .bind(SWEEP_JOB)
                    .fetch_one(pool)
                    .await?
                });
            if let (Some(day), Some(last)) = (once_on, last)
                && last >= day
                && until <= millis(now)
            {
                return Ok(SweepOutcome::AlreadyRanToday(last));
            }
            return Ok(SweepOutcome::Taken {
                holder,
                until: from_millis(until),
            });
        }
        let activities = self.sweep_context().await?;
        let approval = self.controllers_requiring_approval().await?;
        let references = self.subject_references().await?;
        on_pool!(self, |pool| {
            // A run still marked running lost its lease: its process was killed.
            sqlx::query(
                "UPDATE retention_runs SET state = 'interrupted', finished_at = $1 \
                 WHERE state = 'running'",
            )
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query(
                "INSERT INTO retention_runs (id, state, started_at, started_by, destroyed, \
                 subjects_deleted, held, awaiting_approval, batches) \
                 VALUES ($1, 'running', $2, $3, 0, 0, 0, 0, 0)",
            )
            .bind(run_id)
            .bind(now)
            .bind(&processing.actor.name)
            .execute(pool)
            .await?;
        });
        // The clock is the caller's; time spent sweeping moves the lease on from it.
        let started = std::time::Instant::now();
        let elapsed = || time::Duration::try_from(started.elapsed()).unwrap_or_default();
        let mut cursor: Option<(Date, Uuid)> = None;
        let mut batches = 0usize;
        let end: Result<Option<String>, StoreError> = loop {
            if options.stop_after_batches.is_some_and(|n| batches >= n) {
                // As if killed: the run stays running and the lease taken.
                return Ok(SweepOutcome::Ran(self.retention_run(run_id).await?));
            }
            let batch = self
                .sweep_batch(
                    processing,
                    run_id,
                    &holder,
                    now + elapsed() + options.lease,
                    options.batch_size,
                    cursor,
                    &activities,
                    &approval,
                    &references,
                )
                .await;
            match batch {
                Err(e) => break Err(e),
                Ok(b) if b.lease_lost => {
                    break Ok(Some(
                        "another kluis took over the sweep's lease: this run stopped".into(),
                    ));
                }
                Ok(b) if b.looked_at == 0 => break Ok(None),
                Ok(b) => {
                    cursor = b.cursor;
                    batches += 1;
                }
            }
        };
        let finished = timestamp(now + elapsed());
        let (state, error) = match &end {
            Ok(None) => (RunState::Finished, None),
            Ok(Some(m)) => (RunState::Stopped, Some(m.clone())),
            Err(e) => (RunState::Stopped, Some(e.to_string())),
        };
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE retention_runs SET state = $2, finished_at = $3, error = $4 WHERE id = $1",
            )
            .bind(run_id)
            .bind(state.name())
            .bind(finished)
            .bind(error)
            .execute(pool)
            .await?;
        });
        let ran_on = (state == RunState::Finished).then_some(today);
        self.release_job_lease(SWEEP_JOB, &holder, now, ran_on)
            .await?;
        end?;
        Ok(SweepOutcome::Ran(self.retention_run(run_id).await?))
    }

    /// Every (table, column) whose foreign key refers to a data subject, read from the
    /// schema itself, so a table added later also keeps the people it names.
    async fn subject_references(&self) -> Result<Vec<(String, String)>, StoreError> {
        let sql = match self.backend() {
            crate::Backend::Sqlite => {
                "SELECT m.name, f.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
                 WHERE m.type = 'table' AND f.\"table\" = 'data_subjects' ORDER BY 1, 2"
            }
            crate::Backend::Postgres => {
                "SELECT cl.relname::text, att.attname::text FROM pg_constraint c \
                 JOIN pg_class cl ON cl.oid = c.conrelid \
                 JOIN pg_attribute att ON att.attrelid = c.conrelid AND att.attnum = ANY (c.conkey) \
                 WHERE c.contype = 'f' AND c.confrelid = 'data_subjects'::regclass ORDER BY 1, 2"
            }
        };
        let rows: Vec<(String, String)> =
            on_pool!(self, |pool| { sqlx::query_as(sql).fetch_all(pool).await? });
        let plain = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        if let Some((t, c)) = rows.iter().find(|(t, c)| !plain(t) || !plain(c)) {
            return Err(StoreError::Corrupt(format!(
                "a foreign key to data_subjects from '{t}.{c}', a name kluis does not use"
            )));
        }
        Ok(rows)
    }

    /// Every activity with its log fields, controller and rules, loaded once per run.
    async fn sweep_context(&self) -> Result<HashMap<String, ActivityInfo>, StoreError> {
        let rows: Vec<(Json<ProcessingActivity>, i64)> = on_pool!(self, |pool| {
            sqlx::query_as("SELECT document, version FROM activities")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(Json(a), version)| {
                let info = ActivityInfo {
                    log: ActivityRef::from_activity(&a, version),
                    controller: a.controller.clone(),
                    rules: a
                        .retention
                        .iter()
                        .map(|s| (s.key.clone(), s.rule.clone()))
                        .collect(),
                    anonymise: a
                        .retention
                        .iter()
                        .filter_map(|s| Some((s.key.clone(), s.anonymise.clone()?)))
                        .collect(),
                };
                (a.id, info)
            })
            .collect())
    }

    /// One batch in one transaction: renew the lease, pick the next due records, skip the
    /// held and unapproved ones, delete the rest with their destruction-log and
    /// processing-log entries, delete the subjects left with nothing, count.
    #[allow(clippy::too_many_arguments)]
    async fn sweep_batch(
        &self,
        processing: &Processing,
        run_id: Uuid,
        holder: &str,
        lease_until: OffsetDateTime,
        batch_size: usize,
        cursor: Option<(Date, Uuid)>,
        activities: &HashMap<String, ActivityInfo>,
        approval: &BTreeSet<String>,
        references: &[(String, String)],
    ) -> Result<BatchOutcome, StoreError> {
        let now = timestamp(processing.now);
        let today = now.date();
        let limit = i64::try_from(batch_size).unwrap_or(i64::MAX);
        let outcome = write_transaction!(self, |tx| {
            let renewed = sqlx::query(
                "UPDATE job_leases SET leased_until = $3 WHERE name = $1 AND holder = $2",
            )
            .bind(SWEEP_JOB)
            .bind(holder)
            .bind(millis(lease_until))
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if renewed == 0 {
                return Ok(BatchOutcome {
                    lease_lost: true,
                    ..Default::default()
                });
            }
            if self.backend() == crate::Backend::Sqlite {
                // A batch rewrites index pages all over the file: keep them in memory until
                // the commit instead of spilling them to the WAL one by one (per connection).
                sqlx::query("PRAGMA cache_size = -262144")
                    .execute(&mut *tx)
                    .await?;
            }
            let holds = active_holds!(tx, today);
            // One row that holds every candidate as JSON: SQLite's driver hands each row of
            // a result over from its worker thread, which for 10,000s of rows cost more than
            // the query itself.
            let packed: Option<String> = candidates_query(today, cursor, limit)
                .build_query_scalar()
                .fetch_one(&mut *tx)
                .await?;
            let rows: Vec<CandidateJson> = match packed {
                Some(json) => serde_json::from_str(&json)
                    .map_err(|e| StoreError::Corrupt(format!("the sweep's candidates: {e}")))?,
                None => Vec::new(),
            };
            let looked_at = rows.len();
            let mut cursor: Option<(Date, Uuid)> = None;
            let mut identities: HashMap<Uuid, IdentityRow> = HashMap::new();
            let mut candidates: Vec<Candidate> = Vec::with_capacity(rows.len());
            for row in rows {
                let (candidate, identity) = candidate_from_json(row)?;
                // The query took the first rows in this order: the greatest is the last.
                cursor = cursor.max(Some((candidate.deadline, candidate.id)));
                identities.entry(candidate.subject).or_insert(identity);
                candidates.push(candidate);
            }
            let (held, free): (Vec<Candidate>, Vec<Candidate>) = candidates
                .into_iter()
                .partition(|c| holds.holds(c.id, c.subject, c.case_ref.as_deref()));
            let needs_approval = |c: &Candidate| {
                activities
                    .get(&c.activity)
                    .is_some_and(|a| approval.contains(&a.controller))
            };
            let approved: HashSet<Uuid> = {
                let ask: Vec<Uuid> = free
                    .iter()
                    .filter(|c| needs_approval(c))
                    .map(|c| c.id)
                    .collect();
                let mut approved = HashSet::new();
                for chunk in ask.chunks(CHUNK) {
                    let mut q = sqlx::QueryBuilder::new(
                        "SELECT lr.record_id FROM destruction_list_records lr \
                         JOIN destruction_lists l ON l.id = lr.list_id \
                         WHERE l.state = 'approved' AND lr.record_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in chunk {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let ids: Vec<Uuid> = q.build_query_scalar().fetch_all(&mut *tx).await?;
                    approved.extend(ids);
                }
                approved
            };
            let (doomed, awaiting): (Vec<Candidate>, Vec<Candidate>) = free
                .into_iter()
                .partition(|c| !needs_approval(c) || approved.contains(&c.id));
            let subject_list: Vec<Uuid> = doomed
                .iter()
                .map(|c| c.subject)
                .collect::<BTreeSet<Uuid>>()
                .into_iter()
                .collect();
            let record_ids: Vec<Uuid> = doomed.iter().map(|c| c.id).collect();
            // Records whose schedule anonymises them leave a copy first: a new id, no
            // person, only the fields the schedule keeps. One read and a few multi-row
            // inserts per batch, none when nothing is anonymised.
            let keeps = |c: &Candidate| {
                activities
                    .get(&c.activity)
                    .and_then(|a| a.keeps(&c.schedule))
            };
            let to_anonymise: Vec<Uuid> = doomed
                .iter()
                .filter(|c| keeps(c).is_some())
                .map(|c| c.id)
                .collect();
            let mut copies: Vec<AnonymiseRow> = Vec::with_capacity(to_anonymise.len());
            for mut q in id_statements(
                "SELECT id, activity_id, schedule, category, fields, collected_on, deadline \
                 FROM records WHERE ",
                "id",
                &to_anonymise,
                "",
            ) {
                copies.extend(
                    q.build_query_as::<AnonymiseRow>()
                        .fetch_all(&mut *tx)
                        .await?,
                );
            }
            for chunk in copies.chunks(CHUNK) {
                let ids = chunk
                    .iter()
                    .map(|_| new_id(now))
                    .collect::<Result<Vec<Uuid>, StoreError>>()?;
                let mut insert = sqlx::QueryBuilder::new(
                    "INSERT INTO anonymised_records (id, activity_id, schedule, category, fields, \
                     collected_in, deadline_in, anonymised_in) ",
                );
                // No exact date survives: each to its month, as a statistics extract would.
                let month = |d: Date| COPY_DATES.date(d).unwrap_or_else(|| d.year().to_string());
                insert.push_values(chunk.iter().zip(ids), |mut row, (r, id)| {
                    let (_, activity, schedule, category, Json(fields), collected_on, deadline) = r;
                    let kept = activities
                        .get(activity)
                        .and_then(|a| a.keeps(schedule))
                        .map(|rule| rule.kept_fields(fields))
                        .unwrap_or_default();
                    row.push_bind(id)
                        .push_bind(activity.clone())
                        .push_bind(schedule.clone())
                        .push_bind(category.clone())
                        .push_bind(Json(kept))
                        .push_bind(month(*collected_on))
                        .push_bind(deadline.map(month))
                        .push_bind(month(now.date()));
                });
                insert.build().execute(&mut *tx).await?;
            }
            for mut q in id_statements("DELETE FROM records WHERE ", "id", &record_ids, "") {
                q.build().execute(&mut *tx).await?;
            }
            // Subjects left with nothing that still names or protects them.
            let orphans: Vec<Uuid> = subject_list
                .iter()
                .copied()
                .filter(|s| !holds.subjects.contains(s))
                .collect();
            let unreferenced: String = references
                .iter()
                .map(|(table, column)| {
                    format!(
                        " AND NOT EXISTS (SELECT 1 FROM {table} x \
                         WHERE x.{column} = data_subjects.id)"
                    )
                })
                .collect();
            for mut q in id_statements(
                "DELETE FROM data_subjects WHERE ",
                "id",
                &orphans,
                &unreferenced,
            ) {
                q.build().execute(&mut *tx).await?;
            }
            // Those still there are referenced; read as one JSON row, like the candidates.
            let mut kept: HashSet<Uuid> = HashSet::new();
            for mut q in kept_subjects_queries(&orphans) {
                let packed: Option<String> = q.build_query_scalar().fetch_one(&mut *tx).await?;
                let ids: Vec<String> = match packed {
                    Some(json) => serde_json::from_str(&json).map_err(|e| {
                        StoreError::Corrupt(format!("the sweep's kept subjects: {e}"))
                    })?,
                    None => Vec::new(),
                };
                for id in ids {
                    kept.insert(uuid_of(&id)?);
                }
            }
            let deleted: Vec<Uuid> = orphans.into_iter().filter(|s| !kept.contains(s)).collect();
            let (records, subjects, log_entries) =
                self.sweep_entries(processing, &doomed, &deleted, &identities, activities)?;
            for mut q in batch_destruction_statements(run_id, now, &records) {
                q.build().execute(&mut *tx).await?;
            }
            insert_destructions!(tx, Some(run_id), now, &subjects);
            append_log_bulk!(tx, processing, log_entries);
            sqlx::query(
                "UPDATE retention_runs SET destroyed = destroyed + $2, \
                 subjects_deleted = subjects_deleted + $3, held = held + $4, \
                 awaiting_approval = awaiting_approval + $5, batches = batches + 1 WHERE id = $1",
            )
            .bind(run_id)
            .bind(i64::try_from(doomed.len()).unwrap_or(i64::MAX))
            .bind(i64::try_from(deleted.len()).unwrap_or(i64::MAX))
            .bind(i64::try_from(held.len()).unwrap_or(i64::MAX))
            .bind(i64::try_from(awaiting.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
            BatchOutcome {
                looked_at,
                cursor,
                lease_lost: false,
            }
        });
        Ok(outcome)
    }

    /// The destruction-log entries of a batch (its records, one entry per activity,
    /// schedule and deadline; one count per activity of deleted subjects) and its
    /// processing-log Erase entries (one per subject and activity).
    #[allow(clippy::type_complexity)]
    fn sweep_entries<'c>(
        &self,
        processing: &Processing,
        doomed: &'c [Candidate],
        deleted: &[Uuid],
        identities: &HashMap<Uuid, IdentityRow>,
        activities: &HashMap<String, ActivityInfo>,
    ) -> Result<
        (
            Vec<RecordsDestroyed<'c>>,
            Vec<NewDestruction>,
            Vec<NewLogEntry>,
        ),
        StoreError,
    > {
        let info = |activity: &str| {
            activities.get(activity).ok_or_else(|| {
                StoreError::Corrupt(format!("records of unknown activity '{activity}'"))
            })
        };
        let mut records: BTreeMap<(&str, &str, Date), RecordsDestroyed<'c>> = BTreeMap::new();
        let mut erased: BTreeMap<(Uuid, &str), BTreeSet<&str>> = BTreeMap::new();
        for c in doomed {
            let a = info(&c.activity)?;
            records
                .entry((&c.activity, &c.schedule, c.deadline))
                .or_insert_with(|| RecordsDestroyed {
                    activity: &c.activity,
                    schedule: &c.schedule,
                    rule: a
                        .rules
                        .get(&c.schedule)
                        .map(destruction::describe_rule)
                        .unwrap_or_else(|| "schedule no longer in the register".into()),
                    deadline: c.deadline,
                    method: if a.keeps(&c.schedule).is_some() {
                        DestructionMethod::Anonymise
                    } else {
                        DestructionMethod::Erase
                    },
                    ids: Vec::new(),
                })
                .ids
                .push(c.id);
            erased
                .entry((c.subject, c.activity.as_str()))
                .or_default()
                .insert(c.category.as_str());
        }
        let mut destructions = Vec::new();
        let mut subjects_per_activity: BTreeMap<&str, u64> = BTreeMap::new();
        for id in deleted {
            let Some(row) = identities.get(id) else {
                continue;
            };
            *subjects_per_activity.entry(row.8.as_str()).or_default() += 1;
            erased
                .entry((*id, row.8.as_str()))
                .or_default()
                .insert(DataCategory::Identification.name());
        }
        for (activity, count) in subjects_per_activity {
            destructions.push(NewDestruction {
                activity: activity.to_string(),
                schedule: String::new(),
                rule: "data subject left with no records, consents, guardianships or media".into(),
                what: Destroyed::VaultSubjects { count },
                method: DestructionMethod::Erase,
                deadline: None,
            });
        }
        let mut names: HashMap<Uuid, (String, String)> = HashMap::new();
        let mut entries = Vec::with_capacity(erased.len());
        for ((subject, activity), categories) in erased {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(subject) {
                let row = identities.get(&subject).ok_or_else(|| {
                    StoreError::Corrupt(format!("a record of missing data subject {subject}"))
                })?;
                slot.insert(self.log_subject_of_row(row)?);
            }
            entries.push(info(activity)?.log.entry(
                LogAction::Erase,
                names[&subject].clone(),
                categories.into_iter().map(str::to_string).collect(),
                processing.case_ref.clone(),
            ));
        }
        Ok((records.into_values().collect(), destructions, entries))
    }

    /// The (pseudonym, identifier kind) the log names a subject by, from its stored row.
    fn log_subject_of_row(&self, row: &IdentityRow) -> Result<(String, String), StoreError> {
        let keys = self.keys()?;
        let id = row.0;
        let decrypt = |column: &str, envelope: &Option<Vec<u8>>| {
            envelope
                .as_ref()
                .map(|e| {
                    keys.decrypt(&aad(column, id), e)
                        .ok()
                        .and_then(|plain| String::from_utf8(plain).ok())
                        .ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "the {column} of data subject {id} does not decrypt; check that \
                                 the configured keys include the key it was encrypted with"
                            ))
                        })
                })
                .transpose()
        };
        // Stored digits are normalised already: the strongest identifier names the person.
        if let Some(digits) = decrypt("national_number", &row.1)? {
            let kind = IdentifierKind::NationalNumber;
            return Ok((keys.pseudonym(kind.name(), &digits), kind.name().into()));
        }
        if let Some(digits) = decrypt("bsn", &row.2)? {
            let kind = IdentifierKind::Bsn;
            return Ok((keys.pseudonym(kind.name(), &digits), kind.name().into()));
        }
        let corrupt = |what: &str| StoreError::Corrupt(format!("data subject {id}: {what}"));
        let identity = SubjectIdentity {
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
            ..Default::default()
        };
        self.log_subject(&identity)
    }

    /// Writes destruction-log entries for data destroyed outside the vault (rows of a
    /// connected system), under a run or on their own. Call it in the same step that
    /// destroys the rows, right after the other system committed.
    pub async fn record_destruction(
        &self,
        run: Option<Uuid>,
        now: OffsetDateTime,
        entries: &[NewDestruction],
    ) -> Result<(), StoreError> {
        let now = timestamp(now);
        if entries.is_empty() {
            return Ok(());
        }
        for e in entries {
            if e.activity.trim().is_empty() || e.rule.trim().is_empty() {
                return Err(StoreError::Invalid(
                    "a destruction-log entry names the activity and the rule it follows".into(),
                ));
            }
            let (system, table) = e.what.place();
            if system.trim().is_empty() || table.trim().is_empty() {
                return Err(StoreError::Invalid(
                    "a destruction-log entry names the system and the table".into(),
                ));
            }
        }
        write_transaction!(self, |tx| {
            insert_destructions!(tx, run, now, entries);
        });
        Ok(())
    }

    /// A retention run.
    pub async fn retention_run(&self, id: Uuid) -> Result<RetentionRun, StoreError> {
        let row: Option<RunRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        run_from_row(row.ok_or_else(|| StoreError::NotFound {
            what: "retention run",
            id: id.to_string(),
        })?)
    }

    /// The latest retention runs, newest first.
    pub async fn retention_runs(&self, limit: i64) -> Result<Vec<RetentionRun>, StoreError> {
        let rows: Vec<RunRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RUN_COLUMNS} ORDER BY started_at DESC, id DESC LIMIT $1"
            )))
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(run_from_row).collect()
    }

    /// Destruction-log entries, oldest first, of one run or of all, from `after` on.
    pub async fn destruction_log(
        &self,
        run: Option<Uuid>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<DestructionLogEntry>, StoreError> {
        let rows: Vec<DestructionRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, run_id, destroyed_at, system, table_name, activity, schedule, rule, \
                 record_id, row_count, method, deadline, record_ids FROM destruction_log \
                 WHERE ($1 IS NULL OR run_id = $1) AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(run)
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    seq,
                    run_id,
                    at,
                    system,
                    table,
                    activity,
                    schedule,
                    rule,
                    record,
                    rows,
                    m,
                    d,
                    ids,
                )| {
                    let record_ids = match (record, ids) {
                        (_, Some(packed)) => unpack_ids(&packed).ok_or_else(|| {
                            StoreError::Corrupt(format!(
                                "destruction log {seq}: the record ids are not 16 bytes each"
                            ))
                        })?,
                        (Some(id), None) => vec![id],
                        (None, None) => Vec::new(),
                    };
                    Ok(DestructionLogEntry {
                        seq,
                        run_id,
                        destroyed_at: at,
                        system,
                        table,
                        activity,
                        schedule,
                        rule,
                        record_id: record,
                        record_ids,
                        rows,
                        method: m.parse().map_err(|_| {
                            StoreError::Corrupt(format!("destruction log {seq}: unknown method"))
                        })?,
                        deadline: d,
                    })
                },
            )
            .collect()
    }
}
