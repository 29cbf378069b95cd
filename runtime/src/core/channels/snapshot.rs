//! The ARI `Channel` object, in one layout for every use: [`ChannelView`] borrows a live
//! channel (for `GET /channels`, written straight to text) and [`ChannelSnapshot`] owns a
//! copy taken when an event is published. Both serialise through the one [`Serialize`]
//! impl of [`ChannelView`], compactly to text or to a `serde_json::Value`.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Local};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::channel::{CallerId, Channel, ChannelState, DialplanPosition};
use super::variables::Variables;
use crate::core::time::ari_timestamp;

/// A channel's ARI fields, borrowed. `V` is its `channelvars` (absent when `None`).
#[derive(Debug, Clone, Copy)]
pub struct ChannelView<'a, V> {
    pub id: &'a str,
    pub name: &'a str,
    pub state: ChannelState,
    pub caller: &'a CallerId,
    pub connected: &'a CallerId,
    pub accountcode: &'a str,
    pub dialplan: &'a DialplanPosition,
    pub creationtime: &'a DateTime<Local>,
    pub language: &'a str,
    pub channelvars: Option<V>,
}

/// The `channelvars` of a live channel: the configured names (missing variables as `""`),
/// then those flagged `report_events`; a name both configured and reported appears once,
/// at its first place.
#[derive(Debug, Clone, Copy)]
pub struct LiveVars<'a> {
    configured: &'a [String],
    reported: &'a BTreeSet<String>,
    values: &'a Variables,
}

impl<'a> LiveVars<'a> {
    /// The names and values, in order, each name once.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let configured = self.configured;
        let values = self.values;
        let first_of_configured = configured
            .iter()
            .enumerate()
            .filter(move |(i, name)| !configured[..*i].contains(name))
            .map(|(_, name)| name);
        let only_reported = self
            .reported
            .iter()
            .filter(move |n| !configured.contains(n));
        first_of_configured
            .chain(only_reported)
            .map(move |name| (name.as_str(), values.get(name).map_or("", String::as_str)))
    }
}

impl Serialize for LiveVars<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// The `channelvars` a snapshot took.
#[derive(Debug, Clone, Copy)]
pub struct TakenVars<'a>(&'a [(String, String)]);

impl Serialize for TakenVars<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// `{"name":...,"number":...}`.
struct CallerJson<'a>(&'a CallerId);

impl Serialize for CallerJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("name", &self.0.name)?;
        map.serialize_entry("number", &self.0.number)?;
        map.end()
    }
}

/// `{"context":...,"exten":...,"priority":...,"app_name":...,"app_data":...}`.
struct DialplanJson<'a>(&'a DialplanPosition);

impl Serialize for DialplanJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let d = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("context", &d.context)?;
        map.serialize_entry("exten", &d.exten)?;
        map.serialize_entry("priority", &d.priority)?;
        map.serialize_entry("app_name", &d.app_name)?;
        map.serialize_entry("app_data", &d.app_data)?;
        map.end()
    }
}

impl<V: Serialize> Serialize for ChannelView<'_, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map =
            serializer.serialize_map(Some(11 + usize::from(self.channelvars.is_some())))?;
        map.serialize_entry("id", self.id)?;
        map.serialize_entry("name", self.name)?;
        map.serialize_entry("state", self.state.as_str())?;
        map.serialize_entry("protocol_id", "")?;
        map.serialize_entry("caller", &CallerJson(self.caller))?;
        map.serialize_entry("connected", &CallerJson(self.connected))?;
        map.serialize_entry("accountcode", self.accountcode)?;
        map.serialize_entry("dialplan", &DialplanJson(self.dialplan))?;
        map.serialize_entry("creationtime", &ari_timestamp(self.creationtime))?;
        map.serialize_entry("language", self.language)?;
        if let Some(vars) = &self.channelvars {
            map.serialize_entry("channelvars", vars)?;
        }
        map.end()
    }
}

