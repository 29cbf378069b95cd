//! `/bridges`, `/applications`, `/events`, `/endpoints`, `/deviceStates` and `/mailboxes`
//! end to end: every error status the spec gives these resources (ari-rest.md §2.2, 2.3,
//! 2.7, 2.8, 2.10, 2.11) and their happy paths, with events checked on the events WebSocket.
//!
//! Channels in Stasis are made over HTTP (`POST /channels` to a Test phone with `app`); a
//! Test phone that never answers (`Test/NAME/noanswer`) gives a channel that is subscribed
//! to the application but not in Stasis.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{EventSocket, Reply, Wari};

/// Dialplan for the non-Stasis bridge: a Test phone answers, then Dial()s another, which
/// puts both in a basic (dialplan) bridge.
const DIALPLAN: &str = "\
[default]
exten => 600,1,Dial(Test/carol)
 same => n,Hangup()
";

/// Asserts a status, showing the body when it differs, and returns the body.
#[track_caller]
fn expect(reply: Reply, status: u16) -> Value {
    assert_eq!(reply.status.as_u16(), status, "body: {}", reply.body);
    if status >= 400 {
        assert!(
            reply.body["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error body has a message: {}",
            reply.body
        );
    }
    reply.body
}

async fn socket(wari: &Wari, query: &str) -> EventSocket {
    EventSocket::connect(wari, &format!("{query}&api_key=asterisk:secret")).await
}

/// Originates `endpoint` into `app` as channel `id` (200 expected).
async fn originate(wari: &Wari, endpoint: &str, app: &str, id: &str) {
    expect(
        wari.post(&format!(
            "/ari/channels?endpoint={endpoint}&app={app}&channelId={id}"
        ))
        .await,
        200,
    );
}

#[tokio::test]
async fn bridges_are_created_listed_read_and_destroyed() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watcher&subscribeAll=true").await;

    let created = expect(wari.post("/ari/bridges?type=mixing&name=first").await, 200);
    let first = created["id"].as_str().expect("generated id").to_string();
    assert_eq!(first.len(), 36, "a UUID: {first}");
    assert_eq!(created["bridge_type"], "mixing");
    assert_eq!(created["bridge_class"], "stasis");
    assert_eq!(created["creator"], "Stasis");
    assert_eq!(created["name"], "first");
    assert_eq!(created["channels"], json!([]));
    assert!(created.get("bridgevars").is_none(), "{created}");
    let event = ws.next_of("BridgeCreated").await;
    assert_eq!(event["bridge"]["id"], first.as_str());

    // createWithId, with variables from body.variables (reported ones in bridgevars).
    let body = json!({
        "type": "holding",
        "name": "second",
        "variables": {"PLAIN": "1", "SHOWN": {"value": "2", "report_events": true}},
    });
    let second = expect(
        wari.ari_with_body(Method::POST, "/ari/bridges/second", Some(body))
            .await,
        200,
    );
    assert_eq!(second["id"], "second");
    assert_eq!(second["bridge_type"], "holding");
    assert_eq!(second["bridgevars"], json!({"SHOWN": "2"}));
    let event = ws.next_of("BridgeCreated").await;
    assert_eq!(event["bridge"]["bridgevars"], json!({"SHOWN": "2"}));

    // POST /bridges with bridgeId.
    let third = expect(wari.post("/ari/bridges?bridgeId=third").await, 200);
    assert_eq!(third["id"], "third");
    assert_eq!(third["bridge_type"], "mixing", "mixing is the default");

    let Reply { body: list, .. } = wari.get("/ari/bridges").await;
    let mut ids: Vec<&str> = list
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|b| b["id"].as_str())
        .collect();
    ids.sort();
    let mut expected = vec![first.as_str(), "second", "third"];
    expected.sort();
    assert_eq!(ids, expected);

    let got = expect(wari.get("/ari/bridges/second").await, 200);
    assert_eq!(got["name"], "second");

    expect(wari.delete("/ari/bridges/second").await, 204);
    let event = ws.next_of("BridgeDestroyed").await;
    assert_eq!(event["bridge"]["id"], "second");
    expect(wari.get("/ari/bridges/second").await, 404);
    expect(wari.delete("/ari/bridges/second").await, 404);
}

