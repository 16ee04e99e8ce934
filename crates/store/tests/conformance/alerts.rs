//! Alert deduplication: an alert with a stored `dedupe_key` is not raised again, without
//! aborting the transaction it was tried in; alerts without a key are always raised.

use paygate_store::{AlertFilter, AlertSeverity, NewAlert, Page};

use crate::fixtures;
use crate::harness::Ctx;

fn alert(tenant: &paygate_core::TenantId, key: Option<&str>) -> NewAlert {
    NewAlert {
        tenant_id: Some(tenant.clone()),
        kind: "amount_mismatch".into(),
        severity: AlertSeverity::Critical,
        message: "WeChat reports another total".into(),
        details: serde_json::json!({ "order_id": "ord_x" }),
        dedupe_key: key.map(str::to_owned),
    }
}

async fn count(ctx: &Ctx, tenant: &paygate_core::TenantId) -> usize {
    let filter = AlertFilter {
        tenant: Some(tenant.clone()),
        unresolved_only: false,
    };
    let page = Page::first();
    let alerts = ctx.store.activity().alerts(&filter, &page).await;
    alerts.expect("alerts").data.len()
}

pub async fn alerts_are_raised_once_per_dedupe_key(ctx: Ctx) {
    let t = fixtures::tenant(&ctx, "A").await;
    let key = "amount_mismatch:ord_x:SUCCESS";

    let mut tx = ctx.store.begin().await.expect("begin");
    let first = tx.raise_alert(&alert(&t, Some(key))).await.expect("first");
    assert!(first.is_some(), "a new key is a new alert");
    tx.commit().await.expect("commit");

    // The same finding again: nothing stored, and the transaction goes on (on PostgreSQL a
    // failed INSERT would have aborted it).
    let mut tx = ctx.store.begin().await.expect("begin");
    let again = tx.raise_alert(&alert(&t, Some(key))).await.expect("again");
    assert_eq!(again, None);
    let other = tx
        .raise_alert(&alert(&t, Some("amount_mismatch:ord_x:REFUND")))
        .await
        .expect("another key");
    assert!(other.is_some());
    // Without a key, every alert is stored.
    for _ in 0..2 {
        let plain = tx.raise_alert(&alert(&t, None)).await.expect("no key");
        assert!(plain.is_some());
    }
    tx.commit().await.expect("commit after a repeated key");
    assert_eq!(count(&ctx, &t).await, 4);

    // A rolled-back alert does not hold its key.
    let mut tx = ctx.store.begin().await.expect("begin");
    let lost = "state_conflict:ord_y:CLOSED";
    assert!(
        tx.raise_alert(&alert(&t, Some(lost)))
            .await
            .expect("x")
            .is_some()
    );
    drop(tx);
    let mut tx = ctx.store.begin().await.expect("begin");
    assert!(
        tx.raise_alert(&alert(&t, Some(lost)))
            .await
            .expect("y")
            .is_some()
    );
    tx.commit().await.expect("commit");
    assert_eq!(count(&ctx, &t).await, 5);

    let stored = ctx
        .scalar("SELECT COUNT(*) FROM alerts WHERE dedupe_key = 'amount_mismatch:ord_x:SUCCESS'")
        .await;
    assert_eq!(stored, 1);
}
