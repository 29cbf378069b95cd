//! The core's side of media: playbacks and live recordings as ARI objects, their checks
//! and events, and the media engine that moves the audio. Channels get a media leg when
//! they are created (Local halves are paired) and lose it when destroyed.
//!
//! Media URIs are resolved here into the parts the engine plays: `sound:` through the
//! sounds index, `recording:` in the recordings directory, `number:`/`digits:`/
//! `characters:` through the say rules, `tone:` as a tone. Anything that cannot be found
//! becomes a missing part: the playback then fails (PlaybackFinished, state `failed`)
//! instead of the request failing or the playback hanging. This differs from Asterisk on
//! purpose: Asterisk skips such an item (an unknown scheme, a missing recording) and, when
//! it was the last one, never sends PlaybackFinished, so an application waiting for it
//! would wait forever.
//!
//! Bridges have media too: the core tells the engine when bridges come and go and when
//! channels enter and leave them; bridge playbacks (the announcer) and recordings (the
//! whole mix) send their events to the bridge's topic. Music on hold plays a
//! `musiconhold.conf` class: an unknown class falls back to `default`, and a class with no
//! playable file plays silence (with a warning), so starting music on hold never fails.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use serde_json::{Map, Value, json};

use super::event::{Event, Scope};
use super::quota::Account;
use super::recording_quota::{ChargedSink, file_key};
use super::{Core, CoreError, State};
use crate::config::musiconhold_conf::MohConfig;
use crate::media::engine::{
    Command, Hold, HoldKind, MediaEngine, MediaEvent, MediaListener, Part, PlayItem, PlaybackOp,
    PlaybackState, RecordRequest, RecordingOp, RecordingState, Source, Target, TerminateOn,
};
use crate::media::file::{COPY_SUFFIX, IfExists, RecordingWriter, find_recording, safe_join};
use crate::media::format::Format;
use crate::media::frame::AudioFrame;
use crate::media::frame::Rate;
use crate::media::moh::MohPlayer;
use crate::media::say;
use crate::media::sounds::SoundIndex;
use crate::media::sources::FileOpener;

/// Where media comes from and goes to.
#[derive(Debug, Clone)]
pub struct MediaSetup {
    pub sounds: Arc<SoundIndex>,
    /// Stored recordings (`recording:` URIs, `/recordings/stored`).
    pub recordings_dir: PathBuf,
    /// Music-on-hold classes.
    pub moh: Arc<MohConfig>,
}

/// The beep before a recording (`beep=true`): 1 kHz for a quarter of a second, once.
const BEEP_TONE: &str = "!1000/250";

/// Whose topic a playback's or recording's events go to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MediaTopic {
    Channel(Arc<str>),
    Bridge(Arc<str>),
}

impl MediaTopic {
    pub(super) fn scope(&self) -> Scope {
        match self {
            MediaTopic::Channel(id) => Scope::channel(id),
            MediaTopic::Bridge(id) => Scope::bridge(id),
        }
    }

    /// Where the engine plays or records for this topic.
    fn target(&self) -> Target {
        match self {
            MediaTopic::Channel(id) => Target::Leg(id.clone()),
            MediaTopic::Bridge(id) => Target::Bridge(id.clone()),
        }
    }

    /// `channel:<id>` or `bridge:<id>`.
    fn uri(&self) -> String {
        match self {
            MediaTopic::Channel(id) => format!("channel:{id}"),
            MediaTopic::Bridge(id) => format!("bridge:{id}"),
        }
    }
}

/// The running media side of the core.
#[derive(Debug)]
pub struct Media {
    pub engine: MediaEngine,
    pub setup: MediaSetup,
    /// The engine's file opener, shared with music on hold (cached, decoded off the
    /// media thread).
    pub opener: Arc<FileOpener>,
}

/// A playback as ARI shows it.
#[derive(Debug, Clone)]
pub struct PlaybackInfo {
    pub id: Arc<str>,
    /// What the engine and [`MediaState::playbacks`] know it by: its id, unless another
    /// live playback already has that id (see [`MediaState::add_playback`]).
    pub key: Arc<str>,
    pub media_uri: String,
    pub next_media_uri: Option<String>,
    pub target_uri: String,
    pub language: String,
    pub state: &'static str,
    /// Who gets the events.
    pub topic: MediaTopic,
    /// Set once the topic has gone (see `media_audience`): the applications that hear
    /// this playback's remaining events instead of the topic's subscribers.
    pub audience: Option<Arc<[String]>>,
}

impl PlaybackInfo {
    /// The ARI `Playback` object.
    pub fn json(&self) -> Value {
        let mut object = Map::with_capacity(6);
        object.insert("id".into(), json!(&*self.id));
        object.insert("media_uri".into(), json!(self.media_uri));
        if let Some(next) = &self.next_media_uri {
            object.insert("next_media_uri".into(), json!(next));
        }
        object.insert("target_uri".into(), json!(self.target_uri));
        object.insert("language".into(), json!(self.language));
        object.insert("state".into(), json!(self.state));
        Value::Object(object)
    }
}

/// A live recording as ARI shows it.
#[derive(Debug, Clone)]
pub struct LiveRecordingInfo {
    pub name: Arc<str>,
    pub format: Format,
    pub target_uri: String,
    pub state: &'static str,
    pub duration_s: Option<u64>,
    /// Of `duration_s`, the seconds that were not silence, for a recording that ends on
    /// silence (`maxSilenceSeconds`): shown as `talking_duration` and `silence_duration`.
    pub talking_s: Option<u64>,
    pub cause: Option<String>,
    pub topic: MediaTopic,
    /// As [`PlaybackInfo::audience`].
    pub audience: Option<Arc<[String]>>,
}

impl LiveRecordingInfo {
    /// A recording just asked for (state `queued`).
    pub(super) fn queued(name: Arc<str>, format: Format, topic: MediaTopic) -> LiveRecordingInfo {
        LiveRecordingInfo {
            name,
            format,
            target_uri: topic.uri(),
            state: "queued",
            duration_s: None,
            talking_s: None,
            cause: None,
            topic,
            audience: None,
        }
    }

