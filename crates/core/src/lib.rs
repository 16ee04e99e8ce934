//! # paygate-core — the payment domain, with no I/O
//!
//! Everything the rest of paygate agrees on lives here and nowhere else:
//!
//! - [`money`]: [`Money`], an amount in integer fen. No floats, ever.
//! - [`ids`]: newtypes for WeChat's identifiers ([`OutTradeNo`], [`AppId`], [`MchId`], …) that
//!   can only be built through their parsers, so an invalid id never crosses a crate boundary.
//! - [`state`]: the order and refund state machines as explicit transition tables, and the
//!   refundable-amount rule.
//! - [`provider`]: the [`Provider`] trait — the one seam between paygate and a payment protocol —
//!   with its request/response values and the [`ProviderRegistry`].
//! - [`platform_ids`]: paygate's own prefixed, time-ordered ids ([`TenantId`], [`OrderId`], …).
//! - [`clock`]: the [`Clock`] seam; everything that decides by time reads it.
//! - [`error`]: [`ProviderError`], the typed failures a provider reports, each with a stable code.
//!
//! This crate must never depend on a database, an HTTP stack, an XML parser or a crypto
//! library: `.ci/run` checks its direct dependencies.

pub mod clock;
pub mod error;
pub mod ids;
pub mod money;
pub mod platform_ids;
pub mod provider;
pub mod state;
pub mod time_fmt;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::ProviderError;
pub use error::VerifyFailure;
pub use ids::{
    AppId, ChannelId, IdError, MchId, NotifyUrl, OpenId, OutRefundNo, OutTradeNo, PrepayId,
    RefundId, TransactionId,
};
pub use money::{Money, MoneyError};
pub use platform_ids::{
    AlertId, ApiKeyId, AuditId, DeliveryId, EventId, NotificationId, OperatorId, OrderId,
    PlatformId, RefundRecordId, TenantId, new_channel_id,
};
pub use provider::{
    ChannelSpec, ClientIp, CreatePayment, CredentialsFault, CredentialsSummary,
    CredentialsValidator, HttpReply, Notification, NotificationKind, NotificationOutcome,
    NotificationRequest, PaySignType, PaymentEvent, PaymentRef, PaymentStatus, Prepay, Provider,
    ProviderConstructor, ProviderKind, ProviderRegistry, RefundEvent, RefundRequest, RefundStatus,
    RequestPayment, TradeState, TradeType,
};
pub use state::{
    IllegalTransition, OrderState, RefundState, RefundableError, Transition, check_refund,
    refundable_amount,
};
