//! The technology context: the narrow view of the core a channel technology gets (as
//! wasi-http's `WasiHttpCtxView` is a host's view for one purpose). With it a technology
//! creates channels (for requests, and for calls that arrive from outside, which run the
//! dialplan), reports what the far end does (ringing, progress, answer, hangup with a cause,
//! DTMF), declares a channel's media leg, and reads and sets what it needs of its own
//! channels. Nothing else of the core is reachable from a technology: it never sees `Core`,
//! the core's state or the media engine's commands.
//!
//! A context lives while the core's state is locked (a driver method, a request). Work that
//! waits (a phone answering after a while) holds a [`Handle`] and takes a context again for
//! each step.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use serde_json::{Map, Value, json};

use super::super::channels::channel::{CallerId, ChannelState, DialplanPosition, Dormant};
use super::super::event::{Event, Scope};
use super::super::pbx::Start;
use super::super::presence::ContactChange;
use super::super::{ControlReceiver, Core, CoreError, Endpoint, EndpointState, NewChannel, State};
use crate::core::channels::hangup::HangupBy;

/// A technology's view of the core, for the time the core's state is locked.
pub struct Context<'a> {
    core: &'a Core,
    state: &'a mut State,
}

/// A call that arrived from outside: its channel runs the dialplan at `context`/`exten`
/// (and enters Stasis when the dialplan says so).
#[derive(Debug)]
pub struct Inbound {
    /// The channel as the technology describes it (id, name, driver, endpoint, caller,
    /// variables, media leg); it starts in state Ring at `context`/`exten`, priority 1.
    pub channel: NewChannel,
    pub context: String,
    pub exten: String,
}

