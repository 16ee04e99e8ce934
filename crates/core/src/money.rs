//! Money as an integer number of fen (1 CNY = 100 fen).
//!
//! WeChat Pay speaks fen in every API (`total_fee`, `amount.total`); only bill files use yuan
//! strings. [`Money`] therefore stores fen in an `i64` that is never negative, parses yuan
//! strings digit by digit (never through a float), and serialises as a bare JSON integer.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative amount of money in fen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

/// Why a value is not a valid amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must not be negative")]
    Negative,
    #[error("amount is too large")]
    Overflow,
    #[error("amount has more than two decimal places (fen is the smallest unit)")]
    TooPrecise,
    #[error("amount is not a decimal number of yuan such as \"12.34\"")]
    Malformed,
}

impl Money {
    /// Zero fen.
    pub const ZERO: Money = Money(0);
    /// The largest amount WeChat Pay accepts in one field (a signed 32-bit integer of fen).
    pub const WECHAT_MAX: Money = Money(i32::MAX as i64);

    /// An amount from a count of fen; negative counts are refused.
    pub fn from_fen(fen: i64) -> Result<Self, MoneyError> {
        if fen < 0 {
            Err(MoneyError::Negative)
        } else {
            Ok(Money(fen))
        }
    }

    /// The amount in fen.
    pub fn fen(self) -> i64 {
        self.0
    }

    /// Parses a yuan string such as `"12.34"`, `"12.3"`, `"12"` or `"0.01"` exactly.
    ///
    /// Refuses signs, exponents, spaces, more than two decimals and values that overflow.
    pub fn parse_yuan(s: &str) -> Result<Self, MoneyError> {
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::Malformed);
        }
        let frac_fen = match frac_part {
            None => 0,
            Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => {
                return Err(MoneyError::Malformed);
            }
            Some(f) if f.len() > 2 => return Err(MoneyError::TooPrecise),
            Some(f) => {
                let digits: i64 = f.bytes().fold(0, |acc, b| acc * 10 + i64::from(b - b'0'));
                if f.len() == 1 { digits * 10 } else { digits }
            }
        };
        let yuan = int_part.bytes().try_fold(0i64, |acc, b| {
            acc.checked_mul(10)
                .and_then(|v| v.checked_add(i64::from(b - b'0')))
                .ok_or(MoneyError::Overflow)
        })?;
        yuan.checked_mul(100)
            .and_then(|v| v.checked_add(frac_fen))
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    /// Parses an integer count of fen as WeChat writes it (`"100"`); nothing else is accepted.
    pub fn parse_fen(s: &str) -> Result<Self, MoneyError> {
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(MoneyError::Malformed);
        }
        s.parse::<i64>()
            .map(Money)
            .map_err(|_| MoneyError::Overflow)
    }

    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.0.checked_add(other.0).map(Money)
    }

    /// `self - other`, or `None` when the result would be negative.
    pub fn checked_sub(self, other: Money) -> Option<Money> {
        self.0.checked_sub(other.0).filter(|v| *v >= 0).map(Money)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Money {
    /// Formats as yuan with two decimals, e.g. `12.34` (for humans; APIs carry fen).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    /// Only a JSON integer is accepted: `12.5`, `"12"` and `-1` are refused.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let fen = i64::deserialize(d)?;
        Money::from_fen(fen).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_yuan_exactly() {
        assert_eq!(Money::parse_yuan("12.34"), Ok(Money(1234)));
        assert_eq!(Money::parse_yuan("12.3"), Ok(Money(1230)));
        assert_eq!(Money::parse_yuan("12"), Ok(Money(1200)));
        assert_eq!(Money::parse_yuan("0.01"), Ok(Money(1)));
        assert_eq!(Money::parse_yuan("0.10"), Ok(Money(10)));
        assert_eq!(Money::parse_yuan("0"), Ok(Money(0)));
        // 0.1 + 0.2 is the classic float trap; here it is just digits.
        assert_eq!(Money::parse_yuan("0.3"), Ok(Money(30)));
    }

    #[test]
    fn rejects_bad_yuan() {
        assert_eq!(Money::parse_yuan("12.345"), Err(MoneyError::TooPrecise));
        assert_eq!(Money::parse_yuan("-1.00"), Err(MoneyError::Negative));
        for bad in [
            "", ".5", "1.", "1e3", " 1", "1 ", "+1", "1,00", "１２", "NaN", "1.2.3",
        ] {
            assert_eq!(
                Money::parse_yuan(bad),
                Err(MoneyError::Malformed),
                "{bad:?}"
            );
        }
        assert_eq!(
            Money::parse_yuan("92233720368547758.08"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse_yuan("99999999999999999999"),
            Err(MoneyError::Overflow)
        );
        assert_eq!(
            Money::parse_yuan("92233720368547758.07"),
            Ok(Money(i64::MAX))
        );
    }

    #[test]
    fn parses_fen_strings() {
        assert_eq!(Money::parse_fen("100"), Ok(Money(100)));
        assert_eq!(Money::parse_fen("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse_fen("1.0"), Err(MoneyError::Malformed));
        assert_eq!(Money::parse_fen(""), Err(MoneyError::Malformed));
        assert_eq!(
            Money::parse_fen("9223372036854775808"),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn json_is_an_integer_of_fen() {
        assert_eq!(
            serde_json::to_string(&Money(1234)).ok().as_deref(),
            Some("1234")
        );
        assert_eq!(
            serde_json::from_str::<Money>("1234").ok(),
            Some(Money(1234))
        );
        assert!(serde_json::from_str::<Money>("12.5").is_err());
        assert!(serde_json::from_str::<Money>("12.0").is_err());
        assert!(serde_json::from_str::<Money>("\"12\"").is_err());
        assert!(serde_json::from_str::<Money>("-1").is_err());
    }

    #[test]
    fn arithmetic_is_checked() {
        assert_eq!(Money(5).checked_sub(Money(6)), None);
        assert_eq!(Money(6).checked_sub(Money(6)), Some(Money(0)));
        assert_eq!(Money(i64::MAX).checked_add(Money(1)), None);
        assert_eq!(Money(1234).to_string(), "12.34");
        assert_eq!(Money(5).to_string(), "0.05");
    }

    proptest! {
        #[test]
        fn display_then_parse_round_trips(fen in 0i64..=i64::MAX) {
            prop_assert_eq!(Money::parse_yuan(&Money(fen).to_string()), Ok(Money(fen)));
        }

        #[test]
        fn fen_string_round_trips(fen in 0i64..=i64::MAX) {
            prop_assert_eq!(Money::parse_fen(&fen.to_string()), Ok(Money(fen)));
        }
    }
}
