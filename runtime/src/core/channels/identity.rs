//! Caller and connected-line identities of channels: changing them (ChannelCallerId,
//! ChannelConnectedLine, only when something changed), also through the dialplan
//! functions that write them (`CALLERID(...)`, `CONNECTEDLINE(...)`, and `GLOBAL(NAME)`),
//! wherever a variable name is accepted. Reading functions is [`crate::core::functions`]'s.

use std::sync::Arc;

use serde_json::json;

use super::channel::CallerId;
use crate::core::event::{Event, Scope};
use crate::core::functions::{Function, parse, write_part};
use crate::core::{Core, State};

/// `caller_presentation` of every identity wari sets: presentation allowed, number not
/// screened (0), with the text Asterisk gives it.
const PRESENTATION: u8 = 0;
const PRESENTATION_TXT: &str = "Presentation Allowed, Not Screened";

/// True when `name` is a function wari can write (`CALLERID(...)`, `CONNECTEDLINE(...)`,
/// `GLOBAL(...)`).
pub(crate) fn is_writable_function(name: &str) -> bool {
    matches!(
        parse(name),
        Some(Function::Caller(_) | Function::Connected(_) | Function::Global(_))
    )
}

impl Core {
    /// Sets a channel's caller identity; ChannelCallerId when it changed.
    pub(in crate::core) fn set_caller_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        caller: CallerId,
    ) {
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
    pub(in crate::core) fn set_identities_locked(
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
    pub(in crate::core) fn set_connected_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        connected: CallerId,
    ) {
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
            driver.connected_changed(
                &mut crate::core::tech::Context::new(self, state),
                id,
                &connected,
            );
        }
    }

    /// Writes `name` when it is a function (`CALLERID(num)`, `CONNECTEDLINE(name)`,
    /// `GLOBAL(X)`): the identity or global changes instead of a channel variable. False
    /// when `name` is a plain variable.
    pub(in crate::core) fn write_function(
        &self,
        state: &mut State,
        id: &Arc<str>,
        name: &str,
        value: &str,
    ) -> bool {
        let Some(function) = parse(name) else {
            return false;
        };
        match function {
            Function::Len(_) | Function::Exists(_) | Function::IsNull(_) => return false,
            Function::Global(global) => self.set_global_var_locked(state, global, Some(value)),
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
}
