//! Per-user quotas of ari.conf (wari's own options; Asterisk has none): how many live
//! channels and bridges a user's requests may have created, and how many WebAssembly apps
//! the user may own. Each option is a `[general]` default that a `type = user` section may
//! override; `0` means no limit.
//!
//! ```ini
//! [general]
//! max_channels = 5000     ; live channels each user created (a Local pair counts once)
//! max_bridges = 1000      ; live bridges each user created
//! max_apps = 20           ; WebAssembly apps each user owns
//!
//! [tenant]
//! type = user
//! max_channels = 50
//! ```

use super::conf_file::Entry;
use super::diagnostics::Problems;

/// The quotas as written in one section: `None` where the section does not set one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// `max_channels`: live channels created by the user's requests (originate, create,
    /// external media, snoop, and the channels `Dial()` makes for them).
    pub max_channels: Option<u32>,
    /// `max_bridges`: live bridges created by the user's requests.
    pub max_bridges: Option<u32>,
    /// `max_apps`: WebAssembly apps the user owns.
    pub max_apps: Option<u32>,
}

/// The defaults when `[general]` sets none: generous for one tenant, finite against a
/// runaway or hostile one.
pub const DEFAULT_MAX_CHANNELS: u32 = 5000;
pub const DEFAULT_MAX_BRIDGES: u32 = 1000;
pub const DEFAULT_MAX_APPS: u32 = 20;

/// A quota in force: `None` is no limit (`0` in the file).
pub type Quota = Option<u32>;

impl UserLimits {
    /// `[general]` without quota options: wari's defaults.
    pub fn defaults() -> UserLimits {
        UserLimits {
            max_channels: Some(DEFAULT_MAX_CHANNELS),
            max_bridges: Some(DEFAULT_MAX_BRIDGES),
            max_apps: Some(DEFAULT_MAX_APPS),
        }
    }

    /// Reads one entry if it is a quota option (true), reporting a bad value.
    pub fn read_entry(&mut self, entry: &Entry, problems: &mut Problems) -> bool {
        let key = entry.key.to_ascii_lowercase();
        let slot = match key.as_str() {
            "max_channels" => &mut self.max_channels,
            "max_bridges" => &mut self.max_bridges,
            "max_apps" => &mut self.max_apps,
            _ => return false,
        };
        let value = entry.value.trim();
        match value.parse::<u32>() {
            Ok(n) => *slot = Some(n),
            Err(_) => problems.error(
                &entry.location,
                format!("invalid value '{value}' for {key}: expected a number (0: no limit)"),
            ),
        }
        true
    }

    /// These limits, with `general`'s wherever this section sets none.
    pub fn or(self, general: UserLimits) -> UserLimits {
        UserLimits {
            max_channels: self.max_channels.or(general.max_channels),
            max_bridges: self.max_bridges.or(general.max_bridges),
            max_apps: self.max_apps.or(general.max_apps),
        }
    }

    /// The channel quota in force.
    pub fn channels(&self) -> Quota {
        self.max_channels.filter(|&n| n > 0)
    }

    /// The bridge quota in force.
    pub fn bridges(&self) -> Quota {
        self.max_bridges.filter(|&n| n > 0)
    }

    /// The app quota in force.
    pub fn apps(&self) -> Quota {
        self.max_apps.filter(|&n| n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{AriConfig, acl_conf::NamedAcls, conf_file::parse_str};

    fn limits_of(text: &str) -> (AriConfig, usize) {
        let mut problems = Problems::default();
        let file = parse_str(std::path::Path::new("ari.conf"), text, &mut problems);
        let config = AriConfig::read(Some(&file), &NamedAcls::default(), &mut problems);
        (config, problems.iter().count())
    }

    #[test]
    fn a_user_overrides_the_general_default_and_zero_is_no_limit() {
        let (config, problems) = limits_of(
            "[a]\ntype = user\npassword = p\nmax_channels = 3\n\
             [general]\nmax_bridges = 7\nmax_apps = 0\n\
             [b]\ntype = user\npassword = p\nmax_bridges = 0\n",
        );
        assert_eq!(problems, 0);
        let a = config.users["a"].limits;
        assert_eq!(
            (a.channels(), a.bridges(), a.apps()),
            (Some(3), Some(7), None)
        );
        let b = config.users["b"].limits;
        assert_eq!(
            (b.channels(), b.bridges(), b.apps()),
            (Some(DEFAULT_MAX_CHANNELS), None, None)
        );
    }

    #[test]
    fn defaults_apply_without_options_and_bad_values_are_reported() {
        let (config, problems) =
            limits_of("[general]\n[a]\ntype = user\npassword = p\nmax_apps = many\n");
        assert_eq!(problems, 1);
        let a = config.users["a"].limits;
        assert_eq!(a, UserLimits::defaults());
    }
}
