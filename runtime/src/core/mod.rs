//! The telephony core: the one owner of shared state — channels, bridges, Stasis
//! applications, endpoints, device states, mailboxes, global variables. REST handlers,
//! WebSocket transports and WASM apps all change state through this API, never around it,
//! and every change publishes the matching ARI event.
//!
//! Each caller gets a view made for it: the ARI control API ([`control::ControlApi`],
//! `core.control()`) for REST handlers and the WebAssembly host's typed calls, and the view
//! for hosts of Stasis applications ([`app_host::AppHost`], `core.app_host()`) for the
//! WebAssembly host and the event transports. [`Core`] itself offers only what builds and
//! runs the host (start-up, the store, quotas, counts).
//!
//! State lives behind one mutex, private to the core (`Core::with_state`); events are
//! dispatched to application sinks while it is held, so every application sees changes in
//! the order they happened. Each channel has a runner task ([`pbx`]) that executes its
//! dialplan or waits in Stasis.

pub(crate) mod app_host;
pub(crate) mod bridges;
pub mod call_story;
pub mod cause;
pub mod channels;
pub(crate) mod control;
mod device_states;
pub mod dialplan;
pub(crate) mod endpoints;
pub mod event;
pub(crate) mod external_media;
pub(crate) mod functions;
pub(crate) mod listen;
pub mod live;
pub mod media;
pub(crate) mod modules;
mod pbx;
pub(crate) mod presence;
pub(crate) mod quota;
pub(crate) mod snoop;
pub mod stasis;
pub(crate) mod system;
pub(crate) mod tech;
#[cfg(test)]
pub(crate) mod test_support;
pub(crate) mod time;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use bytes::Bytes;
use chrono::Local;
use control::ControlApi;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub use system::SystemInfo;

use bridges::bridge::Bridge;
use channels::channel::{CallerId, Channel, ChannelState, Control, DialplanPosition};
use event::{Event, Scope};
use stasis::{Registry, SourceKind};
use tech::{Driver, Technology};

/// The receiving end of a channel's control queue, owned by its runner.
pub type ControlReceiver = mpsc::UnboundedReceiver<Control>;

/// Why a core operation was refused; each maps to an ARI status code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CoreError {
    /// 400
    #[error("{0}")]
    BadRequest(String),
    /// 403
    #[error("{0}")]
    Forbidden(String),
    /// 404
    #[error("{0}")]
    NotFound(String),
    /// 409
    #[error("{0}")]
    Conflict(String),
    /// 412
    #[error("{0}")]
    InvalidState(String),
    /// 422
    #[error("{0}")]
    Unprocessable(String),
    /// 501
    #[error("{0}")]
    NotImplemented(String),
    /// 500
    #[error("{0}")]
    Internal(String),
}

/// Whether an endpoint can be reached now (the ARI `Endpoint.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EndpointState {
    /// Nothing is known about it.
    Unknown,
    /// It cannot be reached (a SIP endpoint with no registered or reachable contact).
    Offline,
    /// It can be reached; endpoints of technologies without presence (Test) always are.
    #[default]
    Online,
}

impl EndpointState {
    /// The ARI word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            EndpointState::Unknown => "unknown",
            EndpointState::Offline => "offline",
            EndpointState::Online => "online",
        }
    }
}

/// An endpoint: a phone or trunk a technology knows.
#[derive(Debug, Clone, Default)]
pub struct Endpoint {
    /// The technology's name, e.g. `Test` or `PJSIP`.
    pub technology: String,
    /// The resource within the technology, e.g. `alice`.
    pub resource: String,
    /// Whether it can be reached now.
    pub state: EndpointState,
    /// The ids of the endpoint's channels now, oldest first.
    pub channel_ids: Vec<Arc<str>>,
}

impl Endpoint {
    /// The ARI `Endpoint` object.
    pub fn json(&self) -> Value {
        json!({
            "technology": self.technology,
            "resource": self.resource,
            "state": self.state.as_str(),
            "channel_ids": self.channel_ids.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        })
    }
}

