//! Starting and stopping one paygate process — the entry point of `paygate serve` and of the
//! end-to-end tests.
//!
//! [`start`] loads (or, for SQLite, generates) the key files, opens and migrates the store,
//! refuses a master key the database does not know, builds the provider registry, binds the
//! listener and serves; in demo mode it first starts the WeChat simulator, points every
//! upstream at it and seeds a demo tenant. [`Running`] reports the bound address and stops
//! everything with a bounded wait.
//!
//! This module must never log a secret: keys are reported by path and origin only.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use paygate_core::{Clock, SystemClock};
use paygate_server::{AppState, JwtSettings, ServerSettings};
use paygate_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{Config, Mode, SecretSource};
use crate::demo::{self, Demo};
use crate::keyfile::{self, Origin};
use crate::providers::{self, ProviderEndpoints};

mod error;
mod open;

pub use error::StartError;
pub use open::{Opened, open};

/// How long in-flight requests get to finish after a shutdown is asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What to start.
#[derive(Debug, Clone)]
pub struct StartOptions {
    pub config: Config,
    pub mode: Mode,
    /// The clock of the store, the server and the providers (a `ManualClock` in tests).
    pub clock: Arc<dyn Clock>,
}

impl StartOptions {
    /// Production mode on the system clock.
    pub fn new(config: Config) -> Self {
        StartOptions {
            config,
            mode: Mode::Production,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Where a secret came from, for the start-up log (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReport {
    pub origin: Origin,
    pub path: Option<PathBuf>,
}

/// What started, for the start-up log and for tests.
#[derive(Debug, Clone)]
pub struct StartReport {
    /// The database URL with any password redacted.
    pub database: String,
    pub master_key: SecretReport,
    pub jwt_secret: SecretReport,
    pub listen: SocketAddr,
    pub base_url: String,
    pub public_url: Option<String>,
    /// Where WeChat Pay calls go (the simulator's URL in demo mode).
    pub wechatpay_base_url: String,
    /// Where mini-program API calls go (the simulator's URL in demo mode).
    pub miniprogram_base_url: String,
}

/// A serving paygate. Dropping it without [`shutdown`](Self::shutdown) leaves the tasks
/// running until the runtime ends.
#[derive(Debug)]
pub struct Running {
    report: StartReport,
    store: Store,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    /// The reconciliation worker, unless `reconcile.enabled` is off.
    worker: Option<JoinHandle<()>>,
    /// The webhook delivery worker, unless `webhooks.enabled` is off.
    webhook_worker: Option<JoinHandle<()>>,
    sim: Option<paygate_sim::RunningSim>,
    demo: Option<Demo>,
}

/// Starts paygate as `options` say; returns once the listener accepts connections.
pub async fn start(options: StartOptions) -> Result<Running, StartError> {
    let StartOptions {
        config,
        mode,
        clock,
    } = options;
    let sim = match mode {
        Mode::Demo => Some(paygate_sim::Simulator::spawn(demo::sim_config()).await?),
        Mode::Production => None,
    };
    match start_with(&config, mode, clock, sim.as_ref()).await {
        Ok(Started {
            report,
            store,
            stop,
            server,
            worker,
            webhook_worker,
            demo,
        }) => Ok(Running {
            report,
            store,
            stop,
            server,
            worker,
            webhook_worker,
            sim,
            demo,
        }),
        Err(e) => {
            // Leave nothing behind: a test runtime outlives a failed start.
            if let Some(sim) = sim {
                sim.shutdown().await;
            }
            Err(e)
        }
    }
}

/// Everything of [`Running`] but the simulator.
struct Started {
    report: StartReport,
    store: Store,
    stop: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    worker: Option<JoinHandle<()>>,
    webhook_worker: Option<JoinHandle<()>>,
    demo: Option<Demo>,
}

/// What the steps after the simulator share.
struct Launch<'a> {
    config: &'a Config,
    mode: Mode,
    clock: Arc<dyn Clock>,
    sim: Option<&'a paygate_sim::RunningSim>,
    endpoints: ProviderEndpoints,
}

async fn start_with(
    config: &Config,
    mode: Mode,
    clock: Arc<dyn Clock>,
    sim: Option<&paygate_sim::RunningSim>,
) -> Result<Started, StartError> {
    let endpoints = match sim {
        Some(sim) => ProviderEndpoints {
            wechatpay_base_url: sim.base_url().to_owned(),
            wechatpay_secapi_base_url: Some(sim.tls_base_url().to_owned()),
            extra_root_ca_pem: Some(sim.ca_pem().to_owned()),
            timeout: config.upstream.timeout(),
        },
        None => ProviderEndpoints {
            wechatpay_base_url: config.upstream.wechatpay_base_url.clone(),
            wechatpay_secapi_base_url: config.upstream.wechatpay_secapi_base_url.clone(),
            extra_root_ca_pem: match &config.upstream.extra_root_ca_file {
                Some(path) => {
                    Some(
                        std::fs::read_to_string(path).map_err(|source| StartError::Read {
                            path: path.clone(),
                            source,
                        })?,
                    )
                }
                None => None,
            },
            timeout: config.upstream.timeout(),
        },
    };
    if mode == Mode::Demo {
        keyfile::create_private_dir(&config.data_dir)?;
    }
    let opened = open(config, clock.clone()).await?;
    let store = opened.store.clone();
    let launch = Launch {
        config,
        mode,
        clock,
        sim,
        endpoints,
    };
    let started = serve_opened(&launch, opened).await;
    if started.is_err() {
        store.close().await;
    }
    started
}

/// Binds, builds the state, seeds the demo and spawns the server.
async fn serve_opened(launch: &Launch<'_>, opened: Opened) -> Result<Started, StartError> {
    let Launch {
        config,
        mode,
        clock,
        sim,
        endpoints,
    } = launch;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.listen,
        source,
    })?;
    let base_url = format!("http://{local_addr}");
    let demo_mode = *mode == Mode::Demo;
    let public_url = match &config.public_url {
        Some(url) => Some(url.clone()),
        None if demo_mode => url::Url::parse(&base_url).ok(),
        None => None,
    };

    let mut jwt = JwtSettings::new(opened.jwt_secret);
    jwt.ttl = Duration::from_secs(config.admin_token_ttl_secs);
    let mut settings = ServerSettings::new(jwt);
    settings.public_url = public_url.clone();
    settings.allow_insecure_public_url = demo_mode || config.allow_plain_http;
    settings.allow_insecure_webhook_urls = demo_mode || config.allow_plain_http;
    settings.trusted_proxies = config.trusted_proxies.clone();
    settings.tenant_limits = config.rate_limits.settings();
    settings.miniprogram_base_url = match sim {
        Some(sim) => sim.base_url().to_owned(),
        None => config.upstream.miniprogram_base_url.clone(),
    };
    settings.miniprogram_timeout = config.upstream.timeout();
    settings.validate()?;

    let registry = Arc::new(providers::registry(endpoints, clock.clone()));
    let state = AppState::new(opened.store.clone(), registry, clock.clone(), settings);
    let demo = match sim {
        Some(sim) => Some(demo::seed(&state, sim, &config.data_dir, &base_url).await?),
        None => None,
    };

    let (stop, mut stopped) = watch::channel(false);
    let worker = config.reconcile.enabled.then(|| {
        let mut stopped = stop.subscribe();
        paygate_server::workers::reconcile::spawn(
            state.clone(),
            config.reconcile.settings(),
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            },
        )
    });
    let webhook_worker = config.webhooks.enabled.then(|| {
        let mut stopped = stop.subscribe();
        let mut settings = config.webhooks.settings();
        // The demo's tenant backend runs on this machine.
        settings.allow_private_targets |= *mode == Mode::Demo;
        paygate_server::webhooks::worker::spawn(state.clone(), settings, async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    });
    let router = paygate_server::router(state);
    let server = tokio::spawn(paygate_server::serve(listener, router, async move {
        // An error means the sender is gone: stop as well.
        let _ = stopped.wait_for(|s| *s).await;
    }));

    let report = StartReport {
        database: config.database_url.redacted(),
        master_key: secret_report(opened.master_origin, &config.master_key),
        jwt_secret: secret_report(opened.jwt_origin, &config.jwt_secret),
        listen: local_addr,
        base_url,
        public_url: public_url.map(String::from),
        wechatpay_base_url: endpoints.wechatpay_base_url.clone(),
        miniprogram_base_url: match sim {
            Some(sim) => sim.base_url().to_owned(),
            None => config.upstream.miniprogram_base_url.clone(),
        },
    };
    Ok(Started {
        report,
        store: opened.store,
        stop,
        server,
        worker,
        webhook_worker,
        demo,
    })
}

fn secret_report(origin: Origin, source: &SecretSource) -> SecretReport {
    SecretReport {
        origin,
        path: match source {
            SecretSource::File(p) => Some(p.clone()),
            SecretSource::Inline(_) => None,
        },
    }
}

/// Which task ended the process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// A shutdown signal (its name).
    Signal(&'static str),
    /// The HTTP server stopped on its own.
    Server,
    /// The demo's webhook receiver stopped on its own.
    WebhookReceiver,
}

impl Running {
    pub fn local_addr(&self) -> SocketAddr {
        self.report.listen
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.report.base_url
    }

