//! Contacts that register to wari (`type=aor`): REGISTER requests from endpoints bind
//! contacts to their AORs, bindings expire on time, and the endpoints' state (online
//! while an AOR of theirs is available) and contact events follow.
//!
//! - [`bindings`]: the bindings and the REGISTER rules (sans-IO).
//! - [`availability`]: contact statuses -> endpoint state (sans-IO).
//! - [`Registrar`] (here): the shared state behind a mutex, the answer to a REGISTER, the
//!   task that removes bindings when they expire (it sleeps until the next expiry, woken
//!   when bindings change) and the lookups for calls: [`Registrar::contacts_of`] (every
//!   contact of an endpoint) and [`Registrar::reachable_contacts`] (those qualify has not
//!   found unreachable).
//!
//! Which AOR a REGISTER is for, as Asterisk decides it: the To URI's user among the
//! endpoint's `aors` (404 when it is none of them); an endpoint without `aors` gets 403.
//! The request has been identified and authenticated (`incoming`, the same rules as for
//! calls) before [`Registrar::register`] sees it.
//!
//! Locks: the core's state first, then the registrar's (a REGISTER's changes are
//! published while both are held, so applications see them in order); nothing here
//! takes the core's lock while holding the registrar's.

pub(crate) mod availability;
pub(crate) mod bindings;
#[cfg(test)]
pub(crate) mod fixtures;
mod incoming;

pub(crate) use incoming::handle;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Request, Scheme, Transport};
use rsipstack::transport::sip_addr::SipAddr;
use tokio::sync::Notify;

use crate::config::pjsip_conf::PjsipConfig;
use crate::core::presence::{ContactChange, ContactStatus};
use crate::core::tech::{ContactView, Context, Handle};

use availability::Availability;
use bindings::{Bindings, Change, ContactParam, Contacts, Limits, Register};

/// The technology name endpoints are known by in the core.
const TECH: &str = "PJSIP";

/// Where a call to an endpoint goes: one of its contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContactTarget {
    /// The AOR it belongs to.
    pub(crate) aor: String,
    /// The URI to send the INVITE to (the Request-URI).
    pub(crate) uri: String,
    /// Where the contact registered from (`None` for a static contact): send there when
    /// the URI's own address is not reachable (behind NAT).
    pub(crate) source: Option<SocketAddr>,
    /// The transport it registered over (`udp`, `tcp`, `tls`); `None` for a static contact.
    pub(crate) transport: Option<String>,
}

impl ContactTarget {
    /// The transport requests to it go over: the one it registered with (UDP for a static
    /// contact).
    pub(crate) fn sip_transport(&self) -> Transport {
        match self.transport.as_deref() {
            Some("tcp") => Transport::Tcp,
            Some("tls") => Transport::Tls,
            _ => Transport::Udp,
        }
    }

    /// Where requests to it go: where it registered from, over its transport (for TCP and
    /// TLS the transport layer finds the phone's own connection by that address, as PJSIP
    /// reuses it); `None` for a static contact (its URI says).
    pub(crate) fn destination(&self) -> Option<SipAddr> {
        let source = self.source?;
        Some(SipAddr {
            r#type: Some(self.sip_transport()),
            addr: source.into(),
        })
    }
}

/// The answer to a REGISTER: its status and the headers to add to it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<Header>,
}

impl Reply {
    /// A reply with no headers.
    fn only(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
        }
    }
}

/// Bindings and statuses, behind the registrar's mutex.
#[derive(Debug)]
struct Inner {
    bindings: Bindings,
    availability: Availability,
}

/// The registrar of one SIP technology instance.
#[derive(Debug)]
pub(crate) struct Registrar {
    config: Arc<PjsipConfig>,
    inner: Mutex<Inner>,
    /// Wakes the expiry task when the next expiry may have changed (or the registrar is
    /// gone).
    changed: Arc<Notify>,
    /// Per qualified AOR: told when a contact is added to it.
    added: HashMap<String, Arc<Notify>>,
    handle: Handle,
}

