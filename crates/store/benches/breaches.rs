//! Speed of finding and telling the people affected by a breach (issue 6), on SQLite and
//! PostgreSQL: a breach of one processing activity with BENCH_BREACH_PEOPLE people (10,000
//! by default) in the vault. No target is set by the issue; the figures say how long a DPO
//! waits.
//!
//!   cargo bench -p kluis-store --bench breaches
//!   BENCH_BREACH_PEOPLE=100000 BENCH_POSTGRES=0 cargo bench -p kluis-store --bench breaches
//!
//! Without `--bench` (under `cargo test --all-targets`) it runs once on 200 people and
//! checks the counts; its figures then mean nothing. Timings are never checked.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use kluis_domain::breach::{
    AffectedQuery, Art34Decision, BreachFacts, ReportedBy, RiskAssessment, RiskLevel,
};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::register_file;
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{self, TestStore};
use kluis_store::{Backend, Processing, Store};
use time::OffsetDateTime;
use time::macros::datetime;

const LIMBURG: &str = include_str!("../../../examples/limburg.yaml");
const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bench breaches: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let full = match args.as_slice() {
        [] => false,
        [flag] if flag == "--bench" => true,
        _ => return Err("usage: breaches [--bench] (sizes come from BENCH_* variables)".into()),
    };
    let people = if full {
        std::env::var("BENCH_BREACH_PEOPLE")
            .ok()
            .map(|v| {
                v.parse::<usize>()
                    .map_err(|e| format!("BENCH_BREACH_PEOPLE: {e}"))
            })
            .transpose()?
            .unwrap_or(10_000)
    } else {
        200
    };
    let sqlite = testing::sqlite_store().await;
    bench_backend(&sqlite, people).await?;
    sqlite.cleanup().await;
    if std::env::var("BENCH_POSTGRES").as_deref() != Ok("0") {
        if let Some(postgres) = testing::postgres_store().await {
            bench_backend(&postgres, people).await?;
            postgres.cleanup().await;
        }
    } else {
        println!("\nPostgreSQL left out (BENCH_POSTGRES=0)");
    }
    if !full {
        println!("\nbench breaches: smoke run passed (time it with `cargo bench`)");
    }
    Ok(())
}

async fn bench_backend(store: &TestStore, people: usize) -> Result<(), String> {
    let store: &Store = store;
    let backend = match store.backend() {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    };
    println!("\n== {backend}: a breach of {people} people ==");
    let register =
        register_file::parse("examples/limburg.yaml", LIMBURG).map_err(|e| e.to_string())?;
    let activity = register
        .activities
        .first()
        .ok_or("examples/limburg.yaml has no activities")?
        .clone();
    store
        .import_register(&register, false, "bench", NOW)
        .await
        .map_err(|e| format!("importing the register: {e}"))?;
    testing::seed_subjects(store, &activity.id, people, NOW)
        .await
        .map_err(|e| format!("seeding {people} subjects: {e}"))?;
    let facts = BreachFacts {
        controller: activity.controller.clone(),
        detected_at: NOW,
        aware_at: NOW,
        reported_by: ReportedBy::Staff {
            name: "bench".into(),
        },
        description: "A list of files was sent to the wrong address.".into(),
        data_categories: Default::default(),
        special_categories: Default::default(),
        subject_categories: Default::default(),
        approx_subjects: None,
        approx_records: None,
        consequences: String::new(),
        measures_taken: String::new(),
        measures_proposed: String::new(),
        risk: Some(RiskAssessment {
            level: RiskLevel::HighRisk,
            reasons: "bench".into(),
        }),
        closed_at: None,
    };
    let breach = store
        .create_breach(&facts, "bench", NOW)
        .await
        .map_err(|e| e.to_string())?;
    let processing = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "bench".into(),
        },
        trace: TraceContext::new_root([1; 16], [2; 8]),
        case_ref: None,
        now: NOW,
    };
    let query = AffectedQuery {
        activities: [activity.id.clone()].into(),
        ..AffectedQuery::default()
    };

    let start = Instant::now();
    let found = store
        .find_affected(&processing, breach.id, &query)
        .await
        .map_err(|e| e.to_string())?;
    let finding = start.elapsed();
    if found.subjects.len() != people {
        return Err(format!(
            "found {} people, seeded {people}",
            found.subjects.len()
        ));
    }
    report("find the people affected (logged)", finding, people);

    store
        .record_art34_decision(
            breach.id,
            None,
            &Art34Decision {
                inform: true,
                ground: None,
                reasons: "bench".into(),
                public_communication: None,
            },
            "bench",
            NOW,
        )
        .await
        .map_err(|e| e.to_string())?;
    let texts: BTreeMap<Lang, (String, String)> = Lang::ALL
        .into_iter()
        .map(|l| (l, ("Datalek".to_string(), "Tekst".to_string())))
        .collect();
    let start = Instant::now();
    let outcome = store
        .notify_affected(&processing, breach.id, &query, &texts, Lang::Nl)
        .await
        .map_err(|e| e.to_string())?;
    let telling = start.elapsed();
    // The seeded people have no e-mail address: each gets a notice to be told by letter.
    let told = usize::try_from(outcome.without_email + outcome.queued).unwrap_or(0);
    if told != people {
        return Err(format!("told {told} people, seeded {people}"));
    }
    report("prepare their notices (logged)", telling, people);
    Ok(())
}

fn report(what: &str, took: std::time::Duration, people: usize) {
    let per_second = people as f64 / took.as_secs_f64().max(1e-9);
    println!(
        "{what:<36} {:>8.2} s   {:>10.0} people/s",
        took.as_secs_f64(),
        per_second
    );
}
