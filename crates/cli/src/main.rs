//! `paygate` — a multi-tenant WeChat Pay platform in one binary.
//!
//! Only the command line lives here; every command is implemented in the `paygate_cli`
//! library, which the end-to-end tests drive directly.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use paygate_cli::commands::{self, CheckArgs, ConfigArgs, admin::AdminCommand, serve::ServeArgs};

/// mimalloc instead of glibc's malloc: a request allocates and frees many small buffers across
/// two worker threads, and glibc's arenas spent ~11 % of the server's CPU per payment in
/// malloc/free and their consolidation (`paygate bench`, v2 on SQLite: 0.68 → 0.62 ms per
/// payment, mean of five alternated runs each). SQLite's own allocations still go to libc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Serve the admin API, the tenant API and WeChat's notifications.
    Serve(ServeArgs),
    /// Apply the database migrations and exit.
    Migrate(ConfigArgs),
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Operators, tokens and the master key.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Run the WeChat simulator alone (WeChat Pay v2 and v3, mini-program APIs, control API).
    ///
    /// For tests and demos only: it is not WeChat.
    Sim(paygate_cli::sim::SimArgs),
    /// Print the payment provider kinds this build supports.
    Providers,
    /// Load and cost harness: drive whole payments through a paygate server and the WeChat
    /// simulator (child processes) and report throughput, latency, CPU per payment and memory.
    Bench(Box<paygate_cli::bench::BenchArgs>),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration and print it (secrets redacted) with each value's origin.
    Check(CheckArgs),
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The whole cause chain on one line; never a backtrace on a configuration error.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => commands::serve::run(&args),
        Command::Migrate(args) => commands::migrate(&args),
        Command::Config(ConfigCommand::Check(args)) => commands::config_check(&args),
        Command::Admin(command) => commands::admin::run(&command),
        Command::Sim(args) => {
            paygate_cli::logging::init(paygate_cli::config::LogFormat::Text);
            paygate_cli::sim::run(args)
        }
        Command::Providers => commands::providers(),
        Command::Bench(args) => paygate_cli::bench::run(*args),
    }
}