#[tokio::test]
async fn bridge_errors() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    expect(wari.post("/ari/bridges/taken").await, 200);
    // Id collisions.
    expect(wari.post("/ari/bridges/taken").await, 409);
    expect(wari.post("/ari/bridges?bridgeId=taken").await, 409);
    // Bad parameters (a type that makes no bridge: Asterisk 23.4.1 answers 500, wari 400).
    expect(wari.post("/ari/bridges?type=mixing,holding").await, 400);
    let bad_vars = json!({"variables": "not an object"});
    expect(
        wari.ari_with_body(Method::POST, "/ari/bridges", Some(bad_vars))
            .await,
        400,
    );
    let bad_var = json!({"variables": {"X": 5}});
    expect(
        wari.ari_with_body(Method::POST, "/ari/bridges/other", Some(bad_var))
            .await,
        400,
    );
    expect(wari.get("/ari/bridges/other").await, 404);

    // Unknown bridge: 404 everywhere.
    for (method, path) in [
        (Method::GET, "/ari/bridges/nope"),
        (Method::DELETE, "/ari/bridges/nope"),
        (Method::POST, "/ari/bridges/nope/addChannel?channel=x"),
        (Method::POST, "/ari/bridges/nope/removeChannel?channel=x"),
        (Method::GET, "/ari/bridges/nope/variable?variable=X"),
        (
            Method::POST,
            "/ari/bridges/nope/variable?variable=X&value=1",
        ),
        (Method::GET, "/ari/bridges/nope/variables?variables=X"),
        (Method::POST, "/ari/bridges/nope/videoSource/x"),
        (Method::DELETE, "/ari/bridges/nope/videoSource"),
        (Method::POST, "/ari/bridges/nope/moh"),
        (Method::DELETE, "/ari/bridges/nope/moh"),
        (Method::POST, "/ari/bridges/nope/play?media=sound:hello"),
        (Method::POST, "/ari/bridges/nope/play/p1?media=sound:hello"),
        (Method::POST, "/ari/bridges/nope/record?name=r&format=wav"),
    ] {
        let reply = wari.ari_with_body(method.clone(), path, None).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
    }

    // Channels that do not exist: 400; an empty list: 400.
    expect(wari.post("/ari/bridges/taken/addChannel").await, 400);
    expect(
        wari.post("/ari/bridges/taken/addChannel?channel=ghost")
            .await,
        400,
    );
    expect(
        wari.post("/ari/bridges/taken/removeChannel?channel=ghost")
            .await,
        400,
    );
    expect(wari.post("/ari/bridges/taken/videoSource/ghost").await, 400);

    // Media (tests/e2e/media_bridges.rs has the audio): music on hold stops only when it
    // runs, bad formats are 422, a playback targets the bridge.
    for (method, path, status) in [
        (Method::DELETE, "/ari/bridges/taken/moh", 409),
        (Method::POST, "/ari/bridges/taken/moh?mohClass=default", 204),
        (Method::DELETE, "/ari/bridges/taken/moh", 204),
        (Method::DELETE, "/ari/bridges/taken/moh", 409),
        (
            Method::POST,
            "/ari/bridges/taken/play?media=sound:hello&announcer_format=nope",
            422,
        ),
        (
            Method::POST,
            "/ari/bridges/taken/play/p1?media=sound:hello",
            201,
        ),
        (
            Method::POST,
            "/ari/bridges/taken/record?name=r&format=nope",
            422,
        ),
    ] {
        let reply = wari.ari_with_body(method.clone(), path, None).await;
        assert_eq!(reply.status, status, "{method} {path}: {}", reply.body);
        if status == 201 {
            assert_eq!(reply.body["target_uri"], "bridge:taken", "{}", reply.body);
        }
    }
    // No video: clearing succeeds and changes nothing.
    expect(wari.delete("/ari/bridges/taken/videoSource").await, 204);
}

