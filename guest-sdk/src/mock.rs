//! A mock host for native unit tests (not built for wasm32).
//!
//! On native targets every function of [`call`](crate::call), [`ari`](crate::ari),
//! [`timers`](crate::timers), [`log`](crate::log) and [`kv`](crate::kv) goes to the
//! thread's current [`MockHost`], which records the call, answers it (by default with
//! success and generated ids), keeps the kv store, channel variables and pending timers, and
//! delivers events to an app exactly as the exported handler does.
//!
//! ```
//! use wari_guest_sdk::mock::{Call, CallKind, MockHost};
//! use wari_guest_sdk::{App, Channel, Error, Event, call, log};
//!
//! #[derive(Default)]
//! struct Greeter;
//!
//! impl App for Greeter {
//!     fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
//!         if let Err(e) = call::play(&channel.id, &["sound:hello-world"]) {
//!             log::warn(&format!("cannot play: {e}"));
//!         }
//!         call::answer(&channel.id).unwrap();
//!     }
//! }
//!
//! let mut host = MockHost::new();
//! host.fail(CallKind::Play, Error::new(501, "media not implemented"));
//! let mut app = Greeter::default();
//! host.deliver(&mut app, Event::StasisStart { channel: Channel::new("c1"), args: vec![] });
//! assert_eq!(
//!     host.calls(),
//!     [
//!         Call::Play { channel: "c1".into(), media: vec!["sound:hello-world".into()] },
//!         Call::Answer { channel: "c1".into() },
//!     ]
//! );
//! assert_eq!(host.logs()[0].1, "cannot play: 501: media not implemented");
//! ```
//!
//! The host is per thread (each `#[test]` runs on its own thread); creating a second one on
//! the same thread replaces the first. Calling into the SDK with no host on the thread
//! panics.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::rc::Rc;

use crate::app::{App, dispatch};
use crate::ari::Response;
use crate::log::Level;
use crate::types::{Bridge, Channel, Direction, Error, Event, HangupReason, Result, TimerId};

