//! Speed of the consent ledger (issue 5), against the real `kluis` binary:
//!
//! - `POST /api/v1/consent/check` for one person by e-mail, with an application token,
//!   over HTTP on loopback, loaded by wrk: at least 20,000 checks/s with p99 under 5 ms;
//! - `kluis consent filter --purpose P < addresses.txt`, 1,000,000 addresses against
//!   1,000,000 consent records: under 1 s of wall clock.
//!
//!   cargo build --release -p kluis
//!   cargo bench -p kluis-web --bench consent_check
//!   BENCH_SUBJECTS=100000 BENCH_SECONDS=5 BENCH_POSTGRES=0 cargo bench ... --bench consent_check
//!   BENCH_SQLITE=0 cargo bench ... --bench consent_check   (PostgreSQL only)
//!
//! For SQLite and (with `TEST_DATABASE_URL`, unless `BENCH_POSTGRES=0`) PostgreSQL, a fresh
//! database gets `examples/limburg.yaml` and `BENCH_SUBJECTS` (default 1,000,000) data
//! subjects `persoon{i}@bulk.example`, each with consent to the newsletter
//! (`limburg-nieuwsbrieven`) given on a paper form: every 10th withdrawn since, every 50th
//! past its end of validity. The rows go in with multi-row INSERTs in the store's schema
//! (recording a million consents one by one through the store takes hours), then `VACUUM
//! ANALYZE` on PostgreSQL; SQLite gets no statistics, as kluis never makes them, unless
//! `BENCH_SQLITE_ANALYZE=1`. An `application` account assigned to the newsletter gets a
//! token.
//! Then `kluis serve` (`KLUIS_BIN`, default `target/release/kluis`, built beforehand) runs on
//! that database; the benchmark checks its answers for a given, a withdrawn, an expired and
//! an unknown address, withdraws one consent through the store and checks that the very next
//! check says no, and runs `wrk` (Debian package `wrk`) for `BENCH_SECONDS` (default 10)
//! per row with a Lua script that asks about random seeded addresses (10,000 requests made
//! up front per wrk thread, sent in turn). Last, it times `kluis consent filter` 5 times,
//! spawn to exit, on a file of `BENCH_SUBJECTS` addresses (the seeded ones in shuffled
//! order, every 20th replaced by an unknown address) and checks its output.
//!
//! `BENCH_KEEP=1` keeps the databases, the token, the wrk script and the address file, and
//! prints the commands to measure them again by hand (`kluis serve` + wrk, hyperfine).
//!
//! Without `--bench` (under `cargo test --all-targets`) it seeds 1,000 subjects, serves
//! in-process instead of from the binary, checks the same answers and the filter query,
//! and times nothing. Results are checked in both modes; timings never are.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use kluis_domain::access::Role;
use kluis_domain::consent::{ConsentEventKind, ConsentMethod, WithdrawalChannel};
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::register_file;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{self as store_testing, Stats, TestStore};
use kluis_store::{Backend, Processing};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::{date, datetime};

const LIMBURG: &str = include_str!("../../../examples/limburg.yaml");
const NEWSLETTER: &str = "limburg-nieuwsbrieven";
/// When the seeded consents were given and recorded: in the past, whatever the clock says.
const GIVEN_AT: OffsetDateTime = datetime!(2026-01-05 10:00:00 UTC);
const TARGET_CHECKS: f64 = 20_000.0;
const TARGET_P99: Duration = Duration::from_millis(5);
const TARGET_FILTER: Duration = Duration::from_secs(1);
const FILTER_RUNS: usize = 5;
/// (wrk threads, connections) per row of the HTTP table.
const WRK_ROWS: [(usize, usize); 4] = [(1, 1), (1, 8), (1, 32), (2, 64)];

/// Rows per multi-row INSERT (15 parameters a consent event: 15,000, under both limits).
const SEED_CHUNK: usize = 1_000;
/// Rows per transaction.
const SEED_TRANSACTION: usize = 50_000;