impl Registrar {
    /// A registrar for `config`'s AORs. Makes every endpoint known to the core in its
    /// first state (online only when it has a static contact on an AOR without qualify,
    /// as Asterisk), without events, and starts the expiry task when a tokio runtime runs.
    pub(crate) fn start(config: Arc<PjsipConfig>, ctx: &mut Context<'_>) -> Arc<Registrar> {
        let availability = Availability::new(&config);
        for endpoint in &config.endpoints {
            let state = availability.endpoint_state(&endpoint.name);
            ctx.add_endpoint_in_state(TECH, &endpoint.name, state);
        }
        let registrar = Arc::new(Registrar {
            inner: Mutex::new(Inner {
                bindings: Bindings::default(),
                availability,
            }),
            changed: Arc::new(Notify::new()),
            added: config
                .aors
                .iter()
                .filter(|a| a.qualify_frequency > 0)
                .map(|a| (a.name.clone(), Arc::new(Notify::new())))
                .collect(),
            handle: ctx.handle(),
            config,
        });
        if tokio::runtime::Handle::try_current().is_ok() {
            tokio::spawn(expire_bindings(
                Arc::downgrade(&registrar),
                registrar.changed.clone(),
            ));
        }
        registrar
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Where calls to `endpoint` go: for each of its `aors` in order, the AOR's static
    /// `contact`s, then its registered contacts (oldest first).
    pub(crate) fn contacts_of(&self, endpoint: &str) -> Vec<ContactTarget> {
        let Some(endpoint) = self.config.endpoint(endpoint) else {
            return Vec::new();
        };
        let inner = self.lock();
        endpoint
            .aors
            .iter()
            .flat_map(|aor| self.targets(&inner, aor))
            .collect()
    }

    /// The contacts of one AOR, static ones first.
    pub(crate) fn aor_contacts(&self, aor: &str) -> Vec<ContactTarget> {
        let inner = self.lock();
        self.targets(&inner, aor)
    }

    /// The contacts of `aors` (AOR names, in order; unknown ones skipped) that a call may
    /// go to: each AOR's static then registered contacts, less those qualify found
    /// `Unreachable` (Asterisk's reachable filter for outgoing calls and
    /// `PJSIP_DIAL_CONTACTS`).
    pub(crate) fn reachable_contacts<'a>(
        &self,
        aors: impl IntoIterator<Item = &'a str>,
    ) -> Vec<ContactTarget> {
        let inner = self.lock();
        aors.into_iter()
            .flat_map(|aor| self.targets(&inner, aor))
            .filter(|c| !inner.availability.is_unreachable(&c.aor, &c.uri))
            .collect()
    }

    fn targets(&self, inner: &Inner, aor_name: &str) -> Vec<ContactTarget> {
        let statics = self.config.aor(aor_name).into_iter().flat_map(|aor| {
            aor.contacts.iter().map(|uri| ContactTarget {
                aor: aor_name.to_string(),
                uri: uri.clone(),
                source: None,
                transport: None,
            })
        });
        let registered = inner.bindings.of(aor_name).iter().map(|b| ContactTarget {
            aor: aor_name.to_string(),
            uri: b.uri.clone(),
            source: Some(b.source),
            transport: Some(b.transport.clone()),
        });
        statics.chain(registered).collect()
    }

