//! `kluis request rectify` changes one column of the person's rows in the HR system on
//! PostgreSQL (when TEST_DATABASE_URL is set) and records it with the request.

use kluis_connectors::testing::{hr_map, hr_postgres, people};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
use kluis_store::testing::sqlite_store;

use super::{LIMBURG, caseworker_els, empty_dir, kluis_env, limburg_map, ok, seeding};

const WERVING: &str = "limburg-werving-selectie";

#[tokio::test]
async fn rectification_in_a_connected_system_from_the_command_line() {
    let store = sqlite_store().await;
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let db = store.url().to_string();
    let dir = empty_dir("rectification");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let env = [("KLUIS_SYSTEM_HR_URL", hr.url())];
    let k = |args: &[&str]| kluis_env(&db, &keys, &env, args);
    ok(&k(&["register", "import", LIMBURG]));
    let hr_file = limburg_map(hr_map(), WERVING, &dir);
    ok(&k(&["systems", "add", &hr_file.display().to_string()]));
    let now = time::OffsetDateTime::now_utc();
    caseworker_els(&store, &k, now).await;
    let p = seeding(now);
    let identity = SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Rectification],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: Some(people::AN_EMAIL.parse().unwrap()),
                    postal_address: None,
                    message: "Mijn naam is Peeters-Claes.".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: now.date(),
            },
            |_| None,
            "requester",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();
    let subject = an.id.to_string();
    ok(&k(&[
        "request",
        "verify",
        reference,
        "--as",
        "els",
        "--subject",
        &subject,
    ]));
    let decisions = serde_json::json!([
        {"right": "rectification", "activity": WERVING, "outcome": "granted",
         "motivation": "Uw naam wordt verbeterd."},
    ]);
    let file = dir.join("decisions.json");
    std::fs::write(&file, decisions.to_string()).unwrap();
    ok(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        file.to_str().unwrap(),
    ]));
    let printed = ok(&k(&[
        "request",
        "rectify",
        reference,
        "--system",
        "hr",
        "--table",
        "applicants",
        "--column",
        "last_name",
        "--value",
        "Peeters-Claes",
        "--as",
        "els",
    ]));
    assert!(
        printed.contains("hr: applicants.last_name: 1 of 1 row(s) changed")
            && printed.contains("row id=1: was \"Peeters\""),
        "{printed}"
    );
    assert_eq!(
        hr.scalar("SELECT last_name FROM hr.applicants WHERE first_name = 'An'")
            .await,
        "Peeters-Claes"
    );
    let r = store.rights_request(filed.id).await.unwrap();
    assert!(
        r.timeline.iter().any(|s| s.step == "rectified_in_system"),
        "{:?}",
        r.timeline
    );
    hr.cleanup().await;
    store.cleanup().await;
}
