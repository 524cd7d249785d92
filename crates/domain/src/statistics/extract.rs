//! Turning records into an extract: each cell generalised and interned as a small integer
//! per column, each person numbered once and pseudonymised once. Grouping and counting
//! then work on integers, never on strings.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use serde_json::Value;
use time::Date;

use super::pseudonyms::{Pseudonymise, Pseudonymiser};
use super::spec::{ColumnRole, Generalisation, OTHER, Plan, Source};
use crate::category::DataCategory;
use crate::identifiers::{Bsn, EmailAddress, NationalNumber, PhoneNumber};
use crate::inventory::age_on;

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// One record as the extract reads it, with the attributes of its data subject.
#[derive(Debug, Clone, Copy)]
pub struct SourceRow<'a> {
    /// The data subject, by a stable id; the pseudonym is made from it.
    pub subject: &'a str,
    pub birth_date: Option<Date>,
    pub category: DataCategory,
    pub collected_on: Date,
    pub source: Option<&'a str>,
    pub fields: &'a BTreeMap<String, Value>,
}

/// A generalised value before interning.
enum Key<'a> {
    Missing,
    /// A number the column's generalisation labels (a year, a band's start, a range).
    Int(i64),
    Text(&'a str),
    Owned(String),
}

/// The distinct values of one column, numbered from 1 (0 is "no value").
#[derive(Debug, Clone)]
struct Interner {
    ints: FastMap<i64, u32>,
    texts: FastMap<Box<str>, u32>,
    labels: Vec<String>,
    /// Whether each new value is checked for looking like a direct identifier: for
    /// values released as recorded.
    guarded: bool,
    /// What the first value that looked like one looked like.
    identifier: Option<&'static str>,
}

impl Interner {
    fn new(guarded: bool) -> Interner {
        Interner {
            ints: FastMap::default(),
            texts: FastMap::default(),
            labels: vec![String::new()],
            guarded,
            identifier: None,
        }
    }

    /// Adds a new label, checking it when the column is guarded: once per distinct value,
    /// so the check costs nothing per row.
    fn push_label(&mut self, label: String) {
        if self.guarded && self.identifier.is_none() {
            self.identifier = looks_like_identifier(&label);
        }
        self.labels.push(label);
    }

    fn code(&mut self, key: Key<'_>, label: impl FnOnce(i64) -> String) -> u32 {
        let next = u32::try_from(self.labels.len()).unwrap_or(u32::MAX);
        match key {
            Key::Missing => 0,
            Key::Int(n) => {
                if let Some(&c) = self.ints.get(&n) {
                    return c;
                }
                self.ints.insert(n, next);
                self.push_label(label(n));
                next
            }
            Key::Text(s) => self.text(s, next),
            Key::Owned(s) => self.text(&s, next),
        }
    }

    fn text(&mut self, s: &str, next: u32) -> u32 {
        if let Some(&c) = self.texts.get(s) {
            return c;
        }
        self.texts.insert(s.into(), next);
        self.push_label(s.to_string());
        next
    }
}

/// What a value looks like if it is a direct identifier a field's name did not announce:
/// an e-mail address, a phone number in international form, a national number or a BSN
/// (check digits verified, so few other numbers match).
pub fn looks_like_identifier(value: &str) -> Option<&'static str> {
    let v = value.trim();
    if v.contains('@') && v.parse::<EmailAddress>().is_ok() {
        return Some("e-mail addresses");
    }
    if v.starts_with('+') && v.parse::<PhoneNumber>().is_ok() {
        return Some("phone numbers");
    }
    let digits = v.bytes().filter(u8::is_ascii_digit).count();
    if digits == 11 && v.parse::<NationalNumber>().is_ok() {
        return Some("national numbers");
    }
    if digits == 9 && v.parse::<Bsn>().is_ok() {
        return Some("BSNs");
    }
    None
}

impl Generalisation {
    /// `date` as an extract releases it at this level: `1984` (year), `1984-05` (month),
    /// `1980-1984` (a 5-year band). None for a generalisation that does not coarsen a date
    /// on its own (an age band needs the collection day; prefixes and groups work on text).
    pub fn date(&self, date: Date) -> Option<String> {
        if !matches!(
            self,
            Generalisation::Year | Generalisation::Month | Generalisation::YearBand(_)
        ) {
            return None;
        }
        // The extract's own code path, so a copy and an extract coarsen alike.
        let generaliser = Generaliser::new(Source::CollectedOn, Some(self.clone()));
        let fields = BTreeMap::new();
        let row = SourceRow {
            subject: "",
            birth_date: None,
            category: DataCategory::CaseFile,
            collected_on: date,
            source: None,
            fields: &fields,
        };
        match generaliser.key(&row) {
            Key::Int(n) => Some(generaliser.label(n)),
            _ => None,
        }
    }

