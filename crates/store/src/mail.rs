//! The outbox of outgoing mail. A mail is queued in the transaction of the change it
//! reports, so a consent withdrawal and its confirmation commit together, and a change never
//! fails because the mail relay is down. A sender claims due mails under a lease, so several
//! kluis instances sharing one database never send the same mail at the same time.
//!
//! Delivery is at least once: a sender that dies after the relay accepted a mail but before
//! [`Store::mark_mail_sent`] leaves it to be sent again once its lease ends. The message id
//! stays the same, so mail clients can tell the copies apart.

use kluis_domain::mail::OutgoingMail;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::{Backend, Store, StoreError};

/// Delivery attempts before a mail is given up (kept, with its last error).
pub const MAIL_MAX_ATTEMPTS: i64 = 12;

/// The wait after the first failed attempt; it doubles with each further one.
const FIRST_RETRY: Duration = Duration::minutes(1);

/// The longest wait between two attempts. With [`MAIL_MAX_ATTEMPTS`] a mail is retried for
/// about 16 hours before it is given up.
const LONGEST_RETRY: Duration = Duration::hours(4);

const MAX_SUBJECT_CHARS: usize = 250;
const MAX_BODY_BYTES: usize = 1 << 20;
const MAX_URL_BYTES: usize = 2_000;
const MAX_ERROR_CHARS: usize = 1_000;

/// A mail in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: Uuid,
    pub mail: OutgoingMail,
    pub created_at: OffsetDateTime,
    /// Delivery attempts started, including the one in progress.
    pub attempts: i64,
    /// When the next attempt is due; None once sent or given up.
    pub next_attempt_at: Option<OffsetDateTime>,
    /// Until when a sender holds the mail.
    pub leased_until: Option<OffsetDateTime>,
    pub sent_at: Option<OffsetDateTime>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

impl QueuedMail {
    /// Whether the mail was given up after [`MAIL_MAX_ATTEMPTS`] failed attempts.
    pub fn given_up(&self) -> bool {
        self.sent_at.is_none() && self.next_attempt_at.is_none()
    }
}

/// What the outbox holds, for `kluis mail status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailStatus {
    /// Waiting for their first or a further attempt.
    pub pending: i64,
    /// Given up after too many failed attempts.
    pub failed: i64,
    /// Sent and not yet purged.
    pub sent: i64,
    /// The most recent unsent mails whose last attempt failed, newest first.
    pub problems: Vec<QueuedMail>,
}

/// What a failed attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailRetry {
    /// Tried again at this time.
    At(OffsetDateTime),
    /// Given up: too many attempts failed.
    GivenUp,
}

/// Queues `$mail` (an `&OutgoingMail`) inside the write transaction `$tx`, due at once;
/// yields its id. The caller's transaction commits or rolls it back with the change it
/// reports.
macro_rules! enqueue_mail {
    ($tx:ident, $mail:expr, $now:expr) => {{
        let mail: &kluis_domain::mail::OutgoingMail = $mail;
        let now: time::OffsetDateTime = $now;
        $crate::mail::check_mail(mail)?;
        let id = $crate::new_id(now)?;
        let queued_at = $crate::mail::mail_time(now);
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, body_text, activity, \
             unsubscribe_url, created_at, attempts, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7)",
        )
        .bind(id)
        .bind(mail.to.as_str())
        .bind(mail.subject.as_str())
        .bind(mail.body_text.as_str())
        .bind(mail.activity.as_deref())
        .bind(mail.unsubscribe_url.as_deref())
        .bind(queued_at)
        .execute(&mut *$tx)
        .await?;
        id
    }};
}
pub(crate) use enqueue_mail;

/// The columns of a [`QueuedMail`], in the order every query selects them.
type Row = (
    Uuid,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    OffsetDateTime,
    i64,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<OffsetDateTime>,
    Option<String>,
);

impl Store {
    /// Queues one mail on its own; see [`enqueue_mail!`] to queue it with a change.
    pub async fn enqueue_mail(
        &self,
        mail: &OutgoingMail,
        now: OffsetDateTime,
    ) -> Result<Uuid, StoreError> {
        let id = write_transaction!(self, |tx| crate::mail::enqueue_mail!(tx, mail, now));
        Ok(id)
    }

