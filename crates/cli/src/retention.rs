//! `kluis retention`: what will be destroyed and when, legal holds, extensions, the DPO's
//! destruction lists and the sweep; and the daily sweep `kluis serve` runs.

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use kluis_domain::access::Scope;
use kluis_domain::destruction::{HoldScope, NewHold};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::trace::TraceContext;
use kluis_store::{Processing, RetentionPlan, RetentionRun, Store, SweepOptions, SweepOutcome};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use kluis_connectors::{SystemErasureReport, TableErasureReport, sweep_expired_logged};
use kluis_domain::destruction::{Destroyed, DestructionMethod, NewDestruction};
use kluis_web::retention_systems::{SystemPlan, held_people, sweepable_systems, systems_plan};
use kluis_web::systems::SystemUrls;

use crate::{actor, now, parse_date};

#[derive(Subcommand)]
pub enum RetentionCommand {
    /// What will be destroyed up to a day, per processing activity; held records and
    /// records to review are counted apart.
    Plan {
        /// The last day to look at (YYYY-MM-DD).
        #[arg(long, value_parser = parse_date)]
        until: Date,
        #[arg(long, value_enum, default_value = "table")]
        format: PlanFormat,
    },
    /// Destroy what is due now (records past their deadline, not held, approved where
    /// the controller requires it), in batches, with the destruction log.
    Sweep {
        /// Only show what a sweep would destroy now.
        #[arg(long)]
        dry_run: bool,
        /// Records per transaction.
        #[arg(long, default_value_t = SweepOptions::default().batch_size)]
        batch_size: usize,
    },
    /// Legal holds: data kept beyond its deadline as evidence or for a dispute.
    Hold {
        #[command(subcommand)]
        command: HoldCommand,
    },
    /// Extend a record's extendable retention by one extension (e.g. a reserve of
    /// applicants kept another year).
    Extend { record: Uuid },
    /// Link a record to a case, so a hold on the case keeps it.
    Case {
        record: Uuid,
        /// The case reference; leave it out to unlink the record.
        #[arg(long)]
        case: Option<String>,
    },
    /// Whether a controller destroys only what the DPO approved on a destruction list.
    Approval {
        #[arg(long)]
        controller: String,
        #[arg(long, action = clap::ArgAction::Set)]
        required: bool,
    },
    /// Destruction lists for the DPO to approve.
    List {
        #[command(subcommand)]
        command: ListCommand,
    },
    /// The latest retention runs.
    Runs {
        #[arg(long, default_value_t = 10)]
        limit: i64,
    },
    /// The destruction log: what was destroyed, when, under which rule; never the data.
    Log {
        /// Only this run's entries.
        #[arg(long)]
        run: Option<Uuid>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
pub enum HoldCommand {
    /// Place a hold on a record, a data subject (all their records) or a case.
    Place {
        #[arg(long, group = "target", required = true)]
        record: Option<Uuid>,
        #[arg(long, group = "target")]
        subject: Option<Uuid>,
        #[arg(long, group = "target")]
        case: Option<String>,
        /// Why the data is kept (the offence, the dispute, the court order).
        #[arg(long)]
        reason: String,
        /// First day of the hold [default: today].
        #[arg(long, value_parser = parse_date)]
        from: Option<Date>,
        /// Last day of the hold; without it, until lifted.
        #[arg(long, value_parser = parse_date)]
        until: Option<Date>,
    },
    /// Lift a hold; it stays on record with who lifted it and why.
    Lift {
        id: Uuid,
        #[arg(long)]
        reason: String,
    },
    /// Holds in force (and lifted ones with --all).
    List {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum ListCommand {
    /// Draw up a destruction list of what is due up to a day, for one controller or for
    /// every controller that requires approval.
    Create {
        #[arg(long, value_parser = parse_date)]
        until: Date,
        #[arg(long)]
        controller: Option<String>,
    },
    /// Approve a list, as the DPO (a staff account with the dpo role).
    Approve {
        id: Uuid,
        #[arg(long = "as")]
        dpo: String,
    },
    /// Reject a proposed list, as the DPO, with the reason: nothing it lists is destroyed by
    /// it; the next list drawn up lists those records again.
    Reject {
        id: Uuid,
        #[arg(long = "as")]
        dpo: String,
        #[arg(long)]
        reason: String,
    },
    /// Show the destruction lists.
    Show,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum PlanFormat {
    Table,
    Json,
}

/// The processing context of a job or a command: who, a new trace, the clock.
fn processing(kind: ActorKind, name: String, now: OffsetDateTime) -> Result<Processing> {
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    getrandom::fill(&mut trace).context("no random source for a trace id")?;
    getrandom::fill(&mut span).context("no random source for a span id")?;
    trace[0] |= 1;
    span[0] |= 1;
    Ok(Processing {
        actor: Actor {
            kind,
            id: None,
            name,
        },
        trace: TraceContext::new_root(trace, span),
        case_ref: None,
        now,
    })
}

fn staff() -> Result<Processing> {
    processing(ActorKind::Staff, actor(), now())
}

pub async fn retention(store: &Store, urls: &SystemUrls, command: RetentionCommand) -> Result<()> {
    match command {
        RetentionCommand::Plan { until, format } => {
            let today = now().date();
            let plan = store.retention_plan(until, today).await?;
            let systems = systems_plan(store, urls, until, today).await?;
            match format {
                PlanFormat::Json => {
                    let mut json = serde_json::to_value(&plan)?;
                    json["systems"] = serde_json::to_value(&systems)?;
                    println!("{}", serde_json::to_string_pretty(&json)?);
                }
                PlanFormat::Table => {
                    print_plan(&plan);
                    print_systems_plan(&systems);
                }
            }
        }
        RetentionCommand::Sweep {
            dry_run: true,
            batch_size: _,
        } => {
            // A sweep today destroys what was due up to yesterday.
            let today = now().date();
            let until = today.previous_day().context("the calendar ends here")?;
            let plan = store.retention_plan(until, today).await?;
            println!("dry run: nothing is destroyed");
            print_plan(&plan);
            print_systems_plan(&systems_plan(store, urls, until, today).await?);
        }
        RetentionCommand::Sweep {
            dry_run: false,
            batch_size,
        } => {
            let job = processing(ActorKind::SystemJob, format!("{} (sweep)", actor()), now())?;
            let options = SweepOptions {
                batch_size,
                ..SweepOptions::default()
            };
            match store.sweep_retention(&job, &options).await? {
                SweepOutcome::Ran(run) => {
                    print_run(&run);
                    if let Some(error) = &run.error {
                        bail!("the sweep stopped: {error}; run it again to resume");
                    }
                    let reports = sweep_systems(store, urls, Some(run.id), batch_size).await?;
                    for report in &reports {
                        println!("{report}");
                    }
                    let stopped: Vec<&str> = reports
                        .iter()
                        .filter(|r| !r.is_complete())
                        .map(|r| r.system.as_str())
                        .collect();
                    if !stopped.is_empty() {
                        bail!(
                            "the sweep of {} stopped: see above; run it again to resume",
                            stopped.join(", ")
                        );
                    }
                }
                SweepOutcome::Taken { holder, until } => bail!(
                    "another sweep is running ({}) until {until} at the latest: wait for it",
                    holder.unwrap_or_else(|| "unknown".into())
                ),
                SweepOutcome::AlreadyRanToday(day) => println!("the sweep already ran on {day}"),
            }
        }
        RetentionCommand::Hold { command } => hold(store, command).await?,
        RetentionCommand::Extend { record } => {
            let e = store
                .extend_retention(&staff()?, record, &Scope::All)
                .await?;
            println!(
                "record {record} extended ({} of at most {} extensions); {}",
                e.extensions,
                e.max_extensions,
                match e.deadline {
                    Some(d) => format!("destroyed after {d}"),
                    None => "the deadline waits for the event the period runs from".into(),
                }
            );
        }
        RetentionCommand::Case { record, case } => {
            store
                .link_record_to_case(&staff()?, record, case.as_deref())
                .await?;
            match case {
                Some(c) => println!("record {record} belongs to case {c}"),
                None => println!("record {record} belongs to no case"),
            }
        }
        RetentionCommand::Approval {
            controller,
            required,
        } => {
            store
                .set_destruction_approval(&controller, required, &actor(), now())
                .await?;
            if required {
                println!("{controller} destroys only what the DPO approved on a destruction list");
            } else {
                println!("{controller}'s records are destroyed when due, without a list");
            }
        }
        RetentionCommand::List { command } => list(store, command).await?,
        RetentionCommand::Runs { limit } => {
            for run in store.retention_runs(limit).await? {
                print_run(&run);
            }
        }
        RetentionCommand::Log { run, limit } => {
            for e in store.destruction_log(run, 0, limit).await? {
                println!(
                    "{}  {}  {}.{}  {}  {}  {} rows  {}  {}  deadline {}  run {}",
                    e.seq,
                    e.destroyed_at.date(),
                    e.system,
                    e.table,
                    e.activity,
                    // A sweep's entry lists every record of its batch and deadline, so
                    // `kluis retention log | grep RECORD-ID` finds when a record went.
                    e.record_ids
                        .iter()
                        .map(Uuid::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    e.rows,
                    e.method,
                    e.rule,
                    e.deadline.map(|d| d.to_string()).unwrap_or("-".into()),
                    e.run_id.map(|r| r.to_string()).unwrap_or("-".into()),
                );
            }
        }
    }
    Ok(())
}

async fn hold(store: &Store, command: HoldCommand) -> Result<()> {
    match command {
        HoldCommand::Place {
            record,
            subject,
            case,
            reason,
            from,
            until,
        } => {
            let (scope, target) = match (record, subject, case) {
                (Some(r), _, _) => (HoldScope::Record, r.to_string()),
                (_, Some(s), _) => (HoldScope::Subject, s.to_string()),
                (_, _, Some(c)) => (HoldScope::Case, c),
                _ => bail!("name what to hold: --record, --subject or --case"),
            };
            let p = staff()?;
            let hold = store
                .place_hold(
                    &p,
                    &NewHold {
                        scope,
                        target,
                        reason,
                        from: from.unwrap_or(p.now.date()),
                        until,
                    },
                )
                .await?;
            println!(
                "placed legal hold {} on {} {}",
                hold.id, hold.scope, hold.target
            );
        }
        HoldCommand::Lift { id, reason } => {
            let hold = store.lift_hold(&staff()?, id, &reason).await?;
            println!(
                "lifted legal hold {} on {} {}",
                hold.id, hold.scope, hold.target
            );
        }
        HoldCommand::List { all } => {
            for h in store.holds(all).await? {
                println!(
                    "{}  {} {}  from {} until {}  by {}  {}{}",
                    h.id,
                    h.scope,
                    h.target,
                    h.from,
                    h.until.map(|d| d.to_string()).unwrap_or("lifted".into()),
                    h.placed_by,
                    h.reason,
                    match (&h.lifted_at, &h.lifted_by) {
                        (Some(at), Some(by)) => format!("  (lifted {} by {by})", at.date()),
                        _ => String::new(),
                    }
                );
            }
        }
    }
    Ok(())
}

async fn list(store: &Store, command: ListCommand) -> Result<()> {
    match command {
        ListCommand::Create { until, controller } => {
            let controllers = match controller {
                Some(c) => vec![c],
                None => store
                    .controllers_requiring_approval()
                    .await?
                    .into_iter()
                    .collect(),
            };
            if controllers.is_empty() {
                bail!(
                    "no controller requires approval of destruction: set it with `kluis \
                     retention approval --controller ID --required true`"
                );
            }
            for c in controllers {
                match store
                    .create_destruction_list(&c, until, &actor(), now())
                    .await
                {
                    Ok(l) => println!(
                        "destruction list {} for {c}: {} records due up to {until}; approve it with \
                         `kluis retention list approve {} --as DPO`",
                        l.id, l.records, l.id
                    ),
                    Err(kluis_store::StoreError::Invalid(m)) if m.starts_with("nothing") => {
                        println!("{m}")
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
        ListCommand::Approve { id, dpo } => {
            let l = store.approve_destruction_list(id, &dpo, now()).await?;
            println!(
                "destruction list {} approved by {}: the sweep destroys its {} records when due",
                l.id,
                l.approved_by.unwrap_or_default(),
                l.records
            );
        }
        ListCommand::Reject { id, dpo, reason } => {
            let l = store
                .reject_destruction_list(id, &dpo, &reason, now())
                .await?;
            println!(
                "destruction list {} rejected by {}: nothing it lists is destroyed by it ({})",
                l.id,
                l.rejected_by.unwrap_or_default(),
                l.rejection_reason.unwrap_or_default()
            );
        }
        ListCommand::Show => {
            for l in store.destruction_lists().await? {
                println!(
                    "{}  {}  until {}  {} records  {}  drawn up by {}{}",
                    l.id,
                    l.controller,
                    l.until,
                    l.records,
                    l.state,
                    l.created_by,
                    match (&l.approved_by, &l.rejected_by) {
                        (Some(b), _) => format!(", approved by {b}"),
                        (None, Some(b)) => format!(
                            ", rejected by {b}: {}",
                            l.rejection_reason.as_deref().unwrap_or_default()
                        ),
                        (None, None) => String::new(),
                    }
                );
            }
        }
    }
    Ok(())
}

fn print_plan(plan: &RetentionPlan) {
    println!(
        "destroyed up to {} (held and to-review records are kept):",
        plan.until
    );
    println!(
        "{:<40} {:>9} {:>9} {:>9} {:<10} {:>7} {:>9} {:>9}",
        "activity", "due", "erased", "anonymised", "earliest", "held", "to review", "approved"
    );
    for l in &plan.activities {
        println!(
            "{:<40} {:>9} {:>9} {:>9} {:<10} {:>7} {:>9} {:>9}",
            l.activity,
            l.due,
            l.to_erase,
            l.to_anonymise,
            l.earliest_deadline
                .map(|d| d.to_string())
                .unwrap_or("-".into()),
            l.held,
            l.to_review,
            if l.approval_required {
                l.approved.to_string()
            } else {
                "n/a".into()
            }
        );
    }
    if plan.activities.is_empty() {
        println!("nothing is due, held or waiting for review");
    }
}

/// The connected systems' part of the plan: per system and table, the rows deleted and
/// anonymised, and what the map's strategy does to them.
fn print_systems_plan(systems: &[SystemPlan]) {
    for s in systems {
        if let Some(e) = &s.error {
            println!("system {}: cannot say: {e}", s.system);
            continue;
        }
        println!(
            "system {}: {} rows to delete, {} to anonymise",
            s.system,
            s.to_delete(),
            s.to_anonymise()
        );
        for t in &s.tables {
            println!(
                "  table {} ({}): {} to delete, {} to anonymise, {} kept, {} held (legal \
                 hold); {}",
                t.table, t.activity, t.to_delete, t.to_anonymise, t.kept, t.held, t.strategy
            );
        }
    }
}

fn print_run(run: &RetentionRun) {
    println!(
        "run {} {}: {} records destroyed, {} data subjects deleted, {} held, {} awaiting \
         approval, in {} batches (started {}{})",
        run.id,
        run.state,
        run.destroyed,
        run.subjects_deleted,
        run.held,
        run.awaiting_approval,
        run.batches,
        run.started_at,
        run.error
            .as_ref()
            .map(|e| format!("; {e}"))
            .unwrap_or_default()
    );
}

/// How often the daily job asks whether today's sweep still has to run: the lease and
/// the day it last ran make sure one kluis among several sweeps, once a day.
const DAILY_SWEEP_CHECK: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// The daily retention sweep of `kluis serve`; ends when `stop` resolves. A batch cut off
/// by the stop rolls back whole, and the next run resumes where this one got to.
pub async fn run_daily_sweep(
    store: Store,
    urls: SystemUrls,
    clock: impl Fn() -> OffsetDateTime,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let options = SweepOptions {
            once_per_day: true,
            ..SweepOptions::default()
        };
        let job = processing(ActorKind::SystemJob, "retention sweep".into(), clock());
        let sweep = async {
            match job {
                Ok(job) => store
                    .sweep_retention(&job, &options)
                    .await
                    .map_err(|e| e.into()),
                Err(e) => Err::<SweepOutcome, anyhow::Error>(e),
            }
        };
        tokio::select! {
            () = &mut stop => return,
            outcome = sweep => match outcome {
                Ok(SweepOutcome::Ran(run)) => {
                    tracing::info!(
                        run = %run.id, state = %run.state, destroyed = run.destroyed,
                        subjects = run.subjects_deleted, held = run.held,
                        awaiting_approval = run.awaiting_approval, "retention sweep"
                    );
                    // The connectors' batch callback borrows the store across awaits, which
                    // the compiler cannot prove Send for a spawned task: it runs on a
                    // blocking thread of its own instead.
                    let (store, urls, run_id) = (store.clone(), urls.clone(), run.id);
                    let batch = options.batch_size;
                    let runtime = tokio::runtime::Handle::current();
                    let swept = tokio::task::spawn_blocking(move || {
                        runtime.block_on(sweep_systems(&store, &urls, Some(run_id), batch))
                    })
                    .await
                    .unwrap_or_else(|e| Err(anyhow::anyhow!("the sweep of connected systems panicked: {e}")));
                    match swept {
                        Ok(reports) => {
                            for r in reports {
                                tracing::info!(
                                    system = %r.system, deleted = r.deleted(),
                                    anonymised = r.anonymised(), kept = r.kept(),
                                    error = ?r.error.as_ref().map(|e| e.to_string()),
                                    "retention sweep of a connected system"
                                );
                            }
                        }
                        Err(e) => tracing::error!("the sweep of connected systems failed: {e:#}"),
                    }
                }
                Ok(other) => tracing::debug!(?other, "retention sweep not needed here"),
                Err(e) => tracing::error!("the retention sweep failed: {e:#}; it retries later"),
            },
        }
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(DAILY_SWEEP_CHECK) => {}
        }
    }
}

/// Sweeps the connected systems after the vault, under the same run: each batch's
/// destruction-log entries are written before that batch commits in the system, so no row
/// is destroyed without its entry (a crash in between logs rows that the next run
/// destroys and logs again). One system failing does not stop the others.
pub async fn sweep_systems(
    store: &Store,
    urls: &SystemUrls,
    run: Option<Uuid>,
    batch: usize,
) -> Result<Vec<SystemErasureReport>> {
    let today = now().date();
    let mut reports = Vec::new();
    for (name, system) in sweepable_systems(store, urls).await? {
        let (system, periods) = match system {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(system = %name, "cannot sweep: {e}");
                bail!("system {name} cannot be swept: {e}");
            }
        };
        let serves = system.map().activities.first().cloned().unwrap_or_default();
        // Read for each system, just before it is swept; a hold placed while one system
        // is being swept applies to it from the next run.
        let held = held_people(store, today).await?;
        let report = sweep_expired_logged(&system, &periods, &held, today, batch, async |tables| {
            let entries = destruction_entries(&name, &serves, tables);
            store
                .record_destruction(run, now(), &entries)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        reports.push(report);
    }
    Ok(reports)
}

/// The destruction-log entries for one batch of a connected system: per table, the rows
/// deleted and the rows anonymised, under the retention that ended.
fn destruction_entries(
    system: &str,
    serves: &str,
    tables: &[TableErasureReport],
) -> Vec<NewDestruction> {
    let mut entries = Vec::new();
    for t in tables {
        let Some(ended) = &t.retention else { continue };
        for (rows, method) in [
            (t.deleted, DestructionMethod::Erase),
            (t.anonymised, DestructionMethod::Anonymise),
        ] {
            if rows == 0 {
                continue;
            }
            entries.push(NewDestruction {
                activity: ended.activity.clone().unwrap_or_else(|| serves.to_string()),
                schedule: ended
                    .schedule
                    .clone()
                    .unwrap_or_else(|| "period of the dataset map".into()),
                rule: ended.rule.clone(),
                what: Destroyed::SystemRows {
                    system: system.to_string(),
                    table: t.table.clone(),
                    rows,
                },
                method,
                deadline: None,
            });
        }
    }
    entries
}
