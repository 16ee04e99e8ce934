//! `/pay/unifiedorder`, `/pay/orderquery`, `/pay/closeorder`.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use paygate_core::{NotifyUrl, time_fmt};
use paygate_wechat_v2::xml::Fields;
use time::Duration;

use super::envelope::V2Ctx;
use crate::orders::{self, NewOrder, PlaceError};
use crate::state::{Api, AppBinding, Sim, TradeKind, TradeState, V2SignType};

/// v2 `out_trade_no`: 1–32 of `[0-9A-Za-z_-|*]`.
pub fn valid_trade_no(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
}

/// A positive integer number of fen ("100"; never "1.00").
pub fn parse_fen(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 10 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0')
    {
        return None;
    }
    s.parse()
        .ok()
        .filter(|v: &i64| *v >= 1 && *v <= i64::from(i32::MAX))
}

type Refusal = (&'static str, String);

pub async fn unifiedorder(State(sim): State<Sim>, body: Bytes) -> Response {
    let ctx = match V2Ctx::open(&sim, "/pay/unifiedorder", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match place(&sim, &ctx) {
        Ok(f) => ctx.answer(&sim, Ok(f)),
        Err((code, des)) => ctx.answer(&sim, Err((code, &des))),
    }
}

fn place(sim: &Sim, ctx: &V2Ctx) -> Result<Fields, Refusal> {
    let lack = |k: &str| ("LACK_PARAMS", format!("缺少参数{k}"));
    let param = |k: &str| ("PARAM_ERROR", format!("{k}参数格式错误"));
    for k in [
        "body",
        "out_trade_no",
        "total_fee",
        "spbill_create_ip",
        "notify_url",
        "trade_type",
    ] {
        if ctx.get(k).is_none() {
            return Err(lack(k));
        }
    }
    let body = ctx.get("body").unwrap_or_default();
    if body.chars().count() > 128 {
        return Err(param("body"));
    }
    let out_trade_no = ctx.get("out_trade_no").unwrap_or_default();
    if !valid_trade_no(out_trade_no) {
        return Err(param("out_trade_no"));
    }
    let total = ctx
        .get("total_fee")
        .and_then(parse_fen)
        .ok_or_else(|| param("total_fee"))?;
    if ctx.get("fee_type").is_some_and(|f| f != "CNY") {
        return Err(param("fee_type"));
    }
    let attach = ctx.get("attach").map(str::to_owned);
    if attach.as_ref().is_some_and(|a| a.len() > 127) {
        return Err(param("attach"));
    }
    let ip = ctx.get("spbill_create_ip").unwrap_or_default();
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(param("spbill_create_ip"));
    }
    let notify_url = ctx.get("notify_url").unwrap_or_default();
    let parsed: Option<NotifyUrl> = notify_url.parse().ok();
    if parsed.is_none_or(|u| sim.settings.require_https_notify && !u.is_https()) {
        return Err(param("notify_url"));
    }
    let trade_kind = match ctx.get("trade_type") {
        Some("JSAPI") => TradeKind::Jsapi,
        Some("NATIVE") => TradeKind::Native,
        Some("APP" | "MWEB") => return Err(("NOAUTH", "商户无此接口权限".into())),
        _ => return Err(param("trade_type")),
    };
    let now = sim.now();
    let time_start = match ctx.get("time_start") {
        None => now,
        Some(s) => time_fmt::from_v2(s).ok_or_else(|| param("time_start"))?,
    };
    let time_expire = match ctx.get("time_expire") {
        None => None,
        Some(s) => {
            let t = time_fmt::from_v2(s).ok_or_else(|| param("time_expire"))?;
            if t - time_start < Duration::minutes(1) || t <= now {
                return Err(("INVALID_REQUEST", "time_expire时间过短，至少1分钟".into()));
            }
            Some(t)
        }
    };
    let mut world = sim.world();
    match world.app_bound(&ctx.mch_id, &ctx.appid) {
        AppBinding::Ok => {}
        AppBinding::NoSuchApp => return Err(("APPID_NOT_EXIST", "APPID不存在".into())),
        AppBinding::NoSuchMerchant => return Err(("MCHID_NOT_EXIST", "MCHID不存在".into())),
        AppBinding::NotBound => {
            return Err(("APPID_MCHID_NOT_MATCH", "appid和mch_id不匹配".into()));
        }
    }
    let openid = match trade_kind {
        TradeKind::Jsapi => {
            let openid = ctx.get("openid").ok_or_else(|| lack("openid"))?;
            let known = world
                .apps
                .get(&ctx.appid)
                .is_some_and(|a| a.users.contains_key(openid));
            if !known {
                return Err(("PARAM_ERROR", "appid和openid不匹配".into()));
            }
            Some(openid.to_owned())
        }
        TradeKind::Native => {
            if ctx.get("product_id").is_none() {
                return Err(lack("product_id"));
            }
            None
        }
    };
    let new = NewOrder {
        api: Api::V2,
        v2_sign_type: Some(match ctx.sign_type {
            paygate_wechat_v2::sign::SignType::Md5 => V2SignType::Md5,
            paygate_wechat_v2::sign::SignType::HmacSha256 => V2SignType::HmacSha256,
        }),
        mch_id: ctx.mch_id.clone(),
        appid: ctx.appid.clone(),
        out_trade_no: out_trade_no.to_owned(),
        description: body.to_owned(),
        attach,
        total,
        trade_kind,
        openid,
        notify_url: notify_url.to_owned(),
        client_ip: Some(ip.to_owned()),
        time_expire,
    };
    let order = orders::place_order(sim, &mut world, new).map_err(|e| match e {
        PlaceError::OrderPaid => ("ORDERPAID", "该订单已支付".to_owned()),
        PlaceError::OrderClosed => ("ORDERCLOSED", "该订单已关闭".to_owned()),
        PlaceError::OutTradeNoUsed => ("OUT_TRADE_NO_USED", "商户订单号重复".to_owned()),
    })?;
    let mut f = Fields::new();
    f.insert("trade_type".into(), trade_kind.as_str().into());
    if let Some(p) = order.prepay_id {
        f.insert("prepay_id".into(), p);
    }
    if let Some(c) = order.code_url {
        f.insert("code_url".into(), c);
    }
    Ok(f)
}

pub async fn orderquery(State(sim): State<Sim>, body: Bytes) -> Response {
    let ctx = match V2Ctx::open(&sim, "/pay/orderquery", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let world = sim.world();
    let order = match (ctx.get("transaction_id"), ctx.get("out_trade_no")) {
        (Some(t), _) => world
            .order_by_transaction(t)
            .filter(|o| o.mch_id == ctx.mch_id),
        (None, Some(o)) => world.order(&ctx.mch_id, o),
        (None, None) => {
            drop(world);
            return ctx.answer(
                &sim,
                Err(("LACK_PARAMS", "缺少参数out_trade_no或transaction_id")),
            );
        }
    };
    match order.cloned() {
        None => {
            drop(world);
            ctx.answer(&sim, Err(("ORDERNOTEXIST", "订单不存在")))
        }
        Some(o) => {
            drop(world);
            let mut f = orders::v2_order_fields(&o);
            // appid/mch_id come from the envelope.
            f.remove("appid");
            f.remove("mch_id");
            ctx.answer(&sim, Ok(f))
        }
    }
}

/// v2 refuses to close an order younger than this.
pub const CLOSE_MIN_AGE: Duration = Duration::minutes(5);

pub async fn closeorder(State(sim): State<Sim>, body: Bytes) -> Response {
    let ctx = match V2Ctx::open(&sim, "/pay/closeorder", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let Some(out_trade_no) = ctx.get("out_trade_no").map(str::to_owned) else {
        return ctx.answer(&sim, Err(("LACK_PARAMS", "缺少参数out_trade_no")));
    };
    let now = sim.now();
    let result = {
        let mut world = sim.world();
        match world.order_mut(&ctx.mch_id, &out_trade_no) {
            None => Err(("ORDERNOTEXIST", "订单不存在")),
            Some(o) if o.state.is_paid() => Err(("ORDERPAID", "订单已支付，不能发起关单")),
            Some(o) if o.state == TradeState::Closed => {
                Err(("ORDERCLOSED", "订单已关闭，无法重复关闭"))
            }
            Some(o) if now - o.created_at < CLOSE_MIN_AGE => {
                Err(("TRADE_STATE_ERROR", "订单创建5分钟后才能关闭"))
            }
            Some(o) => {
                o.state = TradeState::Closed;
                Ok(Fields::new())
            }
        }
    };
    ctx.answer(&sim, result)
}
