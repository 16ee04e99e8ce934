//! Request and response field mapping of the v2 endpoints (reference §2.5): pure functions from
//! paygate's values to [`Fields`] and back. No signing, no I/O.
//!
//! Every request carries `appid`, `mch_id`, `nonce_str` and `sign_type` (signed, so WeChat
//! answers and signs with the same algorithm); the client adds `sign`. Responses are read
//! leniently (unknown fields ignored: WeChat adds fields over time) but every field paygate
//! uses is parsed strictly: amounts must be integer fen, ids must satisfy their newtypes.

use paygate_core::time_fmt;
use paygate_core::{
    AppId, CreatePayment, MchId, Money, OpenId, OutRefundNo, OutTradeNo, PaymentRef, PaymentStatus,
    Prepay, PrepayId, ProviderError, RefundId, RefundRequest, RefundState, RefundStatus,
    TradeState, TradeType, TransactionId,
};
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::sign::SignType;
use crate::xml::Fields;

/// A prepay id (and, commonly stated, a code_url) is valid for two hours.
pub const PREPAY_VALIDITY: Duration = Duration::hours(2);

/// WeChat's `body` is String(128); counted in characters.
const MAX_BODY_CHARS: usize = 128;
/// WeChat's `attach` is String(127).
const MAX_ATTACH_CHARS: usize = 127;

/// Who is calling: the fields every request starts with.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub appid: &'a AppId,
    pub mch_id: &'a MchId,
    pub nonce_str: &'a str,
    pub sign_type: SignType,
}

impl Envelope<'_> {
    fn fields(&self) -> Fields {
        let mut f = Fields::new();
        f.insert("appid".into(), self.appid.to_string());
        f.insert("mch_id".into(), self.mch_id.to_string());
        f.insert("nonce_str".into(), self.nonce_str.to_owned());
        f.insert("sign_type".into(), self.sign_type.as_str().to_owned());
        f
    }
}

fn put(f: &mut Fields, k: &str, v: impl Into<String>) {
    f.insert(k.to_owned(), v.into());
}

fn check_amount(field: &'static str, m: Money) -> Result<(), ProviderError> {
    if m.is_zero() || m > Money::WECHAT_MAX {
        return Err(ProviderError::InvalidRequest {
            field,
            message: format!("must be between 1 and {} fen", Money::WECHAT_MAX.fen()),
        });
    }
    Ok(())
}

/// `/pay/unifiedorder` for JSAPI or NATIVE.
pub fn unifiedorder(env: &Envelope<'_>, req: &CreatePayment) -> Result<Fields, ProviderError> {
    let body_chars = req.description.chars().count();
    if body_chars == 0 || body_chars > MAX_BODY_CHARS {
        return Err(ProviderError::InvalidRequest {
            field: "description",
            message: format!("must be 1 to {MAX_BODY_CHARS} characters"),
        });
    }
    check_amount("amount", req.amount)?;
    let mut f = env.fields();
    put(&mut f, "body", req.description.as_str());
    if let Some(attach) = req.attach.as_deref().filter(|a| !a.is_empty()) {
        if attach.chars().count() > MAX_ATTACH_CHARS {
            return Err(ProviderError::InvalidRequest {
                field: "attach",
                message: format!("must be at most {MAX_ATTACH_CHARS} characters"),
            });
        }
        put(&mut f, "attach", attach);
    }
    put(&mut f, "out_trade_no", req.out_trade_no.as_str());
    put(&mut f, "fee_type", "CNY");
    put(&mut f, "total_fee", req.amount.fen().to_string());
    put(&mut f, "spbill_create_ip", req.payer_client_ip.to_string());
    if let Some(expire) = req.time_expire {
        put(&mut f, "time_expire", time_fmt::to_v2(expire));
    }
    put(&mut f, "notify_url", req.notify_url.as_str());
    match &req.trade_type {
        TradeType::Jsapi { payer } => {
            put(&mut f, "trade_type", "JSAPI");
            put(&mut f, "openid", payer.as_str());
        }
        TradeType::Native => {
            put(&mut f, "trade_type", "NATIVE");
            // NATIVE requires product_id; the order number identifies the product well enough.
            put(&mut f, "product_id", req.out_trade_no.as_str());
        }
    }
    Ok(f)
}

/// `/pay/orderquery` by transaction id or out_trade_no.
pub fn orderquery(env: &Envelope<'_>, by: &PaymentRef) -> Fields {
    let mut f = env.fields();
    match by {
        PaymentRef::OutTradeNo(no) => put(&mut f, "out_trade_no", no.as_str()),
        PaymentRef::TransactionId(id) => put(&mut f, "transaction_id", id.as_str()),
    }
    f
}

