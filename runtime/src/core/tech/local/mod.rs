//! `Local/exten@context`: a channel pair inside wari. `;1` is what the requester gets; `;2`
//! exists from the same moment (state Ring, id `<id>;2` unless chosen) and runs the
//! dialplan at `exten@context` once `;1` is called. Calling passes `;1`'s variables and
//! identities to `;2` (its caller is `;1`'s connected line and the other way round).
//! Answering, ringing, progress and DTMF pass from one half to the other; a hold asked of
//! one half is heard by the other (ChannelHold when that half is in a bridge). When one
//! half goes away, the other is hung up with its cause, as a far end hangs up.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{Context, Driver, Inbound, Indication, Request, Technology};
use crate::core::channels::channel::{CallerId, ChannelState, DialplanPosition};
use crate::core::{ControlReceiver, CoreError, NewChannel};

/// The Local technology.
#[derive(Debug, Default)]
pub(crate) struct Local {
    sequence: AtomicU32,
}

/// `exten@context` of a Local dial string (options after `/` are ignored; no `@` means
/// context `default`).
fn target(resource: &str) -> Result<(String, String), CoreError> {
    let target = resource.split('/').next().unwrap_or_default();
    match target.split_once('@') {
        Some((e, c)) if !e.is_empty() && !c.is_empty() => Ok((e.to_string(), c.to_string())),
        Some(_) => Err(CoreError::BadRequest(format!(
            "Invalid Local channel '{resource}': expected exten@context"
        ))),
        None if !target.is_empty() => Ok((target.to_string(), "default".to_string())),
        None => Err(CoreError::BadRequest(
            "Invalid Local channel: expected exten@context".to_string(),
        )),
    }
}

impl Technology for Local {
    fn name(&self) -> &'static str {
        "Local"
    }

    fn has_endpoints(&self) -> bool {
        false
    }

    /// `;1` and `;2`.
    fn channels_per_request(&self) -> u32 {
        2
    }

    fn request(
        &self,
        ctx: &mut Context<'_>,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let (exten, context) = target(&request.resource)?;
        ctx.check_new_id(request.id.as_deref())?;
        let id = request.id.clone().unwrap_or_else(|| ctx.new_channel_id());
        let other_id = match (&request.other_id, &request.id) {
            (Some(other), _) => other.clone(),
            (None, Some(id)) => format!("{id};2"),
            (None, None) => ctx.new_channel_id(),
        };
        ctx.check_new_id(Some(&other_id))?;
        let id: Arc<str> = Arc::from(id);
        let other_id: Arc<str> = Arc::from(other_id);
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let base = format!("Local/{exten}@{context}-{n:08x}");
        let called = Arc::new(AtomicBool::new(false));
        let (id, rx) = ctx.add_channel(NewChannel {
            id: Some(id.to_string()),
            name: format!("{base};1"),
            state: ChannelState::Down,
            driver: Arc::new(LocalHalf {
                peer: other_id.clone(),
                half: 1,
                called: called.clone(),
            }),
            dialplan: DialplanPosition {
                context: context.clone(),
                exten: exten.clone(),
                priority: 1,
                ..DialplanPosition::default()
            },
            vars: request.vars.clone(),
            ..NewChannel::default()
        })?;
        // `;2` is a call arriving at `exten@context`: it runs its dialplan once `;1` is
        // called (or ends at once if hung up first).
        let second = ctx.inbound_held(Inbound {
            channel: NewChannel {
                id: Some(other_id.to_string()),
                name: format!("{base};2"),
                driver: Arc::new(LocalHalf {
                    peer: id.clone(),
                    half: 2,
                    called,
                }),
                ..NewChannel::default()
            },
            context,
            exten,
        })?;
        ctx.pair_media(&id, &second);
        Ok((id, rx))
    }
}

/// One half of a Local pair.
#[derive(Debug)]
pub(crate) struct LocalHalf {
    peer: Arc<str>,
    half: u8,
    /// `;1` has been called (shared by both halves).
    called: Arc<AtomicBool>,
}

impl Driver for LocalHalf {
    fn call(&self, ctx: &mut Context<'_>, me: &Arc<str>) -> Result<(), CoreError> {
        if self.half != 1 || self.called.swap(true, Ordering::AcqRel) {
            return Err(CoreError::Conflict("Local channel already called".into()));
        }
        let Some((connected, caller)) = ctx.identities(me) else {
            return Err(CoreError::NotFound("Channel not found".into()));
        };
        let vars = ctx.vars(me);
        let peer = self.peer.clone();
        if !ctx.exists(&peer) {
            return Err(CoreError::NotFound("Channel not found".into()));
        }
        for (name, value) in &vars {
            ctx.set_var(&peer, name, value);
        }
        ctx.set_identities(&peer, caller, connected);
        ctx.wake(&peer);
        Ok(())
    }

    fn answered(&self, ctx: &mut Context<'_>, _me: &Arc<str>) {
        if self.half == 2 {
            ctx.answered(&self.peer);
        }
    }

    fn destroyed(&self, ctx: &mut Context<'_>, _me: &Arc<str>, cause: u16) {
        if !ctx.exists(&self.peer) {
            return;
        }
        if self.half == 1 && !self.called.load(Ordering::Acquire) {
            // `;2` never ran: it just goes away, its cause unknown.
            ctx.discard(&self.peer);
        } else {
            ctx.hang_up(&self.peer, cause);
        }
    }

    fn send_dtmf(&self, ctx: &mut Context<'_>, me: &Arc<str>, digit: char, duration_ms: u32) {
        // Through the media engine when it runs (the peer hears the tone, then receives
        // the digit); directly otherwise.
        if !ctx.send_dtmf(me, digit, duration_ms) {
            ctx.dtmf_received(&self.peer, digit, duration_ms);
        }
    }

    fn indicate(&self, ctx: &mut Context<'_>, _me: &Arc<str>, indication: Indication) {
        match indication {
            Indication::Ringing if self.half == 2 => ctx.ringing(&self.peer),
            Indication::Progress if self.half == 2 => ctx.progress(&self.peer),
            // A hold asked of one half reaches the other; Asterisk 23.4.1 announces no
            // ChannelHold/ChannelUnhold for either half, bridged or not (observed with the
            // far half alone in a bridge and with a second party).
            _ => {}
        }
    }

    fn connected_changed(&self, ctx: &mut Context<'_>, _me: &Arc<str>, connected: &CallerId) {
        if self.called.load(Ordering::Acquire) {
            ctx.set_caller(&self.peer, connected.clone());
        }
    }

    fn local_peer(&self) -> Option<Arc<str>> {
        Some(self.peer.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::target;

    #[test]
    fn targets_default_to_context_default() {
        assert_eq!(
            target("200@default/n").expect("valid"),
            ("200".to_string(), "default".to_string())
        );
        assert_eq!(
            target("s").expect("valid"),
            ("s".to_string(), "default".to_string())
        );
        assert!(target("@x").is_err());
        assert!(target("").is_err());
    }
}
