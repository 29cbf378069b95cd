//! Per-user limits of ari.conf (wari's own options, Asterisk has none): a default in
//! `[general]`, overridden in a user's `type = user` section. `0` means no limit.
//!
//! | option | default | what it bounds |
//! |---|---|---|
//! | `max_websockets` | 10 | the user's open inbound event WebSockets (`/ari/events`) |
//! | `max_app_registrations` | 100 | application names those sockets register, all together |

use super::conf_file::{ConfFile, Entry};
use super::diagnostics::Problems;
use super::values::number_option;

/// The limits that apply to one ARI user (0: no limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserLimits {
    /// `max_websockets`: inbound event WebSockets open at once.
    pub max_websockets: u32,
    /// `max_app_registrations`: application names the user's event WebSockets hold at once.
    pub max_app_registrations: u32,
}

impl Default for UserLimits {
    /// Room for a few clients of each user while others still fit under http.conf's
    /// default `sessionlimit` of 100 (every WebSocket holds one of its sessions).
    fn default() -> Self {
        UserLimits {
            max_websockets: 10,
            max_app_registrations: 100,
        }
    }
}

/// True when `key` (lower case) is one of the limit options.
pub fn is_limit_option(key: &str) -> bool {
    matches!(key, "max_websockets" | "max_app_registrations")
}

impl UserLimits {
    /// The defaults every user starts from: wari's, changed by ari.conf's `[general]`.
    pub fn general(file: &ConfFile, problems: &mut Problems) -> UserLimits {
        let mut limits = UserLimits::default();
        for section in file.sections_named("general") {
            for entry in &section.entries {
                limits.read(entry, problems);
            }
        }
        limits
    }

    /// Applies `entry` when it is a limit option (a bad value is reported and changes
    /// nothing); false when it is some other option.
    pub fn read(&mut self, entry: &Entry, problems: &mut Problems) -> bool {
        let key = entry.key.to_ascii_lowercase();
        let field = match key.as_str() {
            "max_websockets" => &mut self.max_websockets,
            "max_app_registrations" => &mut self.max_app_registrations,
            _ => return false,
        };
        if let Some(n) = number_option(entry, problems, 0) {
            *field = u32::try_from(n).unwrap_or(u32::MAX);
        }
        true
    }
}

/// `limit` as a bound: `None` for 0 (no limit).
pub fn bound(limit: u32) -> Option<u32> {
    (limit > 0).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::acl_conf::NamedAcls;
    use crate::config::ari_conf::AriConfig;
    use crate::config::conf_file::parse_str;
    use std::path::Path;

    fn users(text: &str) -> (AriConfig, Problems) {
        let mut problems = Problems::default();
        let file = parse_str(Path::new("ari.conf"), text, &mut problems);
        let config = AriConfig::read(Some(&file), &NamedAcls::default(), &mut problems);
        (config, problems)
    }

    #[test]
    fn users_take_the_general_default_unless_they_override_it() {
        let (config, problems) = users(
            "[a]\ntype = user\npassword = p\nmax_websockets = 0\n\
             [general]\nmax_websockets = 3\nmax_app_registrations = 7\n\
             [b]\ntype = user\npassword = p\nmax_app_registrations = 1\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let limits = |name: &str| config.users[name].limits.clone();
        assert_eq!(
            limits("a"),
            UserLimits {
                max_websockets: 0,
                max_app_registrations: 7
            },
            "[general] counts even after the user's section"
        );
        assert_eq!(
            limits("b"),
            UserLimits {
                max_websockets: 3,
                max_app_registrations: 1
            }
        );
    }

    #[test]
    fn bad_values_are_reported_and_keep_the_default() {
        let (config, problems) = users(
            "[general]\nmax_websockets = many\n[a]\ntype = user\npassword = p\nmax_app_registrations = -1\n",
        );
        assert_eq!(problems.iter().count(), 2, "{problems:?}");
        assert_eq!(config.users["a"].limits, UserLimits::default());
        assert_eq!(bound(0), None);
        assert_eq!(bound(5), Some(5));
    }
}
