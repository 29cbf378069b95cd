//! Real third-party ARI clients run a whole call against wari: the npm `ari-client`
//! (`tests/clients/node/call_flow.js`), PyPI's `asyncari`
//! (`tests/clients/python/call_flow.py`) and PyPI's `ari-client`
//! (`tests/clients/python/ari_client_flow.py`, JSON bodies and pydantic models of every
//! event) each connect, start the `flowapp` application,
//! originate `Test/alice` into it with a channel id the test chooses and `appArgs` `x,y`,
//! answer and hang up on StasisStart, and wait for StasisEnd; each receives the events
//! Asterisk sends for that call, `Dial` included.
//!
//! The clients are installed by `scripts/setup-test-deps` (node modules in tests/clients, a
//! venv in tests/clients/python/.venv); a missing installation fails the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Wari, isolate, run_limited};

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
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(program);
    isolate(&mut command, home.path())
        .arg(script)
        .args([&wari.url(""), "asterisk", "secret", channel_id])
        .current_dir(dir);
    let finished = run_limited(command, CLIENT_TIMEOUT);
    let (stdout, stderr) = (finished.stdout, finished.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!(
                "no JSON report from {name} (success: {}); stdout:\n{stdout}\nstderr:\n{stderr}\nwari log:\n{}",
                finished.success,
                wari.log()
            )
        });
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bad JSON report from {name} ({e}): {line}\nstderr:\n{stderr}"));
    ClientRun {
        success: finished.success,
        report,
        stdout,
        stderr,
    }
}

/// The events an application receives about a channel it originates into itself, up to
/// the StasisEnd of the hangup it asks for, as Asterisk 23.4.1 sends them (observed with
/// `Local/200@default`, answered by the dialplan: Dial "", ChannelStateChange Up, Dial
/// ANSWER, ChannelVarset STASISSTATUS, StasisStart, ChannelHangupRequest, StasisEnd). The
/// `Test/alice` phone rings before it answers, as a SIP phone's 180 Ringing makes a
/// channel do: ChannelStateChange Ringing and Dial RINGING come first.
const FLOW_EVENTS: [&str; 9] = [
    "Dial",
    "ChannelStateChange",
    "Dial",
    "ChannelStateChange",
    "Dial",
    "ChannelVarset",
    "StasisStart",
    "ChannelHangupRequest",
    "StasisEnd",
];

/// Checks a successful run: exit 0, `ok`, the chosen channel id, args `x,y`, and the events
/// about that channel are Asterisk's ([`FLOW_EVENTS`]).
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
    assert_eq!(events, FLOW_EVENTS, "{client}: {context}");
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

/// The test venv's Python interpreter and the directory of the Python client scripts.
fn python_clients() -> (PathBuf, PathBuf) {
    let dir = repo_root().join("tests/clients/python");
    let python = dir.join(".venv/bin/python");
    let installed = dir.join(".venv/.installed-requirements");
    assert!(
        python.is_file() && installed.is_file(),
        "the Python clients' venv is not installed ({} is missing): run scripts/setup-test-deps",
        installed.display()
    );
    (python, dir)
}

#[test]
fn python_asyncari_runs_a_call_through_stasis() {
    let (python, dir) = python_clients();
    let wari = Wari::start_default();
    let channel_id = format!("third-party-python-{}", std::process::id());
    let run = run_client(&python, &dir.join("call_flow.py"), &dir, &wari, &channel_id);
    assert_call_flow("python asyncari", &run, &wari, &channel_id);
}

#[test]
fn python_ari_client_runs_a_call_through_stasis() {
    let (python, dir) = python_clients();
    let wari = Wari::start_default();
    let channel_id = format!("third-party-ari-client-{}", std::process::id());
    let run = run_client(
        &python,
        &dir.join("ari_client_flow.py"),
        &dir,
        &wari,
        &channel_id,
    );
    assert_call_flow("python ari-client", &run, &wari, &channel_id);
    // The client logs every event its pydantic models refuse (and drops it).
    assert!(
        !run.stderr.contains("Error processing event"),
        "ari-client refused an event:\n{}",
        run.stderr
    );
}
