//! Channel technologies: how a dial string like `Local/100@default` or `Test/alice` becomes
//! channels, and what happens at the far end when wari calls, answers, hangs up or sends DTMF
//! on them. A technology is a plug-in behind [`Technology`] and [`Driver`]; it sees the core
//! only through its [`Context`] (create channels, report what the far end did, declare
//! media), never `Core` or its state. SIP will be one more implementation.
//!
//! Adding a technology `Foo`:
//! 1. Make a folder `core/tech/foo/` with a `mod.rs` (more files beside it as it grows)
//!    and declare it here (`pub mod foo;`).
//! 2. Implement [`Technology`] for the technology: `name()` (`Foo`, as in dial strings),
//!    `request()` (create the channel for `Foo/resource` with [`Context::add_channel`],
//!    giving it a [`NewChannel`](super::NewChannel) with its [`Driver`] and its
//!    [`MediaLeg`]: rate, edge), and whichever capabilities it has: `start`/`stop` (its
//!    lifecycle: open sockets, register endpoints with [`Context::add_endpoint`], keep a
//!    [`Handle`]; a start error stops wari with its message), calls arriving from outside
//!    ([`Context::inbound`]), `channels_per_request`, `has_endpoints`, `takes_messages` +
//!    `send_message`, `dialable`, `contacts` (for the console). A technology made by an operation of its own (as
//!    external media makes `UnicastRTP`) implements [`MadeByOperation`] instead (its
//!    name and `make`: not dialable, no endpoints) and reads that operation's parameters
//!    with [`Request::param`].
//! 3. Implement [`Driver`] for one call: `call` (the far end starts ringing), and the
//!    events wari passes on (answered, hangup, DTMF, indications, `redirect`); report what
//!    the far end does with the context ([`Context::ringing`], [`Context::answered`],
//!    [`Context::hang_up`], [`Context::dtmf_received`]). Work that waits runs in a task
//!    holding a [`Handle`], which gives the context back for a moment ([`Handle::with`]).
//! 4. Register it: one line in [`builtin`] (or pass it in `CoreConfig::technologies`
//!    when its configuration comes from a file, as `Test` does in `host.rs`).
//!
//! No other core file changes: the core asks technologies, never compares their names.

pub(crate) mod audiosocket;
pub(crate) mod context;
mod external_channel;
pub(crate) mod local;
pub(crate) mod made_by_operation;
pub(crate) mod sip;
pub(crate) mod snoop;
pub(crate) mod test;
pub(crate) mod unicast_rtp;
pub(crate) mod websocket_media;

use std::any::Any;
use std::fmt;
use std::sync::Arc;

pub(crate) use context::{Context, Handle, Inbound};
pub(crate) use made_by_operation::MadeByOperation;

use super::channels::channel::CallerId;
use super::{ControlReceiver, CoreError};
use crate::media::external::Edge;
use crate::media::frame::Rate;
use crate::media::snoop::Direction;

/// What an ARI or dialplan request for a new channel carries.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The part of the dial string after `Tech/`.
    pub resource: String,
    /// Client-chosen id of the channel.
    pub id: Option<String>,
    /// Client-chosen id of the second half (Local channels).
    pub other_id: Option<String>,
    /// Variables the channel starts with (no ChannelVarset: nobody can hear it yet).
    pub vars: Vec<(String, String)>,
    /// What only this technology reads (external media's far end and format, a snoop's
    /// target): set by the core operation made for the technology, see [`Request::param`].
    pub params: Option<Arc<dyn Any + Send + Sync>>,
}

impl Request {
    /// The technology's own parameters, when the request carries them as a `T`.
    pub fn param<T: Any>(&self) -> Option<&T> {
        self.params.as_deref().and_then(|p| p.downcast_ref::<T>())
    }
}

/// What a technology's own operation failed with (its start): the technology's own error
/// type, boxed, so that every technology can keep its own and the core still reports it.
pub(crate) type TechError = Box<dyn std::error::Error + Send + Sync>;

/// Why a technology could not start.
#[derive(Debug, thiserror::Error)]
#[error("channel technology {technology} cannot start: {reason}")]
pub struct StartError {
    /// The technology's name.
    pub technology: &'static str,
    /// Its own error.
    #[source]
    pub reason: TechError,
}

