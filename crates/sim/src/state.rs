//! The simulator's in-memory world: merchants, mini-program apps and their users, orders,
//! refunds and the log of notifications sent.
//!
//! One [`World`] sits behind one mutex in [`Sim`]. Handlers lock it, decide, change it and
//! unlock before any I/O: the lock is never held across an `.await`. Nothing is persisted; a
//! simulator lives as long as the test or demo that started it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use paygate_core::Clock;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use time::OffsetDateTime;

use crate::clock::SimClock;
use crate::faults::Faults;
use crate::keys::{MerchantKeys, PlatformKeys};
use crate::notify::NotificationRecord;

/// How a merchant's v3 responses and notifications are signed (which key WeChat uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VerifyMode {
    /// `Wechatpay-Serial` is the platform certificate's serial.
    PlatformCert,
    /// `Wechatpay-Serial` is `PUB_KEY_ID_…`; `/v3/certificates` has nothing to offer.
    PublicKey,
    /// Migration: responses alternate between the two keys, as during WeChat's gradual roll-out.
    Both,
}

/// A registered merchant account.
#[derive(Debug)]
pub struct Merchant {
    pub mch_id: String,
    /// The APIv2 key (signs v2 XML, derives the refund `req_info` key).
    pub v2_key: String,
    /// The APIv3 key, 32 ASCII bytes (AES-256-GCM resources).
    pub v3_key: String,
    pub keys: MerchantKeys,
    pub platform: PlatformKeys,
    pub mode: VerifyMode,
    /// Appids bound to this merchant; empty = any registered app.
    pub appids: Vec<String>,
    /// Send `WECHATPAY/SIGNTEST/` probe notifications before real v3 ones.
    pub signtest_probes: bool,
    /// Counter for [`VerifyMode::Both`] alternation.
    pub signed_count: u64,
}

/// A mini-program.
#[derive(Debug)]
pub struct App {
    pub appid: String,
    pub secret: String,
    /// Published pages, for `check_path`; empty = every page exists.
    pub pages: Vec<String>,
    pub users: HashMap<String, User>,
    pub login_codes: HashMap<String, LoginCode>,
    pub phone_codes: HashMap<String, PhoneCode>,
    /// `/cgi-bin/token` tokens, newest last.
    pub tokens: Vec<AccessToken>,
    /// `/cgi-bin/stable_token` tokens, newest last (a separate family).
    pub stable_tokens: Vec<AccessToken>,
    /// Times of `force_refresh` calls, for the 30 s / 20-a-day limits.
    pub stable_force_refreshes: Vec<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct User {
    pub openid: String,
    pub unionid: Option<String>,
    pub session_key: String,
    /// Times of recent jscode2session calls, for the 100-per-minute limit.
    pub login_calls: Vec<OffsetDateTime>,
}

#[derive(Debug, Clone)]
pub struct LoginCode {
    pub openid: String,
    pub expires_at: OffsetDateTime,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct PhoneCode {
    pub openid: String,
    pub phone: String,
    pub expires_at: OffsetDateTime,
    pub used: bool,
}

#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub expires_at: OffsetDateTime,
    /// After this instant the token is dead even before `expires_at` (superseded + grace).
    pub revoked_at: Option<OffsetDateTime>,
}

/// Which API created an order or refund: it decides the notification format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    V2,
    V3,
}

/// The v2 signature algorithm of an order (`sign_type`), which `wx.requestPayment` must repeat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum V2SignType {
    #[serde(rename = "MD5")]
    Md5,
    #[serde(rename = "HMAC-SHA256")]
    HmacSha256,
}

impl V2SignType {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "MD5" => Some(V2SignType::Md5),
            "HMAC-SHA256" => Some(V2SignType::HmacSha256),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            V2SignType::Md5 => "MD5",
            V2SignType::HmacSha256 => "HMAC-SHA256",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TradeKind {
    #[serde(rename = "JSAPI")]
    Jsapi,
    #[serde(rename = "NATIVE")]
    Native,
}

impl TradeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeKind::Jsapi => "JSAPI",
            TradeKind::Native => "NATIVE",
        }
    }
}

