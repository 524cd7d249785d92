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

use super::{Harness, NOW, problem};

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

/// Limburg's register, and the DPO's signed confidentiality statement (without it nobody
/// opens personal data).
async fn limburg_with_a_dpo_who_may_read(h: &Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
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
    limburg_with_a_dpo_who_may_read(&h).await;
    if systems.is_some() {
        for (mut map, activity) in [(hr_map(), WERVING), (accounting_map(), BOEKHOUDING)] {
            map.activities = vec![activity.to_string()];
            h.store.put_system(&map, "test", NOW).await.unwrap();
        }
    }
    let (an, consent) = seed_an(&h.store).await;

    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/rights-requests",
            &h.dpo,
            Some(json!({
                "controller": "limburg",
                "rights": ["erasure", "consent_withdrawal"],
                "channel": "letter",
                "requester": {
                    "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
                    "acting_for": "themselves",
                    "email": people::AN_EMAIL,
                },
                "received_on": "2026-11-23"
            })),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let id = json_body(&b)["id"].as_str().unwrap().to_string();
    let one = format!("/api/v1/rights-requests/{id}");
    let fulfilment = format!("{one}/fulfilment");
    let changes = format!("{one}/changes");
    let told = format!("{one}/recipients-told");

    // Not verified, then not decided, then everything refused: 409, nothing changed.
    let before = records(&h.store, an).await;
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("identity"), "{p}");
    let (s, _, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(json!({"change": "verify_identity", "subject_id": an})),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, hd, b) = h.call(Method::POST, &fulfilment, &h.dpo, None, &[]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(p["detail"].as_str().unwrap().contains("decide"), "{p}");
    let refuse_all = json!({"change": "decide", "decisions": [
        {"right": "erasure", "activity": WERVING, "outcome": "refused",
         "grounds": ["legal_obligation"], "motivation": "Wettelijke bewaarplicht."},
        {"right": "consent_withdrawal", "activity": NIEUWSBRIEVEN, "outcome": "refused",
         "grounds": ["not_applicable"], "motivation": "Geen toestemming."},
    ]});
    let (s, _, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(refuse_all),
            &[("if-match", "\"2\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
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
    let (s, _, b) = h
        .call(
            Method::POST,
            &changes,
            &h.dpo,
            Some(decide),
            &[("if-match", "\"3\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
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
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/rights-requests",
            &h.dpo,
            Some(json!({
                "controller": "limburg",
                "rights": ["restriction", "objection"],
                "channel": "letter",
                "requester": {
                    "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
                    "acting_for": "themselves",
                    "email": people::AN_EMAIL,
                },
                "received_on": "2026-11-23"
            })),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let one = format!(
        "/api/v1/rights-requests/{}",
        json_body(&b)["id"].as_str().unwrap()
    );
    let changes = format!("{one}/changes");
    for (change, version) in [
        (
            json!({"change": "verify_identity", "subject_id": subject}),
            "\"1\"",
        ),
        (
            json!({"change": "decide", "decisions": [
                {"right": "restriction", "activity": WERVING, "outcome": "granted",
                 "motivation": "De juistheid wordt nagekeken."},
                {"right": "objection", "activity": CAMERA, "outcome": "granted",
                 "motivation": "Er zijn geen dwingende gronden."},
            ]}),
            "\"2\"",
        ),
    ] {
        let (s, _, b) = h
            .call(
                Method::POST,
                &changes,
                &h.dpo,
                Some(change),
                &[("if-match", version)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    one
}

async fn marks_story(store: TestStore) {
    let h = Harness::with_settings(store, settings(&None, false)).await;
    limburg_with_a_dpo_who_may_read(&h).await;
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
    limburg_with_a_dpo_who_may_read(&h).await;
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
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/rights-requests",
            &h.dpo,
            Some(json!({
                "controller": "limburg",
                "rights": ["erasure"],
                "channel": "letter",
                "requester": {
                    "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
                    "acting_for": "themselves",
                    "email": people::AN_EMAIL,
                },
                "received_on": "2026-11-23"
            })),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let one = format!(
        "/api/v1/rights-requests/{}",
        json_body(&b)["id"].as_str().unwrap()
    );
    for (change, version) in [
        (
            json!({"change": "verify_identity", "subject_id": an}),
            "\"1\"",
        ),
        (
            json!({"change": "decide", "decisions": [
                {"right": "erasure", "activity": WERVING, "outcome": "granted",
                 "motivation": "Gewist, behalve wat de rechtbank nodig heeft."},
            ]}),
            "\"2\"",
        ),
    ] {
        let (s, _, b) = h
            .call(
                Method::POST,
                &format!("{one}/changes"),
                &h.dpo,
                Some(change),
                &[("if-match", version)],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
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
