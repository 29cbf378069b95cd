//! `UnicastRTP`: the channel technology behind `POST /channels/externalMedia` with
//! `encapsulation=rtp`, `transport=udp`. The channel's audio goes to `external_host` as
//! RTP over UDP, and RTP arriving on its local port (from any source) is what the channel
//! hears. The channel is up from the start and has no dialplan of its own.
//!
//! The socket is shared by the channel's [`UnicastRtp`] driver and its media edge
//! ([`UdpEdge`], run by the media engine): hanging the channel up closes the socket under
//! the same lock the edge sends under, so no packet leaves once the hangup is done.
//! Packets always go to `external_host`; where received packets come from is not checked.
//!
//! The technology ([`UnicastRtpTech`], in `channel.rs`) makes the channel for a request
//! carrying a [`FarEnd`]; it is not dialable.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};

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

/// Most packets taken from the socket in one tick (a far end sending faster than this
/// fills the kernel's buffer, which then drops).
const MAX_PACKETS_PER_TICK: usize = 16;

/// Largest datagram read; anything longer is cut (and then usually fails to decode).
const MAX_DATAGRAM: usize = 2048;

/// The UDP socket of one external-media channel, `None` once closed.
#[derive(Debug)]
pub(crate) struct SharedSocket(Mutex<Option<UdpSocket>>);

impl SharedSocket {
    pub(crate) fn new(socket: UdpSocket) -> SharedSocket {
        SharedSocket(Mutex::new(Some(socket)))
    }

    /// Closes the socket: nothing is sent or received afterwards.
    pub(crate) fn close(&self) {
        let mut socket = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *socket = None;
    }

    /// Runs `f` on the socket unless it is closed.
    fn with<R>(&self, f: impl FnOnce(&UdpSocket) -> R) -> Option<R> {
        let socket = self.0.lock().unwrap_or_else(|p| p.into_inner());
        socket.as_ref().map(f)
    }
}

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
/// received RTP in as frames.
pub(crate) struct UdpEdge {
    channel: LegId,
    socket: Arc<SharedSocket>,
    remote: SocketAddr,
    stream: RtpStream,
    buf: Vec<u8>,
    /// A send error was logged (later ones are not, until a send succeeds again).
    send_failing: bool,
}

impl UdpEdge {
    pub(crate) fn new(
        channel: LegId,
        socket: Arc<SharedSocket>,
        remote: SocketAddr,
        stream: RtpStream,
    ) -> UdpEdge {
        UdpEdge {
            channel,
            socket,
            remote,
            stream,
            buf: vec![0; MAX_DATAGRAM],
            send_failing: false,
        }
    }
}

impl Edge for UdpEdge {
    fn send(&mut self, frame: &AudioFrame) {
        let packet = self.stream.packet(frame);
        let Some(result) = self.socket.with(|s| s.send_to(packet, self.remote)) else {
            return;
        };
        match result {
            Ok(sent) => {
                self.stream.count_sent(sent);
                self.send_failing = false;
            }
            // The socket buffer is full: this packet is lost, as on a busy network.
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(error) => {
                if !self.send_failing {
                    tracing::warn!(channel = %self.channel, remote = %self.remote, %error, "cannot send external media RTP");
                    self.send_failing = true;
                }
            }
        }
    }

    fn receive(&mut self, rate: Rate) -> Option<AudioFrame> {
        let UdpEdge {
            channel,
            socket,
            stream,
            buf,
            ..
        } = self;
        socket.with(|socket| {
            for _ in 0..MAX_PACKETS_PER_TICK {
                let (len, from) = match socket.recv_from(buf) {
                    Ok(received) => received,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(error) => {
                        tracing::debug!(channel = %channel, %error, "external media receive failed");
                        break;
                    }
                };
                match stream.push_packet(&buf[..len]) {
                    Ok(Received::Queued) => {}
                    Ok(Received::OtherPayloadType(pt)) => {
                        tracing::debug!(channel = %channel, %from, pt, "RTP with another payload type ignored");
                    }
                    Err(error) => {
                        tracing::debug!(channel = %channel, %from, %error, "malformed RTP ignored");
                    }
                }
            }
        });
        stream.next_frame(rate)
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
