//! The reconciliation worker: repairs what lost or late notifications leave behind.
//!
//! Each run claims (in the store, so concurrent instances split the work) orders that are
//! `PENDING` for longer than `pending_age` and orders past their `expires_at`, and refunds
//! that are `PROCESSING` for longer than `pending_age`; a claim lasts `pending_age`, so each
//! row is queried at most once per `pending_age` whatever the number of instances. Stale orders are queried upstream and
//! converged; expired ones are closed upstream, then locally with `order.closed` — unless
//! WeChat says the order was paid meanwhile, which is queried and converged instead. Every
//! state change goes through [`converge`](crate::payments::converge). This module must never
//! close an order locally that WeChat may still accept payment for. A `PROCESSING` refund
//! WeChat does not know (its request never arrived) is sent again with the same
//! `out_refund_no`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use paygate_core::{
    OrderState, OutRefundNo, PaymentRef, Provider, ProviderError, ProviderRegistry, RefundRequest,
    RefundState, RefundStatus,
};
use paygate_store::{Channel, Order, Store, StoreError};
use tokio::task::JoinHandle;

use crate::payments::channel::{ChannelProviderError, channel_provider};
use crate::payments::converge::{
    ConvergeError, ConvergeOutcome, RefundTarget, apply_payment_status, apply_refund_status,
    close_locally,
};
use crate::state::AppState;

/// How the worker runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReconcileSettings {
    /// Time between runs.
    pub interval: Duration,
    /// A `PENDING` order (or `PROCESSING` refund) untouched this long is queried upstream.
    pub pending_age: Duration,
    /// At most this many orders and this many refunds per run.
    pub batch: u32,
}

impl Default for ReconcileSettings {
    fn default() -> Self {
        ReconcileSettings {
            interval: Duration::from_secs(60),
            pending_age: Duration::from_secs(300),
            batch: 100,
        }
    }
}

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Orders claimed (stale or expired).
    pub orders: usize,
    /// Orders whose state changed.
    pub orders_changed: usize,
    /// Orders closed on expiry.
    pub closed: usize,
    /// Refunds claimed.
    pub refunds: usize,
    /// Refunds whose state changed.
    pub refunds_changed: usize,
    /// Rows left for a later run because a call or a write failed.
    pub errors: usize,
}

#[derive(Debug, thiserror::Error)]
enum StepError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Converge(#[from] ConvergeError),
    /// Without `public_url` a refund cannot be sent again (WeChat requires a notify URL).
    #[error("no public_url: a refund cannot be sent again")]
    NoNotifyUrl,
}

impl StepError {
    fn code(&self) -> &'static str {
        match self {
            StepError::Store(e) => e.code(),
            StepError::Provider(e) => e.code(),
            StepError::Converge(e) => e.code(),
            StepError::NoNotifyUrl => "payments_not_configured",
        }
    }
}

