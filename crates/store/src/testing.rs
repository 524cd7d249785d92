//! Throwaway stores for integration tests (cargo feature `testing`).
//!
//! [`sqlite_store`] opens a fresh SQLite file in the temporary directory;
//! [`postgres_store`] creates a fresh database on the server at `TEST_DATABASE_URL`. Both
//! are removed by [`TestStore::cleanup`], or on a best-effort basis when the [`TestStore`]
//! is dropped (also when a test panics). Test helpers panic on failure: that fails the test.

use std::collections::BTreeSet;
use std::io::Write;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use uuid::Uuid;

use crate::{Backend, Store, mask_password};

/// A store on a database of its own, removed after the test.
pub struct TestStore {
    store: Store,
    url: String,
    keys: std::sync::Arc<kluis_keys::Keyring>,
    guard: Guard,
}

impl Deref for TestStore {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

impl TestStore {
    /// The database URL, e.g. to pass to a `kluis` process under test.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// (table, column) of every table in the live schema, without sqlx's bookkeeping: to
    /// check that both backends' migrations build the same schema.
    pub async fn columns(&self) -> BTreeSet<(String, String)> {
        let rows: Vec<(String, String)> = on_pool!(self.store, |pool| {
            sqlx::query_as(match self.store.backend() {
                Backend::Sqlite => {
                    "SELECT m.name, p.name FROM sqlite_master m \
                     JOIN pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE '\\_sqlx%' ESCAPE '\\' \
                     AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                }
                Backend::Postgres => {
                    "SELECT table_name::text, column_name::text \
                     FROM information_schema.columns \
                     WHERE table_schema = current_schema() \
                     AND table_name NOT LIKE '\\_sqlx%' ESCAPE '\\'"
                }
            })
            .fetch_all(pool)
            .await
            .unwrap_or_else(|e| panic!("cannot read the schema: {e}"))
        });
        rows.into_iter().collect()
    }

    /// The keys the store was opened with.
    pub fn keys(&self) -> std::sync::Arc<kluis_keys::Keyring> {
        self.keys.clone()
    }

    /// Runs SQL directly, past the store: to play someone with database access.
    pub async fn execute_raw(&self, sql: &str) -> Result<(), String> {
        on_pool!(self.store, |pool| {
            sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
                .execute(pool)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
    }

    /// Runs SQL with the processing log's append-only triggers out of the way, as an
    /// administrator bent on rewriting history could.
    pub async fn without_log_triggers(&self, sql: &str) {
        match self.store.backend() {
            Backend::Sqlite => {
                let triggers: Vec<(String, String)> = on_pool!(self.store, |pool| {
                    sqlx::query_as(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' \
                         AND name LIKE 'processing_log%'",
                    )
                    .fetch_all(pool)
                    .await
                    .unwrap_or_else(|e| panic!("cannot list triggers: {e}"))
                });
                let drop: String = triggers
                    .iter()
                    .map(|(name, _)| format!("DROP TRIGGER {name};"))
                    .collect();
                let create: String = triggers.iter().map(|(_, sql)| format!("{sql};")).collect();
                self.execute_raw(&format!("{drop} {sql}; {create}"))
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            Backend::Postgres => {
                self.execute_raw(&format!(
                    "BEGIN; SET LOCAL session_replication_role = replica; {sql}; COMMIT;"
                ))
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
        }
    }

    /// The first column of every row `sql` returns, as bytes.
    pub async fn raw_bytes(&self, sql: &str) -> Vec<Vec<u8>> {
        on_pool!(self.store, |pool| {
            sqlx::query_scalar::<_, Vec<u8>>(AssertSqlSafe(sql.to_string()))
                .fetch_all(pool)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
        })
    }

    /// Closes the store and removes its database.
    pub async fn cleanup(mut self) {
        self.store.close().await;
        self.guard.remove().await;
    }
}

/// A fresh SQLite store in a file of its own.
pub async fn sqlite_store() -> TestStore {
    let path = std::env::temp_dir().join(format!("kluis_test_{}.db", Uuid::now_v7().simple()));
    let guard = Guard {
        place: Some(Place::SqliteFile(path.clone())),
    };
    let url = format!("sqlite://{}", path.display());
    let keys = test_keys();
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open a test SQLite store: {e}"))
        .with_keys(keys.clone());
    TestStore {
        store,
        url,
        keys,
        guard,
    }
}

/// A fresh keyring for one test store.
pub fn test_keys() -> std::sync::Arc<kluis_keys::Keyring> {
    std::sync::Arc::new(
        kluis_keys::Keyring::generate().unwrap_or_else(|e| panic!("cannot make test keys: {e}")),
    )
}

/// A fresh PostgreSQL store in a database of its own on the server at
/// `TEST_DATABASE_URL`. Without that variable: None after a loud notice on stderr, or a
/// panic when `CI=true`, because CI must not skip the PostgreSQL tests.
pub async fn postgres_store() -> Option<TestStore> {
    let Some(admin_url) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "TEST_DATABASE_URL is not set, and CI=true: the PostgreSQL tests must run in CI. \
                 Set TEST_DATABASE_URL to a server where this user may create databases, e.g. \
                 postgres://postgres@127.0.0.1:5432/postgres"
            );
        }
        // Written to stderr directly, because the test harness swallows `eprintln!` of
        // passing tests; once per test binary is loud enough.
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Ordering::Relaxed) {
            let _ = writeln!(
                std::io::stderr(),
                "\n**********\nSKIPPED: PostgreSQL tests need TEST_DATABASE_URL \
                 (e.g. postgres://postgres@127.0.0.1:5432/postgres)\n**********\n"
            );
        }
        return None;
    };
    let database = format!("kluis_test_{}", Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&admin_url).await.unwrap_or_else(|e| {
        panic!(
            "cannot connect to TEST_DATABASE_URL {}: {e}",
            mask_password(&admin_url)
        )
    });
    // The name is ours (letters, digits, underscore), never input: safe to splice.
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {database}: {e}"));
    let _ = admin.close().await;
    let guard = Guard {
        place: Some(Place::PostgresDatabase {
            admin_url: admin_url.clone(),
            database: database.clone(),
        }),
    };
    let url = with_database(&admin_url, &database);
    let keys = test_keys();
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test PostgreSQL store: {e}"))
        .with_keys(keys.clone());
    Some(TestStore {
        store,
        url,
        keys,
        guard,
    })
}

/// `url` pointing at `database` instead of the database it names.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

enum Place {
    SqliteFile(PathBuf),
    PostgresDatabase { admin_url: String, database: String },
}

/// Removes the test database once: explicitly, or when dropped.
struct Guard {
    place: Option<Place>,
}

impl Guard {
    async fn remove(&mut self) {
        match self.place.take() {
            Some(Place::SqliteFile(path)) => remove_sqlite_files(&path),
            Some(Place::PostgresDatabase {
                admin_url,
                database,
            }) => drop_database(&admin_url, &database).await,
            None => {}
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        match self.place.take() {
            Some(Place::SqliteFile(path)) => remove_sqlite_files(&path),
            Some(Place::PostgresDatabase {
                admin_url,
                database,
            }) => {
                // Drop cannot await, and may run inside the test's runtime: use a runtime of
                // its own on a thread of its own.
                let dropped = std::thread::spawn(move || {
                    if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    {
                        runtime.block_on(drop_database(&admin_url, &database));
                    }
                });
                let _ = dropped.join();
            }
            None => {}
        }
    }
}

fn remove_sqlite_files(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

async fn drop_database(admin_url: &str, database: &str) {
    match PgConnection::connect(admin_url).await {
        Ok(mut admin) => {
            // FORCE ends connections a leaked pool may still hold.
            let sql = format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)");
            if let Err(e) = sqlx::query(AssertSqlSafe(sql)).execute(&mut admin).await {
                eprintln!("could not drop test database {database}: {e}");
            }
            let _ = admin.close().await;
        }
        Err(e) => eprintln!("could not drop test database {database}: {e}"),
    }
}

// ── Bulk seeding, for benchmarks ─────────────────────────────────────────────────────────

/// Subjects per INSERT statement: 10 bound parameters a subject and 17 a record, well under
/// SQLite's limit of 32,766 and PostgreSQL's of 65,535.
const SEED_CHUNK: usize = 1_000;

/// Subjects per transaction: big, so commits cost nothing next to the inserts.
const SEED_TRANSACTION: usize = 50_000;

/// Serials per birth date in [`seeded_national_number`] (001 to 997).
const SEED_SERIALS: usize = 997;

/// The national number of the `i`-th data subject that [`seed_subjects`] writes: born
/// `i / 997` days after 1 January 1940, with serial `i % 997 + 1`, so every `i` below
/// about 21 million (born before 2000) gives a different, valid number.
pub fn seeded_national_number(i: usize) -> kluis_domain::identifiers::NationalNumber {
    let born = seeded_birth_date(i);
    let base = u64::from(born.year().rem_euclid(100).unsigned_abs()) * 10_000_000
        + u64::from(u8::from(born.month())) * 100_000
        + u64::from(born.day()) * 1_000
        + (i % SEED_SERIALS) as u64
        + 1;
    let digits = format!("{base:09}{:02}", 97 - base % 97);
    digits
        .parse()
        .unwrap_or_else(|e| panic!("seeded national number {digits} for {i}: {e}"))
}

fn seeded_birth_date(i: usize) -> time::Date {
    let days = i64::try_from(i / SEED_SERIALS).unwrap_or(i64::MAX);
    time::macros::date!(1940 - 01 - 01)
        .checked_add(time::Duration::days(days))
        .filter(|d| d.year() < 2000)
        .unwrap_or_else(|| panic!("seeded_national_number({i}): seed fewer than 21 million"))
}

/// One data subject and its record, encrypted and indexed, ready to insert.
struct SeedRow {
    subject_id: Uuid,
    national_number: Vec<u8>,
    national_number_index: Vec<u8>,
    family_name: String,
    birth_date: time::Date,
    record_id: Uuid,
    fields: sqlx::types::Json<std::collections::BTreeMap<String, serde_json::Value>>,
    deadline: (&'static str, Option<time::Date>, Option<&'static str>),
}

/// Writes `n` data subjects, the `i`-th known by [`seeded_national_number`]`(i)`, each with
/// one record under `activity` (its first retention schedule, collected on `now`'s date).
///
/// Recording a million subjects one by one through [`Store::record_subject`] takes far too
/// long for a benchmark: this encrypts and blind-indexes the national numbers with the
/// store's keys exactly as `record_subject` does, so the vault finds and decrypts them, but
/// inserts them with multi-row INSERTs in transactions of 50,000 subjects, and writes no
/// processing-log entries. Numbers 0..n must not be in the vault yet (the unique blind
/// index refuses them).
pub async fn seed_subjects(
    store: &Store,
    activity: &str,
    n: usize,
    now: time::OffsetDateTime,
) -> Result<(), crate::StoreError> {
    use kluis_domain::identifiers::IdentifierKind;
    use kluis_domain::inventory::{self, RecordRetention};

    let keys = store.keys()?;
    let now = crate::timestamp(now);
    let found = store
        .activity(activity)
        .await?
        .ok_or_else(|| crate::StoreError::NotFound {
            what: "processing activity",
            id: activity.to_string(),
        })?;
    let activity = found.value;
    let schedule = inventory::schedule(&activity, None)
        .map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
    let mut next = 0;
    while next < n {
        let end = n.min(next + SEED_TRANSACTION);
        let mut rows = Vec::with_capacity(end - next);
        for i in next..end {
            let subject_id = crate::new_id(now)?;
            let digits = seeded_national_number(i).digits();
            let birth_date = seeded_birth_date(i);
            let deadline = inventory::deadline(
                schedule,
                &RecordRetention {
                    collected_on: Some(now.date()),
                    events: Default::default(),
                    birth_date: Some(birth_date),
                    extensions: 0,
                    withdrawn_on: None,
                },
            )
            .map_err(|e| crate::StoreError::Invalid(e.to_string()))?;
            rows.push(SeedRow {
                subject_id,
                national_number: keys
                    .encrypt(
                        &crate::vault::aad("national_number", subject_id),
                        digits.as_bytes(),
                    )
                    .map_err(|e| crate::StoreError::Unavailable(e.to_string()))?,
                national_number_index: keys
                    .blind_index(IdentifierKind::NationalNumber.name(), &digits)
                    .to_vec(),
                family_name: format!("Peeters-{i}"),
                birth_date,
                record_id: crate::new_id(now)?,
                fields: sqlx::types::Json(std::collections::BTreeMap::from([(
                    "dossier".to_string(),
                    serde_json::Value::String(format!("D-{i}")),
                )])),
                deadline: inventory::deadline_columns(&deadline),
            });
        }
        write_transaction!(store, |tx| {
            for chunk in rows.chunks(SEED_CHUNK) {
                let mut subjects = sqlx::QueryBuilder::new(
                    "INSERT INTO data_subjects (id, national_number, national_number_index, \
                     given_name, family_name, birth_date, recorded_under, version, created_at, \
                     updated_at) ",
                );
                subjects.push_values(chunk, |mut row, s| {
                    row.push_bind(s.subject_id)
                        .push_bind(s.national_number.clone())
                        .push_bind(s.national_number_index.clone())
                        .push_bind("An")
                        .push_bind(s.family_name.clone())
                        .push_bind(s.birth_date)
                        .push_bind(activity.id.clone())
                        .push_bind(1i64)
                        .push_bind(now)
                        .push_bind(now);
                });
                subjects.build().execute(&mut *tx).await?;
                let mut records = sqlx::QueryBuilder::new(
                    "INSERT INTO records (id, subject_id, activity_id, schedule, category, fields, \
                     source, collected_on, events, provided_by_subject, extensions, deadline_kind, \
                     deadline, deadline_event, version, created_at, updated_at) ",
                );
                records.push_values(chunk, |mut row, s| {
                    row.push_bind(s.record_id)
                        .push_bind(s.subject_id)
                        .push_bind(activity.id.clone())
                        .push_bind(schedule.key.clone())
                        .push_bind(kluis_domain::category::DataCategory::Identification.name())
                        .push_bind(s.fields.clone())
                        .push_bind("seed")
                        .push_bind(now.date())
                        .push_bind(sqlx::types::Json(std::collections::BTreeMap::<
                            kluis_domain::retention::RetentionEvent,
                            time::Date,
                        >::new()))
                        .push_bind(true)
                        .push_bind(0i64)
                        .push_bind(s.deadline.0)
                        .push_bind(s.deadline.1)
                        .push_bind(s.deadline.2)
                        .push_bind(1i64)
                        .push_bind(now)
                        .push_bind(now);
                });
                records.build().execute(&mut *tx).await?;
            }
        });
        next = end;
    }
    Ok(())
}

/// Timings of repeated runs, for the benchmarks: min, median, p90, p99, max.
pub struct Stats {
    pub n: usize,
    pub min: std::time::Duration,
    pub median: std::time::Duration,
    pub p90: std::time::Duration,
    pub p99: std::time::Duration,
    pub max: std::time::Duration,
}

impl Stats {
    pub fn of(mut times: Vec<std::time::Duration>) -> Stats {
        times.sort();
        let n = times.len();
        if n == 0 {
            return Stats {
                n,
                min: std::time::Duration::ZERO,
                median: std::time::Duration::ZERO,
                p90: std::time::Duration::ZERO,
                p99: std::time::Duration::ZERO,
                max: std::time::Duration::ZERO,
            };
        }
        let at = |q: usize| times[(n * q).div_ceil(100).max(1) - 1];
        let median = if n.is_multiple_of(2) {
            (times[n / 2 - 1] + times[n / 2]) / 2
        } else {
            times[n / 2]
        };
        Stats {
            n,
            min: times[0],
            median,
            p90: at(90),
            p99: at(99),
            max: times[n - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn test_urls_point_at_the_new_database() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/test", "kluis_test_1"),
            "postgres://postgres@127.0.0.1:5432/kluis_test_1"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