#[tokio::test]
async fn bridge_variables() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    expect(wari.post("/ari/bridges/vars").await, 200);
    expect(
        wari.post("/ari/bridges/vars/variable?variable=A&value=1")
            .await,
        204,
    );
    let value = expect(wari.get("/ari/bridges/vars/variable?variable=A").await, 200);
    assert_eq!(value, json!({"value": "1"}));
    // Missing name, unknown variable.
    expect(wari.get("/ari/bridges/vars/variable").await, 400);
    expect(wari.post("/ari/bridges/vars/variable?value=1").await, 400);
    expect(
        wari.get("/ari/bridges/vars/variable?variable=NOPE").await,
        404,
    );

    // Several at once, one reported.
    let body = json!({"variables": {"B": "2", "C": {"value": "3", "report_events": true}}});
    expect(
        wari.ari_with_body(Method::POST, "/ari/bridges/vars/variables", Some(body))
            .await,
        204,
    );
    let all = expect(
        wari.get("/ari/bridges/vars/variables?variables=A,B,C")
            .await,
        200,
    );
    assert_eq!(all, json!({"variables": {"A": "1", "B": "2", "C": "3"}}));
    expect(
        wari.get("/ari/bridges/vars/variables?variables=A,NOPE")
            .await,
        404,
    );
    expect(wari.get("/ari/bridges/vars/variables").await, 400);
    let bridge = expect(wari.get("/ari/bridges/vars").await, 200);
    assert_eq!(bridge["bridgevars"], json!({"C": "3"}));

    // Bad bodies change nothing.
    expect(wari.post("/ari/bridges/vars/variables").await, 400);
    let bad = json!({"variables": {"D": "4", "E": {"value": 5}}});
    expect(
        wari.ari_with_body(Method::POST, "/ari/bridges/vars/variables", Some(bad))
            .await,
        400,
    );
    expect(wari.get("/ari/bridges/vars/variable?variable=D").await, 404);

    // Without a value the variable is unset.
    expect(
        wari.post("/ari/bridges/vars/variable?variable=A").await,
        204,
    );
    expect(wari.get("/ari/bridges/vars/variable?variable=A").await, 404);
}

#[tokio::test]
async fn bridges_the_dialplan_made_are_not_controllable() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=watcher&subscribeAll=true").await;
    expect(
        wari.post(
            "/ari/channels?endpoint=Test/alice&extension=600&context=default&channelId=caller",
        )
        .await,
        200,
    );
    let basic = loop {
        let event = ws.next_of("ChannelEnteredBridge").await;
        if event["channel"]["id"] == "caller" {
            break event["bridge"].clone();
        }
    };
    assert_eq!(basic["bridge_class"], "basic");
    let id = basic["id"].as_str().expect("bridge id").to_string();
    let Reply { body: list, .. } = wari.get("/ari/bridges").await;
    assert!(
        list.as_array()
            .is_some_and(|l| l.iter().any(|b| b["id"] == id.as_str())),
        "GET /bridges lists every bridge: {list}"
    );
    expect(wari.get(&format!("/ari/bridges/{id}")).await, 200);
    for (method, path) in [
        (Method::DELETE, format!("/ari/bridges/{id}")),
        (
            Method::POST,
            format!("/ari/bridges/{id}/addChannel?channel=caller"),
        ),
        (
            Method::POST,
            format!("/ari/bridges/{id}/removeChannel?channel=caller"),
        ),
        (
            Method::GET,
            format!("/ari/bridges/{id}/variable?variable=X"),
        ),
        (
            Method::POST,
            format!("/ari/bridges/{id}/variable?variable=X&value=1"),
        ),
        (
            Method::POST,
            format!("/ari/bridges/{id}/videoSource/caller"),
        ),
        (Method::DELETE, format!("/ari/bridges/{id}/videoSource")),
        (Method::POST, format!("/ari/bridges/{id}/moh")),
        (
            Method::POST,
            format!("/ari/bridges/{id}/play?media=sound:x"),
        ),
    ] {
        let reply = wari.ari_with_body(method.clone(), &path, None).await;
        assert_eq!(reply.status, 409, "{method} {path}: {}", reply.body);
    }
    // Asterisk answers getBridgeVars on a non-ARI bridge with 404, not 409.
    expect(
        wari.get(&format!("/ari/bridges/{id}/variables?variables=X"))
            .await,
        404,
    );
}

