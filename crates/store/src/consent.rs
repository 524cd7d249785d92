//! The consent ledger: consent per data subject and purpose, its history, withdrawal by
//! every channel, and the fast "may purpose P use person X now?" check.
//!
//! Giving and withdrawing write their processing-log entry in their own transaction. The
//! current state lives on `consents` so a check is one indexed lookup; `consent_events` keeps
//! every step, only ever inserted.

use kluis_domain::category::DataCategory;
use kluis_domain::consent::{
    self, ConsentEventKind, ConsentFacts, ConsentGiven, ConsentLink, ConsentMethod, ConsentState,
    GivenBy, LinkError, WithdrawalChannel,
};
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::processing_log::{ActorKind, LogAction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use kluis_domain::access::Role;
use sqlx::types::Json;

use crate::accounts::{User, api_token_hash};
use crate::log::{ActivityRef, Processing, append_log};
use crate::vault::load_activity;
use crate::{Store, StoreError, new_id, timestamp};

/// One consent of one person for one purpose, with its history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub activity: String,
    /// As of the moment it was read: a consent past its end of validity is `Expired`.
    pub state: ConsentState,
    pub valid_until: Option<Date>,
    /// The number of the last given or renewed event, which unsubscribe links name.
    pub last_given_event: i64,
    pub events: Vec<StoredConsentEvent>,
}

/// A step in a consent's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConsentEvent {
    pub seq: i64,
    pub kind: ConsentEventKind,
    pub at: OffsetDateTime,
    /// What was agreed and how (given and renewed events).
    pub given: Option<ConsentGiven>,
    pub given_by: Option<GivenBy>,
    pub guardian: Option<Uuid>,
    /// Where the person withdrew (withdrawn events).
    pub channel: Option<WithdrawalChannel>,
    pub actor_kind: ActorKind,
    pub actor_name: String,
}

/// The outcome of a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub consent: Consent,
    /// False when the consent was already withdrawn: withdrawing is idempotent.
    pub changed: bool,
}

/// Whom a consent check asks about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentSubject {
    Id(Uuid),
    Email(EmailAddress),
}

/// The answer for one person: whether the purpose may use their data now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentAnswer {
    pub allowed: bool,
    /// `None` when the person never consented to the purpose (or is unknown).
    pub state: Option<ConsentState>,
    pub valid_until: Option<Date>,
    /// The consent, when there is one (to mint an unsubscribe link).
    pub consent_id: Option<Uuid>,
    pub last_given_event: Option<i64>,
}

/// A consent check for the holder of an API token: who it is, whether they are assigned
/// to the purpose, and the answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConsentCheck {
    pub user: User,
    /// Whether the user is assigned to the purpose (need-to-know).
    pub assigned: bool,
    /// The processing activities' revision as read with the answers: what the caller knows
    /// about the purpose is current if it was learnt at this revision.
    pub activities_revision: i64,
    /// One per person, in the order asked.
    pub answers: Vec<ConsentAnswer>,
}

/// One consent row for a check: id, state, valid until, last given event.
type CheckRow = (Uuid, String, Option<Date>, i64);

/// The token's id and last use, its user, whether the user is assigned to the purpose, the
/// activities' revision, then a consent of the first person (all NULL when there is none).
type TokenCheckRow = (
    Uuid,
    Option<OffsetDateTime>,
    Uuid,
    String,
    String,
    Json<Vec<Role>>,
    bool,
    bool,
    i64,
    Option<Uuid>,
    Option<String>,
    Option<Date>,
    Option<i64>,
);

/// The consents of one person for purpose `$1`, the person by data subject id `$2`.
macro_rules! consent_by_subject {
    () => {
        "SELECT id, state, valid_until, last_given_event FROM consents \
         WHERE activity_id = $1 AND subject_id = $2"
    };
}

