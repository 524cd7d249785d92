//! The data-breach register (GDPR art. 33 and 34): what the DPO documents about every
//! breach, the 72-hour clock for notifying the supervisory authority, notification in
//! phases, the decision to tell the people affected, and the draft of the authority's form.
//!
//! Every breach is documented (art. 33(5)), also when it is unlikely to result in a risk
//! and nobody has to be notified.

use std::collections::BTreeSet;

use serde::{Deserialize, Deserializer, Serialize};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

use crate::access::Role;
use crate::category::{DataCategory, SpecialCategory, SubjectCategory};
use crate::i18n;
use crate::legal::SupervisoryAuthority;
use crate::register::Controller;
use crate::text::Lang;
use crate::vocabulary;

/// The controller notifies the supervisory authority within 72 hours after becoming
/// aware of the breach (art. 33(1)).
pub const NOTIFICATION_WINDOW: Duration = Duration::hours(72);

/// How long before the deadline the clock warns that the notification is due soon.
pub const DUE_SOON: Duration = Duration::hours(24);

/// Longest free text kluis keeps in one field of a breach: a form field, not a report.
pub const MAX_TEXT_CHARS: usize = 20_000;

vocabulary! {
    /// The risk to the rights and freedoms of the people affected (art. 33(1), 34(1)).
    pub enum RiskLevel: "breach_risk" {
        /// Unlikely to result in a risk: documented, not notified.
        NoRisk = "no_risk",
        /// A risk: the supervisory authority is notified.
        Risk = "risk",
        /// A high risk: the authority is notified and the people are told.
        HighRisk = "high_risk",
    }
}

vocabulary! {
    /// Why the people affected need not be told despite a high risk (art. 34(3)).
    pub enum Art34Ground: "art34_ground" {
        /// (a) The data was unintelligible to anyone not authorised, e.g. encrypted.
        Unintelligible = "unintelligible",
        /// (b) Measures taken afterwards ensure the high risk is no longer likely.
        RiskRemoved = "risk_removed",
        /// (c) Telling each person would take disproportionate effort: a public
        /// communication informs them instead.
        DisproportionateEffort = "disproportionate_effort",
    }
}

impl Art34Ground {
    /// The article point, as the authority writes it.
    pub fn article(self) -> &'static str {
        match self {
            Art34Ground::Unintelligible => "art. 34(3)(a)",
            Art34Ground::RiskRemoved => "art. 34(3)(b)",
            Art34Ground::DisproportionateEffort => "art. 34(3)(c)",
        }
    }
}

vocabulary! {
    /// A phase of the notification to the supervisory authority (art. 33(4)).
    pub enum NotificationPhase: "breach_phase" {
        /// The first notice, within 72 hours, with what is known then.
        Initial = "initial",
        /// Further information, provided in phases without undue further delay.
        Supplement = "supplement",
    }
}

vocabulary! {
    /// Where a breach stands against the 72-hour clock.
    pub enum ClockStatus: "breach_clock" {
        /// Assessed as unlikely to result in a risk: no notification needed.
        NotRequired = "not_required",
        /// Not notified yet, and more than a day left.
        NotDue = "not_due",
        /// Not notified yet, and less than a day left.
        DueSoon = "due_soon",
        /// Not notified, and the 72 hours have passed.
        Overdue = "overdue",
        /// Notified within the 72 hours.
        Notified = "notified",
        /// Notified after the 72 hours, with the reasons for the delay.
        NotifiedLate = "notified_late",
    }
}

/// Who reported the breach to the controller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReportedBy {
    /// A staff member (their user name or name).
    Staff { name: String },
    /// A citizen, through the portal or otherwise (e.g. post received by the wrong
    /// person); how to reach them, if they said.
    Citizen {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        contact: Option<String>,
    },
    /// A processor, which must tell the controller without undue delay (art. 33(2)).
    Processor { name: String },
}

/// The risk assessment with its reasons (art. 33(5) asks for the facts and the effects).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskAssessment {
    pub level: RiskLevel,
    pub reasons: String,
}

/// What the controller documents about a breach (art. 33(5), with the contents of a
/// notification of art. 33(3)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachFacts {
    /// The controller (register id) whose data was breached.
    pub controller: String,
    /// When the breach was detected by anyone.
    #[serde(with = "time::serde::rfc3339")]
    pub detected_at: OffsetDateTime,
    /// When the controller became aware with reasonable certainty that personal data was
    /// breached: the 72-hour clock starts here.
    #[serde(with = "time::serde::rfc3339")]
    pub aware_at: OffsetDateTime,
    pub reported_by: ReportedBy,
    /// What happened: the nature of the breach.
    pub description: String,
    #[serde(default)]
    pub data_categories: BTreeSet<DataCategory>,
    #[serde(default)]
    pub special_categories: BTreeSet<SpecialCategory>,
    #[serde(default)]
    pub subject_categories: BTreeSet<SubjectCategory>,
    /// Approximate number of people concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approx_subjects: Option<u64>,
    /// Approximate number of personal data records concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approx_records: Option<u64>,
    /// The likely consequences of the breach.
    #[serde(default)]
    pub consequences: String,
    /// Measures taken to address the breach and mitigate its effects.
    #[serde(default)]
    pub measures_taken: String,
    /// Measures proposed but not yet taken.
    #[serde(default)]
    pub measures_proposed: String,
    /// None until the breach is assessed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<RiskAssessment>,
    /// When the DPO closed the file; None while the breach is open.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub closed_at: Option<OffsetDateTime>,
}

/// A change to a breach: only the fields given change. `null` clears an optional field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreachChange {
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub detected_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub aware_at: Option<OffsetDateTime>,
    #[serde(default)]
    pub reported_by: Option<ReportedBy>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub data_categories: Option<BTreeSet<DataCategory>>,
    #[serde(default)]
    pub special_categories: Option<BTreeSet<SpecialCategory>>,
    #[serde(default)]
    pub subject_categories: Option<BTreeSet<SubjectCategory>>,
    #[serde(default, deserialize_with = "present")]
    pub approx_subjects: Option<Option<u64>>,
    #[serde(default, deserialize_with = "present")]
    pub approx_records: Option<Option<u64>>,
    #[serde(default)]
    pub consequences: Option<String>,
    #[serde(default)]
    pub measures_taken: Option<String>,
    #[serde(default)]
    pub measures_proposed: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub risk: Option<Option<RiskAssessment>>,
    #[serde(default, deserialize_with = "present_time")]
    pub closed_at: Option<Option<OffsetDateTime>>,
}

/// A field that is present in the body, possibly `null`: `Some(None)` clears it.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn present_time<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<OffsetDateTime>>, D::Error> {
    time::serde::rfc3339::option::deserialize(d).map(Some)
}