/// Work a technology finishes as wari stops, awaited without the core's lock.
pub(crate) type StopWork = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// One contact of a technology's endpoints as the console shows it
/// ([`Technology::contacts`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactView {
    /// The technology (`PJSIP`).
    pub technology: &'static str,
    /// The AOR it belongs to.
    pub aor: String,
    /// The endpoints (resources) that list the AOR.
    pub endpoints: Vec<String>,
    /// The endpoint that registered it (`None` for a static contact).
    pub endpoint: Option<String>,
    /// The contact's URI.
    pub uri: String,
    /// Its status word, as in ARI's `ContactInfo` (`NonQualified`, `Reachable`,
    /// `Unreachable`, `Unknown`).
    pub status: &'static str,
    /// The last qualify's round trip in microseconds, when one answered.
    pub roundtrip_usec: Option<u64>,
    /// Seconds until the registration expires (`None` for a static contact).
    pub expires_in: Option<u32>,
    /// The registering phone's `User-Agent`.
    pub user_agent: Option<String>,
    /// Where it registered from.
    pub source: Option<String>,
    /// The transport it registered over (`udp`, `tcp`, `tls`).
    pub transport: Option<String>,
}

/// A channel technology.
pub trait Technology: Send + Sync + fmt::Debug {
    /// The name in dial strings (`Local`, `Test`), matched case-insensitively.
    fn name(&self) -> &'static str;

    /// Starts the technology when wari starts (before any request): a `reason` here stops
    /// wari's start-up with it.
    fn start(&self, _ctx: &mut Context<'_>) -> Result<(), TechError> {
        Ok(())
    }

    /// What a stop must finish before [`Technology::stop`], without the core's lock (it
    /// may wait on the network, bounded: SIP's unregistrations); `None` when nothing.
    fn stopping(&self) -> Option<StopWork> {
        None
    }

    /// Stops the technology when wari stops (under the core's lock: must not wait).
    fn stop(&self, _ctx: &mut Context<'_>) {}

    /// Whether dial strings (`POST /channels`, dialplan `Dial()`) may name it. Technologies
    /// made by their own operation only (external media, snoop) are not.
    fn dialable(&self) -> bool {
        true
    }

    /// Whether the technology has endpoints (`/endpoints/{tech}`, `endpoint:` event
    /// sources). Asterisk's Local channels have none.
    fn has_endpoints(&self) -> bool {
        true
    }

    /// How many channels one request makes, each charged to the requester's
    /// `max_channels` (a Local pair: 2).
    fn channels_per_request(&self) -> u32 {
        1
    }

    /// How long a channel of it made by its own operation (external media) may wait for
    /// its far end to answer; None: Asterisk's originate default, 30 s.
    fn answer_timeout(&self) -> Option<std::time::Duration> {
        None
    }

    /// Whether its endpoints take text messages and REFERs (else they are refused as for
    /// an unknown endpoint, 404, as Asterisk does for a technology without a message
    /// handler).
    fn takes_messages(&self) -> bool {
        false
    }

    /// Sends a text message to one of its endpoints (`endpoint` is `Tech/resource`, `uri`
    /// its message URI); called only when [`Technology::takes_messages`].
    fn send_message(
        &self,
        _ctx: &mut Context<'_>,
        _endpoint: &str,
        _uri: &str,
        _message: &super::endpoints::TextMessage,
    ) {
    }

    /// Reads a dialplan function the technology provides (`function` upper-cased, `args`
    /// the text between its parentheses, as `PJSIP_DIAL_CONTACTS(alice)`): its value, or
    /// `None` when it is not one of the technology's functions or cannot be read (the
    /// technology logs why). Runs under the core's lock: must not wait.
    fn read_function(&self, _function: &str, _args: &str) -> Option<String> {
        None
    }

    /// The contacts of its endpoints (SIP: registered and static AOR contacts) with their
    /// status, for the operator's console; none by default. Takes only the technology's
    /// own locks (never the core's).
    fn contacts(&self) -> Vec<ContactView> {
        Vec::new()
    }

    /// Creates the channel for `request` (and any companion channels), without calling it.
    /// Returns the id of the channel the requester gets and its control queue, for the
    /// runner the requester starts.
    fn request(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError>;
}

/// Indications a channel can be asked to give its far end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indication {
    Ringing,
    Progress,
    Hold,
    Unhold,
}

/// What a redirect did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirected {
    /// The technology cannot transfer: the request is accepted and nothing happens (as in
    /// Asterisk).
    Ignored,
    /// The far end follows it (it has left, or will leave, the call).
    Followed,
}

