//! The engine's events on their way out. The media thread and the recording finisher put
//! every [`MediaEvent`] into one unbounded queue: a send never blocks and never waits for a
//! lock, so the clock goes on whatever the listener is doing. One reporter thread takes the
//! events out in the order they were put in and hands them to the [`MediaListener`] (the
//! core, which applies them under its state lock), a batch at a time.
//!
//! Unbounded, because no event may be lost (a playback's or recording's end, a digit) and
//! the engine cannot wait: the queue holds what the listener has not applied yet, which is
//! bounded by what the core asked the engine to do.

use std::sync::{Arc, mpsc};

use super::{MediaEvent, MediaListener};

/// Most events handed to the listener in one batch (one hold of the core's lock), so a
/// burst does not keep the lock from everybody else.
const MAX_BATCH: usize = 256;

/// Where the engine's events go: a handle on the queue, one per thread that reports.
#[derive(Clone)]
pub(super) struct Reporter(mpsc::Sender<MediaEvent>);

impl Reporter {
    /// Starts the reporter thread, which hands every event to `listener`.
    pub(super) fn start(listener: Arc<dyn MediaListener>) -> std::io::Result<Reporter> {
        let (reporter, events) = Reporter::channel();
        std::thread::Builder::new()
            .name("wari-media-events".into())
            .spawn(move || {
                while let Ok(first) = events.recv() {
                    let mut batch =
                        std::iter::once(first).chain(events.try_iter().take(MAX_BATCH - 1));
                    listener.media_events(&mut batch);
                    // Whatever the listener did not take is not lost.
                    for event in batch {
                        listener.media_event(event);
                    }
                }
            })?;
        Ok(reporter)
    }

    /// A reporter whose events arrive on the receiver (no thread).
    pub(super) fn channel() -> (Reporter, mpsc::Receiver<MediaEvent>) {
        let (tx, rx) = mpsc::channel();
        (Reporter(tx), rx)
    }

    /// Queues an event; never blocks. Once the reporter thread is gone (the process is
    /// ending) events are dropped.
    pub(super) fn report(&self, event: MediaEvent) {
        let _ = self.0.send(event);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Applies events under a lock the test can hold, as the core applies them under its
    /// state lock.
    struct Locked {
        held: Arc<Mutex<()>>,
        applied: mpsc::Sender<MediaEvent>,
    }

    impl MediaListener for Locked {
        fn media_event(&self, event: MediaEvent) {
            let _guard = self.held.lock();
            let _ = self.applied.send(event);
        }
    }

    fn digit(n: u32) -> MediaEvent {
        MediaEvent::Dtmf {
            leg: "a".into(),
            digit: '1',
            duration_ms: n,
        }
    }

    #[test]
    fn reporting_never_waits_for_a_busy_listener_and_keeps_the_order() {
        let held = Arc::new(Mutex::new(()));
        let (applied, heard) = mpsc::channel();
        let listener = Locked {
            held: held.clone(),
            applied,
        };
        let reporter = Reporter::start(Arc::new(listener)).expect("thread");
        let guard = held.lock().expect("lock");
        // The listener is stuck behind the lock: reports still return at once, and
        // nothing is applied until the lock is free.
        for n in 0..1000 {
            reporter.report(digit(n));
        }
        assert!(heard.recv_timeout(Duration::from_millis(50)).is_err());
        drop(guard);
        for n in 0..1000 {
            let event = heard.recv_timeout(Duration::from_secs(5)).expect("applied");
            assert_eq!(event, digit(n), "in the order reported");
        }
    }
}
