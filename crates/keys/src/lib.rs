//! The secrets of kluis: encryption of personal data at rest, blind indexes to find it
//! again, and pseudonyms for the processing log, all derived from configured keys.
//!
//! # Keys
//!
//! A [`Keyring`] holds one or more 32-byte *master keys*, each with an id; the first is
//! current and encrypts new data, older ones only decrypt data written before a rotation
//! (`kluis keys rotate` puts a fresh key first and keeps the others). Each master key is
//! never used directly: HKDF-SHA256 derives one sub-key per purpose (info
//! `"kluis aead v1"` and `"kluis blind index v1"`), so a blind index reveals nothing about
//! the encryption key.
//!
//! A separate *pseudonym key* is never rotated: the pseudonyms it makes stand in the
//! append-only processing log, which must name the same data subject the same way forever.
//!
//! # Envelope
//!
//! [`Keyring::encrypt`] returns one byte string:
//!
//! ```text
//! "k1"          2 bytes  'k' for kluis, '1' the format version (a new format gets a new digit)
//! id length     1 byte   1..=32
//! key id        that many ASCII bytes
//! nonce         24 bytes random
//! ciphertext    as long as the plaintext, then the 16-byte Poly1305 tag
//! ```
//!
//! The cipher is XChaCha20-Poly1305: a random 192-bit nonce never repeats in practice, so
//! no counter has to be kept across server instances. The associated data authenticated
//! with the ciphertext is the header (version, id length, key id) followed by the caller's
//! `aad`, by convention `"table/column/row-id"`: a value copied into another row or column,
//! or a header edited to name another key, fails to decrypt.
//!
//! # Blind indexes and pseudonyms
//!
//! A blind index is HMAC-SHA256 over `kind || 0x00 || normalised value` under the current
//! key's blind-index sub-key: equal values give equal indexes, so the database can look a
//! person up without holding the value in the clear. During a rotation
//! [`Keyring::blind_indexes`] gives the index under every key, current first.
//!
//! A pseudonym is the hex of the first 16 bytes of HMAC-SHA256 over the same input under a
//! sub-key of the pseudonym key (info `"kluis pseudonym v1"`).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, Zeroizing};

mod file;

pub use file::{generate_key_line, generate_pseudonym_key, parse_key_line};

/// Length of a master key and of the pseudonym key.
pub const KEY_LEN: usize = 32;
/// Longest key id; ids use only `a-z`, `0-9`, `-` and `_`.
pub const MAX_KEY_ID_LEN: usize = 32;

/// Magic and version at the start of every envelope.
const ENVELOPE_V1: &[u8; 2] = b"k1";
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

const AEAD_INFO: &[u8] = b"kluis aead v1";
const BLIND_INDEX_INFO: &[u8] = b"kluis blind index v1";
const PSEUDONYM_INFO: &[u8] = b"kluis pseudonym v1";
const PROJECT_PSEUDONYM_INFO: &[u8] = b"kluis project pseudonym v1";
const LINK_INFO: &[u8] = b"kluis link v1";

/// Bytes of HMAC-SHA256 kept in a signed link: 128 bits is beyond guessing, and keeps links
/// short enough for a mail client not to wrap them.
pub const LINK_TAG_LEN: usize = 16;
/// The longest signed link accepted: anything longer was never made by kluis.
pub const MAX_LINK_LEN: usize = 512;

type HmacSha256 = Hmac<Sha256>;

/// The keyed pseudonyms of one project ([`Keyring::project_pseudonyms`]): the same as
/// [`Keyring::pseudonym_for_project`] gives, with the HMAC keyed once.
#[derive(Clone)]
pub struct ProjectPseudonyms {
    mac: HmacSha256,
}

impl ProjectPseudonyms {
    /// The pseudonym of `value` in this project: 32 hex digits.
    pub fn pseudonym(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }
}

impl fmt::Debug for ProjectPseudonyms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProjectPseudonyms(..)")
    }
}

