//! The Stasis application registry: which applications exist, who receives their events
//! (a WebSocket today, a WASM session later), what each is subscribed to, and their event
//! filters. Dispatch decides, per event, which applications get it.

pub mod apps;
pub(crate) mod run;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use serde_json::{Value, json};

use super::event::{Event, Scope};

/// What kind of handler an application has: a WebSocket and a WebAssembly component may
/// not hold the same name at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SinkKind {
    /// An ARI event WebSocket, inbound or outbound.
    WebSocket,
    /// A deployed WebAssembly app.
    Wasm,
}

/// Where an application's events go. Delivery must not block: a consumer that cannot keep
/// up reports failure and loses its applications.
pub trait EventSink: Send + Sync + fmt::Debug {
    /// The kind of handler.
    fn kind(&self) -> SinkKind {
        SinkKind::WebSocket
    }

    /// Queues `event` for `app`; `false` when the consumer is gone or its queue is full.
    fn deliver(&self, app: &str, event: &Arc<Event>) -> bool;
    /// A process-unique id, to recognise the sink when it goes away.
    fn id(&self) -> u64;
}

/// Opens a connection per call for `Stasis(app)` when no application `app` exists but an
/// outbound `per_call_config` connection serves it (implemented by the events transport).
pub trait PerCallConnector: Send + Sync + fmt::Debug {
    /// Connects for `app` on behalf of a channel and registers the ephemeral application
    /// `<app>:<channel name>`; resolves to its name, or `None` when no connection serves
    /// `app` or connecting failed.
    fn connect(
        &self,
        app: &str,
        channel_id: &str,
        channel_name: &str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Option<String>> + Send>>;
    /// The channel has left the ephemeral application: its connection closes shortly.
    /// True when the channel left because the connection failed during the call.
    fn finished(&self, ephemeral_app: &str) -> bool;
}

/// Reference-counted subscriptions to one kind of event source.
#[derive(Debug, Default, Clone)]
struct Subscriptions {
    ids: HashMap<String, u32>,
    /// Subscriptions to every object of the kind (`channel:` with an empty id).
    all: u32,
}

impl Subscriptions {
    fn add(&mut self, id: &str) {
        if id.is_empty() {
            self.all += 1;
        } else {
            *self.ids.entry(id.to_string()).or_default() += 1;
        }
    }

    /// Removes one reference; false when there was none.
    fn remove(&mut self, id: &str) -> bool {
        if id.is_empty() {
            if self.all == 0 {
                return false;
            }
            self.all -= 1;
            return true;
        }
        match self.ids.get_mut(id) {
            Some(count) => {
                *count -= 1;
                if *count == 0 {
                    self.ids.remove(id);
                }
                true
            }
            None => false,
        }
    }

    fn drop_object(&mut self, id: &str) {
        self.ids.remove(id);
    }

    fn contains(&self, id: &str) -> bool {
        self.all > 0 || self.ids.contains_key(id)
    }

    fn is_empty(&self) -> bool {
        self.all == 0 && self.ids.is_empty()
    }

    /// The ids, sorted; a subscription to every object shows as Asterisk's name for it
    /// (`all_topic`, e.g. `__AST_CHANNEL_ALL_TOPIC`).
    fn sorted_ids(&self, all_topic: &str) -> Vec<String> {
        let mut ids: Vec<String> = self.ids.keys().cloned().collect();
        if self.all > 0 {
            ids.push(all_topic.to_string());
        }
        ids.sort();
        ids
    }
}

/// Kinds of event source an application can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// `channel:<id>`, or `channel:` for every channel.
    Channel,
    /// `bridge:<id>`, or `bridge:` for every bridge.
    Bridge,
    /// `endpoint:<tech>/<resource>`, `endpoint:<tech>` or `endpoint:`.
    Endpoint,
    /// `deviceState:<name>`, or `deviceState:` for every device.
    DeviceState,
}

/// Whom an application name belongs to (see [`apps`] for the rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppOwner {
    /// The ARI user whose WebSocket registered the name first (or the `local_ari_user` of
    /// the outbound connection that serves it).
    User(Arc<str>),
    /// A deployed WebAssembly app.
    Component,
}

