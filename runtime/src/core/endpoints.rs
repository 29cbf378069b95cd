//! Endpoint operations: listing the endpoints the technologies know, and messaging and
//! REFER towards them.
//!
//! The endpoints are those in [`State::endpoints`]: endpoints made known up front
//! ([`Core::add_endpoint`], e.g. configured Test phones) and every endpoint a technology has
//! created a channel for (a Test phone `Test/NAME` once a channel to it exists).
//!
//! Of the built-in technologies only Test phones take text messages and REFERs. A Test phone
//! echoes every message it is sent straight back, as a TextMessageReceived event from the
//! phone; it accepts a REFER and does nothing with it. Local channels have no far end to
//! message, so both are refused as for an unknown endpoint (404), as Asterisk does for a
//! technology without a message handler.

use crate::core::control::ControlApi;
use serde_json::{Map, Value, json};

use super::event::{Event, Scope};
use super::{Core, CoreError, State};

/// The technology whose endpoints take messages and REFERs.
const MESSAGING_TECH: &str = "Test";

/// Where a message or REFER goes, as found by [`Core::message_target`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTarget {
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
pub fn parse_message_uri(uri: &str) -> Result<(&str, &str), CoreError> {
    match uri.split_once(':') {
        Some((tech, resource)) if !tech.is_empty() && !resource.is_empty() => Ok((tech, resource)),
        _ => Err(CoreError::NotFound("Endpoint not found".into())),
    }
}

impl Core {
    /// The key (`Tech/resource`, with the technology's own spelling) of an existing endpoint.
    fn endpoint_key(&self, state: &State, tech: &str, resource: &str) -> Result<String, CoreError> {
        let not_found = || CoreError::NotFound("Endpoint not found".into());
        let tech = self.endpoint_technology(tech).ok_or_else(not_found)?;
        let key = format!("{}/{resource}", tech.name());
        if state.endpoints.contains_key(&key) {
            Ok(key)
        } else {
            Err(not_found())
        }
    }

    /// The endpoint a message or REFER for `tech`/`resource` goes to: it must exist and its
    /// technology must take messages (404 otherwise).
    pub(in crate::core) fn message_target(
        &self,
        tech: &str,
        resource: &str,
    ) -> Result<MessageTarget, CoreError> {
        self.with_state(|state| {
            let endpoint = self.endpoint_key(state, tech, resource)?;
            if !endpoint.starts_with(&format!("{MESSAGING_TECH}/")) {
                tracing::info!(%endpoint, "this technology takes no messages: Endpoint not found");
                return Err(CoreError::NotFound("Endpoint not found".into()));
            }
            let (tech, resource) = endpoint.split_once('/').unwrap_or((&endpoint, ""));
            Ok(MessageTarget {
                uri: format!("{}:{resource}", tech.to_ascii_lowercase()),
                endpoint: endpoint.clone(),
            })
        })
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

    /// One endpoint's snapshot (404 for an unknown technology or resource).
    pub fn get_endpoint(&self, tech: &str, resource: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            let key = self.endpoint_key(state, tech, resource)?;
            Ok(state
                .endpoints
                .get(&key)
                .map(|e| e.json())
                .unwrap_or(Value::Null))
        })
    }

    /// Sends a text message to an endpoint. A Test phone answers at once with the same
    /// message: TextMessageReceived `{message: {from: <phone URI>, to: <sender>, body,
    /// variables}, endpoint}` for applications subscribed to the endpoint.
    pub fn send_message(
        &self,
        tech: &str,
        resource: &str,
        message: TextMessage,
    ) -> Result<(), CoreError> {
        let target = self.message_target(tech, resource)?;
        self.with_state(|state| {
            let Some(endpoint) = state.endpoints.get(&target.endpoint).map(|e| e.json()) else {
                return Err(CoreError::NotFound("Endpoint not found".into()));
            };
            let echo = json!({
                "from": target.uri,
                "to": message.from,
                "body": message.body,
                "variables": message.variables,
            });
            self.publish(
                state,
                Event::new(
                    "TextMessageReceived",
                    Scope {
                        endpoint: Some(target.endpoint.clone()),
                        ..Scope::default()
                    },
                )
                .with("message", echo)
                .with("endpoint", endpoint),
            );
            Ok(())
        })
    }

    /// Asks an endpoint to REFER its peer elsewhere. Test phones accept and ignore it.
    pub fn refer(&self, tech: &str, resource: &str) -> Result<(), CoreError> {
        self.message_target(tech, resource).map(|_| ())
    }
}
