//! Webhook attempts recorded in batches (`record_attempts`): one result per attempt, an attempt
//! whose event moved on writes nothing and does not stop the others.

use paygate_core::EventId;
use paygate_store::{AttemptRecord, DeliveryStatus, EventDelivery, StoreError};
use time::macros::datetime;

use crate::fixtures;
use crate::harness::Ctx;

fn attempt(shop: &fixtures::Shop, event: &EventId, status: DeliveryStatus) -> AttemptRecord {
    AttemptRecord {
        tenant_id: shop.tenant.clone(),
        event_id: event.clone(),
        status,
        response_status: Some(if status == DeliveryStatus::Succeeded {
            204
        } else {
            503
        }),
        latency_ms: Some(3),
        error: None,
        next_attempt_at: None,
        disable_endpoint: None,
        alert: None,
    }
}

pub async fn attempts_are_recorded_in_batches(ctx: Ctx) {
    let shop = fixtures::shop(&ctx, "A", "wxaaaa").await;
    let t = &shop.tenant;
    ctx.store
        .webhooks()
        .put_url(&ctx.audit(), t, "https://a.example/hook")
        .await
        .expect("endpoint");
    let mut tx = ctx.store.begin().await.expect("begin");
    let mut events = Vec::new();
    for n in 0..4 {
        let payload = serde_json::json!({ "n": n });
        events.push(
            tx.append_event(t, "order.paid", &payload, None)
                .await
                .expect("event"),
        );
    }
    tx.commit().await.expect("commit");
    let deliveries = ctx.store.webhook_deliveries();
    // The third event was settled meanwhile (a resend, another worker): its attempt is refused.
    let settled = attempt(&shop, &events[2], DeliveryStatus::Succeeded);
    deliveries
        .record_attempt(&settled)
        .await
        .expect("settled first");
    let later = datetime!(2030-01-01 08:00 UTC);
    let retry = AttemptRecord {
        next_attempt_at: Some(later),
        error: Some("503 from the endpoint".into()),
        latency_ms: Some(41),
        ..attempt(&shop, &events[1], DeliveryStatus::Pending)
    };
    let no_time = attempt(&shop, &events[3], DeliveryStatus::Pending);
    let batch = [
        attempt(&shop, &events[0], DeliveryStatus::Succeeded),
        retry,
        attempt(&shop, &events[2], DeliveryStatus::Succeeded),
        no_time,
    ];
    let results = deliveries.record_attempts(&batch).await.expect("batch");
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok() && results[1].is_ok());
    assert!(
        matches!(&results[2], Err(StoreError::NotFound { .. })),
        "{:?}",
        results[2]
    );
    assert_eq!(results[3].as_ref().expect_err("no time").code(), "invalid");

    let event = |n: usize| deliveries.event(t, &events[n]);
    let first = event(0).await.expect("event 0");
    assert_eq!(
        (first.status, first.attempts),
        (EventDelivery::Delivered, 1)
    );
    assert_eq!(first.last_status_code, Some(204));
    let second = event(1).await.expect("event 1");
    assert_eq!(
        (second.status, second.attempts),
        (EventDelivery::Pending, 1)
    );
    assert_eq!(
        second.next_attempt_at.unix_timestamp(),
        later.unix_timestamp()
    );
    // The refused attempts wrote nothing: the settled event keeps its one attempt, the other
    // is untouched.
    assert_eq!(event(2).await.expect("event 2").attempts, 1);
    let untouched = event(3).await.expect("event 3");
    assert_eq!(
        (untouched.status, untouched.attempts),
        (EventDelivery::Pending, 0)
    );
    let rows = |id: &EventId| {
        format!(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE event_id = '{}'",
            id.as_str()
        )
    };
    for (n, want) in [(0, 1), (1, 1), (2, 1), (3, 0)] {
        assert_eq!(
            ctx.scalar(&rows(&events[n])).await,
            want,
            "deliveries of event {n}"
        );
    }
    // Each attempt row says what happened, numbered after the event's count (PostgreSQL
    // writes it in the same statement as the count, SQLite in a second one).
    let attempt_rows = |n: usize| {
        let events = &events;
        let ctx = &ctx;
        async move {
            ctx.store
                .activity()
                .deliveries(t, Some(&events[n]), &paygate_store::Page::first())
                .await
                .expect("deliveries")
                .data
        }
    };
    let first_rows = attempt_rows(0).await;
    let row = &first_rows[0];
    assert_eq!(
        (row.attempt, row.status, row.response_status, row.latency_ms),
        (1, DeliveryStatus::Succeeded, Some(204), Some(3))
    );
    assert_eq!((&row.error, row.next_attempt_at), (&None, None));
    assert_eq!((&row.tenant_id, &row.event_id), (t, &events[0]));
    let retry_rows = attempt_rows(1).await;
    let row = &retry_rows[0];
    assert_eq!(
        (row.attempt, row.status, row.response_status, row.latency_ms),
        (1, DeliveryStatus::Pending, Some(503), Some(41))
    );
    assert_eq!(row.error.as_deref(), Some("503 from the endpoint"));
    assert_eq!(row.next_attempt_at, Some(later));
    // A second attempt at the retried event is number 2.
    let again = attempt(&shop, &events[1], DeliveryStatus::Succeeded);
    deliveries
        .record_attempt(&again)
        .await
        .expect("second attempt");
    let numbers: Vec<i64> = attempt_rows(1).await.iter().map(|d| d.attempt).collect();
    assert_eq!(numbers, [2, 1], "newest first");
    assert_eq!(
        deliveries.record_attempts(&[]).await.expect("empty").len(),
        0
    );
}
