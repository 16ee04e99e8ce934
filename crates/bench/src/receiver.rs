//! The bench's tenant backend: an axum endpoint on `127.0.0.1:<ephemeral>` that receives
//! paygate's webhooks, checks each one's Standard Webhooks signature (HMAC-SHA256 with the
//! tenant's `whsec_` secret, via aws-lc-rs), records it in a [`WebhookLog`] and wakes the
//! payment waiting for it.
//!
//! It shares no code with the server on purpose: it checks paygate from the outside, as a
//! tenant would. It never logs a secret or a body, and it answers every delivery quickly (a
//! slow receiver would measure itself, not paygate).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use anyhow::Context;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Event types the load driver waits for.
pub const PAYMENT_SUCCEEDED: &str = "payment.succeeded";
pub const REFUND_SUCCEEDED: &str = "refund.succeeded";

/// What the receiver knows of one event (by its `webhook-id`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookRecord {
    pub event_type: String,
    pub tenant_id: String,
    /// The order the event is about (`data.id` of an order event, `data.order_id` of a refund
    /// event).
    pub order_id: Option<String>,
    /// Deliveries of this event id (more than one: a retry or a duplicate).
    pub deliveries: u32,
}

/// Every webhook the receiver accepted, by event id, and the ones it refused.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WebhookLog {
    pub events: HashMap<String, WebhookRecord>,
    /// Deliveries whose signature did not verify (or whose headers were missing/mismatched):
    /// each one is a paygate bug as far as the bench is concerned.
    pub rejected: u64,
    /// All deliveries accepted, duplicates included.
    pub deliveries: u64,
}

impl WebhookLog {
    /// Event ids delivered more than once.
    pub fn redelivered(&self) -> usize {
        self.events.values().filter(|r| r.deliveries > 1).count()
    }

    /// Events of `event_type` about `order_id`.
    pub fn count_for(&self, order_id: &str, event_type: &str) -> usize {
        self.events
            .values()
            .filter(|r| r.event_type == event_type && r.order_id.as_deref() == Some(order_id))
            .count()
    }
}

type Key = (String, String);

#[derive(Default)]
struct Shared {
    /// Tenant id → HMAC key (the base64-decoded part of `whsec_…`).
    secrets: HashMap<String, Vec<u8>>,
    /// (order id, event type) → payments waiting for it.
    waiters: HashMap<Key, Vec<oneshot::Sender<Instant>>>,
    /// (order id, event type) → first arrival nobody was waiting for yet.
    arrived: HashMap<Key, Instant>,
    log: WebhookLog,
}

/// A running receiver. Dropping it stops the listener.
#[derive(Debug)]
pub struct WebhookReceiver {
    url: String,
    shared: Arc<Mutex<SharedBox>>,
    task: JoinHandle<()>,
}

/// `Shared` behind a `Debug` that shows no secret.
struct SharedBox(Shared);

impl std::fmt::Debug for SharedBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookReceiverState")
    }
}

impl WebhookReceiver {
    /// Listens on `127.0.0.1:<ephemeral>`.
    pub async fn spawn() -> anyhow::Result<WebhookReceiver> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("binding the webhook receiver")?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Mutex::new(SharedBox(Shared::default())));
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(WebhookReceiver {
            url: format!("http://{addr}/webhooks/paygate"),
            shared,
            task,
        })
    }

    /// The endpoint URL to register with paygate.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SharedBox> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Trusts `whsec_…` for `tenant_id`'s deliveries.
    pub fn set_secret(&self, tenant_id: &str, whsec: &str) -> anyhow::Result<()> {
        let key = whsec
            .strip_prefix("whsec_")
            .and_then(|b| B64.decode(b).ok())
            .filter(|k| !k.is_empty())
            .context("the webhook signing secret is not whsec_ + base64")?;
        self.lock().0.secrets.insert(tenant_id.to_owned(), key);
        Ok(())
    }

    /// Completes with the arrival time of the first `event_type` webhook about `order_id`
    /// (immediately if it already came). Register before triggering the event.
    pub fn wait_for(&self, order_id: &str, event_type: &str) -> oneshot::Receiver<Instant> {
        let (tx, rx) = oneshot::channel();
        let key = (order_id.to_owned(), event_type.to_owned());
        let mut guard = self.lock();
        if let Some(at) = guard.0.arrived.remove(&key) {
            let _ = tx.send(at);
        } else {
            guard.0.waiters.entry(key).or_default().push(tx);
        }
        rx
    }

    /// A copy of everything received so far.
    pub fn log(&self) -> WebhookLog {
        self.lock().0.log.clone()
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<SharedBox>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let now = Instant::now();
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    let mut guard = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let state = &mut guard.0;
    let Some(event) = parsed.as_ref().and_then(Event::from_body) else {
        state.log.rejected += 1;
        return StatusCode::BAD_REQUEST;
    };
    let verified = match (
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        state.secrets.get(&event.tenant_id),
    ) {
        (Some(id), Some(ts), Some(sig), Some(key)) if id == event.id => {
            signature_valid(key, id, ts, &body, sig)
        }
        _ => false,
    };
    if !verified {
        state.log.rejected += 1;
        // 400, not 401: paygate retries either way, and the run reports the rejection.
        return StatusCode::BAD_REQUEST;
    }
    state.log.deliveries += 1;
    let record = state
        .log
        .events
        .entry(event.id.clone())
        .or_insert_with(|| WebhookRecord {
            event_type: event.event_type.clone(),
            tenant_id: event.tenant_id.clone(),
            order_id: event.order_id.clone(),
            deliveries: 0,
        });
    record.deliveries += 1;
    let first = record.deliveries == 1;
    if let (Some(order_id), true) = (event.order_id, first) {
        let key = (order_id, event.event_type);
        match state.waiters.remove(&key) {
            Some(waiters) => {
                for w in waiters {
                    let _ = w.send(now);
                }
            }
            None => {
                state.arrived.entry(key).or_insert(now);
            }
        }
    }
    StatusCode::NO_CONTENT
}

