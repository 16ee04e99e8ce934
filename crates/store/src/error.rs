//! [`StoreError`]: every way a store call fails, each with a stable machine [`code`].
//!
//! The server maps these to HTTP in one place; the codes are part of that contract, so a
//! variant's code never changes once released. Unique violations are reported as
//! [`StoreError::Conflict`] with the constraint's name, which is identical on SQLite and
//! PostgreSQL (SQLite does not report names, so they are recovered from its message here).
//! Messages never contain a secret or a database URL with its password.
//!
//! [`code`]: StoreError::code

use paygate_core::{IllegalTransition, Money, OrderState};

use crate::envelope::EnvelopeError;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist, or belongs to another tenant (the two are indistinguishable on
    /// purpose: a tenant cannot probe another tenant's ids).
    #[error("{entity} not found")]
    NotFound { entity: &'static str },

    /// A unique constraint refused the write; `constraint` is its name in both dialects,
    /// e.g. `apps_appid_key`.
    #[error("already exists (constraint {constraint})")]
    Conflict { constraint: String },

    /// The database was initialised with another master key.
    #[error(
        "the master key does not match this database (stored fingerprint {stored}, configured \
         key {configured}): start paygate with the master key the database was created with; \
         to change keys, run `paygate admin rotate-master-key` with the old key configured"
    )]
    MasterKeyMismatch { stored: String, configured: String },

    /// A ciphertext or wrapped key failed to open: wrong key, tampered, or moved to another row.
    #[error("cannot decrypt a stored secret: {0}")]
    Crypto(#[from] EnvelopeError),

    /// A value the store was asked to write is unacceptable.
    #[error("invalid {field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },

    /// The order state machine forbids this transition.
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),

    /// A compare-and-set transition lost: the order is no longer in the expected state.
    #[error("order is {actual}, not {expected}", actual = actual.as_str(), expected = expected.as_str())]
    StateMismatch {
        expected: OrderState,
        actual: OrderState,
    },

    /// The order is bound to another payer (openid) than the one paying.
    #[error("the order belongs to another payer")]
    PayerMismatch,

    /// The order's state allows no refund (only PAID and PARTIALLY_REFUNDED orders refund).
    #[error("an order that is {state} cannot be refunded", state = state.as_str())]
    OrderNotRefundable { state: OrderState },

    /// The refund asks for more than is left: paid − (PROCESSING + SUCCESS refunds).
    #[error("the refund exceeds the {available} still refundable")]
    RefundExceedsAvailable { available: Money },

    /// The current credentials version of a channel cannot be retired; add a newer one first.
    #[error("version {version} is the channel's current credentials; add a new version first")]
    RetireCurrentVersion { version: i64 },

    /// A stored row does not decode (an unknown enum value, a malformed id): a bug or a
    /// manual edit, never user input.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),

    /// The database URL names no supported backend.
    #[error("unsupported database URL: expected sqlite:… or postgres://…")]
    UnsupportedUrl,

    /// Preparing the SQLite file's directory failed.
    #[error("cannot create the database directory: {0}")]
    Io(#[from] std::io::Error),

    /// Applying the migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    /// Any other database failure (connection, syntax, timeout), from either engine.
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// The stable machine code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::Conflict { .. } => "conflict",
            StoreError::MasterKeyMismatch { .. } => "master_key_mismatch",
            StoreError::Crypto(_) => "secret_undecryptable",
            StoreError::Invalid { .. } => "invalid",
            StoreError::IllegalTransition(_) => "illegal_transition",
            StoreError::StateMismatch { .. } => "state_mismatch",
            StoreError::PayerMismatch => "payer_mismatch",
            StoreError::OrderNotRefundable { .. } => "order_not_refundable",
            StoreError::RefundExceedsAvailable { .. } => "refund_exceeds_available",
            StoreError::RetireCurrentVersion { .. } => "retire_current_version",
            StoreError::Corrupt(_) => "corrupt_row",
            StoreError::UnsupportedUrl => "unsupported_database_url",
            StoreError::Io(_) => "io",
            StoreError::Migrate(_) => "migration_failed",
            StoreError::Database(_) => "database",
        }
    }

    pub(crate) fn not_found(entity: &'static str) -> Self {
        StoreError::NotFound { entity }
    }

    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        StoreError::Invalid {
            field,
            message: message.into(),
        }
    }
}

/// SQLite reports `UNIQUE constraint failed: t.a, t.b` instead of a name; this maps each
/// such column list back to the constraint's declared name (kept in sync with the migrations
/// by the conformance suite, which checks every constraint on both backends).
const SQLITE_UNIQUES: &[(&str, &str)] = &[
    ("meta.key", "meta_pkey"),
    ("operators.id", "operators_pkey"),
    ("operators.username", "operators_username_key"),
    ("tenants.id", "tenants_pkey"),
    ("apps.appid", "apps_appid_key"),
    ("apps.tenant_id, apps.appid", "apps_tenant_appid_key"),
    ("channels.id", "channels_pkey"),
    ("channels.tenant_id, channels.id", "channels_tenant_id_key"),
    (
        "channels.tenant_id, channels.kind, channels.mch_id",
        "channels_tenant_kind_mch_key",
    ),
    (
        "channel_credentials.channel_id, channel_credentials.version",
        "channel_credentials_pkey",
    ),
    ("api_keys.id", "api_keys_pkey"),
    ("api_keys.digest", "api_keys_digest_key"),
    ("webhook_endpoints.tenant_id", "webhook_endpoints_pkey"),
    ("users.appid, users.openid", "users_appid_openid_key"),
    ("orders.id", "orders_pkey"),
    ("orders.tenant_id, orders.id", "orders_tenant_id_key"),
    (
        "orders.tenant_id, orders.out_trade_no",
        "orders_tenant_out_trade_no_key",
    ),
    ("refunds.id", "refunds_pkey"),
    (
        "refunds.tenant_id, refunds.out_refund_no",
        "refunds_tenant_out_refund_no_key",
    ),
    ("notifications.id", "notifications_pkey"),
    (
        "notifications.channel_id, notifications.kind, notifications.dedupe_key",
        "notifications_dedupe_key",
    ),
    ("events.id", "events_pkey"),
    ("events.tenant_id, events.id", "events_tenant_id_key"),
    ("webhook_deliveries.id", "webhook_deliveries_pkey"),
    ("alerts.id", "alerts_pkey"),
    (
        "idempotency_keys.tenant_id, idempotency_keys.idem_key",
        "idempotency_keys_pkey",
    ),
    ("audit_log.id", "audit_log_pkey"),
];

