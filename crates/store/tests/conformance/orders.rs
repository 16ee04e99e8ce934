//! Orders (compare-and-set transitions), pagination, stats and the read-only activity lists.

use std::collections::HashSet;

use paygate_core::{Money, OrderState, Transition};
use paygate_store::{AlertFilter, DeliveryStatus, OrderFilter, Page, StoreError, TenantFilter};
use time::Duration;
use time::macros::{date, datetime};

use crate::fixtures;
use crate::harness::Ctx;
use crate::seed;

pub async fn order_transitions_are_compare_and_set(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let id = fixtures::order(&ctx, &shop, "T20260301001", 100).await;
    let orders = ctx.store.orders();
    let t = &shop.tenant;

    let err = orders
        .transition(t, &id, OrderState::Created, OrderState::Refunded, "test")
        .await
        .expect_err("illegal");
    assert_eq!(err.code(), "illegal_transition");
    let step = orders
        .transition(t, &id, OrderState::Created, OrderState::Pending, "prepay")
        .await;
    assert_eq!(step.expect("applied"), Transition::Applied);
    let repeat = orders
        .transition(t, &id, OrderState::Created, OrderState::Pending, "prepay")
        .await;
    assert_eq!(repeat.expect("repeat"), Transition::NoOp);
    let same = orders
        .transition(t, &id, OrderState::Pending, OrderState::Pending, "noop")
        .await;
    assert_eq!(same.expect("same state"), Transition::NoOp);
    let stale = orders
        .transition(t, &id, OrderState::Created, OrderState::Closed, "close")
        .await
        .expect_err("stale");
    assert!(
        matches!(
            stale,
            StoreError::StateMismatch {
                expected: OrderState::Created,
                actual: OrderState::Pending
            }
        ),
        "{stale:?}"
    );

    // Two racers for the same move: exactly one applies, one history row.
    ctx.clock.advance(Duration::seconds(90));
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let store = ctx.store.clone();
            let (t, id) = (t.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .orders()
                    .transition(
                        &t,
                        &id,
                        OrderState::Pending,
                        OrderState::Paid,
                        &format!("racer {i}"),
                    )
                    .await
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for r in racers {
        outcomes.push(r.await.expect("join").expect("transition"));
    }
    outcomes.sort_by_key(|o| *o == Transition::NoOp);
    assert_eq!(outcomes, vec![Transition::Applied, Transition::NoOp]);

    let detail = orders.get(t, &id).await.expect("get");
    assert_eq!(detail.order.state, OrderState::Paid);
    assert_eq!(
        detail.order.paid_at,
        Some(datetime!(2026-03-01 08:01:30 UTC))
    );
    let moves: Vec<_> = detail.history.iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        moves,
        vec![
            (OrderState::Created, OrderState::Pending),
            (OrderState::Pending, OrderState::Paid)
        ]
    );
    assert_eq!(detail.history[0].cause, "prepay");
    let ghost = <paygate_core::OrderId as paygate_core::PlatformId>::from_parts(1, 1);
    let err = orders
        .transition(t, &ghost, OrderState::Created, OrderState::Pending, "x")
        .await
        .expect_err("missing");
    assert_eq!(err.code(), "not_found");
}

pub async fn order_creation_is_validated(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let audit = ctx.audit();
    let mut zero = fixtures::new_order(&shop, "T20260301001", 1);
    zero.amount = Money::ZERO;
    let err = ctx
        .store
        .orders()
        .create(&audit, &shop.tenant, &zero)
        .await
        .expect_err("zero");
    assert_eq!(err.code(), "invalid");
    // The payer may be bound later (at pay time), so a JSAPI order may start without one.
    let mut no_payer = fixtures::new_order(&shop, "T20260301000", 1);
    no_payer.payer_openid = None;
    let unbound = ctx
        .store
        .orders()
        .create(&audit, &shop.tenant, &no_payer)
        .await
        .expect("no payer yet");
    assert_eq!(unbound.payer_openid, None);
    let created = ctx
        .store
        .orders()
        .create(
            &audit,
            &shop.tenant,
            &fixtures::new_order(&shop, "T20260301001", 1999),
        )
        .await
        .expect("order");
    assert_eq!(
        (created.state, created.amount.fen()),
        (OrderState::Created, 1999)
    );
    assert_eq!(created.currency, "CNY");
    let found = ctx
        .store
        .orders()
        .find_by_out_trade_no(&shop.tenant, &created.out_trade_no)
        .await
        .expect("find");
    assert_eq!(found, Some(created));
}

