//! In-process tests of the admin and tenant APIs through the complete router (middleware
//! included) against SQLite in a temp dir. The end-to-end suite over real HTTP and
//! PostgreSQL lives in the workspace's `tests/`.

// Helpers outside #[test] functions may unwrap too: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod channels;
mod keys;
mod ops;
mod support;
mod tenants;
