//! Data-subject rights requests (GDPR art. 12-22): the rights, the response deadline, the
//! life of a request as a state machine, and decisions per right and processing activity.
//!
//! The state machine is the one place that says what may happen next: no data is released
//! before the requester's identity is verified, a refused request is never fulfilled, a
//! closed one never changes.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::calendar::working_day_on_or_after;
use crate::i18n;
use crate::identifiers::EmailAddress;
use crate::inventory::{InventoryError, SubjectIdentity};
use crate::legal::{LegalBasis, SupervisoryAuthority};
use crate::mail::OutgoingMail;
use crate::register::{Country, ProcessingActivity};
use crate::retention::{RetentionRule, add_months};
use crate::statement::words;
use crate::text::Lang;
use crate::text::Text;

crate::vocabulary! {
    /// A right a data subject exercises.
    pub enum Right: "right" {
        Access = "access",
        Rectification = "rectification",
        Erasure = "erasure",
        Restriction = "restriction",
        Objection = "objection",
        Portability = "portability",
        /// Not to be subject to a decision based solely on automated processing.
        NoAutomatedDecision = "no_automated_decision",
        ConsentWithdrawal = "consent_withdrawal",
    }
}

impl Right {
    /// The article of the GDPR that grants the right.
    pub fn article(self) -> &'static str {
        match self {
            Right::Access => "art. 15",
            Right::Rectification => "art. 16",
            Right::Erasure => "art. 17",
            Right::Restriction => "art. 18",
            Right::Objection => "art. 21",
            Right::Portability => "art. 20",
            Right::NoAutomatedDecision => "art. 22",
            Right::ConsentWithdrawal => "art. 7(3)",
        }
    }

    /// Whether recipients must be told when the right is carried out (art. 19).
    pub fn tell_recipients(self) -> bool {
        matches!(
            self,
            Right::Rectification | Right::Erasure | Right::Restriction
        )
    }
}

crate::vocabulary! {
    /// How a request reached the authority.
    pub enum RequestChannel: "request_channel" {
        /// The form on kluis's public site ("the fastest way").
        Portal = "portal",
        Email = "email",
        Letter = "letter",
        Desk = "desk",
    }
}

crate::vocabulary! {
    /// Whose rights the requester exercises.
    pub enum ActingFor: "acting_for" {
        Themselves = "themselves",
        /// A parent or guardian for a child under 16.
        Child = "child",
        /// A guardian for a person under guardianship.
        Ward = "ward",
    }
}

/// Who asks, for whom, and how to answer them: personal data, sealed by the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    /// The person whose data the request is about.
    pub identity: SubjectIdentity,
    pub acting_for: ActingFor,
    /// The parent or guardian who files for a child or ward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_by: Option<SubjectIdentity>,
    /// Where the answer goes by mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// Where the answer goes by post.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_address: Option<String>,
    /// The request in the person's own words.
    #[serde(default)]
    pub message: String,
}

/// Longest free text of a request, in characters.
pub const MAX_MESSAGE_CHARS: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("say which right or rights the request is about")]
    NoRight,
    #[error("the person the request is about: {0}")]
    Identity(InventoryError),
    #[error("a request for a child or ward needs the parent or guardian who files it")]
    NoRepresentative,
    #[error("a representative files only for a child or ward: set acting_for")]
    RepresentativeForThemselves,
    #[error("the parent or guardian: {0}")]
    Representative(InventoryError),
    #[error("give an e-mail address or a postal address, so the answer can reach you")]
    NoContact,
    #[error("the message is longer than {MAX_MESSAGE_CHARS} characters")]
    MessageTooLong,
}

/// Checks a request as filed: at least one right, an identifiable person, a representative
/// exactly when acting for someone else, and a way to answer.
pub fn check_request(
    rights: &[Right],
    requester: &Requester,
    today: Date,
) -> Result<(), RequestError> {
    if rights.is_empty() {
        return Err(RequestError::NoRight);
    }
    requester
        .identity
        .check(today)
        .map_err(RequestError::Identity)?;
    match (&requester.acting_for, &requester.filed_by) {
        (ActingFor::Themselves, Some(_)) => return Err(RequestError::RepresentativeForThemselves),
        (ActingFor::Child | ActingFor::Ward, None) => return Err(RequestError::NoRepresentative),
        (_, Some(r)) => r.check(today).map_err(RequestError::Representative)?,
        (ActingFor::Themselves, None) => {}
    }
    let has_postal = requester
        .postal_address
        .as_deref()
        .is_some_and(|a| !a.trim().is_empty());
    if requester.email.is_none() && !has_postal {
        return Err(RequestError::NoContact);
    }
    if requester.message.chars().count() > MAX_MESSAGE_CHARS {
        return Err(RequestError::MessageTooLong);
    }
    Ok(())
}

/// What the receipt mail says: the facts of one filed request.
pub struct ReceiptFacts<'a> {
    pub organisation: &'a str,
    pub reference: &'a str,
    pub rights: &'a [Right],
    pub received_on: Date,
    pub due_on: Date,
    /// The secret status link.
    pub status_url: &'a str,
}

/// The receipt mailed when a request is filed, in the requester's language.
pub fn receipt_mail(to: EmailAddress, lang: Lang, facts: &ReceiptFacts<'_>) -> OutgoingMail {
    let rights = facts
        .rights
        .iter()
        .map(|r| i18n::t(lang, &r.label_key()).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let received = words::date(lang, facts.received_on);
    let due = words::date(lang, facts.due_on);
    let args = [
        ("organisation", facts.organisation),
        ("reference", facts.reference),
        ("rights", rights.as_str()),
        ("received", received.as_str()),
        ("due", due.as_str()),
        ("status_url", facts.status_url),
    ];
    OutgoingMail {
        to,
        subject: i18n::tf(lang, "rights_mail.receipt_subject", &args),
        body_text: i18n::tf(lang, "rights_mail.receipt_body", &args),
        activity: None,
        unsubscribe_url: None,
    }
}

/// What kluis tells the requester when staff take a step that concerns them.
pub enum Notice<'a> {
    /// The deadline was extended (art. 12(3)): how long, why, and the new date.
    Extension {
        months: u8,
        reason: &'a str,
        due_on: Date,
    },
    /// More proof of identity is needed (art. 12(6)): what.
    IdentityRequested { note: &'a str },
}

/// The letter that tells the requester of `notice`, in their language.
pub fn notice_letter(
    lang: Lang,
    organisation: &str,
    reference: &str,
    notice: &Notice<'_>,
) -> Letter {
    let (key, months, text, due) = match notice {
        Notice::Extension {
            months,
            reason,
            due_on,
        } => (
            "extension",
            i18n::tf(
                lang,
                if *months == 1 {
                    "statement.period.month_one"
                } else {
                    "statement.period.month_many"
                },
                &[("n", &months.to_string())],
            ),
            reason.to_string(),
            words::date(lang, *due_on),
        ),
        Notice::IdentityRequested { note } => {
            ("identity", String::new(), note.to_string(), String::new())
        }
    };
    let args = [
        ("organisation", organisation),
        ("reference", reference),
        ("months", months.as_str()),
        ("text", text.as_str()),
        ("due", due.as_str()),
    ];
    Letter {
        subject: i18n::tf(lang, &format!("rights_mail.{key}_subject"), &args),
        body: i18n::tf(lang, &format!("rights_mail.{key}_body"), &args),
    }
}

/// A letter to the person: what a mail carries, or a printed letter by post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub subject: String,
    pub body: String,
}

