//! Call sessions: one component instance (one wasmtime `Store`) per call, created when the
//! first channel enters the app and dropped when its last channel leaves. Events of a session
//! are handled one at a time, in order, each within the app's CPU budget and time limit.
//! The host imports that act on calls are implemented here, against the core, and only for
//! the session's own channels and bridges; those that serve the guest itself (timers, log,
//! key-value store) are in `session/services.rs`, and the limits and how a failure is
//! classified in `session/failure.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use wasmtime::component::ResourceTable;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod failure;
mod services;

use super::app_log::{EntryKind, LogEntry};
use super::bindings::wari::stasis::{ari, call, types};
use super::convert;
use super::limits::{FailureOutcome, Limits, TICK};
use super::names;
use super::output::GuestOutput;
use super::runtime::{AppRuntime, AppVersion, FailureKind, FailureReport, version_tag};
use crate::core::event::Event;
use crate::core::{CoreError, cause};
use failure::{Exceeded, Failure, GuestLimiter};

static NEXT_SESSION: AtomicU64 = AtomicU64::new(1);

/// What a session's task receives.
#[derive(Debug)]
pub enum Input {
    Event(Arc<Event>),
    Timer(u64),
}

/// A live session, shared between its task, the app's event routing and its host imports.
#[derive(Debug)]
pub struct Session {
    pub id: u64,
    pub app: Arc<AppRuntime>,
    /// The app version the session runs (it keeps it when the app is replaced).
    pub version: Arc<AppVersion>,
    /// Channels the session owns (entered with it or originated by it).
    pub channels: Mutex<HashSet<String>>,
    /// Bridges the session created.
    pub bridges: Mutex<HashSet<String>>,
    pub tx: mpsc::Sender<Input>,
    timers: Mutex<HashMap<u64, tokio::task::AbortHandle>>,
    next_timer: AtomicU64,
    /// Set once the session failed or ended: it accepts no more events.
    pub closed: std::sync::atomic::AtomicBool,
}

impl Session {
    /// A new session of `app`; its task must be started with [`run`].
    pub fn new(
        app: Arc<AppRuntime>,
        version: Arc<AppVersion>,
    ) -> (Arc<Session>, mpsc::Receiver<Input>) {
        let (tx, rx) = mpsc::channel(version.limits.max_queued_events.max(1));
        (
            Arc::new(Session {
                id: NEXT_SESSION.fetch_add(1, Ordering::Relaxed),
                app,
                version,
                channels: Mutex::new(HashSet::new()),
                bridges: Mutex::new(HashSet::new()),
                tx,
                timers: Mutex::new(HashMap::new()),
                next_timer: AtomicU64::new(1),
                closed: std::sync::atomic::AtomicBool::new(false),
            }),
            rx,
        )
    }

    fn owns_channel(&self, id: &str) -> bool {
        self.channels.lock().is_ok_and(|c| c.contains(id))
    }

    /// Bridges belong to the app: any session of it may use one another session created.
    fn owns_bridge(&self, id: &str) -> bool {
        self.app.owns_bridge(id)
    }

    /// Channels currently owned.
    pub fn channel_ids(&self) -> Vec<String> {
        self.channels
            .lock()
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Takes a timer out of the table (it fired or was cancelled).
    fn timer_done(&self, id: u64) -> Option<tokio::task::AbortHandle> {
        let handle = self.timers.lock().ok()?.remove(&id)?;
        self.app
            .stats
            .timers_pending
            .fetch_sub(1, Ordering::Relaxed);
        Some(handle)
    }

    fn cancel_timers(&self) {
        if let Ok(mut timers) = self.timers.lock() {
            let pending = timers.len() as u64;
            for (_, handle) in timers.drain() {
                handle.abort();
            }
            self.app
                .stats
                .timers_pending
                .fetch_sub(pending, Ordering::Relaxed);
        }
    }
}

/// The data of one session's `Store`.
pub struct SessionState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: GuestLimiter,
    /// Epoch ticks used by the current event.
    ticks: u64,
    budget: u64,
    /// When the current event's handling began, and how long it may take in all (guest code
    /// plus host calls).
    event_started: Instant,
    event_timeout: Duration,
    session: Arc<Session>,
    log_window: (Instant, u32),
    logs_dropped: u64,
}

