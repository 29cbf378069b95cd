//! Device states controlled over ARI (`Stasis:NAME`) and externally managed mailboxes.
//!
//! Device states live in [`State::device_states`] under their canonical name (`Stasis:` then
//! the name as given); every change publishes DeviceStateChanged to applications subscribed
//! to the device. Mailboxes are plain message counters: wari has no voicemail and mailbox
//! changes publish no ARI event. Both outlive a restart or a crash, as in Asterisk's astdb:
//! every change is written to the host's [`store`](crate::store) first, and the memory (and
//! the answer) follow only once it is on disk.

use crate::core::control::ControlApi;
use std::sync::Arc;

use serde_json::{Value, json};

use super::event::{Event, Scope};
use super::{Core, CoreError, State};
use crate::store::{CoreSaved, StoreError};

/// The prefix of device states ARI controls.
pub(super) const STASIS_PREFIX: &str = "Stasis:";

/// The states a controlled device can be set to.
pub(super) const SETTABLE_STATES: [&str; 8] = [
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
];

/// The state of a controlled device nobody has set.
pub(super) const UNKNOWN_STATE: &str = "UNKNOWN";

/// The state of a device no provider wari has knows (Asterisk 23.4.1 answers `INVALID`
/// for `Local:x` or a bare `x`).
pub(super) const INVALID_STATE: &str = "INVALID";

/// The canonical name of an ARI-controlled device: `Stasis:` (any case) then a non-empty
/// name. Another prefix is a 409; nothing after the prefix a 404.
pub(super) fn controlled_device(name: &str) -> Result<String, CoreError> {
    let prefix = name
        .get(..STASIS_PREFIX.len())
        .filter(|p| p.eq_ignore_ascii_case(STASIS_PREFIX))
        .ok_or_else(|| CoreError::Conflict("Uncontrolled device specified".into()))?;
    let rest = &name[prefix.len()..];
    if rest.is_empty() {
        return Err(CoreError::NotFound("Device name is missing".into()));
    }
    Ok(format!("{STASIS_PREFIX}{rest}"))
}

fn device_json(name: &str, state: &str) -> Value {
    json!({ "name": name, "state": state })
}

fn mailbox_json(name: &str, (old, new): (i64, i64)) -> Value {
    json!({ "name": name, "old_messages": old, "new_messages": new })
}

/// A write to the store failed: the change is not made (500).
fn not_saved(error: StoreError) -> CoreError {
    tracing::error!(%error, "cannot save a device state or mailbox");
    CoreError::Internal(format!("The change could not be saved: {error}"))
}

impl Core {
    /// Puts back the device states and mailboxes read from the store at start-up.
    pub fn restore(&self, saved: CoreSaved) {
        self.with_state(|state| {
            state.device_states.extend(saved.device_states);
            state.mailboxes.extend(saved.mailboxes);
        });
    }

    fn device_state_changed(&self, state: &mut State, name: &str, value: &str) {
        self.publish(
            state,
            Event::new(
                "DeviceStateChanged",
                Scope {
                    device: Some(name.to_string()),
                    ..Scope::default()
                },
            )
            .with("device_state", device_json(name, value)),
        );
    }

    /// Runs a change (its write to the store, then its change in memory) to the end in a
    /// task of its own: a client that goes away mid-request cannot leave the disk and the
    /// memory disagreeing.
    async fn to_completion<F>(&self, change: impl FnOnce(Arc<Core>) -> F) -> Result<(), CoreError>
    where
        F: Future<Output = Result<(), CoreError>> + Send + 'static,
    {
        let core = self
            .me
            .upgrade()
            .ok_or_else(|| CoreError::Internal("wari is stopping".into()))?;
        tokio::spawn(change(core))
            .await
            .map_err(|e| CoreError::Internal(e.to_string()))?
    }
}

