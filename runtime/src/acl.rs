//! IP access control lists with Asterisk's semantics.
//!
//! A rule list starts from "allow" and every matching rule sets the result to its own sense, so
//! the last match wins. An [`Acl`] is a baseline list (the `permit`/`deny` lines of a user or
//! restriction) plus any number of named lists from `acl.conf`: every one of them must allow.
//! A named list that does not exist denies everything.

use std::net::IpAddr;
use std::sync::Arc;

use ipnetwork::IpNetwork;

/// Why an ACL entry could not be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AclError {
    /// The entry is empty or only whitespace.
    #[error("empty ACL entry")]
    Empty,
    /// The part before any `/` is not an IPv4 or IPv6 address.
    #[error("'{0}' is not an IP address")]
    BadAddress(String),
    /// The part after `/` is neither a prefix length nor a dotted netmask.
    #[error("'{0}' is not a valid netmask")]
    BadMask(String),
    /// The entry names a port (`addr:port`), which an ACL cannot filter on.
    #[error("ports are not allowed in ACL entries ('{0}')")]
    PortGiven(String),
}

/// One `permit` or `deny` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    network: IpNetwork,
    permit: bool,
}

impl Rule {
    /// Parses one entry (`addr[/mask]`, optionally prefixed by `!` to invert the sense).
    pub fn parse(entry: &str, permit: bool) -> Result<Rule, AclError> {
        let entry = entry.trim();
        let (permit, entry) = match entry.strip_prefix('!') {
            Some(rest) => (!permit, rest.trim()),
            None => (permit, entry),
        };
        if entry.is_empty() {
            return Err(AclError::Empty);
        }
        let (addr_text, mask_text) = match entry.split_once('/') {
            Some((a, m)) => (a.trim(), Some(m.trim())),
            None => (entry, None),
        };
        let addr = parse_address(addr_text)?;
        let prefix = match mask_text {
            None => max_prefix(addr),
            Some(mask) => parse_mask(mask, addr)?,
        };
        let network =
            IpNetwork::new(addr, prefix).map_err(|_| AclError::BadMask(entry.to_string()))?;
        Ok(Rule { network, permit })
    }

    fn matches(&self, client: IpAddr) -> bool {
        match (self.network, client) {
            (IpNetwork::V4(net), IpAddr::V4(ip)) => net.contains(ip),
            (IpNetwork::V6(net), IpAddr::V6(ip)) => net.contains(ip),
            _ => false,
        }
    }
}

fn parse_address(text: &str) -> Result<IpAddr, AclError> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(addr) = bare.parse::<IpAddr>() {
        return Ok(addr);
    }
    // "1.2.3.4:80" or "[::1]:80": an address with a port.
    if let Some((host, port)) = text.rsplit_once(':') {
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.parse::<IpAddr>().is_ok() && port.parse::<u16>().is_ok() {
            return Err(AclError::PortGiven(text.to_string()));
        }
    }
    Err(AclError::BadAddress(text.to_string()))
}

fn max_prefix(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn parse_mask(mask: &str, addr: IpAddr) -> Result<u8, AclError> {
    let bad = || AclError::BadMask(mask.to_string());
    if let Ok(bits) = mask.parse::<u8>() {
        return if bits <= max_prefix(addr) {
            Ok(bits)
        } else {
            Err(bad())
        };
    }
    let mask_addr: IpAddr = mask.parse().map_err(|_| bad())?;
    let prefix = match (mask_addr, addr) {
        (IpAddr::V4(m), IpAddr::V4(_)) => contiguous_prefix(u32::from(m) as u128, 32),
        (IpAddr::V6(m), IpAddr::V6(_)) => contiguous_prefix(u128::from(m), 128),
        _ => None,
    };
    prefix.ok_or_else(bad)
}

/// The prefix length of a contiguous netmask of `width` bits, or `None` for a mask with holes.
fn contiguous_prefix(mask: u128, width: u32) -> Option<u8> {
    let ones = mask.count_ones();
    let expected = if ones == 0 {
        0
    } else {
        (u128::MAX >> (128 - ones)) << (width - ones)
    };
    (mask == expected).then_some(ones as u8)
}

/// An ordered list of rules; the last matching rule decides, no match allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleList {
    rules: Vec<Rule>,
}

impl RuleList {
    /// Adds every entry of a comma list (`permit = a, b`) with the given sense.
    pub fn add_entries(&mut self, list: &str, permit: bool) -> Result<(), AclError> {
        for entry in list.split(',') {
            self.rules.push(Rule::parse(entry, permit)?);
        }
        Ok(())
    }

