//! Handling one WeChat notification, without HTTP: find the channel, verify with its
//! credentials (falling back to older, non-retired versions during a key rollover), find what
//! it is about within the channel's tenant, converge, and say what to reply.
//!
//! The reply is "done" only after the effect — a state change, or an alert about a mismatch —
//! is committed together with the notification's dedupe row; anything else is the provider's
//! retry reply, so WeChat sends again. An unverifiable notification stores nothing but a
//! rate-limited alert, and (as rate-limited) queries WeChat for the channel's pending orders:
//! the query, not the body, decides. This module must never trust an unverified body, and never look up an
//! order outside the tenant that owns the channel the notification arrived on.

use std::sync::Arc;

use paygate_core::{
    ChannelId, ChannelSpec, HttpReply, Notification, NotificationKind, NotificationOutcome,
    NotificationRequest, Provider, ProviderError,
};
use paygate_store::{
    AlertSeverity, Channel, NewAlert, NewNotification, NotificationKind as StoredKind, Recorded,
    StoreError,
};

use super::converge::{
    ConvergeError, ConvergeOutcome, RefundTarget, alert_kind, apply_payment_status,
    apply_refund_status,
};
use crate::state::AppState;

/// What the HTTP layer must answer.
#[derive(Debug)]
pub enum Handled {
    /// No channel of that id: a provider-neutral 404.
    UnknownChannel,
    /// The provider's reply, verbatim.
    Reply(HttpReply),
}

/// Handles one notification that arrived at `/notify/{channel_id}/{kind}`.
pub async fn handle(
    state: &AppState,
    channel_id: &ChannelId,
    kind: NotificationKind,
    request: &NotificationRequest,
) -> Handled {
    let label = match kind {
        NotificationKind::Payment => "payment",
        NotificationKind::Refund => "refund",
    };
    let channel = match state.store().channels().find(channel_id).await {
        Ok(channel) => channel,
        Err(StoreError::NotFound { .. }) => {
            state.metrics().count_notification(label, "unknown_channel");
            return Handled::UnknownChannel;
        }
        Err(e) => {
            tracing::error!(error = %e, code = e.code(), "notification: channel lookup failed");
            state.metrics().count_notification(label, "error");
            return Handled::Reply(unavailable());
        }
    };
    let (provider, result) = verify(state, &channel, kind, request).await;
    let Some(provider) = provider else {
        state.metrics().count_notification(label, "error");
        return Handled::Reply(unavailable());
    };
    let notification = match result {
        Ok(n) => n,
        Err(e) => {
            unverified(state, &channel, label, &e).await;
            return Handled::Reply(provider.notification_reply(&retry("not verified")));
        }
    };
    let outcome = match notification {
        Notification::Payment(ev) => payment(state, &channel, request, ev).await,
        Notification::Refund(ev) => refund(state, &channel, request, ev).await,
    };
    match outcome {
        Ok(done) => {
            state.metrics().count_notification(label, done.label());
            if let ConvergeOutcome::Alerted { kind } = done {
                state.metrics().count_alert(kind);
            }
            Handled::Reply(provider.notification_reply(&NotificationOutcome::Done))
        }
        Err(e) => {
            tracing::error!(error = %e, code = e.code(), channel_id = %channel.id,
                "notification not committed; WeChat will retry");
            state.metrics().count_notification(label, "error");
            Handled::Reply(provider.notification_reply(&retry("not committed")))
        }
    }
}

fn retry(message: &str) -> NotificationOutcome {
    NotificationOutcome::Retry {
        message: message.to_owned(),
    }
}

/// Without a provider there is no protocol-correct body; any non-2xx makes WeChat retry.
fn unavailable() -> HttpReply {
    HttpReply {
        status: 503,
        content_type: "text/plain; charset=utf-8",
        body: b"temporarily unavailable".to_vec(),
    }
}

