//! The media engine: one thread with a 20 ms clock that moves audio frames between legs.
//!
//! A leg is the media side of one channel. Every tick, each leg's *outgoing* frame (what
//! its far end hears) comes from the playback at the head of its queue, or silence. A leg
//! paired with another (the two halves of a Local channel) *reads* what its peer wrote; a
//! leg with no peer (a Test phone) reads silence. Recordings on a leg write what it reads.
//!
//! A leg whose far end is outside wari (external media) has an [`Edge`]: every tick the
//! edge is given what the leg wrote (silence if nothing) and gives back what the leg reads
//! (silence if nothing arrived). Edges poll their sockets without blocking the clock.
//!
//! The core drives the engine with [`Command`]s (never blocking: commands are queued and
//! applied at the start of the next tick) and hears back through a [`MediaListener`],
//! called from the engine thread with no engine state borrowed. Opening files and tone
//! generators is left to a [`SourceOpener`], so the engine itself does no path handling.
//!
//! Bridges: a mixing bridge has a [`Mixer`] with one slot per member leg. Every tick each
//! member's *incoming* audio (what the leg reads: its peer's output, or silence) is pushed
//! into the mixer, and each member's *outgoing* frame is the N-1 mix of the previous tick
//! (one tick, 20 ms, of delay through a bridge). A member whose own playback queue is
//! playing hears that playback instead of the bridge (a channel playback while bridged
//! reaches only that participant); the others still hear the member. Music on hold or
//! silence started on a member's leg likewise replaces the mix for that member only.
//! Bridge playbacks (the announcer) and bridge music on hold are extra slots in the mix
//! that everybody hears; a bridge recording is a slot that pushes nothing and so hears the
//! whole mix. In a `holding` bridge members' audio is not mixed: they hear only what is
//! played to the bridge. Mute: `inbound` keeps a leg's audio out of the mix (and out of its
//! recordings), `outbound` makes it hear silence.
//!
//! Snoops: a snoop leg reads what it spies of its target instead of a peer's audio, and
//! what it writes is whispered into its target ([`super::snoop`] has the rules).
//! DTMF travels with the audio (see `dtmf`): a digit sent on a leg is written as its dual
//! tone, and once the tone is over the peer is reported to have received the digit;
//! digits pressed at a leg's far end (Test phones) are read by the leg as tones, then
//! reported as received on the leg.
//!
//! Nothing on the clock waits for a disk: files are decoded by the [`SourceOpener`]'s own
//! loader, and ended recordings are completed (fsynced, renamed into place) or removed by
//! a finisher thread (see `finisher`), which reports their end.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::detect::SilenceDetector;
use super::external::Edge;
use super::frame::{AudioFrame, FRAME_MS, Rate};
use super::mixer::{Mixer, SlotId};
use super::snoop::{Tap, TapLegs, Taps, mix_into};

mod beep;
mod dtmf;
mod finisher;

use finisher::{Ending, Finish};
#[cfg(test)]
pub(super) mod test_support;

/// Mean absolute sample below which a recorded frame counts as silence (about -50 dBFS)
/// for `maxSilenceSeconds`.
const QUIET_MEAN_ABS: u32 = 100;

/// A channel's media leg, by channel id.
pub type LegId = Arc<str>;

/// A bridge, by bridge id.
pub type BridgeKey = Arc<str>;

/// Where a playback plays or a recording records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A channel's leg: a playback is what it writes, a recording what it reads.
    Leg(LegId),
    /// A bridge: a playback is mixed into every member's output (the announcer), a
    /// recording hears everybody.
    Bridge(BridgeKey),
}

/// What a leg plays when it has no playback: music on hold or silence.
pub enum Hold {
    Moh(Box<dyn Source>),
    Silence,
}

/// Which hold generator to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldKind {
    Moh,
    Silence,
}

/// Something that produces audio, one frame at a time.
pub trait Source: Send {
    /// The next frame, or `None` once the source has ended.
    fn next_frame(&mut self) -> Option<AudioFrame>;
    /// Moves the position by `delta_ms` (negative: back), clamped to the source.
    fn skip(&mut self, _delta_ms: i64) {}
    /// Back to the start.
    fn restart(&mut self) {}
    /// Why the source ended early (it could not be read), once `next_frame` gave `None`.
    fn failure(&self) -> Option<&str> {
        None
    }
}

/// Something that consumes audio: a recording file.
pub trait Sink: Send {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), String>;
    /// True once the sink will take no more (its owner's disk quota is used up): the
    /// recording then stops as at its maximum duration, its file kept.
    fn full(&self) -> bool {
        false
    }
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

