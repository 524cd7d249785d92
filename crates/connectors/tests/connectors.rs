//! The connectors against real PostgreSQL and MariaDB servers (`TEST_DATABASE_URL`,
//! `TEST_MYSQL_URL`), with the HR and accounting systems of `kluis_connectors::testing`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

#[path = "connectors/affected.rs"]
mod affected;
#[path = "connectors/pool.rs"]
mod pool;
#[path = "connectors/rectify.rs"]
mod rectify;
#[path = "connectors/restrict.rs"]
mod restrict;

use kluis_connectors::testing::{self, people};
use kluis_connectors::{
    ConnectorError, Hit, PersonQuery, System, SystemErasureReport, TableErasureReport, check,
    erase_person, erase_person_all, expired, find, find_all, sweep_all, sweep_expired,
    sweep_expired_logged,
};
use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::{
    Column, ColumnErasure, ColumnRef, Link, RetentionPeriods, Table, TableErasure, TableRetention,
};
use kluis_domain::identifiers::{EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::trace::TraceContext;
use serde_json::{Value, json};

fn email(s: &str) -> PersonQuery {
    PersonQuery::new().email(&s.parse::<EmailAddress>().unwrap())
}

fn national_number(s: &str) -> PersonQuery {
    PersonQuery::new().national_number(&s.parse::<NationalNumber>().unwrap())
}

/// No one under a legal hold.
fn nobody() -> PersonQuery {
    PersonQuery::new()
}

/// Rows per table.
fn per_table(hits: &[Hit]) -> BTreeMap<&str, usize> {
    let mut counts = BTreeMap::new();
    for h in hits {
        *counts.entry(h.table.as_str()).or_default() += 1;
    }
    counts
}

fn value<'a>(hit: &'a Hit, column: &str) -> &'a Value {
    &hit.columns
        .iter()
        .find(|c| c.name == column)
        .unwrap_or_else(|| panic!("{column} not in {hit:?}"))
        .value
}

fn key(hit: &Hit) -> &str {
    &hit.primary_key[0].1
}

fn keys<'a>(hits: &'a [Hit], table: &str) -> Vec<&'a str> {
    hits.iter().filter(|h| h.table == table).map(key).collect()
}

fn table(columns: &[(&str, Column)], link: Option<(&str, &str, &str)>) -> Table {
    Table {
        primary_key: vec![],
        link: link.map(|(column, table, references)| Link {
            column: column.into(),
            references: ColumnRef {
                table: table.into(),
                column: references.into(),
            },
        }),
        columns: columns
            .iter()
            .map(|(n, c)| (n.to_string(), c.clone()))
            .collect(),
        erasure: Some(TableErasure::DeleteRow),
        retention: None,
        restriction: None,
        provided_by_subject: false,
    }
}

fn identifying(kind: IdentifierKind) -> Column {
    Column {
        identifies: Some(kind),
        ..Column::of(DataCategory::Contact)
    }
}

#[tokio::test]
async fn check_passes_on_the_good_maps() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    for system in [hr.system(), accounting.system()] {
        let report = check(system).await.unwrap();
        assert!(report.is_ok(), "{report}");
        assert!(
            report.notes.is_empty(),
            "every link is a foreign key: {report}"
        );
        assert!(report.to_string().contains("the map matches"), "{report}");
    }
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn check_names_what_is_missing_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let mut map = testing::hr_map();
    let documents = map.tables.get_mut("documents").unwrap();
    let uploaded = documents.columns.remove("uploaded_at").unwrap();
    documents.columns.insert("uploaded_on".into(), uploaded);
    map.tables.insert(
        "salaries".into(),
        table(
            &[("amount", Column::of(DataCategory::Financial))],
            Some(("applicant_id", "applicants", "id")),
        ),
    );
    map.tables.get_mut("interview_notes").unwrap().link = Some(Link {
        column: "application".into(),
        references: ColumnRef {
            table: "applications".into(),
            column: "uuid".into(),
        },
    });
    // An identifying column that is not text.
    map.tables
        .get_mut("applicants")
        .unwrap()
        .columns
        .insert("birth_date".into(), identifying(IdentifierKind::Phone));

    let report = check(&hr.with_map(map)).await.unwrap();
    assert!(!report.is_ok());
    let all = report.mismatches.join("\n");
    assert!(all.contains("table hr.salaries does not exist"), "{all}");
    assert!(
        all.contains("table hr.documents has no column 'uploaded_on'")
            && all.contains("uploaded_at"),
        "names the missing column and what there is: {all}"
    );
    assert!(
        all.contains("no column 'application' for its link"),
        "{all}"
    );
    assert!(all.contains("links to applications.uuid"), "{all}");
    assert!(
        all.contains("birth_date identifies by phone but is of type date"),
        "{all}"
    );
    assert_eq!(report.mismatches.len(), 5, "{all}");
    hr.cleanup().await;
}

#[tokio::test]
async fn check_names_what_is_missing_on_mariadb_and_notes_links_without_foreign_key() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // A table that refers to suppliers without a foreign key, as older schemas do.
    accounting
        .execute(
            "CREATE TABLE contracts (id INT AUTO_INCREMENT PRIMARY KEY, supplier_ref INT, \
             subject VARCHAR(200)); INSERT INTO contracts (supplier_ref, subject) VALUES (1, 'Raamcontract opleidingen')",
        )
        .await;
    let mut map = testing::accounting_map();
    map.tables.insert(
        "contracts".into(),
        table(
            &[("subject", Column::of(DataCategory::CaseFile))],
            Some(("supplier_ref", "suppliers", "id")),
        ),
    );
    let system = accounting.with_map(map.clone());
    let report = check(&system).await.unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.notes.len(), 1, "{report}");
    assert!(report.notes[0].contains("contracts.supplier_ref → suppliers.id is not a foreign key"));
    // The link is followed all the same.
    let hits = find(&system, &email(people::AN_EMAIL), None).await.unwrap();
    assert_eq!(keys(&hits, "contracts"), ["1"]);

    map.tables
        .get_mut("payments")
        .unwrap()
        .columns
        .remove("iban");
    map.tables
        .get_mut("payments")
        .unwrap()
        .columns
        .insert("bank_account".into(), Column::of(DataCategory::Financial));
    map.tables
        .insert("Invoices".into(), map.tables["invoices"].clone());
    let report = check(&accounting.with_map(map)).await.unwrap();
    let all = report.mismatches.join("\n");
    assert!(
        all.contains("table payments has no column 'bank_account'"),
        "{all}"
    );
    assert!(all.contains("table Invoices does not exist"), "{all}");
    accounting.cleanup().await;
}

