//! The telephony core: the one owner of shared state (system identity, global variables,
//! and later channels, bridges and endpoints). REST handlers, WebSocket transports and WASM
//! apps all change state through this API, never around it.

pub mod modules;
pub mod system;
pub mod time;

use std::collections::BTreeMap;
use std::sync::RwLock;

pub use system::SystemInfo;

/// Shared telephony state.
#[derive(Debug)]
pub struct Core {
    system: SystemInfo,
    globals: RwLock<BTreeMap<String, String>>,
}

impl Core {
    /// A core with no channels and no global variables.
    pub fn new(system: SystemInfo) -> Core {
        Core {
            system,
            globals: RwLock::new(BTreeMap::new()),
        }
    }

    /// Identity and start-up facts of this process.
    pub fn system(&self) -> &SystemInfo {
        &self.system
    }

    /// The value of a global variable; unset variables read as the empty string, as in
    /// Asterisk's dialplan.
    pub fn global_var(&self, name: &str) -> String {
        let globals = self.globals.read().unwrap_or_else(|p| p.into_inner());
        globals.get(name).cloned().unwrap_or_default()
    }

    /// Sets a global variable, or removes it when `value` is `None`.
    pub fn set_global_var(&self, name: &str, value: Option<&str>) {
        let mut globals = self.globals.write().unwrap_or_else(|p| p.into_inner());
        match value {
            Some(v) => {
                globals.insert(name.to_string(), v.to_string());
            }
            None => {
                globals.remove(name);
            }
        }
    }
}
