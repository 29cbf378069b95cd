//! Stasis application operations: registering handlers (WebSockets, WebAssembly apps),
//! listing applications, explicit subscriptions, event filters and user events; and who may
//! hold and change an application name.
//!
//! Ownership (ari.conf `app_ownership`, on by default): a name belongs to the read/write
//! user whose WebSocket registered it first (an outbound connection's names to its
//! `local_ari_user`; a deployed WebAssembly app's to the app), for as long as the
//! application exists. Only that user or an `admin` may take it over (the previous handler
//! gets ApplicationReplaced) or change its subscriptions and event filter; another user's
//! socket asking for it is refused with all its names. A read-only user's socket may
//! listen on a name nobody owns, but holds nothing: a read/write user or a deploy takes the
//! name (ApplicationReplaced), and no other user's socket can. With `app_ownership = no`,
//! Asterisk's way: any socket takes any name.

use crate::core::app_host::AppHost;
use crate::core::control::ControlApi;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::{App, AppOwner, EventSink, SinkKind, SourceKind};
use crate::core::event::{Event, Field, Scope};
use crate::core::{Core, CoreError};

/// An ARI user, as the ownership rules see it.
#[derive(Debug, Clone, Copy)]
pub struct AppUser<'a> {
    /// The user name (ari.conf section).
    pub name: &'a str,
    /// ari.conf `read_only = yes`: such a user owns no application names; it only listens.
    pub read_only: bool,
    /// ari.conf `admin = yes`.
    pub admin: bool,
}

impl<'a> From<&'a crate::config::User> for AppUser<'a> {
    fn from(user: &'a crate::config::User) -> AppUser<'a> {
        AppUser {
            name: &user.name,
            read_only: user.read_only,
            admin: user.admin,
        }
    }
}

/// On whose behalf a handler registers application names.
#[derive(Debug, Clone, Copy)]
pub enum Claim<'a> {
    /// An ARI user's inbound event WebSocket: the ownership rules apply.
    Socket(AppUser<'a>),
    /// An outbound connection of ari.conf, set up by the operator: no rules; names nobody
    /// owns become the connection's `local_ari_user`'s.
    Configured(&'a str),
    /// A deployed WebAssembly app: the names become the app's.
    Component,
}

impl Claim<'_> {
    /// The owner a name nobody owns gets, and the user recorded as its handler.
    fn owner_and_holder(&self) -> (Option<AppOwner>, Option<Arc<str>>) {
        match self {
            Claim::Socket(user) => (
                (!user.read_only).then(|| AppOwner::User(Arc::from(user.name))),
                Some(Arc::from(user.name)),
            ),
            Claim::Configured(user) => (
                Some(AppOwner::User(Arc::from(*user))),
                Some(Arc::from(*user)),
            ),
            Claim::Component => (Some(AppOwner::Component), None),
        }
    }
}

/// The refusal of a name that belongs to someone else.
fn not_yours(name: &str) -> CoreError {
    CoreError::Forbidden(format!("Application '{name}' belongs to another user"))
}

/// Longest application name (80 minus the length of `stasis-`).
pub const MAX_APP_NAME: usize = 73;

/// A parsed event source URI (`channel:ID`, `bridge:ID`, `endpoint:TECH[/RES]`,
/// `deviceState:NAME`); an empty id means every object of the kind.
pub fn parse_source(uri: &str) -> Result<(SourceKind, &str), CoreError> {
    let (scheme, id) = uri
        .split_once(':')
        .ok_or_else(|| CoreError::BadRequest("Invalid event source URI scheme".into()))?;
    let kind = match scheme {
        "channel" => SourceKind::Channel,
        "bridge" => SourceKind::Bridge,
        "endpoint" => SourceKind::Endpoint,
        "deviceState" => SourceKind::DeviceState,
        _ => {
            return Err(CoreError::BadRequest(
                "Invalid event source URI scheme".into(),
            ));
        }
    };
    Ok((kind, id))
}

/// Device names are stored with the `Stasis:` prefix spelt that way; subscriptions use the
/// same spelling whatever case the client wrote the prefix in.
fn canonical_source(kind: SourceKind, id: &str) -> String {
    match (kind, id.get(..7)) {
        (SourceKind::DeviceState, Some(prefix)) if prefix.eq_ignore_ascii_case("stasis:") => {
            format!("Stasis:{}", &id[7..])
        }
        _ => id.to_string(),
    }
}

