//! Staff sessions: signing in with username and password, the session cookie, and the
//! extractor that sends visitors without a valid session to the login page.

use askama::Template;
use axum::Form;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::Session;
use serde::Deserialize;

use super::form::FormData;
use super::{Ctx, csrf, page, store_failure, translated};
use crate::pages::Translated as _;
use crate::pages::negotiate;
use crate::state::AppState;

/// The name of the cookie that holds the session secret.
pub const COOKIE_NAME: &str = "kluis_session";

/// A signed-in staff member; handlers that take it are for staff only.
pub struct StaffSession {
    pub session: Session,
    secret: String,
}

impl StaffSession {
    /// The name recorded in version history.
    pub fn actor(&self) -> &str {
        &self.session.user.username
    }

    /// Who works on personal data from the back office, for the processing log: the
    /// signed-in staff member, as the API's caller is.
    pub fn processing(
        &self,
        trace: crate::trace::Trace,
        now: time::OffsetDateTime,
    ) -> kluis_store::Processing {
        use kluis_domain::processing_log::{Actor, ActorKind};
        kluis_store::Processing {
            actor: Actor {
                kind: ActorKind::Staff,
                id: Some(self.session.user.id.to_string()),
                name: self.actor().to_string(),
            },
            trace: trace.0,
            case_ref: None,
            now,
        }
    }

    /// The refusal page when the form lacks the session's CSRF token.
    pub fn csrf_refusal(&self, form: &FormData, lang: Lang) -> Option<Response> {
        (!csrf::token_matches(&self.session.csrf_token, form))
            .then(|| csrf::refused(lang, Some(&self.session)))
    }
}

/// The session secret from the request's cookies.
fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn lang_from_query(query: Option<&str>) -> Option<String> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("lang="))
        .map(str::to_string)
}

impl FromRequestParts<AppState> for StaffSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let lang = negotiate(
            lang_from_query(parts.uri.query()).as_deref(),
            &parts.headers,
        );
        if let Some(secret) = cookie_secret(&parts.headers) {
            match state.store.session(&secret, state.now()).await {
                Ok(Some(session)) => return Ok(StaffSession { session, secret }),
                Ok(None) => {}
                Err(e) => return Err(store_failure(lang, None, e)),
            }
        }
        // After signing in, come back here; a form post cannot be replayed, so go home.
        let next = match parts.method {
            Method::GET | Method::HEAD => parts
                .uri
                .path_and_query()
                .map_or("/admin", |p| p.as_str())
                .to_string(),
            _ => "/admin".to_string(),
        };
        let login = format!(
            "/admin/login?lang={}&next={}",
            lang.code(),
            percent_encode(&next)
        );
        Err(Redirect::to(&login).into_response())
    }
}

/// Percent-encodes everything but unreserved characters and `/`, for a query value.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where to go after signing in: only a back-office path of this site, never elsewhere
/// (an open redirect would let a phishing link borrow kluis's address).
pub fn safe_next(next: &str) -> Option<&str> {
    let in_admin = next == "/admin" || next.starts_with("/admin/") || next.starts_with("/admin?");
    let plain =
        next.bytes().all(|b| b.is_ascii_graphic()) && !next.contains('\\') && !next.contains("//");
    (in_admin && plain).then_some(next)
}

fn session_cookie(secret: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let cookie = format!(
        "{COOKIE_NAME}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    // The secret is hex, so the header is always valid; an empty cookie otherwise.
    HeaderValue::from_str(&cookie).unwrap_or(HeaderValue::from_static(
        "kluis_session=; Path=/; Max-Age=0",
    ))
}

#[derive(Template)]
#[template(path = "admin/login.html")]
pub struct LoginPage {
    pub ctx: Ctx,
    pub action: String,
    pub username: String,
    pub next: String,
    /// The error summary: (anchor, message).
    pub errors: Vec<(String, String)>,
    /// Always empty: every login problem belongs to a field.
    pub general: Vec<String>,
    pub username_error: Option<String>,
    pub password_error: Option<String>,
    pub notice: Option<String>,
}

translated!(LoginPage);

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    lang: Option<String>,
    next: Option<String>,
    signed_out: Option<String>,
}

fn login_page(lang: Lang, next: &str, username: &str) -> LoginPage {
    let extra = if next.is_empty() {
        String::new()
    } else {
        format!("&next={}", percent_encode(next))
    };
    LoginPage {
        ctx: Ctx::new(
            lang,
            None,
            "/admin/login",
            &extra,
            i18n::t(lang, "login.title").to_string(),
        ),
        action: format!("/admin/login?lang={}", lang.code()),
        username: username.to_string(),
        next: next.to_string(),
        errors: Vec::new(),
        general: Vec::new(),
        username_error: None,
        password_error: None,
        notice: None,
    }
}

pub async fn login_form(Query(q): Query<LoginQuery>, headers: HeaderMap) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let next = q.next.as_deref().and_then(safe_next).unwrap_or("");
    let mut p = login_page(lang, next, "");
    if q.signed_out.is_some() {
        p.notice = Some(i18n::t(lang, "login.signed_out").to_string());
    }
    page(StatusCode::OK, &p)
}

