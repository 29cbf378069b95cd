//! Soak with hostile tenants (issue 14): for `WARI_SOAK_SECONDS` (30 by default here) a
//! normal tenant's calls cycle through its WebAssembly app (`ivr`: the caller presses 2 and
//! is hung up as busy) and its WebSocket app (the test hangs each call up on StasisStart),
//! while another user, `evil`, at the same time
//!
//! - calls its own blocking guest (`sleeper`: an hour in a WASI sleep) and its key bomb
//!   (`kv-bomb`: fills the key-value store until the host stops it), several times a second,
//! - keeps slow-body connections open (a request body trickled one byte every 200 ms),
//! - floods event WebSockets (up to [`FLOOD_SOCKETS`] at once, dropped and opened again;
//!   its default `max_websockets` of 10 refuses the rest).
//!
//! At the end: every normal call completed (originate answered 200, the IVR hung up as busy,
//! the WebSocket app saw StasisStart and StasisEnd, the channel was destroyed); every hostile
//! call ended too (its app's failures counted); no channel is left; wari's RSS comes back to
//! within 10% of the plateau measured after the warm-up. Time and counts are bounded.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::soak::{RssWatch, next_json, soak_duration};
use crate::support::{Reply, Wari, client, eventually};
use crate::wasm_apps::component;
use crate::wasm_upload::upload;

/// Calls one worker makes at most, whatever the duration.
const MAX_CALLS_PER_WORKER: u64 = 5_000;
/// How long one call may take to end before it counts as stuck.
const CALL_LIMIT: Duration = Duration::from_secs(15);
/// Event WebSockets the flooder tries to hold at once.
const FLOOD_SOCKETS: usize = 150;
/// Slow-body connections the attacker keeps open at once.
const SLOW_BODIES: usize = 10;

const HTTP: &str = "[general]\nenabled = yes\nbindaddr = 127.0.0.1\nbindport = 0\n\
                    session_inactivity = 1500\n";
/// `asterisk` is the operator (the checks at the end), `tenant` the normal tenant, `evil`
/// the hostile one.
const ARI: &str = "[general]\nenabled = yes\n\n\
                   [asterisk]\ntype = user\npassword = secret\nadmin = yes\n\n\
                   [tenant]\ntype = user\npassword = tenantpw\n\n\
                   [evil]\ntype = user\npassword = evilpw\n";
/// Short guest limits so that each hostile call ends quickly.
const WASM: &str = "[general]\nevent_timeout_ms = 500\nkv_max_keys = 256\n";
/// Basic credentials for `evil:evilpw`.
const EVIL_AUTH: &str = "Authorization: Basic ZXZpbDpldmlscHc=\r\n";

/// Channel ends seen on the watcher socket (subscribeAll), by channel id, with the cause.
#[derive(Default)]
struct Ends {
    destroyed: Mutex<HashMap<String, u64>>,
    changed: Notify,
}

impl Ends {
    /// Waits until `id` is destroyed, at most [`CALL_LIMIT`]; its hangup cause.
    async fn wait(&self, id: &str) -> Option<u64> {
        let deadline = tokio::time::Instant::now() + CALL_LIMIT;
        loop {
            let notified = self.changed.notified();
            if let Some(cause) = self.destroyed.lock().expect("ends").remove(id) {
                return Some(cause);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return None;
            }
        }
    }
}

/// What the calls did, per kind ("ivr", "desk", "sleepy", "bomb").
#[derive(Default)]
struct Tally {
    completed: HashMap<&'static str, u64>,
    problems: Vec<String>,
}

struct Soak {
    wari: Wari,
    ends: Ends,
    tally: Mutex<Tally>,
    /// The WebSocket app's StasisStart and StasisEnd, by channel id.
    desk_started: Mutex<HashSet<String>>,
    desk_ended: Mutex<HashSet<String>>,
    stop: AtomicBool,
    next_id: AtomicU64,
}

impl Soak {
    fn problem(&self, text: String) {
        self.tally.lock().expect("tally").problems.push(text);
    }
}

