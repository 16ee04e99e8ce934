//! The mini-program server APIs of `api.weixin.qq.com`: login (`jscode2session`), access tokens
//! (`/cgi-bin/token`, `/cgi-bin/stable_token`), unlimited mini-program codes and phone numbers.
//!
//! Every answer is HTTP 200 with JSON (or the image bytes); failures are a non-zero `errcode`
//! with an `errmsg` ending in `rid: …`, as WeChat writes them. Codes and tokens expire on the
//! simulator's clock.

mod login;
mod phone;
mod token;
mod wxacode;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::Sim;

pub use token::check_access_token;
pub use wxacode::render_qr_png;

/// The mini-program routes.
pub fn router() -> Router<Sim> {
    Router::new()
        .route("/sns/jscode2session", get(login::jscode2session))
        .route("/cgi-bin/token", get(token::token))
        .route(
            "/cgi-bin/stable_token",
            post(token::stable_token).get(require_post),
        )
        .route(
            "/wxa/getwxacodeunlimit",
            post(wxacode::getwxacodeunlimit).get(require_post),
        )
        .route(
            "/wxa/business/getuserphonenumber",
            post(phone::getuserphonenumber).get(require_post),
        )
}

/// A WeChat mini-program error: `{"errcode":…,"errmsg":"…, rid: …"}`, HTTP 200.
pub fn mp_error(sim: &Sim, errcode: i64, errmsg: &str) -> Response {
    let body = serde_json::json!({
        "errcode": errcode,
        "errmsg": format!("{errmsg} rid: {}", sim.request_id()),
    });
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; encoding=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// A successful JSON answer.
pub fn mp_ok(body: serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; encoding=utf-8")],
        body.to_string(),
    )
        .into_response()
}

async fn require_post(axum::extract::State(sim): axum::extract::State<Sim>) -> Response {
    mp_error(&sim, 43002, "require POST method")
}

/// The "system busy" answer used by the `system_error` fault.
pub fn busy(sim: &Sim) -> Response {
    mp_error(&sim.clone(), -1, "system error")
}
