//! The mini-program server APIs: each rule WeChat applies, on the simulator's clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use time::Duration;

async fn code(sim: &paygate_sim::RunningSim) -> (String, String) {
    let openid = sim.sim().create_user(APPID, None, None).unwrap();
    let code = sim.sim().login_code(APPID, &openid).unwrap();
    (openid, code)
}

fn login_url(sim: &paygate_sim::RunningSim, appid: &str, secret: &str, code: &str) -> String {
    format!(
        "{}/sns/jscode2session?appid={appid}&secret={secret}&js_code={code}&grant_type=authorization_code",
        sim.base_url()
    )
}

#[tokio::test]
async fn login_code_works_once() {
    let sim = spawn_with_app(vec![]).await;
    let (openid, code) = code(&sim).await;
    let v = get_json(&login_url(&sim, APPID, SECRET, &code)).await;
    assert_eq!(v["openid"], openid.as_str());
    let key = v["session_key"].as_str().unwrap();
    assert_eq!(base64_len(key), 16, "session_key is base64 of 16 bytes");
    assert!(v.get("errcode").is_none());
    let again = get_json(&login_url(&sim, APPID, SECRET, &code)).await;
    assert_eq!(errcode(&again), 40163);
    assert!(again["errmsg"].as_str().unwrap().contains("rid:"));
}

fn base64_len(s: &str) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap()
        .len()
}

#[tokio::test]
async fn login_errors() {
    let sim = spawn_with_app(vec![]).await;
    let (_, code) = code(&sim).await;
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, "nosuchcode")).await),
        40029
    );
    assert_eq!(
        errcode(&get_json(&login_url(&sim, "wxunknown", SECRET, &code)).await),
        40013
    );
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, "wrong", &code)).await),
        40125
    );
    let no_grant = format!(
        "{}/sns/jscode2session?appid={APPID}&secret={SECRET}&js_code={code}",
        sim.base_url()
    );
    assert_eq!(errcode(&get_json(&no_grant).await), 40002);
    // The code was not consumed by the failed calls, and expires after five minutes.
    sim.advance(Duration::minutes(5));
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, &code)).await),
        40029
    );
}

#[tokio::test]
async fn login_is_rate_limited_per_user() {
    let sim = spawn_with_app(vec![]).await;
    let (openid, first) = code(&sim).await;
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, &first)).await),
        0
    );
    for _ in 1..100 {
        let c = sim.sim().login_code(APPID, &openid).unwrap();
        assert_eq!(
            errcode(&get_json(&login_url(&sim, APPID, SECRET, &c)).await),
            0
        );
    }
    let c = sim.sim().login_code(APPID, &openid).unwrap();
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, &c)).await),
        45011
    );
    // Another user is not affected.
    let (_, other) = code(&sim).await;
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, &other)).await),
        0
    );
    sim.advance(Duration::seconds(61));
    assert_eq!(
        errcode(&get_json(&login_url(&sim, APPID, SECRET, &c)).await),
        0
    );
}

fn token_url(sim: &paygate_sim::RunningSim, secret: &str) -> String {
    format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid={APPID}&secret={secret}",
        sim.base_url()
    )
}

/// Uses a token on a protected API; the errcode (0 = accepted).
async fn use_token(sim: &paygate_sim::RunningSim, token: &str) -> i64 {
    let url = format!(
        "{}/wxa/getwxacodeunlimit?access_token={token}",
        sim.base_url()
    );
    let r = client()
        .post(url)
        .json(&json!({"scene": "a=1"}))
        .send()
        .await
        .unwrap();
    let is_png = r.headers()["content-type"] == "image/png";
    let body = r.bytes().await.unwrap();
    if is_png {
        0
    } else {
        errcode(&serde_json::from_slice(&body).unwrap())
    }
}

