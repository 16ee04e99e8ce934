//! Payment channels (one WeChat Pay merchant account of a tenant) and their credentials
//! versions.
//!
//! A credentials document is the provider's own JSON (see the `wechat-v2` / `wechat-v3`
//! crates). It is validated by `ProviderRegistry::validate_credentials` BEFORE anything is
//! stored, its merchant number must equal the channel's, and it is never returned or logged:
//! responses show only public facts (serial, certificate expiry, versions). This module must
//! not learn the documents' shapes — that knowledge belongs to the provider crates.

use std::fmt;

use axum::extract::State;
use axum::http::StatusCode;
use paygate_core::{
    ChannelId, CredentialsSummary, MchId, ProviderKind, ProviderRegistry, TenantId,
};
use paygate_store::{ChannelStatus, ChannelUpdate, NewChannel};
use secrecy::SecretString;
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

use crate::admin::channel_views::{
    ChannelDetailView, ChannelStatusView, ChannelView, CredentialsVersionView,
};
use crate::auth::{Operator, RequireAdmin};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::pagination::{List, PageParams};
use crate::state::AppState;

/// A credentials document: any JSON object, held only as a secret string from the moment it
/// is parsed.
pub struct CredentialsDocument(SecretString);

impl fmt::Debug for CredentialsDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialsDocument([redacted])")
    }
}

impl<'de> Deserialize<'de> for CredentialsDocument {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        if !value.is_object() {
            return Err(serde::de::Error::custom("must be a JSON object"));
        }
        Ok(CredentialsDocument(SecretString::from(value.to_string())))
    }
}

/// A new channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChannel {
    /// `wechat-v2` or `wechat-v3`.
    #[schema(example = "wechat-v3")]
    pub kind: String,
    #[schema(value_type = String, example = "1230000109")]
    pub mch_id: MchId,
    /// Defaults to `"<kind> <mch_id>"`.
    pub name: Option<String>,
    /// The provider's credentials document (v2: `mch_id, appid, api_key, sign_type,
    /// client_cert_pem, client_key_pem | pkcs12_base64`; v3: `mchid,
    /// merchant_private_key_pem, merchant_certificate_pem, apiv3_key,
    /// platform_certificates_pem[] | wechatpay_public_key_pem + wechatpay_public_key_id`).
    /// Stored encrypted; never returned.
    #[schema(value_type = Object)]
    pub credentials: CredentialsDocument,
}

/// Changes to a channel; absent fields stay.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChannel {
    pub name: Option<String>,
    /// `disabled` channels take no new payments; `active` re-enables.
    pub status: Option<ChannelStatusView>,
}

/// A new credentials version (becomes current at once).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddCredentials {
    /// Same shape as in channel creation; its merchant number must be the channel's.
    #[schema(value_type = Object)]
    pub credentials: CredentialsDocument,
}

/// The kind rule: a known name with a registered provider, else 422 `unsupported_channel_kind`.
pub fn parse_kind(registry: &ProviderRegistry, kind: &str) -> Result<ProviderKind, ApiError> {
    ProviderKind::parse(kind)
        .filter(|k| registry.kinds().any(|registered| registered == *k))
        .ok_or(ApiError::UnsupportedChannelKind)
}

/// Validates a document with the provider's rules and checks it belongs to `mch_id`.
pub fn validate_document(
    registry: &ProviderRegistry,
    kind: ProviderKind,
    mch_id: &MchId,
    document: &SecretString,
) -> Result<CredentialsSummary, ApiError> {
    let summary = registry
        .validate_credentials(kind, document)
        .map_err(|fault| ApiError::InvalidChannelCredentials {
            field: if fault.field == "credentials" {
                fault.field
            } else {
                format!("credentials.{}", fault.field)
            },
            reason: fault.message,
        })?;
    if summary.mch_id != *mch_id {
        return Err(ApiError::InvalidChannelCredentials {
            field: "mch_id".to_owned(),
            reason: "is not the merchant number of the credentials document".to_owned(),
        });
    }
    Ok(summary)
}

/// List a tenant's channels, newest first (without their versions).
#[utoipa::path(get, path = "/tenants/{tenant_id}/channels", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`"), PageParams),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = List<ChannelView>), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn list_channels(
    State(state): State<AppState>,
    _op: Operator,
    Path(tenant_id): Path<TenantId>,
    Query(page): Query<PageParams>,
) -> Result<Json<List<ChannelView>>, ApiError> {
    state.store().tenants().get(&tenant_id).await?;
    let paged = state
        .store()
        .channels()
        .list(&tenant_id, &page.page::<ChannelId>()?)
        .await?;
    Ok(Json(List::from_paged(paged, ChannelView::from)))
}

/// Create a channel with its first credentials version (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/channels", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`")),
    request_body = CreateChannel,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = ChannelDetailView),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 409, description = "`channel_exists` (same kind and mch_id)", body = ErrorBody),
        (status = 422, description = "`invalid_channel_credentials` with `details.field`, or `unsupported_channel_kind`", body = ErrorBody),
    ))]