impl BreachChange {
    /// The facts with this change applied; the caller checks them.
    pub fn apply(&self, facts: &BreachFacts) -> BreachFacts {
        let mut f = facts.clone();
        let c = self.clone();
        if let Some(v) = c.detected_at {
            f.detected_at = v;
        }
        if let Some(v) = c.aware_at {
            f.aware_at = v;
        }
        if let Some(v) = c.reported_by {
            f.reported_by = v;
        }
        if let Some(v) = c.description {
            f.description = v;
        }
        if let Some(v) = c.data_categories {
            f.data_categories = v;
        }
        if let Some(v) = c.special_categories {
            f.special_categories = v;
        }
        if let Some(v) = c.subject_categories {
            f.subject_categories = v;
        }
        if let Some(v) = c.approx_subjects {
            f.approx_subjects = v;
        }
        if let Some(v) = c.approx_records {
            f.approx_records = v;
        }
        if let Some(v) = c.consequences {
            f.consequences = v;
        }
        if let Some(v) = c.measures_taken {
            f.measures_taken = v;
        }
        if let Some(v) = c.measures_proposed {
            f.measures_proposed = v;
        }
        if let Some(v) = c.risk {
            f.risk = v;
        }
        if let Some(v) = c.closed_at {
            f.closed_at = v;
        }
        f
    }
}

/// One phase of the notification to the supervisory authority, as it was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorityNotice {
    pub phase: NotificationPhase,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    /// What was sent (or a summary of it).
    pub content: String,
    /// The authority's case number, once it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority_reference: Option<String>,
    /// Why the initial notice came after the 72 hours (art. 33(1)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_reason: Option<String>,
}

/// Whether the people affected are told, and if not, on which ground (art. 34).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Art34Decision {
    /// Tell each person affected.
    pub inform: bool,
    /// Why people are not told despite a high risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ground: Option<Art34Ground>,
    pub reasons: String,
    /// Where and how the public was informed instead (ground (c)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_communication: Option<String>,
}

/// Which people a breach concerns, looked up in the inventory: records under these
/// activities and/or of these data categories, collected in the window (both ends
/// included), in the vault and in the connected systems serving the activities.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AffectedQuery {
    #[serde(default)]
    pub activities: BTreeSet<String>,
    #[serde(default)]
    pub data_categories: BTreeSet<DataCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_from: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collected_until: Option<Date>,
    /// Only these places, by name: connected systems, and [`VAULT`] for kluis's own
    /// records. Every place when empty.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub systems: BTreeSet<String>,
}

/// The name the vault goes by among the systems, as in the processing log.
pub const VAULT: &str = "kluis";

impl AffectedQuery {
    /// Whether the vault is searched: when no system is named, or it is.
    pub fn searches_vault(&self) -> bool {
        self.systems.is_empty() || self.systems.contains(VAULT)
    }

    /// Whether connected systems are searched: unless the vault is the only place named.
    pub fn searches_systems(&self) -> bool {
        !(self.systems.len() == 1 && self.systems.contains(VAULT))
    }
}

/// A breach documentation or notification that breaks a rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BreachError {
    #[error("{0} is empty: describe it")]
    Missing(&'static str),
    #[error("{field} is longer than {max} characters: summarise it and keep the rest in the file")]
    TooLong { field: &'static str, max: usize },
    #[error(
        "the moment of awareness ({aware_at}) is in the future (now is {now}): enter when the \
         controller actually became aware of the breach"
    )]
    AwareInFuture { aware_at: String, now: String },
    #[error(
        "the moment of detection ({detected_at}) is in the future (now is {now}): enter when \
         the breach was actually detected"
    )]
    DetectedInFuture { detected_at: String, now: String },
    #[error(
        "the moment of awareness ({aware_at}) is before the breach was detected \
         ({detected_at}): the controller becomes aware at or after detection"
    )]
    AwareBeforeDetected {
        aware_at: String,
        detected_at: String,
    },
    #[error("the file cannot be closed before awareness or in the future: {0}")]
    BadClosing(String),
    #[error("the risk assessment needs its reasons")]
    RiskWithoutReasons,
    #[error(
        "the breach was assessed as unlikely to result in a risk, so the supervisory authority \
         is not notified (art. 33(1)); change the risk assessment first if that was wrong"
    )]
    NotificationNotNeeded,
    #[error("the notice was sent at {sent_at}, which is {problem}")]
    BadNoticeTime {
        sent_at: String,
        problem: &'static str,
    },
    #[error(
        "the authority was already notified: record further information as a supplement \
         (art. 33(4))"
    )]
    AlreadyNotified,
    #[error("record the initial notice before a supplement")]
    SupplementBeforeInitial,
    #[error(
        "the initial notice was sent {late} after the 72-hour deadline ({due}): give the \
         reasons for the delay (art. 33(1))"
    )]
    LateWithoutReason { due: String, late: String },
    #[error("assess the risk before deciding whether to tell the people affected (art. 34)")]
    NotAssessed,
    #[error(
        "the risk is high, so the people affected must be told (art. 34(1)) unless a ground \
         of art. 34(3) applies: set inform to true, or give the ground (unintelligible, \
         risk_removed or disproportionate_effort)"
    )]
    HighRiskNeedsGround,
    #[error(
        "either tell the people (inform: true) or record an art. 34(3) ground for not \
         telling them, not both"
    )]
    InformAndGround,
    #[error(
        "ground (c), disproportionate effort, requires a public communication instead: say \
         where and how the public was informed"
    )]
    PublicCommunicationMissing,
    #[error(
        "say which people are affected: give at least one processing activity, data \
         category or system"
    )]
    EmptyQuery,
    #[error("the time window ends ({until}) before it starts ({from})")]
    BadWindow { from: Date, until: Date },
    #[error("controller '{0}' names no supervisory authority in the register: add one first")]
    NoAuthority(String),
    #[error("controller '{controller}' is not supervised by {authority}: choose one of {allowed}")]
    NotTheControllersAuthority {
        controller: String,
        authority: SupervisoryAuthority,
        allowed: String,
    },
    #[error("the form of {authority} is in {allowed}; {asked} is not offered")]
    LanguageNotOffered {
        authority: SupervisoryAuthority,
        asked: &'static str,
        allowed: String,
    },
}

/// Who may record and change breaches: the DPO and administrators.
pub fn may_record(roles: &[Role]) -> bool {
    roles.iter().any(|r| matches!(r, Role::Dpo | Role::Admin))
}

/// Who may read the register of breaches: those who record, and auditors.
pub fn may_read(roles: &[Role]) -> bool {
    may_record(roles) || roles.contains(&Role::Auditor)
}

/// A moment as a person reads it in the register: `2026-11-23 10:00 UTC`.
pub fn show_time(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// A duration as hours and minutes: `5 h 30 min`.
fn show_duration(d: Duration) -> String {
    let minutes = d.whole_minutes().max(0);
    format!("{} h {} min", minutes / 60, minutes % 60)
}

fn text(field: &'static str, value: &str, required: bool) -> Result<(), BreachError> {
    if required && value.trim().is_empty() {
        return Err(BreachError::Missing(field));
    }
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(BreachError::TooLong {
            field,
            max: MAX_TEXT_CHARS,
        });
    }
    Ok(())
}

