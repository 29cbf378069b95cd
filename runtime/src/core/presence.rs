//! Endpoint reachability, as a technology with presence (PJSIP) reports it: an endpoint's
//! state going online/offline and the status of each of its contacts, with the ARI events
//! Asterisk publishes for them.
//!
//! Facts from Asterisk 23.4.1 (res_pjsip, main/stasis_endpoints.c):
//! - A state flip publishes the endpoint's snapshot (`EndpointStateChange`) and then
//!   `PeerStatusChange` whose `peer` is `{"peer_status": "Reachable"}` when it went online,
//!   `{"peer_status": "Unreachable"}` when it went offline. No flip, no event.
//! - A contact's status change publishes `ContactStatusChange` with the endpoint's snapshot
//!   and `contact_info` `{uri, contact_status, aor, roundtrip_usec}`; the status words are
//!   `NonQualified` (just created, not qualified), `Reachable`, `Unreachable`, `Unknown`,
//!   `Removed`, and `roundtrip_usec` is always present, a decimal string (`"0"` unless a
//!   qualify measured it).
//! - Both go to the applications subscribed to the endpoint (or to all endpoints).

use serde_json::json;

use super::event::{Event, Scope};
use super::{Core, EndpointState, State};

/// The status of one contact of an endpoint (ARI `ContactInfo.contact_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactStatus {
    /// Created and not qualified (Asterisk's `CREATED`, shown as `NonQualified`).
    NonQualified,
    /// Answered the last qualify.
    Reachable,
    /// Did not answer the last qualify.
    Unreachable,
    /// Qualified, no answer yet.
    Unknown,
    /// Gone: unregistered, expired or replaced.
    Removed,
}

impl ContactStatus {
    /// The ARI word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactStatus::NonQualified => "NonQualified",
            ContactStatus::Reachable => "Reachable",
            ContactStatus::Unreachable => "Unreachable",
            ContactStatus::Unknown => "Unknown",
            ContactStatus::Removed => "Removed",
        }
    }
}

/// A contact's change, as a technology reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactChange {
    /// The contact's URI.
    pub uri: String,
    /// The AOR it belongs to.
    pub aor: String,
    /// Its status now.
    pub status: ContactStatus,
    /// The last measured round trip, in microseconds (0 when not measured).
    pub roundtrip_usec: u64,
}

fn endpoint_scope(endpoint: &str) -> Scope {
    Scope {
        endpoint: Some(endpoint.to_string()),
        ..Scope::default()
    }
}

impl Core {
    /// Sets an endpoint's state; when it changed, publishes EndpointStateChange and
    /// PeerStatusChange. False when the endpoint is unknown or nothing changed.
    pub(in crate::core) fn set_endpoint_state(
        &self,
        state: &mut State,
        endpoint: &str,
        new: EndpointState,
    ) -> bool {
        let Some(entry) = state.endpoints.get_mut(endpoint) else {
            return false;
        };
        if entry.state == new {
            return false;
        }
        entry.state = new;
        tracing::info!(endpoint = %endpoint.escape_debug(), state = new.as_str(), "endpoint state changed");
        self.publish_endpoint_state(state, endpoint);
        let peer_status = match new {
            EndpointState::Online => "Reachable",
            EndpointState::Offline => "Unreachable",
            EndpointState::Unknown => "Unknown",
        };
        let scope = endpoint_scope(endpoint);
        if !state.apps.any_wants("PeerStatusChange", &scope) {
            return true;
        }
        let Some(snapshot) = state.endpoints.get(endpoint).map(|e| e.json()) else {
            return true;
        };
        self.publish(
            state,
            Event::new("PeerStatusChange", scope)
                .with("endpoint", snapshot)
                .with("peer", json!({ "peer_status": peer_status })),
        );
        true
    }

    /// Publishes ContactStatusChange for one of an endpoint's contacts (nothing when the
    /// endpoint is unknown).
    pub(in crate::core) fn contact_changed(
        &self,
        state: &mut State,
        endpoint: &str,
        change: &ContactChange,
    ) {
        let scope = endpoint_scope(endpoint);
        if !state.apps.any_wants("ContactStatusChange", &scope) {
            return;
        }
        let Some(snapshot) = state.endpoints.get(endpoint).map(|e| e.json()) else {
            return;
        };
        self.publish(
            state,
            Event::new("ContactStatusChange", scope)
                .with("endpoint", snapshot)
                .with(
                    "contact_info",
                    json!({
                        "uri": change.uri,
                        "contact_status": change.status.as_str(),
                        "aor": change.aor,
                        "roundtrip_usec": change.roundtrip_usec.to_string(),
                    }),
                ),
        );
    }
}
