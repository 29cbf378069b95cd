//! The real host: bindings generated from `wit/stasis.wit`, and the conversions between them
//! and the SDK's types. Only built for wasm32.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::ari::Response;
use crate::log::Level;
use crate::types::{
    Bridge, CallerId, Channel, Direction, Error, Event, HangupReason, Playback, Recording, Result,
    TimerId,
};
use crate::{App, dispatch};

/// The generated bindings of the `stasis-app` world.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "stasis-app",
        pub_export_macro: true,
        export_macro_name: "export",
        default_bindings_module: "wari_guest_sdk::__private::bindings",
        ownership: Borrowing { duplicate_if_necessary: false },
    });
}

use bindings::wari::stasis::{ari, call, kv, log, timers, types as wit};

/// Runs one event of the session: creates the app on the first one, then dispatches.
pub fn handle_event<A: App + Default + 'static>(
    slot: &'static LocalKey<RefCell<Option<A>>>,
    event: wit::Event,
) {
    let event = Event::from(event);
    slot.with(|cell| {
        let mut app = cell.borrow_mut();
        dispatch(app.get_or_insert_with(A::default), &event);
    });
}

impl From<wit::CallerId> for CallerId {
    fn from(c: wit::CallerId) -> Self {
        CallerId {
            name: c.name,
            number: c.number,
        }
    }
}

impl From<wit::Channel> for Channel {
    fn from(c: wit::Channel) -> Self {
        Channel {
            id: c.id,
            name: c.name,
            state: c.state,
            caller: c.caller.into(),
            connected: c.connected.into(),
            language: c.language,
            context: c.context,
            exten: c.exten,
            priority: c.priority,
        }
    }
}

impl From<wit::Bridge> for Bridge {
    fn from(b: wit::Bridge) -> Self {
        Bridge {
            id: b.id,
            bridge_type: b.bridge_type,
            channels: b.channels,
        }
    }
}

impl From<wit::Playback> for Playback {
    fn from(p: wit::Playback) -> Self {
        Playback {
            id: p.id,
            media_uri: p.media_uri,
            target_uri: p.target_uri,
            state: p.state,
        }
    }
}

impl From<wit::Recording> for Recording {
    fn from(r: wit::Recording) -> Self {
        Recording {
            name: r.name,
            format: r.format,
            target_uri: r.target_uri,
            state: r.state,
            cause: r.cause,
        }
    }
}

impl From<wit::Error> for Error {
    fn from(e: wit::Error) -> Self {
        Error {
            status: e.status,
            message: e.message,
        }
    }
}

impl From<wit::Event> for Event {
    fn from(event: wit::Event) -> Self {
        use wit::Event as W;
        match event {
            W::StasisStart(s) => Event::StasisStart {
                channel: s.channel.into(),
                args: s.args,
            },
            W::StasisEnd(channel) => Event::StasisEnd {
                channel: channel.into(),
            },
            W::DtmfReceived(d) => Event::Dtmf {
                channel: d.channel.into(),
                digit: d.digit.chars().next().unwrap_or('\u{fffd}'),
                duration_ms: d.duration_ms,
            },
            W::StateChanged(channel) => Event::StateChanged {
                channel: channel.into(),
            },
            W::HangupRequested(h) => Event::HangupRequested {
                channel: h.channel.into(),
                cause: h.cause,
            },
            W::PlaybackStarted(p) => Event::PlaybackStarted { playback: p.into() },
            W::PlaybackFinished(p) => Event::PlaybackFinished { playback: p.into() },
            W::RecordingStarted(r) => Event::RecordingStarted {
                recording: r.into(),
            },
            W::RecordingFinished(r) => Event::RecordingFinished {
                recording: r.into(),
            },
            W::RecordingFailed(r) => Event::RecordingFailed {
                recording: r.into(),
            },
            W::EnteredBridge(m) => Event::EnteredBridge {
                bridge: m.bridge.into(),
                channel: m.channel.into(),
            },
            W::LeftBridge(m) => Event::LeftBridge {
                bridge: m.bridge.into(),
                channel: m.channel.into(),
            },
            W::UserEvent(u) => Event::UserEvent {
                name: u.name,
                variables_json: u.variables_json,
            },
            W::Timer(id) => Event::Timer(TimerId(id)),
            W::Other(raw) => Event::Other {
                event_type: raw.event_type,
                json: raw.json,
            },
        }
    }
}