#[tokio::test]
async fn find_follows_foreign_keys_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    // An's e-mail is stored as An.Peeters@Example.BE.
    let hits = find(hr.system(), &email(people::AN_EMAIL), None)
        .await
        .unwrap();
    assert_eq!(
        per_table(&hits),
        BTreeMap::from([
            ("applicants", 1),
            ("applications", 2),
            ("documents", 2),
            ("interview_notes", 1)
        ]),
        "{hits:#?}"
    );
    // Bram's application (3), note (2) and document are not An's.
    assert_eq!(keys(&hits, "applications"), ["1", "2"]);
    assert_eq!(keys(&hits, "interview_notes"), ["1"]);
    assert!(
        hits.iter()
            .all(|h| h.matched == BTreeSet::from([IdentifierKind::Email]))
    );

    // Values keep their type.
    let applicant = &hits.iter().find(|h| h.table == "applicants").unwrap();
    assert_eq!(value(applicant, "first_name"), &json!("An"));
    assert_eq!(value(applicant, "birth_date"), &json!("1985-07-30"));
    assert_eq!(
        value(applicant, "national_number"),
        &json!("85.07.30-033.28")
    );
    assert!(
        applicant
            .categories()
            .contains(&DataCategory::NationalNumber)
    );
    let first = hits
        .iter()
        .find(|h| h.table == "applications" && key(h) == "1")
        .unwrap();
    assert_eq!(value(first, "expected_salary"), &json!("3100.50"));
    assert_eq!(value(first, "submitted_at"), &json!("2024-03-10T13:00:00Z"));
    let second = hits
        .iter()
        .find(|h| h.table == "applications" && key(h) == "2")
        .unwrap();
    assert_eq!(value(second, "motivation"), &Value::Null);
    let note = hits.iter().find(|h| h.table == "interview_notes").unwrap();
    assert_eq!(value(note, "score"), &json!(6));
    assert_eq!(value(note, "held_on"), &json!("2024-03-20"));
    let uploads: Vec<&Value> = hits
        .iter()
        .filter(|h| h.table == "documents")
        .map(|h| value(h, "uploaded_at"))
        .collect();
    assert!(
        uploads.contains(&&json!("2024-04-03T09:29:30.5")),
        "{uploads:?}"
    );
    let document = hits.iter().find(|h| h.table == "documents").unwrap();
    assert_eq!(document.primary_key[0].0, "id");
    assert_eq!(document.primary_key[0].1.len(), 36, "a uuid as text");

    // The same rows by national number, and by phone; both kinds when both are given.
    let by_number = find(
        hr.system(),
        &national_number(people::AN_NATIONAL_NUMBER),
        None,
    )
    .await
    .unwrap();
    assert_eq!(per_table(&by_number), per_table(&hits));
    assert!(
        by_number
            .iter()
            .all(|h| h.matched == BTreeSet::from([IdentifierKind::NationalNumber]))
    );
    let phone = PhoneNumber::parse_with_default(people::AN_PHONE, "32").unwrap();
    let by_phone = find(hr.system(), &PersonQuery::new().phone(&phone), None)
        .await
        .unwrap();
    assert_eq!(per_table(&by_phone), per_table(&hits));
    let both =
        email(people::AN_EMAIL).national_number(&people::AN_NATIONAL_NUMBER.parse().unwrap());
    let by_both = find(hr.system(), &both, None).await.unwrap();
    assert_eq!(by_both.len(), hits.len());
    assert!(by_both.iter().all(|h| h.matched.len() == 2), "{by_both:#?}");

    // Bram has his own rows only.
    let bram = find(
        hr.system(),
        &national_number(people::BRAM_NATIONAL_NUMBER),
        None,
    )
    .await
    .unwrap();
    assert_eq!(keys(&bram, "applications"), ["3"]);
    assert_eq!(keys(&bram, "interview_notes"), ["2"]);
    assert_eq!(bram.len(), 4);
    hr.cleanup().await;
}

#[tokio::test]
async fn find_follows_foreign_keys_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let hits = find(
        accounting.system(),
        &national_number(people::AN_NATIONAL_NUMBER),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        per_table(&hits),
        BTreeMap::from([("invoices", 2), ("payments", 1), ("suppliers", 1)]),
        "{hits:#?}"
    );
    assert_eq!(keys(&hits, "invoices"), ["1", "2"]);
    assert!(
        hits.iter()
            .all(|h| h.matched == BTreeSet::from([IdentifierKind::NationalNumber]))
    );
    let invoice = hits.iter().find(|h| h.table == "invoices").unwrap();
    assert_eq!(value(invoice, "amount"), &json!("450.00"));
    assert_eq!(value(invoice, "invoice_date"), &json!("2024-02-01"));
    let payment = hits.iter().find(|h| h.table == "payments").unwrap();
    assert_eq!(
        value(payment, "paid_at"),
        &json!("2024-02-20T10:00:00.125000")
    );

    let dirk = find(
        accounting.system(),
        &national_number(people::DIRK_NATIONAL_NUMBER),
        None,
    )
    .await
    .unwrap();
    assert_eq!(keys(&dirk, "invoices"), ["3"]);
    assert_eq!(keys(&dirk, "payments"), ["2"]);
    accounting.cleanup().await;
}

