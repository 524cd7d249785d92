//! Identifiers with check digits, validated where they enter kluis.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}
