//! An app's own log (`GET /ari/wasm/{app}/logs`, `wari app logs`): its guest log lines, the
//! events its sessions get, its sessions and failures, for its owner or an admin; followed
//! live (`follow=true`, and the real `wari app logs -f`) until the app is deleted, however
//! quiet it is meanwhile; a follower counts against the user's `max_websockets`; the ring
//! stays bounded under a log flood and a follower that cannot keep up is told what it missed.
//!
//! The components are built by `scripts/build-guests` (scripts/test runs it and exports
//! `WARI_GUESTS_DIR`).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{EventSocket, Reply, Wari, client, eventually, wari_command};
use crate::wasm_apps::deploy;

/// Short keep-alive and request deadlines: a follower must outlive them while it is quiet.
const HTTP_CONF: &str = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n\
    session_keep_alive = 300\nsession_inactivity = 500\n";

/// `asterisk` owns the apps (and may hold 2 long connections); `other` is another tenant;
/// `boss` an admin; `viewer` read-only.
const ARI_CONF: &str = "[general]\nenabled = yes\n\n\
    [asterisk]\ntype = user\npassword = secret\nmax_websockets = 2\n\n\
    [other]\ntype = user\npassword = other\n\n\
    [boss]\ntype = user\npassword = boss\nadmin = yes\n\n\
    [viewer]\ntype = user\npassword = look\nread_only = yes\n";

/// How long a log entry may take to show up.
const WAIT: Duration = Duration::from_secs(10);

/// `GET /ari/wasm/{app}/logs?{query}` as `user`.
async fn logs(wari: &Wari, app: &str, query: &str, user: (&str, &str)) -> Reply {
    let path = format!("/ari/wasm/{app}/logs?{query}");
    wari.ari_as(user, Method::GET, &path, None).await
}

const OWNER: (&str, &str) = ("asterisk", "secret");

/// A followed log read over HTTP, one JSON entry per line.
struct Follower {
    response: reqwest::Response,
    pending: Vec<u8>,
}

impl Follower {
    async fn open(wari: &Wari, app: &str, query: &str) -> Follower {
        let response = client()
            .get(wari.url(&format!("/ari/wasm/{app}/logs?follow=true&{query}")))
            .basic_auth(OWNER.0, Some(OWNER.1))
            .send()
            .await
            .expect("follow request");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().ok(),
            Some("application/x-ndjson")
        );
        Follower {
            response,
            pending: Vec::new(),
        }
    }

    /// The next entry; `None` when the stream ended (panics after [`WAIT`] without one).
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("a JSON entry per line"));
            }
            let chunk = tokio::time::timeout(WAIT, self.response.chunk())
                .await
                .expect("an entry (or the end) within the timeout")
                .expect("the stream reads");
            match chunk {
                Some(bytes) => self.pending.extend_from_slice(&bytes),
                None => {
                    assert!(self.pending.is_empty(), "a partial line at the end");
                    return None;
                }
            }
        }
    }

    /// Entries up to and including the first `done` accepts (at most 200).
    async fn until(&mut self, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        for _ in 0..200 {
            let entry = self.next().await.unwrap_or_else(|| {
                panic!("the stream ended before the awaited entry; seen: {seen:#?}")
            });
            let last = done(&entry);
            seen.push(entry);
            if last {
                return seen;
            }
        }
        panic!("not the awaited entry among 200: {seen:#?}");
    }
}

fn is_event(entry: &Value, event: &str) -> bool {
    entry["kind"] == "event" && entry["event"] == event
}

