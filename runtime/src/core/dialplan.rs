//! The dialplan: the contexts, extensions and priorities of `extensions.conf`, and the
//! rules Asterisk uses to find the step a channel runs next.
//!
//! [`Dialplan::from_conf`] reads a parsed [`ConfFile`]. In a context section:
//!
//! - `exten => EXTENSION,PRIORITY,App(data)` (or `exten = ...`), where PRIORITY is a
//!   number from 1, `n` / `next` (the priority of the line above in the section plus one),
//!   either with a `(label)`, or `hint` (stored, see [`Dialplan::hint`], never run); the
//!   application is `App(data)`, `App()` or `App`, and data is everything inside the
//!   outermost parentheses, verbatim.
//! - `same => PRIORITY,App(data)` continues the extension of the line above.
//! - `include => context` (a time-restricted include is ignored with a warning).
//! - Extension names are literal (`100`, `s`, `h`, `start`) or `_` patterns ([`pattern`]);
//!   a caller-ID match (`100/5551234`) is skipped with a warning.
//!
//! Sections with the same name form one context. Problems are reported with file:line and
//! the line is skipped; a `same` or `n` that depends on a skipped line is reported too.
//!
//! The lookups ([`Dialplan::step`], [`Dialplan::extension_exists`],
//! [`Dialplan::find_label`], [`Dialplan::hint`]) follow Asterisk's search:
//!
//! 1. In the context itself, the candidate extensions are the extension written exactly as
//!    dialed, then every pattern that matches, most specific first (see [`pattern`] for
//!    the ordering rule). The first candidate that has what is looked for (the priority,
//!    the label, any step) gives the answer. So, as in Asterisk's default matcher, a
//!    priority that the best extension lacks is taken from the next matching one: with
//!    `exten => 100,1,...` and `exten => _X.,2,...`, step 2 of `100` is the pattern's.
//! 2. Then the included contexts, in the order of their `include =>` lines, each searched
//!    the same way (its own extensions, then its includes), depth first. A context is
//!    searched at most once per lookup, so include cycles are harmless.
//!
//! Context names and literal extension names are case-sensitive.
//!
//! Data of steps is kept raw: [`expr::substitute`] expands it when the step runs.

pub mod expr;
mod parse;
pub(crate) mod pattern;

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::config::conf_file::ConfFile;
use crate::config::diagnostics::{Location, Problems};

pub use expr::{GotoTarget, PriorityRef};
pub use pattern::Pattern;

/// A whole dialplan: contexts by name, and the `[globals]` of the file.
#[derive(Debug, Clone, Default)]
pub struct Dialplan {
    contexts: HashMap<String, Context>,
    globals: Vec<(String, String)>,
}

/// One priority of one extension: an application and its (unexpanded) data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The priority number (1 and up); `n` priorities are numbered when the file is read.
    pub priority: u32,
    /// The label given with `n(label)` or `NUM(label)`.
    pub label: Option<String>,
    /// The application name as written.
    pub app: String,
    /// Everything inside the outermost parentheses, verbatim (no substitution done).
    pub data: String,
    /// Where the step was written.
    pub location: Location,
}

/// One `[context]` (all sections of that name together).
#[derive(Debug, Clone)]
struct Context {
    /// Extensions in the order they were first written.
    extensions: Vec<Extension>,
    /// Literal name, or canonical pattern spelling (starting with `_`), to index.
    keys: HashMap<String, usize>,
    /// Indexes of the pattern extensions, most specific first.
    patterns: Vec<usize>,
    /// `include =>` targets, in order.
    includes: Vec<String>,
}

/// One extension of a context, literal or pattern.
#[derive(Debug, Clone)]
struct Extension {
    /// The name as first written (for messages).
    name: String,
    /// `Some` for a `_` pattern.
    pattern: Option<Pattern>,
    steps: BTreeMap<u32, Step>,
    labels: HashMap<String, u32>,
    /// The `hint` priority's value.
    hint: Option<(String, Location)>,
}

impl Dialplan {
    /// Reads the contexts of `extensions.conf`. `[general]` and `[globals]` are not
    /// contexts; the entries of `[globals]` are returned by [`Dialplan::globals`]. Every
    /// problem is reported with file and line, and the line in question is skipped.
    pub fn from_conf(file: &ConfFile, problems: &mut Problems) -> Dialplan {
        parse::build(file, problems)
    }

