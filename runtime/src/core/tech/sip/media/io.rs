//! A SIP call's RTP and RTCP sockets (an even/odd port pair) and the one tokio task that
//! serves both. The engine's tick never touches a socket: the edge queues datagrams with
//! their destination ([`Link::send`]) and wakes the task; the task queues what arrives for
//! the edge's next tick. Every queue is small and drops its oldest when full (counted,
//! logged at debug). A task per call, no thread: a thousand calls are a thousand tasks.
//!
//! The task ends when the link is closed ([`Link::close`]: the call's hang-up, or the edge
//! and `CallMedia` both gone); no datagram leaves after that.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::totals::totals;
use crate::media::engine::LegId;
use crate::media::rtp::HEADER_LEN;
use crate::media::rtp_stats::RtpStats;
use crate::media::udp_io::DropOldest;

/// Datagrams waiting each way: 8 packets, 160 ms of audio.
const QUEUE_DATAGRAMS: usize = 8;
/// RTCP packets waiting each way.
const QUEUE_RTCP: usize = 4;
/// Largest datagram read; longer ones are cut (and then fail to parse).
const MAX_DATAGRAM: usize = 2048;
/// First and last RTP port tried (Asterisk's `rtp.conf` defaults: 5000-31000).
const PORT_RANGE: (u16, u16) = (5000, 31000);
/// How many random even ports are tried before giving up.
const BIND_ATTEMPTS: usize = 64;

/// Which socket of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Port {
    Rtp,
    Rtcp,
}

/// What the edge and the I/O task share.
#[derive(Debug)]
pub(crate) struct Link {
    channel: LegId,
    outgoing: DropOldest<(Port, Vec<u8>, SocketAddr)>,
    incoming_rtp: DropOldest<(Vec<u8>, SocketAddr)>,
    incoming_rtcp: DropOldest<(Vec<u8>, SocketAddr)>,
    wake: tokio::sync::Notify,
    closed: AtomicBool,
    /// RTP sent is counted here by the task, once the socket took it.
    stats: Arc<RtpStats>,
}

impl Link {
    pub(crate) fn new(channel: LegId, stats: Arc<RtpStats>) -> Link {
        Link {
            channel,
            outgoing: DropOldest::new(QUEUE_DATAGRAMS + QUEUE_RTCP),
            incoming_rtp: DropOldest::new(QUEUE_DATAGRAMS),
            incoming_rtcp: DropOldest::new(QUEUE_RTCP),
            wake: tokio::sync::Notify::new(),
            closed: AtomicBool::new(false),
            stats,
        }
    }

    /// Queues a datagram for `to`; never blocks. Nothing is queued once closed.
    pub(crate) fn send(&self, port: Port, datagram: &[u8], to: SocketAddr) {
        if self.is_closed() {
            return;
        }
        if self.outgoing.push((port, datagram.to_vec(), to)) {
            totals().dropped_out();
            let dropped = self.outgoing.dropped();
            if dropped.is_power_of_two() {
                tracing::debug!(channel = %self.channel, dropped, "SIP media: outgoing datagrams dropped (the I/O task is behind)");
            }
        }
        self.wake.notify_one();
    }

    /// The oldest RTP datagram received and not yet taken, with its source.
    pub(crate) fn receive_rtp(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.incoming_rtp.pop()
    }

    /// The oldest RTCP datagram received and not yet taken, with its source.
    pub(crate) fn receive_rtcp(&self) -> Option<(Vec<u8>, SocketAddr)> {
        self.incoming_rtcp.pop()
    }

