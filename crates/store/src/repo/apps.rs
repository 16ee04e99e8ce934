//! Mini-programs (apps) of a tenant and their encrypted `AppSecret`s.
//!
//! An appid belongs to exactly one tenant platform-wide (`apps_appid_key`), because a
//! mini-program login arrives with the appid alone. The secret is returned only by
//! [`Apps::app_secret`], never with the app.

use paygate_core::{AppId, TenantId};
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{args, db_row, from_ms, parse_col};
use crate::envelope::FieldContext;
use crate::error::StoreError;
use crate::repo::{check_name, ensure_tenant};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    pub appid: AppId,
    pub tenant_id: TenantId,
    pub name: String,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

db_row! {
    struct AppRow {
        appid: String,
        tenant_id: String,
        name: String,
        created_at: i64,
        updated_at: i64,
    }
}

impl TryFrom<AppRow> for App {
    type Error = StoreError;
    fn try_from(r: AppRow) -> Result<Self, StoreError> {
        Ok(App {
            appid: parse_col("apps.appid", &r.appid)?,
            tenant_id: parse_col("apps.tenant_id", &r.tenant_id)?,
            name: r.name,
            created_at: from_ms(r.created_at)?,
            updated_at: from_ms(r.updated_at)?,
        })
    }
}

fn secret_ctx<'a>(tenant: &'a TenantId, appid: &'a AppId) -> FieldContext<'a> {
    FieldContext {
        tenant_id: tenant.as_str(),
        table: "apps",
        column: "secret",
        row_id: appid.as_str(),
    }
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT appid, tenant_id, name, created_at, updated_at FROM apps ",
            $rest
        )
    };
}

/// `store.apps()`.
#[derive(Debug, Clone, Copy)]
pub struct Apps<'a> {
    pub(crate) store: &'a Store,
}

impl Apps<'_> {
    /// Registers a mini-program; an appid already registered (by any tenant) is
    /// `Conflict { apps_appid_key }`.
    pub async fn create(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        appid: &AppId,
        name: &str,
        secret: &SecretString,
    ) -> Result<App, StoreError> {
        check_name("name", name)?;
        let key = self.store.data_key(tenant).await?;
        let sealed = key.encrypt_str(secret_ctx(tenant, appid), secret);
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        ensure_tenant(&mut tx, tenant).await?;
        tx.execute(
            "INSERT INTO apps (appid, tenant_id, name, secret, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $5)",
            args![appid.as_str(), tenant.as_str(), name, sealed, now],
        )
        .await?;
        AuditRecord::tenant(tenant, "app.create", appid.as_str())
            .summary(serde_json::json!({ "appid": appid.as_str(), "name": name }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        // A tenant's second app means orders must name theirs.
        self.store.lookups().invalidate();
        self.get(tenant, appid).await
    }

    /// A tenant's apps, by appid. Tenants have a handful, so this is not paged.
    pub async fn list(&self, tenant: &TenantId) -> Result<Vec<App>, StoreError> {
        let rows: Vec<AppRow> = self
            .store
            .pool()
            .all(
                select!("WHERE tenant_id = $1 ORDER BY appid"),
                args![tenant.as_str()],
            )
            .await?;
        rows.into_iter().map(App::try_from).collect()
    }

    /// What a new order may go to: the `requested` app if it is the tenant's, else up to two
    /// of its apps — enough to tell "the only one" from "none" and "several" without listing
    /// them all. Answered from the lookup cache when it holds a current copy (see `lookups`).
    pub async fn order_candidates(
        &self,
        tenant: &TenantId,
        requested: Option<&AppId>,
    ) -> Result<Vec<App>, StoreError> {
        let lookups = self.store.lookups();
        let key = (tenant.clone(), requested.cloned());
        let read = async {
            let rows: Vec<AppRow> = self
                .store
                .pool()
                .all(
                    select!(
                        "WHERE tenant_id = $1 AND ($2 IS NULL OR appid = $2) ORDER BY appid LIMIT 2"
                    ),
                    args![tenant.as_str(), requested.map(AppId::as_str)],
                )
                .await?;
            rows.into_iter().map(App::try_from).collect()
        };
        lookups
            .get_or_read(&lookups.app_candidates, key, read)
            .await
    }

    pub async fn get(&self, tenant: &TenantId, appid: &AppId) -> Result<App, StoreError> {
        let row: Option<AppRow> = self
            .store
            .pool()
            .optional(
                select!("WHERE tenant_id = $1 AND appid = $2"),
                args![tenant.as_str(), appid.as_str()],
            )
            .await?;
        row.ok_or(StoreError::not_found("app"))?.try_into()
    }

    /// The app with this appid, whichever tenant owns it (mini-program login).
    pub async fn find_by_appid(&self, appid: &AppId) -> Result<Option<App>, StoreError> {
        let row: Option<AppRow> = self
            .store
            .pool()
            .optional(select!("WHERE appid = $1"), args![appid.as_str()])
            .await?;
        row.map(App::try_from).transpose()
    }

    /// Replaces the app's secret.
    pub async fn set_secret(
        &self,
        audit: &Audit,
        tenant: &TenantId,
        appid: &AppId,
        secret: &SecretString,
    ) -> Result<(), StoreError> {
        let key = self.store.data_key(tenant).await?;
        let sealed = key.encrypt_str(secret_ctx(tenant, appid), secret);
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE apps SET secret = $1, updated_at = $2 WHERE tenant_id = $3 AND appid = $4",
                args![sealed, self.store.now_ms(), tenant.as_str(), appid.as_str()],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("app"));
        }
        AuditRecord::tenant(tenant, "app.set_secret", appid.as_str())
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.store.lookups().invalidate();
        Ok(())
    }

    /// The decrypted `AppSecret`, for calling WeChat on the app's behalf.
    pub async fn app_secret(
        &self,
        tenant: &TenantId,
        appid: &AppId,
    ) -> Result<SecretString, StoreError> {
        let key = self.store.data_key(tenant).await?;
        let row: Option<(Vec<u8>,)> = self
            .store
            .pool()
            .optional(
                "SELECT secret FROM apps WHERE tenant_id = $1 AND appid = $2",
                args![tenant.as_str(), appid.as_str()],
            )
            .await?;
        let (sealed,) = row.ok_or(StoreError::not_found("app"))?;
        Ok(key.decrypt_str(secret_ctx(tenant, appid), &sealed)?)
    }
}
