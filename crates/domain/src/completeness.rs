//! The art. 30(1) completeness check: what the register must record of each processing
//! activity, and what a given activity still lacks.

use serde::Serialize;

use crate::register::{Controller, ProcessingActivity};
use crate::validate::is_eea;

/// One thing art. 30(1) requires that an activity's record lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "gap", rename_all = "snake_case")]
pub enum Gap {
    /// (a) the controller's name and contact details.
    ControllerContact,
    /// (a) the data protection officer's contact details.
    DpoContact,
    /// (b) the purposes.
    Purposes,
    /// (c) the categories of data subjects.
    SubjectCategories,
    /// (c) the categories of personal data.
    DataCategories,
    /// (d) the recipients: not stated at all (an empty list says "not shared").
    Recipients,
    /// (d)/(e) a recipient outside the EEA without a transfer recorded for its country.
    UnrecordedTransfer { recipient: String, country: String },
    /// (f) the time limits for erasure.
    Retention,
    /// (g) a general description of the security measures.
    SecurityMeasures,
}

impl Gap {
    /// The point of art. 30(1) the gap is about.
    pub fn article(&self) -> &'static str {
        match self {
            Gap::ControllerContact | Gap::DpoContact => "art. 30(1)(a)",
            Gap::Purposes => "art. 30(1)(b)",
            Gap::SubjectCategories | Gap::DataCategories => "art. 30(1)(c)",
            Gap::Recipients => "art. 30(1)(d)",
            Gap::UnrecordedTransfer { .. } => "art. 30(1)(e)",
            Gap::Retention => "art. 30(1)(f)",
            Gap::SecurityMeasures => "art. 30(1)(g)",
        }
    }

    /// The translation key of the gap's explanation.
    pub fn label_key(&self) -> &'static str {
        match self {
            Gap::ControllerContact => "gap.controller_contact",
            Gap::DpoContact => "gap.dpo_contact",
            Gap::Purposes => "gap.purposes",
            Gap::SubjectCategories => "gap.subject_categories",
            Gap::DataCategories => "gap.data_categories",
            Gap::Recipients => "gap.recipients",
            Gap::UnrecordedTransfer { .. } => "gap.unrecorded_transfer",
            Gap::Retention => "gap.retention",
            Gap::SecurityMeasures => "gap.security_measures",
        }
    }
}

/// What the record of `activity` lacks under art. 30(1); `controller` is its controller,
/// when the register has it.
pub fn check(activity: &ProcessingActivity, controller: Option<&Controller>) -> Vec<Gap> {
    let mut gaps = Vec::new();
    match controller {
        Some(c) => {
            if c.email.is_none() && c.phone.is_none() && c.website.is_none() {
                gaps.push(Gap::ControllerContact);
            }
            if c.dpo.email.trim().is_empty() {
                gaps.push(Gap::DpoContact);
            }
        }
        None => gaps.push(Gap::ControllerContact),
    }
    if activity.purposes.iter().all(|p| p.is_blank()) {
        gaps.push(Gap::Purposes);
    }
    if activity.subject_categories.is_empty() {
        gaps.push(Gap::SubjectCategories);
    }
    if activity.data_categories.is_empty() && activity.special_categories.is_empty() {
        gaps.push(Gap::DataCategories);
    }
    match &activity.recipients {
        None => gaps.push(Gap::Recipients),
        Some(recipients) => {
            for r in recipients {
                if let Some(country) = r.country.as_deref().filter(|c| !is_eea(c)) {
                    let recorded = activity
                        .transfers
                        .iter()
                        .any(|t| t.country.eq_ignore_ascii_case(country));
                    if !recorded {
                        gaps.push(Gap::UnrecordedTransfer {
                            recipient: r.name.show(crate::text::Lang::Nl).to_string(),
                            country: country.to_string(),
                        });
                    }
                }
            }
        }
    }
    if activity.retention.is_empty() {
        gaps.push(Gap::Retention);
    }
    let general = controller.is_some_and(|c| !c.security_measures.is_empty());
    if activity.security_measures.is_empty() && !general {
        gaps.push(Gap::SecurityMeasures);
    }
    gaps
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
  - id: foto
    controller: stad
    name: Foto's
    purposes: []
    legal_bases: [{basis: public_interest}]
    data_categories: []
    subject_categories: []
    sources: [data_subject]
    retention: []
  - id: teams
    controller: stad
    name: Opnames
    purposes: [Vergaderingen opnemen]
    legal_bases: [{basis: public_interest}]
    data_categories: [sound_image]
    subject_categories: [participants]
    sources: [data_subject]
    recipients: [{name: Microsoft, kind: processor, country: US}]
    security_measures: [Versleuteling]
    retention: [{key: default, rule: permanent}]
"#;

    #[test]
    fn an_empty_activity_lacks_everything_art_30_names() {
        let r = register_file::parse("r.yaml", REGISTER).unwrap();
        let gaps = check(&r.activities[0], r.controller("stad"));
        assert_eq!(
            gaps,
            vec![
                Gap::Purposes,
                Gap::SubjectCategories,
                Gap::DataCategories,
                Gap::Recipients,
                Gap::Retention,
                Gap::SecurityMeasures
            ]
        );
    }

    #[test]
    fn a_recipient_outside_the_eea_needs_a_transfer() {
        let mut r = register_file::parse("r.yaml", REGISTER).unwrap();
        let gaps = check(&r.activities[1], r.controller("stad"));
        assert_eq!(
            gaps,
            vec![Gap::UnrecordedTransfer {
                recipient: "Microsoft".into(),
                country: "US".into()
            }]
        );
        r.activities[1].transfers.push(crate::register::Transfer {
            recipient: "Microsoft".into(),
            country: "US".into(),
            safeguard: crate::legal::TransferSafeguard::StandardContractualClauses,
            reference: None,
        });
        assert!(check(&r.activities[1], r.controller("stad")).is_empty());
    }

    #[test]
    fn a_missing_controller_is_a_gap() {
        let r = register_file::parse("r.yaml", REGISTER).unwrap();
        assert!(check(&r.activities[1], None).contains(&Gap::ControllerContact));
    }
}
