//! Unit tests of the dialplan text language: substitution, expressions, argument splitting and Goto targets.

use super::*;
use std::collections::HashMap;

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn sub(text: &str, pairs: &[(&str, &str)]) -> String {
    let map = vars(pairs);
    substitute(text, &|name| map.get(name).cloned())
}

// --- substitute ---

#[test]
fn plain_text_is_unchanged() {
    assert_eq!(sub("hello, world", &[]), "hello, world");
    assert_eq!(sub("", &[]), "");
    assert_eq!(sub("cost $5", &[]), "cost $5");
    assert_eq!(sub("$", &[]), "$");
    assert_eq!(sub("a$b{c}", &[]), "a$b{c}");
}

#[test]
fn variables() {
    let v = [("X", "1"), ("NAME", "Alice")];
    assert_eq!(sub("${X}", &v), "1");
    assert_eq!(sub("hi ${NAME}!", &v), "hi Alice!");
    assert_eq!(sub("${X}${X}", &v), "11");
    assert_eq!(sub("${NAME}-${X}", &v), "Alice-1");
}

#[test]
fn unknown_variables_are_empty() {
    assert_eq!(sub("[${NOPE}]", &[]), "[]");
    assert_eq!(sub("${}", &[]), "");
}

#[test]
fn names_are_case_sensitive_to_lookup() {
    assert_eq!(sub("${x}", &[("X", "1")]), "");
}

#[test]
fn values_are_not_expanded_again() {
    assert_eq!(sub("${A}", &[("A", "${B}"), ("B", "no")]), "${B}");
}

#[test]
fn substrings() {
    let v = [("E", "5551234")];
    assert_eq!(sub("${E:3}", &v), "1234");
    assert_eq!(sub("${E:0:3}", &v), "555");
    assert_eq!(sub("${E:1:2}", &v), "55");
    assert_eq!(sub("${E:-4}", &v), "1234");
    assert_eq!(sub("${E:-4:2}", &v), "12");
    assert_eq!(sub("${E:0:-2}", &v), "55512");
    assert_eq!(sub("${E:2:-2}", &v), "512");
    assert_eq!(sub("${E:3:}", &v), "1234");
}

#[test]
fn substring_edges() {
    let v = [("E", "abc")];
    assert_eq!(sub("${E:10}", &v), "");
    assert_eq!(sub("${E:3}", &v), "");
    assert_eq!(sub("${E:-10}", &v), "abc");
    assert_eq!(sub("${E:0:100}", &v), "abc");
    assert_eq!(sub("${E:1:-5}", &v), "");
    assert_eq!(sub("${E:0:0}", &v), "");
    assert_eq!(sub("${NONE:1:2}", &v), "");
    assert_eq!(sub("${E:junk}", &v), "abc");
}

#[test]
fn substrings_count_characters() {
    assert_eq!(sub("${U:1:2}", &[("U", "héllo")]), "él");
}

#[test]
fn nested_names() {
    let v = [("WHICH", "B"), ("B", "bee"), ("N", "2"), ("VAR2", "two")];
    assert_eq!(sub("${${WHICH}}", &v), "bee");
    assert_eq!(sub("${VAR${N}}", &v), "two");
    assert_eq!(sub("${${WHICH}:1}", &v), "ee");
    assert_eq!(sub("${B:${N}}", &v), "e");
}

#[test]
fn len_exists_isnull() {
    let v = [("X", "hello")];
    assert_eq!(sub("${LEN(${X})}", &v), "5");
    assert_eq!(sub("${LEN()}", &v), "0");
    assert_eq!(sub("${LEN(a b)}", &v), "3");
    assert_eq!(sub("${EXISTS(${X})}", &v), "1");
    assert_eq!(sub("${EXISTS(${Y})}", &v), "0");
    assert_eq!(sub("${ISNULL(${Y})}", &v), "1");
    assert_eq!(sub("${len(abc)}", &v), "3");
}

