//! The WeChat-facing notify endpoints: `POST /notify/{channel_id}/payment` and
//! `POST /notify/{channel_id}/refund`.
//!
//! WeChat (never a tenant) calls these with the notify URL paygate gave at prepay / refund time.
//! The handlers only carry bytes: the raw body and headers go to
//! [`payments::notifications`](crate::payments::notifications), which verifies, converges and
//! commits; the reply is whatever the channel's provider says "done" or "send again" looks
//! like, written verbatim. This module must never acknowledge a notification before its effect
//! is committed, never parse a provider's wire format, and never branch on the protocol.

pub mod limits;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paygate_core::{ChannelId, HttpReply, NotificationKind, NotificationRequest};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::payments::notifications::{self, Handled};
use crate::state::AppState;

/// Notifications are small (a few KiB); anything larger is not from WeChat.
pub const BODY_LIMIT: usize = 64 * 1024;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payment_notification))
        .routes(routes!(refund_notification))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

/// A payment result notification from WeChat Pay (WeChat-facing; not for tenants).
///
/// The body is the provider's own format (v2 XML or v3 JSON, signed); the reply is the
/// provider's acknowledgement, sent only after the result is committed. A non-2xx reply (or
/// the provider's failure body) makes WeChat send the notification again later.
#[utoipa::path(
    post,
    path = "/{channel_id}/payment",
    tag = "notify",
    operation_id = "payment_notification",
    params(("channel_id" = String, Path, description = "The channel the notify URL names")),
    request_body(content = String, description = "WeChat's notification, verbatim", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Acknowledged in the provider's format"),
        (status = 404, description = "No such channel", body = String, content_type = "text/plain"),
        (status = 413, description = "Body over 64 KiB"),
        (status = 500, description = "Not processed: the provider's retry reply"),
    )
)]
pub async fn payment_notification(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, channel_id, NotificationKind::Payment, headers, body).await
}

/// A refund result notification from WeChat Pay (WeChat-facing; not for tenants).
#[utoipa::path(
    post,
    path = "/{channel_id}/refund",
    tag = "notify",
    operation_id = "refund_notification",
    params(("channel_id" = String, Path, description = "The channel the notify URL names")),
    request_body(content = String, description = "WeChat's notification, verbatim", content_type = "application/octet-stream"),
    responses(
        (status = 200, description = "Acknowledged in the provider's format"),
        (status = 404, description = "No such channel", body = String, content_type = "text/plain"),
        (status = 413, description = "Body over 64 KiB"),
        (status = 500, description = "Not processed: the provider's retry reply"),
    )
)]
pub async fn refund_notification(
    State(state): State<AppState>,
    Path(channel_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(state, channel_id, NotificationKind::Refund, headers, body).await
}

async fn handle(
    state: AppState,
    channel_id: String,
    kind: NotificationKind,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(channel_id) = channel_id.parse::<ChannelId>() else {
        return unknown_channel();
    };
    let request = NotificationRequest {
        // Headers that are not UTF-8 cannot be signature inputs; dropping them is safe.
        headers: headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: body.to_vec(),
    };
    match notifications::handle(&state, &channel_id, kind, &request).await {
        Handled::UnknownChannel => unknown_channel(),
        Handled::Reply(reply) => write_reply(reply),
    }
}

/// WeChat retries on anything but its acknowledgement, so a plain 404 is enough.
fn unknown_channel() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "unknown channel",
    )
        .into_response()
}

fn write_reply(reply: HttpReply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}
