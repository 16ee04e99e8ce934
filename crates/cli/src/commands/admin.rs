//! `paygate admin …`: bootstrap and break-glass operations run on the server host.
//!
//! Each command opens the store exactly as `serve` does (same configuration, same key files,
//! same master-key check) and writes with the `"cli"` audit actor.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use paygate_core::{Clock, SystemClock};
use paygate_server::{JwtSettings, password};
use paygate_store::{Audit, MasterKey, Role};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};

use super::ConfigArgs;
use crate::config::{Flags, Mode, SecretSource};
use crate::keyfile;

#[derive(Debug, clap::Subcommand)]
pub enum AdminCommand {
    /// Create an operator of the admin console. The password is read from stdin with
    /// --password-stdin, or generated and printed once.
    CreateOperator {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        username: String,
        #[arg(long, value_parser = ["admin", "viewer"])]
        role: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print an admin API token (JWT) for an existing, enabled operator.
    Token {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long)]
        username: String,
        /// Lifetime in seconds [default: admin_token_ttl_secs].
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=86_400))]
        ttl_secs: Option<u64>,
    },
    /// Replace the master key: re-wrap every tenant's data key under a new one (version + 1).
    ///
    /// With a key file, the new key replaces it and the old one is kept as
    /// master.key.old-v<N>. With a configured key (PAYGATE_MASTER_KEY), --new-key-file is
    /// required: the new key is taken from that file, or generated into it when it does not
    /// exist; then configure its content and restart every instance.
    RotateMasterKey {
        #[command(flatten)]
        config: ConfigArgs,
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

/// Length of a generated operator password.
const GENERATED_PASSWORD_LEN: usize = 24;

pub fn run(command: &AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::CreateOperator {
            config,
            username,
            role,
            password_stdin,
        } => create_operator(config, username, role, *password_stdin),
        AdminCommand::Token {
            config,
            username,
            ttl_secs,
        } => token(config, username, *ttl_secs),
        AdminCommand::RotateMasterKey {
            config,
            new_key_file,
        } => rotate_master_key(config, new_key_file.as_deref()),
    }
}

fn create_operator(
    args: &ConfigArgs,
    username: &str,
    role: &str,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let role: Role = role.parse()?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_to_string(&mut line)
            .context("reading the password from stdin")?;
        let line = line.strip_suffix('\n').unwrap_or(&line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        (SecretString::from(line.to_owned()), false)
    } else {
        (generate_password(), true)
    };
    password::check_new_password(&password).map_err(|e| anyhow::anyhow!("password {e}"))?;
    let config = args.load(Flags::default(), Mode::Production)?;
    super::runtime()?.block_on(async {
        let opened = crate::app::open(&config, Arc::new(SystemClock)).await?;
        let hash = SecretString::from(password::hash(password.clone()).await?);
        let operator = opened
            .store
            .operators()
            .create(&Audit::cli(), username, &hash, role)
            .await?;
        opened.store.close().await;
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "operator {} ({}, {}) created",
            operator.id, username, role
        )?;
        if generated {
            writeln!(
                out,
                "password: {}\n(shown once: store it now)",
                password.expose_secret()
            )?;
        }
        anyhow::Ok(())
    })
}

/// A random password of letters and digits.
pub fn generate_password() -> SecretString {
    let text: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect();
    SecretString::from(text)
}

fn token(args: &ConfigArgs, username: &str, ttl_secs: Option<u64>) -> anyhow::Result<()> {
    let config = args.load(Flags::default(), Mode::Production)?;
    let clock = Arc::new(SystemClock);
    super::runtime()?.block_on(async {
        let opened = crate::app::open(&config, clock.clone()).await?;
        let found = opened.store.operators().find_by_username(username).await?;
        opened.store.close().await;
        let Some(login) = found else {
            bail!("no operator named {username:?}");
        };
        if login.operator.disabled {
            bail!("operator {username:?} is disabled");
        }
        let mut jwt = JwtSettings::new(opened.jwt_secret);
        jwt.ttl = Duration::from_secs(ttl_secs.unwrap_or(config.admin_token_ttl_secs));
        let (token, expires_at) = paygate_server::jwt::issue_operator_token(
            &jwt,
            &login.operator.id,
            login.operator.token_version,
            clock.now(),
        )?;
        tracing::info!(
            operator = %login.operator.id,
            expires_at = %paygate_core::time_fmt::to_utc_rfc3339(expires_at),
            "admin token issued"
        );
        writeln!(std::io::stdout().lock(), "{token}")?;
        anyhow::Ok(())
    })
}

