//! `sip-bridged`: concurrent bridged SIP calls into wari from a load generator that runs
//! on one thread, so that the generator does not take the CPU wari needs.
//!
//! CALLS calls are placed over UDP at RATE per second to wari's PJSIP (INVITE offering
//! G.711 µ-law only, ACK, BYE: [`message`]); the Request-URI of calls `2k` and `2k+1` is
//! room `1000 + k`, which the benchmark's dialplan hands to the `conference` WebAssembly
//! app, so every pair of calls meets in one mixing bridge. Every answered call sends a
//! 400 Hz tone every 20 ms from its own RTP socket and counts what wari sends back: packets,
//! sequence gaps, arrivals later than the stream's RTP timestamps say ([`rtp`], [`engine`]).
//!
//! Once every call is answered and sits in a 2-party bridge (`GET /ari/bridges`), and one
//! second more (wari's jitter buffers start), wari is measured for HOLD seconds
//! ([`process`]): its `/metrics` counters (media ticks and late ticks, RTP received and
//! sent, drops in its queues and jitter buffers), its CPU and resident memory, and the
//! datagrams the kernel dropped on its sockets; the generator measures itself over the
//! same window (its CPU, its own late ticks, what it sent and received). Then every call
//! is hung up at RATE per second. Every wait is bounded.

pub mod engine;
pub mod message;
pub mod process;
pub mod rtp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::sync::{mpsc, oneshot, watch};

use crate::Target;
use engine::{Command, Engine, Plan, Progress, Window};
use process::Snapshot;

/// What `sip-bridged` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub target: Target,
    /// wari's process id (its CPU, memory and sockets are read from /proc).
    pub pid: u32,
    /// wari's SIP UDP address (loopback).
    pub sip: SocketAddr,
    /// Calls (an even number: two per bridge).
    pub calls: usize,
    /// New calls per second (and hang-ups per second at the end).
    pub rate: f64,
    /// The measured window.
    pub hold: Duration,
    /// A packet from wari this much later than its predecessor's spacing says is late.
    pub late_after: Duration,
}

/// The figures of one run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub calls: usize,
    pub answered_after: Duration,
    pub bridged_after: Duration,
    pub idle: Snapshot,
    pub start: Snapshot,
    pub end: Snapshot,
    pub generator_start: Snapshot,
    pub generator_end: Snapshot,
    pub window: Window,
    pub progress: Progress,
    pub load_before: String,
    pub load_after: String,
    pub late_after: Duration,
}

/// Runs the benchmark and prints its table.
pub async fn run(settings: &Settings) -> anyhow::Result<()> {
    if settings.calls < 2 || !settings.calls.is_multiple_of(2) || settings.calls > 10_000 {
        bail!("--count must be an even number of calls, 2-10000");
    }
    if !(settings.rate > 0.0 && settings.rate <= 2000.0) {
        bail!("--rate must be 0-2000 calls per second");
    }
    if !settings.sip.ip().is_loopback() {
        bail!("--sip must be a loopback address: benchmarks never leave this machine");
    }
    let local = tokio::task::LocalSet::new();
    let outcome = local.run_until(measure(settings)).await?;
    print!("{}", report(&outcome));
    Ok(())
}

async fn measure(settings: &Settings) -> anyhow::Result<Outcome> {
    let client = settings.target.client()?;
    let load_before = load_average();
    let idle = Snapshot::of_wari(settings.pid, &settings.target, &client).await?;
    let engine = Engine::bind(Plan {
        server: settings.sip,
        calls: settings.calls,
        rate: settings.rate,
        first_room: 1000,
        late_after: settings.late_after,
    })
    .await?;
    let (commands, command_receiver) = mpsc::unbounded_channel();
    let (progress_sender, mut progress) = watch::channel(Progress::default());
    let generator = tokio::task::spawn_local(engine.run(command_receiver, progress_sender));
    let ramp = Duration::from_secs_f64(settings.calls as f64 / settings.rate);
    let began = Instant::now();
    let calls = settings.calls;

    let set_up = wait(&mut progress, ramp + Duration::from_secs(40), |p| {
        p.answered + p.failed >= calls
    })
    .await;
    let answered_after = began.elapsed();
    if let Err(shown) = set_up.and_then(|p| if p.failed == 0 { Ok(p) } else { Err(p) }) {
        let _ = commands.send(Command::HangUp);
        let _ = wait(&mut progress, ramp + Duration::from_secs(40), |p| {
            p.ended >= p.answered
        })
        .await;
        bail!(
            "{} of {calls} calls answered, {} failed: {}",
            shown.answered,
            shown.failed,
            shown.reasons.join("; ")
        );
    }
    wait_bridged(settings, &client, began + ramp + Duration::from_secs(60)).await?;
    let bridged_after = began.elapsed();
    // wari's jitter buffers start playing 40 ms after a stream's first packet.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let start = Snapshot::of_wari(settings.pid, &settings.target, &client).await?;
    let generator_start = Snapshot::of("self")?;
    window(&commands).await?;
    tokio::time::sleep(settings.hold).await;
    let end = Snapshot::of_wari(settings.pid, &settings.target, &client).await?;
    let generator_end = Snapshot::of("self")?;
    let measured = window(&commands).await?;
    let load_after = load_average();

    let _ = commands.send(Command::HangUp);
    let ended = wait(&mut progress, ramp + Duration::from_secs(40), |p| {
        p.ended >= p.answered
    })
    .await;
    drop(commands);
    let _ = generator.await;
    let progress = match ended {
        Ok(p) => p,
        Err(p) => bail!(
            "only {} of {} answered calls ended within the limit",
            p.ended,
            p.answered
        ),
    };
    Ok(Outcome {
        calls,
        answered_after,
        bridged_after,
        idle,
        start,
        end,
        generator_start,
        generator_end,
        window: measured,
        progress,
        load_before,
        load_after,
        late_after: settings.late_after,
    })
}

