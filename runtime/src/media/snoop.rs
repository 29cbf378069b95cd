//! Snoop taps: the per-tick bookkeeping that lets a snoop leg hear (spy) and speak into
//! (whisper) another leg, the target.
//!
//! Directions are seen from the target channel: `in` is the audio the target receives
//! from its far end (what its leg reads), `out` the audio sent to it (what its leg
//! writes: a playback on it, or the bridge mix it hears). Each tick, once every leg's
//! written frame is known, [`Taps::run`] copies the spied direction(s) of each target
//! into a frame its snoop leg reads instead of a peer's audio (`both` sums the two with
//! saturation), and adds what the snoop leg wrote (a playback on the snoop channel) to the
//! whispered direction(s) of the target: into its written frame (`out`, its far end hears
//! it) or into what it reads (`in`, its bridge and recordings hear it). Spying happens
//! before whispering, so a snoop never hears its own whisper. A tap ends when either leg
//! is removed.

use std::collections::HashMap;

use super::engine::LegId;
use super::frame::{AudioFrame, Rate};

/// A direction of a target's audio, as ARI's `spy` and `whisper` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    None,
    Both,
    Out,
    In,
}

impl Direction {
    /// `none`, `both`, `out` or `in` (exactly, as Asterisk compares them).
    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "none" => Some(Direction::None),
            "both" => Some(Direction::Both),
            "out" => Some(Direction::Out),
            "in" => Some(Direction::In),
            _ => None,
        }
    }

    /// Includes the audio the target receives.
    fn has_in(self) -> bool {
        matches!(self, Direction::In | Direction::Both)
    }

    /// Includes the audio sent to the target.
    fn has_out(self) -> bool {
        matches!(self, Direction::Out | Direction::Both)
    }
}

/// One snoop leg attached to its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tap {
    pub snoop: LegId,
    pub target: LegId,
    pub spy: Direction,
    pub whisper: Direction,
}

/// What [`Taps::run`] needs to see and change of the engine's legs during a tick.
pub(super) trait TapLegs {
    /// The leg's rate, or `None` when there is no such leg.
    fn rate(&self, leg: &str) -> Option<Rate>;
    /// What the leg writes this tick (`None`: nothing).
    fn written(&self, leg: &str) -> Option<&AudioFrame>;
    /// What the leg reads this tick (from its peer, its edge or its far end's digits),
    /// before any tap (`None`: silence).
    fn read(&self, leg: &str) -> Option<&AudioFrame>;
    /// Adds `frame` to what the leg writes this tick.
    fn add_written(&mut self, leg: &str, frame: &AudioFrame);
}

/// Every snoop tap, and what they produced this tick.
#[derive(Debug, Default)]
pub(super) struct Taps {
    taps: Vec<Tap>,
    /// Snoop legs and the frame each reads this tick.
    spied: HashMap<LegId, AudioFrame>,
    /// Targets and the whisper added to what each reads this tick.
    whispered_in: HashMap<LegId, AudioFrame>,
}

impl Taps {
    /// Attaches a snoop leg (replacing an earlier tap of the same snoop leg).
    pub(super) fn add(&mut self, tap: Tap) {
        self.taps.retain(|t| t.snoop != tap.snoop);
        self.taps.push(tap);
    }

    /// A leg is gone: every tap it is the snoop or the target of ends.
    pub(super) fn leg_removed(&mut self, leg: &str) {
        self.taps.retain(|t| &*t.snoop != leg && &*t.target != leg);
        self.spied.remove(leg);
        self.whispered_in.remove(leg);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.taps.is_empty()
    }

