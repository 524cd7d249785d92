//! The register as a YAML file ("register as code"): parse with file, line and column in
//! every error, and write back out losslessly.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_saphyr::Spanned;

use crate::register::Register;
use crate::validate::{self, Issue, Section};

/// One thing wrong with a register file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<u64>,
    pub column: Option<u64>,
    pub message: String,
}

/// Why a register file was refused: every problem found, each with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct RegisterFileError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for RegisterFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{} was not loaded: {n} problem{} found, nothing was changed",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        Problem::write_all(f, &self.file, &self.problems)
    }
}

impl Problem {
    /// One line per problem, `file:line:col: message`, as editors and CI logs link them.
    pub fn write_all(f: &mut fmt::Formatter<'_>, file: &str, problems: &[Problem]) -> fmt::Result {
        for p in problems {
            match (p.line, p.column) {
                (Some(l), Some(c)) => writeln!(f, "{file}:{l}:{c}: {}", p.message)?,
                (Some(l), None) => writeln!(f, "{file}:{l}: {}", p.message)?,
                _ => writeln!(f, "{file}: {}", p.message)?,
            }
        }
        Ok(())
    }
}

/// Largest register file accepted; a real register is a few hundred kilobytes.
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;

/// Parses and validates a register file. Nothing is returned unless all of it is valid.
pub fn parse(file: &str, text: &str) -> Result<Register, RegisterFileError> {
    let refuse = |problems| RegisterFileError {
        file: file.to_string(),
        problems,
    };
    if text.len() > MAX_FILE_BYTES {
        return Err(refuse(vec![Problem {
            line: None,
            column: None,
            message: format!(
                "the file is larger than {} MiB; split the register",
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        }]));
    }
    let register: Register = serde_saphyr::from_str(text).map_err(|e| {
        let loc = e.location();
        refuse(vec![Problem {
            line: loc.map(|l| l.line()),
            column: loc.map(|l| l.column()),
            message: plain_message(&e),
        }])
    })?;
    let issues = validate::validate(&register);
    if issues.is_empty() {
        Ok(register)
    } else {
        Err(refuse(locate(text, &issues)))
    }
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

/// Writes the register as YAML that `parse` reads back to the same register.
pub fn to_yaml(register: &Register) -> Result<String, serde_saphyr::ser_error::Error> {
    serde_saphyr::to_string(register)
}

/// Where each entry and field of the register sits in the file, for pointing at issues.
#[derive(Deserialize, Default)]
struct Skeleton {
    #[serde(default)]
    controllers: Vec<Spanned<BTreeMap<String, Spanned<IgnoredAny>>>>,
    #[serde(default)]
    processors: Vec<Spanned<BTreeMap<String, Spanned<IgnoredAny>>>>,
    #[serde(default)]
    agreements: Vec<Spanned<BTreeMap<String, Spanned<IgnoredAny>>>>,
    #[serde(default)]
    activities: Vec<Spanned<BTreeMap<String, Spanned<IgnoredAny>>>>,
}

fn locate(text: &str, issues: &[Issue]) -> Vec<Problem> {
    // The file already parsed as a register, so this lighter parse succeeds too; if it
    // did not, issues are still reported, only without a line.
    let skeleton: Skeleton = serde_saphyr::from_str(text).unwrap_or_default();
    issues
        .iter()
        .map(|issue| {
            let entries = match issue.at.section {
                Section::Controllers => &skeleton.controllers,
                Section::Processors => &skeleton.processors,
                Section::Agreements => &skeleton.agreements,
                Section::Activities => &skeleton.activities,
            };
            let place = entries.get(issue.at.index).map(|entry| {
                issue
                    .at
                    .field
                    .and_then(|f| entry.value.get(f))
                    .map_or(entry.referenced, |field| field.referenced)
            });
            Problem {
                line: place.map(|l| l.line()),
                column: place.map(|l| l.column()),
                message: issue.message.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
controllers:
  - id: stad
    name: Stad Voorbeeld
    address: {street: Grote Markt 1, postcode: "8970", city: Poperinge, country: BE}
    dpo: {email: dpo@voorbeeld.be}
    supervisory_authorities: [vtc, gba]
    rights_contact: {email: privacy@voorbeeld.be}
processors:
  - id: cipal
    name: Cipal Schaubroeck
    country: BE
activities:
  - id: nieuwsbrief
    controller: stad
    name: {nl: Nieuwsbrief, en: Newsletter}
    purposes: [Nieuws van de stad versturen]
    legal_bases: [{basis: consent}]
    consent: {withdrawal: Via de link onderaan elke nieuwsbrief}
    data_categories: [contact]
    subject_categories: [subscribers]
    sources: [data_subject, {authentic_source: rijksregister}, {other_authority: andere overheden}]
    recipients: []
    processors: [cipal]
    retention:
      - key: default
        rule: {until_withdrawal: {}}
  - id: camera
    controller: stad
    name: Camerabewaking
    purposes: [Bescherming van goederen]
    legal_bases: [{basis: public_interest, reference: Camerawet van 21 maart 2007}]
    data_categories: [sound_image]
    subject_categories: [visitors]
    sources: [data_subject]
    retention:
      - key: beelden
        rule: {after_event: {event: recording, period: 30 days}}
        evidence_hold: Langer als bewijs van een misdrijf
"#;

    fn problems(text: &str) -> Vec<Problem> {
        parse("register.yaml", text)
            .expect_err("should be refused")
            .problems
    }

    #[test]
    fn a_valid_register_parses_and_round_trips() {
        let register = parse("register.yaml", MINIMAL).unwrap();
        assert_eq!(register.activities.len(), 2);
        let yaml = to_yaml(&register).unwrap();
        assert_eq!(parse("again.yaml", &yaml).unwrap(), register);
    }

    #[test]
    fn malformed_yaml_names_the_line() {
        let p = problems("controllers:\n  - id: x\n    name: [unclosed\n");
        assert_eq!(p.len(), 1);
        assert!(p[0].line.is_some(), "{p:?}");
    }

    #[test]
    fn unknown_legal_basis_names_the_line_and_the_choices() {
        let text = MINIMAL.replace("basis: public_interest", "basis: public_intrest");
        let p = problems(&text);
        let expected_line = text
            .lines()
            .position(|l| l.contains("public_intrest"))
            .unwrap()
            + 1;
        assert_eq!(p[0].line, Some(expected_line as u64), "{p:?}");
        assert!(p[0].message.contains("public_intrest"), "{}", p[0].message);
    }

    #[test]
    fn unknown_field_is_refused() {
        let text = MINIMAL.replace(
            "    purposes: [Bescherming",
            "    purpose: x\n    purposes: [Bescherming",
        );
        let p = problems(&text);
        assert!(p[0].message.contains("purpose"), "{}", p[0].message);
    }

    #[test]
    fn consent_without_withdrawal_path_points_at_the_activity() {
        let text = MINIMAL.replace(
            "    consent: {withdrawal: Via de link onderaan elke nieuwsbrief}\n",
            "",
        );
        let p = problems(&text);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].message.contains("withdrawn"), "{}", p[0].message);
        let activity_line = text
            .lines()
            .position(|l| l.contains("id: nieuwsbrief"))
            .unwrap()
            + 1;
        assert_eq!(p[0].line, Some(activity_line as u64));
    }

    #[test]
    fn dangling_processor_points_at_the_field() {
        let text = MINIMAL.replace("processors: [cipal]", "processors: [cipall]");
        let p = problems(&text);
        assert!(p[0].message.contains("cipall"));
        let line = text.lines().position(|l| l.contains("[cipall]")).unwrap() + 1;
        assert_eq!(p[0].line, Some(line as u64));
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let text = MINIMAL.replace("id: camera", "id: nieuwsbrief");
        let p = problems(&text);
        assert!(p.iter().any(|p| p.message.contains("used twice")), "{p:?}");
    }

    #[test]
    fn uncomputable_retention_is_refused() {
        let text = MINIMAL.replace("period: 30 days", "period: 900 years");
        assert!(problems(&text)[0].message.contains("cannot be computed"));
        let text = MINIMAL.replace("period: 30 days", "period: thirty days");
        assert!(problems(&text)[0].message.contains("period"));
    }

    #[test]
    fn a_schedule_may_anonymise_keeping_named_fields() {
        let text = MINIMAL.replace(
            "evidence_hold: Langer als bewijs van een misdrijf",
            "evidence_hold: Langer als bewijs van een misdrijf\n        anonymise: {keep: [camera, zone]}",
        );
        let register = parse("register.yaml", &text).unwrap();
        let keep = &register.activities[1].retention[0]
            .anonymise
            .as_ref()
            .expect("anonymised")
            .keep;
        assert_eq!(keep, &["camera", "zone"]);
        assert_eq!(
            parse("again.yaml", &to_yaml(&register).unwrap()).unwrap(),
            register
        );
        let repeated = text.replace("[camera, zone]", "[zone, zone]");
        assert!(
            problems(&repeated)[0]
                .message
                .contains("empty or repeated field"),
            "{:?}",
            problems(&repeated)
        );
    }

    #[test]
    fn the_error_lists_file_line_and_column() {
        let text = MINIMAL.replace("processors: [cipal]", "processors: [cipall]");
        let err = parse("limburg.yaml", &text).unwrap_err().to_string();
        assert!(err.contains("limburg.yaml:"), "{err}");
        assert!(err.contains("nothing was changed"), "{err}");
    }

    proptest::proptest! {
        /// Damaged files are refused with a message, never a panic; what is accepted
        /// round-trips. (`fuzz/` has the coverage-guided version of this.)
        #[test]
        fn damaged_files_are_refused_not_fatal(
            cut in 0usize..2000,
            at in 0usize..2000,
            junk in "[-:{}\\[\\],'\"#&*!|> a-z0-9\n]{0,12}",
        ) {
            let mut text = MINIMAL.to_string();
            let at = floor_char(&text, at.min(text.len()));
            text.insert_str(at, &junk);
            let cut = floor_char(&text, cut.min(text.len()));
            let damaged = &text[..text.len() - cut];
            if let Ok(register) = parse("damaged.yaml", damaged) {
                let yaml = to_yaml(&register).unwrap();
                proptest::prop_assert_eq!(parse("again.yaml", &yaml).unwrap(), register);
            }
        }
    }

    fn floor_char(s: &str, mut i: usize) -> usize {
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    }

    #[test]
    fn examples_are_valid_registers() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "yaml") {
                let text = std::fs::read_to_string(&path).unwrap();
                if let Err(e) = parse(&path.display().to_string(), &text) {
                    panic!("{e}");
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 5, "one example register per seed");
    }
}
