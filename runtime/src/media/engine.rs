//! The media engine: one thread with a 20 ms clock that moves audio frames between legs.
//!
//! A leg is the media side of one channel. Every tick, each leg's *outgoing* frame (what
//! its far end hears) comes from the playback at the head of its queue, or silence. A leg
//! paired with another (the two halves of a Local channel) *reads* what its peer wrote; a
//! leg with no peer (a Test phone) reads silence. Recordings on a leg write what it reads.
//!
//! The core drives the engine with [`Command`]s (never blocking: commands are queued and
//! applied at the start of the next tick) and hears back through a [`MediaListener`],
//! called from the engine thread with no engine state borrowed. Opening files and tone
//! generators is left to a [`SourceOpener`], so the engine itself does no path handling.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::frame::{AudioFrame, FRAME_MS, Rate};

/// A channel's media leg, by channel id.
pub type LegId = Arc<str>;

/// Something that produces audio, one frame at a time.
pub trait Source: Send {
    /// The next frame, or `None` once the source has ended.
    fn next_frame(&mut self) -> Option<AudioFrame>;
    /// Moves the position by `delta_ms` (negative: back), clamped to the source.
    fn skip(&mut self, _delta_ms: i64) {}
    /// Back to the start.
    fn restart(&mut self) {}
}

/// Something that consumes audio: a recording file.
pub trait Sink: Send {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), String>;
    /// Completes the recording (the file is in place afterwards).
    fn finish(self: Box<Self>) -> Result<(), String>;
    /// Abandons the recording (nothing is left behind).
    fn cancel(self: Box<Self>);
}

/// One piece of one media URI: `number:42` is several files, `sound:x` one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// A sound or recording file.
    File(std::path::PathBuf),
    /// A tone in indications syntax, played until stopped.
    Tone(String),
    /// A piece that cannot be played, and why.
    Missing(String),
}

/// One media URI of a playback, resolved into the parts to play in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayItem {
    pub uri: String,
    pub parts: Vec<Part>,
}

/// Opens the parts of media items as sources at a leg's rate.
pub trait SourceOpener: Send + Sync {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, String>;
}

/// Playback controls (ARI `/playbacks/{id}/control`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackOp {
    Restart,
    Pause,
    Unpause,
    Reverse,
    Forward,
}

/// Live recording controls (ARI `/recordings/live/{name}/...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordingOp {
    Stop,
    Cancel,
    Pause,
    Unpause,
    Mute,
    Unmute,
}

/// Which DTMF digits end a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TerminateOn {
    #[default]
    None,
    Any,
    Star,
    Pound,
}

impl TerminateOn {
    fn matches(self, digit: char) -> bool {
        match self {
            TerminateOn::None => false,
            TerminateOn::Any => true,
            TerminateOn::Star => digit == '*',
            TerminateOn::Pound => digit == '#',
        }
    }
}

/// A recording to start on a leg.
pub struct RecordRequest {
    pub name: Arc<str>,
    pub leg: LegId,
    pub sink: Box<dyn Sink>,
    /// 0: unlimited.
    pub max_duration_ms: u64,
    /// 0: no silence detection.
    pub max_silence_ms: u64,
    pub terminate_on: TerminateOn,
}

/// What the core tells the engine.
pub enum Command {
    AddLeg {
        id: LegId,
        rate: Rate,
    },
    /// The two halves of a Local channel: each reads what the other writes.
    Pair {
        a: LegId,
        b: LegId,
    },
    /// The channel is gone: its playbacks end, its recordings finish.
    RemoveLeg {
        id: LegId,
    },
    Play {
        id: Arc<str>,
        leg: LegId,
        items: Vec<PlayItem>,
        offset_ms: u64,
        skip_ms: u64,
    },
    StopPlayback {
        id: Arc<str>,
    },
    ControlPlayback {
        id: Arc<str>,
        op: PlaybackOp,
    },
    Record(RecordRequest),
    ControlRecording {
        name: Arc<str>,
        op: RecordingOp,
    },
    /// A digit arrived on a leg (for recordings' `terminateOn`).
    DtmfReceived {
        leg: LegId,
        digit: char,
    },
    /// Mutes what a leg reads (`inbound`) and what it writes (`outbound`).
    Mute {
        leg: LegId,
        inbound: bool,
        outbound: bool,
    },
}

