//! The access package (GDPR art. 15) and the portability export (art. 20) of a rights
//! request: what they hold, when they may be made, and their machine-readable renderings
//! (JSON, and CSV with one file per table). Assembling a package from the vault, the
//! connected systems and the processing log is the web layer's; this module decides.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, OffsetDateTime};

use crate::category::DataCategory;
use crate::inventory::SubjectIdentity;
use crate::legal::LegalBasis;
use crate::processing_log::LogAction;
use crate::register::ProcessingActivity;
use crate::rights::{Decision, Outcome, Right, Stage, may_release_data};
use crate::text::Lang;

/// What a package answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// A copy of the data and the facts of its processing (art. 15).
    Access,
    /// The data the person provided, in a machine-readable form (art. 20).
    Portability,
}

impl PackageKind {
    /// The right the package carries out.
    pub fn right(self) -> Right {
        match self {
            PackageKind::Access => Right::Access,
            PackageKind::Portability => Right::Portability,
        }
    }
}

/// Why no package may be made for a request yet: each says what to do first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReleasable {
    #[error(
        "the requester's identity is not verified yet: no personal data leaves kluis before \
         it is (art. 12(6)); verify the identity, then decide"
    )]
    IdentityNotVerified,
    #[error("the request is not decided yet: decide {right} per processing activity first")]
    NotDecided { right: Right },
    #[error("the request does not ask for {right}")]
    NotAsked { right: Right },
    #[error(
        "{right} was refused for every processing activity: there is nothing to release; \
         the closing letter explains the refusal"
    )]
    Refused { right: Right },
    #[error("the request is closed: a closed request releases nothing more")]
    Closed,
}

/// Checks that a package of `kind` may be made for a request at `stage` with `decisions`:
/// the identity verified, the request decided, and the right granted for at least one
/// processing activity ([`may_release_data`] plus a grant of this very right).
pub fn check_release(
    kind: PackageKind,
    stage: Stage,
    asked: &[Right],
    decisions: &[Decision],
) -> Result<(), NotReleasable> {
    let right = kind.right();
    if stage == Stage::Closed {
        return Err(NotReleasable::Closed);
    }
    if stage < Stage::IdentityVerified {
        return Err(NotReleasable::IdentityNotVerified);
    }
    if !asked.contains(&right) {
        return Err(NotReleasable::NotAsked { right });
    }
    if stage < Stage::Decided {
        return Err(NotReleasable::NotDecided { right });
    }
    let grants_this = decisions.iter().any(|d| d.right == right && d.grants());
    if !grants_this || !may_release_data(stage, decisions.iter().any(Decision::grants)) {
        return Err(NotReleasable::Refused { right });
    }
    Ok(())
}

/// The decisions on `right`, split into those that grant (wholly or partly) and those that
/// refuse.
pub fn split_decisions(decisions: &[Decision], right: Right) -> (Vec<&Decision>, Vec<&Decision>) {
    decisions
        .iter()
        .filter(|d| d.right == right)
        .partition(|d| d.grants())
}

/// Whether data of `activity` can be ported at all: only processing on consent or under a
/// contract (art. 20(1)(a)).
pub fn portable_activity(activity: &ProcessingActivity) -> bool {
    activity
        .legal_bases
        .iter()
        .any(|c| matches!(c.basis, LegalBasis::Consent | LegalBasis::Contract))
}

/// One fact about a processing activity, as the privacy statement words it ("Purposes",
/// "How long we keep your data", ...), in the request's language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    pub label: String,
    pub text: Vec<String>,
}

/// What the package says about one processing activity the right was decided for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPart {
    pub id: String,
    pub name: String,
    pub outcome: Outcome,
    /// Why, in the caseworker's words: always given, and the only content of a refusal.
    pub motivation: String,
    /// The art. 15(1)(a)-(h) items: purposes, categories, recipients, retention, source,
    /// automated decisions. Empty when refused.
    #[serde(default)]
    pub facts: Vec<Fact>,
    /// Whether the register says decisions are made solely by automated means (art. 22).
    pub automated_decisions: bool,
}

/// One record of the vault, as the person reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackageRecord {
    pub id: String,
    pub activity: String,
    pub category: DataCategory,
    pub fields: BTreeMap<String, Value>,
    #[serde(default)]
    pub source: Option<String>,
    pub collected_on: Date,
    /// When it is destroyed, or the criterion that decides it, in words.
    pub retention: String,
    pub provided_by_subject: bool,
}

