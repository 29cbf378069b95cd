//! A REGISTER transaction on the wire: who sent it, its digest authentication, and the
//! answer. The same rules as for a call (`call::parties`, `call::inbound::gate`):
//!
//! - Source: the connection's far end on TCP/TLS; on UDP the top Via with the
//!   `received`/`rport` rsipstack writes.
//! - Endpoint, as Asterisk's default `endpoint_identifier_order` (`ip,username`): the one
//!   a `type=identify` matches the source address to, else the endpoint named by the From
//!   URI's user.
//! - Authentication: an endpoint with an `auth` must answer a digest challenge (`401`;
//!   a stale nonce is challenged again with `stale=true`); a request matching no endpoint
//!   gets exactly the same challenges, forever, so a scanner learns nothing about which
//!   names exist; a wrong password gets a fresh challenge. An endpoint without `auth` is
//!   let through, as in Asterisk.
//! - Then the registrar ([`super::Registrar::register`]): an endpoint without `aors`
//!   gets `403` (Asterisk's res_pjsip_registrar does the same, challenged or not: for an
//!   endpoint without `auth` this tells a scanner the name exists, as in Asterisk).

use std::time::Instant;

use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, StatusCode, Transport};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipConnection;

use super::super::SipShared;
use super::super::call::inbound::{Gate, challenge, gate};
use super::super::call::parties;

/// Answers a REGISTER (the dispatcher's route for it).
pub(crate) async fn handle(shared: &SipShared, mut tx: Transaction) {
    let parties::Sender {
        source,
        from_user,
        endpoint,
    } = parties::sender(
        &shared.config,
        &shared.identifier,
        &tx.original,
        tx.connection.as_ref(),
    );
    let Some(source) = source else {
        reply(&mut tx, 400, Vec::new()).await;
        return;
    };
    match gate(
        shared,
        &tx.original,
        endpoint,
        source.ip(),
        SipShared::unix_now(),
    ) {
        Gate::Pass => {}
        Gate::Challenge { stale } => {
            if tx
                .original
                .headers
                .iter()
                .any(|h| matches!(h, Header::Authorization(_)))
                && !stale
            {
                tracing::warn!(%source, from = ?from_user, "REGISTER failed to authenticate");
            }
            challenge(shared, &mut tx, endpoint, source.ip(), stale).await;
            return;
        }
    }
    let Some(endpoint) = endpoint else {
        // Unreachable: a request of no endpoint never passes the gate.
        reply(&mut tx, 403, Vec::new()).await;
        return;
    };
    let answer = shared.registrar.register(
        &endpoint.name,
        &tx.original,
        source,
        transport_of(&tx),
        Instant::now(),
    );
    reply(&mut tx, answer.status, answer.headers).await;
}

async fn reply(tx: &mut Transaction, status: u16, headers: Vec<Header>) {
    if let Err(error) = tx.reply_with(StatusCode::from(status), headers, None).await {
        tracing::debug!(%error, "REGISTER answer not sent");
    }
}

/// The transport the request came over (`udp`, `tcp`, `tls`), from its top Via.
fn transport_of(tx: &Transaction) -> &'static str {
    let transport = tx
        .original
        .via_header()
        .ok()
        .and_then(|via| SipConnection::parse_target_from_via(via).ok())
        .map(|(transport, _)| transport);
    match transport {
        Some(Transport::Tcp) => "tcp",
        Some(Transport::Tls) => "tls",
        _ => "udp",
    }
}
