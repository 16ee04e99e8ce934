//! Orders: creation (rules in [`super::rules`]), closing, and a channel's provider as pay,
//! refund and close need it ([`provider_for`], over [`super::channel`]).
//!
//! Provider failures become one of a few client-actionable codes ([`map_provider_error`]);
//! the provider's text is logged, and only WeChat's own code and message reach the client.

use std::sync::Arc;

use axum::http::StatusCode;
use paygate_core::{AppId, ChannelId, OpenId, OrderState, OutTradeNo, Provider, ProviderError};
use paygate_store::{
    Audit, Channel, IdempotentCreate, NewOrder, Order, OrderTradeType, StoreError, Tenant,
};
use time::OffsetDateTime;

use super::channel::{ChannelProviderError, channel_provider};
use super::rules;
use crate::error::{ApiError, PaymentError, Resource};
use crate::payments::converge;
use crate::payments::idempotency::{IdempotentRequest, Outcome};
use crate::state::AppState;

/// A validated order request (amount already checked).
#[derive(Debug, Clone)]
pub struct CreateOrder {
    pub amount: i64,
    pub currency: Option<String>,
    pub description: String,
    pub out_trade_no: Option<OutTradeNo>,
    /// `out_trade_no` was derived from an `Idempotency-Key`: an existing order with it is this
    /// very request's, committed by an earlier run that died before answering (the
    /// three-step path of earlier versions), and is answered rather than refused.
    pub recover_existing: bool,
    pub attach: Option<String>,
    pub expires_at: Option<OffsetDateTime>,
    pub payer_openid: Option<OpenId>,
    pub appid: Option<AppId>,
    pub channel_id: Option<ChannelId>,
}

/// Creates an order in `CREATED`; nothing is sent to WeChat until it is paid. `respond` makes
/// the response (status and JSON body) from the order.
///
/// With an `Idempotency-Key`, the key's claim, the order and the response stored for replays
/// commit in one transaction (`Orders::create_idempotent`); a key another request holds is
/// answered as [`IdempotentRequest::answer_held`] says, and a refused order leaves the key
/// free. The request is checked and its app and channel chosen before that transaction
/// (reads stay out of the write lock); a request refused there still answers a held key
/// first ([`IdempotentRequest::refused`]), as if it had claimed it.
pub async fn create_order<R>(
    state: &AppState,
    tenant: &Tenant,
    audit: &Audit,
    request: &IdempotentRequest<'_>,
    req: CreateOrder,
    respond: R,
) -> Result<Outcome, ApiError>
where
    R: Fn(&Order) -> Result<(StatusCode, Vec<u8>), ApiError>,
{
    let adopt_existing = req.recover_existing;
    let new = match new_order(state, tenant, req).await {
        Ok(new) => new,
        Err(e) => return request.refused(state, e).await,
    };
    let orders = state.store().orders();
    let Some(claim) = request.claim(adopt_existing) else {
        let order = orders.create(audit, &tenant.id, &new).await?;
        let (status, body) = respond(&order)?;
        return Ok(Outcome {
            status,
            body,
            replayed: false,
        });
    };
    let created = orders
        .create_idempotent(audit, &tenant.id, &new, &claim, |order| {
            respond(order).map(|(status, body)| (status.as_u16(), body))
        })
        .await?;
    match created {
        IdempotentCreate::Created { status, body, .. } => Ok(Outcome {
            status: StatusCode::from_u16(status)
                .map_err(|e| ApiError::internal(format!("response status: {e}")))?,
            body,
            replayed: false,
        }),
        IdempotentCreate::Held(held) => request.answer_held(held),
    }
}

/// The order `req` asks for, checked by the rules, with its app and channel chosen.
async fn new_order(
    state: &AppState,
    tenant: &Tenant,
    req: CreateOrder,
) -> Result<NewOrder, ApiError> {
    let amount = rules::check_amount(req.amount)?;
    rules::check_currency(req.currency.as_deref())?;
    rules::check_description(&req.description)?;
    rules::check_attach(req.attach.as_deref())?;
    let now = state.clock().now();
    let expires_at = rules::resolve_expiry(req.expires_at, now)?;
    let store = state.store();
    // The store returns just enough candidates for the rules to decide as they would on the
    // tenant's every app and channel.
    let apps = store
        .apps()
        .order_candidates(&tenant.id, req.appid.as_ref())
        .await?;
    let appid = rules::choose_app(req.appid.as_ref(), &apps)?;
    let channels = store
        .channels()
        .order_candidates(
            &tenant.id,
            req.channel_id.as_ref(),
            tenant.default_channel_id.as_ref(),
        )
        .await?;
    let channel_id = rules::choose_channel(
        req.channel_id.as_ref(),
        tenant.default_channel_id.as_ref(),
        &channels,
    )?;
    let out_trade_no = match req.out_trade_no {
        Some(n) => n,
        None => rules::generate_out_trade_no(now, &mut rand::rng())?,
    };
    Ok(NewOrder {
        appid,
        channel_id,
        out_trade_no,
        amount,
        description: req.description,
        attach: req.attach,
        // Provisional: the trade type is chosen when the order is paid (set with the prepay).
        trade_type: OrderTradeType::Jsapi,
        payer_openid: req.payer_openid,
        client_ip: None,
        expires_at: Some(expires_at),
    })
}

