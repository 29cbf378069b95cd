//! RTP for the load generator (sans-IO, time as an input): the tone every call sends
//! (G.711 µ-law, 160 samples every 20 ms) and what a call counts of the stream wari sends
//! back: packets, sequence gaps (loss), and arrivals later than the stream's own clock
//! allows.

use std::time::{Duration, Instant};

use rtp_types::{RtpPacket, RtpPacketBuilder};

/// Samples per 20 ms packet at 8 kHz.
pub const SAMPLES: u32 = 160;
/// Packets per second of one stream.
pub const PACKETS_PER_SECOND: u32 = 50;

/// G.711 µ-law of one 16-bit linear sample.
pub fn ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut value = i32::from(sample);
    let sign = if value < 0 {
        value = -value;
        0x80
    } else {
        0
    };
    let value = value.min(CLIP) + BIAS;
    // The highest set bit is 7..=14: the segment is its distance above bit 7.
    let exponent = 31 - value.leading_zeros() as i32 - 7;
    let mantissa = (value >> (exponent + 3)) & 0x0F;
    !((sign | (exponent << 4) | mantissa) as u8)
}

/// One 20 ms frame of a 400 Hz tone at a third of full scale: 400 Hz repeats every 20
/// samples, so every frame is the same.
pub fn tone_frame() -> Vec<u8> {
    (0..SAMPLES)
        .map(|n| {
            let phase = 2.0 * std::f64::consts::PI * 400.0 * f64::from(n) / 8000.0;
            ulaw((phase.sin() * 10_000.0) as i16)
        })
        .collect()
}

/// The stream a call sends: its SSRC, next sequence number and timestamp.
#[derive(Debug, Clone)]
pub struct Sender {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    packet: Vec<u8>,
}

impl Sender {
    pub fn new(ssrc: u32) -> Sender {
        Sender {
            ssrc,
            sequence: (ssrc as u16).wrapping_mul(7),
            timestamp: ssrc.wrapping_mul(13),
            packet: Vec::with_capacity(12 + SAMPLES as usize),
        }
    }

    /// The next packet carrying `payload` (PCMU, payload type 0).
    pub fn next(&mut self, payload: &[u8]) -> &[u8] {
        self.packet.clear();
        let built = RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(0)
            .sequence_number(self.sequence)
            .timestamp(self.timestamp)
            .ssrc(self.ssrc)
            .marker_bit(false)
            .payload(payload)
            .write_into_vec(&mut self.packet);
        if built.is_err() {
            self.packet.clear();
        }
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(SAMPLES);
        &self.packet
    }
}

/// What a call counted of the stream it received, since its last [`Receiver::take`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub packets: u64,
    /// Sequence numbers skipped over (never arrived, or not yet when a later one did).
    pub lost: u64,
    /// Packets with a sequence number at or below the highest seen.
    pub out_of_order: u64,
    /// Packets that arrived more than the late threshold after their predecessor's
    /// spacing (by RTP timestamp) said.
    pub late: u64,
    /// The largest lateness seen.
    pub max_late: Duration,
    /// Datagrams that were not RTP.
    pub malformed: u64,
    /// Times the stream started afresh (new SSRC, or a sequence jump).
    pub restarts: u64,
    /// Of those, new SSRCs.
    pub new_sources: u64,
    /// RTCP that arrived on this RTP socket (payload types 72-76 read as RTP, RFC 5761):
    /// wari sends each call's RTCP to its RTP port + 1, which may be another call's RTP
    /// socket since the generator's ports are the kernel's ephemeral ones. Not media.
    pub rtcp: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.packets += other.packets;
        self.lost += other.lost;
        self.out_of_order += other.out_of_order;
        self.late += other.late;
        self.max_late = self.max_late.max(other.max_late);
        self.malformed += other.malformed;
        self.restarts += other.restarts;
        self.new_sources += other.new_sources;
        self.rtcp += other.rtcp;
    }
}

