//! Access tokens against wiremock: caching, single flight, refresh ahead and expiry on a
//! `ManualClock` (no sleeping), classic mode, and errors that are not cached.

use paygate_miniprogram::{AppCredentials, MiniProgramError, TokenMode};
use serde_json::json;
use time::Duration;
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

use crate::{APPID, SECRET, app, client, client_for, clock};

/// A normal (not forced) stable_token call with exactly the documented body.
fn stable_token_request() -> MockBuilder {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(body_json(json!({
            "grant_type": "client_credential",
            "appid": APPID,
            "secret": SECRET,
            "force_refresh": false,
        })))
}

fn stable_token(token: &str, expires_in: i64) -> Mock {
    stable_token_request().respond_with(
        ResponseTemplate::new(200)
            .set_body_json(json!({"access_token": token, "expires_in": expires_in})),
    )
}

fn stable_error(errcode: i64) -> Mock {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"errcode": errcode, "errmsg": "nope"})),
        )
}

#[tokio::test]
async fn a_token_is_fetched_once_and_cached() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 7200).expect(1).mount(&server).await;
    let client = client(&server, &clock());
    for _ in 0..5 {
        assert_eq!(
            client.access_token(&app()).await.unwrap().expose_secret(),
            "TOKEN_A"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_concurrent_callers_cause_one_upstream_call() {
    let server = MockServer::start().await;
    // The delay keeps the first fetch in flight while the other 99 arrive.
    stable_token_request()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "TOKEN_A", "expires_in": 7200}))
                .set_delay(std::time::Duration::from_millis(300)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, &clock());
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let client = client.clone();
        tasks.spawn(async move {
            client
                .access_token(&app())
                .await
                .map(|t| t.expose_secret().to_owned())
        });
    }
    let mut n = 0;
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap().unwrap(), "TOKEN_A");
        n += 1;
    }
    assert_eq!(n, 100);
    server.verify().await;
}

#[tokio::test]
async fn refreshes_when_less_than_five_minutes_remain() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 7200)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    stable_token("TOKEN_B", 7200).expect(1).mount(&server).await;
    let clock = clock();
    let client = client(&server, &clock);
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // 301 s left: still the cached token, no call.
    clock.advance(Duration::seconds(7200 - 301));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // 299 s left: refresh ahead.
    clock.advance(Duration::seconds(2));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_B"
    );
    clock.advance(Duration::seconds(60));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_B"
    );
}

#[tokio::test]
async fn a_failed_refresh_ahead_keeps_the_valid_token_until_it_expires() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 7200)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    stable_error(-1).expect(3).mount(&server).await;
    let clock = clock();
    let client = client(&server, &clock);
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    clock.advance(Duration::seconds(7200 - 200));
    // Refresh fails (call 2): the still-valid token is served.
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // Within the 30 s back-off: no call.
    clock.advance(Duration::seconds(10));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // After it: another try (call 3), still failing, still served.
    clock.advance(Duration::seconds(30));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // Expired: the failure surfaces (call 4).
    clock.advance(Duration::seconds(200));
    let err = client.access_token(&app()).await.unwrap_err();
    assert_eq!(
        err,
        MiniProgramError::Busy {
            message: "nope".into()
        }
    );
}

#[tokio::test]
async fn an_expired_token_is_never_served() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 600)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    stable_token("TOKEN_B", 600).mount(&server).await;
    let clock = clock();
    let client = client(&server, &clock);
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    // A short lifetime refreshes half-way, not every call within the last 5 minutes.
    clock.advance(Duration::seconds(299));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    clock.advance(Duration::seconds(700));
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_B"
    );
}

#[tokio::test]
async fn classic_mode_uses_get_token() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/cgi-bin/token"))
        .and(query_param("grant_type", "client_credential"))
        .and(query_param("appid", APPID))
        .and(query_param("secret", SECRET))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "CLASSIC", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_for(&server.uri(), &clock(), TokenMode::Classic);
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "CLASSIC"
    );
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "CLASSIC"
    );
}

#[tokio::test]
async fn credential_errors_are_typed_and_not_cached() {
    for errcode in [40013, 40125, 40001, 40164] {
        let server = MockServer::start().await;
        stable_error(errcode).expect(2).mount(&server).await;
        let client = client(&server, &clock());
        for _ in 0..2 {
            let err = client.access_token(&app()).await.unwrap_err();
            assert_eq!(err.code(), "app_credentials_rejected", "{errcode}");
            assert!(!err.is_retryable());
        }
    }
}

#[tokio::test]
async fn nonsense_token_answers_are_malformed() {
    for body in [
        json!({"access_token": "", "expires_in": 7200}),
        json!({"access_token": "T", "expires_in": 0}),
        json!({"expires_in": 7200}),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body.clone()))
            .mount(&server)
            .await;
        let err = client(&server, &clock())
            .access_token(&app())
            .await
            .unwrap_err();
        assert_eq!(err.code(), "upstream_malformed", "{body}");
    }
}

#[tokio::test]
async fn another_secret_never_gets_the_cached_token() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 7200).expect(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .and(wiremock::matchers::body_partial_json(
            json!({"secret": "wrong-secret"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 40125, "errmsg": "invalid appsecret"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client(&server, &clock());
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    let wrong = AppCredentials::new(APPID.parse().unwrap(), "wrong-secret");
    let err = client.access_token(&wrong).await.unwrap_err();
    assert_eq!(err.code(), "app_credentials_rejected");
    assert!(!format!("{client:?}").contains(SECRET));
}

#[tokio::test]
async fn invalidate_forces_a_new_fetch() {
    let server = MockServer::start().await;
    stable_token("TOKEN_A", 7200)
        .up_to_n_times(1)
        .mount(&server)
        .await;
    stable_token("TOKEN_B", 7200).expect(1).mount(&server).await;
    let client = client(&server, &clock());
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_A"
    );
    client.invalidate_access_token(&app()).await;
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        "TOKEN_B"
    );
}
