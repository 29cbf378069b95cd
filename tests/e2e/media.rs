//! Media end to end: a prompt played to one half of a Local channel is recorded on the other
//! half sample for sample, PlaybackFinished comes after the prompt's real length, stored
//! recordings can be listed, downloaded, copied and deleted, and bad media requests get
//! clear errors (a missing sound fails the playback instead of the request).

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::media_support::{
    MediaApp, decode_wav, local_pair, play, play_through, record, recordings_finished, stop,
    stored_samples, write_wav,
};
use crate::support::client;

const DIALPLAN: &str = "\
[media-test]
exten => rec,1,Answer()
 same => n,Stasis(media)
 same => n,Hangup()
";

/// 1.2 s at 8 kHz: a 440 Hz tone on a DC offset, so no sample of it is 0 (silence).
fn prompt() -> Vec<i16> {
    (0..9600)
        .map(|n| {
            let t = n as f64 / 8000.0;
            (3000.0 + 8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect()
}

/// Asserts that `samples` hold the whole prompt, sample for sample, after the silence
/// recorded before it; returns where the prompt ends.
#[track_caller]
fn assert_holds_prompt(samples: &[i16]) -> usize {
    let played = prompt();
    let start = samples
        .iter()
        .position(|s| *s != 0)
        .expect("the recording holds the prompt");
    assert_eq!(
        samples.get(start..start + played.len()),
        Some(&played[..]),
        "the whole prompt, recorded sample for sample"
    );
    start + played.len()
}

fn write_prompt(dir: &std::path::Path) {
    write_wav(&dir.join("sounds/en/test-prompt.wav"), prompt());
}

/// The Local half the tests play to, and the half they record.
const PLAYER: &str = "one";
const RECORDED: &str = "two";

async fn setup() -> MediaApp {
    setup_with(|_| {}).await
}

/// Like [`setup`], with more sound files written by `sounds_files` before wari starts
/// (the sounds directory is indexed at start).
async fn setup_with(sounds_files: impl FnOnce(&std::path::Path)) -> MediaApp {
    let mut app = MediaApp::start_with("media", DIALPLAN, |dir| {
        write_prompt(dir);
        sounds_files(dir);
    })
    .await;
    let MediaApp { wari, ws, .. } = &mut app;
    local_pair(wari, ws, "media", "Local/rec@media-test", PLAYER, RECORDED).await;
    app
}

#[tokio::test]
async fn a_prompt_played_to_one_half_is_recorded_on_the_other() {
    let MediaApp {
        wari,
        mut ws,
        data: _sounds,
    } = setup().await;

    let response = client()
        .post(wari.url(&format!(
            "/ari/channels/{RECORDED}/record?name=calls/take1&format=wav"
        )))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("record");
    assert_eq!(response.status(), 201);
    // The name holds a '/': the Location names the live recording in one path segment
    // (Asterisk 23.4.1 answers `Location: /ari/recordings/live/calls%2Ftake1`).
    assert_eq!(
        response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("/ari/recordings/live/calls%2Ftake1")
    );
    let reply = crate::support::Reply::of(response).await;
    assert_eq!(reply.body["name"], "calls/take1");
    assert_eq!(reply.body["target_uri"], format!("channel:{RECORDED}"));
    let started = ws.next_of("RecordingStarted").await;
    assert_eq!(started["recording"]["state"], "recording");

    let reply = wari
        .post(&format!(
            "/ari/channels/{PLAYER}/play/p1?media=sound:test-prompt"
        ))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["id"], "p1");
    assert_eq!(reply.body["state"], "queued");
    assert_eq!(reply.body["target_uri"], format!("channel:{PLAYER}"));
    let playing = ws.next_of("PlaybackStarted").await;
    let began = Instant::now();
    assert_eq!(playing["playback"]["media_uri"], "sound:test-prompt");
    assert_eq!(playing["playback"]["state"], "playing");
    let live = wari.get("/ari/playbacks/p1").await;
    assert_eq!(live.status, 200);
    let finished = ws.next_of("PlaybackFinished").await;
    assert_eq!(finished["playback"]["state"], "done");
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(1100),
        "PlaybackFinished came {took:?} after PlaybackStarted for a 1.2 s prompt"
    );
    assert_eq!(
        wari.get("/ari/playbacks/p1").await.status,
        404,
        "gone once finished"
    );

    let reply = wari.post("/ari/recordings/live/calls%2Ftake1/stop").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    recordings_finished(&mut ws, &["calls/take1"]).await;

    let listed = wari.get("/ari/recordings/stored").await;
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.body,
        serde_json::json!([{"name": "calls/take1", "format": "wav"}])
    );
    let file = client()
        .get(wari.url("/ari/recordings/stored/calls%2Ftake1/file"))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), 200);
    assert_eq!(
        file.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("audio/wav")
    );
    let bytes = file.bytes().await.expect("bytes");
    let (spec, samples) = decode_wav(&bytes);
    assert_eq!(spec.sample_rate, 8000);
    let end = assert_holds_prompt(&samples);
    assert!(
        samples[end..].iter().all(|s| *s == 0),
        "silence after the prompt"
    );

    // Copy, then delete the original.
    let copy = wari
        .post("/ari/recordings/stored/calls%2Ftake1/copy?destinationRecordingName=kept")
        .await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert_eq!(
        copy.body,
        serde_json::json!({"name": "kept", "format": "wav"})
    );
    let again = wari
        .post("/ari/recordings/stored/calls%2Ftake1/copy?destinationRecordingName=kept")
        .await;
    assert_eq!(again.status, 409);
    let outside = wari
        .post("/ari/recordings/stored/kept/copy?destinationRecordingName=..%2F..%2Fescape")
        .await;
    assert_eq!(outside.status, 403);
    assert_eq!(
        wari.delete("/ari/recordings/stored/calls%2Ftake1")
            .await
            .status,
        204
    );
    assert_eq!(
        wari.get("/ari/recordings/stored/calls%2Ftake1")
            .await
            .status,
        404
    );
    assert_eq!(wari.get("/ari/recordings/stored/kept").await.status, 200);
}

