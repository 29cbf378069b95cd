//! Channels: one call leg each, with its state machine, identity, dialplan position and
//! variables, and the JSON snapshot ARI shows for it.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Local};
use serde_json::Value;
use tokio::sync::mpsc;

use super::variables::Variables;
use crate::core::tech::Driver;

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
    /// True when neither a name nor a number is set.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.number.is_empty()
    }

    /// Parses a caller id as Asterisk reads one: `"Name" <number>`, `Name <number>`,
    /// `<number>` (a missing `>` is forgiven); without brackets, a phone number (digits,
    /// `*`, `#`, `+`, once spaces, parentheses and dashes are dropped) is the number and
    /// anything else (or anything quoted) the name.
    pub fn parse(text: &str) -> CallerId {
        let text = text.trim();
        let unquoted = strip_quotes(text);
        let quoted = unquoted.len() != text.len();
        if let Some(open) = unquoted.rfind('<') {
            let rest = &unquoted[open + 1..];
            let number = rest.rfind('>').map_or(rest, |close| &rest[..close]);
            let name = strip_quotes(unquoted[..open].trim());
            return CallerId {
                name: name.to_string(),
                number: number.to_string(),
            };
        }
        let shrunk = shrink_phone_number(unquoted);
        if !quoted
            && !shrunk.is_empty()
            && shrunk
                .chars()
                .all(|c| c.is_ascii_digit() || "*#+".contains(c))
        {
            return CallerId {
                name: String::new(),
                number: shrunk,
            };
        }
        CallerId {
            name: unquoted.to_string(),
            number: String::new(),
        }
    }
}

/// `text` without one pair of surrounding double quotes.
fn strip_quotes(text: &str) -> &str {
    text.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(text)
}

/// A phone number without the characters people write for readability: spaces and
/// parentheses, dashes outside `[...]`, and dots other than a final one.
fn shrink_phone_number(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut bracketed = 0i32;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                bracketed += 1;
                out.push(c);
            }
            ']' => {
                bracketed -= 1;
                out.push(c);
            }
            '-' if bracketed > 0 => out.push(c),
            '-' => {}
            '.' if chars.peek().is_none() => out.push(c),
            '.' | '(' | ')' | ' ' => {}
            _ => out.push(c),
        }
    }
    out
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

/// What drives a channel at the top, which decides how its life ends (the events
/// Asterisk publishes when the channel is hung up).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Execution {
    /// Nothing yet (an outbound leg waiting to be answered, a Local `;2` not called yet).
    #[default]
    Idle,
    /// A dialplan run (a PBX): when it ends the channel gets a ChannelHangupRequest
    /// `{cause: 16, soft: true}` and its dialplan application is again the one it had
    /// before (none, or `AppDial2` for an originated channel).
    Dialplan {
        saved_app: String,
        saved_data: String,
    },
    /// The Stasis application run on an originated or created channel (not from the
    /// dialplan): when it ends STASISSTATUS is set and the dialplan application it replaced
    /// (`AppDial2` for an originate, none for a create) comes back.
    App {
        saved_app: String,
        saved_data: String,
    },
}

/// Who asked for a channel to be dialed, which decides the `Dial` events it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialOrigin {
    /// `POST /channels`: every step carries the dial string, and a call that fails
    /// before the answer reports its status (BUSY, CONGESTION, NOANSWER, ...).
    Originate,
    /// `POST /channels/{id}/dial`: only the first `Dial` carries the dial string, and a
    /// failed call reports nothing.
    Ari,
}

/// An outbound call in progress on a channel, until it is answered or ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialing {
    pub origin: DialOrigin,
    /// The resource part of the dial string (`200@default` of `Local/200@default`).
    pub dialstring: String,
    /// The first `Dial` (status `""`) has been published.
    pub announced: bool,
    /// The call was given up by its own timeout: nothing more is reported.
    pub abandoned: bool,
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
    /// Leave Stasis and continue in the dialplan at this place; `failed` when the
    /// application failed (STASISSTATUS=FAILED).
    Continue {
        context: String,
        exten: String,
        priority: u32,
        failed: bool,
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
    pub vars: Variables,
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
    /// A runner not started yet: a channel that entered Stasis while its call was placed
    /// has nothing to run until it is told something (hang up, continue, move).
    pub dormant: Option<Dormant>,
    /// For `/channels/create`: the resource to call on `/dial`, until dialed.
    pub pending_dial: Option<String>,
    /// `tech/resource` of the endpoint the channel belongs to, if any.
    pub endpoint: Option<String>,
    pub muted_in: bool,
    pub muted_out: bool,
    /// A hold was indicated to the channel (ARI hold, or the far end of another party of
    /// its bridge holding) and not taken back: Asterisk's channel hold state.
    pub hold_indicated: bool,
    /// What drives the channel at the top.
    pub execution: Execution,
    /// The outbound call being placed on it (originate or `/dial`), until answered.
    pub dialing: Option<Dialing>,
    /// The quota unit of the user whose request created it; given back when the channel
    /// is destroyed (dropped).
    pub charge: Option<crate::core::quota::Held>,
}

