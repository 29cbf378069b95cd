//! The RTP session of one SIP call, sans-IO: what the edge does each media tick, with the
//! sockets and the clock left to its caller.
//!
//! - Sending: one 20 ms G.711 packet per tick with the negotiated payload type, from a
//!   random SSRC, sequence number and timestamp, marker on the first; RFC 4733 events in
//!   place of audio while a digit is sent ([`super::dtmf::Sender`]).
//! - Where from and to: the first packet latches its source, and packets from any other
//!   source are ignored after it (counted), as Asterisk's default `strictrtp=yes` does. With
//!   `rtp_symmetric`, only a packet from the signalled address (any port) may latch, and
//!   packets go back to the latched source; without it, packets go to the SDP address.
//! - Receiving: audio through the reorder buffer ([`super::jitter`]), decoded with
//!   [`crate::media::codec`]; `telephone-event` packets to the RFC 4733 receiver (audio is
//!   suppressed while an event plays); in-band detection when the DTMF mode asks for it.
//! - RTCP ([`super::rtcp`]) is fed with every packet and reports on its interval.
//! - `rtp_timeout`: no RTP for that long while the stream is active both ways (not while
//!   the far end holds us) gives one [`MediaEvent::Timeout`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rtp_types::{RtpPacket, RtpPacketBuilder};

use super::dtmf::{self, InbandDetector};
use super::jitter::{JitterBuffer, JitterCounts};
use super::rtcp::Rtcp;
use super::sdp::{Direction, Negotiated};
use super::totals::totals;
use super::{DtmfMode, MediaEvent};
use crate::media::codec::{Codec, Endian};
use crate::media::frame::{AudioFrame, Rate, Resampler};
use crate::media::rtp_stats::{RtpCounter, RtpQuality, RtpStats};

/// Samples in a 20 ms G.711 packet.
const SAMPLES_PER_PACKET: u32 = 160;
/// Received audio kept decoded at most (120 ms at 8 kHz).
const MAX_QUEUED_SAMPLES: usize = 960;

/// Where an RTP stream starts (random for each call).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

/// A datagram to send: RTP or RTCP, and where to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outgoing {
    Rtp(SocketAddr),
    Rtcp(SocketAddr),
}

/// Counters of packets the session ignored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Ignored {
    /// From another source than the latched one (or the signalled address before latching).
    pub wrong_source: u64,
    /// Payload type neither the codec's nor telephone-event's.
    pub other_payload: u64,
    /// Not RTP.
    pub malformed: u64,
    /// Before any negotiation.
    pub unnegotiated: u64,
}

/// One call's RTP session.
pub(crate) struct Session {
    mode: DtmfMode,
    symmetric: bool,
    timeout: Option<Duration>,
    ssrc: u32,
    sequence: u16,
    /// The RTP timestamp of the next 20 ms (moves on every tick, sent or not).
    timestamp: u32,
    marker: bool,
    negotiated: Option<Negotiated>,
    latched: Option<SocketAddr>,
    latched_rtcp: Option<SocketAddr>,
    counter: RtpCounter,
    ignored: Ignored,
    jitter: JitterBuffer<Vec<u8>>,
    /// The jitter buffer's counts already added to the process's totals.
    jitter_counted: JitterCounts,
    queued: VecDeque<i16>,
    dtmf_in: dtmf::Receiver,
    dtmf_out: dtmf::Sender,
    inband: Option<InbandDetector>,
    rtcp: Rtcp,
    /// Last RTP received, or when the timeout clock last (re)started.
    last_rx: Instant,
    timed_out: bool,
    events: Vec<MediaEvent>,
    /// Scratch buffers (no allocation per packet once warm).
    encoded: Vec<u8>,
    packet: Vec<u8>,
    decoded: Vec<i16>,
    resampler: Option<Resampler>,
}