#[tokio::test]
async fn email_is_matched_without_regard_to_case() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // Stored as An.Peeters@Example.BE in HR and Chloe.Dubois@Example.be in accounting;
    // typed in capitals, normalised by the domain.
    let an = find(hr.system(), &email("AN.PEETERS@example.BE"), None)
        .await
        .unwrap();
    assert_eq!(keys(&an, "applicants"), ["1"]);
    let chloe = find(accounting.system(), &email("CHLOE.dubois@EXAMPLE.be"), None)
        .await
        .unwrap();
    assert_eq!(
        per_table(&chloe),
        BTreeMap::from([("invoices", 1), ("payments", 1), ("suppliers", 1)])
    );
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_system_fails_alone() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let down = System::new(testing::hr_map(), "postgres://kluis:s3cret@127.0.0.1:1/hr").unwrap();
    let results = find_all(
        &[down, accounting.system().clone()],
        &email(people::AN_EMAIL),
        None,
    )
    .await;
    assert_eq!(results[0].system, "hr");
    let error = results[0].result.as_ref().unwrap_err();
    assert!(
        matches!(error, ConnectorError::Unreachable { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(
        message.contains("system 'hr'") && message.contains("127.0.0.1:1"),
        "{message}"
    );
    assert!(
        message.contains("kluis:****@") && !message.contains("s3cret"),
        "{message}"
    );
    assert!(
        message.contains("[systems.hr]"),
        "says where to look: {message}"
    );

    assert_eq!(results[1].system, "accounting");
    let hits = results[1].result.as_ref().unwrap();
    assert_eq!(hits.len(), 4);
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    // Accepts connections (the kernel does) and never says a word.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for url in [
        format!("postgres://kluis@127.0.0.1:{port}/hr"),
        format!("mysql://kluis@127.0.0.1:{port}/accounting"),
    ] {
        let map = if url.starts_with("postgres") {
            testing::hr_map()
        } else {
            testing::accounting_map()
        };
        let system = System::new(map, &url)
            .unwrap()
            .with_connect_timeout(Duration::from_millis(300));
        let error = check(&system).await.unwrap_err();
        assert!(matches!(error, ConnectorError::Timeout { .. }), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("did not answer within 300ms while connecting"),
            "{error}"
        );
    }
    drop(listener);
}

#[tokio::test]
async fn sql_in_a_searched_value_finds_nothing_and_harms_nothing() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    for attempt in [
        "x'or'1'='1@example.be",
        "';drop/**/table/**/hr.applicants;--@x.be",
        "\\'or`1`=`1`--@x.be",
        "an.peeters@example.be'--",
    ] {
        let query = email(attempt);
        for system in [hr.system(), accounting.system()] {
            let hits = find(system, &query, None).await.unwrap();
            assert!(hits.is_empty(), "{attempt}: {hits:?}");
        }
    }
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applicants").await,
        "3"
    );
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM suppliers")
            .await,
        "4"
    );
    assert!(check(hr.system()).await.unwrap().is_ok());
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn names_not_in_the_live_schema_are_refused_before_any_query() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let mut map = testing::hr_map();
    let hostile_table = "applicants\" WHERE true; DROP TABLE hr.vacancies; --";
    map.tables.insert(
        hostile_table.into(),
        table(&[("email", identifying(IdentifierKind::Email))], None),
    );
    map.tables.get_mut("applicants").unwrap().columns.insert(
        "email\" IS NOT NULL OR \"email".into(),
        identifying(IdentifierKind::Email),
    );
    let error = find(&hr.with_map(map), &email(people::AN_EMAIL), None)
        .await
        .unwrap_err();
    let ConnectorError::SchemaMismatch { mismatches, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(mismatches.len(), 2, "{error}");
    assert!(
        error.to_string().contains("DROP TABLE hr.vacancies; --"),
        "{error}"
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.vacancies").await,
        "2"
    );
    hr.cleanup().await;
}

#[tokio::test]
async fn the_traceparent_travels_with_every_statement() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // Views that show the text of the statement reading them.
    hr.execute(
        "CREATE VIEW hr.statement_probe AS SELECT id, email, current_query() AS statement FROM hr.applicants",
    )
    .await;
    accounting
        .execute(
            "CREATE VIEW statement_probe AS SELECT id, email, \
             (SELECT INFO FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()) AS statement \
             FROM suppliers",
        )
        .await;
    let trace =
        TraceContext::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
    for (system, map) in [
        (&hr, testing::hr_map()),
        (&accounting, testing::accounting_map()),
    ] {
        let mut map = map;
        let mut probe = table(
            &[
                ("email", identifying(IdentifierKind::Email)),
                ("statement", Column::of(DataCategory::Usage)),
            ],
            None,
        );
        probe.primary_key = vec!["id".into()];
        map.tables.insert("statement_probe".into(), probe);
        let hits = find(
            &system.with_map(map),
            &email(people::AN_EMAIL),
            Some(&trace),
        )
        .await
        .unwrap();
        let probe = hits.iter().find(|h| h.table == "statement_probe").unwrap();
        let statement = value(probe, "statement").as_str().unwrap_or_default();
        assert!(
            statement.starts_with(
                "/* traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' */ SELECT"
            ),
            "{statement}"
        );
    }
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn bulk_rows_are_added_and_stay_apart() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    assert_eq!(hr.fill(500).await, 2000);
    assert_eq!(accounting.fill(500).await, 1500);
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.documents").await,
        "503"
    );
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM payments")
            .await,
        "504"
    );
    let hits = find_all(
        &[hr.system().clone(), accounting.system().clone()],
        &national_number(people::AN_NATIONAL_NUMBER),
        None,
    )
    .await;
    assert_eq!(hits[0].result.as_ref().unwrap().len(), 6);
    assert_eq!(hits[1].result.as_ref().unwrap().len(), 4);
    // A bulk person is found like anyone else.
    let bulk = find(hr.system(), &email("persoon250@bulk.example"), None)
        .await
        .unwrap();
    assert_eq!(bulk.len(), 4, "{bulk:#?}");
    assert!(check(hr.system()).await.unwrap().is_ok());
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn bad_input_is_refused_with_a_reason() {
    let error = find(
        &System::new(testing::hr_map(), "postgres://127.0.0.1:1/hr").unwrap(),
        &PersonQuery::new(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(error, ConnectorError::EmptyQuery);

    let error = System::new(testing::hr_map(), "mysql://u:pw@db/hr").unwrap_err();
    assert!(matches!(error, ConnectorError::BadUrl { .. }), "{error:?}");
    assert!(
        error.to_string().contains("postgres://") && !error.to_string().contains("pw@"),
        "{error}"
    );

    let mut map = testing::hr_map();
    map.tables.get_mut("documents").unwrap().link = None;
    let error = System::new(map, "postgres://db/hr").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("'documents' has no column that identifies"),
        "{error}"
    );
}

#[tokio::test]
async fn a_query_by_an_identifier_no_table_holds_finds_nothing() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let bsn = PersonQuery::new().bsn(&"111222333".parse().unwrap());
    assert!(
        find(accounting.system(), &bsn, None)
            .await
            .unwrap()
            .is_empty()
    );
    accounting.cleanup().await;
}

