//! Reading `extensions.conf` into a [`Dialplan`].
//!
//! In a context section:
//!
//! - `exten => EXTENSION,PRIORITY,Application(data)` (`exten = ...` too). PRIORITY is a
//!   number (1 or more), `n` / `next` (one more than the priority of the line above in
//!   this section), either followed by `(label)`, or `hint`, whose value (everything after
//!   the comma) is stored and never run. The application is `App(data)`, `App()` or `App`;
//!   data is everything inside the outermost parentheses, verbatim.
//! - `same => PRIORITY,Application(data)` continues the extension of the line above.
//! - `include => context` searches another context after this one's own extensions.
//! - Extension names are literal (`100`, `s`, `h`, `start`) or `_` patterns (see
//!   [`super::pattern`]). A caller-ID match (`100/5551234`) is not supported: the line is
//!   skipped with a warning.
//!
//! Sections of the same name make one context. `[general]` and `[globals]` (any case) are
//! not contexts. Every problem is reported with its file and line and the line is skipped;
//! an `n` or `same` that depends on a skipped line is reported too, so nothing is dropped
//! silently.

use std::collections::{BTreeMap, HashMap};

use super::expr::substitute;
use super::pattern::Pattern;
use super::{Context, Dialplan, Extension, Step};
use crate::config::conf_file::{ConfFile, Entry, Section};
use crate::config::diagnostics::{Location, Problems};

/// `[general]` options Asterisk knows; accepted and not used.
const GENERAL_OPTIONS: [&str; 7] = [
    "static",
    "writeprotect",
    "autofallthrough",
    "clearglobalvars",
    "extenpatternmatchnew",
    "userscontext",
    "priorityjumping",
];

/// Context directives Asterisk has and wari does not.
const UNSUPPORTED_DIRECTIVES: [&str; 4] = ["switch", "eswitch", "lswitch", "ignorepat"];

/// What is wrong with an `exten` or `same` line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum LineError {
    #[error("expected `exten => EXTENSION,PRIORITY,Application(data)`, found `{0}`")]
    Shape(String),
    #[error("empty extension name")]
    EmptyExtension,
    #[error("extension name `{0}` contains blanks")]
    BlankInExtension(String),
    #[error("bad extension pattern `{0}`: {1}")]
    Pattern(String, super::pattern::PatternError),
    #[error(
        "bad priority `{0}`: expected a number from 1, `n`, `n(label)`, `NUMBER(label)` or `hint`"
    )]
    Priority(String),
    #[error("bad label in priority `{0}`: a label is a non-empty, non-numeric name in `(...)`")]
    Label(String),
    #[error("`n` needs a line with a valid priority above it in this section")]
    NoPrevious,
    #[error("priority overflows after {0}")]
    Overflow(u32),
    #[error("missing application: expected `Application(data)` after the priority")]
    MissingApp,
    #[error("application `{0}(` has no closing `)`")]
    Unclosed(String),
    #[error("`{0}` is the old `App,data` form, which is not supported: write `App(data)`")]
    OldStyle(String),
    #[error("bad application name `{0}`")]
    AppName(String),
}

/// What a priority field says.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Priority {
    Number(u32),
    Next,
    Hint,
}

/// The extension the next `same` or `n` continues.
#[derive(Debug, Clone, Copy)]
enum Last {
    /// Nothing yet in this section.
    Nothing,
    /// The extension at this index, and the priority of the line, when it was valid.
    Extension { index: usize, priority: Option<u32> },
    /// The `exten` line at this line number was skipped, so `same` has nothing to continue.
    Skipped { line: u32 },
}

