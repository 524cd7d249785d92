//! Erasure in the authority's other systems, following each table's strategy in the
//! dataset map: the retention sweep of rows whose retention ended ([`sweep_expired`], and
//! [`expired`] for the plan) and the erasure of one person's rows ([`erase_person`]).
//!
//! A table's rows are deleted (`erasure: delete_row`), anonymised (columns `set_null` or
//! `mask`) or kept for the legal obligation the map gives (`keep`). A row whose retention
//! ended takes the rows that link to it along: they are erased first, each table by its
//! own strategy, in the same transaction. The sweep works in batches of rows of the table
//! whose date decides, one transaction each, so a sweep that fails or is killed half-way
//! leaves whole batches done and the next run goes on where it stopped; a row already
//! anonymised is not counted again. [`sweep_expired_logged`] hands each batch to the
//! destruction log before committing it. The rows of the people under a legal hold in
//! kluis (their identifiers given by the caller) are left out of the sweep and counted as
//! held: a due row is held when it, a row it links to or a row linking to it identifies
//! such a person.
//!
//! Before any change, the live schema is compared with the map, and the erasure is refused
//! when it would take rows the map does not describe: a foreign key into a table whose
//! rows are deleted, from a table or column that is not a link of the map; or a table
//! whose rows are deleted while rows linking to them are kept or anonymised.
//!
//! As for searching: table and column names come from the map and are used only after they
//! were found in the live schema, quoted; values are always bound parameters.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use kluis_domain::dataset_map::{
    ColumnErasure, DatasetMap, RetentionPeriod, RetentionPeriods, SystemKind, Table, TableErasure,
};
use kluis_domain::trace::TraceContext;
use serde::Serialize;
use time::Date;

use crate::db::{Binds, Conn, affect, begin_write, qualified, quote};
use crate::schema::{self, LiveSchema, Read, ValueType};
use crate::{ConnectorError, PersonQuery, System, find, rows_by_table, search};

/// Most values bound in one statement: well under the 65,535 parameters both servers allow.
pub(crate) const MAX_VALUES: usize = 5_000;

/// Most rows of the deciding table in one batch of a sweep.
pub const MAX_BATCH: usize = 50_000;

/// What an erasure did (or, in a dry run, would do) in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemErasureReport {
    pub system: String,
    /// Nothing was changed: the counts say what would be.
    pub dry_run: bool,
    /// Per table (and, in a sweep, per retention that ended), in the order erased.
    pub tables: Vec<TableErasureReport>,
    /// Why the system was not erased completely. What the tables report was done and
    /// committed before; running the erasure again goes on from there.
    #[serde(serialize_with = "crate::error::as_text")]
    pub error: Option<ConnectorError>,
}

/// What happened to the rows of one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableErasureReport {
    pub table: String,
    /// In a sweep: the retention that ended, of this table or of the table its rows link
    /// to. None for the erasure of a person.
    pub retention: Option<EndedRetention>,
    /// Rows deleted.
    pub deleted: u64,
    /// Rows whose columns were set to NULL or masked.
    pub anonymised: u64,
    /// Rows kept whole, for the legal obligation in `kept_because`.
    pub kept: u64,
    /// In a sweep: rows whose retention ended but that belong to a person under a legal
    /// hold in kluis (or link to such rows), left as they are.
    pub held: u64,
    /// The legal obligations for which rows (`table: reason`) or columns of anonymised
    /// rows (`column: reason`) were kept.
    pub kept_because: Vec<String>,
    /// Rows of a batch that failed: left as they were, for the next run.
    pub failed: u64,
}

/// The retention that ended, for the destruction log: under which rule rows went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndedRetention {
    /// The table whose date decided: the table itself or one it links to.
    pub table: String,
    /// The column holding that date.
    pub from: String,
    pub activity: Option<String>,
    /// The retention schedule's key; None for a period of the map's own.
    pub schedule: Option<String>,
    /// The rule in words.
    pub rule: String,
    /// Rows whose date was before this day were due.
    pub dated_before: Date,
}

impl SystemErasureReport {
    fn new(system: &System, dry_run: bool) -> Self {
        SystemErasureReport {
            system: system.name().to_string(),
            dry_run,
            tables: Vec::new(),
            error: None,
        }
    }

    /// True when every row due was handled.
    pub fn is_complete(&self) -> bool {
        self.error.is_none()
    }

    /// Rows deleted in all tables.
    pub fn deleted(&self) -> u64 {
        self.tables.iter().map(|t| t.deleted).sum()
    }

    /// Rows anonymised in all tables.
    pub fn anonymised(&self) -> u64 {
        self.tables.iter().map(|t| t.anonymised).sum()
    }

    /// Rows kept in all tables.
    pub fn kept(&self) -> u64 {
        self.tables.iter().map(|t| t.kept).sum()
    }

    /// Rows a legal hold kept, in all tables.
    pub fn held(&self) -> u64 {
        self.tables.iter().map(|t| t.held).sum()
    }

    /// The entry of `table` (the first, when several retentions reached it).
    pub fn table(&self, table: &str) -> Option<&TableErasureReport> {
        self.tables.iter().find(|t| t.table == table)
    }

    /// The entry of `table` reached through the retention of `root`, created when new.
    fn entry(
        &mut self,
        table: &str,
        retention: Option<&EndedRetention>,
        kept_because: &[String],
    ) -> &mut TableErasureReport {
        let root = retention.map(|r| r.table.as_str());
        let at = self.tables.iter().position(|t| {
            t.table == table && t.retention.as_ref().map(|r| r.table.as_str()) == root
        });
        let i = match at {
            Some(i) => i,
            None => {
                self.tables.push(TableErasureReport {
                    table: table.to_string(),
                    retention: retention.cloned(),
                    deleted: 0,
                    anonymised: 0,
                    kept: 0,
                    held: 0,
                    kept_because: kept_because.to_vec(),
                    failed: 0,
                });
                self.tables.len() - 1
            }
        };
        &mut self.tables[i]
    }
}

impl fmt::Display for SystemErasureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        };
        writeln!(f, "{}{what}", self.system)?;
        if self.tables.is_empty() && self.error.is_none() {
            writeln!(f, "  nothing to erase")?;
        }
        for t in &self.tables {
            write!(
                f,
                "  {}: {} deleted, {} anonymised, {} kept",
                t.table, t.deleted, t.anonymised, t.kept
            )?;
            if t.held > 0 {
                write!(f, ", {} held (legal hold)", t.held)?;
            }
            if t.failed > 0 {
                write!(f, ", {} failed", t.failed)?;
            }
            if let Some(r) = &t.retention {
                write!(
                    f,
                    " ({}.{} before {}: {})",
                    r.table, r.from, r.dated_before, r.rule
                )?;
            }
            writeln!(f)?;
            for reason in &t.kept_because {
                writeln!(f, "    kept: {reason}")?;
            }
        }
        if let Some(e) = &self.error {
            writeln!(f, "  error: {e}")?;
        }
        Ok(())
    }
}

