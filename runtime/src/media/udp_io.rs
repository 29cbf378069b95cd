//! Datagram I/O of a media edge, off the engine's clock. The tick never touches a socket:
//! what a leg sends is queued for the edge's I/O thread, and what arrived is queued by that
//! thread for the next tick. Both queues are bounded; when one is full the oldest datagram
//! is dropped (late audio is worth less than new audio) and counted.
//!
//! The socket is a [`SharedSocket`]: closing it (a channel's hangup) takes the lock every
//! send is made under, so once `close` has returned no datagram leaves. The I/O thread ends
//! soon after the socket is closed or the [`UdpLink`] dropped (within [`POLL`]).

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::engine::LegId;
use super::rtp::HEADER_LEN;
use super::rtp_stats::RtpStats;

/// Datagrams waiting each way at most: 8 frames, 160 ms of audio.
pub const QUEUE_DATAGRAMS: usize = 8;

/// Largest datagram read; anything longer is cut (and then usually fails to decode).
const MAX_DATAGRAM: usize = 2048;

/// How long the I/O thread waits for a datagram before it sends what was queued and looks
/// whether it should end.
const POLL: Duration = Duration::from_millis(2);

/// The UDP socket of one external-media channel, `None` once closed.
#[derive(Debug)]
pub struct SharedSocket(Mutex<Option<UdpSocket>>);

impl SharedSocket {
    /// Wraps an open (bound) socket.
    pub fn new(socket: UdpSocket) -> SharedSocket {
        SharedSocket(Mutex::new(Some(socket)))
    }

    /// Closes the socket: nothing is sent or received afterwards.
    pub fn close(&self) {
        let mut socket = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *socket = None;
    }

    /// Runs `f` on the socket unless it is closed.
    pub fn with<R>(&self, f: impl FnOnce(&UdpSocket) -> R) -> Option<R> {
        let socket = self.0.lock().unwrap_or_else(|p| p.into_inner());
        socket.as_ref().map(f)
    }
}

/// A bounded queue that drops its oldest item to make room, counting the drops. Its lock
/// is held only to move an item in or out (never during I/O).
#[derive(Debug)]
pub struct DropOldest<T> {
    items: Mutex<VecDeque<T>>,
    capacity: usize,
    dropped: AtomicU64,
}