/// One user's calls of one kind, one after another, until the soak stops: originate into
/// `app`, wait for the channel's end, check its cause (`busy`: the IVR's 17).
async fn caller(
    soak: Arc<Soak>,
    kind: &'static str,
    user: (&'static str, &'static str),
    endpoint_suffix: &'static str,
    busy: bool,
) {
    let http = client();
    for _ in 0..MAX_CALLS_PER_WORKER {
        if soak.stop.load(Ordering::Relaxed) {
            break;
        }
        let id = format!("{kind}-{}", soak.next_id.fetch_add(1, Ordering::Relaxed));
        let url = soak.wari.url(&format!(
            "/ari/channels?endpoint=Test/{id}{endpoint_suffix}&app={kind}&channelId={id}"
        ));
        let status = match http.post(url).basic_auth(user.0, Some(user.1)).send().await {
            Ok(response) => response.status(),
            Err(error) => {
                soak.problem(format!("{id}: originate failed: {error}"));
                continue;
            }
        };
        if status != StatusCode::OK {
            soak.problem(format!("{id}: originate answered {status}"));
            continue;
        }
        match soak.ends.wait(&id).await {
            None => soak.problem(format!("{id}: not destroyed within {CALL_LIMIT:?}")),
            Some(cause) if busy && cause != 17 => {
                soak.problem(format!("{id}: cause {cause}, the IVR hangs up as busy"))
            }
            Some(_) => {
                *soak
                    .tally
                    .lock()
                    .expect("tally")
                    .completed
                    .entry(kind)
                    .or_default() += 1
            }
        }
    }
}

/// Reads every channel's destruction and wakes the callers.
async fn watcher(soak: Arc<Soak>, mut socket: crate::soak::Socket) {
    while !soak.drained() {
        let Some(event) = next_json(&mut socket, Duration::from_millis(500)).await else {
            continue;
        };
        if event["type"] == "ChannelDestroyed"
            && let Some(id) = event["channel"]["id"].as_str()
        {
            let cause = event["cause"].as_u64().unwrap_or(0);
            soak.ends
                .destroyed
                .lock()
                .expect("ends")
                .insert(id.to_string(), cause);
            soak.ends.changed.notify_waiters();
        }
    }
}

impl Soak {
    /// Set once every caller has ended: the watcher and the desk may stop.
    fn drained(&self) -> bool {
        self.next_id.load(Ordering::Relaxed) == u64::MAX
    }
}

