//! The sounds index behind `/ari/sounds` and `sound:` playback.
//!
//! A sounds directory is laid out as Asterisk lays it out: `<dir>/<lang>/<name>.<ext>`,
//! where `<name>` may contain `/` (`digits/1`, `letters/a`); files directly under `<dir>`
//! count as language `en`. Debian's `asterisk-core-sounds-en-wav` installs its files under
//! `/usr/share/asterisk/sounds/en_US_f_Allison/` and `asterisk-core-sounds-en` points the
//! `en` and `en_US` links there (update-alternatives), so the same sounds show up under
//! each of those language names; symbolic links are followed.
//!
//! Formats are shown as Asterisk 23.4.1 shows them, by codec: `.wav` and `.sln` files are
//! `slin`, `.sln16` `slin16`, `.ulaw` `ulaw`, `.alaw` `alaw`. Files in formats Asterisk
//! lists but wari cannot decode (`gsm`, `g722`, `g729`, `ilbc`) are listed too, as the
//! reference lists Debian's `.gsm` prompts, but never chosen for playback: a sound that
//! exists only in such a format fails to play. The index is built once
//! ([`SoundIndex::scan`]); scan again to pick up new files.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::format::Format;
use super::{MediaError, Result};

/// Language of files directly under the sounds directory, and the fallback language.
pub const DEFAULT_LANGUAGE: &str = "en";
/// Deepest directory nesting followed (guards against symbolic-link loops).
const MAX_DEPTH: usize = 8;
/// Most files indexed.
const MAX_FILES: usize = 500_000;

/// ARI `FormatLangPair`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct FormatLangPair {
    /// The first-level directory the file is under (`en`, `fr`, `en_US_f_Allison`);
    /// [`DEFAULT_LANGUAGE`] for files directly in the sounds directory.
    pub language: String,
    /// The codec as Asterisk 23.4.1 names it (`slin` for `.wav` and `.sln`, `slin16`,
    /// `ulaw`, `alaw`, or a listed-only one such as `gsm`), from the file's extension.
    pub format: String,
}

/// ARI `Sound`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sound {
    /// The sound's name, its path below the language directory without extension
    /// (`digits/1`).
    pub id: String,
    /// Description; wari has none to offer, so, as Asterisk without one, it is left out.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text: String,
    /// Every language and format the sound exists in, sorted.
    pub formats: Vec<FormatLangPair>,
}

/// The format of a sound file: one wari plays, or one it only lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SoundFormat {
    Playable(Format),
    /// Listed under this codec name; never played.
    Listed(&'static str),
}

/// Extensions of formats Asterisk lists that wari cannot decode, with their codec names.
const LISTED_ONLY: [(&str, &str); 4] = [
    ("gsm", "gsm"),
    ("g722", "g722"),
    ("g729", "g729"),
    ("ilbc", "ilbc"),
];

impl SoundFormat {
    /// The format of a file name's extension and the stem; `None` for other files.
    fn split(file_name: &str) -> Option<(&str, SoundFormat)> {
        if let Some((stem, format)) = Format::split_file_name(file_name) {
            return Some((stem, SoundFormat::Playable(format)));
        }
        let (stem, ext) = file_name.rsplit_once('.')?;
        let (_, codec) = LISTED_ONLY
            .iter()
            .find(|(e, _)| e.eq_ignore_ascii_case(ext))?;
        (!stem.is_empty()).then_some((stem, SoundFormat::Listed(codec)))
    }

