//! A deployed app at run time: its current version, its live sessions, and the routing of
//! the app's events to the session each belongs to. To the core, a deployed app is one more
//! Stasis application handler (an [`EventSink`]), exactly like a WebSocket.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::Shared;
use super::app_log::{AppLog, EntryKind, LogEntry};
use super::bindings::StasisAppPre;
use super::drain::{Drain, VersionSessions};
use super::kv::AppKv;
use super::limits::{FailureOutcome, Limits};
use super::session::{self, Input, Session, SessionState};
use super::store::StoredApp;
use crate::core::event::Event;
use crate::core::stasis::{EventSink, SinkKind};

/// One compiled version of an app, ready to instantiate.
pub struct AppVersion {
    /// The component's record in the app store: name, sha256, size, upload time, owner.
    pub stored: StoredApp,
    /// The component linked against the host's imports, ready to instantiate per session.
    pub pre: StasisAppPre<SessionState>,
    /// The limits its sessions run under (wasm.conf `[general]` with the app's section).
    pub limits: Limits,
    /// Its live sessions.
    pub sessions: VersionSessions,
}

impl std::fmt::Debug for AppVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppVersion")
            .field("stored", &self.stored)
            .finish()
    }
}

/// Kinds of failure, counted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The guest trapped (a panic, an out-of-bounds access, `unreachable`): `failures.traps`.
    Trap,
    /// An event used more than `cpu_ms_per_event` of CPU: `failures.timeouts`, and of
    /// those `failures.cpu`.
    Cpu,
    /// An event took longer than `event_timeout_ms` of wall clock: `failures.timeouts`.
    Timeout,
    /// The guest's memory would grow past `memory_mb` (or the system refused the growth):
    /// `failures.limits`, and of those `failures.memory`.
    Memory,
    /// Another wasm.conf limit was reached (stack, tables, timers, queued events, the
    /// key-value store): `failures.limits`.
    Limit,
}

/// One failure, as `failures.last` shows it.
#[derive(Debug)]
pub struct FailureReport<'a> {
    /// What happened, in words for the app's author.
    pub message: String,
    /// The session that failed; `None` for a call refused before it had one.
    pub session: Option<u64>,
    /// The session's channels when it failed.
    pub channels: &'a [String],
    /// The sha256 of the app version that failed.
    pub sha256: &'a str,
    /// The guest's error with its WebAssembly backtrace, when it trapped (`failures.last`
    /// keeps at most [`MAX_BACKTRACE`] bytes of it).
    pub backtrace: Option<&'a str>,
}

/// The most of a failure's backtrace `failures.last` keeps, in bytes.
pub const MAX_BACKTRACE: usize = 4096;

/// `text` cut to at most `max` bytes, on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// An app version as logs and failures name it: the first 12 hex digits of its sha256.
pub fn version_tag(sha256: &str) -> &str {
    sha256.get(..12).unwrap_or(sha256)
}

/// Counters shown by `GET /ari/wasm/{app}`.
#[derive(Debug, Default)]
pub struct Stats {
    started: AtomicU64,
    live: AtomicU64,
    traps: AtomicU64,
    timeouts: AtomicU64,
    /// Of the timeouts, the CPU budget's.
    cpu: AtomicU64,
    limits: AtomicU64,
    /// Of the limits, memory's.
    memory: AtomicU64,
    /// `failures.last`: the message, when, the session and its channels, the app version.
    last_failure: Mutex<Option<Value>>,
    /// Timers pending over all sessions.
    pub timers_pending: AtomicU64,
    /// The app's own log (`GET /ari/wasm/{app}/logs`): every failure goes there too.
    pub log: Arc<AppLog>,
}

