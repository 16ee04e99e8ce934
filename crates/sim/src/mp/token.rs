//! Access tokens: `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`, and the check every
//! token-protected API makes.
//!
//! `/cgi-bin/token` issues a new token at every call; the previous ones keep working for a
//! five-minute grace period and then answer 40001 (the "token stomping" of gotcha G16).
//! `stable_token` returns the same token while it is valid (renewing it in its last five
//! minutes) unless `force_refresh`, which kills the old one at once; the two families never
//! invalidate each other. Every token lives 7200 s on the simulator's clock (then 42001).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use time::{Duration, OffsetDateTime};

use super::{busy, mp_error, mp_ok};
use crate::http::{Injected, dropped, inject};
use crate::state::{AccessToken, App, Sim, World};

pub const TOKEN_TTL: Duration = Duration::seconds(7200);
pub const GRACE: Duration = Duration::minutes(5);

fn new_token(sim: &Sim) -> String {
    // Real tokens are ~140 printable characters; WeChat asks for 512 characters of storage.
    sim.random_from(
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_-",
        157,
    )
}

pub async fn token(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    let injected = inject(&sim, "/cgi-bin/token", None, || busy(&sim)).await;
    if let Injected::Respond(r) = injected {
        return r;
    }
    let get = |k: &str| q.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let reply = match credentials(&sim, get("grant_type"), get("appid"), get("secret")) {
        Err(r) => r,
        Ok(appid) => {
            let now = sim.now();
            let token = new_token(&sim);
            let mut world = sim.world();
            match world.apps.get_mut(&appid) {
                None => mp_error(&sim, 40013, "invalid appid"),
                Some(app) => {
                    for old in &mut app.tokens {
                        let end = now + GRACE;
                        old.revoked_at = Some(old.revoked_at.map_or(end, |r| r.min(end)));
                    }
                    app.tokens.push(AccessToken {
                        token: token.clone(),
                        expires_at: now + TOKEN_TTL,
                        revoked_at: None,
                    });
                    prune(&mut app.tokens, now);
                    mp_ok(serde_json::json!({ "access_token": token, "expires_in": 7200 }))
                }
            }
        }
    };
    if matches!(injected, Injected::DropAfter) {
        dropped()
    } else {
        reply
    }
}

/// Checks grant_type, appid and secret; the appid on success.
fn credentials(
    sim: &Sim,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
) -> Result<String, Response> {
    let Some(appid) = appid else {
        return Err(mp_error(sim, 41002, "appid missing"));
    };
    let Some(secret) = secret else {
        return Err(mp_error(sim, 41004, "appsecret missing"));
    };
    if grant_type != Some("client_credential") {
        return Err(mp_error(sim, 40002, "invalid grant_type"));
    }
    let world = sim.world();
    match world.apps.get(appid) {
        None => Err(mp_error(sim, 40013, "invalid appid")),
        Some(app) if app.secret != secret => Err(mp_error(
            sim,
            40001,
            "invalid credential, access_token is invalid or not latest",
        )),
        Some(_) => Ok(appid.to_owned()),
    }
}

#[derive(Debug, serde::Deserialize)]
struct StableTokenBody {
    grant_type: Option<String>,
    appid: Option<String>,
    secret: Option<String>,
    #[serde(default)]
    force_refresh: bool,
}

pub async fn stable_token(State(sim): State<Sim>, body: Bytes) -> Response {
    let injected = inject(&sim, "/cgi-bin/stable_token", None, || busy(&sim)).await;
    if let Injected::Respond(r) = injected {
        return r;
    }
    let reply = stable(&sim, &body);
    if matches!(injected, Injected::DropAfter) {
        dropped()
    } else {
        reply
    }
}

fn stable(sim: &Sim, body: &[u8]) -> Response {
    let Ok(b) = serde_json::from_slice::<StableTokenBody>(body) else {
        return mp_error(sim, 47001, "data format error");
    };
    let appid = match credentials(
        sim,
        b.grant_type.as_deref(),
        b.appid.as_deref().filter(|s| !s.is_empty()),
        b.secret.as_deref().filter(|s| !s.is_empty()),
    ) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = sim.now();
    let fresh = new_token(sim);
    let mut world = sim.world();
    let Some(app) = world.apps.get_mut(&appid) else {
        return mp_error(sim, 40013, "invalid appid");
    };
    if b.force_refresh {
        app.stable_force_refreshes
            .retain(|t| now - *t < Duration::days(1));
        let too_soon = app
            .stable_force_refreshes
            .last()
            .is_some_and(|t| now - *t < Duration::seconds(30));
        if too_soon || app.stable_force_refreshes.len() >= 20 {
            return mp_error(sim, 45009, "reach max api daily quota limit");
        }
        app.stable_force_refreshes.push(now);
        for old in &mut app.stable_tokens {
            old.revoked_at = Some(now);
        }
        return issue_stable(app, fresh, now);
    }
    let current = app
        .stable_tokens
        .iter()
        .rev()
        .find(|t| t.revoked_at.is_none_or(|r| now < r) && now < t.expires_at)
        .cloned();
    match current {
        // Renewed during its last five minutes; the old one stays usable until it expires.
        Some(t) if t.expires_at - now > GRACE => {
            let left = (t.expires_at - now).whole_seconds();
            mp_ok(serde_json::json!({ "access_token": t.token, "expires_in": left }))
        }
        _ => issue_stable(app, fresh, now),
    }
}

fn issue_stable(app: &mut App, token: String, now: OffsetDateTime) -> Response {
    app.stable_tokens.push(AccessToken {
        token: token.clone(),
        expires_at: now + TOKEN_TTL,
        revoked_at: None,
    });
    prune(&mut app.stable_tokens, now);
    mp_ok(serde_json::json!({ "access_token": token, "expires_in": 7200 }))
}

/// Drops tokens dead for a day, so a long demo does not grow without bound.
fn prune(tokens: &mut Vec<AccessToken>, now: OffsetDateTime) {
    tokens.retain(|t| {
        let dead = t.revoked_at.map_or(t.expires_at, |r| r.min(t.expires_at));
        now - dead < Duration::days(1)
    });
}

/// Why a token was refused: `(errcode, errmsg)`.
pub type TokenError = (i64, &'static str);

/// The appid a token belongs to, or WeChat's error: 41001 missing, 40001 unknown or
/// superseded, 42001 expired.
pub fn check_access_token(
    world: &World,
    token: Option<&str>,
    now: OffsetDateTime,
) -> Result<String, TokenError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err((41001, "access_token missing"));
    };
    const INVALID: TokenError = (
        40001,
        "invalid credential, access_token is invalid or not latest",
    );
    for app in world.apps.values() {
        if let Some(t) = app
            .tokens
            .iter()
            .chain(&app.stable_tokens)
            .find(|t| t.token == token)
        {
            if now >= t.expires_at {
                return Err((42001, "access_token expired"));
            }
            if t.revoked_at.is_some_and(|r| now >= r) {
                return Err(INVALID);
            }
            return Ok(app.appid.clone());
        }
    }
    Err(INVALID)
}
