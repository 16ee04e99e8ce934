//! The business rules shared by v2, v3 and the control API: placing an order (and WeChat's
//! answers to a repeated `out_trade_no`), paying it, refunding it, and building the
//! notifications these events send.
//!
//! Rules enforced here, as WeChat applies them: the same `out_trade_no` with other parameters
//! is `OUT_TRADE_NO_USED`; a paid order answers `ORDERPAID`, a closed one `ORDERCLOSED`; a
//! prepay id lives two hours and a repeated request while it lives returns the same one; an
//! order past `time_expire` cannot be paid; refunds never exceed what was paid minus what is
//! refunded or refunding, at most 50 per order, and a retried `out_refund_no` with the same
//! amount returns the existing refund.

use paygate_core::time_fmt;
use paygate_wechat_v2::sign::ApiKey;
use paygate_wechat_v2::xml::Fields;
use time::{Duration, OffsetDateTime};

use crate::notify::{self, NotificationKind};
use crate::state::{
    Api, Order, Refund, RefundState, Sim, TradeKind, TradeState, V2SignType, World,
};

pub const PREPAY_TTL: Duration = Duration::hours(2);
pub const MAX_REFUNDS_PER_ORDER: usize = 50;

/// A new order as either API describes it.
#[derive(Debug, Clone)]
pub struct NewOrder {
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
    pub time_expire: Option<OffsetDateTime>,
}

impl NewOrder {
    /// What may not change between two requests with the same out_trade_no.
    fn fingerprint(&self) -> String {
        format!(
            "{}|{}|{}|{}|{}|{:?}|{:?}",
            self.appid,
            self.description,
            self.total,
            self.trade_kind.as_str(),
            self.openid.as_deref().unwrap_or(""),
            self.attach,
            self.time_expire.map(OffsetDateTime::unix_timestamp),
        )
    }
}

/// Why an order cannot be placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceError {
    OrderPaid,
    OrderClosed,
    OutTradeNoUsed,
}

/// Places an order or repeats an existing one; returns the order as stored.
pub fn place_order(sim: &Sim, world: &mut World, new: NewOrder) -> Result<Order, PlaceError> {
    let now = sim.now();
    let fingerprint = new.fingerprint();
    let key = (new.mch_id.clone(), new.out_trade_no.clone());
    if let Some(existing) = world.orders.get_mut(&key) {
        if existing.state.is_paid() {
            return Err(PlaceError::OrderPaid);
        }
        if existing.state == TradeState::Closed {
            return Err(PlaceError::OrderClosed);
        }
        if existing.fingerprint != fingerprint {
            return Err(PlaceError::OutTradeNoUsed);
        }
        if now >= existing.prepay_expires_at {
            let old = existing.prepay_id.take().or(existing.code_url.take());
            if let Some(old) = old {
                world.prepays.remove(&old);
            }
            let (prepay, code_url) = new_handles(sim, new.trade_kind, now);
            let existing = world.orders.get_mut(&key).ok_or(PlaceError::OrderClosed)?;
            existing.prepay_id = prepay.clone();
            existing.code_url = code_url.clone();
            existing.prepay_expires_at = now + PREPAY_TTL;
            existing.notify_url = new.notify_url;
            if let Some(h) = prepay.or(code_url) {
                world.prepays.insert(h, key.clone());
            }
        } else {
            existing.notify_url = new.notify_url;
        }
        return world
            .orders
            .get(&key)
            .cloned()
            .ok_or(PlaceError::OrderClosed);
    }
    let (prepay_id, code_url) = new_handles(sim, new.trade_kind, now);
    let order = Order {
        api: new.api,
        v2_sign_type: new.v2_sign_type,
        mch_id: new.mch_id,
        appid: new.appid,
        out_trade_no: new.out_trade_no,
        description: new.description,
        attach: new.attach,
        total: new.total,
        trade_kind: new.trade_kind,
        openid: new.openid,
        notify_url: new.notify_url,
        client_ip: new.client_ip,
        fingerprint,
        created_at: now,
        time_expire: new.time_expire,
        prepay_id: prepay_id.clone(),
        code_url: code_url.clone(),
        prepay_expires_at: now + PREPAY_TTL,
        state: TradeState::NotPay,
        transaction_id: None,
        success_time: None,
        payer: None,
    };
    if let Some(h) = prepay_id.or(code_url) {
        world.prepays.insert(h, key.clone());
    }
    world.orders.insert(key, order.clone());
    Ok(order)
}

