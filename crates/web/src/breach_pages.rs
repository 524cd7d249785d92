//! The citizen's breach report form (`/report-breach`): someone who received post meant
//! for another person, or sees personal data that is not theirs, tells the organisation
//! without signing in. The report goes into the breach register for the DPO, and the
//! person gets a reference.
//!
//! No login and no cookies, so there is no ambient authority for a cross-site request to
//! abuse and no CSRF token is needed; the body is capped small and the description at
//! [`MAX_REPORT_CHARS`]. Each address may post [`ReportThrottle::LIMIT`] times in
//! [`ReportThrottle::WINDOW`], so a script cannot flood the register; beyond, 429.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Extension, Query, State};
use axum::http::header::{CACHE_CONTROL, RETRY_AFTER};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Form, Router};
use kluis_domain::breach::{BreachFacts, ReportedBy};
use kluis_domain::i18n;
use kluis_domain::identifiers::EmailAddress;
use kluis_domain::text::Lang;
use serde::Deserialize;
use time::OffsetDateTime;

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
        .layer(Extension(Arc::new(Mutex::new(ReportThrottle::default()))))
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
}

/// The reports posted per client address in this process, to stop a script flooding the
/// register: at most [`Self::LIMIT`] posts in any [`Self::WINDOW`]. Per process, like the
/// login throttle and the consent portal's: several instances each allow the limit.
/// Behind a reverse proxy every client has the proxy's address, so the limit is then one
/// for everyone: a real person reporting a breach is rare, a burst is not.
#[derive(Default)]
pub struct ReportThrottle {
    /// Per address (None when the server does not know it), the times of recent posts.
    recent: HashMap<Option<IpAddr>, VecDeque<OffsetDateTime>>,
}

impl ReportThrottle {
    pub const LIMIT: usize = 10;
    pub const WINDOW: time::Duration = time::Duration::minutes(10);
    /// Addresses tracked at once; beyond this, those without recent posts are dropped.
    const CAPACITY: usize = 10_000;

    /// When `client` may post again, if refused now; if allowed, counts the post.
    fn refused_until(
        &mut self,
        client: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Option<OffsetDateTime> {
        if self.recent.len() >= Self::CAPACITY {
            self.recent
                .retain(|_, times| times.back().is_some_and(|t| now - *t < Self::WINDOW));
        }
        let times = self.recent.entry(client).or_default();
        while times.front().is_some_and(|t| now - *t >= Self::WINDOW) {
            times.pop_front();
        }
        if times.len() >= Self::LIMIT {
            return times.front().map(|first| *first + Self::WINDOW);
        }
        times.push_back(now);
        None
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn each_address_gets_the_limit_per_window() {
        let t0 = datetime!(2026-11-23 10:00 UTC);
        let a = Some(IpAddr::from([192, 0, 2, 1]));
        let b = Some(IpAddr::from([192, 0, 2, 2]));
        let mut throttle = ReportThrottle::default();
        for i in 0..ReportThrottle::LIMIT {
            assert_eq!(throttle.refused_until(a, t0), None, "post {i}");
        }
        let until = t0 + ReportThrottle::WINDOW;
        assert_eq!(throttle.refused_until(a, t0), Some(until));
        assert_eq!(throttle.refused_until(b, t0), None, "another address");
        assert_eq!(throttle.refused_until(None, t0), None, "an unknown address");
        assert_eq!(
            throttle.refused_until(a, until),
            None,
            "the window moved on"
        );
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
    Extension(throttle): Extension<Arc<Mutex<ReportThrottle>>>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
    Form(f): Form<ReportForm>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let now = state.now();
    let refused = throttle
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .refused_until(client.map(|Extension(ConnectInfo(a))| a.ip()), now);
    if let Some(until) = refused {
        let mut response = crate::public::message(
            StatusCode::TOO_MANY_REQUESTS,
            lang,
            PATH,
            "breach_report.title",
            t(lang, "too_many"),
        );
        let seconds = (until - now).whole_seconds().max(1);
        if let Ok(v) = HeaderValue::from_str(&seconds.to_string()) {
            response.headers_mut().insert(RETRY_AFTER, v);
        }
        return response;
    }
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
