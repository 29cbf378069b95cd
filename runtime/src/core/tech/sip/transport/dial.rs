//! SIP over TLS dialled by wari: a call, a registration or an OPTIONS ping to a
//! `transport=tls` target that has no connection open yet (a phone that registered over
//! TLS is reached over its own connection, as over TCP). rsipstack opens the connection
//! when it sends; its TLS client asks the connector registered here
//! ([`rsipstack::platform::tls`]), which makes the TCP connection and the handshake with
//! the TLS transport's client settings ([`super::tls::client_config`]: `verify_server`,
//! `ca_list_file`/`ca_list_path`, `cert_file`), both bounded by
//! [`super::tls::HANDSHAKE_TIMEOUT`].

use std::net::SocketAddr;
use std::sync::Arc;

use rsipstack::platform::tls::{TlsClientConfig, TlsConnector, TlsStream};
use rustls::ClientConfig;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

use super::tls::HANDSHAKE_TIMEOUT;

/// The most bytes one read hands rsipstack (it frames SIP messages itself).
const READ_CHUNK: usize = 16 * 1024;

/// Makes wari's TLS client connections with `config` (for the whole process: rsipstack
/// keeps one connector, and wari runs one SIP technology).
pub(crate) fn install(config: Arc<ClientConfig>) {
    rsipstack::platform::tls::set_client_connector(Arc::new(Dialer { config }));
}

/// The connector rsipstack calls.
struct Dialer {
    config: Arc<ClientConfig>,
}

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
        let connector = tokio_rustls::TlsConnector::from(self.config.clone());
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
}