/// A recording to start on a leg or a bridge.
pub struct RecordRequest {
    pub name: Arc<str>,
    pub target: Target,
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
    /// A playback on a leg (stopping its music on hold or silence) or on a bridge (at
    /// `rate`, the announcer's rate; a leg plays at its own).
    Play {
        id: Arc<str>,
        target: Target,
        items: Vec<PlayItem>,
        offset_ms: u64,
        skip_ms: u64,
        rate: Rate,
    },
    StopPlayback {
        id: Arc<str>,
    },
    ControlPlayback {
        id: Arc<str>,
        op: PlaybackOp,
    },
    Record(RecordRequest),
    /// A recording that first plays `beep` to its target (a leg's peer, a bridge's
    /// members) and records nothing until the beep has ended.
    RecordAfterBeep {
        request: RecordRequest,
        beep: Part,
    },
    ControlRecording {
        name: Arc<str>,
        op: RecordingOp,
    },
    /// A digit sent out on a leg: the leg writes its dual tone for `duration_ms` (instead of
    /// anything else), then its peer is reported to have received it
    /// ([`MediaEvent::Dtmf`]), in order with the audio it read.
    SendDtmf {
        leg: LegId,
        digit: char,
        duration_ms: u32,
    },
    /// A digit pressed at a leg's far end (a Test phone's keys): after `quiet_ms` the leg
    /// reads its dual tone for `duration_ms`, then the leg itself is reported to have
    /// received it ([`MediaEvent::Dtmf`]). Digits queue one after another.
    FarEndDtmf {
        leg: LegId,
        digit: char,
        duration_ms: u32,
        quiet_ms: u32,
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
    /// A bridge: `mixing` members hear each other, holding ones only the bridge's media.
    AddBridge {
        id: BridgeKey,
        mixing: bool,
    },
    /// The bridge is gone: members leave it, its playbacks end, its recordings finish.
    RemoveBridge {
        id: BridgeKey,
    },
    /// A leg joins a bridge (leaving any other first).
    JoinBridge {
        bridge: BridgeKey,
        leg: LegId,
    },
    /// A leg leaves its bridge.
    LeaveBridge {
        leg: LegId,
    },
    /// Music on hold or silence on a leg, until stopped or a playback starts.
    StartHold {
        leg: LegId,
        hold: Hold,
    },
    /// Stops a leg's music on hold or silence (nothing if the other kind is running).
    StopHold {
        leg: LegId,
        kind: HoldKind,
    },
    /// Music on hold for a whole bridge (`None` stops it).
    BridgeMoh {
        bridge: BridgeKey,
        source: Option<Box<dyn Source>>,
    },
    /// The leg's far end is outside wari: every tick what the leg writes goes to `edge`,
    /// and what the leg reads comes from it (silence when nothing arrived). Removing the
    /// leg drops the edge.
    AttachEdge {
        leg: LegId,
        edge: Box<dyn Edge>,
    },
    /// A snoop leg starts spying on and/or whispering to its target (see
    /// [`super::snoop`]); it stops when either leg is removed.
    Snoop(Tap),
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
        /// Of `duration_ms`, how long was not silence: measured only for recordings that
        /// end on silence (`max_silence_ms`), as Asterisk reports `talking_duration`.
        talking_ms: Option<u64>,
    },
    /// A complete digit arrived on `leg` (its peer sent it; its tone has been read).
    Dtmf {
        leg: LegId,
        digit: char,
        duration_ms: u32,
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
    /// Ticks whose frames were not ready by the end of their 20 ms slot (late frames).
    pub late_ticks: AtomicU64,
    /// Time spent computing ticks, in microseconds (the engine's load).
    pub busy_micros: AtomicU64,
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
        let began = Instant::now();
        graph.tick();
        stats.ticks.fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let busy = u64::try_from((now - began).as_micros()).unwrap_or(u64::MAX);
        stats.busy_micros.fetch_add(busy, Ordering::Relaxed);
        if now > next {
            stats.late_ticks.fetch_add(1, Ordering::Relaxed);
        }
        if now < next {
            // Sleep until the next tick; commands wait in the queue until then. Not blocking
            // in `recv` means a sender never has to wake this thread: creating a channel
            // (which adds a leg) costs the caller no system call.
            std::thread::sleep(next - now);
        } else if now - next > period {
            // The ticks skipped are frames never produced: late too.
            let missed = (now - next).as_micros() / period.as_micros().max(1);
            stats
                .late_ticks
                .fetch_add(u64::try_from(missed).unwrap_or(u64::MAX), Ordering::Relaxed);
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
    /// The URI of the item that played last, once one has ended.
    previous_uri: Option<String>,
    paused: bool,
    offset_ms: u64,
    skip_ms: u64,
    last_failed: bool,
}

struct Recording {
    name: Arc<str>,
    sink: Box<dyn Sink>,
    max_duration_ms: u64,
    max_silence_ms: u64,
    terminate_on: TerminateOn,
    recorded_ms: u64,
    /// The current run of silence, for `max_silence_ms`.
    silence: SilenceDetector,
    paused: bool,
    muted: bool,
    /// The beep still to play before anything is recorded.
    beep: Option<beep::Beep>,
}

struct Leg {
    rate: Rate,
    peer: Option<LegId>,
    playbacks: VecDeque<Playback>,
    recordings: Vec<Recording>,
    muted_in: bool,
    muted_out: bool,
    /// Music on hold or silence, when no playback plays.
    hold: Option<Hold>,
    /// The bridge the leg is in, and its slot in the bridge's mixer.
    bridge: Option<(BridgeKey, SlotId)>,
    /// What the leg wrote this tick.
    out: Option<AudioFrame>,
    /// The far end outside wari, if any (external media). Boxed: few legs have one, and
    /// a leg is kept per channel.
    edge: Option<Box<EdgeLink>>,
    /// Digits being sent (see `dtmf`).
    dtmf_out: dtmf::DigitQueue,
    /// Digits pressed at the far end (see `dtmf`).
    dtmf_in: dtmf::DigitQueue,
    /// What the leg reads this tick of its far end's digits.
    far_in: Option<Box<AudioFrame>>,
}

/// A leg's far end outside wari and what it sent this tick.
struct EdgeLink {
    edge: Box<dyn Edge>,
    /// What the edge gave the leg to read this tick.
    heard: Option<AudioFrame>,
}

impl Leg {
    fn new(rate: Rate) -> Leg {
        Leg {
            rate,
            peer: None,
            playbacks: VecDeque::new(),
            recordings: Vec::new(),
            muted_in: false,
            muted_out: false,
            hold: None,
            bridge: None,
            out: None,
            edge: None,
            dtmf_out: dtmf::DigitQueue::default(),
            dtmf_in: dtmf::DigitQueue::default(),
            far_in: None,
        }
    }
}

/// A bridge's media: the mixer, the announcer's playbacks, music on hold, recordings.
struct MixBridge {
    mixing: bool,
    mixer: Mixer,
    playbacks: VecDeque<Playback>,
    /// The announcer's slot and rate while bridge playbacks are queued.
    announcer: Option<(SlotId, Rate)>,
    moh: Option<(Box<dyn Source>, SlotId)>,
    recordings: Vec<Recording>,
    /// A slot that pushes nothing: it hears the whole mix.
    recorder: Option<SlotId>,
}

impl MixBridge {
    fn new(mixing: bool) -> MixBridge {
        MixBridge {
            mixing,
            mixer: Mixer::new(),
            playbacks: VecDeque::new(),
            announcer: None,
            moh: None,
            recordings: Vec::new(),
            recorder: None,
        }
    }
}

struct Graph {
    /// Boxed: the map then holds pointers, so its spare capacity costs 8 bytes a slot
    /// rather than a whole leg (a leg carries a frame inline).
    legs: HashMap<LegId, Box<Leg>>,
    bridges: HashMap<BridgeKey, MixBridge>,
    opener: Arc<dyn SourceOpener>,
    listener: Arc<dyn MediaListener>,
    events: Vec<MediaEvent>,
    /// Recordings ended this tick, handed to the finisher once the tick's events are out.
    finishing: Vec<Finish>,
    finisher: finisher::Finisher,
    /// Per-tick scratch (kept to avoid allocating): legs and what they read.
    heard: Vec<(LegId, AudioFrame)>,
    /// Snoop legs and their targets.
    taps: Taps,
    /// The legs with an edge (few): the tick exchanges frames with these only.
    edged: Vec<LegId>,
    /// The leg or bridge of every live playback (by id) and recording (by name), so a
    /// command naming one goes straight to it. An entry is added when the playback is
    /// queued or the recording starts, and removed when the playback's final event goes
    /// out or the recording goes to the finisher ([`Graph::flush_events`]), however it
    /// ended.
    playback_owners: HashMap<Arc<str>, Target>,
    recording_owners: HashMap<Arc<str>, Target>,
}

/// Takes a leg out of its bridge's mixer.
fn detach(bridges: &mut HashMap<BridgeKey, MixBridge>, leg: &mut Leg) {
    if let Some((bridge, slot)) = leg.bridge.take()
        && let Some(bridge) = bridges.get_mut(&bridge)
    {
        bridge.mixer.remove(slot);
    }
}

impl Graph {
    fn new(opener: Arc<dyn SourceOpener>, listener: Arc<dyn MediaListener>) -> Graph {
        Graph {
            legs: HashMap::new(),
            bridges: HashMap::new(),
            opener,
            finisher: finisher::Finisher::start(listener.clone()),
            listener,
            events: Vec::new(),
            finishing: Vec::new(),
            heard: Vec::new(),
            taps: Taps::default(),
            edged: Vec::new(),
            playback_owners: HashMap::new(),
            recording_owners: HashMap::new(),
        }
    }

    /// The playback queue of a leg or bridge.
    fn playbacks_of(&mut self, target: &Target) -> Option<&mut VecDeque<Playback>> {
        match target {
            Target::Leg(leg) => self.legs.get_mut(leg).map(|l| &mut l.playbacks),
            Target::Bridge(bridge) => self.bridges.get_mut(bridge).map(|b| &mut b.playbacks),
        }
    }

    /// The recordings of a leg or bridge.
    fn recordings_of(&mut self, target: &Target) -> Option<&mut Vec<Recording>> {
        match target {
            Target::Leg(leg) => self.legs.get_mut(leg).map(|l| &mut l.recordings),
            Target::Bridge(bridge) => self.bridges.get_mut(bridge).map(|b| &mut b.recordings),
        }
    }

    /// A live playback, found through its owner.
    fn playback_mut(&mut self, id: &str) -> Option<&mut Playback> {
        let owner = self.playback_owners.get(id)?.clone();
        self.playbacks_of(&owner)?.iter_mut().find(|p| &*p.id == id)
    }

    /// Starts a recording on its target (reported `Recording`), or fails it when the
    /// target is gone; with a `beep`, nothing is recorded until the beep has ended.
    fn start_recording(&mut self, request: RecordRequest, beep: Option<beep::Beep>) {
        let recording = Recording {
            name: request.name,
            sink: request.sink,
            max_duration_ms: request.max_duration_ms,
            max_silence_ms: request.max_silence_ms,
            terminate_on: request.terminate_on,
            recorded_ms: 0,
            silence: SilenceDetector::new(QUIET_MEAN_ABS),
            paused: false,
            muted: false,
            beep,
        };
        if let Target::Bridge(bridge) = &request.target
            && let Some(bridge) = self.bridges.get_mut(bridge)
            && bridge.recorder.is_none()
        {
            bridge.recorder = Some(bridge.mixer.add(Rate::Narrow8k));
        }
        match self.recordings_of(&request.target) {
            Some(recordings) => {
                let name = recording.name.clone();
                recordings.push(recording);
                self.recording_owners.insert(name.clone(), request.target);
                self.events.push(MediaEvent::Recording {
                    name,
                    state: RecordingState::Recording,
                    duration_ms: 0,
                    talking_ms: None,
                });
            }
            None => {
                let cause = match request.target {
                    Target::Leg(_) => "Channel is gone",
                    Target::Bridge(_) => "Bridge is gone",
                };
                self.finishing
                    .push(end_recording(recording, Ending::Failed(cause.into())));
            }
        }
    }

    fn apply(&mut self, command: Command) {
        match command {
            Command::AddLeg { id, rate } => {
                self.legs
                    .entry(id)
                    .or_insert_with(|| Box::new(Leg::new(rate)));
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
                self.taps.leg_removed(&id);
                if let Some(mut leg) = self.legs.remove(&id) {
                    if leg.edge.is_some() {
                        self.edged.retain(|e| *e != id);
                    }
                    detach(&mut self.bridges, &mut leg);
                    for playback in leg.playbacks.drain(..) {
                        self.events.push(finished(&playback, playback.last_failed));
                    }
                    for recording in leg.recordings.drain(..) {
                        self.finishing
                            .push(end_recording(recording, Ending::Stopped));
                    }
                }
            }
            Command::Play {
                id,
                target,
                items,
                offset_ms,
                skip_ms,
                rate,
            } => {
                let playback = Playback {
                    id,
                    items: items.into(),
                    current: None,
                    previous_uri: None,
                    paused: false,
                    offset_ms,
                    skip_ms,
                    last_failed: false,
                };
                match &target {
                    Target::Leg(leg) => {
                        if let Some(leg) = self.legs.get_mut(leg) {
                            // A playback ends music on hold and silence for good.
                            leg.hold = None;
                        }
                    }
                    Target::Bridge(bridge) => {
                        if let Some(bridge) = self.bridges.get_mut(bridge)
                            && bridge.announcer.is_none()
                        {
                            bridge.announcer = Some((bridge.mixer.add(rate), rate));
                        }
                    }
                }
                match self.playbacks_of(&target) {
                    Some(queue) => {
                        let id = playback.id.clone();
                        queue.push_back(playback);
                        self.playback_owners.insert(id, target);
                    }
                    None => self.events.push(finished(&playback, true)),
                }
            }
            Command::StopPlayback { id } => {
                if let Some(owner) = self.playback_owners.get(&id).cloned()
                    && let Some(queue) = self.playbacks_of(&owner)
                    && let Some(at) = queue.iter().position(|p| p.id == id)
                    && let Some(playback) = queue.remove(at)
                {
                    self.events.push(finished(&playback, false));
                }
            }
            Command::ControlPlayback { id, op } => {
                let mut events = std::mem::take(&mut self.events);
                if let Some(playback) = self.playback_mut(&id) {
                    control_playback(playback, op, &mut events);
                }
                self.events = events;
            }
            Command::Record(request) => self.start_recording(request, None),
            Command::RecordAfterBeep { request, beep } => self.record_after_beep(request, &beep),
            Command::ControlRecording { name, op } => {
                if let Some(owner) = self.recording_owners.get(&name).cloned()
                    && let Some(recordings) = self.recordings_of(&owner)
                    && let Some(at) = recordings.iter().position(|r| r.name == name)
                {
                    match op {
                        RecordingOp::Pause => recordings[at].paused = true,
                        RecordingOp::Unpause => recordings[at].paused = false,
                        RecordingOp::Mute => recordings[at].muted = true,
                        RecordingOp::Unmute => recordings[at].muted = false,
                        RecordingOp::Stop => {
                            let recording = recordings.remove(at);
                            self.finishing
                                .push(end_recording(recording, Ending::Stopped));
                        }
                        RecordingOp::Cancel => {
                            let recording = recordings.remove(at);
                            self.finishing
                                .push(end_recording(recording, Ending::Canceled));
                        }
                    }
                }
            }
            Command::SendDtmf {
                leg,
                digit,
                duration_ms,
            } => self.queue_digit(&leg, dtmf::Way::Sent, digit, duration_ms, 0),
            Command::FarEndDtmf {
                leg,
                digit,
                duration_ms,
                quiet_ms,
            } => self.queue_digit(&leg, dtmf::Way::FarEnd, digit, duration_ms, quiet_ms),
            Command::DtmfReceived { leg, digit } => self.dtmf_received(&leg, digit),
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
            Command::AddBridge { id, mixing } => {
                self.bridges
                    .entry(id)
                    .or_insert_with(|| MixBridge::new(mixing));
            }
            Command::RemoveBridge { id } => {
                if let Some(mut bridge) = self.bridges.remove(&id) {
                    for leg in self.legs.values_mut() {
                        if leg.bridge.as_ref().is_some_and(|(b, _)| *b == id) {
                            leg.bridge = None;
                        }
                    }
                    for playback in bridge.playbacks.drain(..) {
                        self.events.push(finished(&playback, playback.last_failed));
                    }
                    for recording in bridge.recordings.drain(..) {
                        self.finishing
                            .push(end_recording(recording, Ending::Stopped));
                    }
                }
            }
            Command::JoinBridge { bridge, leg } => {
                let Some(leg) = self.legs.get_mut(&leg) else {
                    return self.flush_events();
                };
                if leg.bridge.as_ref().is_some_and(|(b, _)| *b == bridge) {
                    return self.flush_events();
                }
                detach(&mut self.bridges, leg);
                if let Some(mix) = self.bridges.get_mut(&bridge) {
                    let slot = mix.mixer.add(leg.rate);
                    leg.bridge = Some((bridge, slot));
                }
            }
            Command::LeaveBridge { leg } => {
                if let Some(leg) = self.legs.get_mut(&leg) {
                    detach(&mut self.bridges, leg);
                }
            }
            Command::StartHold { leg, hold } => {
                if let Some(leg) = self.legs.get_mut(&leg) {
                    leg.hold = Some(hold);
                }
            }
            Command::StopHold { leg, kind } => {
                if let Some(leg) = self.legs.get_mut(&leg) {
                    let running = match leg.hold {
                        Some(Hold::Moh(_)) => Some(HoldKind::Moh),
                        Some(Hold::Silence) => Some(HoldKind::Silence),
                        None => None,
                    };
                    if running == Some(kind) {
                        leg.hold = None;
                    }
                }
            }
            Command::BridgeMoh { bridge, source } => {
                if let Some(bridge) = self.bridges.get_mut(&bridge) {
                    if let Some((_, slot)) = bridge.moh.take() {
                        bridge.mixer.remove(slot);
                    }
                    if let Some(source) = source {
                        let slot = bridge.mixer.add(Rate::Narrow8k);
                        bridge.moh = Some((source, slot));
                    }
                }
            }
            Command::AttachEdge { leg: id, edge } => {
                if let Some(leg) = self.legs.get_mut(&id) {
                    if leg.edge.is_none() {
                        self.edged.push(id);
                    }
                    leg.edge = Some(Box::new(EdgeLink { edge, heard: None }));
                }
            }
            Command::Snoop(tap) => self.taps.add(tap),
        }
        self.flush_events();
    }

    /// One 20 ms step of every leg and bridge.
    fn tick(&mut self) {
        let Graph {
            legs,
            bridges,
            opener,
            events,
            finishing,
            heard,
            taps,
            edged,
            ..
        } = self;
        // 1. What every leg writes: its playback, else its music on hold or silence, else
        //    the bridge's mix from the last tick. And what every leg reads this tick of
        //    the digits pressed at its far end.
        for (id, leg) in legs.iter_mut() {
            let rate = leg.rate;
            let mut out = if leg.playbacks.is_empty() {
                None
            } else {
                next_of_queue(&mut leg.playbacks, rate, &**opener, events)
            };
            if out.is_none() && leg.playbacks.is_empty() {
                // The queue just ran out: what comes after it plays this tick already.
                out = idle_output(leg, bridges);
            }
            if let Some(frame) = beep::leg_beep(leg) {
                out = Some(frame);
            }
            if let Some(frame) = dtmf::sent_frame(leg, events) {
                out = Some(frame);
            }
            if leg.muted_out {
                out = out.map(|_| AudioFrame::silence(rate));
            }
            leg.out = out;
            dtmf::read_far_end(id, leg, events);
        }
        // 1b. Snoop taps: what snoop legs spy, whispers added to their targets.
        if !taps.is_empty() {
            taps.run(&mut TapView(legs));
        }
        exchange_with_edges(legs, edged);
        // 2. What every leg reads (its peer's output, or silence): into its recordings and
        //    its bridge's mixer.
        heard.clear();
        for (id, leg) in legs.iter() {
            let mixes = leg
                .bridge
                .as_ref()
                .is_some_and(|(b, _)| bridges.get(b).is_some_and(|b| b.mixing));
            if leg.recordings.is_empty() && !mixes {
                continue;
            }
            let mut frame = incoming(leg, legs)
                .filter(|f| f.rate() == leg.rate)
                .cloned()
                .unwrap_or_else(|| AudioFrame::silence(leg.rate));
            if !taps.is_empty() && !leg.muted_in {
                if let Some(spied) = taps.spied(id) {
                    frame.clone_from(spied);
                }
                taps.add_whisper_in(id, &mut frame);
            }
            heard.push((id.clone(), frame));
        }
        for (id, frame) in heard.iter() {
            let Some(leg) = legs.get_mut(id) else {
                continue;
            };
            record_all(&mut leg.recordings, frame, finishing);
            if !leg.muted_in
                && let Some((bridge, slot)) = &leg.bridge
                && let Some(bridge) = bridges.get_mut(bridge)
                && bridge.mixing
            {
                bridge.mixer.push(*slot, frame);
            }
        }
        // 3. Every bridge: the announcer and music on hold join the mix, the mix is made
        //    (members hear it next tick), recordings take the whole of it.
        for bridge in bridges.values_mut() {
            if let Some((slot, rate)) = bridge.announcer {
                if let Some(frame) = next_of_queue(&mut bridge.playbacks, rate, &**opener, events) {
                    bridge.mixer.push(slot, &frame);
                }
                if bridge.playbacks.is_empty() {
                    bridge.mixer.remove(slot);
                    bridge.announcer = None;
                }
            }
            if let Some((source, slot)) = bridge.moh.as_mut()
                && let Some(frame) = source.next_frame()
            {
                bridge.mixer.push(*slot, &frame);
            }
            beep::mix_bridge_beeps(bridge);
            if bridge.mixer.is_empty() {
                continue;
            }
            bridge.mixer.mix();
            if let Some(slot) = bridge.recorder {
                if let Some(frame) = bridge.mixer.output(slot) {
                    record_all(&mut bridge.recordings, frame, finishing);
                }
                if bridge.recordings.is_empty() {
                    bridge.mixer.remove(slot);
                    bridge.recorder = None;
                }
            }
        }
        self.flush_events();
    }

    /// Reports the events queued, forgetting the owners of the playbacks they end, then
    /// hands the recordings ended meanwhile (their owners forgotten) to the finisher.
    fn flush_events(&mut self) {
        for event in self.events.drain(..) {
            if let MediaEvent::Playback {
                id,
                state: PlaybackState::Done | PlaybackState::Failed,
                ..
            } = &event
            {
                self.playback_owners.remove(id);
            }
            self.listener.media_event(event);
        }
        for ended in self.finishing.drain(..) {
            self.recording_owners.remove(&ended.name);
            self.finisher.finish(ended);
        }
    }
}

/// Legs whose far end is outside wari send what they wrote this tick (silence when they
/// wrote nothing, so the far end gets an unbroken stream) and take what arrived.
fn exchange_with_edges(legs: &mut HashMap<LegId, Box<Leg>>, edged: &[LegId]) {
    for id in edged {
        let Some(leg) = legs.get_mut(id) else {
            continue;
        };
        let Some(link) = leg.edge.as_mut() else {
            continue;
        };
        match &leg.out {
            Some(frame) => link.edge.send(frame),
            None => link.edge.send(&AudioFrame::silence(leg.rate)),
        }
        link.heard = link.edge.receive(leg.rate);
    }
}

/// What `leg` reads this tick before any snoop tap (`None`: silence). Nothing while it is
/// muted (`inbound`); else the digits pressed at its far end while one plays, else what
/// its edge last received, else what its peer wrote.
fn incoming<'a>(leg: &'a Leg, legs: &'a HashMap<LegId, Box<Leg>>) -> Option<&'a AudioFrame> {
    if leg.muted_in {
        return None;
    }
    if let Some(frame) = &leg.far_in {
        return Some(frame);
    }
    if let Some(link) = &leg.edge {
        return link.heard.as_ref();
    }
    legs.get(leg.peer.as_ref()?)?.out.as_ref()
}

/// The legs as snoop taps see and change them during a tick.
struct TapView<'a>(&'a mut HashMap<LegId, Box<Leg>>);

impl TapLegs for TapView<'_> {
    fn rate(&self, leg: &str) -> Option<Rate> {
        self.0.get(leg).map(|l| l.rate)
    }

