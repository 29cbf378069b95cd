//! Who may do what to a WebAssembly app: app names, ownership (an app's owner or an admin
//! may replace, remove, roll back or read it), the `max_apps` of a user, and the refusals,
//! written to the audit log.

use super::WasmHost;
use super::audit::{self, Action, Actor, Outcome};
use super::store::StoredApp;
use crate::core::CoreError;

impl WasmHost {
    /// The owner of a deployed app: `None` when no app has that name, `Some(None)` when
    /// it has no owner.
    pub(super) fn owner_of(&self, name: &str) -> Option<Option<String>> {
        self.apps
            .lock()
            .ok()?
            .get(name)
            .map(|r| r.current().stored.owner.clone())
    }

    /// Whether `actor` may deploy `name`: a new name within the user's `max_apps`, or a
    /// replacement by the app's owner or an admin. What the deployment would be.
    pub(super) fn may_deploy(&self, name: &str, actor: &Actor) -> Result<Action, CoreError> {
        let user = &actor.user;
        let draining = self.app(name).filter(|r| r.drain.is_draining());
        match self.owner_of(name) {
            Some(owner) if draining.is_some() => {
                // Removed, its calls still draining: the name stays its owner's until the
                // drain ends; the owner or an admin may deploy it again (a new app).
                let owns = owner.as_deref() == Some(user.name.as_str());
                if !owner_or_admin(user, owner.as_deref()) {
                    let until = draining.and_then(|r| r.drain.until()).unwrap_or_default();
                    return Err(CoreError::Conflict(format!(
                        "WebAssembly app '{name}' was removed and its calls in progress are draining (until {until}): the name is free once GET /ari/wasm/{name} answers 404"
                    )));
                }
                if owns {
                    self.check_max_apps(actor)?;
                }
                Ok(Action::Deploy)
            }
            Some(owner) => {
                if owner_or_admin(user, owner.as_deref()) {
                    Ok(Action::Replace)
                } else {
                    Err(not_owner(name, owner.as_deref(), "change it"))
                }
            }
            None => {
                self.check_max_apps(actor)?;
                Ok(Action::Deploy)
            }
        }
    }

    /// Refuses a new app of `actor`'s when the user already owns `max_apps` (apps being
    /// removed, draining, do not count).
    pub(super) fn check_max_apps(&self, actor: &Actor) -> Result<(), CoreError> {
        let user = &actor.user;
        if let Some(max) = user.limits.apps() {
            let owned = self.apps.lock().map_or(0, |apps| {
                apps.values()
                    .filter(|r| {
                        !r.drain.is_draining()
                            && r.current().stored.owner.as_deref() == Some(user.name.as_str())
                    })
                    .count()
            });
            if owned >= max as usize {
                return Err(CoreError::Forbidden(format!(
                    "User '{}' already owns {owned} WebAssembly apps (max_apps = {max})",
                    user.name
                )));
            }
        }
        Ok(())
    }

    /// The check of `PUT /ari/wasm/{app}` made from the request head, before any of the
    /// body is read; a refusal is written to the audit log.
    pub fn check_deploy(&self, name: &str, actor: &Actor) -> Result<(), CoreError> {
        self.may_deploy(name, actor).map(|_| ()).inspect_err(|e| {
            let action = match e {
                CoreError::Forbidden(_) if self.owner_of(name).is_some() => Action::Replace,
                _ => Action::Deploy,
            };
            audit::record(
                action,
                Outcome::Refused,
                Some(actor),
                name,
                None,
                &e.to_string(),
            );
        })
    }
}

/// Whether `user` may change or read an app owned by `owner`: its owner, or an admin.
pub(super) fn owner_or_admin(user: &crate::config::User, owner: Option<&str>) -> bool {
    user.admin || owner == Some(user.name.as_str())
}

/// The refusal for a user who neither owns an app nor is an admin; `what` the user may not
/// do (`change it`, `read its log`).
pub(super) fn not_owner(name: &str, owner: Option<&str>, what: &str) -> CoreError {
    CoreError::Forbidden(match owner {
        Some(owner) => format!(
            "WebAssembly app '{name}' belongs to user '{owner}': only its owner or an admin may {what}"
        ),
        None => format!("WebAssembly app '{name}' has no owner: only an admin may {what}"),
    })
}

/// Remove and rollback: `actor` must own the app (stored as `stored`) or be an admin; a
/// refusal is written to the audit log.
pub(super) fn check_owner(
    action: Action,
    actor: &Actor,
    name: &str,
    stored: &StoredApp,
) -> Result<(), CoreError> {
    if owner_or_admin(&actor.user, stored.owner.as_deref()) {
        return Ok(());
    }
    let e = not_owner(name, stored.owner.as_deref(), "change it");
    audit::record(
        action,
        Outcome::Refused,
        Some(actor),
        name,
        Some(&stored.sha256),
        &e.to_string(),
    );
    Err(e)
}

/// An app name ([`is_app_name`]), or 400 saying what one is.
pub(super) fn validate_name(name: &str) -> Result<(), CoreError> {
    if is_app_name(name) {
        Ok(())
    } else {
        Err(CoreError::BadRequest(format!(
            "Invalid app name '{name}': use 1-73 letters, digits, '-', '_' or '.'"
        )))
    }
}

/// Whether `name` may name a WebAssembly app: 1-73 letters, digits, `-`, `_`, `.`, not
/// starting with `.` (it is a directory of the app store and a Stasis application name).
pub fn is_app_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= crate::core::stasis::apps::MAX_APP_NAME
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