impl WasiView for SessionState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Runs a session until its last channel leaves or it fails.
pub(crate) async fn run(
    session: Arc<Session>,
    version: Arc<AppVersion>,
    mut rx: mpsc::Receiver<Input>,
) {
    let app = session.app.clone();
    let limits = version.limits.clone();
    let tag = version_tag(&version.stored.sha256);
    let stdout = GuestOutput::new(
        &app.name,
        tag,
        session.id,
        "stdout",
        limits.log_lines_per_second,
    )
    .feeding(app.log().clone());
    let stderr = GuestOutput::new(
        &app.name,
        tag,
        session.id,
        "stderr",
        limits.log_lines_per_second,
    )
    .feeding(app.log().clone());
    let state = SessionState {
        wasi: WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build(),
        table: ResourceTable::new(),
        limits: GuestLimiter::new(&limits),
        ticks: 0,
        budget: limits.cpu_ticks_per_event,
        event_started: Instant::now(),
        event_timeout: limits.event_timeout,
        session: session.clone(),
        log_window: (Instant::now(), 0),
        logs_dropped: 0,
    };
    app.log().push(LogEntry::now(
        tag,
        Some(session.id),
        EntryKind::Session,
        format!("started channel={}", session.channel_ids().join(",")),
    ));
    let shared_tag: Arc<str> = Arc::from(tag);
    let mut store = Store::new(&app.shared.engine.engine, state);
    store.limiter(|s| &mut s.limits);
    store.epoch_deadline_callback(|mut ctx| {
        // Runs at every epoch tick while guest code executes: the CPU budget and the
        // event's wall-clock limit are both enforced here, with no timer per event.
        let state = ctx.data_mut();
        state.ticks += 1;
        if state.ticks > state.budget {
            let ms = u128::from(state.budget) * TICK.as_millis();
            Err(wasmtime::Error::new(Exceeded::Cpu(ms)))
        } else if state.event_started.elapsed() > state.event_timeout {
            Err(wasmtime::Error::new(Exceeded::Time(
                state.event_timeout.as_millis(),
            )))
        } else {
            Ok(UpdateDeadline::Yield(1))
        }
    });
    store.set_epoch_deadline(1);
    // Epoch interruption stops guest code, but not a host call the guest waits in (a WASI
    // `pollable.block` on a long timer, say): the host future itself is bounded by the
    // event timeout, and dropped at once when the app is deleted.
    let mut retired = app.retired();
    let deadline = tokio::time::sleep(limits.event_timeout);
    tokio::pin!(deadline);
    let instantiating = app.shared.engine.guest_call();
    let instantiated = tokio::select! {
        biased;
        _ = retired.wait_for(|r| *r) => Err(Failure::Retired),
        () = &mut deadline => Err(Failure::blocked(&limits, "its start")),
        result = version.pre.instantiate_async(&mut store) => {
            result.map_err(|e| Failure::Instantiate(format!("{e:?}")))
        }
    };
    drop(instantiating);
    let failure = match instantiated {
        Err(failure) => Some(failure),
        Ok(instance) => {
            let mut failure = None;
            loop {
                let input = tokio::select! {
                    biased;
                    _ = retired.wait_for(|r| *r) => {
                        failure = Some(Failure::Retired);
                        break;
                    }
                    input = rx.recv() => input,
                };
                let Some(input) = input else { break };
                if session.closed.load(Ordering::Relaxed) {
                    failure = Some(Failure::QueueFull);
                    break;
                }
                // The app log's oldest entry, let go of once the guest has the event.
                let mut released = None;
                let (event, is_end, handling) = match &input {
                    Input::Event(event) => {
                        released = app.log().push_untrimmed(LogEntry::event(
                            shared_tag.clone(),
                            session.id,
                            event.clone(),
                        ));
                        (convert::event(event), event.kind == "StasisEnd", event.kind)
                    }
                    Input::Timer(id) => (types::Event::Timer(*id), false, "a timer"),
                };
                let started = Instant::now();
                store.data_mut().ticks = 0;
                store.data_mut().event_started = started;
                store.set_epoch_deadline(1);
                deadline
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(started) + limits.event_timeout);
                let running = app.shared.engine.guest_call();
                let result = tokio::select! {
                    biased;
                    _ = retired.wait_for(|r| *r) => Err(Failure::Retired),
                    () = &mut deadline => Err(Failure::blocked(&limits, handling)),
                    result = instance.wari_stasis_handler().call_on_event(&mut store, &event) => {
                        result.map_err(|trap| Failure::from_error(&trap, handling))
                    }
                };
                drop(running);
                drop(released);
                if let Err(stopped) = result {
                    failure = Some(stopped);
                    break;
                }
                if is_end && session.channels.lock().is_ok_and(|c| c.is_empty()) {
                    break;
                }
            }
            failure
        }
    };
    session.closed.store(true, Ordering::Relaxed);
    session.cancel_timers();
    let dropped = store.data().logs_dropped + stdout.dropped() + stderr.dropped();
    if dropped > 0 {
        tracing::warn!(app = %app.name, version = %version_tag(&version.stored.sha256), session = session.id, dropped, "app log lines dropped by the rate limit");
    }
    drop(store);
    let ended = match &failure {
        None => "ended: finished",
        Some(Failure::Retired) => "ended: the app was deleted",
        Some(_) => "ended: failed",
    };
    if let Some(failure) = failure {
        // A guest's panic report (on its stderr) says what went wrong better than the
        // trap it ends in (`unreachable` executed).
        let failure = match (failure, stderr.take_panic()) {
            (Failure::Trap(kind, _, detail), Some(panic)) => Failure::Trap(kind, panic, detail),
            (failure, _) => failure,
        };
        fail(&session, &app, &version, failure, limits.on_failure);
    }
    app.log().push(LogEntry::now(
        tag,
        Some(session.id),
        EntryKind::Session,
        ended.to_string(),
    ));
    end(&session, &app);
}

