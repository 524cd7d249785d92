//! The register of data breaches: the documentation (art. 33(5)), the phases of the
//! notification to the supervisory authority, the art. 34 decision, and the people told.
//!
//! Every change to a breach moves its version, so an If-Match on the whole file catches
//! any change in between. Looking up the people affected reads the inventory and is
//! logged as a search hit per person; a notice to a person, its mail and its
//! processing-log entry commit in the same transaction.

use std::collections::{BTreeMap, BTreeSet};

use kluis_domain::breach::{
    self, AffectedQuery, Art34Decision, AuthorityNotice, BreachChange, BreachFacts, ClockStatus,
    NotificationPhase, RiskLevel,
};
use kluis_domain::category::DataCategory;
use kluis_domain::identifiers::{EmailAddress, IdentifierKind};
use kluis_domain::mail::OutgoingMail;
use kluis_domain::processing_log::{LogAction, NewLogEntry};
use kluis_domain::text::Lang;
use serde::Serialize;
use sqlx::types::Json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::log::{ActivityRef, Processing, append_log};
use crate::{Store, StoreError, new_id, timestamp};

/// A breach as registered, with its notices and the art. 34 decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Breach {
    pub id: Uuid,
    pub facts: BreachFacts,
    /// The phases sent to the supervisory authority, in order.
    pub notices: Vec<StoredNotice>,
    pub art34: Option<StoredArt34Decision>,
    /// How many people a notice was prepared for (see [`Store::notify_affected`]).
    pub people_told: i64,
    /// Of those, how many got their mail: sent by the outbox (sent mail leaves the
    /// outbox after 30 days and still counts).
    pub people_mailed: i64,
    /// People found only in a connected system who were mailed a notice, per system
    /// (see [`Store::notify_system_people`]).
    pub people_told_in_systems: BTreeMap<String, i64>,
    pub version: i64,
    pub created_at: OffsetDateTime,
    pub created_by: String,
    pub updated_at: OffsetDateTime,
    pub updated_by: String,
}

impl Breach {
    /// A short reference for letters and the citizen who reported it: `DL-` and the id's
    /// last eight hex digits (its random part).
    pub fn reference(&self) -> String {
        reference(self.id)
    }

    /// Where the breach stands against the 72-hour clock at `now`.
    pub fn clock(&self, now: OffsetDateTime) -> ClockStatus {
        let notices: Vec<AuthorityNotice> = self.notices.iter().map(|n| n.notice.clone()).collect();
        breach::clock(&self.facts, &notices, now)
    }

    /// Refuses to prepare notices to the people before the decision to tell them
    /// (art. 34): the rule for the vault's people and the systems' alike.
    pub fn require_decision_to_tell(&self) -> Result<(), StoreError> {
        if self.art34.as_ref().is_some_and(|d| d.decision.inform) {
            return Ok(());
        }
        Err(StoreError::Invalid(
            "record the decision to tell the people affected (art. 34) before preparing their \
             notices"
                .into(),
        ))
    }

    /// The notices as the domain knows them.
    pub fn authority_notices(&self) -> Vec<AuthorityNotice> {
        self.notices.iter().map(|n| n.notice.clone()).collect()
    }
}

/// The short reference of breach `id`.
pub fn reference(id: Uuid) -> String {
    let hex = id.simple().to_string();
    format!("DL-{}", hex[hex.len() - 8..].to_uppercase())
}

/// A phase of the notification with who recorded it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNotice {
    pub seq: i64,
    pub notice: AuthorityNotice,
    pub recorded_at: OffsetDateTime,
    pub recorded_by: String,
}

/// The art. 34 decision with who took it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArt34Decision {
    pub decision: Art34Decision,
    pub decided_at: OffsetDateTime,
    pub decided_by: String,
}

/// Which breaches a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BreachFilter {
    /// Only breaches whose file is not closed.
    pub open: bool,
    /// Only breaches not notified whose 72 hours have passed (and not assessed as no risk).
    pub overdue: bool,
}

/// The people a breach concerns, found in the vault.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affected {
    /// Each person once, in id order.
    pub subjects: Vec<Uuid>,
    /// Records that matched, all people together.
    pub records: i64,
    /// People per processing activity.
    pub by_activity: BTreeMap<String, i64>,
    /// The identifiers of the people found (national number and BSN as digits, e-mail in
    /// lower case): to tell whether someone found in a connected system is one of them.
    /// Never shown.
    pub identifiers: BTreeSet<(IdentifierKind, String)>,
}

