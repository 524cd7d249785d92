//! Statistics and research extracts from the vault, on both backends: need-to-know, the
//! project's pseudonyms, the release check and the log of every extract.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::access::{Clearance, Role, Scope};
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::Register;
use kluis_domain::statistics::{self, Plan};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::TestStore;
use kluis_store::{Backend, Processing, Store, StoreError};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::{activity, controller};

stories!(
    extracts_are_pseudonymised_per_project_checked_and_logged,
    extracts_need_to_know,
    a_refused_release_is_logged_but_not_exported,
    extracts_of_unknown_activities_or_categories_are_refused,
    extracts_read_every_batch,
    restricted_or_objecting_people_are_left_out,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

const SPEC: &str = r#"
activity: leefloon
project: armoedebarometer-2026
purpose: Armoedebarometer 2026
thresholds: {k: 3, max_suppressed_share: 0.5}
columns:
  - {name: person, role: pseudonym}
  - {name: born, source: subject.birth_date, role: quasi_identifier, generalise: {year_band: 10}}
  - {name: postcode, source: field.postcode, role: quasi_identifier, generalise: {prefix: 2}}
  - {name: decision, source: field.decision, role: sensitive}
tables:
  - {name: decisions, by: [decision]}
"#;

fn plan(text: &str) -> Plan {
    statistics::parse("spec.yaml", text).unwrap_or_else(|e| panic!("{e}"))
}

fn processing(name: &str) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(format!("id-{name}")),
            name: name.into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: Some("STAT-2026-1".into()),
        now: NOW,
    }
}

/// The clearance of an assigned caseworker who signed a confidentiality statement.
fn caseworker_of(activity: &str) -> Clearance {
    Clearance {
        roles: vec![Role::Caseworker],
        activities: BTreeSet::from([activity.to_string()]),
        confidentiality_signed_on: Some(date!(2026 - 01 - 05)),
    }
}

/// `leefloon` with eight people: five in 35xx born in the 1980s, three elsewhere each on
/// their own; each has a financial record, and the first also an identification record.
async fn vault(store: &Store) -> Vec<uuid::Uuid> {
    let mut leefloon = activity("leefloon", "city", "Leefloon");
    leefloon.data_categories = vec![DataCategory::Identification, DataCategory::Financial];
    let other = activity("werving", "city", "Werving");
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![leefloon, other],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
    let p = processing("caseworker");
    let people = [
        (date!(1981 - 02 - 03), "3500", "granted"),
        (date!(1983 - 04 - 05), "3510", "refused"),
        (date!(1985 - 06 - 07), "3500", "granted"),
        (date!(1987 - 08 - 09), "3520", "granted"),
        (date!(1989 - 10 - 11), "3530", "refused"),
        (date!(1955 - 01 - 01), "9000", "granted"),
        (date!(1999 - 01 - 01), "1000", "granted"),
        (date!(2001 - 01 - 01), "2000", "refused"),
    ];
    let mut ids = Vec::new();
    for (i, (born, postcode, decision)) in people.into_iter().enumerate() {
        let identity = SubjectIdentity {
            email: Some(format!("person{i}@example.be").parse().unwrap()),
            given_name: Some(format!("Persoon {i}")),
            birth_date: Some(born),
            ..Default::default()
        };
        let (subject, _) = store
            .record_subject(&p, "leefloon", &identity, &[])
            .await
            .unwrap();
        let record = |category, fields: serde_json::Value| RecordInput {
            activity: "leefloon".into(),
            schedule: None,
            category,
            fields: serde_json::from_value(fields).unwrap(),
            source: None,
            collected_on: date!(2026 - 03 - 01),
            events: BTreeMap::new(),
            provided_by_subject: false,
        };
        store
            .add_record(
                &p,
                subject.id,
                &record(
                    DataCategory::Financial,
                    serde_json::json!({"postcode": postcode, "decision": decision}),
                ),
            )
            .await
            .unwrap();
        if i == 0 {
            store
                .add_record(
                    &p,
                    subject.id,
                    &record(
                        DataCategory::Identification,
                        serde_json::json!({"postcode": "3500", "decision": "granted"}),
                    ),
                )
                .await
                .unwrap();
        }
        ids.push(subject.id);
    }
    ids
}

fn exports(entries: &[kluis_domain::processing_log::LogEntry]) -> usize {
    entries
        .iter()
        .filter(|e| e.entry.action == LogAction::Export)
        .count()
}

async fn log_of(store: &Store, activity: &str) -> Vec<kluis_domain::processing_log::LogEntry> {
    store
        .log_entries(
            &LogSelector {
                activity: Some(activity.into()),
                ..Default::default()
            },
            &Scope::All,
            10_000,
        )
        .await
        .unwrap()
}

