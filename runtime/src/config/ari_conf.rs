//! `ari.conf`: whether ARI is on, how it formats and authenticates, its users, and its
//! outbound WebSocket connections (`type = outbound_websocket`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::acl_conf::{NamedAcls, acl_from_entries};
use super::conf_file::{ConfFile, Section};
use super::diagnostics::Problems;
use super::user_limits::{self, UserLimits};
use super::values::{bool_option, comma_list};
use crate::acl::Acl;

/// Default realm in the `WWW-Authenticate` challenge.
pub(crate) const DEFAULT_REALM: &str = "Asterisk REST Interface";

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
    /// The section name, which clients send as the user name.
    pub name: String,
    /// `password` with `password_format` (`plain` or `crypt`).
    pub password: Password,
    /// Only GET and OPTIONS are allowed.
    pub read_only: bool,
    /// `admin = yes`: may replace or delete apps and application names other users own
    /// (wari's own option; Asterisk has no owners).
    pub admin: bool,
    /// Client addresses allowed to use this user over HTTP.
    pub acl: Acl,
    /// Caps on what the user may hold at once (wari's own options).
    pub limits: UserLimits,
}

/// One `type = outbound_websocket` section: applications served over a connection of
/// websocket_client.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundWebsocket {
    pub name: String,
    /// The websocket_client.conf section to connect with.
    pub client_id: String,
    pub apps: Vec<String>,
    /// REST requests arriving on the socket run as this user (plain password).
    pub local_ari_user: String,
    pub subscribe_all: bool,
    /// False when cross-checks failed (an app listed twice, a bad local user): no
    /// connection is made.
    pub valid: bool,
    /// Where the section is, for problems found by the cross-checks.
    pub location: super::diagnostics::Location,
}

/// Longest application name (80 minus the length of `stasis-`).
const MAX_APP_NAME: usize = 73;

/// Everything ari.conf configures.
#[derive(Debug, Clone)]
pub struct AriConfig {
    /// `[general] enabled`; also false when `[general]` is absent.
    pub enabled: bool,
    /// Indent JSON bodies and events.
    pub pretty: bool,
    /// CORS allow-list; `*` allows any origin.
    pub allowed_origins: Vec<String>,
    /// `auth_realm`: the realm of the `WWW-Authenticate` header on a 401.
    pub auth_realm: String,
    /// `websocket_write_timeout` (ms, default 100): how long a write to an event WebSocket
    /// may take before the socket is closed.
    pub websocket_write_timeout: Duration,
    /// `max_login_failures`: failed logins from one address before it is locked out
    /// (0: never).
    pub max_login_failures: u32,
    /// `login_lockout` (ms): how long a locked-out address is refused, and how long its
    /// failed logins are remembered.
    pub login_lockout: Duration,
    /// `app_ownership` (wari's own): an application name belongs to the read/write user
    /// whose WebSocket registered it first; only that user or an admin may take it over or
    /// change its subscriptions and event filter. `no` is Asterisk's way (anyone may).
    pub app_ownership: bool,
    /// Channel variables added to every Channel object.
    pub channelvars: Vec<String>,
    /// The `type = user` sections, by name.
    pub users: HashMap<String, Arc<User>>,
    /// Outbound WebSocket connections, in file order.
    pub outbound: Vec<OutboundWebsocket>,
    /// The console's call stories (wari's own): `console_calls` ended calls kept (200),
    /// `console_call_events` events kept per call (500; 0 keeps no stories) and
    /// `console_events` events kept over all calls together (20000; 0 keeps no stories).
    pub console_calls: usize,
    /// See [`AriConfig::console_calls`].
    pub console_call_events: usize,
    /// See [`AriConfig::console_calls`].
    pub console_events: usize,
}

