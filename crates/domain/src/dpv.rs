//! The register as W3C Data Privacy Vocabulary (DPV 2) JSON-LD, for tools and authorities
//! that read machine-readable registers.

use serde_json::{Value, json};

use crate::register::{ProcessingActivity, Register, Source};
use crate::retention::{Period, RetentionRule};
use crate::text::{Lang, Text};

const CONTEXT: &str = "urn:kluis:";

/// The whole register as one JSON-LD document with a `@graph`.
pub fn to_json_ld(register: &Register) -> Value {
    let mut graph = Vec::new();
    for c in &register.controllers {
        graph.push(json!({
            "@id": id("controller", &c.id),
            "@type": "dpv:DataController",
            "dct:title": lang_strings(&c.name),
            "dpv:hasAddress": format!("{}, {} {}, {}", c.address.street, c.address.postcode, c.address.city, c.address.country),
            "dpv:hasIdentifier": c.enterprise_number.map(|n| n.to_string()),
            "dpv:hasContact": c.email,
            "dpv:hasDataProtectionOfficer": {"@type": "dpv:DataProtectionOfficer", "dpv:hasContact": c.dpo.email},
            "dpv:hasAuthority": c.supervisory_authorities.iter().map(|a| json!({"@type": "dpv:DataProtectionAuthority", "dct:identifier": a.name(), "foaf:homepage": a.website()})).collect::<Vec<_>>(),
            "dpv:hasJointDataControllers": c.joint_controllers.iter().map(|j| json!({"@id": id("controller", j)})).collect::<Vec<_>>(),
        }));
    }
    for p in &register.processors {
        graph.push(json!({
            "@id": id("processor", &p.id),
            "@type": "dpv:DataProcessor",
            "dct:title": p.name,
            "dpv:hasCountry": p.country,
            "dpv:hasDataSubProcessor": p.sub_processors.iter().map(|s| json!({"@type": "dpv:DataSubProcessor", "dct:title": s.name, "dpv:hasCountry": s.country})).collect::<Vec<_>>(),
        }));
    }
    for a in &register.agreements {
        graph.push(json!({
            "@id": id("agreement", &a.id),
            "@type": match a.kind.name() {
                "processor_agreement" => "dpv:DataProcessingAgreement",
                "joint_controller_arrangement" => "dpv:JointDataControllersAgreement",
                "authorisation" => "dpv:Authorisation",
                _ => "dpv:DataSharingAgreement",
            },
            "dct:title": lang_strings(&a.title),
            "dct:identifier": a.reference,
            "dct:valid": a.expires_on.map(|d| d.to_string()),
            "dct:date": a.signed_on.map(|d| d.to_string()),
        }));
    }
    for a in &register.activities {
        graph.push(activity(a));
    }
    json!({
        "@context": {
            "dpv": "https://w3id.org/dpv#",
            "pd": "https://w3id.org/dpv/pd#",
            "eu-gdpr": "https://w3id.org/dpv/legal/eu/gdpr#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
            "kluis": CONTEXT,
        },
        "@graph": graph,
    })
}

fn activity(a: &ProcessingActivity) -> Value {
    json!({
        "@id": id("activity", &a.id),
        "@type": "dpv:Process",
        "dct:title": lang_strings(&a.name),
        "kluis:status": a.status.name(),
        "dpv:hasDataController": {"@id": id("controller", &a.controller)},
        "dpv:hasPurpose": a.purposes.iter().map(|p| json!({"@type": "dpv:Purpose", "dct:description": lang_strings(p)})).collect::<Vec<_>>(),
        "dpv:hasLegalBasis": a.legal_bases.iter().map(|b| json!({"@id": b.basis.dpv(), "dct:source": b.reference.as_ref().map(lang_strings)})).collect::<Vec<_>>(),
        "dpv:hasPersonalData": a.data_categories.iter().map(|c| json!({"@id": c.dpv()}))
            .chain(a.special_categories.iter().map(|s| json!({"@id": s.category.dpv(), "dpv:hasLegalBasis": s.condition.map(|c| json!({"@id": c.dpv()}))})))
            .collect::<Vec<_>>(),
        "dpv:hasDataSubject": a.subject_categories.iter().map(|s| json!({"@id": s.dpv()})).collect::<Vec<_>>(),
        "dpv:hasDataSource": a.sources.iter().map(source).collect::<Vec<_>>(),
        "dpv:hasRecipient": a.recipients.iter().flatten().map(|r| json!({"@type": "dpv:Recipient", "dct:title": lang_strings(&r.name), "kluis:kind": r.kind.name(), "dpv:hasCountry": r.country})).collect::<Vec<_>>(),
        "dpv:hasDataProcessor": a.processors.iter().map(|p| json!({"@id": id("processor", p)})).collect::<Vec<_>>(),
        "dpv:hasContext": a.agreements.iter().map(|g| json!({"@id": id("agreement", g)})).collect::<Vec<_>>(),
        "dpv:hasThirdCountry": a.transfers.iter().map(|t| json!({"dpv:hasCountry": t.country, "dct:title": t.recipient, "dpv:hasTechnicalOrganisationalMeasure": {"@id": t.safeguard.dpv()}})).collect::<Vec<_>>(),
        "dpv:hasStorageCondition": a.retention.iter().map(|s| json!({"@type": "dpv:StorageDuration", "dct:identifier": s.key, "kluis:rule": retention(&s.rule)})).collect::<Vec<_>>(),
        "dpv:hasTechnicalOrganisationalMeasure": a.security_measures.iter().map(|m| json!({"dct:description": lang_strings(m)})).collect::<Vec<_>>(),
        "dpv:hasImpactAssessment": a.dpia.as_ref().map(|d| json!({"@type": "dpv:DPIA", "dct:identifier": d.reference})),
        "dpv:isAutomated": !a.automated_decision_making.is_none(),
    })
}

