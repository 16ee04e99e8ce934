//! [`ApiError`]: every failure the HTTP API can answer with, its status and its stable code,
//! rendered as the envelope `{"code": "...", "message": "...", "details": {...}}`.
//!
//! This is the ONE place where store errors become HTTP (the `From<StoreError>` impl below). Internal
//! errors are logged here, once, inside the request's span (which carries the request id), and
//! answered with a generic message: their text never reaches the client. Messages never quote
//! a secret or a submitted value.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paygate_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

mod payment;
pub use payment::PaymentError;

/// The error envelope of every non-2xx JSON response.
#[derive(Debug, Clone, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, snake_case machine code (e.g. `tenant_not_found`).
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<ErrorDetails>,
}

/// Structured context for some errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorDetails {
    /// The request field at fault (`credentials.apiv3_key`, `scopes`, `tenant_id`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Why that field was refused (never quotes the submitted value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The scope an API key lacked (`insufficient_scope`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_scope: Option<String>,
    /// Seconds until another attempt may succeed (`too_many_login_attempts`, `rate_limited`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// WeChat's own error code (`upstream_rejected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_code: Option<String>,
    /// What may still be refunded, in fen (`refund_exceeds_available`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_amount: Option<i64>,
    /// `true` when the same request may succeed later (`upstream_unavailable`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
}

/// What a 404 was about; each has its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    Tenant,
    Operator,
    App,
    Channel,
    CredentialsVersion,
    ApiKey,
    Webhook,
    Order,
    Refund,
    /// No route, or a row the store could not name.
    Other,
}

impl Resource {
    pub const ALL: [Resource; 10] = [
        Resource::Tenant,
        Resource::Operator,
        Resource::App,
        Resource::Channel,
        Resource::CredentialsVersion,
        Resource::ApiKey,
        Resource::Webhook,
        Resource::Order,
        Resource::Refund,
        Resource::Other,
    ];

    fn label(self) -> &'static str {
        match self {
            Resource::Tenant => "tenant",
            Resource::Operator => "operator",
            Resource::App => "app",
            Resource::Channel => "channel",
            Resource::CredentialsVersion => "credentials version",
            Resource::ApiKey => "API key",
            Resource::Webhook => "webhook",
            Resource::Order => "order",
            Resource::Refund => "refund",
            Resource::Other => "resource",
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Resource::Tenant => "tenant_not_found",
            Resource::Operator => "operator_not_found",
            Resource::App => "app_not_found",
            Resource::Channel => "channel_not_found",
            Resource::CredentialsVersion => "credentials_version_not_found",
            Resource::ApiKey => "api_key_not_found",
            Resource::Webhook => "webhook_not_found",
            Resource::Order => "order_not_found",
            Resource::Refund => "refund_not_found",
            Resource::Other => "not_found",
        }
    }
}

/// What a 409 was about; each has its own code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    /// The appid is registered by some tenant already (appids are global).
    AppidTaken,
    UsernameTaken,
    /// The tenant already has a channel of that kind for that mch_id.
    ChannelExists,
    /// Retiring the version channels currently sign with.
    CredentialsVersionCurrent,
    /// An admin tried to disable or demote themselves.
    CannotModifySelf,
    /// A channel still referenced (e.g. as the tenant's default, or by orders).
    ChannelInUse,
    /// The tenant already has an order with this out_trade_no.
    DuplicateOutTradeNo,
    /// A webhook event still being delivered cannot be resent.
    EventPending,
    Other,
}