impl Session {
    pub(crate) fn new(
        start: Start,
        mode: DtmfMode,
        symmetric: bool,
        timeout: Option<Duration>,
        now: Instant,
    ) -> Session {
        Session {
            mode,
            symmetric,
            timeout,
            ssrc: start.ssrc,
            sequence: start.sequence,
            timestamp: start.timestamp,
            marker: true,
            negotiated: None,
            latched: None,
            latched_rtcp: None,
            counter: RtpCounter::new(start.ssrc),
            ignored: Ignored::default(),
            jitter: JitterBuffer::default(),
            jitter_counted: JitterCounts::default(),
            queued: VecDeque::with_capacity(MAX_QUEUED_SAMPLES + 320),
            dtmf_in: dtmf::Receiver::default(),
            dtmf_out: dtmf::Sender::default(),
            inband: None,
            rtcp: Rtcp::new(start.ssrc, now),
            last_rx: now,
            timed_out: false,
            events: Vec::new(),
            encoded: Vec::with_capacity(320),
            packet: Vec::with_capacity(400),
            decoded: Vec::with_capacity(320),
            resampler: None,
        }
    }

    /// The statistics the session counts into, readable from any thread.
    pub(crate) fn stats(&self) -> std::sync::Arc<RtpStats> {
        self.counter.stats()
    }

    /// What RTCP has told.
    pub(crate) fn quality(&self) -> Option<RtpQuality> {
        self.rtcp.quality()
    }

    /// Packets ignored so far.
    pub(crate) fn ignored(&self) -> Ignored {
        self.ignored
    }

    /// An offer/answer settled (again) at `now`.
    pub(crate) fn negotiated(&mut self, negotiated: Negotiated, now: Instant) {
        let moved = self.negotiated.is_none_or(|old| {
            old.remote_ip != negotiated.remote_ip || old.remote_port != negotiated.remote_port
        });
        if moved {
            self.latched = None;
            self.latched_rtcp = None;
        }
        let inband = match self.mode {
            DtmfMode::Inband => true,
            DtmfMode::Auto => negotiated.telephone_event.is_none(),
            DtmfMode::Rfc4733 => false,
        };
        if inband != self.inband.is_some() {
            self.inband = inband.then(InbandDetector::default);
        }
        if self
            .negotiated
            .is_none_or(|old| old.direction != negotiated.direction)
        {
            self.last_rx = now;
        }
        self.negotiated = Some(negotiated);
    }

    /// Queues a digit to send as RFC 4733 events; false when none was negotiated (the
    /// caller plays it in band) or the digit cannot be sent.
    pub(crate) fn queue_dtmf(&mut self, digit: char, duration_ms: u32) -> bool {
        if self.negotiated.and_then(|n| n.telephone_event).is_none() {
            return false;
        }
        self.dtmf_out.queue(digit, duration_ms)
    }

    /// Whether digits go out as RFC 4733 events (else in band).
    pub(crate) fn sends_rfc4733(&self) -> bool {
        self.mode != DtmfMode::Inband
            && self.negotiated.is_some_and(|n| n.telephone_event.is_some())
    }

    fn rtp_destination(&self) -> Option<SocketAddr> {
        let negotiated = self.negotiated?;
        if !negotiated.sends() {
            return None;
        }
        if self.symmetric
            && let Some(latched) = self.latched
        {
            return Some(latched);
        }
        Some(SocketAddr::new(
            negotiated.remote_ip,
            negotiated.remote_port,
        ))
    }

    fn rtcp_destination(&self) -> Option<SocketAddr> {
        let negotiated = self.negotiated?;
        if negotiated.remote_ip.is_unspecified() || negotiated.remote_port == 0 {
            return None;
        }
        if self.symmetric
            && let Some(latched) = self.latched_rtcp
        {
            return Some(latched);
        }
        Some(SocketAddr::new(
            negotiated.remote_ip,
            negotiated.remote_rtcp_port,
        ))
    }

