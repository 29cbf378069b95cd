//! The last media events of a channel that hangs up. Before a hung-up channel leaves its
//! Stasis application (StasisEnd, which ends the application's subscription), its live
//! playbacks and recordings are stopped and their final events (`PlaybackFinished`,
//! `RecordingFinished`) are awaited, so the application hears them first: the recording
//! is complete and stored by then (the voicemail case: record until the caller hangs up).
//!
//! The wait is bounded. Media still live afterwards (the engine was late, or something
//! started during the wait) reports its end to the applications that were subscribed to
//! the channel when it left, as a destroyed bridge's media does.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;

use super::event::{Event, Scope};
use super::media::MediaTopic;
use super::{Core, State};
use crate::media::engine::{Command, RecordingOp};

/// How long a hung-up channel waits for its media to report its end (the engine applies
/// commands every 20 ms, so this is only reached when something is badly late).
const FINAL_EVENTS_WAIT: Duration = Duration::from_secs(2);

impl Core {
    /// True when a live playback or recording targets channel `id`.
    pub(crate) fn channel_has_media(&self, state: &State, id: &str) -> bool {
        let on_channel = |topic: &MediaTopic| matches!(topic, MediaTopic::Channel(c) if &**c == id);
        state.media.playbacks.values().any(|p| on_channel(&p.topic))
            || state
                .media
                .recordings
                .values()
                .any(|r| on_channel(&r.topic))
    }

    /// Channel `id` hung up while in Stasis: stops its playbacks and recordings (a
    /// recording is finished and kept, as when stopped) and waits, without holding the
    /// core, until their final events have been published or [`FINAL_EVENTS_WAIT`] has
    /// passed. Returns at once when the channel has no media.
    pub(crate) async fn finish_channel_media(&self, id: &Arc<str>) {
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
        if !self.channel_has_media(state, id) {
            return None;
        }
        let on_channel = |topic: &MediaTopic| matches!(topic, MediaTopic::Channel(c) if c == id);
        let playbacks: Vec<Arc<str>> = state
            .media
            .playbacks
            .values()
            .filter(|p| on_channel(&p.topic))
            .map(|p| p.id.clone())
            .collect();
        let recordings: Vec<Arc<str>> = state
            .media
            .recordings
            .values()
            .filter(|r| on_channel(&r.topic))
            .map(|r| r.name.clone())
            .collect();
        tracing::debug!(
            channel = %id,
            playbacks = playbacks.len(),
            recordings = recordings.len(),
            "hung up: ending the channel's media before StasisEnd"
        );
        for playback in playbacks {
            media.engine.send(Command::StopPlayback { id: playback });
        }
        for name in recordings {
            media.engine.send(Command::ControlRecording {
                name,
                op: RecordingOp::Stop,
            });
        }
        let (done, waiter) = oneshot::channel();
        state.media.channel_waiters.insert(id.clone(), done);
        Some(waiter)
    }

    /// Channel `id` is leaving its application for good: if it still has live media,
    /// remembers which applications are to hear about its end.
    pub(crate) fn media_channel_closing(&self, state: &mut State, id: &Arc<str>) {
        if !self.channel_has_media(state, id) {
            return;
        }
        let apps = state.apps.wanting(&Scope::channel(id));
        if !apps.is_empty() {
            tracing::debug!(channel = %id, ?apps, "the channel's media ends after StasisEnd");
            state.media.channel_audiences.insert(id.clone(), apps);
        }
    }

    /// Publishes a playback's or recording's event on channel `id`: to the channel's
    /// subscribers, or to the applications remembered by [`Core::media_channel_closing`].
    /// Wakes whoever waits for the channel's media once none is left.
    pub(crate) fn publish_channel_media_event(
        &self,
        state: &mut State,
        id: &Arc<str>,
        event: Event,
    ) {
        let settled = !self.channel_has_media(state, id);
        match state.media.channel_audiences.get(id).cloned() {
            Some(apps) => {
                if settled {
                    state.media.channel_audiences.remove(id);
                }
                for app in apps {
                    let mut copy = event.clone();
                    copy.scope = Scope::app(&app);
                    self.publish(state, copy);
                }
            }
            None => self.publish(state, event),
        }
        if settled && let Some(done) = state.media.channel_waiters.remove(id) {
            let _ = done.send(());
        }
    }
}
