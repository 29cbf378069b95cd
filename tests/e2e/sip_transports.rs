//! SIP transports end to end: SIP over TLS (`protocol=tls` with a certificate made for the
//! test) carrying a phone's registration and a call into a Stasis application, on one
//! connection; an unusable certificate refused by start-up and by `wari check-config` at
//! its line; a UDP transport's external addresses given to a phone outside `local_net`
//! (127.0.0.2) and its bound address to one inside (127.0.0.1); wari calling out over a TLS
//! connection it opens (verifying the server against `ca_list_file` with
//! `verify_server=yes`, refusing a certificate no trusted CA signed, taking any without it)
//! and over TCP, the Via of its INVITE and BYE naming that transport's address. The
//! phones are written here: a rustls client, a rustls or plain TCP server, and a UDP socket
//! sending literal SIP requests and reading wari's messages with their own small parser.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpStream, UdpSocket};
use tokio_rustls::client::TlsStream;

use crate::sip_raw::sdp_lines;
use crate::support::{EventSocket, Wari, eventually, run_wari};

const APP: &str = "sipapp";

const DIALPLAN: &str = "[incoming]\nexten => _X.,1,Stasis(sipapp)\n";

/// How long the phone waits for one SIP message.
const SIP_TIMEOUT: Duration = Duration::from_secs(5);

/// Most messages the phone reads while waiting for one it expects.
const SIP_BUDGET: usize = 20;

/// Longest SIP message head the phone reads (lines of at most this many bytes, too).
const MAX_HEAD: usize = 16 * 1024;

/// A fresh self-signed certificate for `localhost`: (cert PEM, key PEM).
fn self_signed() -> (String, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).expect("generate certificate");
    (certified.cert.pem(), certified.signing_key.serialize_pem())
}

/// A TLS transport on an ephemeral loopback port with `sip.crt`/`sip.key` of the
/// configuration directory and `method`; `alice` identified by 127.0.0.1, one contact.
fn tls_pjsip(method: &str) -> String {
    format!(
        "\
[tls]
type=transport
protocol=tls
bind=127.0.0.1:0
cert_file=sip.crt
priv_key_file=sip.key
method={method}

[alice]
type=endpoint
context=incoming
allow=ulaw
aors=alice

[alice]
type=aor
max_contacts=1

[alice-ip]
type=identify
endpoint=alice
match=127.0.0.1
"
    )
}