/// The state a playback reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaybackState {
    Playing,
    Continuing,
    Done,
    Failed,
}

/// The state a recording reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingState {
    Recording,
    Done,
    Canceled,
    Failed(String),
}

/// What the engine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    Playback {
        id: Arc<str>,
        state: PlaybackState,
        media_uri: String,
        next_media_uri: Option<String>,
    },
    Recording {
        name: Arc<str>,
        state: RecordingState,
        duration_ms: u64,
    },
}

/// Hears what the engine reports; called on the engine thread.
pub trait MediaListener: Send + Sync {
    fn media_event(&self, event: MediaEvent);
}

/// Counters of the engine's clock.
#[derive(Debug, Default)]
pub struct MediaStats {
    pub ticks: AtomicU64,
    /// Ticks that started more than one frame late.
    pub late_ticks: AtomicU64,
}

/// A handle to the engine thread; the thread ends when every handle is dropped.
#[derive(Clone)]
pub struct MediaEngine {
    commands: Arc<Mutex<mpsc::Sender<Command>>>,
    pub stats: Arc<MediaStats>,
}

impl std::fmt::Debug for MediaEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaEngine").finish_non_exhaustive()
    }
}

impl MediaEngine {
    /// Starts the engine thread.
    pub fn start(
        opener: Arc<dyn SourceOpener>,
        listener: Arc<dyn MediaListener>,
    ) -> std::io::Result<MediaEngine> {
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(MediaStats::default());
        let clock_stats = stats.clone();
        std::thread::Builder::new()
            .name("wari-media".into())
            .spawn(move || {
                let mut graph = Graph::new(opener, listener);
                run_clock(&rx, &mut graph, &clock_stats);
            })?;
        Ok(MediaEngine {
            commands: Arc::new(Mutex::new(tx)),
            stats,
        })
    }

    /// Queues a command for the next tick.
    pub fn send(&self, command: Command) {
        if let Ok(tx) = self.commands.lock() {
            let _ = tx.send(command);
        }
    }
}

fn run_clock(rx: &mpsc::Receiver<Command>, graph: &mut Graph, stats: &MediaStats) {
    let period = Duration::from_millis(u64::from(FRAME_MS));
    let mut next = Instant::now() + period;
    loop {
        loop {
            match rx.try_recv() {
                Ok(command) => graph.apply(command),
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => return,
            }
        }
        graph.tick();
        stats.ticks.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        if now < next {
            // Sleep until the next tick; commands wait in the queue until then. Not blocking
            // in `recv` means a sender never has to wake this thread: creating a channel
            // (which adds a leg) costs the caller no system call.
            std::thread::sleep(next - now);
        } else if now - next > period {
            stats.late_ticks.fetch_add(1, Ordering::Relaxed);
            // Too far behind to catch up frame by frame: resynchronise.
            next = now;
        }
        next += period;
    }
}

struct Playing {
    item: PlayItem,
    part: usize,
    source: Option<Box<dyn Source>>,
    failed: bool,
}

struct Playback {
    id: Arc<str>,
    items: VecDeque<PlayItem>,
    current: Option<Playing>,
    started: bool,
    paused: bool,
    offset_ms: u64,
    skip_ms: u64,
    last_failed: bool,
}

struct Recording {
    name: Arc<str>,
    sink: Option<Box<dyn Sink>>,
    max_duration_ms: u64,
    max_silence_ms: u64,
    terminate_on: TerminateOn,
    recorded_ms: u64,
    silent_ms: u64,
    paused: bool,
    muted: bool,
}