/// One registered application.
#[derive(Debug)]
pub struct App {
    /// The name clients register and address it by.
    pub name: String,
    sink: Option<Arc<dyn EventSink>>,
    /// Whom the name belongs to while the application exists; `None` while only a
    /// read-only user's socket listens on it.
    owner: Option<AppOwner>,
    /// The ARI user whose WebSocket is the handler now (`None` for a component).
    holder: Option<Arc<str>>,
    channels: Subscriptions,
    bridges: Subscriptions,
    endpoints: Subscriptions,
    devices: Subscriptions,
    allowed: Vec<String>,
    disallowed: Vec<String>,
}

impl App {
    fn new(name: &str) -> App {
        App {
            name: name.to_string(),
            sink: None,
            owner: None,
            holder: None,
            channels: Subscriptions::default(),
            bridges: Subscriptions::default(),
            endpoints: Subscriptions::default(),
            devices: Subscriptions::default(),
            allowed: Vec::new(),
            disallowed: Vec::new(),
        }
    }

    fn subscriptions(&mut self, kind: SourceKind) -> &mut Subscriptions {
        match kind {
            SourceKind::Channel => &mut self.channels,
            SourceKind::Bridge => &mut self.bridges,
            SourceKind::Endpoint => &mut self.endpoints,
            SourceKind::DeviceState => &mut self.devices,
        }
    }

    /// True when a handler is attached.
    pub fn is_active(&self) -> bool {
        self.sink.is_some()
    }

    /// The kind of handler attached.
    pub fn handler_kind(&self) -> Option<SinkKind> {
        self.sink.as_ref().map(|s| s.kind())
    }

    /// Whom the name belongs to.
    pub fn owner(&self) -> Option<&AppOwner> {
        self.owner.as_ref()
    }

    /// The ARI user whose WebSocket handles the application now.
    pub fn holder(&self) -> Option<&str> {
        self.holder.as_deref()
    }

    /// Records who handles the application and, when the name belongs to nobody yet (or
    /// `owner` is a component, which takes a name over), whom it belongs to from now on.
    pub fn claim(&mut self, owner: Option<AppOwner>, holder: Option<Arc<str>>) {
        match owner {
            Some(AppOwner::Component) => self.owner = Some(AppOwner::Component),
            Some(user) if self.owner.is_none() => self.owner = Some(user),
            _ => {}
        }
        self.holder = holder;
    }

    /// The handler is gone: subscriptions to "all" objects go with it.
    fn lose_handler(&mut self) {
        self.sink = None;
        self.holder = None;
        self.channels.all = 0;
        self.bridges.all = 0;
        self.endpoints.all = 0;
        self.devices.all = 0;
    }

    fn wants(&self, event: &Event) -> bool {
        self.wants_scope(&event.scope)
    }

    fn wants_scope(&self, scope: &Scope) -> bool {
        if let Some(only) = &scope.only_app {
            return *only == self.name;
        }
        scope.channels.iter().any(|c| self.channels.contains(c))
            || (scope.any_channel && self.channels.all > 0)
            || scope.bridges.iter().any(|b| self.bridges.contains(b))
            || scope.endpoint.as_deref().is_some_and(|e| {
                self.endpoints.contains(e)
                    || e.split_once('/')
                        .is_some_and(|(tech, _)| self.endpoints.ids.contains_key(tech))
            })
            || scope
                .device
                .as_deref()
                .is_some_and(|d| self.devices.contains(d))
    }

    fn passes_filter(&self, kind: &str) -> bool {
        !self.disallowed.iter().any(|t| t == kind)
            && (self.allowed.is_empty() || self.allowed.iter().any(|t| t == kind))
    }

    fn is_unused(&self) -> bool {
        self.sink.is_none()
            && self.channels.is_empty()
            && self.bridges.is_empty()
            && self.endpoints.is_empty()
            && self.devices.is_empty()
    }

    /// The ARI `Application` object.
    pub fn json(&self) -> Value {
        let filter = |types: &[String]| -> Vec<Value> {
            types.iter().map(|t| json!({ "type": t })).collect()
        };
        json!({
            "name": self.name,
            "channel_ids": self.channels.sorted_ids("__AST_CHANNEL_ALL_TOPIC"),
            "bridge_ids": self.bridges.sorted_ids("__AST_BRIDGE_ALL_TOPIC"),
            "endpoint_ids": self.endpoints.sorted_ids("__AST_ENDPOINT_ALL_TOPIC"),
            "device_names": self.devices.sorted_ids("__AST_DEVICE_STATE_ALL_TOPIC"),
            "events_allowed": filter(&self.allowed),
            "events_disallowed": filter(&self.disallowed),
        })
    }
}

