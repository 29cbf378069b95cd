//! The media engine's view of files: sound and recording files as [`Source`]s (decoded
//! once, converted to the leg's rate) and recording files as [`Sink`]s (the crash-safe
//! [`RecordingWriter`]).

use super::engine::{Part, Sink, Source, SourceOpener};
use super::file::{FramePlayer, RecordingWriter, read_file};
use super::frame::{AudioFrame, Rate};

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

/// Opens files from disk; tones are not supported by this opener.
#[derive(Debug, Default)]
pub struct FileOpener;

impl SourceOpener for FileOpener {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, String> {
        match part {
            Part::File(path) => {
                let (audio, _format) = read_file(path).map_err(|e| e.to_string())?;
                Ok(Box::new(FramePlayer::new(audio.to_rate(rate))))
            }
            Part::Tone(spec) => Err(format!("tone '{spec}' cannot be played here")),
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
        let mut source = FileOpener
            .open(&Part::File(path), Rate::Narrow8k)
            .expect("open");
        let played: Vec<AudioFrame> = std::iter::from_fn(|| source.next_frame()).collect();
        assert_eq!(played, frames);
        source.restart();
        source.skip(40);
        assert_eq!(source.next_frame().as_ref(), frames.get(2));
    }

    #[test]
    fn missing_files_and_parts_are_errors_not_panics() {
        let missing = FileOpener.open(&Part::File("/nonexistent/x.wav".into()), Rate::Narrow8k);
        assert!(missing.is_err());
        let part = FileOpener.open(&Part::Missing("gone".into()), Rate::Narrow8k);
        assert_eq!(part.err().as_deref(), Some("gone"));
    }
}