impl<'a> Context<'a> {
    /// The context of `core`, whose state `state` is (locked).
    pub(in crate::core) fn new(core: &'a Core, state: &'a mut State) -> Context<'a> {
        Context { core, state }
    }

    /// A handle for tasks that come back later (it does not keep the core alive).
    pub fn handle(&self) -> Handle {
        Handle(self.core.weak())
    }

    // ---- Channels

    /// A fresh channel id.
    pub fn new_channel_id(&self) -> String {
        self.core.new_channel_id()
    }

    /// Refuses a client-chosen id that is too long, empty or already used.
    pub fn check_new_id(&self, id: Option<&str>) -> Result<(), CoreError> {
        self.core.check_new_id(self.state, id)
    }

    /// Creates a channel (ChannelCreated, its media leg as declared). The requester starts
    /// its runner with the returned control queue.
    pub fn add_channel(
        &mut self,
        spec: NewChannel,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        self.core.add_channel(self.state, spec)
    }

    /// A call arrived from outside: its channel is created and runs the dialplan at once.
    pub fn inbound(&mut self, call: Inbound) -> Result<Arc<str>, CoreError> {
        let (id, rx, start) = self.add_inbound(call)?;
        self.core.spawn_runner(id.clone(), rx, start);
        Ok(id)
    }

    /// [`Context::inbound`] whose dialplan run waits until [`Context::wake`] (or until the
    /// channel is told anything, a hangup included): a Local channel's second half, which
    /// runs once its first half is called.
    pub fn inbound_held(&mut self, call: Inbound) -> Result<Arc<str>, CoreError> {
        let (id, control, start) = self.add_inbound(call)?;
        if let Some(channel) = self.state.channels.get_mut(&id) {
            channel.dormant = Some(Dormant { control, start });
        }
        Ok(id)
    }

    fn add_inbound(
        &mut self,
        call: Inbound,
    ) -> Result<(Arc<str>, ControlReceiver, Start), CoreError> {
        let Inbound {
            channel,
            context,
            exten,
        } = call;
        let spec = NewChannel {
            state: ChannelState::Ring,
            dialplan: DialplanPosition {
                context: context.clone(),
                exten: exten.clone(),
                priority: 1,
                ..DialplanPosition::default()
            },
            ..channel
        };
        let (id, rx) = self.core.add_channel(self.state, spec)?;
        tracing::debug!(channel = %id, %context, %exten, "inbound call");
        Ok((
            id,
            rx,
            Start::Dialplan {
                context,
                exten,
                priority: 1,
            },
        ))
    }

    /// Starts the dialplan run of a channel made by [`Context::inbound_held`]; false when
    /// there was none waiting.
    pub fn wake(&mut self, id: &Arc<str>) -> bool {
        let Some(dormant) = self
            .state
            .channels
            .get_mut(id)
            .and_then(|c| c.dormant.take())
        else {
            return false;
        };
        self.core
            .spawn_runner(id.clone(), dormant.control, dormant.start);
        true
    }

    /// Hangs `follower` up (as its far end would) once `leader` is destroyed (a snoop
    /// channel follows its target). A channel follows one leader: following another
    /// stops following the first.
    pub fn follow(&mut self, follower: &Arc<str>, leader: &Arc<str>) {
        self.state.followers.add(follower, leader);
    }

    /// Whether the channel exists.
    pub fn exists(&self, id: &str) -> bool {
        self.state.channels.contains_key(id)
    }

    /// A channel's variables, last set first.
    pub fn vars(&self, id: &str) -> Vec<(String, String)> {
        self.state
            .channels
            .get(id)
            .map(|c| {
                c.vars
                    .iter()
                    .rev()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A channel's caller and connected line.
    pub fn identities(&self, id: &str) -> Option<(CallerId, CallerId)> {
        self.state
            .channels
            .get(id)
            .map(|c| (c.caller.clone(), c.connected.clone()))
    }

    /// Sets a channel variable (ChannelVarset).
    pub fn set_var(&mut self, id: &Arc<str>, name: &str, value: &str) {
        self.core
            .set_var_locked(self.state, id, name, Some(value), None);
    }

    /// Sets a channel's caller and connected line, announcing each that changed.
    pub fn set_identities(&mut self, id: &Arc<str>, caller: CallerId, connected: CallerId) {
        self.core
            .set_identities_locked(self.state, id, caller, connected);
    }

    /// Sets a channel's caller (ChannelCallerId when it changed).
    pub fn set_caller(&mut self, id: &Arc<str>, caller: CallerId) {
        self.core.set_caller_locked(self.state, id, caller);
    }

    // ---- What the far end does

    /// The far end is ringing.
    pub fn ringing(&mut self, id: &Arc<str>) {
        self.core.far_end_ringing(self.state, id);
    }

    /// The far end reports progress (early media).
    pub fn progress(&mut self, id: &Arc<str>) {
        self.core.dial_progress(self.state, id, "PROGRESS", None);
    }

    /// The far end answered.
    pub fn answered(&mut self, id: &Arc<str>) {
        self.core.far_end_answered(self.state, id);
    }

    /// The far end holds the call (`held`: ChannelHold) or takes it back (ChannelUnhold),
    /// as a SIP phone's re-INVITE with `sendonly`/`inactive`, then `sendrecv`, says. The
    /// other parties of the channel's mixing bridge are indicated the hold (or unhold), as
    /// `POST /channels/{id}/hold` would (no event of theirs).
    pub fn far_end_hold(&mut self, id: &Arc<str>, held: bool) {
        if !self.state.channels.contains_key(id) {
            return;
        }
        let kind = if held { "ChannelHold" } else { "ChannelUnhold" };
        let snapshot = self.core.channel_snapshot(self.state, id);
        let event = Event::new(kind, Scope::channel(id)).with_channel("channel", snapshot);
        self.core.publish(self.state, event);
        self.core.pass_hold_through_bridge(self.state, id, held);
    }

    /// The far end hung up (or refused the call) with `cause`.
    pub fn hang_up(&mut self, id: &Arc<str>, cause: u16) {
        self.core
            .hangup_locked(self.state, id, cause, HangupBy::FarEnd);
    }

    /// The channel goes away without a hangup request and with its cause unknown (a
    /// channel that never ran).
    pub fn discard(&mut self, id: &Arc<str>) {
        self.core.hangup_locked(self.state, id, 0, HangupBy::Silent);
    }

    /// A DTMF digit arrived from the far end (ChannelDtmfReceived).
    pub fn dtmf_received(&mut self, id: &Arc<str>, digit: char, duration_ms: u32) {
        self.core.dtmf_received(self.state, id, digit, duration_ms);
    }

    /// A text message arrived from one of the technology's endpoints (TextMessageReceived
    /// for the applications subscribed to it); nothing when the endpoint is unknown.
    pub fn message_received(&mut self, endpoint: &str, message: Map<String, Value>) {
        let Some(snapshot) = self.state.endpoints.get(endpoint).map(Endpoint::json) else {
            return;
        };
        let event = Event::new(
            "TextMessageReceived",
            Scope {
                endpoint: Some(endpoint.to_string()),
                ..Scope::default()
            },
        )
        .with("message", Value::Object(message))
        .with("endpoint", snapshot);
        self.core.publish(self.state, event);
    }

    /// Makes one of the technology's endpoints known before any channel uses it (online).
    pub fn add_endpoint(&mut self, technology: &str, resource: &str) {
        self.add_endpoint_in_state(technology, resource, EndpointState::Online);
    }

    /// Makes one of the technology's endpoints known in `state` (a SIP endpoint starts
    /// offline until a contact registers), without an event; an endpoint already known
    /// keeps its state.
    pub fn add_endpoint_in_state(
        &mut self,
        technology: &str,
        resource: &str,
        state: EndpointState,
    ) {
        self.state
            .endpoints
            .entry(format!("{technology}/{resource}"))
            .or_insert_with(|| Endpoint {
                technology: technology.to_string(),
                resource: resource.to_string(),
                state,
                channel_ids: Vec::new(),
            });
    }

    /// Sets an endpoint's (`Tech/resource`) state. When it changed, applications
    /// subscribed to the endpoint receive EndpointStateChange, then PeerStatusChange
    /// (`Reachable` when online, `Unreachable` when offline), as Asterisk's PJSIP sends
    /// them; returns whether it changed (false for an unknown endpoint).
    pub fn set_endpoint_state(&mut self, endpoint: &str, state: EndpointState) -> bool {
        self.core.set_endpoint_state(self.state, endpoint, state)
    }

    /// The state of an endpoint (`Tech/resource`), if it is known.
    pub fn endpoint_state(&self, endpoint: &str) -> Option<EndpointState> {
        self.state.endpoints.get(endpoint).map(|e| e.state)
    }

    /// One of an endpoint's contacts changed (created, removed, qualified): applications
    /// subscribed to the endpoint receive ContactStatusChange.
    pub fn contact_changed(&mut self, endpoint: &str, change: &ContactChange) {
        self.core.contact_changed(self.state, endpoint, change);
    }

    // ---- Media

    /// Whether the media engine runs.
    pub fn has_media(&self) -> bool {
        self.core.media().is_ok()
    }

    /// Two channels hear each other (the halves of a Local pair).
    pub fn pair_media(&mut self, a: &Arc<str>, b: &Arc<str>) {
        self.core.media_legs_paired(a, b);
    }

    /// Plays a digit out on the channel's leg (its peer receives it once the tone has been
    /// played). False when media is not running: the technology delivers it itself.
    pub fn send_dtmf(&mut self, id: &Arc<str>, digit: char, duration_ms: u32) -> bool {
        self.core.media_send_dtmf(id, digit, duration_ms)
    }

    /// The far end presses a key, in band: after `quiet_ms` the leg reads the digit's tone
    /// for `duration_ms`, then the channel receives the digit. False when media is not
    /// running.
    pub fn far_end_key(
        &mut self,
        id: &Arc<str>,
        digit: char,
        duration_ms: u32,
        quiet_ms: u32,
    ) -> bool {
        self.core
            .media_far_end_key(id, digit, duration_ms, quiet_ms)
    }
}

/// A technology's way back to the core from a task: [`Handle::with`] gives it a context.
#[derive(Debug, Clone)]
pub struct Handle(Weak<Core>);

impl Handle {
    /// Runs `f` with a context (the core's state locked); `None` when the core is gone.
    pub fn with<R>(&self, f: impl FnOnce(&mut Context<'_>) -> R) -> Option<R> {
        let core = self.0.upgrade()?;
        Some(core.with_state(|state| f(&mut Context::new(&core, state))))
    }

    /// The far end hung `id` up with `cause` ([`Context::hang_up`]); nothing when the
    /// channel or the core is gone already.
    pub fn hang_up(&self, id: &Arc<str>, cause: u16) {
        self.with(|ctx| {
            if ctx.exists(id) {
                ctx.hang_up(id, cause);
            }
        });
    }
}

/// Channels hung up when another is destroyed (see [`Context::follow`]), inside the
/// core's state.
#[derive(Debug, Default)]
pub(crate) struct Followers {
    /// Leader → its followers.
    of: HashMap<Arc<str>, Vec<Arc<str>>>,
    /// Follower → its leader.
    leader: HashMap<Arc<str>, Arc<str>>,
}

impl Followers {
    /// `follower` now follows `leader` (only: a channel follows one leader).
    fn add(&mut self, follower: &Arc<str>, leader: &Arc<str>) {
        if let Some(before) = self.leader.get(follower).cloned()
            && let Some(followers) = self.of.get_mut(&before)
        {
            followers.retain(|f| f != follower);
            if followers.is_empty() {
                self.of.remove(&before);
            }
        }
        self.of
            .entry(leader.clone())
            .or_default()
            .push(follower.clone());
        self.leader.insert(follower.clone(), leader.clone());
    }

    /// Whether nothing follows anything.
    pub(crate) fn is_empty(&self) -> bool {
        self.of.is_empty() && self.leader.is_empty()
    }

    /// `id` is being destroyed: it follows nothing any more; its followers, returned, no
    /// longer follow it.
    fn destroyed(&mut self, id: &str) -> Vec<Arc<str>> {
        if self.is_empty() {
            // The usual case: no lookup at all.
            return Vec::new();
        }
        if let Some(leader) = self.leader.remove(id)
            && let Some(followers) = self.of.get_mut(&leader)
        {
            followers.retain(|f| &**f != id);
            if followers.is_empty() {
                self.of.remove(&leader);
            }
        }
        let followers = self.of.remove(id).unwrap_or_default();
        for follower in &followers {
            self.leader.remove(follower);
        }
        followers
    }
}

/// A channel is being destroyed: the channels following it are hung up, as by their far
/// end.
pub(in crate::core) fn channel_destroyed(core: &Core, state: &mut State, id: &Arc<str>) {
    for follower in state.followers.destroyed(id) {
        tracing::debug!(channel = %follower, leader = %id, "followed channel gone: hung up");
        core.hangup_locked(
            state,
            &follower,
            super::super::cause::NORMAL_CLEARING,
            HangupBy::FarEnd,
        );
    }
}

/// A JSON message object, as TextMessageReceived carries it.
pub(crate) fn message_json(
    from: &str,
    to: &str,
    body: &str,
    variables: &Map<String, Value>,
) -> Map<String, Value> {
    let mut message = Map::with_capacity(4);
    message.insert("from".into(), json!(from));
    message.insert("to".into(), json!(to));
    message.insert("body".into(), json!(body));
    message.insert("variables".into(), json!(variables));
    message
}

#[cfg(test)]
mod tests {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    use super::super::{Driver, Technology};
    use super::*;
    use crate::config::Problems;
    use crate::config::conf_file::parse_str;
    use crate::core::dialplan::Dialplan;
    use crate::core::test_support::{APP, Collect};
    use crate::core::{CoreConfig, SystemInfo};

    /// A technology whose calls arrive from outside: a doorbell rings into the dialplan.
    #[derive(Debug, Default)]
    struct Doorbell {
        handle: OnceLock<Handle>,
    }

    #[derive(Debug)]
    struct Visitor;

    impl Driver for Visitor {
        fn call(&self, _: &mut Context<'_>, _: &Arc<str>) -> Result<(), CoreError> {
            Err(CoreError::Conflict("A visitor cannot be called".into()))
        }
    }

    impl Doorbell {
        /// Someone rings: a call into `context`/`exten`.
        fn ring(&self, who: &str, context: &str, exten: &str) -> Result<Arc<str>, CoreError> {
            let handle = self.handle.get().expect("started");
            handle
                .with(|ctx| {
                    ctx.inbound(Inbound {
                        channel: NewChannel {
                            name: format!("Doorbell/{who}"),
                            driver: Arc::new(Visitor),
                            caller: CallerId {
                                name: String::new(),
                                number: who.to_string(),
                            },
                            endpoint: Some(format!("Doorbell/{who}")),
                            ..NewChannel::default()
                        },
                        context: context.into(),
                        exten: exten.into(),
                    })
                })
                .expect("core alive")
        }
    }

    impl Technology for Doorbell {
        fn name(&self) -> &'static str {
            "Doorbell"
        }

        fn start(&self, ctx: &mut Context<'_>) -> Result<(), super::super::TechError> {
            self.handle
                .set(ctx.handle())
                .map_err(|_| "started twice".into())
        }

        fn request(
            &self,
            _: &mut Context<'_>,
            _: &Request,
        ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
            Err(CoreError::BadRequest("Doorbells only ring in".into()))
        }
    }

    use super::super::Request;

    #[test]
    fn a_follower_destroyed_first_no_longer_follows() {
        let mut followers = Followers::default();
        let (target, a, b): (Arc<str>, Arc<str>, Arc<str>) = ("t".into(), "a".into(), "b".into());
        followers.add(&a, &target);
        followers.add(&b, &target);
        assert!(followers.destroyed(&a).is_empty(), "a leads nothing");
        assert_eq!(followers.destroyed(&target), vec![b.clone()]);
        assert!(followers.is_empty());
        // Nothing is left to hang up for a later channel with a reused id.
        assert!(followers.destroyed(&target).is_empty());
    }

    #[test]
    fn following_another_leader_stops_following_the_first() {
        let mut followers = Followers::default();
        let (first, second, a): (Arc<str>, Arc<str>, Arc<str>) =
            ("first".into(), "second".into(), "a".into());
        followers.add(&a, &first);
        followers.add(&a, &second);
        assert!(followers.destroyed(&first).is_empty(), "a left first");
        assert_eq!(followers.destroyed(&second), vec![a.clone()]);
        assert!(followers.is_empty());
    }

    #[tokio::test]
    async fn an_inbound_call_runs_the_context_and_extension_its_technology_names() {
        let mut problems = Problems::default();
        let conf = parse_str(
            std::path::Path::new("extensions.conf"),
            "[door]\nexten => 100,1,Set(SEEN=${CALLERID(num)})\n same => n,Stasis(tested,rang)\n\
             exten => 200,1,Stasis(tested,wrong)\n",
            &mut problems,
        );
        let dialplan = Dialplan::from_conf(&conf, &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        let doorbell = Arc::new(Doorbell::default());
        let core = Core::new(
            SystemInfo::default(),
            CoreConfig {
                dialplan,
                technologies: vec![doorbell.clone()],
                ..CoreConfig::default()
            },
        );
        let events = Arc::new(Collect::default());
        core.with_state(|state| state.apps.register(APP, events.clone(), false));
        core.start_technologies().expect("technologies start");

        let id = doorbell.ring("555", "door", "100").expect("inbound call");
        let deadline = Instant::now() + Duration::from_secs(5);
        let started = loop {
            if let Some(started) = events.of_kind("StasisStart").pop() {
                break started;
            }
            assert!(Instant::now() < deadline, "no StasisStart");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let channel = &started["channel"];
        assert_eq!(channel["id"], &*id);
        assert_eq!(channel["name"], "Doorbell/555");
        assert_eq!(channel["state"], "Ring");
        assert_eq!(channel["dialplan"]["context"], "door");
        assert_eq!(channel["dialplan"]["exten"], "100");
        assert_eq!(channel["dialplan"]["priority"], 2);
        assert_eq!(started["args"], serde_json::json!(["rang"]));
        assert_eq!(
            core.control()
                .get_var(&id, "SEEN")
                .expect("set by the dialplan"),
            "555"
        );
        // A second start is the technology's own error, named.
        let error = core.start_technologies().expect_err("started twice");
        assert_eq!(
            error.to_string(),
            "channel technology Doorbell cannot start: started twice"
        );
    }
}
