//! SIP signalling end to end: wari with a `pjsip.conf` (a UDP transport on an ephemeral
//! loopback port) and the raw SIP peer of `sip_raw` (a UDP socket sending literal requests
//! and reading the answers), so nothing but wari's own stack is exercised. The
//! peer calls in (identified by its address), an ARI application sees the channel and
//! answers it, the peer hangs up; unknown callers are challenged as Asterisk does; OPTIONS
//! and methods wari does not take outside a dialog get Asterisk's answers.

use std::time::Duration;

use tokio::net::UdpSocket;

use crate::sip_fixture::{self, originate, start_watching};
use crate::sip_raw::{
    self as raw, Dialog, Message, Request, TcpPeer, bob_auth, sdp_lines, udp_transport,
};
use crate::support::{EventSocket, Wari, run_wari};

const APP: &str = "sipapp";

const DIALPLAN: &str = "[incoming]\nexten => _X.,1,Stasis(sipapp)\n";

/// A UDP transport on a port the system picks; `alice` is identified by 127.0.0.1;
/// `bob` has a password.
const PJSIP: &str = concat!(
    udp_transport!(),
    "
[alice]
type=endpoint
context=incoming
allow=ulaw
callerid=\"Alice\" <200>

[alice-ip]
type=identify
endpoint=alice
match=127.0.0.1

",
    bob_auth!(),
    "
[bob]
type=endpoint
context=incoming
allow=ulaw
auth=bob-auth
"
);

/// The same without the identify: callers are known by their From user only.
fn pjsip_without_identify() -> String {
    PJSIP.replace(
        "[alice-ip]\ntype=identify\nendpoint=alice\nmatch=127.0.0.1\n",
        "",
    )
}

/// The test's SIP phone: a raw UDP peer on 127.0.0.1 and the RTP socket its SDP offers.
struct Peer {
    sip: raw::Peer,
    /// The RTP port its SDP offers (a socket kept open so the port stays ours).
    rtp: UdpSocket,
}

impl std::ops::Deref for Peer {
    type Target = raw::Peer;

    fn deref(&self) -> &raw::Peer {
        &self.sip
    }
}

/// One call of the peer: the headers that identify its dialog.
type Call = Dialog;

/// The From of the peer's requests inside a call.
const PEER_FROM: &str = "\"Peer Phone\" <sip:peer@127.0.0.1>";

impl Peer {
    async fn new(wari: &Wari) -> Peer {
        Peer {
            sip: raw::Peer::of(wari).await,
            rtp: UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket"),
        }
    }

    fn offer(&self) -> String {
        self.offer_with(1, "sendrecv")
    }

    /// An SDP offer of version `version` with `direction`.
    fn offer_with(&self, version: u32, direction: &str) -> String {
        let port = self.rtp.local_addr().expect("rtp address").port();
        raw::sdp_offer(port, version, direction)
    }

    /// A request of `call` from `user` (the INVITE, its CANCEL, a re-INVITE): Via branch
    /// `<branch>-<From tag>`, To `to` (the Request-URI's when `None`).
    fn call_request(
        &self,
        method: &str,
        call: &Call,
        user: &str,
        cseq: u32,
        branch: &str,
        to: Option<&str>,
    ) -> Request {
        let to = to.map_or_else(|| format!("<{}>", call.uri), str::to_string);
        Request::new(method, &call.uri)
            .via("UDP", self.local(), &format!("{branch}-{}", call.from_tag))
            .header(
                "From",
                &format!(
                    "\"Peer Phone\" <sip:{user}@127.0.0.1>;tag={}",
                    call.from_tag
                ),
            )
            .header("To", &to)
            .header("Call-ID", &call.call_id)
            .cseq(cseq)
    }

    /// A re-INVITE inside `call` offering `direction`.
    async fn reinvite(&self, call: &Call, cseq: u32, direction: &str) {
        let to = call.to.clone().expect("an answered call");
        let text = self
            .call_request(
                "INVITE",
                call,
                "someone",
                cseq,
                &format!("re{cseq}"),
                Some(&to),
            )
            .header("Contact", &format!("<sip:someone@{}>", self.local()))
            .sdp(&self.offer_with(cseq, direction))
            .text();
        self.send(&text).await;
    }

