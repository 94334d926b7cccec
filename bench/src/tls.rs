//! The bench's own TLS: a CA and a server certificate for the loopback address, made at run
//! time, so the functions reach the emulator over HTTPS (trusting the CA through
//! `SSL_CERT_FILE`) and pay the handshake as they do in the cloud.

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;

pub struct BenchTls {
    /// The CA certificate (PEM) in the scratch directory, for `SSL_CERT_FILE`.
    pub ca_file: PathBuf,
    pub acceptor: TlsAcceptor,
}

/// A fresh CA (ECDSA P-256) and a certificate it signs for `127.0.0.1` and `localhost`.
pub fn make(scratch: &Path) -> anyhow::Result<BenchTls> {
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "crm-bench loopback CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate()?;
    let mut server = CertificateParams::new(vec!["localhost".to_owned()])?;
    server
        .subject_alt_names
        .push(rcgen::SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    server
        .distinguished_name
        .push(DnType::CommonName, "crm-bench loopback");
    let cert = server.signed_by(&key, &issuer)?;

    let chain: Vec<CertificateDer<'static>> = vec![cert.der().clone(), ca_cert.der().clone()];
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];

    let ca_file = scratch.join("bench-ca.pem");
    std::fs::write(&ca_file, ca_cert.pem())?;
    Ok(BenchTls {
        ca_file,
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}
