//! Unit tests of the dialplan: reading extensions.conf, finding the next step, patterns.

use std::path::Path;

use super::*;
use crate::config::conf_file::parse_str;
use crate::config::diagnostics::Severity;

const FILE: &str = "/etc/asterisk/extensions.conf";

fn load(text: &str) -> (Dialplan, Problems) {
    let mut problems = Problems::default();
    let conf = parse_str(Path::new(FILE), text, &mut problems);
    assert!(problems.is_empty(), "conf parse problems: {problems:?}");
    let dialplan = Dialplan::from_conf(&conf, &mut problems);
    (dialplan, problems)
}

/// Loads `text`, which must have no problems.
fn clean(text: &str) -> Dialplan {
    let (dialplan, problems) = load(text);
    let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert!(all.is_empty(), "unexpected problems: {all:#?}");
    dialplan
}

/// (severity, line) of each problem.
fn lines(problems: &Problems) -> Vec<(Severity, u32)> {
    problems
        .iter()
        .map(|p| (p.severity, p.location.line))
        .collect()
}

fn app_at(dp: &Dialplan, context: &str, exten: &str, priority: u32) -> Option<String> {
    dp.step(context, exten, priority)
        .map(|s| format!("{}({})", s.app, s.data))
}

// --- parsing ---

#[test]
fn explicit_priorities() {
    let dp = clean("[c]\nexten => 100,1,Answer()\nexten => 100,2,Wait(1)\n");
    let step = dp.step("c", "100", 1).expect("step 1");
    assert_eq!(step.priority, 1);
    assert_eq!(step.app, "Answer");
    assert_eq!(step.data, "");
    assert_eq!(step.label, None);
    assert_eq!(step.location.to_string(), format!("{FILE}:2"));
    assert_eq!(app_at(&dp, "c", "100", 2).as_deref(), Some("Wait(1)"));
    assert_eq!(dp.step("c", "100", 3), None);
}

#[test]
fn next_priorities_and_same() {
    let dp = clean(
        "[c]\nexten => 100,1,NoOp(a)\n same => n,NoOp(b)\n same => n,NoOp(c)\n\
         exten => 100,n,NoOp(d)\n",
    );
    for (priority, data) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        assert_eq!(
            dp.step("c", "100", priority).map(|s| s.data.as_str()),
            Some(data)
        );
    }
}

#[test]
fn next_is_also_spelled_next() {
    let dp = clean("[c]\nexten => s,1,NoOp()\nexten => s,next,Hangup()\n");
    assert_eq!(app_at(&dp, "c", "s", 2).as_deref(), Some("Hangup()"));
}

#[test]
fn explicit_numbers_can_jump_and_n_follows() {
    let dp = clean("[c]\nexten => s,1,NoOp()\n same => 10,NoOp()\n same => n,Hangup()\n");
    assert!(dp.step("c", "s", 2).is_none());
    assert_eq!(app_at(&dp, "c", "s", 11).as_deref(), Some("Hangup()"));
}

#[test]
fn labels() {
    let dp = clean(
        "[c]\nexten => s,1(start),Answer()\n same => n(loop),Wait(1)\n \
         same => n,Goto(loop)\n same => 9(end),Hangup()\n",
    );
    assert_eq!(dp.find_label("c", "s", "start"), Some(1));
    assert_eq!(dp.find_label("c", "s", "loop"), Some(2));
    assert_eq!(dp.find_label("c", "s", "end"), Some(9));
    assert_eq!(dp.find_label("c", "s", "nope"), None);
    assert_eq!(dp.find_label("c", "x", "loop"), None);
    assert_eq!(
        dp.step("c", "s", 2).and_then(|s| s.label.as_deref()),
        Some("loop")
    );
    assert_eq!(dp.step("c", "s", 3).and_then(|s| s.label.as_deref()), None);
}

#[test]
fn labels_are_case_sensitive() {
    let dp = clean("[c]\nexten => s,1(Start),NoOp()\n");
    assert_eq!(dp.find_label("c", "s", "start"), None);
    assert_eq!(dp.find_label("c", "s", "Start"), Some(1));
}

