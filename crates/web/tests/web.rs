//! The web layer end to end: the real application on a real database (SQLite, and
//! PostgreSQL at TEST_DATABASE_URL), driven through HTTP; pages in headless Chromium.

mod support;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Method, Request, StatusCode, header};
use kluis_domain::access::Role;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::{AppState, Settings, api, app};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

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
        let dpo = store.create_user("dpo", "DPO", "a long dpo password", &[Role::Dpo], NOW).await.unwrap();
        let cw = store
            .create_user("cw", "Caseworker", "a long caseworker password", &[Role::Caseworker], NOW)
            .await
            .unwrap();
        let (dpo_token, _) = store.create_api_token(dpo.id, "tests", NOW).await.unwrap();
        let (cw_token, _) = store.create_api_token(cw.id, "tests", NOW).await.unwrap();
        let state = AppState::new((*store).clone(), std::sync::Arc::new(|| NOW), Settings::default());
        Harness { app: app(state), store, dpo: dpo_token, caseworker: cw_token }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, header::HeaderMap, String) {
        let response = self.app.clone().oneshot(req).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    fn request(&self, method: Method, uri: &str, token: Option<&str>) -> axum::http::request::Builder {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        b
    }

    async fn get(&self, uri: &str) -> (StatusCode, header::HeaderMap, String) {
        self.send(self.request(Method::GET, uri, Some(&self.dpo)).body(Body::empty()).unwrap()).await
    }

    async fn json(&self, method: Method, uri: &str, if_match: Option<&str>, body: &Value) -> (StatusCode, header::HeaderMap, String) {
        let mut b = self.request(method, uri, Some(&self.dpo)).header(header::CONTENT_TYPE, "application/json");
        if let Some(v) = if_match {
            b = b.header(header::IF_MATCH, v);
        }
        self.send(b.body(Body::from(body.to_string())).unwrap()).await
    }

    async fn import(&self, yaml: &str, token: &str) -> (StatusCode, header::HeaderMap, String) {
        let req = self
            .request(Method::PUT, "/api/v1/register", Some(token))
            .header(header::CONTENT_TYPE, "application/yaml")
            .body(Body::from(yaml.to_string()))
            .unwrap();
        self.send(req).await
    }
}

