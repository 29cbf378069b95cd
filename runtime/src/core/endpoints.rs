//! Endpoint operations: listing the endpoints the technologies know (and their contacts,
//! [`Core::contacts`], for the console), and messaging and REFER towards them.
//!
//! The endpoints are those in [`State::endpoints`]: endpoints made known up front (by a
//! technology when it starts, e.g. configured Test phones) and every endpoint a technology
//! has created a channel for (a Test phone `Test/NAME` once a channel to it exists).
//!
//! Messages and REFERs go to the endpoint's technology when it takes them
//! ([`super::tech::Technology::takes_messages`]; of the built-in ones, Test phones, which
//! echo every message back and accept a REFER and do nothing with it). Other technologies
//! are refused as for an unknown endpoint (404), as Asterisk does for a technology without
//! a message handler.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::control::ControlApi;
use super::tech::{ContactView, Context, Technology};
use super::{Core, CoreError, State};

/// Where a message or REFER goes, as found by [`ControlApi::message_target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MessageTarget {
    /// The endpoint key, `Tech/resource`.
    pub endpoint: String,
    /// The endpoint's message URI, `<lowercase tech>:<resource>`.
    pub uri: String,
}

/// A text message to an endpoint (`PUT /endpoints/.../sendMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct TextMessage {
    pub from: String,
    pub body: String,
    /// Extra headers / variables, name → string.
    pub variables: Map<String, Value>,
}

/// Splits a message URI `tech:resource` (as in `PUT /endpoints/sendMessage?to=...`).
pub(crate) fn parse_message_uri(uri: &str) -> Result<(&str, &str), CoreError> {
    match uri.split_once(':') {
        Some((tech, resource)) if !tech.is_empty() && !resource.is_empty() => Ok((tech, resource)),
        _ => Err(CoreError::NotFound("Endpoint not found".into())),
    }
}

impl Core {
    /// Every technology's endpoint contacts with their status (SIP registrations and
    /// static AOR contacts), for the console. Takes no lock of the core's.
    pub fn contacts(&self) -> Vec<ContactView> {
        self.technologies
            .iter()
            .flat_map(|t| t.contacts())
            .collect()
    }
}

impl ControlApi<'_> {
    /// Every endpoint's snapshot, ordered by `Tech/resource`.
    pub fn list_endpoints(&self) -> Value {
        self.with_state(|state| Value::Array(state.endpoints.values().map(|e| e.json()).collect()))
    }

    /// The endpoints of one technology (case-insensitive); a technology that has no
    /// endpoints (unknown, or Local) is Asterisk 23.4.1's 404 `No Endpoints found - invalid
    /// tech <tech>`, a known one without endpoints yet an empty list.
    pub fn list_endpoints_by_tech(&self, tech: &str) -> Result<Value, CoreError> {
        let tech = self.endpoint_technology(tech).ok_or_else(|| {
            CoreError::NotFound(format!("No Endpoints found - invalid tech {tech}"))
        })?;
        let name = tech.name();
        Ok(self.with_state(|state| {
            Value::Array(
                state
                    .endpoints
                    .values()
                    .filter(|e| e.technology.eq_ignore_ascii_case(name))
                    .map(|e| e.json())
                    .collect(),
            )
        }))
    }

    /// The key (`Tech/resource`, with the technology's own spelling) of an existing
    /// endpoint, and its technology.
    fn endpoint_key(
        &self,
        state: &State,
        tech: &str,
        resource: &str,
    ) -> Result<(String, &Arc<dyn Technology>), CoreError> {
        let not_found = || CoreError::NotFound("Endpoint not found".into());
        let tech = self.endpoint_technology(tech).ok_or_else(not_found)?;
        let key = format!("{}/{resource}", tech.name());
        if state.endpoints.contains_key(&key) {
            Ok((key, tech))
        } else {
            Err(not_found())
        }
    }

    /// One endpoint's snapshot (404 for an unknown technology or resource).
    pub fn get_endpoint(&self, tech: &str, resource: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            let (key, _) = self.endpoint_key(state, tech, resource)?;
            Ok(state
                .endpoints
                .get(&key)
                .map(|e| e.json())
                .unwrap_or(Value::Null))
        })
    }

    /// The endpoint a message or REFER for `tech`/`resource` goes to: it must exist and its
    /// technology must take messages (404 otherwise).
    pub(in crate::core) fn message_target(
        &self,
        tech: &str,
        resource: &str,
    ) -> Result<MessageTarget, CoreError> {
        self.with_state(|state| {
            self.message_target_locked(state, tech, resource)
                .map(|(target, _)| target)
        })
    }

    fn message_target_locked(
        &self,
        state: &State,
        tech: &str,
        resource: &str,
    ) -> Result<(MessageTarget, Arc<dyn Technology>), CoreError> {
        let (endpoint, technology) = self.endpoint_key(state, tech, resource)?;
        if !technology.takes_messages() {
            tracing::info!(%endpoint, "this technology takes no messages: Endpoint not found");
            return Err(CoreError::NotFound("Endpoint not found".into()));
        }
        let technology = technology.clone();
        let (tech, resource) = endpoint.split_once('/').unwrap_or((&endpoint, ""));
        Ok((
            MessageTarget {
                uri: format!("{}:{resource}", tech.to_ascii_lowercase()),
                endpoint: endpoint.clone(),
            },
            technology,
        ))
    }

    /// Sends a text message to an endpoint; its technology delivers it (a Test phone
    /// answers at once with the same message: TextMessageReceived `{message: {from: <phone
    /// URI>, to: <sender>, body, variables}, endpoint}` for applications subscribed to the
    /// endpoint).
    pub fn send_message(
        &self,
        tech: &str,
        resource: &str,
        message: TextMessage,
    ) -> Result<(), CoreError> {
        self.with_state(|state| {
            let (target, technology) = self.message_target_locked(state, tech, resource)?;
            technology.send_message(
                &mut Context::new(self, state),
                &target.endpoint,
                &target.uri,
                &message,
            );
            Ok(())
        })
    }

    /// Asks an endpoint to REFER its peer elsewhere. Test phones accept and ignore it.
    pub fn refer(&self, tech: &str, resource: &str) -> Result<(), CoreError> {
        self.message_target(tech, resource).map(|_| ())
    }
}
