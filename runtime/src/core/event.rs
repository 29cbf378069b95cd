//! ARI events as the core produces them: a type, a timestamp, the event's own fields, and
//! the objects it concerns (which decides which applications receive it).

use std::sync::Arc;

use serde_json::{Map, Value};

use super::time;

/// What an event is about, for routing to subscribed applications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub channels: Vec<Arc<str>>,
    pub bridges: Vec<Arc<str>>,
    /// `tech/resource` of an endpoint.
    pub endpoint: Option<String>,
    pub device: Option<String>,
    /// Delivered only to this application (StasisStart, StasisEnd, ApplicationReplaced,
    /// user events, ApplicationMoveFailed), regardless of subscriptions.
    pub only_app: Option<String>,
}

/// One event, shared by every application that receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The ARI event type, e.g. `StasisStart`.
    pub kind: &'static str,
    pub timestamp: String,
    /// The event's own fields (everything but `type`, `timestamp`, `application`,
    /// `asterisk_id`).
    pub fields: Map<String, Value>,
    pub scope: Scope,
}

impl Event {
    /// A new event stamped now.
    pub fn new(kind: &'static str, scope: Scope) -> Event {
        Event {
            kind,
            timestamp: time::now(),
            fields: Map::new(),
            scope,
        }
    }

    /// Adds a field.
    pub fn with(mut self, key: &str, value: Value) -> Event {
        self.fields.insert(key.to_string(), value);
        self
    }

    /// The JSON message for one application, in ARI's envelope.
    pub fn to_json(&self, application: &str, asterisk_id: &str) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 4);
        object.insert("type".into(), Value::String(self.kind.to_string()));
        object.insert("timestamp".into(), Value::String(self.timestamp.clone()));
        for (k, v) in &self.fields {
            object.insert(k.clone(), v.clone());
        }
        object.insert("asterisk_id".into(), Value::String(asterisk_id.to_string()));
        object.insert("application".into(), Value::String(application.to_string()));
        Value::Object(object)
    }
}

impl Scope {
    /// About one channel.
    pub fn channel(id: &Arc<str>) -> Scope {
        Scope {
            channels: vec![id.clone()],
            ..Scope::default()
        }
    }

    /// About one bridge.
    pub fn bridge(id: &Arc<str>) -> Scope {
        Scope {
            bridges: vec![id.clone()],
            ..Scope::default()
        }
    }

    /// For one application only.
    pub fn app(name: &str) -> Scope {
        Scope {
            only_app: Some(name.to_string()),
            ..Scope::default()
        }
    }
}
