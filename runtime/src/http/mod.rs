//! The HTTP(S) server ARI rides on: listeners from http.conf, connection limits (a
//! WebSocket holds its `sessionlimit` slot until it closes) and keep-alive, plain and TLS
//! side by side, [`accept`]ing on when file descriptors run out; each connection's request
//! heads pass the [`head`] normaliser before hyper reads them, and every request goes to
//! the [`front`] door.

pub(crate) mod accept;
pub(crate) mod front;
pub mod head;
pub(crate) mod media_ws;
pub(crate) mod metrics;
pub(crate) mod normalized_io;
pub(crate) mod restriction;
pub(crate) mod tls;
pub(crate) mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::ari::Ari;
use crate::config::HttpConfig;
use crate::config::http_conf::BindAddress;
use front::{Front, PeerAddr};
use normalized_io::{NormalizedIo, ReadLimits, UpgradeAnswers};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The bind address could not be resolved to an IP address.
    #[error("cannot resolve bind address {address}: {source}")]
    Resolve {
        /// The address as configured (`host:port`).
        address: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The address resolved but could not be listened on (in use, not local, no permission).
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address as configured (`host:port`).
        address: String,
        /// The system's error.
        source: std::io::Error,
    },
    /// The TLS certificate or key could not be loaded.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
}

/// A listener that is accepting connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The address bound to (with the port the system chose for port 0).
    pub address: SocketAddr,
}

/// The running server.
#[derive(Debug)]
pub struct HttpServer {
    /// Its listeners: plain HTTP first, then HTTPS, as configured.
    pub listening: Vec<Listening>,
}

/// hyper's read buffer limit: room for the longest head Asterisk accepts (100 header lines
/// and a request line of 4095 bytes each) after normalisation.
const MAX_BUFFER: usize = 512 * 1024;

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Starts every listener http.conf enables. Connections are served on spawned tasks.
pub async fn start(config: &HttpConfig, ari: Arc<Ari>) -> Result<HttpServer, HttpError> {
    start_with_media(config, ari, Default::default()).await
}

/// [`start`], with `media` the media channels waiting for their WebSocket on
/// `/media/<id>`.
pub(crate) async fn start_with_media(
    config: &HttpConfig,
    ari: Arc<Ari>,
    media: Arc<crate::core::tech::websocket_media::MediaSockets>,
) -> Result<HttpServer, HttpError> {
    let front = Arc::new(Front::new(config.clone(), ari, media));
    crate::console::health::sampler::spawn(&front);
    let app = front.clone();
    let sessions = Arc::new(Semaphore::new(config.session_limit));
    let mut listening = Vec::new();

    if config.enabled {
        match &config.bind {
            Some(bind) => {
                let listener = bind_first(bind).await?;
                let address = local_address(&listener, bind)?;
                listening.push(Listening {
                    scheme: "http",
                    address,
                });
                tokio::spawn(accept_loop(
                    listener,
                    None,
                    app.clone(),
                    sessions.clone(),
                    config.clone(),
                ));
            }
            None => tracing::warn!(
                "http.conf enables HTTP but sets no bindaddr: the plain listener is not started"
            ),
        }
    }
    if let Some(tls) = &config.tls {
        let acceptor = tokio_rustls::TlsAcceptor::from(tls::server_config(tls)?);
        let listener = bind_first(&tls.bind).await?;
        let address = local_address(&listener, &tls.bind)?;
        listening.push(Listening {
            scheme: "https",
            address,
        });
        tokio::spawn(accept_loop(
            listener,
            Some(acceptor),
            app,
            sessions,
            config.clone(),
        ));
    }
    Ok(HttpServer { listening })
}

fn local_address(listener: &TcpListener, bind: &BindAddress) -> Result<SocketAddr, HttpError> {
    listener.local_addr().map_err(|source| HttpError::Bind {
        address: bind.to_string(),
        source,
    })
}

/// Resolves the bind host and listens on the first address that binds.
async fn bind_first(bind: &BindAddress) -> Result<TcpListener, HttpError> {
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((bind.host.as_str(), bind.port))
        .await
        .map_err(|source| HttpError::Resolve {
            address: bind.to_string(),
            source,
        })?
        .collect();
    let mut last_error = None;
    for address in addresses {
        match TcpListener::bind(address).await {
            Ok(listener) => return Ok(listener),
            Err(e) => last_error = Some(e),
        }
    }
    Err(HttpError::Bind {
        address: bind.to_string(),
        source: last_error.unwrap_or_else(|| std::io::Error::other("no address to bind")),
    })
}

async fn accept_loop(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    app: Arc<Front>,
    sessions: Arc<Semaphore>,
    config: HttpConfig,
) {
    let mut acceptor = accept::Acceptor::new(listener);
    loop {
        let (stream, peer) = acceptor.accept().await;
        let Ok(permit) = sessions.clone().try_acquire_owned() else {
            acceptor.over_limit(stream, peer, config.session_limit);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let tls = tls.clone();
        let keep_alive = !config.session_keep_alive.is_zero();
        let limits = ReadLimits {
            request: config.session_inactivity,
            keep_alive: config.session_keep_alive,
        };
        tokio::spawn(async move {
            match tls {
                None => serve(stream, peer, app, keep_alive, limits, permit).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => {
                            serve(tls_stream, peer, app, keep_alive, limits, permit).await
                        }
                        Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                    }
                }
            }
        });
    }
}

/// Serves one connection. It holds its `sessionlimit` slot `session` until it closes: a
/// WebSocket it was upgraded to keeps it after this returns.
async fn serve<S>(
    stream: S,
    peer: SocketAddr,
    app: Arc<Front>,
    keep_alive: bool,
    limits: ReadLimits,
    session: OwnedSemaphorePermit,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let answers = Arc::new(UpgradeAnswers::default());
    let streaming = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let io = NormalizedIo::new(stream, answers.clone(), limits)
        .holding(session)
        .untimed_when(streaming.clone());
    let service =
        hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(PeerAddr(peer));
            let front = app.clone();
            let answers = answers.clone();
            let streaming = streaming.clone();
            async move {
                let asked_upgrade = request.headers().contains_key(http::header::UPGRADE);
                let response = front::handle(front, request.map(axum::body::Body::new)).await;
                if asked_upgrade {
                    answers.answered(response.status() == http::StatusCode::SWITCHING_PROTOCOLS);
                }
                if response.extensions().get::<front::Streaming>().is_some() {
                    // A log follower: no read deadline while its body is written (it
                    // closes the connection after).
                    streaming.store(true, std::sync::atomic::Ordering::Release);
                }
                Ok::<_, std::convert::Infallible>(response)
            }
        });
    let result = http1::Builder::new()
        .keep_alive(keep_alive)
        .timer(TokioTimer::new())
        // The connection's own read deadlines ([`NormalizedIo`]) cover heads, bodies and
        // keep-alive waits; hyper's head timer would cut keep-alive waits longer than it.
        .header_read_timeout(None)
        // A rebuilt head may be a little longer than the client's (percent-encoding).
        .max_buf_size(MAX_BUFFER)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    if let Err(e) = result {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}