/// Something wrong with keys or with encrypted data, said so the operator knows what to do.
///
/// No message ever contains key material or decrypted data.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the keyring has no key: generate one with `kluis keys generate`")]
    NoKeys,
    #[error("'{0}' is not a valid key id: use 1 to 32 characters from a-z, 0-9, '-' and '_'")]
    InvalidKeyId(String),
    #[error("key id '{0}' is used twice: every key needs its own id")]
    DuplicateKeyId(String),
    #[error("key '{id}' is not valid: {problem}; generate a key with `kluis keys generate`")]
    InvalidKey { id: String, problem: String },
    #[error("a key must be written as ID:BASE64, as `kluis keys generate` prints it: {0}")]
    KeyLine(String),
    #[error(
        "the pseudonym key is not valid: {0}; it must be the base64 of 32 bytes, as \
         `kluis keys generate --pseudonym` prints it"
    )]
    PseudonymKey(String),
    #[error("line {line} of the key file: {problem}")]
    KeyFile { line: usize, problem: String },
    #[error("cannot get random bytes from the operating system: {0}")]
    Random(String),
    #[error("this value was not encrypted by kluis, or it was cut short: restore it from a backup")]
    NotAnEnvelope,
    #[error(
        "this value was encrypted in envelope format version '{0}', which this version of \
         kluis cannot read: upgrade kluis"
    )]
    UnsupportedVersion(char),
    #[error(
        "this value was encrypted with key '{0}', which is not configured: add that key back \
         to the key file or configuration, after the current key"
    )]
    UnknownKey(String),
    #[error(
        "cannot decrypt this value: it was changed, copied from another row or column, or \
         encrypted under another key with the same id; restore it from a backup"
    )]
    Tampered,
    #[error("cannot encrypt this value: it is too large")]
    TooLarge,
}

/// One master key and what is derived from it.
#[derive(Clone)]
struct MasterKey {
    id: String,
    /// Kept for writing the key file; used only through the derived keys below.
    master: Zeroizing<[u8; KEY_LEN]>,
    cipher: XChaCha20Poly1305,
    blind_index_key: Zeroizing<[u8; KEY_LEN]>,
}

impl MasterKey {
    fn new(id: String, master: Zeroizing<[u8; KEY_LEN]>) -> MasterKey {
        let aead_key = derive(&master, AEAD_INFO);
        // Borrowed as an `Array`, so no copy of the key is left on the stack.
        let cipher = XChaCha20Poly1305::new((&*aead_key).into());
        let blind_index_key = derive(&master, BLIND_INDEX_INFO);
        MasterKey {
            id,
            master,
            cipher,
            blind_index_key,
        }
    }
}

