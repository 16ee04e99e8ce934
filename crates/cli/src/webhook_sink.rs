//! The demo's stand-in for a tenant backend: a tiny HTTP endpoint that accepts paygate's
//! webhooks, logs one line per delivery and keeps the last few for `GET` (so a walkthrough can
//! show what arrived).
//!
//! Demo only. It verifies nothing and must never be used as a real webhook consumer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use serde::Serialize;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How many deliveries `GET /webhook` shows.
const KEEP: usize = 50;
/// The path webhooks are posted to.
pub const PATH: &str = "/webhook";

/// One delivery as received.
#[derive(Debug, Clone, Serialize)]
pub struct Received {
    /// Headers whose names start with `x-paygate` or `webhook`, plus `content-type`.
    pub headers: Vec<(String, String)>,
    /// The body, as JSON when it parses, else as text.
    pub body: serde_json::Value,
}

type Log = Arc<Mutex<VecDeque<Received>>>;

/// A running receiver.
#[derive(Debug)]
pub struct WebhookReceiver {
    url: String,
    log: Log,
    stop: watch::Sender<bool>,
    task: JoinHandle<std::io::Result<()>>,
}

impl WebhookReceiver {
    /// Listens on `127.0.0.1:<ephemeral>`.
    pub async fn spawn() -> std::io::Result<WebhookReceiver> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let addr = listener.local_addr()?;
        let log: Log = Arc::default();
        let app = Router::new()
            .route(PATH, post(receive).get(list))
            .with_state(log.clone());
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await
        });
        Ok(WebhookReceiver {
            url: format!("http://{addr}{PATH}"),
            log,
            stop,
            task,
        })
    }

    /// `http://127.0.0.1:PORT/webhook`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The deliveries received so far (newest last).
    pub fn received(&self) -> Vec<Received> {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Completes if the receiver stops on its own (it should not).
    pub async fn stopped(&mut self) {
        let _ = (&mut self.task).await;
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn receive(State(log): State<Log>, headers: HeaderMap, body: Bytes) -> &'static str {
    let kept: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| {
            let n = name.as_str();
            n.starts_with("x-paygate") || n.starts_with("webhook") || n == "content-type"
        })
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| serde_json::Value::from(String::from_utf8_lossy(&body).into_owned()));
    let event_type = body.get("type").and_then(|t| t.as_str()).unwrap_or("?");
    let event_id = body.get("id").and_then(|t| t.as_str()).unwrap_or("?");
    tracing::info!(
        target: "paygate::demo::webhook",
        event_type,
        event_id,
        "demo webhook receiver got a delivery"
    );
    let mut log = log.lock().unwrap_or_else(PoisonError::into_inner);
    if log.len() == KEEP {
        log.pop_front();
    }
    log.push_back(Received {
        headers: kept,
        body,
    });
    "ok"
}

async fn list(State(log): State<Log>) -> axum::Json<Vec<Received>> {
    axum::Json(
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect(),
    )
}
