//! A transport's external addresses (`external_signaling_address`,
//! `external_signaling_port`, `external_media_address`) and `local_net`: the address wari
//! gives as its own to each peer. Asterisk's rule (res_pjsip_nat): a message to a peer
//! outside every `local_net` of the transport it leaves by (any peer when the transport has
//! no `local_net`) carries the external signalling address (and `external_signaling_port`
//! when set) in its Contact (except a response to REGISTER, whose Contacts are the phone's,
//! and a 302 to an INVITE) and, in a request, in the top Via's sent-by; its SDP gives the
//! external media address in `c=` and `o=`. A peer inside a `local_net` sees the bound
//! address.
//!
//! Sans-IO: [`Externals::rewrite`] changes a message given its destination; [`Inspector`]
//! is the hook rsipstack calls on each message it sends. The transport a message leaves by
//! is the one whose bound address the message gives (top Via of a request, Contact of a
//! response), as wari writes it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use ipnetwork::IpNetwork;
use rsipstack::sip::headers::ToTypedHeader;
use rsipstack::sip::{
    Header, HeadersExt, Host, HostWithPort, Method, Port, SipMessage, StatusCode,
};
use rsipstack::transaction::endpoint::MessageInspector;
use rsipstack::transport::SipAddr;

use super::{Listening, TransportError};
use crate::config::pjsip_conf::Transport;

/// One transport's external addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct External {
    /// Where the transport is bound (the port the system picked for `:0`).
    bound: SocketAddr,
    /// `external_signaling_address`, resolved.
    signaling: Option<IpAddr>,
    /// `external_signaling_port` (None: the port stays).
    signaling_port: Option<u16>,
    /// `external_media_address`, resolved.
    media: Option<IpAddr>,
    /// `local_net`.
    local_net: Vec<IpNetwork>,
}

impl External {
    /// True when `peer` is outside every `local_net` (always, without `local_net`).
    fn outside(&self, peer: IpAddr) -> bool {
        !self.local_net.iter().any(|net| net.contains(peer))
    }

    /// True when `ours` (an address wari wrote as its own) is this transport's.
    fn is_at(&self, ours: SocketAddr) -> bool {
        ours.port() == self.bound.port()
            && (ours.ip() == self.bound.ip() || self.bound.ip().is_unspecified())
    }
}

/// Every transport's external addresses, for those that have any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Externals(Vec<External>);

/// An address option's value: an IP address, else a host name looked up once at start.
fn resolve(
    transport: &Transport,
    option: &'static str,
    value: Option<&str>,
) -> Result<Option<IpAddr>, TransportError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(Some(ip));
    }
    let unresolved = |source| TransportError::External {
        name: transport.name.clone(),
        option,
        value: value.to_string(),
        source,
    };
    (bare, 0)
        .to_socket_addrs()
        .map_err(unresolved)?
        .next()
        .map(|address| Some(address.ip()))
        .ok_or_else(|| unresolved(std::io::Error::other("no address")))
}

impl Externals {
    /// The external addresses of `transports`, bound at `listening` (the same order).
    pub(crate) fn resolve(
        transports: &[Transport],
        listening: &[Listening],
    ) -> Result<Externals, TransportError> {
        let mut externals = Vec::new();
        for (transport, listening) in transports.iter().zip(listening) {
            let signaling = resolve(
                transport,
                "external_signaling_address",
                transport.external_signaling_address.as_deref(),
            )?;
            let media = resolve(
                transport,
                "external_media_address",
                transport.external_media_address.as_deref(),
            )?;
            if signaling.is_none() && media.is_none() {
                continue;
            }
            externals.push(External {
                bound: listening.address,
                signaling,
                signaling_port: transport.external_signaling_port,
                media,
                local_net: transport.local_net.clone(),
            });
        }
        Ok(Externals(externals))
    }

