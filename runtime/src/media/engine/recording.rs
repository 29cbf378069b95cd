//! Recordings in the engine: what a recording writes each tick, its limits (maximum
//! duration, silence, a full quota), and its hand-off to the finisher once it ends.

use std::sync::Arc;

use super::finisher::{Ending, Finish};
use super::{Sink, TerminateOn, beep};
use crate::media::MediaError;
use crate::media::detect::SilenceDetector;
use crate::media::frame::{AudioFrame, FRAME_MS};

pub(super) struct Recording {
    pub(super) name: Arc<str>,
    pub(super) sink: Box<dyn Sink>,
    pub(super) max_duration_ms: u64,
    pub(super) max_silence_ms: u64,
    pub(super) terminate_on: TerminateOn,
    pub(super) recorded_ms: u64,
    /// The current run of silence, for `max_silence_ms`.
    pub(super) silence: SilenceDetector,
    pub(super) paused: bool,
    pub(super) muted: bool,
    /// The beep still to play before anything is recorded.
    pub(super) beep: Option<beep::Beep>,
}

/// Writes a frame to every recording, ending those that reached a limit or failed.
pub(super) fn record_all(
    recordings: &mut Vec<Recording>,
    frame: &AudioFrame,
    finishing: &mut Vec<Finish>,
) {
    let mut at = 0;
    while at < recordings.len() {
        match record_frame(&mut recordings[at], frame) {
            None => at += 1,
            Some(reason) => {
                let recording = recordings.remove(at);
                let ending = match reason {
                    Ok(()) => Ending::Stopped,
                    Err(cause) => Ending::Failed(cause.to_string()),
                };
                finishing.push(end_recording(recording, ending));
            }
        }
    }
}

/// Writes one frame; `Some(Ok)` when the recording reached a limit, `Some(Err)` when it failed.
pub(super) fn record_frame(
    recording: &mut Recording,
    frame: &AudioFrame,
) -> Option<Result<(), MediaError>> {
    if recording.paused || recording.beep.is_some() {
        return None;
    }
    let silence;
    let frame = if recording.muted {
        silence = AudioFrame::silence(frame.rate());
        &silence
    } else {
        frame
    };
    if let Err(e) = recording.sink.write(frame) {
        return Some(Err(e));
    }
    recording.recorded_ms += u64::from(FRAME_MS);
    if recording.sink.full() {
        return Some(Ok(()));
    }
    if recording.max_silence_ms > 0
        && recording.silence.feed(frame)
        && recording.silence.silent_run_ms() >= recording.max_silence_ms
    {
        return Some(Ok(()));
    }
    if recording.max_duration_ms > 0 && recording.recorded_ms >= recording.max_duration_ms {
        return Some(Ok(()));
    }
    None
}

/// An ended recording, for the finisher to complete or remove its file and report it.
pub(super) fn end_recording(recording: Recording, ending: Ending) -> Finish {
    Finish {
        name: recording.name,
        duration_ms: recording.recorded_ms,
        talking_ms: (recording.max_silence_ms > 0).then(|| recording.silence.total_talking_ms()),
        sink: recording.sink,
        ending,
    }
}
