//! DTMF on a SIP call's RTP: RFC 4733 `telephone-event` packets both ways, and in-band
//! detection of keys in received audio (`dtmf_mode=inband`, or `auto` without a
//! negotiated `telephone-event`).
//!
//! - [`Receiver`]: an event (one RTP timestamp) is reported once, when its end packet
//!   arrives; the end's retransmissions (same timestamp) are dropped; an event whose end
//!   never arrives is reported [`END_TIMEOUT`] after its last packet. While an event plays
//!   the caller suppresses the audio.
//! - [`Sender`]: a digit becomes one event packet per 20 ms tick for its duration (marker on
//!   the first, every packet with the event's start timestamp and the duration so far),
//!   then the end packet three times; the caller sends no audio meanwhile.
//! - [`InbandDetector`]: Goertzel detection ([`crate::media::detect`]) per 20 ms frame; a key
//!   heard in two frames or more is reported once when it stops, with how long it lasted.
//!
//! Sans-IO: times and timestamps are inputs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::media::detect::detect_dtmf;
use crate::media::frame::AudioFrame;

/// An event whose end packet never came is reported this long after its last packet.
pub(crate) const END_TIMEOUT: Duration = Duration::from_millis(800);
/// Samples per 20 ms packet at 8 kHz.
const SAMPLES_PER_PACKET: u32 = 160;
/// Shortest and longest digit sent, in milliseconds (RFC 4733's duration field holds at
/// most 65535 samples: 8.19 s at 8 kHz).
const SEND_MS: (u32, u32) = (40, 8000);
/// Digits waiting to be sent at most; more are refused.
const MAX_QUEUED: usize = 32;
/// How many times the end packet is sent.
const END_COPIES: u8 = 3;
/// The volume field of events we send (-10 dBm0, as phones commonly send).
const VOLUME: u8 = 10;

/// The key an RFC 4733 event code stands for (0-15; 16, flash, and others are no key).
pub(crate) fn digit_of(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The RFC 4733 event code of a key (`0-9 * # A-D`, any case).
pub(crate) fn event_of(digit: char) -> Option<u8> {
    match digit.to_ascii_uppercase() {
        d @ '0'..='9' => Some(d as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        d @ 'A'..='D' => Some(d as u8 - b'A' + 12),
        _ => None,
    }
}

/// A digit received: the key and how long it was held, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Digit {
    pub digit: char,
    pub duration_ms: u32,
}

#[derive(Debug, Clone, Copy)]
struct Playing {
    timestamp: u32,
    event: u8,
    /// Its duration so far, in samples.
    duration: u16,
    last_packet: Instant,
}

/// Received RFC 4733 events of one stream.
#[derive(Debug, Default)]
pub(crate) struct Receiver {
    playing: Option<Playing>,
    /// The timestamp of the last event reported: its further packets are copies.
    reported: Option<u32>,
}

impl Receiver {
    /// Takes the payload of a `telephone-event` packet with RTP timestamp `timestamp`;
    /// returns the digit an event that ended (this one, or one before it whose end never
    /// came) stands for.
    pub(crate) fn receive(
        &mut self,
        payload: &[u8],
        timestamp: u32,
        now: Instant,
    ) -> Option<Digit> {
        let &[event, flags, high, low, ..] = payload else {
            return None;
        };
        if self.reported == Some(timestamp) {
            return None;
        }
        let end = flags & 0x80 != 0;
        let duration = u16::from_be_bytes([high, low]);
        let mut ended = None;
        if let Some(playing) = self.playing
            && playing.timestamp != timestamp
        {
            // A new event while another one plays: the other lost its end.
            ended = self.finish();
        }
        let playing = self.playing.get_or_insert(Playing {
            timestamp,
            event,
            duration,
            last_packet: now,
        });
        playing.duration = playing.duration.max(duration);
        playing.last_packet = now;
        if end {
            let digit = self.finish();
            return ended.or(digit);
        }
        ended
    }

    /// The digit of an event whose last packet is older than [`END_TIMEOUT`] at `now`.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Digit> {
        let playing = self.playing?;
        (now.saturating_duration_since(playing.last_packet) >= END_TIMEOUT)
            .then(|| self.finish())
            .flatten()
    }

    /// Whether an event is playing (its audio is suppressed).
    pub(crate) fn playing(&self) -> bool {
        self.playing.is_some()
    }

    fn finish(&mut self) -> Option<Digit> {
        let playing = self.playing.take()?;
        self.reported = Some(playing.timestamp);
        Some(Digit {
            digit: digit_of(playing.event)?,
            duration_ms: u32::from(playing.duration) / 8,
        })
    }
}

