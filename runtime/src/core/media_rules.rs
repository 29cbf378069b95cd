//! Recording rules that tie channel recordings to bridges: a channel in a bridge cannot be
//! recorded (the request is accepted, then `RecordingFailed` with cause "Cannot record
//! channel while in bridge", and no file is written), and a channel being recorded cannot
//! be added to a bridge (409).

use std::sync::Arc;

use super::event::Event;
use super::media::{LiveRecordingInfo, MediaTopic, RecordChannelRequest};
use super::{Core, CoreError, State};
use crate::media::IfExists;
use crate::media::format::Format;

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
    pub(crate) fn refuse_bridged_recording_locked(
        &self,
        state: &mut State,
        file: &std::path::Path,
        if_exists: IfExists,
        request: &RecordChannelRequest,
        channel: Arc<str>,
    ) -> Result<serde_json::Value, CoreError> {
        let format = Format::from_name(&request.format).ok_or_else(|| {
            CoreError::Unprocessable(format!("Format '{}' is not known", request.format))
        })?;
        if state.media.recordings.contains_key(request.name.as_str()) {
            return Err(CoreError::Conflict(
                "Recording with that name is already in progress".into(),
            ));
        }
        if if_exists == IfExists::Fail && file.with_extension(format.extension()).exists() {
            return Err(CoreError::Conflict("Recording already exists".into()));
        }
        let topic = MediaTopic::Channel(channel.clone());
        let mut info = LiveRecordingInfo {
            name: Arc::from(request.name.as_str()),
            format,
            target_uri: format!("channel:{channel}"),
            state: "queued",
            duration_s: None,
            cause: None,
            topic,
        };
        let answer = info.json();
        tracing::info!(recording = %info.name, %channel, "channel is in a bridge: RecordingFailed");
        info.state = "failed";
        info.duration_s = Some(0);
        info.cause = Some(BRIDGED_CAUSE.into());
        self.publish(
            state,
            Event::new("RecordingFailed", super::event::Scope::channel(&channel))
                .with("recording", info.json()),
        );
        Ok(answer)
    }
}
