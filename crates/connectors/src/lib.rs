//! The authority's other systems: PostgreSQL and MySQL/MariaDB databases described by a
//! dataset map (`kluis_domain::dataset_map`, format in `docs/dataset-map.md`).
//!
//! [`check`] compares a map with the live schema; [`find`] returns every row of one person
//! in one system, [`find_all`] in several systems at once. Each search takes a connection
//! kept for its system (at most [`MAX_CONNECTIONS`] per system, see `pool.rs`), runs one
//! read-only transaction with one query per table, and gives the connection back.
//! [`sweep_expired`] erases the rows whose retention ended and [`erase_person`] one
//! person's rows, as the map's erasure says (module `erase`); both report per table.
//! [`restrict_person`] marks a person's rows as restricted, or clears the mark (module
//! `restrict`). [`find_affected`] counts, per table, the rows and people a data breach
//! concerns, and lists the people when they must be told (module `affected`).
//! Table and column names come from the map and are used only after they were found in
//! the live schema, quoted; values are always bound parameters.

mod affected;
mod db;
mod erase;
mod error;
mod pool;
mod rectify;
mod restrict;
mod schema;
mod search;
#[cfg(feature = "testing")]
pub mod testing;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::{DatasetMap, SystemKind};
use kluis_domain::identifiers::{Bsn, EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::trace::TraceContext;
use serde::Serialize;

pub use crate::affected::{
    AffectedPerson, BreachScope, MAX_LISTED, SystemAffected, TableAffected, find_affected,
    find_affected_all, normalised,
};
use crate::db::{Conn, Target};
pub use crate::erase::{
    EndedRetention, MAX_BATCH, SystemErasureReport, TableErasureReport, erase_person,
    erase_person_all, expired, sweep_all, sweep_expired, sweep_expired_logged,
};
pub use crate::error::{ConnectorError, mask_password};
use crate::pool::Lease;
pub use crate::pool::MAX_CONNECTIONS;
pub use crate::rectify::{
    OldValue, RectificationRefused, SystemRectificationReport, TableRectificationReport,
    rectify_person,
};
pub use crate::restrict::{
    SystemRestrictionReport, TableRestrictionReport, restrict_person, restrict_person_all,
};
use crate::schema::Read;

/// How long connecting may take before the system counts as unreachable.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one check or search may take once connected.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(30);

/// An external system: its dataset map and how to reach it.
///
/// The connection URL comes from configuration; it is kept here only to connect, and
/// shown nowhere but with its password masked.
#[derive(Clone)]
pub struct System {
    map: Arc<DatasetMap>,
    url: Arc<str>,
    connect_timeout: Duration,
    query_timeout: Duration,
}

impl fmt::Debug for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("System")
            .field("name", &self.map.name)
            .field("kind", &self.map.kind)
            .field("url", &self.masked_url())
            .finish()
    }
}

