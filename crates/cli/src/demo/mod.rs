//! `paygate serve --sim`: a self-contained demo — the WeChat simulator in-process, a seeded
//! tenant, and a local webhook receiver — with everything a walkthrough needs written to
//! `<data_dir>/demo.json` (mode 0600).
//!
//! Seeding is idempotent across restarts: the demo app's appid finds the demo tenant again,
//! and secrets that still work (operator password, API key) are kept. The simulator forgets
//! everything when it stops, so the merchant and app are registered with it on every start,
//! and the v3 channel gets a new credentials version when the simulator's WeChat Pay public
//! key changed.
//!
//! Demo only: the merchant keys are the repository's test fixtures and the file holds
//! plaintext secrets. Nothing here may run without `--sim`.

mod seed;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::webhook_sink::WebhookReceiver;

pub use seed::seed;

/// The file name under `data_dir`.
pub const DEMO_FILE: &str = "demo.json";
/// The demo operator's username.
pub const DEMO_USERNAME: &str = "demo";
/// The demo mini-program.
pub const DEMO_APPID: &str = "wxd678efh567hg6787";
/// The demo merchant (matches the fixture certificate's subject).
pub const DEMO_MCH_ID: &str = "1230000109";

/// The simulator of the demo: a running clock, background notification delivery, refunds
/// settling after five simulated seconds.
pub fn sim_config() -> paygate_sim::SimConfig {
    paygate_sim::SimConfig::default()
}

/// What `demo.json` holds. It is a file of secrets on purpose (mode 0600); `Debug` shows
/// only the public ids.
#[derive(Clone, Serialize, Deserialize)]
pub struct DemoInfo {
    pub paygate_url: String,
    pub docs_url: String,
    pub simulator: SimUrls,
    pub operator: OperatorCredentials,
    /// A fresh admin API token (JWT) for the operator, issued at this start.
    pub admin_token: String,
    pub admin_token_expires_at: String,
    pub tenant_id: String,
    pub appid: String,
    /// The demo app's `AppSecret` (the simulator checks it on `jscode2session`).
    pub app_secret: String,
    pub mch_id: String,
    pub channels: DemoChannels,
    /// A tenant API key with every scope.
    pub api_key: String,
    pub webhook: DemoWebhook,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SimUrls {
    pub http: String,
    pub https: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct OperatorCredentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DemoChannels {
    pub wechat_v2: String,
    pub wechat_v3: String,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct DemoWebhook {
    /// The local receiver; `GET` on it lists what arrived.
    pub url: String,
    /// The tenant's webhook signing secret.
    pub secret: String,
}

impl fmt::Debug for OperatorCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorCredentials")
            .field("username", &self.username)
            .field("password", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for DemoWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoWebhook")
            .field("url", &self.url)
            .field("secret", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for DemoInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DemoInfo")
            .field("paygate_url", &self.paygate_url)
            .field("tenant_id", &self.tenant_id)
            .field("appid", &self.appid)
            .field("channels", &self.channels)
            .finish_non_exhaustive()
    }
}

/// The running demo: what was seeded, and the webhook receiver.
#[derive(Debug)]
pub struct Demo {
    info: DemoInfo,
    path: PathBuf,
    receiver: WebhookReceiver,
}

impl Demo {
    pub fn info(&self) -> &DemoInfo {
        &self.info
    }

    /// `<data_dir>/demo.json`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn receiver(&self) -> &WebhookReceiver {
        &self.receiver
    }

    /// A few lines for the terminal; secrets stay in the file.
    pub fn summary(&self) -> String {
        let i = &self.info;
        format!(
            "\npaygate demo (WeChat is the in-process simulator; nothing here is real)\n\
             \x20 console        {}/admin/\n\
             \x20 admin API      {}/admin/v1   (docs: {})\n\
             \x20 operator       {} (password, a fresh token and the API key are in {})\n\
             \x20 tenant         {}\n\
             \x20 app / merchant {} / {}\n\
             \x20 channels       v2 {}  v3 {}\n\
             \x20 webhooks to    {}  (GET it to see what arrived)\n\
             \x20 simulator      {}\n\
             try: TOKEN=$(jq -r .admin_token {}); curl -s -H \"authorization: Bearer $TOKEN\" \
             {}/admin/v1/tenants\n\n",
            i.paygate_url,
            i.paygate_url,
            i.docs_url,
            i.operator.username,
            self.path.display(),
            i.tenant_id,
            i.appid,
            i.mch_id,
            i.channels.wechat_v2,
            i.channels.wechat_v3,
            i.webhook.url,
            i.simulator.http,
            self.path.display(),
            i.paygate_url,
        )
    }

    pub(crate) async fn receiver_stopped(&mut self) {
        self.receiver.stopped().await;
    }

    pub(crate) async fn stop(self) {
        self.receiver.stop().await;
    }
}
