//! The `Dial` events of a channel an application has dialed, by originating it
//! (`POST /channels`) or with `POST /channels/{id}/dial`, as Asterisk's dialing publishes
//! them: status `""` once the call is placed, then `RINGING` and `ANSWER` as the far end
//! goes; a failed originate reports why (`BUSY`, `CONGESTION`, `CHANUNAVAIL`, `NOANSWER`)
//! when the channel goes away, unless it was given up by its own ring timeout. Only the
//! first event of a `/dial` carries the dial string, and a failed `/dial` reports nothing.
//! (Dial() in the dialplan publishes its own events, with a `caller`: see `pbx`.)

use std::sync::Arc;

use super::channel::{DialOrigin, Dialing};
use super::snapshot::ChannelSnapshot;
use crate::core::event;
use crate::core::{Core, CoreError, State};

/// The `dialstatus` of an originate that failed with `cause` (Q.850).
fn failed_status(cause: u16) -> &'static str {
    match cause {
        17 => "BUSY",
        34 => "CONGESTION",
        3 | 20 => "CHANUNAVAIL",
        _ => "NOANSWER",
    }
}

impl Core {
    /// Places the outbound call of `id` for an application: its technology is called, and
    /// the first `Dial` is published once the call is placed (or, if the far end reacts
    /// while it is placed, just before that reaction).
    pub(in crate::core) fn place_call(
        &self,
        state: &mut State,
        id: &Arc<str>,
        origin: DialOrigin,
        dialstring: &str,
    ) -> Result<(), CoreError> {
        if let Some(channel) = state.channels.get_mut(id) {
            channel.dialing = Some(Dialing {
                origin,
                dialstring: dialstring.to_string(),
                announced: false,
                abandoned: false,
            });
        }
        let placed = self.call_locked(state, id);
        self.announce_dial(state, id);
        placed
    }

    /// Publishes the first `Dial` (status `""`) of a call being placed, once.
    pub(in crate::core) fn announce_dial(&self, state: &mut State, id: &Arc<str>) {
        let Some(dialing) = state
            .channels
            .get_mut(id)
            .and_then(|c| c.dialing.as_mut())
            .filter(|d| !d.announced)
        else {
            return;
        };
        dialing.announced = true;
        let dialstring = dialing.dialstring.clone();
        self.publish_dial(state, id, &dialstring, "");
    }

    /// The far end of a dialed channel progressed (`RINGING`, `ANSWER`); an answered call
    /// is no longer being dialed. `snapshot` is the channel's as the event before this one
    /// carried it, if it did.
    pub(in crate::core) fn dial_progress(
        &self,
        state: &mut State,
        id: &Arc<str>,
        status: &str,
        snapshot: Option<Arc<ChannelSnapshot>>,
    ) {
        self.announce_dial(state, id);
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        let Some(dialing) = channel.dialing.as_ref().filter(|d| !d.abandoned) else {
            return;
        };
        let dialstring = match dialing.origin {
            DialOrigin::Originate => dialing.dialstring.clone(),
            DialOrigin::Ari => String::new(),
        };
        if status == "ANSWER" {
            channel.dialing = None;
        }
        let snapshot = snapshot.or_else(|| self.channel_snapshot(state, id).map(Arc::new));
        self.publish(
            state,
            event::dial(None, (id, snapshot), &dialstring, status),
        );
    }

    /// The call is given up by its own timeout: no further `Dial` is published for it.
    pub(in crate::core) fn dial_abandoned(&self, state: &mut State, id: &Arc<str>) {
        if let Some(dialing) = state.channels.get_mut(id).and_then(|c| c.dialing.as_mut()) {
            dialing.abandoned = true;
        }
    }

    /// A dialed channel goes away unanswered: an originate reports its status.
    pub(in crate::core) fn dial_failed(&self, state: &mut State, id: &Arc<str>, cause: u16) {
        let Some(dialing) = state.channels.get_mut(id).and_then(|c| c.dialing.take()) else {
            return;
        };
        if dialing.origin != DialOrigin::Originate || dialing.abandoned {
            return;
        }
        if !dialing.announced {
            self.publish_dial(state, id, &dialing.dialstring, "");
        }
        self.publish_dial(state, id, &dialing.dialstring, failed_status(cause));
    }

    fn publish_dial(&self, state: &mut State, id: &Arc<str>, dialstring: &str, status: &str) {
        let snapshot = self.channel_snapshot(state, id).map(Arc::new);
        self.publish(state, event::dial(None, (id, snapshot), dialstring, status));
    }
}

#[cfg(test)]
mod tests {
    use super::failed_status;

    #[test]
    fn failed_originates_report_asterisk_statuses() {
        assert_eq!(failed_status(17), "BUSY");
        assert_eq!(failed_status(34), "CONGESTION");
        assert_eq!(failed_status(3), "CHANUNAVAIL");
        assert_eq!(failed_status(20), "CHANUNAVAIL");
        assert_eq!(failed_status(16), "NOANSWER");
        assert_eq!(failed_status(19), "NOANSWER");
        assert_eq!(failed_status(21), "NOANSWER");
    }
}
