//! Real SIP phones against wari's PJSIP technology: baresip phones (and pjsua2) register
//! with their passwords, call in to a Stasis application and are called, and what they hear
//! and send is checked as a user would: the endpoint's state in ARI, the events the
//! application receives, and the audio the phone recorded compared with the prompt wari
//! played ([`sip_peers::audio_match`]).
//!
//! Each test starts one wari with a `pjsip.conf` of its own (UDP on an ephemeral loopback
//! port, read from the banner), Asterisk's prompts copied into its own `astdatadir`, and
//! the phones of [`sip_peers`].

use std::path::Path;
use std::time::Duration;

use crate::sip_fixture::{
    self, Sounds, answered_call_in, phones_pjsip, play_through, registered_phone,
};
use crate::sip_peers::{
    AudioMatch, Baresip, PEER_TIMEOUT, PjsuaCall, audio_match, prompt, read_wav, repeated_prompt,
    spawn_pjsua_call,
};
use crate::support::{EventSocket, Wari, eventually};

/// The application the phones' calls are handed to.
const APP: &str = "phones";

/// Endpoints alice and bob, each with a password and an AOR of its own name, their calls
/// running context `phones`.
const PJSIP_CONF: &str = phones_pjsip!("phones", "ulaw,alaw");

/// Numbers 100-399 dialled from a phone go to the application, 700 to the WebAssembly IVR
/// (`apps/ivr`), which sends a caller who presses 1 on to `ivr-result`.
const EXTENSIONS: &str = "\
[phones]
exten => _1XX,1,Stasis(phones)
 same => n,Hangup()
exten => _2XX,1,Stasis(phones)
 same => n,Hangup()
exten => _3XX,1,Stasis(phones)
 same => n,Hangup()
exten => 700,1,Stasis(ivr)
 same => n,Hangup()

[ivr-result]
exten => 1,1,Set(AFTER_IVR=${IVR_CHOICE})
 same => n,Hangup()
";

/// A wari with the phones' configuration, and the application's events socket.
struct Phones {
    wari: Wari,
    ws: EventSocket,
    /// wari's `astdatadir`, removed when dropped.
    _data: Sounds,
}

impl Phones {
    /// wari with [`PJSIP_CONF`], [`EXTENSIONS`] and the prompts `hello-world`,
    /// `demo-congrats` and `demo-instruct` in its sounds directory; application [`APP`]
    /// connected.
    async fn start() -> Phones {
        let data = Sounds::with_prompts(&["hello-world", "demo-congrats", "demo-instruct"]);
        let wari = data.start(PJSIP_CONF, EXTENSIONS);
        let ws = EventSocket::connect(&wari, &format!("app={APP}&api_key=asterisk:secret")).await;
        Phones {
            wari,
            ws,
            _data: data,
        }
    }

    /// wari's SIP address (UDP).
    fn sip(&self) -> std::net::SocketAddr {
        self.wari.sip_udp.expect("SIP over UDP")
    }

    /// The state of endpoint `PJSIP/{name}` as `GET /endpoints` shows it.
    async fn endpoint_state(&self, name: &str) -> String {
        let reply = self.wari.get(&format!("/ari/endpoints/PJSIP/{name}")).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply.body["state"].as_str().unwrap_or_default().to_string()
    }

    /// A baresip phone for endpoint `user` in `dir`, registering with `password`.
    async fn phone(&self, dir: &Path, user: &str, password: &str, source: &Path) -> Baresip {
        sip_fixture::phone(&self.wari, dir, user, password, source).await
    }
}

#[tokio::test]
async fn a_phone_registers_with_its_password_and_its_endpoint_goes_online() {
    let phones = Phones::start().await;
    assert_eq!(phones.endpoint_state("alice").await, "offline");
    let dir = tempfile::tempdir().expect("temp dir");
    let hello = prompt("hello-world");

    // A wrong password is refused, and the endpoint stays offline.
    let mut impostor = phones
        .phone(&dir.path().join("impostor"), "alice", "rabbit", &hello)
        .await;
    impostor.wait_event("REGISTER_FAIL", PEER_TIMEOUT).await;
    drop(impostor);
    assert_eq!(phones.endpoint_state("alice").await, "offline");

    let mut alice = phones
        .phone(dir.path(), "alice", "wonderland", &hello)
        .await;
    alice.wait_event("REGISTER_OK", PEER_TIMEOUT).await;
    assert_eq!(phones.endpoint_state("alice").await, "online");
    // bob has not registered.
    assert_eq!(phones.endpoint_state("bob").await, "offline");
}

impl Phones {
    /// Waits for the application's StasisStart and returns the channel's id and name.
    async fn stasis_start(&mut self) -> (String, String) {
        let event = self.ws.next_of("StasisStart").await;
        let channel = &event["channel"];
        (
            channel["id"].as_str().expect("channel id").to_string(),
            channel["name"].as_str().expect("channel name").to_string(),
        )
    }