impl Letter {
    /// The letter as a mail to `to`.
    pub fn mail(self, to: EmailAddress) -> OutgoingMail {
        OutgoingMail {
            to,
            subject: self.subject,
            body_text: self.body,
            activity: None,
            unsubscribe_url: None,
        }
    }
}

/// What the closing letter is about: one closed request.
pub struct Closing<'a> {
    pub organisation: &'a str,
    pub reference: &'a str,
    pub decisions: &'a [Decision],
    /// The staff member's closing note: for a request closed without decisions it is the
    /// reason no action was taken, which art. 12(4) requires the person to be told.
    pub note: &'a str,
    pub authorities: &'a [SupervisoryAuthority],
}

/// The closing letter: every decision with its motivation, grounds and articles, and,
/// when anything was refused, the right to complain to the supervisory authority and to go
/// to court (art. 12(4)). A request closed without decisions (an identity never proven)
/// gets the reason no action was taken, with the same remedies. Activities are named as
/// the register names them.
pub fn closing_letter(
    lang: Lang,
    closing: &Closing<'_>,
    activity_name: impl Fn(&str) -> String,
) -> Letter {
    let lines: Vec<String> = closing
        .decisions
        .iter()
        .map(|d| {
            let mut line = format!(
                "- {} ({}), {}: {}.",
                i18n::t(lang, &d.right.label_key()),
                d.right.article(),
                activity_name(&d.activity),
                i18n::t(lang, &d.outcome.label_key())
            );
            for g in &d.grounds {
                line.push_str(&format!(
                    " {} ({}).",
                    i18n::t(lang, &g.label_key()),
                    g.article(d.right)
                ));
            }
            line.push_str(&format!(" {}", d.motivation.trim()));
            line
        })
        .collect();
    let undecided = closing.decisions.is_empty();
    let refused = undecided
        || closing
            .decisions
            .iter()
            .any(|d| d.outcome != Outcome::Granted);
    let remedies = if refused {
        let places: Vec<String> = closing
            .authorities
            .iter()
            .map(|a| format!("{} ({})", i18n::t(lang, &a.label_key()), a.website()))
            .collect();
        i18n::tf(
            lang,
            "rights_mail.remedies",
            &[("authorities", places.join(", ").as_str())],
        )
    } else {
        String::new()
    };
    let decisions = lines.join("\n");
    let args = [
        ("organisation", closing.organisation),
        ("reference", closing.reference),
        ("decisions", decisions.as_str()),
        ("note", closing.note.trim()),
        ("remedies", remedies.as_str()),
    ];
    let body = if undecided {
        "rights_mail.closed_without_action_body"
    } else {
        "rights_mail.closing_body"
    };
    Letter {
        subject: i18n::tf(lang, "rights_mail.closing_subject", &args),
        body: i18n::tf(lang, body, &args),
    }
}

/// One request in a caseworker's daily reminder.
pub struct ReminderItem<'a> {
    pub reference: &'a str,
    pub rights: &'a [Right],
    pub due_on: Date,
    /// Only overdue and due-soon requests are in a reminder.
    pub urgency: Urgency,
}

/// The daily reminder to a caseworker of the requests assigned to them that are overdue
/// or due within [`DUE_SOON_DAYS`] days, overdue first, in the caseworker's language.
/// `requests_url` is the back-office list.
pub fn reminder_mail(
    to: EmailAddress,
    lang: Lang,
    items: &[ReminderItem<'_>],
    requests_url: &str,
) -> OutgoingMail {
    let mut sorted: Vec<&ReminderItem<'_>> = items.iter().collect();
    sorted.sort_by_key(|i| (!i.urgency.is_overdue(), i.due_on, i.reference));
    let lines: Vec<String> = sorted
        .iter()
        .map(|i| {
            let rights = i
                .rights
                .iter()
                .map(|r| i18n::t(lang, &r.label_key()).to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let key = if i.urgency.is_overdue() {
                "rights_mail.reminder_overdue"
            } else {
                "rights_mail.reminder_due"
            };
            let due = words::date(lang, i.due_on);
            i18n::tf(
                lang,
                key,
                &[
                    ("reference", i.reference),
                    ("rights", rights.as_str()),
                    ("due", due.as_str()),
                ],
            )
        })
        .collect();
    let overdue = items
        .iter()
        .filter(|i| i.urgency.is_overdue())
        .count()
        .to_string();
    let count = items.len().to_string();
    let requests = lines.join("\n");
    let args = [
        ("count", count.as_str()),
        ("overdue", overdue.as_str()),
        ("requests", requests.as_str()),
        ("requests_url", requests_url),
    ];
    OutgoingMail {
        to,
        subject: i18n::tf(lang, "rights_mail.reminder_subject", &args),
        body_text: i18n::tf(lang, "rights_mail.reminder_body", &args),
        activity: None,
        unsubscribe_url: None,
    }
}

/// The month allowed to answer, counted from receipt as Regulation 1182/71 counts months,
/// and its one extension (art. 12(3)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseDeadline {
    pub received_on: Date,
    /// The controller's country decides which days are public holidays.
    pub country: Country,
    /// One month after receipt, moved to a working day.
    pub first_due_on: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<DeadlineExtension>,
}

/// An extension of the response deadline by one or two months.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadlineExtension {
    pub months: u8,
    /// Why more time is needed (complexity, number of requests), as told to the person.
    pub reason: String,
    /// When the person was told, which must be within the first month.
    pub told_on: Date,
    pub due_on: Date,
}

/// Whether a request is late.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "days")]
pub enum Urgency {
    /// Past the deadline by this many days.
    Overdue(i64),
    /// Due within [`DUE_SOON_DAYS`] days: this many are left (0 = today).
    DueSoon(i64),
    OnTime,
}

impl Urgency {
    pub fn is_overdue(self) -> bool {
        matches!(self, Urgency::Overdue(_))
    }
}