pub async fn pagination_has_no_gaps_or_duplicates(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let mut all = Vec::new();
    for i in 0..7 {
        // Several per millisecond too: ids stay unique and totally ordered.
        if i % 2 == 0 {
            ctx.clock.advance(Duration::milliseconds(1));
        }
        all.push(fixtures::order(&ctx, &shop, &format!("T2026030100{i}"), 100).await);
    }
    all.sort();
    all.reverse();
    for limit in [1, 3, 6, 7, 50] {
        let mut seen = Vec::new();
        let mut cursor = None;
        let mut pages = 0;
        loop {
            let page = Page::new(Some(limit), cursor.take());
            let got = ctx
                .store
                .orders()
                .list(&shop.tenant, &OrderFilter::default(), &page)
                .await
                .expect("page");
            pages += 1;
            assert!(got.data.len() <= limit as usize);
            seen.extend(got.data.into_iter().map(|o| o.id));
            match got.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, all, "limit {limit}");
        assert_eq!(pages, all.len().div_ceil(limit as usize), "limit {limit}");
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), seen.len());
    }
    // Filters compose with paging.
    let orders = ctx.store.orders();
    orders
        .transition(
            &shop.tenant,
            &all[0],
            OrderState::Created,
            OrderState::Closed,
            "t",
        )
        .await
        .expect("close");
    let closed = OrderFilter {
        state: Some(OrderState::Closed),
        ..OrderFilter::default()
    };
    let got = orders
        .list(&shop.tenant, &closed, &Page::first())
        .await
        .expect("closed");
    assert_eq!(
        got.data.iter().map(|o| &o.id).collect::<Vec<_>>(),
        vec![&all[0]]
    );
    let by_no = OrderFilter {
        out_trade_no: Some("T20260301003".parse().expect("no")),
        ..OrderFilter::default()
    };
    assert_eq!(
        orders
            .list(&shop.tenant, &by_no, &Page::first())
            .await
            .expect("no")
            .data
            .len(),
        1
    );
    let window = OrderFilter {
        created_from: Some(datetime!(2026-03-01 08:00:00.002 UTC)),
        created_to: Some(datetime!(2026-03-01 08:00:00.003 UTC)),
        ..OrderFilter::default()
    };
    assert_eq!(
        orders
            .list(&shop.tenant, &window, &Page::first())
            .await
            .expect("w")
            .data
            .len(),
        2
    );
    // Tenants page the same way.
    for i in 0..4 {
        fixtures::tenant(&ctx, &format!("T{i}")).await;
    }
    let first = ctx
        .store
        .tenants()
        .list(&TenantFilter::default(), &Page::new(Some(4), None))
        .await
        .expect("tenants");
    let rest = ctx
        .store
        .tenants()
        .list(
            &TenantFilter::default(),
            &Page::new(Some(4), first.next_cursor.clone()),
        )
        .await
        .expect("tenants");
    assert_eq!(
        (first.data.len(), rest.data.len(), rest.next_cursor),
        (4, 1, None)
    );
}