/// Everything the core's mutex protects.
#[derive(Debug, Default)]
pub struct State {
    channels: HashMap<Arc<str>, Channel>,
    bridges: HashMap<Arc<str>, Bridge>,
    apps: Registry,
    /// Endpoints by `Tech/resource`.
    endpoints: BTreeMap<String, Endpoint>,
    /// Custom device states by name (`Stasis:...`).
    device_states: BTreeMap<String, String>,
    /// Mailboxes: (old, new) message counts.
    mailboxes: BTreeMap<String, (i64, i64)>,
    /// Outbound legs of a dialplan Dial(), mapped to the channel dialing them.
    dialers: HashMap<Arc<str>, Arc<str>>,
    /// Hangup causes of Dial() legs, kept for the dialing channel until it has read them.
    leg_causes: HashMap<Arc<str>, u16>,
    /// Dial() legs that rang, kept for the dialing channel: a leg may ring and fail before
    /// the dialing channel looks, and its RINGING is still reported first.
    legs_rang: HashSet<Arc<str>>,
    /// Playbacks and live recordings.
    media: media::MediaState,
    /// Channels hung up when another is destroyed (snoop channels and their targets).
    followers: tech::context::Followers,
    /// The quota units of bridges users created, until the bridge is destroyed.
    bridge_charges: HashMap<Arc<str>, quota::Held>,
    /// Counts [`Core::with_state`] calls: while it is unchanged, nothing can have changed.
    generation: u64,
    /// The compact JSON of `GET /channels` and the generation it was rendered at.
    channel_list: Option<(u64, Bytes)>,
    /// Each channel's events, for the console (see [`call_story`]).
    stories: call_story::Stories,
}

impl State {
    /// The Stasis application a channel is in.
    pub(in crate::core) fn app_of_channel(&self, id: &str) -> Option<String> {
        self.channels
            .get(id)
            .and_then(|c| c.stasis.as_ref())
            .map(|s| s.app.clone())
    }
}

/// What a new channel starts with.
#[derive(Debug)]
pub struct NewChannel {
    /// The channel's id; `None` generates one.
    pub id: Option<String>,
    /// The channel's name, e.g. `Test/alice-00000001`.
    pub name: String,
    /// Its state when created (`Down`, or `Up` for a channel answered from the start).
    pub state: ChannelState,
    /// What the core calls to dial, answer, hang up ... the channel's far end.
    pub driver: Arc<dyn Driver>,
    /// Subscribe this application to the channel before ChannelCreated.
    pub app: Option<String>,
    /// The caller ID it starts with.
    pub caller: CallerId,
    /// The connected line it starts with.
    pub connected: CallerId,
    /// Where in the dialplan it is (context, extension, priority) when created.
    pub dialplan: DialplanPosition,
    /// `tech/resource` of the endpoint it belongs to; `None`: no endpoint lists it.
    pub endpoint: Option<String>,
    /// Channel variables set before ChannelCreated: name, value.
    pub vars: Vec<(String, String)>,
    /// Its media leg: rate, and where its audio goes outside wari.
    pub media: tech::MediaLeg,
    /// Its language (a technology's setting, e.g. pjsip.conf's endpoint `language`);
    /// `None`: the system's default language.
    pub language: Option<String>,
}

impl Default for NewChannel {
    fn default() -> Self {
        NewChannel {
            id: None,
            name: String::new(),
            state: ChannelState::Down,
            driver: Arc::new(NoDriver),
            app: None,
            caller: CallerId::default(),
            connected: CallerId::default(),
            dialplan: DialplanPosition::default(),
            endpoint: None,
            vars: Vec::new(),
            media: tech::MediaLeg::default(),
            language: None,
        }
    }
}

/// A driver for channels with no far end.
#[derive(Debug)]
struct NoDriver;

impl Driver for NoDriver {
    fn call(&self, _: &mut tech::Context<'_>, _: &Arc<str>) -> Result<(), CoreError> {
        Ok(())
    }
}

/// Settings the core takes from configuration.
#[derive(Debug, Default)]
pub struct CoreConfig {
    /// ari.conf `channelvars`.
    pub channelvars: Vec<String>,
    /// The dialplan channels run when they are not in an application (extensions.conf).
    pub dialplan: dialplan::Dialplan,
    /// Extra technologies, or built-in ones configured (the built-in ones of
    /// [`tech::builtin`] are always there).
    pub technologies: Vec<Arc<dyn Technology>>,
    /// Where device states and mailboxes are written before they change (in memory unless
    /// the host opened its file).
    pub store: crate::store::Store,
    /// Application names belong to their first registrant (ari.conf `app_ownership`; off
    /// here, on in ari.conf's default).
    pub app_ownership: bool,
    /// Per-user quotas and `maxcalls`.
    pub quotas: quota::Quotas,
}

