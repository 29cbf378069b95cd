//! Soak under faults: for `WARI_SOAK_SECONDS` (60 by default; longer by hand) calls cycle
//! through a WebAssembly app (`ivr`: each caller presses 2 and is hung up as busy) and a
//! WebSocket app (the test answers each StasisStart with a hangup), while
//!
//! - a slow WebSocket consumer (subscribed to everything, never reading) is connected,
//! - an outbound WebSocket peer keeps dropping its connection so that wari reconnects,
//! - a hostile component (`loop`, spinning in its first event) takes a call every second.
//!
//! At the end: every call is accounted for (each originate was answered 200 and its channel
//! was destroyed; the WebSocket app saw StasisStart and StasisEnd for each of its calls, the
//! IVR hung up each of its calls as busy and started one session per call, the hostile app
//! failed once per call), no channel is left, and wari's RSS returns to within 10% of the
//! plateau of the first two fifths of the run. Both the time and the number of calls are bounded.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::support::{ARI_CONF, Wari, client, eventually};
use crate::wasm_apps::component;

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Calls of one kind at most, whatever the duration.
const MAX_CALLS_PER_KIND: u64 = 20_000;
/// Calls of one kind in flight at once.
const IN_FLIGHT: usize = 6;
/// How long the end of the soak may take to drain the calls in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// `WARI_SOAK_SECONDS`, else `default` seconds; at least 5.
pub(crate) fn soak_duration(default: u64) -> Duration {
    let seconds = std::env::var("WARI_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(default)
        .max(5);
    Duration::from_secs(seconds)
}

/// wari's RSS sampled every 250 ms for a soak's duration, and its plateau: the highest
/// sample in the first two fifths of the run (the warm-up and the fifth after it). The
/// warm-up counts too: the allocator may hand memory back during the second fifth, so a
/// plateau from that fifth alone can sit below the level the run holds from its start.
pub(crate) struct RssWatch {
    plateau: u64,
    samples: Vec<(u64, u64)>,
}

impl RssWatch {
    pub(crate) async fn run(pid: u32, duration: Duration) -> RssWatch {
        let started = Instant::now();
        let warm_up = duration / 5;
        let mut watch = RssWatch {
            plateau: 0,
            samples: Vec::new(),
        };
        let mut ticker = tokio::time::interval(Duration::from_millis(250));
        while started.elapsed() < duration {
            ticker.tick().await;
            let Some(rss) = rss_kib(pid) else { break };
            watch
                .samples
                .push((started.elapsed().as_millis() as u64, rss));
            if started.elapsed() < warm_up * 2 {
                watch.plateau = watch.plateau.max(rss);
            }
        }
        watch
    }

    /// No leak: RSS comes back to within 10% of the plateau (within 10 s) once the calls
    /// are gone.
    #[allow(clippy::print_stderr, reason = "the figures a soak run reports")]
    pub(crate) async fn assert_settles(&self, pid: u32, label: &str) {
        let (plateau, samples) = (self.plateau, &self.samples);
        assert!(plateau > 0, "no RSS samples: {samples:?}");
        let limit = plateau + plateau / 10;
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut last = rss_kib(pid).unwrap_or(u64::MAX);
        while last > limit && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            last = rss_kib(pid).unwrap_or(u64::MAX);
        }
        let peak = samples.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
        eprintln!("{label}: RSS plateau {plateau} KiB, peak {peak} KiB, after {last} KiB");
        assert!(
            last <= limit,
            "RSS {last} KiB after the soak, plateau {plateau} KiB: {samples:?}"
        );
    }
}

/// Resident set size of a process in KiB, from `/proc/PID/status`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
}

async fn connect(wari: &Wari, query: &str) -> Socket {
    let url = format!(
        "ws://{}/ari/events?{query}&api_key=asterisk:secret",
        wari.addr()
    );
    tokio_tungstenite::connect_async(url)
        .await
        .expect("events WebSocket")
        .0
}

