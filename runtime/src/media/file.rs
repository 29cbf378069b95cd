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
//! next start-up [`super::recovery`] repairs it into a stored recording or removes it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::codec::{Codec, Endian};
use super::format::Format;
use super::frame::{AudioFrame, Rate, Resampler, resample_buffer};
use super::{MediaError, Result};

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
    pub rate: Rate,
    pub samples: Arc<[i16]>,
}

impl DecodedAudio {
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
    pub fn new(audio: DecodedAudio) -> Self {
        Self { audio, pos: 0 }
    }

    pub fn rate(&self) -> Rate {
        self.audio.rate
    }

    pub fn duration_ms(&self) -> u64 {
        self.audio.duration_ms()
    }

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

    pub fn restart(&mut self) {
        self.pos = 0;
    }
}

/// What to do when a recording's file already exists (`ifExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    #[default]
    Fail,
    Overwrite,
    Append,
}

impl IfExists {
    /// Parses `fail`, `overwrite` or `append`, ignoring case.
    pub fn parse(s: &str) -> Option<IfExists> {
        match s.to_ascii_lowercase().as_str() {
            "fail" => Some(IfExists::Fail),
            "overwrite" => Some(IfExists::Overwrite),
            "append" => Some(IfExists::Append),
            _ => None,
        }
    }
}

enum Sink {
    Raw(BufWriter<File>, Codec),
    Wav(hound::WavWriter<BufWriter<File>>),
}

/// A recording being written (see the module docs for the crash-safety rules).
///
/// Dropping it without [`finish`](Self::finish) or [`cancel`](Self::cancel) leaves the
/// `.partial` file behind, as a crash would.
pub struct RecordingWriter {
    path: PathBuf,
    partial: PathBuf,
    format: Format,
    rate: Rate,
    sink: Option<Sink>,
    /// Samples in the file, including those of an appended-to file.
    samples: u64,
    resampler: Option<Resampler>,
    bytes: Vec<u8>,
}

/// A recording moved into place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinishedRecording {
    pub path: PathBuf,
    pub format: Format,
    pub rate: Rate,
    pub duration_ms: u64,
}

/// An I/O error on `path` from an error that is not an [`io::Error`] (hound's, `BufWriter`'s).
fn io_other(path: &Path, e: impl std::fmt::Display) -> MediaError {
    MediaError::io(path, io::Error::other(e.to_string()))
}

/// The partial file of a recording: `<path>.partial`.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(PARTIAL_SUFFIX);
    PathBuf::from(name)
}

