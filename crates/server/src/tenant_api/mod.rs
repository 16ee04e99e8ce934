//! The tenant API, mounted at `/v1` and authenticated by API keys
//! ([`TenantKey`](crate::auth::TenantKey)). For now only `GET /v1/me`; the payment endpoints
//! come next.

pub mod me;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(me::get_me))
}
