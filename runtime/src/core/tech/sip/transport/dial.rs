//! The connections wari opens for its own requests: a call, a registration or an OPTIONS
//! ping to a TCP or TLS target that has no connection open yet (a phone that registered
//! over TCP or TLS is reached over its own connection). [`connect`] opens (or finds) the
//! connection before the request is sent, so that a refused connection fails the request
//! at once, as pjsip ends a transaction on a transport error (503), instead of leaving it
//! to wait for Timer B; rsipstack's transaction then sends over the connection found.
//!
//! TLS: rsipstack's TLS client asks the connector registered here
//! ([`rsipstack::platform::tls`], one per process), which makes the TCP connection and
//! the handshake, both bounded by [`super::tls::HANDSHAKE_TIMEOUT`], with the client
//! settings ([`super::tls::client_config`]: `verify_server`,
//! `ca_list_file`/`ca_list_path`, `cert_file`) of the transport the request goes out on:
//! the one [`connect`] was given (an endpoint's or a registration's `transport=`, when it
//! names a TLS transport), else the first TLS transport of `pjsip.conf`, as pjsip picks
//! its first TLS transport when none is named. rsipstack passes the connector nothing
//! that names a transport, so [`connect`] carries the settings to it in a task-local
//! value around its own lookup; a connection rsipstack opens by itself (an in-dialog
//! request after the connection closed) gets the first TLS transport's. A connection is
//! reused by every request to the same address, whichever transport opened it (rsipstack
//! keeps one per remote address).

use std::net::SocketAddr;
use std::sync::{Arc, Once, RwLock};
use std::time::Duration;

use rsipstack::platform::tls::{TlsClientConfig, TlsConnector, TlsStream};
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::tls::HANDSHAKE_TIMEOUT;

/// The most bytes one read hands rsipstack (it frames SIP messages itself).
const READ_CHUNK: usize = 16 * 1024;

/// The longest [`connect`] waits for a connection: SIP's Timer B (64 × T1 of 500 ms),
/// after which the request would have timed out anyway.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(32);

/// The client settings of each TLS transport, in `pjsip.conf`'s order (the first is the
/// default one).
static CLIENTS: RwLock<Vec<(String, Arc<ClientConfig>)>> = RwLock::new(Vec::new());

/// rsipstack's connector is registered once (it keeps it for the process).
static CONNECTOR: Once = Once::new();

tokio::task_local! {
    /// The client settings of the TLS connection [`connect`] is opening.
    static CHOSEN: Arc<ClientConfig>;
}

/// Makes wari's TLS client connections with `clients`, each TLS transport's name and
/// client settings in the file's order (for the whole process: rsipstack keeps one
/// connector, and wari runs one SIP technology). Nothing to do without a TLS transport.
pub(crate) fn install(clients: Vec<(String, Arc<ClientConfig>)>) {
    if clients.is_empty() {
        return;
    }
    *CLIENTS.write().unwrap_or_else(|p| p.into_inner()) = clients;
    CONNECTOR.call_once(|| rsipstack::platform::tls::set_client_connector(Arc::new(Dialer)));
}

/// The client settings a TLS connection over `transport` is made with: that TLS
/// transport's, else (no name, or not a TLS transport) the first TLS transport's.
fn client_for(transport: Option<&str>) -> Option<Arc<ClientConfig>> {
    choose(
        &CLIENTS.read().unwrap_or_else(|p| p.into_inner()),
        transport,
    )
    .cloned()
}

/// Among `clients`, the settings of `transport`, else the first.
fn choose<'c, T>(clients: &'c [(String, T)], transport: Option<&str>) -> Option<&'c T> {
    transport
        .and_then(|name| clients.iter().find(|(n, _)| n == name))
        .or_else(|| clients.first())
        .map(|(_, config)| config)
}

/// Why [`connect`] found no connection.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DialError {
    /// The connection was refused: TCP connect refused, TLS handshake failed (a
    /// certificate `verify_server` refuses), a name that does not resolve. pjsip ends the
    /// transaction with 503.
    #[error("SIP connection to {target}: {reason}")]
    Refused { target: String, reason: String },
    /// No connection within [`CONNECT_TIMEOUT`] (the request's Timer B: 408).
    #[error("SIP connection to {target}: timed out")]
    TimedOut { target: String },
}

impl DialError {
    /// The status pjsip ends the request's transaction with: 503 for a transport error,
    /// 408 for a timeout.
    pub(crate) fn status(&self) -> u16 {
        match self {
            DialError::Refused { .. } => 503,
            DialError::TimedOut { .. } => 408,
        }
    }
}

/// Where a request to `uri` goes, as rsipstack's client transaction works it out (with
/// no `Route`): the URI's host, port and `transport` parameter; TLS for `sips:`, whose
/// port defaults to 5061.
pub(crate) fn request_target(uri: &rsipstack::sip::Uri) -> Option<SipAddr> {
    use rsipstack::sip::{Scheme, Transport};
    let mut target = SipAddr::try_from(uri).ok()?;
    if target.r#type.is_none() && uri.scheme == Some(Scheme::Sips) {
        target.r#type = Some(Transport::Tls);
    }
    if target.r#type == Some(Transport::Tls) && target.addr.port.is_none() {
        target.addr.port = Some(5061.into());
    }
    Some(target)
}

