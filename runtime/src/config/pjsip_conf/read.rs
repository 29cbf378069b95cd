//! The reader: sections by `type=` into the typed model, each problem at its file:line.

use super::PjsipConfig;
use crate::config::conf_file::ConfFile;
use crate::config::diagnostics::Problems;

/// Reads every section of `file`.
pub(super) fn read(_file: &ConfFile, _problems: &mut Problems) -> PjsipConfig {
    PjsipConfig::default()
}
