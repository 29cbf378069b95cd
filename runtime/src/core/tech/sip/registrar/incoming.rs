//! A REGISTER transaction on the wire: who sent it, its digest authentication, and the
//! answer.
//!
//! - Source: where the request came from (the connection's far end on TCP/TLS; on UDP the
//!   top Via with the `received`/`rport` rsipstack writes when they differ).
//! - Endpoint, as Asterisk's default `identify_by=username,ip`: the endpoint named by the
//!   From URI's user, else the one a `type=identify` matches the source address to.
//! - Authentication ([`super::super::auth`]): an endpoint with an `auth` must answer a
//!   digest challenge (`401` with `WWW-Authenticate`; a stale nonce is challenged again
//!   with `stale=true`); a request matching no endpoint gets exactly the same challenges,
//!   forever, so a scanner learns nothing about which names exist; a wrong password gets
//!   a fresh challenge. An endpoint without `auth` is let through, as in Asterisk.

use std::net::{IpAddr, SocketAddr};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rsipstack::sip::prelude::{HeadersExt, ToTypedHeader};
use rsipstack::sip::{Header, Request, StatusCode, Transport};
use rsipstack::transaction::transaction::Transaction;
use rsipstack::transport::SipConnection;

use super::super::SipShared;
use super::super::auth::Verdict;

/// Answers a REGISTER (the dispatcher's route for it).
pub(crate) async fn handle(shared: &SipShared, mut tx: Transaction) {
    let Some((source, transport)) = source_of(&tx) else {
        reply(&mut tx, 400, Vec::new()).await;
        return;
    };
    let endpoint = identify(shared, &tx.original, source.ip());
    match authenticate(shared, &tx.original, endpoint.as_deref(), source.ip()) {
        Ok(()) => {}
        Err(challenge) => {
            tracing::debug!(%source, "REGISTER challenged");
            reply(&mut tx, 401, vec![challenge]).await;
            return;
        }
    }
    let Some(endpoint) = endpoint else {
        // Unreachable: a request of no endpoint never passes authentication.
        reply(&mut tx, 401, Vec::new()).await;
        return;
    };
    let answer =
        shared
            .registrar
            .register(&endpoint, &tx.original, source, transport, Instant::now());
    reply(&mut tx, answer.status, answer.headers).await;
}

async fn reply(tx: &mut Transaction, status: u16, headers: Vec<Header>) {
    if let Err(error) = tx.reply_with(StatusCode::from(status), headers, None).await {
        tracing::debug!(%error, "REGISTER answer not sent");
    }
}

/// Where the request came from, and over which transport (`udp`, `tcp`, `tls`).
fn source_of(tx: &Transaction) -> Option<(SocketAddr, &'static str)> {
    let via = tx.original.via_header().ok()?;
    let (transport, host_with_port) = SipConnection::parse_target_from_via(via).ok()?;
    let name = match transport {
        Transport::Tcp => "tcp",
        Transport::Tls => "tls",
        _ => "udp",
    };
    if let Some(remote) = tx
        .connection
        .as_ref()
        .and_then(|c| c.get_remote_addr())
        .and_then(|a| SocketAddr::try_from(a.addr.clone()).ok())
    {
        return Some((remote, name));
    }
    Some((SocketAddr::try_from(host_with_port).ok()?, name))
}

/// The endpoint a request is from: the From user's endpoint, else by source address.
fn identify(shared: &SipShared, request: &Request, source: IpAddr) -> Option<String> {
    let from_user = request
        .from_header()
        .ok()
        .and_then(|f| f.typed().ok())
        .and_then(|f| f.uri.user().map(str::to_string));
    if let Some(user) = from_user
        && shared.config.endpoint(&user).is_some()
    {
        return Some(user);
    }
    shared
        .registrar
        .identifier()
        .endpoint_for(source)
        .map(str::to_string)
}

/// `Ok` when the request may proceed; else the `WWW-Authenticate` header to challenge it.
fn authenticate(
    shared: &SipShared,
    request: &Request,
    endpoint: Option<&str>,
    source: IpAddr,
) -> Result<(), Header> {
    let endpoint = endpoint.and_then(|name| shared.config.endpoint(name));
    let auth = endpoint
        .and_then(|e| e.auth.as_deref())
        .and_then(|name| shared.config.auth(name));
    if endpoint.is_some() && auth.is_none() {
        return Ok(());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let challenger = shared.registrar.challenger();
    let stale = match request.authorization_header() {
        None => false,
        Some(authorization) => {
            let verdict = challenger.verify(
                authorization.value(),
                "REGISTER",
                &request.uri.to_string(),
                auth,
                source,
                now,
            );
            match verdict {
                Verdict::Accepted => return Ok(()),
                Verdict::Stale => true,
                Verdict::Rejected | Verdict::Malformed => {
                    tracing::warn!(endpoint = ?endpoint.map(|e| e.name.as_str()), %source, ?verdict, "REGISTER failed to authenticate");
                    false
                }
            }
        }
    };
    Err(Header::WwwAuthenticate(
        challenger.challenge(auth, source, now, stale).into(),
    ))
}
