//! `wari app ...`: deploy, list, remove and roll back WebAssembly apps on a running wari
//! (through `/ari/wasm`), print their logs ([`super::app_logs`]), scaffold a new app crate,
//! and build one into a component.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{Method, StatusCode};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::client::{Reply, Server};
use super::scaffold::{self, NewArgs};

/// The WebAssembly apps subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum AppCommand {
    /// Upload a component (`.wasm`) and deploy it under an app name; print its summary.
    ///
    /// A new upload replaces the running version: new calls get it, calls in progress finish
    /// on the old one.
    Deploy {
        /// The component file, e.g. target/guests/components/ivr.wasm.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// The Stasis application name it serves (default: the file name without `.wasm`).
        #[arg(long, value_name = "APP")]
        name: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List the deployed apps: size, SHA-256 prefix, live sessions and failures, and under
    /// an app the versions still draining and their live sessions.
    List {
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Remove a deployed app: it takes no new calls; calls in progress finish (for at most
    /// the server's wasm.conf drain_seconds).
    Rm {
        /// The app name.
        #[arg(value_name = "APP")]
        name: String,
        /// End the calls in progress at once instead of letting them finish.
        #[arg(long)]
        now: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Make the app's previous version current again: new calls get it, calls in progress
    /// finish on theirs (the server keeps the last 5 versions of an app).
    Rollback {
        /// The app name.
        #[arg(value_name = "APP")]
        name: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Print an app's log: its guest log lines, the events its calls get, sessions,
    /// failures and deployments, one line each (the owner's or an admin's view).
    Logs {
        /// The app name.
        #[arg(value_name = "APP")]
        name: String,
        /// Keep printing new entries as they happen, until the app is deleted (or Ctrl-C).
        #[arg(short, long)]
        follow: bool,
        /// How many of the most recent entries to print first (wari keeps 1000 per app).
        #[arg(long, value_name = "N", default_value_t = 100)]
        lines: usize,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Create a new app crate (Cargo.toml, src/lib.rs with a small app and its unit test,
    /// README.md) in DIR/NAME.
    New(NewArgs),
    /// Build the app crate in DIR into a WebAssembly component; print its path.
    ///
    /// Uses rustup's wasm32-wasip2 target when installed, else Debian's rustc-web (std built
    /// from source once per machine, in $WARI_GUEST_TARGET_DIR or ~/.cache/wari/guest-target).
    Build {
        /// The crate's directory.
        #[arg(value_name = "DIR", default_value = ".")]
        dir: PathBuf,
    },
    /// Run an app on a wari of its own: build it (a crate) or take the component, start a
    /// host on a free loopback port (its URL, user and password printed), deploy, place a
    /// test call (--call), show the app's log; --watch redeploys on change.
    Run(super::app_run::RunArgs),
}

/// Which wari to talk to, and as whom.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// wari's HTTP address, with the http.conf prefix if there is one (default
    /// `http://127.0.0.1:8088`, or what `--config-dir`'s http.conf says).
    #[arg(long, value_name = "URL", env = "WARI_URL")]
    url: Option<String>,
    /// The configuration directory the server runs with: its http.conf gives the address,
    /// port and prefix, its ari.conf the user's password (when plain).
    #[arg(long, value_name = "DIR")]
    config_dir: Option<PathBuf>,
    /// An ari.conf user with read/write access.
    #[arg(
        long,
        value_name = "USER",
        env = "WARI_USER",
        default_value = "asterisk"
    )]
    user: String,
    /// The user's password (required unless `--config-dir`'s ari.conf has it in plain
    /// text; the embedded demo's is `asterisk`).
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "WARI_PASSWORD",
        hide_env_values = true
    )]
    password: Option<String>,
}

/// The default address: the embedded demo's.
const DEFAULT_URL: &str = "http://127.0.0.1:8088";

impl ServerArgs {
    fn server(&self) -> anyhow::Result<Server> {
        let configured = match &self.config_dir {
            Some(dir) => Some(configured_server(dir, &self.user)?),
            None => None,
        };
        let url = match (&self.url, &configured) {
            (Some(url), _) => url.clone(),
            (None, Some((url, _))) => url.clone(),
            (None, None) => DEFAULT_URL.to_string(),
        };
        let password = self
            .password
            .clone()
            .or_else(|| configured.and_then(|(_, password)| password));
        let Some(password) = password else {
            bail!(
                "no password for user {}: give it with --password or WARI_PASSWORD (the \
                 embedded demo's user is asterisk, password asterisk)",
                self.user
            );
        };
        Server::new(&url, &self.user, &password)
    }
}

/// The URL a server configured by `dir` listens on, and `user`'s password in its ari.conf
/// when that is plain text.
fn configured_server(
    dir: &std::path::Path,
    user: &str,
) -> anyhow::Result<(String, Option<String>)> {
    let source = wari::config::ConfigSource::Dir(dir.to_path_buf());
    let (config, _) = wari::config::load(&source)
        .with_context(|| format!("cannot read the configuration in {}", dir.display()))?;
    let bind = match &config.http.bind {
        Some(bind) if config.http.enabled && bind.port != 0 => bind,
        _ => bail!(
            "{}/http.conf gives no fixed address to reach wari at (enabled, bindaddr and a \
             bindport other than 0); give it with --url",
            dir.display()
        ),
    };
    // A wildcard address is reached on loopback; an IPv6 literal goes in brackets.
    let host = match bind.host.trim_start_matches('[').trim_end_matches(']') {
        "0.0.0.0" | "" => "127.0.0.1".to_string(),
        "::" => "[::1]".to_string(),
        v6 if v6.contains(':') => format!("[{v6}]"),
        host => host.to_string(),
    };
    Ok((
        format!("http://{host}:{}{}", bind.port, config.http.prefix),
        plain_password(&config, user, dir)?,
    ))
}

/// `user`'s password from ari.conf when stored in plain text (`None` for a crypt hash).
fn plain_password(
    config: &wari::config::Config,
    user: &str,
    dir: &std::path::Path,
) -> anyhow::Result<Option<String>> {
    let Some(found) = config.ari.users.get(user) else {
        let mut names: Vec<&str> = config.ari.users.keys().map(String::as_str).collect();
        names.sort_unstable();
        bail!(
            "{}/ari.conf has no user {user} (it has: {}); choose one with --user",
            dir.display(),
            names.join(", ")
        );
    };
    Ok(match &found.password {
        wari::config::Password::Plain(password) => Some(password.clone()),
        wari::config::Password::Crypt(_) => None,
    })
}

/// What `what` failing means, from wari's reply: the server's message, or, when the server
/// does not know `/ari/wasm` at all, that it is not wari (an Asterisk answers ARI the same
/// way but has no WebAssembly apps).
pub(super) fn failure(what: &str, server: &Server, reply: &Reply) -> anyhow::Error {
    if reply.status == StatusCode::NOT_FOUND
        && reply.message().as_deref() == Some("Resource not found")
    {
        return anyhow::anyhow!(
            "{what} failed: the server at {} answers ARI but has no /ari/wasm resource, so it \
             is not wari (an Asterisk?); point --url or WARI_URL at wari",
            server.url()
        );
    }
    anyhow::anyhow!("{what} failed: {}", reply.error())
}

/// Path segment encoding: everything but RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(super) fn app_path(name: &str) -> String {
    format!("/wasm/{}", utf8_percent_encode(name, SEGMENT))
}

