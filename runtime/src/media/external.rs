//! External media: the [`Edge`] through which a media leg talks to a far end outside
//! wari, and [`RtpStream`], the socket-free half of an RTP edge (frames to packets through
//! the [`Packetizer`], packets back to frames through a small bounded queue).
//!
//! The engine calls an edge once per 20 ms tick and must never wait on it: `send` gets
//! what the leg wrote (its far end hears it), `receive` gives what the leg reads. An edge
//! does no socket I/O in these calls: its datagrams cross bounded queues to and from an
//! I/O thread ([`super::udp_io`]).
//!
//! Payload types: `ulaw` 0 and `alaw` 8 (RFC 3551), `slin16` 118 (as Asterisk), and `slin`
//! (8 kHz, big-endian 16-bit) [`PT_SLIN`] 117, a dynamic type wari picks since nothing is
//! negotiated and RFC 3551 fixes none for 8 kHz L16 mono.

use std::collections::VecDeque;

use super::Result;
use super::codec::Codec;
use super::frame::{AudioFrame, Rate, Resampler};
use super::rtp::{self, Packetizer};
use super::rtp_stats::{RtpCounter, RtpStats};

/// wari's payload type for 8 kHz `slin` over external media.
pub(crate) const PT_SLIN: u8 = 117;

/// Most received audio kept waiting to be read: 120 ms. Older audio is dropped so a far
/// end that sends too fast (or in bursts) cannot add delay without bound.
const MAX_QUEUED_MS: usize = 120;

/// The far end of a media leg outside wari (external media now, SIP later).
pub trait Edge: Send {
    /// Sends what the leg wrote this tick.
    fn send(&mut self, frame: &AudioFrame);
    /// What the leg reads this tick, at `rate`; `None` when nothing arrived (the leg then
    /// reads silence).
    fn receive(&mut self, rate: Rate) -> Option<AudioFrame>;
}

/// A codec as carried over external-media RTP, with its payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpFormat {
    pub codec: Codec,
    pub payload_type: u8,
}

impl RtpFormat {
    /// The format for an Asterisk codec name (`ulaw`, `alaw`, `slin`, `slin16`, any
    /// case); `None` for anything wari cannot packetise.
    pub fn from_name(name: &str) -> Option<RtpFormat> {
        let name = name.trim();
        let codec = FORMAT_NAMES
            .into_iter()
            .find(|n| n.eq_ignore_ascii_case(name))
            .and_then(Codec::from_name)?;
        let payload_type = rtp::payload_type(codec).unwrap_or(PT_SLIN);
        Some(RtpFormat {
            codec,
            payload_type,
        })
    }

    /// The codec's name (`ulaw`, ...).
    pub fn name(self) -> &'static str {
        self.codec.name()
    }
}

/// Where an RTP stream starts: its source id, first sequence number and first timestamp
/// (random for a real stream, RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StreamStart {
    pub ssrc: u32,
    pub sequence: u16,
    pub timestamp: u32,
}

/// What an [`RtpStream`] did with a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Received {
    /// Its audio was queued.
    Queued,
    /// Its payload type is not the stream's: ignored.
    OtherPayloadType(u8),
}

/// One external-media RTP stream, both directions, without the socket.
#[derive(Debug)]
pub(crate) struct RtpStream {
    format: RtpFormat,
    packetizer: Packetizer,
    /// Received samples at the codec's rate, oldest first.
    queue: VecDeque<i16>,
    /// Scratch for decoding one payload.
    decoded: Vec<i16>,
    /// Codec rate to the reader's rate, made on first need.
    resampler: Option<Resampler>,
    counter: RtpCounter,
}

impl RtpStream {
    pub(crate) fn new(format: RtpFormat, start: StreamStart) -> RtpStream {
        RtpStream {
            format,
            packetizer: Packetizer::with_payload_type(
                format.codec,
                format.payload_type,
                start.ssrc,
                start.sequence,
                start.timestamp,
            ),
            queue: VecDeque::new(),
            decoded: Vec::new(),
            resampler: None,
            counter: RtpCounter::new(start.ssrc),
        }
    }

    /// What the stream has carried so far, readable from any thread.
    pub(crate) fn stats(&self) -> std::sync::Arc<RtpStats> {
        self.counter.stats()
    }