/// What exists now, counted ([`Core::counts`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Channels that exist.
    pub channels: usize,
    /// Bridges that exist.
    pub bridges: usize,
    /// Stasis applications with a handler attached.
    pub active_apps: usize,
}

/// Shared telephony state and the operations on it.
#[derive(Debug)]
pub struct Core {
    me: Weak<Core>,
    system: SystemInfo,
    globals: RwLock<BTreeMap<String, String>>,
    state: Mutex<State>,
    dialplan: RwLock<Arc<dialplan::Dialplan>>,
    channelvars: Vec<String>,
    technologies: Vec<Arc<dyn Technology>>,
    next_channel: AtomicU64,
    id_epoch: u64,
    media: std::sync::OnceLock<media::Media>,
    store: crate::store::Store,
    /// Held across a write to the store and the change in memory that follows it, so that
    /// both see device-state and mailbox changes in the same order.
    persisting: tokio::sync::Mutex<()>,
    /// ari.conf `app_ownership` (see [`apps`]).
    app_ownership: bool,
    quotas: quota::Quotas,
    /// Stored recordings' owners, for `max_recordings_kb`.
    recordings: Arc<media::recording_quota::RecordingLedger>,
}

/// Longest client-chosen channel id (Asterisk's `AST_MAX_UNIQUEID` less its terminator).
pub const MAX_CHANNEL_ID_LEN: usize = 149;

/// Refuses a client-chosen channel id longer than [`MAX_CHANNEL_ID_LEN`] (400).
pub fn check_id_length(id: &str) -> Result<(), CoreError> {
    if id.len() > MAX_CHANNEL_ID_LEN {
        return Err(CoreError::BadRequest(format!(
            "Channel id is longer than {MAX_CHANNEL_ID_LEN} characters"
        )));
    }
    Ok(())
}

impl Core {
    /// A core with no channels.
    pub fn new(system: SystemInfo, config: CoreConfig) -> Arc<Core> {
        let mut technologies = config.technologies;
        for builtin in tech::builtin() {
            if !technologies
                .iter()
                .any(|t| t.name().eq_ignore_ascii_case(builtin.name()))
            {
                technologies.push(builtin);
            }
        }
        let globals = config
            .dialplan
            .globals()
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>();
        let id_epoch = u64::try_from(system.startup_time.timestamp()).unwrap_or_default();
        Arc::new_cyclic(|me| Core {
            me: me.clone(),
            system,
            globals: RwLock::new(globals),
            state: Mutex::new(State::default()),
            dialplan: RwLock::new(Arc::new(config.dialplan)),
            channelvars: config.channelvars,
            technologies,
            next_channel: AtomicU64::new(0),
            id_epoch,
            media: std::sync::OnceLock::new(),
            recordings: Arc::new(media::recording_quota::RecordingLedger::new(
                config.store.clone(),
            )),
            store: config.store,
            persisting: tokio::sync::Mutex::new(()),
            app_ownership: config.app_ownership,
            quotas: config.quotas,
        })
    }

    /// The host's store (shared with the WebAssembly apps' key-value stores).
    pub fn store(&self) -> &crate::store::Store {
        &self.store
    }

    /// Per-user quotas and the `maxcalls` brake.
    pub fn quotas(&self) -> &quota::Quotas {
        &self.quotas
    }

    /// How many channels, bridges and active Stasis applications exist now (the gauges of
    /// `GET /metrics`).
    pub fn counts(&self) -> Counts {
        let state = self.lock_state();
        Counts {
            channels: state.channels.len(),
            bridges: state.bridges.len(),
            active_apps: state.apps.iter().filter(|app| app.is_active()).count(),
        }
    }

    /// The Stasis application a channel is in (`None`: in none, or no such channel).
    pub fn app_of_channel(&self, id: &str) -> Option<String> {
        self.lock_state().app_of_channel(id)
    }

    /// A weak handle, for tasks that must not keep the core alive.
    pub(in crate::core) fn weak(&self) -> Weak<Core> {
        self.me.clone()
    }

    /// Identity and start-up facts of this process.
    pub fn system(&self) -> &SystemInfo {
        &self.system
    }

