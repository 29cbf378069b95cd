//! Bridge operations: creating and destroying bridges, channels joining and leaving them,
//! with BridgeCreated/Destroyed and ChannelEntered/LeftBridge events; bridge variables.

pub(crate) mod bridge;
mod hold;

use crate::core::control::ControlApi;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Local;
use serde_json::{Map, Value};

use super::event::{Event, Scope};
use super::media::MediaTopic;
use super::stasis::SourceKind;
use super::{Core, CoreError, State};
use bridge::{Bridge, BridgeClass, BridgeFlags};

/// Asterisk's message when a bridge cannot be made of the requested type.
pub(crate) const UNABLE_TO_CREATE: &str = "Unable to create bridge";

/// `BRIDGEPEER`: the names of the other parties of a mixing bridge, set on each party.
const BRIDGEPEER: &str = "BRIDGEPEER";

/// Asterisk lists at most this many other parties in `BRIDGEPEER`.
const MAX_BRIDGEPEER_NAMES: usize = 10;

impl Core {
    fn new_bridge_locked(
        &self,
        state: &mut State,
        id: Arc<str>,
        flags: BridgeFlags,
        class: BridgeClass,
        name: &str,
        vars: &[BridgeVar],
    ) {
        let mut bridge = Bridge {
            id: id.clone(),
            name: name.to_string(),
            technology: flags.technology(0),
            flags,
            class,
            channels: Vec::new(),
            creationtime: Local::now(),
            vars: BTreeMap::new(),
            reported: BTreeSet::new(),
            video_source: None,
            published_video_source: None,
        };
        for var in vars.iter().filter(|v| !v.name.trim().is_empty()) {
            var.apply(&mut bridge);
        }
        let snapshot = bridge.json();
        let mixing = bridge.flags.kind == bridge::BridgeType::Mixing;
        state.bridges.insert(id.clone(), bridge);
        self.media_bridge_added(&id, mixing);
        self.publish(
            state,
            Event::new("BridgeCreated", Scope::bridge(&id)).with("bridge", snapshot),
        );
    }

    /// A Stasis bridge without variables or owner (the core's tests).
    #[cfg(test)]
    pub(in crate::core) fn create_bridge(
        &self,
        id: Option<&str>,
        types: &str,
        name: &str,
    ) -> Result<Value, CoreError> {
        self.control()
            .create_bridge_with_vars(id, types, name, &[], None)
    }

