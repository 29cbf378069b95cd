//! `wari check-config`: validates a configuration directory, prints every problem as
//! `path:line: error|warning: ...`, and exits non-zero when there is an error.

use std::path::Path;

use crate::support::{ARI_CONF, HTTP_CONF, run_wari};

/// A configuration directory holding `files` (name, contents).
fn config_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).expect("write config file");
    }
    dir
}

/// Runs `wari check-config --config-dir DIR`: (success, stdout, stderr).
fn check(dir: &Path) -> (bool, String, String) {
    run_wari(&["check-config", "--config-dir", &dir.display().to_string()])
}

/// The output line reporting a problem of `severity` at `file:line`, if any.
fn problem_at<'o>(
    output: &'o str,
    dir: &Path,
    file: &str,
    line: u32,
    severity: &str,
) -> Option<&'o str> {
    let prefix = format!("{}:{line}: {severity}: ", dir.join(file).display());
    output.lines().find(|l| l.starts_with(&prefix))
}

#[test]
fn a_good_directory_passes() {
    let dir = config_dir(&[("http.conf", HTTP_CONF), ("ari.conf", ARI_CONF)]);
    let (ok, stdout, stderr) = check(dir.path());
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        !stdout.contains(": error: ") && !stdout.contains(": warning: "),
        "{stdout}"
    );
    assert!(stdout.contains("0 error(s)"), "{stdout}");

    // An empty directory means every default: nothing wrong either.
    let empty = config_dir(&[]);
    let (ok, stdout, stderr) = check(empty.path());
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");

    // Without --config-dir the embedded default is checked, and it is clean.
    let (ok, stdout, stderr) = run_wari(&["check-config"]);
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(!stdout.contains(": error: "), "{stdout}");
}

/// One configuration directory with a single error: the files, where the error must be
/// reported, and words its message must contain.
type ErrorCase = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
    u32,
    &'static [&'static str],
);