    fn written(&self, leg: &str) -> Option<&AudioFrame> {
        self.0.get(leg).and_then(|l| l.out.as_ref())
    }

    fn read(&self, leg: &str) -> Option<&AudioFrame> {
        // Taps run before this tick's exchange: from an edge, the far end's last frame.
        incoming(self.0.get(leg)?, self.0)
    }

    fn add_written(&mut self, leg: &str, frame: &AudioFrame) {
        if let Some(leg) = self.0.get_mut(leg) {
            match leg.out.as_mut() {
                Some(out) => mix_into(out, frame),
                None => leg.out = Some(frame.clone()),
            }
        }
    }
}

/// What a leg with no playback writes: music on hold, silence, or its bridge's mix.
fn idle_output(leg: &mut Leg, bridges: &HashMap<BridgeKey, MixBridge>) -> Option<AudioFrame> {
    match leg.hold.as_mut() {
        Some(Hold::Moh(source)) => return source.next_frame(),
        Some(Hold::Silence) => return Some(AudioFrame::silence(leg.rate)),
        None => {}
    }
    let (bridge, slot) = leg.bridge.as_ref()?;
    bridges
        .get(bridge)
        .and_then(|b| b.mixer.output(*slot))
        .filter(|f| f.rate() == leg.rate)
        .cloned()
}

