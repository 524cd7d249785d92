//! The people a data breach affects in one system: which tables hold data of the breach's
//! categories, how many of their rows fall in its time window, how many people those rows
//! belong to and, when the people must be told (art. 34), who they are.
//!
//! Everything is counted in SQL, so a system with a million rows costs a few counts and
//! no memory; the people are listed only when asked, at most `list` of them, ordered by
//! key, so a large breach is listed in pages (`offset`). A row belongs to the person of
//! the nearest table up its links that has identifying columns (for the HR map: an
//! interview note belongs to the applicant of its application).
//!
//! As everywhere in the connectors: names come from the map and are used only after they
//! were found in the live schema, quoted; values are bound parameters.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::{DatasetMap, SystemKind, Table};
use kluis_domain::identifiers::{Bsn, EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use serde::Serialize;
use time::Date;

use crate::db::{AliasedSql, Binds};
use crate::schema::{LiveSchema, Read, ValueType};
use crate::{ConnectorError, System};

/// Most people listed per system in one search: a page of the list.
pub const MAX_LISTED: usize = 10_000;

/// What to look for in a system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BreachScope {
    /// Tables holding a column of one of these categories; every table of the map when
    /// empty (the breach concerns the whole system).
    pub categories: BTreeSet<DataCategory>,
    /// Rows dated (by the date their retention runs from in the map) on or after this day.
    pub from: Option<Date>,
    /// Rows dated on or before this day.
    pub until: Option<Date>,
    /// List the people (at most this many, from `offset` on, capped at [`MAX_LISTED`]);
    /// None counts only.
    pub list: Option<usize>,
    pub offset: usize,
}

/// The rows of one table that the breach concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableAffected {
    pub table: String,
    pub rows: u64,
    /// The breach's categories the table holds (all of its own when the query named none).
    pub categories: BTreeSet<DataCategory>,
    /// Whether the time window could be applied: only with a date in the map.
    pub window_applied: bool,
}

/// One person affected, by the identifiers the map lists, normalised (an e-mail address
/// in lower case, a national number as 11 digits).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AffectedPerson {
    /// The table the identifiers come from.
    pub table: String,
    pub identifiers: BTreeMap<IdentifierKind, String>,
    /// The breach's categories of this person's rows.
    pub categories: BTreeSet<DataCategory>,
}

/// The people and rows a breach concerns in one system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SystemAffected {
    pub system: String,
    pub tables: Vec<TableAffected>,
    /// Rows of the identifying tables that are affected or that affected rows belong to.
    pub people: u64,
    /// The people, when asked: at most the cap, from the offset on.
    pub listed: Vec<AffectedPerson>,
    /// The cap the list was made with; `listed.len() < people` means there are more pages.
    pub cap: Option<usize>,
    /// What the counts cannot tell: a window not applied, rows without an identifying
    /// table, people counted once per identifying table.
    pub notes: Vec<String>,
}

impl SystemAffected {
    /// Rows affected in all tables.
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|t| t.rows).sum()
    }
}

/// The query behind one identifying table: which of its rows are affected.
struct PeopleTable<'a> {
    name: &'a str,
    /// Affected tables whose rows belong to this table's rows, with their categories.
    sources: Vec<(&'a str, BTreeSet<DataCategory>)>,
}

