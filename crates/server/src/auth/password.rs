//! Operator passwords: argon2id PHC strings (m = 15000 KiB, t = 2, p = 1, OWASP's minimum).
//!
//! Hashing is deliberately slow, so it runs on the blocking pool (inside the caller's tracing
//! span) rather than stalling an async worker. `paygate admin create-operator` reuses
//! [`hash`] and [`check_new_password`]. Nothing here logs or returns a password.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use secrecy::{ExposeSecret, SecretString};

/// Memory cost in KiB.
pub const M_COST: u32 = 15_000;
/// Iterations.
pub const T_COST: u32 = 2;
/// Lanes.
pub const P_COST: u32 = 1;
/// Shortest accepted new password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in bytes: bounds the work one request can cause.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A hash of a random password with the live parameters. Logins for unknown usernames verify
/// against it, so they cost the same time as a wrong password for a real operator.
const DUMMY_HASH: &str = "$argon2id$v=19$m=15000,t=2,p=1$o4nNpKdm9WQvG/9AzNjk/Q$\
                          rQitlbFE4tsh+meGQ38oGjMb7ZHIN3hsh1T7MPgzD4Y";

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The stored hash is not a PHC string argon2 understands (a corrupted row).
    #[error("the stored password hash is malformed")]
    MalformedHash,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("the password hashing task did not finish")]
    Join,
}

impl PasswordError {
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::MalformedHash => "password_hash_malformed",
            PasswordError::Hash(_) => "password_hash_failed",
            PasswordError::Join => "password_task_failed",
        }
    }
}

/// Why a new password is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRuleError {
    #[error("must be at least {MIN_PASSWORD_CHARS} characters long")]
    TooShort,
    #[error("must be at most {MAX_PASSWORD_BYTES} bytes long")]
    TooLong,
}

/// The rules a new operator password must satisfy.
pub fn check_new_password(password: &SecretString) -> Result<(), PasswordRuleError> {
    let p = password.expose_secret();
    if p.len() > MAX_PASSWORD_BYTES {
        return Err(PasswordRuleError::TooLong);
    }
    if p.chars().count() < MIN_PASSWORD_CHARS {
        return Err(PasswordRuleError::TooShort);
    }
    Ok(())
}

fn argon2() -> Result<Argon2<'static>, PasswordError> {
    let params = Params::new(M_COST, T_COST, P_COST, None)
        .map_err(|e| PasswordError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, PasswordError> + Send + 'static,
) -> Result<T, PasswordError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|_| PasswordError::Join)?
}

/// Hashes a password into a PHC string with a fresh random salt.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    blocking(move || {
        argon2()?
            .hash_password(password.expose_secret().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    })
    .await
}

/// Whether `password` matches the PHC string `phc`. Oversized passwords never match (and are
/// not hashed).
pub async fn verify(password: SecretString, phc: SecretString) -> Result<bool, PasswordError> {
    blocking(move || verify_blocking(&password, phc.expose_secret())).await
}

/// Spends the same work as [`verify`] and always answers `false`: for usernames that do not
/// exist, so response time does not reveal which usernames do.
pub async fn verify_dummy(password: SecretString) -> Result<bool, PasswordError> {
    blocking(move || verify_blocking(&password, DUMMY_HASH).map(|_| false)).await
}

fn verify_blocking(password: &SecretString, phc: &str) -> Result<bool, PasswordError> {
    let parsed = PasswordHash::new(phc).map_err(|_| PasswordError::MalformedHash)?;
    let bytes = password.expose_secret().as_bytes();
    if bytes.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    match argon2()?.verify_password(bytes, &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::PasswordInvalid) => Ok(false),
        Err(e) => Err(PasswordError::Hash(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn hash_then_verify() {
        let phc = hash(secret("correct horse battery")).await.unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=15000,t=2,p=1$"), "{phc}");
        let phc = SecretString::from(phc);
        assert!(
            verify(secret("correct horse battery"), phc.clone())
                .await
                .unwrap()
        );
        assert!(!verify(secret("correct horse battery!"), phc).await.unwrap());
    }

    #[tokio::test]
    async fn malformed_hash_is_an_error_not_a_match() {
        let err = verify(secret("whatever-password"), secret("not-a-phc")).await;
        assert!(matches!(err, Err(PasswordError::MalformedHash)));
    }

    #[tokio::test]
    async fn dummy_hash_uses_the_live_parameters_and_never_matches() {
        let parsed = PasswordHash::new(DUMMY_HASH).unwrap();
        let live = hash(secret("x".repeat(12).as_str())).await.unwrap();
        let live = PasswordHash::new(&live).unwrap();
        assert_eq!(parsed.algorithm, live.algorithm);
        assert_eq!(parsed.params.to_string(), live.params.to_string());
        assert!(!verify_dummy(secret("")).await.unwrap());
    }

    #[test]
    fn new_password_rules() {
        assert_eq!(
            check_new_password(&secret("elevenchars")),
            Err(PasswordRuleError::TooShort)
        );
        // Characters, not bytes: 12 CJK characters are fine.
        assert_eq!(
            check_new_password(&secret("密码密码密码密码密码密码")),
            Ok(())
        );
        assert_eq!(check_new_password(&secret("twelve chars")), Ok(()));
        assert_eq!(
            check_new_password(&secret(&"a".repeat(MAX_PASSWORD_BYTES + 1))),
            Err(PasswordRuleError::TooLong)
        );
    }
}