fn fail(
    session: &Session,
    app: &AppRuntime,
    version: &AppVersion,
    failure: Failure,
    outcome: FailureOutcome,
) {
    let channels = session.channel_ids();
    let (kind, what, cause, detail) = match failure {
        Failure::Retired => {
            tracing::info!(app = %app.name, version = %version_tag(&version.stored.sha256), session = session.id, ?channels, "WebAssembly app deleted: its session is ended");
            finish_channels(app, channels, outcome);
            return;
        }
        Failure::QueueFull => {
            tracing::error!(app = %app.name, version = %version_tag(&version.stored.sha256), session = session.id, ?channels, "WebAssembly app failed: {}", queue_full(&version.limits));
            finish_channels(app, channels, outcome);
            return;
        }
        Failure::Instantiate(e) => (
            FailureKind::Limit,
            "could not be instantiated",
            e.lines().next().unwrap_or_default().to_string(),
            e,
        ),
        Failure::Trap(kind, cause, detail) => (kind, "failed", cause, detail),
    };
    let sha256 = &version.stored.sha256;
    let cause = crate::log_text::Escaped(&cause);
    // One line names the failure with its app, version, session and channels; the
    // WebAssembly backtrace (the guest's frames, never the host's) follows it.
    tracing::error!(app = %app.name, version = %version_tag(sha256), session = session.id, ?channels, wasm_backtrace = %detail, "WebAssembly app {what}: {cause}");
    app.stats.failed(
        kind,
        FailureReport {
            message: format!("{what}: {cause}"),
            session: Some(session.id),
            channels: &channels,
            sha256,
            backtrace: Some(&detail),
        },
    );
    finish_channels(app, channels, outcome);
}

/// The channels of a session that failed or was ended hang up or continue in the dialplan.
fn finish_channels(app: &AppRuntime, channels: Vec<String>, outcome: FailureOutcome) {
    let core = app.shared.core.control();
    for channel in channels {
        let result = match outcome {
            FailureOutcome::Hangup => core.hangup(&channel, cause::FAILURE),
            FailureOutcome::Continue => core.continue_after_failure(&channel),
        };
        if let Err(e) = result {
            tracing::debug!(channel, error = %e, "cleaning up after a failed session");
        }
    }
}

fn end(session: &Arc<Session>, app: &Arc<AppRuntime>) {
    // Bridges this session created and nobody uses any more are cleaned up; bridges other
    // sessions of the app still use (a conference) stay.
    let bridges: Vec<String> = session
        .bridges
        .lock()
        .map(|b| b.iter().cloned().collect())
        .unwrap_or_default();
    for bridge in bridges {
        let empty = app
            .shared
            .core
            .control()
            .get_bridge(&bridge)
            .map(|b| b["channels"].as_array().is_none_or(|c| c.is_empty()))
            .unwrap_or(false);
        if empty {
            let _ = app.shared.core.control().destroy_bridge(&bridge);
            app.bridge_destroyed(&bridge);
        }
    }
    app.forget(session);
    app.stats.session_ended();
    session.version.sessions.ended();
    app.drain.session_ended();
}

fn error(e: CoreError) -> types::Error {
    let (status, message) = crate::host_api::wire::core_error(e);
    types::Error {
        status: status.as_u16(),
        message,
    }
}

fn not_yours(what: &str, id: &str) -> types::Error {
    types::Error {
        status: 403,
        message: format!("{what} '{id}' does not belong to this session"),
    }
}

/// A name outside what the app may touch ([`names`]).
fn refused(refusal: names::Refusal) -> types::Error {
    types::Error {
        status: 403,
        message: refusal.to_string(),
    }
}