/// A SIP message as the phone reads it.
#[derive(Debug)]
struct Message {
    first_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Message {
    /// A whole message (one UDP datagram).
    fn parse(text: &str) -> Message {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let first_line = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Message {
            first_line,
            headers,
            body: body.to_string(),
        }
    }

    fn status(&self) -> u16 {
        self.first_line
            .strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn cseq_method(&self) -> &str {
        self.header("cseq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or_default()
    }
}

/// The test's phone: one TLS connection to wari's TLS transport.
struct TlsPhone {
    reader: BufReader<tokio::io::ReadHalf<TlsStream<TcpStream>>>,
    writer: tokio::io::WriteHalf<TlsStream<TcpStream>>,
    local: SocketAddr,
    wari: SocketAddr,
    /// The TLS version the handshake settled on.
    version: rustls::ProtocolVersion,
}

/// A rustls client trusting only `cert_pem`, speaking `versions`.
fn connector(
    cert_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> tokio_rustls::TlsConnector {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(cert_pem.as_bytes()) {
        roots.add(cert.expect("PEM certificate")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// Connects to `wari` over TLS as `localhost`; the handshake's error when it fails.
async fn tls_connect(
    wari: SocketAddr,
    cert_pem: &str,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> std::io::Result<TlsPhone> {
    let tcp = TcpStream::connect(wari).await?;
    let local = tcp.local_addr()?;
    let name = rustls_pki_types::ServerName::try_from("localhost").expect("name");
    let stream = tokio::time::timeout(
        SIP_TIMEOUT,
        connector(cert_pem, versions).connect(name, tcp),
    )
    .await
    .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
    let version = stream
        .get_ref()
        .1
        .protocol_version()
        .expect("negotiated version");
    let (read, writer) = tokio::io::split(stream);
    Ok(TlsPhone {
        reader: BufReader::new(read),
        writer,
        local,
        wari,
        version,
    })
}

/// One SIP message from a stream connection (head lines, then Content-Length bytes),
/// within [`SIP_TIMEOUT`].
async fn read_stream_message<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> Message {
    let read = async {
        let mut lines = Vec::new();
        let mut size = 0;
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).await.expect("read a line");
            assert!(n > 0, "wari closed the connection");
            size += n;
            assert!(size <= MAX_HEAD, "SIP head too long");
            let line = line.trim_end_matches(['\r', '\n']).to_string();
            if line.is_empty() {
                if lines.is_empty() {
                    continue; // keep-alive CRLF
                }
                break;
            }
            lines.push(line);
        }
        let first_line = lines.remove(0);
        let headers: Vec<(String, String)> = lines
            .iter()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let length: usize = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length") || k == "l")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        assert!(length <= MAX_HEAD, "body too long");
        let mut body = vec![0; length];
        reader.read_exact(&mut body).await.expect("body");
        Message {
            first_line,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    };
    tokio::time::timeout(SIP_TIMEOUT, read)
        .await
        .expect("a SIP message within the timeout")
}

impl TlsPhone {
    async fn send(&mut self, text: &str) {
        self.writer
            .write_all(text.as_bytes())
            .await
            .expect("send over TLS");
        self.writer.flush().await.expect("flush");
    }

    /// One SIP message from the connection (head lines, then Content-Length bytes).
    async fn read_message(&mut self) -> Message {
        read_stream_message(&mut self.reader).await
    }

    /// Reads until the final response (>= 200) to `method`; provisional ones are skipped.
    async fn final_response(&mut self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = self.read_message().await;
            if message.status() >= 200 && message.cseq_method() == method {
                return message;
            }
        }
        panic!("no final response to {method} among {SIP_BUDGET} messages");
    }

    /// The phone's Via for a request with `branch`.
    fn via(&self, branch: &str) -> String {
        format!(
            "Via: SIP/2.0/TLS {};branch=z9hG4bK{branch};rport",
            self.local
        )
    }

    fn contact(&self) -> String {
        format!("<sip:alice@{};transport=tls>", self.local)
    }
}

fn start_tls(method: &str) -> (Wari, String) {
    let (cert, key) = self_signed();
    let pjsip = tls_pjsip(method);
    let wari = Wari::with(&[
        ("pjsip.conf", &pjsip),
        ("extensions.conf", DIALPLAN),
        ("sip.crt", &cert),
        ("sip.key", &key),
    ]);
    (wari, cert)
}

async fn endpoint_state(wari: &Wari) -> String {
    let (status, body) = wari.get("/ari/endpoints/PJSIP/alice").await.parts();
    assert_eq!(status, 200, "{body}");
    body["state"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn a_tls_phone_registers_and_calls_into_stasis_on_one_connection() {
    let (wari, cert) = start_tls("tlsv1_3");
    let address = wari.sip_tls.expect("a sip-tls line in the banner");
    assert!(
        wari.banner
            .iter()
            .any(|l| *l == format!("listening: sip-tls tls://{address}")),
        "{:?}",
        wari.banner
    );
    let mut app = EventSocket::watching(&wari, APP).await;

    // method=tlsv1_3: a client that speaks only TLS 1.2 is refused, one with 1.3 gets it.
    let refused = tls_connect(address, &cert, &[&rustls::version::TLS12]).await;
    assert!(refused.is_err(), "TLS 1.2 accepted by a tlsv1_3 transport");
    let mut phone = tls_connect(address, &cert, rustls::DEFAULT_VERSIONS)
        .await
        .expect("TLS handshake with wari");
    assert_eq!(phone.version, rustls::ProtocolVersion::TLSv1_3);
    assert_eq!(endpoint_state(&wari).await, "offline");

    // REGISTER over TLS: 200 with the phone's TLS contact bound.
    let register = format!(
        "REGISTER sip:{wari};transport=tls SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@{wari}>;tag=reg1\r\nTo: <sip:alice@{wari}>\r\n\
         Call-ID: tls-reg-1\r\nCSeq: 1 REGISTER\r\nContact: {contact}\r\nExpires: 120\r\n\
         Content-Length: 0\r\n\r\n",
        wari = phone.wari,
        via = phone.via("reg1"),
        contact = phone.contact(),
    );
    phone.send(&register).await;
    let registered = phone.final_response("REGISTER").await;
    assert_eq!(registered.status(), 200, "{registered:?}");
    let bound = registered.header("contact").unwrap_or_default();
    assert!(
        bound.contains(&phone.local.to_string()) && bound.to_lowercase().contains("transport=tls"),
        "{bound}"
    );
    eventually("alice online", Duration::from_secs(5), || async {
        match endpoint_state(&wari).await.as_str() {
            "online" => Ok(()),
            other => Err(other.to_string()),
        }
    })
    .await;

    // INVITE on the same connection: the channel reaches the application.
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let rtp_port = rtp.local_addr().expect("rtp").port();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let from = format!("<sip:alice@{}>;tag=call1", phone.local);
    let invite = format!(
        "INVITE sip:100@{wari};transport=tls SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         From: {from}\r\nTo: <sip:100@{wari}>\r\nCall-ID: tls-call-1\r\n\
         CSeq: 1 INVITE\r\nContact: {contact}\r\nContent-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{sdp}",
        wari = phone.wari,
        via = phone.via("inv1"),
        contact = phone.contact(),
        len = sdp.len(),
    );
    phone.send(&invite).await;
    let started = app.next_of("StasisStart").await;
    let channel = started["channel"]["id"].as_str().expect("id").to_string();
    assert!(
        started["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("PJSIP/alice-")),
        "{started}"
    );
    let (status, body) = wari
        .post(&format!("/ari/channels/{channel}/answer"))
        .await
        .parts();
    assert_eq!(status, 204, "{body}");

    // wari's 200 comes back over the same connection, its Contact a TLS one.
    let answer = phone.final_response("INVITE").await;
    assert_eq!(answer.status(), 200, "{answer:?}");
    let contact = answer.header("contact").unwrap_or_default().to_lowercase();
    assert!(
        contact.contains(&address.to_string()) && contact.contains("transport=tls"),
        "{contact}"
    );
    let via = answer.header("via").unwrap_or_default();
    assert!(via.starts_with("SIP/2.0/TLS"), "{via}");
    assert_eq!(
        sdp_lines(&answer.body)["m"][0].split(' ').next(),
        Some("audio")
    );
    let to = answer.header("to").expect("To").to_string();
    let ack = format!(
        "ACK sip:100@{wari};transport=tls SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: tls-call-1\r\nCSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n",
        wari = phone.wari,
        via = phone.via("ack1"),
    );
    phone.send(&ack).await;

    // The phone hangs up: 200 to its BYE, the channel leaves the application.
    let bye = format!(
        "BYE sip:100@{wari};transport=tls SIP/2.0\r\n{via}\r\nMax-Forwards: 70\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: tls-call-1\r\nCSeq: 2 BYE\r\n\
         Content-Length: 0\r\n\r\n",
        wari = phone.wari,
        via = phone.via("bye1"),
    );
    phone.send(&bye).await;
    let bye_answer = phone.final_response("BYE").await;
    assert_eq!(bye_answer.status(), 200, "{bye_answer:?}");
    app.next_for("StasisEnd", &channel).await;

    // A call out to alice reaches the registered phone over the connection it opened.
    let (status, body) = wari
        .post(&format!(
            "/ari/channels?endpoint=PJSIP/alice&app={APP}&channelId=tls-out"
        ))
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    let mut invite = None;
    for _ in 0..SIP_BUDGET {
        let message = phone.read_message().await;
        if message.first_line.starts_with("INVITE ") {
            invite = Some(message);
            break;
        }
    }
    let invite = invite.expect("wari's INVITE over the TLS connection");
    assert!(
        invite.first_line.contains(&phone.local.to_string()),
        "{}",
        invite.first_line
    );
    let via = invite.header("via").unwrap_or_default();
    assert!(via.starts_with("SIP/2.0/TLS"), "{via}");
    let contact = invite.header("contact").unwrap_or_default().to_lowercase();
    assert!(contact.contains("transport=tls"), "{contact}");
    let echoed: String = ["via", "from", "call-id", "cseq"]
        .iter()
        .flat_map(|name| {
            invite
                .headers
                .iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(k, v)| format!("{k}: {v}\r\n"))
        })
        .collect();
    let to = invite.header("to").expect("To");
    phone
        .send(&format!(
            "SIP/2.0 486 Busy Here\r\n{echoed}To: {to};tag=busy1\r\nContent-Length: 0\r\n\r\n"
        ))
        .await;
    let destroyed = app.next_for("ChannelDestroyed", "tls-out").await;
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
}

#[test]
fn an_unusable_certificate_stops_start_up_and_check_config_names_its_line() {
    let (_, key) = self_signed();
    let dir = tempfile::tempdir().expect("temp dir");
    // cert_file is line 5 of the transport section, priv_key_file line 6.
    let pjsip = tls_pjsip("sslv23");
    for (name, text) in [
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", DIALPLAN),
        ("http.conf", crate::support::HTTP_CONF),
        ("ari.conf", crate::support::ARI_CONF),
        ("sip.crt", "this is not a certificate\n"),
        ("sip.key", key.as_str()),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let config_dir = dir.path().display().to_string();
    let data_dir = dir.path().join("data").display().to_string();
    let cert_path = dir.path().join("sip.crt").display().to_string();

    let (ok, stdout, stderr) = run_wari(&["--config-dir", &config_dir, "--data-dir", &data_dir]);
    assert!(!ok, "started with a bad certificate: {stdout}");
    assert!(
        stderr.contains("SIP transport tls: TLS") && stderr.contains(&cert_path),
        "{stderr}"
    );

    let (ok, stdout, _) = run_wari(&["check-config", "--config-dir", &config_dir]);
    assert!(!ok, "check-config passed a bad certificate:\n{stdout}");
    let at = format!("{}:5: error: ", dir.path().join("pjsip.conf").display());
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&at))
        .unwrap_or_else(|| panic!("no error at pjsip.conf:5 in:\n{stdout}"));
    assert!(
        line.contains("[tls]") && line.contains(&cert_path),
        "{line}"
    );

    // An unreadable key file is reported at priv_key_file's line.
    std::fs::remove_file(dir.path().join("sip.key")).expect("remove key");
    let (cert, _) = self_signed();
    std::fs::write(dir.path().join("sip.crt"), cert).expect("write cert");
    let (ok, stdout, _) = run_wari(&["check-config", "--config-dir", &config_dir]);
    assert!(!ok, "check-config passed a missing key:\n{stdout}");
    let at = format!("{}:6: error: ", dir.path().join("pjsip.conf").display());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&at) && l.contains("sip.key")),
        "no error at pjsip.conf:6 in:\n{stdout}"
    );

    // A method wari's TLS does not speak (TLS 1.0) is reported at its line (7).
    std::fs::write(dir.path().join("sip.key"), key).expect("write key");
    std::fs::write(dir.path().join("pjsip.conf"), tls_pjsip("tlsv1")).expect("write");
    let (ok, stdout, _) = run_wari(&["check-config", "--config-dir", &config_dir]);
    assert!(!ok, "check-config passed method=tlsv1:\n{stdout}");
    let at = format!("{}:7: error: ", dir.path().join("pjsip.conf").display());
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&at) && l.contains("tlsv1")),
        "no error at pjsip.conf:7 in:\n{stdout}"
    );
}

/// A UDP transport with external addresses for peers outside 127.0.0.1/32; `alice` is
/// identified by either loopback address.
const NAT_PJSIP: &str = "\
[udp]
type=transport
protocol=udp
bind=127.0.0.1:0
external_signaling_address=203.0.113.7
external_signaling_port=5999
external_media_address=203.0.113.8
local_net=127.0.0.1/32

[alice]
type=endpoint
context=incoming
allow=ulaw

[alice-ip]
type=identify
endpoint=alice
match=127.0.0.1,127.0.0.2
";

/// A phone on a UDP socket at `ip`.
struct UdpPhone {
    socket: UdpSocket,
    wari: SocketAddr,
}

impl UdpPhone {
    async fn at(ip: &str, wari: SocketAddr) -> UdpPhone {
        UdpPhone {
            socket: UdpSocket::bind((ip, 0)).await.expect("phone socket"),
            wari,
        }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().expect("local address")
    }

