//! `/mailboxes` operations.

use super::Entry;

/// The `/mailboxes` operations implemented so far.
pub fn handlers() -> Vec<Entry> {
    Vec::new()
}