    /// The ARI `LiveRecording` object.
    pub fn json(&self) -> Value {
        let mut object = Map::with_capacity(6);
        object.insert("name".into(), json!(&*self.name));
        object.insert("format".into(), json!(self.format.name()));
        object.insert("state".into(), json!(self.state));
        object.insert("target_uri".into(), json!(self.target_uri));
        if let Some(duration) = self.duration_s {
            object.insert("duration".into(), json!(duration));
            if let Some(talking) = self.talking_s {
                object.insert("talking_duration".into(), json!(talking));
                object.insert(
                    "silence_duration".into(),
                    json!(duration.saturating_sub(talking)),
                );
            }
        }
        if let Some(cause) = &self.cause {
            object.insert("cause".into(), json!(cause));
        }
        Value::Object(object)
    }
}

/// Playbacks and live recordings, inside the core's state.
#[derive(Debug, Default)]
pub struct MediaState {
    /// By key. Changed only through [`MediaState::add_playback`] and
    /// [`MediaState::remove_playback`], which keep `by_topic` and `same_id`.
    pub(super) playbacks: HashMap<Arc<str>, PlaybackInfo>,
    /// The keys of live playbacks whose id another live playback had when they were
    /// queued, oldest first, by id. Asterisk lets a client reuse a playback id: both
    /// playbacks play and report, and `/playbacks/{id}` finds the oldest.
    same_id: HashMap<Arc<str>, std::collections::VecDeque<Arc<str>>>,
    /// Changed only through [`MediaState::add_recording`] and
    /// [`MediaState::remove_recording`], which keep `by_topic`. Only live recordings
    /// (queued, recording, paused) are here: a finished one is removed.
    pub(super) recordings: HashMap<Arc<str>, LiveRecordingInfo>,
    /// The playbacks and recordings of each topic that has any, so that hangups, bridge
    /// joins and media events do not scan every playback and recording.
    by_topic: HashMap<MediaTopic, TopicMedia>,
    /// Bridges playing music on hold.
    pub bridge_moh: HashSet<Arc<str>>,
    /// Playbacks of the dialplan's Playback() (no ARI object, no events), and who waits
    /// for each to end (told whether it failed).
    pub dialplan_playbacks: HashMap<Arc<str>, tokio::sync::oneshot::Sender<bool>>,
    /// Hung-up channels waiting for their playbacks and recordings to report their end
    /// (see `media_hangup`).
    pub channel_waiters: HashMap<Arc<str>, tokio::sync::oneshot::Sender<()>>,
}

/// One topic's live playbacks (ids) and recordings (names).
#[derive(Debug, Default)]
pub(super) struct TopicMedia {
    pub(super) playbacks: Vec<Arc<str>>,
    pub(super) recordings: Vec<Arc<str>>,
}

impl MediaState {
    /// Registers a playback; returns its key: its id, or a key of its own when a live
    /// playback has that id already.
    fn add_playback(&mut self, mut info: PlaybackInfo) -> Arc<str> {
        let id = info.id.clone();
        let key = if self.playbacks.contains_key(&id) || self.same_id.contains_key(&id) {
            let key: Arc<str> = Arc::from(format!("{id}\u{0}{}", uuid::Uuid::new_v4()).as_str());
            self.same_id.entry(id).or_default().push_back(key.clone());
            key
        } else {
            id
        };
        info.key = key.clone();
        let topic = info.topic.clone();
        self.playbacks.insert(key.clone(), info);
        self.by_topic
            .entry(topic)
            .or_default()
            .playbacks
            .push(key.clone());
        key
    }

    /// Forgets a playback that has ended, by key.
    fn remove_playback(&mut self, key: &str) {
        let Some(old) = self.playbacks.remove(key) else {
            return;
        };
        self.unindex(&old.topic, key, |m| &mut m.playbacks);
        if let Some(keys) = self.same_id.get_mut(&old.id) {
            keys.retain(|k| &**k != key);
            if keys.is_empty() {
                self.same_id.remove(&old.id);
            }
        }
    }

    /// Registers a live recording (its name is not live: see `recording_checks`).
    fn add_recording(&mut self, info: LiveRecordingInfo) {
        let (name, topic) = (info.name.clone(), info.topic.clone());
        if let Some(old) = self.recordings.insert(name.clone(), info) {
            self.unindex(&old.topic, &name, |m| &mut m.recordings);
        }
        self.by_topic
            .entry(topic)
            .or_default()
            .recordings
            .push(name);
    }

    /// Forgets a recording that has ended.
    fn remove_recording(&mut self, name: &str) {
        if let Some(old) = self.recordings.remove(name) {
            self.unindex(&old.topic, name, |m| &mut m.recordings);
        }
    }

    /// Drops `key` from one of `topic`'s lists, and the topic once it has nothing left.
    fn unindex(
        &mut self,
        topic: &MediaTopic,
        key: &str,
        list: impl Fn(&mut TopicMedia) -> &mut Vec<Arc<str>>,
    ) {
        let Some(media) = self.by_topic.get_mut(topic) else {
            return;
        };
        let keys = list(media);
        if let Some(at) = keys.iter().position(|k| &**k == key) {
            keys.swap_remove(at);
        }
        if media.playbacks.is_empty() && media.recordings.is_empty() {
            self.by_topic.remove(topic);
        }
    }

    /// The key of the oldest live playback with id `id`.
    fn playback_key(&self, id: &str) -> Option<Arc<str>> {
        match self.playbacks.get_key_value(id) {
            Some((key, _)) => Some(key.clone()),
            None => self.same_id.get(id).and_then(|keys| keys.front().cloned()),
        }
    }

    /// The oldest live playback with id `id` (404).
    fn playback(&self, id: &str) -> Result<&PlaybackInfo, CoreError> {
        self.playback_key(id)
            .and_then(|key| self.playbacks.get(&key))
            .ok_or_else(playback_not_found)
    }

    /// The oldest live playback with id `id`, to change (404).
    fn playback_mut(&mut self, id: &str) -> Result<&mut PlaybackInfo, CoreError> {
        let key = self.playback_key(id).ok_or_else(playback_not_found)?;
        self.playbacks.get_mut(&key).ok_or_else(playback_not_found)
    }

    /// A live recording by name (404).
    fn recording(&self, name: &str) -> Result<&LiveRecordingInfo, CoreError> {
        self.recordings.get(name).ok_or_else(recording_not_found)
    }