#[tokio::test]
async fn channels_join_and_leave_bridges() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=hello").await;
    expect(wari.post("/ari/bridges/room").await, 200);
    originate(&wari, "Test/alice", "hello", "alice").await;
    let start = ws.next_of("StasisStart").await;
    assert_eq!(start["channel"]["id"], "alice");
    // Subscribed to the app but never answers, so never in Stasis.
    originate(&wari, "Test/bob/noanswer", "hello", "bob").await;

    expect(
        wari.post("/ari/bridges/room/addChannel?channel=bob").await,
        422,
    );
    expect(
        wari.post("/ari/bridges/room/addChannel?channel=alice,bob")
            .await,
        422,
    );
    expect(
        wari.post("/ari/bridges/room/removeChannel?channel=alice")
            .await,
        422,
    );
    expect(wari.post("/ari/bridges/room/videoSource/bob").await, 422);
    expect(wari.post("/ari/bridges/room/videoSource/alice").await, 422);
    let Reply { body: room, .. } = wari.get("/ari/bridges/room").await;
    assert_eq!(room["channels"], json!([]), "nothing joined on a failure");

    expect(
        wari.post("/ari/bridges/room/addChannel?channel=alice&role=participant&absorbDTMF=yes&mute=no&inhibitConnectedLineUpdates=true",
        )
        .await,
        204,
    );
    let entered = ws.next_of("ChannelEnteredBridge").await;
    assert_eq!(entered["bridge"]["id"], "room");
    assert_eq!(entered["channel"]["id"], "alice");
    let Reply { body: room, .. } = wari.get("/ari/bridges/room").await;
    assert_eq!(room["channels"], json!(["alice"]));
    let app = expect(wari.get("/ari/applications/hello").await, 200);
    assert_eq!(app["bridge_ids"], json!(["room"]), "implicit subscription");
    expect(wari.post("/ari/bridges/room/videoSource/alice").await, 204);

    expect(
        wari.post("/ari/bridges/room/removeChannel?channel=alice")
            .await,
        204,
    );
    let left = ws.next_of("ChannelLeftBridge").await;
    assert_eq!(left["channel"]["id"], "alice");
    expect(
        wari.post("/ari/bridges/room/removeChannel?channel=alice")
            .await,
        422,
    );
}

#[tokio::test]
async fn applications_subscriptions_and_errors() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let _ws = socket(&wari, "app=subs").await;
    expect(wari.post("/ari/bridges/b1").await, 200);

    let Reply { body: apps, .. } = wari.get("/ari/applications").await;
    assert!(
        apps.as_array()
            .is_some_and(|a| a.iter().any(|app| app["name"] == "subs")),
        "{apps}"
    );
    let app = expect(wari.get("/ari/applications/subs").await, 200);
    assert_eq!(
        app,
        json!({
            "name": "subs",
            "channel_ids": [],
            "bridge_ids": [],
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        })
    );
    expect(wari.get("/ari/applications/nope").await, 404);

    let app = expect(
        wari.post("/ari/applications/subs/subscription?eventSource=bridge:b1,endpoint:Test,deviceState:Stasis:lamp",
        )
        .await,
        200,
    );
    assert_eq!(app["bridge_ids"], json!(["b1"]));
    assert_eq!(app["endpoint_ids"], json!(["Test"]));
    assert_eq!(app["device_names"], json!(["Stasis:lamp"]));

    let app = expect(
        wari.delete("/ari/applications/subs/subscription?eventSource=bridge:b1")
            .await,
        200,
    );
    assert_eq!(app["bridge_ids"], json!([]));
    assert_eq!(app["endpoint_ids"], json!(["Test"]));
    let Reply { body: app, .. } = wari.get("/ari/applications/subs").await;
    assert_eq!(app["bridge_ids"], json!([]));

    // Errors.
    expect(wari.post("/ari/applications/subs/subscription").await, 400);
    expect(
        wari.delete("/ari/applications/subs/subscription").await,
        400,
    );
    expect(
        wari.post("/ari/applications/subs/subscription?eventSource=foo:bar")
            .await,
        400,
    );
    expect(
        wari.post("/ari/applications/subs/subscription?eventSource=nothing")
            .await,
        400,
    );
    expect(
        wari.delete("/ari/applications/subs/subscription?eventSource=foo:bar")
            .await,
        400,
    );
    expect(
        wari.post("/ari/applications/nope/subscription?eventSource=bridge:b1")
            .await,
        404,
    );
    expect(
        wari.delete("/ari/applications/nope/subscription?eventSource=bridge:b1")
            .await,
        404,
    );
    expect(
        wari.post("/ari/applications/subs/subscription?eventSource=channel:ghost")
            .await,
        422,
    );
    expect(
        wari.post("/ari/applications/subs/subscription?eventSource=bridge:ghost")
            .await,
        422,
    );
    expect(
        wari.post("/ari/applications/subs/subscription?eventSource=endpoint:Nope")
            .await,
        422,
    );
    // Not subscribed: 422 (the declaration says 409; Asterisk answers 422).
    expect(
        wari.delete("/ari/applications/subs/subscription?eventSource=bridge:b1")
            .await,
        422,
    );
}