/// The keys of one kluis installation. Cheap enough to clone; wipes its keys when dropped.
#[derive(Clone)]
pub struct Keyring {
    /// Never empty; the first is current.
    keys: Vec<MasterKey>,
    pseudonym_key: Zeroizing<[u8; KEY_LEN]>,
    pseudonym_subkey: Zeroizing<[u8; KEY_LEN]>,
    /// Signs the links kluis mails (unsubscribe, portal); derived from the pseudonym key so
    /// that a key rotation does not break the links in mail already sent.
    link_key: Zeroizing<[u8; KEY_LEN]>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.key_ids())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring of `keys` (id, 32-byte master key), the first being current, and the
    /// pseudonym key. Ids have 1 to 32 characters from `a-z`, `0-9`, `-`, `_` and are unique.
    ///
    /// The arrays passed in are wiped.
    pub fn new(
        mut keys: Vec<(String, [u8; KEY_LEN])>,
        mut pseudonym_key: [u8; KEY_LEN],
    ) -> Result<Keyring, KeyError> {
        let owned = keys
            .iter_mut()
            .map(|(id, key)| {
                let master = Zeroizing::new(*key);
                key.zeroize();
                (std::mem::take(id), master)
            })
            .collect();
        let pseudonym = Zeroizing::new(pseudonym_key);
        pseudonym_key.zeroize();
        Keyring::from_parts(owned, pseudonym)
    }

    fn from_parts(
        keys: Vec<(String, Zeroizing<[u8; KEY_LEN]>)>,
        pseudonym_key: Zeroizing<[u8; KEY_LEN]>,
    ) -> Result<Keyring, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::NoKeys);
        }
        let mut seen = Vec::with_capacity(keys.len());
        for (id, key) in &keys {
            check_key_id(id)?;
            if seen.contains(&id) {
                return Err(KeyError::DuplicateKeyId(id.clone()));
            }
            seen.push(id);
            if key.iter().all(|b| *b == 0) {
                return Err(KeyError::InvalidKey {
                    id: id.clone(),
                    problem: "it is all zeros".into(),
                });
            }
        }
        if pseudonym_key.iter().all(|b| *b == 0) {
            return Err(KeyError::PseudonymKey("it is all zeros".into()));
        }
        let pseudonym_subkey = derive(&pseudonym_key, PSEUDONYM_INFO);
        let link_key = derive(&pseudonym_key, LINK_INFO);
        Ok(Keyring {
            keys: keys
                .into_iter()
                .map(|(id, key)| MasterKey::new(id, key))
                .collect(),
            pseudonym_key,
            pseudonym_subkey,
            link_key,
        })
    }

    /// A keyring with one fresh random key and a fresh pseudonym key: for tests and for the
    /// first start of an installation.
    pub fn generate() -> Result<Keyring, KeyError> {
        let id = new_key_id(&[])?;
        Keyring::from_parts(vec![(id, random_key()?)], random_key()?)
    }

    /// This keyring with a fresh key in front, as current; the older keys stay for
    /// decryption, the pseudonym key stays as it is. For `kluis keys rotate`.
    pub fn with_new_current_key(&self) -> Result<Keyring, KeyError> {
        let ids = self.key_ids();
        let id = new_key_id(&ids)?;
        let mut keys = vec![(id, random_key()?)];
        keys.extend(self.keys.iter().map(|k| (k.id.clone(), k.master.clone())));
        Keyring::from_parts(keys, self.pseudonym_key.clone())
    }

    /// The id of the key new data is encrypted with.
    pub fn current_key_id(&self) -> &str {
        &self.current().id
    }

    /// Every key id, current first.
    pub fn key_ids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.id.as_str()).collect()
    }

    fn current(&self) -> &MasterKey {
        // `from_parts` refuses an empty list, so there is always a first key.
        &self.keys[0]
    }

    /// Encrypts `plaintext` under the current key, bound to `aad` (`"table/column/row-id"`).
    pub fn encrypt(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, KeyError> {
        let key = self.current();
        let mut envelope = header(&key.id);
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce)?;
        let nonce = XNonce::from(nonce);
        let full_aad = [envelope.as_slice(), aad].concat();
        let ciphertext = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| KeyError::TooLarge)?;
        envelope.reserve(NONCE_LEN + ciphertext.len());
        envelope.extend_from_slice(&nonce);
        envelope.extend_from_slice(&ciphertext);
        Ok(envelope)
    }

    /// Decrypts an envelope made by [`Keyring::encrypt`] with any configured key, found by
    /// the id in the envelope. The `aad` must be the one given when encrypting.
    pub fn decrypt(&self, aad: &[u8], envelope: &[u8]) -> Result<Vec<u8>, KeyError> {
        let parsed = Envelope::parse(envelope)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == parsed.key_id)
            .ok_or_else(|| KeyError::UnknownKey(parsed.key_id.to_string()))?;
        let full_aad = [parsed.header, aad].concat();
        key.cipher
            .decrypt(
                &XNonce::from(parsed.nonce),
                Payload {
                    msg: parsed.ciphertext,
                    aad: &full_aad,
                },
            )
            .map_err(|_| KeyError::Tampered)
    }

    /// Whether `envelope` is encrypted under the current key. `false` (also for anything
    /// that is not an envelope) means a rotation must re-encrypt it.
    pub fn is_current(&self, envelope: &[u8]) -> bool {
        Envelope::parse(envelope).is_ok_and(|e| e.key_id == self.current_key_id())
    }

    /// The blind index of a normalised value of an identifier `kind` (e.g.
    /// `"national_number"`) under the current key.
    pub fn blind_index(&self, kind: &str, normalised: &str) -> [u8; 32] {
        blind_index_under(self.current(), kind, normalised)
    }

    /// The blind index under every key, current first: during a rotation a row may still
    /// carry an index made with an older key.
    pub fn blind_indexes(&self, kind: &str, normalised: &str) -> Vec<[u8; 32]> {
        self.keys
            .iter()
            .map(|k| blind_index_under(k, kind, normalised))
            .collect()
    }

    /// The pseudonym of a data subject identified by a normalised value of `kind`: 32 hex
    /// digits, the same forever (it does not depend on the rotated keys).
    pub fn pseudonym(&self, kind: &str, normalised: &str) -> String {
        let mac = hmac_sha256(
            &self.pseudonym_subkey,
            &[kind.as_bytes(), &[0], normalised.as_bytes()],
        );
        hex::encode(&mac[..16])
    }

    /// A pseudonym of `value` that only holds within `project` (e.g. a statistics export):
    /// the key is derived from the pseudonym key with the project in the HKDF info, so two
    /// projects cannot link their data subjects.
    pub fn pseudonym_for_project(&self, project: &str, value: &str) -> String {
        self.project_pseudonyms(project).pseudonym(value)
    }

    /// The pseudonyms of one project, its key derived once: for pseudonymising a whole
    /// extract, where deriving the key per person would cost most of the time.
    pub fn project_pseudonyms(&self, project: &str) -> ProjectPseudonyms {
        let info = [PROJECT_PSEUDONYM_INFO, &[0], project.as_bytes()].concat();
        let key = derive(&self.pseudonym_key, &info);
        ProjectPseudonyms {
            mac: <HmacSha256 as hmac::KeyInit>::new_from_slice(key.as_slice())
                .expect("HMAC takes keys of any length"),
        }
    }

    /// `payload` with its HMAC, as URL-safe base64 without padding: a link that works
    /// without login or cookies, and that nobody without the key can forge or alter.
    pub fn sign_link(&self, payload: &[u8]) -> String {
        let tag = hmac_sha256(&self.link_key, &[payload]);
        let mut token = payload.to_vec();
        token.extend_from_slice(&tag[..LINK_TAG_LEN]);
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The payload of a link made by [`Keyring::sign_link`], or `None` when the link is not
    /// one: malformed, truncated, altered or signed with another key. The tag is compared
    /// in constant time, so timing does not tell how much of a forged tag was right.
    pub fn open_link(&self, token: &str) -> Option<Vec<u8>> {
        if token.len() > MAX_LINK_LEN {
            return None;
        }
        let mut bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
        let payload_len = bytes.len().checked_sub(LINK_TAG_LEN)?;
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&*self.link_key)
            .expect("HMAC takes keys of any length");
        mac.update(&bytes[..payload_len]);
        mac.verify_truncated_left(&bytes[payload_len..]).ok()?;
        bytes.truncate(payload_len);
        Some(bytes)
    }

    /// The master keys and the pseudonym key, for writing the key file.
    fn secrets(&self) -> (Vec<(&str, &[u8; KEY_LEN])>, &[u8; KEY_LEN]) {
        let keys = self
            .keys
            .iter()
            .map(|k| (k.id.as_str(), &*k.master))
            .collect();
        (keys, &self.pseudonym_key)
    }
}