#[tokio::test]
async fn an_apps_log_shows_its_guest_lines_events_sessions_and_failures() {
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", "[general]\n"),
    ]);
    let app = deploy(&wari, "trap", "trap").await;
    let version = &app["sha256"].as_str().expect("sha256")[..12];
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/victim&app=trap&channelId=victim")
            .await
            .status,
        StatusCode::OK
    );
    let entries = eventually("the session's end in the app's log", WAIT, || async {
        let Reply {
            status,
            body: entries,
            ..
        } = logs(&wari, "trap", "", OWNER).await;
        let list = entries.as_array().cloned().unwrap_or_default();
        if status == StatusCode::OK && list.iter().any(|e| e["text"] == "ended: failed") {
            Ok(list)
        } else {
            Err(format!("{status} {entries:#}"))
        }
    })
    .await;
    let failures_last = wari.get("/ari/wasm/trap").await.body["failures"]["last"].clone();
    let find = |what: &str, check: &dyn Fn(&Value) -> bool| {
        entries
            .iter()
            .find(|e| check(e))
            .cloned()
            .unwrap_or_else(|| panic!("no {what} entry in {entries:#?}"))
    };
    let deployed = find("deploy", &|e| e["kind"] == "deploy");
    assert_eq!(deployed["session"], Value::Null);
    let started = find("session start", &|e| e["text"] == "started channel=victim");
    let session = started["session"].as_u64().expect("a session number");
    let event = find("StasisStart", &|e| is_event(e, "StasisStart"));
    assert_eq!(event["text"], "StasisStart channel=victim args=[]");
    let line = find("guest line", &|e| e["kind"] == "log");
    assert_eq!(line["text"], "trap: about to panic");
    assert_eq!(line["level"], "info");
    assert_eq!(line["stream"], "stdout");
    let failure = find("failure", &|e| e["kind"] == "failure");
    assert_eq!(
        failure["text"], failures_last["message"],
        "as failures.last"
    );
    assert!(
        failure["text"]
            .as_str()
            .is_some_and(|t| t.contains("trap: panicking on purpose in StasisStart of victim")),
        "{failure}"
    );
    for entry in [&started, &event, &line, &failure] {
        assert_eq!(entry["session"], session, "{entry}");
        assert_eq!(entry["app"], "trap");
        assert_eq!(entry["version"], version);
        assert!(
            entry["time"].as_str().is_some_and(|t| t.len() > 20),
            "{entry}"
        );
    }
    let position = |entry: &Value| entries.iter().position(|e| e == entry);
    assert!(position(&deployed) < position(&started));
    assert!(position(&line) < position(&failure), "oldest first");

    // ?lines=N gives the latest N; a bad N is refused with a message.
    let Reply {
        status,
        body: last_two,
        ..
    } = logs(&wari, "trap", "lines=2", OWNER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        last_two.as_array().map(Vec::as_slice),
        Some(&entries[entries.len() - 2..])
    );
    for bad in ["lines=many", "lines=-1"] {
        let Reply { status, body, .. } = logs(&wari, "trap", bad, OWNER).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("lines")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn only_the_owner_or_an_admin_reads_an_apps_log() {
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", "[general]\n"),
    ]);
    deploy(&wari, "ivr", "ivr").await;
    let Reply {
        status,
        body: entries,
        ..
    } = logs(&wari, "ivr", "", OWNER).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(entries[0]["kind"], "deploy", "{entries}");
    let Reply {
        status,
        body: admin,
        ..
    } = logs(&wari, "ivr", "", ("boss", "boss")).await;
    assert_eq!((status, &admin), (StatusCode::OK, &entries));
    for other in [("other", "other"), ("viewer", "look")] {
        for query in ["", "follow=true"] {
            let Reply { status, body, .. } = logs(&wari, "ivr", query, other).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{other:?} {query}");
            assert_eq!(
                body["message"],
                "WebAssembly app 'ivr' belongs to user 'asterisk': only its owner or an admin may read its log"
            );
        }
    }
    let Reply { status, body, .. } = logs(&wari, "nothing", "follow=true", OWNER).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["message"], "No WebAssembly app named 'nothing'");
    let Reply { status, .. } = logs(&wari, "ivr", "", ("asterisk", "wrong")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_follower_sees_a_call_as_it_runs_and_its_stream_ends_with_the_app() {
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", "[general]\n"),
    ]);
    deploy(&wari, "ivr", "ivr").await;
    let mut follower = Follower::open(&wari, "ivr", "lines=5").await;
    let backlog = follower.next().await.expect("the backlog");
    assert_eq!(backlog["kind"], "deploy");
    // Quiet for longer than session_keep_alive and session_inactivity: the follower stays.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/caller/dtmf=2&app=ivr&channelId=caller")
            .await
            .status,
        StatusCode::OK
    );
    let seen = follower
        .until(|e| e["kind"] == "session" && e["text"] == "ended: finished")
        .await;
    let texts: Vec<&str> = seen.iter().filter_map(|e| e["text"].as_str()).collect();
    let at = |text: &str| {
        texts
            .iter()
            .position(|t| *t == text)
            .unwrap_or_else(|| panic!("no {text:?} in {texts:#?}"))
    };
    let start = at("StasisStart channel=caller args=[]");
    let dtmf = at("ChannelDtmfReceived digit=2 channel=caller");
    let end = at("StasisEnd channel=caller");
    assert!(start < dtmf && dtmf < end, "in order: {texts:#?}");
    assert!(seen.iter().all(|e| e["app"] == "ivr"));

    assert_eq!(
        wari.delete("/ari/wasm/ivr").await.status,
        StatusCode::NO_CONTENT
    );
    let mut rest = Vec::new();
    while let Some(entry) = follower.next().await {
        rest.push(entry);
        assert!(rest.len() < 100, "{rest:#?}");
    }
    assert!(
        rest.iter()
            .any(|e| e["kind"] == "deploy" && e["text"] == "app deleted by user asterisk"),
        "{rest:#?}"
    );
}

