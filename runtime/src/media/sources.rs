//! The media engine's view of files: sound and recording files as [`Source`]s (decoded
//! once, converted to the leg's rate) and recording files as [`Sink`]s (the crash-safe
//! [`RecordingWriter`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

use super::engine::{Part, Sink, Source, SourceOpener};
use super::file::{DecodedAudio, FramePlayer, RecordingWriter, read_file};
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
    fn write(&mut self, frame: &AudioFrame) -> Result<(), String> {
        self.write_frame(frame).map_err(|e| e.to_string())
    }

    fn finish(self: Box<Self>) -> Result<(), String> {
        RecordingWriter::finish(*self)
            .map(|_| ())
            .map_err(|e| e.to_string())
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

/// Opens files from disk and tones (`tone:` URIs without the scheme, in the `us` zone
/// unless `;tonezone=` says otherwise).
///
/// Opening runs on the media thread, so decoded files are cached (by path and rate, checked
/// against the file's size and modification time): a prompt that a thousand channels play
/// is read and decoded once, and sharing it costs a reference count (the samples are an
/// `Arc`). The cache holds at most [`CACHE_SAMPLES`] samples; when full it is emptied.
#[derive(Debug, Default)]
pub struct FileOpener {
    cache: Mutex<HashMap<(PathBuf, Rate), Cached>>,
}

impl FileOpener {
    fn decoded(&self, path: &std::path::Path, rate: Rate) -> Result<DecodedAudio, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (modified, len) = (meta.modified().ok(), meta.len());
        let key = (path.to_path_buf(), rate);
        if let Ok(cache) = self.cache.lock()
            && let Some(hit) = cache.get(&key)
            && hit.modified == modified
            && hit.len == len
        {
            return Ok(hit.audio.clone());
        }
        let (audio, _format) = read_file(path).map_err(|e| e.to_string())?;
        let audio = audio.to_rate(rate);
        if let Ok(mut cache) = self.cache.lock() {
            let held: usize = cache.values().map(|c| c.audio.samples.len()).sum();
            if held + audio.samples.len() > CACHE_SAMPLES {
                cache.clear();
            }
            if audio.samples.len() <= CACHE_SAMPLES {
                cache.insert(
                    key,
                    Cached {
                        modified,
                        len,
                        audio: audio.clone(),
                    },
                );
            }
        }
        Ok(audio)
    }
}

impl SourceOpener for FileOpener {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, String> {
        match part {
            Part::File(path) => Ok(Box::new(FramePlayer::new(self.decoded(path, rate)?))),
            Part::Tone(spec) => {
                let spec = ToneSpec::from_uri(spec, "us").map_err(|e| e.to_string())?;
                Ok(Box::new(ToneGenerator::new(spec, rate)))
            }
            Part::Missing(reason) => Err(reason.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::file::IfExists;
    use crate::media::format::Format;

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
        let mut source = FileOpener::default()
            .open(&Part::File(path), Rate::Narrow8k)
            .expect("open");
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
        let write = |value: i16, frames: usize| {
            let mut writer =
                RecordingWriter::create(&path, Format::Wav, Rate::Narrow8k, IfExists::Overwrite)
                    .expect("writer");
            for _ in 0..frames {
                let frame = AudioFrame::from_samples(Rate::Narrow8k, &[value; 160]).expect("frame");
                writer.write_frame(&frame).expect("write");
            }
            writer.finish().expect("finish");
        };
        let opener = FileOpener::default();
        let first = |opener: &FileOpener| {
            let mut source = opener
                .open(&Part::File(path.clone()), Rate::Narrow8k)
                .expect("open");
            source.next_frame().expect("a frame").samples()[0]
        };
        write(7, 2);
        assert_eq!(first(&opener), 7);
        assert_eq!(first(&opener), 7, "served again (from the cache)");
        write(9, 3);
        assert_eq!(first(&opener), 9, "a changed file is read again");
    }

    #[test]
    fn missing_files_and_parts_are_errors_not_panics() {
        let missing =
            FileOpener::default().open(&Part::File("/nonexistent/x.wav".into()), Rate::Narrow8k);
        assert!(missing.is_err());
        let part = FileOpener::default().open(&Part::Missing("gone".into()), Rate::Narrow8k);
        assert_eq!(part.err().as_deref(), Some("gone"));
    }
}
