//! Onboarding a merchant from nothing: tenant, mini-program app, a v2 and a v3 channel with
//! real (fixture) keys, an API key that then works on the tenant API, and a webhook endpoint
//! whose secret is shown only when it is created or rotated.

use serde_json::json;

use crate::harness::fixtures::{self, random_appid, random_text};
use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    onboarding_end_to_end,
    appid_is_unique_platform_wide,
    same_tenant_reregistering_an_appid_is_appid_taken
);

async fn onboarding_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();

    let tenant = app
        .create_tenant(
            &admin,
            &json!({ "name": "  Acme Coffee  ", "contact_email": "ops@acme.example" }),
        )
        .await
        .expect(201);
    let tid = tenant["id"].as_str().expect("id").to_owned();
    assert!(tid.starts_with("ten_"), "{tenant}");
    assert_eq!(tenant["name"], "Acme Coffee", "names are trimmed");
    assert_eq!(tenant["status"], "active");
    assert_eq!(tenant["contact_email"], "ops@acme.example");
    assert_eq!(tenant["default_channel_id"], serde_json::Value::Null);
    assert_eq!(app.get_tenant(&admin, &tid).await.expect(200), tenant);

    // A mini-program app: its secret goes in and never comes back.
    let appid = random_appid();
    let app_secret = random_text(32);
    app.secret("app secret", &app_secret);
    let created = app
        .create_app(
            &admin,
            &tid,
            &json!({ "appid": appid, "name": "Acme mini-program", "secret": app_secret }),
        )
        .await
        .expect(201);
    assert_eq!(created["appid"], appid.as_str());
    assert_eq!(created["tenant_id"], tid.as_str());
    assert!(created.get("secret").is_none(), "{created}");
    let apps = app.list_apps(&admin, &tid).await.expect(200);
    assert_eq!(apps["data"].as_array().map(Vec::len), Some(1), "{apps}");
    assert_eq!(apps["data"][0]["appid"], appid.as_str());

    // A v2 channel bound to that app.
    let v2 = app.new_v2_channel(&tid, &appid).await;
    assert!(v2.id.starts_with("ch_"), "{}", v2.body);
    assert_eq!(v2.body["kind"], "wechat-v2");
    assert_eq!(v2.body["mch_id"], fixtures::V2_MCH_ID);
    assert_eq!(v2.body["status"], "active");
    assert_eq!(v2.body["current_version"], 1);
    let versions = v2.body["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 1, "{}", v2.body);
    assert_eq!(versions[0]["version"], 1);
    assert_eq!(versions[0]["current"], true);
    assert_eq!(versions[0]["appid"], appid.as_str());
    assert!(v2.body.get("credentials").is_none(), "{}", v2.body);

    // A v3 channel: the serial shown is the one inside the merchant certificate.
    let v3 = app.new_v3_channel(&tid).await;
    let keys = fixtures::v3_keys();
    assert_eq!(v3.body["kind"], "wechat-v3");
    assert_eq!(v3.body["mch_id"], keys.mchid.as_str());
    let version = &v3.body["versions"][0];
    assert_eq!(
        version["merchant_serial"],
        keys.merchant_serial.as_str(),
        "{}",
        v3.body
    );
    let not_after = version["certificate_not_after"]
        .as_str()
        .expect("not_after");
    assert!(
        time::OffsetDateTime::parse(not_after, &time::format_description::well_known::Rfc3339)
            .is_ok_and(|t| t > time::OffsetDateTime::now_utc()),
        "{not_after}"
    );
    let fetched = app.get_channel(&admin, &tid, &v3.id).await.expect(200);
    assert_eq!(fetched, v3.body);
    let channels = app.list_channels(&admin, &tid).await.expect(200);
    let ids: Vec<&str> = channels["data"]
        .as_array()
        .expect("data")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, [v3.id.as_str(), v2.id.as_str()], "newest first");

    // An API key: the secret is in the creation response only, and works on /v1/me.
    let (key_id, key_secret) = app.new_api_key(&tid).await;
    assert!(key_secret.starts_with("pk_"), "API keys look like pk_…");
    let me = app.me(&key_secret).await.expect(200);
    assert_eq!(me["tenant_id"], tid.as_str());
    assert_eq!(me["key_id"], key_id.as_str());
    let mut scopes: Vec<&str> = me["scopes"]
        .as_array()
        .expect("scopes")
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    scopes.sort_unstable();
    assert_eq!(scopes, ["orders:write", "read", "refunds:write"]);
    let listed = app.list_api_keys(&admin, &tid).await.expect(200);
    assert_eq!(listed["data"][0]["id"], key_id.as_str());
    assert!(
        key_secret.starts_with(listed["data"][0]["prefix"].as_str().expect("prefix")),
        "the prefix is the start of the secret: {listed}"
    );

    // The webhook endpoint: the signing secret shows on creation and on rotation only.
    let hook_url = "https://merchant.example.com/paygate/webhook";
    app.get_webhook(&admin, &tid)
        .await
        .expect_error(404, "webhook_not_found");
    let put = app.put_webhook(&admin, &tid, hook_url).await;
    let body = put.expect(200);
    assert_eq!(body["url"], hook_url);
    assert_eq!(body["paused"], false);
    let first_secret = body["signing_secret"]
        .as_str()
        .expect("signing secret")
        .to_owned();
    app.issued("webhook secret", &put, &first_secret);
    let read = app.get_webhook(&admin, &tid).await.expect(200);
    assert!(read.get("signing_secret").is_none(), "{read}");
    assert_eq!(read["url"], hook_url);

    let rotated = app.rotate_webhook_secret(&admin, &tid).await;
    let second_secret = rotated.expect(200)["signing_secret"]
        .as_str()
        .expect("rotated secret")
        .to_owned();
    app.issued("rotated webhook secret", &rotated, &second_secret);
    assert_ne!(first_secret, second_secret);

    let moved = app
        .put_webhook(&admin, &tid, "https://merchant.example.com/v2/webhook")
        .await
        .expect(200);
    assert!(
        moved.get("signing_secret").is_none(),
        "only the first PUT shows it: {moved}"
    );
    app.put_webhook(&admin, &tid, "http://merchant.example.com/hook")
        .await
        .expect_error(422, "invalid_request");

    app.finish().await;
}

async fn appid_is_unique_platform_wide(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let first = app.new_tenant().await;
    let second = app.new_tenant().await;
    let appid = app.new_app(&first).await;

    let secret = random_text(32);
    app.secret("second app secret", &secret);
    let body = json!({ "appid": appid, "name": "copy", "secret": secret });
    app.create_app(&admin, &second, &body)
        .await
        .expect_error(409, "appid_taken");
    let apps = app.list_apps(&admin, &second).await.expect(200);
    assert_eq!(
        apps["data"],
        json!([]),
        "nothing stored for the second tenant"
    );

    app.finish().await;
}

async fn same_tenant_reregistering_an_appid_is_appid_taken(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let tid = app.new_tenant().await;
    let appid = app.new_app(&tid).await;
    let secret = random_text(32);
    app.secret("second app secret", &secret);
    let body = json!({ "appid": appid, "name": "again", "secret": secret });
    app.create_app(&app.admin.token, &tid, &body)
        .await
        .expect_error(409, "appid_taken");
    let apps = app.list_apps(&app.admin.token, &tid).await.expect(200);
    assert_eq!(apps["data"].as_array().map(Vec::len), Some(1), "{apps}");

    app.finish().await;
}
