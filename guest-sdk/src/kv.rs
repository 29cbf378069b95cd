//! A small key-value store per app, shared by all its sessions: state that outlives a call
//! (the `wari:stasis/kv` interface).
//!
//! Sessions of one app may run at the same time, and a [`get`] followed by a [`set`] is not
//! atomic: another session may write in between. Use [`set_if_absent`] to claim a key and
//! [`increment`] for counters: both are atomic.

use crate::host;

/// The value stored under `key`, if any.
pub fn get(key: &str) -> Option<String> {
    host::kv_get(key)
}

/// Stores `value` under `key`, replacing any previous value.
pub fn set(key: &str, value: &str) {
    host::kv_set(key, value)
}

/// Removes `key`; nothing happens if it is absent.
pub fn delete(key: &str) {
    host::kv_delete(key)
}

/// Stores `value` under `key` only if the key has no value, atomically. Returns `None` when
/// this call stored it, or the value already there.
pub fn set_if_absent(key: &str, value: &str) -> Option<String> {
    host::kv_set_if_absent(key, value)
}

/// Adds `delta` to the integer stored under `key` (absent or not a number counts as 0),
/// atomically, and returns the new value.
pub fn increment(key: &str, delta: i64) -> i64 {
    host::kv_increment(key, delta)
}
