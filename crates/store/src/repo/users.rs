//! Mini-program users: an openid per app, learned at login (`jscode2session`), with the
//! WeChat `session_key` encrypted under the tenant's data key.
//!
//! Logins are frequent and caused by end users, not operators, so upserts are not written to
//! the audit log. The session key is never part of [`User`]; only
//! [`Users::session_key`] decrypts it.

use paygate_core::{AppId, OpenId, TenantId};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::db::{args, db_row, from_ms, parse_col};
use crate::envelope::FieldContext;
use crate::error::StoreError;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub tenant_id: TenantId,
    pub appid: AppId,
    pub openid: OpenId,
    pub unionid: Option<String>,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

db_row! {
    struct UserRow {
        tenant_id: String,
        appid: String,
        openid: String,
        unionid: Option<String>,
        created_at: i64,
        updated_at: i64,
    }
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            tenant_id: parse_col("users.tenant_id", &r.tenant_id)?,
            appid: parse_col("users.appid", &r.appid)?,
            openid: parse_col("users.openid", &r.openid)?,
            unionid: r.unionid,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

/// The AAD of a session key: it cannot be moved to another user's row.
fn session_key_ctx<'a>(tenant: &'a TenantId, row_id: &'a str) -> FieldContext<'a> {
    FieldContext {
        tenant_id: tenant.as_str(),
        table: "users",
        column: "session_key",
        row_id,
    }
}

fn row_id(appid: &AppId, openid: &OpenId) -> String {
    format!("{}/{}", appid.as_str(), openid.as_str())
}

/// `store.users()`.
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    pub(crate) store: &'a Store,
}

impl Users<'_> {
    /// Creates the user or refreshes its session key (and unionid when given). The app must
    /// be the tenant's (`NotFound { app }` otherwise).
    pub async fn upsert(
        &self,
        tenant: &TenantId,
        appid: &AppId,
        openid: &OpenId,
        unionid: Option<&str>,
        session_key: &SecretString,
    ) -> Result<User, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let sealed = key.encrypt_str(session_key_ctx(tenant, &row_id(appid, openid)), session_key);
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        let owned: Option<(String,)> = tx
            .optional(
                "SELECT appid FROM apps WHERE tenant_id = $1 AND appid = $2",
                args![tenant.as_str(), appid.as_str()],
            )
            .await?;
        owned.ok_or(StoreError::not_found("app"))?;
        tx.execute(
            "INSERT INTO users (tenant_id, appid, openid, unionid, session_key, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (appid, openid) DO UPDATE SET \
             unionid = COALESCE(excluded.unionid, users.unionid), \
             session_key = excluded.session_key, updated_at = excluded.updated_at \
             WHERE users.tenant_id = excluded.tenant_id",
            args![
                tenant.as_str(),
                appid.as_str(),
                openid.as_str(),
                unionid,
                sealed,
                now
            ],
        )
        .await?;
        tx.commit().await?;
        self.get(tenant, appid, openid).await
    }

    pub async fn get(
        &self,
        tenant: &TenantId,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<User, StoreError> {
        let row: Option<UserRow> = self
            .store
            .pool()
            .optional(
                "SELECT tenant_id, appid, openid, unionid, created_at, updated_at FROM users \
                 WHERE tenant_id = $1 AND appid = $2 AND openid = $3",
                args![tenant.as_str(), appid.as_str(), openid.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("user"))?.try_into()
    }

    /// The decrypted session key of the user's latest login.
    pub async fn session_key(
        &self,
        tenant: &TenantId,
        appid: &AppId,
        openid: &OpenId,
    ) -> Result<SecretString, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let row: Option<(Option<Vec<u8>>,)> = self
            .store
            .pool()
            .optional(
                "SELECT session_key FROM users WHERE tenant_id = $1 AND appid = $2 \
                 AND openid = $3",
                args![tenant.as_str(), appid.as_str(), openid.as_str()],
            )
            .await?;
        let sealed = row
            .and_then(|(sealed,)| sealed)
            .ok_or(StoreError::not_found("user"))?;
        Ok(key.decrypt_str(session_key_ctx(tenant, &row_id(appid, openid)), &sealed)?)
    }
}
