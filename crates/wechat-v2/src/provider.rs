//! [`WechatV2Provider`]: the v2 protocol behind [`paygate_core::Provider`], bound to one channel.
//!
//! Each call: build the request fields ([`crate::wire`]) → sign → POST ([`crate::client`]) →
//! decode → `return_code` → **verify the response signature** → check it is for our
//! mch_id/appid → `result_code`/`err_code` ([`crate::errors`]) → parse. Nothing from a response
//! is used before its signature holds.
//!
//! Time and randomness are seams: the clock is injected ([`paygate_core::Clock`]) and the nonce
//! source can be replaced ([`WechatV2Provider::with_nonce_source`]) so known-answer tests can pin
//! `wx.requestPayment`'s timestamp and nonce.

use std::fmt;
use std::sync::Arc;

use paygate_core::{
    AppId, ChannelSpec, Clock, CreatePayment, HttpReply, MchId, Notification, NotificationKind,
    NotificationOutcome, NotificationRequest, OutRefundNo, OutTradeNo, PaymentRef, PaymentStatus,
    Prepay, PrepayId, Provider, ProviderConstructor, ProviderError, ProviderKind, RefundRequest,
    RefundStatus, RequestPayment, SystemClock,
};
use rand::Rng;
use secrecy::ExposeSecret;

use crate::client::{HttpClient, V2Config};
use crate::credentials::{V2Credentials, ValidCredentials};
use crate::errors::{self, Call};
use crate::notify::{self, NotifyContext};
use crate::pay_sign;
use crate::sign::{self, ApiKey, SignType};
use crate::wire::{self, Envelope};
use crate::xml::{self, Fields};

type NonceSource = Arc<dyn Fn() -> String + Send + Sync>;

/// A random 32-character alphanumeric nonce (WeChat allows ≤ 32).
pub fn random_nonce() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// The WeChat Pay API v2 provider of one channel.
pub struct WechatV2Provider {
    mch_id: MchId,
    appid: AppId,
    key: ApiKey,
    sign_type: SignType,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    nonce: NonceSource,
}

impl fmt::Debug for WechatV2Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatV2Provider")
            .field("mch_id", &self.mch_id)
            .field("appid", &self.appid)
            .field("sign_type", &self.sign_type)
            .field("client_certificate", &self.http.has_identity())
            .finish_non_exhaustive()
    }
}

fn credentials_error(e: impl fmt::Display) -> ProviderError {
    ProviderError::Credentials(e.to_string())
}

impl WechatV2Provider {
    /// Builds the provider (and its HTTP clients) from validated credentials.
    pub fn new(
        config: &V2Config,
        creds: ValidCredentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let http = HttpClient::new(config, creds.identity.as_ref())?;
        Ok(WechatV2Provider {
            mch_id: creds.mch_id,
            appid: creds.appid,
            key: creds.api_key,
            sign_type: creds.sign_type,
            http,
            clock,
            nonce: Arc::new(random_nonce),
        })
    }

    /// Parses, validates and builds from a credentials JSON document.
    pub fn from_json(
        config: &V2Config,
        json: &str,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let creds = V2Credentials::from_json(json)
            .and_then(|c| c.validate())
            .map_err(credentials_error)?;
        Self::new(config, creds, clock)
    }

    /// Replaces the nonce generator (tests pin it to reproduce known-answer vectors).
    pub fn with_nonce_source(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.nonce = Arc::new(f);
        self
    }

    pub fn sign_type(&self) -> SignType {
        self.sign_type
    }

    fn check_appid(&self, appid: &AppId) -> Result<(), ProviderError> {
        if appid != &self.appid {
            return Err(ProviderError::InvalidRequest {
                field: "appid",
                message: "is not the appid configured for this v2 channel".into(),
            });
        }
        Ok(())
    }

    fn notify_context(&self) -> NotifyContext<'_> {
        NotifyContext {
            mch_id: &self.mch_id,
            appid: &self.appid,
            key: &self.key,
            sign_type: self.sign_type,
        }
    }

    /// Signs, sends and checks one call; returns the verified response fields.
    async fn call(
        &self,
        call: Call,
        path: &str,
        build: impl FnOnce(&Envelope<'_>) -> Result<Fields, ProviderError>,
        mutual_tls: bool,
    ) -> Result<Fields, ProviderError> {
        let nonce = (self.nonce)();
        let env = Envelope {
            appid: &self.appid,
            mch_id: &self.mch_id,
            nonce_str: &nonce,
            sign_type: self.sign_type,
        };
        let mut fields = build(&env)?;
        sign::sign_in_place(&mut fields, &self.key, self.sign_type);
        let raw = self
            .http
            .post(path, xml::encode(&fields), mutual_tls)
            .await?;
        let resp = xml::decode(&raw)
            .map_err(|e| ProviderError::Malformed(format!("{path} response: {e}")))?;
        errors::check_return(&resp)?;
        sign::verify(&resp, &self.key, self.sign_type).map_err(ProviderError::Verification)?;
        if wire::optional(&resp, "mch_id").is_some_and(|m| m != self.mch_id.as_str()) {
            return Err(ProviderError::Malformed(format!(
                "{path} response is for another mch_id"
            )));
        }
        if wire::optional(&resp, "appid").is_some_and(|a| a != self.appid.as_str()) {
            return Err(ProviderError::Malformed(format!(
                "{path} response is for another appid"
            )));
        }
        errors::check_result(call, &resp)?;
        Ok(resp)
    }
}

