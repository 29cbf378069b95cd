//! A request body the transport received into a spool file instead of memory (component
//! uploads): the file is removed when the last holder drops it.

use std::path::Path;

/// A request body on disk.
#[derive(Debug)]
pub struct Upload {
    file: tempfile::NamedTempFile,
    size: u64,
}

impl Upload {
    /// The body in `file`, `size` bytes long.
    pub fn new(file: tempfile::NamedTempFile, size: u64) -> Upload {
        Upload { file, size }
    }

    /// Where the body is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The body's length in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }
}
