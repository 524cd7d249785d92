//! The cookie banner for the authority's own websites: the script and stylesheet a website
//! includes, the proof of each visitor's choice, Global Privacy Control, a demo page, and the
//! DPO's count of the choices.
//!
//! The banner runs on other origins than kluis, so recording a choice is a cross-origin
//! request. CORS is checked here rather than by a generic layer because a refused origin must
//! not have its choice stored at all: a CORS layer only hides the answer from the script.

use askama::Template;
use axum::Json;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Path, Query, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_MAX_AGE, CACHE_CONTROL, CONTENT_TYPE, ETAG, HOST, IF_NONE_MATCH, ORIGIN, VARY,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use kluis_domain::access::Permission;
use kluis_domain::cookie_consent::{Banner, ChoiceError, VisitorId, gpc_requested};
use kluis_domain::i18n;
use kluis_domain::register::CookieType;
use kluis_domain::text::Lang;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::ApiUser;
use crate::error::ApiError;
use crate::pages::{Translated, language_links, negotiate};
use crate::public::render;
use crate::state::AppState;

const SCRIPT: &str = include_str!("../static/cookie-banner.js");
const STYLESHEET: &str = include_str!("../static/cookie-banner.css");
/// Where the script receives its configuration: the banner of the controller, as JSON.
const CONFIG_SLOT: &str = "/*KLUIS_BANNER_CONFIG*/ null";
/// A choice is a few hundred bytes; anything much larger is not a choice.
const MAX_CHOICE_BYTES: usize = 2048;
/// The day kluis's Global Privacy Control support last changed, for `/.well-known/gpc.json`.
const GPC_LAST_UPDATE: &str = "2026-11-23";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/cookies/{controller}/banner.js", get(script))
        .route("/cookies/{controller}/banner.css", get(stylesheet))
        .route(
            "/cookies/{controller}/choices",
            axum::routing::post(record_choice).options(preflight),
        )
        .route("/cookies/{controller}/demo", get(demo))
        .route("/.well-known/gpc.json", get(gpc_json))
        .route("/api/v1/cookie-choices/summary", get(summary))
}

/// FNV-1a at compile time: the static files' ETags change when kluis ships new ones.
const fn fnv(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}
const SCRIPT_HASH: u64 = fnv(SCRIPT.as_bytes());
const STYLESHEET_HASH: u64 = fnv(STYLESHEET.as_bytes());

async fn banner_of(state: &AppState, controller: &str) -> Result<Banner, ApiError> {
    let found = state.store.controller(controller).await?;
    found
        .map(|c| Banner::of(&c.value))
        .ok_or_else(|| ApiError::NotFound {
            what: "controller",
            id: controller.to_string(),
        })
}

/// A cacheable static answer, or 304 when the browser already has this version.
fn cached(
    headers: &HeaderMap,
    etag: String,
    content_type: &'static str,
    max_age: &'static str,
    body: impl FnOnce() -> String,
) -> Response {
    let Ok(etag_value) = HeaderValue::from_str(&etag) else {
        return ApiError::Internal(format!("ETag {etag} is not a header value")).into_response();
    };
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(ETAG, etag_value);
    h.insert(CACHE_CONTROL, HeaderValue::from_static(max_age));
    response
}

/// `GET /cookies/{controller}/banner.js`: the script with the controller's banner in it.
/// An hour of cache: a changed cookie list reaches visitors within the hour, and the ETag
/// (banner version and script) makes revalidation a 304.
async fn script(
    State(state): State<AppState>,
    Path(controller): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let banner = banner_of(&state, &controller).await?;
    let config = serde_json::to_string(&banner)
        .map_err(|e| ApiError::Internal(format!("banner of {controller}: {e}")))?;
    let etag = format!("\"{}-{SCRIPT_HASH:016x}\"", banner.version);
    Ok(cached(
        &headers,
        etag,
        "text/javascript; charset=utf-8",
        "public, max-age=3600",
        || SCRIPT.replacen(CONFIG_SLOT, &config, 1),
    ))
}

