//! Configuration: Asterisk-format files (http.conf, ari.conf, acl.conf, ...) read from a
//! directory, or wari's embedded default when no directory is given.
//!
//! [`load`] reads everything and returns the typed [`Config`] together with every problem
//! found (file:line), so `wari check-config` and start-up report the same things.

pub mod acl_conf;
pub(crate) mod ari_conf;
pub(crate) mod asterisk_conf;
pub mod chan_websocket_conf;
pub mod conf_file;
pub mod diagnostics;
pub mod http_conf;
pub(crate) mod musiconhold_conf;
pub mod pjsip_conf;
pub mod test_phones_conf;
pub(crate) mod user_limits;
pub(crate) mod values;
pub mod wasm_conf;
pub(crate) mod websocket_client_conf;

use std::path::{Path, PathBuf};

pub use ari_conf::{AriConfig, Password, User};
use conf_file::{ConfFile, FsSource, MemorySource, Source};
pub use diagnostics::{Problem, Problems, Severity};
pub use http_conf::HttpConfig;

/// The files of the embedded default configuration.
const EMBEDDED: [(&str, &str); 3] = [
    ("http.conf", include_str!("../../defaults/http.conf")),
    ("ari.conf", include_str!("../../defaults/ari.conf")),
    (
        "extensions.conf",
        include_str!("../../defaults/extensions.conf"),
    ),
];

/// Where configuration comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    /// wari's built-in demo configuration (loopback, demo users, demo dialplan).
    Embedded,
    /// Asterisk-format files in a directory; a missing file means that file's defaults.
    Dir(PathBuf),
}

impl ConfigSource {
    /// The directory relative paths are resolved against.
    pub fn dir(&self) -> PathBuf {
        match self {
            ConfigSource::Embedded => PathBuf::from("<embedded>"),
            ConfigSource::Dir(dir) => dir.clone(),
        }
    }
}

/// Why configuration could not be read at all (as opposed to problems inside it).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config-dir` names something that is not a directory.
    #[error("configuration directory {0} does not exist or is not a directory")]
    NoSuchDir(PathBuf),
    /// A file in the directory exists but cannot be read.
    #[error(transparent)]
    File(#[from] conf_file::ConfError),
}

/// The complete typed configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the files came from: a directory or the embedded demo.
    pub source: ConfigSource,
    /// http.conf: listeners, prefix, sessions, TLS, restrictions.
    pub http: HttpConfig,
    /// ari.conf: users, CORS, login throttling, outbound WebSockets.
    pub ari: AriConfig,
    /// The parsed `extensions.conf`, kept for the dialplan.
    pub extensions: Option<ConfFile>,
    /// Named `Test/NAME` phones from `test_phones.conf`.
    pub test_phones: Vec<test_phones_conf::TestPhone>,
    /// The WebAssembly host's settings from `wasm.conf`.
    pub wasm: wasm_conf::WasmConfig,
    /// Client connections from `websocket_client.conf` (for ari.conf outbound sockets).
    pub websocket_clients: websocket_client_conf::WebSocketClients,
    /// `asterisk.conf` `[directories]` (the sounds directory).
    pub directories: asterisk_conf::Directories,
    /// `asterisk.conf` `[options]` (`maxcalls`).
    pub options: asterisk_conf::Options,
    /// Music-on-hold classes from `musiconhold.conf` (see [`musiconhold_conf`]).
    pub moh: musiconhold_conf::MohConfig,
    /// SIP from `pjsip.conf` (empty when the file is absent: SIP does not start).
    pub pjsip: pjsip_conf::PjsipConfig,
    /// WebSocket media channels from `chan_websocket.conf`.
    pub chan_websocket: chan_websocket_conf::ChanWebSocketConfig,
}

impl Config {
    /// True when this is the built-in demo configuration.
    pub fn is_embedded(&self) -> bool {
        self.source == ConfigSource::Embedded
    }
}

