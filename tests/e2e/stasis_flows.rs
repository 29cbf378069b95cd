//! The call flows of the telephony core, end to end: originate into an application, answer,
//! DTMF across Local halves, variables, bridges, hangup, Stasis without an application,
//! application replacement, subscribeAll, and Test phones that are busy or never answer.

use reqwest::StatusCode;
use serde_json::Value;

use crate::support::{EventSocket, Reply, Wari};

const DIALPLAN: &str = "\
[default]
exten => 100,1,NoOp(into the app)
 same => n,Stasis(hello)
 same => n,Hangup()

exten => 400,1,Stasis(nobody,x)
 same => n,Set(AFTER=${STASISSTATUS})
 same => n,Hangup()

exten => 500,1,Dial(Test/bob/busy,5)
 same => n,Set(RESULT=${DIALSTATUS})
 same => n,Hangup()

exten => 501,1,Dial(Test/carol/noanswer,1)
 same => n,Set(RESULT=${DIALSTATUS})
 same => n,Hangup()

exten => 502,1,Dial(Test/dave/congestion)
 same => n,Set(RESULT=${DIALSTATUS})
 same => n,Hangup()
";

/// Collects events until `done` says the last one completes the sequence.
async fn collect_until(ws: &mut EventSocket, done: impl Fn(&Value) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    loop {
        let event = ws.next().await;
        let last = done(&event);
        seen.push(event);
        if last {
            return seen;
        }
    }
}

