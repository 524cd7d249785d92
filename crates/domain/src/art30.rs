//! The art. 30 register as the CSV table a supervisory authority asks for: one row per
//! processing activity, one column per point of art. 30(1).

use crate::i18n;
use crate::register::{Register, Source};
use crate::retention::RetentionRule;
use crate::text::{Lang, Text};

/// Column headings, as translation keys: each names the art. 30(1) point it answers.
const COLUMNS: [&str; 19] = [
    "art30.controller",
    "art30.controller_contact",
    "art30.dpo",
    "art30.activity_id",
    "art30.activity",
    "art30.status",
    "art30.purposes",
    "art30.legal_bases",
    "art30.subject_categories",
    "art30.data_categories",
    "art30.special_categories",
    "art30.sources",
    "art30.recipients",
    "art30.processors",
    "art30.transfers",
    "art30.retention",
    "art30.security_measures",
    "art30.dpia",
    "art30.automated_decisions",
];

/// The register as CSV (RFC 4180, UTF-8), labels in `lang`.
pub fn to_csv(register: &Register, lang: Lang) -> Result<String, csv::Error> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(COLUMNS.iter().map(|k| i18n::t(lang, k)))?;
    let t = |text: &Text| text.show(lang).to_string();
    let label = |key: String| i18n::t(lang, &key).to_string();
    for a in &register.activities {
        let controller = register.controller(&a.controller);
        let row = [
            controller
                .map(|c| t(&c.name))
                .unwrap_or_else(|| a.controller.clone()),
            controller
                .map(|c| {
                    let addr = &c.address;
                    let contact = [c.email.clone(), c.phone.clone()]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>()
                        .join(", ");
                    format!(
                        "{}, {} {}; {contact}",
                        addr.street, addr.postcode, addr.city
                    )
                })
                .unwrap_or_default(),
            controller.map(|c| c.dpo.email.clone()).unwrap_or_default(),
            a.id.clone(),
            t(&a.name),
            label(a.status.label_key()),
            join(a.purposes.iter().map(t)),
            join(a.legal_bases.iter().map(|b| {
                let base = format!("{} ({})", label(b.basis.label_key()), b.basis.article());
                match &b.reference {
                    Some(r) => format!("{base}: {}", t(r)),
                    None => base,
                }
            })),
            join(a.subject_categories.iter().map(|c| label(c.label_key()))),
            join(a.data_categories.iter().map(|c| label(c.label_key()))),
            join(a.special_categories.iter().map(|s| match s.condition {
                Some(c) => format!("{} ({})", label(s.category.label_key()), c.dpv()),
                None => label(s.category.label_key()),
            })),
            join(a.sources.iter().map(|s| match s {
                Source::DataSubject => i18n::t(lang, "art30.source_data_subject").to_string(),
                Source::OnlineServices => i18n::t(lang, "art30.source_online").to_string(),
                Source::AuthenticSource(src) => label(src.label_key()),
                Source::OtherAuthority(x) | Source::ThirdParty(x) | Source::PublicSource(x) => t(x),
            })),
            match &a.recipients {
                None => String::new(),
                Some(r) if r.is_empty() => i18n::t(lang, "art30.not_shared").to_string(),
                Some(r) => join(r.iter().map(|r| t(&r.name))),
            },
            join(a.processors.iter().map(|id| {
                register
                    .processor(id)
                    .map_or_else(|| id.clone(), |p| p.name.clone())
            })),
            join(a.transfers.iter().map(|tr| {
                format!(
                    "{} ({}): {} ({})",
                    tr.recipient,
                    tr.country,
                    label(tr.safeguard.label_key()),
                    tr.safeguard.article()
                )
            })),
            join(a.retention.iter().map(|s| {
                let what = s
                    .applies_to
                    .as_ref()
                    .map(|x| format!("{}: ", t(x)))
                    .unwrap_or_default();
                format!("{what}{}", rule_summary(&s.rule, lang))
            })),
            join(
                a.security_measures
                    .iter()
                    .chain(
                        controller
                            .map(|c| c.security_measures.iter())
                            .into_iter()
                            .flatten(),
                    )
                    .map(t),
            ),
            a.dpia
                .as_ref()
                .map(|d| d.reference.clone())
                .unwrap_or_default(),
            i18n::t(
                lang,
                if a.automated_decision_making.is_none() {
                    "art30.no"
                } else {
                    "art30.yes"
                },
            )
            .to_string(),
        ];
        out.write_record(row.iter().map(|cell| defuse(cell)))?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join("; ")
}

