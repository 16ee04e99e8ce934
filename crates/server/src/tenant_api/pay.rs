//! `POST /v1/orders/{order_id}/pay`: what the mini-program (session) or the tenant's backend
//! (API key `orders:write`) needs to start a payment — the signed `wx.requestPayment` fields
//! (JSAPI) or a `code_url` (native; `?format=png` for the QR image).

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use paygate_core::{OrderId, RequestPayment};
use paygate_store::{OrderTradeType, Scope};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::{IntoParams, ToSchema};

use super::caller::{Principal, TenantCaller};
use super::qr::qr_png;
use crate::auth::ClientIp;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::payments::{orders, pay};
use crate::state::AppState;

/// How the payer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayTradeType {
    /// In the mini-program, with `wx.requestPayment`.
    Jsapi,
    /// By scanning a QR code.
    Native,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    pub trade_type: PayTradeType,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PayFormat {
    /// `png`: answer a native payment with the QR code image instead of JSON.
    pub format: Option<String>,
}

/// The fields to pass to `wx.requestPayment`, named as WeChat names them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RequestPaymentView {
    #[serde(rename = "appId")]
    pub app_id: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// `MD5`, `HMAC-SHA256` (v2) or `RSA` (v3).
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

impl From<RequestPayment> for RequestPaymentView {
    fn from(r: RequestPayment) -> Self {
        RequestPaymentView {
            app_id: r.app_id.as_str().to_owned(),
            time_stamp: r.time_stamp,
            nonce_str: r.nonce_str,
            package: r.package,
            sign_type: r.sign_type.as_str().to_owned(),
            pay_sign: r.pay_sign,
        }
    }
}

/// How to start the payment.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PayResponse {
    pub trade_type: PayTradeType,
    /// JSAPI only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_payment: Option<RequestPaymentView>,
    /// Native only: encode as a QR code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_url: Option<String>,
    /// After this, call pay again for a fresh prepay.
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub prepay_expires_at: OffsetDateTime,
}

/// Start paying an order. A session binds an unbound order to its user.
#[utoipa::path(post, path = "/orders/{order_id}/pay", tag = "tenant", operation_id = "pay_order",
    params(("order_id" = String, Path, description = "`ord_…`"), PayFormat),
    request_body = PayRequest,
    security(("miniprogram_session" = []), ("tenant_api_key" = [])),
    responses(
        (status = 200, description = "JSON, or `image/png` for `?format=png` (native)", body = PayResponse),
        (status = 403, description = "`order_not_yours`, `insufficient_scope`", body = ErrorBody),
        (status = 404, description = "`order_not_found`", body = ErrorBody),
        (status = 409, description = "`order_already_paid`, `order_closed`, `order_expired`, `order_not_payable`", body = ErrorBody),
        (status = 422, description = "`invalid_request`", body = ErrorBody),
        (status = 502, description = "`upstream_rejected` (WeChat's code in `details.upstream_code`), `channel_misconfigured`", body = ErrorBody),
        (status = 503, description = "`upstream_unavailable` (retry), `payments_not_configured`", body = ErrorBody),
    ))]
pub async fn pay_order(
    State(state): State<AppState>,
    caller: TenantCaller,
    ClientIp(ip): ClientIp,
    Path(order_id): Path<OrderId>,
    Query(format): Query<PayFormat>,
    Json(req): Json<PayRequest>,
) -> Result<Response, ApiError> {
    let png = match format.format.as_deref() {
        None | Some("json") => false,
        Some("png") if req.trade_type == PayTradeType::Native => true,
        Some(_) => {
            return Err(ApiError::malformed(
                "format: must be json, or png for a native payment",
                Some("format".to_owned()),
            ));
        }
    };
    if let Principal::ApiKey(_) = caller.principal {
        caller.require_api_key(Scope::OrdersWrite)?;
    }
    let order = orders::load_order(&state, &caller.tenant, &order_id).await?;
    if let Principal::Session(s) = &caller.principal
        && s.appid != order.appid
    {
        return Err(ApiError::NotFound(crate::error::Resource::Order));
    }
    let trade_type = match req.trade_type {
        PayTradeType::Jsapi => OrderTradeType::Jsapi,
        PayTradeType::Native => OrderTradeType::Native,
    };
    let outcome = pay::pay_order(
        &state,
        &caller.tenant,
        order,
        trade_type,
        caller.session_openid(),
        ip,
    )
    .await?;
    let body = match outcome {
        pay::PayOutcome::Jsapi {
            request_payment,
            prepay_expires_at,
        } => PayResponse {
            trade_type: req.trade_type,
            request_payment: Some(request_payment.into()),
            code_url: None,
            prepay_expires_at,
        },
        pay::PayOutcome::Native {
            code_url,
            prepay_expires_at,
        } => {
            if png {
                let image = qr_png(&code_url)?;
                return Ok(([(CONTENT_TYPE, "image/png")], image).into_response());
            }
            PayResponse {
                trade_type: req.trade_type,
                request_payment: None,
                code_url: Some(code_url),
                prepay_expires_at,
            }
        }
    };
    Ok(Json(body).into_response())
}