    /// A basic (dialplan) mixing bridge for a Dial() call.
    pub(in crate::core) fn create_basic_bridge_locked(&self, state: &mut State) -> Arc<str> {
        let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string().as_str());
        let flags = BridgeFlags::parse("mixing").unwrap_or(BridgeFlags {
            kind: bridge::BridgeType::Mixing,
            media_through_core: false,
            video_mode: "talker",
            always_multimix: false,
        });
        self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Basic, "", &[]);
        id
    }

    /// The checks before controlling a bridge over ARI: it exists (404 `Bridge not found`)
    /// and was created by ARI (409 `Bridge not in Stasis application`).
    pub(in crate::core) fn stasis_bridge(
        &self,
        state: &State,
        id: &str,
    ) -> Result<Arc<str>, CoreError> {
        let bridge = state
            .bridges
            .get(id)
            .ok_or_else(|| CoreError::NotFound("Bridge not found".into()))?;
        if bridge.class != BridgeClass::Stasis {
            return Err(CoreError::Conflict(
                "Bridge not in Stasis application".into(),
            ));
        }
        Ok(bridge.id.clone())
    }

    /// Ejects every member and removes the bridge (BridgeDestroyed).
    pub(in crate::core) fn destroy_bridge_locked(&self, state: &mut State, id: &Arc<str>) {
        self.media_topic_closing(state, MediaTopic::Bridge(id.clone()));
        let members = state
            .bridges
            .get(id)
            .map(|b| b.channels.clone())
            .unwrap_or_default();
        for member in members {
            self.leave_bridge(state, &member);
        }
        let Some(bridge) = state.bridges.remove(id) else {
            return;
        };
        state.bridge_charges.remove(id);
        self.media_bridge_removed(state, id);
        self.publish(
            state,
            Event::new("BridgeDestroyed", Scope::bridge(id)).with("bridge", bridge.json()),
        );
        state.apps.object_destroyed(SourceKind::Bridge, id);
    }

    /// Puts a channel into a bridge (leaving any other bridge first).
    pub(in crate::core) fn join_bridge_locked(
        &self,
        state: &mut State,
        bridge_id: &Arc<str>,
        channel_id: &Arc<str>,
    ) {
        let already = state
            .channels
            .get(channel_id)
            .and_then(|c| c.bridge.as_ref())
            .is_some_and(|b| b == bridge_id);
        if already {
            return;
        }
        self.leave_bridge(state, channel_id);
        let Some(bridge) = state.bridges.get_mut(bridge_id) else {
            return;
        };
        bridge.channels.push(channel_id.clone());
        if let Some(channel) = state.channels.get_mut(channel_id) {
            channel.bridge = Some(bridge_id.clone());
        }
        self.media_bridge_joined(bridge_id, channel_id);
        if let Some(app) = state.app_of_channel(channel_id) {
            state.apps.subscribe(&app, SourceKind::Bridge, bridge_id);
        }
        let bridge_json = state
            .bridges
            .get(bridge_id)
            .map(Bridge::json)
            .unwrap_or(Value::Null);
        let snapshot = self.channel_snapshot(state, channel_id);
        self.publish(
            state,
            Event::new(
                "ChannelEnteredBridge",
                // On the bridge's topic only, as in Asterisk: an application that
                // follows the channel but not the bridge does not hear it.
                Scope::bridge(bridge_id),
            )
            .with("bridge", bridge_json)
            .with_channel("channel", snapshot),
        );
        self.bridge_reconfigured_locked(state, bridge_id);
        self.end_hold_on_joining(state, bridge_id, channel_id);
    }

    /// After a channel has entered or left a bridge (and that was announced): the bridge
    /// takes the technology that fits its members, and each party's `BRIDGEPEER` names the
    /// others, as in Asterisk: in a mixing bridge of two or more every party gets the
    /// names of the others (at most ten, comma-separated; a ChannelVarset each time, even
    /// when unchanged); a lone party keeps what it had; in a holding bridge the variable is
    /// removed.
    pub(in crate::core) fn bridge_reconfigured_locked(
        &self,
        state: &mut State,
        bridge_id: &Arc<str>,
    ) {
        let Some(bridge) = state.bridges.get_mut(bridge_id) else {
            return;
        };
        bridge.reconfigured();
        self.publish_bridge_state_locked(state, bridge_id);
        let Some(bridge) = state.bridges.get(bridge_id) else {
            return;
        };
        let holding = bridge.flags.kind == bridge::BridgeType::Holding;
        let members = bridge.channels.clone();
        if holding {
            for member in &members {
                self.clear_bridge_peer_locked(state, member);
            }
            return;
        }
        if members.len() < 2 {
            return;
        }
        let names: Vec<String> = members
            .iter()
            .take(MAX_BRIDGEPEER_NAMES + 1)
            .map(|id| {
                state
                    .channels
                    .get(id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default()
            })
            .collect();
        for (at, member) in members.iter().enumerate() {
            let peers: Vec<&str> = names
                .iter()
                .enumerate()
                .filter(|(other, _)| *other != at)
                .map(|(_, name)| name.as_str())
                .take(MAX_BRIDGEPEER_NAMES)
                .collect();
            let value = peers.join(",");
            self.set_var_locked(state, member, BRIDGEPEER, Some(&value), None);
        }
    }

    /// The bridge's state is published (a change of members, a variable set, a video
    /// source chosen): when the video source is not the one last published,
    /// BridgeVideoSourceChanged (with `old_video_source_id` when there was one), as
    /// Asterisk 23.4.1 compares successive bridge snapshots.
    pub(in crate::core) fn publish_bridge_state_locked(
        &self,
        state: &mut State,
        bridge_id: &Arc<str>,
    ) {
        let Some(bridge) = state.bridges.get_mut(bridge_id) else {
            return;
        };
        if bridge.video_source == bridge.published_video_source {
            return;
        }
        let old = std::mem::replace(
            &mut bridge.published_video_source,
            bridge.video_source.clone(),
        );
        let mut event = Event::new("BridgeVideoSourceChanged", Scope::bridge(bridge_id))
            .with("bridge", bridge.json());
        if let Some(old) = old {
            event = event.with("old_video_source_id", Value::String(old.to_string()));
        }
        self.publish(state, event);
    }

    /// A channel leaving its bridge loses `BRIDGEPEER`: set to empty, with its
    /// ChannelVarset, when it had a value; removed silently otherwise.
    pub(in crate::core) fn clear_bridge_peer_locked(&self, state: &mut State, id: &Arc<str>) {
        let had = state
            .channels
            .get(id)
            .and_then(|c| c.vars.get(BRIDGEPEER))
            .is_some_and(|v| !v.is_empty());
        if had {
            self.set_var_locked(state, id, BRIDGEPEER, Some(""), None);
        } else if let Some(channel) = state.channels.get_mut(id) {
            channel.vars.remove(BRIDGEPEER);
        }
    }

    /// The channels of an add or remove request, checked as Asterisk 23.4.1 does after
    /// the bridge: none given (empty names do not count) is 400 `Missing parameter
    /// channel`; then, in order, an unknown one is 400 `Channel not found` and one not in
    /// Stasis 422 `Channel not in Stasis application`.
    fn stasis_channels(state: &State, channels: &[String]) -> Result<Vec<Arc<str>>, CoreError> {
        let mut ids = Vec::with_capacity(channels.len());
        for id in channels.iter().filter(|c| !c.is_empty()) {
            let channel = state
                .channels
                .get(id.as_str())
                .ok_or_else(|| CoreError::BadRequest("Channel not found".into()))?;
            if channel.stasis.is_none() {
                return Err(CoreError::Unprocessable(
                    "Channel not in Stasis application".into(),
                ));
            }
            ids.push(channel.id.clone());
        }
        if ids.is_empty() {
            return Err(CoreError::BadRequest("Missing parameter channel".into()));
        }
        Ok(ids)
    }
}

