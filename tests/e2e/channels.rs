//! Channels after onboarding: one tenant's channel is invisible to another, duplicates are
//! refused, and renaming, disabling and the tenant's default channel behave as documented.

use serde_json::json;

use crate::harness::fixtures;
use crate::harness::{Backend, TestApp, both_backends};

both_backends!(channels_belong_to_one_tenant, channel_lifecycle_and_default);

async fn channels_belong_to_one_tenant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let owner = app.new_tenant().await;
    let other = app.new_tenant().await;
    let channel = app.new_v3_channel(&owner).await;

    app.get_channel(&admin, &other, &channel.id)
        .await
        .expect_error(404, "channel_not_found");
    let document = fixtures::v3_document(&app.new_apiv3_key());
    app.add_credentials(&admin, &other, &channel.id, &document)
        .await
        .expect_error(404, "channel_not_found");
    app.update_channel(&admin, &other, &channel.id, &json!({ "name": "stolen" }))
        .await
        .expect_error(404, "channel_not_found");
    let borrowed = app
        .update_tenant(&admin, &other, &json!({ "default_channel_id": channel.id }))
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(
        borrowed["details"]["field"], "default_channel_id",
        "{borrowed}"
    );

    // One channel per kind and merchant number within a tenant; other tenants may have theirs.
    let duplicate = json!({
        "kind": "wechat-v3",
        "mch_id": fixtures::v3_keys().mchid,
        "credentials": document,
    });
    app.create_channel(&admin, &owner, &duplicate)
        .await
        .expect_error(409, "channel_exists");
    let listed = app.list_channels(&admin, &owner).await.expect(200);
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1), "{listed}");
    app.create_channel(&admin, &other, &duplicate)
        .await
        .expect(201);

    app.finish().await;
}

async fn channel_lifecycle_and_default(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let channel = app.new_v3_channel(&tid).await;
    let cid = channel.id.as_str();

    let tenant = app
        .update_tenant(&admin, &tid, &json!({ "default_channel_id": cid }))
        .await
        .expect(200);
    assert_eq!(tenant["default_channel_id"], cid);

    let renamed = app
        .update_channel(&admin, &tid, cid, &json!({ "name": "Main store" }))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "Main store");
    assert_eq!(renamed["versions"], channel.body["versions"], "{renamed}");
    app.update_channel(&admin, &tid, cid, &json!({ "status": "archived" }))
        .await
        .expect_error(422, "invalid_request");

    // Deleting disables (orders keep pointing at channels) and stops it being the default.
    let deleted = app.delete_channel(&admin, &tid, cid).await.expect(200);
    assert_eq!(deleted["status"], "disabled", "{deleted}");
    let tenant = app.get_tenant(&admin, &tid).await.expect(200);
    assert!(tenant["default_channel_id"].is_null(), "{tenant}");
    let listed = app.list_channels(&admin, &tid).await.expect(200);
    assert_eq!(listed["data"][0]["status"], "disabled", "{listed}");

    let enabled = app
        .update_channel(&admin, &tid, cid, &json!({ "status": "active" }))
        .await
        .expect(200);
    assert_eq!(enabled["status"], "active");

    // `null` clears the default; an absent field leaves it.
    app.update_tenant(&admin, &tid, &json!({ "default_channel_id": cid }))
        .await
        .expect(200);
    let kept = app
        .update_tenant(&admin, &tid, &json!({ "name": "renamed" }))
        .await
        .expect(200);
    assert_eq!(kept["default_channel_id"], cid);
    let cleared = app
        .update_tenant(&admin, &tid, &json!({ "default_channel_id": null }))
        .await
        .expect(200);
    assert!(cleared["default_channel_id"].is_null(), "{cleared}");

    app.finish().await;
}