fn problem(status: StatusCode, headers: &header::HeaderMap, body: &str, expected: StatusCode) -> Value {
    assert_eq!(status, expected, "{body}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json", "{body}");
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

#[tokio::test]
async fn register_api() {
    on_both_backends!(register_api_story);
}

async fn register_api_story(h: Harness) {
    // Authentication and roles.
    let (s, hd, b) = h.send(h.request(Method::GET, "/api/v1/controllers", None).body(Body::empty()).unwrap()).await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let (s, hd, b) = h.send(h.request(Method::GET, "/api/v1/controllers", Some("kluis_forged")).body(Body::empty()).unwrap()).await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
    let (s, hd, b) = h.import(REGISTER, &h.caseworker.clone()).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);

    // Import: refused whole with the line, then loaded.
    let broken = REGISTER.replace("processors: [cipal]", "processors: [cipall]");
    let (s, hd, b) = h.import(&broken, &h.dpo.clone()).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"][0]["field"].as_str().unwrap().starts_with("line "), "{p}");
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("cipall"));
    let req = h
        .request(Method::PUT, "/api/v1/register", Some(&h.dpo))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(REGISTER))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(h.store.register().await.unwrap().activities.len(), 0, "a refused import changes nothing");

    let (s, _, b) = h.import(REGISTER, &h.dpo.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let summary: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(summary["created"].as_u64().unwrap() > 0, true, "{summary}");

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
    let (s, hd, b) = h.json(Method::PUT, "/api/v1/activities/camera", None, &camera).await;
    problem(s, &hd, &b, StatusCode::PRECONDITION_REQUIRED);
    let (s, hd, b) = h.json(Method::PUT, "/api/v1/activities/camera", Some("\"1\""), &camera).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(hd[header::ETAG], "\"2\"");
    let (s, hd, b) = h.json(Method::PUT, "/api/v1/activities/camera", Some("\"1\""), &camera).await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    let (_, _, b) = h.get("/api/v1/activities/camera/versions").await;
    let versions: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[1]["recorded_by"], "dpo");
    assert_eq!(versions[1]["activity"]["purposes"][1], "Openbare orde handhaven");

    // Bad bodies: unknown field, wrong type, invalid register, too large.
    let mut unknown = camera.clone();
    unknown["colour"] = json!("red");
    let (s, hd, b) = h.json(Method::PUT, "/api/v1/activities/camera", Some("\"2\""), &unknown).await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let req = h
        .request(Method::PUT, "/api/v1/activities/camera", Some(&h.dpo))
        .header(header::IF_MATCH, "\"2\"")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(camera.to_string()))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let mut dangling = camera.clone();
    dangling["processors"] = json!(["nobody"]);
    let (s, hd, b) = h.json(Method::PUT, "/api/v1/activities/camera", Some("\"2\""), &dangling).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("nobody"), "{p}");
    let huge = "x".repeat(kluis_web::MAX_BODY_BYTES + 1);
    let req = h
        .request(Method::PUT, "/api/v1/activities/camera", Some(&h.dpo))
        .header(header::IF_MATCH, "\"2\"")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(huge))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::PAYLOAD_TOO_LARGE);
    let (_, hd, _) = h.get("/api/v1/activities/camera").await;
    assert_eq!(hd[header::ETAG], "\"2\"", "refused edits change nothing");

    // Create, duplicates, deletes that would leave the register inconsistent.
    let processor = json!({"id": "zeticon", "name": "Zeticon", "country": "BE"});
    let (s, hd, _) = h.json(Method::POST, "/api/v1/processors", None, &processor).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(hd[header::ETAG], "\"1\"");
    let (s, hd, b) = h.json(Method::POST, "/api/v1/processors", None, &processor).await;
    problem(s, &hd, &b, StatusCode::CONFLICT);
    let req = h.request(Method::DELETE, "/api/v1/processors/cipal", Some(&h.dpo)).header(header::IF_MATCH, "\"1\"").body(Body::empty()).unwrap();
    let (s, hd, b) = h.send(req).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(b.contains("cipal"), "{p}");
    let req = h.request(Method::DELETE, "/api/v1/processors/zeticon", Some(&h.dpo)).header(header::IF_MATCH, "\"1\"").body(Body::empty()).unwrap();
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
    let gaps: Vec<&str> = c["gaps"].as_array().unwrap().iter().map(|g| g["gap"].as_str().unwrap()).collect();
    assert!(gaps.contains(&"recipients") && gaps.contains(&"security_measures"), "{c}");

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
    assert_eq!(exported, h.store.register().await.unwrap(), "YAML export round-trips");

    // Statements: preview, publish, public page, versions.
    let (s, _, b) = h.get("/api/v1/controllers/stad/statement?lang=nl&format=md").await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b.contains("Camerabewaking") && b.contains("dpo@voorbeeld.be"), "{b}");
    let (s, hd, b) = h.get("/api/v1/controllers/nowhere/statement").await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
    let public = |uri: &'static str| h.send(Request::builder().uri(uri).body(Body::empty()).unwrap());
    let (s, _, _) = public("/privacy/stad").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "nothing published yet");
    let (s, hd, b) = h.json(Method::POST, "/api/v1/controllers/stad/statement/versions", None, &json!({"effective_date": "2020-01-01"})).await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    let (s, _, b) = h.json(Method::POST, "/api/v1/controllers/stad/statement/versions", None, &json!({"effective_date": "2026-11-23"})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap()["version"], 1);
    let (s, hd, b) = public("/privacy/stad?lang=en").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_LANGUAGE], "en");
    assert!(b.contains("City of Example") && b.contains("<html lang=\"en\">"), "{b}");
    let (s, _, b) = h
        .send(Request::builder().uri("/privacy/stad").header(header::ACCEPT_LANGUAGE, "fr-BE,fr;q=0.9").body(Body::empty()).unwrap())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("<html lang=\"fr\">"));
    let (s, _, b) = public("/privacy/nowhere").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(b.contains("<h1>"), "a friendly page, not a bare error");
    let (_, _, b) = h.get("/api/v1/controllers/stad/statement/versions").await;
    assert_eq!(serde_json::from_str::<Value>(&b).unwrap().as_array().unwrap().len(), 1);

    h.store.cleanup().await;
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let h = Harness::new(sqlite_store().await).await;
    let (s, _, b) = h.send(Request::builder().uri("/api/v1/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    let doc: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for op in api::OPERATIONS {
        assert!(doc["paths"][op.path][op.method].is_object(), "{} {} missing from the document", op.method, op.path);
        let uri = op.path.replace("{id}", "does-not-exist");
        let method = Method::from_bytes(op.method.to_uppercase().as_bytes()).unwrap();
        let (s, _, b) = h.send(h.request(method, &uri, Some(&h.dpo)).body(Body::empty()).unwrap()).await;
        assert_ne!(s, StatusCode::METHOD_NOT_ALLOWED, "{} {} is documented but not routed", op.method, op.path);
        assert!(s != StatusCode::NOT_FOUND || b.contains("does-not-exist"), "{} {} is documented but not routed: {b}", op.method, op.path);
    }
    let (s, _, b) = h.send(Request::builder().uri("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b.contains("ok"));
    h.store.cleanup().await;
}