fn new_handles(
    sim: &Sim,
    kind: TradeKind,
    now: OffsetDateTime,
) -> (Option<String>, Option<String>) {
    match kind {
        TradeKind::Jsapi => {
            // wx + Beijing yyyyMMddHHmmss + 20 hex, like wx201411101639507cbf6ffd8b0779950874.
            let id = format!(
                "wx{}{}",
                time_fmt::to_v2(now),
                sim.random_from(b"0123456789abcdef", 20)
            );
            (Some(id), None)
        }
        TradeKind::Native => (
            None,
            Some(format!(
                "weixin://wxpay/bizpayurl?pr={}",
                sim.random_alnum(7)
            )),
        ),
    }
}

/// Why a payment attempt is refused (what the WeChat client would show).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    #[error("prepay_id does not exist")]
    UnknownPrepay,
    #[error("prepay_id has expired (2 hours)")]
    PrepayExpired,
    #[error("the order has expired (time_expire)")]
    OrderExpired,
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("the order is closed")]
    Closed,
    #[error("the paying user is not the order's payer")]
    OpenIdMismatch,
    #[error("the appid is not the order's appid")]
    AppIdMismatch,
}

/// Checks that the order behind `handle` (prepay id or code_url) can be paid now.
pub fn payable(
    world: &World,
    handle: &str,
    now: OffsetDateTime,
) -> Result<(String, String), PayError> {
    let key = world
        .prepays
        .get(handle)
        .cloned()
        .ok_or(PayError::UnknownPrepay)?;
    let order = world.orders.get(&key).ok_or(PayError::UnknownPrepay)?;
    match order.state {
        TradeState::Success | TradeState::Refund => return Err(PayError::AlreadyPaid),
        TradeState::Closed => return Err(PayError::Closed),
        TradeState::NotPay | TradeState::PayError => {}
    }
    if now >= order.prepay_expires_at {
        return Err(PayError::PrepayExpired);
    }
    if order.time_expire.is_some_and(|t| now >= t) {
        return Err(PayError::OrderExpired);
    }
    Ok(key)
}

/// The user paid: the order becomes SUCCESS and the payment notification is queued.
pub fn settle_payment(sim: &Sim, world: &mut World, key: &(String, String), openid: &str) {
    let now = sim.now();
    let transaction_id = format!(
        "4200{}{}",
        &time_fmt::to_v2(now)[..8],
        sim.random_digits(16)
    );
    let Some(order) = world.orders.get_mut(key) else {
        return;
    };
    order.state = TradeState::Success;
    order.transaction_id = Some(transaction_id.clone());
    order.success_time = Some(now);
    order.payer = Some(openid.to_owned());
    let order = order.clone();
    world.transactions.insert(transaction_id, key.clone());
    let (event_id, body) = match order.api {
        Api::V2 => v2_payment_notification(sim, world, &order),
        Api::V3 => v3_notification(
            sim,
            world,
            &order.mch_id,
            "TRANSACTION.SUCCESS",
            "支付成功",
            "transaction",
            &transaction_json(&order),
        ),
    };
    notify::enqueue(
        sim,
        world,
        NotificationKind::Payment,
        order.api,
        &order.mch_id,
        &order.notify_url,
        event_id,
        body,
    );
}

/// The payment failed at the bank: PAYERROR, and WeChat notifies nothing.
pub fn fail_payment(world: &mut World, key: &(String, String), openid: &str) {
    if let Some(order) = world.orders.get_mut(key) {
        order.state = TradeState::PayError;
        order.payer = Some(openid.to_owned());
    }
}

/// The v3 Transaction object (query answer and notification plaintext).
pub fn transaction_json(o: &Order) -> serde_json::Value {
    let mut v = serde_json::json!({
        "appid": o.appid,
        "mchid": o.mch_id,
        "out_trade_no": o.out_trade_no,
        "trade_type": o.trade_kind.as_str(),
        "trade_state": o.state.as_str(),
        "trade_state_desc": o.state.desc(),
        "amount": { "total": o.total, "currency": "CNY" },
    });
    let Some(obj) = v.as_object_mut() else {
        return v;
    };
    if let Some(a) = &o.attach {
        obj.insert("attach".into(), a.clone().into());
    }
    if let Some(payer) = &o.payer {
        obj.insert("payer".into(), serde_json::json!({ "openid": payer }));
    } else if let Some(openid) = &o.openid {
        obj.insert("payer".into(), serde_json::json!({ "openid": openid }));
    }
    if o.state.is_paid() {
        if let Some(t) = &o.transaction_id {
            obj.insert("transaction_id".into(), t.clone().into());
        }
        obj.insert("bank_type".into(), "OTHERS".into());
        if let Some(t) = o.success_time {
            obj.insert("success_time".into(), time_fmt::to_v3(t).into());
        }
        obj.insert(
            "amount".into(),
            serde_json::json!({ "total": o.total, "payer_total": o.total, "currency": "CNY", "payer_currency": "CNY" }),
        );
    }
    v
}