pub(super) fn build(file: &ConfFile, problems: &mut Problems) -> Dialplan {
    let mut dialplan = Dialplan::default();
    let mut includes: Vec<(String, Location)> = Vec::new();
    for section in file.sections() {
        if section.name.eq_ignore_ascii_case("general") {
            read_general(section, problems);
        } else if section.name.eq_ignore_ascii_case("globals") {
            read_globals(section, &mut dialplan.globals);
        } else {
            let context = dialplan
                .contexts
                .entry(section.name.clone())
                .or_insert_with(Context::new);
            read_context(section, context, &mut includes, problems);
        }
    }
    for (target, location) in includes {
        if !dialplan.contexts.contains_key(&target) {
            problems.warn(
                &location,
                format!("included context [{target}] is not defined; it is skipped"),
            );
        }
    }
    for context in dialplan.contexts.values_mut() {
        context.sort_patterns();
    }
    tracing::debug!(
        contexts = dialplan.contexts.len(),
        globals = dialplan.globals.len(),
        "dialplan read"
    );
    dialplan
}

fn read_general(section: &Section, problems: &mut Problems) {
    for entry in &section.entries {
        let key = entry.key.to_ascii_lowercase();
        if GENERAL_OPTIONS.contains(&key.as_str()) {
            tracing::debug!(option = %entry.key, "[general] option accepted and not used");
        } else {
            problems.warn(
                &entry.location,
                format!("unknown [general] option `{}`; ignored", entry.key),
            );
        }
    }
}

