//! The media engine's view of files: sound and recording files as [`Source`]s (decoded
//! once, converted to the leg's rate) and recording files as [`Sink`]s (the crash-safe
//! [`RecordingWriter`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use super::MediaError;
use super::engine::{Part, Sink, Source, SourceOpener};
use super::file::{DecodedAudio, FramePlayer, RecordingWriter, check_file_size, read_file};
use super::frame::{AudioFrame, Rate};
use super::tone::{ToneGenerator, ToneSpec};

impl Source for FramePlayer {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        FramePlayer::next_frame(self)
    }

    fn skip(&mut self, delta_ms: i64) {
        self.skip_ms(delta_ms);
    }

    fn restart(&mut self) {
        FramePlayer::restart(self);
    }
}

impl Sink for RecordingWriter {
    fn write(&mut self, frame: &AudioFrame) -> Result<(), MediaError> {
        self.write_frame(frame)
    }

    fn finish(self: Box<Self>) -> Result<(), MediaError> {
        RecordingWriter::finish(*self).map(|_| ())
    }

    fn cancel(self: Box<Self>) {
        if let Err(error) = RecordingWriter::cancel(*self) {
            tracing::warn!(%error, "could not remove a canceled recording's file");
        }
    }
}

impl Source for ToneGenerator {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        ToneGenerator::next_frame(self)
    }
}

/// Decoded audio kept for reuse, in samples (16 M samples: 32 MiB).
const CACHE_SAMPLES: usize = 16 * 1024 * 1024;

/// A decoded file, valid while the file on disk is unchanged.
#[derive(Debug)]
struct Cached {
    modified: Option<SystemTime>,
    len: u64,
    audio: DecodedAudio,
}

/// Files waiting for the loader thread at most (beyond them an open fails at once).
const LOADER_QUEUE: usize = 1024;

/// A decoded file's identity: its path and the rate it is converted to.
type Key = (PathBuf, Rate);

/// A file being decoded: filled once by the loader thread, read by every source that
/// waits for it.
type Slot = Arc<OnceLock<Result<DecodedAudio, Arc<MediaError>>>>;

/// The decoded files and those being decoded, under one lock so that a file is never
/// decoded twice at once.
#[derive(Debug, Default)]
struct Files {
    cache: HashMap<Key, Cached>,
    loading: HashMap<Key, Slot>,
}

impl Files {
    fn remember(&mut self, key: Key, modified: Option<SystemTime>, len: u64, audio: &DecodedAudio) {
        let held: usize = self.cache.values().map(|c| c.audio.samples.len()).sum();
        if held + audio.samples.len() > CACHE_SAMPLES {
            self.cache.clear();
        }
        if audio.samples.len() <= CACHE_SAMPLES {
            self.cache.insert(
                key,
                Cached {
                    modified,
                    len,
                    audio: audio.clone(),
                },
            );
        }
    }
}

/// One file for the loader thread to read and decode.
struct LoadJob {
    key: Key,
    modified: Option<SystemTime>,
    len: u64,
    slot: Slot,
}

/// Opens files from disk and tones (`tone:` URIs without the scheme, in the `us` zone
/// unless `;tonezone=` says otherwise).
///
/// Opening is asked for on the media thread, which must never wait for a disk: a file that
/// is not decoded yet is read and decoded by a loader thread of its own (one file at a
/// time, at most [`LOADER_QUEUE`] waiting), and its source plays silence until the audio
/// is there. Only the file's metadata is read on the media thread, so a missing or
/// oversized file still fails at once. Decoded files are cached (by path and rate, checked
/// against the file's size and modification time): a prompt that a thousand channels play
/// is read and decoded once, and sharing it costs a reference count (the samples are an
/// `Arc`). The cache holds at most [`CACHE_SAMPLES`] samples; when full it is emptied.
#[derive(Debug)]
pub struct FileOpener {
    files: Arc<Mutex<Files>>,
    /// The loader thread's queue; `None` when the thread could not be started (files are
    /// then decoded where they are opened).
    loader: Option<SyncSender<LoadJob>>,
}

