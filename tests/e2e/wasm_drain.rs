//! Removing a WebAssembly app while calls are in it, versions draining, and rollback: a
//! removed app refuses new calls but its live calls keep their events (DTMF, StasisEnd)
//! until they end, for at most wasm.conf `drain_seconds` (`?immediate=true`, `wari app rm
//! --now`: at once); `GET /ari/wasm` shows the versions still draining and a removed app as
//! draining; `wari app rollback` makes the previous version current again, also after a
//! `kill -9` and a restart, and only for the app's owner or an admin.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::support::{EventSocket, Finished, Reply, Wari, eventually, run_limited, wari_command};
use crate::wasm_apps::component;
use crate::wasm_upload::upload;

const ARI_CONF: &str = "[general]\nenabled = yes\n\
[alice]\ntype = user\npassword = alicepw\n\
[bob]\ntype = user\npassword = bobpw\n";

const ALICE: (&str, &str) = ("alice", "alicepw");
const BOB: (&str, &str) = ("bob", "bobpw");

/// Extension 700 enters the app `menu`; after it, the dialplan records STASISSTATUS.
const DIALPLAN: &str = "\
[default]
exten => 700,1,Stasis(menu)
 same => n,Set(AFTER=${STASISSTATUS})
 same => n,Hangup()

[ivr-result]
exten => 1,1,Set(AFTER_IVR=${IVR_CHOICE})
 same => n,Hangup()
";

async fn app(wari: &Wari, name: &str) -> Reply {
    wari.ari_as(ALICE, Method::GET, &format!("/ari/wasm/{name}"), None)
        .await
}

async fn deploy(wari: &Wari, name: &str, file: &str) -> String {
    let Reply { status, body, .. } = upload(wari, name, ALICE, component(file)).await;
    assert_eq!(status, StatusCode::CREATED, "deploy {name}: {body}");
    body["sha256"].as_str().expect("sha256").to_string()
}

async fn watcher(wari: &Wari) -> EventSocket {
    EventSocket::connect(wari, "app=watcher&subscribeAll=true&api_key=alice:alicepw").await
}

