//! The channel transitions the technologies and the channel runners drive, private to the
//! core: state changes (ringing, answered), DTMF received, dialplan positions and variables
//! set while locked, entering and leaving Stasis, requesting and calling a channel through
//! its technology, and leaving a bridge.

use std::sync::Arc;

use serde_json::json;

use super::channel::{ChannelState, Control, DialplanPosition, StasisMembership};
use super::snapshot::ChannelSnapshot;
use super::{builtin_var, split_endpoint};
use crate::core::event::{Event, Scope};
use crate::core::quota::Account;
use crate::core::stasis::SourceKind;
use crate::core::tech::Request;
use crate::core::{ControlReceiver, Core, CoreError, State};

impl Core {
    /// Changes a channel's state and publishes ChannelStateChange.
    pub(in crate::core) fn set_state(&self, state: &mut State, id: &Arc<str>, new: ChannelState) {
        self.change_state(state, id, new);
    }

    /// [`Core::set_state`], giving back the snapshot ChannelStateChange carried (for an
    /// event that follows about the unchanged channel); `None` when nothing changed.
    fn change_state(
        &self,
        state: &mut State,
        id: &Arc<str>,
        new: ChannelState,
    ) -> Option<Arc<ChannelSnapshot>> {
        let channel = state.channels.get_mut(id)?;
        if channel.state == new {
            return None;
        }
        channel.state = new;
        if new == ChannelState::Ringing && state.dialers.contains_key(id) {
            state.legs_rang.insert(id.clone());
        }
        let snapshot = self.channel_snapshot(state, id).map(Arc::new);
        self.publish(
            state,
            Event::new("ChannelStateChange", Scope::channel(id))
                .with_shared_channel("channel", snapshot.clone()),
        );
        self.notify_dialer(state, id);
        snapshot
    }

    /// Tells the channel running a Dial() for `leg` that the leg changed.
    pub(in crate::core) fn notify_dialer(&self, state: &State, leg: &str) {
        if let Some(caller) = state.dialers.get(leg)
            && let Some(channel) = state.channels.get(caller)
        {
            let _ = channel.control.send(Control::DialProgress);
        }
    }

    /// The far end of an outbound channel is ringing.
    pub(in crate::core) fn far_end_ringing(&self, state: &mut State, id: &Arc<str>) {
        let ringable = state
            .channels
            .get(id)
            .is_some_and(|c| matches!(c.state, ChannelState::Down | ChannelState::Dialing));
        if ringable {
            self.announce_dial(state, id);
            let snapshot = self.change_state(state, id, ChannelState::Ringing);
            self.dial_progress(state, id, "RINGING", snapshot);
        }
    }

    /// The far end of an outbound channel answered: the channel is Up and its runner is told.
    pub(in crate::core) fn far_end_answered(&self, state: &mut State, id: &Arc<str>) {
        let Some(channel) = state.channels.get(id) else {
            return;
        };
        if channel.hanging_up {
            return;
        }
        self.announce_dial(state, id);
        self.send_control(state, id, Control::Answered);
        let snapshot = self.change_state(state, id, ChannelState::Up);
        self.dial_progress(state, id, "ANSWER", snapshot);
        self.notify_dialer(state, id);
    }

    /// Answers a channel from our side (ARI answer, dialplan Answer()).
    pub(in crate::core) fn answer_locked(&self, state: &mut State, id: &Arc<str>) {
        let Some(channel) = state.channels.get(id) else {
            return;
        };
        if channel.state == ChannelState::Up || channel.hanging_up {
            return;
        }
        let driver = channel.driver.clone();
        self.set_state(state, id, ChannelState::Up);
        driver.answered(&mut crate::core::tech::Context::new(self, state), id);
    }

    /// A DTMF digit arrived from the channel's far end (ChannelDtmfReceived), reported from
    /// outside the core: the benchmarks' simulated phones press keys this way.
    pub fn far_end_dtmf(&self, id: &Arc<str>, digit: char, duration_ms: u32) {
        self.with_state(|state| self.dtmf_received(state, id, digit, duration_ms));
    }