struct Sizes {
    full: bool,
    subjects: usize,
    seconds: u64,
    sqlite: bool,
    postgres: bool,
    /// Keep the databases and files (`BENCH_KEEP=1`), to measure them again by hand.
    keep: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        // `cargo bench` passes `--bench`; `cargo test --all-targets` passes nothing.
        let full = match args {
            [] => false,
            [flag] if flag == "--bench" => true,
            _ => {
                return Err(
                    "usage: consent_check [--bench] (sizes come from BENCH_* variables)".into(),
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
        Ok(Sizes {
            full,
            subjects: if full {
                env("BENCH_SUBJECTS", 1_000_000)?.max(100)
            } else {
                1_000
            },
            seconds: env("BENCH_SECONDS", 10)?.max(1) as u64,
            // Only a full run may leave a backend out: the smoke run under `cargo test`
            // checks both.
            sqlite: !full || std::env::var("BENCH_SQLITE").map_or(true, |v| v != "0"),
            postgres: std::env::var("BENCH_POSTGRES").map_or(true, |v| v != "0"),
            keep: full && std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1"),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench consent_check: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let binary = if sizes.full {
        let binary = kluis_binary()?;
        print_machine(&binary);
        which("wrk")?;
        Some(binary)
    } else {
        None
    };
    if sizes.sqlite {
        let sqlite = store_testing::sqlite_store().await;
        let result = bench_backend(&sqlite, binary.as_deref(), &sizes).await;
        finish(sqlite, &sizes).await;
        result?;
    } else {
        println!("\nSQLite left out (BENCH_SQLITE=0)");
    }
    if sizes.postgres {
        if let Some(postgres) = store_testing::postgres_store().await {
            let result = bench_backend(&postgres, binary.as_deref(), &sizes).await;
            finish(postgres, &sizes).await;
            result?;
        }
    } else {
        println!("\nPostgreSQL left out (BENCH_POSTGRES=0)");
    }
    if !sizes.full {
        println!("\nbench consent_check: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

/// Removes the store's database, unless asked to keep it.
async fn finish(store: TestStore, sizes: &Sizes) {
    if sizes.keep {
        println!("kept: {}", store.url());
        // Dropping would remove it.
        std::mem::forget(store);
    } else {
        store.cleanup().await;
    }
}

/// The release binary to measure: `KLUIS_BIN`, or the workspace's `target/release/kluis`.
fn kluis_binary() -> Result<PathBuf, String> {
    let binary = std::env::var_os("KLUIS_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/release/kluis"),
        PathBuf::from,
    );
    if !binary.is_file() {
        return Err(format!(
            "{} does not exist: run `cargo build --release -p kluis` first, or set KLUIS_BIN",
            binary.display()
        ));
    }
    Ok(binary)
}

fn which(tool: &str) -> Result<(), String> {
    let found = std::process::Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if found {
        Ok(())
    } else {
        Err(format!(
            "{tool} is missing: install it (Debian: apt-get install -y {tool})"
        ))
    }
}

fn print_machine(binary: &Path) {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|m| m.trim_start_matches([' ', '\t', ':']))
        })
        .unwrap_or("unknown CPU");
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let built = std::fs::metadata(binary)
        .and_then(|m| m.modified())
        .ok()
        .map(|t| OffsetDateTime::from(t).to_string())
        .unwrap_or_default();
    println!(
        "machine: {cores} cores ({cpu}), load average {}; binary {} built {built}",
        load_average(),
        binary.display()
    );
}

/// The 1, 5 and 15 minute load averages: on a shared 2-core machine, what a figure is
/// worth.
fn load_average() -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    load.join(" ")
}

// ── The seeded ledger ───────────────────────────────────────────────────────────────────

/// What the `i`-th seeded person's consent is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seeded {
    Given,
    Withdrawn,
    Expired,
}

fn seeded(i: usize) -> Seeded {
    if i % 10 == 9 {
        Seeded::Withdrawn
    } else if i % 50 == 7 {
        Seeded::Expired
    } else {
        Seeded::Given
    }
}

fn email(i: usize) -> String {
    format!("persoon{i}@bulk.example")
}

/// A pool of our own on the store's database, for the bulk INSERTs the store has no API for.
enum Raw {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

macro_rules! on_raw {
    ($raw:expr, |$pool:ident| $body:expr) => {
        match $raw {
            Raw::Sqlite($pool) => $body,
            Raw::Postgres($pool) => $body,
        }
    };
}

/// One seeded person's rows.
struct SeedRow {
    subject: uuid::Uuid,
    consent: uuid::Uuid,
    email: String,
    state: Seeded,
}

/// Writes `n` data subjects with their newsletter consent and its events, as
/// `Store::give_consent` and `Store::withdraw_consent` would have, without log entries.
async fn seed(store: &TestStore, n: usize) -> Result<(), String> {
    let raw = match store.backend() {
        Backend::Sqlite => Raw::Sqlite(
            sqlx::SqlitePool::connect(store.url())
                .await
                .map_err(|e| e.to_string())?,
        ),
        Backend::Postgres => Raw::Postgres(
            sqlx::PgPool::connect(store.url())
                .await
                .map_err(|e| e.to_string())?,
        ),
    };
    let withdrawn_at = GIVEN_AT + time::Duration::days(30);
    let mut next = 0;
    while next < n {
        let end = n.min(next + SEED_TRANSACTION);
        let rows: Vec<SeedRow> = (next..end)
            .map(|i| SeedRow {
                subject: uuid::Uuid::now_v7(),
                consent: uuid::Uuid::now_v7(),
                email: email(i),
                state: seeded(i),
            })
            .collect();
        on_raw!(&raw, |pool| {
            let mut tx = pool.begin().await.map_err(|e| e.to_string())?;
            for chunk in rows.chunks(SEED_CHUNK) {
                let mut subjects = sqlx::QueryBuilder::new(
                    "INSERT INTO data_subjects (id, email, recorded_under, version, created_at, \
                     updated_at) ",
                );
                subjects.push_values(chunk, |mut row, s| {
                    row.push_bind(s.subject)
                        .push_bind(s.email.clone())
                        .push_bind(NEWSLETTER)
                        .push_bind(1i64)
                        .push_bind(GIVEN_AT)
                        .push_bind(GIVEN_AT);
                });
                subjects
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut consents = sqlx::QueryBuilder::new(
                    "INSERT INTO consents (id, subject_id, activity_id, state, valid_until, \
                     last_given_event, events, updated_at) ",
                );
                consents.push_values(chunk, |mut row, s| {
                    let (state, events, until) = match s.state {
                        Seeded::Given => ("given", 1i64, None),
                        Seeded::Withdrawn => ("withdrawn", 2, None),
                        Seeded::Expired => ("given", 1, Some(date!(2025 - 12 - 31))),
                    };
                    row.push_bind(s.consent)
                        .push_bind(s.subject)
                        .push_bind(NEWSLETTER)
                        .push_bind(state)
                        .push_bind(until)
                        .push_bind(1i64)
                        .push_bind(events)
                        .push_bind(GIVEN_AT);
                });
                consents
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
                let mut events = sqlx::QueryBuilder::new(
                    "INSERT INTO consent_events (consent_id, seq, kind, at, method, notice_text, \
                     language, statement_version, evidence, valid_until, given_by, guardian_id, \
                     channel, actor_kind, actor_name) ",
                );
                let steps = chunk.iter().flat_map(|s| {
                    let withdrawn = s.state == Seeded::Withdrawn;
                    std::iter::once((s, false)).chain(withdrawn.then_some((s, true)))
                });
                events.push_values(steps, |mut row, (s, withdrawal)| {
                    let until = (s.state == Seeded::Expired).then_some(date!(2025 - 12 - 31));
                    if withdrawal {
                        row.push_bind(s.consent)
                            .push_bind(2i64)
                            .push_bind(ConsentEventKind::Withdrawn.name())
                            .push_bind(withdrawn_at)
                            .push_bind(None::<&str>)
                            .push_bind(None::<&str>)
                            .push_bind(None::<&str>)
                            .push_bind(None::<i64>)
                            .push_bind(None::<&str>)
                            .push_bind(None::<time::Date>)
                            .push_bind(None::<&str>)
                            .push_bind(None::<uuid::Uuid>)
                            .push_bind(Some(WithdrawalChannel::OneClick.name()))
                            .push_bind(ActorKind::Citizen.name())
                            .push_bind("the person");
                    } else {
                        row.push_bind(s.consent)
                            .push_bind(1i64)
                            .push_bind(ConsentEventKind::Given.name())
                            .push_bind(GIVEN_AT)
                            .push_bind(Some(ConsentMethod::PaperForm.name()))
                            .push_bind(Some(
                                "Ja, ik wil de nieuwsbrief van de provincie ontvangen.",
                            ))
                            .push_bind(Some("nl"))
                            .push_bind(None::<i64>)
                            .push_bind(Some("scan 2026/118"))
                            .push_bind(until)
                            // The store's name for `GivenBy::Subject`.
                            .push_bind(Some("subject"))
                            .push_bind(None::<uuid::Uuid>)
                            .push_bind(None::<&str>)
                            .push_bind(ActorKind::Staff.name())
                            .push_bind("bench");
                    }
                });
                events
                    .build()
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            tx.commit().await.map_err(|e| e.to_string())?;
        });
        next = end;
    }
    on_raw!(&raw, |pool| pool.close().await);
    Ok(())
}

/// Settles the database after the bulk load as production has it. PostgreSQL's autovacuum
/// keeps statistics, so `VACUUM ANALYZE` now, before it starts in the middle of a timing.
/// kluis never runs `ANALYZE` on SQLite, so there are no statistics there unless
/// `BENCH_SQLITE_ANALYZE=1`: with them (SQLite's STAT4, compiled into the bundled SQLite),
/// SQLite re-plans every statement whose plan may depend on a bound value each time it runs.
async fn settle(store: &TestStore) -> Result<(), String> {
    let analyze = std::env::var("BENCH_SQLITE_ANALYZE").is_ok_and(|v| v == "1");
    let sql = match store.backend() {
        Backend::Sqlite if analyze => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Sqlite => "PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    if analyze && store.backend() == Backend::Sqlite {
        println!("SQLite analysed (BENCH_SQLITE_ANALYZE=1)");
    }
    store.execute_raw(sql).await
}

// ── One backend ───────────────────────────────────────────────────────────────────────────

async fn bench_backend(
    store: &TestStore,
    binary: Option<&Path>,
    sizes: &Sizes,
) -> Result<(), String> {
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n══ {backend} ══");
    let register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    store
        .import_register(&register, false, "bench", GIVEN_AT)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;
    let start = Instant::now();
    seed(store, sizes.subjects)
        .await
        .map_err(|e| format!("seeding {} consents: {e}", sizes.subjects))?;
    settle(store).await?;
    println!(
        "seeded {} data subjects with newsletter consent (every 10th withdrawn, every 50th \
         expired) in {:.1} s",
        sizes.subjects,
        start.elapsed().as_secs_f64()
    );
    let tool = store
        .create_user(
            "nieuwsbrieftool",
            "Nieuwsbrieftool",
            "a long bench password",
            &[Role::Application],
            GIVEN_AT,
        )
        .await
        .map_err(|e| e.to_string())?;
    store
        .assign_activity(tool.id, NEWSLETTER, "bench", GIVEN_AT)
        .await
        .map_err(|e| e.to_string())?;
    let (token, _) = store
        .create_api_token(tool.id, "bench", GIVEN_AT)
        .await
        .map_err(|e| e.to_string())?;

    let dir = std::env::temp_dir().join(format!(
        "kluis_bench_consent_{}_{}",
        std::process::id(),
        backend.to_lowercase()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(dir.join("token"), &token).map_err(|e| e.to_string())?;
    let result = async {
        let server = Server::start(store, binary, &dir).await?;
        let result = async {
            check_answers(store, server.port, &token, sizes).await?;
            if sizes.full {
                load(server.port, &token, sizes, &dir).await?;
            }
            Ok::<_, String>(())
        }
        .await;
        server.stop().await;
        result?;
        match binary {
            Some(binary) => time_filter(store, binary, sizes, &dir),
            None => check_filter_query(store, sizes).await,
        }
    }
    .await;
    if sizes.keep {
        print_reproduction(store, &dir, sizes);
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

/// How to measure the kept database by hand (`BENCH_KEEP=1`).
fn print_reproduction(store: &TestStore, dir: &Path, sizes: &Sizes) {
    let url = store.url();
    let dir = dir.display();
    println!(
        "kept in {dir}: the token (token), the wrk script (check.lua), the mailing list \
         (addresses.txt). By hand:\n  \
         KLUIS_KEYS_FILE={dir}/kluis.keys target/release/kluis serve --database {url} \
         --listen 127.0.0.1:8080 &\n  \
         BENCH_WRK_SUBJECTS={} BENCH_WRK_PURPOSE={NEWSLETTER} BENCH_WRK_TOKEN=$(cat {dir}/token) \
         wrk -t1 -c32 -d10s -s {dir}/check.lua http://127.0.0.1:8080/\n  \
         hyperfine -w 1 -r 10 'target/release/kluis consent filter --purpose {NEWSLETTER} \
         --database {url} < {dir}/addresses.txt > /dev/null'",
        sizes.subjects
    );
}

// ── The server ──────────────────────────────────────────────────────────────────────────

enum Running {
    Process(std::process::Child),
    InProcess(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    ),
}

struct Server {
    port: u16,
    running: Running,
}

impl Server {
    /// `kluis serve` from `binary` on the store's database, or in-process without one.
    async fn start(store: &TestStore, binary: Option<&Path>, dir: &Path) -> Result<Server, String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let running = match binary {
            Some(binary) => {
                drop(listener);
                let child = std::process::Command::new(binary)
                    .args(["serve", "--database", store.url(), "--listen"])
                    .arg(format!("127.0.0.1:{port}"))
                    .current_dir(dir)
                    .env("KLUIS_KEYS_FILE", dir.join("kluis.keys"))
                    .env("KLUIS_LOG", "warn")
                    .stdout(Stdio::null())
                    .spawn()
                    .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
                Running::Process(child)
            }
            None => {
                let state = kluis_web::AppState::new(
                    (**store).clone(),
                    kluis_web::system_clock(),
                    kluis_web::Settings::default(),
                );
                let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
                let task = tokio::spawn(async move {
                    let _ = kluis_web::serve(listener, state, async {
                        let _ = stopped.await;
                    })
                    .await;
                });
                Running::InProcess(stop, task)
            }
        };
        let mut server = Server { port, running };
        let began = Instant::now();
        loop {
            // Any answer will do: serving is what is waited for, not the database's health.
            if request(port, "GET", "/healthz", None, "").await.is_ok() {
                return Ok(server);
            }
            if let Running::Process(child) = &mut server.running
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(format!("kluis serve exited with {status} before serving"));
            }
            if began.elapsed() > Duration::from_secs(10) {
                server.stop().await;
                return Err("kluis serve did not answer /healthz within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    async fn stop(self) {
        match self.running {
            Running::Process(mut child) => {
                // SIGTERM, so the server finishes cleanly; SIGKILL if it has not in 10 s.
                let _ = std::process::Command::new("kill")
                    .arg(child.id().to_string())
                    .status();
                let began = Instant::now();
                while let Ok(None) = child.try_wait() {
                    if began.elapsed() > Duration::from_secs(10) {
                        eprintln!("kluis serve did not stop on SIGTERM within 10 s: killed");
                        let _ = child.kill();
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            Running::InProcess(stop, task) => {
                let _ = stop.send(());
                let _ = task.await;
            }
        }
    }
}

/// One HTTP/1.1 request on a connection of its own: the status and the body.
async fn request(
    port: u16,
    method: &'static str,
    path: &'static str,
    token: Option<&str>,
    body: &str,
) -> Result<(u16, String), String> {
    let token = token.map(str::to_string);
    let body = body.to_string();
    // A plain blocking socket, off the runtime's workers (which may be serving).
    tokio::task::spawn_blocking(move || blocking_request(port, method, path, token, &body))
        .await
        .map_err(|e| e.to_string())?
}

fn blocking_request(
    port: u16,
    method: &str,
    path: &str,
    token: Option<String>,
    body: &str,
) -> Result<(u16, String), String> {
    let mut stream =
        std::net::TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{auth}\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream
        .write_all(format!("{head}{body}").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .map_err(|e| e.to_string())?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or("a response without a head")?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("a response without a status: {head}"))?;
    Ok((status, body.to_string()))
}

fn check_body(address: &str) -> String {
    format!(r#"{{"purpose":"{NEWSLETTER}","people":[{{"email":"{address}"}}]}}"#)
}

/// Asks the server about one address; gives the answer's `allowed` and `state`.
async fn ask(port: u16, token: &str, address: &str) -> Result<(bool, Value), String> {
    let (status, body) = request(
        port,
        "POST",
        "/api/v1/consent/check",
        Some(token),
        &check_body(address),
    )
    .await?;
    if status != 200 {
        return Err(format!("checking {address}: status {status}: {body}"));
    }
    let answer: Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
    let result = &answer["results"][0];
    let allowed = result["allowed"]
        .as_bool()
        .ok_or_else(|| format!("checking {address}: no 'allowed' in {body}"))?;
    if allowed != result["unsubscribe_url"].is_string() {
        return Err(format!(
            "checking {address}: an unsubscribe link goes with a yes, and only with a yes: {body}"
        ));
    }
    Ok((allowed, result["state"].clone()))
}

/// The server's answers for each kind of seeded person, a refused token, and a withdrawal
/// that takes effect for the very next check.
async fn check_answers(
    store: &TestStore,
    port: u16,
    token: &str,
    sizes: &Sizes,
) -> Result<(), String> {
    let last = sizes.subjects - 1;
    for (address, allowed, state) in [
        (email(0), true, "given"),
        (email(9), false, "withdrawn"),
        (email(7), false, "expired"),
        (
            email(last).to_uppercase(),
            seeded(last) == Seeded::Given,
            "",
        ),
        ("nobody@bulk.example".into(), false, "null"),
    ] {
        let (got, got_state) = ask(port, token, &address).await?;
        let state_ok = state.is_empty() || got_state.to_string().trim_matches('"') == state;
        if got != allowed || !state_ok {
            return Err(format!(
                "checking {address}: allowed {got} ({got_state}), expected {allowed} ({state})"
            ));
        }
    }
    let (status, _) = request(
        port,
        "POST",
        "/api/v1/consent/check",
        Some("kluis_forged"),
        &check_body(&email(0)),
    )
    .await?;
    if status != 401 {
        return Err(format!("a forged token got status {status}, not 401"));
    }
    // A withdrawal counts from the very next check, whatever the server may have cached.
    let person = email(1);
    for _ in 0..3 {
        if !ask(port, token, &person).await?.0 {
            return Err(format!("{person} should be allowed before withdrawing"));
        }
    }
    let address: EmailAddress = person.parse().map_err(|e| format!("{person}: {e}"))?;
    let citizen = Processing {
        actor: Actor {
            kind: ActorKind::Citizen,
            id: None,
            name: "the person".into(),
        },
        trace: TraceContext::new_root([0x4b; 16], [0x42; 8]),
        case_ref: None,
        now: OffsetDateTime::now_utc(),
    };
    let withdrawn = store
        .withdraw_for_email(&citizen, &address, NEWSLETTER, WithdrawalChannel::OneClick)
        .await
        .map_err(|e| format!("withdrawing {person}: {e}"))?;
    if withdrawn.len() != 1 || !withdrawn[0].changed {
        return Err(format!("withdrawing {person} changed nothing"));
    }
    let (allowed, state) = ask(port, token, &person).await?;
    if allowed || state != "withdrawn" {
        return Err(format!(
            "the check right after {person} withdrew said allowed {allowed} ({state})"
        ));
    }
    println!(
        "answers checked: given, withdrawn, expired, unknown, forged token, and a withdrawal seen by the very next check"
    );
    Ok(())
}

// ── Load ────────────────────────────────────────────────────────────────────────────────

/// What one wrk run reports through the script's `done`.
struct WrkRun {
    requests: u64,
    seconds: f64,
    status_errors: u64,
    socket_errors: u64,
    p50: Duration,
    p90: Duration,
    p99: Duration,
    p999: Duration,
    max: Duration,
}

const WRK_SCRIPT: &str = r#"
-- 10,000 requests made up front, each for a random seeded address, sent in turn: formatting a
-- request per call would cost wrk more CPU than the server spends answering it.
local subjects = tonumber(os.getenv("BENCH_WRK_SUBJECTS"))
local purpose = os.getenv("BENCH_WRK_PURPOSE")
local token = os.getenv("BENCH_WRK_TOKEN")
local requests = {}
local next_request = 0
local threads = 0

-- Each thread its own addresses.
setup = function(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

init = function(args)
  math.randomseed(seed)
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  for k = 1, 10000 do
    local i = math.random(0, subjects - 1)
    local body = '{"purpose":"' .. purpose .. '","people":[{"email":"persoon' .. i .. '@bulk.example"}]}'
    requests[k] = wrk.format("POST", "/api/v1/consent/check", headers, body)
  end
end

request = function()
  next_request = next_request % #requests + 1
  return requests[next_request]
end

done = function(summary, latency, requests)
  io.write(string.format(
    "BENCH requests=%d duration_us=%d status_errors=%d socket_errors=%d p50=%d p90=%d p99=%d p999=%d max=%d\n",
    summary.requests, summary.duration, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"#;

async fn load(port: u16, token: &str, sizes: &Sizes, dir: &Path) -> Result<(), String> {
    let script = dir.join("check.lua");
    std::fs::write(&script, WRK_SCRIPT).map_err(|e| format!("{}: {e}", script.display()))?;
    println!(
        "wrk, {} s per row, POST /api/v1/consent/check for one random seeded address; load \
         average {} before",
        sizes.seconds,
        load_average()
    );
    println!(
        "  {:<22} {:>10} {:>8} {:>8} {:>8} {:>8} {:>8}  verdict",
        "wrk", "checks/s", "p50 ms", "p90", "p99", "p99.9", "max"
    );
    for (threads, connections) in WRK_ROWS {
        let run = wrk(port, token, sizes, &script, threads, connections).await?;
        if run.status_errors > 0 || run.socket_errors > 0 {
            return Err(format!(
                "wrk -t{threads} -c{connections}: {} answers were not 2xx and {} socket errors",
                run.status_errors, run.socket_errors
            ));
        }
        let rate = run.requests as f64 / run.seconds;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let verdict = if rate >= TARGET_CHECKS && run.p99 < TARGET_P99 {
            "target met"
        } else {
            "target NOT met"
        };
        println!(
            "  {:<22} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>8.2}  {verdict}",
            format!("-t{threads} -c{connections}"),
            rate,
            ms(run.p50),
            ms(run.p90),
            ms(run.p99),
            ms(run.p999),
            ms(run.max)
        );
    }
    println!("  load average {} after", load_average());
    Ok(())
}

async fn wrk(
    port: u16,
    token: &str,
    sizes: &Sizes,
    script: &Path,
    threads: usize,
    connections: usize,
) -> Result<WrkRun, String> {
    let output = tokio::process::Command::new("wrk")
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", sizes.seconds))
        .arg("-s")
        .arg(script)
        .arg(format!("http://127.0.0.1:{port}/"))
        .env("BENCH_WRK_SUBJECTS", sizes.subjects.to_string())
        .env("BENCH_WRK_PURPOSE", NEWSLETTER)
        .env("BENCH_WRK_TOKEN", token)
        .output()
        .await
        .map_err(|e| format!("cannot run wrk: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .ok_or_else(|| {
            format!(
                "wrk printed no figures: {stdout}{}",
                String::from_utf8_lossy(&output.stderr)
            )
        })?;
    let field = |name: &str| -> Result<u64, String> {
        line.split(' ')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("wrk's figures lack {name}: {line}"))
    };
    let us = |name: &str| field(name).map(Duration::from_micros);
    Ok(WrkRun {
        requests: field("requests")?,
        seconds: field("duration_us")? as f64 / 1e6,
        status_errors: field("status_errors")?,
        socket_errors: field("socket_errors")?,
        p50: us("p50")?,
        p90: us("p90")?,
        p99: us("p99")?,
        p999: us("p999")?,
        max: us("max")?,
    })
}

// ── consent filter ──────────────────────────────────────────────────────────────────────

/// The addresses a mailing tool would send: the seeded ones in a shuffled order, every 20th
/// replaced by an address kluis does not know. Gives the file's lines and how many of them
/// the filter must keep.
fn mailing_list(n: usize) -> (Vec<String>, usize) {
    let mut order: Vec<usize> = (0..n).collect();
    // A fixed xorshift shuffle: the same file every run, no dependency.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for k in (1..n).rev() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        order.swap(k, (x % (k as u64 + 1)) as usize);
    }
    let mut kept = 0;
    let lines = order
        .into_iter()
        .enumerate()
        .map(|(line, i)| {
            if line % 20 == 19 {
                format!("onbekend{i}@elders.example")
            } else {
                // Person 1 withdraws during the answer checks, before the filter runs.
                kept += usize::from(seeded(i) == Seeded::Given && i != 1);
                email(i)
            }
        })
        .collect();
    (lines, kept)
}

/// Times `kluis consent filter` on the whole mailing list, as a mailing tool would run it.
fn time_filter(store: &TestStore, binary: &Path, sizes: &Sizes, dir: &Path) -> Result<(), String> {
    let (lines, expected) = mailing_list(sizes.subjects);
    let input = dir.join("addresses.txt");
    let output = dir.join("kept.txt");
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&input, text).map_err(|e| format!("{}: {e}", input.display()))?;
    let mut times = Vec::with_capacity(FILTER_RUNS);
    for _ in 0..FILTER_RUNS {
        let stdin = std::fs::File::open(&input).map_err(|e| e.to_string())?;
        let stdout = std::fs::File::create(&output).map_err(|e| e.to_string())?;
        let start = Instant::now();
        let finished = std::process::Command::new(binary)
            .args(["consent", "filter", "--purpose", NEWSLETTER, "--database"])
            .arg(store.url())
            .current_dir(dir)
            .env("KLUIS_LOG", "warn")
            .stdin(stdin)
            .stdout(stdout)
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        times.push(start.elapsed());
        if !finished.success() {
            return Err(format!("kluis consent filter exited with {finished}"));
        }
        let kept = std::fs::read_to_string(&output).map_err(|e| e.to_string())?;
        check_kept(&kept, expected)?;
    }
    let s = Stats::of(times);
    println!(
        "kluis consent filter of {} addresses against {} consent records (keeps {expected}), \
         {FILTER_RUNS} runs: min {:.3} s, median {:.3} s, max {:.3} s: target < {} s {}",
        lines.len(),
        sizes.subjects,
        s.min.as_secs_f64(),
        s.median.as_secs_f64(),
        s.max.as_secs_f64(),
        TARGET_FILTER.as_secs(),
        if s.median < TARGET_FILTER {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

/// The filter's output: `expected` distinct seeded addresses that may be used, nothing else
/// (person 1 withdrew during the answer checks).
fn check_kept(kept: &str, expected: usize) -> Result<(), String> {
    let mut seen = HashSet::new();
    for line in kept.lines() {
        let i: usize = line
            .strip_prefix("persoon")
            .and_then(|l| l.strip_suffix("@bulk.example"))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("the filter kept '{line}', which is not a seeded address"))?;
        if seeded(i) != Seeded::Given || i == 1 || !seen.insert(i) {
            return Err(format!("the filter kept '{line}', which it must not"));
        }
    }
    if seen.len() != expected {
        return Err(format!(
            "the filter kept {} addresses, expected {expected}",
            seen.len()
        ));
    }
    Ok(())
}

/// Without the binary: the query behind the filter gives exactly the usable addresses.
async fn check_filter_query(store: &TestStore, sizes: &Sizes) -> Result<(), String> {
    let emails = store
        .consented_emails(NEWSLETTER, OffsetDateTime::now_utc())
        .await
        .map_err(|e| e.to_string())?;
    let expected = (0..sizes.subjects)
        .filter(|&i| seeded(i) == Seeded::Given && i != 1)
        .count();
    let mut text = emails.join("\n");
    text.push('\n');
    check_kept(&text, expected)?;
    if emails.len() != expected {
        return Err(format!(
            "consented_emails gave {} addresses, expected {expected}",
            emails.len()
        ));
    }
    println!("consented_emails checked");
    Ok(())
}
