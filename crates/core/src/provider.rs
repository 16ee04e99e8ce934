//! The provider seam: one trait that every payment protocol implements.
//!
//! The server resolves a tenant's channel, asks the [`ProviderRegistry`] for that channel's
//! provider and calls [`Provider`]; it never asks "v2 or v3". The values here are the whole
//! vocabulary between the two sides: requests carry parsed ids and [`Money`], never raw strings
//! of WeChat's wire formats, and providers return normalised states.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::state::RefundState;
use crate::{
    AppId, MchId, Money, NotifyUrl, OpenId, OutRefundNo, OutTradeNo, PrepayId, ProviderError,
    RefundId, TransactionId,
};

pub use crate::ids::ChannelId;

/// The client IP WeChat must be told about (`spbill_create_ip` / `payer_client_ip`).
pub type ClientIp = IpAddr;

/// A payment protocol paygate can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ProviderKind {
    #[serde(rename = "wechat-v2")]
    WechatV2,
    #[serde(rename = "wechat-v3")]
    WechatV3,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::WechatV2 => "wechat-v2",
            ProviderKind::WechatV3 => "wechat-v3",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [ProviderKind::WechatV2, ProviderKind::WechatV3]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// How the user will pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TradeType {
    /// In a mini-program (or official-account page) via `wx.requestPayment`.
    Jsapi { payer: OpenId },
    /// By scanning a `code_url` QR code.
    Native,
}

/// A request to create a payment at WeChat (unifiedorder / v3 prepay).
#[derive(Debug, Clone)]
pub struct CreatePayment {
    pub appid: AppId,
    pub out_trade_no: OutTradeNo,
    /// Shown to the payer; 1–127 characters.
    pub description: String,
    pub amount: Money,
    pub attach: Option<String>,
    pub trade_type: TradeType,
    pub payer_client_ip: ClientIp,
    pub time_expire: Option<OffsetDateTime>,
    pub notify_url: NotifyUrl,
}

/// What WeChat returned for a new payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepay {
    /// Pass to `wx.requestPayment` (after [`Provider::request_payment`] signs it).
    Jsapi {
        prepay_id: PrepayId,
        expires_at: OffsetDateTime,
    },
    /// Render as a QR code.
    Native {
        code_url: String,
        expires_at: OffsetDateTime,
    },
}

/// The `signType` of `wx.requestPayment`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PaySignType {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
    #[serde(rename = "RSA")]
    Rsa,
}

impl PaySignType {
    pub fn as_str(self) -> &'static str {
        match self {
            PaySignType::Md5 => "MD5",
            PaySignType::HmacSha256 => "HMAC-SHA256",
            PaySignType::Rsa => "RSA",
        }
    }
}

/// The signed fields a mini-program passes to `wx.requestPayment`, named as WeChat names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPayment {
    pub app_id: AppId,
    pub time_stamp: String,
    pub nonce_str: String,
    pub package: String,
    pub sign_type: PaySignType,
    pub pay_sign: String,
}

/// How to find a payment at WeChat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentRef {
    OutTradeNo(OutTradeNo),
    TransactionId(TransactionId),
}

/// WeChat's `trade_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TradeState {
    Success,
    Refund,
    #[serde(rename = "NOTPAY")]
    NotPay,
    Closed,
    Revoked,
    #[serde(rename = "USERPAYING")]
    UserPaying,
    #[serde(rename = "PAYERROR")]
    PayError,
    Accept,
}

impl TradeState {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "SUCCESS" => TradeState::Success,
            "REFUND" => TradeState::Refund,
            "NOTPAY" => TradeState::NotPay,
            "CLOSED" => TradeState::Closed,
            "REVOKED" => TradeState::Revoked,
            "USERPAYING" => TradeState::UserPaying,
            "PAYERROR" => TradeState::PayError,
            "ACCEPT" => TradeState::Accept,
            _ => return None,
        })
    }
}

/// A payment as WeChat reports it (query result, or the body of a payment notification).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentStatus {
    pub appid: AppId,
    pub mch_id: MchId,
    pub out_trade_no: OutTradeNo,
    pub transaction_id: Option<TransactionId>,
    pub trade_state: TradeState,
    /// The order total (`total_fee` / `amount.total`); absent for some unpaid orders.
    pub total: Option<Money>,
    /// What the payer actually paid after coupons (`cash_fee` / `amount.payer_total`).
    pub payer_total: Option<Money>,
    pub payer: Option<OpenId>,
    pub success_time: Option<OffsetDateTime>,
    pub attach: Option<String>,
}