/// One event packet to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventPacket {
    pub payload: [u8; 4],
    pub marker: bool,
    /// The RTP timestamp: the event's start.
    pub timestamp: u32,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    timestamp: u32,
    /// Total duration in samples.
    total: u32,
    /// Samples covered by the packets sent so far.
    sent: u32,
    ends_sent: u8,
}

/// Digits to send as RFC 4733 events, one packet per tick.
#[derive(Debug, Default)]
pub(crate) struct Sender {
    queue: VecDeque<(u8, u32)>,
    sending: Option<Sending>,
}

impl Sender {
    /// Queues `digit` for `duration_ms` (clamped to 40 ms .. 8 s); false for no key or a
    /// full queue.
    pub(crate) fn queue(&mut self, digit: char, duration_ms: u32) -> bool {
        let Some(event) = event_of(digit) else {
            return false;
        };
        if self.queue.len() >= MAX_QUEUED {
            return false;
        }
        let ms = duration_ms.clamp(SEND_MS.0, SEND_MS.1);
        self.queue.push_back((event, ms));
        true
    }

    /// Whether a digit is being sent or waits (audio is paused meanwhile).
    pub(crate) fn busy(&self) -> bool {
        self.sending.is_some() || !self.queue.is_empty()
    }

    /// The packet for this tick, whose audio would start at RTP timestamp `now_timestamp`.
    pub(crate) fn next_packet(&mut self, now_timestamp: u32) -> Option<EventPacket> {
        let (mut sending, marker) = match self.sending {
            Some(sending) => (sending, false),
            None => {
                let (event, ms) = self.queue.pop_front()?;
                let total = (ms * 8).div_ceil(SAMPLES_PER_PACKET) * SAMPLES_PER_PACKET;
                let sending = Sending {
                    event,
                    timestamp: now_timestamp,
                    total,
                    sent: 0,
                    ends_sent: 0,
                };
                (sending, true)
            }
        };
        let end = sending.sent >= sending.total;
        if end {
            sending.ends_sent += 1;
        } else {
            sending.sent += SAMPLES_PER_PACKET;
        }
        let duration = sending.sent.min(u32::from(u16::MAX)) as u16;
        let [high, low] = duration.to_be_bytes();
        let flags = if end { 0x80 | VOLUME } else { VOLUME };
        let packet = EventPacket {
            payload: [sending.event, flags, high, low],
            marker,
            timestamp: sending.timestamp,
        };
        self.sending = (sending.ends_sent < END_COPIES).then_some(sending);
        Some(packet)
    }
}

/// Keys heard in received audio.
#[derive(Debug, Default)]
pub(crate) struct InbandDetector {
    key: Option<char>,
    frames: u32,
}

