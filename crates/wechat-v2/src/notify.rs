//! v2 notifications: payment (signed XML) and refund (encrypted `req_info`), and the reply.
//!
//! Order of checks, all before anything is trusted: size + XXE rules of [`crate::xml`] →
//! `return_code` → signature (payment) / channel match then decryption (refund) → field
//! parsing, where an amount that is not integer fen is an error, never a rounding.
//!
//! Sign type (gotcha G10): a `sign_type` field in the notification decides; without one the
//! channel's configured type is tried first, then the other algorithm — accepting it is safe
//! because both prove knowledge of the same API key, and WeChat is reported to sign HMAC
//! merchants' notifications with MD5 at times.
//!
//! The reply is always HTTP 200 (WeChat re-sends on any other status, even 201); the body says
//! SUCCESS or FAIL.

use paygate_core::{
    AppId, HttpReply, MchId, NotificationOutcome, PaymentEvent, ProviderError, RefundEvent,
    TradeState, TransactionId, VerifyFailure,
};

use crate::refund_notify::{self, ReqInfoError};
use crate::sign::{self, ApiKey, SignType};
use crate::wire;
use crate::xml::{self, Fields};

/// The channel a notification arrived for.
#[derive(Debug, Clone, Copy)]
pub struct NotifyContext<'a> {
    pub mch_id: &'a MchId,
    pub appid: &'a AppId,
    pub key: &'a ApiKey,
    pub sign_type: SignType,
}

fn other(t: SignType) -> SignType {
    match t {
        SignType::Md5 => SignType::HmacSha256,
        SignType::HmacSha256 => SignType::Md5,
    }
}

/// Verifies a notification's `sign` by the G10 policy; returns the algorithm that matched.
pub fn verify_notification_sign(
    fields: &Fields,
    key: &ApiKey,
    configured: SignType,
) -> Result<SignType, VerifyFailure> {
    if let Some(raw) = fields.get("sign_type").filter(|s| !s.is_empty()) {
        let t = SignType::parse(raw).ok_or(VerifyFailure::BadSignature)?;
        return sign::verify(fields, key, t).map(|()| t);
    }
    match sign::verify(fields, key, configured) {
        Ok(()) => Ok(configured),
        Err(VerifyFailure::BadSignature) => {
            let alt = other(configured);
            sign::verify(fields, key, alt)
                .map(|()| alt)
                .map_err(|_| VerifyFailure::BadSignature)
        }
        Err(e) => Err(e),
    }
}

fn decode(body: &[u8]) -> Result<Fields, ProviderError> {
    xml::decode(body).map_err(|e| ProviderError::Malformed(format!("notification: {e}")))
}

fn check_return_success(f: &Fields) -> Result<(), ProviderError> {
    match f.get("return_code").map(String::as_str) {
        Some("SUCCESS") => Ok(()),
        _ => Err(ProviderError::Malformed(
            "notification return_code is not SUCCESS".into(),
        )),
    }
}

fn check_channel(f: &Fields, ctx: &NotifyContext<'_>) -> Result<(), ProviderError> {
    if wire::required(f, "mch_id")? != ctx.mch_id.as_str() {
        return Err(ProviderError::Malformed(
            "notification mch_id is not this channel's".into(),
        ));
    }
    if wire::required(f, "appid")? != ctx.appid.as_str() {
        return Err(ProviderError::Malformed(
            "notification appid is not this channel's".into(),
        ));
    }
    Ok(())
}

/// Verifies and normalises a payment notification.
pub fn parse_payment(body: &[u8], ctx: &NotifyContext<'_>) -> Result<PaymentEvent, ProviderError> {
    let f = decode(body)?;
    check_return_success(&f)?;
    verify_notification_sign(&f, ctx.key, ctx.sign_type).map_err(ProviderError::Verification)?;
    check_channel(&f, ctx)?;
    let state = match wire::required(&f, "result_code")? {
        "SUCCESS" => TradeState::Success,
        "FAIL" => TradeState::PayError,
        other => {
            return Err(ProviderError::Malformed(format!(
                "result_code: unknown value {other:?}"
            )));
        }
    };
    let transaction_id: TransactionId = wire::id(&f, "transaction_id")?;
    let payment = wire::payment_status(&f, Some(state))?;
    if payment.total.is_none() {
        return Err(ProviderError::Malformed("total_fee: missing".into()));
    }
    Ok(PaymentEvent {
        event_id: transaction_id.into_string(),
        payment,
    })
}

/// Decrypts and normalises a refund notification.
pub fn parse_refund(body: &[u8], ctx: &NotifyContext<'_>) -> Result<RefundEvent, ProviderError> {
    let f = decode(body)?;
    check_return_success(&f)?;
    check_channel(&f, ctx)?;
    let req_info = wire::required(&f, "req_info")?;
    let inner = refund_notify::decrypt_req_info(req_info, ctx.key).map_err(|e| match e {
        ReqInfoError::Base64 => ProviderError::Malformed("req_info is not base64".into()),
        // Garbage after a lucky unpadding is a wrong key too, not WeChat sending bad XML.
        ReqInfoError::Decrypt | ReqInfoError::Xml(_) => {
            ProviderError::Verification(VerifyFailure::Decrypt)
        }
    })?;
    let refund = wire::refund_notified(&inner)?;
    // v2 notifications carry no event id; a refund can be notified once per state it reaches
    // (CHANGE, then SUCCESS after manual handling), so the state is part of the dedupe key.
    let event_id = format!(
        "{}:{}",
        refund
            .refund_id
            .as_ref()
            .map_or(refund.out_refund_no.as_str(), |r| r.as_str()),
        refund.state.as_str()
    );
    Ok(RefundEvent {
        event_id,
        mch_id: ctx.mch_id.clone(),
        refund,
    })
}

/// The reply telling WeChat "done" (SUCCESS/OK) or "send again" (FAIL + message); always 200.
pub fn reply(outcome: &NotificationOutcome) -> HttpReply {
    let mut f = Fields::new();
    match outcome {
        NotificationOutcome::Done => {
            f.insert("return_code".into(), "SUCCESS".into());
            f.insert("return_msg".into(), "OK".into());
        }
        NotificationOutcome::Retry { message } => {
            f.insert("return_code".into(), "FAIL".into());
            f.insert("return_msg".into(), message.clone());
        }
    }
    HttpReply {
        status: 200,
        content_type: "text/xml; charset=utf-8",
        body: xml::encode(&f).into_bytes(),
    }
}
