//! Outgoing mail as a mail server receives it: the outbox in SQLite and PostgreSQL, sent
//! over real SMTP to a sink the test starts.

use std::collections::BTreeSet;

use kluis_domain::mail::OutgoingMail;
use kluis_mail::testing::SmtpSink;
use kluis_mail::{Delivery, DeliveryReport, MailConfig, Mailer, deliver_due, deliver_one};
use kluis_store::Store;
use kluis_store::testing::TestStore;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

/// Runs each story once on a fresh SQLite store and once on a fresh PostgreSQL store.
macro_rules! stories {
    ($($story:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $story() {
                    let store = kluis_store::testing::sqlite_store().await;
                    super::$story(&store).await;
                    store.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $story() {
                    let Some(store) = kluis_store::testing::postgres_store().await else {
                        return;
                    };
                    super::$story(&store).await;
                    store.cleanup().await;
                }
            )*
        }
    };
}

stories!(
    mail_for_a_purpose_carries_the_one_click_headers_and_a_visible_link,
    service_mail_has_no_unsubscribe_header,
    a_refused_mail_stays_queued_and_is_delivered_later,
    mail_that_cannot_be_sent_is_kept_with_the_reason,
    two_senders_never_deliver_a_mail_twice,
    the_background_delivery_sends_and_purges_old_sent_mail,
);

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00:00 UTC);

/// Long enough that the body line carrying it is wrapped by the transfer encoding.
const UNSUBSCRIBE: &str = "https://kluis.poperinge.be/consent/unsubscribe/\
    eyJhIjoibmlldXdzYnJpZWYiLCJzIjoiMDE5MzRhYmMtZGVmMCJ9.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg";

fn mailer(sink: &SmtpSink) -> Mailer {
    let config = MailConfig::new(
        &sink.url(),
        "Stad Poperinge <privacy@poperinge.be>",
        Some("dpo@poperinge.be"),
    )
    .unwrap();
    Mailer::new(config).unwrap()
}

fn newsletter(to: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.parse().unwrap(),
        subject: "Nieuwsbrief — activiteiten in december".into(),
        body_text: "Beste lezer,\n\nDe kerstmarkt opent op 13 december. Tot dan!\n".into(),
        activity: Some("nieuwsbrief".into()),
        unsubscribe_url: Some(UNSUBSCRIBE.into()),
    }
}

fn receipt(to: &str) -> OutgoingMail {
    OutgoingMail {
        to: to.parse().unwrap(),
        subject: "Ontvangstbevestiging van uw verzoek".into(),
        body_text: "Beste,\n\nWe ontvingen uw verzoek om inzage op 23 november.\n".into(),
        activity: None,
        unsubscribe_url: None,
    }
}

fn sent(n: usize) -> DeliveryReport {
    DeliveryReport {
        sent: n,
        ..DeliveryReport::default()
    }
}

async fn mail_for_a_purpose_carries_the_one_click_headers_and_a_visible_link(store: &TestStore) {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink);
    let id = store
        .enqueue_mail(&newsletter("an@example.be"), NOW)
        .await
        .unwrap();
    assert_eq!(deliver_due(store, &mailer, NOW).await.unwrap(), sent(1));

    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let mail = &received[0];
    assert_eq!(mail.mail_from, "privacy@poperinge.be");
    assert_eq!(mail.rcpt_to, ["an@example.be"]);
    // Exactly the two headers of RFC 8058, once each.
    assert_eq!(
        mail.header_all("List-Unsubscribe"),
        [format!("<{UNSUBSCRIBE}>")]
    );
    assert_eq!(
        mail.header_all("List-Unsubscribe-Post"),
        ["List-Unsubscribe=One-Click"]
    );
    assert_eq!(
        mail.header("From").as_deref(),
        Some("\"Stad Poperinge\" <privacy@poperinge.be>")
    );
    assert_eq!(mail.header("To").as_deref(), Some("an@example.be"));
    assert_eq!(mail.header("Reply-To").as_deref(), Some("dpo@poperinge.be"));
    assert_eq!(
        mail.header("Subject").as_deref(),
        Some("Nieuwsbrief — activiteiten in december")
    );
    assert_eq!(
        mail.header("Message-ID"),
        Some(format!("<{}@poperinge.be>", id.simple()))
    );
    assert_eq!(
        mail.header("Date").as_deref(),
        Some("Mon, 23 Nov 2026 10:00:00 +0000")
    );
    let content_type = mail.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain") && content_type.contains("charset=utf-8"),
        "{content_type}"
    );
    let body = mail.body();
    assert!(body.starts_with("Beste lezer,\n\nDe kerstmarkt"), "{body}");
    assert!(
        body.ends_with(&format!(
            "Tot dan!\n\n-- \nUitschrijven / Unsubscribe: {UNSUBSCRIBE}"
        )),
        "{body}"
    );

    let queued = store.queued_mail(id).await.unwrap().unwrap();
    assert_eq!(queued.sent_at, Some(NOW));
    assert_eq!(queued.attempts, 1);
    // Nothing is sent twice.
    assert_eq!(
        deliver_due(store, &mailer, NOW + Duration::hours(1))
            .await
            .unwrap(),
        sent(0)
    );
    assert_eq!(sink.messages().len(), 1);
}

