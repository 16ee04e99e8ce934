//! A merchant's notify endpoint for tests: an axum server on port 0 that hands every request to
//! a provider's `parse_notification` and answers with its `notification_reply`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use paygate_core::{
    Notification, NotificationKind, NotificationOutcome, NotificationRequest, Provider,
    ProviderError,
};

pub type Parsed = Result<Notification, ProviderError>;

#[derive(Clone)]
struct Inner {
    provider: Arc<dyn Provider>,
    received: Arc<Mutex<Vec<Parsed>>>,
}

pub struct Listener {
    pub base: String,
    received: Arc<Mutex<Vec<Parsed>>>,
}

impl Listener {
    pub async fn start(provider: Arc<dyn Provider>) -> Listener {
        let received = Arc::new(Mutex::new(Vec::new()));
        let inner = Inner {
            provider,
            received: received.clone(),
        };
        let app = axum::Router::new()
            .route("/notify/payment", post(payment))
            .route("/notify/refund", post(refund))
            .with_state(inner);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Listener { base, received }
    }

    pub fn payment_url(&self) -> paygate_core::NotifyUrl {
        format!("{}/notify/payment", self.base).parse().unwrap()
    }

    pub fn refund_url(&self) -> paygate_core::NotifyUrl {
        format!("{}/notify/refund", self.base).parse().unwrap()
    }

    /// Everything received so far, parsed by the provider.
    pub fn take(&self) -> Vec<Parsed> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

async fn handle(s: Inner, kind: NotificationKind, headers: HeaderMap, body: Bytes) -> Response {
    let req = NotificationRequest {
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let parsed = s.provider.parse_notification(kind, &req).await;
    let outcome = match &parsed {
        Ok(_) => NotificationOutcome::Done,
        Err(e) => NotificationOutcome::Retry {
            message: e.to_string(),
        },
    };
    s.received.lock().unwrap().push(parsed);
    let reply = s.provider.notification_reply(&outcome);
    (
        axum::http::StatusCode::from_u16(reply.status).unwrap(),
        [(axum::http::header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}

async fn payment(State(s): State<Inner>, headers: HeaderMap, body: Bytes) -> Response {
    handle(s, NotificationKind::Payment, headers, body).await
}

async fn refund(State(s): State<Inner>, headers: HeaderMap, body: Bytes) -> Response {
    handle(s, NotificationKind::Refund, headers, body).await
}