    /// Stops the task: nothing is sent or received afterwards.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.wake.notify_one();
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
        let queue = match port {
            Port::Rtp => &self.incoming_rtp,
            Port::Rtcp => &self.incoming_rtcp,
        };
        if queue.push((datagram, from)) {
            totals().dropped_in();
            let dropped = queue.dropped();
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

/// Starts the task serving `rtp` and `rtcp` for `link` on the current tokio runtime.
pub(crate) fn start(link: Arc<Link>, rtp: UdpSocket, rtcp: UdpSocket) -> io::Result<()> {
    let handle = tokio::runtime::Handle::try_current()
        .map_err(|_| io::Error::other("no tokio runtime to serve RTP on"))?;
    rtp.set_nonblocking(true)?;
    rtcp.set_nonblocking(true)?;
    let _guard = handle.enter();
    let rtp = tokio::net::UdpSocket::from_std(rtp)?;
    let rtcp = tokio::net::UdpSocket::from_std(rtcp)?;
    handle.spawn(serve(link, rtp, rtcp));
    Ok(())
}

async fn serve(link: Arc<Link>, rtp: tokio::net::UdpSocket, rtcp: tokio::net::UdpSocket) {
    let mut rtp_buf = vec![0u8; MAX_DATAGRAM];
    let mut rtcp_buf = vec![0u8; MAX_DATAGRAM];
    let mut send_failing = false;
    while !link.is_closed() {
        tokio::select! {
            _ = link.wake.notified() => {}
            received = rtp.recv_from(&mut rtp_buf) => match received {
                Ok((len, from)) => {
                    totals().received(1);
                    link.queue_incoming(Port::Rtp, rtp_buf[..len].to_vec(), from);
                }
                Err(error) => tracing::debug!(channel = %link.channel, %error, "RTP receive failed"),
            },
            received = rtcp.recv_from(&mut rtcp_buf) => match received {
                Ok((len, from)) => link.queue_incoming(Port::Rtcp, rtcp_buf[..len].to_vec(), from),
                Err(error) => tracing::debug!(channel = %link.channel, %error, "RTCP receive failed"),
            },
        }
        while let Some((port, datagram, to)) = link.outgoing.pop() {
            if link.is_closed() {
                return;
            }
            let socket = match port {
                Port::Rtp => &rtp,
                Port::Rtcp => &rtcp,
            };
            // A UDP send waits only while the socket's buffer is full (then receiving
            // waits too: the queues drop what the call cannot carry).
            match socket.send_to(&datagram, to).await {
                Ok(sent) => {
                    if port == Port::Rtp {
                        link.stats.sent(sent.saturating_sub(HEADER_LEN));
                        totals().sent(1);
                    }
                    send_failing = false;
                }
                Err(error) => {
                    if !send_failing {
                        tracing::warn!(channel = %link.channel, remote = %to, %error, "cannot send SIP media");
                        send_failing = true;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn ports_come_as_an_even_odd_pair() {
        let (rtp, rtcp) = bind_pair("127.0.0.1".parse().unwrap(), 12345).unwrap();
        let rtp = rtp.local_addr().unwrap().port();
        assert_eq!(rtp % 2, 0);
        assert_eq!(rtcp.local_addr().unwrap().port(), rtp + 1);
    }

    #[tokio::test]
    async fn datagrams_cross_both_ways_and_none_after_close() {
        let far = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (rtp, rtcp) = bind_pair("127.0.0.1".parse().unwrap(), 99).unwrap();
        let rtp_addr = rtp.local_addr().unwrap();
        let stats = crate::media::rtp_stats::RtpCounter::new(1).stats();
        let link = Arc::new(Link::new("sip".into(), stats.clone()));
        start(link.clone(), rtp, rtcp).unwrap();
        let to = far.local_addr().unwrap();
        link.send(Port::Rtp, &[0x80; 20], to);
        let mut buf = [0u8; 64];
        let (len, from) = tokio::time::timeout(Duration::from_secs(5), far.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((len, from), (20, rtp_addr));
        far.send_to(b"back", rtp_addr).await.unwrap();
        let got = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(got) = link.receive_rtp() {
                    return got;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap();
        assert_eq!(got, (b"back".to_vec(), to));
        assert_eq!(stats.snapshot().tx_packets, 1);
        link.close();
        link.send(Port::Rtp, &[0x80; 20], to);
        let nothing =
            tokio::time::timeout(Duration::from_millis(200), far.recv_from(&mut buf)).await;
        assert!(nothing.is_err(), "a datagram after close");
    }
}
