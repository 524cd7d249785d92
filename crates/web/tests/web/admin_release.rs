//! The back-office request page releases and changes data as the API does: the access
//! package and portability export to download (no-store, an attachment named after the
//! reference, logged as an export), the export sent to another controller's HTTPS endpoint
//! started here, and a rectification in the HR system on PostgreSQL (TEST_DATABASE_URL).
//! Each is refused (409, the page saying why, nothing logged, sent or changed) before the
//! identity is verified; bad input re-renders the page (422) changing nothing; a form
//! without the session's CSRF token is refused.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use kluis_connectors::testing::{hr_map, hr_postgres, people};
use kluis_domain::access::Scope;
use kluis_domain::category::DataCategory;
use kluis_domain::inventory::{RecordInput, SubjectIdentity};
use kluis_domain::processing_log::{Actor, ActorKind, LogAction, LogSelector};
use kluis_domain::rights::{ActingFor, Decision, Outcome, RequestChannel, Requester, Right, Stage};
use kluis_domain::trace::TraceContext;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_store::{NewRequest, Processing, RequestChange};
use kluis_web::portability::parse_allowed_host;
use kluis_web::systems::SystemUrls;
use kluis_web::testing::HttpsEndpoint;
use kluis_web::{AppState, Settings, app};
use time::macros::date;
use uuid::Uuid;

use super::{Harness, NOW};

const NIEUWSBRIEVEN: &str = "limburg-nieuwsbrieven";
const WERVING: &str = "limburg-werving-selectie";
const LAST_NAME: &str = "SELECT last_name FROM hr.applicants WHERE first_name = 'An'";

fn seed() -> Processing {
    Processing {
        actor: Actor {
            kind: ActorKind::Staff,
            id: None,
            name: "seed".into(),
        },
        trace: TraceContext::new_root([7; 16], [8; 8]),
        case_ref: None,
        now: NOW,
    }
}

fn an() -> SubjectIdentity {
    SubjectIdentity {
        national_number: Some(people::AN_NATIONAL_NUMBER.parse().unwrap()),
        email: Some(people::AN_EMAIL.parse().unwrap()),
        given_name: Some("An".into()),
        family_name: Some("Peeters".into()),
        ..Default::default()
    }
}

/// The DPO in the back-office, on one request's page.
struct BackOffice {
    cookie: String,
    csrf: String,
    id: Uuid,
}

