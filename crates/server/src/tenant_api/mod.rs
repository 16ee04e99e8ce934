//! The tenant API, mounted at `/v1`: the tenant's backend calls it with an API key
//! (`Authorization: Bearer pk_…`), the tenant's mini-program with a session token from
//! `POST /v1/apps/{appid}/sessions` ([`TenantCaller`]). Every authenticated request counts
//! against the tenant's rate limit.
//!
//! - [`me`]: `GET /v1/me`.
//! - [`sessions`]: mini-program login and mini-program codes.
//! - [`orders`]: create, read, list, close.
//! - [`pay`]: start a payment (JSAPI fields or native `code_url` / QR PNG).
//! - [`refunds`]: create, read, list.
//!
//! Handlers are thin: they parse, authorise and shape; the rules live in
//! [`crate::payments`]. A session can never set an amount and sees only its own orders.

pub mod caller;
pub mod me;
pub mod orders;
pub mod pay;
mod qr;
pub mod refunds;
pub mod sessions;

pub use caller::{Principal, TenantCaller};

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me::get_me))
        .routes(routes!(sessions::create_session))
        .routes(routes!(sessions::create_wxacode))
        .routes(routes!(orders::create_order, orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::close_order))
        .routes(routes!(pay::pay_order))
        .routes(routes!(refunds::create_refund, refunds::list_order_refunds))
        .routes(routes!(refunds::get_refund))
}
