//! `wasm.conf`: the WebAssembly host's settings and the limits of apps, globally in
//! `[general]` and per app in a section named after the app.
//!
//! ```ini
//! [general]
//! max_sessions = 1000          ; concurrent call sessions over all apps
//! max_upload_mb = 16
//! apps_dir = apps              ; *.wasm here are deployed at start (name = file stem)
//! drain_seconds = 300          ; a removed app's calls in progress may last this long
//! memory_mb = 64               ; the limits below apply to every app...
//! cpu_ms_per_event = 100
//! event_timeout_ms = 5000
//! max_queued_events = 1000
//! log_lines_per_second = 100
//! on_failure = hangup          ; or continue (in the dialplan)
//! max_sessions_per_app = 250   ; concurrent sessions of one app (default: max_sessions / 4)
//! kv_max_key_bytes = 256       ; the app's key-value store: key size,
//! kv_max_value_bytes = 1048576 ; value size,
//! kv_max_keys = 1024           ; number of keys,
//! kv_max_mb = 16               ; and keys plus values in all
//! max_timers = 100             ; timers pending at once in one session
//!
//! [ivr]                        ; ...unless an app's own section says otherwise
//! memory_mb = 16
//! ```

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::conf_file::{ConfFile, Entry};
use super::diagnostics::Problems;
use super::values::number_option;

/// Limit settings; `None` leaves the default (or the `[general]` value).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LimitSettings {
    /// `memory_mb`: an instance's linear memory cap, in MiB (default 64).
    pub memory_mb: Option<u64>,
    /// `cpu_ms_per_event`: guest CPU time one event may use, in ms (default 100).
    pub cpu_ms_per_event: Option<u64>,
    /// `event_timeout_ms`: wall-clock time one event may take, host calls included (default
    /// 5000).
    pub event_timeout_ms: Option<u64>,
    /// `max_queued_events`: events waiting for one session before it fails (default 1000).
    pub max_queued_events: Option<u64>,
    /// `log_lines_per_second`: the app's log lines kept per second; more are dropped (default
    /// 100).
    pub log_lines_per_second: Option<u64>,
    /// `true` for `continue`, `false` for `hangup`.
    pub continue_on_failure: Option<bool>,
    /// `max_sessions_per_app`: concurrent sessions of one app (default a quarter of
    /// `max_sessions`).
    pub max_sessions_per_app: Option<u64>,
    /// `kv_max_key_bytes`: the longest key of the app's key-value store (default 256).
    pub kv_max_key_bytes: Option<u64>,
    /// `kv_max_value_bytes`: the largest value of the key-value store (default 1048576).
    pub kv_max_value_bytes: Option<u64>,
    /// `kv_max_keys`: keys the key-value store may hold (default 1024).
    pub kv_max_keys: Option<u64>,
    /// `kv_max_mb`: keys and values of the key-value store together, in MiB (default 16).
    pub kv_max_mb: Option<u64>,
    /// `max_timers`: timers pending at once in one session (default 100).
    pub max_timers: Option<u64>,
}

impl LimitSettings {
    /// These settings with `other`'s set values on top.
    pub fn overridden_by(&self, other: &LimitSettings) -> LimitSettings {
        LimitSettings {
            memory_mb: other.memory_mb.or(self.memory_mb),
            cpu_ms_per_event: other.cpu_ms_per_event.or(self.cpu_ms_per_event),
            event_timeout_ms: other.event_timeout_ms.or(self.event_timeout_ms),
            max_queued_events: other.max_queued_events.or(self.max_queued_events),
            log_lines_per_second: other.log_lines_per_second.or(self.log_lines_per_second),
            continue_on_failure: other.continue_on_failure.or(self.continue_on_failure),
            max_sessions_per_app: other.max_sessions_per_app.or(self.max_sessions_per_app),
            kv_max_key_bytes: other.kv_max_key_bytes.or(self.kv_max_key_bytes),
            kv_max_value_bytes: other.kv_max_value_bytes.or(self.kv_max_value_bytes),
            kv_max_keys: other.kv_max_keys.or(self.kv_max_keys),
            kv_max_mb: other.kv_max_mb.or(self.kv_max_mb),
            max_timers: other.max_timers.or(self.max_timers),
        }
    }
}