    /// A live recording by name, to change (404).
    fn recording_mut(&mut self, name: &str) -> Result<&mut LiveRecordingInfo, CoreError> {
        self.recordings
            .get_mut(name)
            .ok_or_else(recording_not_found)
    }

    /// The live playbacks and recordings of `topic` (`None` when it has none).
    pub(super) fn of_topic(&self, topic: &MediaTopic) -> Option<&TopicMedia> {
        self.by_topic.get(topic)
    }

    /// Gives every live playback and recording of `topic` the applications that are to
    /// hear its remaining events (see `media_audience`).
    pub(super) fn set_audience(&mut self, topic: &MediaTopic, apps: &Arc<[String]>) {
        let Some(live) = self.by_topic.get(topic) else {
            return;
        };
        for id in &live.playbacks {
            if let Some(playback) = self.playbacks.get_mut(id) {
                playback.audience = Some(apps.clone());
            }
        }
        for name in &live.recordings {
            if let Some(recording) = self.recordings.get_mut(name) {
                recording.audience = Some(apps.clone());
            }
        }
    }
}

fn playback_not_found() -> CoreError {
    CoreError::NotFound("Playback not found".into())
}

fn recording_not_found() -> CoreError {
    CoreError::NotFound("Recording not found".into())
}

/// How far `forward` and `reverse` move a playback when `skipms` is not given or is 0
/// (ARI's default, applied where the parameter is read).
pub const DEFAULT_SKIP_MS: i64 = 3000;

/// `POST /channels/{id}/play`.
#[derive(Debug, Clone)]
pub struct PlayRequest {
    pub media: Vec<String>,
    pub lang: Option<String>,
    pub offset_ms: i64,
    /// How far `forward` and `reverse` move, as given ([`DEFAULT_SKIP_MS`] by default).
    pub skip_ms: i64,
    pub playback_id: Option<String>,
}

impl Default for PlayRequest {
    fn default() -> Self {
        PlayRequest {
            media: Vec::new(),
            lang: None,
            offset_ms: 0,
            skip_ms: DEFAULT_SKIP_MS,
            playback_id: None,
        }
    }
}

/// `POST /channels/{id}/record` and `POST /bridges/{id}/record`.
#[derive(Debug, Clone, Default)]
pub struct RecordChannelRequest {
    pub name: String,
    pub format: String,
    /// Bridges only: the recorder's format (checked, 422 when unknown; the mix is
    /// recorded at 8 kHz whatever it says).
    pub recorder_format: Option<String>,
    pub max_duration_seconds: i64,
    pub max_silence_seconds: i64,
    pub if_exists: Option<String>,
    pub terminate_on: Option<String>,
    /// Play a beep to the target before recording (not itself recorded).
    pub beep: bool,
}

/// Hears the engine and turns what it says into state changes and ARI events. Called on
/// the engine's reporter thread (never on its clock), so waiting here for the state lock
/// delays no frame; the events queued meanwhile are applied in order under one lock.
struct Listener(Weak<Core>);

impl MediaListener for Listener {
    fn media_event(&self, event: MediaEvent) {
        self.media_events(&mut std::iter::once(event));
    }

    fn media_events(&self, events: &mut dyn Iterator<Item = MediaEvent>) {
        if let Some(core) = self.0.upgrade() {
            core.with_state(|state| {
                for event in events {
                    core.media_event(state, event);
                }
            });
        }
    }
}

impl Core {
    /// Starts the media engine; until then channels have no media and media operations
    /// answer 501.
    pub fn start_media(&self, setup: MediaSetup) -> std::io::Result<()> {
        let opener = Arc::new(FileOpener::default());
        let engine = MediaEngine::start(opener.clone(), Arc::new(Listener(self.weak())))?;
        self.recordings.load(&setup.recordings_dir, &self.quotas);
        let _ = self.media.set(Media {
            engine,
            setup,
            opener,
        });
        Ok(())
    }

    /// The media side, or 501 when it was never started.
    pub fn media(&self) -> Result<&Media, CoreError> {
        self.media.get().ok_or_else(|| {
            CoreError::NotImplemented(
                "The media engine is not running (it failed to start: see the log)".into(),
            )
        })
    }

    fn media_command(&self, command: Command) {
        if let Some(media) = self.media.get() {
            media.engine.send(command);
        }
    }

    /// A new channel gets its media leg.
    pub(crate) fn media_leg_added(&self, id: &Arc<str>) {
        self.media_command(Command::AddLeg {
            id: id.clone(),
            rate: Rate::Narrow8k,
        });
    }

    /// The two halves of a Local channel hear each other.
    pub(crate) fn media_legs_paired(&self, a: &Arc<str>, b: &Arc<str>) {
        self.media_command(Command::Pair {
            a: a.clone(),
            b: b.clone(),
        });
    }

    /// A channel is gone: its leg, playbacks and recordings end.
    pub(crate) fn media_leg_removed(&self, id: &Arc<str>) {
        self.media_command(Command::RemoveLeg { id: id.clone() });
    }

    /// A digit sent out on a channel, through its media leg (its peer receives it once
    /// the digit's tone has been played to it). False when media is not running: the
    /// caller delivers the digit itself.
    pub(crate) fn media_send_dtmf(&self, id: &Arc<str>, digit: char, duration_ms: u32) -> bool {
        let Some(media) = self.media.get() else {
            return false;
        };
        media.engine.send(Command::SendDtmf {
            leg: id.clone(),
            digit,
            duration_ms,
        });
        true
    }

    /// A digit arrived on a channel (recordings may end on it).
    pub(crate) fn media_dtmf(&self, id: &Arc<str>, digit: char) {
        self.media_command(Command::DtmfReceived {
            leg: id.clone(),
            digit,
        });
    }

    /// A bridge was created: a mixing bridge mixes its members, a holding one does not.
    pub(crate) fn media_bridge_added(&self, id: &Arc<str>, mixing: bool) {
        self.media_command(Command::AddBridge {
            id: id.clone(),
            mixing,
        });
    }

    /// A bridge is gone (its members have left): its playbacks and recordings end.
    pub(crate) fn media_bridge_removed(&self, state: &mut State, id: &Arc<str>) {
        state.media.bridge_moh.remove(id);
        self.media_command(Command::RemoveBridge { id: id.clone() });
    }