fn reason(r: HangupReason) -> wit::HangupReason {
    use wit::HangupReason as W;
    match r {
        HangupReason::Normal => W::Normal,
        HangupReason::Busy => W::Busy,
        HangupReason::Congestion => W::Congestion,
        HangupReason::NoAnswer => W::NoAnswer,
        HangupReason::Timeout => W::Timeout,
        HangupReason::Rejected => W::Rejected,
        HangupReason::Unallocated => W::Unallocated,
        HangupReason::NormalUnspecified => W::NormalUnspecified,
        HangupReason::NumberIncomplete => W::NumberIncomplete,
        HangupReason::CodecMismatch => W::CodecMismatch,
        HangupReason::Interworking => W::Interworking,
        HangupReason::Failure => W::Failure,
        HangupReason::AnsweredElsewhere => W::AnsweredElsewhere,
    }
}

fn direction(d: Direction) -> wit::Direction {
    match d {
        Direction::Both => wit::Direction::Both,
        Direction::In => wit::Direction::In,
        Direction::Out => wit::Direction::Out,
    }
}

pub fn answer(channel: &str) -> Result<()> {
    Ok(call::answer(channel)?)
}

pub fn hangup(channel: &str, r: HangupReason) -> Result<()> {
    Ok(call::hangup(channel, reason(r))?)
}

pub fn ring(channel: &str) -> Result<()> {
    Ok(call::ring(channel)?)
}

pub fn progress(channel: &str) -> Result<()> {
    Ok(call::progress(channel)?)
}

pub fn send_dtmf(channel: &str, digits: &str) -> Result<()> {
    Ok(call::send_dtmf(channel, digits)?)
}

pub fn hold(channel: &str, on: bool) -> Result<()> {
    Ok(call::hold(channel, on)?)
}

pub fn mute(channel: &str, d: Direction, on: bool) -> Result<()> {
    Ok(call::mute(channel, direction(d), on)?)
}

pub fn play(channel: &str, media: &[&str]) -> Result<String> {
    Ok(call::play(channel, media)?)
}

pub fn record_channel(
    channel: &str,
    name: &str,
    format: &str,
    max_duration_seconds: u32,
) -> Result<String> {
    Ok(call::record_channel(
        channel,
        name,
        format,
        max_duration_seconds,
    )?)
}

pub fn get_variable(channel: &str, name: &str) -> Result<String> {
    Ok(call::get_variable(channel, name)?)
}

pub fn set_variable(channel: &str, name: &str, value: &str) -> Result<()> {
    Ok(call::set_variable(channel, name, value)?)
}

pub fn get_channel(channel: &str) -> Result<Channel> {
    Ok(call::get_channel(channel)?.into())
}

pub fn create_bridge(bridge_type: &str) -> Result<Bridge> {
    Ok(call::create_bridge(bridge_type)?.into())
}

pub fn add_to_bridge(bridge: &str, channel: &str) -> Result<()> {
    Ok(call::add_to_bridge(bridge, channel)?)
}

pub fn remove_from_bridge(bridge: &str, channel: &str) -> Result<()> {
    Ok(call::remove_from_bridge(bridge, channel)?)
}

pub fn destroy_bridge(bridge: &str) -> Result<()> {
    Ok(call::destroy_bridge(bridge)?)
}

pub fn originate(
    endpoint: &str,
    args: &[&str],
    caller_id: Option<&str>,
    timeout_seconds: Option<u32>,
) -> Result<String> {
    Ok(call::originate(endpoint, args, caller_id, timeout_seconds)?)
}

pub fn continue_in_dialplan(
    channel: &str,
    context: &str,
    exten: &str,
    priority: Option<u32>,
) -> Result<()> {
    Ok(call::continue_in_dialplan(
        channel, context, exten, priority,
    )?)
}

pub fn move_to_app(channel: &str, app: &str, args: &[&str]) -> Result<()> {
    Ok(call::move_to_app(channel, app, args)?)
}

pub fn ari_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let r = ari::request(method, path, query, body);
    Response {
        status: r.status,
        body: r.body,
    }
}

pub fn set_timer(after_ms: u64) -> TimerId {
    TimerId(timers::set_timer(after_ms))
}

pub fn cancel_timer(id: TimerId) {
    timers::cancel_timer(id.0)
}

pub fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => log::Level::Trace,
        Level::Debug => log::Level::Debug,
        Level::Info => log::Level::Info,
        Level::Warn => log::Level::Warn,
        Level::Error => log::Level::Error,
    };
    log::log(level, message)
}

pub fn kv_get(key: &str) -> Option<String> {
    kv::get(key)
}

pub fn kv_set(key: &str, value: &str) {
    kv::set(key, value)
}

pub fn kv_delete(key: &str) {
    kv::delete(key)
}

pub fn kv_set_if_absent(key: &str, value: &str) -> Option<String> {
    kv::set_if_absent(key, value)
}

pub fn kv_increment(key: &str, delta: i64) -> i64 {
    kv::increment(key, delta)
}
