//! Secret files: format, creation mode, reuse, refusal of loose permissions.

use paygate_cli::config::SecretSource;
use paygate_cli::keyfile::{self, Origin};
use secrecy::{ExposeSecret, SecretString};

use crate::support::{KEY_A, chmod, mode_of, tempdir};

#[test]
fn master_key_format_carries_the_version() {
    let key = keyfile::parse_master_key(KEY_A).unwrap();
    assert_eq!(key.version(), 1);
    let v7 = keyfile::parse_master_key(&KEY_A.replace("v1:", "v7:")).unwrap();
    assert_eq!(v7.version(), 7);
    // Same bytes, same fingerprint, whatever the version.
    assert_eq!(v7.fingerprint(), key.fingerprint());
    // A bare key is version 1; the file form round-trips.
    let bare = keyfile::parse_master_key(KEY_A.trim_start_matches("v1:")).unwrap();
    assert_eq!(bare.version(), 1);
    let text = keyfile::format_master_key(&v7);
    assert_eq!(
        text.expose_secret(),
        &format!("{}\n", KEY_A.replace("v1:", "v7:"))
    );
    for bad in [
        "v0:00",
        &KEY_A.replace("v1:", "v0:"),
        &KEY_A.replace("v1:", "v256:"),
        &KEY_A.replace("v1:", "x1:"),
        &KEY_A[..KEY_A.len() - 2],
        &KEY_A.replace("0001", "zz01"),
        "",
    ] {
        let err = keyfile::parse_master_key(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} accepted"));
        assert_eq!(err.code(), "key_malformed");
    }
}

#[test]
fn a_generated_master_key_file_is_0600_and_reused() {
    let dir = tempdir();
    let path = dir.path().join("keys/master.key");
    let source = SecretSource::File(path.clone());
    let (first, origin) = keyfile::master_key(&source, true).unwrap();
    assert_eq!(origin, Origin::Created);
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(path.parent().unwrap()), 0o700);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.starts_with("v1:") && text.trim_end().len() == 3 + 64,
        "{}",
        text.len()
    );
    // No temporary file is left behind.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );

    let (again, origin) = keyfile::master_key(&source, true).unwrap();
    assert_eq!(origin, Origin::Loaded);
    assert_eq!(again.fingerprint(), first.fingerprint());
}

#[test]
fn a_key_file_others_can_read_is_refused() {
    let dir = tempdir();
    let path = dir.path().join("master.key");
    let source = SecretSource::File(path.clone());
    keyfile::master_key(&source, true).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o620] {
        chmod(&path, mode);
        let err = keyfile::master_key(&source, true).unwrap_err();
        assert_eq!(err.code(), "key_file_permissions", "mode {mode:o}");
        assert!(err.to_string().contains("chmod 600"), "{err}");
    }
    chmod(&path, 0o400);
    assert!(keyfile::master_key(&source, true).is_ok());
}

#[test]
fn missing_files_are_generated_only_when_allowed() {
    let dir = tempdir();
    let source = SecretSource::File(dir.path().join("master.key"));
    let err = keyfile::master_key(&source, false).unwrap_err();
    assert_eq!(err.code(), "key_file_missing");
    assert!(!dir.path().join("master.key").exists());
    let jwt = SecretSource::File(dir.path().join("jwt.secret"));
    assert_eq!(
        keyfile::jwt_secret(&jwt, false).unwrap_err().code(),
        "key_file_missing"
    );
}

#[test]
fn a_malformed_key_file_is_refused_without_quoting_it() {
    let dir = tempdir();
    let path = dir.path().join("master.key");
    keyfile::write_secret_file(
        &path,
        &SecretString::from("v1:not-hex-secretive".to_owned()),
    )
    .unwrap();
    let err = keyfile::master_key(&SecretSource::File(path), false).unwrap_err();
    assert_eq!(err.code(), "key_malformed");
    assert!(!err.to_string().contains("secretive"), "{err}");
}

#[test]
fn jwt_secret_is_generated_0600_and_a_short_one_refused() {
    let dir = tempdir();
    let path = dir.path().join("jwt.secret");
    let source = SecretSource::File(path.clone());
    let (secret, origin) = keyfile::jwt_secret(&source, true).unwrap();
    assert_eq!(origin, Origin::Created);
    assert_eq!(secret.expose_secret().len(), 64);
    assert_eq!(mode_of(&path), 0o600);
    let (again, origin) = keyfile::jwt_secret(&source, true).unwrap();
    assert_eq!(origin, Origin::Loaded);
    assert_eq!(again.expose_secret(), secret.expose_secret());

    let short = dir.path().join("short.secret");
    keyfile::write_secret_file(&short, &SecretString::from("x".repeat(31))).unwrap();
    let err = keyfile::jwt_secret(&SecretSource::File(short), false).unwrap_err();
    assert_eq!(err.code(), "key_malformed");
}

#[test]
fn a_secret_file_is_never_overwritten_but_can_be_replaced_on_purpose() {
    let dir = tempdir();
    let path = dir.path().join("f");
    keyfile::write_secret_file(&path, &SecretString::from("one".to_owned())).unwrap();
    let err = keyfile::write_secret_file(&path, &SecretString::from("two".to_owned())).unwrap_err();
    assert_eq!(err.code(), "key_file_io");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\n");
    keyfile::replace_secret_file(&path, &SecretString::from("three".to_owned())).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
    assert_eq!(mode_of(&path), 0o600);
}