    /// A channel entered a bridge.
    pub(crate) fn media_bridge_joined(&self, bridge: &Arc<str>, channel: &Arc<str>) {
        self.media_command(Command::JoinBridge {
            bridge: bridge.clone(),
            leg: channel.clone(),
        });
    }

    /// A channel left its bridge.
    pub(crate) fn media_bridge_left(&self, channel: &Arc<str>) {
        self.media_command(Command::LeaveBridge {
            leg: channel.clone(),
        });
    }

    /// Applies a channel's mute flags (after `/channels/{id}/mute`) to its media leg.
    pub(crate) fn media_mute_changed(&self, leg: Arc<str>, inbound: bool, outbound: bool) {
        self.media_command(Command::Mute {
            leg,
            inbound,
            outbound,
        });
    }

    /// The channel of a music-on-hold or silence request (404, 409, 412).
    fn hold_target(&self, id: &str) -> Result<Arc<str>, CoreError> {
        self.with_state(|state| Ok(self.controllable(state, id, true)?.id.clone()))
    }

    /// Sends the engine a hold command for a channel's leg (after [`Core::hold_target`]'s
    /// checks).
    fn channel_hold(
        &self,
        id: &str,
        command: impl FnOnce(&Media, Arc<str>) -> Command,
    ) -> Result<(), CoreError> {
        let media = self.media()?;
        let leg = self.hold_target(id)?;
        media.engine.send(command(media, leg));
        Ok(())
    }