    /// Starts keeping call stories within `limits` (ari.conf `console_calls`,
    /// `console_call_events`, `console_events`), forgetting any kept so far.
    pub fn set_story_limits(&self, limits: call_story::StoryLimits) {
        self.with_state(|state| state.stories = call_story::Stories::new(limits));
    }

    /// The current dialplan.
    pub fn dialplan(&self) -> Arc<dialplan::Dialplan> {
        self.dialplan
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Runs `f` with the state locked. Keep `f` short and non-blocking.
    pub(in crate::core) fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.lock_state();
        state.generation = state.generation.wrapping_add(1);
        f(&mut state)
    }

    /// The state locked without counting as a change (for caches of rendered state).
    fn lock_state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// [`Core::set_global_var`] with the state already locked (the dialplan's and ARI's
    /// `GLOBAL(X)` writes, made while a channel is being changed).
    pub(in crate::core) fn set_global_var_locked(
        &self,
        state: &mut State,
        name: &str,
        value: Option<&str>,
    ) {
        let old = {
            let mut globals = self.globals.write().unwrap_or_else(|p| p.into_inner());
            match value {
                Some(v) => globals.insert(name.to_string(), v.to_string()),
                None => globals.remove(name),
            }
        };
        if value.is_none() && old.is_none_or(|o| o.is_empty()) {
            return;
        }
        let scope = event::Scope {
            any_channel: true,
            ..event::Scope::default()
        };
        let event = event::Event::new("ChannelVarset", scope)
            .with("variable", serde_json::json!(name))
            .with("value", serde_json::json!(value.unwrap_or_default()));
        self.publish(state, event);
    }

    /// How many channel ids [`Core::new_channel_id`] has handed out since start-up: the
    /// channels created without a client-chosen id (the console's calls per second).
    pub fn channels_created(&self) -> u64 {
        self.next_channel.load(Ordering::Relaxed)
    }

    /// A fresh channel id: `<start time>.<sequence>`, like Asterisk's unique ids.
    pub fn new_channel_id(&self) -> String {
        let n = self.next_channel.fetch_add(1, Ordering::Relaxed);
        format!("{}.{n}", self.id_epoch)
    }

    /// Refuses a client-chosen id that is too long or already used.
    pub(in crate::core) fn check_new_id(
        &self,
        state: &State,
        id: Option<&str>,
    ) -> Result<(), CoreError> {
        let Some(id) = id else {
            return Ok(());
        };
        check_id_length(id)?;
        if id.is_empty() {
            return Err(CoreError::BadRequest("Channel id must not be empty".into()));
        }
        if state.channels.contains_key(id) {
            return Err(CoreError::Conflict(
                "Channel with given unique ID already exists".into(),
            ));
        }
        Ok(())
    }

    /// The technology a dial string names (case-insensitive); `None` also for one made
    /// only by its own operation (external media, snoop).
    pub(in crate::core) fn technology(&self, name: &str) -> Option<&Arc<dyn Technology>> {
        self.technologies
            .iter()
            .find(|t| t.dialable() && t.name().eq_ignore_ascii_case(name))
    }

    /// The technology an operation of the core makes its channels with (`UnicastRTP` for
    /// external media, `Snoop`), dialable or not.
    pub(crate) fn technology_made_by_operation(
        &self,
        name: &str,
    ) -> Result<Arc<dyn Technology>, CoreError> {
        self.technologies
            .iter()
            .find(|t| t.name() == name)
            .cloned()
            .ok_or_else(|| CoreError::Internal(format!("No {name} channel technology")))
    }

