//! Start-up repair of the recordings directory after a crash.
//!
//! A recording is written to `<name>.<ext>.partial` and renamed when it ends
//! ([`super::file`]); a crash leaves the `.partial`. Its audio is all there, but a WAV
//! file's header still has the sizes it had when it was opened (zero). At start-up every
//! such file is repaired and stored under its name, when that can be done without guessing:
//!
//! - a WAV file whose header is readable up to its `data` chunk gets the sizes its length
//!   gives (whole sample frames; a torn last frame is cut off);
//! - a raw file (`sln`, `ulaw` ...) is cut to whole samples;
//! - anything else (not a WAV, no `data` chunk, an unknown extension), and a partial whose
//!   name a complete recording already has (that recording wins), is removed.
//!
//! The hidden temporary files of a recording copy a crash interrupted
//! (`.<name>.<uuid>.copy`) are removed. Each file repaired or removed is logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::file::{COPY_SUFFIX, PARTIAL_SUFFIX};
use super::format::Format;

/// How deep the walk goes into subdirectories (as deep as the listing of recordings).
const MAX_DEPTH: usize = 16;

/// How much of a WAV file's start is read to find its `data` chunk.
const HEADER_READ: u64 = 4096;

/// What start-up did with one leftover file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Repaired and stored under this path, holding this many bytes of audio.
    Repaired { path: PathBuf, audio_bytes: u64 },
    /// Removed, for this reason.
    Removed { reason: &'static str },
}

/// Repairs or removes every leftover file under `dir` (see the module header) and logs
/// each. Returns what was done, file by file. A missing `dir` has nothing to repair.
pub(crate) fn recover(dir: &Path) -> Vec<(PathBuf, Outcome)> {
    let mut leftovers = Vec::new();
    walk(dir, 0, &mut leftovers);
    leftovers.sort();
    let mut done = Vec::new();
    for path in leftovers {
        let outcome = recover_one(&path);
        match &outcome {
            Outcome::Repaired {
                path: stored,
                audio_bytes,
            } => tracing::warn!(
                partial = %path.display(),
                stored = %stored.display(),
                audio_bytes,
                "recording cut short by a crash: repaired and stored"
            ),
            Outcome::Removed { reason } => tracing::warn!(
                file = %path.display(),
                reason,
                "leftover recording file removed"
            ),
        }
        done.push((path, outcome));
    }
    done
}

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if kind.is_dir() {
            walk(&path, depth + 1, out);
        } else if kind.is_file() && (name.ends_with(PARTIAL_SUFFIX) || name.ends_with(COPY_SUFFIX))
        {
            out.push(path);
        }
    }
}

fn recover_one(path: &Path) -> Outcome {
    let removed = |reason| {
        if let Err(error) = fs::remove_file(path) {
            tracing::warn!(file = %path.display(), %error, "cannot remove a leftover recording file");
        }
        Outcome::Removed { reason }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(final_name) = name.strip_suffix(PARTIAL_SUFFIX) else {
        return removed("an interrupted copy");
    };
    let Some((stem, format)) = Format::split_file_name(final_name) else {
        return removed("not a recording format");
    };
    let stored = path.with_file_name(final_name);
    let taken = path
        .parent()
        .is_some_and(|dir| matches!(super::file::find_recording(dir, stem), Ok(Some(_))));
    if taken || stored.exists() {
        return removed("a complete recording has its name");
    }
    let repaired = match format.raw_codec() {
        Some(codec) => cut_to_whole(path, codec.sample_bytes() as u64, 0).map(Some),
        None => repair_wav(path),
    };
    match repaired {
        Ok(Some(audio_bytes)) => match fs::rename(path, &stored) {
            Ok(()) => Outcome::Repaired {
                path: stored,
                audio_bytes,
            },
            Err(_) => removed("cannot be stored under its name"),
        },
        Ok(None) => removed("not a WAV file with a readable header"),
        Err(_) => removed("cannot be read or repaired"),
    }
}

/// Cuts the file after `start` to whole units of `unit` bytes; the audio bytes kept.
fn cut_to_whole(path: &Path, unit: u64, start: u64) -> io::Result<u64> {
    let file = OpenOptions::new().write(true).open(path)?;
    let len = file.metadata()?.len();
    let audio = len.saturating_sub(start) / unit.max(1) * unit.max(1);
    file.set_len(start + audio)?;
    file.sync_all()?;
    Ok(audio)
}

/// Where a WAV file's audio starts and how big one sample frame is; `None` when the
/// header is not that of a PCM WAV file up to its `data` chunk.
fn wav_layout(head: &[u8]) -> Option<(u64, u64)> {
    let u32_at = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?))
    };
    let u16_at = |at: usize| -> Option<u16> {
        Some(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?))
    };
    if head.get(0..4)? != b"RIFF" || head.get(8..12)? != b"WAVE" {
        return None;
    }
    let mut at = 12usize;
    let mut frame = None;
    loop {
        let id = head.get(at..at + 4)?;
        let size = u32_at(at + 4)?;
        let body = at + 8;
        match id {
            b"fmt " => {
                let channels = u16_at(body + 2)?;
                let block_align = u16_at(body + 12)?;
                let bits = u16_at(body + 14)?;
                if channels == 0 || block_align == 0 || bits == 0 {
                    return None;
                }
                frame = Some(u64::from(block_align));
            }
            b"data" => return Some((u64::try_from(body).ok()?, frame?)),
            _ => {}
        }
        // Chunks are padded to an even length.
        let size = usize::try_from(size).ok()?;
        at = body.checked_add(size)?.checked_add(size % 2)?;
    }
}

