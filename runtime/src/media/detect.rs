//! Measuring audio: Goertzel power at one frequency (checks that tones are right, and
//! in-band DTMF detection), levels, and the energy-based silence detector behind
//! `maxSilenceSeconds`.

use super::frame::AudioFrame;

/// Power of `samples` at `freq_hz` by the Goertzel algorithm, normalised by the block
/// length: a sine of amplitude `A` exactly on the frequency gives about `A² / 4`.
/// Returns 0 for an empty block or a frequency outside `0..rate/2`.
pub fn goertzel_power(samples: &[i16], freq_hz: f32, rate_hz: u32) -> f32 {
    if samples.is_empty() || rate_hz == 0 || !(freq_hz > 0.0 && freq_hz < rate_hz as f32 / 2.0) {
        return 0.0;
    }
    let coeff = 2.0 * (2.0 * std::f64::consts::PI * freq_hz as f64 / rate_hz as f64).cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &x in samples {
        let s0 = x as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    let n = samples.len() as f64;
    (power / (n * n)) as f32
}

/// Root-mean-square level of a block.
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| (s as f64) * (s as f64)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// Level relative to a full-scale sine (so a full-scale sine is 0 dBFS); silence is
/// `-inf`.
pub fn dbfs(samples: &[i16]) -> f32 {
    let full_scale_sine_rms = 32767.0 / std::f32::consts::SQRT_2;
    20.0 * (rms(samples) / full_scale_sine_rms).log10()
}

/// Mean absolute sample value, the energy measure of the silence detector.
pub fn mean_abs(samples: &[i16]) -> u32 {
    if samples.is_empty() {
        return 0;
    }
    let sum: u64 = samples.iter().map(|&s| s.unsigned_abs() as u64).sum();
    (sum / samples.len() as u64) as u32
}

/// Default threshold of [`SilenceDetector`]: frames whose mean absolute sample is below
/// this (about -45 dBFS) count as silence.
pub const DEFAULT_SILENCE_THRESHOLD: u32 = 256;

/// Counts talking and silence in a stream of frames.
#[derive(Debug, Clone)]
pub struct SilenceDetector {
    threshold: u32,
    /// Silence since the last talking frame.
    silent_run_ms: u64,
    total_silence_ms: u64,
    total_talking_ms: u64,
}

impl Default for SilenceDetector {
    fn default() -> Self {
        Self::new(DEFAULT_SILENCE_THRESHOLD)
    }
}

impl SilenceDetector {
    /// A detector that counts a frame as silence when its mean absolute sample is below
    /// `threshold` (0..=32768; [`DEFAULT_SILENCE_THRESHOLD`] is about -45 dBFS).
    pub fn new(threshold: u32) -> Self {
        Self {
            threshold,
            silent_run_ms: 0,
            total_silence_ms: 0,
            total_talking_ms: 0,
        }
    }

    /// Classifies a frame; true when it is silent.
    pub fn feed(&mut self, frame: &AudioFrame) -> bool {
        let ms = super::frame::FRAME_MS as u64;
        let silent = mean_abs(frame.samples()) < self.threshold;
        if silent {
            self.silent_run_ms += ms;
            self.total_silence_ms += ms;
        } else {
            self.silent_run_ms = 0;
            self.total_talking_ms += ms;
        }
        silent
    }

    /// Uninterrupted silence up to now (compare with `maxSilenceSeconds`).
    pub fn silent_run_ms(&self) -> u64 {
        self.silent_run_ms
    }

    /// All silence fed so far, in milliseconds (20 per silent frame).
    pub fn total_silence_ms(&self) -> u64 {
        self.total_silence_ms
    }

    /// All talking fed so far, in milliseconds (20 per frame at or above the threshold).
    pub fn total_talking_ms(&self) -> u64 {
        self.total_talking_ms
    }
}

/// DTMF row frequencies (Hz), low group.
pub const DTMF_ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
/// DTMF column frequencies (Hz), high group.
pub const DTMF_COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Keys by row then column.
pub const DTMF_KEYS: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// The DTMF key heard in a block (20 ms or more works well), if one clearly is: the
/// strongest row and column tones must each stand well above the other tones of their
/// group, be loud enough, and within 8 dB of each other (twist).
pub fn detect_dtmf(samples: &[i16], rate_hz: u32) -> Option<char> {
    // About -30 dBFS per tone: (A/2)² with A = 1000.
    const MIN_POWER: f32 = 250_000.0;
    let strongest = |freqs: &[f32; 4]| {
        let powers = freqs.map(|f| goertzel_power(samples, f, rate_hz));
        let (best, &power) = powers
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))?;
        let clear = powers
            .iter()
            .enumerate()
            .all(|(i, &p)| i == best || p * 10.0 < power);
        (clear && power >= MIN_POWER).then_some((best, power))
    };
    let (row, row_power) = strongest(&DTMF_ROWS)?;
    let (col, col_power) = strongest(&DTMF_COLS)?;
    let twist = row_power.max(col_power) / row_power.min(col_power);
    (twist < 6.3).then_some(DTMF_KEYS[row][col])
}

