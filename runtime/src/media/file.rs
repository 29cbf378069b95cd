//! Reading sound files into samples, playing them frame by frame, writing recordings
//! crash-safely, and keeping user-supplied recording names inside their directory.
//!
//! WAV is read and written with the [`hound`] crate (a small, widely used, pure-Rust WAV
//! codec with no dependencies of its own). Raw formats are plain byte streams.
//!
//! **Reading** decodes the whole file: prompts are short, the decoded samples are shared
//! ([`DecodedAudio`] is an `Arc`) so a cache can serve every channel playing the same
//! prompt, and seeking, skipping and reversing become index arithmetic. WAV files at rates
//! other than 8 and 16 kHz, with several channels or other bit depths, are converted on
//! reading (channels averaged; 8/24/32-bit and float scaled to 16 bits; other rates
//! resampled by linear interpolation after a moving-average low-pass when shrinking —
//! adequate for prompts, not for music mastering). Non-PCM WAV (µ-law WAV, GSM WAV, …) is a
//! clear [`MediaError::UnsupportedWav`].
//!
//! **Writing** goes to `<name>.<ext>.partial` next to the final file; [`RecordingWriter::finish`]
//! flushes, fsyncs and renames it into place (then fsyncs the directory), so after a crash
//! there is either the complete previous file, the complete new one, or a `.partial` whose
//! name says what it is. `.partial` is not a known extension, so listings skip it; at the
//! next start-up `media::recovery` repairs it into a stored recording or removes it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::codec::{Codec, Endian};
use super::format::Format;
use super::frame::{AudioFrame, Rate, Resampler, resample_buffer};
use super::{MediaError, Result};

mod stored;
#[cfg(test)]
mod tests;
mod writer;

pub use stored::*;
pub use writer::*;

/// Longest audio accepted: one hour at 16 kHz.
pub const MAX_SAMPLES: u64 = 16_000 * 3600;
/// Largest file read (a one-hour 16 kHz WAV plus headroom for multichannel sources).
pub const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;
/// Suffix of a recording being written.
pub const PARTIAL_SUFFIX: &str = ".partial";

/// The end of a hidden temporary file a recording copy is written to before it is linked
/// in under its name (`.<name>.<ext>.<uuid>.copy`).
pub const COPY_SUFFIX: &str = ".copy";
/// Longest recording name accepted.
pub const MAX_NAME_LEN: usize = 1024;

/// Decoded mono audio at 8 or 16 kHz, cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedAudio {
    /// The rate of `samples`: 8 or 16 kHz (a WAV at another rate is converted on reading).
    pub rate: Rate,
    /// Mono 16-bit linear samples at `rate`.
    pub samples: Arc<[i16]>,
}

impl DecodedAudio {
    /// Audio of `samples` (mono, 16-bit linear) at `rate`.
    pub fn new(rate: Rate, samples: Vec<i16>) -> Self {
        Self {
            rate,
            samples: samples.into(),
        }
    }

    /// Length in milliseconds, rounded down (the sample count is exact).
    pub fn duration_ms(&self) -> u64 {
        self.rate.samples_to_ms(self.samples.len() as u64)
    }

    /// The same audio at `rate` (a clone when it already is).
    pub fn to_rate(&self, rate: Rate) -> DecodedAudio {
        if rate == self.rate {
            return self.clone();
        }
        DecodedAudio::new(rate, resample_buffer(&self.samples, self.rate, rate))
    }
}

/// Decodes the bytes of a file in `format`. A trailing odd byte of a linear raw file is
/// ignored; a WAV whose data is shorter than its header says gives what is there.
pub fn decode_bytes(bytes: &[u8], format: Format) -> Result<DecodedAudio> {
    match (format.raw_codec(), format.raw_rate()) {
        (Some(codec), Some(rate)) => {
            let count = (bytes.len() / codec.sample_bytes()) as u64;
            if count > MAX_SAMPLES {
                return Err(MediaError::TooLong(count));
            }
            let mut samples = Vec::new();
            codec.decode(bytes, Endian::Little, &mut samples);
            Ok(DecodedAudio::new(rate, samples))
        }
        _ => decode_wav(bytes),
    }
}

