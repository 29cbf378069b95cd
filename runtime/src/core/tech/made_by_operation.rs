//! Technologies made by an operation of their own, never by a dial string: external
//! media's `UnicastRTP`, `WebSocket` and `AudioSocket` (`POST /channels/externalMedia`)
//! and `Snoop` (`POST /channels/{id}/snoop`). Such a technology implements
//! [`MadeByOperation`] (its name and how it makes a channel from the operation's
//! parameters) and is thereby a [`Technology`] that dial strings cannot name and that
//! has no endpoints.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::{Context, Request, Technology};
use crate::core::{ControlReceiver, CoreError};

/// A technology made by an operation of its own (see the module).
pub(crate) trait MadeByOperation: Send + Sync + fmt::Debug {
    /// Its name, by which the operation finds it ([`Technology::name`]).
    const NAME: &'static str;

    /// How long its channel may wait for its far end to answer
    /// ([`Technology::answer_timeout`]); None: Asterisk's originate default.
    fn answer_within(&self) -> Option<Duration> {
        None
    }

    /// Creates the channel for `request`, which carries the operation's parameters
    /// ([`Request::param`]), as [`Technology::request`] does.
    fn make(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError>;
}

impl<T: MadeByOperation> Technology for T {
    fn name(&self) -> &'static str {
        T::NAME
    }

    /// Made by its own operation only.
    fn dialable(&self) -> bool {
        false
    }

    fn has_endpoints(&self) -> bool {
        false
    }

    fn answer_timeout(&self) -> Option<Duration> {
        self.answer_within()
    }

    fn request(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        self.make(ctx, request)
    }
}
