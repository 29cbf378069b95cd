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
    /// The file exists but reading it failed (permissions, an I/O error).
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
mod tests;