    /// The name ARI shows: the codec, as Asterisk 23.4.1 names it.
    fn codec(self) -> &'static str {
        match self {
            SoundFormat::Playable(Format::Wav | Format::Sln) => "slin",
            SoundFormat::Playable(Format::Sln16) => "slin16",
            SoundFormat::Playable(Format::Ulaw) => "ulaw",
            SoundFormat::Playable(Format::Alaw) => "alaw",
            SoundFormat::Listed(codec) => codec,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Variant {
    language: String,
    format: SoundFormat,
    path: PathBuf,
}

/// Sounds by name, language and format.
#[derive(Debug, Clone, Default)]
pub struct SoundIndex {
    dir: PathBuf,
    sounds: BTreeMap<String, Vec<Variant>>,
}

/// The entries of a directory listing worth indexing: UTF-8 names not starting with `.`,
/// with their metadata. `fs::metadata` follows symbolic links (the `en` alternative is
/// one); entries whose name or metadata cannot be read are skipped. Music-on-hold
/// directories are listed the same way.
pub(super) fn visible_entries(
    entries: fs::ReadDir,
) -> impl Iterator<Item = (PathBuf, String, fs::Metadata)> {
    entries.flatten().filter_map(|entry| {
        let file_name = entry.file_name().to_str()?.to_owned();
        if file_name.starts_with('.') {
            return None;
        }
        let path = entry.path();
        let meta = fs::metadata(&path).ok()?;
        Some((path, file_name, meta))
    })
}

impl SoundIndex {
    /// An index with no sounds.
    pub fn empty(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            sounds: BTreeMap::new(),
        }
    }

    /// Indexes `dir`. A missing or unreadable top directory is an error; unreadable entries
    /// below it are skipped.
    pub fn scan(dir: &Path) -> Result<Self> {
        let entries = fs::read_dir(dir).map_err(|e| MediaError::io(dir, e))?;
        let mut index = Self::empty(dir);
        let mut count = 0usize;
        for (path, file_name, meta) in visible_entries(entries) {
            if meta.is_dir() {
                let mut ancestors = Vec::new();
                index.walk(&path, &file_name, "", &mut ancestors, &mut count);
            } else if meta.is_file() {
                index.add(DEFAULT_LANGUAGE, "", &file_name, path, &mut count);
            }
        }
        for variants in index.sounds.values_mut() {
            variants.sort_by(|a, b| {
                (a.language.as_str(), a.format).cmp(&(b.language.as_str(), b.format))
            });
            variants.dedup_by(|a, b| a.language == b.language && a.format == b.format);
        }
        Ok(index)
    }

    /// Indexes `dir` under `language`; `ancestors` are the real paths of the directories
    /// being walked, so a symbolic link back to one of them is not followed.
    fn walk(
        &mut self,
        dir: &Path,
        language: &str,
        prefix: &str,
        ancestors: &mut Vec<PathBuf>,
        count: &mut usize,
    ) {
        if ancestors.len() >= MAX_DEPTH {
            return;
        }
        let Ok(real) = fs::canonicalize(dir) else {
            return;
        };
        if ancestors.contains(&real) {
            return;
        }
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        ancestors.push(real);
        for (path, file_name, meta) in visible_entries(entries) {
            if meta.is_dir() {
                let prefix = format!("{prefix}{file_name}/");
                self.walk(&path, language, &prefix, ancestors, count);
            } else if meta.is_file() {
                self.add(language, prefix, &file_name, path, count);
            }
        }
        ancestors.pop();
    }

    fn add(
        &mut self,
        language: &str,
        prefix: &str,
        file_name: &str,
        path: PathBuf,
        count: &mut usize,
    ) {
        if *count >= MAX_FILES {
            return;
        }
        let Some((stem, format)) = SoundFormat::split(file_name) else {
            return;
        };
        *count += 1;
        self.sounds
            .entry(format!("{prefix}{stem}"))
            .or_default()
            .push(Variant {
                language: language.to_owned(),
                format,
                path,
            });
    }

    /// The indexed directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of sound names.
    pub fn len(&self) -> usize {
        self.sounds.len()
    }

    /// True when no sound was found.
    pub fn is_empty(&self) -> bool {
        self.sounds.is_empty()
    }

    fn model(
        id: &str,
        variants: &[Variant],
        lang: Option<&str>,
        format: Option<&str>,
    ) -> Option<Sound> {
        let mut formats: Vec<FormatLangPair> = variants
            .iter()
            .filter(|v| lang.is_none_or(|l| v.language == l))
            .filter(|v| format.is_none_or(|f| v.format.codec() == f))
            .map(|v| FormatLangPair {
                language: v.language.clone(),
                format: v.format.codec().to_owned(),
            })
            .collect();
        // By language, then codec; `.wav` and `.sln` are both `slin`: one pair for both.
        formats.sort();
        formats.dedup();
        (!formats.is_empty()).then(|| Sound {
            id: id.to_owned(),
            text: String::new(),
            formats,
        })
    }

    /// `GET /sounds`: every sound, sorted by id, keeping only the language/format pairs
    /// that match the exact-match filters and dropping sounds left with none. (The ARI
    /// layer answers 404 for an empty list, as Asterisk does.)
    pub fn list(&self, lang: Option<&str>, format: Option<&str>) -> Vec<Sound> {
        self.sounds
            .iter()
            .filter_map(|(id, variants)| Self::model(id, variants, lang, format))
            .collect()
    }

    /// `GET /sounds/{id}`.
    pub fn get(&self, id: &str) -> Option<Sound> {
        Self::model(id, self.sounds.get(id)?, None, None)
    }

    /// The file to play for `sound:<name>` in `lang`: the requested language, then its base
    /// language (`en` for `en_GB`), then `en`; within a language by [`Format::PREFERENCE`].
    pub fn resolve(&self, name: &str, lang: Option<&str>) -> Option<(PathBuf, Format)> {
        let variants = self.sounds.get(name)?;
        let mut languages: Vec<&str> = Vec::with_capacity(3);
        if let Some(lang) = lang.filter(|l| !l.is_empty()) {
            languages.push(lang);
            if let Some((base, _)) = lang.split_once(['_', '-']) {
                languages.push(base);
            }
        }
        languages.push(DEFAULT_LANGUAGE);
        for language in languages {
            for format in Format::PREFERENCE {
                if let Some(v) = variants
                    .iter()
                    .find(|v| v.language == language && v.format == SoundFormat::Playable(format))
                {
                    return Some((v.path.clone(), format));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(dir: &Path, rel: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, [0u8; 16]).unwrap();
    }

    fn sample_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for rel in [
            "en/hello-world.wav",
            "en/hello-world.ulaw",
            "en/digits/1.wav",
            "en/digits/1.sln16",
            "en/letters/a.alaw",
            "en/beep.gsm",
            "en/.hidden.wav",
            "fr/hello-world.wav",
            "fr/digits/1.ul",
            "en_GB/digits/1.sln",
            "top-level.sln",
            "README",
        ] {
            touch(d, rel);
        }
        dir
    }

    #[test]
    fn scan_indexes_names_languages_and_formats() {
        let dir = sample_dir();
        let index = SoundIndex::scan(dir.path()).unwrap();
        let ids: Vec<String> = index.list(None, None).into_iter().map(|s| s.id).collect();
        assert_eq!(
            ids,
            ["beep", "digits/1", "hello-world", "letters/a", "top-level"]
        );
        let hello = index.get("hello-world").unwrap();
        assert_eq!(
            serde_json::to_value(&hello).unwrap(),
            serde_json::json!({
                "id": "hello-world",
                "formats": [
                    {"language": "en", "format": "slin"},
                    {"language": "en", "format": "ulaw"},
                    {"language": "fr", "format": "slin"},
                ]
            })
        );
        touch(dir.path(), "en/both.wav");
        touch(dir.path(), "en/both.sln");
        let index = SoundIndex::scan(dir.path()).unwrap();
        assert_eq!(
            serde_json::to_value(index.get("both").unwrap()).unwrap(),
            serde_json::json!({
                "id": "both",
                "formats": [{"language": "en", "format": "slin"}]
            })
        );
        let top = index.get("top-level").unwrap();
        assert_eq!(top.formats[0].language, "en");
        assert_eq!(top.formats[0].format, "slin");
        // gsm is listed, as Asterisk lists it, but never played.
        let beep = index.get("beep").expect("listed");
        assert_eq!(beep.formats[0].format, "gsm");
        assert!(index.resolve("beep", None).is_none());
        assert!(index.get(".hidden").is_none());
        assert!(index.get("nope").is_none());
    }

    #[test]
    fn filters_are_exact_and_drop_empty_sounds() {
        let dir = sample_dir();
        let index = SoundIndex::scan(dir.path()).unwrap();
        let fr = index.list(Some("fr"), None);
        assert_eq!(fr.len(), 2);
        assert!(
            fr.iter()
                .all(|s| s.formats.iter().all(|f| f.language == "fr"))
        );
        let ulaw = index.list(None, Some("ulaw"));
        let ids: Vec<&str> = ulaw.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["digits/1", "hello-world"]);
        assert!(index.list(Some("fr"), Some("alaw")).is_empty());
        assert!(index.list(Some("EN"), None).is_empty());
    }

    #[test]
    fn resolve_prefers_language_then_en_and_formats_in_order() {
        let dir = sample_dir();
        let index = SoundIndex::scan(dir.path()).unwrap();
        let (path, format) = index.resolve("hello-world", None).unwrap();
        assert_eq!(format, Format::Wav);
        assert_eq!(path, dir.path().join("en/hello-world.wav"));
        let (path, _) = index.resolve("hello-world", Some("fr")).unwrap();
        assert_eq!(path, dir.path().join("fr/hello-world.wav"));
        // digits/1 in en: wav preferred over sln16.
        assert_eq!(
            index.resolve("digits/1", Some("de")).unwrap().1,
            Format::Wav
        );
        assert_eq!(
            index.resolve("digits/1", Some("fr")).unwrap().1,
            Format::Ulaw
        );
        assert_eq!(
            index.resolve("digits/1", Some("en_GB")).unwrap().1,
            Format::Sln
        );
        // letters/a exists only in en.
        assert_eq!(
            index.resolve("letters/a", Some("fr")).unwrap().1,
            Format::Alaw
        );
        assert_eq!(
            index.resolve("letters/a", Some("")).unwrap().1,
            Format::Alaw
        );
        assert!(index.resolve("../etc/passwd", None).is_none());
        assert!(index.resolve("missing", Some("fr")).is_none());
    }

    #[test]
    fn symbolic_links_are_followed_like_debian_alternatives() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "en_US_f_Allison/hello-world.wav");
        touch(dir.path(), "en_US_f_Allison/digits/2.wav");
        std::os::unix::fs::symlink(dir.path().join("en_US_f_Allison"), dir.path().join("en"))
            .unwrap();
        // A loop must not hang the scan.
        std::os::unix::fs::symlink(
            dir.path().join("en_US_f_Allison"),
            dir.path().join("en_US_f_Allison/loop"),
        )
        .unwrap();
        let index = SoundIndex::scan(dir.path()).unwrap();
        assert_eq!(index.len(), 2, "{:?}", index.list(None, None));
        let (path, _) = index.resolve("digits/2", Some("en")).unwrap();
        assert_eq!(path, dir.path().join("en/digits/2.wav"));
        let langs: Vec<String> = index
            .get("hello-world")
            .unwrap()
            .formats
            .into_iter()
            .map(|f| f.language)
            .collect();
        assert_eq!(langs, ["en", "en_US_f_Allison"]);
    }

    #[test]
    fn missing_directory_is_an_error() {
        assert!(SoundIndex::scan(Path::new("/nonexistent/sounds")).is_err());
        let empty = SoundIndex::empty("/x");
        assert!(empty.is_empty());
        assert!(empty.list(None, None).is_empty());
    }
}
