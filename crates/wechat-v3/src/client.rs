//! The one place with I/O: signs a request, sends it with reqwest, returns the raw answer.
//!
//! The canonical URL that is signed is taken from the parsed [`reqwest::Url`] that is sent
//! (path plus `?query`), so what is signed is exactly what goes on the wire. Verifying the
//! answer is the provider's job (it needs the key store); this module never looks at bodies.

use std::time::Duration;

use paygate_core::ProviderError;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Url};

use crate::errors::transport;
use crate::sign::MerchantSigner;

/// Settings of a v3 provider that are not per-channel secrets.
#[derive(Debug, Clone)]
pub struct V3Config {
    /// `https://api.mch.weixin.qq.com`, or the simulator / a stub in tests.
    pub base_url: String,
    /// An extra trusted root (PEM), e.g. the simulator's self-signed CA.
    pub extra_root_ca_pem: Option<String>,
    /// Per request, connect to last byte.
    pub timeout: Duration,
    /// How often platform certificates are downloaded again (certificate mode).
    pub cert_refresh_interval: Duration,
    /// At most one download per this period on unknown `Wechatpay-Serial` values.
    pub unknown_serial_cooldown: Duration,
}

impl Default for V3Config {
    fn default() -> Self {
        V3Config {
            base_url: "https://api.mch.weixin.qq.com".to_owned(),
            extra_root_ca_pem: None,
            timeout: Duration::from_secs(10),
            cert_refresh_interval: Duration::from_secs(12 * 3600),
            unknown_serial_cooldown: Duration::from_secs(60),
        }
    }
}

/// An answer as received.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// A reqwest client bound to one base URL.
#[derive(Debug, Clone)]
pub struct HttpClient {
    base: String,
    http: reqwest::Client,
}

const USER_AGENT: &str = concat!("paygate-wechat-v3/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    pub fn new(config: &V3Config) -> Result<Self, ProviderError> {
        let mut builder = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(USER_AGENT);
        if let Some(pem) = &config.extra_root_ca_pem {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                ProviderError::InvalidRequest {
                    field: "extra_root_ca_pem",
                    message: e.to_string(),
                }
            })?;
            builder = builder.tls_certs_merge([cert]);
        }
        let http = builder
            .build()
            .map_err(|e| ProviderError::Transport(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            base: config.base_url.trim_end_matches('/').to_owned(),
            http,
        })
    }

    /// Signs and sends `method path_and_query` with an optional JSON body.
    pub async fn send(
        &self,
        signer: &MerchantSigner,
        timestamp: i64,
        nonce: &str,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ProviderError> {
        let url = Url::parse(&format!("{}{}", self.base, path_and_query)).map_err(|e| {
            ProviderError::InvalidRequest {
                field: "url",
                message: e.to_string(),
            }
        })?;
        let canonical = match url.query() {
            Some(q) => format!("{}?{}", url.path(), q),
            None => url.path().to_owned(),
        };
        let body_bytes = body.as_deref().unwrap_or_default();
        let authorization = signer
            .authorization(
                method.as_str(),
                &canonical,
                &timestamp.to_string(),
                nonce,
                body_bytes,
            )
            .map_err(|e| ProviderError::Credentials(e.to_string()))?;
        let mut request = self
            .http
            .request(method, url)
            .header(AUTHORIZATION, authorization)
            .header(ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, "application/json").body(body);
        }
        let response = request.send().await.map_err(|e| transport(&e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| transport(&e))?.to_vec();
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }
}
