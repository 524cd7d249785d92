//! Rights requests on both backends: intake with receipt and status link, the timeline,
//! identity documents destroyed on closing, deadlines, decisions and refused steps.

use kluis_domain::identifiers::EmailAddress;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::mail::OutgoingMail;
use kluis_domain::register::Register;
use kluis_domain::rights::{
    ActingFor, Decision, DpvRequestStatus, Outcome, RefusalGround, RequestChannel, Requester,
    Right, Stage, Urgency,
};
use kluis_domain::text::Lang;
use kluis_store::testing::TestStore;
use kluis_store::{NewRequest, RequestChange, RequestFilter, StoreError};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use super::{activity, controller};

stories!(
    a_request_is_filed_acknowledged_decided_fulfilled_and_closed,
    status_links_and_references_reveal_nothing_about_other_requests,
    illegal_steps_and_bad_decisions_change_nothing,
    deadlines_are_extended_once_and_lists_show_what_is_late,
    bad_requests_are_refused_and_nothing_is_stored,
    a_request_closed_without_decisions_tells_why_by_mail_or_by_post,
);

/// Thursday 5 March 2026: the month ends on Easter Sunday, so the deadline is Tuesday 7 April.
const NOW: OffsetDateTime = datetime!(2026-03-05 10:00:00 UTC);

pub(super) async fn register(store: &TestStore) {
    store
        .import_register(
            &Register {
                controllers: vec![controller("stad", "Stad Voorbeeld")],
                processors: vec![],
                agreements: vec![],
                activities: vec![
                    activity("camera", "stad", "Camerabewaking"),
                    activity("bibliotheek", "stad", "Bibliotheek"),
                ],
            },
            false,
            "test",
            NOW,
        )
        .await
        .unwrap();
}

fn email(s: &str) -> EmailAddress {
    s.parse().unwrap()
}

pub(super) fn request(rights: Vec<Right>) -> NewRequest {
    NewRequest {
        controller: "stad".into(),
        rights,
        channel: RequestChannel::Portal,
        requester: Requester {
            identity: SubjectIdentity {
                email: Some(email("an@example.be")),
                given_name: Some("An".into()),
                family_name: Some("Peeters".into()),
                ..Default::default()
            },
            acting_for: ActingFor::Themselves,
            filed_by: None,
            email: Some(email("an@example.be")),
            postal_address: None,
            message: "Welke camerabeelden hebt u van mij?".into(),
        },
        language: Lang::Nl,
        received_on: NOW.date(),
    }
}

pub(super) fn receipt(to: &str) -> impl FnOnce(&kluis_store::FiledRequest) -> Option<OutgoingMail> {
    let to = email(to);
    move |filed| {
        Some(OutgoingMail {
            to,
            subject: format!("Ontvangstbevestiging {}", filed.reference),
            body_text: format!("Uw verzoek {} is ontvangen.", filed.reference),
            activity: None,
            unsubscribe_url: None,
        })
    }
}

fn decision(
    right: Right,
    activity: &str,
    outcome: Outcome,
    grounds: Vec<RefusalGround>,
) -> Decision {
    Decision {
        right,
        activity: activity.into(),
        outcome,
        grounds,
        motivation: "Na onderzoek van uw dossier.".into(),
    }
}

