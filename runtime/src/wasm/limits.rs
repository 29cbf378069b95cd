//! Resource limits for WebAssembly apps: what one call session may use, and what happens to
//! its call when it breaks them.

use std::time::Duration;

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
    pub on_failure: FailureOutcome,
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
        }
    }
}
