//! The scenarios, built on two steps every one shares: bring channels up in the bench's
//! application (measuring each one's originate-to-StasisStart latency), and hang them up
//! again (waiting until the server reports each one ended).

use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow, bail};
use futures_util::future::try_join_all;
use reqwest::header::AUTHORIZATION;

use crate::client_wait::{ClientWait, Poller};
use crate::events::Events;
use crate::load;
use crate::progress::Progress;
use crate::report::{HangupReport, InfoReport, MemoryReport, OriginateReport, Report, RestReport};
use crate::stats::{rate, summarize};
use crate::target::{Target, encode};

/// How long one channel may take from its originate request to its StasisStart.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long hung-up channels may take to end.
const END_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server's memory is left to settle before it is read.
const SETTLE: Duration = Duration::from_millis(1000);

/// A benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// `originate`: `--count` channels per `--connections` value.
    Originate,
    /// `rest-channels-N`: `GET /channels` with N channels up.
    RestChannels(usize),
    /// `memory-N`: resident memory per channel with N channels in Stasis.
    Memory(usize),
    /// `rest-over-ws`: RESTRequest round trips over one events WebSocket, once per
    /// `--connections` value (requests in flight).
    RestOverWs,
    /// `events-fanout`: events/s to N subscribeAll WebSockets, once per `--connections`
    /// value (N).
    EventsFanout,
    /// `rest-info`: `GET /asterisk/info` under load, once per `--connections` value.
    RestInfo,
    /// `hangup`: `--count` channels up, then DELETE each; once per `--connections` value.
    Hangup,
    /// `wasm-start` (wari only): originate into an uploaded WebAssembly app until the app
    /// visibly acts on the channel.
    WasmStart,
    /// `wasm-event` (wari only): a DTMF digit sent to a channel in the app until the app
    /// visibly reacts.
    WasmEvent,
    /// `loopback-echo`: `--count` one-byte round trips between two threads of the bench,
    /// the machine's floor for any sequential round trip (no server involved).
    LoopbackEcho,
    /// `sip-bridged` (wari only, runs alone): `--count` SIP calls paired in mixing bridges
    /// ([`crate::sip_load`]).
    SipBridged,
}

impl FromStr for Scenario {
    type Err = String;

    fn from_str(s: &str) -> Result<Scenario, String> {
        let size = |rest: &str| {
            rest.parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("'{s}': the channel count must be a positive number"))
        };
        Ok(match s {
            "originate" => Scenario::Originate,
            "rest-over-ws" => Scenario::RestOverWs,
            "events-fanout" => Scenario::EventsFanout,
            "rest-info" => Scenario::RestInfo,
            "hangup" => Scenario::Hangup,
            "wasm-start" => Scenario::WasmStart,
            "wasm-event" => Scenario::WasmEvent,
            "loopback-echo" => Scenario::LoopbackEcho,
            "sip-bridged" => Scenario::SipBridged,
            _ => {
                if let Some(rest) = s.strip_prefix("rest-channels-") {
                    Scenario::RestChannels(size(rest)?)
                } else if let Some(rest) = s.strip_prefix("memory-") {
                    Scenario::Memory(size(rest)?)
                } else {
                    return Err(format!(
                        "unknown scenario '{s}' (rest-info, originate, hangup, rest-channels-N, \
                         memory-N, rest-over-ws, events-fanout, wasm-start, wasm-event, \
                         loopback-echo, sip-bridged)"
                    ));
                }
            }
        })
    }
}

/// Where channels go once answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Straight into the bench's application (`app=`).
    App,
    /// Into the dialplan (`extension=`, `context=`), which must run `Stasis(<app>)`.
    Dialplan {
        extension: String,
        context: Option<String>,
    },
}

