//! The TLS of a function's HTTPS clients: the bundled roots AWS endpoints chain to, so init
//! never reads the system's certificate store (the SDK's client in `cloud`, the attachments'
//! signed HEAD).

use aws_smithy_http_client::tls::{TlsContext, TrustStore};

/// The roots of Amazon Trust Services (Amazon Root CA 1–4 and the Starfield Services root that
/// cross-signs them), which issue the certificate of every AWS service endpoint (AWS moved all
/// of them to its own CA; DynamoDB, SQS, SES and SSM long before S3 finished in 2022).
const AWS_ROOT_CAS: &str = include_str!("aws-root-cas.pem");

/// The TLS of a function's clients: the bundled roots of `function_trust_store`, plus the
/// system's when `SSL_CERT_FILE` or `SSL_CERT_DIR` names them. Shared by the SDK's client and
/// the attachments' signed HEAD (`attachments::download`).
pub(crate) fn function_tls_context() -> Result<TlsContext, String> {
    TlsContext::builder()
        .with_trust_store(function_trust_store(
            std::env::var_os("SSL_CERT_FILE").is_some()
                || std::env::var_os("SSL_CERT_DIR").is_some(),
        ))
        .build()
        .map_err(|e| e.to_string())
}

/// A function's trust store: the bundled AWS roots, parsed from 6 KB in memory, so init skips
/// the system store (the bundle file, then every file of the certificate directory: a few
/// milliseconds, more than the rest of init). `explicit` (`SSL_CERT_FILE` or `SSL_CERT_DIR`
/// set, as for an emulator behind TLS or the bench) adds what those name, read as
/// rustls-native-certs reads them (those paths only, never the system's directory).
fn function_trust_store(explicit: bool) -> TrustStore {
    TrustStore::empty()
        .with_native_roots(explicit)
        .with_pem_certificate(AWS_ROOT_CAS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_aws_roots_parse() {
        use rustls_pki_types::CertificateDer;
        use rustls_pki_types::pem::PemObject;
        let certs = CertificateDer::pem_slice_iter(AWS_ROOT_CAS.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .expect("the bundled roots are PEM");
        assert_eq!(certs.len(), 5);
        assert!(
            TlsContext::builder()
                .with_trust_store(function_trust_store(false))
                .build()
                .is_ok()
        );
    }
}
