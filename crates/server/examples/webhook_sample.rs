//! Prints one webhook delivery exactly as paygate's delivery worker would send it — body,
//! `webhook-*` headers and the secrets that sign it — as JSON, for the interoperability check
//! (`interop/standardwebhooks_verify.py` verifies it with the Standard Webhooks reference
//! library). Signed now (receivers reject stale timestamps) with two fresh secrets, as during
//! a rotation. The secrets are throw-away: this prints them on purpose and must never be
//! pointed at a real tenant's.

// Printing the sample is this program's whole job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use base64::Engine;
use paygate_core::{EventId, PlatformId, TenantId};
use paygate_server::webhooks::{sign, worker};
use paygate_store::{EventDelivery, QueuedEvent};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;

fn secret() -> SecretString {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    SecretString::from(format!("whsec_{encoded}"))
}

fn main() -> ExitCode {
    let now = OffsetDateTime::now_utc();
    let ms = u64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
    let event = QueuedEvent {
        id: EventId::from_parts(ms, 1),
        tenant_id: TenantId::from_parts(ms, 2),
        event_type: "payment.succeeded".to_owned(),
        payload: serde_json::json!({
            "order_id": "ord_01JD0000000000000000000000",
            "amount": 1999,
            "currency": "CNY",
            "description": "咖啡 \"latte\"",
        }),
        order_id: None,
        created_at: now,
        status: EventDelivery::Pending,
        attempts: 0,
        attempts_in_schedule: 0,
        next_attempt_at: now,
        last_status_code: None,
        last_latency_ms: None,
        delivered_at: None,
    };
    let body = worker::body(&event);
    let secrets = [secret(), secret()];
    let timestamp = now.unix_timestamp();
    let Ok(signature) = sign::signature_header(&secrets, event.id.as_str(), timestamp, &body)
    else {
        eprintln!("signing failed");
        return ExitCode::FAILURE;
    };
    let sample = serde_json::json!({
        "secrets": secrets.iter().map(|s| s.expose_secret().to_owned()).collect::<Vec<_>>(),
        "headers": {
            sign::HEADER_ID: event.id.as_str(),
            sign::HEADER_TIMESTAMP: timestamp.to_string(),
            sign::HEADER_SIGNATURE: signature,
        },
        "body": String::from_utf8_lossy(&body),
    });
    println!("{sample}");
    ExitCode::SUCCESS
}
