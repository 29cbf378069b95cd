//! The SIP transports of `pjsip.conf` (`type=transport`) as sockets: each is bound when
//! the technology starts (synchronously, so a bind failure stops wari's start-up naming
//! the transport), then handed to rsipstack's transport layer. UDP sockets become
//! rsipstack listeners; a TCP transport's connections are accepted here and each one is
//! given to rsipstack as a connection of its own (rsipstack's own TCP listener binds only
//! when served, too late to report a failure or the port the system picked).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use futures_util::FutureExt;
use rsipstack::platform::CancellationToken;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};

use crate::config::pjsip_conf::{Protocol, Transport};

/// A transport that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TransportError {
    /// Its socket cannot be bound (address in use, not local, no permission).
    #[error("SIP transport {name}: cannot bind {protocol} {address}: {source}")]
    Bind {
        name: String,
        protocol: &'static str,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// wari cannot carry this protocol yet.
    #[error("SIP transport {name}: protocol {protocol} is not supported")]
    Unsupported {
        name: String,
        protocol: &'static str,
    },
}

/// Where one transport listens, for wari's banner (`listening: sip-udp udp://ADDR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listening {
    /// The transport's section name.
    pub(crate) name: String,
    /// `udp` or `tcp`.
    pub(crate) protocol: &'static str,
    /// The bound address (the port the system picked for `:0`).
    pub(crate) address: SocketAddr,
}

impl Listening {
    /// The banner's scheme word: `sip-udp`, `sip-tcp`.
    pub(crate) fn scheme(&self) -> String {
        format!("sip-{}", self.protocol)
    }

    /// The banner's URL: `udp://127.0.0.1:5060`.
    pub(crate) fn url(&self) -> String {
        format!("{}://{}", self.protocol, self.address)
    }
}

/// A transport's socket, bound and not yet served.
#[derive(Debug)]
pub(crate) enum Bound {
    Udp(Listening, UdpSocket),
    Tcp(Listening, TcpListener),
}

impl Bound {
    pub(crate) fn listening(&self) -> &Listening {
        match self {
            Bound::Udp(l, _) | Bound::Tcp(l, _) => l,
        }
    }
}

/// Binds one transport's socket (non-blocking, for tokio).
pub(crate) fn bind(transport: &Transport) -> Result<Bound, TransportError> {
    let name = transport.name.clone();
    let protocol = transport.protocol.as_str();
    let bind_error = |source| TransportError::Bind {
        name: name.clone(),
        protocol,
        address: transport.bind,
        source,
    };
    match transport.protocol {
        Protocol::Udp => {
            let socket = UdpSocket::bind(transport.bind).map_err(bind_error)?;
            socket.set_nonblocking(true).map_err(bind_error)?;
            let address = socket.local_addr().map_err(bind_error)?;
            Ok(Bound::Udp(
                Listening {
                    name: transport.name.clone(),
                    protocol: "udp",
                    address,
                },
                socket,
            ))
        }
        Protocol::Tcp => {
            let listener = TcpListener::bind(transport.bind).map_err(bind_error)?;
            listener.set_nonblocking(true).map_err(bind_error)?;
            let address = listener.local_addr().map_err(bind_error)?;
            Ok(Bound::Tcp(
                Listening {
                    name: transport.name.clone(),
                    protocol: "tcp",
                    address,
                },
                listener,
            ))
        }
        Protocol::Tls => Err(TransportError::Unsupported {
            name: transport.name.clone(),
            protocol,
        }),
    }
}

/// Binds every transport, in the file's order; the first failure is returned.
pub(crate) fn bind_all(transports: &[Transport]) -> Result<Vec<Bound>, TransportError> {
    transports.iter().map(bind).collect()
}

/// Hands the bound UDP sockets to rsipstack's transport layer as listeners its endpoint
/// serves (must run inside the tokio runtime); returns the TCP listeners, which
/// [`serve_tcp`] serves once the endpoint exists.
pub(crate) fn attach_udp(
    layer: &TransportLayer,
    bound: Vec<Bound>,
    cancel: &CancellationToken,
) -> std::io::Result<Vec<(Listening, TcpListener)>> {
    let mut tcp = Vec::new();
    for socket in bound {
        match socket {
            Bound::Udp(_, socket) => {
                let socket = tokio::net::UdpSocket::from_std(socket)?;
                // `from_socket` is async only for other platforms: it never waits.
                let connection =
                    UdpConnection::from_socket(Arc::new(socket), None, Some(cancel.child_token()))
                        .now_or_never()
                        .ok_or_else(|| std::io::Error::other("UDP transport setup waited"))?
                        .map_err(|e| std::io::Error::other(e.to_string()))?;
                layer.add_transport(connection.into());
            }
            Bound::Tcp(listening, listener) => tcp.push((listening, listener)),
        }
    }
    Ok(tcp)
}

/// Accepts the TCP transports' connections (inside the tokio runtime) until `cancel`.
pub(crate) fn serve_tcp(
    endpoint: &EndpointInnerRef,
    listeners: Vec<(Listening, TcpListener)>,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    for (listening, listener) in listeners {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tokio::spawn(accept_loop(
            listening,
            listener,
            endpoint.clone(),
            cancel.clone(),
        ));
    }
    Ok(())
}

/// Accepts a TCP transport's connections until `cancel`: each becomes an rsipstack
/// connection whose messages reach the endpoint.
async fn accept_loop(
    listening: Listening,
    listener: tokio::net::TcpListener,
    endpoint: EndpointInnerRef,
    cancel: CancellationToken,
) {
    let local = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tcp),
        addr: listening.address.into(),
    };
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::debug!(transport = %listening.name, %error, "SIP TCP accept failed");
                continue;
            }
        };
        match TcpConnection::from_stream(stream, local.clone(), Some(cancel.child_token())) {
            Ok(connection) => endpoint
                .transport_layer
                .add_connection(SipConnection::Tcp(connection)),
            Err(error) => {
                tracing::debug!(transport = %listening.name, %error, "SIP TCP connection dropped");
            }
        }
    }
    tracing::debug!(transport = %listening.name, "SIP TCP transport closed");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;

    fn transport(name: &str, protocol: Protocol, bind: &str) -> Transport {
        Transport::with_defaults(
            name,
            protocol,
            bind.parse().expect("address"),
            Location::file(std::path::Path::new("pjsip.conf")),
        )
    }

    #[test]
    fn port_zero_gets_a_port_the_banner_shows() {
        let bound = bind_all(&[
            transport("udp", Protocol::Udp, "127.0.0.1:0"),
            transport("tcp", Protocol::Tcp, "127.0.0.1:0"),
        ])
        .expect("bound");
        let udp = bound[0].listening();
        assert_eq!(udp.scheme(), "sip-udp");
        assert_ne!(udp.address.port(), 0);
        assert_eq!(udp.url(), format!("udp://127.0.0.1:{}", udp.address.port()));
        let tcp = bound[1].listening();
        assert_eq!(tcp.scheme(), "sip-tcp");
        assert_eq!(tcp.url(), format!("tcp://127.0.0.1:{}", tcp.address.port()));
    }

    #[test]
    fn a_bind_failure_names_the_transport() {
        let taken = UdpSocket::bind("127.0.0.1:0").expect("socket");
        let address = taken.local_addr().expect("address").to_string();
        let error =
            bind_all(&[transport("main-udp", Protocol::Udp, &address)]).expect_err("port in use");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "SIP transport main-udp: cannot bind udp {address}"
            )),
            "{message}"
        );
    }
}
