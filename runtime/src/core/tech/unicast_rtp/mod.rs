//! `UnicastRTP`: the channel technology behind `POST /channels/externalMedia` with
//! `encapsulation=rtp`, `transport=udp`. The channel's audio goes to `external_host` as
//! RTP over UDP, and RTP arriving on its local port (from any source) is what the channel
//! hears. The channel is up from the start and has no dialplan of its own.
//!
//! The socket is shared by the channel's [`UnicastRtp`] driver and its media edge
//! ([`UdpEdge`], run by the media engine, whose socket I/O is done by an I/O thread of
//! [`crate::media::udp_io`], never on the engine's tick): hanging the channel up closes
//! the socket under the same lock every send is made under, so no packet leaves once the
//! hangup is done.
//! Packets always go to `external_host`; where received packets come from is not checked.
//!
//! The technology ([`UnicastRtpTech`], in `channel.rs`) makes the channel for a request
//! carrying a [`FarEnd`]; it is not dialable.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::Arc;

mod channel;

pub(crate) use channel::{FarEnd, UnicastRtpTech};
#[cfg(test)]
pub(crate) use channel::{LOCAL_ADDRESS_VAR, LOCAL_PORT_VAR};

use super::{Context, Driver};
use crate::core::CoreError;
use crate::media::engine::LegId;
use crate::media::external::{Edge, Received, RtpStream};
use crate::media::frame::{AudioFrame, Rate};
use crate::media::rtp_stats::{RtpSnapshot, RtpStats};
pub(crate) use crate::media::udp_io::SharedSocket;
use crate::media::udp_io::UdpLink;

/// Most packets taken from the I/O thread's queue in one tick.
const MAX_PACKETS_PER_TICK: usize = 16;

/// A non-blocking UDP socket on the local address used to reach `remote` (so the far end
/// can answer to it), on a port the system picks.
pub(crate) fn bind_towards(remote: SocketAddr) -> std::io::Result<UdpSocket> {
    let any: IpAddr = match remote {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    // Connecting a UDP socket sends nothing: it only makes the system choose the route
    // and so the local address.
    let probe = UdpSocket::bind((any, 0))?;
    probe.connect(remote)?;
    let local = probe.local_addr()?.ip();
    let socket = UdpSocket::bind((local, 0))?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// The driver of a `UnicastRTP` channel.
#[derive(Debug)]
pub(crate) struct UnicastRtp {
    socket: Arc<SharedSocket>,
    /// What the channel's RTP stream (counted by its edge) has carried.
    stats: Arc<RtpStats>,
}

impl UnicastRtp {
    pub(crate) fn new(socket: Arc<SharedSocket>, stats: Arc<RtpStats>) -> UnicastRtp {
        UnicastRtp { socket, stats }
    }
}

impl Driver for UnicastRtp {
    /// The channel is up from the start: there is nobody to call.
    fn call(&self, _ctx: &mut Context<'_>, _me: &Arc<str>) -> Result<(), CoreError> {
        Ok(())
    }

    fn hangup(&self, _ctx: &mut Context<'_>, me: &Arc<str>, _cause: u16) {
        tracing::debug!(channel = %me, "external media channel hung up: RTP socket closed");
        self.socket.close();
    }

    fn rtp_statistics(&self) -> Option<RtpSnapshot> {
        Some(self.stats.snapshot())
    }
}

/// The media engine's side of a `UnicastRTP` channel: frames out as RTP to the far end,
/// received RTP in as frames. The datagrams cross a [`UdpLink`] to and from its I/O thread.
pub(crate) struct UdpEdge {
    channel: LegId,
    link: UdpLink,
    stream: RtpStream,
}

impl UdpEdge {
    pub(crate) fn new(
        channel: LegId,
        socket: Arc<SharedSocket>,
        remote: SocketAddr,
        stream: RtpStream,
    ) -> UdpEdge {
        let link = UdpLink::start(channel.clone(), socket, remote, stream.stats());
        UdpEdge {
            channel,
            link,
            stream,
        }
    }
}

impl Edge for UdpEdge {
    fn send(&mut self, frame: &AudioFrame) {
        self.link.send(self.stream.packet(frame));
    }

    fn receive(&mut self, rate: Rate) -> Option<AudioFrame> {
        for _ in 0..MAX_PACKETS_PER_TICK {
            let Some((datagram, from)) = self.link.receive() else {
                break;
            };
            match self.stream.push_packet(&datagram) {
                Ok(Received::Queued) => {}
                Ok(Received::OtherPayloadType(pt)) => {
                    tracing::debug!(channel = %self.channel, %from, pt, "RTP with another payload type ignored");
                }
                Err(error) => {
                    tracing::debug!(channel = %self.channel, %from, %error, "malformed RTP ignored");
                }
            }
        }
        self.stream.next_frame(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::external::{RtpFormat, StreamStart};
    use crate::media::rtp;
    use std::time::{Duration, Instant};

    fn edge_and_far_end() -> (UdpEdge, Arc<SharedSocket>, UdpSocket) {
        let far = UdpSocket::bind("127.0.0.1:0").expect("far end");
        far.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let remote = far.local_addr().expect("address");
        let socket = Arc::new(SharedSocket::new(bind_towards(remote).expect("bind")));
        let format = RtpFormat::from_name("ulaw").expect("ulaw");
        let start = StreamStart {
            ssrc: 7,
            sequence: 1,
            timestamp: 0,
        };
        let edge = UdpEdge::new(
            "ext".into(),
            socket.clone(),
            remote,
            RtpStream::new(format, start),
        );
        (edge, socket, far)
    }

    #[test]
    fn frames_travel_both_ways_and_closing_stops_them() {
        let (mut edge, socket, far) = edge_and_far_end();
        let local = socket
            .with(|s| s.local_addr())
            .expect("open")
            .expect("address");
        assert_eq!(local.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
        edge.send(&AudioFrame::silence(Rate::Narrow8k));
        let mut buf = [0u8; 512];
        let (len, from) = far.recv_from(&mut buf).expect("a packet");
        assert_eq!(from, local);
        let header = rtp::parse(&buf[..len]).expect("RTP").header;
        assert_eq!((header.ssrc, header.sequence, header.marker), (7, 1, true));

        // The far end answers with the packet it got: the edge reads it back.
        far.send_to(&buf[..len], local).expect("send back");
        let deadline = Instant::now() + Duration::from_secs(5);
        let frame = loop {
            if let Some(frame) = edge.receive(Rate::Narrow8k) {
                break frame;
            }
            assert!(Instant::now() < deadline, "no frame read back");
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(frame.is_silent());

        socket.close();
        edge.send(&AudioFrame::silence(Rate::Narrow8k));
        far.set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        assert!(far.recv_from(&mut buf).is_err(), "a packet after close");
        assert_eq!(edge.receive(Rate::Narrow8k), None);
    }
}
