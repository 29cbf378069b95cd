//! WebAssembly apps end to end: the example apps (IVR, call forward, conference) uploaded
//! over HTTP and driven by Test and Local calls, the hostile components contained, and apps
//! surviving a restart without recompiling.
//!
//! The components are built by `scripts/build-guests` (scripts/test runs it and exports
//! `WARI_GUESTS_DIR`).

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{EventSocket, Wari, client};

const RW: (&str, &str) = ("asterisk", "secret");

const DIALPLAN: &str = "\
[default]
exten => 700,1,Stasis(ivr)
 same => n,Hangup()

[ivr-result]
exten => 1,1,Set(AFTER_IVR=${IVR_CHOICE})
 same => n,Hangup()
";

pub(crate) fn component(name: &str) -> Vec<u8> {
    let path = crate::support::guests_dir().join(format!("{name}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: build the guest components with scripts/build-guests (scripts/test does)",
            path.display()
        )
    })
}

pub(crate) async fn deploy(wari: &Wari, name: &str, file: &str) -> Value {
    let response = client()
        .put(wari.url(&format!("/ari/wasm/{name}")))
        .basic_auth(RW.0, Some(RW.1))
        .header("Content-Type", "application/wasm")
        .body(component(file))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED, "deploy {name}");
    assert_eq!(
        response.headers()["location"].to_str().ok(),
        Some(format!("/ari/wasm/{name}").as_str())
    );
    response.json().await.expect("json")
}

