//! The data an app receives and passes: snapshots of channels, bridges, playbacks and
//! recordings, the events of a session, and call-control errors.

use std::fmt;

/// Caller or connected-line identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct CallerId {
    /// Display name; may be empty.
    pub name: String,
    /// Number; may be empty.
    pub number: String,
}

impl CallerId {
    /// A caller id with this name and number.
    pub fn new(name: impl Into<String>, number: impl Into<String>) -> Self {
        CallerId {
            name: name.into(),
            number: number.into(),
        }
    }
}

/// A snapshot of a channel, as the ARI `Channel` model carries it, taken when the event was
/// sent or the call was made. It does not change afterwards: ask again with
/// [`call::get_channel`](crate::call::get_channel) for the current state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Channel {
    /// Unique id: what the call-control functions take.
    pub id: String,
    /// Asterisk-style name, e.g. `Test/alice-00000001`.
    pub name: String,
    /// ARI state string: `Down`, `Ring`, `Ringing`, `Up`, ...
    pub state: String,
    /// The calling party.
    pub caller: CallerId,
    /// The connected party.
    pub connected: CallerId,
    /// Language code, e.g. `en`.
    pub language: String,
    /// Dialplan context the channel was in.
    pub context: String,
    /// Dialplan extension the channel was at.
    pub exten: String,
    /// Dialplan priority the channel was at.
    pub priority: i64,
}

impl Channel {
    /// A channel with this id, empty name and caller ids, state `Up`, language `en` and
    /// priority 1: handy to build events in tests. Set the other fields as needed.
    pub fn new(id: impl Into<String>) -> Self {
        let id = id.into();
        Channel {
            name: format!("Test/{id}"),
            id,
            state: "Up".to_owned(),
            language: "en".to_owned(),
            priority: 1,
            ..Channel::default()
        }
    }

    /// Whether the channel was answered (state `Up`) when the snapshot was taken.
    pub fn is_up(&self) -> bool {
        self.state == "Up"
    }
}

/// A snapshot of a bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Bridge {
    /// Unique id: what the bridge functions take.
    pub id: String,
    /// `mixing` or `holding`.
    pub bridge_type: String,
    /// Ids of the member channels.
    pub channels: Vec<String>,
}

impl Bridge {
    /// A bridge with this id and type and no members.
    pub fn new(id: impl Into<String>, bridge_type: impl Into<String>) -> Self {
        Bridge {
            id: id.into(),
            bridge_type: bridge_type.into(),
            channels: Vec::new(),
        }
    }
}

/// A playback of media to a channel or bridge.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Playback {
    /// Unique id, as returned by [`call::play`](crate::call::play).
    pub id: String,
    /// What is played, e.g. `sound:hello-world`.
    pub media_uri: String,
    /// `channel:<id>` or `bridge:<id>`.
    pub target_uri: String,
    /// `queued`, `playing`, `continuing`, `done`, `failed`.
    pub state: String,
}

impl Playback {
    /// A playback with this id of `media_uri` to the channel `channel_id`, in state `done`.
    pub fn new(id: impl Into<String>, media_uri: impl Into<String>, channel_id: &str) -> Self {
        Playback {
            id: id.into(),
            media_uri: media_uri.into(),
            target_uri: format!("channel:{channel_id}"),
            state: "done".to_owned(),
        }
    }
}

/// A live recording.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Recording {
    /// Name of the stored recording, as returned by [`call::record_channel`](crate::call::record_channel).
    pub name: String,
    /// File format, e.g. `wav`.
    pub format: String,
    /// `channel:<id>` or `bridge:<id>`.
    pub target_uri: String,
    /// `queued`, `recording`, `paused`, `done`, `failed`, `canceled`.
    pub state: String,
    /// Why the recording failed, when it did.
    pub cause: Option<String>,
}

impl Recording {
    /// A recording `name` in `format` of the channel `channel_id`, in state `done`.
    pub fn new(name: impl Into<String>, format: impl Into<String>, channel_id: &str) -> Self {
        Recording {
            name: name.into(),
            format: format.into(),
            target_uri: format!("channel:{channel_id}"),
            state: "done".to_owned(),
            cause: None,
        }
    }
}

/// The id of a timer set with [`timers::set_timer`](crate::timers::set_timer); the same id
/// comes back in [`Event::Timer`] when it fires.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timer {}", self.0)
    }
}

