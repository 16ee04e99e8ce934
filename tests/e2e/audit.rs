//! Every write leaves an audit entry naming who did what to which target, readable through
//! `GET /admin/v1/audit-log` (newest first, filterable by tenant).

use reqwest::Method;
use serde_json::{Value, json};

use crate::harness::fixtures::{self, random_text};
use crate::harness::{Backend, TestApp, both_backends};

both_backends!(every_write_is_audited);

async fn every_write_is_audited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let me = app.admin.operator_id.clone();

    // Our own request id is kept, so an entry can be tied to the request that caused it.
    let request_id = format!("e2e-{}", random_text(12));
    let tenant = app
        .req(Method::POST, "/admin/v1/tenants")
        .bearer(&admin)
        .header("x-request-id", &request_id)
        .json(&json!({ "name": "audited" }))
        .send()
        .await;
    assert_eq!(tenant.header("x-request-id"), Some(request_id.as_str()));
    let tid = tenant.expect(201)["id"].as_str().expect("id").to_owned();

    app.update_tenant(
        &admin,
        &tid,
        &json!({ "contact_email": "ops@audited.example" }),
    )
    .await
    .expect(200);
    app.suspend_tenant(&admin, &tid).await.expect(200);
    app.resume_tenant(&admin, &tid).await.expect(200);
    let appid = app.new_app(&tid).await;
    let channel = app.new_v3_channel(&tid).await;
    app.add_credentials(
        &admin,
        &tid,
        &channel.id,
        &fixtures::v3_document(&app.new_apiv3_key()),
    )
    .await
    .expect(201);
    app.retire_credentials(&admin, &tid, &channel.id, 1)
        .await
        .expect(200);
    let (key_id, _) = app.new_api_key(&tid).await;
    app.revoke_api_key(&admin, &tid, &key_id).await.expect(200);
    let put = app
        .put_webhook(&admin, &tid, "https://audited.example/hook")
        .await;
    let secret = put.expect(200)["signing_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.issued("webhook secret", &put, &secret);
    let rotated = app.rotate_webhook_secret(&admin, &tid).await;
    let secret = rotated.expect(200)["signing_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    app.issued("rotated webhook secret", &rotated, &secret);
    let viewer = app.new_operator("viewer").await;
    // Refused writes leave no trace.
    app.create_tenant(&viewer.token, &json!({ "name": "refused" }))
        .await
        .expect_error(403, "forbidden");
    app.update_operator(&admin, &viewer.operator_id, &json!({ "role": "admin" }))
        .await
        .expect(200);

    let log = app.audit_log(&admin, "?limit=200").await.expect(200);
    let entries = log["data"].as_array().expect("data");
    let find = |action: &str, target: &str| -> &Value {
        entries
            .iter()
            .find(|e| e["action"] == action && e["target"] == target)
            .unwrap_or_else(|| panic!("no audit entry {action} on {target}: {log}"))
    };
    let tenant_writes = [
        ("tenant.create", tid.as_str()),
        ("tenant.update", tid.as_str()),
        ("tenant.suspend", tid.as_str()),
        ("tenant.resume", tid.as_str()),
        ("app.create", appid.as_str()),
        ("channel.create", channel.id.as_str()),
        ("channel.add_credentials", channel.id.as_str()),
        ("channel.retire_credentials", channel.id.as_str()),
        ("api_key.create", key_id.as_str()),
        ("api_key.revoke", key_id.as_str()),
        ("webhook.put", tid.as_str()),
        ("webhook.rotate_secret", tid.as_str()),
    ];
    for (action, target) in tenant_writes {
        let entry = find(action, target);
        assert_eq!(entry["actor"], me.as_str(), "{entry}");
        assert_eq!(entry["tenant_id"], tid.as_str(), "{entry}");
        assert!(entry["request_id"].is_string(), "{entry}");
        assert!(entry["at"].is_string(), "{entry}");
    }
    assert_eq!(
        find("tenant.create", &tid)["request_id"],
        request_id.as_str()
    );
    for (action, target) in [
        ("operator.create", viewer.operator_id.as_str()),
        ("operator.update", viewer.operator_id.as_str()),
    ] {
        let entry = find(action, target);
        assert_eq!(entry["actor"], me.as_str(), "{entry}");
        assert!(entry["tenant_id"].is_null(), "{entry}");
    }
    // The bootstrap operator was made by the command line.
    assert_eq!(find("operator.create", &me)["actor"], "cli");
    assert!(
        !entries
            .iter()
            .any(|e| e["summary"].to_string().contains("refused")),
        "a refused write was audited: {log}"
    );
    // Newest first.
    let ids: Vec<&str> = entries.iter().filter_map(|e| e["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(ids, sorted);

    let scoped = app
        .audit_log(&admin, &format!("?tenant_id={tid}&limit=200"))
        .await
        .expect(200);
    let scoped = scoped["data"].as_array().expect("data");
    assert_eq!(scoped.len(), tenant_writes.len(), "{scoped:?}");
    assert!(scoped.iter().all(|e| e["tenant_id"] == tid.as_str()));

    app.finish().await;
}