async fn extracts_are_pseudonymised_per_project_checked_and_logged(store: &TestStore) {
    let ids = vault(store).await;
    let before = log_of(store, "leefloon").await;
    let p = processing("els");
    let made = store
        .statistics_extract(&p, &caseworker_of("leefloon"), &plan(SPEC))
        .await
        .unwrap();
    let r = &made.release.report;
    // The identification record stays out; the three people who stand out are suppressed.
    assert_eq!(r.rows_in, 8);
    assert_eq!(r.persons_in, 8);
    assert_eq!(r.rows_suppressed, 3);
    assert_eq!(r.rows_released, 5);
    assert_eq!(r.k_achieved, 5);
    assert_eq!(r.l_achieved, Some(2));
    assert!(r.released, "{r:?}");
    assert_eq!(r.tables[0].cells.len(), 2);

    let mut csv = Vec::new();
    statistics::write_csv(&made.extract, &made.release, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let keys = store.keys();
    let pseudonym = |project: &str, i: usize| {
        keys.pseudonym_for_project(project, &ids[i].hyphenated().to_string())
    };
    for i in 0..5 {
        assert!(
            csv.contains(&pseudonym("armoedebarometer-2026", i)),
            "{csv}"
        );
    }
    for i in 5..8 {
        assert!(
            !csv.contains(&pseudonym("armoedebarometer-2026", i)),
            "{csv}"
        );
    }
    // No direct identifier and no subject id leaves.
    assert!(
        !csv.contains("example.be") && !csv.contains("Persoon"),
        "{csv}"
    );
    assert!(!csv.contains(&ids[0].to_string()), "{csv}");
    assert!(csv.contains(",1980-1989,35,"), "{csv}");

    // Another project gets other, unlinkable pseudonyms.
    let other = store
        .statistics_extract(
            &p,
            &caseworker_of("leefloon"),
            &plan(&SPEC.replace("armoedebarometer-2026", "woonstudie")),
        )
        .await
        .unwrap();
    let mut csv2 = Vec::new();
    statistics::write_csv(&other.extract, &other.release, &mut csv2).unwrap();
    let csv2 = String::from_utf8(csv2).unwrap();
    assert!(csv2.contains(&pseudonym("woonstudie", 0)));
    assert!(!csv2.contains(&pseudonym("armoedebarometer-2026", 0)));

    // Each extract: one row in the extract log and one export entry in the processing log.
    let logged = store.statistics_extracts("leefloon").await.unwrap();
    assert_eq!(logged.len(), 2);
    let first = logged.iter().find(|l| l.id == made.id).unwrap();
    assert_eq!(first.actor_name, "els");
    assert_eq!(first.actor_id.as_deref(), Some("id-els"));
    assert_eq!(first.project, "armoedebarometer-2026");
    assert_eq!(first.purpose, "Armoedebarometer 2026");
    assert_eq!(first.case_ref.as_deref(), Some("STAT-2026-1"));
    assert_eq!(first.settings.thresholds.k, 3);
    assert_eq!(first.report, made.release.report);
    assert_eq!(first.created_at, NOW);
    let after = log_of(store, "leefloon").await;
    assert_eq!(exports(&after) - exports(&before), 2);
    let entry = after
        .iter()
        .find(|e| Some(e.seq) == first.log_seq)
        .expect("the export entry");
    assert_eq!(entry.entry.action, LogAction::Export);
    assert_eq!(entry.entry.subject, format!("statistics:{}", made.id));
    assert_eq!(entry.entry.data_categories, ["financial"]);
    assert_eq!(
        entry.entry.recipient.as_deref(),
        Some("statistics project armoedebarometer-2026")
    );
    assert_eq!(entry.actor.name, "els");
    assert!(store.verify_log(None).await.unwrap().is_ok());
}

async fn extracts_need_to_know(store: &TestStore) {
    vault(store).await;
    let before = log_of(store, "leefloon").await.len();
    let p = processing("jan");
    let err = store
        .statistics_extract(&p, &caseworker_of("werving"), &plan(SPEC))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope { .. }), "{err:?}");
    let unsigned = Clearance {
        confidentiality_signed_on: None,
        ..caseworker_of("leefloon")
    };
    let err = store
        .statistics_extract(&p, &unsigned, &plan(SPEC))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("confidentiality"), "{err}");
    let auditor = Clearance {
        roles: vec![Role::Auditor],
        ..caseworker_of("leefloon")
    };
    assert!(
        store
            .statistics_extract(&p, &auditor, &plan(SPEC))
            .await
            .is_err()
    );
    // Nothing was read, so nothing was logged.
    assert!(
        store
            .statistics_extracts("leefloon")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(log_of(store, "leefloon").await.len(), before);
    // The DPO may extract from every activity.
    let dpo = Clearance {
        roles: vec![Role::Dpo],
        activities: BTreeSet::new(),
        confidentiality_signed_on: Some(date!(2026 - 01 - 05)),
    };
    let made = store
        .statistics_extract(&p, &dpo, &plan(SPEC))
        .await
        .unwrap();
    assert!(made.release.report.released);
}

