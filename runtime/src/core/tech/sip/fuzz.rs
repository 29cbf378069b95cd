//! The `sip_message` fuzz target's entry: the bytes of one datagram go through what wari
//! does with a SIP message it receives — rsipstack's parser and its marking of the top Via
//! with the source, the transaction and dialog keys, then wari's own readings of the headers
//! it uses (routing, From/To/Request-URI users, caller ID, source, identify, digest
//! `Authorization`, `Reason`, the registrar's Contact/Expires/CSeq/Call-ID). Nothing here may
//! panic or take time or memory out of proportion to the input.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::OnceLock;

use rsipstack::dialog::DialogId;
use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Request, Response, SipMessage, Transport};
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transport::SipConnection;

use super::auth::Challenger;
use super::call::parties;
use super::identify::Identifier;
use super::{causes, dispatch, registrar};
use crate::config::conf_file;
use crate::config::diagnostics::Problems;
use crate::config::pjsip_conf::{self, PjsipConfig};

/// The configuration the inputs meet: an endpoint with auth, one without, an identify.
const CONF: &str = "\
[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n\
[alice]\ntype=auth\nauth_type=userpass\nusername=alice\npassword=secret\n\
[alice]\ntype=aor\nmax_contacts=2\n\
[alice]\ntype=endpoint\ncontext=default\nauth=alice\naors=alice\n\
[trunk]\ntype=endpoint\ncontext=default\n\
[trunk]\ntype=identify\nendpoint=trunk\nmatch=192.0.2.0/24\n";

/// Where the datagrams come from (inside the identify's network).
const SOURCE: &str = "192.0.2.7:5060";

struct Fixture {
    config: PjsipConfig,
    identifier: Identifier,
    challenger: Challenger,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut problems = Problems::default();
        let file = conf_file::parse_str(Path::new("pjsip.conf"), CONF, &mut problems);
        let config = pjsip_conf::read(Some(&file), &mut problems);
        let identifier = Identifier::new(&config);
        Fixture {
            config,
            identifier,
            challenger: Challenger::with_secret([7; 32]),
        }
    })
}

/// Runs one received datagram through wari's reading of it (the `sip_message` fuzz target).
#[doc(hidden)]
pub fn fuzz_sip_message(input: &[u8]) {
    let Ok(message) = SipMessage::try_from(input) else {
        return;
    };
    let Ok(source) = SOURCE.parse::<SocketAddr>() else {
        return;
    };
    let Ok(message) = SipConnection::update_msg_received(message, source, Transport::Udp) else {
        return;
    };
    // What rsipstack sends on and logs (a message must print again).
    let _ = message.to_string();
    match &message {
        SipMessage::Request(request) => self::request(request, source),
        SipMessage::Response(response) => self::response(response),
    }
}

fn request(request: &Request, received_from: SocketAddr) {
    let fixture = fixture();
    let _ = TransactionKey::from_request(request, TransactionRole::Server);
    let _ = DialogId::try_from((request, TransactionRole::Server));
    let in_dialog = request
        .to_header()
        .ok()
        .and_then(|to| to.tag().ok().flatten())
        .is_some();
    let _ = dispatch::route(&request.method, in_dialog);

    let source = parties::source_of(request, None).unwrap_or(received_from);
    let from_user = parties::from_user(request);
    let _ = parties::caller_of(request);
    let _ = parties::user_of(&request.uri);
    let endpoint = parties::endpoint_of(
        &fixture.config,
        &fixture.identifier,
        Some(source.ip()),
        from_user.as_deref(),
    );

    let reasons = request.headers.iter().filter_map(|h| match h {
        Header::Reason(reason) => Some(reason.value()),
        _ => None,
    });
    let _ = causes::cause_from_reason_headers(reasons);

    let method = request.method.to_string();
    let uri = request.uri.to_string();
    if let Some(authorization) = request.authorization_header() {
        let ip: IpAddr = source.ip();
        for auth in [fixture.config.auth("alice"), None] {
            let _ =
                fixture
                    .challenger
                    .verify(authorization.value(), &method, &uri, auth, ip, 1_000);
        }
    }
    // The registrar reads the To user as the AOR, then Contact/Expires/CSeq/Call-ID.
    let _ = request.to_header().and_then(|to| to.typed());
    if let Some(endpoint) = endpoint {
        let _ = registrar::parse_register(request, endpoint, source, "udp", true);
    }
}

fn response(response: &Response) {
    let _ = TransactionKey::from_response(response, TransactionRole::Client);
    let _ = DialogId::try_from((response, TransactionRole::Client));
    let _ = causes::cause_from_sip_status(response.status_code.code());
    let reasons = response.headers.iter().filter_map(|h| match h {
        Header::Reason(reason) => Some(reason.value()),
        _ => None,
    });
    let _ = causes::cause_from_reason_headers(reasons);
    let _ = response.to_header().and_then(|to| to.typed());
    let _ = response.cseq_header().and_then(|c| c.typed());
    let _ = response.typed_contact_headers();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz target's seeds (messages as baresip, SIPp and pjsua2 send them).
    const SEEDS: &[&[u8]] = &[
        include_bytes!("../../../../../fuzz/seeds/sip_message/baresip_invite.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/baresip_invite_auth.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/baresip_register.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/sipp_uac_invite.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/sipp_uac_bye.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/pjsua2_cancel.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/pjsua2_options.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/pjsua2_register_star.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/response_486.sip"),
        include_bytes!("../../../../../fuzz/seeds/sip_message/response_401.sip"),
    ];

    #[test]
    fn the_seeds_parse_and_are_read() {
        for seed in SEEDS {
            assert!(
                SipMessage::try_from(*seed).is_ok(),
                "{}",
                String::from_utf8_lossy(seed)
            );
            fuzz_sip_message(seed);
        }
    }

    #[test]
    fn every_prefix_and_every_byte_dropped_of_the_seeds_is_read_without_panic() {
        for seed in SEEDS {
            for end in 0..seed.len() {
                fuzz_sip_message(&seed[..end]);
            }
            for gone in (0..seed.len()).step_by(7) {
                let mut bytes = seed.to_vec();
                bytes.remove(gone);
                fuzz_sip_message(&bytes);
            }
        }
    }

    #[test]
    fn the_fixture_has_the_endpoints_the_inputs_meet() {
        let fixture = fixture();
        assert!(fixture.config.auth("alice").is_some());
        assert!(fixture.config.endpoint("trunk").is_some());
        assert_eq!(
            fixture
                .identifier
                .endpoint_for("192.0.2.7".parse().expect("ip")),
            Some("trunk")
        );
    }
}
