//! The channel an external-media technology (`UnicastRTP`, `WebSocket`, `AudioSocket`)
//! makes for `POST /channels/externalMedia`, as Asterisk makes it: its id the request's
//! or a new one, Down, on the outgoing line (dialplan application `AppDial2` with
//! `(Outgoing Line)`), its audio going through the technology's edge at 8 kHz.

use std::sync::Arc;

use super::{Context, Driver, MediaLeg, Request};
use crate::core::channels::channel::{ChannelState, DialplanPosition};
use crate::core::{ControlReceiver, CoreError, NewChannel};
use crate::media::external::Edge;
use crate::media::frame::Rate;

/// The id of the channel `request` makes: the one asked for, or a new one.
pub(super) fn channel_id(ctx: &Context<'_>, request: &Request) -> Arc<str> {
    Arc::from(request.id.clone().unwrap_or_else(|| ctx.new_channel_id()))
}

/// What an external-media channel is made of.
pub(super) struct ExternalChannel {
    /// Its id ([`channel_id`]).
    pub id: Arc<str>,
    pub name: String,
    pub driver: Arc<dyn Driver>,
    /// The request's variables and the technology's own.
    pub vars: Vec<(String, String)>,
    /// Where its audio goes to and comes from.
    pub edge: Box<dyn Edge>,
}

impl ExternalChannel {
    /// Creates the channel ([`Context::add_channel`]).
    pub(super) fn add(
        self,
        ctx: &mut Context<'_>,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        ctx.add_channel(NewChannel {
            id: Some(self.id.to_string()),
            name: self.name,
            state: ChannelState::Down,
            driver: self.driver,
            dialplan: DialplanPosition {
                context: "default".into(),
                exten: "s".into(),
                priority: 1,
                app_name: "AppDial2".into(),
                app_data: "(Outgoing Line)".into(),
            },
            vars: self.vars,
            media: MediaLeg {
                rate: Rate::Narrow8k,
                edge: Some(self.edge),
                tap: None,
            },
            ..NewChannel::default()
        })
    }
}