/// One row a connected system holds on the person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemRow {
    pub system: String,
    pub activities: Vec<String>,
    pub table: String,
    /// The row's key, `column=value` joined by commas.
    pub key: String,
    pub fields: BTreeMap<String, Value>,
    pub categories: Vec<DataCategory>,
}

/// A system that could not be searched: the package is incomplete there, and says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemGap {
    pub system: String,
    pub reason: String,
}

/// Who consulted the data, as the processing log has it: the organisation and activity,
/// what was done, which categories, when. Never the staff member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consultation {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub organisation: String,
    pub activity: String,
    pub action: LogAction,
    pub categories: Vec<String>,
    pub system: String,
}

/// An access package or a portability export, everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessPackage {
    pub kind: PackageKind,
    /// The request's reference.
    pub reference: String,
    pub language: Lang,
    /// The controller's name.
    pub controller: String,
    #[serde(with = "time::serde::rfc3339")]
    pub produced_at: OffsetDateTime,
    /// Who the data is about, as the vault or the request knows them.
    #[serde(default)]
    pub identity: Option<SubjectIdentity>,
    pub activities: Vec<ActivityPart>,
    pub records: Vec<PackageRecord>,
    #[serde(default)]
    pub system_rows: Vec<SystemRow>,
    #[serde(default)]
    pub incomplete: Vec<SystemGap>,
    #[serde(default)]
    pub consultations: Vec<Consultation>,
    /// The rights the person has, as the privacy statement explains them.
    #[serde(default)]
    pub rights: Vec<Fact>,
    /// Where to complain: the DPO, and the controller's supervisory authorities.
    #[serde(default)]
    pub complaint: Vec<String>,
}

impl AccessPackage {
    /// The processing activities whose data the package holds.
    pub fn granted(&self) -> impl Iterator<Item = &ActivityPart> {
        self.activities
            .iter()
            .filter(|a| a.outcome != Outcome::Refused)
    }

    /// The refused activities, named with their motivation and nothing else.
    pub fn refused(&self) -> impl Iterator<Item = &ActivityPart> {
        self.activities
            .iter()
            .filter(|a| a.outcome == Outcome::Refused)
    }

    /// The name of an activity as the package shows it.
    pub fn activity_name<'a>(&'a self, id: &'a str) -> &'a str {
        self.activities
            .iter()
            .find(|a| a.id == id)
            .map_or(id, |a| a.name.as_str())
    }

    /// Everything, as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // A package holds only strings, numbers, dates and JSON values: it always encodes.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The package's tables as CSV files: (file name, content). Records and system rows
    /// are written one line per field, so every value has a cell of its own whatever the
    /// record holds.
    pub fn to_csv(&self) -> Vec<(&'static str, String)> {
        let mut files = vec![("records.csv", self.records_csv())];
        if self.kind == PackageKind::Access {
            files.push(("system_rows.csv", self.system_rows_csv()));
            files.push(("log.csv", self.log_csv()));
        }
        files
    }

    /// One line per field of each vault record.
    pub fn records_csv(&self) -> String {
        let mut w = csv_writer();
        let _ = w.write_record(RECORD_COLUMNS);
        for r in &self.records {
            for line in record_lines(r) {
                let _ = w.write_record(&line);
            }
        }
        finish(w)
    }

    /// The portability export as one CSV: the vault's records and the connected systems'
    /// rows in one table, told apart by `system` (`kluis` for the vault, as the processing
    /// log names it; not `source`, which already says where a record came from). One file,
    /// because the export is one machine-readable document that a receiving controller's
    /// endpoint takes as it is; a system row fills the record columns it has (`record` is
    /// its key, `category` its categories, `provided_by_subject` true: only rows of tables
    /// marked so are in it).
    pub fn portability_csv(&self) -> String {
        let mut w = csv_writer();
        let mut header = vec!["system", "table"];
        header.extend(RECORD_COLUMNS);
        let _ = w.write_record(&header);
        for r in &self.records {
            for line in record_lines(r) {
                let _ = w.write_record(
                    ["kluis", ""]
                        .iter()
                        .copied()
                        .chain(line.iter().map(String::as_str)),
                );
            }
        }
        for r in &self.system_rows {
            let activities = r.activities.join(",");
            let categories = r
                .categories
                .iter()
                .map(|c| c.name())
                .collect::<Vec<_>>()
                .join(",");
            for (field, value) in fields_or_none(&r.fields) {
                let _ = w.write_record([
                    r.system.as_str(),
                    r.table.as_str(),
                    r.key.as_str(),
                    activities.as_str(),
                    categories.as_str(),
                    "",
                    "",
                    "",
                    "true",
                    field,
                    cell(value).as_str(),
                ]);
            }
        }
        finish(w)
    }

