//! Channels: the channel object ([`channel`]) and its ARI snapshot ([`snapshot`]), the
//! requests that make channels (originate, create), and the checks ARI applies before it
//! controls one. The operations are split by caller: `control` holds the ARI control API
//! (what REST handlers and WebAssembly apps call), `upcalls` the transitions the
//! technologies and the channel runners drive; [`hangup`], [`dialing`], [`identity`] and
//! [`variables`] each own one part of a channel's life.

pub(crate) mod channel;
mod control;
pub(crate) mod dialing;
pub(crate) mod hangup;
pub(crate) mod identity;
pub(crate) mod snapshot;
mod upcalls;
pub(crate) mod variables;

use std::sync::Arc;
use std::time::Duration;

use super::quota::Account;
use super::tech::Request;
use super::{Core, CoreError, State};

/// A parsed `Tech/resource` dial string.
pub fn split_endpoint(endpoint: &str) -> Result<(&str, &str), CoreError> {
    match endpoint.split_once('/') {
        Some((tech, resource)) if !tech.is_empty() && !resource.is_empty() => Ok((tech, resource)),
        _ => Err(CoreError::BadRequest("Invalid endpoint specified".into())),
    }
}

/// Where an originated channel goes once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Into a Stasis application with these arguments.
    App {
        /// The application's name.
        app: String,
        /// Its arguments, in the StasisStart `args`.
        args: Vec<String>,
    },
    /// Into the dialplan.
    Dialplan {
        /// The dialplan context.
        context: String,
        /// The extension in `context`.
        exten: String,
        /// The priority to start at (1 and up).
        priority: u32,
    },
}

/// `POST /channels` and `POST /channels/{id}`.
#[derive(Debug, Clone)]
pub struct Originate {
    /// The dial string, `tech/resource` (e.g. `Test/alice`).
    pub endpoint: String,
    /// Where the channel goes when answered.
    pub destination: Destination,
    /// The caller ID to set, `"name" <number>` or a bare number; `None` keeps the
    /// endpoint's.
    pub caller_id: Option<String>,
    /// Seconds to wait for an answer; `None` waits forever.
    pub timeout: Option<Duration>,
    /// The new channel's id; `None` generates one.
    pub channel_id: Option<String>,
    /// The id of the second channel a two-sided technology (`Local`) makes; `None`
    /// generates one.
    pub other_channel_id: Option<String>,
    /// Channel variables to set: name, value, and whether the channel's later events report
    /// them in `channelvars`.
    pub variables: Vec<(String, String, bool)>,
    /// The quota account the channel counts against (`None`: none).
    pub owner: Option<Arc<Account>>,
}

/// `POST /channels/create`.
#[derive(Debug, Clone)]
pub struct Create {
    /// The dial string, `tech/resource`.
    pub endpoint: String,
    /// The Stasis application the channel enters once dialled.
    pub app: String,
    /// Its arguments, in the StasisStart `args`.
    pub args: Vec<String>,
    /// The new channel's id; `None` generates one.
    pub channel_id: Option<String>,
    /// The id of a two-sided technology's second channel; `None` generates one.
    pub other_channel_id: Option<String>,
    /// Channel variables to set: name, value, and whether later events report them in
    /// `channelvars`.
    pub variables: Vec<(String, String, bool)>,
    /// The quota account the channel counts against (`None`: none).
    pub owner: Option<Arc<Account>>,
}

