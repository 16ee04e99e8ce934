//! [`TestApp`]: one real paygate process per test, started in-process through
//! `paygate_cli::app::start` on an ephemeral port, with its own database, a [`ManualClock`],
//! an admin operator bootstrapped through the store (as `paygate admin create-operator`
//! does) and logged in over HTTP.
//!
//! Every request goes through [`TestApp::req`], which records the response; every secret a
//! test hands the server is registered with [`TestApp::secret`]. [`TestApp::finish`] stops
//! the server and fails the test if any recorded response (other than the one that issued a
//! secret) or any captured log line contains any registered secret.

mod api;
mod db;
pub mod fixtures;
pub mod logs;
pub mod pay;
pub mod pay_flow;
pub mod pay_sim;
pub mod receiver;

use std::sync::{Arc, Mutex, PoisonError};

use paygate_cli::app::{self, Running, StartOptions};
use paygate_cli::config::{Config, Mode, SecretSource};
use paygate_core::ManualClock;
use paygate_store::{Audit, MasterKey, Role};
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

pub use api::Session;
pub(crate) use db::both_backends;
pub use db::{Backend, TestDb};

/// What replaces a secret in the one response that hands it out.
const ISSUED: &str = "[issued-once]";

/// A running paygate and everything a test needs to talk to it.
pub struct TestApp {
    pub base_url: String,
    pub clock: ManualClock,
    /// The HS256 secret the server signs operator tokens with (to forge tokens).
    pub jwt_secret: String,
    /// The bootstrapped admin, logged in.
    pub admin: Session,
    http: reqwest::Client,
    /// Where the database is and the key that opens it, for a second "instance".
    database_url: String,
    master_key: SecretString,
    // Field order matters: the server must stop before its database is dropped.
    running: Option<Running>,
    _db: TestDb,
    secrets: Mutex<Vec<(String, String)>>,
    responses: Mutex<Vec<Recorded>>,
}

struct Recorded {
    what: String,
    text: String,
}

/// A response, read in full.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
    /// Which request this answered (`METHOD /path`), for assertion messages.
    pub what: String,
    seq: usize,
}

impl Response {
    /// The body as JSON (panics with the body when it is not).
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("{}: body is not JSON ({e}): {}", self.what, self.text))
    }

    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status, status,
            "{} answered {} (wanted {status}): {}",
            self.what, self.status, self.text
        );
        self.json()
    }

    /// Asserts an error envelope `{code, message, details?}` with this status and code, and
    /// returns it.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) -> Value {
        let body = self.expect(status);
        assert_eq!(body["code"], code, "{}: {}", self.what, self.text);
        assert!(
            body["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: an error needs a message: {}",
            self.what,
            self.text
        );
        let keys: Vec<&String> = body
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert!(
            keys.iter()
                .all(|k| ["code", "message", "details"].contains(&k.as_str())),
            "{}: unexpected envelope keys {keys:?}",
            self.what
        );
        body
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request being built; see [`TestApp::req`].
pub struct Req<'a> {
    app: &'a TestApp,
    builder: reqwest::RequestBuilder,
    what: String,
}

impl Req<'_> {
    pub fn bearer(mut self, token: &str) -> Self {
        self.builder = self.builder.bearer_auth(token);
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.builder = self.builder.header(name, value);
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.builder = self.builder.json(body);
        self
    }

    /// A body sent as is, with this content type.
    pub fn raw(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        self.builder = self
            .builder
            .header("content-type", content_type)
            .body(body.into());
        self
    }

    pub async fn send(self) -> Response {
        // Every request happens a millisecond after the previous one, so rows get distinct,
        // ordered timestamps (and time-ordered ids) without real waiting.
        self.app.clock.advance(time::Duration::milliseconds(1));
        let response = self
            .builder
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", self.what));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let mut recorded = self
            .app
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        recorded.push(Recorded {
            what: self.what.clone(),
            text: text.clone(),
        });
        Response {
            status,
            headers,
            text,
            what: self.what,
            seq: recorded.len() - 1,
        }
    }
}

