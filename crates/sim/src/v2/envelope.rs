//! The v2 envelope: parse and authenticate a request, and build signed or unsigned answers.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use paygate_wechat_v2::sign::{self, ApiKey, SignType};
use paygate_wechat_v2::xml::{self, Fields};

use crate::http::{Injected, inject};
use crate::state::Sim;

/// An authenticated v2 request.
#[derive(Debug)]
pub struct V2Ctx {
    pub mch_id: String,
    pub appid: String,
    pub key: ApiKey,
    pub sign_type: SignType,
    pub fields: Fields,
    /// Cut the connection after handling (an injected fault).
    pub drop_after: bool,
}

fn xml_response(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

/// `return_code=FAIL` with `return_msg`: unsigned, no business fields.
pub fn fail(msg: &str) -> Response {
    let mut f = Fields::new();
    f.insert("return_code".into(), "FAIL".into());
    f.insert("return_msg".into(), msg.into());
    xml_response(xml::encode(&f))
}

impl V2Ctx {
    /// Parses, finds the merchant, applies faults and checks the signature.
    pub async fn open(sim: &Sim, path: &str, body: &[u8]) -> Result<V2Ctx, Response> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(fail("post数据为空"));
        }
        let fields = match xml::decode(body) {
            Ok(f) => f,
            Err(xml::XmlError::NotUtf8) => return Err(fail("编码格式错误，请使用UTF-8编码")),
            Err(_) => return Err(fail("XML格式错误")),
        };
        let get = |k: &str| fields.get(k).filter(|v| !v.is_empty()).cloned();
        let Some(mch_id) = get("mch_id") else {
            return Err(fail("mch_id参数格式错误"));
        };
        let Some(appid) = get("appid") else {
            return Err(fail("appid参数格式错误"));
        };
        if get("nonce_str").is_none_or(|n| n.len() > 32) {
            return Err(fail("nonce_str参数格式错误"));
        }
        let sign_type = match fields.get("sign_type").map(String::as_str) {
            None | Some("") => SignType::Md5,
            Some(s) => match SignType::parse(s) {
                Some(t) => t,
                None => return Err(fail("sign_type参数格式错误")),
            },
        };
        let key = match sim.world().merchants.get(&mch_id) {
            Some(m) => ApiKey::new(m.v2_key.clone()),
            None => return Err(fail("商户号mch_id不存在")),
        };
        let ctx = V2Ctx {
            mch_id,
            appid,
            key,
            sign_type,
            fields,
            drop_after: false,
        };
        let injected = inject(sim, path, Some(&ctx.mch_id), || {
            ctx.answer(sim, Err(("SYSTEMERROR", "系统繁忙，请稍后再试")))
        })
        .await;
        let drop_after = match injected {
            Injected::Respond(r) => return Err(r),
            Injected::DropAfter => true,
            Injected::Proceed => false,
        };
        if sign::verify(&ctx.fields, &ctx.key, ctx.sign_type).is_err() {
            return Err(fail("签名错误"));
        }
        Ok(V2Ctx { drop_after, ..ctx })
    }

    /// A non-empty field.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.fields
            .get(k)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// A signed answer: `result_code=SUCCESS` with `business`, or `FAIL` with `err_code`.
    pub fn answer(&self, sim: &Sim, result: Result<Fields, (&str, &str)>) -> Response {
        let mut f = match result {
            Ok(business) => {
                let mut f = business;
                f.insert("result_code".into(), "SUCCESS".into());
                f
            }
            Err((code, des)) => {
                let mut f = Fields::new();
                f.insert("result_code".into(), "FAIL".into());
                f.insert("err_code".into(), code.into());
                f.insert("err_code_des".into(), des.into());
                f
            }
        };
        f.insert("return_code".into(), "SUCCESS".into());
        f.insert("return_msg".into(), "OK".into());
        f.insert("appid".into(), self.appid.clone());
        f.insert("mch_id".into(), self.mch_id.clone());
        f.insert("nonce_str".into(), sim.random_alnum(16));
        sign::sign_in_place(&mut f, &self.key, self.sign_type);
        if self.drop_after {
            return crate::http::dropped();
        }
        xml_response(xml::encode(&f))
    }
}
