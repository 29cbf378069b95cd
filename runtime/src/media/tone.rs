//! Tone generation for `tone:` playback and in-band DTMF.
//!
//! A tone list uses Asterisk's indications syntax: comma-separated parts
//! `[!]f1[+f2|*f2][/ms]` — one frequency, two added (`+`) or `f1` amplitude-modulated by
//! `f2` (`*`); `0` is silence; a part without `/ms` lasts forever; a part starting with `!`
//! plays on the first pass only, and after the last part the list repeats without those.
//! Named tones (`dial`, `busy`, `ring`, …) come from a tone zone (`us` by default; `uk`,
//! `fr`, `de` too), chosen in a URI as `tone:busy;tonezone=fr`. Their cadences are the
//! usual national ones.
//!
//! The generator is phase-continuous across frames and parts, uses a sine table with
//! linear interpolation (no `sin()` per sample), and peaks at -10 dBFS.

use std::sync::OnceLock;

use super::frame::{AudioFrame, Rate};
use super::{MediaError, Result};

/// Peak amplitude of a generated tone: -10 dBFS (full scale × 10^(-10/20)).
pub const TONE_PEAK: f32 = 10362.0;
/// Highest frequency accepted in a tone list (Hz).
pub const MAX_FREQ: u32 = 8000;
/// Longest part accepted (ms): one day.
pub const MAX_PART_MS: u32 = 86_400_000;
/// Most parts in one list.
pub const MAX_PARTS: usize = 256;
/// The default tone zone.
pub const DEFAULT_ZONE: &str = "us";

/// One part of a tone list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TonePart {
    /// First frequency in Hz (0..=[`MAX_FREQ`]); 0 for none (both 0: silence).
    pub freq1: u32,
    /// Second frequency; 0 for none.
    pub freq2: u32,
    /// `f1*f2`: `freq1` amplitude-modulated by `freq2` instead of added to it.
    pub modulate: bool,
    /// `None`: plays until stopped.
    pub duration_ms: Option<u32>,
    /// `!`: first pass only.
    pub once: bool,
}

/// A parsed tone list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToneSpec {
    /// The parts in the order they play (at most [`MAX_PARTS`]).
    pub parts: Vec<TonePart>,
}

fn bad(msg: impl Into<String>) -> MediaError {
    MediaError::BadTone(msg.into())
}

fn parse_freq(s: &str) -> Result<u32> {
    let f: u32 = s
        .trim()
        .parse()
        .map_err(|_| bad(format!("'{s}' is not a frequency")))?;
    if f > MAX_FREQ {
        return Err(bad(format!("{f} Hz is above {MAX_FREQ} Hz")));
    }
    Ok(f)
}

fn parse_part(text: &str) -> Result<TonePart> {
    let text = text.trim();
    let (once, text) = match text.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (freqs, duration_ms) = match text.split_once('/') {
        Some((freqs, ms)) => {
            let ms: u32 = ms
                .trim()
                .parse()
                .map_err(|_| bad(format!("'{ms}' is not a duration")))?;
            if ms == 0 || ms > MAX_PART_MS {
                return Err(bad(format!("duration {ms} ms out of range")));
            }
            (freqs, Some(ms))
        }
        None => (text, None),
    };
    let (f1, f2, modulate) = if let Some((a, b)) = freqs.split_once('+') {
        (parse_freq(a)?, parse_freq(b)?, false)
    } else if let Some((a, b)) = freqs.split_once('*') {
        (parse_freq(a)?, parse_freq(b)?, true)
    } else {
        (parse_freq(freqs)?, 0, false)
    };
    Ok(TonePart {
        freq1: f1,
        freq2: f2,
        modulate,
        duration_ms,
        once,
    })
}

impl ToneSpec {
    /// Parses a tone list such as `480+620/500,0/500`.
    pub fn parse(list: &str) -> Result<ToneSpec> {
        let parts = list
            .split(',')
            .map(parse_part)
            .collect::<Result<Vec<_>>>()?;
        if parts.len() > MAX_PARTS {
            return Err(bad("too many parts"));
        }
        Ok(ToneSpec { parts })
    }