fn types_for(events: &[Value], channel: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["channel"]["id"] == channel)
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn originate_local_into_an_app_answer_dtmf_bridge_and_hang_up() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;

    let Reply { status, body: channel, .. } =  wari.post("/ari/channels?endpoint=Local/100@default&app=hello&appArgs=a,b&channelId=one&otherChannelId=two")
    .await;
    assert_eq!(status, StatusCode::OK, "{channel}");
    assert_eq!(channel["id"], "one");
    assert_eq!(channel["state"], "Down");
    assert!(
        channel["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Local/100@default-") && n.ends_with(";1"))
    );

    // ;2 runs the dialplan and enters hello with no arguments; ;1 waits for the answer.
    // As on Asterisk 23.4.1 (golden originate_local_100): the application is subscribed
    // to both halves after they are created (no ChannelCreated), ;1 is being dialed.
    let events = collect_until(&mut ws, |e| e["type"] == "StasisStart").await;
    assert!(types_for(&events, "one").is_empty(), "{events:?}");
    let dial = events
        .iter()
        .find(|e| e["type"] == "Dial")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            &dial["peer"]["id"],
            &dial["dialstatus"],
            &dial["dialstring"]
        ),
        (
            &serde_json::json!("one"),
            &serde_json::json!(""),
            &serde_json::json!("100@default")
        ),
        "{dial}"
    );
    assert_eq!(dial["peer"]["dialplan"]["app_name"], "AppDial2", "{dial}");
    assert_eq!(
        types_for(&events, "two"),
        [
            "ChannelDialplan",
            "ChannelDialplan",
            "ChannelVarset",
            "StasisStart"
        ],
        "{events:?}"
    );
    let start_two = events.last().cloned().unwrap_or_default();
    assert_eq!(start_two["channel"]["id"], "two");
    assert_eq!(start_two["args"], serde_json::json!([]));
    assert_eq!(start_two["application"], "hello");
    assert!(start_two["timestamp"].is_string() && start_two["asterisk_id"].is_string());
    assert_eq!(start_two["channel"]["dialplan"]["app_name"], "Stasis");

    // Answering ;2 answers ;1, which then enters hello with the originate arguments.
    let Reply { status, .. } = wari.post("/ari/channels/two/answer").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let events = collect_until(&mut ws, |e| e["type"] == "StasisStart").await;
    let changes: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["type"] == "ChannelStateChange")
        .map(|e| {
            (
                e["channel"]["id"].as_str().unwrap_or_default().to_string(),
                e["channel"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect();
    assert!(
        changes.contains(&("two".into(), "Up".into())),
        "{changes:?}"
    );
    assert!(
        changes.contains(&("one".into(), "Up".into())),
        "{changes:?}"
    );
    let start_one = events.last().cloned().unwrap_or_default();
    assert_eq!(start_one["channel"]["id"], "one");
    assert_eq!(start_one["args"], serde_json::json!(["a", "b"]));
    // Asterisk 23.4.1 (golden answer): Up, Dial ANSWER, STASISSTATUS "" then StasisStart.
    let one: Vec<(String, String)> = events
        .iter()
        .filter(|e| e["channel"]["id"] == "one" || e["peer"]["id"] == "one")
        .map(|e| {
            let detail = e["dialstatus"]
                .as_str()
                .or(e["variable"].as_str())
                .unwrap_or_default();
            (
                e["type"].as_str().unwrap_or_default().to_string(),
                detail.to_string(),
            )
        })
        .collect();
    assert_eq!(
        one,
        [
            ("ChannelStateChange".to_string(), String::new()),
            ("Dial".to_string(), "ANSWER".to_string()),
            ("ChannelVarset".to_string(), "STASISSTATUS".to_string()),
            ("StasisStart".to_string(), String::new()),
        ],
        "{events:?}"
    );

    // DTMF sent on one half is received on the other.
    let Reply { status, .. } = wari.post("/ari/channels/one/dtmf?dtmf=7").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let dtmf = ws.next_of("ChannelDtmfReceived").await;
    assert_eq!(dtmf["channel"]["id"], "two");
    assert_eq!(dtmf["digit"], "7");
    assert!(dtmf["duration_ms"].as_u64().is_some_and(|d| d >= 100));

    // Variables.
    let Reply { status, .. } = wari
        .post("/ari/channels/one/variable?variable=COLOR&value=blue")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let varset = ws.next_of("ChannelVarset").await;
    assert_eq!(varset["variable"], "COLOR");
    assert_eq!(varset["value"], "blue");
    let Reply {
        status,
        body: value,
        ..
    } = wari.get("/ari/channels/one/variable?variable=COLOR").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(value["value"], "blue");

    // A bridge: create, add, remove, destroy.
    let Reply {
        status,
        body: bridge,
        ..
    } = wari.post("/ari/bridges?bridgeId=b1&type=mixing").await;
    assert_eq!(status, StatusCode::OK, "{bridge}");
    assert_eq!(bridge["bridge_type"], "mixing");
    let Reply { status, .. } = wari.post("/ari/bridges/b1/addChannel?channel=one").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let entered = ws.next_of("ChannelEnteredBridge").await;
    assert_eq!(entered["bridge"]["id"], "b1");
    assert_eq!(entered["channel"]["id"], "one");
    assert_eq!(entered["bridge"]["channels"], serde_json::json!(["one"]));
    let Reply { status, .. } = wari.post("/ari/bridges/b1/removeChannel?channel=one").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let left = ws.next_of("ChannelLeftBridge").await;
    assert_eq!(left["channel"]["id"], "one");
    assert_eq!(
        wari.delete("/ari/bridges/b1").await.status,
        StatusCode::NO_CONTENT
    );

    // Hanging up one half ends both, each with the events Asterisk 23.4.1 sends (golden
    // hangup): the hung-up half is asked softly (32), the other half is hung up by its
    // peer (16) and its dialplan run ends after Stasis (16, soft).
    assert_eq!(
        wari.delete("/ari/channels/one").await.status,
        StatusCode::NO_CONTENT
    );
    let mut destroyed = 0;
    let mut events = Vec::new();
    while destroyed < 2 {
        let event = ws.next().await;
        if event["type"] == "ChannelDestroyed" {
            destroyed += 1;
        }
        events.push(event);
    }
    let sequence = |id: &str| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["channel"]["id"] == id)
            .map(|e| {
                let mut step = e["type"].as_str().unwrap_or_default().to_string();
                if let Some(cause) = e["cause"].as_u64() {
                    step.push_str(&format!(" {cause}"));
                }
                if e["soft"] == true {
                    step.push_str(" soft");
                }
                if let Some(value) = e["value"].as_str() {
                    step.push_str(&format!(" {value}"));
                }
                step
            })
            .collect()
    };
    assert_eq!(
        sequence("one"),
        [
            "ChannelHangupRequest 32 soft",
            "StasisEnd",
            "ChannelVarset SUCCESS",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    assert_eq!(
        sequence("two"),
        [
            "ChannelHangupRequest 16",
            "StasisEnd",
            "ChannelVarset SUCCESS",
            "ChannelHangupRequest 16 soft",
            "ChannelDestroyed 16"
        ],
        "{events:?}"
    );
    let Reply { body: channels, .. } = wari.get("/ari/channels").await;
    assert_eq!(channels, serde_json::json!([]));
}

#[tokio::test]
async fn stasis_without_an_app_fails_and_the_dialplan_continues() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let Reply { status, .. } =  wari.post("/ari/channels?endpoint=Local/400@default&extension=400&context=default&channelId=orig&otherChannelId=runner")
    .await;
    assert_eq!(status, StatusCode::OK);
    let varset = loop {
        let event = all.next_of("ChannelVarset").await;
        if event["channel"]["id"] == "runner" && event["variable"] == "AFTER" {
            break event;
        }
    };
    assert_eq!(varset["value"], "FAILED");
    let destroyed = all.next_for("ChannelDestroyed", "runner").await;
    assert_eq!(destroyed["cause"], 16);
}

#[tokio::test]
async fn a_second_socket_replaces_the_app() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut first = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    let mut second = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    let replaced = first.next().await;
    assert_eq!(replaced["type"], "ApplicationReplaced");
    assert_eq!(replaced["application"], "hello");
    // The new socket now gets hello's events.
    let Reply { status, .. } = wari
        .post("/ari/channels?endpoint=Test/alice&app=hello&channelId=c1")
        .await;
    assert_eq!(status, StatusCode::OK);
    let start = second.next_of("StasisStart").await;
    assert_eq!(start["channel"]["id"], "c1");
}

#[tokio::test]
async fn subscribe_all_sees_channels_outside_its_app() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let mut hello = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    let Reply { status, .. } = wari
        .post("/ari/channels?endpoint=Test/alice&app=hello&channelId=seen")
        .await;
    assert_eq!(status, StatusCode::OK);
    let created = all.next_for("ChannelCreated", "seen").await;
    assert_eq!(created["application"], "watcher");
    let start = hello.next_of("StasisStart").await;
    assert_eq!(start["channel"]["id"], "seen");
    // StasisStart goes to the channel's own application only.
    assert_eq!(
        wari.delete("/ari/channels/seen").await.status,
        StatusCode::NO_CONTENT
    );
    let events = collect_until(&mut all, |e| {
        e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "seen"
    })
    .await;
    assert!(
        events.iter().all(|e| e["type"] != "StasisStart"),
        "{events:?}"
    );
}

