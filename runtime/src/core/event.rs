//! ARI events as the core produces them: a type, a timestamp, the event's own fields, and
//! the objects it concerns (which decides which applications receive it).

use std::borrow::Cow;
use std::sync::Arc;

use serde::ser::{Serialize, Serializer};
use serde_json::{Map, Value};

use super::channels::snapshot::ChannelSnapshot;
use super::time;

/// What an event is about, for routing to subscribed applications.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    /// The channels it is about: apps subscribed to any of them receive it.
    pub channels: Vec<Arc<str>>,
    /// The bridges it is about: apps subscribed to any of them receive it.
    pub bridges: Vec<Arc<str>>,
    /// `tech/resource` of an endpoint.
    pub endpoint: Option<String>,
    /// The device name it is about (`Stasis:foo`), for device-state subscriptions.
    pub device: Option<String>,
    /// About no channel in particular but on the channels' topic (a global variable
    /// set): delivered to the applications subscribed to every channel.
    pub any_channel: bool,
    /// Delivered only to this application (StasisStart, StasisEnd, ApplicationReplaced,
    /// user events, ApplicationMoveFailed), regardless of subscriptions.
    pub only_app: Option<String>,
}

/// The value of one of an event's fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Field {
    /// A JSON value, written as is.
    Json(Value),
    /// A channel snapshot, written straight to text (shared: events published one after
    /// the other about an unchanged channel carry the same snapshot).
    Channel(Arc<ChannelSnapshot>),
}

impl Field {
    /// The field as a `Value`.
    pub fn to_value(&self) -> Value {
        match self {
            Field::Json(value) => value.clone(),
            Field::Channel(snapshot) => snapshot.to_value(),
        }
    }
}

impl Serialize for Field {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Json(value) => value.serialize(serializer),
            Field::Channel(snapshot) => snapshot.view().serialize(serializer),
        }
    }
}

/// One event, shared by every application that receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The ARI event type, e.g. `StasisStart`.
    pub kind: &'static str,
    /// When it happened, formatted as ARI writes it (`2024-01-01T12:00:00.000+0000`).
    pub timestamp: String,
    /// The event's own fields in order (everything but `type`, `timestamp`,
    /// `application`, `asterisk_id`).
    fields: Vec<(Cow<'static, str>, Field)>,
    /// Which applications receive it.
    pub scope: Scope,
}

/// The envelope's own keys.
const ENVELOPE: [&str; 4] = ["type", "timestamp", "asterisk_id", "application"];

impl Event {
    /// A new event stamped now.
    pub fn new(kind: &'static str, scope: Scope) -> Event {
        Event {
            kind,
            timestamp: time::now(),
            fields: Vec::with_capacity(4),
            scope,
        }
    }

    /// Adds a field.
    pub fn with(self, key: &'static str, value: Value) -> Event {
        self.with_field(Cow::Borrowed(key), Field::Json(value))
    }

    /// Adds each field of a JSON object, in its order, under any names.
    pub fn with_fields(self, fields: Map<String, Value>) -> Event {
        fields.into_iter().fold(self, |event, (key, value)| {
            event.with_field(Cow::Owned(key), Field::Json(value))
        })
    }

    /// Adds a channel snapshot field; `None` (the channel is gone) is `null`.
    pub fn with_channel(self, key: &'static str, snapshot: Option<ChannelSnapshot>) -> Event {
        self.with_shared_channel(key, snapshot.map(Arc::new))
    }

    /// [`Event::with_channel`] with a snapshot another event carries too.
    pub fn with_shared_channel(
        self,
        key: &'static str,
        snapshot: Option<Arc<ChannelSnapshot>>,
    ) -> Event {
        let field = match snapshot {
            Some(snapshot) => Field::Channel(snapshot),
            None => Field::Json(Value::Null),
        };
        self.with_field(Cow::Borrowed(key), field)
    }