/// A refund request. `out_refund_no` must be reused when retrying, never renewed.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub out_trade_no: OutTradeNo,
    pub out_refund_no: OutRefundNo,
    /// The order's total.
    pub total: Money,
    /// The amount to return.
    pub refund: Money,
    pub reason: Option<String>,
    pub notify_url: NotifyUrl,
}

/// A refund as WeChat reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundStatus {
    pub out_refund_no: OutRefundNo,
    pub refund_id: Option<RefundId>,
    pub out_trade_no: Option<OutTradeNo>,
    pub transaction_id: Option<TransactionId>,
    pub state: RefundState,
    pub refund: Option<Money>,
    pub total: Option<Money>,
    pub success_time: Option<OffsetDateTime>,
}

/// Which notify endpoint a notification arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationKind {
    Payment,
    Refund,
}

/// A notification exactly as it arrived: headers and the raw body bytes (never re-serialised).
#[derive(Debug, Clone, Default)]
pub struct NotificationRequest {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl NotificationRequest {
    /// The first header of that name, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A verified, decrypted payment notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentEvent {
    /// WeChat's id for this event (v3 `id`; v2 has none, so the transaction id), for dedupe.
    pub event_id: String,
    pub payment: PaymentStatus,
}

/// A verified, decrypted refund notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundEvent {
    pub event_id: String,
    pub mch_id: MchId,
    pub refund: RefundStatus,
}

/// What a notification said, normalised across protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Payment(PaymentEvent),
    Refund(RefundEvent),
}

/// What paygate wants to tell WeChat about a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationOutcome {
    /// The effect is committed: stop sending.
    Done,
    /// Not processed: send it again later.
    Retry { message: String },
}

/// An HTTP reply the server writes verbatim, so it never has to know XML or WeChat's JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

/// One payment protocol, bound to one channel's credentials.
///
/// Methods have no defaults: a provider that cannot do something returns
/// [`ProviderError::Unsupported`].
#[async_trait::async_trait]
pub trait Provider: Send + Sync + fmt::Debug {
    fn kind(&self) -> ProviderKind;

    /// Creates the payment at WeChat: a JSAPI prepay id or a Native code_url.
    async fn create_payment(&self, req: CreatePayment) -> Result<Prepay, ProviderError>;

    /// Signs the `wx.requestPayment` fields for an existing prepay id. No I/O, so a prepay id
    /// that is still valid can be re-signed at every pay attempt.
    fn request_payment(
        &self,
        appid: &AppId,
        prepay_id: &PrepayId,
    ) -> Result<RequestPayment, ProviderError>;

    async fn query_payment(&self, by: &PaymentRef) -> Result<PaymentStatus, ProviderError>;

    async fn close_payment(&self, out_trade_no: &OutTradeNo) -> Result<(), ProviderError>;

    async fn refund(&self, req: RefundRequest) -> Result<RefundStatus, ProviderError>;

    async fn query_refund(
        &self,
        out_refund_no: &OutRefundNo,
    ) -> Result<RefundStatus, ProviderError>;

    /// Verifies, decrypts and normalises a notification. Has no side effects on failure.
    async fn parse_notification(
        &self,
        kind: NotificationKind,
        req: &NotificationRequest,
    ) -> Result<Notification, ProviderError>;

    /// The exact reply that tells WeChat "done" or "send again".
    fn notification_reply(&self, outcome: &NotificationOutcome) -> HttpReply;
}

/// Everything needed to build a channel's provider. `credentials` is the decrypted credentials
/// document (JSON), whose shape belongs to the provider crate of `kind`.
#[derive(Clone)]
pub struct ChannelSpec {
    pub channel_id: ChannelId,
    pub kind: ProviderKind,
    pub mch_id: MchId,
    /// Bumped whenever credentials change, so cached providers are never stale.
    pub credentials_version: i64,
    pub credentials: SecretString,
}

impl fmt::Debug for ChannelSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelSpec")
            .field("channel_id", &self.channel_id)
            .field("kind", &self.kind)
            .field("mch_id", &self.mch_id)
            .field("credentials_version", &self.credentials_version)
            .field("credentials", &"[redacted]")
            .finish()
    }
}

/// What validating a channel's credentials learned: the public facts, safe to store in clear
/// and to show to the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialsSummary {
    /// The merchant number inside the document; the admin side checks it equals the channel's.
    pub mch_id: MchId,
    /// The appid the document binds (v2 does), if any.
    pub appid: Option<AppId>,
    /// The merchant certificate's serial (v3), upper-case hex.
    pub merchant_serial: Option<String>,
    /// When the merchant (or client) certificate stops being valid, if there is one.
    pub certificate_not_after: Option<OffsetDateTime>,
}

