//! Facts about this wari process that ARI reports: version, entity id, build and start time.

use std::sync::OnceLock;

use bytes::Bytes;
use chrono::{DateTime, Local};
use serde_json::{Map, Value, json};

use super::time::ari_timestamp;

/// Identity and start-up facts, fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct SystemInfo {
    /// wari's version.
    pub version: String,
    /// The entity id (`xx:xx:xx:xx:xx:xx`), stable for a machine.
    pub entity_id: String,
    /// The system name (`asterisk.conf systemname`; empty when unset).
    pub system_name: String,
    /// The language of channels that set none (`en`).
    pub default_language: String,
    /// When wari started, local time (`/asterisk/info`'s `status.startup_time`).
    pub startup_time: DateTime<Local>,
    /// When the configuration was last loaded, local time (`status.last_reload_time`).
    pub last_reload_time: DateTime<Local>,
    /// Kernel release, read once at start.
    pub kernel: String,
    /// The user and group the process runs as, read once at start.
    pub run_as: (String, String),
    /// Serialised `AsteriskInfo` documents by section mask (compact, pretty): the facts never
    /// change while the process runs, so each shape is rendered once.
    rendered: [OnceLock<(Bytes, Bytes)>; 16],
}

impl SystemInfo {
    /// Facts for a process starting now.
    pub fn new() -> SystemInfo {
        let now = Local::now();
        SystemInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            entity_id: entity_id(),
            system_name: String::new(),
            default_language: "en".to_string(),
            startup_time: now,
            last_reload_time: now,
            kernel: kernel_release(),
            run_as: run_user_group(),
            rendered: Default::default(),
        }
    }

    /// The `AsteriskInfo` document as JSON bytes (see [`SystemInfo::info_json`]), rendered
    /// once per combination of sections.
    pub fn info_bytes(&self, only: Option<&[String]>, pretty: bool) -> Bytes {
        let mut mask = 0usize;
        for (bit, name) in SECTIONS.iter().enumerate() {
            if only.is_none_or(|list| list.iter().any(|s| s.trim().eq_ignore_ascii_case(name))) {
                mask |= 1 << bit;
            }
        }
        let (compact, indented) = self.rendered[mask].get_or_init(|| {
            let names: Vec<String> = SECTIONS
                .iter()
                .enumerate()
                .filter(|(bit, _)| mask & (1 << bit) != 0)
                .map(|(_, name)| name.to_string())
                .collect();
            let value = self.info_json(Some(&names));
            (
                Bytes::from(serde_json::to_vec(&value).unwrap_or_default()),
                Bytes::from(serde_json::to_vec_pretty(&value).unwrap_or_default()),
            )
        });
        if pretty {
            indented.clone()
        } else {
            compact.clone()
        }
    }

    /// The `AsteriskInfo` object, limited to the sections named in `only` (all when `None`).
    pub fn info_json(&self, only: Option<&[String]>) -> Value {
        let wanted = |name: &str| {
            only.is_none_or(|list| list.iter().any(|s| s.trim().eq_ignore_ascii_case(name)))
        };
        let mut info = Map::new();
        if wanted("build") {
            info.insert(
                "build".into(),
                json!({
                    "os": std::env::consts::OS,
                    "kernel": self.kernel,
                    "options": "",
                    "machine": std::env::consts::ARCH,
                    "date": "",
                    "user": "",
                }),
            );
        }
        if wanted("system") {
            info.insert(
                "system".into(),
                json!({ "version": self.version, "entity_id": self.entity_id }),
            );
        }
        if wanted("config") {
            let (user, group) = &self.run_as;
            info.insert(
                "config".into(),
                json!({
                    "name": self.system_name,
                    "default_language": self.default_language,
                    "setid": { "user": user, "group": group },
                }),
            );
        }
        if wanted("status") {
            info.insert(
                "status".into(),
                json!({
                    "startup_time": ari_timestamp(&self.startup_time),
                    "last_reload_time": ari_timestamp(&self.last_reload_time),
                }),
            );
        }
        Value::Object(info)
    }
}

/// The sections of `AsteriskInfo`, in the order they are emitted.
const SECTIONS: [&str; 4] = ["build", "system", "config", "status"];

impl Default for SystemInfo {
    fn default() -> Self {
        Self::new()
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The user and group the process runs as, by name when /etc/passwd and /etc/group say.
fn run_user_group() -> (String, String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let id_of = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    let name_of = |db: &str, id: Option<String>| -> String {
        let Some(id) = id else {
            return String::new();
        };
        std::fs::read_to_string(db)
            .ok()
            .and_then(|text| {
                text.lines().find_map(|line| {
                    let mut parts = line.split(':');
                    let name = parts.next()?;
                    let _password = parts.next()?;
                    (parts.next()? == id).then(|| name.to_string())
                })
            })
            .unwrap_or(id)
    };
    (
        name_of("/etc/passwd", id_of("Uid:")),
        name_of("/etc/group", id_of("Gid:")),
    )
}

/// A stable entity id for this machine: derived from /etc/machine-id when present,
/// otherwise from the host name. Formatted like a MAC address, as Asterisk's EID is.
fn entity_id() -> String {
    let seed = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap_or_else(|_| "wari".to_string());
    // FNV-1a: a stable, dependency-free digest; this is an identifier, not a secret.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in seed.trim().bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let bytes = hash.to_be_bytes();
    // Locally administered, unicast (like a generated MAC).
    let first = (bytes[2] & 0xfc) | 0x02;
    format!(
        "{first:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        bytes[3], bytes[4], bytes[5], bytes[6], bytes[7]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_filters_sections_case_insensitively() {
        let info = SystemInfo::new();
        let all = info.info_json(None);
        for key in ["build", "system", "config", "status"] {
            assert!(all.get(key).is_some(), "{key}");
        }
        let some = info.info_json(Some(&["SYSTEM".into(), "bogus".into()]));
        assert_eq!(some.as_object().map(|o| o.len()), Some(1));
        let none = info.info_json(Some(&["bogus".into()]));
        assert_eq!(none, serde_json::json!({}));
    }

    #[test]
    fn rendered_info_matches_the_json_form() {
        let info = SystemInfo::new();
        for only in [None, Some(vec!["status".to_string(), "Build".to_string()])] {
            let bytes = info.info_bytes(only.as_deref(), false);
            let parsed: Value = serde_json::from_slice(&bytes).expect("valid JSON");
            assert_eq!(parsed, info.info_json(only.as_deref()));
            let pretty = info.info_bytes(only.as_deref(), true);
            assert!(pretty.contains(&b'\n'));
        }
    }

    #[test]
    fn entity_id_looks_like_a_mac() {
        let id = entity_id();
        assert_eq!(id.len(), 17);
        assert_eq!(id.matches(':').count(), 5);
    }
}
