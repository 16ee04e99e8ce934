//! Refunds: never more than paid (even under concurrency), idempotent by out_refund_no, and
//! SUCCESS carrying the order to PARTIALLY_REFUNDED / REFUNDED.

use paygate_core::{
    Money, OrderId, OrderState, OutRefundNo, RefundRecordId, RefundState, Transition,
};
use paygate_store::{NewRefund, Page, Refund, RefundChange, RefundCreated, StoreError};
use time::macros::datetime;

use crate::fixtures::{self, Shop};
use crate::harness::Ctx;

fn new_refund(no: &str, fen: i64) -> NewRefund {
    NewRefund {
        out_refund_no: no.parse::<OutRefundNo>().expect("out_refund_no"),
        amount: Money::from_fen(fen).expect("amount"),
        reason: Some("broken cup".into()),
    }
}

async fn paid_order(ctx: &Ctx, shop: &Shop, no: &str, fen: i64) -> OrderId {
    let id = fixtures::order(ctx, shop, no, fen).await;
    ctx.store
        .orders()
        .transition(
            &shop.tenant,
            &id,
            OrderState::Created,
            OrderState::Paid,
            "notify",
        )
        .await
        .expect("paid");
    id
}

async fn create(
    ctx: &Ctx,
    shop: &Shop,
    order: &OrderId,
    no: &str,
    fen: i64,
) -> Result<RefundCreated, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let created = tx
        .create_refund(&ctx.audit(), &shop.tenant, order, &new_refund(no, fen))
        .await?;
    tx.commit().await?;
    Ok(created)
}

fn fresh(created: RefundCreated) -> Refund {
    match created {
        RefundCreated::New(r) => r,
        RefundCreated::Existing(r) => panic!("expected a new refund, got existing {r:?}"),
    }
}

async fn move_refund(
    ctx: &Ctx,
    shop: &Shop,
    id: &RefundRecordId,
    to: RefundState,
    change: &RefundChange,
) -> Result<Transition, StoreError> {
    let mut tx = ctx.store.begin().await?;
    let outcome = tx.transition_refund(&shop.tenant, id, to, change).await?;
    tx.commit().await?;
    Ok(outcome)
}

pub async fn concurrent_refunds_never_exceed_paid(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let order = paid_order(&ctx, &shop, "T000001", 100).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let ctx = ctx.clone();
            let (tenant, order) = (shop.tenant.clone(), order.clone());
            tokio::spawn(async move {
                let mut tx = ctx.store.begin().await?;
                let refund = new_refund(&format!("R0000{i:02}"), 30);
                let created = tx
                    .create_refund(&ctx.audit(), &tenant, &order, &refund)
                    .await?;
                tx.commit().await?;
                Ok::<_, StoreError>(created)
            })
        })
        .collect();
    let (mut ok, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("join") {
            Ok(RefundCreated::New(_)) => ok += 1,
            Err(StoreError::RefundExceedsAvailable { available }) => {
                assert_eq!(available.fen(), 10);
                refused += 1;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, refused), (3, 7));
    let held = ctx
        .scalar("SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds")
        .await;
    assert_eq!(held, 90);
}

