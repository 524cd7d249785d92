//! The consent ledger's rules: when consent may be recorded, what it must say, and whether
//! it allows processing now (GDPR art. 4(11), 7 and 8). The history of a person's consent
//! for a purpose is a list of events that is only ever appended to; its state is derived.

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use crate::i18n;
use crate::identifiers::EmailAddress;
use crate::legal::{Art9Condition, LegalBasis};
use crate::mail::OutgoingMail;
use crate::register::{ActivityStatus, ProcessingActivity};
use crate::text::Lang;

/// The longest consent text kept: the question as the person saw or heard it.
pub const MAX_NOTICE_CHARS: usize = 4_000;
/// The longest evidence reference (form id, scan reference, photographer's name).
pub const MAX_EVIDENCE_CHARS: usize = 500;

crate::vocabulary! {
    /// How the person gave consent (ISO/IEC TS 27560 "collection method").
    pub enum ConsentMethod: "consent_method" {
        /// A form on a website, with a box the person ticked themselves.
        WebForm = "web_form",
        /// A signed paper form; the evidence names the scan.
        PaperForm = "paper_form",
        /// An e-mail from the person.
        Email = "email",
        /// Said on the spot, e.g. to the photographer; the evidence names who heard it.
        Oral = "oral",
    }
}

crate::vocabulary! {
    /// What happened to a consent (ISO/IEC TS 27560 event types).
    pub enum ConsentEventKind: "consent_event" {
        Given = "given",
        /// Given again while still valid: a new text, a new statement version or a later end.
        Renewed = "renewed",
        Withdrawn = "withdrawn",
    }
}

crate::vocabulary! {
    /// Where the person withdrew: each as easy as giving (art. 7(3)).
    pub enum WithdrawalChannel: "withdrawal_channel" {
        /// The link in a mail (RFC 8058 one-click).
        OneClick = "one_click",
        /// The citizen portal, after confirming the e-mail address.
        Portal = "portal",
        /// A staff member, at the person's request (desk, phone, letter).
        Staff = "staff",
    }
}

crate::vocabulary! {
    /// Where a consent stands now.
    pub enum ConsentState: "consent_state" {
        Given = "given",
        Renewed = "renewed",
        Withdrawn = "withdrawn",
        /// Given with an end date that has passed.
        Expired = "expired",
    }
}

impl ConsentState {
    /// Whether processing may go on in this state.
    pub fn allows_processing(self) -> bool {
        matches!(self, ConsentState::Given | ConsentState::Renewed)
    }
}

/// Who gave consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GivenBy {
    /// The person themselves.
    Subject,
    /// A parent or guardian recorded for the person, for a child under 16 (art. 8).
    Guardian,
}

/// Consent as recorded: what the person agreed to, how, and the proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentGiven {
    pub method: ConsentMethod,
    /// That the person acted: ticked an empty box, signed, wrote or said yes. Silence,
    /// inactivity and pre-ticked boxes are not consent (recital 32), so `false` is refused.
    pub affirmative_act: bool,
    /// The consent question exactly as the person saw or heard it.
    pub notice_text: String,
    pub language: Lang,
    /// The privacy statement version in force when the person consented.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_version: Option<i64>,
    /// The form id, the scan of the signed paper, the message id, who heard it.
    pub evidence: String,
    /// When the consent ends by itself, if it does; it is asked again after that.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Date>,
}

