//! Outbound WebSockets: wari connects to a small WebSocket server inside the test, which
//! plays the remote ARI application (receives ApplicationRegistered and StasisStart,
//! controls channels with RESTRequests). Persistent connections (queueing and reconnecting
//! while the server is down), per-call connections, and TLS with a test CA.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

use crate::ari_ws::{AriSocket, body, request};
use crate::support::{ARI_CONF, EVENT_TIMEOUT, EventSocket, RefusingPort, Wari, eventually};

/// What the remote server saw in one handshake.
#[derive(Debug, Default, Clone)]
struct Handshake {
    path: String,
    authorization: Option<String>,
    protocol: Option<String>,
}

/// Accepts one WebSocket on `stream`, answering with the `ari` subprotocol when offered.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn accept_ws<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> (AriSocket<S>, Handshake) {
    let seen = Arc::new(Mutex::new(Handshake::default()));
    let record = seen.clone();
    let callback = move |request: &Request, mut response: Response| {
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let protocol = header("Sec-WebSocket-Protocol");
        if let Ok(mut seen) = record.lock() {
            *seen = Handshake {
                path: request.uri().to_string(),
                authorization: header("Authorization"),
                protocol: protocol.clone(),
            };
        }
        if protocol.is_some_and(|p| p.split(',').any(|p| p.trim() == "ari")) {
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "ari".parse().expect("header"));
        }
        Ok(response)
    };
    let ws = tokio::time::timeout(
        EVENT_TIMEOUT,
        tokio_tungstenite::accept_hdr_async(stream, callback),
    )
    .await
    .expect("handshake in time")
    .expect("WebSocket handshake");
    let handshake = seen.lock().expect("lock").clone();
    (AriSocket::new(ws), handshake)
}

/// Waits for wari's next connection on `listener`.
async fn accept_tcp(listener: &TcpListener) -> TcpStream {
    tokio::time::timeout(EVENT_TIMEOUT, listener.accept())
        .await
        .expect("wari connects within the timeout")
        .expect("accept")
        .0
}

async fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.expect("bind")
}

/// Waits (bounded) until wari's log contains `text`.
async fn log_shows(wari: &Wari, text: &str) {
    eventually(
        &format!("a log line with {text:?}"),
        EVENT_TIMEOUT,
        || async {
            let log = wari.log();
            if log.contains(text) { Ok(()) } else { Err(log) }
        },
    )
    .await
}

const DIALPLAN: &str = "\
[default]
exten => 100,1,Stasis(outbound-app)
 same => n,Hangup()

exten => 200,1,Stasis(voicebot,first arg)
 same => n,Set(AFTER=${STASISSTATUS})
 same => n,Wait(30)
";

fn client_conf(port: u16, connection_type: &str, extra: &str) -> String {
    format!(
        "[app-server]\ntype = websocket_client\nuri = ws://wari:pw@127.0.0.1:{port}/remote/ari?x=1\n\
         protocols = ari\nconnection_type = {connection_type}\nreconnect_interval = 200\n\
         reconnect_attempts = 50\nconnection_timeout = 1000\n{extra}"
    )
}

fn ari_conf(apps: &str) -> String {
    format!(
        "{ARI_CONF}\n[remote]\ntype = outbound_websocket\nwebsocket_client_id = app-server\n\
         apps = {apps}\nlocal_ari_user = asterisk\n"
    )
}

fn start(client_conf: &str, apps: &str) -> Wari {
    Wari::with(&[
        ("ari.conf", &ari_conf(apps)),
        ("websocket_client.conf", client_conf),
        ("extensions.conf", DIALPLAN),
    ])
}

