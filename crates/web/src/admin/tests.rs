//! Tests of the back-office: its translations, lossless forms, and its pages over HTTP on
//! a real (SQLite) store.

use std::collections::{BTreeMap, BTreeSet};

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::header::{CONTENT_TYPE, COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::{Request, StatusCode};
use kluis_domain::access::Role;
use kluis_domain::register::{Agreement, Controller, ProcessingActivity, Processor};
use kluis_domain::register_file;
use kluis_domain::text::Lang;
use kluis_store::testing::{TestStore, sqlite_store};
use time::OffsetDateTime;
use time::macros::datetime;
use tower::ServiceExt;

use super::entities::AdminEntity;
use super::form::FormData;
use crate::{AppState, Settings, app};

// ---------------------------------------------------------------------------------------
// Translations

const LOCALES: [(&str, &str); 3] = [
    ("nl", include_str!("../../../../locales/admin.nl.toml")),
    ("en", include_str!("../../../../locales/admin.en.toml")),
    ("fr", include_str!("../../../../locales/admin.fr.toml")),
];

/// Every file that may name a back-office translation key.
const SOURCES: [&str; 25] = [
    include_str!("mod.rs"),
    include_str!("activities.rs"),
    include_str!("compare.rs"),
    include_str!("csrf.rs"),
    include_str!("dashboard.rs"),
    include_str!("entities.rs"),
    include_str!("form.rs"),
    include_str!("kinds.rs"),
    include_str!("session.rs"),
    include_str!("statements.rs"),
    include_str!("view.rs"),
    include_str!("../../templates/admin/layout.html"),
    include_str!("../../templates/admin/macros.html"),
    include_str!("../../templates/admin/form.html"),
    include_str!("../../templates/admin/login.html"),
    include_str!("../../templates/admin/message.html"),
    include_str!("../../templates/admin/dashboard.html"),
    include_str!("../../templates/admin/list.html"),
    include_str!("../../templates/admin/view.html"),
    include_str!("../../templates/admin/compare.html"),
    include_str!("../../templates/admin/statements.html"),
    include_str!("../../templates/admin/preview.html"),
    include_str!("breaches/affected.rs"),
    include_str!("../../templates/admin/breach_affected.html"),
    include_str!("../../templates/admin/breach_affected_form.html"),
];

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            toml::Value::Table(t) => flatten(&key, t, out),
            other => panic!("{key}: a translation must be a string, not {other:?}"),
        }
    }
}

fn catalogue(source: &str) -> BTreeMap<String, String> {
    let table: toml::Table = source.parse().unwrap();
    let mut out = BTreeMap::new();
    flatten("", &table, &mut out);
    out
}