#[test]
fn if_function() {
    let v = [("T", "1"), ("F", "0")];
    assert_eq!(sub("${IF(${T}?yes:no)}", &v), "yes");
    assert_eq!(sub("${IF(${F}?yes:no)}", &v), "no");
    assert_eq!(sub("${IF(?yes:no)}", &v), "no");
    assert_eq!(sub("${IF(1?yes)}", &v), "yes");
    assert_eq!(sub("${IF(0?yes)}", &v), "");
    assert_eq!(sub("${IF(1? \"a b\" :no)}", &v), "a b");
    assert_eq!(sub("${IF($[${T} = 1]?one:other)}", &v), "one");
    assert_eq!(sub("${IF(no question)}", &v), "");
}

#[test]
fn function_results_take_substrings() {
    assert_eq!(sub("${IF(1?abcdef:x):2:3}", &[]), "cde");
    assert_eq!(sub("${LEN(abcdefghijkl):1}", &[]), "2");
}

#[test]
fn other_functions_go_to_lookup() {
    let v = [("CALLERID(num)", "5551234")];
    assert_eq!(sub("${CALLERID(num)}", &v), "5551234");
    assert_eq!(sub("${CALLERID(num):-4}", &v), "1234");
    assert_eq!(sub("${NOSUCH(x)}", &v), "");
}

#[test]
fn expressions_are_evaluated() {
    let v = [("A", "2"), ("B", "3")];
    assert_eq!(sub("$[1 + 2]", &v), "3");
    assert_eq!(sub("n=$[${A} * ${B}]!", &v), "n=6!");
    assert_eq!(sub("$[${A} * $[${B} + 1]]", &v), "8");
    assert_eq!(sub("${X$[1+1]}", &[("X2", "ok")]), "ok");
    assert_eq!(sub("$[]", &v), "");
}

#[test]
fn unclosed_is_kept_as_text() {
    assert_eq!(sub("a ${X", &[("X", "1")]), "a ${X");
    assert_eq!(sub("${X} ${Y", &[("X", "1")]), "1 ${Y");
    assert_eq!(sub("$[1 + 2", &[]), "$[1 + 2");
}

#[test]
fn braces_inside_are_balanced() {
    assert_eq!(sub("${A}}", &[("A", "x")]), "x}");
    assert_eq!(sub("${${A}}", &[("A", "B"), ("B", "y")]), "y");
}

#[test]
fn very_deep_nesting_does_not_overflow() {
    let text = format!("{}X{}", "${".repeat(5000), "}".repeat(5000));
    assert_eq!(sub(&text, &[]), "");
}

// --- evaluate ---

fn ev(expression: &str) -> String {
    evaluate(expression)
}

#[test]
fn arithmetic() {
    assert_eq!(ev("1 + 2"), "3");
    assert_eq!(ev("1+2"), "3");
    assert_eq!(ev("10 - 15"), "-5");
    assert_eq!(ev("6 * 7"), "42");
    assert_eq!(ev("7 / 2"), "3");
    assert_eq!(ev("-7 / 2"), "-3");
    assert_eq!(ev("7 % 3"), "1");
    assert_eq!(ev("-7 % 3"), "-1");
}

#[test]
fn precedence() {
    assert_eq!(ev("1 + 2 * 3"), "7");
    assert_eq!(ev("(1+2)*3"), "9");
    assert_eq!(ev("10 - 2 - 3"), "5");
    assert_eq!(ev("100 / 10 / 5"), "2");
    assert_eq!(ev("2 * 3 % 4"), "2");
    assert_eq!(ev("1 + 1 = 2"), "1");
    assert_eq!(ev("1 = 1 & 2 = 3"), "0");
    assert_eq!(ev("1 = 2 | 2 = 2"), "1");
    assert_eq!(ev("0 | 0 & 1"), "0");
    assert_eq!(ev("1 | 0 & 0"), "1");
    assert_eq!(ev("-2 * 3"), "-6");
    assert_eq!(ev("- (2 + 3)"), "-5");
    assert_eq!(ev("--4"), "4");
    assert_eq!(ev("!0 + 1"), "2");
}

#[test]
fn comparisons_numeric() {
    assert_eq!(ev("5 > 10"), "0");
    assert_eq!(ev("5 < 10"), "1");
    assert_eq!(ev("10 >= 10"), "1");
    assert_eq!(ev("9 <= 8"), "0");
    assert_eq!(ev("3 != 4"), "1");
    assert_eq!(ev("3 == 3"), "1");
    assert_eq!(ev("007 = 7"), "1");
    assert_eq!(ev("-1 < 0"), "1");
    assert_eq!(ev("\"10\" > \"9\""), "1");
}

