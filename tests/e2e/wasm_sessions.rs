//! Sessions of WebAssembly apps that never give their slot back: a guest that waits in a WASI
//! call (where epoch interruption cannot reach it) is ended at the event timeout, one app
//! cannot hold more than `max_sessions_per_app` sessions, and deleting an app with
//! `?immediate=true` ends its sessions at once (without it they drain, for at most
//! `drain_seconds`: `wasm_drain`). Meanwhile another app's calls keep working.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{EventSocket, Wari, eventually};
use crate::wasm_apps::deploy;

const DIALPLAN: &str = "\
[ivr-result]
exten => 1,1,Set(AFTER_IVR=${IVR_CHOICE})
 same => n,Hangup()
";

async fn watcher(wari: &Wari) -> EventSocket {
    EventSocket::connect(
        wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await
}

async fn call(wari: &Wari, app: &str, id: &str, dtmf: &str) {
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Test/{id}{dtmf}&app={app}&channelId={id}"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "call {id}: {}", reply.body);
}

/// A legitimate caller of the IVR app is served: its choice arrives.
async fn ivr_serves(wari: &Wari, ws: &mut EventSocket, id: &str) {
    call(wari, "ivr", id, "/dtmf=1").await;
    loop {
        let event = ws.next_of("ChannelVarset").await;
        if event["channel"]["id"] == id && event["variable"] == "IVR_CHOICE" {
            assert_eq!(event["value"], "1");
            return;
        }
    }
}

/// Waits until every channel of `ids` is destroyed; panics if one of `alive` is.
async fn destroyed(ws: &mut EventSocket, ids: &[&str], alive: &[&str]) {
    let mut left: Vec<&str> = ids.to_vec();
    while !left.is_empty() {
        let event = ws.next_of("ChannelDestroyed").await;
        let id = event["channel"]["id"].as_str().unwrap_or_default();
        assert!(!alive.contains(&id), "{id} should still be up: {event}");
        left.retain(|l| *l != id);
    }
}

async fn app(wari: &Wari, name: &str) -> Value {
    wari.get(&format!("/ari/wasm/{name}")).await.body
}

#[tokio::test]
async fn a_guest_blocked_in_a_wasi_sleep_is_ended_at_the_event_timeout() {
    let wari = Wari::with(&[
        ("extensions.conf", DIALPLAN),
        ("wasm.conf", "[general]\nevent_timeout_ms = 300\n"),
    ]);
    deploy(&wari, "hostile", "sleeper").await;
    deploy(&wari, "ivr", "ivr").await;
    let mut ws = watcher(&wari).await;
    call(&wari, "hostile", "victim", "").await;
    // The guest sleeps for an hour on StasisStart; the event timeout ends the session and
    // hangs its channel up.
    destroyed(&mut ws, &["victim"], &[]).await;
    let status = eventually("the session is gone", Duration::from_secs(5), || async {
        let status = app(&wari, "hostile").await;
        if status["sessions_live"] == 0 {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
    .await;
    assert_eq!(status["failures"]["timeouts"], 1, "{status}");
    assert!(
        status["failures"]["last"]["message"]
            .as_str()
            .is_some_and(|l| l == "failed: event timeout of 300 ms exceeded (wasm.conf event_timeout_ms) while handling StasisStart (waiting in a host call)"),
        "{status}"
    );
    // The slot is free again and other apps were never stalled.
    ivr_serves(&wari, &mut ws, "calm").await;
    assert_eq!(app(&wari, "ivr").await["failures"]["total"], 0);
}

#[tokio::test]
async fn one_app_cannot_take_every_session_and_deleting_it_ends_its_sessions() {
    // 8 slots in all, so by default one app may hold 2; the sleepers would block for a
    // minute (the event timeout), far longer than this test waits.
    let wari = Wari::with(&[
        ("extensions.conf", DIALPLAN),
        (
            "wasm.conf",
            "[general]\nmax_sessions = 8\nevent_timeout_ms = 60000\n",
        ),
    ]);
    deploy(&wari, "hostile", "sleeper").await;
    deploy(&wari, "ivr", "ivr").await;
    let mut ws = watcher(&wari).await;
    let victims = ["v1", "v2", "v3", "v4"];
    for id in victims {
        call(&wari, "hostile", id, "").await;
    }
    // Two calls get a session (and wait in the sleeping guest); the other two are refused:
    // hung up at once.
    let mut refused = Vec::new();
    while refused.len() < 2 {
        let event = ws.next_of("ChannelDestroyed").await;
        let id = event["channel"]["id"].as_str().unwrap_or_default();
        assert!(victims.contains(&id), "{event}");
        refused.push(id.to_string());
    }
    let status = app(&wari, "hostile").await;
    assert_eq!(status["sessions_live"], 2, "{status}");
    assert_eq!(status["failures"]["limits"], 2, "{status}");
    assert!(
        status["failures"]["last"]["message"]
            .as_str()
            .is_some_and(|l| l == "session limit of 2 per app reached (wasm.conf max_sessions_per_app): a call was refused"),
        "{status}"
    );
    // Another tenant still gets sessions.
    ivr_serves(&wari, &mut ws, "calm").await;

    // Deleting the app at once ends its blocked sessions now, not when the guest wakes up.
    let held: Vec<&str> = victims
        .into_iter()
        .filter(|v| !refused.iter().any(|r| r == v))
        .collect();
    let reply = wari.delete("/ari/wasm/hostile?immediate=true").await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
    destroyed(&mut ws, &held, &[]).await;
    ivr_serves(&wari, &mut ws, "calm2").await;
    let channels = wari.get("/ari/channels").await.body;
    assert!(
        channels.as_array().is_some_and(|c| c
            .iter()
            .all(|c| !victims.contains(&c["id"].as_str().unwrap_or_default()))),
        "{channels}"
    );
}