impl Default for FileOpener {
    fn default() -> Self {
        let files = Arc::new(Mutex::new(Files::default()));
        let (jobs, queue) = sync_channel(LOADER_QUEUE);
        let shared = files.clone();
        let loader = std::thread::Builder::new()
            .name("wari-media-loader".into())
            .spawn(move || load_files(&queue, &shared));
        let loader = match loader {
            Ok(_) => Some(jobs),
            Err(error) => {
                tracing::warn!(%error, "no media loader thread: files are decoded on the media thread");
                None
            }
        };
        FileOpener { files, loader }
    }
}

/// The loader thread: decodes queued files until the opener is dropped.
fn load_files(queue: &Receiver<LoadJob>, files: &Mutex<Files>) {
    while let Ok(job) = queue.recv() {
        // A decoder bug must cost one file, not the loader (and with it every later file).
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode(&job.key)))
            .unwrap_or_else(|_| Err(MediaError::DecoderFailed(job.key.0.clone())));
        let audio = decoded.as_ref().ok().cloned();
        // The waiting sources first: once the file leaves `loading` it is done.
        let _ = job.slot.set(decoded.map_err(Arc::new));
        let mut files = files.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(audio) = &audio {
            files.remember(job.key.clone(), job.modified, job.len, audio);
        }
        files.loading.remove(&job.key);
    }
}

/// Reads and decodes a file, converted to the key's rate.
fn decode((path, rate): &Key) -> Result<DecodedAudio, MediaError> {
    let (audio, _format) = read_file(path)?;
    Ok(audio.to_rate(*rate))
}

impl FileOpener {
    /// A source for the file at `path`: at once when it is cached, else one that plays
    /// silence until the loader thread has decoded it.
    fn file_source(&self, path: &Path, rate: Rate) -> Result<Box<dyn Source>, MediaError> {
        let meta = std::fs::metadata(path).map_err(|e| MediaError::io(path, e))?;
        let (modified, len) = (meta.modified().ok(), meta.len());
        check_file_size(len)?;
        let key = (path.to_path_buf(), rate);
        let mut files = self.files();
        if let Some(hit) = files.cache.get(&key)
            && hit.modified == modified
            && hit.len == len
        {
            return Ok(Box::new(FramePlayer::new(hit.audio.clone())));
        }
        let Some(loader) = &self.loader else {
            drop(files);
            let audio = decode(&key)?;
            self.files().remember(key, modified, len, &audio);
            return Ok(Box::new(FramePlayer::new(audio)));
        };
        let slot = match files.loading.get(&key) {
            Some(slot) => slot.clone(),
            None => {
                let slot = Slot::default();
                let job = LoadJob {
                    key: key.clone(),
                    modified,
                    len,
                    slot: slot.clone(),
                };
                match loader.try_send(job) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        return Err(MediaError::LoaderBusy {
                            path: path.to_path_buf(),
                            waiting: LOADER_QUEUE,
                        });
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        return Err(MediaError::LoaderStopped);
                    }
                }
                files.loading.insert(key, slot.clone());
                slot
            }
        };
        Ok(Box::new(LoadingFile::new(slot, rate)))
    }

    /// The cache and the files being decoded. Nothing panics while holding the lock, so a
    /// poisoned lock still holds consistent data.
    fn files(&self) -> std::sync::MutexGuard<'_, Files> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An opener without a loader thread: files are decoded where they are opened, so a
    /// test sees a file's audio from its first frame.
    #[cfg(test)]
    pub(crate) fn inline() -> FileOpener {
        FileOpener {
            files: Arc::default(),
            loader: None,
        }
    }

    /// How many files are being read and decoded (for tests).
    #[cfg(test)]
    fn loading(&self) -> usize {
        self.files().loading.len()
    }
}

