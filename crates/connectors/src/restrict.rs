//! Restriction (GDPR art. 18) and objection (art. 21) in the authority's other systems: the
//! person's rows are marked so that the system's own application only stores them.
//!
//! A table of the dataset map may name its mark (`restriction: {column:
//! processing_restricted}`), a boolean column that application honours. [`restrict_person`]
//! sets it (TRUE; 1 on MySQL) on the person's rows, found as [`find`] finds them (their own
//! rows and the rows that link to them), in every table that has a mark, in one write
//! transaction per system; with `restricted: false` it clears it (FALSE), for a lifted
//! restriction. Rows that already hold the value are left alone and not counted, so running
//! it again changes nothing. As everywhere in this crate, names come from the map and are
//! used only after they were found in the live schema, quoted; the keys are bound.

use std::fmt;

use kluis_domain::dataset_map::{DatasetMap, SystemKind};
use kluis_domain::trace::TraceContext;
use serde::Serialize;

use crate::db::{Binds, affect};
use crate::erase::{MAX_VALUES, Sql};
use crate::schema::{LiveSchema, Read, ValueType};
use crate::{ConnectorError, PersonQuery, System, find, rows_by_table};

/// What marking (or unmarking) a person's rows did in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemRestrictionReport {
    pub system: String,
    /// True when the rows were marked, false when the mark was cleared.
    pub restricted: bool,
    /// Per table with a mark, in the map's order.
    pub tables: Vec<TableRestrictionReport>,
    /// Why it was not done: then no row was changed (one transaction).
    #[serde(serialize_with = "crate::error::as_text")]
    pub error: Option<ConnectorError>,
}

/// What happened to the person's rows in one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRestrictionReport {
    pub table: String,
    /// The mark's column.
    pub column: String,
    /// The person's rows in the table.
    pub rows: u64,
    /// Rows whose mark changed (the others held the value already).
    pub changed: u64,
}

impl SystemRestrictionReport {
    /// Whether it was done (committed) completely.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }

    /// The person's rows in the marked tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }

    /// Rows whose mark changed, all tables together.
    pub fn changed(&self) -> u64 {
        self.tables.iter().map(|t| t.changed).sum()
    }
}

impl fmt::Display for SystemRestrictionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.restricted {
            "marked"
        } else {
            "unmarked"
        };
        write!(f, "system {}:", self.system)?;
        for t in &self.tables {
            write!(
                f,
                " {}.{}: {} of {} row(s) {what};",
                t.table, t.column, t.changed, t.rows
            )?;
        }
        match &self.error {
            Some(e) => write!(f, " NOT DONE: {e}"),
            None => Ok(()),
        }
    }
}

/// Sets (`restricted`) or clears the restriction mark on the person's rows in `system`, in
/// one transaction. Never fails as a whole: a map without marks, a connection, schema or
/// query failure is in the report's `error`, and then no row was changed.
pub async fn restrict_person(
    system: &System,
    person: &PersonQuery,
    restricted: bool,
    trace: Option<&TraceContext>,
) -> SystemRestrictionReport {
    let mut report = SystemRestrictionReport {
        system: system.name().to_string(),
        restricted,
        tables: Vec::new(),
        error: None,
    };
    match mark_rows(system, person, restricted, trace).await {
        Ok(tables) => report.tables = tables,
        Err(e) => {
            tracing::warn!(system = system.name(), error = %e, "restriction mark not changed");
            report.error = Some(e);
        }
    }
    tracing::info!(
        system = system.name(),
        restricted,
        rows = report.rows(),
        changed = report.changed(),
        "changed the restriction mark of a person's rows in a system"
    );
    report
}

