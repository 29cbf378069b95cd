//! wari's built-in components, reported through `/asterisk/modules`.
//!
//! wari is one binary: its components cannot be loaded, unloaded or reloaded at run time,
//! and the ARI module operations say so instead of pretending.

/// One built-in component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Module {
    pub name: &'static str,
    pub description: &'static str,
}

/// Every component of this build.
pub(crate) const MODULES: &[Module] = &[
    Module {
        name: "wari_config",
        description: "Asterisk-format configuration files (http.conf, ari.conf, acl.conf)",
    },
    Module {
        name: "wari_http",
        description: "HTTP and HTTPS server",
    },
    Module {
        name: "wari_acl",
        description: "IP access control lists",
    },
    Module {
        name: "wari_ari",
        description: "Asterisk REST Interface: routing, authentication, CORS, API declarations",
    },
    Module {
        name: "wari_core",
        description: "Telephony core: system information and global variables",
    },
];

/// Finds a component by name; a trailing `.so` is accepted for Asterisk-minded clients.
pub(crate) fn find(name: &str) -> Option<&'static Module> {
    let bare = name.strip_suffix(".so").unwrap_or(name);
    MODULES.iter().find(|m| m.name == bare)
}
