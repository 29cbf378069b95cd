//! What an operator watches: every channel and bridge of the core at one instant (the
//! operator console's live view, `crate::console`), observers of every event whatever its
//! scope, and a simulated phone's keypad.
//!
//! The view is the core's, not an application's: channels in no Stasis application are
//! in it too. Observers ([`AppHost::watch`]) see every event the core publishes, with no
//! subscription; while one is registered every event is built, so observers are for
//! operators' screens, not for call handling. An observer that cannot take an event is
//! removed, never waited for.

use std::sync::Arc;

use serde_json::{Value, json};

use super::app_host::AppHost;
use super::control::ControlApi;
use super::stasis::{EventSink, SinkKind};
use super::time::ari_timestamp;
use super::{CoreError, State};

/// One channel as the live view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveChannel {
    /// The channel's id.
    pub id: String,
    /// Its name, e.g. `Test/alice-00000001`.
    pub name: String,
    /// Its state as ARI writes it (`Ring`, `Up` ...).
    pub state: &'static str,
    /// The technology: the name up to its first `/` (`PJSIP`, `Local`, `Test` ...).
    pub technology: String,
    /// Caller id name and number.
    pub caller: (String, String),
    /// Connected line name and number.
    pub connected: (String, String),
    /// The Stasis application it is in, if any.
    pub app: Option<String>,
    /// The kind of handler that application has (`None`: no handler attached now).
    pub app_kind: Option<SinkKind>,
    /// The bridge it is in, if any.
    pub bridge: Option<String>,
    /// When it was created, as ARI writes timestamps.
    pub created: String,
    /// When it was created, in milliseconds since the Unix epoch (for durations).
    pub created_ms: i64,
}

impl LiveChannel {
    /// The row as JSON for the console.
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "technology": self.technology,
            "caller": { "name": self.caller.0, "number": self.caller.1 },
            "connected": { "name": self.connected.0, "number": self.connected.1 },
            "app": self.app,
            "app_kind": self.app_kind.map(kind_name),
            "bridge": self.bridge,
            "created": self.created,
            "created_ms": self.created_ms,
        })
    }
}

/// One bridge as the live view shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveBridge {
    /// The bridge's id.
    pub id: String,
    /// Its name (may be empty).
    pub name: String,
    /// `mixing` or `holding`.
    pub kind: &'static str,
    /// The bridging technology snapshots show (`simple_bridge`, `softmix` ...).
    pub technology: &'static str,
    /// Member channel ids, in joining order.
    pub members: Vec<String>,
    /// When it was created, in milliseconds since the Unix epoch.
    pub created_ms: i64,
}

impl LiveBridge {
    /// The row as JSON for the console.
    pub fn json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "bridge_type": self.kind,
            "technology": self.technology,
            "members": self.members,
            "created_ms": self.created_ms,
        })
    }
}

/// Every channel and bridge at one instant, each list sorted by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveView {
    /// The channels.
    pub channels: Vec<LiveChannel>,
    /// The bridges.
    pub bridges: Vec<LiveBridge>,
}

/// The console's word for a kind of application handler.
pub fn kind_name(kind: SinkKind) -> &'static str {
    match kind {
        SinkKind::WebSocket => "websocket",
        SinkKind::Wasm => "wasm",
    }
}

fn live_view(state: &State) -> LiveView {
    let mut channels: Vec<LiveChannel> = state
        .channels
        .values()
        .map(|c| {
            let app = c.stasis.as_ref().map(|s| s.app.clone());
            let app_kind = app.as_deref().and_then(|a| state.apps.handler_kind(a));
            LiveChannel {
                id: c.id.to_string(),
                name: c.name.clone(),
                state: c.state.as_str(),
                technology: c.name.split('/').next().unwrap_or_default().to_string(),
                caller: (c.caller.name.clone(), c.caller.number.clone()),
                connected: (c.connected.name.clone(), c.connected.number.clone()),
                app,
                app_kind,
                bridge: c.bridge.as_ref().map(|b| b.to_string()),
                created: ari_timestamp(&c.creationtime),
                created_ms: c.creationtime.timestamp_millis(),
            }
        })
        .collect();
    channels.sort_by(|a, b| a.id.cmp(&b.id));
    let mut bridges: Vec<LiveBridge> = state
        .bridges
        .values()
        .map(|b| LiveBridge {
            id: b.id.to_string(),
            name: b.name.clone(),
            kind: b.flags.kind.as_str(),
            technology: b.technology,
            members: b.channels.iter().map(|c| c.to_string()).collect(),
            created_ms: b.creationtime.timestamp_millis(),
        })
        .collect();
    bridges.sort_by(|a, b| a.id.cmp(&b.id));
    LiveView { channels, bridges }
}

impl ControlApi<'_> {
    /// Every channel (in an application or not) and bridge now.
    pub fn live_view(&self) -> LiveView {
        live_view(&self.lock_state())
    }

    /// The far end of channel `id` presses `digits` (`0-9*#A-D`, `w` waits 500 ms), as a
    /// phone's user would: 404 for no such channel, 400 for other keys or a channel whose
    /// technology cannot be made to press keys (only `Test` phones can).
    pub fn press_keys(&self, id: &str, digits: &str) -> Result<(), CoreError> {
        if digits.is_empty()
            || digits.len() > 64
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'w'))
        {
            return Err(CoreError::BadRequest(
                "Keys must be 1 to 64 of 0-9 * # A-D w".into(),
            ));
        }
        self.with_state(|state| {
            let channel = state
                .channels
                .get(id)
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
            let (driver, me) = (channel.driver.clone(), channel.id.clone());
            let mut ctx = super::tech::Context::new(self, state);
            if driver.press_keys(&mut ctx, &me, digits) {
                Ok(())
            } else {
                Err(CoreError::BadRequest(
                    "Only a simulated (Test) phone can be made to press keys".into(),
                ))
            }
        })
    }
}

impl AppHost<'_> {
    /// Registers an observer of every event the core publishes from now on, and returns
    /// the live view at the same instant (taken under the same hold of the lock, so the
    /// view and the events after it fit together). The observer is removed by
    /// [`AppHost::unwatch`] or when it fails to take an event.
    pub fn watch(&self, sink: Arc<dyn EventSink>) -> LiveView {
        self.with_state(|state| {
            state.apps.watch(sink);
            live_view(state)
        })
    }

    /// Removes an observer.
    pub fn unwatch(&self, sink_id: u64) {
        self.with_state(|state| state.apps.unwatch(sink_id));
    }
}
