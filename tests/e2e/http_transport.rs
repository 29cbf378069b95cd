//! The HTTP transport reads request heads as Asterisk's HTTP server does: request lines and
//! header lines Asterisk accepts are served, the heads it refuses get its status and error
//! page, and keep-alive and pipelined connections go on across rebuilt heads. Every expected
//! value was observed on Asterisk 23.4.1 with the same bytes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Wari, raw_status};

/// `Authorization` for the read/write test user (`asterisk`/`secret`).
const AUTH: &str = "Authorization: Basic YXN0ZXJpc2s6c2VjcmV0\r\n";

/// One response read off a connection.
#[derive(Debug)]
struct Response {
    status: u16,
    head: String,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(n, _)| n.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response (its body delimited by `Content-Length`) from `stream`.
fn read_response(stream: &mut TcpStream) -> Response {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 64 * 1024, "response head too long");
        let n = stream.read(&mut byte).expect("read a response head");
        assert_eq!(n, 1, "connection closed inside a response head: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut response = Response {
        status: raw_status(&head),
        head,
        body: String::new(),
    };
    let length: usize = response
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).expect("read a response body");
    response.body = String::from_utf8_lossy(&body).into_owned();
    response
}

fn connect(wari: &Wari) -> TcpStream {
    let stream = TcpStream::connect(wari.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
}

/// Sends `request` on a fresh connection and reads one response.
fn exchange(wari: &Wari, request: &[u8]) -> Response {
    let mut stream = connect(wari);
    stream.write_all(request).expect("send");
    read_response(&mut stream)
}

/// True when the server closed `stream` (read returns end of stream).
fn closed(stream: &mut TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(stream.read(&mut byte), Ok(0))
}

/// `GET /ari/asterisk/info?x=aaa... HTTP/1.1\r\n`, `total` bytes long.
fn request_line(total: usize) -> String {
    let prefix = "GET /ari/asterisk/info?x=";
    let suffix = " HTTP/1.1\r\n";
    let line = format!(
        "{prefix}{}{suffix}",
        "a".repeat(total - prefix.len() - suffix.len())
    );
    assert_eq!(line.len(), total);
    line
}

#[test]
fn request_lines_asterisk_accepts_are_served() {
    let wari = Wari::start_default();

    // Asterisk 23.4.1 answers 200 to an originate whose callerId has raw `<` `>` (the
    // conformance kit's first request), with the caller name and number split.
    let reply = exchange(
        &wari,
        format!("POST /ari/channels?endpoint=Test/raw&app=raw&channelId=raw-1&callerId=Oracle%20<1000> HTTP/1.1\r\n{AUTH}Connection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["caller"]["name"], "Oracle");
    assert_eq!(reply.json()["caller"]["number"], "1000");

    // Asterisk reads the method case-insensitively, takes the second blank-delimited token
    // as the target and ignores the rest, HTTP version included: all 200.
    for line in [
        "get /ari/asterisk/info?only=build HTTP/1.1",
        "GET    /ari/asterisk/info?only=build   GARBAGE MORE",
        "GET /ari/asterisk/info?only=build",
        "  GET\t/ari/asterisk/info?only=build\tHTTP/1.0",
    ] {
        let reply = exchange(
            &wari,
            format!("{line}\r\n{AUTH}Connection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(reply.status, 200, "{line}: {reply:?}");
        assert!(reply.json()["build"].is_object(), "{line}: {reply:?}");
    }

    // Bare LF line ends; header lines without `:`, without a name or without a value are
    // skipped (Asterisk: 200).
    let reply = exchange(
        &wari,
        b"GET /ari/asterisk/info?only=build HTTP/1.1\nAuthorization:Basic YXN0ZXJpc2s6c2VjcmV0\nbogus line\n: novalue\nX-Empty:\nConnection: close\n\n",
    );
    assert_eq!(reply.status, 200, "{reply:?}");

    // Bytes the `http` crate refuses in a target reach the operation unchanged: Asterisk
    // stores and returns `a"b#c<d>`{|}^\` and `café`.
    for (raw, value) in [
        (&b"a\"b#c<d>`{|}^\\"[..], "a\"b#c<d>`{|}^\\"),
        (&b"caf\xc3\xa9"[..], "caf\u{e9}"),
    ] {
        let mut request = b"POST /ari/asterisk/variable?variable=RAW&value=".to_vec();
        request.extend_from_slice(raw);
        request
            .extend_from_slice(format!(" HTTP/1.1\r\n{AUTH}Connection: close\r\n\r\n").as_bytes());
        assert_eq!(exchange(&wari, &request).status, 204, "{value}");
        let reply = exchange(
            &wari,
            format!("GET /ari/asterisk/variable?variable=RAW HTTP/1.1\r\n{AUTH}Connection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(reply.json()["value"], value);
    }
}

#[test]
fn heads_asterisk_refuses_get_its_status_and_message_and_the_connection_closes() {
    let wari = Wari::start_default();
    let long_line = request_line(4096);
    let long_header = format!("X-Long: {}\r\n", "a".repeat(4096 - 10));
    let many_headers: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    // Asterisk 23.4.1: a request line or header line of 4096 bytes with its CRLF is 400, 101
    // headers 413, a request line without a target 400, an unknown Transfer-Encoding 501, a
    // Content-Length that is not a number 400; each with Connection: close.
    for (what, request, status, message) in [
        (
            "request line too long",
            format!("{long_line}{AUTH}\r\n"),
            400,
            "Request line too long",
        ),
        (
            "header line too long",
            format!("GET /ari/asterisk/info HTTP/1.1\r\n{long_header}\r\n"),
            400,
            "Header line too long",
        ),
        (
            "101 headers",
            format!("GET /ari/asterisk/info HTTP/1.1\r\n{many_headers}\r\n"),
            413,
            "Too many headers",
        ),
        (
            "no target",
            "GET\r\n\r\n".to_string(),
            400,
            "Invalid Request",
        ),
        (
            "gzip",
            format!(
                "GET /ari/asterisk/info HTTP/1.1\r\n{AUTH}Transfer-Encoding: gzip, chunked\r\n\r\n"
            ),
            501,
            "Unsupported Transfer-Encoding.",
        ),
        (
            "bad Content-Length",
            format!("POST /ari/asterisk/info HTTP/1.1\r\n{AUTH}Content-Length: -3\r\n\r\n"),
            400,
            "Invalid Content-Length in request!",
        ),
    ] {
        let mut stream = connect(&wari);
        stream.write_all(request.as_bytes()).expect("send");
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, status, "{what}: {reply:?}");
        // Asterisk writes the message on an HTML page; wari gives it as an ARI error.
        assert_eq!(
            reply.header("content-type"),
            Some("application/json"),
            "{what}"
        );
        let body: serde_json::Value = serde_json::from_str(&reply.body).expect("a JSON body");
        assert_eq!(body["message"], message, "{what}: {reply:?}");
        assert_eq!(reply.header("connection"), Some("close"), "{what}");
        assert!(closed(&mut stream), "{what}: the connection closes");
    }
    // The line just within the limit is served.
    let line = request_line(4095);
    let reply = exchange(
        &wari,
        format!("{line}{AUTH}Connection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
    let log = wari.log();
    assert!(
        log.lines()
            .filter(|l| l.contains("HTTP request refused"))
            .count()
            >= 6,
        "every refusal is logged:\n{log}"
    );
}

#[test]
fn targets_that_are_not_paths_are_not_found() {
    let wari = Wari::start_default();
    // Asterisk 23.4.1: 404 with its "not found" page for `*`, absolute URLs and paths
    // without the leading slash; the connection stays open.
    for target in [
        "*",
        "http://127.0.0.1/ari/asterisk/info",
        "ari/asterisk/info",
    ] {
        let mut stream = connect(&wari);
        stream
            .write_all(format!("OPTIONS {target} HTTP/1.1\r\n{AUTH}\r\n").as_bytes())
            .expect("send");
        let reply = read_response(&mut stream);
        assert_eq!(reply.status, 404, "{target}: {reply:?}");
        assert_eq!(reply.header("content-type"), Some("text/html"));
        assert!(
            reply
                .body
                .contains("The requested URL was not found on this server.")
        );
        stream
            .write_all(
                format!("GET /ari/asterisk/info?only=build HTTP/1.1\r\n{AUTH}\r\n").as_bytes(),
            )
            .expect("send");
        assert_eq!(
            read_response(&mut stream).status,
            200,
            "{target}: kept open"
        );
    }
}

#[test]
fn keep_alive_and_pipelining_go_on_across_rebuilt_heads() {
    let wari = Wari::start_default();
    let mut stream = connect(&wari);
    // Three requests in one write: a clean one with a body, one whose target and method are
    // rebuilt and whose body is chunked, and an HTTP/1.0 one (Asterisk keeps the connection
    // open without Connection: keep-alive).
    let body = r#"{"variable":"PIPE","value":"one"}"#;
    let pipelined = format!(
        "POST /ari/asterisk/variable HTTP/1.1\r\n{AUTH}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}\
         post /ari/asterisk/variable?variable=PIPE2&value=<two> HTTP/1.1\r\n{AUTH}Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
         GET /ari/asterisk/variable?variable=PIPE HTTP/1.0\r\n{AUTH}\r\n",
        body.len()
    );
    stream.write_all(pipelined.as_bytes()).expect("send");
    assert_eq!(read_response(&mut stream).status, 204);
    assert_eq!(read_response(&mut stream).status, 204);
    let third = read_response(&mut stream);
    assert_eq!(third.json()["value"], "one");
    stream
        .write_all(
            format!("GET /ari/asterisk/variable?variable=PIPE2 HTTP/1.1\r\n{AUTH}\r\n").as_bytes(),
        )
        .expect("send");
    assert_eq!(read_response(&mut stream).json()["value"], "<two>");
}

#[test]
fn the_refusal_marker_cannot_be_sent_by_a_client() {
    let wari = Wari::start_default();
    let reply = exchange(
        &wari,
        format!("GET /ari/asterisk/info?only=build HTTP/1.1\r\n{AUTH}X-Wari-Refused: too-many-headers\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(reply.status, 200, "{reply:?}");
}

#[test]
fn a_connection_goes_on_as_http_after_a_refused_upgrade() {
    let wari = Wari::start_default();
    let mut stream = connect(&wari);
    // Asterisk 23.4.1 answers a bogus subprotocol with 400 and keeps the connection.
    stream
        .write_all(format!("GET /ari/events?app=up HTTP/1.1\r\n{AUTH}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: bogus\r\n\r\n").as_bytes())
        .expect("send");
    assert_eq!(read_response(&mut stream).status, 400);
    stream
        .write_all(
            format!("get /ari/asterisk/variable?variable=X&x=<y> HTTP/1.1\r\n{AUTH}\r\n")
                .as_bytes(),
        )
        .expect("send");
    let reply = read_response(&mut stream);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.json()["value"], "");
}