/// All applications, by name.
#[derive(Debug, Default)]
pub struct Registry {
    apps: BTreeMap<String, App>,
    /// Opens per-call connections for unknown applications, when configured.
    per_call: Option<Arc<dyn PerCallConnector>>,
    /// Observers of every event, whatever its scope (the operator's console feeds): no
    /// application, no subscriptions; one that fails to take an event is removed.
    watchers: Vec<Arc<dyn EventSink>>,
}

/// What happened when an application was registered.
#[derive(Debug)]
pub struct Registered {
    /// The sink that held the name before (it is told with ApplicationReplaced).
    pub replaced: Option<Arc<dyn EventSink>>,
}

impl Registry {
    /// Attaches `sink` as the handler of `name`, creating the application if needed. A new
    /// application with `subscribe_all` subscribes to every channel, bridge, endpoint and
    /// device state; an existing (lingering) one keeps its subscription model.
    pub fn register(
        &mut self,
        name: &str,
        sink: Arc<dyn EventSink>,
        subscribe_all: bool,
    ) -> Registered {
        let app = match self.apps.get_mut(name) {
            Some(app) => app,
            None => {
                let mut app = App::new(name);
                if subscribe_all {
                    app.channels.all = 1;
                    app.bridges.all = 1;
                    app.endpoints.all = 1;
                    app.devices.all = 1;
                }
                self.apps.entry(name.to_string()).or_insert(app)
            }
        };
        let previous = app.sink.replace(sink.clone());
        let replaced = previous.filter(|p| p.id() != sink.id());
        Registered { replaced }
    }

    /// Detaches `sink` from every application it handles (its consumer went away). The
    /// applications stay while they still have subscriptions, inactive.
    pub fn detach(&mut self, sink_id: u64) -> Vec<String> {
        let mut detached = Vec::new();
        for app in self.apps.values_mut() {
            if app.sink.as_ref().is_some_and(|s| s.id() == sink_id) {
                app.lose_handler();
                detached.push(app.name.clone());
            }
        }
        self.purge();
        detached
    }

    /// Takes the handler away from one application (it stays while subscribed).
    pub fn detach_app(&mut self, name: &str) {
        if let Some(app) = self.apps.get_mut(name) {
            app.lose_handler();
        }
        self.purge();
    }

    /// True when `sink_id` is the handler of `name`.
    pub fn is_handler(&self, name: &str, sink_id: u64) -> bool {
        self.apps
            .get(name)
            .and_then(|a| a.sink.as_ref())
            .is_some_and(|s| s.id() == sink_id)
    }

    /// The kind of handler an active application has.
    pub fn handler_kind(&self, name: &str) -> Option<SinkKind> {
        self.apps.get(name).and_then(App::handler_kind)
    }

    /// Installs the per-call connector.
    pub fn set_per_call(&mut self, connector: Arc<dyn PerCallConnector>) {
        self.per_call = Some(connector);
    }

    /// The per-call connector, when `name` does not exist at all (an inactive application
    /// fails Stasis() instead of opening a connection).
    pub fn per_call_for(&self, name: &str) -> Option<Arc<dyn PerCallConnector>> {
        if self.apps.contains_key(name) {
            return None;
        }
        self.per_call.clone()
    }

    /// Removes applications that are inactive and subscribed to nothing.
    pub fn purge(&mut self) {
        self.apps.retain(|_, app| !app.is_unused());
    }

    /// The application, active or not.
    pub fn get(&self, name: &str) -> Option<&App> {
        self.apps.get(name)
    }

    /// Mutable access to an application.
    pub fn get_mut(&mut self, name: &str) -> Option<&mut App> {
        self.apps.get_mut(name)
    }

    /// True when the application exists and has a handler.
    pub fn is_active(&self, name: &str) -> bool {
        self.apps.get(name).is_some_and(App::is_active)
    }

    /// Every application.
    pub fn iter(&self) -> impl Iterator<Item = &App> {
        self.apps.values()
    }

    /// Adds a subscription; false when the application does not exist.
    pub fn subscribe(&mut self, name: &str, kind: SourceKind, id: &str) -> bool {
        match self.apps.get_mut(name) {
            Some(app) => {
                app.subscriptions(kind).add(id);
                true
            }
            None => false,
        }
    }

    /// Removes one subscription reference; false when there was none.
    pub fn unsubscribe(&mut self, name: &str, kind: SourceKind, id: &str) -> bool {
        let removed = self
            .apps
            .get_mut(name)
            .is_some_and(|app| app.subscriptions(kind).remove(id));
        if removed {
            self.purge();
        }
        removed
    }

