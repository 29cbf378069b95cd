//! wari's own registrations to providers (`type=registration`): REGISTER with `outbound_auth`, refresh, retry.

pub(crate) mod machine;
