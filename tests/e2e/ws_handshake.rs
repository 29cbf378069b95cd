//! The events WebSocket handshake, edge by edge, as Asterisk 23.4.1 answers it (every
//! expected value was observed there with the same request): the WebSocket layer's checks
//! (subprotocol, version, key) answer a bare 400 naming the versions it speaks, the events
//! resource's own (the `app` list) an error page, none with CORS headers; what Asterisk does
//! not check (`Connection`, the key's form, the subprotocol's case) does not refuse.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::Value;

use crate::support::Wari;

/// Read/write `asterisk`/`secret`, `viewer`/`look` read-only, `http://localhost:3000` allowed.
const ARI_CONF: &str = "[general]\nenabled = yes\nallowed_origins = http://localhost:3000\n\n[asterisk]\ntype = user\npassword = secret\n\n[viewer]\ntype = user\npassword = look\nread_only = yes\n";

const AUTH: &str = "Authorization: Basic YXN0ZXJpc2s6c2VjcmV0\r\n";
const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
const VERSION: &str = "Sec-WebSocket-Version: 13\r\n";
/// The accept value for [`KEY`].
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// A response head (and body, by Content-Length) as a client sees it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends `GET {target}` with `headers` on a fresh connection and reads the answer (a 101's
/// head only).
fn handshake(wari: &Wari, target: &str, headers: &str) -> Answer {
    handshake_kept(wari, target, headers).0
}

/// [`handshake`], with the connection kept (a switched one holds its applications).
fn handshake_kept(wari: &Wari, target: &str, headers: &str) -> (Answer, TcpStream) {
    let mut stream = TcpStream::connect(wari.addr()).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    stream
        .write_all(format!("GET {target} HTTP/1.1\r\nHost: h\r\n{headers}\r\n").as_bytes())
        .expect("send");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert!(head.len() < 16 * 1024, "head too long");
        assert_eq!(stream.read(&mut byte).expect("read"), 1, "closed: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut answer = Answer {
        status,
        headers,
        body: String::new(),
    };
    if status != 101 {
        let length: usize = answer
            .header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0u8; length];
        stream.read_exact(&mut body).expect("body");
        answer.body = String::from_utf8_lossy(&body).into_owned();
    }
    (answer, stream)
}

/// The WebSocket layer's refusal: 400, no body, no content type, the versions it speaks,
/// no CORS.
fn assert_bad_handshake(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 400, "{what}: {answer:?}");
    assert_eq!(answer.body, "", "{what}");
    assert_eq!(answer.header("content-type"), None, "{what}");
    assert_eq!(
        answer.header("sec-websocket-version"),
        Some("7, 8, 13"),
        "{what}"
    );
    assert_eq!(answer.header("access-control-allow-origin"), None, "{what}");
}

#[test]
fn handshakes_the_websocket_layer_refuses_get_its_bare_400() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    let origin = "Origin: http://localhost:3000\r\n";
    for (what, headers) in [
        (
            "bogus subprotocol",
            format!("{AUTH}{UPGRADE}{KEY}{VERSION}{origin}Sec-WebSocket-Protocol: bogus\r\n"),
        ),
        (
            "version 12",
            format!("{AUTH}{UPGRADE}{KEY}Sec-WebSocket-Version: 12\r\n"),
        ),
        (
            "version not a number",
            format!("{AUTH}{UPGRADE}{KEY}Sec-WebSocket-Version: abc\r\n"),
        ),
        ("no version", format!("{AUTH}{UPGRADE}{KEY}")),
        ("no key", format!("{AUTH}{UPGRADE}{VERSION}")),
        (
            "draft-76 keys with a subprotocol",
            format!(
                "{AUTH}{UPGRADE}{KEY}{VERSION}Sec-WebSocket-Protocol: ari\r\nSec-WebSocket-Key1: x\r\nSec-WebSocket-Key2: y\r\n"
            ),
        ),
    ] {
        assert_bad_handshake(&handshake(&wari, "/ari/events?app=hs", &headers), what);
    }
}

