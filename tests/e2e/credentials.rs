//! Channel credentials: every validation failure is a 422 naming the field at fault and
//! stores nothing; new versions become current; the current version cannot be retired, old
//! ones can.

use serde_json::{Value, json};

use crate::harness::fixtures::{self, random_appid, random_text};
use crate::harness::{Backend, TestApp, both_backends};

both_backends!(
    invalid_credentials_store_nothing,
    credentials_versions_rotate
);

/// A channel request for `kind` and `mch_id` around `document`.
fn channel(kind: &str, mch_id: &str, document: Value) -> Value {
    json!({ "kind": kind, "mch_id": mch_id, "credentials": document })
}

/// `document` with `field` set to `value` (or removed when `value` is null).
fn with(mut document: Value, field: &str, value: Value) -> Value {
    let object = document.as_object_mut().expect("object");
    if value.is_null() {
        object.remove(field);
    } else {
        object.insert(field.to_owned(), value);
    }
    document
}

async fn invalid_credentials_store_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let appid = random_appid();
    let v2 = fixtures::v2_document(&appid, &app.new_api_v2_key());
    let v3 = fixtures::v3_document(&app.new_apiv3_key());
    let keys = fixtures::v3_keys();
    let v2_mch = fixtures::V2_MCH_ID;

    // Values a careless error message might echo back: all registered as secrets.
    let short_api_key = random_text(31);
    app.secret("short APIv2 key", &short_api_key);
    let garbage_marker = random_text(40);
    app.secret("garbage private key", &garbage_marker);
    let garbage_key =
        format!("-----BEGIN PRIVATE KEY-----\n{garbage_marker}\n-----END PRIVATE KEY-----\n");
    let short_apiv3 = random_text(31);
    app.secret("short APIv3 key", &short_apiv3);
    app.secret(
        "other private key",
        &fixtures::pem_body_line(fixtures::V2_OTHER_KEY_PEM),
    );
    app.secret(
        "other v3 private key",
        &fixtures::pem_body_line(&keys.other_private_key_pem),
    );

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "v2 APIv2 key of 31 characters",
            channel(
                "wechat-v2",
                v2_mch,
                with(v2.clone(), "api_key", json!(short_api_key)),
            ),
            "credentials.api_key",
        ),
        (
            "v2 client certificate without its key",
            channel(
                "wechat-v2",
                v2_mch,
                with(v2.clone(), "client_key_pem", Value::Null),
            ),
            "credentials.client_key_pem",
        ),
        (
            "v2 client key not matching the certificate",
            channel(
                "wechat-v2",
                v2_mch,
                with(
                    v2.clone(),
                    "client_key_pem",
                    json!(fixtures::V2_OTHER_KEY_PEM),
                ),
            ),
            "credentials.client_key_pem",
        ),
        (
            "v3 private key that is not a key",
            channel(
                "wechat-v3",
                &keys.mchid,
                with(v3.clone(), "merchant_private_key_pem", json!(garbage_key)),
            ),
            "credentials.merchant_private_key_pem",
        ),
        (
            "v3 private key of another certificate",
            channel(
                "wechat-v3",
                &keys.mchid,
                with(
                    v3.clone(),
                    "merchant_private_key_pem",
                    json!(keys.other_private_key_pem),
                ),
            ),
            "credentials.merchant_certificate_pem",
        ),
        (
            "v3 APIv3 key of 31 bytes",
            channel(
                "wechat-v3",
                &keys.mchid,
                with(v3.clone(), "apiv3_key", json!(short_apiv3)),
            ),
            "credentials.apiv3_key",
        ),
        (
            "v3 without platform certificate or public key",
            channel(
                "wechat-v3",
                &keys.mchid,
                with(
                    with(
                        with(v3.clone(), "platform_certificates_pem", json!([])),
                        "wechatpay_public_key_pem",
                        Value::Null,
                    ),
                    "wechatpay_public_key_id",
                    Value::Null,
                ),
            ),
            "credentials.platform_certificates_pem",
        ),
        (
            "mch_id other than the document's",
            channel("wechat-v3", "1230000999", v3.clone()),
            "mch_id",
        ),
        (
            "v2 mch_id other than the document's",
            channel("wechat-v2", "1230000999", v2.clone()),
            "mch_id",
        ),
    ];
    for (case, request, field) in &cases {
        let response = app.create_channel(&admin, &tid, request).await;
        let body = response.expect_error(422, "invalid_channel_credentials");
        assert_eq!(body["details"]["field"], *field, "{case}: {body}");
        assert!(
            body["details"]["reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{case}: {body}"
        );
    }

    app.create_channel(&admin, &tid, &channel("alipay", v2_mch, v2.clone()))
        .await
        .expect_error(422, "unsupported_channel_kind");
    let not_object = app
        .create_channel(
            &admin,
            &tid,
            &channel("wechat-v3", &keys.mchid, json!("text")),
        )
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(
        not_object["details"]["field"], "credentials",
        "{not_object}"
    );
    // A document of the other kind does not parse as this kind's.
    let wrong_kind = app
        .create_channel(&admin, &tid, &channel("wechat-v3", &keys.mchid, v2.clone()))
        .await
        .expect_error(422, "invalid_channel_credentials");
    assert_eq!(
        wrong_kind["details"]["field"], "credentials",
        "{wrong_kind}"
    );

    let channels = app.list_channels(&admin, &tid).await.expect(200);
    assert_eq!(
        channels["data"],
        json!([]),
        "a refused channel stores nothing"
    );

    // The same rules guard new versions of an existing channel.
    let v3_channel = app.new_v3_channel(&tid).await;
    let bad_version = with(v3.clone(), "apiv3_key", json!(short_apiv3));
    let refused = app
        .add_credentials(&admin, &tid, &v3_channel.id, &bad_version)
        .await
        .expect_error(422, "invalid_channel_credentials");
    assert_eq!(
        refused["details"]["field"], "credentials.apiv3_key",
        "{refused}"
    );
    let other_merchant = app
        .add_credentials(
            &admin,
            &tid,
            &v3_channel.id,
            &with(v3, "mchid", json!("1230000999")),
        )
        .await
        .expect_error(422, "invalid_channel_credentials");
    assert_eq!(
        other_merchant["details"]["field"], "mch_id",
        "{other_merchant}"
    );
    let unchanged = app
        .get_channel(&admin, &tid, &v3_channel.id)
        .await
        .expect(200);
    assert_eq!(unchanged, v3_channel.body, "refused versions store nothing");

    app.finish().await;
}

