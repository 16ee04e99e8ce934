//! [`PaymentError`]: the tenant payment API's own failures (`/v1`), each with its status and
//! stable code, wrapped by [`ApiError::Payment`](super::ApiError::Payment).
//!
//! Upstream (WeChat) failures are reduced to three codes a client can act on:
//! `upstream_unavailable` (retry later), `upstream_rejected` (WeChat's code in
//! `details.upstream_code`; retrying the same request will not help) and
//! `channel_misconfigured` / `app_misconfigured` (the operator must fix credentials). Messages
//! never quote a secret, a token or an openid.

use axum::http::StatusCode;

use super::ErrorDetails;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PaymentError {
    #[error("a mini-program session cannot do this; use an API key")]
    SessionNotAllowed,
    #[error("this order belongs to another user")]
    OrderNotYours,
    #[error("too many requests; slow down")]
    RateLimited { retry_after_secs: u64 },
    #[error("the login code was rejected by WeChat: {reason}")]
    InvalidLoginCode { reason: &'static str },
    #[error("the order is already paid")]
    OrderAlreadyPaid,
    #[error("the order is closed")]
    OrderClosed,
    #[error("the order cannot be paid in its current state")]
    OrderNotPayable,
    #[error("the order has expired")]
    OrderExpired,
    #[error("only paid orders can be refunded")]
    OrderNotRefundable,
    #[error("the refund exceeds the refundable amount ({available} fen)")]
    RefundExceedsAvailable { available: i64 },
    #[error("this out_refund_no was used for a refund of another amount or order")]
    OutRefundNoReused,
    #[error("this Idempotency-Key was used for a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still in progress")]
    IdempotencyKeyInProgress,
    #[error("no active payment channel: configure one or pass channel_id")]
    NoChannel,
    #[error("the payment channel is disabled")]
    ChannelDisabled,
    #[error("WeChat is unavailable; retry later")]
    UpstreamUnavailable,
    #[error("WeChat refused the request: {message}")]
    UpstreamRejected { code: String, message: String },
    #[error("the payment channel's credentials were refused; the operator must fix them")]
    ChannelMisconfigured,
    #[error("the mini-program's AppSecret was refused; the operator must fix it")]
    AppMisconfigured,
    #[error("payments are not configured on this server (public_url is not set)")]
    PaymentsNotConfigured,
}

impl PaymentError {
    pub const SAMPLES: [PaymentError; 20] = [
        PaymentError::SessionNotAllowed,
        PaymentError::OrderNotYours,
        PaymentError::RateLimited {
            retry_after_secs: 1,
        },
        PaymentError::InvalidLoginCode { reason: "r" },
        PaymentError::OrderAlreadyPaid,
        PaymentError::OrderClosed,
        PaymentError::OrderNotPayable,
        PaymentError::OrderExpired,
        PaymentError::OrderNotRefundable,
        PaymentError::RefundExceedsAvailable { available: 0 },
        PaymentError::OutRefundNoReused,
        PaymentError::IdempotencyKeyReused,
        PaymentError::IdempotencyKeyInProgress,
        PaymentError::NoChannel,
        PaymentError::ChannelDisabled,
        PaymentError::UpstreamUnavailable,
        PaymentError::UpstreamRejected {
            code: String::new(),
            message: String::new(),
        },
        PaymentError::ChannelMisconfigured,
        PaymentError::AppMisconfigured,
        PaymentError::PaymentsNotConfigured,
    ];

    pub fn status(&self) -> StatusCode {
        match self {
            PaymentError::SessionNotAllowed | PaymentError::OrderNotYours => StatusCode::FORBIDDEN,
            PaymentError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            PaymentError::InvalidLoginCode { .. }
            | PaymentError::RefundExceedsAvailable { .. }
            | PaymentError::IdempotencyKeyReused
            | PaymentError::NoChannel
            | PaymentError::ChannelDisabled => StatusCode::UNPROCESSABLE_ENTITY,
            PaymentError::OrderAlreadyPaid
            | PaymentError::OrderClosed
            | PaymentError::OrderNotPayable
            | PaymentError::OrderExpired
            | PaymentError::OrderNotRefundable
            | PaymentError::OutRefundNoReused
            | PaymentError::IdempotencyKeyInProgress => StatusCode::CONFLICT,
            PaymentError::UpstreamUnavailable | PaymentError::PaymentsNotConfigured => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            PaymentError::UpstreamRejected { .. }
            | PaymentError::ChannelMisconfigured
            | PaymentError::AppMisconfigured => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            PaymentError::SessionNotAllowed => "session_not_allowed",
            PaymentError::OrderNotYours => "order_not_yours",
            PaymentError::RateLimited { .. } => "rate_limited",
            PaymentError::InvalidLoginCode { .. } => "invalid_login_code",
            PaymentError::OrderAlreadyPaid => "order_already_paid",
            PaymentError::OrderClosed => "order_closed",
            PaymentError::OrderNotPayable => "order_not_payable",
            PaymentError::OrderExpired => "order_expired",
            PaymentError::OrderNotRefundable => "order_not_refundable",
            PaymentError::RefundExceedsAvailable { .. } => "refund_exceeds_available",
            PaymentError::OutRefundNoReused => "out_refund_no_reused",
            PaymentError::IdempotencyKeyReused => "idempotency_key_reused",
            PaymentError::IdempotencyKeyInProgress => "idempotency_key_in_progress",
            PaymentError::NoChannel => "no_channel",
            PaymentError::ChannelDisabled => "channel_disabled",
            PaymentError::UpstreamUnavailable => "upstream_unavailable",
            PaymentError::UpstreamRejected { .. } => "upstream_rejected",
            PaymentError::ChannelMisconfigured => "channel_misconfigured",
            PaymentError::AppMisconfigured => "app_misconfigured",
            PaymentError::PaymentsNotConfigured => "payments_not_configured",
        }
    }

    /// Seconds for `Retry-After`, when waiting helps.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            PaymentError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            PaymentError::UpstreamUnavailable => Some(1),
            _ => None,
        }
    }

    pub(super) fn details(&self) -> Option<ErrorDetails> {
        match self {
            PaymentError::RateLimited { retry_after_secs } => Some(ErrorDetails {
                retry_after_seconds: Some(*retry_after_secs),
                ..ErrorDetails::default()
            }),
            PaymentError::UpstreamRejected { code, .. } => Some(ErrorDetails {
                upstream_code: Some(code.clone()),
                ..ErrorDetails::default()
            }),
            PaymentError::RefundExceedsAvailable { available } => Some(ErrorDetails {
                field: Some("amount".to_owned()),
                available_amount: Some(*available),
                ..ErrorDetails::default()
            }),
            PaymentError::UpstreamUnavailable => Some(ErrorDetails {
                retryable: Some(true),
                ..ErrorDetails::default()
            }),
            _ => None,
        }
    }
}
