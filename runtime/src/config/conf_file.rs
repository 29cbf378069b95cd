//! Reader for Asterisk's `.conf` file dialect.
//!
//! What is understood, as Asterisk's configuration loader treats it:
//!
//! - `[name]` opens a section. Options may follow in parentheses: `[name](!)` makes a
//!   template, `[name](a,b)` copies the entries of the earlier sections `a` then `b` before
//!   the section's own entries (a template that itself inherits passes on everything it
//!   holds), `[name](!,a)` is a template inheriting from `a`, and `[name](+)` continues the
//!   earlier section of that name.
//! - `key = value` and `key => value` (the arrow is recorded). `key += value` appends to
//!   the value of the last entry with exactly that key in the section, as Asterisk does,
//!   and a line starting with `\` takes the next character literally as the start of the
//!   key (for keys beginning with `[`, `#` or `=`).
//! - `;` comments to the end of the line, `\;` is a literal `;`, and `;--` ... `--;` is a
//!   block comment that may span lines and nest (`;---...` is an ordinary line comment,
//!   as used for separator lines).
//! - `#include file`, `#include "file"` and `#tryinclude` splice another file in place;
//!   `#exec` and unknown directives are reported and ignored.
//!
//! Problems are reported into [`Problems`] with file and line, and parsing goes on, so
//! that one run shows every mistake. Duplicate keys and duplicate sections are all kept:
//! the consumers of each file decide what they mean.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::diagnostics::{Location, Problems};

/// How deeply `#include`s may nest (the top-level file not counted).
pub const MAX_INCLUDE_DEPTH: usize = 16;

/// A parsed configuration file, its includes spliced in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfFile {
    /// Every section, templates included, in the order their headers appear.
    pub sections: Vec<Section>,
}

/// One `[name]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets, trimmed.
    pub name: String,
    /// Where the header is (the first header when `(+)` appended to it).
    pub location: Location,
    /// True for `[name](!)`: a template, not an object of its own.
    pub is_template: bool,
    /// The sections whose entries were copied in, in the order listed (only those that
    /// were found; a missing one is reported as an error).
    pub inherits: Vec<String>,
    /// Inherited entries first, then the section's own, in file order.
    pub entries: Vec<Entry>,
}

/// One `key = value` (or `key => value`) line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The option name, trimmed, as written.
    pub key: String,
    /// The value, trimmed, with comments removed and `\;` turned into `;`.
    pub value: String,
    /// Where the entry was written (for an inherited entry: in the template).
    pub location: Location,
    /// True when written with `=>` instead of `=`.
    pub arrow: bool,
    /// True when copied from a template rather than written in this section.
    pub inherited: bool,
}

impl ConfFile {
    /// The sections that are not templates, in file order.
    pub fn sections(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| !s.is_template)
    }

    /// The first non-template section called `name` (case-sensitive).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections().find(|s| s.name == name)
    }

    /// Every non-template section called `name` (case-sensitive), in file order.
    pub fn sections_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Section> {
        self.sections().filter(move |s| s.name == name)
    }

    /// The templates (`[name](!)`), in file order.
    pub fn templates(&self) -> impl Iterator<Item = &Section> {
        self.sections.iter().filter(|s| s.is_template)
    }

    /// Names given to more than one non-template section, each with all of its
    /// sections in file order; names in the order of their first section.
    pub fn duplicate_sections(&self) -> Vec<(&str, Vec<&Section>)> {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut groups: Vec<(&str, Vec<&Section>)> = Vec::new();
        for section in self.sections() {
            match index.get(section.name.as_str()) {
                Some(&i) => {
                    if let Some(group) = groups.get_mut(i) {
                        group.1.push(section);
                    }
                }
                None => {
                    index.insert(&section.name, groups.len());
                    groups.push((&section.name, vec![section]));
                }
            }
        }
        groups.retain(|(_, group)| group.len() > 1);
        groups
    }
}

impl Section {
    /// The last entry called `key` (ASCII case-insensitive, as Asterisk option names are).
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .rev()
            .find(|e| e.key.eq_ignore_ascii_case(key))
    }

    /// The value of [`Section::get`].
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).map(|e| e.value.as_str())
    }

    /// Every entry called `key` (ASCII case-insensitive), in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Entry> {
        self.entries
            .iter()
            .filter(move |e| e.key.eq_ignore_ascii_case(key))
    }
}

/// A top-level file could not be read for a reason other than its absence.
#[derive(Debug, thiserror::Error)]
pub enum ConfError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file that was opened.
        path: PathBuf,
        /// Why it could not be read.
        source: io::Error,
    },
}

/// The payload of the [`io::ErrorKind::InvalidData`] error a [`Source`] returns for a
/// file that is not UTF-8; the loader turns it into a problem at that line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not valid UTF-8 (line {line}, byte {offset})")]
pub struct InvalidUtf8 {
    /// 1-based line of the first invalid byte.
    pub line: u32,
    /// Byte offset of the first invalid byte in the file.
    pub offset: usize,
}

/// Turns file bytes into text, or an [`io::ErrorKind::InvalidData`] error carrying
/// [`InvalidUtf8`].
pub fn decode_utf8(bytes: Vec<u8>) -> io::Result<String> {
    String::from_utf8(bytes).map_err(|err| {
        let offset = err.utf8_error().valid_up_to();
        let before = err.as_bytes().get(..offset).unwrap_or_default();
        let newlines = before.iter().filter(|&&b| b == b'\n').count();
        let line = u32::try_from(newlines + 1).unwrap_or(u32::MAX);
        io::Error::new(io::ErrorKind::InvalidData, InvalidUtf8 { line, offset })
    })
}

fn invalid_utf8(err: &io::Error) -> Option<&InvalidUtf8> {
    err.get_ref()?.downcast_ref::<InvalidUtf8>()
}

/// Where files are read from: the real file system for `--config-dir`, an in-memory map
/// for the embedded default configuration and tests.
pub trait Source {
    /// The whole text of `path`. A missing file is [`io::ErrorKind::NotFound`]; a file
    /// that is not UTF-8 should be [`io::ErrorKind::InvalidData`] carrying
    /// [`InvalidUtf8`] (see [`decode_utf8`]).
    fn read(&self, path: &Path) -> io::Result<String>;