/// The consents of the people with e-mail address `$2` for purpose `$1` (several people may
/// share an address). CROSS JOIN makes SQLite find the people by address first and then
/// their consent by (subject, purpose); without statistics (kluis never runs ANALYZE) it
/// would otherwise walk every consent of the purpose. PostgreSQL plans it as any join.
macro_rules! consent_by_email {
    () => {
        "SELECT c.id, c.state, c.valid_until, c.last_given_event \
         FROM data_subjects s CROSS JOIN consents c \
         WHERE c.subject_id = s.id AND c.activity_id = $1 AND s.email = $2"
    };
}

/// The user of the API token whose hash is `$3` (no row when the token is unknown, revoked
/// or its user disabled), whether that user is assigned to purpose `$1`, the activities'
/// revision, and the consents for `$1` that `$join` (one of the two below) finds for person
/// `$2`: NULLs when there are none. Plain LEFT JOINs, so SQLite walks the indexes in this
/// order and builds no temporary table.
macro_rules! with_token {
    ($join:expr) => {
        concat!(
            "SELECT t.id, t.last_used_at, u.id, u.username, u.display_name, u.roles, \
             u.disabled, \
             EXISTS (SELECT 1 FROM staff_assignments a \
                     WHERE a.user_id = u.id AND a.activity_id = $1), \
             (SELECT r.revision FROM revisions r WHERE r.name = 'activities'), \
             c.id, c.state, c.valid_until, c.last_given_event \
             FROM api_tokens t JOIN users u ON u.id = t.user_id ",
            $join,
            " WHERE t.token_hash = $3 AND NOT t.revoked AND NOT u.disabled"
        )
    };
}

/// For [`with_token!`]: the person by data subject id.
macro_rules! join_by_subject {
    () => {
        "LEFT JOIN consents c ON c.subject_id = $2 AND c.activity_id = $1"
    };
}

/// For [`with_token!`]: the people with e-mail address `$2`; someone known without consent
/// to the purpose gives a row of NULLs too.
macro_rules! join_by_email {
    () => {
        "LEFT JOIN data_subjects s ON s.email = $2 \
         LEFT JOIN consents c ON c.subject_id = s.id AND c.activity_id = $1"
    };
}

/// The [`CheckRow`]s of one person, on connection `$conn`.
macro_rules! consent_rows {
    ($conn:expr, $activity:expr, $person:expr) => {{
        let rows: Vec<CheckRow> = match $person {
            ConsentSubject::Id(id) => {
                sqlx::query_as(consent_by_subject!())
                    .bind($activity)
                    .bind(*id)
                    .fetch_all($conn)
                    .await?
            }
            ConsentSubject::Email(email) => {
                sqlx::query_as(consent_by_email!())
                    .bind($activity)
                    .bind(email.as_str())
                    .fetch_all($conn)
                    .await?
            }
        };
        rows
    }};
}

type ConsentRow = (Uuid, Uuid, String, String, Option<Date>, i64);
const CONSENT_COLUMNS: &str =
    "id, subject_id, activity_id, state, valid_until, last_given_event FROM consents";

type EventRow = (
    i64,
    String,
    OffsetDateTime,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<Date>,
    Option<String>,
    Option<Uuid>,
    Option<String>,
    String,
    String,
);
const EVENT_COLUMNS: &str = "seq, kind, at, method, notice_text, language, statement_version, \
     evidence, valid_until, given_by, guardian_id, channel, actor_kind, actor_name \
     FROM consent_events";

/// The state to store and answer with, as of `now`.
fn effective_state(
    stored: ConsentState,
    valid_until: Option<Date>,
    now: OffsetDateTime,
) -> ConsentState {
    if stored.allows_processing() && !consent::allows(stored, valid_until, now) {
        ConsentState::Expired
    } else {
        stored
    }
}

fn parse<T: std::str::FromStr>(what: &str, value: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("a stored {what} is not valid: {e}")))
}

