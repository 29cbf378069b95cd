//! `wari app run`: the real binary starts a wari of its own for a component, deploys it,
//! places the test call and tells whether the app handled it; with `--watch` it redeploys
//! a replaced component and calls the new version; when it exits, by itself or on Ctrl-C,
//! nothing listens on the port it printed and its temporary data directory is gone.
//!
//! The components are built by `scripts/build-guests` (scripts/test runs it and exports
//! `WARI_GUESTS_DIR`): `ivr` answers, plays its menu and reacts to keys; `trap` panics in
//! StasisStart.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::{
    Finished, builds_in, client, component_path, eventually, run_limited, wari_command,
};

/// How long building an app crate may take: the first guest build on a machine builds
/// Rust's std for wasm32-wasip2 (minutes); after scripts/build-guests, seconds.
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// How long `wari app run --once` may take (a call of a second or two, a debug build).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a step of a running `wari app run --watch` may take to show.
const STEP: Duration = Duration::from_secs(20);

/// The first 12 hex digits of a file's sha256: the version wari names it by.
fn version_of(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read component");
    format!("{:x}", Sha256::digest(&bytes))[..12].to_string()
}

/// `wari app run ARGS...` to completion, in an isolated environment.
fn app_run(home: &Path, args: &[&str]) -> Finished {
    let mut command = wari_command(home);
    command.arg("app").arg("run").args(args);
    run_limited(command, RUN_TIMEOUT)
}

/// The value after `label:` on the line that starts with it.
fn printed<'a>(output: &'a str, label: &str) -> &'a str {
    output
        .lines()
        .find_map(|line| line.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{output}"))
}

