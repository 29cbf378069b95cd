//! Completing stopped recordings off the media clock. Completing a recording file means
//! flushing it, fsyncing it, renaming it into place and fsyncing its directory, which a
//! busy disk can make take long; the 20 ms clock must not wait for that. The engine hands
//! each stopped recording's sink to one finisher thread (after reporting the tick's other
//! events, so a recording's start is always reported before its end), and the finisher
//! reports `Recording` `Done`, or `Failed` when completing the file failed. Canceled and
//! failed recordings are reported by the engine itself: their files are only removed.

use std::sync::Arc;
use std::sync::mpsc;

use super::{MediaEvent, MediaListener, RecordingState, Sink};

/// A stopped recording whose file is still to be completed.
pub(super) struct Finish {
    pub name: Arc<str>,
    pub duration_ms: u64,
    pub sink: Box<dyn Sink>,
}

/// The finisher thread's queue (unbounded: it holds at most every live recording).
pub(super) struct Finisher {
    /// `None` when the thread could not be started: recordings are completed on the
    /// engine thread then.
    jobs: Option<mpsc::Sender<Finish>>,
    listener: Arc<dyn MediaListener>,
}

impl Finisher {
    /// Starts the finisher thread, which reports to `listener`.
    pub(super) fn start(listener: Arc<dyn MediaListener>) -> Finisher {
        let (jobs, queue) = mpsc::channel::<Finish>();
        let reporter = listener.clone();
        let started = std::thread::Builder::new()
            .name("wari-media-finisher".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    complete(job, &*reporter);
                }
            });
        let jobs = match started {
            Ok(_) => Some(jobs),
            Err(error) => {
                tracing::warn!(%error, "no recording finisher thread: recordings are completed on the media thread");
                None
            }
        };
        Finisher { jobs, listener }
    }

    /// Completes `job`'s file and reports it, on the finisher thread when there is one.
    pub(super) fn finish(&self, job: Finish) {
        let job = match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        complete(job, &*self.listener);
    }
}

/// Completes a recording's file and reports how that went.
fn complete(job: Finish, listener: &dyn MediaListener) {
    let state = match job.sink.finish() {
        Ok(()) => RecordingState::Done,
        Err(cause) => RecordingState::Failed(cause),
    };
    listener.media_event(MediaEvent::Recording {
        name: job.name,
        state,
        duration_ms: job.duration_ms,
    });
}
