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
    /// Starts the recording as [`super::Command::Record`] does, then gives it the beep
    /// (a beep that cannot be opened is skipped: the recording starts at once).
    pub(super) fn record_after_beep(&mut self, request: RecordRequest, part: &Part) {
        let name = request.name.clone();
        let target = request.target.clone();
        let rate = match &target {
            Target::Leg(leg) => self.legs.get(leg).map(|l| l.rate),
            Target::Bridge(_) => Some(Rate::Narrow8k),
        };
        self.apply(super::Command::Record(request));
        let Some(rate) = rate else {
            return;
        };
        let source = match self.opener.open(part, rate) {
            Ok(source) => source,
            Err(reason) => {
                tracing::info!(recording = %name, %reason, "the beep cannot be played: recording without it");
                return;
            }
        };
        let recordings = match &target {
            Target::Leg(leg) => self.legs.get_mut(leg).map(|l| &mut l.recordings),
            Target::Bridge(bridge) => self.bridges.get_mut(bridge).map(|b| &mut b.recordings),
        };
        if let Some(recording) =
            recordings.and_then(|list| list.iter_mut().find(|r| r.name == name))
        {
            recording.beep = Some(Beep { source });
        }
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
