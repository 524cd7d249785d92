//! What changed between two snapshots of one controller's register, as sentences a
//! citizen can read in the statement's list of changes.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::words::{self, compose, label_list};
use super::{Line, plain_text};
use crate::register::{
    ActivityStatus, Agreement, AgreementKind, Controller, ProcessingActivity, Processor, Register,
    Slug,
};
use crate::text::{Lang, Text};
use crate::vocabulary;

vocabulary! {
    /// An aspect of a processing activity that a citizen would notice changing.
    pub enum ActivityAspect: "activity_aspect" {
        Name = "name",
        Status = "status",
        Purposes = "purposes",
        LegalBases = "legal_bases",
        Consent = "consent",
        DataCategories = "data_categories",
        SpecialCategories = "special_categories",
        SubjectCategories = "subject_categories",
        Sources = "sources",
        Retention = "retention",
        Recipients = "recipients",
        Processors = "processors",
        Applications = "applications",
        Transfers = "transfers",
        Agreements = "agreements",
        AutomatedDecisionMaking = "automated_decision_making",
        SecurityMeasures = "security_measures",
        Dpia = "dpia",
        AdditionalInformation = "additional_information",
    }
}

vocabulary! {
    /// An aspect of the controller that the statement shows.
    pub enum ControllerAspect: "controller_aspect" {
        /// Name, department, enterprise or KvK number, representative.
        Identity = "identity",
        /// Address, e-mail, phone, website.
        Contact = "contact",
        Dpo = "dpo",
        RightsContact = "rights_contact",
        SupervisoryAuthorities = "supervisory_authorities",
        JointControllers = "joint_controllers",
        Introduction = "introduction",
        Cookies = "cookies",
        SecurityMeasures = "security_measures",
        ChangeNotice = "change_notice",
    }
}

/// One change between two versions of a controller's register.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    ActivityAdded {
        activity: Slug,
        name: Text,
    },
    ActivityRemoved {
        activity: Slug,
        name: Text,
    },
    ActivityChanged {
        activity: Slug,
        name: Text,
        aspects: Vec<ActivityAspect>,
    },
    Controller {
        aspect: ControllerAspect,
    },
    ProcessorAdded {
        processor: Slug,
        name: String,
    },
    ProcessorRemoved {
        processor: Slug,
        name: String,
    },
    /// Its country, location or sub-processors changed.
    ProcessorChanged {
        processor: Slug,
        name: String,
    },
    /// A public authorisation, protocol or joint-controller arrangement.
    AgreementAdded {
        agreement: Slug,
        title: Text,
    },
    AgreementRemoved {
        agreement: Slug,
        title: Text,
    },
    AgreementChanged {
        agreement: Slug,
        title: Text,
    },
}

impl Change {
    /// The change as a sentence in `lang` (register text may be in its fallback language).
    pub fn describe(&self, lang: Lang) -> String {
        plain_text(&describe_line(self, lang))
    }
}

/// The change as a line whose pieces carry their language.
pub(super) fn describe_line(change: &Change, lang: Lang) -> Line {
    let name = |t: &Text, id: &str| words::text(t, lang).unwrap_or_else(|| words::words(id, lang));
    let plain = |s: &str| words::words(s, lang);
    match change {
        Change::ActivityAdded { activity, name: n } => compose(
            lang,
            "statement.change.activity_added",
            &[("name", &name(n, activity))],
        ),
        Change::ActivityRemoved { activity, name: n } => compose(
            lang,
            "statement.change.activity_removed",
            &[("name", &name(n, activity))],
        ),
        Change::ActivityChanged {
            activity,
            name: n,
            aspects,
        } => {
            let aspects: Line =
                label_list(lang, ActivityAspect::KIND, aspects.iter().map(|a| a.name()));
            let aspects = lowercase_first(aspects);
            compose(
                lang,
                "statement.change.activity_changed",
                &[("name", &name(n, activity)), ("aspects", &aspects)],
            )
        }
        Change::Controller { aspect } => words::words_cow(
            words::label(lang, "statement.change.controller", aspect.name()),
            lang,
        ),
        Change::ProcessorAdded { name: n, .. } => compose(
            lang,
            "statement.change.processor_added",
            &[("name", &plain(n))],
        ),
        Change::ProcessorRemoved { name: n, .. } => compose(
            lang,
            "statement.change.processor_removed",
            &[("name", &plain(n))],
        ),
        Change::ProcessorChanged { name: n, .. } => compose(
            lang,
            "statement.change.processor_changed",
            &[("name", &plain(n))],
        ),
        Change::AgreementAdded { agreement, title } => compose(
            lang,
            "statement.change.agreement_added",
            &[("title", &name(title, agreement))],
        ),
        Change::AgreementRemoved { agreement, title } => compose(
            lang,
            "statement.change.agreement_removed",
            &[("title", &name(title, agreement))],
        ),
        Change::AgreementChanged { agreement, title } => compose(
            lang,
            "statement.change.agreement_changed",
            &[("title", &name(title, agreement))],
        ),
    }
}

