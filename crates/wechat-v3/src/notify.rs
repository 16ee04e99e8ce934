//! Notifications: after the signature is verified (by the provider, with the key store), the
//! envelope is parsed, its resource decrypted with the APIv3 key and normalised into core's
//! [`Notification`]; and the exact reply WeChat expects.
//!
//! Nothing here has side effects, and nothing logs the decrypted resource (it holds openids).

use paygate_core::{
    HttpReply, Notification, NotificationKind, NotificationOutcome, PaymentEvent, ProviderError,
    RefundEvent, TradeState, VerifyFailure,
};

use crate::aead::{self, ALGORITHM, ApiV3Key};
use crate::wire::{EncryptedResource, NotificationEnvelope, RefundNotice, Transaction};

/// Decrypts an `AEAD_AES_256_GCM` resource (absent associated data means empty).
pub fn decrypt_resource(key: &ApiV3Key, r: &EncryptedResource) -> Result<Vec<u8>, ProviderError> {
    if r.algorithm != ALGORITHM {
        return Err(ProviderError::Malformed(format!(
            "unsupported algorithm {:?}",
            r.algorithm
        )));
    }
    let aad = r.associated_data.as_deref().unwrap_or_default();
    aead::decrypt(key, r.nonce.as_bytes(), aad.as_bytes(), &r.ciphertext)
        .map_err(|e| ProviderError::Verification(VerifyFailure::from(e)))
}

fn malformed(what: &str) -> impl FnOnce(serde_json::Error) -> ProviderError + '_ {
    move |e| ProviderError::Malformed(format!("{what}: {e}"))
}

/// Parses and decrypts a notification body whose signature has already been verified.
pub fn parse_verified_body(
    kind: NotificationKind,
    body: &[u8],
    key: &ApiV3Key,
) -> Result<Notification, ProviderError> {
    let envelope: NotificationEnvelope =
        serde_json::from_slice(body).map_err(malformed("notification envelope"))?;
    if let Some(rt) = &envelope.resource_type
        && rt != "encrypt-resource"
    {
        return Err(ProviderError::Malformed(format!(
            "unexpected resource_type {rt:?}"
        )));
    }
    match (kind, envelope.event_type.as_str()) {
        (NotificationKind::Payment, "TRANSACTION.SUCCESS") => {
            let plain = decrypt_resource(key, &envelope.resource)?;
            let tx: Transaction =
                serde_json::from_slice(&plain).map_err(malformed("transaction resource"))?;
            let payment = tx.into_status()?;
            if payment.trade_state != TradeState::Success {
                return Err(ProviderError::Malformed(
                    "TRANSACTION.SUCCESS carries a trade_state other than SUCCESS".to_owned(),
                ));
            }
            Ok(Notification::Payment(PaymentEvent {
                event_id: envelope.id,
                payment,
            }))
        }
        (NotificationKind::Refund, "REFUND.SUCCESS" | "REFUND.ABNORMAL" | "REFUND.CLOSED") => {
            let plain = decrypt_resource(key, &envelope.resource)?;
            let notice: RefundNotice =
                serde_json::from_slice(&plain).map_err(malformed("refund resource"))?;
            let (mch_id, refund) = notice.into_status()?;
            Ok(Notification::Refund(RefundEvent {
                event_id: envelope.id,
                mch_id,
                refund,
            }))
        }
        (_, other) => Err(ProviderError::Malformed(format!(
            "event_type {other:?} does not belong on the {kind:?} notify endpoint"
        ))),
    }
}

/// The reply: `204` with no body for done; `500` with `{"code":"FAIL","message":…}` for retry.
pub fn reply(outcome: &NotificationOutcome) -> HttpReply {
    match outcome {
        NotificationOutcome::Done => HttpReply {
            status: 204,
            content_type: "application/json",
            body: Vec::new(),
        },
        NotificationOutcome::Retry { message } => HttpReply {
            status: 500,
            content_type: "application/json",
            body: serde_json::json!({ "code": "FAIL", "message": message })
                .to_string()
                .into_bytes(),
        },
    }
}