/// Each value is expanded against the globals above it, as Asterisk does.
fn read_globals(section: &Section, globals: &mut Vec<(String, String)>) {
    for entry in &section.entries {
        let value = {
            let known: &[(String, String)] = globals;
            let lookup = |name: &str| {
                known
                    .iter()
                    .rev()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            substitute(&entry.value, &lookup)
        };
        globals.push((entry.key.clone(), value));
    }
}

fn read_context(
    section: &Section,
    context: &mut Context,
    includes: &mut Vec<(String, Location)>,
    problems: &mut Problems,
) {
    let mut last = Last::Nothing;
    for entry in &section.entries {
        match entry.key.to_ascii_lowercase().as_str() {
            "exten" => read_exten(entry, context, &mut last, problems),
            "same" => read_same(entry, context, &mut last, problems),
            "include" => {
                if let Some(target) = read_include(entry, problems) {
                    includes.push((target.clone(), entry.location.clone()));
                    context.includes.push(target);
                }
            }
            key if UNSUPPORTED_DIRECTIVES.contains(&key) => problems.warn(
                &entry.location,
                format!("`{}` is not supported; the line is ignored", entry.key),
            ),
            _ => problems.warn(
                &entry.location,
                format!(
                    "unknown dialplan directive `{}` (expected `exten`, `same` or `include`); \
                     the line is ignored",
                    entry.key
                ),
            ),
        }
    }
}

fn read_include(entry: &Entry, problems: &mut Problems) -> Option<String> {
    let value = entry.value.trim();
    if value.is_empty() {
        problems.error(&entry.location, "`include` needs a context name");
        return None;
    }
    if value.contains([',', '|']) {
        problems.warn(
            &entry.location,
            format!("time-restricted includes are not supported; `include => {value}` is ignored"),
        );
        return None;
    }
    Some(value.to_string())
}

fn read_exten(entry: &Entry, context: &mut Context, last: &mut Last, problems: &mut Problems) {
    let skipped = Last::Skipped {
        line: entry.location.line,
    };
    let Some((name, rest)) = split_extension(&entry.value) else {
        problems.error(
            &entry.location,
            LineError::Shape(entry.value.clone()).to_string(),
        );
        *last = skipped;
        return;
    };
    if name.contains('/') {
        problems.warn(
            &entry.location,
            format!("caller-ID matching (`{name}`) is not supported; the line is skipped"),
        );
        *last = skipped;
        return;
    }
    let pattern = match parse_extension(name) {
        Ok(pattern) => pattern,
        Err(err) => {
            problems.error(&entry.location, err.to_string());
            *last = skipped;
            return;
        }
    };
    if let Some(pattern) = &pattern
        && !pattern.ignored_tail().is_empty()
    {
        problems.warn(
            &entry.location,
            format!(
                "`{}` after the wildcard of `{name}` is ignored: a wildcard matches the rest",
                pattern.ignored_tail()
            ),
        );
    }
    let index = context.extension_index(name, pattern);
    add_priority(entry, rest, index, context, last, problems);
}

fn read_same(entry: &Entry, context: &mut Context, last: &mut Last, problems: &mut Problems) {
    match *last {
        Last::Nothing => problems.error(
            &entry.location,
            "`same` needs an `exten` line above it in this section; the line is skipped",
        ),
        Last::Skipped { line } => problems.warn(
            &entry.location,
            format!("skipped: it continues the extension of line {line}, which was skipped"),
        ),
        Last::Extension { index, .. } => {
            add_priority(entry, &entry.value, index, context, last, problems);
        }
    }
}

/// The `PRIORITY,Application(data)` part of a line, for extension `index`.
fn add_priority(
    entry: &Entry,
    text: &str,
    index: usize,
    context: &mut Context,
    last: &mut Last,
    problems: &mut Problems,
) {
    let (priority_text, app_text) = match text.split_once(',') {
        Some((p, a)) => (p.trim(), Some(a)),
        None => (text.trim(), None),
    };
    let previous = match *last {
        Last::Extension {
            index: previous_index,
            priority: Some(p),
        } => Some((previous_index, p)),
        _ => None,
    };
    let (priority, label) = match parse_priority(priority_text) {
        Ok(parsed) => parsed,
        Err(err) => {
            problems.error(&entry.location, err.to_string());
            *last = Last::Extension {
                index,
                priority: None,
            };
            return;
        }
    };
    let number = match priority {
        Priority::Hint => {
            if let Some(extension) = context.extensions.get_mut(index) {
                add_hint(entry, app_text.unwrap_or(""), extension, problems);
            }
            *last = Last::Extension {
                index,
                priority: previous.filter(|(i, _)| *i == index).map(|(_, p)| p),
            };
            return;
        }
        Priority::Number(n) => n,
        Priority::Next => {
            let Some((previous_index, p)) = previous else {
                problems.error(&entry.location, LineError::NoPrevious.to_string());
                *last = Last::Extension {
                    index,
                    priority: None,
                };
                return;
            };
            let Some(n) = p.checked_add(1) else {
                problems.error(&entry.location, LineError::Overflow(p).to_string());
                *last = Last::Extension {
                    index,
                    priority: None,
                };
                return;
            };
            if previous_index != index {
                let previous_name = context
                    .extensions
                    .get(previous_index)
                    .map_or("", |e| e.name.as_str());
                let extension_name = context
                    .extensions
                    .get(index)
                    .map_or("", |e| e.name.as_str());
                problems.warn(
                    &entry.location,
                    format!(
                        "`n` continues from extension `{previous_name}`: extension \
                         `{extension_name}` gets priority {n}"
                    ),
                );
            }
            n
        }
    };
    *last = Last::Extension {
        index,
        priority: Some(number),
    };
    let (app, data) = match app_text.map(parse_application) {
        Some(Ok((app, data, trailing))) => {
            if !trailing.is_empty() {
                problems.warn(
                    &entry.location,
                    format!("`{trailing}` after the closing `)` is ignored"),
                );
            }
            (app, data)
        }
        Some(Err(err)) => {
            problems.error(&entry.location, err.to_string());
            return;
        }
        None => {
            problems.error(&entry.location, LineError::MissingApp.to_string());
            return;
        }
    };
    let Some(extension) = context.extensions.get_mut(index) else {
        return;
    };
    if let Some(existing) = extension.steps.get(&number) {
        problems.error(
            &entry.location,
            format!(
                "priority {number} of extension `{}` is already defined at {}; the line is \
                 skipped",
                extension.name, existing.location
            ),
        );
        return;
    }
    let label = match label {
        Some(label) => match extension.labels.get(&label) {
            Some(&other) => {
                problems.warn(
                    &entry.location,
                    format!(
                        "label `{label}` of extension `{}` already names priority {other}; \
                         this priority gets no label",
                        extension.name
                    ),
                );
                None
            }
            None => {
                extension.labels.insert(label.clone(), number);
                Some(label)
            }
        },
        None => None,
    };
    extension.steps.insert(
        number,
        Step {
            priority: number,
            label,
            app: app.to_string(),
            data: data.to_string(),
            location: entry.location.clone(),
        },
    );
}

fn add_hint(entry: &Entry, value: &str, extension: &mut Extension, problems: &mut Problems) {
    if let Some((_, existing)) = &extension.hint {
        problems.error(
            &entry.location,
            format!(
                "extension `{}` already has a hint at {existing}; the line is skipped",
                extension.name
            ),
        );
        return;
    }
    extension.hint = Some((value.trim().to_string(), entry.location.clone()));
}

impl Context {
    /// The index of the extension `name` (with its parsed pattern), added when new.
    fn extension_index(&mut self, name: &str, pattern: Option<Pattern>) -> usize {
        let key = match &pattern {
            Some(pattern) => pattern.to_string(),
            None => name.to_string(),
        };
        if let Some(&index) = self.keys.get(&key) {
            return index;
        }
        let index = self.extensions.len();
        self.extensions.push(Extension {
            name: name.to_string(),
            pattern,
            steps: BTreeMap::new(),
            labels: HashMap::new(),
            hint: None,
        });
        self.keys.insert(key, index);
        index
    }
}

/// Splits `EXTENSION,rest` at the first comma outside `[...]` (so that a pattern set may
/// hold a comma), or at the first comma when a `[` is never closed. Both parts trimmed
/// (the rest only at its start).
fn split_extension(value: &str) -> Option<(&str, &str)> {
    let mut depth = 0usize;
    let mut at = None;
    for (i, c) in value.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                at = Some(i);
                break;
            }
            _ => {}
        }
    }
    let at = at.or_else(|| value.find(','))?;
    Some((value[..at].trim(), &value[at + 1..]))
}

