//! Conversions between the core's events and snapshots and the WIT types.

use serde_json::Value;

use super::bindings::wari::stasis::types;
use crate::core::channels::channel::CallerId;
use crate::core::channels::snapshot::ChannelSnapshot;
use crate::core::event::{Event, Field};

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

/// A typed channel snapshot, read directly.
pub fn channel_snapshot(snapshot: &ChannelSnapshot) -> types::Channel {
    let caller = |id: &CallerId| types::CallerId {
        name: id.name.clone(),
        number: id.number.clone(),
    };
    types::Channel {
        id: snapshot.id.to_string(),
        name: snapshot.name.clone(),
        state: snapshot.state.as_str().to_string(),
        caller: caller(&snapshot.caller),
        connected: caller(&snapshot.connected),
        language: snapshot.language.clone(),
        context: snapshot.dialplan.context.clone(),
        exten: snapshot.dialplan.exten.clone(),
        priority: snapshot.dialplan.priority,
    }
}

/// A channel field of an event, typed or JSON.
fn channel_field(field: Option<&Field>) -> types::Channel {
    match field {
        Some(Field::Channel(snapshot)) => channel_snapshot(snapshot),
        Some(Field::Json(value)) => channel(value),
        None => channel(&Value::Null),
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
    // Borrowed, never cloned: this runs for every event delivered into a session.
    let field = |key: &str| event.json(key).unwrap_or(&Value::Null);
    let own_text = |key: &str| {
        event
            .json(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let own_u32 = |key: &str| {
        event
            .json(key)
            .and_then(Value::as_u64)
            .and_then(|n| u32::try_from(n).ok())
    };
    let snapshot = || channel_field(event.field("channel"));
    match event.kind {
        "StasisStart" => types::Event::StasisStart(types::StasisStart {
            channel: snapshot(),
            args: field("args")
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
        }),
        "StasisEnd" => types::Event::StasisEnd(snapshot()),
        "ChannelDtmfReceived" => types::Event::DtmfReceived(types::DtmfReceived {
            channel: snapshot(),
            digit: own_text("digit"),
            duration_ms: own_u32("duration_ms").unwrap_or(0),
        }),
        "ChannelStateChange" => types::Event::StateChanged(snapshot()),
        "ChannelHangupRequest" => types::Event::HangupRequested(types::HangupRequest {
            channel: snapshot(),
            cause: own_u32("cause"),
        }),
        "PlaybackStarted" => types::Event::PlaybackStarted(playback(field("playback"))),
        "PlaybackFinished" => types::Event::PlaybackFinished(playback(field("playback"))),
        "RecordingStarted" => types::Event::RecordingStarted(recording(field("recording"))),
        "RecordingFinished" => types::Event::RecordingFinished(recording(field("recording"))),
        "RecordingFailed" => types::Event::RecordingFailed(recording(field("recording"))),
        "ChannelEnteredBridge" => types::Event::EnteredBridge(types::BridgeMembership {
            bridge: bridge(field("bridge")),
            channel: snapshot(),
        }),
        "ChannelLeftBridge" => types::Event::LeftBridge(types::BridgeMembership {
            bridge: bridge(field("bridge")),
            channel: snapshot(),
        }),
        "ChannelUserevent" => types::Event::UserEvent(types::UserEvent {
            name: own_text("eventname"),
            variables_json: field("userevent").to_string(),
        }),
        other => types::Event::Other(types::RawEvent {
            event_type: other.to_string(),
            json: event.fields_json_string(),
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
