//! Translations of what citizens and staff read, from `locales/{nl,en,fr}.toml`.
//!
//! The files are embedded at compile time and parsed once. Keys are dotted paths into the
//! TOML tables: `statement.your_rights`, `data_category.identification`. A missing key
//! shows as the key itself instead of panicking; the tests below make sure no key is
//! missing in any language and that every vocabulary term has a label.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::LazyLock;

use crate::text::Lang;

/// Each language's texts: the statement and vocabularies, the public pages and exports
/// (`common`), and the back-office (`admin`). One catalogue per language.
const SOURCES: [(Lang, &str, &str); 9] = [
    (
        Lang::Nl,
        "nl.toml",
        include_str!("../../../locales/nl.toml"),
    ),
    (
        Lang::En,
        "en.toml",
        include_str!("../../../locales/en.toml"),
    ),
    (
        Lang::Fr,
        "fr.toml",
        include_str!("../../../locales/fr.toml"),
    ),
    (
        Lang::Nl,
        "common.nl.toml",
        include_str!("../../../locales/common.nl.toml"),
    ),
    (
        Lang::En,
        "common.en.toml",
        include_str!("../../../locales/common.en.toml"),
    ),
    (
        Lang::Fr,
        "common.fr.toml",
        include_str!("../../../locales/common.fr.toml"),
    ),
    (
        Lang::Nl,
        "admin.nl.toml",
        include_str!("../../../locales/admin.nl.toml"),
    ),
    (
        Lang::En,
        "admin.en.toml",
        include_str!("../../../locales/admin.en.toml"),
    ),
    (
        Lang::Fr,
        "admin.fr.toml",
        include_str!("../../../locales/admin.fr.toml"),
    ),
];

/// FNV-1a: the keys are our own short strings, so a DoS-resistant hash buys nothing,
/// and a statement of a large register looks up tens of thousands of them.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type Catalogue = HashMap<String, String, BuildHasherDefault<Fnv>>;

/// The flattened catalogue of each language, in `Lang::ALL` order.
struct Catalogues {
    by_lang: [Catalogue; 3],
    /// Why a file or a value could not be read; empty when all is well (a test checks).
    problems: Vec<String>,
}

static CATALOGUES: LazyLock<Catalogues> = LazyLock::new(load);

fn slot(lang: Lang) -> usize {
    match lang {
        Lang::Nl => 0,
        Lang::En => 1,
        Lang::Fr => 2,
    }
}

fn load() -> Catalogues {
    let mut by_lang: [Catalogue; 3] = Default::default();
    let mut problems = Vec::new();
    for (lang, file, source) in SOURCES {
        match source.parse::<toml::Table>() {
            Ok(table) => flatten("", &table, &mut by_lang[slot(lang)], &mut problems),
            Err(e) => problems.push(format!("locales/{file}: {e}")),
        }
    }
    Catalogues { by_lang, problems }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Catalogue, problems: &mut Vec<String>) {
    for (name, value) in table {
        let key = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        match value {
            toml::Value::String(s) => {
                // Several files feed one catalogue: a key defined twice would silently
                // lose one of its texts.
                if out.insert(key.clone(), s.clone()).is_some() {
                    problems.push(format!("{key}: defined more than once"));
                }
            }
            toml::Value::Table(t) => flatten(&key, t, out, problems),
            _ => problems.push(format!("{key}: a translation must be a string")),
        }
    }
}

/// The translation of `key` in `lang`, or the key itself when there is none.
pub fn t(lang: Lang, key: &str) -> &str {
    lookup(lang, key).unwrap_or(key)
}

/// The translation of `key` in `lang`, if there is one.
pub fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    CATALOGUES.by_lang[slot(lang)].get(key).map(String::as_str)
}

/// The translation of `prefix.name`, e.g. a vocabulary label (`data_category`,
/// `identification`), without allocating the key on the way: a statement looks up
/// thousands of labels.
pub fn lookup2(lang: Lang, prefix: &str, name: &str) -> Option<&'static str> {
    let mut buf = [0u8; 96];
    let len = prefix.len() + 1 + name.len();
    if len > buf.len() {
        return lookup(lang, &format!("{prefix}.{name}"));
    }
    buf[..prefix.len()].copy_from_slice(prefix.as_bytes());
    buf[prefix.len()] = b'.';
    buf[prefix.len() + 1..len].copy_from_slice(name.as_bytes());
    // Both parts are valid UTF-8 and '.' is ASCII, so the concatenation is too.
    std::str::from_utf8(&buf[..len])
        .ok()
        .and_then(|key| lookup(lang, key))
}

/// Why a locale file or one of its values could not be read; empty when all is well.
/// The server logs these at start-up; a test keeps the shipped files clean.
pub fn problems() -> &'static [String] {
    &CATALOGUES.problems
}

/// Whether `lang` has a translation for `key`.
pub fn has(lang: Lang, key: &str) -> bool {
    CATALOGUES.by_lang[slot(lang)].contains_key(key)
}

/// All keys translated in `lang`.
pub fn keys(lang: Lang) -> impl Iterator<Item = &'static str> {
    CATALOGUES.by_lang[slot(lang)].keys().map(String::as_str)
}

/// The translation of `key` with its `{name}` placeholders filled in.
pub fn tf(lang: Lang, key: &str, args: &[(&str, &str)]) -> String {
    fill(t(lang, key), args)
}

/// A piece of a translation template: literal text or a `{name}` placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into literal text and `{name}` placeholders. A brace that does not
/// enclose a name (letters, digits, `_`) is literal text.
pub fn pieces(template: &str) -> Pieces<'_> {
    Pieces { rest: template }
}

