//! A small fixed reorder (jitter) buffer for received RTP, used where wari terminates media
//! (the SIP edge feeds the engine: playback, recording, DTMF, mixing). Packets wait up to
//! [`DELAY`] so that reordered ones can be put back in sequence; each media tick takes the
//! next packet in sequence. Late packets (their turn has passed) and duplicates are
//! dropped and counted; a gap whose packet did not come in time is a loss (the tick reads
//! nothing). A new SSRC, or a jump far outside the window, starts the buffer over.
//!
//! Sans-IO: the caller passes the time a packet arrived and the time of each tick.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the first packet waits before playout starts (and the most a packet waits for
/// one missing before it).
pub(crate) const DELAY: Duration = Duration::from_millis(40);
/// Packets held before playout starts regardless of time (the same 40 ms at 20 ms each, plus
/// the one playing).
const START_DEPTH: usize = 3;
/// Packets held at most (120 ms): beyond it the oldest is dropped, so a far end that sends
/// faster than the clock cannot add delay without bound.
const CAPACITY: usize = 6;
/// A sequence step this far ahead of the next expected packet is a restart, not a loss.
const MAX_JUMP: u16 = 1000;

/// What became of a pushed packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pushed {
    Queued,
    /// Its turn had passed: dropped.
    Late,
    /// The same sequence number is waiting already: dropped.
    Duplicate,
}

/// Counters of what the buffer dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct JitterCounts {
    pub late: u64,
    pub duplicate: u64,
    /// Sequence numbers skipped at playout (never came in time).
    pub lost: u64,
    /// Dropped because the buffer was full.
    pub overflow: u64,
}

struct Entry<T> {
    sequence: u16,
    arrived: Instant,
    item: T,
}

/// The reorder buffer of one received stream; `T` is what a packet carries (its payload).
pub(crate) struct JitterBuffer<T> {
    ssrc: Option<u32>,
    /// The sequence number of the next packet to play, once playout has started.
    next: Option<u16>,
    /// Waiting packets in sequence order.
    entries: VecDeque<Entry<T>>,
    playing: bool,
    counts: JitterCounts,
}

impl<T> Default for JitterBuffer<T> {
    fn default() -> Self {
        JitterBuffer {
            ssrc: None,
            next: None,
            entries: VecDeque::with_capacity(CAPACITY + 1),
            playing: false,
            counts: JitterCounts::default(),
        }
    }
}

impl<T> JitterBuffer<T> {
    /// What was dropped so far.
    pub(crate) fn counts(&self) -> JitterCounts {
        self.counts
    }

    /// Forgets everything waiting (a new stream).
    pub(crate) fn reset(&mut self) {
        self.entries.clear();
        self.next = None;
        self.playing = false;
    }

    /// A packet of stream `ssrc`, numbered `sequence`, arrived at `now`.
    pub(crate) fn push(&mut self, ssrc: u32, sequence: u16, now: Instant, item: T) -> Pushed {
        if self.ssrc != Some(ssrc) {
            self.ssrc = Some(ssrc);
            self.reset();
        }
        // Where the packet stands against the reference: the next to play, else the
        // oldest waiting.
        let reference = self
            .next
            .or_else(|| self.entries.front().map(|e| e.sequence));
        if let Some(reference) = reference {
            let ahead = sequence.wrapping_sub(reference);
            if ahead >= 0x8000 {
                // Behind the reference: late once playout passed it.
                if self.next.is_some() {
                    let behind = reference.wrapping_sub(sequence);
                    if behind < MAX_JUMP {
                        self.counts.late += 1;
                        return Pushed::Late;
                    }
                    self.reset();
                }
            } else if ahead >= MAX_JUMP {
                self.reset();
            }
        }
        let base = self
            .next
            .or_else(|| self.entries.front().map(|e| e.sequence))
            .map(|first| {
                // Before everything waiting (possible only before playout): the new base.
                if sequence.wrapping_sub(first) >= 0x8000 {
                    sequence
                } else {
                    first
                }
            })
            .unwrap_or(sequence);
        let offset = |s: u16| s.wrapping_sub(base);
        let at = self
            .entries
            .iter()
            .position(|e| offset(e.sequence) >= offset(sequence))
            .unwrap_or(self.entries.len());
        if self.entries.get(at).is_some_and(|e| e.sequence == sequence) {
            self.counts.duplicate += 1;
            return Pushed::Duplicate;
        }
        self.entries.insert(
            at,
            Entry {
                sequence,
                arrived: now,
                item,
            },
        );
        while self.entries.len() > CAPACITY {
            if let Some(dropped) = self.entries.pop_front() {
                self.counts.overflow += 1;
                if self.next.is_some() {
                    self.next = Some(dropped.sequence.wrapping_add(1));
                }
            }
        }
        Pushed::Queued
    }

