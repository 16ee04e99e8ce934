//! WeChat Pay API v3: JSON, `Authorization: WECHATPAY2-SHA256-RSA2048` request signatures
//! checked against the merchant certificate, responses signed with the merchant's own platform
//! key (certificate serial or `PUB_KEY_ID_…` by the merchant's mode), AES-256-GCM resources.
//!
//! Crypto comes from `paygate-wechat-v3`; this module applies WeChat's rules and status codes
//! (401 `SIGN_ERROR`, 400 `PARAM_ERROR`, 404 `ORDER_NOT_EXIST`, 204 on close …).

mod auth;
mod pay;
mod refund;
pub mod signing;

use axum::Router;
use axum::routing::{get, post};

use crate::state::Sim;

pub use auth::{V3Ctx, v3_error, v3_reply};

pub fn router() -> Router<Sim> {
    Router::new()
        .route("/v3/pay/transactions/jsapi", post(pay::jsapi))
        .route("/v3/pay/transactions/native", post(pay::native))
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}",
            get(pay::query_by_out_trade_no),
        )
        .route(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}/close",
            post(pay::close),
        )
        .route(
            "/v3/pay/transactions/id/{transaction_id}",
            get(pay::query_by_id),
        )
        .route("/v3/refund/domestic/refunds", post(refund::create))
        .route(
            "/v3/refund/domestic/refunds/{out_refund_no}",
            get(refund::query),
        )
        .route("/v3/certificates", get(refund::certificates))
}
