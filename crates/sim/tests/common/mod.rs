//! Shared set-up for the simulator's integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use paygate_sim::{AppSpec, RunningSim, SimConfig, Simulator};
use serde_json::Value;

pub const APPID: &str = "wxd678efh567hg6787";
pub const SECRET: &str = "s3cretAppSecret0123456789abcdef";

pub async fn spawn() -> RunningSim {
    Simulator::spawn(SimConfig::for_tests()).await.unwrap()
}

pub async fn spawn_with_app(pages: Vec<String>) -> RunningSim {
    let sim = spawn().await;
    sim.sim()
        .register_app(AppSpec {
            appid: APPID.into(),
            secret: SECRET.into(),
            pages,
        })
        .unwrap();
    sim
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

pub async fn get_json(url: &str) -> Value {
    let r = client().get(url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

pub async fn post_json(url: &str, body: &Value) -> (u16, Value) {
    let r = client().post(url).json(body).send().await.unwrap();
    let status = r.status().as_u16();
    let bytes = r.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

pub fn errcode(v: &Value) -> i64 {
    v.get("errcode").and_then(Value::as_i64).unwrap_or(0)
}

pub fn fixtures() -> Value {
    serde_json::from_str(include_str!(
        "../../../../fixtures/wechatpay/test-vectors.json"
    ))
    .unwrap()
}

pub fn fixture_key(name: &str) -> String {
    fixtures()["fixture_keys"][name]
        .as_str()
        .unwrap()
        .to_owned()
}
pub mod listener;