    /// `POST /channels/{id}/moh`: the channel hears the class (see [`moh_source`]) instead
    /// of anything else, until stopped or a playback starts on it.
    pub fn start_channel_moh(&self, id: &str, class: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |media, leg| Command::StartHold {
            leg,
            hold: Hold::Moh(moh_source(media, class, Rate::Narrow8k)),
        })
    }

    /// `DELETE /channels/{id}/moh`: nothing happens when none is playing.
    pub fn stop_channel_moh(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StopHold {
            leg,
            kind: HoldKind::Moh,
        })
    }

    /// `POST /channels/{id}/silence`: the channel hears silence (even in a bridge), until
    /// stopped or a playback starts on it.
    pub fn start_channel_silence(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StartHold {
            leg,
            hold: Hold::Silence,
        })
    }

    /// `DELETE /channels/{id}/silence`.
    pub fn stop_channel_silence(&self, id: &str) -> Result<(), CoreError> {
        self.channel_hold(id, |_, leg| Command::StopHold {
            leg,
            kind: HoldKind::Silence,
        })
    }

    /// `POST /bridges/{id}/moh`: 404, 409; the class is mixed into what every member hears
    /// (calling again changes the class).
    pub fn start_bridge_moh(&self, id: &str, class: &str) -> Result<(), CoreError> {
        let media = self.media()?;
        let bridge = self.with_state(|state| self.stasis_bridge(state, id))?;
        let source = moh_source(media, class, Rate::Narrow8k);
        self.with_state(|state| {
            // Checked again: the bridge may have gone while the class was opened.
            let bridge = self.stasis_bridge(state, &bridge)?;
            state.media.bridge_moh.insert(bridge.clone());
            media.engine.send(Command::BridgeMoh {
                bridge,
                source: Some(source),
            });
            Ok(())
        })
    }

    /// `DELETE /bridges/{id}/moh`: 404, 409 (not an ARI bridge, or no music on hold).
    pub fn stop_bridge_moh(&self, id: &str) -> Result<(), CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, id)?;
            if !state.media.bridge_moh.remove(&bridge) {
                return Err(CoreError::Conflict("Bridge isn't playing music".into()));
            }
            media.engine.send(Command::BridgeMoh {
                bridge,
                source: None,
            });
            Ok(())
        })
    }

    /// `POST /channels/{id}/play[/{playbackId}]`: 404, 409, 412 as for other media
    /// operations; the playback is queued on the channel and returned (state `queued`).
    /// It stops music on hold or silence on the channel (neither comes back by itself).
    pub fn play_on_channel(&self, id: &str, request: PlayRequest) -> Result<Value, CoreError> {
        let media = self.media()?;
        let uris = play_uris(&request)?;
        self.with_state(|state| {
            let channel = self.controllable(state, id, true)?;
            let channel_id = channel.id.clone();
            let language = channel.language.clone();
            Ok(self.queue_playback_locked(
                media,
                state,
                MediaTopic::Channel(channel_id),
                language,
                uris,
                &request,
                Rate::Narrow8k,
            ))
        })
    }

    /// `POST /bridges/{id}/play[/{playbackId}]`: 404, 409 (not an ARI bridge), 422 (unknown
    /// `announcer_format`). The announcer's audio is mixed into every member's (holding
    /// bridges included); events go to the bridge's topic (`target_uri` `bridge:<id>`).
    pub fn play_on_bridge(
        &self,
        id: &str,
        request: PlayRequest,
        announcer_format: Option<&str>,
    ) -> Result<Value, CoreError> {
        let media = self.media()?;
        let uris = play_uris(&request)?;
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, id)?;
            let rate = match announcer_format.filter(|f| !f.is_empty()) {
                None => Rate::Narrow8k,
                Some(name) => Format::from_name(name)
                    .ok_or_else(|| {
                        CoreError::Unprocessable(
                            "specified announcer_format is unknown on this system".into(),
                        )
                    })?
                    .raw_rate()
                    .unwrap_or(Rate::Narrow8k),
            };
            Ok(self.queue_playback_locked(
                media,
                state,
                MediaTopic::Bridge(bridge),
                "en".to_string(),
                uris,
                &request,
                rate,
            ))
        })
    }

    /// Registers a playback (state `queued`) and hands it to the engine.
    #[allow(clippy::too_many_arguments)]
    fn queue_playback_locked(
        &self,
        media: &Media,
        state: &mut State,
        topic: MediaTopic,
        default_language: String,
        uris: Vec<String>,
        request: &PlayRequest,
        rate: Rate,
    ) -> Value {
        let language = request
            .lang
            .clone()
            .filter(|l| !l.is_empty())
            .unwrap_or(default_language);
        let playback_id: Arc<str> = Arc::from(
            request
                .playback_id
                .clone()
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
                .as_str(),
        );
        let items: Vec<PlayItem> = uris
            .iter()
            .map(|uri| resolve(&media.setup, uri, &language))
            .collect();
        let target = topic.target();
        let info = PlaybackInfo {
            id: playback_id.clone(),
            key: playback_id,
            media_uri: uris[0].clone(),
            next_media_uri: uris.get(1).cloned(),
            target_uri: topic.uri(),
            language,
            state: "queued",
            topic,
            audience: None,
        };
        let json = info.json();
        let key = state.media.add_playback(info);
        media.engine.send(Command::Play {
            id: key,
            target,
            items,
            // Neither is negative: `play_uris` checked.
            offset_ms: u64::try_from(request.offset_ms).unwrap_or(0),
            skip_ms: u64::try_from(request.skip_ms).unwrap_or(0),
            rate,
        });
        json
    }

    /// `GET /playbacks/{id}`.
    pub fn get_playback(&self, id: &str) -> Result<Value, CoreError> {
        self.with_state(|state| state.media.playback(id).map(PlaybackInfo::json))
    }

    /// `DELETE /playbacks/{id}`.
    pub fn stop_playback(&self, id: &str) -> Result<(), CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let playback = state.media.playback(id)?;
            media.engine.send(Command::StopPlayback {
                id: playback.key.clone(),
            });
            Ok(())
        })
    }

    /// `POST /playbacks/{id}/control`: the operation is checked before the playback.
    pub fn control_playback(&self, id: &str, operation: &str) -> Result<(), CoreError> {
        let op = match operation {
            "restart" => PlaybackOp::Restart,
            "pause" => PlaybackOp::Pause,
            "unpause" => PlaybackOp::Unpause,
            "reverse" => PlaybackOp::Reverse,
            "forward" => PlaybackOp::Forward,
            "" => return Err(CoreError::BadRequest("Missing operation".into())),
            other => {
                return Err(CoreError::BadRequest(format!("Invalid operation {other}")));
            }
        };
        let media = self.media()?;
        self.with_state(|state| {
            let playback = state.media.playback_mut(id)?;
            let allowed = matches!(
                (playback.state, op),
                ("queued", PlaybackOp::Restart)
                    | ("playing" | "continuing", _)
                    | ("paused", PlaybackOp::Pause | PlaybackOp::Unpause)
            );
            if !allowed {
                return Err(CoreError::Conflict(format!(
                    "Can only {operation} while media is playing"
                )));
            }
            match op {
                PlaybackOp::Pause => playback.state = "paused",
                PlaybackOp::Unpause => playback.state = "playing",
                _ => {}
            }
            media.engine.send(Command::ControlPlayback {
                id: playback.key.clone(),
                op,
            });
            Ok(())
        })
    }

    /// `POST /channels/{id}/record`, checked in Asterisk 23.4.1's order: a negative
    /// duration (400), the channel (404, 409), the options (400), the format (422), then
    /// the name (see [`record_plan`]). The channel is answered.
    ///
    /// `owner` is the user the recording's disk counts against (`max_recordings_kb`): at or
    /// over its quota the request is refused (403) and nothing starts.
    pub fn record_channel(
        &self,
        id: &str,
        request: RecordChannelRequest,
        owner: Option<&Arc<Account>>,
    ) -> Result<Value, CoreError> {
        if request.max_duration_seconds < 0 {
            return Err(CoreError::BadRequest(
                "max_duration_seconds cannot be negative".into(),
            ));
        }
        if request.max_silence_seconds < 0 {
            return Err(CoreError::BadRequest(
                "max_silence_seconds cannot be negative".into(),
            ));
        }
        let media = self.media()?;
        self.with_state(|state| {
            let channel = self.controllable(state, id, false)?;
            let (channel_id, bridged) = (channel.id.clone(), channel.bridge.is_some());
            let options = record_options(&request)?;
            let plan = record_plan(media, state, &request, options)?;
            let topic = MediaTopic::Channel(channel_id.clone());
            if bridged {
                return Ok(self.refuse_bridged_recording_locked(state, plan, topic));
            }
            let json = self.start_recording_locked(media, state, plan, &request, topic, owner)?;
            // Recording answers an inbound channel; an outbound leg not answered yet (a
            // created channel before /dial) is left alone.
            if state
                .channels
                .get(&channel_id)
                .is_some_and(|c| !c.state.blocks_control())
            {
                self.answer_locked(state, &channel_id);
            }
            Ok(json)
        })
    }

    /// `POST /bridges/{id}/record`: the mix of every participant. Checked in Asterisk
    /// 23.4.1's order: the bridge (404, 409), the format and `recorder_format` (422), the
    /// options (400), then the name and durations (see [`record_plan`]).
    /// `owner` as for [`Core::record_channel`].
    pub fn record_bridge(
        &self,
        id: &str,
        request: RecordChannelRequest,
        owner: Option<&Arc<Account>>,
    ) -> Result<Value, CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, id)?;
            record_format(&request)?;
            if let Some(name) = request.recorder_format.as_deref().filter(|f| !f.is_empty())
                && Format::from_name(name).is_none()
            {
                return Err(CoreError::Unprocessable(
                    "specified recorder_format is unknown on this system".into(),
                ));
            }
            let options = record_options(&request)?;
            let plan = record_plan(media, state, &request, options)?;
            let topic = MediaTopic::Bridge(bridge);
            self.start_recording_locked(media, state, plan, &request, topic, owner)
        })
    }

    /// Opens the file and starts the recording in the engine (state `queued` until
    /// RecordingStarted).
    fn start_recording_locked(
        &self,
        media: &Media,
        state: &mut State,
        plan: RecordPlan,
        request: &RecordChannelRequest,
        topic: MediaTopic,
        owner: Option<&Arc<Account>>,
    ) -> Result<Value, CoreError> {
        if let Some(owner) = owner {
            owner.check_recording_room(0)?;
        }
        let file = plan.path.with_extension(plan.format.extension());
        let info = LiveRecordingInfo::queued(plan.name.clone(), plan.format, topic);
        let writer = match RecordingWriter::create(
            &file,
            plan.format,
            Rate::Narrow8k,
            plan.if_exists,
        ) {
            Ok(writer) => writer,
            Err(crate::media::MediaError::AlreadyExists(_)) => {
                return Err(recording_exists(&plan.name));
            }
            Err(other) => {
                // The request was valid; the file system refused (unwritable directory,
                // disk full...): the recording fails, as a recording failing later would,
                // and nothing is left on disk.
                tracing::warn!(recording = %plan.name, error = %other, "cannot open the recording's file: RecordingFailed");
                return Ok(self.publish_recording_failed(
                    state,
                    info,
                    "Could not open the recording file for writing",
                ));
            }
        };
        let name = plan.name;
        let target = info.topic.target();
        let json = info.json();
        state.media.add_recording(info);
        let seconds = |s: i64| u64::try_from(s).unwrap_or(0).saturating_mul(1000);
        let sink = ChargedSink::new(
            writer,
            owner.cloned(),
            self.recordings.clone(),
            &media.setup.recordings_dir,
        );
        let record = RecordRequest {
            name,
            target,
            sink: Box::new(sink),
            max_duration_ms: seconds(request.max_duration_seconds),
            max_silence_ms: seconds(request.max_silence_seconds),
            terminate_on: plan.terminate_on,
        };
        media.engine.send(if request.beep {
            Command::RecordAfterBeep {
                request: record,
                beep: Part::Tone(BEEP_TONE.into()),
            }
        } else {
            Command::Record(record)
        });
        Ok(json)
    }

    /// A recording that fails before it starts: `RecordingFailed` (duration 0, `cause`)
    /// on its topic, nothing registered. Returns the failed object.
    pub(super) fn publish_recording_failed(
        &self,
        state: &mut State,
        mut info: LiveRecordingInfo,
        cause: &str,
    ) -> Value {
        info.state = "failed";
        info.duration_s = Some(0);
        info.cause = Some(cause.into());
        let json = info.json();
        self.publish(
            state,
            Event::new("RecordingFailed", info.topic.scope()).with("recording", json.clone()),
        );
        json
    }

    /// `GET /recordings/live/{name}`.
    pub fn get_live_recording(&self, name: &str) -> Result<Value, CoreError> {
        self.with_state(|state| state.media.recording(name).map(LiveRecordingInfo::json))
    }

    /// The live recording operations: stop, cancel (DELETE), pause/unpause, mute/unmute.
    pub fn control_live_recording(&self, name: &str, op: RecordingOp) -> Result<(), CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let recording = state.media.recording_mut(name)?;
            let live = matches!(recording.state, "queued" | "recording" | "paused");
            let allowed = match op {
                RecordingOp::Stop | RecordingOp::Cancel => live,
                _ => matches!(recording.state, "recording" | "paused"),
            };
            if !allowed {
                return Err(CoreError::Conflict("Recording not in session".into()));
            }
            match op {
                RecordingOp::Pause => recording.state = "paused",
                RecordingOp::Unpause => recording.state = "recording",
                _ => {}
            }
            media.engine.send(Command::ControlRecording {
                name: recording.name.clone(),
                op,
            });
            Ok(())
        })
    }

    /// What the engine reported: update the object and publish its event.
    fn media_event(&self, state: &mut State, event: MediaEvent) {
        match event {
            MediaEvent::Playback {
                id,
                state: playback_state,
                media_uri,
                next_media_uri,
            } => {
                if self.dialplan_playback_event(state, &id, playback_state) {
                    return;
                }
                let Some(playback) = state.media.playbacks.get_mut(&id) else {
                    return;
                };
                let (kind, text) = match playback_state {
                    PlaybackState::Playing => ("PlaybackStarted", "playing"),
                    PlaybackState::Continuing => ("PlaybackContinuing", "continuing"),
                    PlaybackState::Done => ("PlaybackFinished", "done"),
                    PlaybackState::Failed => ("PlaybackFinished", "failed"),
                };
                playback.state = text;
                if !media_uri.is_empty() {
                    playback.media_uri = media_uri;
                }
                // A finished playback shows the item it ended on and the one after, as
                // Asterisk does when one is stopped in the middle of a list; only the
                // start of an item moves them on.
                if kind != "PlaybackFinished" {
                    playback.next_media_uri = next_media_uri;
                }
                let json = playback.json();
                let topic = playback.topic.clone();
                let audience = playback.audience.clone();
                if kind == "PlaybackFinished" {
                    state.media.remove_playback(&id);
                }
                let event = Event::new(kind, topic.scope()).with("playback", json);
                self.publish_media_event(state, &topic, audience, event);
            }
            MediaEvent::Recording {
                name,
                state: recording_state,
                duration_ms,
                talking_ms,
            } => {
                let Some(recording) = state.media.recordings.get_mut(&name) else {
                    return;
                };
                let kind = match &recording_state {
                    RecordingState::Recording => {
                        recording.state = "recording";
                        "RecordingStarted"
                    }
                    RecordingState::Done => {
                        recording.state = "done";
                        "RecordingFinished"
                    }
                    // Asterisk 23.4.1 ends a canceled recording (its file deleted) as
                    // `done`, like a stopped one.
                    RecordingState::Canceled => {
                        recording.state = "done";
                        "RecordingFinished"
                    }
                    RecordingState::Failed(cause) => {
                        recording.state = "failed";
                        recording.cause = Some(cause.clone());
                        "RecordingFailed"
                    }
                };
                if kind != "RecordingStarted" {
                    recording.duration_s = Some(duration_ms / 1000);
                    recording.talking_s = talking_ms.map(|ms| ms / 1000);
                }
                let json = recording.json();
                let topic = recording.topic.clone();
                let audience = recording.audience.clone();
                if kind != "RecordingStarted" {
                    state.media.remove_recording(&name);
                }
                let event = Event::new(kind, topic.scope()).with("recording", json);
                self.publish_media_event(state, &topic, audience, event);
            }
            MediaEvent::Dtmf {
                leg,
                digit,
                duration_ms,
            } => self.dtmf_received(state, &leg, digit, duration_ms),
        }
    }
}