type CallResult<T> = wasmtime::Result<Result<T, types::Error>>;

impl SessionState {
    /// The core's ARI control API, which the typed host calls use.
    fn core(&self) -> crate::core::control::ControlApi<'_> {
        self.session.app.shared.core.control()
    }

    /// The quota account of the user who owns the app: the channels and bridges its
    /// sessions create count against it (none for apps without an owner).
    fn owner_account(&self) -> Option<Arc<crate::core::quota::Account>> {
        let version = self.session.app.current();
        let owner = version.stored.owner.as_deref()?;
        self.core().quotas().account(owner).cloned()
    }

    fn channel<T>(
        &self,
        id: &str,
        f: impl FnOnce(crate::core::control::ControlApi<'_>) -> Result<T, CoreError>,
    ) -> CallResult<T> {
        if !self.session.owns_channel(id) {
            return Ok(Err(not_yours("Channel", id)));
        }
        Ok(f(self.core()).map_err(error))
    }
}

impl types::Host for SessionState {}

impl call::Host for SessionState {
    fn answer(&mut self, channel: String) -> CallResult<()> {
        self.channel(&channel, |core| core.answer(&channel))
    }

    fn hangup(&mut self, channel: String, reason: types::HangupReason) -> CallResult<()> {
        let cause = convert::hangup_cause(reason);
        self.channel(&channel, |core| core.hangup(&channel, cause))
    }

    fn ring(&mut self, channel: String) -> CallResult<()> {
        self.channel(&channel, |core| {
            core.indicate(&channel, crate::core::tech::Indication::Ringing)
        })
    }

    fn progress(&mut self, channel: String) -> CallResult<()> {
        self.channel(&channel, |core| {
            core.indicate(&channel, crate::core::tech::Indication::Progress)
        })
    }

    fn send_dtmf(&mut self, channel: String, digits: String) -> CallResult<()> {
        self.channel(&channel, |core| {
            core.send_dtmf(
                &channel,
                &digits,
                Duration::ZERO,
                Duration::from_millis(100),
                Duration::from_millis(100),
                Duration::ZERO,
            )
        })
    }

    fn hold(&mut self, channel: String, on: bool) -> CallResult<()> {
        let indication = if on {
            crate::core::tech::Indication::Hold
        } else {
            crate::core::tech::Indication::Unhold
        };
        self.channel(&channel, |core| core.indicate(&channel, indication))
    }

    fn mute(&mut self, channel: String, direction: types::Direction, on: bool) -> CallResult<()> {
        let direction = match direction {
            types::Direction::Both => "both",
            types::Direction::In => "in",
            types::Direction::Out => "out",
        };
        self.channel(&channel, |core| core.mute(&channel, direction, on))
    }

    fn play(&mut self, channel: String, media: Vec<String>) -> CallResult<String> {
        if let Err(message) =
            names::own_media(&self.session.app.name, media.iter().map(String::as_str))
        {
            return Ok(Err(refused(message)));
        }
        // The same path as `POST /channels/{id}/play`: the events come back to the session.
        self.channel(&channel, |core| {
            let playback = core.play_on_channel(
                &channel,
                crate::core::media::PlayRequest {
                    media,
                    ..Default::default()
                },
            )?;
            Ok(playback["id"].as_str().unwrap_or_default().to_string())
        })
    }

    fn record_channel(
        &mut self,
        channel: String,
        name: String,
        format: String,
        max: u32,
    ) -> CallResult<String> {
        // The same path as `POST /channels/{id}/record`, with the same name checks, in the
        // app's own namespace of recordings.
        if let Err(message) = names::own_recording(&self.session.app.name, &name) {
            return Ok(Err(refused(message)));
        }
        let owner = self.owner_account();
        self.channel(&channel, |core| {
            let recording = core.record_channel(
                &channel,
                crate::core::media::RecordChannelRequest {
                    name,
                    format,
                    max_duration_seconds: i64::from(max),
                    ..Default::default()
                },
                owner.as_ref(),
            )?;
            Ok(recording["name"].as_str().unwrap_or_default().to_string())
        })
    }

    fn get_variable(&mut self, channel: String, name: String) -> CallResult<String> {
        self.channel(&channel, |core| core.get_var(&channel, &name))
    }

    fn set_variable(&mut self, channel: String, name: String, value: String) -> CallResult<()> {
        self.channel(&channel, |core| {
            core.set_var(&channel, &name, Some(&value), false)
        })
    }

    fn get_channel(&mut self, channel: String) -> CallResult<types::Channel> {
        self.channel(&channel, |core| {
            core.get_channel(&channel)
                .map(|json| convert::channel(&json))
        })
    }

