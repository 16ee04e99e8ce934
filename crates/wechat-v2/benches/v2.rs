//! Per-operation costs of the v2 protocol: sign (MD5, HMAC-SHA256), verify, XML encode/decode,
//! and `req_info` decryption, on the V2-NOTIFY-FIXTURE notification (a realistic 18 fields).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use paygate_wechat_v2::refund_notify::{decrypt_req_info, encrypt_req_info};
use paygate_wechat_v2::sign::{ApiKey, SignType, sign, verify};
use paygate_wechat_v2::xml::{self, Fields};

const VECTORS: &str = include_str!("../../../fixtures/wechatpay/test-vectors.json");

fn notify_fields() -> Fields {
    let all: serde_json::Value = serde_json::from_str(VECTORS).unwrap_or_default();
    all["v2_notify_fixture"]["fields"]
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn v2(c: &mut Criterion) {
    let key = ApiKey::new("192006250b4c09247ec02edce69f6a2d");
    let fields = notify_fields();
    assert!(fields.len() > 10, "fixture fields loaded");

    c.bench_function("v2/sign/md5", |b| {
        b.iter(|| sign(black_box(&fields), &key, SignType::Md5))
    });
    c.bench_function("v2/sign/hmac-sha256", |b| {
        b.iter(|| sign(black_box(&fields), &key, SignType::HmacSha256))
    });

    for t in [SignType::Md5, SignType::HmacSha256] {
        let mut signed = fields.clone();
        signed.insert("sign".into(), sign(&fields, &key, t));
        let name = format!("v2/verify/{}", t.as_str().to_ascii_lowercase());
        c.bench_function(&name, |b| b.iter(|| verify(black_box(&signed), &key, t)));
    }

    let mut signed = fields.clone();
    signed.insert("sign".into(), sign(&fields, &key, SignType::Md5));
    let body = xml::encode(&signed);
    c.bench_function("v2/xml/encode", |b| {
        b.iter(|| xml::encode(black_box(&signed)))
    });
    c.bench_function("v2/xml/decode", |b| {
        b.iter(|| xml::decode(black_box(body.as_bytes())))
    });
    c.bench_function("v2/notify/decode+verify", |b| {
        b.iter(|| xml::decode(black_box(body.as_bytes())).map(|f| verify(&f, &key, SignType::Md5)))
    });

    let req_info = encrypt_req_info(&fields, &key);
    c.bench_function("v2/req_info/decrypt", |b| {
        b.iter(|| decrypt_req_info(black_box(&req_info), &key))
    });
}

criterion_group!(benches, v2);
criterion_main!(benches);
