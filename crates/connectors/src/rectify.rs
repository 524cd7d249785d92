//! Rectification in the authority's other systems (GDPR art. 16): one column of one
//! person's rows in one table gets a new value.
//!
//! The person's rows are found as [`find`] finds them (their own rows and the rows that link
//! to them), by primary key; the update runs in one write transaction after the table and
//! column were found in the live schema. Only a column the dataset map lists as personal
//! data can be rectified: keys and links are what tie the rows together, not data about
//! the person. As everywhere in this crate, names come from the map and are used only after
//! they were found in the live schema, quoted; the new value and the keys are bound.
//!
//! Rows that already hold the new value are left alone, so running it again changes
//! nothing and reports 0 rows changed.

use std::fmt;

use kluis_domain::dataset_map::SystemKind;
use kluis_domain::trace::TraceContext;
use serde::{Serialize, Serializer};
use sqlx::AssertSqlSafe;

use crate::db::{Binds, Conn, quote};
use crate::schema::{LiveSchema, Read};
use crate::{ConnectorError, PersonQuery, System, find};

/// Most rows changed by one statement: keys bound stay well under both servers' limits.
const MAX_ROWS: usize = 2_000;

/// A rectification refused before anything was read or changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RectificationRefused {
    #[error(
        "system '{system}': '{table}.{column}' is not a column of personal data in its dataset \
         map; rectify one of the columns the map lists for that table"
    )]
    NotInMap {
        system: String,
        table: String,
        column: String,
    },
}

/// What a rectification did in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemRectificationReport {
    pub system: String,
    pub tables: Vec<TableRectificationReport>,
    /// Why it was not done: then no row was changed (one transaction).
    #[serde(serialize_with = "as_text")]
    pub error: Option<ConnectorError>,
}

/// What happened to the person's rows in one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRectificationReport {
    pub table: String,
    pub column: String,
    /// The person's rows in the table.
    pub rows: u64,
    /// Rows given the new value (the others held it already).
    pub changed: u64,
}

impl SystemRectificationReport {
    /// Whether it was done completely.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }

    /// Rows changed, all tables together.
    pub fn changed(&self) -> u64 {
        self.tables.iter().map(|t| t.changed).sum()
    }
}

impl fmt::Display for SystemRectificationReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "system {}:", self.system)?;
        for t in &self.tables {
            write!(
                f,
                " {}.{}: {} of {} row(s) changed;",
                t.table, t.column, t.changed, t.rows
            )?;
        }
        match &self.error {
            Some(e) => write!(f, " NOT DONE: {e}"),
            None => Ok(()),
        }
    }
}

fn as_text<S: Serializer>(e: &Option<ConnectorError>, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Some(e) => s.serialize_some(&e.to_string()),
        None => s.serialize_none(),
    }
}

/// Sets `column` of the person's rows in `table` of `system` to `value` (text, converted by
/// the database to the column's type), in one transaction. Refused before anything is read
/// when the map does not list the column as personal data; a connection, schema or query
/// failure is in the report's `error`, with no row changed.
pub async fn rectify_person(
    system: &System,
    person: &PersonQuery,
    table: &str,
    column: &str,
    value: &str,
    trace: Option<&TraceContext>,
) -> Result<SystemRectificationReport, RectificationRefused> {
    let listed = system
        .map
        .tables
        .get(table)
        .is_some_and(|t| t.columns.contains_key(column));
    if !listed {
        return Err(RectificationRefused::NotInMap {
            system: system.name().to_string(),
            table: table.to_string(),
            column: column.to_string(),
        });
    }
    let mut report = SystemRectificationReport {
        system: system.name().to_string(),
        tables: Vec::new(),
        error: None,
    };
    match rectify_rows(system, person, table, column, value, trace).await {
        Ok(done) => report.tables.push(done),
        Err(e) => {
            tracing::warn!(system = system.name(), error = %e, "rectification stopped");
            report.error = Some(e);
        }
    }
    Ok(report)
}

