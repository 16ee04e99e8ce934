//! Raw inserts for tables whose writers arrive with later issues (refunds, notifications,
//! events, deliveries, alerts, users). Blob values are copied from an existing app secret,
//! which is the one blob expression both dialects accept.

use paygate_core::{
    AlertId, ChannelId, Clock, DeliveryId, EventId, NotificationId, OrderId, PlatformId,
    RefundRecordId, TenantId,
};
use rand::Rng;

use crate::harness::Ctx;

fn id<T: PlatformId>(ms: i64) -> T {
    T::from_parts(u64::try_from(ms).unwrap_or(0), rand::rng().random())
}

fn now(ctx: &Ctx) -> i64 {
    i64::try_from(ctx.clock.now().unix_timestamp_nanos() / 1_000_000).expect("ms")
}

pub async fn refund(
    ctx: &Ctx,
    tenant: &TenantId,
    order: &OrderId,
    out_refund_no: &str,
    fen: i64,
    state: &str,
) -> RefundRecordId {
    let ms = now(ctx);
    let rid: RefundRecordId = id(ms);
    let succeeded = if state == "SUCCESS" {
        ms.to_string()
    } else {
        "NULL".into()
    };
    ctx.exec(&format!(
        "INSERT INTO refunds (id, tenant_id, order_id, out_refund_no, amount, reason, state, \
         refund_id, created_at, updated_at, succeeded_at) VALUES ('{rid}', '{tenant}', \
         '{order}', '{out_refund_no}', {fen}, NULL, '{state}', NULL, {ms}, {ms}, {succeeded})"
    ))
    .await
    .expect("refund");
    rid
}

pub async fn notification(
    ctx: &Ctx,
    tenant: &TenantId,
    channel: &ChannelId,
    dedupe_key: &str,
) -> Result<NotificationId, paygate_store::StoreError> {
    let ms = now(ctx);
    let nid: NotificationId = id(ms);
    ctx.exec(&format!(
        "INSERT INTO notifications (id, tenant_id, channel_id, kind, dedupe_key, verified, \
         outcome, raw_body, received_at) VALUES ('{nid}', '{tenant}', '{channel}', 'payment', \
         '{dedupe_key}', TRUE, 'applied', (SELECT secret FROM apps LIMIT 1), {ms})"
    ))
    .await?;
    Ok(nid)
}

pub async fn event(ctx: &Ctx, tenant: &TenantId) -> EventId {
    let ms = now(ctx);
    let eid: EventId = id(ms);
    ctx.exec(&format!(
        "INSERT INTO events (id, tenant_id, event_type, payload, created_at) VALUES ('{eid}', \
         '{tenant}', 'order.paid', '{{\"amount\":100}}', {ms})"
    ))
    .await
    .expect("event");
    eid
}

pub async fn delivery(ctx: &Ctx, tenant: &TenantId, event: &EventId, status: &str) -> DeliveryId {
    let ms = now(ctx);
    let did: DeliveryId = id(ms);
    ctx.exec(&format!(
        "INSERT INTO webhook_deliveries (id, tenant_id, event_id, attempt, status, \
         response_status, error, next_attempt_at, created_at) VALUES ('{did}', '{tenant}', \
         '{event}', 1, '{status}', 200, NULL, NULL, {ms})"
    ))
    .await
    .expect("delivery");
    did
}

pub async fn alert(ctx: &Ctx, tenant: Option<&TenantId>, resolved: bool) -> AlertId {
    let ms = now(ctx);
    let aid: AlertId = id(ms);
    let tenant = tenant.map_or("NULL".to_owned(), |t| format!("'{t}'"));
    let resolved = if resolved {
        ms.to_string()
    } else {
        "NULL".into()
    };
    ctx.exec(&format!(
        "INSERT INTO alerts (id, tenant_id, kind, severity, message, details, created_at, \
         resolved_at) VALUES ('{aid}', {tenant}, 'cert_expiring', 'warning', 'soon', \
         '{{\"days\":7}}', {ms}, {resolved})"
    ))
    .await
    .expect("alert");
    aid
}