impl BackOffice {
    /// Limburg's register, the DPO with a signed confidentiality statement and a session,
    /// and a request of An's for `rights`.
    async fn open(h: &Harness, rights: Vec<Right>) -> BackOffice {
        let (s, _, b) = h
            .import(include_str!("../../../../examples/limburg.yaml"), &h.dpo)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
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
        let email = Some(people::AN_EMAIL.parse().unwrap());
        let filed = h
            .store
            .file_request(
                &NewRequest {
                    controller: "limburg".into(),
                    rights,
                    channel: RequestChannel::Letter,
                    requester: Requester {
                        identity: an(),
                        acting_for: ActingFor::Themselves,
                        filed_by: None,
                        email: email.clone(),
                        postal_address: None,
                        message: "Mijn gegevens.".into(),
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
        BackOffice {
            cookie: format!("kluis_session={secret}"),
            csrf: session.csrf_token,
            id: filed.id,
        }
    }

    async fn get(&self, h: &Harness, path: &str) -> (StatusCode, HeaderMap, String) {
        let uri = format!("/admin/rights/{}{path}", self.id);
        let req = Request::builder()
            .uri(&uri)
            .header(header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap();
        h.send(req).await
    }

    async fn page(&self, h: &Harness) -> String {
        let (s, _, b) = self.get(h, "?lang=en").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        b
    }

    /// Posts the `step` form with `fields`, at the request's version, with the CSRF token
    /// or without.
    async fn post(
        &self,
        h: &Harness,
        step: &str,
        fields: &[(&str, &str)],
        with_csrf: bool,
    ) -> (StatusCode, HeaderMap, String) {
        let version = h.store.rights_request(self.id).await.unwrap().version;
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        if with_csrf {
            form.append_pair("csrf", &self.csrf);
        }
        form.append_pair("step", step);
        form.append_pair("version", &version.to_string());
        for (k, v) in fields {
            form.append_pair(k, v);
        }
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("/admin/rights/{}?lang=en", self.id))
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(form.finish()))
            .unwrap();
        h.send(req).await
    }

    /// Verifies the identity (An in the vault when given) and grants each (right,
    /// activity), as the forms before do.
    async fn verify_and_grant(&self, h: &Harness, subject: Option<Uuid>, grants: &[(Right, &str)]) {
        let store = &h.store;
        let v = store.rights_request(self.id).await.unwrap().version;
        let verify = RequestChange::VerifyIdentity {
            subject_id: subject,
        };
        store
            .change_request(self.id, v, &verify, "dpo", NOW)
            .await
            .unwrap();
        let decide = RequestChange::Decide {
            decisions: grants
                .iter()
                .map(|(right, activity)| Decision {
                    right: *right,
                    activity: activity.to_string(),
                    outcome: Outcome::Granted,
                    grounds: Vec::new(),
                    motivation: "Uw gegevens.".into(),
                })
                .collect(),
        };
        store
            .change_request(self.id, v + 1, &decide, "dpo", NOW)
            .await
            .unwrap();
        assert_eq!(
            store.rights_request(self.id).await.unwrap().stage,
            Stage::Decided
        );
    }
}

/// A refusal re-rendered on the request page, with its alert saying `says`.
fn refused_page(s: StatusCode, b: &str, expected: StatusCode, says: &str) {
    assert_eq!(s, expected, "{b}");
    assert!(b.contains("role=\"alert\""), "{b}");
    assert!(b.contains(says), "{says}: {b}");
}

/// The log entries of `action` under `activity` at request `reference`.
async fn logged(h: &Harness, activity: &str, action: LogAction, reference: &str) -> usize {
    let selector = LogSelector {
        activity: Some(activity.into()),
        ..LogSelector::default()
    };
    h.store
        .log_entries(&selector, &Scope::All, 10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.entry.action == action && e.entry.case_ref.as_deref() == Some(reference))
        .count()
}

#[tokio::test]
async fn the_admin_request_page_downloads_and_sends_packages() {
    release_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        release_story(pg).await;
    }
}

async fn release_story(store: TestStore) {
    let endpoint = HttpsEndpoint::start().await;
    let h = Harness::with_settings(
        store,
        Settings {
            // The endpoint is on 127.0.0.1: reached only because it is allowed.
            portability: endpoint
                .transmitter()
                .with_allowed_hosts(vec![parse_allowed_host("127.0.0.1").unwrap()]),
            bulk_concurrency: 1,
            ..Settings::default()
        },
    )
    .await;
    let office = BackOffice::open(&h, vec![Right::Access, Right::Portability]).await;
    // An gave her newsletter address under consent: portable.
    let p = seed();
    let (subject, _) = h
        .store
        .record_subject(&p, NIEUWSBRIEVEN, &an(), &[])
        .await
        .unwrap();
    h.store
        .add_record(
            &p,
            subject.id,
            &RecordInput {
                activity: NIEUWSBRIEVEN.into(),
                schedule: None,
                category: DataCategory::Contact,
                fields: BTreeMap::from([(
                    "nieuwsbrief_email".to_string(),
                    serde_json::json!(people::AN_EMAIL),
                )]),
                source: None,
                collected_on: date!(2026 - 10 - 01),
                events: BTreeMap::new(),
                provided_by_subject: true,
            },
        )
        .await
        .unwrap();
    let reference = h.store.rights_request(office.id).await.unwrap().reference;
    let inbox = endpoint.url("/inbox");
    let good = [
        ("recipient", "Stad Gent"),
        ("endpoint", inbox.as_str()),
        ("format", "json"),
    ];

    // Before the identity is verified: no links, no form; asked anyway, 409 on the page,
    // nothing logged or sent.
    let b = office.page(&h).await;
    assert!(!b.contains("Data for the person"), "{b}");
    assert!(!b.contains("access-package?format"), "{b}");
    let head = h.store.log_head().await.unwrap();
    let (s, hd, b) = office.get(&h, "/access-package?format=pdf&lang=en").await;
    refused_page(s, &b, StatusCode::CONFLICT, "identity");
    assert!(hd.get(header::CONTENT_DISPOSITION).is_none());
    let (s, _, b) = office.get(&h, "/portability?format=json&lang=en").await;
    refused_page(s, &b, StatusCode::CONFLICT, "identity");
    let (s, _, b) = office.post(&h, "transmit", &good, true).await;
    refused_page(s, &b, StatusCode::CONFLICT, "identity");
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    office
        .verify_and_grant(
            &h,
            Some(subject.id),
            &[
                (Right::Access, NIEUWSBRIEVEN),
                (Right::Portability, NIEUWSBRIEVEN),
            ],
        )
        .await;

    // Decided: five links and the form to send.
    let b = office.page(&h).await;
    for expected in [
        "Data for the person",
        "access-package?format=html&#38;lang=en",
        "access-package?format=pdf&#38;lang=en",
        "access-package?format=zip&#38;lang=en",
        "portability?format=json&#38;lang=en",
        "portability?format=csv&#38;lang=en",
        "Send the portability export to another controller",
        "<legend>Format</legend>",
    ] {
        assert!(b.contains(expected), "{expected}: {b}");
    }

    // Need-to-know as on the other request pages: a caseworker without a confidentiality
    // statement is refused, nobody signed in goes to the login; nothing logged.
    let head = h.store.log_head().await.unwrap();
    let cw = h.store.user_by_username("cw").await.unwrap().unwrap();
    let (secret, _) = h
        .store
        .create_session(cw.id, NOW, time::Duration::hours(1))
        .await
        .unwrap();
    for (cookie, refused) in [
        (format!("kluis_session={secret}"), StatusCode::FORBIDDEN),
        (String::new(), StatusCode::SEE_OTHER),
    ] {
        let req = Request::builder()
            .uri(format!(
                "/admin/rights/{}/access-package?format=pdf&lang=en",
                office.id
            ))
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap();
        let (s, hd, _) = h.send(req).await;
        assert_eq!(s, refused);
        assert!(hd.get(header::CONTENT_DISPOSITION).is_none());
    }
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    // Bad input: an unknown format, re-rendered with 422; nothing logged.
    let head = h.store.log_head().await.unwrap();
    let (s, _, b) = office.get(&h, "/access-package?format=exe&lang=en").await;
    refused_page(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "html, pdf, zip");
    let (s, _, b) = office.get(&h, "/portability?format=pdf&lang=en").await;
    refused_page(s, &b, StatusCode::UNPROCESSABLE_ENTITY, "json, csv");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    // Each download: an attachment named after the reference, never cached, logged as an
    // export to the person.
    let safe: String = reference
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    for (path, content_type, file) in [
        (
            "access-package?format=html",
            "text/html; charset=utf-8",
            "access.html",
        ),
        ("access-package?format=pdf", "application/pdf", "access.pdf"),
        ("access-package?format=zip", "application/zip", "access.zip"),
        (
            "portability?format=json",
            "application/json",
            "portability.json",
        ),
        (
            "portability?format=csv",
            "text/csv; charset=utf-8",
            "portability.csv",
        ),
    ] {
        let exports = logged(&h, NIEUWSBRIEVEN, LogAction::Export, &reference).await;
        let (s, hd, b) = office.get(&h, &format!("/{path}&lang=en")).await;
        assert_eq!(s, StatusCode::OK, "{path}: {b}");
        assert_eq!(hd[header::CONTENT_TYPE], content_type, "{path}");
        assert_eq!(hd[header::CACHE_CONTROL], "no-store", "{path}");
        assert_eq!(
            hd[header::CONTENT_DISPOSITION],
            format!("attachment; filename=\"{safe}-{file}\"").as_str(),
            "{path}"
        );
        assert!(
            logged(&h, NIEUWSBRIEVEN, LogAction::Export, &reference).await > exports,
            "{path}: logged as the API's download is"
        );
    }

    // Sending: without the CSRF token refused; bad input 422; nothing sent or disclosed.
    let (s, _, _) = office.post(&h, "transmit", &good, false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let plain = inbox.replace("https:", "http:");
    for (fields, says) in [
        (
            vec![
                ("recipient", "Stad Gent"),
                ("endpoint", plain.as_str()),
                ("format", "json"),
            ],
            "https://",
        ),
        (
            vec![
                ("recipient", " "),
                ("endpoint", inbox.as_str()),
                ("format", "json"),
            ],
            "recipient",
        ),
        (
            vec![
                ("recipient", "Stad Gent"),
                ("endpoint", inbox.as_str()),
                ("format", "pdf"),
            ],
            "json, csv",
        ),
    ] {
        let (s, _, b) = office.post(&h, "transmit", &fields, true).await;
        refused_page(s, &b, StatusCode::UNPROCESSABLE_ENTITY, says);
    }
    assert!(endpoint.received().is_empty(), "nothing sent");
    assert_eq!(
        logged(&h, NIEUWSBRIEVEN, LogAction::Disclose, &reference).await,
        0
    );

    // An endpoint that does not take it: 502 on the page, nothing disclosed.
    endpoint.answer_with(500);
    let (s, _, b) = office.post(&h, "transmit", &good, true).await;
    refused_page(s, &b, StatusCode::BAD_GATEWAY, "did not take the export");
    assert_eq!(
        logged(&h, NIEUWSBRIEVEN, LogAction::Disclose, &reference).await,
        0
    );

    // Delivered: post-redirect-get, the page confirms it, the disclosure is logged.
    endpoint.answer_with(201);
    let (s, hd, b) = office.post(&h, "transmit", &good, true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    let location = hd[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.ends_with("done=transmit"), "{location}");
    let (_, _, b) = office
        .get(
            &h,
            location.trim_start_matches(&format!("/admin/rights/{}", office.id)),
        )
        .await;
    assert!(b.contains("was delivered to the other organisation"), "{b}");
    assert_eq!(endpoint.received().len(), 2, "the failed try and this one");
    assert_eq!(
        logged(&h, NIEUWSBRIEVEN, LogAction::Disclose, &reference).await,
        1
    );
    h.store.cleanup().await;
}

fn hr_settings(url: &str) -> Settings {
    Settings {
        system_urls: SystemUrls(BTreeMap::from([(hr_map().name, url.to_string())])),
        ..Settings::default()
    }
}

#[tokio::test]
async fn the_admin_request_page_rectifies_in_a_connected_system() {
    rectification_story(sqlite_store().await).await;
    if let Some(pg) = postgres_store().await {
        rectification_story(pg).await;
    }
}

async fn rectification_story(store: TestStore) {
    let Some(hr) = hr_postgres().await else {
        store.cleanup().await;
        return;
    };
    let mut h = Harness::with_settings(store, hr_settings(hr.url())).await;
    let office = BackOffice::open(&h, vec![Right::Rectification]).await;
    let mut map = hr_map();
    map.activities = vec![WERVING.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();
    let (subject, _) = h
        .store
        .record_subject(&seed(), WERVING, &an(), &[])
        .await
        .unwrap();
    let fields = |column: &'static str, value: &'static str| {
        vec![
            ("system", "hr"),
            ("table", "applicants"),
            ("column", column),
            ("value", value),
        ]
    };
    let new_name = fields("last_name", "Peeters-Claes");

    // Before the identity is verified: no form; posted anyway, 409, nothing changed or logged.
    assert!(
        !office
            .page(&h)
            .await
            .contains("Rectify in a connected system")
    );
    let head = h.store.log_head().await.unwrap();
    let (s, _, b) = office.post(&h, "rectify", &new_name, true).await;
    refused_page(s, &b, StatusCode::CONFLICT, "identity");
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    office
        .verify_and_grant(&h, Some(subject.id), &[(Right::Rectification, WERVING)])
        .await;
    let b = office.page(&h).await;
    for expected in [
        "Rectify in a connected system",
        "<option value=\"hr\">hr</option>",
        "<legend>Where the data is</legend>",
    ] {
        assert!(b.contains(expected), "{expected}: {b}");
    }

    // Without the CSRF token, or with bad input: refused, nothing changed or logged.
    let head = h.store.log_head().await.unwrap();
    let (s, _, _) = office.post(&h, "rectify", &new_name, false).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    for (fields, says) in [
        (fields("id", "7"), "id"),
        (fields("last_name", "  "), "Write the new value"),
        (
            vec![
                ("system", "crm"),
                ("table", "applicants"),
                ("column", "last_name"),
                ("value", "X"),
            ],
            "is registered: register its dataset map",
        ),
    ] {
        let (s, _, b) = office.post(&h, "rectify", &fields, true).await;
        refused_page(s, &b, StatusCode::UNPROCESSABLE_ENTITY, says);
    }
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters");
    assert_eq!(h.store.log_head().await.unwrap(), head, "nothing logged");

    // HR cannot be reached: 502 on the page, nothing recorded.
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        hr_settings("postgres://postgres@127.0.0.1:1/nothing"),
    ));
    let (s, _, b) = office.post(&h, "rectify", &new_name, true).await;
    refused_page(s, &b, StatusCode::BAD_GATEWAY, "did not rectify");
    assert!(
        h.store
            .raw_bytes("SELECT sealed FROM system_rectifications")
            .await
            .is_empty(),
        "nothing kept"
    );
    h.app = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        hr_settings(hr.url()),
    ));