    /// Every AOR's contacts (static ones first, then registered ones, oldest first) with
    /// their status at `now`, for the console.
    pub(crate) fn views(&self, now: Instant) -> Vec<ContactView> {
        let inner = self.lock();
        let mut views = Vec::new();
        for aor in &self.config.aors {
            let endpoints = inner.availability.endpoints_of(&aor.name).to_vec();
            let status = |uri: &str| {
                let (status, rtt) = inner
                    .availability
                    .status(&aor.name, uri)
                    .unwrap_or((ContactStatus::Unknown, 0));
                let rtt = (status == ContactStatus::Reachable).then_some(rtt);
                (status.as_str(), rtt)
            };
            for uri in &aor.contacts {
                let (status, roundtrip_usec) = status(uri);
                views.push(ContactView {
                    technology: TECH,
                    aor: aor.name.clone(),
                    endpoints: endpoints.clone(),
                    endpoint: None,
                    uri: uri.clone(),
                    status,
                    roundtrip_usec,
                    expires_in: None,
                    user_agent: None,
                    source: None,
                    transport: None,
                });
            }
            for binding in inner.bindings.of(&aor.name) {
                let (status, roundtrip_usec) = status(&binding.uri);
                views.push(ContactView {
                    technology: TECH,
                    aor: aor.name.clone(),
                    endpoints: endpoints.clone(),
                    endpoint: Some(binding.endpoint.clone()),
                    uri: binding.uri.clone(),
                    status,
                    roundtrip_usec,
                    expires_in: Some(binding.remaining(now)),
                    user_agent: binding.user_agent.clone(),
                    source: Some(binding.source.to_string()),
                    transport: Some(binding.transport.clone()),
                });
            }
        }
        views
    }

    /// A qualify of a contact finished (`Some(round trip)`, or `None`: no answer in
    /// time): ContactStatusChange when its status changed, and the state of the AOR's
    /// endpoints. Nothing when the contact is gone meanwhile.
    pub(crate) fn qualified(&self, aor: &str, uri: &str, roundtrip: Option<Duration>) {
        let rtt = roundtrip.map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.handle.with(|ctx| {
            let mut inner = self.lock();
            let Some(change) = inner.availability.qualified(aor, uri, rtt) else {
                return;
            };
            tracing::debug!(aor = %aor, contact = %uri.escape_debug(), status = change.status.as_str(), rtt = change.roundtrip_usec, "contact qualified");
            publish(&inner.availability, ctx, &[change]);
        });
    }

    /// Told when a contact is added to `aor` (qualified AORs only): qualify at once.
    pub(crate) fn contact_added_signal(&self, aor: &str) -> Option<Arc<Notify>> {
        self.added.get(aor).cloned()
    }

    /// The configuration it serves.
    pub(crate) fn config(&self) -> &Arc<PjsipConfig> {
        &self.config
    }

    /// Answers a REGISTER from `endpoint` (authenticated), received from `source` over
    /// `transport` at `now`.
    pub(crate) fn register(
        &self,
        endpoint: &str,
        request: &Request,
        source: SocketAddr,
        transport: &str,
        now: Instant,
    ) -> Reply {
        let Some(config) = self.config.endpoint(endpoint) else {
            return Reply::only(404);
        };
        if config.aors.is_empty() {
            tracing::warn!(endpoint = %endpoint.escape_debug(), %source, "REGISTER from an endpoint without AORs: 403");
            return Reply::only(403);
        }
        let to_user = match request.to_header().and_then(|to| to.typed()) {
            Ok(to) if matches!(to.uri.scheme, None | Some(Scheme::Sip) | Some(Scheme::Sips)) => {
                to.uri.user().unwrap_or("").to_string()
            }
            Ok(_) => return Reply::only(416),
            Err(_) => return Reply::only(400),
        };
        let Some(aor_name) = config.aors.iter().find(|a| **a == to_user) else {
            tracing::warn!(endpoint = %endpoint.escape_debug(), aor = %to_user.escape_debug(), %source, "REGISTER for an AOR the endpoint does not list: 404");
            return Reply::only(404);
        };
        let Some(aor) = self.config.aor(aor_name) else {
            return Reply::only(404);
        };
        let Some(register) =
            parse_register(request, endpoint, source, transport, config.rewrite_contact)
        else {
            tracing::warn!(endpoint = %endpoint.escape_debug(), %source, "REGISTER with invalid headers: 400");
            return Reply::only(400);
        };
        let limits = Limits {
            max_contacts: aor.max_contacts,
            remove_existing: aor.remove_existing,
            default_expiration: aor.default_expiration,
            minimum_expiration: aor.minimum_expiration,
            maximum_expiration: aor.maximum_expiration,
        };
        let outcome = self.handle.with(|ctx| {
            let mut inner = self.lock();
            let accepted = inner.bindings.register(aor_name, &limits, &register, now)?;
            apply(&mut inner.availability, ctx, &accepted.changes);
            Ok::<_, bindings::Refused>(accepted)
        });
        let accepted = match outcome {
            None => return Reply::only(503),
            Some(Err(refused)) => {
                tracing::warn!(endpoint = %endpoint.escape_debug(), aor = %aor_name, %source, status = refused.status(), "REGISTER refused: {refused}");
                return Reply::only(refused.status());
            }
            Some(Ok(accepted)) => accepted,
        };
        self.changed.notify_one();
        if let Some(signal) = self.added.get(aor_name)
            && accepted
                .changes
                .iter()
                .any(|c| matches!(c, Change::Added(_)))
        {
            signal.notify_one();
        }
        let mut headers: Vec<Header> = accepted
            .bindings
            .iter()
            .map(|(uri, left)| {
                Header::Contact(rsipstack::sip::headers::Contact::new(format!(
                    "<{uri}>;expires={left}"
                )))
            })
            .collect();
        if let Some(expires) = accepted.expires {
            headers.push(Header::Expires(rsipstack::sip::headers::Expires::new(
                expires.to_string(),
            )));
        }
        headers.push(Header::Date(rsipstack::sip::headers::Date::new(
            chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        )));
        Reply {
            status: 200,
            headers,
        }
    }