fn source(s: &Source) -> Value {
    match s {
        Source::DataSubject => json!({"@id": "dpv:DataSubjectDataSource"}),
        Source::OnlineServices => {
            json!({"@id": "dpv:DataSubjectDataSource", "dct:description": "online services"})
        }
        Source::AuthenticSource(a) => {
            json!({"@id": "dpv:ThirdPartyDataSource", "dct:identifier": a.name()})
        }
        Source::OtherAuthority(t) | Source::ThirdParty(t) => {
            json!({"@id": "dpv:ThirdPartyDataSource", "dct:description": lang_strings(t)})
        }
        Source::PublicSource(t) => {
            json!({"@id": "dpv:PublicDataSource", "dct:description": lang_strings(t)})
        }
    }
}

fn retention(rule: &RetentionRule) -> Value {
    match rule {
        RetentionRule::AfterEvent { event, period } => {
            json!({"kluis:after": event.name(), "rdf:value": iso_duration(period)})
        }
        RetentionRule::UntilAge { age } => json!({"kluis:untilAge": age}),
        RetentionRule::Extendable {
            event,
            period,
            extension,
            max_extensions,
        } => json!({
            "kluis:after": event.name(), "rdf:value": iso_duration(period),
            "kluis:extension": iso_duration(extension), "kluis:maxExtensions": max_extensions,
        }),
        RetentionRule::UntilWithdrawal { grace } => {
            json!({"kluis:untilWithdrawal": true, "kluis:grace": grace.as_ref().map(iso_duration)})
        }
        RetentionRule::Permanent => json!({"kluis:permanent": true}),
        RetentionRule::WhileNeeded {
            criterion,
            event,
            maximum,
        } => json!({
            "kluis:whileNeeded": lang_strings(criterion),
            "kluis:after": event.map(|e| e.name()),
            "rdf:value": maximum.as_ref().map(iso_duration),
        }),
        RetentionRule::ArchiveLaw {
            reference,
            event,
            period,
        } => json!({
            "kluis:archiveLaw": lang_strings(reference),
            "kluis:after": event.map(|e| e.name()),
            "rdf:value": period.as_ref().map(iso_duration),
        }),
    }
}

/// ISO 8601 duration: "P1Y6M", "P30D"; weeks are folded into days so parts never mix W.
pub fn iso_duration(p: &Period) -> String {
    let mut s = String::from("P");
    if p.years > 0 {
        s += &format!("{}Y", p.years);
    }
    if p.months > 0 {
        s += &format!("{}M", p.months);
    }
    let days = u32::from(p.weeks) * 7 + u32::from(p.days);
    if days > 0 || s.len() == 1 {
        s += &format!("{days}D");
    }
    s
}

fn id(kind: &str, slug: &str) -> String {
    format!("kluis:{kind}/{slug}")
}

/// A `Text` as JSON-LD language-tagged strings.
fn lang_strings(t: &Text) -> Value {
    Value::Array(
        t.languages()
            .map(|l: Lang| json!({"@value": t.show(l), "@language": l.code()}))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register_file;

    #[test]
    fn activities_carry_dpv_legal_bases_and_categories() {
        let yaml = r#"
controllers:
  - id: stad
    name: {nl: Stad, en: City}
    address: {street: Markt 1, postcode: "8970", city: Poperinge, country: BE}
    dpo: {email: dpo@stad.be}
    supervisory_authorities: [gba]
    rights_contact: {email: privacy@stad.be}
activities:
  - id: camera
    controller: stad
    name: Camera
    purposes: [Bewaking]
    legal_bases: [{basis: official_authority}]
    data_categories: [sound_image]
    special_categories: [{category: health, condition: vital_interests}]
    subject_categories: [visitors]
    sources: [data_subject]
    retention: [{key: beelden, rule: {after_event: {event: recording, period: 30 days}}}]
"#;
        let r = register_file::parse("r.yaml", yaml).unwrap();
        let doc = to_json_ld(&r);
        let text = doc.to_string();
        assert!(text.contains("eu-gdpr:A6-1-e-official-authority"));
        assert!(text.contains("eu-gdpr:A9-2-c"));
        assert!(text.contains("pd:Image"));
        assert!(text.contains("\"P30D\""));
        assert_eq!(doc["@graph"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["@graph"][0]["dct:title"][1]["@language"], "en");
    }

    #[test]
    fn durations_are_iso_8601() {
        assert_eq!(iso_duration(&Period::days(30)), "P30D");
        assert_eq!(iso_duration(&Period::weeks(4)), "P28D");
        assert_eq!(iso_duration(&"1 year 6 months".parse().unwrap()), "P1Y6M");
        assert_eq!(iso_duration(&Period::default()), "P0D");
    }
}
