//! Notifications through `Provider::parse_notification`, on a clock pinned to the header time.

use paygate_core::{
    ManualClock, Money, Notification, NotificationKind, NotificationOutcome, NotificationRequest,
    Provider, ProviderError, RefundState, TradeState, VerifyFailure,
};
use time::Duration;
use time::macros::datetime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

use crate::common::*;
use paygate_core::Clock as _;

const NO_SERVER: &str = "http://127.0.0.1:9";

fn ts(section: &str) -> i64 {
    s(section, "timestamp").parse().unwrap_or_default()
}

fn err(r: Result<Notification, ProviderError>) -> ProviderError {
    match r {
        Ok(n) => panic!("expected an error, got {n:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn v3_notify_pubkey_payment() {
    let clock = ManualClock::at_unix(ts("v3_notify_pubkey"));
    let p = provider(NO_SERVER, &clock, &credentials(Mode::PublicKey));
    let n = p
        .parse_notification(
            NotificationKind::Payment,
            &fixture_notification("v3_notify_pubkey"),
        )
        .await;
    let Ok(Notification::Payment(event)) = n else {
        panic!("{n:?}")
    };
    assert_eq!(event.event_id, "EV-2018022511223320873");
    let pay = event.payment;
    assert_eq!(pay.appid.as_str(), "wxd678efh567hg6787");
    assert_eq!(pay.mch_id.as_str(), "1230000109");
    assert_eq!(pay.out_trade_no.as_str(), "1217752501201407033233368018");
    assert_eq!(
        pay.transaction_id.as_ref().map(|t| t.as_str()),
        Some("4200000000000000000000000001")
    );
    assert_eq!(pay.trade_state, TradeState::Success);
    assert_eq!(pay.total, Money::from_fen(100).ok());
    assert_eq!(pay.payer_total, Money::from_fen(100).ok());
    assert_eq!(
        pay.payer.as_ref().map(|o| o.as_str()),
        Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
    );
    assert_eq!(pay.success_time, Some(datetime!(2024-01-01 04:00:00 UTC)));
    assert_eq!(pay.attach.as_deref(), Some("自定义数据"));
}

#[tokio::test]
async fn v3_notify_cert_refund() {
    let clock = ManualClock::at_unix(ts("v3_notify_cert"));
    let p = provider(NO_SERVER, &clock, &credentials(Mode::Certificate));
    let n = p
        .parse_notification(
            NotificationKind::Refund,
            &fixture_notification("v3_notify_cert"),
        )
        .await;
    let Ok(Notification::Refund(event)) = n else {
        panic!("{n:?}")
    };
    assert_eq!(event.event_id, "EV-2024010210000000001");
    assert_eq!(event.mch_id.as_str(), "1230000109");
    let r = event.refund;
    assert_eq!(r.state, RefundState::Success);
    assert_eq!(r.out_refund_no.as_str(), "R20240101000001");
    assert_eq!(
        r.refund_id.as_ref().map(|x| x.as_str()),
        Some("50000000000000000000000000001")
    );
    assert_eq!(
        r.out_trade_no.as_ref().map(|x| x.as_str()),
        Some("1217752501201407033233368018")
    );
    assert_eq!(r.refund, Money::from_fen(40).ok());
    assert_eq!(r.total, Money::from_fen(100).ok());
    assert_eq!(r.success_time, Some(datetime!(2024-01-02 02:00:00 UTC)));
}

#[tokio::test]
async fn both_modes_configured_pick_by_serial() {
    for section in ["v3_notify_pubkey", "v3_notify_cert"] {
        let clock = ManualClock::at_unix(ts(section));
        let p = provider(NO_SERVER, &clock, &credentials(Mode::Both));
        let kind = if section == "v3_notify_cert" {
            NotificationKind::Refund
        } else {
            NotificationKind::Payment
        };
        assert!(
            p.parse_notification(kind, &fixture_notification(section))
                .await
                .is_ok(),
            "{section}"
        );
    }
}

#[tokio::test]
async fn timestamp_boundary_is_300_seconds_both_ways() {
    let t = ts("v3_notify_pubkey");
    for (offset, ok) in [
        (0, true),
        (299, true),
        (-299, true),
        (300, false),
        (-300, false),
        (3600, false),
    ] {
        let clock = ManualClock::at_unix(t + offset);
        let p = provider(NO_SERVER, &clock, &credentials(Mode::PublicKey));
        let r = p
            .parse_notification(
                NotificationKind::Payment,
                &fixture_notification("v3_notify_pubkey"),
            )
            .await;
        if ok {
            assert!(r.is_ok(), "offset {offset}: {r:?}");
        } else {
            assert_eq!(
                err(r),
                ProviderError::Verification(VerifyFailure::StaleTimestamp),
                "offset {offset}"
            );
        }
    }
}

#[tokio::test]
async fn tampered_body_wrong_key_and_missing_headers_fail() {
    let clock = ManualClock::at_unix(ts("v3_notify_pubkey"));
    let p = provider(NO_SERVER, &clock, &credentials(Mode::PublicKey));
    let mut req = fixture_notification("v3_notify_pubkey");
    let i = req.body.len() - 3;
    req.body[i] ^= 1;
    let r = p.parse_notification(NotificationKind::Payment, &req).await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::BadSignature)
    );

    // The right serial, configured with another key.
    let mut creds = credentials(Mode::PublicKey);
    creds.wechatpay_public_key_pem = Some(key("merchant_public_key"));
    let wrong = provider(NO_SERVER, &clock, &creds);
    let r = wrong
        .parse_notification(
            NotificationKind::Payment,
            &fixture_notification("v3_notify_pubkey"),
        )
        .await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::BadSignature)
    );

    let mut req = fixture_notification("v3_notify_pubkey");
    req.headers.retain(|(k, _)| k != "Wechatpay-Nonce");
    let r = p.parse_notification(NotificationKind::Payment, &req).await;
    assert_eq!(err(r), ProviderError::Verification(VerifyFailure::Missing));
}