/// A rule in a few words, e.g. "30 days after recording".
fn rule_summary(rule: &RetentionRule, lang: Lang) -> String {
    let ev = |e: &crate::retention::RetentionEvent| i18n::t(lang, &e.label_key()).to_string();
    match rule {
        RetentionRule::AfterEvent { event, period } => format!("{period} / {}", ev(event)),
        RetentionRule::UntilAge { age } => {
            i18n::tf(lang, "art30.until_age", &[("age", &age.to_string())])
        }
        RetentionRule::Extendable {
            event,
            period,
            extension,
            max_extensions,
        } => format!("{period} / {} (+{max_extensions} × {extension})", ev(event)),
        RetentionRule::UntilWithdrawal { .. } => {
            i18n::t(lang, "art30.until_withdrawal").to_string()
        }
        RetentionRule::Permanent => i18n::t(lang, "art30.permanent").to_string(),
        RetentionRule::WhileNeeded {
            criterion,
            event,
            maximum,
        } => {
            let base = format!(
                "{}: {}",
                i18n::t(lang, "art30.while_needed"),
                criterion.show(lang)
            );
            match (maximum, event) {
                (Some(p), Some(e)) => format!("{base} (max. {p} / {})", ev(e)),
                _ => base,
            }
        }
        RetentionRule::ArchiveLaw {
            reference,
            period,
            event,
        } => {
            let base = format!(
                "{}: {}",
                i18n::t(lang, "art30.archive_law"),
                reference.show(lang)
            );
            match (period, event) {
                (Some(p), Some(e)) => format!("{base} ({p} / {})", ev(e)),
                _ => base,
            }
        }
    }
}

/// Keeps a spreadsheet from reading a cell as a formula (CSV injection).
fn defuse(cell: &str) -> String {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}"),
        _ => cell.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register_file;

    const REGISTER: &str = r#"
controllers:
  - id: stad
    name: Stad
    address: {street: Markt 1, postcode: "8970", city: Poperinge, country: BE}
    email: info@stad.be
    dpo: {email: dpo@stad.be}
    supervisory_authorities: [vtc]
    rights_contact: {email: privacy@stad.be}
activities:
  - id: camera
    controller: stad
    name: "=HYPERLINK(\"http://evil\")"
    purposes: [Bewaking, "Orde; rust"]
    legal_bases: [{basis: public_interest, reference: Camerawet}]
    data_categories: [sound_image]
    subject_categories: [visitors]
    sources: [data_subject]
    recipients: []
    retention: [{key: beelden, rule: {after_event: {event: recording, period: 30 days}}}]
"#;

    #[test]
    fn one_row_per_activity_with_art_30_columns() {
        let r = register_file::parse("r.yaml", REGISTER).unwrap();
        let csv = to_csv(&r, Lang::En).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let headers = reader.headers().unwrap().clone();
        assert_eq!(headers.len(), COLUMNS.len());
        let rows: Vec<_> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(&row[3], "camera");
        assert!(row[6].contains("Orde; rust"));
        assert!(
            row[7].contains("art. 6(1)(e)") && row[7].contains("Camerawet"),
            "{}",
            &row[7]
        );
        assert!(row[15].contains("30 days"), "{}", &row[15]);
    }

    #[test]
    fn formulas_are_defused() {
        let r = register_file::parse("r.yaml", REGISTER).unwrap();
        let csv = to_csv(&r, Lang::Nl).unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let row = reader.records().next().unwrap().unwrap();
        assert!(row[4].starts_with("'="), "{}", &row[4]);
    }

    #[test]
    fn every_heading_is_translated() {
        for lang in Lang::ALL {
            for key in COLUMNS {
                assert!(i18n::has(lang, key), "{key} missing in {lang}");
            }
        }
    }
}