#[test]
fn data_is_kept_verbatim() {
    let dp = clean(
        "[c]\nexten => s,1,Set(X=${IF($[${A} > 1]?a,b:c)})\n \
         same => n,NoOp( spaced , \"q,q\" )\n same => n,Log(NOTICE,(nested (parens)))\n",
    );
    assert_eq!(
        dp.step("c", "s", 1).map(|s| s.data.as_str()),
        Some("X=${IF($[${A} > 1]?a,b:c)}")
    );
    assert_eq!(
        dp.step("c", "s", 2).map(|s| s.data.as_str()),
        Some(" spaced , \"q,q\" ")
    );
    assert_eq!(
        dp.step("c", "s", 3).map(|s| s.data.as_str()),
        Some("NOTICE,(nested (parens))")
    );
}

#[test]
fn app_forms() {
    let dp = clean(
        "[c]\nexten => s,1,Answer\n same => n,Answer()\n same => n, Wait ( 2 )\n\
         exten = t,1,Hangup\n",
    );
    assert_eq!(app_at(&dp, "c", "s", 1).as_deref(), Some("Answer()"));
    assert_eq!(app_at(&dp, "c", "s", 2).as_deref(), Some("Answer()"));
    assert_eq!(app_at(&dp, "c", "s", 3).as_deref(), Some("Wait( 2 )"));
    assert_eq!(app_at(&dp, "c", "t", 1).as_deref(), Some("Hangup()"));
}

#[test]
fn keys_are_case_insensitive_and_spaces_allowed() {
    let dp = clean("[c]\nEXTEN => 1 , 1 , NoOp(x)\nSame => n , NoOp(y)\n");
    assert_eq!(app_at(&dp, "c", "1", 2).as_deref(), Some("NoOp(y)"));
}

#[test]
fn hints_are_stored_not_run() {
    let dp = clean(
        "[c]\nexten => 100,hint,PJSIP/100&PJSIP/101,CustomPresence:100\n\
         exten => 100,1,Dial(PJSIP/100)\n same => n,Hangup()\nexten => 200,hint,PJSIP/200\n",
    );
    assert_eq!(
        dp.hint("c", "100"),
        Some("PJSIP/100&PJSIP/101,CustomPresence:100")
    );
    assert_eq!(app_at(&dp, "c", "100", 2).as_deref(), Some("Hangup()"));
    assert_eq!(dp.hint("c", "200"), Some("PJSIP/200"));
    assert!(!dp.extension_exists("c", "200"));
    assert!(dp.step("c", "200", 1).is_none());
    assert_eq!(dp.hint("c", "300"), None);
}

#[test]
fn hint_does_not_move_the_n_counter() {
    let dp =
        clean("[c]\nexten => 100,1,NoOp()\nexten => 100,hint,PJSIP/100\n same => n,Hangup()\n");
    assert_eq!(app_at(&dp, "c", "100", 2).as_deref(), Some("Hangup()"));
}

#[test]
fn general_and_globals_are_not_contexts() {
    let dp = clean(
        "[general]\nstatic=yes\nwriteprotect=no\nautofallthrough=yes\n\
         [globals]\nA=1\nB=${A}2\nA=3\n[c]\nexten => s,1,NoOp()\n",
    );
    assert!(!dp.has_context("general"));
    assert!(!dp.has_context("globals"));
    assert!(dp.has_context("c"));
    let globals: Vec<(&str, &str)> = dp
        .globals()
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(globals, [("A", "1"), ("B", "12"), ("A", "3")]);
}

#[test]
fn globals_section_name_is_case_insensitive() {
    let dp = clean("[GLOBALS]\nX=1\n[General]\nstatic=yes\n");
    assert_eq!(dp.globals().len(), 1);
    assert!(dp.context_names().is_empty());
}

#[test]
fn unknown_general_option_warns() {
    let (_, problems) = load("[general]\nstatic=yes\nfrobnicate=1\n");
    assert_eq!(lines(&problems), [(Severity::Warning, 3)]);
}

#[test]
fn empty_context_exists() {
    let dp = clean("[empty]\n[other]\nexten => s,1,NoOp()\n");
    assert!(dp.has_context("empty"));
    assert!(!dp.has_context("Empty"));
    assert_eq!(dp.context_names(), ["empty", "other"]);
    assert!(!dp.extension_exists("empty", "s"));
}

