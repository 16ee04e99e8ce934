//! Operator accounts of the admin API.
//!
//! Passwords arrive already hashed (argon2id PHC strings, hashed by the server off the async
//! runtime); this module never sees a password. Disabling an operator or changing its role
//! bumps `token_version`, which every issued token carries, so old tokens stop working at once.

use std::fmt;
use std::str::FromStr;

use paygate_core::OperatorId;
use secrecy::SecretString;
use time::OffsetDateTime;

use crate::audit::{Audit, AuditRecord};
use crate::db::{args, db_row, from_ms, parse_col};
use crate::error::StoreError;
use crate::page::{Page, Paged};
use crate::repo::check_name;
use crate::store::Store;

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything.
    Admin,
    /// Reads only.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Viewer => "viewer",
        }
    }
}

impl FromStr for Role {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "admin" => Ok(Role::Admin),
            "viewer" => Ok(Role::Viewer),
            _ => Err(StoreError::invalid("role", "must be admin or viewer")),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An operator, without its password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    pub id: OperatorId,
    pub username: String,
    pub role: Role,
    pub disabled: bool,
    pub token_version: i64,
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
}

/// An operator with its password hash, for the login check only.
#[derive(Debug)]
pub struct OperatorLogin {
    pub operator: Operator,
    /// The argon2id PHC string. Not a secret in itself, but kept out of `Debug` output.
    pub password_hash: SecretString,
}

/// Changes to an operator; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorUpdate {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

db_row! {
    struct OperatorRow {
        id: String,
        username: String,
        password_hash: String,
        role: String,
        disabled: bool,
        token_version: i64,
        created_at: i64,
        updated_at: i64,
    }
}

impl OperatorRow {
    fn into_login(self) -> Result<OperatorLogin, StoreError> {
        let password_hash = SecretString::from(self.password_hash);
        Ok(OperatorLogin {
            operator: Operator {
                id: parse_col("operators.id", &self.id)?,
                username: self.username,
                role: parse_col("operators.role", &self.role)?,
                disabled: self.disabled,
                token_version: self.token_version,
                created_at: from_ms(self.created_at)?,
                updated_at: from_ms(self.updated_at)?,
            },
            password_hash,
        })
    }

    fn into_operator(self) -> Result<Operator, StoreError> {
        self.into_login().map(|l| l.operator)
    }
}

/// `store.operators()`.
#[derive(Debug, Clone, Copy)]
pub struct Operators<'a> {
    pub(crate) store: &'a Store,
}

macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, password_hash, role, disabled, token_version, created_at, \
             updated_at FROM operators ",
            $rest
        )
    };
}

impl Operators<'_> {
    /// Creates an operator; a taken username is `Conflict { operators_username_key }`.
    pub async fn create(
        &self,
        audit: &Audit,
        username: &str,
        password_hash: &SecretString,
        role: Role,
    ) -> Result<Operator, StoreError> {
        use secrecy::ExposeSecret;
        check_name("username", username)?;
        let id: OperatorId = self.store.new_id();
        let now = self.store.now_ms();
        let mut tx = self.store.write_tx().await?;
        tx.execute(
            "INSERT INTO operators (id, username, password_hash, role, disabled, token_version, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
            args![
                id.as_str(),
                username,
                password_hash.expose_secret(),
                role.as_str(),
                false,
                now
            ],
        )
        .await?;
        AuditRecord::platform("operator.create", id.as_str())
            .summary(serde_json::json!({ "username": username, "role": role.as_str() }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.get(&id).await
    }

    pub async fn get(&self, id: &OperatorId) -> Result<Operator, StoreError> {
        let row: Option<OperatorRow> = self
            .store
            .pool()
            .optional(select!("WHERE id = $1"), args![id.as_str()])
            .await?;
        row.ok_or(StoreError::not_found("operator"))?
            .into_operator()
    }

    /// The operator and its password hash, for login.
    pub async fn find_by_username(
        &self,
        username: &str,
    ) -> Result<Option<OperatorLogin>, StoreError> {
        let row: Option<OperatorRow> = self
            .store
            .pool()
            .optional(select!("WHERE username = $1"), args![username])
            .await?;
        row.map(OperatorRow::into_login).transpose()
    }

    pub async fn list(&self, page: &Page) -> Result<Paged<Operator>, StoreError> {
        let rows: Vec<OperatorRow> = self
            .store
            .pool()
            .all(
                select!("WHERE ($1 IS NULL OR id < $1) ORDER BY id DESC LIMIT $2"),
                args![page.cursor(), page.fetch_limit()],
            )
            .await?;
        Paged::from_probe(rows, page, |r| r.id.clone()).try_map(OperatorRow::into_operator)
    }

    /// Changes role and/or disabled; either change bumps `token_version`.
    pub async fn update(
        &self,
        audit: &Audit,
        id: &OperatorId,
        update: &OperatorUpdate,
    ) -> Result<Operator, StoreError> {
        let before = self.get(id).await?;
        let role = update.role.unwrap_or(before.role);
        let disabled = update.disabled.unwrap_or(before.disabled);
        let bump = i64::from(role != before.role || disabled != before.disabled);
        let mut tx = self.store.write_tx().await?;
        tx.execute(
            "UPDATE operators SET role = $1, disabled = $2, token_version = token_version + $3, \
             updated_at = $4 WHERE id = $5",
            args![
                role.as_str(),
                disabled,
                bump,
                self.store.now_ms(),
                id.as_str()
            ],
        )
        .await?;
        AuditRecord::platform("operator.update", id.as_str())
            .summary(serde_json::json!({ "role": role.as_str(), "disabled": disabled }))
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await?;
        self.get(id).await
    }

    /// Replaces the password hash (e.g. a reset from the CLI); bumps `token_version`.
    pub async fn set_password_hash(
        &self,
        audit: &Audit,
        id: &OperatorId,
        password_hash: &SecretString,
    ) -> Result<(), StoreError> {
        use secrecy::ExposeSecret;
        let mut tx = self.store.write_tx().await?;
        let changed = tx
            .execute(
                "UPDATE operators SET password_hash = $1, token_version = token_version + 1, \
                 updated_at = $2 WHERE id = $3",
                args![
                    password_hash.expose_secret(),
                    self.store.now_ms(),
                    id.as_str()
                ],
            )
            .await?;
        if changed == 0 {
            return Err(StoreError::not_found("operator"));
        }
        AuditRecord::platform("operator.set_password", id.as_str())
            .write(self.store, &mut tx, audit)
            .await?;
        tx.commit().await
    }

    /// How many operators exist (zero: the first one must be bootstrapped).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let (n,): (i64,) = self
            .store
            .pool()
            .one("SELECT COUNT(*) FROM operators", args![])
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