/// What erasure does to a table's rows, from its map.
enum Strategy<'a> {
    Delete,
    /// Columns set to NULL or masked; the others kept.
    Anonymise(Vec<(&'a str, &'a ColumnErasure)>),
    Keep,
}

impl Strategy<'_> {
    fn of(table: &Table) -> Strategy<'_> {
        match &table.erasure {
            Some(TableErasure::DeleteRow) => Strategy::Delete,
            Some(TableErasure::Keep(_)) => Strategy::Keep,
            None => {
                let changed: Vec<_> = table
                    .columns
                    .iter()
                    .filter_map(|(name, c)| match &c.erasure {
                        Some(e @ (ColumnErasure::SetNull | ColumnErasure::Mask(_))) => {
                            Some((name.as_str(), e))
                        }
                        _ => None,
                    })
                    .collect();
                if changed.is_empty() {
                    Strategy::Keep
                } else {
                    Strategy::Anonymise(changed)
                }
            }
        }
    }
}

/// The legal obligations for which a table's rows or columns are kept.
fn kept_because(name: &str, table: &Table) -> Vec<String> {
    match &table.erasure {
        Some(TableErasure::Keep(reason)) => vec![format!("{name}: {reason}")],
        Some(TableErasure::DeleteRow) => vec![],
        None => table
            .columns
            .iter()
            .filter_map(|(column, c)| match &c.erasure {
                Some(ColumnErasure::Keep(reason)) => Some(format!("{name}.{column}: {reason}")),
                _ => None,
            })
            .collect(),
    }
}

/// The columns a table's erasure changes, when anonymising them finishes its rows: the
/// table is anonymised and every table linking to it, further down too, is kept.
fn finished_when_anonymised<'a>(
    map: &'a DatasetMap,
    root: &'a str,
) -> Option<Vec<(&'a str, &'a ColumnErasure)>> {
    let Strategy::Anonymise(changes) = Strategy::of(map.tables.get(root)?) else {
        return None;
    };
    let kept = subtree(map, root)
        .iter()
        .skip(1)
        .all(|t| matches!(Strategy::of(&map.tables[*t]), Strategy::Keep));
    kept.then_some(changes)
}

/// Tables that link to each table of the map.
fn children(map: &DatasetMap) -> BTreeMap<&str, Vec<&str>> {
    let mut out: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, table) in &map.tables {
        if let Some(link) = &table.link {
            out.entry(link.references.table.as_str())
                .or_default()
                .push(name.as_str());
        }
    }
    out
}

/// `root` and every table that links to it, directly or further down: parents first.
fn subtree<'a>(map: &'a DatasetMap, root: &'a str) -> Vec<&'a str> {
    let children = children(map);
    let mut order = vec![root];
    let mut i = 0;
    // The map has no cycles (it would be refused), but stop at its size regardless.
    while i < order.len() && order.len() <= map.tables.len() {
        if let Some(c) = children.get(order[i]) {
            order.extend(c.iter().copied());
        }
        i += 1;
    }
    order
}

/// Why the map's retention does not fit the live schema: a missing date column, one that
/// holds no date, a missing condition column. Part of [`crate::check`].
pub(crate) fn retention_mismatches(map: &DatasetMap, live: &LiveSchema) -> Vec<String> {
    let qualified = |t: &str| match &map.schema {
        Some(s) => format!("{s}.{t}"),
        None => t.to_string(),
    };
    let mut out = Vec::new();
    for (name, table) in &map.tables {
        let (Some(r), Some(lt)) = (&table.retention, live.tables.get(name)) else {
            continue;
        };
        match lt.column(&r.from) {
            None => out.push(format!(
                "table {} has no column '{}', the date its retention starts from",
                qualified(name),
                r.from
            )),
            Some(c)
                if !matches!(
                    c.value_type,
                    ValueType::Date | ValueType::Timestamp | ValueType::TimestampUtc
                ) =>
            {
                out.push(format!(
                    "column {}.{} is of type {}: the retention starts from a date, so it must be a date, datetime or timestamp column",
                    qualified(name),
                    r.from,
                    c.type_name
                ))
            }
            Some(_) => {}
        }
        if let Some(condition) = &r.only_where
            && lt.column(&condition.column).is_none()
        {
            out.push(format!(
                "table {} has no column '{}', named in only_where of its retention",
                qualified(name),
                condition.column
            ));
        }
    }
    out
}

/// Why deleting rows of `tables` would take rows the map does not describe, or rows the
/// map keeps.
fn deletion_conflicts(map: &DatasetMap, live: &LiveSchema, tables: &BTreeSet<&str>) -> Vec<String> {
    let children = children(map);
    let mut out = Vec::new();
    for name in tables {
        let Some(table) = map.tables.get(*name) else {
            continue;
        };
        if !matches!(Strategy::of(table), Strategy::Delete) {
            continue;
        }
        for child in children.get(name).into_iter().flatten() {
            if !matches!(Strategy::of(&map.tables[*child]), Strategy::Delete) {
                out.push(format!(
                    "rows of table '{name}' are deleted, but the rows of '{child}' that link to them are kept or anonymised and would point at nothing: delete the rows of '{child}' too (erasure: delete_row), or anonymise '{name}' instead of deleting its rows"
                ));
            }
        }
        for (from_table, from_column, to_table, to_column) in &live.foreign_keys {
            if to_table != name {
                continue;
            }
            let described = map
                .tables
                .get(from_table)
                .and_then(|t| t.link.as_ref())
                .is_some_and(|l| {
                    &l.column == from_column
                        && &l.references.table == to_table
                        && &l.references.column == to_column
                });
            if !described {
                out.push(format!(
                    "table '{from_table}' refers to '{name}' ({from_table}.{from_column} → {to_table}.{to_column}), but the dataset map does not describe that link: deleting rows of '{name}' would fail or take rows of '{from_table}' along unreported. Add '{from_table}' to the map with its link and erasure"
                ));
            }
        }
    }
    out
}

