//! `/v3/pay/transactions/{jsapi,native}`, queries by out_trade_no and transaction_id, close.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use paygate_core::{NotifyUrl, time_fmt};
use serde_json::Value;
use std::collections::HashMap;

use super::auth::V3Ctx;
use crate::orders::{self, NewOrder, PlaceError};
use crate::state::{Api, AppBinding, Sim, TradeKind, TradeState};

type Refusal = (StatusCode, &'static str, String);

fn param(msg: impl Into<String>) -> Refusal {
    (StatusCode::BAD_REQUEST, "PARAM_ERROR", msg.into())
}

/// v3 `out_trade_no`: 6–32 of `[0-9A-Za-z_-|*]`.
fn valid_trade_no(s: &str) -> bool {
    (6..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*".contains(&b))
}

pub async fn jsapi(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    prepay(sim, TradeKind::Jsapi, method, uri, headers, body).await
}

pub async fn native(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    prepay(sim, TradeKind::Native, method, uri, headers, body).await
}

async fn prepay(
    sim: Sim,
    kind: TradeKind,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match place(&sim, &ctx, kind, &body) {
        Ok(v) => ctx.reply(&sim, StatusCode::OK, Some(&v)),
        Err((status, code, msg)) => ctx.error(&sim, status, code, &msg),
    }
}

fn str_field<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn place(sim: &Sim, ctx: &V3Ctx, kind: TradeKind, body: &[u8]) -> Result<Value, Refusal> {
    let v: Value = serde_json::from_slice(body).map_err(|_| param("请求体不是合法的JSON"))?;
    if !v.is_object() {
        return Err(param("请求体不是合法的JSON"));
    }
    for k in [
        "appid",
        "mchid",
        "description",
        "out_trade_no",
        "notify_url",
    ] {
        match v.get(k) {
            None => {
                return Err(param(format!(
                    "输入源“/body/{k}”映射到字段“{k}”必填性规则校验失败，此字段为必填项"
                )));
            }
            Some(x) if !x.is_string() => return Err(param(format!("{k}字段类型错误"))),
            _ => {}
        }
    }
    let appid = str_field(&v, "appid").unwrap_or_default();
    let mchid = str_field(&v, "mchid").unwrap_or_default();
    if mchid != ctx.mchid {
        return Err(param("请求中的mchid与Authorization中的mchid不一致"));
    }
    let description = str_field(&v, "description").unwrap_or_default();
    if description.is_empty() || description.chars().count() > 127 {
        return Err(param("description长度应在1到127个字符之间"));
    }
    let out_trade_no = str_field(&v, "out_trade_no").unwrap_or_default();
    if !valid_trade_no(out_trade_no) {
        return Err(param("out_trade_no格式错误，应为6-32位数字、字母、_-|*"));
    }
    let notify_url = str_field(&v, "notify_url").unwrap_or_default();
    let parsed: Option<NotifyUrl> = notify_url.parse().ok();
    if parsed.is_none_or(|u| sim.settings.require_https_notify && !u.is_https()) {
        return Err(param(
            "notify_url格式错误（https，不带查询串，最长256字符）",
        ));
    }
    let attach = match v.get("attach") {
        None | Some(Value::Null) => None,
        Some(Value::String(a)) if a.len() <= 128 => Some(a.clone()),
        Some(_) => return Err(param("attach格式错误")),
    };
    let amount = v.get("amount").ok_or_else(|| param("amount为必填项"))?;
    let total = amount
        .get("total")
        .and_then(Value::as_i64)
        .filter(|t| *t >= 1 && *t <= i64::from(i32::MAX))
        .ok_or_else(|| param("amount.total应为大于0的整数（单位：分）"))?;
    if amount
        .get("currency")
        .is_some_and(|c| c.as_str() != Some("CNY"))
    {
        return Err(param("amount.currency只支持CNY"));
    }
    let now = sim.now();
    let time_expire = match v.get("time_expire") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let t = time_fmt::from_rfc3339(s)
                .ok_or_else(|| param("time_expire格式错误，应为RFC3339格式"))?;
            if t <= now {
                return Err(param("time_expire不能早于当前时间"));
            }
            Some(t)
        }
        Some(_) => return Err(param("time_expire格式错误")),
    };
    let client_ip = v
        .get("scene_info")
        .and_then(|s| s.get("payer_client_ip"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut world = sim.world();
    match world.app_bound(mchid, appid) {
        AppBinding::Ok => {}
        AppBinding::NoSuchApp => return Err(param("appid不存在")),
        AppBinding::NoSuchMerchant => {
            return Err((
                StatusCode::BAD_REQUEST,
                "MCH_NOT_EXISTS",
                "商户号不存在".into(),
            ));
        }
        AppBinding::NotBound => {
            return Err((
                StatusCode::BAD_REQUEST,
                "APPID_MCHID_NOT_MATCH",
                "appid和mch_id不匹配".into(),
            ));
        }
    }
    let openid = match kind {
        TradeKind::Jsapi => {
            let openid = v
                .get("payer")
                .and_then(|p| str_field(p, "openid"))
                .filter(|o| !o.is_empty())
                .ok_or_else(|| param("payer.openid为必填项"))?;
            if !world
                .apps
                .get(appid)
                .is_some_and(|a| a.users.contains_key(openid))
            {
                return Err(param("openid和appid不匹配"));
            }
            Some(openid.to_owned())
        }
        TradeKind::Native => None,
    };
    let new = NewOrder {
        api: Api::V3,
        v2_sign_type: None,
        mch_id: mchid.to_owned(),
        appid: appid.to_owned(),
        out_trade_no: out_trade_no.to_owned(),
        description: description.to_owned(),
        attach,
        total,
        trade_kind: kind,
        openid,
        notify_url: notify_url.to_owned(),
        client_ip,
        time_expire,
    };
    let order = orders::place_order(sim, &mut world, new).map_err(|e| match e {
        PlaceError::OrderPaid => (
            StatusCode::BAD_REQUEST,
            "ORDERPAID",
            "该订单已支付".to_owned(),
        ),
        PlaceError::OrderClosed => (
            StatusCode::BAD_REQUEST,
            "ORDER_CLOSED",
            "该订单已关闭".to_owned(),
        ),
        PlaceError::OutTradeNoUsed => (
            StatusCode::FORBIDDEN,
            "OUT_TRADE_NO_USED",
            "商户订单号重复".to_owned(),
        ),
    })?;
    Ok(match (order.prepay_id, order.code_url) {
        (Some(p), _) => serde_json::json!({ "prepay_id": p }),
        (None, Some(c)) => serde_json::json!({ "code_url": c }),
        (None, None) => serde_json::json!({}),
    })
}

pub async fn query_by_out_trade_no(
    State(sim): State<Sim>,
    Path(out_trade_no): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, b"").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let order = sim.world().order(&ctx.mchid, &out_trade_no).cloned();
    transaction_reply(&sim, &ctx, &q, order)
}

pub async fn query_by_id(
    State(sim): State<Sim>,
    Path(transaction_id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, b"").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let order = sim
        .world()
        .order_by_transaction(&transaction_id)
        .filter(|o| o.mch_id == ctx.mchid)
        .cloned();
    transaction_reply(&sim, &ctx, &q, order)
}

/// The answer of both order queries: `?mchid=` must name the signing merchant, then the
/// Transaction, or 404 `ORDER_NOT_EXIST`.
fn transaction_reply(
    sim: &Sim,
    ctx: &V3Ctx,
    q: &HashMap<String, String>,
    order: Option<crate::state::Order>,
) -> Response {
    if q.get("mchid") != Some(&ctx.mchid) {
        return ctx.error(
            sim,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "mchid为必填项，且须与Authorization中的mchid一致",
        );
    }
    match order {
        Some(o) => ctx.reply(sim, StatusCode::OK, Some(&orders::transaction_json(&o))),
        None => ctx.error(sim, StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在"),
    }
}

pub async fn close(
    State(sim): State<Sim>,
    Path(out_trade_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mchid = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| str_field(&v, "mchid").map(str::to_owned));
    if mchid.as_deref() != Some(ctx.mchid.as_str()) {
        return ctx.error(
            &sim,
            StatusCode::BAD_REQUEST,
            "PARAM_ERROR",
            "mchid为必填项，且须与Authorization中的mchid一致",
        );
    }
    let result = {
        let mut world = sim.world();
        match world.order_mut(&ctx.mchid, &out_trade_no) {
            None => Err((StatusCode::NOT_FOUND, "ORDER_NOT_EXIST", "订单不存在")),
            Some(o) if o.state.is_paid() => {
                Err((StatusCode::BAD_REQUEST, "ORDERPAID", "订单已支付，不能关闭"))
            }
            Some(o) => {
                o.state = TradeState::Closed;
                Ok(())
            }
        }
    };
    match result {
        Ok(()) => ctx.reply(&sim, StatusCode::NO_CONTENT, None),
        Err((s, c, m)) => ctx.error(&sim, s, c, m),
    }
}