impl InbandDetector {
    /// Feeds this tick's received audio (`None`: nothing came, as silence); returns a key
    /// that has just stopped after sounding for at least two frames.
    pub(crate) fn feed(&mut self, frame: Option<&AudioFrame>) -> Option<Digit> {
        let heard = frame.and_then(|f| detect_dtmf(f.samples(), f.rate().hz()));
        if heard.is_some() && heard == self.key {
            self.frames += 1;
            return None;
        }
        let ended = match self.key {
            Some(digit) if self.frames >= 2 => Some(Digit {
                digit,
                duration_ms: self.frames * 20,
            }),
            _ => None,
        };
        self.key = heard;
        self.frames = 1;
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(code: u8, end: bool, duration: u16) -> [u8; 4] {
        let [h, l] = duration.to_be_bytes();
        [code, if end { 0x8A } else { 0x0A }, h, l]
    }

    #[test]
    fn keys_and_event_codes() {
        let keys: String = (0..=16).filter_map(digit_of).collect();
        assert_eq!(keys, "0123456789*#ABCD");
        for key in keys.chars() {
            assert_eq!(event_of(key).and_then(digit_of), Some(key));
        }
        assert_eq!(event_of('a'), Some(12));
        assert_eq!(event_of('x'), None);
    }

    #[test]
    fn an_event_is_reported_once_at_its_end_and_end_copies_are_dropped() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut rx = Receiver::default();
        assert_eq!(rx.receive(&event(5, false, 160), 1000, t0), None);
        assert!(rx.playing());
        assert_eq!(rx.receive(&event(5, false, 320), 1000, t0 + ms(20)), None);
        let got = rx.receive(&event(5, true, 800), 1000, t0 + ms(100));
        assert_eq!(
            got,
            Some(Digit {
                digit: '5',
                duration_ms: 100
            })
        );
        assert!(!rx.playing());
        for n in 0..2 {
            assert_eq!(
                rx.receive(&event(5, true, 800), 1000, t0 + ms(120 + n)),
                None
            );
        }
        assert_eq!(rx.poll(t0 + ms(5000)), None);
        // The same key again is a new event (new timestamp).
        rx.receive(&event(5, true, 480), 2000, t0 + ms(6000));
        assert!(rx.receive(&[1, 2, 3], 3000, t0).is_none(), "short payload");
    }

    #[test]
    fn an_event_whose_end_never_comes_is_reported_after_a_timeout_or_the_next_event() {
        let t0 = Instant::now();
        let mut rx = Receiver::default();
        rx.receive(&event(11, false, 160), 500, t0);
        assert_eq!(rx.poll(t0 + END_TIMEOUT / 2), None);
        assert_eq!(
            rx.poll(t0 + END_TIMEOUT),
            Some(Digit {
                digit: '#',
                duration_ms: 20
            })
        );
        assert_eq!(
            rx.receive(&event(11, true, 320), 500, t0 + END_TIMEOUT),
            None,
            "late end"
        );
        rx.receive(&event(1, false, 160), 900, t0);
        let got = rx.receive(&event(2, false, 160), 1900, t0);
        assert_eq!(
            got,
            Some(Digit {
                digit: '1',
                duration_ms: 20
            })
        );
        assert!(rx.playing());
    }

    #[test]
    fn a_digit_is_sent_as_event_packets_then_three_ends() {
        let mut tx = Sender::default();
        assert!(!tx.queue('x', 100));
        assert!(tx.queue('9', 100));
        assert!(tx.busy());
        let mut packets = Vec::new();
        let mut ts = 4000u32;
        while let Some(p) = tx.next_packet(ts) {
            packets.push(p);
            ts += 160;
            assert!(packets.len() < 20);
        }
        assert!(!tx.busy());
        // 100 ms: 5 packets of 20 ms, then the end 3 times.
        assert_eq!(packets.len(), 8);
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        assert!(packets.iter().all(|p| p.timestamp == 4000));
        let durations: Vec<u16> = packets
            .iter()
            .map(|p| u16::from_be_bytes([p.payload[2], p.payload[3]]))
            .collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|p| p.payload[1] & 0x80 != 0).collect();
        assert_eq!(ends, [false, false, false, false, false, true, true, true]);
        assert!(packets.iter().all(|p| p.payload[0] == 9));
        // What a receiver makes of them: one digit.
        let mut rx = Receiver::default();
        let t0 = Instant::now();
        let got: Vec<Digit> = packets
            .iter()
            .filter_map(|p| rx.receive(&p.payload, p.timestamp, t0))
            .collect();
        assert_eq!(
            got,
            [Digit {
                digit: '9',
                duration_ms: 100
            }]
        );
    }

    #[test]
    fn inband_keys_are_reported_once_when_they_stop() {
        use crate::media::frame::Rate;
        use crate::media::tone::{ToneGenerator, dtmf_spec};
        let spec = dtmf_spec('7', 100, 0).unwrap();
        let mut tone = ToneGenerator::new(spec, Rate::Narrow8k);
        let mut detector = InbandDetector::default();
        let mut got = Vec::new();
        while let Some(frame) = tone.next_frame() {
            got.extend(detector.feed(Some(&frame)));
        }
        for _ in 0..3 {
            got.extend(detector.feed(None));
        }
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].digit, '7');
        assert!((80..=100).contains(&got[0].duration_ms), "{got:?}");
    }
}
