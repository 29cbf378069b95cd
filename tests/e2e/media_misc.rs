//! Media rules end to end: channel recordings and bridges exclude each other, `beep`
//! sounds before a recording, `terminateOn` ends bridge recordings, the final events of a
//! destroyed bridge's media still reach the application, DTMF travels with the audio, and
//! the dialplan's Playback() plays through the media path.
//!
//! Participants are Local pairs `<name>1`/`<name>2` in Stasis: what is played to one half
//! is what the other half reads (and records).

use crate::media_support::{start_with_data_dir, stored_samples};
use crate::support::{EventSocket, Wari};

const DIALPLAN: &str = "\
[mm]
exten => _X.,1,Answer()
 same => n,Stasis(mm)
 same => n,Hangup()
";

struct Setup {
    wari: Wari,
    ws: EventSocket,
    _data: tempfile::TempDir,
}

/// wari with Local pairs `<name>1`/`<name>2` in Stasis application `mm`.
async fn setup(names: &[&str]) -> Setup {
    let data = tempfile::tempdir().expect("temp dir");
    let wari = start_with_data_dir(data.path(), DIALPLAN);
    let mut ws = EventSocket::connect(&wari, "app=mm&api_key=asterisk:secret").await;
    for name in names {
        let reply = wari
            .post(&format!(
                "/ari/channels?endpoint=Local/100@mm&app=mm&channelId={name}1&otherChannelId={name}2"
            ))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for _ in 0..names.len() * 2 {
        ws.next_of("StasisStart").await;
    }
    Setup {
        wari,
        ws,
        _data: data,
    }
}

/// Creates mixing bridge `id` holding `members`.
async fn bridge(wari: &Wari, ws: &mut EventSocket, id: &str, members: &[&str]) {
    let reply = wari.post(&format!("/ari/bridges/{id}?type=mixing")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = wari
        .post(&format!(
            "/ari/bridges/{id}/addChannel?channel={}",
            members.join(",")
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    for _ in members {
        ws.next_of("ChannelEnteredBridge").await;
    }
}

/// Starts recording `path` (a channel or a bridge) as wav recording `name`.
async fn record(wari: &Wari, ws: &mut EventSocket, path: &str, name: &str, extra: &str) {
    let reply = wari
        .post(&format!("/ari/{path}/record?name={name}&format=wav{extra}"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let started = ws.next_of("RecordingStarted").await;
    assert_eq!(started["recording"]["name"], name);
}

/// Stops live recording `name` and waits until it has finished.
async fn stop(wari: &Wari, ws: &mut EventSocket, name: &str) {
    let reply = wari
        .post(&format!("/ari/recordings/live/{name}/stop"))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let done = ws.next_of("RecordingFinished").await;
    assert_eq!(done["recording"]["name"], name, "{done}");
    assert_eq!(done["recording"]["state"], "done", "{done}");
}

#[tokio::test]
async fn a_bridged_channel_cannot_be_recorded_and_a_recorded_channel_cannot_be_bridged() {
    let Setup {
        wari,
        mut ws,
        _data,
    } = setup(&["a"]).await;
    bridge(&wari, &mut ws, "mix", &["a1"]).await;

    // Accepted, then failed: nothing is written.
    let reply = wari
        .post("/ari/channels/a1/record?name=bridged&format=wav")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["state"], "queued", "{}", reply.body);
    let failed = ws.next_of("RecordingFailed").await;
    assert_eq!(failed["recording"]["name"], "bridged", "{failed}");
    assert_eq!(failed["recording"]["state"], "failed", "{failed}");
    assert_eq!(
        failed["recording"]["cause"], "Cannot record channel while in bridge",
        "{failed}"
    );
    assert_eq!(wari.get("/ari/recordings/live/bridged").await.status, 404);
    assert_eq!(wari.get("/ari/recordings/stored/bridged").await.status, 404);
    assert_eq!(
        wari.get("/ari/recordings/stored").await.body,
        serde_json::json!([]),
        "no file at all"
    );

    // While a2 is recorded it cannot join; once stopped it can.
    record(&wari, &mut ws, "channels/a2", "solo", "").await;
    let refused = wari.post("/ari/bridges/mix/addChannel?channel=a2").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(
        refused.body["message"], "Channel is being recorded: a2",
        "{}",
        refused.body
    );
    let members = wari.get("/ari/bridges/mix").await;
    assert_eq!(members.body["channels"], serde_json::json!(["a1"]));
    stop(&wari, &mut ws, "solo").await;
    let reply = wari.post("/ari/bridges/mix/addChannel?channel=a2").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let entered = ws.next_of("ChannelEnteredBridge").await;
    assert_eq!(entered["channel"]["id"], "a2");
    assert!(
        !stored_samples(&wari, "solo").await.is_empty(),
        "the stopped recording is kept"
    );
}