#[async_trait::async_trait]
impl Provider for WechatV2Provider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::WechatV2
    }

    async fn create_payment(&self, req: CreatePayment) -> Result<Prepay, ProviderError> {
        self.check_appid(&req.appid)?;
        let resp = self
            .call(
                Call::UnifiedOrder,
                "/pay/unifiedorder",
                |env| wire::unifiedorder(env, &req),
                false,
            )
            .await?;
        wire::prepay(&resp, &req.trade_type, self.clock.now(), req.time_expire)
    }

    fn request_payment(
        &self,
        appid: &AppId,
        prepay_id: &PrepayId,
    ) -> Result<RequestPayment, ProviderError> {
        self.check_appid(appid)?;
        let nonce = (self.nonce)();
        Ok(pay_sign::build_request_payment(
            appid,
            prepay_id,
            self.clock.unix_seconds(),
            &nonce,
            self.sign_type,
            &self.key,
        ))
    }

    async fn query_payment(&self, by: &PaymentRef) -> Result<PaymentStatus, ProviderError> {
        let resp = self
            .call(
                Call::OrderQuery,
                "/pay/orderquery",
                |env| Ok(wire::orderquery(env, by)),
                false,
            )
            .await?;
        wire::payment_status(&resp, None)
    }

    async fn close_payment(&self, out_trade_no: &OutTradeNo) -> Result<(), ProviderError> {
        self.call(
            Call::CloseOrder,
            "/pay/closeorder",
            |env| Ok(wire::closeorder(env, out_trade_no)),
            false,
        )
        .await
        .map(|_| ())
    }

    async fn refund(&self, req: RefundRequest) -> Result<RefundStatus, ProviderError> {
        let resp = self
            .call(
                Call::Refund,
                "/secapi/pay/refund",
                |env| wire::refund(env, &req),
                true,
            )
            .await?;
        wire::refund_accepted(&resp, &req)
    }

    async fn query_refund(
        &self,
        out_refund_no: &OutRefundNo,
    ) -> Result<RefundStatus, ProviderError> {
        let resp = self
            .call(
                Call::RefundQuery,
                "/pay/refundquery",
                |env| Ok(wire::refundquery(env, out_refund_no)),
                false,
            )
            .await?;
        wire::refund_query(&resp, out_refund_no)
    }

    async fn parse_notification(
        &self,
        kind: NotificationKind,
        req: &NotificationRequest,
    ) -> Result<Notification, ProviderError> {
        let ctx = self.notify_context();
        match kind {
            NotificationKind::Payment => {
                notify::parse_payment(&req.body, &ctx).map(Notification::Payment)
            }
            NotificationKind::Refund => {
                notify::parse_refund(&req.body, &ctx).map(Notification::Refund)
            }
        }
    }

    fn notification_reply(&self, outcome: &NotificationOutcome) -> HttpReply {
        notify::reply(outcome)
    }
}

/// The registry constructor for `wechat-v2` channels, on the system clock.
pub fn constructor(config: V2Config) -> ProviderConstructor {
    constructor_with_clock(config, Arc::new(SystemClock))
}

/// The registry constructor with an explicit clock (tests, the simulator's time).
pub fn constructor_with_clock(config: V2Config, clock: Arc<dyn Clock>) -> ProviderConstructor {
    Arc::new(move |spec: &ChannelSpec| {
        if spec.kind != ProviderKind::WechatV2 {
            return Err(ProviderError::Unsupported(
                "the wechat-v2 constructor only builds wechat-v2 channels",
            ));
        }
        let creds = V2Credentials::from_json(spec.credentials.expose_secret())
            .and_then(|c| c.validate())
            .map_err(credentials_error)?;
        if creds.mch_id != spec.mch_id {
            return Err(ProviderError::Credentials(
                "mch_id: differs from the channel's mch_id".into(),
            ));
        }
        Ok(Arc::new(WechatV2Provider::new(&config, creds, clock.clone())?) as Arc<dyn Provider>)
    })
}
