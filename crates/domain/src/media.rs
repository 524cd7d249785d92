//! Photos and video in the media database: which images need the consent of the people on
//! them, and when a published image must be taken down.
//!
//! Targeted images, where identifiable people are the subject (close-ups, portraits), rest
//! on each person's explicit consent, a parent's for a child under 16, for taking and for
//! publishing. Overview images (atmosphere, crowds) need no consent, but a person who asks
//! to be removed is honoured. A published item must come down when the consent of a person
//! on a targeted item no longer allows processing, or when someone asked for its removal.

use serde::{Deserialize, Serialize};
use time::Date;

use crate::consent::{self, ConsentError};
use crate::legal::Art9Condition;
use crate::register::{ActivityStatus, ProcessingActivity};

/// The longest title kept.
pub const MAX_TITLE_CHARS: usize = 200;
/// The longest reference kept: a URL or an archive id.
pub const MAX_REFERENCE_CHARS: usize = 2_000;
/// The longest note on a removal request.
pub const MAX_NOTE_CHARS: usize = 2_000;

crate::vocabulary! {
    /// What a photo or video shows.
    pub enum MediaKind: "media_kind" {
        /// Identifiable people are the subject (close-up, portrait): each needs to consent.
        Targeted = "targeted",
        /// Atmosphere or a crowd, nobody singled out: no consent needed, removal on request.
        Overview = "overview",
    }
}

crate::vocabulary! {
    /// Why a published item must be taken down.
    pub enum TakeDownReason: "take_down_reason" {
        /// A person on a targeted item withdrew consent, or it expired.
        ConsentEnded = "consent_ended",
        /// Someone asked for the item to be removed.
        RemovalRequested = "removal_requested",
    }
}

crate::vocabulary! {
    /// How a person asked for an item to be removed.
    pub enum RemovalChannel: "removal_channel" {
        /// To the photographer or the organiser, during the shoot.
        OnTheSpot = "on_the_spot",
        Email = "email",
        Letter = "letter",
        Phone = "phone",
        /// At the desk of the authority.
        Desk = "desk",
    }
}

/// A photo or video as staff record it in the media database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMediaItem {
    pub title: String,
    pub kind: MediaKind,
    /// The processing activity (purpose) the item is used for, e.g. promotion.
    pub activity: String,
    pub taken_on: Date,
    /// Where the item is kept: a URL or an archive id in the media database.
    pub reference: String,
    /// When the item was published (website, social media, print); none while it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_on: Option<Date>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    #[error("the title is missing: give the item a title staff recognise it by")]
    NoTitle,
    #[error("the title is longer than {MAX_TITLE_CHARS} characters")]
    TitleTooLong,
    #[error("the reference is missing: give the URL or the archive id where the item is kept")]
    NoReference,
    #[error("the reference is longer than {MAX_REFERENCE_CHARS} characters")]
    ReferenceTooLong,
    #[error("the note is longer than {MAX_NOTE_CHARS} characters")]
    NoteTooLong,
    #[error("taken_on {0} lies in the future: give the date the photo or video was made")]
    TakenInFuture(Date),
    #[error(
        "published_on {0} lies in the future: record the publication date once the item is out"
    )]
    PublishedInFuture(Date),
    #[error("published_on {published} is before taken_on {taken}: check both dates")]
    PublishedBeforeTaken { published: Date, taken: Date },
    #[error("processing activity '{0}' is retired: file the item under an active activity")]
    ActivityRetired(String),
    #[error(
        "a targeted image shows identifiable people and rests on their consent, but processing \
         activity '{activity}' rests on {bases}: file it under an activity based on consent \
         (such as promotional photos), or record it as an overview image if nobody is singled out"
    )]
    TargetedWithoutConsentBasis { activity: String, bases: String },
    #[error(
        "a targeted image needs explicit consent, but the register does not say that processing \
         activity '{0}' asks for it: once its consent question is explicit, set \
         consent.explicit: true in the activity's register entry"
    )]
    ConsentNotExplicit(String),
    #[error(
        "this person has no valid consent for '{0}' (never given, withdrawn or expired), so a \
         targeted image may not show them: record their explicit consent first (a parent's for \
         a child under 16), or leave them off the image"
    )]
    NoConsent(String),
    #[error("this item was never published: there is nothing to take down")]
    NotPublished,
}

