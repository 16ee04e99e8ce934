//! Secret files on disk: the master key and the JWT signing secret.
//!
//! Format of the master key file: one line, `v<N>:<64 hex digits>` — the key's version travels
//! with the key, so a rotated key can never be loaded under the wrong version. The JWT secret
//! file is one line of 64 hex digits (32 random bytes). Both are created with mode 0600 from the
//! first byte (`O_CREAT|O_EXCL` with the mode, then linked into place, so a crash never leaves a
//! half-written key and no other user can ever open it), and an existing file that its group or
//! other users may access is refused rather than silently used or fixed.
//!
//! This module must never log, print or put a secret into an error message. Unix only: the
//! permission checks are the point.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use paygate_store::envelope::MasterKey;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

use crate::config::SecretSource;

/// Shortest JWT secret accepted from a file (the server's rule).
const MIN_JWT_SECRET_LEN: usize = paygate_server::settings::MIN_JWT_SECRET_BYTES;

/// Why a secret file could not be used. Messages name the file, never its content.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error(
        "{} is accessible to other users (mode {mode:o}); run `chmod 600 {}` after checking \
         nobody copied it",
        path.display(),
        path.display()
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("{what} file {} does not exist", path.display())]
    Missing { what: &'static str, path: PathBuf },
    #[error("{0}")]
    Malformed(String),
}

impl KeyFileError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyFileError::Io { .. } => "key_file_io",
            KeyFileError::Permissions { .. } => "key_file_permissions",
            KeyFileError::Missing { .. } => "key_file_missing",
            KeyFileError::Malformed(_) => "key_malformed",
        }
    }
}

/// Whether a secret was read or just generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Configured,
    Loaded,
    Created,
}

/// Parses `v<N>:<64 hex>` (N from 1 to 255); a bare 64-digit hex key is version 1.
pub fn parse_master_key(text: &str) -> Result<MasterKey, KeyFileError> {
    let text = text.trim();
    let (version, hex) = match text.split_once(':') {
        Some((v, hex)) => {
            let version = v
                .strip_prefix('v')
                .and_then(|n| n.parse::<u8>().ok())
                .filter(|n| *n >= 1)
                .ok_or_else(|| {
                    KeyFileError::Malformed(
                        "a master key is `v<version>:<64 hex digits>`, version 1 to 255".into(),
                    )
                })?;
            (version, hex)
        }
        None => (1, text),
    };
    MasterKey::from_hex(version, hex)
        .map_err(|e| KeyFileError::Malformed(format!("master key: {e}")))
}

/// The file form of a master key (a secret).
pub fn format_master_key(key: &MasterKey) -> SecretString {
    SecretString::from(format!(
        "v{}:{}\n",
        key.version(),
        key.to_hex().expose_secret()
    ))
}

/// Reads a secret file, refusing one that its group or other users may access.
pub fn read_secret_file(path: &Path) -> Result<SecretString, KeyFileError> {
    let io_err = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if !meta.is_file() {
        return Err(KeyFileError::Malformed(format!(
            "{} is not a regular file",
            path.display()
        )));
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let text = io::read_to_string(file).map_err(io_err)?;
    Ok(SecretString::from(text.trim().to_owned()))
}

/// Writes `path` with mode 0600, replacing it atomically if it exists (`demo.json`).
pub fn replace_secret_file(path: &Path, contents: &SecretString) -> Result<(), KeyFileError> {
    let tmp = temp_sibling(path);
    write_secret_file(&tmp, contents)?;
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        KeyFileError::Io {
            path: path.to_path_buf(),
            source,
        }
    })
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{:016x}", rand::rng().next_u64()))
}

/// Creates `path` with mode 0600 holding `contents`; fails if it already exists.
///
/// The content goes to a fresh temporary file first (created 0600, synced) which is then
/// hard-linked to `path`: a reader sees either no file or the whole key.
pub fn write_secret_file(path: &Path, contents: &SecretString) -> Result<(), KeyFileError> {
    let io_err = |p: &Path, source| KeyFileError::Io {
        path: p.to_path_buf(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    create_private_dir(&dir)?;
    let tmp = temp_sibling(path);
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(contents.expose_secret().as_bytes())?;
        if !contents.expose_secret().ends_with('\n') {
            file.write_all(b"\n")?;
        }
        file.sync_all()?;
        fs::hard_link(&tmp, path)
    })();
    // The temporary name is removed whether or not the link succeeded.
    let _ = fs::remove_file(&tmp);
    written.map_err(|e| io_err(path, e))?;
    // Make the new directory entry durable too.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(&dir, e))
}

/// Creates `dir` (and parents) with mode 0700 if missing.
pub fn create_private_dir(dir: &Path) -> Result<(), KeyFileError> {
    if dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyFileError::Io {
            path: dir.to_path_buf(),
            source,
        })
}

/// The master key from configuration or its file; with `create`, a missing file is generated
/// (version 1).
pub fn master_key(
    source: &SecretSource,
    create: bool,
) -> Result<(MasterKey, Origin), KeyFileError> {
    match source {
        SecretSource::Inline(text) => {
            Ok((parse_master_key(text.expose_secret())?, Origin::Configured))
        }
        SecretSource::File(path) if path.exists() => {
            let key = parse_master_key(read_secret_file(path)?.expose_secret())
                .map_err(|e| KeyFileError::Malformed(format!("{}: {e}", path.display())))?;
            Ok((key, Origin::Loaded))
        }
        SecretSource::File(path) if !create => Err(KeyFileError::Missing {
            what: "master key",
            path: path.clone(),
        }),
        SecretSource::File(path) => {
            let key = MasterKey::generate(1);
            write_secret_file(path, &format_master_key(&key))?;
            Ok((key, Origin::Created))
        }
    }
}

/// The JWT signing secret from configuration or its file; with `create`, a missing file is
/// generated (32 random bytes, hex).
pub fn jwt_secret(
    source: &SecretSource,
    create: bool,
) -> Result<(SecretString, Origin), KeyFileError> {
    match source {
        SecretSource::Inline(secret) => Ok((secret.clone(), Origin::Configured)),
        SecretSource::File(path) if path.exists() => {
            let secret = read_secret_file(path)?;
            if secret.expose_secret().len() < MIN_JWT_SECRET_LEN {
                return Err(KeyFileError::Malformed(format!(
                    "{}: a JWT secret must be at least {MIN_JWT_SECRET_LEN} characters",
                    path.display()
                )));
            }
            Ok((secret, Origin::Loaded))
        }
        SecretSource::File(path) if !create => Err(KeyFileError::Missing {
            what: "JWT secret",
            path: path.clone(),
        }),
        SecretSource::File(path) => {
            let mut bytes = [0u8; 32];
            rand::rng().fill_bytes(&mut bytes);
            let secret = SecretString::from(hex::encode(bytes));
            write_secret_file(path, &secret)?;
            Ok((secret, Origin::Created))
        }
    }
}
