//! The parameters and answers shared by the channel and bridge media operations: play and
//! record read the same query parameters and answer 201 with the object's `Location`.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{Ctx, non_empty};
use crate::ari::response::{AriError, AriResponse, AriResult};
use crate::core::media::{DEFAULT_SKIP_MS, PlayRequest, RecordChannelRequest};

/// `media`, `lang`, `offsetms`, `skipms` (see [`skip_ms`]) and `playbackId`.
pub fn play_request(ctx: &Ctx) -> Result<PlayRequest, AriError> {
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
pub fn record_request(ctx: &Ctx) -> Result<RecordChannelRequest, AriError> {
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

/// What a recording name keeps unencoded in a `Location`, as Asterisk 23.4.1 encodes it
/// (`ast_uri_http`: letters, digits and `-_.!~*'()`; everything else, `/` included, is
/// percent-encoded).
const RECORDING_NAME_ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// 201 with the new object's `Location`: `/ari` and the object's path, whatever the
/// http.conf prefix, as Asterisk writes it.
fn created(value: Value, path: &str) -> AriResult {
    Ok(AriResponse::created(value, &format!("/ari{path}")))
}

/// The answer to a play: the Playback, at `/ari/playbacks/{id}` (the id as it is).
pub fn playback_created(playback: Value) -> AriResult {
    let path = format!("/playbacks/{}", playback["id"].as_str().unwrap_or_default());
    created(playback, &path)
}

/// The answer to a record: the LiveRecording, at `/ari/recordings/live/{name}` (the name
/// encoded, see [`RECORDING_NAME_ENCODED`]).
pub fn recording_created(recording: Value) -> AriResult {
    let name = recording["name"].as_str().unwrap_or_default();
    let path = format!(
        "/recordings/live/{}",
        utf8_percent_encode(name, RECORDING_NAME_ENCODED)
    );
    created(recording, &path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_written_as_asterisk_writes_them() {
        let location = |answer: AriResult| {
            answer.expect("created").headers[0]
                .1
                .to_str()
                .expect("text")
                .to_string()
        };
        assert_eq!(
            location(playback_created(serde_json::json!({"id": "pb-1.x"}))),
            "/ari/playbacks/pb-1.x"
        );
        assert_eq!(
            location(recording_created(
                serde_json::json!({"name": "dir/r 1-(a)_b.c!~*'"})
            )),
            "/ari/recordings/live/dir%2Fr%201-(a)_b.c!~*'"
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