/// Rewrites the RIFF and `data` sizes of a WAV file from its length; the audio bytes kept.
fn repair_wav(path: &Path) -> io::Result<Option<u64>> {
    let mut head = Vec::new();
    File::open(path)?.take(HEADER_READ).read_to_end(&mut head)?;
    let Some((data_at, frame)) = wav_layout(&head) else {
        return Ok(None);
    };
    let audio = cut_to_whole(path, frame, data_at)?;
    let (Ok(riff), Ok(data)) = (u32::try_from(data_at + audio - 8), u32::try_from(audio)) else {
        return Ok(None);
    };
    let mut file = OpenOptions::new().write(true).open(path)?;
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&riff.to_le_bytes())?;
    file.seek(SeekFrom::Start(data_at - 4))?;
    file.write_all(&data.to_le_bytes())?;
    file.sync_all()?;
    Ok(Some(audio))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav_bytes(samples: &[i16]) -> Vec<u8> {
        let mut out = io::Cursor::new(Vec::new());
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut writer = hound::WavWriter::new(&mut out, spec).expect("writer");
        for s in samples {
            writer.write_sample(*s).expect("sample");
        }
        writer.finalize().expect("finalize");
        out.into_inner()
    }

    #[test]
    fn a_zeroed_wav_header_is_rewritten_from_the_length_and_a_torn_frame_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let samples: Vec<i16> = (0..800).map(|i| i as i16 - 400).collect();
        let mut bytes = wav_bytes(&samples);
        bytes[4..8].copy_from_slice(&[0; 4]);
        bytes[40..44].copy_from_slice(&[0; 4]);
        bytes.push(7); // half a sample
        fs::write(dir.path().join("cut.wav.partial"), &bytes).expect("write");
        fs::write(dir.path().join("junk.wav.partial"), b"not a wav").expect("write");
        fs::write(dir.path().join("raw.sln.partial"), [1u8, 2, 3]).expect("write");
        fs::write(dir.path().join(".x.wav.abc.copy"), b"half a copy").expect("write");
        let done = recover(dir.path());
        assert_eq!(done.len(), 4, "{done:?}");
        let mut reader = hound::WavReader::open(dir.path().join("cut.wav")).expect("valid WAV");
        let read: Vec<i16> = reader
            .samples::<i16>()
            .map(|s| s.expect("sample"))
            .collect();
        assert_eq!(read, samples);
        assert_eq!(fs::read(dir.path().join("raw.sln")).expect("raw"), [1, 2]);
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["cut.wav", "raw.sln"]);
    }

    #[test]
    fn a_partial_whose_name_is_taken_is_removed_and_the_complete_recording_kept() {
        let dir = tempfile::tempdir().expect("dir");
        fs::write(dir.path().join("kept.wav"), wav_bytes(&[1, 2, 3])).expect("write");
        fs::write(dir.path().join("kept.sln.partial"), [0u8; 8]).expect("write");
        let done = recover(dir.path());
        assert!(matches!(done[0].1, Outcome::Removed { .. }), "{done:?}");
        assert!(dir.path().join("kept.wav").exists());
        assert!(!dir.path().join("kept.sln").exists());
    }

    #[test]
    fn headers_that_lead_nowhere_are_not_wav_layouts() {
        assert_eq!(wav_layout(b""), None);
        assert_eq!(wav_layout(b"RIFF\0\0\0\0WAVEdata"), None);
        let mut looping = b"RIFF\0\0\0\0WAVE".to_vec();
        looping.extend_from_slice(b"LIST\xff\xff\xff\xff");
        assert_eq!(wav_layout(&looping), None);
    }
}
