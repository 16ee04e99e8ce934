//! Access tokens: fetched from the stable-token API (or the classic one), cached per app, refreshed
//! ahead of expiry, and refreshed once when an API call reports the token dead.
//!
//! Single flight: every refresh of one app's token goes through moka's per-key
//! `and_try_compute_with`, which runs concurrent computations for the same key one after the
//! other. The first caller fetches; the others, queued behind it, find a fresh entry and take
//! it. So 100 callers with a cold cache cause exactly one upstream call.
//!
//! Expiry is decided by the configured [`Clock`](paygate_core::Clock), not by moka's own timer, so
//! a `ManualClock` moves a token through "fresh → refresh ahead → expired" without sleeping.
//! This module must never log or format a token or a secret.

use std::future::Future;
use std::sync::Arc;

use moka::ops::compute::{CompResult, Op};
use paygate_core::AppId;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::client::MiniProgramClient;
use crate::config::TokenMode;
use crate::error::{Api, MiniProgramError, Result};
use crate::http::decode_json;
use crate::types::{AccessToken, AppCredentials};

/// Cache key: the appid and a digest of the secret, so a token fetched with one secret is never
/// handed to a caller presenting another (a wrong or rotated secret fetches its own).
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    appid: AppId,
    secret_digest: [u8; 32],
}

