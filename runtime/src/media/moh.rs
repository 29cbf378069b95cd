//! Music on hold: plays the files of a `musiconhold.conf` class
//! ([`crate::config::musiconhold_conf`]) one after the other, frame by frame, forever.
//!
//! Files are opened through the engine's `SourceOpener` when their turn comes (so they are
//! read and decoded off the media thread and shared between listeners, converted to the
//! listener's rate); a file that cannot be read, decodes badly or is empty is skipped with
//! a warning, and once every file of the class has failed in a row the player gives
//! silence. Opening a class fails with a typed error when it lists no file at all.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::engine::{Part, Source, SourceOpener};
use super::format::Format;
use super::frame::{AudioFrame, Rate};
use super::{MediaError, Result};
use crate::config::musiconhold_conf::{MohClass, MohConfig, MohSort, MohSource};

/// The playable files of a class, in the class's order (a `random` class is shuffled by
/// [`MohPlayer::open`], not here).
pub fn class_files(class: &MohClass) -> Vec<PathBuf> {
    match &class.source {
        MohSource::Playlist(entries) => entries
            .iter()
            .filter(|p| Format::of_path(p).is_some())
            .cloned()
            .collect(),
        MohSource::Directory(dir) => {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return Vec::new();
            };
            let mut files: Vec<PathBuf> = super::sounds::visible_entries(entries)
                .filter(|(path, _, meta)| meta.is_file() && Format::of_path(path).is_some())
                .map(|(path, _, _)| path)
                .collect();
            files.sort();
            files
        }
    }
}

/// A small xorshift generator for shuffling, seeded from the standard library's
/// per-process random hasher keys.
fn shuffle(files: &mut [PathBuf]) {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_usize(files.len());
    let mut state = hasher.finish() | 1;
    for i in (1..files.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        files.swap(i, j);
    }
}

/// Plays a class's files in a loop as 20 ms frames.
pub struct MohPlayer {
    class: String,
    files: Vec<PathBuf>,
    rate: Rate,
    opener: Arc<dyn SourceOpener>,
    index: usize,
    current: Option<Box<dyn Source>>,
    /// Frames the current file has given so far.
    played: usize,
    /// Files in a row that could not be opened, failed to decode, or were empty.
    failures: usize,
    /// Every file failed in a row: play silence.
    broken: bool,
}

