//! The last media events of a channel that hangs up. Before a hung-up channel leaves its
//! Stasis application (StasisEnd, which ends the application's subscription), its live
//! playbacks and recordings are stopped and their final events (`PlaybackFinished`,
//! `RecordingFinished`) are awaited, so the application hears them first: the recording
//! is complete and stored by then (the voicemail case: record until the caller hangs up).
//!
//! The wait is bounded. Media still live afterwards (the engine was late, or something
//! started during the wait) reports its end to the applications that were subscribed to
//! the channel when it left, as a destroyed bridge's media does (see `audience`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::MediaTopic;
use crate::core::{Core, State};
use crate::media::engine::{Command, RecordingOp};

/// How long a hung-up channel waits for its media to report its end (the engine applies
/// commands every 20 ms, so this is only reached when something is badly late).
const FINAL_EVENTS_WAIT: Duration = Duration::from_secs(2);

impl Core {
    /// Channel `id` hung up while in Stasis: stops its playbacks and recordings (a
    /// recording is finished and kept, as when stopped) and waits, without holding the
    /// core, until their final events have been published or [`FINAL_EVENTS_WAIT`] has
    /// passed. Returns at once when the channel has no media.
    pub(in crate::core) async fn finish_channel_media(&self, id: &Arc<str>) {
        let Some(waiter) = self.with_state(|state| self.stop_channel_media_locked(state, id))
        else {
            return;
        };
        if tokio::time::timeout(FINAL_EVENTS_WAIT, waiter)
            .await
            .is_err()
        {
            tracing::warn!(channel = %id, "the channel's media did not report its end in time");
        }
        self.with_state(|state| {
            state.media.channel_waiters.remove(id);
        });
    }

    /// Sends the engine a stop for every playback and recording of channel `id`, and
    /// registers who waits for their end; `None` when there is nothing to stop.
    fn stop_channel_media_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
    ) -> Option<oneshot::Receiver<()>> {
        let media = self.media.get()?;
        let topic_media = state.media.of_topic(&MediaTopic::Channel(id.clone()))?;
        tracing::debug!(
            channel = %id,
            playbacks = topic_media.playbacks.len(),
            recordings = topic_media.recordings.len(),
            "hung up: ending the channel's media before StasisEnd"
        );
        for playback in &topic_media.playbacks {
            media.engine.send(Command::StopPlayback {
                id: playback.clone(),
            });
        }
        for name in &topic_media.recordings {
            media.engine.send(Command::ControlRecording {
                name: name.clone(),
                op: RecordingOp::Stop,
            });
        }
        let (done, waiter) = oneshot::channel();
        state.media.channel_waiters.insert(id.clone(), done);
        Some(waiter)
    }
}
