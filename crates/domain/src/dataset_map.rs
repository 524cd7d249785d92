//! The dataset map of an external system: which tables and columns of another database of
//! the authority hold personal data, which columns identify a person, how tables without
//! such a column reach the person through foreign keys, and what erasure does.
//!
//! The map is YAML (see `docs/dataset-map.md`). [`parse`] refuses a map with every problem
//! found, each with its file, line and column. What the map says about the live database
//! (do the tables exist?) is checked by the connectors, not here.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_saphyr::{Location, Spanned};
use time::Date;

use crate::category::DataCategory;
use crate::identifiers::IdentifierKind;
use crate::register::Slug;
use crate::register_file::Problem;
use crate::retention::{Period, RetentionError, RetentionRule, RetentionSchedule, add_months};
use crate::validate::is_slug;
use crate::vocabulary;

vocabulary! {
    /// The database software of an external system.
    pub enum SystemKind: "system_kind" {
        Postgres = "postgres",
        /// MySQL or MariaDB.
        Mysql = "mysql",
    }
}

vocabulary! {
    /// How a column stores a national number.
    pub enum NationalNumberFormat: "national_number_format" {
        /// Eleven digits: `85073003328`.
        Digits = "digits",
        /// With separators: `85.07.30-033.28`.
        Formatted = "formatted",
    }
}

impl NationalNumberFormat {
    /// The national number as this format stores it, from its eleven digits.
    pub fn render(self, digits: &str) -> String {
        match self {
            NationalNumberFormat::Formatted if digits.len() == 11 && digits.is_ascii() => format!(
                "{}.{}.{}-{}.{}",
                &digits[0..2],
                &digits[2..4],
                &digits[4..6],
                &digits[6..9],
                &digits[9..11]
            ),
            _ => digits.to_string(),
        }
    }
}

/// One external system as kluis sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetMap {
    /// The system's name; its connection URL is configured under `[systems.<name>]`.
    pub name: Slug,
    pub kind: SystemKind,
    /// PostgreSQL schema or MySQL database holding the tables; the connection's default
    /// when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Ids of the processing activities of the register that this system serves.
    pub activities: Vec<Slug>,
    pub tables: BTreeMap<String, Table>,
}

/// A table that holds personal data, or leads to a table that identifies the person.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    /// Columns that identify a row; the live primary key when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub primary_key: Vec<String>,
    /// The foreign key through which this table's rows belong to a person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<Link>,
    /// Columns holding personal data, each with its category.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub columns: BTreeMap<String, Column>,
    /// What erasure does to the whole row; when absent, each column says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<TableErasure>,
    /// When a row's retention ends: the retention sweep erases it (and the rows that link
    /// to it) as `erasure` says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<TableRetention>,
    /// The column kluis sets on the person's rows when their processing is restricted
    /// (art. 18) or objected to (art. 21), and clears when that ends. At most one per
    /// table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<RestrictionMark>,
    /// The person gave this table's data themselves (a form, an upload): its rows go into
    /// the portability export (art. 20) of an activity on consent or contract. kluis cannot
    /// tell what the person gave from what the authority derived, so the map's author says
    /// it; false when absent.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provided_by_subject: bool,
}

/// A boolean column of a table that the system's own application honours: a row where it
/// is true is only stored, not otherwise processed. kluis sets it (TRUE, or 1 on MySQL) on
/// a person's rows for a granted restriction or objection, and clears it (FALSE) when the
/// restriction is lifted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionMark {
    pub column: String,
}

impl Table {
    /// The columns that identify a person, with what they identify by.
    pub fn identifying_columns(&self) -> impl Iterator<Item = (&str, IdentifierKind, &Column)> {
        self.columns
            .iter()
            .filter_map(|(name, c)| c.identifies.map(|kind| (name.as_str(), kind, c)))
    }
}

/// `column` of this table holds the value of `references` in another table of the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    pub column: String,
    pub references: ColumnRef,
}

/// A column of another table, written `table.column`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnRef {
    pub table: String,
    pub column: String,
}

impl fmt::Display for ColumnRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.table, self.column)
    }
}

impl Serialize for ColumnRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ColumnRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.split_once('.') {
            Some((table, column)) if !table.is_empty() && !column.is_empty() => Ok(ColumnRef {
                table: table.to_string(),
                column: column.to_string(),
            }),
            _ => Err(de::Error::custom(format!(
                "'{text}' is not a column of another table: write table.column, like applicants.id"
            ))),
        }
    }
}

/// A column holding personal data. In YAML either just its category (`first_name:
/// identification`) or `{category, identifies, stored_as, erasure}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub category: DataCategory,
    /// Set when the column identifies a person.
    pub identifies: Option<IdentifierKind>,
    /// How a national number is stored; digits when absent.
    pub stored_as: Option<NationalNumberFormat>,
    /// What erasure does to this column, when the table does not say it for the row.
    pub erasure: Option<ColumnErasure>,
}

impl Column {
    /// A column of `category` that identifies no one and has no erasure of its own.
    pub fn of(category: DataCategory) -> Column {
        Column {
            category,
            identifies: None,
            stored_as: None,
            erasure: None,
        }
    }
}

/// The long form of a column in YAML.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ColumnSpec {
    category: DataCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identifies: Option<IdentifierKind>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stored_as: Option<NationalNumberFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    erasure: Option<ColumnErasure>,
}

impl Serialize for Column {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.identifies.is_none() && self.stored_as.is_none() && self.erasure.is_none() {
            return self.category.serialize(s);
        }
        ColumnSpec {
            category: self.category,
            identifies: self.identifies,
            stored_as: self.stored_as,
            erasure: self.erasure.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Column {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ColumnVisitor;
        impl<'de> Visitor<'de> for ColumnVisitor {
            type Value = Column;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a data category (like contact) or {category: ..., identifies: ...}")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Column, E> {
                s.parse().map(Column::of).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Column, A::Error> {
                let spec = ColumnSpec::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Column {
                    category: spec.category,
                    identifies: spec.identifies,
                    stored_as: spec.stored_as,
                    erasure: spec.erasure,
                })
            }
        }
        d.deserialize_any(ColumnVisitor)
    }
}

/// What erasure does to a person's rows of a table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableErasure {
    /// The rows are deleted.
    DeleteRow,
    /// The rows are kept, because of the legal obligation given (art. 17(3)(b)).
    Keep(String),
}

/// What erasure does to one column of a person's rows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnErasure {
    SetNull,
    /// The value is replaced by this one.
    Mask(String),
    /// The value is kept, because of the legal obligation given (art. 17(3)(b)).
    Keep(String),
}

/// When the rows of a table reach the end of their retention: a period after the date in
/// one of its columns. The period is a retention schedule of the system's activity
/// (`schedule: reserve`) or the map's own (`period: 7 years`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableRetention {
    /// The date or date-time column the period starts from. A row whose date is NULL has
    /// not reached the event and is kept.
    pub from: String,
    /// The key of a retention schedule of one of the map's activities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Slug>,
    /// The activity the retention belongs to, when the map serves several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<Slug>,
    /// A period of the map's own, instead of a schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<Period>,
    /// Only the rows whose column holds one of these values follow this retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_where: Option<RetentionCondition>,
}

