//! Hostile SIP input end to end: wari with a `pjsip.conf` (UDP on an ephemeral loopback
//! port), a call in progress from the raw peer of `sip_raw` (literal SIP over a UDP
//! socket, RTP from its own socket), and an attacker on another socket of the same host
//! sending garbage, truncated and malformed messages, a 64 KiB datagram and an INVITE flood.
//! Each is answered (401, 400, ...) or dropped; wari keeps answering ARI and SIP, the call in
//! progress keeps its media (its RFC 4733 digits still arrive) and hangs up normally, and
//! wari's resident memory stays bounded. A SIPVicious scan (`svwar`) learns no user names,
//! and RTP from another port than the one the call latched to is not heard.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::sip_fixture::{self, start_watching};
use crate::sip_raw::{
    Dialog, Message, Peer, bob_auth, dtmf_packets, out_of_dialog, rtp_address, sdp_offer,
    udp_transport, unique,
};
use crate::support::{self, EventSocket, Wari};

const APP: &str = "hostile";

const DIALPLAN: &str = "[incoming]\nexten => _X.,1,Stasis(hostile)\n";

/// `alice` calls without a password (known by her From user), her media latched to where
/// it comes from (`rtp_symmetric`); `bob` has a password.
const PJSIP: &str = concat!(
    udp_transport!(),
    "
[alice]
type=endpoint
context=incoming
allow=ulaw
rtp_symmetric=yes

",
    bob_auth!(),
    "
[bob]
type=endpoint
context=incoming
allow=ulaw
auth=bob-auth
aors=bob

[bob]
type=aor
max_contacts=1
"
);

/// INVITEs in the flood (half from an unknown user, half from `bob` with a wrong digest).
const FLOOD: usize = 2_000;

/// INVITEs of the flood sent every 10 ms.
const FLOOD_BATCH: usize = 20;

/// The most wari's resident memory may grow over all the attacks.
const RSS_GROWTH_LIMIT_KIB: u64 = 100 * 1024;

/// A socket that talks SIP to wari.
struct Sip {
    peer: Peer,
}

impl std::ops::Deref for Sip {
    type Target = Peer;

    fn deref(&self) -> &Peer {
        &self.peer
    }
}

impl Sip {
    async fn new(wari: &Wari) -> Sip {
        Sip {
            peer: Peer::of(wari).await,
        }
    }

    /// An out-of-dialog request of `method` from `user` to `exten`, with extra header
    /// lines and a body; returns its Call-ID.
    fn request(
        &self,
        method: &str,
        user: &str,
        exten: &str,
        extra: &str,
        body: &str,
    ) -> (String, String) {
        let (call_id, request) = out_of_dialog(method, user, exten, self.local(), self.wari());
        (call_id, request.extra(extra).sdp(body).text())
    }

    /// OPTIONS outside a dialog must get 200: wari's SIP side still answers.
    async fn still_answers(&self, after: &str) -> Vec<u16> {
        let (call_id, text) = self.request("OPTIONS", "probe", "probe", "", "");
        self.send(text.as_bytes()).await;
        let (ok, others) = self.final_response_of("OPTIONS", &call_id).await;
        assert_eq!(ok.status(), 200, "OPTIONS after {after}: {ok}");
        others
    }
}

/// The call in progress: alice's phone, answered by the application.
struct Call {
    sip: Sip,
    rtp: UdpSocket,
    /// Where wari takes the call's RTP (its answer's SDP).
    wari_rtp: SocketAddr,
    dialog: Dialog,
    channel: String,
    seq: u16,
}

fn offer(rtp_port: u16) -> String {
    sdp_offer(rtp_port, 1, "sendrecv")
}

impl Call {
    /// Alice calls extension 100; the application answers.
    async fn start(wari: &Wari, app: &mut EventSocket) -> Call {
        let sip = Sip::new(wari).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
        let body = offer(rtp.local_addr().expect("rtp").port());
        let (call_id, text) = sip.request("INVITE", "alice", "100", "", &body);
        sip.send(text.as_bytes()).await;
        let started = app.next_of("StasisStart").await;
        let channel = started["channel"]["id"].as_str().expect("id").to_string();
        let answered = wari.post(&format!("/ari/channels/{channel}/answer")).await;
        assert_eq!(answered.status, 204, "{:?}", answered.body);
        let (ok, _) = sip.final_response_of("INVITE", &call_id).await;
        assert_eq!(ok.status(), 200, "{ok}");
        let call = Call {
            wari_rtp: rtp_address(&ok),
            dialog: Dialog::answered(&text, &ok),
            sip,
            rtp,
            channel,
            seq: 1000,
        };
        call.in_dialog("ACK", 1).await;
        call
    }