/// The v2 fields describing an order (orderquery answer and notification), unsigned.
pub fn v2_order_fields(o: &Order) -> Fields {
    let mut f = Fields::new();
    let mut put = |k: &str, v: String| {
        f.insert(k.to_owned(), v);
    };
    put("appid", o.appid.clone());
    put("mch_id", o.mch_id.clone());
    put("out_trade_no", o.out_trade_no.clone());
    put("trade_type", o.trade_kind.as_str().to_owned());
    put("trade_state", o.state.as_str().to_owned());
    put("trade_state_desc", o.state.desc().to_owned());
    put("total_fee", o.total.to_string());
    put("fee_type", "CNY".to_owned());
    if let Some(a) = &o.attach {
        put("attach", a.clone());
    }
    if let Some(openid) = o.payer.as_ref().or(o.openid.as_ref()) {
        put("openid", openid.clone());
        put("is_subscribe", "N".to_owned());
    }
    if o.state.is_paid() {
        if let Some(t) = &o.transaction_id {
            put("transaction_id", t.clone());
        }
        put("bank_type", "OTHERS".to_owned());
        put("cash_fee", o.total.to_string());
        put("cash_fee_type", "CNY".to_owned());
        if let Some(t) = o.success_time {
            put("time_end", time_fmt::to_v2(t));
        }
    }
    f
}

fn v2_payment_notification(sim: &Sim, world: &World, o: &Order) -> (String, String) {
    let mut f = v2_order_fields(o);
    // The notification has no trade_state (only paid orders are notified).
    f.remove("trade_state");
    f.remove("trade_state_desc");
    f.insert("return_code".into(), "SUCCESS".into());
    f.insert("result_code".into(), "SUCCESS".into());
    f.insert("nonce_str".into(), sim.random_alnum(32));
    let t = o.v2_sign_type.unwrap_or(V2SignType::Md5);
    // sign_type is written only for HMAC-SHA256 orders, as WeChat mostly does (gotcha G10).
    if t == V2SignType::HmacSha256 {
        f.insert("sign_type".into(), "HMAC-SHA256".into());
    }
    if let Some(m) = world.merchants.get(&o.mch_id) {
        paygate_wechat_v2::sign::sign_in_place(
            &mut f,
            &ApiKey::new(m.v2_key.clone()),
            crate::v2::sign_type(t),
        );
    }
    let event = o.transaction_id.clone().unwrap_or_default();
    (event, paygate_wechat_v2::xml::encode(&f))
}

/// A v3 notification envelope with `plain` sealed under the merchant's APIv3 key.
fn v3_notification(
    sim: &Sim,
    world: &World,
    mch_id: &str,
    event_type: &str,
    summary: &str,
    original_type: &str,
    plain: &serde_json::Value,
) -> (String, String) {
    let now = sim.now();
    let nonce = sim.random_alnum(12);
    let ciphertext = world
        .merchants
        .get(mch_id)
        .and_then(|m| paygate_wechat_v3::aead::ApiV3Key::new(m.v3_key.as_bytes()).ok())
        .and_then(|k| {
            paygate_wechat_v3::aead::encrypt(
                &k,
                nonce.as_bytes(),
                original_type.as_bytes(),
                plain.to_string().as_bytes(),
            )
            .ok()
        })
        .unwrap_or_default();
    let id = format!(
        "{}-{}-{}-{}-{}",
        sim.random_from(b"0123456789abcdef", 8),
        sim.random_from(b"0123456789abcdef", 4),
        sim.random_from(b"0123456789abcdef", 4),
        sim.random_from(b"0123456789abcdef", 4),
        sim.random_from(b"0123456789abcdef", 12)
    );
    let body = serde_json::json!({
        "id": id,
        "create_time": time_fmt::to_v3(now),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": ciphertext,
            "associated_data": original_type,
            "nonce": nonce,
        }
    });
    (id, body.to_string())
}

/// A refund request as either API describes it.
#[derive(Debug, Clone)]
pub struct NewRefund {
    pub api: Api,
    pub mch_id: String,
    pub out_trade_no: Option<String>,
    pub transaction_id: Option<String>,
    pub out_refund_no: String,
    pub total: i64,
    pub refund: i64,
    pub reason: Option<String>,
    pub notify_url: Option<String>,
}

