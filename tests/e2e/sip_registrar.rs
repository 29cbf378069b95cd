//! wari's SIP registrar as a phone sees it: literal REGISTER requests over UDP on
//! loopback (the raw peer of `sip_raw`, digest answers computed there), and what an ARI
//! application sees: the endpoint's state in `GET /endpoints/PJSIP/alice` and the
//! `ContactStatusChange`, `EndpointStateChange`, `PeerStatusChange` events.

use std::net::SocketAddr;
use std::time::Duration;

use crate::sip_raw::{
    Message, Peer, Register, TcpPeer, UDP_TRANSPORT, digest_answer, digest_params, md5_hex,
    register, response, udp_transport,
};
use crate::support::{EventSocket, Wari};

const PJSIP_CONF: &str = concat!(
    udp_transport!(),
    "
[alice]
type = endpoint
context = default
aors = alice
auth = alice-auth

[alice-auth]
type = auth
auth_type = userpass
username = alice
password = wonderland

[alice]
type = aor
max_contacts = 1
"
);

/// A phone's UDP socket talking to wari's SIP transport.
struct Phone {
    peer: Peer,
    local: SocketAddr,
    cseq: u32,
}

impl Phone {
    async fn new(wari: SocketAddr) -> Phone {
        let peer = Peer::to(wari).await;
        Phone {
            local: peer.local(),
            peer,
            cseq: 0,
        }
    }

    fn request_uri(&self) -> String {
        format!("sip:{}", self.peer.wari())
    }

    /// Sends a REGISTER for `user` (From and To) with `expires` and optional
    /// `Authorization`, and reads the final response.
    async fn register(
        &mut self,
        user: &str,
        expires: u32,
        authorization: Option<String>,
    ) -> Message {
        self.cseq += 1;
        let message = register(&Register {
            uri: &self.request_uri(),
            user,
            local: self.local,
            transport: "UDP",
            call_id: &format!("registrar-test-{user}-{}", self.local.port()),
            cseq: self.cseq,
            expires,
            authorization: authorization.as_deref(),
        });
        self.peer.send(message).await;
        // Skip provisional answers; a final one must come within the timeout.
        self.peer.final_response("REGISTER").await
    }

    /// The `Authorization` value answering `challenge` for `user`/`password`.
    fn answer(&self, challenge: &str, user: &str, password: &str) -> String {
        digest_answer(challenge, user, password, "REGISTER", &self.request_uri())
    }
}

/// The events of a contact change that flips its endpoint: ContactStatusChange, then
/// EndpointStateChange, then PeerStatusChange (and nothing else in between).
async fn contact_change(events: &mut EventSocket) -> Vec<serde_json::Value> {
    let seen = events.until(|e| e["type"] == "PeerStatusChange").await;
    let kinds: Vec<&str> = seen.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "ContactStatusChange",
            "EndpointStateChange",
            "PeerStatusChange"
        ]
    );
    seen
}

/// Waits (bounded) until wari's log has `line`.
async fn logged(wari: &Wari, line: &str) {
    crate::support::eventually(line, Duration::from_secs(5), || {
        let log = wari.log();
        async move { if log.contains(line) { Ok(()) } else { Err(log) } }
    })
    .await;
}