/// WeChat's `trade_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TradeState {
    Success,
    Refund,
    NotPay,
    Closed,
    PayError,
}

impl TradeState {
    pub fn as_str(self) -> &'static str {
        match self {
            TradeState::Success => "SUCCESS",
            TradeState::Refund => "REFUND",
            TradeState::NotPay => "NOTPAY",
            TradeState::Closed => "CLOSED",
            TradeState::PayError => "PAYERROR",
        }
    }
    pub fn desc(self) -> &'static str {
        match self {
            TradeState::Success => "支付成功",
            TradeState::Refund => "转入退款",
            TradeState::NotPay => "未支付",
            TradeState::Closed => "已关闭",
            TradeState::PayError => "支付失败，请重新下单支付",
        }
    }
    /// Whether money was taken (refunds are possible).
    pub fn is_paid(self) -> bool {
        matches!(self, TradeState::Success | TradeState::Refund)
    }
}

/// A payment order.
#[derive(Debug, Clone)]
pub struct Order {
    pub api: Api,
    pub v2_sign_type: Option<V2SignType>,
    pub mch_id: String,
    pub appid: String,
    pub out_trade_no: String,
    pub description: String,
    pub attach: Option<String>,
    pub total: i64,
    pub trade_kind: TradeKind,
    pub openid: Option<String>,
    pub notify_url: String,
    pub client_ip: Option<String>,
    /// The parameters that must not change when the same out_trade_no is sent again.
    pub fingerprint: String,
    pub created_at: OffsetDateTime,
    pub time_expire: Option<OffsetDateTime>,
    pub prepay_id: Option<String>,
    pub code_url: Option<String>,
    pub prepay_expires_at: OffsetDateTime,
    pub state: TradeState,
    pub transaction_id: Option<String>,
    pub success_time: Option<OffsetDateTime>,
    pub payer: Option<String>,
}

/// A refund's status, v3 names (`SUCCESS`, `PROCESSING`, `ABNORMAL`, `CLOSED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RefundState {
    Processing,
    Success,
    Abnormal,
    Closed,
}

impl RefundState {
    pub fn v3(self) -> &'static str {
        match self {
            RefundState::Processing => "PROCESSING",
            RefundState::Success => "SUCCESS",
            RefundState::Abnormal => "ABNORMAL",
            RefundState::Closed => "CLOSED",
        }
    }
    /// v2 spelling: `CHANGE` is abnormal, `REFUNDCLOSE` closed.
    pub fn v2(self) -> &'static str {
        match self {
            RefundState::Processing => "PROCESSING",
            RefundState::Success => "SUCCESS",
            RefundState::Abnormal => "CHANGE",
            RefundState::Closed => "REFUNDCLOSE",
        }
    }
    /// Whether the refund still holds (or has taken) part of the order's money.
    pub fn holds_money(self) -> bool {
        matches!(self, RefundState::Processing | RefundState::Success)
    }
}

#[derive(Debug, Clone)]
pub struct Refund {
    pub api: Api,
    pub mch_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub total: i64,
    pub refund: i64,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
    pub state: RefundState,
    pub created_at: OffsetDateTime,
    pub success_time: Option<OffsetDateTime>,
}

/// Everything the simulator knows.
#[derive(Debug, Default)]
pub struct World {
    pub merchants: HashMap<String, Merchant>,
    pub apps: HashMap<String, App>,
    /// (mch_id, out_trade_no) → order.
    pub orders: HashMap<(String, String), Order>,
    /// prepay_id or code_url → (mch_id, out_trade_no).
    pub prepays: HashMap<String, (String, String)>,
    /// transaction_id → (mch_id, out_trade_no).
    pub transactions: HashMap<String, (String, String)>,
    /// (mch_id, out_refund_no) → refund.
    pub refunds: HashMap<(String, String), Refund>,
    pub notifications: Vec<NotificationRecord>,
}

