//! WeChat's v2 outcome codes → [`ProviderError`], at the boundary (reference §2.4, §2.5).
//!
//! `return_code=FAIL` is a communication-level refusal (`return_msg` says why, and such
//! responses are unsigned); `result_code=FAIL` is a business refusal with `err_code`. The
//! mapping is a table so that a reviewer can check it against WeChat's documented codes.

use paygate_core::ProviderError;

use crate::xml::Fields;

/// Which call failed; rate limits on refunds leave the outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    UnifiedOrder,
    OrderQuery,
    CloseOrder,
    Refund,
    RefundQuery,
}

/// Maps a business `err_code` (with `err_code_des`) to its typed error.
pub fn map_err_code(call: Call, code: &str, message: &str) -> ProviderError {
    let owned = || (code.to_owned(), message.to_owned());
    match code {
        // "Retry with the same parameters" (for refunds: the same out_refund_no).
        "SYSTEMERROR" | "BIZERR_NEED_RETRY" => {
            let (code, message) = owned();
            ProviderError::Unavailable { code, message }
        }
        "ORDERPAID" => ProviderError::OrderPaid,
        "ORDERCLOSED" => ProviderError::OrderClosed,
        "ORDERNOTEXIST" => ProviderError::OrderNotFound,
        "REFUNDNOTEXIST" => ProviderError::RefundNotFound,
        "OUT_TRADE_NO_USED" => ProviderError::OutTradeNoUsed,
        "NOTENOUGH" => ProviderError::InsufficientBalance,
        "SIGNERROR"
        | "NOAUTH"
        | "APPID_MCHID_NOT_MATCH"
        | "MCHID_NOT_EXIST"
        | "APPID_NOT_EXIST" => {
            let (code, message) = owned();
            ProviderError::UpstreamAuth { code, message }
        }
        // A rate-limited refund may or may not have been accepted: query before retrying.
        "FREQUENCY_LIMITED" | "INVALID_REQ_TOO_MUCH" => ProviderError::RateLimited {
            query_before_retry: call == Call::Refund,
        },
        _ => {
            let (code, message) = owned();
            ProviderError::Rejected { code, message }
        }
    }
}

/// Maps `return_code=FAIL`'s `return_msg`. A signature complaint means our key is wrong.
pub fn map_return_fail(return_msg: &str) -> ProviderError {
    let lower = return_msg.to_ascii_lowercase();
    if return_msg.contains("签名") || lower.contains("sign") {
        ProviderError::UpstreamAuth {
            code: "FAIL".into(),
            message: return_msg.to_owned(),
        }
    } else {
        ProviderError::Rejected {
            code: "FAIL".into(),
            message: return_msg.to_owned(),
        }
    }
}

/// Checks `return_code` only (before signature verification: FAIL responses are unsigned).
pub fn check_return(fields: &Fields) -> Result<(), ProviderError> {
    match fields.get("return_code").map(String::as_str) {
        Some("SUCCESS") => Ok(()),
        Some("FAIL") => Err(map_return_fail(
            fields.get("return_msg").map_or("", String::as_str),
        )),
        Some(other) => Err(ProviderError::Malformed(format!(
            "unknown return_code {other:?}"
        ))),
        None => Err(ProviderError::Malformed(
            "response has no return_code".into(),
        )),
    }
}

/// Checks `result_code` of a verified response.
pub fn check_result(call: Call, fields: &Fields) -> Result<(), ProviderError> {
    match fields.get("result_code").map(String::as_str) {
        Some("SUCCESS") => Ok(()),
        Some("FAIL") => {
            let code = fields.get("err_code").map_or("", String::as_str);
            let des = fields.get("err_code_des").map_or("", String::as_str);
            Err(map_err_code(call, code, des))
        }
        Some(other) => Err(ProviderError::Malformed(format!(
            "unknown result_code {other:?}"
        ))),
        None => Err(ProviderError::Malformed(
            "response has no result_code".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_limited_refund_must_be_queried_before_retrying() {
        for code in ["FREQUENCY_LIMITED", "INVALID_REQ_TOO_MUCH"] {
            assert_eq!(
                map_err_code(Call::Refund, code, ""),
                ProviderError::RateLimited {
                    query_before_retry: true
                }
            );
            assert_eq!(
                map_err_code(Call::OrderQuery, code, ""),
                ProviderError::RateLimited {
                    query_before_retry: false
                }
            );
        }
    }

    #[test]
    fn return_and_result_codes_must_be_known() {
        let f = |pairs: &[(&str, &str)]| -> Fields {
            pairs
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect()
        };
        assert!(matches!(
            check_return(&f(&[])),
            Err(ProviderError::Malformed(_))
        ));
        assert!(matches!(
            check_return(&f(&[("return_code", "OK")])),
            Err(ProviderError::Malformed(_))
        ));
        assert!(matches!(
            check_result(Call::Refund, &f(&[("result_code", "MAYBE")])),
            Err(ProviderError::Malformed(_))
        ));
        assert_eq!(
            check_result(
                Call::Refund,
                &f(&[("result_code", "FAIL"), ("err_code", "NOTENOUGH")])
            ),
            Err(ProviderError::InsufficientBalance)
        );
    }
}
