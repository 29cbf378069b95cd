//! ARI operations on SIP channels, each against a real phone (baresip) calling in to a
//! Stasis application: `rtp_statistics` from the phone's RTCP, record, snoop, external
//! media, mute, music on hold, `continue`, redirect (REFER after the answer) and DTMF both
//! ways (RFC 4733 and in band).
//! Each test asserts on what a user sees: the events, the JSON, the stored recordings, and
//! the audio the phone recorded, compared with the prompts in 100 ms windows with a lag
//! search ([`sip_peers::audio_match`]). `rtp_timeout` is in `sip_rtp_timeout.rs`.
//!
//! Each test starts one wari with a `pjsip.conf` of its own (UDP on an ephemeral loopback
//! port), Asterisk's prompts and a music-on-hold tone in its own `astdatadir`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;

use crate::media_support::{
    hears, keys_heard, record, recordings_finished, sine, stored_samples, write_wav,
};
use crate::sip_fixture::{Sounds, answered_call_in, phones_pjsip, play_through, registered_phone};
use crate::sip_peers::{
    Account, AudioMatch, Baresip, PEER_TIMEOUT, PjsuaCall, RATE, audio_match, prompt, read_wav,
    repeated_prompt, spawn_pjsua_call,
};
use crate::support::{EventSocket, Wari, eventually};

/// The application the phones' calls are handed to.
const APP: &str = "ops";

/// Endpoints alice and bob (RFC 4733 digits) and carol (digits in band), each with a
/// password and an AOR of its own name.
const PJSIP_CONF: &str = concat!(
    phones_pjsip!("ops", "ulaw"),
    "
[carol](phone)
dtmf_mode = inband
auth = carol
aors = carol

[carol]
type = auth
auth_type = userpass
username = carol
password = carrots

[carol]
type = aor
max_contacts = 1
remove_existing = yes
"
);

/// Calls to 1XX go to the application; a call that `continue`s hears hello-world and is
/// hung up.
const EXTENSIONS: &str = "\
[ops]
exten => _1XX,1,Stasis(ops)
 same => n,Playback(hello-world)
 same => n,Hangup()
";

/// How long the phone's audio is recorded where it is compared with the prompt it says
/// over and over (hello-world, 1.4 s): each window of the prompt is then there at least
/// twice, and a 20 ms frame the jitter buffer could not fill in time (on a loaded machine)
/// spoils only one copy.
const RECORDED_SECONDS: u32 = 4;

/// The music-on-hold class's tone.
const MOH_HZ: f32 = 440.0;

/// A wari with [`PJSIP_CONF`] and [`EXTENSIONS`], and the application's events socket.
struct Ops {
    wari: Wari,
    ws: EventSocket,
    /// wari's `astdatadir`, removed when dropped.
    _data: Sounds,
    /// The phones' directories.
    dir: tempfile::TempDir,
}