/// `column` holds one of `values`, compared as text (`"1"` for a MySQL boolean, `"true"`
/// for a PostgreSQL one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionCondition {
    pub column: String,
    #[serde(rename = "in", deserialize_with = "scalars")]
    pub values: Vec<String>,
}

/// A list of YAML scalars as text: `[rejected, 1, true]`.
fn scalars<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct Scalar(String);
    impl<'de> Deserialize<'de> for Scalar {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct ScalarVisitor;
            impl Visitor<'_> for ScalarVisitor {
                type Value = Scalar;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a value (text, number or true/false)")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar, E> {
                    Ok(Scalar(s.to_string()))
                }
                fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar, E> {
                    Ok(Scalar(n.to_string()))
                }
                fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar, E> {
                    Ok(Scalar(n.to_string()))
                }
                fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar, E> {
                    Ok(Scalar(n.to_string()))
                }
                fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar, E> {
                    Ok(Scalar(b.to_string()))
                }
            }
            d.deserialize_any(ScalarVisitor)
        }
    }
    Ok(Vec::<Scalar>::deserialize(d)?
        .into_iter()
        .map(|s| s.0)
        .collect())
}

/// A table's retention resolved to a period: what the retention sweep applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPeriod {
    /// The date column the period starts from.
    pub from: String,
    pub period: Period,
    pub only_where: Option<RetentionCondition>,
    /// The activity the retention belongs to, when known.
    pub activity: Option<Slug>,
    /// The retention schedule's key; None for a period of the map's own.
    pub schedule: Option<Slug>,
    /// The rule in words, for the destruction log (no personal data).
    pub rule: String,
}

impl RetentionPeriod {
    /// The first start date that has not expired on `today`: a row is due when its date
    /// is before this day, so that its deadline (the date plus the period) is before today
    /// (it is destroyed at the end of its deadline's day).
    pub fn expired_before(&self, today: Date) -> Result<Date, RetentionError> {
        let due =
            |start: Date| -> Result<bool, RetentionError> { Ok(self.period.after(start)? < today) };
        // Counting back gives the boundary up to the days months are clamped by; the
        // deadline only grows with the start date, so step to the exact boundary.
        let months = i64::from(self.period.years) * 12 + i64::from(self.period.months);
        let days = i64::from(self.period.weeks) * 7 + i64::from(self.period.days);
        let mut start = add_months(today, -months)?
            .checked_sub(time::Duration::days(days))
            .ok_or(RetentionError::OutOfRange)?;
        for _ in 0..64 {
            let before = start.previous_day().ok_or(RetentionError::OutOfRange)?;
            if due(before)? {
                break;
            }
            start = before;
        }
        for _ in 0..64 {
            if !due(start)? {
                break;
            }
            start = start.next_day().ok_or(RetentionError::OutOfRange)?;
        }
        Ok(start)
    }
}

/// The resolved retention of each table of a map that has one, by table name.
pub type RetentionPeriods = BTreeMap<String, RetentionPeriod>;

/// The period after an event that `rule` gives, in words; or why it gives none.
fn period_of(rule: &RetentionRule) -> Result<(Period, String), &'static str> {
    match rule {
        RetentionRule::AfterEvent { event, period } => {
            Ok((*period, format!("{period} after {event}")))
        }
        RetentionRule::Extendable { event, period, .. } => Ok((
            *period,
            format!("{period} after {event}, without extensions"),
        )),
        RetentionRule::WhileNeeded {
            event: Some(event),
            maximum: Some(max),
            ..
        } => Ok((*max, format!("at most {max} after {event}"))),
        RetentionRule::ArchiveLaw {
            event: Some(event),
            period: Some(period),
            ..
        } => Ok((*period, format!("archive law: {period} after {event}"))),
        RetentionRule::UntilAge { .. } => Err("runs until an age"),
        RetentionRule::UntilWithdrawal { .. } => Err("runs until consent is withdrawn"),
        RetentionRule::WhileNeeded { .. } => Err("runs while needed, without a maximum"),
        RetentionRule::Permanent => Err("is permanent"),
        RetentionRule::ArchiveLaw { .. } => Err("leaves it to the archivist's selection list"),
    }
}

/// Something wrong with a dataset map: the path to the field (`tables`, `applicants`,
/// `columns`, `email`) and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapIssue {
    pub path: Vec<String>,
    pub message: String,
}

/// Why a dataset map was refused: every problem found, each with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DatasetMapError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for DatasetMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "dataset map {} was refused: {n} problem{} found",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        Problem::write_all(f, &self.file, &self.problems)
    }
}

/// Largest dataset map accepted; a map of a few hundred tables is well under this.
pub const MAX_FILE_BYTES: usize = 4 * 1024 * 1024;

/// Longest table, column or schema name accepted (MySQL allows 64, PostgreSQL 63 bytes).
pub const MAX_NAME_CHARS: usize = 64;

/// Parses and validates a dataset map. Nothing is returned unless all of it is valid.
pub fn parse(file: &str, text: &str) -> Result<DatasetMap, DatasetMapError> {
    let refuse = |problems| DatasetMapError {
        file: file.to_string(),
        problems,
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(refuse(vec![Problem {
            line: None,
            column: None,
            message: format!(
                "the file is larger than {} MiB; a dataset map describes one system",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        }]));
    }
    let map: DatasetMap = serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        refuse(vec![Problem {
            line: loc.map(|l| l.line()),
            column: loc.map(|l| l.column()),
            message: plain_message(&e),
        }])
    })?;
    let issues = map.problems();
    if issues.is_empty() {
        return Ok(map);
    }
    Err(refuse_at_lines(file, text, issues))
}

/// The issues of the map read from `text`, each with its line and column in the file:
/// for the problems found after parsing, like [`DatasetMap::retention_periods`].
pub fn refuse_at_lines(file: &str, text: &str, issues: Vec<MapIssue>) -> DatasetMapError {
    // The file already parsed as a map, so this lighter parse succeeds too; if it did not,
    // the problems are still reported, only without a line.
    let tree: Option<Spanned<Tree>> = serde_saphyr::from_str(text).ok();
    DatasetMapError {
        file: file.to_string(),
        problems: issues
            .into_iter()
            .map(|issue| {
                let at = tree.as_ref().map(|t| locate(t, &issue.path));
                Problem {
                    line: at.map(|l| l.line()),
                    column: at.map(|l| l.column()),
                    message: issue.message,
                }
            })
            .collect(),
    }
}

/// Writes the map as YAML that [`parse`] reads back to the same map.
pub fn to_yaml(map: &DatasetMap) -> Result<String, serde_saphyr::ser_error::Error> {
    serde_saphyr::to_string(map)
}

/// The error's own sentence, without the snippet the library draws around it.
fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("the file is not valid YAML")
        .trim();
    // The library appends the position ("... at line 3, column 5"); kluis prints its own.
    first
        .rfind(" at line ")
        .map_or(first, |i| &first[..i])
        .to_string()
}