/// Days before the deadline from which a request shows as due soon.
pub const DUE_SOON_DAYS: i64 = 7;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeadlineError {
    #[error("the deadline was already extended once; art. 12(3) allows one extension")]
    AlreadyExtended,
    #[error("an extension is one or two months (art. 12(3)); {0} is not allowed")]
    BadLength(u8),
    #[error("an extension needs the reason told to the person")]
    NoReason,
    #[error(
        "the person must be told of the extension within the first month, by {first_due_on}; \
         {told_on} is too late, so the request must be answered by {first_due_on}"
    )]
    ToldTooLate { told_on: Date, first_due_on: Date },
    #[error("the person cannot have been told on {told_on}, before the request arrived")]
    ToldBeforeReceipt { told_on: Date },
    #[error("the date is outside the calendar kluis can count in")]
    OutOfRange,
}

impl ResponseDeadline {
    /// The deadline of a request received on `received_on` by a controller in `country`:
    /// 5 March → 5 April, 31 January → 28 (or 29) February, moved to the next working day
    /// when it falls on a Saturday, Sunday or public holiday.
    pub fn new(received_on: Date, country: Country) -> Result<Self, DeadlineError> {
        let end = add_months(received_on, 1).map_err(|_| DeadlineError::OutOfRange)?;
        Ok(ResponseDeadline {
            received_on,
            country,
            first_due_on: working_day_on_or_after(country, end),
            extension: None,
        })
    }

    /// The date the request must be answered by.
    pub fn due_on(&self) -> Date {
        self.extension
            .as_ref()
            .map_or(self.first_due_on, |e| e.due_on)
    }

    /// Extends the deadline by `months` (1 or 2) further months, counted from the end of
    /// the first month; allowed once, with a reason told to the person within that month.
    pub fn extend(&self, months: u8, reason: &str, told_on: Date) -> Result<Self, DeadlineError> {
        if self.extension.is_some() {
            return Err(DeadlineError::AlreadyExtended);
        }
        if !(1..=2).contains(&months) {
            return Err(DeadlineError::BadLength(months));
        }
        if reason.trim().is_empty() {
            return Err(DeadlineError::NoReason);
        }
        if told_on < self.received_on {
            return Err(DeadlineError::ToldBeforeReceipt { told_on });
        }
        if told_on > self.first_due_on {
            return Err(DeadlineError::ToldTooLate {
                told_on,
                first_due_on: self.first_due_on,
            });
        }
        let end = add_months(self.received_on, 1 + i64::from(months))
            .map_err(|_| DeadlineError::OutOfRange)?;
        Ok(ResponseDeadline {
            extension: Some(DeadlineExtension {
                months,
                reason: reason.trim().to_string(),
                told_on,
                due_on: working_day_on_or_after(self.country, end),
            }),
            ..self.clone()
        })
    }

    /// How late the request is on `today`.
    pub fn urgency(&self, today: Date) -> Urgency {
        let left = (self.due_on() - today).whole_days();
        if left < 0 {
            Urgency::Overdue(-left)
        } else if left <= DUE_SOON_DAYS {
            Urgency::DueSoon(left)
        } else {
            Urgency::OnTime
        }
    }
}

crate::vocabulary! {
    /// Where a request stands.
    pub enum Stage: "request_stage" {
        /// Filed; no receipt yet.
        Received = "received",
        /// The receipt was sent; the requester's identity is to be checked.
        Acknowledged = "acknowledged",
        /// The requester was asked for more to prove who they are.
        IdentityRequested = "identity_requested",
        /// The requester is who they say (or acts for a child or ward of theirs).
        IdentityVerified = "identity_verified",
        /// Every right asked has a decision per processing activity.
        Decided = "decided",
        /// What was granted has been carried out everywhere.
        Fulfilled = "fulfilled",
        /// The closing letter went out; nothing changes any more.
        Closed = "closed",
    }
}

crate::vocabulary! {
    /// The request statuses of the Data Privacy Vocabulary (DPV), for exchange.
    pub enum DpvRequestStatus: "dpv_request_status" {
        Initiated = "initiated",
        Acknowledged = "acknowledged",
        Accepted = "accepted",
        Rejected = "rejected",
        RequiresAction = "requires_action",
        Fulfilled = "fulfilled",
        Unfulfilled = "unfulfilled",
    }
}

impl DpvRequestStatus {
    /// The DPV concept.
    pub fn dpv(self) -> &'static str {
        match self {
            DpvRequestStatus::Initiated => "dpv:RequestInitiated",
            DpvRequestStatus::Acknowledged => "dpv:RequestAcknowledged",
            DpvRequestStatus::Accepted => "dpv:RequestAccepted",
            DpvRequestStatus::Rejected => "dpv:RequestRejected",
            DpvRequestStatus::RequiresAction => "dpv:RequestRequiresAction",
            DpvRequestStatus::Fulfilled => "dpv:RequestFulfilled",
            DpvRequestStatus::Unfulfilled => "dpv:RequestUnfulfilled",
        }
    }
}

crate::vocabulary! {
    /// What was decided on one right for one processing activity.
    pub enum Outcome: "decision_outcome" {
        Granted = "granted",
        PartlyGranted = "partly_granted",
        Refused = "refused",
    }
}

crate::vocabulary! {
    /// Why a right is refused, wholly or in part.
    pub enum RefusalGround: "refusal_ground" {
        /// A legal obligation requires keeping or processing the data (art. 17(3)(b)).
        LegalObligation = "legal_obligation",
        /// The processing is necessary for a task in the public interest or in the exercise
        /// of official authority (art. 17(3)(b), art. 20(3)).
        PublicTask = "public_task",
        /// Archiving in the public interest under archive law (art. 17(3)(d), art. 89).
        ArchiveLaw = "archive_law",
        /// Compelling legitimate grounds that override the person's interests (art. 21(1)).
        CompellingGrounds = "compelling_grounds",
        /// Public safety or the prevention of offences, as a law restricting the right
        /// provides (art. 23(1)(c)-(d)).
        PublicSafety = "public_safety",
        /// Giving the data would harm the rights and freedoms of others (art. 15(4), 20(4)).
        RightsOfOthers = "rights_of_others",
        /// The right does not apply to this processing (e.g. portability of data not
        /// processed on consent or contract, art. 20(1)).
        NotApplicable = "not_applicable",
        /// The request is manifestly unfounded or excessive (art. 12(5)).
        ManifestlyUnfounded = "manifestly_unfounded",
    }
}