/// Aspects are listed mid-sentence: "gewijzigd: bewaartermijn en ontvangers".
fn lowercase_first(mut line: Line) -> Line {
    if let Some(super::Inline::Text(span)) = line.first_mut() {
        span.text = words::decapitalize(std::mem::take(&mut span.text));
    }
    line
}

/// What changed from `old` to `new`, two snapshots of one controller's register (what
/// [`Register::for_controller`] returns). Draft activities are ignored, so an activity
/// that leaves draft shows as added. Identical snapshots give no changes.
pub fn changes(old: &Register, new: &Register) -> Vec<Change> {
    let mut out = Vec::new();
    for c in &new.controllers {
        if let Some(before) = old.controller(&c.id) {
            out.extend(
                controller_changes(before, c)
                    .into_iter()
                    .map(|aspect| Change::Controller { aspect }),
            );
        }
    }
    activity_changes(old, new, &mut out);
    processor_changes(old, new, &mut out);
    agreement_changes(old, new, &mut out);
    out
}

fn controller_changes(old: &Controller, new: &Controller) -> Vec<ControllerAspect> {
    use ControllerAspect as A;
    let checks = [
        (
            A::Identity,
            old.name != new.name
                || old.department != new.department
                || old.enterprise_number != new.enterprise_number
                || old.kvk_number != new.kvk_number
                || old.representative != new.representative,
        ),
        (
            A::Contact,
            old.address != new.address
                || old.email != new.email
                || old.phone != new.phone
                || old.website != new.website,
        ),
        (A::Dpo, old.dpo != new.dpo),
        (A::RightsContact, old.rights_contact != new.rights_contact),
        (
            A::SupervisoryAuthorities,
            old.supervisory_authorities != new.supervisory_authorities,
        ),
        (
            A::JointControllers,
            old.joint_controllers != new.joint_controllers,
        ),
        (A::Introduction, old.introduction != new.introduction),
        (A::Cookies, old.cookies != new.cookies),
        (
            A::SecurityMeasures,
            old.security_measures != new.security_measures,
        ),
        (A::ChangeNotice, old.change_notice != new.change_notice),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(a, _)| a)
        .collect()
}

fn published(r: &Register) -> impl Iterator<Item = &ProcessingActivity> {
    r.activities
        .iter()
        .filter(|a| a.status != ActivityStatus::Draft)
}

fn activity_changes(old: &Register, new: &Register, out: &mut Vec<Change>) {
    let before: HashMap<&str, &ProcessingActivity> =
        published(old).map(|a| (a.id.as_str(), a)).collect();
    let after: HashMap<&str, &ProcessingActivity> =
        published(new).map(|a| (a.id.as_str(), a)).collect();
    for a in published(new) {
        match before.get(a.id.as_str()) {
            None => out.push(Change::ActivityAdded {
                activity: a.id.clone(),
                name: a.name.clone(),
            }),
            Some(b) => {
                let aspects = activity_aspects(b, a);
                if !aspects.is_empty() {
                    out.push(Change::ActivityChanged {
                        activity: a.id.clone(),
                        name: a.name.clone(),
                        aspects,
                    });
                }
            }
        }
    }
    for b in published(old).filter(|b| !after.contains_key(b.id.as_str())) {
        out.push(Change::ActivityRemoved {
            activity: b.id.clone(),
            name: b.name.clone(),
        });
    }
}

