//! Webhooks, continued (see `webhooks.rs`): the SSRF guard refuses private targets (IP
//! literals and a hostname resolving to loopback) and never follows a redirect; a secret
//! rotation signs with both secrets for a day; operators pause, resume, ping and resend over
//! the admin API.

use paygate_core::Clock;
use paygate_server::webhooks::schedule::MAX_ATTEMPTS;
use paygate_store::{Audit, Page};
use reqwest::Method;
use serde_json::json;

use crate::harness::receiver::{Receiver, Reply, WebhookApp};
use crate::harness::{Backend, both_backends};

both_backends!(
    private_targets_and_redirects_are_refused,
    a_rotation_signs_with_both_secrets_for_a_day,
    operators_pause_resume_ping_and_resend,
);

async fn private_targets_and_redirects_are_refused(backend: Backend) {
    let mut w = WebhookApp::spawn(backend).await;
    let port = url::Url::parse(&w.receiver.url).unwrap().port().unwrap();
    w.settings.allow_private_targets = false;
    for url in [
        w.receiver.url.clone(),
        format!("http://localhost:{port}"),
        "http://10.0.0.1/hook".to_owned(),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://100.64.0.1/hook".to_owned(),
        "http://[::1]/hook".to_owned(),
        "http://[fd00::1]/hook".to_owned(),
        "http://0.0.0.0/hook".to_owned(),
    ] {
        w.app
            .store()
            .webhooks()
            .put_url(&Audit::system(), &w.tenant, &url)
            .await
            .unwrap();
        let id = w.event("payment.succeeded", None).await;
        let report = w.run().await;
        assert_eq!(report.retrying, 1, "{url}: {report:?}");
        let log = w
            .app
            .store()
            .activity()
            .deliveries(&w.tenant, Some(&id), &Page::first())
            .await
            .unwrap();
        assert_eq!(
            log.data[0].error.as_deref(),
            Some("webhook_target_forbidden"),
            "{url}"
        );
        assert_eq!(log.data[0].response_status, None);
    }
    assert!(
        w.receiver.received().is_empty(),
        "nothing reached the receiver"
    );

    // A redirect (to a private address, with private targets allowed here) is not followed.
    w.settings.allow_private_targets = true;
    let elsewhere = Receiver::spawn().await;
    w.app
        .store()
        .webhooks()
        .put_url(&Audit::system(), &w.tenant, &w.receiver.url)
        .await
        .unwrap();
    // Drain what the refused URLs left behind.
    for _ in 0..20 {
        w.app.clock.advance(time::Duration::days(1));
        w.run().await;
    }
    let before = w.receiver.received().len();
    let id = w.event("payment.succeeded", None).await;
    w.receiver.script_for(
        id.as_str(),
        [Reply::status(302).with("location", elsewhere.url.clone())],
    );
    let report = w.run().await;
    assert_eq!(report.retrying, 1, "{report:?}");
    assert_eq!(w.queued(&id).await.last_status_code, Some(302));
    assert_eq!(w.receiver.received().len(), before + 1);
    assert!(
        elsewhere.received().is_empty(),
        "the redirect was not followed"
    );
    w.finish().await;
}

async fn a_rotation_signs_with_both_secrets_for_a_day(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let old = w.secret.clone();
    let new = w
        .app
        .store()
        .webhooks()
        .rotate_secret(&Audit::system(), &w.tenant)
        .await
        .unwrap();
    w.event("payment.succeeded", None).await;
    w.run().await;
    let r = w.receiver.received().pop().unwrap();
    assert_eq!(r.signature.split(' ').count(), 2, "{}", r.signature);
    let body = serde_json::to_vec(&r.body).unwrap();
    assert!(r.verified, "the old secret still verifies");
    let check =
        |s| paygate_server::webhooks::sign::verify(s, &r.id, r.timestamp, &body, &r.signature);
    // The body re-serialised from JSON is byte-identical (paygate sends compact JSON).
    assert!(check(&old) && check(&new));

    w.app.clock.advance(time::Duration::hours(24));
    w.event("payment.succeeded", None).await;
    w.run().await;
    let r = w.receiver.received().pop().unwrap();
    assert_eq!(r.signature.split(' ').count(), 1, "the old secret expired");
    assert!(!r.verified, "signed with the new secret only");
    w.finish().await;
}