async fn rectify_rows(
    system: &System,
    person: &PersonQuery,
    table: &str,
    column: &str,
    value: &str,
    trace: Option<&TraceContext>,
) -> Result<TableRectificationReport, ConnectorError> {
    let hits = find(system, person, trace).await?;
    let mut key_columns: Vec<String> = Vec::new();
    let mut keys: Vec<Vec<String>> = Vec::new();
    for hit in hits.iter().filter(|h| h.table == table) {
        key_columns = hit.primary_key.iter().map(|(c, _)| c.clone()).collect();
        keys.push(hit.primary_key.iter().map(|(_, v)| v.clone()).collect());
    }
    let mut done = TableRectificationReport {
        table: table.to_string(),
        column: column.to_string(),
        rows: keys.len() as u64,
        changed: 0,
    };
    if keys.is_empty() {
        return Ok(done);
    }
    let comment = trace.map_or(String::new(), |t| {
        format!("/* traceparent='{}' */ ", t.traceparent())
    });
    let kind = system.map.kind;
    let begin = match kind {
        // Overrides the read-only default every connection of kluis starts with.
        SystemKind::Postgres => "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE",
        SystemKind::Mysql => "START TRANSACTION READ WRITE",
    };
    let mut conn = system.connect(None).await?;
    let work = async {
        system.exec(&mut conn, format!("{comment}{begin}")).await?;
        let live = system
            .live_schema(&mut conn, Read::Columns, &comment)
            .await?;
        let in_live = |c: &str| {
            live.tables
                .get(table)
                .is_some_and(|t| t.column(c).is_some())
        };
        if let Some(missing) = std::iter::once(column)
            .chain(key_columns.iter().map(String::as_str))
            .find(|c| !in_live(c))
        {
            return Err(ConnectorError::SchemaMismatch {
                system: system.name().to_string(),
                mismatches: vec![format!("column '{table}.{missing}' is not in the database")],
            });
        }
        for chunk in keys.chunks(MAX_ROWS) {
            let sql = Update {
                kind,
                live: &live,
                schema: system.map.schema.as_deref(),
                table,
            };
            let (statement, binds) = sql.statement(&comment, column, value, &key_columns, chunk);
            done.changed += affect(&mut conn, statement, &binds)
                .await
                .map_err(|e| system.query_error(&e))?;
        }
        system.exec(&mut conn, format!("{comment}COMMIT")).await
    };
    let result = match tokio::time::timeout(system.query_timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(system.timeout(system.query_timeout, "rectifying")),
    };
    if result.is_err() {
        let _ = conn.execute(format!("{comment}ROLLBACK")).await;
    }
    conn.finish(result.is_ok()).await;
    result?;
    tracing::info!(
        system = system.name(),
        table,
        column,
        rows = done.rows,
        changed = done.changed,
        "rectified a person's rows in a system"
    );
    Ok(done)
}

/// Writes the UPDATE of one table, with names checked against `live`.
struct Update<'a> {
    kind: SystemKind,
    live: &'a LiveSchema,
    schema: Option<&'a str>,
    table: &'a str,
}

impl Update<'_> {
    /// The placeholder of `value` as a value of `column`: PostgreSQL does not assign or
    /// compare text to other types without a cast; MySQL converts by itself.
    fn value(&self, binds: &mut Binds, column: &str, value: &str) -> String {
        let placeholder = binds.push(value);
        match self.kind {
            SystemKind::Mysql => placeholder,
            SystemKind::Postgres => {
                let live = self
                    .live
                    .tables
                    .get(self.table)
                    .and_then(|t| t.column(column));
                match live {
                    Some(c) if !c.is_text => format!("CAST({placeholder} AS {})", c.type_name),
                    _ => format!("CAST({placeholder} AS text)"),
                }
            }
        }
    }

    /// `UPDATE t SET c = v WHERE (keys) IN (...) AND c is not already v`, with its binds.
    fn statement(
        &self,
        comment: &str,
        column: &str,
        value: &str,
        key_columns: &[String],
        keys: &[Vec<String>],
    ) -> (String, Vec<String>) {
        let k = self.kind;
        let table = match self.schema {
            Some(s) => format!("{}.{}", quote(k, s), quote(k, self.table)),
            None => quote(k, self.table),
        };
        let mut binds = Binds::new(k);
        // Placeholders in the order they are written: SET, WHERE keys, then the guard.
        let set = self.value(&mut binds, column, value);
        let rows: Vec<String> = keys
            .iter()
            .map(|row| {
                let values: Vec<String> = key_columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| self.value(&mut binds, c, v))
                    .collect();
                format!("({})", values.join(", "))
            })
            .collect();
        let lhs: Vec<String> = key_columns.iter().map(|c| quote(k, c)).collect();
        let guard_value = self.value(&mut binds, column, value);
        let target = quote(k, column);
        let not_yet = match k {
            SystemKind::Postgres => format!("{target} IS DISTINCT FROM {guard_value}"),
            SystemKind::Mysql => format!("NOT ({target} <=> {guard_value})"),
        };
        let sql = format!(
            "{comment}UPDATE {table} SET {target} = {set} WHERE ({}) IN ({}) AND {not_yet}",
            lhs.join(", "),
            rows.join(", ")
        );
        (sql, binds.values)
    }
}

async fn affect(conn: &mut Conn, sql: String, binds: &[String]) -> Result<u64, sqlx::Error> {
    match conn {
        Conn::Postgres(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql)).persistent(false);
            for b in binds {
                q = q.bind(b.clone());
            }
            Ok(q.execute(&mut *c).await?.rows_affected())
        }
        Conn::Mysql(c) => {
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for b in binds {
                q = q.bind(b.clone());
            }
            Ok(q.execute(&mut *c).await?.rows_affected())
        }
    }
}