impl Default for AriConfig {
    fn default() -> Self {
        AriConfig {
            enabled: false,
            pretty: false,
            allowed_origins: Vec::new(),
            auth_realm: DEFAULT_REALM.to_string(),
            websocket_write_timeout: Duration::from_millis(100),
            max_login_failures: 10,
            login_lockout: Duration::from_millis(60_000),
            app_ownership: true,
            channelvars: Vec::new(),
            users: HashMap::new(),
            outbound: Vec::new(),
            console_calls: 200,
            console_call_events: 500,
            console_events: 20_000,
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
        let limits = UserLimits::general(file, problems);
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
                    } else if let Some(user) = read_user(section, named, &limits, problems) {
                        config.users.insert(user.name.clone(), Arc::new(user));
                    }
                }
                Some("outbound_websocket") => {
                    if config.outbound.iter().any(|o| o.name == section.name) {
                        problems.error(
                            &section.location,
                            format!(
                                "outbound_websocket [{}] is defined twice (second one ignored)",
                                section.name
                            ),
                        );
                    } else if let Some(outbound) = read_outbound(section, problems) {
                        config.outbound.push(outbound);
                    }
                }
                Some(other) => problems.unknown_type(&section.location, &section.name, other),
                None => problems.no_type(&section.location, &section.name, "..."),
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
            "max_login_failures" => match value.parse::<u32>() {
                Ok(n) => config.max_login_failures = n,
                _ => problems.error(
                    &entry.location,
                    format!(
                        "invalid value '{value}' for max_login_failures: expected a number (0 turns the lockout off)"
                    ),
                ),
            },
            "login_lockout" => match value.parse::<u64>() {
                Ok(ms) if ms > 0 => config.login_lockout = Duration::from_millis(ms),
                _ => problems.error(
                    &entry.location,
                    format!(
                        "invalid value '{value}' for login_lockout: expected a positive number of milliseconds"
                    ),
                ),
            },
            "channelvars" => {
                config.channelvars = comma_list(value).map(str::to_string).collect();
            }
            "app_ownership" => {
                if let Some(b) = bool_option(entry, problems) {
                    config.app_ownership = b;
                }
            }
            "console_calls" | "console_call_events" | "console_events" => {
                match value.parse::<usize>() {
                    Ok(n) if n <= 10_000_000 => match key.as_str() {
                        "console_calls" => config.console_calls = n,
                        "console_call_events" => config.console_call_events = n,
                        _ => config.console_events = n,
                    },
                    _ => problems.error(
                        &entry.location,
                        format!(
                            "invalid value '{value}' for {key}: expected a number from 0 to 10000000"
                        ),
                    ),
                }
            }
            // Read before the users, as their defaults.
            key if user_limits::is_limit_option(key) => {}
            "type" => {}
            _ => problems.warn(
                &entry.location,
                format!("unknown option '{}' in [general] (ignored)", entry.key),
            ),
        }
    }
}

fn read_outbound(section: &Section, problems: &mut Problems) -> Option<OutboundWebsocket> {
    let what = format!("outbound_websocket [{}]", section.name);
    let mut client_id = None;
    let mut apps = Vec::new();
    let mut local_ari_user = None;
    let mut subscribe_all = false;
    let mut valid = true;
    for entry in &section.entries {
        let value = entry.value.trim();
        match entry.key.to_ascii_lowercase().as_str() {
            "type" => {}
            "websocket_client_id" => client_id = Some(value.to_string()).filter(|v| !v.is_empty()),
            "apps" => {
                for app in value.split(',').map(str::trim) {
                    if app.is_empty() || app.len() > MAX_APP_NAME {
                        problems.error(
                            &entry.location,
                            format!(
                                "{what}: invalid application name '{app}' (1 to {MAX_APP_NAME} characters)"
                            ),
                        );
                        valid = false;
                    } else {
                        apps.push(app.to_string());
                    }
                }
            }
            "local_ari_user" => local_ari_user = Some(value.to_string()).filter(|v| !v.is_empty()),
            "subscribe_all" => match bool_option(entry, problems) {
                Some(b) => subscribe_all = b,
                None => valid = false,
            },
            _ => {
                problems.error(
                    &entry.location,
                    format!("{what}: unknown option '{}' (section ignored)", entry.key),
                );
                valid = false;
            }
        }
    }
    let mut missing = |name: &str| {
        problems.error(
            &section.location,
            format!("{what} has no {name} (section ignored)"),
        );
    };
    let Some(client_id) = client_id else {
        missing("websocket_client_id");
        return None;
    };
    if apps.is_empty() && valid {
        missing("apps");
        return None;
    }
    let Some(local_ari_user) = local_ari_user else {
        missing("local_ari_user");
        return None;
    };
    valid.then(|| OutboundWebsocket {
        name: section.name.clone(),
        client_id,
        apps,
        local_ari_user,
        subscribe_all,
        valid: true,
        location: section.location.clone(),
    })
}

impl AriConfig {
    /// Checks outbound connections against websocket_client.conf and the users: a
    /// connection naming an unknown client is dropped; one whose local user is missing or
    /// has a crypt password, or that shares an application with another, is kept but
    /// marked invalid (no connection is made).
    pub fn check_outbound(
        &mut self,
        clients: &super::websocket_client_conf::WebSocketClients,
        problems: &mut Problems,
    ) {
        self.outbound.retain(|o| {
            let known = clients.contains_key(&o.client_id);
            if !known {
                problems.error(
                    &o.location,
                    format!(
                        "outbound_websocket [{}]: websocket_client_id '{}' is not a section of websocket_client.conf (connection ignored)",
                        o.name, o.client_id
                    ),
                );
            }
            known
        });
        let mut owners: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, o) in self.outbound.iter().enumerate() {
            for app in &o.apps {
                owners.entry(app.clone()).or_default().push(i);
            }
        }
        for (app, listed_by) in owners {
            if listed_by.len() > 1 {
                for &i in &listed_by {
                    let o = &mut self.outbound[i];
                    problems.error(
                        &o.location,
                        format!(
                            "outbound_websocket [{}]: application '{app}' is listed by more than one connection (connection invalid)",
                            o.name
                        ),
                    );
                    o.valid = false;
                }
            }
        }
        for o in &mut self.outbound {
            match self.users.get(&o.local_ari_user).map(|u| &u.password) {
                Some(Password::Plain(_)) => {}
                Some(Password::Crypt(_)) => {
                    problems.error(
                        &o.location,
                        format!(
                            "outbound_websocket [{}]: local_ari_user '{}' must have a plain password (connection invalid)",
                            o.name, o.local_ari_user
                        ),
                    );
                    o.valid = false;
                }
                None => {
                    problems.error(
                        &o.location,
                        format!(
                            "outbound_websocket [{}]: local_ari_user '{}' is not a user of ari.conf (connection invalid)",
                            o.name, o.local_ari_user
                        ),
                    );
                    o.valid = false;
                }
            }
        }
    }
}