/// The parts of a webhook body the bench reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    id: String,
    event_type: String,
    tenant_id: String,
    order_id: Option<String>,
}

impl Event {
    fn from_body(body: &serde_json::Value) -> Option<Event> {
        let s = |v: &serde_json::Value| v.as_str().map(str::to_owned);
        let event_type = s(&body["type"])?;
        let data = &body["data"];
        // An order event's payload is the order (`id`); a refund event's is the refund, which
        // names its order (`order_id`).
        let order_id = if event_type.starts_with("refund.") {
            s(&data["order_id"])
        } else {
            s(&data["id"])
        };
        Some(Event {
            id: s(&body["id"])?,
            event_type,
            tenant_id: s(&body["tenant_id"])?,
            order_id,
        })
    }
}

/// Whether one of the space-separated `v1,<base64>` signatures is
/// HMAC-SHA256(key, "{id}.{timestamp}.{body}") (constant-time comparison by aws-lc-rs).
pub fn signature_valid(key: &[u8], id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, key);
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    header.split_whitespace().any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .and_then(|b| B64.decode(b).ok())
            .is_some_and(|tag| aws_lc_rs::hmac::verify(&key, &message, &tag).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The Standard Webhooks specification's example (secret, id, timestamp, body, signature).
    #[test]
    fn standard_webhooks_known_answer() {
        let key = B64.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        assert!(signature_valid(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            body,
            sig
        ));
        assert!(!signature_valid(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265331",
            body,
            sig
        ));
        // One of several (a secret rollover) is enough.
        let two = format!("v1,AAAA {sig}");
        assert!(signature_valid(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            body,
            &two
        ));
    }

    #[test]
    fn events_name_their_order() {
        let paid = json!({"id": "evt_1", "type": "payment.succeeded", "tenant_id": "ten_1",
            "data": {"id": "ord_1", "state": "PAID"}});
        let e = Event::from_body(&paid).unwrap();
        assert_eq!(e.order_id.as_deref(), Some("ord_1"));
        let refunded = json!({"id": "evt_2", "type": "refund.succeeded", "tenant_id": "ten_1",
            "data": {"id": "rf_1", "order_id": "ord_1"}});
        let e = Event::from_body(&refunded).unwrap();
        assert_eq!(e.order_id.as_deref(), Some("ord_1"));
        assert!(Event::from_body(&json!({"type": "x"})).is_none());
    }

    #[tokio::test]
    async fn a_signed_delivery_wakes_its_waiter_and_a_forged_one_is_counted() {
        let receiver = WebhookReceiver::spawn().await.unwrap();
        let raw_key = b"0123456789abcdef0123456789abcdef";
        let secret = format!("whsec_{}", B64.encode(raw_key));
        receiver.set_secret("ten_1", &secret).unwrap();
        let waiting = receiver.wait_for("ord_9", PAYMENT_SUCCEEDED);
        let body = json!({"id": "evt_9", "type": "payment.succeeded", "tenant_id": "ten_1",
            "created_at": "2026-01-01T00:00:00Z", "data": {"id": "ord_9"}})
        .to_string();
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, raw_key),
            format!("evt_9.1700000000.{body}").as_bytes(),
        );
        let client = reqwest::Client::new();
        let send = |sig: String| {
            client
                .post(receiver.url())
                .header("webhook-id", "evt_9")
                .header("webhook-timestamp", "1700000000")
                .header("webhook-signature", sig)
                .body(body.clone())
                .send()
        };
        let forged = send("v1,AAAA".into()).await.unwrap();
        assert_eq!(forged.status(), 400);
        let ok = send(format!("v1,{}", B64.encode(tag.as_ref())))
            .await
            .unwrap();
        assert_eq!(ok.status(), 204);
        waiting.await.unwrap();
        let log = receiver.log();
        assert_eq!(log.rejected, 1);
        assert_eq!(log.deliveries, 1);
        assert_eq!(log.count_for("ord_9", PAYMENT_SUCCEEDED), 1);
        assert_eq!(log.redelivered(), 0);
        // A redelivery is counted, and wakes nobody twice.
        let again = send(format!("v1,{}", B64.encode(tag.as_ref())))
            .await
            .unwrap();
        assert_eq!(again.status(), 204);
        assert_eq!(receiver.log().redelivered(), 1);
    }
}
