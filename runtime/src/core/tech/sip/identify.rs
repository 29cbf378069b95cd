//! Which endpoint a request's source address belongs to (`type=identify`, `match`).
//!
//! The most specific network wins (longest prefix); among equally specific ones, the
//! identify written first. Asterisk takes the first identify object that matches in its
//! own object order, which is not the file order and not defined for overlapping
//! networks; for networks that do not overlap both give the same endpoint. An IPv4 source
//! seen as IPv4-mapped IPv6 (`::ffff:a.b.c.d`, on a dual-stack socket) matches IPv4
//! networks.

// Used by the technology's call handling (core/tech/sip/call), which lands separately;
// drop this once it does.

use std::net::IpAddr;

use ipnetwork::IpNetwork;

use crate::config::pjsip_conf::PjsipConfig;

/// Source-address matching for every identify, built once from the configuration.
#[derive(Debug, Clone, Default)]
pub(crate) struct Identifier {
    /// (network, endpoint name), most specific first, file order among equals.
    rules: Vec<(IpNetwork, String)>,
}

impl Identifier {
    /// The rules of every identify in `config`.
    pub(crate) fn new(config: &PjsipConfig) -> Self {
        let mut rules: Vec<(IpNetwork, String)> = config
            .identifies
            .iter()
            .flat_map(|identify| {
                identify
                    .matches
                    .iter()
                    .map(|network| (*network, identify.endpoint.clone()))
            })
            .collect();
        // Stable: equal prefixes keep file order.
        rules.sort_by_key(|(network, _)| std::cmp::Reverse(network.prefix()));
        Identifier { rules }
    }

    /// The endpoint requests from `source` belong to, if any identify matches it.
    pub(crate) fn endpoint_for(&self, source: IpAddr) -> Option<&str> {
        let source = match source {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        self.rules
            .iter()
            .find(|(network, _)| network.contains(source))
            .map(|(_, endpoint)| endpoint.as_str())
    }

    /// True when no identify has a usable match.
    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::diagnostics::Location;
    use crate::config::pjsip_conf::Identify;

    fn config(identifies: &[(&str, &[&str])]) -> PjsipConfig {
        PjsipConfig {
            identifies: identifies
                .iter()
                .enumerate()
                .map(|(i, (endpoint, matches))| Identify {
                    name: format!("identify{i}"),
                    endpoint: endpoint.to_string(),
                    matches: matches
                        .iter()
                        .map(|m| m.parse().expect("network"))
                        .collect(),
                    location: Location::file(std::path::Path::new("pjsip.conf")),
                })
                .collect(),
            ..PjsipConfig::default()
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("ip")
    }

    #[test]
    fn the_most_specific_network_wins() {
        let identifier = Identifier::new(&config(&[
            ("provider", &["203.0.113.0/24"]),
            ("pbx", &["203.0.113.7", "2001:db8::/32"]),
            ("office", &["10.0.0.0/8"]),
            ("lab", &["10.1.0.0/16"]),
        ]));
        assert_eq!(identifier.endpoint_for(ip("203.0.113.7")), Some("pbx"));
        assert_eq!(identifier.endpoint_for(ip("203.0.113.8")), Some("provider"));
        assert_eq!(identifier.endpoint_for(ip("10.1.2.3")), Some("lab"));
        assert_eq!(identifier.endpoint_for(ip("10.2.2.3")), Some("office"));
        assert_eq!(identifier.endpoint_for(ip("2001:db8::5")), Some("pbx"));
        assert_eq!(identifier.endpoint_for(ip("192.0.2.1")), None);
        assert_eq!(identifier.endpoint_for(ip("2001:db9::5")), None);
    }

    #[test]
    fn equal_networks_go_to_the_first_identify() {
        let identifier = Identifier::new(&config(&[
            ("first", &["198.51.100.0/24"]),
            ("second", &["198.51.100.0/24"]),
        ]));
        assert_eq!(identifier.endpoint_for(ip("198.51.100.1")), Some("first"));
    }

    #[test]
    fn ipv4_mapped_sources_match_ipv4_networks() {
        let identifier = Identifier::new(&config(&[("trunk", &["192.0.2.0/24"])]));
        assert_eq!(
            identifier.endpoint_for(ip("::ffff:192.0.2.9")),
            Some("trunk")
        );
        assert_eq!(identifier.endpoint_for(ip("::1")), None);
    }

    #[test]
    fn no_identify_matches_nothing() {
        let identifier = Identifier::new(&PjsipConfig::default());
        assert!(identifier.is_empty());
        assert_eq!(identifier.endpoint_for(ip("127.0.0.1")), None);
    }
}
