//! What every HTML page shares: the language it is shown in, its translations, and the
//! links to the same page in the other languages.

use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use kluis_domain::i18n;
use kluis_domain::text::Lang;

/// The language of a page: `?lang=` first, then the browser's Accept-Language, then Dutch,
/// the language of the authorities kluis serves.
pub fn negotiate(query: Option<&str>, headers: &HeaderMap) -> Lang {
    query
        .and_then(|q| q.parse().ok())
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Nl)
}

/// The language switcher: (code, name of the language in itself, link).
pub fn language_links(path: &str, extra_query: &str) -> Vec<(&'static str, &'static str, String)> {
    Lang::ALL
        .iter()
        .map(|l| {
            let name = match l {
                Lang::Nl => "Nederlands",
                Lang::En => "English",
                Lang::Fr => "Français",
            };
            (
                l.code(),
                name,
                format!("{path}?lang={}{extra_query}", l.code()),
            )
        })
        .collect()
}

/// Implemented by page templates so the layout can translate its own words.
pub trait Translated {
    fn lang(&self) -> Lang;
    fn t(&self, key: &str) -> String {
        i18n::t(self.lang(), key).to_string()
    }
}
