//! # paygate-store — persistence and secrets at rest
//!
//! - [`envelope`]: envelope encryption of every secret paygate keeps (app secrets, API keys,
//!   private keys, webhook secrets): a per-tenant data key wrapped by the master key, a key
//!   version byte on every ciphertext, and associated data that binds each ciphertext to its
//!   tenant, table, column and row.
//!
//! The SQLite and PostgreSQL repositories follow (issue 6). This crate must never log or return
//! a decrypted secret except to the caller that asked for it.

pub mod envelope;
