//! `wari app run <crate dir | file.wasm> [--call SPEC] [--watch | --once]`: the one-command
//! loop of an app author. It builds the app (a crate) or takes the component as it is,
//! starts a wari host for it in this process ([`run_host`](super::run_host)), deploys the
//! component through `PUT /ari/wasm/{app}` as `wari app deploy` does, places the test call
//! ([`test_call`](super::test_call)) and shows the app's log lines; with `--watch` it
//! rebuilds and redeploys when the sources change ([`watch`](super::watch)) and calls the
//! new version again. Ctrl-C (or SIGTERM) stops everything: nothing is left running or
//! listening.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde_json::Value;

use super::client::Server;
use super::run_host::{self, RunHost};
use super::test_call::{self, Outcome, Watcher};
use super::watch::Sources;

/// `wari app run` options.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The app: a crate directory (it is built) or a component file (`.wasm`).
    #[arg(value_name = "CRATE_DIR|FILE.wasm")]
    source: PathBuf,
    /// Place a test call once the app is deployed, from a Test phone with its options, e.g.
    /// `Test/alice/dtmf=42` (answer=MS, noanswer, busy, congestion, dtmf=DIGITS with `w`
    /// for a 500 ms pause, hangup=MS). It goes to the extension that runs the app.
    #[arg(long, value_name = "SPEC")]
    call: Option<String>,
    /// Rebuild and redeploy when the sources change (a crate's Cargo.toml, src/, wit/; or
    /// the component file); each new version gets the test call again. Calls in progress
    /// finish on the version they started on; a failed build keeps the running version.
    #[arg(long, conflicts_with = "once")]
    watch: bool,
    /// Exit after the test call: 0 when the app handled it (a session started and the call
    /// ended without a failure of the app), 1 and the failure otherwise.
    #[arg(long, requires = "call")]
    once: bool,
    /// The app's name, its Stasis application (default: the crate's package name, or the
    /// file name without `.wasm`).
    #[arg(long, value_name = "APP")]
    name: Option<String>,
    /// Where the host keeps its apps, recordings and store (default: a temporary directory,
    /// removed at exit).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// How long a test call may last before it is hung up and counted as not handled.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    timeout: u64,
}

/// How long the host's tasks get to finish when the run ends.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(1);

/// The host's own log on stderr unless `RUST_LOG` says otherwise: warnings and errors (an
/// app's failure with its WebAssembly backtrace among them). The app's log lines come
/// through its followed log ([`Follower`]), so the host does not print them again.
const HOST_LOG: &str = "warn,wari::wasm::session=error";

/// Runs `wari app run`.
pub(super) fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(HOST_LOG)),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        tokio::select! {
            result = session(&args) => result,
            signal = crate::stop_signal() => {
                eprintln!("wari app run: {}: stopped", signal?);
                Ok(if args.once { ExitCode::from(130) } else { ExitCode::SUCCESS })
            }
        }
    });
    // The host (its listeners and the temporary directory) went with `session`; its
    // remaining tasks end here.
    runtime.shutdown_timeout(SHUTDOWN_WAIT);
    result
}

/// What `wari app run` was given.
#[derive(Debug, Clone)]
enum Source {
    Crate(PathBuf),
    File(PathBuf),
}

impl Source {
    fn of(path: &Path) -> anyhow::Result<Source> {
        if path.is_dir() {
            if !path.join("Cargo.toml").is_file() {
                bail!(
                    "{} is a directory without Cargo.toml: give an app crate or a .wasm file",
                    path.display()
                );
            }
            Ok(Source::Crate(path.to_path_buf()))
        } else if path.is_file() {
            Ok(Source::File(path.to_path_buf()))
        } else {
            bail!("{}: no such crate directory or file", path.display())
        }
    }

    fn watched(&self) -> Sources {
        match self {
            Source::Crate(dir) => Sources::Crate(dir.clone()),
            Source::File(path) => Sources::File(path.clone()),
        }
    }
}

/// A component ready to deploy.
#[derive(Debug)]
struct Built {
    path: PathBuf,
    /// The name it is deployed under unless `--name` says otherwise.
    app_name: String,
}

/// Builds the app, or takes the component file as it is.
async fn build(source: &Source) -> anyhow::Result<Built> {
    match source {
        Source::File(path) => Ok(Built {
            path: path.clone(),
            app_name: path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_string(),
        }),
        Source::Crate(dir) => build_crate(dir).await,
    }
}

