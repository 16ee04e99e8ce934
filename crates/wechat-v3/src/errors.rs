//! Translation of v3 error answers (`{code, message, detail}` with an HTTP status) into
//! [`ProviderError`], in exactly one place. Codes are matched as opaque strings: WeChat's own
//! pages spell some of them two ways (`ORDER_NOT_EXIST` / `ORDER_NOT_EXISTS`).

use paygate_core::ProviderError;

use crate::wire::ErrorBody;

/// Which call an error answered: "not found" means an order or a refund depending on it, and
/// a rate-limited refund leaves its outcome unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    Prepay,
    QueryPayment,
    ClosePayment,
    Refund,
    QueryRefund,
    Certificates,
}

impl Call {
    fn not_found(self) -> ProviderError {
        match self {
            Call::QueryRefund => ProviderError::RefundNotFound,
            _ => ProviderError::OrderNotFound,
        }
    }
}

/// Maps a non-2xx answer. `body` is the raw error body (it may be empty or not JSON).
pub fn map_error(call: Call, status: u16, body: &[u8]) -> ProviderError {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (code, message) = match parsed {
        Some(b) => (b.code, b.message),
        None => (
            format!("HTTP_{status}"),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    if status == 429 || code == "RATELIMIT_EXCEEDED" {
        // A refund that hit the limit may or may not have been accepted.
        return ProviderError::RateLimited {
            query_before_retry: call == Call::Refund,
        };
    }
    match code.as_str() {
        "SYSTEM_ERROR" | "SYSTEMERROR" | "SERVICE_UNAVAILABLE" | "BANK_ERROR" => {
            return ProviderError::Unavailable { code, message };
        }
        "SIGN_ERROR" | "NO_AUTH" | "APPID_MCHID_NOT_MATCH" | "MCH_NOT_EXISTS" => {
            return ProviderError::UpstreamAuth { code, message };
        }
        "ORDER_NOT_EXIST" | "ORDER_NOT_EXISTS" | "ORDERNOTEXIST" | "RESOURCE_NOT_EXISTS" => {
            return call.not_found();
        }
        "ORDERPAID" | "ORDER_PAID" => return ProviderError::OrderPaid,
        "ORDER_CLOSED" | "ORDERCLOSED" => return ProviderError::OrderClosed,
        "OUT_TRADE_NO_USED" => return ProviderError::OutTradeNoUsed,
        "NOT_ENOUGH" => return ProviderError::InsufficientBalance,
        _ => {}
    }
    match status {
        401 => ProviderError::UpstreamAuth { code, message },
        404 => call.not_found(),
        500..=599 => ProviderError::Unavailable { code, message },
        _ => ProviderError::Rejected { code, message },
    }
}

/// Maps a reqwest failure (no usable answer): the outcome is unknown.
pub fn transport(err: &reqwest::Error) -> ProviderError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // The error's Display may include the URL (with an out_trade_no) but never secrets.
    ProviderError::Transport(format!("{kind}: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(code: &str) -> Vec<u8> {
        format!(r#"{{"code":"{code}","message":"m","detail":{{"field":"x"}}}}"#).into_bytes()
    }

    #[test]
    fn documented_mappings() {
        use Call::*;
        let cases: Vec<(Call, u16, &str, &str)> = vec![
            (Prepay, 500, "SYSTEM_ERROR", "upstream_unavailable"),
            (Prepay, 502, "SERVICE_UNAVAILABLE", "upstream_unavailable"),
            (Prepay, 503, "WHATEVER", "upstream_unavailable"),
            (Prepay, 429, "RATELIMIT_EXCEEDED", "upstream_rate_limited"),
            (Prepay, 401, "SIGN_ERROR", "upstream_credentials_rejected"),
            (Prepay, 401, "OTHER", "upstream_credentials_rejected"),
            (Prepay, 403, "NO_AUTH", "upstream_credentials_rejected"),
            (
                Prepay,
                400,
                "APPID_MCHID_NOT_MATCH",
                "upstream_credentials_rejected",
            ),
            (
                Prepay,
                400,
                "MCH_NOT_EXISTS",
                "upstream_credentials_rejected",
            ),
            (
                QueryPayment,
                404,
                "ORDER_NOT_EXIST",
                "upstream_order_not_found",
            ),
            (
                QueryPayment,
                404,
                "ORDER_NOT_EXISTS",
                "upstream_order_not_found",
            ),
            (
                QueryRefund,
                404,
                "RESOURCE_NOT_EXISTS",
                "upstream_refund_not_found",
            ),
            (
                Refund,
                404,
                "RESOURCE_NOT_EXISTS",
                "upstream_order_not_found",
            ),
            (ClosePayment, 400, "ORDERPAID", "order_already_paid"),
            (Prepay, 400, "ORDER_CLOSED", "order_closed"),
            (Prepay, 403, "OUT_TRADE_NO_USED", "out_trade_no_used"),
            (Refund, 403, "NOT_ENOUGH", "merchant_balance_insufficient"),
            (Prepay, 400, "PARAM_ERROR", "upstream_rejected"),
            (Refund, 403, "USER_ACCOUNT_ABNORMAL", "upstream_rejected"),
        ];
        for (call, status, code, expected) in cases {
            assert_eq!(
                map_error(call, status, &body(code)).code(),
                expected,
                "{call:?} {status} {code}"
            );
        }
    }

    #[test]
    fn rate_limit_on_refund_means_query_first() {
        assert_eq!(
            map_error(Call::Refund, 429, &body("FREQUENCY_LIMITED")),
            ProviderError::RateLimited {
                query_before_retry: true
            }
        );
        assert_eq!(
            map_error(Call::QueryRefund, 429, b""),
            ProviderError::RateLimited {
                query_before_retry: false
            }
        );
    }

    #[test]
    fn rejected_keeps_code_and_message_and_unparsable_bodies_are_typed() {
        assert_eq!(
            map_error(Call::Prepay, 400, &body("INVALID_REQUEST")),
            ProviderError::Rejected {
                code: "INVALID_REQUEST".into(),
                message: "m".into()
            }
        );
        assert_eq!(
            map_error(Call::Prepay, 502, b"<html>bad gateway</html>"),
            ProviderError::Unavailable {
                code: "HTTP_502".into(),
                message: "<html>bad gateway</html>".into()
            }
        );
        assert!(map_error(Call::Prepay, 500, b"").is_retryable());
    }
}
