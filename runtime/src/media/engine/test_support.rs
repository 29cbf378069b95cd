//! Fixtures shared by the engine's tests and the snoop taps' engine tests: an engine whose
//! events arrive on a channel, waiting for events, and recordings into memory.

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use super::{
    Command, MediaEngine, MediaEvent, MediaListener, PlaybackState, RecordRequest, RecordingState,
    Sink, SourceOpener, Target, TerminateOn,
};
use crate::media::detect::DtmfDetector;
use crate::media::frame::{AudioFrame, Rate};

/// Sends every event into a channel.
struct Events(Mutex<mpsc::Sender<MediaEvent>>);

impl MediaListener for Events {
    fn media_event(&self, event: MediaEvent) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(event);
        }
    }
}

/// Starts an engine that opens parts with `opener`; its events arrive on the receiver.
pub(crate) fn start(opener: Arc<dyn SourceOpener>) -> (MediaEngine, mpsc::Receiver<MediaEvent>) {
    let (tx, rx) = mpsc::channel();
    let engine =
        MediaEngine::start(opener, Arc::new(Events(Mutex::new(tx)))).expect("engine thread");
    (engine, rx)
}

/// Adds 8 kHz legs `a` and `b`, paired: each reads what the other writes.
pub(crate) fn paired_legs(engine: &MediaEngine) {
    for id in ["a", "b"] {
        engine.send(Command::AddLeg {
            id: id.into(),
            rate: Rate::Narrow8k,
        });
    }
    engine.send(Command::Pair {
        a: "a".into(),
        b: "b".into(),
    });
}

/// The next event, within 5 s.
pub(crate) fn next(rx: &mpsc::Receiver<MediaEvent>) -> MediaEvent {
    rx.recv_timeout(Duration::from_secs(5))
        .expect("an event within 5 s")
}

/// Skips events until `count` of them have matched (each within 5 s).
pub(crate) fn wait_for_n(
    rx: &mpsc::Receiver<MediaEvent>,
    count: usize,
    what: impl Fn(&MediaEvent) -> bool,
) {
    let mut seen = 0;
    for _ in 0..1000 {
        if seen == count {
            return;
        }
        if what(&next(rx)) {
            seen += 1;
        }
    }
    panic!("only {seen} of {count} awaited events came");
}

/// Skips events until one matches (each within 5 s).
pub(crate) fn wait_for(rx: &mpsc::Receiver<MediaEvent>, what: impl Fn(&MediaEvent) -> bool) {
    wait_for_n(rx, 1, what);
}

/// A playback is done.
pub(crate) fn playback_done(event: &MediaEvent) -> bool {
    matches!(
        event,
        MediaEvent::Playback {
            state: PlaybackState::Done,
            ..
        }
    )
}

/// A recording is done.
pub(crate) fn recording_done(event: &MediaEvent) -> bool {
    matches!(
        event,
        MediaEvent::Recording {
            state: RecordingState::Done,
            ..
        }
    )
}

/// A recording's sink in memory: every frame written, whole, and whether it was finished.
#[derive(Clone, Default)]
pub(crate) struct Recorded(Arc<Mutex<(Vec<AudioFrame>, bool)>>);

impl Sink for Recorded {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), String> {
        self.0.lock().map_err(|_| "poisoned")?.0.push(frame.clone());
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<(), String> {
        self.0.lock().map_err(|_| "poisoned")?.1 = true;
        Ok(())
    }
    fn cancel(self: Box<Self>) {}
}

impl Recorded {
    /// Every frame written so far.
    pub(crate) fn frames(&self) -> Vec<AudioFrame> {
        self.0.lock().expect("lock").0.clone()
    }

    /// How many frames were written.
    pub(crate) fn len(&self) -> usize {
        self.0.lock().expect("lock").0.len()
    }

    /// Whether the recording was finished (not canceled).
    pub(crate) fn finished(&self) -> bool {
        self.0.lock().expect("lock").1
    }

    /// The first sample of every frame.
    pub(crate) fn firsts(&self) -> Vec<i16> {
        let inner = self.0.lock().expect("lock");
        inner.0.iter().map(|f| f.samples()[0]).collect()
    }

    /// How many frames begin with `value`.
    pub(crate) fn count(&self, value: i16) -> usize {
        self.firsts().into_iter().filter(|v| *v == value).count()
    }

    /// The DTMF keys heard, in order.
    pub(crate) fn keys(&self) -> String {
        let mut detector = DtmfDetector::new();
        self.frames()
            .iter()
            .filter_map(|f| detector.feed(f))
            .collect()
    }
}

/// A recording `name` of `target` into memory, without limits.
pub(crate) fn record_request(name: &str, target: Target) -> (RecordRequest, Recorded) {
    let sink = Recorded::default();
    let request = RecordRequest {
        name: name.into(),
        target,
        sink: Box::new(sink.clone()),
        max_duration_ms: 0,
        max_silence_ms: 0,
        terminate_on: TerminateOn::None,
    };
    (request, sink)
}

/// Starts a recording `name` of `target` into memory, without limits.
pub(crate) fn record(engine: &MediaEngine, name: &str, target: Target) -> Recorded {
    let (request, sink) = record_request(name, target);
    engine.send(Command::Record(request));
    sink
}