    /// A text that holds a date (`1984-05-03`, or a moment `1984-05-03T10:00:00Z`) at this
    /// level; None when it holds none.
    pub fn date_in_text(&self, text: &str) -> Option<String> {
        parse_date(text.trim()).and_then(|d| self.date(d))
    }
}

/// A column as it generalises: the plan's column with lookups prepared.
struct Generaliser {
    source: Source,
    generalise: Option<Generalisation>,
    /// For `groups`: value to group number; the group names follow, `other` last.
    groups: FastMap<String, i64>,
    group_names: Vec<String>,
}

impl Generaliser {
    fn new(source: Source, generalise: Option<Generalisation>) -> Generaliser {
        let mut groups = FastMap::default();
        let mut group_names = Vec::new();
        if let Some(Generalisation::Groups(map)) = &generalise {
            for (i, (name, values)) in map.iter().enumerate() {
                group_names.push(name.clone());
                for v in values {
                    groups.insert(v.clone(), i as i64);
                }
            }
            group_names.push(OTHER.to_string());
        }
        Generaliser {
            source,
            generalise,
            groups,
            group_names,
        }
    }

    /// The raw value of the row for this column.
    fn raw<'a>(&self, row: &SourceRow<'a>) -> Raw<'a> {
        match &self.source {
            Source::BirthDate => row.birth_date.map_or(Raw::Missing, Raw::Date),
            Source::CollectedOn => Raw::Date(row.collected_on),
            Source::Category => Raw::Text(row.category.name()),
            Source::RecordSource => row.source.map_or(Raw::Missing, Raw::Text),
            Source::Field(name) => match row.fields.get(name) {
                None | Some(Value::Null) => Raw::Missing,
                Some(Value::String(s)) => Raw::Text(s),
                Some(v) => Raw::Json(v),
            },
        }
    }

    fn key<'a>(&self, row: &SourceRow<'a>) -> Key<'a> {
        let raw = self.raw(row);
        let Some(g) = &self.generalise else {
            return match raw {
                Raw::Missing => Key::Missing,
                Raw::Text(s) => Key::Text(s),
                Raw::Date(d) => Key::Int(i64::from(d.to_julian_day())),
                Raw::Json(Value::Number(n)) if n.is_i64() => Key::Int(n.as_i64().unwrap_or(0)),
                Raw::Json(v) => Key::Owned(v.to_string()),
            };
        };
        match g {
            Generalisation::Year => raw
                .date()
                .map_or(Key::Missing, |d| Key::Int(d.year().into())),
            Generalisation::Month => raw.date().map_or(Key::Missing, |d| {
                Key::Int(i64::from(d.year()) * 12 + i64::from(d.month() as u8) - 1)
            }),
            Generalisation::YearBand(n) => raw
                .date()
                .map_or(Key::Missing, |d| Key::Int(band(i64::from(d.year()), *n))),
            Generalisation::AgeBand(n) => {
                // A birth date (an attribute, or a field written YYYY-MM-DD) gives the age
                // on the collection day; a number is an age already.
                let age = match raw.date() {
                    Some(born) if born <= row.collected_on => {
                        Some(i64::from(age_on(born, row.collected_on)))
                    }
                    Some(_) => None,
                    None => raw.number().map(|a| a.floor() as i64).filter(|a| *a >= 0),
                };
                age.map_or(Key::Missing, |a| Key::Int(band(a, *n)))
            }
            Generalisation::Prefix(n) => match raw {
                Raw::Missing => Key::Missing,
                Raw::Text(s) => Key::Text(prefix(s, usize::from(*n))),
                Raw::Date(d) => Key::Owned(prefix(&d.to_string(), usize::from(*n)).to_string()),
                Raw::Json(v) => Key::Owned(prefix(&v.to_string(), usize::from(*n)).to_string()),
            },
            Generalisation::Ranges(bounds) => raw.number().map_or(Key::Missing, |x| {
                Key::Int(bounds.partition_point(|b| *b <= x) as i64)
            }),
            Generalisation::Groups(_) => {
                let other = self.group_names.len() as i64 - 1;
                let group = |s: &str| self.groups.get(s).copied().unwrap_or(other);
                match raw {
                    Raw::Missing => Key::Missing,
                    Raw::Text(s) => Key::Int(group(s)),
                    Raw::Date(d) => Key::Int(group(&d.to_string())),
                    Raw::Json(v) => Key::Int(group(&v.to_string())),
                }
            }
        }
    }

    /// The label of a number `key` gave.
    fn label(&self, n: i64) -> String {
        let Some(g) = &self.generalise else {
            return i32::try_from(n)
                .ok()
                .and_then(|d| Date::from_julian_day(d).ok())
                .filter(|_| matches!(self.source, Source::BirthDate | Source::CollectedOn))
                .map_or_else(|| n.to_string(), |d| d.to_string());
        };
        match g {
            Generalisation::Month => format!("{}-{:02}", n.div_euclid(12), n.rem_euclid(12) + 1),
            Generalisation::YearBand(w) | Generalisation::AgeBand(w) => {
                format!("{n}-{}", n + i64::from(*w) - 1)
            }
            Generalisation::Ranges(bounds) => {
                let i = usize::try_from(n).unwrap_or(0);
                match (i.checked_sub(1).and_then(|j| bounds.get(j)), bounds.get(i)) {
                    (None, Some(hi)) => format!("<{hi}"),
                    (Some(lo), Some(hi)) => format!("{lo}-<{hi}"),
                    (Some(lo), None) => format!(">={lo}"),
                    (None, None) => String::new(),
                }
            }
            Generalisation::Groups(_) => usize::try_from(n)
                .ok()
                .and_then(|i| self.group_names.get(i))
                .cloned()
                .unwrap_or_default(),
            _ => n.to_string(),
        }
    }
}