/// `None` for a literal name, the pattern for `_...`.
fn parse_extension(name: &str) -> Result<Option<Pattern>, LineError> {
    if name.is_empty() {
        return Err(LineError::EmptyExtension);
    }
    if let Some(text) = name.strip_prefix('_') {
        return Pattern::parse(text)
            .map(Some)
            .map_err(|err| LineError::Pattern(name.to_string(), err));
    }
    if name.contains(char::is_whitespace) {
        return Err(LineError::BlankInExtension(name.to_string()));
    }
    Ok(None)
}

/// `1`, `n`, `next`, either with `(label)`, or `hint`.
fn parse_priority(text: &str) -> Result<(Priority, Option<String>), LineError> {
    if text == "hint" {
        return Ok((Priority::Hint, None));
    }
    let (base, label) = match text.find('(') {
        Some(open) => {
            let Some(inner) = text[open + 1..].strip_suffix(')') else {
                return Err(LineError::Label(text.to_string()));
            };
            let label = inner.trim();
            if label.is_empty()
                || label.bytes().all(|b| b.is_ascii_digit())
                || label.contains(['(', ')', ','])
            {
                return Err(LineError::Label(text.to_string()));
            }
            (text[..open].trim(), Some(label.to_string()))
        }
        None => (text, None),
    };
    let priority = match base {
        "n" | "next" => Priority::Next,
        digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            match digits.parse::<u32>() {
                Ok(n) if n > 0 => Priority::Number(n),
                _ => return Err(LineError::Priority(text.to_string())),
            }
        }
        _ => return Err(LineError::Priority(text.to_string())),
    };
    Ok((priority, label))
}