/// A file the loader thread is decoding: silence until its audio is there, then the file;
/// it ends with [`Source::failure`] set when the file could not be decoded. Skips asked
/// for before the audio is there are applied when it comes.
struct LoadingFile {
    slot: Slot,
    rate: Rate,
    player: Option<FramePlayer>,
    skip_ms: i64,
    failure: Option<Arc<MediaError>>,
}

impl LoadingFile {
    fn new(slot: Slot, rate: Rate) -> Self {
        LoadingFile {
            slot,
            rate,
            player: None,
            skip_ms: 0,
            failure: None,
        }
    }
}

impl Source for LoadingFile {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        if self.player.is_none() && self.failure.is_none() {
            match self.slot.get() {
                None => return Some(AudioFrame::silence(self.rate)),
                Some(Ok(audio)) => {
                    let mut player = FramePlayer::new(audio.clone());
                    player.skip_ms(self.skip_ms);
                    self.player = Some(player);
                }
                Some(Err(reason)) => self.failure = Some(reason.clone()),
            }
        }
        self.player.as_mut()?.next_frame()
    }

    fn skip(&mut self, delta_ms: i64) {
        match &mut self.player {
            Some(player) => player.skip_ms(delta_ms),
            None => self.skip_ms = self.skip_ms.saturating_add(delta_ms).max(0),
        }
    }

    fn restart(&mut self) {
        match &mut self.player {
            Some(player) => player.restart(),
            None => self.skip_ms = 0,
        }
    }

    fn failure(&self) -> Option<&MediaError> {
        self.failure.as_deref()
    }
}

impl SourceOpener for FileOpener {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, MediaError> {
        match part {
            Part::File(path) => self.file_source(path, rate),
            Part::Tone(spec) => {
                let spec = ToneSpec::from_uri(spec, "us")?;
                Ok(Box::new(ToneGenerator::new(spec, rate)))
            }
            Part::Missing(reason) => Err(MediaError::NotPlayable(reason.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::file::IfExists;
    use crate::media::format::Format;

    /// Waits (bounded) until `opener` has no file left to decode.
    fn loaded(opener: &FileOpener) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while opener.loading() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the loader never finished"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    /// Opens `part` at 8 kHz and waits until its file, if any, is decoded.
    fn opened(opener: &FileOpener, part: &Part) -> Box<dyn Source> {
        let source = opener.open(part, Rate::Narrow8k).expect("open");
        loaded(opener);
        source
    }

    /// Frames of one constant value each, written as a WAV file at `path`; returns them.
    fn write_frames(path: &Path, values: &[i16]) -> Vec<AudioFrame> {
        let mut writer =
            RecordingWriter::create(path, Format::Wav, Rate::Narrow8k, IfExists::Overwrite)
                .expect("writer");
        let frames: Vec<AudioFrame> = values
            .iter()
            .map(|&v| AudioFrame::from_samples(Rate::Narrow8k, &[v; 160]).expect("frame"))
            .collect();
        for frame in &frames {
            writer.write_frame(frame).expect("write");
        }
        writer.finish().expect("finish");
        frames
    }

    #[test]
    fn a_file_that_is_slow_to_read_does_not_hold_up_whoever_opens_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let frames = write_frames(&dir.path().join("real.wav"), &[11, 22, 33, 44]);
        let wav = std::fs::read(dir.path().join("real.wav")).expect("read");
        // A FIFO: reading it waits until something writes it, as a stalled disk would.
        let slow = dir.path().join("slow.wav");
        let made = std::process::Command::new("mkfifo")
            .arg(&slow)
            .status()
            .expect("run mkfifo");
        assert!(made.success(), "mkfifo");

        let opener = Arc::new(FileOpener::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let (opening, part) = (opener.clone(), Part::File(slow.clone()));
        std::thread::spawn(move || {
            let first = opening.open(&part, Rate::Narrow8k);
            let second = opening.open(&part, Rate::Narrow8k);
            let _ = tx.send((first, second));
        });
        let (first, second) = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("open returned without waiting for the file");
        let (mut first, mut second) = (first.expect("open"), second.expect("open again"));
        assert_eq!(opener.loading(), 1, "one decode for both");
        let silence = AudioFrame::silence(Rate::Narrow8k);
        assert_eq!(
            first.next_frame(),
            Some(silence.clone()),
            "silence meanwhile"
        );
        first.skip(40);

        std::fs::write(&slow, &wav).expect("write the FIFO");
        loaded(&opener);
        assert_eq!(
            first.next_frame().as_ref(),
            frames.get(2),
            "the skip applies"
        );
        let played: Vec<AudioFrame> = std::iter::from_fn(|| second.next_frame()).collect();
        assert_eq!(played, frames);
        assert!(second.failure().is_none());
    }

    #[test]
    fn a_file_that_cannot_be_decoded_ends_its_source_with_the_reason() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("junk.wav");
        std::fs::write(&path, b"this is no RIFF file").expect("write");
        let opener = FileOpener::default();
        let mut source = opened(&opener, &Part::File(path));
        assert_eq!(source.next_frame(), None);
        assert!(source.failure().is_some_and(|r| !r.to_string().is_empty()));
    }

    #[test]
    fn a_recorded_file_plays_back_frame_for_frame() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("take.wav");
        let mut writer: Box<dyn Sink> = Box::new(
            RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Fail)
                .expect("writer"),
        );
        let frames: Vec<AudioFrame> = (0..5i16)
            .map(|n| AudioFrame::from_samples(Rate::Narrow8k, &[n * 100 + 1; 160]).expect("frame"))
            .collect();
        for frame in &frames {
            writer.write(frame).expect("write");
        }
        writer.finish().expect("finish");
        let opener = FileOpener::default();
        let mut source = opened(&opener, &Part::File(path));
        let played: Vec<AudioFrame> = std::iter::from_fn(|| source.next_frame()).collect();
        assert_eq!(played, frames);
        source.restart();
        source.skip(40);
        assert_eq!(source.next_frame().as_ref(), frames.get(2));
    }

