//! External media over AudioSocket (`POST /channels/externalMedia?encapsulation=audiosocket
//! &transport=tcp`), as Asterisk's chan_audiosocket carries it. The test is the AudioSocket
//! server: wari connects to it, sends the session UUID, then 20 ms audio messages of the
//! channel (the tone played on the other side of a bridge); audio the test sends is heard
//! there, DTMF crosses both ways, and a hang-up message, an error message or wari's hang-up
//! end the call. Bad requests are refused and make nothing.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::external_media_support::{
    assert_phone_hears_700, bridge_with_local_pair, ends_in_tone, external_media, play_tone, start,
};
use crate::media_support::sine;
use crate::support::Wari;

const APP: &str = "as";

const SESSION: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

/// How long the test waits for one message.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages read while waiting for one.
const MAX_MESSAGES: usize = 1000;

/// One AudioSocket message as the test reads it: kind and payload (`None` at the end).
async fn next_message(stream: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    tokio::time::timeout(MESSAGE_TIMEOUT, async {
        let mut header = [0u8; 3];
        stream.read_exact(&mut header).await.ok()?;
        let length = usize::from(u16::from_be_bytes([header[1], header[2]]));
        let mut payload = vec![0u8; length];
        stream.read_exact(&mut payload).await.ok()?;
        Some((header[0], payload))
    })
    .await
    .expect("a message within the timeout")
}

fn message(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = vec![kind];
    bytes.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Asks for an AudioSocket channel `id` to `listener`, accepts wari's connection and
/// checks the UUID message that opens it.
async fn audiosocket_channel(
    wari: &Wari,
    listener: &TcpListener,
    id: &str,
    format: &str,
) -> (serde_json::Value, TcpStream) {
    let port = listener.local_addr().expect("address").port();
    let channel = external_media(wari, &format!("app={APP}&encapsulation=audiosocket&transport=tcp&external_host=127.0.0.1:{port}&format={format}&data={SESSION}&channelId={id}"), "a-1").await;
    let (mut stream, _) = tokio::time::timeout(MESSAGE_TIMEOUT, listener.accept())
        .await
        .expect("wari connected")
        .expect("accept");
    let (kind, payload) = next_message(&mut stream).await.expect("the UUID message");
    assert_eq!(kind, 0x01, "the UUID first");
    assert_eq!(payload, uuid_bytes(SESSION), "the session UUID, 16 bytes");
    (channel, stream)
}

fn uuid_bytes(text: &str) -> Vec<u8> {
    let hex: String = text.chars().filter(|c| *c != '-').collect();
    (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

/// Reads audio messages until the last 400 ms hold `freq` (8 kHz little-endian slin).
async fn read_until_tone(stream: &mut TcpStream, freq: f32) {
    let mut audio: Vec<i16> = Vec::new();
    for _ in 0..MAX_MESSAGES {
        let (kind, payload) = next_message(stream).await.expect("open");
        if kind != 0x10 {
            continue;
        }
        assert_eq!(payload.len(), 320, "20 ms of 8 kHz 16-bit audio");
        audio.extend(
            payload
                .chunks_exact(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]])),
        );
        if ends_in_tone(&audio, 8000, freq) {
            return;
        }
    }
    panic!("no {freq} Hz in {MAX_MESSAGES} messages");
}

/// Waits for a DTMF message, skipping audio.
async fn next_digit(stream: &mut TcpStream) -> u8 {
    for _ in 0..MAX_MESSAGES {
        let (kind, payload) = next_message(stream).await.expect("open");
        if kind == 0x03 {
            assert_eq!(payload.len(), 1);
            return payload[0];
        }
    }
    panic!("no DTMF message among {MAX_MESSAGES}");
}

/// Waits until wari closes the connection.
async fn closed_by_wari(stream: &mut TcpStream) {
    for _ in 0..MAX_MESSAGES {
        if next_message(stream).await.is_none() {
            return;
        }
    }
    panic!("the connection stayed open");
}

