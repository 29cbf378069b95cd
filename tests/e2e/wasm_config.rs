//! wasm.conf: components in `apps_dir` are deployed at start, and per-app limits decide what
//! happens to a call when its app fails.

use reqwest::StatusCode;

use crate::support::{EventSocket, Reply, Wari, client};
use crate::wasm_apps::component;

#[tokio::test]
async fn components_in_apps_dir_are_deployed_at_start() {
    let apps = tempfile::tempdir().expect("apps dir");
    std::fs::write(apps.path().join("menu.wasm"), component("ivr")).expect("copy");
    std::fs::write(apps.path().join("notes.txt"), "not a component").expect("write");
    let wasm_conf = format!("[general]\napps_dir = {}\n", apps.path().display());
    let wari = Wari::with(&[("wasm.conf", &wasm_conf)]);
    let Reply {
        status, body: app, ..
    } = wari.get("/ari/wasm/menu").await;
    assert_eq!(status, StatusCode::OK, "{app}");
    assert_eq!(app["size"], component("ivr").len());
    let Reply { body: list, .. } = wari.get("/ari/wasm").await;
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "only .wasm files: {list}"
    );
}

#[tokio::test]
async fn on_failure_continue_sends_the_call_on_in_the_dialplan_with_stasisstatus_failed() {
    let dialplan = "[default]\nexten => 800,1,Stasis(fragile)\n same => n,Set(AFTER=${STASISSTATUS})\n same => n,Hangup()\n";
    let wasm_conf = "[general]\ncpu_ms_per_event = 50\n\n[fragile]\non_failure = continue\n";
    let wari = Wari::with(&[("extensions.conf", dialplan), ("wasm.conf", wasm_conf)]);
    let response = client()
        .put(wari.url("/ari/wasm/fragile"))
        .basic_auth("asterisk", Some("secret"))
        .header("Content-Type", "application/wasm")
        .body(component("trap"))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), StatusCode::CREATED);
    let mut ws = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let response = client()
        .post(wari.url(
            "/ari/channels?endpoint=Local/800@default&extension=1&context=none&channelId=orig&otherChannelId=in",
        ))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("originate");
    assert_eq!(response.status(), StatusCode::OK);
    let after = loop {
        let event = ws.next_of("ChannelVarset").await;
        if event["channel"]["id"] == "in" && event["variable"] == "AFTER" {
            break event;
        }
    };
    assert_eq!(
        after["value"], "FAILED",
        "the channel left Stasis and continued, and the dialplan can tell its app failed"
    );
    let Reply { body: app, .. } = wari.get("/ari/wasm/fragile").await;
    assert_eq!(app["failures"]["traps"], 1, "{app}");
}

#[tokio::test]
async fn bad_wasm_conf_values_are_reported_by_check_config() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("wasm.conf"),
        "[general]\nmemory_mb = lots\non_failure = explode\nbogus = 1\n",
    )
    .expect("write");
    let (ok, out, _) = crate::support::run_wari(&[
        "check-config",
        "--config-dir",
        &dir.path().display().to_string(),
    ]);
    assert!(!ok, "{out}");
    assert!(
        out.contains("wasm.conf:2: error") && out.contains("memory_mb"),
        "{out}"
    );
    assert!(
        out.contains("wasm.conf:3: error") && out.contains("on_failure"),
        "{out}"
    );
    assert!(
        out.contains("wasm.conf:4: warning") && out.contains("bogus"),
        "{out}"
    );
}
