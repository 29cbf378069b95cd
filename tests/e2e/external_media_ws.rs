//! External media over WebSocket (`POST /channels/externalMedia?transport=websocket`), as
//! Asterisk's chan_websocket carries it. The test plays the application (say, a speech
//! service): with `connection_type=server` it connects to `/media/<connection id>` on
//! wari's HTTP server; with `connection_type=client` it is the WebSocket server a
//! websocket_client.conf connection points at. It checks `MEDIA_START`, the channel's
//! audio as binary messages (the tone played on the other side of a bridge), that audio
//! it sends is heard there, the control commands, and that either side ends the call.
//! Hostile clients (oversized messages, garbage text, audio sent too fast, a client that
//! never reads, unknown connection ids) affect nothing but their own channel.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use wari::media::codec::{linear_to_ulaw, ulaw_to_linear};

use crate::external_media_support::{
    answering_dialplan, assert_phone_hears_700, bridge_with_local_pair, ends_in_tone,
    external_media, play_tone, start,
};
use crate::media_support::sine;
use crate::support::{ARI_CONF, EventSocket, HTTP_CONF, Wari, client, eventually};

const APP: &str = "em";

/// How long the test waits for one message.
const MESSAGE_TIMEOUT: Duration = Duration::from_secs(5);
/// Most messages read while waiting for one (20 s of audio).
const MAX_MESSAGES: usize = 1000;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Makes a server-mode WebSocket channel `id`; returns the answer.
async fn server_channel(wari: &Wari, id: &str, format: &str, extra: &str) -> Value {
    external_media(wari, &format!("app={APP}&transport=websocket&encapsulation=none&connection_type=server&format={format}&channelId={id}&data=asr{extra}"), "t-7").await
}

fn connection_id(channel: &Value) -> String {
    channel["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"]
        .as_str()
        .unwrap_or_else(|| panic!("a connection id: {channel}"))
        .to_string()
}

/// Connects to `/media/<id>` offering the `media` subprotocol.
async fn connect_media(wari: &Wari, id: &str) -> Socket {
    let mut request = format!("ws://{}/media/{id}", wari.addr())
        .into_client_request()
        .expect("request");
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "media".parse().expect("header"));
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("media WebSocket handshake");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("media")
    );
    socket
}

/// The status of a plain GET on `/media/<id>` with upgrade headers (`upgrade`) or not.
async fn media_status(wari: &Wari, id: &str, upgrade: bool) -> u16 {
    let mut request = client().get(wari.url(&format!("/media/{id}")));
    if upgrade {
        request = request
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    }
    request.send().await.expect("request").status().as_u16()
}

/// The next message (panics after [`MESSAGE_TIMEOUT`]); `None` once closed.
async fn next_message(socket: &mut Socket) -> Option<Message> {
    match tokio::time::timeout(MESSAGE_TIMEOUT, socket.next())
        .await
        .expect("a message within the timeout")
    {
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => None,
        Some(Ok(message)) => Some(message),
    }
}

/// The next text message, skipping audio.
async fn next_text(socket: &mut Socket) -> String {
    for _ in 0..MAX_MESSAGES {
        match next_message(socket).await {
            Some(Message::Text(text)) => return text.to_string(),
            Some(_) => {}
            None => panic!("the socket closed before a text message"),
        }
    }
    panic!("no text message among {MAX_MESSAGES}");
}

/// The next `STATUS` message (flow-control messages before it are skipped).
async fn next_status(socket: &mut Socket) -> String {
    for _ in 0..MAX_MESSAGES {
        let text = next_text(socket).await;
        if text.starts_with("STATUS") {
            return text;
        }
        assert!(text.starts_with("MEDIA_X"), "{text}");
    }
    panic!("no STATUS among {MAX_MESSAGES} messages");
}

/// Reads binary messages until the last 400 ms hold `freq` throughout (µ-law or
/// little-endian 16-bit at `rate`); every message is `frame` bytes. Returns how many.
async fn read_until_tone(socket: &mut Socket, frame: usize, rate: u32, freq: f32) -> usize {
    let window = (rate / 50) as usize;
    let mut audio: Vec<i16> = Vec::new();
    for n in 0..MAX_MESSAGES {
        let Some(message) = next_message(socket).await else {
            panic!("the socket closed while waiting for {freq} Hz");
        };
        let Message::Binary(bytes) = message else {
            continue;
        };
        assert_eq!(bytes.len(), frame, "one 20 ms frame per message");
        if frame == window {
            audio.extend(bytes.iter().map(|&b| ulaw_to_linear(b)));
        } else {
            audio.extend(
                bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]])),
            );
        }
        if ends_in_tone(&audio, rate, freq) {
            return n;
        }
    }
    panic!("no {freq} Hz tone in {MAX_MESSAGES} messages");
}

