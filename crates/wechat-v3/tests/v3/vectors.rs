//! Known-answer vectors of the protocol reference (§5.3, §5.4) at the public-function level.

use crate::common::{key, s};
use paygate_core::VerifyFailure;
use paygate_wechat_v3::aead::{self, AeadError, ApiV3Key};
use paygate_wechat_v3::cert::parse_certificate_pem;
use paygate_wechat_v3::oaep::{self, OaepPrivateKey, OaepPublicKey};
use paygate_wechat_v3::sign::{
    AuthorizationParams, RsaSigner, authorization_header, parse_authorization, signature_message,
};
use paygate_wechat_v3::verify::{RsaVerifier, response_message};
use sha2::{Digest, Sha256};

fn merchant_signer() -> RsaSigner {
    RsaSigner::from_pkcs8_pem(&key("merchant_private_key_pkcs8")).expect("merchant key parses")
}

fn platform_verifier() -> RsaVerifier {
    RsaVerifier::from_public_key_pem(&key("platform_public_key")).expect("platform key parses")
}

#[test]
fn v3_req_get_signature_and_full_header() {
    let message = signature_message(
        "GET",
        "/v3/pay/transactions/out-trade-no/1217752501201407033233368018?mchid=1230000109",
        "1554208460",
        "593BEC0C930BF1AFEB40B4A08C8FB242",
        b"",
    );
    assert_eq!(message, s("v3_req_get", "message").as_bytes());
    let signature = merchant_signer().sign(&message);
    assert_eq!(signature, s("v3_req_get", "signature"));
    let header = authorization_header(&AuthorizationParams {
        mchid: key("mchid"),
        nonce_str: "593BEC0C930BF1AFEB40B4A08C8FB242".into(),
        signature,
        timestamp: "1554208460".into(),
        serial_no: key("merchant_serial"),
    });
    assert_eq!(header, s("v3_req_get", "authorization"));
}

#[test]
fn v3_req_post_signature() {
    let v = "v3_req_post";
    let message = signature_message(
        &s(v, "method"),
        &s(v, "url"),
        &s(v, "timestamp"),
        &s(v, "nonce"),
        s(v, "body").as_bytes(),
    );
    assert_eq!(
        hex::encode(Sha256::digest(&message)),
        s(v, "message_sha256")
    );
    assert_eq!(merchant_signer().sign(&message), s(v, "signature"));
    // And the merchant public key accepts it (what the simulator does).
    let merchant_pub =
        RsaVerifier::from_public_key_pem(&key("merchant_public_key")).expect("parses");
    assert_eq!(merchant_pub.verify(&message, &s(v, "signature")), Ok(()));
}

#[test]
fn authorization_parses_in_any_order() {
    let parsed = parse_authorization(&s("v3_req_get", "authorization")).expect("parses");
    assert_eq!(parsed.mchid, "1230000109");
    assert_eq!(parsed.serial_no, key("merchant_serial"));
    assert_eq!(parsed.signature, s("v3_req_get", "signature"));
    assert_eq!(parsed.timestamp_seconds(), Some(1_554_208_460));
    let shuffled = format!(
        "WECHATPAY2-SHA256-RSA2048 serial_no=\"{}\",timestamp=\"1554208460\",signature=\"{}\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",mchid=\"1230000109\"",
        key("merchant_serial"),
        s("v3_req_get", "signature")
    );
    assert_eq!(parse_authorization(&shuffled), Ok(parsed));
}

#[test]
fn authorization_rejects_bad_headers() {
    assert!(parse_authorization("Bearer abc").is_err());
    assert!(
        parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=\"1\"").is_err(),
        "missing params"
    );
    assert!(
        parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=1").is_err(),
        "unquoted"
    );
    let dup = "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",mchid=\"2\",nonce_str=\"n\",signature=\"s\",timestamp=\"1\",serial_no=\"S\"";
    assert!(parse_authorization(dup).is_err(), "duplicate");
}

#[test]
fn v3_resp_body_and_empty_body() {
    let v = "v3_resp";
    let verifier = platform_verifier();
    let msg = response_message(&s(v, "timestamp"), &s(v, "nonce"), s(v, "body").as_bytes());
    assert_eq!(verifier.verify(&msg, &s(v, "signature")), Ok(()));
    let empty = response_message(&s(v, "timestamp"), &s(v, "nonce"), b"");
    assert_eq!(
        empty,
        format!("{}\n{}\n\n", s(v, "timestamp"), s(v, "nonce")).as_bytes()
    );
    assert_eq!(
        verifier.verify(&empty, &s(v, "signature_for_empty_body")),
        Ok(())
    );
    // Swapped: each signature only fits its own message.
    assert_eq!(
        verifier.verify(&empty, &s(v, "signature")),
        Err(VerifyFailure::BadSignature)
    );
}