/// The next JSON frame within `wait`; `None` on timeout or when the socket ends.
pub(crate) async fn next_json<S>(socket: &mut WebSocketStream<S>, wait: Duration) -> Option<Value>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??
            .ok()?;
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// What happened to the calls, by channel id.
#[derive(Default)]
struct Ledger {
    originated: HashSet<String>,
    refused: Vec<(String, u16)>,
    destroyed: HashMap<String, u64>,
    stasis_start: HashSet<String>,
    stasis_end: HashSet<String>,
}

/// One kind of call: its id prefix, how it is originated and how many may be in flight.
struct Kind {
    prefix: &'static str,
    app: &'static str,
    dtmf: &'static str,
    permits: Semaphore,
    count: AtomicU64,
}

impl Kind {
    fn new(prefix: &'static str, app: &'static str, dtmf: &'static str, in_flight: usize) -> Kind {
        Kind {
            prefix,
            app,
            dtmf,
            permits: Semaphore::new(in_flight),
            count: AtomicU64::new(0),
        }
    }
}

struct Soak {
    wari: Wari,
    ledger: Mutex<Ledger>,
    kinds: Vec<Kind>,
    stop: AtomicBool,
    /// Set once no more calls can be originated.
    drained: AtomicBool,
}

impl Soak {
    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().expect("ledger")
    }

    fn kind_of(&self, id: &str) -> Option<&Kind> {
        self.kinds.iter().find(|k| id.starts_with(k.prefix))
    }
}

