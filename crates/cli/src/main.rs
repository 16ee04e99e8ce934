//! `paygate` — a multi-tenant WeChat Pay platform in one binary.
//!
//! This is the composition root: the only crate that knows every other one. It parses the
//! command line, wires the crates together and runs the chosen role. It holds no business rules.

mod sim;

use clap::{Parser, Subcommand};

/// paygate: log mini-program users in, take WeChat Pay payments and refunds for many merchants,
/// and forward signed webhooks to their backends.
#[derive(Debug, Parser)]
#[command(name = "paygate", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the WeChat simulator alone (WeChat Pay v2 and v3, mini-program APIs, control API).
    ///
    /// For tests and demos only: it is not WeChat.
    Sim(sim::SimArgs),
    /// Print the payment provider kinds this build supports.
    Providers,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    match cli.command {
        Command::Sim(args) => sim::run(args),
        Command::Providers => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for kind in [
                paygate_core::ProviderKind::WechatV2,
                paygate_core::ProviderKind::WechatV3,
            ] {
                writeln!(out, "{}", kind.as_str())?;
            }
            Ok(())
        }
    }
}

/// Logs to stderr; `RUST_LOG` overrides the default `info` level.
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
