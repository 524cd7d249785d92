//! The citizen's request form, its receipt and the status page: filed with an ID copy
//! judged by its bytes, refused with errors per field and nothing stored, the status link
//! unguessable; and in Chromium, by a person, with an accessibility audit of each page.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kluis_store::RequestFilter;
use kluis_store::testing::{postgres_store, sqlite_store};

use super::{Harness, NOW};

const BOUNDARY: &str = "kluis-test-boundary";
/// The first bytes of a PNG file and a little more.
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR front of an identity card";

fn multipart(fields: &[(&str, &str)], upload: Option<(&str, &[u8])>) -> Vec<u8> {
    multipart_then(fields, upload, &[])
}

fn text_fields(body: &mut Vec<u8>, fields: &[(&str, &str)]) {
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
}

/// A form with `fields`, the upload, then the fields `after` it.
fn multipart_then(
    fields: &[(&str, &str)],
    upload: Option<(&str, &[u8])>,
    after: &[(&str, &str)],
) -> Vec<u8> {
    let mut body = Vec::new();
    text_fields(&mut body, fields);
    if let Some((file_name, content)) = upload {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"id_document\"; \
                 filename=\"{file_name}\"\r\nContent-Type: application/pdf\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    text_fields(&mut body, after);
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn good_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("controller", "limburg"),
        ("rights", "access"),
        ("rights", "erasure"),
        ("acting_for", "themselves"),
        ("given_name", "An"),
        ("family_name", "Peeters"),
        ("email", "an.peeters@example.be"),
        ("message", "Welke gegevens hebt u over mij?"),
    ]
}

