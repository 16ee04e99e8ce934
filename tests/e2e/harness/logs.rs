//! Every log line of the test process, captured in memory so tests can prove that no secret
//! was ever logged.
//!
//! One global subscriber (installed once, on first use) writes plain text at `debug` for the
//! paygate crates and tower-http, `info` elsewhere, into a shared buffer. Tests run in
//! parallel in this process, so the buffer holds every test's lines: each test checks its own
//! secrets against all of them, which is stricter, not weaker.

use std::io;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use tracing_subscriber::EnvFilter;

type Buffer = Arc<Mutex<Vec<u8>>>;

static CAPTURED: OnceLock<Buffer> = OnceLock::new();

/// What the subscriber records. `RUST_LOG` is ignored on purpose: a quieter filter would
/// make the leak checks weaker without anyone noticing.
const FILTER: &str = "info,paygate_cli=debug,paygate_server=debug,paygate_store=debug,\
                      paygate_core=debug,paygate_wechat_v2=debug,paygate_wechat_v3=debug,\
                      tower_http=debug";

struct Writer(Buffer);

impl io::Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber (idempotent).
pub fn init() {
    CAPTURED.get_or_init(|| {
        let buffer = Buffer::default();
        let sink = Arc::clone(&buffer);
        tracing_subscriber::fmt()
            .with_env_filter(EnvFilter::new(FILTER))
            .with_ansi(false)
            .with_writer(move || Writer(Arc::clone(&sink)))
            .try_init()
            .expect("no other global tracing subscriber in the e2e binary");
        buffer
    });
}

/// Everything logged so far by any test.
pub fn captured() -> String {
    let buffer = CAPTURED.get().expect("logs::init was called");
    String::from_utf8_lossy(&buffer.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
}
