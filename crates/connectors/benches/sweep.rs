//! Speed of the retention sweep of connected systems (issue 6): 1,000,000 due rows in the
//! HR system on PostgreSQL (applications, with their interview notes and documents,
//! deleted) and in the accounting system on MariaDB (suppliers anonymised, their invoices
//! and payments deleted), in batches of one transaction each.
//!
//!   cargo bench -p kluis-connectors --bench sweep
//!   BENCH_ROWS=300000 BENCH_BATCH=5000 BENCH_MARIADB=0 cargo bench -p kluis-connectors --bench sweep
//!
//! Needs `TEST_DATABASE_URL` and `TEST_MYSQL_URL` (a system without one is left out with a
//! notice, or fails under `CI=true`); each run creates databases of its own and drops them
//! (see `kluis_connectors::testing`). Without `--bench` (under `cargo test
//! --all-targets`) it runs once on a few hundred rows, so the benchmark cannot rot; the
//! figures of such a run mean nothing. The rows swept are checked in both modes; timings
//! never are.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use kluis_connectors::testing::{self, TestSystem};
use kluis_connectors::{PersonQuery, System, SystemErasureReport, expired, sweep_expired};
use kluis_domain::dataset_map::{RetentionPeriods, TableErasure};
use time::macros::date;

const TODAY: time::Date = date!(2026 - 01 - 01);

struct Sizes {
    full: bool,
    /// Due rows per system, about.
    rows: u64,
    batch: usize,
    mariadb: bool,
}

fn env_number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{name}={v} is not a number")),
        Err(_) => Ok(default),
    }
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        let full = args.iter().any(|a| a == "--bench");
        Ok(Sizes {
            full,
            rows: env_number("BENCH_ROWS", if full { 1_000_000 } else { 300 })?,
            batch: env_number("BENCH_BATCH", if full { 10_000 } else { 40 })? as usize,
            mariadb: std::env::var("BENCH_MARIADB").map_or(true, |v| v != "0"),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench sweep: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores; {} due rows per system, batches of {}",
        sizes.rows, sizes.batch
    );
    // Without the variable the helpers print a notice (and panic under CI=true).
    if let Some(hr) = testing::hr_postgres().await {
        let result = bench_postgres(&hr, &sizes).await;
        hr.cleanup().await;
        result?;
    }
    if sizes.mariadb {
        if let Some(accounting) = testing::accounting_mariadb().await {
            let result = bench_mariadb(&accounting, &sizes).await;
            accounting.cleanup().await;
            result?;
        }
    } else {
        println!("\nMariaDB left out (BENCH_MARIADB=0)");
    }
    if !sizes.full {
        println!("\nbench sweep: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

/// HR: every bulk application rejected and closed in 2024, so due with its notes and
/// documents: three rows per person.
async fn bench_postgres(hr: &TestSystem, sizes: &Sizes) -> Result<(), String> {
    println!("\n══ PostgreSQL: HR (delete applications, interview notes, documents) ══");
    let people = sizes.rows.div_ceil(3);
    let filled = Instant::now();
    hr.fill(people).await;
    hr.execute(
        "UPDATE hr.applications SET status = 'rejected', closed_on = '2024-01-01' WHERE id > 4; \
         ANALYZE hr.applications, hr.interview_notes, hr.documents",
    )
    .await;
    println!(
        "filled {} people in {:.1} s",
        people,
        filled.elapsed().as_secs_f64()
    );
    let periods = hr
        .system()
        .map()
        .retention_periods(&testing::schedules())
        .map_err(|e| format!("{e:?}"))?;
    // An's rejected application, its note and its document are due too.
    let due = people * 3 + 3;
    measure(hr.system(), &periods, sizes, due).await
}

/// Accounting: every bulk supplier's relationship ended in 2010; suppliers are
/// anonymised and (in this variant of the map) their invoices and payments deleted.
async fn bench_mariadb(accounting: &TestSystem, sizes: &Sizes) -> Result<(), String> {
    println!("\n══ MariaDB: accounting (anonymise suppliers, delete invoices, payments) ══");
    let people = sizes.rows.div_ceil(3);
    let filled = Instant::now();
    accounting.fill(people).await;
    accounting
        .execute(
            "UPDATE suppliers SET ended_on = '2010-01-01' WHERE id > 4; \
             ANALYZE TABLE suppliers, invoices, payments",
        )
        .await;
    println!(
        "filled {} people in {:.1} s",
        people,
        filled.elapsed().as_secs_f64()
    );
    let mut map = testing::accounting_map();
    for table in ["invoices", "payments"] {
        if let Some(t) = map.tables.get_mut(table) {
            t.erasure = Some(TableErasure::DeleteRow);
        }
    }
    let periods = map
        .retention_periods(&testing::schedules())
        .map_err(|e| format!("{e:?}"))?;
    // Dirk's supplier record, invoice and payment are due too.
    let due = people * 3 + 3;
    measure(&accounting.with_map(map), &periods, sizes, due).await
}

/// Times the plan, the sweep and a second sweep, and checks the rows each handled.
async fn measure(
    system: &System,
    periods: &RetentionPeriods,
    sizes: &Sizes,
    due: u64,
) -> Result<(), String> {
    let started = Instant::now();
    let plan = expired(system, periods, &PersonQuery::new(), TODAY)
        .await
        .map_err(|e| e.to_string())?;
    let planned: u64 = plan.iter().map(|t| t.deleted + t.anonymised).sum();
    report_time("plan (counts, no change)", started.elapsed(), planned);
    check(planned, due, "planned")?;

    let started = Instant::now();
    let report = sweep_expired(
        system,
        periods,
        &PersonQuery::new(),
        TODAY,
        sizes.batch,
        false,
    )
    .await;
    let elapsed = started.elapsed();
    done(&report)?;
    let swept = report.deleted() + report.anonymised();
    report_time("sweep", elapsed, swept);
    check(swept, due, "swept")?;
    print!("{report}");

    let started = Instant::now();
    let again = sweep_expired(
        system,
        periods,
        &PersonQuery::new(),
        TODAY,
        sizes.batch,
        false,
    )
    .await;
    done(&again)?;
    report_time(
        "sweep again (nothing left to change)",
        started.elapsed(),
        again.deleted() + again.anonymised(),
    );
    check(again.deleted() + again.anonymised(), 0, "swept again")
}

fn done(report: &SystemErasureReport) -> Result<(), String> {
    match &report.error {
        Some(e) => Err(format!("the sweep failed: {e}")),
        None => Ok(()),
    }
}

fn check(got: u64, want: u64, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} {got} rows, expected {want}"))
    }
}

fn report_time(step: &str, elapsed: Duration, rows: u64) {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    println!("{step:<40} {rows:>9} rows in {secs:>7.2} s  ({rate:>9.0} rows/s)");
}
