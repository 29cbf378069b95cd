//! wari dialling out over TLS end to end: each TLS transport verifies the servers it
//! connects to with its own `ca_list_file` (an endpoint's or a registration's
//! `transport=` chooses it), and a connection that cannot be made (a certificate
//! `verify_server` refuses, a port that refuses TCP) fails the call at once with pjsip's
//! transport error (503: cause 34) and an outbound registration at once too, instead of
//! after SIP's 32-second Timer B. The far ends are written here: rustls servers with
//! certificates from two test CAs, reading wari's requests with a small parser.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::support::{EventSocket, RefusingPort, Wari, eventually};

const APP: &str = "tlsdial";

const DIALPLAN: &str = "[incoming]\nexten => _X.,1,Stasis(tlsdial)\n";

/// How long a far end waits for wari's connection, its handshake, or one message.
const PEER_TIMEOUT: Duration = Duration::from_secs(10);

/// A refused connection must end the call well before Timer B (32 s) would.
const FAIL_FAST: Duration = Duration::from_secs(8);

/// Longest SIP message head a far end reads.
const MAX_HEAD: usize = 16 * 1024;

/// Most messages a far end reads while waiting for the one it expects.
const MESSAGE_BUDGET: usize = 10;

/// A CA and a server certificate for 127.0.0.1 it signed: (CA PEM, cert PEM, key PEM).
fn pki(ca_name: &str) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &ca).expect("sign");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// wari's own certificate (its TLS transports serve it; no test checks it).
fn own_certificate() -> (String, String) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("cert");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// Two TLS transports verifying servers, `tls-a` against `ca-a.crt` and `tls-b` against
/// `ca-b.crt`; `alice` goes out over `tls-a`, `bob` over `tls-b`; plus `extra` sections.
fn two_transports(extra: &str) -> String {
    format!(
        "\
[tls-a]
type=transport
protocol=tls
bind=127.0.0.1:0
cert_file=sip.crt
priv_key_file=sip.key
verify_server=yes
ca_list_file=ca-a.crt

[tls-b]
type=transport
protocol=tls
bind=127.0.0.1:0
cert_file=sip.crt
priv_key_file=sip.key
verify_server=yes
ca_list_file=ca-b.crt

[alice]
type=endpoint
context=incoming
allow=ulaw
transport=tls-a

[bob]
type=endpoint
context=incoming
allow=ulaw
transport=tls-b
{extra}"
    )
}

/// A rustls server acceptor with `cert_pem` and `key_pem`.
fn acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("certs");
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
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

type ServerStream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

/// A request wari sent: its first line and headers.
#[derive(Debug)]
struct Request {
    first_line: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A far end wari connected to over TLS, its handshake done.
struct Peer {
    reader: BufReader<tokio::io::ReadHalf<ServerStream>>,
    writer: tokio::io::WriteHalf<ServerStream>,
}

impl Peer {
    /// Accepts wari's connection on `listener` and completes the TLS handshake (an error
    /// when wari gives it up, as it does with a certificate it refuses).
    async fn accept(
        listener: &TcpListener,
        tls: &tokio_rustls::TlsAcceptor,
    ) -> std::io::Result<Peer> {
        let (tcp, _) = tokio::time::timeout(PEER_TIMEOUT, listener.accept())
            .await
            .map_err(|_| std::io::Error::other("no connection from wari"))??;
        let stream = tokio::time::timeout(PEER_TIMEOUT, tls.accept(tcp))
            .await
            .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
        let (read, writer) = tokio::io::split(stream);
        Ok(Peer {
            reader: BufReader::new(read),
            writer,
        })
    }

    /// The next message wari sends (its body skipped).
    async fn message(&mut self) -> Request {
        let read = async {
            let mut lines = Vec::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                let n = (&mut self.reader)
                    .take(MAX_HEAD as u64)
                    .read_line(&mut line)
                    .await
                    .expect("read from wari");
                assert!(n > 0, "wari closed the connection");
                let line = line.trim_end().to_string();
                if line.is_empty() {
                    if lines.is_empty() {
                        continue; // keep-alive CRLF
                    }
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.trim().eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().expect("Content-Length");
                }
                assert!(lines.len() < 100, "a head of too many lines");
                lines.push(line);
            }
            let mut body = vec![0; length];
            self.reader.read_exact(&mut body).await.expect("body");
            let first_line = lines.remove(0);
            let headers = lines
                .iter()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .collect();
            Request {
                first_line,
                headers,
            }
        };
        tokio::time::timeout(PEER_TIMEOUT, read)
            .await
            .expect("a message from wari in time")
    }