    pub fn report(&self) -> &StartReport {
        &self.report
    }

    /// The store this process serves from (for tests that arrange data directly).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The in-process simulator (demo mode).
    pub fn sim(&self) -> Option<&paygate_sim::RunningSim> {
        self.sim.as_ref()
    }

    /// What the demo seeded (demo mode).
    pub fn demo(&self) -> Option<&Demo> {
        self.demo.as_ref()
    }

    /// Serves until `signal` completes (yielding its name) or a task ends on its own; says
    /// which, then shuts down.
    pub async fn run_until(
        mut self,
        signal: impl Future<Output = &'static str>,
    ) -> Result<Exit, StartError> {
        let demo = self.demo.as_mut();
        let sink = async move {
            match demo {
                Some(demo) => demo.receiver_stopped().await,
                None => std::future::pending().await,
            }
        };
        let exit = tokio::select! {
            name = signal => Exit::Signal(name),
            result = &mut self.server => {
                match result {
                    Ok(Ok(())) => tracing::error!("the HTTP server stopped by itself"),
                    Ok(Err(e)) => tracing::error!(error = %e, "the HTTP server failed"),
                    Err(e) => tracing::error!(error = %e, "the HTTP server task panicked"),
                }
                Exit::Server
            }
            () = sink => Exit::WebhookReceiver,
        };
        tracing::info!(exit = ?exit, "shutting down");
        self.shutdown().await?;
        Ok(exit)
    }