/// The next frame of a playback queue, ending (and reporting) playbacks that are over.
/// `None` while the head is paused or once the queue is empty.
fn next_of_queue(
    queue: &mut VecDeque<Playback>,
    rate: Rate,
    opener: &dyn SourceOpener,
    events: &mut Vec<MediaEvent>,
) -> Option<AudioFrame> {
    while let Some(playback) = queue.front_mut() {
        match step_playback(playback, rate, opener, events) {
            Step::Frame(frame) => return Some(frame),
            Step::Paused => return None,
            Step::Ended(failed) => {
                if let Some(playback) = queue.pop_front() {
                    events.push(finished(&playback, failed));
                }
            }
        }
    }
    None
}

/// Writes a frame to every recording, ending those that reached a limit or failed.
fn record_all(recordings: &mut Vec<Recording>, frame: &AudioFrame, finishing: &mut Vec<Finish>) {
    let mut at = 0;
    while at < recordings.len() {
        match record_frame(&mut recordings[at], frame) {
            None => at += 1,
            Some(reason) => {
                let recording = recordings.remove(at);
                let ending = match reason {
                    Ok(()) => Ending::Stopped,
                    Err(cause) => Ending::Failed(cause),
                };
                finishing.push(end_recording(recording, ending));
            }
        }
    }
}