async fn watcher(wari: &Wari) -> EventSocket {
    EventSocket::connect(
        wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await
}

/// Waits for a ChannelVarset of `variable` on `channel` and returns its value.
async fn varset(ws: &mut EventSocket, channel: &str, variable: &str) -> String {
    loop {
        let event = ws.next_of("ChannelVarset").await;
        if event["channel"]["id"] == channel && event["variable"] == variable {
            return event["value"].as_str().unwrap_or_default().to_string();
        }
    }
}

#[tokio::test]
async fn the_ivr_answers_reacts_to_dtmf_and_continues_in_the_dialplan() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    // The menu's prompts are missing in this wari's own sounds directory (whatever the
    // machine has installed, e.g. Debian's in /usr/share/asterisk/sounds).
    let sounds = wari
        .astdatadir()
        .expect("a data directory of its own")
        .join("sounds");
    let installed = std::fs::read_dir(&sounds)
        .expect("sounds directory")
        .count();
    assert_eq!(installed, 0, "{} is empty", sounds.display());
    let app = deploy(&wari, "ivr", "ivr").await;
    assert_eq!(app["name"], "ivr");
    assert_eq!(app["status"], "ready");
    assert_eq!(app["size"], component("ivr").len());
    assert!(app["sha256"].as_str().is_some_and(|s| s.len() == 64));
    let mut ws = watcher(&wari).await;

    // A caller who presses 1 is sent to ivr-result,1 with IVR_CHOICE=1.
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/alice/dtmf=1&app=ivr&channelId=alice")
            .await
            .status,
        StatusCode::OK
    );
    // The menu goes through the same media path as `POST /channels/{id}/play`: with its
    // prompts missing, the playback starts and fails.
    // (The caller's key may arrive before or after that: look for all three.)
    let (mut started, mut finished, mut choice) = (None, None, None);
    while started.is_none() || finished.is_none() || choice.is_none() {
        let event = ws.next().await;
        match event["type"].as_str() {
            Some("PlaybackStarted") => started = Some(event),
            Some("PlaybackFinished") => finished = Some(event),
            Some("ChannelVarset")
                if event["channel"]["id"] == "alice" && event["variable"] == "IVR_CHOICE" =>
            {
                choice = Some(event["value"].clone());
            }
            _ => {}
        }
    }
    let (started, finished) = (started.unwrap_or_default(), finished.unwrap_or_default());
    assert_eq!(
        started["playback"]["target_uri"], "channel:alice",
        "{started}"
    );
    assert_eq!(finished["playback"]["id"], started["playback"]["id"]);
    assert_eq!(finished["playback"]["state"], "failed", "{finished}");
    assert_eq!(choice, Some(serde_json::json!("1")));
    assert_eq!(varset(&mut ws, "alice", "AFTER_IVR").await, "1");
    let destroyed = ws.next_for("ChannelDestroyed", "alice").await;
    assert_eq!(destroyed["cause"], 16);

    // A caller who presses 2 is hung up as busy.
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/bob/dtmf=2&app=ivr&channelId=bob")
            .await
            .status,
        StatusCode::OK
    );
    let destroyed = ws.next_for("ChannelDestroyed", "bob").await;
    assert_eq!(destroyed["cause"], 17);

    let app = wari.get("/ari/wasm/ivr").await.body;
    assert_eq!(app["sessions_started"], 2);
    assert_eq!(app["failures"]["total"], 0);
    let list = wari.get("/ari/wasm").await.body;
    assert_eq!(list.as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn forward_bridges_the_caller_with_the_callee_and_cleans_up() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    deploy(&wari, "forward", "forward").await;
    let mut ws = watcher(&wari).await;
    assert_eq!(
        wari.post(
            "/ari/channels?endpoint=Test/alice&app=forward&appArgs=Test/bob&channelId=caller"
        )
        .await
        .status,
        StatusCode::OK
    );
    let mut bridged = std::collections::HashSet::new();
    let mut bridge_id = String::new();
    while bridged.len() < 2 {
        let event = ws.next_of("ChannelEnteredBridge").await;
        bridge_id = event["bridge"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        bridged.insert(
            event["channel"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    assert!(
        bridged.iter().any(|n| n.starts_with("Test/alice")),
        "{bridged:?}"
    );
    assert!(
        bridged.iter().any(|n| n.starts_with("Test/bob")),
        "{bridged:?}"
    );
    // The caller hangs up: the app hangs up the callee and destroys the bridge.
    let response = client()
        .delete(wari.url("/ari/channels/caller"))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("hangup");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let mut bob_gone = false;
    let mut bridge_gone = false;
    while !(bob_gone && bridge_gone) {
        let event = ws.next().await;
        if event["type"] == "ChannelDestroyed"
            && event["channel"]["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Test/bob"))
        {
            bob_gone = true;
        }
        if event["type"] == "BridgeDestroyed" && event["bridge"]["id"] == bridge_id.as_str() {
            bridge_gone = true;
        }
    }
}

#[tokio::test]
async fn conference_rooms_share_one_bridge_through_the_kv_store() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    deploy(&wari, "conference", "conference").await;
    let mut ws = watcher(&wari).await;
    // Both callers arrive at once: the app claims the room atomically (kv set-if-absent), so
    // they still end up in one bridge.
    for caller in ["c1", "c2"] {
        assert_eq!(
            wari.post(&format!(
                "/ari/channels?endpoint=Test/{caller}&app=conference&appArgs=42&channelId={caller}"
            ))
            .await
            .status,
            StatusCode::OK
        );
    }
    let mut joined = Vec::new();
    while joined.len() < 2 {
        let event = ws.next_of("ChannelEnteredBridge").await;
        joined.push(event);
    }
    let (first, second) = (&joined[0], &joined[1]);
    assert_eq!(
        first["bridge"]["id"], second["bridge"]["id"],
        "one bridge per room"
    );
    let mut members: Vec<&str> = second["bridge"]["channels"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c.as_str()).collect())
        .unwrap_or_default();
    members.sort_unstable();
    assert_eq!(members, ["c1", "c2"], "both callers in the room");
    let bridge_id = first["bridge"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    for caller in ["c1", "c2"] {
        let response = client()
            .delete(wari.url(&format!("/ari/channels/{caller}")))
            .basic_auth(RW.0, Some(RW.1))
            .send()
            .await
            .expect("hangup");
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
    }
    loop {
        let event = ws.next_of("BridgeDestroyed").await;
        if event["bridge"]["id"] == bridge_id.as_str() {
            break;
        }
    }
}

/// Calls a hostile app and a healthy one side by side: the hostile session is ended (its
/// channel hung up), the failure is counted, and the healthy call completes.
/// `failure`: the failure's key in `failures` (`timeouts`, `limits`, and for CPU or memory
/// also `cpu` or `memory`, which count within them).
async fn contained(component_name: &str, failure: &[&str]) -> Wari {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    deploy(&wari, "hostile", component_name).await;
    deploy(&wari, "ivr", "ivr").await;
    let mut ws = watcher(&wari).await;
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/victim&app=hostile&channelId=victim")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/calm/dtmf=1&app=ivr&channelId=calm")
            .await
            .status,
        StatusCode::OK
    );
    let mut victim_gone = false;
    let mut calm_done = false;
    while !(victim_gone && calm_done) {
        let event = ws.next().await;
        if event["type"] == "ChannelDestroyed" && event["channel"]["id"] == "victim" {
            victim_gone = true;
        }
        if event["type"] == "ChannelVarset"
            && event["channel"]["id"] == "calm"
            && event["variable"] == "IVR_CHOICE"
        {
            calm_done = true;
        }
    }
    let app = wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(app["failures"]["total"], 1, "{app}");
    for kind in ["traps", "timeouts", "cpu", "limits", "memory"] {
        let expected = u64::from(failure.contains(&kind));
        assert_eq!(
            app["failures"][kind].as_u64(),
            Some(expected),
            "{component_name}: {kind} should be {expected}: {app}"
        );
    }
    assert!(app["failures"]["last"]["message"].is_string(), "{app}");
    assert_eq!(wari.get("/ari/wasm/ivr").await.body["failures"]["total"], 0);
    assert!(
        wari.log().contains("WebAssembly app"),
        "the failure is logged"
    );
    // The host still serves.
    assert_eq!(wari.get("/ari/asterisk/ping").await.body["ping"], "pong");
    wari
}