impl std::fmt::Debug for MohPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MohPlayer")
            .field("class", &self.class)
            .field("files", &self.files)
            .field("index", &self.index)
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl MohPlayer {
    /// Starts the class named `name` (empty: `default`).
    pub fn open_named(
        config: &MohConfig,
        name: &str,
        rate: Rate,
        opener: Arc<dyn SourceOpener>,
    ) -> Result<Self> {
        let class = config
            .class(name)
            .ok_or_else(|| MediaError::UnknownMohClass(name.to_owned()))?;
        Self::open(class, rate, opener)
    }

    /// Starts a class at `rate`; its files are opened through `opener` when their turn
    /// comes (nothing is read here).
    pub fn open(class: &MohClass, rate: Rate, opener: Arc<dyn SourceOpener>) -> Result<Self> {
        let mut files = class_files(class);
        if class.sort == MohSort::Random {
            shuffle(&mut files);
        }
        if files.is_empty() {
            return Err(MediaError::NoMohFiles(class.name.clone()));
        }
        Ok(Self {
            class: class.name.clone(),
            files,
            rate,
            opener,
            index: 0,
            current: None,
            played: 0,
            failures: 0,
            broken: false,
        })
    }

    /// The name of the musiconhold.conf class being played.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The file playing now.
    pub fn current_file(&self) -> Option<&Path> {
        self.current
            .as_ref()
            .map(|_| self.files[self.index].as_path())
    }

    /// True when every file has failed in a row (the player then gives silence).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The next 20 ms: the current file, moving to the next one at its end.
    pub fn next_frame(&mut self) -> AudioFrame {
        while !self.broken {
            let source = match &mut self.current {
                Some(source) => source,
                None => {
                    let part = Part::File(self.files[self.index].clone());
                    match self.opener.open(&part, self.rate) {
                        Ok(source) => {
                            self.played = 0;
                            self.current.insert(source)
                        }
                        Err(error) => {
                            self.file_failed(&error.to_string());
                            continue;
                        }
                    }
                }
            };
            if let Some(frame) = source.next_frame() {
                self.played += 1;
                return frame;
            }
            match source.failure().map(ToString::to_string) {
                Some(error) => self.file_failed(&error),
                None if self.played == 0 => self.file_failed("the file is empty"),
                None => {
                    self.failures = 0;
                    self.next_file();
                }
            }
        }
        AudioFrame::silence(self.rate)
    }

    /// The current file could not be played (`why`): skipped, and once every file failed
    /// in a row the class is broken.
    fn file_failed(&mut self, why: &str) {
        let file = self.files[self.index].display();
        tracing::warn!(class = %self.class, %file, error = why, "music on hold file cannot be played; skipped");
        self.failures += 1;
        if self.failures >= self.files.len() {
            tracing::warn!(class = %self.class, "no music on hold file of the class can be played: silence");
            self.broken = true;
        }
        self.next_file();
    }

    fn next_file(&mut self) {
        self.current = None;
        self.index = (self.index + 1) % self.files.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;
    use crate::media::file::{IfExists, RecordingWriter};
    use crate::media::sources::FileOpener;

    /// An opener that decodes where it opens, so every frame is the file's.
    fn inline() -> Arc<dyn SourceOpener> {
        Arc::new(FileOpener::inline())
    }

    fn write_sln(path: &Path, value: i16, samples: usize) {
        let mut w = RecordingWriter::create(path, Format::Sln, Rate::Narrow8k, IfExists::Overwrite)
            .unwrap();
        w.write_samples(&vec![value; samples]).unwrap();
        w.finish().unwrap();
    }

    fn class(source: MohSource, sort: MohSort) -> MohClass {
        MohClass {
            name: "test".into(),
            source,
            sort,
            location: Location::file(Path::new("musiconhold.conf")),
        }
    }

    #[test]
    fn cycles_through_the_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        write_sln(&dir.path().join("b.sln"), 2, 160);
        write_sln(&dir.path().join("a.sln"), 1, 320);
        std::fs::write(dir.path().join("notes.txt"), "x").unwrap();
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, inline()).unwrap();
        let firsts: Vec<i16> = (0..7).map(|_| p.next_frame().samples()[0]).collect();
        assert_eq!(firsts, [1, 1, 2, 1, 1, 2, 1]);
        assert!(p.current_file().unwrap().ends_with("a.sln"));
    }

    #[test]
    fn converts_to_the_listener_rate() {
        let dir = tempfile::tempdir().unwrap();
        write_sln(&dir.path().join("a.sln"), 1000, 1600);
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Random);
        let mut p = MohPlayer::open(&c, Rate::Wide16k, inline()).unwrap();
        let f = p.next_frame();
        assert_eq!(f.rate(), Rate::Wide16k);
        assert_eq!(p.next_frame().samples()[100], 1000);
    }

    #[test]
    fn random_order_plays_every_file() {
        let dir = tempfile::tempdir().unwrap();
        for v in 1..=5 {
            write_sln(&dir.path().join(format!("{v}.sln")), v, 160);
        }
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Random);
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, inline()).unwrap();
        let mut seen: Vec<i16> = (0..5).map(|_| p.next_frame().samples()[0]).collect();
        seen.sort();
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn unusable_classes_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        assert!(matches!(
            MohPlayer::open(&empty, Rate::Narrow8k, inline()),
            Err(MediaError::NoMohFiles(_))
        ));
        let missing = class(
            MohSource::Directory(dir.path().join("nope")),
            MohSort::Alpha,
        );
        assert!(MohPlayer::open(&missing, Rate::Narrow8k, inline()).is_err());
        let config = MohConfig::default();
        assert!(matches!(
            MohPlayer::open_named(&config, "jazz", Rate::Narrow8k, inline()),
            Err(MediaError::UnknownMohClass(_))
        ));
    }

    #[test]
    fn a_class_of_only_unplayable_files_plays_silence() {
        // A WAV that is not one, and an empty raw file.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.wav"), b"not a wav").unwrap();
        std::fs::write(dir.path().join("empty.sln"), b"").unwrap();
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, inline()).unwrap();
        assert!(p.next_frame().is_silent());
        assert!(p.is_broken());
        assert!(p.next_frame().is_silent());
    }

    #[test]
    fn through_the_engine_opener_the_music_comes_once_decoded_off_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        write_sln(&dir.path().join("a.sln"), 5, 1600);
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        let opener: Arc<dyn SourceOpener> = Arc::new(FileOpener::default());
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, opener).unwrap();
        // Silence while the loader decodes, then the file (bounded: 10 s of frames).
        let heard = (0..500).find(|_| {
            let sample = p.next_frame().samples()[0];
            if sample == 0 {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            sample == 5
        });
        assert!(heard.is_some(), "the music never came");
        assert!(!p.is_broken());
    }

    #[test]
    fn bad_files_are_skipped_and_a_vanished_class_gives_silence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wav"), b"junk").unwrap();
        write_sln(&dir.path().join("b.sln"), 7, 160);
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, inline()).unwrap();
        assert_eq!(p.next_frame().samples()[0], 7);
        assert_eq!(p.next_frame().samples()[0], 7);
        std::fs::remove_file(dir.path().join("b.sln")).unwrap();
        assert!(p.next_frame().is_silent());
        assert!(p.is_broken());
        assert!(p.next_frame().is_silent());
    }

    #[test]
    fn playlists_play_their_entries() {
        let dir = tempfile::tempdir().unwrap();
        write_sln(&dir.path().join("x.sln"), 3, 160);
        write_sln(&dir.path().join("y.sln"), 4, 160);
        let c = class(
            MohSource::Playlist(vec![dir.path().join("y.sln"), dir.path().join("x.sln")]),
            MohSort::Alpha,
        );
        let mut p = MohPlayer::open(&c, Rate::Narrow8k, inline()).unwrap();
        let firsts: Vec<i16> = (0..3).map(|_| p.next_frame().samples()[0]).collect();
        assert_eq!(firsts, [4, 3, 4]);
    }
}
