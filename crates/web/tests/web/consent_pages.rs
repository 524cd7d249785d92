//! The person's own consent pages: one-click withdrawal links (RFC 8058) and the portal,
//! driven over HTTP on both backends; the outbox is read through the store.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kluis_domain::consent::{ConsentGiven, ConsentMethod, ConsentState};
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::inventory::SubjectIdentity;
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{postgres_store, sqlite_store};
use kluis_store::{Consent, ConsentSubject, Processing, QueuedMail, Store};
use time::Duration;
use uuid::Uuid;

use super::{Harness, NOW};

const NEWSLETTER: &str = "stad-poperinge-nieuwsbrieven";
const E_COUNTER: &str = "stad-poperinge-stadsloket";
const AN: &str = "an.peeters@example.be";
const PUBLIC_URL: &str = "http://127.0.0.1:8080";

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

/// Poperinge's register; An consents to the newsletters and the e-counter.
pub(super) async fn an_with_two_consents(store: &Store) -> (Uuid, Consent, Consent) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/poperinge.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let register = kluis_domain::register_file::parse(path, &text).unwrap();
    store
        .import_register(&register, false, "test", NOW)
        .await
        .unwrap();
    let identity = SubjectIdentity {
        email: Some(AN.parse().unwrap()),
        given_name: Some("An".into()),
        ..Default::default()
    };
    let an = store
        .record_subject(&staff(), NEWSLETTER, &identity, &[])
        .await
        .unwrap()
        .0
        .id;
    let newsletter = store
        .give_consent(&staff(), an, NEWSLETTER, &given(), None)
        .await
        .unwrap();
    let e_counter = store
        .give_consent(&staff(), an, E_COUNTER, &given(), None)
        .await
        .unwrap();
    (an, newsletter, e_counter)
}

/// Whether `activity` may use An's data now, and the consent's state.
async fn consent_of(store: &Store, an: Uuid, activity: &str) -> (bool, Option<ConsentState>) {
    let answer = store
        .check_consent(activity, &[ConsentSubject::Id(an)], NOW)
        .await
        .unwrap()
        .remove(0);
    (answer.allowed, answer.state)
}

async fn allowed(store: &Store, an: Uuid, activity: &str) -> bool {
    consent_of(store, an, activity).await.0
}

async fn events(store: &Store, id: Uuid) -> usize {
    store
        .consent(&staff(), id)
        .await
        .unwrap()
        .unwrap()
        .events
        .len()
}

/// Every unsent mail in the outbox (claimed without a lease, so they stay claimable).
async fn outbox(store: &Store) -> Vec<QueuedMail> {
    store
        .claim_due_mail(NOW, Duration::ZERO, 100)
        .await
        .unwrap()
}

async fn get(h: &Harness, uri: &str) -> (StatusCode, header::HeaderMap, String) {
    h.send(Request::get(uri).body(Body::empty()).unwrap()).await
}

async fn post(
    h: &Harness,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, header::HeaderMap, String) {
    let req = Request::builder()
        .method(Method::POST)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap();
    h.send(req).await
}

const FORM: &str = "application/x-www-form-urlencoded";

/// What a mail client sends (RFC 8058): no Origin, no cookie, just the body.
async fn one_click(h: &Harness, token: &str) -> (StatusCode, header::HeaderMap, String) {
    post(
        h,
        &format!("/consent/unsubscribe/{token}"),
        FORM,
        "List-Unsubscribe=One-Click",
    )
    .await
}

#[tokio::test]
async fn one_click_links_withdraw_exactly_their_consent_and_only_on_post() {
    on_both_backends!(one_click_story);
}