/// The live schema compared with the map (and its retention), and the deletions checked.
fn refuse_unfit(
    system: &System,
    live: &LiveSchema,
    tables: &BTreeSet<&str>,
) -> Result<(), ConnectorError> {
    let mut mismatches = schema::compare(&system.map, live).mismatches;
    mismatches.extend(retention_mismatches(&system.map, live));
    if !mismatches.is_empty() {
        return Err(ConnectorError::SchemaMismatch {
            system: system.name().to_string(),
            mismatches,
        });
    }
    let conflicts = deletion_conflicts(&system.map, live, tables);
    if !conflicts.is_empty() {
        let problems: Vec<String> = conflicts.into_iter().map(|c| format!("  - {c}")).collect();
        return Err(ConnectorError::InvalidMap {
            system: system.name().to_string(),
            problems: problems.join("\n"),
        });
    }
    Ok(())
}

/// The SQL of one system: names quoted from the map, values bound with their type. Also
/// what the restriction marks (`restrict.rs`) are written with.
pub(crate) struct Sql<'a> {
    pub(crate) map: &'a DatasetMap,
    pub(crate) live: &'a LiveSchema,
    pub(crate) comment: &'a str,
    /// The identifiers of the people under a legal hold: a sweep leaves their rows alone.
    pub(crate) held: &'a PersonQuery,
}

/// Which of the due rows: those a sweep erases, or those a legal hold keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    Free,
    Held,
}

impl Sql<'_> {
    pub(crate) fn kind(&self) -> SystemKind {
        self.map.kind
    }

    /// The table's name, in its schema.
    pub(crate) fn table(&self, table: &str) -> String {
        qualified(self.kind(), self.map.schema.as_deref(), table)
    }

    /// A column, of `alias` when given.
    pub(crate) fn column(&self, alias: Option<&str>, column: &str) -> String {
        match alias {
            Some(a) => format!("{a}.{}", quote(self.kind(), column)),
            None => quote(self.kind(), column),
        }
    }

    /// The placeholder of `value` as a value of the column: PostgreSQL does not compare or
    /// assign text to other types without a cast, MySQL converts by itself.
    fn value(&self, binds: &mut Binds, table: &str, column: &str, value: &str) -> String {
        let placeholder = binds.push(value);
        match self.kind() {
            SystemKind::Mysql => placeholder,
            SystemKind::Postgres => {
                let live = self.live.tables.get(table).and_then(|t| t.column(column));
                match live {
                    // `character` alone would be char(1): compare as text instead.
                    Some(c) if !c.is_text => format!("CAST({placeholder} AS {})", c.type_name),
                    _ => format!("CAST({placeholder} AS text)"),
                }
            }
        }
    }

    /// `columns IN (values)` for rows of values, as one column or a row of columns.
    pub(crate) fn one_of(
        &self,
        binds: &mut Binds,
        alias: Option<&str>,
        table: &str,
        columns: &[String],
        rows: &[Vec<String>],
    ) -> String {
        let lhs: Vec<String> = columns.iter().map(|c| self.column(alias, c)).collect();
        let items: Vec<String> = rows
            .iter()
            .map(|row| {
                let values: Vec<String> = columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| self.value(binds, table, c, v))
                    .collect();
                if values.len() == 1 {
                    values.into_iter().next().unwrap_or_default()
                } else {
                    format!("({})", values.join(", "))
                }
            })
            .collect();
        if lhs.len() == 1 {
            format!("{} IN ({})", lhs[0], items.join(", "))
        } else {
            format!("({}) IN ({})", lhs.join(", "), items.join(", "))
        }
    }

    /// `expr` as text in a SELECT list.
    fn text(&self, table: &str, alias: &str, column: &str) -> String {
        let t = self
            .live
            .tables
            .get(table)
            .and_then(|t| t.column(column))
            .map_or(ValueType::Text, |c| c.value_type);
        t.select(self.kind(), &self.column(Some(alias), column))
    }

    fn count(&self) -> &'static str {
        match self.kind() {
            SystemKind::Postgres => "count(*)::text",
            SystemKind::Mysql => "CAST(COUNT(*) AS CHAR)",
        }
    }

    /// The rows of `name` (as `alias`) whose retention ended before `before`: those no
    /// legal hold keeps ([`Due::Free`]) or those one keeps ([`Due::Held`]).
    ///
    /// A due row that was anonymised already, with only kept rows linking to it, has
    /// nothing left to do: it is left out, so a second run neither visits nor counts it.
    fn due(
        &self,
        binds: &mut Binds,
        root: &str,
        alias: &str,
        (rule, before): (&RetentionPeriod, Date),
        which: Due,
    ) -> String {
        let date = binds.push(&before.to_string());
        let mut sql = format!(
            "{} < CAST({date} AS DATE)",
            self.column(Some(alias), &rule.from)
        );
        if let Some(condition) = &rule.only_where {
            let column = self.column(Some(alias), &condition.column);
            let text = match self.kind() {
                SystemKind::Postgres => format!("CAST({column} AS text)"),
                SystemKind::Mysql => format!("CAST({column} AS CHAR)"),
            };
            let values = binds.list(condition.values.iter().map(String::as_str));
            sql.push_str(&format!(" AND {text} IN {values}"));
        }
        if let Some(changes) = finished_when_anonymised(self.map, root) {
            let not_done = self.not_done(binds, root, Some(alias), &changes);
            sql.push_str(&format!(" AND {not_done}"));
        }
        let mut next = 0;
        let held = if self.held.is_empty() {
            None
        } else {
            self.held_rows(binds, root, alias, (true, true), 0, &mut next)
        };
        match (which, held) {
            (Due::Free, None) => {}
            // NULL (an empty identifier, no parent row) is not a match: IS NOT TRUE.
            (Due::Free, Some(held)) => sql.push_str(&format!(" AND ({held}) IS NOT TRUE")),
            (Due::Held, None) => sql.push_str(" AND 1 = 0"),
            (Due::Held, Some(held)) => sql.push_str(&format!(" AND ({held}) IS TRUE")),
        }
        sql
    }

    /// The rows of `name` (as `alias`) that belong to a person under a legal hold: by
    /// the table's own identifying columns, through the rows it links to (`up`), or
    /// through rows linking to it that identify such a person (`down`), as far as the
    /// links go. None when no identifier of a held person can reach the table.
    fn held_rows(
        &self,
        binds: &mut Binds,
        name: &str,
        alias: &str,
        (up, down): (bool, bool),
        depth: usize,
        next: &mut usize,
    ) -> Option<String> {
        let table = self.map.tables.get(name)?;
        // The map has no cycles (it would be refused), but stop at its size regardless.
        if depth > self.map.tables.len() {
            return None;
        }
        let search = search::Sql {
            map: self.map,
            live: self.live,
            person: self.held,
        };
        let mut parts = Vec::new();
        if let Some(direct) = search.direct(name, table, alias, None, binds) {
            parts.push(direct);
        }
        if up && let Some(link) = &table.link {
            *next += 1;
            let parent_alias = format!("h{next}");
            let parent = &link.references.table;
            if let Some(inner) =
                self.held_rows(binds, parent, &parent_alias, (true, false), depth + 1, next)
            {
                parts.push(format!(
                    "{} IN (SELECT {} FROM {} AS {parent_alias} WHERE {inner})",
                    self.column(Some(alias), &link.column),
                    self.column(Some(&parent_alias), &link.references.column),
                    self.table(parent),
                ));
            }
        }
        if down {
            for child in children(self.map).get(name).into_iter().flatten() {
                let Some(link) = &self.map.tables[*child].link else {
                    continue;
                };
                *next += 1;
                let child_alias = format!("h{next}");
                if let Some(inner) =
                    self.held_rows(binds, child, &child_alias, (false, true), depth + 1, next)
                {
                    parts.push(format!(
                        "{} IN (SELECT {} FROM {} AS {child_alias} WHERE {inner})",
                        self.column(Some(alias), &link.references.column),
                        self.column(Some(&child_alias), &link.column),
                        self.table(child),
                    ));
                }
            }
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(format!("({})", parts.join(" OR "))),
        }
    }

    /// The rows of `name` (as `t{depth}`) that belong to due rows of `root`, through links.
    fn scope(
        &self,
        binds: &mut Binds,
        name: &str,
        depth: usize,
        root: &Root,
        which: Due,
    ) -> String {
        let (root, rule, before) = *root;
        let alias = format!("t{depth}");
        if name == root || depth > self.map.tables.len() {
            return self.due(binds, root, &alias, (rule, before), which);
        }
        let Some(link) = self.map.tables.get(name).and_then(|t| t.link.as_ref()) else {
            return "1 = 0".into();
        };
        let parent = &link.references.table;
        let parent_alias = format!("t{}", depth + 1);
        let inner = self.scope(binds, parent, depth + 1, &(root, rule, before), which);
        format!(
            "{} IN (SELECT {} FROM {} AS {parent_alias} WHERE {inner})",
            self.column(Some(&alias), &link.column),
            self.column(Some(&parent_alias), &link.references.column),
            self.table(parent),
        )
    }

    /// Rows whose changed columns do not yet hold their erased value, so that a row
    /// already anonymised is neither changed nor counted again.
    fn not_done(
        &self,
        binds: &mut Binds,
        name: &str,
        alias: Option<&str>,
        changes: &[(&str, &ColumnErasure)],
    ) -> String {
        let parts: Vec<String> = changes
            .iter()
            .map(|(column, erasure)| {
                let c = self.column(alias, column);
                match erasure {
                    ColumnErasure::Mask(v) => {
                        let value = self.value(binds, name, column, v);
                        match self.kind() {
                            SystemKind::Postgres => format!("{c} IS DISTINCT FROM {value}"),
                            SystemKind::Mysql => format!("NOT ({c} <=> {value})"),
                        }
                    }
                    _ => format!("{c} IS NOT NULL"),
                }
            })
            .collect();
        format!("({})", parts.join(" OR "))
    }

    /// `SET a = NULL, b = 'mask'`.
    fn set(&self, binds: &mut Binds, name: &str, changes: &[(&str, &ColumnErasure)]) -> String {
        let parts: Vec<String> = changes
            .iter()
            .map(|(column, erasure)| {
                let value = match erasure {
                    ColumnErasure::Mask(v) => self.value(binds, name, column, v),
                    _ => "NULL".to_string(),
                };
                format!("{} = {value}", self.column(None, column))
            })
            .collect();
        parts.join(", ")
    }

    /// The primary key of a table: the map's, or the live one.
    fn primary_key(&self, name: &str) -> Vec<String> {
        let table = &self.map.tables[name];
        if table.primary_key.is_empty() {
            self.live
                .tables
                .get(name)
                .map(|t| t.primary_key().into_iter().map(str::to_string).collect())
                .unwrap_or_default()
        } else {
            table.primary_key.clone()
        }
    }
}

