//! Speed of statistics extracts (issue 6), in memory, no database:
//!
//! - extract with pseudonyms and generalisation: at least 1,000,000 rows/s;
//! - k-anonymity check of 1,000,000 rows with 4 quasi-identifiers: under 2 s.
//!
//!   cargo bench -p kluis-domain --bench statistics
//!   BENCH_ROWS=200000 cargo bench -p kluis-domain --bench statistics
//!
//! The rows are synthetic: every row is a different person (the worst case for the
//! pseudonym, which is made once per person with the real keyed HMAC of `kluis-keys`),
//! with a birth date, a postcode, a household type, an income and a decision. The check
//! groups by birth date in 5-year bands, the first 2 postcode digits, the household
//! group and the income range, with l-diversity on the decision. Without `--bench` (under
//! `cargo test --all-targets`) it runs once on 10,000 rows and checks the results; timings
//! are printed, never asserted.
//!
//! Plain `std::time::Instant`, as the domain's `statement` bench: one median per step.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kluis_domain::category::DataCategory;
use kluis_domain::statistics::{self, Extract, Extractor, Plan, SourceRow};
use kluis_keys::Keyring;
use serde_json::{Value, json};
use time::{Date, Month};

const SPEC: &str = r#"
activity: leefloon
project: armoedebarometer-2026
purpose: benchmark
thresholds: {k: 5, l: 2, max_suppressed_share: 0.10}
columns:
  - {name: person, role: pseudonym}
  - {name: born, source: subject.birth_date, role: quasi_identifier, generalise: {year_band: 5}}
  - {name: postcode, source: field.postcode, role: quasi_identifier, generalise: {prefix: 2}}
  - name: household
    source: field.household
    role: quasi_identifier
    generalise: {groups: {alone: [alleenstaand], couple: [samenwonend, gehuwd], family: [gezin]}}
  - {name: income, source: field.income, role: quasi_identifier, generalise: {ranges: [0, 1000, 1500, 2000, 3000]}}
  - {name: decision, source: field.decision, role: sensitive}
  - {name: collected, source: record.collected_on, role: attribute, generalise: month}
"#;

struct Row {
    subject: String,
    born: Date,
    collected: Date,
    fields: BTreeMap<String, Value>,
}

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench statistics: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let full = args.iter().any(|a| a == "--bench");
    let rows: usize = match std::env::var("BENCH_ROWS") {
        Ok(n) => n
            .parse()
            .map_err(|_| format!("BENCH_ROWS={n} is not a number"))?,
        Err(_) if full => 1_000_000,
        Err(_) => 10_000,
    };
    let runs = if full { 5 } else { 1 };
    let plan = statistics::parse("bench", SPEC).map_err(|e| e.to_string())?;
    let keys = Arc::new(Keyring::generate().map_err(|e| e.to_string())?);
    print_machine();
    let started = Instant::now();
    let data = synthetic(rows, 1);
    println!(
        "bench statistics: {rows} synthetic rows generated in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    // Where the extract's time goes: the keyed pseudonym alone, once per row.
    let t = Instant::now();
    let pseudonyms = keys.project_pseudonyms(&plan.spec.project);
    for r in &data {
        black_box(pseudonyms.pseudonym(&r.subject));
    }
    let pseudonyms_alone = t.elapsed();
    let mut extract_times = Vec::new();
    let mut generalise_times = Vec::new();
    let mut cpu_times = Vec::new();
    let mut check_times = Vec::new();
    let mut csv_times = Vec::new();
    // One warm-up run when timing, then `runs` timed ones.
    for run in 0..runs + usize::from(full) {
        let t = Instant::now();
        let cpu = cpu_time();
        let (extract, generalise_time) = extract(&plan, &data, &keys);
        let extract_time = t.elapsed();
        let extract_cpu = cpu_time().zip(cpu).map(|(after, before)| after - before);
        let t = Instant::now();
        let release = statistics::check(&extract, &plan);
        let check_time = t.elapsed();
        let t = Instant::now();
        let mut csv = Vec::with_capacity(rows * 64);
        let written =
            statistics::write_csv(&extract, &release, &mut csv).map_err(|e| e.to_string())?;
        let csv_time = t.elapsed();
        verify(&extract, &release.report, written, rows)?;
        black_box(&csv);
        if run == 0 {
            let r = &release.report;
            println!(
                "bench statistics: {} rows in, {} groups, {} rows suppressed ({:.2}%), k {}, \
                 l {:?}, released {}, CSV {:.1} MiB",
                r.rows_in,
                r.groups,
                r.rows_suppressed,
                r.suppressed_share * 100.0,
                r.k_achieved,
                r.l_achieved,
                r.released,
                csv.len() as f64 / (1024.0 * 1024.0)
            );
        }
        if full && run == 0 {
            continue;
        }
        extract_times.push(extract_time);
        generalise_times.push(generalise_time);
        cpu_times.extend(extract_cpu);
        check_times.push(check_time);
        csv_times.push(csv_time);
    }
    let per_second = |d: Duration| rows as f64 / d.as_secs_f64();
    let (emin, emed) = summary(extract_times);
    let (cmin, cmed) = summary(check_times);
    let (_, gmed) = summary(generalise_times);
    let (wmin, wmed) = summary(csv_times);
    println!(
        "extract (pseudonym + generalisation), {rows} rows: median {:.3} s = {:.0} rows/s (best {:.0} rows/s); target >= 1,000,000 rows/s",
        emed.as_secs_f64(),
        per_second(emed),
        per_second(emin)
    );
    println!(
        "  of which pushing the records (generalising, numbering people; pseudonyms made meanwhile on {1} worker threads): median {0:.3} s; the rest is waiting for the last pseudonyms",
        gmed.as_secs_f64(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    if !cpu_times.is_empty() {
        let (_, cpu) = summary(cpu_times);
        println!(
            "  CPU time of the extract, all threads: median {:.3} s, so about {:.0} rows/s on {} idle cores",
            cpu.as_secs_f64(),
            per_second(cpu) * std::thread::available_parallelism().map_or(1, |n| n.get()) as f64,
            std::thread::available_parallelism().map_or(1, |n| n.get())
        );
    }
    println!(
        "  project pseudonyms alone, one thread: {:.3} s = {:.0} pseudonyms/s",
        pseudonyms_alone.as_secs_f64(),
        per_second(pseudonyms_alone)
    );
    println!(
        "k-anonymity + l-diversity check, 4 quasi-identifiers, {rows} rows: median {:.3} s (best {:.3} s); target < 2 s",
        cmed.as_secs_f64(),
        cmin.as_secs_f64()
    );
    println!(
        "CSV of the released rows (sorted by pseudonym), {rows} rows: median {:.3} s (best {:.3} s); no target",
        wmed.as_secs_f64(),
        wmin.as_secs_f64()
    );
    // A more usual activity: several records per person, so fewer pseudonyms to make.
    let several = synthetic(rows, 4);
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (extract, _) = extract(&plan, &several, &keys);
        times.push(t.elapsed());
        if extract.rows() != rows || extract.persons() != rows.div_ceil(4) {
            return Err("rows or people miscounted with 4 records per person".into());
        }
    }
    let (min4, med4) = summary(times);
    println!(
        "extract, {rows} rows of {} people (4 records each): median {:.3} s = {:.0} rows/s (best {:.0} rows/s)",
        rows.div_ceil(4),
        med4.as_secs_f64(),
        per_second(med4),
        per_second(min4)
    );
    if !full {
        println!("bench statistics: smoke run passed (time it with `cargo bench`)");
    }
    print_machine();
    Ok(())
}

/// The command, the machine and how busy it is, so the figures can be quoted with them.
fn print_machine() {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" / "))
        .unwrap_or_else(|_| "unknown".into());
    println!(
        "bench statistics: `cargo bench -p kluis-domain --bench statistics` on {} cores, {cpu}; load average {load} (1 / 5 / 15 min)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
}

