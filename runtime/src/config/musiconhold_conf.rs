//! `musiconhold.conf`: music-on-hold classes, one section each.
//!
//! ```ini
//! [default]
//! mode = files
//! directory = moh          ; relative to the data directory (astdatadir)
//! sort = alpha             ; or random
//!
//! [jingles]
//! mode = playlist
//! entry = /srv/moh/intro.wav
//! entry = /srv/moh/loop.wav
//! ```
//!
//! `mode=files` plays the sound files of `directory`; `mode=playlist` plays its `entry`
//! files in order. Other modes (`custom`, `mp3`, …) run external programs in Asterisk and
//! are reported and skipped. Without `sort` files play in name order (a directory has no
//! stable order of its own). A `[general]` section is not a class. When no `default` class
//! is configured, [`MohConfig::read`] adds one playing `<data dir>/moh`, as Asterisk's
//! sample configuration does.

use std::path::{Path, PathBuf};

use super::conf_file::ConfFile;
use super::diagnostics::{Location, Problems};

/// The class used when none is named.
pub(crate) const DEFAULT_CLASS: &str = "default";

/// Order of a class's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MohSort {
    /// By file name.
    #[default]
    Alpha,
    /// Shuffled each time the class starts.
    Random,
}

/// Where a class's files come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MohSource {
    /// Every playable file in a directory.
    Directory(PathBuf),
    /// These files, in order.
    Playlist(Vec<PathBuf>),
}

/// One music-on-hold class.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MohClass {
    pub name: String,
    pub source: MohSource,
    pub sort: MohSort,
    pub location: Location,
}

/// Every configured class.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MohConfig {
    pub classes: Vec<MohClass>,
}

impl MohConfig {
    /// Reads the classes; relative directories and entries are resolved against
    /// `data_dir`.
    pub fn read(file: Option<&ConfFile>, data_dir: &Path, problems: &mut Problems) -> Self {
        let mut classes: Vec<MohClass> = Vec::new();
        for section in file.into_iter().flat_map(|f| f.sections()) {
            if section.name.eq_ignore_ascii_case("general") {
                continue;
            }
            if let Some(class) = read_class(section, data_dir, problems) {
                if let Some(earlier) = classes.iter_mut().find(|c| c.name == class.name) {
                    problems.warn(
                        &class.location,
                        format!(
                            "music on hold class [{}] defined again (the later one is used)",
                            class.name
                        ),
                    );
                    *earlier = class;
                } else {
                    classes.push(class);
                }
            }
        }
        if !classes.iter().any(|c| c.name == DEFAULT_CLASS) {
            classes.push(MohClass {
                name: DEFAULT_CLASS.to_owned(),
                source: MohSource::Directory(data_dir.join("moh")),
                sort: MohSort::Alpha,
                location: Location::file(Path::new("<built-in>")),
            });
        }
        Self { classes }
    }

    /// The class named `name` (an empty name means `default`).
    pub fn class(&self, name: &str) -> Option<&MohClass> {
        let name = if name.is_empty() { DEFAULT_CLASS } else { name };
        self.classes.iter().find(|c| c.name == name)
    }
}

