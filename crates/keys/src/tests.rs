use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

const AAD: &[u8] = b"subject/national_number/42";

/// A keyring with known keys, so tests can look for them in output.
fn fixed() -> Keyring {
    Keyring::new(vec![("k1".into(), [1; 32])], [2; 32]).unwrap()
}

fn rotated() -> (Keyring, Keyring) {
    let old = Keyring::generate().unwrap();
    let new = old.with_new_current_key().unwrap();
    (old, new)
}

#[test]
fn encrypts_and_decrypts() {
    let ring = Keyring::generate().unwrap();
    for plaintext in [&b""[..], b"85073003328", &[0xff; 10_000]] {
        let envelope = ring.encrypt(AAD, plaintext).unwrap();
        assert!(envelope.starts_with(b"k1"));
        assert_eq!(ring.decrypt(AAD, &envelope).unwrap(), plaintext);
    }
    // A fresh nonce each time: equal values do not give equal ciphertexts.
    assert_ne!(
        ring.encrypt(AAD, b"x").unwrap(),
        ring.encrypt(AAD, b"x").unwrap()
    );
}

#[test]
fn the_envelope_format_of_version_1_stays_readable() {
    // Made once with `fixed()` and checked independently (Python `cryptography`'s
    // ChaCha20Poly1305 after HChaCha20, RFC 5869 HKDF). If this fails, data encrypted by
    // earlier versions can no longer be read.
    let envelope = hex::decode(
        "6b31026b31a5903e7279706abf4a287d8f31ba5e1c935817f9c3b4ae\
         bc8b8d6db4643c977c938589c2fb9b667d534291d370ca5d88a452c5",
    )
    .unwrap();
    assert_eq!(fixed().decrypt(AAD, &envelope).unwrap(), b"85073003328");
}

#[test]
fn another_aad_is_refused() {
    let ring = Keyring::generate().unwrap();
    let envelope = ring.encrypt(AAD, b"85073003328").unwrap();
    for other in [&b"subject/national_number/43"[..], b"", b"subject/bsn/42"] {
        assert!(matches!(
            ring.decrypt(other, &envelope),
            Err(KeyError::Tampered)
        ));
    }
}

#[test]
fn every_flipped_bit_is_refused() {
    let ring = fixed();
    let envelope = ring.encrypt(AAD, b"85073003328").unwrap();
    for byte in 0..envelope.len() {
        for bit in 0..8 {
            let mut changed = envelope.clone();
            changed[byte] ^= 1 << bit;
            assert!(
                ring.decrypt(AAD, &changed).is_err(),
                "bit {bit} of byte {byte} flipped and still decrypted"
            );
        }
    }
}

#[test]
fn what_is_not_an_envelope_says_so() {
    let ring = fixed();
    let envelope = ring.encrypt(AAD, b"85073003328").unwrap();
    for bad in [
        &b""[..],
        b"k",
        b"k1",
        b"85073003328",
        &envelope[..envelope.len() - 20],
    ] {
        assert!(
            matches!(ring.decrypt(AAD, bad), Err(KeyError::NotAnEnvelope)),
            "{bad:?}"
        );
    }
    let mut future = envelope.clone();
    future[1] = b'2';
    let err = ring.decrypt(AAD, &future).unwrap_err();
    assert!(matches!(err, KeyError::UnsupportedVersion('2')), "{err}");
    assert!(err.to_string().contains("upgrade kluis"));
}

#[test]
fn older_keys_decrypt_after_a_rotation() {
    let (old, new) = rotated();
    let before = old.encrypt(AAD, b"before").unwrap();
    let after = new.encrypt(AAD, b"after").unwrap();
    assert_eq!(new.decrypt(AAD, &before).unwrap(), b"before");
    assert!(!new.is_current(&before), "rotation must re-encrypt it");
    assert!(new.is_current(&after));
    assert!(!new.is_current(b"not an envelope"));
    assert_eq!(new.key_ids(), [new.current_key_id(), old.current_key_id()]);
    assert_ne!(new.current_key_id(), old.current_key_id());

    // A keyring that lost the new key names it.
    let err = old.decrypt(AAD, &after).unwrap_err();
    assert!(matches!(&err, KeyError::UnknownKey(id) if id == new.current_key_id()));
    assert!(err.to_string().contains(new.current_key_id()), "{err}");
}

