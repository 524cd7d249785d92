//! The cookie banner for the authority's websites: script and stylesheet, the proof of each
//! choice with CORS and Global Privacy Control, the demo page, the DPO's summary; and the
//! banner itself in headless Chromium.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kluis_domain::cookie_consent::{Banner, ChoiceSource};
use kluis_domain::register::CookieType;
use kluis_store::Store;
use kluis_store::testing::{TestStore, postgres_store, sqlite_store};
use kluis_web::Settings;
use serde_json::{Value, json};

use super::{Harness, NOW, problem, serve_examples, support};

/// A city whose website sets a session cookie, and analytics and social media cookies that
/// need consent.
const COOKIE_REGISTER: &str = r#"
controllers:
  - id: stad
    name: {nl: Stad Voorbeeld, en: City of Example, fr: Ville d'Exemple}
    address: {street: Grote Markt 1, postcode: "8970", city: Poperinge, country: BE}
    dpo: {email: dpo@voorbeeld.be}
    supervisory_authorities: [vtc]
    rights_contact: {email: privacy@voorbeeld.be}
    cookies:
      - name: sessie
        type: functional
        purpose: {nl: Je sessie onthouden, en: Remembering your session, fr: Retenir votre session}
        lifetime: {nl: sessie, en: session, fr: session}
      - name: Matomo
        type: analytics
        provider: Stad Voorbeeld
        purpose: {nl: Bezoeken tellen, en: Counting visits, fr: Compter les visites}
        lifetime: {nl: 13 maanden, en: 13 months, fr: 13 mois}
      - name: YouTube
        type: social
        provider: Google
        purpose: {nl: Video's tonen, en: Showing videos}
        lifetime: {nl: 6 maanden, en: 6 months, fr: 6 mois}
"#;

const SITE: &str = "https://www.voorbeeld.be";
const VISITOR: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";

async fn harness(store: TestStore) -> Harness {
    let settings = Settings {
        cookie_origins: vec![format!("{SITE}/")],
        ..Settings::default()
    };
    let h = Harness::with_settings(store, settings).await;
    let (s, _, b) = h.import(COOKIE_REGISTER, &h.dpo).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    h
}

async fn banner(store: &Store) -> Banner {
    Banner::of(&store.controller("stad").await.unwrap().unwrap().value)
}

async fn stored(store: &Store) -> i64 {
    store
        .cookie_choice_counts(Some("stad"))
        .await
        .unwrap()
        .iter()
        .map(|c| c.count)
        .sum()
}

fn choice(version: &str, accepted: &[&str]) -> Value {
    json!({"visitor": VISITOR, "banner_version": version, "accepted": accepted})
}

async fn post(
    h: &Harness,
    path: &str,
    body: impl Into<Body>,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, String) {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    h.send(req.body(body.into()).unwrap()).await
}

async fn post_choice(
    h: &Harness,
    body: &Value,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, String) {
    post(h, "/cookies/stad/choices", body.to_string(), headers).await
}

async fn anonymous_get(
    h: &Harness,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, header::HeaderMap, String) {
    let mut req = Request::builder().uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    h.send(req.body(Body::empty()).unwrap()).await
}

#[tokio::test]
async fn cookie_choices_are_recorded_as_proof() {
    story(harness(sqlite_store().await).await).await;
    if let Some(pg) = postgres_store().await {
        story(harness(pg).await).await;
    }
}

async fn story(h: Harness) {
    script_and_stylesheet(&h).await;
    choices(&h).await;
    gpc_header(&h).await;
    cors(&h).await;
    bad_choices_store_nothing(&h).await;
    pages_and_summary(&h).await;
    h.store.cleanup().await;
}

async fn script_and_stylesheet(h: &Harness) {
    let banner = banner(&h.store).await;
    let (s, hd, js) = anonymous_get(h, "/cookies/stad/banner.js", &[]).await;
    assert_eq!(s, StatusCode::OK, "{js}");
    assert_eq!(hd[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    let etag = hd[header::ETAG].to_str().unwrap().to_string();
    assert!(
        etag.starts_with(&format!("\"{}-", banner.version)),
        "{etag}"
    );
    assert_eq!(hd[header::CACHE_CONTROL], "public, max-age=3600");
    assert!(
        !js.contains("KLUIS_BANNER_CONFIG"),
        "the configuration is filled in"
    );
    assert!(js.contains(&format!("\"version\":\"{}\"", banner.version)));
    assert!(
        js.contains("Alles weigeren") && js.contains("Refuse all") && js.contains("Tout refuser")
    );
    assert!(
        js.contains("Counting visits"),
        "the register's cookie purposes"
    );

    let (s, hd, body) =
        anonymous_get(h, "/cookies/stad/banner.js", &[("if-none-match", &etag)]).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);
    assert!(body.is_empty());
    assert_eq!(hd[header::ETAG], etag.as_str());
    let (s, _, _) = anonymous_get(
        h,
        "/cookies/stad/banner.js",
        &[("if-none-match", "\"0000000000000000-1\"")],
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "an old banner's ETag gets the new script"
    );

    let (s, hd, css) = anonymous_get(h, "/cookies/stad/banner.css", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "text/css; charset=utf-8");
    assert!(css.contains(".kluis-cookies"));
    let etag = hd[header::ETAG].to_str().unwrap().to_string();
    let (s, _, _) = anonymous_get(h, "/cookies/stad/banner.css", &[("if-none-match", &etag)]).await;
    assert_eq!(s, StatusCode::NOT_MODIFIED);

    let (s, hd, b) = anonymous_get(h, "/cookies/atlantis/banner.js", &[]).await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);
}

async fn choices(h: &Harness) {
    let banner = banner(&h.store).await;
    let (s, _, b) = post_choice(h, &choice(&banner.version, &["analytics"]), &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let proof: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(proof["accepted"], json!(["functional", "analytics"]));
    assert_eq!(proof["refused"], json!(["social"]));
    assert_eq!(proof["source"], "banner");
    assert_eq!(proof["banner_version"], banner.version.as_str());
    assert_eq!(proof["chosen_at"], "2026-11-23T10:00:00Z");

    let latest = h
        .store
        .latest_cookie_choice("stad", &VISITOR.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.id.to_string(), proof["id"].as_str().unwrap());
    assert!(latest.choice.allows(CookieType::Analytics));
    assert!(!latest.choice.allows(CookieType::Social));

    // Refusing all is one request like accepting all.
    let (s, _, b) = post_choice(h, &choice(&banner.version, &[]), &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let proof: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(proof["accepted"], json!(["functional"]));
    assert_eq!(proof["refused"], json!(["analytics", "social"]));
}

async fn gpc_header(h: &Harness) {
    let banner = banner(&h.store).await;
    let all = choice(&banner.version, &["analytics", "social"]);
    let (s, _, b) = post_choice(h, &all, &[("sec-gpc", "1")]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let proof: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(proof["source"], "gpc");
    assert_eq!(
        proof["accepted"],
        json!(["functional"]),
        "GPC refuses what was ticked"
    );
    let latest = h
        .store
        .latest_cookie_choice("stad", &VISITOR.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(latest.choice.source, ChoiceSource::Gpc);
    assert!(!latest.choice.allows(CookieType::Analytics));

    // Only the exact value "1" is the signal.
    for ignored in ["0", "true", " 1", "1, 1"] {
        let (s, _, b) = post_choice(h, &all, &[("sec-gpc", ignored)]).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        let proof: Value = serde_json::from_str(&b).unwrap();
        assert_eq!(proof["source"], "banner", "Sec-GPC: {ignored:?}");
        assert_eq!(
            proof["accepted"],
            json!(["functional", "analytics", "social"])
        );
    }

    // The script says the browser has navigator.globalPrivacyControl.
    let mut flagged = all.clone();
    flagged["gpc"] = json!(true);
    let (s, _, b) = post_choice(h, &flagged, &[]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let proof: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(proof["source"], "gpc");
    assert_eq!(proof["refused"], json!(["analytics", "social"]));
}

async fn cors(h: &Harness) {
    let banner = banner(&h.store).await;
    let body = choice(&banner.version, &["analytics"]);

    // The authority's own website: allowed, and told so.
    let (s, hd, b) = post_choice(h, &body, &[("origin", SITE)]).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert_eq!(hd[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
    assert_eq!(hd[header::VARY], "Origin");

    // kluis's own demo page is not cross-origin.
    let (s, hd, b) = post_choice(
        h,
        &body,
        &[
            ("origin", "http://kluis.test:8080"),
            ("host", "kluis.test:8080"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    assert!(hd.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    // Any other website: refused, and nothing is stored.
    let before = stored(&h.store).await;
    for origin in [
        "https://evil.example",
        "http://www.voorbeeld.be",
        "null",
        "https://www.voorbeeld.be.evil.example",
    ] {
        let (s, hd, b) = post_choice(h, &body, &[("origin", origin)]).await;
        let p = problem(s, &hd, &b, StatusCode::FORBIDDEN);
        assert!(
            p["detail"]
                .as_str()
                .unwrap()
                .contains("KLUIS_COOKIE_ORIGINS"),
            "{p}"
        );
        assert!(
            hd.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none(),
            "{origin}"
        );
    }
    assert_eq!(stored(&h.store).await, before);

    // The browser's preflight before a JSON POST.
    let preflight = |origin: &'static str| {
        Request::builder()
            .method(Method::OPTIONS)
            .uri("/cookies/stad/choices")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .body(Body::empty())
            .unwrap()
    };
    let (s, hd, _) = h.send(preflight(SITE)).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(hd[header::ACCESS_CONTROL_ALLOW_ORIGIN], SITE);
    assert_eq!(hd[header::ACCESS_CONTROL_ALLOW_METHODS], "POST");
    assert_eq!(hd[header::ACCESS_CONTROL_ALLOW_HEADERS], "content-type");
    let (s, hd, b) = h.send(preflight("https://evil.example")).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    assert!(hd.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}

async fn bad_choices_store_nothing(h: &Harness) {
    let banner = banner(&h.store).await;
    let before = stored(&h.store).await;

    let (s, hd, b) = post_choice(h, &choice("0123456789abcdef", &[]), &[("origin", SITE)]).await;
    let p = problem(s, &hd, &b, StatusCode::CONFLICT);
    assert!(
        p["detail"].as_str().unwrap().contains("reload the page"),
        "{p}"
    );
    assert_eq!(
        hd[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        SITE,
        "the script may read why"
    );

    let (s, hd, b) = post_choice(h, &choice(&banner.version, &["tracking"]), &[]).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("'tracking' is not a type of cookie"),
        "{p}"
    );

    let (s, hd, b) = post_choice(h, &choice(&banner.version, &["marketing"]), &[]).await;
    let p = problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("does not declare marketing cookies"),
        "{p}"
    );

    let (s, hd, b) = post(
        h,
        "/cookies/atlantis/choices",
        choice(&banner.version, &[]).to_string(),
        &[],
    )
    .await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);

    let mut bad_visitor = choice(&banner.version, &[]);
    bad_visitor["visitor"] = json!("anna.peeters@example.be");
    let (s, hd, b) = post_choice(h, &bad_visitor, &[]).await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    let mut extra = choice(&banner.version, &[]);
    extra["ip"] = json!("192.0.2.1");
    let (s, hd, b) = post_choice(h, &extra, &[]).await;
    problem(s, &hd, &b, StatusCode::UNPROCESSABLE_ENTITY);

    let (s, hd, b) = post(h, "/cookies/stad/choices", "{\"visitor\": ", &[]).await;
    problem(s, &hd, &b, StatusCode::BAD_REQUEST);

    let mut huge = choice(&banner.version, &[]);
    huge["accepted"] = json!(vec!["analytics"; 400]);
    let (s, hd, b) = post_choice(h, &huge, &[]).await;
    problem(s, &hd, &b, StatusCode::PAYLOAD_TOO_LARGE);

    let req = Request::builder()
        .method(Method::POST)
        .uri("/cookies/stad/choices")
        .header(header::CONTENT_TYPE, "text/plain")
        .body(Body::from(choice(&banner.version, &[]).to_string()))
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(
        stored(&h.store).await,
        before,
        "a refused choice stores nothing"
    );
}

async fn pages_and_summary(h: &Harness) {
    let (s, hd, b) = anonymous_get(h, "/.well-known/gpc.json", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(hd[header::CONTENT_TYPE], "application/json");
    let gpc: Value = serde_json::from_str(&b).unwrap();
    assert_eq!(gpc["gpc"], true);
    let date = gpc["lastUpdate"].as_str().unwrap();
    assert!(
        time::Date::parse(
            date,
            time::macros::format_description!("[year]-[month]-[day]")
        )
        .is_ok(),
        "{date}"
    );

    let (s, _, html) =
        anonymous_get(h, "/cookies/stad/demo?lang=en", &[("host", "kluis.test")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<script src=\"/cookies/stad/banner.js\" defer></script>"));
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/cookies/stad/banner.css\">"));
    assert!(html.contains("data-kluis-cookie-settings"));
    assert!(html.contains("Example website of City of Example"));
    let shown = html
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&#34;", "\"");
    assert!(
        shown.contains("<script src=\"http://kluis.test/cookies/stad/banner.js\" defer></script>"),
        "the tags to copy, with kluis's address: {html}"
    );
    let (s, hd, b) = anonymous_get(h, "/cookies/atlantis/demo", &[]).await;
    problem(s, &hd, &b, StatusCode::NOT_FOUND);

    // The DPO's count of the choices, per banner version.
    let (s, _, b) = h
        .get("/api/v1/cookie-choices/summary?controller=stad")
        .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let summary: Value = serde_json::from_str(&b).unwrap();
    let rows = summary["choices"].as_array().unwrap();
    let total: i64 = rows.iter().map(|r| r["count"].as_i64().unwrap()).sum();
    assert_eq!(total, stored(&h.store).await);
    assert!(
        rows.iter()
            .all(|r| r["current"] == true && r["controller"] == "stad"),
        "{summary}"
    );
    let gpc_rows: Vec<_> = rows.iter().filter(|r| r["source"] == "gpc").collect();
    assert_eq!(gpc_rows.len(), 1, "{summary}");
    assert_eq!(gpc_rows[0]["count"], 2);
    assert_eq!(gpc_rows[0]["refused"], json!(["analytics", "social"]));

    let req = h
        .request(
            Method::GET,
            "/api/v1/cookie-choices/summary",
            Some(&h.caseworker),
        )
        .body(Body::empty())
        .unwrap();
    let (s, hd, b) = h.send(req).await;
    problem(s, &hd, &b, StatusCode::FORBIDDEN);
    let (s, hd, b) = anonymous_get(h, "/api/v1/cookie-choices/summary", &[]).await;
    problem(s, &hd, &b, StatusCode::UNAUTHORIZED);
}

/// What the store holds for `controller`: (source, accepted, count) per group.
async fn proof(store: &Store, controller: &str) -> Vec<(ChoiceSource, Vec<CookieType>, i64)> {
    store
        .cookie_choice_counts(Some(controller))
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.source, c.accepted.into_iter().collect(), c.count))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_banner_in_chromium() {
    if !support::browser::require_browser() {
        return;
    }
    let store = sqlite_store().await;
    let base = serve_examples(&store).await;
    let register = kluis_domain::register_file::parse("cookies.yaml", COOKIE_REGISTER).unwrap();
    store
        .import_register(&register, false, "test", NOW)
        .await
        .unwrap();
    let banner_gone = json!({"expect_js": {"eval": "document.querySelector('.kluis-cookies') === null", "equals": true}});

    // Keyboard only: Tab to "Alles weigeren", Enter; the banner goes and stays gone; the
    // settings reopen from the page's link and Escape returns focus there.
    let steps = json!([
        {"goto": "/cookies/limburg/demo?lang=nl"},
        {"expect_text": "Cookies op deze website"},
        {"axe": true},
        {"press": "Tab"},
        {"expect_focus_name": "Lees meer in onze privacyverklaring"},
        {"press": "Tab"},
        {"expect_focus_name": "Alles weigeren"},
        {"press": "Enter"},
        banner_gone,
        {"expect_js": {"eval": "window.kluisCookies.allowed('analytics')", "equals": false}},
        {"expect_js": {"eval": "window.kluisCookies.allowed('functional')", "equals": true}},
        {"expect_js": {"eval": "window.kluisCookies.proof()?.source", "equals": "banner"}},
        {"goto": "/cookies/limburg/demo?lang=nl"},
        {"expect_js": {"eval": "window.kluisCookies?.choice()?.refused", "equals": ["analytics"]}},
        banner_gone,
        {"click": {"role": "link", "name": "Cookie-instellingen"}},
        {"expect_focus_name": "Cookies op deze website"},
        {"expect_js": {"eval": "document.getElementById('kluis-cookies-type-analytics').checked", "equals": false}},
        {"axe": true},
        {"press": "Escape"},
        {"expect_focus_name": "Cookie-instellingen"},
        banner_gone,
    ]);
    support::browser::run_scenario(&base, steps).unwrap();
    assert_eq!(
        proof(&store, "limburg").await,
        [(ChoiceSource::Banner, vec![CookieType::Functional], 1)]
    );

    // Settings: one type ticked of two; the website's own script hears of it.
    let steps = json!([
        {"init_script": "document.addEventListener('kluis-cookie-consent', (e) => { window.heard = e.detail; });"},
        {"goto": "/cookies/stad/demo?lang=en"},
        {"expect_text": "Cookies on this website"},
        {"click": {"role": "button", "name": "Settings"}},
        {"expect_js": {"eval": "document.getElementById('kluis-cookies-settings').hidden", "equals": false}},
        {"expect_text": "Always on"},
        {"expect_text": "Counting visits"},
        {"axe": true},
        {"click": {"role": "checkbox", "name": "Analytics cookies"}},
        {"click": {"role": "button", "name": "Save my choice"}},
        banner_gone,
        {"expect_js": {"eval": "window.kluisCookies.allowed('analytics')", "equals": true}},
        {"expect_js": {"eval": "window.kluisCookies.allowed('social')", "equals": false}},
        {"expect_js": {"eval": "window.heard.accepted", "equals": ["functional", "analytics"]}},
        {"expect_js": {"eval": "window.kluisCookies.proof()?.refused", "equals": ["social"]}},
    ]);
    support::browser::run_scenario(&base, steps).unwrap();
    assert_eq!(
        proof(&store, "stad").await,
        [(
            ChoiceSource::Banner,
            vec![CookieType::Functional, CookieType::Analytics],
            1
        )]
    );

    // Global Privacy Control: no banner, a refusal recorded; the settings say why.
    let steps = json!([
        {"headers": {"Sec-GPC": "1"}},
        {"init_script": "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true, configurable: true });"},
        {"goto": "/cookies/stad/demo?lang=fr"},
        {"expect_js": {"eval": "window.kluisCookies.proof()?.source", "equals": "gpc"}},
        banner_gone,
        {"expect_js": {"eval": "window.kluisCookies.allowed('analytics')", "equals": false}},
        {"click": {"role": "link", "name": "Paramètres des cookies"}},
        {"expect_text": "Global Privacy Control"},
        {"axe": true},
    ]);
    support::browser::run_scenario(&base, steps).unwrap();
    let stad = proof(&store, "stad").await;
    assert!(
        stad.contains(&(ChoiceSource::Gpc, vec![CookieType::Functional], 1)),
        "{stad:?}"
    );
    store.cleanup().await;
}
