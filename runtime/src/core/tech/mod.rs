//! Channel technologies: how a dial string like `Local/100@default` or `Test/alice` becomes
//! channels, and what happens at the far end when wari calls, answers, hangs up or sends DTMF
//! on them. A technology is an interface: SIP will be one more implementation.

pub mod local;
pub mod test;
pub mod unicast_rtp;

use std::fmt;
use std::sync::Arc;

use super::{ControlReceiver, Core, CoreError, State};

/// What an ARI or dialplan request for a new channel carries.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The part of the dial string after `Tech/`.
    pub resource: String,
    /// Client-chosen id of the channel.
    pub id: Option<String>,
    /// Client-chosen id of the second half (Local channels).
    pub other_id: Option<String>,
}

/// A channel technology.
pub trait Technology: Send + Sync + fmt::Debug {
    /// The name in dial strings (`Local`, `Test`), matched case-insensitively.
    fn name(&self) -> &'static str;

    /// Whether the technology has endpoints (`/endpoints/{tech}`, `endpoint:` event
    /// sources). Asterisk's Local channels have none.
    fn has_endpoints(&self) -> bool {
        true
    }

    /// Creates the channel for `request` (and any companion channels) in `state`, without
    /// calling it. Returns the id of the channel the requester gets and its control queue,
    /// for the runner the requester starts.
    fn request(
        &self,
        core: &Core,
        state: &mut State,
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

/// The technology side of one channel. Every method runs with the core's state locked and
/// must not block; long work is spawned.
pub trait Driver: Send + Sync + fmt::Debug {
    /// Starts the outbound call (the far end begins to ring).
    fn call(&self, core: &Core, state: &mut State, me: &Arc<str>) -> Result<(), CoreError>;
    /// Our side of the channel answered.
    fn answered(&self, _core: &Core, _state: &mut State, _me: &Arc<str>) {}
    /// The channel is being hung up with `cause`.
    fn hangup(&self, _core: &Core, _state: &mut State, _me: &Arc<str>, _cause: u16) {}
    /// The hung-up channel is being removed (just before its ChannelDestroyed).
    fn destroyed(&self, _core: &Core, _state: &mut State, _me: &Arc<str>, _cause: u16) {}
    /// A DTMF digit is sent out on the channel (towards its far end).
    fn send_dtmf(
        &self,
        _core: &Core,
        _state: &mut State,
        _me: &Arc<str>,
        _digit: char,
        _duration_ms: u32,
    ) {
    }
    /// An indication is sent to the far end.
    fn indicate(&self, _core: &Core, _state: &mut State, _me: &Arc<str>, _indication: Indication) {}
    /// The channel's connected line changed (a Local channel's other half takes it as its
    /// caller).
    fn connected_changed(
        &self,
        _core: &Core,
        _state: &mut State,
        _me: &Arc<str>,
        _connected: &super::channel::CallerId,
    ) {
    }
    /// The other half of a Local channel pair.
    fn local_peer(&self) -> Option<Arc<str>> {
        None
    }
    /// What the channel's RTP stream has carried; `None` for a technology without RTP.
    fn rtp_statistics(&self) -> Option<crate::media::rtp_stats::RtpSnapshot> {
        None
    }
}

/// The technologies built into wari.
pub fn builtin() -> Vec<Arc<dyn Technology>> {
    vec![
        Arc::new(local::Local::default()),
        Arc::new(test_phone::TestPhones::default()),
    ]
}
