//! Opening one outbound WebSocket: TCP (and TLS when `tls_enabled`) within
//! `connection_timeout`, then the WebSocket handshake within twice that, offering the
//! configured subprotocols and Basic credentials.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http::HeaderValue;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::config::websocket_client_conf::WebSocketClient;

/// A byte stream a WebSocket can run on (plain TCP or TLS).
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// An open outbound WebSocket.
pub type ClientStream = WebSocketStream<Box<dyn Io>>;

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
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
    #[error("WebSocket handshake with {address} failed: {source}")]
    Handshake {
        address: String,
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
}

/// Where a uri points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub resource: String,
    /// `user:password@` from the uri (it overrides username/password).
    pub userinfo: Option<(String, String)>,
}

/// Splits a `ws://` or `wss://` uri; the scheme only picks the default port.
pub fn parse_uri(uri: &str) -> Result<Target, ConnectError> {
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
pub async fn connect(
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

    let mut request = format!("ws://{address}{}", target.resource)
        .into_client_request()
        .map_err(|_| ConnectError::Uri(client.uri.clone()))?;
    let headers = request.headers_mut();
    if !client.protocols.is_empty()
        && let Ok(value) = HeaderValue::from_str(&client.protocols.join(", "))
    {
        headers.insert(http::header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let credentials = match &target.userinfo {
        Some((user, password)) => Some((user.clone(), password.clone())),
        None => client.username.clone().zip(client.password.clone()),
    };
    if let Some((user, password)) = credentials.filter(|(u, p)| !u.is_empty() && !p.is_empty()) {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        if let Ok(value) = HeaderValue::from_str(&format!("Basic {encoded}")) {
            headers.insert(http::header::AUTHORIZATION, value);
        }
    }
    let (socket, _) = tokio::time::timeout(
        timeout * 2,
        tokio_tungstenite::client_async(request, stream),
    )
    .await
    .map_err(|_| ConnectError::Timeout {
        stage: "WebSocket handshake",
        address: address.clone(),
        after: timeout * 2,
    })?
    .map_err(|source| ConnectError::Handshake {
        address: address.clone(),
        source: Box::new(source),
    })?;
    Ok(socket)
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
