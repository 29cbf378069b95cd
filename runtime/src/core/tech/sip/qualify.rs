//! OPTIONS pings to contacts (`qualify_frequency`): contact reachability and round-trip time.
//!
//! As Asterisk 23.4.1 does it (res_pjsip/pjsip_options.c): every AOR with
//! `qualify_frequency > 0` sends an OPTIONS to each of its contacts (static and
//! registered) every `qualify_frequency` seconds, and at once when a contact registers.
//! Any final response makes the contact `Reachable` with the measured round trip
//! (`qualify_2xx_only` defaults to no); no response within `qualify_timeout` (3 s) makes
//! it `Unreachable`, as does a TCP or TLS connection that cannot be made (at once, as
//! pjsip's transport error). The registrar turns each result into ContactStatusChange and the
//! endpoints' state.
//!
//! One task per qualified AOR; each round pings the AOR's contacts concurrently. The
//! sending itself is a [`Pinger`]: [`rsipstack_pinger`] sends a real OPTIONS client
//! transaction; tests give their own.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use rsipstack::platform::CancellationToken;
use rsipstack::sip::{Method, Param, SipMessage, StatusCodeKind, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::key::{TransactionKey, TransactionRole};
use rsipstack::transaction::make_tag;
use rsipstack::transaction::transaction::Transaction;

use super::registrar::{ContactTarget, Registrar};
use super::transport::dial;

/// How long a qualify waits for an answer (Asterisk's `qualify_timeout` default).
pub(crate) const QUALIFY_TIMEOUT: Duration = Duration::from_secs(3);

/// A ping's result: the round trip, or `None` when no answer came in time.
pub(crate) type PingFuture = Pin<Box<dyn Future<Output = Option<Duration>> + Send>>;

/// Sends one OPTIONS to a contact and waits for its answer (at most [`QUALIFY_TIMEOUT`]).
pub(crate) type Pinger = Arc<dyn Fn(ContactTarget) -> PingFuture + Send + Sync>;

/// Starts one qualify task per AOR with `qualify_frequency > 0`; each ends when `stop` is
/// cancelled (the technology stops) or the registrar is gone.
pub(crate) fn start(registrar: &Arc<Registrar>, pinger: Pinger, stop: CancellationToken) {
    for aor in &registrar.config().aors {
        if aor.qualify_frequency == 0 {
            continue;
        }
        let Some(added) = registrar.contact_added_signal(&aor.name) else {
            continue;
        };
        let period = Duration::from_secs(u64::from(aor.qualify_frequency));
        let task = qualify_aor(
            Arc::downgrade(registrar),
            aor.name.clone(),
            period,
            added,
            pinger.clone(),
        );
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = task => {}
                _ = stop.cancelled() => {}
            }
        });
    }
}

/// Qualifies one AOR's contacts every `period`, and at once when one is added.
async fn qualify_aor(
    registrar: Weak<Registrar>,
    aor: String,
    period: Duration,
    added: Arc<tokio::sync::Notify>,
    pinger: Pinger,
) {
    loop {
        let Some(r) = registrar.upgrade() else {
            return;
        };
        let contacts = r.aor_contacts(&aor);
        drop(r);
        let pings = contacts.into_iter().map(|target| {
            let pinger = pinger.clone();
            async move {
                let uri = target.uri.clone();
                let rtt = tokio::time::timeout(QUALIFY_TIMEOUT, pinger(target))
                    .await
                    .ok()
                    .flatten();
                (uri, rtt)
            }
        });
        let results = futures_util::future::join_all(pings).await;
        let Some(r) = registrar.upgrade() else {
            return;
        };
        for (uri, rtt) in results {
            r.qualified(&aor, &uri, rtt);
        }
        drop(r);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = added.notified() => {}
        }
    }
}

/// A [`Pinger`] that sends a real OPTIONS over `endpoint` (to where the contact
/// registered from, else to its URI; a contact registered over TCP or TLS over its own
/// connection, as PJSIP qualifies connection-oriented contacts).
pub(crate) fn rsipstack_pinger(endpoint: EndpointInnerRef) -> Pinger {
    Arc::new(move |target: ContactTarget| {
        let endpoint = endpoint.clone();
        Box::pin(async move { options(&endpoint, &target).await })
    })
}

