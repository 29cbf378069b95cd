//! `ari.conf`: whether ARI is on, how it formats and authenticates, and its users.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::acl_conf::{NamedAcls, acl_from_entries};
use super::conf_file::{ConfFile, Section};
use super::diagnostics::Problems;
use super::values::{bool_option, comma_list};
use crate::acl::Acl;

/// Default realm in the `WWW-Authenticate` challenge.
pub const DEFAULT_REALM: &str = "Asterisk REST Interface";

/// How a user's password is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Password {
    /// Compared byte for byte.
    Plain(String),
    /// A crypt(3) hash (`$6$`, `$5$`, `$1$`, bcrypt or traditional DES).
    Crypt(String),
}

/// One `type = user` section.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: Password,
    /// Only GET and OPTIONS are allowed.
    pub read_only: bool,
    /// Client addresses allowed to use this user over HTTP.
    pub acl: Acl,
}

/// Everything ari.conf configures.
#[derive(Debug, Clone)]
pub struct AriConfig {
    /// `[general] enabled`; also false when `[general]` is absent.
    pub enabled: bool,
    /// Indent JSON bodies and events.
    pub pretty: bool,
    /// CORS allow-list; `*` allows any origin.
    pub allowed_origins: Vec<String>,
    pub auth_realm: String,
    pub websocket_write_timeout: Duration,
    /// Channel variables added to every Channel object.
    pub channelvars: Vec<String>,
    pub users: HashMap<String, Arc<User>>,
}

impl Default for AriConfig {
    fn default() -> Self {
        AriConfig {
            enabled: false,
            pretty: false,
            allowed_origins: Vec::new(),
            auth_realm: DEFAULT_REALM.to_string(),
            websocket_write_timeout: Duration::from_millis(100),
            channelvars: Vec::new(),
            users: HashMap::new(),
        }
    }
}

/// Crypt formats wari can verify.
fn crypt_supported(hash: &str) -> bool {
    const PREFIXES: [&str; 6] = ["$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$"];
    if PREFIXES.iter().any(|p| hash.starts_with(p)) {
        return true;
    }
    // Traditional DES: 13 characters from the crypt alphabet.
    hash.len() == 13
        && hash
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
}

impl AriConfig {
    /// Reads ari.conf; `None` (file absent) leaves ARI disabled, as Asterisk does without a
    /// `[general]` section.
    pub fn read(file: Option<&ConfFile>, named: &NamedAcls, problems: &mut Problems) -> AriConfig {
        let mut config = AriConfig::default();
        let Some(file) = file else {
            return config;
        };
        let mut seen_general = false;
        for section in file.sections() {
            if section.name == "general" {
                if seen_general {
                    problems.error(&section.location, "[general] is defined twice");
                }
                seen_general = true;
                config.enabled = true;
                read_general(section, &mut config, problems);
                continue;
            }
            let kind = section
                .get("type")
                .map(|e| e.value.trim().to_ascii_lowercase());
            match kind.as_deref() {
                Some("user") => {
                    if config.users.contains_key(&section.name) {
                        problems.error(
                            &section.location,
                            format!(
                                "user [{}] is defined twice (second one ignored)",
                                section.name
                            ),
                        );
                    } else if let Some(user) = read_user(section, named, problems) {
                        config.users.insert(user.name.clone(), Arc::new(user));
                    }
                }
                Some("outbound_websocket") => problems.warn(
                    &section.location,
                    format!(
                        "[{}]: outbound websockets are not supported yet (section ignored)",
                        section.name
                    ),
                ),
                Some(other) => problems.error(
                    &section.location,
                    format!(
                        "[{}]: unknown type '{other}' (section ignored)",
                        section.name
                    ),
                ),
                None => problems.warn(
                    &section.location,
                    format!("[{}] has no type = ... (section ignored)", section.name),
                ),
            }
        }
        config
    }
}

fn read_general(section: &Section, config: &mut AriConfig, problems: &mut Problems) {
    for entry in &section.entries {
        let value = entry.value.trim();
        let key = entry.key.to_ascii_lowercase();
        match key.as_str() {
            "enabled" => {
                if let Some(b) = bool_option(entry, problems) {
                    config.enabled = b;
                }
            }
            "pretty" => {
                if let Some(b) = bool_option(entry, problems) {
                    config.pretty = b;
                }
            }
            "allowed_origins" => {
                config.allowed_origins = comma_list(value).map(str::to_string).collect();
            }
            "auth_realm" => config.auth_realm = value.to_string(),
            "websocket_write_timeout" => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => config.websocket_write_timeout = Duration::from_millis(ms),
                _ => problems.error(
                    &entry.location,
                    format!(
                        "invalid value '{value}' for websocket_write_timeout: expected a positive number of milliseconds"
                    ),
                ),
            },
            "channelvars" => {
                config.channelvars = comma_list(value).map(str::to_string).collect();
            }
            "type" => {}
            _ => problems.warn(
                &entry.location,
                format!("unknown option '{}' in [general] (ignored)", entry.key),
            ),
        }
    }
}

fn read_user(section: &Section, named: &NamedAcls, problems: &mut Problems) -> Option<User> {
    let mut password = None;
    let mut format = "plain".to_string();
    let mut format_location = None;
    let mut read_only = false;
    let mut valid = true;
    for entry in &section.entries {
        let value = entry.value.trim();
        match entry.key.to_ascii_lowercase().as_str() {
            "type" | "permit" | "deny" | "acl" => {}
            "password" => password = Some(value.to_string()),
            "password_format" => {
                format = value.to_ascii_lowercase();
                format_location = Some(entry.location.clone());
            }
            "read_only" => match bool_option(entry, problems) {
                Some(b) => read_only = b,
                None => valid = false,
            },
            _ => problems.warn(
                &entry.location,
                format!(
                    "user [{}]: unknown option '{}' (ignored)",
                    section.name, entry.key
                ),
            ),
        }
    }
    let what = format!("user [{}]", section.name);
    let acl = acl_from_entries(&section.entries, named, &what, problems);
    let Some(password) = password.filter(|p| !p.is_empty()) else {
        problems.error(
            &section.location,
            format!("user [{}] has no password (user ignored)", section.name),
        );
        return None;
    };
    let location = format_location.unwrap_or_else(|| section.location.clone());
    let password = match format.as_str() {
        "plain" => Password::Plain(password),
        "crypt" if crypt_supported(&password) => Password::Crypt(password),
        "crypt" => {
            problems.error(
                &location,
                format!(
                    "user [{}]: the crypt password is not a hash wari can verify \
                     ($6$, $5$, $1$, bcrypt or DES; make one with mkpasswd -m sha-512)",
                    section.name
                ),
            );
            return None;
        }
        other => {
            problems.error(
                &location,
                format!(
                    "user [{}]: invalid password_format '{other}': expected plain or crypt",
                    section.name
                ),
            );
            return None;
        }
    };
    let acl = acl?;
    if !valid {
        return None;
    }
    Some(User {
        name: section.name.clone(),
        password,
        read_only,
        acl,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_formats() {
        assert!(crypt_supported("$6$salt$hash"));
        assert!(crypt_supported("$1$abc$def"));
        assert!(crypt_supported("abJnggxhB/yWI"));
        assert!(!crypt_supported("$y$j9T$abc"));
        assert!(!crypt_supported("plaintext"));
    }
}
