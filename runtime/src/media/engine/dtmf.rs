//! DTMF in the engine. Digits travel with a leg's audio, both ways, through one mechanism:
//! a queue of digits on the leg ([`DigitQueue`]), each an optional quiet lead-in, then the
//! digit's dual tone, then a [`MediaEvent::Dtmf`] once the tone is over.
//!
//! - A digit *sent* on a leg (`Leg::dtmf_out`) is what the leg writes, so its peer hears it
//!   in band, in order with what came before and after; the peer is reported to have
//!   received it.
//! - A digit *pressed at the leg's far end* (`Leg::dtmf_in`: a Test phone's keys) is what
//!   the leg reads, after a quiet lead-in, so the tone is in the leg's recordings and its
//!   bridge's mix; the leg itself is reported to have received it.
//!
//! A digit a leg receives ends the leg's recordings, and its bridge's, whose `terminateOn`
//! matches it.

use std::collections::VecDeque;

use super::finisher::{Ending, Finish};
use super::{Graph, Leg, LegId, MediaEvent, Recording, end_recording};
use crate::media::frame::{AudioFrame, FRAME_MS, Rate};
use crate::media::tone::{ToneGenerator, dtmf_spec};

/// A queued digit.
struct Digit {
    digit: char,
    duration_ms: u32,
    /// Quiet still to pass before the tone, in milliseconds.
    quiet_ms: u32,
    /// The digit's tone; `None` for a key with no tone (reported without one).
    tone: Option<ToneGenerator>,
}

/// Digits queued one way on a leg, the one playing first.
#[derive(Default)]
pub(super) struct DigitQueue(VecDeque<Digit>);

impl DigitQueue {
    /// Queues `digit` after those already queued: `quiet_ms` of quiet, then `duration_ms`
    /// of its tone at `rate`.
    fn push(&mut self, digit: char, duration_ms: u32, quiet_ms: u32, rate: Rate) {
        let tone = dtmf_spec(digit, duration_ms, 0).map(|spec| ToneGenerator::new(spec, rate));
        self.0.push_back(Digit {
            digit,
            duration_ms,
            quiet_ms,
            tone,
        });
    }

    /// This tick's frame of the digit playing, `None` while it is quiet or nothing is
    /// queued. Each digit whose tone is over leaves the queue and is passed to `ended`
    /// (digit, duration in milliseconds).
    fn next_frame(&mut self, mut ended: impl FnMut(char, u32)) -> Option<AudioFrame> {
        while let Some(head) = self.0.front_mut() {
            if head.quiet_ms > 0 {
                head.quiet_ms = head.quiet_ms.saturating_sub(FRAME_MS);
                return None;
            }
            if let Some(frame) = head.tone.as_mut().and_then(ToneGenerator::next_frame) {
                return Some(frame);
            }
            let done = self.0.pop_front()?;
            ended(done.digit, done.duration_ms);
        }
        None
    }
}

/// The frame a leg writes this tick while it sends a digit; a digit whose tone is over is
/// reported as received on the leg's peer.
pub(super) fn sent_frame(leg: &mut Leg, events: &mut Vec<MediaEvent>) -> Option<AudioFrame> {
    let Leg { dtmf_out, peer, .. } = leg;
    dtmf_out.next_frame(|digit, duration_ms| {
        if let Some(peer) = peer {
            events.push(MediaEvent::Dtmf {
                leg: peer.clone(),
                digit,
                duration_ms,
            });
        }
    })
}

/// Sets what leg `id` reads this tick of the digits pressed at its far end (`far_in`); a
/// digit whose tone is over is reported as received on the leg.
pub(super) fn read_far_end(id: &LegId, leg: &mut Leg, events: &mut Vec<MediaEvent>) {
    leg.far_in = leg
        .dtmf_in
        .next_frame(|digit, duration_ms| {
            events.push(MediaEvent::Dtmf {
                leg: id.clone(),
                digit,
                duration_ms,
            });
        })
        .map(Box::new);
}

/// Which way a queued digit travels on its leg.
pub(super) enum Way {
    /// Sent on the leg: the leg writes it (`Leg::dtmf_out`).
    Sent,
    /// Pressed at the leg's far end: the leg reads it (`Leg::dtmf_in`).
    FarEnd,
}

