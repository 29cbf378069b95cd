//! SIP calls' RTP and RTCP sockets (an even/odd port pair per call) and the one I/O thread
//! of the process that serves them all, the *pump*. The engine's tick never touches a
//! socket: the edge queues datagrams with their destination ([`Link::send`]) and asks for
//! a pass; the pump sends what every call queued and reads what arrived on every call's
//! sockets into queues for the edge's next tick. Every queue is small and drops its oldest
//! when full (counted, logged at debug); received RTP keeps RFC 4733 events apart from
//! the audio's bound ([`super::received`]). The sockets are non-blocking: a pass never
//! waits (a send the kernel refuses is dropped and counted).
//!
//! Why one thread rather than a task per call: each tick queues one datagram per call at
//! once, so one wake-up of the pump per tick (the first send asks for it, the others find it
//! asked) replaces a task wake-up per packet, and reading every socket once a tick (at most
//! every [`READ_EVERY`]) replaces a readiness event, a wake-up and two reads per received
//! packet. A pass also runs every [`PASS`] when nobody asks (calls not sending yet), so
//! what arrives is always read.
//!
//! A call's sockets are served until its link is closed ([`Link::close`]: the call's hang-up,
//! or the edge and `CallMedia` both gone): no datagram leaves after that, and the next pass
//! closes the sockets.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::received::ReceivedRtp;
use super::totals::totals;
use crate::media::engine::LegId;
use crate::media::rtp::HEADER_LEN;
use crate::media::rtp_stats::RtpStats;
use crate::media::udp_io::DropOldest;

/// Datagrams waiting to be sent: 8 packets, 160 ms of audio (received RTP: see
/// [`super::received`]).
const QUEUE_DATAGRAMS: usize = 8;
/// RTCP packets waiting each way.
const QUEUE_RTCP: usize = 4;
/// Largest datagram read; longer ones are cut (and then fail to parse).
const MAX_DATAGRAM: usize = 2048;
/// First and last RTP port tried (Asterisk's `rtp.conf` defaults: 5000-31000).
const PORT_RANGE: (u16, u16) = (5000, 31000);
/// How many random even ports are tried before giving up.
const BIND_ATTEMPTS: usize = 64;
/// The longest the pump waits between passes (a media tick).
const PASS: Duration = Duration::from_millis(20);
/// Most datagrams read from one socket in one pass (the queue keeps the newest).
const MAX_READ: usize = QUEUE_DATAGRAMS * 2;
/// Sockets are read at most this often: a tick's sends may take several passes (the
/// first send wakes the pump while the tick goes on queueing), one read per tick is enough.
const READ_EVERY: Duration = Duration::from_millis(10);
/// RTCP sockets are read every this many reads (reports come every few seconds).
const RTCP_EVERY: u32 = 10;

/// Which socket of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    Rtp,
    Rtcp,
}

/// What the edge and the pump share.
#[derive(Debug)]
pub(crate) struct Link {
    channel: LegId,
    outgoing: DropOldest<(Port, Vec<u8>, SocketAddr)>,
    incoming_rtp: ReceivedRtp,
    incoming_rtcp: DropOldest<(Vec<u8>, SocketAddr)>,
    closed: AtomicBool,
    /// RTP sent is counted here by the pump, once the socket took it.
    stats: Arc<RtpStats>,
}

impl Link {
    pub(crate) fn new(channel: LegId, stats: Arc<RtpStats>) -> Link {
        Link {
            channel,
            outgoing: DropOldest::new(QUEUE_DATAGRAMS + QUEUE_RTCP),
            incoming_rtp: ReceivedRtp::new(),
            incoming_rtcp: DropOldest::new(QUEUE_RTCP),
            closed: AtomicBool::new(false),
            stats,
        }
    }

    /// Queues a datagram for `to` and asks the pump for a pass; never blocks. Nothing is
    /// queued once closed.
    pub(crate) fn send(&self, port: Port, datagram: &[u8], to: SocketAddr) {
        if self.is_closed() {
            return;
        }
        if self.outgoing.push((port, datagram.to_vec(), to)) {
            totals().dropped_out();
            let dropped = self.outgoing.dropped();
            if dropped.is_power_of_two() {
                tracing::debug!(channel = %self.channel, dropped, "SIP media: outgoing datagrams dropped (the I/O is behind)");
            }
        }
        if let Some(Ok(pump)) = PUMP.get() {
            pump.request();
        }
    }

