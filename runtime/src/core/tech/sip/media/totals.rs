//! Process-wide counts of SIP media, for `/metrics`: RTP packets received and sent by every
//! call, datagrams dropped by the calls' bounded queues, and what the calls' jitter buffers
//! dropped or never got in time. Each call's own figures stay in its `rtp_statistics`;
//! these only add up, with relaxed atomic increments (no lock, no allocation).

use std::sync::atomic::{AtomicU64, Ordering};

use super::jitter::JitterCounts;

/// The counters (one set per process).
#[derive(Debug, Default)]
pub(crate) struct Totals {
    rtp_received: AtomicU64,
    rtp_sent: AtomicU64,
    queue_dropped_in: AtomicU64,
    queue_dropped_out: AtomicU64,
    jitter_dropped: AtomicU64,
    jitter_lost: AtomicU64,
}

/// What the counters say now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TotalsSnapshot {
    /// RTP datagrams read from the calls' sockets.
    pub rtp_received: u64,
    /// RTP datagrams the calls' sockets took to send.
    pub rtp_sent: u64,
    /// Received datagrams dropped because a call's queue was full (the media clock behind).
    pub queue_dropped_in: u64,
    /// Datagrams to send dropped because a call's queue was full (its I/O behind).
    pub queue_dropped_out: u64,
    /// RTP packets the jitter buffers dropped: late, duplicate, or over their capacity.
    pub jitter_dropped: u64,
    /// Sequence numbers given up at playout (never arrived in time).
    pub jitter_lost: u64,
}

static TOTALS: Totals = Totals {
    rtp_received: AtomicU64::new(0),
    rtp_sent: AtomicU64::new(0),
    queue_dropped_in: AtomicU64::new(0),
    queue_dropped_out: AtomicU64::new(0),
    jitter_dropped: AtomicU64::new(0),
    jitter_lost: AtomicU64::new(0),
};

/// The process's counters.
pub(crate) fn totals() -> &'static Totals {
    &TOTALS
}

impl Totals {
    pub(crate) fn received(&self, datagrams: u64) {
        self.rtp_received.fetch_add(datagrams, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, datagrams: u64) {
        self.rtp_sent.fetch_add(datagrams, Ordering::Relaxed);
    }

    pub(crate) fn dropped_in(&self) {
        self.queue_dropped_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dropped_out(&self) {
        self.queue_dropped_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds what a jitter buffer counted since `before`.
    pub(crate) fn jitter(&self, before: JitterCounts, now: JitterCounts) {
        let dropped = (now.late + now.duplicate + now.overflow)
            .saturating_sub(before.late + before.duplicate + before.overflow);
        if dropped > 0 {
            self.jitter_dropped.fetch_add(dropped, Ordering::Relaxed);
        }
        let lost = now.lost.saturating_sub(before.lost);
        if lost > 0 {
            self.jitter_lost.fetch_add(lost, Ordering::Relaxed);
        }
    }

    pub(crate) fn snapshot(&self) -> TotalsSnapshot {
        TotalsSnapshot {
            rtp_received: self.rtp_received.load(Ordering::Relaxed),
            rtp_sent: self.rtp_sent.load(Ordering::Relaxed),
            queue_dropped_in: self.queue_dropped_in.load(Ordering::Relaxed),
            queue_dropped_out: self.queue_dropped_out.load(Ordering::Relaxed),
            jitter_dropped: self.jitter_dropped.load(Ordering::Relaxed),
            jitter_lost: self.jitter_lost.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_counts_are_added_as_differences() {
        let totals = Totals::default();
        let before = JitterCounts {
            late: 1,
            duplicate: 2,
            lost: 3,
            overflow: 4,
        };
        let now = JitterCounts {
            late: 2,
            duplicate: 2,
            lost: 5,
            overflow: 6,
        };
        totals.jitter(before, now);
        totals.jitter(now, now);
        let snapshot = totals.snapshot();
        assert_eq!((snapshot.jitter_dropped, snapshot.jitter_lost), (3, 2));
    }
}