    /// True when no transport has an external address (nothing is ever rewritten).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn at(&self, ours: SocketAddr) -> Option<&External> {
        self.0.iter().find(|e| e.is_at(ours))
    }

    /// The address the SDP of a call over the transport at `local` gives to `peer` (None: a
    /// peer known by name only, taken as outside), if not the bound one.
    pub(crate) fn media_address(&self, local: SocketAddr, peer: Option<IpAddr>) -> Option<IpAddr> {
        let external = self.at(local)?;
        let media = external.media?;
        peer.is_none_or(|peer| external.outside(peer))
            .then_some(media)
    }

    /// `message` as it must leave for `destination` (None: a response, which goes where
    /// its top Via says).
    pub(crate) fn rewrite(&self, message: SipMessage, destination: Option<&SipAddr>) -> SipMessage {
        if self.is_empty() {
            return message;
        }
        match message {
            SipMessage::Request(mut request) => {
                let peer = destination.and_then(sip_ip);
                let ours = top_via(&request.headers).and_then(|via| socket_of(via.sent_by()));
                if let Some((external, signaling)) = self.applies(ours, peer) {
                    rewrite_top_via(&mut request.headers, signaling, external.signaling_port);
                    rewrite_contacts(&mut request.headers, signaling, external.signaling_port);
                }
                SipMessage::Request(request)
            }
            SipMessage::Response(mut response) => {
                let method = response.cseq_header().ok().and_then(|c| c.method().ok());
                let theirs = method == Some(Method::Register)
                    || (method == Some(Method::Invite)
                        && response.status_code == StatusCode::MovedTemporarily);
                if theirs {
                    return SipMessage::Response(response);
                }
                let peer = destination.and_then(sip_ip).or_else(|| {
                    let via = top_via(&response.headers)?;
                    match via.received() {
                        Some(Ok(ip)) => Some(ip),
                        _ => host_ip(&via.sent_by().host),
                    }
                });
                let ours = our_contact(&response.headers);
                if let Some((external, signaling)) = self.applies(ours, peer) {
                    rewrite_contacts(&mut response.headers, signaling, external.signaling_port);
                }
                SipMessage::Response(response)
            }
        }
    }

    /// The transport at `ours` and its external signalling address when a message to `peer`
    /// takes it.
    fn applies(
        &self,
        ours: Option<SocketAddr>,
        peer: Option<IpAddr>,
    ) -> Option<(&External, IpAddr)> {
        let external = self.at(ours?)?;
        let signaling = external.signaling?;
        peer.is_none_or(|peer| external.outside(peer))
            .then_some((external, signaling))
    }
}

fn host_ip(host: &Host) -> Option<IpAddr> {
    match host {
        Host::IpAddr(ip) => Some(*ip),
        Host::Domain(_) => None,
    }
}

fn socket_of(host_with_port: &HostWithPort) -> Option<SocketAddr> {
    let ip = host_ip(&host_with_port.host)?;
    let port = host_with_port.port.as_ref().map_or(5060, Port::value);
    Some(SocketAddr::new(ip, port))
}

fn sip_ip(address: &SipAddr) -> Option<IpAddr> {
    host_ip(&address.addr.host)
}

fn top_via(headers: &rsipstack::sip::Headers) -> Option<rsipstack::sip::typed::Via> {
    headers.iter().find_map(|h| match h {
        Header::Via(via) => via.first_value().ok()?.typed().ok(),
        _ => None,
    })
}

/// The address of the (first) Contact of a message, when it is an IP address.
fn our_contact(headers: &rsipstack::sip::Headers) -> Option<SocketAddr> {
    headers.iter().find_map(|h| match h {
        Header::Contact(contact) => socket_of(&contact.typed().ok()?.uri.host_with_port),
        _ => None,
    })
}

/// `host_with_port` with the external host (and port, when one is configured).
fn external(host_with_port: &mut HostWithPort, signaling: IpAddr, port: Option<u16>) {
    host_with_port.host = Host::IpAddr(signaling);
    if let Some(port) = port {
        host_with_port.port = Some(Port(port));
    }
}

fn rewrite_top_via(headers: &mut rsipstack::sip::Headers, signaling: IpAddr, port: Option<u16>) {
    if let Some(Header::Via(via)) = headers.iter_mut().find(|h| matches!(h, Header::Via(_))) {
        let updated = via.update_first_value(|first| {
            let mut typed = first.typed()?;
            external(&mut typed.uri.host_with_port, signaling, port);
            Ok(typed.into())
        });
        if let Err(error) = updated {
            tracing::debug!(%error, "SIP Via not rewritten to the external address");
        }
    }
}

fn rewrite_contacts(headers: &mut rsipstack::sip::Headers, signaling: IpAddr, port: Option<u16>) {
    for header in headers.iter_mut() {
        if let Header::Contact(contact) = header
            && let Ok(mut typed) = contact.typed()
        {
            external(&mut typed.uri.host_with_port, signaling, port);
            *header = typed.into();
        }
    }
}

/// The rsipstack hook that rewrites each message wari sends.
pub(crate) struct Inspector(pub(crate) Arc<Externals>);

impl MessageInspector for Inspector {
    fn before_send(&self, message: SipMessage, destination: Option<&SipAddr>) -> SipMessage {
        self.0.rewrite(message, destination)
    }

    fn after_received(&self, message: SipMessage, _from: Option<&SipAddr>) -> SipMessage {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOUND: &str = "127.0.0.1:5060";

    fn externals(local_net: &[&str]) -> Externals {
        Externals(vec![External {
            bound: BOUND.parse().expect("addr"),
            signaling: Some("203.0.113.7".parse().expect("ip")),
            signaling_port: Some(5999),
            media: Some("203.0.113.8".parse().expect("ip")),
            local_net: local_net.iter().map(|n| n.parse().expect("net")).collect(),
        }])
    }

    fn destination(ip: &str) -> SipAddr {
        SipAddr {
            r#type: Some(rsipstack::sip::Transport::Udp),
            addr: SocketAddr::new(ip.parse().expect("ip"), 5070).into(),
        }
    }

    fn message(text: &str) -> SipMessage {
        SipMessage::try_from(text).expect("SIP message")
    }

    fn header_values(message: &SipMessage, name: &str) -> Vec<String> {
        message
            .to_string()
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.to_string())
            .collect()
    }