    /// The path that `#include name` (or a top-level `name`) designates: `name` itself
    /// when absolute, else `name` under `base_dir`.
    fn resolve(&self, base_dir: &Path, name: &str) -> PathBuf {
        let name = Path::new(name);
        if name.is_absolute() {
            name.to_path_buf()
        } else {
            base_dir.join(name)
        }
    }
}

/// Reads from the file system.
#[derive(Debug, Clone, Copy, Default)]
pub struct FsSource;

impl Source for FsSource {
    fn read(&self, path: &Path) -> io::Result<String> {
        decode_utf8(std::fs::read(path)?)
    }
}

/// Reads from files held in memory, keyed by the full path that [`Source::resolve`]
/// gives (for instance `<embedded>/ari.conf` with the directory `<embedded>`).
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    files: HashMap<PathBuf, Vec<u8>>,
}

impl MemorySource {
    /// An empty source: every read is "not found".
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) the file at `path`.
    pub fn insert(&mut self, path: impl Into<PathBuf>, text: impl Into<String>) {
        self.files.insert(path.into(), text.into().into_bytes());
    }

    /// Adds (or replaces) the file at `path` from raw bytes, which need not be UTF-8.
    pub fn insert_bytes(&mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) {
        self.files.insert(path.into(), bytes.into());
    }

    /// [`MemorySource::insert`], builder style.
    pub fn with(mut self, path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        self.insert(path, text);
        self
    }
}

impl Source for MemorySource {
    fn read(&self, path: &Path) -> io::Result<String> {
        match self.files.get(path) {
            Some(bytes) => decode_utf8(bytes.clone()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{} does not exist", path.display()),
            )),
        }
    }
}

/// Parses `name` from `dir` (through `source`), splicing in its `#include`s, which are
/// resolved against `dir` too.
///
/// Returns `Ok(None)` when the top-level file does not exist, so that the caller can use
/// its defaults. Syntax errors, bad includes and warnings go into `problems` with file and
/// line, and parsing goes on where it can. A top-level file that is not UTF-8 gives an
/// error in `problems` and an empty [`ConfFile`]. Any other failure to read the top-level
/// file is a [`ConfError`].
pub fn load(
    source: &dyn Source,
    dir: &Path,
    name: &str,
    problems: &mut Problems,
) -> Result<Option<ConfFile>, ConfError> {
    let path = source.resolve(dir, name);
    let text = match source.read(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            tracing::debug!(path = %path.display(), "configuration file absent");
            return Ok(None);
        }
        Err(err) => {
            if let Some(bad) = invalid_utf8(&err) {
                let location = Location::new(Arc::new(path), bad.line);
                problems.error(&location, format!("file is {bad}"));
                return Ok(Some(ConfFile::default()));
            }
            return Err(ConfError::Read { path, source: err });
        }
    };
    tracing::debug!(path = %path.display(), "reading configuration file");
    let mut parser = Parser::new(source, dir, problems);
    parser.parse_file(Arc::new(path), &text);
    Ok(Some(parser.finish()))
}

/// Parses `text` as the content of `file`. `#include`s are looked up next to `file` in an
/// empty source, so each one is reported as missing: use [`load`] with a
/// [`MemorySource`] to parse text that includes other text.
pub fn parse_str(file: &Path, text: &str, problems: &mut Problems) -> ConfFile {
    let source = MemorySource::new();
    let dir = file.parent().unwrap_or(Path::new(""));
    let mut parser = Parser::new(&source, dir, problems);
    parser.parse_file(Arc::new(file.to_path_buf()), text);
    parser.finish()
}

/// Where entries currently go.
#[derive(Debug, Clone, Copy)]
enum Current {
    /// Before any section header: entries are errors.
    Nowhere,
    /// Into `sections[index]`.
    In(usize),
    /// After a header too broken to use: entries are dropped silently (the header was
    /// reported).
    Skipping,
}

/// Block-comment state of one file.
#[derive(Debug, Default)]
struct BlockComments {
    /// How many `;--` are open.
    depth: u32,
    /// Line of the outermost open `;--`.
    opened_at: u32,
}

struct Parser<'a> {
    source: &'a dyn Source,
    dir: &'a Path,
    problems: &'a mut Problems,
    sections: Vec<Section>,
    current: Current,
    /// The files being read, outermost first.
    chain: Vec<Arc<PathBuf>>,
}

impl<'a> Parser<'a> {
    fn new(source: &'a dyn Source, dir: &'a Path, problems: &'a mut Problems) -> Self {
        Self {
            source,
            dir,
            problems,
            sections: Vec::new(),
            current: Current::Nowhere,
            chain: Vec::new(),
        }
    }

    fn finish(self) -> ConfFile {
        ConfFile {
            sections: self.sections,
        }
    }

    fn parse_file(&mut self, path: Arc<PathBuf>, text: &str) {
        self.chain.push(Arc::clone(&path));
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut comments = BlockComments::default();
        for (index, raw) in text.split('\n').enumerate() {
            let line = u32::try_from(index + 1).unwrap_or(u32::MAX);
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let logical = strip_comments(raw, line, &mut comments);
            let content = trim(&logical);
            if content.is_empty() {
                continue;
            }
            let location = Location::new(Arc::clone(&path), line);
            if content.starts_with('[') {
                self.header(content, location);
            } else if let Some(directive) = content.strip_prefix('#') {
                self.directive(directive, &location);
            } else {
                self.entry(content, location);
            }
        }
        if comments.depth > 0 {
            self.problems.warn(
                &Location::new(Arc::clone(&path), comments.opened_at),
                "block comment `;--` is never closed with `--;`: the rest of the file is ignored",
            );
        }
        self.chain.pop();
    }

    /// The first section called `name` (ASCII case-insensitive, as Asterisk looks up
    /// categories), template or not.
    fn find(&self, name: &str) -> Option<usize> {
        self.sections
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }

    fn header(&mut self, content: &str, location: Location) {
        let Some(close) = content.find(']') else {
            self.problems.error(
                &location,
                "section header has no closing `]`; its entries are ignored",
            );
            self.current = Current::Skipping;
            return;
        };
        let name = trim(&content[1..close]);
        let after = trim(&content[close + 1..]);
        let mut options: Vec<&str> = Vec::new();
        if let Some(rest) = after.strip_prefix('(') {
            let Some(end) = rest.find(')') else {
                self.problems.error(
                    &location,
                    "section options have no closing `)`; the section's entries are ignored",
                );
                self.current = Current::Skipping;
                return;
            };
            let trailing = trim(&rest[end + 1..]);
            if !trailing.is_empty() {
                self.problems.warn(
                    &location,
                    format!("text after the section options is ignored: `{trailing}`"),
                );
            }
            options = rest[..end]
                .split(',')
                .map(trim)
                .filter(|o| !o.is_empty())
                .collect();
        } else if !after.is_empty() {
            self.problems.warn(
                &location,
                format!("text after the section header is ignored: `{after}`"),
            );
        }
        if name.is_empty() {
            self.problems
                .error(&location, "empty section name; its entries are ignored");
            self.current = Current::Skipping;
            return;
        }

        let mut template = false;
        let mut append = false;
        let mut bases: Vec<&str> = Vec::new();
        for option in options {
            if option == "!" {
                template = true;
            } else if option == "+" {
                append = true;
            } else if option.starts_with('+') {
                self.problems.error(
                    &location,
                    format!("section filter `{option}` is not supported; option ignored"),
                );
            } else {
                bases.push(option);
            }
        }

        let mut inherited = Vec::new();
        let mut inherits = Vec::new();
        for base in bases {
            match self.find(base) {
                Some(index) => {
                    inherited.extend(self.sections[index].entries.iter().map(|e| Entry {
                        inherited: true,
                        ..e.clone()
                    }));
                    inherits.push(base.to_string());
                }
                None => self.problems.error(
                    &location,
                    format!(
                        "section [{name}] inherits from [{base}], which is not defined above it"
                    ),
                ),
            }
        }

        if append {
            if template {
                self.problems.warn(
                    &location,
                    "`!` has no effect together with `+`: the appended section keeps its kind",
                );
            }
            match self.find(name) {
                Some(index) => {
                    let section = &mut self.sections[index];
                    section.entries.extend(inherited);
                    section.inherits.extend(inherits);
                    self.current = Current::In(index);
                    return;
                }
                None => self.problems.error(
                    &location,
                    format!(
                        "cannot append to section [{name}]: no section of that name above; \
                         starting a new one"
                    ),
                ),
            }
        }

        self.sections.push(Section {
            name: name.to_string(),
            location,
            is_template: template,
            inherits,
            entries: inherited,
        });
        self.current = Current::In(self.sections.len() - 1);
    }

    fn entry(&mut self, content: &str, location: Location) {
        let index = match self.current {
            Current::In(index) => index,
            Current::Skipping => return,
            Current::Nowhere => {
                self.problems.error(
                    &location,
                    "option outside of any section: a `[section]` header must come first",
                );
                return;
            }
        };
        // `\X...`: the first character of the name is taken literally, so that a name may
        // start with `[`, `#` or `=`.
        let (content, skip) = match content.strip_prefix('\\') {
            Some(escaped) => match escaped.chars().next() {
                Some(first) if !is_blank(first) => (escaped, first.len_utf8()),
                _ => {
                    self.problems.error(
                        &location,
                        "`\\` at the start of a line must escape a character",
                    );
                    return;
                }
            },
            None => (content, 0),
        };
        let Some(equals) = content[skip..].find('=').map(|at| at + skip) else {
            self.problems.error(
                &location,
                format!("expected `key = value`, found `{content}`"),
            );
            return;
        };
        let key = &content[..equals];
        let rest = &content[equals + 1..];
        let Some(section) = self.sections.get_mut(index) else {
            return;
        };

        // `key += more` appends `more`, as written, to the value of the last entry with
        // exactly that name (Asterisk compares case-sensitively here), or is a plain entry
        // when there is none.
        if equals > skip
            && let Some(name) = key.strip_suffix('+')
        {
            let name = trim(name);
            if let Some(previous) = section.entries.iter_mut().rev().find(|e| e.key == name) {
                let joined = format!("{}{}", previous.value, rest);
                previous.value = trim(&joined).to_string();
                previous.location = location;
                previous.inherited = false;
                return;
            }
            if name.is_empty() {
                self.problems
                    .error(&location, format!("option without a name: `{content}`"));
                return;
            }
            section.entries.push(Entry {
                key: name.to_string(),
                value: trim(rest).to_string(),
                location,
                arrow: false,
                inherited: false,
            });
            return;
        }

        let (rest, arrow) = match rest.strip_prefix('>') {
            Some(after) => (after, true),
            None => (rest, false),
        };
        let key = trim(key);
        if key.is_empty() {
            self.problems
                .error(&location, format!("option without a name: `{content}`"));
            return;
        }
        section.entries.push(Entry {
            key: key.to_string(),
            value: trim(rest).to_string(),
            location,
            arrow,
            inherited: false,
        });
    }

    fn directive(&mut self, text: &str, location: &Location) {
        let end = text.find(is_blank).unwrap_or(text.len());
        let (name, argument) = (&text[..end], trim(&text[end..]));
        match name.to_ascii_lowercase().as_str() {
            "include" => self.include(argument, location, false),
            "tryinclude" => self.include(argument, location, true),
            "exec" | "tryexec" => self.problems.warn(
                location,
                format!("`#{name}` is not supported; the line is ignored"),
            ),
            "" => self.problems.warn(
                location,
                "`#` without a directive name; the line is ignored",
            ),
            _ => self.problems.warn(
                location,
                format!("unknown directive `#{name}`; the line is ignored"),
            ),
        }
    }

    fn include(&mut self, argument: &str, location: &Location, optional: bool) {
        let directive = if optional { "#tryinclude" } else { "#include" };
        let name = dequote(argument);
        if name.is_empty() {
            self.problems
                .error(location, format!("`{directive}` needs a file name"));
            return;
        }
        let path = self.source.resolve(self.dir, name);

        if let Some(start) = self.chain.iter().position(|p| **p == path) {
            let cycle: Vec<String> = self.chain[start..]
                .iter()
                .map(|p| p.display().to_string())
                .chain(std::iter::once(path.display().to_string()))
                .collect();
            self.problems.error(
                location,
                format!("include cycle: {}; not included again", cycle.join(" -> ")),
            );
            return;
        }
        if self.chain.len() > MAX_INCLUDE_DEPTH {
            self.problems.error(
                location,
                format!(
                    "includes nest more than {MAX_INCLUDE_DEPTH} deep; {} is not included",
                    path.display()
                ),
            );
            return;
        }

        match self.source.read(&path) {
            Ok(text) => {
                tracing::debug!(path = %path.display(), from = %location, "including");
                self.parse_file(Arc::new(path), &text);
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if optional {
                    tracing::debug!(path = %path.display(), from = %location,
                        "#tryinclude target absent");
                } else {
                    let hint = if name.contains(['*', '?', '[']) {
                        " (wildcards in #include are not supported)"
                    } else {
                        ""
                    };
                    self.problems.error(
                        location,
                        format!("included file {} not found{hint}", path.display()),
                    );
                }
            }
            Err(err) => {
                if let Some(bad) = invalid_utf8(&err) {
                    self.problems.error(
                        &Location::new(Arc::new(path), bad.line),
                        format!("file is {bad}; included from {location}"),
                    );
                } else {
                    self.problems.error(
                        location,
                        format!("cannot read included file {}: {err}", path.display()),
                    );
                }
            }
        }
    }
}

