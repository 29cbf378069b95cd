//! Who hears the last events of media whose target is gone. A bridge that is destroyed, or
//! a channel that leaves its application for good, may still have playbacks or recordings
//! that have not reported their end (the engine applies stops on its next tick, and a
//! recording's file is completed off the clock). Each such playback and recording
//! remembers the applications subscribed to the target at that moment, and its final
//! events (`PlaybackFinished`, `RecordingFinished`, `RecordingFailed`) go to each of them.
//! The audience belongs to the playback or recording, not to the target's id, so a bridge
//! created again with the same id while the old one's media is still ending has its own
//! media reported to its own subscribers. This module also wakes a hung-up channel waiting
//! for its media to end (see `hangup`).

use std::sync::Arc;

use super::MediaTopic;
use crate::core::event::{Event, Scope};
use crate::core::{Core, State};

impl Core {
    /// `topic` is going away for its applications (a bridge being destroyed, a channel
    /// leaving its application): each of its live playbacks and recordings remembers which
    /// applications are to hear about its end.
    pub(in crate::core) fn media_topic_closing(&self, state: &mut State, topic: MediaTopic) {
        if state.media.of_topic(&topic).is_none() {
            return;
        }
        let apps = state.apps.wanting(&topic.scope());
        if apps.is_empty() {
            return;
        }
        tracing::debug!(
            ?topic,
            ?apps,
            "the media's end is reported after its target has gone"
        );
        state.media.set_audience(&topic, &apps.into());
    }

    /// Publishes a playback's or recording's event: to its topic's subscribers, or to the
    /// `audience` it kept when its topic went (see [`Core::media_topic_closing`]). Wakes
    /// whoever waits for a channel's media once none is left.
    pub(in crate::core) fn publish_media_event(
        &self,
        state: &mut State,
        topic: &MediaTopic,
        audience: Option<Arc<[String]>>,
        event: Event,
    ) {
        match audience {
            Some(apps) => {
                for (i, app) in apps.iter().enumerate() {
                    let mut copy = event.clone();
                    copy.scope = Scope::app(app);
                    // The call's story has the event once.
                    self.publish_to_stories(state, copy, i == 0);
                }
            }
            None => self.publish(state, event),
        }
        if let MediaTopic::Channel(id) = topic
            && state.media.of_topic(topic).is_none()
            && let Some(done) = state.media.channel_waiters.remove(id)
        {
            let _ = done.send(());
        }
    }
}
