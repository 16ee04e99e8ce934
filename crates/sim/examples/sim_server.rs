//! A standalone simulator for scripts (the interop suite): `cargo run -p paygate-sim --example
//! sim_server -- [--listen ADDR] [--tls-listen ADDR] [--ca-out FILE] [--time-scale F]`.
//!
//! Prints `SIM_HTTP=…` and `SIM_HTTPS=…` lines on stdout once listening, writes the TLS CA
//! certificate to `--ca-out` when given, and runs until killed. The clock runs with real time;
//! notifications are delivered in the background; refunds settle only through the control API.

use std::io::Write;

fn main() -> anyhow::Result<()> {
    let mut config = paygate_sim::SimConfig {
        auto_settle_refunds: None,
        ..Default::default()
    };
    let mut ca_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| anyhow::anyhow!("{a} needs a value"))
        };
        match a.as_str() {
            "--listen" => config.listen = value()?.parse()?,
            "--tls-listen" => config.tls_listen = value()?.parse()?,
            "--ca-out" => ca_out = Some(value()?),
            "--time-scale" => config.notify_time_scale = value()?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async move {
        let sim = paygate_sim::Simulator::spawn(config).await?;
        if let Some(path) = ca_out {
            std::fs::write(path, sim.ca_pem())?;
        }
        let mut out = std::io::stdout().lock();
        writeln!(out, "SIM_HTTP={}", sim.base_url())?;
        writeln!(out, "SIM_HTTPS={}", sim.tls_base_url())?;
        out.flush()?;
        drop(out);
        tokio::signal::ctrl_c().await?;
        sim.shutdown().await;
        anyhow::Ok(())
    })
}
