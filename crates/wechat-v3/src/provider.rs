//! [`WechatV3Provider`]: the [`Provider`] of one v3 merchant, and its registry constructor.
//!
//! Every call is: build a request value → sign and send ([`crate::client`]) → map a non-2xx
//! answer ([`crate::errors`]) → verify a 2xx answer's signature with the key store → parse.
//! Notifications are verified the same way before anything is decrypted. A probe signature
//! (`WECHATPAY/SIGNTEST/`) is refused before any lookup, so it never triggers a download.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use paygate_core::{
    AppId, ChannelSpec, Clock, CreatePayment, HttpReply, Money, Notification, NotificationKind,
    NotificationOutcome, NotificationRequest, OutRefundNo, OutTradeNo, PaySignType, PaymentRef,
    PaymentStatus, Prepay, PrepayId, Provider, ProviderConstructor, ProviderError, ProviderKind,
    RefundRequest, RefundStatus, RequestPayment, TradeType, VerifyFailure,
};
use reqwest::Method;
use secrecy::ExposeSecret;
use time::Duration;

use crate::aead::ApiV3Key;
use crate::cert::parse_certificate_pem;
use crate::client::{HttpClient, RawResponse, V3Config};
use crate::credentials::{V3Credentials, ValidatedCredentials, validate};
use crate::errors::{Call, map_error};
use crate::keys::KeyStore;
use crate::oaep::{self, OaepPublicKey};
use crate::sign::{MerchantSigner, pay_sign_message};
use crate::verify::{RsaVerifier, SignedHeaders, check_timestamp};
use crate::wire::{
    CertificatesResponse, CloseBody, Payer, PrepayAmount, PrepayBody, PrepayResponse, Refund,
    RefundBody, RefundBodyAmount, SceneInfo, Transaction,
};
use crate::{notify, wire};

/// How long a prepay id stays usable (the documented two hours).
const PREPAY_VALIDITY: Duration = Duration::hours(2);

/// Where request and `paySign` nonces come from: random in production, fixed in KAT tests.
pub trait NonceSource: Send + Sync + fmt::Debug {
    fn nonce(&self) -> String;
}

/// 32 random alphanumerics, as the official SDKs send.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomNonce;

impl NonceSource for RandomNonce {
    fn nonce(&self) -> String {
        use rand::distr::{Alphanumeric, SampleString};
        Alphanumeric.sample_string(&mut rand::rng(), 32)
    }
}

/// Always the same nonce (tests only: a reused nonce is harmless to WeChat but pointless).
#[derive(Debug, Clone)]
pub struct FixedNonce(pub String);

impl NonceSource for FixedNonce {
    fn nonce(&self) -> String {
        self.0.clone()
    }
}

/// A sensitive field encrypted for WeChat, with the key id to send as `Wechatpay-Serial`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensitiveField {
    pub wechatpay_serial: String,
    pub ciphertext: String,
}

/// The v3 provider of one merchant (direct mode).
pub struct WechatV3Provider {
    signer: MerchantSigner,
    mchid: paygate_core::MchId,
    apiv3_key: ApiV3Key,
    keys: KeyStore,
    public_key_oaep: Option<(String, OaepPublicKey)>,
    http: HttpClient,
    clock: Arc<dyn Clock>,
    nonces: Arc<dyn NonceSource>,
    refresh_lock: tokio::sync::Mutex<()>,
}

impl fmt::Debug for WechatV3Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatV3Provider")
            .field("mchid", &self.mchid)
            .field("serial_no", &self.signer.serial_no)
            .field("certificate_mode", &self.keys.certificate_mode())
            .finish_non_exhaustive()
    }
}

impl WechatV3Provider {
    /// Validates `credentials` and builds the provider.
    pub fn new(
        config: &V3Config,
        credentials: &V3Credentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        Self::from_validated(config, validate(credentials)?, clock)
    }

