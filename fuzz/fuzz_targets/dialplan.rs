//! The dialplan (`runtime/src/core/dialplan/`): `extensions.conf` text is parsed into a
//! dialplan, which is then searched for an extension, a priority, a label and a hint named
//! by the input; the extension pattern parser and matcher get the same names.
//!
//! Input: `extensions.conf` text, NUL, a context, NUL, an extension, NUL, a label.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use wari::config::Problems;
use wari::config::conf_file;
use wari::core::dialplan::expr::parse_goto;
use wari::core::dialplan::{Dialplan, Pattern};
use wari_fuzz::{parts, text};

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 4);
    let (conf, context, exten, label) = (text(p[0]), text(p[1]), text(p[2]), text(p[3]));
    let mut problems = Problems::default();
    let file = conf_file::parse_str(Path::new("/fuzz/extensions.conf"), &conf, &mut problems);
    let dialplan = Dialplan::from_conf(&file, &mut problems);
    let mut contexts: Vec<String> = dialplan
        .context_names()
        .into_iter()
        .map(String::from)
        .collect();
    contexts.push(context.clone());
    for context in &contexts {
        let _ = dialplan.has_context(context);
        let _ = dialplan.extension_exists(context, &exten);
        for priority in [1, 2, 3, u32::MAX] {
            let _ = dialplan.step(context, &exten, priority);
        }
        let _ = dialplan.find_label(context, &exten, &label);
        let _ = dialplan.hint(context, &exten);
        if let Some(target) = parse_goto(&label, context, &exten) {
            let _ = dialplan.resolve_priority(&target);
        }
    }
    let _ = dialplan.globals();
    for candidate in [&exten, &context, &label] {
        if let Ok(pattern) = Pattern::parse(candidate) {
            let _ = pattern.matches(&exten);
            let _ = pattern.matches(&label);
            let _ = pattern.specificity();
            let _ = pattern.ignored_tail();
            let _ = pattern.to_string();
        }
    }
});
