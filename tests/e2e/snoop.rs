//! Snooping end to end: a snoop channel on the `;1` half of a Local pair hears what that
//! half receives (`spy=in`: a tone played to the `;2` half), what is sent to it
//! (`spy=out`: a tone played to the `;1` half itself) or both; a tone played on a snoop
//! channel is whispered to the target's far end (`whisper=out`: the `;2` half hears it) or
//! into what the target receives (`whisper=in`: a recording of the target holds it). The
//! snoop channel enters its application with its arguments, keeps snooping while the target
//! is bridged, ends when the target hangs up, and bad requests get 400/404/409.
//!
//! What is heard is checked by recording the snoop channel (or the Local halves) and telling
//! frequencies apart with the Goertzel filter.

use serde_json::Value;

use crate::media_support::{
    MediaApp, assert_hears, bridge, local_pair, play_tones, record, stop_all,
};
use crate::support::{EventSocket, Wari};

const DIALPLAN: &str = "\
[sn]
exten => 100,1,Answer()
 same => n,Stasis(sn)
 same => n,Hangup()
exten => wait,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
";

/// Played to the `;2` half: what the `;1` half receives.
const TO_PEER: f32 = 500.0;
/// Played to the `;1` half itself: what is sent to it.
const TO_TARGET: f32 = 1300.0;
/// A frequency nobody plays.
const NOBODY: f32 = 2300.0;

/// wari with the Local pair `t1`/`t2` in application `sn`.
async fn setup() -> MediaApp {
    let mut app = MediaApp::start("sn", DIALPLAN).await;
    local_pair(&app.wari, &mut app.ws, "sn", "Local/100@sn", "t1", "t2").await;
    app
}

/// Creates a snoop channel on `target` (`query` holds spy/whisper/snoopId) and waits for
/// its StasisStart; returns the snoop channel's snapshot.
async fn snoop(wari: &Wari, ws: &mut EventSocket, target: &str, query: &str) -> Value {
    let reply = wari
        .post(&format!("/ari/channels/{target}/snoop?app=sn&{query}"))
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.body);
    let id = reply.body["id"]
        .as_str()
        .expect("snoop channel id")
        .to_string();
    let started = ws.next_for("StasisStart", &id).await;
    assert_eq!(started["application"], "sn", "{started}");
    reply.body
}

#[tokio::test]
async fn spy_in_out_and_both_hear_the_right_directions() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    let spy_in = snoop(&wari, &mut ws, "t1", "spy=in&snoopId=spy-in").await;
    assert_eq!(spy_in["id"], "spy-in");
    assert_eq!(spy_in["state"], "Up");
    let name = spy_in["name"].as_str().unwrap_or_default();
    let suffix = name.strip_prefix("Snoop/t1-").unwrap_or_default();
    assert!(
        suffix.len() == 8 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "Snoop/<target>-<8 hex>: {name}"
    );
    snoop(&wari, &mut ws, "t1", "spy=out&snoopId=spy-out").await;
    snoop(&wari, &mut ws, "t1", "spy=both&snoopId=spy-both").await;
    for id in ["spy-in", "spy-out", "spy-both"] {
        record(&wari, &mut ws, &format!("channels/{id}"), id, "").await;
    }
    play_tones(&wari, &mut ws, &[("t2", TO_PEER), ("t1", TO_TARGET)], 800).await;
    let [spied_in, spied_out, spied_both] =
        stop_all(&wari, &mut ws, ["spy-in", "spy-out", "spy-both"]).await;

    assert_hears(
        &spied_in,
        TO_PEER,
        TO_TARGET,
        "spy=in hears what t1 receives, not what is sent to it",
    );
    assert_hears(
        &spied_out,
        TO_TARGET,
        TO_PEER,
        "spy=out hears what is sent to t1, not what it receives",
    );
    for freq in [TO_PEER, TO_TARGET] {
        assert_hears(
            &spied_both,
            freq,
            NOBODY,
            &format!("spy=both hears {freq} Hz"),
        );
    }
}

#[tokio::test]
async fn whisper_out_reaches_the_far_end_and_whisper_in_what_the_target_receives() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    const OUT: f32 = 900.0;
    const IN: f32 = 1700.0;
    snoop(&wari, &mut ws, "t1", "whisper=out&snoopId=w-out").await;
    snoop(&wari, &mut ws, "t1", "whisper=in&snoopId=w-in").await;
    // t2 reads what t1 writes (t1's far end); a recording of t1 holds what t1 receives.
    record(&wari, &mut ws, "channels/t2", "far-end", "").await;
    record(&wari, &mut ws, "channels/t1", "target-in", "").await;
    play_tones(&wari, &mut ws, &[("w-out", OUT), ("w-in", IN)], 800).await;
    let [far_end, target_in] = stop_all(&wari, &mut ws, ["far-end", "target-in"]).await;
    assert_hears(&far_end, OUT, IN, "the far end hears the out whisper only");
    assert_hears(
        &target_in,
        IN,
        OUT,
        "the target receives the in whisper only",
    );
}