impl<V: Serialize> ChannelView<'_, V> {
    /// Appends the compact JSON to `out`.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Writing to a Vec cannot fail, and every key is a string.
        let _ = serde_json::to_writer(out, self);
    }

    /// The JSON as a `Value`.
    pub fn to_value(&self) -> Value {
        // Every key is a string, so this cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl Channel {
    /// The channel's ARI fields, borrowed; `channelvars` lists the ari.conf variables.
    pub fn view<'a>(&'a self, channelvars: &'a [String]) -> ChannelView<'a, LiveVars<'a>> {
        let vars = (!channelvars.is_empty() || !self.reported.is_empty()).then_some(LiveVars {
            configured: channelvars,
            reported: &self.reported,
            values: &self.vars,
        });
        ChannelView {
            id: &self.id,
            name: &self.name,
            state: self.state,
            caller: &self.caller,
            connected: &self.connected,
            accountcode: &self.accountcode,
            dialplan: &self.dialplan,
            creationtime: &self.creationtime,
            language: &self.language,
            channelvars: vars,
        }
    }
}

/// A channel's ARI fields as they were when an event was published. Cheaper than a `Value`
/// (a copy of a few strings), and written straight to text for each receiving application.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSnapshot {
    pub id: Arc<str>,
    pub name: String,
    pub state: ChannelState,
    pub caller: CallerId,
    pub connected: CallerId,
    pub accountcode: String,
    pub dialplan: DialplanPosition,
    pub creationtime: DateTime<Local>,
    pub language: String,
    /// Names and values, `None` when the object has no `channelvars` key.
    pub channelvars: Option<Vec<(String, String)>>,
    /// The compact JSON, written once: consecutive events about an unchanged channel share
    /// one snapshot, and an event goes to every application that receives it.
    text: JsonText,
}

/// The text of a snapshot once written; not part of what the snapshot is (equal
/// snapshots are equal whether or not their text was written yet).
#[derive(Debug, Clone, Default)]
struct JsonText(OnceLock<Box<str>>);

impl PartialEq for JsonText {
    fn eq(&self, _: &JsonText) -> bool {
        true
    }
}

impl ChannelSnapshot {
    /// A snapshot of `channel`; `channelvars` lists the ari.conf variables.
    pub fn new(channel: &Channel, channelvars: &[String]) -> ChannelSnapshot {
        let view = channel.view(channelvars);
        ChannelSnapshot {
            id: channel.id.clone(),
            name: channel.name.clone(),
            state: channel.state,
            caller: channel.caller.clone(),
            connected: channel.connected.clone(),
            accountcode: channel.accountcode.clone(),
            dialplan: channel.dialplan.clone(),
            creationtime: channel.creationtime,
            language: channel.language.clone(),
            channelvars: view.channelvars.map(|vars| {
                vars.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            }),
            text: JsonText::default(),
        }
    }

    /// The compact JSON, as [`ChannelSnapshot::write_json`] writes it, written the first
    /// time it is asked for.
    pub fn json_text(&self) -> &str {
        self.text.0.get_or_init(|| {
            let mut out = Vec::with_capacity(512);
            self.view().write_json(&mut out);
            // Only JSON text, which is UTF-8, was written.
            String::from_utf8(out).unwrap_or_default().into_boxed_str()
        })
    }

    /// The snapshot's fields, borrowed.
    pub fn view(&self) -> ChannelView<'_, TakenVars<'_>> {
        ChannelView {
            id: &self.id,
            name: &self.name,
            state: self.state,
            caller: &self.caller,
            connected: &self.connected,
            accountcode: &self.accountcode,
            dialplan: &self.dialplan,
            creationtime: &self.creationtime,
            language: &self.language,
            channelvars: self.channelvars.as_deref().map(TakenVars),
        }
    }

    /// Appends the compact JSON to `out`, as [`Channel::write_json`] writes it.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.json_text().as_bytes());
    }

    /// The JSON as a `Value`, as [`Channel::json`] builds it.
    pub fn to_value(&self) -> Value {
        self.view().to_value()
    }
}