/// Runs one `wari app` subcommand.
pub(crate) fn run(command: AppCommand) -> anyhow::Result<ExitCode> {
    match command {
        AppCommand::New(args) => return scaffold::run(&args),
        AppCommand::Build { dir } => return super::build::run(&dir),
        AppCommand::Run(args) => return super::app_run::run(args),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            AppCommand::Deploy { file, name, server } => deploy(&file, name, &server).await,
            AppCommand::List { server } => list(&server).await,
            AppCommand::Rm { name, now, server } => remove(&name, now, &server).await,
            AppCommand::Rollback { name, server } => rollback(&name, &server).await,
            AppCommand::Logs {
                name,
                follow,
                lines,
                server,
            } => super::app_logs::run(&server.server()?, &name, follow, lines).await,
            AppCommand::New(_) | AppCommand::Build { .. } | AppCommand::Run(_) => {
                unreachable!("handled above")
            }
        }
    })?;
    Ok(ExitCode::SUCCESS)
}

async fn deploy(file: &PathBuf, name: Option<String>, args: &ServerArgs) -> anyhow::Result<()> {
    let name = match name {
        Some(name) => name,
        None => file
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .map(String::from)
            .with_context(|| format!("{}: give the app name with --name", file.display()))?,
    };
    if name.is_empty() {
        bail!("the app name is empty");
    }
    let server = args.server()?;
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let app = upload(&server, &name, file, bytes).await?;
    println!("{}", serde_json::to_string_pretty(&summary(&app))?);
    Ok(())
}

