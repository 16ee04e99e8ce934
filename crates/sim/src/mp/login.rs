//! `GET /sns/jscode2session`: a `wx.login` code for the user's openid and session key.
//!
//! A code minted through the control API works exactly once (reuse: 40163) for five minutes
//! (later, or never minted: 40029), and each user may log in 100 times per minute (45011).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use base64::Engine;
use time::Duration;

use super::{busy, mp_error, mp_ok};
use crate::http::{Injected, dropped, inject};
use crate::state::Sim;

/// Logins per user per minute before 45011.
pub const LOGIN_LIMIT_PER_MINUTE: usize = 100;

pub async fn jscode2session(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let injected = inject(&sim, "/sns/jscode2session", None, || busy(&sim)).await;
    if let Injected::Respond(r) = injected {
        return r;
    }
    let reply = login(&sim, &q);
    if matches!(injected, Injected::DropAfter) {
        dropped()
    } else {
        reply
    }
}

fn login(sim: &Sim, q: &HashMap<String, String>) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(appid) = get("appid") else {
        return mp_error(sim, 41002, "appid missing");
    };
    let Some(secret) = get("secret") else {
        return mp_error(sim, 41004, "appsecret missing");
    };
    let Some(code) = get("js_code") else {
        return mp_error(sim, 41008, "missing code");
    };
    if get("grant_type") != Some("authorization_code") {
        return mp_error(sim, 40002, "invalid grant_type");
    }
    let now = sim.now();
    let session_key = base64::engine::general_purpose::STANDARD.encode(sim.random_bytes(16));
    let mut world = sim.world();
    let Some(app) = world.apps.get_mut(appid) else {
        return mp_error(sim, 40013, "invalid appid");
    };
    if app.secret != secret {
        return mp_error(sim, 40125, "invalid appsecret");
    }
    let Some(entry) = app.login_codes.get(code).cloned() else {
        return mp_error(sim, 40029, "invalid code");
    };
    let Some(user) = app.users.get_mut(&entry.openid) else {
        return mp_error(sim, 40029, "invalid code");
    };
    // The per-user limit counts every call that names the user, used codes included.
    user.login_calls.retain(|t| now - *t < Duration::minutes(1));
    if user.login_calls.len() >= LOGIN_LIMIT_PER_MINUTE {
        return mp_error(
            sim,
            45011,
            "api minute-quota reach limit  mustslower  retry next minute",
        );
    }
    user.login_calls.push(now);
    if entry.used {
        return mp_error(sim, 40163, "code been used");
    }
    if now >= entry.expires_at {
        return mp_error(sim, 40029, "invalid code");
    }
    user.session_key = session_key.clone();
    let openid = user.openid.clone();
    let unionid = user.unionid.clone();
    if let Some(c) = app.login_codes.get_mut(code) {
        c.used = true;
    }
    let mut body = serde_json::json!({ "session_key": session_key, "openid": openid });
    if let (Some(u), Some(obj)) = (unionid, body.as_object_mut()) {
        obj.insert("unionid".to_owned(), serde_json::Value::String(u));
    }
    // WeChat answers this one as text/plain; clients must parse the body regardless.
    let mut r = mp_ok(body);
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/plain"),
    );
    r
}
