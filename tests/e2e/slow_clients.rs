//! Slow and idle clients (issue 14, item 1): a request must arrive whole (head and body)
//! within `session_inactivity`, and a connection waits at most `session_keep_alive` for its
//! next request. Clients that trickle bytes cannot hold a `sessionlimit` slot for long.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::Wari;

/// Short limits so the test takes a couple of seconds: 1.2 s per request, 0.3 s idle.
const HTTP: &str = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n\
                    sessionlimit = 5\nsession_inactivity = 1200\nsession_keep_alive = 300\n";

/// The most time a test connection is given to be closed by wari.
const GIVE_UP: Duration = Duration::from_secs(10);

/// Basic credentials for `asterisk:secret`.
const AUTH: &str = "Authorization: Basic YXN0ZXJpc2s6c2VjcmV0\r\n";

/// Sends `head`, then `drip` one byte every 100 ms (at most [`GIVE_UP`]), reading whatever
/// wari answers; returns how long after the first byte wari closed the connection, and what
/// it answered.
async fn closed_after(wari: &Wari, head: &str, drip: bool) -> (Duration, String) {
    let mut stream = TcpStream::connect(wari.addr()).await.expect("connect");
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut buf = [0u8; 4096];
    let mut answer = Vec::new();
    while started.elapsed() < GIVE_UP {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (started.elapsed(), String::from_utf8_lossy(&answer).into());
            }
            Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]), // then wait for the close
            Err(_) => {
                if drip && stream.write_all(b"x").await.is_err() {
                    return (started.elapsed(), String::from_utf8_lossy(&answer).into());
                }
            }
        }
    }
    panic!("connection still open after {GIVE_UP:?}: {head:?}");
}

#[tokio::test]
async fn slow_requests_and_idle_connections_are_closed_in_time() {
    let wari = Wari::with(&[("http.conf", HTTP)]);
    let body_head = |auth: &str| {
        format!(
            "POST /ari/asterisk/variable?variable=V HTTP/1.1\r\nHost: x\r\n{auth}\
             Content-Type: application/json\r\nContent-Length: 40000\r\n\r\n"
        )
    };
    let slow_body = body_head("");
    let slow_body_authed = body_head(AUTH);
    let idle_after_request = format!("GET /ari/asterisk/ping HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n");
    let slow_upload = format!(
        "PUT /ari/wasm/slow HTTP/1.1\r\nHost: x\r\n{AUTH}\
         Content-Type: application/wasm\r\nContent-Length: 100000\r\n\r\n"
    );
    // Five slow clients at once hold every slot (sessionlimit = 5) until their deadlines.
    let (unauthed, authed, upload, slow_head, idle) = tokio::join!(
        closed_after(&wari, &slow_body, true),
        closed_after(&wari, &slow_body_authed, true),
        closed_after(&wari, &slow_upload, true),
        closed_after(&wari, "GET /ari/asterisk/ping HTTP/1.1\r\nHo", true),
        closed_after(&wari, &idle_after_request, false),
    );
    for (what, (took, answer)) in [
        ("slow body without credentials", &unauthed),
        ("slow body with credentials", &authed),
        ("slow component upload", &upload),
        ("slow head", &slow_head),
    ] {
        assert!(
            *took >= Duration::from_millis(1000) && *took < Duration::from_millis(2500),
            "{what}: closed after {took:?}, session_inactivity is 1.2 s; answer {answer:?}"
        );
    }
    for (what, (_, answer)) in [
        ("unauthenticated", &unauthed),
        ("authenticated", &authed),
        ("upload", &upload),
    ] {
        assert!(
            answer.starts_with("HTTP/1.1 408"),
            "{what} slow body: {answer:?}"
        );
    }
    let (idle, answer) = idle;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        idle < Duration::from_millis(1000),
        "idle keep-alive connection closed after {idle:?}: session_keep_alive (0.3 s), \
         not session_inactivity (1.2 s)"
    );

    // The slots are free again: a legitimate client is served, and a request that arrives
    // in pieces within the limit is served too.
    let reply = crate::support::client()
        .get(wari.url("/ari/asterisk/ping"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("ping");
    assert_eq!(reply.status(), 200);
    let mut stream = TcpStream::connect(wari.addr()).await.expect("connect");
    let body = r#"{"variable":"V","value":"pieces"}"#;
    let head = format!(
        "POST /ari/asterisk/variable HTTP/1.1\r\nHost: x\r\n{AUTH}\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let (first, second) = body.split_at(10);
    stream.write_all(first.as_bytes()).await.expect("body");
    tokio::time::sleep(Duration::from_millis(300)).await; // a slow but timely client
    stream.write_all(second.as_bytes()).await.expect("body");
    let mut response = Vec::new();
    tokio::time::timeout(GIVE_UP, stream.read_to_end(&mut response))
        .await
        .expect("answered")
        .expect("read");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
}
