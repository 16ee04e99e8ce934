//! A tenant's webhook endpoint: read, set the URL, rotate the signing secret. Pause, resume,
//! ping and resend live with the delivery code in `crate::webhooks::admin`.
//!
//! The signing secret (`whsec_…`) appears in exactly two responses: the PUT that creates the
//! endpoint, and `rotate-secret`. URLs must be http(s) with a host and no credentials; plain
//! http only when the demo allows it.

use std::fmt;

use axum::extract::State;
use paygate_core::TenantId;
use paygate_store::WebhookEndpoint;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use url::Url;
use utoipa::ToSchema;

use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody, Resource};
use crate::extract::{Json, Path};
use crate::state::AppState;

/// Longest accepted webhook URL.
const MAX_URL_LEN: usize = 2048;

/// A webhook endpoint (never its signing secret, except where documented).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub url: String,
    /// Deliveries are held while paused.
    pub paused: bool,
    /// Set when the endpoint answered 410 Gone: deliveries are held until it is resumed.
    #[serde(with = "time::serde::rfc3339::option")]
    pub disabled_at: Option<OffsetDateTime>,
    pub disabled_reason: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// `whsec_…`: only in the response that created the endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

impl fmt::Debug for WebhookView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookView")
            .field("url", &self.url)
            .field("paused", &self.paused)
            .field(
                "signing_secret",
                &self.signing_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl WebhookView {
    pub(crate) fn new(e: WebhookEndpoint, signing_secret: Option<String>) -> Self {
        WebhookView {
            url: e.url,
            paused: e.paused,
            disabled_at: e.disabled_at,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
            signing_secret,
        }
    }
}

/// The endpoint to deliver to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutWebhook {
    #[schema(example = "https://merchant.example.com/paygate/webhook")]
    pub url: String,
}

/// A new signing secret.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct RotatedSecret {
    /// `whsec_…`; deliveries carry a signature with the previous secret too for 24 hours.
    pub signing_secret: String,
}

impl fmt::Debug for RotatedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RotatedSecret([redacted])")
    }
}

/// The webhook URL rule: absolute http(s) with a host, no user info or fragment; https unless
/// `allow_http` (demo only).
pub fn check_webhook_url(raw: &str, allow_http: bool) -> Result<Url, ApiError> {
    let bad = |reason: &str| ApiError::invalid_field("url", reason);
    if raw.len() > MAX_URL_LEN {
        return Err(bad("must be at most 2048 characters"));
    }
    let url = Url::parse(raw.trim()).map_err(|_| bad("must be an absolute URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(bad("must use https")),
        _ => return Err(bad("must be an http(s) URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("must name a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not contain a user name or password"));
    }
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    Ok(url)
}

/// Read a tenant's webhook endpoint.
#[utoipa::path(get, path = "/tenants/{tenant_id}/webhook", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = WebhookView), (status = 404, description = "`tenant_not_found` or `webhook_not_found`", body = ErrorBody)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<WebhookView>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let endpoint = state
        .store()
        .webhooks()
        .get(&tenant_id)
        .await?
        .ok_or(ApiError::NotFound(Resource::Webhook))?;
    Ok(Json(WebhookView::new(endpoint, None)))
}

/// Set the webhook URL (admin). The first call creates the signing secret and returns it.
#[utoipa::path(put, path = "/tenants/{tenant_id}/webhook", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = PutWebhook,
    security(("operator_jwt" = [])),
    responses(
        (status = 200, description = "OK", body = WebhookView),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 422, description = "`invalid_request` naming `url`", body = ErrorBody),
    ))]
pub async fn put_webhook(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(req): Json<PutWebhook>,
) -> Result<Json<WebhookView>, ApiError> {
    let url = check_webhook_url(&req.url, state.settings().allow_insecure_webhook_urls)?;
    let (endpoint, secret) = state
        .store()
        .webhooks()
        .put_url(&admin.audit(), &tenant_id, url.as_str())
        .await?;
    let secret = secret.map(|s| s.expose_secret().to_owned());
    Ok(Json(WebhookView::new(endpoint, secret)))
}

/// Replace the signing secret and return the new one (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/webhook/rotate-secret", tag = "webhook",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = RotatedSecret), (status = 404, description = "`webhook_not_found`", body = ErrorBody)))]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
) -> Result<Json<RotatedSecret>, ApiError> {
    let secret = state
        .store()
        .webhooks()
        .rotate_secret(&admin.audit(), &tenant_id)
        .await?;
    Ok(Json(RotatedSecret {
        signing_secret: secret.expose_secret().to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_url_rules() {
        assert!(check_webhook_url("https://m.example.com/hook?x=1", false).is_ok());
        assert!(check_webhook_url("http://127.0.0.1:9000/hook", true).is_ok());
        for (bad, allow_http) in [
            ("http://m.example.com/hook", false),
            ("ftp://m.example.com/hook", true),
            ("not a url", true),
            ("/relative", true),
            ("https://user:pw@m.example.com/", false),
            ("https://m.example.com/#frag", false),
        ] {
            assert!(check_webhook_url(bad, allow_http).is_err(), "{bad}");
        }
        let long = format!("https://m.example.com/{}", "a".repeat(2100));
        assert!(check_webhook_url(&long, false).is_err());
    }
}
