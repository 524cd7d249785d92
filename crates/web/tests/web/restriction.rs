//! Restriction (GDPR art. 18) and objection (art. 21) over the inventory API: a refused
//! change or record answers 409 with the request named; a restricted record is shown
//! without its fields.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::retention::RetentionEvent;
use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{postgres_store, sqlite_store};
use kluis_store::{NewRequest, Processing, RequestChange};
use serde_json::{Value, json};
use time::macros::date;

use super::{Harness, NOW, REGISTER, problem};

#[tokio::test]
async fn restricted_and_objected_processing_is_refused_over_the_api() {
    on_both_backends!(story);
}

fn clip() -> Value {
    json!({
        "activity": "camera",
        "category": "sound_image",
        "fields": {"clip": "cam-3/2026-11-20.mp4"},
        "collected_on": "2026-11-20",
        "events": {"recording": "2026-11-20"},
        "provided_by_subject": false,
    })
}

async fn story(h: Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-001"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let p = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: TraceContext::new_root([1; 16], [2; 8]),
        case_ref: None,
        now: NOW,
    };
    let identity = SubjectIdentity {
        email: Some("an@example.be".parse().unwrap()),
        ..Default::default()
    };
    let (an, _) = h
        .store
        .record_subject(&p, "camera", &identity, &[])
        .await
        .unwrap();
    let record = h
        .store
        .add_record(
            &p,
            an.id,
            &RecordInput {
                activity: "camera".into(),
                schedule: None,
                category: DataCategory::SoundImage,
                fields: BTreeMap::from([("clip".to_string(), json!("cam-3/2026-11-20.mp4"))]),
                source: None,
                collected_on: date!(2026 - 11 - 20),
                events: BTreeMap::from([(RetentionEvent::Recording, date!(2026 - 11 - 20))]),
                provided_by_subject: false,
            },
        )
        .await
        .unwrap();
    let filed = h
        .store
        .file_request(
            &NewRequest {
                controller: "stad".into(),
                rights: vec![Right::Restriction, Right::Objection],
                channel: RequestChannel::Email,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: identity.email.clone(),
                    postal_address: None,
                    message: "Stop met het gebruik van de beelden.".into(),
                },
                language: Lang::Nl,
                received_on: NOW.date(),
            },
            |_| None,
            "desk",
            NOW,
        )
        .await
        .unwrap();
    h.store
        .change_request(
            filed.id,
            1,
            &RequestChange::VerifyIdentity {
                subject_id: Some(an.id),
            },
            "dpo",
            NOW,
        )
        .await
        .unwrap();
    let reference = filed.reference;

    // Restricted: the record shows without its fields, and a change is a 409 naming the
    // request; the record is unchanged.
    h.store
        .restrict(an.id, "camera", &reference, "dpo", NOW)
        .await
        .unwrap();
    let subject_uri = format!("/api/v1/subjects/{}", an.id);
    let (s, _, b) = h.call(Method::GET, &subject_uri, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let body: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(body["records"][0]["fields"], json!({}), "{b}");
    assert!(!b.contains("cam-3"), "{b}");
    let record_uri = format!("/api/v1/records/{}", record.id);
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &record_uri,
            &h.dpo,
            Some(json!({"fields": {"clip": "elders.mp4"}})),
            &[("if-match", "\"1\"")],
        )
        .await;
    let problem_body = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert_eq!(
        problem_body["type"],
        "https://kluis.dev/problems/processing-stopped"
    );
    assert!(
        problem_body["detail"]
            .as_str()
            .unwrap()
            .contains(&reference),
        "{b}"
    );
    h.store
        .lift_restriction(an.id, "camera", NOW.date(), "beelden nagekeken", "dpo", NOW)
        .await
        .unwrap();
    let (s, _, b) = h.call(Method::GET, &subject_uri, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("cam-3"), "lifted: {b}");

    // Objected: a new record is a 409 naming the request, and none is stored.
    h.store
        .record_objection(an.id, "camera", &reference, "dpo", NOW)
        .await
        .unwrap();
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/subjects/{}/records", an.id),
            &h.dpo,
            Some(clip()),
            &[],
        )
        .await;
    let problem_body = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(
        problem_body["detail"]
            .as_str()
            .unwrap()
            .contains(&reference),
        "{b}"
    );
    let (_, _, b) = h.call(Method::GET, &subject_uri, &h.dpo, None, &[]).await;
    let body: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(body["records"].as_array().unwrap().len(), 1, "{b}");
}