    /// Sets the negotiated `telephone-event` payload type (`None`: none, or DTMF in band),
    /// whose received datagrams are kept apart from the audio's bound.
    pub(crate) fn set_event_type(&self, payload_type: Option<u8>) {
        self.incoming_rtp.set_event_type(payload_type);
    }

    /// The oldest RTP datagram received and not yet taken, with its source.
    pub(crate) fn receive_rtp(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.incoming_rtp.pop()
    }

    /// The oldest RTCP datagram received and not yet taken, with its source.
    pub(crate) fn receive_rtcp(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.incoming_rtcp.pop()
    }

    /// Stops the I/O: nothing is sent or received afterwards.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Datagrams dropped by full queues: (outgoing, incoming).
    pub(crate) fn dropped(&self) -> (u64, u64) {
        (
            self.outgoing.dropped(),
            self.incoming_rtp.dropped() + self.incoming_rtcp.dropped(),
        )
    }

    fn queue_incoming(&self, port: Port, datagram: Vec<u8>, from: SocketAddr) {
        let (full, dropped) = match port {
            Port::Rtp => (
                self.incoming_rtp.push(datagram, from),
                self.incoming_rtp.dropped(),
            ),
            Port::Rtcp => (
                self.incoming_rtcp.push((datagram, from)),
                self.incoming_rtcp.dropped(),
            ),
        };
        if full {
            totals().dropped_in();
            if dropped.is_power_of_two() {
                tracing::debug!(channel = %self.channel, dropped, ?port, "SIP media: received datagrams dropped (the media clock is behind)");
            }
        }
    }
}

/// Binds an RTP socket on an even port of `ip` and the RTCP socket on the port above it.
pub(crate) fn bind_pair(ip: IpAddr, seed: u64) -> io::Result<(UdpSocket, UdpSocket)> {
    let span = u64::from((PORT_RANGE.1 - PORT_RANGE.0) / 2);
    let mut last = io::Error::new(io::ErrorKind::AddrInUse, "no free RTP port pair");
    let mut state = seed | 1;
    for _ in 0..BIND_ATTEMPTS {
        // xorshift over the seed: a different even port each attempt.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let port = PORT_RANGE.0 + 2 * (state % span) as u16;
        let rtp = match UdpSocket::bind((ip, port)) {
            Ok(socket) => socket,
            Err(error) => {
                last = error;
                continue;
            }
        };
        match UdpSocket::bind((ip, port + 1)) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(error) => last = error,
        }
    }
    Err(last)
}

/// Has the pump serve `rtp` and `rtcp` for `link` (starting the pump on first use).
pub(crate) fn start(link: Arc<Link>, rtp: UdpSocket, rtcp: UdpSocket) -> io::Result<()> {
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    let pump = PUMP
        .get_or_init(Pump::start)
        .as_ref()
        .map_err(|error| io::Error::new(error.kind(), error.to_string()))?;
    pump.added
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(Served {
            link,
            rtp,
            rtcp,
            send_failing: false,
        });
    pump.request();
    Ok(())
}

/// The process's pump, once started (or why it could not start).
static PUMP: OnceLock<io::Result<Pump>> = OnceLock::new();

/// The pump's handle: calls to serve, and whether a pass is asked for.
#[derive(Debug)]
struct Pump {
    thread: std::thread::Thread,
    /// Calls to serve from the next pass on.
    added: Arc<Mutex<Vec<Served>>>,
    requested: Arc<AtomicBool>,
}

impl Pump {
    fn start() -> io::Result<Pump> {
        let added = Arc::new(Mutex::new(Vec::new()));
        let requested = Arc::new(AtomicBool::new(false));
        let (thread_added, thread_requested) = (added.clone(), requested.clone());
        let handle = std::thread::Builder::new()
            .name("wari-sip-rtp".into())
            .spawn(move || run(&thread_added, &thread_requested))?;
        Ok(Pump {
            thread: handle.thread().clone(),
            added,
            requested,
        })
    }

    /// Asks for a pass: wakes the thread unless a pass is asked for already.
    fn request(&self) {
        if !self.requested.swap(true, Ordering::AcqRel) {
            self.thread.unpark();
        }
    }
}

/// One call's sockets, as the pump holds them.
#[derive(Debug)]
struct Served {
    link: Arc<Link>,
    rtp: UdpSocket,
    rtcp: UdpSocket,
    send_failing: bool,
}