impl DatasetMap {
    /// Everything wrong with the map; an empty list means it may be used.
    pub fn problems(&self) -> Vec<MapIssue> {
        let mut v = Issues(Vec::new());
        if !is_slug(&self.name) {
            v.push(
                &["name"],
                format!(
                    "system name '{}' may hold only lowercase letters, digits and dashes, and starts with a letter",
                    self.name
                ),
            );
        }
        if let Some(schema) = &self.schema {
            v.name(&["schema"], "schema", schema);
        }
        if self.activities.is_empty() {
            v.push(
                &["activities"],
                "name the processing activities this system serves, by their id in the register"
                    .into(),
            );
        }
        let mut seen = BTreeSet::new();
        for a in &self.activities {
            if !is_slug(a) {
                v.push(&["activities"], format!("'{a}' is not an activity id"));
            } else if !seen.insert(a) {
                v.push(&["activities"], format!("activity '{a}' is listed twice"));
            }
        }
        if self.tables.is_empty() {
            v.push(
                &["tables"],
                "describe at least one table that holds personal data".into(),
            );
        }
        for (name, table) in &self.tables {
            self.check_table(&mut v, name, table);
        }
        self.check_links(&mut v);
        v.0
    }

    fn check_table(&self, v: &mut Issues, name: &str, table: &Table) {
        let at = |rest: &[&str]| -> Vec<String> {
            ["tables", name]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };
        v.name_at(at(&[]), "table", name);
        let mut keys = BTreeSet::new();
        for key in &table.primary_key {
            v.name_at(at(&["primary_key"]), "column", key);
            if !keys.insert(key) {
                v.push_at(
                    at(&["primary_key"]),
                    format!("column '{key}' is named twice in the primary key of table '{name}'"),
                );
            }
        }
        if let Some(link) = &table.link {
            v.name_at(at(&["link", "column"]), "column", &link.column);
            v.name_at(
                at(&["link", "references"]),
                "column",
                &link.references.column,
            );
        }
        for (column, c) in &table.columns {
            let here = at(&["columns", column]);
            v.name_at(here.clone(), "column", column);
            if c.identifies == Some(IdentifierKind::NameBirthDate) {
                v.push_at(
                    here.clone(),
                    format!("column '{name}.{column}': one column cannot identify by name_birth_date; use national_number, bsn, email or phone"),
                );
            }
            if c.stored_as.is_some() && c.identifies != Some(IdentifierKind::NationalNumber) {
                v.push_at(
                    here.clone(),
                    format!("column '{name}.{column}': stored_as is only for a column that identifies by national_number"),
                );
            }
            match (&table.erasure, &c.erasure) {
                (Some(_), Some(_)) => v.push_at(
                    here.clone(),
                    format!("column '{name}.{column}' has an erasure of its own, but table '{name}' already says what erasure does to the whole row: remove one of them"),
                ),
                (None, None) => v.push_at(
                    here.clone(),
                    format!("say what erasure does to column '{name}.{column}' (set_null, mask: value, keep: reason), or to the whole row of table '{name}' (erasure: delete_row)"),
                ),
                _ => {}
            }
            match &c.erasure {
                Some(ColumnErasure::SetNull) if c.identifies.is_some() => v.push_at(
                    here.clone(),
                    format!("column '{name}.{column}' identifies the person: set_null would leave the rest of the row behind, found by no one; delete the row, mask the column or keep it with a reason"),
                ),
                Some(ColumnErasure::Keep(reason)) if reason.trim().is_empty() => v.push_at(
                    here.clone(),
                    format!("column '{name}.{column}' is kept on erasure: give the legal obligation that requires it as the reason"),
                ),
                _ => {}
            }
        }
        match &table.erasure {
            None if table.columns.is_empty() => v.push_at(
                at(&[]),
                format!("say what erasure does to the rows of table '{name}': erasure: delete_row or erasure: {{keep: reason}}"),
            ),
            Some(TableErasure::Keep(reason)) if reason.trim().is_empty() => v.push_at(
                at(&["erasure"]),
                format!("table '{name}' is kept on erasure: give the legal obligation that requires it as the reason"),
            ),
            _ => {}
        }
        if let Some(retention) = &table.retention {
            self.check_retention(v, name, retention);
        }
        if let Some(mark) = &table.restriction {
            self.check_restriction(v, name, table, mark);
        }
        // Only mapped columns leave kluis: a marked table without any would port empty rows.
        if table.provided_by_subject && table.columns.is_empty() {
            v.push_at(
                at(&["provided_by_subject"]),
                format!("table '{name}' is marked provided_by_subject but lists no columns: name the columns the person provided, or remove the mark"),
            );
        }
    }

    /// The mark is a column of its own: setting it must never change what ties the rows
    /// together (keys, links) or what finds the person, nor data erasure or rectification
    /// would change in turn.
    fn check_restriction(&self, v: &mut Issues, name: &str, table: &Table, mark: &RestrictionMark) {
        let at = vec![
            "tables".to_string(),
            name.to_string(),
            "restriction".to_string(),
            "column".to_string(),
        ];
        let column = mark.column.as_str();
        v.name_at(at.clone(), "column", column);
        let referenced = self
            .tables
            .values()
            .filter_map(|t| t.link.as_ref())
            .any(|l| l.references.table == name && l.references.column == column);
        let role = if table.primary_key.iter().any(|k| k == column) {
            Some("is in its primary key")
        } else if table.link.as_ref().is_some_and(|l| l.column == column) {
            Some("is its link")
        } else if referenced {
            Some("is what other tables link to")
        } else if table
            .columns
            .get(column)
            .is_some_and(|c| c.identifies.is_some())
        {
            Some("identifies the person")
        } else if table.columns.contains_key(column) {
            Some("is listed as personal data, which erasure and rectification change")
        } else {
            None
        };
        if let Some(role) = role {
            v.push_at(
                at,
                format!(
                    "the restriction mark of table '{name}' cannot be column '{column}': it {role}; use a boolean column of its own, like processing_restricted"
                ),
            );
        }
    }

    /// A retention names its date column, and either a schedule or a period.
    fn check_retention(&self, v: &mut Issues, name: &str, r: &TableRetention) {
        let at = |rest: &[&str]| -> Vec<String> {
            ["tables", name, "retention"]
                .iter()
                .chain(rest)
                .map(|s| s.to_string())
                .collect()
        };
        v.name_at(at(&["from"]), "column", &r.from);
        match (&r.schedule, &r.period) {
            (Some(_), Some(_)) => v.push_at(
                at(&["period"]),
                format!("the retention of table '{name}' has both schedule: and period:; keep one"),
            ),
            (None, None) => v.push_at(
                at(&[]),
                format!("say how long rows of table '{name}' are kept: schedule: (the key of a retention schedule of the activity, like reserve) or period: (like 7 years)"),
            ),
            _ => {}
        }
        if let Some(schedule) = &r.schedule
            && !is_slug(schedule)
        {
            v.push_at(
                at(&["schedule"]),
                format!("'{schedule}' is not the key of a retention schedule: lowercase letters, digits and dashes"),
            );
        }
        if let Some(period) = &r.period {
            let bounded = RetentionRule::AfterEvent {
                event: crate::retention::RetentionEvent::Collection,
                period: *period,
            }
            .validate();
            if period.is_zero() {
                v.push_at(
                    at(&["period"]),
                    format!("the retention period of table '{name}' is empty: give a period such as \"7 years\""),
                );
            } else if let Err(e) = bounded {
                v.push_at(at(&["period"]), format!("table '{name}': {e}"));
            }
        }
        if let Some(activity) = &r.activity
            && !self.activities.contains(activity)
        {
            v.push_at(
                at(&["activity"]),
                format!("activity '{activity}' is not among the activities of this map ({}): add it to activities or correct the name", self.activities.join(", ")),
            );
        }
        if let Some(condition) = &r.only_where {
            v.name_at(at(&["only_where", "column"]), "column", &condition.column);
            if condition.values.is_empty() {
                v.push_at(
                    at(&["only_where", "in"]),
                    format!("only_where of table '{name}' lists no values: give at least one, like in: [rejected]"),
                );
            }
        }
    }

