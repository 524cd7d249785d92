//! Fulfilment over the API: refused (409, nothing changed) until the identity is verified,
//! the request decided and something granted; then erasure in the vault (granted
//! activities only) and in the connected systems (the HR system on PostgreSQL, the
//! accounting system on MariaDB, when TEST_DATABASE_URL and TEST_MYSQL_URL are set), with
//! consent withdrawal. A system that cannot be reached leaves the request decided with a
//! failed status for that system; a second run after repair completes it without counting
//! anything twice. The recipients are told (art. 19) before the request may close.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode};
use kluis_connectors::testing::{
    TestSystem, accounting_map, accounting_mariadb, hr_map, hr_postgres, people,
};
use kluis_domain::access::Role;
use kluis_domain::category::DataCategory;
use kluis_domain::consent::{ConsentGiven, ConsentMethod, ConsentState};
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::systems::SystemUrls;
use kluis_web::{AppState, Settings, app};
use serde_json::{Value, json};
use time::macros::date;
use uuid::Uuid;

use super::{Harness, NOW, letter_from_an, problem};

const WERVING: &str = "limburg-werving-selectie";
const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";
const BOEKHOUDING: &str = "limburg-boekhouding";
const UNREACHABLE: &str = "postgres://postgres@127.0.0.1:1/nothing";

fn json_body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

fn staff() -> Processing {
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

#[tokio::test]
async fn fulfilment_over_the_api() {
    fulfilment_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        fulfilment_story(pg).await;
    }
}

/// An Peeters in the vault: an application (recruitment), her newsletter subscription
/// with its consent, and a supplier record (accounting).
async fn seed_an(store: &TestStore) -> (Uuid, Uuid) {
    let p = staff();
    let identity = SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (an, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    for (activity, schedule, category) in [
        (WERVING, Some("niet-weerhouden"), DataCategory::Education),
        (WERVING, Some("niet-weerhouden"), DataCategory::Employment),
        (NIEUWSBRIEVEN, None, DataCategory::Contact),
        (BOEKHOUDING, None, DataCategory::Financial),
    ] {
        store
            .add_record(
                &p,
                an.id,
                &RecordInput {
                    activity: activity.into(),
                    schedule: schedule.map(str::to_string),
                    category,
                    fields: BTreeMap::from([("veld".to_string(), json!("waarde"))]),
                    source: None,
                    collected_on: date!(2026 - 10 - 01),
                    events: BTreeMap::new(),
                    provided_by_subject: true,
                },
            )
            .await
            .unwrap();
    }
    let consent = store
        .give_consent(
            &p,
            an.id,
            NIEUWSBRIEVEN,
            &ConsentGiven {
                method: ConsentMethod::WebForm,
                affirmative_act: true,
                notice_text: "Ja, stuur mij de nieuwsbrief.".into(),
                language: Lang::Nl,
                statement_version: None,
                evidence: "formulier 2026-7".into(),
                valid_until: None,
            },
            None,
        )
        .await
        .unwrap();
    (an.id, consent.id)
}

/// Records of An per activity, as the vault holds them.
async fn records(store: &TestStore, an: Uuid) -> BTreeMap<String, usize> {
    let view = store
        .subject(&staff(), an, &kluis_domain::access::Scope::All)
        .await
        .unwrap()
        .unwrap();
    let mut out = BTreeMap::new();
    for r in view.records {
        *out.entry(r.activity).or_default() += 1;
    }
    out
}

fn settings(systems: &Option<(TestSystem, TestSystem)>, hr_up: bool) -> Settings {
    let mut urls = BTreeMap::new();
    if let Some((hr, accounting)) = systems {
        let hr_url = if hr_up { hr.url() } else { UNREACHABLE };
        urls.insert(hr_map().name, hr_url.to_string());
        urls.insert(accounting_map().name, accounting.url().to_string());
    }
    Settings {
        system_urls: SystemUrls(urls),
        ..Settings::default()
    }
}

fn action<'a>(status: &'a Value, right: &str, activity: &str, target: &str) -> &'a Value {
    status["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["right"] == right && a["activity"] == activity && a["target"] == target)
        .unwrap_or_else(|| panic!("no {right}/{activity}/{target}: {status:#}"))
}

