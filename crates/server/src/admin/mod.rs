//! The operator admin API, mounted at `/admin/v1`. One resource per module; handler names are
//! the OpenAPI operation ids.
//!
//! Reads take [`Operator`](crate::auth::Operator) (any role), writes take
//! [`RequireAdmin`](crate::auth::RequireAdmin), and every write hands the store an
//! [`Audit`](paygate_store::Audit) naming the operator and the request id.

pub mod api_keys;
pub mod apps;
pub mod channel_views;
pub mod channels;
pub mod login;
pub mod me;
pub mod operators;
pub mod tenants;
pub mod view_models;
pub mod views;
pub mod webhook;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login::login))
        .routes(routes!(me::get_current_operator))
        .routes(routes!(
            operators::list_operators,
            operators::create_operator
        ))
        .routes(routes!(operators::update_operator))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::get_tenant, tenants::update_tenant))
        .routes(routes!(tenants::suspend_tenant))
        .routes(routes!(tenants::resume_tenant))
        .routes(routes!(apps::list_apps, apps::create_app))
        .routes(routes!(channels::list_channels, channels::create_channel))
        .routes(routes!(
            channels::get_channel,
            channels::update_channel,
            channels::delete_channel
        ))
        .routes(routes!(channels::add_credentials))
        .routes(routes!(channels::retire_credentials))
        .routes(routes!(api_keys::list_api_keys, api_keys::create_api_key))
        .routes(routes!(api_keys::revoke_api_key))
        .routes(routes!(webhook::get_webhook, webhook::put_webhook))
        .routes(routes!(webhook::rotate_webhook_secret))
        .routes(routes!(crate::webhooks::admin::pause_webhook))
        .routes(routes!(crate::webhooks::admin::resume_webhook))
        .routes(routes!(crate::webhooks::admin::ping_webhook))
        .routes(routes!(crate::webhooks::admin::resend_event))
        .routes(routes!(crate::webhooks::admin::resend_failed_events))
        .routes(routes!(views::list_orders))
        .routes(routes!(views::get_order))
        .routes(routes!(views::list_refunds))
        .routes(routes!(views::list_notifications))
        .routes(routes!(views::list_events))
        .routes(routes!(views::list_webhook_deliveries))
        .routes(routes!(views::get_stats))
        .routes(routes!(views::list_alerts))
        .routes(routes!(views::list_audit_log))
}