/// What every scenario needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    /// The bench's Stasis application.
    pub app: String,
    /// The dial string originated (`Test/bench` on wari: a phone that answers at once).
    pub endpoint: String,
    pub destination: Destination,
    /// Channels per originate run.
    pub count: usize,
    /// Connection counts: each originate and REST measurement runs once per value.
    pub connections: Vec<usize>,
    /// Channels per originate round; each round is hung up before the next.
    pub batch: usize,
    /// How long a REST load runs.
    pub load_time: Duration,
    /// Upper bound of each scenario's measured phase.
    pub duration_limit: Duration,
    /// Upper bound of requests in one REST load run.
    pub max_requests: u64,
    /// The server's process, for memory scenarios.
    pub pid: Option<u32>,
    /// The component the WebAssembly scenarios upload (the `ivr` example app).
    pub wasm_component: Option<Vec<u8>>,
    /// The name it is uploaded as.
    pub wasm_app: String,
    /// `EXT@CTX` of a dialplan extension that runs `Stasis(<wasm_app>)` (`wasm-event`).
    pub wasm_dialplan: String,
    /// How the bench waits for answers in one-connection originate runs and loopback-echo.
    pub client_wait: ClientWait,
}

impl Settings {
    /// The largest connection count asked for: that many HTTP clients are opened.
    pub fn most_connections(&self) -> usize {
        self.connections.iter().copied().max().unwrap_or(1)
    }

    /// Defaults for a server at `target`.
    pub fn new(target: Target) -> Settings {
        Settings {
            target,
            app: "wari-bench".into(),
            endpoint: "Test/bench".into(),
            destination: Destination::App,
            count: 1000,
            connections: vec![1],
            batch: 1000,
            load_time: Duration::from_secs(10),
            duration_limit: Duration::from_secs(120),
            max_requests: 10_000_000,
            pid: None,
            wasm_component: None,
            wasm_app: "wari-bench-wasm".into(),
            wasm_dialplan: "wasm@wari-bench".into(),
            client_wait: ClientWait::Block,
        }
    }
}

/// Runs the scenarios in order on one events connection.
pub async fn run(settings: &Settings, scenarios: &[Scenario]) -> anyhow::Result<Vec<Report>> {
    if settings.connections.is_empty() || settings.connections.contains(&0) {
        bail!("--connections needs positive numbers");
    }
    if scenarios.iter().any(|s| matches!(s, Scenario::Memory(_))) && settings.pid.is_none() {
        bail!("memory scenarios need the server's process id (--pid)");
    }
    if scenarios
        .iter()
        .any(|s| matches!(s, Scenario::WasmStart | Scenario::WasmEvent))
        && settings.wasm_component.is_none()
    {
        bail!("WebAssembly scenarios need a component (--wasm-component)");
    }
    if scenarios.contains(&Scenario::SipBridged) {
        bail!("sip-bridged runs alone (wari-bench ... sip-bridged), with --sip and --pid");
    }
    let bench = Bench::connect(settings).await?;
    let mut reports = Vec::new();
    let mut outcome = Ok(());
    for scenario in scenarios {
        let result = match scenario {
            Scenario::Originate => bench.originate().await,
            Scenario::RestChannels(n) => bench.rest_channels(*n).await,
            Scenario::Memory(n) => bench.memory(*n).await,
            Scenario::RestOverWs => bench.websocket(*scenario).await,
            Scenario::EventsFanout => bench.websocket(*scenario).await,
            Scenario::RestInfo => bench.rest_info().await,
            Scenario::Hangup => bench.hangup().await,
            Scenario::WasmStart | Scenario::WasmEvent => {
                crate::wasm::run(settings, *scenario == Scenario::WasmEvent)
                    .await
                    .map(|r| vec![Report::Wasm(r)])
            }
            Scenario::LoopbackEcho => {
                let (count, limit) = (settings.count, settings.duration_limit);
                let wait = settings.client_wait;
                tokio::task::spawn_blocking(move || crate::echo::run(count, limit, wait))
                    .await
                    .map_err(|e| anyhow::anyhow!("loopback echo: {e}"))
                    .and_then(|r| r)
                    .map(|r| vec![Report::Echo(r)])
            }
            Scenario::SipBridged => Ok(Vec::new()),
        };
        match result {
            Ok(mut r) => reports.append(&mut r),
            Err(e) => {
                outcome = Err(e);
                break;
            }
        }
    }
    bench.events.close().await;
    outcome.map(|()| reports)
}