/// Blank as C's `isspace` sees it.
fn is_blank(c: char) -> bool {
    c.is_ascii_whitespace() || c == '\x0b'
}

fn trim(s: &str) -> &str {
    s.trim_matches(is_blank)
}

/// `"name"` or `<name>` without the quotes; anything else as it is.
fn dequote(s: &str) -> &str {
    for (open, close) in [('"', '"'), ('<', '>')] {
        if let Some(inner) = s.strip_prefix(open).and_then(|r| r.strip_suffix(close)) {
            return inner;
        }
    }
    s
}

/// True when the `;` at `at` starts a block comment: `;--` not followed by a third `-`.
fn opens_block(bytes: &[u8], at: usize) -> bool {
    bytes.get(at + 1) == Some(&b'-')
        && bytes.get(at + 2) == Some(&b'-')
        && bytes.get(at + 3) != Some(&b'-')
}

/// The part of one physical line that is not comment, with `\;` turned into `;`.
/// `state` carries block comments from line to line.
fn strip_comments(line: &str, line_no: u32, state: &mut BlockComments) -> String {
    let bytes = line.as_bytes();
    let mut out = String::new();
    // Start of the text not yet copied to `out`, when outside any block comment.
    let mut keep_from = (state.depth == 0).then_some(0usize);
    // Inside a block comment: where its body starts on this line, so that the `--` of a
    // closing `--;` cannot be those of the opening `;--`.
    let mut body_start = 0usize;
    let mut i = 0usize;
    while i < bytes.len() {
        if bytes[i] != b';' {
            i += 1;
            continue;
        }
        let escaped = i > 0 && bytes[i - 1] == b'\\';
        match keep_from {
            Some(from) => {
                if escaped && i > from {
                    // Drop the backslash; the `;` is kept as text.
                    out.push_str(&line[from..i - 1]);
                    keep_from = Some(i);
                    i += 1;
                    continue;
                }
                out.push_str(&line[from..i]);
                if opens_block(bytes, i) {
                    state.depth = 1;
                    state.opened_at = line_no;
                    keep_from = None;
                    i += 3;
                    body_start = i;
                    continue;
                }
                // A line comment: nothing after it counts.
                return out;
            }
            None => {
                if escaped {
                    i += 1;
                } else if i >= body_start + 2 && bytes[i - 2] == b'-' && bytes[i - 1] == b'-' {
                    state.depth = state.depth.saturating_sub(1);
                    i += 1;
                    body_start = i;
                    if state.depth == 0 {
                        keep_from = Some(i);
                    }
                } else if opens_block(bytes, i) {
                    state.depth = state.depth.saturating_add(1);
                    i += 3;
                    body_start = i;
                } else {
                    i += 1;
                }
            }
        }
    }
    if let Some(from) = keep_from {
        out.push_str(&line[from..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::diagnostics::Severity;
    use super::*;

    const DIR: &str = "/etc/asterisk";

    fn parse(text: &str) -> (ConfFile, Problems) {
        let mut problems = Problems::default();
        let conf = parse_str(Path::new("/etc/asterisk/test.conf"), text, &mut problems);
        (conf, problems)
    }

    /// Loads `main` from a memory source holding `files` (names relative to `DIR`).
    fn load_files(files: &[(&str, &str)], main: &str) -> (Option<ConfFile>, Problems) {
        let mut source = MemorySource::new();
        for (name, text) in files {
            source.insert(Path::new(DIR).join(name), *text);
        }
        let mut problems = Problems::default();
        let conf = load(&source, Path::new(DIR), main, &mut problems).expect("no I/O error");
        (conf, problems)
    }

    /// (severity, file name, line, message) of every problem.
    fn problems_of(problems: &Problems) -> Vec<(Severity, String, u32, String)> {
        problems
            .iter()
            .map(|p| {
                let file = p
                    .location
                    .file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (p.severity, file, p.location.line, p.message.clone())
            })
            .collect()
    }

    fn lines_of(problems: &Problems) -> Vec<(Severity, u32)> {
        problems
            .iter()
            .map(|p| (p.severity, p.location.line))
            .collect()
    }

    fn pairs(section: &Section) -> Vec<(&str, &str)> {
        section
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect()
    }

    #[test]
    fn sections_and_entries() {
        let (conf, problems) = parse("[general]\nenabled = yes\n\n[ alice ]\n  type=user  \n");
        assert!(problems.is_empty());
        let names: Vec<_> = conf.sections().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["general", "alice"]);
        let alice = conf.section("alice").expect("alice");
        assert_eq!(alice.location.line, 4);
        assert_eq!(pairs(alice), [("type", "user")]);
        let entry = &alice.entries[0];
        assert_eq!(entry.location.line, 5);
        assert!(!entry.arrow && !entry.inherited);
        assert_eq!(
            *entry.location.file,
            PathBuf::from("/etc/asterisk/test.conf")
        );
    }

    #[test]
    fn value_keeps_inner_equals_and_spaces() {
        let (conf, _) = parse("[s]\nurl = http://x/?a=b c\n");
        assert_eq!(
            conf.section("s").and_then(|s| s.value("url")),
            Some("http://x/?a=b c")
        );
    }

    #[test]
    fn empty_value_is_allowed() {
        let (conf, problems) = parse("[s]\nkey =\n");
        assert!(problems.is_empty());
        assert_eq!(conf.section("s").and_then(|s| s.value("key")), Some(""));
    }

    #[test]
    fn arrow_entries() {
        let (conf, problems) = parse("[default]\nexten => 100,1,Answer()\nsame=>n,Hangup\nx=1\n");
        assert!(problems.is_empty());
        let s = conf.section("default").expect("default");
        assert_eq!(
            pairs(s),
            [
                ("exten", "100,1,Answer()"),
                ("same", "n,Hangup"),
                ("x", "1")
            ]
        );
        let arrows: Vec<_> = s.entries.iter().map(|e| e.arrow).collect();
        assert_eq!(arrows, [true, true, false]);
    }

    #[test]
    fn line_comments() {
        let (conf, problems) =
            parse("; header\n[s] ; section\na = 1 ; one\n   ; only comment\nb=2;two\n");
        assert!(problems.is_empty());
        assert_eq!(
            pairs(conf.section("s").expect("s")),
            [("a", "1"), ("b", "2")]
        );
    }

    #[test]
    fn escaped_semicolon_is_literal() {
        let (conf, _) = parse("[s]\nre = a\\;b ; comment\nend = x\\;\nblock = \\;--y\n");
        let s = conf.section("s").expect("s");
        assert_eq!(pairs(s), [("re", "a;b"), ("end", "x;"), ("block", ";--y")]);
    }

    #[test]
    fn other_backslashes_are_kept() {
        let (conf, _) = parse("[s]\npath = C:\\dir\\n\n");
        assert_eq!(
            conf.section("s").and_then(|s| s.value("path")),
            Some("C:\\dir\\n")
        );
    }

    #[test]
    fn block_comment_on_one_line() {
        let (conf, _) = parse("[s]\na = 1 ;-- hidden --; 2\n");
        assert_eq!(conf.section("s").and_then(|s| s.value("a")), Some("1  2"));
    }

    #[test]
    fn block_comment_across_lines() {
        let text = "[s]\na = 1 ;-- start\nb = 2\n[t]\nend --; c = 3\nd = 4\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        let s = conf.section("s").expect("s");
        assert_eq!(pairs(s), [("a", "1"), ("c", "3"), ("d", "4")]);
        assert_eq!(s.entries[1].location.line, 5);
        assert!(conf.section("t").is_none());
    }

    #[test]
    fn block_comments_nest() {
        let text = "[s]\n;-- outer ;-- inner --; still hidden = 1\n--; a = 1\n";
        let (conf, _) = parse(text);
        assert_eq!(pairs(conf.section("s").expect("s")), [("a", "1")]);
    }

    #[test]
    fn separator_line_is_a_line_comment() {
        let (conf, problems) = parse(";-----------\n[s]\n;---- x\na = 1\n");
        assert!(problems.is_empty());
        assert_eq!(pairs(conf.section("s").expect("s")), [("a", "1")]);
    }

    #[test]
    fn opening_dashes_do_not_close() {
        let (conf, _) = parse("[s]\n;--;\nhidden = 1\n--;\na = 1\n");
        assert_eq!(pairs(conf.section("s").expect("s")), [("a", "1")]);
    }

    #[test]
    fn unclosed_block_comment_warns_at_its_start() {
        let (conf, problems) = parse("[s]\na = 1\n;-- open\nb = 2\n");
        assert_eq!(pairs(conf.section("s").expect("s")), [("a", "1")]);
        assert_eq!(lines_of(&problems), [(Severity::Warning, 3)]);
    }

    #[test]
    fn directive_inside_block_comment_is_ignored() {
        let (conf, problems) = parse("[s]\n;--\n#include nothere.conf\n--;\n");
        assert!(problems.is_empty());
        assert!(conf.section("s").expect("s").entries.is_empty());
    }

    #[test]
    fn crlf_line_endings() {
        let (conf, problems) = parse("[s]\r\na = 1\r\nb => 2 ; c\r\n\r\n");
        assert!(problems.is_empty());
        let s = conf.section("s").expect("s");
        assert_eq!(pairs(s), [("a", "1"), ("b", "2")]);
        assert_eq!(s.entries[1].location.line, 3);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let (conf, problems) = parse("\u{feff}[s]\na=1\n");
        assert!(problems.is_empty());
        assert_eq!(conf.section("s").expect("s").location.line, 1);
    }

    #[test]
    fn entries_before_any_section_are_errors() {
        let (conf, problems) = parse("; c\na = 1\n\nb = 2\n[s]\nc = 3\n");
        assert_eq!(
            lines_of(&problems),
            [(Severity::Error, 2), (Severity::Error, 4)]
        );
        assert_eq!(pairs(conf.section("s").expect("s")), [("c", "3")]);
    }

    #[test]
    fn line_without_equals_is_an_error_and_parsing_goes_on() {
        let (conf, problems) = parse("[s]\na = 1\njunk here\nb = 2\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 3)]);
        assert!(problems.iter().all(|p| p.message.contains("junk here")));
        assert_eq!(
            pairs(conf.section("s").expect("s")),
            [("a", "1"), ("b", "2")]
        );
    }

    #[test]
    fn entry_without_name_is_an_error() {
        let (conf, problems) = parse("[s]\n = 1\n=> 2\n");
        assert_eq!(
            lines_of(&problems),
            [(Severity::Error, 2), (Severity::Error, 3)]
        );
        assert!(conf.section("s").expect("s").entries.is_empty());
    }

    #[test]
    fn unclosed_header_is_an_error_and_its_entries_are_dropped() {
        let (conf, problems) = parse("[broken\na = 1\n[ok]\nb = 2\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 1)]);
        assert_eq!(conf.sections.len(), 1);
        assert_eq!(pairs(conf.section("ok").expect("ok")), [("b", "2")]);
    }

    #[test]
    fn unclosed_options_and_empty_name_are_errors() {
        let (conf, problems) = parse("[a](!\nx=1\n[ ]\ny=2\n[b]\nz=3\n");
        assert_eq!(
            lines_of(&problems),
            [(Severity::Error, 1), (Severity::Error, 3)]
        );
        assert_eq!(conf.sections.len(), 1);
        assert_eq!(pairs(conf.section("b").expect("b")), [("z", "3")]);
    }

    #[test]
    fn text_after_header_warns() {
        let (conf, problems) = parse("[a] junk\n[b](!) more\n");
        assert_eq!(
            lines_of(&problems),
            [(Severity::Warning, 1), (Severity::Warning, 2)]
        );
        assert!(conf.section("a").is_some());
        assert!(conf.templates().any(|t| t.name == "b"));
    }

    #[test]
    fn templates_are_not_listed_as_sections() {
        let (conf, problems) = parse("[tpl](!)\na=1\n[real]\nb=2\n");
        assert!(problems.is_empty());
        assert_eq!(conf.sections.len(), 2);
        assert!(conf.sections[0].is_template);
        let names: Vec<_> = conf.sections().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["real"]);
        assert!(conf.section("tpl").is_none());
    }

    #[test]
    fn inheritance_copies_template_entries_first() {
        let text = "[t1](!)\na=1\nb=2\n[t2](!)\nc=3\n[obj](t1, t2)\nb=20\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        let obj = conf.section("obj").expect("obj");
        assert_eq!(obj.inherits, ["t1", "t2"]);
        assert_eq!(
            pairs(obj),
            [("a", "1"), ("b", "2"), ("c", "3"), ("b", "20")]
        );
        let inherited: Vec<_> = obj.entries.iter().map(|e| e.inherited).collect();
        assert_eq!(inherited, [true, true, true, false]);
        // Inherited entries point at the template's lines.
        assert_eq!(obj.entries[0].location.line, 2);
        assert_eq!(obj.get("b").map(|e| e.value.as_str()), Some("20"));
    }

    #[test]
    fn template_chains() {
        let text = "[base](!)\na=1\n[mid](!,base)\nb=2\n[obj](mid)\nc=3\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        let mid = &conf.sections[1];
        assert!(mid.is_template);
        assert_eq!(mid.inherits, ["base"]);
        let obj = conf.section("obj").expect("obj");
        assert_eq!(pairs(obj), [("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(obj.inherits, ["mid"]);
    }

    #[test]
    fn inheriting_from_a_plain_section_works() {
        let (conf, problems) = parse("[alice]\na=1\n[bob](alice)\n");
        assert!(problems.is_empty());
        assert_eq!(pairs(conf.section("bob").expect("bob")), [("a", "1")]);
    }

    #[test]
    fn template_lookup_ignores_case() {
        let (conf, problems) = parse("[Tpl](!)\na=1\n[obj](tpl)\n");
        assert!(problems.is_empty());
        assert_eq!(pairs(conf.section("obj").expect("obj")), [("a", "1")]);
    }

    #[test]
    fn unknown_template_is_an_error_at_its_line() {
        let (conf, problems) = parse("[t](!)\na=1\n\n[obj](t,missing)\nb=2\n");
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].0, found[0].2), (Severity::Error, 4));
        assert!(found[0].3.contains("missing"));
        let obj = conf.section("obj").expect("obj");
        assert_eq!(obj.inherits, ["t"]);
        assert_eq!(pairs(obj), [("a", "1"), ("b", "2")]);
    }

    #[test]
    fn template_defined_later_is_unknown() {
        let (_, problems) = parse("[obj](late)\n[late](!)\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 1)]);
    }

    #[test]
    fn append_continues_the_earlier_section() {
        let text = "[a]\nx=1\n[b]\ny=2\n[a](+)\nz=3\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        assert_eq!(conf.sections.len(), 2);
        let a = conf.section("a").expect("a");
        assert_eq!(a.location.line, 1);
        assert_eq!(pairs(a), [("x", "1"), ("z", "3")]);
        assert_eq!(a.entries[1].location.line, 6);
    }

    #[test]
    fn append_without_earlier_section_is_an_error() {
        let (conf, problems) = parse("[a]\nx=1\n[b](+)\ny=2\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 3)]);
        // Recovery: a new section.
        assert_eq!(pairs(conf.section("b").expect("b")), [("y", "2")]);
    }

    #[test]
    fn append_with_templates() {
        let (conf, problems) = parse("[t](!)\nk=v\n[a]\nx=1\n[a](+,t)\ny=2\n");
        assert!(problems.is_empty());
        let a = conf.section("a").expect("a");
        assert_eq!(a.inherits, ["t"]);
        assert_eq!(pairs(a), [("x", "1"), ("k", "v"), ("y", "2")]);
    }

    #[test]
    fn append_to_a_template_reaches_later_heirs_only() {
        let (conf, _) = parse("[t](!)\na=1\n[x](t)\n[t](+)\nb=2\n[y](t)\n");
        assert_eq!(pairs(conf.section("x").expect("x")), [("a", "1")]);
        assert_eq!(
            pairs(conf.section("y").expect("y")),
            [("a", "1"), ("b", "2")]
        );
    }

    #[test]
    fn unsupported_filter_option_is_an_error() {
        let (conf, problems) = parse("[a]\n[a](+type=endpoint)\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 2)]);
        assert_eq!(conf.sections.len(), 2);
    }

    #[test]
    fn duplicate_keys_get_takes_last_and_get_all_keeps_order() {
        let text = "[acl]\npermit=10.0.0.0/8\ndeny=0.0.0.0/0\nPermit=192.168.0.0/16\n";
        let (conf, _) = parse(text);
        let acl = conf.section("acl").expect("acl");
        assert_eq!(acl.value("permit"), Some("192.168.0.0/16"));
        assert_eq!(acl.get("PERMIT").map(|e| e.location.line), Some(4));
        let all: Vec<_> = acl.get_all("permit").map(|e| e.value.as_str()).collect();
        assert_eq!(all, ["10.0.0.0/8", "192.168.0.0/16"]);
        assert!(acl.get("missing").is_none());
        assert_eq!(acl.get_all("missing").count(), 0);
    }

    #[test]
    fn plus_equals_appends_to_the_last_value() {
        let text = "[s]\nallow = ulaw\nallow +=,alaw\nx = foo\nx += bar\nnew += y\nX += z\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        let s = conf.section("s").expect("s");
        assert_eq!(
            pairs(s),
            [
                ("allow", "ulaw,alaw"),
                ("x", "foo bar"),
                ("new", "y"),
                ("X", "z")
            ]
        );
        assert_eq!(s.entries[0].location.line, 3);
    }

    #[test]
    fn plus_equals_applies_to_inherited_entries() {
        let (conf, _) = parse("[t](!)\nallow=ulaw\n[o](t)\nallow+=,gsm\n");
        let o = conf.section("o").expect("o");
        assert_eq!(pairs(o), [("allow", "ulaw,gsm")]);
        assert!(!o.entries[0].inherited);
    }

    #[test]
    fn leading_backslash_escapes_the_first_character_of_a_name() {
        let (conf, problems) = parse("[s]\n\\[odd] = 1\n\\#hash=2\n\\==3\n\\ = 4\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 5)]);
        let s = conf.section("s").expect("s");
        assert_eq!(pairs(s), [("[odd]", "1"), ("#hash", "2"), ("=", "3")]);
    }

    #[test]
    fn duplicate_sections_are_kept_and_found() {
        let text = "[a]\nx=1\n[b]\n[a]\nx=2\n[t](!)\n[t](!)\n[a]\n";
        let (conf, problems) = parse(text);
        assert!(problems.is_empty());
        assert_eq!(conf.sections().count(), 4);
        assert_eq!(conf.section("a").and_then(|s| s.value("x")), Some("1"));
        assert_eq!(conf.sections_named("a").count(), 3);
        let dups = conf.duplicate_sections();
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].0, "a");
        let lines: Vec<_> = dups[0].1.iter().map(|s| s.location.line).collect();
        assert_eq!(lines, [1, 4, 8]);
    }

    #[test]
    fn section_lookup_is_case_sensitive() {
        let (conf, _) = parse("[General]\n");
        assert!(conf.section("General").is_some());
        assert!(conf.section("general").is_none());
    }

    #[test]
    fn include_is_spliced_into_the_current_section() {
        let files = [
            ("main.conf", "[s]\na=1\n#include extra.conf\nc=3\n"),
            ("extra.conf", "; extra\nb=2\n"),
        ];
        let (conf, problems) = load_files(&files, "main.conf");
        assert!(problems.is_empty());
        let conf = conf.expect("exists");
        let s = conf.section("s").expect("s");
        assert_eq!(pairs(s), [("a", "1"), ("b", "2"), ("c", "3")]);
        assert_eq!(
            *s.entries[1].location.file,
            PathBuf::from("/etc/asterisk/extra.conf")
        );
        assert_eq!(s.entries[1].location.line, 2);
        assert_eq!(s.entries[2].location.line, 4);
    }

    #[test]
    fn include_may_open_sections_and_the_includer_continues_in_the_last() {
        let files = [
            ("main.conf", "[s]\n#include \"users.conf\"\nafter=1\n"),
            ("users.conf", "[u1]\nx=1\n[u2]\ny=2\n"),
        ];
        let (conf, problems) = load_files(&files, "main.conf");
        assert!(problems.is_empty());
        let conf = conf.expect("exists");
        let names: Vec<_> = conf.sections().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["s", "u1", "u2"]);
        assert_eq!(
            pairs(conf.section("u2").expect("u2")),
            [("y", "2"), ("after", "1")]
        );
    }

    #[test]
    fn include_forms_and_absolute_paths() {
        let mut source = MemorySource::new()
            .with(
                "/etc/asterisk/main.conf",
                "#INCLUDE <a.conf>\n#include /opt/b.conf\n",
            )
            .with("/etc/asterisk/a.conf", "[a]\n");
        source.insert("/opt/b.conf", "[b]\n");
        let mut problems = Problems::default();
        let conf = load(&source, Path::new(DIR), "main.conf", &mut problems)
            .expect("read")
            .expect("exists");
        assert!(problems.is_empty());
        let names: Vec<_> = conf.sections().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[test]
    fn missing_include_is_an_error_at_the_include_line() {
        let files = [("main.conf", "[s]\na=1\n#include gone.conf\nb=2\n")];
        let (conf, problems) = load_files(&files, "main.conf");
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2),
            (Severity::Error, "main.conf", 3)
        );
        assert!(found[0].3.contains("/etc/asterisk/gone.conf"));
        let conf = conf.expect("exists");
        assert_eq!(
            pairs(conf.section("s").expect("s")),
            [("a", "1"), ("b", "2")]
        );
    }

    #[test]
    fn missing_wildcard_include_mentions_wildcards() {
        let (_, problems) = load_files(&[("main.conf", "#include sip_*.conf\n")], "main.conf");
        assert!(problems.iter().all(|p| p.message.contains("wildcards")));
        assert_eq!(problems.len(), 1);
    }

    #[test]
    fn tryinclude_of_a_missing_file_is_silent() {
        let files = [
            (
                "main.conf",
                "#tryinclude gone.conf\n#tryinclude there.conf\n",
            ),
            ("there.conf", "[t]\n"),
        ];
        let (conf, problems) = load_files(&files, "main.conf");
        assert!(problems.is_empty());
        assert!(conf.expect("exists").section("t").is_some());
    }

    #[test]
    fn include_without_name_is_an_error() {
        let (_, problems) = parse("[s]\n#include\n#include \"\"\n");
        assert_eq!(
            lines_of(&problems),
            [(Severity::Error, 2), (Severity::Error, 3)]
        );
    }

    #[test]
    fn include_cycle_is_rejected_with_the_chain() {
        let files = [
            ("a.conf", "[a]\n#include b.conf\nx=1\n"),
            ("b.conf", "[b]\ny=2\n#include a.conf\n"),
        ];
        let (conf, problems) = load_files(&files, "a.conf");
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2),
            (Severity::Error, "b.conf", 3)
        );
        assert!(
            found[0]
                .3
                .contains("/etc/asterisk/a.conf -> /etc/asterisk/b.conf -> /etc/asterisk/a.conf"),
            "{}",
            found[0].3
        );
        let conf = conf.expect("exists");
        assert_eq!(
            pairs(conf.section("b").expect("b")),
            [("y", "2"), ("x", "1")]
        );
    }

    #[test]
    fn self_include_is_a_cycle() {
        let (_, problems) = load_files(&[("a.conf", "[a]\n#include ./a.conf\n")], "a.conf");
        assert_eq!(lines_of(&problems), [(Severity::Error, 2)]);
        assert!(problems.iter().all(|p| p.message.contains("cycle")));
    }

    #[test]
    fn same_file_included_twice_is_not_a_cycle() {
        let files = [
            ("main.conf", "[s]\n#include part.conf\n#include part.conf\n"),
            ("part.conf", "x=1\n"),
        ];
        let (conf, problems) = load_files(&files, "main.conf");
        assert!(problems.is_empty());
        assert_eq!(
            conf.expect("exists").section("s").expect("s").entries.len(),
            2
        );
    }

    #[test]
    fn include_depth_is_limited() {
        let mut source = MemorySource::new();
        for i in 0..=MAX_INCLUDE_DEPTH + 1 {
            source.insert(
                format!("/etc/asterisk/f{i}.conf"),
                format!("[s{i}]\n#include f{}.conf\n", i + 1),
            );
        }
        let mut problems = Problems::default();
        let conf = load(&source, Path::new(DIR), "f0.conf", &mut problems)
            .expect("read")
            .expect("exists");
        // f0 plus MAX_INCLUDE_DEPTH nested files are read.
        assert_eq!(conf.sections.len(), MAX_INCLUDE_DEPTH + 1);
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].1, format!("f{MAX_INCLUDE_DEPTH}.conf"));
        assert!(found[0].3.contains("deep"));
    }

    #[test]
    fn exec_and_unknown_directives_warn() {
        let (conf, problems) = parse("[s]\n#exec /bin/echo a=1\n#frobnicate x\n#\nb=2\n");
        assert_eq!(
            lines_of(&problems),
            [
                (Severity::Warning, 2),
                (Severity::Warning, 3),
                (Severity::Warning, 4)
            ]
        );
        assert_eq!(pairs(conf.section("s").expect("s")), [("b", "2")]);
    }

    #[test]
    fn parse_str_reports_includes_as_missing() {
        let (_, problems) = parse("#include other.conf\n");
        assert_eq!(lines_of(&problems), [(Severity::Error, 1)]);
        assert!(
            problems
                .iter()
                .all(|p| p.message.contains("/etc/asterisk/other.conf"))
        );
    }

    #[test]
    fn block_comment_state_is_per_file() {
        let files = [
            ("main.conf", "[s]\n#include open.conf\na=1\n"),
            ("open.conf", "x=1\n;-- never closed\n"),
        ];
        let (conf, problems) = load_files(&files, "main.conf");
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2),
            (Severity::Warning, "open.conf", 2)
        );
        assert_eq!(
            pairs(conf.expect("exists").section("s").expect("s")),
            [("x", "1"), ("a", "1")]
        );
    }

    #[test]
    fn missing_top_level_file_is_none() {
        let (conf, problems) = load_files(&[], "ari.conf");
        assert!(conf.is_none());
        assert!(problems.is_empty());
    }

    #[test]
    fn invalid_utf8_in_top_level_file_is_an_error_with_path_and_line() {
        let mut source = MemorySource::new();
        source.insert_bytes("/etc/asterisk/bad.conf", b"[s]\na=1\nb=\xff\n".to_vec());
        let mut problems = Problems::default();
        let conf = load(&source, Path::new(DIR), "bad.conf", &mut problems).expect("no I/O error");
        assert_eq!(conf, Some(ConfFile::default()));
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2),
            (Severity::Error, "bad.conf", 3)
        );
        assert!(found[0].3.contains("UTF-8"));
    }

    #[test]
    fn invalid_utf8_in_included_file_is_an_error_for_that_file() {
        let mut source =
            MemorySource::new().with("/etc/asterisk/main.conf", "[s]\n#include bad.conf\na=1\n");
        source.insert_bytes("/etc/asterisk/bad.conf", b"\xc3(\n".to_vec());
        let mut problems = Problems::default();
        let conf = load(&source, Path::new(DIR), "main.conf", &mut problems)
            .expect("read")
            .expect("exists");
        let found = problems_of(&problems);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].0, found[0].1.as_str(), found[0].2),
            (Severity::Error, "bad.conf", 1)
        );
        assert!(found[0].3.contains("main.conf:2"), "{}", found[0].3);
        assert_eq!(pairs(conf.section("s").expect("s")), [("a", "1")]);
    }

    #[test]
    fn decode_utf8_reports_the_line() {
        let err = decode_utf8(b"ok\nok\n\x80".to_vec()).expect_err("invalid");
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            invalid_utf8(&err),
            Some(&InvalidUtf8 { line: 3, offset: 6 })
        );
        assert_eq!(decode_utf8(b"fine".to_vec()).expect("valid"), "fine");
    }

    /// A fresh directory of the test's own (a unique name, removed when dropped).
    fn scratch_dir() -> tempfile::TempDir {
        tempfile::tempdir().expect("create scratch dir")
    }

    #[test]
    fn fs_source_reads_files_and_includes() {
        let scratch = scratch_dir();
        let dir = scratch.path();
        std::fs::write(dir.join("main.conf"), "[s]\n#include part.conf\n").expect("write");
        std::fs::write(dir.join("part.conf"), "a => 1\n").expect("write");
        std::fs::write(dir.join("latin1.conf"), b"[s]\nname=\xe9\n").expect("write");
        let mut problems = Problems::default();
        let conf = load(&FsSource, dir, "main.conf", &mut problems)
            .expect("read")
            .expect("exists");
        assert!(problems.is_empty());
        let entry = conf.section("s").and_then(|s| s.get("a")).expect("a");
        assert!(entry.arrow);
        assert_eq!(*entry.location.file, dir.join("part.conf"));

        assert!(
            load(&FsSource, dir, "absent.conf", &mut problems)
                .expect("ok")
                .is_none()
        );

        let latin1 = load(&FsSource, dir, "latin1.conf", &mut problems).expect("ok");
        assert_eq!(latin1, Some(ConfFile::default()));
        assert_eq!(lines_of(&problems), [(Severity::Error, 2)]);
    }

    #[test]
    fn unreadable_top_level_file_is_a_conf_error() {
        let scratch = scratch_dir();
        let dir = scratch.path();
        std::fs::create_dir_all(dir.join("ari.conf")).expect("mkdir");
        let mut problems = Problems::default();
        let err = load(&FsSource, dir, "ari.conf", &mut problems).expect_err("a directory");
        let ConfError::Read { path, .. } = &err;
        assert_eq!(*path, dir.join("ari.conf"));
        assert!(err.to_string().contains("ari.conf"));
    }

    #[test]
    fn unreadable_include_is_an_error_at_the_include_line() {
        let scratch = scratch_dir();
        let dir = scratch.path();
        std::fs::create_dir_all(dir.join("sub.conf")).expect("mkdir");
        std::fs::write(dir.join("main.conf"), "[s]\n#tryinclude sub.conf\n").expect("write");
        let mut problems = Problems::default();
        load(&FsSource, dir, "main.conf", &mut problems)
            .expect("read")
            .expect("exists");
        assert_eq!(lines_of(&problems), [(Severity::Error, 2)]);
    }

    #[test]
    fn embedded_style_virtual_directory() {
        let source = MemorySource::new().with("<embedded>/ari.conf", "[general]\nenabled=yes\n");
        let mut problems = Problems::default();
        let conf = load(&source, Path::new("<embedded>"), "ari.conf", &mut problems)
            .expect("read")
            .expect("exists");
        let general = conf.section("general").expect("general");
        assert_eq!(general.location.to_string(), "<embedded>/ari.conf:1");
    }
}