// ---- Erasure: the retention sweep and the erasure of a person ----

/// The day the sweeps of these tests run: An's rejected application (closed 2024-03-29,
/// kept 1 year) and Dirk's supplier record (ended 2014-06-30, kept 10 years) are due.
const TODAY: time::Date = time::macros::date!(2026 - 01 - 01);

fn periods(map: &kluis_domain::dataset_map::DatasetMap) -> RetentionPeriods {
    map.retention_periods(&testing::schedules())
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// (deleted, anonymised, kept, failed) of a table in a report.
fn counts(report: &SystemErasureReport, table: &str) -> (u64, u64, u64, u64) {
    report.table(table).map_or((0, 0, 0, 0), |t| {
        (t.deleted, t.anonymised, t.kept, t.failed)
    })
}

#[tokio::test]
async fn the_sweep_deletes_expired_applications_and_what_links_to_them_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let system = hr.system();
    let periods = periods(system.map());
    let count = |table: &'static str| {
        let hr = &hr;
        async move {
            hr.scalar(&format!("SELECT count(*)::text FROM hr.{table}"))
                .await
        }
    };

    // The plan and a dry run count, and change nothing.
    let plan = expired(system, &periods, &nobody(), TODAY).await.unwrap();
    let planned: BTreeMap<&str, u64> = plan.iter().map(|t| (t.table.as_str(), t.deleted)).collect();
    assert_eq!(
        planned,
        BTreeMap::from([
            ("applications", 1),
            ("documents", 1),
            ("interview_notes", 1)
        ])
    );
    let dry = sweep_expired(system, &periods, &nobody(), TODAY, 100, true).await;
    assert!(dry.dry_run && dry.is_complete(), "{dry}");
    assert_eq!(dry.deleted(), 3, "{dry}");
    assert_eq!(count("applications").await, "4");
    assert_eq!(count("documents").await, "3");

    let report = sweep_expired(system, &periods, &nobody(), TODAY, 1, false).await;
    assert!(report.is_complete(), "{report}");
    assert!(!report.dry_run);
    assert_eq!(counts(&report, "applications"), (1, 0, 0, 0), "{report}");
    assert_eq!(counts(&report, "interview_notes"), (1, 0, 0, 0), "{report}");
    assert_eq!(counts(&report, "documents"), (1, 0, 0, 0), "{report}");
    let retention = report
        .table("documents")
        .unwrap()
        .retention
        .as_ref()
        .unwrap();
    assert_eq!(retention.table, "applications");
    assert_eq!(retention.from, "closed_on");
    assert_eq!(retention.activity.as_deref(), Some("recruitment"));
    assert_eq!(retention.schedule.as_deref(), Some("reserve"));
    assert_eq!(retention.dated_before, time::macros::date!(2025 - 01 - 01));
    assert!(
        report.to_string().contains("applications: 1 deleted"),
        "{report}"
    );

    // An's open application, Bram's successful one (closed the same day) and Chloé's
    // stay, with everything that links to them; so do the applicants.
    assert_eq!(
        hr.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM hr.applications")
            .await,
        "2,3,4"
    );
    assert_eq!(
        hr.scalar(
            "SELECT string_agg(application_id::text, ',' ORDER BY application_id) FROM hr.documents"
        )
        .await,
        "2,3"
    );
    assert_eq!(count("interview_notes").await, "1");
    assert_eq!(count("applicants").await, "3");

    // Again: nothing more to do. Before the deadline: nothing due.
    let again = sweep_expired(system, &periods, &nobody(), TODAY, 1, false).await;
    assert!(again.is_complete(), "{again}");
    assert_eq!(again.deleted() + again.anonymised(), 0, "{again}");
    let early = sweep_expired(
        system,
        &periods,
        &nobody(),
        time::macros::date!(2025 - 03 - 29),
        10,
        false,
    )
    .await;
    assert_eq!(early.deleted(), 0, "{early}");
    assert!(check(system).await.unwrap().is_ok());
    hr.cleanup().await;
}

