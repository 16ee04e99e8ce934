//! The crypto floor of a WeChat Pay v3 payment on this machine: the CPU time of the
//! cryptographic operations paygate cannot avoid for one payment, timed with the same library
//! (aws-lc-rs) through the same code (`paygate-wechat-v3`'s signer, verifier and AEAD) and the
//! same key sizes (RSA-2048 merchant key, as WeChat issues; RSA-2048 WeChat Pay key, as the
//! simulator generates).
//!
//! The operations, counted from paygate's code path for one JSAPI payment:
//!
//! | # | where | operation |
//! |---|---|---|
//! | 1 | `pay` → `WechatV3Provider::create_payment` → `MerchantSigner::authorization` | RSA-2048 PKCS#1 v1.5 SHA-256 **sign** (merchant key) of the prepay request |
//! | 2 | same call → `verify_signed` | RSA-2048 **verify** (WeChat Pay key) of the prepay answer |
//! | 3 | `pay` → `request_payment` (`paySign`) | RSA-2048 **sign** (merchant key) |
//! | 4 | `POST /notify/{channel}/payment` → `parse_notification` → `verify_signed` | RSA-2048 **verify** of the notification |
//! | 5 | same → `notify::decrypt_resource` | AES-256-GCM **decrypt** of the transaction resource |
//!
//! (The webhook's HMAC-SHA256 is the same for v2 and v3 and costs microseconds; it is not part
//! of the v3 floor.) Each operation is timed single-threaded, in the calling thread's CPU time
//! (`/proc/thread-self/schedstat`, nanoseconds), never wall time. This module measures; it
//! never contacts anything.

use std::time::Duration;

use anyhow::Context;
use aws_lc_rs::encoding::AsDer;
use paygate_wechat_v3::aead::{self, ApiV3Key};
use paygate_wechat_v3::sign::{RsaSigner, signature_message};
use paygate_wechat_v3::verify::{RsaVerifier, response_message};
use serde::Serialize;

use crate::procstat::thread_cpu_ns;
use crate::seed::MERCHANT_KEY_PEM;

/// One kind of operation in the floor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloorItem {
    pub operation: &'static str,
    /// How many a v3 payment needs.
    pub per_payment: u32,
    /// CPU time of one, microseconds.
    pub cpu_us_each: f64,
    pub iterations: u64,
}

/// The floor: the sum of `per_payment × cpu_us_each`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Floor {
    pub items: Vec<FloorItem>,
    pub rsa_bits: u32,
    /// CPU time per v3 payment, microseconds.
    pub per_v3_payment_us: f64,
}

impl Floor {
    /// From measured items.
    pub fn from_items(items: Vec<FloorItem>, rsa_bits: u32) -> Floor {
        let per_v3_payment_us = items
            .iter()
            .map(|i| f64::from(i.per_payment) * i.cpu_us_each)
            .sum();
        Floor {
            items,
            rsa_bits,
            per_v3_payment_us,
        }
    }

    /// `cpu_ms_per_payment` as a multiple of the floor.
    pub fn multiple(&self, cpu_ms_per_payment: f64) -> Option<f64> {
        (self.per_v3_payment_us > 0.0).then(|| cpu_ms_per_payment * 1000.0 / self.per_v3_payment_us)
    }
}

/// Times `op` until it has used at least `budget` of CPU (and at least 20 runs); returns
/// microseconds of CPU per run and the number of runs.
fn time_cpu(budget: Duration, mut op: impl FnMut()) -> anyhow::Result<(f64, u64)> {
    // Warm caches and lazy initialisation out of the measurement.
    for _ in 0..5 {
        op();
    }
    let start = thread_cpu_ns()?;
    let budget_ns = u64::try_from(budget.as_nanos()).unwrap_or(u64::MAX);
    let mut runs = 0u64;
    loop {
        for _ in 0..10 {
            op();
        }
        runs += 10;
        let used = thread_cpu_ns()?.saturating_sub(start);
        if used >= budget_ns && runs >= 20 {
            return Ok((used as f64 / 1000.0 / runs as f64, runs));
        }
    }
}