#[test]
fn verification_negatives() {
    let v = "v3_resp";
    let verifier = platform_verifier();
    let mut body = s(v, "body").into_bytes();
    body[5] ^= 1;
    let tampered = response_message(&s(v, "timestamp"), &s(v, "nonce"), &body);
    assert_eq!(
        verifier.verify(&tampered, &s(v, "signature")),
        Err(VerifyFailure::BadSignature)
    );
    let msg = response_message(&s(v, "timestamp"), &s(v, "nonce"), s(v, "body").as_bytes());
    let merchant_pub =
        RsaVerifier::from_public_key_pem(&key("merchant_public_key")).expect("parses");
    assert_eq!(
        merchant_pub.verify(&msg, &s(v, "signature")),
        Err(VerifyFailure::BadSignature),
        "wrong key"
    );
    assert_eq!(
        verifier.verify(&msg, "WECHATPAY/SIGNTEST/abc=="),
        Err(VerifyFailure::Probe)
    );
    assert_eq!(
        verifier.verify(&msg, "WECHATPAY/SIGNTEST/"),
        Err(VerifyFailure::Probe)
    );
    assert_eq!(
        verifier.verify(&msg, "!!not base64!!"),
        Err(VerifyFailure::BadSignature)
    );
    assert_eq!(verifier.verify(&msg, ""), Err(VerifyFailure::Missing));
}

#[test]
fn v3_notify_go_signature_with_its_certificate() {
    let v = "v3_notify_go_aes128";
    let verifier = RsaVerifier::from_certificate_pem(&s(v, "platform_cert_pem")).expect("cert");
    let msg = response_message(&s(v, "timestamp"), &s(v, "nonce"), s(v, "body").as_bytes());
    assert_eq!(verifier.verify(&msg, &s(v, "signature")), Ok(()));
    let info = parse_certificate_pem(&s(v, "platform_cert_pem")).expect("cert");
    assert_eq!(
        info.serial,
        s(v, "serial"),
        "leading 0x00 of the DER integer is dropped"
    );
}

#[test]
fn v3_notify_go_sixteen_byte_key_is_refused() {
    let v = "v3_notify_go_aes128";
    assert_eq!(
        ApiV3Key::new(s(v, "apiv3_key").as_bytes()).err(),
        Some(AeadError::KeyLength(16))
    );
}

#[test]
fn v3_aesgcm_java() {
    let v = "v3_aesgcm_java";
    let k = ApiV3Key::new(s(v, "key").as_bytes()).expect("32 bytes");
    let plain = aead::decrypt(
        &k,
        s(v, "nonce").as_bytes(),
        s(v, "aad").as_bytes(),
        &s(v, "ciphertext"),
    );
    assert_eq!(plain.as_deref(), Ok(s(v, "plaintext").as_bytes()));
    // encrypt is the exact inverse (GCM is deterministic for a given nonce).
    let sealed = aead::encrypt(
        &k,
        s(v, "nonce").as_bytes(),
        s(v, "aad").as_bytes(),
        b"message",
    );
    assert_eq!(sealed, Ok(s(v, "ciphertext")));
}

#[test]
fn aesgcm_negatives() {
    let v = "v3_aesgcm_java";
    let k = ApiV3Key::new(s(v, "key").as_bytes()).expect("32 bytes");
    let nonce = s(v, "nonce");
    let mut raw = base64_decode(&s(v, "ciphertext"));
    let last = raw.len() - 1;
    raw[last] ^= 1; // the tag
    let bad_tag = base64_encode(&raw);
    assert_eq!(
        aead::decrypt(&k, nonce.as_bytes(), b"associatedData", &bad_tag),
        Err(AeadError::Authentication)
    );
    assert_eq!(
        aead::decrypt(&k, nonce.as_bytes(), b"otherData", &s(v, "ciphertext")),
        Err(AeadError::Authentication),
        "wrong associated data"
    );
    let other = ApiV3Key::new(key("apiv3_key").as_bytes()).expect("32 bytes");
    assert_eq!(
        aead::decrypt(
            &other,
            nonce.as_bytes(),
            b"associatedData",
            &s(v, "ciphertext")
        ),
        Err(AeadError::Authentication),
        "wrong key"
    );
    assert_eq!(
        aead::decrypt(&k, b"short", b"", &s(v, "ciphertext")),
        Err(AeadError::NonceLength(5))
    );
    assert_eq!(
        aead::decrypt(&k, nonce.as_bytes(), b"", "%%%"),
        Err(AeadError::Base64)
    );
    assert_eq!(
        aead::decrypt(&k, nonce.as_bytes(), b"", "AAAA"),
        Err(AeadError::Authentication),
        "shorter than a tag"
    );
}

