//! `wari-bench`: benchmarks an ARI server on this machine (see the library docs).

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use wari_bench::report::markdown;
use wari_bench::scenarios::Destination;
use wari_bench::{ClientWait, Scenario, Settings, Target};

/// Benchmarks an ARI server (wari or Asterisk) on this machine and prints markdown tables.
///
/// Scenarios: `rest-info` (GET /asterisk/info under load), `originate` (channel rate and
/// originate-to-StasisStart latency), `hangup` (DELETE rate and DELETE-to-StasisEnd
/// latency),
/// `rest-channels-N` (GET /channels with N channels up), `memory-N` (resident memory per
/// channel with N channels in Stasis; needs --pid), `rest-over-ws` (RESTRequest round trips
/// over one events WebSocket, --connections = requests in flight), `events-fanout` (events/s
/// to subscribeAll WebSockets, --connections = socket counts); wari only: `wasm-start`
/// (originate into an uploaded WebAssembly app until its first visible action) and
/// `wasm-event` (a DTMF digit until the app's visible reaction); `loopback-echo` (one-byte
/// TCP round trips inside the bench: the machine's floor for any sequential round trip);
/// `sip-bridged` (wari only, alone): `--count` SIP calls into wari's PJSIP at `--rate`,
/// paired in mixing bridges by the `conference` app, G.711 both ways, measured for
/// `--hold` seconds (needs `--sip` and `--pid`; see scripts/bench-sip-bridged).
#[derive(Debug, Parser)]
#[command(name = "wari-bench", version, about, long_about)]
struct Cli {
    /// The server: `http://127.0.0.1:8088` (ARI under /ari) or a URL ending in /ari.
    /// Loopback addresses only.
    #[arg(long, default_value = "http://127.0.0.1:8088")]
    url: String,
    /// ARI user.
    #[arg(long)]
    user: String,
    /// ARI password.
    #[arg(long)]
    password: String,
    /// The Stasis application the bench registers and originates into.
    #[arg(long, default_value = "wari-bench")]
    app: String,
    /// The dial string originated. On wari, `Test/NAME` phones answer at once; on Asterisk
    /// use e.g. a Local channel into a dialplan that answers.
    #[arg(long, default_value = "Test/bench")]
    endpoint: String,
    /// Originate into the dialplan at this extension (which must run Stasis(APP)) instead
    /// of straight into the application.
    #[arg(long)]
    extension: Option<String>,
    /// The dialplan context for --extension.
    #[arg(long, requires = "extension")]
    context: Option<String>,
    /// Channels per originate run.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Concurrent keep-alive connections, as a comma list: each originate and REST
    /// measurement runs once per value (channels are brought up with the largest).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    connections: Vec<usize>,
    /// Channels per originate round; each round is hung up before the next, so the
    /// server does not accumulate them.
    #[arg(long, default_value_t = 1000)]
    batch: usize,
    /// Seconds each REST load runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Upper bound, in seconds, of each scenario's measured phase.
    #[arg(long, default_value_t = 120.0)]
    duration_limit: f64,
    /// Upper bound of requests in one REST load run.
    #[arg(long, default_value_t = 10_000_000)]
    max_requests: u64,
    /// The server's process id, for memory scenarios (RSS from /proc/PID/status).
    #[arg(long)]
    pid: Option<u32>,
    /// Threads of the bench's own runtime. One thread (the default) keeps the load
    /// generator's wake-ups off the server's cores as much as possible.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// How the bench waits for answers in one-connection originate measurements and in
    /// loopback-echo: `block` sleeps in the kernel like a typical client; `poll` keeps the
    /// bench's thread polling its sockets, so the figure leaves out the bench's own wake-up
    /// (20–30 µs on virtual machines whose idle vCPUs halt). The server is not affected.
    #[arg(long, value_enum, default_value_t = ClientWait::Block)]
    client_wait: ClientWait,
    /// Also write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Print ratios of this run's figures to those of an earlier `--json` file.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// The component the WebAssembly scenarios upload (the `ivr` example app).
    #[arg(long, default_value = "target/guests/components/ivr.wasm")]
    wasm_component: PathBuf,
    /// The application name the component is uploaded as (replaced, then deleted).
    #[arg(long, default_value = "wari-bench-wasm")]
    wasm_app: String,
    /// `EXT@CTX` for `wasm-event`'s Local pair: the server's dialplan must run
    /// `Stasis(<wasm-app>)` there, e.g. `[wari-bench]` `exten => wasm,1,Stasis(wari-bench-wasm)`.
    #[arg(long, default_value = "wasm@wari-bench")]
    wasm_dialplan: String,
    /// sip-bridged: wari's SIP UDP address (its banner's `sip-udp` line).
    #[arg(long)]
    sip: Option<std::net::SocketAddr>,
    /// sip-bridged: new calls (and hang-ups) per second.
    #[arg(long, default_value_t = 100.0)]
    rate: f64,
    /// sip-bridged: seconds the calls are measured once all are bridged.
    #[arg(long, default_value_t = 30.0)]
    hold: f64,
    /// sip-bridged: a packet from wari this many milliseconds later than its
    /// predecessor's spacing (by RTP timestamp) says counts as a late arrival.
    #[arg(long, default_value_t = 20)]
    late_ms: u64,
    /// rest-info, originate, hangup, rest-channels-N, memory-N, rest-over-ws,
    /// events-fanout, wasm-start, wasm-event, loopback-echo, sip-bridged.
    #[arg(required = true)]
    scenarios: Vec<Scenario>,
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag} must be a positive number of seconds"))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let target = Target::new(&cli.url, &cli.user, &cli.password)?;
    if cli.scenarios.contains(&Scenario::SipBridged) {
        if cli.scenarios.len() > 1 {
            anyhow::bail!("sip-bridged runs alone");
        }
        let settings = wari_bench::sip_load::Settings {
            target,
            pid: cli
                .pid
                .context("sip-bridged needs wari's process id (--pid)")?,
            sip: cli
                .sip
                .context("sip-bridged needs wari's SIP address (--sip)")?,
            calls: cli.count,
            rate: cli.rate,
            hold: seconds(cli.hold, "--hold")?,
            late_after: Duration::from_millis(cli.late_ms),
        };
        return wari_bench::sip_load::run(&settings).await;
    }
    let mut settings = Settings::new(target);
    settings.app = cli.app;
    settings.endpoint = cli.endpoint;
    if let Some(extension) = cli.extension {
        settings.destination = Destination::Dialplan {
            extension,
            context: cli.context,
        };
    }
    settings.count = cli.count;
    settings.connections = cli.connections;
    settings.batch = cli.batch.max(1);
    settings.load_time = seconds(cli.seconds, "--seconds")?;
    settings.duration_limit = seconds(cli.duration_limit, "--duration-limit")?;
    settings.max_requests = cli.max_requests;
    settings.pid = cli.pid;
    settings.wasm_app = cli.wasm_app;
    settings.wasm_dialplan = cli.wasm_dialplan;
    settings.client_wait = cli.client_wait;
    if cli
        .scenarios
        .iter()
        .any(|s| matches!(s, Scenario::WasmStart | Scenario::WasmEvent))
    {
        let bytes = std::fs::read(&cli.wasm_component).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (build it with scripts/build-guests, or pass --wasm-component)",
                cli.wasm_component.display()
            )
        })?;
        settings.wasm_component = Some(bytes);
    }
    let earlier = match &cli.compare {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("read {}: {e}", path.display()))?;
            Some(
                serde_json::from_str::<serde_json::Value>(&text)
                    .map_err(|e| anyhow::anyhow!("{}: not JSON: {e}", path.display()))?,
            )
        }
        None => None,
    };
    let reports = wari_bench::run(&settings, &cli.scenarios).await?;
    print!("{}", markdown(&reports));
    let json: Vec<_> = reports.iter().map(|r| r.json()).collect();
    if let Some(earlier) = earlier {
        println!("{}", wari_bench::compare::compare(&earlier, &json));
    }
    if let Some(path) = cli.json {
        let json = serde_json::json!({
            "url": cli.url,
            "scenarios": cli.scenarios.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>(),
            "load_average": std::fs::read_to_string("/proc/loadavg").ok().map(|l| l.trim().to_string()),
            "reports": json,
        });
        std::fs::write(&path, serde_json::to_string_pretty(&json)? + "\n")
            .map_err(|e| anyhow::anyhow!("write {}: {e}", path.display()))?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = if cli.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cli.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("wari-bench: error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wari-bench: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
