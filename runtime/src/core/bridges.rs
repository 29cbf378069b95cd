//! Bridge operations: creating and destroying bridges, channels joining and leaving them,
//! with BridgeCreated/Destroyed and ChannelEntered/LeftBridge events.

use std::sync::Arc;

use chrono::Local;
use serde_json::Value;

use super::bridge::{Bridge, BridgeClass, BridgeFlags};
use super::event::{Event, Scope};
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
    ) {
        let bridge = Bridge {
            id: id.clone(),
            name: name.to_string(),
            flags,
            class,
            channels: Vec::new(),
            creationtime: Local::now(),
        };
        let snapshot = bridge.json();
        state.bridges.insert(id.clone(), bridge);
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
            self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Stasis, name);
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
        self.new_bridge_locked(state, id.clone(), flags, BridgeClass::Basic, "");
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

    fn stasis_bridge(&self, state: &State, id: &str) -> Result<Arc<str>, CoreError> {
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
        if let Some(app) = state.app_of_channel(channel_id) {
            state.apps.subscribe(&app, SourceKind::Bridge, bridge_id);
        }
        let bridge_json = state
            .bridges
            .get(bridge_id)
            .map(Bridge::json)
            .unwrap_or(Value::Null);
        let channel_json = self.channel_json(state, channel_id);
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
            .with("channel", channel_json),
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
}