impl RefusalGround {
    /// The article the ground rests on, for the letter.
    pub fn article(self, right: Right) -> &'static str {
        match (self, right) {
            (RefusalGround::PublicTask, Right::Portability) => "art. 20(3)",
            (RefusalGround::NotApplicable, Right::Portability) => "art. 20(1)",
            (RefusalGround::NotApplicable, Right::Objection) => "art. 21(1)",
            (RefusalGround::NotApplicable, _) => right.article(),
            (RefusalGround::LegalObligation | RefusalGround::PublicTask, _) => "art. 17(3)(b)",
            (RefusalGround::ArchiveLaw, _) => "art. 17(3)(d)",
            (RefusalGround::CompellingGrounds, _) => "art. 21(1)",
            (RefusalGround::PublicSafety, _) => "art. 23(1)",
            (RefusalGround::RightsOfOthers, Right::Portability) => "art. 20(4)",
            (RefusalGround::RightsOfOthers, _) => "art. 15(4)",
            (RefusalGround::ManifestlyUnfounded, _) => "art. 12(5)",
        }
    }

    /// Whether the ground can refuse `right` at all.
    pub fn fits(self, right: Right) -> bool {
        use RefusalGround as G;
        match self {
            G::NotApplicable | G::ManifestlyUnfounded => true,
            G::LegalObligation | G::ArchiveLaw => {
                matches!(right, Right::Erasure | Right::Restriction)
            }
            G::PublicTask => matches!(right, Right::Erasure | Right::Portability),
            G::CompellingGrounds => right == Right::Objection,
            G::PublicSafety => matches!(
                right,
                Right::Objection | Right::Access | Right::Erasure | Right::Restriction
            ),
            G::RightsOfOthers => matches!(right, Right::Access | Right::Portability),
        }
    }
}

/// The decision on one right for one processing activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub right: Right,
    pub activity: String,
    pub outcome: Outcome,
    /// Required when the right is refused or partly granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grounds: Vec<RefusalGround>,
    /// Always given: the person reads why.
    pub motivation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("the decision on {right} for {activity} needs a motivation")]
    NoMotivation { right: Right, activity: String },
    #[error("a refusal of {right} for {activity} must name its ground")]
    NoGround { right: Right, activity: String },
    #[error("{right} for {activity} is granted, so it has no refusal ground")]
    GroundOnGrant { right: Right, activity: String },
    #[error("'{ground}' cannot refuse {right} ({activity})")]
    GroundDoesNotFit {
        ground: RefusalGround,
        right: Right,
        activity: String,
    },
    #[error("{right} was not asked for in this request")]
    NotAsked { right: Right },
    #[error("{right} for {activity} is decided twice")]
    Twice { right: Right, activity: String },
    #[error("{right} has no decision yet: decide it for at least one processing activity")]
    Undecided { right: Right },
}

impl Decision {
    /// Checks the decision on its own: a motivation, and grounds exactly when refused.
    pub fn check(&self) -> Result<(), DecisionError> {
        let (right, activity) = (self.right, self.activity.clone());
        if self.motivation.trim().is_empty() {
            return Err(DecisionError::NoMotivation { right, activity });
        }
        match self.outcome {
            Outcome::Granted if !self.grounds.is_empty() => {
                Err(DecisionError::GroundOnGrant { right, activity })
            }
            Outcome::Refused | Outcome::PartlyGranted if self.grounds.is_empty() => {
                Err(DecisionError::NoGround { right, activity })
            }
            _ => match self.grounds.iter().find(|g| !g.fits(right)) {
                Some(&ground) => Err(DecisionError::GroundDoesNotFit {
                    ground,
                    right,
                    activity,
                }),
                None => Ok(()),
            },
        }
    }

    /// Whether something is to be carried out.
    pub fn grants(&self) -> bool {
        self.outcome != Outcome::Refused
    }
}

/// Checks a request's decisions together: each valid, each for a right that was asked, no
/// right and activity twice, and every right asked decided at least once.
pub fn check_decisions(asked: &[Right], decisions: &[Decision]) -> Result<(), DecisionError> {
    let mut seen = std::collections::BTreeSet::new();
    for d in decisions {
        d.check()?;
        if !asked.contains(&d.right) {
            return Err(DecisionError::NotAsked { right: d.right });
        }
        if !seen.insert((d.right, d.activity.as_str())) {
            return Err(DecisionError::Twice {
                right: d.right,
                activity: d.activity.clone(),
            });
        }
    }
    match asked
        .iter()
        .find(|r| !decisions.iter().any(|d| d.right == **r))
    {
        Some(&right) => Err(DecisionError::Undecided { right }),
        None => Ok(()),
    }
}

/// What the register says the decision on `right` for `activity` should be, when it
/// decides it: the caseworker confirms or changes it. None when the case must be judged.
pub fn default_decision(right: Right, activity: &ProcessingActivity) -> Option<DefaultDecision> {
    let bases: Vec<LegalBasis> = activity.legal_bases.iter().map(|c| c.basis).collect();
    let has = |b: LegalBasis| bases.contains(&b);
    let public_task = has(LegalBasis::PublicInterest) || has(LegalBasis::OfficialAuthority);
    let archive_law = activity
        .retention
        .iter()
        .any(|s| matches!(s.rule, RetentionRule::ArchiveLaw { .. }));
    let refuse = |ground: RefusalGround, why: Text| {
        Some(DefaultDecision {
            outcome: Outcome::Refused,
            ground,
            motivation: why,
        })
    };
    match right {
        Right::Erasure if has(LegalBasis::LegalObligation) => refuse(
            RefusalGround::LegalObligation,
            text(
                "Wij moeten deze gegevens bewaren omdat een wettelijke verplichting dat oplegt.",
                "We must keep this data because a legal obligation requires it.",
                "Nous devons conserver ces données parce qu'une obligation légale l'impose.",
            ),
        ),
        Right::Erasure if archive_law => refuse(
            RefusalGround::ArchiveLaw,
            text(
                "De archiefwetgeving verplicht ons deze gegevens te bewaren.",
                "Archive law requires us to keep this data.",
                "La législation sur les archives nous oblige à conserver ces données.",
            ),
        ),
        Right::Erasure if public_task => refuse(
            RefusalGround::PublicTask,
            text(
                "Wij hebben deze gegevens nodig voor een taak van algemeen belang of openbaar \
                 gezag die ons is opgedragen.",
                "We need this data for a task in the public interest or in the exercise of \
                 official authority entrusted to us.",
                "Nous avons besoin de ces données pour une mission d'intérêt public ou relevant \
                 de l'autorité publique qui nous est confiée.",
            ),
        ),
        Right::Portability if !has(LegalBasis::Consent) && !has(LegalBasis::Contract) => {
            if public_task {
                refuse(
                    RefusalGround::PublicTask,
                    text(
                        "Het recht op overdraagbaarheid geldt niet voor een verwerking die nodig \
                         is voor een taak van algemeen belang of openbaar gezag.",
                        "The right to data portability does not apply to processing necessary \
                         for a task in the public interest or in the exercise of official \
                         authority.",
                        "Le droit à la portabilité ne s'applique pas au traitement nécessaire à \
                         une mission d'intérêt public ou relevant de l'autorité publique.",
                    ),
                )
            } else {
                refuse(
                    RefusalGround::NotApplicable,
                    text(
                        "Het recht op overdraagbaarheid geldt alleen voor gegevens die wij op \
                         basis van uw toestemming of een overeenkomst verwerken.",
                        "The right to data portability applies only to data we process on \
                         your consent or under a contract.",
                        "Le droit à la portabilité ne s'applique qu'aux données traitées sur la \
                         base de votre consentement ou d'un contrat.",
                    ),
                )
            }
        }
        Right::Objection if !public_task && !has(LegalBasis::LegitimateInterests) => refuse(
            RefusalGround::NotApplicable,
            text(
                "Het recht van bezwaar geldt alleen voor een verwerking voor een taak van \
                     algemeen belang of een gerechtvaardigd belang; rust de verwerking op uw \
                     toestemming, dan kunt u die intrekken.",
                "The right to object applies only to processing for a task in the public \
                     interest or a legitimate interest; where processing rests on your \
                     consent, you can withdraw it.",
                "Le droit d'opposition ne s'applique qu'au traitement fondé sur une mission \
                     d'intérêt public ou un intérêt légitime ; si le traitement repose sur \
                     votre consentement, vous pouvez le retirer.",
            ),
        ),
        Right::ConsentWithdrawal if !has(LegalBasis::Consent) => refuse(
            RefusalGround::NotApplicable,
            text(
                "Deze verwerking rust niet op uw toestemming; er is geen toestemming om in te \
                 trekken.",
                "This processing does not rest on your consent; there is no consent to \
                 withdraw.",
                "Ce traitement ne repose pas sur votre consentement ; il n'y a pas de \
                 consentement à retirer.",
            ),
        ),
        _ => None,
    }
}