    /// True when `name` is subscribed to that specific object (not via "all").
    pub fn is_subscribed(&self, name: &str, kind: SourceKind, id: &str) -> bool {
        self.apps.get(name).is_some_and(|app| {
            let subs = match kind {
                SourceKind::Channel => &app.channels,
                SourceKind::Bridge => &app.bridges,
                SourceKind::Endpoint => &app.endpoints,
                SourceKind::DeviceState => &app.devices,
            };
            subs.ids.contains_key(id)
        })
    }

    /// An object is gone: every subscription to it ends.
    pub fn object_destroyed(&mut self, kind: SourceKind, id: &str) {
        for app in self.apps.values_mut() {
            app.subscriptions(kind).drop_object(id);
        }
        self.purge();
    }

    /// Replaces the event filter lists (`None` leaves a list as it is).
    pub fn set_filter(
        &mut self,
        name: &str,
        allowed: Option<Vec<String>>,
        disallowed: Option<Vec<String>>,
    ) -> bool {
        match self.apps.get_mut(name) {
            Some(app) => {
                if let Some(a) = allowed {
                    app.allowed = a;
                }
                if let Some(d) = disallowed {
                    app.disallowed = d;
                }
                true
            }
            None => false,
        }
    }

    /// True when some active application would receive an event of this type and scope:
    /// when none would, the event need not be built.
    pub fn any_wants(&self, kind: &str, scope: &Scope) -> bool {
        !self.watchers.is_empty()
            || self
                .apps
                .values()
                .any(|app| app.sink.is_some() && app.wants_scope(scope) && app.passes_filter(kind))
    }

    /// Adds an observer of every event (see [`Registry::dispatch`]).
    pub fn watch(&mut self, sink: Arc<dyn EventSink>) {
        self.watchers.push(sink);
    }

    /// Removes an observer; false when it was not there.
    pub fn unwatch(&mut self, sink_id: u64) -> bool {
        let before = self.watchers.len();
        self.watchers.retain(|w| w.id() != sink_id);
        self.watchers.len() != before
    }

    /// The active applications whose subscriptions take events of this scope (before
    /// any event filter).
    pub fn wanting(&self, scope: &Scope) -> Vec<String> {
        self.apps
            .values()
            .filter(|app| app.sink.is_some() && app.wants_scope(scope))
            .map(|app| app.name.clone())
            .collect()
    }