/// The parts of an envelope, borrowed from it.
struct Envelope<'a> {
    /// Version, id length and key id: authenticated with the ciphertext.
    header: &'a [u8],
    key_id: &'a str,
    nonce: [u8; NONCE_LEN],
    ciphertext: &'a [u8],
}

impl<'a> Envelope<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Envelope<'a>, KeyError> {
        match bytes {
            [b'k', b'1', ..] => {}
            [b'k', version, ..] if version.is_ascii_digit() => {
                return Err(KeyError::UnsupportedVersion(char::from(*version)));
            }
            _ => return Err(KeyError::NotAnEnvelope),
        }
        let id_len = usize::from(*bytes.get(2).ok_or(KeyError::NotAnEnvelope)?);
        let header_len = ENVELOPE_V1.len() + 1 + id_len;
        if id_len == 0 || id_len > MAX_KEY_ID_LEN || bytes.len() < header_len + NONCE_LEN + TAG_LEN
        {
            return Err(KeyError::NotAnEnvelope);
        }
        let (header, rest) = bytes.split_at(header_len);
        let key_id = std::str::from_utf8(&header[3..]).map_err(|_| KeyError::NotAnEnvelope)?;
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = nonce.try_into().map_err(|_| KeyError::NotAnEnvelope)?;
        Ok(Envelope {
            header,
            key_id,
            nonce,
            ciphertext,
        })
    }
}

