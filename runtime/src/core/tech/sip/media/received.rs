//! The RTP a SIP call received, waiting for the media clock's next tick: the queue between
//! the I/O thread (which pushes what it read) and the call's edge (which takes it in arrival
//! order). It is bounded per kind of datagram, and a full kind drops its own oldest:
//!
//! - audio (anything not an event): at most [`AUDIO`] datagrams, 160 ms, since late audio is
//!   worth less than new audio and a longer queue only delays what the call hears;
//! - RFC 4733 `telephone-event` datagrams of the negotiated payload type: at most [`EVENTS`],
//!   so that a digit pressed while the clock is held up (a loaded machine) is still
//!   reported, as it would be by a reader of the socket, rather than pushed out by the audio
//!   that came after it. A digit is about a dozen datagrams (its packets and three ends).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

/// Audio datagrams waiting at most: 8 packets, 160 ms.
pub(super) const AUDIO: usize = 8;
/// Event datagrams waiting at most: four digits or so.
pub(super) const EVENTS: usize = 48;
/// No `telephone-event` payload type (payload types are 7 bits).
const NO_EVENTS: u8 = u8::MAX;

/// One datagram waiting, and whether it is an event.
#[derive(Debug)]
struct Waiting {
    datagram: Vec<u8>,
    from: SocketAddr,
    event: bool,
}

/// Received RTP of one call, in arrival order (see the module's header).
#[derive(Debug)]
pub(super) struct ReceivedRtp {
    items: Mutex<VecDeque<Waiting>>,
    /// The payload type of `telephone-event` datagrams ([`NO_EVENTS`]: none negotiated).
    event_type: AtomicU8,
    dropped: AtomicU64,
}

impl ReceivedRtp {
    pub(super) fn new() -> ReceivedRtp {
        ReceivedRtp {
            items: Mutex::new(VecDeque::with_capacity(AUDIO)),
            event_type: AtomicU8::new(NO_EVENTS),
            dropped: AtomicU64::new(0),
        }
    }

    /// Sets the payload type of `telephone-event` datagrams (`None`: every datagram counts
    /// as audio).
    pub(super) fn set_event_type(&self, payload_type: Option<u8>) {
        let stored = payload_type.filter(|pt| *pt < 0x80).unwrap_or(NO_EVENTS);
        self.event_type.store(stored, Ordering::Release);
    }

    /// Queues a datagram from `from`; true when the oldest datagram of its kind had to be
    /// dropped for it.
    pub(super) fn push(&self, datagram: Vec<u8>, from: SocketAddr) -> bool {
        let event = self.is_event(&datagram);
        let limit = if event { EVENTS } else { AUDIO };
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        let full = items.iter().filter(|w| w.event == event).count() >= limit;
        if full {
            if let Some(oldest) = items.iter().position(|w| w.event == event) {
                items.remove(oldest);
            }
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        items.push_back(Waiting {
            datagram,
            from,
            event,
        });
        full
    }

    /// The oldest datagram waiting, with its source.
    pub(super) fn pop(&self) -> Option<(Vec<u8>, SocketAddr)> {
        let mut items = self.items.lock().unwrap_or_else(|p| p.into_inner());
        items.pop_front().map(|w| (w.datagram, w.from))
    }

    /// How many datagrams were dropped to make room.
    pub(super) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether `datagram` is an RTP packet (version 2) of the event payload type.
    fn is_event(&self, datagram: &[u8]) -> bool {
        let event_type = self.event_type.load(Ordering::Acquire);
        match datagram {
            [first, second, ..] => first >> 6 == 2 && second & 0x7f == event_type,
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from() -> SocketAddr {
        "127.0.0.1:4000".parse().unwrap()
    }

    /// An RTP header of payload type `pt` and sequence number `seq`, then one byte.
    fn packet(pt: u8, seq: u16) -> Vec<u8> {
        let [high, low] = seq.to_be_bytes();
        vec![0x80, pt, high, low, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
    }

    fn drain(queue: &ReceivedRtp) -> Vec<(u8, u16)> {
        let mut out = Vec::new();
        while let Some((d, _)) = queue.pop() {
            out.push((d[1] & 0x7f, u16::from_be_bytes([d[2], d[3]])));
            assert!(out.len() <= AUDIO + EVENTS, "more than the queue holds");
        }
        out
    }

    #[test]
    fn a_digit_outlives_the_audio_that_came_after_it_while_nobody_took_any() {
        let queue = ReceivedRtp::new();
        queue.set_event_type(Some(101));
        // 4 audio packets, a digit (8 event packets and 3 ends), then 30 more audio packets,
        // with nothing taken meanwhile (the media clock held up for over 0.8 s).
        let mut seq = 0u16;
        let mut next = |pt| {
            seq += 1;
            packet(pt, seq)
        };
        let mut dropped = 0;
        for _ in 0..4 {
            dropped += usize::from(queue.push(next(0), from()));
        }
        for _ in 0..11 {
            dropped += usize::from(queue.push(next(101), from()));
        }
        for _ in 0..30 {
            dropped += usize::from(queue.push(next(0), from()));
        }
        let got = drain(&queue);
        // Every event packet, in order; the newest 8 audio packets after them.
        let expected: Vec<(u8, u16)> = (5..=15)
            .map(|s| (101, s))
            .chain((38..=45).map(|s| (0, s)))
            .collect();
        assert_eq!(got, expected);
        assert_eq!(dropped, 26);
        assert_eq!(queue.dropped(), 26);
    }

    #[test]
    fn audio_and_events_keep_their_arrival_order_and_events_have_a_bound_too() {
        let queue = ReceivedRtp::new();
        queue.set_event_type(Some(101));
        for seq in 0..6u16 {
            let pt = if seq % 2 == 0 { 0 } else { 101 };
            assert!(!queue.push(packet(pt, seq), from()));
        }
        assert_eq!(
            drain(&queue),
            [(0, 0), (101, 1), (0, 2), (101, 3), (0, 4), (101, 5)]
        );
        for seq in 0..(EVENTS as u16 + 5) {
            queue.push(packet(101, seq), from());
        }
        let got = drain(&queue);
        assert_eq!(got.len(), EVENTS);
        assert_eq!(got.first(), Some(&(101, 5)));
        assert_eq!(queue.dropped(), 5);
    }

    #[test]
    fn without_a_negotiated_event_type_everything_is_audio() {
        let queue = ReceivedRtp::new();
        for seq in 0..20u16 {
            queue.push(packet(101, seq), from());
        }
        assert_eq!(drain(&queue).len(), AUDIO);
        // Set, then taken back by a renegotiation without telephone-event.
        queue.set_event_type(Some(101));
        queue.set_event_type(None);
        for seq in 0..20u16 {
            queue.push(packet(101, seq), from());
        }
        assert_eq!(drain(&queue).len(), AUDIO);
        // Not RTP (version 0): never an event.
        queue.set_event_type(Some(101));
        for _ in 0..20 {
            queue.push(vec![0x00, 101, 0, 0], from());
        }
        assert_eq!(drain(&queue).len(), AUDIO);
    }
}