/// The decisions the register supplies for a request asking `asked` of a controller with
/// `activities`, motivated in `lang`: for the caseworker to confirm, change or complete.
pub fn default_decisions(
    asked: &[Right],
    activities: &[ProcessingActivity],
    lang: Lang,
) -> Vec<Decision> {
    asked
        .iter()
        .flat_map(|right| {
            activities.iter().filter_map(move |activity| {
                default_decision(*right, activity).map(|d| Decision {
                    right: *right,
                    activity: activity.id.clone(),
                    outcome: d.outcome,
                    grounds: vec![d.ground],
                    motivation: d.motivation.show(lang).to_string(),
                })
            })
        })
        .collect()
}

fn text(nl: &str, en: &str, fr: &str) -> Text {
    Text::nl(nl)
        .with(crate::text::Lang::En, en)
        .with(crate::text::Lang::Fr, fr)
}

/// A decision the register supplies.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultDecision {
    pub outcome: Outcome,
    pub ground: RefusalGround,
    pub motivation: Text,
}

/// A step in the life of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The receipt went out (page and mail).
    Acknowledge,
    /// The requester is asked for more to prove who they are.
    RequestIdentity,
    /// The caseworker compared the ID with the inventory and is satisfied.
    VerifyIdentity,
    /// Decisions on every right asked.
    Decide,
    /// What was granted has been carried out.
    Fulfil,
    /// The closing letter went out.
    Close,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Acknowledge => "acknowledge",
            Step::RequestIdentity => "ask for proof of identity",
            Step::VerifyIdentity => "verify the identity",
            Step::Decide => "decide",
            Step::Fulfil => "fulfil",
            Step::Close => "close",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request that is {stage} cannot {step}: {why}")]
pub struct IllegalStep {
    pub stage: Stage,
    pub step: Step,
    pub why: &'static str,
}

/// Where a request goes after `step`, or why it cannot. `grants` says whether any decision
/// grants something (it decides between fulfilling and closing after a decision).
pub fn next_stage(stage: Stage, step: &Step, grants: bool) -> Result<Stage, IllegalStep> {
    use Stage as S;
    let illegal = |why| {
        Err(IllegalStep {
            stage,
            step: step.clone(),
            why,
        })
    };
    match (stage, step) {
        (S::Closed, _) => illegal("a closed request does not change"),
        (S::Received, Step::Acknowledge) => Ok(S::Acknowledged),
        (_, Step::Acknowledge) => illegal("the receipt was already sent"),
        (S::Acknowledged | S::IdentityRequested, Step::RequestIdentity) => Ok(S::IdentityRequested),
        (S::Received, Step::RequestIdentity | Step::VerifyIdentity) => {
            illegal("send the receipt first")
        }
        (
            S::IdentityVerified | S::Decided | S::Fulfilled,
            Step::RequestIdentity | Step::VerifyIdentity,
        ) => illegal("the identity is already verified"),
        (S::Acknowledged | S::IdentityRequested, Step::VerifyIdentity) => Ok(S::IdentityVerified),
        (S::IdentityVerified | S::Decided, Step::Decide) => Ok(S::Decided),
        (_, Step::Decide) if stage < S::IdentityVerified => {
            illegal("verify the requester's identity first")
        }
        (_, Step::Decide) => illegal("the request was already carried out"),
        (S::Decided, Step::Fulfil) if grants => Ok(S::Fulfilled),
        (S::Decided, Step::Fulfil) => illegal("every right was refused: close it instead"),
        (S::Fulfilled, Step::Fulfil) => illegal("the request was already carried out"),
        (_, Step::Fulfil) if stage < S::IdentityVerified => {
            illegal("no data is released before the identity is verified")
        }
        (_, Step::Fulfil) => illegal("decide first"),
        (S::Decided, Step::Close) if grants => illegal("carry out what was granted before closing"),
        // An identity never proven closes the request unfulfilled (art. 12(6)); a refusal
        // or a fulfilment closes it with its letter.
        (S::Acknowledged | S::IdentityRequested | S::Decided | S::Fulfilled, Step::Close) => {
            Ok(S::Closed)
        }
        (S::IdentityVerified, Step::Close) => illegal("decide first"),
        (_, Step::Close) => illegal("send the receipt first"),
    }
}

/// The DPV status of a request at `stage`. `grants` as for [`next_stage`]; `fulfilled`
/// whether it was carried out before closing.
pub fn dpv_status(stage: Stage, grants: bool, fulfilled: bool) -> DpvRequestStatus {
    use DpvRequestStatus as D;
    match stage {
        Stage::Received => D::Initiated,
        Stage::Acknowledged => D::Acknowledged,
        Stage::IdentityRequested => D::RequiresAction,
        Stage::IdentityVerified => D::Accepted,
        Stage::Decided if grants => D::Accepted,
        Stage::Decided => D::Rejected,
        Stage::Fulfilled => D::Fulfilled,
        Stage::Closed if fulfilled => D::Fulfilled,
        Stage::Closed if grants => D::Unfulfilled,
        Stage::Closed => D::Rejected,
    }
}