    async fn in_dialog(&self, method: &str, cseq: u32) {
        let request = self
            .dialog
            .request(method, cseq, self.sip.local(), &unique());
        self.sip.send(request.text()).await;
    }

    /// Sends `digit` as RFC 4733 from `from` (the call's own RTP socket unless another).
    async fn digit(&mut self, digit: u8, from: Option<&UdpSocket>) {
        let socket = from.unwrap_or(&self.rtp);
        let timestamp = u32::from(self.seq) * 1000;
        for packet in dtmf_packets(digit, self.seq, timestamp) {
            socket
                .send_to(&packet, self.wari_rtp)
                .await
                .expect("RTP send");
        }
        self.seq = self.seq.wrapping_add(6);
    }

    /// The next digit the application hears on the call.
    async fn heard(&self, app: &mut EventSocket) -> String {
        let event = app.next_for("ChannelDtmfReceived", &self.channel).await;
        event["digit"].as_str().expect("digit").to_string()
    }

    /// The peer hangs up: 200 to its BYE, and the channel is destroyed.
    async fn hang_up(&self, app: &mut EventSocket) {
        self.in_dialog("BYE", 2).await;
        let (ok, _) = self
            .sip
            .final_response_of("BYE", &self.dialog.call_id)
            .await;
        assert_eq!(ok.status(), 200, "{ok}");
        let destroyed = app.next_for("ChannelDestroyed", &self.channel).await;
        assert_eq!(destroyed["cause"], 16, "{destroyed}");
    }
}

/// The status of a datagram wari sent (0 when it is no response).
fn status(datagram: &[u8]) -> u16 {
    Message::parse(&String::from_utf8_lossy(datagram)).status()
}

