//! Caller and connected-line identities of channels: changing them (ChannelCallerId,
//! ChannelConnectedLine, only when something changed), and the dialplan functions that
//! read and write them (`CALLERID(name|num|all)`, `CONNECTEDLINE(name|num|all)`) and the
//! global variables (`GLOBAL(NAME)`), wherever a variable name is accepted: ARI's
//! variable operations, originate and create `variables`, dialplan `Set()` and `${...}`.

use std::sync::Arc;

use serde_json::json;

use super::channel::{CallerId, Channel};
use super::event::{Event, Scope};
use super::{Core, State};

/// `caller_presentation` of every identity wari sets: presentation allowed, number not
/// screened (0), with the text Asterisk gives it.
const PRESENTATION: u8 = 0;
const PRESENTATION_TXT: &str = "Presentation Allowed, Not Screened";

/// A dialplan function that stands for a part of a channel's identity or for a global.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Function<'a> {
    Caller(Part),
    Connected(Part),
    Global(&'a str),
}

/// Which part of an identity a function names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Name,
    Number,
    All,
}

/// The function a variable name stands for, if any (function names are case-insensitive).
fn function(name: &str) -> Option<Function<'_>> {
    let (function, argument) = name.strip_suffix(')')?.split_once('(')?;
    let part = || match argument.trim().to_ascii_lowercase().as_str() {
        "name" => Some(Part::Name),
        "num" | "number" => Some(Part::Number),
        "all" => Some(Part::All),
        _ => None,
    };
    match function.trim().to_ascii_uppercase().as_str() {
        "CALLERID" => part().map(Function::Caller),
        "CONNECTEDLINE" => part().map(Function::Connected),
        "GLOBAL" if !argument.trim().is_empty() => Some(Function::Global(argument.trim())),
        _ => None,
    }
}

/// True when `name` is a function wari can write (`CALLERID(...)`, `CONNECTEDLINE(...)`,
/// `GLOBAL(...)`).
pub fn is_writable_function(name: &str) -> bool {
    function(name).is_some()
}

/// `"Name" <number>`, as Asterisk 23.4.1 reads `CALLERID(all)` (`"" <>` when empty).
fn merged(id: &CallerId) -> String {
    format!("\"{}\" <{}>", id.name, id.number)
}

fn read_part(id: &CallerId, part: Part) -> String {
    match part {
        Part::Name => id.name.clone(),
        Part::Number => id.number.clone(),
        Part::All => merged(id),
    }
}

fn write_part(id: &CallerId, part: Part, value: &str) -> CallerId {
    let mut new = id.clone();
    match part {
        Part::Name => new.name = value.to_string(),
        Part::Number => new.number = value.to_string(),
        Part::All => new = CallerId::parse(value),
    }
    new
}

impl Core {
    /// Sets a channel's caller identity; ChannelCallerId when it changed.
    pub fn set_caller_locked(&self, state: &mut State, id: &Arc<str>, caller: CallerId) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        if channel.caller == caller {
            return;
        }
        channel.caller = caller;
        self.publish_caller_id(state, id);
    }

    /// Sets both identities of a channel at once (a Local channel's second half when
    /// called), then announces each that changed.
    pub fn set_identities_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        caller: CallerId,
        connected: CallerId,
    ) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        let caller_changed = channel.caller != caller;
        let connected_changed = channel.connected != connected;
        channel.caller = caller;
        channel.connected = connected;
        if caller_changed {
            self.publish_caller_id(state, id);
        }
        if connected_changed {
            self.publish_connected_line(state, id);
        }
    }

    fn publish_caller_id(&self, state: &mut State, id: &Arc<str>) {
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("ChannelCallerId", Scope::channel(id))
                .with("caller_presentation", json!(PRESENTATION))
                .with("caller_presentation_txt", json!(PRESENTATION_TXT))
                .with_channel("channel", snapshot),
        );
    }

    /// Sets a channel's connected-line identity; ChannelConnectedLine when it changed.
    pub fn set_connected_locked(&self, state: &mut State, id: &Arc<str>, connected: CallerId) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        if channel.connected == connected {
            return;
        }
        channel.connected = connected;
        self.publish_connected_line(state, id);
    }

    fn publish_connected_line(&self, state: &mut State, id: &Arc<str>) {
        let snapshot = self.channel_snapshot(state, id);
        let Some(snapshot) = snapshot else {
            return;
        };
        let connected = snapshot.connected.clone();
        let driver = state.channels.get(id).map(|c| c.driver.clone());
        self.publish(
            state,
            Event::new("ChannelConnectedLine", Scope::channel(id))
                .with_channel("channel", Some(snapshot)),
        );
        if let Some(driver) = driver {
            driver.connected_changed(self, state, id, &connected);
        }
    }

    /// Writes `name` when it is a function (`CALLERID(num)`, `CONNECTEDLINE(name)`,
    /// `GLOBAL(X)`): the identity or global changes instead of a channel variable. False
    /// when `name` is a plain variable.
    pub(crate) fn write_function(
        &self,
        state: &mut State,
        id: &Arc<str>,
        name: &str,
        value: &str,
    ) -> bool {
        let Some(function) = function(name) else {
            return false;
        };
        match function {
            Function::Global(global) => self.set_global_var(global, Some(value)),
            Function::Caller(part) => {
                if let Some(channel) = state.channels.get(id) {
                    let caller = write_part(&channel.caller, part, value);
                    self.set_caller_locked(state, id, caller);
                }
            }
            Function::Connected(part) => {
                if let Some(channel) = state.channels.get(id) {
                    let connected = write_part(&channel.connected, part, value);
                    self.set_connected_locked(state, id, connected);
                }
            }
        }
        true
    }

    /// Reads `name` when it is a function; `None` for a plain variable.
    pub(crate) fn read_function(&self, channel: &Channel, name: &str) -> Option<String> {
        Some(match function(name)? {
            Function::Global(global) => self.global_var(global),
            Function::Caller(part) => read_part(&channel.caller, part),
            Function::Connected(part) => read_part(&channel.connected, part),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert_eq!(
            function("CALLERID(num)"),
            Some(Function::Caller(Part::Number))
        );
        assert_eq!(
            function("callerid(Name)"),
            Some(Function::Caller(Part::Name))
        );
        assert_eq!(
            function("CONNECTEDLINE(all)"),
            Some(Function::Connected(Part::All))
        );
        assert_eq!(function("GLOBAL(LAST)"), Some(Function::Global("LAST")));
        assert_eq!(function("GLOBAL()"), None);
        assert_eq!(function("CALLERID(ani)"), None);
        assert_eq!(function("FOO"), None);
        assert_eq!(function("FOO(bar)"), None);
    }

    #[test]
    fn merged_identities() {
        let both = CallerId::parse("\"Zed\" <777>");
        assert_eq!(merged(&both), "\"Zed\" <777>");
        assert_eq!(read_part(&both, Part::All), "\"Zed\" <777>");
        assert_eq!(merged(&CallerId::parse("777")), "\"\" <777>");
        assert_eq!(merged(&CallerId::default()), "\"\" <>");
        assert_eq!(write_part(&both, Part::Name, "Ann").name, "Ann");
        assert_eq!(write_part(&both, Part::All, "<1>"), CallerId::parse("<1>"));
    }
}