    // Done: post-redirect-get to a page that says how many rows changed; neither the old
    // nor the new value goes into the URL.
    let (s, hd, b) = office.post(&h, "rectify", &new_name, true).await;
    assert_eq!(s, StatusCode::SEE_OTHER, "{b}");
    let location = hd[header::LOCATION].to_str().unwrap().to_string();
    assert!(
        location.contains("done=rectify&changed=1&rows=1"),
        "{location}"
    );
    assert!(
        !location.contains("Peeters") && !location.contains("Claes"),
        "{location}"
    );
    let (_, _, b) = office
        .get(
            &h,
            location.trim_start_matches(&format!("/admin/rights/{}", office.id)),
        )
        .await;
    assert!(
        b.contains("Rectified: 1 of the person&#39;s 1 rows changed"),
        "{b}"
    );
    assert_eq!(hr.scalar(LAST_NAME).await, "Peeters-Claes");
    let (s, _, b) = office
        .get(&h, "?lang=en&done=rectify&changed=x&rows=-1")
        .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "a tampered link still shows the page: {b}"
    );
    assert!(
        b.contains("Rectified: 0 of the person&#39;s 0 rows changed"),
        "{b}"
    );
    let reference = h.store.rights_request(office.id).await.unwrap().reference;
    assert_eq!(logged(&h, WERVING, LogAction::Update, &reference).await, 1);
    hr.cleanup().await;
    h.store.cleanup().await;
}

