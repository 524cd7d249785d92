//! The processing log: append-only, hash-chained, written in the transaction of the change
//! it records. The staff member's identity goes to `processing_log_actors` (the audit log).

use kluis_domain::access::Scope;
use kluis_domain::processing_log::{
    Actor, ActorKind, ChainBreak, ChainHead, ChainVerifier, LogAction, LogEntry, LogSelector,
    NewLogEntry,
};
use kluis_domain::trace::TraceContext;
use sqlx::QueryBuilder;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError};

/// Entries per INSERT statement: well under SQLite's and PostgreSQL's limits on bound
/// parameters (19 per entry).
pub(crate) const LOG_CHUNK: usize = 500;

/// Entries read per query while verifying, so memory stays flat for any log length.
const VERIFY_PAGE: i64 = 10_000;

/// Who processes personal data, in which trace and for which case: every method that
/// touches personal data takes one, and the log entries it writes carry it.
#[derive(Debug, Clone)]
pub struct Processing {
    pub actor: Actor,
    pub trace: TraceContext,
    /// The request or case the processing serves.
    pub case_ref: Option<String>,
    pub now: OffsetDateTime,
}

/// Takes the chain's head inside the transaction `$tx` under a row lock (an UPDATE, which
/// locks on PostgreSQL and is already serialised by SQLite's write lock): concurrent
/// appenders queue and the chain never forks.
macro_rules! lock_log_head {
    ($tx:ident) => {{
        let (seq, hash): (i64, Vec<u8>) = sqlx::query_as(
            "UPDATE processing_log_head SET seq = seq WHERE id = 1 RETURNING seq, hash",
        )
        .fetch_one(&mut *$tx)
        .await?;
        $crate::log::head_from_row(seq, hash)?
    }};
}

