//! Read-only views for operators (any role): a tenant's orders (with state history), refunds,
//! notifications, events and webhook deliveries, plus platform-wide stats, alerts and the
//! audit log. Lists are paged newest first; filters are those the store supports.

use axum::extract::State;
use paygate_core::{
    AlertId, AuditId, DeliveryId, EventId, NotificationId, OrderId, OrderState, OutTradeNo,
    RefundRecordId, TenantId,
};
use paygate_store::{AlertFilter, OrderFilter};
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime};
use utoipa::IntoParams;

use crate::admin::view_models::{
    AlertView, AuditEntryView, DayStatsView, DeliveryView, NotificationView, OrderDetailView,
    OrderView, RefundView, StatsView,
};
use crate::auth::Operator;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::state::AppState;
use crate::webhooks::admin::EventDeliveryView;

/// Default stats range when `from` is absent: the 30 days ending at `to`.
const DEFAULT_STATS_DAYS: i64 = 30;

/// Order list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// `CREATED`, `PENDING`, `PAID`, `CLOSED`, `PAY_ERROR`, `PARTIALLY_REFUNDED`, `REFUNDED`.
    #[param(value_type = Option<String>)]
    pub state: Option<OrderState>,
    /// Created at or after (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<OffsetDateTime>,
    /// Created before (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<OffsetDateTime>,
    #[param(value_type = Option<String>)]
    pub out_trade_no: Option<OutTradeNo>,
}

/// Refund list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RefundQuery {
    /// Only refunds of this order (`ord_…`).
    #[param(value_type = Option<String>)]
    pub order_id: Option<OrderId>,
}

/// Delivery list filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Only attempts for this event (`evt_…`).
    #[param(value_type = Option<String>)]
    pub event_id: Option<EventId>,
}

/// Stats range.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day, `YYYY-MM-DD` (UTC); default 29 days before `to`.
    pub from: Option<String>,
    /// Last day, inclusive; default today (UTC). At most 366 days in all.
    pub to: Option<String>,
    /// One tenant only.
    #[param(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
}

/// Alert filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    #[param(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
    /// Only alerts not yet resolved.
    #[serde(default)]
    pub unresolved: bool,
}

/// Audit-log filters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    #[param(value_type = Option<String>)]
    pub tenant_id: Option<TenantId>,
}

/// Parses a `YYYY-MM-DD` query value, naming the parameter when it is not one.
pub fn parse_day(field: &str, value: &str) -> Result<Date, ApiError> {
    Date::parse(value, format_description!("[year]-[month]-[day]")).map_err(|_| {
        ApiError::malformed(format!("{field}: must be YYYY-MM-DD"), Some(field.into()))
    })
}

/// The stats range rule: defaults, then `from <= to` (the store bounds the length).
pub fn stats_range(q: &StatsQuery, today: Date) -> Result<(Date, Date), ApiError> {
    let to =
        q.to.as_deref()
            .map(|v| parse_day("to", v))
            .transpose()?
            .unwrap_or(today);
    let from = match q.from.as_deref() {
        Some(v) => parse_day("from", v)?,
        None => to - Duration::days(DEFAULT_STATS_DAYS - 1),
    };
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after to"));
    }
    Ok((from, to))
}

/// A tenant's orders, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/orders", tag = "views", operation_id = "admin_list_orders",
    params(("tenant_id" = String, Path, description = "`ten_…`"), OrderQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<OrderView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_orders(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(q): Query<OrderQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<OrderView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let filter = OrderFilter {
        state: q.state,
        created_from: q.from,
        created_to: q.to,
        out_trade_no: q.out_trade_no,
        ..OrderFilter::default()
    };
    let paged = state
        .store()
        .orders()
        .list(&tenant_id, &filter, &page.page::<OrderId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, OrderView::from)))
}

/// One order with its state history.
#[utoipa::path(get, path = "/tenants/{tenant_id}/orders/{order_id}", tag = "views", operation_id = "admin_get_order",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("order_id" = String, Path, description = "`ord_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = OrderDetailView), (status = 404, description = "`order_not_found`", body = ErrorBody)))]
pub async fn get_order(
    State(state): State<AppState>,
    _op: Operator,
    Path((tenant_id, order_id)): Path<(TenantId, OrderId)>,
) -> Result<Json<OrderDetailView>, ApiError> {
    let detail = state.store().orders().get(&tenant_id, &order_id).await?;
    Ok(Json(detail.into()))
}

