//! Seeding a bench run through public interfaces only: merchants, apps and users at the
//! simulator's control API (`/sim/…`), then per tenant at paygate's admin API (`/admin/v1`):
//! the tenant, its mini-program, one channel (WeChat Pay v2 or v3) with the simulator's
//! credentials, an API key and a webhook endpoint at the bench's receiver.
//!
//! Every id is random per run, so runs never collide on one server. This module never prints
//! an API key, an app secret or a webhook secret; it keeps them only in memory.

use std::time::Duration;

use anyhow::{Context, bail};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

use crate::receiver::WebhookReceiver;

/// Test fixtures (`fixtures/wechatpay/v2/README.md`): a merchant API certificate and its key
/// (RSA-2048, as WeChat issues), valid nowhere but in tests.
pub const MERCHANT_CERT_PEM: &str =
    include_str!("../../../fixtures/wechatpay/v2/apiclient_cert.pem");
pub const MERCHANT_KEY_PEM: &str = include_str!("../../../fixtures/wechatpay/v2/apiclient_key.pem");

/// The WeChat Pay protocol of a tenant's channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    V2,
    V3,
}

impl Protocol {
    /// The channel kind paygate's admin API names.
    pub fn channel_kind(self) -> &'static str {
        match self {
            Protocol::V2 => "wechat-v2",
            Protocol::V3 => "wechat-v3",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Protocol::V2 => "v2",
            Protocol::V3 => "v3",
        }
    }
}

impl std::str::FromStr for Protocol {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> anyhow::Result<Protocol> {
        match s {
            "v2" => Ok(Protocol::V2),
            "v3" => Ok(Protocol::V3),
            other => bail!("unknown protocol {other:?} (v2 or v3)"),
        }
    }
}

/// One seeded tenant: what the load driver needs to pay as it.
#[derive(Clone)]
pub struct SeededTenant {
    pub tenant_id: String,
    pub protocol: Protocol,
    pub appid: String,
    pub mch_id: String,
    pub channel_id: String,
    /// `pk_…` with `orders:write`, `refunds:write` and `read`.
    pub api_key: String,
    /// Simulator users of the tenant's app (payers).
    pub openids: Vec<String>,
}

impl std::fmt::Debug for SeededTenant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeededTenant")
            .field("tenant_id", &self.tenant_id)
            .field("protocol", &self.protocol)
            .field("appid", &self.appid)
            .field("mch_id", &self.mch_id)
            .field("channel_id", &self.channel_id)
            .field("api_key", &"[redacted]")
            .field("openids", &self.openids.len())
            .finish()
    }
}

/// Everything seeded for a run.
#[derive(Debug, Clone, Default)]
pub struct Seeded {
    pub tenants: Vec<SeededTenant>,
}

impl Seeded {
    /// The tenants of `protocol`.
    pub fn of(&self, protocol: Protocol) -> Vec<SeededTenant> {
        self.tenants
            .iter()
            .filter(|t| t.protocol == protocol)
            .cloned()
            .collect()
    }
}

/// Where and as whom to seed.
#[derive(Debug, Clone)]
pub struct SeedTarget<'a> {
    /// paygate's base URL.
    pub paygate_url: &'a str,
    /// An operator token (admin role) for `/admin/v1`.
    pub admin_token: &'a str,
    /// The simulator's base URL (control API).
    pub sim_url: &'a str,
}

/// Seeds one tenant per entry of `protocols` (in order), each with `users_per_tenant` payers,
/// and registers each tenant's webhook secret with `receiver`.
pub async fn seed(
    target: &SeedTarget<'_>,
    protocols: &[Protocol],
    users_per_tenant: usize,
    receiver: &WebhookReceiver,
) -> anyhow::Result<Seeded> {
    let api = Api::new()?;
    let mut tenants = Vec::with_capacity(protocols.len());
    for (i, &protocol) in protocols.iter().enumerate() {
        let tenant = seed_tenant(&api, target, i, protocol, users_per_tenant, receiver)
            .await
            .with_context(|| format!("seeding tenant {i} ({})", protocol.label()))?;
        tenants.push(tenant);
    }
    Ok(Seeded { tenants })
}

