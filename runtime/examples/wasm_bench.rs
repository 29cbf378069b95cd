//! Benchmarks of the WebAssembly host, in process (no HTTP): `scripts/bench-wasm` runs it in
//! release mode and docs/benchmarks.md has the figures.
//!
//! The core ([`Core::new`]) and the host ([`WasmHost::new`]) are built as wari builds them,
//! and the benchmark component `tests/guests/bench` is deployed. Its first action on
//! StasisStart and on each DTMF digit is one `log` call at trace level; a `tracing` layer
//! that only enables that call site (`wari::wasm::session`, TRACE) takes the end
//! timestamp on the host side of the call boundary. The start timestamp is taken by a sink
//! wrapped around the app's runtime: the core hands it the event, it notes the time and
//! passes the event on. So nothing in the runtime is instrumented, and the measured path is
//! exactly: the app's event routing, the session's queue, the session task's wake-up,
//! instantiation (StasisStart only), converting the event to WIT values, the call into the
//! guest, the guest's dispatch, and the `log` import up to its `tracing` call.
//!
//! Scenarios (arguments; default: all five, each best run in its own process):
//! - `wasm-start`: StasisStart to the guest's first host call, one channel at a time;
//! - `wasm-event`: ChannelDtmfReceived on a live session to the guest's host call;
//! - `wasm-memory`: resident memory per idle session with SESSIONS (10,000) sessions live;
//! - `memory-baseline`: the same channels in a Stasis app with no WebAssembly (a sink that
//!   drops events), to separate the core's cost per channel from the host's;
//! - `wasm-deploy`: `WasmHost::deploy` of `bench-2mb.wasm` (about 2 MB), compile and store.
//!
//! Environment: WARI_GUESTS_DIR (the built components, default target/guests/components),
//! START_COUNT (5000), EVENT_COUNT (20000), SESSIONS (10000), DEPLOY_COUNT (5).

#![allow(
    unsafe_code,
    reason = "mimalloc's process statistics are read through its C interface"
)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing_subscriber::layer::SubscriberExt;
use wari::core::channels::{Destination, Originate};
use wari::core::dialplan::Dialplan;
use wari::core::event::Event;
use wari::core::stasis::apps::Claim;
use wari::core::stasis::{EventSink, SinkKind};
use wari::core::{Core, CoreConfig, SystemInfo, cause};
use wari::wasm::limits::Limits;
use wari::wasm::runtime::AppRuntime;
use wari::wasm::{WasmHost, WasmSettings};
use wari_bench::scenarios::rss;
use wari_bench::stats::{percentile, summarize};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const APP: &str = "bench";

/// Times of the guest's trace log calls, sent to the waiting benchmark.
static PROBE: OnceLock<tokio::sync::mpsc::UnboundedSender<Instant>> = OnceLock::new();
static PROBES: AtomicU64 = AtomicU64::new(0);

/// The `tracing` layer that timestamps the guest's `log` calls.
struct Probe;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Probe {
    fn on_event(
        &self,
        _event: &tracing::Event<'_>,
        _ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let now = Instant::now();
        PROBES.fetch_add(1, Ordering::Relaxed);
        if let Some(tx) = PROBE.get() {
            let _ = tx.send(now);
        }
    }
}

/// Wraps the app's runtime as the core's handler of the app: notes when each event is
/// handed over.
#[derive(Debug)]
struct TimingSink {
    inner: Arc<AppRuntime>,
    last: Mutex<Option<Instant>>,
}

impl EventSink for TimingSink {
    fn kind(&self) -> SinkKind {
        SinkKind::Wasm
    }

    fn deliver(&self, app: &str, event: &Arc<Event>) -> bool {
        if matches!(event.kind, "StasisStart" | "ChannelDtmfReceived")
            && let Ok(mut last) = self.last.lock()
        {
            *last = Some(Instant::now());
        }
        self.inner.deliver(app, event)
    }

    fn id(&self) -> u64 {
        self.inner.id()
    }
}

/// A Stasis app handler that drops every event (the memory baseline).
#[derive(Debug)]
struct NullSink;

impl EventSink for NullSink {
    fn deliver(&self, _app: &str, _event: &Arc<Event>) -> bool {
        true
    }

    fn id(&self) -> u64 {
        u64::MAX - 7
    }
}