/// Writes chained entries (with their audit part) and the new head, in a few multi-row
/// statements, inside the transaction that locked the head.
macro_rules! write_log_entries {
    ($tx:ident, $chained:expr, $new_head:expr) => {{
        let chained: &[kluis_domain::processing_log::LogEntry] = $chained;
        let new_head: kluis_domain::processing_log::ChainHead = $new_head;
        for chunk in chained.chunks($crate::log::LOG_CHUNK) {
            let mut insert = sqlx::QueryBuilder::new(
                "INSERT INTO processing_log (seq, at, trace_id, span_id, parent_span_id, \
                 action, organisation, activity, activity_version, purpose, legal_basis, \
                 subject, subject_type, data_categories, system, case_ref, recipient, \
                 legal_ground, actor_kind, hash) ",
            );
            insert.push_values(chunk, |mut row, e| {
                let n = &e.entry;
                row.push_bind(e.seq)
                    .push_bind(e.at)
                    .push_bind(e.trace_id.clone())
                    .push_bind(e.span_id.clone())
                    .push_bind(e.parent_span_id.clone())
                    .push_bind(n.action.name())
                    .push_bind(n.organisation.clone())
                    .push_bind(n.activity.clone())
                    .push_bind(n.activity_version)
                    .push_bind(n.purpose.clone())
                    .push_bind(n.legal_basis.clone())
                    .push_bind(n.subject.clone())
                    .push_bind(n.subject_type.clone())
                    .push_bind(n.data_categories.join(","))
                    .push_bind(n.system.clone())
                    .push_bind(n.case_ref.clone())
                    .push_bind(n.recipient.clone())
                    .push_bind(n.legal_ground.clone())
                    .push_bind(e.actor.kind.name())
                    .push_bind(e.hash.to_vec());
            });
            insert.build().execute(&mut *$tx).await?;
            let mut actors = sqlx::QueryBuilder::new(
                "INSERT INTO processing_log_actors (seq, actor_id, actor_name) ",
            );
            actors.push_values(chunk, |mut row, e| {
                row.push_bind(e.seq)
                    .push_bind(e.actor.id.clone())
                    .push_bind(e.actor.name.clone());
            });
            actors.build().execute(&mut *$tx).await?;
        }
        sqlx::query("UPDATE processing_log_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(new_head.seq)
            .bind(new_head.hash.to_vec())
            .execute(&mut *$tx)
            .await?;
    }};
}

/// Appends entries to the log inside the transaction `$tx` of the change they record.
/// Yields the new head, or None when there was nothing to append.
macro_rules! append_log {
    ($tx:ident, $processing:expr, $entries:expr) => {{
        let processing: &$crate::log::Processing = $processing;
        let entries: Vec<kluis_domain::processing_log::NewLogEntry> = $entries;
        if entries.is_empty() {
            None
        } else {
            let head = $crate::log::lock_log_head!($tx);
            let (chained, new_head) = kluis_domain::processing_log::chain(
                head,
                $crate::timestamp(processing.now),
                &processing.trace,
                &processing.actor,
                entries,
            );
            $crate::log::write_log_entries!($tx, &chained, new_head);
            Some(new_head)
        }
    }};
}

/// Appends many entries (a retention sweep's batch: one per person) inside the transaction
/// `$tx` of the change they record: the same chain as [`append_log!`], computed in memory,
/// written with the fewest statements each backend allows ([`BulkLog`]). Yields the new head,
/// or None when there was nothing to append.
macro_rules! append_log_bulk {
    ($tx:ident, $processing:expr, $entries:expr) => {{
        let processing: &$crate::log::Processing = $processing;
        let entries: Vec<kluis_domain::processing_log::NewLogEntry> = $entries;
        if entries.is_empty() {
            None
        } else {
            let head = $crate::log::lock_log_head!($tx);
            let (chained, new_head) = kluis_domain::processing_log::chain(
                head,
                $crate::timestamp(processing.now),
                &processing.trace,
                &processing.actor,
                entries,
            );
            for mut statement in $crate::log::bulk_log_statements(&chained) {
                statement.build().execute(&mut *$tx).await?;
            }
            sqlx::query("UPDATE processing_log_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(new_head.seq)
                .bind(new_head.hash.to_vec())
                .execute(&mut *$tx)
                .await?;
            Some(new_head)
        }
    }};
}

pub(crate) use {append_log, append_log_bulk, lock_log_head, write_log_entries};

/// The statements that insert chained entries and their audit rows, in that order.
pub(crate) fn bulk_log_statements<DB: BulkLog>(chained: &[LogEntry]) -> Vec<QueryBuilder<DB>> {
    DB::log_statements(chained)
}

/// How a backend inserts many log entries at once: PostgreSQL binds one array per column
/// (`UNNEST`), so any number of entries is one statement of 20 parameters that is parsed
/// once; SQLite, which has no arrays, binds every value, as many rows per statement as its
/// limit of 32,766 parameters allows.
pub(crate) trait BulkLog: sqlx::Database {
    fn log_statements(chained: &[LogEntry]) -> Vec<QueryBuilder<Self>>;
}

const LOG_INSERT: &str = "INSERT INTO processing_log (seq, at, trace_id, span_id, \
     parent_span_id, action, organisation, activity, activity_version, purpose, legal_basis, \
     subject, subject_type, data_categories, system, case_ref, recipient, legal_ground, \
     actor_kind, hash) ";

const ACTORS_INSERT: &str = "INSERT INTO processing_log_actors (seq, actor_id, actor_name) ";

/// Log rows per SQLite statement: 20 parameters each, under its limit of 32,766.
const SQLITE_LOG_ROWS: usize = 1_600;

impl BulkLog for sqlx::Sqlite {
    fn log_statements(chained: &[LogEntry]) -> Vec<QueryBuilder<Self>> {
        let mut statements = Vec::new();
        for chunk in chained.chunks(SQLITE_LOG_ROWS) {
            let mut insert = QueryBuilder::new(LOG_INSERT);
            insert.push_values(chunk, |mut row, e| {
                let n = &e.entry;
                row.push_bind(e.seq)
                    .push_bind(e.at)
                    .push_bind(e.trace_id.clone())
                    .push_bind(e.span_id.clone())
                    .push_bind(e.parent_span_id.clone())
                    .push_bind(n.action.name())
                    .push_bind(n.organisation.clone())
                    .push_bind(n.activity.clone())
                    .push_bind(n.activity_version)
                    .push_bind(n.purpose.clone())
                    .push_bind(n.legal_basis.clone())
                    .push_bind(n.subject.clone())
                    .push_bind(n.subject_type.clone())
                    .push_bind(n.data_categories.join(","))
                    .push_bind(n.system.clone())
                    .push_bind(n.case_ref.clone())
                    .push_bind(n.recipient.clone())
                    .push_bind(n.legal_ground.clone())
                    .push_bind(e.actor.kind.name())
                    .push_bind(e.hash.to_vec());
            });
            statements.push(insert);
        }
        // Three parameters a row: far fewer statements.
        for chunk in chained.chunks(SQLITE_LOG_ROWS * 6) {
            let mut actors = QueryBuilder::new(ACTORS_INSERT);
            actors.push_values(chunk, |mut row, e| {
                row.push_bind(e.seq)
                    .push_bind(e.actor.id.clone())
                    .push_bind(e.actor.name.clone());
            });
            statements.push(actors);
        }
        statements
    }
}

impl BulkLog for sqlx::Postgres {
    fn log_statements(chained: &[LogEntry]) -> Vec<QueryBuilder<Self>> {
        fn column<T>(chained: &[LogEntry], f: impl Fn(&LogEntry) -> T) -> Vec<T> {
            chained.iter().map(f).collect()
        }
        let mut insert = QueryBuilder::new(LOG_INSERT);
        insert
            .push("SELECT * FROM UNNEST(")
            .push_bind(column(chained, |e| e.seq))
            .push("::BIGINT[], ")
            .push_bind(column(chained, |e| e.at))
            .push("::TIMESTAMPTZ[], ")
            .push_bind(column(chained, |e| e.trace_id.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.span_id.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.parent_span_id.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.action.name().to_string()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.organisation.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.activity.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.activity_version))
            .push("::BIGINT[], ")
            .push_bind(column(chained, |e| e.entry.purpose.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.legal_basis.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.subject.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.subject_type.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.data_categories.join(",")))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.system.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.case_ref.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.recipient.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.entry.legal_ground.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.actor.kind.name().to_string()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.hash.to_vec()))
            .push("::BYTEA[])");
        let mut actors = QueryBuilder::new(ACTORS_INSERT);
        actors
            .push("SELECT * FROM UNNEST(")
            .push_bind(column(chained, |e| e.seq))
            .push("::BIGINT[], ")
            .push_bind(column(chained, |e| e.actor.id.clone()))
            .push("::TEXT[], ")
            .push_bind(column(chained, |e| e.actor.name.clone()))
            .push("::TEXT[])");
        vec![insert, actors]
    }
}

