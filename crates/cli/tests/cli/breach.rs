//! `kluis breach affected`: the people a breach affects, in the vault and in a connected
//! system, counted per table; listed by their identifiers only when they must be told.

use std::collections::BTreeSet;

use kluis_connectors::testing::{hr_map, hr_postgres, people};
use kluis_domain::breach::{BreachFacts, ReportedBy, RiskAssessment, RiskLevel};
use kluis_domain::category::{DataCategory, SubjectCategory};
use kluis_store::testing::sqlite_store;

use super::{LIMBURG, empty_dir, fails, kluis_env, limburg_map, ok};

fn facts(risk: Option<RiskLevel>) -> BreachFacts {
    let now = time::OffsetDateTime::now_utc();
    BreachFacts {
        controller: "limburg".into(),
        detected_at: now - time::Duration::hours(2),
        aware_at: now - time::Duration::hours(1),
        reported_by: ReportedBy::Citizen { contact: None },
        description: "Een export van sollicitanten stond open op een gedeelde schijf.".into(),
        data_categories: [DataCategory::NationalNumber].into(),
        special_categories: BTreeSet::new(),
        subject_categories: [SubjectCategory::Applicants].into(),
        approx_subjects: Some(2),
        approx_records: Some(2),
        consequences: "Rijksregisternummers leesbaar voor collega's.".into(),
        measures_taken: "De export is verwijderd.".into(),
        measures_proposed: String::new(),
        risk: risk.map(|level| RiskAssessment {
            level,
            reasons: "Rijksregisternummers.".into(),
        }),
        closed_at: None,
    }
}

#[tokio::test]
async fn the_people_affected_are_found_in_a_connected_system_from_the_command_line() {
    let store = sqlite_store().await;
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let db = store.url().to_string();
    let dir = empty_dir("breach-affected");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let env = [("KLUIS_SYSTEM_HR_URL", hr.url())];
    let k = |args: &[&str]| kluis_env(&db, &keys, &env, args);
    ok(&k(&["register", "import", LIMBURG]));
    let hr_file = limburg_map(hr_map(), "limburg-werving-selectie", &dir);
    ok(&k(&["systems", "add", &hr_file.display().to_string()]));
    let now = time::OffsetDateTime::now_utc();
    let low = store.create_breach(&facts(None), "dpo", now).await.unwrap();
    let high = store
        .create_breach(&facts(Some(RiskLevel::HighRisk)), "dpo", now)
        .await
        .unwrap();

    // Counted, nobody listed: the risk is not assessed as high.
    let out = ok(&k(&[
        "breach",
        "affected",
        &low.reference(),
        "--category",
        "national_number",
        "--system",
        "hr",
    ]));
    assert!(out.contains("hr: 2 people, 2 rows"), "{out}");
    assert!(out.contains("applicants: 2 rows"), "{out}");
    assert!(out.contains("the people are not listed"), "{out}");
    assert!(!out.contains("85073003328"), "{out}");

    // High risk: listed by their identifiers, one page at a time.
    let out = ok(&k(&[
        "breach",
        "affected",
        &high.reference(),
        "--category",
        "national_number",
        "--limit",
        "1",
    ]));
    assert!(out.contains("national_number 85073003328"), "{out}");
    assert!(out.contains(people::AN_EMAIL), "{out}");
    assert!(out.contains("listed 1 of 2 (at most 1 at a time)"), "{out}");
    let json = ok(&k(&[
        "breach",
        "affected",
        &high.reference(),
        "--category",
        "national_number",
        "--offset",
        "1",
        "--format",
        "json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        json["systems"][0]["listed"][0]["identifiers"]["email"],
        people::BRAM_EMAIL,
        "{json}"
    );

    // No criterion at all is refused.
    let err = fails(&k(&["breach", "affected", &high.reference()]));
    assert!(err.contains("at least one processing activity"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
    hr.cleanup().await;
}