    /// This tick's packet for `frame` (what the leg wrote), if one goes out: the datagram
    /// and where to. Valid until the next call.
    pub(crate) fn send(&mut self, frame: &AudioFrame) -> Option<(&[u8], SocketAddr)> {
        let timestamp = self.timestamp;
        self.timestamp = self.timestamp.wrapping_add(SAMPLES_PER_PACKET);
        let negotiated = self.negotiated?;
        let Some(to) = self.rtp_destination() else {
            // Nothing goes out: the next packet starts a talkspurt.
            self.marker = true;
            return None;
        };
        self.packet.clear();
        if let Some(te) = negotiated.telephone_event
            && self.dtmf_out.busy()
            && let Some(event) = self.dtmf_out.next_packet(timestamp)
        {
            RtpPacketBuilder::<&[u8], &[u8]>::new()
                .payload_type(te)
                .sequence_number(self.sequence)
                .timestamp(event.timestamp)
                .ssrc(self.ssrc)
                .marker_bit(event.marker)
                .payload(&event.payload[..])
                .write_into_vec(&mut self.packet)
                .ok()?;
            self.sequence = self.sequence.wrapping_add(1);
            // Audio after the digit starts a talkspurt.
            self.marker = true;
            return Some((&self.packet, to));
        }
        let samples = if frame.rate() == Rate::Narrow8k {
            frame.samples()
        } else {
            let resampler = self
                .resampler
                .get_or_insert_with(|| Resampler::new(frame.rate(), Rate::Narrow8k));
            self.decoded = resampler.frame(frame).samples().to_vec();
            &self.decoded
        };
        self.encoded.clear();
        negotiated
            .codec
            .encode(samples, Endian::Big, &mut self.encoded);
        RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(negotiated.payload_type)
            .sequence_number(self.sequence)
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .marker_bit(self.marker)
            .payload(&self.encoded[..])
            .write_into_vec(&mut self.packet)
            .ok()?;
        self.sequence = self.sequence.wrapping_add(1);
        self.marker = false;
        Some((&self.packet, to))
    }