pub(crate) async fn count(
    conn: &mut Conn,
    sql: String,
    binds: &[String],
) -> Result<u64, sqlx::Error> {
    let rows = conn.rows(sql, binds).await?;
    Ok(rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

/// The retention that ended for `root`, as reports carry it.
fn ended(root: &str, rule: &RetentionPeriod, before: Date) -> EndedRetention {
    EndedRetention {
        table: root.to_string(),
        from: rule.from.clone(),
        activity: rule.activity.clone(),
        schedule: rule.schedule.clone(),
        rule: rule.rule.clone(),
        dated_before: before,
    }
}

/// A table with a retention, its retention, and the first date not yet due.
type Root<'a> = (&'a str, &'a RetentionPeriod, Date);

/// The tables with a retention, with the first date not yet due on `today`.
fn roots<'a>(
    system: &'a System,
    periods: &'a RetentionPeriods,
    today: Date,
) -> Result<Vec<Root<'a>>, ConnectorError> {
    let mut out = Vec::new();
    for (name, rule) in periods {
        if !system.map.tables.contains_key(name) {
            return Err(ConnectorError::InvalidMap {
                system: system.name().to_string(),
                problems: format!(
                    "  - a retention was given for table '{name}', which is not in the map"
                ),
            });
        }
        let before = rule
            .expired_before(today)
            .map_err(|e| ConnectorError::InvalidMap {
                system: system.name().to_string(),
                problems: format!("  - the retention of table '{name}': {e}"),
            })?;
        out.push((name.as_str(), rule, before));
    }
    Ok(out)
}

/// How many due rows of `name` (of `root`'s retention, through links) a legal hold keeps.
async fn count_held(
    conn: &mut Conn,
    sql: &Sql<'_>,
    name: &str,
    root: &Root<'_>,
) -> Result<u64, sqlx::Error> {
    let mut binds = Binds::new(sql.kind());
    let scope = sql.scope(&mut binds, name, 0, root, Due::Held);
    count(
        conn,
        format!(
            "{}SELECT {} FROM {} AS t0 WHERE {scope}",
            sql.comment,
            sql.count(),
            sql.table(name)
        ),
        &binds.values,
    )
    .await
}