struct Leg {
    rate: Rate,
    peer: Option<LegId>,
    playbacks: VecDeque<Playback>,
    recordings: Vec<Recording>,
    muted_in: bool,
    muted_out: bool,
    /// What the leg wrote this tick.
    out: Option<AudioFrame>,
}

struct Graph {
    legs: HashMap<LegId, Leg>,
    opener: Arc<dyn SourceOpener>,
    listener: Arc<dyn MediaListener>,
    events: Vec<MediaEvent>,
}

impl Graph {
    fn new(opener: Arc<dyn SourceOpener>, listener: Arc<dyn MediaListener>) -> Graph {
        Graph {
            legs: HashMap::new(),
            opener,
            listener,
            events: Vec::new(),
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::AddLeg { id, rate } => {
                self.legs.entry(id).or_insert(Leg {
                    rate,
                    peer: None,
                    playbacks: VecDeque::new(),
                    recordings: Vec::new(),
                    muted_in: false,
                    muted_out: false,
                    out: None,
                });
            }
            Command::Pair { a, b } => {
                if let Some(leg) = self.legs.get_mut(&a) {
                    leg.peer = Some(b.clone());
                }
                if let Some(leg) = self.legs.get_mut(&b) {
                    leg.peer = Some(a);
                }
            }
            Command::RemoveLeg { id } => {
                if let Some(mut leg) = self.legs.remove(&id) {
                    for playback in leg.playbacks.drain(..) {
                        self.events.push(finished(&playback, playback.last_failed));
                    }
                    for recording in leg.recordings.drain(..) {
                        self.events
                            .push(end_recording(recording, RecordingOp::Stop));
                    }
                }
            }
            Command::Play {
                id,
                leg,
                items,
                offset_ms,
                skip_ms,
            } => {
                let playback = Playback {
                    id,
                    items: items.into(),
                    current: None,
                    started: false,
                    paused: false,
                    offset_ms,
                    skip_ms,
                    last_failed: false,
                };
                match self.legs.get_mut(&leg) {
                    Some(leg) => leg.playbacks.push_back(playback),
                    None => self.events.push(finished(&playback, true)),
                }
            }
            Command::StopPlayback { id } => {
                for leg in self.legs.values_mut() {
                    if let Some(at) = leg.playbacks.iter().position(|p| p.id == id)
                        && let Some(playback) = leg.playbacks.remove(at)
                    {
                        self.events.push(finished(&playback, false));
                    }
                }
            }
            Command::ControlPlayback { id, op } => {
                let playback = self
                    .legs
                    .values_mut()
                    .flat_map(|l| l.playbacks.iter_mut())
                    .find(|p| p.id == id);
                if let Some(playback) = playback {
                    let skip = i64::try_from(playback.skip_ms).unwrap_or(i64::MAX);
                    let source = playback.current.as_mut().and_then(|c| c.source.as_mut());
                    match op {
                        PlaybackOp::Pause => playback.paused = true,
                        PlaybackOp::Unpause => {
                            if playback.paused {
                                playback.paused = false;
                                self.events.push(MediaEvent::Playback {
                                    id: playback.id.clone(),
                                    state: PlaybackState::Playing,
                                    media_uri: playback
                                        .current
                                        .as_ref()
                                        .map(|c| c.item.uri.clone())
                                        .unwrap_or_default(),
                                    next_media_uri: playback.items.front().map(|i| i.uri.clone()),
                                });
                            }
                        }
                        PlaybackOp::Restart => {
                            if let Some(source) = source {
                                source.restart();
                            }
                        }
                        PlaybackOp::Reverse => {
                            if let Some(source) = source {
                                source.skip(-skip);
                            }
                        }
                        PlaybackOp::Forward => {
                            if let Some(source) = source {
                                source.skip(skip);
                            }
                        }
                    }
                }
            }
            Command::Record(request) => {
                let recording = Recording {
                    name: request.name,
                    sink: Some(request.sink),
                    max_duration_ms: request.max_duration_ms,
                    max_silence_ms: request.max_silence_ms,
                    terminate_on: request.terminate_on,
                    recorded_ms: 0,
                    silent_ms: 0,
                    paused: false,
                    muted: false,
                };
                match self.legs.get_mut(&request.leg) {
                    Some(leg) => {
                        self.events.push(MediaEvent::Recording {
                            name: recording.name.clone(),
                            state: RecordingState::Recording,
                            duration_ms: 0,
                        });
                        leg.recordings.push(recording);
                    }
                    None => {
                        let name = recording.name.clone();
                        if let Some(sink) = recording.sink {
                            sink.cancel();
                        }
                        self.events.push(MediaEvent::Recording {
                            name,
                            state: RecordingState::Failed("Channel is gone".into()),
                            duration_ms: 0,
                        });
                    }
                }
            }
            Command::ControlRecording { name, op } => {
                for leg in self.legs.values_mut() {
                    let Some(at) = leg.recordings.iter().position(|r| r.name == name) else {
                        continue;
                    };
                    match op {
                        RecordingOp::Pause => leg.recordings[at].paused = true,
                        RecordingOp::Unpause => leg.recordings[at].paused = false,
                        RecordingOp::Mute => leg.recordings[at].muted = true,
                        RecordingOp::Unmute => leg.recordings[at].muted = false,
                        RecordingOp::Stop | RecordingOp::Cancel => {
                            let recording = leg.recordings.remove(at);
                            self.events.push(end_recording(recording, op));
                        }
                    }
                }
            }
            Command::DtmfReceived { leg, digit } => {
                if let Some(leg) = self.legs.get_mut(&leg) {
                    let (ended, kept): (Vec<_>, Vec<_>) = leg
                        .recordings
                        .drain(..)
                        .partition(|r| r.terminate_on.matches(digit));
                    leg.recordings = kept;
                    for recording in ended {
                        self.events
                            .push(end_recording(recording, RecordingOp::Stop));
                    }
                }
            }
            Command::Mute {
                leg,
                inbound,
                outbound,
            } => {
                if let Some(leg) = self.legs.get_mut(&leg) {
                    leg.muted_in = inbound;
                    leg.muted_out = outbound;
                }
            }
        }
        self.flush_events();
    }

