//! Bridge media end to end: a mixing bridge of three channels lets each hear the other two
//! and not itself, a bridge playback reaches every member, a bridge recording holds
//! everyone, music on hold plays into a bridge and stops (409 when none runs), and bad
//! input gets clear errors.
//!
//! Each participant is a Local pair: the `;1` half is in the bridge, the `;2` half is the
//! "phone". What is played to a `;2` half is what its `;1` half reads, which is what the
//! bridge mixes; what a `;2` half reads (and records) is what its `;1` half is given by the
//! bridge. Frequencies are told apart with the Goertzel filter.

use crate::media_support::{
    MediaApp, assert_hears, bridge, local_pairs, play_tones, record, recordings_finished, sine,
    stop, stop_all, stored_samples, write_wav,
};

const DIALPLAN: &str = "\
[mb]
exten => _X.,1,Answer()
 same => n,Stasis(mb)
 same => n,Hangup()
";

/// wari with a data directory holding a music-on-hold file (1 s of 700 Hz) in `moh/`, and
/// Local pairs `<name>1`/`<name>2` in Stasis, the `;1` halves in mixing bridge `mix`.
async fn setup(names: &[&str]) -> MediaApp {
    let mut app = MediaApp::start_with("mb", DIALPLAN, |data| {
        write_wav(&data.join("moh").join("tune.wav"), sine(700.0, 8000));
    })
    .await;
    local_pairs(&app.wari, &mut app.ws, "mb", "Local/100@mb", names).await;
    let members: Vec<String> = names.iter().map(|n| format!("{n}1")).collect();
    bridge(&app.wari, &mut app.ws, "mix", &members).await;
    app
}

#[tokio::test]
async fn a_three_party_bridge_lets_each_hear_the_other_two_but_not_itself() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
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
    let phones = tones.map(|(name, freq)| (format!("{name}2"), freq));
    play_tones(&wari, &mut ws, &phones, 1000).await;
    let [heard_a, heard_b, heard_c, everyone] = stop_all(
        &wari,
        &mut ws,
        ["heard-a", "heard-b", "heard-c", "everyone"],
    )
    .await;

    for ((name, own), heard) in tones.into_iter().zip([&heard_a, &heard_b, &heard_c]) {
        for (other, freq) in tones {
            if other == name {
                continue;
            }
            assert_hears(
                heard,
                freq,
                own,
                &format!("{name} hears {other} ({freq} Hz) and not itself ({own} Hz)"),
            );
        }
    }
    for (name, freq) in tones {
        assert_hears(
            &everyone,
            freq,
            2300.0,
            &format!("the bridge recording holds {name} ({freq} Hz)"),
        );
    }
}

#[tokio::test]
async fn bridge_playback_and_music_on_hold_reach_every_member() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
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
    let heard = stop_all(&wari, &mut ws, ["ann-a", "ann-b"]).await;
    for (name, heard) in ["a", "b"].into_iter().zip(&heard) {
        assert_hears(
            heard,
            1300.0,
            500.0,
            &format!("{name} hears the announcement"),
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
    recordings_finished(&mut ws, &["moh-a", "moh-b"]).await;
    assert_eq!(wari.delete("/ari/bridges/mix/moh").await.status, 204);
    assert_eq!(wari.delete("/ari/bridges/mix/moh").await.status, 409);
    for name in ["a", "b"] {
        let heard = stored_samples(&wari, &format!("moh-{name}")).await;
        assert_hears(
            &heard,
            700.0,
            1300.0,
            &format!("{name} hears the music on hold"),
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
    recordings_finished(&mut ws, &["chan-moh"]).await;
    let heard = stored_samples(&wari, "chan-moh").await;
    assert_hears(&heard, 700.0, 1300.0, "a1 hears its music on hold");
    assert_eq!(wari.delete("/ari/channels/a1/moh").await.status, 204);
    assert_eq!(wari.post("/ari/channels/a1/silence").await.status, 204);
    assert_eq!(wari.delete("/ari/channels/a1/silence").await.status, 204);
}

#[tokio::test]
async fn bad_bridge_media_requests_get_clear_errors() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
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
        // Asterisk 23.4.1 answers these two 500 `Error parsing request` (wari: 400).
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
    stop(&wari, &mut ws, "twice").await;
}
