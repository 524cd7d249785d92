//! Outgoing mail: delivers the store's outbox to an SMTP relay.
//!
//! Mail is queued in the store (in the transaction of the change it reports) and sent from
//! there by [`deliver_due`], or by [`run_delivery`] in the background of `kluis serve`. A
//! failed attempt is retried later with a growing wait; see [`kluis_store::MailRetry`].
//! Mail sent on behalf of a purpose carries the one-click unsubscribe headers of RFC 8058
//! and a visible link.

use std::future::Future;
use std::time::Duration as StdDuration;

use kluis_domain::mail::OutgoingMail;
use kluis_store::{MailRetry, QueuedMail, Store, StoreError, mask_password};
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

#[cfg(feature = "testing")]
pub mod testing;

/// How long one SMTP exchange may take before it counts as failed.
const SEND_TIMEOUT: StdDuration = StdDuration::from_secs(20);

/// Mails claimed at once. With [`SEND_TIMEOUT`] a batch ends well within [`LEASE`], so no
/// other sender takes a mail over while it is still being sent.
const BATCH: i64 = 20;

/// How long a claimed mail stays with its sender.
const LEASE: Duration = Duration::minutes(10);

/// How often the background delivery looks for due mail when there was none.
const POLL: StdDuration = StdDuration::from_secs(5);

/// How long sent mail stays in the outbox, for `kluis mail status` and questions about it.
const SENT_MAIL_KEPT: Duration = Duration::days(30);

/// How often the background delivery purges sent mail older than [`SENT_MAIL_KEPT`].
const PURGE_EVERY: Duration = Duration::hours(1);

/// What can go wrong with outgoing mail, in words that say what to do.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A mail setting (`smtp_url`, `from` or `reply_to`) is wrong; the problem says how to
    /// fix it.
    #[error("{setting}: {problem}")]
    Setting {
        setting: &'static str,
        problem: String,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where and as whom kluis sends mail. Checked when made, so a bad setting fails at start-up.
#[derive(Clone)]
pub struct MailConfig {
    smtp_url: String,
    from: Mailbox,
    reply_to: Option<Mailbox>,
}

impl std::fmt::Debug for MailConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailConfig")
            .field("smtp_url", &self.smtp_url_masked())
            .field("from", &self.from.to_string())
            .field("reply_to", &self.reply_to.as_ref().map(Mailbox::to_string))
            .finish()
    }
}

const SMTP_URL_HELP: &str = "use smtp://HOST:PORT for a relay that takes mail without \
    TLS, smtp://USER:PASSWORD@HOST:587?tls=required for STARTTLS, or \
    smtps://USER:PASSWORD@HOST:465 for TLS";

impl MailConfig {
    /// `smtp_url`: `smtp://HOST[:PORT]` (plain, port 25), `smtp://HOST:587?tls=required`
    /// (STARTTLS; `tls=opportunistic` uses it when offered) or `smtps://HOST[:465]` (TLS),
    /// with `USER:PASSWORD@` before the host when the relay wants a login. `from` and
    /// `reply_to`: `privacy@example.be` or `Stad Poperinge <privacy@poperinge.be>`.
    pub fn new(
        smtp_url: &str,
        from: &str,
        reply_to: Option<&str>,
    ) -> Result<MailConfig, MailError> {
        check_smtp_url(smtp_url)?;
        Ok(MailConfig {
            smtp_url: smtp_url.trim().to_string(),
            from: mailbox(from, "from")?,
            reply_to: reply_to.map(|r| mailbox(r, "reply_to")).transpose()?,
        })
    }

    /// The sender: name and address.
    pub fn from(&self) -> String {
        self.from.to_string()
    }

    pub fn reply_to(&self) -> Option<String> {
        self.reply_to.as_ref().map(Mailbox::to_string)
    }

    /// The relay's URL with its password masked.
    pub fn smtp_url_masked(&self) -> String {
        mask_password(&self.smtp_url)
    }
}

