//! Per-operation costs of the v3 protocol crypto: request signing (SHA256-with-RSA-2048, the
//! hottest CPU cost of a payment), response/notification verification and AES-256-GCM
//! decryption of a notification resource. Inputs are the reference's known-answer vectors.
#![expect(
    clippy::expect_used,
    reason = "a bench aborts when a fixture does not parse"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use paygate_wechat_v3::aead::{self, ApiV3Key};
use paygate_wechat_v3::sign::{RsaSigner, signature_message};
use paygate_wechat_v3::verify::{RsaVerifier, response_message};
use serde_json::Value;

const VECTORS: &str = include_str!("../../../fixtures/wechatpay/test-vectors.json");

fn field<'a>(v: &'a Value, section: &str, name: &str) -> &'a str {
    v[section][name].as_str().expect("fixture field")
}

fn bench(c: &mut Criterion) {
    let v: Value = serde_json::from_str(VECTORS).expect("vectors");
    let signer = RsaSigner::from_pkcs8_pem(field(&v, "fixture_keys", "merchant_private_key_pkcs8"))
        .expect("merchant key");
    let post = "v3_req_post";
    let message = signature_message(
        field(&v, post, "method"),
        field(&v, post, "url"),
        field(&v, post, "timestamp"),
        field(&v, post, "nonce"),
        field(&v, post, "body").as_bytes(),
    );
    c.bench_function("v3_sign_request", |b| {
        b.iter(|| signer.sign(black_box(&message)))
    });

    let verifier =
        RsaVerifier::from_public_key_pem(field(&v, "fixture_keys", "platform_public_key"))
            .expect("platform key");
    let n = "v3_notify_pubkey";
    let body = field(&v, n, "body");
    let signed = response_message(
        field(&v, n, "timestamp"),
        field(&v, n, "nonce"),
        body.as_bytes(),
    );
    let signature = field(&v, n, "signature");
    c.bench_function("v3_verify_notification", |b| {
        b.iter(|| verifier.verify(black_box(&signed), black_box(signature)))
    });

    let envelope: Value = serde_json::from_str(body).expect("envelope");
    let resource = &envelope["resource"];
    let key = ApiV3Key::new(field(&v, "fixture_keys", "apiv3_key").as_bytes()).expect("apiv3 key");
    let nonce = resource["nonce"].as_str().expect("nonce");
    let aad = resource["associated_data"].as_str().expect("aad");
    let ciphertext = resource["ciphertext"].as_str().expect("ciphertext");
    c.bench_function("v3_aesgcm_decrypt_resource", |b| {
        b.iter(|| {
            aead::decrypt(
                &key,
                nonce.as_bytes(),
                aad.as_bytes(),
                black_box(ciphertext),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
