//! Keys written as text: `ID:BASE64` key lines (in the configuration, or printed by
//! `kluis keys generate`) and the key file.
//!
//! The key file is TOML with the same key lines:
//!
//! ```toml
//! keys = [
//!     "2026-11-23-3fa9c1:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",  # current
//!     "2025-06-02-77b0e4:...",                                         # older
//! ]
//! pseudonym_key = "..."
//! ```

use std::fmt::Write;
use std::ops::Range;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use toml::Spanned;
use zeroize::Zeroizing;

use crate::{KEY_LEN, KeyError, Keyring, check_key_id, new_key_id, random_key};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    keys: Spanned<Vec<Spanned<String>>>,
    pseudonym_key: Spanned<String>,
}

impl Keyring {
    /// Reads the key file. Errors name the line and never show key material.
    pub fn from_key_file_text(text: &str) -> Result<Keyring, KeyError> {
        let file: KeyFile = toml::from_str(text).map_err(|e| KeyError::KeyFile {
            line: e.span().map_or(1, |s| line_of(text, &s)),
            problem: e.message().trim().to_string(),
        })?;
        let at = |span: Range<usize>| {
            let line = line_of(text, &span);
            move |e: KeyError| KeyError::KeyFile {
                line,
                problem: e.to_string(),
            }
        };
        if file.keys.get_ref().is_empty() {
            return Err(at(file.keys.span())(KeyError::NoKeys));
        }
        let mut keys = Vec::with_capacity(file.keys.get_ref().len());
        for entry in file.keys.get_ref() {
            keys.push(parse_key_line(entry.get_ref()).map_err(at(entry.span()))?);
        }
        let pseudonym_key = parse_pseudonym_key(file.pseudonym_key.get_ref())
            .map_err(at(file.pseudonym_key.span()))?;
        Keyring::from_parts(keys, pseudonym_key).map_err(at(file.keys.span()))
    }

    /// The key file for this keyring, with a comment on how to keep it.
    pub fn to_key_file_text(&self) -> Zeroizing<String> {
        let (keys, pseudonym_key) = self.secrets();
        // Written in place into one buffer large enough not to move, so no copy of a key
        // stays behind in freed memory.
        let mut text = Zeroizing::new(String::with_capacity(1024 + 128 * keys.len()));
        text.push_str(
            "# The keys of kluis: they encrypt personal data at rest.\n\
             # Back this file up, and keep the backup apart from database backups: whoever\n\
             # holds both can read the personal data; whoever loses this file cannot.\n\
             # The first key encrypts new data; older keys decrypt data written before a\n\
             # rotation (`kluis keys rotate`). The pseudonym key never changes: the\n\
             # processing log names data subjects by pseudonyms made with it.\n\
             keys = [\n",
        );
        for (id, key) in keys {
            let _ = write!(text, "    \"{id}:");
            STANDARD.encode_string(key, &mut text);
            text.push_str("\",\n");
        }
        text.push_str("]\npseudonym_key = \"");
        STANDARD.encode_string(pseudonym_key, &mut text);
        text.push_str("\"\n");
        text
    }

    /// A keyring from key lines (`ID:BASE64`, current first) and a base64 pseudonym key,
    /// as given inline in the configuration.
    pub fn from_key_lines<S: AsRef<str>>(
        lines: &[S],
        pseudonym_key: &str,
    ) -> Result<Keyring, KeyError> {
        let keys = lines
            .iter()
            .map(|l| parse_key_line(l.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Keyring::from_parts(keys, parse_pseudonym_key(pseudonym_key)?)
    }
}

/// Reads one `ID:BASE64` key line.
pub fn parse_key_line(line: &str) -> Result<(String, Zeroizing<[u8; KEY_LEN]>), KeyError> {
    let Some((id, encoded)) = line.trim().split_once(':') else {
        return Err(KeyError::KeyLine(
            "there is no ':' between the id and the key".into(),
        ));
    };
    // The id is not echoed here: in a mangled line it may be key material.
    if check_key_id(id).is_err() {
        return Err(KeyError::KeyLine(
            "the id before ':' must have 1 to 32 characters from a-z, 0-9, '-' and '_'".into(),
        ));
    }
    let key = decode_key(encoded).map_err(|problem| KeyError::InvalidKey {
        id: id.to_string(),
        problem,
    })?;
    Ok((id.to_string(), key))
}

fn parse_pseudonym_key(encoded: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    decode_key(encoded).map_err(KeyError::PseudonymKey)
}

/// The 32 bytes of a base64 key, or what is wrong with it (without showing it).
fn decode_key(encoded: &str) -> Result<Zeroizing<[u8; KEY_LEN]>, String> {
    let bytes = Zeroizing::new(
        STANDARD
            .decode(encoded.trim())
            .map_err(|_| "it is not base64".to_string())?,
    );
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    if bytes.len() != KEY_LEN {
        return Err(format!(
            "it holds {} bytes instead of {KEY_LEN}",
            bytes.len()
        ));
    }
    key.copy_from_slice(&bytes);
    Ok(key)
}

/// A fresh `ID:BASE64` key line, for `kluis keys generate`.
pub fn generate_key_line() -> Result<Zeroizing<String>, KeyError> {
    let mut line = Zeroizing::new(new_key_id(&[])?);
    line.reserve(1 + 4 * KEY_LEN.div_ceil(3));
    line.push(':');
    STANDARD.encode_string(random_key()?.as_slice(), &mut line);
    Ok(line)
}

/// A fresh base64 pseudonym key, for `kluis keys generate --pseudonym`.
pub fn generate_pseudonym_key() -> Result<Zeroizing<String>, KeyError> {
    Ok(Zeroizing::new(STANDARD.encode(random_key()?.as_slice())))
}

/// The 1-based line of `text` a span starts on.
fn line_of(text: &str, span: &Range<usize>) -> usize {
    let end = span.start.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}