#[tokio::test]
async fn the_sweep_anonymises_and_keeps_what_the_law_requires_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let system = accounting.system();
    let periods = periods(system.map());
    let report = sweep_expired(system, &periods, &nobody(), TODAY, 10, false).await;
    assert!(report.is_complete(), "{report}");
    // Dirk's record ended 2014-06-30; the printer is a company and is not touched.
    assert_eq!(counts(&report, "suppliers"), (0, 1, 0, 0), "{report}");
    assert_eq!(counts(&report, "invoices"), (0, 0, 1, 0), "{report}");
    assert_eq!(counts(&report, "payments"), (0, 0, 1, 0), "{report}");
    let kept = &report.table("invoices").unwrap().kept_because;
    assert!(kept[0].contains("Code of Economic Law"), "{kept:?}");
    let suppliers = &report.table("suppliers").unwrap().kept_because;
    assert!(
        suppliers
            .iter()
            .any(|k| k.starts_with("suppliers.national_number: Tax form")),
        "{suppliers:?}"
    );
    let retention = report
        .table("suppliers")
        .unwrap()
        .retention
        .as_ref()
        .unwrap();
    assert_eq!(retention.schedule, None);
    assert_eq!(retention.activity.as_deref(), Some("supplier-payments"));
    assert!(
        retention.rule.contains("10 years after suppliers.ended_on"),
        "{retention:?}"
    );

    let row = |id: u32| {
        let accounting = &accounting;
        async move {
            accounting
                .scalar(&format!(
                    "SELECT CONCAT_WS('|', name, email, phone, COALESCE(street, 'NULL'), COALESCE(city, 'NULL'), national_number, iban) FROM suppliers WHERE id = {id}"
                ))
                .await
        }
    };
    assert_eq!(
        row(2).await,
        "erased supplier|erased@invalid.example|+0|NULL|NULL|75010100196|BE71096123456769"
    );
    assert!(row(3).await.starts_with("Drukkerij Vandenberghe NV|"));
    assert!(row(1).await.starts_with("An Peeters"));
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM payments")
            .await,
        "4"
    );

    // Dirk's record is finished: a second run and the plan find nothing more, neither to
    // anonymise nor to count as kept. A new supplier whose relationship ended is found.
    let again = sweep_expired(system, &periods, &nobody(), TODAY, 10, false).await;
    assert!(again.is_complete(), "{again}");
    assert_eq!(
        again.anonymised() + again.deleted() + again.kept(),
        0,
        "{again}"
    );
    let plan = expired(system, &periods, &nobody(), TODAY).await.unwrap();
    assert_eq!(
        plan.iter().map(|t| t.anonymised + t.kept).sum::<u64>(),
        0,
        "{plan:?}"
    );
    accounting
        .execute("UPDATE suppliers SET ended_on = '2015-12-31' WHERE id = 4")
        .await;
    let plan = expired(system, &periods, &nobody(), TODAY).await.unwrap();
    let planned: Vec<(&str, u64, u64)> = plan
        .iter()
        .map(|t| (t.table.as_str(), t.anonymised, t.kept))
        .collect();
    assert_eq!(
        planned,
        [("payments", 0, 1), ("invoices", 0, 1), ("suppliers", 1, 0)]
    );
    accounting.cleanup().await;
}

#[tokio::test]
async fn the_sweep_leaves_the_rows_of_held_people_until_the_hold_is_lifted_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let system = hr.system();
    let periods = periods(system.map());
    let applications = || {
        let hr = &hr;
        async move {
            hr.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM hr.applications")
                .await
        }
    };
    // Bram's application was rejected as well: An's and Bram's are both due.
    hr.execute("UPDATE hr.applications SET status = 'rejected' WHERE id = 3")
        .await;
    // A hold on An, known in kluis by her national number and phone (Bram has no phone:
    // a NULL does not make his row held). Her applications are found through the
    // applicant they link to.
    let held = national_number(people::AN_NATIONAL_NUMBER)
        .phone(&people::AN_PHONE.parse::<PhoneNumber>().unwrap());

    let plan = expired(system, &periods, &held, TODAY).await.unwrap();
    let planned: BTreeMap<&str, (u64, u64)> = plan
        .iter()
        .map(|t| (t.table.as_str(), (t.deleted, t.held)))
        .collect();
    assert_eq!(
        planned,
        BTreeMap::from([
            ("applications", (1, 1)),
            ("documents", (1, 1)),
            ("interview_notes", (1, 1))
        ])
    );
    let report = sweep_expired(system, &periods, &held, TODAY, 1, false).await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(counts(&report, "applications"), (1, 0, 0, 0), "{report}");
    assert_eq!(counts(&report, "documents"), (1, 0, 0, 0), "{report}");
    assert_eq!(report.table("applications").unwrap().held, 1, "{report}");
    assert_eq!(report.held(), 3, "{report}");
    assert!(
        report
            .to_string()
            .contains("1 deleted, 0 anonymised, 0 kept, 1 held (legal hold)"),
        "{report}"
    );
    // Bram's went with its note and document; An's expired application stays whole.
    assert_eq!(applications().await, "1,2,4");
    assert_eq!(
        hr.scalar(
            "SELECT string_agg(application_id::text, ',' ORDER BY application_id) FROM hr.documents"
        )
        .await,
        "1,2"
    );
    assert_eq!(
        hr.scalar("SELECT string_agg(application_id::text, ',') FROM hr.interview_notes")
            .await,
        "1"
    );

    // While the hold lasts, every run leaves it; held by e-mail, in another case, too.
    let by_email = email("AN.PEETERS@example.be");
    let again = sweep_expired(system, &periods, &by_email, TODAY, 10, false).await;
    assert!(again.is_complete(), "{again}");
    assert_eq!((again.deleted(), again.held()), (0, 3), "{again}");
    assert_eq!(applications().await, "1,2,4");

    // Lifted: the next sweep removes it.
    let lifted = sweep_expired(system, &periods, &nobody(), TODAY, 10, false).await;
    assert!(lifted.is_complete(), "{lifted}");
    assert_eq!(counts(&lifted, "applications"), (1, 0, 0, 0), "{lifted}");
    assert_eq!(lifted.held(), 0, "{lifted}");
    assert_eq!(applications().await, "2,4");
    hr.cleanup().await;
}

#[tokio::test]
async fn a_row_linking_to_a_due_row_and_naming_a_held_person_keeps_it_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    // A document that names who uploaded it: held, it keeps the application it belongs
    // to (and so the application's other rows), though the applicant is not held.
    hr.execute(
        "ALTER TABLE hr.documents ADD COLUMN uploaded_by text; \
         UPDATE hr.documents SET uploaded_by = 'clerk@example.be' WHERE application_id = 1",
    )
    .await;
    let mut map = testing::hr_map();
    map.tables
        .get_mut("documents")
        .unwrap()
        .columns
        .insert("uploaded_by".into(), identifying(IdentifierKind::Email));
    let system = hr.with_map(map);
    let periods = periods(system.map());
    let report = sweep_expired(
        &system,
        &periods,
        &email("clerk@example.be"),
        TODAY,
        10,
        false,
    )
    .await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.deleted(), 0, "{report}");
    assert_eq!(report.table("applications").unwrap().held, 1, "{report}");
    assert_eq!(report.held(), 3, "{report}");
    let lifted = sweep_expired(&system, &periods, &nobody(), TODAY, 10, false).await;
    assert_eq!(counts(&lifted, "applications"), (1, 0, 0, 0), "{lifted}");
    hr.cleanup().await;
}

