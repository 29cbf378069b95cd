//! How channels end, with the events Asterisk publishes at each step: the ways a hangup
//! is asked for (each with its own `ChannelHangupRequest`), the end of what ran on the
//! channel (a dialplan run, or the Stasis application of an originated or created
//! channel), and the removal of the channel (`ChannelDestroyed`), which a technology may
//! pass on (a Local channel hangs up its other half).

use std::sync::Arc;

use serde_json::json;

use super::channel::Execution;
use crate::core::event::{Event, Scope};
use crate::core::stasis::SourceKind;
use crate::core::{Core, State, cause};

/// Who asks for a channel to be hung up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HangupBy {
    /// An application over ARI (`DELETE /channels/{id}`, a `/dial` timeout): a soft hangup,
    /// `ChannelHangupRequest {cause: 32, soft: true}` (32 is the "explicit" soft hangup).
    Request,
    /// The far end hung up (a phone, the other half of a Local pair):
    /// `ChannelHangupRequest {cause}`; the channel ends with that cause.
    FarEnd,
    /// wari ends the channel itself (dialplan `Hangup()`, an originate's ring timeout, a
    /// Dial() leg given up, the end of the channel's runner): no request event.
    Silent,
}

/// `cause` of the `ChannelHangupRequest` of a soft hangup asked for over ARI.
const SOFT_HANGUP_EXPLICIT: u16 = 32;
/// `cause` of the `ChannelHangupRequest` published when a dialplan run ends.
const SOFT_HANGUP_APP_UNLOAD: u16 = 16;

impl Core {
    /// Starts hanging a channel up: the request event `by` calls for, the technology is
    /// told, and the runner ends the channel (StasisEnd, ChannelDestroyed). A channel
    /// already hanging up is left alone.
    pub(in crate::core) fn hangup_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        cause: u16,
        by: HangupBy,
    ) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        if channel.hanging_up {
            return;
        }
        channel.hanging_up = true;
        let unannounced = channel.dialing.as_ref().is_some_and(|d| !d.announced);
        // Cause 0 leaves the cause unknown (a channel whose application failed).
        if cause != 0 {
            channel.hangup_cause = cause;
        }
        if state.dialers.contains_key(id) {
            state.leg_causes.insert(id.clone(), cause);
        }
        if unannounced {
            // The call was placed before the far end could refuse it.
            self.announce_dial(state, id);
        }
        let Some(channel) = state.channels.get(id) else {
            return;
        };
        let driver = channel.driver.clone();
        self.send_control(state, id, super::channel::Control::Hangup);
        let (request_cause, soft) = match by {
            HangupBy::Request => (SOFT_HANGUP_EXPLICIT, true),
            HangupBy::FarEnd => (cause, false),
            HangupBy::Silent => (0, false),
        };
        if by != HangupBy::Silent {
            self.publish_hangup_request(state, id, request_cause, soft);
        }
        driver.hangup(&mut crate::core::tech::Context::new(self, state), id, cause);
        self.notify_dialer(state, id);
    }

    /// `ChannelHangupRequest` for a channel.
    fn publish_hangup_request(&self, state: &mut State, id: &Arc<str>, cause: u16, soft: bool) {
        let snapshot = self.channel_snapshot(state, id);
        let mut event =
            Event::new("ChannelHangupRequest", Scope::channel(id)).with("cause", json!(cause));
        if soft {
            event = event.with("soft", json!(true));
        }
        self.publish(state, event.with_channel("channel", snapshot));
    }

    /// The channel's dialplan run is over (it ran out, or the channel hung up): Asterisk
    /// announces the end with a soft hangup request `{cause: 16, soft: true}`, and the
    /// channel's dialplan application is again the one it had before the run.
    pub(in crate::core) fn dialplan_ended(&self, state: &mut State, id: &Arc<str>) {
        let Some(channel) = state.channels.get(id) else {
            return;
        };
        if !matches!(channel.execution, Execution::Dialplan { .. }) {
            return;
        }
        self.publish_hangup_request(state, id, SOFT_HANGUP_APP_UNLOAD, true);
        if let Some(channel) = state.channels.get_mut(id)
            && let Execution::Dialplan {
                saved_app,
                saved_data,
            } = std::mem::take(&mut channel.execution)
        {
            channel.dialplan.app_name = saved_app;
            channel.dialplan.app_data = saved_data;
        }
    }

    /// Removes a hung-up channel: a failed originate reports its `Dial` status, the
    /// channel leaves its bridge, its technology is told (a Local channel hangs up its
    /// other half), ChannelDestroyed, subscriptions end.
    pub(in crate::core) fn destroy_locked(&self, state: &mut State, id: &Arc<str>) {
        crate::core::tech::context::channel_destroyed(self, state, id);
        self.leave_bridge(state, id);
        let Some(channel) = state.channels.get(id) else {
            return;
        };
        let cause = channel.hangup_cause;
        let driver = channel.driver.clone();
        self.dial_failed(state, id, cause);
        driver.destroyed(&mut crate::core::tech::Context::new(self, state), id, cause);
        let snapshot = self.channel_snapshot(state, id);
        self.publish(
            state,
            Event::new("ChannelDestroyed", Scope::channel(id))
                .with("cause", json!(cause))
                .with("cause_txt", json!(cause::text(cause)))
                .with_channel("channel", snapshot),
        );
        self.notify_dialer(state, id);
        self.media_leg_removed(id);
        if let Some(channel) = state.channels.remove(id)
            && let Some(endpoint) = &channel.endpoint
        {
            self.endpoint_channel_removed(state, endpoint, id);
        }
        state.apps.object_destroyed(SourceKind::Channel, id);
    }
}
