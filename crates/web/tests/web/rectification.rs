//! Rectification in a connected system over the API (GDPR art. 16): the HR system on
//! PostgreSQL (TEST_DATABASE_URL) gets An's new family name, the request's timeline and
//! the processing log record where and how much (never the value), the answer gives the
//! old value per row (NULL as null), the request keeps old and new values sealed, and the
//! request's rectification action for HR is done; a further column can still be rectified.
//! Refused (409) until rectification was granted for an activity the system serves; a
//! column the dataset map does not list is 422; a system that cannot be reached is 502;
//! nothing changes or is recorded then.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use kluis_connectors::testing::{hr_map, hr_postgres, people};
use kluis_domain::access::Scope;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::systems::SystemUrls;
use kluis_web::{AppState, Settings, app};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Harness, NOW, letter_from_an, problem};

const WERVING: &str = "limburg-werving-selectie";
const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";
const UNREACHABLE: &str = "postgres://postgres@127.0.0.1:1/nothing";
const LAST_NAME: &str = "SELECT last_name FROM hr.applicants WHERE first_name = 'An'";

fn json_body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

fn settings(url: &str) -> Settings {
    Settings {
        system_urls: SystemUrls(BTreeMap::from([(hr_map().name, url.to_string())])),
        ..Settings::default()
    }
}

#[tokio::test]
async fn rectification_in_a_connected_system_over_the_api() {
    rectification_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        rectification_story(pg).await;
    }
}