#[tokio::test]
async fn a_snoop_channel_lives_in_its_app_survives_bridging_and_ends_with_its_target() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    let reply = wari
        .post("/ari/channels/t1/snoop/watcher?app=sn&spy=in&appArgs=one,two")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["id"], "watcher");
    // Asterisk 23.4.1: the application hears StasisStart first, no ChannelCreated.
    let events = ws
        .until(|e| e["type"] == "StasisStart" && e["channel"]["id"] == "watcher")
        .await;
    let about_it: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["channel"]["id"] == "watcher")
        .map(|e| &e["type"])
        .collect();
    assert_eq!(about_it, ["StasisStart"], "{events:?}");
    let started = events.last().expect("StasisStart");
    assert_eq!(started["args"], serde_json::json!(["one", "two"]));
    assert_eq!(started["channel"]["state"], "Up");
    assert_eq!(started["channel"]["dialplan"]["app_name"], "Stasis");
    let listed = wari.get("/ari/channels/watcher").await;
    assert_eq!(listed.status, 200);

    // The target joins a bridge: the snoop still hears what it receives.
    bridge(&wari, &mut ws, "br", &["t1"]).await;
    record(&wari, &mut ws, "channels/watcher", "bridged", "").await;
    play_tones(&wari, &mut ws, &[("t2", TO_PEER)], 800).await;
    let [bridged] = stop_all(&wari, &mut ws, ["bridged"]).await;
    assert_hears(&bridged, TO_PEER, NOBODY, "still snooping in a bridge");

    // Hanging up a snoop channel leaves the target alone. (Asterisk 23.4.1: the
    // application hears a snoop channel from StasisStart to StasisEnd only.)
    snoop(&wari, &mut ws, "t1", "spy=out&snoopId=short").await;
    assert_eq!(wari.delete("/ari/channels/short").await.status, 204);
    ws.next_for("StasisEnd", "short").await;
    assert_eq!(wari.get("/ari/channels/t1").await.status, 200);

    // The target hangs up: its snoop channel goes too.
    assert_eq!(wari.delete("/ari/channels/t1").await.status, 204);
    ws.next_for("StasisEnd", "watcher").await;
    crate::support::eventually(
        "the snoop channel is gone",
        std::time::Duration::from_secs(10),
        || async {
            match wari.get("/ari/channels/watcher").await.status.as_u16() {
                404 => Ok(()),
                other => Err(other.to_string()),
            }
        },
    )
    .await;
}

#[tokio::test]
async fn a_target_outside_stasis_can_be_snooped_and_bad_requests_are_refused() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    // A channel running the dialplan, in no application.
    let reply = wari
        .post("/ari/channels?endpoint=Test/phone&context=sn&extension=wait&channelId=dp")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let snooped = snoop(&wari, &mut ws, "dp", "spy=both&whisper=both").await;
    assert!(
        snooped["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Snoop/dp-")),
        "{snooped}"
    );

    let cases = [
        (
            "/ari/channels/t1/snoop?app=sn",
            400,
            "Direction must be specified for at least spy or whisper",
        ),
        (
            "/ari/channels/t1/snoop?app=sn&spy=none&whisper=none",
            400,
            "Direction must be specified for at least spy or whisper",
        ),
        (
            "/ari/channels/t1/snoop?app=sn&spy=sideways",
            400,
            "Invalid direction specified for spy",
        ),
        (
            "/ari/channels/t1/snoop?app=sn&spy=in&whisper=IN",
            400,
            "Invalid direction specified for whisper",
        ),
        (
            "/ari/channels/t1/snoop?spy=in",
            400,
            "Application name is required",
        ),
        (
            "/ari/channels/nosuch/snoop?app=sn&spy=in",
            404,
            "Channel not found",
        ),
        (
            "/ari/channels/t1/snoop?app=sn&spy=in&snoopId=t2",
            409,
            "Channel with given unique ID already exists",
        ),
        (
            "/ari/channels/t1/snoop/t1?app=sn&whisper=out",
            409,
            "Channel with given unique ID already exists",
        ),
    ];
    for (path, status, message) in cases {
        let reply = wari.post(path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert_eq!(reply.body["message"], message, "{path}");
    }
    // Refused requests made no channel: t1, t2, dp and the one snoop channel remain.
    let channels = wari.get("/ari/channels").await;
    assert_eq!(
        channels.body.as_array().map(Vec::len),
        Some(4),
        "{}",
        channels.body
    );
}
