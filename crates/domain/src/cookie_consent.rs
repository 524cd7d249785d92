//! Cookie consent on the authority's websites: what the banner shows, its version, and what
//! a visitor's choice means.
//!
//! Functional cookies need no consent and cannot be refused; every other type the controller
//! declares is set only after the visitor accepts it, and refusing is one click, like
//! accepting. A browser's Global Privacy Control signal (`Sec-GPC: 1`) is a refusal of every
//! type that needs consent.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::i18n;
use crate::register::{Controller, CookieType};
use crate::text::{Lang, Text};

/// The banner of one controller: its version and what it says, in every language. Serialised
/// as is, it is the configuration the banner script receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Banner {
    pub controller: String,
    /// Changes whenever the declared cookies or the banner's texts change, so a visitor who
    /// chose on an earlier banner is asked again.
    pub version: String,
    /// The declared types, functional first.
    pub types: Vec<CookieType>,
    pub texts: BTreeMap<Lang, BannerTexts>,
}

/// What the banner says in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BannerTexts {
    pub title: String,
    pub intro: String,
    pub refuse_all: String,
    pub accept_all: String,
    pub settings: String,
    pub settings_title: String,
    pub save: String,
    pub always_on: String,
    pub privacy_link: String,
    /// Shown instead of the choice when the browser sends Global Privacy Control.
    pub gpc_note: String,
    pub provider: String,
    pub lifetime: String,
    pub types: Vec<BannerType>,
}

/// One declared type of cookie with the cookies of that type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BannerType {
    #[serde(rename = "type")]
    pub kind: CookieType,
    pub label: String,
    pub needs_consent: bool,
    pub cookies: Vec<BannerCookie>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BannerCookie {
    pub name: String,
    pub purpose: Localised,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    pub lifetime: Localised,
}

/// Register text in the language asked for, or in the language it fell back to, so the
/// banner can mark it with its own `lang` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Localised {
    pub text: String,
    pub lang: Lang,
}

impl Localised {
    fn of(text: &Text, lang: Lang) -> Localised {
        match text.get(lang) {
            Some((found, s)) => Localised {
                text: s.to_string(),
                lang: found,
            },
            None => Localised {
                text: String::new(),
                lang,
            },
        }
    }
}

/// Whether cookies of this type may be set only with consent.
pub fn needs_consent(kind: CookieType) -> bool {
    kind != CookieType::Functional
}

impl Banner {
    /// The banner of `controller`, from the cookies it declares in the register.
    pub fn of(controller: &Controller) -> Banner {
        let types: Vec<CookieType> = CookieType::ALL
            .iter()
            .copied()
            .filter(|t| controller.cookies.iter().any(|c| c.kind == *t))
            .collect();
        let texts: BTreeMap<Lang, BannerTexts> = Lang::ALL
            .iter()
            .map(|&lang| (lang, texts(controller, &types, lang)))
            .collect();
        let version = version(&types, &texts);
        Banner {
            controller: controller.id.clone(),
            version,
            types,
            texts,
        }
    }

