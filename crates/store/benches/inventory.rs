//! Speed of the vault and the processing log (issue 3), on SQLite and on PostgreSQL:
//!
//! - finding one person by national number among 1,000,000 data subjects: under 1 ms;
//! - appending processing-log entries: at least 50,000 durable entries/s;
//! - verifying the chain: at least half the speed of SHA-256 on this machine, which the
//!   run measures itself with `openssl speed -evp sha256`.
//!
//!   cargo bench -p kluis-store --bench inventory
//!   BENCH_SUBJECTS=100000 BENCH_LOG_ENTRIES=100000 BENCH_POSTGRES=0 cargo bench ...
//!
//! PostgreSQL needs `TEST_DATABASE_URL`; the run creates a database of its own and drops
//! it (see `kluis_store::testing`). Without `--bench` (that is, under `cargo test
//! --all-targets`) every step runs once on small numbers and checks its results, so the
//! benchmark cannot rot; the figures of such a run mean nothing. Results are checked in
//! both modes (the right person found, the log grown by one entry per hit, the chain
//! verifying); timings never are.
//!
//! Plain `std::time::Instant` rather than criterion, as in the domain's `statement` bench:
//! BENCHMARKS.md quotes one median per step, and it needs no dependency.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kluis_domain::access::Scope;
use kluis_domain::processing_log::{
    self, Actor, ActorKind, ChainHead, ChainVerifier, LogAction, LogEntry, LogSelector, NewLogEntry,
};
use kluis_domain::register_file;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{self, Stats, TestStore};
use kluis_store::{Backend, Processing, Store, SubjectQuery};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::macros::datetime;

const LIMBURG: &str = include_str!("../../../examples/limburg.yaml");
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
/// Concurrent callers in the runs without batching: more than either pool has connections
/// (SQLite 8, PostgreSQL 10), as a busy server would have.
const CALLERS: usize = 16;
/// The activity of the benchmark's own log entries.
const LOGGED_ACTIVITY: &str = "personeelsadministratie";