impl RecordingWriter {
    /// Starts a recording to `path` (parent directories are created). `wav_rate` is the
    /// rate of a new WAV file; raw formats have their own rate, and appending keeps the
    /// existing file's. Frames at other rates are converted.
    pub fn create(
        path: &Path,
        format: Format,
        wav_rate: Rate,
        if_exists: IfExists,
    ) -> Result<Self> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| MediaError::io(dir, e))?;
        }
        let exists = path.exists();
        if exists && if_exists == IfExists::Fail {
            return Err(MediaError::AlreadyExists(path.to_path_buf()));
        }
        let append = exists && if_exists == IfExists::Append;
        let partial = partial_path(path);
        if append {
            fs::copy(path, &partial).map_err(|e| MediaError::io(&partial, e))?;
        }
        let opened = Self::open_sink(path, &partial, format, wav_rate, append);
        let (sink, rate, samples) = match opened {
            Ok(opened) => opened,
            Err(e) => {
                let _ = fs::remove_file(&partial);
                return Err(e);
            }
        };
        Ok(Self {
            path: path.to_path_buf(),
            partial,
            format,
            rate,
            sink: Some(sink),
            samples,
            resampler: None,
            bytes: Vec::with_capacity(640),
        })
    }

    fn open_sink(
        path: &Path,
        partial: &Path,
        format: Format,
        wav_rate: Rate,
        append: bool,
    ) -> Result<(Sink, Rate, u64)> {
        let io_err = |e| MediaError::io(partial, e);
        match (format.raw_codec(), format.raw_rate()) {
            (Some(codec), Some(rate)) => {
                let file = if append {
                    OpenOptions::new().append(true).open(partial)
                } else {
                    File::create(partial)
                }
                .map_err(io_err)?;
                let existing = file.metadata().map_err(io_err)?.len() / codec.sample_bytes() as u64;
                Ok((Sink::Raw(BufWriter::new(file), codec), rate, existing))
            }
            _ if append => {
                let cannot = |reason: String| MediaError::CannotAppend {
                    path: path.to_path_buf(),
                    reason,
                };
                let writer =
                    hound::WavWriter::append(partial).map_err(|e| cannot(e.to_string()))?;
                let spec = writer.spec();
                let rate = Rate::from_hz(spec.sample_rate).filter(|_| {
                    spec.channels == 1
                        && spec.bits_per_sample == 16
                        && spec.sample_format == hound::SampleFormat::Int
                });
                let Some(rate) = rate else {
                    return Err(cannot(format!(
                        "existing WAV is {} Hz, {} channel(s), {}-bit; only 16-bit mono 8/16 kHz can be appended to",
                        spec.sample_rate, spec.channels, spec.bits_per_sample
                    )));
                };
                let existing = writer.duration() as u64;
                Ok((Sink::Wav(writer), rate, existing))
            }
            _ => {
                let file = File::create(partial).map_err(io_err)?;
                let spec = hound::WavSpec {
                    channels: 1,
                    sample_rate: wav_rate.hz(),
                    bits_per_sample: 16,
                    sample_format: hound::SampleFormat::Int,
                };
                let writer = hound::WavWriter::new(BufWriter::new(file), spec)
                    .map_err(|e| io_other(partial, e))?;
                Ok((Sink::Wav(writer), wav_rate, 0))
            }
        }
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the recording is being written.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// The file's sample rate.
    pub fn rate(&self) -> Rate {
        self.rate
    }

    /// Samples in the file so far (with an appended-to file's earlier audio).
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Length of the file so far (with an appended-to file's earlier audio).
    pub fn duration_ms(&self) -> u64 {
        self.rate.samples_to_ms(self.samples)
    }

    /// Appends samples at the file's rate.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<()> {
        let partial = &self.partial;
        match self.sink.as_mut() {
            Some(Sink::Raw(file, codec)) => {
                self.bytes.clear();
                codec.encode(samples, Endian::Little, &mut self.bytes);
                file.write_all(&self.bytes)
                    .map_err(|e| MediaError::io(partial, e))?;
            }
            Some(Sink::Wav(writer)) => {
                let mut w = writer.get_i16_writer(samples.len() as u32);
                for &s in samples {
                    w.write_sample(s);
                }
                w.flush().map_err(|e| io_other(partial, e))?;
            }
            None => return Err(io_other(partial, "recording already closed")),
        }
        self.samples += samples.len() as u64;
        Ok(())
    }

    /// Appends a frame, converting it to the file's rate if needed.
    pub fn write_frame(&mut self, frame: &AudioFrame) -> Result<()> {
        if frame.rate() == self.rate {
            return self.write_samples(frame.samples());
        }
        let resampler = self
            .resampler
            .get_or_insert_with(|| Resampler::new(frame.rate(), self.rate));
        let converted = resampler.frame(frame);
        self.write_samples(converted.samples())
    }

    /// Pushes buffered data to the OS and, for WAV, rewrites the header so that even the
    /// partial file is valid up to here. Call it now and then (e.g. every second).
    pub fn flush(&mut self) -> Result<()> {
        let partial = &self.partial;
        match self.sink.as_mut() {
            Some(Sink::Raw(file, _)) => file.flush().map_err(|e| MediaError::io(partial, e)),
            Some(Sink::Wav(writer)) => writer.flush().map_err(|e| io_other(partial, e)),
            None => Ok(()),
        }
    }

    fn close_sink(&mut self) -> Result<()> {
        let partial = &self.partial;
        match self.sink.take() {
            Some(Sink::Raw(file, _)) => {
                let file = file.into_inner().map_err(|e| io_other(partial, e))?;
                file.sync_all().map_err(|e| MediaError::io(partial, e))
            }
            Some(Sink::Wav(writer)) => {
                writer.finalize().map_err(|e| io_other(partial, e))?;
                // fsync works on the file, whichever descriptor asks.
                File::open(partial)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| MediaError::io(partial, e))
            }
            None => Ok(()),
        }
    }

    /// Completes the recording: flush, fsync, rename into place, fsync the directory.
    pub fn finish(mut self) -> Result<FinishedRecording> {
        self.close_sink()?;
        fs::rename(&self.partial, &self.path).map_err(|e| MediaError::io(&self.path, e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; a failure here loses nothing already written.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(FinishedRecording {
            path: self.path.clone(),
            format: self.format,
            rate: self.rate,
            duration_ms: self.duration_ms(),
        })
    }

    /// Abandons the recording and deletes its partial file; an existing file is untouched.
    pub fn cancel(mut self) -> Result<()> {
        // Closing may fail (disk full); the file goes anyway.
        let _ = self.close_sink();
        match fs::remove_file(&self.partial) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(MediaError::io(&self.partial, e)),
        }
    }
}

