//! The host imports of a session that serve the guest itself and do not act on calls:
//! timers (bounded by `max_timers`), the app's log (rate-limited), and the app's key-value
//! store (bounded by its `kv_*` limits).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::failure::Exceeded;
use super::{Input, SessionState};
use crate::wasm::app_log::{EntryKind, LogEntry};
use crate::wasm::bindings::wari::stasis::{kv, log, timers};
use crate::wasm::runtime::version_tag;

impl timers::Host for SessionState {
    fn set_timer(&mut self, after_ms: u64) -> wasmtime::Result<u64> {
        let max = self.session.app.limits().max_timers;
        let id = self.session.next_timer.fetch_add(1, Ordering::Relaxed);
        let tx = self.session.tx.clone();
        let weak = Arc::downgrade(&self.session);
        // Held while the task is spawned, so that a timer that fires at once finds itself
        // in the table (and is counted out exactly once).
        let mut timers = self
            .session
            .timers
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if timers.len() >= max {
            return Err(wasmtime::Error::new(Exceeded::Timers(max)));
        }
        let handle = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(after_ms)).await;
            if let Some(session) = weak.upgrade() {
                session.timer_done(id);
            }
            let _ = tx.send(Input::Timer(id)).await;
        });
        timers.insert(id, handle.abort_handle());
        self.session
            .app
            .stats
            .timers_pending
            .fetch_add(1, Ordering::Relaxed);
        Ok(id)
    }

    fn cancel_timer(&mut self, id: u64) -> wasmtime::Result<()> {
        if let Some(handle) = self.session.timer_done(id) {
            handle.abort();
        }
        Ok(())
    }
}

impl log::Host for SessionState {
    fn log(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let limit = self.session.app.limits().log_lines_per_second;
        let now = Instant::now();
        if now.duration_since(self.log_window.0) >= Duration::from_secs(1) {
            self.log_window = (now, 0);
        }
        if self.log_window.1 >= limit {
            self.logs_dropped += 1;
            return Ok(());
        }
        self.log_window.1 += 1;
        let app = &self.session.app.name;
        let version = version_tag(&self.session.version.stored.sha256);
        let session = self.session.id;
        let (stream, name) = match level {
            log::Level::Trace => ("stdout", "trace"),
            log::Level::Debug => ("stdout", "debug"),
            log::Level::Info => ("stdout", "info"),
            log::Level::Warn => ("stderr", "warn"),
            log::Level::Error => ("stderr", "error"),
        };
        self.session.app.log().push(LogEntry::now(
            version,
            Some(session),
            EntryKind::Log {
                stream,
                level: Some(name),
            },
            message.clone(),
        ));
        let message = crate::log_text::Escaped(&message);
        match level {
            log::Level::Trace => {
                tracing::trace!(app = %app, version = %version, session, "{message}")
            }
            log::Level::Debug => {
                tracing::debug!(app = %app, version = %version, session, "{message}")
            }
            log::Level::Info => {
                tracing::info!(app = %app, version = %version, session, "{message}")
            }
            log::Level::Warn => {
                tracing::warn!(app = %app, version = %version, session, "{message}")
            }
            log::Level::Error => {
                tracing::error!(app = %app, version = %version, session, "{message}")
            }
        }
        Ok(())
    }
}

/// A write beyond the app's store limits fails the session (the interface has no error
/// for it): the store is unchanged and the failure is counted under `failures.limits`. A
/// write returns once it is on disk.
impl kv::Host for SessionState {
    async fn get(&mut self, key: String) -> wasmtime::Result<Option<String>> {
        Ok(self.session.app.kv().get(&key))
    }

    async fn set(&mut self, key: String, value: String) -> wasmtime::Result<()> {
        let limits = self.session.app.limits().kv;
        Ok(self.session.app.kv().set(&limits, key, value).await?)
    }

    async fn delete(&mut self, key: String) -> wasmtime::Result<()> {
        Ok(self.session.app.kv().delete(key).await?)
    }

    async fn set_if_absent(
        &mut self,
        key: String,
        value: String,
    ) -> wasmtime::Result<Option<String>> {
        let limits = self.session.app.limits().kv;
        Ok(self
            .session
            .app
            .kv()
            .set_if_absent(&limits, key, value)
            .await?)
    }

    async fn increment(&mut self, key: String, delta: i64) -> wasmtime::Result<i64> {
        let limits = self.session.app.limits().kv;
        Ok(self.session.app.kv().increment(&limits, key, delta).await?)
    }
}
