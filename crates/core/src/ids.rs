//! Identifier newtypes, parsed at the edge.
//!
//! Each type can only be built by [`std::str::FromStr`] / `parse`, which enforces WeChat's
//! documented charset and length, so code that holds an [`OutTradeNo`] never re-validates it
//! and no bare `String` of these crosses a crate boundary. Serde goes through the same parser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a string is not a valid identifier of a given kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind}: {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub reason: &'static str,
}

fn check(
    kind: &'static str,
    s: &str,
    len: std::ops::RangeInclusive<usize>,
    allowed: impl Fn(u8) -> bool,
    charset: &'static str,
) -> Result<(), IdError> {
    // Every accepted charset is ASCII, so byte length == character length for valid input.
    if !s.bytes().all(allowed) {
        return Err(IdError {
            kind,
            reason: charset,
        });
    }
    if !len.contains(&s.len()) {
        return Err(IdError {
            kind,
            reason: length_reason(&len),
        });
    }
    Ok(())
}

fn length_reason(len: &std::ops::RangeInclusive<usize>) -> &'static str {
    match (len.start(), len.end()) {
        (6, 32) => "must be 6 to 32 characters long",
        (1, 32) => "must be 1 to 32 characters long",
        (1, 64) => "must be 1 to 64 characters long",
        (1, 128) => "must be 1 to 128 characters long",
        _ => "has an invalid length",
    }
}

fn trade_no_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'|' | b'*')
}

fn token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, |$s:ident| $validate:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str($s: &str) -> Result<Self, IdError> {
                $validate?;
                Ok($name($s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                { let $s: &str = &s; $validate?; }
                Ok($name(s))
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::try_from(s).map_err(serde::de::Error::custom)
            }
        }

        impl $name {
            #[doc = concat!("The identifier kind, as named in error messages: `", $kind, "`.")]
            pub const KIND: &'static str = $kind;
        }
    };
}

id_type!(
    /// The merchant's order number: 6–32 characters of `[0-9A-Za-z_-|*]`, valid for v2 and v3.
    OutTradeNo, "out_trade_no",
    |s| check("out_trade_no", s, 6..=32, trade_no_char, "may only contain 0-9, A-Z, a-z and _-|*")
);

id_type!(
    /// The merchant's refund number: 1–64 characters of `[0-9A-Za-z_-|*@]`.
    OutRefundNo, "out_refund_no",
    |s| check("out_refund_no", s, 1..=64, |b| trade_no_char(b) || b == b'@', "may only contain 0-9, A-Z, a-z and _-|*@")
);

id_type!(
    /// A mini-program (or official account) appid, e.g. `wxd678efh567hg6787`.
    AppId, "appid",
    |s| check("appid", s, 1..=32, |b| b.is_ascii_alphanumeric(), "may only contain letters and digits")
);

id_type!(
    /// A WeChat Pay merchant number (`mch_id` in v2, `mchid` in v3): digits only.
    MchId, "mch_id",
    |s| check("mch_id", s, 1..=32, |b| b.is_ascii_digit(), "may only contain digits")
);

id_type!(
    /// A user's openid under one appid.
    OpenId, "openid",
    |s| check("openid", s, 1..=128, token_char, "may only contain letters, digits, _ and -")
);

id_type!(
    /// A prepay id from unifiedorder / the v3 prepay endpoints; valid for two hours.
    PrepayId, "prepay_id",
    |s| check("prepay_id", s, 1..=64, token_char, "may only contain letters, digits, _ and -")
);

id_type!(
    /// WeChat Pay's own id of a payment.
    TransactionId, "transaction_id",
    |s| check("transaction_id", s, 1..=32, token_char, "may only contain letters, digits, _ and -")
);

id_type!(
    /// WeChat Pay's own id of a refund.
    RefundId, "refund_id",
    |s| check("refund_id", s, 1..=64, token_char, "may only contain letters, digits, _ and -")
);

id_type!(
    /// paygate's id of a payment channel (one merchant account of one tenant).
    ChannelId, "channel_id",
    |s| check("channel_id", s, 1..=64, token_char, "may only contain letters, digits, _ and -")
);

