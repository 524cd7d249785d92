//! The connections kluis keeps per system: bounded, reused, and not poisoned when the
//! server drops them (a restart, an administrator ending sessions).

use kluis_connectors::testing::{self, TestSystem, people};
use kluis_connectors::{MAX_CONNECTIONS, find};

use super::email;

/// Searches for An `n` times at once; every search must find her `expected` rows.
async fn searches_at_once(system: &TestSystem, n: usize, expected: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let system = system.system().clone();
        tasks.spawn(async move { find(&system, &email(people::AN_EMAIL), None).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let hits = joined.unwrap().unwrap();
        assert_eq!(hits.len(), expected, "{hits:?}");
    }
}

/// Connections of kluis to the test database, as the server counts them.
async fn server_connections(system: &TestSystem, postgres: bool) -> usize {
    let sql = if postgres {
        "SELECT count(*)::text FROM pg_stat_activity \
         WHERE datname = current_database() AND application_name = 'kluis'"
    } else {
        "SELECT CAST(COUNT(*) AS CHAR) FROM information_schema.PROCESSLIST \
         WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
    };
    system.scalar(sql).await.parse().unwrap()
}

/// Ends every connection of kluis to the test database from the server's side.
async fn end_connections(system: &TestSystem, postgres: bool) {
    if postgres {
        system
            .scalar(
                "SELECT count(pg_terminate_backend(pid))::text FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'kluis'",
            )
            .await;
    } else {
        let ids = system
            .scalar(
                "SELECT COALESCE(GROUP_CONCAT(ID), '') FROM information_schema.PROCESSLIST \
                 WHERE DB = DATABASE() AND ID <> CONNECTION_ID()",
            )
            .await;
        for id in ids.split(',').filter(|id| !id.is_empty()) {
            system.execute(&format!("KILL CONNECTION {id}")).await;
        }
    }
}

async fn kept_bounded_and_not_poisoned(system: TestSystem, postgres: bool, expected: usize) {
    // 50 searches at once share at most MAX_CONNECTIONS connections, and keep them.
    searches_at_once(&system, 50, expected).await;
    let kept = server_connections(&system, postgres).await;
    assert!(
        (1..=MAX_CONNECTIONS).contains(&kept),
        "{kept} connections after 50 searches at once"
    );
    // One after the other, they use what is kept: no more connections.
    for _ in 0..20 {
        let hits = find(system.system(), &email(people::AN_EMAIL), None)
            .await
            .unwrap();
        assert_eq!(hits.len(), expected);
    }
    assert!(server_connections(&system, postgres).await <= kept);

    // The server ends every connection: the next searches still succeed, on new ones.
    end_connections(&system, postgres).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let hits = find(system.system(), &email(people::AN_EMAIL), None)
        .await
        .unwrap();
    assert_eq!(hits.len(), expected);
    end_connections(&system, postgres).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    searches_at_once(&system, 10, expected).await;
    assert!(server_connections(&system, postgres).await <= MAX_CONNECTIONS);
    system.cleanup().await;
}

#[tokio::test]
async fn connections_are_kept_bounded_and_survive_being_ended_on_postgres() {
    let Some(hr) = testing::hr_postgres().await else {
        return;
    };
    kept_bounded_and_not_poisoned(hr, true, 6).await;
}

#[tokio::test]
async fn connections_are_kept_bounded_and_survive_being_ended_on_mariadb() {
    let Some(accounting) = testing::accounting_mariadb().await else {
        return;
    };
    kept_bounded_and_not_poisoned(accounting, false, 4).await;
}
