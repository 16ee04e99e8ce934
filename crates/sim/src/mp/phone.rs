//! `POST /wxa/business/getuserphonenumber?access_token=…`: a phone code (minted through the
//! control API, single use, five minutes) for the user's phone number. The code belongs to one
//! app: a token of another app gets 40029, like an unknown, used or expired code.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{busy, check_access_token, mp_error, mp_ok};
use crate::http::{Injected, dropped, inject};
use crate::state::Sim;

#[derive(Debug, Deserialize)]
struct Body {
    code: Option<String>,
}

pub async fn getuserphonenumber(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let injected = inject(&sim, "/wxa/business/getuserphonenumber", None, || {
        busy(&sim)
    })
    .await;
    if let Injected::Respond(r) = injected {
        return r;
    }
    let reply = phone(&sim, q.get("access_token").map(String::as_str), &body);
    if matches!(injected, Injected::DropAfter) {
        dropped()
    } else {
        reply
    }
}

fn phone(sim: &Sim, token: Option<&str>, body: &[u8]) -> Response {
    let now = sim.now();
    let mut world = sim.world();
    let appid = match check_access_token(&world, token, now) {
        Err((code, msg)) => return mp_error(sim, code, msg),
        Ok(a) => a,
    };
    let Ok(b) = serde_json::from_slice::<Body>(body) else {
        return mp_error(sim, 47001, "data format error");
    };
    let Some(code) = b.code.filter(|c| !c.is_empty()) else {
        return mp_error(sim, 41008, "missing code");
    };
    let Some(app) = world.apps.get_mut(&appid) else {
        return mp_error(sim, 40013, "invalid appid");
    };
    let Some(entry) = app.phone_codes.get_mut(&code) else {
        return mp_error(sim, 40029, "invalid code");
    };
    if entry.used || now >= entry.expires_at {
        return mp_error(sim, 40029, "invalid code");
    }
    entry.used = true;
    let phone = entry.phone.clone();
    mp_ok(serde_json::json!({
        "errcode": 0,
        "errmsg": "ok",
        "phone_info": {
            // Chinese numbers carry no country prefix in phoneNumber; foreign ones would.
            "phoneNumber": phone,
            "purePhoneNumber": phone,
            "countryCode": "86",
            "watermark": { "timestamp": now.unix_timestamp(), "appid": appid }
        }
    }))
}