/// The channel of an order and its provider ([`channel_provider`]), with errors as the API
/// answers them: a provider the registry refuses is 502 `channel_misconfigured`.
pub async fn provider_for(
    state: &AppState,
    tenant: &Tenant,
    channel_id: &ChannelId,
) -> Result<(Channel, Arc<dyn Provider>), ApiError> {
    channel_provider(state.store(), state.registry(), &tenant.id, channel_id)
        .await
        .map_err(|e| match e {
            ChannelProviderError::Store(e) => e.into(),
            ChannelProviderError::Provider(e) => {
                tracing::error!(channel_id = %channel_id, error = %e, "channel provider unusable");
                ApiError::Payment(PaymentError::ChannelMisconfigured)
            }
        })
}

/// WeChat Pay failures as API errors (see the module docs).
pub fn map_provider_error(e: ProviderError) -> ApiError {
    use ProviderError as P;
    let rejected = |code: &str, message: &str| {
        ApiError::Payment(PaymentError::UpstreamRejected {
            code: code.to_owned(),
            message: message.to_owned(),
        })
    };
    match e {
        P::OrderPaid => PaymentError::OrderAlreadyPaid.into(),
        P::OrderClosed => PaymentError::OrderClosed.into(),
        P::Credentials(_) | P::UpstreamAuth { .. } => {
            tracing::error!(error = %e, "WeChat refused the channel's credentials");
            PaymentError::ChannelMisconfigured.into()
        }
        P::Rejected { code, message } => {
            ApiError::Payment(PaymentError::UpstreamRejected { code, message })
        }
        P::OutTradeNoUsed => rejected(
            "OUT_TRADE_NO_USED",
            "out_trade_no was used with other parameters",
        ),
        P::InsufficientBalance => rejected("NOT_ENOUGH", "the merchant balance is insufficient"),
        P::OrderNotFound => rejected("ORDER_NOT_EXIST", "WeChat has no such order"),
        P::RefundNotFound => rejected("RESOURCE_NOT_EXISTS", "WeChat has no such refund"),
        P::InvalidRequest { field, message } => {
            tracing::warn!(field, %message, "request refused before sending");
            rejected("INVALID_REQUEST", &format!("{field}: {message}"))
        }
        P::Unsupported(what) => rejected("UNSUPPORTED", what),
        P::RateLimited { .. }
        | P::Unavailable { .. }
        | P::Transport(_)
        | P::Verification(_)
        | P::Malformed(_) => {
            tracing::warn!(error = %e, "WeChat Pay unavailable");
            PaymentError::UpstreamUnavailable.into()
        }
    }
}

/// Closes an order: at WeChat first (when it may exist there), then locally with
/// `order.closed`. Closing a closed order answers it unchanged; a paid one is 409
/// `order_already_paid`.
pub async fn close_order(
    state: &AppState,
    tenant: &Tenant,
    order: Order,
) -> Result<Order, ApiError> {
    match order.state {
        OrderState::Closed => return Ok(order),
        s if s.is_paid() => return Err(PaymentError::OrderAlreadyPaid.into()),
        // Never sent to WeChat: nothing to close upstream.
        OrderState::Created => {}
        _ => {
            let (_, provider) = provider_for(state, tenant, &order.channel_id).await?;
            match provider.close_payment(&order.out_trade_no).await {
                Ok(()) | Err(ProviderError::OrderClosed | ProviderError::OrderNotFound) => {}
                Err(e) => return Err(map_provider_error(e)),
            }
        }
    }
    converge::close_locally(state.store(), &order, "close")
        .await
        .map_err(|e| ApiError::internal(format!("close: {e}")))?;
    let after = state
        .store()
        .orders()
        .get_order(&tenant.id, &order.id)
        .await?;
    match after.state {
        OrderState::Closed => Ok(after),
        s if s.is_paid() => Err(PaymentError::OrderAlreadyPaid.into()),
        _ => Err(ApiError::Conflict(crate::error::Conflict::Other)),
    }
}

/// 404 for another tenant's order, mapped from the store.
pub async fn load_order(
    state: &AppState,
    tenant: &Tenant,
    id: &paygate_core::OrderId,
) -> Result<Order, ApiError> {
    match state.store().orders().get_order(&tenant.id, id).await {
        Ok(order) => Ok(order),
        Err(StoreError::NotFound { .. }) => Err(ApiError::NotFound(Resource::Order)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_map_to_actionable_codes() {
        let code = |e| map_provider_error(e).code();
        assert_eq!(code(ProviderError::OrderPaid), "order_already_paid");
        assert_eq!(code(ProviderError::OrderClosed), "order_closed");
        assert_eq!(
            code(ProviderError::Credentials("x".into())),
            "channel_misconfigured"
        );
        assert_eq!(
            code(ProviderError::UpstreamAuth {
                code: "SIGN_ERROR".into(),
                message: "m".into()
            }),
            "channel_misconfigured"
        );
        assert_eq!(
            code(ProviderError::Transport("t".into())),
            "upstream_unavailable"
        );
        assert_eq!(
            code(ProviderError::RateLimited {
                query_before_retry: false
            }),
            "upstream_unavailable"
        );
        let e = map_provider_error(ProviderError::Rejected {
            code: "PARAM_ERROR".into(),
            message: "bad".into(),
        });
        assert!(matches!(
            e,
            ApiError::Payment(PaymentError::UpstreamRejected { ref code, .. }) if code == "PARAM_ERROR"
        ));
        assert_eq!(e.status(), axum::http::StatusCode::BAD_GATEWAY);
    }
}