#[tokio::test]
async fn wrong_serial_in_public_key_mode_is_unknown_without_any_download() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let clock = ManualClock::at_unix(ts("v3_notify_pubkey"));
    let p = provider(&server.uri(), &clock, &credentials(Mode::PublicKey));
    let mut req = fixture_notification("v3_notify_pubkey");
    for (k, v) in &mut req.headers {
        if k == "Wechatpay-Serial" {
            *v = key("platform_serial");
        }
    }
    let r = p.parse_notification(NotificationKind::Payment, &req).await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::UnknownSerial)
    );
}

fn with_serial(mut req: NotificationRequest, serial: &str) -> NotificationRequest {
    for (k, v) in &mut req.headers {
        if k == "Wechatpay-Serial" {
            *v = serial.to_owned();
        }
    }
    req
}

#[tokio::test]
async fn unknown_serial_refreshes_exactly_once_then_cools_down() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(ts("v3_notify_cert"));
    // The download carries only the certificate already held, so the serial stays unknown.
    let certs =
        Signed::json(200, &s("v3_certs_fixture", "body"), &clock).serial(&key("platform_serial"));
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(certs)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::Certificate));
    let unknown = "1111111111111111111111111111111111111111";
    let downloads = || async { server.received_requests().await.unwrap_or_default().len() };

    let req = with_serial(fixture_notification("v3_notify_cert"), unknown);
    let r = p.parse_notification(NotificationKind::Refund, &req).await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::UnknownSerial)
    );
    assert_eq!(downloads().await, 1, "one refresh on the first miss");

    let r = p.parse_notification(NotificationKind::Refund, &req).await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::UnknownSerial)
    );
    assert_eq!(
        downloads().await,
        1,
        "no second refresh within the cooldown"
    );

    clock.advance(Duration::seconds(59));
    let req = with_serial(
        notification("REFUND.SUCCESS", "{}", clock.unix_seconds(), unknown),
        unknown,
    );
    let _ = p.parse_notification(NotificationKind::Refund, &req).await;
    assert_eq!(downloads().await, 1, "59 s later: still cooling down");

    clock.advance(Duration::seconds(1));
    let req = notification("REFUND.SUCCESS", "{}", clock.unix_seconds(), unknown);
    let r = p.parse_notification(NotificationKind::Refund, &req).await;
    assert_eq!(
        err(r),
        ProviderError::Verification(VerifyFailure::UnknownSerial)
    );
    assert_eq!(downloads().await, 2, "after the cooldown one more refresh");
}

#[tokio::test]
async fn unknown_serial_is_found_after_the_refresh() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(ts("v3_notify_cert"));
    let certs =
        Signed::json(200, &s("v3_certs_fixture", "body"), &clock).serial(&key("platform_serial"));
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(certs)
        .expect(1)
        .mount(&server)
        .await;
    // Certificate mode holding only another certificate, so the fixture platform serial is new.
    let mut creds = credentials(Mode::Certificate);
    creds.platform_certificates_pem = vec![s("v3_notify_go_aes128", "platform_cert_pem")];
    let p = provider(&server.uri(), &clock, &creds);
    let r = p
        .parse_notification(
            NotificationKind::Refund,
            &fixture_notification("v3_notify_cert"),
        )
        .await;
    assert!(matches!(r, Ok(Notification::Refund(_))), "{r:?}");
    assert!(p.platform_serials().contains(&key("platform_serial")));
}