fn event_from_row(row: EventRow) -> Result<StoredConsentEvent, StoreError> {
    let (
        seq,
        kind,
        at,
        method,
        notice,
        language,
        version,
        evidence,
        until,
        by,
        guardian,
        channel,
        actor_kind,
        actor_name,
    ) = row;
    let given = match (method, notice, language, evidence) {
        (Some(method), Some(notice_text), Some(language), Some(evidence)) => Some(ConsentGiven {
            method: parse::<ConsentMethod>("consent method", &method)?,
            affirmative_act: true,
            notice_text,
            language: serde_json::from_value(serde_json::Value::String(language))
                .map_err(|e| StoreError::Corrupt(format!("a stored language is not valid: {e}")))?,
            statement_version: version,
            evidence,
            valid_until: until,
        }),
        _ => None,
    };
    let given_by = match by.as_deref() {
        None => None,
        Some("subject") => Some(GivenBy::Subject),
        Some("guardian") => Some(GivenBy::Guardian),
        Some(other) => {
            return Err(StoreError::Corrupt(format!(
                "a stored 'given by' is not valid: {other}"
            )));
        }
    };
    Ok(StoredConsentEvent {
        seq,
        kind: parse("consent event", &kind)?,
        at,
        given,
        given_by,
        guardian,
        channel: channel
            .map(|c| parse("withdrawal channel", &c))
            .transpose()?,
        actor_kind: parse("actor kind", &actor_kind)?,
        actor_name,
    })
}

fn given_by_name(by: GivenBy) -> &'static str {
    match by {
        GivenBy::Subject => "subject",
        GivenBy::Guardian => "guardian",
    }
}