/// How many rows of each table the sweep on `today` would delete, anonymise and keep,
/// and how many a legal hold on one of the `held` people keeps. Changes nothing: one
/// read-only transaction, one count per table (two with people held).
pub async fn expired(
    system: &System,
    periods: &RetentionPeriods,
    held: &PersonQuery,
    today: Date,
) -> Result<Vec<TableErasureReport>, ConnectorError> {
    let roots = roots(system, periods, today)?;
    let mut report = SystemErasureReport::new(system, true);
    system
        .session(None, async |conn, comment| {
            let live = system
                .live_schema(conn, Read::ColumnsAndForeignKeys, comment)
                .await?;
            let tables: BTreeSet<&str> = roots
                .iter()
                .flat_map(|(root, _, _)| subtree(&system.map, root))
                .collect();
            refuse_unfit(system, &live, &tables)?;
            let sql = Sql {
                map: &system.map,
                live: &live,
                comment,
                held,
            };
            for (root, rule, before) in &roots {
                let retention = ended(root, rule, *before);
                for name in subtree(&system.map, root).into_iter().rev() {
                    let table = &system.map.tables[name];
                    let strategy = Strategy::of(table);
                    let held_rows = if held.is_empty() {
                        0
                    } else {
                        count_held(conn, &sql, name, &(*root, *rule, *before))
                            .await
                            .map_err(|e| system.query_error(&e))?
                    };
                    let mut binds = Binds::new(system.map.kind);
                    let scope = sql.scope(&mut binds, name, 0, &(*root, *rule, *before), Due::Free);
                    let extra = match &strategy {
                        Strategy::Anonymise(changes) => {
                            format!(
                                " AND {}",
                                sql.not_done(&mut binds, name, Some("t0"), changes)
                            )
                        }
                        _ => String::new(),
                    };
                    let n = count(
                        conn,
                        format!(
                            "{comment}SELECT {} FROM {} AS t0 WHERE {scope}{extra}",
                            sql.count(),
                            sql.table(name)
                        ),
                        &binds.values,
                    )
                    .await
                    .map_err(|e| system.query_error(&e))?;
                    let entry = report.entry(name, Some(&retention), &kept_because(name, table));
                    entry.held += held_rows;
                    match strategy {
                        Strategy::Delete => entry.deleted += n,
                        Strategy::Anonymise(_) => entry.anonymised += n,
                        Strategy::Keep => entry.kept += n,
                    }
                }
            }
            Ok(())
        })
        .await?;
    Ok(report.tables)
}

/// Erases the rows of `system` whose retention ended before `today`, per `periods` (from
/// [`DatasetMap::retention_periods`]), following the map's strategy per table, `batch`
/// rows of the deciding table per transaction. With `dry_run`, changes nothing and
/// reports what [`expired`] counts.
///
/// Never fails as a whole: an error (unreachable, a mismatch with the map, a batch that
/// failed) is in the report, with what was done before it.
pub async fn sweep_expired(
    system: &System,
    periods: &RetentionPeriods,
    held: &PersonQuery,
    today: Date,
    batch: usize,
    dry_run: bool,
) -> SystemErasureReport {
    let mut report = SystemErasureReport::new(system, dry_run);
    let started = std::time::Instant::now();
    let result = if dry_run {
        expired(system, periods, held, today)
            .await
            .map(|tables| report.tables = tables)
    } else {
        sweep(
            system,
            periods,
            held,
            today,
            batch.clamp(1, MAX_BATCH),
            &mut report,
            &mut async |_: &[TableErasureReport]| Ok(()),
        )
        .await
    };
    if let Err(e) = result {
        tracing::warn!(system = system.name(), error = %e, "retention sweep stopped");
        report.error = Some(e);
    }
    tracing::info!(
        system = system.name(),
        dry_run,
        deleted = report.deleted(),
        anonymised = report.anonymised(),
        kept = report.kept(),
        held = report.held(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "retention sweep of system"
    );
    report
}

/// [`sweep_expired`] (not a dry run) that hands each batch's per-table counts to
/// `on_batch` before committing it, for the destruction log: when `on_batch` fails the
/// batch is rolled back and the sweep stops, so no row is destroyed without its entry.
/// (A crash between the log's commit and the system's leaves an entry for rows that are
/// still there; the next run destroys them and logs them again.)
pub async fn sweep_expired_logged<F>(
    system: &System,
    periods: &RetentionPeriods,
    held: &PersonQuery,
    today: Date,
    batch: usize,
    mut on_batch: F,
) -> SystemErasureReport
where
    F: AsyncFnMut(&[TableErasureReport]) -> Result<(), String>,
{
    let mut report = SystemErasureReport::new(system, false);
    let batch = batch.clamp(1, MAX_BATCH);
    if let Err(e) = sweep(
        system,
        periods,
        held,
        today,
        batch,
        &mut report,
        &mut on_batch,
    )
    .await
    {
        tracing::warn!(system = system.name(), error = %e, "retention sweep stopped");
        report.error = Some(e);
    }
    report
}

/// [`sweep_expired`] in every system at once, each with its retention; one system that
/// fails does not stop the others. The reports are in the order of `systems`.
pub async fn sweep_all(
    systems: &[(System, RetentionPeriods)],
    held: &PersonQuery,
    today: Date,
    batch: usize,
    dry_run: bool,
) -> Vec<SystemErasureReport> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (system, periods)) in systems.iter().enumerate() {
        let (system, periods, held) = (system.clone(), periods.clone(), held.clone());
        tasks.spawn(async move {
            (
                i,
                sweep_expired(&system, &periods, &held, today, batch, dry_run).await,
            )
        });
    }
    collect(systems.iter().map(|(s, _)| s), dry_run, tasks).await
}