impl TestApp {
    /// Starts paygate on a fresh database of `backend`, creates an admin and logs it in.
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_in(backend, Mode::Production).await
    }

    /// [`Self::spawn`] in `mode` (`Mode::Demo`: with the in-process simulator and the seeded
    /// demo tenant; see [`pay::PayApp`]).
    pub async fn spawn_in(backend: Backend, mode: Mode) -> TestApp {
        TestApp::spawn_with(backend, mode, |_| {}).await
    }

    /// [`Self::spawn_in`] with the configuration adjusted by `configure` first.
    pub async fn spawn_with(
        backend: Backend,
        mode: Mode,
        configure: impl FnOnce(&mut Config),
    ) -> TestApp {
        let db = TestDb::create(&backend).await;
        let master_key = random_master_key();
        let jwt_secret = fixtures::random_text(48);
        let mut config = configured(db.config(), &master_key, &jwt_secret);
        configure(&mut config);
        let database_url = config.database_url.expose().to_owned();
        let clock = ManualClock::new(whole_millis(time::OffsetDateTime::now_utc()));
        let running = start_in(config, &clock, mode)
            .await
            .expect("paygate starts");
        let base_url = running.base_url().to_owned();
        let admin_password = fixtures::random_text(24);
        let admin_name = fixtures::unique("root");
        let admin_id = bootstrap_operator(&running, &admin_name, &admin_password).await;
        let mut app = TestApp {
            base_url,
            clock,
            jwt_secret: jwt_secret.clone(),
            admin: Session::default(),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("HTTP client"),
            database_url,
            master_key: master_key.clone(),
            running: Some(running),
            _db: db,
            secrets: Mutex::default(),
            responses: Mutex::default(),
        };
        app.secret(
            "master key",
            master_key.expose_secret().trim_start_matches("v1:"),
        );
        app.secret("JWT secret", &jwt_secret);
        app.secret("admin password", &admin_password);
        let token = app.login_ok(&admin_name, &admin_password).await;
        app.admin = Session {
            token,
            operator_id: admin_id,
            username: admin_name,
            password: admin_password,
        };
        app
    }

    /// Starts a request to `path` (relative to the server's base URL).
    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            builder: self
                .http
                .request(method.clone(), format!("{}{path}", self.base_url)),
            what: format!("{method} {path}"),
        }
    }

    /// Registers a value that must never appear in a response or a log line.
    pub fn secret(&self, what: &str, value: &str) {
        assert!(value.len() >= 8, "{what}: too short to search for reliably");
        self.secrets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((what.to_owned(), value.to_owned()));
    }

    /// Registers a secret handed out by `response` (its one legitimate appearance).
    #[track_caller]
    pub fn issued(&self, what: &str, response: &Response, value: &str) {
        assert!(
            response.text.contains(value),
            "{}: does not contain the {what} it hands out",
            response.what
        );
        let mut recorded = self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let entry = &mut recorded[response.seq];
        entry.text = entry.text.replace(value, ISSUED);
        drop(recorded);
        self.secret(what, value);
    }

    /// The store of the running server, for arranging data no endpoint creates yet (orders).
    pub fn store(&self) -> &paygate_store::Store {
        self.running.as_ref().expect("running").store()
    }

    /// The running process (its simulator and demo in `Mode::Demo`).
    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("running")
    }

    /// Starts a request to an absolute URL (the simulator's control API).
    pub fn req_url(&self, method: Method, url: &str) -> Req<'_> {
        Req {
            app: self,
            builder: self.http.request(method.clone(), url),
            what: format!("{method} {url}"),
        }
    }

    /// Stops the server, then fails if any secret leaked into a response or a log line.
    pub async fn finish(mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await.expect("clean shutdown");
        }
        self.assert_no_leaks();
    }

    #[track_caller]
    fn assert_no_leaks(&self) {
        let logs = logs::captured();
        assert!(
            logs.contains(&self.admin.operator_id),
            "the log capture saw nothing of this test's server (no line names {}): the leak \
             check would be vacuous",
            self.admin.operator_id
        );
        let secrets = self.secrets.lock().unwrap_or_else(PoisonError::into_inner);
        let responses = self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        for (what, value) in secrets.iter() {
            for r in responses.iter() {
                assert!(
                    !r.text.contains(value.as_str()),
                    "the {what} leaked into the response to {}",
                    r.what
                );
            }
            assert!(
                !logs.contains(value.as_str()),
                "the {what} leaked into the logs"
            );
        }
    }
}

impl TestApp {
    /// A store over this app's database with a connection pool of its own, as a second
    /// paygate instance would open it (another process in production).
    pub async fn another_instance_store(&self) -> paygate_store::Store {
        let hex = self.master_key.expose_secret().trim_start_matches("v1:");
        let key = MasterKey::from_hex(1, hex).expect("the test master key");
        let clock: Arc<dyn paygate_core::Clock> = Arc::new(self.clock.clone());
        paygate_store::Store::connect(&self.database_url, key, clock)
            .await
            .expect("a second pool opens")
    }
}

/// A fresh version-1 master key in the configuration format `v1:<64 hex>`.
pub fn random_master_key() -> SecretString {
    let key = MasterKey::generate(1);
    SecretString::from(format!("v1:{}", key.to_hex().expose_secret()))
}

/// `config` with an inline master key and JWT secret (PostgreSQL generates no key files).
pub fn configured(mut config: Config, master_key: &SecretString, jwt_secret: &str) -> Config {
    config.master_key = SecretSource::Inline(master_key.clone());
    config.jwt_secret = SecretSource::Inline(SecretString::from(jwt_secret.to_owned()));
    // Tests drive the delivery worker's `run_once` on the manual clock (tests/e2e/webhooks.rs);
    // a background worker would race them and reach for the endpoints tests configure.
    config.webhooks.enabled = false;
    config
}

/// Starts paygate on `clock`.
pub async fn start(config: Config, clock: &ManualClock) -> Result<Running, app::StartError> {
    start_in(config, clock, Mode::Production).await
}

/// Starts paygate on `clock` in `mode`.
pub async fn start_in(
    config: Config,
    clock: &ManualClock,
    mode: Mode,
) -> Result<Running, app::StartError> {
    logs::init();
    let mut options = StartOptions::new(config);
    options.clock = Arc::new(clock.clone());
    options.mode = mode;
    app::start(options).await
}

/// Creates an admin operator through the store, as `paygate admin create-operator` does.
async fn bootstrap_operator(running: &Running, username: &str, password: &str) -> String {
    let hash = paygate_server::password::hash(SecretString::from(password.to_owned()))
        .await
        .expect("argon2 hash");
    running
        .store()
        .operators()
        .create(
            &Audit::cli(),
            username,
            &SecretString::from(hash),
            Role::Admin,
        )
        .await
        .expect("bootstrap operator")
        .id
        .to_string()
}

/// The database keeps milliseconds: start the clock on one so stored and served times agree.
fn whole_millis(t: time::OffsetDateTime) -> time::OffsetDateTime {
    let ms = t.millisecond();
    t.replace_millisecond(ms).unwrap_or(t)
}
