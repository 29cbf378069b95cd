//! Media building blocks: audio frames, codecs, sound files, the sounds index, say rules,
//! tones, detectors, the bridge mixer, RTP packets and music on hold.
//!
//! Everything here is pure and self-contained (no channels, no timers, no ARI): the telephony
//! core drives these pieces once per 20 ms tick. Public parsers and readers take `&str` or
//! `&[u8]` and return a [`MediaError`] on bad input; none of them panics.

// TODO(issue 16): document after the engine rework lands
#![allow(missing_docs)]

pub mod codec;
pub mod detect;
pub(crate) mod engine;
pub(crate) mod external;
pub mod file;
pub mod format;
pub mod frame;
pub mod mixer;
pub mod moh;
pub(crate) mod recovery;
pub mod rtp;
pub mod rtp_stats;
pub(crate) mod say;
pub(crate) mod snoop;
pub mod sounds;
pub(crate) mod sources;
pub mod tone;
pub mod udp_io;

use std::path::PathBuf;

pub use file::{DecodedAudio, FramePlayer, IfExists, RecordingWriter};
pub use format::Format;
pub use frame::{AudioFrame, MediaFrame, Rate};

/// Why a media operation failed.
///
/// The ARI layer maps [`MediaError::InvalidRecordingName`] to 400 "Recording name invalid",
/// [`MediaError::UnknownFormat`] to 422 and [`MediaError::AlreadyExists`] to 409.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid WAV data: {0}")]
    Wav(String),
    #[error("unsupported WAV file: {0}")]
    UnsupportedWav(String),
    #[error("unknown media format '{0}'")]
    UnknownFormat(String),
    #[error("audio too long ({0} samples)")]
    TooLong(u64),
    #[error("file too large ({0} bytes)")]
    FileTooLarge(u64),
    #[error("recording name invalid: {0}")]
    InvalidRecordingName(&'static str),
    #[error("{0} already exists")]
    AlreadyExists(PathBuf),
    #[error("cannot append to {path}: {reason}")]
    CannotAppend { path: PathBuf, reason: String },
    #[error("a frame at {rate:?} needs {expected} samples, got {got}")]
    FrameSize {
        rate: Rate,
        expected: usize,
        got: usize,
    },
    #[error("not an integer: '{0}'")]
    NotANumber(String),
    #[error("invalid tone: {0}")]
    BadTone(String),
    #[error("unknown tone zone '{0}'")]
    UnknownToneZone(String),
    #[error("invalid RTP packet: {0}")]
    BadRtp(&'static str),
    #[error("music on hold class '{0}' does not exist")]
    UnknownMohClass(String),
    #[error("music on hold class '{0}' has no playable files")]
    NoMohFiles(String),
    /// A part of a media URI that cannot be played, and why (no such sound, ...).
    #[error("{0}")]
    NotPlayable(String),
    #[error("{path}: {waiting} files are already waiting to be read")]
    LoaderBusy { path: PathBuf, waiting: usize },
    #[error("{}: the decoder failed", .0.display())]
    DecoderFailed(PathBuf),
    #[error("the media loader thread has stopped")]
    LoaderStopped,
}

impl MediaError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        MediaError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of this module.
pub type Result<T, E = MediaError> = std::result::Result<T, E>;