/// The envelope header for key `id`; ids are checked to be 1..=32 ASCII bytes.
fn header(id: &str) -> Vec<u8> {
    let mut h = Vec::with_capacity(ENVELOPE_V1.len() + 1 + id.len());
    h.extend_from_slice(ENVELOPE_V1);
    h.push(id.len() as u8);
    h.extend_from_slice(id.as_bytes());
    h
}

fn blind_index_under(key: &MasterKey, kind: &str, normalised: &str) -> [u8; 32] {
    hmac_sha256(
        &key.blind_index_key,
        &[kind.as_bytes(), &[0], normalised.as_bytes()],
    )
}

/// HKDF-SHA256 of `key` (no salt: the input is already a uniformly random key) for `info`.
fn derive(key: &[u8; KEY_LEN], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, key)
        .expand(info, out.as_mut_slice())
        .expect("HKDF-SHA256 gives up to 8160 bytes; 32 are asked");
    out
}

fn hmac_sha256(key: &[u8; KEY_LEN], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac =
        <HmacSha256 as hmac::KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

fn fill_random(bytes: &mut [u8]) -> Result<(), KeyError> {
    getrandom::fill(bytes).map_err(|e| KeyError::Random(e.to_string()))
}

fn random_key() -> Result<Zeroizing<[u8; KEY_LEN]>, KeyError> {
    let mut key = Zeroizing::new([0u8; KEY_LEN]);
    fill_random(key.as_mut_slice())?;
    Ok(key)
}

/// A new key id: today's date and six random hex digits, e.g. `2026-11-23-3fa9c1`, so an
/// operator sees which key is older; it differs from every id in `taken`.
fn new_key_id(taken: &[&str]) -> Result<String, KeyError> {
    let today = time::OffsetDateTime::now_utc().date();
    loop {
        let mut suffix = [0u8; 3];
        fill_random(&mut suffix)?;
        let id = format!(
            "{:04}-{:02}-{:02}-{}",
            today.year(),
            u8::from(today.month()),
            today.day(),
            hex::encode(suffix)
        );
        if !taken.contains(&id.as_str()) {
            return Ok(id);
        }
    }
}

fn check_key_id(id: &str) -> Result<(), KeyError> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if id.is_empty() || id.len() > MAX_KEY_ID_LEN || !id.chars().all(allowed) {
        return Err(KeyError::InvalidKeyId(id.to_string()));
    }
    Ok(())
}

#[cfg(test)]
mod tests;

/// `url` with the password, if any, replaced by `****`: safe to log and print. Database
/// URLs of kluis and of the systems it connects to carry passwords.
pub fn mask_password(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:****{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}