impl NewMediaItem {
    /// Checks that the item may be recorded under `activity` today.
    pub fn check(&self, activity: &ProcessingActivity, today: Date) -> Result<(), MediaError> {
        let title = self.title.trim();
        if title.is_empty() {
            return Err(MediaError::NoTitle);
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(MediaError::TitleTooLong);
        }
        let reference = self.reference.trim();
        if reference.is_empty() {
            return Err(MediaError::NoReference);
        }
        if reference.chars().count() > MAX_REFERENCE_CHARS {
            return Err(MediaError::ReferenceTooLong);
        }
        if self.taken_on > today {
            return Err(MediaError::TakenInFuture(self.taken_on));
        }
        if let Some(published) = self.published_on {
            if published > today {
                return Err(MediaError::PublishedInFuture(published));
            }
            if published < self.taken_on {
                return Err(MediaError::PublishedBeforeTaken {
                    published,
                    taken: self.taken_on,
                });
            }
        }
        check_activity(self.kind, activity)
    }
}

/// Whether items of `kind` may be filed under `activity`: never a retired one, and a
/// targeted item only under an activity that asks explicit consent.
pub fn check_activity(kind: MediaKind, activity: &ProcessingActivity) -> Result<(), MediaError> {
    if activity.status == ActivityStatus::Retired {
        return Err(MediaError::ActivityRetired(activity.id.clone()));
    }
    if kind == MediaKind::Overview {
        return Ok(());
    }
    consent::check_activity(activity).map_err(|e| match e {
        ConsentError::NotBasedOnConsent { activity, bases } => {
            MediaError::TargetedWithoutConsentBasis { activity, bases }
        }
        _ => MediaError::ActivityRetired(activity.id.clone()),
    })?;
    let explicit = activity.consent.as_ref().is_some_and(|t| t.explicit)
        || activity
            .special_categories
            .iter()
            .any(|claim| claim.condition == Some(Art9Condition::ExplicitConsent));
    if explicit {
        Ok(())
    } else {
        Err(MediaError::ConsentNotExplicit(activity.id.clone()))
    }
}

/// Whether a person may be linked to an item of `kind` under `activity`.
/// `consent_allows`: whether the person's consent for the activity allows processing now
/// (the store reads it in the transaction that links).
pub fn check_link(
    kind: MediaKind,
    activity: &ProcessingActivity,
    consent_allows: bool,
) -> Result<(), MediaError> {
    check_activity(kind, activity)?;
    if kind == MediaKind::Targeted && !consent_allows {
        return Err(MediaError::NoConsent(activity.id.clone()));
    }
    Ok(())
}

/// Checks the note of a removal request.
pub fn check_removal_note(note: Option<&str>) -> Result<(), MediaError> {
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(MediaError::NoteTooLong);
    }
    Ok(())
}

/// Whether an item is out in the world: published and not taken down.
pub fn is_published(published_on: Option<Date>, taken_down: bool) -> bool {
    published_on.is_some() && !taken_down
}

/// Whether an item may be marked taken down: it was published. Marking an item already
/// taken down again changes nothing, so it is not an error.
pub fn check_take_down(published_on: Option<Date>) -> Result<(), MediaError> {
    if published_on.is_none() {
        return Err(MediaError::NotPublished);
    }
    Ok(())
}