pub async fn create_channel(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path(tenant_id): Path<TenantId>,
    Json(req): Json<CreateChannel>,
) -> Result<(StatusCode, Json<ChannelDetailView>), ApiError> {
    let kind = parse_kind(state.registry(), &req.kind)?;
    let summary = validate_document(state.registry(), kind, &req.mch_id, &req.credentials.0)?;
    state.store().tenants().get(&tenant_id).await?;
    let name = match req.name.as_deref().map(str::trim) {
        Some(n) => n.to_owned(),
        None => format!("{} {}", kind.as_str(), req.mch_id),
    };
    let new = NewChannel {
        kind,
        mch_id: req.mch_id,
        name,
        credentials: req.credentials.0,
        summary,
    };
    let detail = state
        .store()
        .channels()
        .create(&admin.audit(), &tenant_id, &new)
        .await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// Read a channel with all its credentials versions.
#[utoipa::path(get, path = "/tenants/{tenant_id}/channels/{channel_id}", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("channel_id" = String, Path, description = "`ch_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = ChannelDetailView), (status = 404, description = "`channel_not_found`", body = ErrorBody)))]
pub async fn get_channel(
    State(state): State<AppState>,
    _op: Operator,
    Path((tenant_id, channel_id)): Path<(TenantId, ChannelId)>,
) -> Result<Json<ChannelDetailView>, ApiError> {
    let detail = state
        .store()
        .channels()
        .get(&tenant_id, &channel_id)
        .await?;
    Ok(Json(detail.into()))
}

/// Rename, disable or re-enable a channel (admin).
#[utoipa::path(patch, path = "/tenants/{tenant_id}/channels/{channel_id}", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("channel_id" = String, Path, description = "`ch_…`")),
    request_body = UpdateChannel,
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = ChannelDetailView), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn update_channel(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, channel_id)): Path<(TenantId, ChannelId)>,
    Json(req): Json<UpdateChannel>,
) -> Result<Json<ChannelDetailView>, ApiError> {
    let update = ChannelUpdate {
        name: req.name.map(|n| n.trim().to_owned()),
        status: req.status.map(ChannelStatus::from),
    };
    let channels = state.store().channels();
    channels
        .update(&admin.audit(), &tenant_id, &channel_id, &update)
        .await?;
    Ok(Json(channels.get(&tenant_id, &channel_id).await?.into()))
}

/// Disable a channel and clear it as the tenant's default (admin). Channels are never
/// removed: orders keep referring to them. Re-enable with PATCH `status: active`.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/channels/{channel_id}", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("channel_id" = String, Path, description = "`ch_…`")),
    security(("operator_jwt" = [])),
    responses((status = 200, description = "OK", body = ChannelView), (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody)))]
pub async fn delete_channel(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, channel_id)): Path<(TenantId, ChannelId)>,
) -> Result<Json<ChannelView>, ApiError> {
    let channel = state
        .store()
        .channels()
        .delete(&admin.audit(), &tenant_id, &channel_id)
        .await?;
    Ok(Json(channel.into()))
}

/// Add a credentials version; it becomes current at once (admin).
#[utoipa::path(post, path = "/tenants/{tenant_id}/channels/{channel_id}/credentials", tag = "channels",
    params(("tenant_id" = String, Path, description = "`ten_…`"), ("channel_id" = String, Path, description = "`ch_…`")),
    request_body = AddCredentials,
    security(("operator_jwt" = [])),
    responses(
        (status = 201, description = "Created", body = CredentialsVersionView),
        (status = 404, description = "Not found (`tenant_not_found`, …)", body = ErrorBody),
        (status = 422, description = "`invalid_channel_credentials` with `details.field`", body = ErrorBody),
    ))]
pub async fn add_credentials(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, channel_id)): Path<(TenantId, ChannelId)>,
    Json(req): Json<AddCredentials>,
) -> Result<(StatusCode, Json<CredentialsVersionView>), ApiError> {
    let channels = state.store().channels();
    let channel = channels.get_channel(&tenant_id, &channel_id).await?;
    let summary = validate_document(
        state.registry(),
        channel.kind,
        &channel.mch_id,
        &req.credentials.0,
    )?;
    let version = channels
        .add_credentials_version(
            &admin.audit(),
            &tenant_id,
            &channel_id,
            &req.credentials.0,
            &summary,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// Retire an old credentials version (admin). The current one cannot be retired (409
/// `credentials_version_current`): add a new version first.
#[utoipa::path(delete, path = "/tenants/{tenant_id}/channels/{channel_id}/credentials/{version}", tag = "channels",
    params(
        ("tenant_id" = String, Path, description = "`ten_…`"),
        ("channel_id" = String, Path, description = "`ch_…`"),
        ("version" = i64, Path, description = "Credentials version number"),
    ),
    security(("operator_jwt" = [])),
    responses(
        (status = 200, description = "OK", body = CredentialsVersionView),
        (status = 404, description = "`credentials_version_not_found`", body = ErrorBody),
        (status = 409, description = "`credentials_version_current`", body = ErrorBody),
    ))]
pub async fn retire_credentials(
    State(state): State<AppState>,
    RequireAdmin(admin): RequireAdmin,
    Path((tenant_id, channel_id, version)): Path<(TenantId, ChannelId, i64)>,
) -> Result<Json<CredentialsVersionView>, ApiError> {
    let retired = state
        .store()
        .channels()
        .retire_version(&admin.audit(), &tenant_id, &channel_id, version)
        .await?;
    Ok(Json(retired.into()))
}
