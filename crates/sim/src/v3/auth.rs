//! Authenticating a v3 request and writing signed v3 answers.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;
use paygate_core::Clock;
use paygate_wechat_v3::sign::{parse_authorization, signature_message};
use paygate_wechat_v3::verify::MAX_SKEW_SECONDS;

use crate::http::{Injected, inject};
use crate::state::Sim;

/// An authenticated v3 request.
#[derive(Debug)]
pub struct V3Ctx {
    pub mchid: String,
    pub drop_after: bool,
    /// The next answer carries a probe signature (injected fault).
    pub signtest: bool,
}

/// A signed v3 answer (`body` `None` = empty, as for 204).
pub fn v3_reply(
    sim: &Sim,
    mchid: Option<&str>,
    status: StatusCode,
    body: Option<&serde_json::Value>,
    probe: bool,
) -> Response {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = Vec::new();
    if let Some(id) = mchid {
        let mut world = sim.world();
        if let Some(m) = world.merchants.get_mut(id) {
            headers = crate::v3::signing::sign_headers(sim, m, bytes.as_bytes(), probe);
        }
    }
    let mut r = Response::new(Body::from(bytes.clone()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    if body.is_some() {
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
    }
    headers.push((
        "Request-ID".to_owned(),
        format!("08{}", sim.request_id().to_uppercase()),
    ));
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            h.insert(k, v);
        }
    }
    r
}

/// `{"code":…, "message":…}` with the status, signed when the merchant is known.
pub fn v3_error(
    sim: &Sim,
    mchid: Option<&str>,
    status: StatusCode,
    code: &str,
    message: &str,
) -> Response {
    v3_reply(
        sim,
        mchid,
        status,
        Some(&serde_json::json!({ "code": code, "message": message })),
        false,
    )
}

fn sign_error(sim: &Sim, mchid: Option<&str>, issue: &str, method: &Method, uri: &Uri) -> Response {
    let body = serde_json::json!({
        "code": "SIGN_ERROR",
        "message": "签名错误，请检查后再试",
        "detail": {
            "detail": { "issue": issue },
            "field": "signature",
            "location": "authorization",
            "sign_information": { "method": method.as_str(), "url": uri.path() }
        }
    });
    v3_reply(sim, mchid, StatusCode::UNAUTHORIZED, Some(&body), false)
}

impl V3Ctx {
    /// Checks `Authorization` against the merchant certificate (scheme, merchant, serial,
    /// timestamp within 5 minutes of the simulator's clock, signature over the exact request),
    /// then applies injected faults.
    pub async fn open(
        sim: &Sim,
        fault_path: &str,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<V3Ctx, Response> {
        let Some(auth) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return Err(sign_error(
                sim,
                None,
                "Authorization header missing",
                method,
                uri,
            ));
        };
        let params = parse_authorization(auth).map_err(|e| {
            sign_error(
                sim,
                None,
                &format!("Authorization malformed: {e}"),
                method,
                uri,
            )
        })?;
        let mchid = params.mchid.clone();
        let verdict = {
            let world = sim.world();
            match world.merchants.get(&mchid) {
                None => Err(None),
                Some(m) if !m.keys.serial.eq_ignore_ascii_case(&params.serial_no) => {
                    Err(Some("serial_no does not match the merchant certificate"))
                }
                Some(m) => {
                    let ts = params.timestamp_seconds();
                    let now = sim.clock.unix_seconds();
                    if ts.is_none_or(|t| (now - t).abs() >= MAX_SKEW_SECONDS) {
                        Err(Some("timestamp is more than 5 minutes away"))
                    } else {
                        let canonical = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
                        let msg = signature_message(
                            method.as_str(),
                            canonical,
                            &params.timestamp,
                            &params.nonce_str,
                            body,
                        );
                        m.keys
                            .verifier
                            .verify(&msg, &params.signature)
                            .map_err(|_| Some("sign not match"))
                    }
                }
            }
        };
        match verdict {
            Err(None) => {
                return Err(v3_error(
                    sim,
                    None,
                    StatusCode::BAD_REQUEST,
                    "MCH_NOT_EXISTS",
                    "商户号不存在",
                ));
            }
            Err(Some(issue)) => return Err(sign_error(sim, Some(&mchid), issue, method, uri)),
            Ok(()) => {}
        }
        let mut signtest = false;
        let mut drop_after = false;
        // A probe signature is a fault of the answer, checked before the others.
        if sim.faults.take_signtest(fault_path, &mchid).is_some() {
            signtest = true;
        } else {
            match inject(sim, fault_path, Some(&mchid), || {
                v3_error(
                    sim,
                    Some(&mchid),
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "SYSTEM_ERROR",
                    "系统繁忙，请稍后重试",
                )
            })
            .await
            {
                Injected::Respond(r) => return Err(r),
                Injected::DropAfter => drop_after = true,
                Injected::Proceed => {}
            }
        }
        Ok(V3Ctx {
            mchid,
            drop_after,
            signtest,
        })
    }

    /// A signed answer for this request, honouring drop/probe faults.
    pub fn reply(
        &self,
        sim: &Sim,
        status: StatusCode,
        body: Option<&serde_json::Value>,
    ) -> Response {
        if self.drop_after {
            return crate::http::dropped();
        }
        v3_reply(sim, Some(&self.mchid), status, body, self.signtest)
    }

    pub fn error(&self, sim: &Sim, status: StatusCode, code: &str, message: &str) -> Response {
        self.reply(
            sim,
            status,
            Some(&serde_json::json!({ "code": code, "message": message })),
        )
    }
}