/// The pieces of a template, in order; see [`pieces`].
pub struct Pieces<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        let Some(open) = rest.find('{') else {
            self.rest = "";
            return Some(Piece::Literal(rest));
        };
        if open > 0 {
            self.rest = &rest[open..];
            return Some(Piece::Literal(&rest[..open]));
        }
        let after = &rest[1..];
        let name_len = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if name_len > 0 && after[name_len..].starts_with('}') {
            self.rest = &after[name_len + 1..];
            Some(Piece::Placeholder(&after[..name_len]))
        } else {
            self.rest = after;
            Some(Piece::Literal("{"))
        }
    }
}

/// Fills `{name}` placeholders; a placeholder without a value stays as written, so a
/// forgotten argument shows up on the page instead of silently vanishing.
pub fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces(template) {
        match piece {
            Piece::Literal(s) => out.push_str(s),
            Piece::Placeholder(name) => match args.iter().find(|(n, _)| *n == name) {
                Some((_, value)) => out.push_str(value),
                None => {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    use crate::access::Role;
    use crate::category::{AuthenticSource, DataCategory, SpecialCategory, SubjectCategory};
    use crate::legal::{Art9Condition, LegalBasis, SupervisoryAuthority, TransferSafeguard};
    use crate::register::{ActivityStatus, CookieType, Country, RecipientKind};
    use crate::retention::RetentionEvent;
    use crate::statement::{ActivityAspect, ControllerAspect};

    #[test]
    fn locale_files_parse_and_hold_only_strings() {
        assert!(problems().is_empty(), "{:#?}", problems());
        assert!(keys(Lang::Nl).count() > 100);
    }

    #[test]
    fn every_key_exists_in_every_language() {
        let sets: Vec<BTreeSet<&str>> = Lang::ALL.iter().map(|l| keys(*l).collect()).collect();
        for (lang, set) in Lang::ALL.iter().zip(&sets) {
            for other in &sets {
                let missing: Vec<_> = other.difference(set).collect();
                assert!(missing.is_empty(), "locales/{lang}.toml lacks {missing:?}");
            }
        }
    }

    #[test]
    fn translations_use_the_same_placeholders() {
        let names = |s: &str| -> BTreeSet<String> {
            pieces(s)
                .filter_map(|p| match p {
                    Piece::Placeholder(n) => Some(n.to_string()),
                    Piece::Literal(_) => None,
                })
                .collect()
        };
        for key in keys(Lang::Nl) {
            let nl = names(t(Lang::Nl, key));
            for lang in [Lang::En, Lang::Fr] {
                assert_eq!(
                    names(t(lang, key)),
                    nl,
                    "placeholders of {key} differ in {lang}"
                );
            }
        }
    }

    fn assert_labelled(kind: &str, keys: impl IntoIterator<Item = String>) {
        for key in keys {
            for lang in Lang::ALL {
                assert!(
                    has(lang, &key),
                    "locales/{lang}.toml has no label for {key} ({kind})"
                );
                assert!(
                    !t(lang, &key).trim().is_empty(),
                    "empty label {key} in {lang}"
                );
            }
        }
    }

    #[test]
    fn every_vocabulary_term_has_a_label_in_every_language() {
        macro_rules! check {
            ($($vocab:ty),+ $(,)?) => {
                $( assert_labelled(<$vocab>::KIND, <$vocab>::ALL.iter().map(|v| v.label_key())); )+
            };
        }
        check!(
            LegalBasis,
            Art9Condition,
            SupervisoryAuthority,
            TransferSafeguard,
            DataCategory,
            SpecialCategory,
            SubjectCategory,
            AuthenticSource,
            Country,
            CookieType,
            RecipientKind,
            ActivityStatus,
            RetentionEvent,
            Role,
            ActivityAspect,
            ControllerAspect,
            crate::identifiers::IdentifierKind,
            crate::rights::Right,
            crate::rights::RequestChannel,
            crate::rights::Stage,
            crate::rights::DpvRequestStatus,
            crate::rights::Outcome,
            crate::rights::RefusalGround,
            crate::rights::ActingFor,
            crate::processing_log::LogAction,
            crate::processing_log::ActorKind,
            crate::dataset_map::SystemKind,
            crate::consent::ConsentMethod,
            crate::consent::ConsentEventKind,
            crate::consent::WithdrawalChannel,
            crate::consent::ConsentState,
            crate::media::MediaKind,
            crate::media::TakeDownReason,
            crate::media::RemovalChannel,
        );
    }

    #[test]
    fn missing_keys_show_the_key() {
        assert_eq!(
            t(Lang::Fr, "statement.no_such_key"),
            "statement.no_such_key"
        );
        assert_eq!(
            lookup2(Lang::En, "data_category", "contact"),
            Some("Contact details")
        );
        assert_eq!(lookup2(Lang::En, "data_category", "nope"), None);
        let long = "x".repeat(200);
        assert_eq!(lookup2(Lang::En, "data_category", &long), None);
        assert_eq!(
            t(Lang::Nl, "data_category.identification"),
            "Identificatiegegevens"
        );
    }

    #[test]
    fn placeholders_are_filled_and_odd_braces_kept() {
        assert_eq!(fill("{a} en {b}", &[("a", "x"), ("b", "y")]), "x en y");
        assert_eq!(fill("{a} {missing}", &[("a", "x")]), "x {missing}");
        assert_eq!(fill("{ not } {} {", &[]), "{ not } {} {");
        assert_eq!(fill("é{n}ü", &[("n", "3")]), "é3ü");
        assert_eq!(
            tf(Lang::En, "statement.retention.until_age", &[("age", "70")]),
            "until the age of 70"
        );
    }
}