#[tokio::test]
async fn probe_fails_without_side_effects() {
    let server = MockServer::start().await;
    let clock = ManualClock::at_unix(ts("v3_notify_cert"));
    Mock::given(method("GET"))
        .and(path("/v3/certificates"))
        .respond_with(wiremock::ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), &clock, &credentials(Mode::Certificate));
    for serial in [
        key("platform_serial").as_str(),
        "2222222222222222222222222222222222222222",
    ] {
        let mut req = with_serial(fixture_notification("v3_notify_cert"), serial);
        for (k, v) in &mut req.headers {
            if k == "Wechatpay-Signature" {
                *v = "WECHATPAY/SIGNTEST/ZmFrZQ==".to_owned();
            }
        }
        let r = p.parse_notification(NotificationKind::Refund, &req).await;
        assert_eq!(err(r), ProviderError::Verification(VerifyFailure::Probe));
    }
    // Even a periodic refresh that is due is not triggered by a probe.
    clock.advance(Duration::days(2));
    let req = NotificationRequest {
        headers: vec![
            (
                "Wechatpay-Timestamp".into(),
                clock.unix_seconds().to_string(),
            ),
            ("Wechatpay-Nonce".into(), "n".into()),
            ("Wechatpay-Signature".into(), "WECHATPAY/SIGNTEST/".into()),
            ("Wechatpay-Serial".into(), key("platform_serial")),
        ],
        body: b"{}".to_vec(),
    };
    let r = p.parse_notification(NotificationKind::Refund, &req).await;
    assert_eq!(err(r), ProviderError::Verification(VerifyFailure::Probe));
}

const TX: &str = r#"{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"1217752501201407033233368018","transaction_id":"4200000000000000000000000001","trade_type":"JSAPI","trade_state":"SUCCESS","success_time":"2024-01-01T12:00:00+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},"amount":{"total":100,"payer_total":100,"currency":"CNY"}}"#;

#[tokio::test]
async fn crafted_notifications_decode_and_bad_ones_are_typed() {
    let clock = ManualClock::at_unix(1_704_081_605);
    let p = provider(NO_SERVER, &clock, &credentials(Mode::PublicKey));
    let now = clock.unix_seconds();
    let ok = notification("TRANSACTION.SUCCESS", TX, now, PUB_KEY_ID);
    assert!(matches!(
        p.parse_notification(NotificationKind::Payment, &ok).await,
        Ok(Notification::Payment(_))
    ));

    // A refund event on the payment endpoint.
    let wrong_kind = notification("REFUND.SUCCESS", TX, now, PUB_KEY_ID);
    let e = err(p
        .parse_notification(NotificationKind::Payment, &wrong_kind)
        .await);
    assert_eq!(e.code(), "upstream_malformed");

    // Non-integer amounts are refused, never rounded.
    for bad in [
        TX.replace("\"total\":100", "\"total\":100.0"),
        TX.replace("\"total\":100", "\"total\":\"100\""),
    ] {
        let req = notification("TRANSACTION.SUCCESS", &bad, now, PUB_KEY_ID);
        let e = err(p.parse_notification(NotificationKind::Payment, &req).await);
        assert!(matches!(e, ProviderError::Malformed(_)), "{e:?}");
    }

    // A signed body that is not JSON.
    let req = signed_request(b"{not json".to_vec(), now, PUB_KEY_ID);
    let e = err(p.parse_notification(NotificationKind::Payment, &req).await);
    assert!(matches!(e, ProviderError::Malformed(_)), "{e:?}");

    // A validly signed envelope whose ciphertext was altered (bad GCM tag).
    let good = notification("TRANSACTION.SUCCESS", TX, now, PUB_KEY_ID);
    let mut envelope: serde_json::Value = serde_json::from_slice(&good.body).unwrap_or_default();
    let ct = envelope["resource"]["ciphertext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let flipped = format!(
        "{}{}",
        &ct[..ct.len() - 4],
        if ct.ends_with("AAA=") { "BBB=" } else { "AAA=" }
    );
    envelope["resource"]["ciphertext"] = flipped.into();
    let req = signed_request(envelope.to_string().into_bytes(), now, PUB_KEY_ID);
    let e = err(p.parse_notification(NotificationKind::Payment, &req).await);
    assert_eq!(e, ProviderError::Verification(VerifyFailure::Decrypt));
}

#[test]
fn replies() {
    let clock = ManualClock::at_unix(0);
    let p = provider(NO_SERVER, &clock, &credentials(Mode::PublicKey));
    let done = p.notification_reply(&NotificationOutcome::Done);
    assert_eq!((done.status, done.body.len()), (204, 0));
    let retry = p.notification_reply(&NotificationOutcome::Retry {
        message: "数据库忙".into(),
    });
    assert_eq!(retry.status, 500);
    assert_eq!(retry.content_type, "application/json");
    let body: serde_json::Value = serde_json::from_slice(&retry.body).unwrap_or_default();
    assert_eq!(
        body,
        serde_json::json!({"code": "FAIL", "message": "数据库忙"})
    );
}
