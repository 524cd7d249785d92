//! `kluis consent`: the consent ledger from the command line, for the mailing-list case.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
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
///
/// Built for lists of a million: the database gathers every consented address in one query
/// while this reads and normalises the list, then each consented address is looked up in
/// the list once.
pub async fn filter(
    store: &Store,
    purpose: &str,
    mut input: impl BufRead,
    output: impl Write,
) -> Result<FilterReport> {
    let activity = store
        .activity(purpose)
        .await?
        .with_context(|| format!("there is no processing activity '{purpose}'"))?;
    if let Err(e) = consent::check_activity(&activity.value) {
        bail!("{e}");
    }
    // One query for every consented address, run while the list is read, beats a lookup
    // per line by orders of magnitude.
    let consented = tokio::spawn({
        let (store, purpose, now) = (store.clone(), purpose.to_string(), now());
        async move { store.consented_emails(&purpose, now).await }
    });
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .context("cannot read standard input")?;
    let (list, mut report) = MailingList::read(&text);
    let consented = consented
        .await
        .context("the query for consented addresses stopped")??;
    let kept = list.kept(&consented);
    let mut out = BufWriter::with_capacity(1 << 16, output);
    for (address, _) in list.addresses.iter().zip(&kept).filter(|(_, kept)| **kept) {
        out.write_all(address.as_bytes())?;
        out.write_all(b"\n")?;
        report.kept += 1;
    }
    out.flush()?;
    Ok(report)
}

/// The distinct addresses of a mailing list, normalised, in the order they first appear.
struct MailingList<'a> {
    addresses: Vec<Cow<'a, str>>,
    /// Where each address is in `addresses`.
    position: HashMap<Cow<'a, str>, usize, foldhash::fast::RandomState>,
}

impl<'a> MailingList<'a> {
    /// Reads one address a line; blank lines are skipped, others that are not addresses
    /// counted.
    fn read(text: &'a str) -> (MailingList<'a>, FilterReport) {
        // A line is rarely shorter than 20 bytes: room for all without growing.
        let lines = text.len() / 20 + 1;
        let mut list = MailingList {
            addresses: Vec::with_capacity(lines),
            position: HashMap::with_capacity_and_hasher(lines, Default::default()),
        };
        let mut report = FilterReport::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            report.read += 1;
            let Ok(address) = line.parse::<EmailAddress>() else {
                report.invalid += 1;
                report.first_invalid_line.get_or_insert(number + 1);
                continue;
            };
            // Most lists are written as kluis stores addresses: borrow those.
            let address = if address.as_str() == line {
                Cow::Borrowed(line)
            } else {
                Cow::Owned(address.as_str().to_string())
            };
            if let Entry::Vacant(slot) = list.position.entry(address.clone()) {
                slot.insert(list.addresses.len());
                list.addresses.push(address);
            }
        }
        (list, report)
    }

    /// Whether each address is among `consented`. Looking up a million addresses waits on
    /// memory more than on the processor, so both halves are looked up at once.
    fn kept(&self, consented: &[String]) -> Vec<bool> {
        let found: Vec<usize> = std::thread::scope(|scope| {
            let halves: Vec<_> = consented
                .chunks(consented.len().div_ceil(2).max(1))
                .map(|half| {
                    scope.spawn(move || {
                        half.iter()
                            .filter_map(|a| self.position.get(a.as_str()).copied())
                            .collect::<Vec<usize>>()
                    })
                })
                .collect();
            halves
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut kept = vec![false; self.addresses.len()];
        for k in found {
            kept[k] = true;
        }
        kept
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_is_read_normalised_once_each_in_first_order() {
        let text = "An@Example.be\r\n\nbram@example.be\n  an@example.be \nnot an address\n\
                    bram@EXAMPLE.be\nalso@wrong\n";
        let (list, report) = MailingList::read(text);
        assert_eq!(list.addresses, ["an@example.be", "bram@example.be"]);
        assert_eq!(
            report,
            FilterReport {
                read: 6,
                kept: 0,
                invalid: 2,
                first_invalid_line: Some(5),
            }
        );
        let kept = list.kept(&["bram@example.be".into(), "chris@example.be".into()]);
        assert_eq!(kept, [false, true]);
        assert_eq!(list.kept(&[]), [false, false]);
    }
}