    /// One 20 ms step of every leg.
    fn tick(&mut self) {
        let ids: Vec<LegId> = self.legs.keys().cloned().collect();
        // 1. What every leg writes.
        for id in &ids {
            let opener = self.opener.clone();
            let Some(leg) = self.legs.get_mut(id) else {
                continue;
            };
            let rate = leg.rate;
            let mut out = None;
            while let Some(playback) = leg.playbacks.front_mut() {
                match step_playback(playback, rate, &*opener, &mut self.events) {
                    Step::Frame(frame) => {
                        out = Some(frame);
                        break;
                    }
                    Step::Paused => break,
                    Step::Ended(failed) => {
                        if let Some(playback) = leg.playbacks.pop_front() {
                            self.events.push(finished(&playback, failed));
                        }
                    }
                }
            }
            if leg.muted_out {
                out = out.map(|_| AudioFrame::silence(rate));
            }
            leg.out = out;
        }
        // 2. What every leg reads: its peer's output, or silence.
        for id in &ids {
            let Some(leg) = self.legs.get(id) else {
                continue;
            };
            if leg.recordings.is_empty() {
                continue;
            }
            let rate = leg.rate;
            let heard = match &leg.peer {
                Some(peer) => self.legs.get(peer).and_then(|p| p.out.clone()),
                None => None,
            };
            let muted = leg.muted_in;
            let Some(leg) = self.legs.get_mut(id) else {
                continue;
            };
            let frame = match heard {
                Some(frame) if !muted && frame.rate() == rate => frame,
                _ => AudioFrame::silence(rate),
            };
            let mut ended = Vec::new();
            for (at, recording) in leg.recordings.iter_mut().enumerate() {
                if let Some(reason) = record_frame(recording, &frame) {
                    ended.push((at, reason));
                }
            }
            for (at, reason) in ended.into_iter().rev() {
                let recording = leg.recordings.remove(at);
                let event = match reason {
                    Ok(()) => end_recording(recording, RecordingOp::Stop),
                    Err(cause) => fail_recording(recording, cause),
                };
                self.events.push(event);
            }
        }
        self.flush_events();
    }

