//! Accepting connections when the process runs short of file descriptors, and closing
//! those beyond http.conf `sessionlimit`.
//!
//! A failed `accept` backs off (5 ms, doubling up to 200 ms) instead of spinning, and the
//! listener keeps running. When the failure is the descriptor limit (EMFILE, ENFILE), the
//! connections waiting in the backlog are refused: a descriptor kept in reserve for this
//! is given up, each waiting connection is accepted with it and closed at once, and the
//! reserve is taken again. Their clients see the connection closed instead of hanging
//! until the limit eases. (At the limit `accept` fails even with nothing waiting, so the
//! backoff also bounds how often an idle listener looks.) Failures, and connections closed
//! at `sessionlimit`, are logged at most once every 5 s, with a count.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};

/// First and longest wait after a failed `accept`.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(200);
/// Waiting connections refused at most per failed `accept`.
const SHED_BATCH: usize = 256;
/// At most one log line per this long while `accept` keeps failing.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// A listener's accepting side.
#[derive(Debug)]
pub(crate) struct Acceptor {
    listener: TcpListener,
    /// A descriptor held only to be given up for refusing connections.
    reserve: Option<std::fs::File>,
    backoff: Duration,
    /// Failures and refused connections since the last log line.
    failures: u64,
    refused: u64,
    last_log: Option<Instant>,
    /// Connections closed at `sessionlimit` since the last log line about them.
    over_limit: u64,
    last_limit_log: Option<Instant>,
}

impl Acceptor {
    /// Accepts on `listener`.
    pub(crate) fn new(listener: TcpListener) -> Acceptor {
        Acceptor {
            listener,
            reserve: open_reserve(),
            backoff: FIRST_BACKOFF,
            failures: 0,
            refused: 0,
            last_log: None,
            over_limit: 0,
            last_limit_log: None,
        }
    }

    /// The next connection; failures are handled here and never end the listener.
    pub(crate) async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok(accepted) => {
                    self.backoff = FIRST_BACKOFF;
                    if self.reserve.is_none() {
                        self.reserve = open_reserve();
                    }
                    return accepted;
                }
                // The client gave up before it was accepted: nothing wrong with the listener.
                Err(e) if is_per_connection(&e) => continue,
                Err(e) => {
                    self.failures += 1;
                    if is_out_of_descriptors(&e) {
                        self.shed();
                    }
                    self.log(&e);
                    tokio::time::sleep(self.backoff).await;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Closes a connection accepted while http.conf `sessionlimit` connections are open
    /// (unanswered, as Asterisk does); logged at most once every 5 s, with a count.
    pub(crate) fn over_limit(&mut self, stream: TcpStream, peer: SocketAddr, limit: usize) {
        drop(stream);
        self.over_limit += 1;
        let now = Instant::now();
        if self
            .last_limit_log
            .is_none_or(|last| now.duration_since(last) >= LOG_EVERY)
        {
            tracing::warn!(
                %peer,
                limit,
                closed = self.over_limit,
                "HTTP session limit reached: connection closed"
            );
            self.last_limit_log = Some(now);
            self.over_limit = 0;
        }
    }

    /// Refuses waiting connections with the reserve descriptor: each is accepted straight
    /// from the socket (not through tokio, whose readiness bookkeeping stays as it is: the
    /// next `accept` finds out what is left) and closed.
    fn shed(&mut self) {
        if self.reserve.take().is_none() {
            return;
        }
        #[cfg(unix)]
        for _ in 0..SHED_BATCH {
            match rustix::net::accept(&self.listener) {
                Ok(connection) => {
                    drop(connection);
                    self.refused += 1;
                }
                Err(e) if is_per_connection(&e.into()) => {}
                // Nothing waiting (the limit also fails an `accept` with nothing to take).
                Err(_) => break,
            }
        }
        self.reserve = open_reserve();
    }

    fn log(&mut self, error: &std::io::Error) {
        let now = Instant::now();
        if self
            .last_log
            .is_some_and(|last| now.duration_since(last) < LOG_EVERY)
        {
            return;
        }
        self.last_log = Some(now);
        if is_out_of_descriptors(error) {
            tracing::warn!(
                %error,
                failures = self.failures,
                refused = self.refused,
                "accept failed: out of file descriptors; waiting connections are closed until descriptors are free"
            );
        } else {
            tracing::warn!(%error, failures = self.failures, "accept failed");
        }
        self.failures = 0;
        self.refused = 0;
    }
}

/// EMFILE (the process's limit) or ENFILE (the system's).
fn is_out_of_descriptors(error: &std::io::Error) -> bool {
    #[cfg(unix)]
    {
        let raw = error.raw_os_error();
        raw == Some(rustix::io::Errno::MFILE.raw_os_error())
            || raw == Some(rustix::io::Errno::NFILE.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = error;
        false
    }
}

/// A failure that concerns one connection only.
fn is_per_connection(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    )
}

/// The reserve descriptor (`None` when even that cannot be opened now).
fn open_reserve() -> Option<std::fs::File> {
    #[cfg(unix)]
    {
        std::fs::File::open("/dev/null").ok()
    }
    #[cfg(not(unix))]
    {
        None
    }
}