#[tokio::test]
async fn bad_media_requests_get_clear_errors_and_missing_or_broken_sounds_fail_the_playback() {
    let MediaApp {
        wari,
        mut ws,
        data: _sounds,
    } = setup_with(|dir| {
        std::fs::write(dir.join("sounds/en/broken.wav"), b"no RIFF header here")
            .expect("write a broken sound");
    })
    .await;

    // A missing sound: the request is fine, the playback fails.
    let finished = play(&wari, &mut ws, PLAYER, "sound:no-such-sound").await;
    assert_eq!(finished["playback"]["state"], "failed");
    assert_eq!(finished["playback"]["media_uri"], "sound:no-such-sound");

    // A sound file that cannot be decoded (found by the index, failed once read).
    let finished = play(&wari, &mut ws, PLAYER, "sound:broken").await;
    assert_eq!(finished["playback"]["state"], "failed", "{finished}");

    // A scheme ARI does not know, and a stored recording named outside the recordings
    // directory: accepted, then failed, like a missing sound.
    for media in ["bogus:hello-world", "recording:..%2F..%2Fetc%2Fpasswd"] {
        let finished = play(&wari, &mut ws, PLAYER, media).await;
        assert_eq!(finished["playback"]["state"], "failed", "{media}");
    }

    for (path, status) in [
        (format!("/ari/channels/{PLAYER}/play"), 400),
        (
            format!("/ari/channels/{PLAYER}/play?media=sound:x&offsetms=-1"),
            400,
        ),
        ("/ari/channels/nobody/play?media=sound:x".to_string(), 404),
        // Asterisk 23.4.1 answers `../escape` with 500 `Error parsing request` (wari: 400);
        // wari refuses an absolute name the same way (Asterisk writes it under its
        // recordings directory).
        (
            format!("/ari/channels/{RECORDED}/record?name=..%2Fescape&format=wav"),
            400,
        ),
        (
            format!("/ari/channels/{RECORDED}/record?name=%2Fetc%2Fx&format=wav"),
            400,
        ),
        (
            format!("/ari/channels/{RECORDED}/record?name=ok&format=mp9"),
            422,
        ),
        (
            format!("/ari/channels/{RECORDED}/record?name=ok&format=wav&ifExists=maybe"),
            400,
        ),
        (
            format!("/ari/channels/{RECORDED}/record?name=ok&format=wav&terminateOn=x"),
            400,
        ),
        (
            "/ari/playbacks/nothing/control?operation=pause".to_string(),
            404,
        ),
        (
            "/ari/playbacks/nothing/control?operation=dance".to_string(),
            400,
        ),
        ("/ari/recordings/live/nothing/stop".to_string(), 404),
    ] {
        let reply = wari.ari(Method::POST, &path).await;
        assert_eq!(reply.status, status, "{path}: {}", reply.body);
        assert!(reply.body["message"].is_string(), "{path}: {}", reply.body);
    }
    assert_eq!(wari.get("/ari/playbacks/nothing").await.status, 404);
    assert_eq!(wari.get("/ari/recordings/stored/nothing").await.status, 404);
    assert_eq!(wari.get("/ari/sounds/test-prompt").await.status, 200);
    // Formats are named by codec, as in Asterisk 23.4.1: a .wav file is `slin`.
    let sounds = wari.get("/ari/sounds?lang=en&format=slin").await;
    assert_eq!(sounds.status, 200);
    let ids: Vec<&serde_json::Value> = sounds
        .body
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(
        ids,
        ["broken", "test-prompt"],
        "listed by name, not decoded"
    );
    assert_eq!(wari.get("/ari/sounds?lang=fr").await.status, 404);

    // Two live recordings may not share a name; `#` ends one with terminateOn.
    record(
        &wari,
        &mut ws,
        &format!("channels/{RECORDED}"),
        "dup",
        "&terminateOn=%23",
    )
    .await;
    let second = wari
        .post(&format!(
            "/ari/channels/{RECORDED}/record?name=dup&format=wav"
        ))
        .await;
    assert_eq!(second.status, 409);
    let dtmf = wari
        .post(&format!("/ari/channels/{PLAYER}/dtmf?dtmf=%23"))
        .await;
    assert_eq!(dtmf.status, 204);
    recordings_finished(&mut ws, &["dup"]).await;
    // The name now exists on disk: ifExists=fail (the default) refuses it.
    let exists = wari
        .post(&format!(
            "/ari/channels/{RECORDED}/record?name=dup&format=wav"
        ))
        .await;
    assert_eq!(exists.status, 409);

    // A file where a directory should be (as an unwritable or full disk would): the
    // recording fails with RecordingFailed and leaves nothing behind.
    let reply = wari
        .post(&format!(
            "/ari/channels/{RECORDED}/record?name=dup.wav%2Finner&format=wav"
        ))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let failed = ws.next_of("RecordingFailed").await;
    assert_eq!(failed["recording"]["name"], "dup.wav/inner");
    assert_eq!(failed["recording"]["state"], "failed");
    assert!(failed["recording"]["cause"].is_string(), "{failed}");
    assert_eq!(
        wari.get("/ari/recordings/live/dup.wav%2Finner")
            .await
            .status,
        404
    );
    let stored = wari.get("/ari/recordings/stored").await;
    assert_eq!(
        stored.body,
        serde_json::json!([{"name": "dup", "format": "wav"}])
    );
}