/// A tenant's refunds, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/refunds", tag = "views",
    params(("tenant_id" = String, Path, description = "`ten_…`"), RefundQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<RefundView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_refunds(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(q): Query<RefundQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<RefundView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .activity()
        .refunds(
            &tenant_id,
            q.order_id.as_ref(),
            &page.page::<RefundRecordId>()?,
        )
        .await?;
    Ok(Json(List::from_paged(paged, RefundView::from)))
}

/// Notifications received from WeChat for a tenant, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/notifications", tag = "views",
    params(("tenant_id" = String, Path, description = "`ten_…`"), PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<NotificationView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_notifications(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<NotificationView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .activity()
        .notifications(&tenant_id, &page.page::<NotificationId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, NotificationView::from)))
}

/// A tenant's domain events (the webhook outbox) with their delivery state, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/events", tag = "views",
    params(("tenant_id" = String, Path, description = "`ten_…`"), PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<EventDeliveryView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_events(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<EventDeliveryView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .webhook_deliveries()
        .list_events(&tenant_id, &page.page::<EventId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, EventDeliveryView::from)))
}

/// A tenant's webhook delivery attempts, newest first.
#[utoipa::path(get, path = "/tenants/{tenant_id}/webhook-deliveries", tag = "views",
    params(("tenant_id" = String, Path, description = "`ten_…`"), DeliveryQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<DeliveryView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(q): Query<DeliveryQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<DeliveryView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .activity()
        .deliveries(&tenant_id, q.event_id.as_ref(), &page.page::<DeliveryId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, DeliveryView::from)))
}

/// Daily figures (UTC days), for all tenants or one.
#[utoipa::path(get, path = "/stats", tag = "views",
    params(StatsQuery),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = StatsView), (status = 400, description = "`invalid_request`: malformed path or query", body = ErrorBody), (status = 422, description = "`invalid_request` naming the field", body = ErrorBody)))]
pub async fn get_stats(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<StatsQuery>,
) -> Result<Json<StatsView>, ApiError> {
    let today = state.clock().now().to_offset(time::UtcOffset::UTC).date();
    let (from, to) = stats_range(&q, today)?;
    if let Some(tenant) = &q.tenant_id {
        state.store().tenants().get(tenant).await?;
    }
    let days = state
        .store()
        .stats()
        .daily(from, to, q.tenant_id.as_ref())
        .await?;
    let day = |d: Date| {
        d.format(format_description!("[year]-[month]-[day]"))
            .unwrap_or_default()
    };
    Ok(Json(StatsView {
        from: day(from),
        to: day(to),
        tenant_id: q.tenant_id,
        days: days.into_iter().map(DayStatsView::from).collect(),
    }))
}

/// Alerts, newest first.
#[utoipa::path(get, path = "/alerts", tag = "views",
    params(AlertQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<AlertView>)))]
pub async fn list_alerts(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<AlertQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<AlertView>>, ApiError> {
    let filter = AlertFilter {
        tenant: q.tenant_id,
        unresolved_only: q.unresolved,
    };
    let paged = state
        .store()
        .activity()
        .alerts(&filter, &page.page::<AlertId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, AlertView::from)))
}

/// The audit log, newest first; `tenant_id` narrows to one tenant.
#[utoipa::path(get, path = "/audit-log", tag = "views",
    params(AuditQuery, PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<AuditEntryView>)))]
pub async fn list_audit_log(
    State(state): State<AppState>,
    _op: Operator,
    Query(q): Query<AuditQuery>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<AuditEntryView>>, ApiError> {
    let paged = state
        .store()
        .audit_log()
        .list(q.tenant_id.as_ref(), &page.page::<AuditId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, AuditEntryView::from)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn q(from: Option<&str>, to: Option<&str>) -> StatsQuery {
        StatsQuery {
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            tenant_id: None,
        }
    }

    #[test]
    fn stats_range_defaults_and_rules() {
        let today = date!(2026 - 03 - 31);
        assert_eq!(
            stats_range(&q(None, None), today).unwrap(),
            (date!(2026 - 03 - 02), today)
        );
        assert_eq!(
            stats_range(&q(Some("2026-01-01"), Some("2026-01-31")), today).unwrap(),
            (date!(2026 - 01 - 01), date!(2026 - 01 - 31))
        );
        assert!(stats_range(&q(Some("2026-02-01"), Some("2026-01-31")), today).is_err());
        assert!(stats_range(&q(Some("01/02/2026"), None), today).is_err());
        assert!(stats_range(&q(None, Some("2026-13-01")), today).is_err());
    }
}
