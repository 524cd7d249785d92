//! Finding one person's rows in a system: one set-based query per table, parents before
//! the tables that link to them.
//!
//! A table with identifying columns is searched by them. A linked table is searched with
//! a semi-join up its chain of links (`applicant_id IN (SELECT id FROM applicants WHERE
//! ...)`), so the database does the joining and no row costs a round trip. Which
//! identifier matched a row is carried down from the parent rows found just before.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kluis_domain::dataset_map::{DatasetMap, NationalNumberFormat, Table};
use kluis_domain::identifiers::IdentifierKind;

use crate::db::{AliasedSql, Binds, Conn};
use crate::schema::{LiveSchema, LiveTable, ValueType};
use crate::{Hit, HitColumn, PersonQuery};

/// Kinds of identifier through which rows with a given key value belong to the person,
/// per (table, column).
type Keys = HashMap<(String, String), HashMap<String, BTreeSet<IdentifierKind>>>;

/// Runs the search. The live schema must already have been compared with the map and
/// found to match: every name used here is in it.
pub(crate) async fn run(
    conn: &mut Conn,
    map: &DatasetMap,
    live: &LiveSchema,
    person: &PersonQuery,
    comment: &str,
) -> Result<Vec<Hit>, sqlx::Error> {
    let sql = Sql { map, live, person };
    // Columns of each table that a child's link refers to: their values are read too.
    let mut referenced: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for table in map.tables.values() {
        if let Some(link) = &table.link {
            referenced
                .entry(&link.references.table)
                .or_default()
                .insert(&link.references.column);
        }
    }
    let mut keys: Keys = HashMap::new();
    let mut hits = Vec::new();
    for name in map.parents_first() {
        let table = &map.tables[name];
        let live_table = &live.tables[name];
        let refs: Vec<&str> = referenced
            .get(name)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let Some(query) = sql.table_query(name, table, live_table, &refs, comment) else {
            continue; // no identifier of the query can reach this table
        };
        let rows = conn.rows(query.sql, &query.values).await?;
        for row in rows {
            let (hit, refs) = query.layout.hit(name, table, row, &keys);
            for (column, value) in refs {
                keys.entry((name.to_string(), column))
                    .or_default()
                    .entry(value)
                    .or_default()
                    .extend(hit.matched.iter().copied());
            }
            hits.push(hit);
        }
    }
    Ok(hits)
}

/// The SQL that finds a person's rows; also used by the retention sweep to leave out the
/// rows of people under a legal hold.
pub(crate) struct Sql<'a> {
    pub(crate) map: &'a DatasetMap,
    pub(crate) live: &'a LiveSchema,
    pub(crate) person: &'a PersonQuery,
}

/// One table's statement and where its values are in each row.
struct TableQuery {
    sql: String,
    values: Vec<String>,
    layout: Layout,
}

/// The SELECT list: primary key, mapped columns, link column, referenced columns, then
/// one flag per identifier kind matched directly.
struct Layout {
    primary_key: Vec<String>,
    columns: Vec<(String, ValueType)>,
    /// The link column, and the (table, column) it refers to.
    link: Option<(String, (String, String))>,
    refs: Vec<String>,
    flags: Vec<IdentifierKind>,
}

impl AliasedSql for Sql<'_> {
    fn map(&self) -> &DatasetMap {
        self.map
    }
}