    /// How many taps there are.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.taps.len()
    }

    /// One tick: fills what every snoop leg reads and adds the whispers (see the module
    /// doc). Runs after every leg's written frame is known and before anything reads.
    pub(super) fn run(&mut self, legs: &mut dyn TapLegs) {
        self.spied.clear();
        self.whispered_in.clear();
        for tap in &self.taps {
            let (Some(rate), Some(snoop_rate)) = (legs.rate(&tap.target), legs.rate(&tap.snoop))
            else {
                continue;
            };
            // What the target reads: a snoop leg target reads what it spies.
            let received = self
                .spied
                .get(&tap.target)
                .or_else(|| legs.read(&tap.target))
                .filter(|f| f.rate() == rate);
            let sent = legs.written(&tap.target).filter(|f| f.rate() == rate);
            let mut heard = AudioFrame::silence(rate);
            if tap.spy.has_in()
                && let Some(frame) = received
            {
                mix_into(&mut heard, frame);
            }
            if tap.spy.has_out()
                && let Some(frame) = sent
            {
                mix_into(&mut heard, frame);
            }
            if snoop_rate == rate {
                self.spied.insert(tap.snoop.clone(), heard);
            }
            if tap.whisper == Direction::None {
                continue;
            }
            let Some(whisper) = legs
                .written(&tap.snoop)
                .filter(|f| f.rate() == rate)
                .cloned()
            else {
                continue;
            };
            if tap.whisper.has_out() {
                legs.add_written(&tap.target, &whisper);
            }
            if tap.whisper.has_in() {
                self.whispered_in
                    .entry(tap.target.clone())
                    .and_modify(|f| mix_into(f, &whisper))
                    .or_insert(whisper);
            }
        }
    }

    /// What a snoop leg reads this tick (`None` for a leg that snoops on nothing).
    pub(super) fn spied(&self, leg: &str) -> Option<&AudioFrame> {
        self.spied.get(leg)
    }

    /// Adds this tick's whispers toward a target's `in` direction to what it reads.
    pub(super) fn add_whisper_in(&self, leg: &str, frame: &mut AudioFrame) {
        if let Some(whisper) = self.whispered_in.get(leg)
            && whisper.rate() == frame.rate()
        {
            mix_into(frame, whisper);
        }
    }
}