/// `App(data)`, `App()` or `App` into (app, data, text after the closing parenthesis).
fn parse_application(text: &str) -> Result<(&str, &str, &str), LineError> {
    let text = text.trim();
    let (app, data, trailing) = match text.find('(') {
        Some(open) => {
            let app = text[..open].trim();
            let Some(close) = text.rfind(')').filter(|&close| close > open) else {
                return Err(if app.is_empty() {
                    LineError::MissingApp
                } else {
                    LineError::Unclosed(app.to_string())
                });
            };
            (app, &text[open + 1..close], text[close + 1..].trim())
        }
        None => (text, "", ""),
    };
    if app.is_empty() {
        return Err(LineError::MissingApp);
    }
    if !app.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        if data.is_empty() && app.contains(',') {
            return Err(LineError::OldStyle(app.to_string()));
        }
        return Err(LineError::AppName(app.to_string()));
    }
    Ok((app, data, trailing))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priorities() {
        assert_eq!(parse_priority("1"), Ok((Priority::Number(1), None)));
        assert_eq!(parse_priority("42"), Ok((Priority::Number(42), None)));
        assert_eq!(parse_priority("n"), Ok((Priority::Next, None)));
        assert_eq!(parse_priority("next"), Ok((Priority::Next, None)));
        assert_eq!(parse_priority("hint"), Ok((Priority::Hint, None)));
        assert_eq!(
            parse_priority("n(loop)"),
            Ok((Priority::Next, Some("loop".into())))
        );
        assert_eq!(
            parse_priority("3( end )"),
            Ok((Priority::Number(3), Some("end".into())))
        );
        for bad in [
            "",
            "0",
            "-1",
            "x",
            "N",
            "s",
            "1a",
            "n()",
            "n(1)",
            "n(a",
            "hint(x)",
            "n(a)b",
            "4294967296",
        ] {
            assert!(parse_priority(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn applications() {
        assert_eq!(parse_application("Answer"), Ok(("Answer", "", "")));
        assert_eq!(parse_application(" Answer() "), Ok(("Answer", "", "")));
        assert_eq!(
            parse_application("Set(A=$[(1+2)*3])"),
            Ok(("Set", "A=$[(1+2)*3]", ""))
        );
        assert_eq!(parse_application("NoOp(a) b"), Ok(("NoOp", "a", "b")));
        assert_eq!(parse_application(""), Err(LineError::MissingApp));
        assert_eq!(parse_application("(x)"), Err(LineError::MissingApp));
        assert_eq!(
            parse_application("NoOp(x"),
            Err(LineError::Unclosed("NoOp".into()))
        );
        assert_eq!(
            parse_application("Dial,PJSIP/1"),
            Err(LineError::OldStyle("Dial,PJSIP/1".into()))
        );
        assert_eq!(
            parse_application("No-Op()"),
            Err(LineError::AppName("No-Op".into()))
        );
    }

    #[test]
    fn extension_split() {
        assert_eq!(split_extension("100,1,NoOp()"), Some(("100", "1,NoOp()")));
        assert_eq!(split_extension(" s , 1"), Some(("s", " 1")));
        assert_eq!(
            split_extension("_[1,2]X,1,NoOp()"),
            Some(("_[1,2]X", "1,NoOp()"))
        );
        assert_eq!(split_extension("_[12,1,NoOp()"), Some(("_[12", "1,NoOp()")));
        assert_eq!(split_extension("100"), None);
    }

    #[test]
    fn extension_names() {
        assert_eq!(parse_extension("100"), Ok(None));
        assert_eq!(parse_extension("start"), Ok(None));
        assert!(parse_extension("_1XX").is_ok_and(|p| p.is_some()));
        assert_eq!(parse_extension(""), Err(LineError::EmptyExtension));
        assert!(parse_extension("_").is_err());
        assert!(parse_extension("a b").is_err());
    }
}