impl Core {
    /// Whether `claim` may make its handler (of `kind`) the handler of `app` (named `name`).
    fn check_claim(
        &self,
        app: Option<&App>,
        name: &str,
        kind: SinkKind,
        claim: &Claim<'_>,
    ) -> Result<(), CoreError> {
        let Some(app) = app else {
            return Ok(());
        };
        let active = app.handler_kind();
        if let Some(held_by) = active
            && held_by != kind
        {
            // A read-only user's socket holds nothing a deploy has to wait for.
            let listener_only = self.app_ownership && app.owner().is_none();
            if !(held_by == SinkKind::WebSocket && listener_only) {
                let holder = match held_by {
                    SinkKind::Wasm => "a WebAssembly component",
                    SinkKind::WebSocket => "a WebSocket",
                };
                return Err(CoreError::Conflict(format!(
                    "Application '{name}' is already served by {holder}"
                )));
            }
        }
        let Claim::Socket(user) = claim else {
            return Ok(());
        };
        if !self.app_ownership {
            return Ok(());
        }
        match app.owner() {
            Some(AppOwner::User(owner)) => {
                if user.read_only || (**owner != *user.name && !user.admin) {
                    return Err(not_yours(name));
                }
            }
            // Nobody's (a read-only listener's, or a component's that has gone): a
            // read/write user takes it; a read-only user only from itself.
            Some(AppOwner::Component) | None => {
                if user.read_only
                    && active.is_some()
                    && app.holder().is_some_and(|h| h != user.name)
                {
                    return Err(CoreError::Forbidden(format!(
                        "Application '{name}' is held by another user"
                    )));
                }
            }
        }
        Ok(())
    }

    /// Whether `user` may change application `app` (its subscriptions, its event filter):
    /// with ownership on, its owner or an admin.
    fn check_manage(&self, app: &App, user: &AppUser<'_>) -> Result<(), CoreError> {
        if !self.app_ownership || user.admin {
            return Ok(());
        }
        match app.owner() {
            Some(AppOwner::User(owner)) if **owner == *user.name => Ok(()),
            _ => {
                tracing::info!(
                    app = %crate::log_text::Escaped(&app.name),
                    user = %crate::log_text::Escaped(user.name),
                    "change of another user's application refused"
                );
                Err(CoreError::Forbidden(format!(
                    "Only the owner of application '{}' or an admin may change it",
                    app.name
                )))
            }
        }
    }

    fn source_exists(&self, state: &crate::core::State, kind: SourceKind, id: &str) -> bool {
        id.is_empty()
            || match kind {
                SourceKind::Channel => state.channels.contains_key(id),
                SourceKind::Bridge => state.bridges.contains_key(id),
                SourceKind::Endpoint => {
                    state.endpoints.contains_key(id)
                        || self.endpoint_technology(id).is_some()
                        || id
                            .split_once('/')
                            .is_some_and(|(tech, _)| self.endpoint_technology(tech).is_some())
                }
                SourceKind::DeviceState => true,
            }
    }

    fn change_subscriptions(
        &self,
        app: &str,
        sources: &[String],
        add: bool,
        user: &AppUser<'_>,
    ) -> Result<Value, CoreError> {
        if sources.is_empty() {
            return Err(CoreError::BadRequest(
                "Missing parameter eventSource".into(),
            ));
        }
        self.with_state(|state| {
            let Some(found) = state.apps.get(app) else {
                return Err(CoreError::NotFound("Application not found".into()));
            };
            self.check_manage(found, user)?;
            for source in sources {
                let (kind, id) = parse_source(source)?;
                let id = canonical_source(kind, id);
                if add && !self.source_exists(state, kind, &id) {
                    return Err(CoreError::Unprocessable(
                        "Event source does not exist".into(),
                    ));
                }
                if add {
                    state.apps.subscribe(app, kind, &id);
                } else if kind == SourceKind::Channel && id.is_empty() {
                    return Err(CoreError::NotImplemented("Method not implemented".into()));
                } else if !state.apps.unsubscribe(app, kind, &id) {
                    return Err(CoreError::Unprocessable(
                        "Event source was not subscribed to".into(),
                    ));
                }
            }
            Ok(state.apps.get(app).map(|a| a.json()).unwrap_or(Value::Null))
        })
    }
}