/// Uploads the component `bytes` (read from `file`) as app `name`; wari's description of
/// the deployed app.
pub(super) async fn upload(
    server: &Server,
    name: &str,
    file: &std::path::Path,
    bytes: Vec<u8>,
) -> anyhow::Result<Value> {
    let reply = server
        .send(
            Method::PUT,
            &app_path(name),
            Some(("application/wasm", Bytes::from(bytes))),
        )
        .await?;
    if !reply.status.is_success() {
        return Err(failure(
            &format!("deploying {} as {name}", file.display()),
            server,
            &reply,
        ));
    }
    reply.json()
}

/// The fields of a deployed app that `deploy` prints.
fn summary(app: &Value) -> Value {
    json!({
        "name": app["name"],
        "sha256": app["sha256"],
        "size": app["size"],
        "status": app["status"],
        "owner": app["owner"],
    })
}

async fn list(args: &ServerArgs) -> anyhow::Result<()> {
    let server = args.server()?;
    let reply = server.send(Method::GET, "/wasm", None).await?;
    if !reply.status.is_success() {
        return Err(failure("listing the apps", &server, &reply));
    }
    let apps = reply.json()?;
    let Some(apps) = apps.as_array() else {
        bail!("wari answered GET /ari/wasm with something other than a list: {apps}");
    };
    print!("{}", table(apps));
    Ok(())
}

/// The `list` table: one line per app, sorted by name.
fn table(apps: &[Value]) -> String {
    if apps.is_empty() {
        return "no apps deployed\n".to_string();
    }
    let number = |v: &Value| v.as_u64().map(|n| n.to_string()).unwrap_or("?".into());
    let mut rows: Vec<[String; 6]> = apps
        .iter()
        .map(|app| {
            let sha: String = app["sha256"]
                .as_str()
                .unwrap_or("?")
                .chars()
                .take(12)
                .collect();
            [
                app["name"].as_str().unwrap_or("?").to_string(),
                app["owner"].as_str().unwrap_or("-").to_string(),
                number(&app["size"]),
                sha,
                number(&app["sessions_live"]),
                number(&app["failures"]["total"]),
            ]
        })
        .collect();
    rows.sort();
    let header = ["NAME", "OWNER", "SIZE", "SHA256", "LIVE", "FAILURES"].map(String::from);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (index, row) in std::iter::once(&header).chain(&rows).enumerate() {
        let line = format!(
            "{:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {:>w4$}  {:>w5$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
            w4 = widths[4],
            w5 = widths[5],
        );
        out.push_str(line.trim_end());
        out.push('\n');
        if index > 0
            && let Some(app) = apps.iter().find(|a| a["name"].as_str() == Some(&row[0]))
        {
            out.push_str(&draining_lines(app));
        }
    }
    out
}