/// `/pay/closeorder`.
pub fn closeorder(env: &Envelope<'_>, out_trade_no: &OutTradeNo) -> Fields {
    let mut f = env.fields();
    put(&mut f, "out_trade_no", out_trade_no.as_str());
    f
}

/// `/secapi/pay/refund`.
pub fn refund(env: &Envelope<'_>, req: &RefundRequest) -> Result<Fields, ProviderError> {
    check_amount("total", req.total)?;
    check_amount("refund", req.refund)?;
    if req.refund > req.total {
        return Err(ProviderError::InvalidRequest {
            field: "refund",
            message: "must not exceed the order total".into(),
        });
    }
    let mut f = env.fields();
    put(&mut f, "out_trade_no", req.out_trade_no.as_str());
    put(&mut f, "out_refund_no", req.out_refund_no.as_str());
    put(&mut f, "total_fee", req.total.fen().to_string());
    put(&mut f, "refund_fee", req.refund.fen().to_string());
    put(&mut f, "refund_fee_type", "CNY");
    if let Some(reason) = req.reason.as_deref().filter(|r| !r.is_empty()) {
        put(&mut f, "refund_desc", reason);
    }
    put(&mut f, "notify_url", req.notify_url.as_str());
    Ok(f)
}

/// `/pay/refundquery` by out_refund_no.
pub fn refundquery(env: &Envelope<'_>, out_refund_no: &OutRefundNo) -> Fields {
    let mut f = env.fields();
    put(&mut f, "out_refund_no", out_refund_no.as_str());
    f
}

// ---- responses -------------------------------------------------------------------------------

fn malformed(field: &str, why: impl std::fmt::Display) -> ProviderError {
    ProviderError::Malformed(format!("{field}: {why}"))
}

/// A field that must be present and non-empty.
pub fn required<'f>(f: &'f Fields, k: &str) -> Result<&'f str, ProviderError> {
    match f.get(k).map(String::as_str) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(malformed(k, "missing")),
    }
}

/// A field that may be absent (or empty, which v2 uses for "absent").
pub fn optional<'f>(f: &'f Fields, k: &str) -> Option<&'f str> {
    f.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

/// Parses a newtype id field.
pub fn id<T: std::str::FromStr>(f: &Fields, k: &str) -> Result<T, ProviderError>
where
    T::Err: std::fmt::Display,
{
    required(f, k)?.parse().map_err(|e| malformed(k, e))
}

fn optional_id<T: std::str::FromStr>(f: &Fields, k: &str) -> Result<Option<T>, ProviderError>
where
    T::Err: std::fmt::Display,
{
    optional(f, k)
        .map(|v| v.parse().map_err(|e| malformed(k, e)))
        .transpose()
}

/// An amount in integer fen (`"1.00"`, `"-1"`, `"abc"` are errors, never rounded).
pub fn fen(f: &Fields, k: &str) -> Result<Option<Money>, ProviderError> {
    optional(f, k)
        .map(|v| Money::parse_fen(v).map_err(|e| malformed(k, e)))
        .transpose()
}

/// v2's refund time format `yyyy-MM-dd HH:mm:ss`, Beijing time.
fn refund_time(s: &str) -> Option<OffsetDateTime> {
    let fmt = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(s, fmt)
        .ok()
        .map(|p| p.assume_offset(time_fmt::BEIJING))
}

/// The result of unifiedorder.
pub fn prepay(
    f: &Fields,
    trade_type: &TradeType,
    now: OffsetDateTime,
    time_expire: Option<OffsetDateTime>,
) -> Result<Prepay, ProviderError> {
    let mut expires_at = now + PREPAY_VALIDITY;
    if let Some(t) = time_expire.filter(|t| *t < expires_at) {
        expires_at = t;
    }
    match trade_type {
        TradeType::Jsapi { .. } => Ok(Prepay::Jsapi {
            prepay_id: id::<PrepayId>(f, "prepay_id")?,
            expires_at,
        }),
        TradeType::Native => Ok(Prepay::Native {
            code_url: required(f, "code_url")?.to_owned(),
            expires_at,
        }),
    }
}