/// Builds the crate in `dir` into a component, as `wari app build` does (cargo's progress
/// and errors go to stderr as cargo writes them).
async fn build_crate(dir: &Path) -> anyhow::Result<Built> {
    let dir = dir.to_path_buf();
    let built = tokio::task::spawn_blocking(move || super::build::build_component(&dir))
        .await
        .context("the build stopped")??;
    eprintln!(
        "wari app run: {} built in {:.1} s ({}): {} bytes",
        built.app_name,
        built.elapsed.as_secs_f64(),
        built.toolchain,
        built.bytes
    );
    Ok(Built {
        path: built.path,
        app_name: built.app_name,
    })
}

/// How many of the app's most recent log entries the follower starts with (the run's own:
/// the log is kept in memory, per host), so that nothing between the deploy and the
/// follower's connection is missed.
const FOLLOW_LINES: usize = 100;
/// How long the end of a test call's session may take to show in the followed log.
const SESSION_LOG_WAIT: Duration = Duration::from_secs(2);

/// The app's log (`GET /ari/wasm/{app}/logs?follow=true`, as `wari app logs -f` follows it)
/// printed to stdout while the run lasts, one `[app] ...` line per entry: its log lines, the
/// events its sessions get, sessions started and ended, failures, deployments.
struct Follower {
    task: tokio::task::JoinHandle<()>,
    /// How many sessions the log has shown ending.
    ended: tokio::sync::watch::Receiver<u64>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Follower {
    fn start(server: &Server, app: &str) -> Follower {
        let (server, app) = (server.clone(), app.to_string());
        let (ended, ended_rx) = tokio::sync::watch::channel(0u64);
        let task = tokio::spawn(async move {
            let print = |entry: &Value| {
                println!("[{app}] {}", super::app_logs::format_entry(entry));
                if entry["kind"] == "session"
                    && entry["text"]
                        .as_str()
                        .is_some_and(|text| text.starts_with("ended"))
                {
                    ended.send_modify(|n| *n += 1);
                }
            };
            match super::app_logs::follow(&server, &app, FOLLOW_LINES, print).await {
                Ok(()) => eprintln!("wari app run: the log of {app} ended"),
                Err(e) => eprintln!("wari app run: cannot follow the log of {app}: {e:#}"),
            }
        });
        Follower {
            task,
            ended: ended_rx,
        }
    }

    /// Sessions seen ending so far.
    fn sessions_ended(&self) -> u64 {
        *self.ended.borrow()
    }

    /// Waits (bounded) until the log has shown more than `before` sessions ending.
    async fn session_end_shown(&mut self, before: u64) {
        let _ = tokio::time::timeout(SESSION_LOG_WAIT, self.ended.wait_for(|n| *n > before)).await;
    }
}

/// App names wari accepts: 1-73 letters, digits, `-`, `_`, `.`, not starting with `.`.
fn check_name(name: &str) -> anyhow::Result<()> {
    if !wari::wasm::is_app_name(name) {
        bail!(
            "{name:?} is not an app name (1-73 letters, digits, '-', '_', '.', not starting \
             with '.'): give one with --name"
        );
    }
    Ok(())
}

/// Deploys `built` as `app`; returns its sha256.
async fn deploy(server: &Server, app: &str, built: &Built) -> anyhow::Result<String> {
    let bytes = tokio::fs::read(&built.path)
        .await
        .with_context(|| format!("cannot read {}", built.path.display()))?;
    let size = bytes.len();
    let deployed = super::app::upload(server, app, &built.path, bytes).await?;
    let sha = deployed["sha256"].as_str().unwrap_or_default().to_string();
    println!(
        "deployed {app}: version {} ({size} bytes, sha256 {sha})",
        wari::wasm::runtime::version_tag(&sha)
    );
    Ok(sha)
}

/// What runs while a new version could not be built or deployed.
fn running(version: &str) -> String {
    if version.is_empty() {
        "no version is deployed yet".to_string()
    } else {
        format!(
            "still running version {}",
            wari::wasm::runtime::version_tag(version)
        )
    }
}

/// Places the test call and says how it went.
async fn call(
    server: &Server,
    watcher: &Watcher,
    app: &str,
    spec: &str,
    timeout: Duration,
) -> Outcome {
    match test_call::place(server, watcher, app, spec, timeout).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let why = format!("{e:#}");
            println!("[call] failed: {why}");
            Outcome::NotHandled(why)
        }
    }
}