pub(crate) fn head_from_row(seq: i64, hash: Vec<u8>) -> Result<ChainHead, StoreError> {
    let hash: [u8; 32] = hash.try_into().map_err(|_| {
        StoreError::Corrupt("the processing log's head hash is not 32 bytes".into())
    })?;
    Ok(ChainHead { seq, hash })
}

/// A processing-log row with its audit part, as read.
#[derive(sqlx::FromRow)]
struct LogRow {
    seq: i64,
    at: OffsetDateTime,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
    action: String,
    organisation: String,
    activity: String,
    activity_version: i64,
    purpose: String,
    legal_basis: String,
    subject: String,
    subject_type: String,
    data_categories: String,
    system: String,
    case_ref: Option<String>,
    recipient: Option<String>,
    legal_ground: Option<String>,
    actor_kind: String,
    hash: Vec<u8>,
    actor_id: Option<String>,
    actor_name: Option<String>,
}

const LOG_COLUMNS: &str = "l.seq, l.at, l.trace_id, l.span_id, l.parent_span_id, l.action, \
     l.organisation, l.activity, l.activity_version, l.purpose, l.legal_basis, l.subject, \
     l.subject_type, l.data_categories, l.system, l.case_ref, l.recipient, l.legal_ground, \
     l.actor_kind, l.hash, a.actor_id, a.actor_name \
     FROM processing_log l LEFT JOIN processing_log_actors a ON a.seq = l.seq";