#[test]
fn sections_of_the_same_name_merge() {
    let dp = clean("[c]\nexten => 1,1,NoOp()\n[d]\n[c]\nexten => 2,1,NoOp()\n");
    assert!(dp.extension_exists("c", "1"));
    assert!(dp.extension_exists("c", "2"));
}

#[test]
fn templates_are_not_contexts_but_are_inherited() {
    let dp = clean("[base](!)\nexten => h,1,Hangup()\n[c](base)\nexten => s,1,NoOp()\n");
    assert!(!dp.has_context("base"));
    assert!(dp.extension_exists("c", "h"));
    assert!(dp.extension_exists("c", "s"));
}

#[test]
fn empty_dialplan() {
    let dp = Dialplan::empty();
    assert!(dp.globals().is_empty());
    assert!(!dp.has_context("default"));
    assert!(dp.step("default", "s", 1).is_none());
    assert!(!dp.extension_exists("default", "s"));
}

#[test]
fn embedded_demo_dialplan_parses_cleanly() {
    let dp = clean(include_str!("../../../defaults/extensions.conf"));
    assert!(dp.has_context("default"));
    assert_eq!(
        app_at(&dp, "default", "100", 2).as_deref(),
        Some("Stasis(hello)")
    );
    assert_eq!(
        app_at(&dp, "default", "100", 3).as_deref(),
        Some("Hangup()")
    );
    assert_eq!(
        app_at(&dp, "default", "200", 1).as_deref(),
        Some("Answer()")
    );
    assert_eq!(app_at(&dp, "default", "200", 2).as_deref(), Some("Wait(1)"));
}

// --- errors, with their lines ---

#[test]
fn bad_priorities_are_errors() {
    let (dp, problems) = load(
        "[c]\nexten => s,0,NoOp()\nexten => s,x,NoOp()\nexten => s,-1,NoOp()\n\
         exten => s,1(),NoOp()\nexten => s,1(a,NoOp()\nexten => s,1(12),NoOp()\n\
         exten => s,,NoOp()\nexten => s,hint(x),NoOp()\nexten => s,1,NoOp()\n",
    );
    assert_eq!(
        lines(&problems),
        (2..=9).map(|l| (Severity::Error, l)).collect::<Vec<_>>()
    );
    assert!(dp.step("c", "s", 1).is_some());
}

