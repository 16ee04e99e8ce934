//! A channel and the provider that speaks for it: the one way from a channel id to a
//! [`Provider`], shared by the tenant API (pay, refund, close) and the reconciliation worker.
//!
//! The channel row names its current credentials version, and the registry keeps the provider
//! it built for that version: on the hot path nothing is read from `channel_credentials` or
//! decrypted. Only a version the registry has not seen (first use, or just rotated) reads and
//! decrypts its document. Callers map [`ChannelProviderError`] to their own errors.

use std::sync::Arc;

use paygate_core::{ChannelId, ChannelSpec, Provider, ProviderError, ProviderRegistry, TenantId};
use paygate_store::{Channel, Store, StoreError};

/// Why a channel's provider could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ChannelProviderError {
    /// The channel or its credentials could not be read (not found, database, decryption).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The registry refused the stored credentials: the channel is misconfigured.
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// The channel `channel_id` of `tenant` and its provider for the current credentials version.
pub async fn channel_provider(
    store: &Store,
    registry: &ProviderRegistry,
    tenant: &TenantId,
    channel_id: &ChannelId,
) -> Result<(Channel, Arc<dyn Provider>), ChannelProviderError> {
    let channels = store.channels();
    let channel = channels.lookup(tenant, channel_id).await?;
    let version = channel.current_version;
    if let Some(provider) = registry.cached(&channel.id, version) {
        return Ok((channel, provider));
    }
    let credentials = channels.credentials(tenant, channel_id, version).await?;
    let provider = registry.provider(&ChannelSpec {
        channel_id: channel.id.clone(),
        kind: channel.kind,
        mch_id: channel.mch_id.clone(),
        credentials_version: version,
        credentials,
    })?;
    Ok((channel, provider))
}