/// `GET /cookies/{controller}/banner.css`: the same for every controller.
async fn stylesheet(headers: HeaderMap) -> Response {
    cached(
        &headers,
        format!("\"{STYLESHEET_HASH:016x}\""),
        "text/css; charset=utf-8",
        "public, max-age=86400",
        || STYLESHEET.to_string(),
    )
}

/// The origin to answer with CORS headers: `None` when the request is not cross-origin
/// (no `Origin`, or the origin is kluis itself, as on the demo page).
fn allowed_origin(state: &AppState, headers: &HeaderMap) -> Result<Option<HeaderValue>, ApiError> {
    let Some(origin) = headers.get(ORIGIN) else {
        return Ok(None);
    };
    let text = origin.to_str().unwrap_or_default();
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let same_origin = text
        .split_once("://")
        .is_some_and(|(_, authority)| Some(authority) == host);
    if same_origin {
        return Ok(None);
    }
    let listed = state
        .settings
        .cookie_origins
        .iter()
        .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(text));
    if listed {
        Ok(Some(origin.clone()))
    } else {
        Err(ApiError::OriginNotAllowed(format!(
            "the website {text} may not record cookie choices in kluis: add it to the allowed \
             origins ([cookies] origins in kluis.toml, or KLUIS_COOKIE_ORIGINS)"
        )))
    }
}

fn allow_cors(response: &mut Response, origin: Option<HeaderValue>) {
    let h = response.headers_mut();
    h.insert(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    }
}

/// `OPTIONS /cookies/{controller}/choices`: the browser asks whether the website may post.
async fn preflight(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match allowed_origin(&state, &headers) {
        Ok(origin) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            if origin.is_some() {
                let h = response.headers_mut();
                h.insert(
                    ACCESS_CONTROL_ALLOW_METHODS,
                    HeaderValue::from_static("POST"),
                );
                h.insert(
                    ACCESS_CONTROL_ALLOW_HEADERS,
                    HeaderValue::from_static("content-type"),
                );
                h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("86400"));
            }
            allow_cors(&mut response, origin);
            response
        }
        Err(e) => e.into_response(),
    }
}

/// What the banner script sends.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChoiceBody {
    visitor: String,
    banner_version: String,
    /// The types the visitor accepted; every other declared type is refused.
    accepted: Vec<String>,
    /// The script saw `navigator.globalPrivacyControl`; the same as a `Sec-GPC: 1` header.
    #[serde(default)]
    gpc: bool,
}

/// The proof as recorded, returned to the script.
#[derive(Serialize)]
struct RecordedChoice {
    id: Uuid,
    controller: String,
    banner_version: String,
    #[serde(with = "time::serde::rfc3339")]
    chosen_at: OffsetDateTime,
    accepted: Vec<CookieType>,
    refused: Vec<CookieType>,
    source: &'static str,
}

/// `POST /cookies/{controller}/choices`: keeps the proof of a visitor's choice.
async fn record_choice(
    State(state): State<AppState>,
    Path(controller): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let origin = match allowed_origin(&state, &headers) {
        Ok(origin) => origin,
        Err(e) => return e.into_response(),
    };
    let mut response = match record(&state, &controller, &headers, body).await {
        Ok(choice) => (StatusCode::CREATED, Json(choice)).into_response(),
        Err(e) => e.into_response(),
    };
    allow_cors(&mut response, origin);
    response
}

