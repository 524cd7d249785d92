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
        // The DPO records a breach (refused with an awareness in the future), an initial
        // notice and the art. 34 decision.
        {"goto": "/admin/breaches/new?lang=en", "expect_status": 200},
        {"axe": true},
        {"fill": {"label": "Aware at", "value": "2026-11-23T11:00"}},
        {"fill": {"label": "What happened", "value": "Camera images mailed to the wrong visitor."}},
        {"check": {"label": "Images and sound"}},
        {"select": {"label": "Risk", "value": "high_risk"}},
        {"fill": {"label": "Reasons for the risk assessment", "value": "Visitors can be recognised."}},
        {"click": {"role": "button", "name": "Record the breach"}},
        {"expect_text": "is in the future"},
        {"axe": true},
        {"fill": {"label": "Detected at", "value": "2026-11-22T08:00"}},
        {"fill": {"label": "Aware at", "value": "2026-11-22T09:30"}},
        {"click": {"role": "button", "name": "Record the breach"}},
        {"expect_text": "The data breach is recorded."},
        {"axe": true},
        {"fill": {"label": "Sent at (UTC)", "value": "2026-11-23T09:00"}},
        {"fill": {"label": "What was sent", "value": "Notified through the authority's form."}},
        {"click": {"role": "button", "name": "Record the notice"}},
        {"expect_text": "The notice to the supervisory authority is recorded."},
        {"axe": true},
        {"check": {"label": "Yes, each person is told"}},
        {"fill": {"label": "Reasons", "value": "Recognisable images."}},
        {"click": {"role": "button", "name": "Record the decision"}},
        {"expect_text": "They are told: Recognisable images."},
        {"axe": true},
    ]);
    crate::support::browser::run_scenario(&base, steps).unwrap();
    h.store.cleanup().await;
}

/// A signed-in staff member's cookie and CSRF token.
async fn sign_in(h: &Harness, username: &str) -> (String, String) {
    let user = h.store.user_by_username(username).await.unwrap().unwrap();
    let (secret, session) = h
        .store
        .create_session(user.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    (format!("kluis_session={secret}"), session.csrf_token)
}

async fn post_form(
    h: &Harness,
    uri: &str,
    (cookie, csrf): &(String, String),
    fields: &[(&str, &str)],
    with_csrf: bool,
) -> (StatusCode, Option<String>, String) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    if with_csrf {
        form.append_pair("csrf", csrf);
    }
    for (k, v) in fields {
        form.append_pair(k, v);
    }
    let req = h
        .request(Method::POST, uri, None)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from(form.finish()))
        .unwrap();
    let (s, headers, body) = h.send(req).await;
    let location = headers
        .get(header::LOCATION)
        .map(|l| l.to_str().unwrap().to_string());
    (s, location, body)
}

/// The new-breach form filled in: camera images mailed to the wrong person, a high risk.
fn new_breach(aware_at: &str) -> Vec<(&'static str, String)> {
    [
        ("controller", "stad"),
        ("detected_at", "2026-11-22T08:00"),
        ("aware_at", aware_at),
        ("reporter", "staff"),
        ("reporter_name", "Els (onthaal)"),
        (
            "description",
            "Camerabeelden werden naar de verkeerde bezoeker gemaild.",
        ),
        ("data_categories", "sound_image"),
        ("data_categories", "contact"),
        ("subject_categories", "visitors"),
        ("approx_subjects", "12"),
        ("approx_records", "30"),
        ("consequences", "Bezoekers zijn herkenbaar."),
        ("measures_taken", "De ontvanger wiste de mail."),
        ("measures_proposed", "Adressen dubbel controleren."),
        ("risk", "high_risk"),
        ("risk_reasons", "Herkenbare beelden van bezoekers."),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_string()))
    .collect()
}

fn pairs<'a>(fields: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    fields.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn the_dpo_records_breaches_notices_and_decisions_in_the_back_office() {
    on_both_backends!(back_office_story);
}