    /// A named tone of a zone (`busy` in `fr`).
    pub fn named(zone: &str, name: &str) -> Result<ToneSpec> {
        let tones = ZONES
            .iter()
            .find(|(z, _)| z.eq_ignore_ascii_case(zone))
            .map(|(_, tones)| *tones)
            .ok_or_else(|| MediaError::UnknownToneZone(zone.to_owned()))?;
        let list = tones
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, list)| *list)
            .ok_or_else(|| bad(format!("no tone '{name}' in zone '{zone}'")))?;
        ToneSpec::parse(list)
    }

    /// Parses what follows `tone:` in a media URI: a tone name or a tone list, then
    /// `;`-separated options of which `tonezone=<zone>` is understood (`default_zone`
    /// otherwise; other options are ignored).
    pub fn from_uri(rest: &str, default_zone: &str) -> Result<ToneSpec> {
        let mut pieces = rest.split(';');
        let tone = pieces.next().unwrap_or_default().trim();
        let mut zone = default_zone;
        for option in pieces {
            if let Some((key, value)) = option.split_once('=')
                && key.trim().eq_ignore_ascii_case("tonezone")
            {
                zone = value.trim();
            }
        }
        if tone.is_empty() {
            return Err(bad("empty tone"));
        }
        if tone.chars().all(|c| c.is_ascii_alphabetic()) {
            ToneSpec::named(zone, tone)
        } else {
            ToneSpec::parse(tone)
        }
    }

    /// True when the list ends by itself (every part has a duration and all are `!`).
    pub fn is_finite(&self) -> bool {
        self.parts.iter().all(|p| p.once && p.duration_ms.is_some())
    }
}

/// Named tones by zone.
const ZONES: &[(&str, &[(&str, &str)])] = &[
    (
        "us",
        &[
            ("dial", "350+440"),
            ("busy", "480+620/500,0/500"),
            ("ring", "440+480/2000,0/4000"),
            ("congestion", "480+620/250,0/250"),
            ("callwaiting", "440/300,0/10000"),
            (
                "dialrecall",
                "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440",
            ),
            ("record", "1400/500,0/15000"),
            ("info", "!950/330,!1400/330,!1800/330,0"),
            (
                "stutter",
                "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440",
            ),
        ],
    ),
    (
        "uk",
        &[
            ("dial", "350+440"),
            ("busy", "400/375,0/375"),
            ("ring", "400+450/400,0/200,400+450/400,0/2000"),
            ("congestion", "400/400,0/350,400/225,0/525"),
            ("callwaiting", "400/100,0/4000"),
            ("dialrecall", "350+440"),
            ("record", "1400/500,0/60000"),
            ("info", "!950/330,!1400/330,!1800/330,0"),
            ("stutter", "350+440"),
        ],
    ),
    (
        "fr",
        &[
            ("dial", "440"),
            ("busy", "440/500,0/500"),
            ("ring", "440/1500,0/3500"),
            ("congestion", "440/250,0/250"),
            ("callwaiting", "440/300,0/10000"),
            (
                "dialrecall",
                "!350+440/100,!0/100,!350+440/100,!0/100,!350+440/100,!0/100,350+440",
            ),
            ("record", "1400/500,0/15000"),
            ("info", "!950/330,!1400/330,!1800/330"),
            (
                "stutter",
                "!440/100,!0/100,!440/100,!0/100,!440/100,!0/100,440",
            ),
        ],
    ),
    (
        "de",
        &[
            ("dial", "425"),
            ("busy", "425/480,0/480"),
            ("ring", "425/1000,0/4000"),
            ("congestion", "425/240,0/240"),
            (
                "callwaiting",
                "!425/200,!0/200,!425/200,!0/5000,425/200,0/200,425/200,0/5000",
            ),
            (
                "dialrecall",
                "!425/100,!0/100,!425/100,!0/100,!425/100,!0/100,425",
            ),
            ("record", "1400/80,0/15000"),
            ("info", "950/330,1400/330,1800/330,0/1000"),
            ("stutter", "425+400"),
        ],
    ),
];

/// The zones with named tones.
pub fn zones() -> impl Iterator<Item = &'static str> {
    ZONES.iter().map(|(z, _)| *z)
}

