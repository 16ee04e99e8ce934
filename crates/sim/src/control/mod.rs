//! The simulator's control API under `/sim`, for tests and demos: register merchants and apps,
//! mint users and one-time codes, move the clock, pay as a user, settle refunds, read the
//! notification log, read the simulator's own order and refund records and inject faults.
//!
//! Each operation is also a method on [`Sim`] (used by [`crate::SimHandle`]), so Rust tests
//! need no HTTP for set-up. Errors are `{"code":"…","message":"…"}` with a 4xx status.
//! This API is the simulator's own: it must never be mistaken for (or exposed as) WeChat's.

mod payment;
mod records;
mod setup;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::error::SimError;
use crate::state::Sim;

pub use payment::{PayResult, RequestPaymentBody, ScanBody, SettleBody};
pub use records::{OrderRecord, RecordPage, RecordQuery, RefundRecord};
pub use setup::{AppSpec, MerchantSpec, PlatformInfo};

pub fn router() -> Router<Sim> {
    Router::new()
        .route("/sim/merchants", post(setup::create_merchant))
        .route("/sim/merchants/{mch_id}/platform", get(setup::platform))
        .route("/sim/apps", post(setup::create_app))
        .route("/sim/apps/{appid}/users", post(setup::create_user))
        .route(
            "/sim/apps/{appid}/users/{openid}/login-code",
            post(setup::login_code),
        )
        .route(
            "/sim/apps/{appid}/users/{openid}/phone-code",
            post(setup::phone_code),
        )
        .route("/sim/clock", post(setup::move_clock).get(setup::read_clock))
        .route("/sim/request-payment", post(payment::request_payment))
        .route("/sim/scan", post(payment::scan))
        .route(
            "/sim/refunds/{out_refund_no}/settle",
            post(payment::settle_refund),
        )
        .route("/sim/notifications", get(payment::notifications))
        .route("/sim/orders", get(records::list_orders))
        .route("/sim/refunds", get(records::list_refunds))
        .route("/sim/notifications/deliver", post(payment::deliver))
        .route(
            "/sim/faults",
            post(payment::add_fault).get(payment::list_faults),
        )
        .route("/sim/faults", delete(payment::clear_faults))
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            SimError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            SimError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            SimError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            SimError::Bind { .. } | SimError::Tls(_) | SimError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        crate::http::json(
            status,
            &serde_json::json!({ "code": code, "message": self.to_string() }),
        )
    }
}