#[tokio::test]
async fn a_persistent_connection_registers_its_apps_and_controls_calls_over_rest() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let wari = start(&client_conf(port, "persistent", ""), "outbound-app");
    let (mut remote, handshake) = accept_ws(accept_tcp(&server).await).await;
    assert_eq!(handshake.path, "/remote/ari?x=1");
    assert_eq!(handshake.protocol.as_deref(), Some("ari"));
    assert_eq!(
        handshake.authorization.as_deref(),
        Some("Basic d2FyaTpwdw=="),
        "userinfo of the uri as Basic credentials (wari:pw)"
    );
    let registered = remote.next().await;
    assert_eq!(registered["type"], "ApplicationRegistered", "{registered}");
    assert_eq!(registered["application"], "outbound-app");

    // The application is registered and active for HTTP clients too.
    let app = wari.get("/ari/applications/outbound-app").await;
    assert_eq!(app.status, 200);

    let created = wari
        .post("/ari/channels?endpoint=Test/alice&app=outbound-app&channelId=out-1")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let start = remote.next_of("StasisStart").await;
    assert_eq!(start["channel"]["id"], "out-1");
    assert_eq!(start["application"], "outbound-app");

    let answered = remote
        .rest(request("a", "POST", "channels/out-1/answer"))
        .await;
    assert_eq!(answered["status_code"], 204, "{answered}");
    let info = remote.rest(request("i", "GET", "channels/out-1")).await;
    assert_eq!(body(&info)["state"], "Up", "{info}");
    let mut events = Vec::new();
    let hung_up = remote
        .rest_collecting(request("h", "DELETE", "channels/out-1"), &mut events)
        .await;
    assert_eq!(hung_up["status_code"], 204, "{hung_up}");
    if !events.iter().any(|e| e["type"] == "StasisEnd") {
        remote.next_of("StasisEnd").await;
    }
    remote.close().await;
}

#[tokio::test]
async fn rest_over_an_outbound_socket_runs_as_the_local_user() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let ari = format!(
        "{ARI_CONF}\n[remote]\ntype = outbound_websocket\nwebsocket_client_id = app-server\n\
         apps = ro-app\nlocal_ari_user = viewer\n"
    );
    let wari = Wari::with(&[
        ("ari.conf", &ari),
        (
            "websocket_client.conf",
            &client_conf(port, "persistent", ""),
        ),
    ]);
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    remote.next_of("ApplicationRegistered").await;
    let read = remote
        .rest(request("r", "GET", "applications/ro-app"))
        .await;
    assert_eq!(read["status_code"], 200, "{read}");
    let mut write = request("w", "POST", "channels");
    write["query_strings"] =
        json!([{"name": "endpoint", "value": "Test/x"}, {"name": "app", "value": "ro-app"}]);
    let refused = remote.rest(write).await;
    assert_eq!(refused["status_code"], 403, "{refused}");
    assert_eq!(body(&refused)["message"], "Write access denied");
    drop(wari);
}

/// Accepts TCP connections and answers each handshake with 503, recording when each came.
async fn refuse(listener: &TcpListener, count: usize) -> Vec<Instant> {
    let mut seen = Vec::new();
    for _ in 0..count {
        let mut stream = accept_tcp(listener).await;
        seen.push(Instant::now());
        let mut buffer = [0u8; 2048];
        let _ = tokio::time::timeout(EVENT_TIMEOUT, stream.read(&mut buffer)).await;
        let _ = stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .await;
    }
    seen
}

