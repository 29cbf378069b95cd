//! `POST /events/user/{name}` and `POST /events/claim` as Asterisk 23.4.1 answers them:
//! who receives the ChannelUserevent, its fields (the variables with `eventname`, the
//! sources' snapshots), and the errors in Asterisk's words.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1; the comments quote
//! it.

use serde_json::json;

use crate::support::{EventSocket, Wari, key_order, refused};

const DIALPLAN: &str = "\
[default]
exten => 200,1,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
";

#[tokio::test]
async fn user_events_reach_the_named_application_with_their_sources() {
    let wari = Wari::with(&[("extensions.conf", DIALPLAN)]);
    let mut owner = EventSocket::connect(&wari, "app=owner&api_key=asterisk:secret").await;
    let mut other = EventSocket::connect(&wari, "app=other&api_key=asterisk:secret").await;
    let reply = wari
        .post("/ari/channels?endpoint=Local/200@default&app=owner&channelId=c1")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    owner.next_for("StasisStart", "c1").await;
    assert_eq!(wari.post("/ari/bridges/b1").await.status, 200);

    refused(
        wari.post("/ari/events/user/e").await,
        400,
        "Missing parameter application",
    );
    refused(
        wari.post("/ari/events/user/e?application=nobody").await,
        404,
        "Application not found",
    );
    // Sources are checked in order; a scheme ARI does not know is a 400, an object that
    // does not exist 422 (Asterisk 23.4.1: `Event source was not found`).
    for (source, status, message) in [
        ("bogus:x", 400, "Invalid event source URI scheme"),
        ("channel", 400, "Invalid event source URI scheme"),
        ("deviceState:lamp", 400, "Invalid event source URI scheme"),
        ("channel:nope", 422, "Event source was not found"),
        ("bridge:nope", 422, "Event source was not found"),
        ("endpoint:Test", 422, "Event source was not found"),
        ("bridge:b1,channel:nope", 422, "Event source was not found"),
    ] {
        refused(
            wari.post(&format!(
                "/ari/events/user/e?application=owner&source={source}"
            ))
            .await,
            status,
            message,
        );
    }
    // Variables that are not an object: Asterisk 23.4.1's message as a 400 (Asterisk: 500).
    refused(
        wari.ari_with_body(
            reqwest::Method::POST,
            "/ari/events/user/e?application=owner",
            Some(json!({"variables": "x"})),
        )
        .await,
        400,
        "Error processing request",
    );

    // The variables (any JSON values) with `eventname` last make `userevent`; the
    // snapshots come channel first, then bridge, whatever the order of `source`.
    let reply = wari
        .ari_with_body(
            reqwest::Method::POST,
            "/ari/events/user/ev2?application=owner&source=bridge:b1,channel:c1",
            Some(json!({"variables": {"A": "1", "B": 2}})),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let event = owner.next_of("ChannelUserevent").await;
    assert_eq!(event["eventname"], "ev2");
    assert_eq!(event["application"], "owner");
    let keys = key_order(&event);
    assert_eq!(
        keys,
        [
            "type",
            "timestamp",
            "eventname",
            "userevent",
            "channel",
            "bridge",
            "asterisk_id",
            "application"
        ]
    );
    let userevent: Vec<(&String, &serde_json::Value)> = event["userevent"]
        .as_object()
        .expect("object")
        .iter()
        .collect();
    assert_eq!(
        userevent,
        [
            (&"A".to_string(), &json!("1")),
            (&"B".to_string(), &json!(2)),
            (&"eventname".to_string(), &json!("ev2"))
        ]
    );
    assert_eq!(event["channel"]["id"], "c1");
    assert_eq!(event["bridge"]["id"], "b1");

    // An application hears a user event sent to it about a channel it has nothing to do
    // with; the channel's own application does not hear it.
    let reply = wari
        .post("/ari/events/user/ev7?application=other&source=channel:c1")
        .await;
    assert_eq!(reply.status, 204);
    let event = other.next_of("ChannelUserevent").await;
    assert_eq!(
        (&event["eventname"], &event["channel"]["id"]),
        (&json!("ev7"), &json!("c1"))
    );
    let reply = wari.post("/ari/events/user/fence?application=owner").await;
    assert_eq!(reply.status, 204);
    let next = owner.next_of("ChannelUserevent").await;
    assert_eq!(
        next["eventname"], "fence",
        "owner heard only its own: {next}"
    );

    // Claiming: the parameters in Asterisk's words; no channel is ever broadcast here,
    // so a claim gets Asterisk's answer for a channel not in broadcast state.
    refused(
        wari.post("/ari/events/claim").await,
        400,
        "channelId parameter is required",
    );
    refused(
        wari.post("/ari/events/claim?channelId=c1").await,
        400,
        "application parameter is required",
    );
    refused(
        wari.post("/ari/events/claim?channelId=c1&application=owner")
            .await,
        404,
        "Channel not found or not in broadcast state",
    );
}
