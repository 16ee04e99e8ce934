//! Process-wide logging: tracing to stderr, as text or JSON lines.
//!
//! `RUST_LOG` overrides the default filter (`info`, sqlx at `warn`). Nothing logged anywhere in paygate may
//! contain a secret; this module only chooses the format.

use crate::config::LogFormat;

/// `info`, except sqlx's per-statement chatter (PostgreSQL notices such as "relation already
/// exists, skipping" during migrations).
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber. Call once, from `main`; a second call is a no-op (tests).
pub fn init(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or a collector gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // `try_init` fails only when a subscriber is already installed, which is fine.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
