//! # paygate-sim — an offline WeChat Pay and mini-program server simulator
//!
//! The simulator answers WeChat's own paths — API v2 (`/pay/unifiedorder`, `/pay/orderquery`,
//! `/pay/closeorder`, `/secapi/pay/refund` over mutual TLS, `/pay/refundquery`), API v3
//! (`/v3/pay/transactions/…`, `/v3/refund/domestic/refunds`, `/v3/certificates`) and the
//! mini-program server APIs (`/sns/jscode2session`, `/cgi-bin/token`, `/cgi-bin/stable_token`,
//! `/wxa/getwxacodeunlimit`, `/wxa/business/getuserphonenumber`) — with real signature checks
//! and WeChat's error codes, so that a client bug fails here the way it fails against WeChat.
//! A control API under `/sim` sets the world up and plays the user (see [`control`]).
//!
//! It must never be pointed at, or pretend to be reachable as, real WeChat; it keeps everything
//! in memory; its crypto comes from `paygate-wechat-v2` / `paygate-wechat-v3`, never its own.
//!
//! Layout:
//! - [`clock`]: the simulator's own clock (frozen in tests, running in demos).
//! - [`state`]: the world (merchants, apps, users, orders, refunds, notification log).
//! - [`keys`], [`tls`]: merchant certificates, generated platform keys, the TLS identity.
//! - [`control`]: `/sim/...`; [`mp`]: mini-program APIs; [`v2`], [`v3`]: WeChat Pay.
//! - [`orders`]: the business rules both payment APIs share.
//! - [`notify`]: notification delivery and the official retry schedule.
//! - [`faults`]: injected failures.
//!
//! ```no_run
//! # async fn demo() -> Result<(), paygate_sim::SimError> {
//! let sim = paygate_sim::Simulator::spawn(paygate_sim::SimConfig::for_tests()).await?;
//! let base = sim.base_url(); // point the clients here
//! sim.advance(time::Duration::seconds(15));
//! sim.deliver_due_notifications().await;
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

#![expect(
    clippy::result_large_err,
    reason = "handlers short-circuit with a finished WeChat-format response; it is built once per request"
)]

pub mod clock;
pub mod control;
pub mod error;
pub mod faults;
mod http;
pub mod keys;
pub mod mp;
pub mod notify;
pub mod orders;
mod server;
pub mod state;
pub mod tls;
pub mod v2;
pub mod v3;

use std::net::SocketAddr;
use std::time::Duration as StdDuration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use clock::SimClock;
pub use control::{AppSpec, MerchantSpec, PayResult, PlatformInfo, RequestPaymentBody, ScanBody};
pub use error::SimError;
pub use faults::{FaultKind, FaultSpec};
pub use notify::NotificationRecord;
pub use state::{Sim, VerifyMode};

/// How to start a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Plain HTTP listener (every endpoint). Default `127.0.0.1:0`.
    pub listen: SocketAddr,
    /// HTTPS listener requiring a merchant client certificate. Default `127.0.0.1:0`.
    pub tls_listen: SocketAddr,
    /// The simulator's time at start; `None` = the wall clock's now.
    pub start_time: Option<time::OffsetDateTime>,
    /// `true`: the clock moves only through `advance`/`POST /sim/clock` (tests).
    pub frozen_clock: bool,
    /// Multiplies the official notification retry intervals (1.0 = 15 s, 15 s, 30 s …;
    /// 0.01 makes a demo's retries 100 times faster).
    pub notify_time_scale: f64,
    /// Deliver due notifications from a background ticker (every 100 ms of real time).
    /// Tests turn it off and call [`RunningSim::deliver_due_notifications`].
    pub auto_deliver: bool,
    /// Refunds settle as SUCCESS this long (simulator time) after they were accepted;
    /// `None` = only through `POST /sim/refunds/{out_refund_no}/settle`.
    pub auto_settle_refunds: Option<time::Duration>,
    /// Refuse plain-http notify URLs, as WeChat does.
    pub require_https_notify: bool,
    /// Seed of the simulator's ids and nonces (not of RSA keys); `None` = random.
    pub seed: Option<u64>,
}

impl Default for SimConfig {
    /// A running clock and background delivery: what `paygate sim` and demos want.
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            start_time: None,
            frozen_clock: false,
            notify_time_scale: 1.0,
            auto_deliver: true,
            auto_settle_refunds: Some(time::Duration::seconds(5)),
            require_https_notify: false,
            seed: None,
        }
    }
}