impl BreachFacts {
    /// When the supervisory authority must have been notified: 72 hours after awareness.
    pub fn notification_due(&self) -> OffsetDateTime {
        self.aware_at + NOTIFICATION_WINDOW
    }

    pub fn risk_level(&self) -> Option<RiskLevel> {
        self.risk.as_ref().map(|r| r.level)
    }

    /// Whether the file is still open.
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// Checks the documentation as of `now`: times in order and not in the future, the
    /// texts that must be there, a risk level with its reasons.
    pub fn check(&self, now: OffsetDateTime) -> Result<(), BreachError> {
        text("controller", &self.controller, true)?;
        text("description", &self.description, true)?;
        text("consequences", &self.consequences, false)?;
        text("measures_taken", &self.measures_taken, false)?;
        text("measures_proposed", &self.measures_proposed, false)?;
        if self.detected_at > now {
            return Err(BreachError::DetectedInFuture {
                detected_at: show_time(self.detected_at),
                now: show_time(now),
            });
        }
        if self.aware_at > now {
            return Err(BreachError::AwareInFuture {
                aware_at: show_time(self.aware_at),
                now: show_time(now),
            });
        }
        if self.aware_at < self.detected_at {
            return Err(BreachError::AwareBeforeDetected {
                aware_at: show_time(self.aware_at),
                detected_at: show_time(self.detected_at),
            });
        }
        match &self.reported_by {
            ReportedBy::Staff { name } | ReportedBy::Processor { name } => {
                text("reported_by.name", name, true)?
            }
            ReportedBy::Citizen { contact } => text(
                "reported_by.contact",
                contact.as_deref().unwrap_or(""),
                false,
            )?,
        }
        if let Some(risk) = &self.risk {
            if risk.reasons.trim().is_empty() {
                return Err(BreachError::RiskWithoutReasons);
            }
            text("risk.reasons", &risk.reasons, true)?;
        }
        if let Some(closed) = self.closed_at
            && (closed < self.aware_at || closed > now)
        {
            return Err(BreachError::BadClosing(show_time(closed)));
        }
        Ok(())
    }
}

/// The initial notice among the phases sent, if any.
pub fn initial_notice(notices: &[AuthorityNotice]) -> Option<&AuthorityNotice> {
    notices
        .iter()
        .find(|n| n.phase == NotificationPhase::Initial)
}

/// Where the breach stands against the 72-hour clock at `now`.
pub fn clock(facts: &BreachFacts, notices: &[AuthorityNotice], now: OffsetDateTime) -> ClockStatus {
    let due = facts.notification_due();
    if let Some(initial) = initial_notice(notices) {
        return if initial.sent_at > due {
            ClockStatus::NotifiedLate
        } else {
            ClockStatus::Notified
        };
    }
    if facts.risk_level() == Some(RiskLevel::NoRisk) {
        ClockStatus::NotRequired
    } else if now > due {
        ClockStatus::Overdue
    } else if now > due - DUE_SOON {
        ClockStatus::DueSoon
    } else {
        ClockStatus::NotDue
    }
}

/// Checks a phase of the notification before it is recorded after `earlier` ones.
pub fn check_notice(
    facts: &BreachFacts,
    earlier: &[AuthorityNotice],
    notice: &AuthorityNotice,
    now: OffsetDateTime,
) -> Result<(), BreachError> {
    text("content", &notice.content, true)?;
    text(
        "delay_reason",
        notice.delay_reason.as_deref().unwrap_or(""),
        false,
    )?;
    if facts.risk_level() == Some(RiskLevel::NoRisk) {
        return Err(BreachError::NotificationNotNeeded);
    }
    let bad_time = |problem| BreachError::BadNoticeTime {
        sent_at: show_time(notice.sent_at),
        problem,
    };
    if notice.sent_at > now {
        return Err(bad_time("in the future"));
    }
    if notice.sent_at < facts.aware_at {
        return Err(bad_time("before the controller became aware of the breach"));
    }
    match notice.phase {
        NotificationPhase::Initial => {
            if initial_notice(earlier).is_some() {
                return Err(BreachError::AlreadyNotified);
            }
            let due = facts.notification_due();
            let has_reason = notice
                .delay_reason
                .as_deref()
                .is_some_and(|r| !r.trim().is_empty());
            if notice.sent_at > due && !has_reason {
                return Err(BreachError::LateWithoutReason {
                    due: show_time(due),
                    late: show_duration(notice.sent_at - due),
                });
            }
        }
        NotificationPhase::Supplement => {
            let Some(last) = earlier.iter().map(|n| n.sent_at).max() else {
                return Err(BreachError::SupplementBeforeInitial);
            };
            if notice.sent_at < last {
                return Err(bad_time("before the previous phase was sent"));
            }
        }
    }
    Ok(())
}

/// Checks that a changed file still fits the notices already sent: none of them may come
/// before the moment of awareness.
pub fn check_against_notices(
    facts: &BreachFacts,
    notices: &[AuthorityNotice],
) -> Result<(), BreachError> {
    match notices.iter().map(|n| n.sent_at).min() {
        Some(first) if first < facts.aware_at => Err(BreachError::BadNoticeTime {
            sent_at: show_time(first),
            problem: "before the new moment of awareness: the authority was notified, so the \
                      controller was aware by then",
        }),
        _ => Ok(()),
    }
}

/// Checks the decision whether to tell the people affected (art. 34).
pub fn check_art34(facts: &BreachFacts, decision: &Art34Decision) -> Result<(), BreachError> {
    text("reasons", &decision.reasons, true)?;
    text(
        "public_communication",
        decision.public_communication.as_deref().unwrap_or(""),
        false,
    )?;
    let Some(level) = facts.risk_level() else {
        return Err(BreachError::NotAssessed);
    };
    if decision.inform && decision.ground.is_some() {
        return Err(BreachError::InformAndGround);
    }
    if !decision.inform && level == RiskLevel::HighRisk && decision.ground.is_none() {
        return Err(BreachError::HighRiskNeedsGround);
    }
    if decision.ground == Some(Art34Ground::DisproportionateEffort)
        && decision
            .public_communication
            .as_deref()
            .is_none_or(|p| p.trim().is_empty())
    {
        return Err(BreachError::PublicCommunicationMissing);
    }
    Ok(())
}

/// Whether the people affected still have to be told: a high risk and no decision that
/// exempts them (a decision to inform keeps them "to be told" until mail is queued).
pub fn people_must_be_told(facts: &BreachFacts, decision: Option<&Art34Decision>) -> bool {
    facts.risk_level() == Some(RiskLevel::HighRisk) && decision.is_none_or(|d| d.inform)
}

impl AffectedQuery {
    pub fn check(&self) -> Result<(), BreachError> {
        if self.activities.is_empty() && self.data_categories.is_empty() && self.systems.is_empty()
        {
            return Err(BreachError::EmptyQuery);
        }
        if let (Some(from), Some(until)) = (self.collected_from, self.collected_until)
            && until < from
        {
            return Err(BreachError::BadWindow { from, until });
        }
        Ok(())
    }
}

/// One field of the authority's notification form, with its label in the form's
/// language and the value kluis fills in from the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DraftField {
    /// A stable name for programs: the same for every authority.
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
}