#[test]
fn handshakes_asterisk_accepts_switch_protocols() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    // Each on a name of its own: a read-only user cannot listen on a name another user's
    // socket still holds (app ownership).
    for (i, (what, headers, upgrade, protocol)) in [
        (
            "version 13",
            format!("{AUTH}{UPGRADE}{KEY}{VERSION}"),
            "websocket",
            None,
        ),
        (
            "version 8",
            format!("{AUTH}{UPGRADE}{KEY}Sec-WebSocket-Version: 8\r\n"),
            "websocket",
            None,
        ),
        (
            "version 7",
            format!("{AUTH}{UPGRADE}{KEY}Sec-WebSocket-Version: 7\r\n"),
            "websocket",
            None,
        ),
        (
            "version 13 and more",
            format!("{AUTH}{UPGRADE}{KEY}Sec-WebSocket-Version: 13, 8\r\n"),
            "websocket",
            None,
        ),
        (
            "no Connection header, Upgrade spelled otherwise",
            format!("{AUTH}Upgrade: WebSocket\r\n{KEY}{VERSION}"),
            "WebSocket",
            None,
        ),
        (
            "subprotocol in another case",
            format!("{AUTH}{UPGRADE}{KEY}{VERSION}Sec-WebSocket-Protocol: ARI\r\n"),
            "websocket",
            Some("ARI"),
        ),
        (
            "ari among others",
            format!("{AUTH}{UPGRADE}{KEY}{VERSION}Sec-WebSocket-Protocol: bogus, ari\r\n"),
            "websocket",
            Some("ari"),
        ),
        (
            "draft-76 keys without a subprotocol",
            format!(
                "{AUTH}{UPGRADE}{KEY}{VERSION}Sec-WebSocket-Key1: x\r\nSec-WebSocket-Key2: y\r\n"
            ),
            "websocket",
            None,
        ),
        (
            "read-only user",
            format!("Authorization: Basic dmlld2VyOmxvb2s=\r\n{UPGRADE}{KEY}{VERSION}"),
            "websocket",
            None,
        ),
        (
            "the last Upgrade header counts",
            format!("{AUTH}Upgrade: h2c\r\nUpgrade: websocket\r\n{KEY}{VERSION}"),
            "websocket",
            None,
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let answer = handshake(&wari, &format!("/ari/events?app=hs{i}"), &headers);
        assert_eq!(answer.status, 101, "{what}: {answer:?}");
        assert_eq!(answer.header("upgrade"), Some(upgrade), "{what}");
        assert_eq!(answer.header("connection"), Some("Upgrade"), "{what}");
        assert_eq!(
            answer.header("sec-websocket-accept"),
            Some(ACCEPT),
            "{what}"
        );
        assert_eq!(answer.header("sec-websocket-protocol"), protocol, "{what}");
    }
}

#[tokio::test]
async fn the_app_list_is_read_as_asterisk_reads_it() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    let headers = format!("{AUTH}{UPGRADE}{KEY}{VERSION}Origin: http://localhost:3000\r\n");
    // Missing or empty: 400 "HTTP request is missing param: [app]" (an HTML page).
    for target in [
        "/ari/events",
        "/ari/events?app=",
        "/ari/events?subscribeAll=yes",
    ] {
        let answer = handshake(&wari, target, &headers);
        assert_eq!(answer.status, 400, "{target}: {answer:?}");
        assert_eq!(answer.header("content-type"), Some("text/html"), "{target}");
        assert!(
            answer.body.contains("HTTP request is missing param: [app]"),
            "{target}: {answer:?}"
        );
        assert_eq!(answer.header("access-control-allow-origin"), None);
    }
    // A name that cannot be registered (empty, blank, over 73 characters): 500 "Stasis app
    // registration failed".
    let long = "a".repeat(74);
    for apps in [",", "a,,b", "a,", "%20", long.as_str()] {
        let target = format!("/ari/events?app={apps}");
        let answer = handshake(&wari, &target, &headers);
        assert_eq!(answer.status, 500, "{target}: {answer:?}");
        assert_eq!(answer.header("content-type"), Some("text/html"), "{target}");
        assert!(
            answer.body.contains("Stasis app registration failed"),
            "{target}: {answer:?}"
        );
    }
    // Blanks around names and quotes around one are removed; of two `app` parameters the
    // first counts; 73 characters are fine.
    let longest = "b".repeat(73);
    // Asterisk 23.4.1 registers `ha_one` and `ha_two,2` for
    // `app=+ha_one+,+%22ha_two,2%22&app=ha_three`.
    let target = format!("/ari/events?app=+one+,+%22two,2%22&app=three,{longest}");
    let (answer, _first) = handshake_kept(&wari, &target, &headers);
    assert_eq!(answer.status, 101, "{answer:?}");
    let (answer, _second) = handshake_kept(&wari, &format!("/ari/events?app={longest}"), &headers);
    assert_eq!(answer.status, 101, "{answer:?}");
    let apps = crate::support::client()
        .get(wari.url("/ari/applications"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("list")
        .json::<Value>()
        .await
        .expect("JSON");
    let mut names: Vec<&str> = apps
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|a| a["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(names, vec![longest.as_str(), "one", "two,2"]);
}

#[test]
fn the_events_resource_without_an_upgrade_is_a_bare_426() {
    let wari = Wari::with(&[("ari.conf", ARI_CONF)]);
    // Asterisk 23.4.1: 426 with an empty HTML page and no CORS headers, for a GET without
    // an Upgrade header and for another Upgrade than websocket; other methods are 405 with
    // `Allow: OPTIONS` (the GET is an upgrade, not a method).
    for headers in [
        format!("{AUTH}Origin: http://localhost:3000\r\n"),
        format!("{AUTH}Upgrade: h2c\r\nConnection: Upgrade\r\n{KEY}{VERSION}"),
    ] {
        let answer = handshake(&wari, "/ari/events?app=x", &headers);
        assert_eq!(answer.status, 426, "{answer:?}");
        assert_eq!(answer.header("content-type"), Some("text/html"));
        assert_eq!(answer.header("access-control-allow-origin"), None);
    }
    let mut stream = TcpStream::connect(wari.addr()).expect("connect");
    stream
        .write_all(
            format!("POST /ari/events?app=x HTTP/1.1\r\n{AUTH}{UPGRADE}{KEY}{VERSION}Connection: close\r\n\r\n")
                .as_bytes(),
        )
        .expect("send");
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
    assert!(text.to_lowercase().contains("allow: options\r\n"), "{text}");
}