#[tokio::test]
async fn a_persistent_connection_queues_while_the_server_is_down_and_reconnects_in_order() {
    let server = listener().await;
    let address = server.local_addr().expect("addr");
    let wari = start(
        &client_conf(address.port(), "persistent", ""),
        "outbound-app",
    );
    let (remote, _) = accept_ws(accept_tcp(&server).await).await;
    // The server goes away: its socket and its listener. The port stays this test's, so
    // the server can come back on it.
    drop(remote);
    drop(server);
    let gone = RefusingPort::at(address);
    log_shows(&wari, "outbound WebSocket disconnected").await;

    // Channels keep entering the application while nobody is connected.
    const CALLS: usize = 20;
    for n in 0..CALLS {
        let created = wari
            .post(&format!(
                "/ari/channels?endpoint=Test/p{n}&app=outbound-app&channelId=q-{n}"
            ))
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
    }

    // The server comes back on the same port; its first answers refuse the handshake,
    // which shows how far apart wari's attempts are.
    let server = gone.listen();
    let attempts = refuse(&server, 3).await;
    for pair in attempts.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(150) && gap < Duration::from_secs(3),
            "attempts {gap:?} apart, reconnect_interval is 200 ms"
        );
    }
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    let first = remote.next().await;
    assert_eq!(first["type"], "ApplicationRegistered", "{first}");
    let mut seen: Vec<(String, String)> = Vec::new();
    while seen
        .iter()
        .filter(|(kind, _)| kind == "StasisStart")
        .count()
        < CALLS
    {
        let event = remote.next().await;
        let kind = match event["dialstatus"].as_str() {
            Some(status) => format!("Dial {status}"),
            None => event["type"].as_str().unwrap_or("").to_string(),
        };
        let channel = event["channel"]["id"]
            .as_str()
            .or(event["peer"]["id"].as_str())
            .unwrap_or("")
            .to_string();
        seen.push((kind, channel));
    }
    // The first Dial of each call (status "") was published during its originate, so
    // in request order; every channel's StasisStart follows it.
    let dialed: Vec<&str> = seen
        .iter()
        .filter(|(kind, _)| kind == "Dial ")
        .map(|(_, id)| id.as_str())
        .collect();
    let expected: Vec<String> = (0..CALLS).map(|n| format!("q-{n}")).collect();
    assert_eq!(dialed, expected, "every queued first Dial, in order");
    for id in &expected {
        let position = |kind: &str| seen.iter().position(|(k, c)| k == kind && c == id);
        assert!(
            position("Dial ") < position("StasisStart"),
            "{id}: {seen:?}"
        );
    }
    // And the connection is live again for REST.
    let info = remote.rest(request("x", "GET", "channels/q-0")).await;
    assert_eq!(info["status_code"], 200, "{info}");
}

#[tokio::test]
async fn per_call_connections_serve_two_simultaneous_calls() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let wari = start(&client_conf(port, "per_call_config", ""), "voicebot");
    // No application exists until a call arrives.
    let apps = wari.get("/ari/applications").await.body;
    assert_eq!(apps, json!([]), "{apps}");

    for n in 0..2 {
        let created = wari
            .post(&format!(
                "/ari/channels?endpoint=Test/caller{n}&extension=200&context=default&channelId=pc-{n}"
            ))
            .await;
        assert_eq!(created.status, 200, "{}", created.body);
    }
    let mut remotes = Vec::new();
    for _ in 0..2 {
        let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
        let registered = remote.next().await;
        assert_eq!(registered["type"], "ApplicationRegistered", "{registered}");
        let app = registered["application"].as_str().unwrap_or("").to_string();
        assert!(app.starts_with("voicebot:Test/caller"), "{app}");
        let start = remote.next_of("StasisStart").await;
        assert_eq!(start["application"], app.as_str());
        assert_eq!(start["args"], json!(["first arg"]));
        assert!(
            start["channel"]["name"]
                .as_str()
                .is_some_and(|name| app.ends_with(name)),
            "{start}"
        );
        remotes.push((
            remote,
            start["channel"]["id"].as_str().unwrap_or("").to_string(),
        ));
    }
    let mut ids: Vec<&str> = remotes.iter().map(|(_, id)| id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["pc-0", "pc-1"], "one socket per call");

    for (remote, id) in &mut remotes {
        let answered = remote
            .rest(request("a", "POST", &format!("channels/{id}/answer")))
            .await;
        assert_eq!(answered["status_code"], 204, "{answered}");
        let mut events = Vec::new();
        let left = remote
            .rest_collecting(
                request("c", "POST", &format!("channels/{id}/continue")),
                &mut events,
            )
            .await;
        assert_eq!(left["status_code"], 204, "{left}");
        if !events.iter().any(|e| e["type"] == "StasisEnd") {
            remote.next_of("StasisEnd").await;
        }
    }
    // Each socket closes shortly after its StasisEnd; the dialplan saw SUCCESS.
    for (mut remote, id) in remotes {
        let mut trailing = Vec::new();
        assert!(
            remote.closed_by_peer(&mut trailing).await,
            "wari closes the per-call socket shortly after StasisEnd"
        );
        let after = wari
            .get(&format!("/ari/channels/{id}/variable?variable=AFTER"))
            .await;
        assert_eq!(after.body["value"], "SUCCESS", "{}", after.body);
    }
    let apps = wari.get("/ari/applications").await.body;
    assert_eq!(apps, json!([]), "ephemeral applications are gone: {apps}");
}