/// What happened in the app's session. Events arrive one at a time, in order.
///
/// New kinds of ARI events reach an app as [`Event::Other`] until the contract gives them a
/// variant of their own, so match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A channel entered the app: the call that started the session, or a channel the
    /// session originated once it answered.
    StasisStart {
        /// The channel.
        channel: Channel,
        /// The arguments after the app name in `Stasis(app,arg1,...)`, or the originate's
        /// `args`.
        args: Vec<String>,
    },
    /// A channel left the app (hung up, continued in the dialplan, moved to another app).
    StasisEnd {
        /// The channel.
        channel: Channel,
    },
    /// A DTMF digit was received on a channel.
    Dtmf {
        /// The channel.
        channel: Channel,
        /// One of `0`-`9`, `*`, `#`, `A`-`D`.
        digit: char,
        /// How long the key was pressed.
        duration_ms: u32,
    },
    /// A channel's state changed (e.g. to `Up` when it answered).
    StateChanged {
        /// The channel, in its new state.
        channel: Channel,
    },
    /// Someone asked a channel to hang up (the far end, or an ARI client).
    HangupRequested {
        /// The channel.
        channel: Channel,
        /// Q.850 cause, when known.
        cause: Option<u32>,
    },
    /// A playback started.
    PlaybackStarted {
        /// The playback.
        playback: Playback,
    },
    /// A playback finished (completed, stopped or failed: see its `state`).
    PlaybackFinished {
        /// The playback.
        playback: Playback,
    },
    /// A recording started.
    RecordingStarted {
        /// The recording.
        recording: Recording,
    },
    /// A recording finished.
    RecordingFinished {
        /// The recording.
        recording: Recording,
    },
    /// A recording failed.
    RecordingFailed {
        /// The recording, with its `cause`.
        recording: Recording,
    },
    /// A channel entered a bridge.
    EnteredBridge {
        /// The bridge, with its members after the change.
        bridge: Bridge,
        /// The channel.
        channel: Channel,
    },
    /// A channel left a bridge.
    LeftBridge {
        /// The bridge, with its members after the change.
        bridge: Bridge,
        /// The channel.
        channel: Channel,
    },
    /// A user event (`POST /events/user/{name}`, `UserEvent()` in the dialplan).
    UserEvent {
        /// The event name.
        name: String,
        /// The event's variables as a JSON object.
        variables_json: String,
    },
    /// A timer set with [`timers::set_timer`](crate::timers::set_timer) fired.
    Timer(TimerId),
    /// Any other ARI event, exactly as the events WebSocket would carry it.
    Other {
        /// The ARI event type, e.g. `ChannelVarset`.
        event_type: String,
        /// The whole event as JSON.
        json: String,
    },
}

impl Event {
    /// The channel the event is about, if it is about one.
    pub fn channel(&self) -> Option<&Channel> {
        match self {
            Event::StasisStart { channel, .. }
            | Event::StasisEnd { channel }
            | Event::Dtmf { channel, .. }
            | Event::StateChanged { channel }
            | Event::HangupRequested { channel, .. }
            | Event::EnteredBridge { channel, .. }
            | Event::LeftBridge { channel, .. } => Some(channel),
            _ => None,
        }
    }

    /// The ARI name of the event type, e.g. `StasisStart`, `ChannelDtmfReceived`; `Timer` for
    /// timers.
    pub fn event_type(&self) -> &str {
        match self {
            Event::StasisStart { .. } => "StasisStart",
            Event::StasisEnd { .. } => "StasisEnd",
            Event::Dtmf { .. } => "ChannelDtmfReceived",
            Event::StateChanged { .. } => "ChannelStateChange",
            Event::HangupRequested { .. } => "ChannelHangupRequest",
            Event::PlaybackStarted { .. } => "PlaybackStarted",
            Event::PlaybackFinished { .. } => "PlaybackFinished",
            Event::RecordingStarted { .. } => "RecordingStarted",
            Event::RecordingFinished { .. } => "RecordingFinished",
            Event::RecordingFailed { .. } => "RecordingFailed",
            Event::EnteredBridge { .. } => "ChannelEnteredBridge",
            Event::LeftBridge { .. } => "ChannelLeftBridge",
            Event::UserEvent { .. } => "ChannelUserevent",
            Event::Timer(_) => "Timer",
            Event::Other { event_type, .. } => event_type,
        }
    }
}

/// Why a call-control operation failed: the ARI status code and message, as an ARI client
/// would get them (e.g. 404 for an unknown channel, 403 for a channel of another session,
/// 409 for a channel in the wrong state, 501 for media operations not implemented yet).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Error {
    /// HTTP status code.
    pub status: u16,
    /// Human-readable message.
    pub message: String,
}

impl Error {
    /// An error with this status and message.
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Error {
            status,
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for Error {}

/// The result of a call-control operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a call is hung up (ARI's hangup reasons).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HangupReason {
    /// Normal clearing (Q.850 cause 16).
    #[default]
    Normal,
    /// User busy (17).
    Busy,
    /// Congestion (34).
    Congestion,
    /// No answer (19).
    NoAnswer,
    /// Timed out (18, no user responding).
    Timeout,
    /// Call rejected (21).
    Rejected,
    /// Unallocated number (1).
    Unallocated,
    /// Normal, unspecified (31).
    NormalUnspecified,
    /// Number incomplete (28).
    NumberIncomplete,
    /// Codec mismatch (58, bearer capability not available).
    CodecMismatch,
    /// Interworking (127).
    Interworking,
    /// Failure (38, network out of order).
    Failure,
    /// Answered elsewhere (26).
    AnsweredElsewhere,
}

impl HangupReason {
    /// The reason as ARI spells it in `DELETE /channels/{id}?reason=`.
    pub fn as_str(self) -> &'static str {
        match self {
            HangupReason::Normal => "normal",
            HangupReason::Busy => "busy",
            HangupReason::Congestion => "congestion",
            HangupReason::NoAnswer => "no_answer",
            HangupReason::Timeout => "timeout",
            HangupReason::Rejected => "rejected",
            HangupReason::Unallocated => "unallocated",
            HangupReason::NormalUnspecified => "normal_unspecified",
            HangupReason::NumberIncomplete => "number_incomplete",
            HangupReason::CodecMismatch => "codec_mismatch",
            HangupReason::Interworking => "interworking",
            HangupReason::Failure => "failure",
            HangupReason::AnsweredElsewhere => "answered_elsewhere",
        }
    }
}

impl fmt::Display for HangupReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way audio is muted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Both directions.
    #[default]
    Both,
    /// Audio from the channel (what the caller says).
    In,
    /// Audio to the channel (what the caller hears).
    Out,
}

impl Direction {
    /// The direction as ARI spells it (`both`, `in`, `out`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Both => "both",
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
