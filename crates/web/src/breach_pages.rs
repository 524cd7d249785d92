//! The citizen's breach report form (`/report-breach`): someone who received post meant
//! for another person, or sees personal data that is not theirs, tells the organisation
//! without signing in. The report goes into the breach register for the DPO, and the
//! person gets a reference.
//!
//! No login and no cookies, so there is no ambient authority for a cross-site request to
//! abuse and no CSRF token is needed; the body is capped small and the description at
//! [`MAX_REPORT_CHARS`].

use askama::Template;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use kluis_domain::breach::{BreachFacts, ReportedBy};
use kluis_domain::i18n;
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::text::Lang;
use serde::Deserialize;

use crate::pages::{Translated, language_links, negotiate};
use crate::public::render;
use crate::state::AppState;

/// The largest form accepted: a description and an address.
const MAX_FORM_BYTES: usize = 32 * 1024;

/// The longest description a citizen may send: enough for what happened, not a file.
pub const MAX_REPORT_CHARS: usize = 5_000;

const PATH: &str = "/report-breach";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(form).post(submit))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

#[derive(Template)]
#[template(path = "breach/report.html")]
struct ReportPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    intro: String,
    action: String,
    /// (register id, name, selected).
    controllers: Vec<(String, String, bool)>,
    what: String,
    contact: String,
    /// (field id, message), in the form's order.
    errors: Vec<(&'static str, String)>,
    /// The thanks with the reference, once the report is registered.
    reference: Option<String>,
}

impl Translated for ReportPage {
    fn lang(&self) -> Lang {
        self.lang
    }
}

impl ReportPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
struct LangQuery {
    lang: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ReportForm {
    #[serde(default)]
    controller: String,
    #[serde(default)]
    what: String,
    #[serde(default)]
    contact: String,
}

fn t(lang: Lang, key: &str) -> String {
    i18n::t(lang, &format!("breach_report.{key}")).to_string()
}

/// A page that is never cached: it may echo what the person typed.
fn page(status: StatusCode, p: &ReportPage) -> Response {
    let mut response = render(status, p.lang, p);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn blank(state: &AppState, lang: Lang) -> Result<ReportPage, Response> {
    let controllers = match state.store.controllers().await {
        Ok(list) => list
            .into_iter()
            .map(|c| {
                (
                    c.value.id.clone(),
                    c.value.name.show(lang).to_string(),
                    false,
                )
            })
            .collect(),
        Err(e) => return Err(unavailable(lang, e)),
    };
    Ok(ReportPage {
        lang,
        title: t(lang, "title"),
        language_links: language_links(PATH, ""),
        intro: t(lang, "intro"),
        action: format!("{PATH}?lang={}", lang.code()),
        controllers,
        what: String::new(),
        contact: String::new(),
        errors: Vec::new(),
        reference: None,
    })
}

fn unavailable(lang: Lang, e: kluis_store::StoreError) -> Response {
    tracing::error!(error = %e, "breach report failed");
    crate::public::message(
        StatusCode::SERVICE_UNAVAILABLE,
        lang,
        PATH,
        "breach_report.title",
        t(lang, "unavailable"),
    )
}

/// `GET /report-breach`: the form.
async fn form(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    match blank(&state, lang).await {
        Ok(mut p) => {
            if p.controllers.is_empty() {
                p.intro = t(lang, "no_organisations");
            }
            page(StatusCode::OK, &p)
        }
        Err(response) => response,
    }
}

/// `POST /report-breach`: registers the report as a breach reported by a citizen, aware
/// now: the 72-hour clock starts when the organisation receives the report. Shows the
/// form again with what is wrong (422), or the reference.
async fn submit(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<ReportForm>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let mut p = match blank(&state, lang).await {
        Ok(p) => p,
        Err(response) => return response,
    };
    let what = f.what.trim().to_string();
    let contact = f.contact.trim().to_string();
    let known = p.controllers.iter().any(|(id, _, _)| *id == f.controller);
    if !known {
        p.errors
            .push(("controller", t(lang, "organisation_missing")));
    }
    if what.is_empty() {
        p.errors.push(("what", t(lang, "what_missing")));
    } else if what.chars().count() > MAX_REPORT_CHARS {
        p.errors.push((
            "what",
            i18n::tf(
                lang,
                "breach_report.what_too_long",
                &[("max", &MAX_REPORT_CHARS.to_string())],
            ),
        ));
    }
    if !contact.is_empty() && contact.parse::<EmailAddress>().is_err() {
        p.errors.push(("contact", t(lang, "contact_invalid")));
    }
    for (id, _, selected) in &mut p.controllers {
        *selected = *id == f.controller;
    }
    if !p.errors.is_empty() {
        p.what = what;
        p.contact = contact;
        return page(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    let now = state.now();
    let facts = BreachFacts {
        controller: f.controller.clone(),
        detected_at: now,
        aware_at: now,
        reported_by: ReportedBy::Citizen {
            contact: (!contact.is_empty()).then_some(contact),
        },
        description: what,
        data_categories: Default::default(),
        special_categories: Default::default(),
        subject_categories: Default::default(),
        approx_subjects: None,
        approx_records: None,
        consequences: String::new(),
        measures_taken: String::new(),
        measures_proposed: String::new(),
        risk: None,
        closed_at: None,
    };
    match state
        .store
        .create_breach(&facts, "citizen (report form)", now)
        .await
    {
        Ok(b) => {
            p.title = t(lang, "thanks_title");
            p.reference = Some(i18n::tf(
                lang,
                "breach_report.thanks",
                &[("reference", &b.reference())],
            ));
            page(StatusCode::OK, &p)
        }
        Err(e) => unavailable(lang, e),
    }
}
