//! The TLS side of the simulator: a throw-away CA and server certificate for 127.0.0.1, and a
//! client-certificate verifier that admits only certificates registered as merchant API
//! certificates — the mutual TLS that `/secapi/pay/refund` demands at WeChat.
//!
//! The verifier checks the handshake signature with the presented certificate's key, so a
//! client holding the certificate but not its private key cannot connect.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName as TlsDn, ServerConfig, SignatureScheme};

use crate::error::SimError;
use crate::state::Sim;

/// The simulator's server identity.
#[derive(Debug)]
pub struct ServerIdentity {
    /// The CA certificate clients must trust.
    pub ca_pem: String,
    pub config: Arc<ServerConfig>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Generates a CA and a server certificate for `localhost` / `127.0.0.1`, and the rustls
/// configuration that requires a registered merchant certificate from every client.
pub fn server_identity(sim: Sim) -> Result<ServerIdentity, SimError> {
    let tls = |e: rcgen::Error| SimError::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "paygate simulator (NOT WECHAT)");
    dn.push(DnType::CommonName, "paygate simulator CA");
    ca_params.distinguished_name = dn;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(tls)?;
    let mut leaf = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
        .map_err(tls)?;
    leaf.distinguished_name
        .push(DnType::CommonName, "api.mch.weixin.qq.com (simulated)");
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(tls)?;

    let verifier = Arc::new(MerchantCertVerifier {
        sim,
        algorithms: provider().signature_verification_algorithms,
    });
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| SimError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![leaf_cert.der().clone()], key)
        .map_err(|e| SimError::Tls(e.to_string()))?;
    Ok(ServerIdentity {
        ca_pem,
        config: Arc::new(config),
    })
}

/// Admits exactly the certificates registered with `POST /sim/merchants`.
#[derive(Debug)]
struct MerchantCertVerifier {
    sim: Sim,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for MerchantCertVerifier {
    fn root_hint_subjects(&self) -> &[TlsDn] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let known = self
            .sim
            .world()
            .merchants
            .values()
            .any(|m| m.keys.cert_der.as_slice() == end_entity.as_ref());
        if known {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The client certificate of a TLS connection, attached to each of its requests.
#[derive(Debug, Clone)]
pub struct PeerCert(pub Option<Vec<u8>>);