#[test]
fn each_error_fails_the_check_with_file_line_and_option() {
    // (what, files, file, line, words the message must contain)
    let cases: [ErrorCase; 7] = [
        (
            "bad boolean in [general]",
            vec![
                ("http.conf", HTTP_CONF),
                ("ari.conf", "[general]\nenabled = yes\npretty = maybe\n"),
            ],
            "ari.conf",
            3,
            &["pretty", "maybe"],
        ),
        (
            "bad boolean in a user",
            vec![(
                "ari.conf",
                "[general]\nenabled = yes\n\n[u]\ntype = user\npassword = p\nread_only = perhaps\n",
            )],
            "ari.conf",
            7,
            &["read_only", "perhaps"],
        ),
        (
            "bad boolean in http.conf",
            vec![("http.conf", "[general]\nenabled = sure\n")],
            "http.conf",
            2,
            &["enabled", "sure"],
        ),
        (
            "unknown password_format",
            vec![(
                "ari.conf",
                "[general]\nenabled = yes\n\n[u]\ntype = user\npassword = p\npassword_format = rot13\n",
            )],
            "ari.conf",
            7,
            &["password_format", "rot13"],
        ),
        (
            "bad port",
            vec![(
                "http.conf",
                "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 99999\n",
            )],
            "http.conf",
            4,
            &["bindport", "99999"],
        ),
        (
            "line without =",
            vec![(
                "ari.conf",
                "[general]\nenabled = yes\nthis line has no equals sign\n",
            )],
            "ari.conf",
            3,
            &["this line has no equals sign"],
        ),
        (
            "include cycle",
            vec![
                (
                    "ari.conf",
                    "[general]\nenabled = yes\n#include users.conf\n",
                ),
                ("users.conf", "; users\n#include ari.conf\n"),
            ],
            "users.conf",
            2,
            &["include", "cycle", "ari.conf"],
        ),
    ];
    for (what, files, file, line, words) in cases {
        let dir = config_dir(&files);
        let (ok, stdout, stderr) = check(dir.path());
        assert!(
            !ok,
            "{what}: must fail; stdout:\n{stdout}\nstderr:\n{stderr}"
        );
        let reported = problem_at(&stdout, dir.path(), file, line, "error").unwrap_or_else(|| {
            panic!("{what}: no `{file}:{line}: error:` line in:\n{stdout}\nstderr:\n{stderr}")
        });
        for word in words {
            assert!(reported.contains(word), "{what}: {word:?} in {reported:?}");
        }
        assert!(
            stdout.contains("1 error(s)"),
            "{what}: exactly one error:\n{stdout}"
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let dir = config_dir(&[
        (
            "http.conf",
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nsessionlimit = lots\n#include more.conf\n",
        ),
        ("more.conf", "junk line\n#include http.conf\n"),
        (
            "ari.conf",
            "[general]\nenabled = maybe\npretty = perhaps\n\n[u]\ntype = user\npassword = p\npassword_format = rot13\n\n[v]\ntype = user\n",
        ),
    ]);
    let (ok, stdout, _) = check(dir.path());
    assert!(!ok);
    for (file, line, word) in [
        ("http.conf", 4, "sessionlimit"),
        ("more.conf", 1, "junk line"),
        ("more.conf", 2, "cycle"),
        ("ari.conf", 2, "enabled"),
        ("ari.conf", 3, "pretty"),
        ("ari.conf", 8, "password_format"),
        ("ari.conf", 10, "password"),
    ] {
        let reported = problem_at(&stdout, dir.path(), file, line, "error")
            .unwrap_or_else(|| panic!("{file}:{line} in:\n{stdout}"));
        assert!(reported.contains(word), "{word} in {reported}");
    }
    assert!(stdout.contains("7 error(s)"), "{stdout}");
}

#[test]
fn unknown_options_are_warnings_only() {
    let dir = config_dir(&[
        (
            "http.conf",
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nfrobnicate = yes\n",
        ),
        (
            "ari.conf",
            "[general]\nenabled = yes\ncolour = blue\n\n[u]\ntype = user\npassword = p\nshoe_size = 42\n",
        ),
    ]);
    let (ok, stdout, stderr) = check(dir.path());
    assert!(ok, "warnings do not fail the check:\n{stdout}\n{stderr}");
    for (file, line, option) in [
        ("http.conf", 4, "frobnicate"),
        ("ari.conf", 3, "colour"),
        ("ari.conf", 8, "shoe_size"),
    ] {
        let reported = problem_at(&stdout, dir.path(), file, line, "warning")
            .unwrap_or_else(|| panic!("{file}:{line} warning in:\n{stdout}"));
        assert!(reported.contains(option), "{option} in {reported}");
    }
    assert!(!stdout.contains(": error: "), "{stdout}");
    assert!(stdout.contains("0 error(s), 3 warning(s)"), "{stdout}");
}

#[test]
fn a_missing_directory_is_a_clear_error() {
    let parent = tempfile::tempdir().expect("temp dir");
    let missing = parent.path().join("no-such-dir");
    let (ok, stdout, stderr) = check(&missing);
    assert!(!ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains(&missing.display().to_string()) && text.contains("does not exist"),
        "{text}"
    );

    // A file is not a directory either.
    let file = parent.path().join("a-file");
    std::fs::write(&file, "x").expect("write");
    let (ok, stdout, stderr) = check(&file);
    assert!(!ok);
    let text = format!("{stdout}{stderr}");
    assert!(
        text.contains(&file.display().to_string()) && text.contains("not a directory"),
        "{text}"
    );

    // Running (not just checking) refuses it the same way instead of starting.
    let (ok, stdout, stderr) = run_wari(&["--config-dir", &missing.display().to_string()]);
    assert!(!ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
    assert!(!stdout.contains("ready"), "{stdout}");
}

#[test]
fn help_mentions_config_dir() {
    let (ok, stdout, stderr) = run_wari(&["--help"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("--config-dir"), "{stdout}");
    assert!(stdout.contains("check-config"), "{stdout}");

    let (ok, stdout, stderr) = run_wari(&["check-config", "--help"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("--config-dir"), "{stdout}");

    let (ok, _, stderr) = run_wari(&["--no-such-flag"]);
    assert!(!ok, "an unknown flag is an error");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");
}

/// A pjsip.conf a typical install writes: a transport, a phone from a template with its auth
/// and AOR, a trunk identified by address with an outbound registration.
const PJSIP_GOOD: &str = "\
[udp]
type = transport
protocol = udp
bind = 127.0.0.1:5060

[phone](!)
type = endpoint
context = phones
disallow = all
allow = ulaw,alaw

[alice](phone)
auth = alice
aors = alice

[alice]
type = auth
auth_type = userpass
username = alice
password = s3cret

[alice]
type = aor
max_contacts = 1

[trunk]
type = endpoint
allow = ulaw
outbound_auth = trunk
aors = trunk

[trunk]
type = aor
contact = sip:provider.example.com

[trunk]
type = identify
endpoint = trunk
match = 192.0.2.0/24

[trunk]
type = auth
username = me
password = pw

[trunk]
type = registration
server_uri = sip:provider.example.com
client_uri = sip:me@provider.example.com
outbound_auth = trunk
";

#[test]
fn a_typical_pjsip_conf_passes() {
    let dir = config_dir(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("pjsip.conf", PJSIP_GOOD),
        (
            "extensions.conf",
            "[phones]\nexten => 100,1,Answer()\n\n[default]\nexten => _X.,1,Hangup()\n",
        ),
    ]);
    let (ok, stdout, stderr) = check(dir.path());
    assert!(ok, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("0 error(s), 0 warning(s)"), "{stdout}");
}

#[test]
fn pjsip_conf_mistakes_are_reported_with_file_and_line() {
    let pjsip = "\
[udp]
type = transport
bind = 127.0.0.1:5060

[udp2]
type = transport
bind = 127.0.0.1:5060

[tls]
type = transport
protocol = tls
bind = 127.0.0.1

[alice]
type = endpoint
allow = ulaw,opus
dtmf_mode = info
direct_media = yes
rtp_timeout = soon
aors = alicee
auth = nobody
shoe_size = 42

[bob]
type = endpoint
allow = all
transport = tcp

[bob]
type = identify
endpoint = bob
match = pbx.example.com

[nobody]
username = x

[x]
type = trunk

[r]
type = registration
server_uri = sip:reg.example.com
client_uri = sip:me@reg.example.com
outbound_auth = missing
";
    let dir = config_dir(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("pjsip.conf", pjsip),
    ]);
    let (ok, stdout, stderr) = check(dir.path());
    assert!(!ok, "errors fail the check:\n{stdout}\n{stderr}");
    // No extensions.conf: [bob]'s context `default` has no dialplan ([alice] is left out).
    let expected: [(u32, &str, &[&str]); 15] = [
        (5, "error", &["[udp2]", "collides", "[udp]"]),
        (9, "error", &["[tls]", "cert_file", "priv_key_file"]),
        (16, "warning", &["opus", "ulaw and alaw"]),
        (17, "warning", &["dtmf_mode", "info"]),
        (18, "warning", &["direct_media"]),
        (19, "error", &["rtp_timeout", "soon"]),
        (20, "error", &["aors", "alicee"]),
        (21, "error", &["auth", "nobody", "[alice] ignored"]),
        (22, "warning", &["shoe_size"]),
        (
            24,
            "warning",
            &["[bob]", "context 'default'", "extensions.conf"],
        ),
        (27, "error", &["transport", "tcp"]),
        (32, "warning", &["pbx.example.com", "host names"]),
        (34, "error", &["[nobody]", "type"]),
        (38, "error", &["unknown type", "trunk"]),
        (44, "error", &["outbound_auth", "missing"]),
    ];
    for (line, severity, words) in expected {
        let reported = problem_at(&stdout, dir.path(), "pjsip.conf", line, severity)
            .unwrap_or_else(|| panic!("pjsip.conf:{line} {severity} in:\n{stdout}"));
        for word in words {
            assert!(reported.contains(word), "'{word}' in {reported}");
        }
    }
    assert!(stdout.contains("9 error(s), 6 warning(s)"), "{stdout}");
}