    /// Stops accepting, gives in-flight requests [`SHUTDOWN_GRACE`], then stops the demo's
    /// helpers and closes the database.
    pub async fn shutdown(mut self) -> Result<(), StartError> {
        // A send error means the server already stopped listening.
        let _ = self.stop.send(true);
        let served = if self.server.is_finished() {
            Ok(())
        } else {
            match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.server).await {
                Ok(Ok(result)) => result.map_err(StartError::Serve),
                Ok(Err(join)) => Err(StartError::Serve(std::io::Error::other(join.to_string()))),
                Err(_) => {
                    tracing::warn!(
                        grace_secs = SHUTDOWN_GRACE.as_secs(),
                        "requests still running after the grace period; aborting them"
                    );
                    self.server.abort();
                    Ok(())
                }
            }
        };
        if let Some(mut worker) = self.worker.take() {
            // The stop signal ends the loop after the run in progress.
            if tokio::time::timeout(SHUTDOWN_GRACE, &mut worker)
                .await
                .is_err()
            {
                tracing::warn!("the reconciliation run outlived the grace period; aborting it");
                worker.abort();
            }
        }
        if let Some(mut worker) = self.webhook_worker.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut worker)
                .await
                .is_err()
        {
            tracing::warn!("the webhook delivery run outlived the grace period; aborting it");
            worker.abort();
        }
        if let Some(demo) = self.demo.take() {
            demo.stop().await;
        }
        if let Some(sim) = self.sim.take() {
            sim.shutdown().await;
        }
        self.store.close().await;
        served
    }
}