    /// The next request with `method` (others skipped).
    async fn request(&mut self, method: &str) -> Request {
        for _ in 0..MESSAGE_BUDGET {
            let message = self.message().await;
            if message.first_line.starts_with(&format!("{method} ")) {
                return message;
            }
        }
        panic!("no {method} among {MESSAGE_BUDGET} messages");
    }

    /// Answers `request` with `status` and no body.
    async fn respond(&mut self, request: &Request, status: &str, extra: &str) {
        let echoed: String = ["via", "from", "call-id", "cseq"]
            .iter()
            .flat_map(|name| {
                request
                    .headers
                    .iter()
                    .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(k, v)| format!("{k}: {v}\r\n"))
            })
            .collect();
        let to = request.header("to").expect("To");
        let to = if to.contains(";tag=") {
            to.to_string()
        } else {
            format!("{to};tag=peer1")
        };
        let text =
            format!("SIP/2.0 {status}\r\n{echoed}To: {to}\r\n{extra}Content-Length: 0\r\n\r\n");
        self.writer.write_all(text.as_bytes()).await.expect("send");
        self.writer.flush().await.expect("flush");
    }
}

/// A TLS far end on an ephemeral loopback port with `cert`/`key`: where it listens, and
/// its task, which answers wari's INVITE with 486 (the handshake's error when wari gives
/// the connection up).
async fn busy_peer(
    cert: &str,
    key: &str,
) -> (
    SocketAddr,
    tokio::task::JoinHandle<std::io::Result<(Peer, Request)>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let at = listener.local_addr().expect("address");
    let tls = acceptor(cert, key);
    let task = tokio::spawn(async move {
        let mut peer = Peer::accept(&listener, &tls).await?;
        let invite = peer.request("INVITE").await;
        peer.respond(&invite, "486 Busy Here", "").await;
        Ok((peer, invite))
    });
    (at, task)
}

/// Calls `endpoint` at `target` (a SIP URI) as channel `id`; its ChannelDestroyed and the
/// time from the request to it.
async fn call(
    wari: &Wari,
    app: &mut EventSocket,
    endpoint: &str,
    target: &str,
    id: &str,
) -> (serde_json::Value, Duration) {
    let started = Instant::now();
    let (status, body) = wari
        .post(&format!(
            "/ari/channels?endpoint=PJSIP/{endpoint}/{target}&app={APP}&channelId={id}"
        ))
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    let destroyed = app.next_for("ChannelDestroyed", id).await;
    (destroyed, started.elapsed())
}

fn start(pjsip: &str, ca_a: &str, ca_b: &str) -> Wari {
    let (cert, key) = own_certificate();
    Wari::with(&[
        ("pjsip.conf", pjsip),
        ("extensions.conf", DIALPLAN),
        ("sip.crt", &cert),
        ("sip.key", &key),
        ("ca-a.crt", ca_a),
        ("ca-b.crt", ca_b),
    ])
}

