//! A verified payment notification applied in one statement (`Orders::plan_notified` and
//! `Orders::apply_notified`, PostgreSQL only): it commits the notification, the transition,
//! its history row and its event together, and only when the row it moved is exactly the
//! order the event was built from; otherwise it leaves nothing behind.

use paygate_core::{Clock, OrderId, OrderState};
use paygate_store::{Backend, NotifiedTransition, Order, OrderChange, Page};
use time::macros::datetime;

use crate::fixtures::{self, Shop, payment_notification};
use crate::harness::Ctx;

fn paid() -> OrderChange {
    OrderChange {
        cause: "notify".into(),
        transaction_id: Some("4200000077".into()),
        paid_at: Some(datetime!(2026-03-01 07:59:30.123 UTC)),
        payer_openid: None,
    }
}

/// Order `id` as stored now, and the plan to move it to `PAID` (`None` on SQLite).
async fn plan_paid(ctx: &Ctx, shop: &Shop, id: &OrderId) -> (Order, Option<NotifiedTransition>) {
    let orders = ctx.store.orders();
    let seen = orders.get(&shop.tenant, id).await.unwrap().order;
    let plan = orders
        .plan_notified(&seen, OrderState::Paid, &paid())
        .expect("a legal transition");
    (seen, plan)
}

/// Carries out `plan` with a new notification keyed `key` and a `payment.succeeded` event
/// carrying `payload`: whether it committed.
async fn apply(
    ctx: &Ctx,
    shop: &Shop,
    plan: &NotifiedTransition,
    key: &str,
    payload: &serde_json::Value,
) -> bool {
    ctx.store
        .orders()
        .apply_notified(
            plan,
            &payment_notification(shop, key),
            "payment.succeeded",
            payload,
        )
        .await
        .unwrap()
}

/// What the shop has stored: notifications, events, and the order's history length.
async fn stored(ctx: &Ctx, shop: &Shop, id: &OrderId) -> (usize, usize, usize) {
    let activity = ctx.store.activity();
    let page = Page::first();
    let notes = activity.notifications(&shop.tenant, &page).await.unwrap();
    let events = activity.events(&shop.tenant, &page).await.unwrap();
    let detail = ctx.store.orders().get(&shop.tenant, id).await.unwrap();
    (notes.data.len(), events.data.len(), detail.history.len())
}

pub async fn notified_transitions_commit_whole_or_not_at_all(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let orders = ctx.store.orders();
    let t = &shop.tenant;
    let id = fixtures::order(&ctx, &shop, "N20260301001", 100).await;
    let (seen, plan) = plan_paid(&ctx, &shop, &id).await;
    let Some(plan) = plan else {
        // SQLite has no round trips to save: the general path always decides there.
        assert_eq!(ctx.backend(), Backend::Sqlite);
        return;
    };
    assert_eq!(ctx.backend(), Backend::Postgres);
    // The order as the compare-and-set will write it, to the millisecond.
    assert_eq!(plan.after.state, OrderState::Paid);
    assert_eq!(plan.after.paid_at, paid().paid_at);
    assert_eq!(plan.after.transaction_id.as_deref(), Some("4200000077"));
    assert_eq!(
        plan.after.updated_at.unix_timestamp(),
        ctx.clock.now().unix_timestamp()
    );
    assert_eq!(plan.after.payer_openid, seen.payer_openid);
    let payload = serde_json::json!({ "id": id.as_str(), "state": "PAID" });

    // Another column changed since the copy was read: the row moves, but not to what the
    // event says, so the statement is rolled back, the notification included.
    ctx.exec(&format!(
        "UPDATE orders SET description = 'Tea' WHERE id = '{}'",
        id.as_str()
    ))
    .await
    .unwrap();
    assert!(!apply(&ctx, &shop, &plan, "evt-1", &payload).await);
    assert_eq!(stored(&ctx, &shop, &id).await, (0, 0, 0));
    assert_eq!(
        orders.get(t, &id).await.unwrap().order.state,
        OrderState::Created
    );

    // On a current copy everything commits together.
    let plan = plan_paid(&ctx, &shop, &id).await.1.unwrap();
    assert!(apply(&ctx, &shop, &plan, "evt-1", &payload).await);
    let detail = orders.get(t, &id).await.unwrap();
    assert_eq!(detail.order, plan.after);
    let step = detail.history.last().unwrap();
    assert_eq!(
        (step.from, step.to, step.cause.as_str()),
        (OrderState::Created, OrderState::Paid, "notify")
    );
    let activity = ctx.store.activity();
    let notes = activity
        .notifications(t, &Page::first())
        .await
        .unwrap()
        .data;
    assert_eq!(notes.len(), 1);
    assert_eq!(
        (notes[0].dedupe_key.as_str(), notes[0].outcome.as_str()),
        ("evt-1", "applied")
    );
    let body = ctx
        .text("SELECT convert_from(raw_body, 'UTF8') FROM notifications")
        .await;
    assert_eq!(body, "<xml>body</xml>");
    let events = activity.events(t, &Page::first()).await.unwrap().data;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].event_type.as_str(), &events[0].payload),
        ("payment.succeeded", &payload)
    );
    let event_order = ctx.text("SELECT order_id FROM events").await;
    assert_eq!(event_order, id.as_str());

    // The same plan again: the notification is a duplicate, so nothing is written.
    assert!(!apply(&ctx, &shop, &plan, "evt-1", &payload).await);
    // A new notification on a copy whose state has moved on: the compare-and-set matches
    // nothing, and the notification it stored is rolled back with it.
    assert!(!apply(&ctx, &shop, &plan, "evt-2", &payload).await);
    assert_eq!(stored(&ctx, &shop, &id).await, (1, 1, 1));
    assert_eq!(orders.get(t, &id).await.unwrap().order, plan.after);

    // A duplicate notification never moves an order, even one the compare-and-set would.
    let other = fixtures::order(&ctx, &shop, "N20260301002", 200).await;
    let (seen, plan) = plan_paid(&ctx, &shop, &other).await;
    let plan = plan.unwrap();
    assert!(!apply(&ctx, &shop, &plan, "evt-1", &payload).await);
    assert_eq!(orders.get(t, &other).await.unwrap().order, seen);
    assert_eq!(stored(&ctx, &shop, &other).await, (1, 1, 0));
}