/// Everything wasm.conf configures.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WasmConfig {
    /// `max_sessions`: concurrent call sessions over all apps (default 1000).
    pub max_sessions: Option<u32>,
    /// `max_upload_mb`: the largest component `POST /ari/wasm` accepts, in MiB (default 16).
    pub max_upload_mb: Option<u64>,
    /// `apps_dir`: its `*.wasm` files are deployed at start, named after the file stem;
    /// `None`: no such directory.
    pub apps_dir: Option<PathBuf>,
    /// How long a removed app's live sessions may go on (0: they end at once).
    pub drain_seconds: Option<u64>,
    /// The limits of `[general]`, for every app.
    pub defaults: LimitSettings,
    /// The limits of an app's own section, by app name, over `defaults`.
    pub per_app: HashMap<String, LimitSettings>,
}

/// Applies one limit entry; false when the key is not a limit.
fn limit_entry(limits: &mut LimitSettings, entry: &Entry, problems: &mut Problems) -> bool {
    match entry.key.to_ascii_lowercase().as_str() {
        "memory_mb" => limits.memory_mb = number_option(entry, problems, 1),
        "cpu_ms_per_event" => limits.cpu_ms_per_event = number_option(entry, problems, 1),
        "event_timeout_ms" => limits.event_timeout_ms = number_option(entry, problems, 1),
        "max_queued_events" => limits.max_queued_events = number_option(entry, problems, 1),
        "log_lines_per_second" => limits.log_lines_per_second = number_option(entry, problems, 0),
        "max_sessions_per_app" => limits.max_sessions_per_app = number_option(entry, problems, 1),
        "kv_max_key_bytes" => limits.kv_max_key_bytes = number_option(entry, problems, 1),
        "kv_max_value_bytes" => limits.kv_max_value_bytes = number_option(entry, problems, 0),
        "kv_max_keys" => limits.kv_max_keys = number_option(entry, problems, 0),
        "kv_max_mb" => limits.kv_max_mb = number_option(entry, problems, 0),
        "max_timers" => limits.max_timers = number_option(entry, problems, 0),
        "on_failure" => match entry.value.trim().to_ascii_lowercase().as_str() {
            "hangup" => limits.continue_on_failure = Some(false),
            "continue" => limits.continue_on_failure = Some(true),
            other => problems.error(
                &entry.location,
                format!("invalid value '{other}' for on_failure: expected hangup or continue"),
            ),
        },
        _ => return false,
    }
    true
}

impl WasmConfig {
    /// Reads wasm.conf (absent: every default). Relative `apps_dir` is resolved against `dir`.
    pub fn read(file: Option<&ConfFile>, dir: &Path, problems: &mut Problems) -> WasmConfig {
        let mut config = WasmConfig::default();
        let Some(file) = file else {
            return config;
        };
        for section in file.sections() {
            if section.name == "general" {
                for entry in &section.entries {
                    if limit_entry(&mut config.defaults, entry, problems) {
                        continue;
                    }
                    match entry.key.to_ascii_lowercase().as_str() {
                        "max_sessions" => {
                            config.max_sessions = number_option(entry, problems, 1)
                                .and_then(|n| u32::try_from(n).ok());
                        }
                        "max_upload_mb" => config.max_upload_mb = number_option(entry, problems, 1),
                        "drain_seconds" => config.drain_seconds = number_option(entry, problems, 0),
                        "apps_dir" => {
                            // `join` keeps an absolute path as it is.
                            config.apps_dir = Some(dir.join(entry.value.trim()));
                        }
                        _ => problems.warn(
                            &entry.location,
                            format!("unknown option '{}' in [general] (ignored)", entry.key),
                        ),
                    }
                }
            } else {
                let mut limits = LimitSettings::default();
                for entry in &section.entries {
                    if !limit_entry(&mut limits, entry, problems) {
                        problems.warn(
                            &entry.location,
                            format!(
                                "unknown option '{}' for app [{}] (ignored)",
                                entry.key, section.name
                            ),
                        );
                    }
                }
                config.per_app.insert(section.name.clone(), limits);
            }
        }
        config
    }

    /// The limit settings that apply to `app`.
    pub fn limits_for(&self, app: &str) -> LimitSettings {
        match self.per_app.get(app) {
            Some(own) => self.defaults.overridden_by(own),
            None => self.defaults.clone(),
        }
    }
}