/// Originates a Local channel into `exten` and returns the RESULT the dialplan set.
async fn dial_result(exten: &str) -> (String, Vec<Value>) {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let Reply { status, .. } =  wari.post(&format!("/ari/channels?endpoint=Local/{exten}@default&extension=1&context=none&channelId=orig&otherChannelId=caller"))
    .await;
    assert_eq!(status, StatusCode::OK);
    let events = collect_until(&mut all, |e| {
        e["type"] == "ChannelVarset" && e["variable"] == "RESULT"
    })
    .await;
    let result = events
        .last()
        .and_then(|e| e["value"].as_str())
        .unwrap_or_default()
        .to_string();
    (result, events)
}

/// The statuses of the dialplan Dial()'s events (they name the dialing channel as
/// `caller`; the originate of the Local channel has Dial events of its own, without).
fn dial_statuses(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "Dial" && e["caller"]["id"] == "caller")
        .map(|e| e["dialstatus"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn a_busy_test_phone_gives_busy() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let Reply { status, .. } =  wari.post("/ari/channels?endpoint=Local/500@default&extension=1&context=none&channelId=orig&otherChannelId=caller")
    .await;
    assert_eq!(status, StatusCode::OK);
    let is_bob = |e: &Value| {
        e["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Test/bob"))
    };
    let mut result = None;
    let mut bob_destroyed = None;
    let mut events = Vec::new();
    while result.is_none() || bob_destroyed.is_none() {
        let event = all.next().await;
        if event["type"] == "ChannelVarset" && event["variable"] == "RESULT" {
            result = event["value"].as_str().map(str::to_string);
        }
        if event["type"] == "ChannelDestroyed" && is_bob(&event) {
            bob_destroyed = Some(event.clone());
        }
        events.push(event);
    }
    assert_eq!(result.as_deref(), Some("BUSY"));
    assert_eq!(dial_statuses(&events), ["", "BUSY"]);
    let destroyed = bob_destroyed.unwrap_or_default();
    assert_eq!(destroyed["cause"], 17);
    assert_eq!(destroyed["cause_txt"], "User busy");
}