#[tokio::test]
async fn a_held_supplier_is_not_anonymised_until_the_hold_is_lifted_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let system = accounting.system();
    let periods = periods(system.map());
    let dirk = || {
        let accounting = &accounting;
        async move {
            accounting
                .scalar("SELECT CONCAT_WS('|', name, email) FROM suppliers WHERE id = 2")
                .await
        }
    };
    // Dirk is held by his national number, which the suppliers table holds itself.
    let held = national_number(people::DIRK_NATIONAL_NUMBER);
    let plan = expired(system, &periods, &held, TODAY).await.unwrap();
    let planned: Vec<(&str, u64, u64, u64)> = plan
        .iter()
        .map(|t| (t.table.as_str(), t.anonymised, t.kept, t.held))
        .collect();
    assert_eq!(
        planned,
        [
            ("payments", 0, 0, 1),
            ("invoices", 0, 0, 1),
            ("suppliers", 0, 0, 1)
        ]
    );
    let report = sweep_expired(system, &periods, &held, TODAY, 10, false).await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.anonymised() + report.deleted(), 0, "{report}");
    assert_eq!(report.table("suppliers").unwrap().held, 1, "{report}");
    assert_eq!(dirk().await, "Dirk Claes|dirk.claes@example.be");

    // Lifted: the next sweep anonymises him.
    let report = sweep_expired(system, &periods, &nobody(), TODAY, 10, false).await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(counts(&report, "suppliers"), (0, 1, 0, 0), "{report}");
    assert_eq!(report.held(), 0, "{report}");
    assert_eq!(dirk().await, "erased supplier|erased@invalid.example");
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_batch_that_fails_stops_the_sweep_and_the_next_run_resumes_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // Payments deleted a year after they were made (a datetime column), one a batch.
    let mut map = testing::accounting_map();
    map.tables.get_mut("suppliers").unwrap().retention = None;
    let payments = map.tables.get_mut("payments").unwrap();
    payments.erasure = Some(TableErasure::DeleteRow);
    payments.retention = Some(TableRetention {
        from: "paid_at".into(),
        schedule: None,
        activity: None,
        period: Some("1 year".parse().unwrap()),
        only_where: None,
    });
    let system = accounting.with_map(map.clone());
    let periods = map.retention_periods(&BTreeMap::new()).unwrap();
    // The other application refuses to let payment 3 go.
    accounting
        .execute(
            "CREATE TRIGGER payments_guard BEFORE DELETE ON payments FOR EACH ROW \
             IF OLD.id = 3 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'payment 3 is under audit'; END IF",
        )
        .await;
    let report = sweep_expired(&system, &periods, &nobody(), TODAY, 1, false).await;
    let error = report
        .error
        .as_ref()
        .unwrap_or_else(|| panic!("the batch of payment 3 failed: {report}"));
    assert!(matches!(error, ConnectorError::Query { .. }), "{error:?}");
    assert!(
        error.to_string().contains("payment 3 is under audit"),
        "{error}"
    );
    assert_eq!(counts(&report, "payments"), (2, 0, 0, 1), "{report}");
    assert!(report.to_string().contains("1 failed"), "{report}");
    // Whole batches were committed: payments 1 and 2 went, 3 and 4 are still there.
    let left = || async {
        accounting
            .scalar("SELECT CAST(GROUP_CONCAT(id ORDER BY id) AS CHAR) FROM payments")
            .await
    };
    assert_eq!(left().await, "3,4");

    accounting.execute("DROP TRIGGER payments_guard").await;
    let resumed = sweep_expired(&system, &periods, &nobody(), TODAY, 1, false).await;
    assert!(resumed.is_complete(), "{resumed}");
    assert_eq!(counts(&resumed, "payments"), (2, 0, 0, 0), "{resumed}");
    assert_eq!(left().await, "");

    // Deleting invoices while their payments are kept would leave payments behind: refused
    // before anything changes.
    map.tables.get_mut("invoices").unwrap().erasure = Some(TableErasure::DeleteRow);
    let mut by_invoice_date = map.tables["payments"].retention.clone().unwrap();
    by_invoice_date.from = "invoice_date".into();
    map.tables.get_mut("invoices").unwrap().retention = Some(by_invoice_date);
    map.tables.get_mut("payments").unwrap().erasure =
        Some(TableErasure::Keep("Bookkeeping".into()));
    map.tables.get_mut("payments").unwrap().retention = None;
    let system = accounting.with_map(map.clone());
    let periods = map.retention_periods(&BTreeMap::new()).unwrap();
    let report = sweep_expired(&system, &periods, &nobody(), TODAY, 10, false).await;
    let error = report.error.as_ref().unwrap().to_string();
    assert!(
        error.contains("rows of table 'invoices' are deleted, but the rows of 'payments'"),
        "{error}"
    );
    assert_eq!(report.deleted(), 0);
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM invoices")
            .await,
        "5"
    );
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_failure_half_way_is_reported_and_resumed_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    // Ten more rejected applicants, closed long ago.
    hr.fill(10).await;
    hr.execute(
        "UPDATE hr.applications SET status = 'rejected', closed_on = '2024-01-01' WHERE id > 4",
    )
    .await;
    let system = hr.system();
    let periods = periods(system.map());
    assert_eq!(
        expired(system, &periods, &nobody(), TODAY).await.unwrap()[0..3]
            .iter()
            .map(|t| t.deleted)
            .sum::<u64>(),
        33
    );
    // A document the other application will not let go (application 9's).
    hr.execute(
        "CREATE FUNCTION hr.guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           IF OLD.application_id = 9 THEN RAISE EXCEPTION 'document of application 9 is on legal hold'; END IF; \
           RETURN OLD; END $$; \
         CREATE TRIGGER documents_guard BEFORE DELETE ON hr.documents FOR EACH ROW EXECUTE FUNCTION hr.guard();",
    )
    .await;
    let report = sweep_expired(system, &periods, &nobody(), TODAY, 3, false).await;
    let error = report
        .error
        .as_ref()
        .expect("the batch with application 9 failed");
    assert!(error.to_string().contains("system 'hr'"), "{error}");
    assert!(error.to_string().contains("legal hold"), "{error}");
    // Batches of three applications: (1, 5, 6) and (7, 8, 9)... the second failed whole.
    assert_eq!(counts(&report, "applications"), (3, 0, 0, 3), "{report}");
    assert_eq!(counts(&report, "documents"), (3, 0, 0, 0), "{report}");
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications WHERE id IN (7, 8, 9)")
            .await,
        "3"
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.documents WHERE application_id IN (7, 8, 9)")
            .await,
        "3",
        "the failed batch was rolled back whole"
    );

    hr.execute("DROP TRIGGER documents_guard ON hr.documents")
        .await;
    let resumed = sweep_expired(system, &periods, &nobody(), TODAY, 3, false).await;
    assert!(resumed.is_complete(), "{resumed}");
    assert_eq!(counts(&resumed, "applications"), (8, 0, 0, 0), "{resumed}");
    assert_eq!(
        hr.scalar("SELECT string_agg(id::text, ',' ORDER BY id) FROM hr.applications")
            .await,
        "2,3,4"
    );

    // A column the retention needs was dropped: refused, and `systems check` says so.
    hr.execute("ALTER TABLE hr.applications DROP COLUMN closed_on")
        .await;
    let report = sweep_expired(system, &periods, &nobody(), TODAY, 3, false).await;
    let error = report.error.as_ref().unwrap();
    assert!(
        matches!(error, ConnectorError::SchemaMismatch { .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("no column 'closed_on', the date its retention starts from"),
        "{error}"
    );
    let checked = check(system).await.unwrap();
    assert!(!checked.is_ok());
    assert!(checked.to_string().contains("closed_on"), "{checked}");
    hr.cleanup().await;
}

#[tokio::test]
async fn a_foreign_key_the_map_does_not_describe_stops_the_sweep_before_any_change() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    hr.execute(
        "CREATE TABLE hr.salary_proposals (id bigint PRIMARY KEY, \
           application_id bigint REFERENCES hr.applications (id) ON DELETE CASCADE, amount numeric); \
         INSERT INTO hr.salary_proposals VALUES (1, 1, 3000)",
    )
    .await;
    let system = hr.system();
    let periods = periods(system.map());
    for dry_run in [true, false] {
        let report = sweep_expired(system, &periods, &nobody(), TODAY, 10, dry_run).await;
        let error = report.error.as_ref().expect("refused");
        assert!(
            matches!(error, ConnectorError::InvalidMap { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.contains("table 'salary_proposals' refers to 'applications'")
                && text.contains("does not describe"),
            "{text}"
        );
        assert_eq!(report.deleted(), 0);
    }
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.salary_proposals")
            .await,
        "1"
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications")
            .await,
        "4"
    );
    hr.cleanup().await;
}

#[tokio::test]
async fn check_refuses_a_retention_date_that_is_not_a_date() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let mut map = testing::hr_map();
    map.tables
        .get_mut("applications")
        .unwrap()
        .retention
        .as_mut()
        .unwrap()
        .from = "status".into();
    let report = check(&hr.with_map(map)).await.unwrap();
    assert_eq!(report.mismatches.len(), 1, "{report}");
    assert!(
        report.mismatches[0].contains("hr.applications.status is of type text")
            && report.mismatches[0].contains("must be a date"),
        "{report}"
    );
    let mut map = testing::accounting_map();
    let retention = map
        .tables
        .get_mut("suppliers")
        .unwrap()
        .retention
        .as_mut()
        .unwrap();
    retention.only_where.as_mut().unwrap().column = "is_person".into();
    retention.from = "created_at".into(); // a TIMESTAMP: fine
    let report = check(&accounting.with_map(map)).await.unwrap();
    assert_eq!(report.mismatches.len(), 1, "{report}");
    assert!(
        report.mismatches[0].contains("no column 'is_person'"),
        "{report}"
    );
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_person_is_erased_in_every_system_with_a_report_per_table() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let down = System::new(testing::hr_map(), "postgres://kluis:s3cret@127.0.0.1:1/hr").unwrap();
    let systems = [hr.system().clone(), accounting.system().clone(), down];
    let an = national_number(people::AN_NATIONAL_NUMBER);

    let dry = erase_person_all(&systems, &an, None, true).await;
    assert!(dry[0].dry_run && dry[0].is_complete(), "{}", dry[0]);
    assert_eq!(dry[0].deleted(), 6, "{}", dry[0]);
    assert_eq!(counts(&dry[1], "suppliers"), (0, 1, 0, 0), "{}", dry[1]);
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applicants").await,
        "3",
        "a dry run changes nothing"
    );

    let reports = erase_person_all(&systems, &an, None, false).await;
    let (hr_report, accounting_report, down_report) = (&reports[0], &reports[1], &reports[2]);
    assert!(hr_report.is_complete(), "{hr_report}");
    assert_eq!(counts(hr_report, "applicants"), (1, 0, 0, 0), "{hr_report}");
    assert_eq!(
        counts(hr_report, "applications"),
        (2, 0, 0, 0),
        "{hr_report}"
    );
    assert_eq!(
        counts(hr_report, "interview_notes"),
        (1, 0, 0, 0),
        "{hr_report}"
    );
    assert_eq!(counts(hr_report, "documents"), (2, 0, 0, 0), "{hr_report}");
    assert!(hr_report.tables.iter().all(|t| t.retention.is_none()));
    // Children are erased before the rows they link to.
    let order: Vec<&str> = hr_report.tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(order.last(), Some(&"applicants"), "{order:?}");

    assert!(accounting_report.is_complete(), "{accounting_report}");
    assert_eq!(counts(accounting_report, "suppliers"), (0, 1, 0, 0));
    assert_eq!(counts(accounting_report, "invoices"), (0, 0, 2, 0));
    assert_eq!(counts(accounting_report, "payments"), (0, 0, 1, 0));
    assert_eq!(down_report.system, "hr");
    let error = down_report.error.as_ref().unwrap();
    assert!(
        matches!(error, ConnectorError::Unreachable { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("s3cret"));

    // Gone from HR; in accounting only what the law keeps, still found by the national
    // number it keeps but no longer by e-mail.
    assert!(find(hr.system(), &an, None).await.unwrap().is_empty());
    assert!(
        find(accounting.system(), &email(people::AN_EMAIL), None)
            .await
            .unwrap()
            .is_empty()
    );
    let left = find(accounting.system(), &an, None).await.unwrap();
    let supplier = left.iter().find(|h| h.table == "suppliers").unwrap();
    assert_eq!(value(supplier, "name"), &json!("erased supplier"));
    assert_eq!(value(supplier, "street"), &Value::Null);
    assert_eq!(value(supplier, "national_number"), &json!("85073003328"));
    // Bram and Chloé keep their rows.
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications")
            .await,
        "2"
    );

    // Again: nothing more is changed.
    let again = erase_person_all(&systems[..2], &an, None, false).await;
    assert!(again[0].tables.is_empty(), "{}", again[0]);
    assert_eq!(
        again[1].anonymised() + again[1].deleted(),
        0,
        "{}",
        again[1]
    );
    assert_eq!(again[1].kept(), 3, "{}", again[1]);
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn an_erasure_that_fails_in_a_system_changes_nothing_there_and_can_be_run_again() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    hr.execute(
        "CREATE FUNCTION hr.guard() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
           RAISE EXCEPTION 'applicants are locked during the audit'; END $$; \
         CREATE TRIGGER applicants_guard BEFORE DELETE ON hr.applicants FOR EACH ROW EXECUTE FUNCTION hr.guard();",
    )
    .await;
    let bram = national_number(people::BRAM_NATIONAL_NUMBER);
    let report = erase_person(hr.system(), &bram, None, false).await;
    assert!(
        report
            .error
            .as_ref()
            .unwrap()
            .to_string()
            .contains("locked during the audit"),
        "{report}"
    );
    // Per table: nothing done, every row failed; the documents went back too.
    assert_eq!(counts(&report, "applicants"), (0, 0, 0, 1), "{report}");
    assert_eq!(counts(&report, "documents"), (0, 0, 0, 1), "{report}");
    assert_eq!(report.deleted(), 0);
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.documents").await,
        "3"
    );
    hr.execute("DROP TRIGGER applicants_guard ON hr.applicants")
        .await;
    let report = erase_person(hr.system(), &bram, None, false).await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(report.deleted(), 4, "{report}");
    hr.cleanup().await;
}

