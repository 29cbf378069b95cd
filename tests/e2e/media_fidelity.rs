//! Playbacks and recordings as Asterisk 23.4.1 reports them: a list's `next_media_uri`
//! through to PlaybackFinished, a reused playback id, and the `Location` of a new
//! playback or recording.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1 (a Local channel
//! into an answer-and-wait extension, in Stasis); the comments quote it.

use serde_json::json;

use crate::media_support::{MediaApp, write_wav};
use crate::support::{EventSocket, Wari, client};

const APP: &str = "fidmedia";

const DIALPLAN: &str = "\
[default]
exten => 200,1,NoOp(answer-and-wait target)
 same => n,Answer()
 same => n,Wait(3600)
 same => n,Hangup()
";

/// wari with sounds `short` (0.1 s) and `long` (20 s) and channel `c1` in the
/// application.
async fn setup() -> MediaApp {
    let mut app = MediaApp::start_with(APP, DIALPLAN, |dir| {
        write_wav(&dir.join("sounds/en/short.wav"), vec![1000; 800]);
        write_wav(&dir.join("sounds/en/long.wav"), vec![1000; 160_000]);
    })
    .await;
    let MediaApp { wari, ws, .. } = &mut app;
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Local/200@default&app={APP}&channelId=c1"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    ws.next_for("StasisStart", "c1").await;
    app
}

/// Asserts the status and `message` of an error answer.
#[track_caller]
fn refused(reply: crate::support::Reply, status: u16, message: &str) {
    assert_eq!(
        (reply.status.as_u16(), reply.body["message"].as_str()),
        (status, Some(message)),
        "{}",
        reply.body
    );
}

/// The playback events of `id` up to its PlaybackFinished, as `type state media_uri
/// next_media_uri`.
async fn playback_events(ws: &mut EventSocket, id: &str) -> Vec<String> {
    let events = ws
        .until(|e| e["type"] == "PlaybackFinished" && e["playback"]["id"] == id)
        .await;
    events
        .iter()
        .filter(|e| e["playback"]["id"] == id)
        .map(|e| {
            let p = &e["playback"];
            format!(
                "{} {} {} {}",
                e["type"].as_str().unwrap_or_default(),
                p["state"].as_str().unwrap_or_default(),
                p["media_uri"].as_str().unwrap_or_default(),
                p["next_media_uri"].as_str().unwrap_or("-"),
            )
        })
        .collect()
}

/// `POST` and the response's `Location` header.
async fn location_of(wari: &Wari, path: &str) -> (u16, Option<String>) {
    let response = client()
        .post(wari.url(path))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("request");
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (response.status().as_u16(), location)
}

#[tokio::test]
async fn a_media_list_reports_the_next_item_until_the_playback_finishes() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    // Asterisk 23.4.1, `media=sound:beep,sound:nosuch,sound:beep`: each item starts with
    // PlaybackStarted showing the next one, ends with PlaybackContinuing while there is a
    // next one; the last shows none, also in PlaybackFinished.
    let reply = wari
        .post("/ari/channels/c1/play/list?media=sound:short,sound:short")
        .await;
    assert_eq!(
        reply.body["next_media_uri"], "sound:short",
        "{}",
        reply.body
    );
    assert_eq!(
        playback_events(&mut ws, "list").await,
        [
            "PlaybackStarted playing sound:short sound:short",
            "PlaybackContinuing continuing sound:short sound:short",
            "PlaybackStarted playing sound:short -",
            "PlaybackFinished done sound:short -",
        ]
    );
    // Stopped during the first of two items (the golden capture: `sound:hello-world,
    // sound:beep` stopped at once): PlaybackFinished still shows the next item.
    let reply = wari
        .post("/ari/channels/c1/play/stopped?media=sound:long,sound:short")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let started = ws.next_of("PlaybackStarted").await;
    assert_eq!(started["playback"]["id"], "stopped");
    assert_eq!(wari.delete("/ari/playbacks/stopped").await.status, 204);
    let finished = ws.next_of("PlaybackFinished").await;
    assert_eq!(
        finished["playback"],
        json!({
            "id": "stopped",
            "media_uri": "sound:long",
            "next_media_uri": "sound:short",
            "target_uri": "channel:c1",
            "language": "en",
            "state": "done",
        })
    );
}

#[tokio::test]
async fn a_reused_playback_id_plays_and_reports_twice() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    // Asterisk 23.4.1 accepts both (201), plays both, reports both, and
    // /playbacks/{id} finds the first until it is over.
    for _ in 0..2 {
        let reply = wari
            .post("/ari/channels/c1/play/twice?media=sound:short")
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    let mut finished = 0;
    let events = ws
        .until(|e| {
            finished += usize::from(e["type"] == "PlaybackFinished");
            finished == 2
        })
        .await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["playback"]["id"] == "twice")
        .filter_map(|e| e["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "PlaybackStarted",
            "PlaybackFinished",
            "PlaybackStarted",
            "PlaybackFinished"
        ]
    );
    refused(
        wari.get("/ari/playbacks/twice").await,
        404,
        "Playback not found",
    );
}

#[tokio::test]
async fn new_playbacks_and_recordings_are_located_as_asterisk_locates_them() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    // Asterisk 23.4.1: `Location: /ari/playbacks/hd-be-pb1` (the id as it is) and
    // `Location: /ari/recordings/live/hd-rc-dir%2Fr%201` (the name encoded but for
    // letters, digits and -_.!~*'()).
    assert_eq!(
        location_of(&wari, "/ari/channels/c1/play/pb-1.x?media=sound:short").await,
        (201, Some("/ari/playbacks/pb-1.x".to_string()))
    );
    ws.next_of("PlaybackFinished").await;
    assert_eq!(
        location_of(
            &wari,
            "/ari/channels/c1/record?name=dir/r%201-(x)&format=wav&maxDurationSeconds=1"
        )
        .await,
        (
            201,
            Some("/ari/recordings/live/dir%2Fr%201-(x)".to_string())
        )
    );
    ws.next_of("RecordingFinished").await;
}