    fn new_call(&self, exten: &str) -> Call {
        Dialog::new(&format!("sip:{exten}@{}", self.wari()), PEER_FROM)
    }

    /// An INVITE of `call` from `user` (with an extra header line, e.g. Authorization).
    async fn invite(&self, call: &Call, user: &str, cseq: u32, extra: &str) {
        let text = self
            .call_request("INVITE", call, user, cseq, &cseq.to_string(), None)
            .header("Contact", &format!("<sip:{user}@{}>", self.local()))
            .extra(extra)
            .sdp(&self.offer())
            .text();
        self.send(&text).await;
    }

    /// A request inside `call` (ACK, BYE, CANCEL) with CSeq `cseq`.
    async fn in_dialog(&self, call: &Call, method: &str, cseq: u32, branch: &str, extra: &str) {
        let text = call
            .request(method, cseq, self.local(), branch)
            .extra(extra)
            .text();
        self.send(&text).await;
    }

    /// An out-of-dialog request without body.
    async fn simple(&self, method: &str, user: &str) -> Message {
        let (_, request) = raw::out_of_dialog(method, "peer", user, self.local(), self.wari());
        self.send(&request.text()).await;
        self.final_response(method).await
    }
}

/// The peer calls `exten` as `someone`, the application answers (204), the peer ACKs
/// with Via branch `ack`: the call and its StasisStart.
async fn answered_call(
    wari: &Wari,
    app: &mut EventSocket,
    peer: &Peer,
    exten: &str,
    ack: &str,
) -> (Call, serde_json::Value) {
    let mut call = peer.new_call(exten);
    peer.invite(&call, "someone", 1, "").await;
    let started = app.next_of("StasisStart").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();
    sip_fixture::answer(wari, &id).await;
    let ok = peer.final_response("INVITE").await;
    call.to = ok.header("to").map(str::to_string);
    peer.in_dialog(&call, "ACK", 1, ack, "").await;
    (call, started)
}

#[tokio::test]
async fn the_banner_names_each_sip_transport_and_a_taken_port_stops_start_up() {
    let wari = sip_fixture::start(PJSIP, DIALPLAN);
    let udp = wari.sip_udp.expect("sip-udp line");
    assert!(
        wari.banner
            .iter()
            .any(|l| *l == format!("listening: sip-udp udp://{udp}")),
        "{:?}",
        wari.banner
    );
    assert_ne!(udp.port(), 0);
    assert_eq!(udp.ip().to_string(), "127.0.0.1");

    // A second wari on the same port cannot start, and says which transport failed.
    let dir = tempfile::tempdir().expect("temp dir");
    let taken = PJSIP.replace("bind=127.0.0.1:0", &format!("bind={udp}"));
    for (name, text) in [
        ("pjsip.conf", taken.as_str()),
        ("http.conf", crate::support::HTTP_CONF),
        ("ari.conf", crate::support::ARI_CONF),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write");
    }
    let config_dir = dir.path().display().to_string();
    let data_dir = dir.path().join("data").display().to_string();
    let (ok, stdout, stderr) = run_wari(&["--config-dir", &config_dir, "--data-dir", &data_dir]);
    assert!(!ok, "started on a taken port: {stdout}");
    assert!(
        stderr.contains(&format!("SIP transport udp: cannot bind udp {udp}")),
        "{stderr}"
    );
}

