//! What the rights benchmarks (`find_person`, `access_package`, `erasure`) share: the
//! register, the machine line, the sizes from BENCH_* variables, growing the HR and
//! accounting test systems with people who are in both, and the table of timings.
//!
//! Each benchmark uses part of it, so what one of them leaves unused is not dead code.
#![allow(dead_code)]

use std::io::Write as _;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kluis_connectors::testing::{self as systems_testing, TestSystem};
use kluis_domain::identifiers::{EmailAddress, NationalNumber};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::Stats;
use time::OffsetDateTime;
use time::macros::datetime;

pub const LIMBURG: &str = include_str!("../../../../examples/limburg.yaml");
pub const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
pub const WERVING: &str = "limburg-werving-selectie";
pub const BOEKHOUDING: &str = "limburg-boekhouding";

/// `cargo bench` passes `--bench` (full sizes, timed); `cargo test --all-targets` passes
/// nothing (a small run whose results are checked and whose figures mean nothing).
/// The bench's exit: its error said with its name, and a failing status.
pub fn exit(bench: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench {bench}: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The HR system on PostgreSQL and the accounting system on MariaDB, or None after saying
/// the bench is SKIPPED (the helpers themselves panic under CI=true).
pub async fn test_systems(bench: &str) -> Option<(TestSystem, TestSystem)> {
    match (
        systems_testing::hr_postgres().await,
        systems_testing::accounting_mariadb().await,
    ) {
        (Some(hr), Some(accounting)) => Some((hr, accounting)),
        _ => {
            let _ = writeln!(
                std::io::stderr(),
                "\n**********\nSKIPPED: bench {bench} needs TEST_DATABASE_URL (PostgreSQL) and \
                 TEST_MYSQL_URL (MariaDB)\n**********\n"
            );
            None
        }
    }
}

pub fn full_run(bench: &str, args: &[String]) -> Result<bool, String> {
    match args {
        [] => Ok(false),
        [flag] if flag == "--bench" => Ok(true),
        _ => Err(format!(
            "usage: {bench} [--bench] (sizes come from BENCH_* variables)"
        )),
    }
}

/// A size from the environment variable `name`, or `default`; `1_000_000` is allowed.
pub fn env_size(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .replace('_', "")
            .parse()
            .map_err(|_| format!("{name}={v}: give a whole number, e.g. 100000")),
        _ => Ok(default),
    }
}

/// Whether the vault is also timed on PostgreSQL (BENCH_POSTGRES=0 leaves it out).
pub fn with_postgres() -> bool {
    std::env::var("BENCH_POSTGRES").map_or(true, |v| v != "0")
}

/// Cores, CPU model and load average: what a figure must be read against.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU")
        .to_string();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores ({cpu}), load average {}", load_average())
}

pub fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    load.join(" ")
}

// ── The external systems ──────────────────────────────────────────────────────────────────

/// Grows both systems by `hr_people` and `accounting_people` and gives `want` filled people
/// who are in both, or fewer when the range has fewer with a valid national number (the
/// caller says whether that is enough). `fill` numbers its people on from the highest id,
/// and a person's national number in either system is "99" followed by that number: the
/// same number is the same person.
pub async fn fill_systems(
    hr: &TestSystem,
    accounting: &TestSystem,
    hr_people: u64,
    accounting_people: u64,
    want: usize,
) -> Result<Vec<u64>, String> {
    let hr_last: u64 = number(&hr.scalar("SELECT max(id)::text FROM hr.applicants").await)?;
    let accounting_last: u64 = number(
        &accounting
            .scalar("SELECT CAST(MAX(id) AS CHAR) FROM suppliers")
            .await,
    )?;
    let start = Instant::now();
    let hr_rows = hr.fill(hr_people).await;
    let hr_time = start.elapsed();
    let start = Instant::now();
    let accounting_rows = accounting.fill(accounting_people).await;
    let accounting_time = start.elapsed();
    println!(
        "HR system (PostgreSQL): {} rows in its 4 mapped tables ({hr_rows} added in {:.1} s)",
        count(
            hr,
            &[
                "hr.applicants",
                "hr.applications",
                "hr.interview_notes",
                "hr.documents"
            ]
        )
        .await?,
        hr_time.as_secs_f64()
    );
    println!(
        "accounting system (MariaDB): {} rows in its 3 mapped tables ({accounting_rows} added \
         in {:.1} s)",
        count(accounting, &["suppliers", "invoices", "payments"]).await?,
        accounting_time.as_secs_f64()
    );
    let first = hr_last.max(accounting_last) + 1;
    let last = (hr_last + hr_people).min(accounting_last + accounting_people);
    let people = filled_people(first, last, want);
    if people.is_empty() {
        return Err(format!(
            "no filled person between {first} and {last} has a valid national number: fill \
             more (BENCH_SYSTEM_ROWS)"
        ));
    }
    Ok(people)
}

