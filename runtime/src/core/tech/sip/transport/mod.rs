//! The SIP transports of `pjsip.conf` (`type=transport`) as sockets: each is bound when
//! the technology starts (synchronously, so a bind failure or an unusable TLS certificate
//! stops wari's start-up naming the transport), then handed to rsipstack's transport
//! layer. UDP sockets become rsipstack listeners; a TCP or TLS transport's connections are
//! accepted here (TLS ones handshaken by `tls`) and each one is given to rsipstack as a
//! connection of its own (rsipstack's own stream listeners bind only when served, too late
//! to report a failure or the port the system picked). Those TCP and TLS addresses are
//! still listed among rsipstack's listeners ([`serve_endpoint`]), never served by it, so
//! that the requests it builds inside a TCP or TLS dialog name their transport's address
//! in `Via`. The connections wari opens for its requests are opened by [`dial`] (a TLS
//! one with the client settings of the transport the request goes out on).

pub(crate) mod dial;
pub(crate) mod external;
pub(crate) mod tls;

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;

use futures_util::FutureExt;
use rsipstack::platform::CancellationToken;
use rsipstack::transaction::Endpoint;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::channel::ChannelConnection;
use rsipstack::transport::tcp::TcpConnection;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::udp::UdpConnection;
use rsipstack::transport::{SipAddr, SipConnection, TransportLayer};
use tokio_rustls::TlsAcceptor;

use crate::config::diagnostics::Problems;
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
    /// An external address option names a host that cannot be looked up.
    #[error("SIP transport {name}: {option} {value}: {source}")]
    External {
        name: String,
        option: &'static str,
        value: String,
        #[source]
        source: std::io::Error,
    },
    /// Its TLS certificate or key cannot be served.
    #[error("SIP transport {name}: TLS {source}")]
    Tls {
        name: String,
        #[source]
        source: Box<tls::TlsSetupError>,
    },
}

/// Where one transport listens, for wari's banner (`listening: sip-udp udp://ADDR`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listening {
    /// The transport's section name.
    pub(crate) name: String,
    /// `udp`, `tcp` or `tls`.
    pub(crate) protocol: &'static str,
    /// The bound address (the port the system picked for `:0`).
    pub(crate) address: SocketAddr,
}

impl Listening {
    /// The banner's scheme word: `sip-udp`, `sip-tcp`, `sip-tls`.
    pub(crate) fn scheme(&self) -> String {
        format!("sip-{}", self.protocol)
    }

    /// The banner's URL: `udp://127.0.0.1:5060`.
    pub(crate) fn url(&self) -> String {
        format!("{}://{}", self.protocol, self.address)
    }
}

/// A TCP or TLS transport's listening socket, bound and not yet served.
pub(crate) struct StreamListener {
    listening: Listening,
    listener: TcpListener,
    /// The TLS handshake of each connection (None: plain TCP).
    tls: Option<TlsAcceptor>,
    /// A TLS transport's client side, for the connections wari opens.
    client: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for StreamListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamListener")
            .field("listening", &self.listening)
            .field("tls", &self.tls.is_some())
            .finish_non_exhaustive()
    }
}

/// A transport's socket, bound and not yet served.
#[derive(Debug)]
pub(crate) enum Bound {
    Udp(Listening, UdpSocket),
    Stream(StreamListener),
}

impl Bound {
    pub(crate) fn listening(&self) -> &Listening {
        match self {
            Bound::Udp(l, _) | Bound::Stream(StreamListener { listening: l, .. }) => l,
        }
    }
}

/// Binds one transport's socket (non-blocking, for tokio); a TLS transport's certificate
/// and key are loaded first.
pub(crate) fn bind(transport: &Transport) -> Result<Bound, TransportError> {
    let name = transport.name.clone();
    let protocol = transport.protocol.as_str();
    let bind_error = |source| TransportError::Bind {
        name: name.clone(),
        protocol,
        address: transport.bind,
        source,
    };
    let listening = |address| Listening {
        name: transport.name.clone(),
        protocol,
        address,
    };
    let tls_error = |source| TransportError::Tls {
        name: name.clone(),
        source: Box::new(source),
    };
    let (tls, client) = match transport.protocol {
        Protocol::Udp => {
            let socket = UdpSocket::bind(transport.bind).map_err(bind_error)?;
            socket.set_nonblocking(true).map_err(bind_error)?;
            let address = socket.local_addr().map_err(bind_error)?;
            return Ok(Bound::Udp(listening(address), socket));
        }
        Protocol::Tcp => (None, None),
        Protocol::Tls => (
            Some(tls::acceptor(transport).map_err(tls_error)?),
            Some(tls::client_config(transport).map_err(tls_error)?),
        ),
    };
    let listener = TcpListener::bind(transport.bind).map_err(bind_error)?;
    listener.set_nonblocking(true).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    Ok(Bound::Stream(StreamListener {
        listening: listening(address),
        listener,
        tls,
        client,
    }))
}

