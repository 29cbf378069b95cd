//! A small key-value store per app, shared by all its sessions: state that outlives a call
//! (the `wari:stasis/kv` interface).
//!
//! Sessions of one app may run at the same time, and a [`get`] followed by a [`set`] is not
//! atomic: another session may write in between.

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
