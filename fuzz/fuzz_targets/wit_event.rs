//! Core events to WIT events (`runtime/src/wasm/convert.rs`), as a WebAssembly session gets
//! them: any JSON object as an event's fields, under each event type the conversion knows
//! and one it does not, and any JSON value as a channel or bridge snapshot.
//!
//! Input: one byte choosing the event type, then JSON text.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wari::core::event::{Event, Scope};
use wari::wasm::convert;

const KINDS: [&str; 16] = [
    "StasisStart",
    "StasisEnd",
    "ChannelDtmfReceived",
    "ChannelStateChange",
    "ChannelHangupRequest",
    "PlaybackStarted",
    "PlaybackFinished",
    "RecordingStarted",
    "RecordingFinished",
    "RecordingFailed",
    "ChannelEnteredBridge",
    "ChannelLeftBridge",
    "ChannelUserevent",
    "ChannelVarset",
    "BridgeCreated",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, json)) = data.split_first() else {
        return;
    };
    let Ok(value) = serde_json::from_slice::<Value>(json) else {
        return;
    };
    let _ = convert::channel(&value);
    let _ = convert::bridge(&value);
    let Value::Object(fields) = value else {
        return;
    };
    let event = Event::new(KINDS[usize::from(selector) % KINDS.len()], Scope::default())
        .with_fields(fields);
    let _ = convert::event(&event);
});
