//! Media for dialplan applications: Playback() plays its files through the channel's media
//! leg, one after the other, and the runner waits for each to end. These playbacks are not
//! ARI objects: they are not listed under `/playbacks` and publish no events.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::resolve;
use crate::core::{Core, CoreError, State};
use crate::media::engine::{Command, PlaybackState, Target};
use crate::media::frame::Rate;

impl Core {
    /// Starts playing sound `file` (a name in the sounds index, in the channel's
    /// language) on channel `id`; the receiver gets `true` when it failed (missing file),
    /// `false` once it has played. 501 when media is not running, 404 for no channel.
    pub(in crate::core) fn dialplan_play(
        &self,
        id: &Arc<str>,
        file: &str,
    ) -> Result<oneshot::Receiver<bool>, CoreError> {
        let media = self.media()?;
        self.with_state(|state| {
            let language = state
                .channels
                .get(id)
                .map(|c| c.language.clone())
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
            let item = resolve(&media.setup, &format!("sound:{file}"), &language);
            let playback: Arc<str> =
                Arc::from(format!("dialplan-playback:{}", uuid::Uuid::new_v4()).as_str());
            let (done, wait) = oneshot::channel();
            state
                .media
                .dialplan_playbacks
                .insert(playback.clone(), done);
            media.engine.send(Command::Play {
                id: playback,
                target: Target::Leg(id.clone()),
                items: vec![item],
                offset_ms: 0,
                skip_ms: super::DEFAULT_SKIP_MS.unsigned_abs(),
                rate: Rate::Narrow8k,
            });
            Ok(wait)
        })
    }

    /// Takes the engine's report of a dialplan playback (true when `id` is one): its end
    /// tells the waiting runner.
    pub(in crate::core) fn dialplan_playback_event(
        &self,
        state: &mut State,
        id: &Arc<str>,
        playback_state: PlaybackState,
    ) -> bool {
        if !state.media.dialplan_playbacks.contains_key(id) {
            return false;
        }
        let failed = match playback_state {
            PlaybackState::Done => false,
            PlaybackState::Failed => true,
            PlaybackState::Playing | PlaybackState::Continuing => return true,
        };
        if let Some(done) = state.media.dialplan_playbacks.remove(id) {
            // The runner may be gone (hung up): nobody to tell.
            let _ = done.send(failed);
        }
        true
    }
}