/// The URL WeChat notifies: http(s), no query string, no fragment, at most 256 characters.
///
/// Whether plain `http` is acceptable (only in the demo) is the configuration's decision.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct NotifyUrl(String);

impl NotifyUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl FromStr for NotifyUrl {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let err = |reason| IdError {
            kind: "notify_url",
            reason,
        };
        if s.len() > 256 {
            return Err(err("must be at most 256 characters long"));
        }
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or(err("must start with https:// (or http:// in the demo)"))?;
        if s.bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control() || !b.is_ascii())
        {
            return Err(err(
                "must not contain spaces, control or non-ASCII characters",
            ));
        }
        if s.contains('?') || s.contains('#') {
            return Err(err("must not carry a query string or fragment"));
        }
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() {
            return Err(err("must name a host"));
        }
        Ok(NotifyUrl(s.to_owned()))
    }
}

impl fmt::Display for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NotifyUrl({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn out_trade_no_rules() {
        assert!("1217752501201407033233368018".parse::<OutTradeNo>().is_ok());
        assert!("abc-_|*".parse::<OutTradeNo>().is_ok());
        assert!("123456".parse::<OutTradeNo>().is_ok());
        assert!(
            "12345".parse::<OutTradeNo>().is_err(),
            "v3 needs at least 6"
        );
        assert!("a".repeat(32).parse::<OutTradeNo>().is_ok());
        assert!("a".repeat(33).parse::<OutTradeNo>().is_err());
        for bad in [
            "order 123",
            "order#123",
            "订单123456",
            "order@123",
            "order.123",
        ] {
            let err = bad.parse::<OutTradeNo>().err();
            assert_eq!(err.map(|e| e.kind), Some("out_trade_no"), "{bad:?}");
        }
    }

    #[test]
    fn out_refund_no_allows_at_and_64() {
        assert!("R@2024-01".parse::<OutRefundNo>().is_ok());
        assert!("r".repeat(64).parse::<OutRefundNo>().is_ok());
        assert!("r".repeat(65).parse::<OutRefundNo>().is_err());
        assert!("".parse::<OutRefundNo>().is_err());
    }

    #[test]
    fn other_ids() {
        assert!("wxd678efh567hg6787".parse::<AppId>().is_ok());
        assert!("wx-1".parse::<AppId>().is_err());
        assert!("1230000109".parse::<MchId>().is_ok());
        assert!("12300001a9".parse::<MchId>().is_err());
        assert!("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".parse::<OpenId>().is_ok());
        assert!(
            "wx201411101639507cbf6ffd8b0779950874"
                .parse::<PrepayId>()
                .is_ok()
        );
        assert!("prepay id".parse::<PrepayId>().is_err());
    }

    #[test]
    fn serde_goes_through_the_parser() {
        let ok: Result<OutTradeNo, _> = serde_json::from_str("\"1234567\"");
        assert!(ok.is_ok());
        let bad: Result<OutTradeNo, _> = serde_json::from_str("\"12\"");
        assert!(bad.is_err());
    }

    #[test]
    fn notify_url_rules() {
        assert!(
            "https://pay.example.com/notify/ch_1/payment"
                .parse::<NotifyUrl>()
                .is_ok()
        );
        assert!(
            "http://127.0.0.1:8080/notify/ch_1/payment"
                .parse::<NotifyUrl>()
                .is_ok()
        );
        assert!(
            "https://pay.example.com/notify?x=1"
                .parse::<NotifyUrl>()
                .is_err()
        );
        assert!("ftp://pay.example.com/notify".parse::<NotifyUrl>().is_err());
        assert!("https:///notify".parse::<NotifyUrl>().is_err());
        let long = format!("https://example.com/{}", "a".repeat(240));
        assert!(long.parse::<NotifyUrl>().is_err());
    }

    proptest! {
        #[test]
        fn valid_trade_numbers_parse(s in "[0-9A-Za-z_|*-]{6,32}") {
            prop_assert_eq!(s.parse::<OutTradeNo>().map(|o| o.into_string()), Ok(s));
        }

        #[test]
        fn anything_else_is_refused(s in "\\PC*") {
            let valid = (6..=32).contains(&s.len()) && s.bytes().all(trade_no_char);
            prop_assert_eq!(s.parse::<OutTradeNo>().is_ok(), valid);
        }
    }
}