/// The normal tenant's WebSocket app: hangs each call up on StasisStart.
async fn desk(soak: Arc<Soak>, mut socket: crate::soak::Socket) {
    let http = client();
    while !soak.drained() {
        let Some(event) = next_json(&mut socket, Duration::from_millis(500)).await else {
            continue;
        };
        let id = event["channel"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match event["type"].as_str() {
            Some("StasisStart") => {
                soak.desk_started.lock().expect("desk").insert(id.clone());
                let status = http
                    .delete(soak.wari.url(&format!("/ari/channels/{id}")))
                    .basic_auth("tenant", Some("tenantpw"))
                    .send()
                    .await
                    .map(|r| r.status());
                if !matches!(status, Ok(StatusCode::NO_CONTENT)) {
                    soak.problem(format!("{id}: the desk's hangup answered {status:?}"));
                }
            }
            Some("StasisEnd") => {
                soak.desk_ended.lock().expect("desk").insert(id);
            }
            _ => {}
        }
    }
}

/// Keeps [`SLOW_BODIES`] connections each trickling a request body one byte every 200 ms
/// until wari closes it (its `session_inactivity` is 1.5 s), then opens another. Returns how
/// many connections wari closed, and how many of those answered 408.
async fn slow_bodies(soak: Arc<Soak>) -> (u64, u64) {
    let one = |soak: Arc<Soak>| async move {
        let (mut closed, mut timed_out) = (0u64, 0u64);
        while !soak.stop.load(Ordering::Relaxed) {
            let Ok(mut stream) = TcpStream::connect(soak.wari.addr()).await else {
                continue;
            };
            let head = format!(
                "POST /ari/asterisk/variable?variable=SLOW HTTP/1.1\r\nHost: x\r\n{EVIL_AUTH}\
                 Content-Type: application/json\r\nContent-Length: 10000\r\n\r\n"
            );
            if stream.write_all(head.as_bytes()).await.is_err() {
                continue;
            }
            let mut answer = Vec::new();
            let mut buf = [0u8; 1024];
            // At most 10,000 drips (the body's length) or 20 s.
            let until = Instant::now() + Duration::from_secs(20);
            for _ in 0..10_000 {
                if Instant::now() > until {
                    break;
                }
                match tokio::time::timeout(Duration::from_millis(200), stream.read(&mut buf)).await
                {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                    Err(_) => {
                        if stream.write_all(b" ").await.is_err() {
                            break;
                        }
                    }
                }
            }
            closed += 1;
            if answer.starts_with(b"HTTP/1.1 408") {
                timed_out += 1;
            }
        }
        (closed, timed_out)
    };
    let tasks: Vec<_> = (0..SLOW_BODIES)
        .map(|_| tokio::spawn(one(soak.clone())))
        .collect();
    let mut total = (0, 0);
    for task in tasks {
        let (closed, timed_out) = task.await.expect("slow body task");
        total.0 += closed;
        total.1 += timed_out;
    }
    total
}

/// Opens event WebSockets as `evil` (each for a new application name) until
/// [`FLOOD_SOCKETS`] are open or wari refuses, holds them a second, drops them all, again
/// until the soak stops. Returns the most sockets held at once and how many were refused.
async fn socket_flood(soak: Arc<Soak>) -> (usize, u64) {
    let (mut most, mut refused) = (0usize, 0u64);
    let mut round = 0u64;
    while !soak.stop.load(Ordering::Relaxed) {
        round += 1;
        let mut held = Vec::new();
        for n in 0..FLOOD_SOCKETS {
            if soak.stop.load(Ordering::Relaxed) {
                break;
            }
            let url = format!(
                "ws://{}/ari/events?app=flood-{round}-{n}&api_key=evil:evilpw",
                soak.wari.addr()
            );
            match tokio::time::timeout(
                Duration::from_secs(2),
                tokio_tungstenite::connect_async(url),
            )
            .await
            {
                Ok(Ok((socket, _))) => held.push(socket),
                _ => {
                    refused += 1;
                    break;
                }
            }
        }
        most = most.max(held.len());
        // Hold them while the others work; wake early when the soak stops.
        let stop_check = async {
            for _ in 0..10 {
                if soak.stop.load(Ordering::Relaxed) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        stop_check.await;
        drop(held);
    }
    (most, refused)
}

async fn deploy(wari: &Wari, user: (&str, &str), name: &str, file: &str) {
    let Reply { status, body, .. } = upload(wari, name, user, component(file)).await;
    assert_eq!(status, StatusCode::CREATED, "deploy {name}: {body}");
}

async fn socket(wari: &Wari, query: &str) -> crate::soak::Socket {
    let url = format!("ws://{}/ari/events?{query}", wari.addr());
    tokio_tungstenite::connect_async(url)
        .await
        .expect("events WebSocket")
        .0
}

#[tokio::test]
async fn hostile_tenants_cannot_stop_a_normal_tenants_calls() {
    let duration = soak_duration(30);
    let wari = Wari::start(&[("http.conf", HTTP), ("ari.conf", ARI), ("wasm.conf", WASM)]);
    const TENANT: (&str, &str) = ("tenant", "tenantpw");
    const EVIL: (&str, &str) = ("evil", "evilpw");
    deploy(&wari, TENANT, "ivr", "ivr").await;
    deploy(&wari, EVIL, "sleepy", "sleeper").await;
    deploy(&wari, EVIL, "bomb", "kv-bomb").await;
    let pid = wari.pid();
    let watch = socket(&wari, "app=watch&subscribeAll=true&api_key=tenant:tenantpw").await;
    let desk_socket = socket(&wari, "app=desk&api_key=tenant:tenantpw").await;

    let soak = Arc::new(Soak {
        wari,
        ends: Ends::default(),
        tally: Mutex::new(Tally::default()),
        desk_started: Mutex::new(HashSet::new()),
        desk_ended: Mutex::new(HashSet::new()),
        stop: AtomicBool::new(false),
        next_id: AtomicU64::new(0),
    });
    let watcher = tokio::spawn(watcher(soak.clone(), watch));
    let desk = tokio::spawn(desk(soak.clone(), desk_socket));
    let mut callers = Vec::new();
    for _ in 0..3 {
        callers.push(tokio::spawn(caller(
            soak.clone(),
            "ivr",
            TENANT,
            "/dtmf=2",
            true,
        )));
        callers.push(tokio::spawn(caller(
            soak.clone(),
            "desk",
            TENANT,
            "",
            false,
        )));
    }
    for _ in 0..2 {
        callers.push(tokio::spawn(caller(
            soak.clone(),
            "sleepy",
            EVIL,
            "",
            false,
        )));
        callers.push(tokio::spawn(caller(soak.clone(), "bomb", EVIL, "", false)));
    }
    let slow = tokio::spawn(slow_bodies(soak.clone()));
    let flood = tokio::spawn(socket_flood(soak.clone()));

    let rss = RssWatch::run(pid, duration).await;
    soak.stop.store(true, Ordering::Relaxed);
    for caller in callers {
        tokio::time::timeout(CALL_LIMIT * 2, caller)
            .await
            .expect("every caller ends")
            .expect("caller");
    }
    let (slow_closed, slow_408) = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("slow bodies end")
        .expect("slow bodies");
    let (most_sockets, sockets_refused) = tokio::time::timeout(Duration::from_secs(30), flood)
        .await
        .expect("the flood ends")
        .expect("flood");
    soak.next_id.store(u64::MAX, Ordering::Relaxed);
    watcher.await.expect("watcher");
    desk.await.expect("desk");

    eventually("every channel gone", Duration::from_secs(10), || async {
        let channels = soak.wari.get("/ari/channels").await.body;
        if channels.as_array().is_some_and(Vec::is_empty) {
            Ok(())
        } else {
            Err(channels.to_string())
        }
    })
    .await;

    let tally = std::mem::take(&mut *soak.tally.lock().expect("tally"));
    let count = |kind: &str| tally.completed.get(kind).copied().unwrap_or(0);
    eprintln!(
        "soak_tenants: {duration:?}: normal ivr {} desk {}; hostile sleepy {} bomb {}; \
         slow bodies closed {slow_closed} ({slow_408} with 408); sockets held at most \
         {most_sockets}, refused {sockets_refused}",
        count("ivr"),
        count("desk"),
        count("sleepy"),
        count("bomb"),
    );
    assert!(tally.problems.is_empty(), "{:#?}", tally.problems);
    assert!(
        count("ivr") + count("desk") >= 10 * duration.as_secs(),
        "too few normal calls for a soak: {:?}",
        tally.completed
    );
    {
        let started = soak.desk_started.lock().expect("desk");
        let ended = soak.desk_ended.lock().expect("desk");
        assert_eq!(started.len() as u64, count("desk"), "desk StasisStart");
        assert_eq!(ended.len() as u64, count("desk"), "desk StasisEnd");
    }
    let ivr: Value = soak.wari.get("/ari/wasm/ivr").await.body;
    assert_eq!(ivr["sessions_started"], count("ivr"), "{ivr}");
    assert_eq!(ivr["failures"]["total"], 0, "{ivr}");
    let sleepy = soak.wari.get("/ari/wasm/sleepy").await.body;
    assert_eq!(sleepy["failures"]["timeouts"], count("sleepy"), "{sleepy}");
    let bomb = soak.wari.get("/ari/wasm/bomb").await.body;
    assert_eq!(bomb["failures"]["total"], count("bomb"), "{bomb}");
    assert!(
        count("sleepy") > 0 && count("bomb") > 0,
        "{:?}",
        tally.completed
    );
    assert!(
        slow_408 > 0,
        "no slow body was timed out: {slow_closed} closed"
    );
    // ari.conf's default max_websockets (10) stops the flood long before sessionlimit.
    assert!(
        most_sockets <= 10 && sockets_refused > 0,
        "sockets held at most {most_sockets}, refused {sockets_refused}"
    );

    rss.assert_settles(pid, "soak_tenants").await;
}