impl ControlApi<'_> {
    /// Every ARI-controlled device state.
    pub fn list_device_states(&self) -> Value {
        self.with_state(|state| {
            Value::Array(
                state
                    .device_states
                    .iter()
                    .map(|(name, value)| device_json(name, value))
                    .collect(),
            )
        })
    }

    /// Any device's state, under the name asked for: a controlled one nobody set is
    /// `UNKNOWN`, any other device (no provider of wari's knows it) `INVALID`, as Asterisk
    /// 23.4.1 answers.
    pub fn device_state(&self, name: &str) -> Value {
        let Ok(canonical) = controlled_device(name) else {
            return device_json(name, INVALID_STATE);
        };
        self.with_state(|state| {
            let value = state
                .device_states
                .get(&canonical)
                .map_or(UNKNOWN_STATE, String::as_str);
            device_json(name, value)
        })
    }

    /// Sets a controlled device's state (creating it). The state is matched
    /// case-insensitively against [`SETTABLE_STATES`]; anything else (`UNKNOWN` included)
    /// gets Asterisk 23.4.1's message `Unknown device`, as a 400 (Asterisk answers 500;
    /// wari answers a client's mistake with a 4xx and declares no 5xx but 501). DeviceStateChanged is published when the
    /// state changes: setting the state a device has is silent, as in Asterisk.
    pub async fn update_device_state(
        &self,
        name: &str,
        value: Option<&str>,
    ) -> Result<(), CoreError> {
        let name = controlled_device(name)?;
        let value = value.unwrap_or_default();
        let value = SETTABLE_STATES
            .iter()
            .find(|s| s.eq_ignore_ascii_case(value))
            .ok_or_else(|| CoreError::BadRequest("Unknown device".into()))?;
        self.to_completion(|core| async move {
            let _order = core.persisting.lock().await;
            core.store
                .put_device_state(&name, value)
                .await
                .map_err(not_saved)?;
            core.with_state(|state| {
                let old = state.device_states.insert(name.clone(), value.to_string());
                if old.as_deref() != Some(*value) {
                    core.device_state_changed(state, &name, value);
                }
            });
            Ok(())
        })
        .await
    }

    /// Forgets a controlled device's state: it reads `UNKNOWN` again. As in Asterisk
    /// 23.4.1, this publishes nothing, and deleting a device never set succeeds too.
    pub async fn delete_device_state(&self, name: &str) -> Result<(), CoreError> {
        let name = controlled_device(name)?;
        self.to_completion(|core| async move {
            let _order = core.persisting.lock().await;
            core.store
                .delete_device_state(&name)
                .await
                .map_err(not_saved)?;
            core.with_state(|state| {
                state.device_states.remove(&name);
            });
            Ok(())
        })
        .await
    }

    /// Every mailbox.
    pub fn list_mailboxes(&self) -> Value {
        self.with_state(|state| {
            Value::Array(
                state
                    .mailboxes
                    .iter()
                    .map(|(name, counts)| mailbox_json(name, *counts))
                    .collect(),
            )
        })
    }

    /// One mailbox (404 when it does not exist).
    pub fn get_mailbox(&self, name: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            state
                .mailboxes
                .get(name)
                .map(|counts| mailbox_json(name, *counts))
                .ok_or_else(|| CoreError::NotFound("Mailbox does not exist".into()))
        })
    }

    /// Sets a mailbox's old and new message counts, creating it. Counts cannot be negative.
    pub async fn update_mailbox(&self, name: &str, old: i64, new: i64) -> Result<(), CoreError> {
        if name.is_empty() {
            return Err(CoreError::BadRequest("Mailbox name is required".into()));
        }
        if old < 0 || new < 0 {
            return Err(CoreError::BadRequest(
                "Message counts cannot be negative".into(),
            ));
        }
        let name = name.to_string();
        self.to_completion(|core| async move {
            let _order = core.persisting.lock().await;
            core.store
                .put_mailbox(&name, (old, new))
                .await
                .map_err(not_saved)?;
            core.with_state(|state| {
                state.mailboxes.insert(name, (old, new));
            });
            Ok(())
        })
        .await
    }

    /// Removes a mailbox (404 when it does not exist).
    pub async fn delete_mailbox(&self, name: &str) -> Result<(), CoreError> {
        let name = name.to_string();
        self.to_completion(|core| async move {
            let _order = core.persisting.lock().await;
            if !core.with_state(|state| state.mailboxes.contains_key(&name)) {
                return Err(CoreError::NotFound("Mailbox does not exist".into()));
            }
            core.store.delete_mailbox(&name).await.map_err(not_saved)?;
            core.with_state(|state| {
                state.mailboxes.remove(&name);
            });
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controlled_device_names() {
        assert_eq!(
            controlled_device("Stasis:lamp").as_deref(),
            Ok("Stasis:lamp")
        );
        assert_eq!(
            controlled_device("stasis:lamp").as_deref(),
            Ok("Stasis:lamp")
        );
        assert!(matches!(
            controlled_device("PJSIP/100"),
            Err(CoreError::Conflict(_))
        ));
        assert!(matches!(
            controlled_device("Sta"),
            Err(CoreError::Conflict(_))
        ));
        assert!(matches!(
            controlled_device("Stasis:"),
            Err(CoreError::NotFound(_))
        ));
        assert!(matches!(
            controlled_device("Ståsis:x"),
            Err(CoreError::Conflict(_))
        ));
    }
}