/// How much work a run does: the targets' sizes with `--bench`, a smoke test without.
struct Sizes {
    full: bool,
    subjects: usize,
    log_entries: usize,
    batch: usize,
    lookups: usize,
    warm_up: usize,
    runs: usize,
    concurrent_for: Duration,
    postgres: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` passes nothing.
        let full = match args {
            [] => false,
            [flag] if flag == "--bench" => true,
            _ => {
                return Err(
                    "usage: inventory [--bench] (sizes come from BENCH_* variables)".into(),
                );
            }
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
        let (subjects, log_entries) = if full {
            (
                env("BENCH_SUBJECTS", 1_000_000)?,
                env("BENCH_LOG_ENTRIES", 1_000_000)?,
            )
        } else {
            (2_000, 2_000)
        };
        Ok(Sizes {
            full,
            subjects: subjects.max(1),
            log_entries: log_entries.max(1),
            batch: 1_000,
            lookups: if full { 2_000 } else { 20 },
            warm_up: if full { 200 } else { 2 },
            runs: if full { 5 } else { 1 },
            concurrent_for: Duration::from_millis(if full { 3_000 } else { 50 }),
            postgres: std::env::var("BENCH_POSTGRES").map_or(true, |v| v != "0"),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench inventory: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    if sizes.full {
        print_machine();
    }
    if sizes.full {
        print_fsync()?;
    }
    let chain = time_chain_in_memory(&sizes)?;
    let openssl = if sizes.full {
        openssl_sha256(chain.mean_len)
    } else {
        None
    };
    print_chain(&chain, openssl.as_ref());

    let sqlite = testing::sqlite_store().await;
    bench_backend(&sqlite, &sizes, &chain, openssl.as_ref()).await?;
    sqlite.cleanup().await;
    if sizes.postgres {
        if let Some(postgres) = testing::postgres_store().await {
            bench_backend(&postgres, &sizes, &chain, openssl.as_ref()).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nPostgreSQL left out (BENCH_POSTGRES=0)");
    }
    if !sizes.full {
        println!("\nbench inventory: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

fn print_machine() {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "machine: {cores} cores ({cpu}), load average {} before timing",
        load_average()
    );
}

/// The 1, 5 and 15 minute load averages: on a shared machine they say how far to trust
/// the figures.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    load.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// How long the disk under the temporary directory (where the SQLite file lives, and on
/// this machine PostgreSQL's data too) takes to make 4 KiB durable: the floor under every
/// durable commit, so under every lookup that writes its log entry.
fn print_fsync() -> Result<(), String> {
    use std::io::Write;
    let path = std::env::temp_dir().join(format!("kluis_bench_fsync_{}", std::process::id()));
    let probe = || -> std::io::Result<Vec<Duration>> {
        let mut file = std::fs::File::create(&path)?;
        let block = [0x5a_u8; 4096];
        let mut times = Vec::with_capacity(300);
        for _ in 0..300 {
            let start = Instant::now();
            file.write_all(&block)?;
            file.sync_data()?;
            times.push(start.elapsed());
        }
        Ok(times)
    };
    let result = probe();
    let _ = std::fs::remove_file(&path);
    let s = Stats::of(result.map_err(|e| format!("fsync probe in {}: {e}", path.display()))?);
    println!(
        "disk: write 4 KiB + fdatasync in {}: median {:.3} ms, p90 {:.3} ms (300 times)",
        std::env::temp_dir().display(),
        ms(s.median),
        ms(s.p90)
    );
    Ok(())
}

// ── Verifying the chain in memory, and SHA-256 itself ─────────────────────────────────────

struct ChainFigures {
    entries: usize,
    /// Mean length of an entry's canonical encoding: what verifying hashes per entry.
    mean_len: usize,
    bytes: usize,
    verify: Stats,
    /// `sha2::Sha256::digest` over buffers of `mean_len` bytes, once per entry.
    sha2: Stats,
}

/// Verifies a chain of `log_entries` entries held in memory with the domain's
/// `ChainVerifier`: the hashing and encoding alone, without a database.
fn time_chain_in_memory(sizes: &Sizes) -> Result<ChainFigures, String> {
    let n = sizes.log_entries;
    let (entries, head) = processing_log::chain(
        ChainHead::EMPTY,
        NOW,
        &trace(1),
        &actor(1),
        (0..n).map(|i| log_entry(i as u64)).collect(),
    );
    let bytes: usize = entries.iter().map(encoded_len).sum();
    let mean_len = bytes / n;
    let verify_all = || -> Result<(), String> {
        let mut verifier = ChainVerifier::new(None);
        for e in &entries {
            verifier.push(e).map_err(|b| b.to_string())?;
        }
        let end = verifier.finish(head).map_err(|b| b.to_string())?;
        black_box(end);
        Ok(())
    };
    verify_all()?;
    let mut times = Vec::with_capacity(sizes.runs);
    for _ in 0..sizes.runs {
        let start = Instant::now();
        verify_all()?;
        times.push(start.elapsed());
    }
    let mut buffer = vec![0x5a; mean_len];
    let mut sha2_times = Vec::with_capacity(sizes.runs);
    for _ in 0..sizes.runs {
        let start = Instant::now();
        for i in 0..n {
            buffer[0] = i as u8;
            black_box(Sha256::digest(black_box(&buffer[..])));
        }
        sha2_times.push(start.elapsed());
    }
    Ok(ChainFigures {
        entries: n,
        mean_len,
        bytes,
        verify: Stats::of(times),
        sha2: Stats::of(sha2_times),
    })
}

/// The length of an entry's canonical encoding as `processing_log::entry_hash` writes it.
/// Mirrored here because the domain keeps the encoding private; if the two drift apart,
/// only the bytes/s figures of this benchmark are off, never the log.
fn encoded_len(e: &LogEntry) -> usize {
    let field = |s: &str| 8 + s.len();
    let optional = |s: Option<&str>| 1 + s.map_or(0, field);
    let n = &e.entry;
    b"kluis-log-v1".len()
        + 32 // previous hash
        + 8 // seq
        + 16 // at, nanoseconds as i128
        + field(&e.trace_id)
        + field(&e.span_id)
        + optional(e.parent_span_id.as_deref())
        + field(n.action.name())
        + field(&n.organisation)
        + field(&n.activity)
        + 8 // activity_version
        + field(&n.purpose)
        + field(&n.legal_basis)
        + field(&n.subject)
        + field(&n.subject_type)
        + 8 // number of data categories
        + n.data_categories.iter().map(|c| field(c)).sum::<usize>()
        + field(&n.system)
        + optional(n.case_ref.as_deref())
        + optional(n.recipient.as_deref())
        + optional(n.legal_ground.as_deref())
        + field(e.actor.kind.name())
        + optional(e.actor.id.as_deref())
        + field(&e.actor.name)
}

/// `openssl speed -evp sha256` at the standard block sizes and at `len` bytes, in bytes/s.
struct OpenSsl {
    version: String,
    /// (block size, bytes/s)
    standard: Vec<(usize, f64)>,
    at_len: (usize, f64),
}

fn openssl_sha256(len: usize) -> Option<OpenSsl> {
    let speed = |extra: &[&str]| -> Option<Vec<f64>> {
        let out = std::process::Command::new("openssl")
            .args(["speed", "-evp", "sha256", "-seconds", "3"])
            .args(extra)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text.lines().rev().find(|l| l.starts_with("sha256"))?;
        // "sha256  68711.32k  253262.16k ...": thousands of bytes per second.
        line.split_whitespace()
            .skip(1)
            .map(|v| {
                v.trim_end_matches('k')
                    .parse::<f64>()
                    .ok()
                    .map(|k| k * 1000.0)
            })
            .collect()
    };
    let Some(standard) = speed(&[]) else {
        println!("openssl speed did not run or printed nothing readable: no SHA-256 reference");
        return None;
    };
    let at_len = speed(&["-bytes", &len.to_string()])?.first().copied()?;
    let version = std::process::Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    Some(OpenSsl {
        version,
        standard: [16, 64, 256, 1024, 8192, 16384]
            .into_iter()
            .zip(standard)
            .collect(),
        at_len: (len, at_len),
    })
}

fn print_chain(chain: &ChainFigures, openssl: Option<&OpenSsl>) {
    let secs = chain.verify.median.as_secs_f64();
    println!(
        "\nchain verification in memory (domain ChainVerifier), {} entries, {} bytes of \
         canonical encoding each on average, {} runs",
        chain.entries, chain.mean_len, chain.verify.n
    );
    println!(
        "  ChainVerifier:        median {:>9.1} ms  {:>12.0} entries/s  {:>7.1} MB/s hashed",
        secs * 1e3,
        chain.entries as f64 / secs,
        chain.bytes as f64 / secs / 1e6
    );
    let sha2 = chain.sha2.median.as_secs_f64();
    println!(
        "  sha2::Sha256 alone:   median {:>9.1} ms  {:>12.0} hashes/s   {:>7.1} MB/s ({} bytes each)",
        sha2 * 1e3,
        chain.entries as f64 / sha2,
        (chain.entries * chain.mean_len) as f64 / sha2 / 1e6,
        chain.mean_len
    );
    if let Some(o) = openssl {
        let sizes: Vec<String> = o
            .standard
            .iter()
            .map(|(size, rate)| format!("{size} B: {:.1} MB/s", rate / 1e6))
            .collect();
        println!("  {} speed -evp sha256: {}", o.version, sizes.join(", "));
        let (len, rate) = o.at_len;
        let limit = rate / 2.0;
        let ours = chain.bytes as f64 / secs;
        println!(
            "  openssl at {len} bytes: {:.1} MB/s; target (half of it): {:.1} MB/s = {:.0} \
             entries/s; ChainVerifier {:.2}x the target: {}",
            rate / 1e6,
            limit / 1e6,
            limit / len as f64,
            ours / limit,
            met(ours >= limit)
        );
    }
}

// ── One backend: seed the vault, append, look up, verify ──────────────────────────────────

async fn bench_backend(
    store: &TestStore,
    sizes: &Sizes,
    chain: &ChainFigures,
    openssl: Option<&OpenSsl>,
) -> Result<(), String> {
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n══ {backend} ══");
    print_durability(store).await;
    let register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    let seeded = register
        .activities
        .first()
        .ok_or("examples/limburg.yaml has no activities")?
        .id
        .clone();
    let other = register
        .activities
        .iter()
        .find(|a| a.id != seeded)
        .ok_or("examples/limburg.yaml needs a second activity")?
        .id
        .clone();
    store
        .import_register(&register, false, "bench", NOW)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;

    let start = Instant::now();
    testing::seed_subjects(store, &seeded, sizes.subjects, NOW)
        .await
        .map_err(|e| format!("seeding {} subjects: {e}", sizes.subjects))?;
    let seeding = start.elapsed();
    println!(
        "seeded {} data subjects with one record each under '{seeded}' in {:.1} s ({:.0} subjects/s)",
        sizes.subjects,
        seeding.as_secs_f64(),
        sizes.subjects as f64 / seeding.as_secs_f64()
    );
    settle(store).await?;

    time_appends(store, sizes).await?;
    settle(store).await?;
    time_lookups(store, sizes, &other).await?;
    time_verify(store, sizes, chain, openssl).await?;
    println!("load average after {backend}: {}", load_average());
    Ok(())
}

/// What "durable" means on this backend: printed so the figures say what they are worth.
async fn print_durability(store: &TestStore) {
    match store.backend() {
        Backend::Sqlite => println!(
            "durability: journal_mode=WAL, synchronous=FULL (as Store::connect sets them): \
             every commit waits for fsync"
        ),
        Backend::Postgres => {
            let setting = |name: &'static str| async move {
                let sql = format!("SELECT convert_to(current_setting('{name}'), 'UTF8')");
                store
                    .raw_bytes(&sql)
                    .await
                    .first()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .unwrap_or_default()
            };
            println!(
                "durability: fsync={}, synchronous_commit={}, wal_sync_method={}; server {}",
                setting("fsync").await,
                setting("synchronous_commit").await,
                setting("wal_sync_method").await,
                setting("server_version").await
            );
        }
    }
}

/// Brings statistics up to date and clears out the bulk load's aftermath, as a database in
/// steady state would have it, so autovacuum does not start in the middle of a timing.
async fn settle(store: &TestStore) -> Result<(), String> {
    let sql = match store.backend() {
        Backend::Sqlite => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    store.execute_raw(sql).await
}

async fn time_appends(store: &TestStore, sizes: &Sizes) -> Result<(), String> {
    let before = log_head(store).await?;
    let calls = sizes.log_entries.div_ceil(sizes.batch);
    let p = processing(1);
    let mut next = 0u64;
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let entries: Vec<NewLogEntry> = (0..sizes.batch)
            .map(|_| {
                next += 1;
                log_entry(next)
            })
            .collect();
        let start = Instant::now();
        store
            .append_log(&p, entries)
            .await
            .map_err(|e| format!("appending to the log: {e}"))?;
        times.push(start.elapsed());
    }
    let appended = calls * sizes.batch;
    let head = log_head(store).await?;
    if head.seq != before.seq + appended as i64 {
        return Err(format!(
            "the log grew by {} entries, not {appended}",
            head.seq - before.seq
        ));
    }
    let total: Duration = times.iter().sum();
    let stats = Stats::of(times);
    println!(
        "\nappending to the log, {appended} entries; each call one transaction, committed durably"
    );
    println!(
        "  {:<34} {:>7} {:>10} {:>10} {:>10} {:>14}",
        "callers x entries per call", "calls", "median ms", "p99 ms", "max ms", "entries/s"
    );
    println!(
        "  {:<34} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>14.0}  (median call; over all calls {:.0}/s)",
        format!("1 x {}", sizes.batch),
        stats.n,
        ms(stats.median),
        ms(stats.p99),
        ms(stats.max),
        sizes.batch as f64 / stats.median.as_secs_f64(),
        appended as f64 / total.as_secs_f64(),
    );
    for (callers, batch) in [(1, 1), (CALLERS, 1), (CALLERS, 10), (CALLERS, 100)] {
        let mut rates = Vec::with_capacity(sizes.runs);
        let mut latencies = Vec::new();
        for _ in 0..sizes.runs.min(3) {
            let (rate, mut times) =
                concurrent_appends(store, callers, batch, sizes.concurrent_for).await?;
            rates.push(rate);
            latencies.append(&mut times);
        }
        rates.sort_by(f64::total_cmp);
        let stats = Stats::of(latencies);
        println!(
            "  {:<34} {:>7} {:>10.2} {:>10.2} {:>10.2} {:>14.0}  (median of {} runs of {:.1} s)",
            format!("{callers} x {batch}"),
            stats.n,
            ms(stats.median),
            ms(stats.p99),
            ms(stats.max),
            rates[rates.len() / 2],
            rates.len(),
            sizes.concurrent_for.as_secs_f64()
        );
    }
    Ok(())
}

/// `callers` tasks appending `batch` entries per call until `run_for` has passed: what a
/// server does when every request writes its own entries. Returns entries/s over the wall
/// clock and the latency of every call.
async fn concurrent_appends(
    store: &Store,
    callers: usize,
    batch: usize,
    run_for: Duration,
) -> Result<(f64, Vec<Duration>), String> {
    let before = log_head(store).await?;
    let start = Instant::now();
    let deadline = start + run_for;
    let tasks: Vec<_> = (0..callers)
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move {
                let p = processing(c as u8 + 2);
                let mut times = Vec::new();
                let mut next = (c as u64) << 40;
                while Instant::now() < deadline {
                    let entries: Vec<NewLogEntry> = (0..batch)
                        .map(|_| {
                            next += 1;
                            log_entry(next)
                        })
                        .collect();
                    let call = Instant::now();
                    store.append_log(&p, entries).await?;
                    times.push(call.elapsed());
                }
                Ok::<_, kluis_store::StoreError>(times)
            })
        })
        .collect();
    let mut times = Vec::new();
    for task in tasks {
        let mut mine = task
            .await
            .map_err(|e| format!("an appending task failed: {e}"))?
            .map_err(|e| format!("appending concurrently: {e}"))?;
        times.append(&mut mine);
    }
    let elapsed = start.elapsed();
    let appended = times.len() * batch;
    let head = log_head(store).await?;
    if head.seq != before.seq + appended as i64 {
        return Err(format!(
            "{callers} concurrent callers: the log grew by {} entries, not {appended}",
            head.seq - before.seq
        ));
    }
    Ok((appended as f64 / elapsed.as_secs_f64(), times))
}

/// Looks up random seeded people by national number, three ways.
async fn time_lookups(store: &TestStore, sizes: &Sizes, other: &str) -> Result<(), String> {
    let n = sizes.subjects;
    let p = processing(100);
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let elsewhere = Scope::Activities(BTreeSet::from([other.to_string()]));
    println!(
        "\nfinding one person by national number among {n} data subjects \
         (find_subjects, {} random people after {} warm-up lookups)",
        sizes.lookups, sizes.warm_up
    );
    println!(
        "  {:<52} {:>8} {:>8} {:>8} {:>8}",
        "lookup", "min ms", "median", "p90", "p99"
    );

    // 1. Scope::All: found, shown, and one processing-log entry written (a durable commit).
    let before = log_head(store).await?;
    let mut times = Vec::with_capacity(sizes.lookups);
    for k in 0..sizes.warm_up + sizes.lookups {
        let i = rng.below(n);
        let number = testing::seeded_national_number(i);
        let query = SubjectQuery::NationalNumber(number);
        let start = Instant::now();
        let found = store
            .find_subjects(&p, &query, &Scope::All)
            .await
            .map_err(|e| format!("finding subject {i}: {e}"))?;
        let elapsed = start.elapsed();
        let [view] = found.as_slice() else {
            return Err(format!("subject {i}: found {} people, not 1", found.len()));
        };
        if view.subject.identity.national_number != Some(number) || view.records.len() != 1 {
            return Err(format!(
                "subject {i}: found someone else, or without their record"
            ));
        }
        if k >= sizes.warm_up {
            times.push(elapsed);
        }
    }
    let head = log_head(store).await?;
    let hits = (sizes.warm_up + sizes.lookups) as i64;
    if head.seq != before.seq + hits {
        return Err(format!(
            "{hits} search hits wrote {} log entries, not one each",
            head.seq - before.seq
        ));
    }
    print_lookup("found, with its search_hit log entry (Scope::All)", times);

    // 2. A scope without the person's activity: every read the hit does (blind index,
    //    records, subject, guardians, decryption), then nothing visible, so no log write.
    let mut times = Vec::with_capacity(sizes.lookups);
    for k in 0..sizes.warm_up + sizes.lookups {
        let i = rng.below(n);
        let query = SubjectQuery::NationalNumber(testing::seeded_national_number(i));
        let start = Instant::now();
        let found = store
            .find_subjects(&p, &query, &elsewhere)
            .await
            .map_err(|e| format!("finding subject {i}: {e}"))?;
        let elapsed = start.elapsed();
        if !found.is_empty() {
            return Err(format!("subject {i} was shown outside its activity"));
        }
        if k >= sizes.warm_up {
            times.push(elapsed);
        }
    }
    if log_head(store).await? != head {
        return Err("a lookup with nothing in scope wrote to the log".into());
    }
    print_lookup("same reads, nothing in scope: no log write", times);

    // 3. A valid number nobody in the vault has: one blind-index probe.
    let mut times = Vec::with_capacity(sizes.lookups);
    for k in 0..sizes.warm_up + sizes.lookups {
        let i = n + rng.below(n);
        let query = SubjectQuery::NationalNumber(testing::seeded_national_number(i));
        let start = Instant::now();
        let found = store
            .find_subjects(&p, &query, &Scope::All)
            .await
            .map_err(|e| format!("looking for nobody: {e}"))?;
        let elapsed = start.elapsed();
        if !found.is_empty() {
            return Err(format!("number {i} is not in the vault, yet it was found"));
        }
        if k >= sizes.warm_up {
            times.push(elapsed);
        }
    }
    print_lookup("not in the vault: blind-index probe only", times);
    Ok(())
}

fn print_lookup(what: &str, times: Vec<Duration>) {
    let s = Stats::of(times);
    println!(
        "  {what:<52} {:>8.3} {:>8.3} {:>8.3} {:>8.3}  {}",
        ms(s.min),
        ms(s.median),
        ms(s.p90),
        ms(s.p99),
        if s.median < Duration::from_millis(1) {
            "median under 1 ms"
        } else {
            "median NOT under 1 ms"
        }
    );
}

async fn time_verify(
    store: &TestStore,
    sizes: &Sizes,
    chain: &ChainFigures,
    openssl: Option<&OpenSsl>,
) -> Result<(), String> {
    let head = log_head(store).await?;
    let mut times = Vec::with_capacity(sizes.runs);
    for _ in 0..sizes.runs.min(3) {
        let start = Instant::now();
        let verified = store
            .verify_log(None)
            .await
            .map_err(|e| format!("verifying the log: {e}"))?
            .map_err(|broken| format!("the benchmark's own log does not verify: {broken}"))?;
        times.push(start.elapsed());
        if verified != head {
            return Err(format!(
                "verify_log ended at {verified}, the head is {head}"
            ));
        }
    }
    let stats = Stats::of(times);
    let secs = stats.median.as_secs_f64();
    let entries = head.seq as f64;
    // Nearly every entry comes from the same generator as the in-memory chain; the few
    // thousand search hits are of the same size within a few bytes.
    let bytes = entries * chain.mean_len as f64;
    println!(
        "\nverify_log over the whole log, {} entries, {} runs",
        head.seq, stats.n
    );
    println!(
        "  median {:.2} s (min {:.2} s): {:.0} entries/s, ~{:.1} MB/s of canonical encoding hashed",
        secs,
        stats.min.as_secs_f64(),
        entries / secs,
        bytes / secs / 1e6
    );
    if let Some(o) = openssl {
        let limit = o.at_len.1 / 2.0;
        println!(
            "  target (half of openssl sha256 at {} bytes): {:.1} MB/s; verify_log {:.2}x the \
             target: {}",
            o.at_len.0,
            limit / 1e6,
            bytes / secs / limit,
            met(bytes / secs >= limit)
        );
    }
    time_log_read(store, sizes, head.seq).await
}

/// Reads the log's entries into memory without hashing them (`log_entries` by the
/// activity nearly every entry has, in one query): the part of `verify_log` that is the
/// database and row decoding, to say where its time goes.
async fn time_log_read(store: &TestStore, sizes: &Sizes, logged: i64) -> Result<(), String> {
    let selector = LogSelector {
        activity: Some(LOGGED_ACTIVITY.into()),
        ..LogSelector::default()
    };
    let mut times = Vec::with_capacity(sizes.runs);
    let mut read = 0;
    for _ in 0..sizes.runs.min(3) {
        let start = Instant::now();
        let entries = store
            .log_entries(&selector, &Scope::All, i64::MAX)
            .await
            .map_err(|e| format!("reading the log: {e}"))?;
        times.push(start.elapsed());
        read = entries.len();
        drop(black_box(entries));
    }
    if read == 0 || read as i64 > logged {
        return Err(format!("read {read} log entries of {logged}"));
    }
    let stats = Stats::of(times);
    println!(
        "  reading alone (log_entries, one query, no hashing): {read} entries, median {:.2} s: \
         {:.0} entries/s",
        stats.median.as_secs_f64(),
        read as f64 / stats.median.as_secs_f64()
    );
    Ok(())
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────

async fn log_head(store: &Store) -> Result<ChainHead, String> {
    store
        .log_head()
        .await
        .map_err(|e| format!("reading the log head: {e}"))
}

fn trace(seed: u8) -> TraceContext {
    TraceContext::new_root([seed.max(1); 16], [0x42; 8])
}

fn actor(n: u8) -> Actor {
    Actor {
        kind: ActorKind::Staff,
        id: Some(format!("01936b2e-7c4a-7d10-9f00-0000000000{n:02x}")),
        name: format!("caseworker{n}"),
    }
}

fn processing(n: u8) -> Processing {
    Processing {
        actor: actor(n),
        trace: trace(n),
        case_ref: Some("R-2026-0042".into()),
        now: NOW,
    }
}

/// A search hit in a connected system, as a connector logs it: sizes like real entries.
fn log_entry(i: u64) -> NewLogEntry {
    NewLogEntry {
        action: LogAction::SearchHit,
        organisation: "limburg".into(),
        activity: LOGGED_ACTIVITY.into(),
        activity_version: 3,
        purpose: "Personeelsadministratie en loonberekening".into(),
        legal_basis: "legal_obligation,contract".into(),
        subject: format!(
            "{:032x}",
            u128::from(XorShift(i | 1).next()) << 64 | u128::from(i)
        ),
        subject_type: "national_number".into(),
        data_categories: vec!["identification".into(), "financial".into()],
        system: "hr-applicaties".into(),
        case_ref: Some(format!("R-2026-{:05}", i % 100_000)),
        recipient: None,
        legal_ground: None,
    }
}

/// Enough randomness to pick people without a dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn met(yes: bool) -> &'static str {
    if yes { "target met" } else { "target NOT met" }
}
