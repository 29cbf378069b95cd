//! The channel operations of the ARI control API ([`ControlApi`]): originate, create,
//! dial, list and get, hangup, answer, ringing and hold indications, mute, DTMF, continuing
//! in the dialplan, moving to another application, redirect and channel variables. Each
//! checks the channel the way Asterisk's ARI does before it changes anything.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

use super::channel::{CallerId, ChannelState, Control, DialOrigin};
use super::hangup::HangupBy;
use super::snapshot::ChannelSnapshot;
use super::{
    Create, Destination, Originate, builtin_var, identity, new_ids, sorted_channels, split_endpoint,
};
use crate::core::control::ControlApi;
use crate::core::event::Scope;
use crate::core::pbx::Start;
use crate::core::stasis::SourceKind;
use crate::core::stasis::run::Announce;
use crate::core::tech::Indication;
use crate::core::{Core, CoreError, State, cause};

impl ControlApi<'_> {
    /// [`Core::controllable`] on its own, for operations whose only effect is the check
    /// (or that check before validating their parameters, as Asterisk does).
    pub fn check_controllable(&self, id: &str, media: bool) -> Result<(), CoreError> {
        self.with_state(|state| self.controllable(state, id, media).map(|_| ()))
    }

    /// Originates a call: creates the channel (its dialplan application `AppDial2`, its
    /// identity from `callerId`, its variables), subscribes the application to it, calls
    /// it (`Dial` events follow its progress) and, once answered, sends it into the
    /// application or the dialplan. Returns the channel snapshot taken before the call.
    pub fn originate(&self, request: Originate) -> Result<ChannelSnapshot, CoreError> {
        let (_, dialstring) = split_endpoint(&request.endpoint)?;
        self.with_state(|state| {
            let (id, rx) = self.request_channel(
                state,
                &request.endpoint,
                new_ids(
                    request.channel_id.as_deref(),
                    request.other_channel_id.as_deref(),
                )?,
                request.owner.as_ref(),
            )?;
            self.set_dialplan_app(state, &id, "AppDial2", "(Outgoing Line)");
            if let Some(caller) = &request.caller_id {
                let caller = CallerId::parse(caller);
                self.set_caller_locked(state, &id, caller.clone());
                self.set_connected_locked(state, &id, caller);
            }
            self.apply_variables(state, &id, &request.variables);
            let snapshot = self
                .channel_snapshot(state, &id)
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))?;
            if let Destination::App { app, .. } = &request.destination {
                self.subscribe_new_channel(state, app, &id, true);
            }
            let called = self.place_call(state, &id, DialOrigin::Originate, dialstring);
            let entered = called.is_ok()
                && match &request.destination {
                    Destination::App { app, args } => {
                        self.enter_stasis_if_answered(state, &id, app, args)
                    }
                    Destination::Dialplan { .. } => false,
                };
            self.start_runner(
                state,
                &id,
                rx,
                entered,
                Start::Originated {
                    destination: request.destination.clone(),
                    timeout: request.timeout,
                },
            );
            called?;
            Ok(snapshot)
        })
    }

    /// `POST /channels/create`: the channel is created (a Local channel with its other
    /// half), the application subscribed to it, and it enters the application at once
    /// (state Down); it is called later with [`Core::dial`].
    pub fn create(&self, request: Create) -> Result<Value, CoreError> {
        let (_, dialstring) = split_endpoint(&request.endpoint)?;
        self.with_state(|state| {
            let (id, rx) = self.request_channel(
                state,
                &request.endpoint,
                new_ids(
                    request.channel_id.as_deref(),
                    request.other_channel_id.as_deref(),
                )?,
                request.owner.as_ref(),
            )?;
            self.apply_variables(state, &id, &request.variables);
            if let Some(channel) = state.channels.get_mut(&id) {
                channel.pending_dial = Some(dialstring.to_string());
            }
            let snapshot = self.channel_json(state, &id);
            self.subscribe_new_channel(state, &request.app, &id, false);
            self.spawn_runner(
                id,
                rx,
                Start::Stasis {
                    app: request.app.clone(),
                    args: request.args.clone(),
                },
            );
            Ok(snapshot)
        })
    }

    /// [`Core::dialable`] on its own.
    pub fn check_dialable(&self, id: &str) -> Result<(), CoreError> {
        self.with_state(|state| self.dialable(state, id))
    }

    /// `POST /channels/{id}/dial`: calls a channel made by `/channels/create`; `Dial`
    /// events follow the call. With a timeout, a call still unanswered then is hung up as
    /// if asked over ARI, with cause 19 (no answer).
    pub fn dial(&self, id: &str, timeout: Option<Duration>) -> Result<(), CoreError> {
        self.with_state(|state| {
            self.dialable(state, id)?;
            let channel = self.channel_mut(state, id)?;
            let Some(dial_string) = channel.pending_dial.take() else {
                return Err(CoreError::Conflict(
                    "Dialing a channel not created by ARI".into(),
                ));
            };
            let id = channel.id.clone();
            self.place_call(state, &id, DialOrigin::Ari, &dial_string)?;
            if let Some(limit) = timeout
                && let Some(core) = self.me.upgrade()
            {
                let id = id.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(limit).await;
                    core.with_state(|state| {
                        let unanswered = state
                            .channels
                            .get(&id)
                            .is_some_and(|c| c.state != ChannelState::Up);
                        if unanswered {
                            core.dial_abandoned(state, &id);
                            core.hangup_locked(state, &id, cause::NO_ANSWER, HangupBy::Request);
                        }
                    });
                });
            }
            Ok(())
        })
    }

    /// Every channel's snapshot.
    pub fn list_channels(&self) -> Value {
        let state = self.lock_state();
        Value::Array(
            sorted_channels(&state)
                .iter()
                .map(|c| c.json(&self.channelvars))
                .collect(),
        )
    }

    /// [`Core::list_channels`] as compact JSON. The rendering is kept and served again
    /// until the state is next locked for a change, so repeated listings of an unchanged
    /// system cost a reference count.
    pub fn list_channels_json(&self) -> Bytes {
        let mut state = self.lock_state();
        if let Some((generation, bytes)) = &state.channel_list
            && *generation == state.generation
        {
            return bytes.clone();
        }
        let channels = sorted_channels(&state);
        let mut out = Vec::with_capacity(channels.len() * 400 + 2);
        out.push(b'[');
        for (i, channel) in channels.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            channel.write_json(&mut out, &self.channelvars);
        }
        out.push(b']');
        let bytes = Bytes::from(out);
        let generation = state.generation;
        state.channel_list = Some((generation, bytes.clone()));
        bytes
    }

    /// One channel's snapshot.
    pub fn get_channel(&self, id: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            state
                .channels
                .get(id)
                .map(|c| c.json(&self.channelvars))
                .ok_or_else(|| CoreError::NotFound("Channel not found".into()))
        })
    }

    /// Hangs up any channel with a Q.850 cause.
    pub fn hangup(&self, id: &str, cause: u16) -> Result<(), CoreError> {
        self.with_state(|state| {
            let id = self.channel_mut(state, id)?.id.clone();
            self.hangup_locked(state, &id, cause, HangupBy::Request);
            Ok(())
        })
    }

    /// `GET /channels/{id}/rtp_statistics`: the `RTPstat` of a channel whose technology
    /// carries RTP (404 unknown channel, 403 any other technology).
    pub fn rtp_statistics(&self, id: &str) -> Result<Value, CoreError> {
        self.with_state(|state| {
            let channel = self.channel_mut(state, id)?;
            let stats = channel
                .driver
                .rtp_statistics()
                .ok_or_else(|| CoreError::Forbidden("Unsupported channel type".into()))?;
            Ok(stats.json(&channel.id))
        })
    }

    /// Answers a channel in Stasis.
    pub fn answer(&self, id: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            self.controllable(state, id, true)?;
            let id = self.channel_mut(state, id)?.id.clone();
            self.answer_locked(state, &id);
            Ok(())
        })
    }

    /// Sends an indication (ringing, progress, hold) to a channel's far end. A hold asked
    /// this way is no ChannelHold of the channel itself (that event is about a channel
    /// whose own far end holds the call; a Local channel's other half hears it).
    pub fn indicate(&self, id: &str, indication: Indication) -> Result<(), CoreError> {
        let plays_moh = self.with_state(|state| {
            self.controllable(state, id, true)?;
            let channel = self.channel_mut(state, id)?;
            match indication {
                Indication::Hold => channel.hold_indicated = true,
                Indication::Unhold => channel.hold_indicated = false,
                _ => {}
            }
            let id = channel.id.clone();
            let driver = channel.driver.clone();
            driver.indicate(
                &mut crate::core::tech::Context::new(self, state),
                &id,
                indication,
            );
            Ok::<_, CoreError>(driver.hold_plays_moh())
        })?;
        // A technology that holds with local music (chan_pjsip's default) gets it here,
        // outside the lock (the class's files are opened).
        let moh = match indication {
            Indication::Hold if plays_moh => self.start_channel_moh(id, ""),
            Indication::Unhold if plays_moh => self.stop_channel_moh(id),
            _ => Ok(()),
        };
        if let Err(error) = moh {
            tracing::debug!(channel = %id.escape_debug(), %error, "music on hold for a hold not played");
        }
        Ok(())
    }

    /// Mutes or unmutes a direction (`in`, `out`, `both`), on the channel and its media leg.
    pub fn mute(&self, id: &str, direction: &str, mute: bool) -> Result<(), CoreError> {
        let (inbound, outbound) = match direction {
            "both" => (true, true),
            "in" => (true, false),
            "out" => (false, true),
            "" => return Err(CoreError::BadRequest("Direction is required".into())),
            _ => {
                return Err(CoreError::BadRequest("Invalid direction specified".into()));
            }
        };
        self.with_state(|state| {
            self.controllable(state, id, true)?;
            let channel = self.channel_mut(state, id)?;
            if inbound {
                channel.muted_in = mute;
            }
            if outbound {
                channel.muted_out = mute;
            }
            self.media_mute_changed(channel.id.clone(), channel.muted_in, channel.muted_out);
            Ok(())
        })
    }

    /// Sends DTMF digits to the channel's far end, paced in the background.
    pub fn send_dtmf(
        &self,
        id: &str,
        dtmf: &str,
        before: Duration,
        between: Duration,
        duration: Duration,
        after: Duration,
    ) -> Result<(), CoreError> {
        if dtmf.is_empty() {
            return Err(CoreError::BadRequest("DTMF is required".into()));
        }
        let id = self.with_state(|state| {
            self.controllable(state, id, true)?;
            let channel = self.channel_mut(state, id)?;
            let id = channel.id.clone();
            if channel.state != ChannelState::Up {
                // Digits on an unanswered inbound channel need early media: progress first.
                let driver = channel.driver.clone();
                driver.indicate(
                    &mut crate::core::tech::Context::new(self, state),
                    &id,
                    Indication::Progress,
                );
            }
            Ok::<_, CoreError>(id)
        })?;
        let Some(core) = self.me.upgrade() else {
            return Ok(());
        };
        let digits: Vec<char> = dtmf.chars().collect();
        let duration_ms = u32::try_from(duration.as_millis())
            .unwrap_or(u32::MAX)
            .max(100);
        let between = if between.is_zero() {
            Duration::from_millis(100)
        } else {
            between
        };
        tokio::spawn(async move {
            tokio::time::sleep(before + Duration::from_millis(100)).await;
            for (i, digit) in digits.into_iter().enumerate() {
                if i > 0 {
                    tokio::time::sleep(between).await;
                }
                let pause = match digit {
                    'w' => Some(Duration::from_millis(500)),
                    'W' => Some(Duration::from_secs(1)),
                    _ => None,
                };
                if let Some(pause) = pause {
                    tokio::time::sleep(pause).await;
                    continue;
                }
                let digit = digit.to_ascii_uppercase();
                if !(digit.is_ascii_digit() || matches!(digit, '*' | '#' | 'A'..='D')) {
                    continue;
                }
                let alive = core.with_state(|state| {
                    let Some(channel) = state.channels.get(&id) else {
                        return false;
                    };
                    let driver = channel.driver.clone();
                    driver.send_dtmf(
                        &mut crate::core::tech::Context::new(&core, state),
                        &id,
                        digit,
                        duration_ms,
                    );
                    true
                });
                if !alive {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(u64::from(duration_ms))).await;
            }
            tokio::time::sleep(after).await;
        });
        Ok(())
    }

    /// Leaves Stasis and continues in the dialplan.
    pub fn continue_in_dialplan(
        &self,
        id: &str,
        context: Option<&str>,
        exten: Option<&str>,
        priority: Option<i64>,
        label: Option<&str>,
    ) -> Result<(), CoreError> {
        self.continue_at(id, context, exten, priority, label, false)
    }

    /// Leaves Stasis because its application failed (a WebAssembly app with
    /// `on_failure = continue`): the channel continues at the next priority with
    /// STASISSTATUS=FAILED, so the dialplan can tell a failed app from a finished one.
    pub fn continue_after_failure(&self, id: &str) -> Result<(), CoreError> {
        self.continue_at(id, None, None, None, None, true)
    }

    /// Moves a channel from its application to another.
    pub fn move_to_app(&self, id: &str, app: &str, args: Vec<String>) -> Result<(), CoreError> {
        if app.is_empty() {
            return Err(CoreError::BadRequest(
                "Missing required parameter: app".into(),
            ));
        }
        self.with_state(|state| {
            self.controllable(state, id, false)?;
            let id = self.channel_mut(state, id)?.id.clone();
            self.send_control(
                state,
                &id,
                Control::Move {
                    app: app.to_string(),
                    args,
                },
            );
            Ok(())
        })
    }

    /// `POST /channels/{id}/redirect`: asks the channel's technology to transfer the call
    /// to `endpoint` (`Tech/resource`, same technology as the channel). Checks, in
    /// Asterisk's order: 404, 409, 412, endpoint missing (400), not `tech/resource` (422),
    /// other technology (422). What follows is the technology's (a Test phone leaves the
    /// call as on a SIP 302); one that cannot transfer (Local) accepts the request and
    /// nothing happens, as in Asterisk.
    pub fn redirect(&self, id: &str, endpoint: &str) -> Result<(), CoreError> {
        self.with_state(|state| {
            self.controllable(state, id, true)?;
            if endpoint.is_empty() {
                return Err(CoreError::BadRequest(
                    "Required parameter 'endpoint' not provided.".into(),
                ));
            }
            let tech = match endpoint.split_once('/') {
                Some((tech, resource)) if !resource.is_empty() => tech,
                _ => {
                    return Err(CoreError::Unprocessable(format!(
                        "Endpoint parameter '{endpoint}' does not contain tech/resource"
                    )));
                }
            };
            let channel = self.channel_mut(state, id)?;
            let channel_tech = channel
                .name
                .split_once('/')
                .map_or(channel.name.as_str(), |(tech, _)| tech)
                .to_string();
            if !tech.eq_ignore_ascii_case(&channel_tech) {
                return Err(CoreError::Unprocessable(format!(
                    "Endpoint technology '{tech}' does not match channel technology '{channel_tech}'"
                )));
            }
            let (id, driver) = (channel.id.clone(), channel.driver.clone());
            let done = driver.redirect(&mut crate::core::tech::Context::new(self, state), &id, endpoint);
            tracing::debug!(channel = %id, endpoint = ?endpoint, ?done, "redirect");
            Ok(())
        })
    }

    /// A channel variable (then a global one, as Asterisk's variable lookup falls back to
    /// globals), with no Stasis requirement.
    pub fn get_var(&self, id: &str, name: &str) -> Result<String, CoreError> {
        if name.is_empty() {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            let Some(channel) = state.channels.get(id) else {
                return Err(CoreError::NotFound("Provided channel was not found".into()));
            };
            if name.ends_with(')') {
                // A function: one wari does not have cannot be read. Asterisk 23.4.1 answers
                // 500 with this message; asking for a function that does not exist is the
                // client's mistake, so 400 here (as for bridge variables).
                return self
                    .read_function(Some(channel), name)
                    .or_else(|| builtin_var(channel, name))
                    .ok_or_else(|| {
                        CoreError::BadRequest("Unable to read provided function".into())
                    });
            }
            self.var_value(state, id, name)
                .ok_or_else(|| CoreError::NotFound("Provided variable was not found".into()))
        })
    }

    /// Sets a channel variable on a channel in Stasis; `report` flags it for `channelvars`.
    pub fn set_var(
        &self,
        id: &str,
        name: &str,
        value: Option<&str>,
        report: bool,
    ) -> Result<(), CoreError> {
        if name.is_empty() {
            return Err(CoreError::BadRequest("Variable name is required".into()));
        }
        self.with_state(|state| {
            self.controllable(state, id, false)?;
            let id = self.channel_mut(state, id)?.id.clone();
            if name.ends_with(')') && !identity::is_writable_function(name) {
                return Err(CoreError::BadRequest("Failed to execute function".into()));
            }
            self.set_var_locked(state, &id, name, value, Some(report));
            Ok(())
        })
    }
}

