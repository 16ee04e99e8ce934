//! # paygate-server — the HTTP face of paygate
//!
//! - the operator admin API under `/admin/v1` ([`admin`]): login, operators, tenants, apps,
//!   channels and their credentials, API keys, webhooks, and read-only views;
//! - the tenant API under `/v1` ([`tenant_api`]), authenticated by API keys (the tenant's
//!   backend) or mini-program session tokens (its users), with the payment services behind it
//!   in [`payments`];
//! - WeChat's notify endpoints under `/notify/{channel_id}` ([`notify`]);
//! - the reconciliation worker ([`workers::reconcile`]), spawned by the CLI;
//! - `GET /healthz`, `GET /readyz`, `GET /metrics`, `GET /openapi.json` and Swagger UI at
//!   `/docs`;
//! - the operator console (a single-page app over the admin API) at `/admin/` ([`console`]).
//!
//! The reference for every route, body and error code is the OpenAPI document
//! (`openapi/openapi.json`, served at `/openapi.json`); the response types in [`admin`] and
//! [`tenant_api`] also implement `Deserialize`, so test clients can decode with them. Error
//! codes are listed on [`ApiError::code`].
//!
//! Entry points for the CLI: [`ServerSettings`] → [`AppState::new`] → [`router`] →
//! [`serve`]; [`openapi()`] is the document; [`password`] and [`jwt`] are reused by
//! `paygate admin create-operator` / `paygate admin token`.
//!
//! Handlers are thin: they parse, authorise, call the store (always with an
//! [`Audit`](paygate_store::Audit) for writes) and shape the answer. This crate must never
//! depend on an XML or RSA library or on a provider crate: channel credentials are checked
//! only through [`ProviderRegistry::validate_credentials`](paygate_core::ProviderRegistry),
//! and it must never log or return a secret (passwords, tokens, API keys, credentials).

pub mod admin;
pub mod auth;
pub mod console;
pub mod error;
pub mod extract;
mod health;
pub mod metrics;
mod middleware;
pub mod notify;
mod openapi;
pub mod pagination;
pub mod payments;
pub mod settings;
pub mod state;
pub mod tenant_api;
pub mod webhooks;
pub mod workers;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

pub use auth::{jwt, password};
pub use error::{ApiError, ErrorBody, ErrorDetails};
pub use middleware::{RequestId, X_REQUEST_ID};
pub use openapi::{OPERATOR_JWT, TENANT_API_KEY};
pub use settings::{JwtSettings, LoginLimits, ServerSettings, SettingsError};
pub use state::AppState;

/// Every documented route, before state and middleware.
fn api() -> OpenApiRouter<AppState> {
    use utoipa::OpenApi as _;
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::get_metrics))
        .nest("/admin/v1", admin::router())
        .nest("/v1", tenant_api::router())
        .nest("/notify", notify::router())
}

/// The OpenAPI document of every route [`router`] serves.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api().into_openapi()
}

async fn route_not_found() -> ApiError {
    ApiError::NotFound(error::Resource::Other)
}

/// The complete application: API routes, `/openapi.json`, `/docs`, and the middleware stack
/// (request id, tracing, metrics, body limit, timeout).
pub fn router(state: AppState) -> Router {
    let (routes, doc) = api().split_for_parts();
    let app = routes
        .merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
        .merge(console::router())
        .fallback(route_not_found)
        .with_state(state.clone());
    middleware::apply(app, &state)
}

/// Serves `router` on `listener` until `shutdown` completes, then lets in-flight requests
/// finish. Peer addresses are recorded for client-IP resolution.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
