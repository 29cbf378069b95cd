//! A far end's hold passed through its bridge: when a channel's far end holds the call
//! (or takes it back), every other party of its mixing bridge is indicated the hold (or
//! unhold), as `POST /channels/{id}/hold` does to a channel: its technology either plays
//! music on hold to its own far end or passes the hold on (SIP `moh_passthrough`). As in
//! Asterisk, a holding bridge passes nothing, no event is published for the parties that
//! only receive the indication, the hold is not remembered for channels joining later,
//! and a channel leaving a bridge (or joining a mixing one) while a hold is indicated to
//! it is indicated the unhold.

use std::sync::Arc;

use super::bridge::BridgeType;
use crate::core::tech::{Context, Indication};
use crate::core::{Core, State};

impl Core {
    /// Indicates a hold (`held`) or its end to a channel's far end, with the core's state
    /// locked: its technology is told, and music on hold starts or stops when the
    /// technology holds that way. Nothing for a channel being hung up.
    pub(in crate::core) fn indicate_hold_locked(
        &self,
        state: &mut State,
        id: &Arc<str>,
        held: bool,
    ) {
        let Some(channel) = state.channels.get_mut(id) else {
            return;
        };
        if channel.hanging_up {
            return;
        }
        channel.hold_indicated = held;
        let driver = channel.driver.clone();
        let indication = if held {
            Indication::Hold
        } else {
            Indication::Unhold
        };
        driver.indicate(&mut Context::new(self, state), id, indication);
        if driver.hold_plays_moh() {
            self.channel_moh_locked(id, held);
        }
    }

    /// The far end of `holder` held (`held`) or took the call back: the other parties of
    /// its mixing bridge are indicated so.
    pub(in crate::core) fn pass_hold_through_bridge(
        &self,
        state: &mut State,
        holder: &Arc<str>,
        held: bool,
    ) {
        let Some(bridge) = state
            .channels
            .get(holder)
            .and_then(|c| c.bridge.as_ref())
            .and_then(|b| state.bridges.get(b))
        else {
            return;
        };
        if bridge.flags.kind != BridgeType::Mixing {
            return;
        }
        let others: Vec<Arc<str>> = bridge
            .channels
            .iter()
            .filter(|c| *c != holder)
            .cloned()
            .collect();
        for other in &others {
            self.indicate_hold_locked(state, other, held);
        }
    }

    /// A channel that left its bridge while a hold was indicated to it is indicated the
    /// unhold (its music stops).
    pub(in crate::core) fn end_hold_on_leaving(&self, state: &mut State, id: &Arc<str>) {
        if state.channels.get(id).is_some_and(|c| c.hold_indicated) {
            self.indicate_hold_locked(state, id, false);
        }
    }

    /// A channel joining a mixing bridge while a hold is indicated to it is indicated the
    /// unhold, as Asterisk's mixing bridges do when a channel joins.
    pub(in crate::core) fn end_hold_on_joining(
        &self,
        state: &mut State,
        bridge: &Arc<str>,
        id: &Arc<str>,
    ) {
        let mixing = state
            .bridges
            .get(bridge)
            .is_some_and(|b| b.flags.kind == BridgeType::Mixing);
        if mixing && state.channels.get(id).is_some_and(|c| c.hold_indicated) {
            self.indicate_hold_locked(state, id, false);
        }
    }
}