/// Whether personal data may leave kluis for this request at `stage`: only once the
/// identity is verified and something was granted.
pub fn may_release_data(stage: Stage, grants: bool) -> bool {
    grants && matches!(stage, Stage::Decided | Stage::Fulfilled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register_file;
    use time::macros::date;

    fn person() -> Requester {
        Requester {
            identity: SubjectIdentity {
                email: Some("an@example.be".parse().unwrap()),
                ..Default::default()
            },
            acting_for: ActingFor::Themselves,
            filed_by: None,
            email: Some("an@example.be".parse().unwrap()),
            postal_address: None,
            message: "Welke gegevens hebt u over mij?".into(),
        }
    }

    #[test]
    fn a_request_names_a_right_a_person_and_a_way_to_answer() {
        let today = date!(2026 - 12 - 02);
        assert_eq!(check_request(&[Right::Access], &person(), today), Ok(()));
        assert_eq!(
            check_request(&[], &person(), today),
            Err(RequestError::NoRight)
        );
        let mut nobody = person();
        nobody.identity = SubjectIdentity::default();
        assert!(matches!(
            check_request(&[Right::Access], &nobody, today),
            Err(RequestError::Identity(_))
        ));
        let mut silent = person();
        silent.email = None;
        assert_eq!(
            check_request(&[Right::Access], &silent, today),
            Err(RequestError::NoContact)
        );
        silent.postal_address = Some("Grote Markt 1, 8970 Poperinge".into());
        assert_eq!(check_request(&[Right::Access], &silent, today), Ok(()));
        let mut child = person();
        child.acting_for = ActingFor::Child;
        assert_eq!(
            check_request(&[Right::Access], &child, today),
            Err(RequestError::NoRepresentative)
        );
        child.filed_by = Some(person().identity);
        assert_eq!(check_request(&[Right::Access], &child, today), Ok(()));
        let mut both = person();
        both.filed_by = Some(person().identity);
        assert_eq!(
            check_request(&[Right::Access], &both, today),
            Err(RequestError::RepresentativeForThemselves)
        );
        let mut long = person();
        long.message = "x".repeat(MAX_MESSAGE_CHARS + 1);
        assert_eq!(
            check_request(&[Right::Access], &long, today),
            Err(RequestError::MessageTooLong)
        );
    }

    #[test]
    fn the_receipt_names_the_reference_the_rights_and_the_deadline() {
        let facts = ReceiptFacts {
            organisation: "Stad Voorbeeld",
            reference: "RQ-7K3M-Q9XD-2BTW",
            rights: &[Right::Access, Right::Erasure],
            received_on: date!(2026 - 03 - 05),
            due_on: date!(2026 - 04 - 07),
            status_url: "https://kluis.voorbeeld.be/rights/status/abc",
        };
        let mail = receipt_mail("an@example.be".parse().unwrap(), Lang::Nl, &facts);
        assert!(
            mail.subject.contains("RQ-7K3M-Q9XD-2BTW"),
            "{}",
            mail.subject
        );
        for expected in [
            "inzage, wissing",
            "7 april 2026",
            "5 maart 2026",
            facts.status_url,
        ] {
            assert!(
                mail.body_text.contains(expected),
                "{expected}: {}",
                mail.body_text
            );
        }
        let fr = receipt_mail("an@example.be".parse().unwrap(), Lang::Fr, &facts);
        assert!(
            fr.body_text.contains("accès, effacement"),
            "{}",
            fr.body_text
        );
    }

    #[test]
    fn notices_tell_the_reason_and_the_new_date() {
        let to = || "an@example.be".parse().unwrap();
        let extension = Notice::Extension {
            months: 2,
            reason: "Acht systemen te doorzoeken",
            due_on: date!(2026 - 06 - 05),
        };
        let mail = notice_letter(Lang::Nl, "Stad Voorbeeld", "RQ-1", &extension).mail(to());
        assert!(mail.subject.contains("RQ-1"), "{}", mail.subject);
        for expected in ["Acht systemen te doorzoeken", "5 juni 2026", "2 maanden"] {
            assert!(
                mail.body_text.contains(expected),
                "{expected}: {}",
                mail.body_text
            );
        }
        let identity = Notice::IdentityRequested {
            note: "Please send the front of your ID card.",
        };
        let mail = notice_letter(Lang::En, "City", "RQ-2", &identity).mail(to());
        assert!(
            mail.body_text
                .contains("Please send the front of your ID card.")
        );
        assert!(!mail.body_text.contains('{'), "{}", mail.body_text);
    }

    #[test]
    fn the_reminder_lists_overdue_requests_first_in_the_caseworkers_language() {
        let items = [
            ReminderItem {
                reference: "RQ-B",
                rights: &[Right::Access],
                due_on: date!(2026 - 12 - 04),
                urgency: Urgency::DueSoon(2),
            },
            ReminderItem {
                reference: "RQ-A",
                rights: &[Right::Erasure, Right::Objection],
                due_on: date!(2026 - 11 - 30),
                urgency: Urgency::Overdue(2),
            },
        ];
        let to = || "case@stad.be".parse().unwrap();
        let mail = reminder_mail(to(), Lang::Nl, &items, "https://kluis.stad.be/admin/rights");
        assert!(mail.subject.contains("1 te laat"), "{}", mail.subject);
        assert!(mail.subject.contains("2 wachten"), "{}", mail.subject);
        let overdue = mail
            .body_text
            .find("RQ-A")
            .expect("the overdue request is listed");
        let due = mail
            .body_text
            .find("RQ-B")
            .expect("the due request is listed");
        assert!(overdue < due, "overdue first:\n{}", mail.body_text);
        assert!(
            mail.body_text.contains("TE LAAT sinds 30 november 2026"),
            "{}",
            mail.body_text
        );
        assert!(
            mail.body_text.contains("vervalt op 4 december 2026"),
            "{}",
            mail.body_text
        );
        assert!(
            mail.body_text
                .contains("https://kluis.stad.be/admin/rights")
        );
        let fr = reminder_mail(to(), Lang::Fr, &items, "https://x");
        assert!(
            fr.body_text
                .contains("EN RETARD depuis le 30 novembre 2026"),
            "{}",
            fr.body_text
        );
    }

    #[test]
    fn the_closing_letter_motivates_each_decision_and_names_the_remedies_of_a_refusal() {
        let decisions = [
            Decision {
                right: Right::Access,
                activity: "camera".into(),
                outcome: Outcome::Granted,
                grounds: vec![],
                motivation: "U vindt uw gegevens in de bijlage.".into(),
            },
            Decision {
                right: Right::Erasure,
                activity: "camera".into(),
                outcome: Outcome::Refused,
                grounds: vec![RefusalGround::LegalObligation],
                motivation: "De beelden zijn bewijs in een lopend onderzoek.".into(),
            },
        ];
        let name = |id: &str| format!("Camerabewaking ({id})");
        let to = || "an@example.be".parse().unwrap();
        let authorities = [SupervisoryAuthority::Vtc, SupervisoryAuthority::Gba];
        let authorities = &authorities[..];
        let closing = |decisions, note| Closing {
            organisation: "Stad",
            reference: "RQ-9",
            decisions,
            note,
            authorities,
        };
        let mail =
            closing_letter(Lang::Nl, &closing(&decisions, "Brief verstuurd."), name).mail(to());
        assert!(mail.subject.contains("RQ-9"));
        for expected in [
            "inzage (art. 15), Camerabewaking (camera): toegekend.",
            "wissing (art. 17), Camerabewaking (camera): geweigerd. wettelijke verplichting (art. 17(3)(b)).",
            "De beelden zijn bewijs",
            "https://www.vlaamsetoezichtcommissie.be",
            "https://www.gegevensbeschermingsautoriteit.be",
            "rechtbank",
        ] {
            assert!(
                mail.body_text.contains(expected),
                "{expected}: {}",
                mail.body_text
            );
        }
        assert!(
            !mail.body_text.contains("Brief verstuurd"),
            "the note is staff's"
        );
        // All granted: no remedies paragraph.
        let granted = closing_letter(Lang::En, &closing(&decisions[..1], ""), name);
        assert!(!granted.body.contains("court"), "{}", granted.body);
        assert!(!granted.body.contains('{'), "{}", granted.body);
        // Closed without decisions: the reason no action was taken, and the remedies
        // (art. 12(4)), in every language.
        for lang in [Lang::Nl, Lang::En, Lang::Fr] {
            let none = closing_letter(
                lang,
                &closing(&[], "Geen kopie van de identiteitskaart."),
                name,
            );
            assert!(
                none.body.contains("Geen kopie van de identiteitskaart."),
                "{}",
                none.body
            );
            assert!(
                none.body
                    .contains("https://www.gegevensbeschermingsautoriteit.be"),
                "{}",
                none.body
            );
            assert!(none.body.contains("79"), "{}", none.body);
            assert!(!none.body.contains('{'), "{}", none.body);
        }
    }

    fn deadline(received: Date) -> Date {
        ResponseDeadline::new(received, Country::Be)
            .unwrap()
            .first_due_on
    }

    #[test]
    fn one_month_as_1182_71_counts_it() {
        // Thursday 5 March 2026 → Sunday 5 April (Easter) → Easter Monday → Tuesday 7 April.
        assert_eq!(deadline(date!(2026 - 03 - 05)), date!(2026 - 04 - 07));
        // 5 February 2026 → Thursday 5 March.
        assert_eq!(deadline(date!(2026 - 02 - 05)), date!(2026 - 03 - 05));
        // 31 January → 28 February 2026 (a Saturday) → Monday 2 March.
        assert_eq!(deadline(date!(2026 - 01 - 31)), date!(2026 - 03 - 02));
        // 31 January 2028 → Tuesday 29 February (leap year).
        assert_eq!(deadline(date!(2028 - 01 - 31)), date!(2028 - 02 - 29));
        // 11 October 2026 → 11 November, Armistice Day in Belgium only.
        assert_eq!(deadline(date!(2026 - 10 - 11)), date!(2026 - 11 - 12));
        let nl = ResponseDeadline::new(date!(2026 - 10 - 11), Country::Nl).unwrap();
        assert_eq!(nl.first_due_on, date!(2026 - 11 - 11));
    }

    #[test]
    fn one_extension_of_up_to_two_months_told_in_time() {
        let d = ResponseDeadline::new(date!(2026 - 03 - 05), Country::Be).unwrap();
        let extended = d
            .extend(2, "Veel systemen te doorzoeken", date!(2026 - 03 - 20))
            .unwrap();
        // 5 March + 3 months = Friday 5 June 2026.
        assert_eq!(extended.due_on(), date!(2026 - 06 - 05));
        assert_eq!(
            extended.extend(1, "nog eens", date!(2026 - 03 - 21)),
            Err(DeadlineError::AlreadyExtended)
        );
        assert_eq!(
            d.extend(3, "lang", date!(2026 - 03 - 20)),
            Err(DeadlineError::BadLength(3))
        );
        assert_eq!(
            d.extend(0, "x", date!(2026 - 03 - 20)),
            Err(DeadlineError::BadLength(0))
        );
        assert_eq!(
            d.extend(1, "  ", date!(2026 - 03 - 20)),
            Err(DeadlineError::NoReason)
        );
        assert!(matches!(
            d.extend(1, "te laat", date!(2026 - 04 - 08)),
            Err(DeadlineError::ToldTooLate { .. })
        ));
        // The last day of the (moved) first month is still in time.
        assert!(d.extend(1, "net op tijd", date!(2026 - 04 - 07)).is_ok());
        assert!(matches!(
            d.extend(1, "voor ontvangst", date!(2026 - 03 - 01)),
            Err(DeadlineError::ToldBeforeReceipt { .. })
        ));
    }

    #[test]
    fn overdue_and_due_soon() {
        let d = ResponseDeadline::new(date!(2026 - 02 - 05), Country::Be).unwrap();
        assert_eq!(d.due_on(), date!(2026 - 03 - 05));
        assert_eq!(d.urgency(date!(2026 - 02 - 20)), Urgency::OnTime);
        assert_eq!(d.urgency(date!(2026 - 02 - 26)), Urgency::DueSoon(7));
        assert_eq!(d.urgency(date!(2026 - 03 - 05)), Urgency::DueSoon(0));
        assert_eq!(d.urgency(date!(2026 - 03 - 07)), Urgency::Overdue(2));
    }

    #[test]
    fn the_happy_path() {
        let mut stage = Stage::Received;
        for step in [
            Step::Acknowledge,
            Step::RequestIdentity,
            Step::VerifyIdentity,
            Step::Decide,
            Step::Fulfil,
            Step::Close,
        ] {
            stage = next_stage(stage, &step, true).unwrap();
        }
        assert_eq!(stage, Stage::Closed);
        assert_eq!(dpv_status(stage, true, true), DpvRequestStatus::Fulfilled);
    }

    #[test]
    fn every_illegal_step_is_refused() {
        let steps = [
            Step::Acknowledge,
            Step::RequestIdentity,
            Step::VerifyIdentity,
            Step::Decide,
            Step::Fulfil,
            Step::Close,
        ];
        // What may follow each stage; everything else must be refused.
        let legal = |stage: Stage, step: &Step, grants: bool| -> bool {
            use Stage as S;
            matches!(
                (stage, step, grants),
                (S::Received, Step::Acknowledge, _)
                    | (
                        S::Acknowledged | S::IdentityRequested,
                        Step::RequestIdentity,
                        _
                    )
                    | (
                        S::Acknowledged | S::IdentityRequested,
                        Step::VerifyIdentity,
                        _
                    )
                    | (S::IdentityVerified | S::Decided, Step::Decide, _)
                    | (S::Decided, Step::Fulfil, true)
                    | (S::Decided, Step::Close, false)
                    | (
                        S::Acknowledged | S::IdentityRequested | S::Fulfilled,
                        Step::Close,
                        _
                    )
            )
        };
        for &stage in Stage::ALL {
            for step in &steps {
                for grants in [true, false] {
                    let result = next_stage(stage, step, grants);
                    assert_eq!(
                        result.is_ok(),
                        legal(stage, step, grants),
                        "{stage} + {step} (grants: {grants}): {result:?}"
                    );
                    if let Err(e) = result {
                        assert!(!e.to_string().is_empty());
                    }
                }
            }
        }
        // The two the issue names.
        let e = next_stage(Stage::Acknowledged, &Step::Fulfil, true).unwrap_err();
        assert_eq!(e.why, "no data is released before the identity is verified");
        let e = next_stage(Stage::Decided, &Step::Fulfil, false).unwrap_err();
        assert_eq!(e.why, "every right was refused: close it instead");
    }

    #[test]
    fn data_is_released_only_after_verification_and_a_grant() {
        for &stage in Stage::ALL {
            let allowed = may_release_data(stage, true);
            assert_eq!(
                allowed,
                matches!(stage, Stage::Decided | Stage::Fulfilled),
                "{stage}"
            );
            assert!(!may_release_data(stage, false));
        }
    }

    #[test]
    fn statuses_map_to_dpv() {
        use DpvRequestStatus as D;
        assert_eq!(dpv_status(Stage::Received, false, false), D::Initiated);
        assert_eq!(
            dpv_status(Stage::Acknowledged, false, false),
            D::Acknowledged
        );
        assert_eq!(
            dpv_status(Stage::IdentityRequested, false, false),
            D::RequiresAction
        );
        assert_eq!(dpv_status(Stage::Decided, false, false), D::Rejected);
        assert_eq!(dpv_status(Stage::Decided, true, false), D::Accepted);
        assert_eq!(dpv_status(Stage::Closed, true, false), D::Unfulfilled);
        assert_eq!(dpv_status(Stage::Closed, false, false), D::Rejected);
        assert_eq!(D::RequiresAction.dpv(), "dpv:RequestRequiresAction");
    }

    fn decision(right: Right, outcome: Outcome, grounds: Vec<RefusalGround>) -> Decision {
        Decision {
            right,
            activity: "camera".into(),
            outcome,
            grounds,
            motivation: "Zie de toelichting.".into(),
        }
    }

    #[test]
    fn decisions_are_motivated_and_refusals_name_a_fitting_ground() {
        use RefusalGround as G;
        assert!(
            decision(Right::Access, Outcome::Granted, vec![])
                .check()
                .is_ok()
        );
        let mut silent = decision(Right::Access, Outcome::Granted, vec![]);
        silent.motivation = " ".into();
        assert!(matches!(
            silent.check(),
            Err(DecisionError::NoMotivation { .. })
        ));
        assert!(matches!(
            decision(Right::Erasure, Outcome::Refused, vec![]).check(),
            Err(DecisionError::NoGround { .. })
        ));
        assert!(matches!(
            decision(Right::Erasure, Outcome::PartlyGranted, vec![]).check(),
            Err(DecisionError::NoGround { .. })
        ));
        assert!(matches!(
            decision(Right::Access, Outcome::Granted, vec![G::RightsOfOthers]).check(),
            Err(DecisionError::GroundOnGrant { .. })
        ));
        assert!(matches!(
            decision(Right::Erasure, Outcome::Refused, vec![G::CompellingGrounds]).check(),
            Err(DecisionError::GroundDoesNotFit { .. })
        ));
        assert!(
            decision(
                Right::Objection,
                Outcome::Refused,
                vec![G::CompellingGrounds]
            )
            .check()
            .is_ok()
        );
        assert!(
            decision(
                Right::Erasure,
                Outcome::PartlyGranted,
                vec![G::LegalObligation]
            )
            .check()
            .is_ok()
        );
    }

    #[test]
    fn a_request_decides_every_right_it_asked_once_per_activity() {
        let asked = [Right::Access, Right::Erasure];
        let access = decision(Right::Access, Outcome::Granted, vec![]);
        let erasure = decision(
            Right::Erasure,
            Outcome::Refused,
            vec![RefusalGround::PublicTask],
        );
        assert!(check_decisions(&asked, &[access.clone(), erasure.clone()]).is_ok());
        assert_eq!(
            check_decisions(&asked, std::slice::from_ref(&access)),
            Err(DecisionError::Undecided {
                right: Right::Erasure
            })
        );
        assert!(matches!(
            check_decisions(&asked, &[access.clone(), access.clone(), erasure.clone()]),
            Err(DecisionError::Twice { .. })
        ));
        assert_eq!(
            check_decisions(
                &[Right::Access],
                &[
                    access,
                    decision(Right::Portability, Outcome::Granted, vec![])
                ]
            ),
            Err(DecisionError::NotAsked {
                right: Right::Portability
            })
        );
    }

    #[test]
    fn the_register_supplies_default_refusals() {
        let register = register_file::parse(
            "limburg.yaml",
            include_str!("../../../examples/limburg.yaml"),
        )
        .expect("the Limburg example register");
        let activity = |id: &str| {
            register
                .activities
                .iter()
                .find(|a| a.id == id)
                .unwrap_or_else(|| panic!("{id} in examples/limburg.yaml"))
        };
        let newsletter = activity("limburg-nieuwsbrieven");
        assert_eq!(default_decision(Right::Erasure, newsletter), None);
        assert_eq!(default_decision(Right::Portability, newsletter), None);
        assert_eq!(
            default_decision(Right::Objection, newsletter).map(|d| d.ground),
            Some(RefusalGround::NotApplicable),
            "on consent: withdraw instead"
        );
        // Every activity with a legal obligation refuses erasure on that ground.
        for a in &register.activities {
            let bases: Vec<_> = a.legal_bases.iter().map(|c| c.basis).collect();
            let d = default_decision(Right::Erasure, a);
            if bases.contains(&LegalBasis::LegalObligation) {
                assert_eq!(
                    d.map(|d| d.ground),
                    Some(RefusalGround::LegalObligation),
                    "{}",
                    a.id
                );
            }
            let p = default_decision(Right::Portability, a);
            if (bases.contains(&LegalBasis::PublicInterest)
                || bases.contains(&LegalBasis::OfficialAuthority))
                && !bases.contains(&LegalBasis::Consent)
                && !bases.contains(&LegalBasis::Contract)
            {
                let p = p.expect("portability refused on public task");
                assert_eq!(p.ground, RefusalGround::PublicTask, "{}", a.id);
                assert_eq!(p.ground.article(Right::Portability), "art. 20(3)");
            }
            if !bases.contains(&LegalBasis::Consent) {
                assert_eq!(
                    default_decision(Right::ConsentWithdrawal, a).map(|d| d.ground),
                    Some(RefusalGround::NotApplicable)
                );
            }
        }
    }
}
