//! IP access lists (`runtime/src/acl.rs`): `permit`/`deny` entries (addresses, CIDR
//! prefixes, dotted masks, IPv6) parsed one by one and as comma lists, then asked about
//! addresses taken from the input.
//!
//! Input: one byte choosing permit or deny, the entry list text, NUL, 16 bytes of address.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use wari::acl::{Rule, RuleList};
use wari_fuzz::parts;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let permit = selector & 1 == 1;
    let p = parts(rest, 2);
    let text = String::from_utf8_lossy(p[0]);
    for entry in text.split(',') {
        let _ = Rule::parse(entry, permit);
    }
    let mut list = RuleList::default();
    let _ = list.add_entries(&text, permit);
    let _ = list.add_entries(&text, !permit);
    let mut octets = [0u8; 16];
    for (o, b) in octets.iter_mut().zip(p[1]) {
        *o = *b;
    }
    let v6 = Ipv6Addr::from(octets);
    let v4 = Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]);
    for client in [
        IpAddr::V6(v6),
        IpAddr::V4(v4),
        IpAddr::V6(v4.to_ipv6_mapped()),
    ] {
        let _ = list.allows(client);
    }
});