fn entry_from_row(row: LogRow) -> Result<LogEntry, StoreError> {
    let LogRow {
        seq,
        at,
        trace_id,
        span_id,
        parent_span_id,
        action,
        organisation,
        activity,
        activity_version,
        purpose,
        legal_basis,
        subject,
        subject_type,
        data_categories,
        system,
        case_ref,
        recipient,
        legal_ground,
        actor_kind,
        hash,
        actor_id,
        actor_name,
    } = row;
    let corrupt = |what: &str| StoreError::Corrupt(format!("processing log entry {seq}: {what}"));
    Ok(LogEntry {
        seq,
        at,
        trace_id,
        span_id,
        parent_span_id,
        entry: NewLogEntry {
            action: action
                .parse::<LogAction>()
                .map_err(|_| corrupt("unknown action"))?,
            organisation,
            activity,
            activity_version,
            purpose,
            legal_basis,
            subject,
            subject_type,
            data_categories: if data_categories.is_empty() {
                Vec::new()
            } else {
                data_categories.split(',').map(str::to_string).collect()
            },
            system,
            case_ref,
            recipient,
            legal_ground,
        },
        actor: Actor {
            kind: actor_kind
                .parse::<ActorKind>()
                .map_err(|_| corrupt("unknown actor kind"))?,
            id: actor_id,
            // An entry without its audit row cannot verify; an empty name shows that.
            name: actor_name.unwrap_or_default(),
        },
        hash: hash
            .try_into()
            .map_err(|_| corrupt("hash is not 32 bytes"))?,
    })
}

/// One caller's entries waiting for the group commit, and where to say they are durable.
pub(crate) struct PendingAppend {
    processing: Processing,
    entries: Vec<NewLogEntry>,
    done: oneshot::Sender<Result<ChainHead, String>>,
}

/// Most callers one group commit serves: bounds a transaction's size and latency.
const GROUP_COMMIT_CALLERS: usize = 256;

