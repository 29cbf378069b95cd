//! Dialplan substitution and expressions (`runtime/src/core/dialplan/expr.rs`): `${...}`
//! and `$[...]` substitution with a variable lookup whose values come from the input too
//! (so values can contain further `${`), `$[...]` evaluation, application argument
//! splitting and `Goto`/`GotoIf` parsing.
//!
//! Input: the text to work on, NUL, the value every variable has.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wari::core::dialplan::expr;
use wari_fuzz::{parts, text};

fuzz_target!(|data: &[u8]| {
    let p = parts(data, 2);
    let (input, value) = (text(p[0]), text(p[1]));
    let lookup = |name: &str| -> Option<String> {
        // Unknown names exist too; some variables hold the input's value.
        (!name.len().is_multiple_of(3)).then(|| value.clone())
    };
    let substituted = expr::substitute(&input, &lookup);
    let _ = expr::evaluate(&input);
    let _ = expr::try_evaluate(&substituted);
    let _ = expr::is_true(&substituted);
    let _ = expr::split_args(&input);
    let _ = expr::parse_goto(&input, "ctx", "s");
    let (condition, if_true, if_false) = expr::parse_gotoif(&input);
    let _ = expr::is_true(&expr::substitute(&condition, &lookup));
    for branch in [if_true, if_false].into_iter().flatten() {
        let _ = expr::parse_goto(&branch, "ctx", "s");
    }
});