/// True when a request to `target` goes over a connection (TCP or TLS) that
/// [`connect`] should open first.
pub(crate) fn needs_connection(target: &SipAddr) -> bool {
    use rsipstack::sip::Transport;
    matches!(target.r#type, Some(Transport::Tcp | Transport::Tls))
}

/// The connection a request to `target` goes over: the one open to that address, else a
/// new one (a TLS one with `transport`'s client settings, see [`client_for`]), within
/// [`CONNECT_TIMEOUT`]. rsipstack keeps the connection, so the request's transaction finds
/// it when it sends.
pub(crate) async fn connect(
    layer: &TransportLayer,
    target: &SipAddr,
    transport: Option<&str>,
) -> Result<SipConnection, DialError> {
    let lookup = layer.lookup(target, None);
    let lookup = async {
        match client_for(transport) {
            Some(config) => CHOSEN.scope(config, lookup).await,
            None => lookup.await,
        }
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, lookup).await {
        Ok(Ok((connection, _))) => Ok(connection),
        Ok(Err(error)) => {
            tracing::info!(%target, %error, "SIP connection refused");
            Err(DialError::Refused {
                target: target.to_string(),
                reason: error.to_string(),
            })
        }
        Err(_) => {
            tracing::info!(%target, "SIP connection timed out");
            Err(DialError::TimedOut {
                target: target.to_string(),
            })
        }
    }
}

/// The connector rsipstack calls.
struct Dialer;

/// The name the server's certificate must carry: the dialled host (an IP address or a
/// DNS name, as rsipstack gives it); None when it is neither.
fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).ok()
}

#[async_trait::async_trait]
impl TlsConnector for Dialer {
    async fn connect(
        &self,
        target: &TlsClientConfig,
        addr: SocketAddr,
    ) -> rsipstack::Result<Box<dyn TlsStream>> {
        let name = server_name(&target.server_name).ok_or_else(|| {
            rsipstack::Error::Error(format!("TLS: not a host name: {:?}", target.server_name))
        })?;
        let config = CHOSEN
            .try_with(Arc::clone)
            .ok()
            .or_else(|| client_for(None))
            .ok_or_else(|| rsipstack::Error::Error("TLS: no TLS transport".into()))?;
        let connector = tokio_rustls::TlsConnector::from(config);
        let handshake = async {
            let tcp = TcpStream::connect(addr).await?;
            let local = tcp.local_addr()?;
            let stream = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>((stream, local))
        };
        let (stream, local) = tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake)
            .await
            .map_err(|_| rsipstack::Error::Error(format!("TLS connection to {addr} timed out")))?
            .map_err(|error| {
                tracing::info!(%addr, %error, "SIP TLS connection failed");
                rsipstack::Error::Error(format!("TLS connection to {addr}: {error}"))
            })?;
        tracing::debug!(%addr, %local, "SIP TLS connection made");
        let (reader, writer) = tokio::io::split(stream);
        Ok(Box::new(Dialled {
            reader: Mutex::new(reader),
            writer: Mutex::new(writer),
            local,
        }))
    }
}

type ClientStream = tokio_rustls::client::TlsStream<TcpStream>;

/// A connection wari dialled, its halves each behind a lock of its own (rsipstack reads
/// and writes at the same time).
struct Dialled {
    reader: Mutex<ReadHalf<ClientStream>>,
    writer: Mutex<WriteHalf<ClientStream>>,
    local: SocketAddr,
}

#[async_trait::async_trait]
impl TlsStream for Dialled {
    async fn recv(&self) -> rsipstack::Result<Vec<u8>> {
        let mut buffer = vec![0; READ_CHUNK];
        let n = self.reader.lock().await.read(&mut buffer).await?;
        buffer.truncate(n);
        Ok(buffer)
    }

    async fn send_all(&self, data: Vec<u8>) -> rsipstack::Result<()> {
        let mut writer = self.writer.lock().await;
        writer.write_all(&data).await?;
        writer.flush().await?;
        Ok(())
    }

    async fn shutdown(&self) -> rsipstack::Result<()> {
        self.writer.lock().await.shutdown().await?;
        Ok(())
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_must_name_the_dialled_host() {
        assert!(matches!(
            server_name("127.0.0.1"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("[::1]"),
            Some(ServerName::IpAddress(_))
        ));
        assert!(matches!(
            server_name("sip.example.com"),
            Some(ServerName::DnsName(_))
        ));
        assert!(server_name("not a name").is_none());
    }

    #[test]
    fn a_tls_connection_takes_its_transports_settings_else_the_first_transports() {
        let clients = vec![("tls-a".to_string(), 'a'), ("tls-b".to_string(), 'b')];
        assert_eq!(choose(&clients, Some("tls-b")), Some(&'b'));
        assert_eq!(choose(&clients, Some("tls-a")), Some(&'a'));
        assert_eq!(choose(&clients, None), Some(&'a'));
        // An endpoint whose transport is UDP or TCP calling a sips: URI.
        assert_eq!(choose(&clients, Some("udp")), Some(&'a'));
        assert_eq!(choose::<char>(&[], None), None);
    }

    #[test]
    fn the_target_of_a_request_is_its_uris_with_sips_over_tls_on_5061() {
        use rsipstack::sip::{Transport, Uri};
        let target = |uri: &str| {
            let uri = Uri::try_from(uri).expect("uri");
            request_target(&uri).expect("target")
        };
        let tls = target("sips:bob@192.0.2.1");
        assert_eq!(tls.r#type, Some(Transport::Tls));
        assert_eq!(tls.addr.to_string(), "192.0.2.1:5061");
        assert!(needs_connection(&tls));
        let tcp = target("sip:bob@192.0.2.1:5070;transport=tcp");
        assert_eq!(tcp.r#type, Some(Transport::Tcp));
        assert_eq!(tcp.addr.to_string(), "192.0.2.1:5070");
        assert!(needs_connection(&tcp));
        let udp = target("sip:bob@192.0.2.1");
        assert_eq!(udp.r#type, None);
        assert!(!needs_connection(&udp));
    }
}