/// The pump's thread: a pass whenever one is asked for, and at least every [`PASS`].
fn run(added: &Mutex<Vec<Served>>, requested: &AtomicBool) {
    let mut served: Vec<Served> = Vec::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut reads: u32 = 0;
    let mut last_read: Option<Instant> = None;
    loop {
        if !requested.swap(false, Ordering::AcqRel) {
            std::thread::park_timeout(PASS);
            requested.store(false, Ordering::Release);
        }
        served.append(&mut added.lock().unwrap_or_else(|p| p.into_inner()));
        let now = Instant::now();
        let read_now = last_read.is_none_or(|last| now.duration_since(last) >= READ_EVERY);
        if read_now {
            last_read = Some(now);
            reads = reads.wrapping_add(1);
        }
        let read_rtcp = read_now && reads.is_multiple_of(RTCP_EVERY);
        // Closed calls' sockets are dropped (closed) here.
        served.retain_mut(|call| {
            if call.link.is_closed() {
                return false;
            }
            send_queued(call);
            if read_now {
                read(&call.link, &call.rtp, Port::Rtp, &mut buf);
            }
            if read_rtcp {
                read(&call.link, &call.rtcp, Port::Rtcp, &mut buf);
            }
            true
        });
    }
}

/// Sends what the call queued, unless it is closed meanwhile.
fn send_queued(call: &mut Served) {
    let link = &call.link;
    while let Some((port, datagram, to)) = link.outgoing.pop() {
        if link.is_closed() {
            return;
        }
        let socket = match port {
            Port::Rtp => &call.rtp,
            Port::Rtcp => &call.rtcp,
        };
        match socket.send_to(&datagram, to) {
            Ok(sent) => {
                if port == Port::Rtp {
                    link.stats.sent(sent.saturating_sub(HEADER_LEN));
                    totals().sent(1);
                }
                call.send_failing = false;
            }
            // The socket's buffer is full: this datagram is lost, not waited for.
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => totals().dropped_out(),
            Err(error) => {
                if !call.send_failing {
                    tracing::warn!(channel = %link.channel, remote = %to, %error, "cannot send SIP media");
                    call.send_failing = true;
                }
            }
        }
    }
}

/// Reads what arrived on `socket` (at most [`MAX_READ`] datagrams) into the call's queue.
fn read(link: &Link, socket: &UdpSocket, port: Port, buf: &mut [u8]) {
    for _ in 0..MAX_READ {
        match socket.recv_from(buf) {
            Ok((len, from)) => {
                if port == Port::Rtp {
                    totals().received(1);
                }
                link.queue_incoming(port, buf[..len].to_vec(), from);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => return,
            // ICMP errors reported on the socket (a far end that went away) and the like:
            // nothing to read now.
            Err(error) => {
                tracing::debug!(channel = %link.channel, %error, ?port, "SIP media receive failed");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_come_as_an_even_odd_pair() {
        let (rtp, rtcp) = bind_pair("127.0.0.1".parse().unwrap(), 12345).unwrap();
        let rtp = rtp.local_addr().unwrap().port();
        assert_eq!(rtp % 2, 0);
        assert_eq!(rtcp.local_addr().unwrap().port(), rtp + 1);
    }

    #[test]
    fn datagrams_cross_both_ways_and_none_after_close() {
        let far = UdpSocket::bind("127.0.0.1:0").unwrap();
        far.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (rtp, rtcp) = bind_pair("127.0.0.1".parse().unwrap(), 99).unwrap();
        let rtp_addr = rtp.local_addr().unwrap();
        let stats = crate::media::rtp_stats::RtpCounter::new(1).stats();
        let link = Arc::new(Link::new("sip".into(), stats.clone()));
        start(link.clone(), rtp, rtcp).unwrap();
        let to = far.local_addr().unwrap();
        link.send(Port::Rtp, &[0x80; 20], to);
        let mut buf = [0u8; 64];
        let (len, from) = far.recv_from(&mut buf).unwrap();
        assert_eq!((len, from), (20, rtp_addr));
        far.send_to(b"back", rtp_addr).unwrap();
        // The pump reads at its next pass, within a tick or two.
        let began = Instant::now();
        let got = loop {
            if let Some(got) = link.receive_rtp() {
                break got;
            }
            assert!(began.elapsed() < Duration::from_secs(5), "nothing received");
            std::thread::sleep(Duration::from_millis(1));
        };
        assert_eq!(got, (b"back".to_vec(), to));
        assert_eq!(stats.snapshot().tx_packets, 1);
        link.close();
        link.send(Port::Rtp, &[0x80; 20], to);
        far.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        assert!(far.recv_from(&mut buf).is_err(), "a datagram after close");
    }
}