#[tokio::test]
async fn a_failed_per_call_connection_fails_stasis() {
    let nobody = RefusingPort::new();
    let port = nobody.address().port();
    let conf = "[app-server]\ntype = websocket_client\nuri = ws://127.0.0.1:PORT/\n\
                connection_type = per_call_config\nreconnect_interval = 50\nreconnect_attempts = 2\n"
        .replace("PORT", &port.to_string());
    let wari = start(&conf, "voicebot");
    let mut watch =
        EventSocket::connect(&wari, "app=watch&subscribeAll=true&api_key=asterisk:secret").await;
    let created = wari
        .post("/ari/channels?endpoint=Test/caller&extension=200&context=default&channelId=f-1")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    loop {
        let event = watch.next_of("ChannelVarset").await;
        if event["variable"] == "AFTER" {
            assert_eq!(event["value"], "FAILED", "{event}");
            break;
        }
    }
    assert!(
        wari.log()
            .contains("per-call outbound WebSocket connection attempt failed")
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert PEM, key PEM).
fn test_pki(ca_name: &str) -> (String, String, String) {
    test_pki_for(ca_name, &["127.0.0.1", "localhost"])
}

/// A CA and a server certificate for `names` signed by it.
fn test_pki_for(ca_name: &str, names: &[&str]) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let server_key = rcgen::KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let server_params = rcgen::CertificateParams::new(names).expect("params");
    let cert = server_params.signed_by(&server_key, &ca).expect("sign");
    (ca.pem(), cert.pem(), server_key.serialize_pem())
}

fn tls_acceptor(cert: &str, key: &str) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

fn tls_client_conf(port: u16, verify_hostname: bool) -> String {
    let verify_hostname = if verify_hostname { "yes" } else { "no" };
    format!(
        "[app-server]\ntype = websocket_client\nuri = wss://127.0.0.1:{port}/tls\nprotocols = ari\n\
         connection_type = persistent\nreconnect_interval = 200\ntls_enabled = yes\n\
         ca_list_file = ca.pem\nverify_server_cert = yes\nverify_server_hostname = {verify_hostname}\n"
    )
}

/// Starts wari (app `secure-app`) with a persistent `wss://` client trusting `ca` (as
/// `ca.pem`) to a local server, and returns it with the outcome of that server's TLS
/// handshake (through `acceptor`) on the connection wari opened.
async fn start_tls(
    acceptor: &tokio_rustls::TlsAcceptor,
    ca: &str,
    verify_hostname: bool,
) -> (
    Wari,
    std::io::Result<tokio_rustls::server::TlsStream<TcpStream>>,
) {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let wari = Wari::with(&[
        ("ari.conf", &ari_conf("secure-app")),
        (
            "websocket_client.conf",
            &tls_client_conf(port, verify_hostname),
        ),
        ("ca.pem", ca),
    ]);
    let tcp = accept_tcp(&server).await;
    let tls = tokio::time::timeout(EVENT_TIMEOUT, acceptor.accept(tcp))
        .await
        .expect("TLS attempt in time");
    (wari, tls)
}