#[tokio::test]
async fn wari_app_logs_follows_a_call_and_ends_when_the_app_is_deleted() {
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", "[general]\n"),
    ]);
    deploy(&wari, "ivr", "ivr").await;
    let home = tempfile::tempdir().expect("temp dir");
    let url = format!("http://{}", wari.addr());
    let cli = |extra: &[&str]| {
        let mut command = wari_command(home.path());
        command
            .args(["app", "logs", "ivr", "--url", &url, "--user", "asterisk"])
            .args(extra)
            .env("WARI_PASSWORD", "secret");
        command
    };
    let mut child = cli(&["-f", "--lines", "1000"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wari app logs -f");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + WAIT;
    let mut lines = Vec::new();
    let wait_for = |what: &str, lines: &mut Vec<String>| loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(what);
                lines.push(line);
                if found {
                    return;
                }
            }
            Err(e) => panic!(
                "no line with {what:?} ({e}); printed:\n{}",
                lines.join("\n")
            ),
        }
    };
    // The backlog's deploy line: the follower is listening.
    wait_for(" - deploy version ", &mut lines);
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/cli/dtmf=2&app=ivr&channelId=cli")
            .await
            .status,
        StatusCode::OK
    );
    wait_for(" event ChannelDtmfReceived digit=2 channel=cli", &mut lines);
    wait_for(" event StasisEnd channel=cli", &mut lines);
    let dtmf = lines
        .iter()
        .find(|l| l.contains("ChannelDtmfReceived"))
        .expect("the DTMF line");
    // `<time> <version> #<session> event ChannelDtmfReceived digit=2 channel=cli`
    let fields: Vec<&str> = dtmf.splitn(5, ' ').collect();
    assert_eq!(fields.len(), 5, "{dtmf}");
    assert!(fields[0].len() == 23 && fields[0].contains('T'), "{dtmf}");
    assert!(fields[1].len() == 12 && fields[1].chars().all(|c| c.is_ascii_hexdigit()));
    assert!(fields[2].starts_with('#'), "{dtmf}");
    assert_eq!(fields[3], "event");

    // Deleting the app ends the stream, and the command with success.
    assert_eq!(
        wari.delete("/ari/wasm/ivr").await.status,
        StatusCode::NO_CONTENT
    );
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    let output = done_rx
        .recv_timeout(WAIT)
        .expect("wari app logs -f ends with the app")
        .expect("wait");
    assert!(output.status.success(), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("the log of ivr ended"),
        "{output:?}"
    );

    // Without -f: the latest entries, and the server's refusal as an error.
    deploy(&wari, "ivr", "ivr").await;
    let printed = crate::support::run_limited(cli(&["--lines", "1"]), WAIT);
    assert!(printed.success, "{printed:?}");
    assert_eq!(printed.stdout.lines().count(), 1, "{printed:?}");
    assert!(printed.stdout.contains(" - deploy version "), "{printed:?}");
    let mut missing = wari_command(home.path());
    missing
        .args([
            "app", "logs", "nothing", "--url", &url, "--user", "asterisk",
        ])
        .env("WARI_PASSWORD", "secret");
    let refused = crate::support::run_limited(missing, WAIT);
    assert!(!refused.success);
    assert!(
        refused.stderr.contains("nothing is not deployed"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn log_followers_count_toward_max_websockets() {
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", "[general]\n"),
    ]);
    deploy(&wari, "ivr", "ivr").await;
    // asterisk may hold 2: an event WebSocket and a follower.
    let _events = EventSocket::connect(&wari, "app=mine&api_key=asterisk:secret").await;
    let first = Follower::open(&wari, "ivr", "lines=0").await;
    let Reply { status, body, .. } = logs(&wari, "ivr", "follow=true", OWNER).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        body["message"],
        "Too many long connections for this user: event WebSockets and log followers count together (max_websockets = 2)"
    );
    // Recent entries are no long connection; other users have their own count.
    assert_eq!(logs(&wari, "ivr", "", OWNER).await.status, StatusCode::OK);
    let _admin = {
        let response = client()
            .get(wari.url("/ari/wasm/ivr/logs?follow=true"))
            .basic_auth("boss", Some("boss"))
            .send()
            .await
            .expect("admin follower");
        assert_eq!(response.status(), StatusCode::OK);
        response
    };
    // A follower that goes away gives its place back.
    drop(first);
    let again = eventually("a new follower once the first left", WAIT, || async {
        let response = client()
            .get(wari.url("/ari/wasm/ivr/logs?follow=true&lines=0"))
            .basic_auth(OWNER.0, Some(OWNER.1))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match response.status() {
            StatusCode::OK => Ok(response),
            status => Err(status.to_string()),
        }
    })
    .await;
    drop(again);
}

