//! Webhook delivery (issue 8): the delivery worker's `run_once`, driven on paygate's manual
//! clock (never by sleeping), against a real receiver on 127.0.0.1 that checks every Standard
//! Webhooks signature. Retries follow the schedule, `Retry-After` and 410 are honoured, a
//! failed event alerts and can be resent, per-order order holds, two workers on one database
//! deliver each event once, and a dead worker's claim lapses. The SSRF guard, secret rotation
//! and the operator endpoints are in `webhook_ops.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use paygate_core::{Clock, EventId, OrderId, PlatformId};
use paygate_server::webhooks::WebhookSettings;
use paygate_server::webhooks::schedule::{JITTER, MAX_ATTEMPTS, SCHEDULE};
use paygate_server::webhooks::worker;
use paygate_store::{AlertFilter, Audit, DeliveryStatus, EventDelivery, Page};
use secrecy::ExposeSecret;

use crate::harness::receiver::{Reply, WebhookApp, state_over};
use crate::harness::{Backend, both_backends};

both_backends!(
    retried_until_delivered_once_on_schedule,
    receiver_down_for_the_whole_schedule_fails_alerts_and_resends,
    gone_disables_the_endpoint_until_resumed,
    retry_after_is_honoured,
    later_events_of_an_order_wait_for_earlier_ones,
    two_workers_deliver_a_thousand_events_exactly_once,
    a_dead_workers_claim_lapses,
    events_of_tenants_without_an_endpoint_are_skipped,
);

fn order(n: u32) -> OrderId {
    OrderId::from_parts(1_700_000_000_000 + u64::from(n), u128::from(n) + 1)
}

/// Asserts `next` is `base` after `at`, plus at most the jitter.
#[track_caller]
fn assert_backoff(at: time::OffsetDateTime, next: time::OffsetDateTime, base: Duration) {
    let waited = Duration::try_from(next - at).expect("in the future");
    let max = base + base.mul_f64(JITTER) + Duration::from_millis(1);
    assert!(
        waited >= base && waited <= max,
        "waited {waited:?}, expected {base:?}..{max:?}"
    );
}

