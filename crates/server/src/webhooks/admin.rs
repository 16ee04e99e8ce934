//! Admin operations on a tenant's webhook deliveries (mounted under `/admin/v1`): pause,
//! resume (which also re-enables an endpoint disabled by 410), ping, resend one event or every
//! failed event in a time range. [`EventDeliveryView`] is how the events list
//! (`admin::views::list_events`) shows each event with its delivery state.
//!
//! Ping sends a signed `webhook.ping` message at once and reports what came back; it is not
//! an outbox event and is never retried. It must never follow a redirect or reach a private
//! address unless the demo allows it (`allow_insecure_webhook_urls`).

use axum::extract::State;
use paygate_core::{EventId, PlatformId, TenantId};
use paygate_store::{EventDelivery, QueuedEvent};
use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;

use super::worker::{Target, load_target, send};
use super::{WebhookSettings, ssrf};
use crate::admin::webhook::WebhookView;
use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// An outbox event with its delivery state.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDeliveryView {
    #[schema(value_type = String)]
    pub id: EventId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// e.g. `payment.succeeded`.
    pub event_type: String,
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// `pending`, `delivered`, `failed` (resendable) or `skipped` (no endpoint).
    pub delivery_status: String,
    /// Attempts made so far (all resends included).
    pub attempts: i64,
    /// When the next attempt is due (pending only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// HTTP status of the last attempt (none: no response).
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
}

impl From<QueuedEvent> for EventDeliveryView {
    fn from(e: QueuedEvent) -> Self {
        EventDeliveryView {
            next_attempt_at: (e.status == EventDelivery::Pending).then_some(e.next_attempt_at),
            id: e.id,
            tenant_id: e.tenant_id,
            event_type: e.event_type,
            payload: e.payload,
            created_at: e.created_at,
            delivery_status: e.status.as_str().to_owned(),
            attempts: e.attempts,
            last_status_code: e.last_status_code,
            last_latency_ms: e.last_latency_ms,
            delivered_at: e.delivered_at,
        }
    }
}

/// A time range of events to resend (`from` inclusive, `to` exclusive).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRange {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
}

/// How many failed events were queued again.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Resent {
    pub resent: u64,
}

/// What a ping got back.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PingResult {
    /// A 2xx came back.
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: Option<i64>,
    /// Why there was no 2xx, e.g. `timeout`, `webhook_target_forbidden`, `HTTP 500`.
    pub error: Option<String>,
}

async fn set_paused(
    state: &AppState,
    admin: &Operator,
    tenant_id: &TenantId,
    paused: bool,
) -> Result<Json<WebhookView>, ApiError> {
    let endpoint = state
        .store()
        .webhooks()
        .set_paused(&admin.audit(), tenant_id, paused)
        .await?;
    Ok(Json(WebhookView::new(endpoint, None)))
}

/// Hold deliveries to the tenant's endpoint (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/webhook/pause", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = WebhookView), (status = 404, description = "`webhook_not_found`", body = ErrorBody)))]
pub async fn pause_webhook(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<WebhookView>, ApiError> {
    set_paused(&state, &admin, &tenant_id, true).await
}

/// Resume deliveries; also re-enables an endpoint disabled after a 410 (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/webhook/resume", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = WebhookView), (status = 404, description = "`webhook_not_found`", body = ErrorBody)))]
pub async fn resume_webhook(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<WebhookView>, ApiError> {
    set_paused(&state, &admin, &tenant_id, false).await
}

/// Send a signed `webhook.ping` now and report the answer (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/webhook/ping", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "What came back (a failed ping is still 200)", body = PingResult), (status = 404, description = "`webhook_not_found`", body = ErrorBody)))]
pub async fn ping_webhook(
    State(state): State<AppState>,
    RequireAdmin(_admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<PingResult>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let target: Target = load_target(&state, &tenant_id).await?;
    let now = state.clock().now();
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let id = EventId::from_parts(ms, rand::rng().random::<u128>() >> 48);
    let body = serde_json::to_vec(&serde_json::json!({
        "id": id.as_str(),
        "type": "webhook.ping",
        "created_at": now.format(&Rfc3339).unwrap_or_default(),
        "tenant_id": tenant_id.as_str(),
        "data": {},
    }))
    .unwrap_or_default();
    let allow_private = state.settings().allow_insecure_webhook_urls;
    let settings = WebhookSettings::default();
    let client = ssrf::client(allow_private, settings.timeout)
        .map_err(|_| ApiError::Internal("the HTTP client could not be built".into()))?;
    let response = send(&client, allow_private, &target, id.as_str(), body, now).await;
    Ok(Json(PingResult {
        ok: response.status.is_some_and(|s| s.is_success()),
        status_code: response.status.map(|s| s.as_u16()),
        latency_ms: response.latency_ms,
        error: response.error,
    }))
}

/// Queue one event again, due now, with a fresh retry schedule (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/events/{event_id}/resend", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("event_id" = String, Path, description = "`evt_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = EventDeliveryView), (status = 404, description = "Not found", body = ErrorBody), (status = 409, description = "`event_pending`: still being delivered", body = ErrorBody)))]
pub async fn resend_event(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, event_id)): Path<(TenantId, EventId)>,
) -> Result<Json<EventDeliveryView>, ApiError> {
    let event = state
        .store()
        .webhook_deliveries()
        .resend(&admin.audit(), &tenant_id, &event_id)
        .await?;
    Ok(Json(event.into()))
}

/// Queue again every failed event created in `[from, to)` (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/events/resend", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = ResendRange,
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = Resent), (status = 404, description = "Not found", body = ErrorBody), (status = 422, description = "`invalid_request` naming `to`", body = ErrorBody)))]
pub async fn resend_failed_events(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(range): Json<ResendRange>,
) -> Result<Json<Resent>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let resent = state
        .store()
        .webhook_deliveries()
        .resend_failed(&admin.audit(), &tenant_id, range.from, range.to)
        .await?;
    Ok(Json(Resent { resent }))
}
