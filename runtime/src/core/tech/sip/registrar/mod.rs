//! Contacts that register to wari (`type=aor`): bindings, expiry, `max_contacts`, `remove_existing`.

pub(crate) mod availability;
pub(crate) mod bindings;
#[cfg(test)]
mod fixtures;
