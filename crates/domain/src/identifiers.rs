//! Identifiers, validated and normalised where they enter kluis: enterprise numbers, and
//! what identifies a data subject (national number, BSN, e-mail address, telephone number).
//!
//! The normalised form (`digits()`, `as_str()`) is what blind indexes and pseudonyms are
//! computed over, so one person typed two ways is still one person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use crate::vocabulary;

/// A Belgian enterprise number (KBO/BCE), e.g. `0207.725.203`.
///
/// Ten digits starting with 0 or 1; the last two are 97 minus the first eight modulo 97.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EnterpriseNumber(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnterpriseNumberError {
    #[error("'{0}' is not an enterprise number: it needs ten digits, like 0207.725.203")]
    Format(String),
    #[error("'{0}' is not an enterprise number: its check digits do not match; check for a typo")]
    CheckDigits(String),
}

impl FromStr for EnterpriseNumber {
    type Err = EnterpriseNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits: String = s
            .trim()
            .trim_start_matches("BE")
            .trim_start_matches("be")
            .chars()
            .filter(|c| !matches!(c, '.' | ' ' | '-'))
            .collect();
        if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EnterpriseNumberError::Format(s.to_string()));
        }
        if !digits.starts_with('0') && !digits.starts_with('1') {
            return Err(EnterpriseNumberError::Format(s.to_string()));
        }
        let number: u64 = digits
            .parse()
            .map_err(|_| EnterpriseNumberError::Format(s.to_string()))?;
        let (base, check) = (number / 100, number % 100);
        if 97 - base % 97 != check {
            return Err(EnterpriseNumberError::CheckDigits(s.to_string()));
        }
        Ok(EnterpriseNumber(number))
    }
}

impl fmt::Display for EnterpriseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = format!("{:010}", self.0);
        write!(f, "{}.{}.{}", &d[0..4], &d[4..7], &d[7..10])
    }
}

impl Serialize for EnterpriseNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for EnterpriseNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

vocabulary! {
    /// What a data subject is identified by, in the vault and in connected systems.
    pub enum IdentifierKind: "identifier_kind" {
        /// Belgian national number (rijksregisternummer) or BIS number: [`NationalNumber`].
        NationalNumber = "national_number",
        /// Dutch citizen service number (burgerservicenummer): [`Bsn`].
        Bsn = "bsn",
        Email = "email",
        Phone = "phone",
        /// Full name together with the date of birth, when no number is known.
        NameBirthDate = "name_birth_date",
    }
}

/// Serialises a type as its `Display` text and deserialises it through its `FromStr`,
/// so a stored or transmitted identifier is always validated again when read.
macro_rules! serde_as_string {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

/// `s` without surrounding blanks and without the separators people write numbers with.
fn without_separators(s: &str, separators: &[char]) -> String {
    s.trim()
        .chars()
        .filter(|c| !separators.contains(c))
        .collect()
}

/// `s` as a number when it is exactly `len` ASCII digits.
fn exact_digits(s: &str, len: usize) -> Option<u64> {
    if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A Belgian national number (rijksregisternummer, INSZ) or BIS number, e.g.
/// `85.07.30-033.28`: YYMMDD, a three-digit serial, two check digits.
///
/// The check digits are 97 minus the first nine digits modulo 97; for people born in 2000
/// or later the nine digits are prefixed with a 2 first. BIS numbers add 20 or 40 to the
/// month. The date part is not required to be a real date: the registers issue numbers with
/// month or day 00 when the birth date is unknown, so only the check digits decide.
///
/// Errors do not repeat the number: they end up in logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NationalNumber(u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NationalNumberError {
    #[error("this is not a national number: it needs eleven digits, like 85.07.30-033.28")]
    Format,
    #[error("this is not a national number: its check digits do not match; check for a typo")]
    CheckDigits,
}

/// Added to the nine digits of people born in 2000 or later before computing the check.
const BORN_AFTER_1999: u64 = 2_000_000_000;

impl NationalNumber {
    /// The eleven digits, without separators: the normalised form.
    pub fn digits(&self) -> String {
        format!("{:011}", self.0)
    }

    /// Whether the check digits say the holder was born in 2000 or later.
    pub fn born_after_1999(&self) -> bool {
        let (base, check) = (self.0 / 100, self.0 % 100);
        97 - base % 97 != check
    }

    /// Whether this is a BIS number (for people not in the national register).
    pub fn is_bis(&self) -> bool {
        self.month_field() >= 20
    }

    /// The date of birth, when the number holds a real one (it may hold month or day 00).
    pub fn birth_date(&self) -> Option<Date> {
        let d = self.digits();
        let yy: i32 = d[0..2].parse().ok()?;
        let day: u8 = d[4..6].parse().ok()?;
        let month = match self.month_field() {
            m @ 0..=12 => m,
            m @ 20..=32 => m - 20,
            m @ 40..=52 => m - 40,
            _ => return None,
        };
        let century = if self.born_after_1999() { 2000 } else { 1900 };
        Date::from_calendar_date(century + yy, Month::try_from(month).ok()?, day).ok()
    }

    fn month_field(&self) -> u8 {
        ((self.0 / 10_000_000) % 100) as u8
    }
}

impl FromStr for NationalNumber {
    type Err = NationalNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = without_separators(s, &['.', '-', ' ']);
        let number = exact_digits(&digits, 11).ok_or(NationalNumberError::Format)?;
        let (base, check) = (number / 100, number % 100);
        let born_before_2000 = 97 - base % 97 == check;
        let born_after_1999 = 97 - (BORN_AFTER_1999 + base) % 97 == check;
        if !born_before_2000 && !born_after_1999 {
            return Err(NationalNumberError::CheckDigits);
        }
        Ok(NationalNumber(number))
    }
}

