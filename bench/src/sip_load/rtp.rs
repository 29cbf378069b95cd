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
    /// Packets that arrived more than the late threshold behind the stream's schedule.
    pub late: u64,
    /// The largest lateness seen.
    pub max_late: Duration,
    /// Datagrams that were not RTP.
    pub malformed: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.packets += other.packets;
        self.lost += other.lost;
        self.out_of_order += other.out_of_order;
        self.late += other.late;
        self.max_late = self.max_late.max(other.max_late);
        self.malformed += other.malformed;
    }
}

/// The receiving side of one call.
///
/// Lateness: a packet with RTP timestamp `ts` is due `(ts - ts0) / 8000` s after the
/// stream's reference point; the reference is the earliest any packet has been relative to
/// its timestamp, so a packet is late by how much later than that it came. wari stamps its
/// packets from its media clock, so a packet held back (a late tick, a queue, a busy
/// thread on either side) shows here.
#[derive(Debug, Clone)]
pub struct Receiver {
    late_after: Duration,
    first: Option<(Instant, u32)>,
    /// The smallest (arrival - due) seen, in microseconds relative to `first`.
    earliest_us: i64,
    /// The highest sequence number seen, extended past wrap-around.
    highest: Option<u64>,
    counts: Counts,
}

impl Receiver {
    pub fn new(late_after: Duration) -> Receiver {
        Receiver {
            late_after,
            first: None,
            earliest_us: 0,
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
        self.counts.packets += 1;
        self.sequence(packet.sequence_number());
        let (start, ts0) = *self.first.get_or_insert((now, packet.timestamp()));
        let due_us = i64::from(packet.timestamp().wrapping_sub(ts0) as i32) * 1_000_000 / 8000;
        let arrived_us = match now.checked_duration_since(start) {
            Some(after) => after.as_micros() as i64,
            None => -(start.saturating_duration_since(now).as_micros() as i64),
        };
        let offset = arrived_us - due_us;
        if offset < self.earliest_us {
            self.earliest_us = offset;
        }
        let late = Duration::from_micros((offset - self.earliest_us) as u64);
        if late > self.late_after {
            self.counts.late += 1;
        }
        self.counts.max_late = self.counts.max_late.max(late);
    }

    fn sequence(&mut self, sequence: u16) {
        let Some(highest) = self.highest else {
            self.highest = Some(u64::from(sequence) + (1 << 16));
            return;
        };
        let step = sequence.wrapping_sub(highest as u16);
        if step == 0 || step >= 0x8000 {
            self.counts.out_of_order += 1;
            // A late packet fills a gap counted as lost.
            if step != 0 {
                self.counts.lost = self.counts.lost.saturating_sub(1);
            }
            return;
        }
        self.counts.lost += u64::from(step) - 1;
        self.highest = Some(highest + u64::from(step));
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

    fn packet(sequence: u16, timestamp: u32) -> Vec<u8> {
        let mut out = Vec::new();
        RtpPacketBuilder::<&[u8], &[u8]>::new()
            .payload_type(0)
            .sequence_number(sequence)
            .timestamp(timestamp)
            .ssrc(9)
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
        receiver.receive(&packet(65_534, 1000), at(0));
        receiver.receive(&packet(65_535, 1160), at(20));
        receiver.receive(&packet(1, 1480), at(60));
        // 30 ms behind its schedule: late.
        receiver.receive(&packet(2, 1640), at(110));
        // 15 ms behind: not late.
        receiver.receive(&packet(3, 1800), at(115));
        receiver.receive(&b"junk"[..], at(116));
        let counts = receiver.take();
        assert_eq!(counts.packets, 5);
        assert_eq!(counts.lost, 1);
        assert_eq!(counts.late, 1);
        assert_eq!(counts.max_late, Duration::from_millis(30));
        assert_eq!(counts.malformed, 1);
        // The missing packet arrives after all: no longer lost, but out of order.
        receiver.receive(&packet(0, 1320), at(117));
        receiver.receive(&packet(4, 1960), at(120));
        let counts = receiver.take();
        assert_eq!(counts.packets, 2);
        assert_eq!(counts.out_of_order, 1);
        assert_eq!(counts.lost, 0);
        // An earlier-than-ever packet moves the reference: later ones are measured from it.
        let mut receiver = Receiver::new(Duration::from_millis(20));
        receiver.receive(&packet(10, 0), at(50));
        receiver.receive(&packet(11, 160), at(40));
        receiver.receive(&packet(12, 320), at(85));
        let counts = receiver.take();
        assert_eq!(counts.late, 1);
        assert_eq!(counts.max_late, Duration::from_millis(25));
    }
}
