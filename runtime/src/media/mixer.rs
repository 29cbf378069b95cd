//! N-1 mixing for bridges: every participant hears the sum of everyone else.
//!
//! Each tick the core [`push`](Mixer::push)es each participant's latest frame (or nothing),
//! calls [`mix`](Mixer::mix) once, and reads each participant's
//! [`output`](Mixer::output). The mix runs at the highest rate among the participants:
//! 8 kHz inputs are up-sampled into it and the mix is down-sampled for 8 kHz listeners, each
//! with its own [`Resampler`] so streams stay seamless. All inputs are summed once in 32
//! bits and each listener's own input is subtracted before saturating to 16 bits, so a tick
//! costs O(N) whatever the bridge size. `mute_in` drops a participant's input from the mix;
//! `mute_out` makes it hear silence. Nothing is allocated per tick.

use super::frame::{AudioFrame, MAX_FRAME_SAMPLES, Rate, Resampler};

/// A participant's handle in one [`Mixer`].
pub type SlotId = usize;

#[derive(Debug)]
struct Slot {
    rate: Rate,
    mute_in: bool,
    mute_out: bool,
    input: Option<AudioFrame>,
    /// This tick's input at the mix rate, when it was mixed in.
    contribution: Option<AudioFrame>,
    output: AudioFrame,
    /// Input rate → mix rate.
    to_mix: Option<Resampler>,
    /// Mix rate → the participant's rate.
    from_mix: Option<Resampler>,
}

/// Converts `frame` to `to`, keeping `resampler` for that pair of rates.
fn convert(resampler: &mut Option<Resampler>, frame: &AudioFrame, to: Rate) -> AudioFrame {
    if frame.rate() == to {
        return frame.clone();
    }
    let fits = resampler
        .as_ref()
        .is_some_and(|r| r.from_rate() == frame.rate() && r.to_rate() == to);
    if !fits {
        *resampler = Some(Resampler::new(frame.rate(), to));
    }
    match resampler.as_mut() {
        Some(r) => r.frame(frame),
        None => AudioFrame::silence(to),
    }
}

/// What a participant that pushed nothing this tick takes out of the sum.
static NO_CONTRIBUTION: [i16; MAX_FRAME_SAMPLES] = [0; MAX_FRAME_SAMPLES];

/// The mixing state of one bridge.
#[derive(Debug)]
pub struct Mixer {
    slots: Vec<Option<Slot>>,
    sum: [i32; MAX_FRAME_SAMPLES],
    mix_rate: Rate,
}

impl Default for Mixer {
    fn default() -> Self {
        Self::new()
    }
}

impl Mixer {
    /// A mixer with no participants; it mixes at 8 kHz until a 16 kHz participant joins
    /// (the mix runs at the highest participant rate).
    pub fn new() -> Self {
        Self {
            slots: Vec::new(),
            sum: [0; MAX_FRAME_SAMPLES],
            mix_rate: Rate::Narrow8k,
        }
    }

    /// Adds a participant that hears at `rate`; its handle may reuse a removed one's.
    pub fn add(&mut self, rate: Rate) -> SlotId {
        let slot = Slot {
            rate,
            mute_in: false,
            mute_out: false,
            input: None,
            contribution: None,
            output: AudioFrame::silence(rate),
            to_mix: None,
            from_mix: None,
        };
        match self.slots.iter().position(Option::is_none) {
            Some(free) => {
                self.slots[free] = Some(slot);
                free
            }
            None => {
                self.slots.push(Some(slot));
                self.slots.len() - 1
            }
        }
    }

    /// Removes a participant; false if there was none.
    pub fn remove(&mut self, id: SlotId) -> bool {
        self.slots.get_mut(id).and_then(Option::take).is_some()
    }

    fn slot(&mut self, id: SlotId) -> Option<&mut Slot> {
        self.slots.get_mut(id).and_then(Option::as_mut)
    }

    /// Number of participants.
    pub fn len(&self) -> usize {
        self.slots.iter().flatten().count()
    }

    /// True when it has no participants.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Changes the rate a participant hears at.
    pub fn set_rate(&mut self, id: SlotId, rate: Rate) {
        if let Some(slot) = self.slot(id) {
            slot.rate = rate;
        }
    }

