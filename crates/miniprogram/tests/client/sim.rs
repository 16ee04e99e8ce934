//! Against the real simulator (`paygate-sim`) on port 0: login and its errors, tokens on the
//! simulator's clock (the client reads the same clock, moved through `POST /sim/clock`), token
//! stomping and forced refreshes by someone else, wxacode PNGs decoded back to page and scene,
//! and phone numbers.
//!
//! Set-up goes through the simulator's HTTP control API (`/sim/...`), as a demo script would.

use std::sync::Arc;

use paygate_core::Clock;
use paygate_miniprogram::{
    AppCredentials, ImageFormat, MiniProgramClient, MiniProgramConfig, MiniProgramError, TokenMode,
    WxaCodeRequest,
};
use paygate_sim::{RunningSim, SimConfig, Simulator};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

const APPID: &str = "wxsim0000000000001";
const SECRET: &str = "sim-app-secret-0001";
const PAGE: &str = "pages/pay/index";
const HOME: &str = "pages/index/index";

struct World {
    sim: RunningSim,
    http: reqwest::Client,
}

impl World {
    async fn start() -> World {
        let sim = Simulator::spawn(SimConfig::for_tests()).await.unwrap();
        let world = World {
            sim,
            http: reqwest::Client::new(),
        };
        world
            .control(
                "/sim/apps",
                json!({"appid": APPID, "secret": SECRET, "pages": [HOME, PAGE]}),
            )
            .await;
        world
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn user(&self, unionid: Option<&str>) -> String {
        let body = match unionid {
            Some(u) => json!({"unionid": u}),
            None => json!({}),
        };
        let v = self
            .control(&format!("/sim/apps/{APPID}/users"), body)
            .await;
        v["openid"].as_str().unwrap().to_owned()
    }

    async fn login_code(&self, openid: &str) -> String {
        let v = self
            .control(
                &format!("/sim/apps/{APPID}/users/{openid}/login-code"),
                json!({}),
            )
            .await;
        v["code"].as_str().unwrap().to_owned()
    }

    async fn advance(&self, seconds: i64) {
        self.control("/sim/clock", json!({"advance_seconds": seconds}))
            .await;
    }

    /// A client that reads the simulator's clock, so both agree on every expiry.
    fn client(&self, mode: TokenMode) -> MiniProgramClient {
        let clock: Arc<dyn Clock> = Arc::new(self.sim.sim().clock.clone());
        let config = MiniProgramConfig::new(clock)
            .with_base_url(self.sim.base_url())
            .with_token_mode(mode);
        MiniProgramClient::new(config).unwrap()
    }
}

fn app() -> AppCredentials {
    AppCredentials::new(APPID.parse().unwrap(), SECRET)
}

/// Decodes the QR code in a PNG (any colour type, alpha composited on white) to its text.
fn qr_text(png_bytes: &[u8]) -> String {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let has_alpha = matches!(
        info.color_type,
        png::ColorType::Rgba | png::ColorType::GrayscaleAlpha
    );
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let px = &buf[y * info.line_size + x * channels..][..channels];
        let luma = if channels >= 3 {
            (u32::from(px[0]) + u32::from(px[1]) + u32::from(px[2])) / 3
        } else {
            u32::from(px[0])
        };
        let alpha = if has_alpha {
            u32::from(px[channels - 1])
        } else {
            255
        };
        u8::try_from((luma * alpha + 255 * (255 - alpha)) / 255).unwrap()
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

#[tokio::test]
async fn login_happy_path() {
    let world = World::start().await;
    let openid = world.user(Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA")).await;
    let code = world.login_code(&openid).await;
    let session = world
        .client(TokenMode::Stable)
        .jscode2session(&app(), &code)
        .await
        .unwrap();
    assert_eq!(session.openid.as_str(), openid);
    assert_eq!(
        session.unionid.map(|u| u.as_str().to_owned()).as_deref(),
        Some("ocMvos6NjeKLIBqg5Mr9QjxrP1FA")
    );
    assert_eq!(
        session.session_key.expose_secret().len(),
        24,
        "base64 of 16 bytes"
    );
    world.sim.shutdown().await;
}

#[tokio::test]
async fn login_errors_from_the_simulator() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let openid = world.user(None).await;

    assert_eq!(
        client
            .jscode2session(&app(), "nosuchcode")
            .await
            .unwrap_err(),
        MiniProgramError::CodeInvalid
    );

    let code = world.login_code(&openid).await;
    let wrong_secret = AppCredentials::new(APPID.parse().unwrap(), "wrong");
    let err = client
        .jscode2session(&wrong_secret, &code)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MiniProgramError::AppCredentials { errcode: 40125, .. }),
        "{err:?}"
    );
    let unknown_app = AppCredentials::new("wxunknown".parse().unwrap(), SECRET);
    let err = client
        .jscode2session(&unknown_app, &code)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MiniProgramError::AppCredentials { errcode: 40013, .. }),
        "{err:?}"
    );

    // Used once: a second exchange is 40163.
    assert!(client.jscode2session(&app(), &code).await.is_ok());
    assert_eq!(
        client.jscode2session(&app(), &code).await.unwrap_err(),
        MiniProgramError::CodeUsed
    );

    // Five minutes later an unused code is dead.
    let late = world.login_code(&openid).await;
    world.advance(301).await;
    assert_eq!(
        client.jscode2session(&app(), &late).await.unwrap_err(),
        MiniProgramError::CodeInvalid
    );
    world.sim.shutdown().await;
}