async fn fulfilment_story(store: TestStore) {
    let systems = match (hr_postgres().await, accounting_mariadb().await) {
        (Some(hr), Some(accounting)) => Some((hr, accounting)),
        _ => None,
    };
    let mut h = Harness::with_settings(store, settings(&systems, false)).await;
    h.limburg_with_a_dpo_who_may_read().await;
    if systems.is_some() {
        for (mut map, activity) in [(hr_map(), WERVING), (accounting_map(), BOEKHOUDING)] {
            map.activities = vec![activity.to_string()];
            h.store.put_system(&map, "test", NOW).await.unwrap();
        }
    }
    let (an, consent) = seed_an(&h.store).await;

    let filed = h
        .filed_request(letter_from_an(&["erasure", "consent_withdrawal"]))
        .await;
    let one = format!("/api/v1/rights-requests/{}", filed["id"].as_str().unwrap());
    let fulfilment = format!("{one}/fulfilment");
    let changes = format!("{one}/changes");
    let told = format!("{one}/recipients-told");

    // Not verified, then not decided, then everything refused: 409, nothing changed.
    let before = records(&h.store, an).await;
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("identity"), "{p}");
    h.request_step(
        &one,
        json!({"change": "verify_identity", "subject_id": an}),
        1,
    )
    .await;
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("decide"), "{p}");
    let refuse_all = json!({"change": "decide", "decisions": [
        {"right": "erasure", "activity": WERVING, "outcome": "refused",
         "grounds": ["legal_obligation"], "motivation": "Wettelijke bewaarplicht."},
        {"right": "consent_withdrawal", "activity": NIEUWSBRIEVEN, "outcome": "refused",
         "grounds": ["not_applicable"], "motivation": "Geen toestemming."},
    ]});
    h.request_step(&one, refuse_all, 2).await;
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("refused"), "{p}");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");
    assert_eq!(records(&h.store, an).await, before);
    let (s, _, b) = h.call(Method::GET, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["actions"], json!([]), "nothing planned");

    // Erasure granted for recruitment and accounting (as far as the law allows), not for
    // the newsletter; the newsletter consent withdrawn.
    let decide = json!({"change": "decide", "decisions": [
        {"right": "erasure", "activity": WERVING, "outcome": "granted", "motivation": "Gewist."},
        {"right": "erasure", "activity": BOEKHOUDING, "outcome": "granted",
         "motivation": "Gewist, behalve wat de wet ons doet bewaren."},
        {"right": "erasure", "activity": NIEUWSBRIEVEN, "outcome": "refused",
         "grounds": ["not_applicable"], "motivation": "Trek uw toestemming in."},
        {"right": "consent_withdrawal", "activity": NIEUWSBRIEVEN, "outcome": "granted",
         "motivation": "Ingetrokken."},
    ]});
    h.request_step(&one, decide, 3).await;
    // Bad input: a body that is not the expected object (400), an unknown request (404),
    // a role that may not handle requests (403).
    let (s, hd, b) = h
        .call(
            Method::POST,
            &fulfilment,
            &h.dpo,
            Some(json!({"by_hand": "x"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);
    let (s, hd, b) = h
        .call(
            Method::POST,
            &fulfilment,
            &h.dpo,
            Some(json!({"done_by_hand": "  "})),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("by hand"), "{p}");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/rights-requests/{}/fulfilment", Uuid::nil()),
            &h.dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let auditor = h.staff("auditor", Role::Auditor).await;
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &auditor, None, &[]).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert_eq!(records(&h.store, an).await, before);

    // First run: HR cannot be reached.
    let (s, _, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let first = json_body(&b);
    assert_eq!(
        action(&first, "erasure", WERVING, "vault")["status"],
        "done"
    );
    assert_eq!(
        action(&first, "consent_withdrawal", NIEUWSBRIEVEN, "vault")["status"],
        "done"
    );
    let after = records(&h.store, an).await;
    assert_eq!(after.get(WERVING), None, "granted: erased");
    assert_eq!(after.get(BOEKHOUDING), None, "granted: erased");
    assert_eq!(after.get(NIEUWSBRIEVEN), Some(&1), "refused: kept");
    let c = h.store.consent(&staff(), consent).await.unwrap().unwrap();
    assert_eq!(c.state, ConsentState::Withdrawn);

    let Some((hr, accounting)) = &systems else {
        // Without the external systems: the vault's part fulfils the request.
        assert_eq!(first["stage"], "fulfilled", "{first:#}");
        tell_and_close(&h, &one, &told, &changes).await;
        h.store.cleanup().await;
        return;
    };
    assert_eq!(first["stage"], "decided", "HR failed: {first:#}");
    let hr_action = action(&first, "erasure", WERVING, "hr");
    assert_eq!(hr_action["status"], "failed");
    assert!(
        hr_action["error"].as_str().unwrap().contains("system 'hr'"),
        "{hr_action}"
    );
    let books = action(&first, "erasure", BOEKHOUDING, "accounting");
    assert_eq!(books["status"], "done", "{books}");
    let suppliers = books["report"]["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "suppliers")
        .unwrap();
    assert_eq!(suppliers["anonymised"], 1, "{books}");
    assert!(
        suppliers["kept_because"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("iban")),
        "{suppliers}"
    );
    let an_rows =
        "SELECT count(*)::text FROM hr.applicants WHERE email ILIKE 'an.peeters@example.be'";
    assert_eq!(hr.scalar(an_rows).await, "1", "HR untouched");
    let erased_supplier =
        "SELECT CAST(COUNT(*) AS CHAR) FROM suppliers WHERE name = 'erased supplier'";
    assert_eq!(accounting.scalar(erased_supplier).await, "1");
    // The art. 19 recipients may not be told before the erasure is done everywhere.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &told,
            &h.dpo,
            Some(json!({"recipient": "Assessmentbureaus", "how": "e-mail"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let logged = h.store.destruction_log(None, 0, 10_000).await.unwrap();
    let accounting_entries = logged.iter().filter(|e| e.system == "accounting").count();
    assert!(accounting_entries > 0);

    // Repaired: the second run erases in HR and redoes nothing else.
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        settings(&systems, true),
    ));
    let (s, _, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let second = json_body(&b);
    assert_eq!(second["stage"], "fulfilled", "{second:#}");
    let hr_action = action(&second, "erasure", WERVING, "hr");
    assert_eq!(hr_action["status"], "done");
    assert_eq!(hr_action["attempts"], 2);
    assert_eq!(hr.scalar(an_rows).await, "0");
    assert_eq!(
        action(&second, "erasure", BOEKHOUDING, "accounting"),
        books,
        "not redone"
    );
    let logged = h.store.destruction_log(None, 0, 10_000).await.unwrap();
    assert_eq!(
        logged.iter().filter(|e| e.system == "accounting").count(),
        accounting_entries,
        "nothing counted twice"
    );
    assert!(logged.iter().any(|e| e.system == "hr" && e.rows > 0));
    // The timeline's note sums up what was done per place and table.
    let (_, _, b) = h.call(Method::GET, &one, &h.dpo, None, &[]).await;
    let request = json_body(&b);
    let fulfilled = request["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "fulfilled")
        .unwrap_or_else(|| panic!("{request:#}"));
    let note = fulfilled["note"].as_str().unwrap();
    assert!(
        note.contains("erasure / limburg-werving-selectie / hr:")
            && note.contains("applicants: 1 deleted"),
        "{note}"
    );
    // A third run changes nothing.
    let (s, _, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["actions"], second["actions"]);

    tell_and_close(&h, &one, &told, &changes).await;
    if let Some((hr, accounting)) = systems {
        hr.cleanup().await;
        accounting.cleanup().await;
    }
    h.store.cleanup().await;
}

/// Closing is refused until every recipient of the erased data was told (art. 19).
async fn tell_and_close(h: &Harness, one: &str, told: &str, changes: &str) {
    let (_, _, b) = h.call(Method::GET, one, &h.dpo, None, &[]).await;
    let version = json_body(&b)["version"].as_i64().unwrap().to_string();
    let if_match = format!("\"{version}\"");
    let close = json!({"change": "close", "note": "afsluitbrief verstuurd"});
    let (s, hd, b) = h
        .call(
            Method::POST,
            changes,
            &h.dpo,
            Some(close.clone()),
            &[("if-match", &if_match)],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("art. 19") && detail.contains("Assessmentbureaus"),
        "{detail}"
    );
    let (s, _, b) = h
        .call(Method::GET, &format!("{one}/fulfilment"), &h.dpo, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK);
    let status = json_body(&b);
    let names: Vec<&str> = status["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["recipient"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"Externe leden van de jury"), "{names:?}");
    assert!(names.contains(&"Andere overheden"), "{names:?}");
    assert!(
        !names.contains(&"Betrokkenen zelf"),
        "the person is no recipient"
    );
    let (s, hd, b) = h
        .call(
            Method::POST,
            told,
            &h.dpo,
            Some(json!({"recipient": "De krant", "how": "brief"})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    for name in names {
        let (s, _, b) = h
            .call(
                Method::POST,
                told,
                &h.dpo,
                Some(json!({"recipient": name, "how": "e-mail van 23 november"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, _, b) = h
        .call(
            Method::POST,
            changes,
            &h.dpo,
            Some(close),
            &[("if-match", &if_match)],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(json_body(&b)["stage"], "closed");
}

const CAMERA: &str = "limburg-camerabewaking";

#[tokio::test]
async fn restriction_and_objection_are_marked_by_the_fulfilment() {
    marks_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        marks_story(pg).await;
    }
}

/// Files a request for restriction and objection by An, verified against `subject` (or
/// against nobody in the vault), and decides both granted. Returns its path.
async fn restriction_and_objection_decided(h: &Harness, subject: Option<Uuid>) -> String {
    h.decided_request(
        letter_from_an(&["restriction", "objection"]),
        subject,
        json!([
            {"right": "restriction", "activity": WERVING, "outcome": "granted",
             "motivation": "De juistheid wordt nagekeken."},
            {"right": "objection", "activity": CAMERA, "outcome": "granted",
             "motivation": "Er zijn geen dwingende gronden."},
        ]),
    )
    .await
}

async fn marks_story(store: TestStore) {
    let h = Harness::with_settings(store, settings(&None, false)).await;
    h.limburg_with_a_dpo_who_may_read().await;
    let (an, _) = seed_an(&h.store).await;

    // Verified without a data subject: kluis cannot tell whose records to mark, says so,
    // and marks nothing.
    let unlinked = restriction_and_objection_decided(&h, None).await;
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{unlinked}/fulfilment"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status = json_body(&b);
    assert_eq!(status["stage"], "decided", "{status:#}");
    let restriction = action(&status, "restriction", WERVING, "vault");
    assert_eq!(restriction["status"], "failed", "{restriction}");
    assert!(
        restriction["error"]
            .as_str()
            .unwrap()
            .contains("not linked to a data subject"),
        "{restriction}"
    );
    assert!(h.store.restrictions(an).await.unwrap().is_empty());
    assert!(h.store.objections(an).await.unwrap().is_empty());

    // Verified against An: the run marks both, and the request is fulfilled.
    let linked = restriction_and_objection_decided(&h, Some(an)).await;
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{linked}/fulfilment"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status = json_body(&b);
    assert_eq!(status["stage"], "fulfilled", "{status:#}");
    let reference = status["reference"].as_str().unwrap();
    let restrictions = h.store.restrictions(an).await.unwrap();
    assert_eq!(restrictions.len(), 1, "{restrictions:?}");
    assert_eq!(restrictions[0].activity, WERVING);
    assert_eq!(restrictions[0].request_reference, reference);
    let objections = h.store.objections(an).await.unwrap();
    assert_eq!(objections.len(), 1, "{objections:?}");
    assert_eq!(objections[0].activity, CAMERA);
    assert!(objections[0].in_force());
    // The vault enforces them: a new recruitment record is only stored, marked as
    // restricted; nothing more is recorded about her under camera surveillance.
    let record = |activity: &str, category| RecordInput {
        activity: activity.into(),
        schedule: (activity == WERVING).then(|| "niet-weerhouden".into()),
        category,
        fields: BTreeMap::from([("veld".to_string(), json!("waarde"))]),
        source: None,
        collected_on: date!(2026 - 11 - 20),
        events: BTreeMap::new(),
        provided_by_subject: true,
    };
    let stored = h
        .store
        .add_record(&staff(), an, &record(WERVING, DataCategory::Education))
        .await
        .unwrap();
    assert_eq!(
        stored.restriction.map(|r| r.request_reference).as_deref(),
        Some(reference)
    );
    let e = h
        .store
        .add_record(&staff(), an, &record(CAMERA, DataCategory::SoundImage))
        .await
        .unwrap_err();
    assert!(matches!(e, kluis_store::StoreError::Objected { .. }), "{e}");
    h.store.cleanup().await;
}

#[tokio::test]
async fn a_legal_hold_keeps_the_persons_rows_in_the_systems() {
    held_story(sqlite_store().await).await;
}

/// An's data is held as evidence: her granted erasure keeps her records in the vault and
/// her rows in HR (a system's rows are not told apart per record or case), reported as
/// kept with the hold's reason; the request is fulfilled with that report.
async fn held_story(store: TestStore) {
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let mut urls = BTreeMap::new();
    urls.insert(hr_map().name, hr.url().to_string());
    let settings = Settings {
        system_urls: SystemUrls(urls),
        ..Settings::default()
    };
    let h = Harness::with_settings(store, settings).await;
    h.limburg_with_a_dpo_who_may_read().await;
    let mut map = hr_map();
    map.activities = vec![WERVING.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();
    let (an, _) = seed_an(&h.store).await;
    h.store
        .place_hold(
            &staff(),
            &kluis_domain::destruction::NewHold {
                scope: kluis_domain::destruction::HoldScope::Subject,
                target: an.to_string(),
                reason: "klacht bij de rechtbank".into(),
                from: date!(2026 - 11 - 01),
                until: None,
            },
        )
        .await
        .unwrap();
    let one = h
        .decided_request(
            letter_from_an(&["erasure"]),
            Some(an),
            json!([
                {"right": "erasure", "activity": WERVING, "outcome": "granted",
                 "motivation": "Gewist, behalve wat de rechtbank nodig heeft."},
            ]),
        )
        .await;
    let an_rows =
        "SELECT count(*)::text FROM hr.applicants WHERE email ILIKE 'an.peeters@example.be'";
    assert_eq!(hr.scalar(an_rows).await, "1");
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{one}/fulfilment"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status = json_body(&b);
    assert_eq!(status["stage"], "fulfilled", "{status:#}");
    let in_hr = action(&status, "erasure", WERVING, "hr");
    assert_eq!(in_hr["status"], "done", "{in_hr}");
    assert_eq!(
        in_hr["report"]["kept_because"],
        json!(["legal hold: klacht bij de rechtbank"]),
        "{in_hr}"
    );
    assert_eq!(hr.scalar(an_rows).await, "1", "kept in HR");
    assert_eq!(
        records(&h.store, an).await.get(WERVING),
        Some(&2),
        "kept in the vault"
    );
    hr.cleanup().await;
    h.store.cleanup().await;
}

#[tokio::test]
async fn a_granted_restriction_marks_the_rows_in_the_systems_and_lifting_clears_them() {
    system_marks_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        system_marks_story(pg).await;
    }
}

/// Restriction granted for recruitment and accounting, HR serving both: the run marks An's
/// rows in both systems; HR down at first is failed and resumed. Lifting one restriction
/// keeps the marks the other still needs; lifting the other clears them, and while HR cannot
/// be cleared that restriction stays in force.
async fn system_marks_story(store: TestStore) {
    let systems = match (hr_postgres().await, accounting_mariadb().await) {
        (Some(hr), Some(accounting)) => Some((hr, accounting)),
        _ => None,
    };
    let Some((hr, accounting)) = &systems else {
        store.cleanup().await;
        return;
    };
    let mut h = Harness::with_settings(store, settings(&systems, false)).await;
    h.limburg_with_a_dpo_who_may_read().await;
    for (mut map, activities) in [
        (hr_map(), vec![WERVING, BOEKHOUDING]),
        (accounting_map(), vec![BOEKHOUDING]),
    ] {
        map.activities = activities.into_iter().map(str::to_string).collect();
        h.store.put_system(&map, "test", NOW).await.unwrap();
    }
    let (an, _) = seed_an(&h.store).await;
    let one = h
        .decided_request(
            letter_from_an(&["restriction"]),
            Some(an),
            json!([
                {"right": "restriction", "activity": WERVING, "outcome": "granted",
                 "motivation": "De juistheid wordt nagekeken."},
                {"right": "restriction", "activity": BOEKHOUDING, "outcome": "granted",
                 "motivation": "De juistheid wordt nagekeken."},
            ]),
        )
        .await;
    let hr_marked = "SELECT ((SELECT count(*) FROM hr.applicants WHERE processing_restricted) \
                     + (SELECT count(*) FROM hr.applications WHERE processing_restricted))::text";
    let accounting_marked = "SELECT CAST((SELECT COUNT(*) FROM suppliers WHERE \
                             processing_restricted = 1) + (SELECT COUNT(*) FROM invoices WHERE \
                             processing_restricted = 1) AS CHAR)";

    // First run: HR cannot be reached, accounting is marked.
    let fulfilment = format!("{one}/fulfilment");
    let (s, _, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let first = json_body(&b);
    assert_eq!(first["stage"], "decided", "{first:#}");
    let hr_action = action(&first, "restriction", WERVING, "hr");
    assert_eq!(hr_action["carried_out_by"], "kluis", "{hr_action}");
    assert_eq!(hr_action["status"], "failed", "{hr_action}");
    assert!(
        hr_action["error"].as_str().unwrap().contains("system 'hr'"),
        "{hr_action}"
    );
    let books = action(&first, "restriction", BOEKHOUDING, "accounting").clone();
    assert_eq!(books["status"], "done", "{books}");
    assert_eq!(books["report"]["rows_marked"], 3, "{books}");
    assert_eq!(hr.scalar(hr_marked).await, "0", "HR untouched");
    assert_eq!(accounting.scalar(accounting_marked).await, "3");
    assert_eq!(
        action(&first, "restriction", WERVING, "vault")["status"],
        "done"
    );

    // Repaired: the second run marks HR and redoes nothing else.
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        settings(&systems, true),
    ));
    let (s, _, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let second = json_body(&b);
    assert_eq!(second["stage"], "fulfilled", "{second:#}");
    let hr_action = action(&second, "restriction", WERVING, "hr");
    assert_eq!(hr_action["status"], "done", "{hr_action}");
    assert_eq!(hr_action["attempts"], 2);
    assert_eq!(hr_action["report"]["rows_marked"], 3, "{hr_action}");
    assert_eq!(
        action(&second, "restriction", BOEKHOUDING, "hr")["report"],
        hr_action["report"],
        "marked once for both activities"
    );
    assert_eq!(hr.scalar(hr_marked).await, "3");
    assert_eq!(
        action(&second, "restriction", BOEKHOUDING, "accounting"),
        &books,
        "not redone"
    );
    // The processing log names the system and the request.
    let logged = h
        .store
        .log_entries(
            &kluis_domain::processing_log::LogSelector {
                activity: Some(WERVING.into()),
                ..Default::default()
            },
            &kluis_domain::access::Scope::All,
            1000,
        )
        .await
        .unwrap();
    let reference = second["reference"].as_str().unwrap();
    assert!(
        logged.iter().any(|e| e.entry.system == "hr"
            && e.entry.action == kluis_domain::processing_log::LogAction::Update
            && e.entry.case_ref.as_deref() == Some(reference)
            && e.entry
                .legal_ground
                .as_deref()
                .is_some_and(|g| g.contains("art. 18"))),
        "{logged:#?}"
    );

    let lift = |activity: &'static str, up: bool| {
        let urls = settings(&systems, up).system_urls;
        let store = h.store.clone();
        let reference = reference.to_string();
        async move {
            kluis_web::system_marks::lift_restriction(
                &store,
                &urls,
                &staff(),
                an,
                (activity, &reference),
                NOW.date(),
                "juistheid nagekeken",
            )
            .await
            .unwrap()
        }
    };
    let in_force = |activity: &'static str| {
        let store = h.store.clone();
        async move {
            store
                .restrictions(an)
                .await
                .unwrap()
                .iter()
                .any(|r| r.activity == activity && r.lifted_at.is_none())
        }
    };
    // Told tomorrow, or under another request: refused before any system is touched.
    let early = kluis_web::system_marks::lift_restriction(
        &h.store,
        &settings(&systems, true).system_urls,
        &staff(),
        an,
        (WERVING, reference),
        NOW.date() + time::Duration::days(1),
        "juistheid nagekeken",
    )
    .await
    .unwrap_err();
    assert!(early.to_string().contains("art. 18(3)"), "{early}");
    let other = kluis_web::system_marks::lift_restriction(
        &h.store,
        &settings(&systems, true).system_urls,
        &staff(),
        an,
        (WERVING, "RQ-AAAA-AAAA-AAAA"),
        NOW.date(),
        "juistheid nagekeken",
    )
    .await
    .unwrap_err();
    assert!(
        other
            .to_string()
            .contains(&format!("was asked at request {reference}")),
        "{other}"
    );
    assert_eq!(hr.scalar(hr_marked).await, "3");

    // Lifting the recruitment restriction: HR's marks stay for the accounting one, so HR
    // need not even be reached.
    let werving = lift(WERVING, false).await;
    assert!(werving.lifted.is_some(), "{werving:?}");
    assert!(werving.failed().is_empty(), "{werving:?}");
    assert_eq!(werving.systems.len(), 1, "{werving:?}");
    assert!(
        werving.systems[0]
            .kept_because
            .as_deref()
            .is_some_and(|k| k.contains(BOEKHOUDING)),
        "{werving:?}"
    );
    assert!(!in_force(WERVING).await);
    assert_eq!(hr.scalar(hr_marked).await, "3");

    // Lifting the accounting one through the API while HR is down: accounting is cleared,
    // HR is not, so the restriction stays in force and the 502 names HR.
    let lift_path = format!("/api/v1/subjects/{an}/restrictions/lift");
    let lift_body = json!({"activity": BOEKHOUDING, "request": reference,
        "told_on": "2026-11-23", "reason": "juistheid nagekeken"});
    let with_systems = |up: bool| {
        app(AppState::new(
            (*h.store).clone(),
            std::sync::Arc::new(|| NOW),
            settings(&systems, up),
        ))
    };
    h.app = with_systems(false);
    let (s, _, b) = h
        .call(
            Method::POST,
            &lift_path,
            &h.dpo,
            Some(lift_body.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{b}");
    assert!(b.contains("stays in force") && b.contains("hr: "), "{b}");
    assert!(in_force(BOEKHOUDING).await, "still in force");
    assert_eq!(hr.scalar(hr_marked).await, "3");
    assert_eq!(accounting.scalar(accounting_marked).await, "0");
    // The same through the library: the report names HR as not cleared.
    let down = lift(BOEKHOUDING, false).await;
    assert!(down.lifted.is_none(), "{down:?}");
    let failed = down.failed();
    assert_eq!(failed.len(), 1, "{down:?}");
    assert_eq!(failed[0].system, "hr");
    let text = kluis_web::system_marks::marks_text(&down.systems);
    assert!(
        text.contains("hr: NOT cleared") && text.contains("system 'hr'"),
        "{text}"
    );

    // Bad input changes nothing: another request, no reason, a day after today.
    h.app = with_systems(true);
    for (field, value) in [
        ("request", json!("RQ-AAAA-AAAA-AAAA")),
        ("reason", json!(" ")),
        ("told_on", json!("2026-11-24")),
    ] {
        let mut bad = lift_body.clone();
        bad[field] = value;
        let (s, _, b) = h
            .call(Method::POST, &lift_path, &h.dpo, Some(bad), &[])
            .await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {b}");
        assert!(in_force(BOEKHOUDING).await, "{field}");
        assert_eq!(hr.scalar(hr_marked).await, "3", "{field}");
    }

    // A caseworker may handle rights requests, but without a confidentiality statement
    // opens no personal data, so lifts nothing.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &lift_path,
            &h.caseworker,
            Some(lift_body.clone()),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert!(
        p["detail"].as_str().unwrap().contains("confidentiality"),
        "{p}"
    );
    assert!(in_force(BOEKHOUDING).await);
    // Signed, and assigned to recruitment only: need-to-know alone refuses accounting.
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/cw/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-002"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/users/cw/activities/{WERVING}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &lift_path,
            &h.caseworker,
            Some(lift_body.clone()),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert!(
        p["detail"].as_str().unwrap().contains(&format!(
            "not assigned to processing activity '{BOEKHOUDING}'"
        )),
        "{p}"
    );
    assert!(in_force(BOEKHOUDING).await);
    assert_eq!(hr.scalar(hr_marked).await, "3");

    // HR back: cleared, and lifted.
    let (s, _, b) = h
        .call(Method::POST, &lift_path, &h.dpo, Some(lift_body), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let up = json_body(&b);
    assert!(up["lifted"].is_object(), "{up:#}");
    let cleared: Vec<(&str, u64, u64)> = up["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["system"].as_str().unwrap(),
                s["rows"].as_u64().unwrap(),
                s["cleared"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cleared, [("accounting", 3, 0), ("hr", 3, 3)], "{up:#}");
    assert_eq!(hr.scalar(hr_marked).await, "0");
    assert!(!in_force(BOEKHOUDING).await);

    // An objection to accounting: kluis marks accounting, which serves only that activity;
    // HR also serves recruitment, where no objection was granted, so HR is by hand.
    let objection = h
        .decided_request(
            letter_from_an(&["objection"]),
            Some(an),
            json!([
                {"right": "objection", "activity": BOEKHOUDING, "outcome": "granted",
                 "motivation": "Geen dwingende gronden."},
            ]),
        )
        .await;
    let (s, _, b) = h
        .call(
            Method::POST,
            &format!("{objection}/fulfilment"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status = json_body(&b);
    let objected_reference = status["reference"].as_str().unwrap().to_string();
    let hr_part = action(&status, "objection", BOEKHOUDING, "hr");
    assert_eq!(hr_part["carried_out_by"], "staff", "{hr_part}");
    assert!(
        hr_part["instruction"]
            .as_str()
            .unwrap()
            .contains("also serves limburg-werving-selectie"),
        "{hr_part}"
    );
    assert_eq!(
        action(&status, "objection", BOEKHOUDING, "accounting")["status"],
        "done"
    );
    assert_eq!(accounting.scalar(accounting_marked).await, "3");
    assert_eq!(hr.scalar(hr_marked).await, "0");
    // Compelling grounds through the API: none given is refused and clears nothing; then
    // the marks go first and the grounds are recorded.
    let grounds_path = format!("/api/v1/subjects/{an}/objections/compelling-grounds");
    let grounds = |text: &str| json!({"activity": BOEKHOUDING, "request": objected_reference, "grounds": text});
    let (s, _, b) = h
        .call(
            Method::POST,
            &grounds_path,
            &h.dpo,
            Some(grounds("  ")),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert_eq!(accounting.scalar(accounting_marked).await, "3");
    let (s, _, b) = h
        .call(
            Method::POST,
            &grounds_path,
            &h.dpo,
            Some(grounds("Fiscale controle loopt.")),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let overridden = json_body(&b);
    assert_eq!(
        overridden["recorded"]["objection"]["compelling_grounds"], "Fiscale controle loopt.",
        "{overridden:#}"
    );
    let cleared: Vec<(&str, u64)> = overridden["systems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["system"].as_str().unwrap(),
                s["cleared"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(cleared, [("accounting", 3)], "{overridden:#}");
    assert_eq!(accounting.scalar(accounting_marked).await, "0");
    if let Some((hr, accounting)) = systems {
        hr.cleanup().await;
        accounting.cleanup().await;
    }
    h.store.cleanup().await;
}
