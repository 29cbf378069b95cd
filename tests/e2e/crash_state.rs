//! State that must outlive a crash: device states set over ARI, mailboxes and the apps'
//! key-value stores are in `<data-dir>/wari.redb` as soon as the ARI answer (or the guest's
//! write) returns. wari is killed with SIGKILL right after the writes and started again on
//! the same data directory: everything is back, deletions included, and the limits still
//! hold. A store file that is not a store stops wari at start-up with a message naming it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{
    ARI_CONF, EventSocket, HTTP_CONF, Wari, eventually, run_limited, wari_command,
};
use crate::wasm_apps::deploy;

#[tokio::test]
async fn device_states_and_mailboxes_survive_kill_9() {
    let mut wari = Wari::start_default();
    for path in [
        "/ari/deviceStates/Stasis:desk1?deviceState=BUSY",
        "/ari/deviceStates/Stasis:gone?deviceState=INUSE",
        "/ari/mailboxes/1000@default?oldMessages=3&newMessages=7",
        "/ari/mailboxes/old@default?oldMessages=1&newMessages=1",
    ] {
        assert_eq!(
            wari.put(path).await.status,
            StatusCode::NO_CONTENT,
            "{path}"
        );
    }
    for path in [
        "/ari/deviceStates/Stasis:gone",
        "/ari/mailboxes/old@default",
    ] {
        assert_eq!(wari.delete(path).await.status, StatusCode::NO_CONTENT);
    }
    // The crash comes right after the last answer: what was answered is on disk.
    wari.stop_with("KILL");
    let wari = wari.restart();

    let desk = wari.get("/ari/deviceStates/Stasis:desk1").await;
    assert_eq!(desk.body, json!({"name": "Stasis:desk1", "state": "BUSY"}));
    let devices = wari.get("/ari/deviceStates").await;
    assert_eq!(
        devices.body,
        json!([{"name": "Stasis:desk1", "state": "BUSY"}])
    );
    let gone = wari.get("/ari/deviceStates/Stasis:gone").await;
    assert_eq!(gone.body["state"], "UNKNOWN");
    let mailbox = wari.get("/ari/mailboxes/1000@default").await;
    assert_eq!(
        mailbox.body,
        json!({"name": "1000@default", "old_messages": 3, "new_messages": 7})
    );
    assert_eq!(
        wari.get("/ari/mailboxes/old@default").await.status,
        StatusCode::NOT_FOUND
    );

    // The restored state is the live state: the same value is silent (as in Asterisk), a
    // new one is announced to subscribers.
    let mut ws = EventSocket::connect(&wari, "app=lamps&api_key=asterisk:secret").await;
    let subscribed = wari
        .post("/ari/applications/lamps/subscription?eventSource=deviceState:Stasis:desk1")
        .await;
    assert_eq!(subscribed.status, StatusCode::OK, "{}", subscribed.body);
    for state in ["BUSY", "INUSE"] {
        let path = format!("/ari/deviceStates/Stasis:desk1?deviceState={state}");
        assert_eq!(wari.put(&path).await.status, StatusCode::NO_CONTENT);
    }
    let changed = ws.next_of("DeviceStateChanged").await;
    assert_eq!(
        changed["device_state"],
        json!({"name": "Stasis:desk1", "state": "INUSE"})
    );
    // A second crash keeps the change made after the first.
    let mut wari = wari;
    wari.stop_with("KILL");
    let wari = wari.restart();
    let desk = wari.get("/ari/deviceStates/Stasis:desk1").await;
    assert_eq!(desk.body["state"], "INUSE");
}

const DIALPLAN: &str = "\
[ivr-result]
exten => 1,1,Set(AFTER_IVR=${IVR_CHOICE})
 same => n,Hangup()
";

/// `kv-bomb` stores 1 KiB values under `key-0`, `key-1`, ... until the limit stops it.
const WASM_CONF: &str = "[general]\nkv_max_keys = 20\n";

/// 20 keys `key-0`..`key-19` (110 bytes) with 1 KiB values.
const FULL: (u64, u64) = (20, 110 + 20 * 1024);

