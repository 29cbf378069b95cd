//! Which SIP endpoints are online, sans-IO: the status of every contact of every AOR
//! (registered or static) and the endpoint state it adds up to.
//!
//! As Asterisk 23.4.1 computes it (res_pjsip/pjsip_options.c): an AOR without qualify
//! (`qualify_frequency = 0`) is available while it has any contact; a qualified AOR while
//! at least one of its contacts answered the last qualify. An endpoint is online while
//! any of its AORs is available and offline otherwise (an endpoint without AORs too). A
//! new contact starts `NonQualified` (Asterisk's `CREATED`); a qualified one then becomes
//! `Reachable` or `Unreachable` with each OPTIONS round.

use std::collections::{BTreeMap, HashMap};

use crate::config::pjsip_conf::PjsipConfig;
use crate::core::EndpointState;
use crate::core::presence::{ContactChange, ContactStatus};

/// One contact's status.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Contact {
    status: ContactStatus,
    roundtrip_usec: u64,
}

/// Contact statuses and the endpoint states they make.
#[derive(Debug, Default)]
pub(crate) struct Availability {
    /// Whether each AOR is qualified (`qualify_frequency > 0`).
    qualified: HashMap<String, bool>,
    /// The endpoints that list each AOR.
    endpoints_of: HashMap<String, Vec<String>>,
    /// The AORs each endpoint lists.
    aors_of: HashMap<String, Vec<String>>,
    /// (AOR, contact URI) -> status.
    contacts: BTreeMap<(String, String), Contact>,
}

impl Availability {
    /// The AORs and endpoints of `config`, with every static contact `NonQualified`.
    pub(crate) fn new(config: &PjsipConfig) -> Availability {
        let mut availability = Availability::default();
        for aor in &config.aors {
            availability
                .qualified
                .insert(aor.name.clone(), aor.qualify_frequency > 0);
            for uri in &aor.contacts {
                availability.contacts.insert(
                    (aor.name.clone(), uri.clone()),
                    Contact {
                        status: ContactStatus::NonQualified,
                        roundtrip_usec: 0,
                    },
                );
            }
        }
        for endpoint in &config.endpoints {
            availability
                .aors_of
                .insert(endpoint.name.clone(), endpoint.aors.clone());
            for aor in &endpoint.aors {
                availability
                    .endpoints_of
                    .entry(aor.clone())
                    .or_default()
                    .push(endpoint.name.clone());
            }
        }
        availability
    }

