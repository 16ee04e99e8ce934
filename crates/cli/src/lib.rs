//! # paygate-cli — the composition root
//!
//! The only crate that knows every other one: it reads the configuration, opens the store,
//! builds the provider registry, starts the HTTP server (and, for the demo, the WeChat
//! simulator) and implements the `paygate` subcommands. It holds no business rules, and it
//! never logs or prints a secret except the one a command exists to hand out.
//!
//! ## Entry points for end-to-end tests
//!
//! ```no_run
//! # async fn demo(dir: &std::path::Path) -> Result<(), paygate_cli::app::StartError> {
//! use paygate_cli::{app, config};
//! let mut config = config::Config::defaults_in(dir); // SQLite + key files under `dir`
//! config.listen = "127.0.0.1:0".parse().unwrap_or(config.listen);
//! config.upstream.wechatpay_base_url = "http://127.0.0.1:9090".into(); // e.g. a simulator
//! // config.database_url = config::DatabaseUrl::parse("postgres://…")?;
//! // config.master_key = config::SecretSource::Inline("v1:<64 hex>".to_owned().into());
//! let running = app::start(app::StartOptions::new(config)).await?;
//! let base = running.base_url(); // http://127.0.0.1:PORT
//! # let _ = base;
//! running.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! - [`app::start`] / [`app::StartOptions`] (`mode: Mode::Demo` adds the simulator and the
//!   seeded demo; `clock` takes a `ManualClock`) → [`app::Running`]: `local_addr`,
//!   `base_url`, `store`, `sim`, `demo`, `shutdown`.
//! - [`config::Config::defaults_in`] for a configuration built by hand; [`config::load`] for
//!   the layered one the binary uses.
//! - [`providers::registry`]: the provider registry alone.
//!
//! Modules: [`config`] (layered configuration), [`keyfile`] (secret files), [`app`]
//! (start/stop), [`providers`] (registry), [`demo`] and [`webhook_sink`] (`serve --sim`),
//! [`commands`] (the subcommands), [`sim`] (`paygate sim`), [`logging`].

pub mod app;
pub mod bench;
pub mod commands;
pub mod config;
pub mod demo;
pub mod keyfile;
pub mod logging;
pub mod providers;
pub mod sim;
pub mod webhook_sink;
