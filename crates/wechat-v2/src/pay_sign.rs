//! The signed `wx.requestPayment` fields for a v2 prepay id (reference §2.8).
//!
//! The signature covers exactly `appId`, `nonceStr`, `package`, `signType`, `timeStamp`
//! (camel case, `appId` included though the mini-program does not pass it) with the APIv2
//! key, and `signType` must be the algorithm unifiedorder used. A fresh nonce and timestamp
//! are drawn per call; the unifiedorder response's `sign` or nonce are never reused (G1).

use paygate_core::{AppId, PrepayId, RequestPayment, VerifyFailure};
use subtle::ConstantTimeEq;

use crate::sign::{self, ApiKey, SignType};
use crate::xml::Fields;

/// The signable fields of a `wx.requestPayment` call.
fn pay_fields(
    app_id: &str,
    time_stamp: &str,
    nonce_str: &str,
    package: &str,
    t: SignType,
) -> Fields {
    [
        ("appId", app_id),
        ("nonceStr", nonce_str),
        ("package", package),
        ("signType", t.as_str()),
        ("timeStamp", time_stamp),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `paySign` over the five fields (uppercase hex).
pub fn request_payment_sign(
    app_id: &str,
    time_stamp: &str,
    nonce_str: &str,
    package: &str,
    sign_type: SignType,
    key: &ApiKey,
) -> String {
    sign::sign(
        &pay_fields(app_id, time_stamp, nonce_str, package, sign_type),
        key,
        sign_type,
    )
}

/// The `package` value for a prepay id.
pub fn package_for(prepay_id: &PrepayId) -> String {
    format!("prepay_id={}", prepay_id.as_str())
}

/// Builds the signed `wx.requestPayment` object from a given timestamp and nonce.
pub fn build_request_payment(
    appid: &AppId,
    prepay_id: &PrepayId,
    unix_seconds: i64,
    nonce_str: &str,
    sign_type: SignType,
    key: &ApiKey,
) -> RequestPayment {
    let time_stamp = unix_seconds.to_string();
    let package = package_for(prepay_id);
    let pay_sign = request_payment_sign(
        appid.as_str(),
        &time_stamp,
        nonce_str,
        &package,
        sign_type,
        key,
    );
    RequestPayment {
        app_id: appid.clone(),
        time_stamp,
        nonce_str: nonce_str.to_owned(),
        package,
        sign_type: sign_type.pay_sign_type(),
        pay_sign,
    }
}

/// Checks a `wx.requestPayment` object as the WeChat client does (for the simulator).
///
/// `BadSignature` also covers a `signType` that is not a v2 algorithm (`RSA`).
pub fn verify_request_payment(rp: &RequestPayment, key: &ApiKey) -> Result<(), VerifyFailure> {
    let t = match rp.sign_type {
        paygate_core::PaySignType::Md5 => SignType::Md5,
        paygate_core::PaySignType::HmacSha256 => SignType::HmacSha256,
        paygate_core::PaySignType::Rsa => return Err(VerifyFailure::BadSignature),
    };
    let expected = request_payment_sign(
        rp.app_id.as_str(),
        &rp.time_stamp,
        &rp.nonce_str,
        &rp.package,
        t,
        key,
    );
    if bool::from(
        expected
            .as_bytes()
            .ct_eq(rp.pay_sign.to_ascii_uppercase().as_bytes()),
    ) {
        Ok(())
    } else {
        Err(VerifyFailure::BadSignature)
    }
}