struct Bench {
    core: Arc<Core>,
    host: Arc<WasmHost>,
    sink: Arc<TimingSink>,
    probes: tokio::sync::mpsc::UnboundedReceiver<Instant>,
    guests: PathBuf,
    data_dir: PathBuf,
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_kib() -> u64 {
    rss(std::process::id()).map_or(0, |bytes| bytes / 1024)
}

unsafe extern "C" {
    /// mimalloc's process statistics (the allocator is linked in as the global allocator).
    fn mi_process_info(
        elapsed_msecs: *mut usize,
        user_msecs: *mut usize,
        system_msecs: *mut usize,
        current_rss: *mut usize,
        peak_rss: *mut usize,
        current_commit: *mut usize,
        peak_commit: *mut usize,
        page_faults: *mut usize,
    );
}

/// KiB committed by the allocator: the host's heap (including wasmtime's instance
/// structures), as opposed to wasmtime's pooled guest memories and tables, which it maps
/// itself.
fn heap_kib() -> u64 {
    let mut v = [0usize; 8];
    let [a, b, c, d, e, f, g, h] = &mut v;
    // SAFETY: mi_process_info writes one usize through each pointer, all valid.
    unsafe { mi_process_info(a, b, c, d, e, f, g, h) };
    (v[5] / 1024) as u64
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

/// The header of the table `latency_row` prints rows of.
fn latency_header() {
    println!("| path | samples | p50 | p90 | p99 | max | mean |");
    println!("|---|---|---|---|---|---|---|");
}

fn latency_row(name: &str, mut samples: Vec<Duration>) {
    let s = summarize(&mut samples);
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        s.count,
        us(s.p50),
        us(s.p90),
        us(s.p99),
        us(s.max),
        us(s.mean),
    );
}

impl Bench {
    async fn new(max_sessions: u32) -> Bench {
        let guests = std::env::var_os("WARI_GUESTS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("target/guests/components"));
        let data_dir = std::env::temp_dir().join(format!("wari-wasm-bench-{}", std::process::id()));
        std::fs::create_dir_all(&data_dir).expect("data dir");
        let core = Core::new(
            SystemInfo::new(),
            CoreConfig {
                channelvars: Vec::new(),
                dialplan: Dialplan::empty(),
                technologies: Vec::new(),
                ..CoreConfig::default()
            },
        );
        // One app takes every session the host has.
        let limits = Limits {
            log_lines_per_second: u32::MAX,
            max_sessions_per_app: Some(max_sessions),
            ..Limits::default()
        };
        let settings = WasmSettings {
            max_sessions,
            limits,
            ..WasmSettings::default()
        };
        let host = WasmHost::new(core.clone(), &data_dir, settings).expect("wasm host");
        let bytes = std::fs::read(guests.join("bench.wasm"))
            .expect("bench.wasm (run scripts/build-guests, or set WARI_GUESTS_DIR)");
        host.deploy(APP, Bytes::from(bytes), None)
            .await
            .expect("deploy");
        let inner = host.app(APP).expect("deployed");
        let sink = Arc::new(TimingSink {
            inner,
            last: Mutex::new(None),
        });
        core.app_host()
            .register_apps(
                &[APP.to_string()],
                sink.clone(),
                false,
                Claim::Configured("bench"),
            )
            .expect("register the timing sink");
        let (tx, probes) = tokio::sync::mpsc::unbounded_channel();
        let _ = PROBE.set(tx);
        Bench {
            core,
            host,
            sink,
            probes,
            guests,
            data_dir,
        }
    }

    fn originate(&self, app: &str) -> String {
        let id = self.core.new_channel_id();
        self.core
            .control()
            .originate(Originate {
                endpoint: "Test/bench".into(),
                destination: Destination::App {
                    app: app.into(),
                    args: Vec::new(),
                },
                caller_id: None,
                timeout: Some(Duration::from_secs(30)),
                channel_id: Some(id.clone()),
                other_channel_id: None,
                variables: Vec::new(),
                owner: None,
            })
            .expect("originate");
        id
    }

    async fn probe(&mut self) -> Instant {
        tokio::time::timeout(Duration::from_secs(10), self.probes.recv())
            .await
            .expect("the guest logged within 10 s")
            .expect("probe channel open")
    }

    fn handed_over(&self) -> Instant {
        self.sink
            .last
            .lock()
            .ok()
            .and_then(|l| *l)
            .expect("the event went through the sink")
    }

    async fn hang_up(&self, ids: &[String]) {
        for id in ids {
            let _ = self.core.control().hangup(id, cause::NORMAL_CLEARING);
        }
        let runtime = self.host.app(APP).expect("deployed");
        let deadline = Instant::now() + Duration::from_secs(60);
        while runtime.live_sessions() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        while self.core.counts().channels > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// StasisStart (handed to the app) to the guest's first host call, one at a time.
    async fn start(&mut self, count: usize) {
        let mut from_start = Vec::with_capacity(count);
        let mut from_originate = Vec::with_capacity(count);
        let mut ids = Vec::new();
        // Warm-up: the first sessions touch fresh pool slots and code pages.
        for round in 0..2 {
            let n = if round == 0 { 200 } else { count };
            for _ in 0..n {
                let sent = Instant::now();
                ids.push(self.originate(APP));
                let logged = self.probe().await;
                if round == 1 {
                    from_start.push(logged - self.handed_over());
                    from_originate.push(logged - sent);
                }
                if ids.len() == 1000 {
                    self.hang_up(&ids).await;
                    ids.clear();
                }
            }
            self.hang_up(&ids).await;
            ids.clear();
        }
        latency_header();
        latency_row(
            "StasisStart handed to the app → guest's first host call",
            from_start,
        );
        latency_row(
            "`core.originate` called → guest's first host call",
            from_originate,
        );
    }

    /// ChannelDtmfReceived on a live session to the guest's host call.
    async fn event(&mut self, count: usize) {
        let id = self.originate(APP);
        self.probe().await;
        let arc_id: Arc<str> = Arc::from(id.as_str());
        let mut samples = Vec::with_capacity(count);
        for i in 0..count + 1000 {
            self.core.far_end_dtmf(&arc_id, '5', 100);
            let logged = self.probe().await;
            if i >= 1000 {
                samples.push(logged - self.handed_over());
            }
        }
        latency_header();
        latency_row(
            "ChannelDtmfReceived handed to the app → guest's host call",
            samples,
        );
        self.hang_up(&[id]).await;
    }

    /// Resident memory with `sessions` channels in the app (WebAssembly, or the null sink).
    async fn memory(&mut self, sessions: usize, wasm: bool) {
        let app = if wasm { APP } else { "null" };
        if !wasm {
            self.core
                .app_host()
                .register_apps(
                    &["null".to_string()],
                    Arc::new(NullSink),
                    false,
                    Claim::Configured("bench"),
                )
                .expect("null app");
        }
        // Warm-up: one round of a few sessions, so one-time costs are not counted.
        let warm: Vec<String> = (0..100).map(|_| self.originate(app)).collect();
        self.settle(app, 100).await;
        self.hang_up(&warm).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = rss_kib();
        let heap_before = heap_kib();
        let began = Instant::now();
        let mut ids = Vec::with_capacity(sessions);
        for i in 0..sessions {
            ids.push(self.originate(app));
            if i % 500 == 499 {
                // Let the channels' tasks and the sessions start, as calls would.
                tokio::task::yield_now().await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        self.settle(app, sessions).await;
        let took = began.elapsed();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let with = rss_kib();
        let heap_with = heap_kib();
        let live = self
            .host
            .app(APP)
            .map(|r| r.live_sessions())
            .unwrap_or_default();
        let channels = self.core.counts().channels;
        self.hang_up(&ids).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = rss_kib();
        let per = (with.saturating_sub(before)) * 1024 / sessions as u64;
        let heap_per = (heap_with.saturating_sub(heap_before)) * 1024 / sessions as u64;
        println!(
            "| handler | channels up | live sessions | RSS before | RSS with them | RSS after hang-up | per channel | of which allocator heap | rest (guest memories, tables, stacks) | brought up in |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
        println!(
            "| {} | {channels} | {live} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {per} B | {heap_per} B | {} B | {:.2} s |",
            if wasm {
                "WebAssembly (bench.wasm)"
            } else {
                "none (events dropped)"
            },
            before as f64 / 1024.0,
            with as f64 / 1024.0,
            after as f64 / 1024.0,
            per.saturating_sub(heap_per),
            took.as_secs_f64(),
        );
    }

    /// Waits until `count` channels are up (and, for the WebAssembly app, have handled their
    /// StasisStart).
    async fn settle(&mut self, app: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(120);
        if app == APP {
            for _ in 0..count {
                self.probe().await;
            }
        } else {
            while self.core.counts().channels < count && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            // Each channel's runner enters Stasis shortly after its answer.
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// `WasmHost::deploy` of the 2 MB component, and compile alone for comparison.
    async fn deploy(&mut self, count: usize) {
        let bytes = std::fs::read(self.guests.join("bench-2mb.wasm")).expect("bench-2mb.wasm");
        let size = bytes.len();
        let bytes = Bytes::from(bytes);
        let mut deploys = Vec::new();
        for i in 0..count {
            // A new name each time: the first deployment of a name registers it.
            let name = format!("bench-2mb-{i}");
            let began = Instant::now();
            self.host
                .deploy(&name, bytes.clone(), None)
                .await
                .expect("deploy bench-2mb");
            deploys.push(began.elapsed());
        }
        let engine = wari::wasm::engine::WasmEngine::new(16, &Limits::default()).expect("engine");
        let mut compiles = Vec::new();
        let mut serialized = 0;
        for _ in 0..count {
            let began = Instant::now();
            let component =
                wasmtime::component::Component::new(&engine.engine, &bytes).expect("compile");
            compiles.push(began.elapsed());
            serialized = component.serialize().map(|a| a.len()).unwrap_or(0);
        }
        deploys.sort();
        compiles.sort();
        let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1e3);
        println!("| step | component | runs | min | median | max |");
        println!("|---|---|---|---|---|---|");
        println!(
            "| `WasmHost::deploy` (validate, compile, serialise, store, register) | {size} B | {count} | {} | {} | {} |",
            ms(deploys[0]),
            ms(percentile(&deploys, 50.0)),
            ms(*deploys.last().unwrap_or(&Duration::ZERO)),
        );
        println!(
            "| `Component::new` alone (compile; artifact {serialized} B) | {size} B | {count} | {} | {} | {} |",
            ms(compiles[0]),
            ms(percentile(&compiles, 50.0)),
            ms(*compiles.last().unwrap_or(&Duration::ZERO)),
        );
    }
}

fn main() {
    let scenarios: Vec<String> = std::env::args().skip(1).collect();
    let scenarios = if scenarios.is_empty() {
        [
            "wasm-start",
            "wasm-event",
            "wasm-memory",
            "memory-baseline",
            "wasm-deploy",
        ]
        .map(String::from)
        .to_vec()
    } else {
        scenarios
    };
    let filter = tracing_subscriber::filter::Targets::new()
        .with_target("wari::wasm::session", tracing::Level::TRACE);
    let subscriber =
        tracing_subscriber::registry().with(tracing_subscriber::Layer::with_filter(Probe, filter));
    tracing::subscriber::set_global_default(subscriber).expect("subscriber");
    let sessions = env_usize("SESSIONS", 10_000);
    let runtime = tokio::runtime::Runtime::new().expect("tokio");
    // The benchmark runs as a task on the runtime, as the core's channel tasks that raise
    // events do: a session task it wakes goes to the same worker's next-task slot.
    let task = runtime.spawn(async move {
        let mut bench = Bench::new(u32::try_from(sessions + 500).unwrap_or(u32::MAX)).await;
        for scenario in &scenarios {
            println!("### {scenario}");
            println!();
            match scenario.as_str() {
                "wasm-start" => bench.start(env_usize("START_COUNT", 5000)).await,
                "wasm-event" => bench.event(env_usize("EVENT_COUNT", 20_000)).await,
                "wasm-memory" => bench.memory(sessions, true).await,
                "memory-baseline" => bench.memory(sessions, false).await,
                "wasm-deploy" => bench.deploy(env_usize("DEPLOY_COUNT", 5)).await,
                other => {
                    eprintln!("unknown scenario {other}");
                    std::process::exit(2);
                }
            }
            println!();
        }
        let _ = std::fs::remove_dir_all(&bench.data_dir);
    });
    runtime.block_on(task).expect("benchmark task");
}