async fn seed_tenant(
    api: &Api,
    target: &SeedTarget<'_>,
    index: usize,
    protocol: Protocol,
    users: usize,
    receiver: &WebhookReceiver,
) -> anyhow::Result<SeededTenant> {
    let sim = target.sim_url;
    let mch_id = format!("19{}", random_digits(8));
    let appid = format!("wx{}", random_hex(16));
    let app_secret = random_hex(16);
    let v2_key = random_alnum(32);
    let v3_key = random_alnum(32);

    // The simulator: the merchant (with its WeChat Pay public key, as new merchants get), the
    // app and its users.
    let platform = api
        .send(
            reqwest::Method::POST,
            &format!("{sim}/sim/merchants"),
            None,
            Some(json!({
                "mch_id": mch_id, "v2_key": v2_key, "v3_key": v3_key,
                "merchant_cert_pem": MERCHANT_CERT_PEM, "mode": "public_key",
            })),
            201,
        )
        .await?;
    api.send(
        reqwest::Method::POST,
        &format!("{sim}/sim/apps"),
        None,
        Some(json!({ "appid": appid, "secret": app_secret })),
        201,
    )
    .await?;
    let mut openids = Vec::with_capacity(users);
    for _ in 0..users.max(1) {
        let user = api
            .send(
                reqwest::Method::POST,
                &format!("{sim}/sim/apps/{appid}/users"),
                None,
                Some(json!({})),
                201,
            )
            .await?;
        openids.push(text(&user, "openid")?);
    }

    // paygate: tenant, app, channel, API key, webhook endpoint.
    let admin = format!("{}/admin/v1", target.paygate_url);
    let token = Some(target.admin_token);
    let tenant = api
        .send(
            reqwest::Method::POST,
            &format!("{admin}/tenants"),
            token,
            Some(json!({ "name": format!("bench {index} {}", protocol.label()) })),
            201,
        )
        .await?;
    let tenant_id = text(&tenant, "id")?;
    let t = format!("{admin}/tenants/{tenant_id}");
    api.send(
        reqwest::Method::POST,
        &format!("{t}/apps"),
        token,
        Some(json!({ "appid": appid, "name": "bench app", "secret": app_secret })),
        201,
    )
    .await?;
    let credentials = match protocol {
        Protocol::V2 => json!({
            "mch_id": mch_id, "appid": appid, "api_key": v2_key, "sign_type": "MD5",
            "client_cert_pem": MERCHANT_CERT_PEM, "client_key_pem": MERCHANT_KEY_PEM,
        }),
        Protocol::V3 => json!({
            "mchid": mch_id,
            "merchant_private_key_pem": MERCHANT_KEY_PEM,
            "merchant_certificate_pem": MERCHANT_CERT_PEM,
            "apiv3_key": v3_key,
            "wechatpay_public_key_pem": text(&platform, "public_key_pem")?,
            "wechatpay_public_key_id": text(&platform, "public_key_id")?,
        }),
    };
    let channel = api
        .send(
            reqwest::Method::POST,
            &format!("{t}/channels"),
            token,
            Some(json!({
                "kind": protocol.channel_kind(), "mch_id": mch_id, "credentials": credentials,
            })),
            201,
        )
        .await?;
    let channel_id = text(&channel, "id")?;
    let key = api
        .send(
            reqwest::Method::POST,
            &format!("{t}/api-keys"),
            token,
            Some(json!({ "name": "bench", "scopes": ["orders:write", "refunds:write", "read"] })),
            201,
        )
        .await?;
    let api_key = text(&key, "secret")?;
    let webhook = api
        .send(
            reqwest::Method::PUT,
            &format!("{t}/webhook"),
            token,
            Some(json!({ "url": receiver.url() })),
            200,
        )
        .await?;
    let whsec = text(&webhook, "signing_secret")
        .context("the webhook endpoint already existed (no signing secret returned)")?;
    receiver.set_secret(&tenant_id, &whsec)?;
    Ok(SeededTenant {
        tenant_id,
        protocol,
        appid,
        mch_id,
        channel_id,
        api_key,
        openids,
    })
}

fn text(v: &Value, field: &str) -> anyhow::Result<String> {
    v[field]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("the answer has no string {field:?}"))
}

/// A JSON client for set-up calls, with status checks that name the call.
struct Api {
    client: reqwest::Client,
}

impl Api {
    fn new() -> anyhow::Result<Api> {
        Ok(Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .context("building the seeding client")?,
        })
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        expect: u16,
    ) -> anyhow::Result<Value> {
        let mut req = self.client.request(method.clone(), url);
        if let Some(token) = bearer {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {}", path_of(url)))?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        if status != expect {
            // Error envelopes carry a code and a message, never a secret.
            bail!(
                "{method} {} answered {status} (expected {expect}): {}",
                path_of(url),
                text.chars().take(400).collect::<String>()
            );
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {}: not JSON", path_of(url)))
    }
}

/// The path of a URL, for messages (hosts and ports are noise).
fn path_of(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}

pub(crate) fn random_alnum(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

fn random_hex(n: usize) -> String {
    const HEX: &[u8] = b"0123456789abcdef";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(HEX[rng.random_range(0..HEX.len())]))
        .collect()
}

fn random_digits(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols_parse_and_name_their_channel_kind() {
        assert_eq!("v2".parse::<Protocol>().unwrap(), Protocol::V2);
        assert_eq!(
            "v3".parse::<Protocol>().unwrap().channel_kind(),
            "wechat-v3"
        );
        assert!("v4".parse::<Protocol>().is_err());
    }

    #[test]
    fn random_ids_have_the_shapes_wechat_accepts() {
        let mch = format!("19{}", random_digits(8));
        assert_eq!(mch.len(), 10);
        assert!(mch.bytes().all(|b| b.is_ascii_digit()));
        let appid = format!("wx{}", random_hex(16));
        assert_eq!(appid.len(), 18);
        assert_eq!(random_alnum(32).len(), 32);
    }

    #[test]
    fn messages_show_paths_not_hosts() {
        assert_eq!(path_of("http://127.0.0.1:9/admin/v1/x"), "/admin/v1/x");
        assert_eq!(path_of("nonsense"), "nonsense");
    }

    #[test]
    fn debug_hides_the_api_key() {
        let t = SeededTenant {
            tenant_id: "ten_1".into(),
            protocol: Protocol::V2,
            appid: "wx1".into(),
            mch_id: "1".into(),
            channel_id: "ch_1".into(),
            api_key: "pk_secret".into(),
            openids: vec![],
        };
        assert!(!format!("{t:?}").contains("pk_secret"));
    }
}