    fn invite() -> SipMessage {
        message(&format!(
            "INVITE sip:bob@192.0.2.5:5070 SIP/2.0\r\n\
             Via: SIP/2.0/UDP {BOUND};branch=z9hG4bKabc;rport\r\n\
             Via: SIP/2.0/UDP 10.9.9.9:5060;branch=z9hG4bKother\r\n\
             From: <sip:asterisk@{BOUND}>;tag=1\r\nTo: <sip:bob@192.0.2.5>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:asterisk@{BOUND};transport=tcp>\r\n\
             Content-Length: 0\r\n\r\n"
        ))
    }

    #[test]
    fn a_request_to_a_peer_outside_local_net_carries_the_external_address() {
        let sent = externals(&["127.0.0.0/8"]).rewrite(invite(), Some(&destination("192.0.2.5")));
        let vias = header_values(&sent, "via");
        assert!(
            vias[0].starts_with("SIP/2.0/UDP 203.0.113.7:5999;branch=z9hG4bKabc"),
            "{vias:?}"
        );
        assert!(
            vias[1].contains("10.9.9.9:5060"),
            "only the top Via: {vias:?}"
        );
        let contact = &header_values(&sent, "contact")[0];
        assert!(
            contact.contains("sip:asterisk@203.0.113.7:5999"),
            "{contact}"
        );
        assert!(
            contact.to_lowercase().contains("transport=tcp"),
            "{contact}"
        );
        // From is not ours to rewrite (Asterisk leaves it).
        assert!(header_values(&sent, "from")[0].contains(BOUND));
    }

    #[test]
    fn a_peer_inside_local_net_sees_the_bound_address() {
        let sent = externals(&["127.0.0.0/8", "10.0.0.0/8"])
            .rewrite(invite(), Some(&destination("10.1.2.3")));
        assert_eq!(sent.to_string(), invite().to_string());
    }

    #[test]
    fn without_local_net_every_peer_gets_the_external_address() {
        let sent = externals(&[]).rewrite(invite(), Some(&destination("127.0.0.1")));
        assert!(header_values(&sent, "contact")[0].contains("203.0.113.7:5999"));
    }

    #[test]
    fn another_transports_messages_are_left_alone() {
        let other = invite().to_string().replace(BOUND, "127.0.0.1:5080");
        let sent = externals(&[]).rewrite(message(&other), Some(&destination("192.0.2.5")));
        assert_eq!(sent.to_string(), other);
    }

    #[test]
    fn responses_rewrite_our_contact_but_not_a_registers_or_the_via() {
        let ok = |method: &str, status: &str| {
            message(&format!(
                "SIP/2.0 {status}\r\n\
                 Via: SIP/2.0/UDP 192.0.2.5:5070;branch=z9hG4bKp;received=192.0.2.5;rport=5070\r\n\
                 From: <sip:bob@192.0.2.5>;tag=2\r\nTo: <sip:100@{BOUND}>;tag=3\r\n\
                 Call-ID: c2\r\nCSeq: 1 {method}\r\nContact: <sip:100@{BOUND}>\r\n\
                 Content-Length: 0\r\n\r\n"
            ))
        };
        let externals = externals(&["127.0.0.0/8"]);
        let answered = externals.rewrite(ok("INVITE", "200 OK"), None);
        assert!(header_values(&answered, "contact")[0].contains("sip:100@203.0.113.7:5999"));
        assert!(header_values(&answered, "via")[0].contains("192.0.2.5:5070"));
        for (method, status) in [("REGISTER", "200 OK"), ("INVITE", "302 Moved Temporarily")] {
            let theirs = ok(method, status);
            assert_eq!(
                externals.rewrite(theirs.clone(), None).to_string(),
                theirs.to_string(),
                "{method} {status}"
            );
        }
        // A response to a peer inside local_net (by its Via's received) is left alone.
        let local = ok("INVITE", "200 OK")
            .to_string()
            .replace("received=192.0.2.5", "received=127.0.0.9");
        assert_eq!(externals.rewrite(message(&local), None).to_string(), local);
    }

    #[test]
    fn the_media_address_is_external_for_peers_outside_local_net() {
        let externals = externals(&["127.0.0.0/8"]);
        let local: SocketAddr = BOUND.parse().expect("addr");
        let outside = Some("192.0.2.5".parse().expect("ip"));
        let inside = Some("127.0.0.2".parse().expect("ip"));
        assert_eq!(
            externals.media_address(local, outside),
            "203.0.113.8".parse().ok()
        );
        assert_eq!(externals.media_address(local, inside), None);
        assert_eq!(
            externals.media_address(local, None),
            "203.0.113.8".parse().ok(),
            "a peer known by name only is taken as outside"
        );
        let elsewhere: SocketAddr = "127.0.0.1:5080".parse().expect("addr");
        assert_eq!(externals.media_address(elsewhere, outside), None);
    }
}
