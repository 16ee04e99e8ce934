//! What the channel endpoints answer with: public facts only — kind, merchant number, status
//! and, per credentials version, the merchant certificate's serial and expiry. There is no
//! field here that could carry a credentials document.

use paygate_core::{AppId, ChannelId, MchId, TenantId};
use paygate_store::{Channel, ChannelDetail, ChannelStatus, CredentialsVersion};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// Whether a channel takes new payments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatusView {
    Active,
    Disabled,
}

impl From<ChannelStatus> for ChannelStatusView {
    fn from(s: ChannelStatus) -> Self {
        match s {
            ChannelStatus::Active => ChannelStatusView::Active,
            ChannelStatus::Disabled => ChannelStatusView::Disabled,
        }
    }
}

impl From<ChannelStatusView> for ChannelStatus {
    fn from(s: ChannelStatusView) -> Self {
        match s {
            ChannelStatusView::Active => ChannelStatus::Active,
            ChannelStatusView::Disabled => ChannelStatus::Disabled,
        }
    }
}

/// A payment channel.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelView {
    #[schema(value_type = String, example = "ch_01JD2Z6V3KQ8X4M7R9T0B1C2D3")]
    pub id: ChannelId,
    #[schema(value_type = String)]
    pub tenant_id: TenantId,
    /// `wechat-v2` or `wechat-v3`.
    pub kind: String,
    #[schema(value_type = String, example = "1230000109")]
    pub mch_id: MchId,
    pub name: String,
    pub status: ChannelStatusView,
    /// The credentials version payments use.
    pub current_version: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

impl From<Channel> for ChannelView {
    fn from(c: Channel) -> Self {
        ChannelView {
            id: c.id,
            tenant_id: c.tenant_id,
            kind: c.kind.as_str().to_owned(),
            mch_id: c.mch_id,
            name: c.name,
            status: c.status.into(),
            current_version: c.current_version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// The public facts of one credentials version.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CredentialsVersionView {
    pub version: i64,
    /// The merchant certificate serial (v3), upper-case hex.
    pub merchant_serial: Option<String>,
    /// When the merchant / client certificate expires, if the document has one.
    #[serde(with = "time::serde::rfc3339::option")]
    pub certificate_not_after: Option<OffsetDateTime>,
    /// The appid bound in the document (v2).
    #[schema(value_type = Option<String>)]
    pub appid: Option<AppId>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub retired_at: Option<OffsetDateTime>,
    /// Whether payments sign with this version.
    pub current: bool,
}

impl From<CredentialsVersion> for CredentialsVersionView {
    fn from(v: CredentialsVersion) -> Self {
        CredentialsVersionView {
            version: v.version,
            merchant_serial: v.merchant_serial,
            certificate_not_after: v.certificate_not_after,
            appid: v.appid,
            created_at: v.created_at,
            retired_at: v.retired_at,
            current: v.is_current,
        }
    }
}

/// A channel with its credentials versions, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ChannelDetailView {
    #[serde(flatten)]
    pub channel: ChannelView,
    pub versions: Vec<CredentialsVersionView>,
}

impl From<ChannelDetail> for ChannelDetailView {
    fn from(d: ChannelDetail) -> Self {
        ChannelDetailView {
            channel: d.channel.into(),
            versions: d.versions.into_iter().map(Into::into).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use paygate_core::{
        CredentialsFault, CredentialsSummary, ProviderError, ProviderKind, ProviderRegistry,
    };
    use secrecy::{ExposeSecret, SecretString};

    use crate::admin::channels::{parse_kind, validate_document};
    use crate::error::ApiError;

    /// A registry knowing only v3, whose validator accepts `{"mchid": "<digits>"}`.
    fn registry() -> ProviderRegistry {
        let mut r = ProviderRegistry::new(10);
        r.register(
            ProviderKind::WechatV3,
            Arc::new(|_| Err(ProviderError::Unsupported("not in this test"))),
            Arc::new(|doc: &SecretString| {
                let v: serde_json::Value =
                    serde_json::from_str(doc.expose_secret()).map_err(|_| CredentialsFault {
                        field: "credentials".into(),
                        message: "not JSON".into(),
                    })?;
                let mchid = v["mchid"].as_str().ok_or_else(|| CredentialsFault {
                    field: "mchid".into(),
                    message: "is required".into(),
                })?;
                Ok(CredentialsSummary {
                    mch_id: mchid.parse().map_err(|_| CredentialsFault {
                        field: "mchid".into(),
                        message: "invalid".into(),
                    })?,
                    appid: None,
                    merchant_serial: None,
                    certificate_not_after: None,
                })
            }),
        );
        r
    }

    #[test]
    fn kinds_must_be_known_and_registered() {
        let r = registry();
        assert_eq!(
            parse_kind(&r, "wechat-v3").ok(),
            Some(ProviderKind::WechatV3)
        );
        assert!(matches!(
            parse_kind(&r, "wechat-v2"),
            Err(ApiError::UnsupportedChannelKind)
        ));
        assert!(matches!(
            parse_kind(&r, "alipay"),
            Err(ApiError::UnsupportedChannelKind)
        ));
    }

    #[test]
    fn faults_name_the_field_and_mch_id_must_match() {
        let r = registry();
        let mch = "1230000109".parse().unwrap();
        let doc = |s: &str| SecretString::from(s.to_owned());
        let ok = validate_document(
            &r,
            ProviderKind::WechatV3,
            &mch,
            &doc(r#"{"mchid":"1230000109"}"#),
        );
        assert!(ok.is_ok());
        match validate_document(&r, ProviderKind::WechatV3, &mch, &doc("{}")) {
            Err(ApiError::InvalidChannelCredentials { field, .. }) => {
                assert_eq!(field, "credentials.mchid");
            }
            other => panic!("{other:?}"),
        }
        match validate_document(
            &r,
            ProviderKind::WechatV3,
            &mch,
            &doc(r#"{"mchid":"1900000001"}"#),
        ) {
            Err(ApiError::InvalidChannelCredentials { field, .. }) => assert_eq!(field, "mch_id"),
            other => panic!("{other:?}"),
        }
    }
}
