//! A raw SIP test peer: literal SIP text over a UDP socket (or a TCP stream) on loopback,
//! read by its own small parser, so the tests exercise nothing but wari's stack.
//!
//! - [`Message`]: a SIP message as the peer reads it (first line, headers, body).
//! - [`Peer`]: a UDP socket talking to wari (or waiting for wari, as a provider or a
//!   gateway does): send, receive within [`SIP_TIMEOUT`], skip to a final response or a
//!   request of a method within [`SIP_BUDGET`] messages.
//! - [`TcpPeer`]: the same over one TCP connection (messages framed by Content-Length).
//! - [`Request`]: a request writer (Via, From, To, Call-ID, CSeq, Contact, extra lines,
//!   SDP body); [`Dialog`]: a call's identifying headers for requests inside it;
//!   [`register`]: a REGISTER; [`response`]: an answer to a request wari sent.
//! - [`sdp_offer`]: an audio offer (PCMU and telephone-event); [`sdp_lines`];
//!   [`rtp_address`] of an answer; [`dtmf_packets`] (RFC 4733).
//! - Digest: [`digest_params`], [`digest_answer`], [`md5_hex`].
//! - pjsip.conf pieces: [`udp_transport!`] / [`UDP_TRANSPORT`], [`bob_auth!`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use md5::{Digest, Md5};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

use crate::support::Wari;

/// pjsip.conf's UDP transport on a loopback port the system picks, as a literal for
/// `concat!` (the banner's `sip-udp` line says which port).
macro_rules! udp_transport {
    () => {
        "[udp]\ntype=transport\nprotocol=udp\nbind=127.0.0.1:0\n"
    };
}
pub(crate) use udp_transport;

/// The same, for `format!`.
pub(crate) const UDP_TRANSPORT: &str = udp_transport!();

/// pjsip.conf's `bob-auth`: user `bob`, password `s3cret` (a literal for `concat!`).
macro_rules! bob_auth {
    () => {
        "[bob-auth]\ntype=auth\nusername=bob\npassword=s3cret\n"
    };
}
pub(crate) use bob_auth;

/// How long the peer waits for one SIP message.
pub(crate) const SIP_TIMEOUT: Duration = Duration::from_secs(5);

/// Most messages the peer reads while waiting for one it expects.
pub(crate) const SIP_BUDGET: usize = 50;

/// Largest message a TCP peer reads.
const TCP_MAX: usize = 65_536;

/// A SIP message as the peer reads it (its own parser, not wari's).
#[derive(Debug, Clone)]
pub(crate) struct Message {
    /// The whole message as received.
    pub(crate) text: String,
    pub(crate) first_line: String,
    /// Header names in lower case, values trimmed, in order.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
    /// Where it came from (UDP: the datagram's source; TCP: the stream's far end).
    pub(crate) source: Option<SocketAddr>,
}

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl Message {
    pub(crate) fn parse(text: &str) -> Message {
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
        let mut lines = head.split("\r\n");
        let first_line = lines.next().unwrap_or_default().to_string();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Message {
            text: text.to_string(),
            first_line,
            headers,
            body: body.to_string(),
            source: None,
        }
    }

    /// The status code of a response (0 for a request or anything else).
    pub(crate) fn status(&self) -> u16 {
        self.first_line
            .strip_prefix("SIP/2.0 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0)
    }

    /// The first value of a header (case-insensitive name).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.all(name).next()
    }

    /// Every value of a header, in order.
    pub(crate) fn all<'m>(&'m self, name: &str) -> impl Iterator<Item = &'m str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(move |(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The method its CSeq names.
    pub(crate) fn cseq_method(&self) -> &str {
        self.header("cseq")
            .and_then(|c| c.split_whitespace().nth(1))
            .unwrap_or_default()
    }

    /// Whether it is a request of `method`.
    pub(crate) fn is_request(&self, method: &str) -> bool {
        self.first_line
            .strip_prefix(method)
            .is_some_and(|rest| rest.starts_with(' '))
    }

    /// The request line (its first line).
    pub(crate) fn request_line(&self) -> &str {
        &self.first_line
    }
}

/// A string unique enough for Call-IDs, tags and branches.
pub(crate) fn unique() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{:x}r{:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A request as the peer writes it: the request line, then headers in the order given,
/// then Content-Type (with a body) and Content-Length.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    method: String,
    lines: Vec<String>,
    content_type: String,
    body: String,
}

