//! Secrets never leak: after registering every kind of secret paygate accepts, every read
//! endpoint (and every error) is exercised; [`TestApp::finish`] then proves that no response
//! except the one that issued a secret, and no log line, contains any of them.

use serde_json::json;

use crate::harness::fixtures::{random_appid, random_text};
use crate::harness::{Backend, TestApp, both_backends};

both_backends!(no_secret_is_ever_shown_again);

async fn no_secret_is_ever_shown_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let viewer = app.new_operator("viewer").await;
    let tid = app.new_tenant().await;
    let appid = random_appid();
    let secret = random_text(32);
    app.secret("app secret", &secret);
    app.create_app(
        &admin,
        &tid,
        &json!({ "appid": appid, "name": "a", "secret": secret }),
    )
    .await
    .expect(201);
    let v2 = app.new_v2_channel(&tid, &appid).await;
    let v3 = app.new_v3_channel(&tid).await;
    let (_, key) = app.new_api_key(&tid).await;
    let put = app
        .put_webhook(&admin, &tid, "https://m.example.com/hook")
        .await;
    let hook_secret = put.expect(200)["signing_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.issued("webhook secret", &put, &hook_secret);

    // Secrets sent where they do not belong are not echoed in the error either.
    let misplaced = random_text(32);
    app.secret("misplaced secret", &misplaced);
    app.create_tenant(&admin, &json!({ "name": { "nested": misplaced } }))
        .await
        .expect_error(422, "invalid_request");
    app.create_operator(
        &admin,
        &json!({ "username": "u-misplaced", "password": misplaced, "role": misplaced }),
    )
    .await
    .expect_error(422, "invalid_request");
    app.login(&viewer.username, &misplaced)
        .await
        .expect_error(401, "invalid_credentials");

    // Read everything, as both roles.
    for token in [&admin, &viewer.token] {
        app.get_tenant(token, &tid).await.expect(200);
        app.list_tenants(token, "").await.expect(200);
        app.list_apps(token, &tid).await.expect(200);
        app.list_channels(token, &tid).await.expect(200);
        app.get_channel(token, &tid, &v2.id).await.expect(200);
        app.get_channel(token, &tid, &v3.id).await.expect(200);
        app.list_api_keys(token, &tid).await.expect(200);
        app.get_webhook(token, &tid).await.expect(200);
        app.audit_log(token, "?limit=200").await.expect(200);
        app.list_operators(token).await.expect(200);
    }
    app.me(&key).await.expect(200);
    app.get("/openapi.json").await.expect(200);
    app.get("/metrics").await;

    app.finish().await;
}
