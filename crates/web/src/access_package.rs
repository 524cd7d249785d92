//! The access package (art. 15) and the portability export (art. 20) of a rights request,
//! assembled from the vault, the connected systems and the processing log, and rendered as
//! an accessible HTML page, a PDF, and a zip of JSON and CSV; for the API and the command
//! line alike.
//!
//! Only what was granted leaves kluis: the request must be decided with its right granted
//! for at least one processing activity ([`access_package::check_release`]), and only the
//! data of those activities goes in. Every package produced is logged as an export to the
//! data subject, once per processing activity it holds data of, with the request's
//! reference; producing it twice logs it twice.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use askama::Template;
use kluis_connectors::Hit;
use kluis_domain::access::Scope;
use kluis_domain::access_package::{
    self, AccessPackage, ActivityPart, Consultation, Fact, NotReleasable, PackageKind,
    PackageRecord, SystemGap, SystemRow,
};
use kluis_domain::category::DataCategory;
use kluis_domain::i18n;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::{LogAction, LogSelector, NewLogEntry};
use kluis_domain::register::{AutomatedDecisionMaking, ProcessingActivity};
use kluis_domain::retention::Deadline;
use kluis_domain::rights::{Decision, Outcome};
use kluis_domain::statement::{self, Block, StatementMeta};
use kluis_domain::text::Lang;
use kluis_store::{Processing, Record, RightsRequest, Store, StoreError, SubjectQuery};

use crate::systems::{self, SystemUrls};

/// Consultations shown at most: the oldest first, as the log keeps them.
pub const MAX_CONSULTATIONS: i64 = 10_000;

/// How a package is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The accessible page (access package).
    Html,
    /// The printable document (access package).
    Pdf,
    /// JSON and CSV in a zip (access package).
    Zip,
    /// JSON (portability).
    Json,
    /// CSV (portability: the records and the systems' rows, in one table).
    Csv,
}

