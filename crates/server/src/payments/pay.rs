//! Paying an order: bind the payer, reuse a still-valid prepay (re-signed locally with
//! `request_payment`, no WeChat call) or create a new one, and move the order to `PENDING`.
//!
//! A session may pay only an order that is unbound or bound to its own openid (403
//! `order_not_yours` otherwise); binding is one atomic conditional update in the store, so two
//! users racing for one unbound order cannot both win. Nothing here ever marks an order paid:
//! only convergence (notification, query, reconciliation) does.

use std::net::{IpAddr, Ipv4Addr};

use paygate_core::{
    CreatePayment, OpenId, OrderState, Prepay, PrepayId, RequestPayment, TradeType,
};
use paygate_store::{Order, OrderTradeType, Tenant};
use time::{Duration, OffsetDateTime};

use super::orders::{map_provider_error, provider_for};
use crate::error::{ApiError, PaymentError};
use crate::state::AppState;

/// A stored prepay is reused only if it stays valid at least this long, so the payer has
/// time to confirm before it lapses.
pub const PREPAY_REUSE_MARGIN: Duration = Duration::minutes(1);

/// What to give the payer.
#[derive(Debug, Clone)]
pub enum PayOutcome {
    Jsapi {
        request_payment: RequestPayment,
        prepay_expires_at: OffsetDateTime,
    },
    Native {
        code_url: String,
        prepay_expires_at: OffsetDateTime,
    },
}

/// The state rule: which orders can be paid at `now`.
pub fn check_payable(order: &Order, now: OffsetDateTime) -> Result<(), ApiError> {
    match order.state {
        OrderState::Created | OrderState::Pending | OrderState::PayError => {}
        OrderState::Closed => return Err(PaymentError::OrderClosed.into()),
        s if s.is_paid() => return Err(PaymentError::OrderAlreadyPaid.into()),
        _ => return Err(PaymentError::OrderNotPayable.into()),
    }
    if order.expires_at.is_some_and(|at| at <= now) {
        return Err(PaymentError::OrderExpired.into());
    }
    Ok(())
}

/// The payer of a JSAPI payment: the session's openid (which must match a bound payer), or
/// for an API key the order's bound payer.
pub fn resolve_payer(order: &Order, session: Option<&OpenId>) -> Result<Option<OpenId>, ApiError> {
    match (session, &order.payer_openid) {
        (Some(me), Some(bound)) if me != bound => Err(PaymentError::OrderNotYours.into()),
        (Some(me), _) => Ok(Some(me.clone())),
        (None, bound) => Ok(bound.clone()),
    }
}

/// The stored prepay, if it can be handed out again for `trade_type`.
pub fn reusable_prepay(
    order: &Order,
    trade_type: OrderTradeType,
    now: OffsetDateTime,
) -> Option<&str> {
    if order.state != OrderState::Pending || order.trade_type != trade_type {
        return None;
    }
    if order.prepay_expires_at? <= now + PREPAY_REUSE_MARGIN {
        return None;
    }
    match trade_type {
        OrderTradeType::Jsapi => order.prepay_id.as_deref(),
        OrderTradeType::Native => order.code_url.as_deref(),
    }
}

