//! Per-user limits and quotas of ari.conf (wari's own options; Asterisk has none): a default
//! in `[general]`, overridden in a user's `type = user` section. `0` means no limit.
//!
//! | option | default | what it bounds |
//! |---|---|---|
//! | `max_websockets` | 10 | the user's open inbound event WebSockets (`/ari/events`) and app log followers (`/ari/wasm/{app}/logs?follow=true`) together |
//! | `max_app_registrations` | 100 | application names those sockets register, all together |
//! | `max_channels` | 5000 | live channels the user's requests created (a Local pair counts 2) |
//! | `max_bridges` | 1000 | live bridges the user's requests created |
//! | `max_apps` | 20 | WebAssembly apps the user owns |
//! | `max_recordings_kb` | 1048576 (1 GiB) | disk the user's stored recordings take, in KiB |

use super::conf_file::{ConfFile, Entry};
use super::diagnostics::Problems;
use super::values::number_option;

/// The limits that apply to one ARI user (0: no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserLimits {
    /// `max_websockets`: inbound event WebSockets and app log followers open at once.
    pub max_websockets: u32,
    /// `max_app_registrations`: application names the user's event WebSockets hold at once.
    pub max_app_registrations: u32,
    /// `max_channels`: live channels created by the user's requests (originate, create,
    /// external media, snoop, and the channels `Dial()` makes for them).
    pub max_channels: u32,
    /// `max_bridges`: live bridges created by the user's requests.
    pub max_bridges: u32,
    /// `max_apps`: WebAssembly apps the user owns.
    pub max_apps: u32,
    /// `max_recordings_kb`: disk (KiB) taken by the stored recordings the user made or
    /// copied. KiB rather than MB so that a small quota (and a test of it) can be set.
    pub max_recordings_kb: u32,
}

/// A quota in force: `None` is no limit (`0` in the file).
pub(crate) type Quota = Option<u32>;

impl Default for UserLimits {
    /// Room for a few clients of each user while others still fit under http.conf's
    /// default `sessionlimit` of 100 (every WebSocket holds one of its sessions); generous
    /// quotas for one tenant, finite against a runaway or hostile one.
    fn default() -> Self {
        UserLimits {
            max_websockets: 10,
            max_app_registrations: 100,
            max_channels: 5000,
            max_bridges: 1000,
            max_apps: 20,
            max_recordings_kb: 1024 * 1024,
        }
    }
}

/// True when `key` (lower case) is one of the limit options.
pub(crate) fn is_limit_option(key: &str) -> bool {
    UserLimits::default().field_mut(key).is_some()
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
        let Some(field) = self.field_mut(&entry.key.to_ascii_lowercase()) else {
            return false;
        };
        if let Some(n) = number_option(entry, problems, 0) {
            *field = u32::try_from(n).unwrap_or(u32::MAX);
        }
        true
    }

    /// The limit an option (lower case) sets; `None` for any other option.
    fn field_mut(&mut self, key: &str) -> Option<&mut u32> {
        Some(match key {
            "max_websockets" => &mut self.max_websockets,
            "max_app_registrations" => &mut self.max_app_registrations,
            "max_channels" => &mut self.max_channels,
            "max_bridges" => &mut self.max_bridges,
            "max_apps" => &mut self.max_apps,
            "max_recordings_kb" => &mut self.max_recordings_kb,
            _ => return None,
        })
    }

    /// The channel quota in force.
    pub fn channels(&self) -> Quota {
        bound(self.max_channels)
    }

    /// The bridge quota in force.
    pub fn bridges(&self) -> Quota {
        bound(self.max_bridges)
    }

    /// The app quota in force.
    pub fn apps(&self) -> Quota {
        bound(self.max_apps)
    }

    /// The recordings' disk quota in force, in bytes (`None`: no limit).
    pub fn recording_bytes(&self) -> Option<u64> {
        bound(self.max_recordings_kb).map(|kb| u64::from(kb) * 1024)
    }
}

/// `limit` as a bound: `None` for 0 (no limit).
pub(crate) fn bound(limit: u32) -> Option<u32> {
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
            "[a]\ntype = user\npassword = p\nmax_websockets = 0\nmax_channels = 3\n\
             max_recordings_kb = 0\n\
             [general]\nmax_websockets = 3\nmax_app_registrations = 7\nmax_bridges = 7\n\
             max_apps = 0\nmax_recordings_kb = 2\n\
             [b]\ntype = user\npassword = p\nmax_app_registrations = 1\nmax_bridges = 0\n",
        );
        assert!(problems.is_empty(), "{problems:?}");
        let a = config.users["a"].limits;
        assert_eq!(
            (a.max_websockets, a.max_app_registrations),
            (0, 7),
            "[general] counts even after the user's section"
        );
        assert_eq!(
            (a.channels(), a.bridges(), a.apps()),
            (Some(3), Some(7), None)
        );
        let b = config.users["b"].limits;
        assert_eq!((b.max_websockets, b.max_app_registrations), (3, 1));
        assert_eq!(
            (b.channels(), b.bridges(), b.apps()),
            (Some(5000), None, None)
        );
        assert_eq!(
            (a.recording_bytes(), b.recording_bytes()),
            (None, Some(2048))
        );
    }

    #[test]
    fn bad_values_are_reported_and_keep_the_default() {
        let (config, problems) = users(
            "[general]\nmax_websockets = many\n\
             [a]\ntype = user\npassword = p\nmax_app_registrations = -1\nmax_apps = lots\n",
        );
        assert_eq!(problems.iter().count(), 3, "{problems:?}");
        assert_eq!(config.users["a"].limits, UserLimits::default());
        assert_eq!(bound(0), None);
        assert_eq!(bound(5), Some(5));
    }
}