/// One OPTIONS client transaction; the time to its final response.
async fn options(endpoint: &EndpointInnerRef, target: &ContactTarget) -> Option<Duration> {
    let uri = Uri::try_from(target.uri.as_str()).ok()?;
    // A contact registered over TCP or TLS is asked over its own connection (found by
    // the address it registered from), and our Via names that connection's local end.
    // A static contact over TCP or TLS gets a connection opened first: refused, the
    // contact is unreachable at once (pjsip's transport error), not after Timer F.
    let destination = target.destination();
    let stream = destination
        .clone()
        .or_else(|| dial::request_target(&uri))
        .filter(dial::needs_connection);
    let connection = match &stream {
        Some(to) => match dial::connect(&endpoint.transport_layer, to, None).await {
            Ok(connection) => Some(connection),
            Err(error) => {
                tracing::debug!(contact = %target.uri.escape_debug(), %error, "OPTIONS not sent");
                return None;
            }
        },
        None => None,
    };
    let local = connection.as_ref().map(|c| c.get_addr().clone());
    let via = endpoint.get_via(local, None).ok()?;
    let from = rsipstack::sip::typed::From {
        display_name: None,
        uri: Uri {
            scheme: Some(rsipstack::sip::Scheme::Sip),
            auth: None,
            host_with_port: via.uri.host_with_port.clone(),
            params: Vec::new(),
            headers: Vec::new(),
        },
        params: vec![Param::Tag(make_tag())],
    };
    let to = rsipstack::sip::typed::To {
        display_name: None,
        uri: uri.clone(),
        params: Vec::new(),
    };
    let request = endpoint.make_request(Method::Options, uri, via, from, to, 1, None);
    let key = TransactionKey::from_request(&request, TransactionRole::Client).ok()?;
    let mut tx = Transaction::new_client(key, request, endpoint.clone(), connection);
    tx.destination = destination;
    let started = Instant::now();
    if let Err(e) = tx.send().await {
        tracing::debug!(contact = %target.uri.escape_debug(), "OPTIONS not sent: {e}");
        return None;
    }
    while let Some(message) = tx.receive().await {
        if let SipMessage::Response(response) = message
            && response.status_code.kind() != StatusCodeKind::Provisional
        {
            return Some(started.elapsed());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Mutex;

    use super::super::registrar::fixtures::{aor, config, contact_changes, endpoint, started};
    use super::*;
    use crate::core::test_support::TestCore;

    /// A pinger whose answers the test sets per contact URI (absent: no answer).
    fn scripted(answers: Arc<Mutex<HashMap<String, Duration>>>) -> Pinger {
        Arc::new(move |target: ContactTarget| {
            let answer = answers.lock().unwrap().get(&target.uri).copied();
            Box::pin(async move {
                match answer {
                    Some(rtt) => {
                        tokio::time::sleep(rtt).await;
                        Some(rtt)
                    }
                    None => std::future::pending().await,
                }
            })
        })
    }

    fn statuses(t: &TestCore) -> Vec<(String, String)> {
        contact_changes(t)
    }

    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_static_contact_is_reachable_while_it_answers_and_unreachable_after_a_timeout() {
        let t = TestCore::new(false);
        let cfg = config(
            vec![endpoint("trunk", &["trunk"], None)],
            vec![aor("trunk", 0, 30, &["sip:gw@127.0.0.1:5080"])],
            vec![],
        );
        let core = &t.core;
        let registrar = started(&t, cfg, "trunk");
        let state = || {
            core.with_state(|s| s.endpoints.get("PJSIP/trunk").map(|e| e.state))
                .unwrap()
                .as_str()
        };
        assert_eq!(state(), "offline", "qualified, not yet answered");
        let answers = Arc::new(Mutex::new(HashMap::from([(
            "sip:gw@127.0.0.1:5080".to_string(),
            Duration::from_millis(20),
        )])));
        let stop = CancellationToken::new();
        start(&registrar, scripted(answers.clone()), stop.clone());
        tokio::time::sleep(Duration::from_millis(30)).await;
        settle().await;
        assert_eq!(statuses(&t), vec![("Reachable".into(), "20000".into())]);
        assert_eq!(state(), "online");
        let peers = t.events.of_kind("PeerStatusChange");
        assert_eq!(peers[0]["peer"]["peer_status"], "Reachable");

        // It stops answering: after the next period plus the timeout, unreachable.
        answers.lock().unwrap().clear();
        tokio::time::sleep(Duration::from_secs(30) + QUALIFY_TIMEOUT).await;
        settle().await;
        assert_eq!(
            statuses(&t).last().cloned(),
            Some(("Unreachable".into(), "0".into()))
        );
        assert_eq!(state(), "offline");
        assert_eq!(
            t.events.of_kind("PeerStatusChange")[1]["peer"]["peer_status"],
            "Unreachable"
        );

        // Once stopped, no more qualifies: it stays as it was.
        stop.cancel();
        answers.lock().unwrap().insert(
            "sip:gw@127.0.0.1:5080".to_string(),
            Duration::from_millis(20),
        );
        tokio::time::sleep(Duration::from_secs(60)).await;
        settle().await;
        assert_eq!(state(), "offline");
        drop(registrar);
    }
}
