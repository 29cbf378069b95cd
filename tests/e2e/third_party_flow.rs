//! Real third-party ARI clients run a whole call against wari: the npm `ari-client`
//! (`tests/clients/node/call_flow.js`) and PyPI's `asyncari`
//! (`tests/clients/python/call_flow.py`) each connect, start the `flowapp` application,
//! originate `Test/alice` into it with a channel id the test chooses and `appArgs` `x,y`,
//! answer and hang up on StasisStart, and wait for StasisEnd.
//!
//! The clients are installed by `scripts/setup-test-deps` (node modules in tests/clients, a
//! venv in tests/clients/python/.venv); a missing installation fails the test.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Wari;

/// How long a client script may run (each gives up by itself after 20 s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

/// The repository root (`CARGO_MANIFEST_DIR` is `runtime/`).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_path_buf()
}

/// What a client script printed and how it ended.
struct ClientRun {
    success: bool,
    report: Value,
    stdout: String,
    stderr: String,
}

/// Runs `program script URL USER PASS CHANNEL_ID` in `dir` to completion and parses the
/// JSON report (the last stdout line that starts with `{`).
fn run_client(
    program: &Path,
    script: &Path,
    dir: &Path,
    wari: &Wari,
    channel_id: &str,
) -> ClientRun {
    let name = script.file_name().unwrap_or_default().to_string_lossy();
    let mut child = Command::new(program)
        .arg(script)
        .args([&wari.url(""), "asterisk", "secret", channel_id])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} ({e}): run scripts/setup-test-deps",
                program.display()
            )
        });

    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out_pipe.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });

    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the client") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{name} did not finish within {CLIENT_TIMEOUT:?}; stderr:\n{}\nwari log:\n{}",
                err_reader.join().unwrap_or_default(),
                wari.log()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON report from {name} (exit {status}); stdout:\n{stdout}\nstderr:\n{stderr}\nwari log:\n{}",
                wari.log()
            )
        });
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bad JSON report from {name} ({e}): {line}\nstderr:\n{stderr}"));
    ClientRun {
        success: status.success(),
        report,
        stdout,
        stderr,
    }
}

/// Checks a successful run: exit 0, `ok`, the chosen channel id, args `x,y`, and the events
/// about that channel include StasisStart and, after it, StasisEnd.
fn assert_call_flow(client: &str, run: &ClientRun, wari: &Wari, channel_id: &str) {
    let context = format!(
        "{client} report: {}\nstdout:\n{}\nstderr:\n{}\nwari log:\n{}",
        run.report,
        run.stdout,
        run.stderr,
        wari.log()
    );
    assert!(
        run.success,
        "{client} call flow failed: {}; {context}",
        run.report["error"]
    );
    assert_eq!(run.report["ok"], Value::Bool(true), "{context}");
    assert_eq!(run.report["channelId"], channel_id, "{context}");
    assert_eq!(
        run.report["args"],
        serde_json::json!(["x", "y"]),
        "{context}"
    );

    let events: Vec<&str> = run.report["events"]
        .as_array()
        .unwrap_or_else(|| panic!("events is not an array; {context}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let start = events
        .iter()
        .position(|kind| *kind == "StasisStart")
        .unwrap_or_else(|| panic!("{client} saw no StasisStart for {channel_id}: {events:?}"));
    let end = events
        .iter()
        .rposition(|kind| *kind == "StasisEnd")
        .unwrap_or_else(|| panic!("{client} saw no StasisEnd for {channel_id}: {events:?}"));
    assert!(
        start < end,
        "{client} saw StasisEnd before StasisStart: {events:?}"
    );
}

#[test]
fn node_ari_client_runs_a_call_through_stasis() {
    let root = repo_root();
    let clients = root.join("tests/clients");
    let installed = clients.join("node_modules/ari-client/package.json");
    assert!(
        installed.is_file(),
        "the npm ari-client is not installed ({} is missing): run scripts/setup-test-deps",
        installed.display()
    );

    let wari = Wari::start_default();
    let channel_id = format!("third-party-node-{}", std::process::id());
    let run = run_client(
        Path::new("node"),
        &clients.join("node/call_flow.js"),
        &clients,
        &wari,
        &channel_id,
    );
    assert_call_flow("node ari-client", &run, &wari, &channel_id);
}

#[test]
fn python_asyncari_runs_a_call_through_stasis() {
    let root = repo_root();
    let dir = root.join("tests/clients/python");
    let python = dir.join(".venv/bin/python");
    let installed = dir.join(".venv/.installed-requirements");
    assert!(
        python.is_file() && installed.is_file(),
        "asyncari's venv is not installed ({} is missing): run scripts/setup-test-deps",
        installed.display()
    );

    let wari = Wari::start_default();
    let channel_id = format!("third-party-python-{}", std::process::id());
    let run = run_client(&python, &dir.join("call_flow.py"), &dir, &wari, &channel_id);
    assert_call_flow("python asyncari", &run, &wari, &channel_id);
}