/// A draft of the notification to the supervisory authority, to copy into its form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotificationDraft {
    pub authority: SupervisoryAuthority,
    pub language: Lang,
    pub title: &'static str,
    /// Where the authority takes notifications.
    pub website: &'static str,
    pub fields: Vec<DraftField>,
}

/// The languages each authority's form is offered in; the first is the default.
pub fn form_languages(authority: SupervisoryAuthority) -> &'static [Lang] {
    match authority {
        SupervisoryAuthority::Gba => &[Lang::Nl, Lang::Fr],
        SupervisoryAuthority::Vtc | SupervisoryAuthority::Ap => &[Lang::Nl],
    }
}

/// Which form: the GBA's in Dutch or French, the VTC's, the AP's.
#[derive(Clone, Copy)]
enum Form {
    GbaNl = 0,
    GbaFr = 1,
    Vtc = 2,
    Ap = 3,
}

/// The form's fields in order: key and label per form (GBA nl, GBA fr, VTC, AP), worded
/// as each authority words its own form.
const FIELDS: &[(&str, [&str; 4])] = &[
    (
        "notification_type",
        [
            "Type melding",
            "Type de notification",
            "Soort melding",
            "Soort melding",
        ],
    ),
    (
        "controller",
        [
            "Verwerkingsverantwoordelijke",
            "Responsable du traitement",
            "Naam van de instantie",
            "Naam organisatie",
        ],
    ),
    (
        "controller_address",
        ["Adres", "Adresse", "Adres", "Adres organisatie"],
    ),
    (
        "enterprise_number",
        [
            "Ondernemingsnummer",
            "Numéro d'entreprise",
            "KBO-nummer",
            "KvK-nummer",
        ],
    ),
    (
        "dpo_contact",
        [
            "Contactpunt: functionaris voor gegevensbescherming",
            "Point de contact : délégué à la protection des données",
            "Contactgegevens van de functionaris voor gegevensbescherming",
            "Contactpersoon (functionaris gegevensbescherming)",
        ],
    ),
    (
        "detected_at",
        [
            "Datum en uur van ontdekking",
            "Date et heure de la découverte",
            "Datum en tijdstip van ontdekking",
            "Datum ontdekking",
        ],
    ),
    (
        "aware_at",
        [
            "Datum en uur waarop u kennis kreeg van het gegevenslek",
            "Date et heure de la prise de connaissance de la fuite de données",
            "Datum en tijdstip waarop de instantie kennis kreeg van het gegevenslek",
            "Datum waarop u zich bewust werd van het datalek",
        ],
    ),
    (
        "reported_by",
        ["Gemeld door", "Signalé par", "Gemeld door", "Ontdekt door"],
    ),
    (
        "delay_reason",
        [
            "Reden van laattijdige melding",
            "Motifs du retard de la notification",
            "Reden waarom niet binnen 72 uur gemeld werd",
            "Reden te late melding",
        ],
    ),
    (
        "description",
        [
            "Aard van het gegevenslek",
            "Nature de la fuite de données",
            "Beschrijving van het gegevenslek",
            "Samenvatting van het incident",
        ],
    ),
    (
        "data_categories",
        [
            "Categorieën van persoonsgegevens",
            "Catégories de données à caractère personnel",
            "Categorieën van persoonsgegevens",
            "Soort persoonsgegevens",
        ],
    ),
    (
        "special_categories",
        [
            "Bijzondere categorieën van persoonsgegevens",
            "Catégories particulières de données",
            "Gevoelige persoonsgegevens",
            "Bijzondere persoonsgegevens",
        ],
    ),
    (
        "subject_categories",
        [
            "Categorieën van betrokkenen",
            "Catégories de personnes concernées",
            "Categorieën van betrokkenen",
            "Soort betrokkenen",
        ],
    ),
    (
        "approx_subjects",
        [
            "Geschat aantal betrokkenen",
            "Nombre approximatif de personnes concernées",
            "Geschat aantal betrokkenen",
            "Aantal betrokken personen (bij benadering)",
        ],
    ),
    (
        "approx_records",
        [
            "Geschat aantal registraties van persoonsgegevens",
            "Nombre approximatif d'enregistrements concernés",
            "Geschat aantal registraties",
            "Aantal records (bij benadering)",
        ],
    ),
    (
        "consequences",
        [
            "Waarschijnlijke gevolgen",
            "Conséquences probables",
            "Mogelijke gevolgen voor de betrokkenen",
            "Mogelijke gevolgen",
        ],
    ),
    (
        "measures_taken",
        [
            "Genomen maatregelen",
            "Mesures prises",
            "Genomen maatregelen",
            "Getroffen maatregelen",
        ],
    ),
    (
        "measures_proposed",
        [
            "Voorgestelde maatregelen",
            "Mesures proposées",
            "Geplande maatregelen",
            "Voorgenomen maatregelen",
        ],
    ),
    (
        "risk",
        [
            "Risicobeoordeling",
            "Évaluation du risque",
            "Inschatting van het risico",
            "Risico voor betrokkenen",
        ],
    ),
    (
        "risk_reasons",
        [
            "Motivering van de risicobeoordeling",
            "Motivation de l'évaluation du risque",
            "Motivering",
            "Toelichting risico",
        ],
    ),
    (
        "people_informed",
        [
            "Mededeling aan de betrokkenen",
            "Communication aux personnes concernées",
            "Worden de betrokkenen geïnformeerd?",
            "Zijn de betrokkenen geïnformeerd?",
        ],
    ),
    (
        "art34_ground",
        [
            "Reden om de betrokkenen niet te informeren",
            "Motif de ne pas informer les personnes concernées",
            "Reden om de betrokkenen niet te informeren",
            "Reden om betrokkenen niet te informeren",
        ],
    ),
];

const TITLES: [&str; 4] = [
    "Melding van een gegevenslek aan de Gegevensbeschermingsautoriteit",
    "Notification d'une fuite de données à l'Autorité de protection des données",
    "Melding van een gegevenslek aan de Vlaamse Toezichtcommissie",
    "Melding datalek aan de Autoriteit Persoonsgegevens",
];

/// Small words of the draft's values, in Dutch and French.
fn word(lang: Lang, key: &str) -> &'static str {
    let fr = lang == Lang::Fr;
    match key {
        "initial" if fr => "notification initiale",
        "initial" => "eerste melding",
        "supplement" if fr => "notification complémentaire (art. 33(4))",
        "supplement" => "aanvullende melding (art. 33(4))",
        "no_risk" if fr => "pas de risque",
        "no_risk" => "geen risico",
        "risk" if fr => "risque",
        "risk" => "risico",
        "high_risk" if fr => "risque élevé",
        "high_risk" => "hoog risico",
        "not_assessed" if fr => "pas encore évalué",
        "not_assessed" => "nog niet beoordeeld",
        "yes" if fr => "oui",
        "yes" => "ja",
        "no" if fr => "non",
        "no" => "nee",
        "undecided" if fr => "pas encore décidé",
        "undecided" => "nog niet beslist",
        "unknown" if fr => "inconnu",
        "unknown" => "onbekend",
        "staff" if fr => "un membre du personnel",
        "staff" => "een medewerker",
        "citizen" if fr => "un citoyen",
        "citizen" => "een burger",
        "processor" if fr => "un sous-traitant",
        "processor" => "een verwerker",
        _ => "",
    }
}

