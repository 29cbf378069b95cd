//! The unit of media: 20 ms of signed-linear mono audio at 8 kHz (160 samples) or 16 kHz
//! (320 samples), DTMF travelling as an event in the same stream, and 8 kHz ↔ 16 kHz
//! resampling.
//!
//! # Resampling filter
//!
//! Both directions use one 47-tap half-band low-pass FIR (windowed sinc, Kaiser window,
//! β = 6, cut-off at 4 kHz). In a half-band filter every other tap is zero, so:
//!
//! - **8 → 16 kHz** keeps each input sample and computes the sample between two inputs from
//!   the 12 neighbours on each side (24 multiplies per new sample);
//! - **16 → 8 kHz** low-passes and keeps every other sample (24 multiplies plus the centre).
//!
//! The pass band is flat to about 3.3 kHz (all of the telephone band) and the stop band
//! above about 4.7 kHz is attenuated by roughly 60 dB. Coefficients are Q15 integers; a
//! [`Resampler`] carries its history across frames so a stream is filtered without seams,
//! at the cost of a constant delay of 1.5 ms (8 → 16) or 1.4 ms (16 → 8).

use std::fmt;
use std::sync::OnceLock;

use super::{MediaError, Result};

/// Length of one frame in milliseconds.
pub const FRAME_MS: u32 = 20;

/// Most samples a frame holds (20 ms at 16 kHz).
pub const MAX_FRAME_SAMPLES: usize = 320;

/// A sample rate wari carries audio at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Rate {
    /// 8 kHz: G.711 and `slin`.
    #[default]
    Narrow8k,
    /// 16 kHz: `slin16` and 16 kHz WAV.
    Wide16k,
}

impl Rate {
    /// Samples per second.
    pub const fn hz(self) -> u32 {
        match self {
            Rate::Narrow8k => 8000,
            Rate::Wide16k => 16000,
        }
    }

    /// Samples in one millisecond.
    pub const fn samples_per_ms(self) -> usize {
        match self {
            Rate::Narrow8k => 8,
            Rate::Wide16k => 16,
        }
    }

    /// Samples in one 20 ms frame (160 or 320).
    pub const fn samples_per_frame(self) -> usize {
        self.samples_per_ms() * FRAME_MS as usize
    }

    /// The rate for exactly 8000 or 16000 Hz.
    pub const fn from_hz(hz: u32) -> Option<Rate> {
        match hz {
            8000 => Some(Rate::Narrow8k),
            16000 => Some(Rate::Wide16k),
            _ => None,
        }
    }

    /// Milliseconds that `samples` samples last at this rate, rounded down.
    pub const fn samples_to_ms(self, samples: u64) -> u64 {
        samples / self.samples_per_ms() as u64
    }

    /// Samples in `ms` milliseconds at this rate.
    pub const fn ms_to_samples(self, ms: u64) -> u64 {
        ms.saturating_mul(self.samples_per_ms() as u64)
    }
}

/// One 20 ms frame of signed-linear mono audio.
///
/// The samples live in a fixed buffer inside the frame, so frames are created, copied and
/// reused without touching the heap.
#[derive(Clone, PartialEq, Eq)]
pub struct AudioFrame {
    rate: Rate,
    buf: [i16; MAX_FRAME_SAMPLES],
}

impl AudioFrame {
    /// A silent frame.
    pub const fn silence(rate: Rate) -> Self {
        Self {
            rate,
            buf: [0; MAX_FRAME_SAMPLES],
        }
    }

    /// A frame holding exactly one frame's worth of `samples` for `rate`.
    pub fn from_samples(rate: Rate, samples: &[i16]) -> Result<Self> {
        let expected = rate.samples_per_frame();
        if samples.len() != expected {
            return Err(MediaError::FrameSize {
                rate,
                expected,
                got: samples.len(),
            });
        }
        let mut frame = Self::silence(rate);
        frame.buf[..expected].copy_from_slice(samples);
        Ok(frame)
    }

    /// A frame starting with `samples` (at most one frame's worth is used) and padded with
    /// silence: the last frame of a file.
    pub fn from_partial(rate: Rate, samples: &[i16]) -> Self {
        let mut frame = Self::silence(rate);
        let n = samples.len().min(rate.samples_per_frame());
        frame.buf[..n].copy_from_slice(&samples[..n]);
        frame
    }

    /// The frame's rate, which fixes how many samples it holds (160 or 320).
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// The frame's samples (160 or 320).
    pub fn samples(&self) -> &[i16] {
        &self.buf[..self.rate.samples_per_frame()]
    }

    /// The 20 ms of samples, to change in place (length fixed by the rate).
    pub fn samples_mut(&mut self) -> &mut [i16] {
        let n = self.rate.samples_per_frame();
        &mut self.buf[..n]
    }

