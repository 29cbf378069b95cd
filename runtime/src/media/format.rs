//! Sound and recording file formats, named as Asterisk names them: `wav` (16-bit PCM WAV),
//! `ulaw` and `alaw` (raw G.711), `sln` (raw 8 kHz 16-bit little-endian) and `sln16` (raw
//! 16 kHz). The format of a file is known from its extension.

use super::codec::Codec;
use super::frame::Rate;

/// A file format wari reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `wav`: PCM WAV; read with any channel count and rate (mixed to mono and converted
    /// to 8 or 16 kHz), written 16-bit mono.
    Wav,
    /// `ulaw`: raw G.711 µ-law, 8 kHz, one byte a sample.
    Ulaw,
    /// `alaw`: raw G.711 A-law, 8 kHz, one byte a sample.
    Alaw,
    /// `sln`: raw 16-bit little-endian linear, 8 kHz.
    Sln,
    /// `sln16`: raw 16-bit little-endian linear, 16 kHz.
    Sln16,
}

impl Format {
    /// Every format, in the order playback prefers them when a sound exists in several:
    /// WAV and 16 kHz first, then 8 kHz linear, then G.711.
    pub const PREFERENCE: [Format; 5] = [
        Format::Wav,
        Format::Sln16,
        Format::Sln,
        Format::Ulaw,
        Format::Alaw,
    ];

    /// The format's name as ARI shows it (`Sound.formats[].format`, `StoredRecording.format`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Wav => "wav",
            Format::Ulaw => "ulaw",
            Format::Alaw => "alaw",
            Format::Sln => "sln",
            Format::Sln16 => "sln16",
        }
    }

    /// The extension written for new files.
    pub fn extension(self) -> &'static str {
        self.name()
    }

    /// Every extension read as this format.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            Format::Wav => &["wav"],
            Format::Ulaw => &["ulaw", "ul", "pcm", "mu", "ulw"],
            Format::Alaw => &["alaw", "al", "alw"],
            Format::Sln => &["sln", "slin", "raw"],
            Format::Sln16 => &["sln16", "slin16"],
        }
    }

    /// The format of a file extension (without the dot; ASCII case ignored).
    pub fn from_extension(ext: &str) -> Option<Format> {
        Format::PREFERENCE
            .into_iter()
            .find(|f| f.extensions().iter().any(|e| e.eq_ignore_ascii_case(ext)))
    }

    /// Splits a file name such as `hello.ulaw` into its non-empty stem and the format of its
    /// extension; `None` when there is no stem or the extension is not a known format.
    pub fn split_file_name(file_name: &str) -> Option<(&str, Format)> {
        let (stem, ext) = file_name.rsplit_once('.')?;
        let format = Format::from_extension(ext)?;
        (!stem.is_empty()).then_some((stem, format))
    }

    /// The format a client names in `record?format=` or a sounds filter: a format name or
    /// any of its extensions (`slin` is accepted for `sln`).
    pub fn from_name(name: &str) -> Option<Format> {
        Format::from_extension(name.trim())
    }

    /// The format of a path, from its extension.
    pub fn of_path(path: &std::path::Path) -> Option<Format> {
        Format::from_extension(path.extension()?.to_str()?)
    }

    /// Sample rate of a raw format; `None` for WAV, whose header says.
    pub fn raw_rate(self) -> Option<Rate> {
        match self {
            Format::Wav => None,
            Format::Sln16 => Some(Rate::Wide16k),
            Format::Ulaw | Format::Alaw | Format::Sln => Some(Rate::Narrow8k),
        }
    }

    /// The codec of a raw format's bytes; `None` for WAV.
    pub fn raw_codec(self) -> Option<Codec> {
        match self {
            Format::Wav => None,
            Format::Ulaw => Some(Codec::Ulaw),
            Format::Alaw => Some(Codec::Alaw),
            Format::Sln => Some(Codec::Slin),
            Format::Sln16 => Some(Codec::Slin16),
        }
    }

    /// The `Content-Type` for downloading a file of this format
    /// (`GET /recordings/stored/{name}/file`): `audio/<extension>`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Wav => "audio/wav",
            Format::Ulaw => "audio/ulaw",
            Format::Alaw => "audio/alaw",
            Format::Sln => "audio/sln",
            Format::Sln16 => "audio/sln16",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn extensions_map_to_formats() {
        assert_eq!(Format::from_extension("wav"), Some(Format::Wav));
        assert_eq!(Format::from_extension("WAV"), Some(Format::Wav));
        for ext in ["ulaw", "ul", "pcm"] {
            assert_eq!(Format::from_extension(ext), Some(Format::Ulaw));
        }
        for ext in ["alaw", "al"] {
            assert_eq!(Format::from_extension(ext), Some(Format::Alaw));
        }
        assert_eq!(Format::from_extension("sln"), Some(Format::Sln));
        assert_eq!(Format::from_name("slin"), Some(Format::Sln));
        assert_eq!(Format::from_extension("sln16"), Some(Format::Sln16));
        assert_eq!(Format::from_extension("gsm"), None);
        assert_eq!(Format::from_extension("partial"), None);
        assert_eq!(
            Format::of_path(Path::new("a/b/digits/1.ul")),
            Some(Format::Ulaw)
        );
        assert_eq!(Format::of_path(Path::new("noext")), None);
    }

    #[test]
    fn file_names_split_into_stem_and_format() {
        assert_eq!(
            Format::split_file_name("hello.world.ULAW"),
            Some(("hello.world", Format::Ulaw))
        );
        assert_eq!(Format::split_file_name(".wav"), None);
        assert_eq!(Format::split_file_name("noext"), None);
        assert_eq!(Format::split_file_name("a.wav.partial"), None);
    }

    #[test]
    fn every_format_reads_its_own_extension() {
        for f in Format::PREFERENCE {
            assert_eq!(Format::from_extension(f.extension()), Some(f));
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::Sln16.raw_rate(), Some(Rate::Wide16k));
        assert_eq!(Format::Wav.raw_rate(), None);
        assert_eq!(Format::Wav.content_type(), "audio/wav");
        for format in [
            Format::Wav,
            Format::Ulaw,
            Format::Alaw,
            Format::Sln,
            Format::Sln16,
        ] {
            assert_eq!(
                format.content_type(),
                format!("audio/{}", format.extension())
            );
        }
    }
}