    /// Removes the bindings whose time is up at `now`; returns when the next one expires.
    fn expire(&self, now: Instant) -> Option<Instant> {
        self.handle
            .with(|ctx| {
                let mut inner = self.lock();
                let changes = inner.bindings.expire(now);
                for change in &changes {
                    if let Change::Removed(b, _) = change {
                        tracing::info!(aor = %b.aor, contact = %b.uri.escape_debug(), "contact expired");
                    }
                }
                apply(&mut inner.availability, ctx, &changes);
                inner.bindings.next_expiry()
            })
            .flatten()
    }
}

/// Records binding changes in the statuses and tells the core.
fn apply(availability: &mut Availability, ctx: &mut Context<'_>, changes: &[Change]) {
    let mut contacts = Vec::new();
    for change in changes {
        match change {
            Change::Added(b) => {
                tracing::info!(aor = %b.aor, contact = %b.uri.escape_debug(), "contact added");
                contacts.push(availability.added(&b.aor, &b.uri));
            }
            Change::Refreshed(_) => {}
            Change::Removed(b, by) => {
                tracing::info!(aor = %b.aor, contact = %b.uri.escape_debug(), ?by, "contact removed");
                contacts.push(availability.removed(&b.aor, &b.uri));
            }
        }
    }
    publish(availability, ctx, &contacts);
}

/// ContactStatusChange for each contact change to every endpoint of its AOR, then the
/// state of those endpoints (events only when it flipped).
fn publish(availability: &Availability, ctx: &mut Context<'_>, contacts: &[ContactChange]) {
    let mut touched: Vec<&str> = Vec::new();
    for contact in contacts {
        for endpoint in availability.endpoints_of(&contact.aor) {
            ctx.contact_changed(&format!("{TECH}/{endpoint}"), contact);
        }
        if !touched.contains(&contact.aor.as_str()) {
            touched.push(&contact.aor);
        }
    }
    for aor in touched {
        for endpoint in availability.endpoints_of(aor) {
            let state = availability.endpoint_state(endpoint);
            ctx.set_endpoint_state(&format!("{TECH}/{endpoint}"), state);
        }
    }
}

