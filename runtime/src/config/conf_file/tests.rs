use super::*;
use crate::config::diagnostics::Severity;

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
