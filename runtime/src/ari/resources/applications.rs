//! `/applications` operations.

use super::Entry;

/// The `/applications` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
