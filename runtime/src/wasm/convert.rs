//! Conversions between the core's JSON-shaped events and snapshots and the WIT types.

use serde_json::Value;

use super::bindings::wari::stasis::types;
use crate::core::event::Event;

fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn caller(value: &Value) -> types::CallerId {
    types::CallerId {
        name: text(value, "name"),
        number: text(value, "number"),
    }
}

/// A `Channel` snapshot.
pub fn channel(value: &Value) -> types::Channel {
    let dialplan = value.get("dialplan").unwrap_or(&Value::Null);
    types::Channel {
        id: text(value, "id"),
        name: text(value, "name"),
        state: text(value, "state"),
        caller: caller(value.get("caller").unwrap_or(&Value::Null)),
        connected: caller(value.get("connected").unwrap_or(&Value::Null)),
        language: text(value, "language"),
        context: text(dialplan, "context"),
        exten: text(dialplan, "exten"),
        priority: dialplan
            .get("priority")
            .and_then(Value::as_i64)
            .unwrap_or(0),
    }
}

/// A `Bridge` snapshot.
pub fn bridge(value: &Value) -> types::Bridge {
    types::Bridge {
        id: text(value, "id"),
        bridge_type: text(value, "bridge_type"),
        channels: value
            .get("channels")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
    }
}

fn playback(value: &Value) -> types::Playback {
    types::Playback {
        id: text(value, "id"),
        media_uri: text(value, "media_uri"),
        target_uri: text(value, "target_uri"),
        state: text(value, "state"),
    }
}

fn recording(value: &Value) -> types::Recording {
    types::Recording {
        name: text(value, "name"),
        format: text(value, "format"),
        target_uri: text(value, "target_uri"),
        state: text(value, "state"),
        cause: value
            .get("cause")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

/// The WIT event for a core event; types without a case of their own become `other`.
pub fn event(event: &Event) -> types::Event {
    let f = &event.fields;
    // Borrowed, never cloned: this runs for every event delivered into a session.
    let field = |key: &str| f.get(key).unwrap_or(&Value::Null);
    let own_text = |key: &str| {
        f.get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    match event.kind {
        "StasisStart" => types::Event::StasisStart(types::StasisStart {
            channel: channel(field("channel")),
            args: f
                .get("args")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "StasisEnd" => types::Event::StasisEnd(channel(field("channel"))),
        "ChannelDtmfReceived" => types::Event::DtmfReceived(types::DtmfReceived {
            channel: channel(field("channel")),
            digit: own_text("digit"),
            duration_ms: f
                .get("duration_ms")
                .and_then(Value::as_u64)
                .and_then(|d| u32::try_from(d).ok())
                .unwrap_or(0),
        }),
        "ChannelStateChange" => types::Event::StateChanged(channel(field("channel"))),
        "ChannelHangupRequest" => types::Event::HangupRequested(types::HangupRequest {
            channel: channel(field("channel")),
            cause: f
                .get("cause")
                .and_then(Value::as_u64)
                .and_then(|c| u32::try_from(c).ok()),
        }),
        "PlaybackStarted" => types::Event::PlaybackStarted(playback(field("playback"))),
        "PlaybackFinished" => types::Event::PlaybackFinished(playback(field("playback"))),
        "RecordingStarted" => types::Event::RecordingStarted(recording(field("recording"))),
        "RecordingFinished" => types::Event::RecordingFinished(recording(field("recording"))),
        "RecordingFailed" => types::Event::RecordingFailed(recording(field("recording"))),
        "ChannelEnteredBridge" => types::Event::EnteredBridge(types::BridgeMembership {
            bridge: bridge(field("bridge")),
            channel: channel(field("channel")),
        }),
        "ChannelLeftBridge" => types::Event::LeftBridge(types::BridgeMembership {
            bridge: bridge(field("bridge")),
            channel: channel(field("channel")),
        }),
        "ChannelUserevent" => types::Event::UserEvent(types::UserEvent {
            name: own_text("eventname"),
            variables_json: field("userevent").to_string(),
        }),
        other => types::Event::Other(types::RawEvent {
            event_type: other.to_string(),
            json: serde_json::to_string(f).unwrap_or_default(),
        }),
    }
}

/// The Q.850 cause of a hangup reason.
pub fn hangup_cause(reason: types::HangupReason) -> u16 {
    use types::HangupReason as R;
    let word = match reason {
        R::Normal => "normal",
        R::Busy => "busy",
        R::Congestion => "congestion",
        R::NoAnswer => "no_answer",
        R::Timeout => "timeout",
        R::Rejected => "rejected",
        R::Unallocated => "unallocated",
        R::NormalUnspecified => "normal_unspecified",
        R::NumberIncomplete => "number_incomplete",
        R::CodecMismatch => "codec_mismatch",
        R::Interworking => "interworking",
        R::Failure => "failure",
        R::AnsweredElsewhere => "answered_elsewhere",
    };
    crate::core::cause::from_reason(word).unwrap_or(crate::core::cause::NORMAL_CLEARING)
}
