//! The retention plan in the back-office: the DPO sees what will be destroyed, held and
//! reviewed; a bad day is a clear error; a caseworker may not look; the DPO approves a
//! destruction list, places and lifts holds and extends a period from the page, bad input
//! and forged forms changing nothing; Chromium and axe-core.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, header};
use kluis_domain::access::Role;
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

/// The test register with a recruitment reserve: kept a year after the procedure,
/// extendable once.
fn register() -> String {
    format!(
        "{REGISTER}  - id: werving
    controller: stad
    name: Werving
    purposes: [Werfreserve bijhouden]
    legal_bases: [{{basis: consent}}]
    consent: {{withdrawal: Via personeel@voorbeeld.be}}
    data_categories: [identification]
    subject_categories: [applicants]
    sources: [data_subject]
    retention:
      - key: reserve
        rule: {{extendable: {{event: end_of_procedure, period: \"1 year\", extension: \"1 year\", max_extensions: 1}}}}
"
    )
}

fn staff_processing() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "bewaking".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: NOW,
    }
}

/// Two camera clips past their deadline, the second held; their ids.
async fn clips(h: &Harness) -> Vec<uuid::Uuid> {
    let (s, _, b) = h.import(&register(), &h.dpo).await;
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
    ids
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

/// The plan separates what is erased from what is anonymised, in the vault per activity
/// and in the connected systems per table, with what the dataset map does to the rows.
async fn systems_plan_story(store: kluis_store::testing::TestStore) {
    use kluis_connectors::testing::{accounting_map, accounting_mariadb, hr_map, hr_postgres};
    let (Some(hr), Some(accounting)) = (hr_postgres().await, accounting_mariadb().await) else {
        store.cleanup().await;
        return;
    };
    let settings = kluis_web::Settings {
        system_urls: kluis_web::systems::SystemUrls(BTreeMap::from([
            ("hr".to_string(), hr.url().to_string()),
            ("accounting".to_string(), accounting.url().to_string()),
            (
                "down".to_string(),
                "postgres://127.0.0.1:1/down".to_string(),
            ),
        ])),
        ..Default::default()
    };
    let h = Harness::with_settings(store, settings).await;
    clips(&h).await;
    let mut down = hr_map();
    down.name = "down".into();
    for mut map in [hr_map(), accounting_map(), down] {
        map.activities = vec!["werving".into()];
        h.store.put_system(&map, "test", NOW).await.unwrap();
    }
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    let (secret, _) = h
        .store
        .create_session(dpo.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let cookie = format!("kluis_session={secret}");
    let (s, b) = get(&h, "/admin/retention?lang=en&until=2026-11-30", &cookie).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let row = |cells: &[&str]| {
        cells
            .iter()
            .map(|c| format!("<td>{c}</td>"))
            .collect::<Vec<_>>()
            .join("\n      ")
    };
    // The camera clip: due and erased (its schedule does not anonymise).
    assert!(b.contains(&row(&["stad", "1", "1", "0"])), "{b}");
    assert!(b.contains("<th scope=\"col\">Anonymised</th>"), "{b}");
    // HR deletes the rejected application and what links to it.
    assert!(
        b.contains(&row(&[
            "applications",
            "werving",
            "1",
            "0",
            "0",
            "0",
            "delete row"
        ])),
        "{b}"
    );
    assert!(
        b.contains(&row(&[
            "documents",
            "werving",
            "1",
            "0",
            "0",
            "0",
            "delete row"
        ])),
        "{b}"
    );
    // Accounting anonymises Dirk and keeps his invoice for the bookkeeping law.
    assert!(
        b.contains(&row(&[
            "suppliers",
            "werving",
            "0",
            "1",
            "0",
            "0",
            "set null: city, postcode, street; mask: email, name, phone; keep: iban, \
             national_number"
        ])),
        "{b}"
    );
    assert!(
        b.contains(&row(&["invoices", "werving", "0", "0", "1", "0"])),
        "{b}"
    );
    // A system that cannot be reached says so; the others are shown.
    assert!(b.contains("down: Cannot say:"), "{b}");
    h.store.cleanup().await;
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn the_plan_shows_what_connected_systems_delete_and_anonymise() {
    systems_plan_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        systems_plan_story(pg).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_retention_page_in_chromium_passes_an_accessibility_audit() {
    if !crate::support::browser::require_browser() {
        return;
    }
    let h = Harness::new(sqlite_store().await).await;
    clips(&h).await;
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    h.store
        .record_confidentiality_statement(dpo.id, NOW.date(), "GEHEIM-1", "test", NOW)
        .await
        .unwrap();
    h.store
        .set_destruction_approval("stad", true, "test", NOW)
        .await
        .unwrap();
    let list = h
        .store
        .create_destruction_list("stad", NOW.date(), "test", NOW)
        .await
        .unwrap();
    // The connected systems' table too, when the test servers are there.
    let hr = kluis_connectors::testing::hr_postgres().await;
    let mut settings = kluis_web::Settings::default();
    if let Some(hr) = &hr {
        let mut map = kluis_connectors::testing::hr_map();
        map.activities = vec!["werving".into()];
        h.store.put_system(&map, "test", NOW).await.unwrap();
        settings.system_urls =
            kluis_web::systems::SystemUrls(BTreeMap::from([("hr".into(), hr.url().into())]));
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = kluis_web::AppState::new((*h.store).clone(), std::sync::Arc::new(|| NOW), settings);
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    let steps = json!([
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "dpo"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": "/admin/retention?lang=en&until=2026-11-30", "expect_status": 200},
        {"expect_text": "camera"},
        {"expect_text": "Connected systems"},
        {"axe": true},
        {"goto": "/admin/retention?lang=en&until=soon", "expect_status": 400},
        {"expect_text": "is not a date"},
        {"axe": true},
        // The DPO's forms: approve the list, a hold refused then placed, lifted, and an
        // extension refused.
        {"goto": "/admin/retention?lang=en", "expect_status": 200},
        {"click": {"role": "button", "name": format!("Approve destruction list {}", list.id)}},
        {"expect_text": "The destruction list is approved"},
        {"axe": true},
        {"select": {"label": "What the hold covers", "value": "case"}},
        {"fill": {"label": "Record, person or case", "value": "x".repeat(101)}},
        {"fill": {"label": "Reason", "value": "PV 2026/200"}},
        {"click": {"role": "button", "name": "Place the hold"}},
        {"expect_text": "Not done:"},
        {"axe": true},
        {"fill": {"label": "Record, person or case", "value": "ZAAK-2026-9"}},
        {"click": {"role": "button", "name": "Place the hold"}},
        {"expect_text": "The legal hold is placed"},
        {"expect_text": "ZAAK-2026-9"},
        {"axe": true},
        {"select": {"label": "Which hold", "value": "A case ZAAK-2026-9 — PV 2026/200"}},
        {"fill": {"label": "Why it is lifted", "value": "Zaak geseponeerd"}},
        {"click": {"role": "button", "name": "Lift the hold"}},
        {"expect_text": "The legal hold is lifted"},
        {"axe": true},
        {"fill": {"label": "Record", "value": "not-a-record"}},
        {"click": {"role": "button", "name": "Extend"}},
        {"expect_text": "Give the id of the record"},
        {"axe": true},
    ]);
    crate::support::browser::run_scenario(&base, steps).unwrap();
    if let Some(hr) = hr {
        hr.cleanup().await;
    }
}

/// A signed-in staff member's cookie and CSRF token.
async fn sign_in(h: &Harness, username: &str) -> (String, String) {
    let user = h.store.user_by_username(username).await.unwrap().unwrap();
    let (secret, session) = h
        .store
        .create_session(user.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    (format!("kluis_session={secret}"), session.csrf_token)
}

async fn post(
    h: &Harness,
    (cookie, csrf): &(String, String),
    fields: &[(&str, &str)],
    with_csrf: bool,
) -> (StatusCode, Option<String>, String) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    if with_csrf {
        form.append_pair("csrf", csrf);
    }
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    let req = h
        .request(Method::POST, "/admin/retention?lang=en", None)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(form.finish()))
        .unwrap();
    let (s, headers, body) = h.send(req).await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (s, location, body)
}

#[tokio::test]
async fn the_dpo_works_on_retention_in_the_back_office() {
    on_both_backends!(actions_story);
}

/// The DPO approves a destruction list, places and lifts a hold and extends a period up
/// to its cap; a form without the CSRF token, from an auditor or from a DPO without a
/// confidentiality statement, or with bad input is refused and changes nothing.
async fn actions_story(h: Harness) {
    let clip_ids = clips(&h).await;
    let p = staff_processing();
    let identity = SubjectIdentity {
        email: Some("kandidaat@example.be".parse().unwrap()),
        ..Default::default()
    };
    let (kandidaat, _) = h
        .store
        .record_subject(&p, "werving", &identity, &[])
        .await
        .unwrap();
    let input = RecordInput {
        activity: "werving".into(),
        schedule: None,
        category: DataCategory::Identification,
        fields: BTreeMap::from([("cv".to_string(), json!("cv.pdf"))]),
        source: None,
        collected_on: date!(2026 - 06 - 01),
        events: BTreeMap::from([(RetentionEvent::EndOfProcedure, date!(2026 - 07 - 01))]),
        provided_by_subject: true,
    };
    let reserve = h
        .store
        .add_record(&p, kandidaat.id, &input)
        .await
        .unwrap()
        .id;
    h.store
        .set_destruction_approval("stad", true, "test", NOW)
        .await
        .unwrap();
    let list = h
        .store
        .create_destruction_list("stad", NOW.date(), "test", NOW)
        .await
        .unwrap();
    assert_eq!(list.records, 1, "the held clip is left out");
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    h.store
        .record_confidentiality_statement(dpo.id, NOW.date(), "GEHEIM-1", "test", NOW)
        .await
        .unwrap();
    h.store
        .create_user(
            "audit",
            "Auditor",
            "a long auditor pw",
            &[Role::Auditor],
            NOW,
        )
        .await
        .unwrap();
    h.store
        .create_user("els", "Els", "a long dpo password", &[Role::Dpo], NOW)
        .await
        .unwrap();
    let dpo_in = sign_in(&h, "dpo").await;
    let auditor_in = sign_in(&h, "audit").await;
    let unsigned_in = sign_in(&h, "els").await;

    // The DPO sees the list to approve, the hold in force and the forms.
    let (s, b) = get(&h, "/admin/retention?lang=en", &dpo_in.0).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for shown in [
        "Destruction lists",
        "waiting for approval",
        "PV 2026/117",
        "Place a legal hold",
        "Lift a legal hold",
        "Extend a retention period",
    ] {
        assert!(b.contains(shown), "{shown}: {b}");
    }
    assert!(
        b.contains(&format!("Approve destruction list {}", list.id)),
        "{b}"
    );
    // The auditor reads, without the forms.
    let (s, b) = get(&h, "/admin/retention?lang=en", &auditor_in.0).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("waiting for approval") && !b.contains("Place a legal hold"));
    let (_, b) = get(&h, "/admin/retention?lang=en", &unsigned_in.0).await;
    assert!(
        b.contains("record your signed confidentiality statement")
            && !b.contains("Place a legal hold"),
        "{b}"
    );

    let list_id = list.id.to_string();
    let second = h
        .store
        .create_destruction_list("stad", NOW.date(), "test", NOW)
        .await
        .unwrap();
    let approve = [("action", "approve"), ("list", list_id.as_str())];
    let holds = || async { h.store.holds(true).await.unwrap() };
    let before_holds = holds().await;
    // Refused, changing nothing: no token, an auditor, a DPO without a statement.
    let (s, _, _) = post(&h, &dpo_in, &approve, false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post(&h, &auditor_in, &approve, true).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post(&h, &unsigned_in, &approve, true).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, b) = post(&h, &dpo_in, &[("action", "approve"), ("list", "x")], true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("role=\"alert\"") && b.contains("Choose a destruction list"));
    assert_eq!(
        h.store.destruction_list(list.id).await.unwrap().state,
        kluis_domain::destruction::ListState::Proposed
    );

    // Approved; a second approval is a conflict.
    let (s, to, b) = post(&h, &dpo_in, &approve, true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().contains("done=approve"));
    let approved = h.store.destruction_list(list.id).await.unwrap();
    assert_eq!(approved.approved_by.as_deref(), Some("dpo"));
    let (s, _, b) = post(&h, &dpo_in, &approve, true).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert!(b.contains("already approved"), "{b}");
    let (_, b) = get(&h, "/admin/retention?lang=en&done=approve", &dpo_in.0).await;
    assert!(b.contains("The destruction list is approved"), "{b}");
    let reject = [
        ("action", "reject"),
        ("list", list_id.as_str()),
        ("reason", "bewijs"),
    ];
    let (s, _, b) = post(&h, &dpo_in, &reject, true).await;
    assert_eq!(
        s,
        StatusCode::CONFLICT,
        "an approved list is not rejected: {b}"
    );

    // The second list (the same records, drawn up before the approval), rejected with a
    // reason; without one, refused.
    {
        let second_id = second.id.to_string();
        let (s, _, b) = post(
            &h,
            &dpo_in,
            &[
                ("action", "reject"),
                ("list", second_id.as_str()),
                ("reason", " "),
            ],
            true,
        )
        .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        let (s, to, b) = post(
            &h,
            &dpo_in,
            &[
                ("action", "reject"),
                ("list", second_id.as_str()),
                ("reason", "bewijs in een dossier"),
            ],
            true,
        )
        .await;
        assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
        assert!(to.unwrap().contains("done=reject"));
        let (_, b) = get(&h, "/admin/retention?lang=en&done=reject", &dpo_in.0).await;
        assert!(b.contains("rejected: bewijs in een dossier"), "{b}");
    }

    // A hold: bad input refused, nothing placed.
    let reserve_id = reserve.to_string();
    let hold = |target: &str, reason: &str, until: &str| {
        vec![
            ("action", "hold".to_string()),
            ("scope", "record".to_string()),
            ("target", target.to_string()),
            ("reason", reason.to_string()),
            ("from", "2026-11-23".to_string()),
            ("until", until.to_string()),
        ]
    };
    let send = |fields: Vec<(&'static str, String)>| {
        let dpo_in = dpo_in.clone();
        let h = &h;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            post(h, &dpo_in, &fields, true).await
        }
    };
    for (fields, expected) in [
        (hold(&reserve_id, " ", ""), "a legal hold needs a reason"),
        (
            hold(&clip_ids[0].to_string().replace('0', "1"), "PV", ""),
            "There is no record",
        ),
        (hold("not-an-id", "PV", ""), "is not a record id"),
        (hold(&reserve_id, "PV", "2026-11-01"), "cannot end"),
        (hold(&reserve_id, "PV", "soon"), "is not a date"),
    ] {
        let (s, _, b) = send(fields).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{expected}: {b}");
        assert!(b.contains(expected), "{expected}: {b}");
        assert!(b.contains("role=\"alert\""), "{b}");
    }
    assert!(
        b_contains_typed(&send(hold(&reserve_id, " ", "")).await.2, &reserve_id),
        "what was typed is shown again"
    );
    assert_eq!(holds().await, before_holds);
    let (s, to, b) = send(hold(&reserve_id, "Geschil 2026/4", "")).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().contains("done=hold"));
    let placed = h
        .store
        .holds(false)
        .await
        .unwrap()
        .into_iter()
        .find(|x| x.target == reserve_id)
        .unwrap();
    assert_eq!(placed.reason, "Geschil 2026/4");
    assert_eq!(placed.placed_by, "dpo");

    // Lifted with a reason; lifting again is a conflict.
    let placed_id = placed.id.to_string();
    let lift = |reason: &str| {
        vec![
            ("action", "lift".to_string()),
            ("hold", placed_id.clone()),
            ("reason", reason.to_string()),
        ]
    };
    let (s, _, b) = send(lift("")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("say why the hold is lifted"), "{b}");
    assert!(h.store.hold(placed.id).await.unwrap().lifted_at.is_none());
    let (s, to, b) = send(lift("Geschil beslecht")).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().contains("done=lift"));
    let lifted = h.store.hold(placed.id).await.unwrap();
    assert_eq!(lifted.lift_reason.as_deref(), Some("Geschil beslecht"));
    let (s, _, b) = send(lift("nog eens")).await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    assert_eq!(h.store.hold(placed.id).await.unwrap(), lifted);

    // Extended once; the cap refuses the second, and a clip is not extendable.
    let extend = |record: &str| {
        vec![
            ("action", "extend".to_string()),
            ("record", record.to_string()),
        ]
    };
    let (s, _, b) = send(extend("x")).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, to, b) = send(extend(&reserve_id)).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().contains("done=extend"));
    let (s, _, b) = send(extend(&reserve_id)).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("already extended 1 times"), "{b}");
    let (s, _, b) = send(extend(&clip_ids[0].to_string())).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, _, b) = send(vec![("action", "sweep".to_string())]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    h.store.cleanup().await;
}

fn b_contains_typed(body: &str, typed: &str) -> bool {
    body.contains(&format!("value=\"{typed}\""))
}