async fn endpoint_state(wari: &Wari) -> String {
    let reply = wari.get("/ari/endpoints/PJSIP/alice").await;
    let (status, body) = reply.parts();
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_phone_registers_with_digest_auth_and_its_endpoint_goes_online_then_offline() {
    let wari = Wari::with(&[("pjsip.conf", PJSIP_CONF)]);
    let sip = wari.sip_udp.expect("a SIP UDP transport in the banner");
    let mut events = EventSocket::connect(&wari, "app=watcher&api_key=asterisk:secret").await;
    let (status, _) = wari
        .post("/ari/applications/watcher/subscription?eventSource=endpoint:PJSIP/alice")
        .await
        .parts();
    assert_eq!(status, 200);
    assert_eq!(
        endpoint_state(&wari).await,
        "offline",
        "nothing registered yet"
    );

    let mut phone = Phone::new(sip).await;
    let challenged = phone.register("alice", 120, None).await;
    assert_eq!(challenged.status(), 401);
    let challenge = challenged
        .header("WWW-Authenticate")
        .expect("a digest challenge")
        .to_string();
    assert_eq!(digest_params(&challenge)["realm"], "asterisk");

    // A wrong password is challenged again, as Asterisk does; nothing is registered.
    let wrong = phone.answer(&challenge, "alice", "not-the-password");
    let refused = phone.register("alice", 120, Some(wrong)).await;
    assert_eq!(refused.status(), 401);
    assert!(refused.header("WWW-Authenticate").is_some());
    assert_eq!(endpoint_state(&wari).await, "offline");

    // A name that does not exist gets the very same kind of challenge.
    let mut scanner = Phone::new(sip).await;
    let unknown = scanner.register("mallory", 120, None).await;
    assert_eq!(unknown.status(), 401);
    let unknown_challenge = unknown.header("WWW-Authenticate").expect("a challenge");
    assert_eq!(digest_params(unknown_challenge)["realm"], "asterisk");

    // The right password registers the contact.
    let right = phone.answer(&challenge, "alice", "wonderland");
    let ok = phone.register("alice", 120, Some(right.clone())).await;
    assert_eq!(ok.status(), 200, "{ok:?}");
    let contact = ok.header("Contact").expect("the binding in the 200");
    assert!(
        contact.starts_with(&format!("<sip:alice@{}>", phone.local)),
        "{contact}"
    );
    assert!(contact.ends_with(";expires=120"), "{contact}");

    let seen = contact_change(&mut events).await;
    assert_eq!(seen[0]["contact_info"]["contact_status"], "NonQualified");
    assert_eq!(seen[0]["contact_info"]["aor"], "alice");
    assert_eq!(
        seen[0]["contact_info"]["uri"],
        format!("sip:alice@{}", phone.local)
    );
    assert_eq!(seen[0]["contact_info"]["roundtrip_usec"], "0");
    assert_eq!(seen[1]["endpoint"]["state"], "online");
    assert_eq!(seen[1]["endpoint"]["technology"], "PJSIP");
    assert_eq!(seen[2]["peer"]["peer_status"], "Reachable");
    assert_eq!(endpoint_state(&wari).await, "online");

    // Expires: 0 takes it away again.
    let gone = phone.register("alice", 0, Some(right)).await;
    assert_eq!(gone.status(), 200, "{gone:?}");
    assert!(
        gone.header("Contact").is_none(),
        "no binding left: {gone:?}"
    );
    let seen = contact_change(&mut events).await;
    assert_eq!(seen[0]["contact_info"]["contact_status"], "Removed");
    assert_eq!(seen[1]["endpoint"]["state"], "offline");
    assert_eq!(seen[2]["peer"]["peer_status"], "Unreachable");
    assert_eq!(endpoint_state(&wari).await, "offline");
}

/// A provider's registrar in the test: reads requests and answers them.
struct Provider {
    peer: Peer,
}

impl Provider {
    async fn new() -> Provider {
        Provider {
            peer: Peer::listening().await,
        }
    }

    fn addr(&self) -> SocketAddr {
        self.peer.local()
    }

    async fn next(&self) -> Message {
        self.peer.receive_within(Duration::from_secs(10)).await
    }

    /// The next request that is not a retransmission of `previous` (same Call-ID and
    /// CSeq): on a loaded machine wari may resend a request before its answer arrives.
    async fn next_after(&self, previous: &Message) -> Message {
        let key = |m: &Message| {
            (
                m.header("Call-ID").map(str::to_owned),
                m.header("CSeq").map(str::to_owned),
            )
        };
        for _ in 0..16 {
            let message = self.next().await;
            if key(&message) != key(previous) {
                return message;
            }
        }
        panic!("only retransmissions of {previous}");
    }

    /// Answers `request` with `status` and `extra` header lines.
    async fn answer(&self, request: &Message, status: &str, extra: &[String]) {
        let text = response(request, status, Some("provider"), extra, "");
        self.peer.reply(request, &text).await;
    }
}

/// The digest `response` a client must send for these credentials (qop=auth).
fn expected_response(authorization: &str, password: &str) -> (String, String) {
    let p = digest_params(authorization);
    let ha1 = md5_hex(&format!("{}:{}:{password}", p["username"], p["realm"]));
    let ha2 = md5_hex(&format!("REGISTER:{}", p["uri"]));
    let expected = md5_hex(&format!(
        "{ha1}:{}:{}:{}:auth:{ha2}",
        p["nonce"], p["nc"], p["cnonce"]
    ));
    (expected, p["response"].clone())
}

#[tokio::test]
async fn wari_registers_to_a_provider_with_outbound_auth_and_unregisters_on_stop() {
    let provider = Provider::new().await;
    let at = provider.addr();
    let conf = format!(
        "{UDP_TRANSPORT}\n\
         [provider-auth]\ntype = auth\nauth_type = userpass\nusername = wari-user\npassword = s3cret\n\n\
         [provider]\ntype = registration\nserver_uri = sip:{at}\nclient_uri = sip:wari-user@{at}\n\
         outbound_auth = provider-auth\nexpiration = 120\n"
    );
    let mut wari = Wari::with(&[("pjsip.conf", conf.as_str())]);

    // The first REGISTER comes without credentials and is challenged.
    let first = provider.next().await;
    assert_eq!(first.request_line(), format!("REGISTER sip:{at} SIP/2.0"));
    assert!(first.header("Authorization").is_none());
    assert_eq!(first.header("Expires"), Some("120"));
    assert!(
        first
            .header("To")
            .unwrap_or_default()
            .contains("sip:wari-user@"),
        "{}",
        first.text
    );
    provider
        .answer(
            &first,
            "401 Unauthorized",
            &["WWW-Authenticate: Digest realm=\"provider\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\"".to_string()],
        )
        .await;

    // The answer carries outbound_auth's digest; the provider accepts it.
    let second = provider.next_after(&first).await;
    let authorization = second
        .header("Authorization")
        .expect("credentials")
        .to_string();
    assert_eq!(digest_params(&authorization)["username"], "wari-user");
    let (expected, sent) = expected_response(&authorization, "s3cret");
    assert_eq!(sent, expected, "digest of outbound_auth's password");
    let contact = second.header("Contact").expect("a Contact").to_string();
    assert!(
        contact.contains("sip:s@"),
        "contact_user defaults to 's': {contact}"
    );
    provider
        .answer(
            &second,
            "200 OK",
            &[format!("Contact: {contact};expires=120")],
        )
        .await;
    logged(&wari, "outbound registration: Registered").await;

    // Stopping wari unregisters: Expires 0, answered, then wari exits cleanly.
    let stopping = tokio::task::spawn_blocking(move || {
        let clean = wari.stop_with("TERM");
        (clean, wari)
    });
    let last = provider.next_after(&second).await;
    assert!(
        last.request_line().starts_with("REGISTER "),
        "{}",
        last.text
    );
    let expires_zero = last.header("Expires") == Some("0")
        || last
            .header("Contact")
            .unwrap_or_default()
            .contains("expires=0");
    assert!(expires_zero, "an unregister: {}", last.text);
    provider.answer(&last, "200 OK", &[]).await;
    let (clean, _wari) = stopping.await.expect("stopped");
    assert!(clean, "wari exits cleanly");
}

#[tokio::test]
async fn a_binding_expires_on_time_and_max_contacts_refuses_a_second_phone() {
    let conf = concat!(
        udp_transport!(),
        "
[bob]
type = endpoint
context = default
aors = bob

[bob]
type = aor
max_contacts = 1
minimum_expiration = 1
"
    );
    let wari = Wari::with(&[("pjsip.conf", conf)]);
    let sip = wari.sip_udp.expect("a SIP UDP transport in the banner");
    let mut events = EventSocket::connect(&wari, "app=watcher&api_key=asterisk:secret").await;
    let (status, _) = wari
        .post("/ari/applications/watcher/subscription?eventSource=endpoint:PJSIP/bob")
        .await
        .parts();
    assert_eq!(status, 200);

    let mut desk = Phone::new(sip).await;
    let ok = desk.register("bob", 1, None).await;
    assert_eq!(ok.status(), 200, "no auth on bob: {ok:?}");
    assert!(
        ok.header("Contact")
            .unwrap_or_default()
            .ends_with(";expires=1")
    );

    // A second phone would exceed max_contacts = 1: 403, as Asterisk.
    let mut mobile = Phone::new(sip).await;
    assert_eq!(mobile.register("bob", 60, None).await.status(), 403);

    // One second later the binding expires by itself.
    let seen = events
        .until(|e| e["type"] == "EndpointStateChange" && e["endpoint"]["state"] == "offline")
        .await;
    let removed: Vec<_> = seen
        .iter()
        .filter(|e| e["type"] == "ContactStatusChange")
        .map(|e| {
            e["contact_info"]["contact_status"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(removed, ["NonQualified", "Removed"]);
    let (_, body) = wari.get("/ari/endpoints/PJSIP/bob").await.parts();
    assert_eq!(body["state"], "offline");

    // Now there is room for the other phone.
    assert_eq!(mobile.register("bob", 60, None).await.status(), 200);
}

#[tokio::test]
async fn a_qualified_static_contact_is_reachable_while_it_answers_options() {
    let gateway = Provider::new().await;
    let at = gateway.addr();
    let conf = format!(
        "{UDP_TRANSPORT}\n\
         [trunk]\ntype = endpoint\ncontext = default\naors = trunk\n\n\
         [trunk]\ntype = aor\ncontact = sip:gw@{at}\nqualify_frequency = 1\n"
    );
    let wari = Wari::with(&[("pjsip.conf", conf.as_str())]);
    let mut events = EventSocket::connect(&wari, "app=watcher&api_key=asterisk:secret").await;
    let (status, _) = wari
        .post("/ari/applications/watcher/subscription?eventSource=endpoint:PJSIP/trunk")
        .await
        .parts();
    assert_eq!(status, 200);
    let (_, body) = wari.get("/ari/endpoints/PJSIP/trunk").await.parts();
    assert_eq!(body["state"], "offline", "not qualified yet");

    // The gateway answers the OPTIONS: reachable, with the round trip measured.
    let options = gateway.next().await;
    assert_eq!(
        options.request_line(),
        format!("OPTIONS sip:gw@{at} SIP/2.0")
    );
    gateway.answer(&options, "200 OK", &[]).await;
    let seen = contact_change(&mut events).await;
    let info = &seen[0]["contact_info"];
    assert_eq!(info["contact_status"], "Reachable");
    assert_eq!(info["uri"], format!("sip:gw@{at}"));
    let rtt: u64 = info["roundtrip_usec"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("roundtrip_usec, a decimal string");
    assert!(rtt > 0, "measured: {rtt}");
    assert_eq!(seen[1]["endpoint"]["state"], "online");
    assert_eq!(seen[2]["peer"]["peer_status"], "Reachable");

    // It falls silent: the next qualify times out and the trunk goes offline.
    let seen = events.until(|e| e["type"] == "PeerStatusChange").await;
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|e| e["type"] == "ContactStatusChange")
        .filter_map(|e| e["contact_info"]["contact_status"].as_str())
        .collect();
    assert_eq!(statuses, ["Unreachable"], "{seen:?}");
    assert_eq!(seen.last().unwrap()["peer"]["peer_status"], "Unreachable");
    let (_, body) = wari.get("/ari/endpoints/PJSIP/trunk").await.parts();
    assert_eq!(body["state"], "offline");
}

#[tokio::test]
async fn an_outbound_registration_retries_after_a_temporary_failure_and_gives_up_on_403() {
    let provider = Provider::new().await;
    let at = provider.addr();
    let conf = format!(
        "{UDP_TRANSPORT}\n\
         [provider]\ntype = registration\nserver_uri = sip:{at}\nclient_uri = sip:wari-user@{at}\n\
         retry_interval = 1\nexpiration = 120\n"
    );
    let wari = Wari::with(&[("pjsip.conf", conf.as_str())]);

    let first = provider.next().await;
    let started = std::time::Instant::now();
    provider
        .answer(&first, "503 Service Unavailable", &[])
        .await;
    // retry_interval = 1: the same registration is tried again about a second later.
    let second = provider.next().await;
    let waited = started.elapsed();
    assert!(
        second.request_line().starts_with("REGISTER "),
        "{}",
        second.text
    );
    assert!(
        waited >= Duration::from_millis(900),
        "retried after retry_interval, not at once: {waited:?}"
    );
    assert_eq!(second.header("Call-ID"), first.header("Call-ID"));
    provider.answer(&second, "403 Forbidden", &[]).await;
    crate::support::eventually("the registration gives up", Duration::from_secs(5), || {
        let log = wari.log();
        async move {
            if log.contains("outbound registration: Rejected, giving up") {
                Ok(())
            } else {
                Err(log)
            }
        }
    })
    .await;
}

/// Three endpoints a REGISTER may name besides a registrable one: `carol` has neither
/// an `auth` nor `aors`, `dave` has an `auth` but no `aors`.
const PJSIP_NO_AORS: &str = concat!(
    udp_transport!(),
    "
[carol]
type = endpoint
context = default

[dave-auth]
type = auth
auth_type = userpass
username = dave
password = s3cret

[dave]
type = endpoint
context = default
auth = dave-auth
"
);

#[tokio::test]
async fn a_register_for_a_name_no_endpoint_has_is_challenged_forever() {
    // As Asterisk's artificial endpoint: every answer to the challenge fails.
    let wari = Wari::with(&[("pjsip.conf", PJSIP_NO_AORS)]);
    let mut scanner = Phone::new(wari.sip_udp.expect("SIP UDP")).await;
    let first = scanner.register("mallory", 60, None).await;
    assert_eq!(first.status(), 401, "{first:?}");
    let challenge = first.header("WWW-Authenticate").expect("a challenge");
    assert_eq!(digest_params(challenge)["realm"], "asterisk");
    let guess = scanner.answer(challenge, "mallory", "s3cret");
    let again = scanner.register("mallory", 60, Some(guess)).await;
    assert_eq!(again.status(), 401, "{again:?}");
    assert!(again.header("WWW-Authenticate").is_some());
}

#[tokio::test]
async fn a_register_for_an_endpoint_without_auth_or_aors_is_forbidden_as_asterisk_does() {
    // Asterisk lets an endpoint without `auth` through unchallenged, then its registrar
    // answers 403 for an endpoint without `aors` (res_pjsip_registrar.c).
    let wari = Wari::with(&[("pjsip.conf", PJSIP_NO_AORS)]);
    let mut phone = Phone::new(wari.sip_udp.expect("SIP UDP")).await;
    let refused = phone.register("carol", 60, None).await;
    assert_eq!(refused.status(), 403, "{refused:?}");
    assert!(refused.header("WWW-Authenticate").is_none());
    assert!(refused.header("Contact").is_none());
    let log = wari.log();
    assert!(
        log.contains("REGISTER from an endpoint without AORs: 403"),
        "{log}"
    );
}

#[tokio::test]
async fn a_register_for_an_endpoint_with_auth_but_no_aors_is_challenged_then_forbidden() {
    // The challenge comes first (a scanner learns nothing without the password); once
    // authenticated, 403 as for any endpoint without `aors`.
    let wari = Wari::with(&[("pjsip.conf", PJSIP_NO_AORS)]);
    let mut phone = Phone::new(wari.sip_udp.expect("SIP UDP")).await;
    let challenged = phone.register("dave", 60, None).await;
    assert_eq!(challenged.status(), 401, "{challenged:?}");
    let challenge = challenged
        .header("WWW-Authenticate")
        .expect("a challenge")
        .to_string();
    let wrong = phone.answer(&challenge, "dave", "guess");
    assert_eq!(phone.register("dave", 60, Some(wrong)).await.status(), 401);
    let right = phone.answer(&challenge, "dave", "s3cret");
    let refused = phone.register("dave", 60, Some(right)).await;
    assert_eq!(refused.status(), 403, "{refused:?}");
    assert!(refused.header("Contact").is_none());
}

#[tokio::test]
async fn ari_answers_while_a_stop_waits_for_the_unregister_and_the_stop_stays_bounded() {
    let provider = Provider::new().await;
    let at = provider.addr();
    let conf = format!(
        "{UDP_TRANSPORT}\n\
         [provider]\ntype = registration\nserver_uri = sip:{at}\nclient_uri = sip:wari-user@{at}\n\
         expiration = 120\n"
    );
    let mut wari = Wari::with(&[("pjsip.conf", conf.as_str())]);
    let first = provider.next().await;
    provider
        .answer(&first, "200 OK", &["Expires: 120".to_string()])
        .await;
    logged(&wari, "outbound registration: Registered").await;

    // SIGTERM: the unregister comes, and the provider does not answer it.
    let channels = wari.url("/ari/channels");
    let stopping = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        let clean = wari.stop_with("TERM");
        (clean, started.elapsed(), wari)
    });
    let last = provider.next_after(&first).await;
    assert!(last.request_line().starts_with("REGISTER "), "{last}");
    assert_eq!(last.header("Expires"), Some("0"), "{last}");

    // Meanwhile the core is not held: ARI still answers at once.
    let reply = tokio::time::timeout(
        Duration::from_secs(1),
        crate::support::client()
            .get(&channels)
            .basic_auth("asterisk", Some("secret"))
            .send(),
    )
    .await
    .expect("ARI answers while the unregister is pending")
    .expect("GET /ari/channels");
    assert_eq!(reply.status(), 200);

    // Unanswered, the stop still ends: within the unregister wait (2 s) and a margin.
    let (clean, took, _wari) = stopping.await.expect("stopped");
    assert!(clean, "wari exits cleanly");
    assert!(took < Duration::from_secs(5), "the stop took {took:?}");
}

#[tokio::test]
async fn a_contact_registered_over_tcp_is_qualified_over_its_own_connection() {
    // As PJSIP does for connection-oriented transports: the OPTIONS goes back over the
    // connection the phone registered on (a phone behind NAT accepts no other).
    let conf = concat!(
        udp_transport!(),
        "
[tcp]
type = transport
protocol = tcp
bind = 127.0.0.1:0

[carol]
type = endpoint
context = default
aors = carol

[carol]
type = aor
max_contacts = 1
qualify_frequency = 1
"
    );
    let wari = Wari::with(&[("pjsip.conf", conf)]);
    let mut events = EventSocket::connect(&wari, "app=watcher&api_key=asterisk:secret").await;
    let (status, _) = wari
        .post("/ari/applications/watcher/subscription?eventSource=endpoint:PJSIP/carol")
        .await
        .parts();
    assert_eq!(status, 200);

    let mut phone = TcpPeer::of(&wari).await;
    let local = phone.local();
    let text = register(&Register {
        uri: &format!("sip:{};transport=tcp", phone.wari()),
        user: "carol",
        local,
        transport: "TCP",
        call_id: "tcp-registration@phone",
        cseq: 1,
        expires: 60,
        authorization: None,
    });
    phone.send(&text).await;
    let ok = phone.final_response("REGISTER").await;
    assert_eq!(ok.status(), 200, "{ok:?}");

    // The qualify comes over the same connection; the phone answers it there.
    let options = phone.request_of("OPTIONS").await;
    assert!(
        options
            .header("Via")
            .is_some_and(|v| v.starts_with("SIP/2.0/TCP ")),
        "{options}"
    );
    phone
        .send(&response(&options, "200 OK", Some("phone"), &[], ""))
        .await;
    let seen = events
        .until(|e| {
            e["type"] == "ContactStatusChange" && e["contact_info"]["contact_status"] == "Reachable"
        })
        .await;
    let info = &seen.last().expect("the Reachable change")["contact_info"];
    assert_eq!(info["aor"], "carol");
    let uri = info["uri"].as_str().expect("uri");
    assert!(
        uri.eq_ignore_ascii_case(&format!("sip:carol@{local};transport=tcp")),
        "{uri}"
    );
    let rtt: u64 = info["roundtrip_usec"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .expect("roundtrip_usec, a decimal string");
    assert!(rtt > 0, "measured: {rtt}");
    let (_, body) = wari.get("/ari/endpoints/PJSIP/carol").await.parts();
    assert_eq!(body["state"], "online");
}