/// The quoted keys of the back-office's tables named in `source`.
fn keys_used(source: &str) -> BTreeSet<String> {
    source
        .split('"')
        .filter(|s| {
            ["admin.", "login.", "form."]
                .iter()
                .any(|p| s.starts_with(p))
        })
        .filter(|s| {
            !s.ends_with('.')
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn every_key_the_back_office_uses_is_translated_in_all_three_languages() {
    let used: BTreeSet<String> = SOURCES.iter().flat_map(|s| keys_used(s)).collect();
    assert!(used.len() > 150, "the scan found only {} keys", used.len());
    for (lang, source) in LOCALES {
        let c = catalogue(source);
        let missing: Vec<_> = used.iter().filter(|k| !c.contains_key(*k)).collect();
        assert!(
            missing.is_empty(),
            "locales/admin.{lang}.toml lacks {missing:?}"
        );
        let empty: Vec<_> = c
            .iter()
            .filter(|(_, v)| v.trim().is_empty())
            .map(|(k, _)| k)
            .collect();
        assert!(
            empty.is_empty(),
            "locales/admin.{lang}.toml has empty {empty:?}"
        );
    }
}

#[test]
fn the_three_admin_files_have_the_same_keys_and_placeholders() {
    let placeholders = |s: &str| -> BTreeSet<String> {
        kluis_domain::i18n::pieces(s)
            .filter_map(|p| match p {
                kluis_domain::i18n::Piece::Placeholder(n) => Some(n.to_string()),
                kluis_domain::i18n::Piece::Literal(_) => None,
            })
            .collect()
    };
    let nl = catalogue(LOCALES[0].1);
    for (lang, source) in &LOCALES[1..] {
        let other = catalogue(source);
        let a: BTreeSet<_> = nl.keys().collect();
        let b: BTreeSet<_> = other.keys().collect();
        assert_eq!(a, b, "admin.nl.toml and admin.{lang}.toml differ in keys");
        for (key, text) in &nl {
            assert_eq!(
                placeholders(text),
                placeholders(&other[key]),
                "placeholders of {key} differ in {lang}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Forms: a value shown in its form and sent back unchanged is the same value.

fn examples() -> Vec<kluis_domain::register::Register> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push(register_file::parse(&path.display().to_string(), &text).unwrap());
        }
    }
    assert!(!out.is_empty());
    out
}

fn round_trip<K: AdminEntity + PartialEq + std::fmt::Debug>(value: &K) {
    let data = value.to_form().unwrap();
    let back = K::parse(&data, Lang::En, Some(value.id()))
        .unwrap_or_else(|e| panic!("{}: {e:?}", value.id()));
    assert_eq!(
        &back,
        value,
        "{} changed on its way through the form",
        value.id()
    );
}

#[test]
fn every_example_entry_survives_its_form_unchanged() {
    let mut seen = 0;
    for register in examples() {
        register
            .controllers
            .iter()
            .for_each(round_trip::<Controller>);
        register.processors.iter().for_each(round_trip::<Processor>);
        register.agreements.iter().for_each(round_trip::<Agreement>);
        register
            .activities
            .iter()
            .for_each(round_trip::<ProcessingActivity>);
        seen += register.activities.len();
    }
    assert!(seen > 20);
}

fn form(pairs: &[(&str, &str)]) -> FormData {
    FormData(
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    )
}

#[test]
fn a_new_activity_form_becomes_a_processing_activity() {
    let data = form(&[
        ("id", "camera"),
        ("controller", "stad"),
        ("name.nl", "Camerabewaking"),
        ("name.en", "Camera surveillance"),
        ("status", "active"),
        ("purposes.nl", "Bescherming van goederen\nOpsporing"),
        ("legal_bases", "public_interest"),
        ("legal_bases.public_interest.reference.nl", "Camerawet"),
        (
            "legal_bases.consent.reference.nl",
            "ignored: consent is not ticked",
        ),
        ("data_categories", "sound_image"),
        ("subject_categories", "visitors"),
        ("sources", "[data_subject]"),
        ("recipients", "[]"),
        (
            "retention",
            "- key: beelden\n  rule: {after_event: {event: recording, period: 30 days}}\n",
        ),
    ]);
    let a = ProcessingActivity::parse(&data, Lang::En, None).unwrap();
    assert_eq!(a.id, "camera");
    assert_eq!(a.name.show(Lang::En), "Camera surveillance");
    assert_eq!(a.purposes.len(), 2);
    assert_eq!(a.legal_bases.len(), 1);
    assert_eq!(
        a.legal_bases[0]
            .reference
            .as_ref()
            .map(|r| r.show(Lang::Nl)),
        Some("Camerawet")
    );
    assert_eq!(a.recipients, Some(Vec::new()), "[] says: not shared");
    assert_eq!(a.retention.len(), 1);
    assert!(a.consent.is_none());
}

#[test]
fn bad_activity_input_names_each_field() {
    let data = form(&[
        ("controller", ""),
        ("status", "archived"),
        ("data_categories", "gossip"),
        (
            "retention",
            "- key: x\n  rule: {after_event: {event: recording, period: forever}}\n",
        ),
        ("dpia.completed_on", "2026-02-30"),
        ("automated_decision_making.used", "on"),
    ]);
    let errors = ProcessingActivity::parse(&data, Lang::En, None).unwrap_err();
    for field in [
        "id",
        "controller",
        "name",
        "status",
        "data_categories",
        "retention",
        "dpia.completed_on",
        "automated_decision_making.logic",
    ] {
        assert!(
            errors.contains_key(field),
            "no message for {field}: {errors:?}"
        );
    }
}

#[test]
fn a_controller_form_checks_the_enterprise_number_and_orders_authorities() {
    let mut data = form(&[
        ("id", "stad"),
        ("name.nl", "Stad"),
        ("address.street", "Markt 1"),
        ("address.postcode", "8970"),
        ("address.city", "Poperinge"),
        ("address.country", "BE"),
        ("dpo.email", "dpo@stad.be"),
        ("supervisory_authorities", "vtc"),
        ("supervisory_authorities.others", "gba"),
        ("supervisory_authorities.others", "vtc"),
        ("rights_contact", "{email: privacy@stad.be}"),
    ]);
    let c = Controller::parse(&data, Lang::En, None).unwrap();
    use kluis_domain::legal::SupervisoryAuthority::{Gba, Vtc};
    assert_eq!(
        c.supervisory_authorities,
        vec![Vtc, Gba],
        "the complaints authority first, no duplicates"
    );
    data.push("enterprise_number", "0207.725.204");
    let errors = Controller::parse(&data, Lang::En, None).unwrap_err();
    assert_eq!(errors.keys().collect::<Vec<_>>(), vec!["enterprise_number"]);
}

#[test]
fn an_agreement_needs_its_kind_and_reports_yaml_errors_with_their_line() {
    let base = [
        ("id", "pa-cipal"),
        ("title.nl", "Verwerkersovereenkomst"),
        ("controllers", "stad"),
    ];
    let errors = Agreement::parse(&form(&base), Lang::En, None).unwrap_err();
    assert!(errors.contains_key("kind"));
    let mut with_kind = form(&base);
    with_kind.push("kind", "processor_agreement:\n  processr: cipal\n");
    let errors = Agreement::parse(&with_kind, Lang::En, None).unwrap_err();
    assert_eq!(
        errors.keys().collect::<Vec<_>>(),
        vec!["kind"],
        "an unknown key in the YAML"
    );
    let mut good = form(&base);
    good.push("kind", "{processor_agreement: {processor: cipal}}");
    good.push("signed_on", "2024-03-01");
    let a = Agreement::parse(&good, Lang::En, None).unwrap();
    assert!(!a.public, "an unticked box means not listed");
    assert_eq!(a.signed_on, Some(time::macros::date!(2024 - 03 - 01)));
}

// ---------------------------------------------------------------------------------------
// Pages over HTTP, on a real SQLite store.

const NOW: OffsetDateTime = datetime!(2026-11-20 10:00 UTC);

const REGISTER: &str = r#"
controllers:
  - id: stad
    name: {nl: Stad Voorbeeld, en: City of Example}
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

struct Site {
    app: Router,
    store: TestStore,
}

async fn site() -> Site {
    let store = sqlite_store().await;
    let register = register_file::parse("test.yaml", REGISTER).unwrap();
    store
        .import_register(&register, false, "test", NOW)
        .await
        .unwrap();
    store
        .create_user("dpo", "Dee Po", "correct horse", &[Role::Dpo], NOW)
        .await
        .unwrap();
    store
        .create_user(
            "auditor",
            "Au Ditor",
            "battery staple",
            &[Role::Auditor],
            NOW,
        )
        .await
        .unwrap();
    let clock: crate::Clock = std::sync::Arc::new(|| NOW);
    let state = AppState::new((*store).clone(), clock, Settings::default());
    Site {
        app: app(state),
        store,
    }
}

struct Reply {
    status: StatusCode,
    location: String,
    cookie: Option<String>,
    body: String,
}

impl Site {
    async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let location = header(LOCATION).unwrap_or_default();
        let cookie = header(SET_COOKIE);
        let body = String::from_utf8(
            to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        Reply {
            status,
            location,
            cookie,
            body,
        }
    }

    async fn get(&self, path: &str, cookie: &str) -> Reply {
        self.send(
            Request::get(path)
                .header(COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
    }

    async fn post(&self, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Reply {
        let body = fields
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    super::session::percent_encode(k),
                    super::session::percent_encode(v)
                )
            })
            .collect::<Vec<_>>()
            .join("&");
        let request = Request::post(path)
            .header(COOKIE, cookie)
            .header(HOST, "kluis.test")
            .header(ORIGIN, "http://kluis.test")
            .header("sec-fetch-site", "same-origin")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        self.send(request).await
    }

    /// Signs in; returns the Cookie header value and the CSRF token of the pages.
    async fn sign_in(&self, username: &str, password: &str) -> (String, String) {
        let r = self
            .post(
                "/admin/login?lang=en",
                "",
                &[("username", username), ("password", password), ("next", "")],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let set = r.cookie.expect("a session cookie");
        let cookie = set.split(';').next().unwrap().to_string();
        let page = self.get("/admin?lang=en", &cookie).await;
        (cookie, hidden(&page.body, "csrf"))
    }
}

/// The value of the first hidden input named `name`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn one_h1(html: &str) {
    assert_eq!(html.matches("<h1").count(), 1, "{html}");
}

#[tokio::test]
async fn staff_pages_need_a_session_and_login_goes_back_where_you_were() {
    let s = site().await;
    let r = s.get("/admin/activities/camera?lang=fr", "").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        r.location,
        "/admin/login?lang=fr&next=/admin/activities/camera%3Flang%3Dfr"
    );
    let login = s.get(&r.location, "").await;
    assert_eq!(login.status, StatusCode::OK);
    one_h1(&login.body);
    assert!(login.body.contains("autocomplete=\"current-password\""));
    assert_eq!(
        hidden(&login.body, "next"),
        "/admin/activities/camera?lang=fr"
    );

    let fields = [
        ("username", "dpo"),
        ("password", "correct horse"),
        ("next", "/admin/activities/camera?lang=fr"),
    ];
    let r = s.post("/admin/login?lang=fr", "", &fields).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/admin/activities/camera?lang=fr");
    let cookie = r.cookie.unwrap();
    assert!(
        cookie.starts_with("kluis_session=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict")
    );

    // An outside `next` is ignored.
    let r = s
        .post(
            "/admin/login",
            "",
            &[
                ("username", "dpo"),
                ("password", "correct horse"),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(r.location, "/admin?lang=nl");
    s.store.cleanup().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_lock_the_username_even_for_the_right_one() {
    let s = site().await;
    let form = |password| [("username", "dpo"), ("password", password)];
    for _ in 0..crate::state::LoginThrottle::LIMIT {
        let r = s.post("/admin/login?lang=en", "", &form("nope")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let refused = s
        .post("/admin/login?lang=en", "", &form("correct horse"))
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.cookie.is_none());
    assert!(
        refused.body.contains("Too many failed sign-ins"),
        "{}",
        refused.body
    );
    s.store.cleanup().await;
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_answer() {
    let s = site().await;
    let wrong = s
        .post(
            "/admin/login?lang=en",
            "",
            &[("username", "dpo"), ("password", "nope")],
        )
        .await;
    let unknown = s
        .post(
            "/admin/login?lang=en",
            "",
            &[("username", "nobody"), ("password", "nope")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(unknown.status, wrong.status);
    assert!(wrong.cookie.is_none());
    assert_eq!(
        wrong.body.replace("value=\"dpo\"", ""),
        unknown.body.replace("value=\"nobody\"", "")
    );
    let empty = s
        .post(
            "/admin/login?lang=en",
            "",
            &[("username", ""), ("password", "")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        empty.body.contains("id=\"f-username-error\"")
            && empty.body.contains("id=\"f-password-error\"")
    );
    assert!(
        empty.body.contains("href=\"#f-username\""),
        "the summary links to the field"
    );
    s.store.cleanup().await;
}

#[tokio::test]
async fn cross_site_posts_and_missing_tokens_are_refused() {
    let s = site().await;
    let cross = Request::post("/admin/login")
        .header(HOST, "kluis.test")
        .header(ORIGIN, "https://evil.example")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from("username=dpo&password=correct%20horse"))
        .unwrap();
    let r = s.send(cross).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.cookie.is_none());
    let (cookie, csrf) = s.sign_in("dpo", "correct horse").await;
    let r = s
        .post(
            "/admin/processors/new",
            &cookie,
            &[("id", "x"), ("name", "X"), ("country", "BE")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
    let r = s
        .post(
            "/admin/processors/new",
            &cookie,
            &[
                ("csrf", "forged"),
                ("id", "x"),
                ("name", "X"),
                ("country", "BE"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "wrong token");
    assert!(
        s.store.processor("x").await.unwrap().is_none(),
        "nothing was saved"
    );
    let r = s
        .post(
            "/admin/processors/new?lang=en",
            &cookie,
            &[
                ("csrf", &csrf),
                ("id", "x"),
                ("name", "X"),
                ("country", "be"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/admin/processors/x?lang=en&saved=1");
    assert_eq!(
        s.store.processor("x").await.unwrap().unwrap().value.country,
        "BE"
    );
    s.store.cleanup().await;
}

#[tokio::test]
async fn an_auditor_reads_but_cannot_edit_or_publish() {
    let s = site().await;
    let (cookie, csrf) = s.sign_in("auditor", "battery staple").await;
    let list = s.get("/admin/controllers?lang=en", &cookie).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        !list.body.contains("/admin/controllers/new"),
        "no add button"
    );
    let view = s.get("/admin/controllers/stad?lang=en", &cookie).await;
    assert!(!view.body.contains("/edit"), "no edit button");
    assert_eq!(
        s.get("/admin/controllers/stad/edit", &cookie).await.status,
        StatusCode::FORBIDDEN
    );
    let r = s
        .post(
            "/admin/statements/stad/publish",
            &cookie,
            &[("csrf", &csrf), ("effective_date", "2026-12-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(s.store.statement_versions("stad").await.unwrap().is_empty());
    s.store.cleanup().await;
}

#[tokio::test]
async fn every_page_renders_with_one_heading_of_level_one() {
    let s = site().await;
    let (cookie, _) = s.sign_in("dpo", "correct horse").await;
    for path in [
        "/admin",
        "/admin/controllers",
        "/admin/controllers/new",
        "/admin/controllers/stad",
        "/admin/controllers/stad/edit",
        "/admin/processors",
        "/admin/processors/new",
        "/admin/processors/cipal",
        "/admin/processors/cipal/edit",
        "/admin/agreements",
        "/admin/agreements/new",
        "/admin/activities",
        "/admin/activities?controller=stad",
        "/admin/activities/new",
        "/admin/activities/camera",
        "/admin/activities/camera/edit",
        "/admin/activities/camera/compare?from=1&to=1",
        "/admin/statements",
        "/admin/statements/stad/preview",
    ] {
        for lang in ["nl", "en", "fr"] {
            let sep = if path.contains('?') { '&' } else { '?' };
            let r = s.get(&format!("{path}{sep}lang={lang}"), &cookie).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
            one_h1(&r.body);
            assert!(
                r.body.contains(&format!("<html lang=\"{lang}\">")),
                "{path}"
            );
        }
    }
    assert_eq!(
        s.get("/admin/controllers/nope", &cookie).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.get("/admin/activities/camera/compare?from=1&to=9", &cookie)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    s.store.cleanup().await;
}

#[tokio::test]
async fn editing_an_activity_makes_a_version_that_can_be_compared() {
    let s = site().await;
    let (cookie, _) = s.sign_in("dpo", "correct horse").await;
    let edit = s
        .get("/admin/activities/camera/edit?lang=en", &cookie)
        .await;
    let csrf = hidden(&edit.body, "csrf");
    assert_eq!(hidden(&edit.body, "version"), "1");
    let activity = s.store.activity("camera").await.unwrap().unwrap().value;
    let mut data = activity.to_form().unwrap();
    data.push("csrf", &csrf);
    data.push("version", "1");
    let purposes = format!("{}\nOpsporing van misdrijven", data.get("purposes.nl"));
    data.0.retain(|(k, _)| k != "purposes.nl");
    data.push("purposes.nl", &purposes);
    let fields: Vec<(&str, &str)> = data
        .0
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let r = s
        .post("/admin/activities/camera/edit?lang=en", &cookie, &fields)
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let view = s.get(&r.location, &cookie).await;
    assert!(view.body.contains("role=\"status\""), "a confirmation");
    assert!(
        view.body.contains("compare?from=1&#38;to=2"),
        "{}",
        view.body
    );
    let compare = s
        .get(
            "/admin/activities/camera/compare?from=1&to=2&lang=en",
            &cookie,
        )
        .await;
    assert_eq!(compare.status, StatusCode::OK);
    assert!(compare.body.contains("Opsporing van misdrijven"));
    assert_eq!(
        compare.body.matches("<th scope=\"row\">").count(),
        1,
        "only the purposes differ"
    );

    // The same form again is stale now: refused, input kept, a link to reload.
    let r = s
        .post("/admin/activities/camera/edit?lang=en", &cookie, &fields)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.body.contains("Opsporing van misdrijven"), "input kept");
    assert!(
        r.body
            .contains("href=\"/admin/activities/camera/edit?lang=en\"")
    );
    assert_eq!(s.store.activity_versions("camera").await.unwrap().len(), 2);
    s.store.cleanup().await;
}

#[tokio::test]
async fn an_invalid_change_is_shown_next_to_its_field_and_nothing_is_saved() {
    let s = site().await;
    let (cookie, csrf) = s.sign_in("dpo", "correct horse").await;
    let fields = [
        ("csrf", csrf.as_str()),
        ("id", "nieuwsbrief"),
        ("controller", "stad"),
        ("name.nl", "Nieuwsbrief"),
        ("status", "active"),
        ("legal_bases", "consent"),
        ("processors", "cipal"),
        ("recipients", "- name: X\n  kind: martian\n"),
    ];
    let r = s
        .post("/admin/activities/new?lang=en", &cookie, &fields)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"f-recipients-error\""),
        "yaml error next to its field"
    );
    assert!(
        r.body
            .contains("aria-describedby=\"f-recipients-hint f-recipients-error\"")
    );
    assert!(
        r.body.contains("href=\"#f-recipients\""),
        "summary links to the field"
    );
    assert!(r.body.contains("kind: martian"), "input kept");

    // Parsed fine, but the register rule "consent needs a withdrawal path" fails.
    let fields = [&fields[..7], &[("recipients", "[]")]].concat();
    let r = s
        .post("/admin/activities/new?lang=en", &cookie, &fields)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("id=\"f-consent-withdrawal-error\""),
        "{}",
        r.body
    );
    assert!(r.body.contains("withdrawn"));
    assert!(s.store.activity("nieuwsbrief").await.unwrap().is_none());

    let taken = [
        ("csrf", csrf.as_str()),
        ("id", "cipal"),
        ("name", "Again"),
        ("country", "BE"),
    ];
    let r = s
        .post("/admin/processors/new?lang=en", &cookie, &taken)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-id-error\""));
    assert_eq!(
        s.store
            .processor("cipal")
            .await
            .unwrap()
            .unwrap()
            .value
            .name,
        "Cipal Schaubroeck"
    );
    s.store.cleanup().await;
}

#[tokio::test]
async fn publishing_needs_a_date_from_today_on() {
    let s = site().await;
    let (cookie, csrf) = s.sign_in("dpo", "correct horse").await;
    let r = s
        .post(
            "/admin/statements/stad/publish?lang=en",
            &cookie,
            &[("csrf", &csrf), ("effective_date", "2026-11-19")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-stad-effective-date-error\""));
    assert!(r.body.contains("value=\"2026-11-19\""), "input kept");
    assert!(s.store.statement_versions("stad").await.unwrap().is_empty());

    let r = s
        .post(
            "/admin/statements/stad/publish?lang=en",
            &cookie,
            &[("csrf", &csrf), ("effective_date", "2026-11-20")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let page = s.get(&r.location, &cookie).await;
    assert!(
        page.body.contains("/privacy/stad?version=1&#38;lang=en"),
        "{}",
        page.body
    );
    assert!(page.body.contains("role=\"status\""));
    assert_eq!(s.store.statement_versions("stad").await.unwrap().len(), 1);
    let missing = s
        .post(
            "/admin/statements/nope/publish",
            &cookie,
            &[("csrf", &csrf), ("effective_date", "2026-11-20")],
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    s.store.cleanup().await;
}

#[tokio::test]
async fn signing_out_ends_the_session() {
    let s = site().await;
    let (cookie, csrf) = s.sign_in("dpo", "correct horse").await;
    let r = s
        .post("/admin/logout?lang=en", &cookie, &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(
        s.get("/admin", &cookie).await.status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works"
    );
    s.store.cleanup().await;
}