impl Request {
    pub(crate) fn new(method: &str, uri: &str) -> Request {
        Request {
            method: method.to_string(),
            lines: vec![format!("{method} {uri} SIP/2.0")],
            content_type: "application/sdp".to_string(),
            body: String::new(),
        }
    }

    /// `Via: SIP/2.0/<transport> <local>;branch=z9hG4bK-<branch>;rport` and Max-Forwards.
    pub(crate) fn via(self, transport: &str, local: SocketAddr, branch: &str) -> Request {
        self.header(
            "Via",
            &format!("SIP/2.0/{transport} {local};branch=z9hG4bK-{branch};rport"),
        )
        .header("Max-Forwards", "70")
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Request {
        self.lines.push(format!("{name}: {value}"));
        self
    }

    /// `CSeq: <seq> <method>`.
    pub(crate) fn cseq(self, seq: u32) -> Request {
        let value = format!("{seq} {}", self.method);
        self.header("CSeq", &value)
    }

    /// Header lines as written (each ending in CRLF; may be empty).
    pub(crate) fn extra(mut self, lines: &str) -> Request {
        self.lines.extend(
            lines
                .split("\r\n")
                .filter(|l| !l.is_empty())
                .map(String::from),
        );
        self
    }

    /// An `application/sdp` body.
    pub(crate) fn sdp(mut self, body: &str) -> Request {
        self.body = body.to_string();
        self
    }

    /// A body of `content_type`.
    pub(crate) fn body(mut self, content_type: &str, body: &str) -> Request {
        self.content_type = content_type.to_string();
        self.body = body.to_string();
        self
    }

    /// The message's text.
    pub(crate) fn text(&self) -> String {
        let mut text = self.lines.join("\r\n");
        text.push_str("\r\n");
        if !self.body.is_empty() {
            text.push_str(&format!("Content-Type: {}\r\n", self.content_type));
        }
        text.push_str(&format!(
            "Content-Length: {}\r\n\r\n{}",
            self.body.len(),
            self.body
        ));
        text
    }
}

/// An out-of-dialog request from `user` at `local` to `exten` at `wari` over UDP (Call-ID,
/// tag and branch of [`unique`], CSeq 1, a Contact): its Call-ID and writer, to add to.
pub(crate) fn out_of_dialog(
    method: &str,
    user: &str,
    exten: &str,
    local: SocketAddr,
    wari: SocketAddr,
) -> (String, Request) {
    let id = unique();
    let call_id = format!("{id}@peer");
    let request = Request::new(method, &format!("sip:{exten}@{wari}"))
        .via("UDP", local, &id)
        .header("From", &format!("<sip:{user}@127.0.0.1>;tag=t{id}"))
        .header("To", &format!("<sip:{exten}@{wari}>"))
        .header("Call-ID", &call_id)
        .cseq(1)
        .header("Contact", &format!("<sip:{user}@{local}>"));
    (call_id, request)
}

/// A REGISTER of `user` (From and To `sip:<user>@127.0.0.1`, Contact `sip:<user>@<local>`)
/// to `uri`, with `Expires` and optional `Authorization`, over `transport` (`UDP`, `TCP`).
pub(crate) struct Register<'a> {
    pub(crate) uri: &'a str,
    pub(crate) user: &'a str,
    pub(crate) local: SocketAddr,
    pub(crate) transport: &'a str,
    pub(crate) call_id: &'a str,
    pub(crate) cseq: u32,
    pub(crate) expires: u32,
    pub(crate) authorization: Option<&'a str>,
}

/// The text of `register`.
pub(crate) fn register(register: &Register<'_>) -> String {
    let Register {
        uri,
        user,
        local,
        transport,
        call_id,
        cseq,
        expires,
        authorization,
    } = register;
    let contact = if transport.eq_ignore_ascii_case("udp") {
        format!("<sip:{user}@{local}>")
    } else {
        format!(
            "<sip:{user}@{local};transport={}>",
            transport.to_lowercase()
        )
    };
    let mut request = Request::new("REGISTER", uri)
        .via(transport, *local, &format!("reg-{}-{cseq}", local.port()))
        .header("From", &format!("<sip:{user}@127.0.0.1>;tag=phone-1"))
        .header("To", &format!("<sip:{user}@127.0.0.1>"))
        .header("Call-ID", call_id)
        .cseq(*cseq)
        .header("Contact", &contact)
        .header("Expires", &expires.to_string());
    if let Some(authorization) = authorization {
        request = request.header("Authorization", authorization);
    }
    request.header("User-Agent", "wari-e2e").text()
}

