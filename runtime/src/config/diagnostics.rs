//! Problems found while reading configuration, each tied to a file and line.
//!
//! Every configuration reader reports through [`Problems`] so that `wari check-config`
//! can print all of them at once, in the order they were found.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a configuration file: the file and a 1-based line number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as it should be shown to a user (the path that was opened, or a
    /// virtual name such as `<embedded>/ari.conf` for the built-in default).
    pub file: Arc<PathBuf>,
    /// 1-based line number; 0 when the problem concerns the file as a whole.
    pub line: u32,
}

impl Location {
    /// A location at `line` of `file`.
    pub fn new(file: Arc<PathBuf>, line: u32) -> Self {
        Self { file, line }
    }

    /// A location naming a whole file.
    pub fn file(path: &Path) -> Self {
        Self {
            file: Arc::new(path.to_path_buf()),
            line: 0,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}", self.file.display(), self.line)
        }
    }
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Understood but suspicious (unknown option, ignored value): the option is skipped.
    Warning,
    /// Invalid: the value or object cannot be used.
    Error,
}

/// One problem, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// How bad it is: whether wari may still start.
    pub severity: Severity,
    /// The file and line (or section) it was found at.
    pub location: Location,
    /// What is wrong, in words for the operator.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Warning => "warning",
            Severity::Error => "error",
        };
        write!(f, "{}: {level}: {}", self.location, self.message)
    }
}

/// An ordered collection of problems.
#[derive(Debug, Default, Clone)]
pub struct Problems {
    items: Vec<Problem>,
}

impl Problems {
    /// Records a warning at `location`.
    pub fn warn(&mut self, location: &Location, message: impl Into<String>) {
        self.push(Severity::Warning, location, message);
    }

    /// Records an error at `location`.
    pub fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.push(Severity::Error, location, message);
    }

    /// Records the error of a `[section]` whose `type` (`kind`) the file does not take:
    /// the section is ignored.
    pub fn unknown_type(&mut self, location: &Location, section: &str, kind: &str) {
        self.error(
            location,
            format!("[{section}]: unknown type '{kind}' (section ignored)"),
        );
    }

    /// Records the warning of a `[section]` without a `type` (`expected` is what it
    /// could say): the section is ignored.
    pub fn no_type(&mut self, location: &Location, section: &str, expected: &str) {
        self.warn(
            location,
            format!("[{section}] has no type = {expected} (section ignored)"),
        );
    }

    fn push(&mut self, severity: Severity, location: &Location, message: impl Into<String>) {
        self.items.push(Problem {
            severity,
            location: location.clone(),
            message: message.into(),
        });
    }

    /// Appends every problem of `other`.
    pub fn extend(&mut self, other: Problems) {
        self.items.extend(other.items);
    }

    /// True when at least one problem is an error.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|p| p.severity == Severity::Error)
    }

    /// All problems in the order they were found.
    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.items.iter()
    }

    /// Number of problems.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing was found.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}