/// Sends one second of `freq` as µ-law, 20 ms per message, paced.
async fn send_tone(socket: &mut Socket, freq: f64) {
    let tone: Vec<i16> = sine(freq, 50 * 160).collect();
    let mut pace = tokio::time::interval(Duration::from_millis(20));
    for samples in tone.chunks_exact(160) {
        pace.tick().await;
        let payload: Vec<u8> = samples.iter().map(|&s| linear_to_ulaw(s)).collect();
        socket
            .send(Message::binary(payload))
            .await
            .expect("send audio");
    }
}

/// Waits until the socket is closed by wari (audio before the close is skipped).
async fn closed_by_wari(socket: &mut Socket) {
    for _ in 0..MAX_MESSAGES {
        if next_message(socket).await.is_none() {
            return;
        }
    }
    panic!("the socket stayed open");
}

#[tokio::test]
async fn a_server_websocket_carries_the_call_both_ways_and_hangup_ends_it() {
    let (wari, mut ws, _data) = start(APP).await;
    let channel = server_channel(&wari, "wsm", "ulaw", "").await;
    // As Asterisk: the channel as made (Down, dialled on the outgoing line), named
    // WebSocket/INCOMING/<hex>, with every variable listed.
    assert_eq!(channel["state"], "Down", "{channel}");
    let name = channel["name"].as_str().expect("name");
    assert!(name.starts_with("WebSocket/INCOMING/0x"), "{name}");
    let vars = &channel["channelvars"];
    assert_eq!(
        vars["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"], "160",
        "{channel}"
    );
    assert_eq!(vars["CALL_TAG"], "t-7", "{channel}");
    let id = connection_id(&channel);
    assert_eq!(id.len(), 36, "a UUID: {id}");
    // Nobody may connect to an id no channel waits for; a plain GET is told to upgrade.
    assert_eq!(media_status(&wari, "no-such-id", true).await, 404);
    assert_eq!(media_status(&wari, &id, false).await, 426);

    let mut socket = connect_media(&wari, &id).await;
    let start = next_text(&mut socket).await;
    assert_eq!(
        start,
        format!(
            "MEDIA_START connection_id:{id} channel:{name} channel_id:wsm format:ulaw optimal_frame_size:160 ptime:20"
        )
    );
    // Connected, the channel is answered and enters the application.
    let events = ws
        .until(|e| e["type"] == "StasisStart" && e["channel"]["id"] == "wsm")
        .await;
    // (As for any originate into an application, STASISSTATUS is also set on the way.)
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e["channel"]["id"] == "wsm" || e["peer"]["id"] == "wsm")
        .filter_map(|e| e["type"].as_str())
        .filter(|kind| *kind != "ChannelVarset")
        .collect();
    assert_eq!(
        kinds,
        ["Dial", "ChannelStateChange", "Dial", "StasisStart"],
        "{events:?}"
    );
    let dials: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|e| e["type"] == "Dial")
        .map(|e| (&e["dialstatus"], &e["dialstring"]))
        .collect();
    assert_eq!(
        dials,
        [
            (&json!(""), &json!("INCOMING")),
            (&json!("ANSWER"), &json!("INCOMING"))
        ]
    );
    let started = events.last().expect("StasisStart");
    assert_eq!(started["channel"]["state"], "Up");
    assert_eq!(started["args"], json!(["asr"]));
    // A second connection to the same id is refused.
    assert_eq!(media_status(&wari, &id, true).await, 409);

    // A tone played on the other side of a bridge arrives as 160-byte µ-law messages.
    bridge_with_local_pair(&wari, &mut ws, APP, "wsm").await;
    play_tone(&wari, "p2", "!1000/2000").await;
    read_until_tone(&mut socket, 160, 8000, 1000.0).await;
    ws.next_of("PlaybackFinished").await;

    // What the application sends is heard there.
    let over = "the phone hears the 700 Hz sent over the WebSocket";
    assert_phone_hears_700(&wari, &mut ws, send_tone(&mut socket, 700.0), over).await;

    // Digits sent on the channel reach the application; HANGUP ends the call.
    let reply = wari.post("/ari/channels/wsm/dtmf?dtmf=5").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    assert_eq!(
        next_text(&mut socket).await,
        "DTMF_END digit:5 channel_id:wsm"
    );
    socket
        .send(Message::text("HANGUP"))
        .await
        .expect("send HANGUP");
    let destroyed = ws.next_for("ChannelDestroyed", "wsm").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
    closed_by_wari(&mut socket).await;
    assert_eq!(
        media_status(&wari, &id, true).await,
        404,
        "the id is gone with the channel"
    );
}