    /// The retention of every table that has one, resolved to a period: a `schedule:` is
    /// looked up among the retention schedules of the map's activities (`schedules`, by
    /// activity id, as in the register). Every problem is returned, with its place.
    pub fn retention_periods(
        &self,
        schedules: &BTreeMap<Slug, Vec<RetentionSchedule>>,
    ) -> Result<RetentionPeriods, Vec<MapIssue>> {
        let mut periods = RetentionPeriods::new();
        let mut v = Issues(Vec::new());
        for (name, table) in &self.tables {
            let Some(r) = &table.retention else { continue };
            let at = |field: &str| -> Vec<String> {
                vec![
                    "tables".into(),
                    name.clone(),
                    "retention".into(),
                    field.into(),
                ]
            };
            let sole = || (self.activities.len() == 1).then(|| self.activities[0].clone());
            let resolved = match (&r.schedule, &r.period) {
                (None, Some(period)) => Some((
                    *period,
                    format!(
                        "{period} after {name}.{} (dataset map {})",
                        r.from, self.name
                    ),
                    r.activity.clone().or_else(sole),
                )),
                (Some(key), None) => {
                    let searched: Vec<&Slug> = match &r.activity {
                        Some(a) => vec![a],
                        None => self.activities.iter().collect(),
                    };
                    let found: Vec<(&Slug, &RetentionSchedule)> = searched
                        .iter()
                        .filter_map(|a| {
                            let s = schedules.get(*a)?.iter().find(|s| &s.key == key)?;
                            Some((*a, s))
                        })
                        .collect();
                    match found.as_slice() {
                        [] => {
                            v.push_at(at("schedule"), format!(
                                "table '{name}': no retention schedule '{key}' in activity {}: use the key of one of its schedules, or give period:",
                                searched.iter().map(|a| format!("'{a}'")).collect::<Vec<_>>().join(" or ")
                            ));
                            None
                        }
                        [(activity, schedule)] => match period_of(&schedule.rule) {
                            Ok((period, words)) => Some((
                                period,
                                format!("{words} (schedule {key} of activity {activity})"),
                                Some((*activity).clone()),
                            )),
                            Err(why) => {
                                v.push_at(at("schedule"), format!(
                                    "table '{name}': retention schedule '{key}' of activity '{activity}' {why}, so rows of another system cannot expire by it: give period: instead"
                                ));
                                None
                            }
                        },
                        several => {
                            v.push_at(at("schedule"), format!(
                                "table '{name}': activities {} each have a retention schedule '{key}': say which with activity:",
                                several.iter().map(|(a, _)| format!("'{a}'")).collect::<Vec<_>>().join(" and ")
                            ));
                            None
                        }
                    }
                }
                // Refused by `problems`.
                _ => None,
            };
            if let Some((period, rule, activity)) = resolved {
                periods.insert(
                    name.clone(),
                    RetentionPeriod {
                        from: r.from.clone(),
                        period,
                        only_where: r.only_where.clone(),
                        activity,
                        schedule: r.schedule.clone(),
                        rule,
                    },
                );
            }
        }
        if v.0.is_empty() {
            Ok(periods)
        } else {
            Err(v.0)
        }
    }

    /// Links point at tables of the map, form no cycle, and end at a table that
    /// identifies the person.
    fn check_links(&self, v: &mut Issues) {
        for (name, table) in &self.tables {
            let here = |field: &str| -> Vec<String> {
                vec!["tables".into(), name.clone(), "link".into(), field.into()]
            };
            if let Some(link) = &table.link
                && !self.tables.contains_key(&link.references.table)
            {
                v.push_at(
                    here("references"),
                    format!(
                        "table '{name}' links to '{}', which is not a table of this map: add it to tables or correct the name",
                        link.references
                    ),
                );
                continue;
            }
            match self.reach(name) {
                Reach::Identified => {}
                Reach::Cycle(path) => v.push_at(
                    here("references"),
                    format!(
                        "the links of table '{name}' go round in a circle ({}): a link must lead to a table that identifies the person",
                        path.join(" → ")
                    ),
                ),
                Reach::Nowhere(last) if last == *name => v.push_at(
                    vec!["tables".into(), name.clone()],
                    format!("table '{name}' has no column that identifies a person (identifies: email, ...) and no link to a table that has one"),
                ),
                // The table at the end of the chain is reported itself.
                Reach::Nowhere(_) | Reach::Dangling => {}
            }
        }
    }

    /// Where following the links from `table` ends.
    fn reach(&self, table: &str) -> Reach {
        let mut path = vec![table.to_string()];
        let mut current = table;
        loop {
            let Some(t) = self.tables.get(current) else {
                return Reach::Dangling;
            };
            if t.identifying_columns().next().is_some() {
                return Reach::Identified;
            }
            let Some(link) = &t.link else {
                return Reach::Nowhere(current.to_string());
            };
            current = &link.references.table;
            let seen = path.iter().any(|p| p == current);
            path.push(current.to_string());
            if seen {
                return Reach::Cycle(path);
            }
        }
    }

    /// Whether the person provided the rows of `table` themselves (portability, art. 20).
    pub fn provided_by_subject(&self, table: &str) -> bool {
        self.tables
            .get(table)
            .is_some_and(|t| t.provided_by_subject)
    }

    /// The part of the map a portability export searches: the tables marked
    /// `provided_by_subject` and those their links go through to reach the person (whose
    /// rows are read to find theirs, not released). None when no table is marked.
    pub fn provided_part(&self) -> Option<DatasetMap> {
        let mut keep: BTreeSet<&str> = BTreeSet::new();
        for (name, table) in &self.tables {
            if !table.provided_by_subject {
                continue;
            }
            // Up the link chain; the set also stops a cycle, which `problems` refuses.
            let mut current = name.as_str();
            while keep.insert(current) {
                match self.tables.get(current).and_then(|t| t.link.as_ref()) {
                    Some(link) => current = link.references.table.as_str(),
                    None => break,
                }
            }
        }
        if keep.is_empty() {
            return None;
        }
        let mut part = self.clone();
        part.tables.retain(|name, _| keep.contains(name.as_str()));
        Some(part)
    }

