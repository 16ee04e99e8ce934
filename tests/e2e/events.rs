//! The outbox: an event's payload is the resource as the tenant API shows it at that moment
//! (same fields, same RFC 3339 UTC times), so a webhook consumer and an API reader agree.

use serde_json::Value;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};

both_backends!(event_payloads_match_the_api,);

/// Every string in `v` that looks like a time (`YYYY-MM-DDTHH:MM:SS…`).
fn times(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s)
            if s.len() >= 20 && s.as_bytes()[10] == b'T' && s.as_bytes()[4] == b'-' =>
        {
            out.push(s.clone());
        }
        Value::Array(a) => a.iter().for_each(|x| times(x, out)),
        Value::Object(o) => o.values().for_each(|x| times(x, out)),
        _ => {}
    }
}

async fn event_payloads_match_the_api(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    for kind in [Kind::V2, Kind::V3] {
        let id = app.paid_order(&a, kind, &user, 800).await;
        let mut order = app.order_of(&a, &id).await;
        order.as_object_mut().unwrap().remove("history");
        let paid = app.events_of(&a, "payment.succeeded").await;
        let event = paid
            .iter()
            .find(|e| e["payload"]["id"] == id.as_str())
            .unwrap();
        assert_eq!(
            event["payload"], order,
            "payment.succeeded payload vs GET /v1/orders"
        );

        let refund = app.new_refund(&a, &id, 300).await;
        app.settle_refund_ok(&a, &refund).await;
        let refund_id = refund["id"].as_str().unwrap();
        let shown = app.get_refund(&a.api_key, refund_id).await.expect(200);
        let refunded = app.events_of(&a, "refund.succeeded").await;
        let event = refunded
            .iter()
            .find(|e| e["payload"]["id"] == refund_id)
            .unwrap();
        let mut all = Vec::new();
        times(&event["payload"], &mut all);
        assert!(
            all.iter().all(|t| t.ends_with('Z')),
            "times in UTC: {all:?}"
        );
        assert_eq!(
            event["payload"], shown,
            "refund.succeeded payload vs GET /v1/refunds"
        );
    }
    app.finish().await;
}