#[test]
fn v3_certs_java_decrypts_to_the_pinned_certificate() {
    let v = "v3_certs_java";
    let k = ApiV3Key::new(s(v, "key").as_bytes()).expect("32 bytes");
    let pem = aead::decrypt(
        &k,
        s(v, "nonce").as_bytes(),
        s(v, "aad").as_bytes(),
        &s(v, "ciphertext"),
    )
    .expect("decrypts");
    assert_eq!(pem.len(), 1475);
    assert_eq!(hex::encode(Sha256::digest(&pem)), s(v, "expect_pem_sha256"));
    let info = parse_certificate_pem(std::str::from_utf8(&pem).expect("utf-8")).expect("parses");
    assert_eq!(info.serial, s(v, "expect_serial"));
    assert_eq!(
        info.not_after.unix_timestamp(),
        1_852_816_558,
        "2028-09-17T15:15:58Z"
    );
}

#[test]
fn fixture_certificates_have_the_documented_serials() {
    let merchant = parse_certificate_pem(&key("merchant_cert_pem")).expect("parses");
    assert_eq!(merchant.serial, key("merchant_serial"));
    assert_eq!(
        merchant.rsa_public_key_der,
        merchant_signer().public_key_pkcs1_der()
    );
    let platform = parse_certificate_pem(&key("platform_cert_pem")).expect("parses");
    assert_eq!(platform.serial, key("platform_serial"));
}

#[test]
fn oaep_decryption_vector_and_round_trip() {
    let private = OaepPrivateKey::from_pem(&key("merchant_private_key_pkcs8")).expect("parses");
    let plain = oaep::decrypt(&private, &s("v3_oaep_decrypt", "ciphertext"));
    assert_eq!(plain.as_deref(), Ok("张三".as_bytes()));
    let public = OaepPublicKey::from_certificate_pem(&key("merchant_cert_pem")).expect("parses");
    let sealed = oaep::encrypt(&public, "李四".as_bytes()).expect("encrypts");
    assert_eq!(
        oaep::decrypt(&private, &sealed).as_deref(),
        Ok("李四".as_bytes())
    );
    let platform_private =
        OaepPrivateKey::from_pem(&key("platform_private_key_pkcs8")).expect("parses");
    assert!(
        oaep::decrypt(&platform_private, &sealed).is_err(),
        "wrong key"
    );
    assert!(oaep::encrypt(&public, &[0u8; 300]).is_err(), "too long");
}

#[test]
fn key_parsing_errors_are_typed() {
    assert!(RsaSigner::from_pkcs8_pem("not a pem").is_err());
    assert!(
        RsaSigner::from_pkcs8_pem(&key("platform_public_key")).is_err(),
        "a public key"
    );
    assert!(RsaVerifier::from_public_key_pem(&key("merchant_private_key_pkcs8")).is_err());
    assert!(RsaVerifier::from_certificate_pem(&key("platform_public_key")).is_err());
    let debug = format!("{:?}", merchant_signer());
    assert!(!debug.contains("MII"), "{debug}");
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

proptest::proptest! {
    #[test]
    fn authorization_header_round_trips(
        mchid in "[0-9]{1,32}",
        nonce in "[0-9A-Za-z]{1,32}",
        signature in "[A-Za-z0-9+/]{0,400}={0,2}",
        timestamp in "[0-9]{1,12}",
        serial in "[0-9A-F]{1,40}",
    ) {
        let p = AuthorizationParams { mchid, nonce_str: nonce, signature, timestamp, serial_no: serial };
        proptest::prop_assert_eq!(parse_authorization(&authorization_header(&p)), Ok(p));
    }
}
