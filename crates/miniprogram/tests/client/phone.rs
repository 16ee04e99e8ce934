//! getuserphonenumber against wiremock, and the "token rejected → refresh once → retry" rule,
//! exercised through it.

use paygate_miniprogram::{MiniProgramError, TokenMode};
use serde_json::json;
use wiremock::matchers::{any, body_json, body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{APPID, app, client, client_for, clock};

fn token(token: &str, force_refresh: bool) -> Mock {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_partial_json(json!({"force_refresh": force_refresh})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": token, "expires_in": 7200})),
        )
}

fn phone(access_token: &str, body: serde_json::Value) -> Mock {
    Mock::given(method("POST"))
        .and(path("/wxa/business/getuserphonenumber"))
        .and(query_param("access_token", access_token))
        .and(body_json(json!({"code": "phone-code"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
}

fn phone_ok(country_code: serde_json::Value, appid: &str) -> serde_json::Value {
    json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            "phoneNumber": "+8613800138000",
            "purePhoneNumber": "13800138000",
            "countryCode": country_code,
            "watermark": {"timestamp": 1637744274, "appid": appid}
        }
    })
}

fn rejected(errcode: i64) -> serde_json::Value {
    json!({"errcode": errcode, "errmsg": "invalid credential, access_token is invalid or not latest"})
}

#[tokio::test]
async fn phone_number_with_numeric_or_string_country_code() {
    for cc in [json!(86), json!("86")] {
        let server = MockServer::start().await;
        token("TOKEN_A", false).expect(1).mount(&server).await;
        phone("TOKEN_A", phone_ok(cc.clone(), APPID))
            .expect(1)
            .mount(&server)
            .await;
        let info = client(&server, &clock())
            .get_user_phone_number(&app(), "phone-code")
            .await
            .unwrap();
        assert_eq!(info.phone_number, "+8613800138000");
        assert_eq!(info.pure_phone_number, "13800138000");
        assert_eq!(info.country_code, "86", "{cc}");
        assert_eq!(info.issued_at, 1637744274);
    }
}

#[tokio::test]
async fn another_apps_watermark_is_refused() {
    let server = MockServer::start().await;
    token("TOKEN_A", false).mount(&server).await;
    phone("TOKEN_A", phone_ok(json!(86), "wx0000000000000000"))
        .mount(&server)
        .await;
    let err = client(&server, &clock())
        .get_user_phone_number(&app(), "phone-code")
        .await
        .unwrap_err();
    assert_eq!(err, MiniProgramError::WatermarkMismatch);
}

#[tokio::test]
async fn phone_errcodes() {
    for (errcode, code) in [
        (40029, "code_invalid"),
        (45011, "upstream_rate_limited"),
        (-1, "upstream_busy"),
    ] {
        let server = MockServer::start().await;
        token("TOKEN_A", false).mount(&server).await;
        phone("TOKEN_A", json!({"errcode": errcode, "errmsg": "x"}))
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server, &clock())
            .get_user_phone_number(&app(), "phone-code")
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{errcode}");
    }
}

#[tokio::test]
async fn empty_phone_code_makes_no_call() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = client(&server, &clock())
        .get_user_phone_number(&app(), "")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
}

#[tokio::test]
async fn a_rejected_token_is_replaced_and_the_call_retried_once() {
    for errcode in [40001, 42001] {
        let server = MockServer::start().await;
        token("TOKEN_A", false)
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        token("TOKEN_B", false).expect(1).mount(&server).await;
        token("FORCED", true).expect(0).mount(&server).await;
        phone("TOKEN_A", rejected(errcode))
            .expect(1)
            .mount(&server)
            .await;
        phone("TOKEN_B", phone_ok(json!("86"), APPID))
            .expect(1)
            .mount(&server)
            .await;
        let client = client(&server, &clock());
        let info = client
            .get_user_phone_number(&app(), "phone-code")
            .await
            .unwrap();
        assert_eq!(info.pure_phone_number, "13800138000");
        // The replacement is cached for the next caller.
        assert_eq!(
            client.access_token(&app()).await.unwrap().expose_secret(),
            "TOKEN_B"
        );
        server.verify().await;
    }
}

#[tokio::test]
async fn stable_token_is_force_refreshed_only_when_it_comes_back_unchanged() {
    let server = MockServer::start().await;
    // The platform keeps handing out the token the API just rejected…
    token("TOKEN_A", false).expect(2).mount(&server).await;
    // …so one forced refresh, and only one.
    token("TOKEN_B", true).expect(1).mount(&server).await;
    phone("TOKEN_A", rejected(40001))
        .expect(1)
        .mount(&server)
        .await;
    phone("TOKEN_B", phone_ok(json!(86), APPID))
        .expect(1)
        .mount(&server)
        .await;
    let info = client(&server, &clock())
        .get_user_phone_number(&app(), "phone-code")
        .await
        .unwrap();
    assert_eq!(info.country_code, "86");
}

#[tokio::test]
async fn a_second_rejection_is_returned_not_looped() {
    let server = MockServer::start().await;
    token("TOKEN_A", false)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    token("TOKEN_B", false).mount(&server).await;
    phone("TOKEN_A", rejected(40001))
        .expect(1)
        .mount(&server)
        .await;
    phone("TOKEN_B", rejected(42001))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server, &clock())
        .get_user_phone_number(&app(), "phone-code")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "access_token_rejected");
    assert!(matches!(
        err,
        MiniProgramError::AccessTokenRejected { errcode: 42001, .. }
    ));
}

#[tokio::test]
async fn classic_mode_replaces_a_rejected_token_without_force_refresh() {
    let server = MockServer::start().await;
    let classic = |t: &str| {
        Mock::given(method("GET"))
            .and(path("/cgi-bin/token"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"access_token": t, "expires_in": 7200})),
            )
    };
    classic("TOKEN_A")
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    classic("TOKEN_B").expect(1).mount(&server).await;
    phone("TOKEN_A", rejected(42001))
        .expect(1)
        .mount(&server)
        .await;
    phone("TOKEN_B", phone_ok(json!(86), APPID))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), &clock(), TokenMode::Classic);
    client
        .get_user_phone_number(&app(), "phone-code")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rejections_share_one_replacement() {
    let server = MockServer::start().await;
    token("TOKEN_A", false)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token("TOKEN_B", false).expect(1).mount(&server).await;
    phone("TOKEN_A", rejected(40001)).mount(&server).await;
    phone("TOKEN_B", phone_ok(json!(86), APPID))
        .mount(&server)
        .await;
    let client = client(&server, &clock());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let client = client.clone();
        tasks.spawn(async move { client.get_user_phone_number(&app(), "phone-code").await });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap().country_code, "86");
    }
    server.verify().await;
}