async fn a_refused_release_is_logged_but_not_exported(store: &TestStore) {
    vault(store).await;
    let before = exports(&log_of(store, "leefloon").await);
    let strict = SPEC.replace("max_suppressed_share: 0.5", "max_suppressed_share: 0.2");
    let made = store
        .statistics_extract(
            &processing("els"),
            &caseworker_of("leefloon"),
            &plan(&strict),
        )
        .await
        .unwrap();
    let r = &made.release.report;
    assert!(!r.released);
    assert!(r.refusal.as_deref().unwrap().contains("37.5%"), "{r:?}");
    let logged = store.statistics_extracts("leefloon").await.unwrap();
    assert_eq!(logged.len(), 1);
    assert!(!logged[0].report.released);
    assert_eq!(logged[0].log_seq, None);
    assert_eq!(exports(&log_of(store, "leefloon").await), before);
}

async fn extracts_of_unknown_activities_or_categories_are_refused(store: &TestStore) {
    vault(store).await;
    let p = processing("els");
    let dpo = Clearance {
        roles: vec![Role::Dpo],
        activities: BTreeSet::new(),
        confidentiality_signed_on: Some(date!(2026 - 01 - 05)),
    };
    let err = store
        .statistics_extract(
            &p,
            &dpo,
            &plan(&SPEC.replace("activity: leefloon", "activity: nope")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let err = store
        .statistics_extract(
            &p,
            &dpo,
            &plan(&SPEC.replace("thresholds:", "categories: [housing]\nthresholds:")),
        )
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not record category 'housing'"),
        "{err}"
    );
    assert!(
        store
            .statistics_extracts("leefloon")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.statistics_extracts("nope").await.unwrap().is_empty());
}

/// More records than one read batch (5,000): every record is read once, whatever the
/// batch boundaries. The copies are made past the store, with raw SQL.
async fn extracts_read_every_batch(store: &TestStore) {
    vault(store).await;
    const COLUMNS: &str = "subject_id, activity_id, schedule, category, fields, source, \
         collected_on, events, provided_by_subject, extensions, deadline_kind, deadline, \
         deadline_event, version, created_at, updated_at";
    let copy = match store.backend() {
        Backend::Sqlite => format!(
            "INSERT INTO records (id, {COLUMNS}) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL \
             SELECT i + 1 FROM n WHERE i < 700) SELECT randomblob(16), {COLUMNS} \
             FROM records CROSS JOIN n WHERE category = 'financial'"
        ),
        Backend::Postgres => format!(
            "INSERT INTO records (id, {COLUMNS}) SELECT gen_random_uuid(), {COLUMNS} \
             FROM records CROSS JOIN generate_series(1, 700) WHERE category = 'financial'"
        ),
    };
    store.execute_raw(&copy).await.unwrap();
    let made = store
        .statistics_extract(&processing("els"), &caseworker_of("leefloon"), &plan(SPEC))
        .await
        .unwrap();
    let r = &made.release.report;
    assert_eq!(r.rows_in, 8 * 701);
    assert_eq!(r.persons_in, 8);
    assert_eq!(r.rows_released, 5 * 701);
    assert_eq!(r.k_achieved, 5);
}

/// People who restricted processing, or objected without compelling grounds recorded, are
/// left out of an extract; a lifted restriction and overridden objection are not. The
/// marks are written with raw SQL: how they are made is the restriction stories' subject.
async fn restricted_or_objecting_people_are_left_out(store: &TestStore) {
    let ids = vault(store).await;
    let sql_id = |id: uuid::Uuid| match store.backend() {
        Backend::Sqlite => format!("X'{}'", id.simple()),
        Backend::Postgres => format!("'{id}'"),
    };
    let mark = |table: &str, id: uuid::Uuid, subject: uuid::Uuid, rest: &str| {
        format!(
            "INSERT INTO {table} VALUES ({}, {}, 'leefloon', 'RQ-TEST-0001', \
             '2026-11-20T10:00:00Z', 'dpo', {rest})",
            sql_id(id),
            sql_id(subject)
        )
    };
    for sql in [
        // In force: ids[0] (two records) restricted, ids[1] objecting.
        mark(
            "restrictions",
            uuid::Uuid::from_u128(40961),
            ids[0],
            "NULL, NULL, NULL, NULL",
        ),
        mark(
            "objections",
            uuid::Uuid::from_u128(40962),
            ids[1],
            "NULL, NULL, NULL",
        ),
        // No longer in force: ids[2]'s objection overridden, ids[3]'s restriction lifted.
        mark(
            "objections",
            uuid::Uuid::from_u128(40963),
            ids[2],
            "'openbare veiligheid', '2026-11-21T10:00:00Z', 'dpo'",
        ),
        mark(
            "restrictions",
            uuid::Uuid::from_u128(40964),
            ids[3],
            "'2026-11-21', '2026-11-22T10:00:00Z', 'dpo', 'juistheid nagekeken'",
        ),
    ] {
        store
            .execute_raw(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let made = store
        .statistics_extract(&processing("els"), &caseworker_of("leefloon"), &plan(SPEC))
        .await
        .unwrap();
    let r = &made.release.report;
    assert_eq!(r.persons_in, 6, "{r:?}");
    assert_eq!(r.rows_in, 6, "{r:?}");
}
