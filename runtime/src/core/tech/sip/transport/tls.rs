//! SIP over TLS (`protocol=tls`): the transport's `cert_file` and `priv_key_file` (PEM, read
//! by the HTTPS listener's loader) made a rustls server configuration that speaks the TLS
//! versions of its `method`, and the handshake of each accepted connection, bounded in
//! time, before the connection is handed to rsipstack. The client side, for connections
//! wari opens ([`super::dial`]), is [`client_config`]: `verify_server` (Asterisk's
//! default: no) against `ca_list_file`/`ca_list_path` or the system's trust anchors, the
//! same certificate offered when a server asks for one. `wari check-config` runs the same
//! [`server_config`] and [`client_config`] as start-up, so both refuse the same files.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::config::pjsip_conf::{TlsMethod, Transport};
use crate::config::websocket_client_conf::ClientTls;
use crate::events::outbound::tls::ClientTlsError;
use crate::http::tls::{TlsError, read_certificates, read_private_key};

/// The longest a peer may take to finish its TLS handshake before its connection is closed
/// (a peer that connects and says nothing holds no task for long).
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a TLS transport's certificate cannot be served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsSetupError {
    /// `cert_file` or `priv_key_file` is not set (the reader refuses such a transport).
    #[error("needs cert_file and priv_key_file")]
    NoFiles,
    /// A file cannot be read or holds no certificate / key.
    #[error(transparent)]
    File(#[from] TlsError),
    /// rustls refuses the pair (a key that does not match the certificate, an unsupported
    /// key type).
    #[error("certificate {cert} with key {key}: {source}")]
    Refused {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    /// The client side cannot be set up (no trust anchor for `verify_server=yes`, an
    /// unreadable `ca_list_file`).
    #[error("as a client: {0}")]
    Client(#[from] ClientTlsError),
}

impl TlsSetupError {
    /// True when the problem lies in the private key file (to report it at its line).
    pub(crate) fn is_about_key(&self) -> bool {
        matches!(self, TlsSetupError::File(TlsError::PrivateKey { .. }))
    }
}

static TLS12_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS12];
static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

/// The rustls versions of a `method`.
fn versions(method: TlsMethod) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match method {
        TlsMethod::Default => rustls::DEFAULT_VERSIONS,
        TlsMethod::Tls12 => &TLS12_ONLY,
        TlsMethod::Tls13 => &TLS13_ONLY,
    }
}

/// The server configuration of a TLS transport: its certificate chain and key, its TLS
/// versions; no client certificates are asked for (Asterisk's `verify_client` default).
pub(crate) fn server_config(transport: &Transport) -> Result<Arc<ServerConfig>, TlsSetupError> {
    let (Some(cert), Some(key)) = (&transport.cert_file, &transport.priv_key_file) else {
        return Err(TlsSetupError::NoFiles);
    };
    let chain = read_certificates(cert)?;
    let private_key = read_private_key(key)?;
    let refused = |source| TlsSetupError::Refused {
        cert: cert.clone(),
        key: key.clone(),
        source,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(transport.method))
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(refused)?;
    Ok(Arc::new(config))
}

/// The client configuration of the connections wari opens over a TLS transport:
/// `verify_server=yes` verifies the server's chain against `ca_list_file` (and the files
/// of `ca_list_path`; neither: the system's anchors) and its name against the host
/// dialled; `no` (Asterisk's default) takes any certificate. The transport's certificate
/// is offered to servers that ask for one.
pub(crate) fn client_config(
    transport: &Transport,
) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let settings = ClientTls {
        enabled: true,
        ca_list_file: transport.ca_list_file.clone(),
        ca_list_path: transport.ca_list_path.clone(),
        cert_file: transport.cert_file.clone(),
        priv_key_file: transport.priv_key_file.clone(),
        verify_server_cert: transport.verify_server,
        verify_server_hostname: transport.verify_server,
    };
    Ok(crate::events::outbound::tls::client_config(&settings)?)
}