impl System {
    /// A system named by its map (`map.name`), reached at `url`: `postgres://...` for
    /// `kind: postgres`, `mysql://...` or `mariadb://...` for `kind: mysql`. Refuses a map
    /// that is not valid, and a URL that does not fit its kind. Does not connect.
    pub fn new(map: DatasetMap, url: &str) -> Result<System, ConnectorError> {
        let issues = map.problems();
        if !issues.is_empty() {
            let problems: Vec<String> = issues
                .into_iter()
                .map(|i| format!("  - {}", i.message))
                .collect();
            return Err(ConnectorError::InvalidMap {
                system: map.name.clone(),
                problems: problems.join("\n"),
            });
        }
        Target::parse(map.kind, url, DEFAULT_QUERY_TIMEOUT).map_err(|reason| {
            ConnectorError::BadUrl {
                system: map.name.clone(),
                url: mask_password(url),
                reason: error::redact(&reason, url),
            }
        })?;
        Ok(System {
            map: Arc::new(map),
            url: url.into(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            query_timeout: DEFAULT_QUERY_TIMEOUT,
        })
    }

    /// The same system with another connect timeout (default 5 s).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The same system with another time limit for a check or search once connected
    /// (default 30 s).
    pub fn with_query_timeout(mut self, timeout: Duration) -> Self {
        self.query_timeout = timeout;
        self
    }

    pub fn name(&self) -> &str {
        &self.map.name
    }

    pub fn map(&self) -> &DatasetMap {
        &self.map
    }

    /// The connection URL with its password masked.
    pub fn masked_url(&self) -> String {
        mask_password(&self.url)
    }

    fn target(&self) -> Result<Target, ConnectorError> {
        Target::parse(self.map.kind, &self.url, self.query_timeout).map_err(|reason| {
            ConnectorError::BadUrl {
                system: self.name().to_string(),
                url: self.masked_url(),
                reason: error::redact(&reason, &self.url),
            }
        })
    }

    /// A connection to the system: a kept one from its pool, or a new one opened within
    /// the connect timeout (see `pool.rs`).
    ///
    /// `first` is the first statement of the use (a BEGIN): run on a kept connection, it
    /// also tests that the server still has it (without `first`, a ping does), and a kept
    /// connection that fails it is thrown away for the next one, so a server restart does
    /// not fail the call. When [`MAX_CONNECTIONS`] are in use, waiting for one is bounded
    /// by the query timeout.
    async fn connect(&self, first: Option<&str>) -> Result<Lease, ConnectorError> {
        let pool = pool::get(self.map.kind, &self.url, self.query_timeout, || {
            self.target()
        })?;
        let Ok(slot) = tokio::time::timeout(self.query_timeout, pool.slot()).await else {
            return Err(self.timeout(self.query_timeout, "waiting for a free connection"));
        };
        while let Some((mut conn, opened)) = pool.take_idle() {
            let test = async {
                match first {
                    Some(sql) => conn.execute(sql.to_string()).await,
                    None => conn.ping().await,
                }
            };
            if let Ok(Ok(())) = tokio::time::timeout(self.connect_timeout, test).await {
                return Ok(Lease::new(conn, opened, pool, slot));
            }
            tracing::debug!(
                system = self.name(),
                "a kept connection no longer answers; opening another"
            );
        }
        let conn = match tokio::time::timeout(self.connect_timeout, Conn::open(pool.target())).await
        {
            Ok(Ok(conn)) => conn,
            Ok(Err(e)) => {
                return Err(ConnectorError::Unreachable {
                    system: self.name().to_string(),
                    url: self.masked_url(),
                    reason: self.reason(&e),
                });
            }
            Err(_) => return Err(self.timeout(self.connect_timeout, "connecting")),
        };
        let mut lease = Lease::new(conn, Instant::now(), pool, slot);
        if let Some(sql) = first {
            // Dropped on failure: the connection is closed, not kept.
            match tokio::time::timeout(self.query_timeout, lease.execute(sql.to_string())).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(self.query_error(&e)),
                Err(_) => return Err(self.timeout(self.query_timeout, "reading")),
            }
        }
        Ok(lease)
    }