/// Why a refund is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundError {
    /// No such order, or it is not paid.
    OrderNotFound,
    /// `total` differs from the order's amount.
    TotalMismatch,
    /// More than what is left to refund.
    TooMuch,
    /// 50 refunds already.
    TooMany,
    /// The out_refund_no exists with other parameters.
    OutRefundNoUsed,
    /// Zero or negative.
    BadAmount,
}

/// Applies for a refund (status PROCESSING) or returns the existing one for a retried
/// `out_refund_no` with the same amounts.
pub fn create_refund(sim: &Sim, world: &mut World, r: NewRefund) -> Result<Refund, RefundError> {
    let key = match (&r.transaction_id, &r.out_trade_no) {
        (Some(t), _) => world
            .transactions
            .get(t)
            .cloned()
            .ok_or(RefundError::OrderNotFound)?,
        (None, Some(o)) => (r.mch_id.clone(), o.clone()),
        (None, None) => return Err(RefundError::OrderNotFound),
    };
    let order = world
        .orders
        .get(&key)
        .filter(|o| o.mch_id == r.mch_id)
        .ok_or(RefundError::OrderNotFound)?;
    if !order.state.is_paid() {
        return Err(RefundError::OrderNotFound);
    }
    if let Some(existing) = world
        .refunds
        .get(&(r.mch_id.clone(), r.out_refund_no.clone()))
    {
        if existing.out_trade_no == order.out_trade_no
            && existing.refund == r.refund
            && existing.total == r.total
        {
            return Ok(existing.clone());
        }
        return Err(RefundError::OutRefundNoUsed);
    }
    if r.refund <= 0 || r.total <= 0 {
        return Err(RefundError::BadAmount);
    }
    if r.total != order.total {
        return Err(RefundError::TotalMismatch);
    }
    let refunds = world.refunds_of(&order.mch_id, &order.out_trade_no);
    if refunds.len() >= MAX_REFUNDS_PER_ORDER {
        return Err(RefundError::TooMany);
    }
    let held: i64 = refunds
        .iter()
        .filter(|x| x.state.holds_money())
        .map(|x| x.refund)
        .sum();
    if r.refund > order.total - held {
        return Err(RefundError::TooMuch);
    }
    let now = sim.now();
    let refund = Refund {
        api: r.api,
        mch_id: r.mch_id.clone(),
        out_refund_no: r.out_refund_no.clone(),
        refund_id: format!(
            "5030{}{}",
            &time_fmt::to_v2(now)[..8],
            sim.random_digits(17)
        ),
        out_trade_no: order.out_trade_no.clone(),
        transaction_id: order.transaction_id.clone().unwrap_or_default(),
        total: order.total,
        refund: r.refund,
        reason: r.reason,
        notify_url: r.notify_url,
        state: RefundState::Processing,
        created_at: now,
        success_time: None,
    };
    if let Some(o) = world.orders.get_mut(&key) {
        o.state = TradeState::Refund;
    }
    world
        .refunds
        .insert((r.mch_id, r.out_refund_no), refund.clone());
    Ok(refund)
}

/// Finds a refund by out_refund_no alone (the control API does not know the merchant).
pub fn find_refund_key(
    world: &World,
    mch_id: Option<&str>,
    out_refund_no: &str,
) -> Option<(String, String)> {
    world
        .refunds
        .keys()
        .find(|(m, o)| o == out_refund_no && mch_id.is_none_or(|x| x == m))
        .cloned()
}

/// Moves a PROCESSING refund to its final state and queues its notification.
pub fn settle_refund(
    sim: &Sim,
    world: &mut World,
    key: &(String, String),
    to: RefundState,
) -> Result<Refund, &'static str> {
    let now = sim.now();
    let refund = world.refunds.get_mut(key).ok_or("no such refund")?;
    if refund.state != RefundState::Processing {
        return Err("the refund is not PROCESSING");
    }
    if to == RefundState::Processing {
        return Err("a refund settles to success, abnormal or closed");
    }
    refund.state = to;
    if to == RefundState::Success {
        refund.success_time = Some(now);
    }
    let refund = refund.clone();
    if let Some(url) = refund.notify_url.clone() {
        let (event_id, body) = match refund.api {
            Api::V2 => v2_refund_notification(sim, world, &refund),
            Api::V3 => {
                let (event, summary) = match to {
                    RefundState::Success => ("REFUND.SUCCESS", "退款成功"),
                    RefundState::Abnormal => ("REFUND.ABNORMAL", "退款异常"),
                    _ => ("REFUND.CLOSED", "退款关闭"),
                };
                v3_notification(
                    sim,
                    world,
                    &refund.mch_id,
                    event,
                    summary,
                    "refund",
                    &refund_notice_json(&refund),
                )
            }
        };
        notify::enqueue(
            sim,
            world,
            NotificationKind::Refund,
            refund.api,
            &refund.mch_id,
            &url,
            event_id,
            body,
        );
    }
    Ok(refund)
}