/// The modulus size of a PKCS#8 RSA key in PEM, in bits.
fn modulus_bits(pem: &str) -> anyhow::Result<u32> {
    use base64::Engine as _;
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .context("the merchant key PEM")?;
    let key = aws_lc_rs::rsa::KeyPair::from_pkcs8(&der)
        .map_err(|e| anyhow::anyhow!("the merchant key: {e}"))?;
    Ok(u32::try_from(key.public_modulus_len() * 8).unwrap_or(0))
}

/// Measures the floor, spending about `budget` of CPU per operation. Blocking: call from a
/// blocking thread.
pub fn measure(budget: Duration) -> anyhow::Result<Floor> {
    let merchant = RsaSigner::from_pkcs8_pem(MERCHANT_KEY_PEM).context("the merchant key")?;
    let platform_key = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .context("generating a WeChat Pay key")?;
    let platform_der = platform_key
        .as_der()
        .context("encoding the WeChat Pay key")?;
    let platform =
        RsaSigner::from_pkcs8_der(platform_der.as_ref()).context("the WeChat Pay key")?;
    let verifier =
        RsaVerifier::from_der(platform.public_key_pkcs1_der()).context("the WeChat Pay key")?;
    let rsa_bits = modulus_bits(MERCHANT_KEY_PEM)?;

    // Messages of the sizes paygate signs and checks (a prepay body, an answer, a paySign
    // message, a notification).
    let prepay_body = format!(
        r#"{{"appid":"wx{a}","mchid":"1900000001","description":"bench order","out_trade_no":"B{b}","notify_url":"https://paygate.example.com/notify/ch_01JD2Z6V3KQ8X4M7R9T0B1C2D3/payment","amount":{{"total":1999,"currency":"CNY"}},"payer":{{"openid":"o{c}"}},"time_expire":"2026-11-24T12:00:00+08:00"}}"#,
        a = "0".repeat(16),
        b = "0".repeat(24),
        c = "x".repeat(27)
    );
    let request_message = signature_message(
        "POST",
        "/v3/pay/transactions/jsapi",
        "1700000000",
        "NONCE0123456789ABCDEFGHIJKLMNOPQ",
        prepay_body.as_bytes(),
    );
    let answer = response_message(
        "1700000000",
        "NONCE0123456789ABCDEFGHIJKLMNOPQ",
        br#"{"prepay_id":"wx201410272009395522657a690389285100"}"#,
    );
    let answer_sig = platform.try_sign(&answer).context("signing")?;
    let pay_sign_message = paygate_wechat_v3::sign::pay_sign_message(
        "wx0000000000000000",
        "1700000000",
        "NONCE0123456789ABCDEFGHIJKLMNOPQ",
        "prepay_id=wx201410272009395522657a690389285100",
    );
    let apiv3_key = ApiV3Key::new(b"0123456789abcdef0123456789abcdef").context("AES key")?;
    let transaction = format!(
        r#"{{"mchid":"1900000001","appid":"wx{a}","out_trade_no":"B{b}","transaction_id":"4200000000000000000000000000","trade_type":"JSAPI","trade_state":"SUCCESS","trade_state_desc":"ok","bank_type":"OTHERS","attach":"","success_time":"2026-11-24T12:00:00+08:00","payer":{{"openid":"o{c}"}},"amount":{{"total":1999,"payer_total":1999,"currency":"CNY","payer_currency":"CNY"}}}}"#,
        a = "0".repeat(16),
        b = "0".repeat(24),
        c = "x".repeat(27)
    );
    let ciphertext = aead::encrypt(
        &apiv3_key,
        b"0123456789ab",
        b"transaction",
        transaction.as_bytes(),
    )
    .context("encrypting")?;
    let notification = format!(
        r#"{{"id":"EV-2018022511223320873","create_time":"2026-11-24T12:00:00+08:00","resource_type":"encrypt-resource","event_type":"TRANSACTION.SUCCESS","summary":"ok","resource":{{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"{ciphertext}","associated_data":"transaction","nonce":"0123456789ab"}}}}"#
    );
    let notification_message = response_message(
        "1700000000",
        "NONCE0123456789ABCDEFGHIJKLMNOPQ",
        notification.as_bytes(),
    );
    let notification_sig = platform
        .try_sign(&notification_message)
        .context("signing")?;

    let mut items = Vec::new();
    let (us, n) = time_cpu(budget, || {
        let _ = std::hint::black_box(merchant.try_sign(std::hint::black_box(&request_message)));
    })?;
    items.push(FloorItem {
        operation: "RSA-2048 sign: prepay request (merchant key)",
        per_payment: 1,
        cpu_us_each: us,
        iterations: n,
    });
    let (us, n) = time_cpu(budget, || {
        let _ = std::hint::black_box(verifier.verify(std::hint::black_box(&answer), &answer_sig));
    })?;
    items.push(FloorItem {
        operation: "RSA-2048 verify: prepay answer (WeChat Pay key)",
        per_payment: 1,
        cpu_us_each: us,
        iterations: n,
    });
    let (us, n) = time_cpu(budget, || {
        let _ = std::hint::black_box(merchant.try_sign(std::hint::black_box(&pay_sign_message)));
    })?;
    items.push(FloorItem {
        operation: "RSA-2048 sign: wx.requestPayment paySign (merchant key)",
        per_payment: 1,
        cpu_us_each: us,
        iterations: n,
    });
    let (us, n) = time_cpu(budget, || {
        let _ = std::hint::black_box(verifier.verify(
            std::hint::black_box(&notification_message),
            &notification_sig,
        ));
    })?;
    items.push(FloorItem {
        operation: "RSA-2048 verify: payment notification (WeChat Pay key)",
        per_payment: 1,
        cpu_us_each: us,
        iterations: n,
    });
    let (us, n) = time_cpu(budget, || {
        let _ = std::hint::black_box(aead::decrypt(
            &apiv3_key,
            b"0123456789ab",
            b"transaction",
            std::hint::black_box(&ciphertext),
        ));
    })?;
    items.push(FloorItem {
        operation: "AES-256-GCM decrypt: notification resource",
        per_payment: 1,
        cpu_us_each: us,
        iterations: n,
    });
    Ok(Floor::from_items(items, rsa_bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_is_the_weighted_sum_and_multiples_divide_by_it() {
        let item = |per_payment, cpu_us_each| FloorItem {
            operation: "x",
            per_payment,
            cpu_us_each,
            iterations: 1,
        };
        let floor = Floor::from_items(vec![item(2, 500.0), item(2, 20.0), item(1, 1.0)], 2048);
        assert!((floor.per_v3_payment_us - 1041.0).abs() < 1e-9);
        // 2.082 ms of server CPU is 2× a 1041 µs floor.
        assert!((floor.multiple(2.082).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(Floor::from_items(vec![], 2048).multiple(1.0), None);
    }

    #[test]
    fn measured_floor_counts_four_rsa_operations_and_signing_dominates() {
        let floor = measure(Duration::from_millis(30)).unwrap();
        assert_eq!(floor.items.len(), 5);
        assert_eq!(floor.rsa_bits, 2048);
        let per_payment: u32 = floor.items.iter().map(|i| i.per_payment).sum();
        assert_eq!(per_payment, 5);
        for item in &floor.items {
            assert!(item.cpu_us_each > 0.0, "{item:?}");
        }
        // An RSA private-key operation costs far more than a public-key one.
        let sign = floor.items[0].cpu_us_each;
        let verify = floor.items[1].cpu_us_each;
        assert!(sign > 3.0 * verify, "sign {sign} µs, verify {verify} µs");
    }
}