fn check_smtp_url(text: &str) -> Result<(), MailError> {
    let masked = mask_password(text);
    let bad = |problem: String| MailError::Setting {
        setting: "smtp_url",
        problem: format!("'{masked}' {problem}: {SMTP_URL_HELP}"),
    };
    let url = url::Url::parse(text.trim()).map_err(|e| bad(format!("is not a URL ({e})")))?;
    let tls_param = match url.scheme() {
        "smtp" | "smtps" => url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v),
        other => return Err(bad(format!("is not an SMTP URL (scheme '{other}')"))),
    };
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("names no host".into()));
    }
    if let Some((key, value)) = url.query_pairs().find(|(k, _)| k != "tls") {
        return Err(bad(format!("has an unknown parameter '{key}={value}'")));
    }
    if url.fragment().is_some() {
        return Err(bad("has a '#' part".into()));
    }
    let encrypted = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None) => true,
        ("smtp", None | Some("opportunistic")) => false,
        ("smtp", Some("required")) => true,
        (_, Some(other)) => {
            return Err(bad(format!(
                "has tls={other}; smtp:// takes tls=required or tls=opportunistic, smtps:// \
                 none"
            )));
        }
        _ => false,
    };
    if !encrypted && (!url.username().is_empty() || url.password().is_some()) {
        return Err(bad(
            "would send the password unencrypted: add ?tls=required or use smtps://".into(),
        ));
    }
    Ok(())
}

fn mailbox(text: &str, setting: &'static str) -> Result<Mailbox, MailError> {
    text.trim().parse().map_err(|e| MailError::Setting {
        setting,
        problem: format!(
            "'{text}' is not an e-mail address ({e}): write privacy@example.be or \
             \"Stad Poperinge <privacy@poperinge.be>\""
        ),
    })
}

/// Sends mail through the configured relay. Cheap to clone: clones share connections.
#[derive(Clone)]
pub struct Mailer {
    config: MailConfig,
    transport: AsyncSmtpTransport<Tokio1Executor>,
}

impl Mailer {
    pub fn new(config: MailConfig) -> Result<Mailer, MailError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&config.smtp_url)
            .map_err(|e| MailError::Setting {
                setting: "smtp_url",
                problem: format!(
                    "cannot use the relay '{}': {e}; {SMTP_URL_HELP}",
                    config.smtp_url_masked()
                ),
            })?
            .timeout(Some(SEND_TIMEOUT))
            .build();
        Ok(Mailer { config, transport })
    }

    pub fn config(&self) -> &MailConfig {
        &self.config
    }

    /// The message for queued mail `id`, dated `now`. Its Message-ID derives from `id`,
    /// so every attempt to send one mail carries the same.
    pub fn message(
        &self,
        id: Uuid,
        mail: &OutgoingMail,
        now: OffsetDateTime,
    ) -> Result<Message, String> {
        let to: Mailbox = mail
            .to
            .as_str()
            .parse()
            .map_err(|e| format!("'{}' cannot be sent to: {e}", mail.to))?;
        let domain = self.config.from.email.domain();
        let mut builder = Message::builder()
            .from(self.config.from.clone())
            .to(to)
            .subject(mail.subject.as_str())
            .date(now.into())
            .message_id(Some(format!("<{}@{domain}>", id.simple())));
        if let Some(reply_to) = &self.config.reply_to {
            builder = builder.reply_to(reply_to.clone());
        }
        let mut body = mail.body_text.clone();
        if let Some(url) = &mail.unsubscribe_url {
            // RFC 8058: the link for the one-click POST, and the header saying it is one.
            builder = builder
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe"),
                    format!("<{url}>"),
                ))
                .raw_header(HeaderValue::new(
                    HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                    "List-Unsubscribe=One-Click".to_string(),
                ));
            body = with_unsubscribe_line(&body, url);
        }
        builder
            .singlepart(SinglePart::plain(body))
            .map_err(|e| format!("cannot build the message: {e}"))
    }

    /// Hands `message` to the relay; the error says why it was not accepted.
    async fn send(&self, message: Message) -> Result<(), String> {
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("{e} (relay {})", self.config.smtp_url_masked()))
    }
}

/// `body` with a visible unsubscribe link at the bottom, after a signature separator.
fn with_unsubscribe_line(body: &str, url: &str) -> String {
    format!(
        "{}\n\n-- \nUitschrijven / Unsubscribe: {url}\n",
        body.trim_end()
    )
}

/// What happened to one mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Not accepted; tried again at the time given.
    Retry {
        at: OffsetDateTime,
        error: String,
    },
    /// Not accepted, for the last time; kept in the outbox with the error.
    GivenUp {
        error: String,
    },
    /// Not due, already sent, or held by another sender.
    NotDue,
}

/// What a delivery round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    /// Failed, tried again later.
    pub retrying: usize,
    pub given_up: usize,
}

impl DeliveryReport {
    fn add(&mut self, delivery: &Delivery) {
        match delivery {
            Delivery::Sent => self.sent += 1,
            Delivery::Retry { .. } => self.retrying += 1,
            Delivery::GivenUp { .. } => self.given_up += 1,
            Delivery::NotDue => {}
        }
    }