    /// Claims up to `limit` due mails for `lease`, oldest due first, and counts the attempt.
    /// A claimed mail is not claimed again until its lease ends, so a sender that dies
    /// leaves it to the next one. On PostgreSQL, rows another instance is claiming are
    /// skipped rather than waited for; SQLite has one writer at a time anyway.
    pub async fn claim_due_mail(
        &self,
        now: OffsetDateTime,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<QueuedMail>, StoreError> {
        let now = mail_time(now);
        // The SQL differs only in the row lock, which SQLite does not know.
        let sql = match self.backend() {
            Backend::Sqlite => {
                "UPDATE mail_outbox SET leased_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM mail_outbox \
                 WHERE sent_at IS NULL AND next_attempt_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1) \
                 ORDER BY next_attempt_at, id LIMIT $3) \
                 RETURNING id, recipient, subject, body_text, activity, unsubscribe_url, \
                 created_at, attempts, next_attempt_at, leased_until, sent_at, last_error"
            }
            Backend::Postgres => {
                "UPDATE mail_outbox SET leased_until = $2, attempts = attempts + 1 \
                 WHERE id IN (SELECT id FROM mail_outbox \
                 WHERE sent_at IS NULL AND next_attempt_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1) \
                 ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED) \
                 RETURNING id, recipient, subject, body_text, activity, unsubscribe_url, \
                 created_at, attempts, next_attempt_at, leased_until, sent_at, last_error"
            }
        };
        let rows: Vec<Row> = on_pool!(self, |pool| {
            sqlx::query_as(sql)
                .bind(now)
                .bind(now + lease)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?
        });
        let mut claimed = rows
            .into_iter()
            .map(queued_mail)
            .collect::<Result<Vec<_>, _>>()?;
        // RETURNING gives no order.
        claimed.sort_by_key(|m| (m.next_attempt_at, m.id));
        Ok(claimed)
    }

    /// Claims one mail for `lease` if it is due and nobody holds it: to send it right away.
    pub async fn claim_mail(
        &self,
        id: Uuid,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<QueuedMail>, StoreError> {
        let now = mail_time(now);
        let row: Option<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE mail_outbox SET leased_until = $2, attempts = attempts + 1 \
                 WHERE id = $3 AND sent_at IS NULL AND next_attempt_at <= $1 \
                 AND (leased_until IS NULL OR leased_until <= $1) \
                 RETURNING id, recipient, subject, body_text, activity, unsubscribe_url, \
                 created_at, attempts, next_attempt_at, leased_until, sent_at, last_error",
            )
            .bind(now)
            .bind(now + lease)
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(queued_mail).transpose()
    }

    /// Records that the relay accepted mail `id`.
    pub async fn mark_mail_sent(&self, id: Uuid, now: OffsetDateTime) -> Result<(), StoreError> {
        let now = mail_time(now);
        let updated = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE mail_outbox SET sent_at = $2, next_attempt_at = NULL, leased_until = NULL \
                 WHERE id = $1 AND sent_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        if updated == 0 {
            self.require_mail(id).await?;
        }
        Ok(())
    }

    /// Records that an attempt to send mail `id` failed with `error`: it is tried again
    /// later, each wait twice the one before, until [`MAIL_MAX_ATTEMPTS`] attempts failed;
    /// then it is given up and kept with its error. None when the mail was sent meanwhile
    /// (by a sender whose lease outlived this one's): nothing changes then.
    pub async fn mark_mail_failed(
        &self,
        id: Uuid,
        error: &str,
        now: OffsetDateTime,
    ) -> Result<Option<MailRetry>, StoreError> {
        let now = mail_time(now);
        let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
        let retry = write_transaction!(self, |tx| {
            let attempts: Option<i64> = sqlx::query_scalar(
                "SELECT attempts FROM mail_outbox WHERE id = $1 AND sent_at IS NULL",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            match attempts {
                Some(attempts) => {
                    let retry = next_attempt(attempts, now);
                    let next = match retry {
                        MailRetry::At(at) => Some(at),
                        MailRetry::GivenUp => None,
                    };
                    sqlx::query(
                        "UPDATE mail_outbox SET next_attempt_at = $2, leased_until = NULL, \
                         last_error = $3 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(next)
                    .bind(&error)
                    .execute(&mut *tx)
                    .await?;
                    Some(retry)
                }
                None => None,
            }
        });
        if retry.is_none() {
            self.require_mail(id).await?;
        }
        Ok(retry)
    }

    /// One mail of the outbox.
    pub async fn queued_mail(&self, id: Uuid) -> Result<Option<QueuedMail>, StoreError> {
        let row: Option<Row> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, recipient, subject, body_text, activity, unsubscribe_url, created_at, \
                 attempts, next_attempt_at, leased_until, sent_at, last_error \
                 FROM mail_outbox WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        row.map(queued_mail).transpose()
    }

    /// Counts of pending, failed and sent mail, and the `problems` most recent unsent mails
    /// whose last attempt failed.
    pub async fn mail_status(&self, problems: i64) -> Result<MailStatus, StoreError> {
        let ((pending, failed, sent), rows) = read_transaction!(self, |tx| {
            let counts: (i64, i64, i64) = sqlx::query_as(
                "SELECT \
                 COUNT(*) FILTER (WHERE sent_at IS NULL AND next_attempt_at IS NOT NULL), \
                 COUNT(*) FILTER (WHERE sent_at IS NULL AND next_attempt_at IS NULL), \
                 COUNT(*) FILTER (WHERE sent_at IS NOT NULL) \
                 FROM mail_outbox",
            )
            .fetch_one(&mut *tx)
            .await?;
            let rows: Vec<Row> = sqlx::query_as(
                "SELECT id, recipient, subject, body_text, activity, unsubscribe_url, created_at, \
                 attempts, next_attempt_at, leased_until, sent_at, last_error \
                 FROM mail_outbox WHERE sent_at IS NULL AND last_error IS NOT NULL \
                 ORDER BY id DESC LIMIT $1",
            )
            .bind(problems.max(0))
            .fetch_all(&mut *tx)
            .await?;
            (counts, rows)
        });
        Ok(MailStatus {
            pending,
            failed,
            sent,
            problems: rows
                .into_iter()
                .map(queued_mail)
                .collect::<Result<_, _>>()?,
        })
    }

    /// Deletes mail sent before `before`: the outbox is not an archive of personal data.
    /// Returns how many were deleted.
    pub async fn purge_sent_mail(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = mail_time(before);
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM mail_outbox WHERE sent_at IS NOT NULL AND sent_at < $1")
                .bind(before)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(deleted)
    }

    async fn require_mail(&self, id: Uuid) -> Result<(), StoreError> {
        match self.queued_mail(id).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::NotFound {
                what: "queued mail",
                id: id.to_string(),
            }),
        }
    }
}

/// When the attempt after `attempts` failed ones is due, or that the mail is given up.
fn next_attempt(attempts: i64, now: OffsetDateTime) -> MailRetry {
    if attempts >= MAIL_MAX_ATTEMPTS {
        return MailRetry::GivenUp;
    }
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let wait = FIRST_RETRY
        .checked_mul(1 << doublings)
        .map_or(LONGEST_RETRY, |w| w.min(LONGEST_RETRY));
    MailRetry::At(mail_time(now + wait))
}

/// Outbox times are kept to the second: SQLite compares them as RFC 3339 text, which sorts
/// in time order only when every value has the same form.
pub(crate) fn mail_time(now: OffsetDateTime) -> OffsetDateTime {
    let t = crate::timestamp(now);
    t.replace_nanosecond(0).unwrap_or(t)
}

/// Refuses what a mail header or the outbox cannot carry.
pub(crate) fn check_mail(mail: &OutgoingMail) -> Result<(), StoreError> {
    let subject = mail.subject.trim();
    if subject.is_empty() || subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(StoreError::Invalid(format!(
            "a mail needs a subject of 1 to {MAX_SUBJECT_CHARS} characters"
        )));
    }
    if subject.chars().any(char::is_control) {
        return Err(StoreError::Invalid(
            "a mail subject is one line: remove line breaks and tabs from it".into(),
        ));
    }
    if mail.body_text.trim().is_empty() || mail.body_text.len() > MAX_BODY_BYTES {
        return Err(StoreError::Invalid(
            "a mail needs a text of at most 1 MiB".into(),
        ));
    }
    if let Some(url) = &mail.unsubscribe_url {
        let web = url.starts_with("https://") || url.starts_with("http://");
        // ASCII only: a header would encode anything else and break the link.
        let clean = url.is_ascii()
            && !url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"'));
        if !web || !clean || url.len() > MAX_URL_BYTES {
            return Err(StoreError::Invalid(format!(
                "'{url}' cannot be an unsubscribe link: it must be an http(s) URL of at most \
                 {MAX_URL_BYTES} ASCII characters (percent-encode others) without spaces or \
                 angle brackets"
            )));
        }
    }
    Ok(())
}