impl Core {
    fn channel_mut<'s>(
        &self,
        state: &'s mut State,
        id: &str,
    ) -> Result<&'s mut channel::Channel, CoreError> {
        state
            .channels
            .get_mut(id)
            .ok_or_else(|| CoreError::NotFound("Channel not found".into()))
    }

    /// The checks ARI applies before controlling a channel: it exists (404), is in a
    /// Stasis application (409) and, with `media`, has been answered or is inbound (412).
    /// The channel.
    pub(in crate::core) fn controllable<'s>(
        &self,
        state: &'s State,
        id: &str,
        media: bool,
    ) -> Result<&'s channel::Channel, CoreError> {
        let channel = state
            .channels
            .get(id)
            .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
        if channel.stasis.is_none() {
            return Err(CoreError::Conflict(
                "Channel not in Stasis application".into(),
            ));
        }
        if media && channel.state.blocks_control() {
            return Err(CoreError::InvalidState("Channel in invalid state".into()));
        }
        Ok(channel)
    }
}

/// The ids an application chose for a new channel and its Local other half. As in
/// Asterisk, `otherChannelId` counts only with a `channelId`, and the two must differ
/// (409, as for an id in use). Each is checked against the channels when the technology
/// creates them.
fn new_ids(id: Option<&str>, other: Option<&str>) -> Result<Request, CoreError> {
    let other = id.and(other);
    if id.is_some() && id == other {
        return Err(CoreError::Conflict(
            "Channel with given unique ID already exists".into(),
        ));
    }
    Ok(Request {
        id: id.map(str::to_string),
        other_id: other.map(str::to_string),
        ..Request::default()
    })
}

/// Every channel, oldest first (ties by id), as `GET /channels` lists them.
fn sorted_channels(state: &State) -> Vec<&channel::Channel> {
    let mut channels: Vec<&channel::Channel> = state.channels.values().collect();
    channels.sort_by(|a, b| a.creationtime.cmp(&b.creationtime).then(a.id.cmp(&b.id)));
    channels
}

/// Variables a channel answers without them being set (read-only facts).
pub(crate) fn builtin_var(channel: &channel::Channel, name: &str) -> Option<String> {
    Some(match name {
        "CHANNEL" => channel.name.clone(),
        "UNIQUEID" => channel.id.to_string(),
        "CONTEXT" => channel.dialplan.context.clone(),
        "EXTEN" => channel.dialplan.exten.clone(),
        "PRIORITY" => channel.dialplan.priority.to_string(),
        "LANGUAGE" | "CHANNEL(language)" => channel.language.clone(),
        "CHANNEL(state)" => channel.state.as_str().to_string(),
        "HANGUPCAUSE" => channel.hangup_cause.to_string(),
        _ => return None,
    })
}

/// Duration from a number of milliseconds, clamping negatives to zero.
pub fn millis(ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::super::{CoreConfig, NewChannel, SystemInfo};
    use super::*;

    #[test]
    fn channel_list_json_is_cached_until_a_change() {
        let core = Core::new(
            SystemInfo::default(),
            CoreConfig {
                channelvars: vec!["V".into()],
                ..CoreConfig::default()
            },
        );
        let empty = core.control().list_channels_json();
        assert_eq!(&empty[..], b"[]");
        let ids: Vec<Arc<str>> = (0..3)
            .map(|i| {
                core.with_state(|state| {
                    core.add_channel(
                        state,
                        NewChannel {
                            name: format!("Test/x-{i}"),
                            ..NewChannel::default()
                        },
                    )
                    .map(|(id, _rx)| id)
                })
                .expect("channel")
            })
            .collect();
        let first = core.control().list_channels_json();
        let expected = serde_json::to_vec(&core.control().list_channels()).expect("serialise");
        assert_eq!(&first[..], &expected[..]);
        let again = core.control().list_channels_json();
        assert_eq!(first.as_ptr(), again.as_ptr(), "served from the cache");
        core.with_state(|state| core.set_var_locked(state, &ids[1], "V", Some("set"), None));
        let changed = core.control().list_channels_json();
        assert_ne!(changed, first);
        let expected = serde_json::to_vec(&core.control().list_channels()).expect("serialise");
        assert_eq!(&changed[..], &expected[..]);
        assert!(String::from_utf8_lossy(&changed).contains(r#""channelvars":{"V":"set"}"#));
    }
}
