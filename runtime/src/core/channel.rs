//! Channels: one call leg each, with its state machine, identity, dialplan position and
//! variables, and the JSON snapshot ARI shows for it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Local};
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use super::tech::Driver;
use super::time::ari_timestamp;

/// A channel's state, as ARI names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    Down,
    Reserved,
    OffHook,
    Dialing,
    /// Inbound, ringing at wari.
    Ring,
    /// Outbound, the far end is ringing.
    Ringing,
    Up,
    Busy,
    DialingOffhook,
    PreRing,
}

impl ChannelState {
    /// The string ARI emits.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelState::Down => "Down",
            ChannelState::Reserved => "Rsrvd",
            ChannelState::OffHook => "OffHook",
            ChannelState::Dialing => "Dialing",
            ChannelState::Ring => "Ring",
            ChannelState::Ringing => "Ringing",
            ChannelState::Up => "Up",
            ChannelState::Busy => "Busy",
            ChannelState::DialingOffhook => "Dialing Offhook",
            ChannelState::PreRing => "Pre-ring",
        }
    }

    /// States in which control operations that need media (answer, play, dtmf, ...) are
    /// refused with 412: un-answered outbound legs.
    pub fn blocks_control(self) -> bool {
        matches!(
            self,
            ChannelState::Down | ChannelState::Reserved | ChannelState::Ringing
        )
    }
}

/// Caller or connected-line identity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallerId {
    pub name: String,
    pub number: String,
}

impl CallerId {
    /// Parses `"Name" <number>`, `Name <number>`, `<number>` or a bare number.
    pub fn parse(text: &str) -> CallerId {
        let text = text.trim();
        if let Some(open) = text.rfind('<')
            && let Some(close) = text[open..].find('>')
        {
            let number = text[open + 1..open + close].trim().to_string();
            let name = text[..open].trim().trim_matches('"').trim().to_string();
            return CallerId { name, number };
        }
        let unquoted = text.trim_matches('"');
        if unquoted.len() != text.len() {
            return CallerId {
                name: unquoted.to_string(),
                number: String::new(),
            };
        }
        CallerId {
            name: String::new(),
            number: text.to_string(),
        }
    }

    fn json(&self) -> Value {
        json!({ "name": self.name, "number": self.number })
    }
}

/// Where a channel is in the dialplan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialplanPosition {
    pub context: String,
    pub exten: String,
    pub priority: i64,
    pub app_name: String,
    pub app_data: String,
}

/// A channel's membership of a Stasis application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StasisMembership {
    pub app: String,
    pub args: Vec<String>,
}

/// What the channel's runner task is asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// The channel was answered (its far end, for an outbound leg).
    Answered,
    /// The channel was hung up.
    Hangup,
    /// Leave Stasis and continue in the dialplan at this place.
    Continue {
        context: String,
        exten: String,
        priority: u32,
    },
    /// Leave this Stasis application for another.
    Move { app: String, args: Vec<String> },
    /// A Dial() leg this channel is waiting for changed (answered, failed).
    DialProgress,
}

/// One channel.
#[derive(Debug)]
pub struct Channel {
    pub id: Arc<str>,
    pub name: String,
    pub state: ChannelState,
    pub caller: CallerId,
    pub connected: CallerId,
    pub accountcode: String,
    pub language: String,
    pub dialplan: DialplanPosition,
    pub creationtime: DateTime<Local>,
    /// Channel variables.
    pub vars: BTreeMap<String, String>,
    /// Variables flagged `report_events`, shown in `channelvars`.
    pub reported: BTreeSet<String>,
    /// Q.850 cause once the channel is being hung up (0 before).
    pub hangup_cause: u16,
    pub hanging_up: bool,
    pub stasis: Option<StasisMembership>,
    /// The bridge the channel is in.
    pub bridge: Option<Arc<str>>,
    /// Technology side of the channel.
    pub driver: Arc<dyn Driver>,
    /// The channel's runner task.
    pub control: mpsc::UnboundedSender<Control>,
    /// For `/channels/create`: the resource to call on `/dial`, until dialed.
    pub pending_dial: Option<String>,
    /// `tech/resource` of the endpoint the channel belongs to, if any.
    pub endpoint: Option<String>,
    pub muted_in: bool,
    pub muted_out: bool,
    pub on_hold: bool,
}

impl Channel {
    /// The ARI `Channel` object; `channelvars` lists the ari.conf variables (missing ones
    /// as `""`) and the variables flagged `report_events`.
    pub fn json(&self, channelvars: &[String]) -> Value {
        let mut object = Map::with_capacity(12);
        object.insert("id".into(), json!(&*self.id));
        object.insert("name".into(), json!(self.name));
        object.insert("state".into(), json!(self.state.as_str()));
        object.insert("protocol_id".into(), json!(""));
        object.insert("caller".into(), self.caller.json());
        object.insert("connected".into(), self.connected.json());
        object.insert("accountcode".into(), json!(self.accountcode));
        object.insert(
            "dialplan".into(),
            json!({
                "context": self.dialplan.context,
                "exten": self.dialplan.exten,
                "priority": self.dialplan.priority,
                "app_name": self.dialplan.app_name,
                "app_data": self.dialplan.app_data,
            }),
        );
        object.insert(
            "creationtime".into(),
            json!(ari_timestamp(&self.creationtime)),
        );
        object.insert("language".into(), json!(self.language));
        if !channelvars.is_empty() || !self.reported.is_empty() {
            let mut vars = Map::new();
            for name in channelvars.iter().chain(self.reported.iter()) {
                vars.insert(
                    name.clone(),
                    json!(self.vars.get(name).cloned().unwrap_or_default()),
                );
            }
            object.insert("channelvars".into(), Value::Object(vars));
        }
        Value::Object(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caller_id_forms() {
        assert_eq!(
            CallerId::parse("\"Alice A\" <1001>"),
            CallerId {
                name: "Alice A".into(),
                number: "1001".into()
            }
        );
        assert_eq!(CallerId::parse("Bob <2002>").name, "Bob");
        assert_eq!(CallerId::parse("<3003>").number, "3003");
        assert_eq!(CallerId::parse("4004").number, "4004");
        assert_eq!(CallerId::parse("\"Only Name\"").name, "Only Name");
    }

    #[test]
    fn states_use_asterisk_strings() {
        assert_eq!(ChannelState::Reserved.as_str(), "Rsrvd");
        assert_eq!(ChannelState::DialingOffhook.as_str(), "Dialing Offhook");
        assert!(ChannelState::Ringing.blocks_control());
        assert!(!ChannelState::Ring.blocks_control());
    }
}