#[tokio::test]
async fn an_identified_peer_calls_into_stasis_is_answered_and_hangs_up() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let mut call = peer.new_call("100");
    peer.invite(&call, "someone", 1, "").await;

    let started = app.next_of("StasisStart").await;
    let channel = &started["channel"];
    let name = channel["name"].as_str().expect("name");
    let suffix = name
        .strip_prefix("PJSIP/alice-")
        .expect("PJSIP/alice-xxxxxxxx");
    assert_eq!(suffix.len(), 8, "{name}");
    assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    assert_eq!(channel["caller"]["name"], "Peer Phone");
    assert_eq!(channel["caller"]["number"], "someone");
    assert_eq!(channel["dialplan"]["context"], "incoming");
    assert_eq!(channel["dialplan"]["exten"], "100");
    assert_eq!(channel["state"], "Ring");
    let id = channel["id"].as_str().expect("id").to_string();

    let answered = wari.post(&format!("/ari/channels/{id}/answer")).await;
    assert_eq!(answered.status, 204, "{:?}", answered.body);
    let ok = peer.final_response("INVITE").await;
    assert_eq!(ok.status(), 200, "{ok:?}");
    assert_eq!(ok.header("content-type"), Some("application/sdp"));
    let sdp = sdp_lines(&ok.body);
    let media = &sdp["m"][0];
    assert!(media.starts_with("audio "), "{media}");
    assert!(media.ends_with("RTP/AVP 0 101"), "{media}");
    assert!(ok.header("contact").is_some_and(|c| c.contains("sip:")));
    call.to = ok.header("to").map(str::to_string);
    assert!(call.to.as_deref().is_some_and(|to| to.contains("tag=")));
    peer.in_dialog(&call, "ACK", 1, "ack1", "").await;

    // The peer hangs up with a cause of its own.
    peer.in_dialog(&call, "BYE", 2, "bye2", "Reason: Q.850;cause=31\r\n")
        .await;
    let bye_ok = peer.final_response("BYE").await;
    assert_eq!(bye_ok.status(), 200);
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    assert_eq!(destroyed["cause"], 31, "{destroyed}");
}

#[tokio::test]
async fn a_bye_without_reason_is_normal_clearing_and_a_hangup_before_answer_is_a_final_response() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;

    // Refused by the application before the answer: 486 for busy (cause 17).
    let call = peer.new_call("101");
    peer.invite(&call, "someone", 1, "").await;
    let started = app.next_of("StasisStart").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();
    let ring = wari.post(&format!("/ari/channels/{id}/ring")).await;
    assert_eq!(ring.status, 204);
    let ringing = peer.receive().await;
    let ringing = if ringing.status() == 100 {
        peer.receive().await
    } else {
        ringing
    };
    assert_eq!(ringing.status(), 180, "{ringing:?}");
    let busy = wari
        .delete(&format!("/ari/channels/{id}?reason_code=17"))
        .await;
    assert_eq!(busy.status, 204);
    let refused = peer.final_response("INVITE").await;
    assert_eq!(refused.status(), 486, "{refused:?}");
    assert_eq!(refused.header("reason"), Some("Q.850;cause=17"));
    let mut call = call;
    call.to = refused.header("to").map(str::to_string);
    // The ACK of a failed INVITE belongs to its transaction: the INVITE's branch.
    let branch = format!("1-{}", call.from_tag);
    peer.in_dialog(&call, "ACK", 1, &branch, "").await;

    // Answered, then a BYE without Reason: cause 16.
    let (call, started) = answered_call(&wari, &mut app, &peer, "102", "ack2").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();
    peer.in_dialog(&call, "BYE", 2, "bye3", "").await;
    assert_eq!(peer.final_response("BYE").await.status(), 200);
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
}

#[tokio::test]
async fn wari_hangs_up_an_answered_call_with_a_bye() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let (call, started) = answered_call(&wari, &mut app, &peer, "100", "ack1").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}")).await.status,
        204
    );
    let bye = peer.request_of("BYE").await;
    assert_eq!(bye.header("call-id"), Some(call.call_id.as_str()));
    assert_eq!(bye.header("reason"), Some("Q.850;cause=16"));
}

#[tokio::test]
async fn a_cancel_before_the_answer_ends_the_call_with_487() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let call = peer.new_call("100");
    peer.invite(&call, "someone", 1, "").await;
    let started = app.next_of("StasisStart").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();
    // CANCEL uses the INVITE's branch and CSeq number.
    let cancel = peer
        .call_request("CANCEL", &call, "someone", 1, "1", None)
        .text();
    peer.send(&cancel).await;
    let mut statuses = Vec::new();
    for _ in 0..raw::SIP_BUDGET {
        let message = peer.receive().await;
        statuses.push((message.cseq_method().to_string(), message.status()));
        if message.cseq_method() == "INVITE" && message.status() >= 200 {
            break;
        }
    }
    assert!(
        statuses.contains(&("CANCEL".to_string(), 200)),
        "{statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&("INVITE".to_string(), 487)),
        "{statuses:?}"
    );
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    // 487 Request Terminated maps to cause 127 (interworking) without a Reason header.
    assert_eq!(destroyed["cause"], 127, "{destroyed}");
}