/// Until `done` holds of the generator's progress, at most `limit`: `Ok` with the progress
/// then, `Err` with the progress when the limit passed.
async fn wait(
    progress: &mut watch::Receiver<Progress>,
    limit: Duration,
    done: impl FnMut(&Progress) -> bool,
) -> Result<Progress, Progress> {
    let reached = match tokio::time::timeout(limit, progress.wait_for(done)).await {
        Ok(Ok(shown)) => Some(shown.clone()),
        _ => None,
    };
    reached.ok_or_else(|| progress.borrow().clone())
}

/// The generator's counts since the last call.
async fn window(commands: &mpsc::UnboundedSender<Command>) -> anyhow::Result<Window> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Window(reply))
        .ok()
        .context("the generator stopped")?;
    tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .ok()
        .and_then(Result::ok)
        .context("the generator did not answer")
}

/// Until every call sits in a bridge with exactly two channels, at most until `deadline`.
async fn wait_bridged(
    settings: &Settings,
    client: &reqwest::Client,
    deadline: Instant,
) -> anyhow::Result<()> {
    let mut bridged = 0;
    while Instant::now() < deadline {
        let body = client
            .get(settings.target.url("/bridges"))
            .header("Authorization", &settings.target.authorization)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .context("GET /bridges")?
            .bytes()
            .await
            .context("GET /bridges")?;
        let bridges: Vec<serde_json::Value> =
            serde_json::from_slice(&body).context("GET /bridges: not a JSON list")?;
        bridged = bridges
            .iter()
            .filter_map(|b| b["channels"].as_array())
            .filter(|channels| channels.len() == 2)
            .count()
            * 2;
        if bridged >= settings.calls {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!(
        "only {bridged} of {} calls were in 2-party bridges in time",
        settings.calls
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// The markdown table of a run.
pub fn report(outcome: &Outcome) -> String {
    let (start, end) = (&outcome.start, &outcome.end);
    let seconds = end.time.duration_since(start.time).as_secs_f64().max(1e-9);
    let calls = outcome.calls as f64;
    let delta = |name: &str| end.metric(name) - start.metric(name);
    let cpu = end.cpu_s() - start.cpu_s();
    let user = end.user_s - start.user_s;
    let received = delta("wari_sip_rtp_received_packets_total");
    let sent = delta("wari_sip_rtp_sent_packets_total");
    let expected = calls * f64::from(rtp::PACKETS_PER_SECOND) * seconds;
    let ticks = delta("wari_media_ticks_total");
    let busy = delta("wari_media_busy_seconds_total");
    let kernel = end.kernel_drops.saturating_sub(start.kernel_drops);
    let rss_per_call = (end.rss_kib as f64 - outcome.idle.rss_kib as f64) / calls;
    let window = &outcome.window;
    let generator_cpu = outcome.generator_end.cpu_s() - outcome.generator_start.cpu_s();
    let progress = &outcome.progress;
    let percent = |packets: f64| packets / expected * 100.0;
    let rows: Vec<(&str, String)> = vec![
        (
            "SIP calls (legs) / mixing bridges",
            format!(
                "{} / {} (all answered {:.1} s, all bridged {:.1} s after the first INVITE)",
                outcome.calls,
                outcome.calls / 2,
                outcome.answered_after.as_secs_f64(),
                outcome.bridged_after.as_secs_f64()
            ),
        ),
        (
            "load average before / at the end",
            format!("{} / {}", outcome.load_before, outcome.load_after),
        ),
        ("measured window", format!("{seconds:.1} s")),
        (
            "media ticks / late ticks",
            format!("{ticks:.0} / {:.0}", delta("wari_media_late_ticks_total")),
        ),
        (
            "media thread busy",
            format!(
                "{:.1}% ({:.2} ms per tick)",
                busy / seconds * 100.0,
                busy / ticks.max(1.0) * 1e3
            ),
        ),
        (
            "RTP received by wari",
            format!(
                "{:.0} packets/s ({:.1}% of 50/s per call)",
                received / seconds,
                percent(received)
            ),
        ),
        (
            "RTP sent by wari",
            format!(
                "{:.0} packets/s ({:.1}% of 50/s per call)",
                sent / seconds,
                percent(sent)
            ),
        ),
        (
            "dropped in wari's queues (in / out)",
            format!(
                "{:.0} / {:.0}",
                delta("wari_sip_rtp_queue_dropped_total{direction=\"in\"}"),
                delta("wari_sip_rtp_queue_dropped_total{direction=\"out\"}")
            ),
        ),
        (
            "dropped by jitter buffers / gaps at playout",
            format!(
                "{:.0} / {:.0}",
                delta("wari_sip_rtp_jitter_dropped_total"),
                delta("wari_sip_rtp_jitter_lost_total")
            ),
        ),
        (
            "dropped by the kernel on wari's sockets",
            format!("{kernel} ({} UDP sockets)", end.udp_sockets),
        ),
        (
            "wari CPU (user+sys)",
            format!(
                "{:.1}% of one core ({:.1}% user)",
                cpu / seconds * 100.0,
                user / seconds * 100.0
            ),
        ),
        (
            "wari CPU per call",
            format!(
                "{:.0} µs per second ({:.3}% of a core)",
                cpu / seconds / calls * 1e6,
                cpu / seconds / calls * 100.0
            ),
        ),
        (
            "RTP packets (received+sent) per wari CPU second",
            format!("{:.0}", (received + sent) / cpu.max(1e-9)),
        ),
        (
            "wari RSS idle / with the calls, per call",
            format!(
                "{:.1} / {:.1} MiB, {:.1} KiB",
                outcome.idle.rss_kib as f64 / 1024.0,
                end.rss_kib as f64 / 1024.0,
                rss_per_call
            ),
        ),
        (
            "generator CPU (user+sys)",
            format!("{:.1}% of one core", generator_cpu / seconds * 100.0),
        ),
        (
            "generator: RTP sent / send errors",
            format!(
                "{:.0} packets/s ({:.1}% of 50/s per call) / {}",
                window.sent as f64 / seconds,
                percent(window.sent as f64),
                window.send_errors
            ),
        ),
        (
            "generator: ticks late by > 10 ms",
            format!(
                "{} of {} (largest {:.1} ms)",
                window.late_ticks,
                window.ticks,
                window.max_tick_late.as_secs_f64() * 1e3
            ),
        ),
        (
            "generator: RTP received from wari",
            format!(
                "{:.0} packets/s ({:.1}% of 50/s per call)",
                window.received.packets as f64 / seconds,
                percent(window.received.packets as f64)
            ),
        ),
        (
            "generator: lost (sequence gaps) / out of order / stream restarts (new SSRC) / RTCP on an RTP port",
            format!(
                "{} in {} calls / {} / {} ({}) / {}",
                window.received.lost,
                window.calls_with_loss,
                window.received.out_of_order,
                window.received.restarts,
                window.received.new_sources,
                window.received.rtcp
            ),
        ),
        (
            "generator: late arrivals (vs. the previous packet's spacing)",
            format!(
                "{} over {} ms, in {} calls (largest {:.1} ms)",
                window.received.late,
                outcome.late_after.as_millis(),
                window.calls_with_late,
                window.received.max_late.as_secs_f64() * 1e3
            ),
        ),
        (
            "SIP: failed / retransmissions / ended by wari / BYE unanswered",
            format!(
                "{} / {} / {} / {}",
                progress.failed,
                progress.retransmissions,
                progress.ended_by_wari,
                progress.bye_unanswered
            ),
        ),
    ];
    let mut out = String::from("| figure | value |\n|---|---|\n");
    for (name, value) in rows {
        out.push_str(&format!("| {name} | {value} |\n"));
    }
    if window.calls_up < outcome.calls {
        out.push_str(&format!(
            "\nOnly {} of {} calls were still up at the end of the window.\n",
            window.calls_up, outcome.calls
        ));
    }
    out
}
