//! The audit trail: who changed what, written in the same transaction as the change.
//!
//! Callers pass an [`Audit`] (the actor and the request id) to every write; the repositories
//! build the row themselves with an action name like `tenant.create`, the target id, and a
//! JSON summary they assemble from public fields only — a summary must never contain a
//! secret, a ciphertext or a digest.

use paygate_core::{AuditId, OperatorId, TenantId};
use time::OffsetDateTime;

use crate::db::{Tx, args, db_row, from_ms, parse_opt};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::store::Store;

/// Who is writing, for the audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// An operator id (`op_…`), an API key id (`key_…`), `"cli"` or `"system"`.
    pub actor: String,
    /// The request id of the HTTP request that caused the write, if any.
    pub request_id: Option<String>,
}

impl Audit {
    pub fn operator(id: &OperatorId, request_id: Option<String>) -> Audit {
        Audit {
            actor: id.as_str().to_owned(),
            request_id,
        }
    }

    /// A write made by the `paygate` command line.
    pub fn cli() -> Audit {
        Audit {
            actor: "cli".to_owned(),
            request_id: None,
        }
    }

    /// A write made by paygate itself (e.g. a background job).
    pub fn system() -> Audit {
        Audit {
            actor: "system".to_owned(),
            request_id: None,
        }
    }
}

/// An audit row about to be written (crate-internal builder).
pub(crate) struct AuditRecord {
    tenant_id: Option<String>,
    action: &'static str,
    target: String,
    summary: serde_json::Value,
}

/// The head of an audit row's `INSERT` (values follow in this column order), shared with
/// the one-statement order creation in `repo::single_statement`.
macro_rules! insert_audit {
    () => {
        "INSERT INTO audit_log (id, tenant_id, actor, action, target, summary, request_id, at)"
    };
}
pub(crate) use insert_audit;

impl AuditRecord {
    pub(crate) fn tenant(
        tenant: &TenantId,
        action: &'static str,
        target: impl Into<String>,
    ) -> Self {
        AuditRecord {
            tenant_id: Some(tenant.as_str().to_owned()),
            action,
            target: target.into(),
            summary: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub(crate) fn platform(action: &'static str, target: impl Into<String>) -> Self {
        AuditRecord {
            tenant_id: None,
            action,
            target: target.into(),
            summary: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    pub(crate) fn summary(mut self, summary: serde_json::Value) -> Self {
        self.summary = summary;
        self
    }

    pub(crate) async fn write(
        self,
        store: &Store,
        tx: &mut Tx,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let id: AuditId = store.new_id();
        tx.execute(
            concat!(insert_audit!(), " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"),
            args![
                id.as_str(),
                self.tenant_id,
                audit.actor.as_str(),
                self.action,
                self.target,
                self.summary.to_string(),
                audit.request_id.clone(),
                store.now_ms(),
            ],
        )
        .await?;
        Ok(())
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: AuditId,
    pub tenant_id: Option<TenantId>,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub summary: serde_json::Value,
    pub request_id: Option<String>,
    pub at: OffsetDateTime,
}

db_row! {
    struct AuditRow {
        id: String,
        tenant_id: Option<String>,
        actor: String,
        action: String,
        target: String,
        summary: String,
        request_id: Option<String>,
        at: i64,
    }
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: crate::db::parse_col("audit_log.id", &r.id)?,
            tenant_id: parse_opt("audit_log.tenant_id", r.tenant_id.as_deref())?,
            actor: r.actor,
            action: r.action,
            target: r.target,
            summary: serde_json::from_str(&r.summary)
                .map_err(|_| StoreError::Corrupt("audit_log.summary".into()))?,
            request_id: r.request_id,
            at: from_ms(r.at)?,
        })
    }
}

/// Reads the audit log (`store.audit_log()`).
#[derive(Debug, Clone, Copy)]
pub struct AuditLog<'a> {
    pub(crate) store: &'a Store,
}

impl AuditLog<'_> {
    /// Newest first; `tenant` narrows to one tenant's entries.
    pub async fn list(
        &self,
        tenant: Option<&TenantId>,
        page: &Page,
    ) -> Result<Paged<AuditEntry>, StoreError> {
        let rows: Vec<AuditRow> = self
            .store
            .pool()
            .all(
                "SELECT id, tenant_id, actor, action, target, summary, request_id, at \
                 FROM audit_log WHERE ($1 IS NULL OR tenant_id = $1) \
                 AND ($2 IS NULL OR id < $2) ORDER BY id DESC LIMIT $3",
                args![
                    tenant.map(TenantId::as_str),
                    page.cursor(),
                    page.fetch_limit()
                ],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(AuditEntry::try_from)
    }
}
