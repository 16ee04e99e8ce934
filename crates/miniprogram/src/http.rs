//! The one thin place that does I/O: send a request, read a capped body, and turn WeChat's
//! `errcode` envelope into [`MiniProgramError`].
//!
//! Secrets travel in query strings (`secret`, `access_token`) because WeChat wants them there,
//! so this module must never let a URL reach an error message or a log line: reqwest errors are
//! stripped with `without_url()` before they are formatted.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::error::{Api, MiniProgramError, Result};

/// Bodies larger than this are refused: a wxacode PNG is tens of kilobytes, JSON answers are tiny.
const MAX_BODY: usize = 4 * 1024 * 1024;

/// What came back, before interpretation.
pub(crate) struct RawResponse {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    /// Without a trailing slash, so `base + "/sns/jscode2session"` is the endpoint.
    base: String,
    timeout: Duration,
}

impl Transport {
    pub fn new(client: reqwest::Client, base_url: &str, timeout: Duration) -> Result<Self> {
        let parsed = Url::parse(base_url).map_err(|_| MiniProgramError::InvalidArgument {
            field: "base_url",
            reason: "is not an absolute URL",
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(MiniProgramError::InvalidArgument {
                field: "base_url",
                reason: "must be an http(s) URL without a query string",
            });
        }
        let base = base_url.trim_end_matches('/').to_owned();
        Ok(Transport {
            client,
            base,
            timeout,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url> {
        let mut url = Url::parse(&format!("{}{path}", self.base)).map_err(|_| {
            MiniProgramError::InvalidArgument {
                field: "base_url",
                reason: "does not join with an API path",
            }
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<RawResponse> {
        let url = self.url(path, query)?;
        self.send(self.client.get(url)).await
    }

    pub async fn post_json<B: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        body: &B,
    ) -> Result<RawResponse> {
        let url = self.url(path, query)?;
        let body = serde_json::to_vec(body).map_err(|_| MiniProgramError::InvalidArgument {
            field: "body",
            reason: "does not serialise",
        })?;
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<RawResponse> {
        let mut response = request
            .timeout(self.timeout)
            .send()
            .await
            .map_err(transport_error)?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(MiniProgramError::Malformed(format!(
                    "response body exceeds {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(RawResponse {
            status,
            content_type,
            body: body.freeze(),
        })
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// Formats a reqwest error with its causes but without the URL (which may carry a secret).
fn transport_error(err: reqwest::Error) -> MiniProgramError {
    let kind = if err.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut text = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    MiniProgramError::Transport(text)
}

/// WeChat's error envelope; a missing `errcode` means 0.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// Checks a JSON answer's `errcode` (and HTTP status), then decodes it as `T`.
///
/// The content type is ignored: `jscode2session` is known to answer `text/plain`.
pub(crate) fn decode_json<T: DeserializeOwned>(api: Api, raw: &RawResponse) -> Result<T> {
    check_envelope(api, raw)?;
    serde_json::from_slice(&raw.body).map_err(|e| malformed(api, &e))
}

/// Fails with the mapped error when the body is a WeChat error envelope or the status is not 2xx.
pub(crate) fn check_envelope(api: Api, raw: &RawResponse) -> Result<()> {
    match serde_json::from_slice::<Envelope>(&raw.body) {
        Ok(env) if env.errcode != 0 => {
            tracing::debug!(
                api = api.name(),
                errcode = env.errcode,
                "WeChat returned an error"
            );
            Err(MiniProgramError::from_errcode(
                api,
                env.errcode,
                &env.errmsg,
            ))
        }
        _ if !(200..300).contains(&raw.status) => {
            Err(MiniProgramError::HttpStatus { status: raw.status })
        }
        Ok(_) => Ok(()),
        Err(e) => Err(malformed(api, &e)),
    }
}

/// Describes a decode failure by position and category only: serde's own message can quote the
/// offending value, which may be a session key or token.
fn malformed(api: Api, err: &serde_json::Error) -> MiniProgramError {
    MiniProgramError::Malformed(format!(
        "{} answer is not the expected JSON ({:?} error at line {} column {})",
        api.name(),
        err.classify(),
        err.line(),
        err.column()
    ))
}