fn refund_notice_json(r: &Refund) -> serde_json::Value {
    let mut v = serde_json::json!({
        "mchid": r.mch_id,
        "out_trade_no": r.out_trade_no,
        "transaction_id": r.transaction_id,
        "out_refund_no": r.out_refund_no,
        "refund_id": r.refund_id,
        "refund_status": r.state.v3(),
        "user_received_account": "支付用户零钱",
        "amount": { "total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund },
    });
    if let (Some(t), Some(obj)) = (r.success_time, v.as_object_mut()) {
        obj.insert("success_time".into(), time_fmt::to_v3(t).into());
    }
    v
}

/// The v3 Refund object (create and query answers).
pub fn refund_json(r: &Refund) -> serde_json::Value {
    let mut v = serde_json::json!({
        "refund_id": r.refund_id,
        "out_refund_no": r.out_refund_no,
        "transaction_id": r.transaction_id,
        "out_trade_no": r.out_trade_no,
        "channel": "ORIGINAL",
        "user_received_account": "支付用户零钱",
        "create_time": time_fmt::to_v3(r.created_at),
        "status": r.state.v3(),
        "funds_account": "AVAILABLE",
        "amount": {
            "total": r.total, "refund": r.refund, "payer_total": r.total, "payer_refund": r.refund,
            "settlement_refund": r.refund, "settlement_total": r.total, "discount_refund": 0,
            "currency": "CNY", "refund_fee": 0, "from": []
        },
        "promotion_detail": [],
    });
    if let (Some(t), Some(obj)) = (r.success_time, v.as_object_mut()) {
        obj.insert("success_time".into(), time_fmt::to_v3(t).into());
    }
    v
}

fn v2_refund_notification(sim: &Sim, world: &World, r: &Refund) -> (String, String) {
    let Some(m) = world.merchants.get(&r.mch_id) else {
        return (r.refund_id.clone(), String::new());
    };
    let appid = world
        .order(&r.mch_id, &r.out_trade_no)
        .map(|o| o.appid.clone())
        .unwrap_or_default();
    let mut inner = Fields::new();
    for (k, v) in [
        ("transaction_id", r.transaction_id.clone()),
        ("out_trade_no", r.out_trade_no.clone()),
        ("refund_id", r.refund_id.clone()),
        ("out_refund_no", r.out_refund_no.clone()),
        ("total_fee", r.total.to_string()),
        ("settlement_total_fee", r.total.to_string()),
        ("refund_fee", r.refund.to_string()),
        ("settlement_refund_fee", r.refund.to_string()),
        ("refund_status", r.state.v2().to_owned()),
        ("refund_recv_accout", "支付用户零钱".to_owned()),
        ("refund_account", "REFUND_SOURCE_UNSETTLED_FUNDS".to_owned()),
        ("refund_request_source", "API".to_owned()),
        ("cash_refund_fee", r.refund.to_string()),
    ] {
        inner.insert(k.to_owned(), v);
    }
    if let Some(t) = r.success_time {
        let bj = t.to_offset(time_fmt::BEIJING);
        inner.insert(
            "success_time".into(),
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                bj.year(),
                u8::from(bj.month()),
                bj.day(),
                bj.hour(),
                bj.minute(),
                bj.second()
            ),
        );
    }
    let req_info =
        paygate_wechat_v2::refund_notify::encrypt_req_info(&inner, &ApiKey::new(m.v2_key.clone()));
    let mut outer = Fields::new();
    outer.insert("return_code".into(), "SUCCESS".into());
    outer.insert("appid".into(), appid);
    outer.insert("mch_id".into(), r.mch_id.clone());
    outer.insert("nonce_str".into(), sim.random_alnum(32));
    outer.insert("req_info".into(), req_info);
    (r.refund_id.clone(), paygate_wechat_v2::xml::encode(&outer))
}

/// Settles PROCESSING refunds older than `auto_settle_refunds` as SUCCESS.
pub fn settle_due_refunds(sim: &Sim) {
    let Some(after) = sim.settings.auto_settle_refunds else {
        return;
    };
    let now = sim.now();
    let mut world = sim.world();
    let due: Vec<(String, String)> = world
        .refunds
        .iter()
        .filter(|(_, r)| r.state == RefundState::Processing && now - r.created_at >= after)
        .map(|(k, _)| k.clone())
        .collect();
    for key in due {
        let _ = settle_refund(sim, &mut world, &key, RefundState::Success);
    }
}