    /// Runs `work` in one read-only, repeatable-read transaction on a connection of the
    /// system's pool, within the query timeout; the connection goes back to the pool when
    /// the transaction ended cleanly, and is closed otherwise.
    async fn session<T>(
        &self,
        trace: Option<&TraceContext>,
        work: impl AsyncFnOnce(&mut Conn, &str) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let comment = sql_comment(trace);
        let (first, begin) = match self.map.kind {
            SystemKind::Postgres => (
                format!("{comment}BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                None,
            ),
            SystemKind::Mysql => (
                format!("{comment}SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
                Some(format!(
                    "{comment}START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
                )),
            ),
        };
        let mut conn = self.connect(Some(&first)).await?;
        let run = async {
            if let Some(begin) = begin {
                self.exec(&mut conn, begin).await.map_err(|e| (e, false))?;
            }
            let result = work(&mut *conn, &comment).await;
            // Nothing was written: rolling back ends the transaction as well as a commit.
            let ended = self.exec(&mut conn, format!("{comment}ROLLBACK")).await;
            let clean = ended.is_ok();
            result
                .and_then(|r| ended.map(|()| r))
                .map_err(|e| (e, clean))
        };
        let (result, clean) = match tokio::time::timeout(self.query_timeout, run).await {
            Ok(Ok(r)) => (Ok(r), true),
            Ok(Err((e, clean))) => (Err(e), clean),
            Err(_) => (Err(self.timeout(self.query_timeout, "reading")), false),
        };
        conn.finish(clean).await;
        result
    }

    /// Runs `work` in one transaction that may write (READ COMMITTED) on a connection of
    /// the system's pool, within the query timeout (`doing` names the work in a timeout's
    /// message): committed when `work` succeeds, rolled back otherwise, so a system is
    /// changed completely or not at all. With `dry_run`, the transaction is read-only and
    /// always rolled back. The connection goes back to the pool only after a clean end.
    async fn write_session<T>(
        &self,
        trace: Option<&TraceContext>,
        dry_run: bool,
        doing: &'static str,
        work: impl AsyncFnOnce(&mut Conn, &str) -> Result<T, ConnectorError>,
    ) -> Result<T, ConnectorError> {
        let comment = sql_comment(trace);
        let begin = match (dry_run, self.map.kind) {
            (false, kind) => db::begin_write(kind),
            (true, SystemKind::Postgres) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            (true, SystemKind::Mysql) => "START TRANSACTION READ ONLY",
        };
        let end = if dry_run { "ROLLBACK" } else { "COMMIT" };
        let mut conn = self.connect(None).await?;
        let run = async {
            self.exec(&mut conn, format!("{comment}{begin}")).await?;
            let done = work(&mut conn, &comment).await?;
            self.exec(&mut conn, format!("{comment}{end}")).await?;
            Ok(done)
        };
        let result = match tokio::time::timeout(self.query_timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(self.timeout(self.query_timeout, doing)),
        };
        if result.is_err() {
            let _ = conn.execute(format!("{comment}ROLLBACK")).await;
        }
        conn.finish(result.is_ok()).await;
        result
    }

    async fn exec(&self, conn: &mut Conn, sql: String) -> Result<(), ConnectorError> {
        conn.execute(sql).await.map_err(|e| self.query_error(&e))
    }

    async fn live_schema(
        &self,
        conn: &mut Conn,
        what: Read,
        comment: &str,
    ) -> Result<schema::LiveSchema, ConnectorError> {
        schema::read(conn, &self.map, what, comment)
            .await
            .map_err(|e| self.query_error(&e))
    }

    fn reason(&self, e: &sqlx::Error) -> String {
        let text = match e {
            sqlx::Error::Database(db) => db.message().to_string(),
            other => other.to_string(),
        };
        error::redact(&text, &self.url)
    }

    fn query_error(&self, e: &sqlx::Error) -> ConnectorError {
        ConnectorError::Query {
            system: self.name().to_string(),
            reason: self.reason(e),
        }
    }

    fn timeout(&self, after: Duration, doing: &'static str) -> ConnectorError {
        ConnectorError::Timeout {
            system: self.name().to_string(),
            url: self.masked_url(),
            after,
            doing,
        }
    }
}

/// The comment every statement of a traced use starts with, so that the other system's
/// logs belong to the same trace (sqlcommenter style; the traceparent holds only hex
/// digits and dashes). Empty without a trace.
fn sql_comment(trace: Option<&TraceContext>) -> String {
    trace.map_or(String::new(), |t| {
        format!("/* traceparent='{}' */ ", t.traceparent())
    })
}

/// A person's rows of one table, as [`find`] found them: the key columns, and the key of
/// each row (as text), for an UPDATE or DELETE by key.
type KeyedRows = (Vec<String>, Vec<Vec<String>>);

/// The person's rows per table, by primary key.
fn rows_by_table(hits: &[Hit]) -> BTreeMap<&str, KeyedRows> {
    let mut rows: BTreeMap<&str, KeyedRows> = BTreeMap::new();
    for hit in hits {
        let entry = rows.entry(hit.table.as_str()).or_insert_with(|| {
            (
                hit.primary_key.iter().map(|(c, _)| c.clone()).collect(),
                Vec::new(),
            )
        });
        entry
            .1
            .push(hit.primary_key.iter().map(|(_, v)| v.clone()).collect());
    }
    rows
}

/// How a system's live schema differs from its dataset map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckReport {
    pub system: String,
    /// What stops kluis from using the map: a missing table or column, an identifying
    /// column that is not text, a table without a key. Each in words.
    pub mismatches: Vec<String>,
    /// Worth knowing, but no obstacle: a link without a foreign key.
    pub notes: Vec<String>,
}

impl CheckReport {
    /// True when the map fits the live schema.
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

impl fmt::Display for CheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.mismatches.len();
        match n {
            0 => writeln!(f, "{}: the map matches the database", self.system)?,
            _ => writeln!(
                f,
                "{}: {n} mismatch{}",
                self.system,
                if n == 1 { "" } else { "es" }
            )?,
        }
        for m in &self.mismatches {
            writeln!(f, "  - {m}")?;
        }
        for note in &self.notes {
            writeln!(f, "  note: {note}")?;
        }
        Ok(())
    }
}

/// Connects to the system and compares its dataset map with the live schema.
///
/// `Ok` with mismatches means the system answered but the map does not fit it; `Err`
/// means the system could not be read at all.
pub async fn check(system: &System) -> Result<CheckReport, ConnectorError> {
    system
        .session(None, async |conn, comment| {
            let live = system
                .live_schema(conn, Read::ColumnsAndForeignKeys, comment)
                .await?;
            let mut comparison = schema::compare(&system.map, &live);
            // The date columns the map's retention starts from.
            comparison
                .mismatches
                .extend(erase::retention_mismatches(&system.map, &live));
            comparison
                .mismatches
                .extend(restrict::restriction_mismatches(&system.map, &live));
            Ok(CheckReport {
                system: system.name().to_string(),
                mismatches: comparison.mismatches,
                notes: comparison.notes,
            })
        })
        .await
}

/// Who to search for: normalised identifiers, as the domain's identifier types give them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonQuery {
    values: BTreeMap<IdentifierKind, BTreeSet<String>>,
}

