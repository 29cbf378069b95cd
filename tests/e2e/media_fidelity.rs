//! Playbacks, recordings and sounds as Asterisk 23.4.1 reports them: a list's
//! `next_media_uri` through to PlaybackFinished, a reused playback id, the `Location` of a
//! new playback or recording, the order and wording of a recording request's checks, a
//! canceled recording's end, the answers of stored recordings' copy, and the sounds'
//! languages and formats.
//!
//! Every expected value was observed on the reference Asterisk 23.4.1 (a Local channel
//! into an answer-and-wait extension, in Stasis); the comments quote it.

use serde_json::{Value, json};

use crate::media_support::{MediaApp, write_wav};
use crate::support::{EventSocket, Wari, client, key_order, refused};

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

#[tokio::test]
async fn a_recording_request_is_checked_in_asterisks_order_and_words() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    let record = |query: &str| {
        let wari = &wari;
        let path = format!("/ari/channels/c1/record?{query}");
        async move { wari.post(&path).await }
    };
    // Negative durations before the channel, then the channel, then the options, the
    // format, and last the name.
    refused(
        wari.post("/ari/channels/nope/record?name=r&format=wav&maxSilenceSeconds=-1")
            .await,
        400,
        "max_silence_seconds cannot be negative",
    );
    refused(
        record("name=r&format=wav&maxDurationSeconds=-1").await,
        400,
        "max_duration_seconds cannot be negative",
    );
    refused(
        wari.post("/ari/channels/nope/record?name=r&format=wav")
            .await,
        404,
        "Channel not found",
    );
    refused(
        record("name=r&format=bogus&ifExists=bogus").await,
        400,
        "ifExists invalid",
    );
    refused(
        record("name=r&format=bogus&terminateOn=bogus").await,
        400,
        "terminateOn invalid",
    );
    let unknown = "specified format is unknown on this system";
    refused(record("").await, 422, unknown);
    refused(record("name=r").await, 422, unknown);
    refused(record("name=r&format=bogus").await, 422, unknown);
    refused(record("format=wav").await, 400, "Error parsing request");
    refused(
        record("name=..%2Fr&format=wav").await,
        400,
        "Error parsing request",
    );

    // A live name, or a stored one in any format with ifExists=fail (the default).
    let live = record("name=taken&format=wav").await;
    assert_eq!(live.status, 201, "{}", live.body);
    assert_eq!(
        live.body,
        json!({"name": "taken", "format": "wav", "state": "queued", "target_uri": "channel:c1"})
    );
    ws.next_of("RecordingStarted").await;
    let exists = "Recording 'taken' already exists and can not be overwritten";
    refused(record("name=taken&format=sln").await, 409, exists);
    // Canceled: RecordingFinished says `done`, and nothing is stored.
    assert_eq!(wari.delete("/ari/recordings/live/taken").await.status, 204);
    let finished = ws.next_of("RecordingFinished").await;
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    refused(
        wari.get("/ari/recordings/stored/taken").await,
        404,
        "Recording not found",
    );
    // Stopped: stored, and then a name no recording may take again without ifExists.
    let kept = record("name=kept&format=wav").await;
    assert_eq!(kept.status, 201, "{}", kept.body);
    ws.next_of("RecordingStarted").await;
    assert_eq!(
        wari.post("/ari/recordings/live/kept/stop").await.status,
        204
    );
    ws.next_of("RecordingFinished").await;
    refused(
        record("name=kept&format=sln").await,
        409,
        "Recording 'kept' already exists and can not be overwritten",
    );

    // Copying it: the source first, then the destination.
    let copy = |from: &str, query: &str| {
        let wari = &wari;
        let path = format!("/ari/recordings/stored/{from}/copy{query}");
        async move { wari.post(&path).await }
    };
    refused(
        copy("nope", "?destinationRecordingName=x").await,
        404,
        "Recording not found",
    );
    refused(
        copy("kept", "").await,
        400,
        "Invalid destination recording name",
    );
    refused(
        copy("kept", "?destinationRecordingName=..%2Fx").await,
        403,
        "Destination file path is forbidden",
    );
    let copied = copy("kept", "?destinationRecordingName=again").await;
    assert_eq!(copied.body, json!({"name": "again", "format": "wav"}));
    refused(
        copy("kept", "?destinationRecordingName=again").await,
        409,
        "A recording with the same name already exists on the system",
    );
    let stored: Vec<Value> = wari
        .get("/ari/recordings/stored")
        .await
        .body
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        stored,
        [
            json!({"name": "again", "format": "wav"}),
            json!({"name": "kept", "format": "wav"})
        ]
    );
}