/// `DELETE /channels/{id}`: true when it hung the channel up, false when it was already
/// gone (404); any other answer is an error.
async fn delete_channel(connection: &mut load::Connection, id: &str) -> anyhow::Result<bool> {
    let response = connection
        .request("DELETE", &format!("/channels/{}", encode(id)))
        .await
        .with_context(|| format!("hang up {id}"))?;
    match response.status {
        _ if response.is_success() => Ok(true),
        404 => Ok(false),
        status => bail!(
            "hang up {id}: {status} {}",
            response.error_body.unwrap_or_default()
        ),
    }
}

/// One bench session against a server.
struct Bench<'s> {
    settings: &'s Settings,
    events: Events,
    /// The keep-alive connections originates and hang-ups are sent on: the bench's own
    /// minimal client ([`load::Connection`]), whose work is on every round trip measured.
    connections: Vec<tokio::sync::Mutex<load::Connection>>,
    /// Makes channel ids unique across runs against the same server.
    run_id: String,
    next_id: AtomicUsize,
}

/// Channels brought up: their latencies and how long it took.
struct BringUp {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

impl<'s> Bench<'s> {
    async fn connect(settings: &'s Settings) -> anyhow::Result<Bench<'s>> {
        let events = Events::connect(&settings.target, &settings.app).await?;
        let most = settings.most_connections();
        let mut connections = Vec::with_capacity(most);
        for _ in 0..most {
            let connection = load::Connection::connect(&settings.target).await?;
            connections.push(tokio::sync::Mutex::new(connection));
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(Bench {
            settings,
            events,
            connections,
            run_id: format!("wb{}-{nanos:x}", std::process::id()),
            next_id: AtomicUsize::new(0),
        })
    }

    /// `n` fresh channel ids.
    fn ids(&self, n: usize) -> Vec<String> {
        let first = self.next_id.fetch_add(n, Ordering::Relaxed);
        (first..first + n)
            .map(|i| format!("{}-{i}", self.run_id))
            .collect()
    }

    /// The originate request's path under the ARI prefix.
    fn originate_path(&self, id: &str) -> String {
        let s = self.settings;
        let destination = match &s.destination {
            Destination::App => format!("app={}", encode(&s.app)),
            Destination::Dialplan { extension, context } => {
                let mut d = format!("extension={}", encode(extension));
                if let Some(context) = context {
                    d.push_str(&format!("&context={}", encode(context)));
                }
                d
            }
        };
        format!(
            "/channels?endpoint={}&{destination}&channelId={}",
            encode(&s.endpoint),
            encode(id)
        )
    }

    /// Originates `ids` from `connections` connections, each sending its next request once
    /// its previous channel reached StasisStart. Stops taking new ids at `deadline`.
    async fn bring_up(
        &self,
        ids: &[String],
        connections: usize,
        deadline: Instant,
    ) -> anyhow::Result<BringUp> {
        let next = AtomicUsize::new(0);
        let latencies = Mutex::new(Vec::with_capacity(ids.len()));
        let progress = Progress::new("originate", ids.len());
        let started = Instant::now();
        let workers = self.connections[..connections].iter().map(|connection| {
            let next = &next;
            let latencies = &latencies;
            let progress = &progress;
            async move {
                let mut mine = Vec::new();
                let result = async {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= ids.len() || Instant::now() >= deadline {
                            return anyhow::Ok(());
                        }
                        mine.push(self.originate_one(connection, &ids[i]).await?);
                        progress.step();
                    }
                }
                .await;
                latencies
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .extend(mine);
                result
            }
        });
        try_join_all(workers).await?;
        Ok(BringUp {
            latencies: latencies
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
            elapsed: started.elapsed(),
        })
    }

    /// One channel: POST, then its StasisStart. Returns the latency.
    async fn originate_one(
        &self,
        connection: &tokio::sync::Mutex<load::Connection>,
        id: &str,
    ) -> anyhow::Result<Duration> {
        let path = self.originate_path(id);
        let mut connection = connection.lock().await;
        let started = self.events.expect(id);
        let t0 = Instant::now();
        let response = match connection.request("POST", &path).await {
            Ok(r) => r,
            Err(e) => {
                self.events.forget(id);
                return Err(e.context(format!("originate {id}")));
            }
        };
        if !response.is_success() {
            self.events.forget(id);
            bail!(
                "originate {id}: {} {}",
                response.status,
                response.error_body.unwrap_or_default()
            );
        }
        let at = tokio::time::timeout(START_TIMEOUT, started)
            .await
            .map_err(|_| anyhow!("no StasisStart for {id} within {START_TIMEOUT:?}"))?
            .map_err(|_| anyhow!("the events WebSocket closed"))?;
        Ok(at.saturating_duration_since(t0))
    }

    /// Hangs `ids` up from every connection and waits until all of the bench's channels
    /// have ended. Channels already gone (404) are fine.
    async fn hang_up(&self, ids: &[String]) -> anyhow::Result<()> {
        let next = AtomicUsize::new(0);
        let deadline = Instant::now() + END_TIMEOUT;
        let workers = self.connections.iter().map(|connection| {
            let next = &next;
            async move {
                let mut connection = connection.lock().await;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ids.len() || Instant::now() >= deadline {
                        return anyhow::Ok(());
                    }
                    delete_channel(&mut connection, &ids[i]).await?;
                }
            }
        });
        try_join_all(workers).await?;
        self.events.wait_all_gone(deadline).await
    }

