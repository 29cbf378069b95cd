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

    /// [`Event::to_json`] serialised compactly, written directly instead of building and
    /// cloning the envelope object first (every event is serialised once per application
    /// that receives it).
    pub fn to_json_string(&self, application: &str, asterisk_id: &str) -> String {
        const ENVELOPE: [&str; 4] = ["type", "timestamp", "asterisk_id", "application"];
        if ENVELOPE.iter().any(|k| self.fields.contains_key(*k)) {
            // A field that replaces an envelope key keeps the envelope's place: leave
            // that to the object form.
            return serde_json::to_string(&self.to_json(application, asterisk_id))
                .unwrap_or_default();
        }
        let mut out = Vec::with_capacity(256);
        let string = |out: &mut Vec<u8>, s: &str| {
            // Writing to a Vec cannot fail.
            let _ = serde_json::to_writer(&mut *out, s);
        };
        out.extend_from_slice(b"{\"type\":");
        string(&mut out, self.kind);
        out.extend_from_slice(b",\"timestamp\":");
        string(&mut out, &self.timestamp);
        for (key, value) in &self.fields {
            out.push(b',');
            string(&mut out, key);
            out.push(b':');
            let _ = serde_json::to_writer(&mut out, value);
        }
        out.extend_from_slice(b",\"asterisk_id\":");
        string(&mut out, asterisk_id);
        out.extend_from_slice(b",\"application\":");
        string(&mut out, application);
        out.push(b'}');
        // Only JSON text was written.
        String::from_utf8(out).unwrap_or_default()
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

/// A `Dial` event: `peer` is being called, by `caller` when a channel dials it (Dial() in the
/// dialplan) or by nobody (`POST /channels/{id}/dial`). `forward` and `dialstring` are always
/// present; `dialstatus` is `""` when dialing starts.
pub fn dial(
    caller: Option<(&Arc<str>, serde_json::Value)>,
    peer: (&Arc<str>, serde_json::Value),
    dialstring: &str,
    status: &str,
) -> Event {
    let mut channels = vec![peer.0.clone()];
    if let Some((id, _)) = &caller {
        channels.insert(0, (*id).clone());
    }
    let mut event = Event::new(
        "Dial",
        Scope {
            channels,
            ..Scope::default()
        },
    );
    if let Some((_, snapshot)) = caller {
        event = event.with("caller", snapshot);
    }
    event
        .with("peer", peer.1)
        .with("forward", Value::String(String::new()))
        .with("dialstring", Value::String(dialstring.to_string()))
        .with("dialstatus", Value::String(status.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn direct_serialisation_matches_the_envelope_object() {
        let id: Arc<str> = Arc::from("c1");
        let events = [
            Event::new("StasisStart", Scope::app("a")),
            Event::new("ChannelVarset", Scope::channel(&id))
                .with("variable", json!("X\"y"))
                .with("value", json!("\u{1}\n"))
                .with(
                    "channel",
                    json!({"id": "c1", "nested": [1, 2.5, null, true]}),
                ),
            Event::new("Odd", Scope::default())
                .with("application", json!("sneaky"))
                .with("x", json!(1)),
        ];
        for event in events {
            assert_eq!(
                event.to_json_string("app \"q\"", "00:11"),
                serde_json::to_string(&event.to_json("app \"q\"", "00:11")).expect("json")
            );
        }
    }
}