/// The peer calls 100 as `from` without credentials: wari answers 401 with a digest
/// challenge of realm `asterisk`.
async fn assert_challenged(peer: &Peer, from: &str) {
    let call = peer.new_call("100");
    peer.invite(&call, from, 1, "").await;
    let answer = peer.final_response("INVITE").await;
    assert_eq!(answer.status(), 401, "{from}: {answer:?}");
    let challenge = answer.header("www-authenticate").expect("a challenge");
    assert!(
        challenge.starts_with("Digest realm=\"asterisk\""),
        "{from}: {challenge}"
    );
}

#[tokio::test]
async fn unknown_callers_and_wrong_credentials_get_the_same_challenge() {
    let wari = sip_fixture::start(&pjsip_without_identify(), DIALPLAN);
    let peer = Peer::new(&wari).await;

    // A name no endpoint has.
    assert_challenged(&peer, "mallory").await;

    // bob has a password: challenged the same way.
    assert_challenged(&peer, "bob").await;

    // A wrong answer gets a fresh challenge, not a 403.
    let call = peer.new_call("100");
    let authorization = format!(
        "Authorization: Digest username=\"bob\", realm=\"asterisk\", nonce=\"bogus\", uri=\"{}\", response=\"00000000000000000000000000000000\", algorithm=MD5\r\n",
        call.uri
    );
    peer.invite(&call, "bob", 2, &authorization).await;
    let wrong = peer.final_response("INVITE").await;
    assert_eq!(wrong.status(), 401, "{wrong:?}");

    // An endpoint without auth known by its From user name gets in.
    let call = peer.new_call("100");
    let mut app = EventSocket::watching(&wari, APP).await;
    peer.invite(&call, "alice", 1, "").await;
    let started = app.next_of("StasisStart").await;
    assert!(
        started["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("PJSIP/alice-")),
        "{started}"
    );
}

#[tokio::test]
async fn options_lists_what_wari_takes_and_other_methods_are_not_allowed() {
    let wari = sip_fixture::start(PJSIP, DIALPLAN);
    let peer = Peer::new(&wari).await;
    let options = peer.simple("OPTIONS", "alice").await;
    assert_eq!(options.status(), 200, "{options:?}");
    assert_eq!(
        options.header("allow"),
        Some("INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER")
    );
    assert_eq!(options.header("accept"), Some("application/sdp"));
    let subscribe = peer.simple("SUBSCRIBE", "alice").await;
    assert_eq!(subscribe.status(), 405, "{subscribe:?}");
    assert!(subscribe.header("allow").is_some());
}

#[tokio::test]
async fn a_reinvite_to_sendonly_holds_the_channel_and_sendrecv_takes_it_back() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let (call, started) = answered_call(&wari, &mut app, &peer, "100", "ack1").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();

    peer.reinvite(&call, 2, "sendonly").await;
    let held = peer.final_response("INVITE").await;
    assert_eq!(held.status(), 200, "{held:?}");
    assert!(
        sdp_lines(&held.body)["a"].contains(&"recvonly".to_string()),
        "{}",
        held.body
    );
    peer.in_dialog(&call, "ACK", 2, "ack2", "").await;
    let hold = app.next_for("ChannelHold", &id).await;
    assert_eq!(hold["channel"]["name"], started["channel"]["name"]);

    peer.reinvite(&call, 3, "sendrecv").await;
    let back = peer.final_response("INVITE").await;
    assert_eq!(back.status(), 200, "{back:?}");
    assert!(
        sdp_lines(&back.body)["a"].contains(&"sendrecv".to_string()),
        "{}",
        back.body
    );
    peer.in_dialog(&call, "ACK", 3, "ack3", "").await;
    app.next_for("ChannelUnhold", &id).await;
}