fn activity_aspects(old: &ProcessingActivity, new: &ProcessingActivity) -> Vec<ActivityAspect> {
    use ActivityAspect as A;
    let checks = [
        (A::Name, old.name != new.name),
        (A::Status, old.status != new.status),
        (A::Purposes, old.purposes != new.purposes),
        (A::LegalBases, old.legal_bases != new.legal_bases),
        (A::Consent, old.consent != new.consent),
        (
            A::DataCategories,
            old.data_categories != new.data_categories
                || old.data_description != new.data_description,
        ),
        (
            A::SpecialCategories,
            old.special_categories != new.special_categories,
        ),
        (
            A::SubjectCategories,
            old.subject_categories != new.subject_categories,
        ),
        (A::Sources, old.sources != new.sources),
        (A::Retention, old.retention != new.retention),
        (A::Recipients, old.recipients != new.recipients),
        (A::Processors, old.processors != new.processors),
        (A::Applications, old.applications != new.applications),
        (A::Transfers, old.transfers != new.transfers),
        (A::Agreements, old.agreements != new.agreements),
        (
            A::AutomatedDecisionMaking,
            old.automated_decision_making != new.automated_decision_making,
        ),
        (
            A::SecurityMeasures,
            old.security_measures != new.security_measures,
        ),
        (A::Dpia, old.dpia != new.dpia),
        (
            A::AdditionalInformation,
            old.additional_information != new.additional_information,
        ),
    ];
    checks
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(a, _)| a)
        .collect()
}

fn processor_changes(old: &Register, new: &Register, out: &mut Vec<Change>) {
    let before: HashMap<&str, &Processor> =
        old.processors.iter().map(|p| (p.id.as_str(), p)).collect();
    let after: HashMap<&str, &Processor> =
        new.processors.iter().map(|p| (p.id.as_str(), p)).collect();
    for p in &new.processors {
        let (processor, name) = (p.id.clone(), p.name.clone());
        match before.get(p.id.as_str()) {
            None => out.push(Change::ProcessorAdded { processor, name }),
            Some(b) if *b != p => out.push(Change::ProcessorChanged { processor, name }),
            Some(_) => {}
        }
    }
    for b in old
        .processors
        .iter()
        .filter(|b| !after.contains_key(b.id.as_str()))
    {
        out.push(Change::ProcessorRemoved {
            processor: b.id.clone(),
            name: b.name.clone(),
        });
    }
}

/// Only agreements the statement shows: public, and not processor agreements.
fn shown(r: &Register) -> impl Iterator<Item = &Agreement> {
    r.agreements
        .iter()
        .filter(|a| a.public && !matches!(a.kind, AgreementKind::ProcessorAgreement { .. }))
}

fn agreement_changes(old: &Register, new: &Register, out: &mut Vec<Change>) {
    let before: HashMap<&str, &Agreement> = shown(old).map(|a| (a.id.as_str(), a)).collect();
    let after: HashMap<&str, &Agreement> = shown(new).map(|a| (a.id.as_str(), a)).collect();
    for a in shown(new) {
        let (agreement, title) = (a.id.clone(), a.title.clone());
        match before.get(a.id.as_str()) {
            None => out.push(Change::AgreementAdded { agreement, title }),
            Some(b) if *b != a => out.push(Change::AgreementChanged { agreement, title }),
            Some(_) => {}
        }
    }
    for b in shown(old).filter(|b| !after.contains_key(b.id.as_str())) {
        out.push(Change::AgreementRemoved {
            agreement: b.id.clone(),
            title: b.title.clone(),
        });
    }
}
