//! Media benchmark, in process: the core and its media engine as wari builds them, with no
//! HTTP. Scenarios (one per run, chosen by the first argument):
//!
//! - `playing N`: N/2 Local pairs, a prompt playing on every half (N channels playing);
//! - `bridges N`: N three-party mixing bridges (three Local pairs each, the `;1` halves
//!   bridged, a prompt playing to every `;2` half so every bridge mixes real audio);
//! - `recording N`: N/2 Local pairs, a prompt playing on each `;1` half and a recording of
//!   each `;2` half.
//!
//! Each runs for `SECONDS` (default 20) after everything is set up and reports the engine's
//! ticks, its late ticks (frames not ready by the end of their 20 ms slot) and its busy
//! time. Usage: `cargo run --release -p wari --example media_bench -- playing 2000`.
//!
//! `LIST=M` (default 0) adds M more channels (Test phones in the application) and a thread
//! that lists every channel in a loop for the whole run, as `GET /channels` does while the
//! system changes: each round marks the state changed (so the cached listing is rendered
//! again) and renders `core.list_channels_json()`, holding the core's state lock as long as
//! that takes. So that the engine has something to report meanwhile, another thread plays a
//! 100 ms prompt on one of those channels every 10 ms (each playback's start and end are
//! events the core applies under the same lock). The report then also gives how many
//! listings and playbacks were made.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a benchmark reports on the terminal"
)]

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wari::config::diagnostics::Problems;
use wari::core::channels::{Destination, Originate};
use wari::core::dialplan::Dialplan;
use wari::core::media::{MediaSetup, PlayRequest, RecordChannelRequest};
use wari::core::stasis::EventSink;
use wari::core::stasis::apps::Claim;
use wari::core::{Core, CoreConfig, SystemInfo};
use wari::media::sounds::SoundIndex;

const APP: &str = "mb";

/// Swallows the application's events.
#[derive(Debug)]
struct Sink;

impl EventSink for Sink {
    fn deliver(&self, _app: &str, _event: &Arc<wari::core::event::Event>) -> bool {
        true
    }
    fn id(&self) -> u64 {
        7
    }
}

fn write_prompt(dir: &Path) {
    write_tone(dir, "prompt", 60 * 8000);
    write_tone(dir, "short", 800);
}

/// A 440 Hz WAV sound `name` of `samples` samples at 8 kHz.
fn write_tone(dir: &Path, name: &str, samples: u32) {
    let sounds = dir.join("sounds").join("en");
    std::fs::create_dir_all(&sounds).expect("sounds dir");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let file = sounds.join(format!("{name}.wav"));
    let mut writer = hound::WavWriter::create(file, spec).expect("wav");
    for n in 0..samples {
        let t = f64::from(n) / 8000.0;
        let sample = 6000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin();
        writer.write_sample(sample as i16).expect("sample");
    }
    writer.finalize().expect("finalize");
}

fn core(dir: &Path) -> Arc<Core> {
    let mut problems = Problems::default();
    let conf = wari::config::conf_file::parse_str(
        Path::new("extensions.conf"),
        "[bench]\nexten => s,1,Answer()\n same => n,Stasis(mb)\n",
        &mut problems,
    );
    let core = Core::new(
        SystemInfo::new(),
        CoreConfig {
            channelvars: Vec::new(),
            dialplan: Dialplan::from_conf(&conf, &mut problems),
            technologies: Vec::new(),
            ..CoreConfig::default()
        },
    );
    let sounds = SoundIndex::scan(&dir.join("sounds")).expect("sounds");
    core.start_media(MediaSetup {
        sounds: Arc::new(sounds),
        recordings_dir: dir.join("recordings"),
        moh: Arc::default(),
    })
    .expect("media engine");
    core.app_host()
        .register_apps(
            &[APP.to_string()],
            Arc::new(Sink),
            false,
            Claim::Configured("bench"),
        )
        .expect("app");
    core
}

