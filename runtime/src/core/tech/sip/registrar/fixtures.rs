//! pjsip.conf sections built in code for the registrar's unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::diagnostics::Location;
use crate::config::pjsip_conf::{Aor, Auth, Endpoint, PjsipConfig};

fn here() -> Location {
    Location {
        file: Arc::new(PathBuf::from("pjsip.conf")),
        line: 1,
    }
}

/// An endpoint named `name` listing `aors`, authenticated by `auth`.
pub(crate) fn endpoint(name: &str, aors: &[&str], auth: Option<&str>) -> Endpoint {
    Endpoint {
        aors: aors.iter().map(|a| a.to_string()).collect(),
        auth: auth.map(str::to_string),
        ..Endpoint::with_defaults(name, here())
    }
}

/// An AOR with Asterisk's expiry defaults.
pub(crate) fn aor(name: &str, max_contacts: u32, qualify_frequency: u32, contacts: &[&str]) -> Aor {
    Aor {
        max_contacts,
        contacts: contacts.iter().map(|c| c.to_string()).collect(),
        qualify_frequency,
        ..Aor::with_defaults(name, here())
    }
}

/// A configuration of these sections.
pub(crate) fn config(endpoints: Vec<Endpoint>, aors: Vec<Aor>, auths: Vec<Auth>) -> PjsipConfig {
    PjsipConfig {
        endpoints,
        aors,
        auths,
        ..PjsipConfig::default()
    }
}
