//! Speed of finding one person everywhere (issue 3): the vault of 1,000,000 data subjects
//! plus one PostgreSQL and one MariaDB system of about 1,000,000 rows each, p50 under 50 ms.
//!
//! One search is what `POST /api/v1/subjects/search` and `kluis subject find` run, minus
//! HTTP, authentication and JSON: `Store::find_subjects` (blind-index lookup, decryption,
//! one log entry), then `systems::person_query` and `systems::search`, which reads the
//! stored dataset maps, searches both systems at once (`kluis_connectors::find_all`: a
//! connection kept for the system, the live schema, one query per table) and logs every
//! system that held the person. The same run then times the vault and each system alone, to
//! show where the time goes, and what opening a connection would cost.
//!
//!   cargo bench -p kluis-web --bench find_person
//!   BENCH_SUBJECTS=100000 BENCH_SYSTEM_ROWS=100000 BENCH_POSTGRES=0 cargo bench ...
//!
//! The HR system (PostgreSQL, `TEST_DATABASE_URL`) and the accounting system (MariaDB,
//! `TEST_MYSQL_URL`) are `kluis_connectors::testing`'s, each in a database of its own,
//! grown with `fill`; the vault is a fresh SQLite store and, unless `BENCH_POSTGRES=0`, a
//! fresh PostgreSQL store, seeded with `kluis_store::testing::seed_subjects`. Everything is
//! dropped at the end. Without either variable the benchmark says SKIPPED and passes, except
//! under `CI=true`, where it fails.
//!
//! Without `--bench` (that is, under `cargo test --all-targets`) it runs on 1,000 subjects
//! and about 1,000 rows per system, a few searches, and checks every result (the right
//! people, the right rows, the log grown by one entry per hit); the figures of such a run
//! mean nothing. Results are checked in both modes; timings never are.
//!
//! Plain `std::time::Instant` rather than criterion, as in the other benchmarks:
//! BENCHMARKS.md quotes percentiles of one run, and it needs no dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod common;

use common::*;
use kluis_connectors::testing::{self as systems_testing, TestSystem, people};
use kluis_connectors::{PersonQuery, System, find, find_all};
use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::{EmailAddress, IdentifierKind, NationalNumber, PhoneNumber};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::ChainHead;
use kluis_domain::register_file;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{self as store_testing, Stats, TestStore};
use kluis_store::{Backend, Store, SubjectQuery};
use kluis_web::systems::{self, SystemResult, SystemUrls};
use sqlx::Connection;

/// The processing activities the two systems serve, as a DPO would map them.
/// The peer figure of ../shared/ENGINEERING.md: Fides, an access request for one person.
const FIDES_ACCESS: Duration = Duration::from_secs(1);
const TARGET_P50: Duration = Duration::from_millis(50);