/// Binds every transport, in the file's order; the first failure is returned.
pub(crate) fn bind_all(transports: &[Transport]) -> Result<Vec<Bound>, TransportError> {
    transports.iter().map(bind).collect()
}

/// What start-up would refuse in the transports without binding anything (for
/// `wari check-config`): each TLS transport's certificate and key, reported at the line of
/// the file that is wrong, and its client side (trust anchors for `verify_server`).
pub(crate) fn check(transports: &[Transport], problems: &mut Problems) {
    for transport in transports.iter().filter(|t| t.protocol == Protocol::Tls) {
        if let Err(error) =
            tls::server_config(transport).and_then(|_| tls::client_config(transport).map(|_| ()))
        {
            let at = if error.is_about_key() {
                transport.priv_key_file_location.as_ref()
            } else {
                transport.cert_file_location.as_ref()
            };
            problems.error(
                at.unwrap_or(&transport.location),
                format!(
                    "TLS transport [{}]: {error} (wari will not start)",
                    transport.name
                ),
            );
        }
    }
}

/// The transport a request to `target` for `endpoint` goes over, written in `target` for
/// rsipstack when it was not: the URI's own `transport` parameter, else TLS for a `sips:`
/// URI, else the protocol of the endpoint's `transport=`, else UDP.
pub(crate) fn target_transport(
    config: &crate::config::pjsip_conf::PjsipConfig,
    endpoint: &crate::config::pjsip_conf::Endpoint,
    target: &mut rsipstack::sip::Uri,
) -> rsipstack::sip::Transport {
    use rsipstack::sip::uri::ParamsExt;
    use rsipstack::sip::{Param, Scheme, Transport as Wire};
    if let Some(transport) = target.transport() {
        return *transport;
    }
    let chosen = if target.scheme == Some(Scheme::Sips) {
        Wire::Tls
    } else {
        match endpoint
            .transport
            .as_deref()
            .and_then(|name| config.transport(name))
            .map(|t| t.protocol)
        {
            Some(Protocol::Tls) => Wire::Tls,
            Some(Protocol::Tcp) => Wire::Tcp,
            Some(Protocol::Udp) | None => return Wire::Udp,
        }
    };
    target.params.push(Param::Transport(chosen));
    chosen
}

/// Hands the bound UDP sockets to rsipstack's transport layer as listeners its endpoint
/// serves (must run inside the tokio runtime); returns the TCP and TLS listeners, which
/// [`serve_streams`] serves once the endpoint exists.
pub(crate) fn attach_udp(
    layer: &TransportLayer,
    bound: Vec<Bound>,
    cancel: &CancellationToken,
) -> std::io::Result<Vec<StreamListener>> {
    let mut streams = Vec::new();
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
            Bound::Stream(stream) => streams.push(stream),
        }
    }
    Ok(streams)
}

/// Accepts the TCP and TLS transports' connections (inside the tokio runtime) until
/// `cancel`.
pub(crate) fn serve_streams(
    endpoint: &EndpointInnerRef,
    listeners: Vec<StreamListener>,
    cancel: &CancellationToken,
) -> std::io::Result<()> {
    // Each TLS transport's client settings, for the connections wari opens over it.
    dial::install(
        listeners
            .iter()
            .filter_map(|l| Some((l.listening.name.clone(), l.client.clone()?)))
            .collect(),
    );
    for StreamListener {
        listening,
        listener,
        tls,
        ..
    } in listeners
    {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tokio::spawn(accept_loop(
            listening,
            listener,
            tls,
            endpoint.clone(),
            cancel.clone(),
        ));
    }
    Ok(())
}

/// rsipstack's listener entry for a TCP or TLS transport wari serves itself: the
/// transport's address, carrying nothing (rsipstack only reads its address).
fn advertised(address: SipAddr) -> Option<SipConnection> {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    // `create_connection` is async only for other platforms: it never waits.
    ChannelConnection::create_connection(receiver, sender, address, None)
        .now_or_never()
        .and_then(Result::ok)
        .map(SipConnection::Channel)
}

/// The address rsipstack lists for a TCP or TLS transport (None: UDP).
fn stream_address(listening: &Listening) -> Option<SipAddr> {
    let kind = match listening.protocol {
        "tcp" => rsipstack::sip::Transport::Tcp,
        "tls" => rsipstack::sip::Transport::Tls,
        _ => return None,
    };
    Some(SipAddr {
        r#type: Some(kind),
        addr: listening.address.into(),
    })
}

/// Runs rsipstack's endpoint until it stops. Its first step starts the listeners it
/// serves (the UDP ones); right after it the TCP and TLS transports' addresses join its
/// list of listeners (it would refuse to serve them), where it looks for the address of a
/// request's transport to put in `Via`.
pub(crate) fn serve_endpoint(endpoint: Endpoint, listening: &[Listening]) {
    let streams: Vec<SipAddr> = listening.iter().filter_map(stream_address).collect();
    tokio::spawn(async move {
        let serving = endpoint.serve();
        let mut serving = std::pin::pin!(serving);
        let first =
            std::future::poll_fn(|cx| std::task::Poll::Ready(serving.as_mut().poll(cx))).await;
        if first.is_ready() {
            return;
        }
        for entry in streams.into_iter().filter_map(advertised) {
            endpoint.inner.transport_layer.add_transport(entry);
        }
        serving.await;
    });
}