async fn post_form(h: &Harness, body: Vec<u8>) -> (StatusCode, String) {
    let (s, _, b) = h
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/rights?lang=en")
                .header(
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    (s, b)
}

#[tokio::test]
async fn the_request_form_files_with_an_id_copy_and_refuses_bad_input() {
    on_both_backends!(form_story);
}

async fn form_story(h: Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, hd, b) = h.get("/rights?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CACHE_CONTROL], "no-store");
    assert!(b.contains("Province of Limburg"), "{b}");

    // Bad input: each refused with its error, nothing stored, no receipt.
    let mut no_rights = good_fields();
    no_rights.retain(|(name, _)| *name != "rights");
    let mut bad_number = good_fields();
    bad_number.push(("national_number", "85.07.30-033.62"));
    let mut child = good_fields();
    child[3] = ("acting_for", "child");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "no right",
            multipart(&no_rights, Some(("id.png", PNG))),
            "Choose at least one right.",
        ),
        (
            "a bad national number",
            multipart(&bad_number, Some(("id.png", PNG))),
            "This national register number is not right",
        ),
        (
            "a child without a parent",
            multipart(&child, Some(("id.png", PNG))),
            "Give the name of the parent or guardian",
        ),
        (
            "no ID copy",
            multipart(&good_fields(), None),
            "Add a copy of the front",
        ),
        (
            "a web page named as a PDF",
            multipart(
                &good_fields(),
                Some(("id.pdf", b"<html><script>alert(1)</script>")),
            ),
            "The file is not a JPEG, PNG or PDF.",
        ),
        (
            "an ID copy over 5 MB",
            multipart(
                &good_fields(),
                Some(("id.png", &[PNG, &vec![0u8; 5 * 1024 * 1024]].concat())),
            ),
            "The file is larger than 5 MB.",
        ),
        (
            "an ID copy over 5 MB followed by the postal address",
            multipart_then(
                &good_fields(),
                Some(("id.png", &[PNG, &vec![0u8; 6 * 1024 * 1024]].concat())),
                &[("postal_address", "Typed after the upload")],
            ),
            "The file is larger than 5 MB.",
        ),
        (
            "a body over the limit",
            multipart(
                &good_fields(),
                Some(("id.png", &[PNG, &vec![0u8; 11 * 1024 * 1024]].concat())),
            ),
            "The file is larger than 5 MB.",
        ),
    ];
    for (what, body, error) in cases {
        let (s, b) = post_form(&h, body).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {b}");
        assert!(b.contains(error), "{what}: {b}");
        assert!(
            b.contains("There is a problem"),
            "{what}: the error summary"
        );
        // An upload over 5 MB is dropped and the fields after it are still read.
        if what.ends_with("followed by the postal address") {
            assert!(b.contains("Typed after the upload"), "{what}: {b}");
        }
        // A body over the limit is refused before any field is read.
        if what != "a body over the limit" {
            assert!(
                b.contains("value=\"Peeters\""),
                "{what}: what was typed stays"
            );
        }
    }
    assert!(
        h.store
            .rights_requests(RequestFilter::All, NOW.date())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(h.store.mail_status(0).await.unwrap().pending, 0);

    // Filed: the receipt shows the reference, the deadline and the status link once.
    let (s, b) = post_form(
        &h,
        multipart(&good_fields(), Some(("../../etc/passwd", PNG))),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(b.contains("23 December 2026"), "due in a month: {b}");
    let listed = h
        .store
        .rights_requests(RequestFilter::All, NOW.date())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(b.contains(&listed[0].reference), "{b}");
    let request = h.store.rights_request(listed[0].id).await.unwrap();
    assert_eq!(request.documents.len(), 1);
    assert_eq!(
        request.documents[0].media_type, "image/png",
        "judged by its bytes, not by the name or the browser's type"
    );
    assert_eq!(
        request.requester.identity.family_name.as_deref(),
        Some("Peeters")
    );
    assert_eq!(request.language, kluis_domain::text::Lang::En);
    assert_eq!(
        h.store.mail_status(0).await.unwrap().pending,
        1,
        "the receipt"
    );
    // The caseworker looks at the ID copy: served as what it is, never cached, on the
    // timeline.
    let doc_url = format!(
        "/api/v1/rights-requests/{}/documents/{}",
        request.id, request.documents[0].id
    );
    let (s, _, refused) = h.call(Method::GET, &doc_url, &h.dpo, None, &[]).await;
    assert_eq!(
        s,
        StatusCode::FORBIDDEN,
        "no confidentiality statement yet: {refused}"
    );
    let (s, _, signed) = h
        .call(
            Method::POST,
            "/api/v1/users/dpo/confidentiality-statements",
            &h.dpo,
            Some(serde_json::json!({"signed_on": "2026-01-05", "reference": "GEHEIM-1"})),
            &[],
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{signed}");
    let (s, hd, copy) = h
        .send(
            h.request(Method::GET, &doc_url, Some(&h.dpo))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "image/png");
    assert_eq!(hd["x-content-type-options"], "nosniff");
    assert_eq!(hd[header::CACHE_CONTROL], "no-store");
    assert_eq!(copy, String::from_utf8_lossy(PNG));
    let viewed = h.store.rights_request(request.id).await.unwrap();
    let last = viewed.timeline.last().unwrap();
    assert_eq!(
        (last.step.as_str(), last.actor.as_str()),
        ("identity_document_viewed", "dpo")
    );
    let start = b.find("/rights/status/").unwrap();
    let status_path: String = b[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "/_-".contains(*c))
        .collect();
    let (s, _, page) = h.get(&format!("{status_path}?lang=en")).await;
    assert_eq!(s, StatusCode::OK, "{page}");
    assert!(page.contains(&listed[0].reference));
    assert!(page.contains("receipt confirmed"), "{page}");
    assert!(page.contains("access, erasure"), "{page}");
    // A guessed link shows the same page for every guess, with nothing in it.
    let mut guessed = status_path.clone();
    let last = guessed.pop().unwrap();
    guessed.push(if last == '0' { '1' } else { '0' });
    for guess in [
        guessed,
        "/rights/status/RQ-0000".into(),
        "/rights/status/x".into(),
    ] {
        let (s, _, page) = h.get(&format!("{guess}?lang=en")).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{guess}");
        assert!(page.contains("This link does not belong to a request."));
        assert!(!page.contains("<dd>"), "no status shown: {page}");
    }
    h.store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_request_form_in_chromium_passes_an_accessibility_audit() {
    if !super::support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    let h = Harness::new(store).await;
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings = kluis_web::Settings {
        public_url: base.clone(),
        ..Default::default()
    };
    let state = kluis_web::AppState::new((*h.store).clone(), std::sync::Arc::new(|| NOW), settings);
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    let id_copy = std::env::temp_dir().join(format!("kluis-id-{}.png", std::process::id()));
    std::fs::write(&id_copy, PNG).unwrap();
    let steps = serde_json::json!([
        {"goto": "/rights?lang=nl", "expect_status": 200},
        {"axe": true},
        {"click": {"role": "button", "name": "Verzoek indienen"}},
        {"expect_text": "Kies minstens één recht."},
        {"axe": true},
        {"check": {"label": "inzage"}},
        {"fill": {"label": "Voornaam", "value": "An"}},
        {"fill": {"label": "Achternaam", "value": "Peeters"}},
        {"fill": {"label": "E-mailadres", "value": "an.peeters@example.be"}},
        {"upload": {"label": "Kopie van de voorkant van uw identiteitskaart", "path": id_copy.display().to_string()}},
        {"click": {"role": "button", "name": "Verzoek indienen"}},
        {"expect_text": "We hebben uw verzoek ontvangen."},
        {"expect_text": "23 december 2026"},
        {"axe": true},
    ]);
    super::support::browser::run_scenario(&base, steps).unwrap();
    let listed = h
        .store
        .rights_requests(RequestFilter::All, NOW.date())
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "filed through the browser");
    // The status page and a guessed one.
    let filed = h.store.rights_request(listed[0].id).await.unwrap();
    assert_eq!(filed.documents[0].media_type, "image/png");
    // The status page of a request filed by staff (only its hash is kept, so the link
    // shown in the browser cannot be read back), and a guessed one.
    let second = h
        .store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![kluis_domain::rights::Right::Portability],
                channel: kluis_domain::rights::RequestChannel::Desk,
                requester: filed.requester.clone(),
                language: kluis_domain::text::Lang::Fr,
                received_on: NOW.date(),
            },
            |_| None,
            "loket",
            NOW,
        )
        .await
        .unwrap();
    let steps = serde_json::json!([
        {"goto": format!("/rights/status/{}?lang=fr", second.status_token), "expect_status": 200},
        {"expect_text": "portabilité"},
        {"expect_text": "23 décembre 2026"},
        {"axe": true},
        {"goto": "/rights/status/0000000000000000000000000000000000000000000000000000000000000000?lang=fr", "expect_status": 404},
        {"expect_text": "Ce lien ne correspond à aucune demande."},
        {"axe": true},
    ]);
    super::support::browser::run_scenario(&base, steps).unwrap();

    // The back-office: the DPO, with a signed confidentiality statement, reads the list and
    // the request.
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    h.store
        .record_confidentiality_statement(dpo.id, NOW.date(), "GEHEIM-1", "test", NOW)
        .await
        .unwrap();
    let steps = serde_json::json!([
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "dpo"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": "/admin/rights?lang=en", "expect_status": 200},
        {"expect_text": listed[0].reference},
        {"axe": true},
        {"click": {"role": "link", "name": listed[0].reference}},
        {"expect_text": "identity_document_added"},
        {"expect_text": "image/png"},
        {"axe": true},
        // Working the request: verify, and the decide form with the register's proposals.
        {"click": {"role": "button", "name": "Mark the identity as verified"}},
        {"expect_text": "The identity is marked as verified."},
        {"expect_text": "Record the decisions"},
        {"axe": true},
        // The register's proposals as they stand, then carrying out: the page lists the
        // actions, what is left by hand, and the recipients to tell.
        {"select": {"label": "Decision", "value": "granted", "nth": 0}},
        {"fill": {"label": "Motivation (for the person)", "value": "U vindt uw gegevens in de bijlage.", "nth": 0}},
        {"click": {"role": "button", "name": "Record the decisions"}},
        {"expect_text": "The decisions are recorded."},
        {"click": {"role": "button", "name": "Carry out what kluis can"}},
        {"expect_text": "The request was carried out as far as it goes"},
        {"expect_text": "Right and activity"},
        {"axe": true},
        {"goto": "/admin/rights?lang=nl&show=overdue", "expect_status": 200},
        {"expect_text": "Er zijn geen verzoeken in deze lijst."},
        {"axe": true},
    ]);
    super::support::browser::run_scenario(&base, steps).unwrap();
    let _ = std::fs::remove_file(&id_copy);
    h.store.cleanup().await;
}