#[test]
fn blind_indexes_are_stable_and_depend_on_kind_and_key() {
    let ring = fixed();
    let index = ring.blind_index("national_number", "85073003328");
    assert_eq!(index, fixed().blind_index("national_number", "85073003328"));
    // Computed independently (Python hmac + RFC 5869 HKDF) from the documented construction.
    assert_eq!(
        hex::encode(index),
        "19c078566ce8a2d1ec2bd982a4c492d245b692cbfc257426ff49ad764eaa2e86"
    );
    assert_ne!(index, ring.blind_index("bsn", "85073003328"));
    assert_ne!(index, ring.blind_index("national_number", "85073003329"));
    // The separator keeps ("ab", "c") apart from ("a", "bc").
    assert_ne!(ring.blind_index("ab", "c"), ring.blind_index("a", "bc"));

    let other = Keyring::new(vec![("k1".into(), [3; 32])], [2; 32]).unwrap();
    assert_ne!(index, other.blind_index("national_number", "85073003328"));

    let (old, new) = rotated();
    let old_index = old.blind_index("email", "anna@example.be");
    let indexes = new.blind_indexes("email", "anna@example.be");
    assert_eq!(
        indexes,
        [new.blind_index("email", "anna@example.be"), old_index]
    );
    assert_ne!(indexes[0], indexes[1]);
}

#[test]
fn pseudonyms_are_stable_across_rotations() {
    let ring = fixed();
    let p = ring.pseudonym("national_number", "85073003328");
    assert_eq!(p, "64896c45638049f479e2fe29e752883e");
    assert_eq!(
        p,
        ring.with_new_current_key()
            .unwrap()
            .pseudonym("national_number", "85073003328")
    );
    assert_ne!(p, ring.pseudonym("bsn", "85073003328"));

    let (old, new) = rotated();
    assert_eq!(
        old.pseudonym("email", "anna@example.be"),
        new.pseudonym("email", "anna@example.be")
    );
}

#[test]
fn project_pseudonyms_differ_per_project() {
    let ring = fixed();
    let p = ring.pseudonym_for_project("statistics-2026", "85073003328");
    assert_eq!(p, "5d5f76d110072505f5d3023939f5fe55");
    let project = ring.project_pseudonyms("statistics-2026");
    assert_eq!(
        project.pseudonym("85073003328"),
        p,
        "keyed once, the same pseudonym"
    );
    assert_eq!(project.clone().pseudonym("85073003328"), p, "and again");
    assert_ne!(
        p,
        ring.pseudonym_for_project("statistics-2027", "85073003328")
    );
    assert_ne!(p, ring.pseudonym("national_number", "85073003328"));
    assert_eq!(p.len(), 32);
}

/// Every way a key could show up in text.
fn renderings(key: &[u8; 32]) -> Vec<String> {
    vec![
        STANDARD.encode(key),
        hex::encode(key),
        format!("{key:?}"),
        format!("{:?}", &key[..4]).trim_end_matches(']').to_string(),
    ]
}

#[test]
fn debug_shows_ids_and_no_key_material() {
    let ring = Keyring::new(vec![("a".into(), [7; 32]), ("b".into(), [9; 32])], [11; 32]).unwrap();
    let shown = format!("{ring:?} {ring:#?}");
    assert!(
        shown.contains("\"a\"") && shown.contains("\"b\""),
        "{shown}"
    );
    for key in [[7; 32], [9; 32], [11; 32]] {
        for r in renderings(&key) {
            assert!(!shown.contains(&r), "{shown} shows {r}");
        }
    }
}

#[test]
fn the_key_file_round_trips() {
    let (_, ring) = rotated();
    let envelope = ring.encrypt(AAD, b"secret").unwrap();
    let text = ring.to_key_file_text();
    assert!(text.contains("keep the backup apart from database backups"));
    let read = Keyring::from_key_file_text(&text).unwrap();
    assert_eq!(read.key_ids(), ring.key_ids());
    assert_eq!(read.decrypt(AAD, &envelope).unwrap(), b"secret");
    assert!(read.is_current(&envelope));
    assert_eq!(
        read.blind_indexes("bsn", "111222333"),
        ring.blind_indexes("bsn", "111222333")
    );
    assert_eq!(
        read.pseudonym("bsn", "111222333"),
        ring.pseudonym("bsn", "111222333")
    );
}

const KEY: &str = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";