#[test]
fn comparisons_string() {
    assert_eq!(ev("\"a\" = \"a\""), "1");
    assert_eq!(ev("\"a\" = \"b\""), "0");
    assert_eq!(ev("abc < abd"), "1");
    assert_eq!(ev("\"10\" > \"9x\""), "0");
    assert_eq!(ev("foo != bar"), "1");
    assert_eq!(ev("\"\" = \"\""), "1");
    assert_eq!(ev("\"a b\" = \"a b\""), "1");
}

#[test]
fn logic() {
    assert_eq!(ev("1 & 1"), "1");
    assert_eq!(ev("5 & 7"), "5");
    assert_eq!(ev("1 & 0"), "0");
    assert_eq!(ev("\"\" & 1"), "0");
    assert_eq!(ev("0 | 3"), "3");
    assert_eq!(ev("abc | 3"), "abc");
    assert_eq!(ev("\"\" | \"\""), "");
    assert_eq!(ev("!0"), "1");
    assert_eq!(ev("!1"), "0");
    assert_eq!(ev("!\"\""), "1");
    assert_eq!(ev("!abc"), "0");
    assert_eq!(ev("!(1 = 2)"), "1");
}

#[test]
fn lone_values() {
    assert_eq!(ev("42"), "42");
    assert_eq!(ev("007"), "007");
    assert_eq!(ev("  hello  "), "hello");
    assert_eq!(ev("\"a b\""), "a b");
    assert_eq!(ev("\"say \\\"hi\\\"\""), "say \"hi\"");
    assert_eq!(ev("(((5)))"), "5");
    assert_eq!(ev(""), "");
    assert_eq!(ev("   "), "");
}

#[test]
fn errors_give_empty() {
    assert_eq!(ev("1 +"), "");
    assert_eq!(ev("= 1"), "");
    assert_eq!(ev("(1 + 2"), "");
    assert_eq!(ev("1 + 2)"), "");
    assert_eq!(ev("1 2"), "");
    assert_eq!(ev("a + 1"), "");
    assert_eq!(ev("-abc"), "");
    assert_eq!(ev("\"open"), "");
    assert_eq!(ev("1 / 0"), "");
    assert_eq!(ev("1 % 0"), "");
    assert_eq!(ev("9223372036854775807 + 1"), "");
    assert_eq!(ev("99999999999999999999 + 1"), "");
    assert_eq!(ev("abc : a"), "");
    assert_eq!(ev("abc =~ a"), "");
    assert_eq!(ev("1 ? 2 :: 3"), "");
}

#[test]
fn error_kinds() {
    assert_eq!(try_evaluate("1 / 0"), Err(ExprError::DivisionByZero));
    assert_eq!(
        try_evaluate("x * 2"),
        Err(ExprError::NotANumber("x".into()))
    );
    assert_eq!(try_evaluate("1 +"), Err(ExprError::UnexpectedEnd));
    assert_eq!(try_evaluate("1 )"), Err(ExprError::Unexpected(")".into())));
    assert_eq!(
        try_evaluate("a =~ b"),
        Err(ExprError::Unsupported("=~".into()))
    );
}

#[test]
fn deep_expressions_do_not_overflow() {
    let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(try_evaluate(&deep), Err(ExprError::TooDeep));
    assert_eq!(try_evaluate(&"-".repeat(100_000)), Err(ExprError::TooDeep));
    assert_eq!(
        try_evaluate(&format!("{}1", "!".repeat(50))),
        Ok("1".into())
    );
    assert_eq!(
        try_evaluate(&format!("{}1", "!".repeat(51))),
        Ok("0".into())
    );
}

// --- is_true ---

#[test]
fn truth() {
    assert!(!is_true(""));
    assert!(!is_true("   "));
    assert!(!is_true("0"));
    assert!(!is_true(" 0 "));
    assert!(!is_true("00"));
    assert!(!is_true("-0"));
    assert!(!is_true("0abc"));
    assert!(is_true("1"));
    assert!(is_true("-1"));
    assert!(is_true("10"));
    assert!(is_true("abc"));
    assert!(is_true("no"));
    assert!(is_true("-"));
    assert!(!is_true("0 1"));
}

