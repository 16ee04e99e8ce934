//! The reconciliation worker and refund notifications, and races between the three paths.

use paygate_core::{Money, OrderState, OutRefundNo, RefundRequest, RefundState};
use paygate_server::payments::converge::close_locally;
use paygate_server::workers::reconcile::{ReconcileSettings, run_once};
use paygate_sim::{FaultKind, FaultSpec};
use paygate_store::{Audit, NewRefund, RefundCreated};

use crate::support::{Env, MCH};

fn settings() -> ReconcileSettings {
    ReconcileSettings {
        pending_age: std::time::Duration::from_secs(300),
        ..ReconcileSettings::default()
    }
}

async fn run(env: &Env) -> paygate_server::workers::reconcile::ReconcileReport {
    run_once(&env.state, &settings()).await
}

fn lose_next_notification(env: &Env) {
    env.sim.sim().faults.add(FaultSpec {
        kind: FaultKind::NotificationLost,
        mch_id: Some(MCH.to_owned()),
        endpoint: None,
        count: 1,
        delay_ms: 0,
    });
}

#[tokio::test]
async fn a_lost_notification_is_recovered_after_the_pending_age() {
    let env = Env::sqlite().await;
    lose_next_notification(&env);
    let (order, code_url) = env.pending("LOST0000001").await;
    env.pay(&code_url);
    assert_eq!(env.deliver().await, 0);
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);

    // Too young to be queried.
    assert_eq!(run(&env).await.orders, 0);
    env.advance(time::Duration::seconds(301));
    let report = run(&env).await;
    assert_eq!(
        (report.orders, report.orders_changed, report.errors),
        (1, 1, 0)
    );

    let detail = env.order(&order).await;
    assert_eq!(detail.order.state, OrderState::Paid);
    assert_eq!(detail.history.last().unwrap().cause, "reconcile");
    let events = env.events(&env.tenant_a).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "payment.succeeded");
    // Nothing left to do.
    assert_eq!(run(&env).await.orders_changed, 0);
}

/// Two workers (two instances) running at once split the stale orders: each is claimed once.
async fn two_workers(env: &Env) {
    lose_next_notification(env);
    let (paid, code_url) = env.pending("TWOWORKER01").await;
    env.pay(&code_url);
    let (unpaid, _) = env.pending("TWOWORKER02").await;
    env.advance(time::Duration::seconds(301));
    let (a, b) = tokio::join!(run(env), run(env));
    assert_eq!(a.orders + b.orders, 2, "{a:?} {b:?}");
    assert_eq!(a.orders_changed + b.orders_changed, 1);
    assert_eq!(env.order(&paid).await.order.state, OrderState::Paid);
    assert_eq!(env.order(&unpaid).await.order.state, OrderState::Pending);
    assert_eq!(env.events(&env.tenant_a).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_claim_each_order_once() {
    two_workers(&Env::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_two_workers_claim_each_order_once() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    two_workers(&env).await;
    env.finish().await;
}

#[tokio::test]
async fn an_unpaid_stale_order_stays_pending() {
    let env = Env::sqlite().await;
    let (order, _) = env.pending("NOTPAY00001").await;
    env.advance(time::Duration::seconds(301));
    let report = run(&env).await;
    assert_eq!((report.orders, report.orders_changed), (1, 0));
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);
    assert!(env.events(&env.tenant_a).await.is_empty());
}

#[tokio::test]
async fn expiry_closes_the_order_upstream_and_locally() {
    let env = Env::sqlite().await;
    let (order, code_url) = env.pending("EXPIRE00001").await;
    env.advance(time::Duration::minutes(31));
    let report = run(&env).await;
    assert_eq!((report.closed, report.errors), (1, 0), "{report:?}");
    let detail = env.order(&order).await;
    assert_eq!(detail.order.state, OrderState::Closed);
    assert_eq!(detail.history.last().unwrap().cause, "expired");
    let events = env.events(&env.tenant_a).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "order.closed");
    // Upstream refuses the payment now.
    assert!(
        env.sim
            .sim()
            .scan(&paygate_sim::ScanBody {
                code_url,
                openid: env.openid.clone(),
                result: paygate_sim::PayResult::Success,
            })
            .is_err()
    );
}

#[tokio::test]
async fn an_expired_order_paid_upstream_is_paid_not_closed() {
    let env = Env::sqlite().await;
    lose_next_notification(&env);
    let (order, code_url) = env.pending("EXPPAID0001").await;
    env.pay(&code_url);
    env.advance(time::Duration::minutes(31));
    let report = run(&env).await;
    assert_eq!(
        (report.orders_changed, report.closed, report.errors),
        (1, 0, 0)
    );
    assert_eq!(env.order(&order).await.order.state, OrderState::Paid);
    let events = env.events(&env.tenant_a).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "payment.succeeded");
}