impl Sql<'_> {
    fn table_query(
        &self,
        name: &str,
        table: &Table,
        live: &LiveTable,
        refs: &[&str],
        comment: &str,
    ) -> Option<TableQuery> {
        let k = self.kind();
        let text = |column: &str| {
            let t = live
                .column(column)
                .map_or(ValueType::Text, |c| c.value_type);
            t.select(k, &self.column("t0", column))
        };
        let primary_key: Vec<String> = if table.primary_key.is_empty() {
            live.primary_key().into_iter().map(str::to_string).collect()
        } else {
            table.primary_key.clone()
        };
        let layout = Layout {
            columns: table
                .columns
                .keys()
                .map(|c| {
                    let t = live.column(c).map_or(ValueType::Text, |c| c.value_type);
                    (c.clone(), t)
                })
                .collect(),
            link: table.link.as_ref().map(|l| {
                let r = &l.references;
                (l.column.clone(), (r.table.clone(), r.column.clone()))
            }),
            refs: refs.iter().map(|r| r.to_string()).collect(),
            flags: self
                .person
                .kinds()
                .filter(|kind| table.identifying_columns().any(|(_, k, _)| k == *kind))
                .collect(),
            primary_key,
        };
        // MySQL numbers its placeholders by position: bind in the order they are written.
        let mut binds = Binds::new(k);
        let mut select: Vec<String> = Vec::new();
        select.extend(layout.primary_key.iter().map(|c| text(c)));
        select.extend(layout.columns.iter().map(|(c, _)| text(c)));
        if let Some((c, _)) = &layout.link {
            select.push(text(c));
        }
        select.extend(layout.refs.iter().map(|c| text(c)));
        for kind in &layout.flags {
            let matched = self.direct(name, table, "t0", Some(*kind), &mut binds)?;
            select.push(format!("CASE WHEN {matched} THEN '1' ELSE '0' END"));
        }
        let condition = self.condition(name, "t0", 0, &mut binds)?;
        let order: Vec<String> = layout
            .primary_key
            .iter()
            .map(|c| self.column("t0", c))
            .collect();
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", order.join(", "))
        };
        Some(TableQuery {
            sql: format!(
                "{comment}SELECT {} FROM {} WHERE {condition}{order}",
                select.join(", "),
                self.from(name, "t0"),
            ),
            values: binds.values,
            layout,
        })
    }

    /// The rows of `name` (as `alias`) that belong to the person: by its own identifying
    /// columns, or through its link. None when no identifier of the query reaches it.
    fn condition(
        &self,
        name: &str,
        alias: &str,
        depth: usize,
        binds: &mut Binds,
    ) -> Option<String> {
        let table = self.map.tables.get(name)?;
        let mut parts = Vec::new();
        if let Some(direct) = self.direct(name, table, alias, None, binds) {
            parts.push(direct);
        }
        if let Some(link) = &table.link
            && depth < self.map.tables.len()
        {
            let parent_alias = format!("t{}", depth + 1);
            let parent = &link.references.table;
            if let Some(parent_condition) = self.condition(parent, &parent_alias, depth + 1, binds)
            {
                parts.push(format!(
                    "{} IN (SELECT {} FROM {} WHERE {parent_condition})",
                    self.column(alias, &link.column),
                    self.column(&parent_alias, &link.references.column),
                    self.from(parent, &parent_alias),
                ));
            }
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(format!("({})", parts.join(" OR "))),
        }
    }

    /// The table's own identifying columns compared with the query's values (of `only`
    /// kind, or of every kind).
    pub(crate) fn direct(
        &self,
        name: &str,
        table: &Table,
        alias: &str,
        only: Option<IdentifierKind>,
        binds: &mut Binds,
    ) -> Option<String> {
        let live = self.live.tables.get(name)?;
        let mut parts = Vec::new();
        for (column, kind, spec) in table.identifying_columns() {
            if only.is_some_and(|o| o != kind) {
                continue;
            }
            let values = self.person.values(kind);
            if values.is_empty() {
                continue;
            }
            let col = self.column(alias, column);
            let part = match kind {
                IdentifierKind::Email => {
                    let folds_case = live.column(column).is_some_and(|c| c.case_insensitive);
                    let lhs = if folds_case {
                        col
                    } else {
                        format!("LOWER({col})")
                    };
                    format!("{lhs} IN {}", binds.list(values.iter().map(String::as_str)))
                }
                IdentifierKind::NationalNumber => {
                    let format = spec.stored_as.unwrap_or(NationalNumberFormat::Digits);
                    let stored: Vec<String> = values.iter().map(|v| format.render(v)).collect();
                    format!("{col} IN {}", binds.list(stored.iter().map(String::as_str)))
                }
                IdentifierKind::Bsn | IdentifierKind::Phone => {
                    format!("{col} IN {}", binds.list(values.iter().map(String::as_str)))
                }
                // The map refuses it; nothing to compare.
                IdentifierKind::NameBirthDate => continue,
            };
            parts.push(part);
        }
        match parts.len() {
            0 => None,
            1 => parts.pop(),
            _ => Some(format!("({})", parts.join(" OR "))),
        }
    }
}

impl Layout {
    /// Turns a row into a hit, with the values of its referenced columns (for the tables
    /// that link to this one).
    fn hit(
        &self,
        name: &str,
        table: &Table,
        row: Vec<Option<String>>,
        keys: &Keys,
    ) -> (Hit, Vec<(String, String)>) {
        let mut values = row.into_iter();
        let mut next = move || values.next().flatten();
        let primary_key = self
            .primary_key
            .iter()
            .map(|c| (c.clone(), next().unwrap_or_default()))
            .collect();
        let columns = self
            .columns
            .iter()
            .map(|(c, t)| HitColumn {
                name: c.clone(),
                category: table.columns[c].category,
                value: t.to_json(next()),
            })
            .collect();
        let mut matched = BTreeSet::new();
        if let Some((_, parent)) = &self.link
            && let Some(value) = next()
            && let Some(kinds) = keys.get(parent).and_then(|m| m.get(&value))
        {
            matched.extend(kinds.iter().copied());
        }
        let refs: Vec<(String, String)> = self
            .refs
            .iter()
            .filter_map(|c| next().map(|v| (c.clone(), v)))
            .collect();
        for kind in &self.flags {
            if next().as_deref() == Some("1") {
                matched.insert(*kind);
            }
        }
        let hit = Hit {
            table: name.to_string(),
            primary_key,
            columns,
            matched,
        };
        (hit, refs)
    }
}