/// Why a credentials document was refused: the JSON field at fault and a message that never
/// quotes a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CredentialsFault {
    pub field: String,
    pub message: String,
}

/// Checks a credentials document offline, before anything is stored.
pub type CredentialsValidator =
    Arc<dyn Fn(&SecretString) -> Result<CredentialsSummary, CredentialsFault> + Send + Sync>;

/// Builds a provider from a channel's spec.
pub type ProviderConstructor =
    Arc<dyn Fn(&ChannelSpec) -> Result<Arc<dyn Provider>, ProviderError> + Send + Sync>;

/// Maps a [`ProviderKind`] to its constructor and caches built providers per channel and
/// credentials version (a provider holds parsed keys and an HTTP client: building is costly).
pub struct ProviderRegistry {
    constructors: HashMap<ProviderKind, ProviderConstructor>,
    validators: HashMap<ProviderKind, CredentialsValidator>,
    cache: moka::sync::Cache<(ChannelId, i64), Arc<dyn Provider>>,
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("kinds", &self.constructors.keys().collect::<Vec<_>>())
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

impl Default for ProviderRegistry {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl ProviderRegistry {
    /// A registry caching at most `capacity` providers.
    pub fn new(capacity: u64) -> Self {
        ProviderRegistry {
            constructors: HashMap::new(),
            validators: HashMap::new(),
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_idle(std::time::Duration::from_secs(3600))
                .build(),
        }
    }

    /// Registers a kind: how to build its providers and how to validate its credentials.
    pub fn register(
        &mut self,
        kind: ProviderKind,
        constructor: ProviderConstructor,
        validator: CredentialsValidator,
    ) {
        self.constructors.insert(kind, constructor);
        self.validators.insert(kind, validator);
    }

    /// Validates a credentials document for `kind` with that kind's own rules.
    pub fn validate_credentials(
        &self,
        kind: ProviderKind,
        credentials: &SecretString,
    ) -> Result<CredentialsSummary, CredentialsFault> {
        let validator = self.validators.get(&kind).ok_or_else(|| CredentialsFault {
            field: "kind".to_owned(),
            message: format!("no provider is registered for {}", kind.as_str()),
        })?;
        validator(credentials)
    }

    pub fn kinds(&self) -> impl Iterator<Item = ProviderKind> + '_ {
        self.constructors.keys().copied()
    }

    /// The provider already built for this channel's credentials `version`, if any: lets a
    /// caller skip reading and decrypting credentials the registry does not need.
    pub fn cached(&self, channel_id: &ChannelId, version: i64) -> Option<Arc<dyn Provider>> {
        self.cache.get(&(channel_id.clone(), version))
    }

    /// The provider of a channel, built on first use for each credentials version.
    pub fn provider(&self, spec: &ChannelSpec) -> Result<Arc<dyn Provider>, ProviderError> {
        let key = (spec.channel_id.clone(), spec.credentials_version);
        if let Some(p) = self.cache.get(&key) {
            return Ok(p);
        }
        let ctor = self
            .constructors
            .get(&spec.kind)
            .ok_or(ProviderError::Unsupported(
                "no provider registered for this channel kind",
            ))?;
        let provider = ctor(spec)?;
        self.cache.insert(key, provider.clone());
        Ok(provider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Debug)]
    struct Dummy;

    #[async_trait::async_trait]
    impl Provider for Dummy {
        fn kind(&self) -> ProviderKind {
            ProviderKind::WechatV2
        }
        async fn create_payment(&self, _: CreatePayment) -> Result<Prepay, ProviderError> {
            Err(ProviderError::Unsupported("create_payment"))
        }
        fn request_payment(
            &self,
            _: &AppId,
            _: &PrepayId,
        ) -> Result<RequestPayment, ProviderError> {
            Err(ProviderError::Unsupported("request_payment"))
        }
        async fn query_payment(&self, _: &PaymentRef) -> Result<PaymentStatus, ProviderError> {
            Err(ProviderError::Unsupported("query_payment"))
        }
        async fn close_payment(&self, _: &OutTradeNo) -> Result<(), ProviderError> {
            Err(ProviderError::Unsupported("close_payment"))
        }
        async fn refund(&self, _: RefundRequest) -> Result<RefundStatus, ProviderError> {
            Err(ProviderError::Unsupported("refund"))
        }
        async fn query_refund(&self, _: &OutRefundNo) -> Result<RefundStatus, ProviderError> {
            Err(ProviderError::Unsupported("query_refund"))
        }
        async fn parse_notification(
            &self,
            _: NotificationKind,
            _: &NotificationRequest,
        ) -> Result<Notification, ProviderError> {
            Err(ProviderError::Unsupported("parse_notification"))
        }
        fn notification_reply(&self, _: &NotificationOutcome) -> HttpReply {
            HttpReply {
                status: 500,
                content_type: "text/plain",
                body: Vec::new(),
            }
        }
    }