/// Turns per-frame DTMF detection into key presses: a key is reported once, when it has
/// been heard in two consecutive frames, and again only after a frame without it.
#[derive(Debug, Clone, Default)]
pub struct DtmfDetector {
    last: Option<char>,
    reported: bool,
}

impl DtmfDetector {
    /// A detector that has heard nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a frame; returns a newly pressed key.
    pub fn feed(&mut self, frame: &AudioFrame) -> Option<char> {
        let heard = detect_dtmf(frame.samples(), frame.rate().hz());
        if heard != self.last {
            self.last = heard;
            self.reported = false;
            return None;
        }
        match heard {
            Some(key) if !self.reported => {
                self.reported = true;
                Some(key)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::frame::Rate;

    fn sine(rate: u32, freqs: &[f64], amp: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / rate as f64;
                freqs
                    .iter()
                    .map(|f| amp * (2.0 * std::f64::consts::PI * f * t).sin())
                    .sum::<f64>() as i16
            })
            .collect()
    }

    #[test]
    fn goertzel_finds_the_frequency() {
        let s = sine(8000, &[440.0], 10000.0, 800);
        let on = goertzel_power(&s, 440.0, 8000);
        let off = goertzel_power(&s, 1000.0, 8000);
        assert!((on - 25_000_000.0).abs() < 1_000_000.0, "{on}");
        assert!(on > 10_000.0 * off, "{on} vs {off}");
        assert_eq!(goertzel_power(&[], 440.0, 8000), 0.0);
        assert_eq!(goertzel_power(&s, 5000.0, 8000), 0.0);
        assert_eq!(goertzel_power(&s, f32::NAN, 8000), 0.0);
        assert_eq!(goertzel_power(&s, 440.0, 0), 0.0);
    }

    #[test]
    fn levels() {
        let full = sine(8000, &[1000.0], 32767.0, 800);
        assert!(dbfs(&full).abs() < 0.1);
        let quiet = sine(8000, &[1000.0], 3276.7, 800);
        assert!((dbfs(&quiet) + 20.0).abs() < 0.1);
        assert_eq!(dbfs(&[0; 10]), f32::NEG_INFINITY);
        assert_eq!(mean_abs(&[-4, 4, 0, 0]), 2);
        assert_eq!(rms(&[]), 0.0);
    }

    #[test]
    fn silence_detector_counts_runs() {
        let mut d = SilenceDetector::default();
        let loud =
            AudioFrame::from_samples(Rate::Narrow8k, &sine(8000, &[300.0], 5000.0, 160)).unwrap();
        let hiss = AudioFrame::from_samples(Rate::Narrow8k, &[50; 160]).unwrap();
        assert!(!d.feed(&loud));
        assert!(d.feed(&hiss));
        assert!(d.feed(&AudioFrame::silence(Rate::Wide16k)));
        assert_eq!(d.silent_run_ms(), 40);
        assert!(!d.feed(&loud));
        assert_eq!(d.silent_run_ms(), 0);
        assert_eq!((d.total_talking_ms(), d.total_silence_ms()), (40, 40));
    }

    #[test]
    fn dtmf_keys_are_detected() {
        for (r, row) in DTMF_KEYS.iter().enumerate() {
            for (c, &key) in row.iter().enumerate() {
                for rate in [8000, 16000] {
                    let s = sine(
                        rate,
                        &[DTMF_ROWS[r] as f64, DTMF_COLS[c] as f64],
                        6000.0,
                        rate as usize / 50,
                    );
                    assert_eq!(detect_dtmf(&s, rate), Some(key), "{key} at {rate}");
                }
            }
        }
        assert_eq!(detect_dtmf(&sine(8000, &[440.0], 8000.0, 160), 8000), None);
        assert_eq!(detect_dtmf(&[0; 160], 8000), None);
        // One tone alone is not a key.
        assert_eq!(detect_dtmf(&sine(8000, &[697.0], 8000.0, 160), 8000), None);
    }

    #[test]
    fn dtmf_detector_reports_each_press_once() {
        let five = sine(8000, &[770.0, 1336.0], 6000.0, 160);
        let five = AudioFrame::from_samples(Rate::Narrow8k, &five).unwrap();
        let quiet = AudioFrame::silence(Rate::Narrow8k);
        let mut d = DtmfDetector::new();
        let heard: Vec<Option<char>> = [&five, &five, &five, &quiet, &five, &five]
            .iter()
            .map(|f| d.feed(f))
            .collect();
        assert_eq!(heard, [None, Some('5'), None, None, None, Some('5')]);
    }
}