#[tokio::test]
async fn the_back_office_lists_requests_for_those_who_may_read_them() {
    on_both_backends!(back_office_story);
}

async fn back_office_story(h: Harness) {
    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = post_form(&h, multipart(&good_fields(), Some(("id.png", PNG)))).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let listed = h
        .store
        .rights_requests(RequestFilter::All, NOW.date())
        .await
        .unwrap();
    let session = |name: &'static str| {
        let store = &h.store;
        async move {
            let user = store.user_by_username(name).await.unwrap().unwrap();
            let (secret, _) = store
                .create_session(user.id, NOW, time::Duration::hours(1))
                .await
                .unwrap();
            (user, format!("kluis_session={secret}"))
        }
    };
    let get = |uri: String, cookie: String| {
        let req = h
            .request(Method::GET, &uri, None)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        h.send(req)
    };
    let (dpo, dpo_cookie) = session("dpo").await;
    let (_, cw_cookie) = session("cw").await;
    // Without a confidentiality statement, not even the DPO reads requests.
    let (s, _, _) = get("/admin/rights?lang=en".into(), dpo_cookie.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    h.store
        .record_confidentiality_statement(dpo.id, NOW.date(), "GEHEIM-1", "test", NOW)
        .await
        .unwrap();
    let (s, _, b) = get("/admin/rights?lang=en".into(), dpo_cookie.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains(&listed[0].reference), "{b}");
    assert!(b.contains("access, erasure"), "{b}");
    assert!(
        b.contains("<td>on time</td>") && b.contains("<td>receipt confirmed</td>"),
        "{b}"
    );
    assert!(b.contains("<td>nobody yet</td>"), "no caseworker yet: {b}");
    let version = h.store.rights_request(listed[0].id).await.unwrap().version;
    h.store
        .assign_request(listed[0].id, version, "cw", "dpo", NOW)
        .await
        .unwrap();
    let (_, _, b) = get("/admin/rights?lang=en".into(), dpo_cookie.clone()).await;
    assert!(b.contains("<td>cw</td>"), "the caseworker is shown: {b}");
    let (s, _, b) = get(
        "/admin/rights?lang=en&show=overdue".into(),
        dpo_cookie.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("There are no requests in this list."), "{b}");
    let (s, _, b) = get(
        format!("/admin/rights/{}?lang=en", listed[0].id),
        dpo_cookie.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for expected in [
        "Peeters",
        "an.peeters@example.be",
        "identity_document_added",
        "dpv:RequestAcknowledged",
        "<dd>cw</dd>",
    ] {
        assert!(b.contains(expected), "{expected}: {b}");
    }
    let (s, _, _) = get("/admin/rights/not-an-id?lang=en".into(), dpo_cookie.clone()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _, _) = get(
        "/admin/rights/00000000-0000-7000-8000-000000000000?lang=en".into(),
        dpo_cookie,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // A caseworker without a statement is refused; signed in as nobody, to the login.
    let (s, _, _) = get("/admin/rights?lang=en".into(), cw_cookie).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, _) = get("/admin/rights?lang=en".into(), String::new()).await;
    assert!(s.is_redirection() || s == StatusCode::UNAUTHORIZED, "{s}");
    h.store.cleanup().await;
}

#[tokio::test]
async fn the_back_office_takes_a_request_through_its_steps() {
    on_both_backends!(back_office_steps_story);
}

/// The DPO works a request in the back-office: assign, verify, decide (refused without a
/// ground, then with one), fulfil and close; a form without its CSRF token, at a stale
/// version or with bad input is refused and changes nothing.
async fn back_office_steps_story(h: Harness) {
    use kluis_domain::inventory::SubjectIdentity;
    use kluis_domain::rights::{ActingFor, RequestChannel, Requester, Right, Stage};

    let (s, _, b) = h
        .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let email = || Some("an.peeters@example.be".parse().unwrap());
    let filed = h
        .store
        .file_request(
            &kluis_store::NewRequest {
                controller: "limburg".into(),
                rights: vec![Right::Access, Right::Erasure],
                channel: RequestChannel::Letter,
                requester: Requester {
                    identity: SubjectIdentity {
                        email: email(),
                        family_name: Some("Peeters".into()),
                        ..Default::default()
                    },
                    acting_for: ActingFor::Themselves,
                    filed_by: None,
                    email: email(),
                    postal_address: None,
                    message: "Wat weet u over mij? Wis het.".into(),
                },
                language: kluis_domain::text::Lang::Nl,
                received_on: NOW.date(),
            },
            |_| None,
            "loket",
            NOW,
        )
        .await
        .unwrap();
    let dpo = h.store.user_by_username("dpo").await.unwrap().unwrap();
    h.store
        .record_confidentiality_statement(dpo.id, NOW.date(), "GEHEIM-1", "test", NOW)
        .await
        .unwrap();
    let (secret, session) = h
        .store
        .create_session(dpo.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    let cookie = format!("kluis_session={secret}");
    let uri = format!("/admin/rights/{}?lang=en", filed.id);
    let get = || {
        let req = h
            .request(Method::GET, &uri, None)
            .header(header::COOKIE, cookie.clone())
            .body(Body::empty())
            .unwrap();
        h.send(req)
    };
    let post = |fields: Vec<(&str, String)>, with_csrf: bool| {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        if with_csrf {
            form.append_pair("csrf", &session.csrf_token);
        }
        for (k, v) in &fields {
            form.append_pair(k, v);
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(&uri)
            .header(header::COOKIE, cookie.clone())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.finish()))
            .unwrap();
        h.send(req)
    };
    let version = || async { h.store.rights_request(filed.id).await.unwrap().version };
    let step = |name: &str, v: i64| vec![("step", name.to_string()), ("version", v.to_string())];

    // The page offers the steps of a request whose receipt went out.
    let (s, _, b) = get().await;
    assert_eq!(s, StatusCode::OK, "{b}");
    for offered in [
        "Assign the request to",
        "Mark the identity as verified",
        "Ask the person",
        "Extend and tell the person",
    ] {
        assert!(b.contains(offered), "{offered}: {b}");
    }
    assert!(
        !b.contains("Record the decisions"),
        "not before verification"
    );

    let decide = |ground: &str, v: i64| {
        [
            step("decide", v),
            vec![
                ("d0.right", "access".into()),
                ("d0.activity", "limburg-overheidsopdrachten".into()),
                ("d0.outcome", "granted".into()),
                ("d0.ground", String::new()),
                ("d0.motivation", "U vindt uw gegevens in de bijlage.".into()),
                ("d1.right", "erasure".into()),
                ("d1.activity", "limburg-overheidsopdrachten".into()),
                ("d1.outcome", "refused".into()),
                ("d1.ground", ground.into()),
                (
                    "d1.motivation",
                    "De wet verplicht ons de dossiers te bewaren.".into(),
                ),
                ("d2.right", "access".into()),
                ("d2.activity", "limburg-overheidsopdrachten".into()),
                ("d2.outcome", String::new()),
                ("d2.ground", String::new()),
                ("d2.motivation", String::new()),
            ],
        ]
        .concat()
    };
    // Refused, changing nothing: no CSRF token, bad input, a stale version, a step the
    // stage does not allow.
    let before = h.store.rights_request(filed.id).await.unwrap();
    let v = before.version;
    let (s, _, _) = post(
        [step("assign", v), vec![("assignee", "cw".into())]].concat(),
        false,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _, b) = post(
        [step("verify", v), vec![("subject", "not-an-id".into())]].concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    assert!(
        b.contains("role=\"alert\"") && b.contains("is not valid"),
        "{b}"
    );
    let (s, _, b) = post(
        [
            step("extend", v),
            vec![("months", "3".into()), ("reason", "x".into())],
        ]
        .concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("1 or 2 months"), "{b}");
    let (s, _, b) = post(decide("legal_obligation", v), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("verify the requester"), "the state machine: {b}");
    let (s, _, b) = post(step("teleport", v), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("does not exist"), "{b}");
    let (s, _, b) = post(
        [step("assign", v), vec![("assignee", "nobody".into())]].concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("does not exist"), "{b}");
    assert_eq!(h.store.rights_request(filed.id).await.unwrap(), before);

    // Assign, then a second form still at the old version is refused.
    let (s, hd, _) = post(
        [step("assign", v), vec![("assignee", "cw".into())]].concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(
        hd[header::LOCATION]
            .to_str()
            .unwrap()
            .ends_with("done=assign")
    );
    let (s, _, b) = post(
        [step("verify", v), vec![("subject", String::new())]].concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert!(b.contains("changed this request"), "{b}");

    // Verify, and the decide form appears with the register's proposals.
    let (s, _, _) = post(
        [
            step("verify", version().await),
            vec![("subject", String::new())],
        ]
        .concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, b) = get().await;
    assert!(b.contains("Record the decisions"), "{b}");
    assert!(!b.contains("Mark the identity as verified"), "{b}");

    // A refusal without a ground is refused; with one, and a blank row left out, decided.
    let v = version().await;
    let (s, _, b) = post(decide("", v), true).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("must name its ground"), "{b}");
    let (s, _, b) = post(decide("legal_obligation", v), true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    let decided = h.store.rights_request(filed.id).await.unwrap();
    assert_eq!(decided.stage, Stage::Decided);
    assert_eq!(decided.decisions.len(), 2, "the blank row is left out");

    // Carry it out: kluis plans the actions; the access package is by hand, so the request
    // stays decided and the page lists what is left, until a note confirms it.
    let (s, _, b) = post(step("fulfil", decided.version - 1), true).await;
    assert_eq!(s, StatusCode::CONFLICT, "a stale form changes nothing: {b}");
    let (s, _, _) = post(step("fulfil", decided.version), true).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(
        h.store.rights_request(filed.id).await.unwrap().stage,
        Stage::Decided
    );
    let (_, _, b) = get().await;
    assert!(b.contains("the package for the person"), "{b}");
    assert!(b.contains("to do (by hand)"), "{b}");
    assert!(b.contains("produce the access package"), "{b}");
    let (s, _, _) = post(
        [
            step("fulfil", version().await),
            vec![("note", "Inzage per post.".into())],
        ]
        .concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (_, _, b) = get().await;
    assert!(b.contains("done (by hand)"), "{b}");
    assert_eq!(
        h.store.rights_request(filed.id).await.unwrap().stage,
        Stage::Fulfilled
    );
    let (s, _, _) = post(
        [
            step("close", version().await),
            vec![("note", "Slotbrief verstuurd.".into())],
        ]
        .concat(),
        true,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let closed = h.store.rights_request(filed.id).await.unwrap();
    assert_eq!(closed.stage, Stage::Closed);
    let steps: Vec<&str> = closed.timeline.iter().map(|s| s.step.as_str()).collect();
    assert!(
        steps.ends_with(&[
            "assigned",
            "identity_verified",
            "decided",
            "fulfilled",
            "closed",
            "requester_told"
        ]),
        "{steps:?}"
    );
    let (_, _, b) = get().await;
    assert!(
        !b.contains("Next steps"),
        "a closed request offers no steps: {b}"
    );
    h.store.cleanup().await;
}
