//! Reconciliation claims: the right rows, each to one claimer at a time, claimable again once
//! the claim expires or is released.

use std::collections::HashSet;

use paygate_core::{Clock, OrderId, OrderState, RefundState};
use paygate_store::{NewRefund, RefundChange, RefundCreated};
use time::Duration;

use crate::fixtures;
use crate::harness::Ctx;

fn ids(orders: &[paygate_store::Order]) -> HashSet<OrderId> {
    orders.iter().map(|o| o.id.clone()).collect()
}

pub async fn stale_orders_are_claimed_once(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let orders = ctx.store.orders();
    let t = &shop.tenant;
    let t0 = ctx.clock.now();
    let pending = fixtures::order(&ctx, &shop, "T000001", 100).await;
    orders
        .transition(
            t,
            &pending,
            OrderState::Created,
            OrderState::Pending,
            "prepay",
        )
        .await
        .expect("pending");
    let mut expiring = fixtures::new_order(&shop, "T000002", 100);
    expiring.expires_at = Some(t0 + Duration::minutes(10));
    let expiring = orders
        .create(&ctx.audit(), t, &expiring)
        .await
        .expect("T000002")
        .id;
    let _fresh_created = fixtures::order(&ctx, &shop, "T000003", 100).await;
    let paid = fixtures::order(&ctx, &shop, "T000004", 100).await;
    orders
        .transition(t, &paid, OrderState::Created, OrderState::Paid, "notify")
        .await
        .expect("paid");

    let (age, lease) = (Duration::minutes(2), Duration::minutes(1));
    assert!(
        orders
            .claim_stale(ctx.clock.now(), age, 10, lease)
            .await
            .expect("c")
            .is_empty()
    );
    ctx.clock.advance(Duration::minutes(5));
    let now = ctx.clock.now();
    let first = orders
        .claim_stale(now, age, 10, lease)
        .await
        .expect("claim");
    assert_eq!(ids(&first), HashSet::from([pending.clone()]));
    let again = orders
        .claim_stale(now, age, 10, lease)
        .await
        .expect("claim");
    assert!(again.is_empty(), "a live claim is not handed out twice");

    // Past expires_at (CREATED) and past the lease (the PENDING one) both come back.
    ctx.clock.advance(Duration::minutes(6));
    let now = ctx.clock.now();
    let second = orders
        .claim_stale(now, age, 10, lease)
        .await
        .expect("claim");
    assert_eq!(
        ids(&second),
        HashSet::from([pending.clone(), expiring.clone()])
    );
    orders.release_claim(t, &pending).await.expect("release");
    let third = orders.claim_stale(now, age, 1, lease).await.expect("claim");
    assert_eq!(ids(&third), HashSet::from([pending.clone()]));
    // Claims change neither state nor updated_at.
    let detail = orders.get(t, &pending).await.expect("get").order;
    assert_eq!((detail.state, detail.updated_at), (OrderState::Pending, t0));

    // Concurrent claimers never share a row.
    for i in 0..20 {
        let id = fixtures::order(&ctx, &shop, &format!("C0000{i:02}"), 100).await;
        orders
            .transition(t, &id, OrderState::Created, OrderState::Pending, "prepay")
            .await
            .expect("pending");
    }
    ctx.clock.advance(Duration::minutes(5));
    let now = ctx.clock.now();
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = ctx.store.clone();
            tokio::spawn(async move { store.orders().claim_stale(now, age, 6, lease).await })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        let claimed = task.await.expect("join").expect("claim");
        total += claimed.len();
        for o in claimed {
            assert!(seen.insert(o.id.clone()), "{} claimed twice", o.id);
        }
    }
    // 20 new + 2 old (their lease lapsed) claimable rows; 4 × 6 slots.
    assert_eq!(total, 22);
    assert!(!seen.contains(&paid));
}

pub async fn processing_refunds_are_claimed_once(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let t = &shop.tenant;
    let order = fixtures::order(&ctx, &shop, "T000001", 100).await;
    ctx.store
        .orders()
        .transition(t, &order, OrderState::Created, OrderState::Paid, "notify")
        .await
        .expect("paid");
    let mut refunds = Vec::new();
    for no in ["R000001", "R000002"] {
        let mut tx = ctx.store.begin().await.expect("begin");
        let new = NewRefund {
            out_refund_no: no.parse().expect("no"),
            amount: paygate_core::Money::from_fen(10).expect("amount"),
            reason: None,
        };
        let created = tx
            .create_refund(&ctx.audit(), t, &order, &new)
            .await
            .expect("refund");
        tx.commit().await.expect("commit");
        let RefundCreated::New(r) = created else {
            panic!("new")
        };
        refunds.push(r.id);
    }
    let mut tx = ctx.store.begin().await.expect("begin");
    tx.transition_refund(
        t,
        &refunds[1],
        RefundState::Success,
        &RefundChange::default(),
    )
    .await
    .expect("success");
    tx.commit().await.expect("commit");

    let repo = ctx.store.refunds();
    let (age, lease) = (Duration::minutes(2), Duration::minutes(1));
    assert!(
        repo.claim_processing(ctx.clock.now(), age, 10, lease)
            .await
            .expect("c")
            .is_empty()
    );
    ctx.clock.advance(Duration::minutes(3));
    let now = ctx.clock.now();
    let claimed = repo
        .claim_processing(now, age, 10, lease)
        .await
        .expect("claim");
    let got: Vec<_> = claimed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(got, vec![refunds[0].clone()]);
    assert!(
        repo.claim_processing(now, age, 10, lease)
            .await
            .expect("c")
            .is_empty()
    );
    repo.release_claim(t, &refunds[0]).await.expect("release");
    assert_eq!(
        repo.claim_processing(now, age, 10, lease)
            .await
            .expect("c")
            .len(),
        1
    );
    ctx.clock.advance(Duration::minutes(2));
    let lapsed = repo
        .claim_processing(ctx.clock.now(), age, 10, lease)
        .await
        .expect("c");
    assert_eq!(lapsed.len(), 1, "an expired claim is claimable again");
}