/// [`restrict_person`] in every system at once; one system that fails does not stop the
/// others. The reports are in the order of `systems`.
pub async fn restrict_person_all(
    systems: &[System],
    person: &PersonQuery,
    restricted: bool,
    trace: Option<&TraceContext>,
) -> Vec<SystemRestrictionReport> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, system) in systems.iter().enumerate() {
        let (system, person, trace) = (system.clone(), person.clone(), trace.copied());
        tasks.spawn(async move {
            (
                i,
                restrict_person(&system, &person, restricted, trace.as_ref()).await,
            )
        });
    }
    let mut reports: Vec<SystemRestrictionReport> = systems
        .iter()
        .map(|s| SystemRestrictionReport {
            system: s.name().to_string(),
            restricted,
            tables: Vec::new(),
            error: Some(ConnectorError::Query {
                system: s.name().to_string(),
                reason: "the marking stopped unexpectedly".into(),
            }),
        })
        .collect();
    while let Some(joined) = tasks.join_next().await {
        // A task that panicked keeps the error set above.
        if let Ok((i, report)) = joined {
            reports[i] = report;
        }
    }
    reports
}

async fn mark_rows(
    system: &System,
    person: &PersonQuery,
    restricted: bool,
    trace: Option<&TraceContext>,
) -> Result<Vec<TableRestrictionReport>, ConnectorError> {
    let map = system.map();
    if map.restriction_marks().next().is_none() {
        return Err(ConnectorError::InvalidMap {
            system: system.name().to_string(),
            problems: "  - no table has a restriction mark, so kluis cannot mark the \
                       person's rows: add `restriction: {column: processing_restricted}` \
                       (a boolean column the system honours) to its tables, or carry the \
                       restriction out by hand"
                .into(),
        });
    }
    let hits = find(system, person, trace).await?;
    let rows = rows_by_table(&hits);
    let doing = if restricted {
        "marking rows as restricted"
    } else {
        "clearing restriction marks"
    };
    system
        .write_session(trace, false, doing, async |conn, comment| {
            let live = system.live_schema(conn, Read::Columns, comment).await?;
            let mismatches = restriction_mismatches(map, &live);
            if !mismatches.is_empty() {
                return Err(ConnectorError::SchemaMismatch {
                    system: system.name().to_string(),
                    mismatches,
                });
            }
            let sql = Sql {
                map,
                live: &live,
                comment,
                held: &PersonQuery::new(),
            };
            let mut done = Vec::new();
            for (table, column) in map.restriction_marks() {
                let (key_columns, keys) = rows.get(table).cloned().unwrap_or_default();
                let mut t = TableRestrictionReport {
                    table: table.to_string(),
                    column: column.to_string(),
                    rows: keys.len() as u64,
                    changed: 0,
                };
                let per_statement = (MAX_VALUES / key_columns.len().max(1)).max(1);
                for chunk in keys.chunks(per_statement) {
                    let (statement, binds) =
                        mark_statement(&sql, table, column, restricted, &key_columns, chunk);
                    t.changed += affect(conn, statement, &binds)
                        .await
                        .map_err(|e| system.query_error(&e))?;
                }
                done.push(t);
            }
            Ok(done)
        })
        .await
}

/// `UPDATE t SET mark = TRUE WHERE key IN (...) AND mark IS NOT TRUE` (or the reverse),
/// with its binds. TRUE and FALSE are 1 and 0 on MySQL; a NULL mark counts as not marked.
fn mark_statement(
    sql: &Sql<'_>,
    table: &str,
    column: &str,
    restricted: bool,
    key_columns: &[String],
    keys: &[Vec<String>],
) -> (String, Vec<String>) {
    let mut binds = Binds::new(sql.kind());
    let within = sql.one_of(&mut binds, None, table, key_columns, keys);
    let mark = sql.column(None, column);
    let (value, not_yet) = if restricted {
        ("TRUE", "IS NOT TRUE")
    } else {
        ("FALSE", "IS TRUE")
    };
    let statement = format!(
        "{}UPDATE {} SET {mark} = {value} WHERE {within} AND {mark} {not_yet}",
        sql.comment,
        sql.table(table)
    );
    (statement, binds.values)
}

