//! Media building blocks: audio frames, codecs, sound files, the sounds index, say rules,
//! tones, detectors, the bridge mixer, RTP packets and music on hold.
//!
//! Everything here is pure and self-contained (no channels, no timers, no ARI): the telephony
//! core drives these pieces once per 20 ms tick. Public parsers and readers take `&str` or
//! `&[u8]` and return a [`MediaError`] on bad input; none of them panics.

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
    /// Reading or writing a media file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file the operation was on.
        path: PathBuf,
        /// What the operating system reported.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a well-formed WAV file (the text says what the reader tripped on).
    #[error("invalid WAV data: {0}")]
    Wav(String),
    /// A well-formed WAV file this reader does not play (not PCM, no channels, an odd
    /// sample size); the text names the feature.
    #[error("unsupported WAV file: {0}")]
    UnsupportedWav(String),
    /// A format name or file extension wari has no codec for, or a format that cannot be
    /// carried where it was asked for (over RTP).
    #[error("unknown media format '{0}'")]
    UnknownFormat(String),
    /// Decoded audio would hold more than [`file::MAX_SAMPLES`] samples (an hour at
    /// 16 kHz); the value is the sample count it would decode to.
    #[error("audio too long ({0} samples)")]
    TooLong(u64),
    /// A file larger than [`file::MAX_FILE_BYTES`]; the value is its size in bytes.
    #[error("file too large ({0} bytes)")]
    FileTooLarge(u64),
    /// A recording name that could leave the recordings directory or is malformed (empty,
    /// too long, absolute, NUL, `.` or `..` segments); the text says which rule it broke.
    #[error("recording name invalid: {0}")]
    InvalidRecordingName(&'static str),
    /// A recording asked to fail if it exists (`ifExists=fail`) whose file is there.
    #[error("{0} already exists")]
    AlreadyExists(PathBuf),
    /// `ifExists=append` on a WAV that cannot be continued (not 16-bit mono at 8 or
    /// 16 kHz, or a header the writer cannot open for appending).
    #[error("cannot append to {path}: {reason}")]
    CannotAppend {
        /// The existing file.
        path: PathBuf,
        /// Why it cannot be continued.
        reason: String,
    },
    /// A frame built from a sample count that is not one 20 ms frame at its rate.
    #[error("a frame at {rate:?} needs {expected} samples, got {got}")]
    FrameSize {
        /// The rate the frame was built at.
        rate: Rate,
        /// Samples in 20 ms at `rate`.
        expected: usize,
        /// Samples that were given.
        got: usize,
    },
    /// A say-number text that is not a whole number in range.
    #[error("not an integer: '{0}'")]
    NotANumber(String),
    /// A tone list (`480+620/500,0/500`) that does not parse or exceeds a limit of
    /// [`tone`], or a tone name its zone does not have.
    #[error("invalid tone: {0}")]
    BadTone(String),
    /// A tone zone (`tonezone=` of a `tone:` URI) wari has no tones for.
    #[error("unknown tone zone '{0}'")]
    UnknownToneZone(String),
    /// A datagram that is not an RTP packet wari reads; the text says what is wrong.
    #[error("invalid RTP packet: {0}")]
    BadRtp(&'static str),
    /// A music on hold class that musiconhold.conf does not define.
    #[error("music on hold class '{0}' does not exist")]
    UnknownMohClass(String),
    /// A music on hold class whose directory holds no file wari can play.
    #[error("music on hold class '{0}' has no playable files")]
    NoMohFiles(String),
    /// A part of a media URI that cannot be played, and why (no such sound, ...).
    #[error("{0}")]
    NotPlayable(String),
    /// The sound loader's queue is full, so the file is not read (retrying later may work).
    #[error("{path}: {waiting} files are already waiting to be read")]
    LoaderBusy {
        /// The file that was to be read.
        path: PathBuf,
        /// Files already queued, the queue's bound.
        waiting: usize,
    },
    /// Decoding the file panicked; the loader caught it and carries on with other files.
    #[error("{}: the decoder failed", .0.display())]
    DecoderFailed(PathBuf),
    /// The sound loader thread has ended, so no file can be read.
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
