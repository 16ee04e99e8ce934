//! paygate's end-to-end suite (issues 6 and 7): the real server, started in-process through
//! `paygate_cli::app::start` on an ephemeral port, driven over HTTP with reqwest exactly as a
//! client would, on SQLite and on PostgreSQL.
//!
//! Each area is a module; each test is one `async fn(Backend)` that [`harness::both_backends!`]
//! runs twice (`<test>::sqlite`, `<test>::postgres`). Every test ends with
//! [`harness::TestApp::finish`], which fails it if a secret it registered appears in any
//! response or log line.
//!
//! The suite must never sleep (time moves through the server's `ManualClock`), never share a
//! database between tests, and never reach beyond 127.0.0.1 and the configured PostgreSQL.

// The harness lives outside `#[test]` functions, where clippy's test allowances do not reach;
// a panic anywhere in this binary is a failed test, which is what we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod harness;

mod audit;
mod auth;
mod bad_input;
mod channels;
mod console;
mod credentials;
mod errors;
mod events;
mod faults;
mod idempotency;
mod master_key;
mod notifications;
mod onboarding;
mod ops;
mod payments;
mod reconcile;
mod secrets;
mod sessions;
mod tenancy;
mod tenants;
mod views;
mod webhook_ops;
mod webhooks;