/// `POST /v1/orders/{order_id}/pay`.
pub async fn pay_order(
    state: &AppState,
    tenant: &Tenant,
    order: Order,
    trade_type: OrderTradeType,
    session: Option<&OpenId>,
    client_ip: Option<IpAddr>,
) -> Result<PayOutcome, ApiError> {
    let now = state.clock().now();
    let payer = resolve_payer(&order, session)?;
    check_payable(&order, now)?;
    let (channel, provider) = provider_for(state, tenant, &order.channel_id).await?;
    let sign = |prepay_id: &str, expires_at| -> Result<PayOutcome, ApiError> {
        let prepay_id: PrepayId = prepay_id
            .parse()
            .map_err(|e| ApiError::internal(format!("stored prepay_id: {e}")))?;
        let request_payment = provider
            .request_payment(&order.appid, &prepay_id)
            .map_err(map_provider_error)?;
        Ok(PayOutcome::Jsapi {
            request_payment,
            prepay_expires_at: expires_at,
        })
    };

    // A session claims an unbound order before anything is sent to WeChat, atomically: of two
    // users racing for it, the loser gets 403 without creating a prepay in its name.
    let bound = match (session, &order.payer_openid) {
        (Some(me), None) => Some(
            state
                .store()
                .orders()
                .bind_payer(&tenant.id, &order.id, me)
                .await?,
        ),
        _ => None,
    };
    if let (Some(stored), Some(expires_at)) = (
        reusable_prepay(&order, trade_type, now),
        order.prepay_expires_at,
    ) {
        return match trade_type {
            OrderTradeType::Jsapi => sign(stored, expires_at),
            OrderTradeType::Native => Ok(PayOutcome::Native {
                code_url: stored.to_owned(),
                prepay_expires_at: expires_at,
            }),
        };
    }

    let provider_trade_type = match (trade_type, &payer) {
        (OrderTradeType::Jsapi, Some(openid)) => TradeType::Jsapi {
            payer: openid.clone(),
        },
        (OrderTradeType::Jsapi, None) => {
            return Err(ApiError::invalid_field(
                "payer_openid",
                "a JSAPI payment needs a payer: pay with a session or set payer_openid",
            ));
        }
        (OrderTradeType::Native, _) => TradeType::Native,
    };
    let notify_url = state
        .settings()
        .payment_notify_url(&channel.id)
        .ok_or(ApiError::Payment(PaymentError::PaymentsNotConfigured))?;
    let ip = client_ip.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let prepay = provider
        .create_payment(CreatePayment {
            appid: order.appid.clone(),
            out_trade_no: order.out_trade_no.clone(),
            description: order.description.clone(),
            amount: order.amount,
            attach: order.attach.clone(),
            trade_type: provider_trade_type,
            payer_client_ip: ip,
            time_expire: order.expires_at,
            notify_url,
        })
        .await
        .map_err(map_provider_error)?;
    let (prepay_id, code_url, expires_at) = match prepay {
        Prepay::Jsapi {
            prepay_id,
            expires_at,
        } => (Some(prepay_id.as_str().to_owned()), None, expires_at),
        Prepay::Native {
            code_url,
            expires_at,
        } => (None, Some(code_url), expires_at),
    };
    let stored = paygate_store::Prepay {
        trade_type,
        prepay_id: prepay_id.clone(),
        code_url: code_url.clone(),
        prepay_expires_at: expires_at,
        client_ip: client_ip.map(|ip| ip.to_string()),
    };
    let payer_to_bind = session.or(payer.as_ref());
    // The order as last read (after the binding, if any) lets the store skip re-reading it.
    state
        .store()
        .orders()
        .set_prepay_seen(bound.as_ref().unwrap_or(&order), &stored, payer_to_bind)
        .await?;
    match (prepay_id, code_url) {
        (Some(id), _) => sign(&id, expires_at),
        (None, Some(code_url)) => Ok(PayOutcome::Native {
            code_url,
            prepay_expires_at: expires_at,
        }),
        (None, None) => Err(ApiError::internal("provider returned an empty prepay")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payments::test_fixtures::{now, order};

    fn openid(s: &str) -> OpenId {
        s.parse().unwrap()
    }

    #[test]
    fn payable_states_and_expiry() {
        let code = |o: &Order, at| check_payable(o, at).map_err(|e| e.code());
        let mut o = order();
        for state in [
            OrderState::Created,
            OrderState::Pending,
            OrderState::PayError,
        ] {
            o.state = state;
            assert_eq!(code(&o, now()), Ok(()));
        }
        o.state = OrderState::Closed;
        assert_eq!(code(&o, now()), Err("order_closed"));
        for paid in [
            OrderState::Paid,
            OrderState::PartiallyRefunded,
            OrderState::Refunded,
        ] {
            o.state = paid;
            assert_eq!(code(&o, now()), Err("order_already_paid"));
        }
        o.state = OrderState::Created;
        let expiry = o.expires_at.unwrap();
        assert_eq!(code(&o, expiry), Err("order_expired"));
        assert_eq!(code(&o, expiry - Duration::seconds(1)), Ok(()));
    }

    #[test]
    fn the_payer_is_the_session_or_the_bound_openid() {
        let mut o = order();
        let alice = openid("o_alice_0000000000000000000");
        let bob = openid("o_bob_00000000000000000000");
        assert_eq!(resolve_payer(&o, None).unwrap(), None);
        assert_eq!(
            resolve_payer(&o, Some(&alice)).unwrap(),
            Some(alice.clone())
        );
        o.payer_openid = Some(alice.clone());
        assert_eq!(resolve_payer(&o, None).unwrap(), Some(alice.clone()));
        assert_eq!(
            resolve_payer(&o, Some(&alice)).unwrap(),
            Some(alice.clone())
        );
        assert_eq!(
            resolve_payer(&o, Some(&bob)).unwrap_err().code(),
            "order_not_yours"
        );
    }

    #[test]
    fn a_prepay_is_reused_only_while_valid_and_of_the_same_type() {
        let mut o = order();
        o.state = OrderState::Pending;
        o.prepay_id = Some("wx201410272009395522657a690389285100".into());
        o.prepay_expires_at = Some(now() + Duration::hours(2));
        assert!(reusable_prepay(&o, OrderTradeType::Jsapi, now()).is_some());
        assert!(reusable_prepay(&o, OrderTradeType::Native, now()).is_none());
        let near_end = now() + Duration::hours(2) - PREPAY_REUSE_MARGIN;
        assert!(reusable_prepay(&o, OrderTradeType::Jsapi, near_end).is_none());
        o.state = OrderState::PayError;
        assert!(reusable_prepay(&o, OrderTradeType::Jsapi, now()).is_none());
        o.state = OrderState::Pending;
        o.prepay_expires_at = None;
        assert!(reusable_prepay(&o, OrderTradeType::Jsapi, now()).is_none());
    }
}
