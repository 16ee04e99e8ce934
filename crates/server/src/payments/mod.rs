//! The payment domain services behind the tenant API: plain async functions over the
//! [`Store`](paygate_store::Store), the [`ProviderRegistry`](paygate_core::ProviderRegistry)
//! and the [`Clock`](paygate_core::Clock), testable without HTTP.
//!
//! - [`rules`]: the pure rules of a new order (amount, expiry, out_trade_no, app, channel).
//! - [`idempotency`]: `Idempotency-Key` claims and request hashing.
//! - [`login`]: mini-program login (session tokens) and mini-program codes.
//! - [`channel`]: a channel and its provider (from the registry's cache when it can).
//! - [`orders`]: creating and closing orders; provider errors as API errors.
//! - [`pay`]: paying an order (payer binding, prepay reuse and renewal).
//! - [`refunds`]: refunds, reserved under the order's lock before WeChat is asked.
//! - [`converge`]: the one idempotent path from WeChat's report to paygate's state
//!   (notifications, queries and the reconciliation worker).
//! - [`notifications`]: verifying and applying one WeChat notification.
//!
//! This module never branches on the protocol version: a channel becomes a
//! [`ChannelSpec`](paygate_core::ChannelSpec) and the registry builds its provider. It never
//! logs a secret, a prepay id's signature or an openid.

pub mod channel;
pub mod converge;
pub mod idempotency;
pub mod login;
pub mod notifications;
pub mod orders;
pub mod pay;
pub mod refunds;
pub mod rules;

#[cfg(test)]
pub(crate) mod test_fixtures;