/// The receiving side of one call.
///
/// Lateness (RFC 3550's transit difference): a packet is late by how much more time passed
/// since the previous packet than their RTP timestamps say (`(ts - ts') / 8000` s). wari
/// stamps its packets from its media clock, so a packet held back (a late tick, a queue, a
/// busy thread on either side) shows here once, and a stream that goes on at its pace after
/// a hold-up is on time again. A new SSRC, or a sequence jump of more than
/// [`MAX_DROPOUT`] packets forward or [`MAX_MISORDER`] back, starts the stream afresh
/// (counted in `restarts`, not as loss).
#[derive(Debug, Clone)]
pub struct Receiver {
    late_after: Duration,
    ssrc: Option<u32>,
    /// The previous packet's arrival and timestamp.
    previous: Option<(Instant, u32)>,
    /// The highest sequence number seen, extended past wrap-around.
    highest: Option<u64>,
    counts: Counts,
}

/// Sequence jumps larger than these start a new stream (RFC 3550, appendix A.1).
pub const MAX_DROPOUT: u16 = 3000;
pub const MAX_MISORDER: u16 = 100;

impl Receiver {
    pub fn new(late_after: Duration) -> Receiver {
        Receiver {
            late_after,
            ssrc: None,
            previous: None,
            highest: None,
            counts: Counts::default(),
        }
    }

    /// A datagram arrived at `now`.
    pub fn receive(&mut self, datagram: &[u8], now: Instant) {
        let Ok(packet) = RtpPacket::parse(datagram) else {
            self.counts.malformed += 1;
            return;
        };
        if (72..=76).contains(&packet.payload_type()) {
            self.counts.rtcp += 1;
            return;
        }
        self.counts.packets += 1;
        if self.ssrc != Some(packet.ssrc()) {
            if self.ssrc.is_some() {
                self.counts.restarts += 1;
                self.counts.new_sources += 1;
            }
            self.ssrc = Some(packet.ssrc());
            self.previous = None;
            self.highest = None;
        }
        if !self.sequence(packet.sequence_number()) {
            return;
        }
        let timestamp = packet.timestamp();
        if let Some((then, previous)) = self.previous.replace((now, timestamp)) {
            let spacing_us = i64::from(timestamp.wrapping_sub(previous) as i32) * 1_000_000 / 8000;
            let passed_us = now.saturating_duration_since(then).as_micros() as i64;
            let late = Duration::from_micros((passed_us - spacing_us).max(0) as u64);
            if late > self.late_after {
                self.counts.late += 1;
            }
            self.counts.max_late = self.counts.max_late.max(late);
        }
    }

    /// Counts a sequence number; false for a packet older than the highest seen (its
    /// timing says nothing about the stream's pace).
    fn sequence(&mut self, sequence: u16) -> bool {
        let Some(highest) = self.highest else {
            self.highest = Some(u64::from(sequence) + (1 << 16));
            return true;
        };
        let step = sequence.wrapping_sub(highest as u16);
        if step == 0 || step >= 0x8000 {
            if step != 0 && step.wrapping_neg() > MAX_MISORDER {
                self.counts.restarts += 1;
                self.highest = Some(u64::from(sequence) + (1 << 16));
                self.previous = None;
                return true;
            }
            self.counts.out_of_order += 1;
            // A late packet fills a gap counted as lost.
            if step != 0 {
                self.counts.lost = self.counts.lost.saturating_sub(1);
            }
            return false;
        }
        if step > MAX_DROPOUT {
            self.counts.restarts += 1;
            self.highest = Some(u64::from(sequence) + (1 << 16));
            self.previous = None;
            return true;
        }
        self.counts.lost += u64::from(step) - 1;
        self.highest = Some(highest + u64::from(step));
        true
    }

