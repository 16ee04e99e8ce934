//! Mini-program sessions over time: a login code works once, codes of nobody or of another
//! app are refused, a session ends after two hours, and a prepay past its validity is renewed
//! (a new package) instead of handing the user a dead one. A session's order list holds its
//! own orders only, in full pages.

use paygate_core::Clock;
use serde_json::json;

use crate::harness::Backend;
use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::pay_flow::order_body;

both_backends!(
    login_codes_and_session_expiry,
    prepay_renewed_after_expiry,
    a_session_pages_its_own_orders,
);

async fn login_codes_and_session_expiry(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let openid = app.sim_user(&a.appid).await;
    let code = app.login_code(&a.appid, &openid).await;
    let first = app.create_session(&a.appid, &code).await;
    let body = first.expect(201);
    let token = body["session_token"].as_str().unwrap().to_owned();
    app.issued("session token", &first, &token);
    assert_eq!(body["openid"], openid.as_str());
    assert!(body["expires_at"].is_string(), "{}", first.text);

    // The code is spent; a made-up one never existed.
    app.create_session(&a.appid, &code)
        .await
        .expect_error(422, "invalid_login_code");
    app.create_session(&a.appid, "0123456789abcdef0123456789abcdef")
        .await
        .expect_error(422, "invalid_login_code");
    // An app nobody registered; bodies that are not a code.
    app.create_session("wx0000000000000000", &code)
        .await
        .expect_error(404, "app_not_found");
    let response = app
        .req(
            reqwest::Method::POST,
            &format!("/v1/apps/{}/sessions", a.appid),
        )
        .json(&json!({ "code": 42 }))
        .send()
        .await;
    assert!([400, 422].contains(&response.status), "{}", response.text);
    let response = app
        .req(
            reqwest::Method::POST,
            &format!("/v1/apps/{}/sessions", a.appid),
        )
        .json(&json!({}))
        .send()
        .await;
    assert!([400, 422].contains(&response.status), "{}", response.text);

    // The session works, then ends after two hours.
    app.orders(&token, "").await.expect(200);
    app.clock
        .advance(time::Duration::hours(2) + time::Duration::seconds(1));
    let expired = app.orders(&token, "").await;
    assert_eq!(expired.status, 401, "{}", expired.text);
    // An operator token is not a session, nor the other way round.
    app.orders(&app.admin.token, "")
        .await
        .expect_error(401, "invalid_token");
    app.finish().await;
}

async fn prepay_renewed_after_expiry(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    for kind in [Kind::V2, Kind::V3] {
        let user = app.user(&a).await;
        let mut body = order_body(&a, kind, 640);
        let expires_at = app.clock.now() + time::Duration::days(1);
        body["expires_at"] = json!(
            expires_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        );
        let order = app.create_order(&a.api_key, &body).await.expect(201);
        let id = order["id"].as_str().unwrap();
        let old = app.pay_jsapi(&user, id).await;

        // Both clocks move past the prepay's two hours (and the session's).
        app.advance_both(time::Duration::hours(2) + time::Duration::minutes(1))
            .await;
        let refused = app
            .request_payment(&a.appid, &user.openid, &old, "success")
            .await;
        assert_eq!(refused.status, 400, "a dead prepay: {}", refused.text);

        let code = app.login_code(&a.appid, &user.openid).await;
        let login = app.create_session(&a.appid, &code).await;
        let token = login.expect(201)["session_token"]
            .as_str()
            .unwrap()
            .to_owned();
        app.issued("session token", &login, &token);
        let renewed = app.pay(&token, id, "jsapi").await.expect(200);
        let rp = &renewed["request_payment"];
        assert_ne!(rp["package"], old["package"], "a new prepay");
        app.request_payment(&a.appid, &user.openid, rp, "success")
            .await
            .expect(200);
        app.deliver().await;
        assert_eq!(app.order_of(&a, id).await["state"], "PAID");
    }
    app.finish().await;
}

async fn a_session_pages_its_own_orders(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let someone = app.sim_user(&a.appid).await;
    // The user's 5 orders among 20 others: unbound ones and someone else's, interleaved.
    let mut mine = Vec::new();
    for n in 0..25 {
        let mut body = order_body(&a, Kind::V3, 100 + n);
        match n % 5 {
            0 => body["payer_openid"] = json!(user.openid),
            1 | 2 => body["payer_openid"] = json!(someone),
            _ => {}
        }
        let order = app.create_order(&a.api_key, &body).await.expect(201);
        if n % 5 == 0 {
            mine.push(order["id"].as_str().unwrap().to_owned());
        }
    }
    // Newest first: ids are time-ordered.
    mine.sort_unstable_by(|x, y| y.cmp(x));

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = app.orders(&user.token, &query).await.expect(200);
        let data = page["data"].as_array().unwrap();
        sizes.push(data.len());
        for order in data {
            assert_eq!(order["payer_openid"], user.openid.as_str(), "{order}");
            seen.push(order["id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, mine);
    // A page that takes the last order has no cursor to an empty page.
    let all = app.orders(&user.token, "?limit=5").await.expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 5);
    assert!(all["next_cursor"].is_null(), "{all}");
    // The API key still lists every order.
    let every = app.orders(&a.api_key, "?limit=200").await.expect(200);
    assert!(every["data"].as_array().unwrap().len() >= 25);
    app.finish().await;
}