/// One reconciliation pass at the state's `clock.now()`.
pub async fn run_once(state: &AppState, settings: &ReconcileSettings) -> ReconcileReport {
    let (store, registry) = (state.store(), state.registry());
    let mut report = ReconcileReport::default();
    let now = state.clock().now();
    let age = time::Duration::try_from(settings.pending_age).unwrap_or(time::Duration::MAX);
    // Claims are never released early: releasing would let another instance, whose claim
    // ran just after this one's work, query the same order again. So a row is looked at
    // (by any instance) at most once per `pending_age`, and a dead instance's claims lapse.
    let claim_for = age;
    match store
        .orders()
        .claim_stale(now, age, settings.batch, claim_for)
        .await
    {
        Ok(orders) => {
            report.orders = orders.len();
            for order in orders {
                let expired = order.expires_at.is_some_and(|at| at < now)
                    && matches!(order.state, OrderState::Created | OrderState::Pending);
                match reconcile_order(store, registry, &order, expired).await {
                    Ok(outcome) => {
                        count_alert(state, &outcome);
                        report.orders_changed += usize::from(changed(&outcome));
                        report.closed += usize::from(matches!(
                            outcome,
                            ConvergeOutcome::Transitioned { to, .. }
                                if to == OrderState::Closed.as_str()
                        ));
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(order_id = %order.id, code = e.code(), error = %e,
                            "reconcile: order left for a later run");
                    }
                }
            }
        }
        Err(e) => {
            report.errors += 1;
            tracing::error!(code = e.code(), error = %e, "reconcile: claiming orders failed");
        }
    }
    match store
        .refunds()
        .claim_processing(now, age, settings.batch, claim_for)
        .await
    {
        Ok(refunds) => {
            report.refunds = refunds.len();
            for refund in refunds {
                match reconcile_refund(state, refund.clone()).await {
                    Ok(outcome) => {
                        count_alert(state, &outcome);
                        report.refunds_changed += usize::from(changed(&outcome));
                    }
                    Err(e) => {
                        report.errors += 1;
                        tracing::warn!(refund_id = %refund.id, code = e.code(), error = %e,
                            "reconcile: refund left for a later run");
                    }
                }
            }
        }
        Err(e) => {
            report.errors += 1;
            tracing::error!(code = e.code(), error = %e, "reconcile: claiming refunds failed");
        }
    }
    if report != ReconcileReport::default() {
        tracing::info!(?report, "reconcile run");
    }
    report
}

/// How many of a channel's pending orders one unverifiable notification may have queried.
pub const SUSPECT_QUERY_LIMIT: u32 = 10;

/// Queries WeChat for the newest pending orders of `channel` and converges them now, without
/// waiting for `pending_age`. Called (rate-limited per channel) when a payment notification
/// on that channel fails verification: its body cannot be trusted to say which order it is
/// about, but if a real payment's notification was garbled or signed with a key we no longer
/// hold, the order it paid is among these, and the query — a call we sign and WeChat
/// answers — learns the truth. Returns how many orders changed state.
pub async fn query_pending_of_channel(state: &AppState, channel: &paygate_store::Channel) -> u64 {
    let filter = paygate_store::OrderFilter {
        state: Some(paygate_core::OrderState::Pending),
        channel_id: Some(channel.id.clone()),
        ..paygate_store::OrderFilter::default()
    };
    let page = paygate_store::Page::new(Some(SUSPECT_QUERY_LIMIT), None);
    let orders = match state
        .store()
        .orders()
        .list(&channel.tenant_id, &filter, &page)
        .await
    {
        Ok(paged) => paged.data,
        Err(e) => {
            tracing::error!(error = %e, code = e.code(), "suspect query: listing pending orders failed");
            return 0;
        }
    };
    let mut changed = 0;
    for order in &orders {
        match reconcile_order(state.store(), state.registry(), order, false).await {
            Ok(outcome) => {
                count_alert(state, &outcome);
                if matches!(outcome, ConvergeOutcome::Transitioned { .. }) {
                    changed += 1;
                }
            }
            Err(e) => {
                tracing::warn!(order_id = %order.id, error = %e, "suspect query failed");
            }
        }
    }
    changed
}

async fn provider_of(
    store: &Store,
    registry: &ProviderRegistry,
    order: &Order,
) -> Result<(Channel, Arc<dyn Provider>), StepError> {
    channel_provider(store, registry, &order.tenant_id, &order.channel_id)
        .await
        .map_err(|e| match e {
            ChannelProviderError::Store(e) => StepError::Store(e),
            ChannelProviderError::Provider(e) => StepError::Provider(e),
        })
}

