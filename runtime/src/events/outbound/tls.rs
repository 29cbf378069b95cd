//! The TLS side of outbound WebSockets: a rustls client configuration from a
//! websocket_client.conf section (trust anchors, optional client certificate, and whether
//! the server's certificate and host name are verified).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::config::websocket_client_conf::ClientTls;

/// The system's trust anchors when neither ca_list_file nor ca_list_path is set.
const SYSTEM_CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Why a TLS client configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientTlsError {
    #[error("cannot read certificates from {path}: {reason}")]
    Certificates { path: PathBuf, reason: String },
    /// No trust anchor was found; the text says what each file gave.
    #[error("no usable CA certificate: {0}")]
    NoTrustAnchors(String),
    #[error("cannot read the private key {path}: {reason}")]
    PrivateKey { path: PathBuf, reason: String },
    #[error("cert_file and priv_key_file must be given together")]
    HalfClientCert,
    #[error("invalid TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ClientTlsError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ClientTlsError::Certificates {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// The trust anchors: ca_list_file, every file of ca_list_path, or the system bundle.
fn roots(tls: &ClientTls) -> Result<RootCertStore, ClientTlsError> {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(file) = &tls.ca_list_file {
        files.push(file.clone());
    }
    if let Some(dir) = &tls.ca_list_path {
        let entries = std::fs::read_dir(dir).map_err(|e| ClientTlsError::Certificates {
            path: dir.clone(),
            reason: e.to_string(),
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        found.sort();
        files.extend(found);
    }
    if files.is_empty() {
        files.push(PathBuf::from(SYSTEM_CA_FILE));
    }
    let mut store = RootCertStore::empty();
    // Files that gave nothing, with the reason, for the error when no anchor is left.
    let mut unusable: Vec<String> = Vec::new();
    for file in &files {
        match read_certificates(file) {
            Ok(certs) => {
                let (added, _) = store.add_parsable_certificates(certs);
                if added == 0 {
                    unusable.push(format!("{} (no CA certificate)", file.display()));
                }
            }
            // ca_list_file must be readable; a directory may hold other files (keys, CRLs).
            Err(e) if tls.ca_list_file.as_deref() == Some(file) => return Err(e),
            Err(e) => unusable.push(e.to_string()),
        }
    }
    if store.is_empty() {
        return Err(ClientTlsError::NoTrustAnchors(unusable.join("; ")));
    }
    Ok(store)
}

/// Builds the client configuration for one connection.
pub(crate) fn client_config(tls: &ClientTls) -> Result<Arc<ClientConfig>, ClientTlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = if tls.verify_server_cert {
        let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(tls)?), provider)
            .build()
            .map_err(|e| rustls::Error::General(e.to_string()))?;
        if tls.verify_server_hostname {
            builder.with_webpki_verifier(webpki)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
        }
    } else {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Unverified(provider)))
    };
    let config = match (&tls.cert_file, &tls.priv_key_file) {
        (Some(cert), Some(key)) => {
            let certs = read_certificates(cert)?;
            let key =
                PrivateKeyDer::from_pem_file(key).map_err(|e| ClientTlsError::PrivateKey {
                    path: key.clone(),
                    reason: e.to_string(),
                })?;
            builder.with_client_auth_cert(certs, key)?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(ClientTlsError::HalfClientCert),
    };
    Ok(Arc::new(config))
}

/// verify_server_hostname = no: the chain must verify, the name need not match.
#[derive(Debug)]
struct AnyName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for AnyName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// verify_server_cert = no: any certificate is accepted (signatures are still checked, so
/// the peer holds the key of the certificate it sent).
#[derive(Debug)]
struct Unverified(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for Unverified {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_directory_without_certificates_says_what_each_file_gave() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("notes.txt"), "not a certificate\n").expect("write");
        let tls = ClientTls {
            enabled: true,
            ca_list_path: Some(dir.path().to_path_buf()),
            ..ClientTls::default()
        };
        let error = roots(&tls).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.starts_with("no usable CA certificate: "), "{error}");
        assert!(error.contains("notes.txt"), "{error}");
    }

    #[test]
    fn an_unreadable_ca_list_file_is_an_error_with_its_reason() {
        let tls = ClientTls {
            enabled: true,
            ca_list_file: Some(PathBuf::from("/nonexistent/wari-ca.pem")),
            ..ClientTls::default()
        };
        let error = roots(&tls).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            error.contains("/nonexistent/wari-ca.pem") && error.contains("cannot read"),
            "{error}"
        );
    }
}