impl World {
    pub fn order(&self, mch_id: &str, out_trade_no: &str) -> Option<&Order> {
        self.orders
            .get(&(mch_id.to_owned(), out_trade_no.to_owned()))
    }

    pub fn order_mut(&mut self, mch_id: &str, out_trade_no: &str) -> Option<&mut Order> {
        self.orders
            .get_mut(&(mch_id.to_owned(), out_trade_no.to_owned()))
    }

    pub fn order_by_transaction(&self, transaction_id: &str) -> Option<&Order> {
        let key = self.transactions.get(transaction_id)?;
        self.orders.get(key)
    }

    /// The refunds of one order, oldest first.
    pub fn refunds_of(&self, mch_id: &str, out_trade_no: &str) -> Vec<&Refund> {
        let mut v: Vec<&Refund> = self
            .refunds
            .values()
            .filter(|r| r.mch_id == mch_id && r.out_trade_no == out_trade_no)
            .collect();
        v.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.refund_id.cmp(&b.refund_id))
        });
        v
    }

    /// Whether `appid` may be used with `mch_id` (registered, and bound when the merchant lists apps).
    pub fn app_bound(&self, mch_id: &str, appid: &str) -> AppBinding {
        if !self.apps.contains_key(appid) {
            return AppBinding::NoSuchApp;
        }
        match self.merchants.get(mch_id) {
            None => AppBinding::NoSuchMerchant,
            Some(m) if !m.appids.is_empty() && !m.appids.iter().any(|a| a == appid) => {
                AppBinding::NotBound
            }
            Some(_) => AppBinding::Ok,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppBinding {
    Ok,
    NoSuchApp,
    NoSuchMerchant,
    NotBound,
}

/// Settings fixed when the simulator starts.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Multiplies the official retry intervals (1.0 = 15 s, 15 s, 30 s …).
    pub notify_time_scale: f64,
    /// Refunds settle by themselves this long after they were accepted (`None`: only on request).
    pub auto_settle_refunds: Option<time::Duration>,
    /// Refuse notify URLs that are not https (WeChat does; the demo and tests use http).
    pub require_https_notify: bool,
}

/// The shared simulator: world, clock, randomness, faults. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Sim {
    world: Arc<Mutex<World>>,
    rng: Arc<Mutex<StdRng>>,
    pub clock: SimClock,
    pub faults: Faults,
    pub settings: Arc<Settings>,
    pub http: reqwest::Client,
    /// Serialises notification delivery (background ticker vs. a test's explicit call).
    pub delivery: Arc<tokio::sync::Mutex<()>>,
}

impl Sim {
    pub fn new(clock: SimClock, seed: Option<u64>, settings: Settings) -> Self {
        let rng = match seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_rng(&mut rand::rng()),
        };
        Sim {
            world: Arc::new(Mutex::new(World::default())),
            rng: Arc::new(Mutex::new(rng)),
            clock,
            faults: Faults::default(),
            settings: Arc::new(settings),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            delivery: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// Locks the world. Never hold the guard across an `.await`.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// A random string over `charset`.
    pub fn random_from(&self, charset: &[u8], len: usize) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (0..len)
            .map(|_| {
                let i = rng.random_range(0..charset.len());
                char::from(charset.get(i).copied().unwrap_or(b'0'))
            })
            .collect()
    }

    pub fn random_alnum(&self, len: usize) -> String {
        self.random_from(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            len,
        )
    }

    pub fn random_digits(&self, len: usize) -> String {
        self.random_from(b"0123456789", len)
    }

    pub fn random_bytes(&self, len: usize) -> Vec<u8> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (0..len).map(|_| rng.random::<u8>()).collect()
    }

    /// A request id like WeChat's `Request-ID` / errmsg `rid`.
    pub fn request_id(&self) -> String {
        self.random_from(b"0123456789abcdef", 24)
    }
}