pub async fn login(
    State(state): State<AppState>,
    Query(q): Query<LoginQuery>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    let form = FormData(fields);
    let username = form.get("username").trim();
    let password = form.get("password");
    let next = safe_next(form.get("next")).unwrap_or("");
    let mut p = login_page(lang, next, username);
    if username.is_empty() {
        p.username_error = Some(i18n::t(lang, "login.username_missing").to_string());
    }
    if password.is_empty() {
        p.password_error = Some(i18n::t(lang, "login.password_missing").to_string());
    }
    if p.username_error.is_some() || p.password_error.is_some() {
        p.errors = [
            ("f-username", &p.username_error),
            ("f-password", &p.password_error),
        ]
        .into_iter()
        .filter_map(|(id, e)| e.clone().map(|e| (id.to_string(), e)))
        .collect();
        return page(StatusCode::UNPROCESSABLE_ENTITY, &p);
    }
    let now = state.now();
    let refused = throttle(&state).refused_until(username, now);
    if let Some(until) = refused {
        let minutes = ((until - now).whole_seconds() + 59) / 60;
        p.errors = vec![(
            "f-username".into(),
            i18n::tf(
                lang,
                "login.throttled",
                &[("minutes", &minutes.to_string())],
            ),
        )];
        return page(StatusCode::TOO_MANY_REQUESTS, &p);
    }
    let user = match state.store.verify_password(username, password).await {
        Ok(Some(user)) => {
            throttle(&state).succeeded(username);
            user
        }
        Ok(None) => {
            throttle(&state).failed(username, now);
            // One message whether the user exists or not: no account enumeration.
            p.errors = vec![(
                "f-username".into(),
                i18n::t(lang, "login.wrong").to_string(),
            )];
            return page(StatusCode::UNPROCESSABLE_ENTITY, &p);
        }
        Err(e) => return store_failure(lang, None, e),
    };
    // A new secret at every sign-in, so a session planted before it is never promoted.
    if let Some(old) = cookie_secret(&headers)
        && let Err(e) = state.store.delete_session(&old).await
    {
        return store_failure(lang, None, e);
    }
    let ttl = state.settings.session_ttl;
    let (secret, _) = match state.store.create_session(user.id, state.now(), ttl).await {
        Ok(s) => s,
        Err(e) => return store_failure(lang, None, e),
    };
    let target = if next.is_empty() {
        format!("/admin?lang={}", lang.code())
    } else {
        next.to_string()
    };
    let mut response = Redirect::to(&target).into_response();
    let cookie = session_cookie(&secret, ttl.whole_seconds(), state.settings.secure_cookies);
    response.headers_mut().insert(SET_COOKIE, cookie);
    response
}

#[derive(Deserialize, Default)]
pub struct LangOnly {
    lang: Option<String>,
}

pub async fn logout(
    State(state): State<AppState>,
    staff: StaffSession,
    Query(q): Query<LangOnly>,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Response {
    let lang = negotiate(q.lang.as_deref(), &headers);
    if let Some(refusal) = staff.csrf_refusal(&FormData(fields), lang) {
        return refusal;
    }
    if let Err(e) = state.store.delete_session(&staff.secret).await {
        return store_failure(lang, Some(&staff.session), e);
    }
    let mut response =
        Redirect::to(&format!("/admin/login?lang={}&signed_out=1", lang.code())).into_response();
    response.headers_mut().insert(
        SET_COOKIE,
        session_cookie("", 0, state.settings.secure_cookies),
    );
    response
}

/// The sign-in throttle; it holds only counters, so a lock poisoned by a panic elsewhere is
/// taken over.
fn throttle(state: &AppState) -> std::sync::MutexGuard<'_, crate::state::LoginThrottle> {
    state
        .login_throttle
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_inside_the_back_office() {
        assert_eq!(safe_next("/admin"), Some("/admin"));
        assert_eq!(
            safe_next("/admin/activities/camera?lang=fr"),
            Some("/admin/activities/camera?lang=fr")
        );
        assert_eq!(safe_next("/admin?lang=en"), Some("/admin?lang=en"));
        for bad in [
            "",
            "https://evil.example/admin",
            "//evil.example/admin",
            "/admin//evil.example",
            "/\\evil.example",
            "/admin\\..\\x",
            "/administrator",
            "/privacy/limburg",
            "/admin/\nSet-Cookie: x",
            "/admin/ spaced",
            "/admin/é",
            "admin",
        ] {
            assert_eq!(safe_next(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_session_cookie_is_read_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=1; kluis_session=abc; b=2"),
        );
        assert_eq!(cookie_secret(&h).as_deref(), Some("abc"));
        let mut h = HeaderMap::new();
        h.insert(
            COOKIE,
            HeaderValue::from_static("kluis_session_x=1; kluis_session="),
        );
        assert_eq!(cookie_secret(&h), None);
    }

    #[test]
    fn the_cookie_is_strict_and_http_only() {
        let c = session_cookie("abc", 60, true);
        let c = c.to_str().unwrap();
        assert_eq!(
            c,
            "kluis_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=60; Secure"
        );
        assert!(
            !session_cookie("abc", 60, false)
                .to_str()
                .unwrap()
                .contains("Secure")
        );
    }

    #[test]
    fn next_is_encoded_as_a_query_value() {
        assert_eq!(
            percent_encode("/admin/x?lang=fr&a=b"),
            "/admin/x%3Flang%3Dfr%26a%3Db"
        );
    }
}
