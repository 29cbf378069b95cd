//! Listening in on a live call from the operator's console (issue 18): the core makes a
//! snoop channel spying on both directions of the target, and a `WebSocket` media channel
//! (server connection, µ-law, audio sent to the far end only) that the console's page
//! connects to, joined in a basic mixing bridge so the page hears what the snoop hears.
//!
//! Neither channel enters a Stasis application: both run no dialplan and wait for their
//! hang-up, as a Dial() leg does. They end together: the media channel follows the target
//! (the target's hang-up ends listening) and the snoop channel follows the media channel
//! (the page's close, a broken socket or a hang-up of the media channel ends the snoop).
//! The target is never touched: the tap only reads its audio. Each channel counts
//! against the owner's `max_channels` until it is gone.

use std::sync::Arc;

use super::CoreError;
use super::control::ControlApi;
use super::pbx::Start;
use super::quota::Account;
use super::tech::snoop::{Snoop, Target};
use super::tech::websocket_media::{CONNECTION_ID_VAR, INCOMING, WebSocketRequest, WebSocketTech};
use super::tech::{Context, MadeByOperation, Request};
use crate::media::codec::Codec;
use crate::media::snoop::Direction;

/// What [`ControlApi::listen_in`] made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listening {
    /// The snoop channel on the target.
    pub snoop: String,
    /// The media channel the page's WebSocket serves.
    pub media: String,
    /// The media channel's connection id (the key of its waiting WebSocket).
    pub connection: String,
}

impl ControlApi<'_> {
    /// Starts listening in on `target`, the channels charged to `owner`: 404 when there
    /// is no such channel, 403 over the owner's `max_channels`, 501 without a media
    /// engine. Nothing is left behind on failure.
    pub fn listen_in(
        &self,
        target: &str,
        owner: Option<&Arc<Account>>,
    ) -> Result<Listening, CoreError> {
        self.media()?;
        let snoop_tech = self.technology_made_by_operation(Snoop::NAME)?;
        let media_tech = self.technology_made_by_operation(WebSocketTech::NAME)?;
        let charges = match owner {
            Some(owner) => Some((owner.take_channels(1)?, owner.take_channels(1)?)),
            None => None,
        };
        let made = self.with_state(|state| {
            let target = state
                .channels
                .get(target)
                .map(|c| c.id.clone())
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
            let (media, media_rx) = media_tech.request(
                &mut Context::new(self, state),
                &Request {
                    resource: INCOMING.into(),
                    params: Some(Arc::new(WebSocketRequest {
                        codec: Codec::Ulaw,
                        options: String::new(),
                        direction: Some("in".into()),
                    })),
                    ..Request::default()
                },
            )?;
            let snooped = snoop_tech.request(
                &mut Context::new(self, state),
                &Request {
                    resource: target.to_string(),
                    params: Some(Arc::new(Target {
                        channel: target.clone(),
                        spy: Direction::Both,
                        whisper: Direction::None,
                    })),
                    ..Request::default()
                },
            );
            let (snoop, snoop_rx) = match snooped {
                Ok(made) => made,
                Err(error) => {
                    self.spawn_runner(media.clone(), media_rx, Start::Idle);
                    Context::new(self, state).hang_up(&media, super::cause::NORMAL_CLEARING);
                    return Err(error);
                }
            };
            {
                let mut ctx = Context::new(self, state);
                ctx.follow(&media, &target);
                ctx.follow(&snoop, &media);
            }
            let bridge = self.create_basic_bridge_locked(state);
            self.join_bridge_locked(state, &bridge, &snoop);
            self.join_bridge_locked(state, &bridge, &media);
            self.spawn_runner(snoop.clone(), snoop_rx, Start::Idle);
            self.spawn_runner(media.clone(), media_rx, Start::Idle);
            let connection = state
                .channels
                .get(&media)
                .and_then(|c| c.vars.get(CONNECTION_ID_VAR).cloned())
                .unwrap_or_default();
            tracing::info!(%target, %snoop, %media, "listening in on a channel");
            Ok(Listening {
                snoop: snoop.to_string(),
                media: media.to_string(),
                connection,
            })
        })?;
        if let Some((for_snoop, for_media)) = charges {
            self.attach_charge(&made.snoop, for_snoop);
            self.attach_charge(&made.media, for_media);
        }
        Ok(made)
    }
}

#[cfg(test)]
mod tests {
    use super::super::quota::Kind;
    use super::super::test_support::{TestCore, refusal};
    use super::*;

    /// Lets the channels' runners run (a bounded number of turns) until the core has
    /// `count` channels.
    async fn channels_become(t: &TestCore, count: usize) {
        for _ in 0..1000 {
            if t.channel_count() == count {
                return;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(t.channel_count(), count);
    }

    #[tokio::test]
    async fn listening_makes_a_snoop_and_a_media_channel_that_end_together() {
        let t = TestCore::new(true);
        let target = t.stasis_channel("target");
        let owner = Account::new("op", Some(2), None);
        assert_eq!(
            refusal(t.core.control().listen_in("ghost", Some(&owner))),
            (404, "Channel not found".into())
        );
        assert_eq!(owner.live(Kind::Channels), 0);
        let made = t
            .core
            .control()
            .listen_in("target", Some(&owner))
            .expect("listening");
        assert!(!made.connection.is_empty());
        let snoop = t.core.control().get_channel(&made.snoop).expect("snoop");
        assert!(
            snoop["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Snoop/target-")),
            "{snoop}"
        );
        let media = t.core.control().get_channel(&made.media).expect("media");
        assert_eq!(media["state"], "Down", "until the page connects");
        assert_eq!(owner.live(Kind::Channels), 2);
        // Over the owner's max_channels, nothing more is made.
        assert_eq!(
            refusal(t.core.control().listen_in("target", Some(&owner))).0,
            403
        );
        assert_eq!(t.channel_count(), 3);
        // The two share a bridge; the target is in none and still in its application.
        t.core.with_state(|state| {
            let bridge = state
                .channels
                .get(made.snoop.as_str())
                .and_then(|c| c.bridge.clone());
            assert!(bridge.is_some());
            assert_eq!(
                state
                    .channels
                    .get(made.media.as_str())
                    .and_then(|c| c.bridge.clone()),
                bridge
            );
            let target = state.channels.get(&target).expect("target");
            assert!(target.bridge.is_none() && target.stasis.is_some());
        });
        // The media channel's hang-up (the page went away) ends the snoop too.
        t.core
            .control()
            .hangup(&made.media, super::super::cause::NORMAL_CLEARING)
            .expect("hang up");
        channels_become(&t, 1).await;
        assert_eq!(owner.live(Kind::Channels), 0);

        // The target's hang-up ends a listen.
        let _again = t
            .core
            .control()
            .listen_in("target", Some(&owner))
            .expect("listening");
        // (The test's target has no runner: it is destroyed here, as its runner would.)
        t.core
            .with_state(|state| t.core.destroy_locked(state, &target));
        channels_become(&t, 0).await;
    }
}