impl std::fmt::Debug for RecordingWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingWriter")
            .field("path", &self.path)
            .field("format", &self.format)
            .field("rate", &self.rate)
            .field("samples", &self.samples)
            .finish()
    }
}

/// Joins a client-supplied recording name (which may contain `/` for sub-directories) to
/// `base`, refusing anything that could leave `base`: an empty name, an absolute path,
/// empty, `.` or `..` segments, NUL bytes, or more than [`MAX_NAME_LEN`] bytes.
///
/// This checks the name only; symbolic links inside `base` are the administrator's.
pub fn safe_join(base: &Path, name: &str) -> Result<PathBuf> {
    use MediaError::InvalidRecordingName as Invalid;
    if name.is_empty() {
        return Err(Invalid("empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Invalid("name too long"));
    }
    if name.contains('\0') {
        return Err(Invalid("NUL in name"));
    }
    if name.starts_with('/') {
        return Err(Invalid("absolute path"));
    }
    for segment in name.split('/') {
        match segment {
            "" => return Err(Invalid("empty path segment")),
            "." | ".." => return Err(Invalid("'.' or '..' in path")),
            _ => {}
        }
    }
    let relative = Path::new(name);
    // Belt and braces: whatever the platform parses, only plain names may remain.
    if !relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Invalid("not a plain relative path"));
    }
    Ok(base.join(relative))
}

/// A finished recording found under the recordings directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    /// Relative name without extension, `/`-separated (`calls/msg1`).
    pub name: String,
    pub format: Format,
    pub path: PathBuf,
}

/// Every stored recording under `base` (recursively, as `GET /recordings/stored` lists
/// them), sorted by name then format: files with a known format's extension; hidden
/// files and `.partial` files are left out. A missing `base` gives an empty list.
pub fn list_recordings(base: &Path) -> Vec<StoredFile> {
    fn walk(dir: &Path, prefix: &str, depth: usize, out: &mut Vec<StoredFile>) {
        if depth > 16 {
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if file_name.starts_with('.') {
                continue;
            }
            // No symbolic links followed: recordings are wari's own files.
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                walk(&path, &format!("{prefix}{file_name}/"), depth + 1, out);
            } else if kind.is_file()
                && let Some((stem, format)) = Format::split_file_name(&file_name)
            {
                out.push(StoredFile {
                    name: format!("{prefix}{stem}"),
                    format,
                    path,
                });
            }
        }
    }
    let mut out = Vec::new();
    walk(base, "", 0, &mut out);
    out.sort_by(|a, b| (a.name.as_str(), a.format).cmp(&(b.name.as_str(), b.format)));
    out
}