    #[test]
    fn tones_play_at_their_frequencies_until_stopped() {
        let mut source = FileOpener::default()
            .open(&Part::Tone("busy".into()), Rate::Narrow8k)
            .expect("busy tone");
        let frame = source.next_frame().expect("a frame");
        let at = |hz| crate::media::detect::goertzel_power(frame.samples(), hz, 8000);
        assert!(at(480.0) > 100.0 * at(1000.0), "US busy is 480+620 Hz");
        assert!(at(620.0) > 100.0 * at(1000.0));
        assert!(
            (0..500).all(|_| source.next_frame().is_some()),
            "a tone does not end"
        );
        assert!(
            FileOpener::default()
                .open(&Part::Tone("nonsense!".into()), Rate::Narrow8k)
                .is_err()
        );
    }

    #[test]
    fn a_cached_file_is_decoded_again_once_it_changes_on_disk() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("prompt.wav");
        let opener = FileOpener::default();
        let first = |opener: &FileOpener| {
            let mut source = opened(opener, &Part::File(path.clone()));
            source.next_frame().expect("a frame").samples()[0]
        };
        write_frames(&path, &[7, 7]);
        assert_eq!(first(&opener), 7);
        let mut cached = opener
            .open(&Part::File(path.clone()), Rate::Narrow8k)
            .expect("open");
        assert_eq!(
            opener.loading(),
            0,
            "served from the cache: nothing to decode"
        );
        assert_eq!(cached.next_frame().expect("a frame").samples()[0], 7);
        write_frames(&path, &[9, 9, 9]);
        assert_eq!(first(&opener), 9, "a changed file is read again");
    }

    #[test]
    fn missing_files_and_parts_are_errors_not_panics() {
        let missing =
            FileOpener::default().open(&Part::File("/nonexistent/x.wav".into()), Rate::Narrow8k);
        assert!(missing.is_err());
        let part = FileOpener::default().open(&Part::Missing("gone".into()), Rate::Narrow8k);
        assert_eq!(part.err().map(|e| e.to_string()).as_deref(), Some("gone"));
    }
}