    fn spec(version: i64, kind: ProviderKind) -> ChannelSpec {
        ChannelSpec {
            channel_id: format!("ch_{}", kind.as_str())
                .parse()
                .unwrap_or_else(|_| unreachable!()),
            kind,
            mch_id: "1230000109".parse().unwrap_or_else(|_| unreachable!()),
            credentials_version: version,
            credentials: SecretString::from("{\"api_key\":\"s3cret\"}"),
        }
    }

    #[test]
    fn registry_builds_once_per_credentials_version() {
        let built = Arc::new(AtomicUsize::new(0));
        let counter = built.clone();
        let mut registry = ProviderRegistry::new(100);
        registry.register(
            ProviderKind::WechatV2,
            Arc::new(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok(Arc::new(Dummy) as Arc<dyn Provider>)
            }),
            Arc::new(|doc| {
                if doc.expose_secret().contains("api_key") {
                    Ok(CredentialsSummary {
                        mch_id: "1230000109".parse().unwrap_or_else(|_| unreachable!()),
                        appid: None,
                        merchant_serial: None,
                        certificate_not_after: None,
                    })
                } else {
                    Err(CredentialsFault {
                        field: "api_key".into(),
                        message: "is required".into(),
                    })
                }
            }),
        );
        let channel = spec(1, ProviderKind::WechatV2).channel_id;
        assert!(registry.cached(&channel, 1).is_none(), "nothing built yet");
        assert!(registry.provider(&spec(1, ProviderKind::WechatV2)).is_ok());
        assert!(registry.provider(&spec(1, ProviderKind::WechatV2)).is_ok());
        assert_eq!(built.load(Ordering::SeqCst), 1);
        assert!(registry.cached(&channel, 1).is_some());
        assert!(
            registry.cached(&channel, 2).is_none(),
            "another version is not cached"
        );
        assert!(registry.provider(&spec(2, ProviderKind::WechatV2)).is_ok());
        assert_eq!(
            built.load(Ordering::SeqCst),
            2,
            "a new credentials version rebuilds"
        );
        let err = registry.provider(&spec(1, ProviderKind::WechatV3)).err();
        assert_eq!(err.map(|e| e.code()), Some("provider_unsupported"));
    }

    #[test]
    fn registry_validates_with_the_kinds_own_rules() {
        let mut registry = ProviderRegistry::new(10);
        registry.register(
            ProviderKind::WechatV2,
            Arc::new(|_| Ok(Arc::new(Dummy) as Arc<dyn Provider>)),
            Arc::new(|_| {
                Err(CredentialsFault {
                    field: "api_key".into(),
                    message: "must be exactly 32 characters".into(),
                })
            }),
        );
        let doc = SecretString::from("{}");
        let fault = registry
            .validate_credentials(ProviderKind::WechatV2, &doc)
            .err();
        assert_eq!(fault.map(|f| f.field), Some("api_key".to_owned()));
        let fault = registry
            .validate_credentials(ProviderKind::WechatV3, &doc)
            .err();
        assert_eq!(fault.map(|f| f.field), Some("kind".to_owned()));
    }

    #[test]
    fn spec_debug_never_shows_credentials() {
        let shown = format!("{:?}", spec(1, ProviderKind::WechatV2));
        assert!(!shown.contains("s3cret"), "{shown}");
    }

    #[test]
    fn headers_are_case_insensitive() {
        let req = NotificationRequest {
            headers: vec![("wechatpay-serial".into(), "ABC".into())],
            body: Vec::new(),
        };
        assert_eq!(req.header("Wechatpay-Serial"), Some("ABC"));
        assert_eq!(req.header("Wechatpay-Nonce"), None);
    }

    #[test]
    fn kind_names() {
        assert_eq!(
            ProviderKind::parse("wechat-v3"),
            Some(ProviderKind::WechatV3)
        );
        assert_eq!(ProviderKind::parse("alipay"), None);
    }
}
