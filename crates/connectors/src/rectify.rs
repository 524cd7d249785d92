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
//! In the same write transaction, before the update, the person's rows are locked by
//! primary key (`SELECT ... FOR UPDATE`) and the column's current values read: the report
//! gives the old value of every row it changes ([`OldValue`]), so the request can keep old
//! and new value (GDPR art. 16 and the log's proof of what was changed) and a wrong change
//! can be undone row by row. Rows that already hold the new value are left alone and have
//! no old value to report, so running it again changes nothing and reports 0 rows changed.

use std::collections::BTreeMap;
use std::fmt;

use kluis_domain::dataset_map::SystemKind;
use kluis_domain::trace::TraceContext;
use serde::{Deserialize, Serialize};

use crate::db::{Binds, affect, qualified, quote};
use crate::schema::{LiveSchema, Read, ValueType};
use crate::{ConnectorError, PersonQuery, System, find, rows_by_table};

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
    #[serde(serialize_with = "crate::error::as_text")]
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
    /// The value each changed row held before, one per changed row.
    pub old_values: Vec<OldValue>,
}

/// The value one row held before a rectification changed it.
///
/// Kept per row, keyed by the row's primary key, not as distinct values with counts: to
/// undo a wrong change a DPO must give each row back its own value, and one person's rows
/// may hold different ones (An's two applications have two motivations, one of them none),
/// which counts cannot tell apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldValue {
    /// The row's primary key, column by column, as text.
    pub key: BTreeMap<String, String>,
    /// The value before, as text as the rest of the connector reads values (bytes as hex);
    /// `None` for NULL, which is not the empty text `Some("")`.
    pub value: Option<String>,
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

/// Counts only, never a value: the report is written to logs and error messages.
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
    let (key_columns, keys) = rows_by_table(&hits).remove(table).unwrap_or_default();
    let mut done = TableRectificationReport {
        table: table.to_string(),
        column: column.to_string(),
        rows: keys.len() as u64,
        changed: 0,
        old_values: Vec::new(),
    };
    if keys.is_empty() {
        return Ok(done);
    }
    let kind = system.map.kind;
    let done = system
        .write_session(trace, false, "rectifying", async |conn, comment| {
            let live = system.live_schema(conn, Read::Columns, comment).await?;
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
            let sql = Update {
                kind,
                live: &live,
                schema: system.map.schema.as_deref(),
                table,
            };
            for chunk in keys.chunks(MAX_ROWS) {
                // Locked and read first, so the old values are exactly those the update replaces.
                let (lock, binds) = sql.lock(comment, column, value, &key_columns, chunk);
                let rows = conn
                    .rows(lock, &binds)
                    .await
                    .map_err(|e| system.query_error(&e))?;
                let old: Vec<OldValue> = rows
                    .into_iter()
                    .filter_map(|row| to_change(&key_columns, row))
                    .collect();
                if old.is_empty() {
                    continue;
                }
                let changing: Vec<Vec<String>> = old
                    .iter()
                    .map(|o| {
                        key_columns
                            .iter()
                            .map(|c| o.key.get(c).cloned().unwrap_or_default())
                            .collect()
                    })
                    .collect();
                let (statement, binds) =
                    sql.statement(comment, column, value, &key_columns, &changing);
                done.changed += affect(conn, statement, &binds)
                    .await
                    .map_err(|e| system.query_error(&e))?;
                done.old_values.extend(old);
            }
            Ok(done)
        })
        .await?;
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

/// The old value of a row read by [`Update::lock`] (key columns, the value, whether it
/// differs from the new one), or None when the row holds the new value already.
fn to_change(key_columns: &[String], mut row: Vec<Option<String>>) -> Option<OldValue> {
    let differs = row.pop().flatten().as_deref() == Some("1");
    let value = row.pop().flatten();
    if !differs {
        return None;
    }
    let key = key_columns
        .iter()
        .cloned()
        .zip(row.into_iter().map(Option::unwrap_or_default))
        .collect();
    Some(OldValue { key, value })
}