/// The DPO records a breach, an initial notice and the art. 34 decision from the pages;
/// an awareness in the future, bad input, a stale page, a form without its token or from
/// an auditor is refused and changes nothing.
async fn back_office_story(h: Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    h.store
        .create_user(
            "audit",
            "Auditor",
            "a long auditor pw",
            &[Role::Auditor],
            NOW,
        )
        .await
        .unwrap();
    let dpo_in = sign_in(&h, "dpo").await;
    let auditor_in = sign_in(&h, "audit").await;
    let all = || async {
        h.store
            .breaches(kluis_store::BreachFilter::default(), NOW)
            .await
            .unwrap()
    };

    // The form, linked from the list for the DPO, not offered to the auditor.
    let (s, b) = page(
        &h,
        Method::GET,
        "/admin/breaches?lang=en",
        Some(&dpo_in.0),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("/admin/breaches/new?lang=en"), "{b}");
    let (_, b) = page(
        &h,
        Method::GET,
        "/admin/breaches?lang=en",
        Some(&auditor_in.0),
        None,
    )
    .await;
    assert!(!b.contains("/admin/breaches/new"), "{b}");
    let (s, _) = page(
        &h,
        Method::GET,
        "/admin/breaches/new?lang=en",
        Some(&auditor_in.0),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, b) = page(
        &h,
        Method::GET,
        "/admin/breaches/new?lang=en",
        Some(&dpo_in.0),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Record a data breach") && b.contains("2026-11-23T10:00"),
        "{b}"
    );

    // Refused, recording nothing.
    let uri = "/admin/breaches/new?lang=en";
    let good = new_breach("2026-11-22T09:30");
    let (s, _, _) = post_form(&h, uri, &dpo_in, &pairs(&good), false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post_form(&h, uri, &auditor_in, &pairs(&good), true).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let future = new_breach("2026-11-23T11:00");
    let (s, _, b) = post_form(&h, uri, &dpo_in, &pairs(&future), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b.contains("role=\"alert\"") && b.contains("is in the future"),
        "{b}"
    );
    assert!(
        b.contains("Adressen dubbel controleren."),
        "what was typed is kept: {b}"
    );
    assert!(b.contains("value=\"sound_image\" checked"), "{b}");
    let mut bad = good.clone();
    bad.retain(|(k, _)| *k != "approx_subjects");
    bad.push(("approx_subjects", "twaalf".into()));
    let (s, _, b) = post_form(&h, uri, &dpo_in, &pairs(&bad), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("is not a whole number"), "{b}");
    let mut bad = good.clone();
    bad.retain(|(k, _)| *k != "risk_reasons");
    let (s, _, b) = post_form(&h, uri, &dpo_in, &pairs(&bad), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("needs its reasons"), "{b}");
    assert!(all().await.is_empty());

    // Recorded, and the page confirms it.
    let (s, to, b) = post_form(&h, uri, &dpo_in, &pairs(&good), true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    let to = to.unwrap();
    assert!(to.ends_with("done=created"), "{to}");
    let list = all().await;
    assert_eq!(list.len(), 1);
    let breach = &list[0];
    let f = &breach.facts;
    assert_eq!(f.aware_at, time::macros::datetime!(2026-11-22 09:30 UTC));
    assert_eq!(
        f.reported_by,
        kluis_domain::breach::ReportedBy::Staff {
            name: "Els (onthaal)".into()
        }
    );
    assert_eq!(f.data_categories.len(), 2);
    assert_eq!(f.approx_subjects, Some(12));
    assert_eq!(breach.created_by, "dpo");
    let (s, b) = page(&h, Method::GET, &to, Some(&dpo_in.0), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("The data breach is recorded."), "{b}");
    assert!(
        b.contains("Record a notice to the supervisory authority"),
        "{b}"
    );
    let (_, b) = page(
        &h,
        Method::GET,
        &format!("/admin/breaches/{}?lang=en", breach.id),
        Some(&auditor_in.0),
        None,
    )
    .await;
    assert!(
        !b.contains("Record the notice"),
        "an auditor reads only: {b}"
    );

    // The notice: refused without a token, by an auditor, at a stale version, with bad
    // input or out of order; then recorded.
    let detail = format!("/admin/breaches/{}?lang=en", breach.id);
    let v = breach.version.to_string();
    let notice = |phase: &str, version: &str, content: &str| {
        vec![
            ("step", "notice".to_string()),
            ("version", version.to_string()),
            ("phase", phase.to_string()),
            ("sent_at", "2026-11-23T09:00".to_string()),
            ("content", content.to_string()),
            ("authority_reference", "GBA-2026-77".to_string()),
            ("delay_reason", String::new()),
        ]
    };
    let initial = notice("initial", &v, "Melding via het formulier van de GBA.");
    let (s, _, _) = post_form(&h, &detail, &dpo_in, &pairs(&initial), false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = post_form(&h, &detail, &auditor_in, &pairs(&initial), true).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, b) = post_form(
        &h,
        &detail,
        &dpo_in,
        &pairs(&notice("initial", "0", "Melding.")),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{b}");
    let (s, _, b) = post_form(
        &h,
        &detail,
        &dpo_in,
        &pairs(&notice("supplement", &v, "Aanvulling.")),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b.contains("record the initial notice before a supplement"),
        "{b}"
    );
    let (s, _, b) = post_form(
        &h,
        &detail,
        &dpo_in,
        &pairs(&notice("initial", &v, " ")),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("Write what was sent"), "{b}");
    let unchanged = h.store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!(&unchanged, breach);
    let (s, to, b) = post_form(&h, &detail, &dpo_in, &pairs(&initial), true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().ends_with("done=notice"));
    let notified = h.store.breach(breach.id).await.unwrap().unwrap();
    assert_eq!(notified.notices.len(), 1);
    assert_eq!(
        notified.notices[0].notice.authority_reference.as_deref(),
        Some("GBA-2026-77")
    );

    // The art. 34 decision: a high risk needs telling or a ground.
    let v = notified.version.to_string();
    let art34 = |inform: &str, ground: &str| {
        vec![
            ("step", "art34".to_string()),
            ("version", v.clone()),
            ("inform", inform.to_string()),
            ("ground", ground.to_string()),
            ("reasons", "Herkenbare beelden.".to_string()),
            ("public_communication", String::new()),
        ]
    };
    let (s, _, b) = post_form(&h, &detail, &dpo_in, &pairs(&art34("no", "")), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("the risk is high"), "{b}");
    let (s, _, b) = post_form(&h, &detail, &dpo_in, &pairs(&art34("", "")), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b.contains("Say whether the people affected are told"),
        "{b}"
    );
    assert!(
        h.store
            .breach(breach.id)
            .await
            .unwrap()
            .unwrap()
            .art34
            .is_none()
    );
    let (s, to, b) = post_form(&h, &detail, &dpo_in, &pairs(&art34("yes", "")), true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    assert!(to.unwrap().ends_with("done=art34"));
    let decided = h.store.breach(breach.id).await.unwrap().unwrap();
    let d = decided.art34.unwrap();
    assert!(d.decision.inform);
    assert_eq!(d.decided_by, "dpo");
    let (_, b) = page(
        &h,
        Method::GET,
        &format!("{detail}&done=art34"),
        Some(&dpo_in.0),
        None,
    )
    .await;
    assert!(b.contains("They are told: Herkenbare beelden."), "{b}");
    h.store.cleanup().await;
}

#[tokio::test]
async fn the_breach_report_form_is_rate_limited() {
    on_both_backends!(rate_limit_story);
}

/// Beyond the limit, the citizen's form answers 429 and stores nothing.
async fn rate_limit_story(h: Harness) {
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let count = || async {
        h.store
            .breaches(kluis_store::BreachFilter::default(), NOW)
            .await
            .unwrap()
            .len()
    };
    let limit = kluis_web::breach_pages::ReportThrottle::LIMIT;
    for i in 0..limit {
        let form = format!("controller=stad&what=Verkeerde+brief+{i}");
        let (s, b) = page(
            &h,
            Method::POST,
            "/report-breach?lang=en",
            None,
            Some(&form),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "report {i}: {b}");
    }
    assert_eq!(count().await, limit);
    let req = h
        .request(Method::POST, "/report-breach?lang=en", None)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("controller=stad&what=Nog+een"))
        .unwrap();
    let (s, headers, b) = h.send(req).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    assert!(b.contains("Too many reports"), "{b}");
    assert!(headers.contains_key(header::RETRY_AFTER));
    assert_eq!(count().await, limit, "a refused report stored nothing");
    h.store.cleanup().await;
}