/// Sends `body` of `content_type` in an INFO inside `call`; the status wari answers.
/// Resent every 500 ms (T1) until answered, at most 10 times, as a phone over UDP resends
/// it: an INFO that overtakes the call's ACK is not taken until the ACK is.
async fn info(peer: &Peer, call: &Call, cseq: u32, content_type: &str, body: &str) -> u16 {
    let text = call
        .request("INFO", cseq, peer.local(), &format!("info{cseq}"))
        .body(content_type, body)
        .text();
    for _ in 0..10 {
        peer.send(&text).await;
        let answer = peer.final_response("INFO");
        if let Ok(answer) = tokio::time::timeout(Duration::from_millis(500), answer).await {
            return answer.status();
        }
    }
    panic!("INFO {cseq} unanswered after 10 sends");
}

#[tokio::test]
async fn dtmf_sent_as_sip_info_arrives_as_channel_dtmf_received() {
    // As Asterisk's res_pjsip_dtmf_info, whatever the endpoint's dtmf_mode: the digit of
    // an `application/dtmf-relay` (with its Duration) or `application/dtmf` INFO.
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let (call, started) = answered_call(&wari, &mut app, &peer, "100", "ack1").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();

    let relay = "Signal=5\r\nDuration=160\r\n";
    assert_eq!(
        info(&peer, &call, 2, "application/dtmf-relay", relay).await,
        200
    );
    let digit = app.next_for("ChannelDtmfReceived", &id).await;
    assert_eq!(digit["digit"], "5", "{digit}");
    assert_eq!(digit["duration_ms"], 160, "{digit}");

    assert_eq!(info(&peer, &call, 3, "application/dtmf", "11").await, 200);
    let digit = app.next_for("ChannelDtmfReceived", &id).await;
    assert_eq!(digit["digit"], "#", "{digit}");
    assert_eq!(digit["duration_ms"], 100, "{digit}");

    // A signal that cannot be read is 500 and no digit; an INFO of another kind is 501.
    let bad = "Signal=X9\r\n";
    assert_eq!(
        info(&peer, &call, 4, "application/dtmf-relay", bad).await,
        500
    );
    assert_eq!(info(&peer, &call, 5, "application/json", "{}").await, 501);
    assert_eq!(
        info(&peer, &call, 6, "application/dtmf-relay", "Signal=*").await,
        200
    );
    let digit = app.next_for("ChannelDtmfReceived", &id).await;
    assert_eq!(
        digit["digit"], "*",
        "the next digit after the refused ones: {digit}"
    );
}

/// `far` has no contact: calls to it need a URI.
const PJSIP_OUT: &str = concat!(
    udp_transport!(),
    "
[far]
type=endpoint
context=incoming
allow=ulaw
from_user=wari
"
);

impl Peer {
    /// Answers the INVITE `invite` with `status` (a To tag added), and SDP on 2xx.
    async fn respond(&self, invite: &Message, status: u16, reason: &str, to_tag: &str) {
        let contact = vec![format!("contact: <sip:bob@{}>", self.local())];
        let body = if (200..300).contains(&status) {
            self.offer()
        } else {
            String::new()
        };
        let text = raw::response(
            invite,
            &format!("{status} {reason}"),
            Some(to_tag),
            &contact,
            &body,
        );
        self.send(&text).await;
    }
}