    /// Makes the frame silent at `rate`, keeping the buffer.
    pub fn clear(&mut self, rate: Rate) {
        self.rate = rate;
        self.buf = [0; MAX_FRAME_SAMPLES];
    }

    /// True when every sample is zero.
    pub fn is_silent(&self) -> bool {
        self.samples().iter().all(|&s| s == 0)
    }
}

impl Default for AudioFrame {
    fn default() -> Self {
        Self::silence(Rate::Narrow8k)
    }
}

impl fmt::Debug for AudioFrame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let peak = self
            .samples()
            .iter()
            .map(|s| s.unsigned_abs())
            .max()
            .unwrap_or(0);
        f.debug_struct("AudioFrame")
            .field("rate", &self.rate)
            .field("peak", &peak)
            .finish()
    }
}

/// What flows through a channel every tick: audio, or a DTMF digit as an event.
///
/// Audio is held inline (no `Box`) on purpose: frames move every 20 ms on every channel
/// and must not allocate.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaFrame {
    /// 20 ms of audio.
    Audio(AudioFrame),
    /// A complete DTMF digit (`0-9`, `*`, `#`, `A-D`) and how long it was pressed.
    Dtmf {
        /// The key: `0-9`, `*`, `#` or `A-D`.
        digit: char,
        /// How long the key was held, in milliseconds.
        duration_ms: u32,
    },
}

/// Nonzero taps on one side of the half-band filter.
const HALF_TAPS: usize = 12;
/// Half the filter length: taps run from -SPAN to +SPAN (47 taps).
const SPAN: usize = 2 * HALF_TAPS - 1;
/// Kaiser window shape.
const KAISER_BETA: f64 = 6.0;

/// Q15 coefficients `h[1], h[3], …, h[SPAN]` (the centre tap is 0.5), normalised so that
/// the filter passes DC unchanged.
fn half_band() -> &'static [i32; HALF_TAPS] {
    static TAPS: OnceLock<[i32; HALF_TAPS]> = OnceLock::new();
    TAPS.get_or_init(|| {
        let bessel_i0 = |x: f64| {
            // Power series of the modified Bessel function of the first kind, order 0.
            let mut sum = 1.0;
            let mut term = 1.0;
            for k in 1..40 {
                let f = x / (2.0 * k as f64);
                term *= f * f;
                sum += term;
            }
            sum
        };
        let mut taps = [0f64; HALF_TAPS];
        for (i, tap) in taps.iter_mut().enumerate() {
            let k = (2 * i + 1) as f64;
            let sign = if i % 2 == 0 { 1.0 } else { -1.0 };
            let ratio = k / (SPAN as f64 + 1.0);
            let window =
                bessel_i0(KAISER_BETA * (1.0 - ratio * ratio).sqrt()) / bessel_i0(KAISER_BETA);
            *tap = sign / (std::f64::consts::PI * k) * window;
        }
        // One side of the odd taps must add up to 1/4 for unit DC gain.
        let sum: f64 = taps.iter().sum();
        let mut q15 = [0i32; HALF_TAPS];
        for (q, t) in q15.iter_mut().zip(taps) {
            *q = (t * 0.25 / sum * 32768.0).round() as i32;
        }
        q15
    })
}