/// Asterisk's message for a bridge variable that is not set.
const VARIABLE_NOT_FOUND: &str = "Provided variable was not found";

/// One bridge variable to set: `value` `None` or empty unsets it (and it is no longer
/// reported, as in Asterisk); `report` `Some` changes whether it shows in the snapshot's
/// `bridgevars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeVar {
    pub name: String,
    pub value: Option<String>,
    pub report: Option<bool>,
}

impl BridgeVar {
    fn apply(&self, bridge: &mut Bridge) {
        let name = self.name.trim();
        match self.value.as_deref().filter(|v| !v.is_empty()) {
            Some(value) => {
                bridge.vars.insert(name.to_string(), value.to_string());
            }
            None => {
                bridge.vars.remove(name);
                bridge.reported.remove(name);
                return;
            }
        }
        match self.report {
            Some(true) => {
                bridge.reported.insert(name.to_string());
            }
            Some(false) => {
                bridge.reported.remove(name);
            }
            None => {}
        }
    }
}

impl ControlApi<'_> {
    /// A Stasis bridge that starts with variables (set before BridgeCreated, so reported
    /// ones are in its first snapshot). Checked in Asterisk 23.4.1's order: an id already
    /// taken (409 `Bridge with id '<id>' already exists`), then the type (`Unable to create
    /// bridge`, see [`BridgeFlags::parse`]; a 400 where Asterisk answers 500), then the
    /// `owner`'s `max_bridges` (403): the bridge counts against it until destroyed.
    pub fn create_bridge_with_vars(
        &self,
        id: Option<&str>,
        types: &str,
        name: &str,
        vars: &[BridgeVar],
        owner: Option<&Arc<super::quota::Account>>,
    ) -> Result<Value, CoreError> {
        self.with_state(|state| {
            let id: Arc<str> = match id {
                Some("") => {
                    return Err(CoreError::BadRequest("Bridge id must not be empty".into()));
                }
                Some(id) if state.bridges.contains_key(id) => {
                    return Err(CoreError::Conflict(format!(
                        "Bridge with id '{id}' already exists"
                    )));
                }
                Some(id) => Arc::from(id),
                None => Arc::from(uuid::Uuid::new_v4().to_string().as_str()),
            };
            let flags = BridgeFlags::parse(types)
                .map_err(|_| CoreError::BadRequest(UNABLE_TO_CREATE.into()))?;
            if let Some(owner) = owner {
                let charge = owner.take(super::quota::Kind::Bridges, 1)?;
                state.bridge_charges.insert(id.clone(), charge);
            }
            self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Stasis, name, vars);
            Ok(state
                .bridges
                .get(&id)
                .map(Bridge::json)
                .unwrap_or(Value::Null))
        })
    }

    /// Every bridge's snapshot.
    pub fn list_bridges(&self) -> Value {
        self.with_state(|state| {
            let mut bridges: Vec<&Bridge> = state.bridges.values().collect();
            bridges.sort_by(|a, b| a.creationtime.cmp(&b.creationtime).then(a.id.cmp(&b.id)));
            Value::Array(bridges.iter().map(|b| b.json()).collect())
        })
    }

    /// One bridge's snapshot.
    pub fn get_bridge(&self, id: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            state
                .bridges
                .get(id)
                .map(Bridge::json)
                .ok_or_else(|| CoreError::NotFound("Bridge not found".into()))
        })
    }

    /// `DELETE /bridges/{id}`.
    pub fn destroy_bridge(&self, id: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            self.destroy_bridge_locked(state, &id);
            Ok(())
        })
    }

    /// `POST /bridges/{id}/addChannel`: the bridge (404, 409), the channels (see
    /// [`Core::stasis_channels`]), then none may be recorded (409). A channel already in
    /// this bridge leaves and enters it again, as in Asterisk.
    pub fn add_to_bridge(&self, bridge: &str, channels: &[String]) -> Result<(), CoreError> {
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            let ids = Core::stasis_channels(state, channels)?;
            for id in &ids {
                self.check_not_recorded(state, id)?;
            }
            for id in ids {
                let here = state
                    .channels
                    .get(&id)
                    .is_some_and(|c| c.bridge.as_ref() == Some(&bridge));
                if here {
                    self.leave_bridge(state, &id);
                }
                self.join_bridge_locked(state, &bridge, &id);
            }
            Ok(())
        })
    }

    /// `POST /bridges/{id}/removeChannel`: the bridge, the channels (as for adding), then
    /// every channel must be in this bridge (422 `Channel not in this bridge`).
    pub fn remove_from_bridge(&self, bridge: &str, channels: &[String]) -> Result<(), CoreError> {
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            let ids = Core::stasis_channels(state, channels)?;
            for id in &ids {
                if state.channels.get(id).and_then(|c| c.bridge.as_ref()) != Some(&bridge) {
                    return Err(CoreError::Unprocessable(
                        "Channel not in this bridge".into(),
                    ));
                }
            }
            for id in ids {
                self.leave_bridge(state, &id);
            }
            Ok(())
        })
    }

    /// `GET /bridges/{id}/variable`, checked as Asterisk 23.4.1 does: no name (400
    /// `Variable name is required`), then the bridge (404, 409), then the variable (404
    /// `Provided variable was not found`). The name is taken as given (not trimmed).
    pub fn get_bridge_var(&self, id: &str, name: &str) -> Result<String, CoreError> {
        if name.is_empty() {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            state
                .bridges
                .get(&id)
                .and_then(|b| b.vars.get(name).cloned())
                .ok_or_else(|| CoreError::NotFound(VARIABLE_NOT_FOUND.into()))
        })
    }

    /// `GET /bridges/{id}/variables`, checked as Asterisk 23.4.1 does: no names (400 `At
    /// least one variable name is required`), then the bridge (404 `Provided bridge was
    /// not found`, for a bridge ARI did not create too), then each name in order, trimmed:
    /// a blank one is 400 `Variable names are required`, a function call (`LEN(abc)`) is
    /// read without a channel (an unknown function is `Unable to read provided function`,
    /// a 400 where Asterisk answers 500), an unset variable 404 `Provided variable was not
    /// found`.
    pub fn get_bridge_vars(
        &self,
        id: &str,
        names: &[String],
    ) -> Result<Map<String, Value>, CoreError> {
        if names.is_empty() {
            return Err(CoreError::BadRequest(
                "At least one variable name is required".into(),
            ));
        }
        self.with_state(|state| {
            let bridge = state
                .bridges
                .get(id)
                .filter(|b| b.class == BridgeClass::Stasis)
                .ok_or_else(|| CoreError::NotFound("Provided bridge was not found".into()))?;
            let mut values = Map::new();
            for name in names.iter().map(|n| n.trim()) {
                if name.is_empty() {
                    return Err(CoreError::BadRequest("Variable names are required".into()));
                }
                let value = if name.ends_with(')') {
                    self.read_function(None, name).ok_or_else(|| {
                        CoreError::BadRequest("Unable to read provided function".into())
                    })?
                } else {
                    bridge
                        .vars
                        .get(name)
                        .cloned()
                        .ok_or_else(|| CoreError::NotFound(VARIABLE_NOT_FOUND.into()))?
                };
                values.insert(name.to_string(), Value::String(value));
            }
            Ok(values)
        })
    }

    /// `POST /bridges/{id}/variable`: no name is 400 `Variable name is required`, then the
    /// bridge (404, 409); the name is trimmed. Bridges publish no event for this; reported
    /// variables show in later snapshots' `bridgevars`.
    pub fn set_bridge_var(&self, id: &str, var: &BridgeVar) -> Result<(), CoreError> {
        if var.name.is_empty() {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            let var = BridgeVar {
                name: var.name.trim().to_string(),
                ..var.clone()
            };
            if var.name.is_empty() {
                return Err(CoreError::BadRequest("Failed to execute function".into()));
            }
            if let Some(bridge) = state.bridges.get_mut(&id) {
                var.apply(bridge);
            }
            self.publish_bridge_state_locked(state, &id);
            Ok(())
        })
    }

    /// `POST /bridges/{id}/variables`: the bridge (404 `Provided bridge was not found`)
    /// before the variables (checked by the caller: all are set or none). Entries with an
    /// empty name are skipped, as in Asterisk.
    pub fn set_bridge_vars(&self, id: &str, vars: &[BridgeVar]) -> Result<(), CoreError> {
        self.with_state(|state| {
            let bridge = state
                .bridges
                .get_mut(id)
                .filter(|b| b.class == BridgeClass::Stasis)
                .ok_or_else(|| CoreError::NotFound("Provided bridge was not found".into()))?;
            for var in vars.iter().filter(|v| !v.name.trim().is_empty()) {
                var.apply(bridge);
            }
            if !vars.is_empty() {
                let id = bridge.id.clone();
                self.publish_bridge_state_locked(state, &id);
            }
            Ok(())
        })
    }

    /// `POST /bridges/{id}/videoSource/{channelId}`: the bridge (404, 409), the channel
    /// (400 unknown, 422 not in Stasis), then it must be in this bridge (422). The bridge
    /// switches to video mode `single` with that channel as its source (wari carries no
    /// video, but the bridge's state and events are Asterisk's).
    pub fn set_video_source(&self, bridge: &str, channel: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            let channel = state
                .channels
                .get(channel)
                .ok_or_else(|| CoreError::BadRequest("Channel not found".into()))?;
            if channel.stasis.is_none() {
                return Err(CoreError::Unprocessable(
                    "Channel not in Stasis application".into(),
                ));
            }
            if channel.bridge.as_ref() != Some(&bridge) {
                return Err(CoreError::Unprocessable(
                    "Channel not in this bridge".into(),
                ));
            }
            let source = channel.id.clone();
            if let Some(b) = state.bridges.get_mut(&bridge) {
                b.flags.video_mode = "single";
                b.video_source = Some(source);
            }
            self.publish_bridge_state_locked(state, &bridge);
            Ok(())
        })
    }

    /// `DELETE /bridges/{id}/videoSource`: the bridge (404, 409); back to video mode
    /// `talker` with no source. As in Asterisk, this publishes nothing by itself: the
    /// bridge's next publication announces the change.
    pub fn clear_video_source(&self, bridge: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            if let Some(b) = state.bridges.get_mut(&bridge) {
                b.flags.video_mode = "talker";
                b.video_source = None;
            }
            Ok(())
        })
    }
}