impl fmt::Display for NationalNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.digits();
        write!(
            f,
            "{}.{}.{}-{}.{}",
            &d[0..2],
            &d[2..4],
            &d[4..6],
            &d[6..9],
            &d[9..11]
        )
    }
}

serde_as_string!(NationalNumber);

/// A Dutch citizen service number (burgerservicenummer), e.g. `111222333`.
///
/// Nine digits (an eight-digit number gets a leading 0) that pass the eleven test
/// (elfproef): 9·d1 + 8·d2 + … + 2·d8 − d9 is a multiple of 11.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bsn(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BsnError {
    #[error("this is not a BSN: it needs nine digits, like 111222333")]
    Format,
    #[error("this is not a BSN: it does not pass the eleven test (elfproef); check for a typo")]
    CheckDigits,
    #[error("this is not a BSN: 000000000 is never issued")]
    AllZeros,
}

impl Bsn {
    /// The nine digits: the normalised form.
    pub fn digits(&self) -> String {
        format!("{:09}", self.0)
    }
}

impl FromStr for Bsn {
    type Err = BsnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut digits = without_separators(s, &['.', '-', ' ']);
        if digits.len() == 8 {
            digits.insert(0, '0');
        }
        let number = exact_digits(&digits, 9).ok_or(BsnError::Format)?;
        if number == 0 {
            return Err(BsnError::AllZeros);
        }
        let sum: i64 = digits
            .bytes()
            .zip([9, 8, 7, 6, 5, 4, 3, 2, -1])
            .map(|(b, weight)| i64::from(b - b'0') * weight)
            .sum();
        if sum % 11 != 0 {
            return Err(BsnError::CheckDigits);
        }
        let number = u32::try_from(number).map_err(|_| BsnError::Format)?;
        Ok(Bsn(number))
    }
}

impl fmt::Display for Bsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

serde_as_string!(Bsn);

/// An e-mail address, normalised: trimmed and lowercased, so one person's address matches
/// however it was typed.
///
/// Only a minimal sanity check: whether mail arrives is for the mail server to say.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailAddress(String);

/// The longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
pub const EMAIL_MAX_LEN: usize = 254;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailAddressError {
    #[error("this is not an e-mail address: it is longer than 254 characters")]
    TooLong,
    #[error("this is not an e-mail address: it contains a space or another invisible character")]
    Blank,
    #[error("this is not an e-mail address: it needs exactly one @, like name@example.be")]
    At,
    #[error("this is not an e-mail address: there is nothing before the @")]
    Local,
    #[error(
        "this is not an e-mail address: the part after the @ needs to be a domain with a dot, \
         like example.be"
    )]
    Domain,
}