#[tokio::test]
async fn a_new_token_invalidates_the_old_after_five_minutes() {
    let sim = spawn_with_app(vec![]).await;
    let t1 = get_json(&token_url(&sim, SECRET)).await;
    assert_eq!(t1["expires_in"], 7200);
    let t1 = t1["access_token"].as_str().unwrap().to_owned();
    assert!(t1.len() >= 100);
    assert_eq!(use_token(&sim, &t1).await, 0);
    let t2 = get_json(&token_url(&sim, SECRET)).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(t1, t2);
    sim.advance(Duration::seconds(299));
    assert_eq!(use_token(&sim, &t1).await, 0, "grace period");
    sim.advance(Duration::seconds(1));
    assert_eq!(use_token(&sim, &t1).await, 40001);
    assert_eq!(use_token(&sim, &t2).await, 0);
    sim.advance(Duration::seconds(7200 - 300));
    assert_eq!(use_token(&sim, &t2).await, 42001);
    assert_eq!(use_token(&sim, "garbage").await, 40001);
    let missing = client()
        .post(format!("{}/wxa/getwxacodeunlimit", sim.base_url()))
        .json(&json!({"scene": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(errcode(&missing.json().await.unwrap()), 41001);
    assert_eq!(errcode(&get_json(&token_url(&sim, "wrong")).await), 40001);
}

#[tokio::test]
async fn stable_token_is_stable_until_forced() {
    let sim = spawn_with_app(vec![]).await;
    let url = format!("{}/cgi-bin/stable_token", sim.base_url());
    let body = json!({"grant_type": "client_credential", "appid": APPID, "secret": SECRET});
    let (_, a) = post_json(&url, &body).await;
    let a = a["access_token"].as_str().unwrap().to_owned();
    sim.advance(Duration::seconds(100));
    let (_, b) = post_json(&url, &body).await;
    assert_eq!(b["access_token"], a.as_str());
    assert_eq!(b["expires_in"], 7100);
    // /cgi-bin/token does not touch stable tokens.
    get_json(&token_url(&sim, SECRET)).await;
    sim.advance(Duration::minutes(10));
    assert_eq!(use_token(&sim, &a).await, 0);
    let mut forced = body.clone();
    forced["force_refresh"] = json!(true);
    let (_, c) = post_json(&url, &forced).await;
    let c = c["access_token"].as_str().unwrap().to_owned();
    assert_ne!(c, a);
    assert_eq!(use_token(&sim, &a).await, 40001);
    assert_eq!(use_token(&sim, &c).await, 0);
    // force_refresh at most every 30 s.
    let (_, d) = post_json(&url, &forced).await;
    assert_eq!(errcode(&d), 45009);
    let (_, bad) = post_json(
        &url,
        &json!({"grant_type": "client_credential", "appid": APPID, "secret": "x"}),
    )
    .await;
    assert_eq!(errcode(&bad), 40001);
    // Renewed in the last five minutes.
    sim.advance(Duration::seconds(7200 - 200));
    let (_, e) = post_json(&url, &body).await;
    assert_ne!(e["access_token"], c.as_str());
    assert_eq!(
        use_token(&sim, &c).await,
        0,
        "old one usable until it expires"
    );
}

async fn token(sim: &paygate_sim::RunningSim) -> String {
    get_json(&token_url(sim, SECRET)).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn decode_qr(png_bytes: &[u8]) -> (u32, String) {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let p = &buf[(y * w + x) * 4..];
        // Transparent pixels are background.
        if p[3] == 0 { 255 } else { p[0] }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    (info.width, grids[0].decode().unwrap().1)
}

#[tokio::test]
async fn wxacode_is_a_real_qr_code_of_page_and_scene() {
    let sim = spawn_with_app(vec![
        "pages/index/index".into(),
        "pages/order/detail".into(),
    ])
    .await;
    let url = format!(
        "{}/wxa/getwxacodeunlimit?access_token={}",
        sim.base_url(),
        token(&sim).await
    );
    let r = client()
        .post(&url)
        .json(&json!({"scene": "id=42&t=x", "page": "pages/order/detail", "width": 280}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "image/png");
    let (width, text) = decode_qr(&r.bytes().await.unwrap());
    assert_eq!(width, 280);
    assert_eq!(text, "pages/order/detail?scene=id=42&t=x");
    // Default page, default width, transparent background, coloured lines.
    let r = client()
        .post(&url)
        .json(
            &json!({"scene": "abc", "is_hyaline": true, "line_color": {"r": 0, "g": 0, "b": 128}}),
        )
        .send()
        .await
        .unwrap();
    let (width, text) = decode_qr(&r.bytes().await.unwrap());
    assert_eq!((width, text.as_str()), (430, "pages/index/index?scene=abc"));
}

#[tokio::test]
async fn wxacode_rules() {
    let sim = spawn_with_app(vec!["pages/index/index".into()]).await;
    let url = format!(
        "{}/wxa/getwxacodeunlimit?access_token={}",
        sim.base_url(),
        token(&sim).await
    );
    let cases = [
        (json!({"scene": "a".repeat(33)}), 40169),
        (json!({"scene": ""}), 40169),
        (json!({"page": "pages/index/index"}), 40169),
        (json!({"scene": "订单1"}), 40097),
        (json!({"scene": "a b"}), 40097),
        (json!({"scene": "a%20b"}), 40097),
        (json!({"scene": "a", "page": "/pages/index/index"}), 41030),
        (
            json!({"scene": "a", "page": "pages/index/index?x=1"}),
            41030,
        ),
        (
            json!({"scene": "a", "page": "pages/missing/missing"}),
            41030,
        ),
        (json!({"scene": "a", "width": 279}), 40097),
        (json!({"scene": "a", "width": 1281}), 40097),
        (json!({"scene": "a", "env_version": "beta"}), 40097),
        (
            json!({"scene": "a", "line_color": {"r": 300, "g": 0, "b": 0}}),
            40097,
        ),
    ];
    for (body, code) in cases {
        let (status, v) = post_json(&url, &body).await;
        assert_eq!((status, errcode(&v)), (200, code), "{body}");
    }
    for ok in [
        json!({"scene": "a", "page": "pages/missing/missing", "check_path": false}),
        json!({"scene": "!#$&'()*+,/:;=?@-._~", "width": 1280}),
    ] {
        let r = client().post(&url).json(&ok).send().await.unwrap();
        assert_eq!(r.headers()["content-type"], "image/png", "{ok}");
    }
    let r = client().post(&url).body("not json").send().await.unwrap();
    assert_eq!(errcode(&r.json().await.unwrap()), 47001);
    let r = client().get(&url).send().await.unwrap();
    assert_eq!(errcode(&r.json().await.unwrap()), 43002);
}

#[tokio::test]
async fn phone_codes_are_single_use_and_per_app() {
    let sim = spawn_with_app(vec![]).await;
    sim.sim()
        .register_app(paygate_sim::AppSpec {
            appid: "wxother0000000001".into(),
            secret: "other".into(),
            pages: vec![],
        })
        .unwrap();
    let openid = sim.sim().create_user(APPID, None, None).unwrap();
    let code = sim
        .sim()
        .phone_code(APPID, &openid, Some("13800138000".into()))
        .unwrap();
    let other_token = get_json(&format!(
        "{}/cgi-bin/token?grant_type=client_credential&appid=wxother0000000001&secret=other",
        sim.base_url()
    ))
    .await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let url = |t: &str| {
        format!(
            "{}/wxa/business/getuserphonenumber?access_token={t}",
            sim.base_url()
        )
    };
    let (_, v) = post_json(&url(&other_token), &json!({"code": code})).await;
    assert_eq!(errcode(&v), 40029);
    let t = token(&sim).await;
    let (_, v) = post_json(&url(&t), &json!({"code": code})).await;
    assert_eq!(errcode(&v), 0);
    assert_eq!(v["phone_info"]["purePhoneNumber"], "13800138000");
    assert_eq!(v["phone_info"]["watermark"]["appid"], APPID);
    let (_, v) = post_json(&url(&t), &json!({"code": code})).await;
    assert_eq!(errcode(&v), 40029);
    let late = sim.sim().phone_code(APPID, &openid, None).unwrap();
    sim.advance(Duration::minutes(5));
    let t = token(&sim).await;
    let (_, v) = post_json(&url(&t), &json!({"code": late})).await;
    assert_eq!(errcode(&v), 40029);
}

#[tokio::test]
async fn control_api_mints_users_and_codes() {
    let sim = spawn().await;
    let base = sim.base_url();
    let (s, _) = post_json(
        &format!("{base}/sim/apps"),
        &json!({"appid": APPID, "secret": SECRET}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, u) = post_json(&format!("{base}/sim/apps/{APPID}/users"), &json!({})).await;
    assert_eq!(s, 201);
    let openid = u["openid"].as_str().unwrap();
    let (s, c) = post_json(
        &format!("{base}/sim/apps/{APPID}/users/{openid}/login-code"),
        &json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let v = get_json(&login_url(&sim, APPID, SECRET, c["code"].as_str().unwrap())).await;
    assert_eq!(v["openid"], openid);
    let (s, _) = post_json(&format!("{base}/sim/apps/nosuchapp/users"), &json!({})).await;
    assert_eq!(s, 404);
    let (s, clock) = post_json(
        &format!("{base}/sim/clock"),
        &json!({"advance_seconds": 60}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(clock["unix"].as_i64().unwrap(), sim.now().unix_timestamp());
}

#[tokio::test]
async fn injected_faults_reach_mini_program_clients() {
    let sim = spawn_with_app(vec![]).await;
    let base = sim.base_url();
    let (s, _) = post_json(
        &format!("{base}/sim/faults"),
        &json!({"kind": "system_error", "endpoint": "/cgi-bin/token"}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(errcode(&get_json(&token_url(&sim, SECRET)).await), -1);
    assert_eq!(errcode(&get_json(&token_url(&sim, SECRET)).await), 0);
    let (s, _) = post_json(
        &format!("{base}/sim/faults"),
        &json!({"kind": "http_500", "endpoint": "/cgi-bin/token"}),
    )
    .await;
    assert_eq!(s, 201);
    assert_eq!(
        client()
            .get(token_url(&sim, SECRET))
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    post_json(
        &format!("{base}/sim/faults"),
        &json!({"kind": "drop_connection", "endpoint": "/cgi-bin/token"}),
    )
    .await;
    let dropped = client().get(token_url(&sim, SECRET)).send().await;
    let failed = match dropped {
        Err(_) => true,
        Ok(r) => r.bytes().await.is_err(),
    };
    assert!(failed, "the client must see a transport error");
}
