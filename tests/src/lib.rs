//! # paygate-e2e — end-to-end tests of the whole paygate process
//!
//! This library is empty on purpose: Cargo needs a target, and everything lives in the one
//! test binary `e2e/` (`cargo test -p paygate-e2e`). The tests start the real server with
//! `paygate_cli::app::start` on an ephemeral port and talk to it over HTTP like a client,
//! once on SQLite and once on PostgreSQL (`PAYGATE_TEST_POSTGRES_URL`).
//!
//! Nothing here may be used by production code, and the tests must never reach the network
//! beyond 127.0.0.1 and the configured PostgreSQL server.
