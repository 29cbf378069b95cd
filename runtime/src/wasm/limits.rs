//! Resource limits for WebAssembly apps: what one call session may use, and what happens to
//! its call when it breaks them.

use std::time::Duration;

use super::kv::KvLimits;

/// What happens to a session's channels when the app fails (trap, timeout, limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    /// Hang the channels up.
    Hangup,
    /// Let the channels continue in the dialplan after Stasis().
    Continue,
}

/// Limits applied to every session of an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Linear memory, summed over all memories of an instance.
    pub memory_bytes: usize,
    /// Table elements per table.
    pub table_elements: usize,
    /// CPU time one event may use, in epoch ticks of [`TICK`].
    pub cpu_ticks_per_event: u64,
    /// Wall-clock time one event (including host calls) may take.
    pub event_timeout: Duration,
    /// Events waiting for a session before it is considered stuck.
    pub max_queued_events: usize,
    /// Log lines per second a session may write (the rest are counted and dropped).
    pub log_lines_per_second: u32,
    /// wasm.conf `on_failure`: what becomes of the session's channels when it fails.
    pub on_failure: FailureOutcome,
    /// Concurrent sessions of the app; `None` takes [`default_sessions_per_app`] of the
    /// host's `max_sessions`.
    pub max_sessions_per_app: Option<u32>,
    /// The app's key-value store.
    pub kv: KvLimits,
    /// Timers one session may have pending at once.
    pub max_timers: usize,
}

/// The default cap of sessions per app: a quarter of every slot the host has (at least
/// one), so that one app cannot take the slots all apps share.
pub fn default_sessions_per_app(max_sessions: u32) -> u32 {
    (max_sessions / 4).max(1)
}

/// One epoch tick: the granularity of the CPU budget.
pub const TICK: Duration = Duration::from_millis(1);

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 * 1024 * 1024,
            table_elements: 10_000,
            cpu_ticks_per_event: 100,
            event_timeout: Duration::from_secs(5),
            max_queued_events: 1_000,
            log_lines_per_second: 100,
            on_failure: FailureOutcome::Hangup,
            max_sessions_per_app: None,
            kv: KvLimits::default(),
            max_timers: 100,
        }
    }
}

impl Limits {
    /// The default limits with configured settings applied.
    pub fn from_settings(settings: &crate::config::wasm_conf::LimitSettings) -> Limits {
        let mut limits = Limits::default();
        if let Some(mb) = settings.memory_mb {
            limits.memory_bytes =
                usize::try_from(mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        }
        if let Some(ms) = settings.cpu_ms_per_event {
            limits.cpu_ticks_per_event = ms / u64::try_from(TICK.as_millis()).unwrap_or(1).max(1);
        }
        if let Some(ms) = settings.event_timeout_ms {
            limits.event_timeout = Duration::from_millis(ms);
        }
        if let Some(n) = settings.max_queued_events {
            limits.max_queued_events = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = settings.log_lines_per_second {
            limits.log_lines_per_second = u32::try_from(n).unwrap_or(u32::MAX);
        }
        if let Some(n) = settings.max_sessions_per_app {
            limits.max_sessions_per_app = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        let size = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
        if let Some(n) = settings.kv_max_key_bytes {
            limits.kv.max_key_bytes = size(n);
        }
        if let Some(n) = settings.kv_max_value_bytes {
            limits.kv.max_value_bytes = size(n);
        }
        if let Some(n) = settings.kv_max_keys {
            limits.kv.max_keys = size(n);
        }
        if let Some(mb) = settings.kv_max_mb {
            limits.kv.max_total_bytes = size(mb.saturating_mul(1024 * 1024));
        }
        if let Some(n) = settings.max_timers {
            limits.max_timers = size(n);
        }
        if let Some(continue_on_failure) = settings.continue_on_failure {
            limits.on_failure = if continue_on_failure {
                FailureOutcome::Continue
            } else {
                FailureOutcome::Hangup
            };
        }
        limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::wasm_conf::LimitSettings;

    #[test]
    fn an_app_gets_a_quarter_of_the_sessions_unless_configured() {
        assert_eq!(default_sessions_per_app(1000), 250);
        assert_eq!(default_sessions_per_app(3), 1, "at least one");
        let mut settings = crate::wasm::WasmSettings {
            max_sessions: 8,
            ..Default::default()
        };
        assert_eq!(settings.limits_for("any").max_sessions_per_app, Some(2));
        let own = Limits::from_settings(&LimitSettings {
            max_sessions_per_app: Some(5),
            kv_max_keys: Some(7),
            kv_max_mb: Some(2),
            max_timers: Some(3),
            ..Default::default()
        });
        settings.per_app.insert("big".into(), own);
        let big = settings.limits_for("big");
        assert_eq!(big.max_sessions_per_app, Some(5));
        assert_eq!(
            (big.kv.max_keys, big.kv.max_total_bytes, big.max_timers),
            (7, 2 * 1024 * 1024, 3)
        );
    }
}
