//! The request pipeline around every route: request ids, the tracing span, metrics, the body
//! limit, the timeout, and turning the bare error responses of those layers into our envelope.
//!
//! Order, outermost first: request id → trace span → metrics → envelope → timeout → body limit.
//! The request id comes first so the span, every log line and the response carry it.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::error::ApiError;
use crate::state::AppState;

/// The request id header, read from clients and proxies and echoed on every response.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_REQUEST_ID_LEN: usize = 64;

/// The id of the current request (a request extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An incoming id is kept only if it is short and plain, so it is safe in logs and headers.
pub(crate) fn is_sane_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn generate_request_id() -> String {
    format!("req_{:032x}", rand::rng().random::<u128>())
}

async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_sane_request_id(v))
        .map_or_else(generate_request_id, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    response
}

fn make_span(req: &Request) -> tracing::Span {
    let id = req
        .extensions()
        .get::<RequestId>()
        .map_or("-", RequestId::as_str);
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str);
    tracing::info_span!("request", request_id = %id, method = %req.method(), route = %route)
}

/// Layers that answer on their own (timeout, body limit) and axum's method router write bare
/// bodies; give them the envelope like every other error.
async fn envelope_bare_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let replacement = match response.status() {
        StatusCode::REQUEST_TIMEOUT => ApiError::RequestTimeout,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        _ => return response,
    };
    let mut fixed = replacement.into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        fixed.headers_mut().insert(header::ALLOW, allow.clone());
    }
    fixed
}

/// Wraps a fully routed router in the pipeline.
pub(crate) fn apply(router: Router, state: &AppState) -> Router {
    let settings = state.settings();
    let body_limit = settings.body_limit_bytes;
    let timeout: Duration = settings.request_timeout;
    // `Router::layer` runs after routing, so `MatchedPath` is known to the span and metrics.
    // Layers added later wrap the earlier ones: the last `.layer` is the outermost.
    router
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(RequestBodyLimitLayer::new(body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(middleware::from_fn(envelope_bare_errors))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(make_span)
                .on_response(DefaultOnResponse::new().level(Level::INFO))
                // 5xx are logged once, with their cause, by `ApiError::into_response`.
                .on_failure(()),
        )
        .layer(middleware::from_fn(request_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::routing::get;
    use paygate_core::{ProviderRegistry, SystemClock};
    use paygate_store::{MasterKey, Store};
    use secrecy::SecretString;
    use tower::ServiceExt;

    use crate::settings::{JwtSettings, ServerSettings};

    #[tokio::test]
    async fn slow_requests_time_out_with_the_envelope() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("t.db").display());
        let store = Store::connect(&url, MasterKey::generate(1), Arc::new(SystemClock))
            .await
            .unwrap();
        let mut settings =
            ServerSettings::new(JwtSettings::new(SecretString::from("k".repeat(32))));
        settings.request_timeout = Duration::from_secs(5);
        let state = AppState::new(
            store,
            Arc::new(ProviderRegistry::default()),
            Arc::new(SystemClock),
            settings,
        );
        let app = apply(
            Router::new().route("/slow", get(std::future::pending::<&'static str>)),
            &state,
        );
        // Paused tokio time jumps to the timeout as soon as nothing else can run.
        tokio::time::pause();
        let response = app
            .oneshot(Request::get("/slow").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert!(response.headers().contains_key(&X_REQUEST_ID));
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "request_timeout");
    }

    #[test]
    fn request_id_rules() {
        assert!(is_sane_request_id("abc-123_X.y:z"));
        assert!(is_sane_request_id(&"a".repeat(64)));
        assert!(!is_sane_request_id(&"a".repeat(65)));
        assert!(!is_sane_request_id(""));
        assert!(!is_sane_request_id("has space"));
        assert!(!is_sane_request_id("inject\r\nx: y"));
        let generated = generate_request_id();
        assert!(is_sane_request_id(&generated));
        assert_ne!(generated, generate_request_id());
    }
}
