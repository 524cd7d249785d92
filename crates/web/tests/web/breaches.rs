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
    // With If-Match, only on the version the caller saw (3 now): an older one is a
    // conflict, a malformed one a bad request, and nothing is recorded.
    for (version, status) in [
        ("\"2\"", StatusCode::CONFLICT),
        ("two", StatusCode::BAD_REQUEST),
    ] {
        let (s, hd, b) = h
            .call(
                Method::POST,
                &notifications,
                &dpo,
                Some(supplement.clone()),
                &[("if-match", version)],
            )
            .await;
        problem(s, &hd, &b, status);
        let (s, hd, b) = h
            .call(
                Method::PUT,
                &format!("{uri}/art34-decision"),
                &dpo,
                Some(json!({"inform": true, "reasons": "Hoog risico."})),
                &[("if-match", version)],
            )
            .await;
        problem(s, &hd, &b, status);
    }
    let (s, hd, b) = h.call(Method::GET, &uri, &dpo, None, &[]).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"3\"");
    assert_eq!(body(&b)["notifications"].as_array().unwrap().len(), 1);
    assert!(body(&b)["art34"].is_null(), "{b}");
    let (s, _, b) = h
        .call(
            Method::POST,
            &notifications,
            &dpo,
            Some(supplement),
            &[("if-match", "\"3\"")],
        )
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
    // Bart has no e-mail address: who he is, to send him a letter.
    let by_post = told["to_tell_by_post"].as_array().unwrap();
    assert_eq!(by_post.len(), 1, "{told}");
    assert_eq!(
        (&by_post[0]["given_name"], &by_post[0]["family_name"]),
        (&json!("Bart"), &json!("Peeters")),
        "{told}"
    );
    assert!(
        told["subjects"]
            .as_array()
            .unwrap()
            .contains(&by_post[0]["subject_id"]),
        "{told}"
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
    // An and Bart on camera: the people affected found and told below.
    seed_visitors(&h).await;
    let els = h
        .store
        .create_user("els", "Els", "a long dpo password", &[Role::Dpo], NOW)
        .await
        .unwrap();
    // Cleared to see personal data: she may search the people affected.
    h.store
        .record_confidentiality_statement(els.id, date!(2026 - 01 - 05), "GEHEIM-2", "test", NOW)
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
        // The people affected: the result, their notices, then a window that ends before
        // it starts.
        {"select": {"label": "Data category", "value": "sound_image"}},
        {"click": {"role": "button", "name": "Search"}},
        {"expect_text": "People and records per place"},
        {"expect_text": "kluis (vault)"},
        {"axe": true},
        {"select": {"label": "Language for people whose language is unknown", "value": "en"}},
        {"click": {"role": "button", "name": "Prepare and send the notices to these 2 people"}},
        {"expect_text": "Mails queued for people in the vault, each in their language: 1."},
        {"expect_text": "People in the vault without an e-mail address, to tell by post (their notice is recorded, listed below): 1."},
        {"expect_text": "Bart Peeters (person "},
        {"axe": true},
        {"fill": {"label": "Collected from", "value": "2026-11-20"}},
        {"fill": {"label": "Collected until", "value": "2026-11-01"}},
        {"click": {"role": "button", "name": "Search"}},
        {"expect_text": "The window ends before it starts"},
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

#[tokio::test]
async fn people_affected_are_found_in_the_connected_systems_too() {
    with_systems(|h| async move {
        systems_story(&h).await;
        h
    })
    .await;
}

/// Runs `story` on both store backends against the real HR (PostgreSQL) and accounting
/// (MariaDB) test systems, with a third system that is down; skipped without them.
async fn with_systems<F, Fut>(story: F)
where
    F: Fn(Harness) -> Fut,
    Fut: std::future::Future<Output = Harness>,
{
    use kluis_store::testing::TestStore;
    async fn run<F, Fut>(store: TestStore, story: &F)
    where
        F: Fn(Harness) -> Fut,
        Fut: std::future::Future<Output = Harness>,
    {
        let Some(hr) = kluis_connectors::testing::hr_postgres().await else {
            store.cleanup().await;
            return;
        };
        let Some(accounting) = kluis_connectors::testing::accounting_mariadb().await else {
            store.cleanup().await;
            return;
        };
        let urls = BTreeMap::from([
            ("hr".to_string(), hr.url().to_string()),
            ("accounting".to_string(), accounting.url().to_string()),
            (
                "down".to_string(),
                "postgres://kluis:s3cret@127.0.0.1:1/down".to_string(),
            ),
        ]);
        let settings = kluis_web::Settings {
            system_urls: kluis_web::systems::SystemUrls(urls),
            ..Default::default()
        };
        let h = story(Harness::with_settings(store, settings).await).await;
        h.store.cleanup().await;
        hr.cleanup().await;
        accounting.cleanup().await;
    }
    run(sqlite_store().await, &story).await;
    if let Some(pg) = postgres_store().await {
        run(pg, &story).await;
    }
}

/// The HR and accounting systems (and one that is down) registered, An in the vault,
/// the DPO cleared and a high-risk breach: returns the breach as the API shows it.
async fn seed_systems(h: &Harness) -> Value {
    use kluis_connectors::testing::{accounting_map, hr_map, people};
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let mut hr = hr_map();
    hr.activities = vec!["nieuwsbrief".into()];
    let mut accounting = accounting_map();
    accounting.activities = vec!["camera".into()];
    let mut down = hr_map();
    down.name = "down".into();
    down.activities = vec!["camera".into()];
    for map in [&hr, &accounting, &down] {
        h.store.put_system(map, "test", NOW).await.unwrap();
    }
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
    let identity = SubjectIdentity {
        email: Some(people::AN_EMAIL.parse().unwrap()),
        ..Default::default()
    };
    let (an, _) = h
        .store
        .record_subject(&p, "camera", &identity, &[])
        .await
        .unwrap();
    h.store
        .add_record(
            &p,
            an.id,
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
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-1"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let mut high = wrong_post();
    high["risk"] = json!({"level": "high_risk", "reasons": "Adressen en rijksregisternummers."});
    let (s, _, b) = h
        .call(Method::POST, "/api/v1/breaches", &h.dpo, Some(high), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    body(&b)
}

/// An in the vault and in both systems, Chloé in both systems: each counted once when
/// everyone is listed; an unreachable system fails alone.
async fn systems_story(h: &Harness) {
    use kluis_connectors::testing::people;
    let breach = seed_systems(h).await;
    let affected = format!(
        "/api/v1/breaches/{}/affected",
        breach["id"].as_str().unwrap()
    );

    let query = json!({
        "data_categories": ["contact", "sound_image"],
        "systems": ["kluis", "hr", "accounting"],
    });
    let (s, _, b) = h
        .call(Method::POST, &affected, &h.dpo, Some(query), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let found = body(&b);
    assert_eq!(found["count"], 1, "An in the vault: {found}");
    let systems = found["systems"].as_array().unwrap();
    let names: Vec<&str> = systems
        .iter()
        .map(|s| s["system"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["accounting", "hr"]);
    assert_eq!(systems[0]["people"], 4);
    assert_eq!(systems[1]["people"], 3);
    assert_eq!(systems[1]["tables"][0]["table"], "applicants");
    assert_eq!(systems[1]["tables"][0]["rows"], 3);
    let hr_people = systems[1]["listed"].as_array().unwrap();
    assert_eq!(hr_people.len(), 3, "high risk: the people are listed");
    assert_eq!(hr_people[0]["identifiers"]["email"], people::AN_EMAIL);
    assert_eq!(
        hr_people[0]["identifiers"]["national_number"],
        "85073003328"
    );
    assert_eq!(hr_people[0]["in_vault"], true);
    assert_eq!(hr_people[2]["identifiers"]["email"], people::CHLOE_EMAIL);
    assert_eq!(hr_people[2]["also_in"], "accounting");
    assert_eq!(
        found["total_people"], 5,
        "An, Bram, Chloé, Dirk, the printer: {found}"
    );

    // Each person listed in a system is logged for breach handling, with the breach as
    // case, under a pseudonym.
    let log = h
        .store
        .log_entries(
            &kluis_domain::processing_log::LogSelector {
                activity: Some("nieuwsbrief".into()),
                ..Default::default()
            },
            &kluis_domain::access::Scope::All,
            100,
        )
        .await
        .unwrap();
    let hr_hits: Vec<_> = log.iter().filter(|e| e.entry.system == "hr").collect();
    assert_eq!(hr_hits.len(), 3);
    assert!(hr_hits.iter().all(|e| {
        e.entry.case_ref.as_deref() == breach["reference"].as_str()
            && e.entry.purpose == kluis_store::BREACH_PURPOSE
            && !e.entry.subject.contains('@')
    }));

    // Every system: the unreachable one says why, the others answer; nobody can be
    // counted once across all places then.
    let (s, _, b) = h
        .call(
            Method::POST,
            &affected,
            &h.dpo,
            Some(json!({"data_categories": ["contact"], "limit": 2})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let found = body(&b);
    let systems = found["systems"].as_array().unwrap();
    assert_eq!(systems.len(), 3, "{found}");
    let down = &systems[1];
    assert_eq!(down["system"], "down");
    let error = down["error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.1:1") && !error.contains("s3cret"),
        "{error}"
    );
    assert_eq!(systems[0]["listed"].as_array().unwrap().len(), 2, "capped");
    assert_eq!(systems[0]["cap"], 2);
    assert_eq!(systems[2]["people"], 3);
    assert!(found["total_people"].is_null());

    // Without a high risk or a decision to tell, the systems are counted, nobody listed.
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/breaches",
            &h.dpo,
            Some(wrong_post()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let low = format!(
        "/api/v1/breaches/{}/affected",
        body(&b)["id"].as_str().unwrap()
    );
    let (s, _, b) = h
        .call(
            Method::POST,
            &low,
            &h.dpo,
            Some(json!({"activities": ["nieuwsbrief"], "data_categories": ["national_number"]})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let found = body(&b);
    assert_eq!(found["systems"][0]["system"], "hr");
    assert_eq!(found["systems"][0]["people"], 2);
    assert!(found["systems"][0].get("listed").is_none(), "{found}");

    // A system that does not exist is refused.
    let (s, hd, b) = h
        .call(
            Method::POST,
            &low,
            &h.dpo,
            Some(json!({"systems": ["nope"]})),
            &[],
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"].as_str().unwrap().contains("kluis systems add"),
        "{p}"
    );
}

#[tokio::test]
async fn the_dpo_finds_the_people_affected_from_the_breach_page() {
    with_systems(|h| async move {
        back_office_search_story(&h).await;
        h
    })
    .await;
}

/// The breach's page offers the DPO the search; its result shows per place the counts,
/// the system that is down and, the risk being high, the people by their identifiers.
/// Bad input, a form without its token, an auditor or a caseworker are refused and
/// nothing is searched or logged.
async fn back_office_search_story(h: &Harness) {
    use kluis_connectors::testing::people;
    let breach = seed_systems(h).await;
    let id = breach["id"].as_str().unwrap();
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
    let dpo_in = sign_in(h, "dpo").await;
    let auditor_in = sign_in(h, "audit").await;
    let cw_in = sign_in(h, "cw").await;
    let detail = format!("/admin/breaches/{id}?lang=en");
    let search = format!("/admin/breaches/{id}/affected?lang=en");
    let logged = || async {
        let mut n = 0;
        for activity in ["nieuwsbrief", "camera"] {
            n += h
                .store
                .log_entries(
                    &kluis_domain::processing_log::LogSelector {
                        activity: Some(activity.into()),
                        ..Default::default()
                    },
                    &kluis_domain::access::Scope::All,
                    1_000,
                )
                .await
                .unwrap()
                .iter()
                .filter(|e| e.entry.purpose == kluis_store::BREACH_PURPOSE)
                .count();
        }
        n
    };

    // The form is on the page for the DPO, not for the auditor.
    let (s, b) = page(h, Method::GET, &detail, Some(&dpo_in.0), None).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Find the people affected") && b.contains(&search.replace('&', "&amp;")),
        "{b}"
    );
    let (_, b) = page(h, Method::GET, &detail, Some(&auditor_in.0), None).await;
    assert!(!b.contains("Find the people affected"), "{b}");

    // Refused: no token, an auditor, a caseworker; nothing logged.
    let good = [
        ("system", "hr"),
        ("activity", "nieuwsbrief"),
        ("category", ""),
    ];
    let (s, _, _) = post_form(h, &search, &dpo_in, &good, false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for who in [&auditor_in, &cw_in] {
        let (s, _, b) = post_form(h, &search, who, &good, true).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    assert_eq!(logged().await, 0);

    // Bad input: the form again with what is wrong (422), nothing searched or logged.
    for (form, expected) in [
        (
            vec![("system", "nope")],
            "There is no system &#39;nope&#39;",
        ),
        (
            vec![("category", "gossip")],
            "The data category chosen is unknown",
        ),
        (
            vec![
                ("system", "hr"),
                ("from", "2026-11-20"),
                ("until", "2026-11-01"),
            ],
            "The window ends before it starts",
        ),
        (vec![("from", "gisteren")], "is not a date"),
        (vec![], "Choose at least a processing activity"),
    ] {
        let (s, _, b) = post_form(h, &search, &dpo_in, &form, true).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{form:?}: {b}");
        assert!(
            b.contains("role=\"alert\"") && b.contains(expected),
            "{form:?}: {b}"
        );
        assert!(!b.contains("People and records per place"), "{b}");
    }
    assert_eq!(logged().await, 0);

    // HR alone: the three applicants, listed by their identifiers, An also in the vault
    // is not known (the vault was not searched), each one logged.
    let (s, _, b) = post_form(h, &search, &dpo_in, &good, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("People and records per place"), "{b}");
    assert!(b.contains(people::AN_EMAIL), "{b}");
    assert!(b.contains("85073003328"), "{b}");
    assert!(b.contains(people::CHLOE_EMAIL), "{b}");
    assert!(b.contains("People 1 to 3 of 3"), "{b}");
    assert!(b.contains("In all: 3 people"), "{b}");
    assert!(
        b.contains("value=\"nieuwsbrief\" selected"),
        "what was chosen is kept: {b}"
    );
    assert_eq!(logged().await, 3);

    // Every place, by category: the vault, both systems, and the one that is down.
    let (s, _, b) = post_form(
        h,
        &search,
        &dpo_in,
        &[("category", "sound_image"), ("from", "2026-11-01")],
        true,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("kluis (vault)"), "{b}");
    assert!(b.contains("Could not be searched:"), "{b}");
    assert!(b.contains("127.0.0.1:1") && !b.contains("s3cret"), "{b}");
    assert!(b.contains("In all: cannot say"), "{b}");

    // A breach without a high risk and no decision to tell: counted, nobody listed.
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/breaches",
            &h.dpo,
            Some(wrong_post()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let low = format!(
        "/admin/breaches/{}/affected?lang=en",
        body(&b)["id"].as_str().unwrap()
    );
    let (s, _, b) = post_form(h, &low, &dpo_in, &good, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("The people are counted, not listed"), "{b}");
    assert!(!b.contains(people::AN_EMAIL), "{b}");
}

#[tokio::test]
async fn the_dpo_tells_the_people_affected_from_the_breach_page() {
    on_both_backends!(back_office_tell_story);
}

/// Once the DPO decided to tell the people (art. 34), the search's result offers to
/// prepare and send their notices, which does what the API's `notify` does: An is mailed
/// in her own language, Bart (no e-mail address) is to be told by post, each found once
/// as a search hit; a second post mails nobody again. Without the decision there is no
/// offer and a forged post is refused; without the token, or from an auditor or a
/// caseworker, it is forbidden. Nothing is queued then.
async fn back_office_tell_story(h: Harness) {
    use kluis_domain::processing_log::{LogAction, LogSelector};
    let (s, _, b) = h.import(REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    seed_visitors(&h).await;
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &h.dpo,
            Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-1"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
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
    // A risk, not a high one: the people are listed only once the DPO decides to tell.
    let mut risk = wrong_post();
    risk["risk"] = json!({"level": "risk", "reasons": "Bezoekers zijn herkenbaar."});
    let (s, _, b) = h
        .call(Method::POST, "/api/v1/breaches", &h.dpo, Some(risk), &[])
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let breach = body(&b);
    let id = breach["id"].as_str().unwrap();
    let reference = breach["reference"].as_str().unwrap().to_string();
    let dpo_in = sign_in(&h, "dpo").await;
    let auditor_in = sign_in(&h, "audit").await;
    let cw_in = sign_in(&h, "cw").await;
    let uri = format!("/admin/breaches/{id}/affected?lang=en");
    let search = [("category", "sound_image")];
    let notify = [
        ("category", "sound_image"),
        ("notify", "yes"),
        ("language", "en"),
    ];
    let offer = "Prepare and send the notices";
    let pending = || async { h.store.mail_status(100).await.unwrap().pending };
    let search_hits = || async {
        h.store
            .log_entries(
                &LogSelector {
                    activity: Some("camera".into()),
                    ..Default::default()
                },
                &kluis_domain::access::Scope::All,
                1_000,
            )
            .await
            .unwrap()
            .iter()
            .filter(|e| {
                e.entry.action == LogAction::SearchHit
                    && e.entry.case_ref.as_deref() == Some(reference.as_str())
            })
            .count()
    };

    // No decision to tell the people: no offer, and a forged post is refused.
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &search, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("The people are counted, not listed"), "{b}");
    assert!(!b.contains(offer), "{b}");
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &notify, true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b.contains("role=\"alert\"")
            && b.contains("No decision to tell the people affected is recorded"),
        "{b}"
    );
    assert_eq!(pending().await, 0);

    // Decided: the result offers to tell the two people found.
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/breaches/{id}/art34-decision"),
            &h.dpo,
            Some(json!({"inform": true, "reasons": "Herkenbare beelden."})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &search, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Prepare and send the notices to these 2 people"),
        "{b}"
    );
    assert!(b.contains("name=\"notify\" value=\"yes\""), "{b}");
    assert!(
        b.contains("Language for people whose language is unknown"),
        "{b}"
    );

    // Without the token, from an auditor or a caseworker: forbidden, nothing queued.
    let (s, _, _) = post_form(&h, &uri, &dpo_in, &notify, false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for who in [&auditor_in, &cw_in] {
        let (s, _, b) = post_form(&h, &uri, who, &notify, true).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{b}");
    }
    assert_eq!(pending().await, 0);

    // Told: An's mail queued, Bart to be told by post; each found once, as a search hit.
    let hits_before = search_hits().await;
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &notify, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Notices to the people affected"), "{b}");
    assert!(
        b.contains("Mails queued for people in the vault, each in their language: 1."),
        "{b}"
    );
    assert!(
        b.contains("People in the vault without an e-mail address, to tell by post (their notice is recorded, listed below): 1."),
        "{b}"
    );
    // Bart is listed by name and id, for the letter; An is not.
    assert!(
        b.contains("To tell by post: people with no e-mail address in the vault"),
        "{b}"
    );
    assert!(
        b.contains("<td>kluis (vault)</td><td>Bart Peeters (person "),
        "{b}"
    );
    assert!(!b.contains("An Peeters"), "{b}");
    assert_eq!(pending().await, 1);
    assert_eq!(
        search_hits().await - hits_before,
        2,
        "An and Bart, once each"
    );
    let mail = h
        .store
        .claim_due_mail(NOW, time::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].mail.to.as_str(), "an@example.be");
    // In An's own language, not the one chosen for people whose language is unknown.
    assert!(
        mail[0].mail.subject.starts_with("Une fuite de données"),
        "{:?}",
        mail[0].mail
    );
    let (_, _, b) = h
        .call(
            Method::GET,
            &format!("/api/v1/breaches/{id}"),
            &h.dpo,
            None,
            &[],
        )
        .await;
    assert_eq!(body(&b)["people_told"], 2);

    // Again: both were told before, nobody is mailed twice.
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &notify, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("People in the vault told before, not mailed again: 2."),
        "{b}"
    );
    assert_eq!(pending().await, 1, "the first post's mail only");

    // A language that is not offered: refused, nothing queued.
    let mut odd = notify;
    odd[2] = ("language", "de");
    let (s, _, b) = post_form(&h, &uri, &dpo_in, &odd, true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(b.contains("The language chosen is unknown"), "{b}");
    assert_eq!(pending().await, 1);
    h.store.cleanup().await;
}

#[tokio::test]
async fn the_dpo_tells_the_people_found_in_the_connected_systems_from_the_breach_page() {
    with_systems(|h| async move {
        back_office_tell_in_systems_story(&h).await;
        h
    })
    .await;
}

/// From the breach page, people found only in a connected system are mailed as with the
/// API (once per address); the system that is down says its people are not told yet,
/// and someone a system knows by no e-mail address is listed to be told by post.
async fn back_office_tell_in_systems_story(h: &Harness) {
    let breach = seed_systems(h).await;
    let id = breach["id"].as_str().unwrap();
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("/api/v1/breaches/{id}/art34-decision"),
            &h.dpo,
            Some(json!({"inform": true, "reasons": "Rijksregisternummers: iedereen verwittigen."})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let dpo_in = sign_in(h, "dpo").await;
    let uri = format!("/admin/breaches/{id}/affected?lang=en");
    let notify = [
        ("category", "contact"),
        ("notify", "yes"),
        ("language", "nl"),
    ];

    // A system is down: the people are counted per place, and offered to be told.
    let (s, _, b) = post_form(h, &uri, &dpo_in, &notify[..1], true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Prepare and send the notices to the people found ("),
        "{b}"
    );

    // Told: the suppliers and applicants by mail, once per address; the system that is
    // down is named, its people not told yet.
    let (s, _, b) = post_form(h, &uri, &dpo_in, &notify, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains(
            "Mailed a notice to 5 people found only in connected systems (accounting: 4, hr: 1)."
        ),
        "{b}"
    );
    assert!(
        b.contains("role=\"alert\"") && b.contains("These systems could not be searched"),
        "{b}"
    );
    assert!(b.contains("down: ") && !b.contains("s3cret"), "{b}");
    assert_eq!(h.store.mail_status(100).await.unwrap().pending, 5);

    // HR no longer knows its applicants' e-mail: Bram, known there by his national
    // number only, is listed to be told by post; nobody is mailed again.
    let hr_yaml = include_str!("../../../connectors/src/testing/hr.yaml").replace(
        "email: {category: contact, identifies: email}",
        "email: contact",
    );
    let mut hr = kluis_domain::dataset_map::parse("hr.yaml", &hr_yaml).unwrap();
    hr.activities = vec!["nieuwsbrief".into()];
    h.store.put_system(&hr, "test", NOW).await.unwrap();
    let (s, _, b) = post_form(h, &uri, &dpo_in, &notify, true).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("To tell by post: people with no e-mail address in the vault or in the connected system that knows them"),
        "{b}"
    );
    assert!(b.contains("90021412303"), "{b}");
    assert!(
        b.contains("Addresses found only in connected systems told before, not mailed again: 4."),
        "{b}"
    );
    assert_eq!(h.store.mail_status(100).await.unwrap().pending, 5);
}

#[tokio::test]
async fn people_found_only_in_the_connected_systems_are_told_too() {
    with_systems(|h| async move {
        tell_in_systems_story(&h).await;
        h
    })
    .await;
}

/// With `notify`, people found only in a system are mailed once per address in the
/// controller's language (the vault's An by the vault), counted per system; a rerun
/// queues nothing; someone a system knows by no e-mail address is listed to tell by
/// post; without a decision to tell them nothing is sent.
async fn tell_in_systems_story(h: &Harness) {
    use kluis_connectors::testing::people;
    let breach = seed_systems(h).await;
    let uri = format!("/api/v1/breaches/{}", breach["id"].as_str().unwrap());
    let affected = format!("{uri}/affected");
    let notify = json!({
        "data_categories": ["contact", "sound_image"],
        "notify": true,
    });
    let pending = || async { h.store.mail_status(100).await.unwrap().pending };

    // A high risk without the decision to tell, or no high risk: nobody is mailed.
    let (s, hd, b) = h
        .call(Method::POST, &affected, &h.dpo, Some(notify.clone()), &[])
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().unwrap().contains("art. 34"), "{p}");
    let (s, _, b) = h
        .call(
            Method::POST,
            "/api/v1/breaches",
            &h.dpo,
            Some(wrong_post()),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let low = format!(
        "/api/v1/breaches/{}/affected",
        body(&b)["id"].as_str().unwrap()
    );
    let (s, hd, b) = h
        .call(Method::POST, &low, &h.dpo, Some(notify.clone()), &[])
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(pending().await, 0);

    // Told: An by the vault; Dirk, the printer and Chloé from accounting, Bram from HR
    // (An and Chloé are counted there already); the system that is down says why.
    let (s, _, b) = h
        .call(
            Method::PUT,
            &format!("{uri}/art34-decision"),
            &h.dpo,
            Some(json!({"inform": true, "reasons": "Rijksregisternummers: iedereen verwittigen."})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, _, b) = h
        .call(Method::POST, &affected, &h.dpo, Some(notify.clone()), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let told = body(&b);
    assert_eq!(told["queued"], 1, "An, in the vault: {told}");
    let systems = &told["told_in_systems"];
    assert_eq!(
        systems["queued"],
        json!({"accounting": 3, "hr": 1}),
        "{told}"
    );
    assert_eq!(systems["to_tell_by_post"], json!([]), "{told}");
    assert!(systems["errors"]["down"].is_string(), "{told}");
    assert_eq!(pending().await, 5);
    let mail = h
        .store
        .claim_due_mail(NOW, time::Duration::minutes(5), 10)
        .await
        .unwrap();
    let bram = mail
        .iter()
        .find(|m| m.mail.to.as_str() == people::BRAM_EMAIL)
        .expect("Bram is mailed");
    // The controller's language: the register names "stad" in Dutch first.
    assert!(
        bram.mail.subject.starts_with("Een datalek bij"),
        "{:?}",
        bram.mail
    );
    assert_eq!(
        mail.iter()
            .filter(|m| m.mail.to.as_str().eq_ignore_ascii_case(people::CHLOE_EMAIL))
            .count(),
        1
    );
    let (_, _, b) = h.call(Method::GET, &uri, &h.dpo, None, &[]).await;
    assert_eq!(
        body(&b)["people_told_in_systems"],
        json!({"accounting": 3, "hr": 1})
    );
    let dpo_in = sign_in(h, "dpo").await;
    let page_uri = format!("/admin/breaches/{}?lang=en", breach["id"].as_str().unwrap());
    let (_, html) = page(h, Method::GET, &page_uri, Some(&dpo_in.0), None).await;
    assert!(
        html.contains(
            "Mailed a notice to 4 people found only in connected systems (accounting: 3, hr: 1)."
        ),
        "{html}"
    );

    // Again: nothing new.
    let (s, _, b) = h
        .call(Method::POST, &affected, &h.dpo, Some(notify.clone()), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let again = body(&b);
    assert_eq!(again["told_in_systems"]["queued"], json!({}), "{again}");
    assert_eq!(again["told_in_systems"]["already_told"], 4, "{again}");
    assert_eq!(again["already_told"], 1, "{again}");
    let status = h.store.mail_status(100).await.unwrap();
    assert_eq!(status.pending, 5, "the first run's mails only");

    // HR no longer knows its applicants' e-mail: Bram, known there by his national
    // number only, is to be told by post (An and Chloé are counted in accounting).
    let hr_yaml = include_str!("../../../connectors/src/testing/hr.yaml").replace(
        "email: {category: contact, identifies: email}",
        "email: contact",
    );
    let mut hr = kluis_domain::dataset_map::parse("hr.yaml", &hr_yaml).unwrap();
    hr.activities = vec!["nieuwsbrief".into()];
    h.store.put_system(&hr, "test", NOW).await.unwrap();
    let (s, _, b) = h
        .call(Method::POST, &affected, &h.dpo, Some(notify), &[])
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let by_post = body(&b)["told_in_systems"]["to_tell_by_post"].clone();
    assert_eq!(by_post.as_array().unwrap().len(), 1, "{by_post}");
    assert_eq!(by_post[0]["system"], "hr");
    assert_eq!(by_post[0]["identifiers"]["national_number"], "90021412303");
    assert_eq!(h.store.mail_status(100).await.unwrap().pending, 5);
}