/// How much work a run does: the target's sizes with `--bench`, a smoke test without.
struct Sizes {
    full: bool,
    /// Data subjects seeded into the vault.
    subjects: usize,
    /// People added to each system (HR: 4 rows each, accounting: 3 rows each).
    hr_people: u64,
    accounting_people: u64,
    /// Filled people (in both systems) also recorded in the vault, to search for.
    filled_people: usize,
    searches: usize,
    warm_up: usize,
    postgres: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        let full = full_run("find_person", args)?;
        let env = env_size;
        let (subjects, rows, searches) = if full {
            (
                env("BENCH_SUBJECTS", 1_000_000)?,
                env("BENCH_SYSTEM_ROWS", 1_000_000)?,
                env("BENCH_SEARCHES", 200)?,
            )
        } else {
            (1_000, 1_000, 5)
        };
        let rows = rows.max(12) as u64;
        Ok(Sizes {
            full,
            subjects: subjects.max(1),
            hr_people: rows.div_ceil(4),
            accounting_people: rows.div_ceil(3),
            filled_people: 100,
            searches: searches.max(1),
            warm_up: if full { 20 } else { 1 },
            postgres: with_postgres(),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    exit("find_person", run(std::env::args().skip(1).collect()).await)
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let Some((hr, accounting)) = test_systems("find_person").await else {
        return Ok(());
    };
    if sizes.full {
        println!("machine: {} before filling", machine());
    }
    let filled = fill_systems(
        &hr,
        &accounting,
        sizes.hr_people,
        sizes.accounting_people,
        sizes.filled_people,
    )
    .await?;
    let searches = searches(&filled)?;

    let sqlite = store_testing::sqlite_store().await;
    let queries = bench_backend(&sqlite, &hr, &accounting, &filled, &searches, &sizes).await?;
    sqlite.cleanup().await;
    time_systems_alone(&hr, &accounting, &queries, &sizes).await?;
    if sizes.postgres {
        if let Some(postgres) = store_testing::postgres_store().await {
            bench_backend(&postgres, &hr, &accounting, &filled, &searches, &sizes).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nthe vault on PostgreSQL left out (BENCH_POSTGRES=0)");
    }
    hr.cleanup().await;
    accounting.cleanup().await;
    if !sizes.full {
        println!("\nbench find_person: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

// ── The external systems ──────────────────────────────────────────────────────────────────

fn filled_national_number(g: u64) -> Result<NationalNumber, String> {
    format!("99{g:09}")
        .parse()
        .map_err(|e| format!("filled person {g}: {e}"))
}

fn filled_email(g: u64) -> Result<EmailAddress, String> {
    format!("persoon{g}@bulk.example")
        .parse()
        .map_err(|e| format!("filled person {g}: {e}"))
}

// ── The searches ──────────────────────────────────────────────────────────────────────────

/// A person to search for, and what each system holds on them.
struct Search {
    label: String,
    query: SubjectQuery,
    hr_rows: usize,
    accounting_rows: usize,
}

fn parsed<T: std::str::FromStr>(s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("{s}: {e}"))
}

/// The seeded people of the test systems (rows as `kluis_connectors::testing::people`
/// lists them), then the filled people, each by e-mail and by national number.
fn searches(filled: &[u64]) -> Result<Vec<Search>, String> {
    let email = |s: &str| parsed::<EmailAddress>(s).map(SubjectQuery::Email);
    let nn = |s: &str| parsed::<NationalNumber>(s).map(SubjectQuery::NationalNumber);
    let search = |label: &str, query, hr_rows, accounting_rows| Search {
        label: label.to_string(),
        query,
        hr_rows,
        accounting_rows,
    };
    let mut out = vec![
        search("An by e-mail", email(people::AN_EMAIL)?, 6, 4),
        search(
            "An by national number",
            nn(people::AN_NATIONAL_NUMBER)?,
            6,
            4,
        ),
        search("Bram by e-mail", email(people::BRAM_EMAIL)?, 4, 0),
        search(
            "Bram by national number",
            nn(people::BRAM_NATIONAL_NUMBER)?,
            4,
            0,
        ),
        search("Chloé by e-mail", email(people::CHLOE_EMAIL)?, 2, 3),
        search(
            "Dirk by national number",
            nn(people::DIRK_NATIONAL_NUMBER)?,
            0,
            3,
        ),
    ];
    for &g in filled {
        // The vault knows both identifiers, so either search reaches both systems.
        out.push(search(
            &format!("filled person {g} by national number"),
            SubjectQuery::NationalNumber(filled_national_number(g)?),
            4,
            3,
        ));
        out.push(search(
            &format!("filled person {g} by e-mail"),
            SubjectQuery::Email(filled_email(g)?),
            4,
            3,
        ));
    }
    Ok(out)
}

/// The identities the vault holds for the people searched for, as a caseworker would have
/// recorded them when they applied.
fn vault_identities(filled: &[u64]) -> Result<Vec<SubjectIdentity>, String> {
    let identity = |nn: Option<&str>, email: Option<&str>, phone: Option<&str>| {
        Ok::<_, String>(SubjectIdentity {
            national_number: nn.map(parsed).transpose()?,
            email: email.map(parsed).transpose()?,
            phone: phone.map(parsed::<PhoneNumber>).transpose()?,
            ..SubjectIdentity::default()
        })
    };
    let mut out = vec![
        identity(
            Some(people::AN_NATIONAL_NUMBER),
            Some(people::AN_EMAIL),
            Some(people::AN_PHONE),
        )?,
        identity(
            Some(people::BRAM_NATIONAL_NUMBER),
            Some(people::BRAM_EMAIL),
            None,
        )?,
        identity(None, Some(people::CHLOE_EMAIL), None)?,
        identity(Some(people::DIRK_NATIONAL_NUMBER), None, None)?,
    ];
    for &g in filled {
        out.push(SubjectIdentity {
            national_number: Some(filled_national_number(g)?),
            email: Some(filled_email(g)?),
            ..SubjectIdentity::default()
        });
    }
    Ok(out)
}

// ── One vault backend, end to end ─────────────────────────────────────────────────────────

/// Seeds the vault, connects the two systems and times whole searches. Returns the
/// queries the systems were searched with, for timing the systems alone.
async fn bench_backend(
    store: &TestStore,
    hr: &TestSystem,
    accounting: &TestSystem,
    filled: &[u64],
    searches: &[Search],
    sizes: &Sizes,
) -> Result<Vec<(PersonQuery, Option<(IdentifierKind, String)>)>, String> {
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n══ vault on {backend} ══");
    let register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    let seeded = register
        .activities
        .first()
        .ok_or("examples/limburg.yaml has no activities")?
        .id
        .clone();
    store
        .import_register(&register, false, "bench", NOW)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;
    let start = Instant::now();
    store_testing::seed_subjects(store, &seeded, sizes.subjects, NOW)
        .await
        .map_err(|e| format!("seeding {} subjects: {e}", sizes.subjects))?;
    println!(
        "seeded {} data subjects under '{seeded}' in {:.1} s",
        sizes.subjects,
        start.elapsed().as_secs_f64()
    );
    let p = processing(0, Some("R-2026-0042"));
    for identity in vault_identities(filled)? {
        store
            .record_subject(&p, WERVING, &identity, &[])
            .await
            .map_err(|e| format!("recording an applicant in the vault: {e}"))?;
    }
    let mut urls = BTreeMap::new();
    for (mut map, activity, system) in [
        (systems_testing::hr_map(), WERVING, hr),
        (systems_testing::accounting_map(), BOEKHOUDING, accounting),
    ] {
        map.activities = vec![activity.to_string()];
        urls.insert(map.name.clone(), system.url().to_string());
        store
            .put_system(&map, "bench", NOW)
            .await
            .map_err(|e| format!("storing the map of '{}': {e}", map.name))?;
    }
    let urls = SystemUrls(urls);
    settle(store).await?;
    let queries = time_searches(store, &urls, searches, sizes).await?;
    time_search_overhead(store, &urls, &queries).await?;
    Ok(queries)
}

/// Brings statistics up to date after the bulk load, as a database in steady state would
/// have them, so autovacuum does not start in the middle of a timing.
async fn settle(store: &TestStore) -> Result<(), String> {
    let sql = match store.backend() {
        Backend::Sqlite => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    store.execute_raw(sql).await
}

/// One search, timed in its two parts.
struct Timed {
    total: Duration,
    vault: Duration,
    systems: Duration,
}

async fn time_searches(
    store: &Store,
    urls: &SystemUrls,
    searches: &[Search],
    sizes: &Sizes,
) -> Result<Vec<(PersonQuery, Option<(IdentifierKind, String)>)>, String> {
    let before = log_head(store).await?;
    let mut logged = 0;
    let mut timed = Vec::with_capacity(sizes.searches);
    let mut queries = Vec::with_capacity(sizes.searches);
    for k in 0..sizes.warm_up + sizes.searches {
        let search = &searches[k % searches.len()];
        let p = processing(k as u64 + 1, Some("R-2026-0042"));
        let start = Instant::now();
        let views = store
            .find_subjects(&p, &search.query, &Scope::All)
            .await
            .map_err(|e| format!("{}: the vault: {e}", search.label))?;
        let vault = start.elapsed();
        let identities: Vec<&SubjectIdentity> = views.iter().map(|v| &v.subject.identity).collect();
        let (person, primary) = systems::person_query(&search.query, &identities);
        let results = systems::search(store, urls, &p, &person, primary.as_ref(), &Scope::All)
            .await
            .map_err(|e| format!("{}: logging the systems' hits: {e}", search.label))?;
        let total = start.elapsed();
        if views.len() != 1 {
            return Err(format!(
                "{}: the vault found {} people, not 1",
                search.label,
                views.len()
            ));
        }
        logged += 1 + check(search, &results)?;
        if k >= sizes.warm_up {
            timed.push(Timed {
                total,
                vault,
                systems: total - vault,
            });
            queries.push((person, primary));
        }
    }
    let grown = log_head(store).await?.seq - before.seq;
    if grown != logged as i64 {
        return Err(format!(
            "the searches wrote {grown} log entries, not {logged} (one per person in the \
             vault and per system that held them)"
        ));
    }
    println!(
        "{} searches, cycling through {} queries by e-mail or national number of people in the \
         vault and in 1 or 2 systems, after {} warm-up searches",
        timed.len(),
        searches.len(),
        sizes.warm_up
    );
    header();
    let total = Stats::of(timed.iter().map(|t| t.total).collect());
    report("whole search: vault + both systems + log", &total);
    report(
        "  of which the vault (find_subjects)",
        &Stats::of(timed.iter().map(|t| t.vault).collect()),
    );
    report(
        "  of which the systems (systems::search)",
        &Stats::of(timed.iter().map(|t| t.systems).collect()),
    );
    if !sizes.full {
        return Ok(queries);
    }
    println!(
        "  target p50 < {} ms: {}; Fides' ~{} ms for an access request is {:.0}x the p50",
        TARGET_P50.as_millis(),
        if total.median < TARGET_P50 {
            "met"
        } else {
            "NOT met"
        },
        FIDES_ACCESS.as_millis(),
        FIDES_ACCESS.as_secs_f64() / total.median.as_secs_f64()
    );
    println!("  load average {} after the searches", load_average());
    Ok(queries)
}

/// What `systems::search` does besides the connectors, timed apart for the same people:
/// reading the stored dataset maps (and making a `System` of each), and logging both
/// systems' hits (one durable transaction per system).
async fn time_search_overhead(
    store: &Store,
    urls: &SystemUrls,
    queries: &[(PersonQuery, Option<(IdentifierKind, String)>)],
) -> Result<(), String> {
    let categories = BTreeSet::from([DataCategory::Identification, DataCategory::Contact]);
    let mut maps = Vec::with_capacity(queries.len());
    let mut logs = Vec::with_capacity(queries.len());
    for (k, (_, primary)) in queries.iter().enumerate() {
        let (kind, value) = primary
            .as_ref()
            .ok_or("a search without an identifier for the log")?;
        let start = Instant::now();
        let stored = store
            .systems()
            .await
            .map_err(|e| format!("reading the systems: {e}"))?;
        for s in stored {
            let url = urls.0.get(&s.map.name).ok_or("a system without its URL")?;
            black_box(System::new(s.map, url).map_err(|e| e.to_string())?);
        }
        maps.push(start.elapsed());
        let p = processing(1_000_000 + k as u64, Some("R-2026-0042"));
        let start = Instant::now();
        for (system, activity) in [("accounting", BOEKHOUDING), ("hr", WERVING)] {
            store
                .log_system_hits(
                    &p,
                    system,
                    &[activity.to_string()],
                    (*kind, value),
                    &categories,
                )
                .await
                .map_err(|e| format!("logging hits: {e}"))?;
        }
        logs.push(start.elapsed());
    }
    println!("  the rest of systems::search, timed apart:");
    report(
        "  reading the maps (systems + System::new)",
        &Stats::of(maps),
    );
    report("  log_system_hits, both systems", &Stats::of(logs));
    Ok(())
}

/// Checks a search's system results; gives the number of log entries they wrote.
fn check(search: &Search, results: &[SystemResult]) -> Result<usize, String> {
    let mut logged = 0;
    for (name, want) in [
        ("accounting", search.accounting_rows),
        ("hr", search.hr_rows),
    ] {
        let result = results
            .iter()
            .find(|r| r.system == name)
            .ok_or_else(|| format!("{}: system '{name}' was not searched", search.label))?;
        if let Some(error) = &result.error {
            return Err(format!("{}: system '{name}': {error}", search.label));
        }
        if result.rows.len() != want {
            return Err(format!(
                "{}: system '{name}' gave {} rows, not {want}",
                search.label,
                result.rows.len()
            ));
        }
        logged += usize::from(want > 0);
    }
    Ok(logged)
}

// ── The systems alone ─────────────────────────────────────────────────────────────────────

/// The searches' system part without the vault and the log: each system alone, both at
/// once, and opening a connection and nothing else.
async fn time_systems_alone(
    hr: &TestSystem,
    accounting: &TestSystem,
    queries: &[(PersonQuery, Option<(IdentifierKind, String)>)],
    sizes: &Sizes,
) -> Result<(), String> {
    let both = [hr.system().clone(), accounting.system().clone()];
    println!(
        "\nthe systems alone, the same {} searches, no vault, no log",
        queries.len()
    );
    header();
    for system in &both {
        let times = time_each(
            queries,
            async |person: &PersonQuery, trace: &TraceContext| {
                find(system, person, Some(trace))
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            },
        )
        .await?;
        report(
            &format!("kluis_connectors::find, {} only", system.name()),
            &Stats::of(times),
        );
    }
    let times = time_each(
        queries,
        async |person: &PersonQuery, trace: &TraceContext| {
            for found in find_all(&both, person, Some(trace)).await {
                found.result.map_err(|e| e.to_string())?;
            }
            Ok(())
        },
    )
    .await?;
    report(
        "kluis_connectors::find_all, both at once",
        &Stats::of(times),
    );
    let n = queries.len().max(sizes.warm_up);
    for (label, url, postgres) in [
        ("open + close a connection, PostgreSQL", hr.url(), true),
        (
            "open + close a connection, MariaDB",
            accounting.url(),
            false,
        ),
    ] {
        let mut times = Vec::with_capacity(n);
        for _ in 0..n {
            let start = Instant::now();
            let opened = if postgres {
                match sqlx::PgConnection::connect(url).await {
                    Ok(c) => c.close().await,
                    Err(e) => Err(e),
                }
            } else {
                match sqlx::MySqlConnection::connect(url).await {
                    Ok(c) => c.close().await,
                    Err(e) => Err(e),
                }
            };
            opened.map_err(|e| format!("{label}: {e}"))?;
            times.push(start.elapsed());
        }
        report(label, &Stats::of(times));
    }
    if sizes.full {
        println!("  load average {} after these", load_average());
    }
    Ok(())
}

/// Runs `f` once per query and times each call.
async fn time_each(
    queries: &[(PersonQuery, Option<(IdentifierKind, String)>)],
    f: impl AsyncFn(&PersonQuery, &TraceContext) -> Result<(), String>,
) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(queries.len());
    for (k, (person, _)) in queries.iter().enumerate() {
        let trace = trace(k as u64 + 1);
        let start = Instant::now();
        f(person, &trace).await?;
        times.push(start.elapsed());
    }
    Ok(times)
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────

async fn log_head(store: &Store) -> Result<ChainHead, String> {
    store
        .log_head()
        .await
        .map_err(|e| format!("reading the log head: {e}"))
}
