//! What the hot paths cost: a cached access-token lookup (every wxacode / phone call pays it) and
//! `encryptedData` decryption (the §5.5 vector).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use paygate_core::ManualClock;
use paygate_miniprogram::{
    AppCredentials, MiniProgramClient, MiniProgramConfig, decrypt_encrypted_data,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn cached_token(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = rt.block_on(MockServer::start());
    rt.block_on(
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": "TOKEN", "expires_in": 7200})),
            )
            .expect(1)
            .mount(&server),
    );
    let clock = ManualClock::at_unix(1_554_208_460);
    let config = MiniProgramConfig::new(Arc::new(clock)).with_base_url(server.uri());
    let client = MiniProgramClient::new(config).unwrap();
    let app = AppCredentials::new("wx4f4bc4dec97d474b".parse().unwrap(), "secret");
    rt.block_on(client.access_token(&app)).unwrap();
    c.bench_function("access_token (cached)", |b| {
        b.iter(|| rt.block_on(client.access_token(&app)).unwrap());
    });
}

fn decrypt(c: &mut Criterion) {
    let v: serde_json::Value =
        serde_json::from_str(include_str!("../tests/fixtures/wxa-encrypted-data.json")).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_owned();
    let appid = s("appid").parse().unwrap();
    let key = SecretString::from(s("session_key"));
    let (data, iv) = (s("encrypted_data"), s("iv"));
    c.bench_function("decrypt_encrypted_data (§5.5, 400 bytes)", |b| {
        b.iter(|| decrypt_encrypted_data::<serde_json::Value>(&appid, &key, &data, &iv).unwrap());
    });
}

criterion_group!(benches, cached_token, decrypt);
criterion_main!(benches);
