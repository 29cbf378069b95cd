//! `asterisk.conf`: the `[directories]` wari uses. `astdatadir` holds the `sounds`
//! directory (Debian: `/usr/share/asterisk`, so sounds are in `/usr/share/asterisk/sounds`).
//! Other directories and options are Asterisk's own and ignored.
//!
//! ```ini
//! [directories]
//! astdatadir => /usr/share/asterisk
//! ```

use std::path::PathBuf;

use super::conf_file::ConfFile;
use super::diagnostics::Problems;

/// The directories wari takes from `asterisk.conf`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directories {
    /// `astdatadir`: the sounds are in its `sounds` sub-directory.
    pub data_dir: Option<PathBuf>,
}

impl Directories {
    /// The sounds directory: `<astdatadir>/sounds`, if configured.
    pub fn sounds_dir(&self) -> Option<PathBuf> {
        self.data_dir.as_ref().map(|d| d.join("sounds"))
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
                        directories.data_dir = Some(PathBuf::from(value));
                    }
                }
            }
        }
        directories
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
        assert_eq!(dirs.sounds_dir(), Some(PathBuf::from("/srv/ast/sounds")));
        assert!(problems.iter().next().is_none());
        assert_eq!(Directories::read(None, &mut problems).sounds_dir(), None);
    }
}
