//! `paygate` — a multi-tenant WeChat Pay platform in one binary.
//!
//! This is the composition root: the only crate that knows every other one. It parses the
//! command line, wires the crates together and runs the chosen role. It holds no business rules.

use clap::{Parser, Subcommand};

/// paygate: log mini-program users in, take WeChat Pay payments and refunds for many merchants,
/// and forward signed webhooks to their backends.
#[derive(Debug, Parser)]
#[command(name = "paygate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the provider kinds this build supports.
    Providers,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Providers => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            for kind in [paygate_core::ProviderKind::WechatV2, paygate_core::ProviderKind::WechatV3] {
                writeln!(out, "{}", kind.as_str())?;
            }
        }
    }
    Ok(())
}