async fn credentials_versions_rotate(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.admin.token.clone();
    let tid = app.new_tenant().await;
    let channel = app.new_v3_channel(&tid).await;
    let cid = channel.id.as_str();

    let added = app
        .add_credentials(
            &admin,
            &tid,
            cid,
            &fixtures::v3_document(&app.new_apiv3_key()),
        )
        .await
        .expect(201);
    assert_eq!(added["version"], 2, "{added}");
    assert_eq!(added["current"], true, "{added}");
    assert_eq!(
        added["merchant_serial"],
        fixtures::v3_keys().merchant_serial.as_str()
    );

    let detail = app.get_channel(&admin, &tid, cid).await.expect(200);
    assert_eq!(detail["current_version"], 2, "{detail}");
    let current: Vec<(i64, bool)> = detail["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().expect("version"),
                v["current"] == true,
            )
        })
        .collect();
    assert_eq!(
        current,
        [(2, true), (1, false)],
        "newest first, one current"
    );

    app.retire_credentials(&admin, &tid, cid, 2)
        .await
        .expect_error(409, "credentials_version_current");
    app.retire_credentials(&admin, &tid, cid, 99)
        .await
        .expect_error(404, "credentials_version_not_found");
    let retired = app
        .retire_credentials(&admin, &tid, cid, 1)
        .await
        .expect(200);
    assert_eq!(retired["version"], 1, "{retired}");
    assert!(retired["retired_at"].is_string(), "{retired}");

    let detail = app.get_channel(&admin, &tid, cid).await.expect(200);
    assert_eq!(detail["current_version"], 2);
    assert!(detail["versions"][1]["retired_at"].is_string(), "{detail}");
    assert!(detail["versions"][0]["retired_at"].is_null(), "{detail}");

    app.finish().await;
}
