//! Signing of v3 responses and notifications with a merchant's platform key.

use paygate_core::Clock;
use paygate_wechat_v3::verify::response_message;

use crate::state::{Merchant, Sim, VerifyMode};

/// The `Wechatpay-*` headers for `body`. The key (and so `Wechatpay-Serial`) follows the
/// merchant's mode; in `both` mode it alternates. `probe` writes a `WECHATPAY/SIGNTEST/`
/// signature that must fail verification.
pub fn sign_headers(
    sim: &Sim,
    m: &mut Merchant,
    body: &[u8],
    probe: bool,
) -> Vec<(String, String)> {
    let timestamp = sim.clock.unix_seconds().to_string();
    let nonce = sim.random_alnum(32);
    m.signed_count += 1;
    let use_public_key = match m.mode {
        VerifyMode::PlatformCert => false,
        VerifyMode::PublicKey => true,
        VerifyMode::Both => m.signed_count.is_multiple_of(2),
    };
    let (signer, serial) = if use_public_key {
        (
            &m.platform.public_key_signer,
            m.platform.public_key_id.clone(),
        )
    } else {
        (&m.platform.signer, m.platform.serial.clone())
    };
    let signature = if probe {
        use base64::Engine;
        let junk = base64::engine::general_purpose::STANDARD.encode(sim.random_bytes(96));
        format!("WECHATPAY/SIGNTEST/{junk}")
    } else {
        signer.sign(&response_message(&timestamp, &nonce, body))
    };
    vec![
        ("Wechatpay-Nonce".to_owned(), nonce),
        ("Wechatpay-Signature".to_owned(), signature),
        ("Wechatpay-Timestamp".to_owned(), timestamp),
        ("Wechatpay-Serial".to_owned(), serial),
        (
            "Wechatpay-Signature-Type".to_owned(),
            "WECHATPAY2-SHA256-RSA2048".to_owned(),
        ),
    ]
}
