//! The `paygate` subcommands other than `sim`: their arguments and what they do.
//!
//! Commands print results on stdout (machine-readable where a script would want it) and logs
//! on stderr. They must never print a secret except the one a command exists to hand out
//! once (`admin create-operator`'s generated password, `admin token`'s token).

pub mod admin;
pub mod serve;

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;

use crate::config::{self, Config, Flags, LogFormat, Mode, Sources};

/// Flags every command that reads the configuration accepts.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ConfigArgs {
    /// TOML configuration file [default: ./paygate.toml when it exists].
    #[arg(long, env = "PAYGATE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the SQLite database, the key files and demo.json [default: ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://FILE` or `postgres://…` [default: sqlite://<data_dir>/paygate.db].
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Log format on stderr: text or json [default: text].
    #[arg(long, value_name = "FORMAT", value_parser = parse_log_format)]
    pub log_format: Option<LogFormat>,
}

fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json".into()),
    }
}

impl ConfigArgs {
    /// The layers these flags describe (plus any extra flags).
    pub fn sources(&self, extra: Flags) -> Sources {
        Sources {
            config_file: self.config.clone(),
            flags: Flags {
                data_dir: self.data_dir.clone(),
                database_url: self.database_url.clone(),
                log_format: self.log_format,
                ..extra
            },
        }
    }

    /// Loads the configuration and installs logging in its format.
    pub fn load(&self, extra: Flags, mode: Mode) -> anyhow::Result<Config> {
        let config = config::load(&self.sources(extra), mode)?;
        crate::logging::init(config.log_format);
        Ok(config)
    }
}

/// A multi-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Runtime::new().context("starting the async runtime")
}

/// `paygate migrate`: applies the migrations and exits.
pub fn migrate(args: &ConfigArgs) -> anyhow::Result<()> {
    let config = args.load(Flags::default(), Mode::Production)?;
    runtime()?.block_on(async {
        let clock = std::sync::Arc::new(paygate_core::SystemClock);
        let opened = crate::app::open(&config, clock).await?;
        tracing::info!(
            database = %config.database_url.redacted(),
            "migrations applied; the master key matches"
        );
        opened.store.close().await;
        anyhow::Ok(())
    })
}

/// Output format of `config check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CheckFormat {
    Toml,
    Json,
}

/// `paygate config check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Check the configuration as `paygate serve --sim` would use it.
    #[arg(long)]
    pub sim: bool,
    #[arg(long, value_enum, default_value = "toml")]
    pub format: CheckFormat,
}

/// `paygate config check`: validates, then prints the effective configuration with every
/// secret redacted and the origin of each value.
pub fn config_check(args: &CheckArgs) -> anyhow::Result<()> {
    let mode = if args.sim {
        Mode::Demo
    } else {
        Mode::Production
    };
    let sources = args.config.sources(Flags {
        listen: args.listen.clone(),
        public_url: args.public_url.clone(),
        ..Flags::default()
    });
    let figment = config::figment(&sources)?;
    let checked = config::from_figment(&figment, mode)?;
    let tree = config::view::redacted(&checked);
    let origins = config::view::origins(&figment, &tree);
    let text = match args.format {
        CheckFormat::Toml => config::view::to_toml(&tree, &origins),
        CheckFormat::Json => {
            serde_json::to_string_pretty(&config::view::to_json(&tree, &origins))? + "\n"
        }
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(())
}

/// `paygate providers`: the provider kinds this build registers.
pub fn providers() -> anyhow::Result<()> {
    let endpoints = crate::providers::ProviderEndpoints {
        wechatpay_base_url: config::DEFAULT_WECHATPAY_BASE_URL.to_owned(),
        wechatpay_secapi_base_url: None,
        extra_root_ca_pem: None,
        timeout: config::Upstream::default().timeout(),
    };
    let registry =
        crate::providers::registry(&endpoints, std::sync::Arc::new(paygate_core::SystemClock));
    let mut out = std::io::stdout().lock();
    for kind in crate::providers::kinds(&registry) {
        writeln!(out, "{}", kind.as_str())?;
    }
    Ok(())
}
