//! The registrar's bindings, sans-IO: which contacts are registered to each AOR until
//! when, and what a REGISTER changes (time is an input; nothing here sends or sleeps).
//!
//! The rules, as Asterisk 23.4.1's registrar applies them (res_pjsip_registrar.c):
//! - A contact's expiry is its `expires` parameter, else the request's `Expires` header,
//!   else the AOR's `default_expiration`; 0 removes it, anything else is clamped into
//!   `minimum_expiration..=maximum_expiration` (Asterisk never answers 423 Interval Too
//!   Brief: it registers the contact for the minimum instead).
//! - `max_contacts = 0` refuses every REGISTER with 403; more contacts than `max_contacts`
//!   after the request is 403 too, unless `remove_existing`: then only the contacts this
//!   request adds or refreshes count, and the excess of the others is removed, those
//!   expiring soonest first.
//! - `Contact: *` must come alone and with expiry 0 (else 400); it removes every binding.
//! - Removing a contact that is not registered is forgiven; contacts that are not `sip:`
//!   or `sips:` are skipped.
//! - The 200 OK lists every binding of the AOR with its remaining seconds.
//!
//! And RFC 3261 10.3 step 7 (Asterisk does not check it): a binding refreshed with the
//! Call-ID it was made with needs a higher CSeq, else the request fails (500).
//!
//! Bindings live in memory only: Asterisk keeps them in its astdb so they survive a
//! restart; wari forgets them on restart (phones re-register within their interval).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rsipstack::sip::{Host, Param, Scheme, Uri};

/// An AOR's registration limits (`type=aor`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_contacts: u32,
    pub(crate) remove_existing: bool,
    pub(crate) default_expiration: u32,
    pub(crate) minimum_expiration: u32,
    pub(crate) maximum_expiration: u32,
}

impl Limits {
    /// The expiry of a contact: its own, else the request's, else the default; clamped
    /// into the AOR's range unless 0.
    pub(crate) fn expiration(&self, contact: Option<u32>, header: Option<u32>) -> u32 {
        let asked = contact.or(header).unwrap_or(self.default_expiration);
        if asked == 0 {
            0
        } else {
            asked.clamp(
                self.minimum_expiration,
                self.maximum_expiration.max(self.minimum_expiration),
            )
        }
    }
}

/// One `Contact` of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactParam {
    /// The contact's URI as sent.
    pub(crate) uri: String,
    /// Its `expires` parameter.
    pub(crate) expires: Option<u32>,
}

/// The `Contact` headers of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Contacts {
    /// `Contact: *` (with the number of other contacts sent beside it, which must be 0).
    Star { others: usize },
    /// Contact URIs; none at all asks for the current bindings only.
    List(Vec<ContactParam>),
}

/// A REGISTER to one AOR, as the registrar needs it.
#[derive(Debug, Clone)]
pub(crate) struct Register {
    /// The endpoint that sent it (authenticated or identified).
    pub(crate) endpoint: String,
    pub(crate) contacts: Contacts,
    /// The `Expires` header.
    pub(crate) expires: Option<u32>,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    /// Where it came from.
    pub(crate) source: SocketAddr,
    /// The transport it came over (`udp`, `tcp`, `tls`).
    pub(crate) transport: String,
    pub(crate) user_agent: Option<String>,
    /// Register the source address instead of the contact's host and port (NAT).
    pub(crate) rewrite_contact: bool,
}

/// A registered contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    /// The AOR it is bound to.
    pub(crate) aor: String,
    /// The endpoint that registered it.
    pub(crate) endpoint: String,
    /// The contact's URI: as sent, or with the source address when rewritten.
    pub(crate) uri: String,
    /// What identifies the contact for refreshes and removals (see [`contact_key`]).
    key: String,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) expires_at: Instant,
    /// Where the REGISTER came from.
    pub(crate) source: SocketAddr,
    pub(crate) transport: String,
    pub(crate) user_agent: Option<String>,
}