    /// The tables that carry a restriction mark, with the mark's column.
    pub fn restriction_marks(&self) -> impl Iterator<Item = (&str, &str)> {
        self.tables.iter().filter_map(|(name, t)| {
            t.restriction
                .as_ref()
                .map(|m| (name.as_str(), m.column.as_str()))
        })
    }

    /// Table names with every table after the table it links to, so that a person's
    /// rows can be found level by level. Tables caught in a cycle come last.
    pub fn parents_first(&self) -> Vec<&str> {
        let mut placed: Vec<&str> = Vec::with_capacity(self.tables.len());
        let mut done: BTreeSet<&str> = BTreeSet::new();
        // Each pass places the tables whose parent is placed; at most one pass per level.
        for _ in 0..=self.tables.len() {
            for (name, table) in &self.tables {
                let ready = match &table.link {
                    None => true,
                    Some(l) => {
                        done.contains(l.references.table.as_str())
                            || !self.tables.contains_key(&l.references.table)
                    }
                };
                if ready && done.insert(name) {
                    placed.push(name);
                }
            }
        }
        for name in self.tables.keys() {
            if done.insert(name) {
                placed.push(name);
            }
        }
        placed
    }
}

enum Reach {
    Identified,
    Nowhere(String),
    Cycle(Vec<String>),
    Dangling,
}

struct Issues(Vec<MapIssue>);

impl Issues {
    fn push(&mut self, path: &[&str], message: String) {
        self.push_at(path.iter().map(|s| s.to_string()).collect(), message);
    }

    fn push_at(&mut self, path: Vec<String>, message: String) {
        self.0.push(MapIssue { path, message });
    }

    fn name(&mut self, path: &[&str], what: &str, name: &str) {
        self.name_at(path.iter().map(|s| s.to_string()).collect(), what, name);
    }

    /// Names are quoted in SQL, so most characters are safe; these rules catch typos
    /// and names no database accepts.
    fn name_at(&mut self, path: Vec<String>, what: &str, name: &str) {
        let problem = if name.is_empty() {
            Some("is empty")
        } else if name.chars().count() > MAX_NAME_CHARS {
            Some("is longer than 64 characters")
        } else if name.chars().any(char::is_control) {
            Some("contains a control character")
        } else if name.trim() != name {
            Some("starts or ends with a space")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.push_at(
                path,
                format!("{what} name '{}' {problem}", name.escape_debug()),
            );
        }
    }
}

/// A YAML document as nodes with their place, to point at the line of a problem.
enum Tree {
    Map(Vec<(Spanned<String>, Spanned<Tree>)>),
    Seq,
    Leaf,
}