#[tokio::test]
async fn a_call_out_refused_busy_ends_with_cause_17() {
    let (wari, mut app) = start_watching(PJSIP_OUT, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let endpoint = format!("PJSIP/far/sip:bob@{}", peer.local());
    let created = originate(
        &wari,
        &format!("endpoint={endpoint}&app={APP}&channelId=out1"),
    )
    .await;
    assert!(
        created["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("PJSIP/far-")),
        "{created}"
    );
    let invite = peer.request_of("INVITE").await;
    assert!(
        invite.first_line.starts_with("INVITE sip:bob@"),
        "{invite:?}"
    );
    assert!(
        invite
            .header("from")
            .is_some_and(|f| f.contains("sip:wari@")),
        "{invite:?}"
    );
    assert_eq!(invite.header("content-type"), Some("application/sdp"));
    assert!(sdp_lines(&invite.body)["m"][0].starts_with("audio "));
    peer.respond(&invite, 486, "Busy Here", "busy1").await;
    let ack = peer.request_of("ACK").await;
    assert_eq!(ack.header("call-id"), invite.header("call-id"));
    let destroyed = app.next_for("ChannelDestroyed", "out1").await;
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
}

#[tokio::test]
async fn a_dialled_call_out_answers_and_wari_hangs_up_with_a_bye() {
    let (wari, mut app) = start_watching(PJSIP_OUT, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let endpoint = format!("PJSIP/far/sip:bob@{}", peer.local());
    let created = wari
        .post(&format!(
            "/ari/channels/create?endpoint={endpoint}&app={APP}&channelId=out2"
        ))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    assert_eq!(wari.post("/ari/channels/out2/dial").await.status, 204);
    let invite = peer.request_of("INVITE").await;
    peer.respond(&invite, 180, "Ringing", "ans1").await;
    let ringing = app.next_for("ChannelStateChange", "out2").await;
    assert_eq!(ringing["channel"]["state"], "Ringing", "{ringing}");
    peer.respond(&invite, 200, "OK", "ans1").await;
    peer.request_of("ACK").await;
    let up = app.next_for("ChannelStateChange", "out2").await;
    assert_eq!(up["channel"]["state"], "Up", "{up}");
    assert_eq!(wari.delete("/ari/channels/out2").await.status, 204);
    let bye = peer.request_of("BYE").await;
    assert_eq!(bye.header("call-id"), invite.header("call-id"));
    assert_eq!(bye.header("reason"), Some("Q.850;cause=16"));
}

#[tokio::test]
async fn calling_an_endpoint_without_a_contact_fails_as_asterisk_does() {
    let wari = sip_fixture::start(PJSIP_OUT, DIALPLAN);
    let refused = wari
        .post(&format!("/ari/channels?endpoint=PJSIP/far&app={APP}"))
        .await;
    assert_eq!(refused.status, 500, "{:?}", refused.body);
    assert_eq!(refused.body["message"], "Allocation failed");
    let channels = wari.get("/ari/channels").await;
    assert_eq!(channels.body, serde_json::json!([]));
}

#[tokio::test]
async fn an_originate_refused_busy_reports_dial_status_busy() {
    // (A dial of a channel made by /channels/create reports no final status, as in
    // Asterisk: only an originate does.)
    let (wari, mut app) = start_watching(PJSIP_OUT, DIALPLAN, APP).await;
    let peer = Peer::new(&wari).await;
    let endpoint = format!("PJSIP/far/sip:bob@{}", peer.local());
    originate(
        &wari,
        &format!("endpoint={endpoint}&app={APP}&channelId=out3"),
    )
    .await;
    let invite = peer.request_of("INVITE").await;
    peer.respond(&invite, 486, "Busy Here", "busy3").await;
    let seen = app
        .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == "out3")
        .await;
    let statuses: Vec<&str> = seen
        .iter()
        .filter(|e| e["type"] == "Dial" && e["peer"]["id"] == "out3")
        .filter_map(|e| e["dialstatus"].as_str())
        .collect();
    assert_eq!(statuses.last(), Some(&"BUSY"), "{seen:#?}");
    assert_eq!(seen.last().expect("destroyed")["cause"], 17);
}

#[tokio::test]
async fn a_tcp_transport_answers_on_the_connection() {
    let pjsip = format!("{PJSIP}\n[tcp]\ntype=transport\nprotocol=tcp\nbind=127.0.0.1:0\n");
    let wari = sip_fixture::start(&pjsip, DIALPLAN);
    let tcp = wari.sip_tcp.expect("a sip-tcp line in the banner");
    assert!(
        wari.banner
            .iter()
            .any(|l| *l == format!("listening: sip-tcp tcp://{tcp}")),
        "{:?}",
        wari.banner
    );
    let mut peer = TcpPeer::of(&wari).await;
    let options = Request::new("OPTIONS", &format!("sip:alice@{tcp};transport=tcp"))
        .via("TCP", peer.local(), "tcp1")
        .header("From", "<sip:peer@127.0.0.1>;tag=tcp1")
        .header("To", &format!("<sip:alice@{tcp}>"))
        .header("Call-ID", "tcp1@peer")
        .cseq(1)
        .text();
    peer.send(&options).await;
    let answer = peer.receive().await;
    assert_eq!(answer.status(), 200, "{answer:?}");
    assert_eq!(answer.header("call-id"), Some("tcp1@peer"));
}