    pub fn from_validated(
        config: &V3Config,
        v: ValidatedCredentials,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ProviderError> {
        let public_key_oaep = match &v.public_key {
            Some(pk) => Some((
                pk.id.clone(),
                OaepPublicKey::from_public_key_pem(&pk.spki_pem).map_err(|e| {
                    ProviderError::Credentials(format!("wechatpay_public_key_pem: {e}"))
                })?,
            )),
            None => None,
        };
        let keys = KeyStore::new(
            v.public_key.map(|pk| (pk.id, pk.verifier)),
            v.platform_certificates,
            config.cert_refresh_interval,
            config.unknown_serial_cooldown,
            clock.now(),
        );
        Ok(WechatV3Provider {
            signer: MerchantSigner {
                mchid: v.mchid.to_string(),
                serial_no: v.merchant_serial,
                signer: v.signer,
            },
            mchid: v.mchid,
            apiv3_key: v.apiv3_key,
            keys,
            public_key_oaep,
            http: HttpClient::new(config)?,
            clock,
            nonces: Arc::new(RandomNonce),
            refresh_lock: tokio::sync::Mutex::new(()),
        })
    }

    /// Replaces the nonce source (tests pin it to reproduce known-answer vectors).
    pub fn with_nonce_source(mut self, nonces: Arc<dyn NonceSource>) -> Self {
        self.nonces = nonces;
        self
    }

    /// The merchant certificate serial sent as `serial_no`.
    pub fn merchant_serial(&self) -> &str {
        &self.signer.serial_no
    }

    /// The platform certificate serials currently trusted (unexpired).
    pub fn platform_serials(&self) -> Vec<String> {
        self.keys
            .certificates(self.clock.now())
            .into_iter()
            .map(|c| c.serial)
            .collect()
    }

    /// Verifies a signed answer or notification: probe → timestamp → key (refreshing platform
    /// certificates when due, or once per cooldown for an unknown serial) → signature.
    pub async fn verify_signed(&self, h: &SignedHeaders, body: &[u8]) -> Result<(), VerifyFailure> {
        if h.is_probe() {
            return Err(VerifyFailure::Probe);
        }
        let now = self.clock.now();
        check_timestamp(&h.timestamp, now.unix_timestamp())?;
        if self.keys.refresh_due(now) {
            self.refresh_quietly("periodic").await;
        }
        let verifier = match self.keys.select(&h.serial, now) {
            Some(v) => v,
            None => {
                if !self.keys.claim_unknown_serial_refresh(now) {
                    return Err(VerifyFailure::UnknownSerial);
                }
                self.refresh_quietly("unknown serial").await;
                self.keys
                    .select(&h.serial, self.clock.now())
                    .ok_or(VerifyFailure::UnknownSerial)?
            }
        };
        verifier.verify(&h.message(body), &h.signature)
    }

    async fn refresh_quietly(&self, why: &'static str) {
        match self.refresh_certificates().await {
            Ok(count) => tracing::info!(
                reason = why,
                certificates = count,
                "platform certificates refreshed"
            ),
            Err(e) => {
                self.keys.mark_refresh_failed(self.clock.now());
                tracing::warn!(reason = why, error.code = e.code(), error = %e, "platform certificate refresh failed");
            }
        }
    }

    /// Downloads `/v3/certificates`, decrypts every item with the APIv3 key, checks the answer's
    /// signature (with a key already held, or one of the certificates just decrypted — those are
    /// authenticated by the APIv3 key, which is how the very first download is trusted) and
    /// adds them to the store. Returns how many certificates the answer carried.
    pub async fn refresh_certificates(&self) -> Result<usize, ProviderError> {
        let _single_flight = self.refresh_lock.lock().await;
        let resp = self.send(Method::GET, "/v3/certificates", None).await?;
        if !resp.is_success() {
            return Err(map_error(Call::Certificates, resp.status, &resp.body));
        }
        let h =
            SignedHeaders::from_lookup(|n| resp.header(n)).map_err(ProviderError::Verification)?;
        if h.is_probe() {
            return Err(ProviderError::Verification(VerifyFailure::Probe));
        }
        let now = self.clock.now();
        check_timestamp(&h.timestamp, now.unix_timestamp()).map_err(ProviderError::Verification)?;
        let parsed: CertificatesResponse = serde_json::from_slice(&resp.body)
            .map_err(|e| ProviderError::Malformed(format!("certificates answer: {e}")))?;
        let mut fresh = Vec::with_capacity(parsed.data.len());
        for item in parsed.data {
            let pem = notify::decrypt_resource(&self.apiv3_key, &item.encrypt_certificate)?;
            let pem = String::from_utf8(pem)
                .map_err(|_| ProviderError::Malformed("certificate is not UTF-8".to_owned()))?;
            let bad =
                |e: crate::KeyError| ProviderError::Malformed(format!("platform certificate: {e}"));
            let info = parse_certificate_pem(&pem).map_err(bad)?;
            if !info.serial.eq_ignore_ascii_case(&item.serial_no) {
                return Err(ProviderError::Malformed(
                    "serial_no differs from the certificate's serial".to_owned(),
                ));
            }
            let verifier = RsaVerifier::from_der(&info.spki_der).map_err(bad)?;
            fresh.push((info, verifier));
        }
        let message = h.message(&resp.body);
        let checked = match self.keys.select(&h.serial, now) {
            Some(v) => v.verify(&message, &h.signature),
            None => match fresh.iter().find(|(info, _)| info.serial == h.serial) {
                Some((_, v)) => v.verify(&message, &h.signature),
                None => Err(VerifyFailure::UnknownSerial),
            },
        };
        checked.map_err(ProviderError::Verification)?;
        let count = fresh.len();
        self.keys.install(fresh, now);
        self.keys.mark_refreshed(now);
        Ok(count)
    }

    /// Encrypts a sensitive field (RSA-OAEP-SHA1) for WeChat: with the WeChat Pay public key when
    /// configured, else the platform certificate that expires last.
    pub fn encrypt_sensitive(&self, plaintext: &str) -> Result<SensitiveField, ProviderError> {
        let fail = |e: oaep::OaepError| ProviderError::InvalidRequest {
            field: "sensitive field",
            message: e.to_string(),
        };
        if let Some((id, key)) = &self.public_key_oaep {
            let ciphertext = oaep::encrypt(key, plaintext.as_bytes()).map_err(fail)?;
            return Ok(SensitiveField {
                wechatpay_serial: id.clone(),
                ciphertext,
            });
        }
        let cert = self
            .keys
            .certificates(self.clock.now())
            .into_iter()
            .next()
            .ok_or(ProviderError::Verification(VerifyFailure::UnknownSerial))?;
        let key = OaepPublicKey::from_spki_der(&cert.spki_der)
            .map_err(|e| ProviderError::Credentials(e.to_string()))?;
        let ciphertext = oaep::encrypt(&key, plaintext.as_bytes()).map_err(fail)?;
        Ok(SensitiveField {
            wechatpay_serial: cert.serial,
            ciphertext,
        })
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ProviderError> {
        let nonce = self.nonces.nonce();
        self.http
            .send(
                &self.signer,
                self.clock.unix_seconds(),
                &nonce,
                method,
                path,
                body,
            )
            .await
    }

    /// Sends, maps a non-2xx answer, verifies a 2xx one.
    async fn call(
        &self,
        call: Call,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ProviderError> {
        let resp = self.send(method, path, body).await?;
        if !resp.is_success() {
            return Err(map_error(call, resp.status, &resp.body));
        }
        let h =
            SignedHeaders::from_lookup(|n| resp.header(n)).map_err(ProviderError::Verification)?;
        self.verify_signed(&h, &resp.body)
            .await
            .map_err(ProviderError::Verification)?;
        Ok(resp)
    }
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, ProviderError> {
    serde_json::to_vec(value).map_err(|e| ProviderError::InvalidRequest {
        field: "body",
        message: e.to_string(),
    })
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| ProviderError::Malformed(format!("{what}: {e}")))
}

fn invalid(field: &'static str, message: &str) -> ProviderError {
    ProviderError::InvalidRequest {
        field,
        message: message.to_owned(),
    }
}

fn check_amount(field: &'static str, amount: Money) -> Result<(), ProviderError> {
    if amount.is_zero() || amount > Money::WECHAT_MAX {
        return Err(invalid(field, "must be between 1 fen and 2^31-1 fen"));
    }
    Ok(())
}

/// 202: WeChat accepted the request without processing it; the same request must be repeated.
fn accepted_not_processed() -> ProviderError {
    ProviderError::Unavailable {
        code: "ACCEPTED".to_owned(),
        message: "WeChat accepted the request without processing it; repeat the same request"
            .to_owned(),
    }
}

#[async_trait]
impl Provider for WechatV3Provider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::WechatV3
    }

    async fn create_payment(&self, req: CreatePayment) -> Result<Prepay, ProviderError> {
        let chars = req.description.chars().count();
        if chars == 0 || chars > 127 {
            return Err(invalid("description", "must be 1 to 127 characters"));
        }
        if req.attach.as_ref().is_some_and(|a| a.chars().count() > 128) {
            return Err(invalid("attach", "must be at most 128 characters"));
        }
        check_amount("amount", req.amount)?;
        let now = self.clock.now();
        if req.time_expire.is_some_and(|t| t <= now) {
            return Err(invalid("time_expire", "is in the past"));
        }
        let (path, payer) = match &req.trade_type {
            TradeType::Jsapi { payer } => {
                ("/v3/pay/transactions/jsapi", Some(Payer { openid: payer }))
            }
            TradeType::Native => ("/v3/pay/transactions/native", None),
        };
        let body = json(&PrepayBody {
            appid: &req.appid,
            mchid: &self.mchid,
            description: &req.description,
            out_trade_no: &req.out_trade_no,
            time_expire: req.time_expire.map(paygate_core::time_fmt::to_v3),
            attach: req.attach.as_deref(),
            notify_url: req.notify_url.as_str(),
            amount: PrepayAmount {
                total: req.amount,
                currency: "CNY",
            },
            payer,
            scene_info: SceneInfo {
                payer_client_ip: req.payer_client_ip.to_string(),
            },
        })?;
        let resp = self
            .call(Call::Prepay, Method::POST, path, Some(body))
            .await?;
        if resp.status == 202 {
            return Err(accepted_not_processed());
        }
        let answer: PrepayResponse = parse("prepay answer", &resp.body)?;
        let expires_at = match req.time_expire {
            Some(t) => t.min(now + PREPAY_VALIDITY),
            None => now + PREPAY_VALIDITY,
        };
        match (&req.trade_type, answer) {
            (
                TradeType::Jsapi { .. },
                PrepayResponse {
                    prepay_id: Some(prepay_id),
                    ..
                },
            ) => Ok(Prepay::Jsapi {
                prepay_id,
                expires_at,
            }),
            (
                TradeType::Native,
                PrepayResponse {
                    code_url: Some(code_url),
                    ..
                },
            ) if !code_url.is_empty() => Ok(Prepay::Native {
                code_url,
                expires_at,
            }),
            _ => Err(ProviderError::Malformed(
                "prepay answer lacks prepay_id / code_url".to_owned(),
            )),
        }
    }

    fn request_payment(
        &self,
        appid: &AppId,
        prepay_id: &PrepayId,
    ) -> Result<RequestPayment, ProviderError> {
        let time_stamp = self.clock.unix_seconds().to_string();
        let nonce_str = self.nonces.nonce();
        let package = format!("prepay_id={prepay_id}");
        let message = pay_sign_message(appid.as_str(), &time_stamp, &nonce_str, &package);
        let pay_sign = self
            .signer
            .signer
            .try_sign(&message)
            .map_err(|e| ProviderError::Credentials(e.to_string()))?;
        Ok(RequestPayment {
            app_id: appid.clone(),
            time_stamp,
            nonce_str,
            package,
            sign_type: PaySignType::Rsa,
            pay_sign,
        })
    }

    async fn query_payment(&self, by: &PaymentRef) -> Result<PaymentStatus, ProviderError> {
        let path = match by {
            PaymentRef::OutTradeNo(no) => {
                format!(
                    "/v3/pay/transactions/out-trade-no/{no}?mchid={}",
                    self.mchid
                )
            }
            PaymentRef::TransactionId(id) => {
                format!("/v3/pay/transactions/id/{id}?mchid={}", self.mchid)
            }
        };
        let resp = self
            .call(Call::QueryPayment, Method::GET, &path, None)
            .await?;
        if resp.status == 202 {
            return Err(accepted_not_processed());
        }
        parse::<Transaction>("transaction", &resp.body)?.into_status()
    }

    async fn close_payment(&self, out_trade_no: &OutTradeNo) -> Result<(), ProviderError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        let body = json(&CloseBody { mchid: &self.mchid })?;
        // 204 (verified over the empty body); a 202 also means "taken, query later".
        self.call(Call::ClosePayment, Method::POST, &path, Some(body))
            .await
            .map(|_| ())
    }