impl Conflict {
    pub const ALL: [Conflict; 9] = [
        Conflict::AppidTaken,
        Conflict::UsernameTaken,
        Conflict::ChannelExists,
        Conflict::CredentialsVersionCurrent,
        Conflict::CannotModifySelf,
        Conflict::ChannelInUse,
        Conflict::DuplicateOutTradeNo,
        Conflict::EventPending,
        Conflict::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Conflict::AppidTaken => "appid_taken",
            Conflict::UsernameTaken => "username_taken",
            Conflict::ChannelExists => "channel_exists",
            Conflict::CredentialsVersionCurrent => "credentials_version_current",
            Conflict::CannotModifySelf => "cannot_modify_self",
            Conflict::ChannelInUse => "channel_in_use",
            Conflict::DuplicateOutTradeNo => "duplicate_out_trade_no",
            Conflict::EventPending => "event_pending",
            Conflict::Other => "conflict",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Conflict::AppidTaken => "this appid is already registered",
            Conflict::UsernameTaken => "this username is already taken",
            Conflict::ChannelExists => "the tenant already has a channel for this kind and mch_id",
            Conflict::CredentialsVersionCurrent => {
                "the current credentials version cannot be retired; add a new version first"
            }
            Conflict::CannotModifySelf => "operators cannot disable or demote themselves",
            Conflict::ChannelInUse => "the channel is still in use",
            Conflict::DuplicateOutTradeNo => {
                "the tenant already has an order with this out_trade_no"
            }
            Conflict::EventPending => "the event is still pending delivery",
            Conflict::Other => "the request conflicts with the current state",
        }
    }
}

