//! Digits pressed at a leg's far end (a Test phone's keys): the leg *reads* each digit's
//! dual tone, after a quiet lead-in, and once the tone is over the leg itself is reported
//! to have received the digit ([`MediaEvent::Dtmf`]). So the tone is in the leg's
//! recordings and in its bridge's mix, in order with the digit's event.

use std::collections::HashMap;

use super::{Graph, Leg, LegId, MediaEvent};
use crate::media::frame::{AudioFrame, FRAME_MS};
use crate::media::tone::{ToneGenerator, dtmf_spec};

/// A digit on its way in from the far end.
pub(super) struct DtmfIn {
    digit: char,
    duration_ms: u32,
    /// Quiet still to pass before the tone, in milliseconds.
    quiet_ms: u32,
    /// `None` until the quiet lead-in is over (or for a key with no tone).
    tone: Option<ToneGenerator>,
    started: bool,
}

impl Graph {
    /// Queues a digit pressed at `leg`'s far end, after `quiet_ms` of quiet (nothing when
    /// the leg is gone).
    pub(super) fn far_end_dtmf(&mut self, leg: &str, digit: char, duration_ms: u32, quiet_ms: u32) {
        if let Some(leg) = self.legs.get_mut(leg) {
            leg.dtmf_in.push_back(DtmfIn {
                digit,
                duration_ms,
                quiet_ms,
                tone: None,
                started: false,
            });
        }
    }
}

/// One tick of far-end digits: sets what each leg reads of them this tick (`far_in`) and
/// reports the digits whose tone has ended.
pub(super) fn advance(legs: &mut HashMap<LegId, Box<Leg>>, events: &mut Vec<MediaEvent>) {
    for (id, leg) in legs.iter_mut() {
        leg.far_in = None;
        if leg.dtmf_in.is_empty() {
            continue;
        }
        leg.far_in = next_frame(id, leg, events).map(Box::new);
    }
}

/// The frame the leg reads this tick from its far end's digits, if any.
fn next_frame(id: &LegId, leg: &mut Leg, events: &mut Vec<MediaEvent>) -> Option<AudioFrame> {
    let rate = leg.rate;
    while let Some(head) = leg.dtmf_in.front_mut() {
        if head.quiet_ms > 0 {
            head.quiet_ms = head.quiet_ms.saturating_sub(FRAME_MS);
            return None;
        }
        if !head.started {
            head.started = true;
            head.tone = dtmf_spec(head.digit, head.duration_ms, 0)
                .map(|spec| ToneGenerator::new(spec, rate));
        }
        if let Some(frame) = head.tone.as_mut().and_then(ToneGenerator::next_frame) {
            return Some(frame);
        }
        let done = leg.dtmf_in.pop_front()?;
        events.push(MediaEvent::Dtmf {
            leg: id.clone(),
            digit: done.digit,
            duration_ms: done.duration_ms,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex, mpsc};
    use std::time::Duration;

    use super::super::{Command, MediaEngine, MediaListener, RecordRequest, Sink, Target};
    use super::*;
    use crate::media::detect::detect_dtmf;
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

    /// Every frame written.
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

    #[test]
    fn far_end_digits_are_read_as_tones_and_reported_when_each_tone_ends() {
        let (tx, rx) = mpsc::channel();
        let engine = MediaEngine::start(
            Arc::new(FileOpener::default()),
            Arc::new(Events(Mutex::new(tx))),
        )
        .expect("engine thread");
        engine.send(Command::AddLeg {
            id: "phone".into(),
            rate: Rate::Narrow8k,
        });
        let frames = Frames::default();
        engine.send(Command::Record(RecordRequest {
            name: "r".into(),
            target: Target::Leg("phone".into()),
            sink: Box::new(frames.clone()),
            max_duration_ms: 0,
            max_silence_ms: 0,
            terminate_on: Default::default(),
        }));
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
            let event = rx
                .recv_timeout(Duration::from_secs(5))
                .expect("an event within 5 s");
            if let MediaEvent::Dtmf {
                leg,
                digit,
                duration_ms,
            } = event
            {
                assert_eq!(&*leg, "phone");
                assert_eq!(duration_ms, 100);
                got.push(digit);
                recorded_at.push(frames.0.lock().map(|f| f.len()).unwrap_or(0));
            }
        }
        assert_eq!(got, ['1', '1', '#']);
        let recorded = frames.0.lock().map(|f| f.clone()).unwrap_or_default();
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
}