    /// Mute toward the bridge: the participant's audio is not mixed.
    pub fn set_mute_in(&mut self, id: SlotId, muted: bool) {
        if let Some(slot) = self.slot(id) {
            slot.mute_in = muted;
        }
    }

    /// Mute from the bridge: the participant hears silence.
    pub fn set_mute_out(&mut self, id: SlotId, muted: bool) {
        if let Some(slot) = self.slot(id) {
            slot.mute_out = muted;
        }
    }

    /// Sets a participant's input for this tick (the latest push wins).
    pub fn push(&mut self, id: SlotId, frame: &AudioFrame) {
        if let Some(slot) = self.slot(id) {
            match slot.input.as_mut() {
                Some(existing) => existing.clone_from(frame),
                None => slot.input = Some(frame.clone()),
            }
        }
    }

    /// The rate of the last mix.
    pub fn mix_rate(&self) -> Rate {
        self.mix_rate
    }

    /// Mixes this tick's inputs into every participant's output and clears the inputs.
    pub fn mix(&mut self) {
        let mix_rate = self
            .slots
            .iter()
            .flatten()
            .map(|s| s.rate)
            .max()
            .unwrap_or(Rate::Narrow8k);
        self.mix_rate = mix_rate;
        let n = mix_rate.samples_per_frame();
        let sum = &mut self.sum[..n];
        sum.iter_mut().for_each(|s| *s = 0);
        for slot in self.slots.iter_mut().flatten() {
            slot.contribution = None;
            let Some(input) = slot.input.take() else {
                slot.to_mix = None;
                continue;
            };
            if slot.mute_in {
                continue;
            }
            let at_mix = convert(&mut slot.to_mix, &input, mix_rate);
            for (acc, &s) in sum.iter_mut().zip(at_mix.samples()) {
                *acc += s as i32;
            }
            slot.contribution = Some(at_mix);
        }
        for slot in self.slots.iter_mut().flatten() {
            if slot.mute_out {
                slot.output.clear(slot.rate);
                continue;
            }
            // A participant hears the sum minus its own contribution (if it made one).
            let own: &[i16] = match &slot.contribution {
                Some(own) => own.samples(),
                None => &NO_CONTRIBUTION[..n],
            };
            let mut heard = AudioFrame::silence(mix_rate);
            for ((out, &total), &mine) in heard.samples_mut().iter_mut().zip(sum.iter()).zip(own) {
                *out = (total - mine as i32).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
            }
            slot.output = convert(&mut slot.from_mix, &heard, slot.rate);
        }
    }