/// Writes `<sounds>/en/<name>.wav`: 100 ms of the constant sample `value`.
fn write_constant(dir: &std::path::Path, name: &str, value: i16) {
    let path = dir.join("sounds").join("en").join(format!("{name}.wav"));
    write_wav(&path, std::iter::repeat_n(value, 800));
}

/// The distinct sample values of a recording, in the order they first appear in runs
/// (silence left out).
fn runs(samples: &[i16]) -> Vec<i16> {
    let mut out: Vec<i16> = Vec::new();
    for sample in samples.iter().copied().filter(|s| *s != 0) {
        if out.last() != Some(&sample) {
            out.push(sample);
        }
    }
    out
}

/// Plays `media` to the player half while recording the other half as `name`; returns
/// the recorded samples once the playback finished.
async fn play_and_record(setup: &mut MediaApp, media: &str, name: &str) -> Vec<i16> {
    let MediaApp { wari, ws, .. } = setup;
    record(wari, ws, &format!("channels/{RECORDED}"), name, "").await;
    play_through(wari, ws, PLAYER, media).await;
    stop(wari, ws, name).await;
    stored_samples(wari, name).await
}

#[tokio::test]
async fn digits_numbers_and_characters_say_the_right_files_in_order_and_tones_sound_right() {
    // Each file is a different constant, so the recording shows which played, in order.
    let mut setup = setup_with(|dir| {
        for (name, value) in [
            ("digits/1", 101),
            ("digits/2", 102),
            ("digits/3", 103),
            ("digits/20", 120),
            ("digits/hundred", 199),
            ("letters/a", 201),
            ("letters/b", 202),
        ] {
            write_constant(dir, name, value);
        }
    })
    .await;

    let digits = play_and_record(&mut setup, "digits:312", "digits").await;
    assert_eq!(runs(&digits), [103, 101, 102]);
    let number = play_and_record(&mut setup, "number:321", "number").await;
    assert_eq!(
        runs(&number),
        [103, 199, 120, 101],
        "three hundred twenty one"
    );
    let characters = play_and_record(&mut setup, "characters:ab1", "characters").await;
    assert_eq!(runs(&characters), [201, 202, 101]);
    // A list plays in order, with one PlaybackFinished at the end.
    let list = play_and_record(&mut setup, "digits:2,characters:a", "list").await;
    assert_eq!(runs(&list), [102, 201]);

    // tone: a 440 Hz tone played once for 300 ms.
    let tone = play_and_record(&mut setup, "tone:!440/300", "tone").await;
    let start = tone
        .iter()
        .position(|s| *s != 0)
        .expect("the tone was recorded");
    let block = &tone[start..start + 2000];
    let at = |hz| wari::media::detect::goertzel_power(block, hz, 8000);
    assert!(at(440.0) > 100.0 * at(1000.0), "440 Hz dominates");
    assert!(at(440.0) > 100.0 * at(350.0));
}

