//! Rectification of one column of a person's rows, in the real HR system (PostgreSQL) and
//! the real accounting system (MariaDB): the rows change, and the report gives each changed
//! row's old value by primary key (NULL as None, not as an empty text).

use std::collections::BTreeMap;

use kluis_connectors::testing::{self, people};
use kluis_connectors::{OldValue, RectificationRefused, rectify_person};

use super::{email, national_number};

#[tokio::test]
async fn a_column_of_a_persons_rows_is_rectified_in_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    let an = email(people::AN_EMAIL);

    // The applicant's own row: text, then a date (cast to the column's type).
    let report = rectify_person(
        hr.system(),
        &an,
        "applicants",
        "last_name",
        "Peeters-Claes",
        None,
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(
        (report.tables[0].rows, report.changed()),
        (1, 1),
        "{report}"
    );
    assert_eq!(
        hr.scalar("SELECT last_name FROM hr.applicants WHERE first_name = 'An'")
            .await,
        "Peeters-Claes"
    );
    assert_eq!(
        report.tables[0].old_values,
        [old(&[("id", "1")], Some("Peeters"))],
        "{report}"
    );
    let report = rectify_person(
        hr.system(),
        &an,
        "applicants",
        "birth_date",
        "1985-07-31",
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.changed(), 1, "{report}");
    assert_eq!(
        report.tables[0].old_values,
        [old(&[("id", "1")], Some("1985-07-30"))],
        "a date as text"
    );
    assert_eq!(
        hr.scalar("SELECT birth_date::text FROM hr.applicants WHERE first_name = 'An'")
            .await,
        "1985-07-31"
    );
    // Rows that link to her: both applications; nobody else's.
    let others = hr
        .scalar("SELECT count(*)::text FROM hr.applications WHERE motivation = 'Verbeterd'")
        .await;
    assert_eq!(others, "0");
    let report = rectify_person(
        hr.system(),
        &an,
        "applications",
        "motivation",
        "Verbeterd",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.tables[0].rows, report.changed()),
        (2, 2),
        "{report}"
    );
    assert_eq!(
        hr.scalar("SELECT count(*)::text FROM hr.applications WHERE motivation = 'Verbeterd'")
            .await,
        "2"
    );
    // Each row's own old value, by key: her second application had no motivation (NULL).
    assert_eq!(
        report.tables[0].old_values,
        [
            old(&[("id", "1")], Some("Ik werk graag met mensen.")),
            old(&[("id", "2")], None),
        ],
        "{report}"
    );
    // Again: nothing left to change.
    let again = rectify_person(
        hr.system(),
        &an,
        "applications",
        "motivation",
        "Verbeterd",
        None,
    )
    .await
    .unwrap();
    assert_eq!((again.tables[0].rows, again.changed()), (2, 0), "{again}");
    assert!(again.tables[0].old_values.is_empty(), "{again}");
    // An empty text is a value, not NULL: one row emptied, then both set again.
    hr.execute("UPDATE hr.applications SET motivation = '' WHERE id = 2")
        .await;
    let report = rectify_person(
        hr.system(),
        &an,
        "applications",
        "motivation",
        "Verbeterd",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.changed(), &report.tables[0].old_values[..]),
        (1, &[old(&[("id", "2")], Some(""))][..]),
        "{report}"
    );

    // Refused before anything is read: a column the map does not list, a table it lacks.
    for (table, column) in [
        ("applicants", "id"),
        ("applicants", "nope"),
        ("vacancies", "title"),
    ] {
        let err = rectify_person(hr.system(), &an, table, column, "x", None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, RectificationRefused::NotInMap { column: c, .. } if c == column),
            "{err:?}"
        );
    }
    // A value the column cannot hold: the error is reported and nothing changes.
    let report = rectify_person(
        hr.system(),
        &an,
        "applicants",
        "birth_date",
        "gisteren",
        None,
    )
    .await
    .unwrap();
    assert!(report.error.is_some(), "{report}");
    assert!(
        report.tables.is_empty(),
        "no old values of a change not made: {report}"
    );
    assert_eq!(
        hr.scalar("SELECT birth_date::text FROM hr.applicants WHERE first_name = 'An'")
            .await,
        "1985-07-31"
    );
    // Someone the system does not know: nothing to change.
    let nobody = email("niemand@example.be");
    let report = rectify_person(hr.system(), &nobody, "applicants", "last_name", "X", None)
        .await
        .unwrap();
    assert_eq!(
        (report.tables[0].rows, report.changed()),
        (0, 0),
        "{report}"
    );
    hr.cleanup().await;
}

