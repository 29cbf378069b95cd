//! `websocket_client.conf`: the WebSocket client connections wari can open (used by ari.conf
//! `type = outbound_websocket` sections): where to connect, credentials, connection type,
//! timing, and TLS.
//!
//! ```ini
//! [app-server]
//! type = websocket_client
//! uri = wss://apps.example.com:8443/ari
//! protocols = ari
//! connection_type = persistent        ; or per_call_config
//! username = wari                     ; Basic auth to the server, when both are set
//! password = s3cret
//! connection_timeout = 500            ; ms, TCP+TLS connect; the handshake gets twice that
//! reconnect_interval = 500            ; ms between attempts
//! reconnect_attempts = 4              ; per batch (persistent retries forever)
//! tls_enabled = yes                   ; TLS is decided by this, not by the scheme
//! ca_list_file = ca.pem               ; trust anchors (relative to the config directory)
//! cert_file = client.pem              ; client certificate and key (optional)
//! priv_key_file = client.key
//! verify_server_cert = yes
//! verify_server_hostname = yes
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::conf_file::{ConfFile, Entry, Section};
use super::diagnostics::Problems;
use super::values::{bool_option, millis_option, number_option};

/// How the connection is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionType {
    /// One connection for the applications, made at start-up and re-made when lost.
    Persistent,
    /// A connection per channel entering `Stasis(app)`.
    PerCall,
}

/// TLS settings of a client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    pub enabled: bool,
    pub ca_list_file: Option<PathBuf>,
    pub ca_list_path: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub priv_key_file: Option<PathBuf>,
    pub verify_server_cert: bool,
    pub verify_server_hostname: bool,
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls {
            enabled: false,
            ca_list_file: None,
            ca_list_path: None,
            cert_file: None,
            priv_key_file: None,
            verify_server_cert: true,
            verify_server_hostname: true,
        }
    }
}

/// One `type = websocket_client` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebSocketClient {
    pub id: String,
    /// `ws://` or `wss://` URI (the scheme only picks the default port).
    pub uri: String,
    /// Offered as `Sec-WebSocket-Protocol`.
    pub protocols: Vec<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub connection_type: ConnectionType,
    pub connection_timeout: Duration,
    pub reconnect_interval: Duration,
    /// Attempts per connect (at least 1).
    pub reconnect_attempts: u32,
    pub tls: ClientTls,
    /// Ping the server this often (`enable_pingpongs`); `None` never.
    pub ping_interval: Option<Duration>,
    /// Unanswered pings after which the connection counts as lost.
    pub ping_probes: u32,
}

/// Every client connection, by id.
pub(crate) type WebSocketClients = BTreeMap<String, WebSocketClient>;

/// Reads websocket_client.conf (absent: no connections). Invalid sections are reported and
/// dropped; the others load.
pub(crate) fn read(
    file: Option<&ConfFile>,
    dir: &Path,
    problems: &mut Problems,
) -> WebSocketClients {
    let mut clients = WebSocketClients::new();
    let Some(file) = file else {
        return clients;
    };
    for section in file.sections() {
        let kind = section.value("type").map(|t| t.trim().to_ascii_lowercase());
        match kind.as_deref() {
            Some("websocket_client") => {
                if clients.contains_key(&section.name) {
                    problems.error(
                        &section.location,
                        format!("[{}] is defined twice (second one ignored)", section.name),
                    );
                } else if let Some(client) = read_client(section, dir, problems) {
                    clients.insert(client.id.clone(), client);
                }
            }
            Some(other) => problems.unknown_type(&section.location, &section.name, other),
            None => problems.no_type(&section.location, &section.name, "websocket_client"),
        }
    }
    clients
}

/// A [`number_option`] that must also fit a `u32`.
fn whole(entry: &Entry, problems: &mut Problems, min: u64) -> Option<u32> {
    number_option(entry, problems, min).map(|n| u32::try_from(n).unwrap_or(u32::MAX))
}

fn path(dir: &Path, value: &str) -> Option<PathBuf> {
    let value = value.trim();
    (!value.is_empty()).then(|| dir.join(value))
}