impl Format {
    /// The format named `name`, if `kind` comes in it; the error lists those that do.
    pub fn parse(kind: PackageKind, name: &str) -> Result<Format, String> {
        let format = match (kind, name) {
            (PackageKind::Access, "html") => Format::Html,
            (PackageKind::Access, "pdf") => Format::Pdf,
            (PackageKind::Access, "zip") => Format::Zip,
            (PackageKind::Portability, "json") => Format::Json,
            (PackageKind::Portability, "csv") => Format::Csv,
            (PackageKind::Access, _) => {
                return Err(format!(
                    "format '{name}' is not one of html, pdf, zip for an access package"
                ));
            }
            (PackageKind::Portability, _) => {
                return Err(format!(
                    "format '{name}' is not one of json, csv for a portability export"
                ));
            }
        };
        Ok(format)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Zip => "application/zip",
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Zip => "zip",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// A rendered package, ready to send or save.
#[derive(Debug)]
pub struct Download {
    pub content_type: &'static str,
    /// A file name made of the reference only: safe in Content-Disposition.
    pub file_name: String,
    pub body: Vec<u8>,
}

impl Download {
    /// The package as a download to save, never kept by a cache: the one way the API and
    /// the back-office answer with one.
    pub fn into_attachment(self) -> axum::response::Response {
        use axum::http::HeaderValue;
        use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE};
        use axum::response::IntoResponse;

        let mut response = self.body.into_response();
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The file name is made of the reference's letters, digits and dashes only.
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", self.file_name))
        {
            h.insert(CONTENT_DISPOSITION, v);
        }
        response
    }
}

/// Why no package was made.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("{0}")]
    NotReleasable(#[from] NotReleasable),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the package could not be written: {0}")]
    Render(String),
}

/// The package of `kind` for a server, made with a turn at the bulk gate (it is heavy:
/// lookups keep their cores): the one way the API and the back-office make one. The command
/// line, alone in its process, calls [`produce`] itself.
pub async fn produce_gated(
    state: &crate::state::AppState,
    processing: &Processing,
    request: &RightsRequest,
    kind: PackageKind,
    format: Format,
) -> Result<Download, PackageError> {
    let _turn = state.bulk.admit().await;
    produce(
        &state.store,
        &state.settings.system_urls,
        processing,
        request,
        kind,
        format,
    )
    .await
}

/// Assembles, renders and logs the package of `kind` for `request`: the one way the API,
/// the back-office and the command line make one. Nothing is logged when it may not be made.
pub async fn produce(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    kind: PackageKind,
    format: Format,
) -> Result<Download, PackageError> {
    let assembled = assemble(store, urls, processing, request, kind).await?;
    let body = render(&assembled.package, format)?;
    store
        .append_log(processing, assembled.log_entries)
        .await
        .map_err(PackageError::Store)?;
    Ok(Download {
        content_type: format.content_type(),
        file_name: format!(
            "{}-{}.{}",
            safe_name(&request.reference),
            match kind {
                PackageKind::Access => "access",
                PackageKind::Portability => "portability",
            },
            format.extension()
        ),
        body,
    })
}

/// Only letters, digits and dashes: the reference goes into a header.
fn safe_name(reference: &str) -> String {
    reference
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// A package with the log entries its release writes.
pub struct Assembled {
    pub package: AccessPackage,
    pub log_entries: Vec<NewLogEntry>,
}

/// Gathers what the package holds. Reading the vault and searching the systems are logged
/// as such (a read, search hits) by the store; the export itself is in `log_entries`, for
/// the caller to write once the package is rendered.
pub async fn assemble(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    kind: PackageKind,
) -> Result<Assembled, PackageError> {
    access_package::check_release(kind, request.stage, &request.rights, &request.decisions)?;
    let lang = request.language;
    let right = kind.right();
    let (granted, refused) = access_package::split_decisions(&request.decisions, right);
    let register = store.register().await?;
    let versions: BTreeMap<String, (ProcessingActivity, i64)> = store
        .activities(Some(&request.controller))
        .await?
        .into_iter()
        .map(|a| (a.value.id.to_string(), (a.value, a.version)))
        .collect();
    // The activities whose data goes in: granted, and for portability on consent or
    // contract only (art. 20(1)(a)).
    let released: BTreeSet<String> = granted
        .iter()
        .filter(|d| {
            kind == PackageKind::Access
                || versions
                    .get(&d.activity)
                    .is_some_and(|(a, _)| access_package::portable_activity(a))
        })
        .map(|d| d.activity.clone())
        .collect();
    let scope = Scope::Activities(released.clone());
    let statement = statement::generate(
        &register,
        &request.controller,
        lang,
        &StatementMeta {
            version: 0,
            effective_date: processing.now.date(),
            earlier_versions: Vec::new(),
            changes: Vec::new(),
        },
    )
    .ok();
    let controller = register
        .controllers
        .iter()
        .find(|c| c.id.as_str() == request.controller)
        .map_or(request.controller.clone(), |c| {
            c.name.show(lang).to_string()
        });

    // Who consulted the data, read before this package's own reads are logged, under
    // every identifier the vault knows the person by.
    let consultations = if kind == PackageKind::Access {
        let pseudonyms = match request.subject_id {
            Some(id) => store.subject_pseudonyms_of(id).await?,
            None => store.subject_pseudonyms(&request.requester.identity)?,
        };
        consultations(store, pseudonyms, &scope, &versions, lang).await?
    } else {
        Vec::new()
    };
    let view = match request.subject_id {
        None => None,
        // The person's own request gets restricted records with their fields too.
        Some(id) => match store
            .subject_for_request(processing, id, &scope, &request.reference)
            .await
        {
            Ok(view) => view,
            // The person has nothing under the released activities.
            Err(StoreError::OutOfScope { .. }) => None,
            Err(e) => return Err(e.into()),
        },
    };
    let identity = view.as_ref().map_or_else(
        || request.requester.identity.clone(),
        |v| v.subject.identity.clone(),
    );

    let records: Vec<PackageRecord> = view
        .map(|v| v.records)
        .unwrap_or_default()
        .into_iter()
        .filter(|r| released.contains(&r.activity))
        .filter(|r| kind == PackageKind::Access || r.provided_by_subject)
        .map(|r| package_record(r, lang))
        .collect();

    let (system_rows, incomplete) = if released.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        system_rows(store, urls, processing, request, &identity, &scope, kind).await?
    };

    let activities = granted
        .iter()
        .chain(refused.iter())
        .map(|d| {
            activity_part(
                d,
                versions.get(&d.activity).map(|(a, _)| a),
                &statement,
                lang,
            )
        })
        .collect();
    let (rights, complaint) = match &statement {
        Some(s) => (
            s.section("rights")
                .map(|s| facts(&s.blocks))
                .unwrap_or_default(),
            s.section("complaints")
                .map(|s| paragraphs(&s.blocks))
                .unwrap_or_default(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    let package = AccessPackage {
        kind,
        reference: request.reference.clone(),
        language: lang,
        controller,
        produced_at: processing.now,
        identity: (kind == PackageKind::Access).then(|| identity.clone()),
        activities,
        records,
        system_rows,
        incomplete,
        consultations,
        rights,
        complaint,
    };
    let log_entries = export_entries(store, &package, &identity, &released, &versions)?;
    Ok(Assembled {
        package,
        log_entries,
    })
}

/// The log entries for the subject under the released activities, without the staff.
async fn consultations(
    store: &Store,
    subjects: Vec<String>,
    scope: &Scope,
    versions: &BTreeMap<String, (ProcessingActivity, i64)>,
    lang: Lang,
) -> Result<Vec<Consultation>, StoreError> {
    if subjects.is_empty() {
        return Ok(Vec::new());
    }
    let selector = LogSelector {
        subjects,
        ..LogSelector::default()
    };
    let entries = store
        .log_entries(&selector, scope, MAX_CONSULTATIONS)
        .await?;
    Ok(entries
        .into_iter()
        .map(|e| Consultation {
            at: e.at,
            organisation: e.entry.organisation,
            activity: versions
                .get(&e.entry.activity)
                .map_or(e.entry.activity.clone(), |(a, _)| {
                    name_of(a, lang).to_string()
                }),
            action: e.entry.action,
            categories: e.entry.data_categories,
            system: e.entry.system,
        })
        .collect())
}

/// The rows the connected systems serving the released activities hold on the person: for
/// portability only those of the tables the maps mark as provided by the person, with the
/// mapped columns only (as for access), searched only in systems with such a table. A
/// system that cannot be searched is a gap, named in the package, as for access.
async fn system_rows(
    store: &Store,
    urls: &SystemUrls,
    processing: &Processing,
    request: &RightsRequest,
    identity: &SubjectIdentity,
    scope: &Scope,
    kind: PackageKind,
) -> Result<(Vec<SystemRow>, Vec<SystemGap>), StoreError> {
    let query = SubjectQuery::Id(request.subject_id.unwrap_or_default());
    let (person, primary) = systems::person_query(&query, &[identity]);
    let (results, provided) = match kind {
        PackageKind::Access => (
            systems::search(store, urls, processing, &person, primary.as_ref(), scope).await?,
            None,
        ),
        PackageKind::Portability => {
            let results = systems::search_part(
                store,
                urls,
                processing,
                &person,
                primary.as_ref(),
                scope,
                |map| map.provided_part(),
            )
            .await?;
            // Read after the search: a mark removed meanwhile releases nothing.
            (results, Some(provided_tables(store).await?))
        }
    };
    // The rows of the tables a marked table is found through are read, not released.
    let released = |system: &str, hit: &Hit| {
        provided
            .as_ref()
            .is_none_or(|p| p.contains(&(system.to_string(), hit.table.clone())))
    };
    let mut rows = Vec::new();
    let mut gaps = Vec::new();
    for result in results {
        if let Some(reason) = result.error {
            gaps.push(SystemGap {
                system: result.system,
                reason,
            });
            continue;
        }
        for hit in result.rows {
            if released(&result.system, &hit) {
                rows.push(system_row(&result.system, &result.activities, hit));
            }
        }
    }
    Ok((rows, gaps))
}

/// The (system, table) pairs whose rows the person provided, as the dataset maps say.
async fn provided_tables(store: &Store) -> Result<BTreeSet<(String, String)>, StoreError> {
    Ok(store
        .systems()
        .await?
        .into_iter()
        .flat_map(|s| {
            let system = s.map.name;
            s.map
                .tables
                .into_iter()
                .filter(|(_, t)| t.provided_by_subject)
                .map(move |(table, _)| (system.clone(), table))
        })
        .collect())
}

fn system_row(system: &str, activities: &[String], hit: Hit) -> SystemRow {
    let categories = hit.categories().into_iter().collect();
    SystemRow {
        system: system.to_string(),
        activities: activities.to_vec(),
        table: hit.table,
        key: hit
            .primary_key
            .iter()
            .map(|(c, v)| format!("{c}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        fields: hit.columns.into_iter().map(|c| (c.name, c.value)).collect(),
        categories,
    }
}

fn package_record(r: Record, lang: Lang) -> PackageRecord {
    PackageRecord {
        id: r.id.to_string(),
        retention: deadline_words(&r.deadline, lang),
        activity: r.activity,
        category: r.category,
        fields: r.fields,
        source: r.source,
        collected_on: r.collected_on,
        provided_by_subject: r.provided_by_subject,
    }
}

/// A record's deadline as the person reads it.
pub fn deadline_words(deadline: &Deadline, lang: Lang) -> String {
    let t = |key: &str| i18n::t(lang, &format!("access_package.{key}")).to_string();
    match deadline {
        Deadline::On(date) => i18n::tf(
            lang,
            "access_package.retention_on",
            &[("date", &statement::date_in_words(lang, *date))],
        ),
        Deadline::AwaitingEvent(event) => i18n::tf(
            lang,
            "access_package.retention_awaiting",
            &[("event", i18n::t(lang, &event.label_key()))],
        ),
        Deadline::UntilWithdrawal => t("retention_until_withdrawal"),
        Deadline::Permanent => t("retention_permanent"),
        Deadline::ArchiveReview => t("retention_archive"),
        Deadline::NeedReview => t("retention_review"),
    }
}

fn name_of(activity: &ProcessingActivity, lang: Lang) -> &str {
    let name = activity.name.show(lang);
    if name.is_empty() {
        activity.id.as_str()
    } else {
        name
    }
}

/// One decided activity: the statement's facts about it when granted, the motivation
/// alone when refused.
fn activity_part(
    d: &Decision,
    activity: Option<&ProcessingActivity>,
    statement: &Option<statement::Statement>,
    lang: Lang,
) -> ActivityPart {
    let granted = d.outcome != Outcome::Refused;
    let facts = match (granted, statement) {
        (true, Some(s)) => s
            .section(&format!("activity-{}", d.activity))
            .map(|s| facts(&s.blocks))
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    ActivityPart {
        id: d.activity.clone(),
        name: activity.map_or(d.activity.clone(), |a| name_of(a, lang).to_string()),
        outcome: d.outcome,
        motivation: d.motivation.clone(),
        facts,
        automated_decisions: activity
            .is_some_and(|a| !matches!(a.automated_decision_making, AutomatedDecisionMaking::None)),
    }
}

/// The definition lists of a statement section as facts.
fn facts(blocks: &[Block]) -> Vec<Fact> {
    let mut out = Vec::new();
    for block in blocks {
        if let Block::Definitions(defs) = block {
            for d in defs {
                out.push(Fact {
                    label: statement::plain_text(&d.term),
                    text: paragraphs(&d.details),
                });
            }
        }
    }
    out
}

/// The text of blocks, one string per paragraph, list item or table row.
fn paragraphs(blocks: &[Block]) -> Vec<String> {
    let mut out = Vec::new();
    for block in blocks {
        match block {
            Block::Paragraph(line) => out.push(statement::plain_text(line)),
            Block::List(lines) => out.extend(lines.iter().map(|l| statement::plain_text(l))),
            Block::Definitions(defs) => out.extend(defs.iter().map(|d| {
                format!(
                    "{}: {}",
                    statement::plain_text(&d.term),
                    paragraphs(&d.details).join(" ")
                )
            })),
            Block::Table(t) => out.extend(t.rows.iter().map(|row| {
                row.iter()
                    .map(|c| statement::plain_text(c))
                    .collect::<Vec<_>>()
                    .join(" | ")
            })),
        }
    }
    out
}

/// One export entry per processing activity the package holds data of (the log records
/// per activity), under the person's pseudonym, to the data subject, with the reference.
/// An access package always names the person, so each released activity has one even
/// without records.
fn export_entries(
    store: &Store,
    package: &AccessPackage,
    identity: &SubjectIdentity,
    released: &BTreeSet<String>,
    versions: &BTreeMap<String, (ProcessingActivity, i64)>,
) -> Result<Vec<NewLogEntry>, StoreError> {
    let Some((kind, value)) = identity.identifiers().into_iter().next() else {
        return Ok(Vec::new());
    };
    let subject = store.subject_pseudonym(kind, &value)?;
    let mut categories: BTreeMap<&str, BTreeSet<&'static str>> = BTreeMap::new();
    if package.kind == PackageKind::Access {
        for a in released {
            categories
                .entry(a.as_str())
                .or_default()
                .insert(DataCategory::Identification.name());
        }
    }
    for r in &package.records {
        let c = categories.entry(r.activity.as_str()).or_default();
        c.insert(DataCategory::Identification.name());
        c.insert(r.category.name());
    }
    for row in &package.system_rows {
        for a in &row.activities {
            categories
                .entry(a.as_str())
                .or_default()
                .extend(row.categories.iter().map(|c| c.name()));
        }
    }
    let ground = match package.kind {
        PackageKind::Access => "GDPR art. 15",
        PackageKind::Portability => "GDPR art. 20",
    };
    let mut entries = Vec::new();
    for (id, cats) in categories {
        let Some((activity, version)) = versions.get(id) else {
            continue;
        };
        entries.push(NewLogEntry {
            action: LogAction::Export,
            organisation: activity.controller.to_string(),
            activity: id.to_string(),
            activity_version: *version,
            purpose: activity
                .purposes
                .first()
                .map(|p| p.show(Lang::Nl).to_string())
                .unwrap_or_default(),
            legal_basis: activity
                .legal_bases
                .iter()
                .map(|b| b.basis.name())
                .collect::<Vec<_>>()
                .join(","),
            subject: subject.clone(),
            subject_type: kind.name().to_string(),
            data_categories: cats.into_iter().map(str::to_string).collect(),
            system: "kluis".into(),
            case_ref: Some(package.reference.clone()),
            recipient: Some("data subject".into()),
            legal_ground: Some(ground.into()),
        });
    }
    Ok(entries)
}

// ── Rendering ───────────────────────────────────────────────────────────────────────────

/// The package in `format`.
pub fn render(package: &AccessPackage, format: Format) -> Result<Vec<u8>, PackageError> {
    match format {
        Format::Html => html(package).map(String::into_bytes),
        Format::Pdf => Ok(pdf(package)),
        Format::Zip => zip(package),
        Format::Json => Ok(package.to_json().into_bytes()),
        Format::Csv => Ok(package.portability_csv().into_bytes()),
    }
}

/// One row of a table on the page and in the PDF.
struct Row(Vec<String>);

/// The package's three tables, with their captions and headers, as the page and the PDF
/// show them.
struct Tables {
    records: (String, Vec<String>, Vec<Row>),
    systems: (String, Vec<String>, Vec<Row>),
    log: (String, Vec<String>, Vec<Row>),
}

fn label(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("access_package.{key}")).to_string()
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "—".into(),
        other => other.to_string(),
    }
}

fn fields_text(fields: &BTreeMap<String, serde_json::Value>) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{k}: {}", value_text(v)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn tables(p: &AccessPackage) -> Tables {
    let lang = p.language;
    let l = |k: &str| label(lang, k);
    let category = |c: &DataCategory| i18n::t(lang, &c.label_key()).to_string();
    let records = p
        .records
        .iter()
        .map(|r| {
            Row(vec![
                p.activity_name(&r.activity).to_string(),
                category(&r.category),
                fields_text(&r.fields),
                r.source.clone().unwrap_or_else(|| "—".into()),
                statement::date_in_words(lang, r.collected_on),
                r.retention.clone(),
            ])
        })
        .collect();
    let systems = p
        .system_rows
        .iter()
        .map(|r| {
            Row(vec![
                r.system.clone(),
                r.table.clone(),
                r.activities
                    .iter()
                    .map(|a| p.activity_name(a).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                fields_text(&r.fields),
            ])
        })
        .collect();
    let log = p
        .consultations
        .iter()
        .map(|c| {
            Row(vec![
                format!(
                    "{} {:02}:{:02}",
                    statement::date_in_words(lang, c.at.date()),
                    c.at.hour(),
                    c.at.minute()
                ),
                c.organisation.clone(),
                c.activity.clone(),
                i18n::t(lang, &c.action.label_key()).to_string(),
                c.categories
                    .iter()
                    .map(|k| i18n::t(lang, &format!("data_category.{k}")).to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                c.system.clone(),
            ])
        })
        .collect();
    Tables {
        records: (
            l("records_caption"),
            [
                "col_activity",
                "col_category",
                "col_data",
                "col_source",
                "col_collected_on",
                "col_retention",
            ]
            .map(l)
            .to_vec(),
            records,
        ),
        systems: (
            l("systems_caption"),
            ["col_system", "col_table", "col_activity", "col_data"]
                .map(l)
                .to_vec(),
            systems,
        ),
        log: (
            l("log_caption"),
            [
                "col_when",
                "col_organisation",
                "col_activity",
                "col_action",
                "col_category",
                "col_system",
            ]
            .map(l)
            .to_vec(),
            log,
        ),
    }
}

/// What the page says about the person: (label, value) pairs.
fn identity_lines(p: &AccessPackage) -> Vec<(String, String)> {
    let lang = p.language;
    let Some(i) = &p.identity else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut push = |key: &str, value: Option<String>| {
        if let Some(v) = value {
            out.push((i18n::t(lang, key).to_string(), v));
        }
    };
    push("access_package.given_name", i.given_name.clone());
    push("access_package.family_name", i.family_name.clone());
    push(
        "access_package.birth_date",
        i.birth_date.map(|d| statement::date_in_words(lang, d)),
    );
    for (kind, value) in i.identifiers() {
        push(&kind.label_key(), Some(value));
    }
    out
}

#[derive(Template)]
#[template(path = "rights/access_package.html")]
struct PackagePage<'a> {
    lang: Lang,
    title: String,
    intro: String,
    identity: Vec<(String, String)>,
    granted: Vec<&'a ActivityPart>,
    refused: Vec<&'a ActivityPart>,
    tables: Tables,
    incomplete: Vec<String>,
    rights: &'a [Fact],
    complaint: &'a [String],
    access: bool,
}

impl PackagePage<'_> {
    fn t(&self, key: &str) -> String {
        label(self.lang, key)
    }

    fn outcome(&self, o: &Outcome) -> String {
        i18n::t(self.lang, &o.label_key()).to_string()
    }
}

fn title_and_intro(p: &AccessPackage) -> (String, String) {
    let lang = p.language;
    let title = label(
        lang,
        match p.kind {
            PackageKind::Access => "title_access",
            PackageKind::Portability => "title_portability",
        },
    );
    let intro = i18n::tf(
        lang,
        "access_package.intro",
        &[
            ("controller", &p.controller),
            ("reference", &p.reference),
            (
                "date",
                &statement::date_in_words(lang, p.produced_at.date()),
            ),
        ],
    );
    (title, intro)
}

/// The accessible page: headings, tables with captions and header cells, in the
/// request's language.
pub fn html(p: &AccessPackage) -> Result<String, PackageError> {
    let (title, intro) = title_and_intro(p);
    let lang = p.language;
    let incomplete = p
        .incomplete
        .iter()
        .map(|g| i18n::tf(lang, "access_package.incomplete", &[("system", &g.system)]))
        .collect();
    PackagePage {
        lang,
        title,
        intro,
        identity: identity_lines(p),
        granted: p.granted().collect(),
        refused: p.refused().collect(),
        tables: tables(p),
        incomplete,
        rights: &p.rights,
        complaint: &p.complaint,
        access: p.kind == PackageKind::Access,
    }
    .render()
    .map_err(|e| PackageError::Render(e.to_string()))
}

/// The JSON of everything and one CSV per table, in a zip.
pub fn zip(p: &AccessPackage) -> Result<Vec<u8>, PackageError> {
    use zip::write::SimpleFileOptions;
    let bad = |e: &dyn std::fmt::Display| PackageError::Render(e.to_string());
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(zip_time(p.produced_at));
    let mut files = vec![("package.json", p.to_json())];
    files.extend(p.to_csv());
    for (name, content) in files {
        out.start_file(name, options).map_err(|e| bad(&e))?;
        out.write_all(content.as_bytes()).map_err(|e| bad(&e))?;
    }
    Ok(out.finish().map_err(|e| bad(&e))?.into_inner())
}

/// The package's moment as a zip entry's date (zip keeps local time without a zone: UTC).
fn zip_time(at: time::OffsetDateTime) -> zip::DateTime {
    let at = at.to_offset(time::UtcOffset::UTC);
    zip::DateTime::from_date_and_time(
        at.year().clamp(1980, 2107) as u16,
        at.month() as u8,
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .unwrap_or_default()
}

/// The printable PDF: the page's content as text, table rows as lines.
pub fn pdf(p: &AccessPackage) -> Vec<u8> {
    use crate::pdf_text::{Doc, Style};
    let lang = p.language;
    let (title, intro) = title_and_intro(p);
    let mut doc = Doc::new();
    doc.describe(&title, &p.reference);
    doc.line(Style::Title, &title);
    doc.line(Style::Bold, &p.reference);
    doc.line(Style::Text, &intro);
    let identity = identity_lines(p);
    if !identity.is_empty() {
        doc.heading(&label(lang, "about_you"));
        for (k, v) in identity {
            doc.line(Style::Text, &format!("{k}: {v}"));
        }
    }
    let tables = tables(p);
    let table = |doc: &mut Doc, (caption, header, rows): &(String, Vec<String>, Vec<Row>)| {
        doc.heading(caption);
        if rows.is_empty() {
            doc.line(Style::Text, &label(lang, "none"));
        }
        for row in rows {
            let line = header
                .iter()
                .zip(&row.0)
                .map(|(h, v)| format!("{h}: {v}"))
                .collect::<Vec<_>>()
                .join(" · ");
            doc.line(Style::Text, &line);
            doc.gap();
        }
    };
    table(&mut doc, &tables.records);
    if p.kind == PackageKind::Access {
        table(&mut doc, &tables.systems);
        for g in &p.incomplete {
            doc.line(
                Style::Text,
                &i18n::tf(lang, "access_package.incomplete", &[("system", &g.system)]),
            );
        }
        doc.heading(&label(lang, "activities_heading"));
        for a in p.granted() {
            doc.line(
                Style::Bold,
                &format!("{} ({})", a.name, i18n::t(lang, &a.outcome.label_key())),
            );
            doc.line(Style::Text, &a.motivation);
            for f in &a.facts {
                doc.line(Style::Bold, &f.label);
                for t in &f.text {
                    doc.line(Style::Text, t);
                }
            }
            doc.gap();
        }
        table(&mut doc, &tables.log);
    }
    let refused: Vec<&ActivityPart> = p.refused().collect();
    if !refused.is_empty() {
        doc.heading(&label(lang, "refused_heading"));
        for a in refused {
            doc.line(Style::Bold, &a.name);
            doc.line(Style::Text, &a.motivation);
        }
    }
    if p.kind == PackageKind::Access {
        doc.heading(&label(lang, "rights_heading"));
        for f in &p.rights {
            doc.line(Style::Bold, &f.label);
            for t in &f.text {
                doc.line(Style::Text, t);
            }
        }
        doc.heading(&label(lang, "complaint_heading"));
        for c in &p.complaint {
            doc.line(Style::Text, c);
        }
    }
    doc.finish()
}
