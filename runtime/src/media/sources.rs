//! The media engine's view of files: sound and recording files as [`Source`]s (decoded
//! once, converted to the leg's rate) and recording files as [`Sink`]s (the crash-safe
//! [`RecordingWriter`]).

use super::engine::{Part, Sink, Source, SourceOpener};
use super::file::{FramePlayer, RecordingWriter, read_file};
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

/// Opens files from disk and tones (`tone:` URIs without the scheme, in the `us` zone
/// unless `;tonezone=` says otherwise).
#[derive(Debug, Default)]
pub struct FileOpener;

impl SourceOpener for FileOpener {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, String> {
        match part {
            Part::File(path) => {
                let (audio, _format) = read_file(path).map_err(|e| e.to_string())?;
                Ok(Box::new(FramePlayer::new(audio.to_rate(rate))))
            }
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
    fn tones_play_at_their_frequencies_until_stopped() {
        let mut source = FileOpener
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
            FileOpener
                .open(&Part::Tone("nonsense!".into()), Rate::Narrow8k)
                .is_err()
        );
    }

    #[test]
    fn missing_files_and_parts_are_errors_not_panics() {
        let missing = FileOpener.open(&Part::File("/nonexistent/x.wav".into()), Rate::Narrow8k);
        assert!(missing.is_err());
        let part = FileOpener.open(&Part::Missing("gone".into()), Rate::Narrow8k);
        assert_eq!(part.err().as_deref(), Some("gone"));
    }
}
