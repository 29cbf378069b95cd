//! Helpers for the core's unit tests: a core whose media engine runs over a temporary
//! directory, channels already in a Stasis application, and that application's events.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::channels::channel::ChannelState;
use super::event::Event;
use super::media::{MediaSetup, RecordChannelRequest};
use super::stasis::EventSink;
use super::{Core, CoreConfig, CoreError, NewChannel, SystemInfo};
use crate::config::musiconhold_conf::MohConfig;
use crate::media::sounds::SoundIndex;

/// The application the helpers' channels are in.
pub(crate) const APP: &str = "tested";

/// Keeps every event delivered to [`APP`].
#[derive(Debug, Default)]
pub(crate) struct Collect(Mutex<Vec<Arc<Event>>>);

impl EventSink for Collect {
    fn deliver(&self, _app: &str, event: &Arc<Event>) -> bool {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
        true
    }

    fn id(&self) -> u64 {
        1
    }
}

impl Collect {
    /// The fields of the events of this kind received so far.
    pub(crate) fn of_kind(&self, kind: &str) -> Vec<Value> {
        let events = self.0.lock().unwrap_or_else(|p| p.into_inner());
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| Value::Object(e.fields_json()))
            .collect()
    }
}

/// A core with [`APP`] registered, and media when asked for.
pub(crate) struct TestCore {
    pub core: Arc<Core>,
    pub events: Arc<Collect>,
    pub dir: tempfile::TempDir,
}

impl TestCore {
    pub(crate) fn new(with_media: bool) -> TestCore {
        let dir = tempfile::tempdir().expect("temporary directory");
        let core = Core::new(SystemInfo::default(), CoreConfig::default());
        if with_media {
            core.start_media(MediaSetup {
                sounds: Arc::new(SoundIndex::empty(dir.path().join("sounds"))),
                recordings_dir: dir.path().join("recordings"),
                moh: Arc::new(MohConfig::default()),
            })
            .expect("media engine");
        }
        let events = Arc::new(Collect::default());
        core.with_state(|state| {
            state.apps.register(APP, events.clone(), false);
        });
        TestCore { core, events, dir }
    }

    /// A channel that is up and in [`APP`].
    pub(crate) fn stasis_channel(&self, id: &str) -> Arc<str> {
        let core = &self.core;
        core.with_state(|state| {
            let (id, _control) = core
                .add_channel(
                    state,
                    NewChannel {
                        id: Some(id.to_string()),
                        name: format!("Test/{id}"),
                        state: ChannelState::Up,
                        app: Some(APP.to_string()),
                        ..NewChannel::default()
                    },
                )
                .expect("channel");
            assert!(core.stasis_enter(state, &id, APP, &[]), "in {APP}");
            id
        })
    }

    /// The number of channels.
    pub(crate) fn channel_count(&self) -> usize {
        self.core.with_state(|state| state.channels.len())
    }

    /// The number of live recordings.
    pub(crate) fn live_recordings(&self) -> usize {
        self.core.with_state(|state| state.media.recordings.len())
    }

    /// The files under the recordings directory.
    pub(crate) fn recording_files(&self) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(self.dir.path().join("recordings"))
            .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default()
    }
}

/// A record request with only a name and a format.
pub(crate) fn request(name: &str, format: &str) -> RecordChannelRequest {
    RecordChannelRequest {
        name: name.into(),
        format: format.into(),
        ..RecordChannelRequest::default()
    }
}

/// An error's status kind and message, for comparing.
pub(crate) fn refusal<T: std::fmt::Debug>(result: Result<T, CoreError>) -> (u16, String) {
    let error = result.expect_err("refused");
    let status = match &error {
        CoreError::BadRequest(_) => 400,
        CoreError::Forbidden(_) => 403,
        CoreError::NotFound(_) => 404,
        CoreError::Conflict(_) => 409,
        CoreError::InvalidState(_) => 412,
        CoreError::Unprocessable(_) => 422,
        CoreError::NotImplemented(_) => 501,
        CoreError::Internal(_) => 500,
    };
    (status, error.to_string())
}
