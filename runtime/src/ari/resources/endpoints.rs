//! `/endpoints` operations.

use super::Entry;

/// The `/endpoints` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