#[tokio::test]
async fn event_filters() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=filtered").await;

    let allowed = json!({"allowed": [{"type": "ChannelUserevent"}, {"type": "StasisStart"}]});
    let app = expect(
        wari.ari_with_body(
            Method::PUT,
            "/ari/applications/filtered/eventFilter",
            Some(allowed),
        )
        .await,
        200,
    );
    assert_eq!(
        app["events_allowed"],
        json!([{"type": "ChannelUserevent"}, {"type": "StasisStart"}])
    );
    assert_eq!(app["events_disallowed"], json!([]));

    // Only one list given: the other is untouched.
    let disallowed = json!({"disallowed": [{"type": "ChannelUserevent"}]});
    let app = expect(
        wari.ari_with_body(
            Method::PUT,
            "/ari/applications/filtered/eventFilter",
            Some(disallowed),
        )
        .await,
        200,
    );
    assert_eq!(app["events_allowed"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        app["events_disallowed"],
        json!([{"type": "ChannelUserevent"}])
    );

    // The filter applies: a disallowed user event is dropped, so the next event on the
    // socket is the one sent after the filter was cleared.
    expect(
        wari.post("/ari/events/user/dropped?application=filtered")
            .await,
        204,
    );
    let app = expect(
        wari.put("/ari/applications/filtered/eventFilter").await,
        200,
    );
    assert_eq!(app["events_allowed"], json!([]));
    assert_eq!(app["events_disallowed"], json!([]));
    expect(
        wari.post("/ari/events/user/kept?application=filtered")
            .await,
        204,
    );
    let event = ws.next().await;
    assert_eq!(event["type"], "ChannelUserevent");
    assert_eq!(event["eventname"], "kept");

    // Errors.
    for bad in [
        json!({"allowed": "ChannelUserevent"}),
        json!({"allowed": [{"kind": "x"}]}),
        json!({"disallowed": [{"type": ""}]}),
        json!({"allowed": ["StasisStart"]}),
    ] {
        let reply = wari
            .ari_with_body(
                Method::PUT,
                "/ari/applications/filtered/eventFilter",
                Some(bad.clone()),
            )
            .await;
        assert_eq!(reply.status, 400, "{bad}: {}", reply.body);
    }
    expect(wari.put("/ari/applications/nope/eventFilter").await, 404);
}

#[tokio::test]
async fn user_events_reach_the_application() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=events").await;
    expect(wari.post("/ari/bridges/b1").await, 200);

    let body = json!({"variables": {"color": "blue", "n": 3}});
    expect(
        wari.ari_with_body(
            Method::POST,
            "/ari/events/user/ping?application=events&source=bridge:b1",
            Some(body),
        )
        .await,
        204,
    );
    let event = ws.next_of("ChannelUserevent").await;
    assert_eq!(event["application"], "events");
    assert_eq!(event["eventname"], "ping");
    assert_eq!(
        event["userevent"],
        json!({"color": "blue", "n": 3, "eventname": "ping"})
    );
    assert_eq!(event["bridge"]["id"], "b1");

    // With a channel source.
    originate(&wari, "Test/alice", "events", "alice").await;
    ws.next_of("StasisStart").await;
    expect(
        wari.post("/ari/events/user/hello?application=events&source=channel:alice")
            .await,
        204,
    );
    let event = ws.next_of("ChannelUserevent").await;
    assert_eq!(event["eventname"], "hello");
    assert_eq!(event["channel"]["id"], "alice");

    // Errors.
    expect(wari.post("/ari/events/user/ping").await, 400);
    expect(
        wari.post("/ari/events/user/ping?application=nope").await,
        404,
    );
    expect(
        wari.post("/ari/events/user/ping?application=events&source=foo:bar")
            .await,
        400,
    );
    expect(
        wari.post("/ari/events/user/ping?application=events&source=deviceState:x")
            .await,
        400,
    );
    expect(
        wari.post("/ari/events/user/ping?application=events&source=channel:ghost")
            .await,
        422,
    );
    expect(
        wari.post("/ari/events/user/ping?application=events&source=bridge:ghost")
            .await,
        422,
    );
    // Asterisk 23.4.1 answers 500 `Error processing request`; wari 400.
    let bad = json!({"variables": ["not", "an", "object"]});
    expect(
        wari.ari_with_body(
            Method::POST,
            "/ari/events/user/ping?application=events",
            Some(bad),
        )
        .await,
        400,
    );

    // Claiming broadcast channels: parameters are checked, then (no channel is ever
    // broadcast) Asterisk 23.4.1's answer for a channel not in broadcast state.
    let missing = expect(wari.post("/ari/events/claim").await, 400);
    assert_eq!(missing["message"], "channelId parameter is required");
    expect(wari.post("/ari/events/claim?channelId=x").await, 400);
    expect(wari.post("/ari/events/claim?application=events").await, 400);
    let none = expect(
        wari.post("/ari/events/claim?channelId=x&application=events")
            .await,
        404,
    );
    assert_eq!(
        none["message"],
        "Channel not found or not in broadcast state"
    );
}

