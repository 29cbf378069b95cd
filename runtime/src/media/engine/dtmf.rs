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

/// The digits, and the beep (media/engine/beep.rs), which shares their setup.
#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    use super::super::{
        Command, MediaEngine, MediaListener, Part, RecordRequest, RecordingOp, RecordingState,
        Sink, Target, TerminateOn,
    };
    use super::*;
    use crate::media::detect::DtmfDetector;
    use crate::media::frame::Rate;
    use crate::media::sources::FileOpener;

    struct Events(Mutex<mpsc::Sender<MediaEvent>>);

    impl MediaListener for Events {
        fn media_event(&self, event: MediaEvent) {
            if let Ok(tx) = self.0.lock() {
                let _ = tx.send(event);
            }
        }
    }

    /// Every frame written, whole.
    #[derive(Clone, Default)]
    struct Frames(Arc<Mutex<Vec<AudioFrame>>>);

    impl Sink for Frames {
        fn write(&mut self, frame: &AudioFrame) -> Result<(), String> {
            self.0.lock().map_err(|_| "poisoned")?.push(frame.clone());
            Ok(())
        }
        fn finish(self: Box<Self>) -> Result<(), String> {
            Ok(())
        }
        fn cancel(self: Box<Self>) {}
    }

    fn next(rx: &mpsc::Receiver<MediaEvent>) -> MediaEvent {
        rx.recv_timeout(Duration::from_secs(5))
            .expect("an event within 5 s")
    }

    /// An engine with paired legs `a` and `b`; `b` is recorded (it reads what `a` writes).
    fn paired(beep: Option<Part>) -> (MediaEngine, mpsc::Receiver<MediaEvent>, Frames) {
        let (tx, rx) = mpsc::channel();
        let engine = MediaEngine::start(
            Arc::new(FileOpener::default()),
            Arc::new(Events(Mutex::new(tx))),
        )
        .expect("engine thread");
        for id in ["a", "b"] {
            engine.send(Command::AddLeg {
                id: id.into(),
                rate: Rate::Narrow8k,
            });
        }
        engine.send(Command::Pair {
            a: "a".into(),
            b: "b".into(),
        });
        let frames = Frames::default();
        let request = RecordRequest {
            name: "r".into(),
            target: Target::Leg("b".into()),
            sink: Box::new(frames.clone()),
            max_duration_ms: 0,
            max_silence_ms: 0,
            terminate_on: TerminateOn::None,
        };
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

    fn stop(engine: &MediaEngine, rx: &mpsc::Receiver<MediaEvent>) {
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
        let heard_before_stop = frames.0.lock().expect("lock").len();
        assert!(heard_before_stop >= 10, "both tones were read first");
        stop(&engine, &rx);
        let mut detector = DtmfDetector::new();
        let keys: String = frames
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter_map(|f| detector.feed(f))
            .collect();
        assert_eq!(keys, "4#");
    }

    #[test]
    fn a_beep_plays_to_the_peer_and_delays_the_recording() {
        let (engine, rx, frames) = paired(Some(Part::Tone("!1000/200".into())));
        // `b` beeps: `a` reads the beep. Record `a` too to hear it.
        let heard = Frames::default();
        engine.send(Command::Record(RecordRequest {
            name: "on-a".into(),
            target: Target::Leg("a".into()),
            sink: Box::new(heard.clone()),
            max_duration_ms: 400,
            max_silence_ms: 0,
            terminate_on: TerminateOn::None,
        }));
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
            .0
            .lock()
            .expect("lock")
            .iter()
            .filter(|f| {
                crate::media::detect::goertzel_power(f.samples(), 1000.0, 8000) > 1_000_000.0
            })
            .count();
        assert!(beeped >= 9, "a hears about 200 ms of beep: {beeped} frames");
        let recorded = frames.0.lock().expect("lock").len();
        // About 10 frames after the beep (and a tick or two until the stop), not 20+.
        assert!(
            recorded <= 15,
            "b records nothing while it beeps ({recorded} frames in about 400 ms)"
        );
    }
}