/// DTMF row and column frequencies of a key (`0-9`, `*`, `#`, `A-D`, case ignored), from
/// the keypad table the detector uses ([`super::detect::DTMF_KEYS`]).
pub fn dtmf_freqs(key: char) -> Option<(u32, u32)> {
    use super::detect::{DTMF_COLS, DTMF_KEYS, DTMF_ROWS};
    let key = key.to_ascii_uppercase();
    DTMF_KEYS.iter().enumerate().find_map(|(row, keys)| {
        let col = keys.iter().position(|&k| k == key)?;
        Some((DTMF_ROWS[row] as u32, DTMF_COLS[col] as u32))
    })
}

/// One in-band DTMF key: `on_ms` of tone then `off_ms` of silence, played once.
pub fn dtmf_spec(key: char, on_ms: u32, off_ms: u32) -> Option<ToneSpec> {
    let (row, col) = dtmf_freqs(key)?;
    let mut parts = vec![TonePart {
        freq1: row,
        freq2: col,
        modulate: false,
        duration_ms: Some(on_ms.clamp(1, MAX_PART_MS)),
        once: true,
    }];
    if off_ms > 0 {
        parts.push(TonePart {
            freq1: 0,
            freq2: 0,
            modulate: false,
            duration_ms: Some(off_ms.min(MAX_PART_MS)),
            once: true,
        });
    }
    Some(ToneSpec { parts })
}

const TABLE_BITS: u32 = 10;
const TABLE_LEN: usize = 1 << TABLE_BITS;
const FRAC_BITS: u32 = 32 - TABLE_BITS;

fn sine_table() -> &'static [f32; TABLE_LEN + 1] {
    static TABLE: OnceLock<[f32; TABLE_LEN + 1]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0f32; TABLE_LEN + 1];
        for (i, v) in t.iter_mut().enumerate() {
            *v = (2.0 * std::f64::consts::PI * i as f64 / TABLE_LEN as f64).sin() as f32;
        }
        t
    })
}

/// Sine of a 32-bit phase (a full turn is 2^32).
fn sine(table: &[f32; TABLE_LEN + 1], phase: u32) -> f32 {
    let i = (phase >> FRAC_BITS) as usize;
    let frac = (phase & ((1 << FRAC_BITS) - 1)) as f32 / (1u32 << FRAC_BITS) as f32;
    let a = table[i];
    a + (table[i + 1] - a) * frac
}

/// Phase increment per sample for `freq` at `rate`.
fn step(freq: u32, rate: Rate) -> u32 {
    ((freq as u64) << 32)
        .checked_div(rate.hz() as u64)
        .unwrap_or(0) as u32
}

/// Produces a tone list as 20 ms frames.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    parts: Vec<TonePart>,
    rate: Rate,
    index: usize,
    /// Samples left in the current part; `None` = forever.
    left: Option<u64>,
    /// Past the first pass: `!` parts are skipped.
    repeating: bool,
    finished: bool,
    phase1: u32,
    phase2: u32,
}

impl ToneGenerator {
    /// A generator at the start of `spec`, producing frames at `rate`.
    pub fn new(spec: ToneSpec, rate: Rate) -> Self {
        let mut generator = Self {
            finished: spec.parts.is_empty(),
            parts: spec.parts,
            rate,
            index: 0,
            left: None,
            repeating: false,
            phase1: 0,
            phase2: 0,
        };
        generator.enter_part();
        generator
    }

    fn enter_part(&mut self) {
        if let Some(part) = self.parts.get(self.index) {
            self.left = part
                .duration_ms
                .map(|ms| self.rate.ms_to_samples(ms as u64));
        }
    }

    /// Moves to the next part to play, wrapping around without the `!` parts.
    fn advance(&mut self) {
        loop {
            self.index += 1;
            if self.index >= self.parts.len() {
                self.index = 0;
                if !self.parts.iter().any(|p| !p.once) {
                    self.finished = true;
                    return;
                }
                self.repeating = true;
            }
            if !(self.repeating && self.parts[self.index].once) {
                break;
            }
        }
        self.enter_part();
    }

    /// True once there is nothing left to play: the list was empty, or all its parts are
    /// `!` parts and have played (a list with a repeating part never finishes).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// The next 20 ms, or `None` once a finite list has ended.
    pub fn next_frame(&mut self) -> Option<AudioFrame> {
        let mut frame = AudioFrame::silence(self.rate);
        self.fill_frame(&mut frame).then_some(frame)
    }

