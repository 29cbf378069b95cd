//! Fixtures shared by the engine's tests and the snoop taps' engine tests: a graph on a
//! simulated clock ([`Sim`]), waiting for its events, and recordings into memory.
//!
//! A [`Sim`] is the engine without its thread: commands are queued as [`MediaEngine::send`]
//! queues them and applied before the next tick, and time moves only when a test waits for
//! an event (20 ms a tick), so no test waits on the wall clock and each runs as fast as the
//! graph computes.
//!
//! [`MediaEngine::send`]: super::MediaEngine::send

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::clock::PERIOD;
use super::finisher::Finisher;
use super::graph::Graph;
use super::reporter::Reporter;
use super::{
    Command, MediaEvent, PlaybackState, RecordRequest, RecordingState, Sink, SourceOpener, Target,
    TerminateOn,
};
use crate::media::MediaError;
use crate::media::detect::DtmfDetector;
use crate::media::frame::{AudioFrame, Rate};

/// Most ticks [`next`] runs waiting for an event: 5 s of simulated time.
const MAX_WAIT_TICKS: usize = 250;

/// A media graph on a simulated clock, with its commands and events. Clones share it.
#[derive(Clone)]
pub(crate) struct Sim(Rc<RefCell<SimState>>);

struct SimState {
    graph: Graph,
    commands: VecDeque<Command>,
    events: mpsc::Receiver<MediaEvent>,
    now: Instant,
}

impl Sim {
    /// Queues a command for the next tick.
    pub(crate) fn send(&self, command: Command) {
        self.0.borrow_mut().commands.push_back(command);
    }

    /// The next event already reported, without moving time.
    fn try_event(&self) -> Option<MediaEvent> {
        self.0.borrow().events.try_recv().ok()
    }

    /// Applies the commands queued, then runs one tick 20 ms after the last.
    pub(crate) fn step(&self) {
        let mut sim = self.0.borrow_mut();
        while let Some(command) = sim.commands.pop_front() {
            sim.graph.apply(command);
        }
        sim.now += PERIOD;
        let now = sim.now;
        let tick = sim.graph.handle_timeout(now);
        assert!(tick.is_some_and(|t| t.skipped == 0), "a tick every 20 ms");
    }

    /// The next event reported by another thread (a recording finisher's), waiting for it
    /// on the wall clock for at most 5 s without moving simulated time.
    pub(crate) fn event_from_thread(&self) -> MediaEvent {
        self.0
            .borrow()
            .events
            .recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s")
    }
}

/// A graph that opens parts with `opener`, on a simulated clock: the engine to send
/// commands to, and the same to read its events from.
pub(crate) fn start(opener: Arc<dyn SourceOpener>) -> (Sim, Sim) {
    let (reporter, events) = Reporter::channel();
    start_with(opener, Finisher::inline(reporter.clone()), reporter, events)
}

/// [`start`] with recordings completed by a finisher thread (reported from there).
pub(crate) fn start_with_finisher_thread(opener: Arc<dyn SourceOpener>) -> (Sim, Sim) {
    let (reporter, events) = Reporter::channel();
    start_with(opener, Finisher::start(reporter.clone()), reporter, events)
}

fn start_with(
    opener: Arc<dyn SourceOpener>,
    finisher: Finisher,
    reporter: Reporter,
    events: mpsc::Receiver<MediaEvent>,
) -> (Sim, Sim) {
    let start = Instant::now();
    let mut graph = Graph::new(opener, reporter, finisher);
    // The first tick, at the start of simulated time.
    assert!(graph.handle_timeout(start).is_some());
    let sim = Sim(Rc::new(RefCell::new(SimState {
        graph,
        commands: VecDeque::new(),
        events,
        now: start,
    })));
    (sim.clone(), sim)
}

/// Adds 8 kHz legs `a` and `b`, paired: each reads what the other writes.
pub(crate) fn paired_legs(engine: &Sim) {
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

/// The next event, within 5 s of simulated time (time moves a tick at a time until one
/// comes).
pub(crate) fn next(sim: &Sim) -> MediaEvent {
    for _ in 0..MAX_WAIT_TICKS {
        if let Some(event) = sim.try_event() {
            return event;
        }
        sim.step();
    }
    sim.try_event().expect("an event within 5 s")
}

/// Skips events until `count` of them have matched (each within 5 s).
pub(crate) fn wait_for_n(rx: &Sim, count: usize, what: impl Fn(&MediaEvent) -> bool) {
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
pub(crate) fn wait_for(rx: &Sim, what: impl Fn(&MediaEvent) -> bool) {
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
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        self.0.lock().map_err(|_| poisoned())?.0.push(frame.clone());
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<(), MediaError> {
        self.0.lock().map_err(|_| poisoned())?.1 = true;
        Ok(())
    }
    fn cancel(self: Box<Self>) {}
}

/// The error of a recording whose memory lock was poisoned.
fn poisoned() -> MediaError {
    MediaError::io("memory", std::io::Error::other("poisoned"))
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
pub(crate) fn record(engine: &Sim, name: &str, target: Target) -> Recorded {
    let (request, sink) = record_request(name, target);
    engine.send(Command::Record(request));
    sink
}