    fn tried(&self) -> usize {
        self.sent + self.retrying + self.given_up
    }
}

/// Sends every mail due at `now` that no other sender holds, and records what happened.
/// Errors only when the store fails; a relay that refuses is recorded per mail.
pub async fn deliver_due(
    store: &Store,
    mailer: &Mailer,
    now: OffsetDateTime,
) -> Result<DeliveryReport, MailError> {
    let mut report = DeliveryReport::default();
    loop {
        let batch = deliver_batch(store, mailer, now).await?;
        if batch.tried() == 0 {
            return Ok(report);
        }
        report.sent += batch.sent;
        report.retrying += batch.retrying;
        report.given_up += batch.given_up;
    }
}

/// Sends mail `id` now if it is due and nobody else holds it: `kluis mail test`.
pub async fn deliver_one(
    store: &Store,
    mailer: &Mailer,
    id: Uuid,
    now: OffsetDateTime,
) -> Result<Delivery, MailError> {
    match store.claim_mail(id, now, LEASE).await? {
        Some(queued) => deliver(store, mailer, &queued, now).await,
        None => Ok(Delivery::NotDue),
    }
}

async fn deliver_batch(
    store: &Store,
    mailer: &Mailer,
    now: OffsetDateTime,
) -> Result<DeliveryReport, MailError> {
    let mut report = DeliveryReport::default();
    for queued in store.claim_due_mail(now, LEASE, BATCH).await? {
        report.add(&deliver(store, mailer, &queued, now).await?);
    }
    Ok(report)
}

async fn deliver(
    store: &Store,
    mailer: &Mailer,
    queued: &QueuedMail,
    now: OffsetDateTime,
) -> Result<Delivery, MailError> {
    let sent = match mailer.message(queued.id, &queued.mail, now) {
        Ok(message) => mailer.send(message).await,
        Err(error) => Err(error),
    };
    let error = match sent {
        Ok(()) => {
            store.mark_mail_sent(queued.id, now).await?;
            return Ok(Delivery::Sent);
        }
        Err(error) => error,
    };
    tracing::warn!(mail = %queued.id, attempt = queued.attempts, %error, "mail not delivered");
    Ok(
        match store.mark_mail_failed(queued.id, &error, now).await? {
            Some(MailRetry::At(at)) => Delivery::Retry { at, error },
            Some(MailRetry::GivenUp) => {
                tracing::error!(
                    mail = %queued.id,
                    %error,
                    "mail given up after {} attempts; it stays in the outbox (kluis mail status)",
                    queued.attempts
                );
                Delivery::GivenUp { error }
            }
            // Another sender, whose lease outlived ours, delivered it meanwhile.
            None => Delivery::NotDue,
        },
    )
}

/// Delivers due mail until `shutdown` resolves: what `kluis serve` runs in the background.
/// Every instance may run it; the store's leases keep them from sending a mail twice. A
/// round in progress finishes its batch before the loop ends. Once an hour it also deletes
/// mail sent more than 30 days ago.
pub async fn run_delivery(
    store: Store,
    mailer: Mailer,
    clock: impl Fn() -> OffsetDateTime + Send,
    shutdown: impl Future<Output = ()> + Send,
) {
    tokio::pin!(shutdown);
    let mut next_purge = clock();
    loop {
        let now = clock();
        if now >= next_purge {
            match store.purge_sent_mail(now - SENT_MAIL_KEPT).await {
                Ok(0) => {}
                Ok(n) => tracing::info!("deleted {n} mails sent more than 30 days ago"),
                Err(e) => tracing::warn!("cannot purge sent mail: {e}"),
            }
            next_purge = now + PURGE_EVERY;
        }
        let idle = match deliver_batch(&store, &mailer, now).await {
            Ok(report) => {
                if report.tried() > 0 {
                    tracing::info!(
                        sent = report.sent,
                        retrying = report.retrying,
                        given_up = report.given_up,
                        "mail delivery"
                    );
                }
                report.tried() == 0
            }
            Err(e) => {
                tracing::warn!("mail delivery paused: {e}");
                true
            }
        };
        let pause = if idle { POLL } else { StdDuration::ZERO };
        tokio::select! {
            biased;
            () = &mut shutdown => return,
            () = tokio::time::sleep(pause) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unsubscribe_line_ends_the_body() {
        assert_eq!(
            with_unsubscribe_line("Beste An,\n\nTot ziens.\n\n", "https://k.be/u/1"),
            "Beste An,\n\nTot ziens.\n\n-- \nUitschrijven / Unsubscribe: https://k.be/u/1\n"
        );
    }
}