    /// The packet to play at this tick (`now`), if any: `None` while buffering, on an
    /// underrun, and for a packet lost (the tick reads nothing and playout moves on).
    pub(crate) fn pop(&mut self, now: Instant) -> Option<T> {
        let front = self.entries.front()?;
        let waited = now.saturating_duration_since(front.arrived);
        if !self.playing {
            if waited < DELAY && self.entries.len() < START_DEPTH {
                return None;
            }
            self.playing = true;
        }
        match self.next {
            Some(next) if front.sequence != next => {
                // A gap: wait for its packet while the one after it is young and few
                // wait, else give it up.
                if waited < DELAY && self.entries.len() < START_DEPTH {
                    return None;
                }
                self.counts.lost += 1;
                self.next = Some(next.wrapping_add(1));
                None
            }
            _ => {
                let entry = self.entries.pop_front()?;
                self.next = Some(entry.sequence.wrapping_add(1));
                if self.entries.is_empty() {
                    // Underrun: buffer again before the next packet plays.
                    self.playing = false;
                }
                Some(entry.item)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(20);

    /// Plays `ticks` ticks from `start`, collecting what each tick read.
    fn play(buffer: &mut JitterBuffer<u16>, start: Instant, ticks: u32) -> Vec<Option<u16>> {
        (0..ticks).map(|n| buffer.pop(start + TICK * n)).collect()
    }

    #[test]
    fn playout_waits_40_ms_then_plays_in_order() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        buffer.push(1, 10, t0, 10);
        assert_eq!(buffer.pop(t0), None, "buffering");
        assert_eq!(buffer.pop(t0 + TICK), None, "buffering");
        buffer.push(1, 11, t0 + TICK, 11);
        assert_eq!(buffer.pop(t0 + DELAY), Some(10));
        assert_eq!(buffer.pop(t0 + DELAY + TICK), Some(11));
    }

    #[test]
    fn reordered_packets_come_out_in_sequence() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        for (i, seq) in [1u16, 3, 2, 5, 4].into_iter().enumerate() {
            assert_eq!(
                buffer.push(7, seq, t0 + TICK * i as u32 / 4, seq),
                Pushed::Queued
            );
        }
        let got = play(&mut buffer, t0 + DELAY, 5);
        assert_eq!(got, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
        assert_eq!(buffer.counts(), JitterCounts::default());
    }

    #[test]
    fn a_lost_packet_is_skipped_once_its_successors_waited_and_late_ones_are_dropped() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        buffer.push(7, 1, t0, 1);
        buffer.push(7, 3, t0 + TICK, 3);
        buffer.push(7, 4, t0 + TICK * 2, 4);
        let got = play(&mut buffer, t0 + DELAY, 4);
        assert_eq!(got, [Some(1), None, Some(3), Some(4)]);
        assert_eq!(buffer.counts().lost, 1);
        assert_eq!(buffer.push(7, 2, t0 + TICK * 6, 2), Pushed::Late);
        assert_eq!(buffer.counts().late, 1);
    }

    #[test]
    fn duplicates_are_dropped() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        assert_eq!(buffer.push(7, 5, t0, 5), Pushed::Queued);
        assert_eq!(buffer.push(7, 5, t0, 5), Pushed::Duplicate);
        assert_eq!(buffer.push(7, 6, t0, 6), Pushed::Queued);
        assert_eq!(play(&mut buffer, t0 + DELAY, 3), [Some(5), Some(6), None]);
        assert_eq!(buffer.push(7, 5, t0 + DELAY * 2, 5), Pushed::Late);
        assert_eq!(buffer.counts().duplicate, 1);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        for seq in [65534u16, 0, 65535, 1] {
            buffer.push(7, seq, t0, seq);
        }
        let got = play(&mut buffer, t0 + DELAY, 4);
        assert_eq!(got, [Some(65534), Some(65535), Some(0), Some(1)]);
        assert_eq!(buffer.counts(), JitterCounts::default());
    }

    #[test]
    fn a_new_ssrc_starts_over_and_old_packets_are_forgotten() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        buffer.push(7, 100, t0, 100);
        buffer.push(7, 101, t0, 101);
        assert_eq!(buffer.pop(t0 + DELAY), Some(100));
        // The far end restarted its stream: another SSRC, numbers far behind.
        assert_eq!(buffer.push(8, 5, t0 + DELAY, 5), Pushed::Queued);
        assert_eq!(play(&mut buffer, t0 + DELAY * 2, 2), [Some(5), None]);
        assert_eq!(buffer.counts().late, 0);
    }

    #[test]
    fn a_buffer_fed_too_fast_stays_bounded() {
        let t0 = Instant::now();
        let mut buffer = JitterBuffer::default();
        for seq in 0..20u16 {
            buffer.push(7, seq, t0, seq);
        }
        assert_eq!(buffer.counts().overflow, 20 - CAPACITY as u64);
        assert_eq!(buffer.pop(t0), Some(20 - CAPACITY as u16));
    }
}
