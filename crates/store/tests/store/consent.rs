//! The consent ledger on both backends.

use kluis_domain::access::Role;
use kluis_domain::consent::{
    ConsentEventKind, ConsentGiven, ConsentLink, ConsentMethod, ConsentState, GivenBy, LinkError,
    WithdrawalChannel,
};
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::legal::LegalBasis;
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::register::{ConsentTerms, LegalBasisClaim, Register};
use kluis_domain::retention::RetentionRule;
use kluis_domain::text::{Lang, Text};
use kluis_domain::trace::TraceContext;
use kluis_store::{ConsentSubject, Processing, Store, StoreError};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use super::{activity, controller};

stories!(
    consent_is_given_withdrawn_and_given_again_with_its_history,
    consent_for_another_basis_or_without_an_act_is_refused_and_nothing_is_stored,
    a_child_consents_through_a_recorded_guardian,
    one_click_links_withdraw_once_and_never_a_later_consent,
    consent_ends_at_its_end_of_validity,
    a_check_by_token_answers_with_its_user_assignment_and_revision,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const AN_EMAIL: &str = "an.peeters@example.be";

fn staff() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: Some("id-communicatie".into()),
            name: "communicatie".into(),
        },
        trace: TraceContext::new_root([5; 16], [6; 8]),
        case_ref: None,
        now: NOW,
    }
}

fn citizen(now: OffsetDateTime) -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Citizen,
            id: None,
            name: "the person".into(),
        },
        now,
        ..staff()
    }
}