#[tokio::test]
async fn an_infinite_loop_is_stopped_by_the_cpu_budget() {
    let wari = contained("loop", &["timeouts", "cpu"]).await;
    let app = wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(
        app["failures"]["last"]["message"],
        "failed: CPU budget of 100 ms per event exceeded (wasm.conf cpu_ms_per_event) while handling StasisStart",
        "the default budget, named with its key: {app}"
    );
}

#[tokio::test]
async fn a_memory_bomb_is_stopped_by_the_memory_limit() {
    let wari = contained("memory-bomb", &["limits", "memory"]).await;
    let app = wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(
        app["failures"]["last"]["message"],
        "failed: memory limit of 64 MB reached (wasm.conf memory_mb) while handling StasisStart",
        "the default limit, named with its key: {app}"
    );
}

#[tokio::test]
async fn a_stack_overflow_is_contained() {
    contained("stack-overflow", &["limits"]).await;
}

/// A guest's panic, in a host started with `RUST_BACKTRACE=1` (as every e2e wari is): the
/// panic message is logged once, at ERROR, with the app's version, and is what
/// `failures.last` says, with the time, session and channel; no host backtrace and no
/// `RUST_BACKTRACE` hint (which is about the guest's environment) reach the log. The
/// session's other log lines carry the version as well.
#[tokio::test]
async fn a_trap_is_contained() {
    let wari = contained("trap", &["traps"]).await;
    let message = "trap: panicking on purpose in StasisStart of victim";
    let app = wari.get("/ari/wasm/hostile").await.body;
    let sha256 = app["sha256"].as_str().unwrap_or_default();
    let last = &app["failures"]["last"];
    assert!(
        last["message"]
            .as_str()
            .is_some_and(|m| m.contains("panicked at ")
                && m.contains("src/lib.rs:14")
                && m.contains(message)),
        "{app}"
    );
    assert_eq!(last["channels"], serde_json::json!(["victim"]), "{app}");
    assert!(last["session"].is_u64(), "{app}");
    assert!(last["time"].as_str().is_some_and(|t| t.len() > 10), "{app}");
    assert_eq!(last["version"], sha256.get(..12).unwrap_or("?"), "{app}");
    let log = wari.log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains(message)).collect();
    assert_eq!(lines.len(), 1, "the panic message is logged once: {log}");
    assert!(
        lines[0].contains("ERROR")
            && lines[0].contains("hostile")
            && lines[0].contains(&format!("version={}", &sha256[..12])),
        "{}",
        lines[0]
    );
    // The app's own log lines name the version too.
    let own = log
        .lines()
        .find(|l| l.contains("trap: about to panic"))
        .unwrap_or_default();
    assert!(
        own.contains(&format!("version={}", &sha256[..12])) && own.contains("session="),
        "{own}"
    );
    assert!(!log.contains("RUST_BACKTRACE"), "no guest hint: {log}");
    assert!(
        !log.to_lowercase().contains("stack backtrace"),
        "no host backtrace for a guest's fault: {log}"
    );
}

