//! The pure rules of a new order: amount, currency, description, attach, expiry, the
//! generated `out_trade_no`, and which app and channel an order goes to.
//!
//! The limits are the stricter of WeChat Pay v2's and v3's, so the same order is valid on
//! either protocol and the server never branches on the channel's kind. Every refusal is a
//! 422 `invalid_request` naming the field; nothing here does I/O.

use paygate_core::{AppId, ChannelId, Money, OutTradeNo};
use paygate_store::{App, Channel, ChannelStatus};
use rand::Rng;
use time::{Duration, OffsetDateTime};

use crate::error::{ApiError, PaymentError};

/// The largest order: 100 million yuan, far above any real mini-program payment but well
/// inside both protocols' integer fields.
pub const MAX_AMOUNT_FEN: i64 = 10_000_000_000;
/// WeChat's limit on `body` / `description` (v2: 128 bytes; v3: 127 characters).
pub const MAX_DESCRIPTION_CHARS: usize = 127;
/// WeChat's limit on `attach` (v2: 127 bytes; v3: 128 characters): counted in bytes.
pub const MAX_ATTACH_BYTES: usize = 127;
/// An order's lifetime when the tenant does not choose one.
pub const DEFAULT_ORDER_TTL: Duration = Duration::hours(2);
/// The longest lifetime accepted.
pub const MAX_ORDER_TTL: Duration = Duration::days(7);
/// The shortest: WeChat refuses a `time_expire` less than a minute away.
pub const MIN_ORDER_TTL: Duration = Duration::minutes(1);

pub fn check_amount(fen: i64) -> Result<Money, ApiError> {
    if fen <= 0 {
        return Err(ApiError::invalid_field(
            "amount",
            "must be a positive integer number of fen",
        ));
    }
    if fen > MAX_AMOUNT_FEN {
        return Err(ApiError::invalid_field(
            "amount",
            format!("must be at most {MAX_AMOUNT_FEN} fen"),
        ));
    }
    Money::from_fen(fen).map_err(|_| ApiError::invalid_field("amount", "is not a valid amount"))
}

pub fn check_currency(currency: Option<&str>) -> Result<(), ApiError> {
    match currency {
        None | Some("CNY") => Ok(()),
        Some(_) => Err(ApiError::invalid_field("currency", "only CNY is supported")),
    }
}

pub fn check_description(description: &str) -> Result<(), ApiError> {
    let chars = description.chars().count();
    if description.trim().is_empty() || chars > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid_field(
            "description",
            format!("must be 1 to {MAX_DESCRIPTION_CHARS} characters, not blank"),
        ));
    }
    if description.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "description",
            "must not contain control characters",
        ));
    }
    Ok(())
}

pub fn check_attach(attach: Option<&str>) -> Result<(), ApiError> {
    match attach {
        Some(a) if a.len() > MAX_ATTACH_BYTES => Err(ApiError::invalid_field(
            "attach",
            format!("must be at most {MAX_ATTACH_BYTES} bytes"),
        )),
        _ => Ok(()),
    }
}

