//! Cross-site request forgery defence for the back-office, in two layers: a form post must
//! come from this site (Fetch Metadata and Origin, checked for every POST including the
//! login), and a signed-in form must carry the session's CSRF token.

use axum::extract::Request;
use axum::http::header::{HOST, ORIGIN};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use kluis_domain::i18n;
use kluis_domain::text::Lang;
use kluis_store::Session;
use subtle::ConstantTimeEq;

use super::form::FormData;
use crate::pages::negotiate;

/// Whether a state-changing request may be from this site. Browsers send `Sec-Fetch-Site`
/// and `Origin` on form posts; a request with neither is not a browser's cross-site post
/// (and still needs the CSRF token when signed in).
pub fn same_origin_allowed(
    sec_fetch_site: Option<&str>,
    origin: Option<&str>,
    host: Option<&str>,
) -> bool {
    if let Some(site) = sec_fetch_site
        && !site.trim().eq_ignore_ascii_case("same-origin")
    {
        return false;
    }
    match origin {
        None => true,
        Some(origin) => {
            let origin_host = origin
                .trim()
                .split_once("://")
                .map(|(_, rest)| rest.trim_end_matches('/'));
            match (origin_host, host) {
                (Some(o), Some(h)) => !o.is_empty() && o.eq_ignore_ascii_case(h.trim()),
                _ => false,
            }
        }
    }
}

fn header(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Refuses POSTs to the back-office that come from another site.
pub async fn same_origin(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let allowed = same_origin_allowed(
        header(headers, "sec-fetch-site"),
        header(headers, ORIGIN),
        header(headers, HOST),
    );
    if allowed {
        return next.run(request).await;
    }
    let lang_query = request.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|pair| pair.strip_prefix("lang="))
            .map(str::to_string)
    });
    let lang = negotiate(lang_query.as_deref(), headers);
    refused(lang, None)
}

/// Whether the form carries the session's CSRF token, compared in constant time.
pub fn token_matches(expected: &str, form: &FormData) -> bool {
    let sent = form.get("csrf").as_bytes();
    !sent.is_empty() && bool::from(sent.ct_eq(expected.as_bytes()))
}

/// The 403 page for a form that failed either check.
pub fn refused(lang: Lang, session: Option<&Session>) -> Response {
    super::message(
        StatusCode::FORBIDDEN,
        lang,
        session,
        "admin.csrf.title",
        i18n::t(lang, "admin.csrf.message").to_string(),
        Some((
            format!("/admin?lang={}", lang.code()),
            i18n::t(lang, "admin.nav.dashboard").to_string(),
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_site_posts_pass() {
        assert!(same_origin_allowed(
            Some("same-origin"),
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080")
        ));
        assert!(same_origin_allowed(
            None,
            Some("https://kluis.example.be"),
            Some("KLUIS.example.be")
        ));
        // Not a browser, or a browser that sends neither header: the token decides.
        assert!(same_origin_allowed(None, None, Some("kluis.example.be")));
    }

    #[test]
    fn cross_site_posts_are_refused() {
        assert!(!same_origin_allowed(
            Some("cross-site"),
            None,
            Some("kluis.example.be")
        ));
        assert!(!same_origin_allowed(
            Some("same-site"),
            None,
            Some("kluis.example.be")
        ));
        assert!(!same_origin_allowed(
            Some("none"),
            None,
            Some("kluis.example.be")
        ));
        assert!(!same_origin_allowed(
            None,
            Some("https://evil.example"),
            Some("kluis.example.be")
        ));
        assert!(!same_origin_allowed(
            None,
            Some("null"),
            Some("kluis.example.be")
        ));
        assert!(!same_origin_allowed(
            None,
            Some("https://kluis.example.be"),
            None
        ));
        // A different port is a different origin.
        assert!(!same_origin_allowed(
            None,
            Some("http://127.0.0.1:9999"),
            Some("127.0.0.1:8080")
        ));
    }

    #[test]
    fn the_token_must_match_exactly() {
        let form = |v: &str| FormData(vec![("csrf".into(), v.into())]);
        assert!(token_matches("abc123", &form("abc123")));
        assert!(!token_matches("abc123", &form("abc124")));
        assert!(!token_matches("abc123", &form("abc12")));
        assert!(!token_matches("abc123", &form("")));
        assert!(!token_matches("abc123", &FormData::default()));
        assert!(!token_matches("", &form("")));
    }
}