/// The address of the URL `wari app run` printed.
fn printed_address(output: &str) -> SocketAddr {
    let url = printed(output, "url:");
    url.trim_start_matches("http://")
        .trim_end_matches("/ari")
        .parse()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// The number of the first line of `app`'s followed log (`[app] ...`) that has `text`.
fn app_log_line(output: &str, app: &str, text: &str) -> Option<usize> {
    let prefix = format!("[{app}] ");
    output
        .lines()
        .position(|line| line.starts_with(&prefix) && line.contains(text))
}

fn assert_nothing_listens(address: SocketAddr) {
    let refused = TcpStream::connect_timeout(&address, Duration::from_secs(2));
    assert!(
        refused.is_err(),
        "something still listens on {address} after wari app run exited"
    );
}

#[test]
fn run_once_places_the_call_and_exits_zero_when_the_app_handled_it() {
    let home = tempfile::tempdir().expect("temp dir");
    let ivr = component_path("ivr");
    let out = app_run(
        home.path(),
        &[
            ivr.to_str().expect("utf-8 path"),
            "--call",
            "Test/alice/dtmf=1",
            "--once",
        ],
    );
    assert!(out.success, "{out:?}");
    let stdout = &out.stdout;
    // What the author needs to reach the host.
    assert_eq!(printed(stdout, "user:"), "dev", "{out:?}");
    assert_eq!(printed(stdout, "password:").len(), 32, "{out:?}");
    assert!(
        stdout.contains(&format!("deployed ivr: version {}", version_of(&ivr))),
        "{out:?}"
    );
    // The call went into the app, the app got the caller's key and the call ended.
    for step in [
        "[call 1] Test/alice/dtmf=1 -> s@wari-run",
        "[call 1] ChannelDialplan Stasis(ivr)",
        "[call 1] ChannelDtmfReceived digit=1",
        "[call 1] ChannelVarset IVR_CHOICE=1",
        "[call 1] ChannelDestroyed cause=16 (Normal Clearing)",
        "[call 1] handled by ivr",
    ] {
        assert!(stdout.contains(step), "{step:?} missing:\n{out:?}");
    }
    // The app's own log, followed: its session got StasisStart, the key, StasisEnd.
    let start = app_log_line(stdout, "ivr", "#1 event StasisStart channel=wari-run-");
    let key = app_log_line(stdout, "ivr", "#1 event ChannelDtmfReceived digit=1");
    let end = app_log_line(stdout, "ivr", "#1 event StasisEnd channel=wari-run-");
    assert!(
        start.is_some() && start < key && key < end,
        "StasisStart, the key, StasisEnd in the app's log:\n{out:?}"
    );
    assert!(
        app_log_line(stdout, "ivr", "#1 session ended: finished").is_some(),
        "{out:?}"
    );
    assert_nothing_listens(printed_address(stdout));
    let data = printed(stdout, "data:").trim_end_matches(" (removed at exit)");
    assert!(!Path::new(data).exists(), "{data} is left behind");
}

#[test]
fn run_once_exits_non_zero_with_the_apps_failure() {
    let home = tempfile::tempdir().expect("temp dir");
    let trap = component_path("trap");
    let out = app_run(
        home.path(),
        &[
            trap.to_str().expect("utf-8 path"),
            "--call",
            "Test/alice",
            "--once",
        ],
    );
    assert!(!out.success, "{out:?}");
    let version = version_of(&trap);
    assert!(
        out.stdout.contains(&format!(
            "[call 1] NOT handled: trap (version {version}): failed: panicked at"
        )),
        "{out:?}"
    );
    assert!(
        app_log_line(&out.stdout, "trap", "#1 failure failed: panicked at").is_some()
            && app_log_line(&out.stdout, "trap", "#1 session ended: failed").is_some(),
        "the failure in the app's log: {out:?}"
    );
    assert!(
        out.stderr.contains("the test call was not handled")
            && out
                .stderr
                .contains("trap: panicking on purpose in StasisStart"),
        "{out:?}"
    );
    assert_nothing_listens(printed_address(&out.stdout));

    // A call the app never gets (the phone is busy) is not handled either.
    let ivr = component_path("ivr");
    let out = app_run(
        home.path(),
        &[
            ivr.to_str().expect("utf-8 path"),
            "--call",
            "Test/alice/busy",
            "--once",
        ],
    );
    assert!(!out.success, "{out:?}");
    assert!(
        out.stderr
            .contains("the call never reached ivr (it ended with cause 17 User busy)"),
        "{out:?}"
    );
}

/// A `wari app run` left running, its output in files.
struct Running {
    child: Child,
    dir: tempfile::TempDir,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        Running::start_in(None, args)
    }

    /// In `cwd` (if given) with the Rust toolchain and the shared guest build reachable.
    fn start_in(cwd: Option<&Path>, args: &[&str]) -> Running {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut command = wari_command(dir.path());
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
            builds_in(&mut command);
        }
        let child = command
            .arg("app")
            .arg("run")
            .args(args)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("stdout")).expect("stdout file"))
            .stderr(std::fs::File::create(dir.path().join("stderr")).expect("stderr file"))
            .spawn()
            .expect("run wari app run");
        Running { child, dir }
    }

    fn output(&self) -> (String, String) {
        let read = |name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        (read("stdout"), read("stderr"))
    }

    /// Waits until stdout has `text`; returns stdout then.
    async fn shows(&self, text: &str) -> String {
        self.shows_within(text, STEP).await
    }

    /// Waits until stdout or stderr has `text`, within `limit`; returns stdout then.
    async fn shows_within(&self, text: &str, limit: Duration) -> String {
        eventually(
            &format!("wari app run printing {text:?}"),
            limit,
            || async {
                let (stdout, stderr) = self.output();
                if stdout.contains(text) || stderr.contains(text) {
                    Ok(stdout)
                } else {
                    Err(format!("stdout:\n{stdout}\nstderr:\n{stderr}"))
                }
            },
        )
        .await
    }

    /// Ctrl-C, and the exit that follows (bounded): true when it exited successfully.
    async fn interrupt(&mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let child = &mut self.child;
        eventually("wari app run exiting on SIGINT", STEP, || {
            let status = child.try_wait();
            async move {
                match status {
                    Ok(Some(status)) => Ok(status.success()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn watch_redeploys_a_replaced_component_and_calls_the_new_version() {
    let work = tempfile::tempdir().expect("temp dir");
    let app = work.path().join("hello.wasm");
    std::fs::copy(component_path("ivr"), &app).expect("copy ivr");
    let mut run = Running::start(&[
        app.to_str().expect("utf-8 path"),
        "--watch",
        "--call",
        "Test/alice/dtmf=1",
    ]);
    let stdout = run.shows("[call 1] handled by hello").await;
    let ivr_version = version_of(&app);
    assert!(
        stdout.contains(&format!("deployed hello: version {ivr_version}")),
        "{stdout}"
    );

    // The printed URL and credentials reach the host.
    let address = printed_address(&stdout);
    let (user, password) = (printed(&stdout, "user:"), printed(&stdout, "password:"));
    let response = client()
        .get(format!("http://{address}/ari/wasm/hello"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("GET the app");
    assert_eq!(response.status(), 200);
    let described: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(
        described["sha256"].as_str().map(|s| &s[..12]),
        Some(ivr_version.as_str())
    );

    // The component is replaced on disk (as a build writes it: a new file renamed over the
    // old): the new version is deployed and gets the test call.
    let staged = work.path().join("hello.wasm.new");
    std::fs::copy(component_path("trap"), &staged).expect("copy trap");
    std::fs::rename(&staged, &app).expect("replace");
    let trap_version = version_of(&app);
    run.shows(&format!("deployed hello: version {trap_version}"))
        .await;
    let stdout = run
        .shows(&format!(
            "[call 2] NOT handled: hello (version {trap_version})"
        ))
        .await;
    assert!(stdout.contains("panicking on purpose"), "{stdout}");

    assert!(run.interrupt().await, "{:?}", run.output());
    assert_nothing_listens(address);
}

#[tokio::test]
async fn a_new_crate_runs_with_its_test_call_and_watch_rebuilds_it_on_an_edit() {
    let work = tempfile::tempdir().expect("temp dir");
    let parent = work.path().canonicalize().expect("temp dir");
    let home = tempfile::tempdir().expect("temp dir");
    let mut new = wari_command(home.path());
    new.current_dir(&parent).args(["app", "new", "hello"]);
    let out = run_limited(new, RUN_TIMEOUT);
    assert!(out.success, "{out:?}");

    // The README's second command, left running with --watch.
    let mut run = Running::start_in(
        Some(&parent),
        &["hello", "--call", "Test/alice/dtmf=1#", "--watch"],
    );
    let stdout = run
        .shows_within("[call 1] handled by hello", BUILD_TIMEOUT)
        .await;
    assert!(stdout.contains("deployed hello: version "), "{stdout}");
    assert!(
        stdout.contains("[call 1] ChannelDtmfReceived digit=#"),
        "{stdout}"
    );
    // The app's own log line for the key.
    run.shows(" pressed 1").await;
    let first = printed(&stdout, "deployed hello: version")
        .split_whitespace()
        .next()
        .expect("a version")
        .to_string();

    // An edit that does not compile: cargo's error, and the running version stays.
    let lib = parent.join("hello/src/lib.rs");
    let source = std::fs::read_to_string(&lib).expect("src/lib.rs");
    std::fs::write(&lib, format!("{source}\nfn broken( {{\n")).expect("write");
    run.shows_within(&format!("still running version {first}"), BUILD_TIMEOUT)
        .await;
    let (_, stderr) = run.output();
    assert!(stderr.contains("error"), "cargo's error: {stderr}");

    // A working edit: a new version, called again, with its new log line.
    std::fs::write(&lib, source.replace(" pressed ", " keyed ")).expect("write");
    let stdout = run
        .shows_within("[call 2] handled by hello", BUILD_TIMEOUT)
        .await;
    let versions: Vec<&str> = stdout
        .lines()
        .filter_map(|line| line.strip_prefix("deployed hello: version "))
        .collect();
    assert_eq!(versions.len(), 2, "{stdout}");
    assert!(!versions[1].starts_with(&first), "{stdout}");
    run.shows(" keyed 1").await;

    assert!(run.interrupt().await, "{:?}", run.output());
    assert_nothing_listens(printed_address(&stdout));
}
