//! Timers (the `wari:stasis/timers` interface): each fires once, as an
//! [`Event::Timer`](crate::Event::Timer) with its id, in this session.

use crate::host;
use crate::types::TimerId;

/// Sets a timer that fires once after `after_ms` milliseconds; returns its id.
pub fn set_timer(after_ms: u64) -> TimerId {
    host::set_timer(after_ms)
}

/// Cancels a timer; nothing happens if it has fired or was cancelled already.
pub fn cancel_timer(id: TimerId) {
    host::cancel_timer(id)
}