    /// The dial-string technologies, by name, for messages.
    pub(crate) fn dialable_technologies(&self) -> String {
        self.technologies
            .iter()
            .filter(|t| t.dialable())
            .map(|t| t.name())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Starts every technology (when wari starts, before any request): the first that
    /// cannot start stops start-up with its reason.
    pub fn start_technologies(&self) -> Result<(), tech::StartError> {
        for technology in &self.technologies {
            self.with_state(|state| technology.start(&mut tech::Context::new(self, state)))
                .map_err(|reason| tech::StartError {
                    technology: technology.name(),
                    reason,
                })?;
            tracing::debug!(technology = technology.name(), "channel technology started");
        }
        Ok(())
    }

    /// Stops every technology (when wari stops): first the work each must finish
    /// without the core's lock (bounded by the technology), then its stop.
    pub async fn stop_technologies(&self) {
        for technology in &self.technologies {
            if let Some(work) = technology.stopping() {
                work.await;
            }
            self.with_state(|state| technology.stop(&mut tech::Context::new(self, state)));
        }
    }

    /// A technology that has endpoints (not Local), by name, case-insensitively.
    pub(in crate::core) fn endpoint_technology(&self, name: &str) -> Option<&Arc<dyn Technology>> {
        self.technology(name).filter(|t| t.has_endpoints())
    }

    /// Adds a channel, subscribes `spec.app` to it and publishes ChannelCreated. The caller
    /// spawns its runner with the returned receiver.
    pub(in crate::core) fn add_channel(
        &self,
        state: &mut State,
        spec: NewChannel,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        self.check_new_id(state, spec.id.as_deref())?;
        let id: Arc<str> = Arc::from(spec.id.unwrap_or_else(|| self.new_channel_id()).as_str());
        let (tx, rx) = mpsc::unbounded_channel();
        let channel = Channel {
            id: id.clone(),
            name: spec.name,
            state: spec.state,
            caller: spec.caller,
            connected: spec.connected,
            accountcode: String::new(),
            language: spec
                .language
                .unwrap_or_else(|| self.system.default_language.clone()),
            dialplan: spec.dialplan,
            creationtime: Local::now(),
            vars: spec.vars.into_iter().collect(),
            reported: Default::default(),
            hangup_cause: 0,
            hanging_up: false,
            stasis: None,
            bridge: None,
            driver: spec.driver,
            control: tx,
            dormant: None,
            pending_dial: None,
            endpoint: spec.endpoint.clone(),
            muted_in: false,
            muted_out: false,
            hold_indicated: false,
            execution: channels::channel::Execution::Idle,
            dialing: None,
            charge: None,
        };
        state.channels.insert(id.clone(), channel);
        self.media_leg_added(&id, spec.media);
        if let Some(app) = &spec.app {
            state.apps.subscribe(app, SourceKind::Channel, &id);
        }
        // Only an application subscribed to every channel (or the one `spec.app` names)
        // can want it this early: build it only then.
        let scope = Scope::channel(&id);
        if state.apps.any_wants("ChannelCreated", &scope) || state.stories.enabled() {
            let snapshot = self.channel_snapshot(state, &id);
            self.publish(
                state,
                Event::new("ChannelCreated", scope).with_channel("channel", snapshot),
            );
        }
        if let Some(endpoint) = spec.endpoint {
            self.endpoint_channel_added(state, &endpoint, &id);
        }
        Ok((id, rx))
    }

    /// Tells a channel's runner something, starting it first if it is dormant.
    pub(in crate::core) fn send_control(&self, state: &mut State, id: &Arc<str>, control: Control) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        if let Some(dormant) = channel.dormant.take() {
            self.spawn_runner(id.clone(), dormant.control, dormant.start);
        }
        let _ = channel.control.send(control);
    }

    /// Starts a channel's runner task.
    pub(in crate::core) fn spawn_runner(
        &self,
        id: Arc<str>,
        rx: ControlReceiver,
        start: pbx::Start,
    ) {
        if let Some(core) = self.me.upgrade() {
            tokio::spawn(pbx::run(core, id, rx, start));
        }
    }

    /// Gives a new channel its runner: a channel already in its application has nothing
    /// to do until it is told something, so its runner stays dormant (started by
    /// [`Core::send_control`]); any other starts now with `otherwise`.
    pub(in crate::core) fn start_runner(
        &self,
        state: &mut State,
        id: &Arc<str>,
        rx: ControlReceiver,
        in_stasis: bool,
        otherwise: pbx::Start,
    ) {
        if !in_stasis {
            self.spawn_runner(id.clone(), rx, otherwise);
        } else if let Some(channel) = state.channels.get_mut(id) {
            channel.dormant = Some(channels::channel::Dormant {
                control: rx,
                start: pbx::Start::InStasis,
            });
        }
    }

    /// A new channel that is up from the start (snoop, external media) enters application
    /// `app` at once (StasisStart). When the application has no handler here, the runner
    /// tries a per-call connection, or fails Stasis and hangs the channel up.
    pub(in crate::core) fn enter_app_at_once(
        &self,
        state: &mut State,
        id: &Arc<str>,
        rx: ControlReceiver,
        app: &str,
        args: &[String],
    ) {
        let entered = self.stasis_enter(state, id, app, args);
        self.start_runner(
            state,
            id,
            rx,
            entered,
            pbx::Start::Enter {
                app: app.to_string(),
                args: args.to_vec(),
            },
        );
    }