/// Counts (and lists, when asked) the people and rows of `system` that the breach concerns.
/// One read-only transaction; a few counts per table.
pub async fn find_affected(
    system: &System,
    scope: &BreachScope,
) -> Result<SystemAffected, ConnectorError> {
    let map = system.map();
    let affected = affected_tables(map, &scope.categories);
    system
        .session(None, async |conn, comment| {
            let live = system.live_schema(conn, Read::Columns, comment).await?;
            let mismatches = crate::schema::compare(map, &live).mismatches;
            if !mismatches.is_empty() {
                return Err(ConnectorError::SchemaMismatch {
                    system: system.name().to_string(),
                    mismatches,
                });
            }
            let sql = Sql {
                map,
                live: &live,
                scope,
            };
            let mut out = SystemAffected {
                system: system.name().to_string(),
                tables: Vec::new(),
                people: 0,
                listed: Vec::new(),
                cap: scope.list.map(|n| n.min(MAX_LISTED)),
                notes: Vec::new(),
            };
            let mut people: BTreeMap<&str, PeopleTable> = BTreeMap::new();
            for (name, categories) in &affected {
                let mut binds = Binds::new(map.kind);
                let (window, applied) = sql.window(&mut binds, name, "t0");
                if !applied && (scope.from.is_some() || scope.until.is_some()) {
                    out.notes.push(format!(
                        "table {name} has no date in the map (a retention 'from'): all its \
                         rows are counted, the time window could not be applied"
                    ));
                }
                let rows = crate::erase::count(
                    conn,
                    format!(
                        "{comment}SELECT {} FROM {} WHERE {window}",
                        sql.count(),
                        sql.from(name, "t0")
                    ),
                    &binds.values,
                )
                .await
                .map_err(|e| system.query_error(&e))?;
                out.tables.push(TableAffected {
                    table: name.to_string(),
                    rows,
                    categories: categories.clone(),
                    window_applied: applied,
                });
                match identifying_ancestor(map, name) {
                    Some(owner) => people
                        .entry(owner)
                        .or_insert_with(|| PeopleTable {
                            name: owner,
                            sources: Vec::new(),
                        })
                        .sources
                        .push((name, categories.clone())),
                    None => out.notes.push(format!(
                        "the rows of table {name} do not lead to a table with identifying \
                         columns: their people cannot be counted"
                    )),
                }
            }
            if people.len() > 1 {
                out.notes.push(format!(
                    "people are counted per table with identifiers ({}): someone in two of \
                     them counts twice",
                    people.keys().copied().collect::<Vec<_>>().join(", ")
                ));
            }
            let mut skip = scope.offset;
            for owner in people.values() {
                let mut binds = Binds::new(map.kind);
                let condition = sql.people(&mut binds, owner);
                let n = crate::erase::count(
                    conn,
                    format!(
                        "{comment}SELECT {} FROM {} WHERE {condition}",
                        sql.count(),
                        sql.from(owner.name, "p")
                    ),
                    &binds.values,
                )
                .await
                .map_err(|e| system.query_error(&e))?;
                out.people += n;
                let Some(cap) = out.cap else { continue };
                // Pages run over the identifying tables in name order.
                let here = skip.min(usize::try_from(n).unwrap_or(usize::MAX));
                skip -= here;
                let wanted = cap.saturating_sub(out.listed.len());
                if wanted == 0 || u64::try_from(here).unwrap_or(u64::MAX) >= n {
                    continue;
                }
                let listed = sql
                    .list(conn, comment, owner, (here, wanted))
                    .await
                    .map_err(|e| system.query_error(&e))?;
                out.listed.extend(listed);
            }
            Ok(out)
        })
        .await
}

/// [`find_affected`] in every system at once; one system that fails or is slow does not
/// hold up the others. The results are in the order of `systems`.
pub async fn find_affected_all(
    systems: &[System],
    scope: &BreachScope,
) -> Vec<(String, Result<SystemAffected, ConnectorError>)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, system) in systems.iter().enumerate() {
        let (system, scope) = (system.clone(), scope.clone());
        tasks.spawn(async move { (i, find_affected(&system, &scope).await) });
    }
    let mut results: Vec<(String, Result<SystemAffected, ConnectorError>)> = systems
        .iter()
        .map(|s| {
            let stopped = ConnectorError::Query {
                system: s.name().to_string(),
                reason: "the search stopped unexpectedly".into(),
            };
            (s.name().to_string(), Err(stopped))
        })
        .collect();
    while let Some(joined) = tasks.join_next().await {
        // A task that panicked keeps the error set above.
        if let Ok((i, result)) = joined {
            results[i].1 = result;
        }
    }
    results
}

/// The tables holding data of the categories, with the categories each holds; every
/// table with its own categories when none are asked for.
fn affected_tables<'a>(
    map: &'a DatasetMap,
    categories: &BTreeSet<DataCategory>,
) -> Vec<(&'a str, BTreeSet<DataCategory>)> {
    map.tables
        .iter()
        .filter_map(|(name, table)| {
            let held: BTreeSet<DataCategory> = table
                .columns
                .values()
                .map(|c| c.category)
                .filter(|c| categories.is_empty() || categories.contains(c))
                .collect();
            (!held.is_empty()).then_some((name.as_str(), held))
        })
        .collect()
}

/// The nearest table up `name`'s links (itself first) that identifies people.
fn identifying_ancestor<'a>(map: &'a DatasetMap, name: &'a str) -> Option<&'a str> {
    let mut current = name;
    for _ in 0..=map.tables.len() {
        let table = map.tables.get(current)?;
        if table.identifying_columns().next().is_some() {
            return Some(current);
        }
        current = &table.link.as_ref()?.references.table;
    }
    None
}

/// The SQL of one search.
struct Sql<'a> {
    map: &'a DatasetMap,
    live: &'a LiveSchema,
    scope: &'a BreachScope,
}

impl AliasedSql for Sql<'_> {
    fn map(&self) -> &DatasetMap {
        self.map
    }
}