/// The stored recording `name` (any known format), if there is exactly one file for it;
/// with several formats the first in [`Format::PREFERENCE`] order. `name` is checked with
/// [`safe_join`].
pub fn find_recording(base: &Path, name: &str) -> Result<Option<StoredFile>> {
    let joined = safe_join(base, name)?;
    let Some(file_name) = joined
        .file_name()
        .and_then(|n| n.to_str())
        .map(str::to_owned)
    else {
        return Ok(None);
    };
    for format in Format::PREFERENCE {
        for ext in format.extensions() {
            let path = joined.with_file_name(format!("{file_name}.{ext}"));
            if path.is_file() {
                return Ok(Some(StoredFile {
                    name: name.to_owned(),
                    format,
                    path,
                }));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<i16> {
        (0..n).map(|i| ((i * 37) % 20000) as i16 - 10000).collect()
    }

    fn write_wav(path: &Path, rate: u32, channels: u16, bits: u16, samples: &[i32]) {
        let spec = hound::WavSpec {
            channels,
            sample_rate: rate,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        for &s in samples {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
    }

    #[test]
    fn wav_written_then_read_back_equals_the_samples() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rec.wav");
        let samples = ramp(16000);
        let mut w =
            RecordingWriter::create(&path, Format::Wav, Rate::Wide16k, IfExists::Fail).unwrap();
        for chunk in samples.chunks(320) {
            w.write_frame(&AudioFrame::from_samples(Rate::Wide16k, chunk).unwrap())
                .unwrap();
        }
        let done = w.finish().unwrap();
        assert_eq!(done.duration_ms, 1000);
        let (audio, format) = read_file(&path).unwrap();
        assert_eq!(format, Format::Wav);
        assert_eq!(audio.rate, Rate::Wide16k);
        assert_eq!(&audio.samples[..], &samples[..]);
        assert_eq!(audio.duration_ms(), 1000);
    }

    #[test]
    fn partial_file_exists_while_recording_and_is_gone_after_finish() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/msg.wav");
        let mut w =
            RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Fail).unwrap();
        let partial = dir.path().join("sub/dir/msg.wav.partial");
        assert_eq!(w.partial_path(), partial);
        w.write_frame(&AudioFrame::silence(Rate::Narrow8k)).unwrap();
        w.flush().unwrap();
        assert!(partial.exists());
        assert!(!path.exists());
        // The flushed partial is already a valid WAV.
        let (audio, _) = (read_file_as(&partial, Format::Wav).unwrap(), ());
        assert_eq!(audio.samples.len(), 160);
        w.finish().unwrap();
        assert!(!partial.exists());
        assert!(path.exists());
    }

    #[test]
    fn cancel_deletes_the_partial_and_keeps_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keep.sln");
        fs::write(&path, [1, 0, 2, 0]).unwrap();
        let mut w =
            RecordingWriter::create(&path, Format::Sln, Rate::Narrow8k, IfExists::Overwrite)
                .unwrap();
        w.write_samples(&[9; 100]).unwrap();
        let partial = w.partial_path().to_path_buf();
        assert!(partial.exists());
        w.cancel().unwrap();
        assert!(!partial.exists());
        assert_eq!(fs::read(&path).unwrap(), [1, 0, 2, 0]);
    }

    #[test]
    fn if_exists_rules() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.ulaw");
        fs::write(&path, [0xFFu8; 80]).unwrap();
        let err = RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Fail)
            .unwrap_err();
        assert!(matches!(err, MediaError::AlreadyExists(_)));
        // Overwrite replaces only at finish.
        let mut w =
            RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Overwrite)
                .unwrap();
        w.write_samples(&[1000; 160]).unwrap();
        assert_eq!(fs::read(&path).unwrap().len(), 80);
        let done = w.finish().unwrap();
        assert_eq!(done.duration_ms, 20);
        assert_eq!(fs::read(&path).unwrap().len(), 160);
        // Append adds to the end.
        let mut w =
            RecordingWriter::create(&path, Format::Ulaw, Rate::Narrow8k, IfExists::Append).unwrap();
        assert_eq!(w.duration_ms(), 20);
        w.write_samples(&[-1000; 80]).unwrap();
        let done = w.finish().unwrap();
        assert_eq!(done.duration_ms, 30);
        let bytes = fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 240);
        assert_eq!(bytes[0], crate::media::codec::linear_to_ulaw(1000));
        assert_eq!(bytes[239], crate::media::codec::linear_to_ulaw(-1000));
        assert_eq!(IfExists::parse("APPEND"), Some(IfExists::Append));
        assert_eq!(IfExists::parse("nope"), None);
    }

    #[test]
    fn wav_append_rewrites_the_header_and_keeps_the_rate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wav");
        let mut w =
            RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Fail).unwrap();
        w.write_samples(&[100; 800]).unwrap();
        w.finish().unwrap();
        // Asked for 16 kHz, but the file is 8 kHz: frames are converted to it.
        let mut w =
            RecordingWriter::create(&path, Format::Wav, Rate::Wide16k, IfExists::Append).unwrap();
        assert_eq!(w.rate(), Rate::Narrow8k);
        w.write_frame(&AudioFrame::silence(Rate::Wide16k)).unwrap();
        w.write_samples(&[200; 40]).unwrap();
        let done = w.finish().unwrap();
        assert_eq!(done.duration_ms, 125);
        let (audio, _) = read_file(&path).unwrap();
        assert_eq!(audio.samples.len(), 800 + 160 + 40);
        assert_eq!(audio.samples[0], 100);
        assert_eq!(audio.samples[999], 200);
    }

    #[test]
    fn wav_append_refuses_other_layouts() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stereo.wav");
        write_wav(&path, 8000, 2, 16, &[1, 2, 3, 4]);
        let err = RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Append)
            .unwrap_err();
        assert!(matches!(err, MediaError::CannotAppend { .. }), "{err}");
        assert!(!partial_path(&path).exists());
    }

    #[test]
    fn unwritable_directory_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = RecordingWriter::create(
            &blocker.join("rec.wav"),
            Format::Wav,
            Rate::Narrow8k,
            IfExists::Fail,
        )
        .unwrap_err();
        assert!(matches!(err, MediaError::Io { .. }));
    }

    #[test]
    fn raw_formats_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let samples = ramp(1600);
        for format in [Format::Sln, Format::Sln16, Format::Ulaw, Format::Alaw] {
            let path = dir.path().join(format!("r.{}", format.extension()));
            let mut w =
                RecordingWriter::create(&path, format, Rate::Narrow8k, IfExists::Fail).unwrap();
            w.write_samples(&samples).unwrap();
            w.finish().unwrap();
            let (audio, f) = read_file(&path).unwrap();
            assert_eq!(f, format);
            assert_eq!(Some(audio.rate), format.raw_rate());
            assert_eq!(audio.samples.len(), samples.len());
            let max_err = audio
                .samples
                .iter()
                .zip(&samples)
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .max()
                .unwrap();
            let bound = if format.raw_codec().unwrap().sample_bytes() == 2 {
                0
            } else {
                320
            };
            assert!(max_err <= bound, "{format}: {max_err}");
        }
    }

    #[test]
    fn raw_extensions_and_exact_durations() {
        let audio = decode_bytes(&[0xFF; 8000], Format::Ulaw).unwrap();
        assert_eq!(audio.duration_ms(), 1000);
        let audio = decode_bytes(&[0; 32001], Format::Sln16).unwrap();
        assert_eq!(audio.rate, Rate::Wide16k);
        assert_eq!(audio.duration_ms(), 1000);
        let audio = decode_bytes(&[0xD5; 4], Format::Alaw).unwrap();
        assert_eq!(&audio.samples[..], &[8, 8, 8, 8]);
        assert_eq!(decode_bytes(&[], Format::Sln).unwrap().duration_ms(), 0);
    }

    #[test]
    fn wav_of_other_layouts_is_converted() {
        let dir = tempfile::tempdir().unwrap();
        // Stereo 16 kHz: averaged.
        let p = dir.path().join("s.wav");
        write_wav(&p, 16000, 2, 16, &[1000, 3000, -1000, -3000]);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!(a.rate, Rate::Wide16k);
        assert_eq!(&a.samples[..], &[2000, -2000]);
        // 8-bit and 24-bit scaled to 16 bits.
        let p = dir.path().join("8.wav");
        write_wav(&p, 8000, 1, 8, &[64, -64]);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!(&a.samples[..], &[64 << 8, -64 << 8]);
        let p = dir.path().join("24.wav");
        write_wav(&p, 8000, 1, 24, &[0x10_0000, -0x10_0000]);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!(&a.samples[..], &[0x1000, -0x1000]);
        // 48 kHz: resampled to 16 kHz with the same duration.
        let p = dir.path().join("48k.wav");
        let tone: Vec<i32> = (0..48000)
            .map(|i| {
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 48000.0).sin()) as i32
            })
            .collect();
        write_wav(&p, 48000, 1, 16, &tone);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!(a.rate, Rate::Wide16k);
        assert_eq!(a.duration_ms(), 1000);
        let p440 = crate::media::detect::goertzel_power(&a.samples[1000..15000], 440.0, 16000);
        let p1000 = crate::media::detect::goertzel_power(&a.samples[1000..15000], 1000.0, 16000);
        assert!(p440 > 1000.0 * p1000);
        // 11025 Hz mono goes to 16 kHz; 6000 Hz to 8 kHz.
        let p = dir.path().join("11k.wav");
        write_wav(&p, 11025, 1, 16, &vec![500; 11025]);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!((a.rate, a.duration_ms()), (Rate::Wide16k, 1000));
        let p = dir.path().join("6k.wav");
        write_wav(&p, 6000, 1, 16, &vec![500; 6000]);
        let (a, _) = read_file(&p).unwrap();
        assert_eq!((a.rate, a.duration_ms()), (Rate::Narrow8k, 1000));
        assert!(a.samples.iter().all(|&s| s == 500));
    }

    #[test]
    fn float_wav_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.wav");
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 32,
            sample_format: hound::SampleFormat::Float,
        };
        let mut w = hound::WavWriter::create(&p, spec).unwrap();
        for s in [0.5f32, -0.5, 2.0, f32::NAN] {
            w.write_sample(s).unwrap();
        }
        w.finalize().unwrap();
        let (a, _) = read_file(&p).unwrap();
        assert_eq!(&a.samples[..], &[16384, -16384, 32767, 0]);
    }

    #[test]
    fn bad_wav_bytes_are_errors_not_panics() {
        assert!(decode_wav(b"").is_err());
        assert!(decode_wav(b"RIFF\x10\0\0\0WAVEfmt ").is_err());
        assert!(decode_wav(&[0xAB; 300]).is_err());
        // A valid header whose data is cut short yields what is there.
        let mut bytes = Vec::new();
        {
            let spec = hound::WavSpec {
                channels: 1,
                sample_rate: 8000,
                bits_per_sample: 16,
                sample_format: hound::SampleFormat::Int,
            };
            let mut w = hound::WavWriter::new(io::Cursor::new(&mut bytes), spec).unwrap();
            for s in 0..100i16 {
                w.write_sample(s).unwrap();
            }
            w.finalize().unwrap();
        }
        let cut = &bytes[..bytes.len() - 51];
        let a = decode_wav(cut).unwrap();
        assert_eq!(a.samples.len(), 74);
        // Every prefix is handled without panicking.
        for n in 0..bytes.len() {
            let _ = decode_wav(&bytes[..n]);
        }
        assert!(read_file(Path::new("/nonexistent/x.wav")).is_err());
        assert!(matches!(
            read_file(Path::new("x.gsm")),
            Err(MediaError::UnknownFormat(_))
        ));
    }

    #[test]
    fn player_frames_seek_and_skip() {
        let audio = DecodedAudio::new(Rate::Narrow8k, ramp(8000 + 40));
        let mut p = FramePlayer::new(audio.clone());
        assert_eq!(p.duration_ms(), 1005);
        let mut frames = 0;
        let mut last = None;
        while let Some(f) = p.next_frame() {
            frames += 1;
            last = Some(f);
        }
        assert_eq!(frames, 51);
        let last = last.unwrap();
        assert_eq!(&last.samples()[..40], &audio.samples[8000..]);
        assert!(last.samples()[40..].iter().all(|&s| s == 0));
        assert!(p.is_finished());
        p.restart();
        assert_eq!(p.position_ms(), 0);
        p.seek_ms(500);
        let f = p.next_frame().unwrap();
        assert_eq!(f.samples(), &audio.samples[4000..4160]);
        p.skip_ms(-3000);
        assert_eq!(p.position_ms(), 0);
        p.skip_ms(700);
        assert_eq!(p.position_ms(), 700);
        p.skip_ms(3000);
        assert!(p.is_finished());
        assert!(p.next_frame().is_none());
        p.seek_ms(u64::MAX);
        assert!(p.is_finished());
        p.skip_ms(i64::MIN);
        assert_eq!(p.position_ms(), 0);
        let mut reused = AudioFrame::silence(Rate::Wide16k);
        assert!(p.fill_frame(&mut reused));
        assert_eq!(reused.rate(), Rate::Narrow8k);
        // Conversion keeps the duration.
        let wide = audio.to_rate(Rate::Wide16k);
        assert_eq!(wide.duration_ms(), 1005);
    }

    #[test]
    fn safe_join_refuses_escapes() {
        let base = Path::new("/var/spool/asterisk/recording");
        assert_eq!(
            safe_join(base, "calls/today/msg1").unwrap(),
            base.join("calls/today/msg1")
        );
        assert!(safe_join(base, "a..b").is_ok());
        assert!(safe_join(base, ".hidden").is_ok());
        for bad in [
            "",
            "..",
            "../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "a//b",
            "a/",
            "./a",
            "a/./b",
            "a\0b",
        ] {
            assert!(
                matches!(
                    safe_join(base, bad),
                    Err(MediaError::InvalidRecordingName(_))
                ),
                "{bad:?} accepted"
            );
        }
        assert!(safe_join(base, &"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }

    #[test]
    fn stored_recordings_are_listed_and_found() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for rel in [
            "a.wav",
            "calls/b.ulaw",
            "calls/b.wav",
            "c.wav.partial",
            ".x.wav",
            "notes.txt",
        ] {
            let path = base.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, [0u8; 4]).unwrap();
        }
        let listed: Vec<(String, Format)> = list_recordings(base)
            .into_iter()
            .map(|s| (s.name, s.format))
            .collect();
        assert_eq!(
            listed,
            [
                ("a".to_owned(), Format::Wav),
                ("calls/b".to_owned(), Format::Wav),
                ("calls/b".to_owned(), Format::Ulaw),
            ]
        );
        let b = find_recording(base, "calls/b").unwrap().unwrap();
        assert_eq!(b.format, Format::Wav);
        assert_eq!(b.path, base.join("calls/b.wav"));
        assert!(find_recording(base, "c").unwrap().is_none());
        assert!(find_recording(base, "../a").is_err());
        assert!(list_recordings(&base.join("missing")).is_empty());
    }
}