#[tokio::test]
async fn a_refund_notification_converges_the_refund_and_the_order() {
    let env = Env::sqlite().await;
    let (order, code_url) = env.pending("REFUND00001").await;
    env.pay(&code_url);
    env.deliver().await;
    assert_eq!(env.order(&order).await.order.state, OrderState::Paid);

    let out_refund_no: OutRefundNo = "RF0000000001".parse().unwrap();
    let new = NewRefund {
        out_refund_no: out_refund_no.clone(),
        amount: Money::from_fen(100).unwrap(),
        reason: None,
    };
    let mut tx = env.store.begin().await.unwrap();
    let created = tx
        .create_refund(&Audit::cli(), &env.tenant_a, &order.id, &new)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let RefundCreated::New(refund) = created else {
        panic!("expected a new refund")
    };
    let provider = env.provider(&env.tenant_a, &env.v3).await;
    provider
        .refund(RefundRequest {
            out_trade_no: order.out_trade_no.clone(),
            out_refund_no: out_refund_no.clone(),
            total: order.amount,
            refund: new.amount,
            reason: None,
            notify_url: format!("{}/notify/{}/refund", env.url, env.v3)
                .parse()
                .unwrap(),
        })
        .await
        .unwrap();
    env.sim
        .sim()
        .settle_refund(out_refund_no.as_str(), None, "success")
        .unwrap();
    assert_eq!(env.deliver().await, 1);
    env.assert_acknowledged();

    let stored = env
        .store
        .refunds()
        .get(&env.tenant_a, &refund.id)
        .await
        .unwrap();
    assert_eq!(stored.state, RefundState::Success);
    let detail = env.order(&order).await;
    assert_eq!(detail.order.state, OrderState::Refunded);
    assert_eq!(detail.order.refunded_amount.fen(), 100);
    let events = env.events(&env.tenant_a).await;
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["refund.succeeded", "payment.succeeded"]);
    assert_eq!(events[0].payload["state"], "SUCCESS");
    assert_eq!(events[0].payload["amount"], 100);
}

/// A notification, a reconciliation run and a local close race on one paid order; whoever
/// wins, the order ends in one state with one transition out of PENDING and the matching
/// event, and the losers change nothing.
async fn race(env: &Env) {
    for round in 0..4 {
        let (order, code_url) = env.pending(&format!("RACE{round:07}")).await;
        env.pay(&code_url);
        env.advance(time::Duration::seconds(301));
        let (_, _, closed) = tokio::join!(
            env.deliver(),
            run(env),
            close_locally(&env.store, &order, "close")
        );
        closed.unwrap();
        // A notification that lost to the close was alerted or refused; deliver any retry so
        // every path has had its say.
        env.advance(time::Duration::minutes(1));
        env.deliver().await;

        let detail = env.order(&order).await;
        let out_of_pending: Vec<_> = detail
            .history
            .iter()
            .filter(|t| t.from == OrderState::Pending)
            .collect();
        assert_eq!(
            out_of_pending.len(),
            1,
            "round {round}: {:?}",
            detail.history
        );
        let events: Vec<_> = env
            .events(&env.tenant_a)
            .await
            .into_iter()
            .filter(|e| e.payload["id"] == order.id.as_str())
            .map(|e| e.event_type)
            .collect();
        match detail.order.state {
            OrderState::Paid => assert_eq!(events, ["payment.succeeded"], "round {round}"),
            OrderState::Closed => assert_eq!(events, ["order.closed"], "round {round}"),
            other => panic!("round {round}: ended {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notification_reconcile_and_close_race_to_one_state() {
    race(&Env::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_notification_reconcile_and_close_race_to_one_state() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    race(&env).await;
    env.finish().await;
}

/// An unverifiable payment notification is not trusted, but it makes paygate ask WeChat about
/// the channel's pending orders at once: a payment whose genuine notification was lost is
/// found by that query, long before `pending_age`.
#[tokio::test]
async fn an_unverifiable_notification_triggers_a_query_not_trust() {
    let env = Env::sqlite().await;
    lose_next_notification(&env);
    let (order, code_url) = env.pending("SUSPECT0001").await;
    let (unpaid, _) = env.pending("SUSPECT0002").await;
    env.pay(&code_url);
    assert_eq!(env.deliver().await, 0);
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);

    let path = format!("/notify/{}/payment", env.v3);
    let headers = [
        (
            "wechatpay-serial",
            "PUB_KEY_ID_0000000000000000000000000000",
        ),
        ("wechatpay-signature", "Zm9yZ2Vk"),
        ("wechatpay-timestamp", "1700000000"),
        ("wechatpay-nonce", "n0nce"),
        ("content-type", "application/json"),
    ];
    let body =
        r#"{"id":"EV-garbled","resource":{"ciphertext":"x","nonce":"y","associated_data":"z"}}"#;
    let (status, _) = env.post(&path, &headers, body).await;
    assert!(status >= 400, "never acknowledged: {status}");

    // The query, not the body, decided: the paid order is PAID, the unpaid one untouched.
    let detail = env.order(&order).await;
    assert_eq!(detail.order.state, OrderState::Paid);
    assert_eq!(detail.history.last().unwrap().cause, "reconcile");
    assert_eq!(env.order(&unpaid).await.order.state, OrderState::Pending);
    assert_eq!(env.notifications(&env.tenant_a).await, 0, "nothing stored");
    let events = env.events(&env.tenant_a).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, "payment.succeeded");

    // Rate-limited with the alert: a second garbled notification queries nothing more.
    let (again, _) = env.post(&path, &headers, body).await;
    assert!(again >= 400);
    assert_eq!(env.events(&env.tenant_a).await.len(), 1);
}
