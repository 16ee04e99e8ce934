//! A tenant backend for webhook tests: an axum server on 127.0.0.1:0 that checks every
//! delivery's Standard Webhooks signature and answers from a script (e.g. three 500s, then
//! 200), plus [`WebhookApp`], which arranges a tenant, its endpoint and its events and runs the
//! delivery worker's `run_once` on paygate's manual clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use paygate_core::{Clock, EventId, OrderId, ProviderRegistry, TenantId};
use paygate_server::webhooks::WebhookSettings;
use paygate_server::webhooks::sign;
use paygate_server::webhooks::worker::{self, DeliveryReport};
use paygate_server::{AppState, JwtSettings, ServerSettings};
use paygate_store::{Audit, EventDelivery, QueuedEvent, Store};
use secrecy::SecretString;
use tokio::task::JoinHandle;

use super::{Backend, TestApp};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: i64,
    pub signature: String,
    pub body: serde_json::Value,
    /// The signature verified under the receiver's secret.
    pub verified: bool,
}

#[derive(Default)]
struct Shared {
    secret: Option<SecretString>,
    script: VecDeque<Reply>,
    by_id: HashMap<String, VecDeque<Reply>>,
    received: Vec<Received>,
}

/// The receiving tenant backend.
pub struct Receiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
    task: JoinHandle<()>,
}

impl Receiver {
    pub async fn spawn() -> Receiver {
        let shared = Arc::new(Mutex::new(Shared::default()));
        let router = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Receiver { url, shared, task }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The secret signatures are checked with.
    pub fn set_secret(&self, secret: SecretString) {
        self.lock().secret = Some(secret);
    }

    /// Answers the next requests with `replies` (then 200).
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.lock().script.extend(replies);
    }

    /// Answers the next deliveries of message `id` with `replies` (before the general script).
    pub fn script_for(&self, id: &str, replies: impl IntoIterator<Item = Reply>) {
        self.lock()
            .by_id
            .entry(id.to_owned())
            .or_default()
            .extend(replies);
    }

    pub fn received(&self) -> Vec<Received> {
        self.lock().received.clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Mutex<Shared>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let id = header(sign::HEADER_ID);
    let timestamp = header(sign::HEADER_TIMESTAMP).parse().unwrap_or(-1);
    let signature = header(sign::HEADER_SIGNATURE);
    let mut shared = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let verified = shared
        .secret
        .as_ref()
        .is_some_and(|s| sign::verify(s, &id, timestamp, &body, &signature));
    let scripted = shared.by_id.get_mut(&id).and_then(VecDeque::pop_front);
    shared.received.push(Received {
        id,
        timestamp,
        signature,
        body: serde_json::from_slice(&body).unwrap_or_default(),
        verified,
    });
    let reply = scripted
        .or_else(|| shared.script.pop_front())
        .unwrap_or(Reply::status(200));
    let mut response = StatusCode::from_u16(reply.status)
        .unwrap_or(StatusCode::OK)
        .into_response();
    for (name, value) in reply.headers {
        response
            .headers_mut()
            .insert(name, value.parse().expect("header value"));
    }
    response
}

/// A paygate with one tenant whose endpoint is a [`Receiver`].
pub struct WebhookApp {
    pub app: TestApp,
    pub state: AppState,
    pub tenant: TenantId,
    pub secret: SecretString,
    pub receiver: Receiver,
    pub settings: WebhookSettings,
}

/// An [`AppState`] over `store` on `clock` (what `paygate serve` hands the worker).
pub fn state_over(store: &Store, clock: Arc<dyn Clock>, jwt_secret: &str) -> AppState {
    let jwt = JwtSettings::new(SecretString::from(jwt_secret.to_owned()));
    AppState::new(
        store.clone(),
        Arc::new(ProviderRegistry::default()),
        clock,
        ServerSettings::new(jwt),
    )
}

impl WebhookApp {
    pub async fn spawn(backend: Backend) -> WebhookApp {
        let app = TestApp::spawn(backend).await;
        let tenant: TenantId = app.new_tenant().await.parse().expect("tenant id");
        let receiver = Receiver::spawn().await;
        let (_, secret) = app
            .store()
            .webhooks()
            .put_url(&Audit::system(), &tenant, &receiver.url)
            .await
            .expect("endpoint");
        let secret = secret.expect("a new endpoint has a secret");
        receiver.set_secret(secret.clone());
        let clock: Arc<dyn Clock> = Arc::new(app.clock.clone());
        let state = state_over(app.store(), clock, &app.jwt_secret);
        let settings = WebhookSettings {
            allow_private_targets: true,
            ..WebhookSettings::default()
        };
        WebhookApp {
            app,
            state,
            tenant,
            secret,
            receiver,
            settings,
        }
    }

    /// Appends an outbox event, as the payment services do.
    pub async fn event(&self, event_type: &str, order: Option<&OrderId>) -> EventId {
        let mut tx = self.app.store().begin().await.expect("begin");
        let payload = serde_json::json!({ "order_id": order.map(OrderId::as_str) });
        let id = tx
            .append_event(&self.tenant, event_type, &payload, order)
            .await
            .expect("event");
        tx.commit().await.expect("commit");
        // Events of one order must be created at distinct instants, as in real life.
        self.app.clock.advance(time::Duration::milliseconds(1));
        id
    }

    pub async fn run(&self) -> DeliveryReport {
        worker::run_once(&self.state, &self.settings).await
    }

    pub async fn queued(&self, id: &EventId) -> QueuedEvent {
        self.app
            .store()
            .webhook_deliveries()
            .event(&self.tenant, id)
            .await
            .expect("event")
    }

    /// Runs the worker at each due time until event `id` settles; returns the attempt
    /// instants.
    pub async fn settle(&self, id: &EventId) -> Vec<time::OffsetDateTime> {
        let mut times = Vec::new();
        loop {
            times.push(self.app.clock.now());
            self.run().await;
            let queued = self.queued(id).await;
            if queued.status != EventDelivery::Pending {
                return times;
            }
            assert!(times.len() < 50, "never settles");
            self.set_clock(queued.next_attempt_at);
        }
    }

    /// Moves paygate's clock to `at`.
    pub fn set_clock(&self, at: time::OffsetDateTime) {
        self.app.clock.set(at);
    }

    pub async fn finish(self) {
        self.app.finish().await;
    }
}