impl PersonQuery {
    pub fn new() -> Self {
        PersonQuery::default()
    }

    /// Also search by this national number (compared as stored: digits or formatted).
    pub fn national_number(self, n: &NationalNumber) -> Self {
        self.with(IdentifierKind::NationalNumber, n.digits())
    }

    /// Also search by this BSN (nine digits).
    pub fn bsn(self, n: &Bsn) -> Self {
        self.with(IdentifierKind::Bsn, n.digits())
    }

    /// Also search by this e-mail address, without regard to case.
    pub fn email(self, e: &EmailAddress) -> Self {
        self.with(IdentifierKind::Email, e.as_str().to_string())
    }

    /// Also search by this telephone number (E.164, compared as stored).
    pub fn phone(self, p: &PhoneNumber) -> Self {
        self.with(IdentifierKind::Phone, p.as_str().to_string())
    }

    fn with(mut self, kind: IdentifierKind, value: String) -> Self {
        self.values.entry(kind).or_default().insert(value);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    fn kinds(&self) -> impl Iterator<Item = IdentifierKind> + '_ {
        self.values.keys().copied()
    }

    fn values(&self, kind: IdentifierKind) -> Vec<String> {
        self.values
            .get(&kind)
            .map(|v| v.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// One row of a person in a system.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hit {
    pub table: String,
    /// The row's primary key: (column, value as text), in key order.
    pub primary_key: Vec<(String, String)>,
    /// The mapped columns of the row, in the map's order (by name).
    pub columns: Vec<HitColumn>,
    /// The kinds of identifier through which the row belongs to the person: its own
    /// identifying columns, or those of the row it links to.
    pub matched: BTreeSet<IdentifierKind>,
}

/// One mapped column of a hit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HitColumn {
    pub name: String,
    pub category: DataCategory,
    /// JSON of the column's type: numbers for integers and floats, strings for text,
    /// exact decimals, dates (`1985-07-30`), date-times (`2024-05-01T09:30:00`, with `Z`
    /// when the column is a moment in UTC) and binary data (hexadecimal); null for NULL.
    pub value: serde_json::Value,
}

impl Hit {
    /// The data categories of the hit's columns.
    pub fn categories(&self) -> BTreeSet<DataCategory> {
        self.columns.iter().map(|c| c.category).collect()
    }
}

/// Every row of the person in every table of the system's map.
///
/// Reads the live schema first and refuses, before any query on the data, when a table or
/// column of the map is not in it. With `trace`, every statement carries the traceparent
/// as an SQL comment (`/* traceparent='00-...' */`), so the other system's logs belong to
/// the same trace.
pub async fn find(
    system: &System,
    person: &PersonQuery,
    trace: Option<&TraceContext>,
) -> Result<Vec<Hit>, ConnectorError> {
    if person.is_empty() {
        return Err(ConnectorError::EmptyQuery);
    }
    let started = Instant::now();
    let hits = system
        .session(trace, async |conn, comment| {
            let live = system.live_schema(conn, Read::Columns, comment).await?;
            let comparison = schema::compare(&system.map, &live);
            if !comparison.mismatches.is_empty() {
                return Err(ConnectorError::SchemaMismatch {
                    system: system.name().to_string(),
                    mismatches: comparison.mismatches,
                });
            }
            search::run(conn, &system.map, &live, person, comment)
                .await
                .map_err(|e| system.query_error(&e))
        })
        .await;
    match &hits {
        Ok(h) => tracing::info!(
            system = system.name(),
            hits = h.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "searched system"
        ),
        Err(e) => tracing::warn!(system = system.name(), error = %e, "search failed"),
    }
    hits
}

/// The outcome of a search in one system.
#[derive(Debug, Clone)]
pub struct SystemHits {
    pub system: String,
    pub result: Result<Vec<Hit>, ConnectorError>,
}

/// [`find`] in every system at once; one system that fails or is slow does not hold up
/// the others. The results are in the order of `systems`.
pub async fn find_all(
    systems: &[System],
    person: &PersonQuery,
    trace: Option<&TraceContext>,
) -> Vec<SystemHits> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, system) in systems.iter().enumerate() {
        let (system, person, trace) = (system.clone(), person.clone(), trace.copied());
        tasks.spawn(async move { (i, find(&system, &person, trace.as_ref()).await) });
    }
    let mut results: Vec<SystemHits> = systems
        .iter()
        .map(|s| SystemHits {
            system: s.name().to_string(),
            result: Err(ConnectorError::Query {
                system: s.name().to_string(),
                reason: "the search stopped unexpectedly".into(),
            }),
        })
        .collect();
    while let Some(joined) = tasks.join_next().await {
        // A task that panicked keeps the error set above.
        if let Ok((i, result)) = joined {
            results[i].result = result;
        }
    }
    results
}
