//! `paygate serve [--sim]`: run until SIGTERM or Ctrl-C.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::app::{self, Exit, Running, StartOptions};
use crate::config::{Flags, Mode};
use crate::keyfile::Origin;

use super::ConfigArgs;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Base URL WeChat reaches this server at (https; its notify URLs are built on it).
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Demo: also run the WeChat simulator in-process, point every upstream at it and seed a
    /// demo tenant (written to <data_dir>/demo.json). Not for production.
    #[arg(long)]
    pub sim: bool,
}

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let mode = if args.sim {
        Mode::Demo
    } else {
        Mode::Production
    };
    let flags = Flags {
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        ..Flags::default()
    };
    let config = args.config.load(flags, mode)?;
    super::runtime()?.block_on(async move {
        let signals = ShutdownSignals::install().context("installing signal handlers")?;
        let running = app::start(StartOptions {
            config,
            mode,
            clock: Arc::new(paygate_core::SystemClock),
        })
        .await?;
        announce(&running)?;
        match running.run_until(signals.recv()).await? {
            Exit::Signal(_) => Ok(()),
            other => anyhow::bail!("stopped because a task ended unexpectedly: {other:?}"),
        }
    })
}

/// Where everything is: logged, and for the demo a summary on stdout.
fn announce(running: &Running) -> anyhow::Result<()> {
    let r = running.report();
    let describe = |origin: Origin, path: &Option<std::path::PathBuf>| match (origin, path) {
        (Origin::Created, Some(p)) => format!("{} (generated now, mode 0600)", p.display()),
        (_, Some(p)) => p.display().to_string(),
        (_, None) => "from configuration".to_owned(),
    };
    tracing::info!(
        database = %r.database,
        master_key = %describe(r.master_key.origin, &r.master_key.path),
        jwt_secret = %describe(r.jwt_secret.origin, &r.jwt_secret.path),
        "storage ready"
    );
    tracing::info!(
        wechatpay = %r.wechatpay_base_url,
        miniprogram = %r.miniprogram_base_url,
        "upstreams"
    );
    tracing::info!(
        listen = %r.listen,
        docs = %format!("{}/docs", r.base_url),
        public_url = r.public_url.as_deref().unwrap_or("(not set: payments disabled)"),
        "paygate is serving; SIGTERM or Ctrl-C stops it"
    );
    if let Some(demo) = running.demo() {
        let mut out = std::io::stdout().lock();
        out.write_all(demo.summary().as_bytes())?;
        out.flush()?;
    }
    Ok(())
}

/// SIGINT (Ctrl-C) and SIGTERM handlers, installed before paygate says it is serving so that
/// a signal sent right after that line cannot hit the default action (immediate death).
#[derive(Debug)]
pub struct ShutdownSignals {
    interrupt: Signal,
    terminate: Signal,
}

impl ShutdownSignals {
    /// Installs both handlers; needs a running Tokio runtime.
    pub fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Completes on the first of the two, naming it.
    pub async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