#[tokio::test]
async fn a_log_flood_keeps_the_ring_bounded_and_a_slow_follower_is_told_what_it_missed() {
    // Thousands of the flood's lines pass the rate limit (3000 per second), and its
    // StasisStart may take long enough to write them all.
    let wari = Wari::with(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        (
            "wasm.conf",
            "[general]\nlog_lines_per_second = 3000\ncpu_ms_per_event = 20000\n\
         event_timeout_ms = 30000\n",
        ),
    ]);
    deploy(&wari, "flood", "log-flood").await;
    // A follower that reads nothing until the flood is over, with a small receive buffer.
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("buffer size");
    let mut slow = socket.connect(wari.addr()).await.expect("connect");
    let request = format!(
        "GET /ari/wasm/flood/logs?follow=true&lines=0&api_key=asterisk:secret HTTP/1.1\r\n\
         Host: {}\r\n\r\n",
        wari.addr()
    );
    slow.write_all(request.as_bytes()).await.expect("request");
    // Its head arrives once it is listening.
    let mut head = vec![0u8; 512];
    let n = tokio::time::timeout(WAIT, slow.read(&mut head))
        .await
        .expect("the head")
        .expect("read");
    assert!(
        String::from_utf8_lossy(&head[..n]).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&head[..n])
    );

    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/noisy&app=flood&channelId=noisy")
            .await
            .status,
        StatusCode::OK
    );
    // Once the flood runs, the caller hangs up: the session ends after the flood.
    eventually("the flood", WAIT, || async {
        let Reply { body: last, .. } = logs(&wari, "flood", "lines=1", OWNER).await;
        match last[0]["text"].as_str() {
            Some(text) if text.starts_with("log-flood: ") => Ok(()),
            _ => Err(last.to_string()),
        }
    })
    .await;
    assert_eq!(
        wari.delete("/ari/channels/noisy").await.status,
        StatusCode::NO_CONTENT
    );
    eventually("the session's end", WAIT, || async {
        let Reply { body: last, .. } = logs(&wari, "flood", "lines=1", OWNER).await;
        if last[0]["text"] == "ended: finished" {
            Ok(())
        } else {
            Err(last.to_string())
        }
    })
    .await;
    // The ring keeps the latest 1000 entries, whatever is asked for.
    let Reply {
        status, body: all, ..
    } = logs(&wari, "flood", "lines=100000", OWNER).await;
    assert_eq!(status, StatusCode::OK);
    let all = all.as_array().cloned().unwrap_or_default();
    assert_eq!(all.len(), 1000);
    let flood = all
        .iter()
        .filter(|e| {
            e["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("log-flood: "))
        })
        .count();
    assert!(
        flood >= 990,
        "the latest entries: the flood's last lines and the call's end"
    );
    let ended = "\"text\":\"ended: finished\"";

    // The slow follower now reads: it missed entries and is told how many.
    let mut received = Vec::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + WAIT;
    let text = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let n = tokio::time::timeout(left, slow.read(&mut buffer))
            .await
            .expect("the follower's entries within the timeout")
            .expect("read");
        assert!(n > 0, "the stream ended");
        received.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&received).into_owned();
        if text.contains(ended) {
            break text;
        }
    };
    let dropped: Vec<Value> = text
        .lines()
        .filter(|l| l.contains("\"kind\":\"dropped\""))
        .map(|l| serde_json::from_str(l).expect("a dropped entry"))
        .collect();
    assert!(!dropped.is_empty(), "no dropped entry");
    for entry in &dropped {
        let missed = entry["text"]
            .as_str()
            .and_then(|t| t.strip_suffix(" entries dropped: this follower read too slowly"))
            .and_then(|n| n.parse::<u64>().ok());
        assert!(missed.is_some_and(|n| n > 0), "{entry}");
        assert_eq!(entry["app"], "flood");
    }
    // wari kept serving meanwhile.
    assert_eq!(wari.get("/ari/asterisk/ping").await.body["ping"], "pong");
}