/// What the store knows about the person when consent is given, for the rules of art. 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsentFacts {
    /// Whether the person is under 16 today; `None` when the birth date is unknown.
    pub subject_is_child: Option<bool>,
    pub given_by: GivenBy,
    /// Whether the one giving consent for a guardian is recorded as this person's guardian.
    pub guardian_is_recorded: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error(
        "processing activity '{activity}' rests on {bases}, not on consent: consent cannot be \
         recorded for it. Record consent only for an activity whose legal basis is consent \
         (art. 6(1)(a)), or ask the DPO to correct the register"
    )]
    NotBasedOnConsent { activity: String, bases: String },
    #[error(
        "processing activity '{0}' is retired: it cannot collect new consent; choose an active \
         activity"
    )]
    ActivityRetired(String),
    #[error(
        "consent must be an affirmative act: silence, inactivity or a pre-ticked box is not \
         consent (GDPR recital 32); record it only once the person has said or ticked yes"
    )]
    NotAffirmative,
    #[error("the consent text the person saw is missing: record the question as it was asked")]
    NoNoticeText,
    #[error("the consent text is longer than {MAX_NOTICE_CHARS} characters")]
    NoticeTooLong,
    #[error(
        "the evidence is missing: name the form id, the scan of the signed paper, the message \
         or who heard the person say yes"
    )]
    NoEvidence,
    #[error("the evidence is longer than {MAX_EVIDENCE_CHARS} characters")]
    EvidenceTooLong,
    #[error(
        "the end of validity {0} is not after today: consent that has already ended cannot be given"
    )]
    ValidUntilPast(Date),
    #[error(
        "the person is under 16: a parent or guardian gives consent for them (art. 8); record \
         the parent as the person's guardian and give consent as the guardian"
    )]
    ChildNeedsGuardian,
    #[error(
        "the one consenting is not recorded as this person's parent or guardian: record the \
         guardianship first"
    )]
    NotTheGuardian,
    #[error("there is no consent to withdraw for this person and purpose")]
    NothingToWithdraw,
}

/// Whether `activity` may ask consent at all: its legal basis is consent, or explicit
/// consent lifts the ban on its special categories (art. 9(2)(a)).
pub fn check_activity(activity: &ProcessingActivity) -> Result<(), ConsentError> {
    if activity.status == ActivityStatus::Retired {
        return Err(ConsentError::ActivityRetired(activity.id.clone()));
    }
    let on_consent = activity
        .legal_bases
        .iter()
        .any(|claim| claim.basis == LegalBasis::Consent)
        || activity
            .special_categories
            .iter()
            .any(|claim| claim.condition == Some(Art9Condition::ExplicitConsent));
    if on_consent {
        return Ok(());
    }
    let bases = activity
        .legal_bases
        .iter()
        .map(|claim| claim.basis.name())
        .collect::<Vec<_>>()
        .join(", ");
    Err(ConsentError::NotBasedOnConsent {
        activity: activity.id.clone(),
        bases: if bases.is_empty() {
            "no legal basis".into()
        } else {
            bases
        },
    })
}

impl ConsentGiven {
    /// Checks that this consent may be recorded for `activity` today.
    pub fn check(
        &self,
        activity: &ProcessingActivity,
        facts: ConsentFacts,
        today: Date,
    ) -> Result<(), ConsentError> {
        check_activity(activity)?;
        if !self.affirmative_act {
            return Err(ConsentError::NotAffirmative);
        }
        if self.notice_text.trim().is_empty() {
            return Err(ConsentError::NoNoticeText);
        }
        if self.notice_text.chars().count() > MAX_NOTICE_CHARS {
            return Err(ConsentError::NoticeTooLong);
        }
        if self.evidence.trim().is_empty() {
            return Err(ConsentError::NoEvidence);
        }
        if self.evidence.chars().count() > MAX_EVIDENCE_CHARS {
            return Err(ConsentError::EvidenceTooLong);
        }
        if let Some(until) = self.valid_until
            && until <= today
        {
            return Err(ConsentError::ValidUntilPast(until));
        }
        match facts.given_by {
            GivenBy::Guardian if !facts.guardian_is_recorded => Err(ConsentError::NotTheGuardian),
            GivenBy::Subject if facts.subject_is_child == Some(true) => {
                Err(ConsentError::ChildNeedsGuardian)
            }
            _ => Ok(()),
        }
    }
}

/// What the receipt names: the purpose as the register describes it.
pub struct ReceiptFacts<'a> {
    pub organisation: &'a str,
    pub purpose: &'a str,
    /// How to withdraw, in the register's words.
    pub withdrawal: &'a str,
    /// The one-click link that withdraws this consent.
    pub unsubscribe_url: String,
}