#[tokio::test]
async fn sounds_are_listed_by_language_and_codec_as_asterisk_lists_them() {
    // A sounds directory laid out as Debian's: wav and gsm prompts per language.
    let mut app = MediaApp::start_with(APP, DIALPLAN, |dir| {
        for (path, samples) in [
            ("sounds/en/hello.wav", 800),
            ("sounds/en_US/hello.wav", 800),
            ("sounds/en/digits/1.wav", 800),
        ] {
            write_wav(&dir.join(path), vec![1000; samples]);
        }
        for path in ["sounds/en/hello.gsm", "sounds/fr/only.gsm"] {
            std::fs::create_dir_all(dir.join(path).parent().expect("parent")).expect("dir");
            std::fs::write(dir.join(path), [0u8; 33]).expect("gsm file");
        }
    })
    .await;
    let MediaApp { wari, ws, .. } = &mut app;
    // Asterisk 23.4.1 (`GET /sounds/hello-world`): no `text`, a pair per language and
    // codec, `.wav` files as `slin`, `.gsm` as `gsm`.
    let hello = wari.get("/ari/sounds/hello").await;
    assert_eq!(
        hello.body,
        json!({
            "id": "hello",
            "formats": [
                {"language": "en", "format": "gsm"},
                {"language": "en", "format": "slin"},
                {"language": "en_US", "format": "slin"},
            ]
        })
    );
    // Names with `/` are one path segment; unknown ones are 404 `Sound not found`.
    assert_eq!(
        wari.get("/ari/sounds/digits%2F1").await.body["id"],
        "digits/1"
    );
    refused(wari.get("/ari/sounds/nope").await, 404, "Sound not found");
    // Filters match exactly: `format=wav` matches nothing (Asterisk 23.4.1: 404 `No sounds
    // found that matched the query`), `format=slin` the wav files.
    let none = "No sounds found that matched the query";
    refused(wari.get("/ari/sounds?format=wav").await, 404, none);
    refused(wari.get("/ari/sounds?lang=de").await, 404, none);
    let ids = |reply: crate::support::Reply| -> Vec<String> {
        reply
            .body
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["id"].as_str().map(str::to_string))
            .collect()
    };
    assert_eq!(
        ids(wari.get("/ari/sounds?format=slin").await),
        ["digits/1", "hello"]
    );
    assert_eq!(
        ids(wari.get("/ari/sounds?format=gsm").await),
        ["hello", "only"]
    );
    assert_eq!(ids(wari.get("/ari/sounds?lang=fr").await), ["only"]);
    // wari cannot decode gsm: a sound it has only in gsm is listed but fails to play.
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint=Local/200@default&app={APP}&channelId=c1"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    ws.next_for("StasisStart", "c1").await;
    let reply = wari
        .post("/ari/channels/c1/play/gsm?media=sound:only&lang=fr")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let finished = ws.next_of("PlaybackFinished").await;
    assert_eq!(finished["playback"]["state"], "failed", "{finished}");
}

#[tokio::test]
async fn a_recording_that_ends_on_silence_reports_talking_and_silence() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup().await;
    // Asterisk 23.4.1 (maxSilenceSeconds given): RecordingFinished has duration,
    // talking_duration and silence_duration; without it, only duration.
    let reply = wari
        .post("/ari/channels/c1/record?name=quiet&format=wav&maxSilenceSeconds=1")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let finished = ws.next_of("RecordingFinished").await;
    let recording = &finished["recording"];
    assert_eq!(recording["name"], "quiet", "{finished}");
    let keys = key_order(recording);
    assert_eq!(
        keys,
        [
            "name",
            "format",
            "state",
            "target_uri",
            "duration",
            "talking_duration",
            "silence_duration"
        ]
    );
    // The channel sends silence: the recording ends after a second of it.
    assert_eq!(recording["duration"], 1, "{finished}");
    assert_eq!(recording["talking_duration"], 0, "{finished}");
    assert_eq!(recording["silence_duration"], 1, "{finished}");

    let reply = wari
        .post("/ari/channels/c1/record?name=timed&format=wav&maxDurationSeconds=1")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let finished = ws.next_of("RecordingFinished").await;
    assert_eq!(finished["recording"]["name"], "timed");
    assert!(
        finished["recording"].get("talking_duration").is_none(),
        "{finished}"
    );
}