/// Originates Local pairs `ns` into the app, then waits until every half is in Stasis
/// (all at once: each pair's `;2` half waits for media after answering, as Asterisk does,
/// so one pair at a time would make the set-up of N pairs take N times that wait).
async fn pairs(core: &Core, ns: std::ops::Range<usize>) -> Vec<(String, String)> {
    let pairs: Vec<(String, String)> = ns.map(|n| (format!("p{n};1"), format!("p{n};2"))).collect();
    for (one, two) in &pairs {
        core.control()
            .originate(Originate {
                endpoint: "Local/s@bench".into(),
                destination: Destination::App {
                    app: APP.into(),
                    args: Vec::new(),
                },
                caller_id: None,
                timeout: None,
                channel_id: Some(one.clone()),
                other_channel_id: Some(two.clone()),
                variables: Vec::new(),
                owner: None,
            })
            .expect("originate");
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let waiting = pairs
            .iter()
            .flat_map(|(one, two)| [one, two])
            .filter(|id| core.app_of_channel(id).is_none())
            .count();
        if waiting == 0 {
            return pairs;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} halves did not enter Stasis"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Originates `count` Test phones into the app and waits until all of them are up.
async fn idle_channels(core: &Core, count: usize) {
    for n in 0..count {
        core.control()
            .originate(Originate {
                endpoint: format!("Test/idle{n}"),
                destination: Destination::App {
                    app: APP.into(),
                    args: Vec::new(),
                },
                caller_id: None,
                timeout: None,
                channel_id: Some(format!("idle{n}")),
                other_channel_id: None,
                variables: Vec::new(),
                owner: None,
            })
            .expect("originate");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = (0..count)
            .filter(|n| core.app_of_channel(&format!("idle{n}")).is_some())
            .count();
        if up == count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {up} of {count} Test phones are up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Lists every channel in a loop until `stop`, as `GET /channels` does on a changing
/// system; counts the listings and the longest one.
fn lister(core: Arc<Core>, stop: Arc<AtomicBool>, listed: Arc<AtomicU64>, longest: Arc<AtomicU64>) {
    while !stop.load(Ordering::Relaxed) {
        // A change (as any event makes): the cached rendering is stale.
        core.control().set_global_var("MEDIA_BENCH_LISTED", None);
        let began = Instant::now();
        let body = core.control().list_channels_json();
        let took = u64::try_from(began.elapsed().as_micros()).unwrap_or(u64::MAX);
        std::hint::black_box(body);
        listed.fetch_add(1, Ordering::Relaxed);
        longest.fetch_max(took, Ordering::Relaxed);
    }
}

/// Plays the 100 ms prompt on one of `count` Test phones after another, one every 10 ms,
/// until `stop`; counts the playbacks.
fn player(core: Arc<Core>, count: usize, stop: Arc<AtomicBool>, played: Arc<AtomicU64>) {
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let request = PlayRequest {
            media: vec!["sound:short".into()],
            skip_ms: 3000,
            ..PlayRequest::default()
        };
        if core
            .control()
            .play_on_channel(&format!("idle{n}"), request)
            .is_ok()
        {
            played.fetch_add(1, Ordering::Relaxed);
        }
        n = (n + 1) % count.max(1);
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn play(core: &Core, channel: &str) {
    core.control()
        .play_on_channel(
            channel,
            PlayRequest {
                media: vec!["sound:prompt".into()],
                skip_ms: 3000,
                ..PlayRequest::default()
            },
        )
        .expect("play");
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let scenario = args.next().unwrap_or_else(|| "playing".into());
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let seconds: u64 = std::env::var("SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let listed_channels: usize = std::env::var("LIST")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let dir = tempfile::tempdir().expect("temp dir");
    write_prompt(dir.path());
    let core = core(dir.path());

    let what = match scenario.as_str() {
        "playing" => {
            for (one, two) in pairs(&core, 0..count / 2).await {
                play(&core, &one);
                play(&core, &two);
            }
            format!("{} channels playing a prompt", count / 2 * 2)
        }
        "recording" => {
            for (n, (one, two)) in pairs(&core, 0..count / 2).await.into_iter().enumerate() {
                play(&core, &one);
                core.control()
                    .record_channel(
                        &two,
                        RecordChannelRequest {
                            name: format!("rec{n}"),
                            format: "wav".into(),
                            ..RecordChannelRequest::default()
                        },
                        None,
                    )
                    .expect("record");
            }
            format!(
                "{} Local pairs: a prompt playing on one half, the other half recorded",
                count / 2
            )
        }
        "bridges" => {
            let mut legs = pairs(&core, 0..count * 3).await.into_iter();
            for b in 0..count {
                let bridge = format!("b{b}");
                core.control()
                    .create_bridge_with_vars(Some(&bridge), "mixing", "", &[], None)
                    .expect("bridge");
                let mut members = Vec::new();
                for (one, two) in legs.by_ref().take(3) {
                    play(&core, &two);
                    members.push(one);
                }
                core.control()
                    .add_to_bridge(&bridge, &members)
                    .expect("add");
            }
            format!("{count} three-party mixing bridges, every member talking")
        }
        other => {
            eprintln!("unknown scenario {other}: playing N | recording N | bridges N");
            std::process::exit(2);
        }
    };
    let (stop, listed, longest, played) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicU64::new(0)),
    );
    let what = if listed_channels > 0 {
        idle_channels(&core, listed_channels).await;
        let (c, s, l, m) = (core.clone(), stop.clone(), listed.clone(), longest.clone());
        std::thread::spawn(move || lister(c, s, l, m));
        let (c, s, p) = (core.clone(), stop.clone(), played.clone());
        std::thread::spawn(move || player(c, listed_channels, s, p));
        format!("{what}, {listed_channels} more channels listed in a loop")
    } else {
        what
    };
    let stats = core.media().expect("media").engine.stats.clone();
    // Let set-up settle, then measure a window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ticks0, late0, busy0) = (
        stats.ticks.load(Ordering::Relaxed),
        stats.late_ticks.load(Ordering::Relaxed),
        stats.busy_micros.load(Ordering::Relaxed),
    );
    let began = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = began.elapsed();
    stop.store(true, Ordering::Relaxed);
    let ticks = stats.ticks.load(Ordering::Relaxed) - ticks0;
    let late = stats.late_ticks.load(Ordering::Relaxed) - late0;
    let busy = stats.busy_micros.load(Ordering::Relaxed) - busy0;
    let expected = wall.as_millis() as f64 / 20.0;
    println!("| scenario | ticks | expected | late ticks | late % | engine busy | busy per tick |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {what} | {ticks} | {expected:.0} | {late} | {:.2}% | {:.1}% | {:.2} ms |",
        100.0 * late as f64 / expected.max(1.0),
        100.0 * busy as f64 / wall.as_micros() as f64,
        busy as f64 / ticks.max(1) as f64 / 1000.0,
    );
    if listed_channels > 0 {
        println!(
            "listings of all {} channels: {} made, the longest {:.1} ms; {} playbacks of 100 ms",
            core.counts().channels,
            listed.load(Ordering::Relaxed),
            longest.load(Ordering::Relaxed) as f64 / 1000.0,
            played.load(Ordering::Relaxed),
        );
    }
}