async fn a_request_is_filed_acknowledged_decided_fulfilled_and_closed(store: &TestStore) {
    register(store).await;
    let filed = store
        .file_request(
            &request(vec![Right::Access, Right::Erasure, Right::Access]),
            receipt("an@example.be"),
            "requester",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        filed.due_on,
        date!(2026 - 04 - 07),
        "Easter moves the deadline"
    );
    let mail = store.mail_status(0).await.unwrap();
    assert_eq!(
        mail.pending, 1,
        "the receipt is queued with the request: {mail:?}"
    );

    let r = store.rights_request(filed.id).await.unwrap();
    assert_eq!(r.rights, [Right::Access, Right::Erasure], "each right once");
    assert_eq!(r.stage, Stage::Acknowledged);
    assert_eq!(r.status, DpvRequestStatus::Acknowledged);
    assert_eq!(r.requester.message, "Welke camerabeelden hebt u van mij?");
    assert_eq!(
        r.timeline
            .iter()
            .map(|s| s.step.as_str())
            .collect::<Vec<_>>(),
        ["received", "acknowledged"]
    );

    // The ID card front, sealed: not readable in the database.
    let scan = b"\x89PNG\r\n\x1a\n front of an identity card".to_vec();
    let doc = store
        .attach_identity_document(filed.id, "image/png", &scan, "requester", NOW)
        .await
        .unwrap();
    let raw = store
        .raw_bytes("SELECT sealed FROM rights_request_documents")
        .await
        .concat();
    assert!(!raw.windows(8).any(|w| w == b"identity"), "stored sealed");
    assert_eq!(
        store
            .identity_document(filed.id, doc, "caseworker", NOW)
            .await
            .unwrap(),
        Some(("image/png".to_string(), scan))
    );

    let later = NOW + time::Duration::days(3);
    let r = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::VerifyIdentity { subject_id: None },
            "caseworker",
            later,
        )
        .await
        .unwrap();
    assert_eq!(r.status, DpvRequestStatus::Accepted);
    let r = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Decide {
                decisions: vec![
                    decision(Right::Access, "camera", Outcome::Granted, vec![]),
                    decision(
                        Right::Erasure,
                        "camera",
                        Outcome::Refused,
                        vec![RefusalGround::PublicTask],
                    ),
                ],
            },
            "caseworker",
            later,
        )
        .await
        .unwrap();
    assert_eq!(r.stage, Stage::Decided);
    // Nothing is reported done that was not done: not before the fulfilment ran, and not
    // while an action is open.
    let fulfil = RequestChange::Fulfil {
        note: "toegangspakket verstuurd".into(),
    };
    let e = store
        .change_request(filed.id, r.version, &fulfil, "caseworker", later)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("nothing of this request"), "{e}");
    store.plan_fulfilment(filed.id, &[]).await.unwrap();
    let e = store
        .change_request(filed.id, r.version, &fulfil, "caseworker", later)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("1 of its 1 actions"), "{e}");
    assert_eq!(store.rights_request(filed.id).await.unwrap(), r);
    store
        .confirm_by_hand(filed.id, "pakket per post verstuurd", "caseworker", later)
        .await
        .unwrap();
    let r = store
        .change_request(filed.id, r.version, &fulfil, "caseworker", later)
        .await
        .unwrap();
    assert_eq!(r.status, DpvRequestStatus::Fulfilled);
    let r = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Close {
                note: "afsluitbrief verstuurd".into(),
            },
            "caseworker",
            later,
        )
        .await
        .unwrap();
    assert_eq!(r.stage, Stage::Closed);
    assert_eq!(r.status, DpvRequestStatus::Fulfilled);
    assert_eq!(
        r.timeline
            .iter()
            .map(|s| s.step.as_str())
            .collect::<Vec<_>>(),
        [
            "received",
            "acknowledged",
            "identity_document_added",
            "identity_document_viewed",
            "identity_verified",
            "decided",
            "fulfilled",
            "closed",
            "requester_told",
            "identity_documents_destroyed",
        ]
    );
    assert_eq!(r.timeline[4].actor, "caseworker");
    // The closing letter: each decision with its motivation, and the remedies of the refusal.
    let mails = store
        .claim_due_mail(later, time::Duration::ZERO, 10)
        .await
        .unwrap();
    let closing = mails
        .iter()
        .find(|m| m.mail.subject.contains(&filed.reference) && m.mail.body_text.contains("art. 17"))
        .unwrap_or_else(|| panic!("no closing letter: {mails:?}"));
    for expected in [
        "Camerabewaking",
        "art. 17(3)(b)",
        "Na onderzoek van uw dossier.",
        "vlaamsetoezichtcommissie.be",
    ] {
        assert!(
            closing.mail.body_text.contains(expected),
            "{expected}: {}",
            closing.mail.body_text
        );
    }
    // The ID copy is destroyed with the request's closing, and the row says when.
    assert_eq!(
        store
            .identity_document(filed.id, doc, "caseworker", NOW)
            .await
            .unwrap(),
        None
    );
    assert_eq!(r.documents[0].destroyed_at, Some(later));
    assert!(
        store
            .raw_bytes("SELECT sealed FROM rights_request_documents WHERE sealed IS NOT NULL")
            .await
            .is_empty()
    );
    // Closed means closed: no more documents, steps or extensions.
    let e = store
        .attach_identity_document(filed.id, "image/png", b"more", "requester", later)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
    let e = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Close {
                note: "nog eens".into(),
            },
            "caseworker",
            later,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("closed"), "{e}");
}