/// A person a breach search found in a connected system: their identifiers (the first
/// names them in the log) and the categories found.
pub type FoundPerson = (Vec<(IdentifierKind, String)>, BTreeSet<DataCategory>);

/// The purpose the processing log gives every search for the people a breach affects.
pub const BREACH_PURPOSE: &str = "breach handling: documenting a personal data breach and \
     telling the people affected (GDPR art. 33 and 34)";

/// What [`Store::notify_affected`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyOutcome {
    pub affected: Affected,
    /// Mails queued now.
    pub queued: i64,
    /// People without an e-mail address in kluis: recorded, to be told otherwise.
    pub without_email: i64,
    /// Who those people are, for the letter staff send them (in the order of their ids).
    pub to_tell_by_post: Vec<LetterRecipient>,
    /// People told before, left alone.
    pub already_told: i64,
}

/// A person in the vault without an e-mail address, to be told by letter: who they are
/// and the name the vault holds for them (it holds no postal address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LetterRecipient {
    pub subject_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
}

/// A person found only in a connected system, known there by an e-mail address: the
/// notice goes to that address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemRecipient {
    pub system: String,
    /// The processing activities the system serves for the breach: the log's entries.
    pub activities: Vec<String>,
    pub email: EmailAddress,
}

/// What [`Store::notify_system_people`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemNotifyOutcome {
    /// Mails queued now, per system.
    pub queued: BTreeMap<String, i64>,
    /// Addresses told before (or twice in this list), left alone.
    pub already_told: i64,
}

/// People told per transaction: a large breach commits in steps, each with its log.
const NOTIFY_CHUNK: usize = 500;

type BreachRow = (
    Uuid,
    Json<BreachFacts>,
    Option<Json<Art34Decision>>,
    Option<OffsetDateTime>,
    Option<String>,
    i64,
    OffsetDateTime,
    String,
    OffsetDateTime,
    String,
);

const BREACH_COLUMNS: &str = "id, document, art34, art34_decided_at, art34_decided_by, version, \
     created_at, created_by, updated_at, updated_by FROM breaches";

type NoticeRow = (
    i64,
    String,
    OffsetDateTime,
    String,
    Option<String>,
    Option<String>,
    OffsetDateTime,
    String,
);

fn invalid(e: breach::BreachError) -> StoreError {
    StoreError::Invalid(e.to_string())
}

fn not_found(id: Uuid) -> StoreError {
    StoreError::NotFound {
        what: "breach",
        id: id.to_string(),
    }
}

/// The key columns kept next to the document, so lists and the clock need no JSON.
struct KeyColumns {
    aware_at: OffsetDateTime,
    due: OffsetDateTime,
    risk: Option<&'static str>,
    closed_at: Option<OffsetDateTime>,
}

fn key_columns(facts: &BreachFacts) -> KeyColumns {
    KeyColumns {
        aware_at: timestamp(facts.aware_at),
        due: timestamp(facts.notification_due()),
        risk: facts.risk_level().map(RiskLevel::name),
        closed_at: facts.closed_at.map(timestamp),
    }
}

/// The facts as stored: times in UTC microseconds, texts trimmed, so what a write
/// returns equals what a later read returns.
fn normalise(mut facts: BreachFacts) -> BreachFacts {
    facts.detected_at = timestamp(facts.detected_at);
    facts.aware_at = timestamp(facts.aware_at);
    facts.closed_at = facts.closed_at.map(timestamp);
    facts.controller = facts.controller.trim().to_string();
    facts
}

/// Locks breach `$id` inside `$tx` and moves its version (checking `$expected` when
/// given); yields the facts as they were.
macro_rules! lock_breach {
    ($tx:ident, $id:expr, $expected:expr, $actor:expr, $now:expr) => {{
        let id: Uuid = $id;
        let expected: Option<i64> = $expected;
        let row: Option<(Json<BreachFacts>, i64)> = sqlx::query_as(
            "UPDATE breaches SET version = version + 1, updated_at = $2, updated_by = $3 \
             WHERE id = $1 RETURNING document, version - 1",
        )
        .bind(id)
        .bind($now)
        .bind($actor)
        .fetch_optional(&mut *$tx)
        .await?;
        let (Json(facts), version) = row.ok_or_else(|| not_found(id))?;
        if let Some(expected) = expected
            && expected != version
        {
            return Err(crate::error::stale(
                "breach",
                &id.to_string(),
                expected,
                Some(version),
            ));
        }
        facts
    }};
}