/// Under an app's row: the app itself when it was removed and its calls are draining, and
/// each earlier version still running calls.
fn draining_lines(app: &Value) -> String {
    let mut out = String::new();
    if app["status"] == "draining" {
        out.push_str(&format!(
            "  removed: {} call(s) in progress finish, until {} at the latest\n",
            app["sessions_live"],
            app["drain_until"].as_str().unwrap_or("?")
        ));
    }
    let versions = app["versions"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for version in versions.iter().skip(1) {
        out.push_str(&format!(
            "  draining version {}: {} live session(s)\n",
            version["version"].as_str().unwrap_or("?"),
            version["sessions_live"]
        ));
    }
    out
}

async fn remove(name: &str, now: bool, args: &ServerArgs) -> anyhow::Result<()> {
    let server = args.server()?;
    let path = if now {
        format!("{}?immediate=true", app_path(name))
    } else {
        app_path(name)
    };
    let reply = server.send(Method::DELETE, &path, None).await?;
    if reply.status == StatusCode::NOT_FOUND
        && reply.message().as_deref() != Some("Resource not found")
    {
        bail!(
            "{name} is not deployed at {} ({})",
            server.url(),
            reply.error()
        );
    }
    if !reply.status.is_success() {
        return Err(failure(&format!("removing {name}"), &server, &reply));
    }
    if reply.status == StatusCode::ACCEPTED {
        let app = reply.json()?;
        println!(
            "removed {name}: it takes no new calls; {} call(s) in progress finish on it (until {} at the latest; `wari app rm --now {name}` ends them)",
            app["sessions_live"],
            app["drain_until"].as_str().unwrap_or("?")
        );
    } else {
        println!("removed {name}");
    }
    Ok(())
}

async fn rollback(name: &str, args: &ServerArgs) -> anyhow::Result<()> {
    let server = args.server()?;
    let reply = server
        .send(Method::POST, &format!("{}/rollback", app_path(name)), None)
        .await?;
    if !reply.status.is_success() {
        return Err(failure(&format!("rolling {name} back"), &server, &reply));
    }
    let app = reply.json()?;
    println!("{}", serde_json::to_string_pretty(&summary(&app))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_encoded_as_one_path_segment() {
        assert_eq!(app_path("ivr"), "/wasm/ivr");
        assert_eq!(app_path("my-app_2.x~"), "/wasm/my-app_2.x~");
        assert_eq!(app_path("a/b c"), "/wasm/a%2Fb%20c");
    }

    #[test]
    fn the_table_is_sorted_and_aligned() {
        let apps = vec![
            json!({"name": "zeta", "size": 5, "sha256": "0123456789abcdef0123",
                   "sessions_live": 12, "failures": {"total": 0}, "owner": "alice"}),
            json!({"name": "ivr", "size": 71234, "sha256": "fedcba9876543210",
                   "sessions_live": 0, "failures": {"total": 3}}),
        ];
        assert_eq!(
            table(&apps),
            "NAME  OWNER   SIZE  SHA256        LIVE  FAILURES\n\
             ivr   -      71234  fedcba987654     0         3\n\
             zeta  alice      5  0123456789ab    12         0\n"
        );
        assert_eq!(table(&[]), "no apps deployed\n");
    }

    #[test]
    fn draining_versions_and_removed_apps_are_listed_under_their_app() {
        let apps = vec![
            json!({"name": "ivr", "size": 5, "sha256": "0123456789abcdef0123",
                   "sessions_live": 3, "failures": {"total": 0}, "status": "ready",
                   "versions": [
                       {"version": "0123456789ab", "sessions_live": 1, "state": "current"},
                       {"version": "fedcba987654", "sessions_live": 2, "state": "draining"}]}),
            json!({"name": "old", "size": 5, "sha256": "aaaaaaaaaaaaaaaa",
                   "sessions_live": 1, "failures": {"total": 0}, "status": "draining",
                   "drain_until": "2026-01-01T00:05:00.000+0000",
                   "versions": [
                       {"version": "aaaaaaaaaaaa", "sessions_live": 1, "state": "draining"}]}),
        ];
        assert_eq!(
            table(&apps),
            "NAME  OWNER  SIZE  SHA256        LIVE  FAILURES\n\
             ivr   -         5  0123456789ab     3         0\n  \
             draining version fedcba987654: 2 live session(s)\n\
             old   -         5  aaaaaaaaaaaa     1         0\n  \
             removed: 1 call(s) in progress finish, until 2026-01-01T00:05:00.000+0000 at the latest\n"
        );
    }

    #[test]
    fn the_deploy_summary_has_the_five_fields() {
        let app = json!({"name": "ivr", "sha256": "ab", "size": 3, "status": "ready",
                         "uploaded": "2026-01-01T00:00:00Z", "sessions_live": 0,
                         "owner": "alice"});
        assert_eq!(
            summary(&app),
            json!({"name": "ivr", "sha256": "ab", "size": 3, "status": "ready",
                   "owner": "alice"})
        );
    }
}
