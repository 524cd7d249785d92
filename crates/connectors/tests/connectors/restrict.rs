//! Restriction marks on a person's rows, in the real HR system (PostgreSQL) and the real
//! accounting system (MariaDB): set, set again (nothing changes), cleared; refused when the
//! live schema lacks the mark or the map has none.

use kluis_connectors::testing::{self, people};
use kluis_connectors::{ConnectorError, System, check, restrict_person, restrict_person_all};
use kluis_domain::dataset_map::RestrictionMark;

use super::email;

#[tokio::test]
async fn a_persons_rows_are_marked_and_unmarked_in_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let an = email(people::AN_EMAIL);
    let marked =
        |table: &str| format!("SELECT count(*)::text FROM hr.{table} WHERE processing_restricted");

    let report = restrict_person(hr.system(), &an, true, None).await;
    assert!(report.is_complete(), "{report}");
    let counts: Vec<(&str, u64, u64)> = report
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows, t.changed))
        .collect();
    // Her applicant row and the two applications that link to it; nobody else's.
    assert_eq!(
        counts,
        [("applicants", 1, 1), ("applications", 2, 2)],
        "{report}"
    );
    assert_eq!(hr.scalar(&marked("applicants")).await, "1");
    assert_eq!(hr.scalar(&marked("applications")).await, "2");
    assert_eq!(
        hr.scalar("SELECT email FROM hr.applicants WHERE processing_restricted")
            .await,
        "An.Peeters@Example.BE"
    );

    // Again: every row is marked already, so nothing changes.
    let again = restrict_person(hr.system(), &an, true, None).await;
    assert!(again.is_complete(), "{again}");
    assert_eq!((again.rows(), again.changed()), (3, 0), "{again}");

    // Lifted: the mark is cleared, once.
    let lifted = restrict_person(hr.system(), &an, false, None).await;
    assert!(lifted.is_complete(), "{lifted}");
    assert!(!lifted.restricted);
    assert_eq!((lifted.rows(), lifted.changed()), (3, 3), "{lifted}");
    assert_eq!(hr.scalar(&marked("applicants")).await, "0");
    assert_eq!(hr.scalar(&marked("applications")).await, "0");
    let again = restrict_person(hr.system(), &an, false, None).await;
    assert_eq!(again.changed(), 0, "{again}");
    assert!(
        again.to_string().contains("0 of 1 row(s) unmarked"),
        "{again}"
    );
    hr.cleanup().await;
}

#[tokio::test]
async fn a_persons_rows_are_marked_and_unmarked_in_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let an = email(people::AN_EMAIL);
    let marked = |table: &str| {
        format!("SELECT CAST(COUNT(*) AS CHAR) FROM {table} WHERE processing_restricted = 1")
    };
    let report = restrict_person(accounting.system(), &an, true, None).await;
    assert!(report.is_complete(), "{report}");
    let counts: Vec<(&str, u64, u64)> = report
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows, t.changed))
        .collect();
    // The map marks suppliers and invoices; payments have no mark.
    assert_eq!(
        counts,
        [("invoices", 2, 2), ("suppliers", 1, 1)],
        "{report}"
    );
    assert_eq!(accounting.scalar(&marked("suppliers")).await, "1");
    assert_eq!(accounting.scalar(&marked("invoices")).await, "2");
    let again = restrict_person(accounting.system(), &an, true, None).await;
    assert_eq!((again.rows(), again.changed()), (3, 0), "{again}");
    let lifted = restrict_person(accounting.system(), &an, false, None).await;
    assert_eq!(lifted.changed(), 3, "{lifted}");
    assert_eq!(accounting.scalar(&marked("suppliers")).await, "0");
    assert_eq!(accounting.scalar(&marked("invoices")).await, "0");
    let again = restrict_person(accounting.system(), &an, false, None).await;
    assert_eq!(again.changed(), 0, "{again}");
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_missing_or_wrong_mark_column_is_refused_by_check_and_changes_nothing() {
    let (Some(hr), Some(accounting)) = (
        testing::hr_postgres().await,
        testing::accounting_mariadb().await,
    ) else {
        return;
    };
    assert!(check(hr.system()).await.unwrap().is_ok());
    hr.execute("ALTER TABLE hr.applicants DROP COLUMN processing_restricted")
        .await;
    let report = check(hr.system()).await.unwrap();
    assert!(!report.is_ok(), "{report}");
    assert!(
        report.mismatches.iter().any(|m| m.contains(
            "table hr.applicants has no column 'processing_restricted', its restriction mark"
        )),
        "{report}"
    );
    // Marking is refused as a whole: not even the applications, which have the column.
    let an = email(people::AN_EMAIL);
    let refused = restrict_person(hr.system(), &an, true, None).await;
    assert!(
        matches!(refused.error, Some(ConnectorError::SchemaMismatch { .. })),
        "{refused}"
    );
    assert!(refused.tables.is_empty(), "{refused}");
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications WHERE processing_restricted")
            .await,
        "0"
    );

    accounting
        .execute(
            "ALTER TABLE invoices MODIFY processing_restricted VARCHAR(5) NOT NULL DEFAULT 'nee'",
        )
        .await;
    let report = check(accounting.system()).await.unwrap();
    assert!(
        report.mismatches.iter().any(|m| m
            .contains("invoices.processing_restricted is of type varchar(5)")
            && m.contains("must be a boolean")),
        "{report}"
    );
    let refused = restrict_person(accounting.system(), &an, true, None).await;
    assert!(refused.error.is_some(), "{refused}");
    assert_eq!(
        accounting
            .scalar("SELECT CAST(COUNT(*) AS CHAR) FROM suppliers WHERE processing_restricted = 1")
            .await,
        "0"
    );
    hr.cleanup().await;
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_map_without_marks_or_with_a_bad_mark_is_refused_with_what_to_do() {
    // A mark on the key that links the tables: the map itself is refused.
    let mut map = testing::hr_map();
    map.tables.get_mut("applications").unwrap().restriction = Some(RestrictionMark {
        column: "applicant_id".into(),
    });
    let err = System::new(map, "postgres://u@127.0.0.1:1/hr").unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ConnectorError::InvalidMap { .. })
            && message.contains("restriction mark of table 'applications'")
            && message.contains("is its link"),
        "{message}"
    );

    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let mut map = testing::hr_map();
    for table in map.tables.values_mut() {
        table.restriction = None;
    }
    let unmarked = hr.with_map(map);
    let report = restrict_person(&unmarked, &email(people::AN_EMAIL), true, None).await;
    let message = report.error.as_ref().unwrap().to_string();
    assert!(
        message.contains("no table has a restriction mark")
            && message.contains("restriction: {column: processing_restricted}"),
        "{message}"
    );
    hr.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_system_is_reported_and_the_others_are_marked() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let down = System::new(testing::hr_map(), "postgres://kluis@127.0.0.1:1/hr").unwrap();
    let reports = restrict_person_all(
        &[down, accounting.system().clone()],
        &email(people::AN_EMAIL),
        true,
        None,
    )
    .await;
    assert_eq!(reports[0].system, "hr");
    assert!(
        matches!(reports[0].error, Some(ConnectorError::Unreachable { .. })),
        "{}",
        reports[0]
    );
    assert!(reports[1].is_complete(), "{}", reports[1]);
    assert_eq!(reports[1].changed(), 3, "{}", reports[1]);
    accounting.cleanup().await;
}