/// A payment as orderquery (with `trade_state`) or a notification (`trade_state` given) reports it.
pub fn payment_status(
    f: &Fields,
    trade_state: Option<TradeState>,
) -> Result<PaymentStatus, ProviderError> {
    let trade_state = match trade_state {
        Some(s) => s,
        None => {
            let raw = required(f, "trade_state")?;
            TradeState::parse(raw)
                .ok_or_else(|| malformed("trade_state", format!("unknown value {raw:?}")))?
        }
    };
    let success_time = match optional(f, "time_end") {
        Some(t) => {
            Some(time_fmt::from_v2(t).ok_or_else(|| malformed("time_end", "not yyyyMMddHHmmss"))?)
        }
        None => None,
    };
    Ok(PaymentStatus {
        appid: id::<AppId>(f, "appid")?,
        mch_id: id::<MchId>(f, "mch_id")?,
        out_trade_no: id::<OutTradeNo>(f, "out_trade_no")?,
        transaction_id: optional_id::<TransactionId>(f, "transaction_id")?,
        trade_state,
        total: fen(f, "total_fee")?,
        payer_total: fen(f, "cash_fee")?,
        payer: optional_id::<OpenId>(f, "openid")?,
        success_time,
        attach: optional(f, "attach").map(str::to_owned),
    })
}

/// Maps `refund_status` (notification and refundquery spellings).
pub fn refund_state(raw: &str) -> Result<RefundState, ProviderError> {
    match raw {
        "SUCCESS" => Ok(RefundState::Success),
        "CHANGE" => Ok(RefundState::Abnormal),
        "REFUNDCLOSE" => Ok(RefundState::Closed),
        "PROCESSING" => Ok(RefundState::Processing),
        other => Err(malformed(
            "refund_status",
            format!("unknown value {other:?}"),
        )),
    }
}

/// The answer to a refund request: accepted, not yet settled (G15).
pub fn refund_accepted(f: &Fields, req: &RefundRequest) -> Result<RefundStatus, ProviderError> {
    Ok(RefundStatus {
        out_refund_no: optional_id::<OutRefundNo>(f, "out_refund_no")?
            .unwrap_or_else(|| req.out_refund_no.clone()),
        refund_id: optional_id::<RefundId>(f, "refund_id")?,
        out_trade_no: optional_id::<OutTradeNo>(f, "out_trade_no")?,
        transaction_id: optional_id::<TransactionId>(f, "transaction_id")?,
        state: RefundState::Processing,
        refund: fen(f, "refund_fee")?,
        total: fen(f, "total_fee")?,
        success_time: None,
    })
}

/// Picks the refund `out_refund_no` out of refundquery's indexed `_$n` fields.
pub fn refund_query(
    f: &Fields,
    out_refund_no: &OutRefundNo,
) -> Result<RefundStatus, ProviderError> {
    let count: usize = match optional(f, "refund_count") {
        Some(c) => c
            .parse()
            .map_err(|_| malformed("refund_count", "not a number"))?,
        None => 0,
    };
    let n = (0..count.min(100))
        .find(|n| {
            f.get(&format!("out_refund_no_{n}")).map(String::as_str) == Some(out_refund_no.as_str())
        })
        .ok_or(ProviderError::RefundNotFound)?;
    let idx = |k: &str| format!("{k}_{n}");
    let success_time = match optional(f, &idx("refund_success_time")) {
        Some(t) => Some(
            refund_time(t)
                .ok_or_else(|| malformed("refund_success_time", "not yyyy-MM-dd HH:mm:ss"))?,
        ),
        None => None,
    };
    Ok(RefundStatus {
        out_refund_no: out_refund_no.clone(),
        refund_id: optional_id::<RefundId>(f, &idx("refund_id"))?,
        out_trade_no: optional_id::<OutTradeNo>(f, "out_trade_no")?,
        transaction_id: optional_id::<TransactionId>(f, "transaction_id")?,
        state: refund_state(required(f, &idx("refund_status"))?)?,
        refund: fen(f, &idx("refund_fee"))?,
        total: fen(f, "total_fee")?,
        success_time,
    })
}

/// The decrypted `req_info` of a refund notification.
pub fn refund_notified(f: &Fields) -> Result<RefundStatus, ProviderError> {
    let success_time = match optional(f, "success_time") {
        Some(t) => Some(
            refund_time(t).ok_or_else(|| malformed("success_time", "not yyyy-MM-dd HH:mm:ss"))?,
        ),
        None => None,
    };
    Ok(RefundStatus {
        out_refund_no: id::<OutRefundNo>(f, "out_refund_no")?,
        refund_id: optional_id::<RefundId>(f, "refund_id")?,
        out_trade_no: optional_id::<OutTradeNo>(f, "out_trade_no")?,
        transaction_id: optional_id::<TransactionId>(f, "transaction_id")?,
        state: refund_state(required(f, "refund_status")?)?,
        refund: fen(f, "refund_fee")?,
        total: fen(f, "total_fee")?,
        success_time,
    })
}