impl ControlApi<'_> {
    /// Every application.
    pub fn list_apps(&self) -> Value {
        self.with_state(|state| Value::Array(state.apps.iter().map(|a| a.json()).collect()))
    }

    /// One application.
    pub fn get_app(&self, name: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            state
                .apps
                .get(name)
                .map(|a| a.json())
                .ok_or_else(|| CoreError::NotFound("Application not found".into()))
        })
    }

    /// Subscribes an application to event sources, in order; stops at the first failure
    /// (earlier sources stay subscribed, as in Asterisk).
    pub fn subscribe(
        &self,
        app: &str,
        sources: &[String],
        user: &AppUser<'_>,
    ) -> Result<Value, CoreError> {
        self.change_subscriptions(app, sources, true, user)
    }

    /// Removes subscriptions, in order; stops at the first failure. As in Asterisk 23.4.1,
    /// only the subscription is checked (a source that is not subscribed, existing or not,
    /// is 422 `Event source was not subscribed to`), and the subscription to every channel
    /// (`channel:`) cannot be removed: 501 `Method not implemented`.
    pub fn unsubscribe(
        &self,
        app: &str,
        sources: &[String],
        user: &AppUser<'_>,
    ) -> Result<Value, CoreError> {
        self.change_subscriptions(app, sources, false, user)
    }

    /// `PUT /applications/{app}/eventFilter` with `{"allowed": [...], "disallowed": [...]}`.
    pub fn set_event_filter(
        &self,
        app: &str,
        filter: Option<&Map<String, Value>>,
        user: &AppUser<'_>,
    ) -> Result<Value, CoreError> {
        let list = |key: &str| -> Result<Option<Vec<String>>, CoreError> {
            let Some(filter) = filter else {
                return Ok(Some(Vec::new()));
            };
            if filter.is_empty() {
                return Ok(Some(Vec::new()));
            }
            let Some(value) = filter.get(key) else {
                return Ok(None);
            };
            let invalid = || CoreError::BadRequest("Invalid format definition".into());
            let entries = value.as_array().ok_or_else(invalid)?;
            entries
                .iter()
                .map(|e| {
                    e.get("type")
                        .and_then(Value::as_str)
                        .filter(|t| !t.is_empty())
                        .map(str::to_string)
                        .ok_or_else(invalid)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        };
        let allowed = list("allowed")?;
        let disallowed = list("disallowed")?;
        self.with_state(|state| {
            let Some(found) = state.apps.get(app) else {
                return Err(CoreError::NotFound("Application not found".into()));
            };
            self.check_manage(found, user)?;
            if !state.apps.set_filter(app, allowed, disallowed) {
                return Err(CoreError::NotFound("Application not found".into()));
            }
            Ok(state.apps.get(app).map(|a| a.json()).unwrap_or(Value::Null))
        })
    }

    /// `POST /events/user/{name}`: ChannelUserevent to one application, with snapshots of
    /// the named sources.
    pub fn user_event(
        &self,
        app: &str,
        name: &str,
        sources: &[String],
        variables: Option<&Map<String, Value>>,
    ) -> Result<(), CoreError> {
        if app.is_empty() {
            return Err(CoreError::BadRequest(
                "Missing parameter application".into(),
            ));
        }
        self.with_state(|state| {
            if state.apps.get(app).is_none() {
                return Err(CoreError::NotFound("Application not found".into()));
            }
            let mut userevent = variables.cloned().unwrap_or_default();
            userevent.insert("eventname".into(), json!(name));
            let mut event = Event::new("ChannelUserevent", Scope::app(app))
                .with("eventname", json!(name))
                .with("userevent", Value::Object(userevent));
            // Checked in the order given (the first bad one answers); shown as Asterisk
            // 23.4.1 shows them, channel, then bridge, then endpoint (one of each kind:
            // a later one of a kind replaces an earlier one).
            let mut found: [Option<Field>; 3] = [None, None, None];
            for source in sources.iter().filter(|s| !s.is_empty()) {
                let (kind, id) = parse_source(source)?;
                let not_found = || CoreError::Unprocessable("Event source was not found".into());
                match kind {
                    SourceKind::Channel => {
                        let snapshot = self.channel_snapshot(state, id).ok_or_else(not_found)?;
                        found[0] = Some(Field::Channel(std::sync::Arc::new(snapshot)));
                    }
                    SourceKind::Bridge => {
                        let bridge = state.bridges.get(id).ok_or_else(not_found)?;
                        found[1] = Some(Field::Json(bridge.json()));
                    }
                    SourceKind::Endpoint => {
                        let endpoint = state.endpoints.get(id).ok_or_else(not_found)?;
                        found[2] = Some(Field::Json(endpoint.json()));
                    }
                    SourceKind::DeviceState => {
                        return Err(CoreError::BadRequest(
                            "Invalid event source URI scheme".into(),
                        ));
                    }
                }
            }
            for (key, field) in ["channel", "bridge", "endpoint"].into_iter().zip(found) {
                event = match field {
                    Some(Field::Channel(snapshot)) => {
                        event.with_shared_channel(key, Some(snapshot))
                    }
                    Some(Field::Json(value)) => event.with(key, value),
                    None => event,
                };
            }
            self.publish(state, event);
            Ok(())
        })
    }
}

impl AppHost<'_> {
    /// Makes `sink` the handler of every named application, for `claim`: all of them or,
    /// when one is refused (409 held by the other kind of handler, 403 another user's),
    /// none. The previous handler of a name gets ApplicationReplaced. Names must be
    /// non-empty and at most 73 characters.
    pub fn register_apps(
        &self,
        names: &[String],
        sink: Arc<dyn EventSink>,
        subscribe_all: bool,
        claim: Claim<'_>,
    ) -> Result<(), CoreError> {
        if names.is_empty() {
            return Err(CoreError::BadRequest(
                "HTTP request is missing param: [app]".into(),
            ));
        }
        for name in names {
            if name.is_empty() || name.len() > MAX_APP_NAME {
                return Err(CoreError::BadRequest(format!(
                    "Invalid application name '{name}': it must be 1 to {MAX_APP_NAME} characters"
                )));
            }
        }
        let (owner, holder) = claim.owner_and_holder();
        self.with_state(|state| {
            for name in names {
                self.check_claim(state.apps.get(name), name, sink.kind(), &claim)?;
            }
            for name in names {
                let registered = state.apps.register(name, sink.clone(), subscribe_all);
                if let Some(app) = state.apps.get_mut(name) {
                    app.claim(owner.clone(), holder.clone());
                }
                if let Some(previous) = registered.replaced {
                    let event = Arc::new(Event::new("ApplicationReplaced", Scope::app(name)));
                    previous.deliver(name, &event);
                    tracing::info!(
                        app = %crate::log_text::Escaped(name),
                        by = %crate::log_text::Escaped(holder.as_deref().unwrap_or("a WebAssembly app")),
                        "Stasis application replaced by a new handler"
                    );
                }
            }
            Ok(())
        })
    }

    /// Whether a WebAssembly app could take `name` now (a deploy checks before compiling).
    pub fn check_component_claim(&self, name: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            self.check_claim(
                state.apps.get(name),
                name,
                SinkKind::Wasm,
                &Claim::Component,
            )
        })
    }

    /// Removes the handler `sink_id` from one application only.
    pub fn unregister_app(&self, name: &str, sink_id: u64) {
        self.with_state(|state| {
            if state.apps.is_handler(name, sink_id) {
                state.apps.detach_app(name);
            }
        });
    }

    /// The handler `sink_id` is gone: its applications become inactive (and disappear once
    /// nothing is subscribed).
    pub fn detach_sink(&self, sink_id: u64) {
        let apps = self.with_state(|state| state.apps.detach(sink_id));
        if !apps.is_empty() {
            tracing::info!(?apps, "Stasis applications lost their handler");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stasis::SinkKind;
    use crate::core::{CoreConfig, SystemInfo};

    /// A sink that counts ApplicationReplaced.
    #[derive(Debug)]
    struct Sink {
        id: u64,
        kind: SinkKind,
        replaced: std::sync::atomic::AtomicU32,
    }

    impl EventSink for Sink {
        fn kind(&self) -> SinkKind {
            self.kind
        }
        fn deliver(&self, _app: &str, event: &Arc<Event>) -> bool {
            if event.kind == "ApplicationReplaced" {
                self.replaced
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            true
        }
        fn id(&self) -> u64 {
            self.id
        }
    }

    fn sink(id: u64, kind: SinkKind) -> Arc<Sink> {
        Arc::new(Sink {
            id,
            kind,
            replaced: Default::default(),
        })
    }

    fn user(name: &str, read_only: bool, admin: bool) -> Claim<'_> {
        Claim::Socket(AppUser {
            name,
            read_only,
            admin,
        })
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|n| n.to_string()).collect()
    }

    fn core(app_ownership: bool) -> Arc<Core> {
        Core::new(
            SystemInfo::default(),
            CoreConfig {
                app_ownership,
                ..CoreConfig::default()
            },
        )
    }

    #[test]
    fn owners_keep_their_names_and_others_change_nothing() {
        let core = core(true);
        let owner = sink(1, SinkKind::WebSocket);
        core.app_host()
            .register_apps(
                &names(&["a"]),
                owner.clone(),
                false,
                user("u", false, false),
            )
            .expect("first registrant");
        let refused = core.app_host().register_apps(
            &names(&["b", "a"]),
            sink(2, SinkKind::WebSocket),
            false,
            user("v", false, false),
        );
        assert!(
            matches!(refused, Err(CoreError::Forbidden(_))),
            "{refused:?}"
        );
        assert!(core.control().get_app("b").is_err(), "all or nothing");
        let v = AppUser {
            name: "v",
            read_only: false,
            admin: false,
        };
        let changed = core.control().subscribe("a", &names(&["channel:"]), &v);
        assert!(matches!(changed, Err(CoreError::Forbidden(_))));
        assert!(matches!(
            core.control().set_event_filter("a", None, &v),
            Err(CoreError::Forbidden(_))
        ));
        assert_eq!(owner.replaced.load(std::sync::atomic::Ordering::Relaxed), 0);

        // The owner's name outlives its socket while subscribed; an admin may take it.
        let u = AppUser {
            name: "u",
            read_only: false,
            admin: false,
        };
        core.control()
            .subscribe("a", &names(&["deviceState:Stasis:x"]), &u)
            .expect("the owner subscribes");
        core.app_host().detach_sink(1);
        let lingering = core.app_host().register_apps(
            &names(&["a"]),
            sink(3, SinkKind::WebSocket),
            false,
            user("v", false, false),
        );
        assert!(matches!(lingering, Err(CoreError::Forbidden(_))));
        core.app_host()
            .register_apps(
                &names(&["a"]),
                sink(4, SinkKind::WebSocket),
                false,
                user("boss", false, true),
            )
            .expect("an admin");
    }

    #[test]
    fn components_take_listener_names_but_not_owned_ones() {
        let core = core(true);
        let listener = sink(1, SinkKind::WebSocket);
        core.app_host()
            .register_apps(
                &names(&["l"]),
                listener.clone(),
                false,
                user("ro", true, false),
            )
            .expect("a read-only listener");
        core.app_host()
            .check_component_claim("l")
            .expect("nothing held");
        core.app_host()
            .register_apps(
                &names(&["l"]),
                sink(2, SinkKind::Wasm),
                false,
                Claim::Component,
            )
            .expect("the component takes it");
        assert_eq!(
            listener.replaced.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        // A socket cannot take a component's name.
        let taken = core.app_host().register_apps(
            &names(&["l"]),
            sink(3, SinkKind::WebSocket),
            false,
            user("u", false, true),
        );
        assert!(matches!(taken, Err(CoreError::Conflict(_))));

        core.app_host()
            .register_apps(
                &names(&["o"]),
                sink(4, SinkKind::WebSocket),
                false,
                Claim::Configured("ro"),
            )
            .expect("an outbound connection's name");
        assert!(matches!(
            core.app_host().check_component_claim("o"),
            Err(CoreError::Conflict(_))
        ));
    }

    #[test]
    fn without_ownership_anyone_takes_any_name() {
        let core = core(false);
        let first = sink(1, SinkKind::WebSocket);
        core.app_host()
            .register_apps(
                &names(&["a"]),
                first.clone(),
                false,
                user("u", false, false),
            )
            .expect("first");
        core.app_host()
            .register_apps(
                &names(&["a"]),
                sink(2, SinkKind::WebSocket),
                false,
                user("ro", true, false),
            )
            .expect("Asterisk's way");
        assert_eq!(first.replaced.load(std::sync::atomic::Ordering::Relaxed), 1);
        let ro = AppUser {
            name: "ro",
            read_only: true,
            admin: false,
        };
        core.control()
            .set_event_filter("a", None, &ro)
            .expect("no owners");
        assert!(matches!(
            core.app_host().check_component_claim("a"),
            Err(CoreError::Conflict(_))
        ));
    }
}