/// The group committer: takes every append queued while the previous transaction was
/// committing and writes them all in one transaction, so concurrent readers of personal
/// data share one disk flush instead of paying one each. A caller hears back only after
/// the commit: an acknowledged entry is durable.
pub(crate) fn spawn_group_committer(store: Store) -> mpsc::Sender<PendingAppend> {
    let (sender, mut queue) = mpsc::channel::<PendingAppend>(4 * GROUP_COMMIT_CALLERS);
    tokio::spawn(async move {
        while let Some(first) = queue.recv().await {
            let mut batch = vec![first];
            while batch.len() < GROUP_COMMIT_CALLERS {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            // One head lock, the callers' entries chained one after the other in memory,
            // one multi-row write: a batch costs about what one caller does.
            let mut heads = Vec::with_capacity(batch.len());
            let written: Result<(), StoreError> = async {
                write_transaction!(store, |tx| {
                    let mut head = lock_log_head!(tx);
                    let mut all = Vec::new();
                    for pending in &batch {
                        let (chained, next) = kluis_domain::processing_log::chain(
                            head,
                            crate::timestamp(pending.processing.now),
                            &pending.processing.trace,
                            &pending.processing.actor,
                            pending.entries.clone(),
                        );
                        all.extend(chained);
                        head = next;
                        heads.push(head);
                    }
                    write_log_entries!(tx, &all, head);
                });
                Ok(())
            }
            .await;
            match written {
                Ok(()) => {
                    for (pending, head) in batch.into_iter().zip(heads) {
                        let _ = pending.done.send(Ok(head));
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    for pending in batch {
                        let _ = pending.done.send(Err(message.clone()));
                    }
                }
            }
        }
    });
    sender
}

impl Store {
    /// Appends entries that record no change in kluis's own tables (reads, search hits,
    /// refusals) through the group commit; returns once they are durable, with the head.
    pub async fn append_log(
        &self,
        processing: &Processing,
        entries: Vec<NewLogEntry>,
    ) -> Result<ChainHead, StoreError> {
        if entries.is_empty() {
            return self.log_head().await;
        }
        let (done, durable) = oneshot::channel();
        let pending = PendingAppend {
            processing: processing.clone(),
            entries,
            done,
        };
        let lost = || StoreError::Unavailable("the processing log's writer stopped".into());
        self.group_commit()
            .send(pending)
            .await
            .map_err(|_| lost())?;
        match durable.await.map_err(|_| lost())? {
            Ok(head) => Ok(head),
            Err(message) => Err(StoreError::Unavailable(format!(
                "the processing log could not be written: {message}"
            ))),
        }
    }

    /// The chain's head as of the last append: print it to anchor the log outside kluis.
    pub async fn log_head(&self) -> Result<ChainHead, StoreError> {
        let (seq, hash): (i64, Vec<u8>) = on_pool!(self, |pool| {
            sqlx::query_as("SELECT seq, hash FROM processing_log_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        head_from_row(seq, hash)
    }

    /// Log entries matching the selector and within `scope`, oldest first, at most
    /// `limit`. Refuses a query without a selector.
    pub async fn log_entries(
        &self,
        selector: &LogSelector,
        scope: &Scope,
        limit: i64,
    ) -> Result<Vec<LogEntry>, StoreError> {
        selector
            .check()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        if let Scope::Activities(allowed) = scope
            && allowed.is_empty()
        {
            return Ok(Vec::new());
        }
        let rows: Vec<LogRow> = on_pool!(self, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {LOG_COLUMNS} WHERE 1 = 1"));
            if let Some(trace) = &selector.trace_id {
                query.push(" AND l.trace_id = ").push_bind(trace.clone());
            }
            if let Some(activity) = &selector.activity {
                query.push(" AND l.activity = ").push_bind(activity.clone());
            }
            if !selector.subjects.is_empty() {
                query.push(" AND l.subject IN (");
                let mut list = query.separated(", ");
                for s in &selector.subjects {
                    list.push_bind(s.clone());
                }
                query.push(")");
            }
            if let Scope::Activities(allowed) = scope {
                query.push(" AND l.activity IN (");
                let mut list = query.separated(", ");
                for a in allowed {
                    list.push_bind(a.clone());
                }
                query.push(")");
            }
            query.push(" ORDER BY l.seq LIMIT ").push_bind(limit);
            query.build_query_as().fetch_all(pool).await?
        });
        rows.into_iter().map(entry_from_row).collect()
    }

    /// Checks the whole chain, in pages, against the recorded head and the anchor if one
    /// is given. `Ok(Err(break))` names the first broken entry.
    pub async fn verify_log(
        &self,
        anchor: Option<ChainHead>,
    ) -> Result<Result<ChainHead, ChainBreak>, StoreError> {
        // Read the head first: entries appended while verifying are beyond it and ignored.
        let head = self.log_head().await?;
        let mut verifier = ChainVerifier::new(anchor);
        let mut after = 0i64;
        loop {
            let rows: Vec<LogRow> = on_pool!(self, |pool| {
                sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    // The bounds on the audit side too: without them PostgreSQL plans a merge
                    // join that reads the audit log from its start for every page.
                    "SELECT {LOG_COLUMNS} AND a.seq > $1 AND a.seq <= $2 \
                     WHERE l.seq > $1 AND l.seq <= $2 ORDER BY l.seq LIMIT $3"
                )))
                .bind(after)
                .bind(head.seq)
                .bind(VERIFY_PAGE)
                .fetch_all(pool)
                .await?
            });
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            for row in rows {
                let entry = entry_from_row(row)?;
                if let Err(broken) = verifier.push(&entry) {
                    return Ok(Err(broken));
                }
            }
            after = last;
        }
        Ok(verifier.finish(head))
    }
}

/// The log entry for one data subject and one activity, filled from the activity as
/// stored; the caller sets action-specific fields.
pub(crate) struct ActivityRef {
    pub id: String,
    pub version: i64,
    pub organisation: String,
    pub purpose: String,
    pub legal_basis: String,
}

impl ActivityRef {
    pub(crate) fn from_activity(
        activity: &kluis_domain::register::ProcessingActivity,
        version: i64,
    ) -> ActivityRef {
        ActivityRef {
            id: activity.id.clone(),
            version,
            organisation: activity.controller.clone(),
            purpose: activity
                .purposes
                .first()
                .map(|p| p.show(kluis_domain::text::Lang::Nl).to_string())
                .unwrap_or_default(),
            legal_basis: activity
                .legal_bases
                .iter()
                .map(|b| b.basis.name())
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    pub(crate) fn entry(
        &self,
        action: LogAction,
        subject: (String, String),
        data_categories: Vec<String>,
        case_ref: Option<String>,
    ) -> NewLogEntry {
        NewLogEntry {
            action,
            organisation: self.organisation.clone(),
            activity: self.id.clone(),
            activity_version: self.version,
            purpose: self.purpose.clone(),
            legal_basis: self.legal_basis.clone(),
            subject: subject.0,
            subject_type: subject.1,
            data_categories,
            system: "kluis".into(),
            case_ref,
            recipient: None,
            legal_ground: None,
        }
    }
}