    /// What a participant hears this tick (at its own rate).
    pub fn output(&self, id: SlotId) -> Option<&AudioFrame> {
        self.slots.get(id)?.as_ref().map(|s| &s.output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::detect::goertzel_power;
    use crate::media::tone::{ToneGenerator, ToneSpec};

    fn constant(rate: Rate, v: i16) -> AudioFrame {
        AudioFrame::from_samples(rate, &vec![v; rate.samples_per_frame()]).unwrap()
    }

    #[test]
    fn each_hears_the_others_but_not_itself() {
        let mut m = Mixer::new();
        let a = m.add(Rate::Narrow8k);
        let b = m.add(Rate::Narrow8k);
        let c = m.add(Rate::Narrow8k);
        m.push(a, &constant(Rate::Narrow8k, 100));
        m.push(b, &constant(Rate::Narrow8k, 20));
        m.push(c, &constant(Rate::Narrow8k, 3));
        m.mix();
        assert!(m.output(a).unwrap().samples().iter().all(|&s| s == 23));
        assert!(m.output(b).unwrap().samples().iter().all(|&s| s == 103));
        assert!(m.output(c).unwrap().samples().iter().all(|&s| s == 120));
        // Inputs are per tick: nothing pushed, nothing heard.
        m.mix();
        assert!(m.output(a).unwrap().is_silent());
    }

    #[test]
    fn missing_input_and_mutes() {
        let mut m = Mixer::new();
        let a = m.add(Rate::Narrow8k);
        let b = m.add(Rate::Narrow8k);
        let c = m.add(Rate::Narrow8k);
        m.set_mute_in(b, true);
        m.set_mute_out(c, true);
        m.push(a, &constant(Rate::Narrow8k, 100));
        m.push(b, &constant(Rate::Narrow8k, 20));
        m.mix();
        assert!(
            m.output(a).unwrap().is_silent(),
            "b is muted in, c sent nothing"
        );
        assert!(m.output(b).unwrap().samples().iter().all(|&s| s == 100));
        assert!(m.output(c).unwrap().is_silent(), "c is muted out");
        m.set_mute_in(b, false);
        m.push(b, &constant(Rate::Narrow8k, 20));
        m.mix();
        assert!(m.output(a).unwrap().samples().iter().all(|&s| s == 20));
    }

    #[test]
    fn sums_saturate() {
        let mut m = Mixer::new();
        let ids: Vec<SlotId> = (0..4).map(|_| m.add(Rate::Narrow8k)).collect();
        for &id in &ids {
            m.push(id, &constant(Rate::Narrow8k, 20000));
        }
        m.mix();
        assert!(
            m.output(ids[0])
                .unwrap()
                .samples()
                .iter()
                .all(|&s| s == i16::MAX)
        );
        for &id in &ids {
            m.push(id, &constant(Rate::Narrow8k, i16::MIN));
        }
        m.mix();
        assert!(
            m.output(ids[1])
                .unwrap()
                .samples()
                .iter()
                .all(|&s| s == i16::MIN)
        );
    }

    #[test]
    fn mixed_rates_mix_at_the_highest() {
        let mut m = Mixer::new();
        let wide = m.add(Rate::Wide16k);
        let narrow = m.add(Rate::Narrow8k);
        let listener = m.add(Rate::Narrow8k);
        let mut g440 = ToneGenerator::new(ToneSpec::parse("440").unwrap(), Rate::Wide16k);
        let mut g1000 = ToneGenerator::new(ToneSpec::parse("1000").unwrap(), Rate::Narrow8k);
        let (mut heard_wide, mut heard_listener) = (Vec::new(), Vec::new());
        for _ in 0..10 {
            m.push(wide, &g440.next_frame().unwrap());
            m.push(narrow, &g1000.next_frame().unwrap());
            m.push(listener, &AudioFrame::silence(Rate::Narrow8k));
            m.mix();
            assert_eq!(m.mix_rate(), Rate::Wide16k);
            let w = m.output(wide).unwrap();
            assert_eq!(w.rate(), Rate::Wide16k);
            heard_wide.extend_from_slice(w.samples());
            let l = m.output(listener).unwrap();
            assert_eq!(l.rate(), Rate::Narrow8k);
            heard_listener.extend_from_slice(l.samples());
        }
        let p = |s: &[i16], f: f32, r: u32| goertzel_power(&s[s.len() / 4..], f, r);
        // The wide participant hears only the 1 kHz of the narrow one.
        assert!(p(&heard_wide, 1000.0, 16000) > 1000.0 * p(&heard_wide, 440.0, 16000));
        // The listener hears both.
        let (l440, l1000) = (
            p(&heard_listener, 440.0, 8000),
            p(&heard_listener, 1000.0, 8000),
        );
        assert!(l440 > 1e6 && l1000 > 1e6, "{l440} {l1000}");
        assert!(l440 > 1000.0 * p(&heard_listener, 2500.0, 8000));
    }

    #[test]
    fn slots_are_reused_and_unknown_ids_ignored() {
        let mut m = Mixer::new();
        let a = m.add(Rate::Narrow8k);
        let b = m.add(Rate::Narrow8k);
        assert!(m.remove(a));
        assert!(!m.remove(a));
        assert_eq!(m.len(), 1);
        assert_eq!(m.add(Rate::Wide16k), a);
        m.push(99, &constant(Rate::Narrow8k, 1));
        m.set_mute_in(99, true);
        assert!(m.output(99).is_none());
        m.set_rate(b, Rate::Wide16k);
        m.mix();
        assert_eq!(m.output(b).unwrap().rate(), Rate::Wide16k);
        assert!(!m.is_empty());
    }
}
