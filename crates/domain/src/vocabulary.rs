//! Controlled vocabularies of the register: each term has a stable snake_case name used in
//! YAML, JSON, the database and translation keys (`<kind>.<name>` in `locales/*.toml`).

/// Defines an enum whose variants are the terms of one vocabulary.
///
/// Every term gets its YAML/JSON name, and the vocabulary gets `ALL`, `name()`, `FromStr`
/// and the translation key prefix.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $prefix:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $term:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $term)] $variant ),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// Prefix of this vocabulary's translation keys.
            pub const KIND: &'static str = $prefix;

            /// The term's stable name, as written in YAML.
            pub fn name(self) -> &'static str {
                match self { $($name::$variant => $term),+ }
            }

            /// The translation key of the term's label.
            pub fn label_key(self) -> String {
                format!("{}.{}", $prefix, self.name())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::vocabulary::UnknownTerm;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|t| t.name() == s).ok_or_else(|| {
                    $crate::vocabulary::UnknownTerm {
                        kind: $prefix,
                        given: s.to_string(),
                        allowed: $name::ALL.iter().map(|t| t.name()).collect::<Vec<_>>().join(", "),
                    }
                })
            }
        }
    };
}

/// A word that is not a term of the vocabulary it was used in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{given}' is not a known {kind}; use one of: {allowed}")]
pub struct UnknownTerm {
    pub kind: &'static str,
    pub given: String,
    pub allowed: String,
}