/// Originates calls of `kind` until the soak stops: each waits for a permit, which the
/// watcher gives back when the channel is destroyed. `pace` spaces calls out (the hostile
/// app burns its CPU budget on every call).
async fn originate_loop(soak: Arc<Soak>, index: usize, pace: Option<Duration>) {
    let http = client();
    let kind = &soak.kinds[index];
    let mut ticker = pace.map(tokio::time::interval);
    while !soak.stop.load(Ordering::Relaxed)
        && kind.count.load(Ordering::Relaxed) < MAX_CALLS_PER_KIND
    {
        if let Some(ticker) = ticker.as_mut() {
            ticker.tick().await;
        }
        let Ok(Ok(permit)) =
            tokio::time::timeout(Duration::from_secs(1), kind.permits.acquire()).await
        else {
            continue;
        };
        permit.forget();
        let n = kind.count.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}{n}", kind.prefix);
        soak.ledger().originated.insert(id.clone());
        let url = soak.wari.url(&format!(
            "/ari/channels?endpoint=Test/{id}{}&app={}&channelId={id}",
            kind.dtmf, kind.app
        ));
        let status = match http
            .post(url)
            .basic_auth("asterisk", Some("secret"))
            .send()
            .await
        {
            Ok(response) => response.status(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status != StatusCode::OK {
            soak.ledger().refused.push((id, status.as_u16()));
            kind.permits.add_permits(1);
        }
    }
}

/// Reads every channel's destruction (subscribeAll) and gives the call's permit back.
async fn watcher(soak: Arc<Soak>, mut socket: Socket) {
    loop {
        let Some(event) = next_json(&mut socket, Duration::from_millis(500)).await else {
            if soak.drained.load(Ordering::Relaxed) {
                let ledger = soak.ledger();
                let open = ledger
                    .originated
                    .iter()
                    .filter(|id| !ledger.destroyed.contains_key(*id))
                    .count();
                if open <= ledger.refused.len() {
                    return;
                }
            }
            continue;
        };
        if event["type"] != "ChannelDestroyed" {
            continue;
        }
        let id = event["channel"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let cause = event["cause"].as_u64().unwrap_or(0);
        if let Some(kind) = soak.kind_of(&id) {
            kind.permits.add_permits(1);
        }
        soak.ledger().destroyed.insert(id, cause);
    }
}

/// The WebSocket app: hangs up each of its channels on StasisStart.
async fn socket_app(soak: Arc<Soak>, mut socket: Socket) {
    let http = client();
    let mut hangups = tokio::task::JoinSet::new();
    loop {
        let Some(event) = next_json(&mut socket, Duration::from_millis(500)).await else {
            if soak.drained.load(Ordering::Relaxed) {
                let ledger = soak.ledger();
                let expected = ledger
                    .originated
                    .iter()
                    .filter(|id| id.starts_with("ws-"))
                    .count()
                    - ledger
                        .refused
                        .iter()
                        .filter(|(id, _)| id.starts_with("ws-"))
                        .count();
                if ledger.stasis_end.len() >= expected {
                    break;
                }
            }
            continue;
        };
        let id = event["channel"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        match event["type"].as_str() {
            Some("StasisStart") => {
                soak.ledger().stasis_start.insert(id.clone());
                let request = http
                    .delete(soak.wari.url(&format!("/ari/channels/{id}")))
                    .basic_auth("asterisk", Some("secret"));
                hangups.spawn(async move { request.send().await.map(|r| r.status()) });
            }
            Some("StasisEnd") => {
                soak.ledger().stasis_end.insert(id);
            }
            _ => {}
        }
        while let Some(done) = hangups.try_join_next() {
            let status = done.expect("hangup task").expect("hangup request");
            assert_eq!(status, StatusCode::NO_CONTENT, "hangup");
        }
    }
    while let Some(done) = hangups.join_next().await {
        let status = done.expect("hangup task").expect("hangup request");
        assert_eq!(status, StatusCode::NO_CONTENT, "hangup");
    }
}

/// Plays the outbound peer: accepts wari's connection, reads a little, drops it; again
/// until the soak stops. Returns how many connections it accepted.
#[allow(clippy::result_large_err)] // tungstenite's handshake callback type
async fn flaky_peer(soak: Arc<Soak>, listener: TcpListener) -> u64 {
    let mut connections = 0;
    while !soak.stop.load(Ordering::Relaxed) {
        let Ok(Ok((stream, _))) =
            tokio::time::timeout(Duration::from_millis(500), listener.accept()).await
        else {
            continue;
        };
        let callback = |_: &tokio_tungstenite::tungstenite::handshake::server::Request,
                        mut response: tokio_tungstenite::tungstenite::handshake::server::Response| {
            response
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", "ari".parse().expect("header"));
            Ok(response)
        };
        let Ok(Ok(mut socket)) = tokio::time::timeout(
            Duration::from_secs(5),
            tokio_tungstenite::accept_hdr_async(stream, callback),
        )
        .await
        else {
            continue;
        };
        connections += 1;
        // Up to 300 frames or 300 ms, then the connection is dropped without a close.
        let until = Instant::now() + Duration::from_millis(300);
        for _ in 0..300 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || next_json(&mut socket, left).await.is_none() {
                break;
            }
        }
        drop(socket);
    }
    connections
}

#[tokio::test]
async fn soak_with_a_slow_consumer_a_flaky_peer_and_a_hostile_app() {
    let duration = soak_duration(60);
    let peer = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = peer.local_addr().expect("addr").port();
    let ari = format!(
        "{}\n[peer]\ntype = outbound_websocket\nwebsocket_client_id = flaky\napps = peer-app\n\
         subscribe_all = yes\nlocal_ari_user = asterisk\n",
        ARI_CONF.replacen(
            "enabled = yes\n",
            "enabled = yes\nwebsocket_write_timeout = 1000\n",
            1
        )
    );
    let client_conf = format!(
        "[flaky]\ntype = websocket_client\nuri = ws://127.0.0.1:{port}/peer\nprotocols = ari\n\
         connection_type = persistent\nreconnect_interval = 100\nreconnect_attempts = 1000\n\
         connection_timeout = 1000\n"
    );
    let wari = Wari::with(&[("ari.conf", &ari), ("websocket_client.conf", &client_conf)]);
    for (name, file) in [("ivr", "ivr"), ("hostile", "loop")] {
        let response = client()
            .put(wari.url(&format!("/ari/wasm/{name}")))
            .basic_auth("asterisk", Some("secret"))
            .header("Content-Type", "application/wasm")
            .body(component(file))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), StatusCode::CREATED, "deploy {name}");
    }
    let pid = wari.pid();
    let watch = connect(&wari, "app=soak-watch&subscribeAll=true").await;
    let app_socket = connect(&wari, "app=sock").await;
    // Subscribed to everything and never read: wari must drop it, not slow down.
    let slow_consumer = connect(&wari, "app=slow&subscribeAll=true").await;

    let soak = Arc::new(Soak {
        wari,
        ledger: Mutex::new(Ledger::default()),
        kinds: vec![
            Kind::new("ivr-", "ivr", "/dtmf=2", IN_FLIGHT),
            Kind::new("ws-", "sock", "", IN_FLIGHT),
            Kind::new("bad-", "hostile", "", 1),
        ],
        stop: AtomicBool::new(false),
        drained: AtomicBool::new(false),
    });
    let watcher = tokio::spawn(watcher(soak.clone(), watch));
    let app = tokio::spawn(socket_app(soak.clone(), app_socket));
    let peer = tokio::spawn(flaky_peer(soak.clone(), peer));
    let drivers = [
        tokio::spawn(originate_loop(soak.clone(), 0, None)),
        tokio::spawn(originate_loop(soak.clone(), 1, None)),
        tokio::spawn(originate_loop(
            soak.clone(),
            2,
            Some(Duration::from_secs(1)),
        )),
    ];

    let rss = RssWatch::run(pid, duration).await;
    soak.stop.store(true, Ordering::Relaxed);
    for driver in drivers {
        driver.await.expect("driver");
    }
    soak.drained.store(true, Ordering::Relaxed);
    tokio::time::timeout(DRAIN, watcher)
        .await
        .expect("every call ends within the drain time")
        .expect("watcher");
    tokio::time::timeout(DRAIN, app)
        .await
        .expect("the WebSocket app's calls end")
        .expect("socket app");
    let connections = peer.await.expect("peer");
    drop(slow_consumer);

    // No stuck channel.
    eventually("every channel gone", Duration::from_secs(10), || async {
        let channels = soak.wari.get("/ari/channels").await.body;
        if channels.as_array().is_some_and(Vec::is_empty) {
            Ok(())
        } else {
            Err(channels.to_string())
        }
    })
    .await;

    // Every call accounted for.
    let (per_kind, total) = {
        let ledger = soak.ledger();
        assert!(
            ledger.refused.is_empty(),
            "originates refused: {:?}",
            ledger.refused
        );
        let mut per_kind = HashMap::new();
        for id in &ledger.originated {
            let cause = ledger.destroyed.get(id);
            assert!(cause.is_some(), "{id} was never destroyed");
            *per_kind
                .entry(id[..id.find('-').unwrap_or(0)].to_string())
                .or_insert(0u64) += 1;
            if id.starts_with("ivr-") {
                assert_eq!(cause, Some(&17), "{id}: the IVR hangs up as busy on 2");
            }
            if id.starts_with("ws-") {
                assert!(ledger.stasis_start.contains(id), "{id}: no StasisStart");
                assert!(ledger.stasis_end.contains(id), "{id}: no StasisEnd");
            }
        }
        (per_kind, ledger.originated.len() as u64)
    };
    let count = |kind: &str| per_kind.get(kind).copied().unwrap_or(0);
    eprintln!(
        "soak: {total} calls in {:?} (ivr {}, websocket {}, hostile {}); outbound peer \
         connections {connections}",
        duration,
        count("ivr"),
        count("ws"),
        count("bad")
    );
    assert!(
        total >= 20 * duration.as_secs(),
        "too few calls for a soak: {total}"
    );
    let ivr = soak.wari.get("/ari/wasm/ivr").await.body;
    assert_eq!(ivr["sessions_started"], count("ivr"), "{ivr}");
    assert_eq!(ivr["failures"]["total"], 0, "{ivr}");
    let hostile = soak.wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(hostile["failures"]["total"], count("bad"), "{hostile}");
    assert!(
        connections >= 3,
        "the outbound peer was reconnected to: {connections}"
    );
    let log = soak.wari.log();
    assert!(
        log.contains("websocket_write_timeout") || log.contains("consumer is too slow"),
        "the slow consumer was dropped"
    );

    rss.assert_settles(pid, "soak").await;
}