    /// Brings `ids` up; on failure hangs up whatever came up before failing.
    async fn bring_up_or_clean(
        &self,
        ids: &[String],
        connections: usize,
        deadline: Instant,
    ) -> anyhow::Result<BringUp> {
        match self.bring_up(ids, connections, deadline).await {
            Ok(up) => Ok(up),
            Err(e) => {
                let _ = self.hang_up(ids).await;
                Err(e)
            }
        }
    }

    /// `originate`: for each connection count, `count` channels in rounds of `batch`; a
    /// round is timed from its first request to its last StasisStart, and hung up (not
    /// timed) before the next. A small untimed round warms connections and server first.
    async fn originate(&self) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let mut reports = Vec::new();
        for &connections in &s.connections {
            let client_wait = s.client_wait.for_connections(connections);
            let poller = Poller::start(client_wait);
            let warm = self.ids((connections * 20).min(s.count));
            let deadline = Instant::now() + s.duration_limit;
            self.bring_up_or_clean(&warm, connections, deadline).await?;
            self.hang_up(&warm).await?;

            let mut latencies = Vec::with_capacity(s.count);
            let mut measured = Duration::ZERO;
            let mut done = 0;
            let deadline = Instant::now() + s.duration_limit;
            while done < s.count && Instant::now() < deadline {
                let ids = self.ids(s.batch.min(s.count - done).max(1));
                let up = self.bring_up_or_clean(&ids, connections, deadline).await?;
                self.hang_up(&ids).await?;
                measured += up.elapsed;
                done += ids.len();
                latencies.extend(up.latencies);
            }
            drop(poller);
            let channels = latencies.len();
            eprintln!(
                "originate: {channels} channels with {connections} connection(s) in {:.2}s",
                measured.as_secs_f64()
            );
            reports.push(Report::Originate(OriginateReport {
                destination: match &s.destination {
                    Destination::App => "app".into(),
                    Destination::Dialplan { .. } => "dialplan".into(),
                },
                endpoint: s.endpoint.clone(),
                connections,
                client_wait,
                requested: s.count,
                channels,
                seconds: measured.as_secs_f64(),
                rate: rate(channels, measured),
                latency: summarize(&mut latencies),
            }));
        }
        Ok(reports)
    }

