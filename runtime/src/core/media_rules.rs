//! Recording rules that tie channel recordings to bridges: a channel in a bridge cannot be
//! recorded (the request is accepted, then `RecordingFailed` with cause "Cannot record
//! channel while in bridge", and no file is written), and a channel being recorded cannot
//! be added to a bridge (409).

use super::media::{
    LiveRecordingInfo, MediaTopic, RecordChannelRequest, RecordPlan, recording_checks,
};
use super::{Core, CoreError, State};
use crate::media::IfExists;

/// The cause of a channel recording refused because the channel is bridged.
pub const BRIDGED_CAUSE: &str = "Cannot record channel while in bridge";

impl Core {
    /// True when a live (queued, recording or paused) recording targets channel `id`.
    pub(crate) fn channel_is_recorded(&self, state: &State, id: &str) -> bool {
        state.media.recordings.values().any(|r| {
            matches!(&r.topic, MediaTopic::Channel(c) if &**c == id)
                && matches!(r.state, "queued" | "recording" | "paused")
        })
    }

    /// 409 when channel `id` is being recorded (before it joins a bridge).
    pub(crate) fn check_not_recorded(&self, state: &State, id: &str) -> Result<(), CoreError> {
        if self.channel_is_recorded(state, id) {
            tracing::info!(
                channel = id,
                "refused: a recorded channel cannot join a bridge"
            );
            return Err(CoreError::Conflict(format!(
                "Channel is being recorded: {id}"
            )));
        }
        Ok(())
    }

    /// A record request on a bridged channel: the same checks as a real recording (422
    /// unknown format, 409 name live or file there with `ifExists=fail`), then the
    /// recording is answered `queued` and fails at once, touching no file.
    pub(super) fn refuse_bridged_recording_locked(
        &self,
        state: &mut State,
        plan: &RecordPlan,
        request: &RecordChannelRequest,
        topic: MediaTopic,
    ) -> Result<serde_json::Value, CoreError> {
        let (name, format) = recording_checks(state, request)?;
        if plan.if_exists == IfExists::Fail && plan.path.with_extension(format.extension()).exists()
        {
            return Err(CoreError::Conflict("Recording already exists".into()));
        }
        let info = LiveRecordingInfo::queued(name, format, topic);
        let answer = info.json();
        tracing::info!(recording = %info.name, target = %info.target_uri, "channel is in a bridge: RecordingFailed");
        self.publish_recording_failed(state, info, BRIDGED_CAUSE);
        Ok(answer)
    }
}
