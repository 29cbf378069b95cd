//! Recording rules that tie channel recordings to bridges: a channel in a bridge cannot be
//! recorded (the request is accepted, then `RecordingFailed` with cause "Cannot record
//! channel while in bridge", and no file is written), and a channel being recorded cannot
//! be added to a bridge (409).

use super::{LiveRecordingInfo, MediaTopic, RecordPlan};
use std::sync::Arc;

use crate::core::{Core, CoreError, State};

/// The cause of a channel recording refused because the channel is bridged.
pub(crate) const BRIDGED_CAUSE: &str = "Cannot record channel while in bridge";

impl Core {
    /// 409 `Channel <id> currently recording` (Asterisk 23.4.1's message) when channel
    /// `id` is being recorded (a live recording targets it), before it joins a bridge.
    pub(in crate::core) fn check_not_recorded(
        &self,
        state: &State,
        id: &Arc<str>,
    ) -> Result<(), CoreError> {
        let recorded = state
            .media
            .of_topic(&MediaTopic::Channel(id.clone()))
            .is_some_and(|media| !media.recordings.is_empty());
        if recorded {
            tracing::info!(
                channel = %id,
                "refused: a recorded channel cannot join a bridge"
            );
            return Err(CoreError::Conflict(format!(
                "Channel {id} currently recording"
            )));
        }
        Ok(())
    }

    /// A record request on a bridged channel, once it passed every check of a real
    /// recording: answered `queued`, then it fails at once, touching no file.
    pub(super) fn refuse_bridged_recording_locked(
        &self,
        state: &mut State,
        plan: RecordPlan,
        topic: MediaTopic,
    ) -> serde_json::Value {
        let info = LiveRecordingInfo::queued(plan.name, plan.format, topic);
        let answer = info.json();
        tracing::info!(recording = %info.name, target = %info.target_uri, "channel is in a bridge: RecordingFailed");
        self.publish_recording_failed(state, info, BRIDGED_CAUSE);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::media::{PlayRequest, RecordChannelRequest};
    use crate::core::test_support::{TestCore, refusal, request};

    #[test]
    fn a_live_name_or_an_existing_file_is_a_conflict() {
        let t = TestCore::new(true);
        t.stasis_channel("one");
        t.stasis_channel("two");
        let first = t
            .core
            .control()
            .record_channel("one", request("busy", "wav"), None)
            .expect("recording");
        assert_eq!(first["state"], "queued");
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .record_channel("two", request("busy", "wav"), None)
            ),
            (
                409,
                "Recording 'busy' already exists and can not be overwritten".into()
            )
        );
        std::fs::create_dir_all(t.dir.path().join("recordings")).expect("directory");
        std::fs::write(t.dir.path().join("recordings/old.wav"), b"kept").expect("file");
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .record_channel("two", request("old", "wav"), None)
            ),
            (
                409,
                "Recording 'old' already exists and can not be overwritten".into()
            )
        );
        assert_eq!(
            std::fs::read(t.dir.path().join("recordings/old.wav")).expect("file"),
            b"kept"
        );
        assert_eq!(t.live_recordings(), 1);
    }

    #[test]
    fn a_bridged_channel_is_answered_queued_then_fails_without_a_file() {
        let t = TestCore::new(true);
        t.stasis_channel("talker");
        t.core
            .create_bridge(Some("mix"), "mixing", "")
            .expect("bridge");
        t.core
            .control()
            .add_to_bridge("mix", &["talker".to_string()])
            .expect("joined");
        // The checks of a real recording come first.
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .record_channel("talker", request("x", "nope"), None)
            ),
            (422, "specified format is unknown on this system".into())
        );
        std::fs::create_dir_all(t.dir.path().join("recordings")).expect("directory");
        std::fs::write(t.dir.path().join("recordings/there.wav"), b"").expect("file");
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .record_channel("talker", request("there", "wav"), None)
            ),
            (
                409,
                "Recording 'there' already exists and can not be overwritten".into()
            )
        );
        let answer = t
            .core
            .control()
            .record_channel("talker", request("bridged", "wav"), None)
            .expect("accepted");
        assert_eq!(answer["state"], "queued");
        assert_eq!(answer["target_uri"], "channel:talker");
        let failed = t.events.of_kind("RecordingFailed");
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["recording"]["name"], "bridged");
        assert_eq!(failed[0]["recording"]["state"], "failed");
        assert_eq!(failed[0]["recording"]["cause"], BRIDGED_CAUSE);
        assert_eq!(t.live_recordings(), 0);
        assert_eq!(
            t.recording_files(),
            [t.dir.path().join("recordings/there.wav")]
        );
    }

    #[test]
    fn a_recorded_channel_cannot_join_a_bridge() {
        let t = TestCore::new(true);
        t.stasis_channel("taped");
        t.core
            .control()
            .record_channel("taped", request("tape", "wav"), None)
            .expect("recording");
        t.core
            .create_bridge(Some("mix"), "mixing", "")
            .expect("bridge");
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .add_to_bridge("mix", &["taped".to_string()])
            ),
            (409, "Channel taped currently recording".into())
        );
        t.core.with_state(|state| {
            assert_eq!(state.channels["taped"].bridge, None);
            assert!(state.bridges["mix"].channels.is_empty());
        });
    }

    #[test]
    fn bridge_media_requests_check_their_formats() {
        let t = TestCore::new(true);
        t.core
            .create_bridge(Some("mix"), "mixing", "")
            .expect("bridge");
        assert_eq!(
            refusal(t.core.control().record_bridge(
                "mix",
                RecordChannelRequest {
                    recorder_format: Some("nope".into()),
                    ..request("x", "wav")
                },
                None
            )),
            (
                422,
                "specified recorder_format is unknown on this system".into()
            )
        );
        let play = PlayRequest {
            media: vec!["tone:ring".into()],
            ..PlayRequest::default()
        };
        assert_eq!(
            refusal(
                t.core
                    .control()
                    .play_on_bridge("mix", play.clone(), Some("nope"))
            ),
            (
                422,
                "specified announcer_format is unknown on this system".into()
            )
        );
        assert_eq!(
            refusal(t.core.control().play_on_bridge("ghost", play, None)),
            (404, "Bridge not found".into())
        );
        assert_eq!(
            refusal(t.core.control().stop_bridge_moh("mix")),
            (409, "Bridge isn't playing music".into())
        );
        t.core.with_state(|state| {
            assert!(state.media.playbacks.is_empty());
            assert!(state.media.recordings.is_empty());
        });
        assert!(t.recording_files().is_empty());
    }
}