/// The media URIs of a playback request (400 when there are none or an offset is
/// negative).
fn play_uris(request: &PlayRequest) -> Result<Vec<String>, CoreError> {
    if request.offset_ms < 0 {
        return Err(CoreError::BadRequest("offsetms cannot be negative".into()));
    }
    if request.skip_ms < 0 {
        return Err(CoreError::BadRequest("skipms cannot be negative".into()));
    }
    let uris: Vec<String> = request
        .media
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if uris.is_empty() {
        return Err(CoreError::BadRequest(
            "Missing required parameter: media".into(),
        ));
    }
    Ok(uris)
}

/// A recording request, checked: what to record where.
pub(super) struct RecordPlan {
    pub(super) name: Arc<str>,
    pub(super) format: Format,
    /// The file, without its extension.
    pub(super) path: PathBuf,
    pub(super) if_exists: IfExists,
    terminate_on: TerminateOn,
}

/// Asterisk's message for a recording request it cannot parse (no name, a negative
/// duration on a bridge, a name that leaves the recordings directory), as a 400 where
/// Asterisk answers 500 (wari answers a client's mistake with a 4xx).
fn unparsable() -> CoreError {
    CoreError::BadRequest("Error parsing request".into())
}

/// 409 for a recording name that is live, or stored with `ifExists=fail`.
fn recording_exists(name: &str) -> CoreError {
    CoreError::Conflict(format!(
        "Recording '{name}' already exists and can not be overwritten"
    ))
}

