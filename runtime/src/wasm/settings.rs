//! The settings of the WebAssembly host, read from wasm.conf: the session slots, the
//! default and per-app limits, the upload size, the apps deployed at start and the drain.

use std::collections::HashMap;

use super::drain;
use super::limits::{self, Limits};

/// Settings of the WebAssembly host.
#[derive(Debug, Clone)]
pub struct WasmSettings {
    /// Concurrent sessions over all apps (sizes the pooling allocator).
    pub max_sessions: u32,
    /// Limits of apps without their own.
    pub limits: Limits,
    /// Limits of named apps.
    pub per_app: HashMap<String, Limits>,
    /// Largest accepted upload.
    pub max_upload_bytes: usize,
    /// Components (`*.wasm`) deployed at start, named by file stem.
    pub apps_dir: Option<std::path::PathBuf>,
    /// How long a removed app's live sessions may go on (wasm.conf `drain_seconds`).
    pub drain: std::time::Duration,
}

impl Default for WasmSettings {
    fn default() -> Self {
        WasmSettings {
            max_sessions: 1000,
            limits: Limits::default(),
            per_app: HashMap::new(),
            max_upload_bytes: 16 * 1024 * 1024,
            apps_dir: None,
            drain: drain::DEFAULT_DRAIN,
        }
    }
}

impl WasmSettings {
    /// Settings from wasm.conf.
    pub fn from_config(config: &crate::config::wasm_conf::WasmConfig) -> WasmSettings {
        let defaults = WasmSettings::default();
        WasmSettings {
            max_sessions: config.max_sessions.unwrap_or(defaults.max_sessions),
            limits: Limits::from_settings(&config.defaults),
            per_app: config
                .per_app
                .keys()
                .map(|name| {
                    (
                        name.clone(),
                        Limits::from_settings(&config.limits_for(name)),
                    )
                })
                .collect(),
            max_upload_bytes: config
                .max_upload_mb
                .and_then(|mb| usize::try_from(mb.saturating_mul(1024 * 1024)).ok())
                .unwrap_or(defaults.max_upload_bytes),
            apps_dir: config.apps_dir.clone(),
            drain: config
                .drain_seconds
                .map_or(defaults.drain, std::time::Duration::from_secs),
        }
    }

    /// The limits of one app, its session cap resolved.
    pub fn limits_for(&self, app: &str) -> Limits {
        let mut limits = self
            .per_app
            .get(app)
            .cloned()
            .unwrap_or_else(|| self.limits.clone());
        limits.max_sessions_per_app = Some(
            limits
                .max_sessions_per_app
                .unwrap_or_else(|| limits::default_sessions_per_app(self.max_sessions)),
        );
        limits
    }

    /// The largest memory any app may use (the size of a pooled memory slot).
    pub(super) fn largest_memory(&self) -> Limits {
        let mut limits = self.limits.clone();
        limits.memory_bytes = self
            .per_app
            .values()
            .map(|l| l.memory_bytes)
            .chain(std::iter::once(self.limits.memory_bytes))
            .max()
            .unwrap_or(self.limits.memory_bytes);
        limits
    }
}