/// A call into extension 700 (the app `menu`) through a Local pair: `callee` runs the
/// dialplan, `caller` waits in the app `watcher`, so that digits sent to `caller` reach
/// `callee` as pressed keys whenever the test chooses.
async fn local_call(wari: &Wari, caller: &str, callee: &str) {
    let Reply { status, body, .. } =  wari.ari_as(ALICE, Method::POST, &format!(
            "/ari/channels?endpoint=Local/700@default&app=watcher&channelId={caller}&otherChannelId={callee}"
        ), None)
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until the app shows `live` live sessions, and returns it.
async fn live_sessions(wari: &Wari, name: &str, live: u64) -> Value {
    eventually("the live sessions", Duration::from_secs(5), || async {
        let Reply { body, .. } = app(wari, name).await;
        if body["sessions_live"] == live {
            Ok(body)
        } else {
            Err(body.to_string())
        }
    })
    .await
}

async fn gone(wari: &Wari, name: &str) {
    eventually("the app is gone", Duration::from_secs(5), || async {
        match app(wari, name).await {
            Reply {
                status: StatusCode::NOT_FOUND,
                ..
            } => Ok(()),
            Reply { status, body, .. } => Err(format!("{status} {body}")),
        }
    })
    .await;
}

/// The value a channel variable is next set to on `channel`.
async fn varset(ws: &mut EventSocket, channel: &str, variable: &str) -> Value {
    loop {
        let event = ws.next_for("ChannelVarset", channel).await;
        if event["variable"] == variable {
            return event["value"].clone();
        }
    }
}

/// The caller presses 1 (as alice): the IVR routes the call, which sets `AFTER_IVR` to 1
/// on the callee.
async fn assert_choice_1_is_routed(wari: &Wari, ws: &mut EventSocket) {
    let Reply { status, body, .. } = wari
        .ari_as(
            ALICE,
            Method::POST,
            "/ari/channels/caller/dtmf?dtmf=1",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(varset(ws, "callee", "AFTER_IVR").await, "1");
}

/// `wari app ARGS... --url ... --user alice --password alicepw`.
fn wari_app(wari: &Wari, args: &[&str]) -> Finished {
    let home = tempfile::tempdir().expect("temp dir");
    let mut command = wari_command(home.path());
    command.arg("app").args(args).args([
        "--url",
        &format!("http://{}", wari.addr()),
        "--user",
        ALICE.0,
        "--password",
        ALICE.1,
    ]);
    run_limited(command, Duration::from_secs(60))
}

fn version_tag(sha: &str) -> &str {
    &sha[..12]
}

/// wari with this file's users and dialplan and `wasm_conf`.
fn start(wasm_conf: &str) -> Wari {
    Wari::with(&[
        ("ari.conf", ARI_CONF),
        ("extensions.conf", DIALPLAN),
        ("wasm.conf", wasm_conf),
    ])
}

/// The IVR deployed as `menu` and one call in it (the IVR answered: the caller's side is
/// up in the test's app `watcher`); returns the IVR's sha256 and the watcher.
async fn ivr_call_in_progress(wari: &Wari) -> (String, EventSocket) {
    let sha = deploy(wari, "menu", "ivr").await;
    let mut ws = watcher(wari).await;
    local_call(wari, "caller", "callee").await;
    ws.next_for("StasisStart", "caller").await;
    live_sessions(wari, "menu", 1).await;
    (sha, ws)
}

#[tokio::test]
async fn a_removed_app_keeps_its_live_call_and_refuses_new_ones() {
    let wari = start("[general]\ndrain_seconds = 60\n\n[menu]\non_failure = continue\n");
    let (_, mut ws) = ivr_call_in_progress(&wari).await;

    let Reply {
        status,
        body: removed,
        ..
    } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/menu", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{removed}");
    assert_eq!(removed["status"], "draining", "{removed}");
    assert_eq!(removed["sessions_live"], 1, "{removed}");
    assert!(removed["drain_until"].is_string(), "{removed}");
    assert_eq!(removed["versions"][0]["state"], "draining", "{removed}");
    assert_eq!(removed["versions"][0]["sessions_live"], 1, "{removed}");
    let Reply { body: list, .. } = wari.ari_as(ALICE, Method::GET, "/ari/wasm", None).await;
    assert_eq!(list[0]["status"], "draining", "{list}");

    // A new call is refused at entry: it continues in the dialplan, which can tell.
    local_call(&wari, "late", "late-in").await;
    assert_eq!(varset(&mut ws, "late-in", "AFTER").await, "FAILED");

    // The live call still gets its keys: the IVR routes choice 1 after the removal.
    assert_choice_1_is_routed(&wari, &mut ws).await;
    // Its StasisEnd ends the session, long before drain_seconds: then the app is gone.
    gone(&wari, "menu").await;
    assert!(wari.log().contains("its last call ended"), "{}", wari.log());
    // The name is free: the files went at once and a new deploy starts afresh.
    deploy(&wari, "menu", "forward").await;
    let Reply { body: again, .. } = app(&wari, "menu").await;
    assert_eq!(again["sessions_started"], 0, "{again}");
}

#[tokio::test]
async fn a_deploy_by_the_owner_during_the_drain_calls_the_removal_off() {
    let wari = start("[general]\ndrain_seconds = 60\n");
    let (old, mut ws) = ivr_call_in_progress(&wari).await;
    let Reply { status, .. } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/menu", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    // The name stays the owner's while the calls drain.
    let Reply { status, body, .. } = upload(&wari, "menu", BOB, component("forward")).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("its calls in progress are draining")),
        "{body}"
    );
    // The owner deploys it again: it takes calls, the old version's call goes on.
    let Reply { status, body, .. } = upload(&wari, "menu", ALICE, component("forward")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["versions"][0]["state"], "current", "{body}");
    assert_eq!(body["versions"][1]["sha256"], old.as_str(), "{body}");
    assert_eq!(body["versions"][1]["state"], "draining", "{body}");
    eventually("the drain called off", Duration::from_secs(5), || async {
        if wari
            .log()
            .contains("the removal is called off and the app stays")
        {
            Ok(())
        } else {
            Err("not yet".to_string())
        }
    })
    .await;
    assert_choice_1_is_routed(&wari, &mut ws).await;
    // The old call ended; the app is still deployed.
    live_sessions(&wari, "menu", 0).await;
    let Reply { status, body, .. } = app(&wari, "menu").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(body["sessions_live"], 0, "{body}");
}

