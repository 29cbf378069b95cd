//! The open-files limit: raised at start-up from the soft limit to the hard one, so that
//! the connections http.conf's `sessionlimit` allows (WebSockets included), recordings,
//! stored apps and the WebAssembly engine never run into a small default (1024 under
//! systemd and most shells). Logged either way.

/// Raises the soft `RLIMIT_NOFILE` to the hard limit and logs the limit in force.
#[cfg(unix)]
pub(crate) fn raise() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let before = getrlimit(Resource::Nofile);
    let shown = |limit: Option<u64>| limit.map_or("unlimited".to_string(), |n| n.to_string());
    if before.current == before.maximum {
        tracing::info!(
            limit = %shown(before.current),
            "open files limit (RLIMIT_NOFILE) already at its hard limit"
        );
        return;
    }
    let raised = Rlimit {
        current: before.maximum,
        maximum: before.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => tracing::info!(
            from = %shown(before.current),
            to = %shown(before.maximum),
            "open files limit (RLIMIT_NOFILE) raised to its hard limit"
        ),
        Err(error) => tracing::warn!(
            limit = %shown(before.current),
            hard = %shown(before.maximum),
            %error,
            "open files limit (RLIMIT_NOFILE) could not be raised"
        ),
    }
}

/// Nothing to raise where there is no `RLIMIT_NOFILE`.
#[cfg(not(unix))]
pub fn raise() {}