impl Graph {
    /// Queues `digit` on `leg` one `way` (see [`DigitQueue::push`]); nothing for a leg that
    /// is gone.
    pub(super) fn queue_digit(
        &mut self,
        leg: &str,
        way: Way,
        digit: char,
        duration_ms: u32,
        quiet_ms: u32,
    ) {
        let Some(leg) = self.legs.get_mut(leg) else {
            return;
        };
        let queue = match way {
            Way::Sent => &mut leg.dtmf_out,
            Way::FarEnd => &mut leg.dtmf_in,
        };
        queue.push(digit, duration_ms, quiet_ms, leg.rate);
    }

    /// A digit arrived on `leg`: ends the recordings of its bridge (if any), then its own,
    /// that `digit` terminates.
    pub(super) fn dtmf_received(&mut self, leg: &str, digit: char) {
        let Some(leg) = self.legs.get_mut(leg) else {
            return;
        };
        if let Some((bridge, _)) = &leg.bridge
            && let Some(bridge) = self.bridges.get_mut(bridge)
        {
            end_terminated(&mut bridge.recordings, digit, &mut self.finishing);
        }
        end_terminated(&mut leg.recordings, digit, &mut self.finishing);
    }
}

/// Ends the recordings that `digit` terminates.
fn end_terminated(recordings: &mut Vec<Recording>, digit: char, finishing: &mut Vec<Finish>) {
    for recording in recordings.extract_if(.., |r| r.terminate_on.matches(digit)) {
        finishing.push(end_recording(recording, Ending::Stopped));
    }
}

