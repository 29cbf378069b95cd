//! The engine's 20 ms clock. [`Clock`] is the timing alone, with time as an input (no
//! reading of the system clock, no sleeping): given `now`, is a tick due, and how many were
//! skipped? [`run`] is the media thread: it applies the core's commands, feeds the wall
//! clock to the graph, sleeps until the next tick is due, and keeps [`MediaStats`].

use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::graph::Graph;
use super::{Command, MediaStats};
use crate::media::frame::FRAME_MS;

/// The length of one tick.
pub(super) const PERIOD: Duration = Duration::from_millis(FRAME_MS as u64);

/// When the next tick is due.
#[derive(Debug, Default)]
pub(super) struct Clock {
    /// `None` until the first tick, which is due at once.
    due: Option<Instant>,
}

/// A tick that is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tick {
    /// The end of the tick's 20 ms slot: its frames are late if not ready by then.
    pub deadline: Instant,
    /// Ticks skipped before this one (frames never produced), when time had gone on by
    /// more than a whole tick past the one due: the clock then starts again from `now`.
    pub skipped: u64,
}

impl Clock {
    /// When the next tick is due (`None`: at once).
    pub(super) fn due(&self) -> Option<Instant> {
        self.due
    }

    /// Time goes on to `now`: the tick due by then, if one is.
    pub(super) fn advance(&mut self, now: Instant) -> Option<Tick> {
        let due = *self.due.get_or_insert(now);
        if now < due {
            return None;
        }
        let behind = now - due;
        let (start, skipped) = if behind > PERIOD {
            // Too far behind to catch up frame by frame: resynchronise.
            let skipped = behind.as_micros() / PERIOD.as_micros();
            (now, u64::try_from(skipped).unwrap_or(u64::MAX))
        } else {
            (due, 0)
        };
        let deadline = start + PERIOD;
        self.due = Some(deadline);
        Some(Tick { deadline, skipped })
    }
}

/// The media thread: until every command sender is gone, applies the commands queued, runs
/// the tick that is due on the wall clock, counts it, and sleeps until the next.
pub(super) fn run(commands: &mpsc::Receiver<Command>, graph: &mut Graph, stats: &MediaStats) {
    loop {
        loop {
            match commands.try_recv() {
                Ok(command) => graph.apply(command),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        let began = Instant::now();
        if let Some(tick) = graph.handle_timeout(began) {
            let done = Instant::now();
            stats.ticks.fetch_add(1, Ordering::Relaxed);
            let busy = u64::try_from((done - began).as_micros()).unwrap_or(u64::MAX);
            stats.busy_micros.fetch_add(busy, Ordering::Relaxed);
            // A tick done after its slot ended is late, and so are the ones skipped (their
            // frames were never produced).
            let late = u64::from(done > tick.deadline).saturating_add(tick.skipped);
            if late > 0 {
                stats.late_ticks.fetch_add(late, Ordering::Relaxed);
            }
        }
        // Sleep until the next tick; commands wait in the queue until then. Not blocking in
        // `recv` means a sender never has to wake this thread: creating a channel (which
        // adds a leg) costs the caller no system call.
        if let Some(due) = graph.poll_timeout() {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_due_every_period_and_a_stall_skips_the_ticks_it_missed() {
        let start = Instant::now();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let mut clock = Clock::default();
        assert_eq!(clock.due(), None, "the first tick is due at once");
        let first = clock.advance(start).expect("due");
        assert_eq!((first.deadline, first.skipped), (at(20), 0));
        assert_eq!(clock.advance(at(19)), None, "not before its time");
        assert_eq!(clock.due(), Some(at(20)));
        // A little late: the same slot, no frame lost.
        let second = clock.advance(at(25)).expect("due");
        assert_eq!((second.deadline, second.skipped), (at(40), 0));
        assert_eq!(clock.advance(at(39)), None);
        // 70 ms late: three frames were never made; the clock starts again from now.
        let third = clock.advance(at(110)).expect("due");
        assert_eq!((third.deadline, third.skipped), (at(130), 3));
        assert_eq!(clock.due(), Some(at(130)));
        assert_eq!(clock.advance(at(129)), None);
    }
}