fn sqlite_constraint(message: &str) -> Option<&'static str> {
    let columns = message.strip_prefix("UNIQUE constraint failed: ")?;
    SQLITE_UNIQUES
        .iter()
        .find(|(cols, _)| *cols == columns)
        .map(|(_, name)| *name)
}

/// Maps a driver error, turning unique violations into [`StoreError::Conflict`].
impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        db_err(err)
    }
}

/// Maps an sqlx error, turning unique violations into [`StoreError::Conflict`]. The store
/// reaches SQLite through rusqlite ([`sqlite_err`]); sqlx's SQLite errors still arrive here
/// from raw sqlx connections (the conformance suite's), hence the message fallback.
pub(crate) fn db_err(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err
        && db.is_unique_violation()
    {
        let constraint = db
            .constraint()
            .map(str::to_owned)
            .or_else(|| sqlite_constraint(db.message()).map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned());
        return StoreError::Conflict { constraint };
    }
    StoreError::Database(Box::new(err))
}

/// SQLite's extended result codes for a violated `UNIQUE` and a violated `PRIMARY KEY`.
const SQLITE_CONSTRAINT_UNIQUE: i32 = 2067;
const SQLITE_CONSTRAINT_PRIMARYKEY: i32 = 1555;

/// Maps a rusqlite error, turning unique violations into [`StoreError::Conflict`] with the
/// same constraint names as PostgreSQL reports.
pub(crate) fn sqlite_err(err: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = &err
        && matches!(
            failure.extended_code,
            SQLITE_CONSTRAINT_UNIQUE | SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        let constraint = message
            .as_deref()
            .and_then(sqlite_constraint)
            .unwrap_or("unknown")
            .to_owned();
        return StoreError::Conflict { constraint };
    }
    StoreError::Database(Box::new(err))
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    /// Forces this list to be updated when a variant is added.
    fn sample(e: &StoreError) -> &'static str {
        match e {
            StoreError::NotFound { .. }
            | StoreError::Conflict { .. }
            | StoreError::MasterKeyMismatch { .. }
            | StoreError::Crypto(_)
            | StoreError::Invalid { .. }
            | StoreError::IllegalTransition(_)
            | StoreError::StateMismatch { .. }
            | StoreError::PayerMismatch
            | StoreError::OrderNotRefundable { .. }
            | StoreError::RefundExceedsAvailable { .. }
            | StoreError::RetireCurrentVersion { .. }
            | StoreError::Corrupt(_)
            | StoreError::UnsupportedUrl
            | StoreError::Io(_)
            | StoreError::Migrate(_)
            | StoreError::Database(_) => e.code(),
        }
    }

    #[test]
    fn every_code_is_unique_and_snake_case() {
        let all = [
            StoreError::not_found("tenant"),
            StoreError::Conflict {
                constraint: "x".into(),
            },
            StoreError::MasterKeyMismatch {
                stored: "a".into(),
                configured: "b".into(),
            },
            StoreError::Crypto(EnvelopeError::Decrypt),
            StoreError::invalid("name", "empty"),
            StoreError::IllegalTransition(IllegalTransition {
                machine: "order",
                from: "PAID",
                to: "CREATED",
            }),
            StoreError::StateMismatch {
                expected: OrderState::Created,
                actual: OrderState::Paid,
            },
            StoreError::PayerMismatch,
            StoreError::OrderNotRefundable {
                state: OrderState::Closed,
            },
            StoreError::RefundExceedsAvailable {
                available: Money::ZERO,
            },
            StoreError::RetireCurrentVersion { version: 1 },
            StoreError::Corrupt("x".into()),
            StoreError::UnsupportedUrl,
            StoreError::Io(std::io::Error::other("x")),
            StoreError::Migrate(sqlx::migrate::MigrateError::VersionMissing(1)),
            StoreError::Database(Box::new(sqlx::Error::PoolTimedOut)),
        ];
        let codes: Vec<_> = all.iter().map(sample).collect();
        let unique: HashSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
        for code in codes {
            assert!(
                code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{code}"
            );
        }
    }

    #[test]
    fn sqlite_messages_map_to_declared_names() {
        assert_eq!(
            sqlite_constraint("UNIQUE constraint failed: orders.tenant_id, orders.out_trade_no"),
            Some("orders_tenant_out_trade_no_key")
        );
        assert_eq!(sqlite_constraint("UNIQUE constraint failed: x.y"), None);
        assert_eq!(
            sqlite_constraint("NOT NULL constraint failed: apps.name"),
            None
        );
    }

    #[test]
    fn the_mismatch_message_says_what_to_do() {
        let msg = StoreError::MasterKeyMismatch {
            stored: "aa".into(),
            configured: "bb".into(),
        }
        .to_string();
        assert!(msg.contains("rotate-master-key") && msg.contains("aa") && msg.contains("bb"));
    }
}