#[tokio::test]
async fn each_tls_transport_verifies_the_servers_it_calls_with_its_own_ca() {
    let (ca_a, cert_a, key_a) = pki("CA A");
    let (ca_b, cert_b, key_b) = pki("CA B");
    let wari = start(&two_transports(""), &ca_a, &ca_b);
    let mut app = EventSocket::connect(
        &wari,
        &format!("app={APP}&subscribeAll=true&api_key=asterisk:secret"),
    )
    .await;

    // bob's transport is the second one: its CA, not the first transport's, accepts the
    // server CA B signed; the INVITE arrives over TLS and the callee's busy answer is the
    // channel's cause.
    for (endpoint, cert, key, id) in [
        ("bob", &cert_b, &key_b, "bob-trusted"),
        ("alice", &cert_a, &key_a, "alice-trusted"),
    ] {
        let (at, peer) = busy_peer(cert, key).await;
        let (destroyed, _) = call(
            &wari,
            &mut app,
            endpoint,
            &format!("sip:{endpoint}@{at}"),
            id,
        )
        .await;
        assert_eq!(destroyed["cause"], 17, "{destroyed}");
        let (_peer, invite) = peer
            .await
            .expect("peer task")
            .unwrap_or_else(|e| panic!("{endpoint}'s transport refused its CA's server: {e}"));
        let via = invite.header("via").unwrap_or_default();
        assert!(via.starts_with("SIP/2.0/TLS "), "{via}");
    }

    // Each transport refuses the server the other one's CA signed: no INVITE is sent,
    // the call ends at once with pjsip's transport error (503: congestion, 34).
    for (endpoint, cert, key, id) in [
        ("alice", &cert_b, &key_b, "alice-refused"),
        ("bob", &cert_a, &key_a, "bob-refused"),
    ] {
        let (at, peer) = busy_peer(cert, key).await;
        let (destroyed, took) = call(
            &wari,
            &mut app,
            endpoint,
            &format!("sip:{endpoint}@{at}"),
            id,
        )
        .await;
        assert_eq!(destroyed["cause"], 34, "{destroyed}");
        assert_eq!(
            destroyed["cause_txt"], "Circuit/channel congestion",
            "{destroyed}"
        );
        assert_eq!(destroyed["channel"]["state"], "Down", "{destroyed}");
        assert!(took < FAIL_FAST, "{endpoint}'s refused call took {took:?}");
        let refused = peer.await.expect("peer task");
        assert!(
            refused.is_err(),
            "{endpoint}'s transport accepted a certificate its CA did not sign"
        );
    }
}

#[tokio::test]
async fn a_call_to_a_port_refusing_tls_connections_ends_at_once() {
    let (ca_a, _, _) = pki("CA A");
    let (ca_b, _, _) = pki("CA B");
    let wari = start(&two_transports(""), &ca_a, &ca_b);
    let mut app = EventSocket::connect(
        &wari,
        &format!("app={APP}&subscribeAll=true&api_key=asterisk:secret"),
    )
    .await;
    let nobody = RefusingPort::new();
    let at = nobody.address();
    // A sips: URI goes over TLS whatever the endpoint's transport.
    for (endpoint, target, id) in [
        ("alice", format!("sip:alice@{at}"), "refused-tls"),
        ("bob", format!("sips:bob@{at}"), "refused-sips"),
    ] {
        let (destroyed, took) = call(&wari, &mut app, endpoint, &target, id).await;
        assert_eq!(destroyed["cause"], 34, "{destroyed}");
        assert!(took < FAIL_FAST, "{target}: the refused call took {took:?}");
    }
    drop(nobody);
}

#[tokio::test]
async fn an_outbound_registration_registers_with_its_transports_ca_and_fails_at_once_when_refused()
{
    let (ca_a, _, _) = pki("CA A");
    let (ca_b, cert_b, key_b) = pki("CA B");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let at = listener.local_addr().expect("address");
    let nobody = RefusingPort::new();
    let refusing = nobody.address();
    // `provider` registers over tls-b (whose CA signed the registrar's certificate);
    // `gone` to a port that refuses connections.
    let extra = format!(
        "
[provider]
type=registration
transport=tls-b
server_uri=sip:{at}\\;transport=tls
client_uri=sip:wari@{at}
retry_interval=60
expiration=120

[gone]
type=registration
transport=tls-a
server_uri=sip:{refusing}\\;transport=tls
client_uri=sip:wari@{refusing}
retry_interval=60
expiration=120
"
    );
    let wari = start(&two_transports(&extra), &ca_a, &ca_b);

    let mut registrar = Peer::accept(&listener, &acceptor(&cert_b, &key_b))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "tls-b's CA accepts the registrar's certificate: {e}\n{}",
                wari.log()
            )
        });
    let register = registrar.request("REGISTER").await;
    let contact = register.header("contact").unwrap_or_default().to_string();
    registrar
        .respond(
            &register,
            "200 OK",
            &format!("Contact: {contact};expires=120\r\n"),
        )
        .await;

    // Refused: "Rejected, retrying" (after retry_interval) at once, not after Timer F.
    for line in [
        "outbound registration: Registered",
        "outbound registration: Rejected, retrying",
    ] {
        eventually(line, FAIL_FAST, || {
            let log = wari.log();
            async move { if log.contains(line) { Ok(()) } else { Err(log) } }
        })
        .await;
    }
    drop(nobody);
}
