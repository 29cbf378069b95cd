//! Call control: the same operations as the ARI REST API, on the session's own channels and
//! bridges (the `wari:stasis/call` interface).
//!
//! Every function takes ids (`&str`): a [`Channel`]'s `id`, a [`Bridge`]'s `id`. An operation
//! on a channel or bridge of another session fails with an [`Error`](crate::Error) (403 or 404), as does
//! one on a channel in the wrong state (409) or a media operation the host does not
//! implement yet (501). None of them blocks for long: what they start (a playback, a
//! recording, an originated call) reports back through [`Event`](crate::Event)s.
//!
//! On native targets these functions go to the thread's [`MockHost`](crate::mock::MockHost).

use crate::host;
use crate::types::{Bridge, Channel, Direction, HangupReason, Result};

/// Answers a ringing channel.
pub fn answer(channel: &str) -> Result<()> {
    host::answer(channel)
}

/// Hangs a channel up with `reason`.
pub fn hangup(channel: &str, reason: HangupReason) -> Result<()> {
    host::hangup(channel, reason)
}

/// Indicates ringing to the channel's caller.
pub fn ring(channel: &str) -> Result<()> {
    host::ring(channel)
}

/// Indicates call progress (early media) to the channel's caller.
pub fn progress(channel: &str) -> Result<()> {
    host::progress(channel)
}

/// Sends DTMF `digits` (`0-9`, `*`, `#`, `A-D`) to the channel's far end.
pub fn send_dtmf(channel: &str, digits: &str) -> Result<()> {
    host::send_dtmf(channel, digits)
}

/// Puts the channel on hold (`on`) or takes it off hold.
pub fn hold(channel: &str, on: bool) -> Result<()> {
    host::hold(channel, on)
}

/// Mutes (`on`) or unmutes the channel's audio in `direction`.
pub fn mute(channel: &str, direction: Direction, on: bool) -> Result<()> {
    host::mute(channel, direction, on)
}

/// Plays media URIs (`sound:hello-world`, `digits:123`, `tone:ring`, ...) one after another
/// to a channel; returns the playback id, which comes back in
/// [`Event::PlaybackStarted`](crate::Event::PlaybackStarted) and
/// [`Event::PlaybackFinished`](crate::Event::PlaybackFinished).
pub fn play(channel: &str, media: &[&str]) -> Result<String> {
    host::play(channel, media)
}

/// Records a channel to the stored recording `name` in `format` (e.g. `wav`) for at most
/// `max_duration_seconds` (0: no limit); returns the recording's name.
pub fn record_channel(
    channel: &str,
    name: &str,
    format: &str,
    max_duration_seconds: u32,
) -> Result<String> {
    host::record_channel(channel, name, format, max_duration_seconds)
}

/// Reads a channel variable (or a dialplan function such as `CALLERID(num)`).
pub fn get_variable(channel: &str, name: &str) -> Result<String> {
    host::get_variable(channel, name)
}

/// Sets a channel variable.
pub fn set_variable(channel: &str, name: &str, value: &str) -> Result<()> {
    host::set_variable(channel, name, value)
}

/// A fresh snapshot of a channel.
pub fn get_channel(channel: &str) -> Result<Channel> {
    host::get_channel(channel)
}

/// Creates a bridge owned by this session: `mixing` (everyone hears everyone) or `holding`.
pub fn create_bridge(bridge_type: &str) -> Result<Bridge> {
    host::create_bridge(bridge_type)
}

/// Adds a channel to a bridge.
pub fn add_to_bridge(bridge: &str, channel: &str) -> Result<()> {
    host::add_to_bridge(bridge, channel)
}

/// Removes a channel from a bridge.
pub fn remove_from_bridge(bridge: &str, channel: &str) -> Result<()> {
    host::remove_from_bridge(bridge, channel)
}

/// Destroys a bridge; its channels stay in the app.
pub fn destroy_bridge(bridge: &str) -> Result<()> {
    host::destroy_bridge(bridge)
}

/// Calls `endpoint` (`Local/exten@context`, `Test/bob`, ...); once it answers, the new
/// channel joins this same session with an [`Event::StasisStart`](crate::Event::StasisStart)
/// carrying `args`. `caller_id` is what the callee sees (e.g. `"Alice" <100>`); `timeout_seconds`
/// how long it may ring (`None`: the host's default). Returns the new channel's id.
pub fn originate(
    endpoint: &str,
    args: &[&str],
    caller_id: Option<&str>,
    timeout_seconds: Option<u32>,
) -> Result<String> {
    host::originate(endpoint, args, caller_id, timeout_seconds)
}

/// The channel leaves the app and continues in the dialplan at `context`, `exten`,
/// `priority` (empty strings: where it was; `None`: the next priority).
pub fn continue_in_dialplan(
    channel: &str,
    context: &str,
    exten: &str,
    priority: Option<u32>,
) -> Result<()> {
    host::continue_in_dialplan(channel, context, exten, priority)
}

/// The channel leaves this app for the Stasis application `app`, which gets a
/// `StasisStart` with `args`.
pub fn move_to_app(channel: &str, app: &str, args: &[&str]) -> Result<()> {
    host::move_to_app(channel, app, args)
}