/// Parses with the current credentials; on a verification failure, with each older version
/// not yet retired (newest first). Returns the current version's provider for the reply.
async fn verify(
    state: &AppState,
    channel: &Channel,
    kind: NotificationKind,
    request: &NotificationRequest,
) -> (
    Option<Arc<dyn Provider>>,
    Result<Notification, ProviderError>,
) {
    // Usually the current version's provider is built already: verify with it without reading
    // or decrypting any credentials. Only a signature failure takes the rollover path below
    // (which tries the current version again, then the older ones).
    if let Some(provider) = state
        .registry()
        .cached(&channel.id, channel.current_version)
    {
        match provider.parse_notification(kind, request).await {
            Ok(n) => return (Some(provider), Ok(n)),
            Err(ProviderError::Verification(_)) => {}
            Err(e) => return (Some(provider), Err(e)),
        }
    }
    let store = state.store();
    let versions = match store
        .channels()
        .all_credentials(&channel.tenant_id, &channel.id)
        .await
    {
        Ok(v) => v,
        Err(e) => {
            tracing::error!(error = %e, code = e.code(), "notification: credentials unreadable");
            return (None, Err(ProviderError::Credentials(e.code().to_owned())));
        }
    };
    let mut current: Option<Arc<dyn Provider>> = None;
    let mut first_error = None;
    for (version, credentials) in versions {
        let spec = ChannelSpec {
            channel_id: channel.id.clone(),
            kind: channel.kind,
            mch_id: channel.mch_id.clone(),
            credentials_version: version,
            credentials,
        };
        let provider = match state.registry().provider(&spec) {
            Ok(p) => p,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        let reply_with = current.get_or_insert_with(|| provider.clone()).clone();
        match provider.parse_notification(kind, request).await {
            Ok(n) => return (Some(reply_with), Ok(n)),
            Err(e @ ProviderError::Verification(_)) => {
                first_error.get_or_insert(e);
            }
            // Anything but a signature failure will not get better with another key.
            Err(e) => return (Some(reply_with), Err(first_error.unwrap_or(e))),
        }
    }
    let error = first_error.unwrap_or(ProviderError::Unsupported("no credentials"));
    (current, Err(error))
}

/// Alerts about an unverifiable notification, at most once per channel per window.
async fn unverified(state: &AppState, channel: &Channel, label: &'static str, e: &ProviderError) {
    state.metrics().count_notification(label, "unverified");
    if !state.notify_limits().allow_alert(channel.id.as_str()) {
        return;
    }
    let kind = alert_kind::UNVERIFIED_NOTIFICATION;
    tracing::warn!(alert = kind, channel_id = %channel.id, code = e.code(),
        "a {label} notification failed verification");
    let alert = NewAlert {
        tenant_id: Some(channel.tenant_id.clone()),
        kind: kind.to_owned(),
        severity: AlertSeverity::Warning,
        message: format!("a {label} notification failed verification ({})", e.code()),
        details: serde_json::json!({ "channel_id": channel.id.as_str(), "error": e.code() }),
        dedupe_key: None,
    };
    let raised = async {
        let mut tx = state.store().begin().await?;
        tx.raise_alert(&alert).await?;
        tx.commit().await
    };
    match raised.await {
        Ok(()) => state.metrics().count_alert(kind),
        Err(e) => tracing::error!(error = %e, code = e.code(), "could not store an alert"),
    }
    // Within the same per-channel window, ask WeChat instead of trusting the body.
    if label == "payment" {
        let changed = crate::workers::reconcile::query_pending_of_channel(state, channel).await;
        if changed > 0 {
            tracing::info!(channel_id = %channel.id, changed,
                "pending orders converged by query after an unverifiable notification");
        }
    }
}

fn record(
    channel: &Channel,
    kind: StoredKind,
    event_id: &str,
    request: &NotificationRequest,
) -> NewNotification {
    NewNotification {
        tenant_id: channel.tenant_id.clone(),
        channel_id: channel.id.clone(),
        kind,
        dedupe_key: event_id.to_owned(),
        verified: true,
        outcome: "received".to_owned(),
        raw_body: request.body.clone(),
    }
}

async fn payment(
    state: &AppState,
    channel: &Channel,
    request: &NotificationRequest,
    ev: paygate_core::PaymentEvent,
) -> Result<ConvergeOutcome, ConvergeError> {
    let store = state.store();
    let new = record(channel, StoredKind::Payment, &ev.event_id, request);
    let out_trade_no = &ev.payment.out_trade_no;
    match store
        .orders()
        .find_by_out_trade_no(&channel.tenant_id, out_trade_no)
        .await?
    {
        Some(order) => {
            apply_payment_status(store, &order, channel, &ev.payment, "notify", Some(&new)).await
        }
        None => {
            let message = format!("payment notification for unknown out_trade_no {out_trade_no}");
            unknown(state, channel, &new, alert_kind::UNKNOWN_ORDER, message).await
        }
    }
}

async fn refund(
    state: &AppState,
    channel: &Channel,
    request: &NotificationRequest,
    ev: paygate_core::RefundEvent,
) -> Result<ConvergeOutcome, ConvergeError> {
    let store = state.store();
    let new = record(channel, StoredKind::Refund, &ev.event_id, request);
    if ev.mch_id != channel.mch_id {
        let message = format!("refund notification names mch_id {}", ev.mch_id.as_str());
        return unknown(state, channel, &new, alert_kind::MCHID_MISMATCH, message).await;
    }
    let out_refund_no = &ev.refund.out_refund_no;
    let Some(refund) = store
        .refunds()
        .find_by_out_refund_no(&channel.tenant_id, out_refund_no)
        .await?
    else {
        let message = format!("refund notification for unknown out_refund_no {out_refund_no}");
        return unknown(state, channel, &new, alert_kind::UNKNOWN_REFUND, message).await;
    };
    let order = store
        .orders()
        .get_order(&channel.tenant_id, &refund.order_id)
        .await?;
    let target = RefundTarget { order, refund };
    apply_refund_status(store, &target, &ev.refund, "notify", Some(&new)).await
}

/// Commits the notification's dedupe row with an alert: WeChat is acknowledged (its retries
/// would change nothing) and later deliveries of the same event raise nothing more.
async fn unknown(
    state: &AppState,
    channel: &Channel,
    new: &NewNotification,
    kind: &'static str,
    message: String,
) -> Result<ConvergeOutcome, ConvergeError> {
    let mut tx = state.store().begin().await?;
    if tx.record_notification(new).await? == Recorded::Duplicate {
        return Ok(ConvergeOutcome::Duplicate);
    }
    tracing::warn!(alert = kind, channel_id = %channel.id, "{message}");
    tx.raise_alert(&NewAlert {
        tenant_id: Some(channel.tenant_id.clone()),
        kind: kind.to_owned(),
        severity: AlertSeverity::Critical,
        message,
        details: serde_json::json!({ "channel_id": channel.id.as_str() }),
        // Deduplicated by the notification's own key, recorded above.
        dedupe_key: None,
    })
    .await?;
    tx.commit().await?;
    Ok(ConvergeOutcome::Alerted { kind })
}