/// Everything the draft is made from.
pub struct DraftInput<'a> {
    pub facts: &'a BreachFacts,
    pub controller: &'a Controller,
    pub notices: &'a [AuthorityNotice],
    pub decision: Option<&'a Art34Decision>,
    /// The authority to notify; None: the controller's first.
    pub authority: Option<SupervisoryAuthority>,
    /// The form's language; None: the authority's first.
    pub language: Option<Lang>,
}

/// The notification draft for the controller's supervisory authority: the next phase
/// (initial notice, or a supplement once notified), every field filled from the file.
pub fn draft(input: &DraftInput<'_>) -> Result<NotificationDraft, BreachError> {
    let DraftInput {
        facts,
        controller,
        notices,
        decision,
        ..
    } = *input;
    let allowed = &controller.supervisory_authorities;
    let authority = match input.authority {
        Some(a) if allowed.contains(&a) => a,
        Some(a) => {
            return Err(BreachError::NotTheControllersAuthority {
                controller: controller.id.clone(),
                authority: a,
                allowed: allowed
                    .iter()
                    .map(|a| a.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        None => *allowed
            .first()
            .ok_or_else(|| BreachError::NoAuthority(controller.id.clone()))?,
    };
    let languages = form_languages(authority);
    let lang = input.language.unwrap_or(languages[0]);
    if !languages.contains(&lang) {
        return Err(BreachError::LanguageNotOffered {
            authority,
            asked: lang.code(),
            allowed: languages
                .iter()
                .map(|l| l.code())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let form = match (authority, lang) {
        (SupervisoryAuthority::Gba, Lang::Fr) => Form::GbaFr,
        (SupervisoryAuthority::Gba, _) => Form::GbaNl,
        (SupervisoryAuthority::Vtc, _) => Form::Vtc,
        (SupervisoryAuthority::Ap, _) => Form::Ap,
    };
    let labels = |set: Vec<String>| {
        if set.is_empty() {
            "-".to_string()
        } else {
            set.join(", ")
        }
    };
    let number =
        |n: Option<u64>| n.map_or_else(|| word(lang, "unknown").to_string(), |n| n.to_string());
    let address = &controller.address;
    let delay_reason = initial_notice(notices)
        .and_then(|n| n.delay_reason.clone())
        .unwrap_or_default();
    let value = |key: &str| -> String {
        match key {
            "notification_type" => word(
                lang,
                if initial_notice(notices).is_some() {
                    "supplement"
                } else {
                    "initial"
                },
            )
            .to_string(),
            "controller" => controller.name.show(lang).to_string(),
            "controller_address" => {
                format!("{}, {} {}", address.street, address.postcode, address.city)
            }
            "enterprise_number" => controller
                .enterprise_number
                .as_ref()
                .map(|n| n.to_string())
                .or_else(|| controller.kvk_number.clone())
                .unwrap_or_default(),
            "dpo_contact" => {
                let dpo = &controller.dpo;
                match &dpo.name {
                    Some(name) => format!("{name} <{}>", dpo.email),
                    None => dpo.email.clone(),
                }
            }
            "detected_at" => show_time(facts.detected_at),
            "aware_at" => show_time(facts.aware_at),
            "reported_by" => match &facts.reported_by {
                ReportedBy::Staff { name } => format!("{} ({name})", word(lang, "staff")),
                ReportedBy::Processor { name } => format!("{} ({name})", word(lang, "processor")),
                ReportedBy::Citizen { .. } => word(lang, "citizen").to_string(),
            },
            "delay_reason" => delay_reason.clone(),
            "description" => facts.description.clone(),
            "data_categories" => labels(
                facts
                    .data_categories
                    .iter()
                    .map(|c| i18n::t(lang, &c.label_key()).to_string())
                    .collect(),
            ),
            "special_categories" => labels(
                facts
                    .special_categories
                    .iter()
                    .map(|c| i18n::t(lang, &c.label_key()).to_string())
                    .collect(),
            ),
            "subject_categories" => labels(
                facts
                    .subject_categories
                    .iter()
                    .map(|c| i18n::t(lang, &c.label_key()).to_string())
                    .collect(),
            ),
            "approx_subjects" => number(facts.approx_subjects),
            "approx_records" => number(facts.approx_records),
            "consequences" => facts.consequences.clone(),
            "measures_taken" => facts.measures_taken.clone(),
            "measures_proposed" => facts.measures_proposed.clone(),
            "risk" => word(
                lang,
                facts.risk_level().map_or("not_assessed", |l| l.name()),
            )
            .to_string(),
            "risk_reasons" => facts
                .risk
                .as_ref()
                .map(|r| r.reasons.clone())
                .unwrap_or_default(),
            "people_informed" => word(
                lang,
                match decision {
                    None => "undecided",
                    Some(d) if d.inform => "yes",
                    Some(_) => "no",
                },
            )
            .to_string(),
            "art34_ground" => decision
                .and_then(|d| {
                    d.ground.map(|g| match &d.public_communication {
                        Some(p) => format!("{}: {} ({p})", g.article(), d.reasons),
                        None => format!("{}: {}", g.article(), d.reasons),
                    })
                })
                .unwrap_or_default(),
            _ => String::new(),
        }
    };
    Ok(NotificationDraft {
        authority,
        language: lang,
        title: TITLES[form as usize],
        website: authority.website(),
        fields: FIELDS
            .iter()
            .map(|(key, labels)| DraftField {
                key,
                label: labels[form as usize],
                value: value(key),
            })
            .collect(),
    })
}

/// The mail that tells a person about a breach (art. 34(2)): in plain language, the
/// nature of the breach, the DPO's contact, the likely consequences and the measures.
/// Returns (subject, body).
pub fn people_notice(lang: Lang, facts: &BreachFacts, controller: &Controller) -> (String, String) {
    let none = i18n::t(lang, "breach_mail.none");
    let or_none = |s: &str| {
        if s.trim().is_empty() {
            none.to_string()
        } else {
            s.trim().to_string()
        }
    };
    let measures = [facts.measures_taken.trim(), facts.measures_proposed.trim()]
        .into_iter()
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let name = controller.name.show(lang);
    let args = [
        ("controller", name),
        ("description", facts.description.trim()),
        ("consequences", &or_none(&facts.consequences)),
        ("measures", &or_none(&measures)),
        ("dpo", controller.dpo.email.as_str()),
    ];
    (
        i18n::tf(lang, "breach_mail.subject", &args),
        i18n::tf(lang, "breach_mail.body", &args),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::{Address, Country, Dpo, RightsContact};
    use crate::text::Text;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

    #[test]
    fn a_query_searches_the_places_it_names_or_all() {
        let places = |names: &[&str]| AffectedQuery {
            systems: names.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        };
        let searched = |q: AffectedQuery| (q.searches_vault(), q.searches_systems());
        assert_eq!(searched(places(&[])), (true, true));
        assert_eq!(searched(places(&[VAULT])), (true, false));
        assert_eq!(searched(places(&["hr"])), (false, true));
        assert_eq!(searched(places(&[VAULT, "hr"])), (true, true));
    }

    fn facts() -> BreachFacts {
        BreachFacts {
            controller: "provincie".into(),
            detected_at: datetime!(2026-11-20 08:00:00 UTC),
            aware_at: datetime!(2026-11-20 09:30:00 UTC),
            reported_by: ReportedBy::Citizen {
                contact: Some("an@example.be".into()),
            },
            description: "Een brief met een beslissing werd naar het verkeerde adres gestuurd."
                .into(),
            data_categories: [DataCategory::Identification, DataCategory::Financial].into(),
            special_categories: BTreeSet::new(),
            subject_categories: [SubjectCategory::Citizens].into(),
            approx_subjects: Some(1),
            approx_records: Some(1),
            consequences: "De ontvanger kent het inkomen van de betrokkene.".into(),
            measures_taken: "De ontvanger vernietigde de brief.".into(),
            measures_proposed: "Adressen dubbel controleren.".into(),
            risk: Some(RiskAssessment {
                level: RiskLevel::Risk,
                reasons: "Financiële gegevens van één persoon.".into(),
            }),
            closed_at: None,
        }
    }

    fn notice(phase: NotificationPhase, sent_at: OffsetDateTime) -> AuthorityNotice {
        AuthorityNotice {
            phase,
            sent_at,
            content: "Melding via het webformulier.".into(),
            authority_reference: None,
            delay_reason: None,
        }
    }

    fn controller(authorities: Vec<SupervisoryAuthority>) -> Controller {
        Controller {
            id: "provincie".into(),
            name: Text::nl("Provincie Antwerpen").with(Lang::Fr, "Province d'Anvers"),
            department: None,
            address: Address {
                street: "Koningin Elisabethlei 22".into(),
                postcode: "2018".into(),
                city: "Antwerpen".into(),
                country: Country::Be,
            },
            enterprise_number: None,
            kvk_number: None,
            email: None,
            phone: None,
            website: None,
            representative: None,
            dpo: Dpo {
                name: Some("Els Peeters".into()),
                email: "dpo@provincie.be".into(),
                phone: None,
                address: None,
            },
            supervisory_authorities: authorities,
            rights_contact: RightsContact::default(),
            joint_controllers: vec![],
            introduction: None,
            cookies: vec![],
            security_measures: vec![],
            change_notice: None,
        }
    }

    #[test]
    fn well_documented_breaches_pass() {
        assert_eq!(facts().check(NOW), Ok(()));
    }

    #[test]
    fn an_awareness_time_in_the_future_is_refused() {
        let mut f = facts();
        f.aware_at = NOW + Duration::minutes(1);
        let err = f.check(NOW).unwrap_err();
        assert!(matches!(err, BreachError::AwareInFuture { .. }), "{err:?}");
        assert!(err.to_string().contains("in the future"), "{err}");
    }

    #[test]
    fn detection_in_the_future_or_awareness_before_detection_is_refused() {
        let mut f = facts();
        f.detected_at = NOW + Duration::hours(1);
        f.aware_at = NOW;
        assert!(matches!(
            f.check(NOW),
            Err(BreachError::DetectedInFuture { .. })
        ));
        let mut f = facts();
        f.aware_at = f.detected_at - Duration::seconds(1);
        assert!(matches!(
            f.check(NOW),
            Err(BreachError::AwareBeforeDetected { .. })
        ));
        // Aware at the moment of detection is fine.
        f.aware_at = f.detected_at;
        assert_eq!(f.check(NOW), Ok(()));
    }

    #[test]
    fn missing_texts_and_risk_without_reasons_are_refused() {
        let mut f = facts();
        f.description = "  ".into();
        assert_eq!(f.check(NOW), Err(BreachError::Missing("description")));
        let mut f = facts();
        f.reported_by = ReportedBy::Staff { name: "".into() };
        assert_eq!(f.check(NOW), Err(BreachError::Missing("reported_by.name")));
        let mut f = facts();
        f.risk = Some(RiskAssessment {
            level: RiskLevel::HighRisk,
            reasons: " ".into(),
        });
        assert_eq!(f.check(NOW), Err(BreachError::RiskWithoutReasons));
        let mut f = facts();
        f.consequences = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(matches!(f.check(NOW), Err(BreachError::TooLong { .. })));
        let mut f = facts();
        f.closed_at = Some(f.aware_at - Duration::hours(1));
        assert!(matches!(f.check(NOW), Err(BreachError::BadClosing(_))));
    }

    #[test]
    fn the_clock_runs_72_hours_from_awareness() {
        let f = facts();
        assert_eq!(f.notification_due(), datetime!(2026-11-23 09:30:00 UTC));
        let due = f.notification_due();
        assert_eq!(
            clock(&f, &[], due - Duration::hours(25)),
            ClockStatus::NotDue
        );
        assert_eq!(
            clock(&f, &[], due - Duration::hours(23)),
            ClockStatus::DueSoon
        );
        assert_eq!(clock(&f, &[], due), ClockStatus::DueSoon);
        assert_eq!(
            clock(&f, &[], due + Duration::seconds(1)),
            ClockStatus::Overdue
        );
        // Not yet assessed: the clock runs all the same.
        let mut unassessed = facts();
        unassessed.risk = None;
        assert_eq!(clock(&unassessed, &[], NOW), ClockStatus::Overdue);
    }

    #[test]
    fn no_risk_needs_no_notification_but_is_documented() {
        let mut f = facts();
        f.risk = Some(RiskAssessment {
            level: RiskLevel::NoRisk,
            reasons: "The letter was returned unopened.".into(),
        });
        assert_eq!(f.check(NOW), Ok(()));
        assert_eq!(clock(&f, &[], NOW), ClockStatus::NotRequired);
        let n = notice(NotificationPhase::Initial, NOW);
        assert_eq!(
            check_notice(&f, &[], &n, NOW),
            Err(BreachError::NotificationNotNeeded)
        );
    }

    #[test]
    fn notified_in_time_or_late() {
        let f = facts();
        let due = f.notification_due();
        let on_time = notice(NotificationPhase::Initial, due - Duration::hours(1));
        assert_eq!(check_notice(&f, &[], &on_time, NOW), Ok(()));
        assert_eq!(
            clock(&f, std::slice::from_ref(&on_time), NOW + Duration::days(9)),
            ClockStatus::Notified
        );
        let mut late = notice(NotificationPhase::Initial, due + Duration::minutes(30));
        let now = due + Duration::hours(1);
        let err = check_notice(&f, &[], &late, now).unwrap_err();
        assert!(
            matches!(err, BreachError::LateWithoutReason { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("0 h 30 min"), "{err}");
        late.delay_reason = Some("   ".into());
        assert!(check_notice(&f, &[], &late, now).is_err());
        late.delay_reason = Some("The investigation took the weekend.".into());
        assert_eq!(check_notice(&f, &[], &late, now), Ok(()));
        assert_eq!(clock(&f, &[late], now), ClockStatus::NotifiedLate);
    }

    #[test]
    fn notices_come_in_phases_and_in_order() {
        let f = facts();
        let initial = notice(NotificationPhase::Initial, f.aware_at + Duration::hours(2));
        let supplement = notice(
            NotificationPhase::Supplement,
            f.aware_at + Duration::hours(30),
        );
        assert_eq!(
            check_notice(&f, &[], &supplement, NOW),
            Err(BreachError::SupplementBeforeInitial)
        );
        assert_eq!(
            check_notice(&f, std::slice::from_ref(&initial), &supplement, NOW),
            Ok(())
        );
        assert_eq!(
            check_notice(&f, std::slice::from_ref(&initial), &initial, NOW),
            Err(BreachError::AlreadyNotified)
        );
        let earlier = notice(
            NotificationPhase::Supplement,
            f.aware_at + Duration::hours(1),
        );
        assert!(matches!(
            check_notice(&f, &[initial], &earlier, NOW),
            Err(BreachError::BadNoticeTime { .. })
        ));
        // Not before awareness, not in the future, never empty.
        for (sent_at, content) in [
            (f.aware_at - Duration::minutes(1), "x"),
            (NOW + Duration::minutes(1), "x"),
            (NOW, " "),
        ] {
            let mut n = notice(NotificationPhase::Initial, sent_at);
            n.content = content.into();
            assert!(
                check_notice(&f, &[], &n, NOW).is_err(),
                "{sent_at} {content:?}"
            );
        }
    }

    fn decision(inform: bool, ground: Option<Art34Ground>) -> Art34Decision {
        Art34Decision {
            inform,
            ground,
            reasons: "Zie risicobeoordeling.".into(),
            public_communication: None,
        }
    }

    #[test]
    fn high_risk_means_telling_people_unless_an_art34_3_ground_is_recorded() {
        let mut f = facts();
        f.risk = Some(RiskAssessment {
            level: RiskLevel::HighRisk,
            reasons: "Rijksregisternummers en inkomens.".into(),
        });
        assert!(people_must_be_told(&f, None));
        assert_eq!(
            check_art34(&f, &decision(false, None)),
            Err(BreachError::HighRiskNeedsGround)
        );
        assert_eq!(check_art34(&f, &decision(true, None)), Ok(()));
        assert!(people_must_be_told(&f, Some(&decision(true, None))));
        let encrypted = decision(false, Some(Art34Ground::Unintelligible));
        assert_eq!(check_art34(&f, &encrypted), Ok(()));
        assert!(!people_must_be_told(&f, Some(&encrypted)));
        assert_eq!(
            check_art34(&f, &decision(true, Some(Art34Ground::RiskRemoved))),
            Err(BreachError::InformAndGround)
        );
        let mut public = decision(false, Some(Art34Ground::DisproportionateEffort));
        assert_eq!(
            check_art34(&f, &public),
            Err(BreachError::PublicCommunicationMissing)
        );
        public.public_communication = Some("Bericht op de website op 24 november.".into());
        assert_eq!(check_art34(&f, &public), Ok(()));
        let mut no_reasons = decision(true, None);
        no_reasons.reasons = "".into();
        assert_eq!(
            check_art34(&f, &no_reasons),
            Err(BreachError::Missing("reasons"))
        );
    }

    #[test]
    fn the_art34_decision_needs_an_assessment_and_not_telling_is_fine_below_high_risk() {
        let mut f = facts();
        assert_eq!(check_art34(&f, &decision(false, None)), Ok(()));
        assert!(!people_must_be_told(&f, None));
        f.risk = None;
        assert_eq!(
            check_art34(&f, &decision(true, None)),
            Err(BreachError::NotAssessed)
        );
    }

    #[test]
    fn a_change_applies_only_what_it_names_and_null_clears() {
        let f = facts();
        let change: BreachChange = serde_json::from_str(
            r#"{"approx_subjects": null, "risk": {"level": "high_risk", "reasons": "x"},
                "aware_at": "2026-11-20T10:00:00Z"}"#,
        )
        .unwrap();
        let changed = change.apply(&f);
        assert_eq!(changed.approx_subjects, None);
        assert_eq!(changed.approx_records, Some(1));
        assert_eq!(changed.risk_level(), Some(RiskLevel::HighRisk));
        assert_eq!(changed.aware_at, datetime!(2026-11-20 10:00:00 UTC));
        assert_eq!(changed.description, f.description);
        assert_eq!(BreachChange::default().apply(&f), f);
        assert!(serde_json::from_str::<BreachChange>(r#"{"colour": "red"}"#).is_err());
    }

    #[test]
    fn facts_round_trip_through_json_and_refuse_unknown_terms() {
        let f = facts();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(serde_json::from_str::<BreachFacts>(&json).unwrap(), f);
        let bad = json.replace("\"financial\"", "\"shoe_size\"");
        assert!(serde_json::from_str::<BreachFacts>(&bad).is_err());
    }

    #[test]
    fn affected_queries_need_a_criterion_and_an_ordered_window() {
        assert_eq!(
            AffectedQuery::default().check(),
            Err(BreachError::EmptyQuery)
        );
        let q = AffectedQuery {
            activities: ["subsidies".to_string()].into(),
            collected_from: Some(date!(2026 - 11 - 01)),
            collected_until: Some(date!(2026 - 10 - 01)),
            ..AffectedQuery::default()
        };
        assert!(matches!(q.check(), Err(BreachError::BadWindow { .. })));
        let q = AffectedQuery {
            data_categories: [DataCategory::Financial].into(),
            ..AffectedQuery::default()
        };
        assert_eq!(q.check(), Ok(()));
    }

    fn field<'a>(d: &'a NotificationDraft, key: &str) -> &'a DraftField {
        d.fields.iter().find(|f| f.key == key).unwrap()
    }

    #[test]
    fn the_draft_follows_the_controllers_authority_and_its_language() {
        let f = facts();
        let vtc = controller(vec![SupervisoryAuthority::Vtc, SupervisoryAuthority::Gba]);
        let input = DraftInput {
            facts: &f,
            controller: &vtc,
            notices: &[],
            decision: None,
            authority: None,
            language: None,
        };
        let d = draft(&input).unwrap();
        assert_eq!(d.authority, SupervisoryAuthority::Vtc);
        assert_eq!(d.language, Lang::Nl);
        assert!(d.title.contains("Vlaamse Toezichtcommissie"));
        assert_eq!(field(&d, "controller").label, "Naam van de instantie");
        assert_eq!(field(&d, "controller").value, "Provincie Antwerpen");
        assert_eq!(field(&d, "notification_type").value, "eerste melding");
        assert_eq!(field(&d, "aware_at").value, "2026-11-20 09:30 UTC");
        assert_eq!(field(&d, "risk").value, "risico");
        assert_eq!(
            field(&d, "dpo_contact").value,
            "Els Peeters <dpo@provincie.be>"
        );
        assert_eq!(d.fields.len(), FIELDS.len());

        // The GBA in French, once notified: a supplement.
        let notices = [notice(
            NotificationPhase::Initial,
            f.aware_at + Duration::hours(1),
        )];
        let d = draft(&DraftInput {
            authority: Some(SupervisoryAuthority::Gba),
            language: Some(Lang::Fr),
            notices: &notices,
            decision: Some(&decision(true, None)),
            ..input
        })
        .unwrap();
        assert_eq!(field(&d, "controller").label, "Responsable du traitement");
        assert_eq!(field(&d, "controller").value, "Province d'Anvers");
        assert!(
            field(&d, "notification_type")
                .value
                .starts_with("notification complémentaire")
        );
        assert_eq!(field(&d, "people_informed").value, "oui");
        assert_eq!(field(&d, "approx_subjects").value, "1");
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(json["authority"], "gba");
        assert_eq!(json["language"], "fr");
        assert_eq!(json["fields"][0]["key"], "notification_type");
    }

    #[test]
    fn the_ap_draft_is_dutch_and_names_the_art34_ground() {
        let mut f = facts();
        f.risk = Some(RiskAssessment {
            level: RiskLevel::HighRisk,
            reasons: "x".into(),
        });
        let ap = controller(vec![SupervisoryAuthority::Ap]);
        let exempt = decision(false, Some(Art34Ground::Unintelligible));
        let d = draft(&DraftInput {
            facts: &f,
            controller: &ap,
            notices: &[],
            decision: Some(&exempt),
            authority: None,
            language: None,
        })
        .unwrap();
        assert_eq!(
            field(&d, "aware_at").label,
            "Datum waarop u zich bewust werd van het datalek"
        );
        assert_eq!(field(&d, "people_informed").value, "nee");
        assert!(field(&d, "art34_ground").value.starts_with("art. 34(3)(a)"));
        assert_eq!(field(&d, "risk").value, "hoog risico");
    }

    #[test]
    fn drafts_for_another_authority_language_or_none_are_refused() {
        let f = facts();
        let ap = controller(vec![SupervisoryAuthority::Ap]);
        let input = DraftInput {
            facts: &f,
            controller: &ap,
            notices: &[],
            decision: None,
            authority: None,
            language: Some(Lang::Fr),
        };
        assert!(matches!(
            draft(&input),
            Err(BreachError::LanguageNotOffered { .. })
        ));
        assert!(matches!(
            draft(&DraftInput {
                authority: Some(SupervisoryAuthority::Gba),
                language: None,
                ..input
            }),
            Err(BreachError::NotTheControllersAuthority { .. })
        ));
        let none = controller(vec![]);
        assert_eq!(
            draft(&DraftInput {
                controller: &none,
                language: None,
                ..input
            }),
            Err(BreachError::NoAuthority("provincie".into()))
        );
    }

    #[test]
    fn the_notice_to_people_is_in_their_language_with_the_art34_2_contents() {
        let f = facts();
        let c = controller(vec![SupervisoryAuthority::Gba]);
        let (subject, body) = people_notice(Lang::Fr, &f, &c);
        assert!(subject.contains("Province d'Anvers"), "{subject}");
        assert!(body.contains("fuite de données"), "{body}");
        assert!(body.contains(&f.description), "{body}");
        assert!(body.contains(&f.consequences), "{body}");
        assert!(
            body.contains("De ontvanger vernietigde de brief."),
            "{body}"
        );
        assert!(body.contains("dpo@provincie.be"), "{body}");
        assert!(!body.contains('{'), "a placeholder was left: {body}");
        let mut unknown = facts();
        unknown.consequences = String::new();
        let (_, body) = people_notice(Lang::Nl, &unknown, &c);
        assert!(body.contains("(nog niet bekend)"), "{body}");
        let (subject, _) = people_notice(Lang::En, &f, &c);
        assert!(subject.starts_with("A data breach"), "{subject}");
    }

    #[test]
    fn every_breach_term_has_a_label_in_every_language() {
        let keys: Vec<String> = RiskLevel::ALL
            .iter()
            .map(|t| t.label_key())
            .chain(ClockStatus::ALL.iter().map(|t| t.label_key()))
            .chain(NotificationPhase::ALL.iter().map(|t| t.label_key()))
            .chain(Art34Ground::ALL.iter().map(|t| t.label_key()))
            .chain([
                "breach_reporter.staff".into(),
                "breach_reporter.citizen".into(),
            ])
            .collect();
        for lang in Lang::ALL {
            for key in &keys {
                assert!(i18n::has(lang, key), "{key} has no {lang:?} label");
            }
        }
    }

    proptest::proptest! {
        /// Whatever the moments, the clock agrees with the 72 hours: overdue exactly when
        /// more than 72 hours passed without an initial notice, due soon in the last 24.
        #[test]
        fn the_clock_agrees_with_the_deadline(
            aware_offset in 0i64..1_000_000,
            elapsed in 0i64..1_000_000,
            notified_after in proptest::option::of(0i64..1_000_000),
        ) {
            let mut f = facts();
            f.aware_at = NOW - Duration::minutes(aware_offset);
            f.detected_at = f.aware_at;
            let now = f.aware_at + Duration::minutes(elapsed);
            proptest::prop_assert_eq!(f.notification_due() - f.aware_at, Duration::hours(72));
            let notices: Vec<AuthorityNotice> = notified_after
                .map(|m| notice(NotificationPhase::Initial, f.aware_at + Duration::minutes(m)))
                .into_iter()
                .collect();
            let status = clock(&f, &notices, now);
            let expected = match notified_after {
                Some(m) if m > 72 * 60 => ClockStatus::NotifiedLate,
                Some(_) => ClockStatus::Notified,
                None if elapsed > 72 * 60 => ClockStatus::Overdue,
                None if elapsed > 48 * 60 => ClockStatus::DueSoon,
                None => ClockStatus::NotDue,
            };
            proptest::prop_assert_eq!(status, expected);
        }
    }

    #[test]
    fn awareness_cannot_move_past_a_notice_already_sent() {
        let mut f = facts();
        let sent = notice(NotificationPhase::Initial, f.aware_at + Duration::hours(1));
        assert_eq!(
            check_against_notices(&f, std::slice::from_ref(&sent)),
            Ok(())
        );
        f.aware_at += Duration::hours(2);
        assert!(matches!(
            check_against_notices(&f, &[sent]),
            Err(BreachError::BadNoticeTime { .. })
        ));
        assert_eq!(check_against_notices(&f, &[]), Ok(()));
    }

    #[test]
    fn only_dpo_and_admin_record_and_auditors_read() {
        assert!(may_record(&[Role::Dpo]));
        assert!(may_record(&[Role::Admin]));
        assert!(!may_record(&[Role::Auditor, Role::Caseworker]));
        assert!(may_read(&[Role::Auditor]));
        assert!(!may_read(&[Role::Caseworker]));
        assert!(!may_read(&[]));
    }
}
