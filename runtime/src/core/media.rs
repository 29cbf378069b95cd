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

pub(crate) mod audience;
pub(crate) mod dialplan;
pub(crate) mod hangup;
mod hold;
pub(crate) mod recording_quota;
mod requests;
pub(crate) mod rules;
pub(crate) mod shutdown;
mod state;
mod stored;

use crate::core::control::ControlApi;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use serde_json::Value;

use super::event::{Event, Scope};
use super::quota::Account;
use super::{Core, CoreError, State};
use crate::config::musiconhold_conf::MohConfig;
use crate::media::engine::{
    Command, MediaEngine, MediaEvent, MediaListener, Part, PlayItem, PlaybackOp, PlaybackState,
    RecordRequest, RecordingOp, RecordingState, Target,
};
use crate::media::file::{RecordingWriter, find_recording};
use crate::media::format::Format;
use crate::media::frame::Rate;
use crate::media::say;
use crate::media::sounds::SoundIndex;
use crate::media::sources::FileOpener;
use recording_quota::ChargedSink;
pub use requests::{DEFAULT_SKIP_MS, PlayRequest, RecordChannelRequest};
use requests::{
    RecordPlan, play_uris, record_format, record_options, record_plan, recording_exists,
};
use state::recording_not_found;
pub use state::{LiveRecordingInfo, MediaState, PlaybackInfo};
pub use stored::StoredRecordingFile;

/// Where media comes from and goes to.
#[derive(Debug, Clone)]
pub struct MediaSetup {
    /// The sound files found under the sounds directory, by language and name.
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
    /// The events go to the channel's subscribers; the id is the channel's.
    Channel(Arc<str>),
    /// The events go to the bridge's subscribers; the id is the bridge's.
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
    /// The media engine that mixes, plays and records, one tick every 20 ms.
    pub engine: MediaEngine,
    /// Where sounds, recordings and music on hold are found.
    pub setup: MediaSetup,
    /// The engine's file opener, shared with music on hold (cached, decoded off the
    /// media thread).
    pub opener: Arc<FileOpener>,
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

    /// A new channel gets its media leg, as its technology declared it.
    pub(in crate::core) fn media_leg_added(&self, id: &Arc<str>, leg: super::tech::MediaLeg) {
        let Some(media) = self.media.get() else {
            return;
        };
        media.engine.send(Command::AddLeg {
            id: id.clone(),
            rate: leg.rate,
        });
        if let Some(edge) = leg.edge {
            media.engine.send(Command::AttachEdge {
                leg: id.clone(),
                edge,
            });
        }
        if let Some(tap) = leg.tap {
            media.engine.send(Command::Snoop(crate::media::snoop::Tap {
                snoop: id.clone(),
                target: tap.target,
                spy: tap.spy,
                whisper: tap.whisper,
            }));
        }
    }

    /// The two halves of a Local channel hear each other.
    pub(in crate::core) fn media_legs_paired(&self, a: &Arc<str>, b: &Arc<str>) {
        self.media_command(Command::Pair {
            a: a.clone(),
            b: b.clone(),
        });
    }

    /// A channel is gone: its leg, playbacks and recordings end.
    pub(in crate::core) fn media_leg_removed(&self, id: &Arc<str>) {
        self.media_command(Command::RemoveLeg { id: id.clone() });
    }

    /// A digit sent out on a channel, through its media leg (its peer receives it once
    /// the digit's tone has been played to it). False when media is not running: the
    /// caller delivers the digit itself.
    pub(in crate::core) fn media_send_dtmf(
        &self,
        id: &Arc<str>,
        digit: char,
        duration_ms: u32,
    ) -> bool {
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
    pub(in crate::core) fn media_dtmf(&self, id: &Arc<str>, digit: char) {
        self.media_command(Command::DtmfReceived {
            leg: id.clone(),
            digit,
        });
    }

    /// A key pressed at a channel's far end, in band (see `tech::Context::far_end_key`);
    /// false when media is not running.
    pub(in crate::core) fn media_far_end_key(
        &self,
        id: &Arc<str>,
        digit: char,
        duration_ms: u32,
        quiet_ms: u32,
    ) -> bool {
        let Some(media) = self.media.get() else {
            return false;
        };
        media.engine.send(Command::FarEndDtmf {
            leg: id.clone(),
            digit,
            duration_ms,
            quiet_ms,
        });
        true
    }

    /// A bridge was created: a mixing bridge mixes its members, a holding one does not.
    pub(in crate::core) fn media_bridge_added(&self, id: &Arc<str>, mixing: bool) {
        self.media_command(Command::AddBridge {
            id: id.clone(),
            mixing,
        });
    }

    /// A bridge is gone (its members have left): its playbacks and recordings end.
    pub(in crate::core) fn media_bridge_removed(&self, state: &mut State, id: &Arc<str>) {
        state.media.bridge_moh.remove(id);
        self.media_command(Command::RemoveBridge { id: id.clone() });
    }

    /// A channel entered a bridge.
    pub(in crate::core) fn media_bridge_joined(&self, bridge: &Arc<str>, channel: &Arc<str>) {
        self.media_command(Command::JoinBridge {
            bridge: bridge.clone(),
            leg: channel.clone(),
        });
    }

    /// A channel left its bridge.
    pub(in crate::core) fn media_bridge_left(&self, channel: &Arc<str>) {
        self.media_command(Command::LeaveBridge {
            leg: channel.clone(),
        });
    }

    /// Applies a channel's mute flags (after `/channels/{id}/mute`) to its media leg.
    pub(in crate::core) fn media_mute_changed(&self, leg: Arc<str>, inbound: bool, outbound: bool) {
        self.media_command(Command::Mute {
            leg,
            inbound,
            outbound,
        });
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

impl ControlApi<'_> {
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
}

#[cfg(test)]
mod tests;