#[tokio::test]
async fn the_drain_ends_at_drain_seconds_and_immediate_ends_at_once() {
    // The sleeper blocks in its StasisStart far longer than the test.
    let wari = start("[general]\ndrain_seconds = 1\nevent_timeout_ms = 60000\n");
    deploy(&wari, "menu", "sleeper").await;
    deploy(&wari, "nap", "sleeper").await;
    let mut ws = watcher(&wari).await;
    for (app, id) in [("menu", "sleepy"), ("nap", "napper")] {
        let Reply { status, body, .. } = wari
            .ari_as(
                ALICE,
                Method::POST,
                &format!("/ari/channels?endpoint=Test/{id}&app={app}&channelId={id}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        live_sessions(&wari, app, 1).await;
    }

    // `wari app rm --now` ends a call at once.
    let rm = wari_app(&wari, &["rm", "--now", "nap"]);
    assert!(rm.success, "{}", rm.stderr);
    assert_eq!(rm.stdout, "removed nap\n");
    let Reply { status, .. } = app(&wari, "nap").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        ws.next_of("ChannelDestroyed").await["channel"]["id"],
        "napper"
    );

    let Reply { status, body, .. } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/menu", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    // The drained one is still up (the sleeper never gives it back)...
    let Reply { status, .. } = wari
        .ari_as(ALICE, Method::GET, "/ari/channels/sleepy", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    // ...until drain_seconds runs out: it is hung up (on_failure = hangup) and the app goes.
    assert_eq!(
        ws.next_of("ChannelDestroyed").await["channel"]["id"],
        "sleepy"
    );
    gone(&wari, "menu").await;
    assert!(
        wari.log().contains("drain_seconds ran out"),
        "{}",
        wari.log()
    );
}

#[tokio::test]
async fn a_crash_during_the_drain_does_not_bring_the_app_back() {
    let wari = start("[general]\ndrain_seconds = 60\nevent_timeout_ms = 60000\n");
    deploy(&wari, "menu", "sleeper").await;
    let Reply { status, body, .. } = wari
        .ari_as(
            ALICE,
            Method::POST,
            "/ari/channels?endpoint=Test/sleepy&app=menu&channelId=sleepy",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    live_sessions(&wari, "menu", 1).await;
    let Reply { status, .. } = wari
        .ari_as(ALICE, Method::DELETE, "/ari/wasm/menu", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let mut wari = wari;
    wari.stop_with("KILL");
    let wari = wari.restart();
    let Reply { status, body, .. } = app(&wari, "menu").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let Reply { body: list, .. } = wari.ari_as(ALICE, Method::GET, "/ari/wasm", None).await;
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test]
async fn a_hot_swap_and_a_removal_show_what_is_draining() {
    let wari = start("[general]\ndrain_seconds = 60\n");
    let (old, mut ws) = ivr_call_in_progress(&wari).await;
    let new = deploy(&wari, "menu", "forward").await;

    let Reply { body: shown, .. } = app(&wari, "menu").await;
    let versions = shown["versions"].as_array().expect("versions");
    assert_eq!(versions.len(), 2, "{shown}");
    assert_eq!(versions[0]["version"], version_tag(&new));
    assert_eq!(versions[0]["state"], "current");
    assert_eq!(versions[0]["sessions_live"], 0);
    assert_eq!(versions[1]["sha256"], old.as_str());
    assert_eq!(versions[1]["state"], "draining");
    assert_eq!(versions[1]["sessions_live"], 1);
    let list = wari_app(&wari, &["list"]);
    assert!(list.success, "{}", list.stderr);
    assert!(
        list.stdout.contains(&format!(
            "  draining version {}: 1 live session(s)\n",
            version_tag(&old)
        )),
        "{}",
        list.stdout
    );

    // Removed while the old version's call goes on: listed as draining.
    let rm = wari_app(&wari, &["rm", "menu"]);
    assert!(rm.success, "{}", rm.stderr);
    assert!(
        rm.stdout
            .starts_with("removed menu: it takes no new calls; 1 call(s) in progress finish"),
        "{}",
        rm.stdout
    );
    let list = wari_app(&wari, &["list"]);
    assert!(
        list.stdout
            .contains("  removed: 1 call(s) in progress finish"),
        "{}",
        list.stdout
    );

    // The old version still runs the call: choice 1 is routed, and then it is all gone.
    assert_choice_1_is_routed(&wari, &mut ws).await;
    gone(&wari, "menu").await;
    let list = wari_app(&wari, &["list"]);
    assert_eq!(list.stdout, "no apps deployed\n");
}

#[tokio::test]
async fn rollback_brings_the_previous_version_back_even_after_a_crash() {
    let wari = start("");
    let ivr = deploy(&wari, "menu", "ivr").await;
    let forward = deploy(&wari, "menu", "forward").await;
    let conference = deploy(&wari, "menu", "conference").await;

    // Only the owner (or an admin) may roll it back.
    let Reply { status, body, .. } = wari
        .ari_as(BOB, Method::POST, "/ari/wasm/menu/rollback", None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(app(&wari, "menu").await.body["sha256"], conference.as_str());

    let back = wari_app(&wari, &["rollback", "menu"]);
    assert!(back.success, "{}", back.stderr);
    let printed: Value = serde_json::from_str(&back.stdout).expect("summary");
    assert_eq!(printed["sha256"], forward.as_str());
    assert_eq!(printed["owner"], "alice");

    // A crash, and a restart: the rollback held, and the history is still there.
    let mut wari = wari;
    assert!(!wari.stop_with("KILL"));
    let wari = wari.restart();
    assert_eq!(app(&wari, "menu").await.body["sha256"], forward.as_str());
    let Reply { status, body, .. } = wari
        .ari_as(ALICE, Method::POST, "/ari/wasm/menu/rollback", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sha256"], ivr.as_str());
    assert_eq!(body["versions"][0]["state"], "current");

    // A new call runs the IVR's code again.
    let mut ws = watcher(&wari).await;
    let Reply { status, body, .. } = wari
        .ari_as(
            ALICE,
            Method::POST,
            "/ari/channels?endpoint=Test/back/dtmf=1&app=menu&channelId=back",
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(varset(&mut ws, "back", "IVR_CHOICE").await, "1");

    // Nothing before the first version.
    let Reply { status, body, .. } = wari
        .ari_as(ALICE, Method::POST, "/ari/wasm/menu/rollback", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("WebAssembly app 'menu' has no earlier version")),
        "{body}"
    );
    // Every attempt is audited (the log spans both runs).
    let audit: Vec<&str> = wari
        .log()
        .lines()
        .filter(|l| l.contains("wari::audit"))
        .filter_map(|l| {
            ["refused", "done", "failed"]
                .into_iter()
                .find(|o| l.contains(&format!("WebAssembly app rollback {o}")))
        })
        .collect();
    assert_eq!(audit, ["refused", "done", "done", "failed"]);
}