/// The place of the deepest node along `path` that exists: the key of a mapping entry.
fn locate(root: &Spanned<Tree>, path: &[String]) -> Location {
    let mut at = root.referenced;
    let mut node = &root.value;
    for step in path {
        let Tree::Map(entries) = node else { break };
        let Some((key, value)) = entries.iter().find(|(k, _)| &k.value == step) else {
            break;
        };
        at = key.referenced;
        node = &value.value;
    }
    at
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TreeVisitor;
        impl<'de> Visitor<'de> for TreeVisitor {
            type Value = Tree;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_str<E>(self, _: &str) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_unit<E>(self) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_none<E>(self) -> Result<Tree, E> {
                Ok(Tree::Leaf)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
                Tree::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Tree::Seq)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    entries.push((key, map.next_value::<Spanned<Tree>>()?));
                }
                Ok(Tree::Map(entries))
            }
        }
        d.deserialize_any(TreeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The HR example of `docs/dataset-map.md`.
    const HR: &str = r#"
name: hr
kind: postgres
schema: hr
activities: [recruitment]
tables:
  applicants:
    columns:
      first_name: identification
      last_name: identification
      email: {category: contact, identifies: email}
      phone: {category: contact, identifies: phone}
      national_number: {category: national_number, identifies: national_number, stored_as: formatted}
      birth_date: personal_characteristics
    erasure: delete_row
  applications:
    link: {column: applicant_id, references: applicants.id}
    columns:
      motivation: {category: employment, erasure: set_null}
      expected_salary: {category: financial, erasure: {mask: "0"}}
      submitted_at: {category: case_file, erasure: {keep: "Archiefwet: selection file kept 5 years"}}
  interview_notes:
    link: {column: application_id, references: applications.id}
    columns:
      held_on: employment
      notes: employment
      score: employment
    erasure: delete_row
  documents:
    primary_key: [id]
    link: {column: application_id, references: applications.id}
    columns:
      file_name: case_file
      uploaded_at: case_file
    erasure: {keep: "Archiefwet: selection file kept 5 years"}
"#;

    fn problems(text: &str) -> Vec<Problem> {
        parse("hr.yaml", text)
            .expect_err("should be refused")
            .problems
    }

    fn messages(text: &str) -> String {
        problems(text)
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The HR example with no column that identifies anyone.
    fn without_identifiers(text: &str) -> String {
        text.replace(", identifies: email", "")
            .replace(", identifies: phone", "")
            .replace(", identifies: national_number, stored_as: formatted", "")
    }

    fn line_of(text: &str, needle: &str) -> Option<u64> {
        text.lines()
            .position(|l| l.contains(needle))
            .map(|i| i as u64 + 1)
    }

    #[test]
    fn the_example_parses_and_round_trips() {
        let map = parse("hr.yaml", HR).unwrap();
        assert_eq!(map.kind, SystemKind::Postgres);
        assert_eq!(map.schema.as_deref(), Some("hr"));
        let applicants = &map.tables["applicants"];
        let kinds: Vec<_> = applicants.identifying_columns().map(|c| c.1).collect();
        assert_eq!(
            kinds,
            [
                IdentifierKind::Email,
                IdentifierKind::NationalNumber,
                IdentifierKind::Phone
            ]
        );
        assert_eq!(
            map.tables["applications"].columns["expected_salary"].erasure,
            Some(ColumnErasure::Mask("0".into()))
        );
        let yaml = to_yaml(&map).unwrap();
        assert_eq!(parse("again.yaml", &yaml).unwrap(), map);
    }

    #[test]
    fn the_documented_examples_are_valid() {
        let doc = include_str!("../../../docs/dataset-map.md");
        let mut checked = 0;
        for block in doc.split("```yaml\n").skip(1) {
            let yaml = block.split("```").next().unwrap_or_default();
            if let Err(e) = parse("docs/dataset-map.md", yaml) {
                panic!("{e}\n{yaml}");
            }
            checked += 1;
        }
        assert!(checked >= 2, "the HR and accounting examples");
    }

    #[test]
    fn parents_come_before_the_tables_that_link_to_them() {
        let map = parse("hr.yaml", HR).unwrap();
        let order = map.parents_first();
        let pos = |t| order.iter().position(|o| *o == t).unwrap();
        assert_eq!(order.len(), 4);
        assert!(pos("applicants") < pos("applications"));
        assert!(pos("applications") < pos("interview_notes"));
        assert!(pos("applications") < pos("documents"));
    }

    #[test]
    fn formatted_national_numbers_have_separators() {
        assert_eq!(
            NationalNumberFormat::Formatted.render("85073003328"),
            "85.07.30-033.28"
        );
        assert_eq!(
            NationalNumberFormat::Digits.render("85073003328"),
            "85073003328"
        );
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let p = problems("name: hr\nkind: [postgres\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].line.is_some(), "{p:?}");
    }

    #[test]
    fn unknown_kind_and_category_name_the_choices() {
        let text = HR.replace("kind: postgres", "kind: oracle");
        let p = problems(&text);
        assert!(p[0].message.contains("oracle"), "{}", p[0].message);
        assert_eq!(p[0].line, line_of(&text, "oracle"));

        let text = HR.replace("file_name: case_file", "file_name: dossier");
        let m = messages(&text);
        assert!(m.contains("dossier") && m.contains("case_file"), "{m}");
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = HR.replace(
            "      notes: employment",
            "      notes: {category: employment, pii: true}",
        );
        assert!(messages(&text).contains("pii"));
    }

    #[test]
    fn a_malformed_reference_is_explained() {
        let text = HR.replace("references: applicants.id", "references: applicants");
        assert!(
            messages(&text).contains("table.column"),
            "{}",
            messages(&text)
        );
    }

    #[test]
    fn unknown_table_in_a_link_points_at_the_link() {
        let text = HR.replace("references: applicants.id", "references: applicant.id");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("'applicant.id'"), "{}", p[0].message);
        assert!(p[0].message.contains("not a table of this map"));
        assert_eq!(p[0].line, line_of(&text, "references: applicant.id"));
    }

    #[test]
    fn a_cycle_of_links_is_refused() {
        // applicants loses its identifiers and links to interview_notes: a circle.
        let text = without_identifiers(HR).replace(
                "  applicants:\n    columns:",
                "  applicants:\n    link: {column: note_id, references: interview_notes.id}\n    columns:",
            );
        let m = messages(&text);
        assert!(m.contains("circle"), "{m}");
        assert!(
            m.contains("applicants → interview_notes → applications → applicants"),
            "{m}"
        );
    }

    #[test]
    fn a_link_to_itself_is_a_cycle() {
        let text = HR.replace(
            "references: applications.id",
            "references: interview_notes.id",
        );
        let m = messages(&text);
        assert!(m.contains("circle"), "{m}");
    }

    #[test]
    fn a_table_that_cannot_reach_a_person_is_refused() {
        let text = HR.replace(
            "    link: {column: application_id, references: applications.id}\n    columns:\n      held_on",
            "    columns:\n      held_on",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("'interview_notes' has no column that identifies"),
            "{}",
            p[0].message
        );
        assert_eq!(p[0].line, line_of(&text, "interview_notes:"));
    }

    #[test]
    fn the_end_of_a_chain_without_identifiers_is_reported_once() {
        let text = without_identifiers(HR);
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("'applicants' has no column"), "{p:?}");
    }

    #[test]
    fn keep_needs_a_reason() {
        let text = HR.replace(
            "{keep: \"Archiefwet: selection file kept 5 years\"}}",
            "{keep: \" \"}}",
        );
        let m = messages(&text);
        assert!(m.contains("'applications.submitted_at' is kept"), "{m}");
        assert!(m.contains("legal obligation"), "{m}");

        let text = HR.replace(
            "erasure: {keep: \"Archiefwet: selection file kept 5 years\"}\n",
            "erasure: {keep: \"\"}\n",
        );
        assert!(messages(&text).contains("table 'documents' is kept"));
    }

    #[test]
    fn set_null_on_an_identifying_column_is_refused() {
        let text = HR
            .replace("    erasure: delete_row\n  applications", "  applications")
            .replace(
                "first_name: identification",
                "first_name: {category: identification, erasure: set_null}",
            )
            .replace(
                "last_name: identification",
                "last_name: {category: identification, erasure: set_null}",
            )
            .replace(
                "birth_date: personal_characteristics",
                "birth_date: {category: personal_characteristics, erasure: set_null}",
            )
            .replace(
                "identifies: email}",
                "identifies: email, erasure: set_null}",
            )
            .replace(
                "identifies: phone}",
                "identifies: phone, erasure: {mask: \"\"}}",
            )
            .replace(
                "stored_as: formatted}",
                "stored_as: formatted, erasure: {mask: \"00.00.00-000.00\"}}",
            );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("'applicants.email' identifies the person"),
            "{p:?}"
        );
        assert_eq!(p[0].line, line_of(&text, "      email:"));
    }

    #[test]
    fn erasure_must_be_said_once() {
        let text = HR.replace(
            "      notes: employment",
            "      notes: {category: employment, erasure: set_null}",
        );
        assert!(messages(&text).contains("remove one of them"));

        let text = HR.replace(
            "      score: employment\n    erasure: delete_row\n",
            "      score: employment\n",
        );
        let m = messages(&text);
        assert!(
            m.contains("say what erasure does to column 'interview_notes.notes'"),
            "{m}"
        );
    }

    #[test]
    fn stored_as_only_for_national_numbers() {
        let text = HR.replace(
            "identifies: phone}",
            "identifies: phone, stored_as: digits}",
        );
        assert!(messages(&text).contains("stored_as is only for"));
    }

    #[test]
    fn name_and_birth_date_cannot_be_one_column() {
        let text = HR.replace("identifies: phone}", "identifies: name_birth_date}");
        assert!(messages(&text).contains("cannot identify by name_birth_date"));
    }

    #[test]
    fn names_and_activities_are_checked() {
        let text = HR
            .replace("name: hr", "name: Human Resources")
            .replace("activities: [recruitment]", "activities: []")
            .replace("schema: hr", "schema: \" hr\"")
            .replace("primary_key: [id]", "primary_key: [id, id]");
        let m = messages(&text);
        assert!(m.contains("system name 'Human Resources'"), "{m}");
        assert!(m.contains("name the processing activities"), "{m}");
        assert!(
            m.contains("schema name ' hr' starts or ends with a space"),
            "{m}"
        );
        assert!(m.contains("named twice in the primary key"), "{m}");

        let text = HR.replace("  applicants:\n", "  \"appli\\tcants\":\n");
        assert!(messages(&text).contains("control character"));
    }

    #[test]
    fn duplicate_tables_are_refused() {
        let text =
            format!("{HR}  applicants:\n    columns: {{x: contact}}\n    erasure: delete_row\n");
        assert!(
            messages(&text).contains("applicants"),
            "{}",
            messages(&text)
        );
    }

    #[test]
    fn the_error_lists_file_line_and_column() {
        let text = HR.replace("references: applicants.id", "references: applicant.id");
        let err = parse("hr.yaml", &text).unwrap_err().to_string();
        let line = line_of(&text, "applicant.id").unwrap();
        assert!(err.contains(&format!("hr.yaml:{line}:")), "{err}");
    }

    /// The HR example with a restriction mark on applicants and applications.
    fn with_marks(applicants: &str, applications: &str) -> String {
        HR.replace(
            "    erasure: delete_row\n  applications:\n",
            &format!("    erasure: delete_row\n    restriction: {applicants}\n  applications:\n"),
        )
        .replace(
            "  interview_notes:\n",
            &format!("    restriction: {applications}\n  interview_notes:\n"),
        )
    }

    #[test]
    fn a_restriction_mark_parses_round_trips_and_is_listed() {
        let text = with_marks(
            "{column: processing_restricted}",
            "{column: processing_restricted}",
        );
        let map = parse("hr.yaml", &text).unwrap();
        assert_eq!(
            map.restriction_marks().collect::<Vec<_>>(),
            [
                ("applicants", "processing_restricted"),
                ("applications", "processing_restricted")
            ]
        );
        let yaml = to_yaml(&map).unwrap();
        assert_eq!(parse("again.yaml", &yaml).unwrap(), map);
        assert_eq!(parse("hr.yaml", HR).unwrap().restriction_marks().count(), 0);
    }

    #[test]
    fn a_restriction_mark_on_a_key_link_identifier_or_data_is_refused() {
        let text = HR.replace(
            "primary_key: [id]",
            "primary_key: [id]\n    restriction: {column: id}",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("restriction mark of table 'documents'")
                && p[0].message.contains("primary key")
                && p[0].message.contains("processing_restricted"),
            "{p:?}"
        );
        assert_eq!(p[0].line, line_of(&text, "restriction:"));
        for (applicants, applications, expected) in [
            ("{column: email}", "{column: x}", "identifies the person"),
            (
                "{column: first_name}",
                "{column: x}",
                "listed as personal data",
            ),
            ("{column: id}", "{column: x}", "what other tables link to"),
            ("{column: x}", "{column: applicant_id}", "is its link"),
            (
                "{column: \" x\"}",
                "{column: x}",
                "starts or ends with a space",
            ),
        ] {
            let m = messages(&with_marks(applicants, applications));
            assert!(m.contains(expected), "{applicants} {applications}: {m}");
        }
    }

    #[test]
    fn a_table_has_at_most_one_restriction_mark() {
        let two = with_marks("{column: a}", "{column: b}").replace(
            "    restriction: {column: a}\n",
            "    restriction: {column: a}\n    restriction: {column: c}\n",
        );
        assert!(parse("hr.yaml", &two).is_err(), "a key given twice");
        let list = with_marks("[{column: a}, {column: c}]", "{column: b}");
        assert!(parse("hr.yaml", &list).is_err(), "a list of marks");
        let other = with_marks("{column: a, kind: flag}", "{column: b}");
        assert!(messages(&other).contains("kind"), "{}", messages(&other));
    }

    /// The HR example with `line` added to the applications table.
    fn with_applications(line: &str) -> String {
        HR.replace(
            "  interview_notes:\n",
            &format!("    {line}\n  interview_notes:\n"),
        )
    }

    #[test]
    fn provided_by_subject_parses_round_trips_and_is_false_unless_said() {
        let text = with_applications("provided_by_subject: true");
        let map = parse("hr.yaml", &text).unwrap();
        assert!(map.provided_by_subject("applications"));
        assert!(!map.provided_by_subject("interview_notes"), "not said");
        assert!(!map.provided_by_subject("no_such_table"));
        let yaml = to_yaml(&map).unwrap();
        assert_eq!(yaml.matches("provided_by_subject").count(), 1, "{yaml}");
        assert_eq!(parse("again.yaml", &yaml).unwrap(), map);
        let unmarked = parse("hr.yaml", HR).unwrap();
        assert!(unmarked.tables.values().all(|t| !t.provided_by_subject));
        assert!(!to_yaml(&unmarked).unwrap().contains("provided_by_subject"));
        let said_false = parse("hr.yaml", &with_applications("provided_by_subject: false"));
        assert_eq!(said_false.unwrap(), unmarked);
    }

    #[test]
    fn the_provided_part_keeps_the_marked_tables_and_their_way_to_the_person() {
        assert_eq!(parse("hr.yaml", HR).unwrap().provided_part(), None);
        let text = HR.replace(
            "      score: employment\n",
            "      score: employment\n    provided_by_subject: true\n",
        );
        let map = parse("hr.yaml", &text).unwrap();
        let part = map.provided_part().unwrap();
        assert_eq!(
            part.tables.keys().collect::<Vec<_>>(),
            ["applicants", "applications", "interview_notes"],
            "the notes, and the tables they are found through; not the documents"
        );
        assert!(part.problems().is_empty(), "{:?}", part.problems());
        assert_eq!(
            part.tables["interview_notes"],
            map.tables["interview_notes"]
        );
    }

    #[test]
    fn provided_by_subject_is_a_yes_or_no_on_a_table_with_columns() {
        let text = with_applications("provided_by_subject: sometimes");
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].line, line_of(&text, "provided_by_subject:"));
        let text = format!(
            "{HR}  uploads:\n    link: {{column: application_id, references: applications.id}}\n    erasure: delete_row\n    provided_by_subject: true\n"
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].message
                .contains("table 'uploads' is marked provided_by_subject")
                && p[0].message.contains("lists no columns"),
            "{p:?}"
        );
        assert_eq!(p[0].line, line_of(&text, "provided_by_subject:"));
    }

    /// The HR example with a retention on applications.
    fn with_retention(retention: &str) -> String {
        HR.replace(
            "  interview_notes:\n",
            &format!("    retention: {retention}\n  interview_notes:\n"),
        )
    }

    fn schedules(rule: RetentionRule) -> BTreeMap<Slug, Vec<RetentionSchedule>> {
        BTreeMap::from([(
            "recruitment".to_string(),
            vec![RetentionSchedule {
                key: "reserve".into(),
                applies_to: None,
                rule,
                evidence_hold: None,
                note: None,
                anonymise: None,
            }],
        )])
    }

    fn reserve() -> RetentionRule {
        RetentionRule::Extendable {
            event: crate::retention::RetentionEvent::EndOfProcedure,
            period: Period::years(1),
            extension: Period::years(1),
            max_extensions: 2,
        }
    }

    #[test]
    fn a_retention_parses_round_trips_and_resolves_its_schedule() {
        let text = with_retention(
            "{from: closed_on, schedule: reserve, only_where: {column: status, in: [rejected, 1, true]}}",
        );
        let map = parse("hr.yaml", &text).unwrap();
        let r = map.tables["applications"].retention.as_ref().unwrap();
        assert_eq!(r.from, "closed_on");
        assert_eq!(
            r.only_where.as_ref().unwrap().values,
            ["rejected", "1", "true"]
        );
        let yaml = to_yaml(&map).unwrap();
        assert_eq!(parse("again.yaml", &yaml).unwrap(), map);

        let periods = map.retention_periods(&schedules(reserve())).unwrap();
        let p = &periods["applications"];
        assert_eq!(p.period, Period::years(1));
        assert_eq!(p.activity.as_deref(), Some("recruitment"));
        assert_eq!(p.schedule.as_deref(), Some("reserve"));
        assert!(
            p.rule
                .starts_with("1 year after end_of_procedure, without extensions"),
            "{}",
            p.rule
        );
        assert_eq!(periods.len(), 1);
    }

    #[test]
    fn condition_values_round_trip_as_text() {
        let text = with_retention(
            "{from: closed_on, period: 1 year, only_where: {column: status, in: [\"1.50\", \"null\", \"~\", \"yes\", \"0x10\", \"1e3\", 007, 2.5, false]}}",
        );
        let map = parse("hr.yaml", &text).unwrap();
        let values = &map.tables["applications"]
            .retention
            .as_ref()
            .unwrap()
            .only_where
            .as_ref()
            .unwrap()
            .values;
        assert_eq!(&values[..6], ["1.50", "null", "~", "yes", "0x10", "1e3"]);
        let yaml = to_yaml(&map).unwrap();
        assert_eq!(parse("again.yaml", &yaml).unwrap(), map, "{yaml}");
    }

    #[test]
    fn a_period_of_the_map_needs_no_register() {
        let map = parse(
            "hr.yaml",
            &with_retention("{from: closed_on, period: 6 months}"),
        )
        .unwrap();
        let periods = map.retention_periods(&BTreeMap::new()).unwrap();
        let p = &periods["applications"];
        assert_eq!(p.period, Period::months(6));
        assert_eq!(p.schedule, None);
        assert_eq!(
            p.activity.as_deref(),
            Some("recruitment"),
            "the map's only one"
        );
        assert!(p.rule.contains("applications.closed_on"), "{}", p.rule);
    }

    #[test]
    fn a_schedule_that_is_missing_or_gives_no_period_is_refused_with_its_line() {
        let text = with_retention("{from: closed_on, schedule: reserve}");
        let map = parse("hr.yaml", &text).unwrap();
        let issues = map.retention_periods(&BTreeMap::new()).unwrap_err();
        assert_eq!(issues.len(), 1);
        assert!(
            issues[0]
                .message
                .contains("no retention schedule 'reserve' in activity 'recruitment'"),
            "{issues:?}"
        );
        let err = refuse_at_lines("hr.yaml", &text, issues);
        assert_eq!(err.problems[0].line, line_of(&text, "retention:"));

        let issues = map
            .retention_periods(&schedules(RetentionRule::Permanent))
            .unwrap_err();
        assert!(
            issues[0].message.contains("is permanent") && issues[0].message.contains("period:"),
            "{issues:?}"
        );

        // Two activities with the same key: say which.
        let mut map = map;
        map.activities.push("reserve-pool".into());
        let mut both = schedules(reserve());
        both.insert("reserve-pool".into(), both["recruitment"].clone());
        let issues = map.retention_periods(&both).unwrap_err();
        assert!(issues[0].message.contains("activity:"), "{issues:?}");
        map.tables
            .get_mut("applications")
            .unwrap()
            .retention
            .as_mut()
            .unwrap()
            .activity = Some("reserve-pool".into());
        let periods = map.retention_periods(&both).unwrap();
        assert_eq!(
            periods["applications"].activity.as_deref(),
            Some("reserve-pool")
        );
    }

    #[test]
    fn a_retention_must_say_how_long_and_from_what() {
        let m = messages(&with_retention("{from: closed_on}"));
        assert!(
            m.contains("say how long rows of table 'applications'"),
            "{m}"
        );
        let m = messages(&with_retention(
            "{from: closed_on, schedule: reserve, period: 1 year}",
        ));
        assert!(m.contains("both schedule: and period:"), "{m}");
        let m = messages(&with_retention("{from: closed_on, period: 0 days}"));
        assert!(m.contains("period of table 'applications' is empty"), "{m}");
        let m = messages(&with_retention("{from: closed_on, period: 300 years}"));
        assert!(m.contains("longer than 200 years"), "{m}");
        let m = messages(&with_retention("{from: closed_on, period: 1 eon}"));
        assert!(m.contains("'eon' is not a unit of time"), "{m}");
        let text = with_retention(
            "{from: \" closed_on\", period: 1 year, activity: hiring, only_where: {column: status, in: []}}",
        );
        let p = problems(&text);
        let m = messages(&text);
        assert!(m.contains("column name ' closed_on' starts or ends"), "{m}");
        assert!(m.contains("activity 'hiring' is not among"), "{m}");
        assert!(m.contains("lists no values"), "{m}");
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p.iter().all(|p| p.line == line_of(&text, "retention:")));
        let m = messages(&with_retention(
            "{from: closed_on, period: 1 year, until: x}",
        ));
        assert!(m.contains("until"), "{m}");
    }

    #[test]
    fn rows_are_due_the_day_after_their_deadline() {
        let due = |period: Period, today: Date| {
            RetentionPeriod {
                from: "d".into(),
                period,
                only_where: None,
                activity: None,
                schedule: None,
                rule: String::new(),
            }
            .expired_before(today)
            .unwrap()
        };
        use time::macros::date;
        // Closed 2024-03-29, kept 1 year: deadline 2025-03-29, gone on 2025-03-30.
        assert_eq!(
            due(Period::years(1), date!(2025 - 03 - 29)),
            date!(2024 - 03 - 29)
        );
        assert_eq!(
            due(Period::years(1), date!(2025 - 03 - 30)),
            date!(2024 - 03 - 30)
        );
        // A month after 31 January is 28 February: due on 1 March.
        assert_eq!(
            due(Period::months(1), date!(2025 - 03 - 01)),
            date!(2025 - 02 - 01)
        );
        assert_eq!(
            due(Period::days(30), date!(2026 - 02 - 15)),
            date!(2026 - 01 - 16)
        );
    }

    proptest::proptest! {
        /// The boundary is exact: every date before it is due, the date itself is not.
        #[test]
        fn the_due_boundary_is_exact(
            days in 0i64..40_000,
            years in 0u16..12,
            months in 0u16..14,
            extra in 0u16..40,
        ) {
            let today = Date::from_calendar_date(1990, time::Month::January, 1).unwrap()
                + time::Duration::days(days);
            let period = Period { years, months, weeks: 0, days: extra };
            let rule = RetentionPeriod {
                from: "d".into(),
                period,
                only_where: None,
                activity: None,
                schedule: None,
                rule: String::new(),
            };
            let before = rule.expired_before(today).unwrap();
            let prev = before.previous_day().unwrap();
            proptest::prop_assert!(period.after(prev).unwrap() < today);
            proptest::prop_assert!(period.after(before).unwrap() >= today);
        }
    }

    proptest::proptest! {
        /// Damaged maps are refused with a message, never a panic; what is accepted
        /// round-trips. (`fuzz/` has the coverage-guided version of this.)
        #[test]
        fn damaged_maps_are_refused_not_fatal(
            cut in 0usize..1500,
            at in 0usize..1500,
            junk in "[-:{}\\[\\],'\"#&*!|> a-z0-9\n.]{0,12}",
        ) {
            let mut text = HR.to_string();
            let at = floor_char(&text, at.min(text.len()));
            text.insert_str(at, &junk);
            let cut = floor_char(&text, cut.min(text.len()));
            let damaged = &text[..text.len() - cut];
            if let Ok(map) = parse("damaged.yaml", damaged) {
                let yaml = to_yaml(&map).unwrap();
                proptest::prop_assert_eq!(parse("again.yaml", &yaml).unwrap(), map);
            }
        }
    }

    fn floor_char(s: &str, mut i: usize) -> usize {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }
}