    async fn send(&self, text: &str) {
        self.socket
            .send_to(text.as_bytes(), self.wari)
            .await
            .expect("send");
    }

    /// The next message from wari that `wanted` accepts (others are skipped).
    async fn next(&self, what: &str, wanted: impl Fn(&Message) -> bool) -> Message {
        let mut buffer = vec![0; 65_536];
        for _ in 0..SIP_BUDGET {
            let (n, _) = tokio::time::timeout(SIP_TIMEOUT, self.socket.recv_from(&mut buffer))
                .await
                .unwrap_or_else(|_| panic!("{what} within the timeout"))
                .expect("receive");
            let message = Message::parse(&String::from_utf8_lossy(&buffer[..n]));
            if wanted(&message) {
                return message;
            }
        }
        panic!("no {what} among {SIP_BUDGET} messages");
    }
}

/// What a phone at `ip` sees of wari's own addresses in one call: the Contact and SDP of
/// wari's 200 to its INVITE, and the top Via and Contact of wari's BYE.
struct Seen {
    answer_contact: String,
    connection: String,
    origin: String,
    bye_via: String,
}

/// A phone at `ip` calls in, the application answers, then hangs up (wari sends BYE).
async fn call_from(wari: &Wari, app: &mut EventSocket, ip: &str) -> Seen {
    let address = wari.sip_udp.expect("a SIP UDP transport");
    let phone = UdpPhone::at(ip, address).await;
    let local = phone.local();
    let call_id = format!("nat-{ip}");
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let from = format!("<sip:alice@{local}>;tag=nat1");
    phone
        .send(&format!(
            "INVITE sip:100@{address} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bKnatinv;rport\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: <sip:100@{address}>\r\nCall-ID: {call_id}\r\n\
             CSeq: 1 INVITE\r\nContact: <sip:alice@{local}>\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ))
        .await;
    let started = app.next_of("StasisStart").await;
    let channel = started["channel"]["id"].as_str().expect("id").to_string();
    let (status, body) = wari
        .post(&format!("/ari/channels/{channel}/answer"))
        .await
        .parts();
    assert_eq!(status, 204, "{body}");
    let answer = phone
        .next("200 to the INVITE", |m| {
            m.status() == 200 && m.cseq_method() == "INVITE"
        })
        .await;
    let to = answer.header("to").expect("To").to_string();
    phone
        .send(&format!(
            "ACK sip:100@{address} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bKnatack;rport\r\nMax-Forwards: 70\r\n\
             From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 1 ACK\r\n\
             Content-Length: 0\r\n\r\n"
        ))
        .await;
    let (status, body) = wari
        .delete(&format!("/ari/channels/{channel}"))
        .await
        .parts();
    assert_eq!(status, 204, "{body}");
    let bye = phone
        .next("wari's BYE", |m| m.first_line.starts_with("BYE "))
        .await;
    let echoed: String = ["via", "from", "to", "call-id", "cseq"]
        .iter()
        .flat_map(|name| {
            bye.headers
                .iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(k, v)| format!("{k}: {v}\r\n"))
        })
        .collect();
    phone
        .send(&format!(
            "SIP/2.0 200 OK\r\n{echoed}Content-Length: 0\r\n\r\n"
        ))
        .await;
    app.next_for("StasisEnd", &channel).await;
    let sdp = sdp_lines(&answer.body);
    Seen {
        answer_contact: answer.header("contact").unwrap_or_default().to_string(),
        connection: sdp["c"][0].clone(),
        origin: sdp["o"][0].clone(),
        bye_via: bye.header("via").unwrap_or_default().to_string(),
    }
}

/// `seen`'s Contact holds `contact`, its SDP's connection and origin give `media_ip`, and
/// the BYE's Via starts with `via`.
fn assert_addresses(seen: &Seen, contact: &str, media_ip: &str, via: &str) {
    assert!(
        seen.answer_contact.contains(contact),
        "{}",
        seen.answer_contact
    );
    assert_eq!(seen.connection, format!("IN IP4 {media_ip}"));
    assert!(
        seen.origin.ends_with(&format!("IN IP4 {media_ip}")),
        "{}",
        seen.origin
    );
    assert!(seen.bye_via.starts_with(via), "{}", seen.bye_via);
}

#[tokio::test]
async fn peers_outside_local_net_see_the_external_addresses_and_inside_the_bound_one() {
    let wari = Wari::with(&[("pjsip.conf", NAT_PJSIP), ("extensions.conf", DIALPLAN)]);
    let bound = wari.sip_udp.expect("a SIP UDP transport");
    let mut app = EventSocket::watching(&wari, APP).await;

    // 127.0.0.2 is outside local_net: Contact and the BYE's Via carry the external
    // signalling address and port, the SDP the external media address.
    let outside = call_from(&wari, &mut app, "127.0.0.2").await;
    assert_addresses(
        &outside,
        "@203.0.113.7:5999",
        "203.0.113.8",
        "SIP/2.0/UDP 203.0.113.7:5999;",
    );

    // 127.0.0.1 is inside: the bound address everywhere.
    let inside = call_from(&wari, &mut app, "127.0.0.1").await;
    assert_addresses(
        &inside,
        &format!("@{bound}"),
        "127.0.0.1",
        &format!("SIP/2.0/UDP {bound};"),
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (CA PEM, cert PEM, key PEM).
fn peer_pki(ca_name: &str) -> (String, String, String) {
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

/// A rustls server configuration with `cert_pem` and `key_pem`.
fn peer_acceptor(cert_pem: &str, key_pem: &str) -> tokio_rustls::TlsAcceptor {
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

/// wari with a TLS transport that verifies servers against `peer-ca.crt`
/// (`verify_server=yes`) and a TCP transport; `carol` is reached over TLS (her endpoint's
/// `transport=tls`), `bob` at whatever URI the dial string gives.
fn dialling_pjsip() -> String {
    "\
[tls]
type=transport
protocol=tls
bind=127.0.0.1:0
cert_file=sip.crt
priv_key_file=sip.key
verify_server=yes
ca_list_file=peer-ca.crt

[tcp]
type=transport
protocol=tcp
bind=127.0.0.1:0

[carol]
type=endpoint
context=incoming
allow=ulaw
transport=tls

[bob]
type=endpoint
context=incoming
allow=ulaw
"
    .to_string()
}

trait PeerIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> PeerIo for T {}

/// The far end of a call wari makes: one accepted TCP or TLS connection.
struct StreamPeer {
    reader: BufReader<tokio::io::ReadHalf<Box<dyn PeerIo>>>,
    writer: tokio::io::WriteHalf<Box<dyn PeerIo>>,
    /// Where the peer listens (its Contact).
    address: SocketAddr,
    /// `tcp` or `tls`.
    transport: &'static str,
}

impl StreamPeer {
    fn new(stream: Box<dyn PeerIo>, address: SocketAddr, transport: &'static str) -> StreamPeer {
        let (read, writer) = tokio::io::split(stream);
        StreamPeer {
            reader: BufReader::new(read),
            writer,
            address,
            transport,
        }
    }

    async fn send(&mut self, text: &str) {
        self.writer.write_all(text.as_bytes()).await.expect("send");
        self.writer.flush().await.expect("flush");
    }

    /// The next request with `method` wari sends (others are skipped).
    async fn request(&mut self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = read_stream_message(&mut self.reader).await;
            if message.first_line.starts_with(&format!("{method} ")) {
                return message;
            }
        }
        panic!("no {method} among {SIP_BUDGET} messages");
    }

    /// Answers `request` with `status` (and `extra` headers and body after the copied ones).
    async fn respond(&mut self, request: &Message, status: &str, to_tag: &str, extra: &str) {
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
            format!("{to};tag={to_tag}")
        };
        let text = format!("SIP/2.0 {status}\r\n{echoed}To: {to}\r\n{extra}");
        self.send(&text).await;
    }
}

/// Accepts one connection on `listener` (a TLS one with `tls`).
async fn accept_peer(
    listener: &tokio::net::TcpListener,
    tls: Option<&tokio_rustls::TlsAcceptor>,
) -> std::io::Result<StreamPeer> {
    let address = listener.local_addr()?;
    let (tcp, _) = tokio::time::timeout(SIP_TIMEOUT, listener.accept())
        .await
        .map_err(|_| std::io::Error::other("no connection from wari"))??;
    Ok(match tls {
        None => StreamPeer::new(Box::new(tcp), address, "tcp"),
        Some(acceptor) => {
            let stream = tokio::time::timeout(SIP_TIMEOUT, acceptor.accept(tcp))
                .await
                .map_err(|_| std::io::Error::other("TLS handshake timed out"))??;
            StreamPeer::new(Box::new(stream), address, "tls")
        }
    })
}

/// The Via of wari's INVITE and of the BYE it sends once the application hangs up, on a
/// call wari made to `peer`, which answers.
async fn answer_then_get_bye(
    wari: &Wari,
    app: &mut EventSocket,
    peer: &mut StreamPeer,
    channel: &str,
) -> (String, String) {
    let invite = peer.request("INVITE").await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let rtp_port = rtp.local_addr().expect("rtp").port();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
    );
    let extra = format!(
        "Contact: <sip:peer@{};transport={}>\r\nContent-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        peer.address,
        peer.transport,
        sdp.len()
    );
    peer.respond(&invite, "200 OK", "peer1", &extra).await;
    app.next_for("StasisStart", channel).await;
    peer.request("ACK").await;
    let (status, body) = wari
        .delete(&format!("/ari/channels/{channel}"))
        .await
        .parts();
    assert_eq!(status, 204, "{body}");
    let bye = peer.request("BYE").await;
    peer.respond(&bye, "200 OK", "peer1", "Content-Length: 0\r\n\r\n")
        .await;
    app.next_for("ChannelDestroyed", channel).await;
    (
        invite.header("via").unwrap_or_default().to_string(),
        bye.header("via").unwrap_or_default().to_string(),
    )
}

/// A peer's listener on a loopback port, and channel `id` of the application calling
/// `user` at it (`params` follow the URI's host and port, e.g. `%3Btransport=tcp`): wari
/// connects to the listener.
async fn dial_listener(wari: &Wari, user: &str, params: &str, id: &str) -> tokio::net::TcpListener {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("peer listener");
    let at = listener.local_addr().expect("address");
    let (status, body) = wari
        .post(&format!(
            "/ari/channels?endpoint=PJSIP/{user}/sip:{user}@{at}{params}&app={APP}&channelId={id}"
        ))
        .await
        .parts();
    assert_eq!(status, 200, "{body}");
    listener
}

#[tokio::test]
async fn wari_calls_out_over_tls_and_tcp_and_its_requests_name_that_transport_in_via() {
    let (cert, key) = self_signed();
    let (peer_ca, peer_cert, peer_key) = peer_pki("peer CA");
    let wari = Wari::with(&[
        ("pjsip.conf", &dialling_pjsip()),
        ("extensions.conf", DIALPLAN),
        ("sip.crt", &cert),
        ("sip.key", &key),
        ("peer-ca.crt", &peer_ca),
    ]);
    let tls = wari.sip_tls.expect("a TLS transport");
    let tcp = wari.sip_tcp.expect("a TCP transport");
    let mut app = EventSocket::watching(&wari, APP).await;

    // carol's transport is TLS: wari opens a TLS connection to her URI, verifies the
    // certificate her CA signed, and its INVITE and BYE give the TLS transport's address.
    let acceptor = peer_acceptor(&peer_cert, &peer_key);
    let listener = dial_listener(&wari, "carol", "", "tls-dialled").await;
    let mut peer = accept_peer(&listener, Some(&acceptor))
        .await
        .expect("wari's TLS connection, handshake done");
    let (invite_via, bye_via) =
        answer_then_get_bye(&wari, &mut app, &mut peer, "tls-dialled").await;
    for via in [&invite_via, &bye_via] {
        assert!(via.starts_with(&format!("SIP/2.0/TLS {tls};")), "{via}");
    }

    // Over TCP (the URI's transport=tcp): the TCP transport's address.
    let listener = dial_listener(&wari, "bob", "%3Btransport=tcp", "tcp-dialled").await;
    let mut peer = accept_peer(&listener, None)
        .await
        .expect("wari's TCP connection");
    let (invite_via, bye_via) =
        answer_then_get_bye(&wari, &mut app, &mut peer, "tcp-dialled").await;
    for via in [&invite_via, &bye_via] {
        assert!(via.starts_with(&format!("SIP/2.0/TCP {tcp};")), "{via}");
    }

    // A server whose certificate no trusted CA signed: the handshake fails, so no INVITE
    // reaches it and the call ends at once (pjsip's transport error: congestion).
    let (_, other_cert, other_key) = peer_pki("someone else");
    let listener = dial_listener(&wari, "bob", "%3Btransport=tls", "untrusted").await;
    let refused = accept_peer(&listener, Some(&peer_acceptor(&other_cert, &other_key))).await;
    assert!(refused.is_err(), "wari accepted an untrusted certificate");
    let destroyed = app.next_for("ChannelDestroyed", "untrusted").await;
    assert_eq!(destroyed["channel"]["state"], "Down", "{destroyed}");
    assert_eq!(destroyed["cause"], 34, "{destroyed}");
}

#[tokio::test]
async fn without_verify_server_wari_takes_any_server_certificate_as_asterisk() {
    let (cert, key) = self_signed();
    let pjsip = dialling_pjsip()
        .replace("verify_server=yes\nca_list_file=peer-ca.crt\n", "")
        .replace("transport=tls\n", "");
    assert!(!pjsip.contains("verify_server"), "{pjsip}");
    let wari = Wari::with(&[
        ("pjsip.conf", &pjsip),
        ("extensions.conf", DIALPLAN),
        ("sip.crt", &cert),
        ("sip.key", &key),
    ]);
    let mut app = EventSocket::watching(&wari, APP).await;
    // A certificate from a CA wari has never heard of: the handshake succeeds, the
    // INVITE arrives, the callee's busy answer is the channel's cause.
    let (_, peer_cert, peer_key) = peer_pki("unknown CA");
    let listener = dial_listener(&wari, "bob", "%3Btransport=tls", "any-cert").await;
    let mut peer = accept_peer(&listener, Some(&peer_acceptor(&peer_cert, &peer_key)))
        .await
        .expect("a TLS connection with an unverified certificate");
    let invite = peer.request("INVITE").await;
    peer.respond(
        &invite,
        "486 Busy Here",
        "busy1",
        "Content-Length: 0\r\n\r\n",
    )
    .await;
    let destroyed = app.next_for("ChannelDestroyed", "any-cert").await;
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
}
