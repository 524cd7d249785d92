//! Speed of the complete access package for one person (issue 4): the vault of 1,000,000
//! data subjects plus one PostgreSQL and one MariaDB system of about 1,000,000 rows each,
//! p50 under 250 ms; and 100 requests in flight at once slow a single lookup by at most 2×.
//!
//! One package is what `GET /api/v1/rights-requests/{id}/access-package` and `kluis request
//! package` run for each format, minus HTTP and authentication, made once for all three
//! formats: `access_package::assemble` (the request's decisions, the register and the
//! privacy statement's words, the vault read of the person, both systems searched through
//! `systems::search`, the processing log read for who consulted the data), then the HTML
//! page, the PDF and the zip rendered, and the export entries appended to the log.
//!
//!   cargo bench -p kluis-web --bench access_package
//!   BENCH_SUBJECTS=100000 BENCH_SYSTEM_ROWS=100000 BENCH_POSTGRES=0 cargo bench ...
//!   BENCH_PACKAGES=100 BENCH_IN_FLIGHT=100 (timed packages, packages in flight at once)
//!   BENCH_BULK_PERMITS=1 (packages admitted at once; default as the server: half the cores)
//!
//! The second target is measured as it is named: the latency of one person lookup (what
//! `POST /api/v1/subjects/search` runs, minus HTTP: `Store::find_subjects` by national
//! number, then `systems::search` in both systems, as the `find_person` bench) alone, and
//! while `BENCH_IN_FLIGHT` access packages are in flight at once. The packages go through
//! the server's bulk gate (`kluis_web::BulkGate`, what the API's package, transmission and
//! fulfilment handlers wait at), so they queue for `BENCH_BULK_PERMITS` turns as they would
//! in the server; the package throughput under that load is reported too. With
//! `BENCH_BULK_PERMITS` at `BENCH_IN_FLIGHT` the gate admits all at once: the old behaviour.
//!
//! The systems and the vault are seeded as in `find_person` (the same helpers, the same
//! variables): the HR system (PostgreSQL, `TEST_DATABASE_URL`) and the accounting system
//! (MariaDB, `TEST_MYSQL_URL`) from `kluis_connectors::testing`, grown with `fill`; the
//! vault a fresh SQLite store and, unless `BENCH_POSTGRES=0`, a fresh PostgreSQL store,
//! seeded with `kluis_store::testing::seed_subjects`. Without either variable the benchmark
//! says SKIPPED and passes, except under `CI=true`, where it fails.
//!
//! Without `--bench` (under `cargo test --all-targets`) it runs on 1,000 subjects and about
//! 1,000 rows per system, a few packages and 4 in flight, and checks every package (the
//! person's records, both systems' rows, a consultation, the formats, the log grown by the
//! exports); those figures mean nothing. Results are checked in both modes.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod common;

use common::*;
use kluis_connectors::testing::{self as systems_testing, TestSystem};
use kluis_domain::access::Scope;
use kluis_domain::access_package::PackageKind;
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::NationalNumber;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::register_file;
use kluis_domain::rights::{ActingFor, Decision, Outcome, RequestChannel, Requester, Right};
use kluis_domain::text::Lang;
use kluis_store::testing::{self as store_testing, Stats, TestStore};
use kluis_store::{Backend, NewRequest, RequestChange, Store, SubjectQuery};
use kluis_web::BulkGate;
use kluis_web::access_package::{self, Format};
use kluis_web::systems::{self, SystemUrls};
use time::macros::date;
use uuid::Uuid;

const TARGET_P50: Duration = Duration::from_millis(250);
const TARGET_SLOWDOWN: f64 = 2.0;

