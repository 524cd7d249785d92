//! `kluis request portability --send-to URL --recipient NAME`: the portability export sent
//! straight to another controller (art. 20(2)), to a real HTTPS endpoint started here whose
//! CA is trusted through `KLUIS_RIGHTS_PORTABILITY_CA_FILE` and whose address, 127.0.0.1,
//! is allowed through `KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS` (internal addresses are
//! refused otherwise); on SQLite and PostgreSQL. With the HR test system (through
//! `KLUIS_SYSTEM_HR_URL`, when TEST_DATABASE_URL is set), the rows An provided there go
//! along.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use kluis_connectors::testing::{hr_map, hr_postgres};
use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{LogAction, LogSelector};
use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::testing::HttpsEndpoint;

use super::{KLUIS, LIMBURG, caseworker_els, empty_dir, fails, ok, seeding};

const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";

#[tokio::test(flavor = "multi_thread")]
async fn portability_sent_from_the_command_line() {
    send_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        send_story(pg).await;
    }
}

/// `kluis` with the database, keys, the extra trusted CA file and 127.0.0.1 allowed.
fn kluis_ca(db: &str, keys: &Path, ca: &Path, args: &[&str]) -> Output {
    kluis_with(db, keys, Some(ca), Some("127.0.0.1"), &[], args)
}

/// `kluis` with the database and keys, `env`, and optionally the extra trusted CA file and
/// the hosts allowed on an internal network.
fn kluis_with(
    db: &str,
    keys: &Path,
    ca: Option<&Path>,
    allowed_hosts: Option<&str>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut command = Command::new(KLUIS);
    command
        .args(args)
        .envs(env.iter().copied())
        .env("KLUIS_DATABASE_URL", db)
        .env("KLUIS_KEYS_FILE", keys)
        .env("KLUIS_LOG", "warn");
    if let Some(ca) = ca {
        command.env("KLUIS_RIGHTS_PORTABILITY_CA_FILE", ca);
    }
    if let Some(hosts) = allowed_hosts {
        command.env("KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS", hosts);
    }
    command.output().expect("kluis runs")
}

