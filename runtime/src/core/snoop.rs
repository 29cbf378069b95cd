//! Snoop channels (`POST /channels/{id}/snoop`): the core's side of the operation. The
//! `Snoop` technology ([`super::tech::snoop`]) makes a channel that is Up at once and spies
//! on and/or whispers to its target; here it enters its Stasis application. The target
//! need not be in Stasis. The snoop channel lives until it is hung up, and is hung up when
//! its target is destroyed; the tap follows the two media legs, so the target may join and
//! leave bridges freely.

use std::sync::Arc;

use serde_json::Value;

use super::CoreError;
use super::channels::channel::DialplanPosition;
use super::control::ControlApi;
use super::tech::snoop::{Snoop, Target};
use super::tech::{Context, MadeByOperation, Request};
use crate::media::snoop::Direction;

/// `POST /channels/{channelId}/snoop[/{snoopId}]`.
#[derive(Debug, Clone)]
pub struct SnoopRequest {
    /// The channel to snoop on.
    pub target: String,
    pub spy: Direction,
    pub whisper: Direction,
    pub app: String,
    pub args: Vec<String>,
    /// The snoop channel's id, when the client chose it.
    pub snoop_id: Option<String>,
}

impl ControlApi<'_> {
    /// Creates a snoop channel on `request.target` and puts it in its application:
    /// 400 (no direction, no application, bad id), 404 (no target), 409 (id in use).
    /// Returns the snoop channel's snapshot.
    pub fn snoop(&self, request: SnoopRequest) -> Result<Value, CoreError> {
        if request.spy == Direction::None && request.whisper == Direction::None {
            return Err(CoreError::BadRequest(
                "Direction must be specified for at least spy or whisper".into(),
            ));
        }
        if request.app.is_empty() {
            return Err(CoreError::BadRequest("Application name is required".into()));
        }
        let tech = self.technology_made_by_operation(Snoop::NAME)?;
        self.with_state(|state| {
            let target = state
                .channels
                .get(request.target.as_str())
                .map(|c| c.id.clone())
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
            let (id, rx) = tech.request(
                &mut Context::new(self, state),
                &Request {
                    resource: target.to_string(),
                    id: request.snoop_id.clone(),
                    params: Some(Arc::new(Target {
                        channel: target,
                        spy: request.spy,
                        whisper: request.whisper,
                    })),
                    ..Request::default()
                },
            )?;
            // The channel runs Stasis() from the start (Asterisk 23.4.1 shows `default`,
            // `s`, 1): the application hears no ChannelDialplan, only StasisStart.
            if let Some(channel) = state.channels.get_mut(&id) {
                channel.dialplan = DialplanPosition {
                    context: "default".into(),
                    exten: "s".into(),
                    priority: 1,
                    app_name: "Stasis".into(),
                    app_data: std::iter::once(request.app.as_str())
                        .chain(request.args.iter().map(String::as_str))
                        .collect::<Vec<_>>()
                        .join(","),
                };
            }
            self.enter_app_at_once(state, &id, rx, &request.app, &request.args);
            Ok(self.channel_json(state, &id))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{APP, TestCore, refusal};
    use super::*;

    fn request(target: &str, spy: Direction, whisper: Direction, app: &str) -> SnoopRequest {
        SnoopRequest {
            target: target.into(),
            spy,
            whisper,
            app: app.into(),
            args: Vec::new(),
            snoop_id: None,
        }
    }

    #[test]
    fn bad_snoop_requests_are_refused_in_order_and_create_nothing() {
        let t = TestCore::new(false);
        t.stasis_channel("target");
        let both = Direction::Both;
        let none = Direction::None;
        let with_id = |id: &str| SnoopRequest {
            snoop_id: Some(id.into()),
            ..request("target", both, none, APP)
        };
        let cases = [
            // No direction comes before no application and before the target.
            (
                request("ghost", none, none, ""),
                400,
                "Direction must be specified for at least spy or whisper",
            ),
            (
                request("ghost", none, both, ""),
                400,
                "Application name is required",
            ),
            (request("ghost", both, none, APP), 404, "Channel not found"),
            (
                with_id("target"),
                409,
                "Channel with given unique ID already exists",
            ),
            (with_id(""), 400, "Channel id must not be empty"),
            (
                with_id(&"x".repeat(150)),
                400,
                "Channel id is longer than 149 characters",
            ),
        ];
        for (bad, status, message) in cases {
            assert_eq!(
                refusal(t.core.control().snoop(bad.clone())),
                (status, message.to_string()),
                "{bad:?}"
            );
        }
        assert_eq!(t.channel_count(), 1);
        t.core
            .with_state(|state| assert!(state.followers.is_empty()));
        assert_eq!(t.events.of_kind("ChannelCreated").len(), 1);
    }

    #[tokio::test]
    async fn a_snoop_channel_is_up_in_its_application_and_cannot_be_dialed() {
        let t = TestCore::new(false);
        t.stasis_channel("target");
        let snapshot = t
            .core
            .control()
            .snoop(SnoopRequest {
                snoop_id: Some("spy".into()),
                ..request("target", Direction::Both, Direction::None, APP)
            })
            .expect("snoop channel");
        assert_eq!(snapshot["id"], "spy");
        assert_eq!(snapshot["state"], "Up");
        assert_eq!(snapshot["name"], "Snoop/target-00000001");
        let started = t.events.of_kind("StasisStart");
        assert_eq!(
            started.last().map(|e| &e["channel"]["id"]),
            Some(&"spy".into())
        );
        // Only a channel made by /channels/create is dialed; its driver refuses anyway.
        assert_eq!(
            refusal(t.core.control().dial("spy", None)),
            (409, "Channel is not in the 'Down' state".into())
        );
        let id: Arc<str> = Arc::from("spy");
        assert_eq!(
            refusal(t.core.with_state(|state| t.core.call_locked(state, &id))),
            (409, "A snoop channel cannot be dialed".into())
        );
    }
}
