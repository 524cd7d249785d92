//! The people a data breach affects in a connected system: counted in SQL per table, by
//! category and time window, listed by their identifiers in pages when they must be told.

use std::collections::{BTreeMap, BTreeSet};

use kluis_connectors::testing::{self, people};
use kluis_connectors::{
    BreachScope, ConnectorError, SystemAffected, find_affected, find_affected_all,
};
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::IdentifierKind;
use time::macros::date;

fn rows(found: &SystemAffected) -> BTreeMap<&str, u64> {
    found
        .tables
        .iter()
        .map(|t| (t.table.as_str(), t.rows))
        .collect()
}

fn emails(found: &SystemAffected) -> Vec<&str> {
    found
        .listed
        .iter()
        .filter_map(|p| {
            p.identifiers
                .get(&IdentifierKind::Email)
                .map(String::as_str)
        })
        .collect()
}

fn scope(categories: &[DataCategory]) -> BreachScope {
    BreachScope {
        categories: categories.iter().copied().collect(),
        ..BreachScope::default()
    }
}

#[tokio::test]
async fn hr_people_are_counted_by_category_and_window_and_listed_in_pages_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    // Employment data: applications and interview notes; every applicant has one.
    let found = find_affected(hr.system(), &scope(&[DataCategory::Employment]))
        .await
        .unwrap();
    assert_eq!(
        rows(&found),
        BTreeMap::from([("applications", 4), ("interview_notes", 2)])
    );
    assert_eq!(found.people, 3);
    assert!(found.listed.is_empty(), "counts only unless asked");

    // Applications closed in March 2024: An's and Bram's. Interview notes have no date in
    // the map: all of them count, and the report says so.
    let mut march = scope(&[DataCategory::Employment]);
    march.from = Some(date!(2024 - 03 - 01));
    march.until = Some(date!(2024 - 03 - 29));
    let found = find_affected(hr.system(), &march).await.unwrap();
    assert_eq!(found.tables[0].rows, 2);
    assert!(found.tables[0].window_applied);
    assert!(!found.tables[1].window_applied);
    assert!(
        found.notes.iter().any(|n| n.contains("interview_notes")),
        "{:?}",
        found.notes
    );
    assert_eq!(found.people, 2);

    // A leak of national numbers: only applicants who have one.
    let mut numbers = scope(&[DataCategory::NationalNumber]);
    numbers.list = Some(10);
    let found = find_affected(hr.system(), &numbers).await.unwrap();
    assert_eq!(rows(&found), BTreeMap::from([("applicants", 2)]));
    assert_eq!(found.people, 2);
    let an = &found.listed[0];
    assert_eq!(
        an.identifiers
            .get(&IdentifierKind::NationalNumber)
            .map(String::as_str),
        Some("85073003328"),
        "normalised to digits"
    );
    assert_eq!(
        an.identifiers
            .get(&IdentifierKind::Email)
            .map(String::as_str),
        Some(people::AN_EMAIL),
        "normalised to lower case"
    );
    assert_eq!(
        an.categories,
        BTreeSet::from([DataCategory::NationalNumber])
    );

    // In pages: two, then the rest.
    let mut page = scope(&[DataCategory::Employment]);
    page.list = Some(2);
    let first = find_affected(hr.system(), &page).await.unwrap();
    assert_eq!(first.cap, Some(2));
    assert_eq!(emails(&first), [people::AN_EMAIL, people::BRAM_EMAIL]);
    page.offset = 2;
    let rest = find_affected(hr.system(), &page).await.unwrap();
    assert_eq!(emails(&rest), [people::CHLOE_EMAIL]);
    assert_eq!(rest.people, 3);
    hr.cleanup().await;
}

#[tokio::test]
async fn accounting_rows_are_counted_through_links_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    // Financial data is in every table; the people are the suppliers.
    let mut financial = scope(&[DataCategory::Financial]);
    financial.list = Some(100);
    let found = find_affected(accounting.system(), &financial)
        .await
        .unwrap();
    assert_eq!(
        rows(&found),
        BTreeMap::from([("invoices", 5), ("payments", 4), ("suppliers", 4)])
    );
    assert_eq!(found.people, 4);
    assert_eq!(found.listed.len(), 4);
    let dirk = found
        .listed
        .iter()
        .find(|p| {
            p.identifiers.get(&IdentifierKind::NationalNumber) == Some(&"75010100196".to_string())
        })
        .unwrap();
    assert_eq!(dirk.table, "suppliers");
    assert!(dirk.categories.contains(&DataCategory::Financial));

    // Suppliers whose relation ended in 2014: Dirk alone.
    let mut ended = scope(&[DataCategory::Contact]);
    ended.from = Some(date!(2014 - 01 - 01));
    ended.until = Some(date!(2014 - 12 - 31));
    let found = find_affected(accounting.system(), &ended).await.unwrap();
    assert_eq!(rows(&found), BTreeMap::from([("suppliers", 1)]));
    assert_eq!(found.people, 1);
    accounting.cleanup().await;
}

#[tokio::test]
async fn a_large_system_is_counted_without_loading_it_and_listed_up_to_the_cap() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    hr.fill(3_000).await;
    let mut all = scope(&[]);
    all.list = Some(50);
    let found = find_affected(hr.system(), &all).await.unwrap();
    assert_eq!(found.people, 3_003);
    assert_eq!(found.rows(), 3 + 4 + 2 + 3 + 4 * 3_000);
    assert_eq!(found.listed.len(), 50, "capped");
    all.list = Some(usize::MAX);
    let found = find_affected(hr.system(), &all).await.unwrap();
    assert_eq!(found.cap, Some(kluis_connectors::MAX_LISTED));
    hr.cleanup().await;
}

#[tokio::test]
async fn an_unreachable_system_gives_its_own_error_and_the_others_answer() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    let down =
        kluis_connectors::System::new(testing::hr_map(), "postgres://127.0.0.1:1/hr").unwrap();
    let results = find_affected_all(
        &[down, accounting.system().clone()],
        &scope(&[DataCategory::Contact]),
    )
    .await;
    assert_eq!(results[0].0, "hr");
    assert!(
        matches!(results[0].1, Err(ConnectorError::Unreachable { .. })),
        "{:?}",
        results[0].1
    );
    assert_eq!(results[1].1.as_ref().unwrap().people, 4);
    accounting.cleanup().await;
}
