//! Media rules end to end: channel recordings and bridges exclude each other, `beep`
//! sounds before a recording, `terminateOn` ends bridge recordings, the final events of a
//! destroyed bridge's media still reach the application, DTMF travels with the audio,
//! the dialplan's Playback() plays through the media path, and mute silences the muted
//! direction until unmuted.
//!
//! Participants are Local pairs `<name>1`/`<name>2` in Stasis: what is played to one half
//! is what the other half reads (and records).

use crate::media_support::{
    MediaApp, assert_hears, bridge, hears, keys_heard, keys_received, local_pairs, play_through,
    record, recordings_finished, sine, stop, stop_all, stored_samples, write_wav,
};
use crate::support::EventSocket;

const DIALPLAN: &str = "\
[mm]
exten => _X.,1,Answer()
 same => n,Stasis(mm)
 same => n,Hangup()
";

/// wari with Local pairs `<name>1`/`<name>2` in Stasis application `mm`.
async fn setup(names: &[&str]) -> MediaApp {
    let mut app = MediaApp::start("mm", DIALPLAN).await;
    local_pairs(&app.wari, &mut app.ws, "mm", "Local/100@mm", names).await;
    app
}

#[tokio::test]
async fn a_bridged_channel_cannot_be_recorded_and_a_recorded_channel_cannot_be_bridged() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
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
        // Asterisk 23.4.1's message.
        refused.body["message"],
        "Channel a2 currently recording",
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

#[tokio::test]
async fn beep_sounds_to_the_target_before_recording_and_is_not_recorded() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["a", "b", "c"]).await;

    // Channel: a2 is recorded with a beep; a1 (which reads what a2 writes) hears it.
    record(&wari, &mut ws, "channels/a1", "a-heard", "").await;
    record(&wari, &mut ws, "channels/a2", "a-beeped", "&beep=true").await;
    // 600 ms of 500 Hz toward a2: longer than the beep, so the recording holds some of it.
    play_through(&wari, &mut ws, "a1", "tone:!500/600").await;
    let [heard, beeped] = stop_all(&wari, &mut ws, ["a-heard", "a-beeped"]).await;
    assert_hears(
        &heard,
        1000.0,
        2300.0,
        "the other half hears the 1 kHz beep",
    );
    assert_hears(
        &beeped,
        500.0,
        1000.0,
        "the recording holds what it heard after the beep, not the beep",
    );

    // The recording begins after the beep: one second recorded takes longer than that.
    let reply = wari
        .post("/ari/channels/a2/record?name=a-timed&format=wav&beep=true&maxDurationSeconds=1")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    ws.next_of("RecordingStarted").await;
    let began = std::time::Instant::now();
    recordings_finished(&mut ws, &["a-timed"]).await;
    let took = began.elapsed();
    assert!(
        took >= std::time::Duration::from_millis(1150),
        "1 s recorded after a 250 ms beep took only {took:?}"
    );
    assert_eq!(stored_samples(&wari, "a-timed").await.len(), 8000);

    // Bridge: every member hears the beep, the bridge recording does not hold it.
    bridge(&wari, &mut ws, "mix", &["b1", "c1"]).await;
    record(&wari, &mut ws, "channels/b2", "b-heard", "").await;
    record(&wari, &mut ws, "bridges/mix", "mix-beeped", "&beep=true").await;
    play_through(&wari, &mut ws, "c2", "tone:!500/600").await;
    let [heard, mixed] = stop_all(&wari, &mut ws, ["b-heard", "mix-beeped"]).await;
    assert_hears(&heard, 1000.0, 2300.0, "a member hears the beep");
    assert_hears(
        &mixed,
        500.0,
        1000.0,
        "the bridge recording holds the member, not the beep",
    );
}

/// Records a1 (which reads what is played to a2) while a 500 Hz tone plays to a2, and
/// returns what a1 read.
async fn a1_reads_during_a_tone(app: &mut MediaApp, name: &str) -> Vec<i16> {
    record(&app.wari, &mut app.ws, "channels/a1", name, "").await;
    play_through(&app.wari, &mut app.ws, "a2", "tone:!500/400").await;
    let [heard] = stop_all(&app.wari, &mut app.ws, [name]).await;
    assert!(
        heard.len() >= 3200,
        "{name}: 400 ms recorded, got {}",
        heard.len()
    );
    heard
}