#[tokio::test]
async fn sweeps_of_several_systems_go_on_when_one_is_down_and_masks_are_bound() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // A mask that looks like SQL is stored as it is.
    let mut map = testing::accounting_map();
    map.tables
        .get_mut("suppliers")
        .unwrap()
        .columns
        .get_mut("name")
        .unwrap()
        .erasure = Some(ColumnErasure::Mask("x'); DROP TABLE invoices; --".into()));
    let system = accounting.with_map(map.clone());
    let down = System::new(testing::hr_map(), "postgres://kluis@127.0.0.1:1/hr")
        .unwrap()
        .with_connect_timeout(Duration::from_millis(500));
    let reports = sweep_all(
        &[
            (down.clone(), periods(down.map())),
            (system.clone(), periods(&map)),
        ],
        &nobody(),
        TODAY,
        100,
        false,
    )
    .await;
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Unreachable { .. })),
        "{}",
        reports[0]
    );
    assert!(reports[1].is_complete(), "{}", reports[1]);
    assert_eq!(counts(&reports[1], "suppliers"), (0, 1, 0, 0));
    assert_eq!(
        accounting
            .scalar("SELECT name FROM suppliers WHERE id = 2")
            .await,
        "x'); DROP TABLE invoices; --"
    );
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM invoices")
            .await,
        "5"
    );
    accounting.cleanup().await;
}