/// A call's identifying headers, for requests inside it (or CANCEL before its answer).
#[derive(Debug, Clone)]
pub(crate) struct Dialog {
    pub(crate) call_id: String,
    /// The From of requests in it, without its tag.
    pub(crate) from: String,
    pub(crate) from_tag: String,
    /// The To of wari's answer (with wari's tag); before one, the INVITE's.
    pub(crate) to: Option<String>,
    pub(crate) uri: String,
}

impl Dialog {
    /// A new dialog to `uri` from `from` (a From value without tag).
    pub(crate) fn new(uri: &str, from: &str) -> Dialog {
        let id = unique();
        Dialog {
            call_id: format!("{id}@peer"),
            from: from.to_string(),
            from_tag: format!("f{id}"),
            to: None,
            uri: uri.to_string(),
        }
    }

    /// The dialog of the `invite` the peer sent and wari's `answer` to it.
    pub(crate) fn answered(invite: &str, answer: &Message) -> Dialog {
        let invite = Message::parse(invite);
        let from = invite.header("from").expect("From");
        let (from, from_tag) = from.split_once(";tag=").expect("a From tag");
        Dialog {
            call_id: invite.header("call-id").expect("Call-ID").to_string(),
            from: from.to_string(),
            from_tag: from_tag.split(';').next().unwrap_or(from_tag).to_string(),
            to: answer.header("to").map(str::to_string),
            uri: invite
                .first_line
                .split_whitespace()
                .nth(1)
                .expect("Request-URI")
                .to_string(),
        }
    }

    /// The To of requests in it.
    pub(crate) fn to(&self) -> String {
        self.to.clone().unwrap_or_else(|| format!("<{}>", self.uri))
    }

    /// A request inside it from `local` (Via branch `branch`), without Contact.
    pub(crate) fn request(
        &self,
        method: &str,
        cseq: u32,
        local: SocketAddr,
        branch: &str,
    ) -> Request {
        Request::new(method, &self.uri)
            .via("UDP", local, branch)
            .header("From", &format!("{};tag={}", self.from, self.from_tag))
            .header("To", &self.to())
            .header("Call-ID", &self.call_id)
            .cseq(cseq)
    }
}