/// The receipt mailed when consent is given: what was agreed to, and how to withdraw it,
/// in the language the person consented in.
pub fn receipt_mail(
    to: EmailAddress,
    given: &ConsentGiven,
    activity: &str,
    facts: ReceiptFacts<'_>,
) -> OutgoingMail {
    let lang = given.language;
    let args = [
        ("organisation", facts.organisation),
        ("purpose", facts.purpose),
        ("notice", given.notice_text.as_str()),
        ("withdrawal", facts.withdrawal),
    ];
    OutgoingMail {
        to,
        subject: i18n::tf(lang, "consent_mail.receipt_subject", &args),
        body_text: i18n::tf(lang, "consent_mail.receipt_body", &args),
        activity: Some(activity.to_string()),
        unsubscribe_url: Some(facts.unsubscribe_url),
    }
}

/// One event of a consent's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentEvent {
    pub kind: ConsentEventKind,
    pub at: OffsetDateTime,
    /// The end of validity the event set (given/renewed only).
    pub valid_until: Option<Date>,
}

/// The state after `events` (oldest first) as of `now`, or `None` when nothing was ever
/// given. A consent whose end of validity lies before today has expired.
pub fn state_after(events: &[ConsentEvent], now: OffsetDateTime) -> Option<ConsentState> {
    let last = events.last()?;
    Some(match last.kind {
        ConsentEventKind::Withdrawn => ConsentState::Withdrawn,
        _ if last.valid_until.is_some_and(|until| until < now.date()) => ConsentState::Expired,
        ConsentEventKind::Given => ConsentState::Given,
        ConsentEventKind::Renewed => ConsentState::Renewed,
    })
}

/// Whether giving consent now is a first (or new) consent or a renewal of a valid one.
pub fn next_given_kind(current: Option<ConsentState>) -> ConsentEventKind {
    match current {
        Some(state) if state.allows_processing() => ConsentEventKind::Renewed,
        _ => ConsentEventKind::Given,
    }
}

/// Whether the stored state and end of validity allow processing at `now`: the check the
/// consent API answers.
pub fn allows(state: ConsentState, valid_until: Option<Date>, now: OffsetDateTime) -> bool {
    state.allows_processing() && valid_until.is_none_or(|until| until >= now.date())
}

/// What a signed link lets its holder do, without login or cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentLink {
    /// Withdraw one consent: the consent's id and the number of the given/renewed event the
    /// link was made for, so a link from an old mail cannot withdraw consent given later.
    Unsubscribe {
        consent: [u8; 16],
        given_event: i64,
        expires_at: i64,
    },
    /// See and withdraw the consents of a confirmed e-mail address, for a short while.
    Portal { email: String, expires_at: i64 },
}

/// How long a link in a mail withdraws: long enough for an old newsletter, and the page
/// then points to the portal.
pub const UNSUBSCRIBE_LINK_DAYS: i64 = 2 * 366;
/// How long a portal link works after the person asked for it.
pub const PORTAL_LINK_MINUTES: i64 = 60;

const LINK_VERSION: u8 = 1;
const KIND_UNSUBSCRIBE: u8 = b'u';
const KIND_PORTAL: u8 = b'p';

/// Why a link is refused. The person is told only that the link does not work, never
/// whether someone is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("this link is not valid: it may be incomplete; copy the whole link from the mail")]
    Invalid,
    #[error("this link has expired: ask for a new one on the consent page")]
    Expired,
    #[error("this link belongs to an earlier consent; use the link in a more recent mail")]
    Superseded,
}

impl ConsentLink {
    pub fn expires_at(&self) -> i64 {
        match self {
            ConsentLink::Unsubscribe { expires_at, .. }
            | ConsentLink::Portal { expires_at, .. } => *expires_at,
        }
    }