async fn rectification_story(store: TestStore) {
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let mut h = Harness::with_settings(store, settings(hr.url())).await;
    h.limburg_with_a_dpo_who_may_read().await;
    // At first HR serves only the newsletter: rectification is granted for recruitment.
    let mut map = hr_map();
    map.activities = vec![NIEUWSBRIEVEN.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();
    let seed = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    };
    let identity = SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = h
        .store
        .record_subject(&seed, WERVING, &identity, &[])
        .await
        .unwrap();

    let filed = h.filed_request(letter_from_an(&["rectification"])).await;
    let one = format!("/api/v1/rights-requests/{}", filed["id"].as_str().unwrap());
    let rectify = format!("{one}/rectifications");
    let body = |column: &str, value: &str| json!({"system": "hr", "table": "applicants", "column": column, "value": value});
    let new_name = body("last_name", "Peeters-Claes");

    // Not verified, then not decided: 409, nothing changed.
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("identity"), "{p}");
    h.request_step(
        &one,
        json!({"change": "verify_identity", "subject_id": an.id}),
        1,
    )
    .await;
    let (s, hd, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("decide"), "{p}");
    let decide = json!({"change": "decide", "decisions": [
        {"right": "rectification", "activity": WERVING, "outcome": "granted",
         "motivation": "Uw naam wordt verbeterd."},
    ]});
    h.request_step(&one, decide, 2).await;

    // Granted for recruitment, but HR serves only the newsletter: 409.
    let (s, hd, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(
        p["detail"].as_str().unwrap().contains("did not grant"),
        "{p}"
    );
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters");
    let mut map = hr_map();
    map.activities = vec![WERVING.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();

    // Bad input: a column the map does not list (the key), an unknown system, a body
    // without a value: 422, nothing changed.
    for bad in [
        body("id", "7"),
        json!({"system": "crm", "table": "applicants", "column": "last_name", "value": "X"}),
        json!({"system": "hr", "table": "applicants", "column": "last_name"}),
    ] {
        let (s, hd, b) = h
            .call(Method::POST, &rectify, &h.dpo, Some(bad.clone()), &[])
            .await;
        problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/rights-requests/{}/rectifications", Uuid::nil()),
            &h.dpo,
            Some(new_name.clone()),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    // HR cannot be reached: 502 with its error, nothing recorded.
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        settings(UNREACHABLE),
    ));
    let (s, hd, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::BAD_GATEWAY);
    assert!(p["detail"].as_str().unwrap().contains("system 'hr'"), "{p}");
    let (_, _, b) = h.call(Method::GET, &one, &h.dpo, None, &[]).await;
    assert!(!b.contains("rectified_in_system"), "{b}");
    assert!(
        h.store
            .raw_bytes("SELECT sealed FROM system_rectifications")
            .await
            .is_empty(),
        "no values kept"
    );
    let action = hr_action(&h, &one).await;
    assert_eq!(action["status"], "pending", "{action:#}");
    let how = action["instruction"].as_str().unwrap_or_default();
    assert!(
        how.contains("kluis request rectify") && how.contains("--system hr"),
        "{action:#}"
    );

    // Reachable: her row changes, the timeline and the log say where, not what.
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        settings(hr.url()),
    ));
    let (s, _, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name.clone()), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let done = json_body(&b);
    assert_eq!(
        (&done["rows"], &done["changed"], &done["activities"]),
        (&json!(1), &json!(1), &json!([WERVING])),
        "{done:#}"
    );
    assert_eq!(
        done["old_values"],
        json!([{"key": {"id": "1"}, "value": "Peeters"}]),
        "{done:#}"
    );
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters-Claes");
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applicants WHERE last_name = 'Peeters-Claes'")
            .await,
        "1",
        "nobody else's row"
    );
    let (_, _, b) = h.call(Method::GET, &one, &h.dpo, None, &[]).await;
    let request = json_body(&b);
    let reference = request["reference"].as_str().unwrap().to_string();
    let step = request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "rectified_in_system")
        .unwrap_or_else(|| panic!("{request:#}"))
        .clone();
    let note = step["note"].as_str().unwrap();
    assert!(
        note.contains("system hr:")
            && note.contains("applicants.last_name")
            && note.contains("1 of 1"),
        "{note}"
    );
    assert!(!note.contains("Claes"), "never the value: {note}");
    let logged = h
        .store
        .log_entries(
            &LogSelector {
                activity: Some(WERVING.into()),
                ..LogSelector::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap();
    let update = logged
        .iter()
        .find(|e| e.entry.action == LogAction::Update && e.entry.system == "hr")
        .unwrap_or_else(|| panic!("no update in hr logged: {logged:#?}"));
    assert_eq!(updates_in_hr(&h).await, 1);
    assert_eq!(update.entry.case_ref.as_deref(), Some(reference.as_str()));
    let ground = update.entry.legal_ground.as_deref().unwrap_or_default();
    assert!(
        ground.contains("art. 16") && ground.contains("applicants.last_name"),
        "{ground}"
    );
    assert!(!format!("{:?}", update.entry).contains("Claes"));
    // Kept with the request, sealed; read back unsealed.
    let kept = h.store.rectifications_in_systems(&reference).await.unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        (
            kept[0].new_value.as_str(),
            kept[0].old_values[0].value.as_deref()
        ),
        ("Peeters-Claes", Some("Peeters"))
    );
    // Granted whole for recruitment: HR's rectification action is done.
    let action = hr_action(&h, &one).await;
    assert_eq!(action["status"], "done", "{action:#}");
    assert_eq!(action["report"]["rectified"][0]["column"], "last_name");

    // A further column after that: her phone, which the system has as NULL.
    hr.execute("UPDATE hr.applicants SET phone = NULL WHERE first_name = 'An'")
        .await;
    let (s, _, b) = h
        .call(
            Method::POST,
            &rectify,
            &h.dpo,
            Some(body("phone", "+32470999999")),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(
        json_body(&b)["old_values"],
        json!([{"key": {"id": "1"}, "value": null}]),
        "{b}"
    );
    assert_eq!(
        hr.scalar("SELECT phone FROM hr.applicants WHERE first_name = 'An'")
            .await,
        "+32470999999"
    );
    assert_eq!(
        h.store
            .rectifications_in_systems(&reference)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(updates_in_hr(&h).await, 2);

    // Again: nothing left to change, recorded as such, no further update logged (reading
    // her identity from the vault to find her is logged as a read).
    let (s, _, b) = h
        .call(Method::POST, &rectify, &h.dpo, Some(new_name), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["changed"], 0, "{b}");
    assert_eq!(json_body(&b)["old_values"], json!([]), "{b}");
    assert_eq!(updates_in_hr(&h).await, 2);
    assert_eq!(
        h.store
            .rectifications_in_systems(&reference)
            .await
            .unwrap()
            .len(),
        2,
        "nothing changed, no values to keep"
    );

    hr.cleanup().await;
    h.store.cleanup().await;
}

/// The request's rectification action for recruitment in HR, as the API shows it.
async fn hr_action(h: &Harness, one: &str) -> Value {
    let (s, _, b) = h
        .call(Method::GET, &format!("{one}/fulfilment"), &h.dpo, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    json_body(&b)["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["right"] == "rectification" && a["target"] == "hr")
        .unwrap_or_else(|| panic!("no rectification action for hr: {b}"))
        .clone()
}

/// The Update entries of recruitment in the HR system in the processing log.
async fn updates_in_hr(h: &Harness) -> usize {
    let logged = h
        .store
        .log_entries(
            &LogSelector {
                activity: Some(WERVING.into()),
                ..LogSelector::default()
            },
            &Scope::All,
            1_000,
        )
        .await
        .unwrap();
    logged
        .iter()
        .filter(|e| e.entry.action == LogAction::Update && e.entry.system == "hr")
        .count()
}