async fn session(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let source = Source::of(&args.source)?;
    let sources = source.watched();
    let mut seen = sources.fingerprint();
    let built = loop {
        match build(&source).await {
            Ok(built) => break built,
            Err(e) if args.watch => {
                eprintln!("wari app run: {e:#}\nwaiting for the sources to change");
                seen = sources.changed(&seen).await;
            }
            Err(e) => return Err(e),
        }
    };
    let app = args.name.clone().unwrap_or_else(|| built.app_name.clone());
    check_name(&app)?;
    let host: RunHost = run_host::start(&app, args.data_dir.as_deref()).await?;
    print!("{}", host.banner(&app));
    let server = Server::new(&host.url, run_host::USER, &host.password)?;
    let watcher = match &args.call {
        Some(_) => Some(Arc::new(
            Watcher::connect(host.address, run_host::WATCH_USER, &host.watch_password).await?,
        )),
        None => None,
    };
    let mut version = match deploy(&server, &app, &built).await {
        Ok(version) => version,
        Err(e) if args.watch => {
            eprintln!("wari app run: {e:#}\nwaiting for the sources to change");
            String::new()
        }
        Err(e) => return Err(e),
    };
    let mut follower = (!version.is_empty()).then(|| Follower::start(&server, &app));
    let timeout = Duration::from_secs(args.timeout);
    let place = |spec: &String| {
        let (server, app, spec) = (server.clone(), app.clone(), spec.clone());
        let watcher = watcher.clone();
        async move {
            match watcher {
                Some(watcher) => call(&server, &watcher, &app, &spec, timeout).await,
                None => Outcome::NotHandled("no watcher".into()),
            }
        }
    };
    if let Some(spec) = &args.call
        && !version.is_empty()
    {
        if args.once {
            let ended = follower.as_ref().map_or(0, Follower::sessions_ended);
            let outcome = place(spec).await;
            if let (Some(follower), Outcome::Handled | Outcome::Failed(_)) =
                (follower.as_mut(), &outcome)
            {
                follower.session_end_shown(ended).await;
            }
            return Ok(match outcome {
                Outcome::Handled => ExitCode::SUCCESS,
                Outcome::Failed(why) | Outcome::NotHandled(why) => {
                    eprintln!("wari app run: the test call was not handled: {why}");
                    ExitCode::FAILURE
                }
            });
        }
        tokio::spawn(place(spec));
    }
    if !args.watch {
        std::future::pending::<()>().await;
    }
    println!("watching {} for changes", args.source.display());
    loop {
        seen = sources.changed(&seen).await;
        match source {
            Source::Crate(_) => println!("change seen: rebuilding {app}"),
            Source::File(_) => println!("change seen: redeploying {app}"),
        }
        let built = match build(&source).await {
            Ok(built) => built,
            Err(e) => {
                eprintln!("wari app run: {e:#}\n{}", running(&version));
                continue;
            }
        };
        match deploy(&server, &app, &built).await {
            Ok(sha) if sha == version => {
                println!("{app} is unchanged");
                continue;
            }
            Ok(sha) => {
                version = sha;
                // None yet (the first deploy failed), or its stream ended (the app was
                // deleted meanwhile, e.g. with curl).
                if follower.as_ref().is_none_or(|f| f.task.is_finished()) {
                    follower = Some(Follower::start(&server, &app));
                }
            }
            Err(e) => {
                eprintln!("wari app run: {e:#}\n{}", running(&version));
                continue;
            }
        }
        if let Some(spec) = &args.call {
            tokio::spawn(place(spec));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_names_are_checked_before_a_host_starts() {
        for good in ["ivr", "my-app_2.x", "a"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".hidden", "a b", "a/b", &"x".repeat(74)] {
            let error = check_name(bad).expect_err(bad).to_string();
            assert!(error.contains("--name"), "{error}");
        }
    }

    #[test]
    fn a_source_is_a_crate_or_a_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = Source::of(dir.path())
            .expect_err("no Cargo.toml")
            .to_string();
        assert!(error.contains("without Cargo.toml"), "{error}");
        std::fs::write(dir.path().join("Cargo.toml"), "").expect("write");
        assert!(matches!(Source::of(dir.path()), Ok(Source::Crate(_))));
        let file = dir.path().join("hello.wasm");
        std::fs::write(&file, "").expect("write");
        assert!(matches!(Source::of(&file), Ok(Source::File(_))));
        let error = Source::of(&dir.path().join("missing.wasm"))
            .expect_err("missing")
            .to_string();
        assert!(error.contains("no such crate directory or file"), "{error}");
    }
}
