//! WeChat Pay API v2: XML over HTTP, signed with the merchant's APIv2 key (MD5 or
//! HMAC-SHA256), mutual TLS for `/secapi/pay/refund`.
//!
//! Every request is checked the way WeChat checks it: a `<!DOCTYPE` or malformed body is
//! `return_code=FAIL` (`XML格式错误`); an unknown merchant or a bad signature is
//! `return_code=FAIL` with no signature; business refusals are signed answers with
//! `result_code=FAIL` and WeChat's `err_code`. Answers are signed with the algorithm of the
//! request. Signing and XML come from `paygate-wechat-v2`; this module only applies rules.

mod envelope;
mod pay;
mod refund;

use axum::Router;
use axum::routing::post;
use paygate_wechat_v2::sign::SignType;

use crate::state::{Sim, V2SignType};

pub use envelope::{V2Ctx, fail};

pub fn router() -> Router<Sim> {
    Router::new()
        .route("/pay/unifiedorder", post(pay::unifiedorder))
        .route("/pay/orderquery", post(pay::orderquery))
        .route("/pay/closeorder", post(pay::closeorder))
        .route("/pay/refundquery", post(refund::refundquery))
        .route("/secapi/pay/refund", post(refund::refund))
}

/// The library's algorithm for an order's stored sign type.
pub fn sign_type(t: V2SignType) -> SignType {
    match t {
        V2SignType::Md5 => SignType::Md5,
        V2SignType::HmacSha256 => SignType::HmacSha256,
    }
}
