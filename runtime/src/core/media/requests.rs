//! Play and record requests as ARI gives them, and their checks in Asterisk's order: the
//! media URIs of a playback, and the format, options and name of a recording.

use std::path::PathBuf;
use std::sync::Arc;

use super::Media;
use crate::core::{CoreError, State};
use crate::media::engine::TerminateOn;
use crate::media::file::{IfExists, find_recording, safe_join};
use crate::media::format::Format;

/// How far `forward` and `reverse` move a playback when `skipms` is not given or is 0
/// (ARI's default, applied where the parameter is read).
pub const DEFAULT_SKIP_MS: i64 = 3000;

/// `POST /channels/{id}/play`.
#[derive(Debug, Clone)]
pub struct PlayRequest {
    /// The media URIs to play one after the other (`sound:`, `recording:`, `tone:`,
    /// `digits:`, `number:` ...).
    pub media: Vec<String>,
    /// The language sounds are looked up in; `None` or empty: the channel's.
    pub lang: Option<String>,
    /// Where in the first media to start, in ms (0: the start).
    pub offset_ms: i64,
    /// How far `forward` and `reverse` move, as given ([`DEFAULT_SKIP_MS`] by default).
    pub skip_ms: i64,
    /// The playback's id; `None` generates one.
    pub playback_id: Option<String>,
}

impl Default for PlayRequest {
    fn default() -> Self {
        PlayRequest {
            media: Vec::new(),
            lang: None,
            offset_ms: 0,
            skip_ms: DEFAULT_SKIP_MS,
            playback_id: None,
        }
    }
}

/// `POST /channels/{id}/record` and `POST /bridges/{id}/record`.
#[derive(Debug, Clone, Default)]
pub struct RecordChannelRequest {
    /// The recording's name: its file under the recordings directory, without extension.
    pub name: String,
    /// The file format: `wav`, `ulaw`, `alaw`, `sln` or `sln16`.
    pub format: String,
    /// Bridges only: the recorder's format (checked, 422 when unknown; the mix is
    /// recorded at 8 kHz whatever it says).
    pub recorder_format: Option<String>,
    /// The longest the recording may last, in seconds (0: no limit).
    pub max_duration_seconds: i64,
    /// Silence after which the recording stops, in seconds (0: never).
    pub max_silence_seconds: i64,
    /// What to do when the file exists: `fail` (default), `overwrite` or `append`.
    pub if_exists: Option<String>,
    /// The DTMF that stops the recording: `none` (default), `any`, `*` or `#`.
    pub terminate_on: Option<String>,
    /// Play a beep to the target before recording (not itself recorded).
    pub beep: bool,
}

/// The media URIs of a playback request (400 when there are none or an offset is
/// negative).
pub(super) fn play_uris(request: &PlayRequest) -> Result<Vec<String>, CoreError> {
    if request.offset_ms < 0 {
        return Err(CoreError::BadRequest("offsetms cannot be negative".into()));
    }
    if request.skip_ms < 0 {
        return Err(CoreError::BadRequest("skipms cannot be negative".into()));
    }
    let uris: Vec<String> = request
        .media
        .iter()
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
        .collect();
    if uris.is_empty() {
        return Err(CoreError::BadRequest(
            "Missing required parameter: media".into(),
        ));
    }
    Ok(uris)
}

/// A recording request, checked: what to record where.
pub(in crate::core) struct RecordPlan {
    pub(in crate::core) name: Arc<str>,
    pub(in crate::core) format: Format,
    /// The file, without its extension.
    pub(in crate::core) path: PathBuf,
    pub(in crate::core) if_exists: IfExists,
    pub(super) terminate_on: TerminateOn,
}

/// Asterisk's message for a recording request it cannot parse (no name, a negative
/// duration on a bridge, a name that leaves the recordings directory), as a 400 where
/// Asterisk answers 500 (wari answers a client's mistake with a 4xx).
pub(super) fn unparsable() -> CoreError {
    CoreError::BadRequest("Error parsing request".into())
}

/// 409 for a recording name that is live, or stored with `ifExists=fail`.
pub(super) fn recording_exists(name: &str) -> CoreError {
    CoreError::Conflict(format!(
        "Recording '{name}' already exists and can not be overwritten"
    ))
}

/// The format of a recording request: 422 when unknown (or not given).
pub(super) fn record_format(request: &RecordChannelRequest) -> Result<Format, CoreError> {
    Format::from_name(&request.format).ok_or_else(|| {
        CoreError::Unprocessable("specified format is unknown on this system".into())
    })
}

/// `terminateOn` and `ifExists` (400 when not one of theirs).
pub(super) fn record_options(
    request: &RecordChannelRequest,
) -> Result<(TerminateOn, IfExists), CoreError> {
    let terminate_on = match request
        .terminate_on
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => TerminateOn::None,
        Some("any") => TerminateOn::Any,
        Some("*") => TerminateOn::Star,
        Some("#") => TerminateOn::Pound,
        Some(_) => return Err(CoreError::BadRequest("terminateOn invalid".into())),
    };
    let if_exists = match request.if_exists.as_deref().filter(|s| !s.is_empty()) {
        None => IfExists::Fail,
        Some(text) => {
            IfExists::parse(text).ok_or_else(|| CoreError::BadRequest("ifExists invalid".into()))?
        }
    };
    Ok((terminate_on, if_exists))
}

/// The rest of a recording request once its target and options passed, in Asterisk
/// 23.4.1's order: the format (422); a missing name, a negative duration or a name that
/// leaves the recordings directory (400 `Error parsing request`; Asterisk answers 500); with `ifExists=fail` a
/// stored recording of that name in any format (409); a live recording of that name
/// (409).
pub(super) fn record_plan(
    media: &Media,
    state: &State,
    request: &RecordChannelRequest,
    (terminate_on, if_exists): (TerminateOn, IfExists),
) -> Result<RecordPlan, CoreError> {
    let format = record_format(request)?;
    if request.name.is_empty()
        || request.max_duration_seconds < 0
        || request.max_silence_seconds < 0
    {
        return Err(unparsable());
    }
    let dir = &media.setup.recordings_dir;
    let path = safe_join(dir, &request.name).map_err(|_| unparsable())?;
    if if_exists == IfExists::Fail && matches!(find_recording(dir, &request.name), Ok(Some(_))) {
        return Err(recording_exists(&request.name));
    }
    if state.media.recordings.contains_key(request.name.as_str()) {
        return Err(recording_exists(&request.name));
    }
    Ok(RecordPlan {
        name: Arc::from(request.name.as_str()),
        format,
        path,
        if_exists,
        terminate_on,
    })
}