async fn retried_until_delivered_once_on_schedule(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    w.app.secret("webhook secret", w.secret.expose_secret());
    w.receiver
        .script([Reply::status(500), Reply::status(502), Reply::status(404)]);
    let id = w.event("payment.succeeded", Some(&order(1))).await;

    let mut attempt_times = Vec::new();
    for (n, base) in SCHEDULE.iter().take(3).enumerate() {
        let now = w.app.clock.now();
        attempt_times.push(now);
        let report = w.run().await;
        assert_eq!((report.claimed, report.retrying), (1, 1), "{report:?}");
        let queued = w.queued(&id).await;
        assert_eq!(queued.status, EventDelivery::Pending);
        assert_eq!(queued.attempts, i64::try_from(n + 1).unwrap());
        assert_backoff(now, queued.next_attempt_at, *base);
        // Not due yet: nothing happens.
        assert_eq!(w.run().await.claimed, 0);
        w.set_clock(queued.next_attempt_at);
    }
    attempt_times.push(w.app.clock.now());
    let report = w.run().await;
    assert_eq!((report.claimed, report.delivered), (1, 1), "{report:?}");
    assert_eq!(w.run().await.claimed, 0, "delivered once");

    let received = w.receiver.received();
    assert_eq!(received.len(), 4);
    for (r, at) in received.iter().zip(&attempt_times) {
        assert!(r.verified, "signature of {r:?}");
        assert_eq!(r.id, id.as_str(), "the same webhook-id on every retry");
        assert_eq!(
            r.timestamp,
            at.unix_timestamp(),
            "the attempt's own timestamp"
        );
        assert_eq!(r.body["id"], id.as_str());
        assert_eq!(r.body["type"], "payment.succeeded");
        assert_eq!(r.body["tenant_id"], w.tenant.as_str());
        assert_eq!(r.body["data"]["order_id"], order(1).as_str());
        assert!(r.body["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let queued = w.queued(&id).await;
    assert_eq!(queued.status, EventDelivery::Delivered);
    assert_eq!(queued.last_status_code, Some(200));
    assert!(queued.last_latency_ms.is_some());

    let log = w
        .app
        .store()
        .activity()
        .deliveries(&w.tenant, Some(&id), &Page::first())
        .await
        .unwrap();
    let mut attempts: Vec<_> = log
        .data
        .iter()
        .map(|d| (d.attempt, d.status, d.response_status))
        .collect();
    attempts.sort_by_key(|a| a.0);
    assert_eq!(
        attempts,
        vec![
            (1, DeliveryStatus::Pending, Some(500)),
            (2, DeliveryStatus::Pending, Some(502)),
            (3, DeliveryStatus::Pending, Some(404)),
            (4, DeliveryStatus::Succeeded, Some(200)),
        ]
    );
    // Every attempt that got an answer records how long the endpoint took.
    assert!(log.data.iter().all(|d| d.latency_ms.is_some()), "{log:?}");
    let metrics = w.state.metrics().render();
    assert!(metrics.contains("paygate_webhook_attempts_total{outcome=\"pending\"} 3"));
    assert!(metrics.contains("paygate_webhook_attempts_total{outcome=\"succeeded\"} 1"));
    assert!(metrics.contains("paygate_webhook_queue_depth 0"));
    w.finish().await;
}

async fn receiver_down_for_the_whole_schedule_fails_alerts_and_resends(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let id = w.event("refund.succeeded", None).await;
    w.receiver.script_for(
        id.as_str(),
        std::iter::repeat_n(Reply::status(500), usize::try_from(MAX_ATTEMPTS).unwrap()),
    );
    let times = w.settle(&id).await;
    assert_eq!(times.len(), usize::try_from(MAX_ATTEMPTS).unwrap());
    let span = Duration::try_from(times[times.len() - 1] - times[0]).unwrap();
    let total: Duration = SCHEDULE.iter().sum();
    assert!(
        span >= total && span <= total.mul_f64(1.0 + JITTER),
        "{span:?}"
    );
    assert!(
        span > Duration::from_secs(60 * 3600),
        "about three days: {span:?}"
    );
    let queued = w.queued(&id).await;
    assert_eq!(queued.status, EventDelivery::Failed);

    let filter = AlertFilter {
        tenant: Some(w.tenant.clone()),
        unresolved_only: true,
    };
    let alerts = w
        .app
        .store()
        .activity()
        .alerts(&filter, &Page::first())
        .await
        .unwrap();
    assert_eq!(alerts.data.len(), 1);
    assert_eq!(alerts.data[0].kind, "webhook_delivery_failed");
    assert_eq!(alerts.data[0].details["event_id"], id.as_str());

    // Resent by an operator: the receiver is back, one more attempt delivers it.
    let hooks = w.app.store().webhook_deliveries();
    let resent = hooks
        .resend(&Audit::system(), &w.tenant, &id)
        .await
        .unwrap();
    assert_eq!(resent.status, EventDelivery::Pending);
    assert_eq!(resent.attempts_in_schedule, 0);
    // Pending again: a second resend conflicts.
    assert!(
        hooks
            .resend(&Audit::system(), &w.tenant, &id)
            .await
            .is_err()
    );
    assert_eq!(w.run().await.delivered, 1);
    let queued = w.queued(&id).await;
    assert_eq!(queued.status, EventDelivery::Delivered);
    assert_eq!(queued.attempts, MAX_ATTEMPTS + 1);
    w.finish().await;
}

async fn gone_disables_the_endpoint_until_resumed(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    w.receiver.script([Reply::status(410)]);
    let first = w.event("payment.succeeded", None).await;
    let report = w.run().await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(w.queued(&first).await.status, EventDelivery::Failed);
    let endpoint = w
        .app
        .store()
        .webhooks()
        .get(&w.tenant)
        .await
        .unwrap()
        .unwrap();
    assert!(endpoint.disabled_at.is_some());

    let second = w.event("payment.succeeded", None).await;
    w.app.clock.advance(time::Duration::days(1));
    assert_eq!(w.run().await.claimed, 0, "a disabled endpoint gets nothing");
    assert_eq!(w.receiver.received().len(), 1);

    w.app
        .store()
        .webhooks()
        .set_paused(&Audit::system(), &w.tenant, false)
        .await
        .unwrap();
    assert_eq!(w.run().await.delivered, 1);
    assert_eq!(w.queued(&second).await.status, EventDelivery::Delivered);
    assert_eq!(w.queued(&first).await.status, EventDelivery::Failed);
    w.finish().await;
}

async fn retry_after_is_honoured(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let id = w.event("payment.succeeded", None).await;
    w.receiver.script([
        Reply::status(429).with("retry-after", "120"),
        Reply::status(503).with("retry-after", "7200"),
        // Retry-After on other statuses means nothing: the schedule applies.
        Reply::status(500).with("retry-after", "1"),
    ]);
    let now = w.app.clock.now();
    w.run().await;
    let next = w.queued(&id).await.next_attempt_at;
    assert_eq!(next - now, time::Duration::seconds(120));
    w.set_clock(next);
    w.run().await;
    let after = w.queued(&id).await.next_attempt_at;
    assert_eq!(after - next, time::Duration::hours(2));
    w.set_clock(after);
    w.run().await;
    assert_backoff(after, w.queued(&id).await.next_attempt_at, SCHEDULE[2]);
    w.finish().await;
}

async fn later_events_of_an_order_wait_for_earlier_ones(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let (o1, o2) = (order(1), order(2));
    let e1 = w.event("payment.succeeded", Some(&o1)).await;
    let e2 = w.event("refund.succeeded", Some(&o1)).await;
    let other = w.event("payment.succeeded", Some(&o2)).await;
    w.receiver.script_for(e1.as_str(), [Reply::status(500)]);
    let report = w.run().await;
    assert_eq!(
        (report.claimed, report.delivered),
        (2, 1),
        "e2 waits: {report:?}"
    );
    assert_eq!(w.queued(&other).await.status, EventDelivery::Delivered);
    assert_eq!(w.queued(&e2).await.status, EventDelivery::Pending);
    assert_eq!(w.queued(&e2).await.attempts, 0);

    w.set_clock(w.queued(&e1).await.next_attempt_at);
    w.run().await;
    w.run().await;
    let seen: Vec<String> = w.receiver.received().into_iter().map(|r| r.id).collect();
    let pos = |id: &EventId| seen.iter().rposition(|s| s == id.as_str()).unwrap();
    assert!(pos(&e1) < pos(&e2), "{seen:?}");
    assert_eq!(w.queued(&e2).await.status, EventDelivery::Delivered);

    // An earlier event that failed for good no longer holds the order's later ones back.
    let o3 = order(3);
    let stuck = w.event("payment.succeeded", Some(&o3)).await;
    let after = w.event("order.closed", Some(&o3)).await;
    w.receiver.script_for(
        stuck.as_str(),
        std::iter::repeat_n(Reply::status(500), usize::try_from(MAX_ATTEMPTS).unwrap()),
    );
    w.settle(&stuck).await;
    assert_eq!(w.queued(&stuck).await.status, EventDelivery::Failed);
    w.run().await;
    assert_eq!(w.queued(&after).await.status, EventDelivery::Delivered);
    w.finish().await;
}

async fn two_workers_deliver_a_thousand_events_exactly_once(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let (orders, per_order) = (250_u32, 4_usize);
    let mut expected: HashMap<String, Vec<String>> = HashMap::new();
    for k in 0..per_order {
        for n in 0..orders {
            let o = order(n);
            let id = w.event(&format!("step.{k}"), Some(&o)).await;
            expected
                .entry(o.as_str().to_owned())
                .or_default()
                .push(id.as_str().to_owned());
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(w.app.clock.clone());
    // The second worker is another instance: its own pool, its own connections.
    let other_store = w.app.another_instance_store().await;
    let second = state_over(&other_store, clock, &w.app.jwt_secret);
    let settings = WebhookSettings {
        concurrency_per_tenant: 8,
        ..w.settings.clone()
    };
    let mut rounds = 0;
    loop {
        let (a, b) = tokio::join!(
            worker::run_once(&w.state, &settings),
            worker::run_once(&second, &settings)
        );
        assert_eq!(a.errors + b.errors, 0, "{a:?} {b:?}");
        if a.claimed + b.claimed == 0 {
            break;
        }
        rounds += 1;
        assert!(rounds < 100, "never drains");
    }
    let received = w.receiver.received();
    assert_eq!(received.len(), 1000);
    let unique: HashSet<&str> = received.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(unique.len(), 1000, "each event exactly once");
    assert!(received.iter().all(|r| r.verified));
    let mut seen: HashMap<String, Vec<String>> = HashMap::new();
    for r in &received {
        let o = r.body["data"]["order_id"].as_str().unwrap().to_owned();
        seen.entry(o).or_default().push(r.id.clone());
    }
    assert_eq!(seen, expected, "per-order order kept");
    w.finish().await;
}

async fn a_dead_workers_claim_lapses(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let id = w.event("payment.succeeded", None).await;
    // A worker claims the event, then dies before sending anything.
    let claim_for = time::Duration::try_from(w.settings.claim_for()).unwrap();
    let claimed = w
        .app
        .store()
        .webhook_deliveries()
        .claim_due(w.app.clock.now(), 10, claim_for)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(w.run().await.claimed, 0, "still claimed");
    w.app
        .clock
        .advance(claim_for - time::Duration::milliseconds(1));
    assert_eq!(w.run().await.claimed, 0, "still claimed");
    w.app.clock.advance(time::Duration::milliseconds(1));
    assert_eq!(w.run().await.delivered, 1, "the claim lapsed");
    assert_eq!(w.receiver.received().len(), 1);
    assert_eq!(w.queued(&id).await.attempts, 1);
    w.finish().await;
}

async fn events_of_tenants_without_an_endpoint_are_skipped(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let lonely: paygate_core::TenantId = w.app.new_tenant().await.parse().unwrap();
    let mut tx = w.app.store().begin().await.unwrap();
    let id = tx
        .append_event(&lonely, "payment.succeeded", &serde_json::json!({}), None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let report = w.run().await;
    assert_eq!((report.skipped, report.failed, report.claimed), (1, 0, 0));
    let queued = w
        .app
        .store()
        .webhook_deliveries()
        .event(&lonely, &id)
        .await
        .unwrap();
    assert_eq!(queued.status, EventDelivery::Skipped);
    w.finish().await;
}
