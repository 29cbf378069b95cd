//! `http.conf`: the HTTP server ARI rides on (listeners, prefix, TLS, redirects, restrictions).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::acl_conf::{NamedAcls, acl_from_entries};
use super::conf_file::ConfFile;
use super::diagnostics::Problems;
use super::values::bool_option;
use crate::acl::Acl;

/// Default plain HTTP port.
pub const DEFAULT_PORT: u16 = 8088;
/// Default HTTPS port when `tlsbindaddr` names no port.
pub const DEFAULT_TLS_PORT: u16 = 8089;

/// A host and port to listen on (the host is resolved when the server starts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    /// A host name or IP address literal (IPv6 without brackets).
    pub host: String,
    /// The TCP port; 0 lets the system pick one.
    pub port: u16,
}

impl std::fmt::Display for BindAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The HTTPS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tlsbindaddr` (port 8089 when it names none).
    pub bind: BindAddress,
    /// PEM file with the certificate chain (and the key when `private_key` is `None`).
    pub cert_file: PathBuf,
    /// `tlsprivatekey`: PEM file with the private key; `None` when `cert_file` holds it.
    pub private_key: Option<PathBuf>,
    /// `tlsdisablev12 = yes`: accept TLS 1.3 only.
    pub disable_tls12: bool,
}

/// A `[/path]` section with `type = restriction`.
#[derive(Debug, Clone)]
pub struct Restriction {
    /// Raw path prefix the restriction applies to (including any http.conf prefix).
    pub path_prefix: String,
    /// `path_prefix` in the form request paths are compared in
    /// ([`crate::http::restriction::comparable`]).
    pub comparable_prefix: String,
    /// The addresses allowed under `path_prefix` (`permit`, `deny`, `acl` lines).
    pub acl: Acl,
}

impl Restriction {
    /// A restriction of `path_prefix` to the addresses `acl` allows.
    pub fn new(path_prefix: String, acl: Acl) -> Restriction {
        Restriction {
            comparable_prefix: crate::http::restriction::comparable(&path_prefix),
            path_prefix,
            acl,
        }
    }
}

/// Everything http.conf configures.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `enabled`: the plain HTTP listener.
    pub enabled: bool,
    /// `bindaddr`/`bindport`; `None` when no address is configured.
    pub bind: Option<BindAddress>,
    /// `prefix`, stored as `/foo` (empty when unset).
    pub prefix: String,
    /// `servername`: the `Server:` header; `None` omits the header.
    pub server_name: Option<String>,
    /// `sessionlimit`: concurrent connections.
    pub session_limit: usize,
    /// `session_inactivity`: time allowed to read a request.
    pub session_inactivity: Duration,
    /// `session_keep_alive`: idle wait between requests; zero disables keep-alive.
    pub session_keep_alive: Duration,
    /// `redirect = from to`, compared case-insensitively with the full path.
    pub redirects: Vec<(String, String)>,
    /// `tlsenable` with its options; `None` when HTTPS is off.
    pub tls: Option<TlsSettings>,
    /// The `type = restriction` sections, in file order.
    pub restrictions: Vec<Restriction>,
    /// `console_health_step` (wari's): how often the console's health charts take a point.
    pub console_health_step: Duration,
}

/// The default `console_health_step`: 360 points make the last hour.
pub const DEFAULT_CONSOLE_HEALTH_STEP: Duration = Duration::from_secs(10);
/// The longest `console_health_step`, in seconds.
const MAX_CONSOLE_HEALTH_STEP_SECS: u64 = 60;

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            enabled: false,
            bind: None,
            prefix: String::new(),
            server_name: Some(default_server_name()),
            session_limit: 100,
            session_inactivity: Duration::from_millis(30_000),
            session_keep_alive: Duration::from_millis(15_000),
            redirects: Vec::new(),
            tls: None,
            restrictions: Vec::new(),
            console_health_step: DEFAULT_CONSOLE_HEALTH_STEP,
        }
    }
}

/// `wari/<version>`, the default `Server:` header.
pub fn default_server_name() -> String {
    format!("wari/{}", env!("CARGO_PKG_VERSION"))
}

/// Why a `bindaddr` or `bindport` value is not an address or port.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The value is empty.
    #[error("empty address")]
    Empty,
    /// A `[` opens an IPv6 address that no `]` closes.
    #[error("'{0}': missing ']'")]
    MissingBracket(String),
    /// Something other than `:port` follows the `]`.
    #[error("'{0}': unexpected text after ']'")]
    AfterBracket(String),
    /// The port is not a number from 0 to 65535.
    #[error("'{0}' is not a port number (0-65535)")]
    Port(String),
}

/// Splits `host`, `host:port`, `[v6]:port` or a bare IPv6 address.
pub fn split_host_port(text: &str) -> Result<(String, Option<u16>), AddressError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| AddressError::MissingBracket(text.to_string()))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(parse_port(p)?),
            None if after.is_empty() => None,
            None => return Err(AddressError::AfterBracket(text.to_string())),
        };
        return Ok((host.to_string(), port));
    }
    match text.matches(':').count() {
        0 => Ok((text.to_string(), None)),
        1 => {
            let (host, port) = text.split_once(':').unwrap_or((text, ""));
            Ok((host.to_string(), Some(parse_port(port)?)))
        }
        _ => Ok((text.to_string(), None)), // bare IPv6 address
    }
}

fn parse_port(text: &str) -> Result<u16, AddressError> {
    text.trim()
        .parse::<u16>()
        .map_err(|_| AddressError::Port(text.to_string()))
}

/// A path relative to the configuration directory (`join` keeps an absolute one as it is).
fn resolve_path(dir: &Path, value: &str) -> PathBuf {
    dir.join(value.trim())
}

impl HttpConfig {
    /// Reads http.conf; `None` means the file is absent and every default applies.
    /// Relative TLS file names are resolved against `dir`.
    pub fn read(
        file: Option<&ConfFile>,
        dir: &Path,
        named: &NamedAcls,
        problems: &mut Problems,
    ) -> HttpConfig {
        let mut config = HttpConfig::default();
        let Some(file) = file else {
            return config;
        };
        let mut bindaddr: Option<(String, Option<u16>)> = None;
        let mut bindport = DEFAULT_PORT;
        let mut tls_enabled = false;
        let mut tls_bind: Option<(String, Option<u16>)> = None;
        let mut tls_cert = PathBuf::from("asterisk.pem");
        let mut tls_cert_location = None;
        let mut tls_key: Option<PathBuf> = None;
        let mut disable_tls12 = false;

        for section in file.sections() {
            if section.name == "general" {
                for entry in &section.entries {
                    let key = entry.key.to_ascii_lowercase();
                    let value = entry.value.trim();
                    match key.as_str() {
                        "enabled" => {
                            if let Some(b) = bool_option(entry, problems) {
                                config.enabled = b;
                            }
                        }
                        "bindaddr" => match split_host_port(value) {
                            Ok(hp) => bindaddr = Some(hp),
                            Err(e) => problems
                                .error(&entry.location, format!("invalid bindaddr: {e}")),
                        },
                        "bindport" => match parse_port(value) {
                            Ok(p) => bindport = p,
                            Err(e) => problems
                                .error(&entry.location, format!("invalid bindport: {e}")),
                        },
                        "prefix" => {
                            let p = value.trim_matches('/');
                            config.prefix = if p.is_empty() {
                                String::new()
                            } else {
                                format!("/{p}")
                            };
                        }
                        "servername" => {
                            if value.len() > 127 {
                                problems.error(
                                    &entry.location,
                                    "servername is longer than 127 characters",
                                );
                            } else if value.is_empty() {
                                config.server_name = None;
                            } else {
                                config.server_name = Some(value.to_string());
                            }
                        }
                        "sessionlimit" => match value.parse::<usize>() {
                            Ok(n) if n > 0 => config.session_limit = n,
                            _ => problems.error(
                                &entry.location,
                                format!(
                                    "invalid value '{value}' for sessionlimit: expected a positive number"
                                ),
                            ),
                        },
                        "session_inactivity" => {
                            if let Some(d) = super::values::millis_option(entry, problems) {
                                config.session_inactivity = d;
                            }
                        }
                        "session_keep_alive" => {
                            if let Some(d) = super::values::millis_option(entry, problems) {
                                config.session_keep_alive = d;
                            }
                        }
                        "redirect" => {
                            let mut parts = value.split_whitespace();
                            match (parts.next(), parts.next(), parts.next()) {
                                (Some(from), Some(to), None) => {
                                    config.redirects.push((from.to_string(), to.to_string()))
                                }
                                _ => problems.error(
                                    &entry.location,
                                    format!("invalid redirect '{value}': expected '<from> <to>'"),
                                ),
                            }
                        }
                        "tlsenable" | "sslenable" => {
                            if let Some(b) = bool_option(entry, problems) {
                                tls_enabled = b;
                            }
                        }
                        "tlsbindaddr" | "sslbindaddr" => match split_host_port(value) {
                            Ok(hp) => tls_bind = Some(hp),
                            Err(e) => problems
                                .error(&entry.location, format!("invalid {}: {e}", entry.key)),
                        },
                        "tlscertfile" | "sslcert" | "tlscert" => {
                            tls_cert = resolve_path(dir, value);
                            tls_cert_location = Some(entry.location.clone());
                        }
                        "tlsprivatekey" | "sslprivatekey" => {
                            tls_key = (!value.is_empty()).then(|| resolve_path(dir, value));
                        }
                        "tlsdisablev12" => {
                            if let Some(b) = bool_option(entry, problems) {
                                disable_tls12 = b;
                            }
                        }
                        "tlsdisablev1" | "tlsdisablev11" => {
                            // rustls never speaks TLS 1.0 or 1.1: nothing to disable.
                            bool_option(entry, problems);
                        }
                        "tlscipher" | "sslcipher" | "tlsservercipherorder" => problems.warn(
                            &entry.location,
                            format!(
                                "{} is ignored: wari uses rustls's fixed set of safe cipher suites",
                                entry.key
                            ),
                        ),
                        "console_health_step" => match value.parse::<u64>() {
                            Ok(n) if (1..=MAX_CONSOLE_HEALTH_STEP_SECS).contains(&n) => {
                                config.console_health_step = Duration::from_secs(n)
                            }
                            _ => problems.error(
                                &entry.location,
                                format!(
                                    "invalid value '{value}' for console_health_step: expected seconds from 1 to {MAX_CONSOLE_HEALTH_STEP_SECS}"
                                ),
                            ),
                        },
                        "enable_static" | "enablestatic" | "enable_status" => {
                            if bool_option(entry, problems) == Some(true) {
                                problems.warn(
                                    &entry.location,
                                    format!("{} is not supported by wari (ignored)", entry.key),
                                );
                            }
                        }
                        _ => problems.warn(
                            &entry.location,
                            format!("unknown option '{}' in [general] (ignored)", entry.key),
                        ),
                    }
                }
            } else if section.name == "post_mappings" {
                // AMI only; nothing for ARI.
            } else {
                read_restriction(section, named, &mut config, problems);
            }
        }

        config.bind = bindaddr.as_ref().map(|(host, port)| BindAddress {
            host: host.clone(),
            port: port.unwrap_or(bindport),
        });
        if tls_enabled {
            let bind = tls_bind
                .map(|(host, port)| BindAddress {
                    host,
                    port: port.unwrap_or(DEFAULT_TLS_PORT),
                })
                .or_else(|| {
                    bindaddr.map(|(host, _)| BindAddress {
                        host,
                        port: DEFAULT_TLS_PORT,
                    })
                });
            match bind {
                Some(bind) => {
                    config.tls = Some(TlsSettings {
                        bind,
                        cert_file: tls_cert,
                        private_key: tls_key,
                        disable_tls12,
                    })
                }
                None => problems.error(
                    tls_cert_location
                        .as_ref()
                        .unwrap_or(&super::diagnostics::Location::file(Path::new("http.conf"))),
                    "tlsenable is set but neither tlsbindaddr nor bindaddr gives an address",
                ),
            }
        }
        config
    }

    /// Serves plain HTTP on `address` in place of what was configured (`wari --bind` for the
    /// embedded demo).
    pub fn listen_on(&mut self, address: std::net::SocketAddr) {
        self.enabled = true;
        self.bind = Some(BindAddress {
            host: address.ip().to_string(),
            port: address.port(),
        });
    }
}

fn read_restriction(
    section: &super::conf_file::Section,
    named: &NamedAcls,
    config: &mut HttpConfig,
    problems: &mut Problems,
) {
    let is_restriction = section
        .get("type")
        .is_some_and(|t| t.value.trim().eq_ignore_ascii_case("restriction"));
    if !is_restriction {
        problems.warn(
            &section.location,
            format!(
                "section [{}] is not a restriction (no type = restriction): ignored",
                section.name
            ),
        );
        return;
    }
    for entry in &section.entries {
        let key = entry.key.to_ascii_lowercase();
        if !matches!(key.as_str(), "type" | "permit" | "deny" | "acl") {
            problems.warn(
                &entry.location,
                format!(
                    "unknown option '{}' in restriction [{}] (ignored)",
                    entry.key, section.name
                ),
            );
        }
    }
    let what = format!("restriction [{}]", section.name);
    if let Some(acl) = acl_from_entries(&section.entries, named, &what, problems) {
        config
            .restrictions
            .push(Restriction::new(section.name.clone(), acl));
    } else {
        // An invalid restriction must not silently open the path: deny everything under it.
        let mut deny_all = Acl::default();
        let _ = deny_all.baseline.add_entries("0.0.0.0/0,::/0", false);
        config
            .restrictions
            .push(Restriction::new(section.name.clone(), deny_all));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("127.0.0.1"), Ok(("127.0.0.1".into(), None)));
        assert_eq!(
            split_host_port("127.0.0.1:9000"),
            Ok(("127.0.0.1".into(), Some(9000)))
        );
        assert_eq!(split_host_port("[::1]:80"), Ok(("::1".into(), Some(80))));
        assert_eq!(split_host_port("::1"), Ok(("::1".into(), None)));
        assert_eq!(
            split_host_port("host:99999"),
            Err(AddressError::Port("99999".into()))
        );
        assert!(split_host_port("[::1").is_err());
    }

    #[test]
    fn console_health_step_is_seconds_from_1_to_60() {
        let read = |text: &str| {
            let mut problems = Problems::default();
            let file =
                super::super::conf_file::parse_str(Path::new("http.conf"), text, &mut problems);
            let config = HttpConfig::read(
                Some(&file),
                Path::new("."),
                &NamedAcls::default(),
                &mut problems,
            );
            (config.console_health_step, problems.has_errors())
        };
        assert_eq!(read("[general]\n"), (DEFAULT_CONSOLE_HEALTH_STEP, false));
        assert_eq!(
            read("[general]\nconsole_health_step = 1\n"),
            (Duration::from_secs(1), false)
        );
        for bad in ["0", "61", "-1", "ten"] {
            let (step, errors) = read(&format!("[general]\nconsole_health_step = {bad}\n"));
            assert_eq!(step, DEFAULT_CONSOLE_HEALTH_STEP, "{bad}");
            assert!(errors, "{bad} is refused");
        }
    }
}
