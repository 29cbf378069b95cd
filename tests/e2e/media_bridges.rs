//! Bridge media end to end: a mixing bridge of three channels lets each hear the other two
//! and not itself, a bridge playback reaches every member, a bridge recording holds
//! everyone, music on hold plays into a bridge and stops (409 when none runs), and bad
//! input gets clear errors.
//!
//! Each participant is a Local pair: the `;1` half is in the bridge, the `;2` half is the
//! "phone". What is played to a `;2` half is what its `;1` half reads, which is what the
//! bridge mixes; what a `;2` half reads (and records) is what its `;1` half is given by the
//! bridge. Frequencies are told apart with the Goertzel filter.

use wari::media::detect::goertzel_power;

use crate::media_support::{start_with_data_dir, stored_samples, write_wav};
use crate::support::{EventSocket, Wari};

const DIALPLAN: &str = "\
[mb]
exten => _X.,1,Answer()
 same => n,Stasis(mb)
 same => n,Hangup()
";

struct Setup {
    wari: Wari,
    ws: EventSocket,
    _data: tempfile::TempDir,
}

/// A 1 s WAV file of one frequency.
fn write_tone_wav(path: &std::path::Path, freq: f64) {
    let tone = (0..8000).map(|n| {
        let t = f64::from(n) / 8000.0;
        (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
    });
    write_wav(path, tone);
}

/// wari with a data directory holding a music-on-hold file (700 Hz) in `moh/`, and Local
/// pairs `<name>1`/`<name>2` in Stasis, the `;1` halves in mixing bridge `mix`.
async fn setup(names: &[&str]) -> Setup {
    let data = tempfile::tempdir().expect("temp dir");
    write_tone_wav(&data.path().join("moh").join("tune.wav"), 700.0);
    let wari = start_with_data_dir(data.path(), DIALPLAN);
    let mut ws = EventSocket::connect(&wari, "app=mb&api_key=asterisk:secret").await;
    for name in names {
        let reply = wari
            .post(&format!(
                "/ari/channels?endpoint=Local/100@mb&app=mb&channelId={name}1&otherChannelId={name}2"
            ))
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    for _ in 0..names.len() * 2 {
        ws.next_of("StasisStart").await;
    }
    let reply = wari.post("/ari/bridges/mix?type=mixing").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let members: Vec<String> = names.iter().map(|n| format!("{n}1")).collect();
    let reply = wari
        .post(&format!(
            "/ari/bridges/mix/addChannel?channel={}",
            members.join(",")
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    for _ in names {
        ws.next_of("ChannelEnteredBridge").await;
    }
    Setup {
        wari,
        ws,
        _data: data,
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

/// Stops the named recordings and waits until each has finished.
async fn stop_all(wari: &Wari, ws: &mut EventSocket, names: &[&str]) {
    for name in names {
        let reply = wari
            .post(&format!("/ari/recordings/live/{name}/stop"))
            .await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    for _ in names {
        let done = ws.next_of("RecordingFinished").await;
        assert_eq!(done["recording"]["state"], "done", "{done}");
    }
}

/// The power of `freq` in `samples`, summed over 20 ms windows.
fn power(samples: &[i16], freq: f32) -> f32 {
    samples
        .chunks_exact(160)
        .map(|w| goertzel_power(w, freq, 8000))
        .sum()
}

/// True when `freq` clearly stands out of `samples` compared with `absent`.
fn hears(samples: &[i16], freq: f32, absent: f32) -> bool {
    power(samples, freq) > 100.0 * power(samples, absent).max(1.0)
}

#[tokio::test]
async fn a_three_party_bridge_lets_each_hear_the_other_two_but_not_itself() {
    let Setup {
        wari,
        mut ws,
        _data,
        ..
    } = setup(&["a", "b", "c"]).await;
    let tones = [("a", 500.0_f32), ("b", 1100.0), ("c", 1700.0)];
    for (name, _) in tones {
        record(
            &wari,
            &mut ws,
            &format!("channels/{name}2"),
            &format!("heard-{name}"),
            "",
        )
        .await;
    }
    record(&wari, &mut ws, "bridges/mix", "everyone", "").await;
    for (name, freq) in tones {
        let reply = wari
            .post(&format!(
                "/ari/channels/{name}2/play?media=tone:!{freq}/1000"
            ))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    for _ in tones {
        let finished = ws.next_of("PlaybackFinished").await;
        assert_eq!(finished["playback"]["state"], "done", "{finished}");
    }
    stop_all(
        &wari,
        &mut ws,
        &["heard-a", "heard-b", "heard-c", "everyone"],
    )
    .await;

    for (name, own) in tones {
        let heard = stored_samples(&wari, &format!("heard-{name}")).await;
        for (other, freq) in tones {
            if other == name {
                continue;
            }
            assert!(
                hears(&heard, freq, own),
                "{name} hears {other} ({freq} Hz) and not itself ({own} Hz): {} vs {}",
                power(&heard, freq),
                power(&heard, own)
            );
        }
    }
    let everyone = stored_samples(&wari, "everyone").await;
    for (name, freq) in tones {
        assert!(
            power(&everyone, freq) > 100.0 * power(&everyone, 2300.0).max(1.0),
            "the bridge recording holds {name} ({freq} Hz)"
        );
    }
}

#[tokio::test]
async fn bridge_playback_and_music_on_hold_reach_every_member() {
    let Setup {
        wari,
        mut ws,
        _data,
        ..
    } = setup(&["a", "b"]).await;

    // Bridge playback: every member hears it; its events name the bridge.
    for name in ["a", "b"] {
        record(
            &wari,
            &mut ws,
            &format!("channels/{name}2"),
            &format!("ann-{name}"),
            "",
        )
        .await;
    }
    let reply = wari
        .post("/ari/bridges/mix/play/ann?media=tone:!1300/600&announcer_format=slin")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["target_uri"], "bridge:mix");
    let started = ws.next_of("PlaybackStarted").await;
    assert_eq!(started["playback"]["target_uri"], "bridge:mix", "{started}");
    let finished = ws.next_of("PlaybackFinished").await;
    assert_eq!(finished["playback"]["id"], "ann");
    assert_eq!(finished["playback"]["state"], "done");
    stop_all(&wari, &mut ws, &["ann-a", "ann-b"]).await;
    for name in ["a", "b"] {
        let heard = stored_samples(&wari, &format!("ann-{name}")).await;
        assert!(
            hears(&heard, 1300.0, 500.0),
            "{name} hears the announcement"
        );
    }

    // Music on hold: not running yet (409), then every member hears the class's file.
    assert_eq!(wari.delete("/ari/bridges/mix/moh").await.status, 409);
    let reply = wari.post("/ari/bridges/mix/moh").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    for name in ["a", "b"] {
        // One second each, ended by maxDurationSeconds.
        record(
            &wari,
            &mut ws,
            &format!("channels/{name}2"),
            &format!("moh-{name}"),
            "&maxDurationSeconds=1",
        )
        .await;
    }
    for _ in 0..2 {
        let done = ws.next_of("RecordingFinished").await;
        assert_eq!(done["recording"]["state"], "done", "{done}");
    }
    assert_eq!(wari.delete("/ari/bridges/mix/moh").await.status, 204);
    assert_eq!(wari.delete("/ari/bridges/mix/moh").await.status, 409);
    for name in ["a", "b"] {
        let heard = stored_samples(&wari, &format!("moh-{name}")).await;
        assert!(
            hears(&heard, 700.0, 1300.0),
            "{name} hears the music on hold: {} vs {}",
            power(&heard, 700.0),
            power(&heard, 1300.0)
        );
    }

    // Channel music on hold replaces the mix for that channel only; a playback ends it.
    let reply = wari.post("/ari/channels/a1/moh?mohClass=default").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    record(
        &wari,
        &mut ws,
        "channels/a2",
        "chan-moh",
        "&maxDurationSeconds=1",
    )
    .await;
    let done = ws.next_of("RecordingFinished").await;
    assert_eq!(done["recording"]["name"], "chan-moh");
    let heard = stored_samples(&wari, "chan-moh").await;
    assert!(hears(&heard, 700.0, 1300.0), "a1 hears its music on hold");
    assert_eq!(wari.delete("/ari/channels/a1/moh").await.status, 204);
    assert_eq!(wari.post("/ari/channels/a1/silence").await.status, 204);
    assert_eq!(wari.delete("/ari/channels/a1/silence").await.status, 204);
}

#[tokio::test]
async fn bad_bridge_media_requests_get_clear_errors() {
    let Setup {
        wari,
        mut ws,
        _data,
        ..
    } = setup(&["a"]).await;
    for (path, status) in [
        (
            "/ari/bridges/mix/play?media=tone:ring&announcer_format=nope",
            422,
        ),
        ("/ari/bridges/mix/play", 400),
        ("/ari/bridges/mix/play?media=tone:ring&offsetms=-1", 400),
        ("/ari/bridges/ghost/play?media=tone:ring", 404),
        ("/ari/bridges/mix/record?name=x&format=nope", 422),
        (
            "/ari/bridges/mix/record?name=x&format=wav&recorder_format=nope",
            422,
        ),
        ("/ari/bridges/mix/record?name=..%2Fescape&format=wav", 400),
        (
            "/ari/bridges/mix/record?name=x&format=wav&ifExists=maybe",
            400,
        ),
        (
            "/ari/bridges/mix/record?name=x&format=wav&maxDurationSeconds=-1",
            400,
        ),
        ("/ari/bridges/ghost/record?name=x&format=wav", 404),
        ("/ari/bridges/ghost/moh", 404),
    ] {
        let reply = wari.post(path).await;
        assert_eq!(reply.status, status, "POST {path}: {}", reply.body);
    }
    assert_eq!(wari.delete("/ari/bridges/ghost/moh").await.status, 404);
    // Two live recordings of the bridge may not share a name.
    record(&wari, &mut ws, "bridges/mix", "twice", "").await;
    let again = wari
        .post("/ari/bridges/mix/record?name=twice&format=wav")
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    let reply = wari.post("/ari/recordings/live/twice/stop").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let done = ws.next_of("RecordingFinished").await;
    assert_eq!(done["recording"]["name"], "twice");
}
