//! Speed of the retention sweep (issue 6), on SQLite and on PostgreSQL: destroying
//! 1,000,000 expired vault records, with their destruction-log entries, their
//! processing-log Erase entries and the deletion of the data subjects left with nothing,
//! timed end to end: under 10 s.
//!
//!   cargo bench -p kluis-store --bench retention
//!   BENCH_RECORDS=100000 BENCH_POSTGRES=0 cargo bench -p kluis-store --bench retention
//!
//! Each record belongs to a data subject of its own, known by an encrypted national
//! number: the worst case, since every record costs a subject's deletion and a decryption
//! for the log's pseudonym. PostgreSQL needs `TEST_DATABASE_URL`. Without `--bench` (under
//! `cargo test --all-targets`) it runs once on 2,000 records and checks the results, so
//! the benchmark cannot rot; the figures of such a run mean nothing. Timings are never
//! asserted.

use std::process::ExitCode;
use std::time::Instant;

use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::register_file;
use kluis_domain::retention::{Period, RetentionEvent, RetentionRule};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{self, TestStore};
use kluis_store::{Backend, Processing, SweepOptions, SweepOutcome};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const LIMBURG: &str = include_str!("../../../examples/limburg.yaml");
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

struct Sizes {
    full: bool,
    records: usize,
    batch: usize,
    postgres: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        let full = match args {
            [] => false,
            [flag] if flag == "--bench" => true,
            _ => return Err("usage: retention [--bench] (sizes from BENCH_* variables)".into()),
        };
        let env = |name: &str, default: usize| -> Result<usize, String> {
            match std::env::var(name) {
                Ok(v) if !v.is_empty() => v
                    .replace('_', "")
                    .parse()
                    .map_err(|_| format!("{name}={v}: give a whole number, e.g. 100000")),
                _ => Ok(default),
            }
        };
        Ok(Sizes {
            full,
            records: env("BENCH_RECORDS", if full { 1_000_000 } else { 2_000 })?,
            batch: env("BENCH_BATCH", SweepOptions::default().batch_size)?,
            postgres: std::env::var("BENCH_POSTGRES").map_or(true, |v| v != "0"),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench retention: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores, load average {} before timing",
        load_average()
    );
    let sqlite = testing::sqlite_store().await;
    bench_backend(&sqlite, &sizes).await?;
    sqlite.cleanup().await;
    if sizes.postgres {
        if let Some(postgres) = testing::postgres_store().await {
            bench_backend(&postgres, &sizes).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nPostgreSQL left out (BENCH_POSTGRES=0)");
    }
    if !sizes.full {
        println!("\nbench retention: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

async fn bench_backend(store: &TestStore, sizes: &Sizes) -> Result<(), String> {
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n══ {backend} ══");
    // Limburg's register, with its first activity kept 30 days after collection.
    let mut register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    let activity = register
        .activities
        .first_mut()
        .ok_or("examples/limburg.yaml has no activities")?;
    activity.retention.truncate(1);
    activity.retention[0].rule = RetentionRule::AfterEvent {
        event: RetentionEvent::Collection,
        period: Period::days(30),
    };
    let seeded = activity.id.clone();
    store
        .import_register(&register, false, "bench", NOW)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;

    // Collected 60 days ago: every record is 30 days past its deadline.
    let start = Instant::now();
    testing::seed_subjects(store, &seeded, sizes.records, NOW - Duration::days(60))
        .await
        .map_err(|e| format!("seeding {} records: {e}", sizes.records))?;
    println!(
        "seeded {} expired records (one data subject each) under '{seeded}' in {:.1} s",
        sizes.records,
        start.elapsed().as_secs_f64()
    );
    store
        .execute_raw("ANALYZE")
        .await
        .map_err(|e| format!("ANALYZE: {e}"))?;

    let job = Processing {
        actor: Actor {
            kind: ActorKind::SystemJob,
            id: None,
            name: "retention sweep".into(),
        },
        trace: TraceContext::new_root([1; 16], [2; 8]),
        case_ref: None,
        now: NOW,
    };
    let options = SweepOptions {
        batch_size: sizes.batch,
        ..SweepOptions::default()
    };
    println!("load average before the sweep: {}", load_average());
    let start = Instant::now();
    let outcome = store
        .sweep_retention(&job, &options)
        .await
        .map_err(|e| format!("the sweep: {e}"))?;
    let took = start.elapsed();
    let SweepOutcome::Ran(run) = outcome else {
        return Err(format!("the sweep did not run: {outcome:?}"));
    };
    let n = i64::try_from(sizes.records).unwrap_or(i64::MAX);
    if (run.destroyed, run.subjects_deleted) != (n, n) {
        return Err(format!(
            "the sweep destroyed {} records and {} subjects, not {n} of each",
            run.destroyed, run.subjects_deleted
        ));
    }
    // Every record is listed in the run's destruction log, once.
    let logged = store
        .destruction_log(Some(run.id), 0, 1_000_000)
        .await
        .map_err(|e| e.to_string())?;
    let listed: std::collections::HashSet<_> = logged
        .iter()
        .filter(|e| e.table == "records")
        .flat_map(|e| e.record_ids.iter().copied())
        .collect();
    if listed.len() != sizes.records {
        return Err(format!(
            "the run's destruction log lists {} records, not {}",
            listed.len(),
            sizes.records
        ));
    }
    let plan = store
        .retention_plan(NOW.date(), NOW.date())
        .await
        .map_err(|e| e.to_string())?;
    if plan.activities.iter().any(|l| l.due > 0) {
        return Err(format!("records are still due after the sweep: {plan:?}"));
    }
    println!(
        "swept {} expired records ({} subjects, batches of {}) in {:.2} s: {:.0} records/s",
        run.destroyed,
        run.subjects_deleted,
        sizes.batch,
        took.as_secs_f64(),
        sizes.records as f64 / took.as_secs_f64()
    );
    println!("load average after {backend}: {}", load_average());
    Ok(())
}
