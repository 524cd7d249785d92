//! Speed of an erasure across the vault and the connected systems (issue 4): the vault of
//! 1,000,000 data subjects plus one PostgreSQL and one MariaDB system of about 1,000,000
//! rows each, p50 under 500 ms.
//!
//! One erasure is what `POST /api/v1/rights-requests/{id}/fulfilment` and `kluis request
//! fulfil` run, minus HTTP, authentication and JSON: `kluis_web::fulfilment::fulfil` on a
//! decided request granting erasure for recruitment (the HR system) and accounting (the
//! accounting system). It plans the actions, erases the person's records of both activities
//! in the vault (destruction-log and processing-log entries in the same transaction),
//! erases in both systems at once (`kluis_connectors::erase_person_all`: a connection, the
//! live schema, the person's rows found and deleted or anonymised in one transaction per
//! system), records each system's result with its destruction-log and processing-log
//! entries, and moves the request to fulfilled with its summary. Each erasure is of
//! another person: what is erased is gone.
//!
//!   cargo bench -p kluis-web --bench erasure
//!   BENCH_SUBJECTS=100000 BENCH_SYSTEM_ROWS=100000 BENCH_POSTGRES=0 cargo bench ...
//!
//! The systems, the vault and the environment variables are those of the `find_person`
//! benchmark (BENCH_SUBJECTS, BENCH_SYSTEM_ROWS, BENCH_POSTGRES, and BENCH_ERASURES for
//! the number timed). Without TEST_DATABASE_URL and TEST_MYSQL_URL the benchmark says
//! SKIPPED and passes, except under `CI=true`, where it fails.
//!
//! Without `--bench` (under `cargo test --all-targets`) it runs on 1,000 subjects and
//! about 4,000 rows per system, a few erasures, and checks every result (the request
//! fulfilled, the vault records gone, the rows gone from HR and anonymised in accounting,
//! the destruction log grown); the figures of such a run mean nothing. Results are checked
//! in both modes; timings never are.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

mod common;

use common::*;
use kluis_connectors::testing::{self as systems_testing, TestSystem};
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::RecordInput;
use kluis_domain::register_file;
use kluis_domain::rights::{ActingFor, Decision, Outcome, RequestChannel, Requester, Right, Stage};
use kluis_domain::text::Lang;
use kluis_store::testing::{self as store_testing, Stats, TestStore};
use kluis_store::{ActionStatus, Backend, NewRequest, RequestChange, Store};
use kluis_web::systems::SystemUrls;
use uuid::Uuid;

/// The peer figure of ../shared/ENGINEERING.md: Fides erases about one row per 45 ms.
const FIDES_PER_ROW: Duration = Duration::from_millis(45);
const TARGET_P50: Duration = Duration::from_millis(500);

struct Sizes {
    full: bool,
    subjects: usize,
    hr_people: u64,
    accounting_people: u64,
    erasures: usize,
    warm_up: usize,
    postgres: bool,
}

