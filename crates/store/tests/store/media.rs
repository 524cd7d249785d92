//! The media database on both backends: targeted items show only people who consent,
//! overview items come down on request, and a withdrawal lists what must come down.

use std::collections::BTreeSet;

use kluis_domain::access::Scope;
use kluis_domain::consent::{ConsentGiven, ConsentMethod, WithdrawalChannel};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::legal::LegalBasis;
use kluis_domain::media::{MediaKind, NewMediaItem, RemovalChannel, TakeDownReason};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::{ConsentTerms, LegalBasisClaim, Register};
use kluis_domain::retention::RetentionRule;
use kluis_domain::text::{Lang, Text};
use kluis_domain::trace::TraceContext;
use kluis_store::{Processing, Store, StoreError};
use time::macros::{date, datetime};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{activity, controller};

stories!(
    targeted_items_show_only_people_who_consent_and_come_down_after_a_withdrawal,
    overview_items_need_no_consent_and_come_down_on_request,
    a_child_appears_on_a_targeted_item_with_a_parents_consent,
    consent_that_expires_puts_the_item_on_the_take_down_list,
    bad_items_links_and_requests_are_refused_and_nothing_is_stored,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const PROMOTION: &str = "promotiebeelden";
const CAMERA: &str = "camerabewaking";

fn staff() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some("id-communicatie".into()),
            name: "communicatie".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    }
}

