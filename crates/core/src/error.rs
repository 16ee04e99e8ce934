//! The typed failures of a payment provider.
//!
//! Providers translate WeChat's `return_code` / `err_code` (v2) and `{code, message}` (v3) into
//! these variants at their boundary, so the server maps one enum — not two protocols — to HTTP.
//! Every variant has a stable machine [`code`](ProviderError::code); a test keeps them unique.

/// Why signed data from WeChat (a response or a notification) was not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyFailure {
    #[error("a required signature header or field is missing")]
    Missing,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the signature names a key (serial) that is not known")]
    UnknownSerial,
    #[error("the timestamp is 5 minutes or more away from now")]
    StaleTimestamp,
    #[error("WeChat signature probe (WECHATPAY/SIGNTEST/): deliberately invalid")]
    Probe,
    #[error("the encrypted resource failed to decrypt (wrong key or tampered)")]
    Decrypt,
}

/// A provider operation's failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProviderError {
    /// paygate refused to send the request: an input breaks the protocol's rules.
    #[error("invalid {field}: {message}")]
    InvalidRequest {
        field: &'static str,
        message: String,
    },
    /// The channel's credentials cannot be used (a key does not parse, a certificate mismatches).
    #[error("channel credentials are unusable: {0}")]
    Credentials(String),
    /// WeChat rejected our credentials or signature, or the appid/mch_id pairing.
    #[error("WeChat rejected the merchant credentials ({code}): {message}")]
    UpstreamAuth { code: String, message: String },
    /// The order is already paid (v2 `ORDERPAID`): not a failure of the caller's intent.
    #[error("the order is already paid")]
    OrderPaid,
    /// The order is closed at WeChat and cannot be paid again.
    #[error("the order is closed")]
    OrderClosed,
    #[error("WeChat has no such order")]
    OrderNotFound,
    #[error("WeChat has no such refund")]
    RefundNotFound,
    /// The same out_trade_no was sent before with other parameters.
    #[error("out_trade_no was already used with different parameters")]
    OutTradeNoUsed,
    /// The merchant's balance cannot cover the refund.
    #[error("the merchant account balance is insufficient")]
    InsufficientBalance,
    /// WeChat rate-limited the call. For refunds the outcome is unknown: query before retrying.
    #[error("WeChat rate-limited the request")]
    RateLimited { query_before_retry: bool },
    /// WeChat is busy (`SYSTEMERROR`, `SYSTEM_ERROR`, 5xx): retry with the same parameters.
    #[error("WeChat is temporarily unavailable ({code}): {message}")]
    Unavailable { code: String, message: String },
    /// No answer (connect error, timeout, dropped connection): the outcome is unknown.
    #[error("could not reach WeChat: {0}")]
    Transport(String),
    /// Any other business refusal, with WeChat's own code and message.
    #[error("WeChat refused the request ({code}): {message}")]
    Rejected { code: String, message: String },
    /// A response or notification failed verification.
    #[error("signature verification failed: {0}")]
    Verification(VerifyFailure),
    /// A response or notification could not be understood.
    #[error("malformed data from WeChat: {0}")]
    Malformed(String),
    /// The provider does not implement this operation.
    #[error("operation not supported by this provider: {0}")]
    Unsupported(&'static str),
}

impl ProviderError {
    /// The stable machine code of this failure.
    pub fn code(&self) -> &'static str {
        match self {
            ProviderError::InvalidRequest { .. } => "invalid_request",
            ProviderError::Credentials(_) => "channel_credentials_invalid",
            ProviderError::UpstreamAuth { .. } => "upstream_credentials_rejected",
            ProviderError::OrderPaid => "order_already_paid",
            ProviderError::OrderClosed => "order_closed",
            ProviderError::OrderNotFound => "upstream_order_not_found",
            ProviderError::RefundNotFound => "upstream_refund_not_found",
            ProviderError::OutTradeNoUsed => "out_trade_no_used",
            ProviderError::InsufficientBalance => "merchant_balance_insufficient",
            ProviderError::RateLimited { .. } => "upstream_rate_limited",
            ProviderError::Unavailable { .. } => "upstream_unavailable",
            ProviderError::Transport(_) => "upstream_unreachable",
            ProviderError::Rejected { .. } => "upstream_rejected",
            ProviderError::Verification(_) => "upstream_signature_invalid",
            ProviderError::Malformed(_) => "upstream_malformed",
            ProviderError::Unsupported(_) => "provider_unsupported",
        }
    }

    /// Whether repeating the same request (same out_trade_no / out_refund_no) may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ProviderError::Unavailable { .. }
                | ProviderError::Transport(_)
                | ProviderError::RateLimited { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique() {
        let s = String::new;
        let all = [
            ProviderError::InvalidRequest {
                field: "f",
                message: s(),
            },
            ProviderError::Credentials(s()),
            ProviderError::UpstreamAuth {
                code: s(),
                message: s(),
            },
            ProviderError::OrderPaid,
            ProviderError::OrderClosed,
            ProviderError::OrderNotFound,
            ProviderError::RefundNotFound,
            ProviderError::OutTradeNoUsed,
            ProviderError::InsufficientBalance,
            ProviderError::RateLimited {
                query_before_retry: false,
            },
            ProviderError::Unavailable {
                code: s(),
                message: s(),
            },
            ProviderError::Transport(s()),
            ProviderError::Rejected {
                code: s(),
                message: s(),
            },
            ProviderError::Verification(VerifyFailure::Probe),
            ProviderError::Malformed(s()),
            ProviderError::Unsupported("x"),
        ];
        let codes: HashSet<_> = all.iter().map(ProviderError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(ProviderError::Transport(s()).is_retryable());
        assert!(!ProviderError::OrderPaid.is_retryable());
    }
}