/// Inserts one event of consent `$id` numbered `$seq`.
macro_rules! insert_event {
    ($tx:ident, $id:expr, $seq:expr, $kind:expr, $now:expr, $given:expr, $by:expr, $guardian:expr, $channel:expr, $processing:expr) => {{
        let given: Option<&ConsentGiven> = $given;
        let processing: &Processing = $processing;
        sqlx::query(
            "INSERT INTO consent_events (consent_id, seq, kind, at, method, notice_text, \
             language, statement_version, evidence, valid_until, given_by, guardian_id, \
             channel, actor_kind, actor_name) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind($id)
        .bind($seq)
        .bind(ConsentEventKind::name($kind))
        .bind($now)
        .bind(given.map(|g| g.method.name()))
        .bind(given.map(|g| g.notice_text.clone()))
        .bind(given.map(|g| g.language.code()))
        .bind(given.and_then(|g| g.statement_version))
        .bind(given.map(|g| g.evidence.clone()))
        .bind(given.and_then(|g| g.valid_until))
        .bind($by.map(given_by_name))
        .bind($guardian)
        .bind($channel.map(WithdrawalChannel::name))
        .bind(processing.actor.kind.name())
        .bind(processing.actor.name.clone())
        .execute(&mut *$tx)
        .await?;
    }};
}

impl Store {
    /// Records that a person (or their parent or guardian) consents to a purpose. Giving
    /// again while consent is valid renews it; giving after a withdrawal starts anew, and
    /// the history keeps both.
    pub async fn give_consent(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        activity_id: &str,
        given: &ConsentGiven,
        guardian: Option<Uuid>,
    ) -> Result<Consent, StoreError> {
        let now = timestamp(processing.now);
        let (subject, log_subject) = self.subject_for_log(subject_id).await?;
        let given_by = if guardian.is_some() {
            GivenBy::Guardian
        } else {
            GivenBy::Subject
        };
        let facts = ConsentFacts {
            subject_is_child: subject.identity.is_child_on(now.date()),
            given_by,
            guardian_is_recorded: guardian.is_some_and(|g| subject.guardians.contains(&g)),
        };
        let new_consent_id = new_id(now)?;
        let consent_id = write_transaction!(self, |tx| {
            let (activity, version) = load_activity!(tx, activity_id);
            given
                .check(&activity, facts, now.date())
                .map_err(|e| StoreError::Invalid(e.to_string()))?;
            let mut given = given.clone();
            if given.statement_version.is_none() {
                given.statement_version = sqlx::query_scalar(
                    "SELECT MAX(version) FROM statement_versions \
                     WHERE controller_id = $1 AND effective_date <= $2",
                )
                .bind(&activity.controller)
                .bind(now.date())
                .fetch_one(&mut *tx)
                .await?;
            }
            let existing: Option<(Uuid, String, Option<Date>, i64)> = sqlx::query_as(
                "SELECT id, state, valid_until, events FROM consents \
                 WHERE subject_id = $1 AND activity_id = $2",
            )
            .bind(subject_id)
            .bind(&activity.id)
            .fetch_optional(&mut *tx)
            .await?;
            let (id, seq, kind) = match existing {
                Some((id, state, valid_until, events)) => {
                    let state = effective_state(parse("consent state", &state)?, valid_until, now);
                    (id, events + 1, consent::next_given_kind(Some(state)))
                }
                None => (new_consent_id, 1, ConsentEventKind::Given),
            };
            let state = match kind {
                ConsentEventKind::Renewed => ConsentState::Renewed,
                _ => ConsentState::Given,
            };
            if seq == 1 {
                sqlx::query(
                    "INSERT INTO consents (id, subject_id, activity_id, state, valid_until, \
                     last_given_event, events, updated_at) VALUES ($1, $2, $3, $4, $5, 1, 1, $6)",
                )
                .bind(id)
                .bind(subject_id)
                .bind(&activity.id)
                .bind(state.name())
                .bind(given.valid_until)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            } else {
                sqlx::query(
                    "UPDATE consents SET state = $2, valid_until = $3, last_given_event = $4, \
                     events = $4, updated_at = $5 WHERE id = $1",
                )
                .bind(id)
                .bind(state.name())
                .bind(given.valid_until)
                .bind(seq)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
            insert_event!(
                tx,
                id,
                seq,
                kind,
                now,
                Some(&given),
                Some(given_by),
                guardian,
                None::<WithdrawalChannel>,
                processing
            );
            let action = if seq == 1 {
                LogAction::Create
            } else {
                LogAction::Update
            };
            let entry = ActivityRef::from_activity(&activity, version).entry(
                action,
                log_subject,
                vec![DataCategory::Identification.name().to_string()],
                processing.case_ref.clone(),
            );
            append_log!(tx, processing, vec![entry]);
            id
        });
        self.consent_unlogged(consent_id, now)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a consent vanished while recording it".into()))
    }

    /// Withdraws a consent. Withdrawing what is already withdrawn changes nothing and is
    /// not an error: a person clicking twice, or a mail scanner, must not see a failure.
    pub async fn withdraw_consent(
        &self,
        processing: &Processing,
        consent_id: Uuid,
        channel: WithdrawalChannel,
    ) -> Result<Withdrawal, StoreError> {
        self.withdraw(processing, consent_id, None, channel).await
    }

    /// Withdraws the consent a one-click link names, if the link was made for the consent
    /// as it stands: a link from before a later "given" is refused as superseded.
    pub async fn withdraw_by_link(
        &self,
        processing: &Processing,
        consent_id: Uuid,
        given_event: i64,
    ) -> Result<Result<Withdrawal, LinkError>, StoreError> {
        match self
            .withdraw(
                processing,
                consent_id,
                Some(given_event),
                WithdrawalChannel::OneClick,
            )
            .await
        {
            Ok(withdrawal) => Ok(Ok(withdrawal)),
            Err(StoreError::NotFound {
                what: "consent", ..
            }) => Ok(Err(LinkError::Invalid)),
            Err(StoreError::Invalid(message)) if message == SUPERSEDED => {
                Ok(Err(LinkError::Superseded))
            }
            Err(e) => Err(e),
        }
    }

    async fn withdraw(
        &self,
        processing: &Processing,
        consent_id: Uuid,
        link_given_event: Option<i64>,
        channel: WithdrawalChannel,
    ) -> Result<Withdrawal, StoreError> {
        let now = timestamp(processing.now);
        let not_found = || StoreError::NotFound {
            what: "consent",
            id: consent_id.to_string(),
        };
        let (subject_id, _) = self
            .consent_owner(consent_id)
            .await?
            .ok_or_else(not_found)?;
        let subject = self
            .subject_unlogged(subject_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a consent of an unknown data subject".into()))?;
        let log_subject = self.log_subject(&subject.identity)?;
        let changed = write_transaction!(self, |tx| {
            let row: Option<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT activity_id, state, last_given_event, events FROM consents WHERE id = $1",
            )
            .bind(consent_id)
            .fetch_optional(&mut *tx)
            .await?;
            let (activity_id, state, last_given, events) = row.ok_or_else(not_found)?;
            if link_given_event.is_some_and(|given| given != last_given) {
                return Err(StoreError::Invalid(SUPERSEDED.into()));
            }
            if parse::<ConsentState>("consent state", &state)? == ConsentState::Withdrawn {
                false
            } else {
                let (activity, version) = load_activity!(tx, &activity_id);
                let seq = events + 1;
                sqlx::query(
                    "UPDATE consents SET state = $2, events = $3, updated_at = $4 WHERE id = $1",
                )
                .bind(consent_id)
                .bind(ConsentState::Withdrawn.name())
                .bind(seq)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                insert_event!(
                    tx,
                    consent_id,
                    seq,
                    ConsentEventKind::Withdrawn,
                    now,
                    None,
                    None::<GivenBy>,
                    None::<Uuid>,
                    Some(channel),
                    processing
                );
                let entry = ActivityRef::from_activity(&activity, version).entry(
                    LogAction::Update,
                    log_subject,
                    vec![DataCategory::Identification.name().to_string()],
                    processing.case_ref.clone(),
                );
                append_log!(tx, processing, vec![entry]);
                true
            }
        });
        let consent = self
            .consent_unlogged(consent_id, now)
            .await?
            .ok_or_else(not_found)?;
        Ok(Withdrawal { consent, changed })
    }

    /// Withdraws every consent for `activity` of the people known by `email` (the portal,
    /// after the person confirmed the address). Returns what was withdrawn.
    pub async fn withdraw_for_email(
        &self,
        processing: &Processing,
        email: &EmailAddress,
        activity: &str,
        channel: WithdrawalChannel,
    ) -> Result<Vec<Withdrawal>, StoreError> {
        let ids: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                // CROSS JOIN: the people by address first (see `consent_by_email!`).
                "SELECT c.id FROM data_subjects s CROSS JOIN consents c \
                 WHERE c.subject_id = s.id AND s.email = $1 AND c.activity_id = $2 \
                 ORDER BY c.id",
            )
            .bind(email.as_str())
            .bind(activity)
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.withdraw_consent(processing, id, channel).await?);
        }
        Ok(out)
    }

    /// A consent with its history, for staff (the caller checks need-to-know on its
    /// activity) and for the ISO/IEC TS 27560 export.
    pub async fn consent(
        &self,
        processing: &Processing,
        id: Uuid,
    ) -> Result<Option<Consent>, StoreError> {
        let Some(consent) = self.consent_unlogged(id, processing.now).await? else {
            return Ok(None);
        };
        self.log_consent_reads(
            processing,
            consent.subject_id,
            std::slice::from_ref(&consent),
        )
        .await?;
        Ok(Some(consent))
    }

    /// Every consent of a data subject, with history; logged as a read per activity.
    pub async fn consents_of_subject(
        &self,
        processing: &Processing,
        subject_id: Uuid,
    ) -> Result<Vec<Consent>, StoreError> {
        let ids: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM consents WHERE subject_id = $1 ORDER BY activity_id")
                .bind(subject_id)
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(consent) = self.consent_unlogged(id, processing.now).await? {
                out.push(consent);
            }
        }
        self.log_consent_reads(processing, subject_id, &out).await?;
        Ok(out)
    }

    /// Every consent of the people known by `email`: what the portal shows the person who
    /// confirmed that address.
    pub async fn consents_of_email(
        &self,
        processing: &Processing,
        email: &EmailAddress,
    ) -> Result<Vec<Consent>, StoreError> {
        let subjects: Vec<Uuid> = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT id FROM data_subjects WHERE email = $1 ORDER BY id")
                .bind(email.as_str())
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::new();
        for subject in subjects {
            out.extend(self.consents_of_subject(processing, subject).await?);
        }
        Ok(out)
    }

    /// Whether `activity` may use each person's data now, in the order asked. Not logged:
    /// the caller already holds the address and learns only yes or no.
    pub async fn check_consent(
        &self,
        activity: &str,
        people: &[ConsentSubject],
        now: OffsetDateTime,
    ) -> Result<Vec<ConsentAnswer>, StoreError> {
        on_pool!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let mut out = Vec::with_capacity(people.len());
            for person in people {
                out.push(answer(consent_rows!(&mut *conn, activity, person), now)?);
            }
            Ok(out)
        })
    }

    /// [`Store::check_consent`] for the holder of API token `secret`, together with what
    /// authorising the check needs, in one query for the first person (and one more per
    /// further person, on the same connection): a check is one database round trip.
    ///
    /// None when the token is unknown or revoked or its user disabled. The answers are read
    /// before the caller decides whether the user may have them: the caller must refuse
    /// (permission, [`TokenConsentCheck::assigned`]) before showing any.
    pub async fn check_consent_with_token(
        &self,
        secret: &str,
        activity: &str,
        people: &[ConsentSubject],
        now: OffsetDateTime,
    ) -> Result<Option<TokenConsentCheck>, StoreError> {
        let Some((first, rest)) = people.split_first() else {
            return Err(StoreError::Invalid(
                "a consent check asks about at least one person".into(),
            ));
        };
        let Some(hash) = api_token_hash(secret) else {
            return Ok(None);
        };
        let (rows, rest): (Vec<TokenCheckRow>, Vec<ConsentAnswer>) = on_pool!(self, |pool| {
            let mut conn = pool.acquire().await?;
            let rows: Vec<TokenCheckRow> = match first {
                ConsentSubject::Id(id) => {
                    sqlx::query_as(with_token!(join_by_subject!()))
                        .bind(activity)
                        .bind(*id)
                        .bind(&hash)
                        .fetch_all(&mut *conn)
                        .await?
                }
                ConsentSubject::Email(email) => {
                    sqlx::query_as(with_token!(join_by_email!()))
                        .bind(activity)
                        .bind(email.as_str())
                        .bind(&hash)
                        .fetch_all(&mut *conn)
                        .await?
                }
            };
            let mut answers = Vec::with_capacity(rest.len());
            if !rows.is_empty() {
                for person in rest {
                    answers.push(answer(consent_rows!(&mut *conn, activity, person), now)?);
                }
            }
            (rows, answers)
        });
        let Some(head) = rows.first() else {
            return Ok(None);
        };
        let (token_id, last_used, assigned, activities_revision) = (head.0, head.1, head.7, head.8);
        let user = User {
            id: head.2,
            username: head.3.clone(),
            display_name: head.4.clone(),
            roles: head.5.0.clone(),
            disabled: head.6,
        };
        self.note_token_use(token_id, last_used, now).await?;
        // Rows of NULLs (the LEFT JOINs) stand for no consent.
        let first = rows
            .into_iter()
            .filter_map(|r| Some((r.9?, r.10?, r.11, r.12?)))
            .collect();
        let first = answer(first, now)?;
        Ok(Some(TokenConsentCheck {
            user,
            assigned,
            activities_revision,
            answers: std::iter::once(first).chain(rest).collect(),
        }))
    }

    /// The e-mail addresses that `activity` may use now: the mailing-list filter.
    ///
    /// The database joins them into one text (addresses hold no line breaks): handing a
    /// million rows to sqlx one by one costs several times what the query itself does.
    pub async fn consented_emails(
        &self,
        activity: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let today = now.date();
        let joined: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT string_agg(s.email, $3) \
                 FROM consents c JOIN data_subjects s ON s.id = c.subject_id \
                 WHERE c.activity_id = $1 AND c.state IN ('given', 'renewed') \
                 AND (c.valid_until IS NULL OR c.valid_until >= $2) AND s.email IS NOT NULL",
            )
            .bind(activity)
            .bind(today)
            .bind("\n")
            .fetch_one(pool)
            .await?
        });
        Ok(joined
            .map(|all| all.split('\n').map(str::to_string).collect())
            .unwrap_or_default())
    }

    /// A signed link that withdraws `consent` as it stands now.
    pub fn unsubscribe_link(
        &self,
        consent: &Consent,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        self.unsubscribe_token(consent.id, consent.last_given_event, now)
    }

    /// A signed link that withdraws consent `consent_id` as given in event `given_event`.
    pub fn unsubscribe_token(
        &self,
        consent_id: Uuid,
        given_event: i64,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let link = ConsentLink::Unsubscribe {
            consent: *consent_id.as_bytes(),
            given_event,
            expires_at: (now + time::Duration::days(consent::UNSUBSCRIBE_LINK_DAYS))
                .unix_timestamp(),
        };
        Ok(self.keys()?.sign_link(&link.to_payload()))
    }

    /// A signed link to the portal for a confirmed e-mail address, valid for a short while.
    pub fn portal_link(
        &self,
        email: &EmailAddress,
        now: OffsetDateTime,
    ) -> Result<String, StoreError> {
        let link = ConsentLink::Portal {
            email: email.as_str().to_string(),
            expires_at: (now + time::Duration::minutes(consent::PORTAL_LINK_MINUTES))
                .unix_timestamp(),
        };
        // Sealed, so the address does not stand readable in the URL, browser histories
        // and proxy logs; the link lives an hour, so a key rotation cannot strand it.
        let keys = self.keys()?;
        let mut sealed = vec![SEALED_LINK];
        sealed.extend(
            keys.encrypt(PORTAL_LINK_AAD, &link.to_payload())
                .map_err(|e| StoreError::Corrupt(format!("cannot seal a portal link: {e}")))?,
        );
        Ok(keys.sign_link(&sealed))
    }

    /// What a link lets its holder do, or why it is refused.
    pub fn open_link(
        &self,
        token: &str,
        now: OffsetDateTime,
    ) -> Result<Result<ConsentLink, LinkError>, StoreError> {
        let keys = self.keys()?;
        let Some(payload) = keys.open_link(token) else {
            return Ok(Err(LinkError::Invalid));
        };
        let payload = match payload.split_first() {
            Some((&SEALED_LINK, sealed)) => match keys.decrypt(PORTAL_LINK_AAD, sealed) {
                Ok(plain) => plain,
                Err(_) => return Ok(Err(LinkError::Invalid)),
            },
            _ => payload,
        };
        Ok(ConsentLink::from_payload(&payload, now))
    }

    /// A consent as a link shows it, without a log entry: the page names only the purpose,
    /// and mail scanners open such links without the person doing anything.
    pub async fn consent_behind_link(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<Consent>, StoreError> {
        self.consent_unlogged(id, now).await
    }

    /// Where mail about `consent` goes: the parent or guardian who gave it, else the
    /// person; `None` when kluis knows no address.
    pub async fn consent_mail_address(
        &self,
        consent: &Consent,
    ) -> Result<Option<EmailAddress>, StoreError> {
        let giver = consent
            .events
            .iter()
            .rev()
            .find(|e| e.given.is_some())
            .and_then(|e| e.guardian)
            .unwrap_or(consent.subject_id);
        Ok(self
            .subject_unlogged(giver)
            .await?
            .and_then(|s| s.identity.email))
    }

    /// The pseudonym the processing log knows a data subject by.
    pub async fn subject_log_pseudonym(&self, subject_id: Uuid) -> Result<String, StoreError> {
        Ok(self.subject_for_log(subject_id).await?.1.0)
    }

    /// Whether any data subject has this e-mail address: the portal then mails it a link.
    /// Not logged: the answer goes only to the address itself, never to whoever asked.
    pub async fn email_is_known(&self, email: &EmailAddress) -> Result<bool, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM data_subjects WHERE email = $1")
                .bind(email.as_str())
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }

    /// The e-mail address of the person who holds a consent, if known: to confirm a
    /// withdrawal to the person who just made it (the withdrawal's log entry covers it).
    pub async fn consent_email(
        &self,
        consent_id: Uuid,
    ) -> Result<Option<EmailAddress>, StoreError> {
        let email: Option<Option<String>> = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT s.email FROM consents c JOIN data_subjects s ON s.id = c.subject_id \
                 WHERE c.id = $1",
            )
            .bind(consent_id)
            .fetch_optional(pool)
            .await?
        });
        email
            .flatten()
            .map(|e| {
                e.parse().map_err(|_| {
                    StoreError::Corrupt("a data subject's stored e-mail address is invalid".into())
                })
            })
            .transpose()
    }

    async fn consent_owner(&self, id: Uuid) -> Result<Option<(Uuid, String)>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as("SELECT subject_id, activity_id FROM consents WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        }))
    }

    /// A consent and its history, without logging.
    pub(crate) async fn consent_unlogged(
        &self,
        id: Uuid,
        now: OffsetDateTime,
    ) -> Result<Option<Consent>, StoreError> {
        let (row, events): (Option<ConsentRow>, Vec<EventRow>) = read_transaction!(self, |tx| {
            let row: Option<ConsentRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {CONSENT_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            let events: Vec<EventRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {EVENT_COLUMNS} WHERE consent_id = $1 ORDER BY seq"
            )))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            (row, events)
        });
        let Some((id, subject_id, activity, state, valid_until, last_given_event)) = row else {
            return Ok(None);
        };
        Ok(Some(Consent {
            id,
            subject_id,
            activity,
            state: effective_state(parse("consent state", &state)?, valid_until, now),
            valid_until,
            last_given_event,
            events: events
                .into_iter()
                .map(event_from_row)
                .collect::<Result<_, _>>()?,
        }))
    }

    /// One read entry per activity whose consent was shown.
    async fn log_consent_reads(
        &self,
        processing: &Processing,
        subject_id: Uuid,
        consents: &[Consent],
    ) -> Result<(), StoreError> {
        if consents.is_empty() {
            return Ok(());
        }
        let subject = self
            .subject_unlogged(subject_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("a consent of an unknown data subject".into()))?;
        let log_subject = self.log_subject(&subject.identity)?;
        let mut entries = Vec::with_capacity(consents.len());
        for consent in consents {
            let (activity, version) = self.activity_for_log(&consent.activity).await?;
            entries.push(ActivityRef::from_activity(&activity, version).entry(
                LogAction::Read,
                log_subject.clone(),
                vec![DataCategory::Identification.name().to_string()],
                processing.case_ref.clone(),
            ));
        }
        self.append_log(processing, entries).await?;
        Ok(())
    }

    async fn activity_for_log(
        &self,
        id: &str,
    ) -> Result<(kluis_domain::register::ProcessingActivity, i64), StoreError> {
        Ok(read_transaction!(self, |tx| load_activity!(tx, id)))
    }
}

/// The first byte of a link payload that is encrypted (portal links carry an address).
const SEALED_LINK: u8 = b'S';
const PORTAL_LINK_AAD: &[u8] = b"kluis consent portal link";

/// The withdraw error that [`Store::withdraw_by_link`] turns into [`LinkError::Superseded`].
const SUPERSEDED: &str = "the link was made for an earlier consent";

fn answer(rows: Vec<CheckRow>, now: OffsetDateTime) -> Result<ConsentAnswer, StoreError> {
    let mut best = ConsentAnswer {
        allowed: false,
        state: None,
        valid_until: None,
        consent_id: None,
        last_given_event: None,
    };
    // Several people may share an address; one valid consent among them answers yes.
    for (id, state, valid_until, last_given) in rows {
        let state = effective_state(parse("consent state", &state)?, valid_until, now);
        if best.state.is_none() || state.allows_processing() {
            best = ConsentAnswer {
                allowed: state.allows_processing(),
                state: Some(state),
                valid_until,
                consent_id: Some(id),
                last_given_event: Some(last_given),
            };
        }
        if best.allowed {
            break;
        }
    }
    Ok(best)
}
