//! Removing an app without cutting its calls, and the versions still running.
//!
//! A removed app *drains*: it stays the handler of its Stasis application, so its live
//! sessions keep receiving their events (DTMF, PlaybackFinished, StasisEnd ...) until they
//! end, while a new call is refused at entry as at `max_sessions_per_app` (its channel hangs
//! up or continues with `STASISSTATUS=FAILED`, per `on_failure`). The drain is bounded by
//! wasm.conf `drain_seconds`: when it runs out, the sessions still live are ended
//! ([`AppRuntime::retire`]). [`Drain`] is that state of one app; [`wait`] is the drain's
//! wait for its last session or its deadline.
//!
//! [`VersionSessions`] counts the live sessions of one version of an app, so that
//! `GET /ari/wasm/{app}` can show the versions still draining after a hot swap or a
//! rollback.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::runtime::AppRuntime;

/// The default of wasm.conf `drain_seconds`.
pub(crate) const DEFAULT_DRAIN: Duration = Duration::from_secs(300);

/// Whether an app is draining, and until when.
#[derive(Debug, Default)]
pub struct Drain {
    /// Read on every new call into the app: one atomic load.
    draining: AtomicBool,
    /// The ARI timestamp at which the drain ends, for `GET /ari/wasm/{app}`.
    until: Mutex<Option<String>>,
    /// Signalled when a session of the app ends.
    session_ended: tokio::sync::Notify,
    /// Bumped by every start and cancellation: a drain task that finds another generation
    /// was cancelled (the app was deployed again) and leaves the app alone.
    generation: AtomicU64,
}

impl Drain {
    /// True while the app drains: new calls are refused.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Starts draining for `length`; returns the generation of this drain.
    pub fn start(&self, length: Duration) -> u64 {
        let now = chrono::Local::now();
        let until = chrono::Duration::from_std(length)
            .ok()
            .and_then(|length| now.checked_add_signed(length))
            .unwrap_or(now);
        if let Ok(mut slot) = self.until.lock() {
            *slot = Some(crate::core::time::ari_timestamp(&until));
        }
        self.draining.store(true, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The app was deployed again during the drain: it takes calls again (and the drain's
    /// wait is woken to see it).
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.draining.store(false, Ordering::Release);
        if let Ok(mut slot) = self.until.lock() {
            *slot = None;
        }
        self.session_ended.notify_waiters();
    }

    /// True while the drain of `generation` is the one in force.
    pub fn is_current(&self, generation: u64) -> bool {
        self.is_draining() && self.generation.load(Ordering::Acquire) == generation
    }

    /// When the drain ends, while draining.
    pub fn until(&self) -> Option<String> {
        self.until.lock().ok().and_then(|u| u.clone())
    }

    /// A session of the app ended (called from its task): wakes the drain, if there is
    /// one (otherwise nothing, not even a lock, is spent on it).
    pub fn session_ended(&self) {
        if self.is_draining() {
            self.session_ended.notify_waiters();
        }
    }
}

/// How a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The last live session ended.
    Idle,
    /// `drain_seconds` ran out with sessions still live.
    Expired,
    /// The app was deployed again: the removal is off.
    CalledOff,
}

/// Waits until `app` has no live session, or `length` has passed, or the drain of
/// `generation` is called off.
pub(crate) async fn wait(app: &Arc<AppRuntime>, length: Duration, generation: u64) -> Drained {
    let deadline = tokio::time::sleep(length);
    tokio::pin!(deadline);
    loop {
        let ended = app.drain.session_ended.notified();
        tokio::pin!(ended);
        // Registered before the count is read, so that an end in between is not missed.
        ended.as_mut().enable();
        if !app.drain.is_current(generation) {
            return Drained::CalledOff;
        }
        if app.live_sessions() == 0 {
            return Drained::Idle;
        }
        tokio::select! {
            () = &mut deadline => return Drained::Expired,
            () = &mut ended => {}
        }
    }
}

/// Live sessions of one version of an app.
#[derive(Debug, Default)]
pub struct VersionSessions(AtomicU64);

impl VersionSessions {
    pub fn started(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ended(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn live(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
