//! `/applications`, `/endpoints` and `/deviceStates` as Asterisk 23.4.1 answers them:
//! what an application object lists, the order and words of subscription errors, which
//! technologies have endpoints, sendMessage's checks, and when device states are
//! announced.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1; the comments quote
//! it.

use serde_json::json;

use crate::support::{EventSocket, Wari, refused};

const DIALPLAN: &str = "\
[default]
exten => 200,1,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
";

#[tokio::test]
async fn subscriptions_are_listed_and_removed_as_in_asterisk() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let _all =
        EventSocket::connect(&wari, "app=every&subscribeAll=true&api_key=asterisk:secret").await;
    let _one = EventSocket::connect(&wari, "app=subs&api_key=asterisk:secret").await;
    assert_eq!(wari.post("/ari/bridges/b1").await.status, 200);

    // Asterisk 23.4.1 lists a subscription to every object under its topic's name.
    let every = wari.get("/ari/applications/every").await.body;
    assert_eq!(
        every,
        json!({
            "name": "every",
            "channel_ids": ["__AST_CHANNEL_ALL_TOPIC"],
            "bridge_ids": ["__AST_BRIDGE_ALL_TOPIC"],
            "endpoint_ids": ["__AST_ENDPOINT_ALL_TOPIC"],
            "device_names": ["__AST_DEVICE_STATE_ALL_TOPIC"],
            "events_allowed": [],
            "events_disallowed": [],
        })
    );
    let subscribe = |source: &str| {
        let wari = &wari;
        let path = format!("/ari/applications/subs/subscription?eventSource={source}");
        async move { wari.post(&path).await }
    };
    let unsubscribe = |source: &str| {
        let wari = &wari;
        let path = format!("/ari/applications/subs/subscription?eventSource={source}");
        async move { wari.delete(&path).await }
    };
    let all_channels = subscribe("channel:").await;
    assert_eq!(
        all_channels.body["channel_ids"],
        json!(["__AST_CHANNEL_ALL_TOPIC"])
    );
    // Sources are taken in order: bridge:b1 is subscribed before channel:nope fails.
    refused(
        subscribe("bridge:b1,channel:nope").await,
        422,
        "Event source does not exist",
    );
    // Local channels have no endpoints.
    refused(
        subscribe("endpoint:Local").await,
        422,
        "Event source does not exist",
    );
    // Removing checks the subscription only; the one to every channel cannot go.
    for source in [
        "bridge:nope",
        "channel:nope",
        "endpoint:Local",
        "deviceState:Stasis:x",
    ] {
        refused(
            unsubscribe(source).await,
            422,
            "Event source was not subscribed to",
        );
    }
    refused(unsubscribe("channel:").await, 501, "Method not implemented");
    let removed = unsubscribe("bridge:b1").await;
    assert_eq!(removed.status, 200, "{}", removed.body);
    assert_eq!(removed.body["bridge_ids"], json!([]));
}

#[tokio::test]
async fn endpoints_and_messages_are_checked_as_in_asterisk() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    // Asterisk 23.4.1: a technology without endpoints, Local included.
    for tech in ["Local", "PJSIP"] {
        refused(
            wari.get(&format!("/ari/endpoints/{tech}")).await,
            404,
            &format!("No Endpoints found - invalid tech {tech}"),
        );
    }
    refused(
        wari.get("/ari/endpoints/Local/200@default").await,
        404,
        "Endpoint not found",
    );
    refused(
        wari.ari(reqwest::Method::PUT, "/ari/endpoints/sendMessage")
            .await,
        400,
        "To must be specified",
    );
    // Variables are checked first (non-string values), and anything but an object is
    // no variables at all.
    let send = |path: &'static str, body: serde_json::Value| {
        let wari = &wari;
        async move {
            wari.ari_with_body(reqwest::Method::PUT, path, Some(body))
                .await
        }
    };
    refused(
        send("/ari/endpoints/sendMessage", json!({"variables": {"A": 1}})).await,
        400,
        "Only string values in the 'variables' object allowed",
    );
    refused(
        send(
            "/ari/endpoints/sendMessage?to=pjsip:x&from=y",
            json!({"variables": "x"}),
        )
        .await,
        404,
        "Endpoint not found",
    );
    for to in ["x", "bogus:x", "local:x"] {
        refused(
            wari.ari(
                reqwest::Method::PUT,
                &format!("/ari/endpoints/sendMessage?to={to}&from=y"),
            )
            .await,
            404,
            "Endpoint not found",
        );
    }
    // To an endpoint: the endpoint is checked before the variables.
    refused(
        send(
            "/ari/endpoints/PJSIP/x/sendMessage",
            json!({"variables": {"A": 1}}),
        )
        .await,
        404,
        "Endpoint not found",
    );
    refused(
        wari.post("/ari/endpoints/refer").await,
        400,
        "To must be specified",
    );
    refused(
        wari.post("/ari/endpoints/PJSIP/x/refer").await,
        404,
        "Endpoint not found",
    );
}

