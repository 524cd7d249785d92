//! The extract specification: a YAML file that says which records go into a research or
//! statistics extract, which columns it has, how each quasi-identifier is generalised and
//! which thresholds the release must meet. Direct identifiers are refused here, before any
//! personal data is read.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::category::DataCategory;

/// The smallest group of people a released row may belong to, unless the spec says more.
pub const DEFAULT_K: u32 = 5;
/// The largest share of rows that may be suppressed before the release is refused.
pub const DEFAULT_MAX_SUPPRESSED_SHARE: f64 = 0.05;
/// Largest spec file accepted; a real one is a few kilobytes.
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;
/// Most columns an extract may have.
pub const MAX_COLUMNS: usize = 64;

/// An extract as the DPO or researcher asks for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtractSpec {
    /// The processing activity whose records are extracted, by id.
    pub activity: String,
    /// The research or statistics project: pseudonyms are keyed per project, so two
    /// projects cannot link their extracts.
    pub project: String,
    /// Why the extract is made (the research question, the statistic), for the log.
    pub purpose: String,
    /// Record categories to include; every non-identifying category of the activity when
    /// left out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<DataCategory>,
    #[serde(default)]
    pub thresholds: Thresholds,
    pub columns: Vec<ColumnSpec>,
    /// Aggregate count tables, released with small-cell suppression.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<TableSpec>,
}

/// What a release must meet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// k-anonymity: every released row shares its quasi-identifiers with at least k people.
    #[serde(default = "default_k")]
    pub k: u32,
    /// l-diversity: every group of rows shows at least l different values of each
    /// sensitive column. 1 checks nothing.
    #[serde(default = "default_l")]
    pub l: u32,
    /// The release is refused when a larger share of rows (0.0 to 1.0) had to be suppressed.
    #[serde(default = "default_share")]
    pub max_suppressed_share: f64,
    /// Cells of aggregate tables with fewer people than this are suppressed.
    #[serde(default = "default_k")]
    pub min_cell: u32,
}

fn default_k() -> u32 {
    DEFAULT_K
}
fn default_l() -> u32 {
    1
}
fn default_share() -> f64 {
    DEFAULT_MAX_SUPPRESSED_SHARE
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            k: DEFAULT_K,
            l: 1,
            max_suppressed_share: DEFAULT_MAX_SUPPRESSED_SHARE,
            min_cell: DEFAULT_K,
        }
    }
}

/// One column of the extract.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    /// The column's header in the CSV file.
    pub name: String,
    pub role: ColumnRole,
    /// Where the value comes from: `subject.birth_date`, `record.category`,
    /// `record.collected_on`, `record.source` or `field.NAME` (a field of the record).
    /// A pseudonym column has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// How the value is coarsened; the value as recorded when left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generalise: Option<Generalisation>,
}

/// What a column is to the anonymity check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnRole {
    /// The person's keyed pseudonym for this project.
    Pseudonym,
    /// A value that, combined with others, could single a person out (birth year,
    /// postcode, sex): the k-anonymity check groups rows by these.
    QuasiIdentifier,
    /// A value that must not be learnt about a person (a diagnosis, a decision):
    /// l-diversity asks each group to show several.
    Sensitive,
    /// Released as is; neither grouped on nor checked.
    Attribute,
}

/// A generalisation hierarchy with its level: the parameter is the level (a 5-year band
/// is coarser than the year, a 2-digit postcode prefix coarser than 4 digits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Generalisation {
    /// A date to its year: `1984`.
    Year,
    /// A date to its month: `1984-05`.
    Month,
    /// A date to a band of n years: `{year_band: 5}` gives `1980-1984`.
    YearBand(u16),
    /// A birth date to the age on the record's collection date (or a number, an age) in
    /// bands of n years: `{age_band: 10}` gives `30-39`.
    AgeBand(u16),
    /// Text to its first n characters: `{prefix: 2}` turns postcode 3500 into `35`.
    Prefix(u16),
    /// A number to the range it falls in: `{ranges: [0, 1000, 2000]}` gives `<0`,
    /// `0-<1000`, `1000-<2000` or `>=2000`.
    Ranges(Vec<f64>),
    /// Values to named groups; values no group lists become `other`.
    Groups(BTreeMap<String, Vec<String>>),
}