// --- split_args ---

#[test]
fn split_simple() {
    assert_eq!(split_args(""), [""]);
    assert_eq!(split_args("a"), ["a"]);
    assert_eq!(split_args("a,b,c"), ["a", "b", "c"]);
    assert_eq!(split_args("a,,c"), ["a", "", "c"]);
    assert_eq!(split_args(","), ["", ""]);
    assert_eq!(split_args("a, b"), ["a", " b"]);
}

#[test]
fn split_keeps_nested_commas() {
    assert_eq!(split_args("X=${IF(1?a,b:c)},d"), ["X=${IF(1?a,b:c)}", "d"]);
    assert_eq!(split_args("f(a,(b,c)),g"), ["f(a,(b,c))", "g"]);
    assert_eq!(split_args("$[1,2],x"), ["$[1,2]", "x"]);
    assert_eq!(split_args("a),b"), ["a)", "b"]);
}

#[test]
fn split_quotes_are_removed() {
    assert_eq!(split_args("\"a,b\",c"), ["a,b", "c"]);
    assert_eq!(split_args("x\"y\"z"), ["xyz"]);
    assert_eq!(split_args("\"(\",b"), ["(", "b"]);
    assert_eq!(split_args("\"\""), [""]);
}

#[test]
fn split_backslash_escapes() {
    assert_eq!(split_args("a\\,b,c"), ["a,b", "c"]);
    assert_eq!(split_args("\\\"q"), ["\"q"]);
    assert_eq!(split_args("a\\\\,b"), ["a\\", "b"]);
    assert_eq!(split_args("end\\"), ["end\\"]);
}

// --- parse_goto ---

fn goto(data: &str) -> Option<GotoTarget> {
    parse_goto(data, "here", "100")
}

fn target(context: &str, exten: &str, priority: PriorityRef) -> Option<GotoTarget> {
    Some(GotoTarget {
        context: context.into(),
        exten: exten.into(),
        priority,
    })
}

#[test]
fn goto_forms() {
    assert_eq!(goto("3"), target("here", "100", PriorityRef::Number(3)));
    assert_eq!(goto("200,1"), target("here", "200", PriorityRef::Number(1)));
    assert_eq!(
        goto("other,s,1"),
        target("other", "s", PriorityRef::Number(1))
    );
    assert_eq!(
        goto("loop"),
        target("here", "100", PriorityRef::Label("loop".into()))
    );
    assert_eq!(
        goto("other, s , start"),
        target("other", "s", PriorityRef::Label("start".into()))
    );
}

#[test]
fn goto_empty_parts_mean_current() {
    assert_eq!(goto(",s,1"), target("here", "s", PriorityRef::Number(1)));
    assert_eq!(goto("x,,2"), target("x", "100", PriorityRef::Number(2)));
    assert_eq!(goto(",5"), target("here", "100", PriorityRef::Number(5)));
}

#[test]
fn goto_invalid() {
    assert_eq!(goto(""), None);
    assert_eq!(goto("a,b,"), None);
    assert_eq!(goto("0"), None);
    assert_eq!(goto("a,b,c,d"), None);
    assert_eq!(goto("99999999999"), None);
}

// --- parse_gotoif ---

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

#[test]
fn gotoif_forms() {
    assert_eq!(
        parse_gotoif("1?yes:no"),
        ("1".into(), some("yes"), some("no"))
    );
    assert_eq!(
        parse_gotoif("0?ctx,s,1:other,s,1"),
        ("0".into(), some("ctx,s,1"), some("other,s,1"))
    );
    assert_eq!(parse_gotoif("1?yes"), ("1".into(), some("yes"), None));
    assert_eq!(parse_gotoif("1?:no"), ("1".into(), None, some("no")));
    assert_eq!(parse_gotoif("1?yes:"), ("1".into(), some("yes"), None));
    assert_eq!(
        parse_gotoif(" $[1 = 1] ? a : b "),
        ("$[1 = 1]".into(), some("a"), some("b"))
    );
    assert_eq!(parse_gotoif("1"), ("1".into(), None, None));
    assert_eq!(parse_gotoif(""), ("".into(), None, None));
    assert_eq!(parse_gotoif("?x"), ("".into(), some("x"), None));
}