/// Rows in `tables` of one system.
async fn count(system: &TestSystem, tables: &[&str]) -> Result<u64, String> {
    let mut total = 0;
    for table in tables {
        // HR's tables are in schema `hr` on PostgreSQL; accounting's are on MariaDB.
        let sql = if table.starts_with("hr.") {
            format!("SELECT count(*)::text FROM {table}")
        } else {
            format!("SELECT CAST(COUNT(*) AS CHAR) FROM {table}")
        };
        total += number(&system.scalar(&sql).await)?;
    }
    Ok(total)
}

pub fn number(text: &str) -> Result<u64, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("expected a number from the test system, got '{text}'"))
}

/// Up to `want` filled people numbered `first..=last`, spread over the range, whose
/// national number ("99" and the number in nine digits) has valid check digits: one in
/// each hundred numbers. The first nine digits are 99 and the number without its last two
/// digits, which must then be 97 minus those nine digits modulo 97.
pub fn filled_people(first: u64, last: u64, want: usize) -> Vec<u64> {
    if first > last {
        return Vec::new();
    }
    let candidates: Vec<u64> = (first / 100..=last / 100)
        .map(|hundred| hundred * 100 + (97 - (990_000_000 + hundred) % 97))
        .filter(|g| (first..=last).contains(g))
        .collect();
    let step = (candidates.len() / want.max(1)).max(1);
    candidates.into_iter().step_by(step).take(want).collect()
}

/// The vault identity of filled person `g`: the national number and e-mail the systems
/// hold for them.
pub fn identity(g: u64) -> Result<SubjectIdentity, String> {
    let nn: NationalNumber = format!("99{g:09}")
        .parse()
        .map_err(|e| format!("filled person {g}: {e}"))?;
    let email: EmailAddress = format!("persoon{g}@bulk.example")
        .parse()
        .map_err(|e| format!("filled person {g}: {e}"))?;
    Ok(SubjectIdentity {
        national_number: Some(nn),
        email: Some(email),
        ..SubjectIdentity::default()
    })
}

// ── Processing and the table of timings ───────────────────────────────────────────────────

/// A trace of its own for each step, as each request has.
pub fn trace(n: u64) -> TraceContext {
    let mut id = [0x4b; 16];
    id[8..].copy_from_slice(&n.to_be_bytes());
    TraceContext::new_root(id, [0x42; 8])
}

/// A caseworker's processing, in trace `n`, for `case_ref`.
pub fn processing(n: u64, case_ref: Option<&str>) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some("01936b2e-7c4a-7d10-9f00-000000000001".into()),
            name: "caseworker".into(),
        },
        trace: trace(n),
        case_ref: case_ref.map(str::to_string),
        now: NOW,
    }
}

pub fn header() {
    println!(
        "  {:<54} {:>5} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "step", "n", "min ms", "p50", "p90", "p99", "max"
    );
}

pub fn report(step: &str, s: &Stats) {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "  {step:<54} {:>5} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
        s.n,
        ms(s.min),
        ms(s.median),
        ms(s.p90),
        ms(s.p99),
        ms(s.max)
    );
}
