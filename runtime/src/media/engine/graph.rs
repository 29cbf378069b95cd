//! The media graph: legs, bridges, snoop taps and edges, the commands that change them
//! and the 20 ms step that moves one frame through all of them.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use super::clock::{Clock, Tick};
use super::finisher::{self, Ending, Finish};
use super::playback::{Playback, control_playback, finished, next_of_queue};
use super::recording::{Recording, end_recording, record_all};
use super::reporter::Reporter;
use super::{
    BridgeKey, Command, Hold, HoldKind, LegId, MediaEvent, PlaybackState, QUIET_MEAN_ABS,
    RecordRequest, RecordingOp, RecordingState, Source, SourceOpener, Target, beep, dtmf,
};
use crate::media::detect::SilenceDetector;
use crate::media::external::Edge;
use crate::media::frame::{AudioFrame, Rate};
use crate::media::mixer::{Mixer, SlotId};
use crate::media::snoop::{TapLegs, Taps, mix_into};

pub(super) struct Leg {
    pub(super) rate: Rate,
    pub(super) peer: Option<LegId>,
    pub(super) playbacks: VecDeque<Playback>,
    pub(super) recordings: Vec<Recording>,
    pub(super) muted_in: bool,
    pub(super) muted_out: bool,
    /// Music on hold or silence, when no playback plays.
    pub(super) hold: Option<Hold>,
    /// The bridge the leg is in, and its slot in the bridge's mixer.
    pub(super) bridge: Option<(BridgeKey, SlotId)>,
    /// What the leg wrote this tick.
    pub(super) out: Option<AudioFrame>,
    /// The far end outside wari, if any (external media). Boxed: few legs have one, and
    /// a leg is kept per channel.
    pub(super) edge: Option<Box<EdgeLink>>,
    /// Digits being sent (see `dtmf`).
    pub(super) dtmf_out: dtmf::DigitQueue,
    /// Digits pressed at the far end (see `dtmf`).
    pub(super) dtmf_in: dtmf::DigitQueue,
    /// What the leg reads this tick of its far end's digits.
    pub(super) far_in: Option<Box<AudioFrame>>,
}

/// A leg's far end outside wari and what it sent this tick.
pub(super) struct EdgeLink {
    pub(super) edge: Box<dyn Edge>,
    /// What the edge gave the leg to read this tick.
    pub(super) heard: Option<AudioFrame>,
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
pub(super) struct MixBridge {
    pub(super) mixing: bool,
    pub(super) mixer: Mixer,
    pub(super) playbacks: VecDeque<Playback>,
    /// The announcer's slot and rate while bridge playbacks are queued.
    pub(super) announcer: Option<(SlotId, Rate)>,
    pub(super) moh: Option<(Box<dyn Source>, SlotId)>,
    pub(super) recordings: Vec<Recording>,
    /// A slot that pushes nothing: it hears the whole mix.
    pub(super) recorder: Option<SlotId>,
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

pub(super) struct Graph {
    /// Boxed: the map then holds pointers, so its spare capacity costs 8 bytes a slot
    /// rather than a whole leg (a leg carries a frame inline).
    pub(super) legs: HashMap<LegId, Box<Leg>>,
    pub(super) bridges: HashMap<BridgeKey, MixBridge>,
    pub(super) opener: Arc<dyn SourceOpener>,
    /// Where events go (never blocks).
    pub(super) reporter: Reporter,
    /// When the next tick is due: time is an input (see [`Graph::handle_timeout`]).
    pub(super) clock: Clock,
    pub(super) events: Vec<MediaEvent>,
    /// Recordings ended this tick, handed to the finisher once the tick's events are out.
    pub(super) finishing: Vec<Finish>,
    pub(super) finisher: finisher::Finisher,
    /// Per-tick scratch (kept to avoid allocating): legs and what they read.
    pub(super) heard: Vec<(LegId, AudioFrame)>,
    /// Snoop legs and their targets.
    pub(super) taps: Taps,
    /// The legs with an edge (few): the tick exchanges frames with these only.
    pub(super) edged: Vec<LegId>,
    /// The leg or bridge of every live playback (by id) and recording (by name), so a
    /// command naming one goes straight to it. An entry is added when the playback is
    /// queued or the recording starts, and removed when the playback's final event goes
    /// out or the recording goes to the finisher ([`Graph::flush_events`]), however it
    /// ended.
    pub(super) playback_owners: HashMap<Arc<str>, Target>,
    pub(super) recording_owners: HashMap<Arc<str>, Target>,
}

/// Takes a leg out of its bridge's mixer.
pub(super) fn detach(bridges: &mut HashMap<BridgeKey, MixBridge>, leg: &mut Leg) {
    if let Some((bridge, slot)) = leg.bridge.take()
        && let Some(bridge) = bridges.get_mut(&bridge)
    {
        bridge.mixer.remove(slot);
    }
}

impl Graph {
    /// An empty graph that opens sources with `opener`, reports to `reporter` and hands
    /// ended recordings to `finisher`.
    pub(super) fn new(
        opener: Arc<dyn SourceOpener>,
        reporter: Reporter,
        finisher: finisher::Finisher,
    ) -> Graph {
        Graph {
            legs: HashMap::new(),
            bridges: HashMap::new(),
            opener,
            finisher,
            reporter,
            clock: Clock::default(),
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
    pub(super) fn start_recording(&mut self, request: RecordRequest, beep: Option<beep::Beep>) {
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

    pub(super) fn apply(&mut self, command: Command) {
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

    /// When the next tick is due; `None` before the first (due at once).
    pub(super) fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.clock.due()
    }

    /// Time goes on to `now`: runs the tick due by then, if any (one tick however late:
    /// frames missed are skipped, counted in the [`Tick`] returned).
    pub(super) fn handle_timeout(&mut self, now: std::time::Instant) -> Option<Tick> {
        let tick = self.clock.advance(now)?;
        self.tick();
        Some(tick)
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
            self.reporter.report(event);
        }
        for ended in self.finishing.drain(..) {
            self.recording_owners.remove(&ended.name);
            self.finisher.finish(ended);
        }
    }
}

/// Legs whose far end is outside wari send what they wrote this tick (silence when they
/// wrote nothing, so the far end gets an unbroken stream) and take what arrived.
pub(super) fn exchange_with_edges(legs: &mut HashMap<LegId, Box<Leg>>, edged: &[LegId]) {
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
pub(super) fn incoming<'a>(
    leg: &'a Leg,
    legs: &'a HashMap<LegId, Box<Leg>>,
) -> Option<&'a AudioFrame> {
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
pub(super) struct TapView<'a>(&'a mut HashMap<LegId, Box<Leg>>);

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
pub(super) fn idle_output(
    leg: &mut Leg,
    bridges: &HashMap<BridgeKey, MixBridge>,
) -> Option<AudioFrame> {
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
