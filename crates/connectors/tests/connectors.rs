//! The connectors against real PostgreSQL and MariaDB servers (`TEST_DATABASE_URL`,
//! `TEST_MYSQL_URL`), with the HR and accounting systems of `kluis_connectors::testing`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kluis_connectors::testing::{self, people};
use kluis_connectors::{ConnectorError, Hit, PersonQuery, System, check, find, find_all};
use kluis_domain::category::DataCategory;
use kluis_domain::dataset_map::{Column, ColumnRef, Link, Table, TableErasure};
use kluis_domain::identifiers::{EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::trace::TraceContext;
use serde_json::{Value, json};

fn email(s: &str) -> PersonQuery {
    PersonQuery::new().email(&s.parse::<EmailAddress>().unwrap())
}

fn national_number(s: &str) -> PersonQuery {
    PersonQuery::new().national_number(&s.parse::<NationalNumber>().unwrap())
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