impl Binding {
    /// Whole seconds left at `now`.
    pub(crate) fn remaining(&self, now: Instant) -> u32 {
        let left = self.expires_at.saturating_duration_since(now).as_secs();
        u32::try_from(left).unwrap_or(u32::MAX)
    }
}

/// Why a binding went away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RemovedBy {
    /// Expires 0 or `*`.
    Request,
    /// Its time ran out.
    Expiry,
    /// Replaced by a newer contact (`remove_existing`).
    Replaced,
}

/// What a REGISTER or the clock changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Change {
    Added(Binding),
    Refreshed(Binding),
    Removed(Binding, RemovedBy),
}

/// A REGISTER's answer when it is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Accepted {
    /// Every binding of the AOR now: URI and remaining seconds (for the 200's Contacts).
    pub(crate) bindings: Vec<(String, u32)>,
    /// The `Expires` header for the 200 (when the request had one): its value clamped.
    pub(crate) expires: Option<u32>,
    pub(crate) changes: Vec<Change>,
}

/// Why a REGISTER is refused; each is a SIP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refused {
    /// 400: `*` with other contacts or a non-zero expiry, or a contact that cannot be parsed.
    #[error("invalid Contact headers: {0}")]
    BadContacts(String),
    /// 403: the AOR takes no registrations (`max_contacts = 0`).
    #[error("AOR '{0}' takes no registrations (max_contacts = 0)")]
    NotPermitted(String),
    /// 403: the request would exceed `max_contacts`.
    #[error("registration to AOR '{aor}' would exceed max_contacts of {max}")]
    TooManyContacts { aor: String, max: u32 },
    /// 500: same Call-ID as the binding with a CSeq not higher than its own.
    #[error("out-of-order REGISTER for contact {0} (CSeq not higher than the binding's)")]
    OutOfOrder(String),
}

impl Refused {
    /// The SIP status code to answer with.
    pub(crate) fn status(&self) -> u16 {
        match self {
            Refused::BadContacts(_) => 400,
            Refused::NotPermitted(_) | Refused::TooManyContacts { .. } => 403,
            Refused::OutOfOrder(_) => 500,
        }
    }
}

/// What identifies a contact URI for refresh and removal: scheme, user, host (without
/// case), port and transport (`udp` being the default); other parameters do not count.
pub(crate) fn contact_key(uri: &Uri) -> String {
    let scheme = match &uri.scheme {
        Some(Scheme::Sips) => "sips",
        _ => "sip",
    };
    let user = uri.user().unwrap_or("");
    let host = match uri.host() {
        Host::Domain(d) => d.0.to_ascii_lowercase(),
        Host::IpAddr(ip) => ip.to_string(),
    };
    let port = uri
        .host_with_port
        .port
        .as_ref()
        .map(|p| p.0.to_string())
        .unwrap_or_default();
    let transport = uri
        .params
        .iter()
        .find_map(|p| match p {
            Param::Transport(t) => Some(t.to_string().to_ascii_lowercase()),
            _ => None,
        })
        .filter(|t| t != "udp")
        .unwrap_or_default();
    format!("{scheme}:{user}@{host}:{port};{transport}")
}

/// `uri` with its host and port replaced by `source` (`rewrite_contact`).
fn rewritten(uri: &Uri, source: SocketAddr) -> Uri {
    let mut uri = uri.clone();
    uri.host_with_port = source.into();
    uri
}

/// Every AOR's bindings.
#[derive(Debug, Default)]
pub(crate) struct Bindings {
    by_aor: BTreeMap<String, Vec<Binding>>,
}

impl Bindings {
    /// The bindings of an AOR, oldest first.
    pub(crate) fn of(&self, aor: &str) -> &[Binding] {
        self.by_aor.get(aor).map(Vec::as_slice).unwrap_or(&[])
    }