impl SimConfig {
    /// Deterministic: frozen clock at the wall clock's now, no background delivery, refunds
    /// settle only when told.
    pub fn for_tests() -> Self {
        SimConfig {
            frozen_clock: true,
            auto_deliver: false,
            auto_settle_refunds: None,
            ..Self::default()
        }
    }
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Binds both listeners and starts serving; returns once they accept connections.
    pub async fn spawn(config: SimConfig) -> Result<RunningSim, SimError> {
        let start = config
            .start_time
            .unwrap_or_else(time::OffsetDateTime::now_utc);
        let clock = if config.frozen_clock {
            SimClock::frozen(start)
        } else {
            SimClock::running(start)
        };
        let sim = Sim::new(
            clock,
            config.seed,
            state::Settings {
                notify_time_scale: config.notify_time_scale,
                auto_settle_refunds: config.auto_settle_refunds,
                require_https_notify: config.require_https_notify,
            },
        );
        let plain = TcpListener::bind(config.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.listen,
                source,
            })?;
        let tls_listener = TcpListener::bind(config.tls_listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: config.tls_listen,
                source,
            })?;
        let addr = plain
            .local_addr()
            .map_err(|e| SimError::Internal(e.to_string()))?;
        let tls_addr = tls_listener
            .local_addr()
            .map_err(|e| SimError::Internal(e.to_string()))?;
        let identity = tls::server_identity(sim.clone())?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let app = server::app(sim.clone());
        let mut tasks = vec![
            tokio::spawn(server::serve_plain(plain, app.clone(), stop_rx.clone())),
            tokio::spawn(server::serve_tls(
                tls_listener,
                app,
                identity.config,
                stop_rx.clone(),
            )),
        ];
        if config.auto_deliver {
            let sim = sim.clone();
            let mut stop = stop_rx;
            tasks.push(tokio::spawn(async move {
                loop {
                    let stopped = tokio::select! {
                        r = stop.wait_for(|s| *s) => { drop(r); true }
                        _ = tokio::time::sleep(StdDuration::from_millis(100)) => false,
                    };
                    if stopped {
                        return;
                    }
                    notify::run_due(&sim).await;
                }
            }));
        }
        Ok(RunningSim {
            sim,
            base_url: format!("http://{addr}"),
            tls_base_url: format!("https://127.0.0.1:{}", tls_addr.port()),
            ca_pem: identity.ca_pem,
            stop: stop_tx,
            tasks,
        })
    }
}

/// A simulator serving on loopback. Dropping it without [`shutdown`](Self::shutdown) leaves
/// the listeners running until the runtime ends.
#[derive(Debug)]
pub struct RunningSim {
    sim: Sim,
    base_url: String,
    tls_base_url: String,
    ca_pem: String,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningSim {
    /// `http://127.0.0.1:PORT`: every endpoint (`/secapi/pay/refund` refuses: no certificate).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// `https://127.0.0.1:PORT`: every endpoint, behind mandatory merchant client certificates.
    pub fn tls_base_url(&self) -> &str {
        &self.tls_base_url
    }

    /// The CA certificate that issued the TLS listener's certificate (trust it in clients).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The shared simulator, for direct set-up (`register_merchant`, `login_code` …).
    pub fn sim(&self) -> &Sim {
        &self.sim
    }

    /// The simulator's current time.
    pub fn now(&self) -> time::OffsetDateTime {
        self.sim.now()
    }

    /// Moves the simulator's clock.
    pub fn advance(&self, by: time::Duration) {
        self.sim.clock.advance(by);
    }

    /// Settles due refunds (with `auto_settle_refunds`) and sends every notification attempt
    /// due on the simulator's clock; returns the number of requests sent.
    pub async fn deliver_due_notifications(&self) -> usize {
        notify::run_due(&self.sim).await
    }

    /// The notification log.
    pub fn notifications(&self) -> Vec<NotificationRecord> {
        self.sim.notifications(None)
    }

    /// Stops the listeners and the delivery ticker and waits for them.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// Runs a simulator for the CLI (`paygate sim --listen ADDR --tls-listen ADDR`) until Ctrl-C.
///
/// Logs the two base URLs and writes the TLS CA certificate's PEM to the log at start (clients
/// of `/secapi/pay/refund` must trust it). Uses `config` as given: pass
/// [`SimConfig::default()`] with the listen addresses set for a running clock, background
/// notification delivery and refunds settling after 5 s.
pub async fn serve(config: SimConfig) -> Result<(), SimError> {
    let sim = Simulator::spawn(config).await?;
    tracing::info!(
        http = sim.base_url(),
        https = sim.tls_base_url(),
        ca_pem = sim.ca_pem(),
        "WeChat simulator listening (NOT WeChat: test and demo only)"
    );
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    Ok(())
}