    /// Writes the next 20 ms into `frame` (silence-padded if the list ends inside it);
    /// false once the list has ended.
    pub fn fill_frame(&mut self, frame: &mut AudioFrame) -> bool {
        if self.finished {
            return false;
        }
        frame.clear(self.rate);
        let table = sine_table();
        for out in frame.samples_mut() {
            if self.finished {
                break;
            }
            let part = self.parts[self.index];
            let value = if part.freq1 == 0 && part.freq2 == 0 {
                0.0
            } else {
                let a = sine(table, self.phase1);
                let b = sine(table, self.phase2);
                self.phase1 = self.phase1.wrapping_add(step(part.freq1, self.rate));
                self.phase2 = self.phase2.wrapping_add(step(part.freq2, self.rate));
                if part.freq2 == 0 {
                    a * TONE_PEAK
                } else if part.modulate {
                    // 90% modulation depth, scaled so the peak stays at TONE_PEAK.
                    a * (1.0 + 0.9 * b) / 1.9 * TONE_PEAK
                } else if part.freq1 == 0 {
                    b * TONE_PEAK
                } else {
                    (a + b) * 0.5 * TONE_PEAK
                }
            };
            *out = value as i16;
            if let Some(left) = self.left.as_mut() {
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.advance();
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::detect::{detect_dtmf, goertzel_power};

    fn collect(g: &mut ToneGenerator, frames: usize) -> Vec<i16> {
        let mut out = Vec::new();
        for _ in 0..frames {
            match g.next_frame() {
                Some(f) => out.extend_from_slice(f.samples()),
                None => break,
            }
        }
        out
    }

    #[test]
    fn parses_indications_syntax() {
        let spec = ToneSpec::parse("!350+440/100, 0/100,480*20/500,425").unwrap();
        assert_eq!(
            spec.parts,
            [
                TonePart {
                    freq1: 350,
                    freq2: 440,
                    modulate: false,
                    duration_ms: Some(100),
                    once: true
                },
                TonePart {
                    freq1: 0,
                    freq2: 0,
                    modulate: false,
                    duration_ms: Some(100),
                    once: false
                },
                TonePart {
                    freq1: 480,
                    freq2: 20,
                    modulate: true,
                    duration_ms: Some(500),
                    once: false
                },
                TonePart {
                    freq1: 425,
                    freq2: 0,
                    modulate: false,
                    duration_ms: None,
                    once: false
                },
            ]
        );
        for bad in [
            "", "abc/10", "440/", "440/0", "440/x", "99999", "440+", "1+2+3", "-5",
        ] {
            assert!(ToneSpec::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn named_tones_and_zones() {
        let busy = ToneSpec::from_uri("busy", DEFAULT_ZONE).unwrap();
        assert_eq!(busy.parts[0].freq1, 480);
        assert_eq!(busy.parts[0].freq2, 620);
        let fr = ToneSpec::from_uri("busy;tonezone=fr", DEFAULT_ZONE).unwrap();
        assert_eq!(fr.parts[0].freq1, 440);
        assert_eq!(fr.parts[0].freq2, 0);
        let de = ToneSpec::from_uri("ring;tonezone=DE", "us").unwrap();
        assert_eq!(de.parts[0].freq1, 425);
        for zone in zones() {
            for name in [
                "dial",
                "busy",
                "ring",
                "congestion",
                "callwaiting",
                "dialrecall",
                "record",
                "info",
            ] {
                ToneSpec::named(zone, name).unwrap_or_else(|e| panic!("{zone}/{name}: {e}"));
            }
        }
        assert!(matches!(
            ToneSpec::from_uri("busy;tonezone=xx", "us"),
            Err(MediaError::UnknownToneZone(_))
        ));
        assert!(ToneSpec::from_uri("nosuchtone", "us").is_err());
        assert!(ToneSpec::from_uri("", "us").is_err());
        let list = ToneSpec::from_uri("440/100,0/100;other=1", "us").unwrap();
        assert_eq!(list.parts.len(), 2);
    }

    #[test]
    fn a_440_tone_has_its_power_at_440() {
        let mut g = ToneGenerator::new(ToneSpec::parse("440").unwrap(), Rate::Narrow8k);
        let s = collect(&mut g, 10);
        assert_eq!(s.len(), 1600);
        let on = goertzel_power(&s, 440.0, 8000);
        let off = goertzel_power(&s, 1000.0, 8000);
        assert!(on > 10_000.0 * off, "{on} vs {off}");
        let peak = s.iter().map(|x| x.unsigned_abs()).max().unwrap();
        assert!((10000..=10362).contains(&peak), "peak {peak}");
        assert!(!g.is_finished());
    }

    #[test]
    fn dual_tones_at_16k_show_both_frequencies() {
        let spec = ToneSpec::from_uri("dial", "us").unwrap();
        let mut g = ToneGenerator::new(spec, Rate::Wide16k);
        let s = collect(&mut g, 5);
        assert_eq!(s.len(), 1600);
        let p350 = goertzel_power(&s, 350.0, 16000);
        let p440 = goertzel_power(&s, 440.0, 16000);
        let p1000 = goertzel_power(&s, 1000.0, 16000);
        assert!(p350 > 1000.0 * p1000 && p440 > 1000.0 * p1000);
        assert!((p350 / p440 - 1.0).abs() < 0.2);
    }

    #[test]
    fn phase_is_continuous_across_frames() {
        let mut g = ToneGenerator::new(ToneSpec::parse("1000").unwrap(), Rate::Narrow8k);
        let s = collect(&mut g, 3);
        // The largest step between neighbours of a 1 kHz sine at 8 kHz is A·2·sin(π/8).
        let max_step = s
            .windows(2)
            .map(|w| (w[1] as i32 - w[0] as i32).abs())
            .max()
            .unwrap();
        assert!(max_step <= 8000, "{max_step}");
    }

    #[test]
    fn cadence_timing_and_once_parts() {
        // 30 ms on, 10 ms off, repeated: sample-accurate across frame edges.
        let mut g = ToneGenerator::new(
            ToneSpec::parse("!0/20,800/30,0/10").unwrap(),
            Rate::Narrow8k,
        );
        let s = collect(&mut g, 10);
        let ms_loud = |ms: usize| s[ms * 8..ms * 8 + 8].iter().any(|&x| x != 0);
        assert!(!ms_loud(0) && !ms_loud(19));
        assert!(ms_loud(21) && ms_loud(49));
        assert!(!ms_loud(50) && !ms_loud(59));
        // Repeats without the `!` part: on again at 60 ms, not after 20 ms more silence.
        assert!(ms_loud(61) && ms_loud(89));
        assert!(!ms_loud(91));
        assert!(ms_loud(101));
    }

    #[test]
    fn finite_lists_end() {
        let spec = ToneSpec::parse("!440/30,!0/15").unwrap();
        assert!(spec.is_finite());
        let mut g = ToneGenerator::new(spec, Rate::Narrow8k);
        assert!(g.next_frame().is_some());
        let last = g.next_frame().unwrap();
        // 45 ms: the third frame carries the last 5 ms of silence, padded.
        assert!(g.next_frame().is_some());
        assert!(g.is_finished());
        assert!(g.next_frame().is_none());
        assert!(last.samples()[..80].iter().any(|&x| x != 0));
        let mut empty = ToneGenerator::new(ToneSpec { parts: vec![] }, Rate::Narrow8k);
        assert!(empty.next_frame().is_none());
    }

    #[test]
    fn dtmf_tones_are_detected_as_their_keys() {
        for key in "0123456789*#ABCD".chars() {
            for rate in [Rate::Narrow8k, Rate::Wide16k] {
                let mut g = ToneGenerator::new(dtmf_spec(key, 100, 50).unwrap(), rate);
                let s = collect(&mut g, 100);
                assert_eq!(s.len(), rate.samples_per_ms() * 160); // 150 ms, padded to 160
                let block = &s[..rate.samples_per_frame()];
                assert_eq!(
                    detect_dtmf(block, rate.hz()),
                    Some(key),
                    "{key} at {rate:?}"
                );
                assert!(s[rate.samples_per_ms() * 100..].iter().all(|&x| x == 0));
            }
        }
        assert_eq!(dtmf_freqs('x'), None);
        assert_eq!(dtmf_freqs('a'), Some((697, 1633)));
    }
}
