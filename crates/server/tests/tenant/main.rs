//! Router tests of the tenant API (`/v1`) on SQLite with the WeChat simulator: sessions,
//! orders on v2 and v3 channels through one code path, payments whose signatures the
//! simulated WeChat client accepts, refunds, idempotency and rate limits.

// Helpers outside #[test] functions may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod orders;
mod pay;
mod refunds;
mod sessions;
mod support;