    fn create_bridge(&mut self, bridge_type: String) -> CallResult<types::Bridge> {
        let owner = self.owner_account();
        match self
            .core()
            .create_bridge_with_vars(None, &bridge_type, "", &[], owner.as_ref())
        {
            Ok(json) => {
                let bridge = convert::bridge(&json);
                if let Ok(mut owned) = self.session.bridges.lock() {
                    owned.insert(bridge.id.clone());
                }
                self.session.app.route_bridge(&bridge.id, &self.session);
                Ok(Ok(bridge))
            }
            Err(e) => Ok(Err(error(e))),
        }
    }

    fn add_to_bridge(&mut self, bridge: String, channel: String) -> CallResult<()> {
        if !self.session.owns_bridge(&bridge) {
            return Ok(Err(not_yours("Bridge", &bridge)));
        }
        self.channel(&channel, |core| {
            core.add_to_bridge(&bridge, std::slice::from_ref(&channel))
        })
    }

    fn remove_from_bridge(&mut self, bridge: String, channel: String) -> CallResult<()> {
        if !self.session.owns_bridge(&bridge) {
            return Ok(Err(not_yours("Bridge", &bridge)));
        }
        self.channel(&channel, |core| {
            core.remove_from_bridge(&bridge, std::slice::from_ref(&channel))
        })
    }

    fn destroy_bridge(&mut self, bridge: String) -> CallResult<()> {
        if !self.session.owns_bridge(&bridge) {
            return Ok(Err(not_yours("Bridge", &bridge)));
        }
        let result = self.core().destroy_bridge(&bridge).map_err(error);
        if result.is_ok() {
            if let Ok(mut owned) = self.session.bridges.lock() {
                owned.remove(&bridge);
            }
            self.session.app.bridge_destroyed(&bridge);
        }
        Ok(result)
    }

    fn originate(
        &mut self,
        endpoint: String,
        args: Vec<String>,
        caller_id: Option<String>,
        timeout_seconds: Option<u32>,
    ) -> CallResult<String> {
        let id = self.core().new_channel_id();
        let app = self.session.app.clone();
        app.expect_channel(&id, &self.session);
        let request = crate::core::channels::Originate {
            endpoint,
            destination: crate::core::channels::Destination::App {
                app: app.name.clone(),
                args,
            },
            caller_id,
            timeout: Some(Duration::from_secs(u64::from(
                timeout_seconds.unwrap_or(30).max(1),
            ))),
            channel_id: Some(id.clone()),
            other_channel_id: None,
            variables: Vec::new(),
            owner: self.owner_account(),
        };
        match self.core().originate(request) {
            Ok(_) => Ok(Ok(id)),
            Err(e) => {
                app.unexpect_channel(&id, &self.session);
                Ok(Err(error(e)))
            }
        }
    }

    fn continue_in_dialplan(
        &mut self,
        channel: String,
        context: String,
        exten: String,
        priority: Option<u32>,
    ) -> CallResult<()> {
        self.channel(&channel, |core| {
            core.continue_in_dialplan(
                &channel,
                Some(context.as_str()).filter(|c| !c.is_empty()),
                Some(exten.as_str()).filter(|e| !e.is_empty()),
                priority.map(i64::from),
                None,
            )
        })
    }

    fn move_to_app(&mut self, channel: String, app: String, args: Vec<String>) -> CallResult<()> {
        if let Err(message) = names::own_app(&self.session.app.name, &app) {
            return Ok(Err(refused(message)));
        }
        self.channel(&channel, |core| core.move_to_app(&channel, &app, args))
    }
}

impl ari::Host for SessionState {
    async fn request(
        &mut self,
        method: String,
        path: String,
        query: Vec<(String, String)>,
        body: Option<String>,
    ) -> ari::Response {
        // The one host call that can wait: bounded by what is left of the event's time.
        let left = self
            .event_timeout
            .saturating_sub(self.event_started.elapsed());
        let request = self.session.app.shared.ari_request(
            &self.session,
            &method,
            &path,
            &query,
            body.as_deref(),
        );
        match tokio::time::timeout(left, request).await {
            Ok(response) => response,
            Err(_) => ari::Response {
                status: 504,
                body: serde_json::json!({ "message": "ARI request timed out (event timeout)" })
                    .to_string(),
            },
        }
    }
}

/// The session's events came faster than it handled them (`max_queued_events`).
pub(super) fn queue_full(limits: &Limits) -> String {
    format!(
        "event queue of {} events full (wasm.conf max_queued_events)",
        limits.max_queued_events
    )
}
