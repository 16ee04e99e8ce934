//! jscode2session against wiremock: the request WeChat expects, each errcode's mapping, and
//! failures that must not leak the secret.

use std::time::Duration;

use paygate_miniprogram::{MiniProgramConfig, MiniProgramError};
use secrecy::ExposeSecret;
use serde_json::json;
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{APPID, SECRET, SESSION_KEY, app, client, clock};

fn login_mock(body: serde_json::Value) -> Mock {
    Mock::given(method("GET"))
        .and(path("/sns/jscode2session"))
        .and(query_param("appid", APPID))
        .and(query_param("secret", SECRET))
        .and(query_param("js_code", "code-1"))
        .and(query_param("grant_type", "authorization_code"))
        // WeChat has been seen answering text/plain: the client must not care.
        .respond_with(ResponseTemplate::new(200).set_body_raw(body.to_string(), "text/plain"))
}

#[tokio::test]
async fn login_returns_openid_unionid_and_secret_session_key() {
    let server = MockServer::start().await;
    login_mock(json!({"openid": "oUser_1-x", "session_key": SESSION_KEY, "unionid": "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"}))
        .expect(1)
        .mount(&server)
        .await;
    let session = client(&server, &clock())
        .jscode2session(&app(), "code-1")
        .await
        .unwrap();
    assert_eq!(session.openid.as_str(), "oUser_1-x");
    assert_eq!(
        session.unionid.unwrap().as_str(),
        "ocMvos6NjeKLIBqg5Mr9QjxrP1FA"
    );
    assert_eq!(session.session_key.expose_secret(), SESSION_KEY);
}

#[tokio::test]
async fn login_without_unionid() {
    let server = MockServer::start().await;
    login_mock(
        json!({"openid": "oUser1", "session_key": SESSION_KEY, "errcode": 0, "errmsg": "ok"}),
    )
    .mount(&server)
    .await;
    let session = client(&server, &clock())
        .jscode2session(&app(), "code-1")
        .await
        .unwrap();
    assert!(session.unionid.is_none());
    assert!(!format!("{session:?}").contains(SESSION_KEY));
}

#[tokio::test]
async fn each_errcode_maps_to_its_variant() {
    let cases: Vec<(i64, MiniProgramError)> = vec![
        (40029, MiniProgramError::CodeInvalid),
        (40163, MiniProgramError::CodeUsed),
        (45011, MiniProgramError::RateLimited { errcode: 45011 }),
        (40226, MiniProgramError::UserBlocked),
        (
            40013,
            MiniProgramError::AppCredentials {
                errcode: 40013,
                message: "msg 40013".into(),
            },
        ),
        (
            40125,
            MiniProgramError::AppCredentials {
                errcode: 40125,
                message: "msg 40125".into(),
            },
        ),
        (
            40001,
            MiniProgramError::AppCredentials {
                errcode: 40001,
                message: "msg 40001".into(),
            },
        ),
        (
            -1,
            MiniProgramError::Busy {
                message: "msg -1".into(),
            },
        ),
        (
            61234,
            MiniProgramError::Upstream {
                errcode: 61234,
                message: "msg 61234".into(),
            },
        ),
    ];
    for (errcode, want) in cases {
        let server = MockServer::start().await;
        login_mock(json!({"errcode": errcode, "errmsg": format!("msg {errcode}")}))
            .expect(1)
            .mount(&server)
            .await;
        let got = client(&server, &clock())
            .jscode2session(&app(), "code-1")
            .await;
        assert_eq!(got.as_ref().err(), Some(&want), "errcode {errcode}");
        let err = got.unwrap_err();
        assert_eq!(
            err.is_retryable(),
            matches!(errcode, -1 | 45011),
            "errcode {errcode}"
        );
    }
}

#[tokio::test]
async fn stable_codes_of_login_failures() {
    let server = MockServer::start().await;
    login_mock(json!({"errcode": 40163, "errmsg": "code been used"}))
        .mount(&server)
        .await;
    let err = client(&server, &clock())
        .jscode2session(&app(), "code-1")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "code_used");
}

#[tokio::test]
async fn bad_session_key_or_openid_is_malformed() {
    for body in [
        json!({"openid": "oUser1", "session_key": "not base64!!"}),
        json!({"openid": "oUser1", "session_key": "c2hvcnQ="}),
        json!({"openid": "o user", "session_key": SESSION_KEY}),
        json!({"session_key": SESSION_KEY}),
    ] {
        let server = MockServer::start().await;
        login_mock(body.clone()).mount(&server).await;
        let err = client(&server, &clock())
            .jscode2session(&app(), "code-1")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "upstream_malformed", "{body}");
        assert!(!err.to_string().contains("not base64!!"), "{err}");
    }
}

#[tokio::test]
async fn non_json_5xx_is_a_retryable_http_error() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let err = client(&server, &clock())
        .jscode2session(&app(), "code-1")
        .await
        .unwrap_err();
    assert_eq!(err, MiniProgramError::HttpStatus { status: 502 });
    assert!(err.is_retryable());
}

#[tokio::test]
async fn empty_or_odd_codes_are_refused_without_a_call() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server, &clock());
    for bad in ["", "code with spaces", "码", &"c".repeat(257)] {
        let err = client.jscode2session(&app(), bad).await.unwrap_err();
        assert_eq!(err.code(), "invalid_argument", "{bad:?}");
    }
}

#[tokio::test]
async fn transport_errors_never_show_the_secret() {
    // A port that nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = crate::client_for(
        &format!("http://127.0.0.1:{port}"),
        &clock(),
        Default::default(),
    );
    let err = client.jscode2session(&app(), "code-1").await.unwrap_err();
    assert_eq!(err.code(), "upstream_unreachable");
    assert!(err.is_retryable());
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("code-1"), "{shown}");
}

#[tokio::test]
async fn a_slow_answer_times_out() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let config = MiniProgramConfig::new(std::sync::Arc::new(clock()))
        .with_base_url(server.uri())
        .with_timeout(Duration::from_millis(200));
    let client = paygate_miniprogram::MiniProgramClient::new(config).unwrap();
    let err = client.jscode2session(&app(), "code-1").await.unwrap_err();
    assert_eq!(err.code(), "upstream_unreachable");
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(!err.to_string().contains(SECRET));
}