async fn service_mail_has_no_unsubscribe_header(store: &TestStore) {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink);
    store
        .enqueue_mail(&receipt("bert@example.be"), NOW)
        .await
        .unwrap();
    assert_eq!(deliver_due(store, &mailer, NOW).await.unwrap(), sent(1));
    let received = sink.wait_for(1).await;
    let mail = &received[0];
    assert_eq!(mail.rcpt_to, ["bert@example.be"]);
    assert!(mail.header_all("List-Unsubscribe").is_empty(), "{mail:?}");
    assert!(
        mail.header_all("List-Unsubscribe-Post").is_empty(),
        "{mail:?}"
    );
    let body = mail.body();
    assert!(!body.contains("Unsubscribe"), "{body}");
    assert!(body.contains("inzage op 23 november"), "{body}");
}

async fn a_refused_mail_stays_queued_and_is_delivered_later(store: &TestStore) {
    let sink = SmtpSink::start().await;
    let mailer = mailer(&sink);
    let id = store
        .enqueue_mail(&newsletter("chris@example.be"), NOW)
        .await
        .unwrap();

    sink.refuse(Some("451 4.3.0 try again later"));
    let report = deliver_due(store, &mailer, NOW).await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    assert_eq!(sink.refused(), 1);
    let queued = store.queued_mail(id).await.unwrap().unwrap();
    assert_eq!(queued.attempts, 1);
    assert_eq!(queued.sent_at, None);
    assert_eq!(queued.next_attempt_at, Some(NOW + Duration::minutes(1)));
    let error = queued.last_error.unwrap_or_default();
    assert!(
        error.contains("451") && error.contains("try again later"),
        "{error}"
    );
    assert!(
        error.contains(&sink.url()),
        "the error names the relay: {error}"
    );

    // Not again before its time.
    assert_eq!(deliver_due(store, &mailer, NOW).await.unwrap(), sent(0));
    assert_eq!(sink.refused(), 1);

    // A permanent refusal is retried too: it is often the relay's configuration.
    sink.refuse(Some("554 5.7.1 relaying denied"));
    let later = NOW + Duration::minutes(1);
    assert_eq!(
        deliver_due(store, &mailer, later).await.unwrap().retrying,
        1
    );
    let queued = store.queued_mail(id).await.unwrap().unwrap();
    assert_eq!(queued.attempts, 2);
    assert_eq!(queued.next_attempt_at, Some(later + Duration::minutes(2)));
    assert!(queued.last_error.unwrap_or_default().contains("554"));
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.sent), (1, 0));
    assert!(sink.messages().is_empty());

    sink.refuse(None);
    let later = later + Duration::minutes(2);
    assert_eq!(deliver_due(store, &mailer, later).await.unwrap(), sent(1));
    let received = sink.wait_for(1).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].rcpt_to, ["chris@example.be"]);
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.failed, status.sent), (0, 0, 1));
}

async fn mail_that_cannot_be_sent_is_kept_with_the_reason(store: &TestStore) {
    // An address kluis accepts but SMTP does not: two dots in a row.
    let sink = SmtpSink::start().await;
    let id = store
        .enqueue_mail(&receipt("an..peeters@example.be"), NOW)
        .await
        .unwrap();
    let delivery = deliver_one(store, &mailer(&sink), id, NOW).await.unwrap();
    let Delivery::Retry { at, error } = delivery else {
        panic!("{delivery:?}");
    };
    assert_eq!(at, NOW + Duration::minutes(1));
    assert!(error.contains("an..peeters@example.be"), "{error}");
    let queued = store.queued_mail(id).await.unwrap().unwrap();
    assert_eq!(queued.last_error, Some(error));

    // A relay that cannot be reached: the mail waits for it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let nowhere = Mailer::new(
        MailConfig::new(
            &format!("smtp://127.0.0.1:{port}"),
            "privacy@poperinge.be",
            None,
        )
        .unwrap(),
    )
    .unwrap();
    let other = store
        .enqueue_mail(&receipt("dirk@example.be"), NOW)
        .await
        .unwrap();
    let report = deliver_due(store, &nowhere, NOW).await.unwrap();
    assert_eq!(report.retrying, 1, "{report:?}");
    let queued = store.queued_mail(other).await.unwrap().unwrap();
    assert!(
        queued
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains(&format!("127.0.0.1:{port}")),
        "{queued:?}"
    );
    // Held by nobody, due later: a direct attempt now does nothing.
    assert_eq!(
        deliver_one(store, &nowhere, other, NOW).await.unwrap(),
        Delivery::NotDue
    );
    assert!(sink.messages().is_empty());
    let status = store.mail_status(10).await.unwrap();
    assert_eq!((status.pending, status.sent), (2, 0));
    assert_eq!(status.problems.len(), 2);
}