/// Promotional photos (explicit consent, a parent's for children) and camera surveillance
/// (public interest).
async fn register(store: &Store) {
    let mut promotion = activity(PROMOTION, "province", "Foto- en beeldmateriaal");
    promotion.legal_bases = vec![LegalBasisClaim {
        basis: LegalBasis::Consent,
        reference: None,
    }];
    promotion.consent = Some(ConsentTerms {
        withdrawal: Text::nl("Spreek de fotograaf aan of mail griffie@limburg.be"),
        explicit: true,
        parental_for_minors: true,
    });
    promotion.retention[0].rule = RetentionRule::UntilWithdrawal { grace: None };
    let camera = activity(CAMERA, "province", "Camerabewaking");
    store
        .import_register(
            &Register {
                controllers: vec![controller("province", "Provincie Limburg")],
                processors: vec![],
                agreements: vec![],
                activities: vec![promotion, camera],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn photo(kind: MediaKind, published_on: Option<Date>) -> NewMediaItem {
    NewMediaItem {
        title: "Opening van het provinciehuis".into(),
        kind,
        activity: PROMOTION.into(),
        taken_on: date!(2026 - 11 - 20),
        reference: "mediahaven:MH-2026-0042".into(),
        published_on,
    }
}

fn explicit_consent(valid_until: Option<Date>) -> ConsentGiven {
    ConsentGiven {
        method: ConsentMethod::Oral,
        affirmative_act: true,
        notice_text: "Mogen we deze foto van jou maken en publiceren op onze website?".into(),
        language: Lang::Nl,
        statement_version: None,
        evidence: "fotograaf J. Janssens, opening provinciehuis".into(),
        valid_until,
    }
}

async fn person(store: &Store, email: &str, birth_date: Option<Date>, guardians: &[Uuid]) -> Uuid {
    let identity = SubjectIdentity {
        email: Some(email.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        birth_date,
        ..Default::default()
    };
    store
        .record_subject(&staff(), PROMOTION, &identity, guardians)
        .await
        .unwrap()
        .0
        .id
}

/// The log entries of `action` about `subject` under the promotion activity.
async fn logged(store: &Store, subject: Uuid, action: LogAction) -> Vec<Vec<String>> {
    let selector = LogSelector {
        activity: Some(PROMOTION.into()),
        subjects: store.subject_pseudonyms_of(subject).await.unwrap(),
        ..LogSelector::default()
    };
    store
        .log_entries(&selector, &Scope::All, 1_000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == action)
        .map(|e| e.entry.data_categories)
        .collect()
}

fn ids(items: &[kluis_store::MediaItem]) -> Vec<Uuid> {
    items.iter().map(|i| i.id).collect()
}

async fn targeted_items_show_only_people_who_consent_and_come_down_after_a_withdrawal(
    store: &Store,
) {
    register(store).await;
    let an = person(store, "an.peeters@example.be", None, &[]).await;
    let item = store
        .add_media_item(
            &staff(),
            &photo(MediaKind::Targeted, Some(date!(2026 - 11 - 21))),
        )
        .await
        .unwrap();
    assert!(item.published());
    assert!(item.take_down.is_empty());
    assert_eq!(item.created_by, "communicatie");

    // Without consent: refused with what to do, and nothing linked or logged.
    let recorded = logged(store, an, LogAction::Create).await.len();
    let err = store
        .link_media_subject(&staff(), item.id, an, &Scope::All)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string().contains("record their explicit consent"),
        "{err}"
    );
    let view = store
        .media_item(&staff(), item.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert!(view.subjects.is_empty());
    assert_eq!(logged(store, an, LogAction::Create).await.len(), recorded);

    // With consent: linked once, logged as a new processing of the person's image.
    let consent = store
        .give_consent(&staff(), an, PROMOTION, &explicit_consent(None), None)
        .await
        .unwrap();
    let before = logged(store, an, LogAction::Create).await.len();
    let (linked, created) = store
        .link_media_subject(&staff(), item.id, an, &Scope::All)
        .await
        .unwrap();
    assert!(created);
    assert!(linked.take_down.is_empty());
    let (_, again) = store
        .link_media_subject(&staff(), item.id, an, &Scope::All)
        .await
        .unwrap();
    assert!(!again, "linking twice changes nothing");
    let creates = logged(store, an, LogAction::Create).await;
    assert_eq!(creates.len(), before + 1);
    assert_eq!(creates.last().unwrap(), &["sound_image"]);
    let view = store
        .media_item(&staff(), item.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.subjects.len(), 1);
    assert_eq!(view.subjects[0].subject_id, an);
    assert_eq!(view.subjects[0].linked_by, "communicatie");
    assert!(view.subjects[0].consent_allows);
    assert!(
        !logged(store, an, LogAction::Read).await.is_empty(),
        "reads are logged"
    );

    // An unpublished item showing her stays off the list: there is nothing to take down.
    let draft = store
        .add_media_item(&staff(), &photo(MediaKind::Targeted, None))
        .await
        .unwrap();
    store
        .link_media_subject(&staff(), draft.id, an, &Scope::All)
        .await
        .unwrap();
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .media_to_take_down_for(an, PROMOTION, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    // She withdraws: the published item must come down, for staff of the activity only.
    store
        .withdraw_consent(&staff(), consent.id, WithdrawalChannel::Staff)
        .await
        .unwrap();
    let for_her = store
        .media_to_take_down_for(an, PROMOTION, NOW)
        .await
        .unwrap();
    assert_eq!(ids(&for_her), [item.id]);
    assert_eq!(for_her[0].take_down, [TakeDownReason::ConsentEnded]);
    assert_eq!(
        ids(&store.media_to_take_down(&Scope::All, NOW).await.unwrap()),
        [item.id]
    );
    let camera_only = Scope::Activities(BTreeSet::from([CAMERA.to_string()]));
    assert!(
        store
            .media_to_take_down(&camera_only, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .media_to_take_down_for(an, CAMERA, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    // Staff take it down: off the list; marking again changes nothing.
    let (down, changed) = store
        .mark_media_taken_down(&staff(), item.id, &Scope::All)
        .await
        .unwrap();
    assert!(changed);
    assert!(!down.published());
    assert_eq!(down.taken_down_by.as_deref(), Some("communicatie"));
    assert!(down.take_down.is_empty());
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, again) = store
        .mark_media_taken_down(&staff(), item.id, &Scope::All)
        .await
        .unwrap();
    assert!(!again);
    assert_eq!(
        logged(store, an, LogAction::Update).await.last().unwrap(),
        &["sound_image"]
    );
}

async fn overview_items_need_no_consent_and_come_down_on_request(store: &Store) {
    register(store).await;
    let an = person(store, "an.peeters@example.be", None, &[]).await;
    let crowd = store
        .add_media_item(
            &staff(),
            &photo(MediaKind::Overview, Some(date!(2026 - 11 - 21))),
        )
        .await
        .unwrap();
    let (_, created) = store
        .link_media_subject(&staff(), crowd.id, an, &Scope::All)
        .await
        .unwrap();
    assert!(created, "an overview image needs no consent");
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    // Someone not known to kluis asks on the spot; then An asks by e-mail.
    let asked = store
        .record_media_removal_request(
            &staff(),
            crowd.id,
            None,
            RemovalChannel::OnTheSpot,
            Some("de man met de rode jas, links"),
            &Scope::All,
        )
        .await
        .unwrap();
    assert_eq!(asked.take_down, [TakeDownReason::RemovalRequested]);
    let later = Processing {
        now: NOW + time::Duration::minutes(5),
        ..staff()
    };
    store
        .record_media_removal_request(
            &later,
            crowd.id,
            Some(an),
            RemovalChannel::Email,
            None,
            &Scope::All,
        )
        .await
        .unwrap();
    let view = store
        .media_item(&staff(), crowd.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.removal_requests.len(), 2);
    assert_eq!(view.removal_requests[0].channel, RemovalChannel::OnTheSpot);
    assert_eq!(view.removal_requests[0].subject_id, None);
    assert_eq!(
        view.removal_requests[0].note.as_deref(),
        Some("de man met de rode jas, links")
    );
    assert_eq!(view.removal_requests[1].subject_id, Some(an));
    assert_eq!(
        ids(&store.media_to_take_down(&Scope::All, NOW).await.unwrap()),
        [crowd.id]
    );
    // Not a consent matter: the withdrawal list does not name it.
    assert!(
        store
            .media_to_take_down_for(an, PROMOTION, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    let (_, changed) = store
        .mark_media_taken_down(&staff(), crowd.id, &Scope::All)
        .await
        .unwrap();
    assert!(changed);
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_child_appears_on_a_targeted_item_with_a_parents_consent(store: &Store) {
    register(store).await;
    let parent = person(store, "mama@example.be", Some(date!(1984 - 02 - 01)), &[]).await;
    let child = person(
        store,
        "lena@example.be",
        Some(date!(2015 - 05 - 04)),
        &[parent],
    )
    .await;
    let item = store
        .add_media_item(
            &staff(),
            &photo(MediaKind::Targeted, Some(date!(2026 - 11 - 21))),
        )
        .await
        .unwrap();
    assert!(
        store
            .give_consent(&staff(), child, PROMOTION, &explicit_consent(None), None)
            .await
            .is_err(),
        "a child under 16 does not consent alone"
    );
    let err = store
        .link_media_subject(&staff(), item.id, child, &Scope::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("a parent's"), "{err}");
    store
        .give_consent(
            &staff(),
            child,
            PROMOTION,
            &explicit_consent(None),
            Some(parent),
        )
        .await
        .unwrap();
    let (_, created) = store
        .link_media_subject(&staff(), item.id, child, &Scope::All)
        .await
        .unwrap();
    assert!(created);
}

async fn consent_that_expires_puts_the_item_on_the_take_down_list(store: &Store) {
    register(store).await;
    let an = person(store, "an.peeters@example.be", None, &[]).await;
    let item = store
        .add_media_item(
            &staff(),
            &photo(MediaKind::Targeted, Some(date!(2026 - 11 - 21))),
        )
        .await
        .unwrap();
    store
        .give_consent(
            &staff(),
            an,
            PROMOTION,
            &explicit_consent(Some(date!(2026 - 12 - 31))),
            None,
        )
        .await
        .unwrap();
    store
        .link_media_subject(&staff(), item.id, an, &Scope::All)
        .await
        .unwrap();
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );
    let next_year = datetime!(2027-01-01 09:00:00 UTC);
    let due = store
        .media_to_take_down(&Scope::All, next_year)
        .await
        .unwrap();
    assert_eq!(ids(&due), [item.id]);
    assert_eq!(due[0].take_down, [TakeDownReason::ConsentEnded]);
    assert_eq!(
        ids(&store
            .media_to_take_down_for(an, PROMOTION, next_year)
            .await
            .unwrap()),
        [item.id]
    );
}

async fn bad_items_links_and_requests_are_refused_and_nothing_is_stored(store: &Store) {
    register(store).await;
    let an = person(store, "an.peeters@example.be", None, &[]).await;

    // A targeted image under an activity that does not rest on consent.
    let mut camera = photo(MediaKind::Targeted, None);
    camera.activity = CAMERA.into();
    let err = store.add_media_item(&staff(), &camera).await.unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    assert!(err.to_string().contains("public_interest"), "{err}");
    let mut unknown = photo(MediaKind::Overview, None);
    unknown.activity = "geen-activiteit".into();
    let err = store.add_media_item(&staff(), &unknown).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    let mut untitled = photo(MediaKind::Overview, None);
    untitled.title = "  ".into();
    let err = store.add_media_item(&staff(), &untitled).await.unwrap_err();
    assert!(err.to_string().contains("title"), "{err}");
    assert!(
        store
            .media_to_take_down(&Scope::All, NOW)
            .await
            .unwrap()
            .is_empty()
    );

    let draft = store
        .add_media_item(&staff(), &photo(MediaKind::Overview, None))
        .await
        .unwrap();
    // Unknown item, unknown person, an unpublished item taken down, a note too long.
    let err = store
        .link_media_subject(&staff(), Uuid::nil(), an, &Scope::All)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "media item",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .link_media_subject(&staff(), draft.id, Uuid::nil(), &Scope::All)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "data subject",
                ..
            }
        ),
        "{err:?}"
    );
    let err = store
        .mark_media_taken_down(&staff(), draft.id, &Scope::All)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("never published"), "{err}");
    let err = store
        .record_media_removal_request(
            &staff(),
            draft.id,
            Some(Uuid::nil()),
            RemovalChannel::Letter,
            None,
            &Scope::All,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::NotFound {
                what: "data subject",
                ..
            }
        ),
        "{err:?}"
    );
    let long = "x".repeat(kluis_domain::media::MAX_NOTE_CHARS + 1);
    let err = store
        .record_media_removal_request(
            &staff(),
            draft.id,
            None,
            RemovalChannel::Letter,
            Some(&long),
            &Scope::All,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");

    // Outside need-to-know: refused and logged, nothing linked or requested.
    let camera_only = Scope::Activities(BTreeSet::from([CAMERA.to_string()]));
    let err = store
        .link_media_subject(&staff(), draft.id, an, &camera_only)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope { .. }), "{err:?}");
    assert_eq!(logged(store, an, LogAction::Refused).await.len(), 1);
    let err = store
        .record_media_removal_request(
            &staff(),
            draft.id,
            None,
            RemovalChannel::Letter,
            None,
            &camera_only,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::OutOfScope { .. }), "{err:?}");
    assert!(matches!(
        store.media_item(&staff(), draft.id, &camera_only).await,
        Err(StoreError::OutOfScope { .. })
    ));
    let view = store
        .media_item(&staff(), draft.id, &Scope::All)
        .await
        .unwrap()
        .unwrap();
    assert!(view.subjects.is_empty());
    assert!(view.removal_requests.is_empty());
    assert!(
        store
            .media_item(&staff(), Uuid::nil(), &Scope::All)
            .await
            .unwrap()
            .is_none()
    );
}