impl Core {
    /// Sets the `variables` of an originate or create (functions such as
    /// `CALLERID(name)` change the identity instead).
    fn apply_variables(
        &self,
        state: &mut State,
        id: &Arc<str>,
        variables: &[(String, String, bool)],
    ) {
        for (name, value, report) in variables {
            self.set_var_locked(state, id, name, Some(value), report.then_some(true));
        }
    }

    /// Subscribes `app` to a new channel and, for a Local channel, to its other half (as
    /// Asterisk does after creating them: the application sees no ChannelCreated).
    fn subscribe_new_channel(&self, state: &mut State, app: &str, id: &Arc<str>, peer_too: bool) {
        state.apps.subscribe(app, SourceKind::Channel, id);
        if peer_too && let Some(peer) = state.channels.get(id).and_then(|c| c.driver.local_peer()) {
            state.apps.subscribe(app, SourceKind::Channel, &peer);
        }
    }

    /// Sets the application shown in a channel's dialplan position (ChannelDialplan, which
    /// only applications subscribed to every channel can receive this early).
    fn set_dialplan_app(&self, state: &mut State, id: &Arc<str>, app: &str, data: &str) {
        let announce = state.apps.any_wants("ChannelDialplan", &Scope::channel(id));
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        app.clone_into(&mut channel.dialplan.app_name);
        data.clone_into(&mut channel.dialplan.app_data);
        if announce {
            let position = channel.dialplan.clone();
            self.set_dialplan_position(state, id, position);
        }
    }