    /// The next `count` digits of ChannelDtmfReceived events for `channel`.
    async fn digits(&mut self, channel: &str, count: usize) -> String {
        let mut digits = String::new();
        for _ in 0..count {
            let event = self.ws.next_for("ChannelDtmfReceived", channel).await;
            digits.push_str(event["digit"].as_str().unwrap_or("?"));
        }
        digits
    }

    /// A registered baresip phone `user` (its source a long prompt, so it never hangs up
    /// by itself) that has called `exten` in wari; returns it with the channel wari made,
    /// answered by the application.
    async fn answered_call(
        &mut self,
        dir: &Path,
        user: &str,
        password: &str,
        exten: &str,
    ) -> (Baresip, String) {
        let source = prompt("demo-congrats");
        self.answered_call_playing(dir, user, password, exten, &source)
            .await
    }

    /// Like [`Phones::answered_call`], with `source` as the phone's microphone (it hangs up
    /// when the file ends).
    async fn answered_call_playing(
        &mut self,
        dir: &Path,
        user: &str,
        password: &str,
        exten: &str,
        source: &Path,
    ) -> (Baresip, String) {
        answered_call_in(&self.wari, &mut self.ws, dir, user, password, exten, source).await
    }
}

impl Phones {
    /// Plays hello-world on `channel` (an answered call of `phone`) to its end, hangs the
    /// channel up, and checks that `phone` heard the prompt.
    async fn play_hello_world_and_hang_up(&mut self, channel: &str, phone: &mut Baresip) {
        play_through(&self.wari, &mut self.ws, channel, "sound:hello-world").await;
        self.wari
            .delete_ok(&format!("/ari/channels/{channel}"))
            .await;
        phone.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
        let found = heard_prompt(phone, "hello-world").await;
        assert!(found.windows >= 8, "{found:?}");
    }
}

/// Waits until the first recording of `phone` contains prompt `name` (at least 80% of its
/// sounding windows); the recording is complete only once baresip has closed it.
async fn heard_prompt(phone: &Baresip, name: &str) -> AudioMatch {
    let reference = read_wav(&prompt(name));
    eventually(
        &format!("{} hearing {name}", phone.user),
        PEER_TIMEOUT,
        || {
            let files = phone.heard();
            let found = files.first().map(|f| audio_match(&reference, &read_wav(f)));
            async move {
                match found {
                    Some(found) if found.share() >= 0.8 => Ok(found),
                    other => Err(format!("{files:?}: {other:?}")),
                }
            }
        },
    )
    .await
}

#[tokio::test]
async fn a_phone_calls_in_and_hears_the_application_play_hello_world() {
    let mut phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut bob, channel) = phones
        .answered_call(dir.path(), "bob", "builder", "100")
        .await;

    phones
        .play_hello_world_and_hang_up(&channel, &mut bob)
        .await;
}

#[tokio::test]
async fn digits_a_phone_sends_arrive_as_channel_dtmf_received() {
    let mut phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let (mut alice, channel) = phones
        .answered_call(dir.path(), "alice", "wonderland", "200")
        .await;

    alice.send_digits("159#").await;
    assert_eq!(phones.digits(&channel, 4).await, "159#");
    alice.hangup().await;
    let event = phones.ws.next_for("StasisEnd", &channel).await;
    assert_eq!(event["channel"]["id"], channel.as_str());
}

#[tokio::test]
async fn digits_pjsua2_sends_arrive_as_channel_dtmf_received() {
    let mut phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let uri = format!("sip:300@{}", phones.sip());
    let record = dir.path().join("pjsua-heard.wav");
    let call = spawn_pjsua_call(&PjsuaCall {
        uri: &uri,
        play: &prompt("demo-congrats"),
        record: &record,
        digits: "1984",
        credentials: Some(("alice", "wonderland")),
        hold: Duration::from_secs(3),
    });
    let (channel, name) = phones.stasis_start().await;
    assert!(name.starts_with("PJSIP/alice-"), "{name}");
    phones
        .wari
        .post_ok(&format!("/ari/channels/{channel}/answer"))
        .await;
    assert_eq!(phones.digits(&channel, 4).await, "1984");
    phones
        .wari
        .delete_ok(&format!("/ari/channels/{channel}"))
        .await;
    let outcome = call.await.expect("pjsua call");
    assert_eq!(outcome.status, 200, "{}", outcome.output);
}