#[tokio::test]
async fn an_app_cannot_touch_another_apps_channel() {
    let dialplan = format!("{DIALPLAN}\n[sneaky]\nexten => 900,1,Stasis(snoopy,target)\n");
    let wari = Wari::with(&[("extensions.conf", &dialplan)]);
    deploy(&wari, "snoopy", "other-channel").await;
    let mut ws = watcher(&wari).await;
    let _owner = EventSocket::connect(&wari, "app=owner&api_key=asterisk:secret").await;
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/target&app=owner&channelId=target")
            .await
            .status,
        StatusCode::OK
    );
    // The app's channel is the ;2 half of a Local pair, ringing inbound: the app first tries
    // to hang up `target`, then answers its own channel, which shows as a state change.
    assert_eq!(
        wari.post("/ari/channels?endpoint=Local/900@sneaky&extension=1&context=none&channelId=orig&otherChannelId=sneak")
        .await.status,
        StatusCode::OK
    );
    loop {
        let event = ws.next().await;
        assert!(
            !(event["type"] == "ChannelDestroyed" && event["channel"]["id"] == "target"),
            "another app's channel was hung up: {event}"
        );
        if event["type"] == "ChannelStateChange"
            && event["channel"]["id"] == "sneak"
            && event["channel"]["state"] == "Up"
        {
            break;
        }
    }
    let log = wari.log();
    assert!(
        log.contains("other-channel: hangup of target refused: 403"),
        "the app saw a 403: {log}"
    );
    let (status, target) = (StatusCode::OK, wari.get("/ari/channels/target").await.body);
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        target["id"], "target",
        "the other app's channel is untouched"
    );
}

#[tokio::test]
async fn uploaded_apps_survive_a_restart_without_recompiling() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let first = deploy(&wari, "ivr", "ivr").await;
    assert_eq!(first["compiled_from_cache"], false);
    let wari = wari.restart();
    let app = wari.get("/ari/wasm/ivr").await.body;
    assert_eq!(app["sha256"], first["sha256"]);
    assert_eq!(app["compiled_from_cache"], true, "{app}");
    let mut ws = watcher(&wari).await;
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/again/dtmf=2&app=ivr&channelId=again")
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(ws.next_for("ChannelDestroyed", "again").await["cause"], 17);
}

#[tokio::test]
async fn a_re_upload_replaces_the_app_and_delete_removes_it() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    deploy(&wari, "app", "ivr").await;
    let replaced = deploy(&wari, "app", "forward").await;
    assert_eq!(replaced["size"], component("forward").len());
    let response = client()
        .delete(wari.url("/ari/wasm/app"))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("delete");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(wari.get("/ari/wasm").await.body, serde_json::json!([]));
    // The name is free again: a WebSocket may take it.
    let _ws = EventSocket::connect(&wari, "app=app&api_key=asterisk:secret").await;
}

#[tokio::test]
async fn a_log_flood_is_rate_limited() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    deploy(&wari, "flood", "log-flood").await;
    let mut ws = watcher(&wari).await;
    assert_eq!(
        wari.post("/ari/channels?endpoint=Test/noisy&app=flood&channelId=noisy")
            .await
            .status,
        StatusCode::OK
    );
    ws.next_for("ChannelDialplan", "noisy").await;
    let response = client()
        .delete(wari.url("/ari/channels/noisy"))
        .basic_auth(RW.0, Some(RW.1))
        .send()
        .await
        .expect("hangup");
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    ws.next_for("ChannelDestroyed", "noisy").await;
    // The session ends after its StasisEnd; its summary line names the dropped lines.
    assert_eq!(wari.get("/ari/asterisk/ping").await.body["ping"], "pong");
    let log = wari.log();
    let flood_lines = log.lines().filter(|l| l.contains("app=flood")).count();
    assert!(
        flood_lines < 1_000,
        "100,000 guest log lines must not reach the log: {flood_lines}"
    );
}
