//! http.conf `type = restriction` sections: which one denies a request.
//!
//! A restriction names a path prefix, and routing reads paths case-insensitively (the
//! http.conf prefix, `/ari`, `/metrics`) and percent-decoded (each ARI segment, `+` as a
//! space). So both the section's path and the request's are brought to one form before they
//! are compared: every segment decoded as routing decodes it, then ASCII lower-cased. A
//! restriction can then only match more requests than a byte comparison would, never fewer:
//! `/ARI/...`, `/ari/%72ecordings` and `/METRICS` are restricted like the paths they route to.

use std::net::IpAddr;

use crate::config::http_conf::Restriction;

/// The form paths are compared in: segments percent-decoded (`+` is a space, `%XX` a byte,
/// a lone `%` kept) and ASCII lower-cased. Bytes that are not UTF-8 become U+FFFD.
pub(crate) fn comparable(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for (i, segment) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&crate::ari::decode_segment(segment));
    }
    out.make_ascii_lowercase();
    out
}

/// The first restriction whose prefix covers `path` (the request's raw path, http.conf
/// prefix included) and whose ACL refuses `peer`. Costs nothing when http.conf has no
/// restriction.
pub(crate) fn denying<'r>(
    restrictions: &'r [Restriction],
    path: &str,
    peer: IpAddr,
) -> Option<&'r Restriction> {
    if restrictions.is_empty() {
        return None;
    }
    let path = comparable(path);
    restrictions
        .iter()
        .find(|r| path.starts_with(&r.comparable_prefix) && !r.acl.allows(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_encoding_compare_as_routing_reads_them() {
        assert_eq!(comparable("/ARI/Recordings"), "/ari/recordings");
        assert_eq!(comparable("/ari/%72ecordings/x"), "/ari/recordings/x");
        assert_eq!(
            comparable("/ari/%2572"),
            "/ari/%72",
            "decoded once, as routing does"
        );
        assert_eq!(comparable("/a+b/%zz"), "/a b/%zz");
        assert_eq!(comparable("/METRICS"), "/metrics");
    }

    fn deny_all(prefix: &str) -> Restriction {
        let mut acl = crate::acl::Acl::default();
        acl.baseline
            .add_entries("0.0.0.0/0,::/0", false)
            .expect("valid ACL");
        Restriction::new(prefix.to_string(), acl)
    }

    #[test]
    fn a_restriction_covers_every_spelling_of_its_prefix() {
        let restrictions = [deny_all("/ari/recordings"), deny_all("/metrics")];
        let peer = IpAddr::from([127, 0, 0, 2]);
        for path in [
            "/ari/recordings/stored",
            "/ARI/recordings",
            "/ari/%72ecordings/stored",
            "/ari/RECORDINGS%2fstored",
            "/METRICS",
        ] {
            assert!(denying(&restrictions, path, peer).is_some(), "{path}");
        }
        for path in ["/ari/asterisk/info", "/ari/rec", "/metric"] {
            assert!(denying(&restrictions, path, peer).is_none(), "{path}");
        }
    }
}
