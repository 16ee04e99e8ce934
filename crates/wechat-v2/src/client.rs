//! The one place that does I/O: POSTing XML to WeChat and reading the answer, size-limited.
//!
//! Two reqwest clients are built once per provider: a plain one, and — only when the channel
//! has a client certificate — one carrying the merchant identity for `/secapi` (mutual TLS).
//! Failures are typed at once: no answer → `Transport`, 5xx → `Unavailable` (both retryable
//! with the same out_trade_no / out_refund_no). Bodies and URLs with secrets are never logged.

use std::time::Duration;

use paygate_core::ProviderError;

use crate::tls::IdentityPem;
use crate::xml::MAX_BODY;

/// WeChat's production host.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";

/// Where and how a v2 provider talks to WeChat.
#[derive(Debug, Clone)]
pub struct V2Config {
    /// `https://api.mch.weixin.qq.com` by default; the simulator's URL in tests and demos.
    pub base_url: String,
    /// The base for `/secapi` (refunds). Defaults to `base_url`; the simulator serves it on a
    /// separate TLS port that demands the client certificate.
    pub secapi_base_url: Option<String>,
    /// Extra root CA(s), PEM, to trust a test or simulator CA in addition to the system roots.
    pub extra_root_ca_pem: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
}

impl Default for V2Config {
    fn default() -> Self {
        V2Config {
            base_url: DEFAULT_BASE_URL.to_owned(),
            secapi_base_url: None,
            extra_root_ca_pem: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// The HTTP side of a provider.
#[derive(Debug)]
pub(crate) struct HttpClient {
    plain: reqwest::Client,
    /// Present only when the channel has a client certificate.
    secapi: Option<reqwest::Client>,
    base_url: String,
    secapi_base_url: String,
}

fn builder(config: &V2Config) -> Result<reqwest::ClientBuilder, ProviderError> {
    let mut b = reqwest::Client::builder()
        .timeout(config.timeout)
        .connect_timeout(config.timeout)
        .user_agent(concat!("paygate-wechat-v2/", env!("CARGO_PKG_VERSION")));
    if let Some(ca) = &config.extra_root_ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(ca.as_bytes()).map_err(|_| {
            ProviderError::Credentials("extra_root_ca_pem is not a PEM certificate bundle".into())
        })?;
        b = b.tls_certs_merge(certs);
    }
    Ok(b)
}

fn build_error(what: &str, e: &reqwest::Error) -> ProviderError {
    ProviderError::Credentials(format!("cannot build the {what} HTTP client: {}", chain(e)))
}

/// An error and its sources on one line (reqwest hides TLS causes in the chain).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

fn trim_slash(s: &str) -> String {
    s.trim_end_matches('/').to_owned()
}

impl HttpClient {
    pub(crate) fn new(
        config: &V2Config,
        identity: Option<&IdentityPem>,
    ) -> Result<Self, ProviderError> {
        let plain = builder(config)?
            .build()
            .map_err(|e| build_error("API", &e))?;
        let secapi = match identity {
            Some(id) => {
                let identity = reqwest::Identity::from_pem(id.bytes()).map_err(|_| {
                    ProviderError::Credentials(
                        "the client certificate is not a usable TLS identity".into(),
                    )
                })?;
                Some(
                    builder(config)?
                        .identity(identity)
                        .build()
                        .map_err(|e| build_error("mutual-TLS", &e))?,
                )
            }
            None => None,
        };
        Ok(HttpClient {
            plain,
            secapi,
            base_url: trim_slash(&config.base_url),
            secapi_base_url: trim_slash(
                config
                    .secapi_base_url
                    .as_deref()
                    .unwrap_or(&config.base_url),
            ),
        })
    }

    pub(crate) fn has_identity(&self) -> bool {
        self.secapi.is_some()
    }

    /// POSTs an XML body to `path` and returns the raw response body (≤ [`MAX_BODY`]).
    pub(crate) async fn post(
        &self,
        path: &str,
        body: String,
        mutual_tls: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let (client, base) = if mutual_tls {
            let client = self.secapi.as_ref().ok_or_else(|| {
                ProviderError::Credentials(
                    "refunds need the merchant API client certificate \
                     (client_cert_pem + client_key_pem, or pkcs12_base64)"
                        .into(),
                )
            })?;
            (client, &self.secapi_base_url)
        } else {
            (&self.plain, &self.base_url)
        };
        let url = format!("{base}{path}");
        let mut resp = client
            .post(&url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml; charset=utf-8")
            .body(body)
            .send()
            .await
            .map_err(|e| transport(path, &e))?;
        let status = resp.status();
        if status.is_server_error() {
            return Err(ProviderError::Unavailable {
                code: format!("HTTP_{}", status.as_u16()),
                message: format!("{path} answered HTTP {status}"),
            });
        }
        if !status.is_success() {
            return Err(ProviderError::Malformed(format!(
                "{path} answered HTTP {status}"
            )));
        }
        if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
            return Err(ProviderError::Malformed(format!(
                "{path} response exceeds {MAX_BODY} bytes"
            )));
        }
        let mut out = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| transport(path, &e))? {
            if out.len() + chunk.len() > MAX_BODY {
                return Err(ProviderError::Malformed(format!(
                    "{path} response exceeds {MAX_BODY} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }
}

fn transport(path: &str, e: &reqwest::Error) -> ProviderError {
    if e.is_timeout() {
        ProviderError::Transport(format!("{path}: timed out"))
    } else {
        ProviderError::Transport(format!("{path}: {}", chain(e)))
    }
}