async fn status_links_and_references_reveal_nothing_about_other_requests(store: &TestStore) {
    register(store).await;
    let a = store
        .file_request(&request(vec![Right::Access]), |_| None, "requester", NOW)
        .await
        .unwrap();
    let b = store
        .file_request(&request(vec![Right::Access]), |_| None, "requester", NOW)
        .await
        .unwrap();
    assert_ne!(a.reference, b.reference);
    assert_ne!(a.status_token, b.status_token);
    assert!(
        a.reference.starts_with("RQ-") && a.reference.len() == 17,
        "{}",
        a.reference
    );
    assert_eq!(a.status_token.len(), 64, "256 bits");
    let status = store
        .request_status(&a.status_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.reference, a.reference);
    assert_eq!(status.status, DpvRequestStatus::Acknowledged);
    assert_eq!(status.due_on, date!(2026 - 04 - 07));
    // A guessed, truncated or altered link shows nothing.
    let mut altered = a.status_token.clone();
    altered.replace_range(0..1, if altered.starts_with('a') { "b" } else { "a" });
    for guess in [
        altered.as_str(),
        &a.status_token[..63],
        "",
        a.reference.as_str(),
    ] {
        assert_eq!(store.request_status(guess).await.unwrap(), None, "{guess}");
    }
    // The token is kept only as its hash.
    let stored = store
        .raw_bytes("SELECT status_token_hash FROM rights_requests")
        .await
        .concat();
    assert!(
        !stored
            .windows(10)
            .any(|w| w == &a.status_token.as_bytes()[..10])
    );
    assert_eq!(
        store
            .rights_request_by_reference(&a.reference.to_lowercase())
            .await
            .unwrap(),
        Some(a.id)
    );
    assert_eq!(
        store
            .rights_request_by_reference("RQ-0000-0000-0000")
            .await
            .unwrap(),
        None
    );
}