#[tokio::test]
async fn json_control_messages_and_the_channels_hangup_closing_the_socket() {
    let (wari, mut ws, _data) = start(APP).await;
    let channel = server_channel(&wari, "wide", "slin16", "&transport_data=f(json)").await;
    assert_eq!(
        channel["channelvars"]["MEDIA_WEBSOCKET_OPTIMAL_FRAME_SIZE"], "640",
        "{channel}"
    );
    let id = connection_id(&channel);
    let mut socket = connect_media(&wari, &id).await;
    let start: Value = serde_json::from_str(&next_text(&mut socket).await).expect("JSON");
    assert_eq!(start["event"], "MEDIA_START");
    assert_eq!(start["connection_id"], id.as_str());
    assert_eq!(start["channel_id"], "wide");
    assert_eq!(start["format"], "slin16");
    assert_eq!(start["optimal_frame_size"], 640);
    assert_eq!(start["ptime"], 20);
    assert_eq!(start["channel_variables"]["CALL_TAG"], "t-7", "{start}");
    ws.next_for("StasisStart", "wide").await;

    // The channel's own playback arrives as 640-byte little-endian 16 kHz messages.
    play_tone(&wari, "wide", "!1000/2000").await;
    read_until_tone(&mut socket, 640, 16000, 1000.0).await;

    // Ten frames sent while paused stay queued; a mark after them is reported once the
    // channel has read them.
    socket
        .send(Message::text(r#"{"command":"PAUSE_MEDIA"}"#))
        .await
        .expect("send");
    socket
        .send(Message::binary(vec![0u8; 640 * 10]))
        .await
        .expect("send");
    socket
        .send(Message::text(
            r#"{"command":"MARK_MEDIA","correlation_id":"m-1"}"#,
        ))
        .await
        .expect("send");
    socket
        .send(Message::text(r#"{"command":"GET_STATUS"}"#))
        .await
        .expect("send");
    let status: Value = serde_json::from_str(&next_text(&mut socket).await).expect("JSON");
    assert_eq!(status["event"], "STATUS", "{status}");
    assert_eq!(status["queue_length"], 10, "{status}");
    assert_eq!(status["media_paused"], true, "{status}");
    assert_eq!(status["xoff_level"], 900, "{status}");
    socket
        .send(Message::text(r#"{"command":"CONTINUE_MEDIA"}"#))
        .await
        .expect("send");
    let mark: Value = serde_json::from_str(&next_text(&mut socket).await).expect("JSON");
    assert_eq!(
        mark,
        json!({"event": "MEDIA_MARK_PROCESSED", "channel_id": "wide", "correlation_id": "m-1"})
    );
    // A command that is not JSON is answered with an ERROR.
    socket.send(Message::text("HANGUP")).await.expect("send");
    let error: Value = serde_json::from_str(&next_text(&mut socket).await).expect("JSON");
    assert_eq!(error["event"], "ERROR", "{error}");

    // Hanging the channel up over ARI closes the socket.
    let reply = wari.delete("/ari/channels/wide").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    ws.next_for("ChannelDestroyed", "wide").await;
    closed_by_wari(&mut socket).await;
}

/// A WebSocket server for client connections: accepts one connection.
async fn accept_one(listener: &TcpListener) -> WebSocketStream<TcpStream> {
    let (stream, _) = tokio::time::timeout(MESSAGE_TIMEOUT, listener.accept())
        .await
        .expect("wari connects within the timeout")
        .expect("accept");
    tokio_tungstenite::accept_async(stream)
        .await
        .expect("server handshake")
}

#[tokio::test]
async fn a_client_websocket_connects_to_the_configured_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let port = listener.local_addr().expect("address").port();
    let refused = TcpListener::bind("127.0.0.1:0").await.expect("listener");
    let refused_port = refused.local_addr().expect("address").port();
    drop(refused);
    let clients = format!(
        "[speech]\ntype = websocket_client\nuri = ws://127.0.0.1:{port}/media\nprotocols = media\nconnection_type = per_call_config\nconnection_timeout = 500\n\n\
         [gone]\ntype = websocket_client\nuri = ws://127.0.0.1:{refused_port}/media\nconnection_type = per_call_config\nconnection_timeout = 500\n"
    );
    let wari = Wari::start(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("extensions.conf", &answering_dialplan(APP)),
        ("websocket_client.conf", &clients),
    ]);
    let mut ws = EventSocket::connect(&wari, &format!("app={APP}&api_key=asterisk:secret")).await;
    let reply = wari
        .post(&format!(
            "/ari/channels/externalMedia?app={APP}&transport=websocket&encapsulation=none&external_host=speech&format=ulaw&channelId=out"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body["channelvars"]["MEDIA_WEBSOCKET_CONNECTION_ID"], "speech",
        "{}",
        reply.body
    );
    let mut server = accept_one(&listener).await;
    let start = tokio::time::timeout(MESSAGE_TIMEOUT, server.next())
        .await
        .expect("MEDIA_START in time")
        .expect("open")
        .expect("frame");
    let Message::Text(start) = start else {
        panic!("MEDIA_START first: {start:?}");
    };
    assert!(
        start.starts_with("MEDIA_START connection_id:speech channel:WebSocket/speech/0x"),
        "{start}"
    );
    let started = ws.next_for("StasisStart", "out").await;
    assert_eq!(started["channel"]["state"], "Up");
    // Audio flows: the channel's silence arrives as µ-law frames.
    let frame = tokio::time::timeout(MESSAGE_TIMEOUT, async {
        loop {
            if let Some(Ok(Message::Binary(bytes))) = server.next().await {
                return bytes;
            }
        }
    })
    .await
    .expect("audio in time");
    assert_eq!(frame.len(), 160);
    // The server closing hangs the channel up.
    server.close(None).await.expect("close");
    let destroyed = ws.next_for("ChannelDestroyed", "out").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");

    // A connection that cannot be made hangs the channel up with cause 3 (no route).
    let reply = wari
        .post(&format!(
            "/ari/channels/externalMedia?app={APP}&transport=websocket&encapsulation=none&external_host=gone&format=ulaw&channelId=lost"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let destroyed = ws.next_for("ChannelDestroyed", "lost").await;
    assert_eq!(destroyed["cause"], 3, "{destroyed}");
}

#[tokio::test]
async fn hostile_media_clients_affect_only_their_own_channel() {
    let (wari, mut ws, _data) = start(APP).await;
    // A well-behaved channel bridged with a phone, which the test keeps listening to.
    let good = server_channel(&wari, "good", "ulaw", "").await;
    let mut good_socket = connect_media(&wari, &connection_id(&good)).await;
    next_text(&mut good_socket).await;
    ws.next_for("StasisStart", "good").await;
    bridge_with_local_pair(&wari, &mut ws, APP, "good").await;

    // Garbage text, over-long commands and unknown commands are ignored.
    let noisy = server_channel(&wari, "noisy", "ulaw", "").await;
    let mut noisy_socket = connect_media(&wari, &connection_id(&noisy)).await;
    next_text(&mut noisy_socket).await;
    ws.next_for("StasisStart", "noisy").await;
    let long = "X".repeat(5000);
    for text in [
        "",
        "NOT_A_COMMAND 1 2 3",
        long.as_str(),
        "\u{1F600}\u{0}\u{7}",
    ] {
        noisy_socket.send(Message::text(text)).await.expect("send");
    }
    // Audio sent far faster than real time: the queue fills to 1000 frames, MEDIA_XOFF
    // says so, and what comes while it is full is dropped.
    for _ in 0..12 {
        noisy_socket
            .send(Message::binary(vec![0xffu8; 160 * 100]))
            .await
            .expect("send");
    }
    assert_eq!(next_text(&mut noisy_socket).await, "MEDIA_XOFF");
    noisy_socket
        .send(Message::text("GET_STATUS"))
        .await
        .expect("send");
    let status = next_status(&mut noisy_socket).await;
    assert!(
        status.starts_with("STATUS channel_id:noisy queue_length:"),
        "{status}"
    );
    let length: usize = status
        .split_whitespace()
        .find_map(|f| f.strip_prefix("queue_length:"))
        .and_then(|n| n.parse().ok())
        .expect("queue length");
    assert!(
        length <= 1000,
        "never more than 1000 frames (20 s) queued: {status}"
    );
    noisy_socket
        .send(Message::text("FLUSH_MEDIA"))
        .await
        .expect("send");

    // A client that never reads: its channel's audio piles up in wari's bounded queue.
    let deaf = server_channel(&wari, "deaf", "slin16", "").await;
    let _deaf_socket = connect_media(&wari, &connection_id(&deaf)).await;
    ws.next_for("StasisStart", "deaf").await;

    // An oversized message (over 64 KiB) ends that connection and its channel.
    let big = server_channel(&wari, "big", "ulaw", "").await;
    let mut big_socket = connect_media(&wari, &connection_id(&big)).await;
    next_text(&mut big_socket).await;
    ws.next_for("StasisStart", "big").await;
    let _ = big_socket.send(Message::binary(vec![0u8; 200_000])).await;
    let destroyed = ws.next_for("ChannelDestroyed", "big").await;
    assert_eq!(destroyed["cause"], 38, "{destroyed}");

    // Connecting to ids nobody waits for is refused.
    for id in ["x", "..%2F..%2Fetc", "00000000-0000-0000-0000-000000000000"] {
        assert_eq!(media_status(&wari, id, true).await, 404, "{id}");
    }
    eventually("the refusals logged", MESSAGE_TIMEOUT, || async {
        let log = wari.log();
        let refused = log
            .lines()
            .filter(|l| {
                l.contains("media WebSocket refused") && l.contains("WebSocket instance not found")
            })
            .count();
        if refused >= 3 {
            Ok(())
        } else {
            Err(format!("{refused} refusals logged"))
        }
    })
    .await;

    // Through all this the good channel carries the call both ways.
    play_tone(&wari, "p2", "!1000/1000").await;
    read_until_tone(&mut good_socket, 160, 8000, 1000.0).await;
    ws.next_of("PlaybackFinished").await;
    let sending = send_tone(&mut good_socket, 700.0);
    assert_phone_hears_700(&wari, &mut ws, sending, "the good channel is heard").await;
    // And the noisy one still answers commands.
    noisy_socket
        .send(Message::text("GET_STATUS"))
        .await
        .expect("send");
    let status = next_status(&mut noisy_socket).await;
    assert!(status.contains("queue_length:0"), "{status}");
    let channels = wari.get("/ari/channels").await;
    let ids: Vec<&str> = channels
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    for id in ["good", "noisy", "deaf", "p1", "p2"] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
}

#[tokio::test]
async fn chan_websocket_conf_sets_the_no_show_timeout_and_the_control_format() {
    let wari = Wari::start(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("extensions.conf", &answering_dialplan(APP)),
        (
            "chan_websocket.conf",
            "[global]\nanswer_timeout = 1\ncontrol_message_format = json\n",
        ),
    ]);
    let mut ws = EventSocket::watching(&wari, APP).await;

    // A client that connects in time is answered; without f(), control messages are
    // chan_websocket.conf's JSON.
    let channel = server_channel(&wari, "shows", "ulaw", "").await;
    let mut socket = connect_media(&wari, &connection_id(&channel)).await;
    let start: Value = serde_json::from_str(&next_text(&mut socket).await).expect("JSON");
    assert_eq!(start["event"], "MEDIA_START", "{start}");
    let started = ws.next_for("StasisStart", "shows").await;
    assert_eq!(started["channel"]["state"], "Up", "{started}");
    // Nobody connects to /media/<id>: after answer_timeout (1 s) the channel is hung up
    // as an originate nobody answered (19, no answer), and its id no longer takes a
    // connection.
    let made = tokio::time::Instant::now();
    let channel = server_channel(&wari, "noshow", "ulaw", "").await;
    let id = connection_id(&channel);
    let destroyed = ws.next_for("ChannelDestroyed", "noshow").await;
    let waited = made.elapsed();
    assert_eq!(destroyed["cause"], 19, "{destroyed}");
    assert_eq!(
        destroyed["cause_txt"], "User alerting, no answer",
        "{destroyed}"
    );
    assert!(
        waited >= Duration::from_millis(900),
        "hung up after {waited:?}"
    );
    assert_eq!(media_status(&wari, &id, true).await, 404);

    // The answered channel, made before the one nobody came for, outlived the timeout.
    let (status, body) = wari.get("/ari/channels/shows").await.parts();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "Up", "{body}");
}