    /// The packet carrying `frame` (valid until the next call): sequence +1 and timestamp
    /// + one frame of samples at the codec's rate per packet, marker on the first.
    pub(crate) fn packet(&mut self, frame: &AudioFrame) -> &[u8] {
        self.packetizer.packetize(frame)
    }

    /// Takes a received packet: its audio joins the queue when its payload type is the
    /// stream's. Malformed packets are errors (the caller logs and drops them).
    pub(crate) fn push_packet(&mut self, bytes: &[u8]) -> Result<Received> {
        let packet = rtp::parse(bytes)?;
        if packet.header.payload_type != self.format.payload_type {
            return Ok(Received::OtherPayloadType(packet.header.payload_type));
        }
        self.counter.received(
            packet.header.ssrc,
            packet.header.sequence,
            packet.payload.len(),
        );
        self.decoded.clear();
        rtp::decode_payload(self.format.codec, packet.payload, &mut self.decoded);
        self.queue.extend(self.decoded.iter().copied());
        let limit = self.format.codec.rate().samples_per_ms() * MAX_QUEUED_MS;
        if self.queue.len() > limit {
            let excess = self.queue.len() - limit;
            self.queue.drain(..excess);
        }
        Ok(Received::Queued)
    }

    /// Received audio queued, in milliseconds.
    #[cfg(test)]
    fn queued_ms(&self) -> usize {
        self.queue.len() / self.format.codec.rate().samples_per_ms()
    }

    /// The next 20 ms of received audio at `rate`, once a whole frame has arrived.
    pub(crate) fn next_frame(&mut self, rate: Rate) -> Option<AudioFrame> {
        let codec_rate = self.format.codec.rate();
        let needed = codec_rate.samples_per_frame();
        if self.queue.len() < needed {
            return None;
        }
        let mut frame = AudioFrame::silence(codec_rate);
        for (slot, sample) in frame
            .samples_mut()
            .iter_mut()
            .zip(self.queue.drain(..needed))
        {
            *slot = sample;
        }
        if rate == codec_rate {
            return Some(frame);
        }
        let resampler = self
            .resampler
            .get_or_insert_with(|| Resampler::new(codec_rate, rate));
        Some(resampler.frame(&frame))
    }
}