impl EmailAddress {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EmailAddress {
    type Err = EmailAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let address = s.trim().to_lowercase();
        if address.len() > EMAIL_MAX_LEN {
            return Err(EmailAddressError::TooLong);
        }
        if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(EmailAddressError::Blank);
        }
        let Some((local, domain)) = address.split_once('@') else {
            return Err(EmailAddressError::At);
        };
        if domain.contains('@') {
            return Err(EmailAddressError::At);
        }
        if local.is_empty() {
            return Err(EmailAddressError::Local);
        }
        let labels_ok = domain.split('.').all(|label| !label.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(EmailAddressError::Domain);
        }
        Ok(EmailAddress(address))
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_string!(EmailAddress);

/// A telephone number in E.164 form, e.g. `+3250403111`.
///
/// [`PhoneNumber::parse_with_default`] reads numbers as people write them: `+32 50 40 31 11`,
/// `0032 50 40 31 11`, `+32 (0)50 40 31 11`, or `050 40 31 11` with the country calling
/// code of the authority. `FromStr` only accepts numbers that carry their country code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneNumberError {
    #[error(
        "this is not a telephone number: use only digits, spaces, dots, dashes, slashes, \
         brackets and a leading +"
    )]
    Characters,
    #[error(
        "this telephone number has no country code: write it as +32 50 40 31 11, \
         0032 50 40 31 11 or, for a national number, with its leading 0"
    )]
    CountryCode,
    #[error("this is not a telephone number: it needs 8 to 15 digits after the +")]
    Length,
    #[error("'{0}' is not a country calling code: use one to three digits without +, like 32")]
    DefaultCountryCode(String),
}

/// Fewest and most digits after the `+` (E.164 allows at most 15).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 8..=15;

impl PhoneNumber {
    /// Reads a number; a national number (leading single 0) gets `default_country_code`
    /// (digits only, e.g. `"32"` for Belgium, `"31"` for the Netherlands) in place of the 0.
    pub fn parse_with_default(
        s: &str,
        default_country_code: &str,
    ) -> Result<Self, PhoneNumberError> {
        let code = default_country_code.trim().trim_start_matches('+');
        let valid_code = (1..=3).contains(&code.len())
            && code.bytes().all(|b| b.is_ascii_digit())
            && !code.starts_with('0');
        if !valid_code {
            return Err(PhoneNumberError::DefaultCountryCode(
                default_country_code.to_string(),
            ));
        }
        parse_phone(s, Some(code))
    }

    /// The E.164 form: `+` and the digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn parse_phone(
    s: &str,
    default_country_code: Option<&str>,
) -> Result<PhoneNumber, PhoneNumberError> {
    // "+32 (0)50 ..." writes the national trunk prefix in brackets: it is not dialled.
    let compact = without_separators(&s.replace("(0)", ""), &[' ', '.', '-', '/', '(', ')']);
    if compact.is_empty() {
        return Err(PhoneNumberError::Length);
    }
    let digits = if let Some(rest) = compact.strip_prefix('+') {
        rest.to_string()
    } else if let Some(rest) = compact.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = compact.strip_prefix('0') {
        let code = default_country_code.ok_or(PhoneNumberError::CountryCode)?;
        format!("{code}{rest}")
    } else if compact.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneNumberError::CountryCode);
    } else {
        return Err(PhoneNumberError::Characters);
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PhoneNumberError::Characters);
    }
    if digits.starts_with('0') {
        // No country calling code starts with 0: "+0..." or "000..." lost its country.
        return Err(PhoneNumberError::CountryCode);
    }
    if !PHONE_DIGITS.contains(&digits.len()) {
        return Err(PhoneNumberError::Length);
    }
    Ok(PhoneNumber(format!("+{digits}")))
}

impl FromStr for PhoneNumber {
    type Err = PhoneNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_phone(s, None)
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

serde_as_string!(PhoneNumber);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn limburg_number_is_valid_and_prints_with_dots() {
        let n: EnterpriseNumber = "0207725203".parse().unwrap();
        assert_eq!(n.to_string(), "0207.725.203");
        assert_eq!("BE 0207.725.203".parse::<EnterpriseNumber>(), Ok(n));
    }

