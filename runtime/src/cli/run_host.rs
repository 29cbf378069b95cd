//! The wari host that `wari app run` starts for an app author: in this process, on a free
//! loopback port, with a configuration written for the run (a read/write user with a random
//! password, a read-only user for following the test call, and a dialplan context whose
//! extension runs `Stasis(<app>)`), and a data directory in a temporary directory unless one
//! is given.
//!
//! The host runs in-process rather than as a child `wari`: its listeners are this process's
//! sockets, so nothing can outlive `wari app run` however it ends (Ctrl-C, SIGTERM, a panic,
//! even SIGKILL), and the port is known without parsing another process's output.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use wari::config::{self, ConfigSource, Severity};

/// The read/write user the author (and `wari app run` itself) deploys and calls with.
pub(super) const USER: &str = "dev";
/// The read-only user whose event WebSocket follows the test call.
pub(super) const WATCH_USER: &str = "watch";
/// The dialplan context of the run; its extension `s` runs `Stasis(<app>)`.
pub(super) const CONTEXT: &str = "wari-run";
/// The extension in [`CONTEXT`] that runs the app.
pub(super) const EXTENSION: &str = "s";

/// A running host and what it takes to talk to it.
pub(super) struct RunHost {
    /// The host: it serves as long as this lives (its listeners close with the process).
    _host: wari::host::Host,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub address: SocketAddr,
    pub password: String,
    pub watch_password: String,
    pub data_dir: PathBuf,
    /// True when the data directory is the temporary one (removed at exit).
    pub temporary_data: bool,
    /// The configuration and (unless given) the data directory; removed when dropped.
    _scratch: tempfile::TempDir,
}

/// A random password: 128 bits from the system's generator, as 32 hex digits.
fn random_password() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The configuration files of a run serving `app`.
fn config_files(app: &str, password: &str, watch_password: &str) -> [(&'static str, String); 3] {
    [
        (
            "http.conf",
            "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n".to_string(),
        ),
        (
            "ari.conf",
            format!(
                "[general]\nenabled = yes\n\n\
                 [{USER}]\ntype = user\nread_only = no\npassword = {password}\n\n\
                 [{WATCH_USER}]\ntype = user\nread_only = yes\npassword = {watch_password}\n"
            ),
        ),
        (
            "extensions.conf",
            format!("[{CONTEXT}]\nexten => {EXTENSION},1,Stasis({app})\n same => n,Hangup()\n"),
        ),
    ]
}

/// Starts a host serving `app` on a free loopback port. `data_dir`: where apps and
/// recordings are kept (default: a temporary directory removed at exit).
pub(super) async fn start(app: &str, data_dir: Option<&Path>) -> anyhow::Result<RunHost> {
    let scratch = tempfile::Builder::new()
        .prefix("wari-run-")
        .tempdir()
        .context("cannot make a temporary directory")?;
    let conf_dir = scratch.path().join("conf");
    std::fs::create_dir(&conf_dir)
        .with_context(|| format!("cannot make {}", conf_dir.display()))?;
    let password = random_password();
    let watch_password = random_password();
    for (name, text) in config_files(app, &password, &watch_password) {
        let path = conf_dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (mut config, problems) = config::load(&ConfigSource::Dir(conf_dir.clone()))?;
    let errors: Vec<String> = problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        bail!(
            "the generated configuration is wrong: {}",
            errors.join("; ")
        );
    }
    config
        .http
        .listen_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    let (data_dir, temporary_data) = match data_dir {
        Some(dir) => (dir.to_path_buf(), false),
        None => (scratch.path().join("data"), true),
    };
    let host = wari::host::start(
        config,
        wari::host::Paths {
            data_dir: data_dir.clone(),
        },
    )
    .await
    .context("cannot start the wari host")?;
    let Some(listener) = host.http.listening.first() else {
        bail!("the wari host has no listener");
    };
    let address = listener.address;
    Ok(RunHost {
        url: format!("http://{address}"),
        address,
        _host: host,
        password,
        watch_password,
        data_dir,
        temporary_data,
        _scratch: scratch,
    })
}

impl RunHost {
    /// What the author needs to reach the host: printed at start.
    pub(super) fn banner(&self, app: &str) -> String {
        let data = if self.temporary_data {
            format!("{} (removed at exit)", self.data_dir.display())
        } else {
            self.data_dir.display().to_string()
        };
        format!(
            "wari {version} serving {app} until Ctrl-C\n\
             url:      {url}/ari\n\
             user:     {USER}\n\
             password: {password}\n\
             dialplan: {EXTENSION}@{CONTEXT} runs Stasis({app})\n\
             data:     {data}\n\
             try:      curl -u {USER}:{password} -X POST '{url}/ari/channels?endpoint=Test/bob&context={CONTEXT}&extension={EXTENSION}'\n",
            version = env!("CARGO_PKG_VERSION"),
            url = self.url,
            password = self.password,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_configuration_loads_without_problems() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (name, text) in config_files("hello", "pw1", "pw2") {
            std::fs::write(dir.path().join(name), text).expect("write");
        }
        let (config, problems) =
            config::load(&ConfigSource::Dir(dir.path().to_path_buf())).expect("load");
        assert!(problems.is_empty(), "{problems:?}");
        let dev = config.ari.users.get(USER).expect("the dev user");
        assert!(!dev.read_only);
        assert_eq!(dev.password, config::Password::Plain("pw1".into()));
        let watch = config.ari.users.get(WATCH_USER).expect("the watch user");
        assert!(watch.read_only);
    }

    #[test]
    fn passwords_are_random() {
        let (a, b) = (random_password(), random_password());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
