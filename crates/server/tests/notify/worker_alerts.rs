//! The reconciliation worker raises an alert once per finding: re-querying an order whose
//! upstream amount disagrees does not alert (or count) again.

use paygate_core::OrderState;
use paygate_server::workers::reconcile::{ReconcileSettings, run_once};
use paygate_sim::{FaultKind, FaultSpec};

use crate::support::{APPID_A, Env, MCH, OrderSpec};

async fn one_alert_per_finding(env: &Env) {
    let settings = ReconcileSettings {
        pending_age: std::time::Duration::from_secs(300),
        ..ReconcileSettings::default()
    };
    // The notification is lost, so only the worker's query learns of the payment.
    env.sim.sim().faults.add(FaultSpec {
        kind: FaultKind::NotificationLost,
        mch_id: Some(MCH.to_owned()),
        endpoint: None,
        count: 1,
        delay_ms: 0,
    });
    let mut spec = OrderSpec::new(&env.tenant_a, &env.v3, APPID_A, "DEDUPE00001");
    spec.upstream_fen = Some(1);
    let (order, code_url) = env.pending_order(spec).await;
    env.pay(&code_url);
    assert_eq!(env.deliver().await, 0);

    for run in 0..3 {
        // Past the age and the previous run's claim: the order is queried again each time.
        env.advance(time::Duration::seconds(301));
        let report = run_once(&env.state, &settings).await;
        assert_eq!(
            (report.orders, report.orders_changed, report.errors),
            (1, 0, 0),
            "run {run}: {report:?}"
        );
    }
    let alerts = env.alerts(&env.tenant_a).await;
    let kinds: Vec<&str> = alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["amount_mismatch"]);
    assert_eq!(env.order(&order).await.order.state, OrderState::Pending);
    let metrics = env.state.metrics().render();
    assert!(
        metrics.contains("paygate_alerts_total{kind=\"amount_mismatch\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_mismatch_found_again_by_the_worker_is_alerted_once() {
    one_alert_per_finding(&Env::sqlite().await).await;
}

#[tokio::test]
async fn on_postgres_a_mismatch_found_again_by_the_worker_is_alerted_once() {
    let Some(env) = Env::postgres().await else {
        return;
    };
    one_alert_per_finding(&env).await;
    env.finish().await;
}
