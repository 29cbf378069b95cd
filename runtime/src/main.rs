//! The `wari` command: runs the host, checks a configuration directory, or manages the
//! WebAssembly apps of a running host (`wari app`, in `cli/`).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the command line talks to its user on the terminal; the server logs with tracing"
)]

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};
use wari::config::{self, ConfigSource, Severity};
use wari::host::StartError;
use wari::http::HttpError;

/// mimalloc: request handling allocates many small, short-lived objects across threads,
/// where it measurably beats the system allocator (docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// wari: an Asterisk REST Interface host.
///
/// With no arguments, wari starts on its embedded demo configuration: HTTP on
/// 127.0.0.1:8088 (--bind moves it, e.g. beside a running Asterisk), a read/write user and a
/// read-only user (printed at start-up), and a small demo dialplan. With --config-dir it
/// reads Asterisk-format files (http.conf, ari.conf, acl.conf, extensions.conf) from that
/// directory; a missing file means that file's defaults.
#[derive(Debug, Parser)]
#[command(name = "wari", version, about, long_about)]
struct Cli {
    /// Directory with Asterisk-format configuration files.
    #[arg(long, value_name = "DIR", global = true)]
    config_dir: Option<PathBuf>,

    /// Where the embedded demo listens instead of 127.0.0.1:8088: a loopback address and a
    /// port (port 0 picks a free one), e.g. 127.0.0.1:8090 or [::1]:8090. Not with
    /// --config-dir, whose http.conf says where to listen.
    #[arg(
        long,
        value_name = "ADDR:PORT",
        value_parser = demo_bind,
        conflicts_with = "config_dir",
        global = true
    )]
    bind: Option<SocketAddr>,

    /// Directory where uploaded WebAssembly apps are kept (default:
    /// $XDG_DATA_HOME/wari or ~/.local/share/wari).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the host (the default).
    Run,
    /// Validate the configuration, print every problem with file:line, and exit non-zero on
    /// errors.
    CheckConfig,
    /// WebAssembly apps: deploy, list and remove them on a running wari, or create a new one.
    App {
        #[command(subcommand)]
        command: cli::app::AppCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let source = match &cli.config_dir {
        Some(dir) => ConfigSource::Dir(dir.clone()),
        None => ConfigSource::Embedded,
    };
    let command = cli.command.unwrap_or(Command::Run);
    if cli.bind.is_some() && !matches!(command, Command::Run) {
        Cli::command()
            .error(
                clap::error::ErrorKind::ArgumentConflict,
                "--bind applies to running the embedded demo (`wari --bind ADDR:PORT`)",
            )
            .exit();
    }
    let result = match command {
        Command::CheckConfig => check_config(&source),
        Command::Run => run(&source, cli.bind, data_dir(cli.data_dir.clone())),
        Command::App { command } => cli::app::run(command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wari: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(source: &ConfigSource) -> anyhow::Result<ExitCode> {
    let (config, mut problems) = config::load(source)?;
    wari::host::core_config(&config, &mut problems);
    wari::host::check_start_up(&config, &mut problems);
    for problem in problems.iter() {
        println!("{problem}");
    }
    let errors = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .count();
    let warnings = problems.len() - errors;
    println!(
        "{}: {errors} error(s), {warnings} warning(s)",
        source.dir().display()
    );
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Why `--bind` is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
enum DemoBindError {
    #[error("expected ADDR:PORT, e.g. 127.0.0.1:8090 or [::1]:8090")]
    Syntax,
    #[error(
        "{0} is not a loopback address: the embedded demo's passwords are public, so it \
         listens on this machine only (use --config-dir with an http.conf to listen \
         elsewhere)"
    )]
    NotLoopback(std::net::IpAddr),
}

/// Parses `--bind`: a loopback `ADDR:PORT`. The embedded demo prints its users' passwords,
/// which are the same for everyone, so it never listens beyond this machine.
fn demo_bind(text: &str) -> Result<SocketAddr, DemoBindError> {
    let address: SocketAddr = text.parse().map_err(|_| DemoBindError::Syntax)?;
    if !address.ip().is_loopback() {
        return Err(DemoBindError::NotLoopback(address.ip()));
    }
    Ok(address)
}

/// The data directory: given, or the XDG data home, or ./wari-data.
fn data_dir(given: Option<PathBuf>) -> PathBuf {
    given
        .or_else(|| std::env::var_os("XDG_DATA_HOME").map(|d| PathBuf::from(d).join("wari")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share/wari")))
        .unwrap_or_else(|| PathBuf::from("wari-data"))
}

fn run(
    source: &ConfigSource,
    bind: Option<SocketAddr>,
    data_dir: PathBuf,
) -> anyhow::Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // rsipstack logs every SIP message's raw text at info: only its warnings by
                // default (RUST_LOG=rsipstack=debug shows the traffic).
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rsipstack=warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let (mut config, problems) = config::load(source)?;
    for problem in problems.iter() {
        match problem.severity {
            Severity::Error => tracing::error!("{problem}"),
            Severity::Warning => tracing::warn!("{problem}"),
        }
    }
    if let Some(address) = bind {
        config.http.listen_on(address);
    }
    let embedded = config.is_embedded();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let host = match wari::host::start(config, wari::host::Paths { data_dir }).await {
            Ok(host) => host,
            Err(error @ StartError::Http(HttpError::Bind { .. })) if embedded => {
                anyhow::bail!(
                    "{error}; the embedded demo can listen elsewhere: wari --bind 127.0.0.1:PORT"
                )
            }
            Err(error) => return Err(error.into()),
        };
        print_banner(&host);
        if host.http.listening.is_empty() {
            tracing::warn!(
                "no listener is enabled (http.conf enabled/bindaddr/tlsenable): nothing to serve"
            );
        }
        let signal = stop_signal().await?;
        tracing::info!(signal, "shutting down");
        host.core.stop_technologies().await;
        let (stopped, left) = host
            .core
            .complete_live_recordings(RECORDINGS_STOP_WAIT)
            .await;
        if stopped > 0 {
            tracing::info!(stopped, left, "live recordings stopped and stored");
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// How long a stop waits for live recordings to be stored.
const RECORDINGS_STOP_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Waits for SIGINT (Ctrl-C) or SIGTERM (what service managers send); returns its name.
async fn stop_signal() -> anyhow::Result<&'static str> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate()).context("cannot wait for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => {
            interrupted.context("cannot wait for Ctrl-C")?;
            Ok("SIGINT")
        }
        _ = terminate.recv() => Ok("SIGTERM"),
    }
}

fn print_banner(host: &wari::host::Host) {
    use std::io::Write;
    let config = &host.config;
    let mut out = String::new();
    out.push_str(&format!(
        "wari {} - Asterisk REST Interface host\n",
        env!("CARGO_PKG_VERSION")
    ));
    match &config.source {
        ConfigSource::Embedded => out.push_str(
            "configuration: embedded demo (use --config-dir DIR for Asterisk-format files)\n",
        ),
        ConfigSource::Dir(dir) => {
            out.push_str(&format!("configuration: {}\n", dir.display()));
        }
    }
    if !config.ari.enabled {
        out.push_str("ARI: disabled by ari.conf\n");
    }
    for listener in &host.http.listening {
        out.push_str(&format!(
            "listening: {} {}://{}{}/ari\n",
            listener.scheme, listener.scheme, listener.address, config.http.prefix
        ));
    }
    for (scheme, url) in &host.sip_listening {
        out.push_str(&format!("listening: {scheme} {url}\n"));
    }
    let mut users: Vec<_> = config.ari.users.values().collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    for user in users {
        let access = if user.read_only {
            "read-only"
        } else {
            "read/write"
        };
        match (&config.source, &user.password) {
            (ConfigSource::Embedded, config::Password::Plain(password)) => out.push_str(&format!(
                "user: {} password {} ({access})\n",
                user.name, password
            )),
            _ => out.push_str(&format!("user: {} ({access})\n", user.name)),
        }
    }
    if config.is_embedded()
        && let Some(listener) = host.http.listening.first()
    {
        out.push_str(&format!(
            "try: curl -u asterisk:asterisk {}://{}/ari/asterisk/info\n",
            listener.scheme, listener.address
        ));
    }
    out.push_str("ready: serving until Ctrl-C\n");
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_gives_the_address_the_embedded_demo_listens_on() {
        let (config, _) = config::load(&ConfigSource::Embedded).expect("embedded config");
        let default = config.http.bind.expect("a plain listener").to_string();
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains(&format!("HTTP on {default}")), "{help}");
        assert!(
            help.contains(&format!("listens instead of {default}")),
            "{help}"
        );
    }

    #[test]
    fn bind_takes_a_loopback_address_and_port() {
        assert_eq!(
            demo_bind("127.0.0.1:8090"),
            Ok("127.0.0.1:8090".parse().expect("address"))
        );
        assert_eq!(
            demo_bind("[::1]:0"),
            Ok("[::1]:0".parse().expect("address"))
        );
        for wrong in ["127.0.0.1", "8090", "localhost:8090", "[::1]", ""] {
            let error = demo_bind(wrong).expect_err(wrong).to_string();
            assert!(error.contains("ADDR:PORT"), "{wrong}: {error}");
        }
        for outside in ["0.0.0.0:8090", "192.0.2.1:8090", "[::]:8090"] {
            let error = demo_bind(outside).expect_err(outside).to_string();
            assert!(
                error.contains("not a loopback address"),
                "{outside}: {error}"
            );
        }
    }
}
