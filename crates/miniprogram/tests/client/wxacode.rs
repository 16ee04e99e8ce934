//! getwxacodeunlimit against wiremock: image bytes, JSON errors recognised by content type or a
//! leading `{`, and validation failures that send nothing (not even a token request).

use paygate_miniprogram::{ImageFormat, MiniProgramError, WxaCodeRequest};
use serde_json::json;
use wiremock::matchers::{any, body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::{app, client, clock};

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

async fn with_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "TOKEN_A", "expires_in": 7200})),
        )
        .mount(server)
        .await;
}

fn wxacode() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/wxa/getwxacodeunlimit"))
        .and(query_param("access_token", "TOKEN_A"))
}

#[tokio::test]
async fn returns_the_image_and_sends_only_what_was_set() {
    let server = MockServer::start().await;
    with_token(&server).await;
    wxacode()
        .and(body_json(
            json!({"scene": "order=42&t=1", "page": "pages/pay/index", "width": 430}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG_MAGIC, "image/png"))
        .expect(1)
        .mount(&server)
        .await;
    let request = WxaCodeRequest::new("order=42&t=1")
        .page("pages/pay/index")
        .width(430);
    let code = client(&server, &clock())
        .get_unlimited_wxacode(&app(), &request)
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
    assert_eq!(code.format.content_type(), "image/png");
    assert_eq!(&code.bytes[..], PNG_MAGIC);
}

#[tokio::test]
async fn json_errors_are_detected_by_content_type_or_leading_brace() {
    let cases = [
        (
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 41030, "errmsg": "invalid page"})),
            "wxacode_page_not_found",
        ),
        // JSON labelled as an image: the leading `{` gives it away.
        (
            ResponseTemplate::new(200).set_body_raw(
                r#"{"errcode":45009,"errmsg":"reach max api daily quota limit"}"#,
                "image/jpeg",
            ),
            "upstream_rate_limited",
        ),
        (
            ResponseTemplate::new(200).set_body_raw(
                r#"{"errcode":40169,"errmsg":"invalid length for scene"}"#,
                "text/plain",
            ),
            "upstream_rejected",
        ),
        (
            ResponseTemplate::new(200).set_body_raw("GIF89a....", "image/gif"),
            "upstream_malformed",
        ),
        (
            ResponseTemplate::new(503).set_body_raw("busy", "text/html"),
            "upstream_http_status",
        ),
    ];
    for (response, code) in cases {
        let server = MockServer::start().await;
        with_token(&server).await;
        wxacode()
            .respond_with(response)
            .expect(1)
            .mount(&server)
            .await;
        let err = client(&server, &clock())
            .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), code);
    }
}

#[tokio::test]
async fn a_stale_token_is_replaced_for_wxacode_too() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "TOKEN_A", "expires_in": 7200})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/cgi-bin/stable_token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "TOKEN_B", "expires_in": 7200})),
        )
        .expect(1)
        .mount(&server)
        .await;
    wxacode()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"errcode": 42001, "errmsg": "access_token expired"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/wxa/getwxacodeunlimit"))
        .and(query_param("access_token", "TOKEN_B"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PNG_MAGIC, "image/png"))
        .expect(1)
        .mount(&server)
        .await;
    let code = client(&server, &clock())
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
}

#[tokio::test]
async fn each_validation_error_makes_no_upstream_call() {
    let server = MockServer::start().await;
    // Nothing at all may reach the server: neither a token request nor the wxacode call.
    Mock::given(any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let client = client(&server, &clock());
    let cases = [
        (WxaCodeRequest::new(""), "wxacode_scene_invalid"),
        (WxaCodeRequest::new("x".repeat(33)), "wxacode_scene_invalid"),
        (WxaCodeRequest::new("id=%E4%B8%AD"), "wxacode_scene_invalid"),
        (WxaCodeRequest::new("订单=1"), "wxacode_scene_invalid"),
        (WxaCodeRequest::new("a b"), "wxacode_scene_invalid"),
        (
            WxaCodeRequest::new("a=1").page("/pages/index/index"),
            "wxacode_page_invalid",
        ),
        (
            WxaCodeRequest::new("a=1").page("pages/index/index?id=1"),
            "wxacode_page_invalid",
        ),
        (WxaCodeRequest::new("a=1").page(""), "wxacode_page_invalid"),
        (
            WxaCodeRequest::new("a=1").width(279),
            "wxacode_width_invalid",
        ),
        (
            WxaCodeRequest::new("a=1").width(1281),
            "wxacode_width_invalid",
        ),
        (WxaCodeRequest::new("a=1").width(0), "wxacode_width_invalid"),
    ];
    for (request, code) in cases {
        let err = client
            .get_unlimited_wxacode(&app(), &request)
            .await
            .unwrap_err();
        assert_eq!(err.code(), code, "{request:?}");
    }
    let err = client
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1").width(2000))
        .await
        .unwrap_err();
    assert_eq!(err, MiniProgramError::InvalidWidth(2000));
    assert!(err.to_string().contains("280 to 1280"));
    server.verify().await;
}