async fn illegal_steps_and_bad_decisions_change_nothing(store: &TestStore) {
    register(store).await;
    let filed = store
        .file_request(
            &request(vec![Right::Access, Right::Erasure]),
            |_| None,
            "requester",
            NOW,
        )
        .await
        .unwrap();
    let before = store.rights_request(filed.id).await.unwrap();
    let refused = [
        // Data before the identity is verified.
        RequestChange::Fulfil {
            note: "te vroeg".into(),
        },
        RequestChange::Decide {
            decisions: vec![decision(Right::Access, "camera", Outcome::Granted, vec![])],
        },
    ];
    for change in &refused {
        let e = store
            .change_request(filed.id, before.version, change, "caseworker", NOW)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{change:?}: {e}");
    }
    let r = store
        .change_request(
            filed.id,
            before.version,
            &RequestChange::VerifyIdentity { subject_id: None },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    let bad_decisions = [
        // Erasure left undecided.
        vec![decision(Right::Access, "camera", Outcome::Granted, vec![])],
        // A refusal without a ground.
        vec![
            decision(Right::Access, "camera", Outcome::Granted, vec![]),
            decision(Right::Erasure, "camera", Outcome::Refused, vec![]),
        ],
        // An activity of no such controller.
        vec![
            decision(Right::Access, "elders", Outcome::Granted, vec![]),
            decision(Right::Erasure, "camera", Outcome::Granted, vec![]),
        ],
    ];
    for decisions in bad_decisions {
        let e = store
            .change_request(
                filed.id,
                r.version,
                &RequestChange::Decide {
                    decisions: decisions.clone(),
                },
                "caseworker",
                NOW,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{decisions:?}: {e}");
    }
    // Everything refused: it cannot be fulfilled, only closed.
    let r = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Decide {
                decisions: vec![
                    decision(
                        Right::Access,
                        "camera",
                        Outcome::Refused,
                        vec![RefusalGround::RightsOfOthers],
                    ),
                    decision(
                        Right::Erasure,
                        "camera",
                        Outcome::Refused,
                        vec![RefusalGround::PublicTask],
                    ),
                ],
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(r.status, DpvRequestStatus::Rejected);
    let e = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Fulfil {
                note: "toch".into(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("close it instead"), "{e}");
    // A stale version is a conflict.
    let e = store
        .change_request(
            filed.id,
            r.version - 1,
            &RequestChange::Close { note: "x".into() },
            "caseworker",
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    let after = store.rights_request(filed.id).await.unwrap();
    assert_eq!(
        after.version, r.version,
        "the refused changes changed nothing"
    );
    assert_eq!(after.timeline.len(), r.timeline.len());
    let r = store
        .change_request(
            filed.id,
            r.version,
            &RequestChange::Close {
                note: "weigeringsbrief".into(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(r.status, DpvRequestStatus::Rejected);
}

async fn deadlines_are_extended_once_and_lists_show_what_is_late(store: &TestStore) {
    register(store).await;
    let mut early = request(vec![Right::Access]);
    early.received_on = date!(2026 - 02 - 02);
    let early = store
        .file_request(&early, |_| None, "caseworker", NOW)
        .await
        .unwrap();
    assert_eq!(early.due_on, date!(2026 - 03 - 02));
    let recent = store
        .file_request(&request(vec![Right::Access]), |_| None, "requester", NOW)
        .await
        .unwrap();
    let today = NOW.date();
    let ids =
        |list: Vec<kluis_store::RequestSummary>| list.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store
            .rights_requests(RequestFilter::Overdue, today)
            .await
            .unwrap()),
        [early.id]
    );
    assert_eq!(
        ids(store
            .rights_requests(RequestFilter::Open, today)
            .await
            .unwrap()),
        [early.id, recent.id],
        "due first"
    );
    let late = store
        .rights_requests(RequestFilter::Open, today)
        .await
        .unwrap();
    assert_eq!(late[0].urgency, Urgency::Overdue(3));

    let r = store.rights_request(recent.id).await.unwrap();
    let e = store
        .change_request(
            recent.id,
            r.version,
            &RequestChange::Extend {
                months: 2,
                reason: "te laat gemeld".into(),
                told_on: date!(2026 - 04 - 08),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("within the first month"), "{e}");
    let r = store
        .change_request(
            recent.id,
            r.version,
            &RequestChange::Extend {
                months: 2,
                reason: "Acht systemen te doorzoeken".into(),
                told_on: date!(2026 - 03 - 20),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(r.deadline.due_on(), date!(2026 - 06 - 05));
    // The person is told, in the same step: reason and new date, in their language.
    let told = r.timeline.last().unwrap();
    assert_eq!(told.step, "requester_told");
    assert_eq!(store.mail_status(0).await.unwrap().pending, 1);
    let mails = store
        .claim_due_mail(NOW, time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1);
    assert!(mails[0].mail.subject.contains(&recent.reference));
    assert!(
        mails[0]
            .mail
            .body_text
            .contains("Acht systemen te doorzoeken")
    );
    assert!(mails[0].mail.body_text.contains("5 juni 2026"));
    let status = store
        .request_status(&recent.status_token)
        .await
        .unwrap()
        .unwrap();
    assert!(status.extended);
    assert_eq!(status.due_on, date!(2026 - 06 - 05));
    let e = store
        .change_request(
            recent.id,
            r.version,
            &RequestChange::Extend {
                months: 1,
                reason: "nog meer".into(),
                told_on: date!(2026 - 03 - 21),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("one extension"), "{e}");
    assert_eq!(
        ids(store
            .rights_requests(RequestFilter::DueSoon, date!(2026 - 05 - 30))
            .await
            .unwrap()),
        [early.id, recent.id]
    );
}

async fn bad_requests_are_refused_and_nothing_is_stored(store: &TestStore) {
    register(store).await;
    let mut no_contact = request(vec![Right::Access]);
    no_contact.requester.email = None;
    let mut future = request(vec![Right::Access]);
    future.received_on = date!(2026 - 03 - 06);
    let mut child = request(vec![Right::Access]);
    child.requester.acting_for = ActingFor::Child;
    let mut unknown = request(vec![Right::Access]);
    unknown.controller = "elders".into();
    for (what, bad) in [
        ("no right", request(vec![])),
        ("no contact", no_contact),
        ("received tomorrow", future),
        ("a child without a parent", child),
        ("an unknown controller", unknown),
    ] {
        let e = store
            .file_request(&bad, receipt("an@example.be"), "requester", NOW)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(_) | StoreError::NotFound { .. }),
            "{what}: {e}"
        );
    }
    assert!(
        store
            .rights_requests(RequestFilter::All, NOW.date())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.mail_status(0).await.unwrap().pending, 0, "no receipt");
    let filed = store
        .file_request(&request(vec![Right::Access]), |_| None, "requester", NOW)
        .await
        .unwrap();
    for (bytes, what) in [
        (vec![], "empty"),
        (vec![0u8; 5 * 1024 * 1024 + 1], "too big"),
    ] {
        let e = store
            .attach_identity_document(filed.id, "image/png", &bytes, "requester", NOW)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{what}: {e}");
    }
    assert!(
        store
            .rights_request(filed.id)
            .await
            .unwrap()
            .documents
            .is_empty()
    );
}

/// Closed without decisions (the identity never proven), the person is told why no action
/// was taken, with the remedies (art. 12(4)): by mail, or, without an e-mail address, in a
/// letter staff print (the timeline says so). The letter exists only once closed.
async fn a_request_closed_without_decisions_tells_why_by_mail_or_by_post(store: &TestStore) {
    register(store).await;
    let close = RequestChange::Close {
        note: "U bezorgde geen kopie van uw identiteitskaart.".into(),
    };
    let by_mail = store
        .file_request(&request(vec![Right::Access]), |_| None, "requester", NOW)
        .await
        .unwrap();
    let e = store.latest_letter(by_mail.id).await.unwrap_err();
    assert!(e.to_string().contains("nothing was written"), "{e}");
    store
        .change_request(by_mail.id, 1, &close, "caseworker", NOW)
        .await
        .unwrap();
    let mails = store
        .claim_due_mail(NOW, time::Duration::ZERO, 10)
        .await
        .unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let body = &mails[0].mail.body_text;
    for expected in [
        "zonder er gevolg aan te geven",
        "geen kopie van uw identiteitskaart",
        "artikel 79",
    ] {
        assert!(body.contains(expected), "{expected}: {body}");
    }
    let (_, letter) = store.latest_letter(by_mail.id).await.unwrap();
    assert_eq!(&letter.body, body, "the printed letter is the mailed one");

    let mut postal = request(vec![Right::Access]);
    postal.requester.email = None;
    postal.requester.postal_address = Some("Grote Markt 1, 3500 Hasselt".into());
    let by_post = store
        .file_request(&postal, |_| None, "requester", NOW)
        .await
        .unwrap();
    let queued = store.mail_status(0).await.unwrap().pending;
    let closed = store
        .change_request(by_post.id, 1, &close, "caseworker", NOW)
        .await
        .unwrap();
    assert_eq!(
        store.mail_status(0).await.unwrap().pending,
        queued,
        "no mail"
    );
    let step = closed
        .timeline
        .iter()
        .find(|s| s.step == "letter_to_post")
        .unwrap_or_else(|| panic!("{:?}", closed.timeline));
    assert!(
        step.note
            .as_deref()
            .unwrap()
            .contains("kluis request letter"),
        "{step:?}"
    );
    // Before closing, the latest letter is the extension notice.
    let mut extended = postal.clone();
    extended.received_on = NOW.date();
    let filed = store
        .file_request(&extended, |_| None, "requester", NOW)
        .await
        .unwrap();
    store
        .change_request(
            filed.id,
            1,
            &RequestChange::Extend {
                months: 1,
                reason: "Veel verzoeken tegelijk.".into(),
                told_on: NOW.date(),
            },
            "caseworker",
            NOW,
        )
        .await
        .unwrap();
    let (_, notice) = store.latest_letter(filed.id).await.unwrap();
    assert!(
        notice.body.contains("Veel verzoeken tegelijk."),
        "{}",
        notice.body
    );
    let (request, letter) = store.latest_letter(by_post.id).await.unwrap();
    assert_eq!(
        request.requester.postal_address.as_deref(),
        Some("Grote Markt 1, 3500 Hasselt")
    );
    assert!(letter.body.contains("geen kopie van uw identiteitskaart"));
}
