//! `kluis mail`: the outbox of outgoing mail, and the mailer `kluis serve` runs.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::mail::OutgoingMail;
use kluis_mail::{Delivery, Mailer};
use kluis_store::{MAIL_MAX_ATTEMPTS, Store};
use time::OffsetDateTime;

use crate::config::Config;

#[derive(Subcommand)]
pub enum MailCommand {
    /// Count pending, failed and sent mail, and show the latest delivery errors.
    Status,
    /// Queue a test mail to ADDRESS and send it right away through the configured relay.
    Test {
        #[arg(long)]
        to: String,
    },
}

/// Failed mails `kluis mail status` shows.
const PROBLEMS_SHOWN: i64 = 10;

const NOT_CONFIGURED: &str = "mail is not configured: set smtp_url and from in [mail] of the \
    configuration file, or KLUIS_MAIL_SMTP_URL and KLUIS_MAIL_FROM";

pub async fn mail(config: &Config, store: &Store, command: MailCommand) -> Result<()> {
    match command {
        MailCommand::Status => status(config, store).await,
        MailCommand::Test { to } => test(config, store, &to).await,
    }
}

/// The mailer for `kluis serve`, or None (said at start-up) when mail is not configured.
pub fn mailer_for_serve(config: &Config, listen: SocketAddr) -> Result<Option<Mailer>> {
    let Some(mail) = &config.mail else {
        tracing::warn!("{NOT_CONFIGURED}; until then, mail kluis queues stays in the outbox");
        return Ok(None);
    };
    if !config.public_url_is_set() {
        tracing::warn!(
            "public_url is not set: links in mail point at {}; set public_url (or \
             KLUIS_PUBLIC_URL) to the address citizens reach kluis at",
            config.public_url(listen)
        );
    }
    tracing::info!(
        "mail goes out through {} from {}",
        mail.smtp_url_masked(),
        mail.from()
    );
    Ok(Some(Mailer::new(mail.clone())?))
}

async fn status(config: &Config, store: &Store) -> Result<()> {
    let status = store.mail_status(PROBLEMS_SHOWN).await?;
    if config.mail.is_none() {
        println!("{NOT_CONFIGURED}");
    }
    println!(
        "pending: {} (waiting to be sent, or for a retry)",
        status.pending
    );
    println!(
        "failed:  {} (given up after {MAIL_MAX_ATTEMPTS} attempts, kept in the outbox)",
        status.failed
    );
    println!("sent:    {} (kept for 30 days)", status.sent);
    if !status.problems.is_empty() {
        println!("latest errors:");
    }
    for mail in status.problems {
        let state = match mail.next_attempt_at {
            Some(at) => format!("retried from {}", show_time(at)),
            None => "given up".to_string(),
        };
        println!(
            "  {} to {} \"{}\": attempt {}, {state}: {}",
            show_time(mail.created_at),
            mail.mail.to,
            mail.mail.subject,
            mail.attempts,
            mail.last_error.unwrap_or_default()
        );
    }
    Ok(())
}

/// A time as `2026-11-23 10:00:00 UTC`.
fn show_time(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_else(|_| at.to_string())
}

async fn test(config: &Config, store: &Store, to: &str) -> Result<()> {
    let Some(mail) = &config.mail else {
        bail!("{NOT_CONFIGURED}");
    };
    let address: EmailAddress = to.parse().with_context(|| format!("--to '{to}'"))?;
    let mailer = Mailer::new(mail.clone())?;
    let now = crate::now();
    let test_mail = OutgoingMail {
        to: address.clone(),
        subject: "kluis: testbericht / test message".into(),
        body_text: format!(
            "Dit is een testbericht van kluis: de uitgaande mail werkt.\n\
             This is a test message from kluis: outgoing mail works.\n\n\
             Relay: {}\n",
            mail.smtp_url_masked()
        ),
        activity: None,
        unsubscribe_url: None,
    };
    let id = store.enqueue_mail(&test_mail, now).await?;
    match kluis_mail::deliver_one(store, &mailer, id, now).await? {
        Delivery::Sent => {
            println!(
                "sent a test mail to {address} through {}",
                mail.smtp_url_masked()
            );
            Ok(())
        }
        Delivery::Retry { at, error } => bail!(
            "could not send the test mail to {address}: {error}; it stays queued, and `kluis \
             serve` tries again from {}",
            show_time(at)
        ),
        Delivery::GivenUp { error } => {
            bail!("could not send the test mail to {address}: {error}")
        }
        Delivery::NotDue => bail!(
            "the test mail was queued but another kluis took it over; see `kluis mail status`"
        ),
    }
}