#[tokio::test]
async fn device_states() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut all = socket(&wari, "app=watcher&subscribeAll=true").await;
    let mut one = socket(&wari, "app=lamps").await;
    expect(
        wari.post("/ari/applications/lamps/subscription?eventSource=deviceState:Stasis:lamp")
            .await,
        200,
    );

    expect(wari.get("/ari/deviceStates").await, 200);
    let unknown = expect(wari.get("/ari/deviceStates/Stasis:lamp").await, 200);
    assert_eq!(unknown, json!({"name": "Stasis:lamp", "state": "UNKNOWN"}));

    expect(
        wari.put("/ari/deviceStates/Stasis:lamp?deviceState=BUSY")
            .await,
        204,
    );
    let changed = all.next_of("DeviceStateChanged").await;
    assert_eq!(
        changed["device_state"],
        json!({"name": "Stasis:lamp", "state": "BUSY"})
    );
    let changed = one.next_of("DeviceStateChanged").await;
    assert_eq!(changed["device_state"]["state"], "BUSY");
    assert_eq!(changed["application"], "lamps");

    let state = expect(wari.get("/ari/deviceStates/Stasis:lamp").await, 200);
    assert_eq!(state, json!({"name": "Stasis:lamp", "state": "BUSY"}));
    let list = expect(wari.get("/ari/deviceStates").await, 200);
    assert_eq!(list, json!([{"name": "Stasis:lamp", "state": "BUSY"}]));

    // State values are case-insensitive; the prefix too.
    expect(
        wari.put("/ari/deviceStates/stasis:lamp?deviceState=inuse")
            .await,
        204,
    );
    let changed = all.next_of("DeviceStateChanged").await;
    assert_eq!(
        changed["device_state"],
        json!({"name": "Stasis:lamp", "state": "INUSE"})
    );

    // The same state again publishes nothing (Asterisk 23.4.1): the next event is the
    // next change.
    expect(
        wari.put("/ari/deviceStates/Stasis:lamp?deviceState=INUSE")
            .await,
        204,
    );
    expect(
        wari.put("/ari/deviceStates/Stasis:lamp?deviceState=ONHOLD")
            .await,
        204,
    );
    let changed = all.next_of("DeviceStateChanged").await;
    assert_eq!(changed["device_state"]["state"], "ONHOLD", "{changed}");

    // Errors, in Asterisk 23.4.1's words.
    let uncontrolled = expect(
        wari.put("/ari/deviceStates/Foo?deviceState=BUSY").await,
        409,
    );
    assert_eq!(uncontrolled["message"], "Uncontrolled device specified");
    let missing = expect(
        wari.put("/ari/deviceStates/Stasis:?deviceState=BUSY").await,
        404,
    );
    assert_eq!(missing["message"], "Device name is missing");
    for query in ["?deviceState=SLEEPY", "?deviceState=UNKNOWN", ""] {
        let bad = expect(
            wari.put(&format!("/ari/deviceStates/Stasis:lamp{query}"))
                .await,
            400,
        );
        assert_eq!(bad["message"], "Unknown device", "{query}");
    }
    expect(wari.delete("/ari/deviceStates/Foo").await, 409);
    expect(wari.delete("/ari/deviceStates/Stasis:").await, 404);
    // A device no provider knows is INVALID.
    let other = expect(wari.get("/ari/deviceStates/Foo").await, 200);
    assert_eq!(other, json!({"name": "Foo", "state": "INVALID"}));

    // Delete: UNKNOWN again, and (as in Asterisk 23.4.1) nothing published: the next
    // event the application hears is the next change.
    expect(wari.delete("/ari/deviceStates/Stasis:lamp").await, 204);
    let list = expect(wari.get("/ari/deviceStates").await, 200);
    assert_eq!(list, json!([]));
    let unknown = expect(wari.get("/ari/deviceStates/Stasis:lamp").await, 200);
    assert_eq!(unknown, json!({"name": "Stasis:lamp", "state": "UNKNOWN"}));
    expect(wari.delete("/ari/deviceStates/Stasis:never").await, 204);
    expect(
        wari.put("/ari/deviceStates/Stasis:lamp?deviceState=RINGING")
            .await,
        204,
    );
    let changed = all.next_of("DeviceStateChanged").await;
    assert_eq!(
        changed["device_state"],
        json!({"name": "Stasis:lamp", "state": "RINGING"})
    );
}