impl TokenKey {
    fn of(app: &AppCredentials) -> Self {
        let digest = Sha256::digest(app.secret.expose_secret().as_bytes());
        TokenKey {
            appid: app.appid.clone(),
            secret_digest: digest.into(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct CachedToken {
    token: AccessToken,
    expires_at: OffsetDateTime,
    /// When to fetch a replacement: `refresh_ahead` before expiry (or half-way through a short
    /// lifetime, so a token that arrives nearly expired is not refetched on every call).
    refresh_at: OffsetDateTime,
}

pub(crate) type TokenCache = moka::future::Cache<TokenKey, Arc<CachedToken>>;

pub(crate) fn new_cache(capacity: u64) -> TokenCache {
    moka::future::Cache::builder()
        .max_capacity(capacity)
        .build()
}

#[derive(Serialize)]
struct StableTokenRequest<'a> {
    grant_type: &'static str,
    appid: &'a str,
    secret: &'a str,
    force_refresh: bool,
}

#[derive(Deserialize)]
struct TokenWire {
    access_token: String,
    expires_in: i64,
}

fn entry_value(result: CompResult<TokenKey, Arc<CachedToken>>) -> Result<Arc<CachedToken>> {
    match result {
        CompResult::Inserted(e) | CompResult::ReplacedWith(e) | CompResult::Unchanged(e) => {
            Ok(e.into_value())
        }
        // Our closures never remove, and only return Nop when an entry exists.
        CompResult::StillNone(_) | CompResult::Removed(_) => Err(MiniProgramError::Malformed(
            "access token cache lost its entry".into(),
        )),
    }
}

impl MiniProgramClient {
    /// The app's current access token: from the cache while more than `refresh_ahead` remains,
    /// otherwise fetched (once, however many callers wait for it).
    ///
    /// If a refresh-ahead fetch fails while the cached token is still valid, the cached token is
    /// returned and the next attempt waits `refresh_retry_after`.
    pub async fn access_token(&self, app: &AppCredentials) -> Result<AccessToken> {
        let key = TokenKey::of(app);
        if let Some(cached) = self.tokens.get(&key).await
            && self.clock().now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let result = self
            .tokens
            .entry(key)
            .and_try_compute_with(|current| async move {
                let now = self.clock().now();
                let current = current.map(|e| e.into_value());
                if let Some(c) = &current
                    && now < c.refresh_at
                {
                    return Ok(Op::Nop);
                }
                match self.fetch_token(app, false).await {
                    Ok(fresh) => Ok(Op::Put(Arc::new(fresh))),
                    Err(err) => match current {
                        Some(c) if now < c.expires_at => {
                            tracing::warn!(
                                appid = %app.appid,
                                error.code = err.code(),
                                "access token refresh-ahead failed; keeping the current token"
                            );
                            let retry_at = now + self.config.refresh_retry_after;
                            Ok(Op::Put(Arc::new(CachedToken {
                                refresh_at: retry_at,
                                ..(*c).clone()
                            })))
                        }
                        _ => Err(err),
                    },
                }
            })
            .await?;
        Ok(entry_value(result)?.token.clone())
    }

    /// Drops the app's cached token; the next call fetches a new one.
    pub async fn invalidate_access_token(&self, app: &AppCredentials) {
        self.tokens.invalidate(&TokenKey::of(app)).await;
    }

    /// A replacement for `rejected`, which an API just refused (40001/42001).
    ///
    /// If another caller already replaced it, that replacement is used. Otherwise one fetch;
    /// with stable tokens, if WeChat still hands out the rejected token, a second fetch with
    /// `force_refresh` (rate-limited by WeChat, so never the first resort).
    async fn replace_rejected_token(
        &self,
        app: &AppCredentials,
        rejected: &AccessToken,
    ) -> Result<AccessToken> {
        let result = self
            .tokens
            .entry(TokenKey::of(app))
            .and_try_compute_with(|current| async move {
                let now = self.clock().now();
                if let Some(c) = current.map(|e| e.into_value())
                    && !c.token.same_as(rejected)
                    && now < c.expires_at
                {
                    return Ok(Op::Nop);
                }
                let mut fresh = self.fetch_token(app, false).await?;
                if self.config.token_mode == TokenMode::Stable && fresh.token.same_as(rejected) {
                    tracing::info!(appid = %app.appid, "stable token rejected; forcing a refresh");
                    fresh = self.fetch_token(app, true).await?;
                }
                Ok(Op::Put(Arc::new(fresh)))
            })
            .await?;
        Ok(entry_value(result)?.token.clone())
    }

    /// Runs `call` with the app's token; if WeChat says the token is invalid or expired,
    /// replaces it and runs `call` once more. A second rejection is returned as is.
    pub(crate) async fn with_access_token<T, F, Fut>(
        &self,
        app: &AppCredentials,
        call: F,
    ) -> Result<T>
    where
        F: Fn(AccessToken) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let token = self.access_token(app).await?;
        match call(token.clone()).await {
            Err(err) if err.is_token_rejection() => {
                tracing::info!(appid = %app.appid, error.code = err.code(), "access token rejected; refreshing once");
                let fresh = self.replace_rejected_token(app, &token).await?;
                call(fresh).await
            }
            other => other,
        }
    }

    async fn fetch_token(&self, app: &AppCredentials, force_refresh: bool) -> Result<CachedToken> {
        let started = self.clock().now();
        let secret = app.secret.expose_secret();
        let raw = match self.config.token_mode {
            TokenMode::Stable => {
                let body = StableTokenRequest {
                    grant_type: "client_credential",
                    appid: app.appid.as_str(),
                    secret,
                    force_refresh,
                };
                self.transport
                    .post_json("/cgi-bin/stable_token", &[], &body)
                    .await?
            }
            TokenMode::Classic => {
                let query = [
                    ("grant_type", "client_credential"),
                    ("appid", app.appid.as_str()),
                    ("secret", secret),
                ];
                self.transport.get("/cgi-bin/token", &query).await?
            }
        };
        let wire: TokenWire = decode_json(Api::Token, &raw)?;
        if wire.access_token.is_empty() || wire.expires_in <= 0 {
            return Err(MiniProgramError::Malformed(
                "access token answer has an empty token or a non-positive expires_in".into(),
            ));
        }
        let lifetime = Duration::seconds(wire.expires_in);
        let ahead = self.config.refresh_ahead.min(lifetime / 2);
        tracing::debug!(appid = %app.appid, expires_in = wire.expires_in, force_refresh, "fetched access token");
        Ok(CachedToken {
            token: AccessToken::new(wire.access_token),
            expires_at: started + lifetime,
            refresh_at: started + lifetime - ahead,
        })
    }
}
