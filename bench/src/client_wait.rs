//! How the bench waits for the server's answer during a sequential measurement.
//!
//! By default (`block`) the bench's thread sleeps in the kernel between requests, as a
//! typical ARI client does. On a virtual machine whose idle vCPUs halt (this project's CI
//! machine type: the `haltpoll` cpuidle driver with `guest_halt_poll_ns=0`), waking a halted
//! vCPU costs about 20–30 µs, and a sequential round trip pays it twice: once to wake the
//! server, once to wake the client. `poll` keeps the bench's own thread busy-polling its
//! sockets while one connection is measured, as latency tools' busy-poll modes do, so the
//! figure no longer includes the bench's own wake-up. The server is not touched: it still
//! sleeps between requests and pays its own wake-up. Rows say which mode produced them.

use std::fmt;

use clap::ValueEnum;

/// How the bench waits between sending a request and its answer arriving.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum ClientWait {
    /// Sleep in the kernel until a socket is readable.
    #[default]
    Block,
    /// Keep polling the sockets without sleeping (only while one connection is measured).
    Poll,
}

impl ClientWait {
    /// The word used in tables and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientWait::Block => "blocking",
            ClientWait::Poll => "polling",
        }
    }

    /// The mode a measurement over `connections` connections actually uses: polling only
    /// ever applies to one connection, where the bench's thread has a core to itself.
    pub fn for_connections(self, connections: usize) -> ClientWait {
        if connections == 1 {
            self
        } else {
            ClientWait::Block
        }
    }
}

impl fmt::Display for ClientWait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// While alive, keeps the current tokio runtime polling its sockets instead of sleeping:
/// a task that only yields, so the runtime always has work and checks for I/O readiness
/// without blocking between tasks. Dropping it stops the polling.
pub struct Poller(tokio::task::JoinHandle<()>);

impl Poller {
    /// Starts polling when `wait` is [`ClientWait::Poll`]; nothing otherwise.
    pub fn start(wait: ClientWait) -> Option<Poller> {
        (wait == ClientWait::Poll).then(|| {
            Poller(tokio::spawn(async {
                loop {
                    tokio::task::yield_now().await;
                }
            }))
        })
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_one_connection_polls() {
        assert_eq!(ClientWait::Poll.for_connections(1), ClientWait::Poll);
        assert_eq!(ClientWait::Poll.for_connections(8), ClientWait::Block);
        assert_eq!(ClientWait::Block.for_connections(1), ClientWait::Block);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_poller_stops_when_dropped() {
        let poller = Poller::start(ClientWait::Poll).expect("a poller");
        tokio::task::yield_now().await;
        let handle = poller.0.abort_handle();
        drop(poller);
        // The aborted task finishes at the runtime's next turn.
        for _ in 0..100 {
            if handle.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(handle.is_finished());
        assert!(Poller::start(ClientWait::Block).is_none());
    }
}