/// Every failure the API answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed (400) or semantically invalid (422) input, naming the field when known.
    #[error("{message}")]
    InvalidRequest {
        status: StatusCode,
        message: String,
        field: Option<String>,
    },
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("the request took too long")]
    RequestTimeout,
    #[error("the method is not allowed on this path")]
    MethodNotAllowed,
    #[error("missing bearer token")]
    MissingToken,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("the token has expired")]
    TokenExpired,
    #[error("the token was revoked; log in again")]
    TokenRevoked,
    /// Login failed; deliberately the same for unknown users, wrong passwords and disabled
    /// operators.
    #[error("invalid username or password")]
    InvalidCredentials,
    #[error("too many failed login attempts; try again later")]
    TooManyLoginAttempts { retry_after_secs: u64 },
    #[error("the API key is not valid")]
    InvalidApiKey,
    #[error("this operation needs the admin role")]
    Forbidden,
    #[error("the tenant is suspended")]
    TenantSuspended,
    #[error("the API key lacks the scope {required}")]
    InsufficientScope { required: &'static str },
    #[error("not found")]
    NotFound(Resource),
    #[error("conflict")]
    Conflict(Conflict),
    /// A channel credentials document failed the provider's validation.
    #[error("invalid channel credentials: {field}: {reason}")]
    InvalidChannelCredentials { field: String, reason: String },
    #[error("unsupported channel kind")]
    UnsupportedChannelKind,
    #[error("the service is not ready")]
    NotReady,
    /// A rule of the tenant payment API (`/v1`).
    #[error(transparent)]
    Payment(#[from] PaymentError),
    /// Anything else: logged with its detail, answered generically.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// 400 `invalid_request`: the input could not be parsed at all.
    pub fn malformed(message: impl Into<String>, field: Option<String>) -> Self {
        ApiError::InvalidRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field,
        }
    }

    /// 422 `invalid_request`: a field parsed but breaks a rule.
    pub fn invalid_field(field: impl Into<String>, reason: impl Into<String>) -> Self {
        let field = field.into();
        ApiError::InvalidRequest {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {}", reason.into()),
            field: Some(field),
        }
    }

    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ApiError::Internal(detail.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidRequest { status, .. } => *status,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::MissingToken
            | ApiError::InvalidToken
            | ApiError::TokenExpired
            | ApiError::TokenRevoked
            | ApiError::InvalidCredentials
            | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::TooManyLoginAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Forbidden
            | ApiError::TenantSuspended
            | ApiError::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::InvalidChannelCredentials { .. } | ApiError::UnsupportedChannelKind => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::NotReady => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Payment(p) => p.status(),
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidRequest { .. } => "invalid_request",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::MissingToken => "missing_token",
            ApiError::InvalidToken => "invalid_token",
            ApiError::TokenExpired => "token_expired",
            ApiError::TokenRevoked => "token_revoked",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::TooManyLoginAttempts { .. } => "too_many_login_attempts",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::Forbidden => "forbidden",
            ApiError::TenantSuspended => "tenant_suspended",
            ApiError::InsufficientScope { .. } => "insufficient_scope",
            ApiError::NotFound(r) => r.code(),
            ApiError::Conflict(c) => c.code(),
            ApiError::InvalidChannelCredentials { .. } => "invalid_channel_credentials",
            ApiError::UnsupportedChannelKind => "unsupported_channel_kind",
            ApiError::NotReady => "not_ready",
            ApiError::Payment(p) => p.code(),
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn body(&self) -> ErrorBody {
        let (message, details) = match self {
            ApiError::InvalidRequest { message, field, .. } => (
                message.clone(),
                field.as_ref().map(|f| ErrorDetails {
                    field: Some(f.clone()),
                    reason: message.strip_prefix(&format!("{f}: ")).map(str::to_owned),
                    ..ErrorDetails::default()
                }),
            ),
            ApiError::TooManyLoginAttempts { retry_after_secs } => (
                self.to_string(),
                Some(ErrorDetails {
                    retry_after_seconds: Some(*retry_after_secs),
                    ..ErrorDetails::default()
                }),
            ),
            ApiError::InsufficientScope { required } => (
                self.to_string(),
                Some(ErrorDetails {
                    required_scope: Some((*required).to_owned()),
                    ..ErrorDetails::default()
                }),
            ),
            ApiError::NotFound(r) => (format!("{} not found", r.label()), None),
            ApiError::Conflict(c) => (c.message().to_owned(), None),
            ApiError::InvalidChannelCredentials { field, reason } => (
                self.to_string(),
                Some(ErrorDetails {
                    field: Some(field.clone()),
                    reason: Some(reason.clone()),
                    ..ErrorDetails::default()
                }),
            ),
            ApiError::Internal(_) => ("internal error".to_owned(), None),
            ApiError::Payment(p) => (p.to_string(), p.details()),
            _ => (self.to_string(), None),
        };
        ErrorBody {
            code: self.code().to_owned(),
            message,
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            // The current span is the request's, so this line carries the request id.
            tracing::error!(error = %detail, "internal error");
        }
        let status = self.status();
        let body = self.body();
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            ApiError::TooManyLoginAttempts { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Payment(p) => p.retry_after(),
            _ => None,
        };
        if let Some(retry_after_secs) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The one mapping from store failures to HTTP.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity } => ApiError::NotFound(resource_of(entity)),
            StoreError::Conflict { constraint }
                if constraint == "refunds_tenant_out_refund_no_key" =>
            {
                PaymentError::OutRefundNoReused.into()
            }
            StoreError::Conflict { constraint } => ApiError::Conflict(conflict_of(&constraint)),
            StoreError::PayerMismatch => PaymentError::OrderNotYours.into(),
            StoreError::OrderNotRefundable { .. } => PaymentError::OrderNotRefundable.into(),
            StoreError::RefundExceedsAvailable { available } => {
                PaymentError::RefundExceedsAvailable {
                    available: available.fen(),
                }
                .into()
            }
            StoreError::Invalid { field, message } => ApiError::invalid_field(field, message),
            StoreError::RetireCurrentVersion { .. } => {
                ApiError::Conflict(Conflict::CredentialsVersionCurrent)
            }
            StoreError::IllegalTransition(_) | StoreError::StateMismatch { .. } => {
                ApiError::Conflict(Conflict::Other)
            }
            other => ApiError::Internal(format!("store: {} ({})", other, other.code())),
        }
    }
}

/// The store names entities in its `NotFound`; anything unknown is a plain `not_found`.
fn resource_of(entity: &str) -> Resource {
    match entity {
        "tenant" => Resource::Tenant,
        "operator" => Resource::Operator,
        "app" => Resource::App,
        "channel" => Resource::Channel,
        "credentials version" => Resource::CredentialsVersion,
        "api key" => Resource::ApiKey,
        "webhook endpoint" => Resource::Webhook,
        "order" => Resource::Order,
        "refund" => Resource::Refund,
        _ => Resource::Other,
    }
}

/// Unique constraints by their (dialect-independent) names.
fn conflict_of(constraint: &str) -> Conflict {
    match constraint {
        // SQLite reports whichever unique index it checks first; both mean "taken".
        "apps_appid_key" | "apps_tenant_appid_key" => Conflict::AppidTaken,
        "operators_username_key" => Conflict::UsernameTaken,
        "channels_tenant_kind_mch_key" => Conflict::ChannelExists,
        "orders_tenant_out_trade_no_key" => Conflict::DuplicateOutTradeNo,
        "events_delivery_status_check" => Conflict::EventPending,
        _ => Conflict::Other,
    }
}

#[cfg(test)]
mod tests;