    /// `rest-info`: `GET /asterisk/info` under load for each connection count.
    async fn rest_info(&self) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let mut reports = Vec::new();
        for &connections in &s.connections {
            let mut result = self.load("/asterisk/info", connections).await?;
            let requests = result.latencies.len();
            eprintln!("rest-info: {requests} requests with {connections} connection(s)");
            reports.push(Report::Info(InfoReport {
                connections,
                requests,
                seconds: result.elapsed.as_secs_f64(),
                rate: rate(requests, result.elapsed),
                latency: summarize(&mut result.latencies),
            }));
        }
        Ok(reports)
    }

    /// `hangup`: for each connection count, `count` channels brought up (untimed), then a
    /// DELETE for each from that many connections. The DELETE rate runs from the first
    /// request to the last response; each channel's latency from its DELETE to its
    /// StasisEnd on the bench's socket.
    async fn hangup(&self) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let most = s.most_connections();
        let mut reports = Vec::new();
        for &connections in &s.connections {
            let ids = self.ids(s.count);
            let deadline = Instant::now() + s.duration_limit;
            let up = self.bring_up_or_clean(&ids, most, deadline).await?;
            let channels = up.latencies.len();
            let next = AtomicUsize::new(0);
            let pending = Mutex::new(Vec::with_capacity(ids.len()));
            let progress = Progress::new("hangup", ids.len());
            let started = Instant::now();
            let workers = self.connections[..connections].iter().map(|connection| {
                let (next, pending, progress, ids) = (&next, &pending, &progress, &ids);
                async move {
                    let mut connection = connection.lock().await;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= ids.len() || Instant::now() >= deadline {
                            return anyhow::Ok(());
                        }
                        let end = self.events.expect_end(&ids[i]);
                        let t0 = Instant::now();
                        let deleted = delete_channel(&mut connection, &ids[i]).await?;
                        let answered = t0.elapsed();
                        progress.step();
                        if deleted {
                            pending
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .push((t0, answered, end));
                        }
                    }
                }
            });
            let deleted = try_join_all(workers).await;
            let elapsed = started.elapsed();
            progress.finish();
            let pending = pending
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut responses = Vec::with_capacity(pending.len());
            let mut latencies = Vec::with_capacity(pending.len());
            let end_deadline = Instant::now() + END_TIMEOUT;
            for (t0, answered, end) in pending {
                responses.push(answered);
                let left = end_deadline.saturating_duration_since(Instant::now());
                if let Ok(Ok(at)) = tokio::time::timeout(left, end).await {
                    latencies.push(at.saturating_duration_since(t0));
                }
            }
            // Whatever is left (a failure, the time limit) is hung up untimed.
            self.hang_up(&ids).await?;
            deleted?;
            if latencies.len() < responses.len() {
                bail!(
                    "{} of {} hung-up channels had no StasisEnd",
                    responses.len() - latencies.len(),
                    responses.len()
                );
            }
            let deleted = responses.len();
            eprintln!("hangup: {deleted} of {channels} channels with {connections} connection(s)");
            reports.push(Report::Hangup(HangupReport {
                connections,
                channels,
                deleted,
                seconds: elapsed.as_secs_f64(),
                rate: rate(deleted, elapsed),
                response: summarize(&mut responses),
                latency: summarize(&mut latencies),
            }));
        }
        Ok(reports)
    }

    /// `rest-channels-N`: N channels up, then `GET /channels` under load for each
    /// connection count.
    async fn rest_channels(&self, n: usize) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let ids = self.ids(n);
        let most = s.most_connections();
        let up = self
            .bring_up_or_clean(&ids, most, Instant::now() + s.duration_limit)
            .await?;
        let result = async {
            if up.latencies.len() < n {
                bail!(
                    "only {} of {n} channels came up within --duration-limit",
                    up.latencies.len()
                );
            }
            let (listed, body_bytes) = self.list_channels().await?;
            if listed < n {
                bail!("GET /channels lists {listed} channels, expected at least {n}");
            }
            let mut reports = Vec::new();
            for &connections in &s.connections {
                let mut result = self.load("/channels", connections).await?;
                let requests = result.latencies.len();
                eprintln!(
                    "rest-channels-{n}: {requests} requests with {connections} connection(s)"
                );
                reports.push(Report::Rest(RestReport {
                    channels: listed,
                    connections,
                    requests,
                    seconds: result.elapsed.as_secs_f64(),
                    rate: rate(requests, result.elapsed),
                    body_bytes,
                    latency: summarize(&mut result.latencies),
                }));
            }
            Ok(reports)
        }
        .await;
        self.hang_up(&ids).await?;
        result
    }

    /// `GET path` under load from `connections` connections for the load time (at most the
    /// duration limit); any error response fails the scenario.
    async fn load(&self, path: &str, connections: usize) -> anyhow::Result<load::LoadResult> {
        let s = self.settings;
        let time = s.load_time.min(s.duration_limit);
        let result = load::run(&s.target, path, connections, time, s.max_requests).await?;
        if result.errors > 0 {
            bail!(
                "GET {path}: {} error responses (first: {:?})",
                result.errors,
                result.first_error
            );
        }
        Ok(result)
    }

    /// The number of channels `GET /channels` lists, and the size of its body (read whole,
    /// untimed, so with a general-purpose client).
    async fn list_channels(&self) -> anyhow::Result<(usize, usize)> {
        let response = self
            .settings
            .target
            .client()?
            .get(self.settings.target.url("/channels"))
            .header(AUTHORIZATION, &self.settings.target.authorization)
            .send()
            .await
            .context("GET /channels")?;
        let status = response.status();
        let body = response.bytes().await.context("GET /channels body")?;
        if !status.is_success() {
            bail!("GET /channels: {status}");
        }
        let list: serde_json::Value =
            serde_json::from_slice(&body).context("GET /channels JSON")?;
        let listed = list
            .as_array()
            .map(Vec::len)
            .context("GET /channels is not a list")?;
        Ok((listed, body.len()))
    }

    /// `rest-over-ws` and `events-fanout`, once per `--connections` value.
    async fn websocket(&self, scenario: Scenario) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let time = s.load_time.min(s.duration_limit);
        let mut reports = Vec::new();
        for &n in &s.connections {
            reports.push(match scenario {
                Scenario::EventsFanout => Report::Fanout(
                    crate::ws::events_fanout(&s.target, &s.app, n, time, s.max_requests).await?,
                ),
                _ => Report::WsRest(
                    crate::ws::rest_over_ws(&s.target, &s.app, n, time, s.max_requests).await?,
                ),
            });
        }
        Ok(reports)
    }

    /// `memory-N`: the server's RSS before and after N channels entered Stasis, and after
    /// they were hung up again.
    async fn memory(&self, n: usize) -> anyhow::Result<Vec<Report>> {
        let s = self.settings;
        let pid = s.pid.context("memory scenarios need --pid")?;
        tokio::time::sleep(SETTLE).await;
        let rss_before = rss(pid)?;
        let ids = self.ids(n);
        let most = s.most_connections();
        let up = self
            .bring_up_or_clean(&ids, most, Instant::now() + s.duration_limit)
            .await?;
        tokio::time::sleep(SETTLE).await;
        let rss_up = rss(pid);
        self.hang_up(&ids).await?;
        let rss_up = rss_up?;
        let channels = up.latencies.len();
        if channels == 0 {
            bail!("no channel came up");
        }
        tokio::time::sleep(SETTLE).await;
        let rss_after = rss(pid)?;
        eprintln!("memory-{n}: {channels} channels up");
        Ok(vec![Report::Memory(MemoryReport {
            channels,
            connections: most,
            rss_before,
            rss_up,
            rss_after,
            bytes_per_channel: (rss_up as f64 - rss_before as f64) / channels as f64,
            bring_up_seconds: up.elapsed.as_secs_f64(),
        })])
    }
}