/// Where the live schema does not hold the map's restriction marks: a missing column, one
/// that is not boolean, or one in the live primary key.
pub(crate) fn restriction_mismatches(map: &DatasetMap, live: &LiveSchema) -> Vec<String> {
    let qualified = |t: &str| match &map.schema {
        Some(s) => format!("{s}.{t}"),
        None => t.to_string(),
    };
    let mut out = Vec::new();
    for (table, column) in map.restriction_marks() {
        // A missing table is reported by the comparison of the map itself.
        let Some(lt) = live.tables.get(table) else {
            continue;
        };
        match lt.column(column) {
            None => out.push(format!(
                "table {} has no column '{column}', its restriction mark: add it (boolean, \
                 false by default) and let the application honour it, or correct the map",
                qualified(table)
            )),
            Some(c) if c.in_primary_key => out.push(format!(
                "column {}.{column}, the restriction mark, is in the primary key: use a \
                 boolean column of its own",
                qualified(table)
            )),
            Some(c) if !is_boolean(map.kind, c.value_type, &c.type_name) => out.push(format!(
                "column {}.{column} is of type {}: the restriction mark must be a boolean \
                 column (boolean on PostgreSQL, BOOLEAN or TINYINT(1) on MySQL/MariaDB)",
                qualified(table),
                c.type_name
            )),
            Some(_) => {}
        }
    }
    out
}

/// MySQL's BOOLEAN is TINYINT(1); PostgreSQL has a type of its own.
fn is_boolean(kind: SystemKind, value_type: ValueType, type_name: &str) -> bool {
    match kind {
        SystemKind::Postgres => value_type == ValueType::Boolean,
        SystemKind::Mysql => type_name.starts_with("tinyint"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{LiveColumn, LiveTable};

    fn hr() -> DatasetMap {
        kluis_domain::dataset_map::parse("hr.yaml", include_str!("testing/hr.yaml")).unwrap()
    }

    fn column(name: &str, type_name: &str, value_type: ValueType) -> LiveColumn {
        LiveColumn {
            name: name.into(),
            type_name: type_name.into(),
            value_type,
            is_text: false,
            case_insensitive: false,
            in_primary_key: name == "id",
        }
    }

    #[test]
    fn the_mark_is_set_by_key_and_only_where_not_set_yet() {
        let map = hr();
        let mut live = LiveSchema::default();
        live.tables.insert(
            "applicants".into(),
            LiveTable {
                columns: vec![
                    column("id", "bigint", ValueType::Integer),
                    column("processing_restricted", "boolean", ValueType::Boolean),
                ],
            },
        );
        let sql = Sql {
            map: &map,
            live: &live,
            comment: "",
            held: &PersonQuery::new(),
        };
        let keys = vec![vec!["1".to_string()], vec!["2".to_string()]];
        let (statement, binds) = mark_statement(
            &sql,
            "applicants",
            "processing_restricted",
            true,
            &["id".to_string()],
            &keys,
        );
        assert_eq!(
            statement,
            "UPDATE \"hr\".\"applicants\" SET \"processing_restricted\" = TRUE WHERE \"id\" IN \
             (CAST($1 AS bigint), CAST($2 AS bigint)) AND \"processing_restricted\" IS NOT TRUE"
        );
        assert_eq!(binds, ["1", "2"]);
        let (statement, _) = mark_statement(
            &sql,
            "applicants",
            "processing_restricted",
            false,
            &["id".to_string()],
            &keys,
        );
        assert!(
            statement.ends_with("SET \"processing_restricted\" = FALSE WHERE \"id\" IN (CAST($1 AS bigint), CAST($2 AS bigint)) AND \"processing_restricted\" IS TRUE"),
            "{statement}"
        );
        assert!(restriction_mismatches(&map, &live).is_empty());

        // Not boolean, or missing: said per table.
        live.tables.get_mut("applicants").unwrap().columns[1] =
            column("processing_restricted", "text", ValueType::Text);
        let m = restriction_mismatches(&map, &live);
        assert!(m[0].contains("must be a boolean column"), "{m:?}");
        live.tables.get_mut("applicants").unwrap().columns.pop();
        let m = restriction_mismatches(&map, &live);
        assert!(
            m[0].contains("hr.applicants has no column 'processing_restricted'"),
            "{m:?}"
        );
    }
}