    /// True when the list has no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Applies the list to a client address.
    pub fn allows(&self, client: IpAddr) -> bool {
        let client = canonical(client);
        self.rules
            .iter()
            .rev()
            .find(|rule| rule.matches(client))
            .is_none_or(|rule| rule.permit)
    }
}

/// IPv4-mapped IPv6 clients are matched as the IPv4 address they carry.
fn canonical(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// A named list referenced by `acl = name`, resolved against `acl.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedList {
    /// The section exists.
    Found(String, Arc<RuleList>),
    /// No such section: this list denies every address.
    Missing(String),
}

/// A complete access check: the baseline rules plus named lists; all must allow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Acl {
    /// The `permit`/`deny` lines, in order.
    pub baseline: RuleList,
    /// The `acl = name` references, in order.
    pub named: Vec<NamedList>,
}

impl Acl {
    /// True when no rule and no named list is configured (everything is allowed).
    pub fn is_empty(&self) -> bool {
        self.baseline.is_empty() && self.named.is_empty()
    }

    /// Applies every list to a client address.
    pub fn allows(&self, client: IpAddr) -> bool {
        self.baseline.allows(client)
            && self.named.iter().all(|named| match named {
                NamedList::Found(_, list) => list.allows(client),
                NamedList::Missing(_) => false,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn list(entries: &[(&str, bool)]) -> RuleList {
        let mut l = RuleList::default();
        for (e, p) in entries {
            l.add_entries(e, *p).expect("valid entry");
        }
        l
    }

    #[test]
    fn empty_list_allows() {
        assert!(RuleList::default().allows(ip("10.1.2.3")));
    }

    #[test]
    fn whitelist_with_last_match_winning() {
        let l = list(&[("0.0.0.0/0", false), ("127.0.0.1/32", true)]);
        assert!(l.allows(ip("127.0.0.1")));
        assert!(!l.allows(ip("127.0.0.2")));
        let l = list(&[("127.0.0.1", true), ("0.0.0.0/0.0.0.0", false)]);
        assert!(!l.allows(ip("127.0.0.1")), "later deny wins");
    }

    #[test]
    fn dotted_masks_and_inversion() {
        let l = list(&[("10.0.0.0/255.0.0.0", false)]);
        assert!(!l.allows(ip("10.9.9.9")));
        assert!(l.allows(ip("11.0.0.1")));
        let l = list(&[("!10.0.0.0/8", true)]);
        assert!(!l.allows(ip("10.0.0.1")), "! turns permit into deny");
    }

    #[test]
    fn families_do_not_cross_but_mapped_v4_does() {
        let l = list(&[("0.0.0.0/0", false)]);
        assert!(l.allows(ip("::1")), "an IPv4 rule ignores native IPv6");
        assert!(!l.allows(ip("::ffff:127.0.0.1")), "mapped IPv4 is IPv4");
        let l6 = list(&[("::/0", false)]);
        assert!(l6.allows(ip("127.0.0.1")));
        assert!(!l6.allows(ip("::1")));
    }

    #[test]
    fn bad_entries_are_rejected() {
        assert_eq!(
            Rule::parse("1.2.3.4:80", true),
            Err(AclError::PortGiven("1.2.3.4:80".into()))
        );
        assert!(matches!(
            Rule::parse("nonsense", true),
            Err(AclError::BadAddress(_))
        ));
        assert!(matches!(
            Rule::parse("1.2.3.4/33", true),
            Err(AclError::BadMask(_))
        ));
        assert!(matches!(
            Rule::parse("1.2.3.4/255.0.255.0", true),
            Err(AclError::BadMask(_))
        ));
        assert_eq!(Rule::parse(" ", true), Err(AclError::Empty));
    }

    #[test]
    fn missing_named_list_denies() {
        let acl = Acl {
            baseline: RuleList::default(),
            named: vec![NamedList::Missing("office".into())],
        };
        assert!(!acl.allows(ip("127.0.0.1")));
    }

    #[test]
    fn every_list_must_allow() {
        let allow_lo = Arc::new(list(&[("0.0.0.0/0", false), ("127.0.0.0/8", true)]));
        let deny_two = Arc::new(list(&[("127.0.0.2", false)]));
        let acl = Acl {
            baseline: RuleList::default(),
            named: vec![
                NamedList::Found("lo".into(), allow_lo),
                NamedList::Found("no2".into(), deny_two),
            ],
        };
        assert!(acl.allows(ip("127.0.0.1")));
        assert!(!acl.allows(ip("127.0.0.2")));
        assert!(!acl.allows(ip("192.0.2.1")));
    }
}