/// A process's resident set size in bytes (`VmRSS` of `/proc/PID/status`).
pub fn rss(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    parse_rss(&status).with_context(|| format!("no VmRSS in /proc/{pid}/status"))
}

fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib = line.split_whitespace().nth(1)?.parse::<u64>().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_names() {
        assert_eq!("originate".parse(), Ok(Scenario::Originate));
        assert_eq!("rest-channels-400".parse(), Ok(Scenario::RestChannels(400)));
        assert_eq!("memory-10000".parse(), Ok(Scenario::Memory(10_000)));
        assert!("memory-0".parse::<Scenario>().is_err());
        assert!("memory-x".parse::<Scenario>().is_err());
        assert!("bogus".parse::<Scenario>().is_err());
        assert_eq!("rest-over-ws".parse(), Ok(Scenario::RestOverWs));
        assert_eq!("events-fanout".parse(), Ok(Scenario::EventsFanout));
        assert_eq!("rest-info".parse(), Ok(Scenario::RestInfo));
        assert_eq!("hangup".parse(), Ok(Scenario::Hangup));
        assert_eq!("wasm-start".parse(), Ok(Scenario::WasmStart));
        assert_eq!("wasm-event".parse(), Ok(Scenario::WasmEvent));
    }

    #[test]
    fn rss_of_this_process() {
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t  1234 kB\n"),
            Some(1234 * 1024)
        );
        assert!(rss(std::process::id()).expect("own status") > 0);
    }
}
