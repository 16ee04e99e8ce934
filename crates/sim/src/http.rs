//! HTTP plumbing shared by every protocol module: fault injection around a handler, the
//! "dropped connection" reply, and small response helpers.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::faults::FaultKind;
use crate::state::Sim;

/// What fault injection decided for one call.
#[derive(Debug)]
pub enum Injected {
    /// Handle the call normally.
    Proceed,
    /// Answer this instead of handling the call.
    Respond(Response),
    /// Handle the call, then cut the connection instead of replying.
    DropAfter,
}

/// Consumes a matching request fault. `busy` builds the protocol's own "system busy" answer.
pub async fn inject(
    sim: &Sim,
    path: &str,
    mch_id: Option<&str>,
    busy: impl FnOnce() -> Response,
) -> Injected {
    let Some(fault) = sim.faults.take_request(path, mch_id) else {
        return Injected::Proceed;
    };
    tracing::info!(path, ?fault.kind, "injecting fault");
    match fault.kind {
        FaultKind::SystemError => Injected::Respond(busy()),
        FaultKind::Http500 => Injected::Respond(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "text/html")],
                "<html><body><h1>500 Internal Server Error</h1></body></html>",
            )
                .into_response(),
        ),
        FaultKind::Delay => {
            tokio::time::sleep(std::time::Duration::from_millis(fault.delay_ms)).await;
            Injected::Proceed
        }
        FaultKind::DropConnection => Injected::DropAfter,
        // Probe signatures are applied by the v3 signer; notification faults never get here.
        FaultKind::Signtest
        | FaultKind::NotificationLost
        | FaultKind::NotificationDuplicate
        | FaultKind::NotificationReorder => Injected::Proceed,
    }
}

/// A body that fails on first read: hyper aborts the connection, so the client sees a
/// transport error, not an HTTP answer.
#[derive(Debug)]
struct BrokenBody;

impl http_body::Body for BrokenBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "simulated dropped connection",
        ))))
    }
}

/// The reply of a call whose connection is "dropped".
pub fn dropped() -> Response {
    let mut r = Response::new(Body::new(BrokenBody));
    // A length the body never delivers makes even a lenient client notice the cut.
    r.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1024"));
    r
}

/// A JSON response with the given status.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}