/// An aggregate table: counts of rows by some columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub name: String,
    /// Names of extract columns (not the pseudonym) to count by.
    pub by: Vec<String>,
}

/// Where a column's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The data subject's birth date.
    BirthDate,
    /// The record's data category.
    Category,
    /// The day the record's data was collected.
    CollectedOn,
    /// Where the record's data came from ("the person", "the national register").
    RecordSource,
    /// A field of the record, by name.
    Field(String),
}

/// What kind of value a source gives, to match it with a generalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceKind {
    Date,
    Text,
    /// A record field: any JSON value.
    Any,
}

impl Source {
    fn kind(&self) -> SourceKind {
        match self {
            Source::BirthDate | Source::CollectedOn => SourceKind::Date,
            Source::Category | Source::RecordSource => SourceKind::Text,
            Source::Field(_) => SourceKind::Any,
        }
    }
}

/// Subject attributes that name or reach a person directly: never in an extract.
const DIRECT_SUBJECT_ATTRIBUTES: &[&str] = &[
    "national_number",
    "bsn",
    "given_name",
    "family_name",
    "name",
    "email",
    "phone",
    "address",
    "id",
];

/// Field names (lower case, letters and digits only) that are direct identifiers.
const DIRECT_FIELD_NAMES: &[&str] = &[
    "nationalnumber",
    "rijksregisternummer",
    "rrn",
    "insz",
    "inss",
    "niss",
    "bsn",
    "burgerservicenummer",
    "name",
    "naam",
    "nom",
    "fullname",
    "volledigenaam",
    "givenname",
    "firstname",
    "voornaam",
    "voornamen",
    "prenom",
    "familyname",
    "lastname",
    "surname",
    "achternaam",
    "familienaam",
    "mail",
    "gsm",
    "mobile",
    "mobiel",
    "street",
    "straat",
    "streetname",
    "straatnaam",
    "housenumber",
    "huisnummer",
    "rekeningnummer",
    "accountnumber",
    "idcard",
    "idcardnumber",
    "identiteitskaart",
    "passport",
    "paspoort",
    "licenseplate",
    "nummerplaat",
    "kenteken",
    "ip",
    "subjectid",
];

/// Parts that make any field name a direct identifier: `contact_email`, `telefoon2`.
const DIRECT_FIELD_PARTS: &[&str] = &[
    "email",
    "phone",
    "telefoon",
    "telephone",
    "rijksregister",
    "iban",
    "address",
    "adres",
    "ipaddress",
];

/// Record categories that identify a person by themselves: their fields never go into an
/// extract.
pub const IDENTIFYING_CATEGORIES: &[DataCategory] = &[
    DataCategory::Identification,
    DataCategory::Contact,
    DataCategory::ElectronicIdentification,
    DataCategory::NationalNumber,
    DataCategory::IdCardNumber,
    DataCategory::SoundImage,
];

/// Why an extract specification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// The field the problem is in (`columns[2].source`), when known.
    pub field: String,
    pub message: String,
    /// The spec asked for a direct identifier.
    pub direct_identifier: bool,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        f.write_str(": ")?;
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        write!(
            f,
            "{}; nothing was extracted",
            self.message.trim_end_matches('.')
        )
    }
}

/// A checked specification, ready to extract with.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub spec: ExtractSpec,
    /// Each column's source; `None` for the pseudonym column.
    pub sources: Vec<Option<Source>>,
    /// The pseudonym column's index, if the extract has one.
    pub pseudonym: Option<usize>,
    /// Each table's columns, as indexes into `spec.columns`.
    pub tables: Vec<Vec<usize>>,
}