async fn two_senders_never_deliver_a_mail_twice(store: &TestStore) {
    let sink = SmtpSink::start().await;
    let mut queued = BTreeSet::new();
    for i in 0..30 {
        store
            .enqueue_mail(&newsletter(&format!("lezer{i}@example.be")), NOW)
            .await
            .unwrap();
        queued.insert(format!("lezer{i}@example.be"));
    }
    // Two kluis instances: each its own connection pool and mailer.
    let url = store.url().to_string();
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            let mailer = mailer(&sink);
            tokio::spawn(async move {
                let store = Store::connect(&url).await.unwrap();
                let report = deliver_due(&store, &mailer, NOW).await.unwrap();
                store.close().await;
                report
            })
        })
        .collect();
    let mut total = 0;
    for sender in senders {
        let report = sender.await.unwrap();
        assert_eq!((report.retrying, report.given_up), (0, 0), "{report:?}");
        total += report.sent;
    }
    assert_eq!(total, 30);
    let received = sink.messages();
    let recipients: BTreeSet<String> = received.iter().flat_map(|m| m.rcpt_to.clone()).collect();
    assert_eq!(received.len(), 30, "a mail was sent twice or not at all");
    assert_eq!(recipients, queued);
}

async fn the_background_delivery_sends_and_purges_old_sent_mail(store: &TestStore) {
    let sink = SmtpSink::start().await;
    // Sent 40 days ago: past the 30 days sent mail is kept.
    let long_ago = NOW - Duration::days(40);
    let old = store
        .enqueue_mail(&receipt("oud@example.be"), long_ago)
        .await
        .unwrap();
    store
        .claim_mail(old, long_ago, Duration::minutes(10))
        .await
        .unwrap();
    store.mark_mail_sent(old, long_ago).await.unwrap();
    let recent = store
        .enqueue_mail(&receipt("nieuw@example.be"), NOW - Duration::days(1))
        .await
        .unwrap();
    store
        .claim_mail(recent, NOW, Duration::minutes(10))
        .await
        .unwrap();
    store.mark_mail_sent(recent, NOW).await.unwrap();
    store
        .enqueue_mail(&newsletter("an@example.be"), NOW)
        .await
        .unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let delivery = tokio::spawn(kluis_mail::run_delivery(
        Store::clone(store),
        mailer(&sink),
        || NOW,
        async {
            let _ = stopped.await;
        },
    ));
    let received = sink.wait_for(1).await;
    assert_eq!(received[0].rcpt_to, ["an@example.be"]);
    // The purge runs before the first delivery.
    assert_eq!(store.queued_mail(old).await.unwrap(), None);
    assert!(store.queued_mail(recent).await.unwrap().is_some());

    let _ = stop.send(());
    delivery.await.unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[tokio::test]
async fn bad_settings_are_clear_errors() {
    for (url, problem) in [
        ("http://relay.example.be", "is not an SMTP URL"),
        ("relay.example.be", "is not a URL"),
        ("smtp://", "names no host"),
        ("smtp://relay.example.be?tls=maybe", "tls=maybe"),
        ("smtps://relay.example.be?tls=required", "smtps:// none"),
        ("smtp://relay.example.be?starttls=yes", "unknown parameter"),
        ("smtp://kluis:s3cret@relay.example.be", "unencrypted"),
        (
            "smtp://kluis:s3cret@relay.example.be?tls=opportunistic",
            "unencrypted",
        ),
    ] {
        let err = MailConfig::new(url, "privacy@poperinge.be", None)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("smtp_url: ") && err.contains(problem),
            "{url}: {err}"
        );
        assert!(err.contains("smtps://USER:PASSWORD@HOST"), "{url}: {err}");
        assert!(!err.contains("s3cret"), "{url}: password shown: {err}");
    }
    for (from, reply_to) in [
        ("privacy", None),
        ("", None),
        ("privacy@poperinge.be", Some("dpo at poperinge")),
    ] {
        let err = MailConfig::new("smtp://relay.example.be", from, reply_to)
            .unwrap_err()
            .to_string();
        let setting = if reply_to.is_some() {
            "reply_to"
        } else {
            "from"
        };
        assert!(
            err.starts_with(&format!("{setting}: ")) && err.contains("privacy@example.be"),
            "{from}: {err}"
        );
    }
    for url in [
        "smtp://relay.example.be",
        "smtp://relay.example.be:2525?tls=opportunistic",
        "smtp://kluis:s3cret@relay.example.be:587?tls=required",
        "smtps://kluis:s3cret@relay.example.be",
    ] {
        let config = MailConfig::new(url, "Stad Poperinge <privacy@poperinge.be>", None).unwrap();
        assert!(!format!("{config:?}").contains("s3cret"), "{config:?}");
        Mailer::new(config).unwrap();
    }
}
