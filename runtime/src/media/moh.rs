//! Music on hold: plays the files of a `musiconhold.conf` class
//! ([`crate::config::musiconhold_conf`]) one after the other, frame by frame, forever.
//!
//! Files are decoded when their turn comes (one at a time, converted to the listener's
//! rate); a file that cannot be read is skipped with a warning. Opening a class fails with a
//! typed error when it has no playable file at all.

use std::path::{Path, PathBuf};

use super::file::{FramePlayer, read_file};
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
#[derive(Debug)]
pub struct MohPlayer {
    class: String,
    files: Vec<PathBuf>,
    rate: Rate,
    index: usize,
    current: Option<FramePlayer>,
    /// Every file failed in a row: play silence.
    broken: bool,
}

impl MohPlayer {
    /// Starts the class named `name` (empty: `default`).
    pub fn open_named(config: &MohConfig, name: &str, rate: Rate) -> Result<Self> {
        let class = config
            .class(name)
            .ok_or_else(|| MediaError::UnknownMohClass(name.to_owned()))?;
        Self::open(class, rate)
    }

    /// Starts a class at `rate`, loading its first playable file.
    pub fn open(class: &MohClass, rate: Rate) -> Result<Self> {
        let mut files = class_files(class);
        if class.sort == MohSort::Random {
            shuffle(&mut files);
        }
        if files.is_empty() {
            return Err(MediaError::NoMohFiles(class.name.clone()));
        }
        let mut player = Self {
            class: class.name.clone(),
            files,
            rate,
            index: 0,
            current: None,
            broken: false,
        };
        if !player.load_from(0) {
            return Err(MediaError::NoMohFiles(class.name.clone()));
        }
        Ok(player)
    }

    /// Loads the first playable file at or after `start` (wrapping); false if none is.
    fn load_from(&mut self, start: usize) -> bool {
        for step in 0..self.files.len() {
            let index = (start + step) % self.files.len();
            let file = &self.files[index];
            match read_file(file) {
                Ok((audio, _)) if !audio.samples.is_empty() => {
                    self.index = index;
                    self.current = Some(FramePlayer::new(audio.to_rate(self.rate)));
                    return true;
                }
                Ok(_) => {
                    tracing::warn!(class = %self.class, file = %file.display(), "music on hold file is empty; skipped")
                }
                // Decoding errors do not name the file, so the log line does.
                Err(e) => {
                    tracing::warn!(class = %self.class, file = %file.display(), error = %e, "music on hold file unreadable; skipped")
                }
            }
        }
        self.current = None;
        false
    }

    pub fn class(&self) -> &str {
        &self.class
    }

    /// The file playing now.
    pub fn current_file(&self) -> Option<&Path> {
        self.current
            .as_ref()
            .map(|_| self.files[self.index].as_path())
    }

    /// True when every file has become unreadable (the player then gives silence).
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The next 20 ms: the current file, moving to the next one at its end.
    pub fn next_frame(&mut self) -> AudioFrame {
        let mut frame = AudioFrame::silence(self.rate);
        self.fill_frame(&mut frame);
        frame
    }

    /// Writes the next 20 ms into `frame`.
    pub fn fill_frame(&mut self, frame: &mut AudioFrame) {
        if !self.broken {
            if let Some(player) = self.current.as_mut()
                && player.fill_frame(frame)
            {
                return;
            }
            let next = (self.index + 1) % self.files.len();
            if self.load_from(next)
                && let Some(player) = self.current.as_mut()
                && player.fill_frame(frame)
            {
                return;
            }
            self.broken = true;
        }
        frame.clear(self.rate);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;
    use crate::media::file::{IfExists, RecordingWriter};

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
        let mut p = MohPlayer::open(&c, Rate::Narrow8k).unwrap();
        let firsts: Vec<i16> = (0..7).map(|_| p.next_frame().samples()[0]).collect();
        assert_eq!(firsts, [1, 1, 2, 1, 1, 2, 1]);
        assert!(p.current_file().unwrap().ends_with("a.sln"));
    }

    #[test]
    fn converts_to_the_listener_rate() {
        let dir = tempfile::tempdir().unwrap();
        write_sln(&dir.path().join("a.sln"), 1000, 1600);
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Random);
        let mut p = MohPlayer::open(&c, Rate::Wide16k).unwrap();
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
        let mut p = MohPlayer::open(&c, Rate::Narrow8k).unwrap();
        let mut seen: Vec<i16> = (0..5).map(|_| p.next_frame().samples()[0]).collect();
        seen.sort();
        assert_eq!(seen, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn unusable_classes_are_typed_errors() {
        let dir = tempfile::tempdir().unwrap();
        let empty = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        assert!(matches!(
            MohPlayer::open(&empty, Rate::Narrow8k),
            Err(MediaError::NoMohFiles(_))
        ));
        let missing = class(
            MohSource::Directory(dir.path().join("nope")),
            MohSort::Alpha,
        );
        assert!(MohPlayer::open(&missing, Rate::Narrow8k).is_err());
        // Only unreadable files: a WAV that is not one, and an empty raw file.
        std::fs::write(dir.path().join("bad.wav"), b"not a wav").unwrap();
        std::fs::write(dir.path().join("empty.sln"), b"").unwrap();
        assert!(matches!(
            MohPlayer::open(&empty, Rate::Narrow8k),
            Err(MediaError::NoMohFiles(_))
        ));
        let config = MohConfig::default();
        assert!(matches!(
            MohPlayer::open_named(&config, "jazz", Rate::Narrow8k),
            Err(MediaError::UnknownMohClass(_))
        ));
    }

    #[test]
    fn bad_files_are_skipped_and_a_vanished_class_gives_silence() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wav"), b"junk").unwrap();
        write_sln(&dir.path().join("b.sln"), 7, 160);
        let c = class(MohSource::Directory(dir.path().into()), MohSort::Alpha);
        let mut p = MohPlayer::open(&c, Rate::Narrow8k).unwrap();
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
        let mut p = MohPlayer::open(&c, Rate::Narrow8k).unwrap();
        let firsts: Vec<i16> = (0..3).map(|_| p.next_frame().samples()[0]).collect();
        assert_eq!(firsts, [4, 3, 4]);
    }
}
