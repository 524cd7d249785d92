//! `kluis subject restrict|lift-restriction|object` and `kluis record rectify` as staff
//! use them, on SQLite and PostgreSQL.

use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_store::{NewRequest, RequestChange};
use time::macros::date;

use super::{LIMBURG, empty_dir, fails, kluis_keys, ok};

const WERVING: &str = "limburg-werving-selectie";

#[tokio::test]
async fn restriction_objection_and_rectification_from_the_command_line() {
    story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        story(pg).await;
    }
}

async fn story(store: TestStore) {
    let db = store.url().to_string();
    let dir = empty_dir("restriction");
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let now = time::OffsetDateTime::now_utc();
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "hr".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now,
    };
    let identity = SubjectIdentity {
        email: Some("an.peeters@example.be".parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    let record = store
        .add_record(
            &p,
            an.id,
            &RecordInput {
                activity: WERVING.into(),
                schedule: Some("niet-weerhouden".into()),
                category: DataCategory::Education,
                fields: [("diploma".to_string(), serde_json::json!("Master"))].into(),
                source: Some("de kandidaat".into()),
                collected_on: date!(2026 - 03 - 01),
                events: Default::default(),
                provided_by_subject: true,
            },
        )
        .await
        .unwrap();
    let filed = store
        .file_request(
            &NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Restriction, Right::Rectification, Right::Objection],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: identity.email.clone(),
                    postal_address: None,
                    message: "Mijn diploma is fout ingevuld.".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: now.date(),
            },
            |_| None,
            "desk",
            now,
        )
        .await
        .unwrap();
    store
        .change_request(
            filed.id,
            1,
            &RequestChange::VerifyIdentity {
                subject_id: Some(an.id),
            },
            "els",
            now,
        )
        .await
        .unwrap();
    let reference = filed.reference.as_str();
    let subject = an.id.to_string();
    let record_id = record.id.to_string();

    // The request is required.
    let err = fails(&k(&[
        "subject",
        "restrict",
        "--subject-id",
        &subject,
        "--activity",
        WERVING,
    ]));
    assert!(err.contains("--request"), "{err}");

    // Restricted: the person's record shows without its fields.
    let out = ok(&k(&[
        "subject",
        "restrict",
        "--subject-id",
        &subject,
        "--activity",
        WERVING,
        "--request",
        reference,
    ]));
    assert!(
        out.contains("restricted") && out.contains("1 record(s)"),
        "{out}"
    );
    let found = ok(&k(&["subject", "find", "--subject-id", &subject]));
    assert!(found.contains("RESTRICTED"), "{found}");
    assert!(!found.contains("Master"), "{found}");

    // Rectified at the request that restricted it (accuracy contested, art. 18(1)(a)).
    let out = ok(&k(&[
        "record",
        "rectify",
        &record_id,
        "--request",
        reference,
        "--set",
        "diploma=Master in de rechten",
        "--set",
        "jaar=2019",
    ]));
    assert!(
        out.contains("rectified diploma") && out.contains("completed jaar"),
        "{out}"
    );
    let kept = store.rectifications(reference).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].changes["jaar"].new, serde_json::json!(2019));
    // An unknown request changes nothing.
    let err = fails(&k(&[
        "record",
        "rectify",
        &record_id,
        "--request",
        "R-NERGENS",
        "--set",
        "diploma=x",
    ]));
    assert!(err.contains("does not exist"), "{err}");
    let err = fails(&k(&[
        "record",
        "rectify",
        &record_id,
        "--request",
        reference,
        "--set",
        "diploma",
    ]));
    assert!(err.contains("FIELD=VALUE"), "{err}");

    // Lifted once the person was told; the data shows again.
    let today = now.date().to_string();
    let lift = |told_on: &str| {
        k(&[
            "subject",
            "lift-restriction",
            "--subject-id",
            &subject,
            "--activity",
            WERVING,
            "--request",
            reference,
            "--told-on",
            told_on,
            "--reason",
            "diploma nagekeken en verbeterd",
        ])
    };
    let err = fails(&lift(&(now.date() + time::Duration::days(1)).to_string()));
    assert!(err.contains("18(3)"), "{err}");
    let out = ok(&lift(&today));
    assert!(out.contains("lifted"), "{out}");
    let found = ok(&k(&["subject", "find", "--subject-id", &subject]));
    assert!(found.contains("Master in de rechten"), "{found}");

    // An objection, then compelling grounds that override it.
    let object = |extra: &[&str]| {
        let mut args = vec![
            "subject",
            "object",
            "--subject-id",
            &subject,
            "--activity",
            WERVING,
            "--request",
            reference,
        ];
        args.extend_from_slice(extra);
        k(&args)
    };
    let out = ok(&object(&[]));
    assert!(out.contains("stops"), "{out}");
    assert!(store.objections(an.id).await.unwrap()[0].in_force());
    let out = ok(&object(&[
        "--compelling-grounds",
        "lopende aanwervingsprocedure",
    ]));
    assert!(out.contains("continues"), "{out}");
    assert!(!store.objections(an.id).await.unwrap()[0].in_force());
    store.cleanup().await;
}
