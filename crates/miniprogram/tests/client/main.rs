//! Integration tests of the mini-program client: against wiremock stubs (edge cases, exact call
//! counts) and against the real simulator (`paygate-sim`, on port 0).
//!
//! One test binary, to save link time on two cores.

// A panic in a test is a failed assertion.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod login;
mod phone;
mod sim;
mod token;
mod wxacode;

use std::sync::Arc;

use paygate_core::ManualClock;
use paygate_miniprogram::{AppCredentials, MiniProgramClient, MiniProgramConfig, TokenMode};
use wiremock::MockServer;

pub const APPID: &str = "wx4f4bc4dec97d474b";
pub const SECRET: &str = "app-secret-never-logged-1234";
/// base64 of 16 bytes, as WeChat's session keys are.
pub const SESSION_KEY: &str = "tiihtNczf5v6AKRyjwEUhQ==";
/// 2019-04-02T12:34:20Z; any fixed instant works.
pub const T0: i64 = 1_554_208_460;

pub fn app() -> AppCredentials {
    AppCredentials::new(APPID.parse().unwrap(), SECRET)
}

pub fn clock() -> ManualClock {
    ManualClock::at_unix(T0)
}

pub fn client_for(base_url: &str, clock: &ManualClock, mode: TokenMode) -> MiniProgramClient {
    let config = MiniProgramConfig::new(Arc::new(clock.clone()))
        .with_base_url(base_url)
        .with_token_mode(mode);
    MiniProgramClient::new(config).unwrap()
}

pub fn client(server: &MockServer, clock: &ManualClock) -> MiniProgramClient {
    client_for(&server.uri(), clock, TokenMode::Stable)
}

/// Every call must be usable from `tokio::spawn` and axum handlers.
#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: T) {}
    let client = client_for("http://127.0.0.1:9", &clock(), TokenMode::Stable);
    let app = app();
    let request = paygate_miniprogram::WxaCodeRequest::new("a=1");
    assert_send(client.jscode2session(&app, "code"));
    assert_send(client.access_token(&app));
    assert_send(client.get_unlimited_wxacode(&app, &request));
    assert_send(client.get_user_phone_number(&app, "code"));
}
