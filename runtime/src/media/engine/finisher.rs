//! Ending recordings off the media clock. Ending a recording touches its file: a stopped
//! one is flushed, fsynced, renamed into place and its directory fsynced; a canceled or
//! failed one has its partial file removed. A busy disk can make either take long, and the
//! 20 ms clock must not wait for it. The engine hands every ended recording to one
//! finisher thread (after reporting the tick's other events, so a recording's start is
//! always reported before its end), and the finisher reports its final state: `Done` (or
//! `Failed` when completing the file failed), `Canceled`, or `Failed` with its cause.

use std::sync::{Arc, mpsc};

use super::reporter::Reporter;
use super::{MediaEvent, RecordingState, Sink};

/// How a recording ended.
pub(super) enum Ending {
    /// Stopped (asked to, or a limit was reached): its file is completed and kept.
    Stopped,
    /// Canceled: its file is removed.
    Canceled,
    /// Failed with this cause: its file is removed.
    Failed(String),
}

/// An ended recording whose file is still to be completed or removed.
pub(super) struct Finish {
    pub name: Arc<str>,
    pub duration_ms: u64,
    pub talking_ms: Option<u64>,
    pub sink: Box<dyn Sink>,
    pub ending: Ending,
}

/// The finisher thread's queue (unbounded: it holds at most every live recording).
pub(super) struct Finisher {
    /// `None` when the thread could not be started: recordings are ended on the engine
    /// thread then.
    jobs: Option<mpsc::Sender<Finish>>,
    reporter: Reporter,
}

impl Finisher {
    /// Starts the finisher thread, which reports to `reporter`.
    pub(super) fn start(reporter: Reporter) -> Finisher {
        let (jobs, queue) = mpsc::channel::<Finish>();
        let thread_reporter = reporter.clone();
        let started = std::thread::Builder::new()
            .name("wari-media-finisher".into())
            .spawn(move || {
                while let Ok(job) = queue.recv() {
                    complete(job, &thread_reporter);
                }
            });
        let jobs = match started {
            Ok(_) => Some(jobs),
            Err(error) => {
                tracing::warn!(%error, "no recording finisher thread: recordings are completed on the media thread");
                None
            }
        };
        Finisher { jobs, reporter }
    }

    /// A finisher without a thread: recordings are ended where they stop (for tests on a
    /// simulated clock, whose events then come in a fixed order).
    #[cfg(test)]
    pub(super) fn inline(reporter: Reporter) -> Finisher {
        Finisher {
            jobs: None,
            reporter,
        }
    }

    /// Ends `job`'s file and reports it, on the finisher thread when there is one.
    pub(super) fn finish(&self, job: Finish) {
        let job = match &self.jobs {
            Some(jobs) => match jobs.send(job) {
                Ok(()) => return,
                Err(mpsc::SendError(job)) => job,
            },
            None => job,
        };
        complete(job, &self.reporter);
    }
}

/// Completes or removes a recording's file and reports the recording's final state.
fn complete(job: Finish, reporter: &Reporter) {
    let state = match job.ending {
        Ending::Stopped => match job.sink.finish() {
            Ok(()) => RecordingState::Done,
            Err(cause) => RecordingState::Failed(cause.to_string()),
        },
        Ending::Canceled => {
            job.sink.cancel();
            RecordingState::Canceled
        }
        Ending::Failed(cause) => {
            job.sink.cancel();
            RecordingState::Failed(cause)
        }
    };
    reporter.report(MediaEvent::Recording {
        name: job.name,
        state,
        duration_ms: job.duration_ms,
        talking_ms: job.talking_ms,
    });
}