    /// Delivers an event to every application that wants it; sinks that fail lose their
    /// applications.
    pub(in crate::core) fn publish(&self, state: &mut State, event: Event) {
        self.publish_to_stories(state, event, true);
    }

    /// [`Core::publish`], recording the event in the call stories or not (`story`: false
    /// for a second copy of an event already recorded).
    pub(in crate::core) fn publish_to_stories(&self, state: &mut State, event: Event, story: bool) {
        let event = Arc::new(event);
        if story && state.stories.enabled() {
            let channels = &state.channels;
            state
                .stories
                .record(&event, |id| channels.contains_key(id), channels.len());
        }
        let failed = state.apps.dispatch(&event);
        for sink in failed {
            let apps = state.apps.detach(sink);
            tracing::warn!(
                ?apps,
                "event consumer cannot keep up or is gone: its applications are deactivated"
            );
        }
    }

    /// The JSON snapshot of a channel (`Value::Null` if it does not exist).
    pub(in crate::core) fn channel_json(&self, state: &State, id: &str) -> Value {
        state
            .channels
            .get(id)
            .map(|c| c.json(&self.channelvars))
            .unwrap_or(Value::Null)
    }

    /// A typed snapshot of a channel for an event (`None` if it does not exist).
    pub(in crate::core) fn channel_snapshot(
        &self,
        state: &State,
        id: &str,
    ) -> Option<channels::snapshot::ChannelSnapshot> {
        state
            .channels
            .get(id)
            .map(|c| channels::snapshot::ChannelSnapshot::new(c, &self.channelvars))
    }

    fn endpoint_channel_added(&self, state: &mut State, endpoint: &str, id: &Arc<str>) {
        let (technology, resource) = endpoint.split_once('/').unwrap_or((endpoint, ""));
        let entry = state
            .endpoints
            .entry(endpoint.to_string())
            .or_insert_with(|| Endpoint {
                technology: technology.to_string(),
                resource: resource.to_string(),
                ..Endpoint::default()
            });
        entry.channel_ids.push(id.clone());
        self.publish_endpoint_state(state, endpoint);
    }

    /// EndpointStateChange with the endpoint's snapshot. The snapshot lists every channel
    /// of the endpoint, so it is built only when some application will receive it.
    pub(in crate::core) fn publish_endpoint_state(&self, state: &mut State, endpoint: &str) {
        let scope = Scope {
            endpoint: Some(endpoint.to_string()),
            ..Scope::default()
        };
        if !state.apps.any_wants("EndpointStateChange", &scope) {
            return;
        }
        let Some(snapshot) = state.endpoints.get(endpoint).map(Endpoint::json) else {
            return;
        };
        self.publish(
            state,
            Event::new("EndpointStateChange", scope).with("endpoint", snapshot),
        );
    }

    pub(in crate::core) fn endpoint_channel_removed(
        &self,
        state: &mut State,
        endpoint: &str,
        id: &str,
    ) {
        let Some(entry) = state.endpoints.get_mut(endpoint) else {
            return;
        };
        entry.channel_ids.retain(|c| &**c != id);
        self.publish_endpoint_state(state, endpoint);
    }
}

impl ControlApi<'_> {
    /// The value of a global variable; unset variables read as the empty string.
    pub fn global_var(&self, name: &str) -> String {
        let globals = self.globals.read().unwrap_or_else(|p| p.into_inner());
        globals.get(name).cloned().unwrap_or_default()
    }

    /// Sets a global variable, or removes it when `value` is `None`. As in Asterisk, a
    /// ChannelVarset without a channel goes to the applications subscribed to every
    /// channel: with the value when set, with an empty value when a variable that had
    /// one is removed.
    pub fn set_global_var(&self, name: &str, value: Option<&str>) {
        self.with_state(|state| self.set_global_var_locked(state, name, value));
    }

    /// Gives a channel the quota unit paid for it (snoop and external media channels,
    /// charged before they were made); dropped at once if the channel is already gone.
    pub fn attach_charge(&self, id: &str, charge: quota::Held) {
        self.with_state(|state| {
            if let Some(channel) = state.channels.get_mut(id) {
                channel.charge = Some(charge);
            }
        });
    }
}
