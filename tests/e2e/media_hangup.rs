//! A channel that hangs up while it is recorded or played to: the application hears
//! `RecordingFinished` / `PlaybackFinished` before the channel's StasisEnd, and the
//! recording is stored complete (no `.partial` file left or listed).
//!
//! Local pairs `<name>1`/`<name>2` are in Stasis application `mh`: what is played to one
//! half is what the other half reads (and records). Test phones hang up by themselves
//! with the `hangup=MS` dial option.

use serde_json::Value;

use crate::media_support::{MediaApp, local_pairs, play_through, record, stored_samples};
use crate::support::{EventSocket, Wari};

const DIALPLAN: &str = "\
[mh]
exten => _X.,1,Answer()
 same => n,Stasis(mh)
 same => n,Hangup()
";

/// wari with Local pairs `<name>1`/`<name>2` in Stasis application `mh`.
async fn setup(names: &[&str]) -> MediaApp {
    let mut app = MediaApp::start("mh", DIALPLAN).await;
    local_pairs(&app.wari, &mut app.ws, "mh", "Local/100@mh", names).await;
    app
}

/// The events up to and including channel `id`'s StasisEnd.
async fn events_until_stasis_end(ws: &mut EventSocket, id: &str) -> Vec<Value> {
    ws.until(|e| e["type"] == "StasisEnd" && e["channel"]["id"] == id)
        .await
}

/// The one event of type `kind` among `events`.
fn the_one<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    let found: Vec<&Value> = events.iter().filter(|e| e["type"] == kind).collect();
    assert_eq!(found.len(), 1, "one {kind} before StasisEnd: {events:?}");
    found[0]
}

/// Every file under `dir`, recursively (bounded depth).
fn files_under(dir: &std::path::Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && depth > 0 {
            files_under(&path, depth - 1, out);
        } else {
            out.push(path);
        }
    }
}

/// The stored recordings are exactly `names` (as wav), each is a `.wav` file in wari's
/// recordings directory, and no `.partial` file is on disk.
async fn stored_exactly(wari: &Wari, names: &[&str]) {
    let listed = wari.get("/ari/recordings/stored").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let mut listed: Vec<String> = listed
        .body
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| {
            assert_eq!(r["format"], "wav", "{r}");
            r["name"].as_str().expect("name").to_string()
        })
        .collect();
    listed.sort();
    let mut wanted: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    wanted.sort();
    assert_eq!(listed, wanted);
    let recordings = wari
        .data_dir()
        .expect("a data directory")
        .join("recordings");
    let mut files = Vec::new();
    files_under(&recordings, 4, &mut files);
    for name in names {
        assert!(
            files.contains(&recordings.join(format!("{name}.wav"))),
            "{name}.wav is on disk: {files:?}"
        );
    }
    assert!(
        files
            .iter()
            .all(|f| !f.to_string_lossy().ends_with(".partial")),
        "no partial file is left: {files:?}"
    );
}

#[tokio::test]
async fn recording_of_a_hung_up_channel_finishes_before_its_stasis_end() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["a"]).await;
    record(&wari, &mut ws, "channels/a1", "voicemail", "").await;
    // The caller (a2's side) says something for a second and a half, then hangs up.
    play_through(&wari, &mut ws, "a2", "tone:!500/1500").await;

    let reply = wari.delete("/ari/channels/a1").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let events = events_until_stasis_end(&mut ws, "a1").await;
    let done = the_one(&events, "RecordingFinished");
    assert_eq!(done["recording"]["name"], "voicemail", "{done}");
    assert_eq!(done["recording"]["state"], "done", "{done}");
    assert_eq!(done["recording"]["target_uri"], "channel:a1", "{done}");
    let duration = done["recording"]["duration"].as_u64().expect("duration");
    assert!(
        (1..=10).contains(&duration),
        "at least the 1.5 s said was recorded: {duration} s"
    );
    assert_eq!(wari.get("/ari/recordings/live/voicemail").await.status, 404);

    stored_exactly(&wari, &["voicemail"]).await;
    let stored = wari.get("/ari/recordings/stored/voicemail").await;
    assert_eq!(stored.status, 200, "{}", stored.body);
    let samples = stored_samples(&wari, "voicemail").await;
    assert!(
        samples.len() >= 8000 * 3 / 2,
        "the whole message is kept: {} samples",
        samples.len()
    );
    let loud = samples.iter().filter(|s| s.unsigned_abs() > 1000).count();
    assert!(
        loud > 4000,
        "the tone is in the recording: {loud} loud samples"
    );
}

#[tokio::test]
async fn playback_on_a_hung_up_channel_finishes_before_its_stasis_end() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["b"]).await;
    // A tone plays until stopped: only the hangup ends it.
    let reply = wari
        .post("/ari/channels/b1/play/endless?media=tone:ring")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let started = ws.next_of("PlaybackStarted").await;
    assert_eq!(started["playback"]["id"], "endless", "{started}");

    let reply = wari.delete("/ari/channels/b1").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let events = events_until_stasis_end(&mut ws, "b1").await;
    let finished = the_one(&events, "PlaybackFinished");
    assert_eq!(finished["playback"]["id"], "endless", "{finished}");
    assert_eq!(finished["playback"]["state"], "done", "{finished}");
    assert_eq!(
        finished["playback"]["target_uri"], "channel:b1",
        "{finished}"
    );
    assert_eq!(wari.get("/ari/playbacks/endless").await.status, 404);
    stored_exactly(&wari, &[]).await;
}

#[tokio::test]
async fn a_test_phone_that_hangs_up_while_recorded_leaves_a_stored_recording() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = MediaApp::start("mh", DIALPLAN).await;
    let reply = wari
        .post("/ari/channels?endpoint=Test/caller/hangup=1500&app=mh&channelId=phone")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    ws.next_for("StasisStart", "phone").await;
    record(&wari, &mut ws, "channels/phone", "phone-msg", "").await;
    let reply = wari.post("/ari/channels/phone/play?media=tone:ring").await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    // Nobody hangs up from here: the phone does, by itself.
    let events = events_until_stasis_end(&mut ws, "phone").await;
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "ChannelHangupRequest" && e["channel"]["id"] == "phone"),
        "the phone hung up: {events:?}"
    );
    let done = the_one(&events, "RecordingFinished");
    assert_eq!(done["recording"]["name"], "phone-msg", "{done}");
    assert_eq!(done["recording"]["state"], "done", "{done}");
    let duration = done["recording"]["duration"].as_u64().expect("duration");
    assert!(
        (1..=10).contains(&duration),
        "the phone was recorded until it hung up: {duration} s"
    );
    let played = the_one(&events, "PlaybackFinished");
    assert_eq!(played["playback"]["state"], "done", "{played}");
    ws.next_for("ChannelDestroyed", "phone").await;

    stored_exactly(&wari, &["phone-msg"]).await;
    let samples = stored_samples(&wari, "phone-msg").await;
    assert!(
        samples.len() >= 8000,
        "at least a second recorded: {} samples",
        samples.len()
    );
}