#[tokio::test]
async fn mailboxes() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    assert_eq!(expect(wari.get("/ari/mailboxes").await, 200), json!([]));
    expect(wari.get("/ari/mailboxes/1000").await, 404);
    expect(wari.delete("/ari/mailboxes/1000").await, 404);

    expect(
        wari.put("/ari/mailboxes/1000?oldMessages=1&newMessages=2")
            .await,
        204,
    );
    let mailbox = expect(wari.get("/ari/mailboxes/1000").await, 200);
    assert_eq!(
        mailbox,
        json!({"name": "1000", "old_messages": 1, "new_messages": 2})
    );
    let counts = json!({"oldMessages": 5, "newMessages": 0});
    expect(
        wari.ari_with_body(Method::PUT, "/ari/mailboxes/1000", Some(counts))
            .await,
        204,
    );
    let list = expect(wari.get("/ari/mailboxes").await, 200);
    assert_eq!(
        list,
        json!([{"name": "1000", "old_messages": 5, "new_messages": 0}])
    );

    // Counts are required integers.
    for query in [
        "oldMessages=1",
        "newMessages=1",
        "",
        "oldMessages=abc&newMessages=1",
        "oldMessages=1&newMessages=2.5",
        "oldMessages=-1&newMessages=0",
    ] {
        let reply = wari.put(&format!("/ari/mailboxes/1000?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.body);
    }
    let mailbox = expect(wari.get("/ari/mailboxes/1000").await, 200);
    assert_eq!(mailbox["old_messages"], 5, "unchanged by refused updates");

    expect(wari.delete("/ari/mailboxes/1000").await, 204);
    expect(wari.get("/ari/mailboxes/1000").await, 404);
    expect(wari.delete("/ari/mailboxes/1000").await, 404);
}

#[tokio::test]
async fn endpoints_listing_and_messages() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = socket(&wari, "app=phones").await;
    expect(wari.get("/ari/endpoints").await, 200);
    expect(wari.get("/ari/endpoints/Nope").await, 404);
    // Local channels have no endpoints (Asterisk 23.4.1: 404 `No Endpoints found -
    // invalid tech Local`).
    let local = expect(wari.get("/ari/endpoints/Local").await, 404);
    assert_eq!(local["message"], "No Endpoints found - invalid tech Local");
    expect(wari.get("/ari/endpoints/Test/alice").await, 404);
    expect(wari.get("/ari/endpoints/Nope/alice").await, 404);

    // A channel to a Test phone makes its endpoint known.
    originate(&wari, "Test/alice", "phones", "alice").await;
    ws.next_of("StasisStart").await;
    let endpoint = expect(wari.get("/ari/endpoints/Test/alice").await, 200);
    assert_eq!(endpoint["technology"], "Test");
    assert_eq!(endpoint["resource"], "alice");
    assert_eq!(endpoint["channel_ids"], json!(["alice"]));
    expect(wari.get("/ari/endpoints/test/alice").await, 200);
    let by_tech = expect(wari.get("/ari/endpoints/test").await, 200);
    assert_eq!(by_tech.as_array().map(Vec::len), Some(1), "{by_tech}");
    let all = expect(wari.get("/ari/endpoints").await, 200);
    assert!(
        all.as_array()
            .is_some_and(|a| a.iter().any(|e| e["resource"] == "alice")),
        "{all}"
    );

    // Messages: the phone echoes them back, to applications subscribed to it.
    expect(
        wari.post("/ari/applications/phones/subscription?eventSource=endpoint:Test/alice")
            .await,
        200,
    );
    let body = json!({"variables": {"X-Mood": "good"}});
    let reply = wari
        .ari_with_body(
            Method::PUT,
            "/ari/endpoints/sendMessage?to=test:alice&from=sip:me@example.com&body=hi",
            Some(body),
        )
        .await;
    assert_eq!(reply.parts(), (202, Value::Null), "202 with no body");
    let received = ws.next_of("TextMessageReceived").await;
    assert_eq!(
        received["message"],
        json!({
            "from": "test:alice",
            "to": "sip:me@example.com",
            "body": "hi",
            "variables": {"X-Mood": "good"},
        })
    );
    assert_eq!(received["endpoint"]["resource"], "alice");

    let reply = wari
        .put("/ari/endpoints/Test/alice/sendMessage?from=me&body=again")
        .await;
    assert_eq!(reply.parts(), (202, Value::Null));
    let received = ws.next_of("TextMessageReceived").await;
    assert_eq!(received["message"]["body"], "again");
    assert_eq!(received["message"]["to"], "me");
    assert_eq!(received["message"]["variables"], json!({}));

    // Message errors, as Asterisk 23.4.1 checks: `to` is required, `from` is not.
    expect(wari.put("/ari/endpoints/sendMessage?from=me").await, 400);
    assert_eq!(
        wari.put("/ari/endpoints/sendMessage?to=test:alice")
            .await
            .parts(),
        (202, Value::Null)
    );
    let received = ws.next_of("TextMessageReceived").await;
    assert_eq!(received["message"]["to"], "");
    expect(
        wari.put("/ari/endpoints/sendMessage?to=test:zed&from=me")
            .await,
        404,
    );
    expect(
        wari.put("/ari/endpoints/sendMessage?to=nope:alice&from=me")
            .await,
        404,
    );
    assert_eq!(
        wari.put("/ari/endpoints/Test/alice/sendMessage")
            .await
            .parts(),
        (202, Value::Null)
    );
    ws.next_of("TextMessageReceived").await;
    expect(
        wari.put("/ari/endpoints/Test/zed/sendMessage?from=me")
            .await,
        404,
    );
    expect(
        wari.put("/ari/endpoints/Nope/alice/sendMessage?from=me")
            .await,
        404,
    );
    let bad = json!({"variables": {"X": 1}});
    expect(
        wari.ari_with_body(
            Method::PUT,
            "/ari/endpoints/Test/alice/sendMessage?from=me",
            Some(bad),
        )
        .await,
        400,
    );

    // REFER: accepted by Test phones, nothing else happens.
    let reply = wari
        .post("/ari/endpoints/refer?to=test:alice&from=me&refer_to=sip:bob")
        .await;
    assert_eq!(reply.parts(), (202, Value::Null));
    let reply = wari
        .post("/ari/endpoints/Test/alice/refer?from=me&refer_to=sip:bob&to_self=yes")
        .await;
    assert_eq!(reply.parts(), (202, Value::Null));
    // Only `to` is required (Asterisk 23.4.1: 400 `To must be specified`).
    assert_eq!(
        wari.post("/ari/endpoints/refer?to=test:alice&from=me")
            .await
            .parts(),
        (202, Value::Null)
    );
    let missing = expect(
        wari.post("/ari/endpoints/refer?from=me&refer_to=x").await,
        400,
    );
    assert_eq!(missing["message"], "To must be specified");
    assert_eq!(
        wari.post("/ari/endpoints/Test/alice/refer?refer_to=x")
            .await
            .parts(),
        (202, Value::Null)
    );
    expect(
        wari.post("/ari/endpoints/Test/zed/refer?from=me&refer_to=x")
            .await,
        404,
    );
    expect(
        wari.post("/ari/endpoints/refer?to=nope:x&from=me&refer_to=x")
            .await,
        404,
    );
}
