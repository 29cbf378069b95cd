//! The set-up the SIP tests share: a wari started with a `pjsip.conf` and a dialplan (and,
//! for the tests with real phones, Asterisk's prompts in an `astdatadir` of its own),
//! pjsip.conf's password-protected phone accounts alice and bob, a baresip phone
//! registered to wari, a call the application made to a listening peer, and the
//! `dialstatus`es of Dial events.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::sip_peers::{Account, Baresip, PEER_TIMEOUT, prompt};
use crate::sip_raw::{Message, Peer};
use crate::support::{ARI_CONF, EventSocket, HTTP_CONF, Wari};

/// pjsip.conf's accounts alice (password `wonderland`) and bob (password `builder`): an
/// endpoint of template `phone` (which the test's configuration defines), an auth and an
/// AOR of one contact each, as a literal for `concat!`.
macro_rules! alice_and_bob_phones {
    () => {
        "
[alice](phone)
auth = alice
aors = alice

[alice]
type = auth
auth_type = userpass
username = alice
password = wonderland

[alice]
type = aor
max_contacts = 1
remove_existing = yes

[bob](phone)
auth = bob
aors = bob

[bob]
type = auth
auth_type = userpass
username = bob
password = builder

[bob]
type = aor
max_contacts = 1
remove_existing = yes
"
    };
}
pub(crate) use alice_and_bob_phones;

/// A whole pjsip.conf for phones, as a literal for `concat!`: a UDP transport on a loopback
/// port the system picks, template `phone` (context `$context`, codecs `$allow`, RFC 4733
/// digits) and [`alice_and_bob_phones!`].
macro_rules! phones_pjsip {
    ($context:literal, $allow:literal) => {
        concat!(
            "\
[udp]
type = transport
protocol = udp
bind = 127.0.0.1:0

[phone](!)
type = endpoint
context = ",
            $context,
            "
disallow = all
allow = ",
            $allow,
            "
dtmf_mode = rfc4733
",
            $crate::sip_fixture::alice_and_bob_phones!()
        )
    };
}
pub(crate) use phones_pjsip;

/// pjsip.conf's UDP transport on a loopback port the system picks and endpoint `trunk`,
/// known by its address (127.0.0.1, where SIPp runs), its calls running context `context`;
/// `extra` adds lines to the endpoint.
pub(crate) fn trunk_pjsip(context: &str, extra: &str) -> String {
    format!(
        "\
[udp]
type = transport
protocol = udp
bind = 127.0.0.1:0

[trunk]
type = endpoint
context = {context}
disallow = all
allow = ulaw
{extra}
[trunk]
type = identify
endpoint = trunk
match = 127.0.0.1
"
    )
}

/// wari with `pjsip` as its `pjsip.conf` and `dialplan` as its `extensions.conf`.
pub(crate) fn start(pjsip: &str, dialplan: &str) -> Wari {
    Wari::with(&[("pjsip.conf", pjsip), ("extensions.conf", dialplan)])
}

/// [`start`], and application `app`'s events (subscribed to all: a channel's
/// ChannelDestroyed comes after it has left the application).
pub(crate) async fn start_watching(pjsip: &str, dialplan: &str, app: &str) -> (Wari, EventSocket) {
    let wari = start(pjsip, dialplan);
    let events = EventSocket::watching(&wari, app).await;
    (wari, events)
}

/// An `astdatadir` of the test's own with Asterisk's prompts in `sounds/en`; removed
/// when dropped.
pub(crate) struct Sounds {
    dir: tempfile::TempDir,
}

impl Sounds {
    /// The directory, with the installed prompts `names` copied in.
    pub(crate) fn with_prompts(names: &[&str]) -> Sounds {
        let dir = tempfile::tempdir().expect("temp dir");
        let sounds = dir.path().join("sounds/en");
        std::fs::create_dir_all(&sounds).expect("sounds directory");
        for name in names {
            std::fs::copy(prompt(name), sounds.join(format!("{name}.wav"))).expect("copy prompt");
        }
        Sounds { dir }
    }

    /// A path in the directory.
    pub(crate) fn join(&self, path: &str) -> PathBuf {
        self.dir.path().join(path)
    }