#[tokio::test]
async fn a_test_phone_that_never_answers_gives_noanswer() {
    let (result, events) = dial_result("501").await;
    assert_eq!(result, "NOANSWER");
    let statuses = dial_statuses(&events);
    assert_eq!(statuses.first().map(String::as_str), Some(""));
    assert!(statuses.contains(&"RINGING".to_string()), "{statuses:?}");
}

#[tokio::test]
async fn a_congested_test_phone_gives_congestion() {
    let (result, _) = dial_result("502").await;
    assert_eq!(result, "CONGESTION");
}

#[tokio::test]
async fn pings_are_answered() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    ws.ping(b"are you there").await;
}

#[tokio::test]
async fn after_a_disconnect_channels_stay_and_new_calls_fail() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=hello&api_key=asterisk:secret").await;
    let mut watcher = EventSocket::connect(
        &wari,
        "app=watcher&subscribeAll=true&api_key=asterisk:secret",
    )
    .await;
    let Reply { status, .. } = wari
        .post("/ari/channels?endpoint=Test/alice&app=hello&channelId=stays")
        .await;
    assert_eq!(status, StatusCode::OK);
    let entered = ws.next_for("StasisStart", "stays").await;
    assert_eq!(entered["channel"]["dialplan"]["app_name"], "Stasis");
    ws.close().await;

    // The application lingers, inactive, still holding its channel.
    let Reply {
        status, body: app, ..
    } = wari.get("/ari/applications/hello").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app["channel_ids"], serde_json::json!(["stays"]));
    // The channel is still in Stasis and controllable over HTTP.
    let Reply { status, .. } = wari
        .post("/ari/channels/stays/variable?variable=X&value=1")
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A new call into the now handler-less application fails at once.
    let Reply { status, .. } =  wari.post("/ari/channels?endpoint=Local/100@default&extension=1&context=none&channelId=orig&otherChannelId=late")
    .await;
    assert_eq!(status, StatusCode::OK);
    let varset = loop {
        let event = watcher.next_of("ChannelVarset").await;
        if event["channel"]["id"] == "late"
            && event["variable"] == "STASISSTATUS"
            && event["value"] != ""
        {
            break event;
        }
    };
    assert_eq!(varset["value"], "FAILED");

    assert_eq!(
        wari.delete("/ari/channels/stays").await.status,
        StatusCode::NO_CONTENT
    );
    watcher.next_for("ChannelDestroyed", "stays").await;
}

#[tokio::test]
async fn the_ari_subprotocol_is_echoed_and_others_are_refused() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let url = format!(
        "ws://{}/ari/events?app=hello&api_key=asterisk:secret",
        wari.addr()
    );
    let mut request = url.clone().into_client_request().expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "ari".parse().expect("header"));
    let (_, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("handshake with ari");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("ari")
    );
    let mut request = url.into_client_request().expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "chat".parse().expect("header"));
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
        }
        other => panic!("expected a 400 refusal, got {other:?}"),
    }
    // Without the app parameter.
    let bare = format!("ws://{}/ari/events?api_key=asterisk:secret", wari.addr());
    match tokio_tungstenite::connect_async(bare).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 400);
            let body = response.body().clone().unwrap_or_default();
            assert!(
                String::from_utf8_lossy(&body).contains("missing param: [app]"),
                "{body:?}"
            );
        }
        other => panic!("expected a 400 refusal, got {other:?}"),
    }
    // Wrong credentials are refused before the upgrade.
    let wrong = format!(
        "ws://{}/ari/events?app=x&api_key=asterisk:nope",
        wari.addr()
    );
    match tokio_tungstenite::connect_async(wrong).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected a 401 refusal, got {other:?}"),
    }
}
