//! Bridge operations: creating and destroying bridges, channels joining and leaving them,
//! with BridgeCreated/Destroyed and ChannelEntered/LeftBridge events; bridge variables.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::Local;
use serde_json::{Map, Value};

use super::bridge::{Bridge, BridgeClass, BridgeFlags};
use super::event::{Event, Scope};
use super::media::MediaTopic;
use super::stasis::SourceKind;
use super::{Core, CoreError, State};

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
            flags,
            class,
            channels: Vec::new(),
            creationtime: Local::now(),
            vars: BTreeMap::new(),
            reported: BTreeSet::new(),
        };
        for var in vars {
            var.apply(&mut bridge);
        }
        let snapshot = bridge.json();
        let mixing = bridge.flags.kind == super::bridge::BridgeType::Mixing;
        state.bridges.insert(id.clone(), bridge);
        self.media_bridge_added(&id, mixing);
        self.publish(
            state,
            Event::new("BridgeCreated", Scope::bridge(&id)).with("bridge", snapshot),
        );
    }

    /// `POST /bridges` and `POST /bridges/{id}`: a Stasis bridge.
    pub fn create_bridge(
        &self,
        id: Option<&str>,
        types: &str,
        name: &str,
    ) -> Result<Value, CoreError> {
        self.create_bridge_with_vars(id, types, name, &[])
    }

    /// A Stasis bridge that starts with variables (set before BridgeCreated, so reported
    /// ones are in its first snapshot).
    pub fn create_bridge_with_vars(
        &self,
        id: Option<&str>,
        types: &str,
        name: &str,
        vars: &[BridgeVar],
    ) -> Result<Value, CoreError> {
        check_var_names(vars)?;
        let flags = BridgeFlags::parse(types).map_err(CoreError::BadRequest)?;
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
            self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Stasis, name, vars);
            Ok(state
                .bridges
                .get(&id)
                .map(Bridge::json)
                .unwrap_or(Value::Null))
        })
    }

    /// A basic (dialplan) mixing bridge for a Dial() call.
    pub fn create_basic_bridge_locked(&self, state: &mut State) -> Arc<str> {
        let id: Arc<str> = Arc::from(uuid::Uuid::new_v4().to_string().as_str());
        let flags = BridgeFlags::parse("mixing").unwrap_or(BridgeFlags {
            kind: super::bridge::BridgeType::Mixing,
            media_through_core: false,
            video_mode: "talker",
        });
        self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Basic, "", &[]);
        id
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

    /// The checks before controlling a bridge over ARI: it exists (404) and was created by
    /// ARI (409).
    pub fn check_stasis_bridge(&self, id: &str) -> Result<(), CoreError> {
        self.with_state(|state| self.stasis_bridge(state, id).map(|_| ()))
    }

    pub(crate) fn stasis_bridge(&self, state: &State, id: &str) -> Result<Arc<str>, CoreError> {
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
    pub fn destroy_bridge_locked(&self, state: &mut State, id: &Arc<str>) {
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
        self.media_bridge_removed(state, id);
        self.publish(
            state,
            Event::new("BridgeDestroyed", Scope::bridge(id)).with("bridge", bridge.json()),
        );
        state.apps.object_destroyed(SourceKind::Bridge, id);
    }

    /// `DELETE /bridges/{id}`.
    pub fn destroy_bridge(&self, id: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            self.destroy_bridge_locked(state, &id);
            Ok(())
        })
    }

    /// Puts a channel into a bridge (leaving any other bridge first).
    pub fn join_bridge_locked(
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
                Scope {
                    channels: vec![channel_id.clone()],
                    bridges: vec![bridge_id.clone()],
                    ..Scope::default()
                },
            )
            .with("bridge", bridge_json)
            .with_channel("channel", snapshot),
        );
    }

    /// `POST /bridges/{id}/addChannel`: channels must exist (400) and be in Stasis (422).
    pub fn add_to_bridge(&self, bridge: &str, channels: &[String]) -> Result<(), CoreError> {
        let channels: Vec<&String> = channels.iter().filter(|c| !c.trim().is_empty()).collect();
        if channels.is_empty() {
            return Err(CoreError::BadRequest("Missing parameter channel".into()));
        }
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            for id in &channels {
                let channel = state
                    .channels
                    .get(id.as_str())
                    .ok_or_else(|| CoreError::BadRequest(format!("Channel not found: {id}")))?;
                if channel.stasis.is_none() {
                    return Err(CoreError::Unprocessable(format!(
                        "Channel not in Stasis application: {id}"
                    )));
                }
                self.check_not_recorded(state, &channel.id)?;
            }
            for id in channels {
                if let Some(channel) = state.channels.get(id.as_str()) {
                    let channel_id = channel.id.clone();
                    self.join_bridge_locked(state, &bridge, &channel_id);
                }
            }
            Ok(())
        })
    }

    /// `POST /bridges/{id}/removeChannel`: every channel must be in this bridge (422).
    pub fn remove_from_bridge(&self, bridge: &str, channels: &[String]) -> Result<(), CoreError> {
        let channels: Vec<&String> = channels.iter().filter(|c| !c.trim().is_empty()).collect();
        if channels.is_empty() {
            return Err(CoreError::BadRequest("Missing parameter channel".into()));
        }
        self.with_state(|state| {
            let bridge = self.stasis_bridge(state, bridge)?;
            let mut ids = Vec::new();
            for id in &channels {
                let channel = state
                    .channels
                    .get(id.as_str())
                    .ok_or_else(|| CoreError::BadRequest(format!("Channel not found: {id}")))?;
                if channel.bridge.as_ref() != Some(&bridge) {
                    return Err(CoreError::Unprocessable(format!(
                        "Channel not in this bridge: {id}"
                    )));
                }
                ids.push(channel.id.clone());
            }
            for id in ids {
                self.leave_bridge(state, &id);
            }
            Ok(())
        })
    }
    /// `GET /bridges/{id}/variable`: 404 for an unknown bridge or variable, 409 for a
    /// bridge ARI did not create.
    pub fn get_bridge_var(&self, id: &str, name: &str) -> Result<String, CoreError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            state
                .bridges
                .get(&id)
                .and_then(|b| b.vars.get(name).cloned())
                .ok_or_else(|| CoreError::NotFound("Variable not found".into()))
        })
    }

    /// `GET /bridges/{id}/variables`: every named variable; the first unknown one is a 404.
    /// A bridge ARI did not create is a 404 too, as in Asterisk.
    pub fn get_bridge_vars(
        &self,
        id: &str,
        names: &[String],
    ) -> Result<Map<String, Value>, CoreError> {
        let names: Vec<&str> = names.iter().map(|n| n.trim()).collect();
        if names.is_empty() || names.iter().any(|n| n.is_empty()) {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            let bridge = state
                .bridges
                .get(id)
                .filter(|b| b.class == BridgeClass::Stasis)
                .ok_or_else(|| CoreError::NotFound("Bridge not found".into()))?;
            names
                .iter()
                .map(|name| {
                    bridge
                        .vars
                        .get(*name)
                        .map(|v| (name.to_string(), Value::String(v.clone())))
                        .ok_or_else(|| CoreError::NotFound(format!("Variable not found: {name}")))
                })
                .collect()
        })
    }

    /// `POST /bridges/{id}/variable(s)`: sets (or, without a value, unsets) variables, all
    /// or none. Bridges publish no event for this; reported variables show in later
    /// snapshots' `bridgevars`.
    pub fn set_bridge_vars(&self, id: &str, vars: &[BridgeVar]) -> Result<(), CoreError> {
        if vars.is_empty() {
            return Err(CoreError::BadRequest("Missing parameter variables".into()));
        }
        check_var_names(vars)?;
        self.with_state(|state| {
            let id = self.stasis_bridge(state, id)?;
            if let Some(bridge) = state.bridges.get_mut(&id) {
                for var in vars {
                    var.apply(bridge);
                }
            }
            Ok(())
        })
    }

    /// `POST /bridges/{id}/videoSource/{channelId}`: the channel must exist (400), be in
    /// Stasis (422) and in this bridge (422). wari carries no video, so nothing changes.
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
            Ok(())
        })
    }
}

/// One bridge variable to set: `value` `None` unsets it; `report` `Some` changes whether it
/// shows in the snapshot's `bridgevars`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeVar {
    pub name: String,
    pub value: Option<String>,
    pub report: Option<bool>,
}

impl BridgeVar {
    fn apply(&self, bridge: &mut Bridge) {
        let name = self.name.trim();
        match &self.value {
            Some(value) => {
                bridge.vars.insert(name.to_string(), value.clone());
            }
            None => {
                bridge.vars.remove(name);
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

fn check_var_names(vars: &[BridgeVar]) -> Result<(), CoreError> {
    if vars.iter().any(|v| v.name.trim().is_empty()) {
        return Err(CoreError::BadRequest("Variable name is required".into()));
    }
    Ok(())
}