    async fn refund(&self, req: RefundRequest) -> Result<RefundStatus, ProviderError> {
        check_amount("refund", req.refund)?;
        check_amount("total", req.total)?;
        if req.refund > req.total {
            return Err(invalid("refund", "exceeds the order total"));
        }
        if req.reason.as_ref().is_some_and(|r| r.chars().count() > 80) {
            return Err(invalid("reason", "must be at most 80 characters"));
        }
        let body = json(&RefundBody {
            out_trade_no: &req.out_trade_no,
            out_refund_no: &req.out_refund_no,
            reason: req.reason.as_deref(),
            notify_url: req.notify_url.as_str(),
            amount: RefundBodyAmount {
                refund: req.refund,
                total: req.total,
                currency: "CNY",
            },
        })?;
        let resp = self
            .call(
                Call::Refund,
                Method::POST,
                "/v3/refund/domestic/refunds",
                Some(body),
            )
            .await?;
        if resp.status == 202 {
            // Accepted, not yet processed: the refund is in flight under this out_refund_no.
            return Ok(RefundStatus {
                out_refund_no: req.out_refund_no,
                refund_id: None,
                out_trade_no: Some(req.out_trade_no),
                transaction_id: None,
                state: paygate_core::RefundState::Processing,
                refund: Some(req.refund),
                total: Some(req.total),
                success_time: None,
            });
        }
        parse::<Refund>("refund", &resp.body)?.into_status()
    }