#[tokio::test]
async fn mute_silences_its_direction_until_unmuted() {
    let mut app = setup(&["a"]).await;
    let mute = async |wari: &crate::support::Wari, method: reqwest::Method, query: &str| {
        let reply = wari.ari(method, &format!("/ari/channels/{query}")).await;
        assert_eq!(reply.status, 204, "{query}: {}", reply.body);
    };

    // Muted inbound, a1 reads nothing of what reaches it.
    mute(&app.wari, reqwest::Method::POST, "a1/mute?direction=in").await;
    let heard = a1_reads_during_a_tone(&mut app, "muted-in").await;
    assert!(heard.iter().all(|&s| s == 0), "a1 muted inbound read sound");

    // Muted outbound, nothing played to a2 leaves it, so a1 reads nothing either.
    mute(&app.wari, reqwest::Method::DELETE, "a1/mute?direction=in").await;
    mute(&app.wari, reqwest::Method::POST, "a2/mute?direction=out").await;
    let heard = a1_reads_during_a_tone(&mut app, "muted-out").await;
    assert!(
        heard.iter().all(|&s| s == 0),
        "a2 muted outbound sent sound"
    );

    // Unmuted (both directions, of which only out was set), the tone comes through.
    mute(&app.wari, reqwest::Method::DELETE, "a2/mute?direction=both").await;
    let heard = a1_reads_during_a_tone(&mut app, "unmuted").await;
    assert_hears(&heard, 500.0, 2300.0, "a1 hears a2's tone once unmuted");
}

#[tokio::test]
async fn a_digit_from_any_bridge_member_ends_a_bridge_recording_on_terminate_on() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["b", "c"]).await;
    bridge(&wari, &mut ws, "mix", &["b1", "c1"]).await;
    record(
        &wari,
        &mut ws,
        "bridges/mix",
        "until-pound",
        "&terminateOn=%23",
    )
    .await;
    // c2 sends "1#" to c1, the member: only '#' ends the recording.
    let reply = wari.post("/ari/channels/c2/dtmf?dtmf=1%23").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let events = ws.until(|e| e["type"] == "RecordingFinished").await;
    let digits: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "ChannelDtmfReceived" && e["channel"]["id"] == "c1")
        .map(|e| e["digit"].as_str().unwrap_or_default())
        .collect();
    let finished = events.last().expect("the recording ends");
    assert_eq!(digits, ["1", "#"], "ended by '#', not before");
    assert_eq!(finished["recording"]["name"], "until-pound", "{finished}");
    assert_eq!(finished["recording"]["state"], "done", "{finished}");
    assert_eq!(
        wari.get("/ari/recordings/stored/until-pound").await.status,
        200
    );
}

#[tokio::test]
async fn a_destroyed_bridge_still_reports_the_end_of_its_recording_and_playback() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["b"]).await;
    bridge(&wari, &mut ws, "mix", &["b1"]).await;
    record(&wari, &mut ws, "bridges/mix", "until-destroyed", "").await;
    let reply = wari
        .post("/ari/bridges/mix/play/long?media=tone:!700/10000")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    ws.next_of("PlaybackStarted").await;
    assert_eq!(wari.delete("/ari/bridges/mix").await.status, 204);
    let mut awaited = vec!["RecordingFinished", "PlaybackFinished"];
    let events = ws
        .until(|e| {
            awaited.retain(|kind| e["type"] != *kind);
            awaited.is_empty()
        })
        .await;
    let last_of = |kind: &str| events.iter().rfind(|e| e["type"] == kind);
    let recording =
        last_of("RecordingFinished").expect("RecordingFinished after the bridge is gone");
    assert_eq!(recording["recording"]["name"], "until-destroyed");
    assert_eq!(recording["recording"]["state"], "done", "{recording}");
    assert_eq!(recording["application"], "mm");
    let playback = last_of("PlaybackFinished").expect("PlaybackFinished after the bridge is gone");
    assert_eq!(playback["playback"]["id"], "long");
    assert_eq!(playback["playback"]["target_uri"], "bridge:mix");
    assert_eq!(
        wari.get("/ari/recordings/stored/until-destroyed")
            .await
            .status,
        200
    );
    assert_eq!(wari.get("/ari/playbacks/long").await.status, 404);
}

