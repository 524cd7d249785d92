//! The data-breach register over the API: the DPO registers and changes a breach with
//! versions, the 72-hour clock shows in lists, the authority is notified in phases, the
//! draft follows the controller's authority, and the people affected are found and told.

use std::collections::BTreeMap;

use axum::http::{Method, StatusCode, header};
use kluis_domain::access::Role;
use kluis_domain::category::DataCategory;
use kluis_domain::consent::{ConsentGiven, ConsentMethod};
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind};
use kluis_domain::text::Lang;
use kluis_domain::trace::TraceContext;
use kluis_store::Processing;
use kluis_store::testing::{postgres_store, sqlite_store};
use serde_json::{Value, json};
use time::macros::date;

use super::{Harness, NOW, REGISTER, problem};

fn body(b: &str) -> Value {
    serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"))
}

/// Post received by the wrong person, noticed two days ago.
fn wrong_post() -> Value {
    json!({
        "controller": "stad",
        "detected_at": "2026-11-21T08:00:00Z",
        "aware_at": "2026-11-21T09:00:00Z",
        "reported_by": {"kind": "citizen", "contact": "buur@example.be"},
        "description": "Een buurman kreeg camerabeelden van iemand anders toegestuurd.",
        "data_categories": ["sound_image"],
        "subject_categories": ["visitors"],
        "approx_subjects": 2,
        "consequences": "De buurman zag wie wanneer het stadhuis bezocht.",
        "measures_taken": "De buurman wiste de beelden.",
    })
}

