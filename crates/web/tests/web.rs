//! The web layer end to end: the real application on a real database (SQLite, and
//! PostgreSQL at TEST_DATABASE_URL), driven through HTTP; pages in headless Chromium.

#![recursion_limit = "512"]

mod support;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use kluis_connectors::testing::people;
use kluis_domain::access::Role;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::{AppState, Settings, api, app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;
use uuid::Uuid;

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

const REGISTER: &str = r#"
controllers:
  - id: stad
    name: {nl: Stad Voorbeeld, en: City of Example, fr: Ville d'Exemple}
    address: {street: Grote Markt 1, postcode: "8970", city: Poperinge, country: BE}
    email: info@voorbeeld.be
    dpo: {email: dpo@voorbeeld.be}
    supervisory_authorities: [vtc, gba]
    rights_contact: {email: privacy@voorbeeld.be}
processors:
  - id: cipal
    name: Cipal Schaubroeck
    country: BE
activities:
  - id: nieuwsbrief
    controller: stad
    name: {nl: Nieuwsbrief, en: Newsletter}
    purposes: [Nieuws van de stad versturen]
    legal_bases: [{basis: consent}]
    consent: {withdrawal: Via de link onderaan elke nieuwsbrief}
    data_categories: [contact]
    subject_categories: [subscribers]
    sources: [data_subject]
    recipients: []
    processors: [cipal]
    retention:
      - key: default
        rule: {until_withdrawal: {}}
  - id: camera
    controller: stad
    name: Camerabewaking
    purposes: [Bescherming van goederen]
    legal_bases: [{basis: public_interest, reference: Camerawet van 21 maart 2007}]
    data_categories: [sound_image]
    subject_categories: [visitors]
    sources: [data_subject]
    retention:
      - key: beelden
        rule: {after_event: {event: recording, period: 30 days}}
"#;

/// The application over a test store, with a DPO token and a caseworker token.
struct Harness {
    store: TestStore,
    app: Router,
    dpo: String,
    caseworker: String,
}

impl Harness {
    async fn new(store: TestStore) -> Harness {
        Harness::with_settings(store, Settings::default()).await
    }

    async fn with_settings(store: TestStore, settings: Settings) -> Harness {
        let dpo = store
            .create_user("dpo", "DPO", "a long dpo password", &[Role::Dpo], NOW)
            .await
            .unwrap();
        let cw = store
            .create_user(
                "cw",
                "Caseworker",
                "a long caseworker password",
                &[Role::Caseworker],
                NOW,
            )
            .await
            .unwrap();
        let (dpo_token, _) = store.create_api_token(dpo.id, "tests", NOW).await.unwrap();
        let (cw_token, _) = store.create_api_token(cw.id, "tests", NOW).await.unwrap();
        let state = AppState::new((*store).clone(), std::sync::Arc::new(|| NOW), settings);
        Harness {
            app: app(state),
            store,
            dpo: dpo_token,
            caseworker: cw_token,
        }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, header::HeaderMap, String) {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn request(
        &self,
        method: Method,
        uri: &str,
        token: Option<&str>,
    ) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b
    }

    async fn get(&self, uri: &str) -> (StatusCode, header::HeaderMap, String) {
        self.send(
            self.request(Method::GET, uri, Some(&self.dpo))
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> (StatusCode, header::HeaderMap, String) {
        let mut b = self
            .request(method, uri, Some(&self.dpo))
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(v) = if_match {
            b = b.header(header::IF_MATCH, v);
        }
        self.send(b.body(Body::from(body.to_string())).unwrap())
            .await
    }

    async fn import(&self, yaml: &str, token: &str) -> (StatusCode, header::HeaderMap, String) {
        let req = self
            .request(Method::PUT, "/api/v1/register", Some(token))
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(yaml.to_string()))
            .unwrap();
        self.send(req).await
    }

    /// Limburg's register (`examples/limburg.yaml`), and the DPO's signed confidentiality
    /// statement (without it nobody opens personal data).
    async fn limburg_with_a_dpo_who_may_read(&self) {
        let (s, _, b) = self
            .import(include_str!("../../../examples/limburg.yaml"), &self.dpo)
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, _, b) = self
            .call(
                Method::POST,
                "/api/v1/users/dpo/confidentiality-statements",
                &self.dpo,
                Some(json!({"signed_on": "2026-01-05", "reference": "GEHEIM-2026-001"})),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
}

/// The letter An Peeters (the connectors' test person) sends Limburg for herself, asking
/// for `rights`, received today: a body for `POST /api/v1/rights-requests`.
fn letter_from_an(rights: &[&str]) -> Value {
    json!({
        "controller": "limburg",
        "rights": rights,
        "channel": "letter",
        "requester": {
            "identity": {"email": people::AN_EMAIL, "given_name": "An", "family_name": "Peeters"},
            "acting_for": "themselves",
            "email": people::AN_EMAIL,
        },
        "received_on": "2026-11-23"
    })
}

/// Rights requests as a test needs them before what it tests: filed and worked by the DPO
/// over the API, each step asserted to succeed.
impl Harness {
    /// Files `request` (the body of `POST /api/v1/rights-requests`); the request as filed.
    async fn filed_request(&self, request: Value) -> Value {
        let (s, _, b) = self
            .call(
                Method::POST,
                "/api/v1/rights-requests",
                &self.dpo,
                Some(request),
                &[],
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        serde_json::from_str(&b).unwrap()
    }

    /// Takes the step `change` (the body of `POST .../changes`) on the request at `one`
    /// (its path) at `version`.
    async fn request_step(&self, one: &str, change: Value, version: u64) {
        let (s, _, b) = self
            .call(
                Method::POST,
                &format!("{one}/changes"),
                &self.dpo,
                Some(change),
                &[("if-match", &format!("\"{version}\""))],
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }

    /// Files `request`, verifies the requester's identity (linked to `subject` in the
    /// vault, or to nobody) and decides it with `decisions`. Returns the request's path,
    /// `/api/v1/rights-requests/{id}`.
    async fn decided_request(
        &self,
        request: Value,
        subject: Option<Uuid>,
        decisions: Value,
    ) -> String {
        let filed = self.filed_request(request).await;
        let one = format!("/api/v1/rights-requests/{}", filed["id"].as_str().unwrap());
        let verify = json!({"change": "verify_identity", "subject_id": subject});
        self.request_step(&one, verify, 1).await;
        let decide = json!({"change": "decide", "decisions": decisions});
        self.request_step(&one, decide, 2).await;
        one
    }
}

fn problem(
    status: StatusCode,
    headers: &header::HeaderMap,
    body: &str,
    expected: StatusCode,
) -> Value {
    assert_eq!(status, expected, "{body}");
    assert_eq!(
        headers[header::CONTENT_TYPE],
        "application/problem+json",
        "{body}"
    );
    let p: Value = serde_json::from_str(body).unwrap();
    assert_eq!(p["status"], expected.as_u16());
    assert!(p["detail"].as_str().is_some_and(|d| !d.is_empty()));
    p
}

/// Runs a story against SQLite and, when available, PostgreSQL.
macro_rules! on_both_backends {
    ($story:ident) => {{
        $story(Harness::new(sqlite_store().await).await).await;
        if let Some(pg) = postgres_store().await {
            $story(Harness::new(pg).await).await;
        }
    }};
}

#[path = "web/access_package.rs"]
mod access_package;
#[path = "web/admin_release.rs"]
mod admin_release;
#[path = "web/breaches.rs"]
mod breaches;
#[path = "web/consent.rs"]
mod consent;
#[path = "web/consent_pages.rs"]
mod consent_pages;
#[path = "web/cookies.rs"]
mod cookies;
#[path = "web/fulfilment.rs"]
mod fulfilment;
#[path = "web/inventory.rs"]
mod inventory;
#[path = "web/media.rs"]
mod media;
#[path = "web/portability.rs"]
mod portability;
#[path = "web/rectification.rs"]
mod rectification;
#[path = "web/restriction.rs"]
mod restriction;
#[path = "web/retention.rs"]
mod retention;
#[path = "web/rights.rs"]
mod rights;
#[path = "web/rights_pages.rs"]
mod rights_pages;

#[tokio::test]
async fn register_api() {
    on_both_backends!(register_api_story);
}

async fn register_api_story(h: Harness) {
    // Authentication and roles.
    let (s, hd, b) = h
        .send(
            h.request(Method::GET, "/api/v1/controllers", None)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let (s, hd, b) = h
        .send(
            h.request(Method::GET, "/api/v1/controllers", Some("kluis_forged"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let (s, hd, b) = h.import(REGISTER, &h.caseworker.clone()).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // Import: refused whole with the line, then loaded.
    let broken = REGISTER.replace("processors: [cipal]", "processors: [cipall]");
    let (s, hd, b) = h.import(&broken, &h.dpo.clone()).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("line "),
        "{p}"
    );
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("cipall")
    );
    let req = h
        .request(Method::PUT, "/api/v1/register", Some(&h.dpo))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(REGISTER))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        h.store.register().await.unwrap().activities.len(),
        0,
        "a refused import changes nothing"
    );

    let (s, _, b) = h.import(REGISTER, &h.dpo.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let summary: Value = serde_json::from_str(&b).unwrap();
    assert!(summary["created"].as_u64().unwrap() > 0, "{summary}");

    // Lists and single entries with versions.
    let (s, _, b) = h.get("/api/v1/activities?controller=stad").await;
    assert_eq!(s, StatusCode::OK);
    let list: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["id"], "nieuwsbrief");
    assert_eq!(list[0]["version"], 1);
    let (s, _, b) = h.get("/api/v1/activities?colour=red").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");

    let (s, hd, b) = h.get("/api/v1/activities/camera").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::ETAG], "\"1\"");
    let mut camera: Value = serde_json::from_str(&b).unwrap();

    // Optimistic concurrency: a new version with If-Match, 428 without, 409 when stale.
    camera["purposes"] = json!(["Bescherming van goederen", "Openbare orde handhaven"]);
    let (s, hd, b) = h
        .json(Method::PUT, "/api/v1/activities/camera", None, &camera)
        .await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let (s, hd, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"1\""),
            &camera,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"2\"");
    let (s, hd, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"1\""),
            &camera,
        )
        .await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    // The list reflects the edit, also on a second instance that cached it before.
    let (_, _, b) = h.get("/api/v1/activities?controller=stad").await;
    let list: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(list[1]["version"], 2, "{list}");
    // A second instance: its own application state (and cache), the same database.
    let other = app(AppState::new(
        (*h.store).clone(),
        std::sync::Arc::new(|| NOW),
        Settings::default(),
    ));
    let list_on_other = || async {
        let req = h
            .request(Method::GET, "/api/v1/activities", Some(&h.dpo))
            .body(Body::empty())
            .unwrap();
        let response = other.clone().oneshot(req).await.unwrap();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        serde_json::from_slice::<Value>(&body).unwrap()
    };
    assert_eq!(list_on_other().await[1]["version"], 2);
    camera["purposes"] = json!(["Bescherming van goederen"]);
    let (s, _, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"2\""),
            &camera,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let list = list_on_other().await;
    assert_eq!(
        list[1]["version"], 3,
        "the other instance does not serve a stale list"
    );
    assert_eq!(list[1]["purposes"].as_array().unwrap().len(), 1);
    camera["purposes"] = json!(["Bescherming van goederen", "Openbare orde handhaven"]);
    let (s, _, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"3\""),
            &camera,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");

    let (_, _, b) = h.get("/api/v1/activities/camera/versions").await;
    let versions: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 4);
    assert_eq!(versions[3]["recorded_by"], "dpo");
    assert_eq!(
        versions[1]["activity"]["purposes"][1],
        "Openbare orde handhaven"
    );

    // Bad bodies: unknown field, wrong type, invalid register, too large.
    let mut unknown = camera.clone();
    unknown["colour"] = json!("red");
    let (s, hd, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"4\""),
            &unknown,
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let req = h
        .request(Method::PUT, "/api/v1/activities/camera", Some(&h.dpo))
        .header(header::IF_MATCH, "\"4\"")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(camera.to_string()))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut dangling = camera.clone();
    dangling["processors"] = json!(["nobody"]);
    let (s, hd, b) = h
        .json(
            Method::PUT,
            "/api/v1/activities/camera",
            Some("\"4\""),
            &dangling,
        )
        .await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nobody"),
        "{p}"
    );
    let huge = "x".repeat(kluis_web::MAX_BODY_BYTES + 1);
    let req = h
        .request(Method::PUT, "/api/v1/activities/camera", Some(&h.dpo))
        .header(header::IF_MATCH, "\"4\"")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, hd, _) = h.get("/api/v1/activities/camera").await;
    assert_eq!(hd[header::ETAG], "\"4\"", "refused edits change nothing");

    // Create, duplicates, deletes that would leave the register inconsistent.
    let processor = json!({"id": "zeticon", "name": "Zeticon", "country": "BE"});
    let (s, hd, _) = h
        .json(Method::POST, "/api/v1/processors", None, &processor)
        .await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(hd[header::ETAG], "\"1\"");
    let (s, hd, b) = h
        .json(Method::POST, "/api/v1/processors", None, &processor)
        .await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    let req = h
        .request(Method::DELETE, "/api/v1/processors/cipal", Some(&h.dpo))
        .header(header::IF_MATCH, "\"1\"")
        .body(Body::empty())
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("cipal"), "{p}");
    let req = h
        .request(Method::DELETE, "/api/v1/processors/zeticon", Some(&h.dpo))
        .header(header::IF_MATCH, "\"1\"")
        .body(Body::empty())
        .unwrap();
    let (s, _, b) = h.send(req).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, hd, b) = h.get("/api/v1/processors/zeticon").await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let req = h
        .request(Method::POST, "/api/v1/processors", Some(&h.caseworker))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(processor.to_string()))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // Completeness.
    let (_, _, b) = h.get("/api/v1/activities/camera/completeness").await;
    let c: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(c["complete"], false);
    let gaps: Vec<&str> = c["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["gap"].as_str().unwrap())
        .collect();
    assert!(
        gaps.contains(&"recipients") && gaps.contains(&"security_measures"),
        "{c}"
    );

    // Exports.
    for (format, content_type) in [
        ("yaml", "application/yaml"),
        ("json", "application/json"),
        ("csv", "text/csv; charset=utf-8"),
        ("dpv", "application/ld+json"),
    ] {
        let (s, hd, b) = h.get(&format!("/api/v1/register?format={format}")).await;
        assert_eq!(s, StatusCode::OK, "{format}: {b}");
        assert_eq!(hd[header::CONTENT_TYPE], content_type);
        assert!(b.contains("camera"), "{format}");
    }
    let (s, hd, b) = h.get("/api/v1/register?format=xml").await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);
    let (_, _, yaml) = h.get("/api/v1/register?format=yaml").await;
    let exported = kluis_domain::register_file::parse("export.yaml", &yaml).unwrap();
    assert_eq!(
        exported,
        h.store.register().await.unwrap(),
        "YAML export round-trips"
    );

    // Statements: preview, publish, public page, versions.
    let (s, _, b) = h
        .get("/api/v1/controllers/stad/statement?lang=nl&format=md")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(
        b.contains("Camerabewaking") && b.contains("dpo@voorbeeld.be"),
        "{b}"
    );
    let (s, hd, b) = h.get("/api/v1/controllers/nowhere/statement").await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let public =
        |uri: &'static str| h.send(Request::builder().uri(uri).body(Body::empty()).unwrap());
    let (s, _, _) = public("/privacy/stad").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing published yet");
    let (s, hd, b) = h
        .json(
            Method::POST,
            "/api/v1/controllers/stad/statement/versions",
            None,
            &json!({"effective_date": "2020-01-01"}),
        )
        .await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, b) = h
        .json(
            Method::POST,
            "/api/v1/controllers/stad/statement/versions",
            None,
            &json!({"effective_date": "2026-11-23"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["version"], 1);
    let (s, hd, b) = public("/privacy/stad?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_LANGUAGE], "en");
    assert!(
        b.contains("City of Example") && b.contains("<html lang=\"en\">"),
        "{b}"
    );
    let (s, _, b) = h
        .send(
            Request::builder()
                .uri("/privacy/stad")
                .header(header::ACCEPT_LANGUAGE, "fr-BE,fr;q=0.9")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("<html lang=\"fr\">"));
    let (s, _, b) = public("/privacy/nowhere").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b.contains("<h1>"), "a friendly page, not a bare error");
    let (_, _, b) = h.get("/api/v1/controllers/stad/statement/versions").await;
    assert_eq!(
        serde_json::from_str::<Value>(&b)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    h.store.cleanup().await;
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let h = Harness::new(sqlite_store().await).await;
    let (s, _, b) = h
        .send(
            Request::builder()
                .uri("/api/v1/openapi.json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in api::OPERATIONS {
        assert!(
            doc["paths"][op.path][op.method].is_object(),
            "{} {} missing from the document",
            op.method,
            op.path
        );
        let uri = op
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "does-not-exist"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let (s, _, b) = h
            .send(
                h.request(method, &uri, Some(&h.dpo))
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_ne!(
            s,
            StatusCode::METHOD_NOT_ALLOWED,
            "{} {} is documented but not routed",
            op.method,
            op.path
        );
        assert!(
            s != StatusCode::NOT_FOUND || b.contains("does-not-exist"),
            "{} {} is documented but not routed: {b}",
            op.method,
            op.path
        );
    }
    let (s, _, b) = h
        .send(
            Request::builder()
                .uri("/healthz")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("ok"));
    h.store.cleanup().await;
}

/// The example registers of the seeds, loaded and published, served on a free port.
async fn serve_examples(store: &TestStore) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(path).unwrap();
        let register =
            kluis_domain::register_file::parse(&path.display().to_string(), &text).unwrap();
        store
            .import_register(&register, false, "test", NOW)
            .await
            .unwrap();
    }
    let register = store.register().await.unwrap();
    for c in &register.controllers {
        let snapshot = register.for_controller(&c.id).unwrap();
        store
            .publish_statement(&c.id, NOW.date(), &snapshot, "test", NOW)
            .await
            .unwrap();
    }
    let state = AppState::new(
        (**store).clone(),
        std::sync::Arc::new(|| NOW),
        Settings::default(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(kluis_web::serve(listener, state, std::future::pending()));
    base
}

#[tokio::test(flavor = "multi_thread")]
async fn public_pages_in_chromium_pass_an_accessibility_audit() {
    if !support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    let base = serve_examples(&store).await;
    let controllers: Vec<String> = store
        .controllers()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.value.id)
        .collect();
    let mut steps = vec![
        json!({"goto": "/?lang=nl", "expect_status": 200}),
        json!({"axe": true}),
        json!({"press": "Tab"}),
        json!({"expect_focus_name": "Naar de inhoud"}),
    ];
    for c in &controllers {
        for lang in ["nl", "en", "fr"] {
            steps.push(json!({"goto": format!("/privacy/{c}?lang={lang}"), "expect_status": 200}));
            steps.push(json!({"axe": true}));
        }
    }
    steps.push(json!({"goto": "/privacy/limburg?lang=nl"}));
    steps.push(json!({"expect_text": "0207.725.203"}));
    steps.push(json!({"click": {"role": "link", "name": "English"}}));
    steps.push(json!({"expect_url": "/lang=en/"}));
    steps.push(json!({"goto": "/privacy/atlantis", "expect_status": 404}));
    steps.push(json!({"axe": true}));
    support::browser::run_scenario(&base, json!(steps)).unwrap();
    store.cleanup().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn back_office_in_chromium_edits_publishes_and_passes_an_accessibility_audit() {
    if !support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    store
        .create_user(
            "anna",
            "Anna Peeters",
            "a long dpo password",
            &[Role::Dpo],
            NOW,
        )
        .await
        .unwrap();
    let base = serve_examples(&store).await;
    let steps = json!([
        // Signing in: wrong password first, then right; every page audited.
        {"goto": "/admin", "expect_status": 200},
        {"expect_url": "/\\/admin\\/login/"},
        {"axe": true},
        {"fill": {"label": "Username", "value": "anna"}},
        {"fill": {"label": "Password", "value": "not the password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_text": "Wrong username or password."},
        {"axe": true},
        {"goto": "/admin/login?lang=en"},
        {"fill": {"label": "Username", "value": "anna"}},
        {"fill": {"label": "Password", "value": "a long dpo password"}},
        {"click": {"role": "button", "name": "Sign in"}},
        {"expect_url": "/\\/admin(\\?|$)/"},
        {"axe": true},
        {"goto": "/admin/controllers?lang=en"}, {"axe": true},
        {"goto": "/admin/controllers/limburg?lang=en"}, {"axe": true},
        {"goto": "/admin/controllers/limburg/edit?lang=en"}, {"axe": true},
        {"goto": "/admin/controllers/new?lang=en"}, {"axe": true},
        {"goto": "/admin/processors?lang=en"}, {"axe": true},
        {"goto": "/admin/processors/limburg-cipal?lang=en"}, {"axe": true},
        {"goto": "/admin/processors/limburg-cipal/edit?lang=en"}, {"axe": true},
        {"goto": "/admin/agreements?lang=en"}, {"axe": true},
        {"goto": "/admin/agreements/limburg-protocol-politiezone-politieschool?lang=en"}, {"axe": true},
        {"goto": "/admin/agreements/limburg-protocol-politiezone-politieschool/edit?lang=en"}, {"axe": true},
        {"goto": "/admin/activities?lang=en"}, {"axe": true},
        {"goto": "/admin/activities/new?lang=en"}, {"axe": true},
        {"goto": "/admin/statements?lang=en"}, {"axe": true},
        // An edit with an error keeps the input and says what is wrong, next to the field.
        {"goto": "/admin/processors/limburg-cipal/edit?lang=en"},
        {"fill": {"label": "Sub-processors", "value": "- name: [unclosed"}},
        {"click": {"role": "button", "name": "Save"}},
        {"expect_text": "There is a problem"},
        {"axe": true},
        // A valid edit makes a new version.
        {"goto": "/admin/processors/limburg-cipal/edit?lang=en"},
        {"fill": {"label": "Contact", "value": "privacy@cipal.be"}},
        {"click": {"role": "button", "name": "Save"}},
        {"expect_text": "Your changes have been saved."},
        {"expect_text": "privacy@cipal.be"},
        // Publishing a new statement version; the public page then links to the earlier one.
        {"goto": "/admin/statements?lang=en"},
        {"click": {"role": "button", "name": "Publish this version", "nth": 0}},
        {"expect_text": "has been published"},
        {"axe": true},
        {"goto": "/privacy/flevoland?lang=en&version=1", "expect_status": 200},
        {"expect_text": "version 1"},
        {"axe": true},
        {"goto": "/admin/statements?lang=en"},
        {"click": {"role": "button", "name": "Sign out"}},
        {"expect_text": "You have been signed out."},
        {"goto": "/admin/controllers?lang=en"},
        {"expect_url": "/\\/admin\\/login/"},
    ]);
    support::browser::run_scenario(&base, steps).unwrap();
    store.cleanup().await;
}
