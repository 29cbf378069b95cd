//! Where the embedded demo (wari without `--config-dir`) listens: 127.0.0.1:8088 by default,
//! elsewhere on this machine with `--bind ADDR:PORT`, never beyond it, and a clear message
//! when its port is taken. None of these tests needs port 8088 free: the demo itself is
//! served by tests/e2e/auth.rs on an ephemeral port.

use std::time::Duration;

use crate::support::{Finished, run_limited, wari_command};

/// How long a wari that must refuse to start may take to exit.
const EXIT_LIMIT: Duration = Duration::from_secs(30);

/// Runs `wari ARGS... --data-dir DIR` (isolated, on a data directory of its own) until it
/// exits; a wari still running after [`EXIT_LIMIT`] fails the test.
fn wari_until_exit(args: &[&str]) -> Finished {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut command = wari_command(dir.path());
    command
        .args(args)
        .arg("--data-dir")
        .arg(dir.path().join("data"));
    run_limited(command, EXIT_LIMIT)
}

#[test]
fn help_says_the_demo_listens_on_loopback_8088_unless_bind_moves_it() {
    let out = wari_until_exit(&["--help"]);
    assert!(out.success, "{out:?}");
    assert!(
        out.stdout.contains("HTTP on 127.0.0.1:8088"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("--bind <ADDR:PORT>"), "{}", out.stdout);
    assert!(
        out.stdout.contains("listens instead of 127.0.0.1:8088"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_taken_port_stops_the_demo_with_its_address_and_a_hint() {
    // Held for the whole test, as a running Asterisk holds 8088.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address").to_string();
    let out = wari_until_exit(&["--bind", &address]);
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr.contains(&format!("cannot listen on {address}")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("wari --bind 127.0.0.1:PORT"),
        "{}",
        out.stderr
    );
    assert!(!out.stdout.contains("ready"), "{}", out.stdout);
}

#[test]
fn bind_is_for_the_demo_on_this_machine_only() {
    // Its passwords are printed and the same everywhere: no address beyond loopback.
    for outside in ["0.0.0.0:0", "[::]:0"] {
        let out = wari_until_exit(&["--bind", outside]);
        assert!(!out.success, "{outside}: {out:?}");
        assert!(
            out.stderr.contains("not a loopback address"),
            "{outside}: {out:?}"
        );
        assert!(!out.stdout.contains("ready"), "{outside}: {out:?}");
    }
    let out = wari_until_exit(&["--bind", "localhost"]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("ADDR:PORT"), "{out:?}");

    // A configuration directory says where to listen in its http.conf.
    let dir = tempfile::tempdir().expect("temp dir");
    let config_dir = dir.path().display().to_string();
    let out = wari_until_exit(&["--bind", "127.0.0.1:0", "--config-dir", &config_dir]);
    assert!(!out.success, "{out:?}");
    assert!(out.stderr.contains("--config-dir"), "{out:?}");
    assert!(!out.stdout.contains("ready"), "{out:?}");

    // Checking the configuration or managing apps listens nowhere.
    for command in [&["check-config"][..], &["app", "list"][..]] {
        let mut args = vec!["--bind", "127.0.0.1:0"];
        args.extend_from_slice(command);
        let out = wari_until_exit(&args);
        assert!(!out.success, "{command:?}: {out:?}");
        assert!(
            out.stderr
                .contains("--bind applies to running the embedded demo"),
            "{command:?}: {out:?}"
        );
    }
}
