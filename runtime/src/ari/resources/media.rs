//! The parameters and answers shared by the channel and bridge media operations: play and
//! record read the same query parameters and answer 201 with the object's `Location`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Ctx, non_empty};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::core::media::{DEFAULT_SKIP_MS, PlayRequest, RecordChannelRequest};

/// `media`, `lang`, `offsetms`, `skipms` (see [`skip_ms`]) and `playbackId`.
pub(crate) fn play_request(ctx: &Ctx) -> Result<PlayRequest, AriError> {
    Ok(PlayRequest {
        media: ctx.params.list("media")?.unwrap_or_default(),
        lang: non_empty(ctx, "lang"),
        offset_ms: ctx.params.integer("offsetms")?.unwrap_or(0),
        skip_ms: skip_ms(ctx.params.integer("skipms")?),
        playback_id: non_empty(ctx, "playbackId"),
    })
}

/// `skipms` as Asterisk reads it: absent or 0 is [`DEFAULT_SKIP_MS`] (a negative value
/// is left for the core to refuse).
fn skip_ms(given: Option<i64>) -> i64 {
    match given {
        None | Some(0) => DEFAULT_SKIP_MS,
        Some(ms) => ms,
    }
}

/// `name`, `format`, `maxDurationSeconds`, `maxSilenceSeconds`, `ifExists`,
/// `terminateOn`, `beep` and (bridges) `recorder_format`.
pub(crate) fn record_request(ctx: &Ctx) -> Result<RecordChannelRequest, AriError> {
    Ok(RecordChannelRequest {
        name: ctx.params.string("name").unwrap_or_default(),
        format: ctx.params.string("format").unwrap_or_default(),
        recorder_format: non_empty(ctx, "recorder_format"),
        max_duration_seconds: ctx.params.integer("maxDurationSeconds")?.unwrap_or(0),
        max_silence_seconds: ctx.params.integer("maxSilenceSeconds")?.unwrap_or(0),
        if_exists: non_empty(ctx, "ifExists"),
        terminate_on: non_empty(ctx, "terminateOn"),
        beep: ctx.params.boolean("beep").unwrap_or(false),
    })
}

/// What Asterisk leaves unencoded in a recording name in a `Location`: letters, digits and
/// `-_.!~*'()`.
const LOCATION_NAME: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// 201 with the `Location` Asterisk sends: `/ari{collection}/{key}` (without the http.conf
/// prefix).
fn created(value: Value, collection: &str, key: &str, encode: bool) -> AriResult {
    let key = value[key].as_str().unwrap_or_default();
    let location = if encode {
        format!(
            "/ari{collection}/{}",
            utf8_percent_encode(key, LOCATION_NAME)
        )
    } else {
        format!("/ari{collection}/{key}")
    };
    Ok(AriResponse::created(value, &location))
}

/// The answer to a play: the Playback, at `/ari/playbacks/{id}` (the id as given).
pub(crate) fn playback_created(playback: Value) -> AriResult {
    created(playback, "/playbacks", "id", false)
}

/// The answer to a record: the LiveRecording, at `/ari/recordings/live/{name}` (the name
/// percent-encoded: it may contain `/`).
pub(crate) fn recording_created(recording: Value) -> AriResult {
    created(recording, "/recordings/live", "name", true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn location(response: AriResult) -> String {
        let response = response.expect("created");
        let (_, value) = response
            .headers
            .iter()
            .find(|(name, _)| name == http::header::LOCATION)
            .expect("a Location");
        String::from_utf8_lossy(value.as_bytes()).into_owned()
    }

    #[test]
    fn locations_are_as_asterisk_writes_them() {
        // Asterisk 23.4.1: `/ari/playbacks/ha-pb:1 x(y)~é` (raw) and
        // `/ari/recordings/live/ha%20rec(1)~!*'%C3%A9`.
        assert_eq!(
            location(playback_created(serde_json::json!({"id": "pb:1 x(y)~é"}))),
            "/ari/playbacks/pb:1 x(y)~é"
        );
        assert_eq!(
            location(recording_created(
                serde_json::json!({"name": "rec(1)~!*'é/x y"})
            )),
            "/ari/recordings/live/rec(1)~!*'%C3%A9%2Fx%20y"
        );
    }

    #[test]
    fn skipms_absent_or_zero_is_the_default() {
        assert_eq!(skip_ms(None), DEFAULT_SKIP_MS);
        assert_eq!(skip_ms(Some(0)), DEFAULT_SKIP_MS);
        assert_eq!(skip_ms(Some(500)), 500);
        assert_eq!(skip_ms(Some(-1)), -1);
    }
}