#[tokio::test]
async fn two_phones_in_a_bridge_hear_each_other() {
    let mut phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // alice says hello-world over and over; bob says agent-loginok three times and then
    // his phone hangs up (baresip does when its source file ends).
    let alice_says = repeated_prompt(dir.path(), "hello-world", 10);
    let bob_says = repeated_prompt(dir.path(), "agent-loginok", 3);
    let (mut alice, a) = phones
        .answered_call_playing(dir.path(), "alice", "wonderland", "100", &alice_says)
        .await;
    let (mut bob, b) = phones
        .answered_call_playing(dir.path(), "bob", "builder", "101", &bob_says)
        .await;
    let bridge = phones.wari.post_ok("/ari/bridges?type=mixing").await;
    let bridge = bridge["id"].as_str().expect("bridge id").to_string();
    phones
        .wari
        .post_ok(&format!("/ari/bridges/{bridge}/addChannel?channel={a},{b}"))
        .await;

    bob.wait_event("CALL_CLOSED", Duration::from_secs(15)).await;
    phones.ws.next_for("StasisEnd", &b).await;
    phones.wari.delete_ok(&format!("/ari/channels/{a}")).await;
    alice.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;

    // Each heard the other, and not itself.
    heard_prompt(&alice, "agent-loginok").await;
    heard_prompt(&bob, "hello-world").await;
    let own = audio_match(
        &read_wav(&prompt("hello-world")),
        &read_wav(&alice.heard()[0]),
    );
    assert!(own.share() < 0.3, "alice hears herself: {own:?}");
}

#[tokio::test]
async fn the_webassembly_ivr_answers_a_phone_plays_its_menu_and_takes_a_digit() {
    let phones = Phones::start().await;
    crate::wasm_apps::deploy(&phones.wari, "ivr", "ivr").await;
    let mut watcher = EventSocket::watching(&phones.wari, "watcher").await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut alice = registered_phone(
        &phones.wari,
        dir.path(),
        "alice",
        "wonderland",
        &prompt("demo-congrats"),
    )
    .await;
    alice.dial(&format!("sip:700@{}", phones.sip())).await;
    // The IVR answers and plays its menu, hello-world first.
    alice.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
    let started = watcher.next_of("PlaybackStarted").await;
    assert_eq!(
        started["playback"]["media_uri"], "sound:hello-world",
        "{started}"
    );
    let playback = started["playback"]["id"].clone();
    let channel = started["playback"]["target_uri"]
        .as_str()
        .and_then(|t| t.strip_prefix("channel:"))
        .expect("played to a channel")
        .to_string();
    assert!(
        channel_name(&phones, &channel)
            .await
            .starts_with("PJSIP/alice-")
    );
    // hello-world played to its end: the playback goes on to the menu's next prompt.
    let next = watcher
        .until(|e| {
            e["playback"]["id"] == playback
                && (e["type"] == "PlaybackContinuing" || e["type"] == "PlaybackFinished")
        })
        .await;
    let next = next.last().expect("an event");
    assert_eq!(next["type"], "PlaybackContinuing", "{next}");
    assert_eq!(
        next["playback"]["next_media_uri"], "sound:demo-instruct",
        "{next}"
    );

    // 1 sends the call on to ivr-result with IVR_CHOICE=1, which hangs up.
    alice.send_digits("1").await;
    let mut after = None;
    for _ in 0..crate::support::EVENT_BUDGET {
        let event = watcher.next().await;
        if event["type"] == "ChannelVarset"
            && event["channel"]["id"] == channel.as_str()
            && event["variable"] == "AFTER_IVR"
        {
            after = Some(event["value"].clone());
            break;
        }
    }
    assert_eq!(after, Some(serde_json::json!("1")));
    alice.wait_event("CALL_CLOSED", PEER_TIMEOUT).await;
    let found = heard_prompt(&alice, "hello-world").await;
    assert!(found.windows >= 8, "{found:?}");
}

/// The name of channel `id` (`GET /channels/{id}`).
async fn channel_name(phones: &Phones, id: &str) -> String {
    let reply = phones.wari.get(&format!("/ari/channels/{id}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.body["name"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn an_originate_to_a_registered_phone_is_answered_and_the_phone_hears_the_app() {
    let mut phones = Phones::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let mut bob = registered_phone(
        &phones.wari,
        dir.path(),
        "bob",
        "builder",
        &prompt("demo-congrats"),
    )
    .await;

    // bob's phone answers by itself (answermode=auto).
    let created = phones
        .wari
        .post_ok(&format!("/ari/channels?endpoint=PJSIP/bob&app={APP}"))
        .await;
    let channel = created["id"].as_str().expect("channel id").to_string();
    assert!(
        created["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("PJSIP/bob-")),
        "{created}"
    );
    bob.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
    let started = phones.ws.next_for("StasisStart", &channel).await;
    assert_eq!(started["channel"]["state"], "Up", "{started}");

    phones
        .play_hello_world_and_hang_up(&channel, &mut bob)
        .await;
}