    /// When the next binding expires.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.by_aor.values().flatten().map(|b| b.expires_at).min()
    }

    /// Removes every binding whose time is up at `now`.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Change> {
        let mut changes = Vec::new();
        for list in self.by_aor.values_mut() {
            list.retain(|b| {
                if b.expires_at <= now {
                    changes.push(Change::Removed(b.clone(), RemovedBy::Expiry));
                    false
                } else {
                    true
                }
            });
        }
        self.by_aor.retain(|_, list| !list.is_empty());
        changes
    }

    /// Applies a REGISTER to `aor` (which has `limits` and `permanent` static contacts)
    /// at `now`. Nothing changes when it is refused.
    pub(crate) fn register(
        &mut self,
        aor: &str,
        limits: &Limits,
        request: &Register,
        now: Instant,
    ) -> Result<Accepted, Refused> {
        if limits.max_contacts == 0 {
            return Err(Refused::NotPermitted(aor.to_string()));
        }
        let current = self.of(aor).to_vec();
        let header = request.expires;
        let mut next = current.clone();
        let mut changes = Vec::new();
        match &request.contacts {
            Contacts::Star { others } => {
                if *others > 0 || limits.expiration(None, header) != 0 {
                    return Err(Refused::BadContacts(
                        "'*' must be the only contact, with Expires: 0".into(),
                    ));
                }
                for binding in next.drain(..) {
                    changes.push(Change::Removed(binding, RemovedBy::Request));
                }
            }
            Contacts::List(list) => {
                // Parse and classify first: a refusal must change nothing.
                let mut parsed = Vec::with_capacity(list.len());
                for contact in list {
                    let uri = Uri::try_from(contact.uri.as_str())
                        .map_err(|e| Refused::BadContacts(e.to_string()))?;
                    if !matches!(uri.scheme, None | Some(Scheme::Sip) | Some(Scheme::Sips)) {
                        continue;
                    }
                    let key = contact_key(&uri);
                    let expiration = limits.expiration(contact.expires, header);
                    if let Some(old) = current.iter().find(|b| b.key == key)
                        && old.call_id == request.call_id
                        && request.cseq <= old.cseq
                    {
                        return Err(Refused::OutOfOrder(old.uri.clone()));
                    }
                    parsed.push((uri, key, expiration));
                }
                let mut touched = Vec::new();
                let (mut added, mut updated, mut deleted) = (0u32, 0u32, 0u32);
                for (_, key, expiration) in &parsed {
                    let exists = current.iter().any(|b| &b.key == key);
                    match (exists, *expiration) {
                        (false, 0) => {}
                        (false, _) => added += 1,
                        (true, 0) => deleted += 1,
                        (true, _) => updated += 1,
                    }
                }
                let count = if limits.remove_existing {
                    (updated + added).saturating_sub(deleted)
                } else {
                    (current.len() as u32 + added).saturating_sub(deleted)
                };
                if count > limits.max_contacts {
                    return Err(Refused::TooManyContacts {
                        aor: aor.to_string(),
                        max: limits.max_contacts,
                    });
                }
                for (uri, key, expiration) in parsed {
                    let position = next.iter().position(|b| b.key == key);
                    let expires_at = now + Duration::from_secs(u64::from(expiration));
                    match (position, expiration) {
                        (None, 0) => {}
                        (Some(i), 0) => {
                            let old = next.remove(i);
                            changes.push(Change::Removed(old, RemovedBy::Request));
                        }
                        (Some(i), _) => {
                            let binding = &mut next[i];
                            binding.call_id = request.call_id.clone();
                            binding.cseq = request.cseq;
                            binding.expires_at = expires_at;
                            binding.source = request.source;
                            binding.transport = request.transport.clone();
                            binding.user_agent = request.user_agent.clone();
                            touched.push(key);
                            changes.push(Change::Refreshed(binding.clone()));
                        }
                        (None, _) => {
                            let shown = if request.rewrite_contact {
                                rewritten(&uri, request.source)
                            } else {
                                uri
                            };
                            let binding = Binding {
                                aor: aor.to_string(),
                                endpoint: request.endpoint.clone(),
                                uri: shown.to_string(),
                                key: key.clone(),
                                call_id: request.call_id.clone(),
                                cseq: request.cseq,
                                expires_at,
                                source: request.source,
                                transport: request.transport.clone(),
                                user_agent: request.user_agent.clone(),
                            };
                            touched.push(key);
                            changes.push(Change::Added(binding.clone()));
                            next.push(binding);
                        }
                    }
                }
                if limits.remove_existing && next.len() > limits.max_contacts as usize {
                    // The others, soonest to expire first, make room.
                    let mut others: Vec<(Instant, String)> = next
                        .iter()
                        .filter(|b| !touched.contains(&b.key))
                        .map(|b| (b.expires_at, b.key.clone()))
                        .collect();
                    others.sort();
                    let excess = next.len() - limits.max_contacts as usize;
                    for (_, key) in others.into_iter().take(excess) {
                        if let Some(i) = next.iter().position(|b| b.key == key) {
                            let old = next.remove(i);
                            changes.push(Change::Removed(old, RemovedBy::Replaced));
                        }
                    }
                }
            }
        }
        let bindings = next
            .iter()
            .map(|b| (b.uri.clone(), b.remaining(now)))
            .collect();
        if next.is_empty() {
            self.by_aor.remove(aor);
        } else {
            self.by_aor.insert(aor.to_string(), next);
        }
        Ok(Accepted {
            bindings,
            expires: header.map(|h| limits.expiration(None, Some(h))),
            changes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: u32, remove_existing: bool) -> Limits {
        Limits {
            max_contacts: max,
            remove_existing,
            default_expiration: 3600,
            minimum_expiration: 60,
            maximum_expiration: 7200,
        }
    }

    fn register(contacts: &[(&str, Option<u32>)], expires: Option<u32>, cseq: u32) -> Register {
        Register {
            endpoint: "alice".into(),
            contacts: Contacts::List(
                contacts
                    .iter()
                    .map(|(uri, expires)| ContactParam {
                        uri: uri.to_string(),
                        expires: *expires,
                    })
                    .collect(),
            ),
            expires,
            call_id: "call-1".into(),
            cseq,
            source: "192.0.2.9:5099".parse().unwrap(),
            transport: "udp".into(),
            user_agent: Some("phone".into()),
            rewrite_contact: false,
        }
    }

    /// `alice` registers one contact (its URI and own expires) with the request's
    /// `expires` and `cseq`.
    fn one(
        b: &mut Bindings,
        l: &Limits,
        contact: (&str, Option<u32>),
        expires: Option<u32>,
        cseq: u32,
        now: Instant,
    ) -> Result<Accepted, Refused> {
        b.register("alice", l, &register(&[contact], expires, cseq), now)
    }

    #[test]
    fn a_contact_registers_for_the_asked_time_and_expires_on_the_clock() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let ok = b
            .register(
                "alice",
                &limits(1, false),
                &register(&[("sip:alice@10.0.0.1:5060", None)], Some(120), 1),
                t0,
            )
            .unwrap();
        assert_eq!(
            ok.bindings,
            vec![("sip:alice@10.0.0.1:5060".to_string(), 120)]
        );
        assert_eq!(ok.expires, Some(120));
        assert!(matches!(ok.changes.as_slice(), [Change::Added(_)]));
        assert_eq!(b.next_expiry(), Some(t0 + Duration::from_secs(120)));
        assert!(b.expire(t0 + Duration::from_secs(119)).is_empty());
        assert_eq!(
            b.of("alice")[0].remaining(t0 + Duration::from_secs(100)),
            20
        );
        let gone = b.expire(t0 + Duration::from_secs(120));
        assert!(matches!(
            gone.as_slice(),
            [Change::Removed(_, RemovedBy::Expiry)]
        ));
        assert!(b.of("alice").is_empty());
        assert_eq!(b.next_expiry(), None);
    }

    #[test]
    fn expiry_is_clamped_into_the_aors_range_and_defaults_without_one() {
        let l = limits(5, false);
        assert_eq!(
            l.expiration(Some(10), Some(3000)),
            60,
            "below the minimum: the minimum, no 423"
        );
        assert_eq!(l.expiration(None, Some(99999)), 7200);
        assert_eq!(l.expiration(None, None), 3600);
        assert_eq!(
            l.expiration(Some(0), Some(300)),
            0,
            "the contact's own 0 wins"
        );
        let mut b = Bindings::default();
        let ok = one(
            &mut b,
            &l,
            ("sip:alice@10.0.0.1", Some(5)),
            None,
            1,
            Instant::now(),
        )
        .unwrap();
        assert_eq!(ok.bindings[0].1, 60);
    }

    #[test]
    fn expires_zero_removes_and_removing_an_unknown_contact_is_forgiven() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let l = limits(2, false);
        one(&mut b, &l, ("sip:alice@10.0.0.1", None), None, 1, t0).unwrap();
        let ok = one(&mut b, &l, ("sip:alice@10.0.0.2", None), Some(0), 2, t0).unwrap();
        assert!(ok.changes.is_empty());
        assert_eq!(ok.bindings.len(), 1);
        let ok = one(&mut b, &l, ("sip:alice@10.0.0.1", None), Some(0), 3, t0).unwrap();
        assert!(matches!(
            ok.changes.as_slice(),
            [Change::Removed(_, RemovedBy::Request)]
        ));
        assert!(ok.bindings.is_empty());
        assert!(b.of("alice").is_empty());
    }

    #[test]
    fn star_removes_everything_only_alone_and_with_expires_zero() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let l = limits(3, false);
        b.register(
            "alice",
            &l,
            &register(
                &[("sip:alice@10.0.0.1", None), ("sip:alice@10.0.0.2", None)],
                None,
                1,
            ),
            t0,
        )
        .unwrap();
        let mut star = register(&[], Some(3600), 2);
        star.contacts = Contacts::Star { others: 0 };
        assert_eq!(
            b.register("alice", &l, &star, t0).unwrap_err().status(),
            400
        );
        star.expires = Some(0);
        star.contacts = Contacts::Star { others: 1 };
        assert_eq!(
            b.register("alice", &l, &star, t0).unwrap_err().status(),
            400
        );
        assert_eq!(b.of("alice").len(), 2, "a refused request changes nothing");
        star.contacts = Contacts::Star { others: 0 };
        let ok = b.register("alice", &l, &star, t0).unwrap();
        assert_eq!(ok.changes.len(), 2);
        assert!(b.of("alice").is_empty());
    }

    #[test]
    fn max_contacts_refuses_with_403_and_zero_refuses_everything() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let err = b
            .register(
                "alice",
                &limits(0, false),
                &register(&[("sip:alice@10.0.0.1", None)], None, 1),
                t0,
            )
            .unwrap_err();
        assert_eq!(err.status(), 403);
        let l = limits(1, false);
        one(&mut b, &l, ("sip:alice@10.0.0.1", None), None, 1, t0).unwrap();
        let err = one(&mut b, &l, ("sip:alice@10.0.0.2", None), None, 2, t0).unwrap_err();
        assert_eq!(
            err,
            Refused::TooManyContacts {
                aor: "alice".into(),
                max: 1
            }
        );
        assert_eq!(err.status(), 403);
        assert_eq!(b.of("alice")[0].uri, "sip:alice@10.0.0.1");
        // A refresh of the one there is fine.
        assert!(
            b.register(
                "alice",
                &l,
                &register(&[("sip:alice@10.0.0.1", None)], None, 3),
                t0
            )
            .is_ok()
        );
    }

    #[test]
    fn remove_existing_replaces_the_contact_expiring_soonest() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let l = limits(2, true);
        one(&mut b, &l, ("sip:alice@10.0.0.1", None), Some(600), 1, t0).unwrap();
        one(&mut b, &l, ("sip:alice@10.0.0.2", None), Some(300), 2, t0).unwrap();
        let ok = one(&mut b, &l, ("sip:alice@10.0.0.3", None), Some(900), 3, t0).unwrap();
        let removed: Vec<_> = ok
            .changes
            .iter()
            .filter_map(|c| match c {
                Change::Removed(b, RemovedBy::Replaced) => Some(b.uri.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(removed, vec!["sip:alice@10.0.0.2".to_string()]);
        let uris: Vec<_> = b.of("alice").iter().map(|b| b.uri.as_str()).collect();
        assert_eq!(uris, vec!["sip:alice@10.0.0.1", "sip:alice@10.0.0.3"]);
        // More new contacts in one request than max_contacts is still 403.
        let err = b
            .register(
                "alice",
                &l,
                &register(
                    &[
                        ("sip:alice@10.0.0.4", None),
                        ("sip:alice@10.0.0.5", None),
                        ("sip:alice@10.0.0.6", None),
                    ],
                    None,
                    4,
                ),
                t0,
            )
            .unwrap_err();
        assert_eq!(err.status(), 403);
    }

    #[test]
    fn a_refresh_keeps_the_binding_and_needs_a_higher_cseq_on_the_same_call_id() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let l = limits(1, false);
        one(
            &mut b,
            &l,
            ("sip:alice@10.0.0.1;transport=udp", None),
            Some(100),
            5,
            t0,
        )
        .unwrap();
        let later = t0 + Duration::from_secs(50);
        let err = one(
            &mut b,
            &l,
            ("sip:alice@10.0.0.1", None),
            Some(100),
            5,
            later,
        )
        .unwrap_err();
        assert_eq!(err.status(), 500);
        let err = one(
            &mut b,
            &l,
            ("sip:ALICE@10.0.0.1", None),
            Some(100),
            6,
            later,
        )
        .unwrap_err();
        assert_eq!(
            err.status(),
            403,
            "the user part is case-sensitive: another contact"
        );
        let ok = one(
            &mut b,
            &l,
            ("sip:alice@10.0.0.1", None),
            Some(100),
            6,
            later,
        )
        .unwrap();
        assert!(matches!(ok.changes.as_slice(), [Change::Refreshed(_)]));
        let mut other_call = register(&[("sip:alice@10.0.0.1", None)], Some(100), 1);
        other_call.call_id = "call-2".into();
        let ok = b.register("alice", &l, &other_call, later).unwrap();
        assert!(ok.changes.iter().any(|c| matches!(c, Change::Refreshed(_))));
        assert_eq!(
            b.of("alice")[0].expires_at,
            later + Duration::from_secs(100)
        );
    }

    #[test]
    fn rewrite_contact_registers_the_source_address() {
        let mut b = Bindings::default();
        let mut r = register(&[("sip:alice@10.0.0.1:5060;ob", None)], None, 1);
        r.rewrite_contact = true;
        let ok = b
            .register("alice", &limits(1, false), &r, Instant::now())
            .unwrap();
        assert_eq!(ok.bindings[0].0, "sip:alice@192.0.2.9:5099;ob");
        assert_eq!(b.of("alice")[0].source, "192.0.2.9:5099".parse().unwrap());
    }

    #[test]
    fn an_empty_register_only_lists_the_bindings() {
        let mut b = Bindings::default();
        let t0 = Instant::now();
        let l = limits(1, false);
        one(&mut b, &l, ("sip:alice@10.0.0.1", None), Some(100), 1, t0).unwrap();
        let ok = b
            .register(
                "alice",
                &l,
                &register(&[], None, 2),
                t0 + Duration::from_secs(40),
            )
            .unwrap();
        assert!(ok.changes.is_empty());
        assert_eq!(ok.bindings, vec![("sip:alice@10.0.0.1".to_string(), 60)]);
        assert_eq!(ok.expires, None);
    }
}
