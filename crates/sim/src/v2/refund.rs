//! `/secapi/pay/refund` (mutual TLS with the merchant certificate) and `/pay/refundquery`.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use paygate_core::time_fmt;
use paygate_wechat_v2::xml::Fields;

use super::envelope::{V2Ctx, fail};
use super::pay::{parse_fen, valid_trade_no};
use crate::orders::{self, NewRefund, RefundError};
use crate::state::{Api, Refund, Sim};
use crate::tls::PeerCert;

pub async fn refund(
    State(sim): State<Sim>,
    peer: Option<Extension<PeerCert>>,
    body: Bytes,
) -> Response {
    // What nginx in front of api.mch.weixin.qq.com answers a client without a certificate.
    let Some(Extension(PeerCert(Some(cert)))) = peer else {
        return (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><head><title>400 No required SSL certificate was sent</title></head></html>",
        )
            .into_response();
    };
    let ctx = match V2Ctx::open(&sim, "/secapi/pay/refund", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let cert_matches = sim
        .world()
        .merchants
        .get(&ctx.mch_id)
        .is_some_and(|m| m.keys.cert_der == cert);
    if !cert_matches {
        return fail("证书与商户号不匹配");
    }
    match apply(&sim, &ctx) {
        Ok(r) => {
            let mut f = Fields::new();
            for (k, v) in [
                ("transaction_id", r.transaction_id.clone()),
                ("out_trade_no", r.out_trade_no.clone()),
                ("out_refund_no", r.out_refund_no.clone()),
                ("refund_id", r.refund_id.clone()),
                ("refund_fee", r.refund.to_string()),
                ("total_fee", r.total.to_string()),
                ("cash_fee", r.total.to_string()),
                ("cash_refund_fee", r.refund.to_string()),
                ("refund_channel", String::new()),
                ("coupon_refund_fee", "0".to_owned()),
            ] {
                f.insert(k.to_owned(), v);
            }
            ctx.answer(&sim, Ok(f))
        }
        Err((code, des)) => ctx.answer(&sim, Err((code, &des))),
    }
}

fn apply(sim: &Sim, ctx: &V2Ctx) -> Result<Refund, (&'static str, String)> {
    let param = |k: &str| ("PARAM_ERROR", format!("{k}参数格式错误"));
    let out_refund_no = ctx
        .get("out_refund_no")
        .ok_or(("LACK_PARAMS", "缺少参数out_refund_no".to_owned()))?;
    if out_refund_no.len() > 64
        || !out_refund_no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-|*@".contains(&b))
    {
        return Err(param("out_refund_no"));
    }
    let transaction_id = ctx.get("transaction_id").map(str::to_owned);
    let out_trade_no = ctx.get("out_trade_no").map(str::to_owned);
    if transaction_id.is_none() && out_trade_no.is_none() {
        return Err(("LACK_PARAMS", "缺少参数transaction_id或out_trade_no".into()));
    }
    if out_trade_no.as_deref().is_some_and(|o| !valid_trade_no(o)) {
        return Err(param("out_trade_no"));
    }
    let total = ctx
        .get("total_fee")
        .ok_or(("LACK_PARAMS", "缺少参数total_fee".to_owned()))?;
    let total = parse_fen(total).ok_or_else(|| param("total_fee"))?;
    let refund = ctx
        .get("refund_fee")
        .ok_or(("LACK_PARAMS", "缺少参数refund_fee".to_owned()))?;
    let refund = parse_fen(refund).ok_or_else(|| param("refund_fee"))?;
    if refund > total {
        return Err(("PARAM_ERROR", "退款金额大于订单金额".into()));
    }
    let notify_url = ctx.get("notify_url").map(str::to_owned);
    if notify_url
        .as_ref()
        .is_some_and(|u| u.parse::<paygate_core::NotifyUrl>().is_err())
    {
        return Err(param("notify_url"));
    }
    let mut world = sim.world();
    let new = NewRefund {
        api: Api::V2,
        mch_id: ctx.mch_id.clone(),
        out_trade_no,
        transaction_id,
        out_refund_no: out_refund_no.to_owned(),
        total,
        refund,
        reason: ctx.get("refund_desc").map(str::to_owned),
        notify_url,
    };
    orders::create_refund(sim, &mut world, new).map_err(|e| match e {
        RefundError::OrderNotFound => ("ORDERNOTEXIST", "订单不存在或未支付".to_owned()),
        RefundError::TotalMismatch => (
            "PARAM_ERROR",
            "订单金额或退款金额与之前请求不一致，请核实后再试".to_owned(),
        ),
        RefundError::TooMuch => ("ERROR", "累计退款金额大于支付金额".to_owned()),
        RefundError::TooMany => ("ERROR", "退款次数超过限制（每笔订单最多50次）".to_owned()),
        RefundError::OutRefundNoUsed => {
            ("PARAM_ERROR", "商户退款单号已存在且参数不一致".to_owned())
        }
        RefundError::BadAmount => ("PARAM_ERROR", "refund_fee参数格式错误".to_owned()),
    })
}

pub async fn refundquery(State(sim): State<Sim>, body: Bytes) -> Response {
    let ctx = match V2Ctx::open(&sim, "/pay/refundquery", &body).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found: Option<Vec<Refund>> = {
        let world = sim.world();
        let mine = |r: &&Refund| r.mch_id == ctx.mch_id;
        // Priority: refund_id, out_refund_no, transaction_id, out_trade_no.
        let order_refunds = |out_trade_no: &str| -> Vec<Refund> {
            world
                .refunds_of(&ctx.mch_id, out_trade_no)
                .into_iter()
                .cloned()
                .collect()
        };
        if let Some(id) = ctx.get("refund_id") {
            world
                .refunds
                .values()
                .filter(mine)
                .find(|r| r.refund_id == id)
                .map(|r| order_refunds(&r.out_trade_no))
                .map(|v| v.into_iter().filter(|r| r.refund_id == id).collect())
        } else if let Some(no) = ctx.get("out_refund_no") {
            world
                .refunds
                .get(&(ctx.mch_id.clone(), no.to_owned()))
                .map(|r| vec![r.clone()])
        } else if let Some(t) = ctx.get("transaction_id") {
            world
                .order_by_transaction(t)
                .filter(|o| o.mch_id == ctx.mch_id)
                .map(|o| order_refunds(&o.out_trade_no))
        } else if let Some(o) = ctx.get("out_trade_no") {
            Some(order_refunds(o))
        } else {
            drop(world);
            return ctx.answer(&sim, Err(("LACK_PARAMS", "缺少参数")));
        }
    };
    let refunds = match found {
        Some(v) if !v.is_empty() => v,
        _ => return ctx.answer(&sim, Err(("REFUNDNOTEXIST", "退款订单查询失败"))),
    };
    let offset = ctx
        .get("offset")
        .and_then(|o| o.parse::<usize>().ok())
        .unwrap_or(0);
    let mut f = Fields::new();
    let first = refunds.first().cloned();
    if let Some(r) = &first {
        f.insert("transaction_id".into(), r.transaction_id.clone());
        f.insert("out_trade_no".into(), r.out_trade_no.clone());
        f.insert("total_fee".into(), r.total.to_string());
        f.insert("cash_fee".into(), r.total.to_string());
        f.insert("fee_type".into(), "CNY".into());
    }
    f.insert("total_refund_count".into(), refunds.len().to_string());
    let page: Vec<&Refund> = refunds.iter().skip(offset).take(10).collect();
    f.insert("refund_count".into(), page.len().to_string());
    let refund_sum: i64 = refunds.iter().map(|r| r.refund).sum();
    f.insert("refund_fee".into(), refund_sum.to_string());
    for (n, r) in page.iter().enumerate() {
        let mut put = |k: &str, v: String| {
            f.insert(format!("{k}_{n}"), v);
        };
        put("out_refund_no", r.out_refund_no.clone());
        put("refund_id", r.refund_id.clone());
        put("refund_channel", "ORIGINAL".into());
        put("refund_fee", r.refund.to_string());
        put("settlement_refund_fee", r.refund.to_string());
        put("refund_status", r.state.v2().into());
        put("refund_account", "REFUND_SOURCE_UNSETTLED_FUNDS".into());
        put("refund_recv_accout", "支付用户零钱".into());
        if let Some(t) = r.success_time {
            let bj = t.to_offset(time_fmt::BEIJING);
            put(
                "refund_success_time",
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
    }
    ctx.answer(&sim, Ok(f))
}