/// The format of a recording request: 422 when unknown (or not given).
fn record_format(request: &RecordChannelRequest) -> Result<Format, CoreError> {
    Format::from_name(&request.format).ok_or_else(|| {
        CoreError::Unprocessable("specified format is unknown on this system".into())
    })
}

/// `terminateOn` and `ifExists` (400 when not one of theirs).
fn record_options(request: &RecordChannelRequest) -> Result<(TerminateOn, IfExists), CoreError> {
    let terminate_on = match request
        .terminate_on
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => TerminateOn::None,
        Some("any") => TerminateOn::Any,
        Some("*") => TerminateOn::Star,
        Some("#") => TerminateOn::Pound,
        Some(_) => return Err(CoreError::BadRequest("terminateOn invalid".into())),
    };
    let if_exists = match request.if_exists.as_deref().filter(|s| !s.is_empty()) {
        None => IfExists::Fail,
        Some(text) => {
            IfExists::parse(text).ok_or_else(|| CoreError::BadRequest("ifExists invalid".into()))?
        }
    };
    Ok((terminate_on, if_exists))
}

/// The rest of a recording request once its target and options passed, in Asterisk
/// 23.4.1's order: the format (422); a missing name, a negative duration or a name that
/// leaves the recordings directory (400 `Error parsing request`; Asterisk answers 500); with `ifExists=fail` a
/// stored recording of that name in any format (409); a live recording of that name
/// (409).
fn record_plan(
    media: &Media,
    state: &State,
    request: &RecordChannelRequest,
    (terminate_on, if_exists): (TerminateOn, IfExists),
) -> Result<RecordPlan, CoreError> {
    let format = record_format(request)?;
    if request.name.is_empty()
        || request.max_duration_seconds < 0
        || request.max_silence_seconds < 0
    {
        return Err(unparsable());
    }
    let dir = &media.setup.recordings_dir;
    let path = safe_join(dir, &request.name).map_err(|_| unparsable())?;
    if if_exists == IfExists::Fail && matches!(find_recording(dir, &request.name), Ok(Some(_))) {
        return Err(recording_exists(&request.name));
    }
    if state.media.recordings.contains_key(request.name.as_str()) {
        return Err(recording_exists(&request.name));
    }
    Ok(RecordPlan {
        name: Arc::from(request.name.as_str()),
        format,
        path,
        if_exists,
        terminate_on,
    })
}

/// A music-on-hold class as an engine source.
struct MohSource(MohPlayer);

impl Source for MohSource {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        Some(self.0.next_frame())
    }
}

/// Silence forever: music on hold of a class without files.
struct SilentSource(Rate);

impl Source for SilentSource {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        Some(AudioFrame::silence(self.0))
    }
}

/// The music of class `class` (empty: `default`; unknown: `default` too, as Asterisk
/// falls back), or silence when the class has no playable file.
fn moh_source(media: &Media, class: &str, rate: Rate) -> Box<dyn Source> {
    let config = &media.setup.moh;
    let name = match config.class(class) {
        Some(_) => class,
        None => {
            tracing::warn!(
                class,
                "unknown music on hold class; playing the default class"
            );
            ""
        }
    };
    match MohPlayer::open_named(config, name, rate, media.opener.clone()) {
        Ok(player) => Box::new(MohSource(player)),
        Err(error) => {
            tracing::warn!(class = name, %error, "music on hold has nothing to play: silence instead");
            Box::new(SilentSource(rate))
        }
    }
}

/// One media URI into the parts to play.
pub(super) fn resolve(setup: &MediaSetup, uri: &str, language: &str) -> PlayItem {
    let (scheme, rest) = uri.split_once(':').unwrap_or((uri, ""));
    let sound = |name: &str| match setup.sounds.resolve(name, Some(language)) {
        Some((path, _)) => Part::File(path),
        None => Part::Missing(format!(
            "sound '{name}' not found for language '{language}'"
        )),
    };
    let parts = match scheme {
        "sound" => vec![sound(rest)],
        "recording" => match find_recording(&setup.recordings_dir, rest) {
            Ok(Some(stored)) => vec![Part::File(stored.path)],
            Ok(None) => vec![Part::Missing(format!("recording '{rest}' not found"))],
            Err(e) => vec![Part::Missing(e.to_string())],
        },
        "number" => match say::say_number(rest) {
            Ok(names) => names.iter().map(|n| sound(n)).collect(),
            Err(e) => vec![Part::Missing(e.to_string())],
        },
        "digits" => say::say_digits(rest).iter().map(|n| sound(n)).collect(),
        "characters" => say::say_characters(rest).iter().map(|n| sound(n)).collect(),
        "tone" => vec![Part::Tone(rest.to_string())],
        other => vec![Part::Missing(format!("unknown media scheme '{other}'"))],
    };
    PlayItem {
        uri: uri.to_string(),
        parts,
    }
}

/// A stored recording's file, for download: where it is and how long.
#[derive(Debug, Clone)]
pub struct StoredRecordingFile {
    pub content_type: &'static str,
    pub path: PathBuf,
    pub len: u64,
}

impl Core {
    fn recordings_dir(&self) -> Result<PathBuf, CoreError> {
        Ok(self.media()?.setup.recordings_dir.clone())
    }

    fn stored(&self, name: &str) -> Result<crate::media::file::StoredFile, CoreError> {
        let dir = self.recordings_dir()?;
        match find_recording(&dir, name) {
            Ok(Some(stored)) => Ok(stored),
            Ok(None) | Err(_) => Err(recording_not_found()),
        }
    }