pub async fn refund_states_carry_the_order(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let other = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let t = &shop.tenant;
    let unpaid = fixtures::order(&ctx, &shop, "T000000", 100).await;
    let err = create(&ctx, &shop, &unpaid, "R000000", 10)
        .await
        .expect_err("unpaid");
    assert!(
        matches!(
            err,
            StoreError::OrderNotRefundable {
                state: OrderState::Created
            }
        ),
        "{err:?}"
    );
    let order = paid_order(&ctx, &shop, "T000001", 100).await;
    let err = create(&ctx, &shop, &order, "R000000", 0)
        .await
        .expect_err("zero");
    assert_eq!(err.code(), "invalid");
    let err = create(&ctx, &other, &order, "R000000", 10)
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), "not_found");

    let r1 = fresh(
        create(&ctx, &shop, &order, "R000001", 40)
            .await
            .expect("r1"),
    );
    assert_eq!((r1.state, r1.amount.fen()), (RefundState::Processing, 40));
    assert_eq!(r1.reason.as_deref(), Some("broken cup"));
    let again = create(&ctx, &shop, &order, "R000001", 40)
        .await
        .expect("repeat");
    assert_eq!(again, RefundCreated::Existing(r1.clone()));
    let err = create(&ctx, &shop, &order, "R000001", 50)
        .await
        .expect_err("other amount");
    assert!(
        matches!(&err, StoreError::Conflict { constraint } if constraint == "refunds_tenant_out_refund_no_key"),
        "{err:?}"
    );
    let err = create(&ctx, &shop, &order, "R000002", 70)
        .await
        .expect_err("too much");
    assert!(
        matches!(err, StoreError::RefundExceedsAvailable { available } if available.fen() == 60),
        "{err:?}"
    );

    // ABNORMAL releases the amount; the refund can still be closed afterwards.
    let none = RefundChange::default();
    let step = move_refund(&ctx, &shop, &r1.id, RefundState::Abnormal, &none).await;
    assert_eq!(step.expect("abnormal"), Transition::Applied);
    let r2 = fresh(
        create(&ctx, &shop, &order, "R000002", 70)
            .await
            .expect("r2"),
    );
    move_refund(&ctx, &shop, &r1.id, RefundState::Closed, &none)
        .await
        .expect("closed");
    let err = move_refund(&ctx, &shop, &r1.id, RefundState::Success, &none)
        .await
        .expect_err("closed is final");
    assert_eq!(err.code(), "illegal_transition");
    let err = move_refund(&ctx, &other, &r2.id, RefundState::Success, &none)
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), "not_found");

    let done_at = datetime!(2026-03-01 08:30 UTC);
    let success = RefundChange {
        refund_id: Some("50300000001".into()),
        succeeded_at: Some(done_at),
    };
    let step = move_refund(&ctx, &shop, &r2.id, RefundState::Success, &success).await;
    assert_eq!(step.expect("success"), Transition::Applied);
    let step = move_refund(&ctx, &shop, &r2.id, RefundState::Success, &success).await;
    assert_eq!(step.expect("repeat"), Transition::NoOp);
    let err = move_refund(&ctx, &shop, &r2.id, RefundState::Processing, &none)
        .await
        .expect_err("back");
    assert_eq!(err.code(), "illegal_transition");
    let r2 = ctx.store.refunds().get(t, &r2.id).await.expect("get");
    assert_eq!(r2.state, RefundState::Success);
    assert_eq!(
        (r2.refund_id.as_deref(), r2.succeeded_at),
        (Some("50300000001"), Some(done_at))
    );
    let detail = ctx.store.orders().get(t, &order).await.expect("order");
    assert_eq!(
        (detail.order.state, detail.order.refunded_amount.fen()),
        (OrderState::PartiallyRefunded, 70)
    );

    let r3 = fresh(
        create(&ctx, &shop, &order, "R000003", 30)
            .await
            .expect("r3"),
    );
    move_refund(&ctx, &shop, &r3.id, RefundState::Success, &none)
        .await
        .expect("r3 success");
    let detail = ctx.store.orders().get(t, &order).await.expect("order");
    assert_eq!(
        (detail.order.state, detail.order.refunded_amount.fen()),
        (OrderState::Refunded, 100)
    );
    let steps: Vec<_> = detail.history.iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        steps[1..],
        [
            (OrderState::Paid, OrderState::PartiallyRefunded),
            (OrderState::PartiallyRefunded, OrderState::Refunded),
        ]
    );
    let err = create(&ctx, &shop, &order, "R000004", 1)
        .await
        .expect_err("refunded");
    assert!(
        matches!(
            err,
            StoreError::OrderNotRefundable {
                state: OrderState::Refunded
            }
        ),
        "{err:?}"
    );

    // Reads are tenant-scoped.
    let refunds = ctx.store.refunds();
    let no: OutRefundNo = "R000003".parse().expect("no");
    let found = refunds.find_by_out_refund_no(t, &no).await.expect("find");
    assert_eq!(found.map(|r| r.id), Some(r3.id.clone()));
    assert_eq!(
        refunds
            .find_by_out_refund_no(&other.tenant, &no)
            .await
            .expect("find"),
        None
    );
    let err = refunds
        .get(&other.tenant, &r3.id)
        .await
        .expect_err("foreign");
    assert_eq!(err.code(), "not_found");
    let page = Page::first();
    let listed = refunds
        .list(t, Some(&order), &page)
        .await
        .expect("list")
        .data;
    let ids: Vec<_> = listed.iter().map(|r| r.id.clone()).collect();
    assert_eq!(ids, vec![r3.id.clone(), r2.id.clone(), r1.id.clone()]);
    assert!(
        refunds
            .list(t, Some(&unpaid), &page)
            .await
            .expect("list")
            .data
            .is_empty()
    );
    assert!(
        refunds
            .list(&other.tenant, None, &page)
            .await
            .expect("list")
            .data
            .is_empty()
    );
    let audited = ctx
        .scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'refund.create'")
        .await;
    assert_eq!(audited, 3);
}

pub async fn abnormal_then_success_cannot_overrun(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let order = paid_order(&ctx, &shop, "T000001", 100).await;
    let none = RefundChange::default();
    let stuck = fresh(
        create(&ctx, &shop, &order, "R000001", 60)
            .await
            .expect("r1"),
    );
    move_refund(&ctx, &shop, &stuck.id, RefundState::Abnormal, &none)
        .await
        .expect("abnormal");
    // The released amount is refunded again, then the abnormal one succeeds by hand.
    let redo = fresh(
        create(&ctx, &shop, &order, "R000002", 60)
            .await
            .expect("r2"),
    );
    move_refund(&ctx, &shop, &redo.id, RefundState::Success, &none)
        .await
        .expect("success");
    let err = move_refund(&ctx, &shop, &stuck.id, RefundState::Success, &none)
        .await
        .expect_err("would pass the paid amount");
    assert!(
        matches!(err, StoreError::RefundExceedsAvailable { available } if available.fen() == 40),
        "{err:?}"
    );
    let stuck = ctx
        .store
        .refunds()
        .get(&shop.tenant, &stuck.id)
        .await
        .expect("get");
    assert_eq!(stuck.state, RefundState::Abnormal);
    let detail = ctx
        .store
        .orders()
        .get(&shop.tenant, &order)
        .await
        .expect("order");
    assert_eq!(
        (detail.order.state, detail.order.refunded_amount.fen()),
        (OrderState::PartiallyRefunded, 60)
    );
}
