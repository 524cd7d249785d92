//! The rules a register must satisfy before kluis accepts it: every reference resolves,
//! every id is unique, consent can be withdrawn, and every retention rule can be computed.
//!
//! What a register may lack and still be accepted (an activity without recipients, say)
//! is reported by the art. 30 completeness check instead, so a DPO can load a register
//! that is still being written.

use std::collections::{HashMap, HashSet};

use crate::legal::{LegalBasis, SupervisoryAuthority};
use crate::register::{AgreementKind, Country, Register};

/// The list of a register an issue is found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Section {
    Controllers,
    Processors,
    Agreements,
    Activities,
}

impl Section {
    pub fn key(self) -> &'static str {
        match self {
            Section::Controllers => "controllers",
            Section::Processors => "processors",
            Section::Agreements => "agreements",
            Section::Activities => "activities",
        }
    }
}

/// Where in the register an issue is: the n-th entry of a section, and the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locator {
    pub section: Section,
    pub index: usize,
    pub field: Option<&'static str>,
}

/// Something wrong with a register, in words a DPO understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub at: Locator,
    pub message: String,
}

/// Checks the whole register; an empty list means it may be loaded.
pub fn validate(register: &Register) -> Vec<Issue> {
    let mut v = Validator { issues: Vec::new() };
    let controllers = v.unique_ids(
        Section::Controllers,
        register.controllers.iter().map(|c| &c.id),
    );
    let processors = v.unique_ids(
        Section::Processors,
        register.processors.iter().map(|p| &p.id),
    );
    let agreements = v.unique_ids(
        Section::Agreements,
        register.agreements.iter().map(|a| &a.id),
    );
    v.unique_ids(
        Section::Activities,
        register.activities.iter().map(|a| &a.id),
    );

    for (i, c) in register.controllers.iter().enumerate() {
        let at = |field| Locator {
            section: Section::Controllers,
            index: i,
            field: Some(field),
        };
        if c.name.is_blank() {
            v.push(at("name"), "the controller needs a name".into());
        }
        if !looks_like_email(&c.dpo.email) {
            v.push(
                at("dpo"),
                format!("'{}' is not an e-mail address for the DPO", c.dpo.email),
            );
        }
        match c.supervisory_authorities.first() {
            None => v.push(
                at("supervisory_authorities"),
                "name at least one supervisory authority: citizens must know where to complain"
                    .into(),
            ),
            Some(first) => {
                let fits = match c.address.country {
                    Country::Be => *first != SupervisoryAuthority::Ap,
                    Country::Nl => *first == SupervisoryAuthority::Ap,
                };
                if !fits {
                    v.push(
                        at("supervisory_authorities"),
                        format!(
                            "a controller in {} cannot send complaints to '{first}': use gba or vtc in Belgium, ap in the Netherlands",
                            c.address.country
                        ),
                    );
                }
            }
        }
        if c.rights_contact.is_empty() {
            v.push(
                at("rights_contact"),
                "say how citizens exercise their rights: an e-mail address, a postal address, a web form or a desk".into(),
            );
        }
        for joint in &c.joint_controllers {
            if joint == &c.id {
                v.push(
                    at("joint_controllers"),
                    "a controller cannot be its own joint controller".into(),
                );
            } else if !controllers.contains_key(joint.as_str()) {
                v.push(
                    at("joint_controllers"),
                    format!("joint controller '{joint}' is not in the register"),
                );
            }
        }
    }

    for (i, a) in register.agreements.iter().enumerate() {
        let at = |field| Locator {
            section: Section::Agreements,
            index: i,
            field: Some(field),
        };
        if a.controllers.is_empty() {
            v.push(
                at("controllers"),
                format!(
                    "agreement '{}' names no controller that is party to it",
                    a.id
                ),
            );
        }
        for c in &a.controllers {
            if !controllers.contains_key(c.as_str()) {
                v.push(
                    at("controllers"),
                    format!(
                        "controller '{c}' of agreement '{}' is not in the register",
                        a.id
                    ),
                );
            }
        }
        if let (Some(signed), Some(expires)) = (a.signed_on, a.expires_on)
            && expires < signed
        {
            v.push(
                at("expires_on"),
                format!(
                    "agreement '{}' expires ({expires}) before it was signed ({signed})",
                    a.id
                ),
            );
        }
        match &a.kind {
            AgreementKind::ProcessorAgreement { processor } if !processors.contains_key(processor.as_str()) => {
                v.push(at("kind"), format!("processor '{processor}' of agreement '{}' is not in the register", a.id));
            }
            AgreementKind::DataExchangeProtocol(p) if p.dpo_advice.len() < 2 => v.push(
                at("kind"),
                format!(
                    "protocol '{}' needs the advice of the DPO of both parties (law of 30 July 2018, art. 20 §2)",
                    a.id
                ),
            ),
            _ => {}
        }
    }

    for (i, act) in register.activities.iter().enumerate() {
        let at = |field| Locator {
            section: Section::Activities,
            index: i,
            field: Some(field),
        };
        let id = &act.id;
        if !controllers.contains_key(act.controller.as_str()) {
            v.push(
                at("controller"),
                format!(
                    "controller '{}' of activity '{id}' is not in the register",
                    act.controller
                ),
            );
        }
        if act.name.is_blank() {
            v.push(at("name"), format!("activity '{id}' needs a name"));
        }
        if act.legal_bases.is_empty() {
            v.push(
                at("legal_bases"),
                format!("activity '{id}' needs at least one legal basis of art. 6(1)"),
            );
        }
        let on_consent = act
            .legal_bases
            .iter()
            .any(|b| b.basis == LegalBasis::Consent);
        match (&act.consent, on_consent) {
            (None, true) => v.push(
                at("consent"),
                format!("activity '{id}' rests on consent, so it must say how consent is withdrawn: add consent: {{withdrawal: ...}}"),
            ),
            (Some(terms), true) if terms.withdrawal.is_blank() => v.push(
                at("consent"),
                format!("activity '{id}' must say how consent is withdrawn (withdrawal is empty)"),
            ),
            (Some(_), false) => v.push(
                at("consent"),
                format!("activity '{id}' has consent terms but consent is not among its legal bases"),
            ),
            _ => {}
        }
        for sc in &act.special_categories {
            if !sc.category.is_criminal() && sc.condition.is_none() {
                v.push(
                    at("special_categories"),
                    format!(
                        "special category '{}' in activity '{id}' needs an art. 9(2) condition",
                        sc.category
                    ),
                );
            }
            if sc.category.is_criminal() && sc.reference.as_ref().is_none_or(|r| r.is_blank()) {
                v.push(
                    at("special_categories"),
                    format!("criminal data in activity '{id}' needs the law that allows it (art. 10): add a reference"),
                );
            }
        }
        for p in &act.processors {
            if !processors.contains_key(p.as_str()) {
                v.push(
                    at("processors"),
                    format!("processor '{p}' of activity '{id}' is not in the register"),
                );
            }
        }
        for app in &act.applications {
            if let Some(p) = &app.processor
                && !processors.contains_key(p.as_str())
            {
                v.push(
                    at("applications"),
                    format!(
                        "processor '{p}' of application '{}' is not in the register",
                        app.name
                    ),
                );
            }
        }
        for ag in &act.agreements {
            if !agreements.contains_key(ag.as_str()) {
                v.push(
                    at("agreements"),
                    format!("agreement '{ag}' of activity '{id}' is not in the register"),
                );
            }
        }
        let mut keys = HashSet::new();
        for schedule in &act.retention {
            if !keys.insert(schedule.key.as_str()) {
                v.push(
                    at("retention"),
                    format!(
                        "retention key '{}' is used twice in activity '{id}'",
                        schedule.key
                    ),
                );
            }
            if let Some(a) = &schedule.anonymise {
                let mut kept = HashSet::new();
                for field in &a.keep {
                    if field.trim().is_empty() || !kept.insert(field.as_str()) {
                        v.push(
                            at("retention"),
                            format!(
                                "retention '{}' of activity '{id}' keeps an empty or repeated field when it anonymises: name each field once",
                                schedule.key
                            ),
                        );
                    }
                }
            }
            if let Err(e) = schedule.rule.validate() {
                v.push(
                    at("retention"),
                    format!(
                        "retention '{}' of activity '{id}' cannot be computed: {e}",
                        schedule.key
                    ),
                );
            }
        }
        for t in &act.transfers {
            if is_eea(&t.country) {
                v.push(at("transfers"), format!("{} is in the EEA: a transfer there needs no safeguard, remove it from transfers", t.country));
            }
        }
    }
    v.issues
}