    fn flush_events(&mut self) {
        for event in self.events.drain(..) {
            self.listener.media_event(event);
        }
    }
}

// A frame is moved out once per tick; boxing it would allocate per frame.
#[allow(clippy::large_enum_variant)]
enum Step {
    Frame(AudioFrame),
    Paused,
    /// The playback has nothing more to play; true when its last item failed.
    Ended(bool),
}

fn step_playback(
    playback: &mut Playback,
    rate: Rate,
    opener: &dyn SourceOpener,
    events: &mut Vec<MediaEvent>,
) -> Step {
    if playback.paused {
        return Step::Paused;
    }
    loop {
        if playback.current.is_none() {
            let Some(item) = playback.items.pop_front() else {
                return Step::Ended(playback.last_failed);
            };
            let state = if playback.started {
                PlaybackState::Continuing
            } else {
                PlaybackState::Playing
            };
            playback.started = true;
            events.push(MediaEvent::Playback {
                id: playback.id.clone(),
                state,
                media_uri: item.uri.clone(),
                next_media_uri: playback.items.front().map(|i| i.uri.clone()),
            });
            playback.current = Some(Playing {
                item,
                part: 0,
                source: None,
                failed: false,
            });
        }
        let Some(current) = playback.current.as_mut() else {
            continue;
        };
        if current.source.is_none() {
            let Some(part) = current.item.parts.get(current.part) else {
                // Every part played (or failed): the item is over.
                playback.last_failed = current.failed || current.item.parts.is_empty();
                playback.current = None;
                continue;
            };
            match opener.open(part, rate) {
                Ok(mut source) => {
                    if playback.offset_ms > 0 {
                        source.skip(i64::try_from(playback.offset_ms).unwrap_or(i64::MAX));
                        playback.offset_ms = 0;
                    }
                    current.source = Some(source);
                }
                Err(reason) => {
                    tracing::info!(playback = %playback.id, uri = %current.item.uri, %reason, "media cannot be played: skipped");
                    current.failed = true;
                    current.part += 1;
                    continue;
                }
            }
        }
        if let Some(source) = current.source.as_mut() {
            if let Some(frame) = source.next_frame() {
                return Step::Frame(frame);
            }
            current.source = None;
            current.part += 1;
        }
    }
}

/// Writes one frame; `Some(Ok)` when the recording reached a limit, `Some(Err)` when it failed.
fn record_frame(recording: &mut Recording, frame: &AudioFrame) -> Option<Result<(), String>> {
    if recording.paused {
        return None;
    }
    let silence;
    let frame = if recording.muted {
        silence = AudioFrame::silence(frame.rate());
        &silence
    } else {
        frame
    };
    let sink = recording.sink.as_mut()?;
    if let Err(e) = sink.write(frame) {
        return Some(Err(e));
    }
    recording.recorded_ms += u64::from(FRAME_MS);
    if recording.max_silence_ms > 0 {
        if is_quiet(frame) {
            recording.silent_ms += u64::from(FRAME_MS);
            if recording.silent_ms >= recording.max_silence_ms {
                return Some(Ok(()));
            }
        } else {
            recording.silent_ms = 0;
        }
    }
    if recording.max_duration_ms > 0 && recording.recorded_ms >= recording.max_duration_ms {
        return Some(Ok(()));
    }
    None
}

/// Below about -50 dBFS on average.
fn is_quiet(frame: &AudioFrame) -> bool {
    let samples = frame.samples();
    let energy: u64 = samples
        .iter()
        .map(|s| u64::from(s.unsigned_abs()))
        .sum::<u64>();
    energy / (samples.len().max(1) as u64) < 100
}

