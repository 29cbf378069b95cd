//! `/events` operations.

use super::Entry;

/// The `/events` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