    /// The counts since the last call, and a fresh start for the next window (the
    /// stream's schedule and sequence are kept).
    pub fn take(&mut self) -> Counts {
        std::mem::take(&mut self.counts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(sequence: u16, timestamp: u32, ssrc: u32) -> Vec<u8> {
        let mut out = Vec::new();
        RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(0)
            .sequence_number(sequence)
            .timestamp(timestamp)
            .ssrc(ssrc)
            .payload(&[0xFF; 160][..])
            .write_into_vec(&mut out)
            .expect("builds");
        out
    }

    #[test]
    fn ulaw_matches_g711() {
        assert_eq!(ulaw(0), 0xFF);
        assert_eq!(ulaw(-1), 0x7F);
        assert_eq!(ulaw(i16::MAX), 0x80);
        assert_eq!(ulaw(i16::MIN), 0x00);
        assert_eq!(ulaw(1000), 0xCE);
        assert_eq!(ulaw(-1000), 0x4E);
        let frame = tone_frame();
        assert_eq!(frame.len(), 160);
        assert_eq!(frame[..20], frame[20..40]);
    }

    #[test]
    fn sender_steps_sequence_and_timestamp() {
        let mut sender = Sender::new(5);
        let payload = tone_frame();
        let first = RtpPacket::parse(sender.next(&payload))
            .map(|p| {
                (
                    p.sequence_number(),
                    p.timestamp(),
                    p.ssrc(),
                    p.payload().len(),
                )
            })
            .expect("rtp");
        let second = RtpPacket::parse(sender.next(&payload))
            .map(|p| (p.sequence_number(), p.timestamp()))
            .expect("rtp");
        assert_eq!(first.2, 5);
        assert_eq!(first.3, 160);
        assert_eq!(second.0, first.0.wrapping_add(1));
        assert_eq!(second.1, first.1.wrapping_add(160));
    }

    #[test]
    fn counts_gaps_reordering_and_lateness() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut receiver = Receiver::new(Duration::from_millis(20));
        // On time across a sequence wrap, one packet missing (65535 -> 1).
        receiver.receive(&packet(65_534, 1000, 9), at(0));
        receiver.receive(&packet(65_535, 1160, 9), at(20));
        receiver.receive(&packet(1, 1480, 9), at(60));
        // 30 ms later than its spacing: late.
        receiver.receive(&packet(2, 1640, 9), at(110));
        // Back to the stream's pace after the hold-up: on time.
        receiver.receive(&packet(3, 1800, 9), at(130));
        // 15 ms late: not over the threshold.
        receiver.receive(&packet(4, 1960, 9), at(165));
        receiver.receive(&b"junk"[..], at(166));
        let counts = receiver.take();
        assert_eq!(counts.packets, 6);
        assert_eq!(counts.lost, 1);
        assert_eq!(counts.late, 1);
        assert_eq!(counts.max_late, Duration::from_millis(30));
        assert_eq!(counts.malformed, 1);
        // The missing packet arrives after all: no longer lost, but out of order, and its
        // timing is not the stream's.
        receiver.receive(&packet(0, 1320, 9), at(167));
        receiver.receive(&packet(5, 2120, 9), at(185));
        let counts = receiver.take();
        assert_eq!(counts.packets, 2);
        assert_eq!(counts.out_of_order, 1);
        assert_eq!((counts.lost, counts.late), (0, 0));
    }

    #[test]
    fn a_new_source_or_a_jump_starts_afresh() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut receiver = Receiver::new(Duration::from_millis(20));
        receiver.receive(&packet(100, 0, 9), at(0));
        receiver.receive(&packet(101, 160, 9), at(20));
        // A new SSRC with unrelated numbers, long after.
        receiver.receive(&packet(40_000, 7_000_000, 10), at(500));
        receiver.receive(&packet(40_001, 7_000_160, 10), at(520));
        // A forward jump beyond MAX_DROPOUT, and one back beyond MAX_MISORDER.
        receiver.receive(&packet(50_000, 7_000_320, 10), at(540));
        receiver.receive(&packet(49_000, 7_000_480, 10), at(560));
        receiver.receive(&packet(49_001, 7_000_640, 10), at(580));
        let counts = receiver.take();
        assert_eq!((counts.restarts, counts.new_sources), (3, 1));
        assert_eq!((counts.lost, counts.out_of_order, counts.late), (0, 0, 0));
        assert_eq!(counts.packets, 7);
    }

    #[test]
    fn rtcp_on_the_socket_is_not_a_new_stream() {
        let start = Instant::now();
        let mut receiver = Receiver::new(Duration::from_millis(20));
        receiver.receive(&packet(100, 0, 9), start);
        // A sender report (RFC 3550 6.4.1: V=2, no report blocks, PT 200, length 6,
        // SSRC, NTP and RTP timestamps, counts) another call's RTCP port sent here.
        let mut report = vec![0x80, 200, 0, 6];
        report.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        report.extend_from_slice(&[0; 20]);
        receiver.receive(&report, start + Duration::from_millis(10));
        receiver.receive(&packet(101, 160, 9), start + Duration::from_millis(20));
        let counts = receiver.take();
        assert_eq!((counts.packets, counts.rtcp), (2, 1));
        assert_eq!(
            (counts.restarts, counts.new_sources, counts.lost),
            (0, 0, 0)
        );
    }
}
