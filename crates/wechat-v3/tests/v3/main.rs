//! The v3 provider's tests, in one binary (link time matters on two cores).
#![expect(
    clippy::expect_used,
    reason = "a test fails loudly when a fixture does not parse"
)]

mod client;
mod common;
mod credentials;
mod notifications;
mod vectors;