fn read_user(
    section: &Section,
    named: &NamedAcls,
    limits: &UserLimits,
    problems: &mut Problems,
) -> Option<User> {
    let mut limits = *limits;
    let mut password = None;
    let mut format = "plain".to_string();
    let mut format_location = None;
    let mut read_only = false;
    let mut admin = false;
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
            "admin" => match bool_option(entry, problems) {
                Some(b) => admin = b,
                None => valid = false,
            },
            _ if limits.read(entry, problems) => {}
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
        admin,
        acl,
        limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbound_of(ari: &str, clients: &str) -> (AriConfig, usize) {
        use crate::config::conf_file::parse_str;
        use std::path::Path;
        let mut problems = Problems::default();
        let ari = parse_str(Path::new("ari.conf"), ari, &mut problems);
        let clients = parse_str(Path::new("websocket_client.conf"), clients, &mut problems);
        let clients = crate::config::websocket_client_conf::read(
            Some(&clients),
            Path::new("/"),
            &mut problems,
        );
        let mut config = AriConfig::read(Some(&ari), &NamedAcls::default(), &mut problems);
        config.check_outbound(&clients, &mut problems);
        (config, problems.iter().count())
    }

    #[test]
    fn outbound_connections_are_checked_against_clients_and_users() {
        let clients =
            "[srv]\ntype = websocket_client\nuri = ws://h\nconnection_type = persistent\n";
        let (config, problems) = outbound_of(
            "[general]\n[u]\ntype = user\npassword = p\n\
             [c]\ntype = user\npassword = $6$x$y\npassword_format = crypt\n\
             [ok]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = a, b\nlocal_ari_user = u\nsubscribe_all = yes\n\
             [crypt]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = c\nlocal_ari_user = c\n\
             [nouser]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = d\nlocal_ari_user = ghost\n\
             [noclient]\ntype = outbound_websocket\nwebsocket_client_id = nope\napps = e\nlocal_ari_user = u\n\
             [noapps]\ntype = outbound_websocket\nwebsocket_client_id = srv\nlocal_ari_user = u\n",
            clients,
        );
        let by_name = |n: &str| config.outbound.iter().find(|o| o.name == n);
        let ok = by_name("ok").expect("ok loads");
        assert!(ok.valid && ok.subscribe_all);
        assert_eq!(ok.apps, ["a", "b"]);
        assert!(!by_name("crypt").expect("kept").valid);
        assert!(!by_name("nouser").expect("kept").valid);
        assert!(by_name("noclient").is_none() && by_name("noapps").is_none());
        assert!(problems >= 4);

        let (config, _) = outbound_of(
            "[general]\n[u]\ntype = user\npassword = p\n\
             [one]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = x\nlocal_ari_user = u\n\
             [two]\ntype = outbound_websocket\nwebsocket_client_id = srv\napps = y,x\nlocal_ari_user = u\n",
            clients,
        );
        assert!(config.outbound.iter().all(|o| !o.valid), "app listed twice");
    }

    #[test]
    fn console_story_limits_default_and_are_read() {
        let (config, problems) = outbound_of("[general]\nenabled = yes\n", "");
        assert_eq!(
            (
                config.console_calls,
                config.console_call_events,
                config.console_events
            ),
            (200, 500, 20_000)
        );
        assert_eq!(problems, 0);
        let (config, problems) = outbound_of(
            "[general]\nconsole_calls = 3\nconsole_call_events = 0\nconsole_events = 7\n",
            "",
        );
        assert_eq!(
            (
                config.console_calls,
                config.console_call_events,
                config.console_events
            ),
            (3, 0, 7)
        );
        assert_eq!(problems, 0);
        let (config, problems) = outbound_of("[general]\nconsole_calls = -1\n", "");
        assert_eq!(config.console_calls, 200, "a bad value keeps the default");
        assert_eq!(problems, 1);
    }

    #[test]
    fn crypt_formats() {
        assert!(crypt_supported("$6$salt$hash"));
        assert!(crypt_supported("$1$abc$def"));
        assert!(crypt_supported("abJnggxhB/yWI"));
        assert!(!crypt_supported("$y$j9T$abc"));
        assert!(!crypt_supported("plaintext"));
    }
}