impl Ops {
    async fn start() -> Ops {
        let data = Sounds::with_prompts(&["hello-world", "agent-loginok"]);
        write_wav(
            &data.join("moh/tone.wav"),
            sine(f64::from(MOH_HZ), 2 * RATE as u32),
        );
        let wari = data.start(PJSIP_CONF, EXTENSIONS);
        let ws = EventSocket::connect(&wari, &format!("app={APP}&api_key=asterisk:secret")).await;
        Ops {
            wari,
            ws,
            _data: data,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A file in the test's directory.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Baresip phone `user` (password `password`) with `source` as its microphone,
    /// registered, has called 100 and the application answered; returns it with its
    /// channel's id.
    async fn call_in(&mut self, user: &str, password: &str, source: &Path) -> (Baresip, String) {
        let dir = self.dir.path();
        answered_call_in(&self.wari, &mut self.ws, dir, user, password, "100", source).await
    }

    /// [`Ops::call_in`] with 30 s of silence as the phone's microphone.
    async fn silent_call_in(&mut self, user: &str, password: &str) -> (Baresip, String) {
        let source = silence(self.dir.path(), 30);
        self.call_in(user, password, &source).await
    }

    /// Hangs `channel` up and waits until `phone` has closed the call (its recording is
    /// then complete).
    async fn hang_up(&mut self, channel: &str, phone: &mut Baresip) {
        self.wari
            .delete_ok(&format!("/ari/channels/{channel}"))
            .await;
        phone.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
    }

    /// Plays `media` on `channel` and waits until it is done.
    async fn play_through(&mut self, channel: &str, media: &str) {
        play_through(&self.wari, &mut self.ws, channel, media).await;
    }

    /// Records `target` (`channels/<id>`) for `seconds` as `name` on `ws`'s application and
    /// returns the stored samples. Also a clock: it returns once that much time has passed.
    async fn record_for(
        wari: &Wari,
        ws: &mut EventSocket,
        target: &str,
        name: &str,
        seconds: u32,
    ) -> Vec<i16> {
        record(
            wari,
            ws,
            target,
            name,
            &format!("&maxDurationSeconds={seconds}"),
        )
        .await;
        recordings_finished(ws, &[name]).await;
        stored_samples(wari, name).await
    }
}

/// The audio of `phone`'s (first) call, once baresip has closed the recording.
fn heard(phone: &Baresip) -> Vec<i16> {
    let files = phone.heard();
    let file = files.first().expect("the phone recorded its call");
    read_wav(file)
}

/// How much of prompt `name` `samples` contain.
fn contains(samples: &[i16], name: &str) -> AudioMatch {
    audio_match(&read_wav(&prompt(name)), samples)
}

/// `seconds` of silence as a WAV file in `dir` (a phone that says nothing, and does not
/// hang up by itself before then).
fn silence(dir: &Path, seconds: usize) -> PathBuf {
    let path = dir.join(format!("silence-{seconds}.wav"));
    crate::sip_peers::write_wav(&path, &vec![0; seconds * RATE]);
    path
}

/// `method` on `path` as the test user answers 204 No Content.
async fn no_content(wari: &Wari, method: Method, path: &str) {
    let reply = wari.ari(method.clone(), path).await;
    assert_eq!(reply.status, 204, "{method} {path}: {}", reply.text);
}

/// The `rtp_statistics` of `channel` (200).
async fn rtp_statistics(wari: &Wari, channel: &str) -> Value {
    let reply = wari
        .get(&format!("/ari/channels/{channel}/rtp_statistics"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body
}

/// The `rtp_statistics` of `channel` once they carry a round-trip time (`what`, within
/// 20 s: both sides report every 5 s or so).
async fn rtp_statistics_with_rtt(wari: &Wari, channel: &str, what: &str) -> Value {
    eventually(what, Duration::from_secs(20), || async move {
        let stats = rtp_statistics(wari, channel).await;
        if stats.get("rtt").is_some() {
            Ok(stats)
        } else {
            Err(stats.to_string())
        }
    })
    .await
}

#[tokio::test]
async fn rtp_statistics_of_a_phone_call_carry_the_round_trip_time_from_its_rtcp() {
    let mut ops = Ops::start().await;
    let source = repeated_prompt(ops.dir.path(), "hello-world", 20);
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;
    let first = rtp_statistics(&ops.wari, &channel).await;
    assert_eq!(first["channel_uniqueid"], channel.as_str(), "{first}");

    // Both sides report every 5 s or so: the round-trip time is known once baresip has
    // answered one of wari's sender reports.
    let stats = rtp_statistics_with_rtt(&ops.wari, &channel, "an RTT from the phone's RTCP").await;
    let number = |field: &str| {
        stats[field]
            .as_f64()
            .unwrap_or_else(|| panic!("{field} is a number: {stats}"))
    };
    // Packets flowed both ways since the first look, nothing lost on loopback.
    for count in ["txcount", "rxcount", "txoctetcount", "rxoctetcount"] {
        assert!(
            number(count) > first[count].as_f64().unwrap_or(0.0),
            "{count}: {first} -> {stats}"
        );
    }
    assert_eq!(
        (number("txploss"), number("rxploss")),
        (0.0, 0.0),
        "{stats}"
    );
    assert_ne!(number("remote_ssrc"), 0.0, "{stats}");
    assert_ne!(number("local_ssrc"), number("remote_ssrc"), "{stats}");
    // The round trip on loopback: above zero, far below a second.
    let rtt = number("rtt");
    assert!(rtt > 0.0 && rtt < 0.5, "rtt {rtt}: {stats}");
    assert!(
        number("minrtt") <= rtt && rtt <= number("maxrtt"),
        "{stats}"
    );
    // The jitter both ways, and the spreads of the reports, as Asterisk names them.
    for field in [
        "txjitter",
        "rxjitter",
        "local_maxjitter",
        "local_minjitter",
        "local_normdevjitter",
        "local_stdevjitter",
        "remote_maxjitter",
        "remote_minjitter",
        "remote_normdevjitter",
        "remote_stdevjitter",
        "local_maxrxploss",
        "remote_maxrxploss",
        "normdevrtt",
        "stdevrtt",
    ] {
        let value = number(field);
        assert!((0.0..1.0).contains(&value), "{field} {value}: {stats}");
    }
    ops.hang_up(&channel, &mut alice).await;
}

#[tokio::test]
async fn rtp_statistics_of_a_pjsua2_call_carry_the_round_trip_time_from_its_rtcp() {
    let mut ops = Ops::start().await;
    let uri = format!("sip:100@{}", ops.wari.sip_udp.expect("SIP over UDP"));
    let record = ops.path("pjsua-heard.wav");
    let call = spawn_pjsua_call(&PjsuaCall {
        uri: &uri,
        play: &prompt("hello-world"),
        record: &record,
        digits: "",
        credentials: Some(("alice", "wonderland")),
        hold: Duration::from_secs(20),
    });
    let started = ops.ws.next_of("StasisStart").await;
    let channel = started["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    ops.wari
        .post_ok(&format!("/ari/channels/{channel}/answer"))
        .await;
    let stats = rtp_statistics_with_rtt(&ops.wari, &channel, "an RTT from pjsua2's RTCP").await;
    let rtt = stats["rtt"].as_f64().unwrap_or(-1.0);
    assert!(rtt > 0.0 && rtt < 0.5, "rtt {rtt}: {stats}");
    assert!(stats["rxjitter"].as_f64().is_some(), "{stats}");
    assert_ne!(stats["remote_ssrc"], 0, "{stats}");
    ops.wari
        .delete_ok(&format!("/ari/channels/{channel}"))
        .await;
    let outcome = call.await.expect("pjsua call");
    assert_eq!(outcome.status, 200, "{}", outcome.output);
}

#[tokio::test]
async fn recording_a_phone_call_stores_what_the_phone_said() {
    let mut ops = Ops::start().await;
    let source = repeated_prompt(ops.dir.path(), "hello-world", 20);
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;
    let said = Ops::record_for(
        &ops.wari,
        &mut ops.ws,
        &format!("channels/{channel}"),
        "alice-said",
        RECORDED_SECONDS,
    )
    .await;
    let found = contains(&said, "hello-world");
    assert!(found.share() >= 0.8, "{found:?} in {} samples", said.len());
    assert!(said.len() >= 2 * RATE, "{} samples", said.len());
    ops.hang_up(&channel, &mut alice).await;
}

#[tokio::test]
async fn snooping_on_a_phone_call_hears_what_it_says_and_what_it_is_played() {
    let mut ops = Ops::start().await;
    let mut spy = EventSocket::connect(&ops.wari, "app=spy&api_key=asterisk:secret").await;
    let source = repeated_prompt(ops.dir.path(), "hello-world", 20);
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;

    // spy=in: what the phone says.
    ops.wari
        .post_ok(&format!(
            "/ari/channels/{channel}/snoop?spy=in&app=spy&snoopId=snoop-in"
        ))
        .await;
    let started = spy.next_for("StasisStart", "snoop-in").await;
    assert!(
        started["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("Snoop/")),
        "{started}"
    );
    let heard_in = Ops::record_for(
        &ops.wari,
        &mut spy,
        "channels/snoop-in",
        "snoop-in",
        RECORDED_SECONDS,
    )
    .await;
    let found = contains(&heard_in, "hello-world");
    assert!(found.share() >= 0.8, "spy=in: {found:?}");

    // spy=out: what the phone is played.
    ops.wari
        .post_ok(&format!(
            "/ari/channels/{channel}/snoop?spy=out&app=spy&snoopId=snoop-out"
        ))
        .await;
    spy.next_for("StasisStart", "snoop-out").await;
    record(&ops.wari, &mut spy, "channels/snoop-out", "snoop-out", "").await;
    ops.play_through(&channel, "sound:agent-loginok").await;
    no_content(
        &ops.wari,
        Method::POST,
        "/ari/recordings/live/snoop-out/stop",
    )
    .await;
    recordings_finished(&mut spy, &["snoop-out"]).await;
    let heard_out = stored_samples(&ops.wari, "snoop-out").await;
    let found = contains(&heard_out, "agent-loginok");
    assert!(found.share() >= 0.8, "spy=out: {found:?}");
    let own = contains(&heard_out, "hello-world");
    assert!(own.share() < 0.3, "spy=out hears the phone: {own:?}");

    ops.hang_up(&channel, &mut alice).await;
    // The snoop channels go with the channel they watched.
    spy.next_for("StasisEnd", "snoop-in").await;
}

#[tokio::test]
async fn external_media_bridged_with_a_phone_receives_its_audio() {
    let mut ops = Ops::start().await;
    let source = repeated_prompt(ops.dir.path(), "hello-world", 20);
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("UDP socket");
    let port = socket.local_addr().expect("address").port();
    ops.wari.post_ok(&format!(
        "/ari/channels/externalMedia?app={APP}&external_host=127.0.0.1:{port}&format=ulaw&channelId=em"
    ))
    .await;
    crate::media_support::bridge(&ops.wari, &mut ops.ws, "br", &[channel.as_str(), "em"]).await;

    // RECORDED_SECONDS of the RTP wari sends, decoded.
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    for _ in 0..RECORDED_SECONDS * 50 {
        let (len, _) = tokio::time::timeout(PEER_TIMEOUT, socket.recv_from(&mut buf))
            .await
            .expect("an RTP packet")
            .expect("receive");
        assert!(
            len > 12 && buf[1] & 0x7F == 0,
            "a PCMU packet: {:?}",
            &buf[..len.min(16)]
        );
        got.extend(
            buf[12..len]
                .iter()
                .map(|b| wari::media::codec::ulaw_to_linear(*b)),
        );
    }
    let found = contains(&got, "hello-world");
    assert!(found.share() >= 0.8, "{found:?} in {} samples", got.len());
    ops.hang_up(&channel, &mut alice).await;
}

#[tokio::test]
async fn a_muted_phone_hears_nothing_until_unmuted() {
    let mut ops = Ops::start().await;
    let (mut alice, channel) = ops.silent_call_in("alice", "wonderland").await;
    no_content(
        &ops.wari,
        Method::POST,
        &format!("/ari/channels/{channel}/mute?direction=out"),
    )
    .await;
    ops.play_through(&channel, "sound:hello-world").await;
    no_content(
        &ops.wari,
        Method::DELETE,
        &format!("/ari/channels/{channel}/mute?direction=out"),
    )
    .await;
    ops.play_through(&channel, "sound:agent-loginok").await;
    ops.hang_up(&channel, &mut alice).await;

    let heard = heard(&alice);
    let muted = contains(&heard, "hello-world");
    assert_eq!(
        muted.matched, 0,
        "hello-world was heard while muted: {muted:?}"
    );
    let unmuted = contains(&heard, "agent-loginok");
    assert!(unmuted.share() >= 0.8, "after unmute: {unmuted:?}");
}

/// Whether the 20 ms frame `frame` holds the music-on-hold tone.
fn moh_in(frame: &[i16]) -> bool {
    hears(frame, MOH_HZ, 1000.0)
}

/// The RMS level of `samples`.
fn rms(samples: &[i16]) -> f64 {
    let sum: f64 = samples.iter().map(|s| f64::from(*s).powi(2)).sum();
    (sum / samples.len().max(1) as f64).sqrt()
}

#[tokio::test]
async fn music_on_hold_on_a_phone_call_is_heard_until_stopped() {
    let mut ops = Ops::start().await;
    let (mut alice, channel) = ops.silent_call_in("alice", "wonderland").await;
    let target = format!("channels/{channel}");
    no_content(&ops.wari, Method::POST, &format!("/ari/{target}/moh")).await;
    // A second of music, then a second without (recordings of the phone as the clock).
    Ops::record_for(&ops.wari, &mut ops.ws, &target, "clock-1", 1).await;
    no_content(&ops.wari, Method::DELETE, &format!("/ari/{target}/moh")).await;
    Ops::record_for(&ops.wari, &mut ops.ws, &target, "clock-2", 1).await;
    ops.hang_up(&channel, &mut alice).await;

    let heard = heard(&alice);
    let frames: Vec<&[i16]> = heard.chunks_exact(RATE / 50).collect();
    let music: Vec<usize> = (0..frames.len()).filter(|i| moh_in(frames[*i])).collect();
    assert!(
        music.len() >= 25,
        "{} frames of music of {}",
        music.len(),
        frames.len()
    );
    // After the music stopped: silence to the end of the call (over half a second).
    let last = *music.last().expect("music");
    let after = &frames[last + 1..];
    assert!(after.len() >= 25, "{} frames after the music", after.len());
    let loud: Vec<f64> = after
        .iter()
        .map(|f| rms(f))
        .filter(|level| *level > 50.0)
        .collect();
    assert!(loud.is_empty(), "sound after the music stopped: {loud:?}");
}

#[tokio::test]
async fn continue_sends_a_phone_call_on_in_the_dialplan() {
    let mut ops = Ops::start().await;
    let (mut alice, channel) = ops.silent_call_in("alice", "wonderland").await;
    no_content(
        &ops.wari,
        Method::POST,
        &format!("/ari/channels/{channel}/continue"),
    )
    .await;
    ops.ws.next_for("StasisEnd", &channel).await;
    // Playback(hello-world), then Hangup(): the phone hears the prompt and gets a BYE.
    alice.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
    let found = contains(&heard(&alice), "hello-world");
    assert!(found.share() >= 0.8, "{found:?}");
}

#[tokio::test]
async fn digits_sent_to_a_phone_arrive_as_rfc4733_events() {
    let mut ops = Ops::start().await;
    let (mut alice, channel) = ops.silent_call_in("alice", "wonderland").await;
    no_content(
        &ops.wari,
        Method::POST,
        &format!("/ari/channels/{channel}/dtmf?dtmf=123"),
    )
    .await;
    let mut digits = String::new();
    for _ in 0..3 {
        let event = alice.wait_event("CALL_DTMF_START", PEER_TIMEOUT).await;
        digits.push_str(event["param"].as_str().unwrap_or("?"));
    }
    assert_eq!(digits, "123");
    ops.hang_up(&channel, &mut alice).await;
    // Not in the audio as well.
    let heard = heard(&alice);
    assert_eq!(keys_heard(&heard), "", "tones in the audio");
}

#[tokio::test]
async fn digits_sent_to_an_inband_phone_are_tones_in_its_audio() {
    let mut ops = Ops::start().await;
    let (mut carol, channel) = ops.silent_call_in("carol", "carrots").await;
    no_content(
        &ops.wari,
        Method::POST,
        &format!("/ari/channels/{channel}/dtmf?dtmf=123"),
    )
    .await;
    // 3 digits of 100 ms, 100 ms apart, take well under the 2 s recorded here.
    Ops::record_for(
        &ops.wari,
        &mut ops.ws,
        &format!("channels/{channel}"),
        "clock",
        2,
    )
    .await;
    ops.hang_up(&channel, &mut carol).await;
    assert_eq!(keys_heard(&heard(&carol)), "123");
}

/// The two frequencies of DTMF key `key`.
fn dtmf_pair(key: char) -> (f64, f64) {
    const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
    const COLUMNS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    let keys = ["123A", "456B", "789C", "*0#D"];
    for (row, line) in keys.iter().enumerate() {
        if let Some(column) = line.find(key) {
            return (ROWS[row], COLUMNS[column]);
        }
    }
    panic!("not a DTMF key: {key}");
}

/// A WAV in `dir`: a second of silence, then `keys` as 150 ms tones 150 ms apart, then
/// silence up to 30 s.
fn dtmf_wav(dir: &Path, keys: &str) -> PathBuf {
    let mut samples = vec![0i16; RATE];
    for key in keys.chars() {
        let (low, high) = dtmf_pair(key);
        samples.extend((0..RATE * 150 / 1000).map(|n| {
            let t = n as f64 / RATE as f64;
            let tau = 2.0 * std::f64::consts::PI;
            (6000.0 * ((tau * low * t).sin() + (tau * high * t).sin())) as i16
        }));
        samples.extend(std::iter::repeat_n(0, RATE * 150 / 1000));
    }
    samples.resize(30 * RATE, 0);
    let path = dir.join(format!("dtmf-{keys}.wav"));
    crate::sip_peers::write_wav(&path, &samples);
    path
}

#[tokio::test]
async fn tones_from_an_inband_phone_arrive_as_channel_dtmf_received() {
    let mut ops = Ops::start().await;
    let source = dtmf_wav(ops.dir.path(), "159#");
    let (mut carol, channel) = ops.call_in("carol", "carrots", &source).await;
    let mut digits = String::new();
    for _ in 0..4 {
        let event = ops.ws.next_for("ChannelDtmfReceived", &channel).await;
        digits.push_str(event["digit"].as_str().unwrap_or("?"));
    }
    assert_eq!(digits, "159#");
    ops.hang_up(&channel, &mut carol).await;
}

#[tokio::test]
async fn redirect_of_a_phone_call_checks_its_endpoint_as_asterisk_does() {
    let mut ops = Ops::start().await;
    let (mut alice, channel) = ops.silent_call_in("alice", "wonderland").await;
    let redirect = |query: &str| format!("/ari/channels/{channel}/redirect{query}");
    let reply = ops.wari.post(&redirect("")).await;
    assert_eq!(reply.status, 400, "{}", reply.text);
    let reply = ops.wari.post(&redirect("?endpoint=bob")).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        reply.message(),
        Some("Endpoint parameter 'bob' does not contain tech/resource")
    );
    let reply = ops.wari.post(&redirect("?endpoint=Local/100@ops")).await;
    assert_eq!(reply.status, 422, "{}", reply.text);
    assert_eq!(
        reply.message(),
        Some("Endpoint technology 'Local' does not match channel technology 'PJSIP'")
    );
    // The refused requests left the call as it was.
    let reply = ops.wari.get(&format!("/ari/channels/{channel}")).await;
    assert_eq!(reply.body["state"], "Up", "{}", reply.text);
    ops.hang_up(&channel, &mut alice).await;
}

#[tokio::test]
async fn redirect_of_an_answered_phone_call_transfers_it_with_refer() {
    let mut ops = Ops::start().await;
    let source = silence(ops.dir.path(), 30);
    let mut bob = Baresip::start(&ops.path("bob"), Account::local("bob", true), &source).await;
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;
    let reply = ops
        .wari
        .post(&format!(
            "/ari/channels/{channel}/redirect?endpoint=PJSIP/{}",
            bob.uri()
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.text);
    // alice's phone calls bob itself (as alice).
    let established = bob.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
    assert!(
        established["peeruri"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("sip:alice@")),
        "{established}"
    );
    // As with Asterisk, the call with wari stays until one side hangs up (baresip does not
    // after a transfer).
    ops.hang_up(&channel, &mut alice).await;
}

#[tokio::test]
async fn redirect_to_a_registered_endpoint_transfers_the_call_to_its_contact() {
    let mut ops = Ops::start().await;
    let source = silence(ops.dir.path(), 30);
    let mut bob = registered_phone(&ops.wari, ops.dir.path(), "bob", "builder", &source).await;
    let (mut alice, channel) = ops.call_in("alice", "wonderland", &source).await;
    ops.wari
        .post_ok(&format!(
            "/ari/channels/{channel}/redirect?endpoint=PJSIP/bob"
        ))
        .await;
    // alice's phone calls bob's registered contact itself (not through wari: no new
    // channel).
    let established = bob.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
    assert!(
        established["peeruri"]
            .as_str()
            .is_some_and(|uri| uri.starts_with("sip:alice@")),
        "{established}"
    );
    let channels = ops.wari.get("/ari/channels").await;
    assert_eq!(
        channels.body.as_array().map(Vec::len),
        Some(1),
        "{}",
        channels.text
    );
    ops.hang_up(&channel, &mut alice).await;
}