    /// One line per column of each row in a connected system.
    pub fn system_rows_csv(&self) -> String {
        let mut w = csv_writer();
        let _ = w.write_record(["system", "activities", "table", "key", "field", "value"]);
        for r in &self.system_rows {
            let activities = r.activities.join(",");
            for (field, value) in fields_or_none(&r.fields) {
                let _ = w.write_record([
                    r.system.as_str(),
                    activities.as_str(),
                    r.table.as_str(),
                    r.key.as_str(),
                    field,
                    cell(value).as_str(),
                ]);
            }
        }
        finish(w)
    }

    /// The consultations, one line each.
    pub fn log_csv(&self) -> String {
        let mut w = csv_writer();
        let _ = w.write_record([
            "at",
            "organisation",
            "activity",
            "action",
            "categories",
            "system",
        ]);
        for c in &self.consultations {
            let at =
                c.at.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default();
            let _ = w.write_record([
                at.as_str(),
                c.organisation.as_str(),
                c.activity.as_str(),
                c.action.name(),
                c.categories.join(",").as_str(),
                c.system.as_str(),
            ]);
        }
        finish(w)
    }
}

/// The columns of a vault record's lines.
const RECORD_COLUMNS: [&str; 9] = [
    "record",
    "activity",
    "category",
    "source",
    "collected_on",
    "retention",
    "provided_by_subject",
    "field",
    "value",
];

/// One line per field of a vault record, in [`RECORD_COLUMNS`].
fn record_lines(r: &PackageRecord) -> Vec<[String; 9]> {
    fields_or_none(&r.fields)
        .into_iter()
        .map(|(field, value)| {
            [
                r.id.clone(),
                r.activity.clone(),
                r.category.name().to_string(),
                r.source.clone().unwrap_or_default(),
                r.collected_on.to_string(),
                r.retention.clone(),
                r.provided_by_subject.to_string(),
                field.to_string(),
                cell(value),
            ]
        })
        .collect()
}

fn csv_writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new())
}