    async fn query_refund(
        &self,
        out_refund_no: &OutRefundNo,
    ) -> Result<RefundStatus, ProviderError> {
        let path = format!("/v3/refund/domestic/refunds/{out_refund_no}");
        let resp = self
            .call(Call::QueryRefund, Method::GET, &path, None)
            .await?;
        if resp.status == 202 {
            return Err(accepted_not_processed());
        }
        parse::<wire::Refund>("refund", &resp.body)?.into_status()
    }

    async fn parse_notification(
        &self,
        kind: NotificationKind,
        req: &NotificationRequest,
    ) -> Result<Notification, ProviderError> {
        let h =
            SignedHeaders::from_lookup(|n| req.header(n)).map_err(ProviderError::Verification)?;
        self.verify_signed(&h, &req.body)
            .await
            .map_err(ProviderError::Verification)?;
        notify::parse_verified_body(kind, &req.body, &self.apiv3_key)
    }

    fn notification_reply(&self, outcome: &NotificationOutcome) -> HttpReply {
        notify::reply(outcome)
    }
}

/// The registry constructor for `wechat-v3` channels: parses the credentials document,
/// checks its `mchid` against the channel's and builds the provider.
pub fn constructor(config: V3Config, clock: Arc<dyn Clock>) -> ProviderConstructor {
    Arc::new(move |spec: &ChannelSpec| {
        let credentials = V3Credentials::from_json(spec.credentials.expose_secret())?;
        if credentials.mchid != spec.mch_id {
            return Err(ProviderError::Credentials(
                "mchid in the credentials differs from the channel's mch_id".to_owned(),
            ));
        }
        let provider = WechatV3Provider::new(&config, &credentials, clock.clone())?;
        Ok(Arc::new(provider) as Arc<dyn Provider>)
    })
}