    /// Delivers an event to every active application that wants it, and to every
    /// observer. Returns the ids of application sinks that failed (gone or too slow); the
    /// caller detaches them. An observer that fails is removed here.
    pub fn dispatch(&mut self, event: &Arc<Event>) -> Vec<u64> {
        if !self.watchers.is_empty() {
            self.watchers.retain(|w| w.deliver("", event));
        }
        let mut failed = Vec::new();
        for app in self.apps.values() {
            let Some(sink) = &app.sink else {
                continue;
            };
            if !app.wants(event) || !app.passes_filter(event.kind) {
                continue;
            }
            if !sink.deliver(&app.name, event) && !failed.contains(&sink.id()) {
                failed.push(sink.id());
            }
        }
        failed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Debug, Default)]
    struct Collect {
        id: u64,
        got: Mutex<Vec<(String, &'static str)>>,
        refuse: bool,
    }

    impl EventSink for Collect {
        fn deliver(&self, app: &str, event: &Arc<Event>) -> bool {
            if self.refuse {
                return false;
            }
            if let Ok(mut got) = self.got.lock() {
                got.push((app.to_string(), event.kind));
            }
            true
        }
        fn id(&self) -> u64 {
            self.id
        }
    }

    fn sink(id: u64) -> Arc<Collect> {
        Arc::new(Collect {
            id,
            ..Collect::default()
        })
    }

    fn received(s: &Collect) -> Vec<(String, &'static str)> {
        s.got.lock().map(|g| g.clone()).unwrap_or_default()
    }

    #[test]
    fn events_follow_subscriptions_and_filters() {
        let mut reg = Registry::default();
        let a = sink(1);
        reg.register("a", a.clone(), false);
        let ch: Arc<str> = Arc::from("c1");
        let ev = Arc::new(Event::new("ChannelStateChange", Scope::channel(&ch)));
        assert!(reg.dispatch(&ev).is_empty());
        assert!(received(&a).is_empty());
        reg.subscribe("a", SourceKind::Channel, "c1");
        reg.dispatch(&ev);
        assert_eq!(received(&a).len(), 1);
        reg.set_filter("a", None, Some(vec!["ChannelStateChange".into()]));
        reg.dispatch(&ev);
        assert_eq!(received(&a).len(), 1, "disallowed type dropped");
    }

    #[test]
    fn any_wants_follows_dispatch() {
        let mut reg = Registry::default();
        let scope = Scope {
            endpoint: Some("Test/x".into()),
            ..Scope::default()
        };
        reg.register("a", sink(1), false);
        assert!(!reg.any_wants("EndpointStateChange", &scope));
        reg.subscribe("a", SourceKind::Endpoint, "Test");
        assert!(reg.any_wants("EndpointStateChange", &scope));
        reg.set_filter("a", Some(vec!["ChannelCreated".into()]), None);
        assert!(!reg.any_wants("EndpointStateChange", &scope));
        reg.register("all", sink(2), true);
        assert!(reg.any_wants("EndpointStateChange", &scope));
        reg.detach(2);
        assert!(!reg.any_wants("EndpointStateChange", &scope));
    }

    #[test]
    fn subscriptions_are_reference_counted() {
        let mut reg = Registry::default();
        reg.register("a", sink(1), false);
        reg.subscribe("a", SourceKind::Bridge, "b");
        reg.subscribe("a", SourceKind::Bridge, "b");
        assert!(reg.unsubscribe("a", SourceKind::Bridge, "b"));
        assert!(reg.is_subscribed("a", SourceKind::Bridge, "b"));
        assert!(reg.unsubscribe("a", SourceKind::Bridge, "b"));
        assert!(!reg.unsubscribe("a", SourceKind::Bridge, "b"));
    }

    #[test]
    fn detached_apps_linger_while_subscribed() {
        let mut reg = Registry::default();
        reg.register("a", sink(1), false);
        reg.register("b", sink(1), true);
        reg.subscribe("a", SourceKind::Channel, "c1");
        let detached = reg.detach(1);
        assert_eq!(detached.len(), 2);
        assert!(reg.get("a").is_some_and(|a| !a.is_active()));
        assert!(
            reg.get("b").is_none(),
            "subscribe-all app without own subscriptions is gone"
        );
        reg.object_destroyed(SourceKind::Channel, "c1");
        assert!(reg.get("a").is_none());
    }

    #[test]
    fn replacing_reports_the_previous_sink() {
        let mut reg = Registry::default();
        assert!(reg.register("a", sink(1), false).replaced.is_none());
        let r = reg.register("a", sink(2), false);
        assert_eq!(r.replaced.map(|s| s.id()), Some(1));
        assert!(reg.is_handler("a", 2));
    }

    #[test]
    fn watchers_see_every_event_and_go_when_they_fail() {
        let mut reg = Registry::default();
        let scope = Scope::channel(&Arc::from("c1"));
        assert!(!reg.any_wants("ChannelStateChange", &scope));
        let watcher = sink(5);
        reg.watch(watcher.clone());
        assert!(reg.any_wants("ChannelStateChange", &scope), "no app needed");
        reg.dispatch(&Arc::new(Event::new("ChannelStateChange", scope.clone())));
        assert_eq!(
            received(&watcher),
            vec![(String::new(), "ChannelStateChange")]
        );
        assert!(reg.unwatch(5));
        assert!(!reg.unwatch(5));
        assert!(!reg.any_wants("ChannelStateChange", &scope));
        let refusing = Arc::new(Collect {
            id: 6,
            refuse: true,
            ..Collect::default()
        });
        reg.watch(refusing);
        let failed = reg.dispatch(&Arc::new(Event::new("ChannelStateChange", scope.clone())));
        assert!(failed.is_empty(), "watchers are not applications' sinks");
        assert!(!reg.unwatch(6), "a failing watcher is removed");
    }

    #[test]
    fn failing_sinks_are_reported_once() {
        let mut reg = Registry::default();
        let bad = Arc::new(Collect {
            id: 9,
            refuse: true,
            ..Collect::default()
        });
        reg.register("x", bad.clone(), true);
        reg.register("y", bad, true);
        let ch: Arc<str> = Arc::from("c");
        let failed = reg.dispatch(&Arc::new(Event::new("ChannelCreated", Scope::channel(&ch))));
        assert_eq!(failed, vec![9]);
    }
}