/// The request page with the download links, the form to send the export and the form to
/// rectify, and both forms' refusals, pass an axe audit in Chromium.
#[tokio::test(flavor = "multi_thread")]
async fn the_admin_release_forms_in_chromium_pass_an_accessibility_audit() {
    if !super::support::browser::require_browser() {
        return;
    }
    let h = Harness::new(sqlite_store().await).await;
    let office = BackOffice::open(&h, vec![Right::Portability, Right::Rectification]).await;
    // HR serves recruitment, with no connection configured: a rectification is refused.
    let mut map = hr_map();
    map.activities = vec![WERVING.to_string()];
    h.store.put_system(&map, "test", NOW).await.unwrap();
    office
        .verify_and_grant(
            &h,
            None,
            &[
                (Right::Portability, NIEUWSBRIEVEN),
                (Right::Rectification, WERVING),
            ],
        )
        .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let settings = Settings {
        public_url: base.clone(),
        ..Default::default()
    };
    let state = AppState::new((*h.store).clone(), std::sync::Arc::new(|| NOW), settings);
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    let page = format!("/admin/rights/{}?lang=en", office.id);
    let steps = serde_json::json!([
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "dpo"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"goto": page, "expect_status": 200},
        {"expect_text": "Portability export (JSON)"},
        {"expect_text": "Send the portability export to another controller"},
        {"expect_text": "Rectify in a connected system"},
        {"axe": true},
        {"fill": {"label": "Receiving organisation", "value": "Stad Gent"}},
        {"fill": {"label": "Its address for receiving the export", "value": "http://gent.example/inbox"}},
        {"click": {"role": "button", "name": "Send the export"}},
        {"expect_text": "https://"},
        {"axe": true},
        {"fill": {"label": "Table", "value": "applicants"}},
        {"fill": {"label": "Column", "value": "last_name"}},
        {"fill": {"label": "New value", "value": "Peeters-Claes"}},
        {"click": {"role": "button", "name": "Rectify"}},
        {"expect_text": "no connection is configured"},
        {"axe": true},
    ]);
    super::support::browser::run_scenario(&base, steps).unwrap();
    h.store.cleanup().await;
}
