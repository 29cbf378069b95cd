//! The benchmark harness (`bench/`, the `wari-bench` library behind the binary) measured
//! against the real binary: a tiny run of every scenario must count what happened and
//! leave the server as it found it. The harness is a library so this test can drive it
//! in-process against a wari started the way every end-to-end test starts one; the
//! `wari-bench` binary is only its command line.

use std::time::Duration;

use wari_bench::report::markdown;
use wari_bench::scenarios::Destination;
use wari_bench::{ClientWait, Report, Scenario, Settings, Target};

use crate::support::{EVENT_TIMEOUT, Wari, eventually};

const EXTENSIONS: &str = "[bench]\nexten => s,1,Answer()\n same => n,Stasis(wari-bench)\n";

fn settings(wari: &Wari) -> Settings {
    let target = Target::new(&format!("http://{}", wari.addr()), "asterisk", "secret")
        .expect("loopback target");
    let mut settings = Settings::new(target);
    settings.count = 5;
    settings.batch = 3;
    settings.connections = vec![1, 2];
    settings.load_time = Duration::from_millis(300);
    settings.duration_limit = Duration::from_secs(20);
    settings.pid = Some(wari.pid());
    settings
}

/// Waits (bounded) until no channel is left: a channel is torn down just after its
/// StasisEnd, which is what the bench waits for, and a hang-up's 204 comes before either.
async fn no_channels_left(wari: &Wari, after: &str) {
    eventually(
        &format!("no channel left after {after}"),
        EVENT_TIMEOUT,
        || async {
            let list = wari.get("/ari/channels").await.body;
            match list.as_array() {
                Some(channels) if channels.is_empty() => Ok(()),
                _ => Err(list.to_string()),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_counts_what_happened_and_cleans_up() {
    let wari = Wari::with(&[("extensions.conf", EXTENSIONS)]);
    let settings = settings(&wari);
    let scenarios = [
        Scenario::Originate,
        Scenario::RestChannels(4),
        Scenario::Memory(6),
    ];
    let reports = wari_bench::run(&settings, &scenarios)
        .await
        .unwrap_or_else(|e| panic!("bench run failed: {e:#}\nlog:\n{}", wari.log()));
    assert_eq!(reports.len(), 5, "{reports:?}");
    for (report, connections) in reports[..2].iter().zip([1, 2]) {
        let Report::Originate(r) = report else {
            panic!("originate report expected: {report:?}");
        };
        assert_eq!(r.connections, connections);
        assert_eq!((r.channels, r.latency.count), (5, 5), "{r:?}");
        assert!(r.rate > 0.0 && r.seconds > 0.0, "{r:?}");
        assert!(r.latency.p50 > Duration::ZERO, "{r:?}");
        assert!(r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
    }
    for report in &reports[2..4] {
        let Report::Rest(r) = report else {
            panic!("REST report expected: {report:?}");
        };
        assert_eq!(
            r.channels, 4,
            "exactly the bench's channels are listed: {r:?}"
        );
        assert!(r.requests > 0 && r.rate > 0.0, "{r:?}");
        assert!(r.body_bytes > 4 * 100, "{r:?}");
    }
    let Report::Memory(m) = &reports[4] else {
        panic!("memory report expected: {:?}", reports[4]);
    };
    assert_eq!(m.channels, 6);
    assert!(m.rss_before > 0 && m.rss_up > 0, "{m:?}");
    let table = markdown(&reports);
    assert!(
        table.contains("| Test/bench → app | 2 | blocking | 5 |"),
        "{table}"
    );
    assert!(table.contains("| 4 channels up | 1 |"), "{table}");
    assert!(table.contains("| 6 channels in Stasis |"), "{table}");
    no_channels_left(&wari, "the scenarios").await;

    // A burst from many connections: every event reaches the bench (none is lost when
    // the server writes queued events in batches).
    let mut burst = settings.clone();
    burst.connections = vec![16];
    burst.count = 300;
    burst.batch = 300;
    let reports = wari_bench::run(&burst, &[Scenario::Originate])
        .await
        .unwrap_or_else(|e| panic!("burst run failed: {e:#}\nlog:\n{}", wari.log()));
    let [Report::Originate(r)] = &reports[..] else {
        panic!("one originate report expected: {reports:?}");
    };
    assert_eq!(r.channels, 300, "{r:?}");
    no_channels_left(&wari, "the burst").await;

    // Through the dialplan: the extension runs Stasis(wari-bench).
    let mut dialplan = settings.clone();
    dialplan.connections = vec![1];
    dialplan.count = 3;
    dialplan.destination = Destination::Dialplan {
        extension: "s".into(),
        context: Some("bench".into()),
    };
    let reports = wari_bench::run(&dialplan, &[Scenario::Originate])
        .await
        .unwrap_or_else(|e| panic!("dialplan run failed: {e:#}\nlog:\n{}", wari.log()));
    let [Report::Originate(r)] = &reports[..] else {
        panic!("one originate report expected: {reports:?}");
    };
    assert_eq!(
        (r.destination.as_str(), r.channels),
        ("dialplan", 3),
        "{r:?}"
    );
    no_channels_left(&wari, "the dialplan run").await;
}

#[tokio::test]
async fn refusals_are_reported() {
    let wari = Wari::start_default();
    let mut bad = settings(&wari);
    bad.target =
        Target::new(&format!("http://{}", wari.addr()), "asterisk", "wrong").expect("target");
    let error = wari_bench::run(&bad, &[Scenario::Originate])
        .await
        .expect_err("bad credentials");
    assert!(format!("{error:#}").contains("handshake"), "{error:#}");

    let mut unknown = settings(&wari);
    unknown.endpoint = "Nope/x".into();
    let error = wari_bench::run(&unknown, &[Scenario::Originate])
        .await
        .expect_err("unknown technology");
    assert!(format!("{error:#}").contains("400"), "{error:#}");

    let mut no_pid = settings(&wari);
    no_pid.pid = None;
    assert!(
        wari_bench::run(&no_pid, &[Scenario::Memory(1)])
            .await
            .is_err()
    );
    assert!(Target::new("http://192.0.2.1:8088", "a", "b").is_err());
}

/// `--client-wait poll`: the one-connection originate row and loopback-echo poll and say
/// so; the two-connection row stays blocking. The counts are those of a blocking run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_polling_bench_polls_only_one_connection_and_says_so() {
    let wari = Wari::start_default();
    let mut settings = settings(&wari);
    settings.client_wait = ClientWait::Poll;
    let reports = wari_bench::run(&settings, &[Scenario::Originate, Scenario::LoopbackEcho])
        .await
        .unwrap_or_else(|e| panic!("bench run failed: {e:#}\nlog:\n{}", wari.log()));
    let [
        Report::Originate(one),
        Report::Originate(two),
        Report::Echo(echo),
    ] = &reports[..]
    else {
        panic!("two originate reports and an echo report expected: {reports:?}");
    };
    assert_eq!((one.connections, one.client_wait), (1, ClientWait::Poll));
    assert_eq!((two.connections, two.client_wait), (2, ClientWait::Block));
    for r in [one, two] {
        assert_eq!((r.channels, r.latency.count), (5, 5), "{r:?}");
    }
    assert_eq!((echo.client_wait, echo.round_trips), (ClientWait::Poll, 5));
    let table = markdown(&reports);
    for row in [
        "| Test/bench → app | 1 | polling | 5 |",
        "| Test/bench → app | 2 | blocking | 5 |",
        "| 1 byte over TCP, sender polling, echo blocking | 5 |",
    ] {
        assert!(table.contains(row), "{row}: {table}");
    }
    assert_eq!(reports[0].json()["client_wait"], "polling");
    no_channels_left(&wari, "the polling run").await;
}

/// Every scenario the issue lists, at a tiny size: each report's JSON is well-formed (it
/// survives a round trip through text and names its scenario), its counts add up, the
/// comparison with itself is all ≈, and nothing is left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scenario_writes_json_whose_counts_add_up() {
    let extensions = format!(
        "{EXTENSIONS}\n[wari-bench]\nexten => wasm,1,Stasis(wari-bench-wasm)\n same => n,Hangup()\n"
    );
    let wari = Wari::with(&[("extensions.conf", &extensions)]);
    let mut settings = settings(&wari);
    settings.count = 3;
    settings.connections = vec![1, 2];
    settings.wasm_component = Some(crate::wasm_apps::component("ivr"));
    let scenarios = [
        Scenario::RestInfo,
        Scenario::Originate,
        Scenario::Hangup,
        Scenario::RestChannels(2),
        Scenario::Memory(2),
        Scenario::RestOverWs,
        Scenario::EventsFanout,
        Scenario::WasmStart,
        Scenario::WasmEvent,
        Scenario::LoopbackEcho,
    ];
    let reports = wari_bench::run(&settings, &scenarios)
        .await
        .unwrap_or_else(|e| panic!("bench run failed: {e:#}\nlog:\n{}", wari.log()));
    let json: Vec<serde_json::Value> = reports
        .iter()
        .map(|r| {
            let text = serde_json::to_string(&r.json()).expect("serialize");
            serde_json::from_str(&text).expect("well-formed JSON")
        })
        .collect();
    let named = |scenario: &str| -> Vec<&serde_json::Value> {
        json.iter().filter(|r| r["scenario"] == scenario).collect()
    };
    let count = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap_or(u64::MAX);
    // One report per connection value for the per-connection scenarios.
    for scenario in ["rest-info", "originate", "hangup", "rest-channels-2"] {
        assert_eq!(named(scenario).len(), 2, "{scenario}: {json:#?}");
    }
    for r in named("rest-info") {
        assert!(count(r, "requests") > 0, "{r}");
        assert_eq!(r["latency"]["count"], r["requests"], "{r}");
    }
    for r in named("originate") {
        assert_eq!((count(r, "channels"), count(r, "requested")), (3, 3), "{r}");
        assert_eq!(r["latency"]["count"], 3, "{r}");
    }
    for r in named("hangup") {
        assert_eq!((count(r, "channels"), count(r, "deleted")), (3, 3), "{r}");
        assert_eq!(
            r["latency"]["count"], 3,
            "every DELETE saw its StasisEnd: {r}"
        );
        assert_eq!(r["response"]["count"], 3, "{r}");
        assert!(
            r["deletes_per_second"].as_f64().is_some_and(|x| x > 0.0),
            "{r}"
        );
    }
    for r in named("rest-channels-2") {
        assert_eq!(count(r, "channels"), 2, "{r}");
    }
    let memory = named("memory-2");
    assert_eq!(memory.len(), 1, "{json:#?}");
    assert!(count(memory[0], "rss_up") > 0);
    for r in named("rest-over-ws") {
        assert_eq!(r["latency"]["count"], r["requests"], "{r}");
    }
    for r in named("events-fanout") {
        assert_eq!(
            count(r, "events"),
            count(r, "requests") * count(r, "sockets"),
            "every socket read every event: {r}"
        );
    }
    for scenario in ["wasm-start", "wasm-event"] {
        let r = named(scenario);
        assert_eq!(r.len(), 1, "{scenario}: {json:#?}");
        assert_eq!(
            (count(r[0], "calls"), count(r[0], "requested")),
            (3, 3),
            "{}",
            r[0]
        );
        assert_eq!(r[0]["latency"]["count"], 3, "{}", r[0]);
        assert!(r[0]["measures"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let echo = named("loopback-echo");
    assert_eq!(echo.len(), 1, "{json:#?}");
    assert_eq!(
        (count(echo[0], "round_trips"), count(echo[0], "requested")),
        (3, 3),
        "{}",
        echo[0]
    );
    assert_eq!(echo[0]["latency"]["count"], 3, "{}", echo[0]);
    assert_eq!(json.len(), reports.len());
    let table = markdown(&reports);
    for heading in [
        "GET /asterisk/info",
        "| hangup |",
        "| WebAssembly |",
        "| loopback echo |",
    ] {
        assert!(table.contains(heading), "{heading}: {table}");
    }
    let before = serde_json::json!({ "reports": json });
    let compared = wari_bench::compare::compare(&before, &json);
    assert!(!compared.contains("not in the earlier run"), "{compared}");
    assert!(compared.contains("| 1.00 | ≈ |"), "{compared}");

    no_channels_left(&wari, "the hangup scenario").await;
    let apps = wari.get("/ari/wasm").await.body;
    assert_eq!(apps, serde_json::json!([]), "the uploaded app was removed");
}