async fn reconcile_order(
    store: &Store,
    registry: &ProviderRegistry,
    order: &Order,
    expired: bool,
) -> Result<ConvergeOutcome, StepError> {
    let (channel, provider) = provider_of(store, registry, order).await?;
    if expired {
        match provider.close_payment(&order.out_trade_no).await {
            // Unknown upstream (no prepay was ever made) is as closed as it gets.
            Ok(()) | Err(ProviderError::OrderClosed | ProviderError::OrderNotFound) => {
                return Ok(close_locally(store, order, "expired").await?);
            }
            // Paid after all: fall through to the query, which converges to PAID.
            Err(ProviderError::OrderPaid) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let by = PaymentRef::OutTradeNo(order.out_trade_no.clone());
    let status = match provider.query_payment(&by).await {
        Ok(status) => status,
        // WeChat never saw a prepay for it: nothing to converge.
        Err(ProviderError::OrderNotFound) => return Ok(ConvergeOutcome::Unchanged),
        Err(e) => return Err(e.into()),
    };
    Ok(apply_payment_status(store, order, &channel, &status, "reconcile", None).await?)
}

async fn reconcile_refund(
    state: &AppState,
    refund: paygate_store::Refund,
) -> Result<ConvergeOutcome, StepError> {
    let store = state.store();
    let order = store
        .orders()
        .get_order(&refund.tenant_id, &refund.order_id)
        .await?;
    let (_, provider) = provider_of(store, state.registry(), &order).await?;
    let out_refund_no: OutRefundNo = refund
        .out_refund_no
        .parse()
        .map_err(|_| StoreError::Corrupt(format!("refunds.out_refund_no {}", refund.id)))?;
    let status = match provider.query_refund(&out_refund_no).await {
        Ok(status) => status,
        Err(ProviderError::RefundNotFound) => {
            resubmit(state, provider.as_ref(), &order, &refund, out_refund_no).await?
        }
        Err(e) => return Err(e.into()),
    };
    let target = RefundTarget { order, refund };
    Ok(apply_refund_status(store, &target, &status, "reconcile", None).await?)
}

/// A PROCESSING refund WeChat has never heard of: its request was lost or timed out before it
/// arrived. It is sent again with the same `out_refund_no` (WeChat's idempotency key, so a
/// first request that arrives after all is not refunded twice); a definite refusal closes
/// it, which releases its amount.
async fn resubmit(
    state: &AppState,
    provider: &dyn Provider,
    order: &Order,
    refund: &paygate_store::Refund,
    out_refund_no: OutRefundNo,
) -> Result<RefundStatus, StepError> {
    let notify_url = state
        .settings()
        .refund_notify_url(&order.channel_id)
        .ok_or(StepError::NoNotifyUrl)?;
    let request = RefundRequest {
        out_trade_no: order.out_trade_no.clone(),
        out_refund_no: out_refund_no.clone(),
        total: order.amount,
        refund: refund.amount,
        reason: refund.reason.clone(),
        notify_url,
    };
    tracing::info!(refund_id = %refund.id, "reconcile: refund unknown upstream, sent again");
    match provider.refund(request).await {
        Ok(status) => Ok(status),
        Err(
            e @ (ProviderError::RateLimited { .. }
            | ProviderError::Unavailable { .. }
            | ProviderError::Transport(_)
            | ProviderError::Verification(_)
            | ProviderError::Malformed(_)),
        ) => Err(e.into()),
        Err(e) => {
            tracing::warn!(refund_id = %refund.id, code = e.code(),
                "reconcile: WeChat refused the refund sent again; closing it");
            Ok(RefundStatus {
                out_refund_no,
                refund_id: None,
                out_trade_no: Some(order.out_trade_no.clone()),
                transaction_id: None,
                state: RefundState::Closed,
                refund: None,
                total: None,
                success_time: None,
            })
        }
    }
}

fn changed(outcome: &ConvergeOutcome) -> bool {
    matches!(outcome, ConvergeOutcome::Transitioned { .. })
}

fn count_alert(state: &AppState, outcome: &ConvergeOutcome) {
    if let ConvergeOutcome::Alerted { kind } = outcome {
        state.metrics().count_alert(kind);
    }
}

/// Runs [`run_once`] every `settings.interval` until `shutdown` completes. A run in progress
/// finishes first (its claims keep other instances off its rows).
pub fn spawn(
    state: AppState,
    settings: ReconcileSettings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(settings.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = ticks.tick() => {
                    run_once(&state, &settings).await;
                }
            }
        }
    })
}
