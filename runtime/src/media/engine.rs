//! The media engine: one thread with a 20 ms clock that moves audio frames between legs.
//!
//! A leg is the media side of one channel. Every tick, each leg's *outgoing* frame (what
//! its far end hears) comes from the playback at the head of its queue, or silence. A leg
//! paired with another (the two halves of a Local channel) *reads* what its peer wrote; a
//! leg with no peer (a Test phone) reads silence. Recordings on a leg write what it reads.
//!
//! A leg whose far end is outside wari (external media) has an [`Edge`]: every tick the
//! edge is given what the leg wrote (silence if nothing) and gives back what the leg reads
//! (silence if nothing arrived). Edges do no socket I/O on the clock: their datagrams
//! go through bounded queues to an I/O thread (see [`super::udp_io`]).
//!
//! The core drives the engine with [`Command`]s (never blocking: commands are queued and
//! applied at the start of the next tick) and hears back through a [`MediaListener`],
//! called on a reporter thread of its own (see `reporter`): the clock only queues events,
//! so a listener that waits for the core's lock never delays a frame.
//!
//! The graph itself (`graph`) does no I/O and reads no clock: commands and time go in
//! (`Graph::handle_timeout(now)`, as str0m's sans-IO shape), events come out; the media
//! thread (`clock`) feeds it the wall clock, and the tests feed it simulated time. Opening files and tone
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

use std::sync::atomic::AtomicU64;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use super::MediaError;
use super::external::Edge;
use super::frame::{AudioFrame, Rate};
use super::snoop::Tap;

mod beep;
mod clock;
mod dtmf;
mod finisher;
mod graph;
mod playback;
mod recording;
mod reporter;

use graph::{Graph, Leg, MixBridge};
use recording::{Recording, end_recording};
use reporter::Reporter;
#[cfg(test)]
pub(super) mod test_support;
#[cfg(test)]
mod tests;

/// Mean absolute sample below which a recorded frame counts as silence (about -50 dBFS)
/// for `maxSilenceSeconds`.
const QUIET_MEAN_ABS: u32 = 100;

/// A channel's media leg, by channel id.
pub(crate) type LegId = Arc<str>;

/// A bridge, by bridge id.
pub(crate) type BridgeKey = Arc<str>;

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
    fn failure(&self) -> Option<&MediaError> {
        None
    }
}

/// Something that consumes audio: a recording file.
pub trait Sink: Send {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError>;
    /// True once the sink will take no more (its owner's disk quota is used up): the
    /// recording then stops as at its maximum duration, its file kept.
    fn full(&self) -> bool {
        false
    }
    /// Completes the recording (the file is in place afterwards).
    fn finish(self: Box<Self>) -> Result<(), MediaError>;
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
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, MediaError>;
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

/// Hears what the engine reports. Called on the engine's reporter thread, never on the
/// clock: it may block (take the core's lock) without delaying a frame. Events come in the
/// order the engine made them.
pub trait MediaListener: Send + Sync {
    fn media_event(&self, event: MediaEvent);

    /// Several events in a row (the ones queued meanwhile, in order): a listener that
    /// takes a lock for each can take it once for all of them.
    fn media_events(&self, events: &mut dyn Iterator<Item = MediaEvent>) {
        for event in events {
            self.media_event(event);
        }
    }
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
        let reporter = Reporter::start(listener)?;
        std::thread::Builder::new()
            .name("wari-media".into())
            .spawn(move || {
                let finisher = finisher::Finisher::start(reporter.clone());
                let mut graph = Graph::new(opener, reporter, finisher);
                clock::run(&rx, &mut graph, &clock_stats);
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
