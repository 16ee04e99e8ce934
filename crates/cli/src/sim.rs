//! `paygate sim`: the WeChat simulator as a standalone process (demos, SDK interop, benches).

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;

#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Address of the plain-HTTP listener (every WeChat endpoint and the `/sim` control API).
    #[arg(long, env = "PAYGATE_SIM_LISTEN", default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Address of the HTTPS listener serving `/secapi/pay/refund`, which requires the merchant's
    /// client certificate as WeChat does.
    #[arg(long, env = "PAYGATE_SIM_TLS_LISTEN", default_value = "127.0.0.1:9443")]
    tls_listen: SocketAddr,
    /// Write the simulator's TLS CA certificate (PEM) here, for clients of the HTTPS listener.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Multiply WeChat's notification retry intervals (15 s, 15 s, 30 s, 3 min …) by this.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Settle accepted refunds as SUCCESS after this many simulated seconds (0: only through
    /// `POST /sim/refunds/{out_refund_no}/settle`).
    #[arg(long, default_value_t = 5)]
    refund_settle_after: i64,
}

pub fn run(args: SimArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.time_scale.is_finite() && args.time_scale > 0.0,
        "--time-scale must be a positive number"
    );
    let config = paygate_sim::SimConfig {
        listen: args.listen,
        tls_listen: args.tls_listen,
        notify_time_scale: args.time_scale,
        auto_settle_refunds: (args.refund_settle_after > 0)
            .then(|| time::Duration::seconds(args.refund_settle_after)),
        ..paygate_sim::SimConfig::default()
    };
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async move {
        let sim = paygate_sim::Simulator::spawn(config)
            .await
            .context("starting the simulator")?;
        if let Some(path) = &args.ca_out {
            std::fs::write(path, sim.ca_pem())
                .with_context(|| format!("writing the CA certificate to {}", path.display()))?;
        }
        // Machine-readable lines for scripts, before anything else is printed on stdout.
        let mut out = std::io::stdout().lock();
        writeln!(out, "SIM_HTTP={}", sim.base_url())?;
        writeln!(out, "SIM_HTTPS={}", sim.tls_base_url())?;
        out.flush()?;
        drop(out);
        tracing::info!(
            http = sim.base_url(),
            https = sim.tls_base_url(),
            "WeChat simulator listening (not WeChat: tests and demos only); Ctrl-C stops it"
        );
        tokio::signal::ctrl_c()
            .await
            .context("waiting for Ctrl-C")?;
        sim.shutdown().await;
        anyhow::Ok(())
    })
}