/// What the registrar needs of a REGISTER; `None` when a header it needs is bad.
pub(crate) fn parse_register(
    request: &Request,
    endpoint: &str,
    source: SocketAddr,
    transport: &str,
    rewrite_contact: bool,
) -> Option<Register> {
    let contacts = request.typed_contact_headers().ok()?;
    let star = contacts
        .iter()
        .filter(|c| matches!(&c.uri.scheme, Some(Scheme::Other(s)) if s == "*"))
        .count();
    let contacts = if star > 0 {
        Contacts::Star {
            others: contacts.len() - star + (star - 1),
        }
    } else {
        Contacts::List(
            contacts
                .iter()
                .map(|c| ContactParam {
                    uri: c.uri.to_string(),
                    expires: c.expires(),
                })
                .collect(),
        )
    };
    let expires = match request.expires_header() {
        Some(h) => Some(h.value().trim().parse::<u32>().ok()?),
        None => None,
    };
    let cseq = request.cseq_header().ok()?.typed().ok()?.seq;
    let call_id = request.call_id_header().ok()?.value().to_string();
    Some(Register {
        endpoint: endpoint.to_string(),
        contacts,
        expires,
        call_id,
        cseq,
        source,
        transport: transport.to_string(),
        user_agent: request.user_agent_header().map(|u| u.value().to_string()),
        rewrite_contact,
    })
}

impl Drop for Registrar {
    fn drop(&mut self) {
        // Lets the expiry task see that the registrar is gone.
        self.changed.notify_one();
    }
}