#[tokio::test]
async fn login_frequency_limit() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let openid = world.user(None).await;
    let code = world.login_code(&openid).await;
    // 100 calls a minute per user count, used codes included.
    assert!(client.jscode2session(&app(), &code).await.is_ok());
    for _ in 1..100 {
        assert_eq!(
            client.jscode2session(&app(), &code).await.unwrap_err(),
            MiniProgramError::CodeUsed
        );
    }
    let fresh = world.login_code(&openid).await;
    let err = client.jscode2session(&app(), &fresh).await.unwrap_err();
    assert_eq!(err, MiniProgramError::RateLimited { errcode: 45011 });
    assert!(err.is_retryable());
    // A minute later the same (still unused) code works.
    world.advance(61).await;
    assert!(client.jscode2session(&app(), &fresh).await.is_ok());
    world.sim.shutdown().await;
}

#[tokio::test]
async fn classic_token_is_cached_until_five_minutes_before_expiry() {
    let world = World::start().await;
    let client = world.client(TokenMode::Classic);
    // The classic API issues a new token on every call, so an unchanged token proves the cache.
    let first = client.access_token(&app()).await.unwrap();
    world.advance(7200 - 301).await;
    let cached = client.access_token(&app()).await.unwrap();
    assert_eq!(cached.expose_secret(), first.expose_secret());
    world.advance(2).await;
    let renewed = client.access_token(&app()).await.unwrap();
    assert_ne!(renewed.expose_secret(), first.expose_secret());
    // The renewed token works upstream, past the old one's expiry too.
    world.advance(600).await;
    let code = client
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn stable_token_refreshes_ahead_and_after_expiry() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let other = world.client(TokenMode::Stable);
    let first = client.access_token(&app()).await.unwrap();
    // Another instance gets the very same stable token: no stomping.
    assert_eq!(
        other.access_token(&app()).await.unwrap().expose_secret(),
        first.expose_secret()
    );
    world.advance(7200 - 299).await;
    // Inside the last five minutes WeChat (and the simulator) renew it; so does the client.
    let renewed = client.access_token(&app()).await.unwrap();
    assert_ne!(renewed.expose_secret(), first.expose_secret());
    // Far past every expiry, with no call in between: a fresh token, and calls just work.
    world.advance(3 * 7200).await;
    let code = client
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
    world.sim.shutdown().await;
}

#[tokio::test]
async fn a_token_stomped_by_another_holder_is_replaced_once() {
    let world = World::start().await;
    let ours = world.client(TokenMode::Classic);
    let theirs = world.client(TokenMode::Classic);
    let stomped = ours.access_token(&app()).await.unwrap();
    // Someone else fetches a classic token: ours dies after the 5-minute grace period.
    theirs.access_token(&app()).await.unwrap();
    world.advance(6 * 60).await;
    let code = ours
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
    let now_cached = ours.access_token(&app()).await.unwrap();
    assert_ne!(now_cached.expose_secret(), stomped.expose_secret());
    world.sim.shutdown().await;
}

#[tokio::test]
async fn a_stable_token_killed_by_a_forced_refresh_elsewhere_is_replaced() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let old = client.access_token(&app()).await.unwrap();
    // Another system force-refreshes: the old stable token dies at once.
    let forced = world
        .http
        .post(format!("{}/cgi-bin/stable_token", world.sim.base_url()))
        .json(&json!({"grant_type": "client_credential", "appid": APPID, "secret": SECRET, "force_refresh": true}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let new = forced["access_token"].as_str().unwrap();
    assert_ne!(new, old.expose_secret());
    client
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new("a=1"))
        .await
        .unwrap();
    // The normal (not forced) call was enough: it returned the new current token.
    assert_eq!(
        client.access_token(&app()).await.unwrap().expose_secret(),
        new
    );
    world.sim.shutdown().await;
}

#[tokio::test]
async fn wxacode_png_decodes_to_page_and_scene() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let request = WxaCodeRequest::new("order=42&t=1").page(PAGE).width(430);
    let code = client
        .get_unlimited_wxacode(&app(), &request)
        .await
        .unwrap();
    assert_eq!(code.format, ImageFormat::Png);
    assert_eq!(qr_text(&code.bytes), format!("{PAGE}?scene=order=42&t=1"));

    // No page: the app's first (home) page; the full scene alphabet survives the trip.
    let scene = "!#$&'()*+,/:;=?@-._~Az09";
    let code = client
        .get_unlimited_wxacode(&app(), &WxaCodeRequest::new(scene))
        .await
        .unwrap();
    assert_eq!(qr_text(&code.bytes), format!("{HOME}?scene={scene}"));

    let unpublished = WxaCodeRequest::new("a=1").page("pages/missing/index");
    let err = client
        .get_unlimited_wxacode(&app(), &unpublished)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MiniProgramError::PageNotFound { .. }),
        "{err:?}"
    );
    world.sim.shutdown().await;
}

#[tokio::test]
async fn phone_number_from_the_simulator() {
    let world = World::start().await;
    let client = world.client(TokenMode::Stable);
    let openid = world.user(None).await;
    let v = world
        .control(
            &format!("/sim/apps/{APPID}/users/{openid}/phone-code"),
            json!({"phone_number": "13800138000"}),
        )
        .await;
    let code = v["code"].as_str().unwrap();
    let info = client.get_user_phone_number(&app(), code).await.unwrap();
    assert_eq!(info.pure_phone_number, "13800138000");
    assert_eq!(info.country_code, "86");
    assert_eq!(info.issued_at, world.sim.now().unix_timestamp());
    // Single use.
    assert_eq!(
        client
            .get_user_phone_number(&app(), code)
            .await
            .unwrap_err(),
        MiniProgramError::CodeInvalid
    );
    world.sim.shutdown().await;
}
