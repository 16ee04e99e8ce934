//! `/v1/orders`: create (API key `orders:write`, `Idempotency-Key`), read and list (API key
//! `read`, or a session for its own orders), close (API key `orders:write`).
//!
//! Request bodies refuse unknown fields, so a typo (`amout`) is a 422 rather than an order
//! with a default. Amounts are JSON integers of fen: `1.5`, `"100"`, `0` and `-1` are 422
//! naming `amount`.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use paygate_core::{AppId, ChannelId, OpenId, OrderId, OutTradeNo};
use paygate_store::{OrderFilter, Scope};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::caller::{Principal, TenantCaller};
use crate::admin::view_models::{OrderDetailView, OrderView};
use crate::admin::views::OrderQuery;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::payments::idempotency::{self, IdempotentRequest};
use crate::payments::orders;
use crate::state::AppState;

/// Header on a response replayed for a repeated `Idempotency-Key`.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// A new order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderRequest {
    /// Integer fen, 1 to 10 000 000 000.
    #[schema(example = 1999)]
    pub amount: i64,
    /// Only `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Shown to the payer; 1–127 characters.
    pub description: String,
    /// Your order number (6–32 of `0-9A-Za-z_-|*`), unique per tenant; generated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub out_trade_no: Option<OutTradeNo>,
    /// Returned untouched in notifications; at most 127 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// RFC 3339; default now + 2 h; between 1 minute and 7 days from now.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub expires_at: Option<OffsetDateTime>,
    /// Bind the order to this payer now (otherwise the first session that pays it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub payer_openid: Option<OpenId>,
    /// Required when the tenant has several mini-programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub appid: Option<AppId>,
    /// Default: the tenant's default channel, else its only active channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub channel_id: Option<ChannelId>,
}

/// A JSON answer, marked when it replays an earlier response of the same Idempotency-Key.
pub(crate) fn idempotent_response(outcome: idempotency::Outcome) -> Response {
    let json = [(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
    let mut response = (outcome.status, json, outcome.body).into_response();
    if outcome.replayed {
        response
            .headers_mut()
            .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}

pub(crate) fn to_json<T: Serialize>(value: T) -> Result<serde_json::Value, ApiError> {
    serde_json::to_value(value).map_err(|e| ApiError::internal(format!("serialize: {e}")))
}

/// Create an order (state `CREATED`). Send `Idempotency-Key` to retry safely.
#[utoipa::path(post, path = "/orders", tag = "tenant", operation_id = "create_order",
    request_body = CreateOrderRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry key, 1–255 visible ASCII characters, remembered 24 h")),
    security(("tenant_api_key" = [])),
    responses(
        (status = 201, description = "Created (or replayed, with `Idempotent-Replayed: true`)", body = OrderView),
        (status = 403, description = "`session_not_allowed`, `insufficient_scope`, `tenant_suspended`", body = ErrorBody),
        (status = 404, description = "`app_not_found`, `channel_not_found`", body = ErrorBody),
        (status = 409, description = "`duplicate_out_trade_no`, `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`invalid_request` (field named), `no_channel`, `channel_disabled`, `idempotency_key_reused`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
    ))]
pub async fn create_order(
    State(state): State<AppState>,
    caller: TenantCaller,
    headers: HeaderMap,
    Json(req): Json<CreateOrderRequest>,
) -> Result<Response, ApiError> {
    caller.require_api_key(Scope::OrdersWrite)?;
    let key = idempotency::key_from_headers(&headers)?;
    let request = IdempotentRequest::new(&caller.tenant.id, key, "create_order", &to_json(&req)?);
    let out_trade_no = request.reference("pk", req.out_trade_no.clone())?;
    let create = orders::CreateOrder {
        amount: req.amount,
        currency: req.currency,
        description: req.description,
        recover_existing: out_trade_no.as_ref().is_some_and(|r| r.derived),
        out_trade_no: out_trade_no.map(|r| r.value),
        attach: req.attach,
        expires_at: req.expires_at,
        payer_openid: req.payer_openid,
        appid: req.appid,
        channel_id: req.channel_id,
    };
    let outcome = orders::create_order(
        &state,
        &caller.tenant,
        &caller.audit(),
        &request,
        create,
        |order| {
            let view = OrderView::from(order.clone());
            Ok((StatusCode::CREATED, idempotency::json_body(&view)?))
        },
    )
    .await?;
    Ok(idempotent_response(outcome))
}

/// One order with its state history. A session sees only its own orders.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "tenant", operation_id = "get_order",
    params(("order_id" = String, Path, description = "`ord_…`")),
    security(("tenant_api_key" = []), ("miniprogram_session" = [])),
    responses(
        (status = 200, description = "OK", body = OrderDetailView),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
    ))]
pub async fn get_order(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(order_id): Path<OrderId>,
) -> Result<Json<OrderDetailView>, ApiError> {
    caller.require_read()?;
    let detail = state
        .store()
        .orders()
        .get(&caller.tenant.id, &order_id)
        .await?;
    caller.check_order_access(&detail.order)?;
    Ok(Json(detail.into()))
}

/// The tenant's orders, newest first. A session lists only its own orders (those of its app
/// bound to its openid).
#[utoipa::path(get, path = "/orders", tag = "tenant", operation_id = "list_orders",
    params(OrderQuery, PageParams),
    security(("tenant_api_key" = []), ("miniprogram_session" = [])),
    responses((status = 200, description = "OK", body = List<OrderView>)))]
pub async fn list_orders(
    State(state): State<AppState>,
    caller: TenantCaller,
    Query(q): Query<OrderQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<OrderView>>, ApiError> {
    caller.require_read()?;
    // A session's filter runs in SQL, so its pages are full and its cursor exact.
    let (payer_openid, appid) = match &caller.principal {
        Principal::Session(s) => (Some(s.openid.clone()), Some(s.appid.clone())),
        Principal::ApiKey(_) => (None, None),
    };
    let filter = OrderFilter {
        state: q.state,
        created_from: q.from,
        created_to: q.to,
        out_trade_no: q.out_trade_no,
        payer_openid,
        appid,
        channel_id: None,
    };
    let paged = state
        .store()
        .orders()
        .list(&caller.tenant.id, &filter, &page.page::<OrderId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, OrderView::from)))
}

/// Close an order at WeChat and locally (`order.closed`). Closing a closed order is a no-op.
#[utoipa::path(post, path = "/orders/{order_id}/close", tag = "tenant", operation_id = "close_order",
    params(("order_id" = String, Path, description = "`ord_…`")),
    security(("tenant_api_key" = [])),
    responses(
        (status = 200, description = "Closed", body = OrderView),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`order_already_paid`", body = ErrorBody),
        (status = 502, description = "`upstream_rejected`, `channel_misconfigured`", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable`", body = ErrorBody),
    ))]
pub async fn close_order(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(order_id): Path<OrderId>,
) -> Result<Json<OrderView>, ApiError> {
    caller.require_api_key(Scope::OrdersWrite)?;
    let order = orders::load_order(&state, &caller.tenant, &order_id).await?;
    let closed = orders::close_order(&state, &caller.tenant, order).await?;
    Ok(Json(closed.into()))
}