/// Declares [`Call`] (one variant per function the mock records, with its arguments) and
/// [`CallKind`] (the same variants without them) from one list, grouped into the
/// call-control functions and the others: a recorded function is added in one place.
macro_rules! recorded_calls {
    (
        call_control { $( $(#[$doc:meta])* $variant:ident { $( $(#[$field_doc:meta])* $field:ident : $ty:ty ),* $(,)? } ),* $(,)? }
        other { $( $(#[$other_doc:meta])* $other:ident { $( $(#[$other_field_doc:meta])* $other_field:ident : $other_ty:ty ),* $(,)? } ),* $(,)? }
    ) => {
        /// One call an app made to the host, with its arguments (owned copies).
        ///
        /// Logging is not recorded here but in [`MockHost::logs`].
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Call {
            $( $(#[$doc])* $variant { $( $(#[$field_doc])* $field: $ty, )* }, )*
            $( $(#[$other_doc])* $other { $( $(#[$other_field_doc])* $other_field: $other_ty, )* }, )*
        }

        /// The function a [`Call`] was made to, without its arguments: what replies are
        /// configured for.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(missing_docs)] // one per `Call` variant, same names
        pub enum CallKind {
            $( $variant, )*
            $( $other, )*
        }

        impl Call {
            /// The function called.
            pub fn kind(&self) -> CallKind {
                match self {
                    $( Call::$variant { .. } => CallKind::$variant, )*
                    $( Call::$other { .. } => CallKind::$other, )*
                }
            }

            /// Whether this is a call-control operation (the [`call`](crate::call) module), as
            /// opposed to `ari`, `timers` or `kv`.
            pub fn is_call_control(&self) -> bool {
                matches!(self, $( Call::$variant { .. } )|*)
            }
        }
    };
}

recorded_calls! {
    call_control {
        /// [`call::answer`](crate::call::answer).
        Answer {
            /// Channel id.
            channel: String,
        },
        /// [`call::hangup`](crate::call::hangup).
        Hangup {
            /// Channel id.
            channel: String,
            /// Hangup reason.
            reason: HangupReason,
        },
        /// [`call::ring`](crate::call::ring).
        Ring {
            /// Channel id.
            channel: String,
        },
        /// [`call::progress`](crate::call::progress).
        Progress {
            /// Channel id.
            channel: String,
        },
        /// [`call::send_dtmf`](crate::call::send_dtmf).
        SendDtmf {
            /// Channel id.
            channel: String,
            /// The digits.
            digits: String,
        },
        /// [`call::hold`](crate::call::hold).
        Hold {
            /// Channel id.
            channel: String,
            /// On or off hold.
            on: bool,
        },
        /// [`call::mute`](crate::call::mute).
        Mute {
            /// Channel id.
            channel: String,
            /// Which way.
            direction: Direction,
            /// Mute or unmute.
            on: bool,
        },
        /// [`call::play`](crate::call::play).
        Play {
            /// Channel id.
            channel: String,
            /// Media URIs.
            media: Vec<String>,
        },
        /// [`call::record_channel`](crate::call::record_channel).
        RecordChannel {
            /// Channel id.
            channel: String,
            /// Recording name.
            name: String,
            /// Format.
            format: String,
            /// Maximum duration.
            max_duration_seconds: u32,
        },
        /// [`call::get_variable`](crate::call::get_variable).
        GetVariable {
            /// Channel id.
            channel: String,
            /// Variable name.
            name: String,
        },
        /// [`call::set_variable`](crate::call::set_variable).
        SetVariable {
            /// Channel id.
            channel: String,
            /// Variable name.
            name: String,
            /// New value.
            value: String,
        },
        /// [`call::get_channel`](crate::call::get_channel).
        GetChannel {
            /// Channel id.
            channel: String,
        },
        /// [`call::create_bridge`](crate::call::create_bridge).
        CreateBridge {
            /// `mixing` or `holding`.
            bridge_type: String,
        },
        /// [`call::add_to_bridge`](crate::call::add_to_bridge).
        AddToBridge {
            /// Bridge id.
            bridge: String,
            /// Channel id.
            channel: String,
        },
        /// [`call::remove_from_bridge`](crate::call::remove_from_bridge).
        RemoveFromBridge {
            /// Bridge id.
            bridge: String,
            /// Channel id.
            channel: String,
        },
        /// [`call::destroy_bridge`](crate::call::destroy_bridge).
        DestroyBridge {
            /// Bridge id.
            bridge: String,
        },
        /// [`call::originate`](crate::call::originate).
        Originate {
            /// Endpoint called.
            endpoint: String,
            /// StasisStart arguments of the new channel.
            args: Vec<String>,
            /// Caller id shown to the callee.
            caller_id: Option<String>,
            /// Ring timeout.
            timeout_seconds: Option<u32>,
        },
        /// [`call::continue_in_dialplan`](crate::call::continue_in_dialplan).
        ContinueInDialplan {
            /// Channel id.
            channel: String,
            /// Context (empty: unchanged).
            context: String,
            /// Extension (empty: unchanged).
            exten: String,
            /// Priority (`None`: next).
            priority: Option<u32>,
        },
        /// [`call::move_to_app`](crate::call::move_to_app).
        MoveToApp {
            /// Channel id.
            channel: String,
            /// Target app.
            app: String,
            /// Its StasisStart arguments.
            args: Vec<String>,
        },
    }
    other {
        /// [`ari::request`](crate::ari::request).
        AriRequest {
            /// HTTP method.
            method: String,
            /// Path relative to `/ari`.
            path: String,
            /// Query parameters.
            query: Vec<(String, String)>,
            /// JSON body.
            body: Option<String>,
        },
        /// [`timers::set_timer`](crate::timers::set_timer).
        SetTimer {
            /// Delay.
            after_ms: u64,
        },
        /// [`timers::cancel_timer`](crate::timers::cancel_timer).
        CancelTimer {
            /// The timer.
            id: TimerId,
        },
        /// [`kv::get`](crate::kv::get).
        KvGet {
            /// Key.
            key: String,
        },
        /// [`kv::set`](crate::kv::set).
        KvSet {
            /// Key.
            key: String,
            /// Value.
            value: String,
        },
        /// [`kv::delete`](crate::kv::delete).
        KvDelete {
            /// Key.
            key: String,
        },
        /// [`kv::set_if_absent`](crate::kv::set_if_absent).
        KvSetIfAbsent {
            /// Key.
            key: String,
            /// Value.
            value: String,
        },
        /// [`kv::increment`](crate::kv::increment).
        KvIncrement {
            /// Key.
            key: String,
            /// Amount added.
            delta: i64,
        },
    }
}

/// What the mock host answers to a call-control or ARI call, when configured with
/// [`MockHost::reply`], [`MockHost::reply_once`] or [`MockHost::reply_with`].
///
/// The reply must fit the function: `Ok` for the ones returning `Result<()>`, `Value` for
/// `play`, `record_channel`, `get_variable` and `originate`, `Channel` for `get_channel`, `Bridge`
/// for `create_bridge`, `Response` for `ari::request`; `Err` fits any of them (for
/// `ari::request` it becomes a response with that status and an ARI `{"message": ...}`
/// body). A reply that does not fit panics, naming the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Success without a value.
    Ok,
    /// Success with a string: a playback id, recording name, variable value or channel id.
    Value(String),
    /// Success with a channel.
    Channel(Channel),
    /// Success with a bridge.
    Bridge(Bridge),
    /// An ARI response.
    Response(Response),
    /// Failure.
    Err(Error),
}

type Responder = Box<dyn FnMut(&Call) -> Option<Reply>>;

#[derive(Default)]
struct State {
    calls: Vec<Call>,
    logs: Vec<(Level, String)>,
    kv: BTreeMap<String, String>,
    variables: HashMap<(String, String), String>,
    /// Pending timers: id -> due time on the virtual clock.
    timers: BTreeMap<TimerId, u64>,
    now_ms: u64,
    next_timer: u64,
    next_playback: u64,
    next_channel: u64,
    next_bridge: u64,
    once: HashMap<CallKind, VecDeque<Reply>>,
    always: HashMap<CallKind, Reply>,
    responder: Option<Responder>,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<State>>>> = const { RefCell::new(None) };
}

fn current() -> Rc<RefCell<State>> {
    CURRENT
        .with(|c| c.borrow().clone())
        .expect("wari-guest-sdk: no MockHost on this thread: create one with MockHost::new() first")
}

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(&mut current().borrow_mut())
}

/// A mock of wari for native unit tests of an [`App`]: see the [module docs](self).
///
/// Defaults: every call-control operation succeeds; `play` returns `playback-1`,
/// `playback-2`, ...; `originate` returns `channel-1`, ...; `create_bridge` returns a bridge
/// `bridge-1`, ... of the requested type; `record_channel` returns the name it was given;
/// `get_channel` returns [`Channel::new`] with the id; `get_variable` returns what
/// `set_variable` stored, or a 404 error; `ari::request` returns status 200 with an empty body.
/// Timers never fire by themselves: fire them with [`fire_timer`](Self::fire_timer) or
/// [`fire_next_timer`](Self::fire_next_timer).
pub struct MockHost {
    state: Rc<RefCell<State>>,
}

impl Default for MockHost {
    fn default() -> Self {
        MockHost::new()
    }
}

impl Drop for MockHost {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| {
            let mut c = c.borrow_mut();
            if c.as_ref().is_some_and(|s| Rc::ptr_eq(s, &self.state)) {
                *c = None;
            }
        });
    }
}

impl MockHost {
    /// A fresh host (no calls, empty kv store), installed as this thread's host.
    pub fn new() -> Self {
        let state = Rc::new(RefCell::new(State::default()));
        CURRENT.with(|c| *c.borrow_mut() = Some(state.clone()));
        MockHost { state }
    }

    fn state(&self) -> std::cell::RefMut<'_, State> {
        self.state.borrow_mut()
    }

    /// Delivers one event to `app` as wari would: the specific [`App`] method, then
    /// [`App::on_event`].
    ///
    /// Pass the same app value for all the events of one session. To test state shared
    /// between sessions (the kv store), deliver to several app values with one host.
    pub fn deliver<A: App + ?Sized>(&mut self, app: &mut A, event: Event) {
        if let Event::Timer(id) = event {
            self.state().timers.remove(&id);
        }
        dispatch(app, &event);
    }

    /// Every call recorded so far, in order (logging excluded: see [`logs`](Self::logs)).
    pub fn calls(&self) -> Vec<Call> {
        self.state().calls.clone()
    }

    /// The recorded calls to the [`call`](crate::call) module only (no `ari`, `timers`, `kv`).
    pub fn control_calls(&self) -> Vec<Call> {
        self.state()
            .calls
            .iter()
            .filter(|c| c.is_call_control())
            .cloned()
            .collect()
    }

    /// Returns the calls recorded so far and forgets them: handy to check one event at a time.
    pub fn take_calls(&mut self) -> Vec<Call> {
        std::mem::take(&mut self.state().calls)
    }

    /// Every message logged so far, in order.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.state().logs.clone()
    }

    /// Returns the messages logged so far and forgets them.
    pub fn take_logs(&mut self) -> Vec<(Level, String)> {
        std::mem::take(&mut self.state().logs)
    }

    /// The kv store's contents.
    pub fn kv(&self) -> BTreeMap<String, String> {
        self.state().kv.clone()
    }

    /// Stores a kv entry (not recorded as a call), e.g. state left by an earlier session.
    pub fn kv_set(&mut self, key: &str, value: &str) {
        self.state().kv.insert(key.to_owned(), value.to_owned());
    }

    /// A channel variable stored by `set_variable` or [`set_variable`](Self::set_variable).
    pub fn variable(&self, channel: &str, name: &str) -> Option<String> {
        self.state()
            .variables
            .get(&(channel.to_owned(), name.to_owned()))
            .cloned()
    }

    /// Sets a channel variable that `get_variable` will return (not recorded as a call).
    pub fn set_variable(&mut self, channel: &str, name: &str, value: &str) {
        self.state()
            .variables
            .insert((channel.to_owned(), name.to_owned()), value.to_owned());
    }

    /// The timers set and neither fired nor cancelled, with their delays from now, in the
    /// order they will fire.
    pub fn pending_timers(&self) -> Vec<(TimerId, u64)> {
        let state = self.state();
        let mut timers: Vec<_> = state
            .timers
            .iter()
            .map(|(&id, &due)| (id, due - state.now_ms))
            .collect();
        timers.sort_by_key(|&(id, delay)| (delay, id));
        timers
    }

    /// Fires a pending timer: delivers [`Event::Timer`] to `app`.
    ///
    /// # Panics
    /// If the timer is not pending (never set, fired already, or cancelled). To test how an
    /// app handles a stale timer, [`deliver`](Self::deliver) the event yourself.
    pub fn fire_timer<A: App + ?Sized>(&mut self, app: &mut A, id: TimerId) {
        let due = self.state().timers.get(&id).copied();
        let due = due.unwrap_or_else(|| panic!("MockHost::fire_timer: {id} is not pending"));
        {
            let mut state = self.state();
            state.now_ms = state.now_ms.max(due);
        }
        self.deliver(app, Event::Timer(id));
    }

    /// Fires the pending timer due first (advancing the mock's clock to it) and returns its
    /// id, or returns `None` when no timer is pending.
    pub fn fire_next_timer<A: App + ?Sized>(&mut self, app: &mut A) -> Option<TimerId> {
        let (id, _) = self.pending_timers().first().copied()?;
        self.fire_timer(app, id);
        Some(id)
    }

    /// Makes every later call of `kind` fail with `error` (until [`clear_replies`](Self::clear_replies)).
    pub fn fail(&mut self, kind: CallKind, error: Error) -> &mut Self {
        self.reply(kind, Reply::Err(error))
    }

    /// Makes the next call of `kind` fail with `error`.
    pub fn fail_once(&mut self, kind: CallKind, error: Error) -> &mut Self {
        self.reply_once(kind, Reply::Err(error))
    }

    /// Answers every later call of `kind` with `reply` (until [`clear_replies`](Self::clear_replies)).
    pub fn reply(&mut self, kind: CallKind, reply: Reply) -> &mut Self {
        self.state().always.insert(kind, reply);
        self
    }

    /// Answers the next call of `kind` with `reply`; several queue up, in order. They take
    /// precedence over [`reply`](Self::reply).
    pub fn reply_once(&mut self, kind: CallKind, reply: Reply) -> &mut Self {
        self.state().once.entry(kind).or_default().push_back(reply);
        self
    }

    /// Asks `responder` first for every call-control and ARI call: `Some(reply)` answers it,
    /// `None` falls back to the other configured replies and the defaults. The responder
    /// must not call into the SDK.
    pub fn reply_with(
        &mut self,
        responder: impl FnMut(&Call) -> Option<Reply> + 'static,
    ) -> &mut Self {
        self.state().responder = Some(Box::new(responder));
        self
    }

    /// Forgets every configured reply: back to the defaults.
    pub fn clear_replies(&mut self) -> &mut Self {
        let mut state = self.state();
        state.once.clear();
        state.always.clear();
        state.responder = None;
        drop(state);
        self
    }
}

/// Records a call-control or ARI call and works out its reply.
fn control(call: Call) -> Reply {
    let host = current();
    host.borrow_mut().calls.push(call.clone());
    let responder = host.borrow_mut().responder.take();
    let from_responder = responder.map(|mut responder| {
        let reply = responder(&call);
        host.borrow_mut().responder.get_or_insert(responder);
        reply
    });
    let mut state = host.borrow_mut();
    let kind = call.kind();
    let reply = from_responder
        .flatten()
        .or_else(|| state.once.get_mut(&kind).and_then(VecDeque::pop_front))
        .or_else(|| state.always.get(&kind).cloned())
        .unwrap_or_else(|| default_reply(&mut state, &call));
    if let (
        Call::SetVariable {
            channel,
            name,
            value,
        },
        Reply::Ok,
    ) = (&call, &reply)
    {
        state
            .variables
            .insert((channel.clone(), name.clone()), value.clone());
    }
    reply
}

fn default_reply(state: &mut State, call: &Call) -> Reply {
    fn next(counter: &mut u64, prefix: &str) -> String {
        *counter += 1;
        format!("{prefix}-{counter}")
    }
    match call {
        Call::Play { .. } => Reply::Value(next(&mut state.next_playback, "playback")),
        Call::Originate { .. } => Reply::Value(next(&mut state.next_channel, "channel")),
        Call::CreateBridge { bridge_type } => Reply::Bridge(Bridge::new(
            next(&mut state.next_bridge, "bridge"),
            bridge_type.clone(),
        )),
        Call::RecordChannel { name, .. } => Reply::Value(name.clone()),
        Call::GetChannel { channel } => Reply::Channel(Channel::new(channel.clone())),
        Call::GetVariable { channel, name } => {
            match state.variables.get(&(channel.clone(), name.clone())) {
                Some(value) => Reply::Value(value.clone()),
                None => Reply::Err(Error::new(404, "Provided variable was not found")),
            }
        }
        Call::AriRequest { .. } => Reply::Response(Response::new(200, "")),
        _ => Reply::Ok,
    }
}

fn mismatch(call: CallKind, wanted: &str, reply: Reply) -> ! {
    panic!("MockHost: a {call:?} call needs a Reply::{wanted} or Reply::Err reply, not {reply:?}")
}

fn unit(call: Call) -> Result<()> {
    let kind = call.kind();
    match control(call) {
        Reply::Ok => Ok(()),
        Reply::Err(e) => Err(e),
        other => mismatch(kind, "Ok", other),
    }
}

fn value(call: Call) -> Result<String> {
    let kind = call.kind();
    match control(call) {
        Reply::Value(v) => Ok(v),
        Reply::Err(e) => Err(e),
        other => mismatch(kind, "Value", other),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

// The backend behind the public functions on native targets (same signatures as `wasm`).

pub(crate) fn answer(channel: &str) -> Result<()> {
    unit(Call::Answer {
        channel: channel.into(),
    })
}

pub(crate) fn hangup(channel: &str, reason: HangupReason) -> Result<()> {
    unit(Call::Hangup {
        channel: channel.into(),
        reason,
    })
}

pub(crate) fn ring(channel: &str) -> Result<()> {
    unit(Call::Ring {
        channel: channel.into(),
    })
}

pub(crate) fn progress(channel: &str) -> Result<()> {
    unit(Call::Progress {
        channel: channel.into(),
    })
}

pub(crate) fn send_dtmf(channel: &str, digits: &str) -> Result<()> {
    unit(Call::SendDtmf {
        channel: channel.into(),
        digits: digits.into(),
    })
}

pub(crate) fn hold(channel: &str, on: bool) -> Result<()> {
    unit(Call::Hold {
        channel: channel.into(),
        on,
    })
}

pub(crate) fn mute(channel: &str, direction: Direction, on: bool) -> Result<()> {
    unit(Call::Mute {
        channel: channel.into(),
        direction,
        on,
    })
}

pub(crate) fn play(channel: &str, media: &[&str]) -> Result<String> {
    value(Call::Play {
        channel: channel.into(),
        media: strings(media),
    })
}

pub(crate) fn record_channel(
    channel: &str,
    name: &str,
    format: &str,
    max_duration_seconds: u32,
) -> Result<String> {
    value(Call::RecordChannel {
        channel: channel.into(),
        name: name.into(),
        format: format.into(),
        max_duration_seconds,
    })
}

pub(crate) fn get_variable(channel: &str, name: &str) -> Result<String> {
    value(Call::GetVariable {
        channel: channel.into(),
        name: name.into(),
    })
}

pub(crate) fn set_variable(channel: &str, name: &str, value: &str) -> Result<()> {
    unit(Call::SetVariable {
        channel: channel.into(),
        name: name.into(),
        value: value.into(),
    })
}

pub(crate) fn get_channel(channel: &str) -> Result<Channel> {
    match control(Call::GetChannel {
        channel: channel.into(),
    }) {
        Reply::Channel(c) => Ok(c),
        Reply::Err(e) => Err(e),
        other => mismatch(CallKind::GetChannel, "Channel", other),
    }
}

pub(crate) fn create_bridge(bridge_type: &str) -> Result<Bridge> {
    match control(Call::CreateBridge {
        bridge_type: bridge_type.into(),
    }) {
        Reply::Bridge(b) => Ok(b),
        Reply::Err(e) => Err(e),
        other => mismatch(CallKind::CreateBridge, "Bridge", other),
    }
}

pub(crate) fn add_to_bridge(bridge: &str, channel: &str) -> Result<()> {
    unit(Call::AddToBridge {
        bridge: bridge.into(),
        channel: channel.into(),
    })
}

pub(crate) fn remove_from_bridge(bridge: &str, channel: &str) -> Result<()> {
    unit(Call::RemoveFromBridge {
        bridge: bridge.into(),
        channel: channel.into(),
    })
}

pub(crate) fn destroy_bridge(bridge: &str) -> Result<()> {
    unit(Call::DestroyBridge {
        bridge: bridge.into(),
    })
}

pub(crate) fn originate(
    endpoint: &str,
    args: &[&str],
    caller_id: Option<&str>,
    timeout_seconds: Option<u32>,
) -> Result<String> {
    value(Call::Originate {
        endpoint: endpoint.into(),
        args: strings(args),
        caller_id: caller_id.map(str::to_owned),
        timeout_seconds,
    })
}

pub(crate) fn continue_in_dialplan(
    channel: &str,
    context: &str,
    exten: &str,
    priority: Option<u32>,
) -> Result<()> {
    unit(Call::ContinueInDialplan {
        channel: channel.into(),
        context: context.into(),
        exten: exten.into(),
        priority,
    })
}

pub(crate) fn move_to_app(channel: &str, app: &str, args: &[&str]) -> Result<()> {
    unit(Call::MoveToApp {
        channel: channel.into(),
        app: app.into(),
        args: strings(args),
    })
}

pub(crate) fn ari_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: Option<&str>,
) -> Response {
    let call = Call::AriRequest {
        method: method.into(),
        path: path.into(),
        query: query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        body: body.map(str::to_owned),
    };
    match control(call) {
        Reply::Response(r) => r,
        Reply::Err(e) => {
            let message = e.message.replace('\\', "\\\\").replace('"', "\\\"");
            Response::new(e.status, format!("{{\"message\":\"{message}\"}}"))
        }
        other => mismatch(CallKind::AriRequest, "Response", other),
    }
}

pub(crate) fn set_timer(after_ms: u64) -> TimerId {
    with_state(|state| {
        state.calls.push(Call::SetTimer { after_ms });
        state.next_timer += 1;
        let id = TimerId(state.next_timer);
        let due = state.now_ms.saturating_add(after_ms);
        state.timers.insert(id, due);
        id
    })
}

pub(crate) fn cancel_timer(id: TimerId) {
    with_state(|state| {
        state.calls.push(Call::CancelTimer { id });
        state.timers.remove(&id);
    })
}

pub(crate) fn log(level: Level, message: &str) {
    with_state(|state| state.logs.push((level, message.to_owned())))
}

pub(crate) fn kv_get(key: &str) -> Option<String> {
    with_state(|state| {
        state.calls.push(Call::KvGet { key: key.into() });
        state.kv.get(key).cloned()
    })
}

pub(crate) fn kv_set(key: &str, value: &str) {
    with_state(|state| {
        state.calls.push(Call::KvSet {
            key: key.into(),
            value: value.into(),
        });
        state.kv.insert(key.to_owned(), value.to_owned());
    })
}

pub(crate) fn kv_delete(key: &str) {
    with_state(|state| {
        state.calls.push(Call::KvDelete { key: key.into() });
        state.kv.remove(key);
    })
}

pub(crate) fn kv_set_if_absent(key: &str, value: &str) -> Option<String> {
    with_state(|state| {
        state.calls.push(Call::KvSetIfAbsent {
            key: key.into(),
            value: value.into(),
        });
        match state.kv.get(key) {
            Some(existing) => Some(existing.clone()),
            None => {
                state.kv.insert(key.to_owned(), value.to_owned());
                None
            }
        }
    })
}

pub(crate) fn kv_increment(key: &str, delta: i64) -> i64 {
    with_state(|state| {
        state.calls.push(Call::KvIncrement {
            key: key.into(),
            delta,
        });
        let current = state
            .kv
            .get(key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0);
        let next = current.saturating_add(delta);
        state.kv.insert(key.to_owned(), next.to_string());
        next
    })
}
