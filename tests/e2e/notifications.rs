//! What arrives at `/notify/{channel_id}/…` that is not a fresh, genuine notification:
//! garbage, forged or tampered signatures, a wrong amount under a valid signature, replays,
//! oversized bodies, unknown channels. Nothing unverified changes an order; duplicates change
//! nothing.

use paygate_core::Clock;
use paygate_wechat_v2::sign::{ApiKey, SignType, sign_in_place};
use paygate_wechat_v2::xml;

use crate::harness::both_backends;
use crate::harness::pay::{Kind, PayApp};
use crate::harness::{Backend, Response};

both_backends!(
    garbage_and_forgeries_change_nothing,
    replayed_and_tampered_v2_notifications,
);

/// The demo merchant's APIv2 key (the demo's v2 channel signs with MD5).
const DEMO_V2_KEY: &str = "192006250b4c09247ec02edce69f6a2d";

/// Whether paygate told WeChat "done" (v2: `return_code` SUCCESS; v3: 2xx).
fn acknowledged(r: &Response) -> bool {
    (200..300).contains(&r.status) && !r.text.contains("FAIL")
}

async fn garbage_and_forgeries_change_nothing(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let platform = app
        .sim_get(&format!("/sim/merchants/{}/platform", a.mch_id))
        .await
        .expect(200);
    for kind in [Kind::V2, Kind::V3] {
        let channel = a.channel(kind).to_owned();
        let (id, _) = app.pending_order(&a, kind, &user).await;
        for (what, content_type, body) in [
            ("empty", "application/json", Vec::new()),
            ("text", "text/plain", b"hello".to_vec()),
            (
                "json",
                "application/json",
                br#"{"id":"x","resource":{}}"#.to_vec(),
            ),
            (
                "xml",
                "text/xml",
                b"<xml><return_code>SUCCESS</return_code></xml>".to_vec(),
            ),
            (
                "bytes",
                "application/octet-stream",
                vec![0xff, 0x00, 0xfe, 0x7f],
            ),
        ] {
            for path in ["payment", "refund"] {
                let r = app
                    .notify(&channel, path, &[], content_type, body.clone())
                    .await;
                assert!(
                    !acknowledged(&r),
                    "{kind:?} {path} {what}: {} {}",
                    r.status,
                    r.text
                );
            }
        }
        // WeChat-looking v3 headers with a signature made by nobody.
        let now = app.clock.now().unix_timestamp().to_string();
        let headers = [
            ("wechatpay-timestamp", now.as_str()),
            ("wechatpay-nonce", "0123456789abcdef0123456789abcdef"),
            ("wechatpay-signature", "c2lnbmVkIGJ5IG5vYm9keQ=="),
            (
                "wechatpay-serial",
                platform["public_key_id"].as_str().unwrap(),
            ),
            ("wechatpay-signature-type", "WECHATPAY2-SHA256-RSA2048"),
        ];
        let body = r#"{"id":"EV-forged","create_time":"2026-01-01T00:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"ok","resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"AAAA","associated_data":"transaction","nonce":"0123456789ab"}}"#;
        let r = app
            .notify(&channel, "payment", &headers, "application/json", body)
            .await;
        assert!(
            !acknowledged(&r),
            "{kind:?} forged v3: {} {}",
            r.status,
            r.text
        );

        // Oversized: refused before anyone reads it.
        let big = vec![b'x'; 70 * 1024];
        let r = app.notify(&channel, "payment", &[], "text/xml", big).await;
        assert_eq!(r.status, 413, "{}", r.text);

        let order = app.order_of(&a, &id).await;
        assert_eq!(order["state"], "PENDING", "{kind:?}: {order}");
    }
    // A channel that does not exist.
    let r = app
        .notify(
            "ch_01JZZZZZZZZZZZZZZZZZZZZZZZ",
            "payment",
            &[],
            "text/xml",
            "<xml/>",
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text);
    let r = app
        .notify("not-a-channel", "payment", &[], "text/xml", "<xml/>")
        .await;
    assert!([400, 404].contains(&r.status), "{} {}", r.status, r.text);
    assert_eq!(app.events_of(&a, "payment.succeeded").await.len(), 0);
    app.finish().await;
}

async fn replayed_and_tampered_v2_notifications(backend: Backend) {
    let app = PayApp::spawn(backend).await;
    let a = app.a.clone();
    let user = app.user(&a).await;
    let channel = a.v2_channel.clone();
    let (id, rp) = app.pending_order(&a, Kind::V2, &user).await;
    let genuine = app.pay_losing_notification(&user, &rp).await;

    // Tampered without the key: the signature no longer matches.
    let mut fields = xml::decode(genuine.as_bytes()).expect("v2 XML");
    assert_eq!(fields.get("total_fee").map(String::as_str), Some("880"));
    fields.insert("total_fee".into(), "1".into());
    let r = app
        .notify(&channel, "payment", &[], "text/xml", xml::encode(&fields))
        .await;
    assert!(!acknowledged(&r), "{}", r.text);
    // A genuine notification sent to the v3 channel does not verify there.
    let r = app
        .notify(&a.v3_channel, "payment", &[], "text/xml", genuine.clone())
        .await;
    assert!(!acknowledged(&r), "{}", r.text);
    // Neither body was trusted, but the first made paygate query the channel's pending orders:
    // WeChat itself says this one is paid.
    let order = app.order_of(&a, &id).await;
    assert_eq!(order["state"], "PAID", "{order}");
    assert_eq!(app.order_events(&a, "payment.succeeded", &id).await, 1);

    // The genuine one, delivered late, is acknowledged; it and its replays change nothing.
    for _ in 0..3 {
        let r = app
            .notify(&channel, "payment", &[], "text/xml", genuine.clone())
            .await;
        assert!(acknowledged(&r), "{}", r.text);
    }
    let order = app.order_of(&a, &id).await;
    assert_eq!(order["state"], "PAID", "{order}");
    assert_eq!(order["amount"], 880);
    assert_eq!(app.order_events(&a, "payment.succeeded", &id).await, 1);

    // Another order: a notification signed with the merchant's key but for another amount is
    // acknowledged (WeChat must stop), alerted, and never makes the order PAID. Its dedupe
    // key (v2: the transaction id) is now taken, so retries raise no more alerts.
    let (id, rp) = app.pending_order(&a, Kind::V2, &user).await;
    let genuine = app.pay_losing_notification(&user, &rp).await;
    let mut fields = xml::decode(genuine.as_bytes()).expect("v2 XML");
    fields.insert("total_fee".into(), "1".into());
    let sign_type = match fields.get("sign_type").map(String::as_str) {
        Some("HMAC-SHA256") => SignType::HmacSha256,
        _ => SignType::Md5,
    };
    sign_in_place(&mut fields, &ApiKey::new(DEMO_V2_KEY), sign_type);
    for _ in 0..2 {
        let r = app
            .notify(&channel, "payment", &[], "text/xml", xml::encode(&fields))
            .await;
        assert!(acknowledged(&r), "{}", r.text);
    }
    let order = app.order_of(&a, &id).await;
    assert_eq!(order["state"], "PENDING", "{order}");
    assert_eq!(app.order_events(&a, "payment.succeeded", &id).await, 0);
    let alerts = app.alerts(&app.admin.token, "").await.expect(200);
    let mismatches = alerts["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|al| al["kind"] == "amount_mismatch" && al["tenant_id"] == a.id.as_str())
        .count();
    assert_eq!(mismatches, 1, "{alerts}");
    app.finish().await;
}
