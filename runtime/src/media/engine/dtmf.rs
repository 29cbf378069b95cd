//! DTMF in the engine. A digit sent on a leg travels with its audio: the leg writes the
//! digit's dual tone (so its peer hears it in band, in order with what came before and
//! after), and when the tone is over the peer is reported to have received the digit. A
//! digit a bridge member receives ends the bridge's recordings whose `terminateOn`
//! matches it, as a digit a leg receives ends the leg's own.

use super::{Graph, Leg, MediaEvent, RecordingOp, end_recording};
use crate::media::frame::AudioFrame;
use crate::media::tone::{ToneGenerator, dtmf_spec};

/// A digit being sent on a leg.
pub(super) struct DtmfOut {
    digit: char,
    duration_ms: u32,
    /// `None` until the digit is at the head of the leg's queue (or for a key with no
    /// tone, which is delivered without one).
    tone: Option<ToneGenerator>,
    started: bool,
}

/// The frame a leg writes this tick while it sends a digit; a digit whose tone is over is
/// reported as received on the leg's peer.
pub(super) fn leg_dtmf(leg: &mut Leg, events: &mut Vec<MediaEvent>) -> Option<AudioFrame> {
    while let Some(head) = leg.dtmf_out.front_mut() {
        if !head.started {
            head.started = true;
            head.tone = dtmf_spec(head.digit, head.duration_ms, 0)
                .map(|spec| ToneGenerator::new(spec, leg.rate));
        }
        if let Some(frame) = head.tone.as_mut().and_then(ToneGenerator::next_frame) {
            return Some(frame);
        }
        let Some(done) = leg.dtmf_out.pop_front() else {
            break;
        };
        if let Some(peer) = &leg.peer {
            events.push(MediaEvent::Dtmf {
                leg: peer.clone(),
                digit: done.digit,
                duration_ms: done.duration_ms,
            });
        }
    }
    None
}

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

impl Graph {
    /// Queues a digit to send on `leg` (nothing when the leg is gone).
    pub(super) fn send_dtmf(&mut self, leg: &str, digit: char, duration_ms: u32) {
        if let Some(leg) = self.legs.get_mut(leg) {
            leg.dtmf_out.push_back(DtmfOut {
                digit,
                duration_ms,
                tone: None,
                started: false,
            });
        }
    }
}