async fn collect<'a>(
    systems: impl Iterator<Item = &'a System>,
    dry_run: bool,
    mut tasks: tokio::task::JoinSet<(usize, SystemErasureReport)>,
) -> Vec<SystemErasureReport> {
    let mut reports: Vec<SystemErasureReport> = systems
        .map(|s| {
            let mut r = SystemErasureReport::new(s, dry_run);
            r.error = Some(ConnectorError::Query {
                system: s.name().to_string(),
                reason: "the erasure stopped unexpectedly".into(),
            });
            r
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

#[allow(clippy::too_many_arguments)]
async fn sweep<F>(
    system: &System,
    periods: &RetentionPeriods,
    held: &PersonQuery,
    today: Date,
    batch: usize,
    report: &mut SystemErasureReport,
    on_batch: &mut F,
) -> Result<(), ConnectorError>
where
    F: AsyncFnMut(&[TableErasureReport]) -> Result<(), String>,
{
    let roots = roots(system, periods, today)?;
    let mut conn = system.connect(None).await?;
    let result = async {
        let live = system
            .live_schema(&mut conn, Read::ColumnsAndForeignKeys, "")
            .await?;
        let tables: BTreeSet<&str> = roots
            .iter()
            .flat_map(|(root, _, _)| subtree(&system.map, root))
            .collect();
        refuse_unfit(system, &live, &tables)?;
        let sql = Sql {
            map: &system.map,
            live: &live,
            comment: "",
            held,
        };
        for (root, rule, before) in &roots {
            let retention = ended(root, rule, *before);
            let kept_root = kept_because(root, &system.map.tables[*root]);

            let mut after: Option<Vec<String>> = None;
            loop {
                let step = tokio::time::timeout(
                    system.query_timeout,
                    sweep_batch(
                        &mut conn,
                        &sql,
                        root,
                        rule,
                        *before,
                        batch,
                        after.as_deref(),
                    ),
                )
                .await;
                let (attempted, outcome) = match step {
                    Ok(Ok(outcome)) => outcome,
                    // The connection is closed below: the server rolls the batch back.
                    Err(_) => {
                        report.entry(root, Some(&retention), &kept_root).failed += batch as u64;
                        return Err(system.timeout(system.query_timeout, "erasing"));
                    }
                    Ok(Err((attempted, e))) => {
                        report.entry(root, Some(&retention), &kept_root).failed += attempted;
                        return Err(system.query_error(&e));
                    }
                };
                let Some((last, done)) = outcome else {
                    system.exec(&mut conn, "COMMIT".into()).await?;
                    break;
                };
                let mut batch_report = SystemErasureReport::new(system, false);
                for (name, (deleted, anonymised, kept)) in done {
                    let table = &system.map.tables[name.as_str()];
                    let e = batch_report.entry(&name, Some(&retention), &kept_because(&name, table));
                    e.deleted += deleted;
                    e.anonymised += anonymised;
                    e.kept += kept;
                }
                // The destruction is logged before it is committed: if the log refuses,
                // nothing is destroyed.
                if let Err(reason) = on_batch(&batch_report.tables).await {
                    let _ = conn.execute("ROLLBACK".into()).await;
                    report.entry(root, Some(&retention), &kept_root).failed += attempted;
                    return Err(ConnectorError::Query {
                        system: system.name().to_string(),
                        reason: format!(
                            "the destruction log could not record a batch, so it was rolled back: {reason}"
                        ),
                    });
                }
                if let Err(e) = system.exec(&mut conn, "COMMIT".into()).await {
                    report.entry(root, Some(&retention), &kept_root).failed += attempted;
                    return Err(e);
                }
                for t in batch_report.tables {
                    let e = report.entry(&t.table, Some(&retention), &t.kept_because);
                    e.deleted += t.deleted;
                    e.anonymised += t.anonymised;
                    e.kept += t.kept;
                }
                after = Some(last);
            }
            if !held.is_empty() {
                // Counted once per retention, after its batches, children first as erased.
                for name in subtree(&system.map, root).into_iter().rev() {
                    let n = count_held(&mut conn, &sql, name, &(*root, *rule, *before))
                        .await
                        .map_err(|e| system.query_error(&e))?;
                    if n > 0 {
                        let table = &system.map.tables[name];
                        report
                            .entry(name, Some(&retention), &kept_because(name, table))
                            .held += n;
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    conn.finish(result.is_ok()).await;
    result
}

/// Per table: rows deleted, anonymised, kept.
type Done = Vec<(String, (u64, u64, u64))>;

/// One batch in one transaction: the next `batch` due rows of `root` after `after` (by
/// primary key), and the rows linking to them, children first. Returns how many rows of
/// `root` the batch held, with the last key and what was done (None when no row is
/// left), the transaction still open; on failure, the rows of `root` the rolled-back
/// batch held.
async fn sweep_batch(
    conn: &mut Conn,
    sql: &Sql<'_>,
    root: &str,
    rule: &RetentionPeriod,
    before: Date,
    batch: usize,
    after: Option<&[String]>,
) -> Result<(u64, Option<(Vec<String>, Done)>), (u64, sqlx::Error)> {
    conn.execute(begin_write(sql.kind()).to_string())
        .await
        .map_err(|e| (0, e))?;
    let mut attempted = 0u64;
    let result = async {
        let keys = sql.primary_key(root);
        let children = children(sql.map);
        // Values of the root's referenced columns are read with its keys.
        let referenced = |name: &str| -> Vec<String> {
            let mut cols: Vec<String> = children
                .get(name)
                .into_iter()
                .flatten()
                .filter_map(|c| sql.map.tables[*c].link.as_ref())
                .map(|l| l.references.column.clone())
                .collect();
            cols.sort();
            cols.dedup();
            cols
        };
        let root_refs = referenced(root);
        let mut binds = Binds::new(sql.kind());
        let mut select: Vec<String> = keys.iter().map(|k| sql.text(root, "t0", k)).collect();
        select.extend(root_refs.iter().map(|c| sql.text(root, "t0", c)));
        let due = sql.due(&mut binds, root, "t0", (rule, before), Due::Free);
        let page = match after {
            Some(last) => {
                let lhs: Vec<String> = keys.iter().map(|k| sql.column(Some("t0"), k)).collect();
                let rhs: Vec<String> = keys
                    .iter()
                    .zip(last)
                    .map(|(k, v)| sql.value(&mut binds, root, k, v))
                    .collect();
                format!(" AND ({}) > ({})", lhs.join(", "), rhs.join(", "))
            }
            None => String::new(),
        };
        let order: Vec<String> = keys.iter().map(|k| sql.column(Some("t0"), k)).collect();
        let rows = conn
            .rows(
                format!(
                    "{}SELECT {} FROM {} AS t0 WHERE {due}{page} ORDER BY {} LIMIT {batch} FOR UPDATE",
                    sql.comment,
                    select.join(", "),
                    sql.table(root),
                    order.join(", ")
                ),
                &binds.values,
            )
            .await?;
        attempted = rows.len() as u64;
        let Some(last_row) = rows.last() else {
            return Ok(None);
        };
        let last: Vec<String> = last_row[..keys.len()]
            .iter()
            .map(|v| v.clone().unwrap_or_default())
            .collect();
        let root_keys: Vec<Vec<String>> = rows
            .iter()
            .map(|r| r[..keys.len()].iter().map(|v| v.clone().unwrap_or_default()).collect())
            .collect();
        // Values of referenced columns per table, walking down parents first.
        let mut values: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
        for (i, c) in root_refs.iter().enumerate() {
            let set = values.entry((root.to_string(), c.clone())).or_default();
            set.extend(rows.iter().filter_map(|r| r[keys.len() + i].clone()));
        }
        let order = subtree(sql.map, root);
        for name in order.iter().skip(1) {
            let refs = referenced(name);
            if refs.is_empty() {
                continue;
            }
            let link = sql.map.tables[*name].link.as_ref().expect("a child has a link");
            let parent_values: Vec<String> = values
                .get(&(link.references.table.clone(), link.references.column.clone()))
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default();
            for chunk in parent_values.chunks(MAX_VALUES) {
                let mut binds = Binds::new(sql.kind());
                let select: Vec<String> = refs.iter().map(|c| sql.text(name, "t0", c)).collect();
                let rows_in: Vec<Vec<String>> = chunk.iter().map(|v| vec![v.clone()]).collect();
                let within = sql.one_of(&mut binds, Some("t0"), name, std::slice::from_ref(&link.column), &rows_in);
                let found = conn
                    .rows(
                        format!(
                            "{}SELECT {} FROM {} AS t0 WHERE {within}",
                            sql.comment,
                            select.join(", "),
                            sql.table(name)
                        ),
                        &binds.values,
                    )
                    .await?;
                for (i, c) in refs.iter().enumerate() {
                    let set = values.entry((name.to_string(), c.clone())).or_default();
                    set.extend(found.iter().filter_map(|r| r[i].clone()));
                }
            }
        }
        // Children first, the root last.
        let mut done: Done = Vec::new();
        for name in order.iter().rev() {
            let (columns, targets): (Vec<String>, Vec<Vec<String>>) = if *name == root {
                (keys.clone(), root_keys.clone())
            } else {
                let link = sql.map.tables[*name].link.as_ref().expect("a child has a link");
                let parent_values = values
                    .get(&(link.references.table.clone(), link.references.column.clone()))
                    .map(|s| s.iter().map(|v| vec![v.clone()]).collect())
                    .unwrap_or_default();
                (vec![link.column.clone()], parent_values)
            };
            let tally = apply(conn, sql, name, &columns, &targets).await?;
            done.push((name.to_string(), tally));
        }
        Ok(Some((last, done)))
    }
    .await;
    match result {
        // Still open: the caller logs the batch, then commits.
        Ok(outcome) => Ok((attempted, outcome)),
        Err(e) => {
            let _ = conn.execute(format!("{}ROLLBACK", sql.comment)).await;
            Err((attempted, e))
        }
    }
}

/// Applies the strategy of table `name` to its rows whose `columns` hold one of `targets`,
/// in statements of at most [`MAX_VALUES`] values. Returns (deleted, anonymised, kept).
async fn apply(
    conn: &mut Conn,
    sql: &Sql<'_>,
    name: &str,
    columns: &[String],
    targets: &[Vec<String>],
) -> Result<(u64, u64, u64), sqlx::Error> {
    let table = &sql.map.tables[name];
    let strategy = Strategy::of(table);
    let per_statement = (MAX_VALUES / columns.len().max(1)).max(1);
    let mut tally = (0, 0, 0);
    for chunk in targets.chunks(per_statement) {
        let mut binds = Binds::new(sql.kind());
        match &strategy {
            Strategy::Delete => {
                let within = sql.one_of(&mut binds, None, name, columns, chunk);
                tally.0 += affect(
                    conn,
                    format!(
                        "{}DELETE FROM {} WHERE {within}",
                        sql.comment,
                        sql.table(name)
                    ),
                    &binds.values,
                )
                .await?;
            }
            Strategy::Anonymise(changes) => {
                // Placeholders in the order they are written: SET, then WHERE.
                let set = sql.set(&mut binds, name, changes);
                let within = sql.one_of(&mut binds, None, name, columns, chunk);
                let not_done = sql.not_done(&mut binds, name, None, changes);
                tally.1 += affect(
                    conn,
                    format!(
                        "{}UPDATE {} SET {set} WHERE {within} AND {not_done}",
                        sql.comment,
                        sql.table(name)
                    ),
                    &binds.values,
                )
                .await?;
            }
            Strategy::Keep => {
                let within = sql.one_of(&mut binds, Some("t0"), name, columns, chunk);
                tally.2 += count(
                    conn,
                    format!(
                        "{}SELECT {} FROM {} AS t0 WHERE {within}",
                        sql.comment,
                        sql.count(),
                        sql.table(name)
                    ),
                    &binds.values,
                )
                .await?;
            }
        }
    }
    Ok(tally)
}

/// Erases the rows of one person in `system`, found as [`find`] finds them, following the
/// map's strategy per table, all in one transaction: either every row is handled or none.
/// Running it again changes nothing more (rows already anonymised are not counted again;
/// rows kept are counted again). With `dry_run`, changes nothing and says what would be
/// done.
///
/// Never fails as a whole: an error is in the report.
pub async fn erase_person(
    system: &System,
    person: &PersonQuery,
    trace: Option<&TraceContext>,
    dry_run: bool,
) -> SystemErasureReport {
    let mut report = SystemErasureReport::new(system, dry_run);
    if let Err(e) = erase_hits(system, person, trace, dry_run, &mut report).await {
        tracing::warn!(system = system.name(), error = %e, "erasure stopped");
        report.error = Some(e);
    }
    tracing::info!(
        system = system.name(),
        dry_run,
        deleted = report.deleted(),
        anonymised = report.anonymised(),
        kept = report.kept(),
        "erased a person's rows in a system"
    );
    report
}

/// [`erase_person`] in every system at once; one system that fails does not stop the
/// others. The reports are in the order of `systems`.
pub async fn erase_person_all(
    systems: &[System],
    person: &PersonQuery,
    trace: Option<&TraceContext>,
    dry_run: bool,
) -> Vec<SystemErasureReport> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, system) in systems.iter().enumerate() {
        let (system, person, trace) = (system.clone(), person.clone(), trace.copied());
        tasks.spawn(async move {
            (
                i,
                erase_person(&system, &person, trace.as_ref(), dry_run).await,
            )
        });
    }
    collect(systems.iter(), dry_run, tasks).await
}

async fn erase_hits(
    system: &System,
    person: &PersonQuery,
    trace: Option<&TraceContext>,
    dry_run: bool,
    report: &mut SystemErasureReport,
) -> Result<(), ConnectorError> {
    let hits = find(system, person, trace).await?;
    let rows = rows_by_table(&hits);
    if rows.is_empty() {
        return Ok(());
    }
    let order: Vec<&str> = system
        .map
        .parents_first()
        .into_iter()
        .rev()
        .filter(|t| rows.contains_key(t))
        .collect();
    let tables: BTreeSet<&str> = order.iter().copied().collect();
    let result = system
        .write_session(trace, dry_run, "erasing", async |conn, comment| {
            let live = system
                .live_schema(conn, Read::ColumnsAndForeignKeys, comment)
                .await?;
            refuse_unfit(system, &live, &tables)?;
            // Erasing a person: the caller decided whether a hold keeps their rows.
            let sql = Sql {
                map: &system.map,
                live: &live,
                comment,
                held: &PersonQuery::new(),
            };
            let mut tally: Vec<(&str, (u64, u64, u64))> = Vec::new();
            for name in &order {
                let (columns, keys) = &rows[name];
                let done = if dry_run {
                    would(conn, &sql, name, columns, keys).await
                } else {
                    apply(conn, &sql, name, columns, keys).await
                }
                .map_err(|e| system.query_error(&e))?;
                tally.push((name, done));
            }
            Ok(tally)
        })
        .await;
    for name in &order {
        let table = &system.map.tables[*name];
        let e = report.entry(name, None, &kept_because(name, table));
        let done = result
            .as_ref()
            .ok()
            .and_then(|tally| tally.iter().find(|(t, _)| t == name));
        match done {
            Some((_, (deleted, anonymised, kept))) => {
                e.deleted += deleted;
                e.anonymised += anonymised;
                e.kept += kept;
            }
            // Rolled back: none of the person's rows in this system were changed.
            None => e.failed += rows[name].1.len() as u64,
        }
    }
    result.map(drop)
}

/// What [`apply`] would do to the rows, counted without changing them.
async fn would(
    conn: &mut Conn,
    sql: &Sql<'_>,
    name: &str,
    columns: &[String],
    targets: &[Vec<String>],
) -> Result<(u64, u64, u64), sqlx::Error> {
    let table = &sql.map.tables[name];
    let mut tally = (0, 0, 0);
    let per_statement = (MAX_VALUES / columns.len().max(1)).max(1);
    for chunk in targets.chunks(per_statement) {
        let mut binds = Binds::new(sql.kind());
        let within = sql.one_of(&mut binds, Some("t0"), name, columns, chunk);
        let filter = match Strategy::of(table) {
            Strategy::Anonymise(changes) => {
                format!(
                    " AND {}",
                    sql.not_done(&mut binds, name, Some("t0"), &changes)
                )
            }
            _ => String::new(),
        };
        let n = count(
            conn,
            format!(
                "{}SELECT {} FROM {} AS t0 WHERE {within}{filter}",
                sql.comment,
                sql.count(),
                sql.table(name)
            ),
            &binds.values,
        )
        .await?;
        match Strategy::of(table) {
            Strategy::Delete => tally.0 += n,
            Strategy::Anonymise(_) => tally.1 += n,
            Strategy::Keep => tally.2 += n,
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hr() -> DatasetMap {
        kluis_domain::dataset_map::parse("hr.yaml", include_str!("testing/hr.yaml")).unwrap()
    }

    #[test]
    fn subtrees_list_parents_before_the_tables_linking_to_them() {
        let map = hr();
        let order = subtree(&map, "applications");
        assert_eq!(order[0], "applications");
        assert_eq!(order.len(), 3);
        assert!(order.contains(&"documents") && order.contains(&"interview_notes"));
        assert_eq!(subtree(&map, "applicants").len(), 4);
    }

    #[test]
    fn strategies_follow_the_map() {
        let map = kluis_domain::dataset_map::parse(
            "accounting.yaml",
            include_str!("testing/accounting.yaml"),
        )
        .unwrap();
        let Strategy::Anonymise(changes) = Strategy::of(&map.tables["suppliers"]) else {
            panic!("suppliers are anonymised");
        };
        let names: Vec<&str> = changes.iter().map(|c| c.0).collect();
        assert_eq!(
            names,
            ["city", "email", "name", "phone", "postcode", "street"]
        );
        assert!(matches!(
            Strategy::of(&map.tables["invoices"]),
            Strategy::Keep
        ));
        let reasons = kept_because("suppliers", &map.tables["suppliers"]);
        assert_eq!(reasons.len(), 2);
        assert!(
            reasons[0].starts_with("suppliers.iban: Bookkeeping"),
            "{reasons:?}"
        );
        assert!(matches!(
            Strategy::of(&hr().tables["applicants"]),
            Strategy::Delete
        ));
    }

    #[test]
    fn values_are_bound_and_cast_on_postgres_only() {
        let map = hr();
        let live = LiveSchema::default();
        let sql = Sql {
            map: &map,
            live: &live,
            comment: "",
            held: &PersonQuery::new(),
        };
        let mut binds = Binds::new(SystemKind::Postgres);
        let rows = vec![
            vec!["1".to_string()],
            vec!["2'; DROP TABLE x; --".to_string()],
        ];
        let within = sql.one_of(&mut binds, None, "applications", &["id".into()], &rows);
        assert_eq!(within, "\"id\" IN (CAST($1 AS text), CAST($2 AS text))");
        assert_eq!(binds.values[1], "2'; DROP TABLE x; --");
        assert_eq!(sql.table("applications"), "\"hr\".\"applications\"");
    }

    #[test]
    fn a_key_of_several_columns_is_compared_as_a_row() {
        let mut map = hr();
        map.kind = SystemKind::Mysql;
        map.schema = None;
        let live = LiveSchema::default();
        let sql = Sql {
            map: &map,
            live: &live,
            comment: "",
            held: &PersonQuery::new(),
        };
        let mut binds = Binds::new(SystemKind::Mysql);
        let rows = vec![
            vec!["1".to_string(), "a".to_string()],
            vec!["2".to_string(), "b`".to_string()],
        ];
        let within = sql.one_of(
            &mut binds,
            Some("t0"),
            "documents",
            &["id".into(), "kind`".into()],
            &rows,
        );
        assert_eq!(within, "(t0.`id`, t0.`kind```) IN ((?, ?), (?, ?))");
        assert_eq!(binds.values, ["1", "a", "2", "b`"]);
        assert_eq!(sql.table("documents"), "`documents`");
    }
}