/// wari's resident set size in KiB (`VmRSS` of /proc/<pid>/status).
fn rss_kib(wari: &Wari) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", wari.pid())).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Datagrams no SIP parser should take, or that take it to its edges.
fn malformed(local: SocketAddr, wari: SocketAddr) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    // Garbage: bytes of a fixed pseudo-random sequence (xorshift), several lengths.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in [1usize, 17, 300, 1400, 8000] {
        let bytes = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        out.push((format!("{len} random bytes"), bytes));
    }
    let id = unique();
    let good = format!(
        "INVITE sip:100@{wari} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-m{id};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:mallory@127.0.0.1>;tag=m{id}\r\n\
         To: <sip:100@{wari}>\r\n\
         Call-ID: m{id}@attacker\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:mallory@{local}>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {len}\r\n\r\n{body}",
        body = offer(9),
        len = offer(9).len(),
    );
    for cut in [5, 20, good.len() / 2, good.len() - 10] {
        out.push((
            format!("INVITE cut at {cut}"),
            good.as_bytes()[..cut].to_vec(),
        ));
    }
    out.push((
        "headers without values".into(),
        format!(
            "INVITE sip:100@{wari} SIP/2.0\r\nVia:\r\nFrom:\r\nTo:\r\nCall-ID:\r\nCSeq:\r\n\
             Contact:\r\nAuthorization:\r\nExpires:\r\nReason:\r\nContent-Length:\r\n\r\n"
        )
        .into_bytes(),
    ));
    out.push((
        "values of the wrong shape".into(),
        format!(
            "REGISTER sip:{wari} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-w{id}\r\n\
             From: <sip:bob@127.0.0.1>;tag=w\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: w{id}\r\n\
             CSeq: 99999999999999999999 REGISTER\r\nContact: <<<sip:>>>;expires=-1\r\n\
             Expires: 18446744073709551616\r\nAuthorization: Digest ,,,,=,=\"\r\n\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes(),
    ));
    for length in ["4294967295", "99999999999999999999999", "-1", "0x10"] {
        out.push((
            format!("Content-Length {length}"),
            good.replace(
                &format!("Content-Length: {}", offer(9).len()),
                &format!("Content-Length: {length}"),
            )
            .replace(
                &format!("m{id}@attacker"),
                &format!("{length}{id}@attacker"),
            )
            .into_bytes(),
        ));
    }
    // Many headers (as many as fit rsipstack's 8 KiB datagram buffer, and then some).
    let many: String = (0..1_500).map(|i| format!("X-{i}: a\r\n")).collect();
    out.push((
        "1,500 headers".into(),
        good.replacen("Max-Forwards: 70\r\n", &many, 1)
            .replace(&format!("m{id}@attacker"), &format!("many{id}@attacker"))
            .into_bytes(),
    ));
    // A 64 KiB datagram (the most UDP carries): an OPTIONS with one enormous header.
    let huge = "x".repeat(65_400);
    out.push((
        "64 KiB datagram".into(),
        format!(
            "OPTIONS sip:{wari} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK-big{id}\r\n\
             From: <sip:mallory@127.0.0.1>;tag=big\r\nTo: <sip:{wari}>\r\nCall-ID: big{id}\r\n\
             CSeq: 1 OPTIONS\r\nX-Huge: {huge}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()[..65_507]
            .to_vec(),
    ));
    out
}

#[tokio::test]
async fn malformed_oversized_and_flooded_sip_is_answered_or_dropped_and_the_call_goes_on() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let mut call = Call::start(&wari, &mut app).await;
    // Media flows (and the call latches to its RTP socket).
    call.digit(b'1', None).await;
    assert_eq!(call.heard(&mut app).await, "1");
    let rss_before = rss_kib(&wari);

    // Malformed and oversized datagrams, each followed by a request that must be answered.
    let attacker = Sip::new(&wari).await;
    for (what, datagram) in malformed(attacker.local(), attacker.wari()) {
        attacker.send(&datagram).await;
        let answers = attacker.still_answers(&what).await;
        assert!(
            answers
                .iter()
                .all(|s| [100, 400, 401, 405, 481].contains(s)),
            "{what} was answered {answers:?}"
        );
    }

    // An INVITE flood from one source: an unknown user, and bob with a wrong password.
    let flood = Sip::new(&wari).await;
    let started = Instant::now();
    let mut statuses: Vec<u16> = Vec::new();
    let mut buffer = vec![0u8; 65536];
    // Paced at FLOOD_BATCH INVITEs every 10 ms (2,000 a second), a rate, not a wait.
    let mut pace = tokio::time::interval(Duration::from_millis(10));
    for i in 0..FLOOD {
        if i % FLOOD_BATCH == 0 {
            pace.tick().await;
        }
        let (user, extra) = if i % 2 == 0 {
            ("mallory", String::new())
        } else {
            (
                "bob",
                format!(
                    "Authorization: Digest username=\"bob\", realm=\"asterisk\", \
                     nonce=\"{i}/00\", uri=\"sip:100@{}\", response=\"{:032x}\", algorithm=MD5\r\n",
                    flood.wari(),
                    i
                ),
            )
        };
        let (_, text) = flood.request("INVITE", user, "100", &extra, &offer(9));
        flood.send(text.as_bytes()).await;
        // Whatever has come back so far (the socket's buffer must not fill).
        while let Ok((len, _)) = flood.socket.try_recv_from(&mut buffer) {
            statuses.push(status(&buffer[..len]));
        }
    }
    let sent_in = started.elapsed();
    // The answers still on their way: read until a second passes without one (bounded).
    for _ in 0..FLOOD * 4 {
        match tokio::time::timeout(Duration::from_secs(1), flood.socket.recv_from(&mut buffer))
            .await
        {
            Ok(Ok((len, _))) => statuses.push(status(&buffer[..len])),
            _ => break,
        }
    }
    let challenged = statuses.iter().filter(|s| **s == 401).count();
    eprintln!(
        "flood: {FLOOD} INVITEs sent in {sent_in:?}; {} responses, {challenged} of them 401",
        statuses.len()
    );
    assert!(
        sent_in < Duration::from_secs(10),
        "the flood took {sent_in:?}"
    );
    assert!(
        statuses.iter().all(|s| [100, 401].contains(s)),
        "flood answers other than 100/401: {:?}",
        statuses
            .iter()
            .filter(|s| ![100, 401].contains(*s))
            .collect::<Vec<_>>()
    );
    assert!(
        challenged >= FLOOD / 2,
        "only {challenged} of {FLOOD} challenged"
    );

    // ARI answers, only the call in progress exists, SIP answers.
    let info = wari.get("/ari/asterisk/info").await;
    assert_eq!(info.status, 200);
    let channels = wari.get("/ari/channels").await;
    assert_eq!(channels.status, 200);
    let ids: Vec<&str> = channels
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["id"].as_str())
        .collect();
    assert_eq!(ids, vec![call.channel.as_str()], "{:?}", channels.body);
    attacker.still_answers("the flood").await;

    let rss_after = rss_kib(&wari);
    eprintln!("wari VmRSS: {rss_before} KiB before the attacks, {rss_after} KiB after");
    assert!(
        rss_after < rss_before + RSS_GROWTH_LIMIT_KIB,
        "VmRSS grew from {rss_before} KiB to {rss_after} KiB"
    );

    // The call in progress still has its media, and hangs up normally.
    call.digit(b'2', None).await;
    assert_eq!(call.heard(&mut app).await, "2");
    call.hang_up(&mut app).await;
}

