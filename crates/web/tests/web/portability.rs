//! The portability export sent straight to another controller (art. 20(2)) over the API,
//! to a real HTTPS endpoint started here: refused (409) until the identity is verified and
//! portability granted, 422 for a bad endpoint or no recipient (nothing sent, nothing
//! recorded); delivered with the processing's traceparent, on the timeline and logged as a
//! disclosure; an endpoint that does not take it is a 502 and a failed transmission on the
//! timeline, with nothing logged as disclosed. An endpoint on an internal network is refused
//! (422, nothing sent, a failed transmission on the timeline) unless its host is on the
//! allow-list, which the test endpoint on 127.0.0.1 needs; waiting for the endpoint holds
//! no turn at the bulk gate.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use kluis_connectors::testing::{hr_map, hr_postgres, people};
use kluis_domain::access::{Role, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogEntry, LogSelector};
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::portability::parse_allowed_host;
use kluis_web::systems::SystemUrls;
use kluis_web::testing::HttpsEndpoint;
use kluis_web::{AppState, Settings, app};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use time::macros::date;
use uuid::Uuid;

use super::{Harness, NOW, problem};

const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";
const WERVING: &str = "limburg-werving-selectie";
const TRACE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn portability_sent_to_another_controller() {
    transmission_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        transmission_story(pg).await;
    }
}

fn seed() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    }
}

