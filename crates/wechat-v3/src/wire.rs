//! The JSON bodies of API v3, as serde types. Amounts are [`Money`] (integer fen: a float or a
//! string amount fails to deserialize). Fields WeChat may omit are `Option`; unknown fields are
//! ignored, since WeChat adds fields without notice.

use paygate_core::{
    AppId, MchId, Money, OpenId, OutRefundNo, OutTradeNo, PrepayId, RefundId, TransactionId,
};
use serde::{Deserialize, Serialize};

/// `POST /v3/pay/transactions/{jsapi,native}` body (`payer` only for JSAPI).
#[derive(Debug, Serialize)]
pub struct PrepayBody<'a> {
    pub appid: &'a AppId,
    pub mchid: &'a MchId,
    pub description: &'a str,
    pub out_trade_no: &'a OutTradeNo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_expire: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach: Option<&'a str>,
    pub notify_url: &'a str,
    pub amount: PrepayAmount,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer<'a>>,
    pub scene_info: SceneInfo,
}

#[derive(Debug, Serialize)]
pub struct PrepayAmount {
    pub total: Money,
    pub currency: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Payer<'a> {
    pub openid: &'a OpenId,
}

#[derive(Debug, Serialize)]
pub struct SceneInfo {
    pub payer_client_ip: String,
}

/// The 200 answer of a prepay: `prepay_id` (JSAPI) or `code_url` (Native).
#[derive(Debug, Deserialize)]
pub struct PrepayResponse {
    pub prepay_id: Option<PrepayId>,
    pub code_url: Option<String>,
}

/// `POST …/close` body.
#[derive(Debug, Serialize)]
pub struct CloseBody<'a> {
    pub mchid: &'a MchId,
}

/// A Transaction: the query answer and the plaintext of a payment notification.
#[derive(Debug, Deserialize)]
pub struct Transaction {
    pub appid: AppId,
    pub mchid: MchId,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: Option<TransactionId>,
    pub trade_state: String,
    pub success_time: Option<String>,
    pub payer: Option<TransactionPayer>,
    pub amount: Option<TransactionAmount>,
    pub attach: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TransactionPayer {
    pub openid: Option<OpenId>,
}

#[derive(Debug, Deserialize)]
pub struct TransactionAmount {
    pub total: Option<Money>,
    pub payer_total: Option<Money>,
}

/// `POST /v3/refund/domestic/refunds` body.
#[derive(Debug, Serialize)]
pub struct RefundBody<'a> {
    pub out_trade_no: &'a OutTradeNo,
    pub out_refund_no: &'a OutRefundNo,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
    pub notify_url: &'a str,
    pub amount: RefundBodyAmount,
}

#[derive(Debug, Serialize)]
pub struct RefundBodyAmount {
    pub refund: Money,
    pub total: Money,
    pub currency: &'static str,
}

/// A Refund: the answer of the refund and refund-query calls.
#[derive(Debug, Deserialize)]
pub struct Refund {
    pub refund_id: Option<RefundId>,
    pub out_refund_no: OutRefundNo,
    pub transaction_id: Option<TransactionId>,
    pub out_trade_no: Option<OutTradeNo>,
    pub status: String,
    pub success_time: Option<String>,
    pub amount: Option<RefundAmount>,
}

#[derive(Debug, Deserialize)]
pub struct RefundAmount {
    pub total: Option<Money>,
    pub refund: Option<Money>,
}

/// The plaintext of a refund notification.
#[derive(Debug, Deserialize)]
pub struct RefundNotice {
    pub mchid: MchId,
    pub out_trade_no: Option<OutTradeNo>,
    pub transaction_id: Option<TransactionId>,
    pub out_refund_no: OutRefundNo,
    pub refund_id: Option<RefundId>,
    pub refund_status: String,
    pub success_time: Option<String>,
    pub amount: Option<RefundAmount>,
}

/// The envelope of every v3 notification.
#[derive(Debug, Deserialize)]
pub struct NotificationEnvelope {
    pub id: String,
    pub event_type: String,
    #[serde(default)]
    pub resource_type: Option<String>,
    pub resource: EncryptedResource,
}

/// An AES-256-GCM sealed resource (notifications and certificate downloads).
#[derive(Debug, Deserialize)]
pub struct EncryptedResource {
    pub algorithm: String,
    pub ciphertext: String,
    #[serde(default)]
    pub associated_data: Option<String>,
    pub nonce: String,
}

/// `GET /v3/certificates` answer.
#[derive(Debug, Deserialize)]
pub struct CertificatesResponse {
    pub data: Vec<CertificateItem>,
}

#[derive(Debug, Deserialize)]
pub struct CertificateItem {
    pub serial_no: String,
    pub encrypt_certificate: EncryptedResource,
}

/// The body of every non-2xx answer.
#[derive(Debug, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub detail: Option<serde_json::Value>,
}

// ---- normalisation into core's values -------------------------------------------------------

use paygate_core::state::RefundState;
use paygate_core::time_fmt::from_rfc3339;
use paygate_core::{PaymentStatus, ProviderError, RefundStatus, TradeState};
use time::OffsetDateTime;

fn time_field(name: &str, value: Option<String>) -> Result<Option<OffsetDateTime>, ProviderError> {
    match value {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(None),
        Some(s) => from_rfc3339(&s)
            .map(Some)
            .ok_or_else(|| ProviderError::Malformed(format!("{name} is not RFC 3339"))),
    }
}

impl Transaction {
    pub fn into_status(self) -> Result<PaymentStatus, ProviderError> {
        let trade_state = TradeState::parse(&self.trade_state).ok_or_else(|| {
            ProviderError::Malformed(format!("unknown trade_state {:?}", self.trade_state))
        })?;
        let (total, payer_total) = self
            .amount
            .map_or((None, None), |a| (a.total, a.payer_total));
        Ok(PaymentStatus {
            appid: self.appid,
            mch_id: self.mchid,
            out_trade_no: self.out_trade_no,
            transaction_id: self.transaction_id,
            trade_state,
            total,
            payer_total,
            payer: self.payer.and_then(|p| p.openid),
            success_time: time_field("success_time", self.success_time)?,
            attach: self.attach.filter(|a| !a.is_empty()),
        })
    }
}

fn refund_state(s: &str) -> Result<RefundState, ProviderError> {
    RefundState::parse(s)
        .ok_or_else(|| ProviderError::Malformed(format!("unknown refund status {s:?}")))
}

impl Refund {
    pub fn into_status(self) -> Result<RefundStatus, ProviderError> {
        let (total, refund) = self.amount.map_or((None, None), |a| (a.total, a.refund));
        Ok(RefundStatus {
            state: refund_state(&self.status)?,
            out_refund_no: self.out_refund_no,
            refund_id: self.refund_id,
            out_trade_no: self.out_trade_no,
            transaction_id: self.transaction_id,
            refund,
            total,
            success_time: time_field("success_time", self.success_time)?,
        })
    }
}

impl RefundNotice {
    pub fn into_status(self) -> Result<(MchId, RefundStatus), ProviderError> {
        let (total, refund) = self.amount.map_or((None, None), |a| (a.total, a.refund));
        let status = RefundStatus {
            state: refund_state(&self.refund_status)?,
            out_refund_no: self.out_refund_no,
            refund_id: self.refund_id,
            out_trade_no: self.out_trade_no,
            transaction_id: self.transaction_id,
            refund,
            total,
            success_time: time_field("success_time", self.success_time)?,
        };
        Ok((self.mchid, status))
    }
}