impl Sql<'_> {
    fn count(&self) -> &'static str {
        match self.kind() {
            SystemKind::Postgres => "count(*)::text",
            SystemKind::Mysql => "CAST(COUNT(*) AS CHAR)",
        }
    }

    /// `column` of `table` as text in a SELECT list.
    fn text(&self, table: &str, alias: &str, column: &str) -> String {
        let t = self
            .live
            .tables
            .get(table)
            .and_then(|t| t.column(column))
            .map_or(ValueType::Text, |c| c.value_type);
        t.select(self.kind(), &self.column(alias, column))
    }

    /// The rows of `table` (as `alias`) the breach concerns: holding data of its
    /// categories, dated in its window; and whether the window applies: it needs the
    /// table's retention date, found in the live schema.
    fn window(&self, binds: &mut Binds, table: &str, alias: &str) -> (String, bool) {
        let (from, until) = (self.scope.from, self.scope.until);
        let date_column = self
            .map
            .tables
            .get(table)
            .and_then(|t| t.retention.as_ref())
            .map(|r| r.from.as_str())
            .filter(|c| {
                self.live
                    .tables
                    .get(table)
                    .is_some_and(|t| t.column(c).is_some())
            });
        let mut parts = self.holds_categories(table, alias);
        let Some(column) = date_column else {
            return (all(parts), false);
        };
        let column = self.column(alias, column);
        if let Some(from) = from {
            let p = binds.push(&from.to_string());
            parts.push(format!("{column} >= CAST({p} AS DATE)"));
        }
        if let Some(until) = until {
            // Up to the end of the day, also for a date with a time.
            let p = binds.push(&until.next_day().unwrap_or(until).to_string());
            parts.push(format!("{column} < CAST({p} AS DATE)"));
        }
        (all(parts), true)
    }

    /// When the breach names categories: the row holds a value in one of the table's
    /// columns of those categories (an applicant without a national number is not
    /// affected by a leak of national numbers).
    fn holds_categories(&self, table: &str, alias: &str) -> Vec<String> {
        if self.scope.categories.is_empty() {
            return Vec::new();
        }
        let columns: Vec<String> = self
            .map
            .tables
            .get(table)
            .into_iter()
            .flat_map(|t| &t.columns)
            .filter(|(_, c)| self.scope.categories.contains(&c.category))
            .map(|(name, _)| format!("{} IS NOT NULL", self.column(alias, name)))
            .collect();
        if columns.is_empty() {
            vec!["1 = 0".into()]
        } else {
            vec![format!("({})", columns.join(" OR "))]
        }
    }

    /// The rows of the identifying table (as `p`) that are affected themselves or that an
    /// affected row belongs to, through the links.
    fn people(&self, binds: &mut Binds, owner: &PeopleTable) -> String {
        let parts: Vec<String> = owner
            .sources
            .iter()
            .map(|(source, _)| self.belongs(binds, owner.name, source))
            .collect();
        format!("({})", parts.join(" OR "))
    }

    /// The rows of `owner` (as `p`) that an affected row of `source` belongs to.
    fn belongs(&self, binds: &mut Binds, owner: &str, source: &str) -> String {
        if source == owner {
            return self.window(binds, source, "p").0;
        }
        // From the affected table up to the owner: each step selects the linked values.
        let mut path: Vec<&Table> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut current = source;
        while current != owner {
            let Some(table) = self.map.tables.get(current) else {
                return "1 = 0".into();
            };
            let Some(link) = &table.link else {
                return "1 = 0".into();
            };
            path.push(table);
            names.push(current);
            current = &link.references.table;
        }
        let (window, _) = self.window(binds, source, "a0");
        let mut inner = format!(
            "SELECT {} FROM {} WHERE {window}",
            self.column(
                "a0",
                path[0].link.as_ref().map_or("", |l| l.column.as_str())
            ),
            self.from(names[0], "a0"),
        );
        for (i, (table, name)) in path.iter().zip(&names).enumerate().skip(1) {
            let alias = format!("a{i}");
            let below = path[i - 1]
                .link
                .as_ref()
                .map_or("", |l| l.references.column.as_str());
            inner = format!(
                "SELECT {} FROM {} WHERE {} IN ({inner})",
                self.column(
                    &alias,
                    table.link.as_ref().map_or("", |l| l.column.as_str())
                ),
                self.from(name, &alias),
                self.column(&alias, below),
            );
        }
        let top = path[path.len() - 1]
            .link
            .as_ref()
            .map_or("", |l| l.references.column.as_str());
        format!("{} IN ({inner})", self.column("p", top))
    }

    /// `wanted` people of `owner` after the first `skip`, by key order, with the
    /// categories of their affected rows.
    async fn list(
        &self,
        conn: &mut crate::db::Conn,
        comment: &str,
        owner: &PeopleTable<'_>,
        (skip, wanted): (usize, usize),
    ) -> Result<Vec<AffectedPerson>, sqlx::Error> {
        let table = &self.map.tables[owner.name];
        let key: Vec<String> = if table.primary_key.is_empty() {
            self.live
                .tables
                .get(owner.name)
                .map(|t| t.primary_key().into_iter().map(str::to_string).collect())
                .unwrap_or_default()
        } else {
            table.primary_key.clone()
        };
        let identifying: Vec<(&str, IdentifierKind)> = table
            .identifying_columns()
            .map(|(c, k, _)| (c, k))
            .collect();
        let mut binds = Binds::new(self.kind());
        let mut select: Vec<String> = identifying
            .iter()
            .map(|(c, _)| self.text(owner.name, "p", c))
            .collect();
        // One flag per source table: which categories the person's affected rows hold.
        for (source, _) in &owner.sources {
            let belongs = self.belongs(&mut binds, owner.name, source);
            select.push(format!("CASE WHEN {belongs} THEN '1' ELSE '0' END"));
        }
        let condition = self.people(&mut binds, owner);
        let order: Vec<String> = key.iter().map(|c| self.column("p", c)).collect();
        let order = if order.is_empty() {
            String::new()
        } else {
            format!(" ORDER BY {}", order.join(", "))
        };
        // Only numbers of ours are spliced in.
        let sql = format!(
            "{comment}SELECT {} FROM {} WHERE {condition}{order} LIMIT {wanted} OFFSET {skip}",
            select.join(", "),
            self.from(owner.name, "p"),
        );
        let rows = conn.rows(sql, &binds.values).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mut values = row.into_iter();
                let mut identifiers = BTreeMap::new();
                for (_, kind) in &identifying {
                    if let Some(value) = values.next().flatten()
                        && let Some(value) = normalised(*kind, &value)
                    {
                        identifiers.entry(*kind).or_insert(value);
                    }
                }
                let mut categories = BTreeSet::new();
                for (_, held) in &owner.sources {
                    if values.next().flatten().as_deref() == Some("1") {
                        categories.extend(held.iter().copied());
                    }
                }
                AffectedPerson {
                    table: owner.name.to_string(),
                    identifiers,
                    categories,
                }
            })
            .collect())
    }
}