/// The format names [`RtpFormat::from_name`] accepts (any case), also for error messages.
pub(crate) const FORMAT_NAMES: [&str; 4] = ["ulaw", "alaw", "slin", "slin16"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::codec::linear_to_ulaw;

    const START: StreamStart = StreamStart {
        ssrc: 0x1234_5678,
        sequence: 100,
        timestamp: 5000,
    };

    fn tone(rate: Rate, n: usize, hz: f64) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate.hz());
                (6000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn formats_and_payload_types() {
        let pt = |name| RtpFormat::from_name(name).map(|f| f.payload_type);
        assert_eq!(pt("ulaw"), Some(0));
        assert_eq!(pt("ALAW"), Some(8));
        assert_eq!(pt("slin16"), Some(118));
        assert_eq!(pt("slin"), Some(PT_SLIN));
        assert_eq!(pt("opus"), None);
        assert_eq!(pt("pcmu"), None);
        assert_eq!(pt(""), None);
    }

    #[test]
    fn frames_become_consecutive_packets() {
        let format = RtpFormat::from_name("ulaw").expect("ulaw");
        let mut stream = RtpStream::new(format, START);
        let frame = AudioFrame::from_samples(Rate::Narrow8k, &[500; 160]).expect("frame");
        let mut headers = Vec::new();
        for _ in 0..3 {
            let packet = stream.packet(&frame).to_vec();
            let parsed = rtp::parse(&packet).expect("RTP");
            assert_eq!(parsed.payload.len(), 160);
            assert!(parsed.payload.iter().all(|&b| b == linear_to_ulaw(500)));
            headers.push(parsed.header);
        }
        let steps: Vec<_> = headers
            .iter()
            .map(|h| (h.marker, h.payload_type, h.sequence, h.timestamp, h.ssrc))
            .collect();
        assert_eq!(
            steps,
            [
                (true, 0, 100, 5000, 0x1234_5678),
                (false, 0, 101, 5160, 0x1234_5678),
                (false, 0, 102, 5320, 0x1234_5678),
            ]
        );
    }

    #[test]
    fn slin16_packets_carry_320_big_endian_samples_from_8k_frames() {
        let format = RtpFormat::from_name("slin16").expect("slin16");
        let mut stream = RtpStream::new(format, START);
        let frame = AudioFrame::silence(Rate::Narrow8k);
        let first = rtp::parse(stream.packet(&frame)).expect("RTP").header;
        let packet = stream.packet(&frame).to_vec();
        let second = rtp::parse(&packet).expect("RTP");
        assert_eq!(second.payload.len(), 640);
        assert_eq!(second.header.payload_type, 118);
        assert_eq!(second.header.timestamp - first.timestamp, 320);
    }

    #[test]
    fn received_audio_is_read_frame_by_frame_and_the_queue_is_bounded() {
        let format = RtpFormat::from_name("ulaw").expect("ulaw");
        let mut sender = RtpStream::new(format, START);
        let mut receiver = RtpStream::new(format, START);
        assert_eq!(receiver.next_frame(Rate::Narrow8k), None);
        let samples = tone(Rate::Narrow8k, 160, 1000.0);
        let frame = AudioFrame::from_samples(Rate::Narrow8k, &samples).expect("frame");
        let packet = sender.packet(&frame).to_vec();
        assert_eq!(
            receiver.push_packet(&packet).expect("valid"),
            Received::Queued
        );
        let heard = receiver.next_frame(Rate::Narrow8k).expect("a frame");
        // G.711 is lossy: each sample comes back within its quantisation step.
        for (a, b) in heard.samples().iter().zip(&samples) {
            assert!((i32::from(*a) - i32::from(*b)).abs() < 300, "{a} vs {b}");
        }
        assert_eq!(receiver.next_frame(Rate::Narrow8k), None);
        for _ in 0..20 {
            let packet = sender.packet(&frame).to_vec();
            receiver.push_packet(&packet).expect("valid");
        }
        assert_eq!(receiver.queued_ms(), MAX_QUEUED_MS);
    }

    #[test]
    fn half_frames_are_joined_and_other_payload_types_ignored() {
        let format = RtpFormat::from_name("slin").expect("slin");
        let mut receiver = RtpStream::new(format, START);
        let mut half = Vec::new();
        rtp::RtpHeader {
            marker: false,
            payload_type: PT_SLIN,
            sequence: 1,
            timestamp: 0,
            ssrc: 9,
        }
        .write(&mut half);
        half.extend(std::iter::repeat_n([0x01u8, 0x02], 80).flatten());
        receiver.push_packet(&half).expect("valid");
        assert_eq!(receiver.next_frame(Rate::Narrow8k), None);
        receiver.push_packet(&half).expect("valid");
        let frame = receiver.next_frame(Rate::Narrow8k).expect("a frame");
        assert!(frame.samples().iter().all(|&s| s == 0x0102));
        let mut other = half.clone();
        other[1] = 0;
        assert_eq!(
            receiver.push_packet(&other).expect("valid"),
            Received::OtherPayloadType(0)
        );
        assert!(receiver.push_packet(&[0x80, 0]).is_err());
    }

    #[test]
    fn wideband_audio_is_read_at_the_leg_rate() {
        let format = RtpFormat::from_name("slin16").expect("slin16");
        let mut sender = RtpStream::new(format, START);
        let mut receiver = RtpStream::new(format, START);
        let samples = tone(Rate::Wide16k, 320 * 5, 600.0);
        let mut heard = Vec::new();
        for chunk in samples.chunks(320) {
            let frame = AudioFrame::from_samples(Rate::Wide16k, chunk).expect("frame");
            let packet = sender.packet(&frame).to_vec();
            receiver.push_packet(&packet).expect("valid");
            let frame = receiver.next_frame(Rate::Narrow8k).expect("a frame");
            assert_eq!(frame.rate(), Rate::Narrow8k);
            heard.extend_from_slice(frame.samples());
        }
        let at = |hz| crate::media::detect::goertzel_power(&heard[160..], hz, 8000);
        assert!(at(600.0) > 100.0 * at(1400.0));
    }
}
