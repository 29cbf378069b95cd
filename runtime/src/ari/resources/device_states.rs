//! `/deviceStates` operations.

use super::Entry;

/// The `/deviceStates` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