/// Reads and decodes a file whose format is known from its extension.
pub fn read_file(path: &Path) -> Result<(DecodedAudio, Format)> {
    let format = Format::of_path(path).ok_or_else(|| {
        MediaError::UnknownFormat(
            path.extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    })?;
    Ok((read_file_as(path, format)?, format))
}

/// Refuses a file of `len` bytes when it is larger than [`MAX_FILE_BYTES`].
pub fn check_file_size(len: u64) -> Result<()> {
    if len > MAX_FILE_BYTES {
        return Err(MediaError::FileTooLarge(len));
    }
    Ok(())
}

/// Reads and decodes a file in `format`.
pub fn read_file_as(path: &Path, format: Format) -> Result<DecodedAudio> {
    let len = fs::metadata(path)
        .map_err(|e| MediaError::io(path, e))?
        .len();
    check_file_size(len)?;
    let bytes = fs::read(path).map_err(|e| MediaError::io(path, e))?;
    decode_bytes(&bytes, format)
}

fn wav_error(e: hound::Error) -> MediaError {
    match e {
        hound::Error::Unsupported => MediaError::UnsupportedWav("not PCM".into()),
        other => MediaError::Wav(other.to_string()),
    }
}

/// Decodes a WAV file (see the module docs for what is converted).
pub fn decode_wav(bytes: &[u8]) -> Result<DecodedAudio> {
    let reader = hound::WavReader::new(io::Cursor::new(bytes)).map_err(wav_error)?;
    let spec = reader.spec();
    let channels = spec.channels as usize;
    if channels == 0 {
        return Err(MediaError::UnsupportedWav("no channels".into()));
    }
    if spec.sample_rate < 1000 || spec.sample_rate > 384_000 {
        return Err(MediaError::UnsupportedWav(format!(
            "sample rate {} Hz",
            spec.sample_rate
        )));
    }
    // Samples per channel the header announces (the data may be shorter).
    let frames = reader.duration() as u64;
    let target = if spec.sample_rate > 8000 {
        Rate::Wide16k
    } else {
        Rate::Narrow8k
    };
    let converted = frames.saturating_mul(target.hz() as u64) / spec.sample_rate as u64;
    if frames > MAX_SAMPLES * 24 || converted > MAX_SAMPLES {
        return Err(MediaError::TooLong(converted));
    }
    let capacity = (frames as usize).min(bytes.len() / channels);
    let mut mono: Vec<i16> = Vec::with_capacity(capacity);
    match spec.sample_format {
        hound::SampleFormat::Int => {
            let bits = spec.bits_per_sample;
            if bits == 0 || bits > 32 {
                return Err(MediaError::UnsupportedWav(format!("{bits}-bit samples")));
            }
            let scale = |s: i32| -> i32 {
                if bits >= 16 {
                    s >> (bits - 16)
                } else {
                    s << (16 - bits)
                }
            };
            downmix(
                reader.into_samples::<i32>().map(|r| r.map(scale)),
                channels,
                &mut mono,
            );
        }
        hound::SampleFormat::Float => {
            let to_i32 = |f: f32| -> i32 {
                if f.is_finite() {
                    (f * 32767.0).round().clamp(-32768.0, 32767.0) as i32
                } else {
                    0
                }
            };
            downmix(
                reader.into_samples::<f32>().map(|r| r.map(to_i32)),
                channels,
                &mut mono,
            );
        }
    }
    Ok(match Rate::from_hz(spec.sample_rate) {
        Some(rate) => DecodedAudio::new(rate, mono),
        None => DecodedAudio::new(target, convert_rate(&mono, spec.sample_rate, target.hz())),
    })
}

/// Averages interleaved channels into `out`, stopping quietly at the first read error
/// (truncated data).
fn downmix<I>(samples: I, channels: usize, out: &mut Vec<i16>)
where
    I: Iterator<Item = std::result::Result<i32, hound::Error>>,
{
    let mut acc: i64 = 0;
    let mut n = 0usize;
    for sample in samples {
        let Ok(s) = sample else { break };
        acc += s as i64;
        n += 1;
        if n == channels {
            out.push((acc / channels as i64).clamp(i16::MIN as i64, i16::MAX as i64) as i16);
            acc = 0;
            n = 0;
        }
    }
}

/// Converts between arbitrary rates: a moving average over the ratio when shrinking (a
/// crude low-pass against aliasing), then linear interpolation.
fn convert_rate(input: &[i16], from_hz: u32, to_hz: u32) -> Vec<i16> {
    if input.is_empty() || from_hz == to_hz {
        return input.to_vec();
    }
    let smoothed: Vec<i16>;
    let source: &[i16] = if from_hz > to_hz {
        let width = from_hz.div_ceil(to_hz) as usize;
        let mut out = Vec::with_capacity(input.len());
        let mut sum: i64 = 0;
        for (i, &s) in input.iter().enumerate() {
            sum += s as i64;
            if i >= width {
                sum -= input[i - width] as i64;
            }
            let n = (i + 1).min(width) as i64;
            out.push((sum / n) as i16);
        }
        smoothed = out;
        &smoothed
    } else {
        input
    };
    let out_len = (input.len() as u64 * to_hz as u64 / from_hz as u64) as usize;
    let mut out = Vec::with_capacity(out_len);
    let last = source.len() - 1;
    for j in 0..out_len {
        // Position in the source in 1/to_hz units, exact in integers.
        let num = j as u64 * from_hz as u64;
        let i = (num / to_hz as u64) as usize;
        let frac = (num % to_hz as u64) as i64;
        let a = source[i.min(last)] as i64;
        let b = source[(i + 1).min(last)] as i64;
        out.push((a + (b - a) * frac / to_hz as i64) as i16);
    }
    out
}

/// Plays decoded audio as 20 ms frames, with the controls a playback needs.
#[derive(Debug, Clone)]
pub struct FramePlayer {
    audio: DecodedAudio,
    /// Index of the next sample to play.
    pos: usize,
}

impl FramePlayer {
    /// A player at the start of `audio`.
    pub fn new(audio: DecodedAudio) -> Self {
        Self { audio, pos: 0 }
    }

    /// The rate of the frames it plays (the audio's own: nothing is resampled here).
    pub fn rate(&self) -> Rate {
        self.audio.rate
    }

    /// Length of the whole audio in milliseconds, rounded down.
    pub fn duration_ms(&self) -> u64 {
        self.audio.duration_ms()
    }

    /// How far it has played, in milliseconds from the start (advances 20 per frame).
    pub fn position_ms(&self) -> u64 {
        self.audio.rate.samples_to_ms(self.pos as u64)
    }

    /// True once every sample has been played.
    pub fn is_finished(&self) -> bool {
        self.pos >= self.audio.samples.len()
    }

    /// The next 20 ms (the last frame padded with silence), or `None` at the end.
    pub fn next_frame(&mut self) -> Option<AudioFrame> {
        let mut frame = AudioFrame::silence(self.audio.rate);
        self.fill_frame(&mut frame).then_some(frame)
    }

    /// Writes the next 20 ms into `frame` (reusing it); false at the end.
    pub fn fill_frame(&mut self, frame: &mut AudioFrame) -> bool {
        if self.is_finished() {
            return false;
        }
        let n = self.audio.rate.samples_per_frame();
        let end = (self.pos + n).min(self.audio.samples.len());
        frame.clear(self.audio.rate);
        frame.samples_mut()[..end - self.pos].copy_from_slice(&self.audio.samples[self.pos..end]);
        self.pos = end;
        true
    }

    /// Moves to `ms` from the start (past the end = finished).
    pub fn seek_ms(&mut self, ms: u64) {
        let target = self.audio.rate.ms_to_samples(ms);
        self.pos = target.min(self.audio.samples.len() as u64) as usize;
    }

    /// Moves forward (positive) or back (negative) by `delta_ms`, stopping at either end.
    pub fn skip_ms(&mut self, delta_ms: i64) {
        let now = self.position_ms() as i64;
        self.seek_ms(now.saturating_add(delta_ms).max(0) as u64);
    }

    /// Goes back to the start (ARI `restart`); a finished player plays again.
    pub fn restart(&mut self) {
        self.pos = 0;
    }
}
