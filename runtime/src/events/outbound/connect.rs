//! Opening one outbound WebSocket: TCP (and TLS when `tls_enabled`) within
//! `connection_timeout`, then the WebSocket handshake within twice that, offering the
//! configured subprotocols and Basic credentials. The handshake is checked as Asterisk does
//! (a server answering without a subprotocol is accepted).

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;

use crate::config::websocket_client_conf::WebSocketClient;

/// A byte stream a WebSocket can run on (plain TCP or TLS).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open outbound WebSocket.
pub(crate) type ClientStream = WebSocketStream<Box<dyn Io>>;

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("invalid uri '{0}'")]
    Uri(String),
    #[error("TCP connect to {address} failed: {source}")]
    Tcp {
        address: String,
        source: std::io::Error,
    },
    #[error("{stage} with {address} timed out after {after:?}")]
    Timeout {
        stage: &'static str,
        address: String,
        after: Duration,
    },
    #[error("TLS handshake with {address} failed: {source}")]
    Tls {
        address: String,
        source: std::io::Error,
    },
    #[error("TLS is not usable: {0}")]
    TlsSetup(#[from] super::tls::ClientTlsError),
    #[error("WebSocket handshake with {address} failed: {reason}")]
    Handshake {
        address: String,
        #[source]
        reason: HandshakeError,
    },
}

/// Why the opening handshake failed: the request could not be sent, or the server's answer
/// is not one Asterisk accepts.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandshakeError {
    #[error("invalid request: {0}")]
    Request(#[source] http::Error),
    #[error("{0}")]
    Http(#[from] hyper::Error),
    #[error("the server answered {0} instead of 101")]
    Status(http::StatusCode),
    #[error("the answer's Upgrade header is not websocket")]
    Upgrade,
    #[error("the answer's Connection header does not say Upgrade")]
    Connection,
    #[error("the answer's Sec-WebSocket-Accept does not match the key")]
    Accept,
    #[error("the server negotiated an extension (none were offered)")]
    Extension,
    #[error("the server chose subprotocol '{0}', which was not offered")]
    Subprotocol(String),
}

/// Where a uri points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub resource: String,
    /// `user:password@` from the uri (it overrides username/password).
    pub userinfo: Option<(String, String)>,
}

/// Splits a `ws://` or `wss://` uri; the scheme only picks the default port.
pub(crate) fn parse_uri(uri: &str) -> Result<Target, ConnectError> {
    let bad = || ConnectError::Uri(uri.to_string());
    let (scheme, rest) = uri.split_once("://").ok_or_else(bad)?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "ws" => 80,
        "wss" => 443,
        _ => return Err(bad()),
    };
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, resource) = rest.split_at(split);
    let resource = match resource {
        "" => "/".to_string(),
        r if r.starts_with('?') => format!("/{r}"),
        r => r.to_string(),
    };
    let (userinfo, hostport) = match authority.rsplit_once('@') {
        Some((info, hostport)) => {
            let (user, password) = info.split_once(':').unwrap_or((info, ""));
            let decode = |s: &str| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (Some((decode(user), decode(password))), hostport)
        }
        None => (None, authority),
    };
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None if after.is_empty() => default_port,
            None => return Err(bad()),
        };
        (host.to_string(), port)
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host.to_string(), port.parse().map_err(|_| bad())?),
            None => (hostport.to_string(), default_port),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok(Target {
        host,
        port,
        resource,
        userinfo,
    })
}

/// Connects to `client`'s server. `tls` is the prepared client configuration when
/// `tls_enabled`.
pub(crate) async fn connect(
    client: &WebSocketClient,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<ClientStream, ConnectError> {
    let target = parse_uri(&client.uri)?;
    let address = if target.host.contains(':') {
        format!("[{}]:{}", target.host, target.port)
    } else {
        format!("{}:{}", target.host, target.port)
    };
    let timeout = client.connection_timeout.max(Duration::from_millis(1));
    let timed_out = |stage| ConnectError::Timeout {
        stage,
        address: address.clone(),
        after: timeout,
    };
    let stream: Box<dyn Io> = tokio::time::timeout(timeout, async {
        let tcp = TcpStream::connect(&address)
            .await
            .map_err(|source| ConnectError::Tcp {
                address: address.clone(),
                source,
            })?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok::<Box<dyn Io>, ConnectError>(Box::new(tcp));
        };
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| ConnectError::Uri(client.uri.clone()))?;
        let tls = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|source| ConnectError::Tls {
                address: address.clone(),
                source,
            })?;
        Ok(Box::new(tls))
    })
    .await
    .map_err(|_| timed_out("connect"))??;

    let credentials = match &target.userinfo {
        Some((user, password)) => Some((user.clone(), password.clone())),
        None => client.username.clone().zip(client.password.clone()),
    }
    .filter(|(u, p)| !u.is_empty() && !p.is_empty());
    let host = if target.port == 80 || target.port == 443 {
        target.host.clone()
    } else {
        address.clone()
    };
    let handshake = Handshake {
        host,
        resource: target.resource.clone(),
        protocols: client.protocols.clone(),
        credentials,
    };
    tokio::time::timeout(timeout * 2, handshake.run(stream))
        .await
        .map_err(|_| ConnectError::Timeout {
            stage: "WebSocket handshake",
            address: address.clone(),
            after: timeout * 2,
        })?
        .map_err(|reason| ConnectError::Handshake {
            address: address.clone(),
            reason,
        })
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The client side of the opening handshake (RFC 6455 section 4.1), done with hyper so
/// that the checks are Asterisk's: status 101, `Upgrade`, `Connection` and
/// `Sec-WebSocket-Accept` must match; any extension fails; a subprotocol must be one we
/// offered, and no subprotocol in the answer is accepted.
struct Handshake {
    host: String,
    resource: String,
    protocols: Vec<String>,
    credentials: Option<(String, String)>,
}