async fn disclosures(store: &TestStore, subject: uuid::Uuid, reference: &str) -> usize {
    store
        .log_entries(
            &LogSelector {
                subjects: store.subject_pseudonyms_of(subject).await.unwrap(),
                ..LogSelector::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap()
        .into_iter()
        .filter(|e| {
            e.entry.action == LogAction::Disclose
                && e.entry.case_ref.as_deref() == Some(reference)
                && e.entry.recipient.as_deref() == Some("Stad Gent")
                && e.entry.legal_ground.as_deref() == Some("GDPR art. 20(2)")
        })
        .count()
}

async fn send_story(store: TestStore) {
    let endpoint = HttpsEndpoint::start().await;
    let db = store.url().to_string();
    let dir = empty_dir(&format!("portability-{}", uuid::Uuid::now_v7()));
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let ca = dir.join("partner-ca.pem");
    std::fs::write(&ca, endpoint.ca_pem()).unwrap();
    // The HR system, mapped to the newsletter (on consent) to be searched for it.
    let hr = hr_postgres().await;
    let env: Vec<(&str, &str)> = hr
        .iter()
        .map(|hr| ("KLUIS_SYSTEM_HR_URL", hr.url()))
        .collect();
    let k = |args: &[&str]| kluis_with(&db, &keys, Some(&ca), Some("127.0.0.1"), &env, args);
    ok(&k(&["register", "import", LIMBURG]));
    if hr.is_some() {
        let mut map = hr_map();
        map.activities = vec![NIEUWSBRIEVEN.to_string()];
        store
            .put_system(&map, "test", time::OffsetDateTime::now_utc())
            .await
            .unwrap();
    }
    let now = time::OffsetDateTime::now_utc();
    caseworker_els(&store, &k, now).await;
    let p = seeding(now);
    let identity = SubjectIdentity {
        email: Some("an.peeters@example.be".parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, NIEUWSBRIEVEN, &identity, &[])
        .await
        .unwrap();
    store
        .add_record(
            &p,
            an.id,
            &RecordInput {
                activity: NIEUWSBRIEVEN.into(),
                schedule: None,
                category: DataCategory::Contact,
                fields: BTreeMap::from([(
                    "nieuwsbrief_email".to_string(),
                    serde_json::json!("an.peeters@example.be"),
                )]),
                source: None,
                collected_on: now.date(),
                events: BTreeMap::new(),
                provided_by_subject: true,
            },
        )
        .await
        .unwrap();
    let filed = store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Portability],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: identity.email.clone(),
                    postal_address: None,
                    message: "Stuur mijn gegevens naar Stad Gent.".into(),
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
    let inbox = endpoint.url("/inbox");
    let send = |url: &str| {
        k(&[
            "request",
            "portability",
            reference,
            "--send-to",
            url,
            "--recipient",
            "Stad Gent",
            "--as",
            "els",
        ])
    };
    let timeline = || async {
        store
            .rights_request(filed.id)
            .await
            .unwrap()
            .timeline
            .into_iter()
            .map(|s| (s.step, s.note.unwrap_or_default()))
            .collect::<Vec<_>>()
    };

    // Before the identity is verified: refused, nothing sent, nothing recorded.
    let head = store.log_head().await.unwrap();
    let steps = timeline().await.len();
    let err = fails(&send(&inbox));
    assert!(err.contains("identity is not verified"), "{err}");
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(store.log_head().await.unwrap(), head, "nothing logged");
    assert_eq!(timeline().await.len(), steps, "nothing on the timeline");
    ok(&k(&[
        "request",
        "verify",
        reference,
        "--as",
        "els",
        "--subject",
        &an.id.to_string(),
    ]));
    let decisions = dir.join("decisions.json");
    std::fs::write(
        &decisions,
        serde_json::json!([
            {"right": "portability", "activity": NIEUWSBRIEVEN, "outcome": "granted",
             "motivation": "U krijgt wat u ons gaf."},
        ])
        .to_string(),
    )
    .unwrap();
    ok(&k(&[
        "request",
        "decide",
        reference,
        "--as",
        "els",
        "--file",
        decisions.to_str().unwrap(),
    ]));
    let steps = steps + 2;

    // Bad input: refused with what is wrong; nothing sent, nothing recorded.
    let head_before_bad = store.log_head().await.unwrap();
    let plain = inbox.replace("https:", "http:");
    let with_password = inbox.replace("https://", "https://gent:geheim@");
    for (args, says) in [
        (
            vec!["--send-to", plain.as_str(), "--recipient", "Stad Gent"],
            "https://",
        ),
        (
            vec![
                "--send-to",
                with_password.as_str(),
                "--recipient",
                "Stad Gent",
            ],
            "password",
        ),
        (
            vec!["--send-to", inbox.as_str(), "--recipient", " "],
            "recipient",
        ),
        (vec!["--send-to", inbox.as_str()], "--recipient"),
        (
            vec![
                "--send-to",
                inbox.as_str(),
                "--recipient",
                "Stad Gent",
                "--format",
                "pdf",
            ],
            "json, csv",
        ),
        (
            vec![
                "--send-to",
                inbox.as_str(),
                "--recipient",
                "Stad Gent",
                "--output",
                "x.json",
            ],
            "cannot be used with",
        ),
    ] {
        let mut all = vec!["request", "portability", reference, "--as", "els"];
        all.extend(&args);
        let err = fails(&k(&all));
        assert!(err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("geheim"), "{err}");
    }
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(store.log_head().await.unwrap(), head_before_bad);
    assert_eq!(timeline().await.len(), steps);

    let send_args = [
        "request",
        "portability",
        reference,
        "--send-to",
        &inbox,
        "--recipient",
        "Stad Gent",
        "--as",
        "els",
    ];
    // Without the allow-list, 127.0.0.1 is internal: refused with what to do, nothing
    // sent, the refusal on the timeline. The same for a name that resolves to loopback.
    let localhost = inbox.replace("127.0.0.1", "localhost");
    for (url, says) in [
        (inbox.as_str(), "127.0.0.1 is a loopback address"),
        (localhost.as_str(), "localhost resolves to "),
    ] {
        let mut args = send_args;
        args[4] = url;
        let err = fails(&kluis_with(&db, &keys, Some(&ca), None, &[], &args));
        assert!(
            err.contains(reference)
                && err.contains(says)
                && err.contains(
                    "add the host to [rights] portability_allowed_hosts if it is a trusted \
                     partner on an internal network"
                ),
            "{err}"
        );
        let (step, note) = timeline().await.pop().unwrap();
        assert_eq!(step, "portability_transmission_failed");
        assert!(note.contains(says), "{note}");
    }
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(disclosures(&store, an.id, reference).await, 0);

    // Without the CA file, the endpoint's certificate is not trusted: not delivered.
    let err = fails(&kluis_with(
        &db,
        &keys,
        None,
        Some("127.0.0.1"),
        &[],
        &send_args,
    ));
    assert!(err.contains("TLS"), "{err}");
    assert!(
        endpoint.received().is_empty(),
        "nothing over an untrusted connection"
    );
    let (step, _) = timeline().await.pop().unwrap();
    assert_eq!(step, "portability_transmission_failed");
    assert_eq!(disclosures(&store, an.id, reference).await, 0);

    // Delivered, with a traceparent; on the timeline and logged as a disclosure.
    let said = ok(&send(&inbox));
    let host = inbox
        .trim_start_matches("https://")
        .trim_end_matches("/inbox");
    assert!(
        said.contains(reference)
            && said.contains(&format!("sent to Stad Gent at {host}: HTTP 201")),
        "{said}"
    );
    let received = endpoint.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.target, "/inbox");
    assert_eq!(got.headers["content-type"], "application/json");
    let traceparent = got.headers["traceparent"].to_str().unwrap();
    assert!(TraceContext::parse(traceparent).is_ok(), "{traceparent}");
    let ported: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(ported["reference"], reference);
    let records = ported["records"].as_array().unwrap();
    assert_eq!(records.len(), 1, "{ported}");
    assert_eq!(
        records[0]["fields"]["nieuwsbrief_email"],
        "an.peeters@example.be"
    );
    // What she provided in the HR system, searched with the configured URL; not the
    // interview note the authority wrote.
    let mut tables: Vec<&str> = ported["system_rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["table"].as_str().unwrap())
        .collect();
    tables.sort();
    tables.dedup();
    let expected: &[&str] = if hr.is_some() {
        &["applicants", "applications", "documents"]
    } else {
        &[]
    };
    assert_eq!(tables, expected, "{ported}");
    assert_eq!(ported["incomplete"], serde_json::json!([]), "{ported}");
    let (step, note) = timeline().await.pop().unwrap();
    assert_eq!(step, "portability_transmitted");
    assert!(
        note.contains("Stad Gent") && note.contains(host) && note.contains("HTTP 201"),
        "{note}"
    );
    assert!(
        note.contains(&format!("{} bytes", got.body.len())),
        "{note}"
    );
    assert_eq!(disclosures(&store, an.id, reference).await, 1);

    // The endpoint does not take it: fails with its answer, recorded, nothing disclosed.
    endpoint.answer_with(500);
    let err = fails(&send(&inbox));
    assert!(err.contains("HTTP 500"), "{err}");
    let (step, note) = timeline().await.pop().unwrap();
    assert_eq!(step, "portability_transmission_failed");
    assert!(note.contains("HTTP 500"), "{note}");
    assert_eq!(disclosures(&store, an.id, reference).await, 1);

    // A CA file that holds no certificate is a configuration error that names it.
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "nothing here\n").unwrap();
    let err = fails(&kluis_ca(
        &db,
        &keys,
        &empty,
        &[
            "request",
            "portability",
            reference,
            "--send-to",
            &inbox,
            "--recipient",
            "X",
            "--as",
            "els",
        ],
    ));
    assert!(err.contains("KLUIS_RIGHTS_PORTABILITY_CA_FILE"), "{err}");
    // `kluis serve` does not start with it either: the mistake shows at start, not at the
    // first transmission.
    let err = fails(&kluis_ca(
        &db,
        &keys,
        &empty,
        &["serve", "--listen", "127.0.0.1:0"],
    ));
    assert!(
        err.contains("KLUIS_RIGHTS_PORTABILITY_CA_FILE") && err.contains("no PEM certificate"),
        "{err}"
    );
    // An allowed host that is a URL is a configuration error too.
    let err = fails(&kluis_with(
        &db,
        &keys,
        None,
        Some("https://partner.example/inbox"),
        &[],
        &send_args,
    ));
    assert!(
        err.contains("KLUIS_RIGHTS_PORTABILITY_ALLOWED_HOSTS") && err.contains("is a URL"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
    if let Some(hr) = hr {
        hr.cleanup().await;
    }
}
