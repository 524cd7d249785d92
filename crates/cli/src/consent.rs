//! `kluis consent`: the consent ledger from the command line, for the mailing-list case.

use std::collections::HashSet;
use std::io::{BufRead, BufWriter, Write};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kluis_domain::consent;
use kluis_domain::identifiers::EmailAddress;
use kluis_store::Store;

use crate::now;

#[derive(Subcommand)]
pub enum ConsentCommand {
    /// Keep only the e-mail addresses (one per line on standard input) that the purpose
    /// may use now: consent given or renewed, and not past its end of validity. Lines that
    /// are not addresses are counted on standard error and dropped.
    Filter {
        /// The purpose: a processing activity whose legal basis is consent.
        #[arg(long)]
        purpose: String,
    },
}

pub async fn consent(store: &Store, command: ConsentCommand) -> Result<()> {
    match command {
        ConsentCommand::Filter { purpose } => {
            let stdin = std::io::stdin().lock();
            let stdout = std::io::stdout().lock();
            let report = filter(store, &purpose, stdin, stdout).await?;
            if report.invalid > 0 {
                eprintln!(
                    "consent filter: {} line(s) are not e-mail addresses and were dropped (first \
                     on line {})",
                    report.invalid,
                    report.first_invalid_line.unwrap_or_default()
                );
            }
            eprintln!(
                "consent filter: {} of {} address(es) may be used for {purpose}",
                report.kept, report.read
            );
            Ok(())
        }
    }
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct FilterReport {
    pub read: usize,
    pub kept: usize,
    pub invalid: usize,
    pub first_invalid_line: Option<usize>,
}

/// Writes the addresses of `input` that `purpose` may use now, in their input order,
/// normalised (lower case), each once.
pub async fn filter(
    store: &Store,
    purpose: &str,
    input: impl BufRead,
    output: impl Write,
) -> Result<FilterReport> {
    let activity = store
        .activity(purpose)
        .await?
        .with_context(|| format!("there is no processing activity '{purpose}'"))?;
    if let Err(e) = consent::check_activity(&activity.value) {
        bail!("{e}");
    }
    // One query for every consented address beats a lookup per line by orders of magnitude.
    let mut allowed: HashSet<String> = store
        .consented_emails(purpose, now())
        .await?
        .into_iter()
        .collect();
    let mut out = BufWriter::with_capacity(1 << 16, output);
    let mut report = FilterReport::default();
    for (number, line) in input.lines().enumerate() {
        let line = line.context("cannot read standard input")?;
        if line.trim().is_empty() {
            continue;
        }
        report.read += 1;
        let Ok(address) = line.parse::<EmailAddress>() else {
            report.invalid += 1;
            report.first_invalid_line.get_or_insert(number + 1);
            continue;
        };
        // Removed once written: an address listed twice goes out once.
        if allowed.remove(address.as_str()) {
            out.write_all(address.as_str().as_bytes())?;
            out.write_all(b"\n")?;
            report.kept += 1;
        }
    }
    out.flush()?;
    Ok(report)
}