#[tokio::test]
async fn device_states_are_announced_on_change_only() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut ws = EventSocket::connect(&wari, "app=lamps&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/applications/lamps/subscription?eventSource=deviceState:Stasis:lamp")
        .await;
    assert_eq!(reply.status, 200);
    // Asterisk 23.4.1: BUSY is announced; BUSY (or busy) again is not; a delete is not;
    // ONHOLD is.
    for (state, status) in [
        ("BUSY", 204),
        ("busy", 204),
        ("UNKNOWN", 400),
        ("ONHOLD", 204),
    ] {
        let reply = wari
            .ari(
                reqwest::Method::PUT,
                &format!("/ari/deviceStates/Stasis:lamp?deviceState={state}"),
            )
            .await;
        assert_eq!(reply.status.as_u16(), status, "{state}: {}", reply.body);
    }
    assert_eq!(
        wari.delete("/ari/deviceStates/Stasis:lamp").await.status,
        204
    );
    let reply = wari
        .ari(
            reqwest::Method::PUT,
            "/ari/deviceStates/Stasis:lamp?deviceState=RINGING",
        )
        .await;
    assert_eq!(reply.status, 204);
    let mut states = Vec::new();
    for _ in 0..3 {
        let event = ws.next_of("DeviceStateChanged").await;
        states.push(event["device_state"]["state"].clone());
    }
    assert_eq!(states, [json!("BUSY"), json!("ONHOLD"), json!("RINGING")]);
    // Devices no provider knows are INVALID; a controlled one nobody set is UNKNOWN.
    for (name, state) in [
        ("Local:x", "INVALID"),
        ("x", "INVALID"),
        ("Stasis:never", "UNKNOWN"),
    ] {
        let reply = wari.get(&format!("/ari/deviceStates/{name}")).await;
        assert_eq!(reply.body, json!({"name": name, "state": state}));
    }
}

#[tokio::test]
async fn an_endpoint_subscriber_hears_its_channels_come_and_go() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut calls = EventSocket::connect(&wari, "app=calls&api_key=asterisk:secret").await;
    let mut watcher = EventSocket::connect(&wari, "app=ep&api_key=asterisk:secret").await;
    // A Test phone's endpoint exists once it has been called.
    let first = wari
        .post("/ari/channels?endpoint=Test/alice&app=calls&channelId=e1")
        .await;
    assert_eq!(first.status, 200);
    calls.until(|e| e["type"] == "StasisStart").await;
    let subscribed = wari
        .post("/ari/applications/ep/subscription?eventSource=endpoint:Test/alice")
        .await;
    assert_eq!(subscribed.status, 200, "{}", subscribed.body);
    // Each change of the endpoint's channels is announced with its snapshot.
    let with_ids = |ids: serde_json::Value| {
        move |e: &serde_json::Value| {
            e["type"] == "EndpointStateChange" && e["endpoint"]["channel_ids"] == ids
        }
    };
    let second = wari
        .post("/ari/channels?endpoint=Test/alice&app=calls&channelId=e2")
        .await;
    assert_eq!(second.status, 200);
    let events = watcher.until(with_ids(json!(["e1", "e2"]))).await;
    let change = events.last().cloned().unwrap_or_default();
    assert_eq!(
        change["endpoint"],
        json!({"technology": "Test", "resource": "alice", "state": "online", "channel_ids": ["e1", "e2"]})
    );
    assert_eq!(change["application"], "ep");
    assert_eq!(wari.delete("/ari/channels/e1").await.status, 204);
    watcher.until(with_ids(json!(["e2"]))).await;
}