#[tokio::test]
async fn audiosocket_carries_the_call_both_ways_with_dtmf_and_hangup() {
    let (wari, mut ws, _data) = start(APP).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = listener.local_addr().expect("address").port();
    let (channel, mut stream) = audiosocket_channel(&wari, &listener, "aud", "slin").await;
    assert_eq!(channel["state"], "Down", "{channel}");
    assert_eq!(
        channel["name"],
        format!("AudioSocket/127.0.0.1:{port}-{SESSION}"),
        "{channel}"
    );
    let vars = &channel["channelvars"];
    assert_eq!(vars["AUDIOSOCKET_UUID"], SESSION, "{channel}");
    assert_eq!(vars["AUDIOSOCKET_SERVICE"], format!("127.0.0.1:{port}"));
    assert_eq!(vars["CALL_TAG"], "a-1");
    let started = ws.next_for("StasisStart", "aud").await;
    assert_eq!(started["channel"]["state"], "Up");
    assert_eq!(started["args"], json!([SESSION]));

    // A tone played on the other side of a bridge arrives as audio messages.
    bridge_with_local_pair(&wari, &mut ws, APP, "aud").await;
    play_tone(&wari, "p2", "!1000/2000").await;
    read_until_tone(&mut stream, 1000.0).await;
    ws.next_of("PlaybackFinished").await;

    // Audio sent in messages of 30 ms (not the channel's 20) is heard there.
    let sending = async {
        let tone: Vec<i16> = sine(700.0, 8000).collect();
        let mut pace = tokio::time::interval(Duration::from_millis(30));
        for samples in tone.chunks_exact(240) {
            pace.tick().await;
            let payload: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
            stream
                .write_all(&message(0x10, &payload))
                .await
                .expect("send audio");
        }
    };
    let over = "the phone hears the 700 Hz sent over AudioSocket";
    assert_phone_hears_700(&wari, &mut ws, sending, over).await;

    // DTMF both ways.
    stream
        .write_all(&message(0x03, b"5"))
        .await
        .expect("send DTMF");
    let digit = ws.next_for("ChannelDtmfReceived", "aud").await;
    assert_eq!(digit["digit"], "5", "{digit}");
    let reply = wari.post("/ari/channels/aud/dtmf?dtmf=7").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(next_digit(&mut stream).await, b'7');

    // The server's hang-up message ends the call.
    stream
        .write_all(&message(0x00, &[]))
        .await
        .expect("send hangup");
    let destroyed = ws.next_for("ChannelDestroyed", "aud").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
    closed_by_wari(&mut stream).await;
}

#[tokio::test]
async fn errors_and_hangups_end_audiosocket_calls_and_bad_requests_make_nothing() {
    let (wari, mut ws, _data) = start(APP).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = listener.local_addr().expect("address").port();

    // An error message from the server hangs up with cause 38.
    let (_, mut stream) = audiosocket_channel(&wari, &listener, "err", "slin").await;
    ws.next_for("StasisStart", "err").await;
    stream
        .write_all(&message(0xff, b"boom"))
        .await
        .expect("send error");
    let destroyed = ws.next_for("ChannelDestroyed", "err").await;
    assert_eq!(destroyed["cause"], 38, "{destroyed}");

    // Hanging up over ARI closes the connection; a ulaw channel still sends 20 ms.
    let (_, mut stream) = audiosocket_channel(&wari, &listener, "hup", "ulaw").await;
    ws.next_for("StasisStart", "hup").await;
    let (kind, payload) = next_message(&mut stream).await.expect("audio");
    assert_eq!((kind, payload.len()), (0x10, 160));
    let reply = wari.delete("/ari/channels/hup").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    ws.next_for("ChannelDestroyed", "hup").await;
    closed_by_wari(&mut stream).await;

    // A server that closes without a word hangs up normally.
    let (_, stream) = audiosocket_channel(&wari, &listener, "gone", "slin").await;
    ws.next_for("StasisStart", "gone").await;
    drop(stream);
    let destroyed = ws.next_for("ChannelDestroyed", "gone").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");

    // Refused before any channel: no session id, one that is not a UUID, nobody listening.
    let base = format!("app={APP}&encapsulation=audiosocket&transport=tcp&format=slin");
    let closed = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let closed_port = closed.local_addr().expect("address").port();
    drop(closed);
    let cases = [
        (
            format!("{base}&external_host=127.0.0.1:{port}"),
            400,
            "data can not be empty",
        ),
        (
            format!("{base}&external_host=127.0.0.1:{port}&data=not-a-uuid"),
            400,
            "data must be the AudioSocket session UUID, not 'not-a-uuid'",
        ),
        (
            format!("{base}&external_host=127.0.0.1:{closed_port}&data={SESSION}"),
            500,
            "",
        ),
    ];
    for (query, status, text) in &cases {
        let reply = wari
            .post(&format!("/ari/channels/externalMedia?{query}"))
            .await;
        assert_eq!(reply.status, *status, "{query}: {}", reply.body);
        if !text.is_empty() {
            assert_eq!(reply.body["message"], *text, "{query}");
        }
    }
    let channels = wari.get("/ari/channels").await;
    assert_eq!(channels.body, json!([]), "refused requests make nothing");
}
