//! Languages citizens read kluis in, and register text written in one or more of them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A language of the public pages: Dutch, English or French.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Nl,
    En,
    Fr,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Nl, Lang::En, Lang::Fr];

    /// The BCP 47 tag used in `lang` attributes and `Content-Language`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nl => "nl",
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// The first supported language of an HTTP `Accept-Language` header, honouring q-values.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.trim().split(';');
                let tag = pieces.next()?.trim();
                let primary = tag.split('-').next()?.to_ascii_lowercase();
                let lang = primary.parse::<Lang>().ok()?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        // Stable sort keeps the header's order among equal weights.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, l)| *l)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "nl" => Ok(Lang::Nl),
            "en" => Ok(Lang::En),
            "fr" => Ok(Lang::Fr),
            _ => Err(UnknownLang(s.to_string())),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language '{0}': use nl, en or fr")]
pub struct UnknownLang(pub String);

/// Text in the register, written by the DPO in one or more languages.
///
/// In YAML a plain string is Dutch (the register language of the seeds); a map gives
/// translations: `{nl: Camerabewaking, en: Camera surveillance}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(BTreeMap<Lang, String>);

impl Text {
    /// Dutch text only.
    pub fn nl(s: impl Into<String>) -> Self {
        let mut m = BTreeMap::new();
        m.insert(Lang::Nl, s.into());
        Text(m)
    }

    pub fn with(mut self, lang: Lang, s: impl Into<String>) -> Self {
        self.0.insert(lang, s.into());
        self
    }

    pub fn is_blank(&self) -> bool {
        self.0.values().all(|v| v.trim().is_empty())
    }

    /// The text in `lang`, or else in the first language it exists in, with that language,
    /// so pages can mark a fallback with its own `lang` attribute.
    pub fn get(&self, lang: Lang) -> Option<(Lang, &str)> {
        if let Some(s) = self.0.get(&lang).filter(|s| !s.trim().is_empty()) {
            return Some((lang, s));
        }
        Lang::ALL.iter().find_map(|l| {
            self.0
                .get(l)
                .filter(|s| !s.trim().is_empty())
                .map(|s| (*l, s.as_str()))
        })
    }

    /// The text in `lang` or its fallback, or "" when the text is blank.
    pub fn show(&self, lang: Lang) -> &str {
        self.get(lang).map(|(_, s)| s).unwrap_or("")
    }

    pub fn languages(&self) -> impl Iterator<Item = Lang> + '_ {
        self.0.keys().copied()
    }
}

impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // A Dutch-only text goes back out as the plain string it came in as.
        match (self.0.len(), self.0.get(&Lang::Nl)) {
            (1, Some(nl)) => s.serialize_str(nl),
            _ => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Plain(String),
            Translated(BTreeMap<Lang, String>),
        }
        match Repr::deserialize(d) {
            Ok(Repr::Plain(s)) => Ok(Text::nl(s)),
            Ok(Repr::Translated(m)) => Ok(Text(m)),
            Err(_) => Err(serde::de::Error::custom(
                "expected a text: a string (Dutch) or a map of languages, e.g. {nl: ..., en: ..., fr: ...}",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_honours_weights_and_skips_unknown() {
        assert_eq!(
            Lang::from_accept_language("de-DE, fr;q=0.8, en;q=0.9"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("nl-BE"), Some(Lang::Nl));
        assert_eq!(Lang::from_accept_language("de, es"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn text_falls_back_to_an_existing_language() {
        let t = Text::nl("Camerabewaking");
        assert_eq!(t.get(Lang::Fr), Some((Lang::Nl, "Camerabewaking")));
        let t = t.with(Lang::Fr, "Vidéosurveillance");
        assert_eq!(t.get(Lang::Fr), Some((Lang::Fr, "Vidéosurveillance")));
    }
}