/// Two visitors on camera images, one without an e-mail address.
async fn seed_visitors(h: &Harness) {
    let p = Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    };
    for (email, name) in [(Some("an@example.be"), "An"), (None, "Bart")] {
        let identity = SubjectIdentity {
            email: email.map(|e| e.parse().unwrap()),
            given_name: Some(name.into()),
            family_name: Some("Peeters".into()),
            birth_date: Some(date!(1980 - 02 - 02)),
            ..Default::default()
        };
        let (subject, _) = h
            .store
            .record_subject(&p, "camera", &identity, &[])
            .await
            .unwrap();
        h.store
            .add_record(
                &p,
                subject.id,
                &RecordInput {
                    activity: "camera".into(),
                    schedule: None,
                    category: DataCategory::SoundImage,
                    fields: BTreeMap::from([("clip".to_string(), json!("cam-3/0917"))]),
                    source: None,
                    collected_on: date!(2026 - 11 - 20),
                    events: BTreeMap::new(),
                    provided_by_subject: false,
                },
            )
            .await
            .unwrap();
        // An reads kluis in French: she subscribed to the newsletter in French.
        if email.is_some() {
            h.store
                .give_consent(
                    &p,
                    subject.id,
                    "nieuwsbrief",
                    &ConsentGiven {
                        method: ConsentMethod::WebForm,
                        affirmative_act: true,
                        notice_text: "Oui, je veux recevoir la lettre d'information.".into(),
                        language: Lang::Fr,
                        statement_version: None,
                        evidence: "formulaire 2026-7".into(),
                        valid_until: None,
                    },
                    None,
                )
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn breaches_api() {
    on_both_backends!(breaches_story);
}

async fn breaches_story(h: Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let dpo = h.dpo.clone();
    let auditor = h.staff("auditor", Role::Auditor).await;

    // No token: 401. A caseworker: 403, and nothing registered.
    let (s, hd, b) = h
        .send(
            h.request(Method::GET, "/api/v1/breaches", None)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/breaches",
            &h.caseworker,
            Some(wrong_post()),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // An awareness time in the future: 422 that says so.
    let mut future = wrong_post();
    future["aware_at"] = json!("2026-11-24T09:00:00Z");
    let (s, hd, b) = h
        .call(Method::POST, "/api/v1/breaches", &dpo, Some(future), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("in the future"),
        "{p}"
    );
    let (s, _, b) = h
        .call(Method::GET, "/api/v1/breaches", &dpo, None, &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(body(&b), json!([]));

    // Registered: 201 with its address, version 1 and the clock.
    let (s, hd, b) = h
        .call(
            Method::POST,
            "/api/v1/breaches",
            &dpo,
            Some(wrong_post()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(hd[header::ETAG], "\"1\"");
    let created = body(&b);
    let uri = hd[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        uri,
        format!("/api/v1/breaches/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["notification_due"], "2026-11-24T09:00:00Z");
    assert_eq!(created["clock"], "due_soon");
    assert_eq!(created["reported_by"]["kind"], "citizen");
    assert!(created["reference"].as_str().unwrap().starts_with("DL-"));

    // The auditor reads; changing needs the version.
    let (s, hd, b) = h.call(Method::GET, &uri, &auditor, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"1\"");
    let high = json!({"risk": {"level": "high_risk", "reasons": "Beelden tonen wie waar was."}});
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &uri,
            &auditor,
            Some(high.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(Method::PATCH, &uri, &dpo, Some(high.clone()), &[])
        .await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &uri,
            &dpo,
            Some(high.clone()),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"2\"");
    assert_eq!(body(&b)["risk"]["level"], "high_risk");
    assert_eq!(body(&b)["people_must_be_told"], true);
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &uri,
            &dpo,
            Some(high),
            &[("if-match", "\"1\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    let future = json!({"aware_at": "2027-01-01T00:00:00Z"});
    let (s, hd, b) = h
        .call(
            Method::PATCH,
            &uri,
            &dpo,
            Some(future),
            &[("if-match", "\"2\"")],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    // The draft of the VTC's form (the controller's first authority), then the GBA's in
    // French; the AP does not supervise this controller.
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("{uri}/notification-draft"),
            &auditor,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let draft = body(&b);
    assert_eq!(draft["authority"], "vtc");
    assert_eq!(draft["language"], "nl");
    let controller = draft["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["key"] == "controller")
        .unwrap()
        .clone();
    assert_eq!(controller["label"], "Naam van de instantie");
    assert_eq!(controller["value"], "Stad Voorbeeld");
    let (s, _, b) = h
        .call(
            Method::GET,
            &format!("{uri}/notification-draft?authority=gba&lang=fr"),
            &dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(body(&b)["fields"][1]["value"], "Ville d'Exemple");
    let (s, hd, b) = h
        .call(
            Method::GET,
            &format!("{uri}/notification-draft?authority=ap"),
            &dpo,
            None,
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    // The initial notice in time, then a supplement; a second initial notice is refused.
    let initial = json!({"phase": "initial", "sent_at": "2026-11-23T09:30:00Z",
        "content": "Gemeld via het e-loket van de VTC."});
    let notifications = format!("{uri}/notifications");
    let (s, hd, b) = h
        .call(
            Method::POST,
            &notifications,
            &dpo,
            Some(initial.clone()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(hd[header::ETAG], "\"3\"");
    assert_eq!(body(&b)["clock"], "notified");
    let (s, hd, b) = h
        .call(Method::POST, &notifications, &dpo, Some(initial), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("supplement"), "{p}");
    let supplement = json!({"phase": "supplement", "sent_at": "2026-11-23T09:45:00Z",
        "content": "Aantal betrokkenen bevestigd.", "authority_reference": "VTC-2026-117"});
    let (s, _, b) = h
        .call(Method::POST, &notifications, &dpo, Some(supplement), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(body(&b)["notifications"].as_array().unwrap().len(), 2);

    // A second, older breach: overdue in the list until notified.
    let mut old = wrong_post();
    old["detected_at"] = json!("2026-11-10T08:00:00Z");
    old["aware_at"] = json!("2026-11-10T08:00:00Z");
    let (s, _, b) = h
        .call(Method::POST, "/api/v1/breaches", &dpo, Some(old), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let old_id = body(&b)["id"].as_str().unwrap().to_string();
    let (s, _, b) = h
        .call(
            Method::GET,
            "/api/v1/breaches?overdue=true",
            &auditor,
            None,
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let overdue: Vec<String> = body(&b)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(overdue, std::slice::from_ref(&old_id));
    // Notified late without reasons: refused.
    let late =
        json!({"phase": "initial", "sent_at": "2026-11-23T09:00:00Z", "content": "Melding."});
    let (s, hd, b) = h
        .call(
            Method::POST,
            &format!("/api/v1/breaches/{old_id}/notifications"),
            &dpo,
            Some(late),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("delay"), "{p}");

    // The people affected: the DPO finds them (after signing the confidentiality
    // statement), then tells them once the decision is recorded.
    seed_visitors(&h).await;
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-1"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let affected = format!("{uri}/affected");
    let query = json!({"activities": ["camera"], "collected_from": "2026-11-01"});
    let (s, _, b) = h
        .call(Method::POST, &affected, &dpo, Some(query.clone()), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let found = body(&b);
    assert_eq!(found["count"], 2);
    assert_eq!(found["records"], 2);
    assert!(found.get("queued").is_none());
    let (s, hd, b) = h
        .call(Method::POST, &affected, &dpo, Some(json!({})), &[])
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let mut notify = query.clone();
    notify["notify"] = json!(true);
    notify["language"] = json!("en");
    let (s, hd, b) = h
        .call(Method::POST, &affected, &dpo, Some(notify.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("art. 34"), "{p}");
    assert_eq!(h.store.mail_status(10).await.unwrap().pending, 0);
    let (s, hd, b) = h
        .call(
            Method::PUT,
            &format!("{uri}/art34-decision"),
            &dpo,
            Some(json!({"inform": false, "reasons": "Liever niet."})),
            &[],
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("{uri}/art34-decision"),
            &dpo,
            Some(json!({"inform": true, "reasons": "Hoog risico: iedereen verwittigen."})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(body(&b)["art34"]["inform"], true);
    let (s, _, b) = h
        .call(Method::POST, &affected, &dpo, Some(notify), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let told = body(&b);
    assert_eq!(
        (told["queued"].clone(), told["without_email"].clone()),
        (json!(1), json!(1))
    );
    let mail = h
        .store
        .claim_due_mail(NOW, time::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].mail.to.as_str(), "an@example.be");
    // In An's own language, not the default asked for (English).
    assert!(
        mail[0].mail.subject.starts_with("Une fuite de données"),
        "{:?}",
        mail[0].mail
    );
    assert!(mail[0].mail.body_text.contains("dpo@voorbeeld.be"));
    let (_, _, b) = h.call(Method::GET, &uri, &dpo, None, &[]).await;
    assert_eq!(body(&b)["people_told"], 2);

    // The auditor may not search people or queue mail.
    let (s, hd, b) = h
        .call(Method::POST, &affected, &auditor, Some(query), &[])
        .await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = h
        .call(Method::GET, "/api/v1/breaches/not-a-uuid", &dpo, None, &[])
        .await;
    assert!(s.is_client_error(), "{s} {hd:?} {b}");
    h.store.cleanup().await;
}

async fn page(
    h: &Harness,
    method: Method,
    uri: &str,
    cookie: Option<&str>,
    form: Option<&str>,
) -> (StatusCode, String) {
    let mut b = h.request(method, uri, None);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let req = match form {
        Some(f) => b
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(axum::body::Body::from(f.to_string()))
            .unwrap(),
        None => b.body(axum::body::Body::empty()).unwrap(),
    };
    let (s, _, body) = h.send(req).await;
    (s, body)
}

#[tokio::test]
async fn citizens_report_breaches_and_staff_read_them_in_the_back_office() {
    on_both_backends!(pages_story);
}

async fn pages_story(h: Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");

    // The form, in English, lists the organisations.
    let (s, b) = page(&h, Method::GET, "/report-breach?lang=en", None, None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Report a data breach"), "{b}");
    assert!(b.contains("City of Example"), "{b}");

    // Bad input: nothing described, a broken address, an unknown organisation, too long.
    for (form, expected) in [
        ("controller=stad&what=+&contact=", "Describe what happened."),
        (
            "controller=stad&what=Post+van+de+buren&contact=buur.example.be",
            "This e-mail address is not valid",
        ),
        ("controller=atlantis&what=Post", "Choose the organisation."),
    ] {
        let (s, b) = page(&h, Method::POST, "/report-breach?lang=en", None, Some(form)).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{form}: {b}");
        assert!(b.contains(expected), "{form}: {b}");
    }
    let long = format!("controller=stad&what={}", "x".repeat(5_001));
    let (s, b) = page(
        &h,
        Method::POST,
        "/report-breach?lang=en",
        None,
        Some(&long),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("keep it to 5000 characters"), "{b}");
    let all = h
        .store
        .breaches(kluis_store::BreachFilter::default(), NOW)
        .await
        .unwrap();
    assert!(
        all.is_empty(),
        "a refused report registered something: {all:?}"
    );

    // A valid report: a reference, and a breach reported by a citizen, aware now.
    let form =
        "controller=stad&what=Ik+kreeg+de+brief+van+mijn+buurvrouw&contact=buur%40example.be";
    let (s, b) = page(&h, Method::POST, "/report-breach?lang=nl", None, Some(form)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let all = h
        .store
        .breaches(kluis_store::BreachFilter::default(), NOW)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let reported = &all[0];
    assert!(b.contains(&reported.reference()), "{b}");
    assert_eq!(reported.facts.aware_at, NOW);
    assert_eq!(
        reported.facts.reported_by,
        kluis_domain::breach::ReportedBy::Citizen {
            contact: Some("buur@example.be".into())
        }
    );
    assert_eq!(
        reported.facts.description,
        "Ik kreeg de brief van mijn buurvrouw"
    );

    // The back-office: the DPO and the auditor read, a caseworker may not.
    let auditor = h
        .store
        .create_user(
            "audit",
            "Auditor",
            "a long auditor password",
            &[Role::Auditor],
            NOW,
        )
        .await
        .unwrap();
    let cw = h.store.user_by_username("cw").await.unwrap().unwrap();
    let cookie = |secret: String| format!("kluis_session={secret}");
    let (auditor_secret, _) = h
        .store
        .create_session(auditor.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let (cw_secret, _) = h
        .store
        .create_session(cw.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let auditor_cookie = cookie(auditor_secret);
    let (s, b) = page(
        &h,
        Method::GET,
        "/admin/breaches?lang=en",
        Some(&auditor_cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains(&reported.reference()), "{b}");
    assert!(
        b.contains("due soon: less than 24 hours left") || b.contains("to be notified"),
        "{b}"
    );
    let (s, b) = page(
        &h,
        Method::GET,
        "/admin/breaches?lang=en&show=overdue",
        Some(&auditor_cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("No data breaches in this list."), "{b}");
    let detail = format!("/admin/breaches/{}?lang=en", reported.id);
    let (s, b) = page(&h, Method::GET, &detail, Some(&auditor_cookie), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Ik kreeg de brief van mijn buurvrouw"), "{b}");
    assert!(b.contains("a citizen (buur@example.be)"), "{b}");
    assert!(b.contains("Not notified yet."), "{b}");
    let (s, _) = page(
        &h,
        Method::GET,
        &detail,
        Some(&cookie(cw_secret.clone())),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = page(
        &h,
        Method::GET,
        "/admin/breaches/not-a-breach?lang=en",
        Some(&auditor_cookie),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    h.store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn breach_pages_in_chromium_pass_an_accessibility_audit() {
    if !crate::support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    let h = Harness::new(store).await;
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    h.store
        .create_user("els", "Els", "a long dpo password", &[Role::Dpo], NOW)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let state = kluis_web::AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        kluis_web::Settings::default(),
    );
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    let steps = json!([
        {"goto": "/report-breach?lang=en", "expect_status": 200},
        {"axe": true},
        {"click": {"role": "button", "name": "Send the report"}},
        {"expect_text": "There is a problem"},
        {"expect_text": "Describe what happened."},
        {"axe": true},
        {"fill": {"label": "What happened?", "value": "I received my neighbour's letter."}},
        {"click": {"role": "button", "name": "Send the report"}},
        {"expect_text": "Your reference is DL-"},
        {"axe": true},
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "els"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": "/admin/breaches?lang=en", "expect_status": 200},
        {"expect_text": "I received my neighbour's letter. stad"},
        {"axe": true},
    ]);
    crate::support::browser::run_scenario(&base, steps).unwrap();
    let all = h
        .store
        .breaches(kluis_store::BreachFilter::default(), NOW)
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    let detail = format!("/admin/breaches/{}?lang=en", all[0].id);
    let steps = json!([
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "els"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": detail, "expect_status": 200},
        {"expect_text": "I received my neighbour's letter."},
        {"expect_text": "a citizen"},
        {"axe": true},
    ]);
    crate::support::browser::run_scenario(&base, steps).unwrap();
    h.store.cleanup().await;
}