    /// The bytes the link signs: version, kind, expiry, then the kind's fields.
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = vec![LINK_VERSION];
        match self {
            ConsentLink::Unsubscribe {
                consent,
                given_event,
                expires_at,
            } => {
                out.push(KIND_UNSUBSCRIBE);
                out.extend_from_slice(&expires_at.to_be_bytes());
                out.extend_from_slice(consent);
                out.extend_from_slice(&given_event.to_be_bytes());
            }
            ConsentLink::Portal { email, expires_at } => {
                out.push(KIND_PORTAL);
                out.extend_from_slice(&expires_at.to_be_bytes());
                out.extend_from_slice(email.as_bytes());
            }
        }
        out
    }

    /// The link from a payload whose signature was checked, refused when it has expired.
    pub fn from_payload(payload: &[u8], now: OffsetDateTime) -> Result<ConsentLink, LinkError> {
        let [LINK_VERSION, kind, rest @ ..] = payload else {
            return Err(LinkError::Invalid);
        };
        let (expires, rest) = rest.split_first_chunk::<8>().ok_or(LinkError::Invalid)?;
        let expires_at = i64::from_be_bytes(*expires);
        let link = match *kind {
            KIND_UNSUBSCRIBE => {
                let (consent, rest) = rest.split_first_chunk::<16>().ok_or(LinkError::Invalid)?;
                let given: [u8; 8] = rest.try_into().map_err(|_| LinkError::Invalid)?;
                ConsentLink::Unsubscribe {
                    consent: *consent,
                    given_event: i64::from_be_bytes(given),
                    expires_at,
                }
            }
            KIND_PORTAL => ConsentLink::Portal {
                email: String::from_utf8(rest.to_vec()).map_err(|_| LinkError::Invalid)?,
                expires_at,
            },
            _ => return Err(LinkError::Invalid),
        };
        if now.unix_timestamp() > expires_at {
            return Err(LinkError::Expired);
        }
        Ok(link)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::ProcessingActivity;
    use time::macros::{date, datetime};

    fn activity(yaml_bases: &str) -> ProcessingActivity {
        let yaml = format!(
            "id: nieuwsbrief\ncontroller: stad\nname: {{nl: Nieuwsbrief}}\npurposes: [{{nl: Nieuws}}]\n\
             legal_bases: [{yaml_bases}]\n\
             consent: {{withdrawal: {{nl: Via de link}}, parental_for_minors: true}}\n\
             data_categories: [contact]\nsubject_categories: [subscribers]\nsources: [data_subject]\n\
             recipients: []\nretention: [{{key: inschrijving, rule: {{until_withdrawal: {{}}}}}}]\n"
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    fn given() -> ConsentGiven {
        ConsentGiven {
            method: ConsentMethod::WebForm,
            affirmative_act: true,
            notice_text: "Ja, stuur mij de nieuwsbrief".into(),
            language: Lang::Nl,
            statement_version: Some(3),
            evidence: "form 2026-118".into(),
            valid_until: None,
        }
    }

    const ADULT: ConsentFacts = ConsentFacts {
        subject_is_child: Some(false),
        given_by: GivenBy::Subject,
        guardian_is_recorded: false,
    };
    const TODAY: Date = date!(2026 - 11 - 23);

    #[test]
    fn consent_is_recorded_only_for_activities_based_on_consent() {
        assert_eq!(
            given().check(&activity("{basis: consent}"), ADULT, TODAY),
            Ok(())
        );
        let err = given()
            .check(&activity("{basis: public_interest}"), ADULT, TODAY)
            .unwrap_err();
        assert!(matches!(err, ConsentError::NotBasedOnConsent { .. }));
        assert!(err.to_string().contains("public_interest"), "{err}");
    }

    #[test]
    fn silence_a_missing_text_or_missing_evidence_is_not_consent() {
        let act = activity("{basis: consent}");
        let mut c = given();
        c.affirmative_act = false;
        assert_eq!(
            c.check(&act, ADULT, TODAY),
            Err(ConsentError::NotAffirmative)
        );
        let mut c = given();
        c.notice_text = "  ".into();
        assert_eq!(c.check(&act, ADULT, TODAY), Err(ConsentError::NoNoticeText));
        let mut c = given();
        c.evidence = String::new();
        assert_eq!(c.check(&act, ADULT, TODAY), Err(ConsentError::NoEvidence));
        let mut c = given();
        c.valid_until = Some(TODAY);
        assert_eq!(
            c.check(&act, ADULT, TODAY),
            Err(ConsentError::ValidUntilPast(TODAY))
        );
    }

    #[test]
    fn a_child_under_16_consents_through_a_recorded_guardian() {
        let act = activity("{basis: consent}");
        let child = ConsentFacts {
            subject_is_child: Some(true),
            ..ADULT
        };
        assert_eq!(
            given().check(&act, child, TODAY),
            Err(ConsentError::ChildNeedsGuardian)
        );
        let stranger = ConsentFacts {
            given_by: GivenBy::Guardian,
            ..child
        };
        assert_eq!(
            given().check(&act, stranger, TODAY),
            Err(ConsentError::NotTheGuardian)
        );
        let parent = ConsentFacts {
            guardian_is_recorded: true,
            ..stranger
        };
        assert_eq!(given().check(&act, parent, TODAY), Ok(()));
    }

    #[test]
    fn state_follows_the_last_event_and_the_end_of_validity() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let ev = |kind, valid_until| ConsentEvent {
            kind,
            at: now,
            valid_until,
        };
        assert_eq!(state_after(&[], now), None);
        let mut history = vec![ev(ConsentEventKind::Given, None)];
        assert_eq!(state_after(&history, now), Some(ConsentState::Given));
        history.push(ev(ConsentEventKind::Withdrawn, None));
        assert_eq!(state_after(&history, now), Some(ConsentState::Withdrawn));
        assert_eq!(
            next_given_kind(state_after(&history, now)),
            ConsentEventKind::Given
        );
        history.push(ev(ConsentEventKind::Given, Some(date!(2026 - 11 - 22))));
        assert_eq!(state_after(&history, now), Some(ConsentState::Expired));
        assert!(!allows(
            ConsentState::Given,
            Some(date!(2026 - 11 - 22)),
            now
        ));
        assert!(allows(
            ConsentState::Renewed,
            Some(date!(2026 - 11 - 23)),
            now
        ));
        assert!(!allows(ConsentState::Withdrawn, None, now));
        assert_eq!(
            next_given_kind(Some(ConsentState::Given)),
            ConsentEventKind::Renewed
        );
    }

    #[test]
    fn the_receipt_repeats_the_question_and_says_how_to_withdraw() {
        let mail = receipt_mail(
            "an@example.be".parse().unwrap(),
            &given(),
            "nieuwsbrief",
            ReceiptFacts {
                organisation: "Stad Hasselt",
                purpose: "Nieuwsbrief",
                withdrawal: "via de link in elke nieuwsbrief",
                unsubscribe_url: "https://privacy.hasselt.be/consent/unsubscribe/x".into(),
            },
        );
        assert_eq!(mail.subject, "Bevestiging van je toestemming: Nieuwsbrief");
        assert!(
            mail.body_text.contains("Ja, stuur mij de nieuwsbrief"),
            "{}",
            mail.body_text
        );
        assert!(mail.body_text.contains("via de link in elke nieuwsbrief"));
        assert_eq!(mail.activity.as_deref(), Some("nieuwsbrief"));
        assert!(mail.unsubscribe_url.is_some());
    }

    #[test]
    fn links_round_trip_and_expire() {
        let now = datetime!(2026-11-23 10:00 UTC);
        let link = ConsentLink::Unsubscribe {
            consent: [7; 16],
            given_event: 3,
            expires_at: now.unix_timestamp() + 60,
        };
        let payload = link.to_payload();
        assert_eq!(ConsentLink::from_payload(&payload, now), Ok(link));
        let later = now + time::Duration::seconds(61);
        assert_eq!(
            ConsentLink::from_payload(&payload, later),
            Err(LinkError::Expired)
        );
        for len in 0..payload.len() {
            assert_eq!(
                ConsentLink::from_payload(&payload[..len], now),
                Err(LinkError::Invalid),
                "truncated to {len}"
            );
        }
        let portal = ConsentLink::Portal {
            email: "an@example.be".into(),
            expires_at: now.unix_timestamp() + 60,
        };
        assert_eq!(
            ConsentLink::from_payload(&portal.to_payload(), now),
            Ok(portal)
        );
    }
}
