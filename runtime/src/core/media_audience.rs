//! Who hears the last events of media whose target is gone. A bridge that is destroyed, or
//! a channel that leaves its application for good, may still have playbacks or recordings
//! that have not reported their end (the engine applies stops on its next tick). The
//! applications subscribed to the target at that moment are remembered, and those final
//! events (`PlaybackFinished`, `RecordingFinished`, `RecordingFailed`) go to each of them;
//! the list is forgotten once the target has no live media left. This module also wakes a
//! hung-up channel waiting for its media to end (see `media_hangup`).

use super::event::{Event, Scope};
use super::media::MediaTopic;
use super::{Core, State};

impl Core {
    /// `topic` is going away for its applications (a bridge being destroyed, a channel
    /// leaving its application): if it still has live media, remembers which
    /// applications are to hear about its end.
    pub(crate) fn media_topic_closing(&self, state: &mut State, topic: MediaTopic) {
        if state.media.of_topic(&topic).is_none() {
            return;
        }
        let apps = state.apps.wanting(&topic.scope());
        if !apps.is_empty() {
            tracing::debug!(
                ?topic,
                ?apps,
                "the media's end is reported after its target has gone"
            );
            state.media.audiences.insert(topic, apps);
        }
    }

    /// Publishes a playback's or recording's event: to its topic's subscribers, or to the
    /// applications remembered by [`Core::media_topic_closing`]. Wakes whoever waits for a
    /// channel's media once none is left.
    pub(crate) fn publish_media_event(&self, state: &mut State, topic: &MediaTopic, event: Event) {
        let waited = match topic {
            MediaTopic::Channel(id) => state.media.channel_waiters.contains_key(id),
            MediaTopic::Bridge(_) => false,
        };
        let audience = state.media.audiences.get(topic).cloned();
        if audience.is_none() && !waited {
            return self.publish(state, event);
        }
        let settled = state.media.of_topic(topic).is_none();
        match audience {
            Some(apps) => {
                if settled {
                    state.media.audiences.remove(topic);
                }
                for app in apps {
                    let mut copy = event.clone();
                    copy.scope = Scope::app(&app);
                    self.publish(state, copy);
                }
            }
            None => self.publish(state, event),
        }
        if settled
            && let MediaTopic::Channel(id) = topic
            && let Some(done) = state.media.channel_waiters.remove(id)
        {
            let _ = done.send(());
        }
    }
}