fn read_client(section: &Section, dir: &Path, problems: &mut Problems) -> Option<WebSocketClient> {
    let what = format!("websocket_client [{}]", section.name);
    let mut uri = None;
    let mut protocols = Vec::new();
    let mut username = None;
    let mut password = None;
    let mut connection_type = None;
    let mut connection_timeout = Duration::from_millis(500);
    let mut reconnect_interval = Duration::from_millis(500);
    let mut reconnect_attempts = 4u32;
    let mut tls = ClientTls::default();
    let mut pingpongs = false;
    let mut ping_interval = Duration::from_secs(20);
    let mut ping_probes = 3u32;
    let mut valid = true;
    for entry in &section.entries {
        let value = entry.value.trim();
        match entry.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "uri" => uri = Some(value.to_string()),
            "protocols" => {
                protocols = super::values::comma_list(value)
                    .map(str::to_string)
                    .collect();
            }
            "username" => username = Some(value.to_string()).filter(|v| !v.is_empty()),
            "password" => password = Some(value.to_string()).filter(|v| !v.is_empty()),
            "connection_type" => match value.to_ascii_lowercase().as_str() {
                "persistent" => connection_type = Some(ConnectionType::Persistent),
                "per_call_config" => connection_type = Some(ConnectionType::PerCall),
                _ => {
                    problems.error(
                        &entry.location,
                        format!(
                            "{what}: invalid connection_type '{value}': expected persistent or per_call_config"
                        ),
                    );
                    valid = false;
                }
            },
            "connection_timeout" => match millis_option(entry, problems) {
                Some(d) => connection_timeout = d,
                None => valid = false,
            },
            "reconnect_interval" => match millis_option(entry, problems) {
                Some(d) => reconnect_interval = d,
                None => valid = false,
            },
            "reconnect_attempts" => match whole(entry, problems, 0) {
                Some(n) => reconnect_attempts = n.max(1),
                None => valid = false,
            },
            "tls_enabled" => match bool_option(entry, problems) {
                Some(b) => tls.enabled = b,
                None => valid = false,
            },
            "verify_server_cert" => match bool_option(entry, problems) {
                Some(b) => tls.verify_server_cert = b,
                None => valid = false,
            },
            "verify_server_hostname" => match bool_option(entry, problems) {
                Some(b) => tls.verify_server_hostname = b,
                None => valid = false,
            },
            "ca_list_file" => tls.ca_list_file = path(dir, value),
            "ca_list_path" => tls.ca_list_path = path(dir, value),
            "cert_file" => tls.cert_file = path(dir, value),
            "priv_key_file" => tls.priv_key_file = path(dir, value),
            "enable_pingpongs" => match bool_option(entry, problems) {
                Some(b) => pingpongs = b,
                None => valid = false,
            },
            "pingpong_interval" => match number_option(entry, problems, 1) {
                Some(seconds) => ping_interval = Duration::from_secs(seconds),
                None => valid = false,
            },
            "pingpong_probes" => match whole(entry, problems, 1) {
                Some(n) => ping_probes = n,
                None => valid = false,
            },
            "proxy_host"
            | "proxy_username"
            | "proxy_password"
            | "enable_tcp_keepalives"
            | "tcp_keepalive_time"
            | "tcp_keepalive_interval"
            | "tcp_keepalive_probes" => {
                problems.warn(
                    &entry.location,
                    format!("{what}: '{}' is not supported by wari (ignored)", entry.key),
                );
            }
            _ => problems.warn(
                &entry.location,
                format!("{what}: unknown option '{}' (ignored)", entry.key),
            ),
        }
    }
    let Some(uri) = uri.filter(|u| !u.is_empty()) else {
        problems.error(&section.location, format!("{what} has no uri (ignored)"));
        return None;
    };
    let lower = uri.to_ascii_lowercase();
    if !lower.starts_with("ws://") && !lower.starts_with("wss://") {
        problems.error(
            &section.location,
            format!("{what}: uri '{uri}' must start with ws:// or wss:// (ignored)"),
        );
        return None;
    }
    if lower.starts_with("wss://") && !tls.enabled {
        problems.warn(
            &section.location,
            format!(
                "{what}: uri is wss:// but tls_enabled is no: the connection will be cleartext (as in Asterisk, TLS is decided by tls_enabled)"
            ),
        );
    }
    let Some(connection_type) = connection_type else {
        if valid {
            problems.error(
                &section.location,
                format!("{what} has no connection_type (persistent or per_call_config; ignored)"),
            );
        }
        return None;
    };
    if !valid {
        return None;
    }
    Some(WebSocketClient {
        id: section.name.clone(),
        uri,
        protocols,
        username,
        password,
        connection_type,
        connection_timeout,
        reconnect_interval,
        reconnect_attempts,
        tls,
        ping_interval: pingpongs.then_some(ping_interval),
        ping_probes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::conf_file::parse_str;

    fn read_text(text: &str) -> (WebSocketClients, Problems) {
        let mut problems = Problems::default();
        let file = parse_str(Path::new("websocket_client.conf"), text, &mut problems);
        let clients = read(Some(&file), Path::new("/etc/wari"), &mut problems);
        (clients, problems)
    }

    #[test]
    fn a_full_section_reads_with_defaults() {
        let (clients, problems) = read_text(
            "[srv]\ntype = websocket_client\nuri = wss://h:1/x\nprotocols = ari\n\
             connection_type = Per_Call_Config\ntls_enabled = yes\nca_list_file = ca.pem\n\
             reconnect_attempts = 0\n",
        );
        assert!(problems.iter().next().is_none(), "{problems:?}");
        let srv = &clients["srv"];
        assert_eq!(srv.connection_type, ConnectionType::PerCall);
        assert_eq!(srv.protocols, ["ari"]);
        assert_eq!(srv.connection_timeout, Duration::from_millis(500));
        assert_eq!(srv.reconnect_attempts, 1, "0 behaves like 1");
        assert!(srv.tls.enabled && srv.tls.verify_server_cert);
        assert_eq!(
            srv.tls.ca_list_file,
            Some(PathBuf::from("/etc/wari/ca.pem"))
        );
        assert_eq!(srv.ping_interval, None);
    }

    #[test]
    fn invalid_sections_are_dropped() {
        let (clients, problems) = read_text(
            "[nouri]\ntype = websocket_client\nconnection_type = persistent\n\
             [badtype]\ntype = websocket_client\nuri = ws://h\nconnection_type = sometimes\n\
             [notype]\ntype = websocket_client\nuri = ws://h\n\
             [http]\ntype = websocket_client\nuri = http://h\nconnection_type = persistent\n\
             [ok]\ntype = websocket_client\nuri = ws://h\nconnection_type = persistent\n",
        );
        assert_eq!(clients.keys().collect::<Vec<_>>(), ["ok"]);
        assert!(problems.iter().count() >= 4);
    }
}
