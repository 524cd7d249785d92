//! The public side: the privacy statement of each controller, the front page, health.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_LANGUAGE, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use serde::Deserialize;

use crate::pages::{Translated, language_links, negotiate};
use crate::state::AppState;
use crate::statements::{self, Format};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/healthz", get(healthz))
        .route("/privacy/{controller}", get(statement))
        .route("/static/kluis.css", get(stylesheet))
}

#[derive(Template)]
#[template(path = "statement.html")]
struct StatementPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    notice: Option<String>,
    body: String,
}

#[derive(Template)]
#[template(path = "index.html")]
struct IndexPage {
    lang: Lang,
    title: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    controllers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage {
    pub lang: Lang,
    pub title: String,
    pub language_links: Vec<(&'static str, &'static str, String)>,
    pub message: String,
}

macro_rules! translated {
    ($($page:ty),+) => { $(impl Translated for $page { fn lang(&self) -> Lang { self.lang } })+ };
}
translated!(StatementPage, IndexPage, MessagePage);

/// Renders a template; a template error is a bug, shown as a plain 500.
pub fn render(status: StatusCode, lang: Lang, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            r.headers_mut()
                .insert(CONTENT_LANGUAGE, HeaderValue::from_static(lang.code()));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

/// A page with one message, for 404s and other refusals a citizen may see.
pub fn message(
    status: StatusCode,
    lang: Lang,
    path: &str,
    title_key: &str,
    message: String,
) -> Response {
    let page = MessagePage {
        lang,
        title: i18n::t(lang, title_key).to_string(),
        language_links: language_links(path, ""),
        message,
    };
    render(status, lang, &page)
}

#[derive(Deserialize)]
pub struct LangQuery {
    lang: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    Query(q): Query<LangQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let controllers = match state.store.controllers().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "listing controllers failed");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                "/",
                "public.unavailable_title",
                i18n::t(lang, "public.unavailable").into(),
            );
        }
    };
    let page = IndexPage {
        lang,
        title: i18n::t(lang, "index.title").to_string(),
        language_links: language_links("/", ""),
        controllers: controllers
            .into_iter()
            .map(|c| {
                (
                    format!("/privacy/{}?lang={}", c.value.id, lang.code()),
                    c.value.name.show(lang).to_string(),
                )
            })
            .collect(),
    };
    render(StatusCode::OK, lang, &page)
}

#[derive(Deserialize)]
pub struct StatementQuery {
    lang: Option<String>,
    version: Option<String>,
}

async fn statement(
    State(state): State<AppState>,
    Path(controller): Path<String>,
    Query(q): Query<StatementQuery>,
    headers: HeaderMap,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let path = format!("/privacy/{controller}");
    let not_found = |lang| {
        message(
            StatusCode::NOT_FOUND,
            lang,
            &path,
            "public.not_found_title",
            i18n::t(lang, "public.statement_not_found").into(),
        )
    };
    let version = match q.version.as_deref().map(str::parse::<i64>) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return not_found(lang),
    };
    let today = state.now().date();
    let prepared = match statements::published(&state.store, &controller, version, today).await {
        Ok(Some(p)) => p,
        Ok(None) => return not_found(lang),
        Err(e) => {
            tracing::error!(error = %e, "reading statement failed");
            return message(
                StatusCode::SERVICE_UNAVAILABLE,
                lang,
                &path,
                "public.unavailable_title",
                i18n::t(lang, "public.unavailable").into(),
            );
        }
    };
    let body = match prepared.render(&controller, lang, Format::Html) {
        Ok(b) => b,
        Err(_) => return not_found(lang),
    };
    let title = prepared
        .snapshot
        .controller(&controller)
        .map(|c| {
            format!(
                "{} – {}",
                i18n::t(lang, "public.statement_title"),
                c.name.show(lang)
            )
        })
        .unwrap_or_default();
    let version_query = version.map(|v| format!("&version={v}")).unwrap_or_default();
    let notice = version.map(|v| {
        i18n::tf(
            lang,
            "public.earlier_version",
            &[("version", &v.to_string())],
        )
    });
    let page = StatementPage {
        lang,
        title,
        language_links: language_links(&path, &version_query),
        notice,
        body,
    };
    render(StatusCode::OK, lang, &page)
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

async fn stylesheet() -> Response {
    (
        [
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=3600"),
            ),
        ],
        include_str!("../static/kluis.css"),
    )
        .into_response()
}