/// Accepts a stream transport's connections until `cancel`: each becomes an rsipstack
/// connection whose messages reach the endpoint (a TLS one once its handshake is done).
async fn accept_loop(
    listening: Listening,
    listener: tokio::net::TcpListener,
    tls: Option<TlsAcceptor>,
    endpoint: EndpointInnerRef,
    cancel: CancellationToken,
) {
    let kind = if tls.is_some() {
        rsipstack::sip::Transport::Tls
    } else {
        rsipstack::sip::Transport::Tcp
    };
    let local = SipAddr {
        r#type: Some(kind),
        addr: listening.address.into(),
    };
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::debug!(transport = %listening.name, %error, "SIP stream accept failed");
                continue;
            }
        };
        if let Some(acceptor) = &tls {
            tokio::spawn(handshake(
                acceptor.clone(),
                stream,
                local.clone(),
                remote,
                endpoint.clone(),
                cancel.clone(),
            ));
            continue;
        }
        match TcpConnection::from_stream(stream, local.clone(), Some(cancel.child_token())) {
            Ok(connection) => endpoint
                .transport_layer
                .add_connection(SipConnection::Tcp(connection)),
            Err(error) => {
                tracing::debug!(transport = %listening.name, %error, "SIP TCP connection dropped");
            }
        }
    }
    tracing::debug!(transport = %listening.name, "SIP stream transport closed");
}

/// Completes a TLS connection's handshake (within [`tls::HANDSHAKE_TIMEOUT`], unless
/// `cancel` comes first) and hands the connection to rsipstack.
async fn handshake(
    acceptor: TlsAcceptor,
    stream: tokio::net::TcpStream,
    local: SipAddr,
    remote: SocketAddr,
    endpoint: EndpointInnerRef,
    cancel: CancellationToken,
) {
    let accepted = tokio::select! {
        _ = cancel.cancelled() => return,
        accepted = tokio::time::timeout(tls::HANDSHAKE_TIMEOUT, acceptor.accept(stream)) => accepted,
    };
    let stream = match accepted {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "SIP TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "SIP TLS handshake timed out");
            return;
        }
    };
    let remote = SipAddr {
        r#type: Some(rsipstack::sip::Transport::Tls),
        addr: remote.into(),
    };
    match TlsConnection::from_server_stream(stream, local, remote, Some(cancel.child_token())).await
    {
        Ok(connection) => endpoint
            .transport_layer
            .add_connection(SipConnection::Tls(connection)),
        Err(error) => tracing::debug!(%error, "SIP TLS connection dropped"),
    }
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
    fn a_target_goes_over_its_own_transport_else_sips_tls_else_the_endpoints() {
        let mut problems = Problems::default();
        let file = crate::config::conf_file::parse_str(
            std::path::Path::new("pjsip.conf"),
            "[tls]\ntype=transport\nprotocol=tls\nbind=127.0.0.1\ncert_file=c.pem\n\
             priv_key_file=k.pem\n\n[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1\n\n\
             [carol]\ntype=endpoint\ntransport=tls\n\n[dave]\ntype=endpoint\ntransport=tcp\n\n\
             [erin]\ntype=endpoint\n",
            &mut problems,
        );
        let config = crate::config::pjsip_conf::read(Some(&file), &mut problems);
        let via = |endpoint: &str, uri: &str| {
            let endpoint = config.endpoint(endpoint).expect("endpoint");
            let mut uri = rsipstack::sip::Uri::try_from(uri).expect("uri");
            let transport = target_transport(&config, endpoint, &mut uri);
            (transport, uri.to_string())
        };
        use rsipstack::sip::Transport as Wire;
        assert_eq!(
            via("carol", "sip:c@192.0.2.1:5061"),
            (Wire::Tls, "sip:c@192.0.2.1:5061;transport=TLS".into())
        );
        assert_eq!(
            via("dave", "sip:d@192.0.2.1"),
            (Wire::Tcp, "sip:d@192.0.2.1;transport=TCP".into())
        );
        assert_eq!(
            via("erin", "sip:e@192.0.2.1"),
            (Wire::Udp, "sip:e@192.0.2.1".into())
        );
        assert_eq!(
            via("erin", "sips:e@192.0.2.1"),
            (Wire::Tls, "sips:e@192.0.2.1;transport=TLS".into())
        );
        // The URI's own transport wins over the endpoint's.
        assert_eq!(
            via("carol", "sip:c@192.0.2.1;transport=udp"),
            (Wire::Udp, "sip:c@192.0.2.1;transport=UDP".into())
        );
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
