//! DTMF in the engine: a digit a bridge member receives ends the bridge's recordings whose
//! `terminateOn` matches it, as a digit a leg receives ends the leg's own.

use super::{Graph, RecordingOp, end_recording};

impl Graph {
    /// Ends the recordings of `leg`'s bridge (if any) that `digit` terminates.
    pub(super) fn dtmf_to_bridge_recordings(&mut self, leg: &str, digit: char) {
        let Some((bridge, _)) = self.legs.get(leg).and_then(|l| l.bridge.as_ref()) else {
            return;
        };
        let Some(bridge) = self.bridges.get_mut(bridge) else {
            return;
        };
        let (ended, kept): (Vec<_>, Vec<_>) = bridge
            .recordings
            .drain(..)
            .partition(|r| r.terminate_on.matches(digit));
        bridge.recordings = kept;
        for recording in ended {
            self.events
                .push(end_recording(recording, RecordingOp::Stop));
        }
    }
}
