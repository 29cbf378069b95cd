//! Playbacks and live recordings as the core's state keeps them: what ARI shows of each,
//! and the indexes by id, name and topic.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::MediaTopic;
use crate::core::CoreError;
use crate::media::format::Format;

/// A playback as ARI shows it.
#[derive(Debug, Clone)]
pub struct PlaybackInfo {
    /// The id ARI shows and clients address it by.
    pub id: Arc<str>,
    /// What the engine and [`MediaState::playbacks`] know it by: its id, unless another
    /// live playback already has that id (see [`MediaState::add_playback`]).
    pub key: Arc<str>,
    /// The URI playing now.
    pub media_uri: String,
    /// The URI that plays after it, if any.
    pub next_media_uri: Option<String>,
    /// What it plays to: `channel:<id>` or `bridge:<id>`.
    pub target_uri: String,
    /// The language sounds are looked up in.
    pub language: String,
    /// ARI's state: `queued`, `playing`, `paused`, `continuing`, `done` or `failed`.
    pub state: &'static str,
    /// Who gets the events.
    pub topic: MediaTopic,
    /// Set once the topic has gone (see `audience`): the applications that hear
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
    /// Its name, which is also its file's path under the recordings directory, without
    /// extension.
    pub name: Arc<str>,
    /// The file format written.
    pub format: Format,
    /// What it records: `channel:<id>` or `bridge:<id>`.
    pub target_uri: String,
    /// ARI's state: `queued`, `recording`, `paused`, `done` or `failed`.
    pub state: &'static str,
    /// How long it has recorded, in whole seconds; `None` until it ends.
    pub duration_s: Option<u64>,
    /// Of `duration_s`, the seconds that were not silence, for a recording that ends on
    /// silence (`maxSilenceSeconds`): shown as `talking_duration` and `silence_duration`.
    pub talking_s: Option<u64>,
    /// Why it failed, once `failed`.
    pub cause: Option<String>,
    /// Who gets the events.
    pub topic: MediaTopic,
    /// As [`PlaybackInfo::audience`].
    pub audience: Option<Arc<[String]>>,
}

impl LiveRecordingInfo {
    /// A recording just asked for (state `queued`).
    pub(in crate::core) fn queued(
        name: Arc<str>,
        format: Format,
        topic: MediaTopic,
    ) -> LiveRecordingInfo {
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
    pub(in crate::core) playbacks: HashMap<Arc<str>, PlaybackInfo>,
    /// The keys of live playbacks whose id another live playback had when they were
    /// queued, oldest first, by id. Asterisk lets a client reuse a playback id: both
    /// playbacks play and report, and `/playbacks/{id}` finds the oldest.
    same_id: HashMap<Arc<str>, std::collections::VecDeque<Arc<str>>>,
    /// Changed only through [`MediaState::add_recording`] and
    /// [`MediaState::remove_recording`], which keep `by_topic`. Only live recordings
    /// (queued, recording, paused) are here: a finished one is removed.
    pub(in crate::core) recordings: HashMap<Arc<str>, LiveRecordingInfo>,
    /// The playbacks and recordings of each topic that has any, so that hangups, bridge
    /// joins and media events do not scan every playback and recording.
    by_topic: HashMap<MediaTopic, TopicMedia>,
    /// Bridges playing music on hold.
    pub bridge_moh: HashSet<Arc<str>>,
    /// Playbacks of the dialplan's Playback() (no ARI object, no events), and who waits
    /// for each to end (told whether it failed).
    pub dialplan_playbacks: HashMap<Arc<str>, tokio::sync::oneshot::Sender<bool>>,
    /// Hung-up channels waiting for their playbacks and recordings to report their end
    /// (see `hangup`).
    pub channel_waiters: HashMap<Arc<str>, tokio::sync::oneshot::Sender<()>>,
}

/// One topic's live playbacks (ids) and recordings (names).
#[derive(Debug, Default)]
pub(in crate::core) struct TopicMedia {
    pub(in crate::core) playbacks: Vec<Arc<str>>,
    pub(in crate::core) recordings: Vec<Arc<str>>,
}

impl MediaState {
    /// Registers a playback; returns its key: its id, or a key of its own when a live
    /// playback has that id already.
    pub(super) fn add_playback(&mut self, mut info: PlaybackInfo) -> Arc<str> {
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
    pub(super) fn remove_playback(&mut self, key: &str) {
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
    pub(super) fn add_recording(&mut self, info: LiveRecordingInfo) {
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
    pub(super) fn remove_recording(&mut self, name: &str) {
        if let Some(old) = self.recordings.remove(name) {
            self.unindex(&old.topic, name, |m| &mut m.recordings);
        }
    }

    /// Drops `key` from one of `topic`'s lists, and the topic once it has nothing left.
    pub(super) fn unindex(
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
    pub(super) fn playback_key(&self, id: &str) -> Option<Arc<str>> {
        match self.playbacks.get_key_value(id) {
            Some((key, _)) => Some(key.clone()),
            None => self.same_id.get(id).and_then(|keys| keys.front().cloned()),
        }
    }

    /// The oldest live playback with id `id` (404).
    pub(super) fn playback(&self, id: &str) -> Result<&PlaybackInfo, CoreError> {
        self.playback_key(id)
            .and_then(|key| self.playbacks.get(&key))
            .ok_or_else(playback_not_found)
    }

    /// The oldest live playback with id `id`, to change (404).
    pub(super) fn playback_mut(&mut self, id: &str) -> Result<&mut PlaybackInfo, CoreError> {
        let key = self.playback_key(id).ok_or_else(playback_not_found)?;
        self.playbacks.get_mut(&key).ok_or_else(playback_not_found)
    }

    /// A live recording by name (404).
    pub(super) fn recording(&self, name: &str) -> Result<&LiveRecordingInfo, CoreError> {
        self.recordings.get(name).ok_or_else(recording_not_found)
    }

    /// A live recording by name, to change (404).
    pub(super) fn recording_mut(
        &mut self,
        name: &str,
    ) -> Result<&mut LiveRecordingInfo, CoreError> {
        self.recordings
            .get_mut(name)
            .ok_or_else(recording_not_found)
    }

    /// The live playbacks and recordings of `topic` (`None` when it has none).
    pub(in crate::core) fn of_topic(&self, topic: &MediaTopic) -> Option<&TopicMedia> {
        self.by_topic.get(topic)
    }

    /// Gives every live playback and recording of `topic` the applications that are to
    /// hear its remaining events (see `audience`).
    pub(in crate::core) fn set_audience(&mut self, topic: &MediaTopic, apps: &Arc<[String]>) {
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

pub(super) fn playback_not_found() -> CoreError {
    CoreError::NotFound("Playback not found".into())
}

pub(super) fn recording_not_found() -> CoreError {
    CoreError::NotFound("Recording not found".into())
}
