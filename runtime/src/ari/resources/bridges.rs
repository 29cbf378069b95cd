//! `/bridges` operations.

use super::Entry;

/// The `/bridges` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