    /// wari with HTTP, ARI, `pjsip` and `extensions`, this directory its `astdatadir`;
    /// its banner must name a SIP UDP transport.
    pub(crate) fn start(&self, pjsip: &str, extensions: &str) -> Wari {
        let asterisk = format!(
            "[directories]\nastdatadir => {}\n",
            self.dir.path().display()
        );
        let wari = Wari::start(&[
            ("http.conf", HTTP_CONF),
            ("ari.conf", ARI_CONF),
            ("extensions.conf", extensions),
            ("pjsip.conf", pjsip),
            ("asterisk.conf", &asterisk),
        ]);
        assert!(
            wari.sip_udp.is_some(),
            "a SIP UDP transport in the banner: {:?}",
            wari.banner
        );
        wari
    }
}

/// A baresip phone for endpoint `user` of `wari` in `dir/user`, with `source` as its
/// microphone, registering with `password` (not waited for).
pub(crate) async fn phone(
    wari: &Wari,
    dir: &Path,
    user: &str,
    password: &str,
    source: &Path,
) -> Baresip {
    let sip = wari.sip_udp.expect("SIP over UDP");
    let account = Account::registering(user, password, sip, true);
    Baresip::start(&dir.join(user), account, source).await
}

/// [`phone`], once it has registered.
pub(crate) async fn registered_phone(
    wari: &Wari,
    dir: &Path,
    user: &str,
    password: &str,
    source: &Path,
) -> Baresip {
    let mut phone = phone(wari, dir, user, password, source).await;
    phone.wait_event("REGISTER_OK", PEER_TIMEOUT).await;
    phone
}

/// A baresip phone `user` of `wari` (in `dir/user`, `source` its microphone), registered
/// with `password`, has called `exten`, and the application (its events on `ws`) has
/// answered the channel: the phone, and the channel's id.
pub(crate) async fn answered_call_in(
    wari: &Wari,
    ws: &mut EventSocket,
    dir: &Path,
    user: &str,
    password: &str,
    exten: &str,
    source: &Path,
) -> (Baresip, String) {
    let sip = wari.sip_udp.expect("SIP over UDP");
    let mut phone = registered_phone(wari, dir, user, password, source).await;
    phone.dial(&format!("sip:{exten}@{sip}")).await;
    let started = ws.next_of("StasisStart").await;
    let channel = started["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    let name = started["channel"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with(&format!("PJSIP/{user}-")), "{started}");
    wari.post_ok(&format!("/ari/channels/{channel}/answer"))
        .await;
    phone.wait_event("CALL_ESTABLISHED", PEER_TIMEOUT).await;
    (phone, channel)
}

/// `POST /ari/channels?{query}` (an originate, e.g.
/// `endpoint=PJSIP/far/sip:bob@127.0.0.1:5070&app=calls&channelId=out1`), which must
/// answer 200; returns the channel.
pub(crate) async fn originate(wari: &Wari, query: &str) -> Value {
    let created = wari.post(&format!("/ari/channels?{query}")).await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    created.body
}

/// The application answers channel `id` (204).
pub(crate) async fn answer(wari: &Wari, id: &str) {
    let answered = wari.post(&format!("/ari/channels/{id}/answer")).await;
    assert_eq!(answered.status, 204, "{:?}", answered.body);
}

/// [`answer`], and the raw SIP peer `peer` that called gets the 200 of its INVITE,
/// returned.
pub(crate) async fn answered(wari: &Wari, peer: &Peer, id: &str) -> Message {
    answer(wari, id).await;
    let ok = peer.final_response("INVITE").await;
    assert_eq!(ok.status(), 200, "{ok}");
    ok
}

/// Plays `media` on `channel` and waits (on the application's `events`) until it is
/// done.
pub(crate) async fn play_through(
    wari: &Wari,
    events: &mut EventSocket,
    channel: &str,
    media: &str,
) {
    let playback = wari
        .post_ok(&format!("/ari/channels/{channel}/play?media={media}"))
        .await;
    let id = playback["id"].clone();
    let finished = events
        .until(|e| e["type"] == "PlaybackFinished" && e["playback"]["id"] == id)
        .await;
    let finished = finished.last().expect("an event");
    assert_eq!(finished["playback"]["state"], "done", "{finished}");
}

/// The `dialstatus`es of the Dial events of the leg dialled with `dialstring`.
pub(crate) fn dial_statuses<'e>(events: &'e [Value], dialstring: &str) -> Vec<&'e str> {
    events
        .iter()
        .filter(|e| e["type"] == "Dial" && e["dialstring"] == dialstring)
        .filter_map(|e| e["dialstatus"].as_str())
        .collect()
}