pub async fn stats_sum_per_day(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let b = fixtures::shop(&ctx, "B", "wxbbbb").await;
    let pay = |t: paygate_core::TenantId, id: paygate_core::OrderId| {
        let store = ctx.store.clone();
        async move {
            store
                .orders()
                .transition(&t, &id, OrderState::Created, OrderState::Paid, "notify")
                .await
                .expect("pay");
        }
    };
    // Day 1 (2026-03-01): A creates 3, pays 2 (100 + 250); B creates 1, pays it.
    let a1 = fixtures::order(&ctx, &a, "A0000001", 100).await;
    let a2 = fixtures::order(&ctx, &a, "A0000002", 250).await;
    fixtures::order(&ctx, &a, "A0000003", 999).await;
    let b1 = fixtures::order(&ctx, &b, "B0000001", 1000).await;
    pay(a.tenant.clone(), a1.clone()).await;
    pay(a.tenant.clone(), a2).await;
    pay(b.tenant.clone(), b1).await;
    let event = seed::event(&ctx, &a.tenant).await;
    seed::delivery(&ctx, &a.tenant, &event, "succeeded").await;
    seed::delivery(&ctx, &a.tenant, &event, "failed").await;
    seed::delivery(&ctx, &a.tenant, &event, "pending").await;
    // Day 2: A creates one more (unpaid) and refunds 40 of a1 (one success, one processing).
    ctx.clock.advance(Duration::days(1));
    fixtures::order(&ctx, &a, "A0000004", 500).await;
    seed::refund(&ctx, &a.tenant, &a1, "R1", 40, "SUCCESS").await;
    seed::refund(&ctx, &a.tenant, &a1, "R2", 10, "PROCESSING").await;

    let stats = ctx.store.stats();
    let all = stats
        .daily(date!(2026 - 02 - 28), date!(2026 - 03 - 03), None)
        .await
        .expect("stats");
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].day, date!(2026 - 02 - 28));
    assert_eq!((all[0].orders_created, all[3].orders_created), (0, 0));
    let d1 = &all[1];
    assert_eq!(
        (d1.orders_created, d1.orders_created_paid, d1.orders_paid),
        (4, 3, 3)
    );
    assert_eq!(d1.paid_amount.fen(), 1350);
    assert_eq!((d1.deliveries_succeeded, d1.deliveries_failed), (1, 1));
    let d2 = &all[2];
    assert_eq!(
        (d2.orders_created, d2.orders_paid, d2.paid_amount.fen()),
        (1, 0, 0)
    );
    assert_eq!((d2.refunds_succeeded, d2.refunded_amount.fen()), (1, 40));

    let only_a = stats
        .daily(
            date!(2026 - 03 - 01),
            date!(2026 - 03 - 01),
            Some(&a.tenant),
        )
        .await
        .expect("a");
    assert_eq!(only_a.len(), 1);
    assert_eq!((only_a[0].orders_created, only_a[0].orders_paid), (3, 2));
    assert_eq!(only_a[0].paid_amount.fen(), 350);
    assert_eq!(
        stats
            .daily(date!(2026 - 03 - 02), date!(2026 - 03 - 01), None)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
    assert_eq!(
        stats
            .daily(date!(2025 - 01 - 01), date!(2026 - 03 - 01), None)
            .await
            .map_err(|e| e.code())
            .err(),
        Some("invalid")
    );
}

pub async fn activity_lists(ctx: Ctx) {
    let a = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let order = fixtures::order(&ctx, &a, "T20260301001", 100).await;
    let other = fixtures::order(&ctx, &a, "T20260301002", 100).await;
    seed::refund(&ctx, &a.tenant, &order, "R1", 10, "PROCESSING").await;
    seed::refund(&ctx, &a.tenant, &other, "R2", 10, "SUCCESS").await;
    let ntf = seed::notification(&ctx, &a.tenant, &a.channel, "tx")
        .await
        .expect("ntf");
    let e1 = seed::event(&ctx, &a.tenant).await;
    let e2 = seed::event(&ctx, &a.tenant).await;
    seed::delivery(&ctx, &a.tenant, &e1, "failed").await;
    seed::delivery(&ctx, &a.tenant, &e2, "succeeded").await;
    seed::alert(&ctx, Some(&a.tenant), false).await;
    seed::alert(&ctx, Some(&a.tenant), true).await;
    seed::alert(&ctx, None, false).await;

    let act = ctx.store.activity();
    let page = Page::first();
    let t = &a.tenant;
    assert_eq!(act.refunds(t, None, &page).await.expect("r").data.len(), 2);
    let one = act.refunds(t, Some(&order), &page).await.expect("r").data;
    assert_eq!((one.len(), one[0].out_refund_no.as_str()), (1, "R1"));
    let notes = act.notifications(t, &page).await.expect("n").data;
    assert_eq!((notes.len(), notes[0].verified), (1, true));
    assert!(
        !act.notification_body(t, &ntf)
            .await
            .expect("body")
            .is_empty()
    );
    let events = act.events(t, &page).await.expect("e").data;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].payload["amount"], 100);
    let d = act.deliveries(t, Some(&e1), &page).await.expect("d").data;
    assert_eq!((d.len(), d[0].status), (1, DeliveryStatus::Failed));
    let everything = act.alerts(&AlertFilter::default(), &page).await.expect("a");
    assert_eq!(everything.data.len(), 3);
    let open_for_a = AlertFilter {
        tenant: Some(t.clone()),
        unresolved_only: true,
    };
    let open = act.alerts(&open_for_a, &page).await.expect("a").data;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].details["days"], 7);
    assert!(open[0].resolved_at.is_none());
}
