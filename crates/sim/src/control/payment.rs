//! The simulated user and the operator's levers: paying (`wx.requestPayment`, scanning a Native
//! code), settling refunds, the notification log and fault injection.
//!
//! `request-payment` checks what the WeChat client checks before it shows the cashier: the
//! `package` names a live prepay id of an unpaid, unexpired order of this appid; `signType` is
//! exactly `MD5`/`HMAC-SHA256` (and the order's `sign_type`) for v2 orders or `RSA` for v3
//! ones; `paySign` verifies with the APIv2 key or the merchant certificate's key; the payer is
//! the order's openid.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use paygate_wechat_v2::pay_sign::request_payment_sign;
use paygate_wechat_v2::sign::{ApiKey, SignType};
use serde::{Deserialize, Serialize};

use crate::error::SimError;
use crate::faults::FaultSpec;
use crate::http::json;
use crate::notify::NotificationRecord;
use crate::orders::{self, PayError};
use crate::state::{Api, RefundState, Sim, TradeKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PayResult {
    Success,
    Fail,
}

/// `POST /sim/request-payment`: the `wx.requestPayment` object plus who pays and how it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestPaymentBody {
    /// The running mini-program's appid (signed as `appId`, never passed by the page).
    pub appid: String,
    pub openid: String,
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    pub package: String,
    #[serde(rename = "signType")]
    pub sign_type: String,
    #[serde(rename = "paySign")]
    pub pay_sign: String,
    pub result: PayResult,
}

/// `POST /sim/scan`: a user scans a Native `code_url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScanBody {
    pub code_url: String,
    pub openid: String,
    pub result: PayResult,
}

/// `POST /sim/refunds/{out_refund_no}/settle`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SettleBody {
    /// `success`, `abnormal` or `closed`.
    pub result: String,
    /// Needed only when two merchants use the same out_refund_no.
    #[serde(default)]
    pub mch_id: Option<String>,
}

/// The client's refusal: HTTP 400 with `errMsg` as the mini-program would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayRefusal {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> PayRefusal {
    PayRefusal {
        code,
        message: message.into(),
    }
}

fn pay_error(e: PayError) -> PayRefusal {
    let code = match e {
        PayError::UnknownPrepay => "PREPAY_ID_INVALID",
        PayError::PrepayExpired => "PREPAY_ID_EXPIRED",
        PayError::OrderExpired => "ORDER_EXPIRED",
        PayError::AlreadyPaid => "ORDERPAID",
        PayError::Closed => "ORDERCLOSED",
        PayError::OpenIdMismatch => "OPENID_MISMATCH",
        PayError::AppIdMismatch => "APPID_MISMATCH",
    };
    refuse(code, e.to_string())
}

/// What a successful or failed payment produced.
#[derive(Debug, Clone, Serialize)]
pub struct PayOutcome {
    #[serde(rename = "errMsg")]
    pub err_msg: String,
    pub mch_id: String,
    pub out_trade_no: String,
    pub trade_state: String,
    pub transaction_id: Option<String>,
}

impl Sim {
    /// Pays (or fails to pay) as the WeChat client would after `wx.requestPayment`.
    pub fn request_payment(&self, b: &RequestPaymentBody) -> Result<PayOutcome, PayRefusal> {
        let now = self.now();
        if b.time_stamp.is_empty() || !b.time_stamp.bytes().all(|c| c.is_ascii_digit()) {
            return Err(refuse(
                "PARAM_ERROR",
                "timeStamp must be a string of unix seconds",
            ));
        }
        if b.nonce_str.is_empty() || b.nonce_str.len() > 32 {
            return Err(refuse("PARAM_ERROR", "nonceStr must be 1-32 characters"));
        }
        let Some(prepay_id) = b.package.strip_prefix("prepay_id=") else {
            return Err(refuse("PARAM_ERROR", "package must be prepay_id=…"));
        };
        let mut world = self.world();
        let key = world
            .prepays
            .get(prepay_id)
            .cloned()
            .ok_or_else(|| pay_error(PayError::UnknownPrepay))?;
        let order = world
            .orders
            .get(&key)
            .cloned()
            .ok_or_else(|| pay_error(PayError::UnknownPrepay))?;
        if order.trade_kind != TradeKind::Jsapi {
            return Err(pay_error(PayError::UnknownPrepay));
        }
        if order.appid != b.appid {
            return Err(pay_error(PayError::AppIdMismatch));
        }
        let merchant = world
            .merchants
            .get(&order.mch_id)
            .ok_or_else(|| pay_error(PayError::UnknownPrepay))?;
        match order.api {
            Api::V2 => {
                let t = match b.sign_type.as_str() {
                    "MD5" => SignType::Md5,
                    "HMAC-SHA256" => SignType::HmacSha256,
                    "RSA" => {
                        return Err(refuse(
                            "SIGN_ERROR",
                            "支付验证签名失败 (RSA signType for a v2 order)",
                        ));
                    }
                    _ => return Err(refuse("SIGN_TYPE_ERROR", "签名类型不支持")),
                };
                let ordered = order
                    .v2_sign_type
                    .map(crate::v2::sign_type)
                    .unwrap_or(SignType::Md5);
                if t != ordered {
                    return Err(refuse(
                        "SIGN_ERROR",
                        "支付验证签名失败 (signType differs from the order's sign_type)",
                    ));
                }
                let expected = request_payment_sign(
                    &b.appid,
                    &b.time_stamp,
                    &b.nonce_str,
                    &b.package,
                    t,
                    &ApiKey::new(merchant.v2_key.clone()),
                );
                if !expected.eq_ignore_ascii_case(&b.pay_sign) {
                    return Err(refuse("SIGN_ERROR", "支付验证签名失败"));
                }
            }
            Api::V3 => {
                if b.sign_type != "RSA" {
                    return Err(refuse(
                        "SIGN_ERROR",
                        "支付验证签名失败 (a v3 order needs signType RSA)",
                    ));
                }
                let message = format!(
                    "{}\n{}\n{}\n{}\n",
                    b.appid, b.time_stamp, b.nonce_str, b.package
                );
                if merchant
                    .keys
                    .verifier
                    .verify(message.as_bytes(), &b.pay_sign)
                    .is_err()
                {
                    return Err(refuse("SIGN_ERROR", "支付验证签名失败"));
                }
            }
        }
        if order.openid.as_deref() != Some(b.openid.as_str()) {
            return Err(pay_error(PayError::OpenIdMismatch));
        }
        orders::payable(&world, prepay_id, now).map_err(pay_error)?;
        Ok(self.finish_payment(&mut world, &key, &b.openid, b.result))
    }