/// The conditions joined with AND; every row without any.
fn all(parts: Vec<String>) -> String {
    if parts.is_empty() {
        "1 = 1".into()
    } else {
        parts.join(" AND ")
    }
}

/// An identifier as the vault gives it: an e-mail address in lower case, a national number
/// or BSN as digits, a phone number in E.164; as stored when it does not parse. None for
/// an empty value.
pub fn normalised(kind: IdentifierKind, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    Some(match kind {
        IdentifierKind::Email => value
            .parse::<EmailAddress>()
            .map_or_else(|_| value.to_lowercase(), |e| e.as_str().to_string()),
        IdentifierKind::NationalNumber => value
            .parse::<NationalNumber>()
            .map_or_else(|_| value.to_string(), |n| n.digits()),
        IdentifierKind::Bsn => value
            .parse::<Bsn>()
            .map_or_else(|_| value.to_string(), |b| b.digits()),
        IdentifierKind::Phone => value
            .parse::<PhoneNumber>()
            .map_or_else(|_| value.to_string(), |p| p.as_str().to_string()),
        IdentifierKind::NameBirthDate => value.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kluis_domain::dataset_map;

    const MAP: &str = include_str!("testing/hr.yaml");

    #[test]
    fn tables_are_chosen_by_category_and_rows_belong_to_the_nearest_identifying_table() {
        let map = dataset_map::parse("hr.yaml", MAP).unwrap();
        let found = affected_tables(&map, &[DataCategory::Employment].into());
        let names: Vec<&str> = found.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["applications", "interview_notes"]);
        assert_eq!(affected_tables(&map, &BTreeSet::new()).len(), 4);
        assert_eq!(
            identifying_ancestor(&map, "interview_notes"),
            Some("applicants")
        );
        assert_eq!(identifying_ancestor(&map, "applicants"), Some("applicants"));
    }

    #[test]
    fn identifiers_are_compared_normalised() {
        assert_eq!(
            normalised(IdentifierKind::Email, " An.Peeters@Example.BE ").as_deref(),
            Some("an.peeters@example.be")
        );
        assert_eq!(
            normalised(IdentifierKind::NationalNumber, "85.07.30-033.28").as_deref(),
            Some("85073003328")
        );
        assert_eq!(normalised(IdentifierKind::Phone, "  "), None);
    }
}