/// A response to `request` with `status` (e.g. `200 OK`): its Via, From, Call-ID and CSeq,
/// its To with `to_tag` (when given), the `extra` header lines, and an SDP `body` (when
/// not empty).
pub(crate) fn response(
    request: &Message,
    status: &str,
    to_tag: Option<&str>,
    extra: &[String],
    body: &str,
) -> String {
    let mut text = format!("SIP/2.0 {status}\r\n");
    for name in ["via", "from", "call-id", "cseq"] {
        for value in request.all(name) {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    let to = request.header("to").expect("To");
    match to_tag {
        Some(tag) => text.push_str(&format!("to: {to};tag={tag}\r\n")),
        None => text.push_str(&format!("to: {to}\r\n")),
    }
    for line in extra {
        text.push_str(line);
        text.push_str("\r\n");
    }
    if !body.is_empty() {
        text.push_str("content-type: application/sdp\r\n");
    }
    text.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    text
}

/// An SDP audio offer from 127.0.0.1:`port`: PCMU and telephone-event, version
/// `version`, `direction` (`sendrecv`, `sendonly`, ...).
pub(crate) fn sdp_offer(port: u16, version: u32, direction: &str) -> String {
    format!(
        "v=0\r\no=peer 1 {version} IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na={direction}\r\n"
    )
}

/// Fields of an SDP body, by line type (`m`, `c`, `a`, ...).
pub(crate) fn sdp_lines(body: &str) -> HashMap<String, Vec<String>> {
    let mut lines: HashMap<String, Vec<String>> = HashMap::new();
    for line in body.lines() {
        if let Some((kind, value)) = line.split_once('=') {
            lines
                .entry(kind.to_string())
                .or_default()
                .push(value.trim().to_string());
        }
    }
    lines
}

/// Where the SDP of `answer` says wari receives RTP.
pub(crate) fn rtp_address(answer: &Message) -> SocketAddr {
    let ip = answer
        .body
        .lines()
        .find_map(|l| l.strip_prefix("c=IN IP4 "))
        .expect("c= line")
        .trim();
    let port = answer
        .body
        .lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|m| m.split_whitespace().next())
        .expect("m= line")
        .trim();
    format!("{ip}:{port}").parse().expect("RTP address")
}

/// RFC 4733 packets of one digit (three updates, then the end three times, payload type
/// 101), as a phone sends them.
pub(crate) fn dtmf_packets(digit: u8, seq: u16, timestamp: u32) -> Vec<Vec<u8>> {
    let event = match digit {
        b'0'..=b'9' => digit - b'0',
        b'*' => 10,
        _ => 11,
    };
    let mut packets = Vec::new();
    for i in 0..6u16 {
        let end = i >= 3;
        let duration = 160 * (i.min(3) + 1);
        // Version 2; the marker on the event's first packet; payload type 101.
        let mut packet = vec![0x80, if i == 0 { 0x80 | 101 } else { 101 }];
        packet.extend_from_slice(&seq.wrapping_add(i).to_be_bytes());
        packet.extend_from_slice(&timestamp.to_be_bytes());
        packet.extend_from_slice(&0x1234_5678u32.to_be_bytes());
        packet.push(event);
        packet.push(if end { 0x80 | 10 } else { 10 });
        packet.extend_from_slice(&duration.to_be_bytes());
        packets.push(packet);
    }
    packets
}

pub(crate) fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The `name="value"` (or `name=value`) parameters of a `Digest ...` challenge or
/// credentials.
pub(crate) fn digest_params(challenge: &str) -> HashMap<String, String> {
    let rest = challenge
        .strip_prefix("Digest")
        .unwrap_or_else(|| panic!("not a digest challenge: {challenge}"));
    rest.split(',')
        .filter_map(|part| part.trim().split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

/// The `Authorization` value answering `challenge` for `user`/`password` on a request of
/// `method` to `uri` (qop=auth, MD5).
pub(crate) fn digest_answer(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> String {
    let params = digest_params(challenge);
    let realm = &params["realm"];
    let nonce = &params["nonce"];
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let (nc, cnonce) = ("00000001", "0a4f113b");
    let response = md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"));
    let mut value = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=MD5, qop=auth, nc={nc}, cnonce=\"{cnonce}\""
    );
    if let Some(opaque) = params.get("opaque") {
        value.push_str(&format!(", opaque=\"{opaque}\""));
    }
    value
}

/// A UDP socket on 127.0.0.1 talking SIP to wari (or, without wari's address, waiting for
/// wari's requests and answering where they came from).
pub(crate) struct Peer {
    pub(crate) socket: UdpSocket,
    /// Where [`Peer::send`] sends.
    pub(crate) wari: Option<SocketAddr>,
}

impl Peer {
    /// A peer of `wari`'s SIP UDP transport.
    pub(crate) async fn of(wari: &Wari) -> Peer {
        Peer::to(wari.sip_udp.expect("a SIP UDP transport in the banner")).await
    }

    /// A peer sending to `wari`.
    pub(crate) async fn to(wari: SocketAddr) -> Peer {
        Peer {
            wari: Some(wari),
            ..Peer::listening().await
        }
    }

    /// A peer that only answers (a provider's registrar, a gateway).
    pub(crate) async fn listening() -> Peer {
        Peer {
            socket: UdpSocket::bind("127.0.0.1:0").await.expect("SIP socket"),
            wari: None,
        }
    }

    pub(crate) fn local(&self) -> SocketAddr {
        self.socket.local_addr().expect("local address")
    }

    /// wari's address (the peer must have one).
    pub(crate) fn wari(&self) -> SocketAddr {
        self.wari.expect("a peer that knows wari's address")
    }

    /// Sends a datagram to wari.
    pub(crate) async fn send(&self, bytes: impl AsRef<[u8]>) {
        self.socket
            .send_to(bytes.as_ref(), self.wari())
            .await
            .expect("send");
    }

    /// Sends `text` to where `request` came from.
    pub(crate) async fn reply(&self, request: &Message, text: &str) {
        let to = request.source.expect("the request's source");
        self.socket
            .send_to(text.as_bytes(), to)
            .await
            .expect("send answer");
    }

    /// The next message, within [`SIP_TIMEOUT`].
    pub(crate) async fn receive(&self) -> Message {
        self.receive_within(SIP_TIMEOUT).await
    }

    /// The next message, within `limit`.
    pub(crate) async fn receive_within(&self, limit: Duration) -> Message {
        let mut buffer = vec![0u8; 65536];
        let (len, from) = tokio::time::timeout(limit, self.socket.recv_from(&mut buffer))
            .await
            .unwrap_or_else(|_| panic!("a SIP message within {limit:?}"))
            .expect("receive");
        let mut message = Message::parse(&String::from_utf8_lossy(&buffer[..len]));
        message.source = Some(from);
        message
    }

    /// Skips provisional responses up to a final response to `method`.
    pub(crate) async fn final_response(&self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = self.receive().await;
            if message.status() >= 200 && message.cseq_method() == method {
                return message;
            }
        }
        panic!("no final response to {method}");
    }

    /// Reads up to the final response to `method` with `call_id`; returns it and the
    /// statuses of the other messages read on the way.
    pub(crate) async fn final_response_of(
        &self,
        method: &str,
        call_id: &str,
    ) -> (Message, Vec<u16>) {
        let mut others = Vec::new();
        for _ in 0..SIP_BUDGET {
            let message = self.receive().await;
            if message.status() >= 200
                && message.cseq_method() == method
                && message.header("call-id") == Some(call_id)
            {
                return (message, others);
            }
            others.push(message.status());
        }
        panic!("no final response to {method} {call_id}; read {others:?}");
    }

    /// The next request from wari with `method`.
    pub(crate) async fn request_of(&self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = self.receive().await;
            if message.is_request(method) {
                return message;
            }
        }
        panic!("no {method} from wari");
    }
}

/// One TCP connection to wari's SIP TCP transport.
pub(crate) struct TcpPeer {
    stream: TcpStream,
    /// Bytes read past the last whole message.
    pending: Vec<u8>,
}

impl TcpPeer {
    /// Connects to `wari`'s SIP TCP transport.
    pub(crate) async fn of(wari: &Wari) -> TcpPeer {
        let tcp = wari.sip_tcp.expect("a sip-tcp line in the banner");
        TcpPeer {
            stream: TcpStream::connect(tcp).await.expect("connect"),
            pending: Vec::new(),
        }
    }

    pub(crate) fn local(&self) -> SocketAddr {
        self.stream.local_addr().expect("local address")
    }

    /// wari's end of the connection.
    pub(crate) fn wari(&self) -> SocketAddr {
        self.stream.peer_addr().expect("peer address")
    }

    pub(crate) async fn send(&mut self, text: &str) {
        self.stream.write_all(text.as_bytes()).await.expect("write");
    }

    /// The next whole message (headers, then Content-Length bytes of body), within
    /// [`SIP_TIMEOUT`].
    pub(crate) async fn receive(&mut self) -> Message {
        let mut buffer = vec![0u8; 8192];
        for _ in 0..SIP_BUDGET {
            if let Some(message) = self.whole_message() {
                return message;
            }
            assert!(self.pending.len() < TCP_MAX, "a SIP message over 64 KiB");
            let len = tokio::time::timeout(SIP_TIMEOUT, self.stream.read(&mut buffer))
                .await
                .expect("a SIP message within the timeout")
                .expect("read");
            assert!(len > 0, "wari closed the connection");
            self.pending.extend_from_slice(&buffer[..len]);
        }
        panic!("no whole SIP message in {SIP_BUDGET} reads");
    }

    /// A whole message at the front of what was read, taken out of it.
    fn whole_message(&mut self) -> Option<Message> {
        // Keep-alive CRLFs between messages.
        while self.pending.starts_with(b"\r\n") {
            self.pending.drain(..2);
        }
        let head_end = self.pending.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
        let head = Message::parse(&String::from_utf8_lossy(&self.pending[..head_end]));
        let body_len: usize = head
            .header("content-length")
            .or_else(|| head.header("l"))
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if self.pending.len() < head_end + body_len {
            return None;
        }
        let bytes: Vec<u8> = self.pending.drain(..head_end + body_len).collect();
        let mut message = Message::parse(&String::from_utf8_lossy(&bytes));
        message.source = Some(self.wari());
        Some(message)
    }

    /// Skips provisional responses up to a final response to `method`.
    pub(crate) async fn final_response(&mut self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = self.receive().await;
            if message.status() >= 200 && message.cseq_method() == method {
                return message;
            }
        }
        panic!("no final response to {method}");
    }

    /// The next request from wari with `method`.
    pub(crate) async fn request_of(&mut self, method: &str) -> Message {
        for _ in 0..SIP_BUDGET {
            let message = self.receive().await;
            if message.is_request(method) {
                return message;
            }
        }
        panic!("no {method} from wari");
    }
}