struct Sizes {
    full: bool,
    subjects: usize,
    hr_people: u64,
    accounting_people: u64,
    /// Filled people (in both systems and the vault), each with a decided request.
    people: usize,
    packages: usize,
    warm_up: usize,
    in_flight: usize,
    /// Lookups timed alone and under load, for the slowdown.
    probes: usize,
    /// Packages admitted at once by the bulk gate.
    bulk_permits: usize,
    postgres: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        let full = full_run("access_package", args)?;
        let env = env_size;
        let (subjects, rows, packages, in_flight) = if full {
            (
                env("BENCH_SUBJECTS", 1_000_000)?,
                env("BENCH_SYSTEM_ROWS", 1_000_000)?,
                env("BENCH_PACKAGES", 100)?,
                env("BENCH_IN_FLIGHT", 100)?,
            )
        } else {
            (1_000, 1_000, 4, 4)
        };
        let bulk_permits = env("BENCH_BULK_PERMITS", BulkGate::default_permits())?;
        let rows = rows.max(12) as u64;
        Ok(Sizes {
            full,
            subjects: subjects.max(1),
            hr_people: rows.div_ceil(4),
            accounting_people: rows.div_ceil(3),
            people: 50,
            packages: packages.max(1),
            warm_up: if full { 10 } else { 1 },
            in_flight: in_flight.max(1),
            probes: if full { 50 } else { 2 },
            bulk_permits: bulk_permits.max(1),
            postgres: with_postgres(),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    exit(
        "access_package",
        run(std::env::args().skip(1).collect()).await,
    )
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let Some((hr, accounting)) = test_systems("access_package").await else {
        return Ok(());
    };
    if sizes.full {
        println!("machine: {}", machine());
    }
    let filled = fill_systems(
        &hr,
        &accounting,
        sizes.hr_people,
        sizes.accounting_people,
        sizes.people,
    )
    .await?;
    let sqlite = store_testing::sqlite_store().await;
    bench_backend(&sqlite, &hr, &accounting, &filled, &sizes).await?;
    sqlite.cleanup().await;
    if sizes.postgres {
        if let Some(postgres) = store_testing::postgres_store().await {
            bench_backend(&postgres, &hr, &accounting, &filled, &sizes).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nthe vault on PostgreSQL left out (BENCH_POSTGRES=0)");
    }
    hr.cleanup().await;
    accounting.cleanup().await;
    if !sizes.full {
        println!("\nbench access_package: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

// ── The external systems, as find_person grows them ─────────────────────────────────────

// ── One vault backend ───────────────────────────────────────────────────────────────────

/// A person's decided request, and what their package must hold.
struct Case {
    request: Uuid,
    records: usize,
    national_number: NationalNumber,
}

async fn bench_backend(
    store: &TestStore,
    hr: &TestSystem,
    accounting: &TestSystem,
    filled: &[u64],
    sizes: &Sizes,
) -> Result<(), String> {
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n══ vault on {backend} ══");
    let register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    store
        .import_register(&register, false, "bench", NOW)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;
    // The bulk of the vault under the register's first activity, as `find_person` does.
    let seeded = register
        .activities
        .first()
        .ok_or("examples/limburg.yaml has no activities")?
        .id
        .clone();
    let start = Instant::now();
    store_testing::seed_subjects(store, &seeded, sizes.subjects, NOW)
        .await
        .map_err(|e| format!("seeding {} subjects: {e}", sizes.subjects))?;
    println!(
        "seeded {} data subjects in {:.1} s",
        sizes.subjects,
        start.elapsed().as_secs_f64()
    );
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
    let mut cases = Vec::with_capacity(filled.len());
    for &g in filled {
        cases.push(decided_request(store, g).await?);
    }
    let sql = match store.backend() {
        Backend::Sqlite => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    store.execute_raw(sql).await?;

    // One package at a time.
    let before = store.log_head().await.map_err(|e| e.to_string())?;
    let mut whole = Vec::new();
    let mut parts: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut exports = 0;
    for k in 0..sizes.warm_up + sizes.packages {
        let case = &cases[k % cases.len()];
        let (timing, logged) = one_package(store, &urls, case, k as u64).await?;
        exports += logged;
        if k >= sizes.warm_up {
            whole.push(timing.total);
            for (name, d) in timing.parts {
                parts.entry(name).or_default().push(d);
            }
        }
    }
    let grown = store.log_head().await.map_err(|e| e.to_string())?.seq - before.seq;
    if grown < exports as i64 {
        return Err(format!(
            "the packages grew the log by {grown} entries, fewer than their {exports} exports"
        ));
    }
    println!(
        "{} packages (all three formats each), cycling through {} people with 2 records in \
         the vault, 4 rows in HR and 3 in accounting, after {} warm-up packages",
        whole.len(),
        cases.len(),
        sizes.warm_up
    );
    header();
    let total = Stats::of(whole);
    report(
        "complete package: assemble + html + pdf + zip + log",
        &total,
    );
    for (name, times) in parts {
        report(&format!("  of which {name}"), &Stats::of(times));
    }
    if sizes.full {
        println!(
            "  target p50 < {} ms: {}; load average {}",
            TARGET_P50.as_millis(),
            if total.median < TARGET_P50 {
                "met"
            } else {
                "NOT met"
            },
            load_average()
        );
    }
    in_flight(store, &urls, &cases, sizes).await
}

/// Records person `g` in the vault with two records, and files, verifies and decides an
/// access request for them, granted for both activities the systems serve.
async fn decided_request(store: &Store, g: u64) -> Result<Case, String> {
    let p = processing(0, None);
    let identity = identity(g)?;
    let (subject, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .map_err(|e| format!("recording person {g}: {e}"))?;
    for (field, value) in [("diploma", "Master"), ("motivatie", "brief")] {
        store
            .add_record(
                &p,
                subject.id,
                &RecordInput {
                    activity: WERVING.into(),
                    schedule: Some("niet-weerhouden".into()),
                    category: DataCategory::Education,
                    fields: BTreeMap::from([(field.to_string(), serde_json::json!(value))]),
                    source: Some("de kandidaat".into()),
                    collected_on: date!(2026 - 10 - 01),
                    events: BTreeMap::new(),
                    provided_by_subject: true,
                },
            )
            .await
            .map_err(|e| format!("a record of person {g}: {e}"))?;
    }
    let filed = store
        .file_request(
            &NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Access],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: identity.clone(),
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: identity.email.clone(),
                    postal_address: None,
                    message: String::new(),
                },
                language: Lang::Nl,
                received_on: NOW.date(),
            },
            |_| None,
            "bench",
            NOW,
        )
        .await
        .map_err(|e| format!("filing for person {g}: {e}"))?;
    let granted = |activity: &str| Decision {
        right: Right::Access,
        activity: activity.into(),
        outcome: Outcome::Granted,
        grounds: Vec::new(),
        motivation: "U krijgt al uw gegevens.".into(),
    };
    let mut version = store
        .rights_request(filed.id)
        .await
        .map_err(|e| e.to_string())?
        .version;
    for change in [
        RequestChange::VerifyIdentity {
            subject_id: Some(subject.id),
        },
        RequestChange::Decide {
            decisions: vec![granted(WERVING), granted(BOEKHOUDING)],
        },
    ] {
        version = store
            .change_request(filed.id, version, &change, "bench", NOW)
            .await
            .map_err(|e| format!("request of person {g}: {e}"))?
            .version;
    }
    Ok(Case {
        request: filed.id,
        records: 2,
        national_number: identity
            .national_number
            .ok_or("a filled person without a national number")?,
    })
}

struct Timing {
    total: Duration,
    parts: Vec<(&'static str, Duration)>,
}

/// One complete package, checked; gives its timing and the export entries it logged.
async fn one_package(
    store: &Store,
    urls: &SystemUrls,
    case: &Case,
    n: u64,
) -> Result<(Timing, usize), String> {
    let p = processing(n + 1, None);
    let start = Instant::now();
    let request = store
        .rights_request(case.request)
        .await
        .map_err(|e| e.to_string())?;
    let assembled = access_package::assemble(store, urls, &p, &request, PackageKind::Access)
        .await
        .map_err(|e| format!("{}: {e}", request.reference))?;
    let assembled_at = start.elapsed();
    let mut parts = vec![("assemble (vault, systems, log, register)", assembled_at)];
    let mut sizes = Vec::new();
    for (name, format) in [
        ("html", Format::Html),
        ("pdf", Format::Pdf),
        ("zip", Format::Zip),
    ] {
        let t = Instant::now();
        let body = access_package::render(&assembled.package, format)
            .map_err(|e| format!("{name}: {e}"))?;
        parts.push((name, t.elapsed()));
        sizes.push(body.len());
    }
    let logged = assembled.log_entries.len();
    let t = Instant::now();
    store
        .append_log(&p, assembled.log_entries)
        .await
        .map_err(|e| format!("logging the export: {e}"))?;
    parts.push(("the export's log entries", t.elapsed()));
    let total = start.elapsed();
    check(&assembled.package, case, &sizes)?;
    Ok((Timing { total, parts }, logged))
}

fn check(
    package: &kluis_domain::access_package::AccessPackage,
    case: &Case,
    sizes: &[usize],
) -> Result<(), String> {
    let r = &package.reference;
    if package.records.len() != case.records {
        return Err(format!(
            "{r}: {} records, not {}",
            package.records.len(),
            case.records
        ));
    }
    let rows = |system: &str| {
        package
            .system_rows
            .iter()
            .filter(|row| row.system == system)
            .count()
    };
    if (rows("hr"), rows("accounting")) != (4, 3) || !package.incomplete.is_empty() {
        return Err(format!(
            "{r}: {} HR rows and {} accounting rows (want 4 and 3); gaps {:?}",
            rows("hr"),
            rows("accounting"),
            package.incomplete
        ));
    }
    if package.consultations.is_empty() {
        return Err(format!(
            "{r}: no consultation, though the vault logged its reads"
        ));
    }
    if sizes.contains(&0) {
        return Err(format!("{r}: an empty rendering: {sizes:?}"));
    }
    Ok(())
}

/// One person lookup, as `POST /api/v1/subjects/search` runs it (vault, then both systems),
/// checked; gives its latency.
async fn one_lookup(
    store: &Store,
    urls: &SystemUrls,
    case: &Case,
    n: u64,
) -> Result<Duration, String> {
    let p = processing(n + 1, None);
    let query = SubjectQuery::NationalNumber(case.national_number);
    let start = Instant::now();
    let views = store
        .find_subjects(&p, &query, &Scope::All)
        .await
        .map_err(|e| format!("lookup: the vault: {e}"))?;
    let identities: Vec<&SubjectIdentity> = views.iter().map(|v| &v.subject.identity).collect();
    let (person, primary) = systems::person_query(&query, &identities);
    let results = systems::search(store, urls, &p, &person, primary.as_ref(), &Scope::All)
        .await
        .map_err(|e| format!("lookup: the systems: {e}"))?;
    let took = start.elapsed();
    let rows: usize = results.iter().map(|r| r.rows.len()).sum();
    if views.len() != 1 || rows != 7 || results.iter().any(|r| r.error.is_some()) {
        return Err(format!(
            "lookup: {} people in the vault (want 1), {rows} rows in the systems (want 7), \
             errors {:?}",
            views.len(),
            results
                .iter()
                .filter_map(|r| r.error.as_ref())
                .collect::<Vec<_>>()
        ));
    }
    Ok(took)
}

/// A single person lookup alone, then while `in_flight` access packages are being made at
/// once, admitted by the bulk gate as the API admits them.
async fn in_flight(
    store: &Store,
    urls: &SystemUrls,
    cases: &[Case],
    sizes: &Sizes,
) -> Result<(), String> {
    let cases: Arc<Vec<Case>> = Arc::new(
        cases
            .iter()
            .map(|c| Case {
                request: c.request,
                records: c.records,
                national_number: c.national_number,
            })
            .collect(),
    );
    for k in 0..sizes.warm_up {
        one_lookup(store, urls, &cases[k % cases.len()], 4_000_000 + k as u64).await?;
    }
    let mut alone = Vec::with_capacity(sizes.probes);
    for k in 0..sizes.probes {
        alone.push(one_lookup(store, urls, &cases[k % cases.len()], 5_000_000 + k as u64).await?);
    }
    // Keep `in_flight` packages going until the probes are done, each waiting its turn at
    // the gate. A package that fails under this load (a server out of connections) is
    // counted and reported, not fatal: how many fail is part of the answer.
    let gate = BulkGate::new(sizes.bulk_permits);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(std::sync::Mutex::new((0usize, None::<String>)));
    let mut workers = Vec::with_capacity(sizes.in_flight);
    for w in 0..sizes.in_flight {
        let (store, urls, cases, stop, done, failed, gate) = (
            store.clone(),
            urls.clone(),
            cases.clone(),
            stop.clone(),
            done.clone(),
            failed.clone(),
            gate.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut k = w;
            while !stop.load(Ordering::Relaxed) {
                let n = 6_000_000 + (w * 100_000 + k) as u64;
                let turn = gate.admit().await;
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let made = one_package(&store, &urls, &cases[k % cases.len()], n).await;
                drop(turn);
                match made {
                    Ok(_) => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        let mut f = failed.lock().unwrap_or_else(|p| p.into_inner());
                        f.0 += 1;
                        f.1.get_or_insert(e);
                    }
                }
                // Step through the people, so the workers do not all ask for one.
                k += 7;
            }
            Ok::<(), String>(())
        }));
    }
    // Let the load build up before probing.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let before = done.load(Ordering::Relaxed);
    let mut loaded = Vec::with_capacity(sizes.probes);
    let mut probe_errors = Vec::new();
    for k in 0..sizes.probes {
        match one_lookup(store, urls, &cases[k % cases.len()], 7_000_000 + k as u64).await {
            Ok(t) => loaded.push(t),
            Err(e) => probe_errors.push(e),
        }
    }
    let elapsed = started.elapsed();
    let background = done.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.map_err(|e| e.to_string())??;
    }
    let (failures, first) = failed.lock().map(|f| f.clone()).unwrap_or_default();
    if failures > 0 || !probe_errors.is_empty() {
        println!(
            "  under load {failures} background packages and {} lookups failed; the first: {}",
            probe_errors.len(),
            probe_errors
                .first()
                .or(first.as_ref())
                .map_or("", String::as_str)
        );
        if !sizes.full {
            return Err("packages or lookups failed under load in the smoke run".into());
        }
    }
    if loaded.is_empty() {
        return Err("every lookup failed under load".into());
    }
    let (alone, loaded) = (Stats::of(alone), Stats::of(loaded));
    println!(
        "\na single person lookup (vault + both systems) alone, and with {} access packages in \
         flight, {} admitted at once by the bulk gate ({background} packages finished while \
         probing, {:.1} packages/s)",
        sizes.in_flight,
        sizes.bulk_permits,
        background as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    header();
    report("lookup alone", &alone);
    report(
        &format!("lookup with {} packages in flight", sizes.in_flight),
        &loaded,
    );
    let slowdown = loaded.median.as_secs_f64() / alone.median.as_secs_f64().max(1e-9);
    let slowdown_p90 = loaded.p90.as_secs_f64() / alone.p90.as_secs_f64().max(1e-9);
    println!(
        "  slowdown of the lookup: p50 {slowdown:.1}x, p90 {slowdown_p90:.1}x{}",
        if sizes.full {
            format!(
                " (target at most {TARGET_SLOWDOWN}x: {}); load average {}",
                if slowdown <= TARGET_SLOWDOWN {
                    "met"
                } else {
                    "NOT met"
                },
                load_average()
            )
        } else {
            String::new()
        }
    );
    Ok(())
}