    #[test]
    fn typos_are_caught() {
        assert!(matches!(
            "0207.725.204".parse::<EnterpriseNumber>(),
            Err(EnterpriseNumberError::CheckDigits(_))
        ));
        assert!(matches!(
            "207.725.203".parse::<EnterpriseNumber>(),
            Err(EnterpriseNumberError::Format(_))
        ));
    }

    proptest! {
        #[test]
        fn every_valid_number_round_trips(base in 0u64..20_000_000) {
            let n = base * 100 + (97 - base % 97);
            let text = format!("{n:010}");
            let parsed: EnterpriseNumber = text.parse().unwrap();
            prop_assert_eq!(parsed.to_string().parse::<EnterpriseNumber>(), Ok(parsed));
        }
    }

    // National numbers. The check digits of these were computed by hand from the rule.

    fn nn(s: &str) -> NationalNumber {
        s.parse().unwrap()
    }

    #[test]
    fn national_number_of_someone_born_in_the_1900s() {
        let n = nn("85.07.30-033.28");
        assert_eq!(n.digits(), "85073003328");
        assert_eq!(n.to_string(), "85.07.30-033.28");
        assert_eq!(n.birth_date(), Some(time::macros::date!(1985 - 07 - 30)));
        assert!(!n.born_after_1999() && !n.is_bis());
        for written in ["85073003328", " 850730 033 28 ", "85-07-30-033-28"] {
            assert_eq!(written.parse(), Ok(n), "{written}");
        }
    }

    #[test]
    fn national_number_of_someone_born_after_1999_prefixes_a_2() {
        let n = nn("05031412397");
        assert_eq!(n.birth_date(), Some(time::macros::date!(2005 - 03 - 14)));
        assert!(n.born_after_1999());
        let n = nn("00.01.01-001.05");
        assert_eq!(n.birth_date(), Some(time::macros::date!(2000 - 01 - 01)));
        // The same nine digits with the check of the 1900s belong to someone else.
        assert_eq!(
            nn("00.01.01-001.73").birth_date(),
            Some(time::macros::date!(1900 - 01 - 01))
        );
    }

    #[test]
    fn bis_numbers_add_20_or_40_to_the_month() {
        let n = nn("90.45.20-001.52");
        assert!(n.is_bis());
        assert_eq!(n.birth_date(), Some(time::macros::date!(1990 - 05 - 20)));
        let n = nn("85.25.30-001.89");
        assert!(n.is_bis());
        assert_eq!(n.birth_date(), Some(time::macros::date!(1985 - 05 - 30)));
    }

    #[test]
    fn an_unknown_birth_date_is_a_valid_number_without_a_date() {
        let n = nn("85.00.00-001.38");
        assert_eq!(n.birth_date(), None);
        assert_eq!(n.to_string(), "85.00.00-001.38");
    }

    #[test]
    fn national_number_errors_say_what_is_wrong() {
        assert_eq!(
            "85.07.30-033.29".parse::<NationalNumber>(),
            Err(NationalNumberError::CheckDigits)
        );
        for bad in [
            "",
            "85.07.30-033.2",
            "850730033280",
            "85.07.30-033.2x",
            "8507300332８",
        ] {
            assert_eq!(
                bad.parse::<NationalNumber>(),
                Err(NationalNumberError::Format),
                "{bad}"
            );
        }
        let message = NationalNumberError::CheckDigits.to_string();
        assert!(message.contains("check digits do not match; check for a typo"));
        assert!(
            NationalNumberError::Format
                .to_string()
                .contains("eleven digits")
        );
    }

