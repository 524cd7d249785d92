//! `kluis retention` as a DPO uses it: the plan, holds, extensions, approval of a
//! destruction list and the sweep, on SQLite and PostgreSQL.

use std::collections::BTreeMap;

use kluis_domain::access::Role;
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::retention::RetentionEvent;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use time::Date;
use time::macros::date;
use uuid::Uuid;

use super::{LIMBURG, empty_dir, fails, kluis_keys, ok};

const WERVING: &str = "limburg-werving-selectie";

/// A candidate with one application under `schedule`, the procedure ended on `ended`.
async fn candidate(store: &TestStore, email: &str, schedule: &str, ended: Date) -> Uuid {
    let p = kluis_store::Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "hr".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: time::OffsetDateTime::now_utc(),
    };
    let identity = SubjectIdentity {
        email: Some(email.parse().unwrap()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    };
    let (subject, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .unwrap();
    let input = RecordInput {
        activity: WERVING.into(),
        schedule: Some(schedule.into()),
        category: DataCategory::Education,
        fields: BTreeMap::from([("diploma".to_string(), serde_json::json!("Master"))]),
        source: None,
        collected_on: date!(2025 - 01 - 01),
        events: BTreeMap::from([(RetentionEvent::EndOfProcedure, ended)]),
        provided_by_subject: true,
    };
    store.add_record(&p, subject.id, &input).await.unwrap().id
}

async fn retention_story(store: TestStore) {
    let db = store.url().to_string();
    let dir = empty_dir(&format!("retention-{:?}", store.backend()));
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let k = |args: &[&str]| kluis_keys(&db, &keys, args);
    ok(&k(&["register", "import", LIMBURG]));
    let today = time::OffsetDateTime::now_utc().date();
    // Not selected: 4 weeks after the procedure; the reserve: 1 year, extendable twice.
    let an = candidate(
        &store,
        "an@example.be",
        "niet-weerhouden",
        date!(2025 - 06 - 01),
    )
    .await;
    let cas = candidate(
        &store,
        "cas@example.be",
        "niet-weerhouden",
        date!(2025 - 06 - 02),
    )
    .await;
    let bert = candidate(
        &store,
        "bert@example.be",
        "wervingsreserve",
        today - time::Duration::days(400),
    )
    .await;

    let until = (today + time::Duration::days(1)).to_string();
    let plan = ok(&k(&["retention", "plan", "--until", &until]));
    assert!(plan.contains(WERVING), "{plan}");
    let json = ok(&k(&[
        "retention",
        "plan",
        "--until",
        &until,
        "--format",
        "json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["activities"][0]["due"], 3, "{json}");
    assert_eq!(
        json["activities"][0]["earliest_deadline"], "2025-06-29",
        "{json}"
    );
    let err = fails(&k(&["retention", "plan", "--until", "tomorrow"]));
    assert!(err.contains("YYYY-MM-DD"), "{err}");

    // A hold on Cas; a hold without a reason is refused.
    let err = fails(&k(&[
        "retention",
        "hold",
        "place",
        "--record",
        &cas.to_string(),
        "--reason",
        " ",
    ]));
    assert!(err.contains("reason"), "{err}");
    let placed = ok(&k(&[
        "retention",
        "hold",
        "place",
        "--record",
        &cas.to_string(),
        "--reason",
        "bezwaarprocedure RvS",
    ]));
    assert!(placed.contains("placed legal hold"), "{placed}");
    let holds = ok(&k(&["retention", "hold", "list"]));
    assert!(holds.contains("bezwaarprocedure RvS"), "{holds}");

    // Bert stays in the reserve twice more, not a third time.
    ok(&k(&["retention", "extend", &bert.to_string()]));
    let second = ok(&k(&["retention", "extend", &bert.to_string()]));
    assert!(second.contains("2 of at most 2 extensions"), "{second}");
    let err = fails(&k(&["retention", "extend", &bert.to_string()]));
    assert!(err.contains("already extended 2 times"), "{err}");

    // A dry run destroys nothing.
    let dry = ok(&k(&["retention", "sweep", "--dry-run"]));
    assert!(dry.contains("dry run"), "{dry}");
    let json = ok(&k(&[
        "retention",
        "plan",
        "--until",
        &until,
        "--format",
        "json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (
            json["activities"][0]["due"].clone(),
            json["activities"][0]["held"].clone()
        ),
        (1.into(), 1.into()),
        "{json}"
    );

    // Limburg destroys only what its DPO approved.
    ok(&k(&[
        "retention",
        "approval",
        "--controller",
        "limburg",
        "--required",
        "true",
    ]));
    let swept = ok(&k(&["retention", "sweep"]));
    assert!(swept.contains("0 records destroyed"), "{swept}");
    assert!(swept.contains("1 held, 1 awaiting approval"), "{swept}");
    let created = ok(&k(&[
        "retention",
        "list",
        "create",
        "--until",
        &today.to_string(),
    ]));
    let id = created
        .split_whitespace()
        .nth(2)
        .expect("the list's id")
        .to_string();
    assert!(created.contains("1 records"), "{created}");
    store
        .create_user(
            "els",
            "Els",
            "a long password here",
            &[Role::Caseworker],
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    store
        .create_user(
            "dpo",
            "DPO",
            "a long password here",
            &[Role::Dpo],
            time::OffsetDateTime::now_utc(),
        )
        .await
        .unwrap();
    let err = fails(&k(&["retention", "list", "approve", &id, "--as", "els"]));
    assert!(err.contains("not the data protection officer"), "{err}");
    // A first list rejected with the reason; a second one, of the same record, approved.
    let rejected = ok(&k(&[
        "retention",
        "list",
        "reject",
        &id,
        "--as",
        "dpo",
        "--reason",
        "nog in beroep",
    ]));
    assert!(rejected.contains("rejected by dpo"), "{rejected}");
    let err = fails(&k(&["retention", "list", "approve", &id, "--as", "dpo"]));
    assert!(err.contains("is rejected"), "{err}");
    let shown = ok(&k(&["retention", "list", "show"]));
    assert!(shown.contains("rejected by dpo: nog in beroep"), "{shown}");
    let created = ok(&k(&[
        "retention",
        "list",
        "create",
        "--until",
        &today.to_string(),
    ]));
    assert!(created.contains("1 records"), "listed again: {created}");
    let id = created
        .split_whitespace()
        .nth(2)
        .expect("the list's id")
        .to_string();
    ok(&k(&["retention", "list", "approve", &id, "--as", "dpo"]));
    let swept = ok(&k(&["retention", "sweep"]));
    assert!(
        swept.contains("1 records destroyed, 1 data subjects deleted"),
        "{swept}"
    );
    assert!(!store.record_exists(an).await.unwrap());
    assert!(store.record_exists(cas).await.unwrap());
    assert!(store.record_exists(bert).await.unwrap());

    let log = ok(&k(&["retention", "log"]));
    assert!(log.contains(&an.to_string()), "{log}");
    assert!(log.contains("4 weeks after end_of_procedure"), "{log}");
    assert!(
        !log.contains("Master") && !log.contains("an@example.be"),
        "{log}"
    );
    let runs = ok(&k(&["retention", "runs"]));
    assert_eq!(runs.lines().count(), 2, "{runs}");
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_from_the_command_line() {
    retention_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        retention_story(pg).await;
    }
}

/// Two servers on one database: the daily sweep runs at start-up in one of them only.
async fn daily_sweep_story(store: TestStore) {
    let db = store.url().to_string();
    let dir = empty_dir(&format!("daily-sweep-{:?}", store.backend()));
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    ok(&kluis_keys(&db, &keys, &["register", "import", LIMBURG]));
    let an = candidate(
        &store,
        "an@example.be",
        "niet-weerhouden",
        date!(2025 - 06 - 01),
    )
    .await;
    let keys_env = keys.display().to_string();
    let env = [("KLUIS_KEYS_FILE", keys_env.as_str())];
    let (one, two) = tokio::join!(super::start_serve(&db, &env), super::start_serve(&db, &env));
    let started = std::time::Instant::now();
    while store.record_exists(an).await.unwrap() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "no server swept"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // Give the other server time to try too: it finds the run taken or done today.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let logs = [super::stop_serve(one), super::stop_serve(two)];
    let runs = store.retention_runs(10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}\n{logs:?}");
    assert_eq!(runs[0].destroyed, 1);
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_sweep_runs_once_across_servers() {
    daily_sweep_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        daily_sweep_story(pg).await;
    }
}

/// The plan says what is erased and what is anonymised: in the vault per activity (the
/// schedule decides), in a connected system per table (the dataset map decides).
async fn plan_erase_or_anonymise_story(store: TestStore) {
    use kluis_connectors::testing::{hr_map, hr_postgres};
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let db = store.url().to_string();
    let dir = empty_dir(&format!("retention-plan-{:?}", store.backend()));
    let keys = dir.join("kluis.keys");
    std::fs::write(&keys, store.keys().to_key_file_text().as_bytes()).unwrap();
    let env = [("KLUIS_SYSTEM_HR_URL", hr.url())];
    let k = |args: &[&str]| super::kluis_env(&db, &keys, &env, args);
    // Limburg, with candidates not selected anonymised: only the diploma stays.
    let register = std::fs::read_to_string(LIMBURG).unwrap().replace(
        "rule: {after_event: {event: end_of_procedure, period: \"4 weeks\"}}",
        "rule: {after_event: {event: end_of_procedure, period: \"4 weeks\"}}\n        \
         anonymise: {keep: [diploma]}",
    );
    let register_file = dir.join("limburg.yaml");
    std::fs::write(&register_file, register).unwrap();
    ok(&k(&[
        "register",
        "import",
        &register_file.display().to_string(),
    ]));
    let mut map = hr_map();
    if let Some(r) = map
        .tables
        .get_mut("applications")
        .and_then(|t| t.retention.as_mut())
    {
        r.schedule = Some("wervingsreserve".into());
    }
    let map_file = super::limburg_map(map, WERVING, &dir);
    ok(&k(&["systems", "add", &map_file.display().to_string()]));
    let today = time::OffsetDateTime::now_utc().date();
    candidate(
        &store,
        "an@example.be",
        "niet-weerhouden",
        date!(2025 - 06 - 01),
    )
    .await;
    candidate(
        &store,
        "cas@example.be",
        "niet-weerhouden",
        date!(2025 - 06 - 02),
    )
    .await;
    candidate(
        &store,
        "bert@example.be",
        "wervingsreserve",
        today - time::Duration::days(400),
    )
    .await;

    let until = (today + time::Duration::days(1)).to_string();
    let table = ok(&k(&["retention", "plan", "--until", &until]));
    assert!(
        table.contains("erased") && table.contains("anonymised"),
        "{table}"
    );
    assert!(
        table.contains("system hr: 3 rows to delete, 0 to anonymise"),
        "{table}"
    );
    assert!(
        table.contains(
            "table applications (limburg-werving-selectie): 1 to delete, 0 to anonymise, 0 \
             kept, 0 held (legal hold); delete row"
        ),
        "{table}"
    );
    let json = ok(&k(&[
        "retention",
        "plan",
        "--until",
        &until,
        "--format",
        "json",
    ]));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    let werving = &json["activities"][0];
    assert_eq!(werving["activity"], WERVING, "{json}");
    assert_eq!(
        (
            werving["due"].clone(),
            werving["to_erase"].clone(),
            werving["to_anonymise"].clone()
        ),
        (3.into(), 1.into(), 2.into()),
        "{json}"
    );
    let hr_plan = &json["systems"][0];
    assert_eq!(hr_plan["system"], "hr", "{json}");
    let mut tables: Vec<(&str, u64)> = hr_plan["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap(),
                t["to_delete"].as_u64().unwrap(),
            )
        })
        .collect();
    tables.sort();
    assert_eq!(
        tables,
        [
            ("applications", 1),
            ("documents", 1),
            ("interview_notes", 1)
        ],
        "{json}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    store.cleanup().await;
    hr.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_says_what_is_erased_and_what_is_anonymised() {
    plan_erase_or_anonymise_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        plan_erase_or_anonymise_story(pg).await;
    }
}