struct Validator {
    issues: Vec<Issue>,
}

impl Validator {
    fn push(&mut self, at: Locator, message: String) {
        self.issues.push(Issue { at, message });
    }

    /// Reports malformed and duplicate ids; returns the index of each id's first use.
    fn unique_ids<'a>(
        &mut self,
        section: Section,
        ids: impl Iterator<Item = &'a String>,
    ) -> HashMap<&'a str, usize> {
        let mut seen = HashMap::new();
        for (index, id) in ids.enumerate() {
            let at = Locator {
                section,
                index,
                field: Some("id"),
            };
            if !is_slug(id) {
                self.push(at, format!("id '{id}' may hold only lowercase letters, digits and dashes, and starts with a letter"));
            }
            if let Some(first) = seen.insert(id.as_str(), index) {
                seen.insert(id.as_str(), first);
                self.push(at, format!("id '{id}' is used twice in {}", section.key()));
            }
        }
        seen
    }
}

/// A stable identifier: starts with a letter, then lowercase letters, digits and dashes.
pub fn is_slug(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && domain.contains('.') && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// Countries of the European Economic Area, where the GDPR applies and no transfer
/// safeguard is needed.
pub const EEA: [&str; 30] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS", "LI", "NO",
];

pub fn is_eea(country: &str) -> bool {
    EEA.contains(&country.to_ascii_uppercase().as_str())
}