#[tokio::test]
async fn rtp_from_another_port_after_latching_is_not_heard() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let mut call = Call::start(&wari, &mut app).await;
    call.digit(b'1', None).await;
    assert_eq!(call.heard(&mut app).await, "1");

    // Another socket of the same host sends a digit to the call's RTP port: not heard;
    // the next digit the application gets is the call's own.
    let intruder = UdpSocket::bind("127.0.0.1:0").await.expect("socket");
    call.digit(b'9', Some(&intruder)).await;
    call.digit(b'5', None).await;
    assert_eq!(call.heard(&mut app).await, "5");
    call.hang_up(&mut app).await;
}

/// The venv's SIPVicious tool `name` (installed by scripts/setup-test-deps).
fn sipvicious(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/clients/python/.venv");
    let tool = dir.join("bin").join(name);
    assert!(
        tool.is_file(),
        "SIPVicious is not installed ({} is missing): run scripts/setup-test-deps",
        tool.display()
    );
    tool
}

#[tokio::test]
async fn a_sipvicious_scan_finds_wari_but_no_user_names() {
    let wari = sip_fixture::start(PJSIP, DIALPLAN);
    let target = wari.sip_udp.expect("SIP UDP");
    let home = tempfile::tempdir().expect("home");

    // svmap finds a SIP server there.
    let mut svmap = Command::new(sipvicious("sipvicious_svmap"));
    support::isolate(&mut svmap, home.path()).args([
        "127.0.0.1",
        "-p",
        &target.port().to_string(),
        "-t",
        "0.05",
    ]);
    let map = support::run_limited(svmap, Duration::from_secs(30));
    assert!(
        map.stdout.contains(&format!("127.0.0.1:{}", target.port())),
        "{}\n{}",
        map.stdout,
        map.stderr
    );

    // svwar tries names (bob exists, with a password; alice exists without one but has no
    // AOR to register to) by REGISTER and by INVITE: every name is challenged alike.
    let names = home.path().join("names.txt");
    std::fs::write(&names, "bob\nmallory\nadmin\n100\n").expect("names");
    for method in ["REGISTER", "INVITE"] {
        let mut svwar = Command::new(sipvicious("sipvicious_svwar"));
        support::isolate(&mut svwar, home.path())
            .arg("127.0.0.1")
            .args([
                "-p",
                &target.port().to_string(),
                "-m",
                method,
                "-t",
                "0.05",
                "-d",
            ])
            .arg(&names);
        let war = support::run_limited(svwar, Duration::from_secs(60));
        let output = format!("{}\n{}", war.stdout, war.stderr);
        eprintln!("svwar -m {method}:\n{output}");
        assert!(
            output.contains("found nothing"),
            "svwar -m {method}:\n{output}"
        );
        assert!(
            !output.contains("| bob"),
            "svwar -m {method} found bob:\n{output}"
        );
    }

    // Forced past its sanity check, svwar sees every name answered alike: bob's line (if
    // any) is the same as the made-up names'.
    let mut svwar = Command::new(sipvicious("sipvicious_svwar"));
    support::isolate(&mut svwar, home.path())
        .arg("127.0.0.1")
        .args([
            "-p",
            &target.port().to_string(),
            "--force",
            "-t",
            "0.05",
            "-d",
        ])
        .arg(&names);
    let war = support::run_limited(svwar, Duration::from_secs(60));
    let output = format!("{}\n{}", war.stdout, war.stderr);
    eprintln!("svwar --force:\n{output}");
    let verdict = |name: &str| {
        output
            .lines()
            .find(|l| l.split('|').nth(1).is_some_and(|n| n.trim() == name))
            .map(|l| l.split('|').nth(2).unwrap_or_default().trim().to_string())
    };
    for name in ["mallory", "admin", "100"] {
        assert_eq!(
            verdict("bob"),
            verdict(name),
            "bob told apart from {name}:\n{output}"
        );
    }
}