/// Writes the statements of one table, with names checked against `live`.
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

    /// The table's name in SQL, with its schema.
    fn table_name(&self) -> String {
        qualified(self.kind, self.schema, self.table)
    }

    /// `(k1, k2) IN ((v, v), ...)` for `keys`, their values bound.
    fn keys_in(&self, binds: &mut Binds, key_columns: &[String], keys: &[Vec<String>]) -> String {
        let rows: Vec<String> = keys
            .iter()
            .map(|row| {
                let values: Vec<String> = key_columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| self.value(binds, c, v))
                    .collect();
                format!("({})", values.join(", "))
            })
            .collect();
        let lhs: Vec<String> = key_columns.iter().map(|c| quote(self.kind, c)).collect();
        format!("({}) IN ({})", lhs.join(", "), rows.join(", "))
    }

    /// `c is not already v`, its value bound. Text is compared byte for byte: MariaDB's
    /// usual `_ci` collations hold "peeters" equal to "Peeters", and putting a name's
    /// capitals right is a rectification too.
    fn differs(&self, binds: &mut Binds, column: &str, value: &str) -> String {
        let guard_value = self.value(binds, column, value);
        let target = quote(self.kind, column);
        let text = self
            .live
            .tables
            .get(self.table)
            .and_then(|t| t.column(column))
            .is_none_or(|c| c.value_type == ValueType::Text);
        match self.kind {
            SystemKind::Postgres => format!("{target} IS DISTINCT FROM {guard_value}"),
            SystemKind::Mysql if text => {
                format!("NOT (CAST({target} AS BINARY) <=> CAST({guard_value} AS BINARY))")
            }
            SystemKind::Mysql => format!("NOT ({target} <=> {guard_value})"),
        }
    }

    /// A column read as text, as every value crosses the connection.
    fn as_text(&self, column: &str) -> String {
        let value_type = self
            .live
            .tables
            .get(self.table)
            .and_then(|t| t.column(column))
            .map_or(ValueType::Text, |c| c.value_type);
        value_type.select(self.kind, &quote(self.kind, column))
    }

    /// `SELECT keys, c, c is not already v FROM t WHERE (keys) IN (...) FOR UPDATE`, in key
    /// order (two rectifications of the same rows lock them in the same order), with its
    /// binds: the rows stay as read until the transaction ends.
    fn lock(
        &self,
        comment: &str,
        column: &str,
        value: &str,
        key_columns: &[String],
        keys: &[Vec<String>],
    ) -> (String, Vec<String>) {
        let mut binds = Binds::new(self.kind);
        // Placeholders in the order they are written: the select list, then WHERE keys.
        let mut select: Vec<String> = key_columns.iter().map(|c| self.as_text(c)).collect();
        select.push(self.as_text(column));
        let differs = self.differs(&mut binds, column, value);
        select.push(format!("CASE WHEN {differs} THEN '1' ELSE '0' END"));
        let within = self.keys_in(&mut binds, key_columns, keys);
        let order: Vec<String> = key_columns.iter().map(|c| quote(self.kind, c)).collect();
        let sql = format!(
            "{comment}SELECT {} FROM {} WHERE {within} ORDER BY {} FOR UPDATE",
            select.join(", "),
            self.table_name(),
            order.join(", ")
        );
        (sql, binds.values)
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
        let mut binds = Binds::new(self.kind);
        // Placeholders in the order they are written: SET, WHERE keys, then the guard.
        let set = self.value(&mut binds, column, value);
        let within = self.keys_in(&mut binds, key_columns, keys);
        let not_yet = self.differs(&mut binds, column, value);
        let sql = format!(
            "{comment}UPDATE {} SET {} = {set} WHERE {within} AND {not_yet}",
            self.table_name(),
            quote(self.kind, column)
        );
        (sql, binds.values)
    }
}
