//! Writing recordings crash-safely: to `<name>.<ext>.partial`, then flushed, fsynced and
//! renamed into place (see the parent module); appending to an existing recording.

use super::*;

/// What to do when a recording's file already exists (`ifExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfExists {
    /// Refuse to record (ARI 409 / [`MediaError::AlreadyExists`]); the default, as in ARI.
    #[default]
    Fail,
    /// Replace the existing file once the new recording is finished.
    Overwrite,
    /// Continue the existing file; a WAV must be 16-bit mono at 8 or 16 kHz, else
    /// [`MediaError::CannotAppend`].
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
    /// The final path the file was renamed to.
    pub path: PathBuf,
    /// The format the file is in.
    pub format: Format,
    /// The file's sample rate (for an appended WAV, the existing file's rate).
    pub rate: Rate,
    /// Length of the whole file in milliseconds, earlier appended-to audio included.
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

    /// The format being written (fixes the file's extension).
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