#[tokio::test]
async fn tls_outbound_connections_verify_the_server_against_the_configured_ca() {
    let (ca, cert, key) = test_pki("wari test CA");
    let acceptor = tls_acceptor(&cert, &key);
    let (wari, tls) = start_tls(&acceptor, &ca, true).await;
    let tls = tls.expect("TLS handshake");
    let (mut remote, handshake) = accept_ws(tls).await;
    assert_eq!(handshake.path, "/tls");
    let registered = remote.next().await;
    assert_eq!(registered["type"], "ApplicationRegistered");
    assert_eq!(registered["application"], "secure-app");
    let info = remote.rest(request("i", "GET", "asterisk/ping")).await;
    assert_eq!(info["status_code"], 200, "{info}");
    drop(wari);
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused_with_a_clear_log_line() {
    let (_, cert, key) = test_pki("wari test CA");
    let (other_ca, _, _) = test_pki("some other CA");
    let acceptor = tls_acceptor(&cert, &key);
    let (wari, refused) = start_tls(&acceptor, &other_ca, true).await;
    assert!(refused.is_err(), "wari must not complete the TLS handshake");
    log_shows(&wari, "invalid peer certificate").await;
    let log = wari.log();
    let line = log
        .lines()
        .find(|l| l.contains("invalid peer certificate"))
        .unwrap_or_default();
    assert!(
        line.contains("WARN")
            && line.contains("TLS handshake with 127.0.0.1")
            && line.contains("UnknownIssuer"),
        "{line}"
    );
}

#[tokio::test]
async fn pings_reach_the_server_and_a_silent_server_is_dropped_and_reconnected() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let pings = "enable_pingpongs = yes\npingpong_interval = 1\npingpong_probes = 2\n";
    let wari = start(&client_conf(port, "persistent", pings), "outbound-app");
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    // Reading answers pings (tungstenite replies with a pong by itself).
    let ping = tokio::time::timeout(EVENT_TIMEOUT, async {
        loop {
            match remote.stream.next().await {
                Some(Ok(Message::Ping(payload))) => return payload,
                Some(Ok(_)) => {}
                other => panic!("socket ended: {other:?}"),
            }
        }
    })
    .await
    .expect("a ping within the timeout");
    assert!(!ping.is_empty());
    // Stop reading: pings go unanswered and wari gives up on the connection, then
    // reconnects.
    let second = accept_tcp(&server).await;
    log_shows(&wari, "does not answer pings").await;
    let (mut again, _) = accept_ws(second).await;
    assert_eq!(again.next().await["type"], "ApplicationRegistered");
    drop(remote);
}

#[tokio::test]
async fn a_ping_interval_too_long_for_the_clock_only_means_no_pings() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let pings = "enable_pingpongs = yes\npingpong_interval = 18446744073709551615\n";
    let wari = start(&client_conf(port, "persistent", pings), "outbound-app");
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    assert_eq!(remote.next().await["type"], "ApplicationRegistered");
    let log = wari.log();
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test]
async fn a_server_that_stops_reading_hits_the_write_timeout_and_is_reconnected() {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(2048).expect("small buffer");
    socket
        .bind("127.0.0.1:0".parse().expect("address"))
        .expect("bind");
    let server = socket.listen(16).expect("listen");
    let port = server.local_addr().expect("addr").port();
    let ari = "[general]\nenabled = yes\nwebsocket_write_timeout = 200\n\n[asterisk]\ntype = user\npassword = secret\n\n\
               [remote]\ntype = outbound_websocket\nwebsocket_client_id = app-server\napps = outbound-app\nlocal_ari_user = asterisk\n";
    let wari = Wari::with(&[
        ("ari.conf", ari),
        (
            "websocket_client.conf",
            &client_conf(port, "persistent", ""),
        ),
    ]);
    // Accept, then never read.
    let (stalled, _) = accept_ws(accept_tcp(&server).await).await;
    let big = "x".repeat(16 * 1024);
    let body = json!({ "variables": { "BIG": { "value": big, "report_events": true } } });
    for n in 0..200 {
        let reply = wari
            .ari_with_body(
                reqwest::Method::POST,
                &format!("/ari/channels?endpoint=Test/w{n}&app=outbound-app&channelId=w-{n}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.status, 200);
        if wari.log().contains("websocket_write_timeout") {
            break;
        }
    }
    log_shows(&wari, "write timed out (websocket_write_timeout)").await;
    // The connection is made again, and the application was never unregistered.
    let (mut again, _) = accept_ws(accept_tcp(&server).await).await;
    assert_eq!(again.next().await["type"], "ApplicationRegistered");
    assert_eq!(wari.get("/ari/applications/outbound-app").await.status, 200);
    drop(stalled);
}

#[tokio::test]
async fn a_server_answering_without_a_subprotocol_is_accepted_and_a_401_is_logged() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let wari = start(&client_conf(port, "persistent", ""), "outbound-app");
    // First attempt: the server refuses the credentials.
    let mut refused = accept_tcp(&server).await;
    let mut buffer = [0u8; 2048];
    let _ = tokio::time::timeout(EVENT_TIMEOUT, refused.read(&mut buffer)).await;
    refused
        .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
        .await
        .expect("answer");
    log_shows(&wari, "the server answered 401 Unauthorized instead of 101").await;
    // Next attempt: accepted without echoing the offered `ari` subprotocol.
    let stream = accept_tcp(&server).await;
    let ws = tokio::time::timeout(EVENT_TIMEOUT, tokio_tungstenite::accept_async(stream))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let mut remote = AriSocket::new(ws);
    assert_eq!(remote.next().await["type"], "ApplicationRegistered");
    drop(refused);
}

#[tokio::test]
async fn a_per_call_connection_lost_during_the_call_is_made_again() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let wari = start(&client_conf(port, "per_call_config", ""), "voicebot");
    let created = wari
        .post("/ari/channels?endpoint=Test/caller&extension=200&context=default&channelId=md-1")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    let registered = remote.next().await;
    let app = registered["application"].as_str().unwrap_or("").to_string();
    remote.next_of("StasisStart").await;
    // The server drops the socket in the middle of the call.
    drop(remote);
    let (mut again, _) = accept_ws(accept_tcp(&server).await).await;
    let registered = again.next().await;
    assert_eq!(registered["type"], "ApplicationRegistered", "{registered}");
    assert_eq!(
        registered["application"],
        app.as_str(),
        "same ephemeral app"
    );
    let mut events = Vec::new();
    let hung_up = again
        .rest_collecting(request("h", "DELETE", "channels/md-1"), &mut events)
        .await;
    assert_eq!(hung_up["status_code"], 204, "{hung_up}");
    if !events.iter().any(|e| e["type"] == "StasisEnd") {
        again.next_of("StasisEnd").await;
    }
}