#[tokio::test]
async fn killed_during_a_recording_wari_keeps_finished_recordings_and_repairs_the_cut_one() {
    let MediaApp {
        wari,
        mut ws,
        data: _sounds,
    } = setup().await;
    // One recording finished, one still being written when wari is killed.
    let mut finished_samples = Vec::new();
    for (name, stopped) in [("finished", true), ("interrupted", false)] {
        record(&wari, &mut ws, &format!("channels/{RECORDED}"), name, "").await;
        play_through(&wari, &mut ws, PLAYER, "sound:test-prompt").await;
        if stopped {
            stop(&wari, &mut ws, name).await;
            finished_samples = stored_samples(&wari, name).await;
        }
    }
    assert_eq!(
        wari.get("/ari/recordings/live/interrupted").await.status,
        200
    );

    let wari = wari.restart();
    let listed = wari.get("/ari/recordings/stored").await;
    assert_eq!(
        listed.body,
        serde_json::json!([
            {"name": "finished", "format": "wav"},
            {"name": "interrupted", "format": "wav"}
        ]),
        "the finished recording and the repaired one are stored"
    );
    assert_eq!(
        stored_samples(&wari, "finished").await,
        finished_samples,
        "the finished recording is intact"
    );
    // What reached the disk before the kill is a valid WAV file that holds the prompt's
    // beginning (the writer's last buffer never got there).
    let interrupted = stored_samples(&wari, "interrupted").await;
    assert!(
        interrupted.iter().any(|s| *s != 0),
        "the repaired recording holds audio: {} samples",
        interrupted.len()
    );
    assert!(
        wari.log().contains("repaired and stored"),
        "the repair is logged:\n{}",
        wari.log()
    );
    assert_eq!(
        wari.get("/ari/recordings/live/interrupted").await.status,
        404
    );
}

#[tokio::test]
async fn stopped_with_sigterm_wari_stores_its_live_recordings_first() {
    let MediaApp {
        mut wari,
        mut ws,
        data: _sounds,
    } = setup().await;
    record(&wari, &mut ws, &format!("channels/{RECORDED}"), "live", "").await;
    play_through(&wari, &mut ws, PLAYER, "sound:test-prompt").await;
    assert_eq!(wari.get("/ari/recordings/live/live").await.status, 200);

    assert!(wari.stop_with("TERM"), "a clean exit:\n{}", wari.log());
    assert!(
        wari.log().contains("live recordings stopped and stored"),
        "{}",
        wari.log()
    );
    let wari = wari.restart();
    let listed = wari.get("/ari/recordings/stored").await;
    assert_eq!(
        listed.body,
        serde_json::json!([{"name": "live", "format": "wav"}]),
        "the recording live at the stop is stored"
    );
    assert_holds_prompt(&stored_samples(&wari, "live").await);
}
