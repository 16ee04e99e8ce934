//! `/v3/refund/domestic/refunds` (create, query) and `/v3/certificates`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use paygate_core::time_fmt;
use serde_json::Value;

use super::auth::V3Ctx;
use crate::orders::{self, NewRefund, RefundError};
use crate::state::{Api, Sim, VerifyMode};

pub async fn create(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let bad = |m: &str| ctx.error(&sim, StatusCode::BAD_REQUEST, "PARAM_ERROR", m);
    let Ok(v) = serde_json::from_slice::<Value>(&body) else {
        return bad("请求体不是合法的JSON");
    };
    let s = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
    };
    let Some(out_refund_no) = s("out_refund_no") else {
        return bad("out_refund_no为必填项");
    };
    if out_refund_no.len() > 64
        || !out_refund_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
    {
        return bad("out_refund_no格式错误");
    }
    let (transaction_id, out_trade_no) = (s("transaction_id"), s("out_trade_no"));
    if transaction_id.is_none() && out_trade_no.is_none() {
        return bad("transaction_id和out_trade_no必须二选一");
    }
    let amount = v.get("amount");
    let int = |k: &str| amount.and_then(|a| a.get(k)).and_then(Value::as_i64);
    let (Some(refund), Some(total)) = (int("refund"), int("total")) else {
        return bad("amount.refund和amount.total为必填的整数（单位：分）");
    };
    if amount
        .and_then(|a| a.get("currency"))
        .and_then(Value::as_str)
        != Some("CNY")
    {
        return bad("amount.currency为必填项，只支持CNY");
    }
    if refund > total {
        return bad("退款金额不能大于订单金额");
    }
    if s("reason").is_some_and(|r| r.chars().count() > 80) {
        return bad("reason长度不能超过80个字符");
    }
    let notify_url = s("notify_url");
    if notify_url
        .as_deref()
        .is_some_and(|u| u.parse::<paygate_core::NotifyUrl>().is_err())
    {
        return bad("notify_url格式错误");
    }
    let result = {
        let mut world = sim.world();
        orders::create_refund(
            &sim,
            &mut world,
            NewRefund {
                api: Api::V3,
                mch_id: ctx.mchid.clone(),
                out_trade_no,
                transaction_id,
                out_refund_no,
                total,
                refund,
                reason: s("reason"),
                notify_url,
            },
        )
    };
    match result {
        Ok(r) => ctx.reply(&sim, StatusCode::OK, Some(&orders::refund_json(&r))),
        Err(e) => {
            let (status, code, msg) = match e {
                RefundError::OrderNotFound => (
                    StatusCode::NOT_FOUND,
                    "RESOURCE_NOT_EXISTS",
                    "订单不存在或未支付",
                ),
                RefundError::TotalMismatch => (
                    StatusCode::BAD_REQUEST,
                    "PARAM_ERROR",
                    "订单金额与原订单不一致",
                ),
                RefundError::TooMuch => (
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "申请退款金额超过订单可退金额",
                ),
                RefundError::TooMany => (
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "退款次数超过限制（每笔订单最多50次）",
                ),
                RefundError::OutRefundNoUsed => (
                    StatusCode::BAD_REQUEST,
                    "INVALID_REQUEST",
                    "商户退款单号已存在且参数不一致",
                ),
                RefundError::BadAmount => {
                    (StatusCode::BAD_REQUEST, "PARAM_ERROR", "退款金额必须大于0")
                }
            };
            ctx.error(&sim, status, code, msg)
        }
    }
}

pub async fn query(
    State(sim): State<Sim>,
    Path(out_refund_no): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, b"").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let refund = sim
        .world()
        .refunds
        .get(&(ctx.mchid.clone(), out_refund_no))
        .cloned();
    match refund {
        Some(r) => ctx.reply(&sim, StatusCode::OK, Some(&orders::refund_json(&r))),
        None => ctx.error(
            &sim,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "退款单不存在",
        ),
    }
}

pub async fn certificates(
    State(sim): State<Sim>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let ctx = match V3Ctx::open(&sim, uri.path(), &method, &uri, &headers, b"").await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let nonce = sim.random_alnum(12);
    let item = {
        let world = sim.world();
        world.merchants.get(&ctx.mchid).and_then(|m| {
            if m.mode == VerifyMode::PublicKey {
                return None;
            }
            let key = paygate_wechat_v3::aead::ApiV3Key::new(m.v3_key.as_bytes()).ok()?;
            let ct = paygate_wechat_v3::aead::encrypt(
                &key,
                nonce.as_bytes(),
                b"certificate",
                m.platform.cert_pem.as_bytes(),
            )
            .ok()?;
            Some(serde_json::json!({
                "serial_no": m.platform.serial,
                "effective_time": time_fmt::to_v3(m.platform.effective_time),
                "expire_time": time_fmt::to_v3(m.platform.expire_time),
                "encrypt_certificate": {
                    "algorithm": "AEAD_AES_256_GCM",
                    "nonce": nonce,
                    "associated_data": "certificate",
                    "ciphertext": ct,
                }
            }))
        })
    };
    match item {
        Some(i) => ctx.reply(
            &sim,
            StatusCode::OK,
            Some(&serde_json::json!({ "data": [i] })),
        ),
        // Merchants in public-key mode have no platform certificate (gotcha G7).
        None => ctx.error(
            &sim,
            StatusCode::NOT_FOUND,
            "RESOURCE_NOT_EXISTS",
            "无可用的平台证书，请使用微信支付公钥验签",
        ),
    }
}
