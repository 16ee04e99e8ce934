//! paygate-cli's tests: configuration, key files, `serve` (in-process and as a binary), the
//! demo, and the admin subcommands. One test binary for the whole crate.

// Helpers outside #[test] functions panic on failure too: that is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod commands;
mod config;
mod demo;
mod keyfile;
mod pg;
mod serve;
mod support;