#[tokio::test]
async fn a_column_of_a_persons_rows_is_rectified_in_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let dirk = national_number(people::DIRK_NATIONAL_NUMBER);
    let street = "SELECT street FROM suppliers WHERE national_number = '75010100196'";
    let before_others = accounting
        .scalar("SELECT CAST(count(*) AS CHAR) FROM suppliers WHERE street = 'Nieuwstraat 9'")
        .await;
    assert_eq!(before_others, "0");
    let report = rectify_person(
        accounting.system(),
        &dirk,
        "suppliers",
        "street",
        "Nieuwstraat 9",
        None,
    )
    .await
    .unwrap();
    assert!(report.is_complete(), "{report}");
    assert_eq!(
        (report.tables[0].rows, report.changed()),
        (1, 1),
        "{report}"
    );
    assert_eq!(accounting.scalar(street).await, "Nieuwstraat 9");
    assert_eq!(
        accounting
            .scalar("SELECT CAST(count(*) AS CHAR) FROM suppliers WHERE street = 'Nieuwstraat 9'")
            .await,
        "1",
        "only Dirk's row"
    );
    assert_eq!(
        report.tables[0].old_values,
        [old(&[("id", "2")], Some("Markt 5"))],
        "{report}"
    );
    let again = rectify_person(
        accounting.system(),
        &dirk,
        "suppliers",
        "street",
        "Nieuwstraat 9",
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.changed(), 0, "{again}");
    assert!(again.tables[0].old_values.is_empty(), "{again}");
    // Only the capitals put right: a change, although the table's `_ci` collation holds
    // both spellings equal.
    let report = rectify_person(
        accounting.system(),
        &dirk,
        "suppliers",
        "street",
        "NIEUWSTRAAT 9",
        None,
    )
    .await
    .unwrap();
    assert_eq!(report.changed(), 1, "{report}");
    assert_eq!(
        report.tables[0].old_values,
        [old(&[("id", "2")], Some("Nieuwstraat 9"))],
        "{report}"
    );
    assert_eq!(accounting.scalar(street).await, "NIEUWSTRAAT 9");
    // A NULL on MariaDB: his invoice without a description gets one.
    accounting
        .execute("UPDATE invoices SET description = NULL WHERE number = 'F2024-002'")
        .await;
    let report = rectify_person(
        accounting.system(),
        &dirk,
        "invoices",
        "description",
        "Herstelling verwarming stadhuis",
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.tables[0].rows, report.changed()),
        (1, 1),
        "{report}"
    );
    assert_eq!(
        report.tables[0].old_values,
        [old(&[("id", "3")], None)],
        "{report}"
    );
    let err = rectify_person(
        accounting.system(),
        &dirk,
        "suppliers",
        "natural_person",
        "0",
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, RectificationRefused::NotInMap { .. }),
        "{err:?}"
    );
    assert_eq!(accounting.scalar(street).await, "NIEUWSTRAAT 9");
    accounting.cleanup().await;
}

/// A row's old value as the report gives it.
fn old(key: &[(&str, &str)], value: Option<&str>) -> OldValue {
    OldValue {
        key: key
            .iter()
            .map(|(c, v)| (c.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        value: value.map(str::to_string),
    }
}