    /// The declared types a visitor is asked about.
    pub fn consent_types(&self) -> impl Iterator<Item = CookieType> + '_ {
        self.types.iter().copied().filter(|t| needs_consent(*t))
    }

    /// What a visitor chose on banner `version`: `accepted` names the types they ticked or
    /// "accept all"; `gpc` says their browser sent the Global Privacy Control signal, which
    /// refuses every type that needs consent, whatever was ticked.
    pub fn choose(
        &self,
        version: &str,
        accepted: &[String],
        gpc: bool,
    ) -> Result<CookieChoice, ChoiceError> {
        if version != self.version {
            return Err(ChoiceError::StaleBanner {
                sent: version.to_string(),
                current: self.version.clone(),
            });
        }
        let mut wanted = BTreeSet::new();
        for name in accepted {
            let kind: CookieType = name.parse().map_err(|_| ChoiceError::UnknownType {
                given: name.clone(),
                declared: self.declared_names(),
            })?;
            if !self.types.contains(&kind) {
                return Err(ChoiceError::NotDeclared {
                    kind,
                    declared: self.declared_names(),
                });
            }
            wanted.insert(kind);
        }
        let source = if gpc {
            ChoiceSource::Gpc
        } else {
            ChoiceSource::Banner
        };
        let (accepted, refused) = self
            .types
            .iter()
            .copied()
            .partition(|t| !needs_consent(*t) || (!gpc && wanted.contains(t)));
        Ok(CookieChoice {
            accepted,
            refused,
            source,
        })
    }

    fn declared_names(&self) -> String {
        if self.types.is_empty() {
            return "none: this website declares no cookies".into();
        }
        self.types
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn texts(controller: &Controller, types: &[CookieType], lang: Lang) -> BannerTexts {
    let t = |key: &str| i18n::t(lang, key).to_string();
    BannerTexts {
        title: t("cookie_banner.title"),
        intro: t("cookie_banner.intro"),
        refuse_all: t("cookie_banner.refuse_all"),
        accept_all: t("cookie_banner.accept_all"),
        settings: t("cookie_banner.settings"),
        settings_title: t("cookie_banner.settings_title"),
        save: t("cookie_banner.save"),
        always_on: t("cookie_banner.always_on"),
        privacy_link: t("cookie_banner.privacy_link"),
        gpc_note: t("cookie_banner.gpc_note"),
        provider: t("statement.cookies.column.provider"),
        lifetime: t("statement.cookies.column.lifetime"),
        types: types
            .iter()
            .map(|&kind| BannerType {
                kind,
                label: i18n::t(lang, &kind.label_key()).to_string(),
                needs_consent: needs_consent(kind),
                cookies: controller
                    .cookies
                    .iter()
                    .filter(|c| c.kind == kind)
                    .map(|c| BannerCookie {
                        name: c.name.clone(),
                        purpose: Localised::of(&c.purpose, lang),
                        provider: c.provider.clone(),
                        lifetime: Localised::of(&c.lifetime, lang),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// The first 16 hex digits of a SHA-256 over what the visitor is shown: the same banner
/// always has the same version, on every instance and after a restart.
fn version(types: &[CookieType], texts: &BTreeMap<Lang, BannerTexts>) -> String {
    // Serialising our own structs cannot fail; an empty input would still give a version.
    let shown = serde_json::to_vec(&(types, texts)).unwrap_or_default();
    let digest = Sha256::digest(&shown);
    hex::encode(&digest[..8])
}

/// Whether a `Sec-GPC` request header asks not to be tracked: only the exact value "1"
/// counts, as the Global Privacy Control specification says; any other value is ignored.
pub fn gpc_requested(header: Option<&[u8]>) -> bool {
    header == Some(b"1".as_slice())
}

/// How a choice was made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChoiceSource {
    /// The visitor clicked in the banner.
    Banner,
    /// The browser sent Global Privacy Control: a refusal of everything that needs consent.
    Gpc,
}

impl ChoiceSource {
    pub fn name(self) -> &'static str {
        match self {
            ChoiceSource::Banner => "banner",
            ChoiceSource::Gpc => "gpc",
        }
    }
}

impl fmt::Display for ChoiceSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChoiceSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "banner" => Ok(ChoiceSource::Banner),
            "gpc" => Ok(ChoiceSource::Gpc),
            other => Err(format!(
                "'{other}' is not a choice source; use banner or gpc"
            )),
        }
    }
}

/// A visitor's choice: every declared type is either accepted or refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CookieChoice {
    pub accepted: BTreeSet<CookieType>,
    pub refused: BTreeSet<CookieType>,
    pub source: ChoiceSource,
}

impl CookieChoice {
    /// Whether cookies of `kind` may be set under this choice.
    pub fn allows(&self, kind: CookieType) -> bool {
        !needs_consent(kind) || self.accepted.contains(&kind)
    }
}

/// The anonymous id the banner script makes at random for a visitor's browser: no personal
/// data, only a way to find the latest choice made in that browser.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct VisitorId(String);

impl VisitorId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for VisitorId {
    type Err = ChoiceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fits = (16..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if fits {
            Ok(VisitorId(s.to_string()))
        } else {
            Err(ChoiceError::InvalidVisitor)
        }
    }
}

/// Why a choice cannot be recorded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChoiceError {
    #[error(
        "the cookie banner changed since the page was loaded (the choice was made on version \
         {sent}, the current version is {current}): reload the page and choose again"
    )]
    StaleBanner { sent: String, current: String },
    #[error("'{given}' is not a type of cookie; this website declares: {declared}")]
    UnknownType { given: String, declared: String },
    #[error(
        "this website does not declare {kind} cookies, so they cannot be accepted; it declares: \
         {declared}"
    )]
    NotDeclared { kind: CookieType, declared: String },
    #[error(
        "the visitor id must be 16 to 64 letters, digits, '-' or '_', made at random by the \
         banner script"
    )]
    InvalidVisitor,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Cookie;

    fn cookie(name: &str, kind: CookieType) -> Cookie {
        Cookie {
            name: name.into(),
            kind,
            purpose: Text::nl(format!("Doel van {name}"))
                .with(Lang::En, format!("Purpose of {name}")),
            provider: None,
            lifetime: Text::nl("13 maanden"),
        }
    }

    fn controller(cookies: Vec<Cookie>) -> Controller {
        let yaml = r#"
id: stad
name: Stad Voorbeeld
address: {street: Grote Markt 1, postcode: "8970", city: Poperinge, country: BE}
dpo: {email: dpo@voorbeeld.be}
supervisory_authorities: [vtc]
rights_contact: {email: privacy@voorbeeld.be}
"#;
        let mut c: Controller = serde_saphyr::from_str(yaml).unwrap();
        c.cookies = cookies;
        c
    }

    fn city() -> Controller {
        controller(vec![
            cookie("Google Analytics", CookieType::Analytics),
            cookie("sessie", CookieType::Functional),
            cookie("YouTube", CookieType::Social),
        ])
    }

    fn names(types: &[&str]) -> Vec<String> {
        types.iter().map(|t| t.to_string()).collect()
    }

    #[test]
    fn the_banner_lists_declared_types_functional_first_with_their_cookies() {
        let banner = Banner::of(&city());
        assert_eq!(
            banner.types,
            [
                CookieType::Functional,
                CookieType::Analytics,
                CookieType::Social
            ]
        );
        assert_eq!(
            banner.consent_types().collect::<Vec<_>>(),
            [CookieType::Analytics, CookieType::Social]
        );
        let en = &banner.texts[&Lang::En];
        assert_eq!(en.refuse_all, "Refuse all");
        assert_eq!(en.accept_all, "Accept all");
        assert!(!en.types[0].needs_consent);
        assert!(en.types[1].needs_consent);
        assert_eq!(
            en.types[1].cookies[0].purpose.text,
            "Purpose of Google Analytics"
        );
        // French is missing: the Dutch text, marked as Dutch.
        let fr = &banner.texts[&Lang::Fr].types[1].cookies[0];
        assert_eq!(fr.purpose.lang, Lang::Nl);
        assert_eq!(fr.purpose.text, "Doel van Google Analytics");
        assert_eq!(banner.texts[&Lang::Nl].refuse_all, "Alles weigeren");
    }

    #[test]
    fn the_version_is_stable_and_follows_the_declared_cookies() {
        let a = Banner::of(&city());
        assert_eq!(a.version, Banner::of(&city()).version);
        assert_eq!(a.version.len(), 16);

        let mut renamed = city();
        renamed.cookies[0].name = "Matomo".into();
        assert_ne!(a.version, Banner::of(&renamed).version);

        let mut longer = city();
        longer.cookies[1].lifetime = Text::nl("2 jaar");
        assert_ne!(a.version, Banner::of(&longer).version);

        let mut more = city();
        more.cookies
            .push(cookie("Advertenties", CookieType::Marketing));
        assert_ne!(a.version, Banner::of(&more).version);

        // What the visitor is not shown does not ask again: the controller's other fields.
        let mut other = city();
        other.email = Some("nieuw@voorbeeld.be".into());
        assert_eq!(a.version, Banner::of(&other).version);
    }

    #[test]
    fn functional_is_always_accepted_and_the_rest_only_when_chosen() {
        let banner = Banner::of(&city());
        let refuse_all = banner.choose(&banner.version, &[], false).unwrap();
        assert_eq!(
            refuse_all.accepted,
            BTreeSet::from([CookieType::Functional])
        );
        assert_eq!(
            refuse_all.refused,
            BTreeSet::from([CookieType::Analytics, CookieType::Social])
        );
        assert_eq!(refuse_all.source, ChoiceSource::Banner);
        assert!(refuse_all.allows(CookieType::Functional));
        assert!(!refuse_all.allows(CookieType::Analytics));

        let one = banner
            .choose(&banner.version, &names(&["analytics"]), false)
            .unwrap();
        assert!(one.allows(CookieType::Analytics));
        assert!(!one.allows(CookieType::Social));
        assert_eq!(one.refused, BTreeSet::from([CookieType::Social]));

        // Naming functional changes nothing: it is on either way.
        let with_functional = banner
            .choose(&banner.version, &names(&["functional", "analytics"]), false)
            .unwrap();
        assert_eq!(with_functional, one);
    }

    #[test]
    fn gpc_refuses_every_type_that_needs_consent() {
        let banner = Banner::of(&city());
        let choice = banner
            .choose(&banner.version, &names(&["analytics", "social"]), true)
            .unwrap();
        assert_eq!(choice.source, ChoiceSource::Gpc);
        assert_eq!(choice.accepted, BTreeSet::from([CookieType::Functional]));
        assert_eq!(
            choice.refused,
            BTreeSet::from([CookieType::Analytics, CookieType::Social])
        );
    }

    #[test]
    fn only_the_exact_header_value_1_is_gpc() {
        assert!(gpc_requested(Some(b"1")));
        for ignored in [b"0".as_slice(), b"true", b" 1", b"1 ", b"11", b"", b"yes"] {
            assert!(!gpc_requested(Some(ignored)), "{ignored:?}");
        }
        assert!(!gpc_requested(None));
    }

    #[test]
    fn stale_unknown_and_undeclared_choices_are_refused() {
        let banner = Banner::of(&city());
        let err = banner.choose("0123456789abcdef", &[], false).unwrap_err();
        assert!(matches!(err, ChoiceError::StaleBanner { .. }), "{err}");
        assert!(err.to_string().contains("reload the page"));

        let err = banner
            .choose(&banner.version, &names(&["tracking"]), false)
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("'tracking' is not a type of cookie"),
            "{err}"
        );
        assert!(
            err.to_string().contains("functional, analytics, social"),
            "{err}"
        );

        let err = banner
            .choose(&banner.version, &names(&["marketing"]), false)
            .unwrap_err();
        assert_eq!(
            err,
            ChoiceError::NotDeclared {
                kind: CookieType::Marketing,
                declared: "functional, analytics, social".into()
            }
        );
    }

    #[test]
    fn a_website_without_cookies_has_nothing_to_ask() {
        let banner = Banner::of(&controller(vec![]));
        assert!(banner.types.is_empty());
        let choice = banner.choose(&banner.version, &[], false).unwrap();
        assert!(choice.accepted.is_empty() && choice.refused.is_empty());
        let err = banner
            .choose(&banner.version, &names(&["analytics"]), false)
            .unwrap_err();
        assert!(err.to_string().contains("declares no cookies"), "{err}");
    }

    #[test]
    fn visitor_ids_are_random_tokens_not_anything_else() {
        assert!(
            "3f2a9c0d4e5b6a7f8091a2b3c4d5e6f7"
                .parse::<VisitorId>()
                .is_ok()
        );
        assert!(
            "0195f3a2-7c1d-7a3e-9b2f-1c2d3e4f5a6b"
                .parse::<VisitorId>()
                .is_ok()
        );
        for bad in [
            "short",
            "anna.peeters@example.be",
            "<script>alert(1)</script>xxxxxx",
            &"a".repeat(65),
            "",
        ] {
            assert_eq!(
                bad.parse::<VisitorId>(),
                Err(ChoiceError::InvalidVisitor),
                "{bad}"
            );
        }
    }

    #[test]
    fn sources_round_trip() {
        for s in [ChoiceSource::Banner, ChoiceSource::Gpc] {
            assert_eq!(s.name().parse::<ChoiceSource>(), Ok(s));
        }
        assert!("paper".parse::<ChoiceSource>().is_err());
    }
}