/// A row's value for one column before generalisation.
enum Raw<'a> {
    Missing,
    Date(Date),
    Text(&'a str),
    Json(&'a Value),
}

impl Raw<'_> {
    /// A date, from a date attribute or a field written YYYY-MM-DD.
    fn date(&self) -> Option<Date> {
        match self {
            Raw::Date(d) => Some(*d),
            Raw::Text(s) => parse_date(s),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Raw::Json(Value::Number(n)) => n.as_f64(),
            Raw::Text(s) => s.trim().parse().ok(),
            _ => None,
        }
        .filter(|x: &f64| x.is_finite())
    }
}

fn parse_date(s: &str) -> Option<Date> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u8 = s.get(5..7)?.parse().ok()?;
    let day: u8 = s.get(8..10)?.parse().ok()?;
    Date::from_calendar_date(year, time::Month::try_from(month).ok()?, day).ok()
}

/// The start of the band of width `w` that `x` falls in.
fn band(x: i64, w: u16) -> i64 {
    let w = i64::from(w.max(1));
    x.div_euclid(w) * w
}

/// The first `n` characters of `s`.
fn prefix(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// An extract being built, one record at a time.
pub struct Extractor {
    generalisers: Vec<Option<Generaliser>>,
    interners: Vec<Interner>,
    codes: Vec<Vec<u32>>,
    persons: Vec<u32>,
    person_of: FastMap<u64, u32>,
    /// Makes each person's pseudonym, when the extract has a pseudonym column.
    pseudonyms: Option<Pseudonymiser>,
    hasher: foldhash::quality::FixedState,
    /// Categories to take records from, as a bit per `DataCategory::ALL` index.
    categories: u64,
    names: Vec<String>,
    roles: Vec<ColumnRole>,
}

/// The extract: every row, coded, before the anonymity check.
#[derive(Debug, Clone)]
pub struct Extract {
    pub names: Vec<String>,
    pub roles: Vec<ColumnRole>,
    /// Per column, the label of each code (code 0 is the empty label).
    pub(crate) labels: Vec<Vec<String>>,
    /// Per column, the code of each row; empty for the pseudonym column.
    pub(crate) codes: Vec<Vec<u32>>,
    /// The person (numbered from 0) of each row.
    pub(crate) persons: Vec<u32>,
    /// Each person's pseudonym, when the extract has a pseudonym column.
    pub(crate) pseudonyms: Vec<String>,
    /// Columns released as recorded whose values look like direct identifiers.
    pub(crate) identifiers: Vec<String>,
}

impl Extract {
    pub fn rows(&self) -> usize {
        self.persons.len()
    }

    pub fn persons(&self) -> usize {
        self.person_count()
    }

    fn person_count(&self) -> usize {
        self.persons.iter().max().map_or(0, |m| *m as usize + 1)
    }

    /// The label of a row's cell in a coded column.
    pub(crate) fn label(&self, column: usize, row: usize) -> &str {
        &self.labels[column][self.codes[column][row] as usize]
    }
}

fn category_bit(c: DataCategory) -> u64 {
    let i = DataCategory::ALL.iter().position(|x| *x == c).unwrap_or(63);
    1 << i
}

impl Extractor {
    /// An extractor for `plan` that takes records of `categories` only. `pseudonymise`
    /// turns a subject id into the project's pseudonym (the key stays with the caller); it
    /// runs once per person, on worker threads while records are still being pushed.
    pub fn new(plan: &Plan, categories: &[DataCategory], pseudonymise: Pseudonymise) -> Extractor {
        let columns = &plan.spec.columns;
        let generalisers: Vec<Option<Generaliser>> = plan
            .sources
            .iter()
            .zip(columns)
            .map(|(s, c)| s.clone().map(|s| Generaliser::new(s, c.generalise.clone())))
            .collect();
        Extractor {
            interners: plan
                .sources
                .iter()
                .zip(columns)
                .map(|(source, c)| {
                    Interner::new(
                        c.generalise.is_none()
                            && matches!(source, Some(Source::Field(_) | Source::RecordSource)),
                    )
                })
                .collect(),
            codes: columns.iter().map(|_| Vec::new()).collect(),
            generalisers,
            persons: Vec::new(),
            person_of: FastMap::default(),
            pseudonyms: plan.pseudonym.map(|_| Pseudonymiser::new(pseudonymise)),
            hasher: foldhash::quality::FixedState::with_seed(0x6b6c_7569_735f_7374),
            categories: categories
                .iter()
                .map(|c| category_bit(*c))
                .fold(0, |a, b| a | b),
            names: columns.iter().map(|c| c.name.trim().to_string()).collect(),
            roles: columns.iter().map(|c| c.role).collect(),
        }
    }

    /// Room for `rows` more rows, when the caller knows how many come.
    pub fn reserve(&mut self, rows: usize) {
        self.persons.reserve(rows);
        self.person_of.reserve(rows);
        for (codes, g) in self.codes.iter_mut().zip(&self.generalisers) {
            if g.is_some() {
                codes.reserve(rows);
            }
        }
    }

    /// Adds a record. Records of other categories are skipped: returns whether the row
    /// was taken.
    pub fn push(&mut self, row: &SourceRow<'_>) -> bool {
        if self.categories & category_bit(row.category) == 0 {
            return false;
        }
        // People are told apart by a 64-bit hash of their id: a fixed-size key, and the
        // chance that two of a million people share one is about 3 in 100 million.
        let hash = self.hasher.hash_one(row.subject);
        let next = u32::try_from(self.person_of.len()).unwrap_or(u32::MAX);
        let person = *self.person_of.entry(hash).or_insert(next);
        if person == next
            && let Some(pseudonyms) = &mut self.pseudonyms
        {
            pseudonyms.add(row.subject);
        }
        self.persons.push(person);
        for ((g, interner), codes) in self
            .generalisers
            .iter()
            .zip(&mut self.interners)
            .zip(&mut self.codes)
        {
            if let Some(g) = g {
                let code = interner.code(g.key(row), |n| g.label(n));
                codes.push(code);
            }
        }
        true
    }

    /// The extract, with every person's pseudonym.
    pub fn finish(self) -> Extract {
        let pseudonyms = self
            .pseudonyms
            .map(Pseudonymiser::finish)
            .unwrap_or_default();
        let identifiers = self
            .interners
            .iter()
            .zip(&self.names)
            .filter_map(|(i, name)| {
                i.identifier
                    .map(|what| format!("column '{name}' holds {what}"))
            })
            .collect();
        Extract {
            names: self.names,
            roles: self.roles,
            identifiers,
            labels: self.interners.into_iter().map(|i| i.labels).collect(),
            codes: self.codes,
            persons: self.persons,
            pseudonyms,
        }
    }
}