    /// The endpoints whose state depends on `aor`.
    pub(crate) fn endpoints_of(&self, aor: &str) -> &[String] {
        self.endpoints_of.get(aor).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Whether an AOR can be reached now.
    fn aor_available(&self, aor: &str) -> bool {
        let qualified = self.qualified.get(aor).copied().unwrap_or(false);
        self.contacts
            .range((aor.to_string(), String::new())..)
            .take_while(|((a, _), _)| a == aor)
            .any(|(_, c)| !qualified || c.status == ContactStatus::Reachable)
    }

    /// Whether the last qualify of a contact went unanswered (`Unreachable`): calls skip
    /// it, as Asterisk's reachable-contact filter does. A contact never qualified is not.
    pub(crate) fn is_unreachable(&self, aor: &str, uri: &str) -> bool {
        self.contacts
            .get(&(aor.to_string(), uri.to_string()))
            .is_some_and(|c| c.status == ContactStatus::Unreachable)
    }

    /// A contact's status and last round trip (microseconds, 0 unless measured).
    pub(crate) fn status(&self, aor: &str, uri: &str) -> Option<(ContactStatus, u64)> {
        self.contacts
            .get(&(aor.to_string(), uri.to_string()))
            .map(|c| (c.status, c.roundtrip_usec))
    }

    /// An endpoint's state now.
    pub(crate) fn endpoint_state(&self, endpoint: &str) -> EndpointState {
        let online = self
            .aors_of
            .get(endpoint)
            .is_some_and(|aors| aors.iter().any(|aor| self.aor_available(aor)));
        if online {
            EndpointState::Online
        } else {
            EndpointState::Offline
        }
    }

    /// A contact was registered: `NonQualified` until a qualify answers.
    pub(crate) fn added(&mut self, aor: &str, uri: &str) -> ContactChange {
        self.set(aor, uri, ContactStatus::NonQualified, 0)
    }

    /// A contact is gone.
    pub(crate) fn removed(&mut self, aor: &str, uri: &str) -> ContactChange {
        self.contacts.remove(&(aor.to_string(), uri.to_string()));
        ContactChange {
            uri: uri.to_string(),
            aor: aor.to_string(),
            status: ContactStatus::Removed,
            roundtrip_usec: 0,
        }
    }

    /// A qualify of a contact finished: `Some(rtt)` answered, `None` timed out. Returns the
    /// change when its status changed (a new round trip alone is kept, not announced) and
    /// the contact is still there.
    pub(crate) fn qualified(
        &mut self,
        aor: &str,
        uri: &str,
        roundtrip_usec: Option<u64>,
    ) -> Option<ContactChange> {
        let key = (aor.to_string(), uri.to_string());
        let old = self.contacts.get(&key)?.clone();
        let (status, rtt) = match roundtrip_usec {
            Some(rtt) => (ContactStatus::Reachable, rtt),
            None => (ContactStatus::Unreachable, 0),
        };
        let change = self.set(aor, uri, status, rtt);
        // Asterisk publishes a qualify result only when the status changed.
        (old.status != status).then_some(change)
    }

    fn set(
        &mut self,
        aor: &str,
        uri: &str,
        status: ContactStatus,
        roundtrip_usec: u64,
    ) -> ContactChange {
        self.contacts.insert(
            (aor.to_string(), uri.to_string()),
            Contact {
                status,
                roundtrip_usec,
            },
        );
        ContactChange {
            uri: uri.to_string(),
            aor: aor.to_string(),
            status,
            roundtrip_usec,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{aor, config, endpoint};
    use super::*;

    #[test]
    fn an_unqualified_aor_is_available_while_it_has_a_contact() {
        let mut a = Availability::new(&config(
            vec![endpoint("alice", &["alice"], None)],
            vec![aor("alice", 1, 0, &[])],
            vec![],
        ));
        assert_eq!(a.endpoint_state("alice"), EndpointState::Offline);
        let change = a.added("alice", "sip:alice@10.0.0.1");
        assert_eq!(change.status, ContactStatus::NonQualified);
        assert_eq!(change.roundtrip_usec, 0);
        assert_eq!(a.endpoint_state("alice"), EndpointState::Online);
        let change = a.removed("alice", "sip:alice@10.0.0.1");
        assert_eq!(change.status, ContactStatus::Removed);
        assert_eq!(a.endpoint_state("alice"), EndpointState::Offline);
    }

    #[test]
    fn a_qualified_aor_is_available_once_a_contact_answers() {
        let mut a = Availability::new(&config(
            vec![
                endpoint("trunk", &["trunk"], None),
                endpoint("nobody", &[], None),
            ],
            vec![aor("trunk", 0, 30, &["sip:gw@10.0.0.9"])],
            vec![],
        ));
        assert_eq!(a.endpoint_state("trunk"), EndpointState::Offline);
        assert_eq!(a.endpoint_state("nobody"), EndpointState::Offline);
        let change = a.qualified("trunk", "sip:gw@10.0.0.9", Some(1500)).unwrap();
        assert_eq!(change.status, ContactStatus::Reachable);
        assert_eq!(change.roundtrip_usec, 1500);
        assert_eq!(a.endpoint_state("trunk"), EndpointState::Online);
        assert_eq!(
            a.qualified("trunk", "sip:gw@10.0.0.9", Some(900)),
            None,
            "still reachable: no news"
        );
        let change = a.qualified("trunk", "sip:gw@10.0.0.9", None).unwrap();
        assert_eq!(change.status, ContactStatus::Unreachable);
        assert_eq!(a.endpoint_state("trunk"), EndpointState::Offline);
        assert_eq!(
            a.qualified("trunk", "sip:gw@10.0.0.9", None),
            None,
            "no news, no event"
        );
        assert_eq!(a.qualified("trunk", "sip:gone@10.0.0.9", Some(1)), None);
    }

    #[test]
    fn only_a_contact_whose_last_qualify_went_unanswered_is_unreachable() {
        let mut a = Availability::new(&config(
            vec![endpoint("trunk", &["trunk"], None)],
            vec![aor("trunk", 0, 30, &["sip:gw@10.0.0.9"])],
            vec![],
        ));
        assert!(
            !a.is_unreachable("trunk", "sip:gw@10.0.0.9"),
            "not qualified yet"
        );
        a.qualified("trunk", "sip:gw@10.0.0.9", None);
        assert!(a.is_unreachable("trunk", "sip:gw@10.0.0.9"));
        assert!(!a.is_unreachable("other", "sip:gw@10.0.0.9"));
        a.qualified("trunk", "sip:gw@10.0.0.9", Some(700));
        assert!(
            !a.is_unreachable("trunk", "sip:gw@10.0.0.9"),
            "answers again"
        );
    }

    #[test]
    fn a_static_contact_of_an_unqualified_aor_makes_its_endpoints_online() {
        let a = Availability::new(&config(
            vec![
                endpoint("a", &["shared"], None),
                endpoint("b", &["other", "shared"], None),
            ],
            vec![
                aor("shared", 0, 0, &["sip:pbx@10.0.0.7"]),
                aor("other", 1, 0, &[]),
            ],
            vec![],
        ));
        assert_eq!(a.endpoint_state("a"), EndpointState::Online);
        assert_eq!(a.endpoint_state("b"), EndpointState::Online);
        assert_eq!(a.endpoints_of("shared"), ["a".to_string(), "b".to_string()]);
    }
}