    /// Pays a Native order as a user scanning its `code_url`.
    pub fn scan(&self, b: &ScanBody) -> Result<PayOutcome, PayRefusal> {
        let now = self.now();
        let mut world = self.world();
        let key = orders::payable(&world, &b.code_url, now).map_err(pay_error)?;
        let appid = world
            .orders
            .get(&key)
            .map(|o| o.appid.clone())
            .unwrap_or_default();
        if !world
            .apps
            .get(&appid)
            .is_some_and(|a| a.users.contains_key(&b.openid))
        {
            return Err(pay_error(PayError::OpenIdMismatch));
        }
        Ok(self.finish_payment(&mut world, &key, &b.openid, b.result))
    }

    fn finish_payment(
        &self,
        world: &mut crate::state::World,
        key: &(String, String),
        openid: &str,
        result: PayResult,
    ) -> PayOutcome {
        match result {
            PayResult::Success => orders::settle_payment(self, world, key, openid),
            PayResult::Fail => orders::fail_payment(world, key, openid),
        }
        let o = world.orders.get(key);
        PayOutcome {
            err_msg: match result {
                PayResult::Success => "requestPayment:ok".into(),
                PayResult::Fail => "requestPayment:fail".into(),
            },
            mch_id: key.0.clone(),
            out_trade_no: key.1.clone(),
            trade_state: o.map(|o| o.state.as_str().to_owned()).unwrap_or_default(),
            transaction_id: o.and_then(|o| o.transaction_id.clone()),
        }
    }

    /// Settles a PROCESSING refund as `success`, `abnormal` or `closed`.
    pub fn settle_refund(
        &self,
        out_refund_no: &str,
        mch_id: Option<&str>,
        result: &str,
    ) -> Result<serde_json::Value, SimError> {
        let to = match result {
            "success" => RefundState::Success,
            "abnormal" => RefundState::Abnormal,
            "closed" => RefundState::Closed,
            other => {
                return Err(SimError::BadRequest(format!(
                    "result must be success, abnormal or closed, not {other:?}"
                )));
            }
        };
        let mut world = self.world();
        let key = orders::find_refund_key(&world, mch_id, out_refund_no)
            .ok_or_else(|| SimError::NotFound(format!("refund {out_refund_no}")))?;
        let r = orders::settle_refund(self, &mut world, &key, to)
            .map_err(|m| SimError::Conflict(m.into()))?;
        Ok(serde_json::json!({
            "mch_id": r.mch_id, "out_refund_no": r.out_refund_no, "refund_id": r.refund_id, "status": r.state.v3(),
        }))
    }

    /// The notification log (optionally of one merchant).
    pub fn notifications(&self, mch_id: Option<&str>) -> Vec<NotificationRecord> {
        self.world()
            .notifications
            .iter()
            .filter(|n| mch_id.is_none_or(|m| m == n.mch_id))
            .cloned()
            .collect()
    }
}

fn pay_reply(r: Result<PayOutcome, PayRefusal>) -> Response {
    match r {
        Ok(o) => (StatusCode::OK, Json(o)).into_response(),
        Err(e) => json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({ "errMsg": format!("requestPayment:fail {}", e.message), "code": e.code }),
        ),
    }
}

pub async fn request_payment(
    State(sim): State<Sim>,
    Json(b): Json<RequestPaymentBody>,
) -> Response {
    pay_reply(sim.request_payment(&b))
}

pub async fn scan(State(sim): State<Sim>, Json(b): Json<ScanBody>) -> Response {
    pay_reply(sim.scan(&b))
}

pub async fn settle_refund(
    State(sim): State<Sim>,
    Path(out_refund_no): Path<String>,
    Json(b): Json<SettleBody>,
) -> Result<Json<serde_json::Value>, SimError> {
    sim.settle_refund(&out_refund_no, b.mch_id.as_deref(), &b.result)
        .map(Json)
}

pub async fn notifications(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Vec<NotificationRecord>> {
    Json(sim.notifications(q.get("mch_id").map(String::as_str)))
}

pub async fn deliver(State(sim): State<Sim>) -> Json<serde_json::Value> {
    let sent = crate::notify::run_due(&sim).await;
    Json(serde_json::json!({ "sent": sent }))
}

pub async fn add_fault(State(sim): State<Sim>, Json(spec): Json<FaultSpec>) -> Response {
    sim.faults.add(spec.clone());
    (StatusCode::CREATED, Json(spec)).into_response()
}

pub async fn list_faults(State(sim): State<Sim>) -> Json<Vec<FaultSpec>> {
    Json(sim.faults.list())
}

pub async fn clear_faults(State(sim): State<Sim>) -> StatusCode {
    sim.faults.clear();
    StatusCode::NO_CONTENT
}