/// A city with a newsletter (consent) and recruitment (public interest).
async fn register(store: &Store) {
    let mut newsletter = activity("nieuwsbrief", "city", "Nieuwsbrief");
    newsletter.legal_bases = vec![LegalBasisClaim {
        basis: LegalBasis::Consent,
        reference: None,
    }];
    newsletter.consent = Some(ConsentTerms {
        withdrawal: Text::nl("Via de link in elke nieuwsbrief"),
        explicit: false,
        parental_for_minors: true,
    });
    newsletter.retention[0].rule = RetentionRule::UntilWithdrawal { grace: None };
    let recruitment = activity("werving", "city", "Werving en selectie");
    store
        .import_register(
            &Register {
                controllers: vec![controller("city", "Stad Hasselt")],
                processors: vec![],
                agreements: vec![],
                activities: vec![newsletter, recruitment],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn given() -> ConsentGiven {
    ConsentGiven {
        method: ConsentMethod::WebForm,
        affirmative_act: true,
        notice_text: "Ja, ik wil de nieuwsbrief van de stad ontvangen.".into(),
        language: Lang::Nl,
        statement_version: None,
        evidence: "inschrijvingsformulier 2026-118".into(),
        valid_until: None,
    }
}

async fn subscriber(store: &Store, email: &str, birth_date: Option<time::Date>) -> Uuid {
    let identity = SubjectIdentity {
        email: Some(email.parse().unwrap()),
        given_name: Some("An".into()),
        birth_date,
        ..Default::default()
    };
    store
        .record_subject(&staff(), "nieuwsbrief", &identity, &[])
        .await
        .unwrap()
        .0
        .id
}

fn by_email(email: &str) -> Vec<ConsentSubject> {
    vec![ConsentSubject::Email(email.parse().unwrap())]
}

async fn consent_is_given_withdrawn_and_given_again_with_its_history(store: &Store) {
    register(store).await;
    let an = subscriber(store, AN_EMAIL, None).await;
    let consent = store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    assert_eq!(consent.state, ConsentState::Given);
    assert_eq!(consent.last_given_event, 1);
    assert_eq!(consent.events.len(), 1);
    let first = &consent.events[0];
    assert_eq!(first.kind, ConsentEventKind::Given);
    assert_eq!(first.given_by, Some(GivenBy::Subject));
    assert_eq!(
        first.given.as_ref().unwrap().evidence,
        "inschrijvingsformulier 2026-118"
    );
    assert_eq!(first.actor_name, "communicatie");

    let answers = store
        .check_consent("nieuwsbrief", &by_email("AN.Peeters@example.be"), NOW)
        .await
        .unwrap();
    assert!(answers[0].allowed);
    assert_eq!(answers[0].consent_id, Some(consent.id));
    assert_eq!(
        store.consented_emails("nieuwsbrief", NOW).await.unwrap(),
        [AN_EMAIL]
    );

    // Withdrawing twice: one event, the second call changes nothing and does not fail.
    let withdrawal = store
        .withdraw_consent(&staff(), consent.id, WithdrawalChannel::Staff)
        .await
        .unwrap();
    assert!(withdrawal.changed);
    assert_eq!(withdrawal.consent.state, ConsentState::Withdrawn);
    let again = store
        .withdraw_consent(&staff(), consent.id, WithdrawalChannel::Staff)
        .await
        .unwrap();
    assert!(!again.changed);
    assert_eq!(again.consent.events.len(), 2);
    assert_eq!(
        again.consent.events[1].channel,
        Some(WithdrawalChannel::Staff)
    );
    let answers = store
        .check_consent("nieuwsbrief", &by_email(AN_EMAIL), NOW)
        .await
        .unwrap();
    assert!(!answers[0].allowed);
    assert_eq!(answers[0].state, Some(ConsentState::Withdrawn));
    assert!(
        store
            .consented_emails("nieuwsbrief", NOW)
            .await
            .unwrap()
            .is_empty()
    );

    // Given again, then renewed: the history keeps every step.
    let regiven = store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    assert_eq!(regiven.id, consent.id);
    assert_eq!(regiven.state, ConsentState::Given);
    let renewed = store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    assert_eq!(renewed.state, ConsentState::Renewed);
    let kinds: Vec<_> = renewed.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            ConsentEventKind::Given,
            ConsentEventKind::Withdrawn,
            ConsentEventKind::Given,
            ConsentEventKind::Renewed
        ]
    );
    assert_eq!(renewed.last_given_event, 4);

    // Every step is in the processing log under the newsletter.
    let log = store
        .log_entries(
            &LogSelector {
                activity: Some("nieuwsbrief".into()),
                ..Default::default()
            },
            &kluis_domain::access::Scope::All,
            100,
        )
        .await
        .unwrap();
    let actions: Vec<_> = log.iter().map(|e| e.entry.action).collect();
    assert_eq!(
        actions.iter().filter(|a| **a == LogAction::Update).count(),
        3,
        "{actions:?}"
    );
    // An unknown address is simply not allowed.
    let unknown = store
        .check_consent("nieuwsbrief", &by_email("nobody@example.be"), NOW)
        .await
        .unwrap();
    assert!(!unknown[0].allowed);
    assert_eq!(unknown[0].state, None);
}

async fn consent_for_another_basis_or_without_an_act_is_refused_and_nothing_is_stored(
    store: &Store,
) {
    register(store).await;
    let an = subscriber(store, AN_EMAIL, None).await;
    let err = store
        .give_consent(&staff(), an, "werving", &given(), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("not on consent")),
        "{err}"
    );
    let mut silent = given();
    silent.affirmative_act = false;
    let err = store
        .give_consent(&staff(), an, "nieuwsbrief", &silent, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, StoreError::Invalid(m) if m.contains("pre-ticked")),
        "{err}"
    );
    let err = store
        .give_consent(&staff(), Uuid::nil(), "nieuwsbrief", &given(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    let err = store
        .give_consent(&staff(), an, "no-such-activity", &given(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(
        store
            .consents_of_subject(&staff(), an)
            .await
            .unwrap()
            .is_empty()
    );
    let err = store
        .withdraw_consent(&staff(), Uuid::nil(), WithdrawalChannel::Staff)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
}

async fn a_child_consents_through_a_recorded_guardian(store: &Store) {
    register(store).await;
    let parent = subscriber(store, "mama@example.be", Some(date!(1984 - 02 - 01))).await;
    let stranger = subscriber(store, "x@example.be", Some(date!(1970 - 02 - 01))).await;
    let child_identity = SubjectIdentity {
        given_name: Some("Lena".into()),
        family_name: Some("Peeters".into()),
        birth_date: Some(date!(2015 - 05 - 04)),
        ..Default::default()
    };
    let (child, _) = store
        .record_subject(&staff(), "nieuwsbrief", &child_identity, &[parent])
        .await
        .unwrap();
    let err = store
        .give_consent(&staff(), child.id, "nieuwsbrief", &given(), None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("under 16"), "{err}");
    let err = store
        .give_consent(&staff(), child.id, "nieuwsbrief", &given(), Some(stranger))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not recorded as"), "{err}");
    let consent = store
        .give_consent(&staff(), child.id, "nieuwsbrief", &given(), Some(parent))
        .await
        .unwrap();
    assert_eq!(consent.events[0].given_by, Some(GivenBy::Guardian));
    assert_eq!(consent.events[0].guardian, Some(parent));
}

async fn one_click_links_withdraw_once_and_never_a_later_consent(store: &Store) {
    register(store).await;
    let an = subscriber(store, AN_EMAIL, None).await;
    let consent = store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    let token = store.unsubscribe_link(&consent, NOW).unwrap();
    let Ok(ConsentLink::Unsubscribe {
        consent: id,
        given_event,
        ..
    }) = store.open_link(&token, NOW).unwrap()
    else {
        panic!("the link does not open");
    };
    assert_eq!(Uuid::from_bytes(id), consent.id);
    let later = NOW + Duration::hours(1);
    let first = store
        .withdraw_by_link(&citizen(later), consent.id, given_event)
        .await
        .unwrap()
        .unwrap();
    assert!(first.changed);
    assert_eq!(
        first.consent.events[1].channel,
        Some(WithdrawalChannel::OneClick)
    );
    assert_eq!(first.consent.events[1].actor_kind, ActorKind::Citizen);
    let second = store
        .withdraw_by_link(&citizen(later), consent.id, given_event)
        .await
        .unwrap()
        .unwrap();
    assert!(!second.changed);

    // Given again later: the old mail's link no longer withdraws anything.
    store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    assert_eq!(
        store
            .withdraw_by_link(&citizen(later), consent.id, given_event)
            .await
            .unwrap(),
        Err(LinkError::Superseded)
    );
    let answers = store
        .check_consent("nieuwsbrief", &by_email(AN_EMAIL), later)
        .await
        .unwrap();
    assert!(answers[0].allowed);

    // Altered, truncated or expired links are refused.
    let mut altered = token.clone().into_bytes();
    altered[5] = if altered[5] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    assert_eq!(
        store.open_link(&altered, NOW).unwrap(),
        Err(LinkError::Invalid)
    );
    assert_eq!(
        store.open_link(&token[..token.len() - 3], NOW).unwrap(),
        Err(LinkError::Invalid)
    );
    assert_eq!(
        store.open_link(&token, NOW + Duration::days(800)).unwrap(),
        Err(LinkError::Expired)
    );
    let portal = store.portal_link(&AN_EMAIL.parse().unwrap(), NOW).unwrap();
    // The address does not stand readable in the link.
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&portal)
        .unwrap();
    assert!(
        !raw.windows(AN_EMAIL.len())
            .any(|w| w == AN_EMAIL.as_bytes()),
        "{portal}"
    );
    assert_eq!(
        store
            .open_link(&portal, NOW + Duration::minutes(61))
            .unwrap(),
        Err(LinkError::Expired)
    );
    assert!(matches!(
        store.open_link(&portal, NOW + Duration::minutes(59)).unwrap(),
        Ok(ConsentLink::Portal { email, .. }) if email == AN_EMAIL
    ));
}

async fn consent_ends_at_its_end_of_validity(store: &Store) {
    register(store).await;
    let an = subscriber(store, AN_EMAIL, None).await;
    let mut until_tomorrow = given();
    until_tomorrow.valid_until = Some(date!(2026 - 11 - 24));
    let consent = store
        .give_consent(&staff(), an, "nieuwsbrief", &until_tomorrow, None)
        .await
        .unwrap();
    let tomorrow = NOW + Duration::days(1);
    let after = NOW + Duration::days(2);
    let allowed = |now| async move {
        store
            .check_consent("nieuwsbrief", &[ConsentSubject::Id(an)], now)
            .await
            .unwrap()
            .remove(0)
    };
    assert!(allowed(tomorrow).await.allowed);
    let expired = allowed(after).await;
    assert!(!expired.allowed);
    assert_eq!(expired.state, Some(ConsentState::Expired));
    assert!(
        store
            .consented_emails("nieuwsbrief", after)
            .await
            .unwrap()
            .is_empty()
    );
    // Giving after expiry is a new consent, not a renewal.
    let mut p = staff();
    p.now = after;
    let regiven = store
        .give_consent(&p, an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    assert_eq!(regiven.id, consent.id);
    assert_eq!(regiven.events[1].kind, ConsentEventKind::Given);
}

/// `check_consent_with_token`: the same answers as `check_consent`, with the token's user,
/// whether they are assigned to the purpose and the activities' revision; nothing for a
/// token that does not work; a withdrawal counts from the very next check.
async fn a_check_by_token_answers_with_its_user_assignment_and_revision(store: &Store) {
    register(store).await;
    // An consented; Bram shares her address and withdrew; Chloé is known without consent.
    let an = subscriber(store, AN_EMAIL, None).await;
    let consent = store
        .give_consent(&staff(), an, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    let bram = subscriber(store, AN_EMAIL, None).await;
    let bram_consent = store
        .give_consent(&staff(), bram, "nieuwsbrief", &given(), None)
        .await
        .unwrap();
    store
        .withdraw_consent(&staff(), bram_consent.id, WithdrawalChannel::Staff)
        .await
        .unwrap();
    subscriber(store, "chloe@example.be", None).await;
    let people = [
        ConsentSubject::Email(AN_EMAIL.parse().unwrap()),
        ConsentSubject::Id(an),
        ConsentSubject::Id(bram),
        ConsentSubject::Email("chloe@example.be".parse().unwrap()),
        ConsentSubject::Email("nobody@example.be".parse().unwrap()),
        ConsentSubject::Id(Uuid::nil()),
    ];
    let tool = store
        .create_user(
            "tool",
            "Nieuwsbrieftool",
            "a long password",
            &[Role::Application],
            NOW,
        )
        .await
        .unwrap();
    let (token, _) = store.create_api_token(tool.id, "tool", NOW).await.unwrap();

    let check = store
        .check_consent_with_token(&token, "nieuwsbrief", &people, NOW)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.user, tool);
    assert!(!check.assigned);
    assert_eq!(
        check.activities_revision,
        store.activities_revision().await.unwrap()
    );
    let expected = store
        .check_consent("nieuwsbrief", &people, NOW)
        .await
        .unwrap();
    assert_eq!(check.answers, expected);
    let allowed: Vec<bool> = check.answers.iter().map(|a| a.allowed).collect();
    assert_eq!(allowed, [true, true, false, false, false, false]);
    assert_eq!(check.answers[0].consent_id, Some(consent.id));
    assert_eq!(check.answers[2].state, Some(ConsentState::Withdrawn));
    assert_eq!(check.answers[3].state, None);
    // Every person asked first goes through the joined query.
    for (k, person) in people.iter().enumerate() {
        let alone = store
            .check_consent_with_token(&token, "nieuwsbrief", std::slice::from_ref(person), NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(alone.answers, [expected[k].clone()], "person {k}");
    }
    assert!(
        store.api_tokens(tool.id).await.unwrap()[0]
            .last_used_at
            .is_some(),
        "the use is recorded"
    );

    // Assigned; the register changes; An withdraws.
    store
        .assign_activity(tool.id, "nieuwsbrief", "dpo", NOW)
        .await
        .unwrap();
    let before = store.activities_revision().await.unwrap();
    let mut renamed = store.register().await.unwrap();
    renamed.activities[1].name = Text::nl("Werving");
    store
        .import_register(&renamed, false, "test", NOW)
        .await
        .unwrap();
    store
        .withdraw_consent(&citizen(NOW), consent.id, WithdrawalChannel::OneClick)
        .await
        .unwrap();
    let check = store
        .check_consent_with_token(&token, "nieuwsbrief", &people[..2], NOW)
        .await
        .unwrap()
        .unwrap();
    assert!(check.assigned);
    assert!(check.activities_revision > before);
    assert!(check.answers.iter().all(|a| !a.allowed));

    // Tokens that do not work get nothing; nobody to ask about is a mistake.
    for bad in ["kluis_forged", "", "not-a-token"] {
        let none = store
            .check_consent_with_token(bad, "nieuwsbrief", &people, NOW)
            .await
            .unwrap();
        assert_eq!(none, None, "{bad:?}");
    }
    let empty = store
        .check_consent_with_token(&token, "nieuwsbrief", &[], NOW)
        .await;
    assert!(matches!(empty, Err(StoreError::Invalid(_))), "{empty:?}");
    store.set_user_disabled("tool", true).await.unwrap();
    assert_eq!(
        store
            .check_consent_with_token(&token, "nieuwsbrief", &people, NOW)
            .await
            .unwrap(),
        None
    );
    store.set_user_disabled("tool", false).await.unwrap();
    let token_id = store.api_tokens(tool.id).await.unwrap()[0].id;
    store.revoke_api_token(token_id).await.unwrap();
    assert_eq!(
        store
            .check_consent_with_token(&token, "nieuwsbrief", &people, NOW)
            .await
            .unwrap(),
        None
    );
}
