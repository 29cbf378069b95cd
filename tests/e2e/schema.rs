//! API-schema testing: schemathesis (PyPI) generates requests for every operation of
//! `/ari/openapi.json` and checks that wari never answers 5xx (other than a declared 501 for
//! what it does not implement yet) and that every status, content type and body is as
//! declared, and that requests the schema allows are accepted.
//!
//! What is checked, and the few operations left out of a check and why, is in
//! `tests/schema/schemathesis.toml`. Before the run the test creates the channel, bridge and
//! application that file names as fixed path parameters, so the operations on them reach
//! their handlers instead of answering 404.
//!
//! The run is bounded by examples per operation (`WARI_SCHEMA_EXAMPLES`, default 15) and
//! uses a fixed seed (`WARI_SCHEMA_SEED` to vary it by hand). schemathesis comes from the
//! venv `scripts/setup-test-deps` installs; a missing installation fails the test, as for
//! the other third-party clients.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::support::{EventSocket, Wari, isolate, run_limited};

/// How long the whole schemathesis run may take (it takes about a minute).
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

/// The fixed identifiers of `tests/schema/schemathesis.toml`.
const APP: &str = "schema";
const CHANNEL: &str = "schema-chan";
const BRIDGE: &str = "schema-bridge";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("runtime/ has a parent")
        .to_path_buf()
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// The last `lines` lines of a log.
fn log_tail(log: &str, lines: usize) -> String {
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_schema_holds_under_schemathesis() {
    let root = repo_root();
    let venv = root.join("tests/clients/python/.venv");
    let schemathesis = venv.join("bin/schemathesis");
    let installed = venv.join(".installed-requirements");
    assert!(
        schemathesis.is_file() && installed.is_file(),
        "schemathesis is not installed ({} is missing): run scripts/setup-test-deps",
        schemathesis.display()
    );

    let wari = Wari::start_default();
    // The fixtures: an application with a channel in it, and a bridge.
    let mut socket =
        EventSocket::connect(&wari, &format!("app={APP}&api_key=asterisk:secret")).await;
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Test/alice&app={APP}&channelId={CHANNEL}"
        ))
        .await;
    assert_eq!(
        reply.status, 200,
        "originate the fixture channel: {}",
        reply.body
    );
    socket.next_for("StasisStart", CHANNEL).await;
    let reply = wari
        .post(&format!("/ari/bridges/{BRIDGE}?type=mixing"))
        .await;
    assert_eq!(
        reply.status, 200,
        "create the fixture bridge: {}",
        reply.body
    );
    // Keep reading events so the application stays connected through the run.
    let drain = tokio::spawn(async move {
        loop {
            socket.next().await;
        }
    });

    let home = tempfile::tempdir().expect("temp dir");
    let mut command = Command::new(&schemathesis);
    isolate(&mut command, home.path())
        // schemathesis keeps a cache in .schemathesis/ of its working directory.
        .current_dir(wari.dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(root.join("tests/schema/schemathesis.toml"))
        .arg("run")
        .arg(wari.url("/ari/openapi.json"))
        .args(["--auth", "asterisk:secret"])
        .args(["--max-examples", &env_or("WARI_SCHEMA_EXAMPLES", "15")])
        .args(["--seed", &env_or("WARI_SCHEMA_SEED", "1")])
        // One worker: wari is tested on a 2-core machine, and parallel workers only add
        // noise (and trip a CPython 3.11 ast bug inside hypothesis now and then).
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"]);
    let run = tokio::task::spawn_blocking(move || run_limited(command, RUN_TIMEOUT))
        .await
        .expect("schemathesis runner");
    drain.abort();
    assert!(
        run.success,
        "schemathesis found failures:\n{}\n{}\nend of the wari log:\n{}",
        run.stdout,
        run.stderr,
        log_tail(&wari.log(), 100)
    );
}
