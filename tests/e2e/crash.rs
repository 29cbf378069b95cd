//! Crash tests: wari is killed with SIGKILL in the middle of an app upload and restarted on
//! the same data directory. Nothing half-written may be served afterwards: `GET /ari/wasm`
//! lists only complete apps (their checksum and size are those of a full upload) and an app
//! stored before the crash still takes calls.
//!
//! `kill -9` during a recording is tested with the other recording tests, in
//! tests/e2e/media.rs.

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{EVENT_TIMEOUT, EventSocket, Wari, client};
use crate::wasm_apps::component;

const DIALPLAN: &str = "[default]\nexten => 700,1,Stasis(good)\n same => n,Hangup()\n";

/// Opens a raw upload of `total` bytes to `PUT /ari/wasm/{name}` and writes the headers and
/// the first `send` bytes of `body`. The connection is returned open (the request is not
/// finished unless `send == body.len()`).
async fn raw_upload(wari: &Wari, name: &str, body: &[u8], send: usize) -> TcpStream {
    let mut stream = TcpStream::connect(wari.addr()).await.expect("connect");
    let head = format!(
        "PUT /ari/wasm/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Basic YXN0ZXJpc2s6c2VjcmV0\r\n\
         Content-Type: application/wasm\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("headers");
    // In chunks, so that the server is reading the body while it arrives. A loopback
    // socket buffers far less than the 1 MB sent, so once these writes return wari has
    // read most of it.
    for chunk in body[..send].chunks(64 * 1024) {
        tokio::time::timeout(EVENT_TIMEOUT, stream.write_all(chunk))
            .await
            .expect("wari reads the body")
            .expect("body chunk");
    }
    stream
}

async fn list(wari: &Wari) -> Vec<Value> {
    let reply = wari.get("/ari/wasm").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body.as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn kill_9_during_an_upload_serves_no_half_written_app() {
    let mut wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    // A complete app from before the crash.
    let good = component("ivr");
    let response = client()
        .put(wari.url("/ari/wasm/good"))
        .basic_auth("asterisk", Some("secret"))
        .header("Content-Type", "application/wasm")
        .body(good.clone())
        .send()
        .await
        .expect("upload good");
    assert_eq!(response.status(), StatusCode::CREATED);
    let good_sha = response.json::<Value>().await.expect("json")["sha256"].clone();

    // One upload stops half-way through its body; another has sent its whole body (wari
    // is receiving, compiling or storing it) when the process is killed.
    let big = component("bench-2mb");
    let _half = raw_upload(&wari, "partial", &big, big.len() / 2).await;
    let late_body = component("forward");
    let _late = raw_upload(&wari, "late", &late_body, late_body.len()).await;
    wari.stop_with("KILL");

    let wari = wari.restart();
    let apps = list(&wari).await;
    let names: Vec<&str> = apps.iter().filter_map(|a| a["name"].as_str()).collect();
    assert!(
        names.contains(&"good"),
        "the earlier app survives: {apps:?}"
    );
    assert!(
        !names.contains(&"partial"),
        "a half-received upload is not served: {apps:?}"
    );
    for app in &apps {
        let (expected_sha, expected_size) = match app["name"].as_str() {
            Some("good") => (good_sha.clone(), good.len()),
            // Killed after its body arrived: either absent or complete.
            Some("late") => (Value::String(sha256_hex(&late_body)), late_body.len()),
            other => panic!("unexpected app {other:?} after the crash: {apps:?}"),
        };
        assert_eq!(app["sha256"], expected_sha, "{app}");
        assert_eq!(app["size"], expected_size, "{app}");
        assert_eq!(app["status"], "ready", "{app}");
    }

    // The earlier app still runs: pressing 2 hangs up as busy.
    let mut ws =
        EventSocket::connect(&wari, "app=watch&subscribeAll=true&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/channels?endpoint=Test/after/dtmf=2&app=good&channelId=after")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(ws.next_for("ChannelDestroyed", "after").await["cause"], 17);

    // The interrupted name is free: a full upload now succeeds.
    let response = client()
        .put(wari.url("/ari/wasm/partial"))
        .basic_auth("asterisk", Some("secret"))
        .header("Content-Type", "application/wasm")
        .body(component("trap"))
        .send()
        .await
        .expect("upload again");
    assert_eq!(response.status(), StatusCode::CREATED);
}

/// The hex SHA-256 of `bytes`, as wari reports it.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