impl Store {
    /// Registers a breach, checked against `processing.now`: every breach is documented,
    /// also one that needs no notification.
    pub async fn create_breach(
        &self,
        facts: &BreachFacts,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Breach, StoreError> {
        let now = timestamp(now);
        facts.check(now).map_err(invalid)?;
        let facts = normalise(facts.clone());
        if self.controller(&facts.controller).await?.is_none() {
            return Err(StoreError::Invalid(format!(
                "controller '{}' is not in the register: use the id of a controller in the \
                 register",
                facts.controller
            )));
        }
        let id = new_id(now)?;
        let keys = key_columns(&facts);
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO breaches (id, controller_id, document, aware_at, notification_due, \
                 risk, closed_at, version, created_at, created_by, updated_at, updated_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $9, $8, $9)",
            )
            .bind(id)
            .bind(&facts.controller)
            .bind(Json(&facts))
            .bind(keys.aware_at)
            .bind(keys.due)
            .bind(keys.risk)
            .bind(keys.closed_at)
            .bind(now)
            .bind(actor)
            .execute(pool)
            .await?;
        });
        self.breach(id).await?.ok_or_else(|| not_found(id))
    }

    /// A breach with its notices and decision, or None.
    pub async fn breach(&self, id: Uuid) -> Result<Option<Breach>, StoreError> {
        let row: Option<BreachRow> = on_pool!(self, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {BREACH_COLUMNS} WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(pool)
            .await?
        });
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(self.breach_from_row(row).await?)),
        }
    }

    /// The register of breaches, most recent awareness first.
    pub async fn breaches(
        &self,
        filter: BreachFilter,
        now: OffsetDateTime,
    ) -> Result<Vec<Breach>, StoreError> {
        let rows: Vec<BreachRow> = on_pool!(self, |pool| {
            let mut query = sqlx::QueryBuilder::new(format!("SELECT {BREACH_COLUMNS} WHERE 1 = 1"));
            if filter.open {
                query.push(" AND closed_at IS NULL");
            }
            if filter.overdue {
                query
                    .push(
                        " AND notified_at IS NULL AND (risk IS NULL OR risk <> 'no_risk') \
                         AND notification_due < ",
                    )
                    .push_bind(timestamp(now));
            }
            query.push(" ORDER BY aware_at DESC, id DESC");
            query.build_query_as().fetch_all(pool).await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            out.push(self.breach_from_row(row).await?);
        }
        Ok(out)
    }

    /// Changes a breach whose version is `expected_version`; the result is checked as a
    /// whole (an awareness time in the future is refused, as at creation).
    pub async fn update_breach(
        &self,
        id: Uuid,
        expected_version: i64,
        change: &BreachChange,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Breach, StoreError> {
        let now = timestamp(now);
        write_transaction!(self, |tx| {
            let facts = lock_breach!(tx, id, Some(expected_version), actor, now);
            let changed = normalise(change.apply(&facts));
            changed.check(now).map_err(invalid)?;
            let rows: Vec<NoticeRow> = sqlx::query_as(
                "SELECT seq, phase, sent_at, content, authority_reference, delay_reason, \
                 recorded_at, recorded_by FROM breach_notices WHERE breach_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let notices: Vec<AuthorityNotice> = rows
                .into_iter()
                .map(|r| notice_from_row(r).map(|n| n.notice))
                .collect::<Result<_, _>>()?;
            breach::check_against_notices(&changed, &notices).map_err(invalid)?;
            let keys = key_columns(&changed);
            sqlx::query(
                "UPDATE breaches SET document = $2, aware_at = $3, notification_due = $4, \
                 risk = $5, closed_at = $6 WHERE id = $1",
            )
            .bind(id)
            .bind(Json(&changed))
            .bind(keys.aware_at)
            .bind(keys.due)
            .bind(keys.risk)
            .bind(keys.closed_at)
            .execute(&mut *tx)
            .await?;
        });
        self.breach(id).await?.ok_or_else(|| not_found(id))
    }

    /// Records a phase of the notification to the supervisory authority. The rules (an
    /// initial notice first, reasons when late, none when there is no risk) are checked
    /// against the notices already recorded, under the breach's row lock; with
    /// `expected_version`, only on that version of the breach (`Conflict` otherwise).
    pub async fn record_breach_notice(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        notice: &AuthorityNotice,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Breach, StoreError> {
        let now = timestamp(now);
        let mut notice = notice.clone();
        notice.sent_at = timestamp(notice.sent_at);
        write_transaction!(self, |tx| {
            let facts = lock_breach!(tx, id, expected_version, actor, now);
            let rows: Vec<NoticeRow> = sqlx::query_as(
                "SELECT seq, phase, sent_at, content, authority_reference, delay_reason, \
                 recorded_at, recorded_by FROM breach_notices WHERE breach_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let earlier: Vec<AuthorityNotice> = rows
                .into_iter()
                .map(notice_from_row)
                .map(|n| n.map(|n| n.notice))
                .collect::<Result<_, _>>()?;
            breach::check_notice(&facts, &earlier, &notice, now).map_err(invalid)?;
            let seq = i64::try_from(earlier.len()).unwrap_or(i64::MAX) + 1;
            sqlx::query(
                "INSERT INTO breach_notices (breach_id, seq, phase, sent_at, content, \
                 authority_reference, delay_reason, recorded_at, recorded_by) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id)
            .bind(seq)
            .bind(notice.phase.name())
            .bind(notice.sent_at)
            .bind(notice.content.trim())
            .bind(trimmed(&notice.authority_reference))
            .bind(trimmed(&notice.delay_reason))
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
            if notice.phase == NotificationPhase::Initial {
                sqlx::query("UPDATE breaches SET notified_at = $2 WHERE id = $1")
                    .bind(id)
                    .bind(notice.sent_at)
                    .execute(&mut *tx)
                    .await?;
            }
        });
        self.breach(id).await?.ok_or_else(|| not_found(id))
    }

    /// Records whether the people affected are told, or on which art. 34(3) ground not.
    /// A later decision replaces an earlier one; the version history is the breach's. With
    /// `expected_version`, only on that version of the breach (`Conflict` otherwise).
    pub async fn record_art34_decision(
        &self,
        id: Uuid,
        expected_version: Option<i64>,
        decision: &Art34Decision,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Breach, StoreError> {
        let now = timestamp(now);
        write_transaction!(self, |tx| {
            let facts = lock_breach!(tx, id, expected_version, actor, now);
            breach::check_art34(&facts, decision).map_err(invalid)?;
            sqlx::query(
                "UPDATE breaches SET art34 = $2, art34_decided_at = $3, art34_decided_by = $4 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(Json(decision))
            .bind(now)
            .bind(actor)
            .execute(&mut *tx)
            .await?;
        });
        self.breach(id).await?.ok_or_else(|| not_found(id))
    }

    /// The people in the vault with records under the query's activities and/or of its
    /// data categories, collected in its window; nobody when the query names systems but
    /// not the vault. Each person found is logged as a search hit under the activities
    /// matched, for breach handling, with the breach as case. Connected systems are
    /// searched by the caller (`kluis_connectors::find_affected`), and logged with
    /// [`Store::log_breach_system_hits`].
    pub async fn find_affected(
        &self,
        processing: &Processing,
        breach_id: Uuid,
        query: &AffectedQuery,
    ) -> Result<Affected, StoreError> {
        query.check().map_err(invalid)?;
        if self.breach(breach_id).await?.is_none() {
            return Err(not_found(breach_id));
        }
        if !query.searches_vault() {
            return Ok(Affected::default());
        }
        let hits = self.affected_records(query).await?;
        let mut affected = summarise(&hits);
        let mut entries = Vec::new();
        let by_subject = by_subject(&hits);
        let activities = self.activity_refs_by_id(&hits).await?;
        for (subject, per_activity) in &by_subject {
            let (found, log_subject) = self.subject_for_log(*subject).await?;
            affected.identifiers.extend(found.identity.identifiers());
            for (activity, categories) in per_activity {
                if let Some(activity) = activities.get(activity) {
                    let mut entry = activity.entry(
                        LogAction::SearchHit,
                        log_subject.clone(),
                        categories.iter().map(|c| c.to_string()).collect(),
                        Some(reference(breach_id)),
                    );
                    entry.purpose = BREACH_PURPOSE.into();
                    entries.push(entry);
                }
            }
        }
        self.append_log(processing, entries).await?;
        Ok(affected)
    }

    /// Logs the people a breach search found in a connected system: per person, one
    /// search hit per activity the system serves, for breach handling, with the breach as
    /// case, under the pseudonym of the person's first identifier (`people` gives each
    /// person's identifiers and the categories found).
    pub async fn log_breach_system_hits(
        &self,
        processing: &Processing,
        breach_id: Uuid,
        system: &str,
        activities: &[String],
        people: &[FoundPerson],
    ) -> Result<(), StoreError> {
        let keys = self.keys()?;
        let mut refs = Vec::new();
        for id in activities {
            if let Some(activity) = self.activity(id).await? {
                refs.push(ActivityRef::from_activity(
                    &activity.value,
                    activity.version,
                ));
            }
        }
        let mut entries = Vec::new();
        for (identifiers, categories) in people {
            let Some((kind, value)) = identifiers.first() else {
                continue;
            };
            let pseudonym = (keys.pseudonym(kind.name(), value), kind.name().to_string());
            for activity in &refs {
                let mut entry = activity.entry(
                    LogAction::SearchHit,
                    pseudonym.clone(),
                    categories.iter().map(|c| c.name().to_string()).collect(),
                    Some(reference(breach_id)),
                );
                entry.purpose = BREACH_PURPOSE.into();
                entry.system = system.to_string();
                entries.push(entry);
            }
        }
        self.append_log(processing, entries).await?;
        Ok(())
    }

    /// Prepares the notice to each person affected (art. 34): a mail in their language
    /// (the language of their latest consent, else `default_lang`) queued in the outbox,
    /// or, without an e-mail address, a record that they must be told otherwise. Needs a
    /// recorded decision to tell the people. People told before are left alone, so
    /// running it again after a new lookup tells only those not told yet.
    ///
    /// `texts` holds the (subject, body) of the mail per language.
    pub async fn notify_affected(
        &self,
        processing: &Processing,
        breach_id: Uuid,
        query: &AffectedQuery,
        texts: &BTreeMap<Lang, (String, String)>,
        default_lang: Lang,
    ) -> Result<NotifyOutcome, StoreError> {
        query.check().map_err(invalid)?;
        let now = timestamp(processing.now);
        self.require_decision_to_tell(breach_id).await?;
        if !query.searches_vault() {
            return Ok(NotifyOutcome::default());
        }
        let hits = self.affected_records(query).await?;
        let affected = summarise(&hits);
        let activities = self.activity_refs_by_id(&hits).await?;
        let mut outcome = NotifyOutcome {
            affected,
            ..NotifyOutcome::default()
        };
        let case = Some(reference(breach_id));
        let people: Vec<_> = by_subject(&hits).into_iter().collect();
        for chunk in people.chunks(NOTIFY_CHUNK) {
            let ids: Vec<Uuid> = chunk.iter().map(|(id, _)| *id).collect();
            let told_before = self.told_before(breach_id, &ids).await?;
            let languages = self.consent_languages(&ids).await?;
            // Prepared outside the transaction: identities are decrypted, languages read.
            let mut prepared = Vec::with_capacity(chunk.len());
            for (subject_id, per_activity) in chunk {
                if told_before.contains(subject_id) {
                    outcome.already_told += 1;
                    continue;
                }
                let (subject, log_subject) = self.subject_for_log(*subject_id).await?;
                let lang = languages.get(subject_id).copied().unwrap_or(default_lang);
                let text = texts
                    .get(&lang)
                    .or_else(|| texts.get(&default_lang))
                    .ok_or_else(|| {
                        StoreError::Invalid(format!("no text for the notice in {}", lang.code()))
                    })?;
                let mail = subject.identity.email.clone().map(|to| OutgoingMail {
                    to,
                    subject: text.0.clone(),
                    body_text: text.1.clone(),
                    activity: None,
                    unsubscribe_url: None,
                });
                let entries: Vec<NewLogEntry> = per_activity
                    .keys()
                    .filter_map(|a| activities.get(a))
                    .map(|a| {
                        a.entry(
                            LogAction::Create,
                            log_subject.clone(),
                            vec![DataCategory::Contact.name().to_string()],
                            case.clone(),
                        )
                    })
                    .collect();
                // Without an address: who they are, for the letter.
                let letter = mail.is_none().then(|| LetterRecipient {
                    subject_id: *subject_id,
                    given_name: subject.identity.given_name.clone(),
                    family_name: subject.identity.family_name.clone(),
                });
                prepared.push((*subject_id, lang, mail, letter, entries));
            }
            // One transaction per chunk: the notices, their mail and their log entries
            // commit together, or none of them does.
            if prepared.is_empty() {
                continue;
            }
            let (queued, by_post, already) = write_transaction!(self, |tx| {
                let (mut queued, mut by_post, mut already) = (0i64, Vec::new(), 0i64);
                let mut entries = Vec::new();
                // Checked again under the write lock: a run in between may have told some.
                let mut check = sqlx::QueryBuilder::new(
                    "SELECT subject_id FROM breach_subject_notices WHERE breach_id = ",
                );
                check.push_bind(breach_id).push(" AND subject_id IN (");
                let mut list = check.separated(", ");
                for id in &ids {
                    list.push_bind(*id);
                }
                check.push(")");
                let told_meanwhile: BTreeSet<Uuid> = check
                    .build_query_scalar()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                for (subject_id, lang, mail, letter, subject_entries) in prepared {
                    if told_meanwhile.contains(&subject_id) {
                        already += 1;
                        continue;
                    }
                    let mail_id = match &mail {
                        Some(mail) => {
                            queued += 1;
                            Some(crate::mail::enqueue_mail!(tx, mail, now))
                        }
                        None => {
                            by_post.extend(letter);
                            None
                        }
                    };
                    sqlx::query(
                        "INSERT INTO breach_subject_notices (breach_id, subject_id, language, \
                         mail_id, queued_at, queued_by) VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(breach_id)
                    .bind(subject_id)
                    .bind(lang.code())
                    .bind(mail_id)
                    .bind(now)
                    .bind(&processing.actor.name)
                    .execute(&mut *tx)
                    .await?;
                    entries.extend(subject_entries);
                }
                append_log!(tx, processing, entries);
                (queued, by_post, already)
            });
            outcome.queued += queued;
            outcome.without_email += i64::try_from(by_post.len()).unwrap_or(i64::MAX);
            outcome.to_tell_by_post.extend(by_post);
            outcome.already_told += already;
        }
        Ok(outcome)
    }

    /// Mails the notice (art. 34) to people found only in a connected system, in
    /// `lang`, through the outbox: one mail per address and breach, however often this
    /// runs, as the address's pseudonym is recorded with the system (never the address).
    /// Needs a recorded decision to tell the people, as [`Store::notify_affected`] does.
    /// Each mail is logged under the activities its system serves, for the address's
    /// pseudonym, with the breach as case.
    pub async fn notify_system_people(
        &self,
        processing: &Processing,
        breach_id: Uuid,
        recipients: &[SystemRecipient],
        text: &(String, String),
        lang: Lang,
    ) -> Result<SystemNotifyOutcome, StoreError> {
        let now = timestamp(processing.now);
        self.require_decision_to_tell(breach_id).await?;
        let keys = self.keys()?;
        let mut refs: BTreeMap<String, ActivityRef> = BTreeMap::new();
        for id in recipients.iter().flat_map(|r| &r.activities) {
            if !refs.contains_key(id)
                && let Some(activity) = self.activity(id).await?
            {
                refs.insert(
                    id.clone(),
                    ActivityRef::from_activity(&activity.value, activity.version),
                );
            }
        }
        let case = Some(reference(breach_id));
        let mut outcome = SystemNotifyOutcome::default();
        let mut seen = BTreeSet::new();
        for chunk in recipients.chunks(NOTIFY_CHUNK) {
            // Prepared outside the transaction: pseudonyms, mails and log entries.
            let mut prepared = Vec::with_capacity(chunk.len());
            for r in chunk {
                let pseudonym = keys.pseudonym(
                    IdentifierKind::Email.name(),
                    &r.email.as_str().to_lowercase(),
                );
                if !seen.insert(pseudonym.clone()) {
                    outcome.already_told += 1;
                    continue;
                }
                let mail = OutgoingMail {
                    to: r.email.clone(),
                    subject: text.0.clone(),
                    body_text: text.1.clone(),
                    activity: None,
                    unsubscribe_url: None,
                };
                let entries: Vec<NewLogEntry> = r
                    .activities
                    .iter()
                    .filter_map(|a| refs.get(a))
                    .map(|a| {
                        let mut entry = a.entry(
                            LogAction::Create,
                            (pseudonym.clone(), IdentifierKind::Email.name().to_string()),
                            vec![DataCategory::Contact.name().to_string()],
                            case.clone(),
                        );
                        entry.system = r.system.clone();
                        entry
                    })
                    .collect();
                prepared.push((pseudonym, &r.system, mail, entries));
            }
            if prepared.is_empty() {
                continue;
            }
            // The mails, their records and their log entries commit together; addresses
            // told before, also by a run in between, are checked under the write lock.
            let (queued, already) = write_transaction!(self, |tx| {
                let mut check = sqlx::QueryBuilder::new(
                    "SELECT address_pseudonym FROM breach_system_notices WHERE breach_id = ",
                );
                check
                    .push_bind(breach_id)
                    .push(" AND address_pseudonym IN (");
                let mut list = check.separated(", ");
                for (pseudonym, ..) in &prepared {
                    list.push_bind(pseudonym.clone());
                }
                check.push(")");
                let told: BTreeSet<String> = check
                    .build_query_scalar()
                    .fetch_all(&mut *tx)
                    .await?
                    .into_iter()
                    .collect();
                let mut queued: BTreeMap<String, i64> = BTreeMap::new();
                let mut already = 0i64;
                let mut entries = Vec::new();
                for (pseudonym, system, mail, mail_entries) in prepared {
                    if told.contains(&pseudonym) {
                        already += 1;
                        continue;
                    }
                    let mail_id = crate::mail::enqueue_mail!(tx, &mail, now);
                    sqlx::query(
                        "INSERT INTO breach_system_notices (breach_id, address_pseudonym, \
                         system, language, mail_id, queued_at, queued_by) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(breach_id)
                    .bind(&pseudonym)
                    .bind(system.as_str())
                    .bind(lang.code())
                    .bind(mail_id)
                    .bind(now)
                    .bind(&processing.actor.name)
                    .execute(&mut *tx)
                    .await?;
                    *queued.entry(system.clone()).or_default() += 1;
                    entries.extend(mail_entries);
                }
                append_log!(tx, processing, entries);
                (queued, already)
            });
            for (system, n) in queued {
                *outcome.queued.entry(system).or_default() += n;
            }
            outcome.already_told += already;
        }
        Ok(outcome)
    }

    /// Refuses to prepare notices before the decision to tell the people (art. 34).
    async fn require_decision_to_tell(&self, breach_id: Uuid) -> Result<(), StoreError> {
        self.breach(breach_id)
            .await?
            .ok_or_else(|| not_found(breach_id))?
            .require_decision_to_tell()
    }

    /// (subject, activity, category) of every record matching the query, without logging.
    async fn affected_records(
        &self,
        query: &AffectedQuery,
    ) -> Result<Vec<(Uuid, String, String)>, StoreError> {
        Ok(on_pool!(self, |pool| {
            let mut sql = sqlx::QueryBuilder::new(
                "SELECT subject_id, activity_id, category FROM records WHERE 1 = 1",
            );
            if !query.activities.is_empty() {
                sql.push(" AND activity_id IN (");
                let mut list = sql.separated(", ");
                for a in &query.activities {
                    list.push_bind(a.clone());
                }
                sql.push(")");
            }
            if !query.data_categories.is_empty() {
                sql.push(" AND category IN (");
                let mut list = sql.separated(", ");
                for c in &query.data_categories {
                    list.push_bind(c.name());
                }
                sql.push(")");
            }
            if let Some(from) = query.collected_from {
                sql.push(" AND collected_on >= ").push_bind(from);
            }
            if let Some(until) = query.collected_until {
                sql.push(" AND collected_on <= ").push_bind(until);
            }
            sql.push(" ORDER BY subject_id, activity_id");
            sql.build_query_as().fetch_all(pool).await?
        }))
    }

    async fn activity_refs_by_id(
        &self,
        hits: &[(Uuid, String, String)],
    ) -> Result<BTreeMap<String, ActivityRef>, StoreError> {
        let ids: BTreeSet<&str> = hits.iter().map(|h| h.1.as_str()).collect();
        let mut out = BTreeMap::new();
        for id in ids {
            if let Some(activity) = self.activity(id).await? {
                out.insert(
                    id.to_string(),
                    ActivityRef::from_activity(&activity.value, activity.version),
                );
            }
        }
        Ok(out)
    }

    /// The language each person last gave consent in: the language they read kluis in.
    async fn consent_languages(
        &self,
        subjects: &[Uuid],
    ) -> Result<BTreeMap<Uuid, Lang>, StoreError> {
        if subjects.is_empty() {
            return Ok(BTreeMap::new());
        }
        let rows: Vec<(Uuid, String, OffsetDateTime)> = on_pool!(self, |pool| {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT c.subject_id, e.language, e.at FROM consent_events e \
                 JOIN consents c ON c.id = e.consent_id \
                 WHERE e.language IS NOT NULL AND c.subject_id IN (",
            );
            let mut list = query.separated(", ");
            for id in subjects {
                list.push_bind(*id);
            }
            query.push(")");
            query.build_query_as().fetch_all(pool).await?
        });
        let mut latest: BTreeMap<Uuid, (OffsetDateTime, Lang)> = BTreeMap::new();
        for (subject, code, at) in rows {
            let Some(lang) = Lang::ALL.into_iter().find(|l| l.code() == code) else {
                continue;
            };
            if latest.get(&subject).is_none_or(|(seen, _)| at > *seen) {
                latest.insert(subject, (at, lang));
            }
        }
        Ok(latest
            .into_iter()
            .map(|(id, (_, lang))| (id, lang))
            .collect())
    }

    /// Which of these people were told about the breach before.
    async fn told_before(
        &self,
        breach_id: Uuid,
        subjects: &[Uuid],
    ) -> Result<BTreeSet<Uuid>, StoreError> {
        if subjects.is_empty() {
            return Ok(BTreeSet::new());
        }
        let told: Vec<Uuid> = on_pool!(self, |pool| {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT subject_id FROM breach_subject_notices WHERE breach_id = ",
            );
            query.push_bind(breach_id).push(" AND subject_id IN (");
            let mut list = query.separated(", ");
            for id in subjects {
                list.push_bind(*id);
            }
            query.push(")");
            query.build_query_scalar().fetch_all(pool).await?
        });
        Ok(told.into_iter().collect())
    }

    async fn breach_from_row(&self, row: BreachRow) -> Result<Breach, StoreError> {
        let (
            id,
            Json(facts),
            art34,
            decided_at,
            decided_by,
            version,
            created_at,
            created_by,
            updated_at,
            updated_by,
        ) = row;
        let rows: Vec<NoticeRow> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT seq, phase, sent_at, content, authority_reference, delay_reason, \
                 recorded_at, recorded_by FROM breach_notices WHERE breach_id = $1 ORDER BY seq",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        let notices = rows
            .into_iter()
            .map(notice_from_row)
            .collect::<Result<_, _>>()?;
        let people_told: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM breach_subject_notices WHERE breach_id = $1")
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        let people_mailed: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM breach_subject_notices n WHERE n.breach_id = $1 \
                 AND n.mail_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM mail_outbox m \
                 WHERE m.id = n.mail_id AND m.sent_at IS NULL)",
            )
            .bind(id)
            .fetch_one(pool)
            .await?
        });
        let per_system: Vec<(String, i64)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT system, COUNT(*) FROM breach_system_notices WHERE breach_id = $1 \
                 GROUP BY system ORDER BY system",
            )
            .bind(id)
            .fetch_all(pool)
            .await?
        });
        let art34 = match (art34, decided_at, decided_by) {
            (Some(Json(decision)), Some(decided_at), Some(decided_by)) => {
                Some(StoredArt34Decision {
                    decision,
                    decided_at,
                    decided_by,
                })
            }
            (None, _, _) => None,
            _ => {
                return Err(StoreError::Corrupt(format!(
                    "breach {id}: an art. 34 decision without its time or author"
                )));
            }
        };
        Ok(Breach {
            id,
            facts,
            notices,
            art34,
            people_told,
            people_mailed,
            people_told_in_systems: per_system.into_iter().collect(),
            version,
            created_at,
            created_by,
            updated_at,
            updated_by,
        })
    }
}

fn trimmed(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn notice_from_row(row: NoticeRow) -> Result<StoredNotice, StoreError> {
    let (seq, phase, sent_at, content, authority_reference, delay_reason, recorded_at, recorded_by) =
        row;
    Ok(StoredNotice {
        seq,
        notice: AuthorityNotice {
            phase: phase
                .parse()
                .map_err(|e| StoreError::Corrupt(format!("a stored notice phase: {e}")))?,
            sent_at,
            content,
            authority_reference,
            delay_reason,
        },
        recorded_at,
        recorded_by,
    })
}

/// Categories matched per activity, per person.
fn by_subject(
    hits: &[(Uuid, String, String)],
) -> BTreeMap<Uuid, BTreeMap<String, BTreeSet<String>>> {
    let mut out: BTreeMap<Uuid, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (subject, activity, category) in hits {
        out.entry(*subject)
            .or_default()
            .entry(activity.clone())
            .or_default()
            .insert(category.clone());
    }
    out
}

fn summarise(hits: &[(Uuid, String, String)]) -> Affected {
    let grouped = by_subject(hits);
    let mut by_activity: BTreeMap<String, i64> = BTreeMap::new();
    for per_activity in grouped.values() {
        for activity in per_activity.keys() {
            *by_activity.entry(activity.clone()).or_default() += 1;
        }
    }
    Affected {
        subjects: grouped.keys().copied().collect(),
        records: i64::try_from(hits.len()).unwrap_or(i64::MAX),
        by_activity,
        identifiers: BTreeSet::new(),
    }
}