fn rotate_master_key(args: &ConfigArgs, new_key_file: Option<&Path>) -> anyhow::Result<()> {
    let config = args.load(Flags::default(), Mode::Production)?;
    // Read (never generate) the current key: rotating a key nobody has is meaningless.
    let (old, _) = keyfile::master_key(&config.master_key, false)?;
    let old_version = old.version();
    let next_version = old_version
        .checked_add(1)
        .context("the master key is at version 255; no higher version exists")?;
    let old_fingerprint = old.fingerprint();

    // The new key is on disk before the database changes: a crash in between leaves it
    // recoverable.
    let (new_key, generated) = match (new_key_file, &config.master_key) {
        (Some(path), _) if path.exists() => {
            let key = keyfile::parse_master_key(keyfile::read_secret_file(path)?.expose_secret())?;
            if key.version() <= old_version {
                bail!(
                    "{} holds a version {} key; the new key must have a version above {old_version}",
                    path.display(),
                    key.version()
                );
            }
            (key, None)
        }
        (Some(path), _) => {
            let key = MasterKey::generate(next_version);
            keyfile::write_secret_file(path, &keyfile::format_master_key(&key))?;
            (key, Some(path.to_path_buf()))
        }
        (None, SecretSource::File(current)) => {
            let key = MasterKey::generate(next_version);
            let staged = staging_path(current);
            keyfile::write_secret_file(&staged, &keyfile::format_master_key(&key)).with_context(
                || {
                    format!(
                        "staging the new key (if {} is left from an interrupted rotation, see \
                         the README's \"Rotating the master key\")",
                        staged.display()
                    )
                },
            )?;
            (key, Some(staged))
        }
        (None, SecretSource::Inline(_)) => bail!(
            "the master key is configured, not in a file: pass --new-key-file FILE (the new key \
             is generated into FILE), then configure its content"
        ),
    };
    if new_key.fingerprint() == old_fingerprint {
        bail!("the new key is the current key");
    }
    let new_fingerprint = new_key.fingerprint();
    let new_version = new_key.version();
    let new_text = keyfile::format_master_key(&new_key);

    let rotated = super::runtime()?.block_on(async {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store = paygate_store::Store::connect(config.database_url.expose(), old, clock).await?;
        store.migrate().await?;
        let count = store.rotate_master_key(&Audit::cli(), new_key).await;
        store.close().await;
        anyhow::Ok(count?)
    });
    let tenants = match rotated {
        Ok(n) => n,
        Err(e) => {
            // Nothing changed in the database: a key generated for this attempt is useless.
            if let Some(generated) = &generated {
                let _ = std::fs::remove_file(generated);
            }
            return Err(e);
        }
    };

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "master key rotated: v{old_version} ({old_fingerprint}) -> v{new_version} \
         ({new_fingerprint}); {tenants} tenant data key(s) re-wrapped"
    )?;
    match (&config.master_key, new_key_file) {
        (SecretSource::File(current), _) => {
            let kept = current.with_file_name(format!(
                "{}.old-v{old_version}",
                current.file_name().unwrap_or_default().to_string_lossy()
            ));
            if kept.exists() {
                bail!(
                    "{} already exists; the new key is in the database. Move it away, then \
                     move {} to {} and write the new key to {}",
                    kept.display(),
                    current.display(),
                    kept.display(),
                    current.display()
                );
            }
            std::fs::rename(current, &kept)
                .with_context(|| format!("keeping the old key as {}", kept.display()))?;
            keyfile::write_secret_file(current, &new_text)?;
            if new_key_file.is_none() {
                let staged = staging_path(current);
                std::fs::remove_file(&staged)
                    .with_context(|| format!("removing {}", staged.display()))?;
            }
            writeln!(
                out,
                "new key: {}\nold key kept as: {} (delete it once backups made with it expire)",
                current.display(),
                kept.display()
            )?;
        }
        (SecretSource::Inline(_), Some(path)) => writeln!(
            out,
            "new key: {}\nconfigure its content as PAYGATE_MASTER_KEY (or master_key) and \
             restart every instance; instances still on the old key now fail to open secrets",
            path.display()
        )?,
        (SecretSource::Inline(_), None) => {}
    }
    Ok(())
}

/// `master.key` → `master.key.new`.
fn staging_path(current: &Path) -> PathBuf {
    current.with_file_name(format!(
        "{}.new",
        current.file_name().unwrap_or_default().to_string_lossy()
    ))
}
