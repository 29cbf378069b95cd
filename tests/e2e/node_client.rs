//! A real Swagger client loads the api-docs: the npm `ari-client` (node-ari-client 2.2.0,
//! swagger-client 2.0.26) connects to wari and exposes all 11 resources with their operations.
//!
//! Drives `tests/clients/node/connect.js`, which needs the npm packages installed by
//! `scripts/setup-test-deps` (`npm ci` in tests/clients). Missing packages fail the test.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Wari, isolate, run_limited};

/// How long the node script may run (it gives up by itself after 20 s).
const NODE_TIMEOUT: Duration = Duration::from_secs(60);

/// The resources node-ari-client's own test suite expects ("should have all resources").
const RESOURCES: [&str; 11] = [
    "asterisk",
    "applications",
    "bridges",
    "channels",
    "deviceStates",
    "endpoints",
    "events",
    "mailboxes",
    "playbacks",
    "recordings",
    "sounds",
];

/// Operations per resource, after node-ari-client's "should have all operations" lists,
/// plus a few the client's users rely on (`asterisk.ping`, the `events` operations).
const OPERATIONS: &[(&str, &[&str])] = &[
    (
        "asterisk",
        &["getInfo", "getGlobalVar", "setGlobalVar", "ping"],
    ),
    ("applications", &["list", "get", "subscribe", "unsubscribe"]),
    (
        "bridges",
        &[
            "list",
            "clearVideoSource",
            "create",
            "createWithId",
            "get",
            "destroy",
            "addChannel",
            "removeChannel",
            "setVideoSource",
            "startMoh",
            "stopMoh",
            "play",
            "playWithId",
            "record",
        ],
    ),
    (
        "channels",
        &[
            "list",
            "originate",
            "get",
            "originateWithId",
            "hangup",
            "continueInDialplan",
            "answer",
            "ring",
            "ringStop",
            "sendDTMF",
            "mute",
            "unmute",
            "hold",
            "unhold",
            "startMoh",
            "stopMoh",
            "startSilence",
            "stopSilence",
            "play",
            "playWithId",
            "record",
            "getChannelVar",
            "setChannelVar",
            "snoopChannel",
            "snoopChannelWithId",
        ],
    ),
    ("deviceStates", &["list", "get", "update", "delete"]),
    ("endpoints", &["list", "listByTech", "get"]),
    ("events", &["eventWebsocket", "userEvent"]),
    ("mailboxes", &["list", "get", "update", "delete"]),
    ("playbacks", &["get", "stop", "control"]),
    (
        "recordings",
        &[
            "listStored",
            "getStored",
            "getStoredFile",
            "deleteStored",
            "getLive",
            "cancel",
            "stop",
            "pause",
            "unpause",
            "mute",
            "unmute",
        ],
    ),
    ("sounds", &["list", "get"]),
];

/// The repository root (`CARGO_MANIFEST_DIR` is `runtime/`).
fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_path_buf()
}

/// What `connect.js` reported.
struct NodeRun {
    success: bool,
    report: Value,
    stdout: String,
    stderr: String,
}

/// Runs `node tests/clients/node/connect.js URL USER PASS` to completion.
fn run_connect(url: &str, user: &str, pass: &str) -> NodeRun {
    let root = repo_root();
    let clients = root.join("tests/clients");
    let installed = clients.join("node_modules/ari-client/package.json");
    assert!(
        installed.is_file(),
        "the npm ari-client is not installed ({} is missing): run scripts/setup-test-deps",
        installed.display()
    );
    let script = clients.join("node/connect.js");
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new("node");
    isolate(&mut command, home.path())
        .arg(&script)
        .args([url, user, pass])
        .current_dir(&clients);
    let finished = run_limited(command, NODE_TIMEOUT);
    let (stdout, stderr) = (finished.stdout, finished.stderr);
    let line = stdout
        .lines()
        .rev()
        .find(|line| line.trim_start().starts_with('{'))
        .unwrap_or_else(|| {
            panic!("no JSON report from connect.js; stdout:\n{stdout}\nstderr:\n{stderr}")
        });
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("bad JSON report ({e}): {line}\nstderr:\n{stderr}"));
    NodeRun {
        success: finished.success,
        report,
        stdout,
        stderr,
    }
}

#[test]
fn ari_client_connects_and_exposes_all_resources() {
    let wari = Wari::start_default();
    let run = run_connect(&wari.url(""), "asterisk", "secret");
    let context = format!(
        "stdout:\n{}\nstderr:\n{}\nwari log:\n{}",
        run.stdout,
        run.stderr,
        wari.log()
    );
    assert!(run.success, "connect.js failed; {context}");
    assert_eq!(run.report["ok"], Value::Bool(true), "{context}");

    let resources: Vec<&str> = run.report["resources"]
        .as_array()
        .unwrap_or_else(|| panic!("resources is not an array; {context}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for resource in RESOURCES {
        assert!(
            resources.contains(&resource),
            "ari-client exposes no `{resource}` resource; it has {resources:?}"
        );
    }

    for (resource, expected) in OPERATIONS {
        let operations: Vec<&str> = run.report["operations"][resource]
            .as_array()
            .unwrap_or_else(|| panic!("no operations for {resource}; {context}"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        for operation in *expected {
            assert!(
                operations.contains(operation),
                "ari-client's `{resource}` has no `{operation}`; it has {operations:?}"
            );
        }
    }
}

#[test]
fn ari_client_connect_fails_with_a_wrong_password() {
    let wari = Wari::start_default();
    let run = run_connect(&wari.url(""), "asterisk", "wrong");
    let context = format!("stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(!run.success, "connect.js should exit 1; {context}");
    assert_eq!(run.report["ok"], Value::Bool(false), "{context}");
    let error = run.report["error"].as_str().unwrap_or_default();
    assert!(error.contains("401"), "error should mention 401: {error}");
}