/// Reads every configuration file and returns the configuration with all problems found.
pub fn load(source: &ConfigSource) -> Result<(Config, Problems), ConfigError> {
    let dir = source.dir();
    let memory;
    let fs = FsSource;
    let reader: &dyn Source = match source {
        ConfigSource::Embedded => {
            let mut embedded = MemorySource::new();
            for (name, text) in EMBEDDED {
                embedded.insert(dir.join(name), text);
            }
            memory = embedded;
            &memory
        }
        ConfigSource::Dir(path) => {
            if !path.is_dir() {
                return Err(ConfigError::NoSuchDir(path.clone()));
            }
            &fs
        }
    };
    let mut problems = Problems::default();
    let acl = conf_file::load(reader, &dir, "acl.conf", &mut problems)?;
    let asterisk = conf_file::load(reader, &dir, "asterisk.conf", &mut problems)?;
    let directories = asterisk_conf::Directories::read(asterisk.as_ref(), &mut problems);
    let options = asterisk_conf::Options::read(asterisk.as_ref(), &mut problems);
    let http = conf_file::load(reader, &dir, "http.conf", &mut problems)?;
    let ari = conf_file::load(reader, &dir, "ari.conf", &mut problems)?;
    let extensions = conf_file::load(reader, &dir, "extensions.conf", &mut problems)?;
    let test_phones = conf_file::load(reader, &dir, "test_phones.conf", &mut problems)?;
    let wasm = conf_file::load(reader, &dir, "wasm.conf", &mut problems)?;
    let websocket_clients = conf_file::load(reader, &dir, "websocket_client.conf", &mut problems)?;
    let moh = conf_file::load(reader, &dir, "musiconhold.conf", &mut problems)?;
    let pjsip = conf_file::load(reader, &dir, "pjsip.conf", &mut problems)?;
    let chan_websocket = conf_file::load(reader, &dir, "chan_websocket.conf", &mut problems)?;
    let chan_websocket =
        chan_websocket_conf::ChanWebSocketConfig::read(chan_websocket.as_ref(), &mut problems);
    let mut pjsip = pjsip_conf::read(pjsip.as_ref(), &mut problems);
    pjsip.resolve_paths(&dir);
    pjsip_conf::check_contexts(&pjsip, extensions.as_ref(), &mut problems);
    let moh =
        musiconhold_conf::MohConfig::read(moh.as_ref(), &directories.data_dir(), &mut problems);

    let named = acl_conf::NamedAcls::read(acl.as_ref(), &mut problems);
    let http = HttpConfig::read(http.as_ref(), &dir, &named, &mut problems);
    let mut ari_config = AriConfig::read(ari.as_ref(), &named, &mut problems);
    let websocket_clients =
        websocket_client_conf::read(websocket_clients.as_ref(), &dir, &mut problems);
    ari_config.check_outbound(&websocket_clients, &mut problems);
    let test_phones = test_phones_conf::read(test_phones.as_ref(), &mut problems);
    let wasm = wasm_conf::WasmConfig::read(wasm.as_ref(), &dir, &mut problems);
    if ari.is_some() && !ari_config.enabled {
        let location = diagnostics::Location::file(&dir.join("ari.conf"));
        problems.warn(
            &location,
            "ARI is disabled (enabled = no, or no [general] section)",
        );
    }
    Ok((
        Config {
            source: source.clone(),
            http,
            ari: ari_config,
            extensions,
            test_phones,
            wasm,
            websocket_clients,
            directories,
            options,
            moh,
            pjsip,
            chan_websocket,
        },
        problems,
    ))
}

/// Convenience for tests and tools: the directory of a file-system source.
pub fn dir_of(source: &ConfigSource) -> Option<&Path> {
    match source {
        ConfigSource::Dir(dir) => Some(dir),
        ConfigSource::Embedded => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    #[test]
    fn the_embedded_demo_listens_on_loopback_8088_unless_moved() {
        let (mut config, problems) = load(&ConfigSource::Embedded).expect("embedded config");
        assert!(problems.is_empty(), "{problems:?}");
        assert!(config.http.enabled);
        assert_eq!(
            config.http.bind.as_ref().map(ToString::to_string),
            Some("127.0.0.1:8088".to_string())
        );
        assert!(config.http.tls.is_none());

        // `wari --bind` moves it; nothing else changes.
        let users = config.ari.users.len();
        let address: SocketAddr = "[::1]:0".parse().expect("address");
        config.http.listen_on(address);
        assert_eq!(
            config.http.bind.as_ref().map(ToString::to_string),
            Some("[::1]:0".to_string())
        );
        assert!(config.http.enabled);
        assert_eq!(config.ari.users.len(), users);
    }
}