/// The technology side of one channel. Every method runs with the core's state locked and
/// must not block; long work is spawned with a [`Handle`].
pub trait Driver: Send + Sync + fmt::Debug {
    /// Starts the outbound call (the far end begins to ring).
    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError>;
    /// Our side of the channel answered.
    fn answered(&self, _ctx: &mut Context<'_>, _me: &Arc<str>) {}
    /// The channel is being hung up with `cause`.
    fn hangup(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _cause: u16) {}
    /// The hung-up channel is being removed (just before its ChannelDestroyed).
    fn destroyed(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _cause: u16) {}
    /// A DTMF digit is sent out on the channel (towards its far end).
    fn send_dtmf(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _digit: char, _duration_ms: u32) {}
    /// An indication is sent to the far end.
    fn indicate(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _indication: Indication) {}
    /// Whether a hold indication makes wari play music on hold (the default class) to the
    /// far end itself until the unhold, as chan_pjsip does without `moh_passthrough`.
    fn hold_plays_moh(&self) -> bool {
        false
    }
    /// The channel's connected line changed (a Local channel's other half takes it as its
    /// caller).
    fn connected_changed(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _connected: &CallerId) {}
    /// The far end is asked to transfer the call to `endpoint` (`Tech/resource`, same
    /// technology). By default it cannot.
    fn redirect(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _endpoint: &str) -> Redirected {
        Redirected::Ignored
    }
    /// The other channel a request for this one made (the other half of a Local pair).
    fn local_peer(&self) -> Option<Arc<str>> {
        None
    }
    /// What the channel's RTP stream has carried; `None` for a technology without RTP.
    fn rtp_statistics(&self) -> Option<crate::media::rtp_stats::RtpSnapshot> {
        None
    }
    /// The far end's user presses keys (`digits`; `w` waits), as if on a phone's keypad:
    /// only a simulated phone can be made to. False (the default) when it cannot.
    fn press_keys(&self, _ctx: &mut Context<'_>, _me: &Arc<str>, _digits: &str) -> bool {
        false
    }
}

/// The media leg a new channel gets, declared when it is created.
pub struct MediaLeg {
    /// The rate the leg's audio runs at.
    pub rate: Rate,
    /// Where the leg's audio goes to and comes from outside wari (external media's RTP
    /// socket); `None` for a leg whose far end is inside wari or silent.
    pub edge: Option<Box<dyn Edge>>,
    /// The leg listens to and/or speaks into another channel (a snoop channel).
    pub tap: Option<TapOn>,
}

impl Default for MediaLeg {
    fn default() -> Self {
        MediaLeg {
            rate: Rate::Narrow8k,
            edge: None,
            tap: None,
        }
    }
}

impl fmt::Debug for MediaLeg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaLeg")
            .field("rate", &self.rate)
            .field("edge", &self.edge.is_some())
            .field("tap", &self.tap)
            .finish()
    }
}

/// What a tapping leg does with its target's audio (see [`crate::media::snoop`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TapOn {
    pub target: Arc<str>,
    pub spy: Direction,
    pub whisper: Direction,
}

/// The technologies built into wari, one line each.
pub(crate) fn builtin() -> Vec<Arc<dyn Technology>> {
    vec![
        Arc::new(local::Local::default()),
        Arc::new(test::TestPhones::default()),
        Arc::new(unicast_rtp::UnicastRtpTech),
        Arc::new(snoop::Snoop::default()),
        Arc::new(websocket_media::WebSocketTech::default()),
        Arc::new(audiosocket::AudioSocketTech),
    ]
}