#[tokio::test]
async fn verify_server_hostname_no_accepts_a_certificate_for_another_name() {
    let (ca, cert, key) = test_pki_for("wari test CA", &["apps.example.test"]);
    let acceptor = tls_acceptor(&cert, &key);
    for verify_hostname in [true, false] {
        let (wari, tls) = start_tls(&acceptor, &ca, verify_hostname).await;
        if verify_hostname {
            assert!(tls.is_err(), "the name 127.0.0.1 is not in the certificate");
            log_shows(&wari, "certificate not valid for name").await;
        } else {
            let (mut remote, _) = accept_ws(tls.expect("TLS handshake")).await;
            assert_eq!(remote.next().await["type"], "ApplicationRegistered");
        }
    }
}

#[tokio::test]
async fn a_per_call_connection_that_cannot_be_made_again_fails_stasis_mid_call() {
    let server = listener().await;
    let port = server.local_addr().expect("addr").port();
    let conf = client_conf(port, "per_call_config", "")
        .replace("reconnect_attempts = 50", "reconnect_attempts = 2")
        .replace("reconnect_interval = 200", "reconnect_interval = 50");
    let wari = start(&conf, "voicebot");
    let mut watch =
        EventSocket::connect(&wari, "app=watch&subscribeAll=true&api_key=asterisk:secret").await;
    let created = wari
        .post("/ari/channels?endpoint=Test/caller&extension=200&context=default&channelId=mf-1")
        .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let (mut remote, _) = accept_ws(accept_tcp(&server).await).await;
    remote.next_of("StasisStart").await;
    // The server goes away for good in the middle of the call (its port refuses).
    let address = server.local_addr().expect("addr");
    drop(remote);
    drop(server);
    let _gone = RefusingPort::at(address);
    loop {
        let event = watch.next_of("ChannelVarset").await;
        if event["variable"] == "AFTER" {
            assert_eq!(event["value"], "FAILED", "{event}");
            break;
        }
    }
    assert!(wari.log().contains("could not reconnect"));
}