fn finish(w: csv::Writer<Vec<u8>>) -> String {
    // Writing to memory does not fail; every cell came from a &str, so the bytes are UTF-8.
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// The fields of a record, or one empty line for a record without fields, so it still
/// shows.
fn fields_or_none(fields: &BTreeMap<String, Value>) -> Vec<(&str, &Value)> {
    if fields.is_empty() {
        vec![("", &Value::Null)]
    } else {
        fields.iter().map(|(k, v)| (k.as_str(), v)).collect()
    }
}

/// A JSON value as a spreadsheet cell: strings as they are, null empty, the rest as JSON.
fn cell(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rights::RefusalGround;
    use time::macros::{date, datetime};

    fn decision(right: Right, activity: &str, outcome: Outcome) -> Decision {
        Decision {
            right,
            activity: activity.into(),
            outcome,
            grounds: if outcome == Outcome::Granted {
                vec![]
            } else {
                vec![RefusalGround::RightsOfOthers]
            },
            motivation: "omdat".into(),
        }
    }

    #[test]
    fn data_leaves_only_after_identity_decision_and_grant() {
        let granted = [decision(Right::Access, "a", Outcome::Granted)];
        let refused = [decision(Right::Access, "a", Outcome::Refused)];
        let access = PackageKind::Access;
        let asked = [Right::Access];
        for stage in [
            Stage::Received,
            Stage::Acknowledged,
            Stage::IdentityRequested,
        ] {
            assert_eq!(
                check_release(access, stage, &asked, &granted),
                Err(NotReleasable::IdentityNotVerified)
            );
        }
        assert_eq!(
            check_release(access, Stage::IdentityVerified, &asked, &[]),
            Err(NotReleasable::NotDecided {
                right: Right::Access
            })
        );
        assert_eq!(
            check_release(access, Stage::Decided, &asked, &refused),
            Err(NotReleasable::Refused {
                right: Right::Access
            })
        );
        assert_eq!(
            check_release(access, Stage::Decided, &asked, &granted),
            Ok(())
        );
        assert_eq!(
            check_release(access, Stage::Fulfilled, &asked, &granted),
            Ok(())
        );
        assert_eq!(
            check_release(access, Stage::Closed, &asked, &granted),
            Err(NotReleasable::Closed)
        );
        // Access granted does not release a portability export that was refused.
        let both = [Right::Access, Right::Portability];
        let mixed = [
            decision(Right::Access, "a", Outcome::Granted),
            decision(Right::Portability, "a", Outcome::Refused),
        ];
        assert!(matches!(
            check_release(PackageKind::Portability, Stage::Decided, &both, &mixed),
            Err(NotReleasable::Refused { .. })
        ));
        assert_eq!(
            check_release(PackageKind::Portability, Stage::Decided, &asked, &granted),
            Err(NotReleasable::NotAsked {
                right: Right::Portability
            })
        );
    }

    #[test]
    fn partly_granted_releases_and_refusals_are_split_off() {
        let decisions = [
            decision(Right::Access, "a", Outcome::PartlyGranted),
            decision(Right::Access, "b", Outcome::Refused),
            decision(Right::Erasure, "c", Outcome::Granted),
        ];
        let (granted, refused) = split_decisions(&decisions, Right::Access);
        assert_eq!(granted.len(), 1);
        assert_eq!(granted[0].activity, "a");
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].activity, "b");
        assert_eq!(
            check_release(
                PackageKind::Access,
                Stage::Decided,
                &[Right::Access, Right::Erasure],
                &decisions
            ),
            Ok(())
        );
    }

    fn package() -> AccessPackage {
        AccessPackage {
            kind: PackageKind::Access,
            reference: "RQ-2026-0001".into(),
            language: Lang::Nl,
            controller: "Stad".into(),
            produced_at: datetime!(2026-11-23 10:00 UTC),
            identity: None,
            activities: vec![],
            records: vec![
                PackageRecord {
                    id: "r1".into(),
                    activity: "werving".into(),
                    category: DataCategory::Identification,
                    fields: BTreeMap::from([
                        ("naam".into(), Value::from("Peeters, \"An\"")),
                        ("leeftijd".into(), Value::from(41)),
                    ]),
                    source: Some("de persoon".into()),
                    collected_on: date!(2026 - 01 - 05),
                    retention: "tot 5 januari 2027".into(),
                    provided_by_subject: true,
                },
                PackageRecord {
                    id: "r2".into(),
                    activity: "werving".into(),
                    category: DataCategory::Contact,
                    fields: BTreeMap::new(),
                    source: None,
                    collected_on: date!(2026 - 01 - 05),
                    retention: "x".into(),
                    provided_by_subject: false,
                },
            ],
            system_rows: vec![],
            incomplete: vec![],
            consultations: vec![Consultation {
                at: datetime!(2026-11-20 09:30 UTC),
                organisation: "stad".into(),
                activity: "werving".into(),
                action: LogAction::Read,
                categories: vec!["identification".into(), "contact".into()],
                system: "kluis".into(),
            }],
            rights: vec![],
            complaint: vec![],
        }
    }

    #[test]
    fn csv_has_one_line_per_field_and_parses_back() {
        let p = package();
        let csv = p.records_csv();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 3, "two fields and one empty record: {csv}");
        let naam = rows.iter().find(|r| &r[7] == "naam").unwrap();
        assert_eq!(&naam[8], "Peeters, \"An\"", "quotes and commas survive");
        assert_eq!(&naam[5], "tot 5 januari 2027");
        let age = rows.iter().find(|r| &r[7] == "leeftijd").unwrap();
        assert_eq!(&age[8], "41");
        let log = p.log_csv();
        let mut reader = csv::Reader::from_reader(log.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][0], "2026-11-20T09:30:00Z");
        assert_eq!(&rows[0][4], "identification,contact");
        assert_eq!(
            p.to_csv().iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            ["records.csv", "system_rows.csv", "log.csv"]
        );
    }

    #[test]
    fn only_consent_and_contract_are_portable() {
        let register = crate::register_file::parse(
            "examples/limburg.yaml",
            include_str!("../../../examples/limburg.yaml"),
        )
        .unwrap();
        let portable = |id: &str| {
            portable_activity(
                register
                    .activities
                    .iter()
                    .find(|a| a.id.as_str() == id)
                    .unwrap(),
            )
        };
        assert!(portable("limburg-werving-selectie"), "contract");
        assert!(portable("limburg-nieuwsbrieven"), "consent");
        assert!(!portable("limburg-boekhouding"), "legal obligation");
        assert!(!portable("limburg-camerabewaking"), "public interest");
    }

    #[test]
    fn json_round_trips() {
        let p = package();
        let back: AccessPackage = serde_json::from_str(&p.to_json()).unwrap();
        assert_eq!(back, p);
    }
}