/// Calls `hostile` once and waits until its session is gone; returns its status.
async fn call_bomb(wari: &Wari, ws: &mut EventSocket, id: &str) -> Value {
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Test/{id}&app=hostile&channelId={id}"
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == id)
        .await;
    eventually("the session is gone", Duration::from_secs(5), || async {
        let status = wari.get("/ari/wasm/hostile").await.body;
        if status["sessions_live"] == 0 {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
    .await
}

fn usage(status: &Value) -> (u64, u64) {
    (
        status["kv"]["keys"].as_u64().unwrap_or_default(),
        status["kv"]["bytes"].as_u64().unwrap_or_default(),
    )
}

/// wari on `files` with the `kv-bomb` component deployed as `hostile` and called once, so
/// its store is full; the app's status after that call.
async fn bomb_filled(files: &[(&str, &str)]) -> (Wari, Value) {
    let wari = Wari::start(files);
    deploy(&wari, "hostile", "kv-bomb").await;
    let mut ws = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let status = call_bomb(&wari, &mut ws, "first").await;
    assert_eq!(usage(&status), FULL, "{status}");
    (wari, status)
}

#[tokio::test]
async fn an_apps_key_value_store_survives_kill_9_and_keeps_its_limits() {
    let (mut wari, status) = bomb_filled(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("extensions.conf", DIALPLAN),
        ("wasm.conf", WASM_CONF),
    ])
    .await;
    assert_eq!(status["failures"]["limits"], 1, "{status}");
    wari.stop_with("KILL");

    let mut wari = wari.restart();
    let status = wari.get("/ari/wasm/hostile").await.body;
    assert_eq!(usage(&status), FULL, "the keys are back: {status}");
    // The limit counts the keys from before the crash: the bomb only rewrites them.
    let mut ws = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let status = call_bomb(&wari, &mut ws, "second").await;
    assert_eq!(usage(&status), FULL, "{status}");
    assert!(
        status["failures"]["last"]["message"]
            .as_str()
            .is_some_and(|l| l.starts_with("failed: key-value store limit of 20 keys reached (wasm.conf kv_max_keys) while handling ")),
        "{status}"
    );
    // Another tenant is served all along.
    deploy(&wari, "ivr", "ivr").await;
    let reply = wari
        .post("/ari/channels?endpoint=Test/calm/dtmf=1&app=ivr&channelId=calm")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    ws.until(|e| {
        e["type"] == "ChannelVarset"
            && e["channel"]["id"] == "calm"
            && e["variable"] == "IVR_CHOICE"
    })
    .await;

    // Deleting the app deletes its keys, on disk too: a new app of that name starts empty,
    // after a crash as well.
    drop(ws);
    assert_eq!(
        wari.delete("/ari/wasm/hostile").await.status,
        StatusCode::NO_CONTENT
    );
    wari.stop_with("KILL");
    let wari = wari.restart();
    let fresh = deploy(&wari, "hostile", "kv-bomb").await;
    assert_eq!(usage(&fresh), (0, 0), "{fresh}");
}

#[tokio::test]
async fn keys_of_an_app_removed_from_the_data_directory_by_hand_are_dropped_at_start() {
    let (mut wari, _) = bomb_filled(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("wasm.conf", WASM_CONF),
    ])
    .await;
    wari.stop_with("KILL");
    // The operator removes the app while wari is down.
    let data = wari.data_dir().expect("data dir");
    std::fs::remove_dir_all(data.join("apps").join("hostile")).expect("remove the app");
    let wari = wari.restart();
    assert_eq!(
        wari.get("/ari/wasm/hostile").await.status,
        StatusCode::NOT_FOUND
    );
    assert!(
        wari.log()
            .contains("key-value store of a deleted app removed"),
        "{}",
        wari.log()
    );
    let fresh = deploy(&wari, "hostile", "kv-bomb").await;
    assert_eq!(usage(&fresh), (0, 0), "{fresh}");
}

#[test]
fn a_store_file_that_is_not_a_store_stops_wari_with_a_message_naming_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("http.conf"), HTTP_CONF).expect("http.conf");
    std::fs::write(dir.path().join("ari.conf"), ARI_CONF).expect("ari.conf");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let store = data.join("wari.redb");
    std::fs::write(&store, b"not a database at all\n".repeat(500)).expect("garbage");
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let mut command = wari_command(&home);
    command.args([
        "--config-dir",
        &dir.path().display().to_string(),
        "--data-dir",
        &data.display().to_string(),
    ]);
    let finished = run_limited(command, Duration::from_secs(20));
    assert!(
        !finished.success,
        "wari must not start: {}",
        finished.stderr
    );
    assert!(
        finished.stderr.contains(&store.display().to_string())
            && finished.stderr.contains("move it aside"),
        "{}",
        finished.stderr
    );
    assert!(!finished.stderr.contains("panicked"), "{}", finished.stderr);
    // The file is left as it was, for the operator to inspect or restore.
    assert_eq!(
        std::fs::read(&store).expect("store"),
        b"not a database at all\n".repeat(500)
    );
}