/// The order's expiry: `requested`, or now + 2 h; between 1 minute and 7 days from now.
/// Truncated to whole seconds, because WeChat's `time_expire` has no fraction.
pub fn resolve_expiry(
    requested: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<OffsetDateTime, ApiError> {
    let at = requested.unwrap_or(now + DEFAULT_ORDER_TTL);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    if at < now + MIN_ORDER_TTL {
        return Err(ApiError::invalid_field(
            "expires_at",
            "must be at least one minute in the future",
        ));
    }
    if at > now + MAX_ORDER_TTL {
        return Err(ApiError::invalid_field(
            "expires_at",
            "must be at most 7 days in the future",
        ));
    }
    Ok(at)
}

/// A fresh 32-character `out_trade_no`: `pg`, the 13-digit Unix milliseconds (sortable,
/// readable in a WeChat statement), then 17 random lower-case letters and digits (87 bits).
/// Only `[0-9a-z]`, which both protocols accept.
pub fn generate_out_trade_no(
    now: OffsetDateTime,
    rng: &mut impl Rng,
) -> Result<OutTradeNo, ApiError> {
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let ms = (now.unix_timestamp_nanos() / 1_000_000).clamp(0, 9_999_999_999_999);
    let mut s = format!("pg{ms:013}");
    for _ in 0..17 {
        let i = rng.random_range(0..ALPHABET.len());
        s.push(char::from(ALPHABET[i]));
    }
    // Valid by construction; an error here is a bug, answered as 500 rather than a panic.
    s.parse()
        .map_err(|e| ApiError::internal(format!("generated out_trade_no: {e}")))
}

/// The app of a new order: the requested one (it must be the tenant's), or the tenant's only
/// app. Several apps and none requested is 422 naming `appid`. `apps` is the tenant's apps, or
/// the store's `order_candidates` for `requested`, which decide the same.
pub fn choose_app(requested: Option<&AppId>, apps: &[App]) -> Result<AppId, ApiError> {
    match (requested, apps) {
        (Some(want), _) => apps
            .iter()
            .find(|a| &a.appid == want)
            .map(|a| a.appid.clone())
            .ok_or(ApiError::NotFound(crate::error::Resource::App)),
        (None, [only]) => Ok(only.appid.clone()),
        (None, []) => Err(ApiError::invalid_field(
            "appid",
            "the tenant has no mini-program app",
        )),
        (None, _) => Err(ApiError::invalid_field(
            "appid",
            "is required: the tenant has several apps",
        )),
    }
}

/// The channel of a new order: the requested one (active, the tenant's), else the tenant's
/// default, else its only active channel; otherwise 422 `no_channel`. `channels` is the
/// tenant's channels, or the store's `order_candidates`, which decide the same.
pub fn choose_channel(
    requested: Option<&ChannelId>,
    default: Option<&ChannelId>,
    channels: &[Channel],
) -> Result<ChannelId, ApiError> {
    let active = |c: &&Channel| c.status == ChannelStatus::Active;
    if let Some(want) = requested {
        let channel = channels
            .iter()
            .find(|c| &c.id == want)
            .ok_or(ApiError::NotFound(crate::error::Resource::Channel))?;
        return if active(&channel) {
            Ok(channel.id.clone())
        } else {
            Err(PaymentError::ChannelDisabled.into())
        };
    }
    if let Some(d) = default
        && let Some(c) = channels.iter().filter(active).find(|c| &c.id == d)
    {
        return Ok(c.id.clone());
    }
    let mut live = channels.iter().filter(active);
    match (live.next(), live.next()) {
        (Some(only), None) => Ok(only.id.clone()),
        _ => Err(PaymentError::NoChannel.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use paygate_core::{MchId, PlatformId, ProviderKind, TenantId};
    use rand::SeedableRng;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap()
    }

    fn field(e: ApiError) -> Option<String> {
        match e {
            ApiError::InvalidRequest { field, .. } => field,
            other => Some(other.code().to_owned()),
        }
    }

    #[test]
    fn amounts_are_positive_bounded_fen() {
        assert_eq!(check_amount(1).unwrap().fen(), 1);
        assert_eq!(check_amount(MAX_AMOUNT_FEN).unwrap().fen(), MAX_AMOUNT_FEN);
        for bad in [0, -1, MAX_AMOUNT_FEN + 1, i64::MIN] {
            assert_eq!(
                field(check_amount(bad).unwrap_err()).as_deref(),
                Some("amount")
            );
        }
    }

    #[test]
    fn currency_description_and_attach() {
        assert!(check_currency(None).is_ok());
        assert!(check_currency(Some("CNY")).is_ok());
        assert!(check_currency(Some("USD")).is_err());
        assert!(check_currency(Some("cny")).is_err());
        assert!(check_description("一杯咖啡").is_ok());
        assert!(check_description(&"字".repeat(127)).is_ok());
        for bad in ["", "   ", "a\nb"] {
            assert!(check_description(bad).is_err(), "{bad:?}");
        }
        assert!(check_description(&"字".repeat(128)).is_err());
        assert!(check_attach(None).is_ok());
        assert!(check_attach(Some(&"a".repeat(127))).is_ok());
        // 43 three-byte characters are 129 bytes.
        assert!(check_attach(Some(&"字".repeat(43))).is_err());
    }

    #[test]
    fn expiry_defaults_to_two_hours_and_is_bounded() {
        assert_eq!(
            resolve_expiry(None, now()).unwrap(),
            now() + Duration::hours(2)
        );
        let at = now() + Duration::days(7);
        assert_eq!(resolve_expiry(Some(at), now()).unwrap(), at);
        let fraction = now() + Duration::milliseconds(3_600_250);
        assert_eq!(
            resolve_expiry(Some(fraction), now()).unwrap(),
            now() + Duration::hours(1)
        );
        for bad in [
            now() - Duration::seconds(1),
            now() + Duration::seconds(59),
            now() + Duration::days(7) + Duration::seconds(1),
        ] {
            assert_eq!(
                field(resolve_expiry(Some(bad), now()).unwrap_err()).as_deref(),
                Some("expires_at")
            );
        }
    }

    #[test]
    fn generated_out_trade_nos_are_32_safe_chars_and_distinct() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let a = generate_out_trade_no(now(), &mut rng).unwrap();
        let b = generate_out_trade_no(now(), &mut rng).unwrap();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().starts_with("pg1767225600000"));
        assert!(
            a.as_str()
                .bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
        assert_ne!(a, b);
    }

    fn app(id: &str) -> App {
        App {
            appid: id.parse().unwrap(),
            tenant_id: TenantId::from_parts(1, 1),
            name: "a".into(),
            created_at: now(),
            updated_at: now(),
        }
    }

    fn channel(id: &str, status: ChannelStatus) -> Channel {
        Channel {
            id: id.parse().unwrap(),
            tenant_id: TenantId::from_parts(1, 1),
            kind: ProviderKind::WechatV3,
            mch_id: "1900000109".parse::<MchId>().unwrap(),
            name: "c".into(),
            status,
            current_version: 1,
            created_at: now(),
            updated_at: now(),
        }
    }

    #[test]
    fn app_choice() {
        let one = [app("wx1111111111111111")];
        let two = [app("wx1111111111111111"), app("wx2222222222222222")];
        assert_eq!(choose_app(None, &one).unwrap(), one[0].appid);
        assert_eq!(
            field(choose_app(None, &two).unwrap_err()).as_deref(),
            Some("appid")
        );
        assert_eq!(choose_app(Some(&two[1].appid), &two).unwrap(), two[1].appid);
        let foreign: AppId = "wx3333333333333333".parse().unwrap();
        assert_eq!(
            choose_app(Some(&foreign), &two).unwrap_err().code(),
            "app_not_found"
        );
        assert!(choose_app(None, &[]).is_err());
    }

    #[test]
    fn channel_choice() {
        use ChannelStatus::{Active, Disabled};
        let a = channel("ch_a", Active);
        let b = channel("ch_b", Active);
        let off = channel("ch_off", Disabled);
        let code = |r: Result<ChannelId, ApiError>| r.map_err(|e| e.code());
        // Requested wins; disabled or unknown is refused.
        assert_eq!(
            code(choose_channel(
                Some(&b.id),
                Some(&a.id),
                &[a.clone(), b.clone()]
            )),
            Ok(b.id.clone())
        );
        assert_eq!(
            code(choose_channel(
                Some(&off.id),
                None,
                std::slice::from_ref(&off)
            )),
            Err("channel_disabled")
        );
        assert_eq!(
            code(choose_channel(Some(&a.id), None, std::slice::from_ref(&b))),
            Err("channel_not_found")
        );
        // Then the default, then the only active one.
        assert_eq!(
            code(choose_channel(None, Some(&a.id), &[a.clone(), b.clone()])),
            Ok(a.id.clone())
        );
        assert_eq!(
            code(choose_channel(None, None, &[off.clone(), b.clone()])),
            Ok(b.id.clone())
        );
        assert_eq!(
            code(choose_channel(
                None,
                Some(&off.id),
                &[off.clone(), b.clone()]
            )),
            Ok(b.id.clone())
        );
        assert_eq!(
            code(choose_channel(None, None, &[a.clone(), b.clone()])),
            Err("no_channel")
        );
        assert_eq!(code(choose_channel(None, None, &[off])), Err("no_channel"));
        assert_eq!(code(choose_channel(None, None, &[])), Err("no_channel"));
    }
}