fn read_class(
    section: &super::conf_file::Section,
    data_dir: &Path,
    problems: &mut Problems,
) -> Option<MohClass> {
    let mut mode: Option<String> = None;
    let mut directory: Option<PathBuf> = None;
    let mut entries: Vec<PathBuf> = Vec::new();
    let mut sort = MohSort::default();
    for entry in &section.entries {
        let value = entry.value.trim();
        match entry.key.to_ascii_lowercase().as_str() {
            "mode" => mode = Some(value.to_ascii_lowercase()),
            // Path::join keeps an absolute value as it is.
            "directory" => directory = Some(data_dir.join(value)),
            "entry" => entries.push(data_dir.join(value)),
            "sort" => match value.to_ascii_lowercase().as_str() {
                "alpha" => sort = MohSort::Alpha,
                "random" | "randstart" => sort = MohSort::Random,
                _ => problems.error(
                    &entry.location,
                    format!(
                        "invalid sort '{value}' for [{}]: expected alpha or random",
                        section.name
                    ),
                ),
            },
            // Asterisk options with no effect on file playback here.
            "application"
            | "format"
            | "digit"
            | "announcement"
            | "kill_escalation_delay"
            | "kill_method"
            | "answeredonly"
            | "loop_last"
            | "preferchannelclass" => {}
            _ => problems.warn(
                &entry.location,
                format!(
                    "unknown option '{}' for music on hold class [{}] (ignored)",
                    entry.key, section.name
                ),
            ),
        }
    }
    let source = match mode.as_deref() {
        Some("files") | None => {
            let Some(directory) = directory else {
                problems.error(
                    &section.location,
                    format!("music on hold class [{}] has no directory", section.name),
                );
                return None;
            };
            MohSource::Directory(directory)
        }
        Some("playlist") => {
            if entries.is_empty() {
                problems.error(
                    &section.location,
                    format!("music on hold playlist [{}] has no entry", section.name),
                );
                return None;
            }
            MohSource::Playlist(entries)
        }
        Some(other) => {
            problems.warn(
                &section.location,
                format!(
                    "music on hold mode '{other}' of [{}] is not supported (class skipped)",
                    section.name
                ),
            );
            return None;
        }
    };
    Some(MohClass {
        name: section.name.clone(),
        source,
        sort,
        location: section.location.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conf_file::parse_str;

    fn read(text: &str) -> (MohConfig, Problems) {
        let mut problems = Problems::default();
        let file = parse_str(Path::new("musiconhold.conf"), text, &mut problems);
        let config = MohConfig::read(Some(&file), Path::new("/var/lib/asterisk"), &mut problems);
        (config, problems)
    }

    #[test]
    fn classes_are_read() {
        let (config, problems) = read(
            "[general]\ncachertclasses=yes\n\
             [default]\nmode=files\ndirectory=moh\n\
             [jazz]\nmode = files\ndirectory = /srv/jazz\nsort = random\n\
             [list]\nmode=playlist\nentry=a.wav\nentry=/abs/b.sln\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.classes.len(), 3);
        let default = config.class("").unwrap();
        assert_eq!(
            default.source,
            MohSource::Directory(PathBuf::from("/var/lib/asterisk/moh"))
        );
        assert_eq!(default.sort, MohSort::Alpha);
        let jazz = config.class("jazz").unwrap();
        assert_eq!(
            jazz.source,
            MohSource::Directory(PathBuf::from("/srv/jazz"))
        );
        assert_eq!(jazz.sort, MohSort::Random);
        assert_eq!(
            config.class("list").unwrap().source,
            MohSource::Playlist(vec![
                PathBuf::from("/var/lib/asterisk/a.wav"),
                PathBuf::from("/abs/b.sln")
            ])
        );
        assert!(config.class("nope").is_none());
    }

    #[test]
    fn a_default_class_always_exists() {
        let mut problems = Problems::default();
        let config = MohConfig::read(None, Path::new("/data"), &mut problems);
        assert_eq!(
            config.class(DEFAULT_CLASS).unwrap().source,
            MohSource::Directory(PathBuf::from("/data/moh"))
        );
    }

    #[test]
    fn problems_are_reported() {
        let (config, problems) = read(
            "[nodir]\nmode=files\n\
             [prog]\nmode=custom\napplication=/usr/bin/mpg123\n\
             [badsort]\ndirectory=x\nsort=sideways\ncolour=blue\n\
             [emptylist]\nmode=playlist\n\
             [badsort]\ndirectory=y\n",
        );
        let messages: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        let text = messages.join("\n");
        assert!(text.contains("[nodir] has no directory"), "{text}");
        assert!(text.contains("mode 'custom'"), "{text}");
        assert!(text.contains("invalid sort 'sideways'"), "{text}");
        assert!(text.contains("unknown option 'colour'"), "{text}");
        assert!(text.contains("[emptylist] has no entry"), "{text}");
        assert!(text.contains("defined again"), "{text}");
        let names: Vec<&str> = config.classes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["badsort", "default"]);
        assert_eq!(
            config.class("badsort").unwrap().source,
            MohSource::Directory(PathBuf::from("/var/lib/asterisk/y"))
        );
    }
}
