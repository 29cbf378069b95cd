//! The set-up the external media tests share (RTP in `external_media.rs`, WebSocket in
//! `external_media_ws.rs`, AudioSocket in `audiosocket.rs`): wari with an application
//! whose calls are answered, the far side of a bridge (a Local pair: `p1` bridged with the
//! external channel, `p2` the "phone"), a tone played to the phone, checking that the
//! phone hears what the test sends, and telling a tone in 20 ms windows.

use std::future::Future;

use serde_json::{Value, json};
use wari::media::detect::goertzel_power;

use crate::media_support::{
    MediaApp, assert_hears, bridge, local_pair, record, stop, stored_samples,
};
use crate::support::{EventSocket, Wari};

/// The dialplan of application `app`: any extension is answered and goes to the
/// application.
pub(crate) fn answering_dialplan(app: &str) -> String {
    format!("[{app}]\nexten => _X.,1,Answer()\n same => n,Stasis({app})\n same => n,Hangup()\n")
}

/// wari with [`answering_dialplan`] on an empty data directory, application `app`
/// connected: wari, the application's events, and the data directory (keep it bound).
pub(crate) async fn start(app: &str) -> (Wari, EventSocket, tempfile::TempDir) {
    let MediaApp { wari, ws, data } = MediaApp::start(app, &answering_dialplan(app)).await;
    (wari, ws, data)
}

/// `POST /ari/channels/externalMedia?{query}` with channel variable `CALL_TAG` set to
/// `call_tag` in the body, which must answer 200: the channel.
pub(crate) async fn external_media(wari: &Wari, query: &str, call_tag: &str) -> Value {
    let reply = wari
        .ari_with_body(
            reqwest::Method::POST,
            &format!("/ari/channels/externalMedia?{query}"),
            Some(json!({"variables": {"CALL_TAG": call_tag}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// Bridges channel `external` (of application `app`) with `p1` of a new Local pair
/// `p1`/`p2` (`Local/100@{app}`): what is played to `p2` reaches `external`.
pub(crate) async fn bridge_with_local_pair(
    wari: &Wari,
    ws: &mut EventSocket,
    app: &str,
    external: &str,
) {
    local_pair(wari, ws, app, &format!("Local/100@{app}"), "p1", "p2").await;
    bridge(wari, ws, "br", &[external, "p1"]).await;
}

/// Plays tone `tone` (e.g. `!1000/2000`) on `channel` (201).
pub(crate) async fn play_tone(wari: &Wari, channel: &str, tone: &str) {
    let reply = wari
        .post(&format!("/ari/channels/{channel}/play?media=tone:{tone}"))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
}

/// Records `p2` while `sending` (the test sending 700 Hz into the external channel) runs,
/// and asserts that the recording holds 700 Hz (against 1300 Hz): `what` says where.
pub(crate) async fn assert_phone_hears_700(
    wari: &Wari,
    ws: &mut EventSocket,
    sending: impl Future<Output = ()>,
    what: &str,
) {
    record(wari, ws, "channels/p2", "heard", "").await;
    sending.await;
    stop(wari, ws, "heard").await;
    let heard = stored_samples(wari, "heard").await;
    assert_hears(&heard, 700.0, 1300.0, what);
}

/// `freq` clearly stands out of every 20 ms window of `samples` against `other`.
pub(crate) fn tone_throughout(samples: &[i16], rate: u32, freq: f32, other: f32) -> bool {
    let window = (rate / 50) as usize;
    !samples.is_empty()
        && samples.chunks_exact(window).all(|w| {
            goertzel_power(w, freq, rate) > 100.0 * goertzel_power(w, other, rate).max(1.0)
        })
}

/// The last 400 ms of `audio` (at `rate`) hold `freq` throughout, against 1700 Hz.
pub(crate) fn ends_in_tone(audio: &[i16], rate: u32, freq: f32) -> bool {
    let recent = (rate / 50) as usize * 20;
    audio.len() >= recent && tone_throughout(&audio[audio.len() - recent..], rate, freq, 1700.0)
}