/// An Peeters with her newsletter address (consent, she gave it) and her diploma and an
/// assessment of it (recruitment, contract; the assessment she did not provide).
async fn seed_an(store: &TestStore) -> Uuid {
    let p = seed();
    let identity = SubjectIdentity {
        email: Some(people::AN_EMAIL.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, NIEUWSBRIEVEN, &identity, &[])
        .await
        .unwrap();
    for (activity, schedule, category, field, value, provided) in [
        (
            NIEUWSBRIEVEN,
            None,
            DataCategory::Contact,
            "nieuwsbrief_email",
            people::AN_EMAIL,
            true,
        ),
        (
            WERVING,
            Some("niet-weerhouden"),
            DataCategory::Education,
            "diploma",
            "Master rechten",
            true,
        ),
        (
            WERVING,
            Some("niet-weerhouden"),
            DataCategory::Employment,
            "beoordeling",
            "sterk dossier",
            false,
        ),
    ] {
        store
            .add_record(
                &p,
                an.id,
                &RecordInput {
                    activity: activity.into(),
                    schedule: schedule.map(str::to_string),
                    category,
                    fields: BTreeMap::from([(field.to_string(), json!(value))]),
                    source: None,
                    collected_on: date!(2026 - 10 - 01),
                    events: BTreeMap::new(),
                    provided_by_subject: provided,
                },
            )
            .await
            .unwrap();
    }
    an.id
}

impl Harness {
    /// The request's timeline as (step, note).
    async fn timeline(&self, id: &str) -> Vec<(String, String)> {
        let (s, _, b) = self.get(&format!("/api/v1/rights-requests/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let r: Value = serde_json::from_str(&b).unwrap();
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["step"].as_str().unwrap().to_string(),
                    s["note"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// The disclosures logged for `subject` at request `reference`.
    async fn disclosures(&self, subject: Uuid, reference: &str) -> Vec<LogEntry> {
        self.store
            .log_entries(
                &LogSelector {
                    subjects: self.store.subject_pseudonyms_of(subject).await.unwrap(),
                    ..LogSelector::default()
                },
                &Scope::All,
                10_000,
            )
            .await
            .unwrap()
            .into_iter()
            .filter(|e| {
                e.entry.action == LogAction::Disclose
                    && e.entry.case_ref.as_deref() == Some(reference)
            })
            .collect()
    }
}

async fn transmission_story(store: TestStore) {
    let endpoint = HttpsEndpoint::start().await;
    // The HR system (when TEST_DATABASE_URL is set): what An gave in her applications is
    // sent along.
    let hr = hr_postgres().await;
    let system_urls = hr.as_ref().map_or_else(SystemUrls::default, |hr| {
        SystemUrls(BTreeMap::from([(hr_map().name, hr.url().to_string())]))
    });
    let mut h = Harness::with_settings(
        store,
        Settings {
            system_urls,
            // The endpoint is on 127.0.0.1: reached only because it is allowed.
            portability: allowing(&endpoint, &["127.0.0.1"]),
            // One turn at the bulk gate: a transmission waiting for its endpoint must not
            // hold it.
            bulk_concurrency: 1,
            ..Settings::default()
        },
    )
    .await;
    h.limburg_with_a_dpo_who_may_read().await;
    if hr.is_some() {
        let mut map = hr_map();
        map.activities = vec![WERVING.to_string()];
        h.store.put_system(&map, "test", NOW).await.unwrap();
    }
    let an = seed_an(&h.store).await;
    let filed = h
        .filed_request(json!({
            "controller": "limburg",
            "rights": ["portability"],
            "channel": "letter",
            "requester": {
                "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
                "acting_for": "themselves",
                "email": people::AN_EMAIL,
                "message": "Stuur mijn gegevens naar Stad Gent."
            },
            "received_on": "2026-11-23"
        }))
        .await;
    let id = filed["id"].as_str().unwrap().to_string();
    let reference = filed["reference"].as_str().unwrap().to_string();
    let one = format!("/api/v1/rights-requests/{id}");
    let transmissions = format!("{one}/portability/transmissions");
    let inbox = endpoint.url("/inbox?case=42");
    let send = |body: Value, token: String| {
        let (h, uri) = (&h, transmissions.clone());
        async move {
            h.call(
                Method::POST,
                &uri,
                &token,
                Some(body),
                &[("traceparent", TRACE)],
            )
            .await
        }
    };
    let good = json!({"endpoint": inbox, "recipient": "Stad Gent", "format": "json"});

    // Before the identity is verified: 409, nothing sent, nothing recorded.
    let head = h.store.log_head().await.unwrap();
    let steps = h.timeline(&id).await.len();
    let (s, hd, b) = send(good.clone(), h.dpo.clone()).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("identity"), "{p}");
    h.request_step(
        &one,
        json!({"change": "verify_identity", "subject_id": an}),
        1,
    )
    .await;
    // Verified, not decided: still 409.
    let (s, hd, b) = send(good.clone(), h.dpo.clone()).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("decide"), "{p}");
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");
    let steps = steps + 1; // identity_verified
    assert_eq!(h.timeline(&id).await.len(), steps);

    let decide = json!({"change": "decide", "decisions": [
        {"right": "portability", "activity": NIEUWSBRIEVEN, "outcome": "granted", "motivation": "Uw gegevens."},
        {"right": "portability", "activity": WERVING, "outcome": "granted", "motivation": "Uw gegevens."},
    ]});
    h.request_step(&one, decide, 2).await;
    let steps = steps + 1; // decided

    // Bad input: 422 with what is wrong; nothing sent, nothing recorded.
    let head = h.store.log_head().await.unwrap();
    for (body, says) in [
        (
            json!({"endpoint": endpoint.url("/inbox").replace("https:", "http:"), "recipient": "Stad Gent"}),
            "https://",
        ),
        (
            json!({"endpoint": endpoint.url("/inbox").replace("https://", "https://gent:geheim@"), "recipient": "Stad Gent"}),
            "password",
        ),
        (json!({"endpoint": inbox, "recipient": "  "}), "recipient"),
        (json!({"endpoint": inbox}), "recipient"),
        (json!({"recipient": "Stad Gent"}), "endpoint"),
        (
            json!({"endpoint": "not a url", "recipient": "Stad Gent"}),
            "URL",
        ),
        (
            json!({"endpoint": inbox, "recipient": "Stad Gent", "format": "pdf"}),
            "json, csv",
        ),
    ] {
        let (s, hd, b) = send(body.clone(), h.dpo.clone()).await;
        let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.contains(says), "{body}: {detail}");
        assert!(
            !detail.contains("geheim"),
            "the password is not repeated: {detail}"
        );
    }
    // The same authorisation as the download: a caseworker without a confidentiality
    // statement, an auditor.
    let (s, hd, b) = send(good.clone(), h.caseworker.clone()).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let auditor = h.staff("auditor", Role::Auditor).await;
    let (s, hd, b) = send(good.clone(), auditor).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!(
                "/api/v1/rights-requests/{}/portability/transmissions",
                Uuid::nil()
            ),
            &h.dpo,
            Some(good.clone()),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");
    assert_eq!(
        h.timeline(&id).await.len(),
        steps,
        "nothing on the timeline"
    );

    // Delivered: the export as the download makes it, with the processing's traceparent;
    // the portability part of the fulfilment is then done.
    let id_uuid: Uuid = id.parse().unwrap();
    let planned = h.store.plan_fulfilment(id_uuid, &[]).await.unwrap();
    let portability_done = |status: &kluis_store::FulfilmentStatus| {
        status
            .actions
            .iter()
            .filter(|a| a.right == kluis_domain::rights::Right::Portability)
            .all(|a| a.status == kluis_store::ActionStatus::Done)
    };
    assert!(!portability_done(&planned), "{planned:?}");
    let (s, hd, b) = send(good.clone(), h.dpo.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let status = h.store.fulfilment_status(id_uuid).await.unwrap();
    assert!(portability_done(&status), "{status:?}");
    let sent: Value = serde_json::from_str(&b).unwrap();
    let received = endpoint.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, "/inbox?case=42");
    assert_eq!(got.headers[header::CONTENT_TYPE], "application/json");
    let traceparent = got.headers["traceparent"].to_str().unwrap();
    assert_eq!(
        traceparent,
        hd["traceparent"].to_str().unwrap(),
        "the span kluis worked in"
    );
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "the caller's trace continues: {traceparent}"
    );
    let host = endpoint.url("").trim_start_matches("https://").to_string();
    let sha256 = hex::encode(Sha256::digest(&got.body));
    assert_eq!(
        sent,
        json!({"endpoint_host": host, "recipient": "Stad Gent", "format": "json",
               "bytes": got.body.len(), "sha256": sha256, "status": 201})
    );
    let ported: Value = serde_json::from_slice(&got.body).unwrap();
    let mut fields: Vec<&str> = ported["records"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["fields"].as_object().unwrap().keys().map(String::as_str))
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["diploma", "nieuwsbrief_email"],
        "only what she provided"
    );
    let hr_lines = sent_hr_rows(&ported, hr.is_some());
    let timeline = h.timeline(&id).await;
    assert_eq!(timeline.len(), steps + 1);
    let (step, note) = timeline.last().unwrap();
    assert_eq!(step, "portability_transmitted");
    for part in [
        "Stad Gent",
        host.as_str(),
        "json",
        &format!("{} bytes", got.body.len()),
        &sha256,
        "HTTP 201",
    ] {
        assert!(note.contains(part), "{part} in {note}");
    }
    assert!(!note.contains("inbox"), "the host only: {note}");
    let disclosed = h.disclosures(an, &reference).await;
    let mut activities: Vec<&str> = disclosed
        .iter()
        .map(|e| e.entry.activity.as_str())
        .collect();
    activities.sort();
    assert_eq!(activities, [NIEUWSBRIEVEN, WERVING], "one per activity");
    for e in &disclosed {
        assert_eq!(e.entry.recipient.as_deref(), Some("Stad Gent"));
        assert_eq!(e.entry.legal_ground.as_deref(), Some("GDPR art. 20(2)"));
        assert_eq!(e.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    // What was sent is exactly the download.
    let (s, _, download) = h.get(&format!("{one}/portability?format=json")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(download.as_bytes(), &got.body[..]);

    // CSV too.
    let (s, _, b) = send(
        json!({"endpoint": inbox, "recipient": "Stad Gent", "format": "csv"}),
        h.dpo.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let got = endpoint.received().pop().unwrap();
    assert_eq!(got.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let mut reader = csv::Reader::from_reader(&got.body[..]);
    assert_eq!(reader.records().map(Result::unwrap).count(), 2 + hr_lines);
    let delivered = h.disclosures(an, &reference).await.len();
    assert_eq!(delivered, 4, "two transmissions of two activities");

    // Waiting for the endpoint's answer holds no turn at the bulk gate (one turn here):
    // a download, which needs one, runs while a transmission waits.
    endpoint.hold();
    let before = endpoint.received().len();
    let waiting = send(good.clone(), h.dpo.clone());
    let meanwhile = async {
        while endpoint.received().len() == before {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // A failure guard, not a timing: with the turn held this would wait forever.
        let download = tokio::time::timeout(
            Duration::from_secs(20),
            h.get(&format!("{one}/portability?format=json")),
        )
        .await
        .expect("the download waited for the transmission's turn");
        assert_eq!(download.0, StatusCode::OK, "{}", download.2);
        endpoint.release();
    };
    let ((s, _, b), ()) = tokio::join!(waiting, meanwhile);
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (step, _) = h.timeline(&id).await.pop().unwrap();
    assert_eq!(step, "portability_transmitted");
    let delivered = delivered + 2;
    assert_eq!(h.disclosures(an, &reference).await.len(), delivered);

    // Not taken: the endpoint's error, a redirect (never followed), no connection, a
    // certificate kluis does not trust. 502, a failed transmission on the timeline,
    // nothing disclosed.
    let untrusted = HttpsEndpoint::start().await;
    let cases = [
        (500, inbox.clone(), "HTTP 500 Internal Server Error"),
        (302, inbox.clone(), "redirects are not followed"),
        (
            201,
            "https://127.0.0.1:1/inbox".to_string(),
            "cannot connect",
        ),
        (201, untrusted.url("/inbox"), "TLS"),
    ];
    for (status, url, says) in cases {
        endpoint.answer_with(status);
        let before = endpoint.received().len();
        let (s, hd, b) = send(
            json!({"endpoint": url, "recipient": "Stad Gent"}),
            h.dpo.clone(),
        )
        .await;
        let p = problem(s, &hd, &b, StatusCode::BAD_GATEWAY);
        assert!(p["detail"].as_str().unwrap().contains(says), "{says}: {p}");
        let (step, note) = h.timeline(&id).await.pop().unwrap();
        assert_eq!(step, "portability_transmission_failed", "{says}");
        assert!(note.contains(says) && note.contains("Stad Gent"), "{note}");
        assert_eq!(
            h.disclosures(an, &reference).await.len(),
            delivered,
            "{says}"
        );
        let arrived = endpoint.received().len() - before;
        assert_eq!(
            arrived,
            usize::from(url == inbox),
            "{says}: sent once, not again"
        );
    }
    assert!(
        untrusted.received().is_empty(),
        "no data over an untrusted connection"
    );
    endpoint.answer_with(201);
    internal_endpoints(&mut h, &endpoint, &id, &reference, an).await;
    h.store.cleanup().await;
    if let Some(hr) = hr {
        hr.cleanup().await;
    }
}

/// With the HR system, the sent export holds An's rows of its tables marked
/// provided_by_subject, not her interview note; the number of CSV lines they make.
fn sent_hr_rows(ported: &Value, with_hr: bool) -> usize {
    let rows = ported["system_rows"].as_array().unwrap();
    if !with_hr {
        assert!(rows.is_empty());
        return 0;
    }
    let mut tables: Vec<&str> = rows.iter().map(|r| r["table"].as_str().unwrap()).collect();
    tables.sort();
    tables.dedup();
    assert_eq!(tables, ["applicants", "applications", "documents"]);
    assert!(
        rows.iter()
            .any(|r| r["fields"]["email"] == "An.Peeters@Example.BE"),
        "{rows:?}"
    );
    rows.iter()
        .map(|r| r["fields"].as_object().unwrap().len())
        .sum()
}

/// A transmitter trusting `endpoint`'s certificate that may reach `hosts` although they
/// are internal.
fn allowing(endpoint: &HttpsEndpoint, hosts: &[&str]) -> kluis_web::portability::Transmitter {
    endpoint.transmitter().with_allowed_hosts(
        hosts
            .iter()
            .map(|h| parse_allowed_host(h).unwrap())
            .collect(),
    )
}

/// Request `id` (granted) sent to endpoints on internal networks: refused without the
/// allow-list, with a 422 that says what to do; nothing sent or disclosed, a failed
/// transmission on the timeline. A listed host is reached.
async fn internal_endpoints(
    h: &mut Harness,
    endpoint: &HttpsEndpoint,
    id: &str,
    reference: &str,
    an: Uuid,
) {
    let with = |portability| {
        app(AppState::new(
            (*h.store).clone(),
            std::sync::Arc::new(|| NOW),
            Settings {
                portability,
                ..Settings::default()
            },
        ))
    };
    let (unlisted, listed) = (
        with(endpoint.transmitter()),
        with(allowing(endpoint, &["localhost"])),
    );
    let transmissions = format!("/api/v1/rights-requests/{id}/portability/transmissions");
    let port = endpoint.url("").rsplit(':').next().unwrap().to_string();
    let at = |host: &str| format!("https://{host}:{port}/inbox");
    let received = endpoint.received().len();
    let disclosed = h.disclosures(an, reference).await.len();

    h.app = unlisted;
    for (url, says) in [
        (at("127.0.0.1"), "127.0.0.1 is a loopback address"),
        (at("[::1]"), "[::1] is a loopback address"),
        (at("[::ffff:127.0.0.1]"), "a loopback address"),
        (at("localhost"), "localhost resolves to "),
        (at("10.0.0.5"), "10.0.0.5 is a private address"),
        (
            "https://169.254.169.254/latest/meta-data/".to_string(),
            "169.254.169.254 is a link-local address",
        ),
    ] {
        let (s, hd, b) = h
            .call(
                Method::POST,
                &transmissions,
                &h.dpo,
                Some(json!({"endpoint": url, "recipient": "Stad Gent"})),
                &[],
            )
            .await;
        let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains(says)
                && detail.contains("nothing was sent")
                && detail.contains("add the host to [rights] portability_allowed_hosts"),
            "{url}: {detail}"
        );
        let (step, note) = h.timeline(id).await.pop().unwrap();
        assert_eq!(step, "portability_transmission_failed", "{url}");
        assert!(
            note.contains("Stad Gent") && note.contains(says),
            "{url}: {note}"
        );
    }
    assert_eq!(endpoint.received().len(), received, "nothing sent");
    assert_eq!(h.disclosures(an, reference).await.len(), disclosed);

    // Listed by name: reached; its address, not listed as such, is still refused.
    h.app = listed;
    let (s, _, b) = h
        .call(
            Method::POST,
            &transmissions,
            &h.dpo,
            Some(json!({"endpoint": at("localhost"), "recipient": "Stad Gent"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(endpoint.received().len(), received + 1);
    assert!(h.disclosures(an, reference).await.len() > disclosed);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &transmissions,
            &h.dpo,
            Some(json!({"endpoint": at("127.0.0.1"), "recipient": "Stad Gent"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(endpoint.received().len(), received + 1);
}
