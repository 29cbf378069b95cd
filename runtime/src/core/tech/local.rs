//! `Local/exten@context`: a channel pair inside wari. `;1` is what the requester gets;
//! `;2` runs the dialplan at `exten@context` once `;1` is called. Answering, ringing,
//! DTMF and hangups pass from one half to the other.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{Driver, Indication, Request, Technology};
use crate::core::channel::{CallerId, ChannelState, DialplanPosition};
use crate::core::pbx::Start;
use crate::core::{ControlReceiver, Core, CoreError, NewChannel, State};

/// The Local technology.
#[derive(Debug, Default)]
pub struct Local {
    sequence: AtomicU32,
}

impl Technology for Local {
    fn name(&self) -> &'static str {
        "Local"
    }

    fn has_endpoints(&self) -> bool {
        false
    }

    fn request(
        &self,
        core: &Core,
        state: &mut State,
        request: &Request,
    ) -> Result<(Arc<str>, ControlReceiver), CoreError> {
        let target = request.resource.split('/').next().unwrap_or_default();
        let (exten, context) = match target.split_once('@') {
            Some((e, c)) if !e.is_empty() && !c.is_empty() => (e.to_string(), c.to_string()),
            Some(_) => {
                return Err(CoreError::BadRequest(format!(
                    "Invalid Local channel '{}': expected exten@context",
                    request.resource
                )));
            }
            None if !target.is_empty() => (target.to_string(), "default".to_string()),
            None => {
                return Err(CoreError::BadRequest(
                    "Invalid Local channel: expected exten@context".to_string(),
                ));
            }
        };
        core.check_new_id(state, request.other_id.as_deref())?;
        let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let base = format!("Local/{exten}@{context}-{n:08x}");
        let other_id: Arc<str> = Arc::from(
            request
                .other_id
                .clone()
                .unwrap_or_else(|| core.new_channel_id())
                .as_str(),
        );
        let driver = Arc::new(LocalHalf {
            peer: other_id.clone(),
            half: 1,
            second: std::sync::Mutex::new(Some(SecondHalf {
                name: format!("{base};2"),
                exten,
                context,
                app: request.app.clone(),
            })),
        });
        let (id, rx) = core.add_channel(
            state,
            NewChannel {
                id: request.id.clone(),
                name: format!("{base};1"),
                state: ChannelState::Down,
                driver,
                app: request.app.clone(),
                ..NewChannel::default()
            },
        )?;
        // The second half exists from the start (its id is reserved and it is announced),
        // but it runs the dialplan only once the first half is called.
        state.reserved_ids.insert(other_id);
        Ok((id, rx))
    }
}

#[derive(Debug)]
struct SecondHalf {
    name: String,
    exten: String,
    context: String,
    /// The application the first half was originated into: it sees both halves.
    app: Option<String>,
}

/// One half of a Local pair.
#[derive(Debug)]
pub struct LocalHalf {
    peer: Arc<str>,
    half: u8,
    /// On `;1` until called: what `;2` will be.
    second: std::sync::Mutex<Option<SecondHalf>>,
}

impl Driver for LocalHalf {
    fn call(&self, core: &Core, state: &mut State, me: &Arc<str>) -> Result<(), CoreError> {
        let second = self
            .second
            .lock()
            .map_err(|_| CoreError::Internal("Local channel state poisoned".into()))?
            .take();
        let Some(second) = second else {
            return Err(CoreError::Conflict("Local channel already called".into()));
        };
        let app = state.app_of_channel(me).or(second.app.clone());
        state.reserved_ids.remove(&self.peer);
        let caller = state
            .channels
            .get(me)
            .map(|c| c.caller.clone())
            .unwrap_or_default();
        let (id, rx) = core.add_channel(
            state,
            NewChannel {
                id: Some(self.peer.to_string()),
                name: second.name,
                state: ChannelState::Ring,
                driver: Arc::new(LocalHalf {
                    peer: me.clone(),
                    half: 2,
                    second: std::sync::Mutex::new(None),
                }),
                app,
                caller: caller.clone(),
                connected: CallerId::default(),
                dialplan: DialplanPosition {
                    context: second.context.clone(),
                    exten: second.exten.clone(),
                    priority: 1,
                    ..DialplanPosition::default()
                },
                ..NewChannel::default()
            },
        )?;
        core.media_legs_paired(me, &id);
        core.spawn_runner(
            id,
            rx,
            Start::Dialplan {
                context: second.context,
                exten: second.exten,
                priority: 1,
            },
        );
        Ok(())
    }

    fn answered(&self, core: &Core, state: &mut State, _me: &Arc<str>) {
        if self.half == 2 {
            core.far_end_answered(state, &self.peer);
        }
    }

    fn hangup(&self, core: &Core, state: &mut State, _me: &Arc<str>, cause: u16) {
        if state.channels.contains_key(&self.peer) {
            core.hangup_locked(state, &self.peer, cause, false);
        }
    }

    fn send_dtmf(
        &self,
        core: &Core,
        state: &mut State,
        me: &Arc<str>,
        digit: char,
        duration_ms: u32,
    ) {
        // Through the media engine when it runs (the peer hears the tone, then receives
        // the digit); directly otherwise.
        if !core.media_send_dtmf(me, digit, duration_ms) {
            core.dtmf_received(state, &self.peer, digit, duration_ms);
        }
    }

    fn indicate(&self, core: &Core, state: &mut State, _me: &Arc<str>, indication: Indication) {
        if self.half == 2 && indication == Indication::Ringing {
            core.far_end_ringing(state, &self.peer);
        }
    }
}