#[tokio::test]
async fn dtmf_travels_in_band_with_the_audio_and_is_received_after_its_tone() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = setup(&["a"]).await;
    // a1 reads what a2 writes: a tone, then the digits, in that order.
    record(&wari, &mut ws, "channels/a1", "keys", "").await;
    play_through(&wari, &mut ws, "a2", "tone:!500/200").await;
    let reply = wari
        .post("/ari/channels/a2/dtmf?dtmf=19%23&duration=120&between=100")
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    keys_received(&mut ws, "a1", "19#", 120).await;
    // Every digit was received after its tone: the recording already holds all three.
    stop(&wari, &mut ws, "keys").await;
    let samples = stored_samples(&wari, "keys").await;
    assert_eq!(keys_heard(&samples), "19#", "the digits are heard in band");
    let first_key = samples
        .chunks_exact(160)
        .position(|c| wari::media::detect::detect_dtmf(c, 8000).is_some())
        .expect("a key in the recording");
    let tone_end = samples
        .chunks_exact(160)
        .rposition(|c| hears(c, 500.0, 1000.0))
        .expect("the tone in the recording");
    assert!(tone_end < first_key, "the tone came before the digits");
}

const PLAYBACK_DIALPLAN: &str = "\
[pb]
exten => ok,1,Playback(test-prompt)
 same => n,Stasis(mm,${PLAYBACKSTATUS})
 same => n,Hangup()
exten => bad,1,Playback(no-such-sound&test-prompt)
 same => n,Stasis(mm,${PLAYBACKSTATUS})
 same => n,Hangup()
";

/// The application's next StasisStart, and how long it took to come. No Playback event
/// may come before it: dialplan playbacks are not ARI playbacks.
async fn stasis_start(ws: &mut EventSocket) -> (serde_json::Value, std::time::Duration) {
    let began = std::time::Instant::now();
    let mut events = ws.until(|e| e["type"] == "StasisStart").await;
    let took = began.elapsed();
    for event in &events {
        let kind = event["type"].as_str().unwrap_or_default();
        assert!(!kind.starts_with("Playback"), "{event}");
    }
    (events.pop().expect("the StasisStart"), took)
}

#[tokio::test]
async fn dialplan_playback_plays_through_the_media_path_before_the_dialplan_goes_on() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = MediaApp::start_with("mm", PLAYBACK_DIALPLAN, |data| {
        // 1.2 s of 440 Hz.
        write_wav(&data.join("sounds/en/test-prompt.wav"), sine(440.0, 9600));
    })
    .await;

    // p2 runs the dialplan: Playback() answers it, so p1 enters the application first and
    // records what p2 plays; p2 enters only once the prompt has played.
    let reply = wari
        .post("/ari/channels?endpoint=Local/ok@pb&app=mm&channelId=p1&otherChannelId=p2")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (first, _) = stasis_start(&mut ws).await;
    assert_eq!(first["channel"]["id"], "p1", "{first}");
    record(&wari, &mut ws, "channels/p1", "prompt-heard", "").await;
    let (second, took) = stasis_start(&mut ws).await;
    assert_eq!(second["channel"]["id"], "p2", "{second}");
    assert_eq!(second["args"], serde_json::json!(["SUCCESS"]), "{second}");
    assert!(
        took >= std::time::Duration::from_millis(900),
        "the dialplan went on after {took:?}, before a 1.2 s prompt ended"
    );
    stop(&wari, &mut ws, "prompt-heard").await;
    let heard = stored_samples(&wari, "prompt-heard").await;
    assert_hears(&heard, 440.0, 1000.0, "the other half heard the prompt");

    // A file that cannot be played: FAILED, and the next file still plays.
    let reply = wari
        .post("/ari/channels?endpoint=Local/bad@pb&app=mm&channelId=q1&otherChannelId=q2")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (first, _) = stasis_start(&mut ws).await;
    assert_eq!(first["channel"]["id"], "q1", "{first}");
    let (second, took) = stasis_start(&mut ws).await;
    assert_eq!(second["channel"]["id"], "q2", "{second}");
    assert_eq!(second["args"], serde_json::json!(["FAILED"]), "{second}");
    assert!(
        took >= std::time::Duration::from_millis(900),
        "the second file played ({took:?})"
    );
}
