//! [`StartError`]: why paygate did not start, with stable codes.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::keyfile;

/// Why paygate did not start (or stopped badly). Messages never contain a secret.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    KeyFile(#[from] keyfile::KeyFileError),
    #[error(
        "no {what}: with PostgreSQL paygate generates nothing; set {env} (or {key}_file to a \
         file of mode 0600)"
    )]
    MissingSecret {
        what: &'static str,
        env: &'static str,
        key: &'static str,
    },
    #[error(transparent)]
    Store(#[from] paygate_store::StoreError),
    #[error("invalid server settings: {0}")]
    Settings(#[from] paygate_server::SettingsError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the simulator did not start: {0}")]
    Sim(#[from] paygate_sim::SimError),
    #[error("demo set-up failed: {0}")]
    Demo(String),
    #[error("the HTTP server failed: {0}")]
    Serve(std::io::Error),
}

impl StartError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            StartError::KeyFile(e) => e.code(),
            StartError::MissingSecret { .. } => "secret_missing",
            StartError::Store(e) => e.code(),
            StartError::Settings(e) => e.code(),
            StartError::Bind { .. } => "bind_failed",
            StartError::Read { .. } => "read_failed",
            StartError::Sim(_) => "sim_failed",
            StartError::Demo(_) => "demo_failed",
            StartError::Serve(_) => "serve_failed",
        }
    }
}