/// Removes bindings when they expire: sleeps until the next expiry, or until a REGISTER
/// changes the bindings; ends when the registrar is gone.
async fn expire_bindings(registrar: Weak<Registrar>, changed: Arc<Notify>) {
    loop {
        let Some(r) = registrar.upgrade() else {
            return;
        };
        let next = r.expire(Instant::now());
        drop(r);
        // A notification sent meanwhile is kept by the Notify (notify_one stores a permit).
        match next {
            Some(at) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                    _ = changed.notified() => {}
                }
            }
            None => changed.notified().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{aor, config, endpoint};
    use super::*;
    use crate::core::test_support::TestCore;

    const SOURCE: &str = "127.0.0.1:5099";

    fn request(contact: &str, expires: Option<u32>, cseq: u32) -> Request {
        let expires = expires
            .map(|e| format!("Expires: {e}\r\n"))
            .unwrap_or_default();
        let text = format!(
            "REGISTER sip:127.0.0.1 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 127.0.0.1:5099;branch=z9hG4bK{cseq}\r\n\
             From: <sip:alice@127.0.0.1>;tag=a1\r\n\
             To: <sip:alice@127.0.0.1>\r\n\
             Call-ID: reg-1\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: {contact}\r\n\
             {expires}\
             Content-Length: 0\r\n\r\n"
        );
        Request::try_from(text.as_str()).expect("a REGISTER")
    }

    fn started(t: &TestCore) -> Arc<Registrar> {
        let cfg = config(
            vec![
                endpoint("alice", &["alice"], None),
                endpoint("noaor", &[], None),
            ],
            vec![aor("alice", 1, 0, &[])],
            vec![],
        );
        fixtures::started(t, cfg, "alice")
    }

    fn endpoint_state(t: &TestCore) -> String {
        // Read as GET /endpoints shows it (the PJSIP technology itself is not installed here).
        let json = t
            .core
            .with_state(|state| state.endpoints.get("PJSIP/alice").map(|e| e.json()))
            .expect("PJSIP/alice is known");
        json["state"].as_str().unwrap().to_string()
    }

    fn statuses(t: &TestCore) -> Vec<String> {
        fixtures::contact_changes(t)
            .into_iter()
            .map(|(status, _)| status)
            .collect()
    }

    #[tokio::test]
    async fn a_register_binds_the_contact_and_brings_the_endpoint_online_with_events() {
        let t = TestCore::new(false);
        let r = started(&t);
        assert_eq!(endpoint_state(&t), "offline");
        let now = Instant::now();
        let source = SOURCE.parse().unwrap();
        let reply = r.register(
            "alice",
            &request("<sip:alice@127.0.0.1:5099>", Some(120), 1),
            source,
            "udp",
            now,
        );
        assert_eq!(reply.status, 200);
        let contacts: Vec<String> = reply
            .headers
            .iter()
            .filter(|h| matches!(h, Header::Contact(_)))
            .map(|h| h.to_string())
            .collect();
        assert_eq!(
            contacts,
            vec!["Contact: <sip:alice@127.0.0.1:5099>;expires=120"]
        );
        assert_eq!(endpoint_state(&t), "online");
        let change = &t.events.of_kind("ContactStatusChange")[0];
        assert_eq!(
            change["contact_info"],
            serde_json::json!({"uri": "sip:alice@127.0.0.1:5099", "contact_status": "NonQualified",
                "aor": "alice", "roundtrip_usec": "0"})
        );
        assert_eq!(change["endpoint"]["resource"], "alice");
        let states = t.events.of_kind("EndpointStateChange");
        assert_eq!(states.len(), 1);
        assert_eq!(states[0]["endpoint"]["state"], "online");
        let peers = t.events.of_kind("PeerStatusChange");
        assert_eq!(
            peers[0]["peer"],
            serde_json::json!({"peer_status": "Reachable"})
        );
        assert_eq!(
            r.contacts_of("alice"),
            vec![ContactTarget {
                aor: "alice".into(),
                uri: "sip:alice@127.0.0.1:5099".into(),
                source: Some(source),
                transport: Some("udp".into()),
            }]
        );

        // A refresh changes no state and sends no event.
        let reply = r.register(
            "alice",
            &request("<sip:alice@127.0.0.1:5099>", Some(120), 2),
            source,
            "udp",
            now,
        );
        assert_eq!(reply.status, 200);
        assert_eq!(t.events.of_kind("ContactStatusChange").len(), 1);

        // Expires: 0 takes it away.
        let reply = r.register(
            "alice",
            &request("<sip:alice@127.0.0.1:5099>", Some(0), 3),
            source,
            "udp",
            now,
        );
        assert_eq!(reply.status, 200);
        assert_eq!(statuses(&t), vec!["NonQualified", "Removed"]);
        assert_eq!(endpoint_state(&t), "offline");
        let peers = t.events.of_kind("PeerStatusChange");
        assert_eq!(peers[1]["peer"]["peer_status"], "Unreachable");
        assert!(r.contacts_of("alice").is_empty());
    }

    #[tokio::test]
    async fn a_binding_expires_on_the_clock() {
        let t = TestCore::new(false);
        let r = started(&t);
        let now = Instant::now();
        let reply = r.register(
            "alice",
            &request("<sip:alice@127.0.0.1:5099>;expires=60", None, 1),
            SOURCE.parse().unwrap(),
            "udp",
            now,
        );
        assert_eq!(reply.status, 200);
        assert_eq!(
            r.expire(now + Duration::from_secs(59)),
            Some(now + Duration::from_secs(60))
        );
        assert_eq!(endpoint_state(&t), "online");
        assert_eq!(r.expire(now + Duration::from_secs(60)), None);
        assert_eq!(endpoint_state(&t), "offline");
        assert_eq!(statuses(&t), vec!["NonQualified", "Removed"]);
    }

    #[tokio::test]
    async fn refusals_are_asterisks_statuses_and_change_nothing() {
        let t = TestCore::new(false);
        let r = started(&t);
        let source: SocketAddr = SOURCE.parse().unwrap();
        let now = Instant::now();
        let register = |who: &str, req: Request| r.register(who, &req, source, "udp", now).status;
        assert_eq!(
            register("noaor", request("<sip:x@127.0.0.1>", None, 1)),
            403
        );
        let mut other_aor = request("<sip:alice@127.0.0.1>", None, 1);
        other_aor
            .headers
            .unique_push(Header::To("<sip:bob@127.0.0.1>".into()));
        assert_eq!(register("alice", other_aor), 404);
        assert_eq!(
            register("alice", request("<sip:alice@10.0.0.1>", None, 1)),
            200
        );
        assert_eq!(
            register("alice", request("<sip:alice@10.0.0.2>", None, 2)),
            403,
            "max_contacts=1"
        );
        assert_eq!(register("alice", request("*", Some(60), 3)), 400);
        assert_eq!(r.contacts_of("alice").len(), 1);
        assert_eq!(register("alice", request("*", Some(0), 4)), 200);
        assert!(r.contacts_of("alice").is_empty());
    }

    #[tokio::test]
    async fn the_console_sees_static_and_registered_contacts_with_status_and_expiry() {
        let t = TestCore::new(false);
        let cfg = config(
            vec![endpoint("desk", &["front", "alice"], None)],
            vec![
                aor("front", 0, 30, &["sip:a@10.0.0.1", "sip:b@10.0.0.2"]),
                aor("alice", 1, 0, &[]),
            ],
            vec![],
        );
        let r = fixtures::started(&t, cfg, "desk");
        let now = Instant::now();
        let mut register = request("<sip:alice@10.0.0.9:5070>", Some(120), 1);
        register
            .headers
            .unique_push(Header::UserAgent("Desk Phone 2.0".into()));
        assert_eq!(
            r.register("desk", &register, SOURCE.parse().unwrap(), "udp", now)
                .status,
            200
        );
        r.qualified("front", "sip:a@10.0.0.1", Some(Duration::from_micros(1500)));
        r.qualified("front", "sip:b@10.0.0.2", None);

        let views = r.views(now + Duration::from_secs(20));
        let summary: Vec<_> = views
            .iter()
            .map(|v| (v.aor.as_str(), v.uri.as_str(), v.status, v.roundtrip_usec))
            .collect();
        assert_eq!(
            summary,
            [
                ("front", "sip:a@10.0.0.1", "Reachable", Some(1500)),
                ("front", "sip:b@10.0.0.2", "Unreachable", None),
                ("alice", "sip:alice@10.0.0.9:5070", "NonQualified", None),
            ]
        );
        assert_eq!(views[0].endpoints, ["desk"]);
        assert_eq!(views[0].expires_in, None);
        assert_eq!(views[0].user_agent, None);
        let registered = &views[2];
        assert_eq!(registered.endpoint.as_deref(), Some("desk"));
        assert_eq!(registered.expires_in, Some(100));
        assert_eq!(registered.user_agent.as_deref(), Some("Desk Phone 2.0"));
        assert_eq!(registered.source.as_deref(), Some(SOURCE));
        assert_eq!(registered.transport.as_deref(), Some("udp"));
        assert_eq!(registered.technology, "PJSIP");

        // Unregistered, it is gone; the static contacts stay.
        let unregister = request("<sip:alice@10.0.0.9:5070>", Some(0), 2);
        assert_eq!(
            r.register("desk", &unregister, SOURCE.parse().unwrap(), "udp", now)
                .status,
            200
        );
        assert_eq!(r.views(now).len(), 2);
    }

    #[tokio::test]
    async fn calls_skip_the_contacts_qualify_found_unreachable() {
        let t = TestCore::new(false);
        let cfg = config(
            vec![endpoint("desk", &["front", "back"], None)],
            vec![
                aor("front", 0, 30, &["sip:a@10.0.0.1", "sip:b@10.0.0.2"]),
                aor("back", 0, 0, &["sip:c@10.0.0.3"]),
            ],
            vec![],
        );
        let r = fixtures::started(&t, cfg, "desk");
        let uris = |contacts: Vec<ContactTarget>| -> Vec<String> {
            contacts.into_iter().map(|c| c.uri).collect()
        };
        let all = ["sip:a@10.0.0.1", "sip:b@10.0.0.2", "sip:c@10.0.0.3"];
        assert_eq!(uris(r.reachable_contacts(["front", "back"])), all);
        r.qualified("front", "sip:a@10.0.0.1", None);
        assert_eq!(
            uris(r.reachable_contacts(["front", "back"])),
            ["sip:b@10.0.0.2", "sip:c@10.0.0.3"]
        );
        assert_eq!(uris(r.contacts_of("desk")), all, "still its contacts");
        r.qualified("front", "sip:b@10.0.0.2", None);
        assert_eq!(
            uris(r.reachable_contacts(["nosuch", "front", "back"])),
            ["sip:c@10.0.0.3"]
        );
        r.qualified("front", "sip:a@10.0.0.1", Some(Duration::from_micros(900)));
        assert_eq!(
            uris(r.reachable_contacts(["front"])),
            ["sip:a@10.0.0.1"],
            "reachable again"
        );
    }
}