async fn operators_pause_resume_ping_and_resend(backend: Backend) {
    let w = WebhookApp::spawn(backend).await;
    let tid = w.tenant.as_str().to_owned();
    let mut token = w.app.admin.token.clone();
    let hook = format!("/admin/v1/tenants/{tid}/webhook");

    // Paused: nothing is delivered; resumed: it is.
    let paused = post(&w, &token, format!("{hook}/pause"), None)
        .await
        .expect(200);
    assert_eq!(paused["paused"], true);
    let id = w.event("payment.succeeded", None).await;
    assert_eq!(w.run().await.claimed, 0);
    assert_eq!(
        post(&w, &token, format!("{hook}/resume"), None)
            .await
            .expect(200)["paused"],
        false
    );
    assert_eq!(w.run().await.delivered, 1);

    // The events list shows the delivery state.
    let list = w
        .app
        .req(Method::GET, &format!("/admin/v1/tenants/{tid}/events"))
        .bearer(&token)
        .send()
        .await
        .expect(200);
    let row = &list["data"][0];
    assert_eq!(row["id"], id.as_str());
    assert_eq!(row["delivery_status"], "delivered");
    assert_eq!(row["attempts"], 1);
    assert_eq!(row["last_status_code"], 200);
    assert!(row["last_latency_ms"].is_i64());

    // Ping goes through the SSRF guard: outside the demo, a loopback receiver is refused.
    let ping = post(&w, &token, format!("{hook}/ping"), None)
        .await
        .expect(200);
    assert_eq!(ping["ok"], false, "{ping}");
    assert_eq!(ping["error"], "webhook_target_forbidden");
    assert!(w.receiver.received().len() == 1, "the ping never left");

    // Resend one event: a failed one is queued again; a pending one conflicts.
    w.receiver.script([Reply::status(410)]);
    let gone = w.event("payment.succeeded", None).await;
    assert_eq!(w.run().await.failed, 1);
    let view = w
        .app
        .req(Method::GET, &hook)
        .bearer(&token)
        .send()
        .await
        .expect(200);
    assert!(view["disabled_at"].is_string(), "{view}");
    post(&w, &token, format!("{hook}/resume"), None)
        .await
        .expect(200);
    let events = format!("/admin/v1/tenants/{tid}/events");
    let resent = post(
        &w,
        &token,
        format!("{events}/{}/resend", gone.as_str()),
        None,
    )
    .await
    .expect(200);
    assert_eq!(resent["delivery_status"], "pending");
    post(
        &w,
        &token,
        format!("{events}/{}/resend", gone.as_str()),
        None,
    )
    .await
    .expect_error(409, "event_pending");
    assert_eq!(w.run().await.delivered, 1);

    // Resend every failed event of a range.
    let start = w.app.clock.now();
    let a = w.event("payment.succeeded", None).await;
    let b = w.event("payment.failed", None).await;
    for id in [&a, &b] {
        w.receiver.script_for(
            id.as_str(),
            std::iter::repeat_n(Reply::status(500), usize::try_from(MAX_ATTEMPTS).unwrap()),
        );
    }
    w.settle(&a).await;
    w.settle(&b).await;
    // Days went by: the operator logs in again.
    let admin = &w.app.admin;
    token = w.app.login_ok(&admin.username, &admin.password).await;
    let rfc = |t: time::OffsetDateTime| {
        t.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let end = start + time::Duration::seconds(1);
    let before = json!({ "from": rfc(start - time::Duration::hours(1)), "to": rfc(start) });
    let none = post(&w, &token, format!("{events}/resend"), Some(before))
        .await
        .expect(200);
    assert_eq!(none["resent"], 0);
    let range = json!({ "from": rfc(start), "to": rfc(end) });
    let some = post(&w, &token, format!("{events}/resend"), Some(range))
        .await
        .expect(200);
    assert_eq!(some["resent"], 2);
    let backwards = json!({ "from": rfc(end), "to": rfc(start) });
    post(&w, &token, format!("{events}/resend"), Some(backwards))
        .await
        .expect_error(422, "invalid_request");
    assert_eq!(w.run().await.delivered, 2);
    post(
        &w,
        &token,
        format!("{events}/evt_01J00000000000000000000000/resend"),
        None,
    )
    .await
    .expect_error(404, "not_found");
    w.finish().await;
}

async fn post(
    w: &WebhookApp,
    token: &str,
    path: String,
    body: Option<serde_json::Value>,
) -> crate::harness::Response {
    let mut req = w.app.req(Method::POST, &path).bearer(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await
}
