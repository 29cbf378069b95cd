//! The beep before a recording (`beep=true`): played to the recording's target, never
//! part of the recording.
//!
//! On a leg the beep is what the leg writes (its peer hears it) while the recording reads
//! nothing; on a bridge the beep is pushed into the recorder's own slot, so every member
//! hears it in the mix and the recorder (which never hears its own slot) records nothing
//! until it has ended.

use super::{Graph, Leg, MixBridge, Part, RecordRequest, Recording, Source, Target};
use crate::media::frame::{AudioFrame, Rate};

/// A beep still playing.
pub(super) struct Beep {
    source: Box<dyn Source>,
}

impl Graph {
    /// Starts the recording as [`super::Command::Record`] does, with the beep (a beep that
    /// cannot be opened is skipped: the recording starts at once).
    pub(super) fn record_after_beep(&mut self, request: RecordRequest, part: &Part) {
        let rate = match &request.target {
            Target::Leg(leg) => self.legs.get(leg).map(|l| l.rate),
            Target::Bridge(bridge) => self.bridges.contains_key(bridge).then_some(Rate::Narrow8k),
        };
        let beep = rate.and_then(|rate| match self.opener.open(part, rate) {
            Ok(source) => Some(Beep { source }),
            Err(reason) => {
                tracing::info!(recording = %crate::log_text::Escaped(&request.name), %reason, "the beep cannot be played: recording without it");
                None
            }
        });
        self.start_recording(request, beep);
    }
}

/// The beep frame a leg writes this tick, if one of its recordings is beeping; beeps that
/// have ended let their recordings start.
pub(super) fn leg_beep(leg: &mut Leg) -> Option<AudioFrame> {
    next_beep(&mut leg.recordings)
}

/// Pushes this tick's beep (of any bridge recording still beeping) into the recorder's
/// slot, so every member hears it.
pub(super) fn mix_bridge_beeps(bridge: &mut MixBridge) {
    let Some(slot) = bridge.recorder else {
        return;
    };
    if let Some(frame) = next_beep(&mut bridge.recordings) {
        bridge.mixer.push(slot, &frame);
    }
}

/// Advances every beep of `recordings` by a frame: the first recording's frame is the one
/// heard; a beep that has ended lets its recording start.
fn next_beep(recordings: &mut [Recording]) -> Option<AudioFrame> {
    let mut out = None;
    for recording in recordings {
        if let Some(beep) = recording.beep.as_mut() {
            match beep.source.next_frame() {
                Some(frame) => {
                    out.get_or_insert(frame);
                }
                None => recording.beep = None,
            }
        }
    }
    out
}