#[test]
fn same_before_exten_is_an_error() {
    let (dp, problems) = load("[c]\n same => 1,NoOp()\nexten => s,1,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Error, 2)]);
    assert!(dp.extension_exists("c", "s"));
}

#[test]
fn same_does_not_continue_across_sections() {
    let (_, problems) = load("[c]\nexten => s,1,NoOp()\n[d]\n same => n,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Error, 4)]);
}

#[test]
fn n_without_a_line_above_is_an_error() {
    let (dp, problems) = load("[c]\nexten => s,n,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Error, 2)]);
    assert!(!dp.extension_exists("c", "s"));
}

#[test]
fn n_after_a_bad_priority_is_an_error() {
    let (dp, problems) =
        load("[c]\nexten => s,x,NoOp()\n same => n,NoOp()\n same => 5,NoOp()\n same => n,NoOp()\n");
    assert_eq!(
        lines(&problems),
        [(Severity::Error, 2), (Severity::Error, 3)]
    );
    assert!(dp.step("c", "s", 6).is_some());
}

#[test]
fn n_after_a_bad_app_still_counts() {
    let (dp, problems) = load("[c]\nexten => s,1,\n same => n,NoOp(two)\n");
    assert_eq!(lines(&problems), [(Severity::Error, 2)]);
    assert!(dp.step("c", "s", 1).is_none());
    assert_eq!(app_at(&dp, "c", "s", 2).as_deref(), Some("NoOp(two)"));
}

#[test]
fn n_on_a_new_extension_continues_but_warns() {
    let (dp, problems) = load("[c]\nexten => 100,1,NoOp()\nexten => 200,n,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Warning, 3)]);
    assert!(dp.step("c", "200", 2).is_some());
}

#[test]
fn duplicate_priority_is_an_error() {
    let (dp, problems) =
        load("[c]\nexten => s,1,NoOp(first)\nexten => s,1,NoOp(second)\n same => n,NoOp(two)\n");
    assert_eq!(lines(&problems), [(Severity::Error, 3)]);
    assert!(problems.iter().all(|p| p.message.contains(":2")));
    assert_eq!(app_at(&dp, "c", "s", 1).as_deref(), Some("NoOp(first)"));
    assert_eq!(app_at(&dp, "c", "s", 2).as_deref(), Some("NoOp(two)"));
}

#[test]
fn duplicate_priority_across_sections_and_pattern_spellings() {
    let (_, problems) = load("[c]\nexten => _1xx,1,NoOp()\n[c]\nexten => _1-X-X,1,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Error, 4)]);
}

#[test]
fn duplicate_label_warns_and_keeps_the_step() {
    let (dp, problems) = load("[c]\nexten => s,1(a),NoOp()\n same => n(a),NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Warning, 3)]);
    assert_eq!(dp.find_label("c", "s", "a"), Some(1));
    assert!(dp.step("c", "s", 2).is_some_and(|s| s.label.is_none()));
}

#[test]
fn duplicate_hint_is_an_error() {
    let (dp, problems) = load("[c]\nexten => 1,hint,A\nexten => 1,hint,B\n");
    assert_eq!(lines(&problems), [(Severity::Error, 3)]);
    assert_eq!(dp.hint("c", "1"), Some("A"));
}

#[test]
fn missing_or_bad_app_is_an_error() {
    let (dp, problems) = load(
        "[c]\nexten => s,1\nexten => s,2,\nexten => s,3,(x)\nexten => s,4,NoOp(x\n\
         exten => s,5,Dial,PJSIP/1\nexten => s,6,No Op()\nexten => s,7,NoOp()\n",
    );
    assert_eq!(
        lines(&problems),
        (2..=7).map(|l| (Severity::Error, l)).collect::<Vec<_>>()
    );
    assert!(dp.step("c", "s", 7).is_some());
    for priority in 1..=6 {
        assert!(dp.step("c", "s", priority).is_none());
    }
}

#[test]
fn text_after_the_arguments_warns() {
    let (dp, problems) = load("[c]\nexten => s,1,NoOp(x) trailing\n");
    assert_eq!(lines(&problems), [(Severity::Warning, 2)]);
    assert_eq!(app_at(&dp, "c", "s", 1).as_deref(), Some("NoOp(x)"));
}

#[test]
fn bad_extension_lines_are_errors() {
    let (dp, problems) = load(
        "[c]\nexten => 100\nexten => ,1,NoOp()\nexten => _,1,NoOp()\nexten => _[12,1,NoOp()\n\
         exten => 1 2,1,NoOp()\nexten => 3,1,NoOp()\n",
    );
    assert_eq!(
        lines(&problems),
        (2..=6).map(|l| (Severity::Error, l)).collect::<Vec<_>>()
    );
    assert!(dp.extension_exists("c", "3"));
}

#[test]
fn same_after_a_skipped_extension_is_skipped_with_a_warning() {
    let (dp, problems) = load(
        "[c]\nexten => 1,1,NoOp()\nexten => _[,1,NoOp()\n same => n,NoOp()\n\
         exten => 1,2,NoOp()\n",
    );
    assert_eq!(
        lines(&problems),
        [(Severity::Error, 3), (Severity::Warning, 4)]
    );
    assert!(problems.iter().any(|p| p.message.contains("line 3")));
    assert!(dp.step("c", "1", 2).is_some());
}

#[test]
fn callerid_match_is_skipped_with_a_warning() {
    let (dp, problems) =
        load("[c]\nexten => 100/5551234,1,NoOp()\n same => n,Hangup()\nexten => 100,1,NoOp()\n");
    assert_eq!(
        lines(&problems),
        [(Severity::Warning, 2), (Severity::Warning, 3)]
    );
    assert_eq!(app_at(&dp, "c", "100", 1).as_deref(), Some("NoOp()"));
    assert!(dp.step("c", "100", 2).is_none());
}

#[test]
fn text_after_a_wildcard_warns() {
    let (dp, problems) = load("[c]\nexten => _X.5,1,NoOp()\n");
    assert_eq!(lines(&problems), [(Severity::Warning, 2)]);
    assert!(dp.extension_exists("c", "12"));
}

#[test]
fn unsupported_and_unknown_directives_warn() {
    let (_, problems) =
        load("[c]\nswitch => Realtime/@\nignorepat => 9\nfoo = bar\nexten => s,1,NoOp()\n");
    assert_eq!(
        lines(&problems),
        [
            (Severity::Warning, 2),
            (Severity::Warning, 3),
            (Severity::Warning, 4)
        ]
    );
}

#[test]
fn include_problems() {
    let (dp, problems) = load(
        "[c]\ninclude => missing\ninclude =>\ninclude => d,09:00-17:00,mon-fri,*,*\n\
         include => d\n[d]\nexten => s,1,NoOp()\n",
    );
    assert_eq!(
        lines(&problems),
        [
            (Severity::Error, 3),
            (Severity::Warning, 4),
            (Severity::Warning, 2)
        ]
    );
    assert!(dp.extension_exists("c", "s"));
}

#[test]
fn errors_carry_the_file_and_line() {
    let (_, problems) = load("[c]\n\nexten => s,bad,NoOp()\n");
    let problem = problems.iter().next().expect("one problem");
    assert_eq!(problem.location.to_string(), format!("{FILE}:3"));
    assert!(problem.message.contains("bad"), "{}", problem.message);
}

// --- matching ---

#[test]
fn exact_extension_wins_over_patterns() {
    let dp = clean("[c]\nexten => _1XX,1,NoOp(pattern)\nexten => 100,1,NoOp(exact)\n");
    assert_eq!(app_at(&dp, "c", "100", 1).as_deref(), Some("NoOp(exact)"));
    assert_eq!(app_at(&dp, "c", "101", 1).as_deref(), Some("NoOp(pattern)"));
    assert_eq!(dp.step("c", "1000", 1), None);
}

#[test]
fn most_specific_pattern_wins_whatever_the_file_order() {
    let dp = clean(
        "[c]\nexten => _X.,1,NoOp(X.)\nexten => _1.,1,NoOp(1.)\nexten => _1XX,1,NoOp(1XX)\n\
         exten => _10X,1,NoOp(10X)\nexten => _X!,1,NoOp(X!)\n",
    );
    assert_eq!(app_at(&dp, "c", "100", 1).as_deref(), Some("NoOp(10X)"));
    assert_eq!(app_at(&dp, "c", "110", 1).as_deref(), Some("NoOp(1XX)"));
    assert_eq!(app_at(&dp, "c", "1100", 1).as_deref(), Some("NoOp(1.)"));
    assert_eq!(app_at(&dp, "c", "200", 1).as_deref(), Some("NoOp(X.)"));
    assert_eq!(app_at(&dp, "c", "2", 1).as_deref(), Some("NoOp(X!)"));
    assert_eq!(dp.step("c", "abc", 1), None);
}

#[test]
fn smaller_sets_win() {
    let dp = clean(
        "[c]\nexten => _X,1,NoOp(X)\nexten => _Z,1,NoOp(Z)\nexten => _N,1,NoOp(N)\n\
         exten => _[2-4],1,NoOp(set)\n",
    );
    assert_eq!(app_at(&dp, "c", "3", 1).as_deref(), Some("NoOp(set)"));
    assert_eq!(app_at(&dp, "c", "5", 1).as_deref(), Some("NoOp(N)"));
    assert_eq!(app_at(&dp, "c", "1", 1).as_deref(), Some("NoOp(Z)"));
    assert_eq!(app_at(&dp, "c", "0", 1).as_deref(), Some("NoOp(X)"));
}

#[test]
fn equally_specific_patterns_keep_file_order() {
    let dp = clean("[c]\nexten => _[13]X,1,NoOp(first)\nexten => _[12]X,1,NoOp(second)\n");
    assert_eq!(app_at(&dp, "c", "10", 1).as_deref(), Some("NoOp(first)"));
    assert_eq!(app_at(&dp, "c", "20", 1).as_deref(), Some("NoOp(second)"));
}

#[test]
fn missing_priority_falls_through_to_the_next_match() {
    let dp = clean(
        "[c]\nexten => 100,1,NoOp(exact)\nexten => _1XX,1,NoOp(p1)\n same => n,NoOp(p2)\n\
         exten => _X.,3,NoOp(p3)\n",
    );
    assert_eq!(app_at(&dp, "c", "100", 1).as_deref(), Some("NoOp(exact)"));
    assert_eq!(app_at(&dp, "c", "100", 2).as_deref(), Some("NoOp(p2)"));
    assert_eq!(app_at(&dp, "c", "100", 3).as_deref(), Some("NoOp(p3)"));
    assert_eq!(dp.step("c", "100", 4), None);
}

#[test]
fn literal_names_are_case_sensitive() {
    let dp = clean("[c]\nexten => start,1,NoOp()\n");
    assert!(dp.extension_exists("c", "start"));
    assert!(!dp.extension_exists("c", "Start"));
    assert!(!dp.extension_exists("C", "start"));
}

#[test]
fn special_extensions_are_literals() {
    let dp = clean(
        "[c]\nexten => s,1,NoOp(s)\nexten => h,1,NoOp(h)\nexten => i,1,NoOp(i)\n\
         exten => t,1,NoOp(t)\nexten => _X.,1,NoOp(any)\n",
    );
    for name in ["s", "h", "i", "t"] {
        assert_eq!(app_at(&dp, "c", name, 1), Some(format!("NoOp({name})")));
    }
}

#[test]
fn a_dialed_underscore_name_is_not_a_pattern() {
    let dp = clean("[c]\nexten => _1X,1,NoOp()\n");
    assert!(!dp.extension_exists("c", "_1X"));
    assert!(dp.extension_exists("c", "12"));
}

// --- includes ---

#[test]
fn includes_are_searched_after_own_extensions_in_order() {
    let dp = clean(
        "[a]\ninclude => b\ninclude => c\nexten => _X.,1,NoOp(a)\n\
         [b]\nexten => 100,1,NoOp(b)\nexten => 300,1,NoOp(b)\n[c]\nexten => 300,1,NoOp(c)\n\
         exten => s,1,NoOp(c)\n",
    );
    assert_eq!(app_at(&dp, "a", "100", 1).as_deref(), Some("NoOp(a)"));
    assert_eq!(app_at(&dp, "a", "s", 1).as_deref(), Some("NoOp(c)"));
    assert_eq!(app_at(&dp, "b", "300", 1).as_deref(), Some("NoOp(b)"));
    assert!(!dp.extension_exists("b", "s"));
}

#[test]
fn includes_are_depth_first() {
    let dp = clean(
        "[a]\ninclude => b\ninclude => c\n[b]\ninclude => d\n[c]\nexten => x,1,NoOp(c)\n\
         [d]\nexten => x,1,NoOp(d)\n",
    );
    assert_eq!(app_at(&dp, "a", "x", 1).as_deref(), Some("NoOp(d)"));
}

#[test]
fn include_cycles_terminate() {
    let dp = clean("[a]\ninclude => b\ninclude => a\n[b]\ninclude => a\nexten => 1,1,NoOp(b)\n");
    assert_eq!(app_at(&dp, "a", "1", 1).as_deref(), Some("NoOp(b)"));
    assert!(!dp.extension_exists("a", "2"));
    assert_eq!(dp.find_label("b", "2", "x"), None);
}

#[test]
fn labels_and_hints_through_includes() {
    let dp = clean("[a]\ninclude => b\n[b]\nexten => _X,1(top),NoOp()\nexten => 5,hint,PJSIP/5\n");
    assert_eq!(dp.find_label("a", "7", "top"), Some(1));
    assert_eq!(dp.hint("a", "5"), Some("PJSIP/5"));
}

#[test]
fn resolve_goto_targets() {
    let dp = clean("[c]\nexten => s,1,NoOp()\n same => n(again),NoOp()\n");
    let target = expr::parse_goto("again", "c", "s").expect("target");
    assert_eq!(dp.resolve_priority(&target), Some(2));
    let target = expr::parse_goto("s,7", "c", "x").expect("target");
    assert_eq!(dp.resolve_priority(&target), Some(7));
    let target = expr::parse_goto("nowhere", "c", "s").expect("target");
    assert_eq!(dp.resolve_priority(&target), None);
}