/// Adds `other` to `frame`, sample by sample, saturating at the 16-bit limits. Frames of
/// different rates are left alone.
pub(super) fn mix_into(frame: &mut AudioFrame, other: &AudioFrame) {
    if frame.rate() != other.rate() {
        return;
    }
    for (sample, add) in frame.samples_mut().iter_mut().zip(other.samples()) {
        *sample = sample.saturating_add(*add);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Legs as the engine would show them: what each writes and what each reads.
    #[derive(Default)]
    struct Fake {
        written: HashMap<String, AudioFrame>,
        read: HashMap<String, AudioFrame>,
        legs: Vec<String>,
    }

    impl TapLegs for Fake {
        fn rate(&self, leg: &str) -> Option<Rate> {
            self.legs.iter().any(|l| l == leg).then_some(Rate::Narrow8k)
        }
        fn written(&self, leg: &str) -> Option<&AudioFrame> {
            self.written.get(leg)
        }
        fn read(&self, leg: &str) -> Option<&AudioFrame> {
            self.read.get(leg)
        }
        fn add_written(&mut self, leg: &str, frame: &AudioFrame) {
            self.written
                .entry(leg.to_string())
                .and_modify(|f| mix_into(f, frame))
                .or_insert_with(|| frame.clone());
        }
    }

    fn constant(value: i16) -> AudioFrame {
        AudioFrame::from_samples(Rate::Narrow8k, &[value; 160]).expect("frame")
    }

    /// Target `t` reads 10 and writes 100; snoop `s` writes 7.
    fn fake() -> Fake {
        let mut fake = Fake {
            legs: vec!["t".into(), "s".into()],
            ..Fake::default()
        };
        fake.read.insert("t".into(), constant(10));
        fake.written.insert("t".into(), constant(100));
        fake.written.insert("s".into(), constant(7));
        fake
    }

    fn tap(spy: Direction, whisper: Direction) -> Tap {
        Tap {
            snoop: "s".into(),
            target: "t".into(),
            spy,
            whisper,
        }
    }

    fn first(frame: Option<&AudioFrame>) -> Option<i16> {
        frame.map(|f| f.samples()[0])
    }

    #[test]
    fn directions_parse_exactly() {
        assert_eq!(Direction::parse("none"), Some(Direction::None));
        assert_eq!(Direction::parse("both"), Some(Direction::Both));
        assert_eq!(Direction::parse("in"), Some(Direction::In));
        assert_eq!(Direction::parse("out"), Some(Direction::Out));
        assert_eq!(Direction::parse("IN"), None);
        assert_eq!(Direction::parse(""), None);
        assert!(Direction::Both.has_in() && Direction::Both.has_out());
        assert!(!Direction::None.has_in() && !Direction::None.has_out());
    }

    #[test]
    fn spy_copies_the_chosen_direction() {
        for (spy, expected) in [
            (Direction::In, 10),
            (Direction::Out, 100),
            (Direction::Both, 110),
            (Direction::None, 0),
        ] {
            let mut legs = fake();
            let mut taps = Taps::default();
            taps.add(tap(spy, Direction::None));
            taps.run(&mut legs);
            assert_eq!(first(taps.spied("s")), Some(expected), "{spy:?}");
            assert_eq!(first(legs.written("t")), Some(100), "no whisper");
            assert_eq!(taps.spied("t"), None, "the target is not a snoop leg");
        }
    }

    #[test]
    fn both_saturates_instead_of_wrapping() {
        let mut legs = fake();
        legs.read.insert("t".into(), constant(30000));
        legs.written.insert("t".into(), constant(30000));
        let mut taps = Taps::default();
        taps.add(tap(Direction::Both, Direction::None));
        taps.run(&mut legs);
        assert_eq!(first(taps.spied("s")), Some(i16::MAX));
    }

    #[test]
    fn whisper_adds_the_snoop_legs_audio_to_the_target_after_spying() {
        let mut legs = fake();
        let mut taps = Taps::default();
        taps.add(tap(Direction::Out, Direction::Both));
        taps.run(&mut legs);
        assert_eq!(first(taps.spied("s")), Some(100), "spies before whispering");
        assert_eq!(first(legs.written("t")), Some(107), "the far end hears it");
        let mut read = constant(10);
        taps.add_whisper_in("t", &mut read);
        assert_eq!(read.samples()[0], 17, "the bridge side hears it");
        let mut other = constant(10);
        taps.add_whisper_in("s", &mut other);
        assert_eq!(other.samples()[0], 10, "only the target");
    }

    #[test]
    fn whisper_into_a_silent_target_gives_it_something_to_write() {
        let mut legs = fake();
        legs.written.remove("t");
        let mut taps = Taps::default();
        taps.add(tap(Direction::In, Direction::Out));
        taps.run(&mut legs);
        assert_eq!(first(legs.written("t")), Some(7));
        assert_eq!(first(taps.spied("s")), Some(10));
    }

    #[test]
    fn removing_either_leg_ends_the_tap() {
        for gone in ["s", "t"] {
            let mut legs = fake();
            let mut taps = Taps::default();
            taps.add(tap(Direction::Both, Direction::Both));
            taps.run(&mut legs);
            assert!(taps.spied("s").is_some());
            taps.leg_removed(gone);
            assert!(taps.is_empty(), "{gone}");
            taps.run(&mut legs);
            assert_eq!(taps.spied("s"), None);
        }
    }

    #[test]
    fn a_tap_on_a_missing_leg_does_nothing_and_re_adding_replaces() {
        let mut legs = fake();
        legs.legs.retain(|l| l != "t");
        let mut taps = Taps::default();
        taps.add(tap(Direction::In, Direction::Out));
        taps.add(tap(Direction::Out, Direction::None));
        assert_eq!(taps.len(), 1);
        taps.run(&mut legs);
        assert_eq!(taps.spied("s"), None);
    }

    #[test]
    fn a_snoop_of_a_snoop_hears_what_the_first_spies() {
        let mut legs = fake();
        legs.legs.push("s2".into());
        let mut taps = Taps::default();
        taps.add(tap(Direction::In, Direction::None));
        taps.add(Tap {
            snoop: "s2".into(),
            target: "s".into(),
            spy: Direction::In,
            whisper: Direction::None,
        });
        taps.run(&mut legs);
        assert_eq!(first(taps.spied("s2")), Some(10));
    }
}

/// The taps inside the running engine: spying and whispering through pairs and a bridge.
#[cfg(test)]
mod engine_tests {
    use std::sync::Arc;

    use super::{Direction, Tap};
    use crate::media::MediaError;
    use crate::media::engine::test_support::{
        self, Recorded, Sim, playback_done, recording_done, wait_for_n,
    };
    use crate::media::engine::{
        Command, Part, PlayItem, RecordingOp, Source, SourceOpener, Target,
    };
    use crate::media::frame::{AudioFrame, Rate};

    /// A part `Tone("<value>")` plays 50 frames of that constant sample value.
    struct Opener;

    struct Constant(i16, usize);

    impl Source for Constant {
        fn next_frame(&mut self) -> Option<AudioFrame> {
            self.1 = self.1.checked_sub(1)?;
            AudioFrame::from_samples(Rate::Narrow8k, &[self.0; 160]).ok()
        }
    }

    impl SourceOpener for Opener {
        fn open(&self, part: &Part, _rate: Rate) -> Result<Box<dyn Source>, MediaError> {
            let unplayable = |why: &str| MediaError::NotPlayable(why.into());
            match part {
                Part::Tone(value) => Ok(Box::new(Constant(
                    value.parse().map_err(|_| unplayable("bad value"))?,
                    50,
                ))),
                _ => Err(unplayable("not a constant")),
            }
        }
    }

    /// Records `leg` into a recording named after it.
    fn record(engine: &Sim, leg: &str) -> Recorded {
        test_support::record(engine, leg, Target::Leg(leg.into()))
    }

    fn play(engine: &Sim, leg: &str, value: i16) {
        engine.send(Command::Play {
            id: leg.into(),
            target: Target::Leg(leg.into()),
            items: vec![PlayItem {
                uri: format!("tone:{value}"),
                parts: vec![Part::Tone(value.to_string())],
            }],
            offset_ms: 0,
            skip_ms: 0,
            rate: Rate::Narrow8k,
        });
    }

    #[test]
    fn a_snoop_on_a_bridged_leg_spies_both_ways_and_whispers_into_the_bridge() {
        let (engine, rx) = test_support::start(Arc::new(Opener));
        // Pairs a/b and c/d; a and c in a mixing bridge; s snoops on a.
        for id in ["a", "b", "c", "d", "s"] {
            engine.send(Command::AddLeg {
                id: id.into(),
                rate: Rate::Narrow8k,
            });
        }
        for (a, b) in [("a", "b"), ("c", "d")] {
            engine.send(Command::Pair {
                a: a.into(),
                b: b.into(),
            });
        }
        engine.send(Command::AddBridge {
            id: "br".into(),
            mixing: true,
        });
        for leg in ["a", "c"] {
            engine.send(Command::JoinBridge {
                bridge: "br".into(),
                leg: leg.into(),
            });
        }
        engine.send(Command::Snoop(Tap {
            snoop: "s".into(),
            target: "a".into(),
            spy: Direction::Both,
            whisper: Direction::In,
        }));
        let spied = record(&engine, "s");
        let far_end = record(&engine, "b");
        let other = record(&engine, "d");
        // a receives 1 (from b); a is sent 10 (d to c, through the bridge); s says 100.
        play(&engine, "b", 1);
        play(&engine, "d", 10);
        play(&engine, "s", 100);
        wait_for_n(&rx, 3, playback_done);
        for leg in ["s", "b", "d"] {
            engine.send(Command::ControlRecording {
                name: leg.into(),
                op: RecordingOp::Stop,
            });
        }
        wait_for_n(&rx, 3, recording_done);
        assert!(spied.count(11) >= 40, "spy=both: in + out");
        assert_eq!(spied.count(111), 0, "a snoop never hears its own whisper");
        assert!(other.count(101) >= 40, "the bridge hears the in whisper");
        assert!(far_end.count(10) >= 40, "the far end hears the bridge");
        assert_eq!(far_end.count(110), 0, "but not an in whisper");
        // The snoop leg goes: a is left as it was.
        engine.send(Command::RemoveLeg { id: "s".into() });
        let after = record(&engine, "d");
        play(&engine, "b", 1);
        wait_for_n(&rx, 1, playback_done);
        engine.send(Command::ControlRecording {
            name: "d".into(),
            op: RecordingOp::Stop,
        });
        wait_for_n(&rx, 1, recording_done);
        assert!(after.count(1) >= 40, "no whisper once the snoop is gone");
        assert_eq!(after.count(101), 0);
    }
}
