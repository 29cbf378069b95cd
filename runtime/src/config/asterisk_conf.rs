//! `asterisk.conf`: the `[directories]` wari uses, and `[options] maxcalls`. `astdatadir`
//! holds the `sounds` directory (Debian: `/usr/share/asterisk`, so sounds are in
//! `/usr/share/asterisk/sounds`). `maxcalls` caps the channels running the dialplan at
//! once, as Asterisk's does (0 or absent: no limit). Other directories and options are
//! Asterisk's own and ignored.
//!
//! ```ini
//! [directories]
//! astdatadir => /usr/share/asterisk
//! ```

use std::path::PathBuf;

use super::conf_file::ConfFile;
use super::diagnostics::Problems;

/// Asterisk's own `astdatadir` when `asterisk.conf` sets none; Debian's sound and
/// music-on-hold packages install under it.
pub(crate) const DEFAULT_DATA_DIR: &str = "/usr/share/asterisk";

/// The directories wari takes from `asterisk.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directories {
    /// `astdatadir` as configured (`None`: not set).
    pub astdatadir: Option<PathBuf>,
}

impl Directories {
    /// `astdatadir`, or Asterisk's default ([`DEFAULT_DATA_DIR`]): relative music-on-hold
    /// paths are resolved against it.
    pub fn data_dir(&self) -> PathBuf {
        self.astdatadir
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
    }

    /// The sounds directory, `<astdatadir>/sounds`.
    pub fn sounds_dir(&self) -> PathBuf {
        self.data_dir().join("sounds")
    }

    /// Reads `[directories]`; an empty value is reported and ignored.
    pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> Directories {
        let mut directories = Directories::default();
        let Some(file) = file else {
            return directories;
        };
        for section in file.sections_named("directories") {
            for entry in &section.entries {
                if entry.key.eq_ignore_ascii_case("astdatadir") {
                    let value = entry.value.trim();
                    if value.is_empty() {
                        problems.warn(&entry.location, "astdatadir is empty (ignored)");
                    } else {
                        directories.astdatadir = Some(PathBuf::from(value));
                    }
                }
            }
        }
        directories
    }
}

/// asterisk.conf `[options]` wari uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `maxcalls`: channels running the dialplan at once; `None` is no limit.
    pub maxcalls: Option<u32>,
}

impl Options {
    /// Reads `[options] maxcalls`: as Asterisk does, a value that is not a non-negative
    /// number means no limit (wari also reports it).
    pub fn read(file: Option<&ConfFile>, problems: &mut Problems) -> Options {
        let mut options = Options::default();
        let Some(file) = file else {
            return options;
        };
        for section in file.sections_named("options") {
            for entry in &section.entries {
                if entry.key.eq_ignore_ascii_case("maxcalls") {
                    let value = entry.value.trim();
                    options.maxcalls = match value.parse::<u32>() {
                        Ok(n) => Some(n).filter(|&n| n > 0),
                        Err(_) => {
                            problems.warn(
                                &entry.location,
                                format!("invalid maxcalls '{value}': expected a number (no limit)"),
                            );
                            None
                        }
                    };
                }
            }
        }
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conf_file::parse_str;

    #[test]
    fn astdatadir_gives_the_sounds_directory() {
        let mut problems = Problems::default();
        let file = parse_str(
            std::path::Path::new("asterisk.conf"),
            "[directories]\nastdatadir => /srv/ast\nastspooldir => /x\n[options]\nverbose=3\n",
            &mut problems,
        );
        let dirs = Directories::read(Some(&file), &mut problems);
        assert_eq!(Options::read(Some(&file), &mut problems).maxcalls, None);
        let limited = parse_str(
            std::path::Path::new("asterisk.conf"),
            "[options]\nmaxcalls = 2\n",
            &mut problems,
        );
        assert_eq!(
            Options::read(Some(&limited), &mut problems).maxcalls,
            Some(2)
        );
        assert_eq!(dirs.sounds_dir(), PathBuf::from("/srv/ast/sounds"));
        assert!(problems.iter().next().is_none());
        let unset = Directories::read(None, &mut problems);
        assert_eq!(unset.astdatadir, None);
        assert_eq!(
            unset.sounds_dir(),
            PathBuf::from("/usr/share/asterisk/sounds")
        );
    }
}