async fn one_click_story(h: Harness) {
    let (an, newsletter, e_counter) = an_with_two_consents(&h.store).await;
    let token = h.store.unsubscribe_link(&newsletter, NOW).unwrap();
    let link = format!("/consent/unsubscribe/{token}");

    // A GET (a person, or a mail scanner) shows what the link withdraws and withdraws nothing.
    let (s, hd, b) = get(&h, &format!("{link}?lang=en")).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("“Newsletters”") && b.contains("City of Poperinge"),
        "{b}"
    );
    assert!(
        b.contains(&format!(r#"<form method="post" action="{link}?lang=en">"#)),
        "{b}"
    );
    assert!(
        b.contains(r#"name="List-Unsubscribe" value="One-Click""#),
        "{b}"
    );
    assert_eq!(hd[header::CACHE_CONTROL], "no-store");
    assert_eq!(hd["x-robots-tag"], "noindex");
    assert_eq!(hd[header::CONTENT_LANGUAGE], "en");
    for _ in 0..3 {
        let (s, _, _) = get(&h, &link).await;
        assert_eq!(s, StatusCode::OK);
    }
    let (s, _, _) = h
        .send(Request::head(&link).body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        consent_of(&h.store, an, NEWSLETTER).await,
        (true, Some(ConsentState::Given)),
        "a GET withdraws nothing"
    );

    // A POST without the one-click body is no withdrawal.
    for (content_type, body) in [
        (FORM, ""),
        (FORM, "List-Unsubscribe=Yes"),
        ("text/plain", "List-Unsubscribe=One-Click"),
    ] {
        let (s, _, b) = post(&h, &link, content_type, body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {b}");
        assert!(b.contains("Er is niets ingetrokken"), "{b}");
    }
    assert!(allowed(&h.store, an, NEWSLETTER).await);
    assert!(outbox(&h.store).await.is_empty());

    // The one-click POST withdraws the newsletter, not the e-counter, and confirms by mail
    // in the language An consented in.
    let (s, hd, first) = one_click(&h, &token).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert!(first.contains("Je toestemming is ingetrokken"), "{first}");
    assert!(first.contains("role=\"status\""), "{first}");
    assert_eq!(hd[header::CACHE_CONTROL], "no-store");
    assert_eq!(
        consent_of(&h.store, an, NEWSLETTER).await,
        (false, Some(ConsentState::Withdrawn))
    );
    assert_eq!(
        consent_of(&h.store, an, E_COUNTER).await,
        (true, Some(ConsentState::Given)),
        "another consent of the same person stays"
    );
    assert_eq!(events(&h.store, newsletter.id).await, 2);
    let mails = outbox(&h.store).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].mail.to.as_str(), AN);
    assert_eq!(mails[0].mail.subject, "Je toestemming is ingetrokken");
    assert!(mails[0].mail.body_text.contains("‘Nieuwsbrieven’"));
    assert!(
        mails[0]
            .mail
            .body_text
            .contains(&format!("{PUBLIC_URL}/consent?lang=nl"))
    );

    // Idempotent: the same confirmation, no new event, no second mail.
    let (s, _, again) = one_click(&h, &token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, first);
    assert_eq!(events(&h.store, newsletter.id).await, 2);
    assert_eq!(outbox(&h.store).await.len(), 1);
    // The link's page now says it is done, and offers no button.
    let (s, _, b) = get(&h, &link).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        b.contains("Je toestemming is ingetrokken") && !b.contains("<button"),
        "{b}"
    );

    // Multipart form data, which RFC 8058 also allows, withdraws the e-counter.
    let e_counter_token = h.store.unsubscribe_link(&e_counter, NOW).unwrap();
    let body = "--XyZ\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n--XyZ--\r\n";
    let (s, _, b) = post(
        &h,
        &format!("/consent/unsubscribe/{e_counter_token}?lang=fr"),
        "multipart/form-data; boundary=XyZ",
        body,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Votre consentement est retiré"), "{b}");
    assert!(!allowed(&h.store, an, E_COUNTER).await);

    // Consent given again: the old link is superseded and withdraws nothing.
    h.store
        .give_consent(&staff(), an, NEWSLETTER, &given(), None)
        .await
        .unwrap();
    for (s, _, b) in [
        get(&h, &format!("{link}?lang=en")).await,
        post(
            &h,
            &format!("{link}?lang=en"),
            FORM,
            "List-Unsubscribe=One-Click",
        )
        .await,
    ] {
        assert_eq!(s, StatusCode::GONE, "{b}");
        assert!(b.contains("belongs to an earlier consent"), "{b}");
        assert!(b.contains(r#"href="/consent?lang=en""#), "{b}");
    }
    assert_eq!(
        consent_of(&h.store, an, NEWSLETTER).await,
        (true, Some(ConsentState::Given)),
        "a replayed link leaves the new consent alone"
    );

    // An expired link points to the portal.
    let renewed = h
        .store
        .consent(&staff(), newsletter.id)
        .await
        .unwrap()
        .unwrap();
    let old = NOW - Duration::days(kluis_domain::consent::UNSUBSCRIBE_LINK_DAYS + 1);
    let expired = h.store.unsubscribe_link(&renewed, old).unwrap();
    for (s, _, b) in [
        get(&h, &format!("/consent/unsubscribe/{expired}?lang=en")).await,
        one_click(&h, &expired).await,
    ] {
        assert_eq!(s, StatusCode::GONE, "{b}");
        assert!(b.contains("/consent?lang="), "{b}");
    }
    assert!(allowed(&h.store, an, NEWSLETTER).await);
    h.store.cleanup().await;
}

#[tokio::test]
async fn forged_links_are_refused_alike_whether_or_not_the_consent_exists() {
    on_both_backends!(forged_links_story);
}

async fn forged_links_story(h: Harness) {
    let (an, newsletter, _) = an_with_two_consents(&h.store).await;
    let token = h.store.unsubscribe_link(&newsletter, NOW).unwrap();
    let mut altered = token.clone().into_bytes();
    let middle = altered.len() / 2;
    altered[middle] = if altered[middle] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    let unknown_consent = h.store.unsubscribe_token(Uuid::now_v7(), 1, NOW).unwrap();
    let portal_token = h.store.portal_link(&AN.parse().unwrap(), NOW).unwrap();
    let refused = [
        "garbage".to_string(),
        token[..token.len() - 4].to_string(),
        altered,
        unknown_consent,
        "A".repeat(5_000),
        // A portal link is no unsubscribe link.
        portal_token.clone(),
    ];
    let mut pages = Vec::new();
    for bad in &refused {
        let (s, _, b) = get(&h, &format!("/consent/unsubscribe/{bad}?lang=en")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        assert!(b.contains("This link is not valid"), "{b}");
        pages.push(b.replace(bad.as_str(), "TOKEN"));
        let (s, _, b) = one_click(&h, bad).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        pages.push(b.replace(bad.as_str(), "TOKEN"));
        if *bad != portal_token {
            let (s, _, b) = get(&h, &format!("/consent/manage/{bad}")).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
            let withdraw = format!("/consent/manage/{bad}/withdraw");
            let (s, _, b) = post(&h, &withdraw, FORM, &format!("activity={NEWSLETTER}")).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{b}");
        }
    }
    let (en, nl) = (&pages[0], &pages[1]);
    for (i, page) in pages.iter().enumerate() {
        let expected = if i % 2 == 0 { en } else { nl };
        assert_eq!(page, expected, "refusal {i} differs from garbage");
    }
    assert!(allowed(&h.store, an, NEWSLETTER).await);
    assert!(outbox(&h.store).await.is_empty());
    h.store.cleanup().await;
}

#[tokio::test]
async fn a_withdrawal_stands_when_its_confirmation_cannot_be_queued() {
    on_both_backends!(outbox_failure_story);
}

async fn outbox_failure_story(h: Harness) {
    let (an, newsletter, _) = an_with_two_consents(&h.store).await;
    let token = h.store.unsubscribe_link(&newsletter, NOW).unwrap();
    h.store.execute_raw("DROP TABLE mail_outbox").await.unwrap();
    let (s, _, b) = one_click(&h, &token).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Je toestemming is ingetrokken"), "{b}");
    assert_eq!(
        consent_of(&h.store, an, NEWSLETTER).await,
        (false, Some(ConsentState::Withdrawn))
    );
    // A portal link that cannot be queued must not tell that the address is known.
    let (s, _, known) = post(&h, "/consent", FORM, "email=an.peeters%40example.be").await;
    assert_eq!(s, StatusCode::OK, "{known}");
    let (_, _, unknown) = post(&h, "/consent", FORM, "email=nobody%40example.be").await;
    assert_eq!(known, unknown);
    h.store.cleanup().await;
}

/// The path of the portal link in a mail.
fn manage_path(mail: &QueuedMail) -> String {
    let start = mail
        .mail
        .body_text
        .find(&format!("{PUBLIC_URL}/consent/manage/"))
        .unwrap_or_else(|| panic!("no portal link in {}", mail.mail.body_text));
    let url = mail.mail.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap();
    url[PUBLIC_URL.len()..].to_string()
}

#[tokio::test]
async fn the_portal_mails_a_link_without_telling_who_is_known() {
    on_both_backends!(portal_story);
}

async fn portal_story(h: Harness) {
    let (an, _, _) = an_with_two_consents(&h.store).await;

    let (s, hd, b) = get(&h, "/consent?lang=en").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains(r#"<label for="email">E-mail address</label>"#),
        "{b}"
    );
    assert!(b.contains(r#"autocomplete="email""#), "{b}");
    assert!(b.contains(r#"action="/consent?lang=en""#), "{b}");
    assert_eq!(hd["x-robots-tag"], "noindex");

    // A bad address: 422, the error next to the field, nothing sent.
    for (value, error) in [
        ("an.peeters.example.be", "exactly one @"),
        ("", "Enter your e-mail address"),
        ("an@example", "a domain with a dot"),
    ] {
        let (s, _, b) = post(&h, "/consent?lang=en", FORM, &format!("email={value}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
        assert!(b.contains(error), "{value}: {b}");
        assert!(b.contains(r#"id="email-error""#), "{b}");
        assert!(
            b.contains(r#"aria-describedby="email-hint email-error""#),
            "{b}"
        );
        assert!(b.contains(r#"aria-invalid="true""#), "{b}");
        assert!(b.contains(&format!(r#"value="{value}""#)), "{b}");
    }
    let (s, _, _) = post(&h, "/consent?lang=en", "text/plain", "email=x").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(outbox(&h.store).await.is_empty());

    // Unknown and known addresses get the very same page; only the known one gets mail.
    let (s, _, unknown) = post(&h, "/consent?lang=en", FORM, "email=nobody%40example.be").await;
    assert_eq!(s, StatusCode::OK, "{unknown}");
    assert!(
        unknown.contains("If we know this e-mail address"),
        "{unknown}"
    );
    assert!(outbox(&h.store).await.is_empty());
    let (s, _, known) = post(
        &h,
        "/consent?lang=en",
        FORM,
        "email=An.Peeters%40Example.be",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(known, unknown);
    let mails = outbox(&h.store).await;
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].mail.to.as_str(), AN);
    assert_eq!(mails[0].mail.subject, "Your link to your consents");
    assert_eq!(mails[0].mail.unsubscribe_url, None);
    // Asking again within the minute: the same page, no second mail.
    let (_, _, again) = post(
        &h,
        "/consent?lang=en",
        FORM,
        "email=an.peeters%40example.be",
    )
    .await;
    assert_eq!(again, unknown);
    assert_eq!(outbox(&h.store).await.len(), 1);

    // The link lists An's consents, each with a button.
    let manage = manage_path(&mails[0]);
    assert!(manage.ends_with("?lang=en"), "{manage}");
    let (s, hd, b) = get(&h, &manage).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::CACHE_CONTROL], "no-store");
    assert!(b.contains(AN), "{b}");
    assert!(
        b.contains("Newsletters") && b.contains("City e-counter"),
        "{b}"
    );
    assert!(b.contains("given since 23 November 2026"), "{b}");
    assert!(b.contains("given on 23 November 2026 (web form)"), "{b}");
    assert!(b.contains("Withdraw my consent for Newsletters"), "{b}");
    assert!(b.contains("Withdraw my consent for City e-counter"), "{b}");

    // Withdrawing one: the list comes back with a status message, the other stays.
    let token_path = manage.split('?').next().unwrap();
    let withdraw = format!("{token_path}/withdraw?lang=en");
    let body = format!("activity={NEWSLETTER}");
    let (s, _, first) = post(&h, &withdraw, FORM, &body).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert!(
        first.contains(r#"role="status">Your consent for “Newsletters” is withdrawn."#),
        "{first}"
    );
    assert!(
        !first.contains("Withdraw my consent for Newsletters"),
        "{first}"
    );
    assert!(
        first.contains("withdrawn on 23 November 2026 (consent page)"),
        "{first}"
    );
    assert!(
        first.contains("Withdraw my consent for City e-counter"),
        "{first}"
    );
    assert!(!allowed(&h.store, an, NEWSLETTER).await);
    assert!(allowed(&h.store, an, E_COUNTER).await);
    let newsletter_id = h
        .store
        .check_consent(NEWSLETTER, &[ConsentSubject::Id(an)], NOW)
        .await
        .unwrap()[0]
        .consent_id
        .unwrap();
    assert_eq!(events(&h.store, newsletter_id).await, 2);
    // Idempotent.
    let (s, _, again) = post(&h, &withdraw, FORM, &body).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(again, first);
    assert_eq!(events(&h.store, newsletter_id).await, 2);

    // A purpose not on the list, or none: 422, nothing changed.
    for body in ["activity=stad-poperinge-eid", "", "activity="] {
        let (s, _, b) = post(&h, &withdraw, FORM, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {b}");
        assert!(b.contains("Nothing has changed"), "{b}");
    }
    assert!(allowed(&h.store, an, E_COUNTER).await);

    // An expired portal link: 410 with the way to a new one; nothing withdrawn.
    let email: EmailAddress = AN.parse().unwrap();
    let stale = h
        .store
        .portal_link(&email, NOW - Duration::minutes(61))
        .unwrap();
    let (s, _, b) = get(&h, &format!("/consent/manage/{stale}?lang=en")).await;
    assert_eq!(s, StatusCode::GONE, "{b}");
    assert!(b.contains("This link has expired"), "{b}");
    assert!(b.contains(r#"href="/consent?lang=en""#), "{b}");
    let (s, _, _) = post(
        &h,
        &format!("/consent/manage/{stale}/withdraw"),
        FORM,
        &format!("activity={E_COUNTER}"),
    )
    .await;
    assert_eq!(s, StatusCode::GONE);
    assert!(allowed(&h.store, an, E_COUNTER).await);
    // A one-click token opens no portal.
    let e_counter = h
        .store
        .check_consent(E_COUNTER, &[ConsentSubject::Id(an)], NOW)
        .await
        .unwrap()
        .remove(0);
    let unsubscribe = h
        .store
        .unsubscribe_token(
            e_counter.consent_id.unwrap(),
            e_counter.last_given_event.unwrap(),
            NOW,
        )
        .unwrap();
    let (s, _, _) = post(
        &h,
        &format!("/consent/manage/{unsubscribe}/withdraw"),
        FORM,
        &format!("activity={E_COUNTER}"),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(allowed(&h.store, an, E_COUNTER).await);
    h.store.cleanup().await;
}

/// Served on a free port for Chromium, with An's two consents.
async fn serve(store: &Store) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings = kluis_web::Settings {
        public_url: base.clone(),
        ..Default::default()
    };
    let state = kluis_web::AppState::new(store.clone(), std::sync::Arc::new(|| NOW), settings);
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn consent_pages_in_chromium_work_by_keyboard_and_pass_an_accessibility_audit() {
    if !super::support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    let (an, newsletter, _) = an_with_two_consents(&store).await;
    let base = serve(&store).await;
    let token = store.unsubscribe_link(&newsletter, NOW).unwrap();
    // Tab order: skip link, home, three languages, then the page's own controls.
    let tabs_to_content = 5;
    let mut steps = vec![
        serde_json::json!({"goto": format!("/consent/unsubscribe/{token}?lang=en"), "expect_status": 200}),
        serde_json::json!({"expect_text": "With this link you withdraw the consent you gave City of Poperinge for “Newsletters”."}),
        serde_json::json!({"axe": true}),
    ];
    steps.extend((0..=tabs_to_content).map(|_| serde_json::json!({"press": "Tab"})));
    steps.extend([
        serde_json::json!({"expect_focus_name": "Withdraw my consent"}),
        serde_json::json!({"press": "Enter"}),
        serde_json::json!({"expect_text": "City of Poperinge no longer uses your data for “Newsletters”."}),
        serde_json::json!({"axe": true}),
        // The portal: a wrong address first, then the right one.
        serde_json::json!({"goto": "/consent?lang=en", "expect_status": 200}),
        serde_json::json!({"axe": true}),
        serde_json::json!({"fill": {"label": "E-mail address", "value": "an.peeters.example.be"}}),
        serde_json::json!({"click": {"role": "button", "name": "Send me a link"}}),
        serde_json::json!({"expect_text": "An e-mail address has exactly one @"}),
        serde_json::json!({"axe": true}),
        serde_json::json!({"fill": {"label": "E-mail address", "value": AN}}),
        serde_json::json!({"click": {"role": "button", "name": "Send me a link"}}),
        serde_json::json!({"expect_text": "If we know this e-mail address, we have sent a link to it."}),
        serde_json::json!({"axe": true}),
    ]);
    super::support::browser::run_scenario(&base, serde_json::json!(steps)).unwrap();
    assert!(!allowed(&store, an, NEWSLETTER).await);

    // The link from the mail, then withdrawing the e-counter by keyboard.
    let mails = store
        .claim_due_mail(NOW, Duration::ZERO, 100)
        .await
        .unwrap();
    let portal_mail = mails
        .iter()
        .find(|m| m.mail.subject == "Your link to your consents")
        .unwrap_or_else(|| panic!("no portal link mailed: {mails:?}"));
    let start = portal_mail.mail.body_text.find(&base).unwrap();
    let url = portal_mail.mail.body_text[start..]
        .split_whitespace()
        .next()
        .unwrap();
    let manage = &url[base.len()..];
    let mut steps = vec![
        serde_json::json!({"goto": manage, "expect_status": 200}),
        serde_json::json!({"expect_text": "given since 23 November 2026"}),
        serde_json::json!({"axe": true}),
    ];
    // The newsletters are withdrawn already: the e-counter's button is the first control
    // after the languages.
    steps.extend((0..=tabs_to_content).map(|_| serde_json::json!({"press": "Tab"})));
    steps.extend([
        serde_json::json!({"expect_focus_name": "Withdraw my consent for City e-counter"}),
        serde_json::json!({"press": "Enter"}),
        serde_json::json!({"expect_text": "Your consent for “City e-counter” is withdrawn."}),
        serde_json::json!({"expect_no_text": "Withdraw my consent for"}),
        serde_json::json!({"axe": true}),
    ]);
    super::support::browser::run_scenario(&base, serde_json::json!(steps)).unwrap();
    assert!(!allowed(&store, an, E_COUNTER).await);
    store.cleanup().await;
}
