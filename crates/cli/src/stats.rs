//! `kluis stats`: pseudonymised, generalised extracts of an activity's records for research
//! and statistics, checked for k-anonymity before anything is written.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::statistics::{self, MAX_SPEC_BYTES, ReleaseReport};
use kluis_domain::trace::TraceContext;
use kluis_store::{Processing, Store};

use crate::{now, staff_account};

#[derive(Subcommand)]
pub enum StatsCommand {
    /// Make an extract as a specification file describes it: direct identifiers refused,
    /// people under the project's pseudonym, quasi-identifiers generalised, rows that stand
    /// out suppressed. Writes the CSV only when the release meets the thresholds; every
    /// attempt is logged.
    Extract {
        /// The extract specification (YAML): activity, project, purpose, columns,
        /// thresholds, tables.
        #[arg(long)]
        spec: PathBuf,
        /// Where to write the released rows (CSV).
        #[arg(long)]
        output: PathBuf,
        /// Also write the release report (k, l, suppression, aggregate tables) as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        /// The staff account making the extract: its need-to-know decides, and the log
        /// names it.
        #[arg(long = "as", value_name = "USERNAME")]
        as_user: String,
        /// The request or case this extract serves, for the log.
        #[arg(long)]
        case: Option<String>,
    },
    /// The extracts made from an activity, newest first: who, when, project, outcome.
    Log { activity: String },
}

pub async fn stats(store: &Store, command: StatsCommand) -> Result<()> {
    match command {
        StatsCommand::Extract {
            spec,
            output,
            report,
            as_user,
            case,
        } => extract(store, &spec, &output, report.as_deref(), &as_user, case).await,
        StatsCommand::Log { activity } => {
            let logged = store.statistics_extracts(&activity).await?;
            if logged.is_empty() {
                println!("no extracts were made from activity '{activity}'");
            }
            for l in logged {
                let r = &l.report;
                println!(
                    "{}  {}  by {}  project {}  {}  {} of {} rows released, k {}{}",
                    l.created_at.date(),
                    l.id,
                    l.actor_name,
                    l.project,
                    if r.released { "released" } else { "refused" },
                    r.rows_released,
                    r.rows_in,
                    r.k_achieved,
                    r.l_achieved.map(|l| format!(", l {l}")).unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

async fn extract(
    store: &Store,
    spec_path: &Path,
    output: &Path,
    report_path: Option<&Path>,
    as_user: &str,
    case: Option<String>,
) -> Result<()> {
    let name = spec_path.display().to_string();
    let meta = std::fs::metadata(spec_path).with_context(|| format!("cannot read {name}"))?;
    if meta.len() > MAX_SPEC_BYTES as u64 {
        bail!("{name} is larger than an extract specification can be (1 MiB)");
    }
    let text = std::fs::read_to_string(spec_path)
        .with_context(|| format!("cannot read {name} as UTF-8 text"))?;
    let plan = statistics::parse(&name, &text)?;
    let account = staff_account(store, as_user).await?;
    let clearance = store.clearance(account.id).await?;
    let processing = processing(&account, case)?;
    let made = store
        .statistics_extract(&processing, &clearance, &plan)
        .await?;
    let report = &made.release.report;
    print_report(
        &made.id.to_string(),
        &plan.spec.activity,
        &plan.spec.project,
        report,
    );
    if !report.released {
        bail!(
            "the release is refused: {}; nothing was written (the attempt is logged as extract {})",
            report
                .refusal
                .as_deref()
                .unwrap_or("the thresholds are not met"),
            made.id
        );
    }
    let written = write_atomically(output, |file| {
        statistics::write_csv(&made.extract, &made.release, file).map_err(anyhow::Error::from)
    })?;
    println!("{written} rows written to {}", output.display());
    if let Some(path) = report_path {
        let json = serde_json::json!({
            "extract": made.id,
            "activity": plan.spec.activity,
            "project": plan.spec.project,
            "purpose": plan.spec.purpose,
            "report": report,
        });
        write_atomically(path, |file| {
            serde_json::to_writer_pretty(&mut *file, &json)?;
            file.write_all(b"\n")?;
            Ok(())
        })?;
        println!("report written to {}", path.display());
    }
    Ok(())
}

/// Writes through a temporary file beside `path`, renamed over it once complete: a
/// failure half-way leaves no partial extract behind.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<T>,
) -> Result<T> {
    let file_name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let mut temporary = path.to_path_buf();
    temporary.set_file_name(format!(
        ".{}.{}.partial",
        file_name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = std::fs::File::create(&temporary)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let mut out = std::io::BufWriter::new(file);
        let value = write(&mut out)?;
        out.flush()
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::rename(&temporary, path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn print_report(id: &str, activity: &str, project: &str, r: &ReleaseReport) {
    println!(
        "extract {id}: {} rows of {} people from activity '{activity}', project '{project}'",
        r.rows_in, r.persons_in
    );
    println!(
        "k-anonymity: {} required, {} achieved ({} groups of quasi-identifier values, {} suppressed)",
        r.k_required, r.k_achieved, r.groups, r.groups_suppressed
    );
    if let Some(l) = r.l_achieved {
        println!("l-diversity: {} required, {l} achieved", r.l_required);
    }
    println!(
        "suppressed: {} rows ({:.1}%, at most {:.1}% allowed): {} in groups of fewer than {} \
         people, {} in groups with fewer than {} sensitive values",
        r.rows_suppressed,
        r.suppressed_share * 100.0,
        r.max_suppressed_share * 100.0,
        r.rows_suppressed_for_k,
        r.k_required,
        r.rows_suppressed_for_l,
        r.l_required
    );
    for t in &r.tables {
        println!(
            "table {}: {} cells by {}, {} suppressed (fewer than {} people)",
            t.name,
            t.cells.len(),
            t.columns.join(", "),
            t.cells_suppressed,
            t.min_cell
        );
    }
    println!(
        "release: {}",
        if r.released { "allowed" } else { "refused" }
    );
}

/// The processing context: the named staff member, a new trace.
fn processing(account: &kluis_store::User, case: Option<String>) -> Result<Processing> {
    let mut trace = [0u8; 16];
    let mut span = [0u8; 8];
    getrandom::fill(&mut trace).context("no random source for a trace id")?;
    getrandom::fill(&mut span).context("no random source for a span id")?;
    trace[0] |= 1;
    span[0] |= 1;
    Ok(Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some(account.id.to_string()),
            name: account.username.clone(),
        },
        trace: TraceContext::new_root(trace, span),
        case_ref: case,
        now: now(),
    })
}