    /// An RTP datagram arrived from `from` at `now`.
    pub(crate) fn receive_rtp(&mut self, datagram: &[u8], from: SocketAddr, now: Instant) {
        let Some(negotiated) = self.negotiated else {
            self.ignored.unnegotiated += 1;
            return;
        };
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.ignored.malformed += 1;
            return;
        };
        match self.latched {
            Some(latched) if latched != from => {
                self.ignored.wrong_source += 1;
                return;
            }
            Some(_) => {}
            None if !self.symmetric || from.ip() == negotiated.remote_ip => {
                self.latched = Some(from)
            }
            None => {
                self.ignored.wrong_source += 1;
                return;
            }
        }
        let pt = packet.payload_type();
        let is_event = negotiated.telephone_event == Some(pt);
        if pt != negotiated.payload_type && !is_event {
            self.ignored.other_payload += 1;
            return;
        }
        self.last_rx = now;
        self.counter.received(
            packet.ssrc(),
            packet.sequence_number(),
            packet.payload_len(),
        );
        self.rtcp.received_rtp(
            packet.ssrc(),
            packet.sequence_number(),
            packet.timestamp(),
            now,
        );
        if is_event {
            if self.mode != DtmfMode::Inband
                && let Some(digit) = self
                    .dtmf_in
                    .receive(packet.payload(), packet.timestamp(), now)
            {
                self.events.push(MediaEvent::Dtmf {
                    digit: digit.digit,
                    duration_ms: digit.duration_ms,
                });
            }
            return;
        }
        self.jitter.push(
            packet.ssrc(),
            packet.sequence_number(),
            now,
            packet.payload().to_vec(),
        );
    }

    /// An RTCP datagram arrived from `from` at `now` (`ntp_now`: the wall clock as NTP).
    pub(crate) fn receive_rtcp(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        ntp_now: u64,
    ) {
        let Some(negotiated) = self.negotiated else {
            self.ignored.unnegotiated += 1;
            return;
        };
        match self.latched_rtcp {
            Some(latched) if latched != from => {
                self.ignored.wrong_source += 1;
                return;
            }
            Some(_) => {}
            None if !self.symmetric || from.ip() == negotiated.remote_ip => {
                self.latched_rtcp = Some(from)
            }
            None => {
                self.ignored.wrong_source += 1;
                return;
            }
        }
        if self.rtcp.received_rtcp(datagram, now, ntp_now).is_err() {
            self.ignored.malformed += 1;
        }
    }

    /// What the leg reads this tick (`now`), at `rate`: `None` while buffering, on a loss,
    /// and while an RFC 4733 event plays.
    pub(crate) fn receive_frame(&mut self, rate: Rate, now: Instant) -> Option<AudioFrame> {
        let codec = self.negotiated.map_or(Codec::Ulaw, |n| n.codec);
        while self.queued.len() < SAMPLES_PER_PACKET as usize {
            let Some(payload) = self.jitter.pop(now) else {
                break;
            };
            self.decoded.clear();
            codec.decode(&payload, Endian::Big, &mut self.decoded);
            self.queued.extend(self.decoded.iter().copied());
        }
        let counts = self.jitter.counts();
        if counts != self.jitter_counted {
            totals().jitter(self.jitter_counted, counts);
            self.jitter_counted = counts;
        }
        if self.queued.len() > MAX_QUEUED_SAMPLES {
            let excess = self.queued.len() - MAX_QUEUED_SAMPLES;
            self.queued.drain(..excess);
        }
        let frame = if self.queued.len() >= SAMPLES_PER_PACKET as usize {
            let mut frame = AudioFrame::silence(Rate::Narrow8k);
            for (slot, sample) in frame
                .samples_mut()
                .iter_mut()
                .zip(self.queued.drain(..SAMPLES_PER_PACKET as usize))
            {
                *slot = sample;
            }
            Some(frame)
        } else {
            None
        };
        if let Some(detector) = &mut self.inband
            && let Some(digit) = detector.feed(frame.as_ref())
        {
            self.events.push(MediaEvent::Dtmf {
                digit: digit.digit,
                duration_ms: digit.duration_ms,
            });
        }
        if self.dtmf_in.playing() {
            return None;
        }
        let frame = frame?;
        if rate == Rate::Narrow8k {
            return Some(frame);
        }
        let resampler = self
            .resampler
            .get_or_insert_with(|| Resampler::new(Rate::Narrow8k, rate));
        Some(resampler.frame(&frame))
    }

    /// Timers at `now`: an RFC 4733 event whose end never came, `rtp_timeout` (counted
    /// only while the channel is `up`), and our RTCP report when due (returned with where it
    /// goes; `ntp_now` gives the wall clock as NTP, asked only then).
    pub(crate) fn poll(
        &mut self,
        now: Instant,
        up: bool,
        ntp_now: impl FnOnce() -> u64,
    ) -> Option<(Vec<u8>, SocketAddr)> {
        if let Some(digit) = self.dtmf_in.poll(now) {
            self.events.push(MediaEvent::Dtmf {
                digit: digit.digit,
                duration_ms: digit.duration_ms,
            });
        }
        let negotiated = self.negotiated?;
        if !up || negotiated.direction != Direction::SendRecv {
            // Not answered yet, held (either way) or inactive: no RTP is expected, the
            // clock starts over.
            self.last_rx = now;
        } else if let Some(timeout) = self.timeout
            && !self.timed_out
            && now.saturating_duration_since(self.last_rx) >= timeout
        {
            self.timed_out = true;
            self.events.push(MediaEvent::Timeout);
        }
        let to = self.rtcp_destination()?;
        if !self.rtcp.due(now) {
            return None;
        }
        let sent = self.counter.stats().snapshot();
        let report = self.rtcp.report(now, ntp_now(), &sent, self.timestamp)?;
        Some((report, to))
    }

    /// Takes the events that happened.
    pub(crate) fn take_events(&mut self) -> impl Iterator<Item = MediaEvent> + '_ {
        self.events.drain(..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::Codec;
    use crate::media::rtp;

    const MS: Duration = Duration::from_millis(1);

    fn negotiated(port: u16, te: Option<u8>) -> Negotiated {
        Negotiated {
            remote_ip: "127.0.0.1".parse().unwrap(),
            remote_port: port,
            remote_rtcp_port: port + 1,
            codec: Codec::Ulaw,
            payload_type: 0,
            telephone_event: te,
            direction: Direction::SendRecv,
        }
    }

    fn session(symmetric: bool, t0: Instant) -> Session {
        let start = Start {
            ssrc: 0x1111,
            sequence: 65535,
            timestamp: 7,
        };
        Session::new(
            start,
            DtmfMode::Auto,
            symmetric,
            Some(Duration::from_secs(2)),
            t0,
        )
    }

    fn tone() -> AudioFrame {
        let samples: Vec<i16> = (0..160)
            .map(|i| ((i as f64 * 0.3).sin() * 8000.0) as i16)
            .collect();
        AudioFrame::from_samples(Rate::Narrow8k, &samples).unwrap()
    }

    #[test]
    fn nothing_is_sent_before_negotiation_then_g711_with_marker_on_the_first() {
        let t0 = Instant::now();
        let mut s = session(false, t0);
        assert!(s.send(&tone()).is_none());
        s.negotiated(negotiated(4000, Some(101)), t0);
        let mut headers = Vec::new();
        for _ in 0..2 {
            let (bytes, to) = s.send(&tone()).unwrap();
            assert_eq!(to, "127.0.0.1:4000".parse().unwrap());
            let p = rtp::parse(bytes).unwrap();
            assert_eq!(p.payload.len(), 160);
            headers.push(p.header);
        }
        let got: Vec<_> = headers
            .iter()
            .map(|h| (h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc))
            .collect();
        // The first tick (unnegotiated) moved the timestamp on.
        assert_eq!(
            got,
            [(true, 0, 65535, 167, 0x1111), (false, 0, 0, 327, 0x1111)]
        );
    }

    fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        rtp::RtpHeader {
            marker: false,
            payload_type: pt,
            sequence: seq,
            timestamp: ts,
            ssrc,
        }
        .write(&mut out);
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn symmetric_rtp_latches_on_the_signalled_address_and_ignores_others_after() {
        let t0 = Instant::now();
        let mut s = session(true, t0);
        s.negotiated(negotiated(4000, None), t0);
        let stranger: SocketAddr = "127.0.0.2:4000".parse().unwrap();
        let natted: SocketAddr = "127.0.0.1:5555".parse().unwrap();
        s.receive_rtp(&packet(0, 1, 0, 9, &[0xFF; 160]), stranger, t0);
        assert_eq!(s.ignored().wrong_source, 1, "not the signalled address");
        s.receive_rtp(&packet(0, 1, 0, 9, &[0xFF; 160]), natted, t0);
        assert_eq!(s.send(&tone()).unwrap().1, natted, "latched, any port");
        s.receive_rtp(
            &packet(0, 2, 160, 9, &[0xFF; 160]),
            "127.0.0.1:4000".parse().unwrap(),
            t0,
        );
        assert_eq!(s.ignored().wrong_source, 2, "another port after latching");
        assert_eq!(s.stats().snapshot().rx_packets, 1);
        // Without symmetric RTP, packets go to the SDP address; the first source is learnt
        // wherever it is, and another one is ignored after it (Asterisk's strictrtp=yes).
        let mut plain = session(false, t0);
        plain.negotiated(negotiated(4000, None), t0);
        plain.receive_rtp(&packet(0, 1, 0, 9, &[0xFF; 160]), stranger, t0);
        assert_eq!(
            plain.send(&tone()).unwrap().1,
            "127.0.0.1:4000".parse().unwrap()
        );
        assert_eq!(plain.stats().snapshot().rx_packets, 1);
        plain.receive_rtp(&packet(0, 2, 160, 9, &[0xFF; 160]), natted, t0);
        assert_eq!(
            plain.ignored().wrong_source,
            1,
            "another source after learning"
        );
        assert_eq!(plain.stats().snapshot().rx_packets, 1);
    }

    #[test]
    fn received_audio_is_decoded_after_the_jitter_delay() {
        let t0 = Instant::now();
        let mut a = session(false, t0);
        let mut b = session(false, t0);
        a.negotiated(negotiated(4000, None), t0);
        b.negotiated(negotiated(4002, None), t0);
        let from: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut heard = Vec::new();
        for n in 0..10u32 {
            let now = t0 + MS * (20 * n);
            let (bytes, _) = a.send(&tone()).unwrap();
            let bytes = bytes.to_vec();
            b.receive_rtp(&bytes, from, now);
            heard.push(b.receive_frame(Rate::Narrow8k, now));
        }
        assert!(heard[0].is_none(), "buffering");
        let frame = heard[9].as_ref().unwrap();
        for (x, y) in frame.samples().iter().zip(tone().samples()) {
            assert!((i32::from(*x) - i32::from(*y)).abs() < 300);
        }
    }

    #[test]
    fn a_digit_goes_out_as_events_pausing_audio_and_arrives_once_suppressing_audio() {
        let t0 = Instant::now();
        let mut a = session(false, t0);
        let mut b = session(false, t0);
        a.negotiated(negotiated(4000, Some(101)), t0);
        b.negotiated(negotiated(4002, Some(101)), t0);
        assert!(a.sends_rfc4733());
        let from: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        assert!(a.queue_dtmf('#', 60));
        let mut pts = Vec::new();
        let mut digits = Vec::new();
        for n in 0..12u32 {
            let now = t0 + MS * (20 * n);
            let bytes = a.send(&tone()).unwrap().0.to_vec();
            pts.push(rtp::parse(&bytes).unwrap().header.payload_type);
            b.receive_rtp(&bytes, from, now);
            b.receive_frame(Rate::Narrow8k, now);
            digits.extend(b.take_events());
        }
        // 60 ms: 3 event packets and 3 ends, then audio again.
        assert_eq!(pts, [101, 101, 101, 101, 101, 101, 0, 0, 0, 0, 0, 0]);
        assert_eq!(
            digits,
            [MediaEvent::Dtmf {
                digit: '#',
                duration_ms: 60
            }]
        );
        // Without telephone-event the caller plays digits in band.
        let mut c = session(false, t0);
        c.negotiated(negotiated(4000, None), t0);
        assert!(!c.queue_dtmf('1', 100));
        assert!(!c.sends_rfc4733());
    }

    #[test]
    fn rtp_timeout_fires_once_and_not_before_answer_or_while_held() {
        let t0 = Instant::now();
        let mut s = session(false, t0);
        s.negotiated(negotiated(4000, None), t0);
        s.poll(t0 + Duration::from_secs(3), false, || 0);
        assert_eq!(s.take_events().count(), 0, "not answered: no timeout");
        let mut held = negotiated(4000, None);
        held.direction = Direction::RecvOnly;
        s.negotiated(held, t0);
        s.poll(t0 + Duration::from_secs(5), true, || 0);
        assert_eq!(s.take_events().count(), 0, "held: no timeout");
        s.negotiated(negotiated(4000, None), t0 + Duration::from_secs(5));
        s.poll(t0 + Duration::from_secs(6), true, || 0);
        assert_eq!(s.take_events().count(), 0, "the clock restarted at unhold");
        s.receive_rtp(
            &packet(0, 1, 0, 9, &[0xFF; 160]),
            "127.0.0.1:4000".parse().unwrap(),
            t0 + Duration::from_secs(6),
        );
        s.poll(t0 + Duration::from_millis(7900), true, || 0);
        assert_eq!(s.take_events().count(), 0);
        s.poll(t0 + Duration::from_secs(8), true, || 0);
        s.poll(t0 + Duration::from_secs(9), true, || 0);
        let events: Vec<_> = s.take_events().collect();
        assert_eq!(events, [MediaEvent::Timeout]);
    }
}
