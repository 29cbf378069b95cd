//! `/channels` operations.

use super::Entry;

/// The `/channels` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
