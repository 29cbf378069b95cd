//! The `Snoop` technology: a `Snoop/<target>-<n>` channel that is Up at once and spies on
//! and/or whispers to its target through a media tap ([`crate::media::snoop`]), made for a
//! request carrying a [`Target`] (`POST /channels/{id}/snoop`, see [`crate::core::snoop`]).
//! The channel follows its target: it is hung up when the target is destroyed. There is
//! no far end to call or tell anything, and it is made by its own operation only
//! ([`MadeByOperation`]): not dialable.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Context, Driver, MadeByOperation, MediaLeg, Request, TapOn};
use crate::core::channels::channel::ChannelState;
use crate::core::{ControlReceiver, CoreError, NewChannel};
use crate::media::frame::Rate;
use crate::media::snoop::Direction;

/// The parameters of a request for a snoop channel.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The channel snooped on (its id as the core knows it).
    pub channel: Arc<str>,
    pub spy: Direction,
    pub whisper: Direction,
}

/// The `Snoop` technology.
#[derive(Debug, Default)]
pub(crate) struct Snoop {
    /// Numbers the snoop channels' names.
    sequence: AtomicU32,
}

impl MadeByOperation for Snoop {
    const NAME: &'static str = "Snoop";

    fn make(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let target = request.param::<Target>().ok_or_else(|| {
            CoreError::BadRequest("A snoop channel is made by snooping on a channel".into())
        })?;
        if !ctx.exists(&target.channel) {
            return Err(CoreError::NotFound("Channel not found".into()));
        }
        ctx.check_new_id(request.id.as_deref())?;
        let n = self
            .sequence
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_add(1);
        let (id, rx) = ctx.add_channel(NewChannel {
            id: request.id.clone(),
            name: format!("Snoop/{}-{n:08x}", target.channel),
            state: ChannelState::Up,
            driver: Arc::new(SnoopDriver),
            // Subscribed when it enters the application: as in Asterisk 23.4.1, the
            // application hears StasisStart, not ChannelCreated.
            app: None,
            media: MediaLeg {
                rate: Rate::Narrow8k,
                edge: None,
                tap: Some(TapOn {
                    target: target.channel.clone(),
                    spy: target.spy,
                    whisper: target.whisper,
                }),
            },
            ..NewChannel::default()
        })?;
        ctx.follow(&id, &target.channel);
        tracing::info!(
            snoop = %id,
            target = %target.channel,
            spy = ?target.spy,
            whisper = ?target.whisper,
            "snoop channel created"
        );
        Ok((id, rx))
    }
}

/// The technology side of a snoop channel: there is no far end to call or tell anything.
#[derive(Debug)]
struct SnoopDriver;

impl Driver for SnoopDriver {
    fn call(&self, _: &mut Context<'_>, _: &Arc<str>) -> Result<(), CoreError> {
        Err(CoreError::Conflict(
            "A snoop channel cannot be dialed".into(),
        ))
    }
}