fn finished(playback: &Playback, failed: bool) -> MediaEvent {
    let uri = playback
        .current
        .as_ref()
        .map(|c| c.item.uri.clone())
        .unwrap_or_default();
    MediaEvent::Playback {
        id: playback.id.clone(),
        state: if failed {
            PlaybackState::Failed
        } else {
            PlaybackState::Done
        },
        media_uri: uri,
        next_media_uri: None,
    }
}

fn end_recording(mut recording: Recording, op: RecordingOp) -> MediaEvent {
    let state = match recording.sink.take() {
        Some(sink) if op == RecordingOp::Cancel => {
            sink.cancel();
            RecordingState::Canceled
        }
        Some(sink) => match sink.finish() {
            Ok(()) => RecordingState::Done,
            Err(cause) => RecordingState::Failed(cause),
        },
        None => RecordingState::Canceled,
    };
    MediaEvent::Recording {
        name: recording.name.clone(),
        state,
        duration_ms: recording.recorded_ms,
    }
}

fn fail_recording(mut recording: Recording, cause: String) -> MediaEvent {
    if let Some(sink) = recording.sink.take() {
        sink.cancel();
    }
    MediaEvent::Recording {
        name: recording.name.clone(),
        state: RecordingState::Failed(cause),
        duration_ms: recording.recorded_ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `frames` frames of one constant sample value.
    struct Constant {
        value: i16,
        left: usize,
        total: usize,
        rate: Rate,
    }

    impl Source for Constant {
        fn next_frame(&mut self) -> Option<AudioFrame> {
            if self.left == 0 {
                return None;
            }
            self.left -= 1;
            let samples = vec![self.value; self.rate.samples_per_frame()];
            AudioFrame::from_samples(self.rate, &samples).ok()
        }

        fn restart(&mut self) {
            self.left = self.total;
        }
    }

    /// `File("N:V")` plays N frames of value V; anything else is missing.
    struct Opener;

    impl SourceOpener for Opener {
        fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, String> {
            let Part::File(path) = part else {
                return Err("not a file".into());
            };
            let text = path.to_string_lossy();
            let (n, v) = text.split_once(':').ok_or("no such file")?;
            let total = n.parse().map_err(|_| "bad count")?;
            Ok(Box::new(Constant {
                value: v.parse().map_err(|_| "bad value")?,
                left: total,
                total,
                rate,
            }))
        }
    }

    struct Events(Mutex<mpsc::Sender<MediaEvent>>);

    impl MediaListener for Events {
        fn media_event(&self, event: MediaEvent) {
            if let Ok(tx) = self.0.lock() {
                let _ = tx.send(event);
            }
        }
    }

    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<(Vec<i16>, bool)>>);

    impl Sink for Collected {
        fn write(&mut self, frame: &AudioFrame) -> Result<(), String> {
            let mut inner = self.0.lock().map_err(|_| "poisoned")?;
            inner.0.push(frame.samples()[0]);
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), String> {
            self.0.lock().map_err(|_| "poisoned")?.1 = true;
            Ok(())
        }
        fn cancel(self: Box<Self>) {}
    }

    fn engine() -> (MediaEngine, mpsc::Receiver<MediaEvent>) {
        let (tx, rx) = mpsc::channel();
        let engine = MediaEngine::start(Arc::new(Opener), Arc::new(Events(Mutex::new(tx))))
            .expect("engine thread");
        (engine, rx)
    }

    fn next(rx: &mpsc::Receiver<MediaEvent>) -> MediaEvent {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s")
    }

    fn file(spec: &str) -> Part {
        Part::File(spec.into())
    }

    fn legs(engine: &MediaEngine) {
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

    #[test]
    fn what_plays_on_one_half_is_recorded_on_the_other() {
        let (engine, rx) = engine();
        legs(&engine);
        let sink = Collected::default();
        engine.send(Command::Record(RecordRequest {
            name: "r".into(),
            leg: "b".into(),
            sink: Box::new(sink.clone()),
            max_duration_ms: 0,
            max_silence_ms: 0,
            terminate_on: TerminateOn::Pound,
        }));
        assert!(matches!(
            next(&rx),
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        ));
        engine.send(Command::Play {
            id: "p".into(),
            leg: "a".into(),
            items: vec![
                PlayItem {
                    uri: "sound:one".into(),
                    parts: vec![file("3:7")],
                },
                PlayItem {
                    uri: "sound:two".into(),
                    parts: vec![file("2:9")],
                },
            ],
            offset_ms: 0,
            skip_ms: 3000,
        });
        let started = next(&rx);
        assert_eq!(
            started,
            MediaEvent::Playback {
                id: "p".into(),
                state: PlaybackState::Playing,
                media_uri: "sound:one".into(),
                next_media_uri: Some("sound:two".into()),
            }
        );
        assert!(
            matches!(next(&rx), MediaEvent::Playback { state: PlaybackState::Continuing, ref media_uri, .. } if media_uri == "sound:two")
        );
        assert!(matches!(
            next(&rx),
            MediaEvent::Playback {
                state: PlaybackState::Done,
                ..
            }
        ));
        engine.send(Command::DtmfReceived {
            leg: "b".into(),
            digit: '#',
        });
        let MediaEvent::Recording {
            state, duration_ms, ..
        } = next(&rx)
        else {
            panic!("the recording ends on #");
        };
        assert_eq!(state, RecordingState::Done);
        let (samples, finished) = sink.0.lock().expect("lock").clone();
        assert!(finished);
        assert_eq!(duration_ms, 20 * samples.len() as u64);
        let heard: Vec<i16> = samples.into_iter().filter(|s| *s != 0).collect();
        assert_eq!(
            heard,
            vec![7, 7, 7, 9, 9],
            "both items, in order, frame for frame"
        );
    }

    #[test]
    fn a_playback_of_missing_media_fails_instead_of_hanging() {
        let (engine, rx) = engine();
        legs(&engine);
        engine.send(Command::Play {
            id: "p".into(),
            leg: "a".into(),
            items: vec![PlayItem {
                uri: "sound:nothing".into(),
                parts: vec![Part::Missing("no such sound".into())],
            }],
            offset_ms: 0,
            skip_ms: 3000,
        });
        assert!(matches!(
            next(&rx),
            MediaEvent::Playback {
                state: PlaybackState::Playing,
                ..
            }
        ));
        assert!(matches!(
            next(&rx),
            MediaEvent::Playback {
                state: PlaybackState::Failed,
                ..
            }
        ));
    }

    #[test]
    fn a_recording_stops_at_its_maximum_duration_and_hangup_ends_playbacks() {
        let (engine, rx) = engine();
        legs(&engine);
        engine.send(Command::Record(RecordRequest {
            name: "r".into(),
            leg: "b".into(),
            sink: Box::new(Collected::default()),
            max_duration_ms: 100,
            max_silence_ms: 0,
            terminate_on: TerminateOn::None,
        }));
        assert!(matches!(
            next(&rx),
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        ));
        assert_eq!(
            next(&rx),
            MediaEvent::Recording {
                name: "r".into(),
                state: RecordingState::Done,
                duration_ms: 100,
            }
        );
        engine.send(Command::Play {
            id: "long".into(),
            leg: "a".into(),
            items: vec![PlayItem {
                uri: "sound:long".into(),
                parts: vec![file("100000:1")],
            }],
            offset_ms: 0,
            skip_ms: 3000,
        });
        assert!(matches!(
            next(&rx),
            MediaEvent::Playback {
                state: PlaybackState::Playing,
                ..
            }
        ));
        engine.send(Command::RemoveLeg { id: "a".into() });
        assert!(matches!(
            next(&rx),
            MediaEvent::Playback {
                state: PlaybackState::Done,
                ..
            }
        ));
    }
}