fn control_playback(playback: &mut Playback, op: PlaybackOp, events: &mut Vec<MediaEvent>) {
    let skip = i64::try_from(playback.skip_ms).unwrap_or(i64::MAX);
    let source = playback.current.as_mut().and_then(|c| c.source.as_mut());
    match op {
        PlaybackOp::Pause => playback.paused = true,
        PlaybackOp::Unpause => {
            if playback.paused {
                playback.paused = false;
                events.push(MediaEvent::Playback {
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
            // As Asterisk reports a list: the end of an item that has a next one is
            // PlaybackContinuing (that item, and the next), then the next one starts.
            if let Some(previous) = playback.previous_uri.take() {
                events.push(MediaEvent::Playback {
                    id: playback.id.clone(),
                    state: PlaybackState::Continuing,
                    media_uri: previous,
                    next_media_uri: Some(item.uri.clone()),
                });
            }
            events.push(MediaEvent::Playback {
                id: playback.id.clone(),
                state: PlaybackState::Playing,
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
                if !playback.items.is_empty() {
                    playback.previous_uri = Some(current.item.uri.clone());
                }
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
            if let Some(reason) = source.failure() {
                tracing::info!(playback = %playback.id, uri = %current.item.uri, %reason, "media cannot be played: skipped");
                current.failed = true;
            }
            current.source = None;
            current.part += 1;
        }
    }
}

/// Writes one frame; `Some(Ok)` when the recording reached a limit, `Some(Err)` when it failed.
fn record_frame(recording: &mut Recording, frame: &AudioFrame) -> Option<Result<(), String>> {
    if recording.paused || recording.beep.is_some() {
        return None;
    }
    let silence;
    let frame = if recording.muted {
        silence = AudioFrame::silence(frame.rate());
        &silence
    } else {
        frame
    };
    if let Err(e) = recording.sink.write(frame) {
        return Some(Err(e));
    }
    recording.recorded_ms += u64::from(FRAME_MS);
    if recording.sink.full() {
        return Some(Ok(()));
    }
    if recording.max_silence_ms > 0
        && recording.silence.feed(frame)
        && recording.silence.silent_run_ms() >= recording.max_silence_ms
    {
        return Some(Ok(()));
    }
    if recording.max_duration_ms > 0 && recording.recorded_ms >= recording.max_duration_ms {
        return Some(Ok(()));
    }
    None
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

/// An ended recording, for the finisher to complete or remove its file and report it.
fn end_recording(recording: Recording, ending: Ending) -> Finish {
    Finish {
        name: recording.name,
        duration_ms: recording.recorded_ms,
        talking_ms: (recording.max_silence_ms > 0).then(|| recording.silence.total_talking_ms()),
        sink: recording.sink,
        ending,
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{
        self, Recorded, next, paired_legs, record, record_request, wait_for,
    };
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

    fn engine() -> (MediaEngine, mpsc::Receiver<MediaEvent>) {
        test_support::start(Arc::new(Opener))
    }

    fn file(spec: &str) -> Part {
        Part::File(spec.into())
    }

    #[test]
    fn what_plays_on_one_half_is_recorded_on_the_other() {
        let (engine, rx) = engine();
        paired_legs(&engine);
        let (mut request, sink) = record_request("r", Target::Leg("b".into()));
        request.terminate_on = TerminateOn::Pound;
        engine.send(Command::Record(request));
        assert!(matches!(
            next(&rx),
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        ));
        engine.send(Command::Play {
            id: "p".into(),
            target: Target::Leg("a".into()),
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
            rate: Rate::Narrow8k,
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
        // Asterisk's order: the first item continuing to the second, then the second.
        assert_eq!(
            next(&rx),
            MediaEvent::Playback {
                id: "p".into(),
                state: PlaybackState::Continuing,
                media_uri: "sound:one".into(),
                next_media_uri: Some("sound:two".into()),
            }
        );
        assert_eq!(
            next(&rx),
            MediaEvent::Playback {
                id: "p".into(),
                state: PlaybackState::Playing,
                media_uri: "sound:two".into(),
                next_media_uri: None,
            }
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
        let (samples, finished) = (sink.firsts(), sink.finished());
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
        paired_legs(&engine);
        engine.send(Command::Play {
            id: "p".into(),
            target: Target::Leg("a".into()),
            items: vec![PlayItem {
                uri: "sound:nothing".into(),
                parts: vec![Part::Missing("no such sound".into())],
            }],
            offset_ms: 0,
            skip_ms: 3000,
            rate: Rate::Narrow8k,
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
        paired_legs(&engine);
        engine.send(Command::Record(RecordRequest {
            name: "r".into(),
            target: Target::Leg("b".into()),
            sink: Box::new(Recorded::default()),
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
                talking_ms: None,
            }
        );
        engine.send(Command::Play {
            id: "long".into(),
            target: Target::Leg("a".into()),
            items: vec![PlayItem {
                uri: "sound:long".into(),
                parts: vec![file("100000:1")],
            }],
            offset_ms: 0,
            skip_ms: 3000,
            rate: Rate::Narrow8k,
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

    struct Ignore;

    impl MediaListener for Ignore {
        fn media_event(&self, _event: MediaEvent) {}
    }

    #[test]
    fn owners_are_kept_for_live_playbacks_and_recordings_only() {
        let mut graph = Graph::new(Arc::new(Opener), Arc::new(Ignore));
        for id in ["a", "b"] {
            graph.apply(Command::AddLeg {
                id: id.into(),
                rate: Rate::Narrow8k,
            });
        }
        graph.apply(Command::AddBridge {
            id: "br".into(),
            mixing: true,
        });
        let play = play_command;
        let record = |name: &str, target: Target, max_duration_ms| {
            Command::Record(RecordRequest {
                name: name.into(),
                target,
                sink: Box::new(Recorded::default()),
                max_duration_ms,
                max_silence_ms: 0,
                terminate_on: TerminateOn::None,
            })
        };
        graph.apply(play("short", Target::Leg("a".into()), "1:1"));
        graph.apply(play("stopped", Target::Leg("a".into()), "100:1"));
        graph.apply(play("on-b", Target::Leg("b".into()), "100:1"));
        graph.apply(play("nowhere", Target::Leg("gone".into()), "1:1"));
        graph.apply(record("limited", Target::Leg("a".into()), 20));
        graph.apply(record("stopped", Target::Leg("b".into()), 0));
        graph.apply(record("bridged", Target::Bridge("br".into()), 0));
        graph.apply(record("nowhere", Target::Bridge("gone".into()), 0));
        let live = |graph: &Graph| {
            let mut ids: Vec<String> = graph
                .playback_owners
                .keys()
                .map(|id| format!("p:{id}"))
                .chain(graph.recording_owners.keys().map(|n| format!("r:{n}")))
                .collect();
            ids.sort();
            ids
        };
        assert_eq!(
            live(&graph),
            [
                "p:on-b",
                "p:short",
                "p:stopped",
                "r:bridged",
                "r:limited",
                "r:stopped"
            ]
        );
        graph.tick();
        graph.tick();
        assert_eq!(
            live(&graph),
            ["p:on-b", "p:stopped", "r:bridged", "r:stopped"],
            "a playback and a recording that ran out"
        );
        graph.apply(Command::StopPlayback {
            id: "stopped".into(),
        });
        graph.apply(Command::ControlRecording {
            name: "stopped".into(),
            op: RecordingOp::Stop,
        });
        graph.apply(Command::RemoveLeg { id: "b".into() });
        graph.apply(Command::RemoveBridge { id: "br".into() });
        assert!(live(&graph).is_empty(), "{:?}", live(&graph));
    }

    /// Waits until every playback in `ids` is done, in whatever order.
    fn wait_done(rx: &mpsc::Receiver<MediaEvent>, ids: &[&str]) {
        let mut left: Vec<&str> = ids.to_vec();
        for _ in 0..1000 {
            if left.is_empty() {
                return;
            }
            if let MediaEvent::Playback {
                id,
                state: PlaybackState::Done,
                ..
            } = next(rx)
            {
                left.retain(|l| *l != &*id);
            }
        }
        panic!("playbacks {left:?} never finished");
    }

    fn finished_playback(id: &'static str) -> impl Fn(&MediaEvent) -> bool {
        move |e| matches!(e, MediaEvent::Playback { id: p, state: PlaybackState::Done, .. } if &**p == id)
    }

    fn recording_ended(name: &'static str) -> impl Fn(&MediaEvent) -> bool {
        move |e| matches!(e, MediaEvent::Recording { name: n, state: RecordingState::Done, .. } if &**n == name)
    }

    /// A playback of one `sound:` item, `spec` as [`Opener`] reads it.
    fn play_command(id: &str, target: Target, spec: &str) -> Command {
        Command::Play {
            id: id.into(),
            target,
            items: vec![PlayItem {
                uri: format!("sound:{spec}"),
                parts: vec![file(spec)],
            }],
            offset_ms: 0,
            skip_ms: 3000,
            rate: Rate::Narrow8k,
        }
    }

    fn play(engine: &MediaEngine, id: &str, target: Target, spec: &str) {
        engine.send(play_command(id, target, spec));
    }

    fn stop(engine: &MediaEngine, rx: &mpsc::Receiver<MediaEvent>, name: &'static str) {
        engine.send(Command::ControlRecording {
            name: name.into(),
            op: RecordingOp::Stop,
        });
        wait_for(rx, recording_ended(name));
    }

    /// Pairs `x1`/`x2` for each name; the `x1` halves join bridge `br`.
    fn bridged_pairs(engine: &MediaEngine, names: &[&str], mixing: bool) {
        engine.send(Command::AddBridge {
            id: "br".into(),
            mixing,
        });
        for name in names {
            let (one, two): (LegId, LegId) = (format!("{name}1").into(), format!("{name}2").into());
            for id in [&one, &two] {
                engine.send(Command::AddLeg {
                    id: id.clone(),
                    rate: Rate::Narrow8k,
                });
            }
            engine.send(Command::Pair {
                a: one.clone(),
                b: two,
            });
            engine.send(Command::JoinBridge {
                bridge: "br".into(),
                leg: one,
            });
        }
    }

    #[test]
    fn a_bridge_member_hears_the_others_but_not_itself() {
        let (engine, rx) = engine();
        bridged_pairs(&engine, &["a", "b", "c"], true);
        let sinks: Vec<Recorded> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                record(
                    &engine,
                    &format!("{n}2"),
                    Target::Leg(format!("{n}2").into()),
                )
            })
            .collect();
        let all = record(&engine, "all", Target::Bridge("br".into()));
        // What each `x2` half plays, its `x1` half reads and brings into the bridge.
        play(&engine, "pa", Target::Leg("a2".into()), "25:1");
        play(&engine, "pb", Target::Leg("b2".into()), "25:10");
        play(&engine, "pc", Target::Leg("c2".into()), "25:100");
        wait_done(&rx, &["pa", "pb", "pc"]);
        for name in ["a2", "b2", "c2", "all"] {
            stop(&engine, &rx, name);
        }
        let own_digit = |v: i16, place: i16| (v / place) % 10;
        for (sink, (place, others)) in sinks.iter().zip([(1, 110), (10, 101), (100, 11)]) {
            let samples = sink.firsts();
            assert!(
                samples.iter().filter(|v| **v == others).count() >= 20,
                "hears the other two most of the time: {samples:?}"
            );
            assert!(
                samples.iter().all(|v| own_digit(*v, place) == 0),
                "never hears itself: {samples:?}"
            );
        }
        let mixed = all.firsts();
        assert!(
            mixed.iter().filter(|v| **v == 111).count() >= 20,
            "the bridge recording hears everyone: {mixed:?}"
        );
    }

    #[test]
    fn bridge_playback_reaches_every_member_and_holding_bridges_do_not_mix() {
        let (engine, rx) = engine();
        bridged_pairs(&engine, &["a", "b"], false);
        let a = record(&engine, "a2", Target::Leg("a2".into()));
        let b = record(&engine, "b2", Target::Leg("b2".into()));
        play(&engine, "pa", Target::Leg("a2".into()), "30:1");
        play(&engine, "ann", Target::Bridge("br".into()), "10:1000");
        wait_done(&rx, &["ann", "pa"]);
        stop(&engine, &rx, "a2");
        stop(&engine, &rx, "b2");
        for sink in [&a, &b] {
            let samples = sink.firsts();
            assert!(
                samples.iter().filter(|v| **v == 1000).count() >= 9,
                "{samples:?}"
            );
            assert!(
                samples.iter().all(|v| *v == 0 || *v == 1000),
                "a holding bridge mixes nothing but the announcer: {samples:?}"
            );
        }
    }

    /// A recording sink whose completion waits until the test lets it go, as a disk that
    /// stalls on fsync would.
    struct Stalled(Mutex<mpsc::Receiver<()>>);

    impl Sink for Stalled {
        fn write(&mut self, _frame: &AudioFrame) -> Result<(), String> {
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), String> {
            let released = self.0.lock().map_err(|_| "poisoned")?;
            released
                .recv_timeout(Duration::from_secs(10))
                .map_err(|_| "never released".to_string())
        }
        fn cancel(self: Box<Self>) {}
    }

    #[test]
    fn a_recording_slow_to_complete_does_not_hold_up_the_clock() {
        let (engine, rx) = engine();
        paired_legs(&engine);
        let (release, released) = mpsc::channel();
        let (mut request, _) = record_request("slow", Target::Leg("a".into()));
        request.sink = Box::new(Stalled(Mutex::new(released)));
        engine.send(Command::Record(request));
        wait_for(&rx, |e| {
            matches!(
                e,
                MediaEvent::Recording {
                    state: RecordingState::Recording,
                    ..
                }
            )
        });
        engine.send(Command::ControlRecording {
            name: "slow".into(),
            op: RecordingOp::Stop,
        });
        // While its file is being completed the clock goes on: a playback plays through,
        // and the recording is not reported done before its file is.
        play(&engine, "p", Target::Leg("b".into()), "5:1");
        loop {
            let event = next(&rx);
            assert!(!recording_ended("slow")(&event), "{event:?}");
            if test_support::playback_done(&event) {
                break;
            }
        }
        release.send(()).expect("release the sink");
        let ended = next(&rx);
        assert!(recording_ended("slow")(&ended), "{ended:?}");
    }

    #[test]
    fn muted_members_are_not_mixed_and_own_playback_replaces_the_mix() {
        let (engine, rx) = engine();
        bridged_pairs(&engine, &["a", "b"], true);
        // a1 reads nothing into the bridge; b1 hears its own playback instead of the mix.
        engine.send(Command::Mute {
            leg: "a1".into(),
            inbound: true,
            outbound: false,
        });
        let b = record(&engine, "b2", Target::Leg("b2".into()));
        let a = record(&engine, "a2", Target::Leg("a2".into()));
        play(&engine, "pa", Target::Leg("a2".into()), "30:1");
        play(&engine, "pb", Target::Leg("b2".into()), "30:10");
        play(&engine, "own", Target::Leg("b1".into()), "30:7");
        wait_done(&rx, &["pa", "pb", "own"]);
        stop(&engine, &rx, "b2");
        stop(&engine, &rx, "a2");
        let samples = b.firsts();
        assert!(samples.contains(&7), "{samples:?}");
        assert!(
            !samples.contains(&1),
            "a is muted toward the bridge: {samples:?}"
        );
        let samples = a.firsts();
        assert!(samples.contains(&10), "a still hears b: {samples:?}");
    }

    #[test]
    fn a_playback_ends_music_on_hold() {
        let (engine, rx) = engine();
        paired_legs(&engine);
        let sink = record(&engine, "r", Target::Leg("b".into()));
        engine.send(Command::StartHold {
            leg: "a".into(),
            hold: Hold::Moh(Box::new(Constant {
                value: 3,
                left: usize::MAX,
                total: usize::MAX,
                rate: Rate::Narrow8k,
            })),
        });
        play(&engine, "p", Target::Leg("a".into()), "5:9");
        wait_for(&rx, finished_playback("p"));
        // Held again after the playback ended? Stop the (gone) music on hold: nothing.
        engine.send(Command::StopHold {
            leg: "a".into(),
            kind: HoldKind::Moh,
        });
        play(&engine, "q", Target::Leg("a".into()), "5:8");
        wait_for(&rx, finished_playback("q"));
        stop(&engine, &rx, "r");
        let samples = sink.firsts();
        let after = samples
            .iter()
            .skip_while(|v| **v != 9)
            .skip_while(|v| **v == 9)
            .take_while(|v| **v != 8)
            .copied()
            .collect::<Vec<_>>();
        assert!(
            after.iter().all(|v| *v == 0),
            "no music on hold after the playback: {samples:?}"
        );
    }

    #[test]
    fn removing_a_bridge_ends_its_playbacks_and_recordings_and_frees_its_members() {
        let (engine, rx) = engine();
        bridged_pairs(&engine, &["a", "b"], true);
        let all = record(&engine, "all", Target::Bridge("br".into()));
        wait_for(&rx, |e| {
            matches!(
                e,
                MediaEvent::Recording {
                    state: RecordingState::Recording,
                    ..
                }
            )
        });
        play(&engine, "long", Target::Bridge("br".into()), "100000:5");
        wait_for(&rx, |e| {
            matches!(
                e,
                MediaEvent::Playback {
                    state: PlaybackState::Playing,
                    ..
                }
            )
        });
        engine.send(Command::RemoveBridge { id: "br".into() });
        let mut ended = (false, false);
        for _ in 0..10 {
            if ended == (true, true) {
                break;
            }
            match next(&rx) {
                MediaEvent::Playback {
                    state: PlaybackState::Done,
                    ..
                } => ended.0 = true,
                MediaEvent::Recording {
                    state: RecordingState::Done,
                    ..
                } => ended.1 = true,
                _ => {}
            }
        }
        assert_eq!(ended, (true, true), "both end with the bridge");
        assert!(all.finished(), "the recording's file is finished");
        // The former members are plain legs again: a recording on a2 hears a1's silence.
        let a = record(&engine, "a2", Target::Leg("a2".into()));
        play(&engine, "pb", Target::Leg("b2".into()), "10:3");
        wait_done(&rx, &["pb"]);
        stop(&engine, &rx, "a2");
        assert!(a.firsts().iter().all(|v| *v == 0), "no bridge any more");
    }
}