#[test]
fn a_malformed_key_file_names_the_line_and_the_problem() {
    let cases: &[(&str, usize, &str)] = &[
        ("keys = [\n", 1, ""),
        (
            &format!("keys = [\"k1:{KEY}\"]\npseudonym_key = \"{KEY}\"\ncolour = \"blue\"\n"),
            3,
            "colour",
        ),
        (&format!("keys = [\"k1:{KEY}\"]\n"), 1, "pseudonym_key"),
        (
            &format!("keys = []\npseudonym_key = \"{KEY}\"\n"),
            1,
            "no key",
        ),
        (
            &format!(
                "keys = [\n  \"k1:{KEY}\",\n  \"k2:not base64!\",\n]\npseudonym_key = \"{KEY}\"\n"
            ),
            3,
            "key 'k2' is not valid: it is not base64",
        ),
        (
            &format!("keys = [\n  \"k1:AQEB\",\n]\npseudonym_key = \"{KEY}\"\n"),
            2,
            "holds 3 bytes instead of 32",
        ),
        (
            &format!("keys = [\n  \"{KEY}\",\n]\npseudonym_key = \"{KEY}\"\n"),
            2,
            "ID:BASE64",
        ),
        (
            &format!("keys = [\"Key One:{KEY}\"]\npseudonym_key = \"{KEY}\"\n"),
            1,
            "a-z, 0-9",
        ),
        (
            &format!("keys = [\"k1:{KEY}\", \"k1:{KEY}\"]\npseudonym_key = \"{KEY}\"\n"),
            1,
            "'k1' is used twice",
        ),
        (
            &format!("keys = [\"k1:{KEY}\"]\n\npseudonym_key = \"AQEB\"\n"),
            3,
            "pseudonym key is not valid",
        ),
        (
            &format!(
                "keys = [\"k1:{}\"]\npseudonym_key = \"{KEY}\"\n",
                STANDARD.encode([0; 32])
            ),
            1,
            "all zeros",
        ),
    ];
    for (text, line, problem) in cases {
        let err = Keyring::from_key_file_text(text).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("line {line} of the key file: "))
                && message.contains(problem),
            "{text}\n=> {message}"
        );
        assert!(!message.contains(KEY), "{message} shows the key");
    }
}

#[test]
fn keyring_rules_are_checked() {
    assert!(matches!(
        Keyring::new(vec![], [2; 32]),
        Err(KeyError::NoKeys)
    ));
    for bad in ["", "Upper", "with space", "dots.no", &"x".repeat(33)] {
        assert!(
            matches!(
                Keyring::new(vec![(bad.into(), [1; 32])], [2; 32]),
                Err(KeyError::InvalidKeyId(_))
            ),
            "{bad:?}"
        );
    }
    let ok_id = "a-z_0-9".to_string() + &"x".repeat(25);
    assert!(Keyring::new(vec![(ok_id, [1; 32])], [2; 32]).is_ok());
    assert!(matches!(
        Keyring::new(vec![("a".into(), [1; 32]), ("a".into(), [3; 32])], [2; 32]),
        Err(KeyError::DuplicateKeyId(id)) if id == "a"
    ));
    assert!(matches!(
        Keyring::new(vec![("a".into(), [1; 32])], [0; 32]),
        Err(KeyError::PseudonymKey(_))
    ));
}

#[test]
fn key_lines_from_the_configuration() {
    let line = generate_key_line().unwrap();
    let pseudonym = generate_pseudonym_key().unwrap();
    let (id, _) = parse_key_line(&line).unwrap();
    let ring =
        Keyring::from_key_lines(&[line.as_str(), &format!("old:{KEY}")], &pseudonym).unwrap();
    assert_eq!(ring.key_ids(), [id.as_str(), "old"]);

    let err = Keyring::from_key_lines(&[KEY], &pseudonym).unwrap_err();
    assert!(err.to_string().contains("ID:BASE64"), "{err}");
    assert!(!err.to_string().contains(KEY));
    // A line written the wrong way round does not show the key in the error.
    let err = parse_key_line(&format!("{KEY}:k1")).unwrap_err();
    assert!(!err.to_string().contains(&KEY[..20]), "{err}");
}

#[test]
fn new_key_ids_say_when_they_were_made() {
    let ring = Keyring::generate().unwrap();
    let id = ring.current_key_id();
    let today = time::OffsetDateTime::now_utc().date();
    let date = format!(
        "{:04}-{:02}-{:02}-",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    // The date could change between the two calls at midnight; the form cannot.
    assert_eq!(id.len(), date.len() + 6, "{id}");
    assert!(check_key_id(id).is_ok());
}

#[test]
fn signed_links_open_only_unaltered_and_with_the_same_pseudonym_key() {
    let ring = Keyring::generate().unwrap();
    let token = ring.sign_link(b"unsubscribe 42");
    assert_eq!(
        ring.open_link(&token).as_deref(),
        Some(&b"unsubscribe 42"[..])
    );
    // A rotation keeps links working: they hang on the pseudonym key.
    let rotated = ring.with_new_current_key().unwrap();
    assert_eq!(
        rotated.open_link(&token).as_deref(),
        Some(&b"unsubscribe 42"[..])
    );
    // Another installation's key, a flipped bit anywhere, a truncation or junk: no payload.
    assert_eq!(Keyring::generate().unwrap().open_link(&token), None);
    let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
    for i in 0..bytes.len() {
        let mut forged = bytes.clone();
        forged[i] ^= 1;
        assert_eq!(
            ring.open_link(&URL_SAFE_NO_PAD.encode(&forged)),
            None,
            "bit in byte {i}"
        );
    }
    for len in 0..token.len() {
        assert_eq!(ring.open_link(&token[..len]), None, "truncated to {len}");
    }
    assert_eq!(ring.open_link("not a link!"), None);
    assert_eq!(ring.open_link(&"A".repeat(MAX_LINK_LEN + 1)), None);
}
