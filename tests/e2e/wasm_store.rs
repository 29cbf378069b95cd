//! The key-value store and timers of WebAssembly apps have limits (wasm.conf): a guest that
//! fills the store or sets timers without end is stopped at the limit, its session fails
//! (counted under `failures.limits`), what it holds is shown by `GET /ari/wasm/{app}`, and
//! another app's calls keep working.

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

/// Small limits, so the bombs reach them long before their CPU budget.
const WASM_CONF: &str = "[general]\nkv_max_keys = 50\nmax_timers = 20\n";

async fn app(wari: &Wari, name: &str) -> Value {
    wari.get(&format!("/ari/wasm/{name}")).await.body
}

/// Calls `hostile` once and waits until its channel is hung up and its session is gone;
/// then a caller of the IVR app is still served. Returns the hostile app's status.
async fn bomb(component: &str) -> Value {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN), ("wasm.conf", WASM_CONF)]);
    deploy(&wari, "hostile", component).await;
    deploy(&wari, "ivr", "ivr").await;
    let mut ws = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    for (id, app) in [("victim", "hostile"), ("calm", "ivr")] {
        let dtmf = if app == "ivr" { "/dtmf=1" } else { "" };
        let reply = wari
            .post(&format!(
                "/ari/channels?endpoint=Test/{id}{dtmf}&app={app}&channelId={id}"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let (mut victim_gone, mut calm_served) = (false, false);
    while !(victim_gone && calm_served) {
        let event = ws.next().await;
        if event["type"] == "ChannelDestroyed" && event["channel"]["id"] == "victim" {
            victim_gone = true;
        }
        if event["type"] == "ChannelVarset"
            && event["channel"]["id"] == "calm"
            && event["variable"] == "IVR_CHOICE"
        {
            calm_served = true;
        }
    }
    assert_eq!(app(&wari, "ivr").await["failures"]["total"], 0);
    eventually("the session is gone", Duration::from_secs(5), || async {
        let status = app(&wari, "hostile").await;
        if status["sessions_live"] == 0 {
            Ok(status)
        } else {
            Err(status.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn a_guest_filling_the_key_value_store_is_stopped_at_kv_max_keys() {
    let status = bomb("kv-bomb").await;
    assert_eq!(status["failures"]["limits"], 1, "{status}");
    assert_eq!(status["failures"]["timeouts"], 0, "{status}");
    assert!(
        status["failures"]["last"]["message"]
            .as_str()
            .is_some_and(|l| l == "failed: key-value store limit of 50 keys reached (wasm.conf kv_max_keys) while handling StasisStart"),
        "{status}"
    );
    // 50 keys `key-0`..`key-49` (290 bytes) with 1 KiB values: nothing beyond the limit.
    assert_eq!(status["kv"]["keys"], 50, "{status}");
    assert_eq!(status["kv"]["bytes"], 290 + 50 * 1024, "{status}");
}

#[tokio::test]
async fn a_guest_setting_timers_without_end_is_stopped_at_max_timers() {
    let status = bomb("timer-bomb").await;
    assert_eq!(status["failures"]["limits"], 1, "{status}");
    assert_eq!(status["failures"]["timeouts"], 0, "{status}");
    assert!(
        status["failures"]["last"]["message"]
            .as_str()
            .is_some_and(|l| l == "failed: timer limit of 20 pending timers per session reached (wasm.conf max_timers) while handling StasisStart"),
        "{status}"
    );
    // The ended session's timers are gone with it.
    assert_eq!(status["timers_pending"], 0, "{status}");
}