    /// `GET /recordings/stored`.
    pub fn list_stored_recordings(&self) -> Result<Value, CoreError> {
        let dir = self.recordings_dir()?;
        Ok(Value::Array(
            crate::media::file::list_recordings(&dir)
                .into_iter()
                .map(|f| json!({"name": f.name, "format": f.format.name()}))
                .collect(),
        ))
    }

    /// `GET /recordings/stored/{name}`.
    pub fn get_stored_recording(&self, name: &str) -> Result<Value, CoreError> {
        let stored = self.stored(name)?;
        Ok(json!({"name": stored.name, "format": stored.format.name()}))
    }

    /// `DELETE /recordings/stored/{name}`.
    /// Its owner gets its bytes back. Blocking file and store work: call it off the async
    /// workers.
    pub fn delete_stored_recording(&self, name: &str) -> Result<(), CoreError> {
        let stored = self.stored(name)?;
        std::fs::remove_file(&stored.path).map_err(|error| {
            tracing::warn!(path = %stored.path.display(), %error, "cannot delete a recording");
            CoreError::Internal("Recording could not be deleted".into())
        })?;
        if let Some(key) = file_key(&self.recordings_dir()?, &stored.path) {
            self.recordings.forget(&key);
        }
        Ok(())
    }

    /// `GET /recordings/stored/{name}/file`: the file (opened once, so that a file that
    /// cannot be read is a 403 as in Asterisk), its length and content type; the transport
    /// streams it. Blocking file work: call it off the async workers.
    pub fn stored_recording_file(&self, name: &str) -> Result<StoredRecordingFile, CoreError> {
        let stored = self.stored(name)?;
        let len = std::fs::File::open(&stored.path)
            .and_then(|file| file.metadata())
            .map_err(|error| {
                tracing::warn!(path = %stored.path.display(), %error, "cannot read a recording");
                CoreError::Forbidden("Recording file could not be opened".into())
            })?
            .len();
        Ok(StoredRecordingFile {
            content_type: stored.format.content_type(),
            path: stored.path,
            len,
        })
    }

    /// `POST /recordings/stored/{name}/copy`, checked in Asterisk 23.4.1's order and
    /// words: the source (404), then the destination: none given (400), outside the
    /// recordings directory (403), already there or being recorded (409). (Asterisk copies
    /// to a file named `.wav` when the destination is empty; here that is the 400 of a
    /// missing one.)
    ///
    /// The destination is a recording name, dots and all: only a trailing extension of the
    /// source's own format is dropped (`backup.wav` is `backup`). Asterisk cuts the name at
    /// its last dot instead, so that `backup.1` and `backup.2` both write, and overwrite,
    /// `backup.wav`; here the copy is always the recording the reply names, and it never
    /// replaces another file: the finished copy is linked in under its name, which fails
    /// if that name was taken meanwhile.
    ///
    /// The copy counts against `owner` (`max_recordings_kb`): a copy that would take it
    /// over its quota is refused (403).
    ///
    /// Blocking file work: call it off the async workers.
    pub fn copy_stored_recording(
        &self,
        name: &str,
        destination: &str,
        owner: Option<&Arc<Account>>,
    ) -> Result<Value, CoreError> {
        let stored = self.stored(name)?;
        if destination.is_empty() {
            return Err(CoreError::BadRequest(
                "Invalid destination recording name".into(),
            ));
        }
        let dir = self.recordings_dir()?;
        let extension = stored.format.extension();
        let destination = destination
            .strip_suffix(&format!(".{extension}"))
            .unwrap_or(destination);
        let forbidden = || CoreError::Forbidden("Destination file path is forbidden".into());
        let joined = safe_join(&dir, destination).map_err(|_| forbidden())?;
        let file_name = joined
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(forbidden)?
            .to_owned();
        let target = joined.with_file_name(format!("{file_name}.{extension}"));
        let exists = || {
            CoreError::Conflict(
                "A recording with the same name already exists on the system".into(),
            )
        };
        if matches!(find_recording(&dir, destination), Ok(Some(_)))
            || self.get_live_recording(destination).is_ok()
        {
            return Err(exists());
        }
        if let Some(owner) = owner {
            let size = std::fs::metadata(&stored.path).map_or(0, |m| m.len());
            owner.check_recording_room(size.max(1))?;
        }
        let failed = |error: std::io::Error| {
            tracing::warn!(%error, "cannot copy a recording");
            CoreError::Internal("Recording could not be copied".into())
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(failed)?;
        }
        // Copied under a hidden temporary name (listings skip it; start-up removes one a
        // crash left), then linked in: a crash never leaves half a copy under the name.
        let temporary = joined.with_file_name(format!(
            ".{file_name}.{}{COPY_SUFFIX}",
            uuid::Uuid::new_v4().simple()
        ));
        let copied = std::fs::copy(&stored.path, &temporary)
            .and_then(|_| std::fs::hard_link(&temporary, &target));
        let _ = std::fs::remove_file(&temporary);
        match copied {
            Ok(()) => {
                if let Some(key) = file_key(&dir, &target) {
                    let size = std::fs::metadata(&target).map_or(0, |m| m.len());
                    self.recordings.settle(&key, owner, size, 0);
                }
                Ok(json!({"name": destination, "format": stored.format.name()}))
            }
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Err(exists()),
            Err(error) => Err(failed(error)),
        }
    }

    /// `GET /sounds`: 404 when nothing matches, as in Asterisk.
    pub fn list_sounds(
        &self,
        lang: Option<&str>,
        format: Option<&str>,
    ) -> Result<Value, CoreError> {
        let sounds = self.media()?.setup.sounds.list(lang, format);
        if sounds.is_empty() {
            return Err(CoreError::NotFound(
                "No sounds found that matched the query".into(),
            ));
        }
        serde_json::to_value(sounds).map_err(|e| CoreError::Internal(e.to_string()))
    }

    /// `GET /sounds/{id}`.
    pub fn get_sound(&self, id: &str) -> Result<Value, CoreError> {
        let sound = self
            .media()?
            .setup
            .sounds
            .get(id)
            .ok_or_else(|| CoreError::NotFound("Sound not found".into()))?;
        serde_json::to_value(sound).map_err(|e| CoreError::Internal(e.to_string()))
    }
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