/// CPU time of the whole process so far (user + system, all threads), from
/// /proc/self/stat on Linux: it shows the work an extract takes whatever else the machine
/// runs. Clock ticks are taken as 1/100 s, the Linux default.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// (min, median) of the timed runs.
fn summary(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[0], times[times.len() / 2])
}

/// The extract, and how long pushing the records took (pseudonyms are made meanwhile on
/// worker threads; `finish` waits for the last of them).
fn extract(plan: &Plan, data: &[Row], keys: &Arc<Keyring>) -> (Extract, Duration) {
    let t = Instant::now();
    let pseudonyms = keys.project_pseudonyms(&plan.spec.project);
    let mut x = Extractor::new(
        plan,
        &[DataCategory::Financial],
        Arc::new(move |s: &str| pseudonyms.pseudonym(s)),
    );
    x.reserve(data.len());
    for r in data {
        x.push(&SourceRow {
            subject: &r.subject,
            birth_date: Some(r.born),
            category: DataCategory::Financial,
            collected_on: r.collected,
            source: None,
            fields: &r.fields,
        });
    }
    let pushed = t.elapsed();
    (x.finish(), pushed)
}

/// The results must be right whatever the timing: every row in, every person once, and
/// the release consistent.
fn verify(
    extract: &Extract,
    report: &statistics::ReleaseReport,
    written: u64,
    rows: usize,
) -> Result<(), String> {
    if extract.rows() != rows || extract.persons() != rows {
        return Err(format!(
            "expected {rows} rows and people, got {} and {}",
            extract.rows(),
            extract.persons()
        ));
    }
    if report.rows_released + report.rows_suppressed != rows as u64 {
        return Err("released and suppressed rows do not add up".into());
    }
    if report.released && (report.k_achieved < 5 || written != report.rows_released) {
        return Err(format!(
            "inconsistent release: {report:?}, {written} written"
        ));
    }
    Ok(())
}

/// A deterministic generator (SplitMix64), so every run sees the same rows.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `rows` rows, `per_person` consecutive rows for each person.
fn synthetic(rows: usize, per_person: usize) -> Vec<Row> {
    let mut rng = Random(6);
    let households = ["alleenstaand", "samenwonend", "gehuwd", "gezin", "kot"];
    let decisions = ["toegekend", "geweigerd", "herzien", "ingetrokken"];
    (0..rows)
        .map(|i| {
            let born = Date::from_calendar_date(
                1940 + rng.below(66) as i32,
                Month::try_from(1 + rng.below(12) as u8).unwrap_or(Month::January),
                1 + rng.below(28) as u8,
            )
            .unwrap_or(Date::MIN);
            let collected = Date::from_calendar_date(
                2020 + rng.below(6) as i32,
                Month::try_from(1 + rng.below(12) as u8).unwrap_or(Month::January),
                1 + rng.below(28) as u8,
            )
            .unwrap_or(Date::MIN);
            let postcode = 1000 + rng.below(9000);
            let fields = json!({
                "postcode": postcode.to_string(),
                "household": households[rng.below(5) as usize],
                "income": rng.below(4000),
                "decision": decisions[rng.below(4) as usize],
                "file": format!("dossier-{i}"),
            });
            let Value::Object(map) = fields else {
                unreachable!("json! of an object")
            };
            Row {
                subject: format!(
                    "{:08x}-0000-7000-8000-{:012x}",
                    i / per_person,
                    i / per_person
                ),
                born,
                collected,
                fields: map.into_iter().collect(),
            }
        })
        .collect()
}
