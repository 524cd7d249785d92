//! The retention plan in the back-office: the DPO sees what will be destroyed, held and
//! reviewed; a bad day is a clear error; a caseworker may not look; Chromium and axe-core.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, header};
use kluis_domain::category::DataCategory;
use kluis_domain::destruction::{HoldScope, NewHold};
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::retention::RetentionEvent;
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::json;
use time::macros::date;

use super::{Harness, NOW, REGISTER};

async fn get(h: &Harness, uri: &str, cookie: &str) -> (StatusCode, String) {
    let req = h
        .request(Method::GET, uri, None)
        .header(header::COOKIE, cookie)
        .body(axum::body::Body::empty())
        .unwrap();
    let (s, _, body) = h.send(req).await;
    (s, body)
}

/// Two camera clips past their deadline, one of them held.
async fn clips(h: &Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let p = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "bewaking".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
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
    let mut ids = Vec::new();
    for recorded in [date!(2026 - 09 - 01), date!(2026 - 09 - 03)] {
        let input = RecordInput {
            activity: "camera".into(),
            schedule: None,
            category: DataCategory::SoundImage,
            fields: BTreeMap::from([("clip".to_string(), serde_json::json!("cam-1.mp4"))]),
            source: None,
            collected_on: recorded,
            events: BTreeMap::from([(RetentionEvent::Recording, recorded)]),
            provided_by_subject: false,
        };
        ids.push(h.store.add_record(&p, an.id, &input).await.unwrap().id);
    }
    h.store
        .place_hold(
            &p,
            &NewHold {
                scope: HoldScope::Record,
                target: ids[1].to_string(),
                reason: "PV 2026/117".into(),
                from: NOW.date(),
                until: None,
            },
        )
        .await
        .unwrap();
}

async fn plan_story(h: Harness) {
    clips(&h).await;
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    let cw = h.store.user_by_username("cw").await.unwrap().unwrap();
    let (dpo_secret, _) = h
        .store
        .create_session(dpo.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let (cw_secret, _) = h
        .store
        .create_session(cw.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let dpo_cookie = format!("kluis_session={dpo_secret}");
    let (s, b) = get(&h, "/admin/retention?lang=en&until=2026-11-30", &dpo_cookie).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("<th scope=\"row\">camera</th>"), "{b}");
    // One to destroy (the earliest deadline 30 days after recording), one held.
    assert!(b.contains("<td>1</td>"), "{b}");
    assert!(b.contains("No sweep has run yet."), "{b}");
    let (s, b) = get(&h, "/admin/retention?lang=nl&until=2026-01-01", &dpo_cookie).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Tot deze dag moet niets vernietigd worden"),
        "{b}"
    );
    let (s, b) = get(&h, "/admin/retention?lang=en&until=soon", &dpo_cookie).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert!(
        b.contains("&#39;soon&#39; is not a date") || b.contains("'soon' is not a date"),
        "{b}"
    );
    assert!(b.contains("aria-invalid=\"true\""), "{b}");
    let (s, _) = get(
        &h,
        "/admin/retention?lang=en",
        &format!("kluis_session={cw_secret}"),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    h.store.cleanup().await;
}

#[tokio::test]
async fn the_dpo_sees_the_retention_plan_in_the_back_office() {
    plan_story(Harness::new(sqlite_store().await).await).await;
    if let Some(pg) = postgres_store().await {
        plan_story(Harness::new(pg).await).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retention_page_in_chromium_passes_an_accessibility_audit() {
    if !crate::support::browser::require_browser() {
        return;
    }
    let h = Harness::new(sqlite_store().await).await;
    clips(&h).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = kluis_web::AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        kluis_web::Settings::default(),
    );
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    let steps = json!([
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "dpo"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": "/admin/retention?lang=en&until=2026-11-30", "expect_status": 200},
        {"expect_text": "camera"},
        {"axe": true},
        {"goto": "/admin/retention?lang=en&until=soon", "expect_status": 400},
        {"expect_text": "is not a date"},
        {"axe": true},
    ]);
    crate::support::browser::run_scenario(&base, steps).unwrap();
}