    /// A channel whose far end answered while it was called (a Test phone that answers
    /// at once) enters its application right away: its runner has nothing to do until it
    /// is told something, so it is not started yet. False when the channel is not up or the
    /// application has no handler here (the runner then deals with it as usual).
    pub(in crate::core) fn enter_stasis_if_answered(
        &self,
        state: &mut State,
        id: &Arc<str>,
        app: &str,
        args: &[String],
    ) -> bool {
        let answered = state
            .channels
            .get(id)
            .is_some_and(|c| c.state == ChannelState::Up && !c.hanging_up);
        if !answered || !state.apps.is_active(app) {
            return false;
        }
        self.begin_app_run(state, id, app, args, Announce::Silently);
        self.stasis_enter(state, id, app, args)
    }

    /// The checks of `/dial` that come before its parameters': the channel exists (404),
    /// is in Stasis (409) and is Down (409).
    fn dialable(&self, state: &State, id: &str) -> Result<(), CoreError> {
        let channel = self.controllable(state, id, false)?;
        if !matches!(channel.state, ChannelState::Down | ChannelState::Reserved) {
            return Err(CoreError::Conflict(
                "Channel is not in the 'Down' state".into(),
            ));
        }
        Ok(())
    }

    fn continue_at(
        &self,
        id: &str,
        context: Option<&str>,
        exten: Option<&str>,
        priority: Option<i64>,
        label: Option<&str>,
        failed: bool,
    ) -> Result<(), CoreError> {
        let dialplan = self.dialplan();
        self.with_state(|state| {
            self.controllable(state, id, true)?;
            let channel = self.channel_mut(state, id)?;
            let current = channel.dialplan.clone();
            let (context, exten, default_priority) = match (
                context.filter(|c| !c.is_empty()),
                exten.filter(|e| !e.is_empty()),
            ) {
                (None, None) if priority.is_none() && label.is_none() => (
                    current.context.clone(),
                    current.exten.clone(),
                    u32::try_from(current.priority + 1).unwrap_or(1),
                ),
                (None, exten) => (
                    current.context.clone(),
                    exten.map(str::to_string).unwrap_or(current.exten.clone()),
                    1,
                ),
                (Some(context), exten) => {
                    (context.to_string(), exten.unwrap_or("s").to_string(), 1)
                }
            };
            let priority = match label.filter(|l| !l.is_empty()) {
                Some(label) => match label.parse::<u32>() {
                    Ok(0) => {
                        return Err(CoreError::BadRequest(
                            "Requested priority is illegal".into(),
                        ));
                    }
                    Ok(n) => n,
                    Err(_) => dialplan
                        .find_label(&context, &exten, label)
                        .ok_or_else(|| {
                            CoreError::NotFound("Requested label can not be found".into())
                        })?,
                },
                None => match priority {
                    Some(p) if p > 0 => u32::try_from(p).unwrap_or(1),
                    _ => default_priority,
                },
            };
            let id = channel.id.clone();
            self.send_control(
                state,
                &id,
                Control::Continue {
                    context,
                    exten,
                    priority,
                    failed,
                },
            );
            Ok(())
        })
    }
}