async fn record(
    state: &AppState,
    controller: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<RecordedChoice, ApiError> {
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(ApiError::UnsupportedMediaType("application/json"));
    }
    let bytes = to_bytes(body, MAX_CHOICE_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge)?;
    let body: ChoiceBody = serde_json::from_slice(&bytes).map_err(|e| {
        if e.is_data() {
            ApiError::Unprocessable(format!("the choice is not as the banner sends it: {e}"))
        } else {
            ApiError::BadRequest(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let visitor: VisitorId = body
        .visitor
        .parse()
        .map_err(|e: ChoiceError| ApiError::Unprocessable(e.to_string()))?;
    let banner = banner_of(state, controller).await?;
    let gpc = body.gpc || gpc_requested(headers.get("sec-gpc").map(HeaderValue::as_bytes));
    let choice = banner
        .choose(&body.banner_version, &body.accepted, gpc)
        .map_err(|e| match e {
            ChoiceError::StaleBanner { .. } => ApiError::StaleBanner(e.to_string()),
            other => ApiError::Unprocessable(other.to_string()),
        })?;
    let stored = state
        .store
        .record_cookie_choice(
            controller,
            &visitor,
            &body.banner_version,
            &choice,
            state.now(),
        )
        .await?;
    Ok(RecordedChoice {
        id: stored.id,
        controller: stored.controller,
        banner_version: stored.banner_version,
        chosen_at: stored.chosen_at,
        accepted: stored.choice.accepted.into_iter().collect(),
        refused: stored.choice.refused.into_iter().collect(),
        source: stored.choice.source.name(),
    })
}

/// `GET /.well-known/gpc.json`: kluis honours Global Privacy Control.
async fn gpc_json() -> Response {
    (
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
        ],
        format!("{{\"gpc\": true, \"lastUpdate\": \"{GPC_LAST_UPDATE}\"}}"),
    )
        .into_response()
}

#[derive(Deserialize)]
struct DemoQuery {
    lang: Option<String>,
}

#[derive(Template)]
#[template(path = "cookie_demo.html")]
struct DemoPage {
    lang: Lang,
    title: String,
    controller: String,
    language_links: Vec<(&'static str, &'static str, String)>,
    /// The two tags as the authority pastes them, with kluis's address.
    tags: String,
}

impl Translated for DemoPage {
    fn lang(&self) -> Lang {
        self.lang
    }
}

/// `GET /cookies/{controller}/demo`: a fictitious page of the authority's website with the
/// banner included the way the authority includes it.
async fn demo(
    State(state): State<AppState>,
    Path(controller): Path<String>,
    Query(q): Query<DemoQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let found = state
        .store
        .controller(&controller)
        .await?
        .ok_or_else(|| ApiError::NotFound {
            what: "controller",
            id: controller.clone(),
        })?;
    let scheme = if state.settings.secure_cookies {
        "https"
    } else {
        "http"
    };
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("kluis.example.be");
    let base = format!("{scheme}://{host}/cookies/{controller}");
    let page = DemoPage {
        lang,
        title: i18n::tf(
            lang,
            "cookie_demo.title",
            &[("controller", found.value.name.show(lang))],
        ),
        language_links: language_links(&format!("/cookies/{controller}/demo"), ""),
        tags: format!(
            "<link rel=\"stylesheet\" href=\"{base}/banner.css\">\n\
             <script src=\"{base}/banner.js\" defer></script>"
        ),
        controller,
    };
    Ok(render(StatusCode::OK, lang, &page))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SummaryQuery {
    controller: Option<String>,
}

#[derive(Serialize)]
struct Summary {
    choices: Vec<SummaryRow>,
}

#[derive(Serialize)]
struct SummaryRow {
    controller: String,
    banner_version: String,
    /// Whether this is the banner the controller's websites show now.
    current: bool,
    source: &'static str,
    accepted: Vec<CookieType>,
    refused: Vec<CookieType>,
    count: i64,
    #[serde(with = "time::serde::rfc3339")]
    first_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_at: OffsetDateTime,
}

/// `GET /api/v1/cookie-choices/summary`: how many visitors chose what, per banner version.
async fn summary(
    State(state): State<AppState>,
    user: ApiUser,
    query: Result<Query<SummaryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Summary>, ApiError> {
    user.require(Permission::ReadAuditLog)?;
    let Query(q) = query?;
    let counts = state
        .store
        .cookie_choice_counts(q.controller.as_deref())
        .await?;
    let current: std::collections::HashMap<String, String> = state
        .store
        .controllers()
        .await?
        .into_iter()
        .map(|c| (c.value.id.clone(), Banner::of(&c.value).version))
        .collect();
    let choices = counts
        .into_iter()
        .map(|c| SummaryRow {
            current: current.get(&c.controller) == Some(&c.banner_version),
            controller: c.controller,
            banner_version: c.banner_version,
            source: c.source.name(),
            accepted: c.accepted.into_iter().collect(),
            refused: c.refused.into_iter().collect(),
            count: c.count,
            first_at: c.first_at,
            last_at: c.last_at,
        })
        .collect();
    Ok(Json(Summary { choices }))
}