fn saturate(v: i64) -> i16 {
    v.clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

/// A streaming 8 kHz ↔ 16 kHz converter (see the module docs for the filter).
///
/// Feed it consecutive pieces of one stream; it keeps the filter history between calls. A
/// converter between equal rates copies.
#[derive(Debug, Clone)]
pub struct Resampler {
    from: Rate,
    to: Rate,
    /// Input samples carried over from the previous call.
    hist: Vec<i16>,
    /// History followed by the new input.
    work: Vec<i16>,
    /// Down-sampling: index in `work` of the next output's centre sample.
    next_centre: usize,
    /// Output of [`Resampler::frame`].
    out: Vec<i16>,
}

impl Resampler {
    /// A converter from `from` to `to` with empty filter history (as if silence came before).
    pub fn new(from: Rate, to: Rate) -> Self {
        let hist_len = match (from, to) {
            (Rate::Narrow8k, Rate::Wide16k) => 2 * HALF_TAPS - 1,
            (Rate::Wide16k, Rate::Narrow8k) => 2 * SPAN,
            _ => 0,
        };
        Self {
            from,
            to,
            hist: vec![0; hist_len],
            work: Vec::with_capacity(hist_len + MAX_FRAME_SAMPLES),
            next_centre: SPAN + 1,
            out: Vec::with_capacity(MAX_FRAME_SAMPLES),
        }
    }

    /// The rate it takes in.
    pub fn from_rate(&self) -> Rate {
        self.from
    }

    /// The rate it gives out.
    pub fn to_rate(&self) -> Rate {
        self.to
    }

    /// Forgets the history, as at a new stream.
    pub fn reset(&mut self) {
        self.hist.iter_mut().for_each(|s| *s = 0);
        self.next_centre = SPAN + 1;
    }

    /// Converts `input` and appends the result to `out` (twice, half or exactly as many
    /// samples as `input`, give or take one when down-sampling an odd count).
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) {
        match (self.from, self.to) {
            (Rate::Narrow8k, Rate::Wide16k) => self.up(input, out),
            (Rate::Wide16k, Rate::Narrow8k) => self.down(input, out),
            _ => out.extend_from_slice(input),
        }
    }

    /// Converts one frame to the target rate (`frame` at another rate than this
    /// resampler's source rate is first treated as if it were; callers keep one resampler
    /// per stream and direction).
    pub fn frame(&mut self, frame: &AudioFrame) -> AudioFrame {
        if frame.rate() == self.to {
            return frame.clone();
        }
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        self.process(frame.samples(), &mut out);
        let result = AudioFrame::from_partial(self.to, &out);
        self.out = out;
        result
    }

    fn load_work(&mut self, input: &[i16]) {
        self.work.clear();
        self.work.extend_from_slice(&self.hist);
        self.work.extend_from_slice(input);
    }

    fn keep_tail(&mut self) {
        let keep = self.hist.len();
        let start = self.work.len() - keep;
        self.hist.copy_from_slice(&self.work[start..]);
    }

    fn up(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let taps = half_band();
        self.load_work(input);
        let w = &self.work;
        out.reserve(input.len() * 2);
        // Each position p yields w[p] and the sample half-way to w[p + 1].
        for p in (HALF_TAPS - 1)..(w.len() - HALF_TAPS) {
            let mut acc: i64 = 0;
            for (t, &c) in taps.iter().enumerate() {
                let pair = w[p + 1 + t] as i64 + w[p - t] as i64;
                acc += 2 * c as i64 * pair;
            }
            out.push(w[p]);
            out.push(saturate((acc + (1 << 14)) >> 15));
        }
        self.keep_tail();
    }

    fn down(&mut self, input: &[i16], out: &mut Vec<i16>) {
        let taps = half_band();
        self.load_work(input);
        let w = &self.work;
        out.reserve(input.len() / 2 + 1);
        let mut c = self.next_centre;
        while c + SPAN < w.len() {
            let mut acc: i64 = (w[c] as i64) << 14;
            for (t, &h) in taps.iter().enumerate() {
                let k = 2 * t + 1;
                acc += h as i64 * (w[c + k] as i64 + w[c - k] as i64);
            }
            out.push(saturate((acc + (1 << 14)) >> 15));
            c += 2;
        }
        let dropped = w.len() - self.hist.len();
        self.next_centre = c - dropped;
        self.keep_tail();
    }
}