    /// A DTMF digit arrived on the channel: ChannelDtmfReceived.
    pub(in crate::core) fn dtmf_received(
        &self,
        state: &mut State,
        id: &Arc<str>,
        digit: char,
        duration_ms: u32,
    ) {
        if !state.channels.contains_key(id) {
            return;
        }
        self.media_dtmf(id, digit);
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("ChannelDtmfReceived", Scope::channel(id))
                .with("digit", json!(digit.to_string()))
                .with("duration_ms", json!(duration_ms))
                .with_channel("channel", snapshot),
        );
    }

    /// Moves the channel's dialplan position and publishes ChannelDialplan.
    pub(in crate::core) fn set_dialplan_position(
        &self,
        state: &mut State,
        id: &Arc<str>,
        position: DialplanPosition,
    ) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        channel.dialplan = position;
        let app = channel.dialplan.app_name.clone();
        let data = channel.dialplan.app_data.clone();
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("ChannelDialplan", Scope::channel(id))
                .with("dialplan_app", json!(app))
                .with("dialplan_app_data", json!(data))
                .with_channel("channel", snapshot),
        );
    }

    /// Sets a channel variable and publishes ChannelVarset, or, with `None`, unsets it
    /// silently (as Asterisk does); a function name (`CALLERID(num)`, ...) writes the
    /// function instead.
    pub(in crate::core) fn set_var_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        name: &str,
        value: Option<&str>,
        report: Option<bool>,
    ) {
        if !state.channels.contains_key(id) {
            return;
        }
        if self.write_function(state, id, name, value.unwrap_or_default()) {
            return;
        }
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        match report {
            Some(true) => {
                channel.reported.insert(name.to_string());
            }
            Some(false) => {
                channel.reported.remove(name);
            }
            None => {}
        }
        let Some(value) = value else {
            // Unsetting is silent.
            channel.vars.remove(name);
            return;
        };
        channel.vars.insert(name.to_string(), value.to_string());
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("ChannelVarset", Scope::channel(id))
                .with("variable", json!(name))
                .with("value", json!(value))
                .with_channel("channel", snapshot),
        );
    }

    /// The value of a function (`CALLERID(num)`, ...), else of a channel variable, then
    /// of a global one.
    pub(in crate::core) fn var_value(&self, state: &State, id: &str, name: &str) -> Option<String> {
        let channel = state.channels.get(id);
        if let Some(value) = channel.and_then(|c| self.read_function(Some(c), name)) {
            return Some(value);
        }
        channel
            .and_then(|c| c.vars.get(name).cloned())
            .or_else(|| {
                let globals = self.globals.read().unwrap_or_else(|p| p.into_inner());
                globals.get(name).cloned()
            })
            .or_else(|| state.channels.get(id).and_then(|c| builtin_var(c, name)))
    }

    /// Puts a channel into a Stasis application: subscription, StasisStart. False when the
    /// application has no handler (the caller reports STASISSTATUS=FAILED).
    pub(in crate::core) fn stasis_enter(
        &self,
        state: &mut State,
        id: &Arc<str>,
        app: &str,
        args: &[String],
    ) -> bool {
        if !state.apps.is_active(app) || !state.channels.contains_key(id) {
            return false;
        }
        state.apps.subscribe(app, SourceKind::Channel, id);
        let from_dialplan = state
            .channels
            .get(id)
            .is_some_and(|c| c.dialplan.app_name.eq_ignore_ascii_case("Stasis"));
        if !from_dialplan {
            // Entering straight from originate/create/move: the channel now runs Stasis().
            let mut position = state
                .channels
                .get(id)
                .map(|c| c.dialplan.clone())
                .unwrap_or_default();
            position.app_name = "Stasis".to_string();
            position.app_data = std::iter::once(app.to_string())
                .chain(args.iter().cloned())
                .collect::<Vec<_>>()
                .join(",");
            self.set_dialplan_position(state, id, position);
        }
        if let Some(channel) = state.channels.get_mut(id) {
            channel.stasis = Some(StasisMembership {
                app: app.to_string(),
                args: args.to_vec(),
            });
        }
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("StasisStart", Scope::app(app))
                .with("args", json!(args))
                .with_channel("channel", snapshot),
        );
        true
    }

    /// Takes a channel out of its Stasis application: it leaves an ARI bridge, StasisEnd,
    /// the implicit subscription ends.
    pub(in crate::core) fn stasis_leave(&self, state: &mut State, id: &Arc<str>) {
        let Some(app) = state.app_of_channel(id) else {
            return;
        };
        if let Some(bridge) = state.channels.get(id).and_then(|c| c.bridge.clone())
            && state
                .bridges
                .get(&bridge)
                .is_some_and(|b| b.class == crate::core::bridges::bridge::BridgeClass::Stasis)
        {
            self.leave_bridge_as(state, id, false);
        }
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("StasisEnd", Scope::app(&app)).with_channel("channel", snapshot),
        );
        if let Some(channel) = state.channels.get_mut(id) {
            channel.stasis = None;
        }
        state.apps.unsubscribe(&app, SourceKind::Channel, id);
    }

    /// Requests a new outbound channel `Tech/resource` (not yet called). With an `owner`,
    /// the channel (each half of a Local pair) counts against that user's `max_channels`:
    /// over it, nothing is created (403).
    pub(in crate::core) fn request_channel(
        &self,
        state: &mut State,
        endpoint: &str,
        request: Request,
        owner: Option<&Arc<Account>>,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let (tech_name, resource) = split_endpoint(endpoint)?;
        let tech = self.technology(tech_name).cloned().ok_or_else(|| {
            CoreError::BadRequest(format!(
                "Unknown channel technology '{tech_name}' (wari has: {})",
                self.dialable_technologies()
            ))
        })?;
        let halves = tech.channels_per_request();
        let mut charge = owner.map(|a| a.take_channels(halves)).transpose()?;
        let request = Request {
            resource: resource.to_string(),
            ..request
        };
        let (id, rx) = tech.request(&mut crate::core::tech::Context::new(self, state), &request)?;
        if let Some(mut charge) = charge.take() {
            let peer = state.channels.get(&id).and_then(|c| c.driver.local_peer());
            if let (Some(other), Some(peer)) = (charge.split_one(), peer)
                && let Some(channel) = state.channels.get_mut(&peer)
            {
                channel.charge = Some(other);
            }
            if let Some(channel) = state.channels.get_mut(&id) {
                channel.charge = Some(charge);
            }
        }
        Ok((id, rx))
    }

    /// Calls an outbound channel: its technology starts ringing the far end.
    pub(in crate::core) fn call_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
    ) -> Result<(), CoreError> {
        let driver = self.channel_mut(state, id)?.driver.clone();
        driver.call(&mut crate::core::tech::Context::new(self, state), id)
    }

    /// Makes a channel leave whatever bridge it is in (ChannelLeftBridge).
    pub(in crate::core) fn leave_bridge(&self, state: &mut State, id: &Arc<str>) {
        self.leave_bridge_as(state, id, true);
    }

    /// Takes a channel out of its bridge: `BRIDGEPEER` cleared, ChannelLeftBridge, the
    /// remaining parties reconfigured. `unsubscribe` false keeps the application's
    /// subscription to the bridge: Asterisk 23.4.1 keeps it when a channel leaves Stasis
    /// (hangup, continue) while bridged, so the application still hears the bridge's
    /// later events, BridgeDestroyed included.
    pub(in crate::core) fn leave_bridge_as(
        &self,
        state: &mut State,
        id: &Arc<str>,
        unsubscribe: bool,
    ) {
        let Some(bridge_id) = state.channels.get(id).and_then(|c| c.bridge.clone()) else {
            return;
        };
        self.clear_bridge_peer_locked(state, id);
        if let Some(channel) = state.channels.get_mut(id) {
            channel.bridge = None;
        }
        let Some(bridge) = state.bridges.get_mut(&bridge_id) else {
            return;
        };
        bridge.channels.retain(|c| c != id);
        if bridge.video_source.as_ref() == Some(id) {
            bridge.video_source = None;
        }
        self.media_bridge_left(id);
        let bridge_json = bridge.json();
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new(
                "ChannelLeftBridge",
                // On the bridge's topic only, as in Asterisk: an application that
                // follows the channel but not the bridge does not hear it.
                Scope::bridge(&bridge_id),
            )
            .with("bridge", bridge_json)
            .with_channel("channel", snapshot),
        );
        if unsubscribe && let Some(app) = state.app_of_channel(id) {
            state.apps.unsubscribe(&app, SourceKind::Bridge, &bridge_id);
        }
        let basic_and_empty = state.bridges.get(&bridge_id).is_some_and(|b| {
            b.class == crate::core::bridges::bridge::BridgeClass::Basic && b.channels.len() < 2
        });
        if basic_and_empty {
            self.destroy_bridge_locked(state, &bridge_id);
        } else {
            self.bridge_reconfigured_locked(state, &bridge_id);
        }
        self.end_hold_on_leaving(state, id);
    }
}