impl Sizes {
    fn from_args(args: &[String]) -> Result<Sizes, String> {
        let full = full_run("erasure", args)?;
        let env = env_size;
        let (subjects, rows, erasures) = if full {
            (
                env("BENCH_SUBJECTS", 1_000_000)?,
                env("BENCH_SYSTEM_ROWS", 1_000_000)?,
                env("BENCH_ERASURES", 100)?,
            )
        } else {
            // Enough rows for the few people with a valid national number it erases.
            (1_000, 4_000, 2)
        };
        let rows = rows.max(12) as u64;
        Ok(Sizes {
            full,
            subjects: subjects.max(1),
            hr_people: rows.div_ceil(4),
            accounting_people: rows.div_ceil(3),
            erasures: erasures.max(1),
            warm_up: if full { 10 } else { 1 },
            postgres: with_postgres(),
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    exit("erasure", run(std::env::args().skip(1).collect()).await)
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let sizes = Sizes::from_args(&args)?;
    let Some((hr, accounting)) = test_systems("erasure").await else {
        return Ok(());
    };
    if sizes.full {
        println!("machine: {} before filling", machine());
    }
    let per_backend = sizes.warm_up + sizes.erasures;
    let backends = if sizes.postgres { 2 } else { 1 };
    let want = per_backend * backends;
    let people = fill_systems(
        &hr,
        &accounting,
        sizes.hr_people,
        sizes.accounting_people,
        want,
    )
    .await?;
    if people.len() < want {
        return Err(format!(
            "only {} filled people have a valid national number, {want} are needed: fill \
             more (BENCH_SYSTEM_ROWS) or erase fewer (BENCH_ERASURES)",
            people.len()
        ));
    }
    let (first, rest) = people.split_at(per_backend.min(people.len()));

    let sqlite = store_testing::sqlite_store().await;
    bench_backend(&sqlite, &hr, &accounting, first, &sizes).await?;
    sqlite.cleanup().await;
    if sizes.postgres {
        if let Some(postgres) = store_testing::postgres_store().await {
            bench_backend(&postgres, &hr, &accounting, rest, &sizes).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nthe vault on PostgreSQL left out (BENCH_POSTGRES=0)");
    }
    hr.cleanup().await;
    accounting.cleanup().await;
    if !sizes.full {
        println!("\nbench erasure: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

// ── The external systems ──────────────────────────────────────────────────────────────────

// ── One vault backend ─────────────────────────────────────────────────────────────────────

async fn bench_backend(
    store: &TestStore,
    hr: &TestSystem,
    accounting: &TestSystem,
    people: &[u64],
    sizes: &Sizes,
) -> Result<(), String> {
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
    let start = Instant::now();
    let mut requests = Vec::with_capacity(people.len());
    for &g in people {
        requests.push((g, decided_request(store, g).await?));
    }
    println!(
        "{} people recorded in the vault (2 records each) with a decided erasure request, \
         in {:.1} s",
        requests.len(),
        start.elapsed().as_secs_f64()
    );
    let sql = match store.backend() {
        Backend::Sqlite => "ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    store.execute_raw(sql).await?;

    let destroyed_before = store
        .destruction_log(None, 0, i64::MAX)
        .await
        .map_err(|e| e.to_string())?
        .len();
    let mut times = Vec::with_capacity(sizes.erasures);
    for (k, (g, request)) in requests.iter().enumerate() {
        let p = processing(k as u64 + 1, None);
        let start = Instant::now();
        let status = kluis_web::fulfilment::fulfil(store, &urls, &p, *request, None)
            .await
            .map_err(|e| format!("person {g}: {e}"))?;
        let took = start.elapsed();
        check(&status, *g)?;
        if k == 0 || !sizes.full {
            check_systems(hr, accounting, *g).await?;
        }
        if k >= sizes.warm_up {
            times.push(took);
        }
    }
    let destroyed = store
        .destruction_log(None, 0, i64::MAX)
        .await
        .map_err(|e| e.to_string())?
        .len()
        - destroyed_before;
    // Per person: 2 vault records, HR's 4 tables deleted, accounting's suppliers anonymised.
    let expected = requests.len() * (2 + 4 + 1);
    if destroyed != expected {
        return Err(format!(
            "the erasures wrote {destroyed} destruction-log entries, not {expected}"
        ));
    }
    println!(
        "{} erasures, each of another person (2 vault records, 4 HR rows deleted, 1 \
         accounting row anonymised and 2 kept by law), after {} warm-up erasures",
        times.len(),
        sizes.warm_up
    );
    header();
    let stats = Stats::of(times);
    report("whole erasure: vault + both systems + logs", &stats);
    if sizes.full {
        println!(
            "  target p50 < {} ms: {}; Fides' ~{} ms per row for the 7 rows is {:.0}x the p50",
            TARGET_P50.as_millis(),
            if stats.median < TARGET_P50 {
                "met"
            } else {
                "NOT met"
            },
            FIDES_PER_ROW.as_millis(),
            (FIDES_PER_ROW * 7).as_secs_f64() / stats.median.as_secs_f64()
        );
        println!("  load average {} after the erasures", load_average());
    }
    Ok(())
}

/// Person `g` recorded in the vault with one record per activity, and a request of theirs
/// for erasure, verified and granted for both activities.
async fn decided_request(store: &Store, g: u64) -> Result<Uuid, String> {
    let p = processing(0, None);
    let identity = identity(g)?;
    let (subject, _) = store
        .record_subject(&p, WERVING, &identity, &[])
        .await
        .map_err(|e| format!("recording person {g}: {e}"))?;
    for (activity, schedule, category) in [
        (WERVING, Some("niet-weerhouden"), DataCategory::Education),
        (BOEKHOUDING, None, DataCategory::Financial),
    ] {
        store
            .add_record(
                &p,
                subject.id,
                &RecordInput {
                    activity: activity.into(),
                    schedule: schedule.map(str::to_string),
                    category,
                    fields: BTreeMap::from([("veld".to_string(), serde_json::json!("waarde"))]),
                    source: None,
                    collected_on: NOW.date(),
                    events: BTreeMap::new(),
                    provided_by_subject: true,
                },
            )
            .await
            .map_err(|e| format!("a record of person {g}: {e}"))?;
    }
    let err = |e: kluis_store::StoreError| format!("the request of person {g}: {e}");
    let filed = store
        .file_request(
            &NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Erasure],
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
        .map_err(err)?;
    let r = store
        .change_request(
            filed.id,
            1,
            &RequestChange::VerifyIdentity {
                subject_id: Some(subject.id),
            },
            "bench",
            NOW,
        )
        .await
        .map_err(err)?;
    let granted = |activity: &str| Decision {
        right: Right::Erasure,
        activity: activity.into(),
        outcome: Outcome::Granted,
        grounds: vec![],
        motivation: "Gewist.".into(),
    };
    store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Decide {
                decisions: vec![granted(WERVING), granted(BOEKHOUDING)],
            },
            "bench",
            NOW,
        )
        .await
        .map_err(err)?;
    Ok(filed.id)
}

/// The request is fulfilled, every action done, with the counts expected of person `g`.
fn check(status: &kluis_store::FulfilmentStatus, g: u64) -> Result<(), String> {
    if status.stage != Stage::Fulfilled
        || status.actions.len() != 4
        || status
            .actions
            .iter()
            .any(|a| a.status != ActionStatus::Done)
    {
        return Err(format!("person {g}: not fulfilled: {status:?}"));
    }
    let counted = |target: &str| -> (u64, u64) {
        status
            .actions
            .iter()
            .filter(|a| a.target == target)
            .flat_map(|a| {
                kluis_store::report_tables(a.report.as_ref().unwrap_or(&serde_json::Value::Null))
            })
            .fold((0, 0), |(d, n), t| (d + t.deleted, n + t.anonymised))
    };
    for (target, want) in [("vault", (2, 0)), ("hr", (4, 0)), ("accounting", (0, 1))] {
        let got = counted(target);
        if got != want {
            return Err(format!(
                "person {g}, {target}: {got:?} (deleted, anonymised), not {want:?}"
            ));
        }
    }
    Ok(())
}

/// The person's rows are gone from HR and anonymised in accounting.
async fn check_systems(hr: &TestSystem, accounting: &TestSystem, g: u64) -> Result<(), String> {
    let email = format!("persoon{g}@bulk.example");
    let left = hr
        .scalar(&format!(
            "SELECT count(*)::text FROM hr.applicants WHERE lower(email) = '{email}'"
        ))
        .await;
    let named = accounting
        .scalar(&format!(
            "SELECT CAST(COUNT(*) AS CHAR) FROM suppliers WHERE email = '{email}'"
        ))
        .await;
    if (left.as_str(), named.as_str()) != ("0", "0") {
        return Err(format!(
            "person {g}: {left} HR applicants and {named} suppliers still name them"
        ));
    }
    Ok(())
}
