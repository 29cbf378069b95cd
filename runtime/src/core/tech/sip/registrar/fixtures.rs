//! pjsip.conf sections built in code for the registrar's unit tests.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::diagnostics::Location;
use crate::config::pjsip_conf::{Aor, Auth, DtmfMode, Endpoint, PjsipConfig};

fn here() -> Location {
    Location {
        file: Arc::new(PathBuf::from("pjsip.conf")),
        line: 1,
    }
}

/// An endpoint named `name` listing `aors`, authenticated by `auth`.
pub(crate) fn endpoint(name: &str, aors: &[&str], auth: Option<&str>) -> Endpoint {
    Endpoint {
        name: name.into(),
        transport: None,
        context: "default".into(),
        codecs: Vec::new(),
        aors: aors.iter().map(|a| a.to_string()).collect(),
        auth: auth.map(str::to_string),
        outbound_auth: None,
        dtmf_mode: DtmfMode::Rfc4733,
        callerid: None,
        from_user: None,
        from_domain: None,
        language: None,
        rtp_symmetric: false,
        force_rport: true,
        rewrite_contact: false,
        direct_media: false,
        rtp_timeout: 0,
        location: here(),
    }
}

/// An AOR with Asterisk's expiry defaults.
pub(crate) fn aor(name: &str, max_contacts: u32, qualify_frequency: u32, contacts: &[&str]) -> Aor {
    Aor {
        name: name.into(),
        max_contacts,
        remove_existing: false,
        contacts: contacts.iter().map(|c| c.to_string()).collect(),
        qualify_frequency,
        default_expiration: 3600,
        minimum_expiration: 60,
        maximum_expiration: 7200,
        location: here(),
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