/// Digits both ways, and the beep (media/engine/beep.rs), which shares their setup.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::test_support::{
        Recorded, Sim, next, paired_legs, record, record_request, start,
    };
    use super::super::{Command, Part, RecordingOp, RecordingState, Target};
    use super::*;
    use crate::media::detect::detect_dtmf;
    use crate::media::frame::Rate;
    use crate::media::snoop::{Direction, Tap};
    use crate::media::sources::FileOpener;

    /// An engine with paired legs `a` and `b`; `b` is recorded (it reads what `a` writes).
    fn paired(beep: Option<Part>) -> (Sim, Sim, Recorded) {
        let (engine, rx) = start(Arc::new(FileOpener::default()));
        paired_legs(&engine);
        let (request, frames) = record_request("r", Target::Leg("b".into()));
        engine.send(match beep {
            Some(beep) => Command::RecordAfterBeep { request, beep },
            None => Command::Record(request),
        });
        assert!(matches!(
            next(&rx),
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        ));
        (engine, rx, frames)
    }

    fn stop(engine: &Sim, rx: &Sim) {
        engine.send(Command::ControlRecording {
            name: "r".into(),
            op: RecordingOp::Stop,
        });
        assert!(matches!(
            next(rx),
            MediaEvent::Recording {
                state: RecordingState::Done,
                ..
            }
        ));
    }

    #[test]
    fn digits_sent_on_a_leg_are_heard_by_the_peer_then_received_in_order() {
        let (engine, rx, frames) = paired(None);
        for digit in ['4', '#'] {
            engine.send(Command::SendDtmf {
                leg: "a".into(),
                digit,
                duration_ms: 100,
            });
        }
        for digit in ['4', '#'] {
            assert_eq!(
                next(&rx),
                MediaEvent::Dtmf {
                    leg: "b".into(),
                    digit,
                    duration_ms: 100,
                }
            );
        }
        let heard_before_stop = frames.len();
        assert!(heard_before_stop >= 10, "both tones were read first");
        stop(&engine, &rx);
        assert_eq!(frames.keys(), "4#");
    }

    #[test]
    fn a_beep_plays_to_the_peer_and_delays_the_recording() {
        let (engine, rx, frames) = paired(Some(Part::Tone("!1000/200".into())));
        // `b` beeps: `a` reads the beep. Record `a` too to hear it.
        let (mut request, heard) = record_request("on-a", Target::Leg("a".into()));
        request.max_duration_ms = 400;
        engine.send(Command::Record(request));
        assert!(matches!(next(&rx), MediaEvent::Recording { .. }));
        assert!(matches!(
            next(&rx),
            MediaEvent::Recording {
                state: RecordingState::Done,
                ..
            }
        ));
        stop(&engine, &rx);
        let beeped = heard
            .frames()
            .iter()
            .filter(|f| {
                crate::media::detect::goertzel_power(f.samples(), 1000.0, 8000) > 1_000_000.0
            })
            .count();
        assert!(beeped >= 9, "a hears about 200 ms of beep: {beeped} frames");
        let recorded = frames.len();
        // About 10 frames after the beep (and a tick or two until the stop), not 20+.
        assert!(
            recorded <= 15,
            "b records nothing while it beeps ({recorded} frames in about 400 ms)"
        );
    }

    #[test]
    fn far_end_digits_are_read_as_tones_and_reported_when_each_tone_ends() {
        let (engine, rx) = start(Arc::new(FileOpener::default()));
        engine.send(Command::AddLeg {
            id: "phone".into(),
            rate: Rate::Narrow8k,
        });
        let frames = record(&engine, "r", Target::Leg("phone".into()));
        for digit in ['1', '1', '#'] {
            engine.send(Command::FarEndDtmf {
                leg: "phone".into(),
                digit,
                duration_ms: 100,
                quiet_ms: 100,
            });
        }
        let mut got = Vec::new();
        let mut recorded_at = Vec::new();
        while got.len() < 3 {
            if let MediaEvent::Dtmf {
                leg,
                digit,
                duration_ms,
            } = next(&rx)
            {
                assert_eq!(&*leg, "phone");
                assert_eq!(duration_ms, 100);
                got.push(digit);
                recorded_at.push(frames.len());
            }
        }
        assert_eq!(got, ['1', '1', '#']);
        let recorded = frames.frames();
        // Per frame: the digit heard, if any; collapsed into runs.
        let mut runs: Vec<(Option<char>, usize, usize)> = Vec::new();
        for (at, frame) in recorded.iter().enumerate() {
            let heard = detect_dtmf(frame.samples(), 8000);
            match runs.last_mut() {
                Some((digit, _, end)) if *digit == heard => *end = at + 1,
                _ => runs.push((heard, at, at + 1)),
            }
        }
        let tones: Vec<(char, usize, usize)> = runs
            .iter()
            .filter_map(|(digit, start, end)| digit.map(|d| (d, *start, *end)))
            .collect();
        assert_eq!(tones.len(), 3, "three separate tones: {runs:?}");
        for (n, (digit, start, end)) in tones.iter().enumerate() {
            assert_eq!(*digit, got[n]);
            assert_eq!(end - start, 5, "100 ms of tone: {runs:?}");
            assert!(recorded_at[n] >= *end, "the tone is read before its event");
            if n > 0 {
                assert_eq!(
                    start - tones[n - 1].2,
                    5,
                    "100 ms of quiet between: {runs:?}"
                );
            }
        }
    }

    #[test]
    fn a_snoop_spying_in_hears_the_digits_pressed_at_its_targets_far_end() {
        let (engine, rx) = start(Arc::new(FileOpener::default()));
        for id in ["phone", "s"] {
            engine.send(Command::AddLeg {
                id: id.into(),
                rate: Rate::Narrow8k,
            });
        }
        engine.send(Command::Snoop(Tap {
            snoop: "s".into(),
            target: "phone".into(),
            spy: Direction::In,
            whisper: Direction::None,
        }));
        let frames = record(&engine, "r", Target::Leg("s".into()));
        assert!(matches!(next(&rx), MediaEvent::Recording { .. }));
        engine.send(Command::FarEndDtmf {
            leg: "phone".into(),
            digit: '5',
            duration_ms: 100,
            quiet_ms: 0,
        });
        assert_eq!(
            next(&rx),
            MediaEvent::Dtmf {
                leg: "phone".into(),
                digit: '5',
                duration_ms: 100,
            }
        );
        stop(&engine, &rx);
        assert_eq!(frames.keys(), "5", "the snoop hears what the phone reads");
    }
}