#[tokio::test]
async fn each_batch_is_logged_before_it_is_committed() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    hr.fill(4).await;
    hr.execute(
        "UPDATE hr.applications SET status = 'rejected', closed_on = '2024-01-01' WHERE id > 4",
    )
    .await;
    let system = hr.system();
    let periods = periods(system.map());
    // The log refuses the second batch: the first stays destroyed and logged, the second
    // is rolled back.
    let mut logged: Vec<Vec<TableErasureReport>> = Vec::new();
    let report = sweep_expired_logged(
        system,
        &periods,
        &nobody(),
        TODAY,
        2,
        async |batch: &[TableErasureReport]| {
            if logged.len() == 1 {
                return Err("the destruction log is unavailable".to_string());
            }
            logged.push(batch.to_vec());
            Ok(())
        },
    )
    .await;
    let error = report.error.as_ref().unwrap().to_string();
    assert!(
        error.contains("destruction log could not record a batch, so it was rolled back")
            && error.contains("unavailable"),
        "{error}"
    );
    assert_eq!(logged.len(), 1);
    let first: u64 = logged[0].iter().map(|t| t.deleted).sum();
    assert_eq!(first, 6, "two applications with a note and a document each");
    assert_eq!(report.deleted(), 6, "{report}");
    assert_eq!(counts(&report, "applications"), (2, 0, 0, 2), "{report}");
    assert!(
        logged[0]
            .iter()
            .all(|t| t.retention.as_ref().unwrap().schedule.as_deref() == Some("reserve"))
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications")
            .await,
        "6"
    );

    // The next run goes on, and logs every batch it commits.
    let mut total = 0;
    let report = sweep_expired_logged(
        system,
        &periods,
        &nobody(),
        TODAY,
        2,
        async |batch: &[TableErasureReport]| {
            total += batch.iter().map(|t| t.deleted).sum::<u64>();
            Ok(())
        },
    )
    .await;
    assert!(report.is_complete(), "{report}");
    assert_eq!(total, 9);
    assert_eq!(report.deleted(), 9, "{report}");
    hr.cleanup().await;
}
