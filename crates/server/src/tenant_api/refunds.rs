//! Refunds: `POST /v1/orders/{order_id}/refunds` (API key `refunds:write`,
//! `Idempotency-Key`), `GET /v1/refunds/{refund_id}` and `GET /v1/orders/{order_id}/refunds`
//! (API key `read`). Sessions can never refund.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use paygate_core::{OrderId, OutRefundNo, RefundRecordId};
use paygate_store::Scope;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::TenantCaller;
use super::orders::{idempotent_response, to_json};
use crate::admin::view_models::RefundView;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::payments::idempotency::{self, IdempotentRequest};
use crate::payments::{orders, refunds};
use crate::state::AppState;

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRefundRequest {
    /// Integer fen, at most what is still refundable.
    #[schema(example = 500)]
    pub amount: i64,
    /// Shown to the payer; 1–80 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Your refund number (1–64 of `0-9A-Za-z_-|*@`), unique per tenant; generated when
    /// absent. Repeating it with the same amount returns the same refund.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub out_refund_no: Option<OutRefundNo>,
}

/// Refund part or all of a paid order.
#[utoipa::path(post, path = "/orders/{order_id}/refunds", tag = "tenant", operation_id = "create_refund",
    params(("order_id" = String, Path, description = "`ord_…`"),
        ("Idempotency-Key" = Option<String>, Header, description = "Retry key, remembered 24 h")),
    request_body = CreateRefundRequest,
    security(("tenant_api_key" = [])),
    responses(
        (status = 201, description = "Created (`PROCESSING`, or already settled)", body = RefundView),
        (status = 200, description = "The existing refund with this out_refund_no and amount", body = RefundView),
        (status = 403, description = "`session_not_allowed`, `insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`order_not_refundable`, `out_refund_no_reused`, `idempotency_key_in_progress`", body = ErrorBody),
        (status = 422, description = "`refund_exceeds_available` (`details.available_amount`), `invalid_request`, `idempotency_key_reused`", body = ErrorBody),
        (status = 502, description = "`upstream_rejected`, `channel_misconfigured`", body = ErrorBody),
    ))]
pub async fn create_refund(
    State(state): State<AppState>,
    caller: TenantCaller,
    headers: HeaderMap,
    Path(order_id): Path<OrderId>,
    Json(req): Json<CreateRefundRequest>,
) -> Result<Response, ApiError> {
    caller.require_api_key(Scope::RefundsWrite)?;
    let key = idempotency::key_from_headers(&headers)?;
    let body = serde_json::json!({ "order_id": order_id.as_str(), "body": to_json(&req)? });
    let request = IdempotentRequest::new(&caller.tenant.id, key, "create_refund", &body);
    // A derived out_refund_no makes a re-run after a crash find the refund its first run
    // committed (the same out_refund_no and amount on the same order is an idempotent repeat).
    let out_refund_no = request.reference("rk", req.out_refund_no.clone())?;
    let outcome = idempotency::run_once(&state, &request, || async {
        let (refund, created) = refunds::create_refund(
            &state,
            &caller.tenant,
            &caller.audit(),
            &order_id,
            refunds::CreateRefund {
                amount: req.amount,
                reason: req.reason.clone(),
                out_refund_no: out_refund_no.map(|r| r.value),
            },
        )
        .await?;
        let status = if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        Ok((status, to_json(RefundView::from(refund))?))
    })
    .await?;
    Ok(idempotent_response(outcome))
}

/// One refund.
#[utoipa::path(get, path = "/refunds/{refund_id}", tag = "tenant", operation_id = "get_refund",
    params(("refund_id" = String, Path, description = "`ref_…`")),
    security(("tenant_api_key" = [])),
    responses(
        (status = 200, description = "OK", body = RefundView),
        (status = 404, description = "`refund_not_found`", body = ErrorBody),
    ))]
pub async fn get_refund(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(refund_id): Path<RefundRecordId>,
) -> Result<Json<RefundView>, ApiError> {
    caller.require_api_key(Scope::Read)?;
    let refund = state
        .store()
        .refunds()
        .get(&caller.tenant.id, &refund_id)
        .await?;
    Ok(Json(refund.into()))
}

/// An order's refunds, newest first.
#[utoipa::path(get, path = "/orders/{order_id}/refunds", tag = "tenant", operation_id = "list_order_refunds",
    params(("order_id" = String, Path, description = "`ord_…`"), PageParams),
    security(("tenant_api_key" = [])),
    responses(
        (status = 200, description = "OK", body = List<RefundView>),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
    ))]
pub async fn list_order_refunds(
    State(state): State<AppState>,
    caller: TenantCaller,
    Path(order_id): Path<OrderId>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<RefundView>>, ApiError> {
    caller.require_api_key(Scope::Read)?;
    orders::load_order(&state, &caller.tenant, &order_id).await?;
    let paged = state
        .store()
        .refunds()
        .list(
            &caller.tenant.id,
            Some(&order_id),
            &page.page::<RefundRecordId>()?,
        )
        .await?;
    Ok(Json(List::from_paged(paged, RefundView::from)))
}