    #[test]
    fn identifiers_serialise_as_their_normal_text_and_are_checked_when_read() {
        let n = nn("85073003328");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"85.07.30-033.28\"");
        assert_eq!(
            serde_json::from_str::<NationalNumber>("\"85073003328\"").unwrap(),
            n
        );
        let err = serde_json::from_str::<NationalNumber>("\"85073003329\"").unwrap_err();
        assert!(err.to_string().contains("check digits"), "{err}");
        let b: Bsn = "111222333".parse().unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"111222333\"");
        assert!(serde_json::from_str::<Bsn>("\"111222334\"").is_err());
        let e: EmailAddress = serde_json::from_str("\" Anna@Example.BE \"").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"anna@example.be\"");
        let p: PhoneNumber = serde_json::from_str("\"+32 50 40 31 11\"").unwrap();
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"+3250403111\"");
        assert!(serde_json::from_str::<PhoneNumber>("\"050 40 31 11\"").is_err());
    }

    // BSN

    #[test]
    fn known_bsns_pass_the_eleven_test() {
        for (written, digits) in [
            ("111222333", "111222333"),
            ("123456782", "123456782"),
            ("1234.56.782", "123456782"),
            ("10000008", "010000008"),
        ] {
            let b: Bsn = written.parse().unwrap();
            assert_eq!(b.digits(), digits);
            assert_eq!(b.to_string(), digits);
        }
    }

    #[test]
    fn bsn_errors_say_what_is_wrong() {
        assert_eq!("111222334".parse::<Bsn>(), Err(BsnError::CheckDigits));
        assert_eq!("000000000".parse::<Bsn>(), Err(BsnError::AllZeros));
        assert_eq!("00000000".parse::<Bsn>(), Err(BsnError::AllZeros));
        for bad in ["", "1234567", "1112223330", "11122233a", "+11122233"] {
            assert_eq!(bad.parse::<Bsn>(), Err(BsnError::Format), "{bad}");
        }
        assert!(BsnError::CheckDigits.to_string().contains("elfproef"));
    }

    // E-mail

    #[test]
    fn email_addresses_are_trimmed_and_lowercased() {
        let e: EmailAddress = "  Griffie@Limburg.BE\n".parse().unwrap();
        assert_eq!(e.as_str(), "griffie@limburg.be");
        assert_eq!(e.to_string().parse(), Ok(e));
    }

    #[test]
    fn email_errors_say_what_is_wrong() {
        use EmailAddressError::*;
        let long = format!("{}@example.be", "a".repeat(250));
        for (bad, expected) in [
            ("anna", At),
            ("anna@x@example.be", At),
            ("@example.be", Local),
            ("anna@", Domain),
            ("anna@localhost", Domain),
            ("anna@example..be", Domain),
            ("anna@.example.be", Domain),
            ("anna@example.be.", Domain),
            ("anna peeters@example.be", Blank),
            ("anna\u{7}@example.be", Blank),
            (long.as_str(), TooLong),
        ] {
            assert_eq!(bad.parse::<EmailAddress>(), Err(expected), "{bad:?}");
        }
    }

    // Telephone numbers

    #[test]
    fn phone_numbers_as_people_write_them_become_e164() {
        for written in [
            "+32 50 40 31 11",
            "0032 50 40 31 11",
            "050 40 31 11",
            "050/40.31.11",
            "+32 (0)50 40 31 11",
            "+32-50-403-111",
        ] {
            let p = PhoneNumber::parse_with_default(written, "32").unwrap();
            assert_eq!(p.as_str(), "+3250403111", "{written}");
        }
        let dutch = PhoneNumber::parse_with_default("0320 123 456", "31").unwrap();
        assert_eq!(dutch.as_str(), "+31320123456");
        assert_eq!("+3250403111".parse(), Ok(PhoneNumber("+3250403111".into())));
    }

    #[test]
    fn phone_errors_say_what_is_wrong() {
        use PhoneNumberError::*;
        for (bad, expected) in [
            ("050 40 31 11", CountryCode),
            ("3250403111", CountryCode),
            ("+0 50 40 31 11", CountryCode),
            ("", Length),
            ("+32 50", Length),
            ("+32 50 40 31 11 22 33 44 55", Length),
            ("+32 50 40 31 1x", Characters),
            ("call 050 40 31 11", Characters),
        ] {
            assert_eq!(bad.parse::<PhoneNumber>(), Err(expected), "{bad:?}");
        }
        assert_eq!(
            PhoneNumber::parse_with_default("050 40 31 11", "+32"),
            Ok(PhoneNumber("+3250403111".into()))
        );
        for code in ["", "032", "1234", "be"] {
            assert_eq!(
                PhoneNumber::parse_with_default("050 40 31 11", code),
                Err(DefaultCountryCode(code.into())),
                "{code:?}"
            );
        }
    }

    #[test]
    fn identifier_kinds_have_stable_names() {
        let names: Vec<_> = IdentifierKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "national_number",
                "bsn",
                "email",
                "phone",
                "name_birth_date"
            ]
        );
        assert_eq!("bsn".parse(), Ok(IdentifierKind::Bsn));
        assert!("passport".parse::<IdentifierKind>().is_err());
    }

    /// The eleven digits of a valid national number with `base` as its first nine digits.
    fn national_number_digits(base: u64, after_1999: bool) -> String {
        let prefix = if after_1999 { BORN_AFTER_1999 } else { 0 };
        format!("{base:09}{:02}", 97 - (prefix + base) % 97)
    }

    /// The nine digits of a BSN with `base` as its first eight, if the eleven test allows one.
    fn bsn_digits(base: u32) -> Option<String> {
        let first = format!("{base:08}");
        let sum: u32 = first
            .bytes()
            .zip((2..=9).rev())
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        let last = sum % 11;
        (last < 10 && base != 0).then(|| format!("{first}{last}"))
    }

    /// `text` with the digit at `position` replaced by `digit`, if that changes it.
    fn with_digit(text: &str, position: usize, digit: u8) -> Option<String> {
        let mut bytes = text.as_bytes().to_vec();
        let new = b'0' + digit;
        (bytes[position] != new).then(|| {
            bytes[position] = new;
            String::from_utf8_lossy(&bytes).into_owned()
        })
    }

    proptest! {
        #[test]
        fn every_valid_national_number_round_trips(base in 0u64..1_000_000_000, after_1999: bool) {
            let digits = national_number_digits(base, after_1999);
            let n: NationalNumber = digits.parse().unwrap();
            prop_assert_eq!(n.digits(), digits);
            prop_assert_eq!(n.born_after_1999(), after_1999);
            prop_assert_eq!(n.to_string().parse::<NationalNumber>(), Ok(n));
        }

        /// One changed digit never passes as the same person's century. It can pass as a
        /// number of the other century (about 0.4% of single-digit typos): the national
        /// number's check cannot tell those apart, so neither can kluis.
        #[test]
        fn a_changed_digit_in_a_national_number_is_caught(
            base in 0u64..1_000_000_000,
            after_1999: bool,
            position in 0usize..11,
            digit in 0u8..10,
        ) {
            let digits = national_number_digits(base, after_1999);
            let Some(typo) = with_digit(&digits, position, digit) else { return Ok(()) };
            match typo.parse::<NationalNumber>() {
                Err(e) => prop_assert_eq!(e, NationalNumberError::CheckDigits),
                Ok(n) => prop_assert_ne!(n.born_after_1999(), after_1999),
            }
        }

        #[test]
        fn every_valid_bsn_round_trips(base in 0u32..100_000_000) {
            let Some(digits) = bsn_digits(base) else { return Ok(()) };
            let b: Bsn = digits.parse().unwrap();
            prop_assert_eq!(b.digits(), digits);
            prop_assert_eq!(b.to_string().parse::<Bsn>(), Ok(b));
        }

        #[test]
        fn a_changed_digit_in_a_bsn_is_refused(
            base in 0u32..100_000_000,
            position in 0usize..9,
            digit in 0u8..10,
        ) {
            let Some(digits) = bsn_digits(base) else { return Ok(()) };
            let Some(typo) = with_digit(&digits, position, digit) else { return Ok(()) };
            let result = typo.parse::<Bsn>();
            prop_assert!(
                matches!(result, Err(BsnError::CheckDigits | BsnError::AllZeros)),
                "{} was accepted", typo
            );
        }

        #[test]
        fn phone_numbers_round_trip(code in 1u32..1000, rest in 10_000_000u64..1_000_000_000_000) {
            let text = format!("+{code} {rest}");
            prop_assume!(PHONE_DIGITS.contains(&(text.len() - 2)));
            let p: PhoneNumber = text.parse().unwrap();
            prop_assert_eq!(p.as_str(), text.replace(' ', ""));
            prop_assert_eq!(p.to_string().parse::<PhoneNumber>(), Ok(p));
        }
    }
}
