//! The audit log of app changes: one INFO line under the target `wari::audit` for every
//! deploy, replacement, removal and rollback asked of the WebAssembly host, refused and failed ones
//! included, saying who (the ARI user), from where (the peer address), which app and which
//! component (SHA-256; `-` when the body was never read).

use crate::log_text::Escaped;

/// What was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// A component under a name no app has.
    Deploy,
    /// A new version of a deployed app.
    Replace,
    /// `DELETE /ari/wasm/{app}`.
    Remove,
    /// `POST /ari/wasm/{app}/rollback`.
    Rollback,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Replace => "replace",
            Action::Remove => "remove",
            Action::Rollback => "rollback",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Done,
    /// Not allowed (not the owner, over quota): nothing changed.
    Refused,
    /// Allowed but not carried out (a bad component, a storage error).
    Failed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }
}

/// Who asked (defined with the `/wasm` resource's view of the host).
pub(crate) use crate::host_api::Actor;

/// Writes one audit line. `actor` is `None` for the operator's own deployments (wasm.conf
/// `apps_dir`).
pub(crate) fn record(
    action: Action,
    outcome: Outcome,
    actor: Option<&Actor>,
    app: &str,
    sha256: Option<&str>,
    reason: &str,
) {
    let user = actor.map_or("(apps_dir)", |a| a.user.name.as_str());
    let peer = actor
        .and_then(|a| a.peer)
        .map_or_else(|| "-".to_string(), |p| p.to_string());
    tracing::info!(
        target: "wari::audit",
        action = action.as_str(),
        outcome = outcome.as_str(),
        user = %Escaped(user),
        peer = %peer,
        app = %Escaped(app),
        sha256 = sha256.unwrap_or("-"),
        reason = %Escaped(reason),
        "WebAssembly app {} {}",
        action.as_str(),
        outcome.as_str(),
    );
}
