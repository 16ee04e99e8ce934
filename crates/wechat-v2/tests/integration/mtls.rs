//! Refunds over mutual TLS: a rustls stub server that *requires* a client certificate issued
//! by the fixture CA proves the provider presents the merchant certificate (PEM pair or
//! converted PKCS#12), and that a missing or foreign certificate is refused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use paygate_core::{ManualClock, NotifyUrl, Provider, ProviderError, RefundRequest, RefundState};
use paygate_wechat_v2::V2Config;
use paygate_wechat_v2::sign::{ApiKey, SignType, verify};
use paygate_wechat_v2::xml::{self, Fields};
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::common::*;

#[derive(Default)]
struct Seen {
    client_certs: Vec<Vec<u8>>,
    requests: Vec<(String, Fields)>,
    handshake_failures: usize,
}

struct TlsStub {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl TlsStub {
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }
    fn seen<T>(&self, f: impl FnOnce(&Seen) -> T) -> T {
        f(&self.seen.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

fn pem_certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

fn acceptor() -> TlsAcceptor {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for c in pem_certs(CA_PEM) {
        roots.add(c).unwrap_or_else(|e| panic!("{e}"));
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let key =
        PrivateKeyDer::from_pem_slice(SERVER_KEY_PEM.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| {
            b.with_client_cert_verifier(verifier)
                .with_single_cert(pem_certs(SERVER_CERT_PEM), key)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    TlsAcceptor::from(Arc::new(config))
}

/// Reads one HTTP/1.1 request (headers + Content-Length body); returns (path, body).
async fn read_request<S: AsyncReadExt + Unpin>(s: &mut S) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let path = head.split_whitespace().nth(1)?.to_owned();
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((path, buf[head_end..head_end + len].to_vec()))
}

fn refund_answer() -> String {
    signed_xml(
        f(&[
            ("return_code", "SUCCESS"),
            ("return_msg", "OK"),
            ("appid", APPID),
            ("mch_id", CERT_MCH_ID),
            ("nonce_str", "NfsMFbUFpdbEhPXP"),
            ("result_code", "SUCCESS"),
            ("transaction_id", "1008450740201411110005820873"),
            ("out_trade_no", "1415757673"),
            ("out_refund_no", "1415701182"),
            ("refund_id", "2008450740201411110000174436"),
            ("refund_fee", "1"),
            ("total_fee", "1"),
            ("cash_fee", "1"),
        ]),
        KEY,
        SignType::Md5,
    )
}

async fn start_stub() -> TlsStub {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let acceptor = acceptor();
    let shared = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let seen = shared.clone();
            tokio::spawn(async move {
                let lock = |seen: &Arc<Mutex<Seen>>, f: &mut dyn FnMut(&mut Seen)| {
                    f(&mut seen.lock().unwrap_or_else(PoisonError::into_inner))
                };
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(_) => {
                        lock(&seen, &mut |s| s.handshake_failures += 1);
                        return;
                    }
                };
                let certs: Vec<Vec<u8>> = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .map(|c| c.iter().map(|d| d.as_ref().to_vec()).collect())
                    .unwrap_or_default();
                lock(&seen, &mut |s| s.client_certs.extend(certs.iter().cloned()));
                let Some((path, body)) = read_request(&mut tls).await else {
                    return;
                };
                let fields = xml::decode(&body).unwrap_or_default();
                lock(&seen, &mut |s| {
                    s.requests.push((path.clone(), fields.clone()))
                });
                let answer = refund_answer();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(reply.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsStub { addr, seen }
}

fn refund_request() -> RefundRequest {
    RefundRequest {
        out_trade_no: parse("1415757673"),
        out_refund_no: parse("1415701182"),
        total: fen(1),
        refund: fen(1),
        reason: Some("商品已售完".into()),
        notify_url: parse::<NotifyUrl>("https://pay.example.com/notify/ch_1/refund"),
    }
}

fn config(stub: &TlsStub) -> V2Config {
    V2Config {
        // Plain calls would go nowhere: only /secapi may reach the TLS stub.
        base_url: "http://127.0.0.1:9".into(),
        secapi_base_url: Some(stub.url()),
        extra_root_ca_pem: Some(CA_PEM.into()),
        ..V2Config::default()
    }
}

fn cert_der() -> Vec<u8> {
    pem_certs(CLIENT_CERT_PEM)
        .first()
        .map(|c| c.as_ref().to_vec())
        .unwrap_or_default()
}

#[tokio::test]
async fn refund_presents_the_pem_client_certificate() {
    let stub = start_stub().await;
    let doc = creds_json(
        CERT_MCH_ID,
        APPID,
        KEY,
        SignType::Md5,
        &[
            ("client_cert_pem", CLIENT_CERT_PEM),
            ("client_key_pem", CLIENT_KEY_PEM),
        ],
    );
    let provider = provider_for(&config(&stub), &doc, &ManualClock::at_unix(NOW_UNIX));
    let status = provider
        .refund(refund_request())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        status.state,
        RefundState::Processing,
        "accepted, not settled (G15)"
    );
    assert_eq!(
        status.refund_id.map(|r| r.into_string()).as_deref(),
        Some("2008450740201411110000174436")
    );
    assert_eq!(status.refund, Some(fen(1)));

    assert_eq!(
        stub.seen(|s| s.client_certs.first().cloned()),
        Some(cert_der())
    );
    let (path, sent) = stub
        .seen(|s| s.requests.first().cloned())
        .unwrap_or_default();
    assert_eq!(path, "/secapi/pay/refund");
    assert_eq!(verify(&sent, &ApiKey::new(KEY), SignType::Md5), Ok(()));
    let mut expected = f(&[
        ("appid", APPID),
        ("mch_id", CERT_MCH_ID),
        ("nonce_str", NONCE),
        ("sign_type", "MD5"),
        ("out_trade_no", "1415757673"),
        ("out_refund_no", "1415701182"),
        ("total_fee", "1"),
        ("refund_fee", "1"),
        ("refund_fee_type", "CNY"),
        ("refund_desc", "商品已售完"),
        ("notify_url", "https://pay.example.com/notify/ch_1/refund"),
    ]);
    expected.insert("sign".into(), sent["sign"].clone());
    assert_eq!(sent, expected);
}

#[tokio::test]
async fn refund_presents_the_certificate_from_a_legacy_pkcs12() {
    let stub = start_stub().await;
    let doc = creds_json(
        CERT_MCH_ID,
        APPID,
        KEY,
        SignType::Md5,
        &[("pkcs12_base64", &STANDARD.encode(P12_LEGACY))],
    );
    let provider = provider_for(&config(&stub), &doc, &ManualClock::at_unix(NOW_UNIX));
    let status = provider.refund(refund_request()).await;
    assert!(status.is_ok(), "{status:?}");
    assert_eq!(
        stub.seen(|s| s.client_certs.first().cloned()),
        Some(cert_der())
    );
}

#[tokio::test]
async fn without_a_certificate_refund_is_a_typed_error_and_nothing_is_sent() {
    let stub = start_stub().await;
    let doc = creds_json(CERT_MCH_ID, APPID, KEY, SignType::Md5, &[]);
    let provider = provider_for(&config(&stub), &doc, &ManualClock::at_unix(NOW_UNIX));
    let got = provider.refund(refund_request()).await;
    assert!(
        matches!(&got, Err(ProviderError::Credentials(m)) if m.contains("client certificate")),
        "{got:?}"
    );
    assert_eq!(stub.seen(|s| s.requests.len() + s.handshake_failures), 0);
}

#[tokio::test]
async fn a_certificate_from_another_issuer_is_refused_by_the_server() {
    let stub = start_stub().await;
    let foreign = rcgen::generate_simple_self_signed(vec!["merchant".to_owned()])
        .unwrap_or_else(|e| panic!("{e}"));
    let doc = creds_json(
        CERT_MCH_ID,
        APPID,
        KEY,
        SignType::Md5,
        &[
            ("client_cert_pem", &foreign.cert.pem()),
            ("client_key_pem", &foreign.signing_key.serialize_pem()),
        ],
    );
    let provider = provider_for(&config(&stub), &doc, &ManualClock::at_unix(NOW_UNIX));
    let got = provider.refund(refund_request()).await;
    assert!(matches!(got, Err(ProviderError::Transport(_))), "{got:?}");
    assert_eq!(
        stub.seen(|s| s.requests.len()),
        0,
        "the request never reached the handler"
    );
}

#[tokio::test]
async fn the_stub_refuses_a_client_without_certificate() {
    let stub = start_stub().await;
    let ca = reqwest::Certificate::from_pem(CA_PEM.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let got = client
        .post(format!("{}/secapi/pay/refund", stub.url()))
        .body("<xml/>")
        .send()
        .await;
    assert!(got.is_err(), "{got:?}");
    assert_eq!(stub.seen(|s| s.requests.len()), 0);
}