    /// A dialplan with no contexts and no globals.
    pub fn empty() -> Dialplan {
        Dialplan::default()
    }

    /// The `[globals]` entries in file order, each value already expanded against the
    /// globals above it (as Asterisk does when loading them); a name given twice appears
    /// twice, so setting them in order leaves the last value.
    pub fn globals(&self) -> &[(String, String)] {
        &self.globals
    }

    /// True when a context of that name (case-sensitive) was defined, even empty.
    pub fn has_context(&self, context: &str) -> bool {
        self.contexts.contains_key(context)
    }

    /// The names of all contexts, sorted.
    pub fn context_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.contexts.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// The step to run at (`context`, `exten`, `priority`): from the extension written
    /// exactly as `exten`, else the most specific matching pattern, that has this
    /// priority; then the same in the included contexts (see the module documentation).
    /// `None` when nothing matches.
    pub fn step(&self, context: &str, exten: &str, priority: u32) -> Option<&Step> {
        self.search(context, exten, |extension| extension.steps.get(&priority))
    }

    /// True when `exten` matches an extension with at least one step (a `hint` alone does
    /// not count) in `context` or the contexts it includes.
    pub fn extension_exists(&self, context: &str, exten: &str) -> bool {
        self.search(context, exten, |extension| {
            (!extension.steps.is_empty()).then_some(())
        })
        .is_some()
    }

    /// The priority carrying `label` in the first matching extension that has it.
    pub fn find_label(&self, context: &str, exten: &str, label: &str) -> Option<u32> {
        self.search(context, exten, |extension| {
            extension.labels.get(label).copied()
        })
    }

    /// The priority a `Goto` target designates: its number, or the priority of its label
    /// (`None` when no matching extension has that label).
    pub fn resolve_priority(&self, target: &GotoTarget) -> Option<u32> {
        match &target.priority {
            PriorityRef::Number(n) => Some(*n),
            PriorityRef::Label(label) => self.find_label(&target.context, &target.exten, label),
        }
    }

    /// The `hint` of the first matching extension that has one (`exten => 100,hint,...`).
    pub fn hint(&self, context: &str, exten: &str) -> Option<&str> {
        self.search(context, exten, |extension| {
            extension.hint.as_ref().map(|(value, _)| value.as_str())
        })
    }

    /// Searches `context`, then its includes depth first, for the first candidate
    /// extension for which `found` gives a value.
    fn search<'a, T>(
        &'a self,
        context: &str,
        exten: &str,
        mut found: impl FnMut(&'a Extension) -> Option<T>,
    ) -> Option<T> {
        let mut visited: HashSet<&str> = HashSet::new();
        let mut pending: Vec<&str> = vec![context];
        while let Some(name) = pending.pop() {
            if !visited.insert(name) {
                continue;
            }
            let Some(ctx) = self.contexts.get(name) else {
                continue;
            };
            if let Some(value) = ctx.candidates(exten).find_map(&mut found) {
                return Some(value);
            }
            pending.extend(ctx.includes.iter().rev().map(String::as_str));
        }
        None
    }
}

impl Context {
    fn new() -> Context {
        Context {
            extensions: Vec::new(),
            keys: HashMap::new(),
            patterns: Vec::new(),
            includes: Vec::new(),
        }
    }

    /// The extension written exactly as `exten`, then the matching patterns, most
    /// specific first.
    fn candidates<'a, 'b>(
        &'a self,
        exten: &'b str,
    ) -> impl Iterator<Item = &'a Extension> + use<'a, 'b> {
        let exact = self
            .keys
            .get(exten)
            .and_then(|&i| self.extensions.get(i))
            .filter(|e| e.pattern.is_none());
        let patterns = self
            .patterns
            .iter()
            .filter_map(|&i| self.extensions.get(i))
            .filter(move |e| e.pattern.as_ref().is_some_and(|p| p.matches(exten)));
        exact.into_iter().chain(patterns)
    }

    /// Orders the pattern extensions, most specific first; equal ones keep file order.
    fn sort_patterns(&mut self) {
        let mut patterns: Vec<(Vec<u32>, usize)> = self
            .extensions
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.pattern.as_ref().map(|p| (p.specificity(), i)))
            .collect();
        patterns.sort();
        self.patterns = patterns.into_iter().map(|(_, i)| i).collect();
    }
}

#[cfg(test)]
mod tests;