impl Stats {
    /// Counts a session that started (`sessions_started`, `sessions_live`).
    pub fn session_started(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a session that ended (`sessions_live`).
    pub fn session_ended(&self) {
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    /// Counts a failure of `kind` and keeps it as `failures.last`, with the time, the
    /// session and channels it ended (none for a refused call), and the app's version.
    pub fn failed(&self, kind: FailureKind, failure: FailureReport<'_>) {
        let (counter, detail) = match kind {
            FailureKind::Trap => (&self.traps, None),
            FailureKind::Cpu => (&self.timeouts, Some(&self.cpu)),
            FailureKind::Timeout => (&self.timeouts, None),
            FailureKind::Memory => (&self.limits, Some(&self.memory)),
            FailureKind::Limit => (&self.limits, None),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(detail) = detail {
            detail.fetch_add(1, Ordering::Relaxed);
        }
        let last = json!({
            "message": failure.message,
            "time": crate::core::time::now(),
            "session": failure.session,
            "channels": failure.channels,
            "version": version_tag(failure.sha256),
            "backtrace": failure.backtrace.map(|b| cut(b, MAX_BACKTRACE)),
        });
        if let Ok(mut slot) = self.last_failure.lock() {
            *slot = Some(last);
        }
        self.log.push(LogEntry::now(
            version_tag(failure.sha256),
            failure.session,
            EntryKind::Failure,
            failure.message,
        ));
    }

    fn json(&self) -> Value {
        let traps = self.traps.load(Ordering::Relaxed);
        let timeouts = self.timeouts.load(Ordering::Relaxed);
        let limits = self.limits.load(Ordering::Relaxed);
        json!({
            "sessions_live": self.live.load(Ordering::Relaxed),
            "sessions_started": self.started.load(Ordering::Relaxed),
            "failures": {
                "total": traps + timeouts + limits,
                "traps": traps,
                "timeouts": timeouts,
                "cpu": self.cpu.load(Ordering::Relaxed),
                "limits": limits,
                "memory": self.memory.load(Ordering::Relaxed),
                "last": self.last_failure.lock().ok().and_then(|l| l.clone()),
            },
            "timers_pending": self.timers_pending.load(Ordering::Relaxed),
        })
    }
}

#[derive(Debug, Default)]
struct Routes {
    by_channel: HashMap<String, Arc<Session>>,
    by_bridge: HashMap<String, Arc<Session>>,
    /// Channels a session originated, until their StasisStart.
    expected: HashMap<String, Arc<Session>>,
}

/// A deployed app.
#[derive(Debug)]
pub struct AppRuntime {
    /// The app's name, under `/ari/wasm/{app}` and in the Stasis application it registers.
    pub name: String,
    /// What every app shares: the engine, the core, the linker.
    pub shared: Arc<Shared>,
    current: Mutex<Arc<AppVersion>>,
    /// Versions that were current before: those with live sessions are draining.
    previous: Mutex<Vec<std::sync::Weak<AppVersion>>>,
    /// The app was removed and its live sessions are finishing.
    pub drain: Drain,
    routes: Mutex<Routes>,
    /// Its counters, for `GET /ari/wasm/{app}`.
    pub stats: Stats,
    kv: AppKv,
    /// Bridges created by any session of the app: every session of the app may use them.
    bridges: Mutex<std::collections::HashSet<String>>,
    sink_id: u64,
    me: std::sync::Weak<AppRuntime>,
    from_cache: std::sync::atomic::AtomicBool,
    /// Becomes true when the app is deleted: every live session ends at once, whatever its
    /// guest is doing.
    retired: tokio::sync::watch::Sender<bool>,
}

static NEXT_SINK: AtomicU64 = AtomicU64::new(1 << 40);

impl AppRuntime {
    /// A runtime serving `version` under `name`, with its key-value store.
    pub fn new(
        name: String,
        shared: Arc<Shared>,
        version: AppVersion,
        kv: AppKv,
    ) -> Arc<AppRuntime> {
        let stats = Stats::default();
        let tag = version_tag(&version.stored.sha256).to_string();
        stats.log.push(LogEntry::now(
            &tag,
            None,
            EntryKind::Deploy,
            format!("version {tag} deployed ({} bytes)", version.stored.size),
        ));
        Arc::new_cyclic(|me| AppRuntime {
            name,
            shared,
            current: Mutex::new(Arc::new(version)),
            previous: Mutex::new(Vec::new()),
            drain: Drain::default(),
            routes: Mutex::new(Routes::default()),
            stats,
            kv,
            bridges: Mutex::new(std::collections::HashSet::new()),
            sink_id: NEXT_SINK.fetch_add(1, Ordering::Relaxed),
            me: me.clone(),
            from_cache: std::sync::atomic::AtomicBool::new(false),
            retired: tokio::sync::watch::Sender::new(false),
        })
    }

    /// The app was deleted: its live sessions end (their channels hang up or continue per
    /// `on_failure`) and it starts none.
    pub fn retire(&self) {
        self.retired.send_replace(true);
    }

    /// Watches for [`retire`](Self::retire).
    pub fn retired(&self) -> tokio::sync::watch::Receiver<bool> {
        self.retired.subscribe()
    }

    /// The version new sessions get.
    pub fn current(&self) -> Arc<AppVersion> {
        self.current
            .lock()
            .map(|c| c.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// Hot swap: new sessions get `version`, live ones finish on theirs.
    pub fn replace(&self, version: AppVersion) {
        let new = version_tag(&version.stored.sha256).to_string();
        let size = version.stored.size;
        let old = match self.current.lock() {
            Ok(mut current) => std::mem::replace(&mut *current, Arc::new(version)),
            Err(_) => return,
        };
        let old_tag = version_tag(&old.stored.sha256).to_string();
        self.stats.log.push(LogEntry::now(
            &new,
            None,
            EntryKind::Deploy,
            format!(
                "version {new} replaces {old_tag} ({size} bytes): new calls get it, calls in progress finish on theirs"
            ),
        ));
        // Kept weakly: a version lives as long as a session runs it.
        if let Ok(mut previous) = self.previous.lock() {
            previous.retain(|v| v.strong_count() > 0);
            previous.push(Arc::downgrade(&old));
        }
    }

    /// The current version and the earlier ones with live sessions (most recent first),
    /// one entry per version: `{version, sha256, uploaded, sessions_live, state}`.
    fn versions(&self, current: &AppVersion) -> Value {
        let draining = self.drain.is_draining();
        let mut shown: Vec<(String, String, u64, bool)> = vec![(
            current.stored.sha256.clone(),
            current.stored.uploaded.clone(),
            current.sessions.live(),
            true,
        )];
        let earlier: Vec<Arc<AppVersion>> = self
            .previous
            .lock()
            .map(|p| {
                p.iter()
                    .rev()
                    .filter_map(std::sync::Weak::upgrade)
                    .collect()
            })
            .unwrap_or_default();
        for version in earlier {
            let live = version.sessions.live();
            if live == 0 {
                continue;
            }
            // A version rolled back to is loaded afresh: its older sessions count with it.
            match shown.iter_mut().find(|s| s.0 == version.stored.sha256) {
                Some(entry) => entry.2 += live,
                None => shown.push((
                    version.stored.sha256.clone(),
                    version.stored.uploaded.clone(),
                    live,
                    false,
                )),
            }
        }
        Value::Array(
            shown
                .into_iter()
                .map(|(sha256, uploaded, live, is_current)| {
                    json!({
                        "version": version_tag(&sha256),
                        "sha256": sha256,
                        "uploaded": uploaded,
                        "sessions_live": live,
                        "state": if is_current && !draining { "current" } else { "draining" },
                    })
                })
                .collect(),
        )
    }

    /// The app's own log (`GET /ari/wasm/{app}/logs`).
    pub fn log(&self) -> &Arc<AppLog> {
        &self.stats.log
    }

    /// Records whether the current version's code came from the compiled cache.
    pub fn set_origin(&self, from_cache: bool) {
        self.from_cache.store(from_cache, Ordering::Relaxed);
    }

    /// The limits of the current version.
    pub fn limits(&self) -> Limits {
        self.current().limits.clone()
    }

    /// `GET /ari/wasm/{app}`.
    pub fn json(&self) -> Value {
        let current = self.current();
        let mut value = json!({
            "name": self.name,
            "sha256": current.stored.sha256,
            "size": current.stored.size,
            "uploaded": current.stored.uploaded,
            "owner": current.stored.owner,
            "status": if self.drain.is_draining() { "draining" } else { "ready" },
            "compiled_from_cache": self.from_cache.load(Ordering::Relaxed),
        });
        if let (Some(object), Value::Object(stats)) = (value.as_object_mut(), self.stats.json()) {
            object.extend(stats);
            let (keys, bytes) = self.kv.usage();
            object.insert("kv".into(), json!({ "keys": keys, "bytes": bytes }));
            object.insert("versions".into(), self.versions(&current));
            if let Some(until) = self.drain.until() {
                object.insert("drain_until".into(), Value::String(until));
            }
        }
        value
    }

    /// A channel this session is about to originate belongs to it from its StasisStart on.
    pub fn expect_channel(&self, id: &str, session: &Arc<Session>) {
        if let Ok(mut channels) = session.channels.lock() {
            channels.insert(id.to_string());
        }
        if let Ok(mut routes) = self.routes.lock() {
            routes.expected.insert(id.to_string(), session.clone());
            routes.by_channel.insert(id.to_string(), session.clone());
        }
    }

    /// The originate failed: forget the expected channel.
    pub fn unexpect_channel(&self, id: &str, session: &Arc<Session>) {
        if let Ok(mut channels) = session.channels.lock() {
            channels.remove(id);
        }
        if let Ok(mut routes) = self.routes.lock() {
            routes.expected.remove(id);
            routes.by_channel.remove(id);
        }
    }

    /// A session created this bridge: every session of the app may use it, and events about
    /// it that concern no session's channel go to the creator.
    pub fn route_bridge(&self, id: &str, session: &Arc<Session>) {
        if let Ok(mut bridges) = self.bridges.lock() {
            bridges.insert(id.to_string());
        }
        if let Ok(mut routes) = self.routes.lock() {
            routes.by_bridge.insert(id.to_string(), session.clone());
        }
    }

    /// True when a session of this app created the bridge.
    pub fn owns_bridge(&self, id: &str) -> bool {
        self.bridges.lock().is_ok_and(|b| b.contains(id))
    }

    /// The bridge is gone.
    pub fn bridge_destroyed(&self, id: &str) {
        if let Ok(mut bridges) = self.bridges.lock() {
            bridges.remove(id);
        }
        if let Ok(mut routes) = self.routes.lock() {
            routes.by_bridge.remove(id);
        }
    }

    /// A session ended: drop every route to it.
    pub fn forget(&self, session: &Arc<Session>) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.by_channel.retain(|_, s| !Arc::ptr_eq(s, session));
            routes.by_bridge.retain(|_, s| !Arc::ptr_eq(s, session));
            routes.expected.retain(|_, s| !Arc::ptr_eq(s, session));
        }
    }

    /// Live sessions.
    pub fn live_sessions(&self) -> u64 {
        self.stats.live.load(Ordering::Relaxed)
    }

    /// The app's key-value store; writes are checked against the current version's limits.
    pub fn kv(&self) -> &AppKv {
        &self.kv
    }

    /// A call arrived while the app has `max_sessions_per_app` live sessions: it gets no
    /// session; its channel hangs up or continues per `on_failure`, as if the app failed.
    fn refuse(&self, channel: &str, version: &AppVersion) {
        let cap = version.limits.max_sessions_per_app.unwrap_or(u32::MAX);
        tracing::warn!(app = %self.name, version = %version_tag(&version.stored.sha256), channel, cap, "app is at max_sessions_per_app: the call gets no session");
        self.stats.failed(
            FailureKind::Limit,
            FailureReport {
                message: format!(
                    "session limit of {cap} per app reached (wasm.conf max_sessions_per_app): a call was refused"
                ),
                session: None,
                channels: &[channel.to_string()],
                sha256: &version.stored.sha256,
                backtrace: None,
            },
        );
        self.turn_away(channel, version);
    }

    /// A call the app takes no session for: its channel hangs up or continues per
    /// `on_failure`.
    fn turn_away(&self, channel: &str, version: &AppVersion) {
        let core = self.shared.core.clone();
        let channel = channel.to_string();
        let outcome = version.limits.on_failure;
        // Not from within the core's delivery of the event: the hangup locks the core.
        tokio::spawn(async move {
            let result = match outcome {
                FailureOutcome::Hangup => {
                    core.control().hangup(&channel, crate::core::cause::FAILURE)
                }
                FailureOutcome::Continue => core.control().continue_after_failure(&channel),
            };
            if let Err(e) = result {
                tracing::debug!(channel, error = %e, "refusing a call the app takes no session for");
            }
        });
    }

    /// Routes one event; returns the session it went to, creating one on a new StasisStart.
    fn route(&self, event: &Arc<Event>) -> Option<Arc<Session>> {
        let mut routes = self.routes.lock().ok()?;
        let channel_id = event.channel_id();
        if event.kind == "StasisStart" {
            let id = channel_id?.to_string();
            if let Some(session) = routes.expected.remove(&id) {
                return Some(session);
            }
            if let Some(session) = routes.by_channel.get(&id) {
                return Some(session.clone());
            }
            if *self.retired.borrow() {
                return None;
            }
            let me = self.me.upgrade()?;
            let version = self.current();
            if self.drain.is_draining() {
                tracing::warn!(app = %self.name, version = %version_tag(&version.stored.sha256), channel = %id, "app is being removed (its live calls are draining): the call gets no session");
                self.turn_away(&id, &version);
                return None;
            }
            let cap = version.limits.max_sessions_per_app.unwrap_or(u32::MAX);
            if self.live_sessions() >= u64::from(cap) {
                self.refuse(&id, &version);
                return None;
            }
            let (session, rx) = Session::new(me, version.clone());
            // Counted here, under the routes lock, so that a burst of calls cannot pass
            // the cap before the sessions' tasks start.
            self.stats.session_started();
            version.sessions.started();
            if let Ok(mut channels) = session.channels.lock() {
                channels.insert(id.clone());
            }
            routes.by_channel.insert(id, session.clone());
            tokio::spawn(session::run(session.clone(), version, rx));
            return Some(session);
        }
        let session = channel_id
            .and_then(|c| routes.by_channel.get(c))
            .or_else(|| {
                event
                    .scope
                    .channels
                    .iter()
                    .find_map(|c| routes.by_channel.get(&**c))
            })
            .or_else(|| {
                event
                    .scope
                    .bridges
                    .iter()
                    .find_map(|b| routes.by_bridge.get(&**b))
            })
            .cloned()?;
        if event.kind == "StasisEnd"
            && let Some(id) = channel_id
        {
            routes.by_channel.remove(id);
            if let Ok(mut channels) = session.channels.lock() {
                channels.remove(id);
            }
        }
        Some(session)
    }
}

impl EventSink for AppRuntime {
    fn deliver(&self, _app: &str, event: &Arc<Event>) -> bool {
        let Some(session) = self.route(event) else {
            return true;
        };
        if session.closed.load(Ordering::Relaxed) {
            return true;
        }
        if session.tx.try_send(Input::Event(event.clone())).is_err() {
            // The guest is not keeping up with its own events: end the session (its task
            // sees the closed flag) rather than grow without bound or block the core.
            tracing::warn!(app = %self.name, version = %version_tag(&session.version.stored.sha256), session = session.id, "session event queue full: the session is ended");
            session.closed.store(true, Ordering::Relaxed);
            let channels = session.channel_ids();
            self.stats.failed(
                FailureKind::Limit,
                FailureReport {
                    message: super::session::queue_full(&session.version.limits),
                    session: Some(session.id),
                    channels: &channels,
                    sha256: &session.version.stored.sha256,
                    backtrace: None,
                },
            );
        }
        true
    }

    fn id(&self) -> u64 {
        self.sink_id
    }

    fn kind(&self) -> SinkKind {
        SinkKind::Wasm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backtrace_is_cut_on_a_character_boundary() {
        assert_eq!(cut("short", MAX_BACKTRACE), "short");
        assert_eq!(cut("ab\u{e9}cd", 3), "ab");
        assert_eq!(cut("ab\u{e9}cd", 4), "ab\u{e9}");
        let long = "x".repeat(MAX_BACKTRACE + 10);
        assert_eq!(cut(&long, MAX_BACKTRACE).len(), MAX_BACKTRACE);
    }
}
