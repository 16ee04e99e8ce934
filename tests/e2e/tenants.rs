//! Tenant lifecycle as the tenant API sees it (suspend, resume, revoked keys) and keyset
//! pagination of the tenant list.

use std::collections::HashSet;

use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    suspension_and_revocation_reach_the_tenant_api,
    tenants_paginate_without_gaps_or_duplicates,
    bad_page_parameters_are_refused,
    unknown_cursors_are_refused,
);

async fn suspension_and_revocation_reach_the_tenant_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let (key_id, key) = app.new_api_key(&tid).await;
    app.me(&key).await.expect(200);

    let suspended = app.suspend_tenant(&admin, &tid).await.expect(200);
    assert_eq!(suspended["status"], "suspended");
    app.me(&key).await.expect_error(403, "tenant_suspended");
    let filtered = app
        .list_tenants(&admin, "?status=suspended")
        .await
        .expect(200);
    assert_eq!(filtered["data"][0]["id"], tid.as_str(), "{filtered}");

    let resumed = app.resume_tenant(&admin, &tid).await.expect(200);
    assert_eq!(resumed["status"], "active");
    app.me(&key).await.expect(200);

    let revoked = app.revoke_api_key(&admin, &tid, &key_id).await.expect(200);
    assert!(revoked["revoked_at"].is_string(), "{revoked}");
    app.me(&key).await.expect_error(401, "invalid_api_key");

    // Neither a near miss nor a missing header gets in.
    let mut near_miss = key.clone();
    near_miss.push('x');
    app.me(&near_miss)
        .await
        .expect_error(401, "invalid_api_key");
    app.me("pk_not-a-real-key")
        .await
        .expect_error(401, "invalid_api_key");
    app.get("/v1/me").await.expect_error(401, "missing_token");
    // Operator tokens are not API keys.
    app.me(&admin).await.expect_error(401, "invalid_api_key");

    app.suspend_tenant(&admin, "ten_01ARZ3NDEKTSV4RRFFQ69G5FAV")
        .await
        .expect_error(404, "tenant_not_found");

    app.finish().await;
}

async fn tenants_paginate_without_gaps_or_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let mut created = Vec::new();
    for _ in 0..7 {
        created.push(app.new_tenant().await);
    }

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "?limit=3".to_owned();
    loop {
        let page = app.list_tenants(&admin, &query).await.expect(200);
        let data = page["data"].as_array().expect("data");
        sizes.push(data.len());
        seen.extend(
            data.iter()
                .map(|t| t["id"].as_str().expect("id").to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=3&cursor={cursor}"),
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                break;
            }
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, [3, 3, 1]);
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "duplicates: {seen:?}");
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every tenant once, newest first");

    // The default page holds them all; a limit above the maximum is clamped, not refused.
    let all = app.list_tenants(&admin, "").await.expect(200);
    assert_eq!(all["data"].as_array().map(Vec::len), Some(7));
    assert!(all["next_cursor"].is_null());
    let clamped = app.list_tenants(&admin, "?limit=1000").await.expect(200);
    assert_eq!(clamped["data"].as_array().map(Vec::len), Some(7));

    // Search by name.
    let name = app.get_tenant(&admin, &created[2]).await.expect(200)["name"]
        .as_str()
        .expect("name")
        .to_owned();
    let found = app
        .list_tenants(&admin, &format!("?q={}", name.to_uppercase()))
        .await
        .expect(200);
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["data"][0]["id"], created[2].as_str());

    app.finish().await;
}

async fn bad_page_parameters_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    app.new_tenant().await;

    let bad_limit = app
        .list_tenants(&admin, "?limit=many")
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(bad_limit["details"]["field"], "limit", "{bad_limit}");
    let bad_status = app
        .list_tenants(&admin, "?status=deleted")
        .await
        .expect_error(400, "invalid_request");
    assert_eq!(bad_status["details"]["field"], "status", "{bad_status}");

    app.finish().await;
}

async fn unknown_cursors_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    app.new_tenant().await;

    // A cursor paygate never issued is an error, not a silently empty (or full) page.
    for cursor in ["garbage", "ten_zzzz", "op_01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
        let response = app.list_tenants(&admin, &format!("?cursor={cursor}")).await;
        assert!(
            [400, 422].contains(&response.status),
            "cursor {cursor:?} answered {}: {}",
            response.status,
            response.text
        );
        let body = response.expect_error(response.status, "invalid_request");
        assert_eq!(body["details"]["field"], "cursor", "{body}");
    }

    app.finish().await;
}