/// The acceptor of a TLS transport.
pub(crate) fn acceptor(transport: &Transport) -> Result<TlsAcceptor, TlsSetupError> {
    server_config(transport).map(TlsAcceptor::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;
    use crate::config::pjsip_conf::Protocol;

    /// A TLS transport whose certificate and key are `cert_pem` and `key_pem` in `dir`.
    fn transport(dir: &std::path::Path, cert_pem: &str, key_pem: &str) -> Transport {
        let cert = dir.join("sip.crt");
        let key = dir.join("sip.key");
        std::fs::write(&cert, cert_pem).expect("write cert");
        std::fs::write(&key, key_pem).expect("write key");
        let mut transport = Transport::with_defaults(
            "tls",
            Protocol::Tls,
            "127.0.0.1:0".parse().expect("address"),
            Location::file(std::path::Path::new("pjsip.conf")),
        );
        transport.cert_file = Some(cert);
        transport.priv_key_file = Some(key);
        transport
    }

    fn self_signed() -> (String, String) {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("certificate");
        (certified.cert.pem(), certified.signing_key.serialize_pem())
    }

    #[test]
    fn a_certificate_and_its_key_make_a_configuration_with_the_methods_versions() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key) = self_signed();
        let mut transport = transport(dir.path(), &cert, &key);
        assert!(server_config(&transport).is_ok());
        transport.method = TlsMethod::Tls13;
        assert!(server_config(&transport).is_ok());
        assert_eq!(versions(TlsMethod::Tls12), [&rustls::version::TLS12]);
        assert_eq!(versions(TlsMethod::Default).len(), 2);
    }

    #[test]
    fn unreadable_or_mismatched_files_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key) = self_signed();
        let garbage = transport(dir.path(), "not a certificate\n", &key);
        let error = server_config(&garbage).expect_err("no certificate");
        assert!(error.to_string().contains("sip.crt"), "{error}");
        assert!(!error.is_about_key());

        let no_key = transport(dir.path(), &cert, "-----BEGIN NOTHING-----\n");
        let error = server_config(&no_key).expect_err("no key");
        assert!(error.to_string().contains("sip.key"), "{error}");
        assert!(error.is_about_key());

        let (_, other_key) = self_signed();
        let mismatched = transport(dir.path(), &cert, &other_key);
        let error = server_config(&mismatched).expect_err("key of another certificate");
        assert!(matches!(error, TlsSetupError::Refused { .. }), "{error}");
        assert!(error.to_string().contains("sip.key"), "{error}");

        let mut missing = transport(dir.path(), &cert, &key);
        missing.cert_file = Some(dir.path().join("absent.crt"));
        let error = server_config(&missing).expect_err("absent file");
        assert!(error.to_string().contains("absent.crt"), "{error}");
    }

    #[test]
    fn the_client_side_verifies_only_with_verify_server_and_needs_its_anchors_then() {
        let dir = tempfile::tempdir().expect("dir");
        let (cert, key) = self_signed();
        let mut transport = transport(dir.path(), &cert, &key);
        // Asterisk's default: verify_server=no, no trust anchor needed.
        transport.ca_list_file = Some(dir.path().join("absent-ca.crt"));
        assert!(client_config(&transport).is_ok());
        transport.verify_server = true;
        let error = client_config(&transport).expect_err("absent ca_list_file");
        assert!(error.to_string().contains("absent-ca.crt"), "{error}");
        transport.ca_list_file = Some(dir.path().join("sip.crt"));
        assert!(client_config(&transport).is_ok());
    }

    #[test]
    fn verify_server_and_the_ca_lists_are_read_from_the_transport() {
        let mut problems = crate::config::Problems::default();
        let file = crate::config::conf_file::parse_str(
            std::path::Path::new("pjsip.conf"),
            "[t]\ntype=transport\nprotocol=tls\nbind=127.0.0.1\ncert_file=c.pem\n\
             priv_key_file=k.pem\nverify_server=yes\nca_list_file=ca.pem\nca_list_path=cas\n\n\
             [u]\ntype=transport\nprotocol=tls\nbind=127.0.0.2\ncert_file=c.pem\n\
             priv_key_file=k.pem\nverify_server=maybe\n",
            &mut problems,
        );
        let mut config = crate::config::pjsip_conf::read(Some(&file), &mut problems);
        config.resolve_paths(std::path::Path::new("/etc/wari"));
        let t = config.transport("t").expect("transport t");
        assert!(t.verify_server);
        assert_eq!(
            t.ca_list_file.as_deref(),
            Some(std::path::Path::new("/etc/wari/ca.pem"))
        );
        assert_eq!(
            t.ca_list_path.as_deref(),
            Some(std::path::Path::new("/etc/wari/cas"))
        );
        let u = config.transport("u").expect("transport u");
        assert!(
            !u.verify_server,
            "Asterisk's default, kept after a bad value"
        );
        let text = format!("{problems:?}");
        assert!(text.contains("verify_server"), "{text}");
    }
}