impl Handshake {
    async fn run(self, stream: Box<dyn Io>) -> Result<ClientStream, HandshakeError> {
        use http::header;
        use hyper_util::rt::TokioIo;
        use tokio_tungstenite::tungstenite::handshake::client::generate_key;
        use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

        let key = generate_key();
        let mut request = http::Request::builder()
            .method(http::Method::GET)
            .uri(self.resource.as_str())
            .header(header::HOST, self.host.as_str())
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "Upgrade")
            .header(header::SEC_WEBSOCKET_VERSION, "13")
            .header(header::SEC_WEBSOCKET_KEY, &key);
        if !self.protocols.is_empty() {
            request = request.header(header::SEC_WEBSOCKET_PROTOCOL, self.protocols.join(", "));
        }
        if let Some((user, password)) = &self.credentials {
            request = request.header(
                header::AUTHORIZATION,
                crate::ari::auth::basic_authorization(user, password),
            );
        }
        let request = request
            .body(http_body_util::Empty::<bytes::Bytes>::new())
            .map_err(HandshakeError::Request)?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        // The connection is driven by its own task until it hands the socket over; the
        // guard stops it when the handshake fails or is abandoned.
        let driver = tokio::spawn(connection.with_upgrades());
        let _stop_driver = AbortOnDrop(driver.abort_handle());
        let response = sender.send_request(request).await?;
        let status = response.status();
        if status != http::StatusCode::SWITCHING_PROTOCOLS {
            return Err(HandshakeError::Status(status));
        }
        let headers = response.headers();
        let value = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        if !value(header::UPGRADE).eq_ignore_ascii_case("websocket") {
            return Err(HandshakeError::Upgrade);
        }
        if !value(header::CONNECTION)
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        {
            return Err(HandshakeError::Connection);
        }
        if value(header::SEC_WEBSOCKET_ACCEPT) != derive_accept_key(key.as_bytes()) {
            return Err(HandshakeError::Accept);
        }
        if headers.contains_key(header::SEC_WEBSOCKET_EXTENSIONS) {
            return Err(HandshakeError::Extension);
        }
        let protocol = value(header::SEC_WEBSOCKET_PROTOCOL);
        if !protocol.is_empty() && !self.protocols.contains(&protocol) {
            return Err(HandshakeError::Subprotocol(protocol));
        }
        let upgraded = hyper::upgrade::on(response).await?;
        let io: Box<dyn Io> = Box::new(TokioIo::new(upgraded));
        Ok(WebSocketStream::from_raw_socket(
            io,
            tokio_tungstenite::tungstenite::protocol::Role::Client,
            Some(
                tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .max_message_size(Some(crate::events::rest_over_ws::MAX_MESSAGE))
                    .max_frame_size(Some(crate::events::rest_over_ws::MAX_MESSAGE)),
            ),
        )
        .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_split_into_host_port_and_resource() {
        let t = parse_uri("ws://example.com/ari?x=1").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("example.com", 80));
        assert_eq!(t.resource, "/ari?x=1");
        let t = parse_uri("wss://u:p%40ss@h:8443").expect("valid");
        assert_eq!(
            (t.host.as_str(), t.port, t.resource.as_str()),
            ("h", 8443, "/")
        );
        assert_eq!(t.userinfo, Some(("u".into(), "p@ss".into())));
        let t = parse_uri("ws://[::1]:9/x").expect("valid");
        assert_eq!((t.host.as_str(), t.port), ("::1", 9));
        assert!(parse_uri("http://h/").is_err());
        assert!(parse_uri("ws://h:port/").is_err());
        assert!(parse_uri("ws:///x").is_err());
    }
}