impl Plan {
    /// The record categories to extract from an activity that has `activity_categories`:
    /// the spec's (each of which the activity must have), or every non-identifying one.
    pub fn categories(
        &self,
        activity_categories: &[DataCategory],
    ) -> Result<Vec<DataCategory>, String> {
        if self.spec.categories.is_empty() {
            let chosen: Vec<DataCategory> = activity_categories
                .iter()
                .copied()
                .filter(|c| !IDENTIFYING_CATEGORIES.contains(c))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if chosen.is_empty() {
                return Err(format!(
                    "activity '{}' records only identifying categories: there is nothing to \
                     extract",
                    self.spec.activity
                ));
            }
            return Ok(chosen);
        }
        for c in &self.spec.categories {
            if !activity_categories.contains(c) {
                return Err(format!(
                    "categories: activity '{}' does not record category '{c}'; it records {}",
                    self.spec.activity,
                    activity_categories
                        .iter()
                        .map(|c| c.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(self.spec.categories.clone())
    }
}

/// Parses and checks a specification file. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Plan, SpecError> {
    let error = |line, column, message: String| SpecError {
        file: file.to_string(),
        line,
        column,
        field: String::new(),
        message,
        direct_identifier: false,
    };
    if text.len() > MAX_SPEC_BYTES {
        return Err(error(
            None,
            None,
            "the file is larger than 1 MiB; an extract specification is a few kilobytes".into(),
        ));
    }
    let spec: ExtractSpec = serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        error(
            loc.map(|l| l.line()),
            loc.map(|l| l.column()),
            plain_message(&e),
        )
    })?;
    spec.plan().map_err(|mut e| {
        e.file = file.to_string();
        e
    })
}

/// The error's own sentence, without the snippet the library draws around it.
fn plain_message(e: &serde_saphyr::Error) -> String {
    let text = e.without_snippet().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("the file is not valid YAML")
        .trim();
    first
        .rfind(" at line ")
        .map_or(first, |i| &first[..i])
        .to_string()
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> SpecError {
    SpecError {
        file: "the extract specification".into(),
        line: None,
        column: None,
        field: field.into(),
        message: message.into(),
        direct_identifier: false,
    }
}

fn direct(field: String, column: &str, what: &str) -> SpecError {
    SpecError {
        direct_identifier: true,
        ..invalid(
            field,
            format!(
                "column '{column}' asks for {what}, a direct identifier: an extract never \
                 holds one; use a column with role pseudonym to follow a person across rows"
            ),
        )
    }
}

impl ExtractSpec {
    /// Checks the specification: every problem names its field.
    pub fn plan(&self) -> Result<Plan, SpecError> {
        for (field, value) in [
            ("activity", &self.activity),
            ("project", &self.project),
            ("purpose", &self.purpose),
        ] {
            if value.trim().is_empty() {
                return Err(invalid(field, "must not be empty"));
            }
            if value.len() > 500 {
                return Err(invalid(field, "is longer than 500 characters"));
            }
        }
        self.check_thresholds()?;
        for (i, c) in self.categories.iter().enumerate() {
            if IDENTIFYING_CATEGORIES.contains(c) {
                return Err(SpecError {
                    direct_identifier: true,
                    ..invalid(
                        format!("categories[{i}]"),
                        format!(
                            "category '{c}' identifies people directly: its records never go \
                             into an extract"
                        ),
                    )
                });
            }
        }
        if self.columns.is_empty() {
            return Err(invalid("columns", "name at least one column"));
        }
        if self.columns.len() > MAX_COLUMNS {
            return Err(invalid("columns", format!("at most {MAX_COLUMNS} columns")));
        }
        let mut names = BTreeSet::new();
        let mut sources = Vec::with_capacity(self.columns.len());
        let mut pseudonym = None;
        for (i, column) in self.columns.iter().enumerate() {
            let at = format!("columns[{i}]");
            let name = column.name.trim();
            if name.is_empty() || name.len() > 64 {
                return Err(invalid(format!("{at}.name"), "must be 1 to 64 characters"));
            }
            if !names.insert(name) {
                return Err(invalid(
                    format!("{at}.name"),
                    format!("column '{name}' is named twice"),
                ));
            }
            if column.role == ColumnRole::Pseudonym {
                if pseudonym.replace(i).is_some() {
                    return Err(invalid(
                        format!("{at}.role"),
                        "an extract has at most one pseudonym column",
                    ));
                }
                if column.source.is_some() || column.generalise.is_some() {
                    return Err(invalid(
                        at,
                        format!(
                            "pseudonym column '{name}' takes no source and no generalise: it \
                             is the person's pseudonym for the project"
                        ),
                    ));
                }
                sources.push(None);
                continue;
            }
            let Some(text) = &column.source else {
                return Err(invalid(
                    format!("{at}.source"),
                    format!(
                        "column '{name}' needs a source: subject.birth_date, record.category, \
                         record.collected_on, record.source or field.NAME"
                    ),
                ));
            };
            let source = parse_source(&format!("{at}.source"), name, text)?;
            if let Some(g) = &column.generalise {
                check_generalisation(&format!("{at}.generalise"), name, &source, g)?;
            }
            sources.push(Some(source));
        }
        let sensitive = self.columns.iter().any(|c| c.role == ColumnRole::Sensitive);
        if self.thresholds.l > 1 && !sensitive {
            return Err(invalid(
                "thresholds.l",
                "l-diversity needs a column with role sensitive",
            ));
        }
        let tables = self.check_tables()?;
        Ok(Plan {
            spec: self.clone(),
            sources,
            pseudonym,
            tables,
        })
    }

    fn check_thresholds(&self) -> Result<(), SpecError> {
        let t = &self.thresholds;
        if t.k < 2 {
            return Err(invalid(
                "thresholds.k",
                "k must be at least 2: with 1 every row may single a person out",
            ));
        }
        if t.l < 1 {
            return Err(invalid("thresholds.l", "l must be at least 1"));
        }
        if !(0.0..=1.0).contains(&t.max_suppressed_share) {
            return Err(invalid(
                "thresholds.max_suppressed_share",
                "must be a share between 0.0 and 1.0 (0.05 is 5%)",
            ));
        }
        if t.min_cell < 1 {
            return Err(invalid("thresholds.min_cell", "must be at least 1"));
        }
        Ok(())
    }

    fn check_tables(&self) -> Result<Vec<Vec<usize>>, SpecError> {
        let mut names = BTreeSet::new();
        let mut out = Vec::new();
        for (i, table) in self.tables.iter().enumerate() {
            let at = format!("tables[{i}]");
            if table.name.trim().is_empty() || !names.insert(table.name.trim()) {
                return Err(invalid(
                    format!("{at}.name"),
                    "every table needs a name of its own",
                ));
            }
            if table.by.is_empty() {
                return Err(invalid(format!("{at}.by"), "name the columns to count by"));
            }
            let mut indexes = Vec::new();
            for (j, by) in table.by.iter().enumerate() {
                let found = self.columns.iter().position(|c| c.name.trim() == by.trim());
                match found {
                    Some(c) if self.columns[c].role == ColumnRole::Pseudonym => {
                        return Err(invalid(
                            format!("{at}.by[{j}]"),
                            format!("'{by}' is the pseudonym: count by other columns"),
                        ));
                    }
                    Some(c) if !indexes.contains(&c) => indexes.push(c),
                    Some(_) => {
                        return Err(invalid(
                            format!("{at}.by[{j}]"),
                            format!("'{by}' is named twice"),
                        ));
                    }
                    None => {
                        return Err(invalid(
                            format!("{at}.by[{j}]"),
                            format!("there is no column '{by}'"),
                        ));
                    }
                }
            }
            out.push(indexes);
        }
        Ok(out)
    }
}

/// Reads `subject.X`, `record.X` or `field.NAME`, refusing direct identifiers.
fn parse_source(field: &str, column: &str, text: &str) -> Result<Source, SpecError> {
    let text = text.trim();
    let known = "use subject.birth_date, record.category, record.collected_on, record.source \
                 or field.NAME";
    let (scope, name) = text
        .split_once('.')
        .ok_or_else(|| invalid(field, format!("'{text}' is not a source: {known}")))?;
    match scope {
        "subject" => match name {
            "birth_date" => Ok(Source::BirthDate),
            n if DIRECT_SUBJECT_ATTRIBUTES.contains(&n) => {
                Err(direct(field.into(), column, &format!("subject.{n}")))
            }
            n => Err(invalid(
                field,
                format!("the data subject has no attribute '{n}' an extract may use: {known}"),
            )),
        },
        "record" => match name {
            "category" => Ok(Source::Category),
            "collected_on" => Ok(Source::CollectedOn),
            "source" => Ok(Source::RecordSource),
            "subject_id" | "id" => Err(direct(field.into(), column, &format!("record.{name}"))),
            n => Err(invalid(
                field,
                format!("a record has no attribute '{n}' an extract may use: {known}"),
            )),
        },
        "field" if !name.is_empty() => {
            if is_direct_field(name) {
                Err(direct(field.into(), column, &format!("field '{name}'")))
            } else {
                Ok(Source::Field(name.to_string()))
            }
        }
        _ => Err(invalid(field, format!("'{text}' is not a source: {known}"))),
    }
}

/// Whether a record field's name says it holds a direct identifier.
pub fn is_direct_field(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    DIRECT_FIELD_NAMES.contains(&folded.as_str())
        || DIRECT_FIELD_PARTS.iter().any(|p| folded.contains(p))
}

/// Whether a generalisation fits the source's kind, and its parameter makes sense.
fn check_generalisation(
    field: &str,
    column: &str,
    source: &Source,
    g: &Generalisation,
) -> Result<(), SpecError> {
    let kind = source.kind();
    let needs = |what: &str| {
        invalid(
            field,
            format!("column '{column}': this generalisation needs {what}"),
        )
    };
    match g {
        Generalisation::Year | Generalisation::Month | Generalisation::YearBand(_)
            if kind == SourceKind::Text =>
        {
            return Err(needs(
                "a date (subject.birth_date, record.collected_on or a field)",
            ));
        }
        Generalisation::AgeBand(_) if !matches!(source, Source::BirthDate | Source::Field(_)) => {
            return Err(needs("subject.birth_date or a field holding an age"));
        }
        Generalisation::Ranges(_) if kind != SourceKind::Any => {
            return Err(needs("a field holding a number"));
        }
        _ => {}
    }
    match g {
        Generalisation::YearBand(n) | Generalisation::AgeBand(n) | Generalisation::Prefix(n)
            if *n == 0 =>
        {
            Err(invalid(field, "the level must be at least 1"))
        }
        Generalisation::Ranges(bounds) => {
            if bounds.is_empty() || bounds.len() > 1000 {
                Err(invalid(field, "give 1 to 1000 bounds"))
            } else if bounds.windows(2).any(|w| w[0] >= w[1])
                || bounds.iter().any(|b| !b.is_finite())
            {
                Err(invalid(
                    field,
                    "the bounds must be finite numbers in increasing order",
                ))
            } else {
                Ok(())
            }
        }
        Generalisation::Groups(groups) => {
            let mut seen = BTreeSet::new();
            if groups.is_empty() {
                return Err(invalid(field, "name at least one group"));
            }
            for (group, values) in groups {
                if group == OTHER {
                    return Err(invalid(
                        field,
                        "'other' is the group of values no group lists: choose another name",
                    ));
                }
                for v in values {
                    if !seen.insert(v.as_str()) {
                        return Err(invalid(field, format!("value '{v}' is in two groups")));
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The group of values a `groups` generalisation does not list.
pub const OTHER: &str = "other";
