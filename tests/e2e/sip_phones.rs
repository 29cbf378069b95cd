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

use crate::sip_peers::{Account, Baresip, PEER_TIMEOUT, prompt};
use crate::support::{ARI_CONF, EventSocket, HTTP_CONF, Wari};

/// The application the phones' calls are handed to.
const APP: &str = "phones";

/// Endpoints alice and bob, each with a password and an AOR of its own name, their calls
/// running context `phones`.
const PJSIP_CONF: &str = "\
[udp]
type = transport
protocol = udp
bind = 127.0.0.1:0

[phone](!)
type = endpoint
context = phones
disallow = all
allow = ulaw,alaw
dtmf_mode = rfc4733

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
";

/// Every number dialled from a phone goes to the application.
const EXTENSIONS: &str = "[phones]\nexten => _X.,1,Stasis(phones)\n same => n,Hangup()\n";

/// A wari with the phones' configuration, and the application's events socket.
struct Phones {
    wari: Wari,
    ws: EventSocket,
    /// wari's `astdatadir`, removed when dropped.
    _data: tempfile::TempDir,
}

impl Phones {
    /// wari with [`PJSIP_CONF`], [`EXTENSIONS`] and the prompts `hello-world` and
    /// `demo-congrats` in its sounds directory; application [`APP`] connected.
    async fn start() -> Phones {
        let data = tempfile::tempdir().expect("temp dir");
        let sounds = data.path().join("sounds/en");
        std::fs::create_dir_all(&sounds).expect("sounds directory");
        for name in ["hello-world", "demo-congrats"] {
            std::fs::copy(prompt(name), sounds.join(format!("{name}.wav"))).expect("copy prompt");
        }
        let asterisk = format!("[directories]\nastdatadir => {}\n", data.path().display());
        let wari = Wari::start(&[
            ("http.conf", HTTP_CONF),
            ("ari.conf", ARI_CONF),
            ("extensions.conf", EXTENSIONS),
            ("pjsip.conf", PJSIP_CONF),
            ("asterisk.conf", &asterisk),
        ]);
        assert!(
            wari.sip_udp.is_some(),
            "a SIP UDP transport in the banner: {:?}",
            wari.banner
        );
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
        let account = Account::registering(user, password, self.sip(), true);
        Baresip::start(&dir.join(user), account, source).await
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
