//! The read-only views of the admin API: lists answer the standard envelope, and a tenant's
//! data is reachable only under that tenant. Orders are arranged through the store because
//! the payment API does not exist yet.

use paygate_core::Money;
use paygate_store::{Audit, NewOrder, OrderTradeType};
use serde_json::json;

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(views_list_a_tenants_data_only);

async fn views_list_a_tenants_data_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let other = app.new_tenant().await;
    let appid = app.new_app(&tid).await;
    let channel = app.new_v3_channel(&tid).await;
    let order = app
        .store()
        .orders()
        .create(
            &Audit::system(),
            &tid.parse().expect("tenant id"),
            &NewOrder {
                appid: appid.parse().expect("appid"),
                channel_id: channel.id.parse().expect("channel id"),
                out_trade_no: "E2E20250101000001".parse().expect("out_trade_no"),
                amount: Money::from_fen(1234).expect("money"),
                description: "coffee".to_owned(),
                attach: None,
                trade_type: OrderTradeType::Native,
                payer_openid: None,
                client_ip: None,
                expires_at: None,
            },
        )
        .await
        .expect("order");
    let oid = order.id.as_str().to_owned();

    let orders = app
        .tenant_view(&admin, &tid, "orders", "")
        .await
        .expect(200);
    assert_eq!(orders["next_cursor"], json!(null));
    let listed = &orders["data"][0];
    assert_eq!(listed["id"], oid.as_str(), "{orders}");
    assert_eq!(listed["amount"], 1234, "amounts are integer fen");
    assert_eq!(listed["currency"], "CNY");
    assert_eq!(listed["state"], "CREATED");
    assert_eq!(listed["trade_type"], "NATIVE");
    let mut detail = app.get_order(&admin, &tid, &oid).await.expect(200);
    let history = detail
        .as_object_mut()
        .and_then(|o| o.remove("history"))
        .expect("an order's detail has its history");
    assert_eq!(history, json!([]), "no transitions yet");
    assert_eq!(
        &detail, listed,
        "the detail is the list row plus its history"
    );
    let paid = app
        .tenant_view(&admin, &tid, "orders", "?state=PAID")
        .await
        .expect(200);
    assert_eq!(paid["data"], json!([]));
    let bad_state = app
        .tenant_view(&admin, &tid, "orders", "?state=SHIPPED")
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(bad_state["details"]["field"], "state", "{bad_state}");

    // Another tenant sees nothing of it.
    app.get_order(&admin, &other, &oid)
        .await
        .expect_error(404, "order_not_found");
    let theirs = app
        .tenant_view(&admin, &other, "orders", "")
        .await
        .expect(200);
    assert_eq!(theirs["data"], json!([]));

    for what in ["refunds", "notifications", "events", "webhook-deliveries"] {
        let list = app.tenant_view(&admin, &tid, what, "").await.expect(200);
        assert_eq!(list, json!({ "data": [], "next_cursor": null }), "{what}");
    }
    app.tenant_view(&admin, "ten_01ARZ3NDEKTSV4RRFFQ69G5FAV", "orders", "")
        .await
        .expect_error(404, "tenant_not_found");

    let stats = app
        .stats(&admin, &format!("?tenant_id={tid}"))
        .await
        .expect(200);
    assert_eq!(stats["tenant_id"], tid.as_str());
    assert!(
        stats["from"].is_string() && stats["to"].is_string(),
        "{stats}"
    );
    assert!(stats["days"].is_array(), "{stats}");
    let reversed = app
        .stats(&admin, "?from=2025-02-01&to=2025-01-01")
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(reversed["details"]["field"], "from", "{reversed}");
    let malformed = app
        .stats(&admin, "?from=yesterday")
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(malformed["details"]["field"], "from", "{malformed}");
    let alerts = app.alerts(&admin, "?unresolved=true").await.expect(200);
    assert!(alerts["data"].is_array(), "{alerts}");

    app.finish().await;
}