impl<T> DropOldest<T> {
    /// A queue holding at most `capacity` items (at least one).
    pub fn new(capacity: usize) -> DropOldest<T> {
        DropOldest {
            items: Mutex::new(VecDeque::with_capacity(capacity)),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues `item`; true when the oldest item had to be dropped for it.
    pub fn push(&self, item: T) -> bool {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let full = items.len() >= self.capacity;
        if full {
            items.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        items.push_back(item);
        full
    }

    /// The oldest item, if any.
    pub fn pop(&self) -> Option<T> {
        self.items
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop_front()
    }

    /// How many items were dropped to make room.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// What the clock and the I/O thread share.
#[derive(Debug)]
struct Queues {
    outgoing: DropOldest<Vec<u8>>,
    incoming: DropOldest<(Vec<u8>, SocketAddr)>,
    /// The link was dropped: the thread ends.
    ended: AtomicBool,
}

/// The clock's side of a socket served by an I/O thread: datagrams to send to `remote`,
/// datagrams received (from anywhere). Dropping it ends the thread.
#[derive(Debug)]
pub struct UdpLink {
    channel: LegId,
    queues: Arc<Queues>,
}

impl UdpLink {
    /// Starts the I/O thread of `socket`; sent datagrams are counted in `stats`. Without a
    /// thread (the system refused one) the link carries nothing, and says so in the log.
    pub fn start(
        channel: LegId,
        socket: Arc<SharedSocket>,
        remote: SocketAddr,
        stats: Arc<RtpStats>,
    ) -> UdpLink {
        let queues = Arc::new(Queues {
            outgoing: DropOldest::new(QUEUE_DATAGRAMS),
            incoming: DropOldest::new(QUEUE_DATAGRAMS),
            ended: AtomicBool::new(false),
        });
        let io = Io {
            channel: channel.clone(),
            queues: queues.clone(),
            socket,
            remote,
            stats,
        };
        if let Err(error) = std::thread::Builder::new()
            .name("wari-media-udp".into())
            .spawn(move || io.run())
        {
            tracing::warn!(channel = %channel, %error, "no I/O thread for external media: the channel carries no audio");
        }
        UdpLink { channel, queues }
    }

    /// Queues a datagram for the far end; never blocks. A full queue drops its oldest.
    pub fn send(&self, datagram: &[u8]) {
        if self.queues.outgoing.push(datagram.to_vec()) {
            let dropped = self.queues.outgoing.dropped();
            if dropped.is_power_of_two() {
                tracing::debug!(channel = %self.channel, dropped, "external media: outgoing datagrams dropped (the I/O thread is behind)");
            }
        }
    }

    /// The oldest datagram received and not yet taken, and where it came from.
    pub fn receive(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.queues.incoming.pop()
    }

    /// Datagrams dropped so far: (outgoing, incoming).
    pub fn dropped(&self) -> (u64, u64) {
        (
            self.queues.outgoing.dropped(),
            self.queues.incoming.dropped(),
        )
    }
}

impl Drop for UdpLink {
    fn drop(&mut self) {
        self.queues.ended.store(true, Ordering::Relaxed);
    }
}

/// The I/O thread's side.
struct Io {
    channel: LegId,
    queues: Arc<Queues>,
    socket: Arc<SharedSocket>,
    remote: SocketAddr,
    stats: Arc<RtpStats>,
}

impl Io {
    fn run(self) {
        // Reads go through a handle of their own, waiting at most POLL, outside the lock
        // (a close must not wait for a read).
        let reader = match self.socket.with(|s| {
            let reader = s.try_clone()?;
            reader.set_read_timeout(Some(POLL))?;
            Ok::<_, std::io::Error>(reader)
        }) {
            Some(Ok(reader)) => reader,
            Some(Err(error)) => {
                tracing::warn!(channel = %self.channel, %error, "external media socket unusable: the channel carries no audio");
                return;
            }
            None => return,
        };
        // The socket was non-blocking for the clock; the thread may wait (the flag is the
        // socket's, shared by both handles).
        if let Err(error) = reader.set_nonblocking(false) {
            tracing::warn!(channel = %self.channel, %error, "external media socket cannot wait for datagrams");
        }
        let mut buf = vec![0; MAX_DATAGRAM];
        let mut send_failing = false;
        while !self.queues.ended.load(Ordering::Relaxed) {
            while let Some(datagram) = self.queues.outgoing.pop() {
                let Some(result) = self.socket.with(|s| s.send_to(&datagram, self.remote)) else {
                    return;
                };
                match result {
                    Ok(sent) => {
                        self.stats.sent(sent.saturating_sub(HEADER_LEN));
                        send_failing = false;
                    }
                    // The socket buffer is full: this datagram is lost, as on a busy network.
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(error) => {
                        if !send_failing {
                            tracing::warn!(channel = %self.channel, remote = %self.remote, %error, "cannot send external media RTP");
                            send_failing = true;
                        }
                    }
                }
            }
            match reader.recv_from(&mut buf) {
                Ok((len, from)) => {
                    if self.socket.with(|_| ()).is_none() {
                        return;
                    }
                    if self.queues.incoming.push((buf[..len].to_vec(), from)) {
                        let dropped = self.queues.incoming.dropped();
                        if dropped.is_power_of_two() {
                            tracing::debug!(channel = %self.channel, dropped, "external media: received datagrams dropped (the clock is behind)");
                        }
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    if self.socket.with(|_| ()).is_none() {
                        return;
                    }
                }
                Err(error) => {
                    tracing::debug!(channel = %self.channel, %error, "external media receive failed");
                    if self.socket.with(|_| ()).is_none() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_queue_drops_its_oldest_and_counts_it() {
        let queue = DropOldest::new(3);
        for n in 0..3 {
            assert!(!queue.push(n));
        }
        assert!(queue.push(3));
        assert!(queue.push(4));
        assert_eq!(queue.dropped(), 2);
        let left: Vec<i32> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(left, [2, 3, 4], "the newest are kept, in order");
    }

    #[test]
    fn datagrams_cross_the_io_thread_both_ways_and_none_leaves_after_close() {
        let far = UdpSocket::bind("127.0.0.1:0").expect("far end");
        far.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let socket = UdpSocket::bind("127.0.0.1:0").expect("socket");
        socket.set_nonblocking(true).expect("non-blocking");
        let local = socket.local_addr().expect("address");
        let shared = Arc::new(SharedSocket::new(socket));
        let stats = crate::media::rtp_stats::RtpCounter::new(7).stats();
        let remote = far.local_addr().expect("address");
        let link = UdpLink::start("ext".into(), shared.clone(), remote, stats.clone());
        let packet = [0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 42, 43];
        link.send(&packet);
        let mut buf = [0u8; 64];
        let (len, from) = far.recv_from(&mut buf).expect("the datagram");
        assert_eq!((&buf[..len], from), (&packet[..], local));
        // Counted once sent, by the I/O thread.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while stats.snapshot().tx_packets != 1 {
            assert!(
                std::time::Instant::now() < deadline,
                "the datagram is not counted"
            );
            std::thread::yield_now();
        }
        far.send_to(b"back", local).expect("send back");
        let back = loop {
            if let Some(datagram) = link.receive() {
                break datagram;
            }
            assert!(std::time::Instant::now() < deadline, "nothing came back");
            std::thread::yield_now();
        };
        assert_eq!(back, (b"back".to_vec(), remote));
        shared.close();
        link.send(&packet);
        far.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        assert!(far.recv_from(&mut buf).is_err(), "a datagram after close");
    }
}