fn queued_mail(row: Row) -> Result<QueuedMail, StoreError> {
    let (
        id,
        recipient,
        subject,
        body_text,
        activity,
        unsubscribe_url,
        created_at,
        attempts,
        next_attempt_at,
        leased_until,
        sent_at,
        last_error,
    ) = row;
    let to = recipient.parse().map_err(|e| {
        StoreError::Corrupt(format!("queued mail {id} has recipient '{recipient}': {e}"))
    })?;
    Ok(QueuedMail {
        id,
        mail: OutgoingMail {
            to,
            subject,
            body_text,
            activity,
            unsubscribe_url,
        },
        created_at,
        attempts,
        next_attempt_at,
        leased_until,
        sent_at,
        last_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    #[test]
    fn retries_wait_twice_as_long_each_time_then_give_up() {
        let waits: Vec<_> = (1..=MAIL_MAX_ATTEMPTS)
            .map(|n| match next_attempt(n, NOW) {
                MailRetry::At(at) => Some((at - NOW).whole_minutes()),
                MailRetry::GivenUp => None,
            })
            .collect();
        assert_eq!(
            waits,
            [
                Some(1),
                Some(2),
                Some(4),
                Some(8),
                Some(16),
                Some(32),
                Some(64),
                Some(128),
                Some(240),
                Some(240),
                Some(240),
                None
            ]
        );
        assert_eq!(next_attempt(i64::MAX, NOW), MailRetry::GivenUp);
        assert_eq!(next_attempt(0, NOW), MailRetry::At(NOW + FIRST_RETRY));
    }

    /// A change and its mail commit together: when the change fails after the mail was
    /// queued in its transaction, the mail is not queued either.
    async fn mail_rolls_back_with_its_change(store: &Store) {
        let mail = OutgoingMail {
            to: "an@example.be".parse().unwrap(),
            subject: "Uw toestemming is ingetrokken".into(),
            body_text: "U krijgt geen nieuwsbrief meer.".into(),
            activity: Some("nieuwsbrief".into()),
            unsubscribe_url: None,
        };
        let change = async {
            write_transaction!(store, |tx| {
                enqueue_mail!(tx, &mail, NOW);
                // The change the mail reports fails after it.
                Err::<(), _>(StoreError::Invalid("the change failed".into()))?
            });
            Ok::<(), StoreError>(())
        };
        assert!(change.await.is_err());
        let status = store.mail_status(10).await.unwrap();
        assert_eq!((status.pending, status.sent), (0, 0));

        let committed = async {
            let id = write_transaction!(store, |tx| enqueue_mail!(tx, &mail, NOW));
            Ok::<_, StoreError>(id)
        };
        let id = committed.await.unwrap();
        assert_eq!(store.queued_mail(id).await.unwrap().unwrap().mail, mail);
    }

    #[tokio::test]
    async fn mail_rolls_back_with_its_change_on_both_backends() {
        let sqlite = crate::testing::sqlite_store().await;
        mail_rolls_back_with_its_change(&sqlite).await;
        sqlite.cleanup().await;
        if let Some(postgres) = crate::testing::postgres_store().await {
            mail_rolls_back_with_its_change(&postgres).await;
            postgres.cleanup().await;
        }
    }

    #[test]
    fn outbox_times_are_whole_seconds() {
        assert_eq!(mail_time(datetime!(2026-11-23 11:00:00.987654 +01:00)), NOW);
    }

    #[test]
    fn mails_a_header_cannot_carry_are_refused() {
        let good = OutgoingMail {
            to: "an@example.be".parse().unwrap(),
            subject: "Uw inschrijving".into(),
            body_text: "Beste An".into(),
            activity: Some("nieuwsbrief".into()),
            unsubscribe_url: Some("https://kluis.example.be/consent/unsubscribe/abc".into()),
        };
        assert!(check_mail(&good).is_ok());
        let bad = [
            OutgoingMail {
                subject: "Hi\r\nBcc: everyone@example.be".into(),
                ..good.clone()
            },
            OutgoingMail {
                subject: " ".into(),
                ..good.clone()
            },
            OutgoingMail {
                body_text: String::new(),
                ..good.clone()
            },
            OutgoingMail {
                unsubscribe_url: Some("javascript:alert(1)".into()),
                ..good.clone()
            },
            OutgoingMail {
                unsubscribe_url: Some("https://x.be/u>, <mailto:evil@x.be".into()),
                ..good.clone()
            },
            OutgoingMail {
                unsubscribe_url: Some("https://kluis.be/uitschrijven/ë".into()),
                ..good.clone()
            },
        ];
        for mail in bad {
            assert!(
                matches!(check_mail(&mail), Err(StoreError::Invalid(_))),
                "{mail:?}"
            );
        }
    }
}
