//! `serve --sim`: the seeded demo works against the running server, and survives a restart.

use serde_json::Value;

use crate::support::{config_in, data_dir, http, mode_of, start_demo, tempdir};

fn read_demo(dir: &std::path::Path) -> Value {
    let path = data_dir(dir).join("demo.json");
    assert_eq!(mode_of(&path), 0o600);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn get(url: String, bearer: &str) -> (u16, Value) {
    let res = http().get(url).bearer_auth(bearer).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn demo_seeds_credentials_that_work_and_reuses_them_after_a_restart() {
    let dir = tempdir();
    let running = start_demo(config_in(dir.path())).await.unwrap();
    let demo = read_demo(dir.path());
    let base = running.base_url().to_owned();
    assert_eq!(demo["paygate_url"], base.as_str());
    let sim_url = running.sim().unwrap().base_url().to_owned();
    assert_eq!(demo["simulator"]["http"], sim_url.as_str());
    // Every upstream is the simulator.
    assert_eq!(running.report().wechatpay_base_url, sim_url);
    assert_eq!(running.report().miniprogram_base_url, sim_url);

    // The operator token reaches the admin API and sees the demo tenant.
    let token = demo["admin_token"].as_str().unwrap();
    let tenant_id = demo["tenant_id"].as_str().unwrap().to_owned();
    let (status, body) = get(format!("{base}/admin/v1/tenants/{tenant_id}"), token).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tenant_id.as_str());

    // The operator password logs in.
    let login = http()
        .post(format!("{base}/admin/v1/login"))
        .json(&serde_json::json!({
            "username": demo["operator"]["username"],
            "password": demo["operator"]["password"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);

    // The API key authenticates as the tenant.
    let api_key = demo["api_key"].as_str().unwrap();
    let (status, me) = get(format!("{base}/v1/me"), api_key).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["tenant_id"], tenant_id.as_str());
    assert_eq!(me["scopes"].as_array().map(Vec::len), Some(3), "{me}");

    // The simulator knows the demo app and merchant.
    let sim = running.sim().unwrap();
    let appid = demo["appid"].as_str().unwrap();
    assert!(sim.sim().create_user(appid, None, None).is_ok());
    assert!(
        sim.sim()
            .platform_info(demo["mch_id"].as_str().unwrap())
            .is_ok()
    );
    assert!(
        demo["webhook"]["secret"]
            .as_str()
            .is_some_and(|s| !s.is_empty())
    );
    running.shutdown().await.unwrap();

    // A restart finds the same tenant, channels, password and key; the token is fresh.
    let running = start_demo(config_in(dir.path())).await.unwrap();
    let again = read_demo(dir.path());
    for key in ["tenant_id", "api_key", "appid", "app_secret"] {
        assert_eq!(again[key], demo[key], "{key}");
    }
    assert_eq!(again["channels"], demo["channels"]);
    assert_eq!(again["operator"], demo["operator"]);
    assert_eq!(again["webhook"]["secret"], demo["webhook"]["secret"]);
    let base = running.base_url().to_owned();
    let (status, _) = get(format!("{base}/v1/me"), again["api_key"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    let (status, _) = get(
        format!("{base}/admin/v1/tenants"),
        again["admin_token"].as_str().unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    running.shutdown().await.unwrap();
}
