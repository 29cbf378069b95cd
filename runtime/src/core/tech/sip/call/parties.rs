//! Who a SIP call is between, read from its INVITE (sans-IO): the endpoint it comes from
//! (its source address by `type=identify` first, else the From user name as an endpoint
//! name, Asterisk's default `endpoint_identifier_order` of `ip,username`), the caller ID
//! its From carries, the extension its Request-URI asks for, and the channel name.

use std::net::{IpAddr, SocketAddr};

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Request, ToTypedHeader, Uri};
use rsipstack::transport::SipConnection;

use crate::config::pjsip_conf::{Endpoint, PjsipConfig};
use crate::core::channels::channel::CallerId;
use crate::core::tech::sip::identify::Identifier;

/// Longest user part wari takes from a URI (longer is cut, as an extension or number).
const MAX_USER_LEN: usize = 80;

/// A channel's name: `PJSIP/<endpoint>-<8 hex digits>`, as Asterisk numbers its channels.
pub(crate) fn channel_name(endpoint: &str, index: u32) -> String {
    format!("PJSIP/{endpoint}-{index:08x}")
}

/// Which endpoint a request comes from: its source address by identify, else the From
/// user when an endpoint has that name.
pub(crate) fn endpoint_of<'c>(
    config: &'c PjsipConfig,
    identifier: &Identifier,
    source: Option<IpAddr>,
    from_user: Option<&str>,
) -> Option<&'c str> {
    if let Some(name) = source.and_then(|ip| identifier.endpoint_for(ip))
        && let Some(endpoint) = config.endpoint(name)
    {
        return Some(endpoint.name.as_str());
    }
    from_user
        .and_then(|user| config.endpoint(user))
        .map(|e| e.name.as_str())
}

/// Who sent a request: where from, its From user, and the endpoint they identify.
#[derive(Debug)]
pub(crate) struct Sender<'c> {
    /// [`source_of`] the request.
    pub(crate) source: Option<SocketAddr>,
    /// [`from_user`] of the request.
    pub(crate) from_user: Option<String>,
    /// [`endpoint_of`] the source and From user.
    pub(crate) endpoint: Option<&'c Endpoint>,
}

/// The [`Sender`] of `request`, received over `connection` (`None`: a datagram).
pub(crate) fn sender<'c>(
    config: &'c PjsipConfig,
    identifier: &Identifier,
    request: &Request,
    connection: Option<&SipConnection>,
) -> Sender<'c> {
    let source = source_of(request, connection);
    let from_user = from_user(request);
    let endpoint = endpoint_of(
        config,
        identifier,
        source.map(|s| s.ip()),
        from_user.as_deref(),
    )
    .and_then(|name| config.endpoint(name));
    Sender {
        source,
        from_user,
        endpoint,
    }
}

/// The user part of a URI (`sip:100@host` -> `100`), bounded.
pub(crate) fn user_of(uri: &Uri) -> Option<String> {
    uri.auth
        .as_ref()
        .map(|auth| bounded(&auth.user))
        .filter(|u| !u.is_empty())
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_USER_LEN).collect()
}

/// The caller ID a request's From carries: its display name and user.
pub(crate) fn caller_of(request: &Request) -> CallerId {
    let Some(from) = request.from_header().ok().and_then(|f| f.typed().ok()) else {
        return CallerId::default();
    };
    CallerId {
        name: from
            .display_name
            .as_deref()
            .map(|n| bounded(n.trim().trim_matches('"')))
            .unwrap_or_default(),
        number: user_of(&from.uri).unwrap_or_default(),
    }
}

/// The From user of a request.
pub(crate) fn from_user(request: &Request) -> Option<String> {
    request
        .from_header()
        .ok()
        .and_then(|f| f.typed().ok())
        .and_then(|f| user_of(&f.uri))
}

/// Where a request came from: the stream's far end, else its top Via as the transport
/// layer marked it (`received`/`rport` are the datagram's source).
pub(crate) fn source_of(
    request: &Request,
    connection: Option<&SipConnection>,
) -> Option<SocketAddr> {
    if let Some(remote) = connection.and_then(|c| c.get_remote_addr()) {
        return remote.get_socketaddr().ok();
    }
    let via = request.via_header().ok()?;
    let (_, host) = SipConnection::parse_target_from_via(via).ok()?;
    host.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(text: &str) -> Request {
        let message = rsipstack::sip::SipMessage::try_from(text).expect("parses");
        match message {
            rsipstack::sip::SipMessage::Request(request) => request,
            _ => panic!("not a request"),
        }
    }

    const INVITE: &str = "INVITE sip:100@127.0.0.1:5060 SIP/2.0\r\n\
        Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1;received=10.1.2.3;rport=5999\r\n\
        From: \"Alice Smith\" <sip:alice@example.com>;tag=a\r\n\
        To: <sip:100@example.com>\r\n\
        Call-ID: 1@x\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn channel_names_number_in_eight_hex_digits() {
        assert_eq!(channel_name("alice", 0), "PJSIP/alice-00000000");
        assert_eq!(channel_name("trunk", 0x2a), "PJSIP/trunk-0000002a");
    }

    #[test]
    fn the_caller_id_and_extension_come_from_from_and_the_request_uri() {
        let invite = request(INVITE);
        let caller = caller_of(&invite);
        assert_eq!(caller.name, "Alice Smith");
        assert_eq!(caller.number, "alice");
        assert_eq!(user_of(&invite.uri).as_deref(), Some("100"));
        assert_eq!(from_user(&invite).as_deref(), Some("alice"));
    }

    fn config(text: &str) -> PjsipConfig {
        let mut problems = crate::config::Problems::default();
        let file = crate::config::conf_file::parse_str(
            std::path::Path::new("pjsip.conf"),
            text,
            &mut problems,
        );
        crate::config::pjsip_conf::read(Some(&file), &mut problems)
    }

    #[test]
    fn the_source_address_wins_over_the_from_user() {
        let config = config(
            "[alice]\ntype=endpoint\nallow=ulaw\n\n[bob]\ntype=endpoint\nallow=ulaw\n\n\
             [bob-ip]\ntype=identify\nendpoint=bob\nmatch=10.0.0.0/8\n",
        );
        let identifier = Identifier::new(&config);
        let from_lan = Some("10.1.2.3".parse().expect("ip"));
        let elsewhere = Some("192.0.2.1".parse().expect("ip"));
        assert_eq!(
            endpoint_of(&config, &identifier, from_lan, Some("alice")),
            Some("bob")
        );
        assert_eq!(
            endpoint_of(&config, &identifier, elsewhere, Some("alice")),
            Some("alice")
        );
        assert_eq!(
            endpoint_of(&config, &identifier, elsewhere, Some("mallory")),
            None
        );
        assert_eq!(endpoint_of(&config, &identifier, None, None), None);
    }

    #[test]
    fn the_source_is_what_the_via_was_marked_with() {
        let invite = request(INVITE);
        assert_eq!(
            source_of(&invite, None),
            Some("10.1.2.3:5999".parse().expect("addr"))
        );
    }
}
