//! Payment steps many tests share, each asserting that it worked: an order created with the
//! API key, paid through JSAPI and the simulated WeChat client, refunded and settled; plus
//! readers of what the operator sees (events, the order's history).

use serde_json::{Value, json};

use super::fixtures::random_text;
use super::pay::{Kind, PayApp, PayTenant, User};

/// A fresh valid out_trade_no (6–32 characters of the allowed set).
pub fn out_trade_no() -> String {
    format!("T{}", random_text(20))
}

/// The body of `POST /v1/orders` for `amount` fen on `tenant`'s channel of `kind`.
pub fn order_body(tenant: &PayTenant, kind: Kind, amount: i64) -> Value {
    json!({
        "appid": tenant.appid,
        "channel_id": tenant.channel(kind),
        "out_trade_no": out_trade_no(),
        "amount": amount,
        "description": "e2e order",
    })
}

impl PayApp {
    /// A CREATED order of `amount` fen; returns its JSON.
    pub async fn new_order(&self, tenant: &PayTenant, kind: Kind, amount: i64) -> Value {
        let body = order_body(tenant, kind, amount);
        let response = self.create_order(&tenant.api_key, &body).await;
        let order = response.expect(201);
        assert_eq!(order["state"], "CREATED", "{}", response.text);
        assert_eq!(order["amount"], amount);
        assert_eq!(order["currency"], "CNY");
        assert_eq!(order["out_trade_no"], body["out_trade_no"]);
        order
    }

    /// The order as its tenant's API key sees it.
    pub async fn order_of(&self, tenant: &PayTenant, id: &str) -> Value {
        self.order(&tenant.api_key, id).await.expect(200)
    }

    /// `POST /v1/orders/{id}/pay` as `user` (JSAPI); returns the `request_payment` object.
    pub async fn pay_jsapi(&self, user: &User, id: &str) -> Value {
        let response = self.pay(&user.token, id, "jsapi").await;
        let body = response.expect(200);
        assert_eq!(body["trade_type"], "jsapi", "{}", response.text);
        let rp = body["request_payment"].clone();
        for field in [
            "appId",
            "timeStamp",
            "nonceStr",
            "package",
            "signType",
            "paySign",
        ] {
            assert!(
                rp[field].as_str().is_some_and(|v| !v.is_empty()),
                "request_payment.{field} missing: {}",
                response.text
            );
        }
        assert!(
            rp["package"]
                .as_str()
                .is_some_and(|p| p.starts_with("prepay_id=")),
            "{}",
            response.text
        );
        rp
    }

    /// A PAID order of `amount` fen, paid by `user` through JSAPI and the notification.
    pub async fn paid_order(
        &self,
        tenant: &PayTenant,
        kind: Kind,
        user: &User,
        amount: i64,
    ) -> String {
        let order = self.new_order(tenant, kind, amount).await;
        let id = order["id"].as_str().expect("order id").to_owned();
        let rp = self.pay_jsapi(user, &id).await;
        self.request_payment(&tenant.appid, &user.openid, &rp, "success")
            .await
            .expect(200);
        self.deliver().await;
        let order = self.order_of(tenant, &id).await;
        assert_eq!(order["state"], "PAID", "{order}");
        id
    }

    /// A PENDING order of 880 fen on `kind`, being paid by `user` (JSAPI); returns its id and
    /// the `request_payment` fields.
    pub async fn pending_order(
        &self,
        tenant: &PayTenant,
        kind: Kind,
        user: &User,
    ) -> (String, Value) {
        let order = self.new_order(tenant, kind, 880).await;
        let id = order["id"].as_str().expect("order id").to_owned();
        let rp = self.pay_jsapi(user, &id).await;
        (id, rp)
    }

    /// Tenant A's user pays, and the simulator loses the notification; returns the body it
    /// recorded (and never sent).
    pub async fn pay_losing_notification(&self, user: &User, rp: &Value) -> String {
        let a = &self.a;
        self.fault("notification_lost", &a.mch_id, None).await;
        self.request_payment(&a.appid, &user.openid, rp, "success")
            .await
            .expect(200);
        assert_eq!(self.deliver().await, 0, "the notification is lost");
        let log = self.sim_notifications(&a.mch_id).await;
        let lost = log.last().expect("the simulator recorded it");
        assert_eq!(lost["lost"], true, "{lost}");
        lost["body"].as_str().expect("body").to_owned()
    }

    /// Refunds `amount` of `order` with a fresh out_refund_no; returns the refund (PROCESSING).
    pub async fn new_refund(&self, tenant: &PayTenant, order: &str, amount: i64) -> Value {
        let out_refund_no = format!("R{}", random_text(16));
        let response = self
            .refund(
                &tenant.api_key,
                order,
                &json!({ "amount": amount, "out_refund_no": out_refund_no, "reason": "e2e" }),
            )
            .await;
        let refund = response.expect(201);
        assert_eq!(refund["amount"], amount, "{}", response.text);
        assert_eq!(refund["out_refund_no"], out_refund_no.as_str());
        assert_eq!(refund["state"], "PROCESSING", "{}", response.text);
        refund
    }

    /// Settles `refund` as SUCCESS at the simulator, delivers the notification and checks
    /// paygate saw it.
    pub async fn settle_refund_ok(&self, tenant: &PayTenant, refund: &Value) {
        let out_refund_no = refund["out_refund_no"].as_str().expect("out_refund_no");
        self.settle_success(&tenant.mch_id, out_refund_no).await;
        self.deliver().await;
        let id = refund["id"].as_str().expect("refund id");
        let now = self.get_refund(&tenant.api_key, id).await.expect(200);
        assert_eq!(now["state"], "SUCCESS", "{now}");
    }

    /// The tenant's events of `event_type`, as the operator sees them.
    pub async fn events_of(&self, tenant: &PayTenant, event_type: &str) -> Vec<Value> {
        let body = self
            .tenant_view(&self.admin.token, &tenant.id, "events", "?limit=200")
            .await
            .expect(200);
        body["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter(|e| e["event_type"] == event_type)
            .cloned()
            .collect()
    }

    /// Events of `event_type` that name `order` anywhere in their payload.
    pub async fn order_events(&self, tenant: &PayTenant, event_type: &str, order: &str) -> usize {
        self.events_of(tenant, event_type)
            .await
            .iter()
            .filter(|e| e["payload"].to_string().contains(order))
            .count()
    }

    /// `(from, to)` of each transition in the order's history (admin view).
    pub async fn history(&self, tenant: &PayTenant, order: &str) -> Vec<(String, String)> {
        let body = self
            .get_order(&self.admin.token, &tenant.id, order)
            .await
            .expect(200);
        body["history"]
            .as_array()
            .expect("history")
            .iter()
            .map(|t| {
                (
                    t["from"].as_str().unwrap_or_default().to_owned(),
                    t["to"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}
