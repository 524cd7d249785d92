//! The outbox of outgoing mail, on both backends.

use std::collections::BTreeSet;

use kluis_domain::mail::OutgoingMail;
use kluis_store::{MAIL_MAX_ATTEMPTS, MailRetry, Store, StoreError};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

stories!(
    a_queued_mail_is_claimed_once_then_sent,
    a_failed_mail_is_retried_later_then_kept_with_its_error,
    a_lease_that_ends_lets_another_sender_claim_the_mail,
    concurrent_senders_never_claim_the_same_mail,
    bad_mail_is_refused_and_nothing_is_queued,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);
const LEASE: Duration = Duration::minutes(10);

fn newsletter(to: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.parse().unwrap(),
        subject: "Nieuwsbrief november".into(),
        body_text: "Beste lezer,\n\nDit is de nieuwsbrief.\n".into(),
        activity: Some("nieuwsbrief".into()),
        unsubscribe_url: Some("https://kluis.example.be/consent/unsubscribe/tok3n".into()),
    }
}

async fn a_queued_mail_is_claimed_once_then_sent(store: &Store) {
    let mail = newsletter("an@example.be");
    let id = store.enqueue_mail(&mail, NOW).await.unwrap();
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.failed, status.sent), (1, 0, 0));
    assert!(status.problems.is_empty());

    // Not due before it was queued.
    let early = store
        .claim_due_mail(NOW - Duration::seconds(1), LEASE, 10)
        .await
        .unwrap();
    assert!(early.is_empty());

    let claimed = store.claim_due_mail(NOW, LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let queued = &claimed[0];
    assert_eq!(queued.id, id);
    assert_eq!(queued.mail, mail);
    assert_eq!(queued.attempts, 1);
    assert_eq!(queued.created_at, NOW);
    assert_eq!(queued.leased_until, Some(NOW + LEASE));
    assert_eq!(queued.sent_at, None);

    // Leased: nobody else gets it meanwhile, not even by id.
    assert!(
        store
            .claim_due_mail(NOW, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.claim_mail(id, NOW, LEASE).await.unwrap().is_none());

    let sent_at = NOW + Duration::seconds(3);
    store.mark_mail_sent(id, sent_at).await.unwrap();
    // Marking twice changes nothing.
    store
        .mark_mail_sent(id, sent_at + Duration::hours(1))
        .await
        .unwrap();
    let sent = store.queued_mail(id).await.unwrap().unwrap();
    assert_eq!(sent.sent_at, Some(sent_at));
    assert_eq!(sent.next_attempt_at, None);
    assert!(!sent.given_up());
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.failed, status.sent), (0, 0, 1));
    let later = NOW + Duration::days(1);
    assert!(
        store
            .claim_due_mail(later, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.claim_mail(id, later, LEASE).await.unwrap().is_none());
    // A failure reported after another sender delivered it changes nothing.
    assert_eq!(
        store.mark_mail_failed(id, "late", later).await.unwrap(),
        None
    );
    assert_eq!(store.queued_mail(id).await.unwrap().unwrap(), sent);

    // Sent mail is purged once old enough, and only then.
    assert_eq!(store.purge_sent_mail(sent_at).await.unwrap(), 0);
    assert_eq!(
        store
            .purge_sent_mail(sent_at + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(store.queued_mail(id).await.unwrap(), None);

    // Unknown mail is an error, not a silent success.
    let unknown = Uuid::now_v7();
    for err in [
        store.mark_mail_sent(unknown, NOW).await.unwrap_err(),
        store.mark_mail_failed(unknown, "x", NOW).await.unwrap_err(),
    ] {
        assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    }
}

async fn a_failed_mail_is_retried_later_then_kept_with_its_error(store: &Store) {
    let id = store
        .enqueue_mail(&newsletter("bert@example.be"), NOW)
        .await
        .unwrap();
    let mut due = NOW;
    let mut waits = Vec::new();
    for attempt in 1..=MAIL_MAX_ATTEMPTS {
        let claimed = store.claim_due_mail(due, LEASE, 10).await.unwrap();
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        assert_eq!(claimed[0].attempts, attempt);
        let error = format!("451 4.3.0 try again later ({attempt})");
        match store.mark_mail_failed(id, &error, due).await.unwrap() {
            Some(MailRetry::At(next)) => {
                assert!(next > due);
                waits.push((next - due).whole_minutes());
                // Not before its time, also not by id.
                let before = next - Duration::seconds(1);
                assert!(
                    store
                        .claim_due_mail(before, LEASE, 10)
                        .await
                        .unwrap()
                        .is_empty()
                );
                assert!(store.claim_mail(id, before, LEASE).await.unwrap().is_none());
                let queued = store.queued_mail(id).await.unwrap().unwrap();
                assert_eq!(queued.next_attempt_at, Some(next));
                assert_eq!(queued.leased_until, None);
                assert_eq!(queued.last_error.as_deref(), Some(error.as_str()));
                let status = store.mail_status(10).await.unwrap();
                assert_eq!((status.pending, status.failed), (1, 0));
                assert_eq!(status.problems.len(), 1);
                due = next;
            }
            Some(MailRetry::GivenUp) => assert_eq!(attempt, MAIL_MAX_ATTEMPTS),
            None => panic!("the mail was not sent"),
        }
    }
    // Each wait doubles, up to a ceiling.
    assert_eq!(waits[..4], [1, 2, 4, 8]);
    assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");

    // Given up: never claimed again, kept with its last error.
    assert!(
        store
            .claim_due_mail(due + Duration::days(30), LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.failed, status.sent), (0, 1, 0));
    let kept = &status.problems[0];
    assert_eq!(kept.id, id);
    assert!(kept.given_up());
    assert_eq!(kept.attempts, MAIL_MAX_ATTEMPTS);
    assert_eq!(
        kept.last_error.as_deref(),
        Some(format!("451 4.3.0 try again later ({MAIL_MAX_ATTEMPTS})").as_str())
    );
    assert_eq!(kept.mail.to.as_str(), "bert@example.be");
    // Purging sent mail leaves it.
    assert_eq!(
        store
            .purge_sent_mail(due + Duration::days(365))
            .await
            .unwrap(),
        0
    );
}

async fn a_lease_that_ends_lets_another_sender_claim_the_mail(store: &Store) {
    let id = store
        .enqueue_mail(&newsletter("chris@example.be"), NOW)
        .await
        .unwrap();
    // A sender claims it, then dies without reporting.
    let first = store.claim_mail(id, NOW, LEASE).await.unwrap().unwrap();
    assert_eq!(first.attempts, 1);
    let almost = NOW + LEASE - Duration::seconds(1);
    assert!(
        store
            .claim_due_mail(almost, LEASE, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let again = store.claim_due_mail(NOW + LEASE, LEASE, 10).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert_eq!(again[0].attempts, 2);
    assert_eq!(again[0].leased_until, Some(NOW + LEASE + LEASE));
}

async fn concurrent_senders_never_claim_the_same_mail(store: &Store) {
    let mut queued = BTreeSet::new();
    for i in 0..40 {
        let mail = newsletter(&format!("lezer{i}@example.be"));
        queued.insert(store.enqueue_mail(&mail, NOW).await.unwrap());
    }
    let senders: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = store.claim_due_mail(NOW, LEASE, 3).await.unwrap();
                    if batch.is_empty() {
                        return mine;
                    }
                    mine.extend(batch.into_iter().map(|m| m.id));
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut claimed = Vec::new();
    for sender in senders {
        claimed.extend(sender.await.unwrap());
    }
    let distinct: BTreeSet<_> = claimed.iter().copied().collect();
    assert_eq!(claimed.len(), distinct.len(), "a mail was claimed twice");
    assert_eq!(distinct, queued);
}

async fn bad_mail_is_refused_and_nothing_is_queued(store: &Store) {
    let injected = OutgoingMail {
        subject: "Hallo\r\nBcc: iedereen@example.be".into(),
        ..newsletter("an@example.be")
    };
    let bad_link = OutgoingMail {
        unsubscribe_url: Some("mailto:unsubscribe@example.be".into()),
        ..newsletter("an@example.be")
    };
    for mail in [injected, bad_link] {
        let err = store.enqueue_mail(&mail, NOW).await.unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{err:?}");
    }
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.failed, status.sent), (0, 0, 0));
}
