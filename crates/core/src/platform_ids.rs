//! paygate's own identifiers: opaque, prefixed, time-ordered (`ten_01JD…`, `ord_01JD…`).
//!
//! Each is a type prefix plus 26 Crockford base32 characters encoding 48 bits of milliseconds
//! since the Unix epoch and 80 random bits (the ULID layout). Sorting the strings sorts by
//! creation time, which is what keyset pagination (`?cursor=`) relies on. The prefix makes a
//! pasted id self-describing and stops an order id from being accepted where a tenant id is
//! expected.
//!
//! This crate has no randomness source (no I/O): [`PlatformId::from_parts`] takes the time and
//! the random bits from the caller, which keeps generation deterministic in tests.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::ids::IdError;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const BODY_LEN: usize = 26;

fn encode_body(ms: u64, random: u128) -> String {
    // 128 bits: 48-bit time then 80-bit randomness; 26 chars × 5 bits = 130, top 2 bits zero.
    let value: u128 = (u128::from(ms & 0xFFFF_FFFF_FFFF) << 80) | (random & ((1u128 << 80) - 1));
    let mut out = [0u8; BODY_LEN];
    for (i, slot) in out.iter_mut().enumerate() {
        let shift = 5 * (BODY_LEN - 1 - i);
        *slot = CROCKFORD[((value >> shift) & 0x1F) as usize];
    }
    out.iter().map(|&b| b as char).collect()
}

fn valid_body(body: &str) -> bool {
    body.len() == BODY_LEN
        && body.bytes().all(|b| CROCKFORD.contains(&b))
        // The first character carries only 3 bits (130 − 128 = 2 spare).
        && body.as_bytes()[0] <= b'7'
}

/// Behaviour shared by every prefixed id type.
pub trait PlatformId: Sized {
    /// The type prefix including the underscore, e.g. `"ten_"`.
    const PREFIX: &'static str;
    /// Builds an id from a creation time (ms since the epoch) and 80 random bits.
    fn from_parts(unix_ms: u64, random: u128) -> Self;
}

macro_rules! platform_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $kind:literal) => {
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

        impl PlatformId for $name {
            const PREFIX: &'static str = $prefix;
            fn from_parts(unix_ms: u64, random: u128) -> Self {
                $name(format!("{}{}", $prefix, encode_body(unix_ms, random)))
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                match s.strip_prefix($prefix) {
                    Some(body) if valid_body(body) => Ok($name(s.to_owned())),
                    _ => Err(IdError {
                        kind: $kind,
                        reason: concat!("must be \"", $prefix, "\" followed by 26 base32 characters"),
                    }),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                $name::from_str(&s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
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
    };
}

platform_id!(
    /// A tenant (one merchant business onboarded by the operator).
    TenantId, "ten_", "tenant_id"
);
platform_id!(
    /// An operator account of the admin API.
    OperatorId, "op_", "operator_id"
);
platform_id!(
    /// A tenant API key (the id, not the secret).
    ApiKeyId, "key_", "key_id"
);
platform_id!(
    /// An order as paygate knows it (distinct from the merchant's `out_trade_no`).
    OrderId, "ord_", "order_id"
);
platform_id!(
    /// A refund as paygate knows it (distinct from WeChat's `refund_id`).
    RefundRecordId, "ref_", "refund_id"
);
platform_id!(
    /// A domain event in the webhook outbox.
    EventId, "evt_", "event_id"
);
platform_id!(
    /// A notification received from WeChat, as stored.
    NotificationId, "ntf_", "notification_id"
);
platform_id!(
    /// One attempt to deliver a webhook.
    DeliveryId, "dlv_", "delivery_id"
);
platform_id!(
    /// An alert raised for the operator.
    AlertId, "alr_", "alert_id"
);
platform_id!(
    /// An audit-log entry.
    AuditId, "aud_", "audit_id"
);

/// A new channel id in the same layout (`ch_…`); [`crate::ChannelId`] itself also accepts
/// ids chosen by hand, which the simulator and fixtures use.
pub fn new_channel_id(unix_ms: u64, random: u128) -> crate::ChannelId {
    crate::ChannelId::from_str(&format!("ch_{}", encode_body(unix_ms, random)))
        .unwrap_or_else(|_| unreachable!("generated channel ids are always valid"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answer_layout() {
        // ULID spec example: all-zero randomness at t=0 and the maximum value.
        assert_eq!(
            TenantId::from_parts(0, 0).as_str(),
            "ten_00000000000000000000000000"
        );
        assert_eq!(
            OrderId::from_parts(0xFFFF_FFFF_FFFF, (1u128 << 80) - 1).as_str(),
            "ord_7ZZZZZZZZZZZZZZZZZZZZZZZZZ"
        );
        // 1 ms → the 10th character (last of the 48-bit time part) is 1.
        assert_eq!(
            TenantId::from_parts(1, 0).as_str(),
            "ten_00000000010000000000000000"
        );
    }

    #[test]
    fn prefixes_do_not_mix() {
        let t = TenantId::from_parts(1_700_000_000_000, 42);
        assert!(TenantId::from_str(t.as_str()).is_ok());
        assert!(OrderId::from_str(t.as_str()).is_err());
        assert!(TenantId::from_str("ten_").is_err());
        assert!(TenantId::from_str("ten_8ZZZZZZZZZZZZZZZZZZZZZZZZZ").is_err());
        assert!(TenantId::from_str("ten_0000000000000000000000000I").is_err());
        assert!(serde_json::from_str::<TenantId>("\"ord_00000000000000000000000000\"").is_err());
    }

    proptest! {
        #[test]
        fn order_follows_time(a in 0u64..(1 << 48), b in 0u64..(1 << 48), ra: u128, rb: u128) {
            let (x, y) = (OrderId::from_parts(a, ra), OrderId::from_parts(b, rb));
            if a < b { prop_assert!(x < y); }
            prop_assert!(OrderId::from_str(x.as_str()).is_ok());
            let ch = new_channel_id(a, ra);
            prop_assert!(ch.as_str().starts_with("ch_"));
        }
    }
}
