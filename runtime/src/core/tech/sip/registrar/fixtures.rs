//! pjsip.conf sections built in code for the registrar's unit tests, and a registrar
//! started on a test core.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::diagnostics::Location;
use crate::config::pjsip_conf::{Aor, Auth, Endpoint, PjsipConfig};
use crate::core::stasis::SourceKind;
use crate::core::tech::Context;
use crate::core::test_support::{APP, TestCore};

use super::Registrar;

/// A registrar for `config` started on `t`'s core, the test application subscribed to
/// `endpoint` (`PJSIP/<name>`) first so that it hears its events.
pub(crate) fn started(t: &TestCore, config: PjsipConfig, endpoint: &str) -> Arc<Registrar> {
    let core = &t.core;
    core.with_state(|state| {
        state
            .apps
            .subscribe(APP, SourceKind::Endpoint, &format!("PJSIP/{endpoint}"));
        Registrar::start(Arc::new(config), &mut Context::new(core, state))
    })
}

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

/// The ContactStatusChange events `t`'s application heard: each status and round trip.
pub(crate) fn contact_changes(t: &TestCore) -> Vec<(String, String)> {
    t.events
        .of_kind("ContactStatusChange")
        .iter()
        .map(|e| {
            let field = |name: &str| {
                e["contact_info"][name]
                    .as_str()
                    .expect("a string field")
                    .to_string()
            };
            (field("contact_status"), field("roundtrip_usec"))
        })
        .collect()
}