/// A channel's runner, waiting to be started by the first control message.
#[derive(Debug)]
pub struct Dormant {
    pub control: mpsc::UnboundedReceiver<Control>,
    pub start: crate::core::pbx::Start,
}

impl Channel {
    /// The ARI `Channel` object; `channelvars` lists the ari.conf variables (missing ones
    /// as `""`) and the variables flagged `report_events`.
    pub fn json(&self, channelvars: &[String]) -> Value {
        self.view(channelvars).to_value()
    }

    /// Appends the compact JSON of [`Channel::json`] to `out` without building a `Value`:
    /// byte for byte what `serde_json::to_vec(&self.json(channelvars))` gives. Listing
    /// channels writes this.
    pub fn write_json(&self, out: &mut Vec<u8>, channelvars: &[String]) {
        self.view(channelvars).write_json(out);
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
        // Asterisk 23.4.1 reads callerId=Alice as a name, and shrinks a bare phone number.
        assert_eq!(
            CallerId::parse("Alice"),
            CallerId {
                name: "Alice".into(),
                number: String::new()
            }
        );
        assert_eq!(CallerId::parse("+1 (555) 123-4567").number, "+15551234567");
        assert_eq!(CallerId::parse("\"4004\"").name, "4004");
        assert_eq!(CallerId::parse("Bob <42").number, "42");
    }

    #[test]
    fn written_json_is_the_serialised_snapshot() {
        let (control, _rx) = mpsc::unbounded_channel();
        let mut channel = Channel {
            id: Arc::from("1790000000.7"),
            name: "Test/\"odd\"\\name-0000000a".into(),
            state: ChannelState::Up,
            caller: CallerId::parse("\"Ann \u{e9}\" <1001>"),
            connected: CallerId::default(),
            accountcode: "acct\n1".into(),
            language: "en".into(),
            dialplan: DialplanPosition {
                context: "default".into(),
                exten: "s".into(),
                priority: -3,
                app_name: "Stasis".into(),
                app_data: "app,\u{1}x".into(),
            },
            creationtime: Local::now(),
            vars: [("B".into(), "2".into()), ("A".into(), "\t1".into())]
                .into_iter()
                .collect(),
            reported: BTreeSet::new(),
            hangup_cause: 0,
            hanging_up: false,
            stasis: None,
            bridge: None,
            driver: Arc::new(NoFarEnd),
            control,
            dormant: None,
            pending_dial: None,
            endpoint: None,
            muted_in: false,
            muted_out: false,
            hold_indicated: false,
            execution: Execution::Idle,
            dialing: None,
            charge: None,
        };
        let check = |channel: &Channel, vars: &[String]| {
            let mut written = Vec::new();
            channel.write_json(&mut written, vars);
            let expected = serde_json::to_vec(&channel.json(vars)).expect("serialise");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&expected)
            );
            let snapshot = crate::core::channels::snapshot::ChannelSnapshot::new(channel, vars);
            let mut taken = Vec::new();
            snapshot.write_json(&mut taken);
            assert_eq!(taken, written, "a snapshot writes what the channel does");
            assert_eq!(snapshot.to_value(), channel.json(vars));
        };
        check(&channel, &[]);
        let vars = ["A".into(), "MISSING".into(), "A".into()];
        let expected = serde_json::json!({
            "id": "1790000000.7",
            "name": "Test/\"odd\"\\name-0000000a",
            "state": "Up",
            "protocol_id": "",
            "caller": {"name": "Ann \u{e9}", "number": "1001"},
            "connected": {"name": "", "number": ""},
            "accountcode": "acct\n1",
            "dialplan": {"context": "default", "exten": "s", "priority": -3,
                "app_name": "Stasis", "app_data": "app,\u{1}x"},
            "creationtime": crate::core::time::ari_timestamp(&channel.creationtime),
            "language": "en",
            "channelvars": {"A": "\t1", "MISSING": ""},
        });
        assert_eq!(
            channel.json(&vars).to_string(),
            expected.to_string(),
            "the layout ARI defines, key order included"
        );
        check(&channel, &vars);
        channel.reported.insert("B".into());
        channel.reported.insert("A".into());
        check(&channel, &[]);
        check(&channel, &["A".into(), "C".into()]);
        assert_eq!(
            channel.json(&["A".into(), "C".into()])["channelvars"].to_string(),
            r#"{"A":"\t1","C":"","B":"2"}"#,
            "configured names first, then reported ones not configured"
        );
    }

    #[derive(Debug)]
    struct NoFarEnd;

    impl Driver for NoFarEnd {
        fn call(
            &self,
            _: &mut crate::core::tech::Context<'_>,
            _: &Arc<str>,
        ) -> Result<(), crate::core::CoreError> {
            Ok(())
        }
    }

    #[test]
    fn states_use_asterisk_strings() {
        assert_eq!(ChannelState::Reserved.as_str(), "Rsrvd");
        assert_eq!(ChannelState::DialingOffhook.as_str(), "Dialing Offhook");
        assert!(ChannelState::Ringing.blocks_control());
        assert!(!ChannelState::Ring.blocks_control());
    }
}