    /// Adds a field; a key added again keeps its first place and takes the new value.
    fn with_field(mut self, key: Cow<'static, str>, field: Field) -> Event {
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = field,
            None => self.fields.push((key, field)),
        }
        self
    }

    /// A field's value.
    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, f)| f)
    }

    /// A field that is JSON (not a typed snapshot).
    pub fn json(&self, key: &str) -> Option<&Value> {
        match self.field(key)? {
            Field::Json(value) => Some(value),
            Field::Channel(_) => None,
        }
    }

    /// The id of the channel in the `channel` field.
    pub fn channel_id(&self) -> Option<&str> {
        match self.field("channel")? {
            Field::Channel(snapshot) => Some(&snapshot.id),
            Field::Json(value) => value.get("id").and_then(Value::as_str),
        }
    }

    /// The event's own fields as a JSON object.
    pub fn fields_json(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_value()))
            .collect()
    }

    /// [`Event::fields_json`] serialised compactly, written directly.
    pub fn fields_json_string(&self) -> String {
        let mut out = Vec::with_capacity(256);
        out.push(b'{');
        self.write_fields(&mut out, false);
        out.push(b'}');
        into_text(out)
    }

    /// The JSON message for one application, in ARI's envelope.
    pub fn to_json(&self, application: &str, asterisk_id: &str) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 4);
        object.insert("type".into(), Value::String(self.kind.to_string()));
        object.insert("timestamp".into(), Value::String(self.timestamp.clone()));
        for (k, v) in &self.fields {
            object.insert(k.to_string(), v.to_value());
        }
        object.insert("asterisk_id".into(), Value::String(asterisk_id.to_string()));
        object.insert("application".into(), Value::String(application.to_string()));
        Value::Object(object)
    }

    /// [`Event::to_json`] serialised compactly, written directly instead of building and
    /// cloning the envelope object first (every event is serialised once per application
    /// that receives it).
    pub fn to_json_string(&self, application: &str, asterisk_id: &str) -> String {
        if self.replaces_envelope() {
            // A field that replaces an envelope key keeps the envelope's place: leave
            // that to the object form.
            return serde_json::to_string(&self.to_json(application, asterisk_id))
                .unwrap_or_default();
        }
        // Most events carry a channel snapshot of about 450 bytes.
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"{\"type\":");
        write_string(&mut out, self.kind);
        out.extend_from_slice(b",\"timestamp\":");
        write_string(&mut out, &self.timestamp);
        self.write_fields(&mut out, true);
        out.extend_from_slice(b",\"asterisk_id\":");
        write_string(&mut out, asterisk_id);
        out.extend_from_slice(b",\"application\":");
        write_string(&mut out, application);
        out.push(b'}');
        into_text(out)
    }

    /// Whether a field has the name of one of the envelope's keys.
    fn replaces_envelope(&self) -> bool {
        self.fields.iter().any(|(k, _)| ENVELOPE.contains(&&**k))
    }

    /// Appends `"key":value` for each field, comma-separated (and after a comma first
    /// when `after_other` says entries precede them).
    fn write_fields(&self, out: &mut Vec<u8>, after_other: bool) {
        for (i, (key, value)) in self.fields.iter().enumerate() {
            if after_other || i > 0 {
                out.push(b',');
            }
            write_string(out, key);
            out.push(b':');
            match value {
                Field::Channel(snapshot) => snapshot.write_json(out),
                // Writing to a Vec cannot fail, and every map key is a string.
                Field::Json(value) => {
                    let _ = serde_json::to_writer(&mut *out, value);
                }
            }
        }
    }
}

/// Appends `s` as a JSON string.
fn write_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// The JSON text written to `out`.
fn into_text(out: Vec<u8>) -> String {
    // Only JSON text, which is UTF-8, was written.
    String::from_utf8(out).unwrap_or_default()
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
/// present; `dialstatus` is `""` when dialing starts. Snapshots are `None` for channels
/// that are gone (`null`).
pub fn dial(
    caller: Option<(&Arc<str>, Option<ChannelSnapshot>)>,
    peer: (&Arc<str>, Option<Arc<ChannelSnapshot>>),
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
    )
    .with("dialstatus", Value::String(status.to_string()))
    .with("forward", Value::String(String::new()))
    .with("dialstring", Value::String(dialstring.to_string()));
    if let Some((_, snapshot)) = caller {
        event = event.with_channel("caller", snapshot);
    }
    event.with_shared_channel("peer", peer.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::test_support::TestCore;
    use serde_json::json;

    /// A typed snapshot of a live channel, and the `Value` the channel gives for it.
    fn snapshot_and_value() -> (ChannelSnapshot, Value) {
        let test = TestCore::new(false);
        let id = test.stasis_channel("c\"1");
        let vars = ["V".to_string()];
        test.core.with_state(|state| {
            let channel = state.channels.get_mut(&id).expect("channel");
            channel.vars.insert("V".into(), "\u{1}x\\".into());
            (ChannelSnapshot::new(channel, &vars), channel.json(&vars))
        })
    }

    #[test]
    fn direct_serialisation_matches_the_envelope_object() {
        let id: Arc<str> = Arc::from("c1");
        let (snapshot, channel_value) = snapshot_and_value();
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
            Event::new("StasisStart", Scope::app("a"))
                .with("args", json!(["1"]))
                .with_channel("channel", Some(snapshot.clone())),
            dial(
                Some((&id, Some(snapshot.clone()))),
                (&id, None),
                "Test/x",
                "",
            ),
            Event::new("Odd", Scope::default())
                .with_channel("timestamp", Some(snapshot.clone()))
                .with_channel("peer", Some(snapshot.clone())),
        ];
        for event in events {
            assert_eq!(
                event.to_json_string("app \"q\"", "00:11"),
                serde_json::to_string(&event.to_json("app \"q\"", "00:11")).expect("json")
            );
            assert_eq!(
                event.fields_json_string(),
                serde_json::to_string(&event.fields_json()).expect("json")
            );
        }
        let typed = Event::new("ChannelCreated", Scope::channel(&id))
            .with_channel("channel", Some(snapshot));
        let message = typed.to_json("a", "00:11");
        assert_eq!(
            message["channel"], channel_value,
            "as Channel::json gives it"
        );
        assert_eq!(
            serde_json::to_string(&message["channel"]).expect("json"),
            serde_json::to_string(&channel_value).expect("json")
        );
        assert_eq!(typed.channel_id(), Some("c\"1"));
    }

    #[test]
    fn a_field_added_again_keeps_its_place() {
        let event = Event::new("X", Scope::default())
            .with("a", json!(1))
            .with("b", json!(2))
            .with("a", json!(3));
        assert_eq!(event.fields_json_string(), r#"{"a":3,"b":2}"#);
        let mut object = Map::new();
        object.insert("c".into(), json!("x"));
        object.insert("a".into(), json!(4));
        let event = event.with_fields(object);
        assert_eq!(event.fields_json_string(), r#"{"a":4,"b":2,"c":"x"}"#);
        assert_eq!(event.json("a"), Some(&json!(4)));
        assert_eq!(event.channel_id(), None);
    }
}