/// Converts a whole buffer between 8 and 16 kHz, compensating the filter delay so output
/// sample `i` lines up with input time `i`: the result has exactly twice or half
/// (rounded down) as many samples.
pub fn resample_buffer(input: &[i16], from: Rate, to: Rate) -> Vec<i16> {
    let mut r = Resampler::new(from, to);
    let mut out = Vec::new();
    match (from, to) {
        (Rate::Narrow8k, Rate::Wide16k) => {
            r.process(input, &mut out);
            r.process(&[0; HALF_TAPS], &mut out);
            out.drain(..2 * HALF_TAPS);
            out.truncate(input.len() * 2);
        }
        (Rate::Wide16k, Rate::Narrow8k) => {
            r.process(input, &mut out);
            r.process(&[0; 2 * SPAN], &mut out);
            out.drain(..HALF_TAPS - 1);
            out.truncate(input.len() / 2);
        }
        _ => out.extend_from_slice(input),
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::detect::goertzel_power;

    fn sine(rate: Rate, freq: f64, amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate.hz() as f64).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn rates_and_sizes() {
        assert_eq!(Rate::Narrow8k.samples_per_frame(), 160);
        assert_eq!(Rate::Wide16k.samples_per_frame(), 320);
        assert_eq!(Rate::from_hz(16000), Some(Rate::Wide16k));
        assert_eq!(Rate::from_hz(44100), None);
        assert_eq!(Rate::Wide16k.samples_to_ms(16_000), 1000);
        assert!(Rate::Wide16k > Rate::Narrow8k);
    }

    #[test]
    fn frames() {
        let f = AudioFrame::silence(Rate::Wide16k);
        assert_eq!(f.samples().len(), 320);
        assert!(f.is_silent());
        assert!(AudioFrame::from_samples(Rate::Narrow8k, &[1; 159]).is_err());
        let f = AudioFrame::from_samples(Rate::Narrow8k, &[7; 160]).unwrap();
        assert_eq!(f.samples(), &[7; 160][..]);
        let f = AudioFrame::from_partial(Rate::Narrow8k, &[5; 10]);
        assert_eq!(&f.samples()[..10], &[5; 10]);
        assert!(f.samples()[10..].iter().all(|&s| s == 0));
        let f = AudioFrame::from_partial(Rate::Narrow8k, &[5; 1000]);
        assert_eq!(f.samples().len(), 160);
        assert!(format!("{f:?}").contains("peak: 5"));
    }

    #[test]
    fn dc_passes_unchanged() {
        let up = resample_buffer(&[1000; 800], Rate::Narrow8k, Rate::Wide16k);
        assert_eq!(up.len(), 1600);
        assert!(
            up[100..1500].iter().all(|&s| (s - 1000).abs() <= 2),
            "{:?}",
            &up[100..120]
        );
        let down = resample_buffer(&[-1000; 1600], Rate::Wide16k, Rate::Narrow8k);
        assert_eq!(down.len(), 800);
        assert!(down[50..750].iter().all(|&s| (s + 1000).abs() <= 2));
    }

    #[test]
    fn up_sampling_keeps_a_tone_and_its_timing() {
        let input = sine(Rate::Narrow8k, 1000.0, 10000.0, 1600);
        let up = resample_buffer(&input, Rate::Narrow8k, Rate::Wide16k);
        let expected = sine(Rate::Wide16k, 1000.0, 10000.0, 3200);
        // Compare away from the edges: aligned and close.
        let max_err = up[200..3000]
            .iter()
            .zip(&expected[200..3000])
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(max_err < 150, "max error {max_err}");
    }

    #[test]
    fn down_sampling_removes_what_8k_cannot_carry() {
        // 1 kHz passes; 6 kHz (above the 4 kHz Nyquist limit) must not fold back to 2 kHz.
        let pass = sine(Rate::Wide16k, 1000.0, 10000.0, 3200);
        let down = resample_buffer(&pass, Rate::Wide16k, Rate::Narrow8k);
        let expected = sine(Rate::Narrow8k, 1000.0, 10000.0, 1600);
        let max_err = down[100..1500]
            .iter()
            .zip(&expected[100..1500])
            .map(|(a, b)| (*a as i32 - *b as i32).abs())
            .max()
            .unwrap();
        assert!(max_err < 150, "max error {max_err}");
        let high = sine(Rate::Wide16k, 6000.0, 10000.0, 3200);
        let down = resample_buffer(&high, Rate::Wide16k, Rate::Narrow8k);
        let alias = goertzel_power(&down[100..1500], 2000.0, 8000);
        let tone = goertzel_power(&expected[100..1500], 1000.0, 8000);
        assert!(alias < tone / 1000.0, "alias {alias} tone {tone}");
    }

    #[test]
    fn streaming_equals_whole_buffer() {
        let input = sine(Rate::Narrow8k, 700.0, 8000.0, 160 * 10);
        let mut r = Resampler::new(Rate::Narrow8k, Rate::Wide16k);
        let mut streamed = Vec::new();
        for chunk in input.chunks(160) {
            let frame = AudioFrame::from_samples(Rate::Narrow8k, chunk).unwrap();
            let out = r.frame(&frame);
            assert_eq!(out.rate(), Rate::Wide16k);
            streamed.extend_from_slice(out.samples());
        }
        let mut whole = Vec::new();
        Resampler::new(Rate::Narrow8k, Rate::Wide16k).process(&input, &mut whole);
        assert_eq!(streamed, whole);

        let mut r = Resampler::new(Rate::Wide16k, Rate::Narrow8k);
        let mut streamed = Vec::new();
        for chunk in whole.chunks(320) {
            let out = r.frame(&AudioFrame::from_samples(Rate::Wide16k, chunk).unwrap());
            assert_eq!(out.samples().len(), 160);
            streamed.extend_from_slice(out.samples());
        }
        let mut back = Vec::new();
        Resampler::new(Rate::Wide16k, Rate::Narrow8k).process(&whole, &mut back);
        assert_eq!(streamed, back);
        // Odd-sized pieces keep their place too.
        let mut r = Resampler::new(Rate::Wide16k, Rate::Narrow8k);
        let mut pieces = Vec::new();
        for chunk in whole.chunks(77) {
            r.process(chunk, &mut pieces);
        }
        assert_eq!(pieces, back);
    }

    #[test]
    fn full_scale_saturates_instead_of_wrapping() {
        let square: Vec<i16> = (0..1600)
            .map(|i| if (i / 4) % 2 == 0 { i16::MAX } else { i16::MIN })
            .collect();
        let up = resample_buffer(&square, Rate::Narrow8k, Rate::Wide16k);
        assert_eq!(up.len(), 3200);
        let down = resample_buffer(&square, Rate::Wide16k, Rate::Narrow8k);
        assert_eq!(down.len(), 800);
    }
}