/// What kluis knows of an item when deciding whether it must come down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaFacts {
    pub kind: MediaKind,
    pub published_on: Option<Date>,
    pub taken_down: bool,
    /// For each person linked to the item: whether their consent for the item's activity
    /// allows processing now.
    pub linked_consents_allow: Vec<bool>,
    /// Removal requests recorded since the item was published (all of them until it is
    /// taken down).
    pub open_removal_requests: usize,
}

/// Why the item must be taken down now; empty when it may stay.
pub fn take_down_reasons(facts: &MediaFacts) -> Vec<TakeDownReason> {
    let mut reasons = Vec::new();
    if !is_published(facts.published_on, facts.taken_down) {
        return reasons;
    }
    if facts.kind == MediaKind::Targeted && facts.linked_consents_allow.iter().any(|a| !a) {
        reasons.push(TakeDownReason::ConsentEnded);
    }
    if facts.open_removal_requests > 0 {
        reasons.push(TakeDownReason::RemovalRequested);
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 23);

    fn activity(bases: &str, consent: &str) -> ProcessingActivity {
        let yaml = format!(
            "id: promotie\ncontroller: stad\nname: {{nl: Promotiebeelden}}\npurposes: [{{nl: Promotie}}]\n\
             legal_bases: [{bases}]\n{consent}\
             data_categories: [sound_image]\nsubject_categories: [participants]\nsources: [data_subject]\n\
             recipients: []\nretention: [{{key: beelden, rule: {{until_withdrawal: {{}}}}}}]\n"
        );
        serde_saphyr::from_str(&yaml).unwrap()
    }

    fn promotion() -> ProcessingActivity {
        activity(
            "{basis: consent}",
            "consent: {withdrawal: {nl: Spreek de fotograaf aan}, explicit: true, parental_for_minors: true}\n",
        )
    }

    fn item(kind: MediaKind) -> NewMediaItem {
        NewMediaItem {
            title: "Opening provinciehuis".into(),
            kind,
            activity: "promotie".into(),
            taken_on: date!(2026 - 11 - 20),
            reference: "mediahaven:MH-2026-0042".into(),
            published_on: Some(date!(2026 - 11 - 21)),
        }
    }

    #[test]
    fn kinds_parse_and_unknown_kinds_say_what_is_allowed() {
        assert_eq!("targeted".parse::<MediaKind>(), Ok(MediaKind::Targeted));
        let err = "closeup".parse::<MediaKind>().unwrap_err().to_string();
        assert!(err.contains("targeted, overview"), "{err}");
    }

    #[test]
    fn items_need_a_title_a_reference_and_sensible_dates() {
        let act = promotion();
        assert_eq!(item(MediaKind::Targeted).check(&act, TODAY), Ok(()));
        let mut i = item(MediaKind::Overview);
        i.title = " ".into();
        assert_eq!(i.check(&act, TODAY), Err(MediaError::NoTitle));
        let mut i = item(MediaKind::Overview);
        i.reference = String::new();
        assert_eq!(i.check(&act, TODAY), Err(MediaError::NoReference));
        let mut i = item(MediaKind::Overview);
        i.title = "x".repeat(MAX_TITLE_CHARS + 1);
        assert_eq!(i.check(&act, TODAY), Err(MediaError::TitleTooLong));
        let mut i = item(MediaKind::Overview);
        i.taken_on = date!(2026 - 11 - 24);
        i.published_on = None;
        assert_eq!(
            i.check(&act, TODAY),
            Err(MediaError::TakenInFuture(date!(2026 - 11 - 24)))
        );
        let mut i = item(MediaKind::Overview);
        i.published_on = Some(date!(2026 - 11 - 19));
        assert!(matches!(
            i.check(&act, TODAY),
            Err(MediaError::PublishedBeforeTaken { .. })
        ));
        let mut i = item(MediaKind::Overview);
        i.published_on = Some(date!(2026 - 12 - 01));
        assert!(matches!(
            i.check(&act, TODAY),
            Err(MediaError::PublishedInFuture(_))
        ));
    }

    #[test]
    fn targeted_items_rest_on_explicit_consent_and_overview_items_on_anything() {
        let camera = activity("{basis: public_interest}", "");
        let err = item(MediaKind::Targeted).check(&camera, TODAY).unwrap_err();
        assert!(
            matches!(err, MediaError::TargetedWithoutConsentBasis { .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("public_interest"), "{err}");
        assert_eq!(item(MediaKind::Overview).check(&camera, TODAY), Ok(()));

        let implicit = activity(
            "{basis: consent}",
            "consent: {withdrawal: {nl: Via de link}}\n",
        );
        assert_eq!(
            item(MediaKind::Targeted).check(&implicit, TODAY),
            Err(MediaError::ConsentNotExplicit("promotie".into()))
        );

        let mut retired = promotion();
        retired.status = ActivityStatus::Retired;
        for kind in MediaKind::ALL {
            assert_eq!(
                item(*kind).check(&retired, TODAY),
                Err(MediaError::ActivityRetired("promotie".into()))
            );
        }
    }

    #[test]
    fn linking_a_person_to_a_targeted_item_needs_their_consent_now() {
        let act = promotion();
        assert_eq!(check_link(MediaKind::Targeted, &act, true), Ok(()));
        let err = check_link(MediaKind::Targeted, &act, false).unwrap_err();
        assert_eq!(err, MediaError::NoConsent("promotie".into()));
        assert!(err.to_string().contains("parent"), "{err}");
        assert_eq!(check_link(MediaKind::Overview, &act, false), Ok(()));
        let camera = activity("{basis: public_interest}", "");
        assert_eq!(check_link(MediaKind::Overview, &camera, false), Ok(()));
        assert!(check_link(MediaKind::Targeted, &camera, true).is_err());
    }

    #[test]
    fn published_items_come_down_when_consent_ends_or_someone_asks() {
        let facts = MediaFacts {
            kind: MediaKind::Targeted,
            published_on: Some(date!(2026 - 11 - 21)),
            taken_down: false,
            linked_consents_allow: vec![true, true],
            open_removal_requests: 0,
        };
        assert!(take_down_reasons(&facts).is_empty());
        let ended = MediaFacts {
            linked_consents_allow: vec![true, false],
            ..facts.clone()
        };
        assert_eq!(take_down_reasons(&ended), [TakeDownReason::ConsentEnded]);
        // Consent does not matter for an overview image, a removal request does.
        let overview = MediaFacts {
            kind: MediaKind::Overview,
            ..ended.clone()
        };
        assert!(take_down_reasons(&overview).is_empty());
        let asked = MediaFacts {
            open_removal_requests: 1,
            ..overview
        };
        assert_eq!(
            take_down_reasons(&asked),
            [TakeDownReason::RemovalRequested]
        );
        let both = MediaFacts {
            open_removal_requests: 2,
            ..ended.clone()
        };
        assert_eq!(
            take_down_reasons(&both),
            [
                TakeDownReason::ConsentEnded,
                TakeDownReason::RemovalRequested
            ]
        );
        // Unpublished or taken down: nothing to take down.
        let unpublished = MediaFacts {
            published_on: None,
            ..both.clone()
        };
        assert!(take_down_reasons(&unpublished).is_empty());
        let down = MediaFacts {
            taken_down: true,
            ..both
        };
        assert!(take_down_reasons(&down).is_empty());
    }

    #[test]
    fn only_published_items_are_taken_down_and_notes_are_bounded() {
        assert_eq!(check_take_down(None), Err(MediaError::NotPublished));
        assert_eq!(check_take_down(Some(TODAY)), Ok(()));
        assert_eq!(check_removal_note(None), Ok(()));
        assert_eq!(check_removal_note(Some("op de foto links")), Ok(()));
        let long = "x".repeat(MAX_NOTE_CHARS + 1);
        assert_eq!(
            check_removal_note(Some(&long)),
            Err(MediaError::NoteTooLong)
        );
    }
}
