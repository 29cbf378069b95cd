//! `moh_passthrough=yes`: an ARI hold of a SIP channel is an in-dialog re-INVITE offering
//! `a=sendonly` and the unhold one offering `a=sendrecv` (chan_pjsip's `remote_send_hold`),
//! no music on hold; with the default `no` the phone hears wari's music and no re-INVITE
//! comes. Against raw SIP peers on loopback (`sip_raw`), for calls in and out: what the
//! peer receives (the re-INVITEs, their SDP, the ACKs of their answers), the 491 a re-INVITE
//! of the peer's gets while ours is in flight, holds asked during one re-INVITE sent after
//! it (coalesced), a refused re-INVITE leaving the call up, and the audio coming back.
//! The far end's own hold of a call wari placed is answered too (ChannelHold, ChannelUnhold).
//! Also what an ARI redirect of a ringing call out does: 412, as in Asterisk (whose
//! `channel_state_invalid` refuses it before chan_pjsip could send a REFER in the early
//! dialog), and nothing reaches the far end.

use serde_json::Value;
use tokio::net::UdpSocket;

use crate::media_support::{assert_hears, hears, sine, write_wav};
use crate::sip_raw::{
    Dialog, Message, Peer, Request, SIP_BUDGET, UDP_TRANSPORT, out_of_dialog, response, sdp_lines,
    sdp_offer, unique,
};
use crate::support::{EventSocket, Wari};

const APP: &str = "passthrough";

/// `held` and `trunk` hold with re-INVITEs, `desk` with music on hold (the default); the
/// phones are known by their From user.
fn pjsip() -> String {
    format!(
        "{UDP_TRANSPORT}\n[held]\ntype=endpoint\ncontext=calls\nallow=ulaw\nmoh_passthrough=yes\n\n\
         [trunk]\ntype=endpoint\ncontext=calls\nallow=ulaw\nmoh_passthrough=yes\n\n\
         [desk]\ntype=endpoint\ncontext=calls\nallow=ulaw\n"
    )
}

const INTO_APP: &str = "[calls]\nexten => _X.,1,Stasis(passthrough)\n same => n,Hangup()\n";

/// A wari whose default music-on-hold class (`<data dir>/moh`) is a 440 Hz tone; the
/// directory lives as long as it is kept.
pub(crate) fn wari_with_music() -> (Wari, tempfile::TempDir) {
    let data = tempfile::tempdir().expect("temp dir");
    write_wav(&data.path().join("moh/tone.wav"), sine(440.0, 16_000));
    let asterisk = format!("[directories]\nastdatadir => {}\n", data.path().display());
    let pjsip = pjsip();
    let wari = Wari::with(&[
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", INTO_APP),
        ("asterisk.conf", asterisk.as_str()),
    ]);
    (wari, data)
}

pub(crate) async fn events(wari: &Wari) -> EventSocket {
    EventSocket::connect(
        wari,
        &format!("app={APP}&subscribeAll=true&api_key=asterisk:secret"),
    )
    .await
}

/// A call in from `user` at `peer` (RTP at 127.0.0.1:`rtp_port`), answered by the
/// application and acknowledged: the dialog, wari's 200 and the channel's id.
pub(crate) async fn answered_call_in(
    wari: &Wari,
    app: &mut EventSocket,
    peer: &Peer,
    user: &str,
    rtp_port: u16,
) -> (Dialog, Message, String) {
    let (_, invite) = out_of_dialog("INVITE", user, "100", peer.local(), peer.wari());
    let invite = invite.sdp(&sdp_offer(rtp_port, 1, "sendrecv")).text();
    peer.send(&invite).await;
    let start = app.next_of("StasisStart").await;
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    assert_eq!(
        wari.post(&format!("/ari/channels/{id}/answer"))
            .await
            .status,
        204
    );
    let ok = peer.final_response("INVITE").await;
    assert_eq!(ok.status(), 200, "{ok}");
    let dialog = Dialog::answered(&invite, &ok);
    peer.send(dialog.request("ACK", 1, peer.local(), &unique()).text())
        .await;
    (dialog, ok, id)
}

/// The CSeq number of a message.
pub(crate) fn cseq(message: &Message) -> u32 {
    message
        .header("cseq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a CSeq number")
}

/// The next INVITE from wari with a CSeq above `after` (retransmissions of earlier ones
/// and other requests are skipped).
pub(crate) async fn reinvite_after(peer: &Peer, after: u32) -> Message {
    for _ in 0..SIP_BUDGET {
        let message = peer.receive().await;
        if message.is_request("INVITE") && cseq(&message) > after {
            return message;
        }
    }
    panic!("no re-INVITE from wari after CSeq {after}");
}

/// The ACK wari sends for the final response to its INVITE with CSeq `number`.
pub(crate) async fn ack_of(peer: &Peer, number: u32) -> Message {
    for _ in 0..SIP_BUDGET {
        let message = peer.receive().await;
        if message.is_request("ACK") && cseq(&message) == number {
            return message;
        }
    }
    panic!("no ACK for CSeq {number}");
}

/// The direction attribute of an SDP body.
pub(crate) fn direction(sdp: &str) -> Option<String> {
    sdp_lines(sdp)
        .get("a")?
        .iter()
        .find(|a| ["sendrecv", "sendonly", "recvonly", "inactive"].contains(&a.as_str()))
        .cloned()
}

/// The `o=` line's session version.
fn version(sdp: &str) -> u64 {
    sdp_lines(sdp)
        .get("o")
        .and_then(|o| o.first())
        .and_then(|o| o.split_whitespace().nth(2))
        .and_then(|v| v.parse().ok())
        .expect("an o= version")
}

/// The `m=` and `c=` lines of an SDP body (where and what the media is).
fn media_lines(sdp: &str) -> (Vec<String>, Vec<String>) {
    let lines = sdp_lines(sdp);
    (
        lines.get("m").cloned().unwrap_or_default(),
        lines.get("c").cloned().unwrap_or_default(),
    )
}

/// The next `count` RTP payloads `rtp` receives (PCMU), decoded.
pub(crate) async fn heard(rtp: &UdpSocket, count: usize) -> Vec<i16> {
    let mut samples = Vec::new();
    let mut buffer = [0u8; 2048];
    for _ in 0..count {
        let (len, _) =
            tokio::time::timeout(crate::sip_raw::SIP_TIMEOUT, rtp.recv_from(&mut buffer))
                .await
                .expect("an RTP packet")
                .expect("receive");
        assert!(len > 12 && buffer[1] & 0x7F == 0, "a PCMU packet");
        samples.extend(
            buffer[12..len]
                .iter()
                .map(|b| wari::media::codec::ulaw_to_linear(*b)),
        );
    }
    samples
}

/// Drops what `socket` has received so far; what was dropped, parsed when it is SIP.
pub(crate) fn drain(socket: &UdpSocket) -> Vec<Message> {
    let mut buffer = [0u8; 65536];
    let mut dropped = Vec::new();
    for _ in 0..10_000 {
        let Ok((len, _)) = socket.try_recv_from(&mut buffer) else {
            break;
        };
        dropped.push(Message::parse(&String::from_utf8_lossy(&buffer[..len])));
    }
    dropped
}

/// The channel's state as ARI shows it.
async fn state_of(wari: &Wari, id: &str) -> Value {
    let channel = wari.get(&format!("/ari/channels/{id}")).await;
    assert_eq!(channel.status, 200, "the channel is still there");
    channel.body["state"].clone()
}

#[tokio::test]
async fn an_ari_hold_of_a_call_in_is_a_sendonly_reinvite_and_the_unhold_a_sendrecv_one() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let peer = Peer::of(&wari).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let rtp_port = rtp.local_addr().expect("RTP address").port();
    let (dialog, ok, id) = answered_call_in(&wari, &mut app, &peer, "held", rtp_port).await;

    // Held: a re-INVITE in the call offering sendonly, same media, the version one more.
    assert_eq!(
        wari.post(&format!("/ari/channels/{id}/hold")).await.status,
        204
    );
    let hold = reinvite_after(&peer, 0).await;
    assert_eq!(hold.header("call-id"), Some(dialog.call_id.as_str()));
    assert_eq!(
        hold.header("to").map(|to| to.contains(&dialog.from_tag)),
        Some(true),
        "to the phone's tag: {hold}"
    );
    assert_eq!(direction(&hold.body).as_deref(), Some("sendonly"), "{hold}");
    assert_eq!(media_lines(&hold.body), media_lines(&ok.body), "{hold}");
    assert_eq!(version(&hold.body), version(&ok.body) + 1, "{hold}");

    // The phone's own re-INVITE meanwhile: 491, ours is pending (RFC 3261 section 14.2).
    let branch = unique();
    let theirs = dialog
        .request("INVITE", 2, peer.local(), &branch)
        .header("Contact", &format!("<sip:held@{}>", peer.local()))
        .sdp(&sdp_offer(rtp_port, 2, "sendrecv"))
        .text();
    peer.send(&theirs).await;
    let (pending, _) = peer.final_response_of("INVITE", &dialog.call_id).await;
    assert_eq!(pending.status(), 491, "{pending}");
    peer.send(dialog.request("ACK", 2, peer.local(), &branch).text())
        .await;

    // The phone takes the hold; wari acknowledges its answer.
    let contact = format!("Contact: <sip:held@{}>", peer.local());
    peer.reply(
        &hold,
        &response(
            &hold,
            "200 OK",
            None,
            std::slice::from_ref(&contact),
            &sdp_offer(rtp_port, 3, "recvonly"),
        ),
    )
    .await;
    ack_of(&peer, cseq(&hold)).await;
    // No music while held: the phone plays its own, if any.
    drain(&rtp);
    let held = heard(&rtp, 50).await;
    assert!(
        !hears(&held[1600..], 440.0, 1000.0),
        "no music on hold from wari"
    );

    // Unheld: a re-INVITE offering sendrecv; the application's audio comes through.
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}/hold"))
            .await
            .status,
        204
    );
    let unhold = reinvite_after(&peer, cseq(&hold)).await;
    assert_eq!(
        direction(&unhold.body).as_deref(),
        Some("sendrecv"),
        "{unhold}"
    );
    assert_eq!(media_lines(&unhold.body), media_lines(&ok.body), "{unhold}");
    assert_eq!(version(&unhold.body), version(&hold.body) + 1, "{unhold}");
    peer.reply(
        &unhold,
        &response(
            &unhold,
            "200 OK",
            None,
            std::slice::from_ref(&contact),
            &sdp_offer(rtp_port, 4, "sendrecv"),
        ),
    )
    .await;
    ack_of(&peer, cseq(&unhold)).await;
    assert_eq!(state_of(&wari, &id).await, "Up");
    let played = wari
        .post(&format!("/ari/channels/{id}/play?media=tone:1000"))
        .await;
    assert_eq!(played.status, 201, "{:?}", played.body);
    app.next_of("PlaybackStarted").await;
    drain(&rtp);
    let after = heard(&rtp, 50).await;
    assert_hears(
        &after[1600..],
        1000.0,
        440.0,
        "the application's tone after unhold",
    );
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}")).await.status,
        204
    );
    peer.request_of("BYE").await;
}

#[tokio::test]
async fn holds_of_a_call_out_are_sent_one_at_a_time_and_a_refused_one_leaves_the_call_up() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let far = Peer::listening().await;
    let created = wari
        .post(&format!(
            "/ari/channels?endpoint=PJSIP/trunk/sip:dave@{}&app={APP}&channelId=out",
            far.local()
        ))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let invite = far.request_of("INVITE").await;
    let contact = format!("Contact: <sip:dave@{}>", far.local());
    far.reply(
        &invite,
        &response(
            &invite,
            "200 OK",
            Some("d1"),
            std::slice::from_ref(&contact),
            &sdp_offer(4010, 1, "sendrecv"),
        ),
    )
    .await;
    ack_of(&far, cseq(&invite)).await;
    app.next_for("ChannelStateChange", "out").await;

    // A hold: wari's re-INVITE in its own dialog (its From tag, the far end's To tag).
    assert_eq!(wari.post("/ari/channels/out/hold").await.status, 204);
    let first = reinvite_after(&far, cseq(&invite)).await;
    assert_eq!(first.header("call-id"), invite.header("call-id"));
    assert!(
        first.header("to").is_some_and(|to| to.contains("tag=d1")),
        "{first}"
    );
    assert_eq!(
        direction(&first.body).as_deref(),
        Some("sendonly"),
        "{first}"
    );
    assert_eq!(version(&first.body), version(&invite.body) + 1, "{first}");
    // More holds and unholds while it is unanswered: nothing more is sent meanwhile...
    for (method, path) in [("POST", "hold"), ("DELETE", "hold"), ("POST", "hold")] {
        let path = format!("/ari/channels/out/{path}");
        let reply = match method {
            "POST" => wari.post(&path).await,
            _ => wari.delete(&path).await,
        };
        assert_eq!(reply.status, 204, "{method} {path}");
    }
    assert_eq!(wari.delete("/ari/channels/out/hold").await.status, 204);
    let meanwhile = drain(&far.socket);
    assert!(
        meanwhile
            .iter()
            .all(|m| !m.is_request("INVITE") || cseq(m) == cseq(&first)),
        "one re-INVITE at a time: {meanwhile:?}"
    );
    // ...the far end refuses the hold; the call goes on and the last wish (unheld) follows.
    far.reply(
        &first,
        &response(&first, "488 Not Acceptable Here", None, &[], ""),
    )
    .await;
    let second = reinvite_after(&far, cseq(&first)).await;
    assert_eq!(
        direction(&second.body).as_deref(),
        Some("sendrecv"),
        "{second}"
    );
    assert_eq!(version(&second.body), version(&first.body) + 1, "{second}");
    far.reply(
        &second,
        &response(
            &second,
            "200 OK",
            None,
            std::slice::from_ref(&contact),
            &sdp_offer(4010, 2, "sendrecv"),
        ),
    )
    .await;
    ack_of(&far, cseq(&second)).await;
    assert_eq!(state_of(&wari, "out").await, "Up");
    assert_eq!(wari.delete("/ari/channels/out").await.status, 204);
    far.request_of("BYE").await;
}

#[tokio::test]
async fn without_moh_passthrough_a_hold_is_music_and_no_reinvite() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let peer = Peer::of(&wari).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let rtp_port = rtp.local_addr().expect("RTP address").port();
    let (_, _, id) = answered_call_in(&wari, &mut app, &peer, "desk", rtp_port).await;
    assert_eq!(
        wari.post(&format!("/ari/channels/{id}/hold")).await.status,
        204
    );
    drain(&rtp);
    let held = heard(&rtp, 50).await;
    assert_hears(&held[1600..], 440.0, 1000.0, "music on hold while held");
    // A second of music later, no re-INVITE came.
    let received = drain(&peer.socket);
    assert!(
        received.iter().all(|m| !m.is_request("INVITE")),
        "no re-INVITE on hold: {received:?}"
    );
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}")).await.status,
        204
    );
    peer.request_of("BYE").await;
}

#[test]
fn check_config_takes_moh_passthrough_yes_and_refuses_a_bad_value() {
    let dir = tempfile::tempdir().expect("temp dir");
    let pjsip = "[udp]\ntype = transport\nbind = 127.0.0.1:5060\n\n\
                 [desk]\ntype = endpoint\nallow = ulaw\nmoh_passthrough = no\n\n\
                 [trunk]\ntype = endpoint\nallow = ulaw\nmoh_passthrough = yes\n";
    for (name, text) in [
        ("http.conf", crate::support::HTTP_CONF),
        ("ari.conf", crate::support::ARI_CONF),
        ("extensions.conf", "[default]\nexten => s,1,Hangup()\n"),
        ("pjsip.conf", pjsip),
    ] {
        std::fs::write(dir.path().join(name), text).expect("write config file");
    }
    let check = |dir: &std::path::Path| {
        crate::support::run_wari(&["check-config", "--config-dir", &dir.display().to_string()])
    };
    let (ok, stdout, stderr) = check(dir.path());
    assert!(ok, "{stdout}\n{stderr}");
    let file = dir.path().join("pjsip.conf").display().to_string();
    assert!(
        !stdout.contains(&format!("{file}:")),
        "no problem in pjsip.conf:\n{stdout}"
    );
    let bad = pjsip.replace("moh_passthrough = yes", "moh_passthrough = sometimes");
    std::fs::write(dir.path().join("pjsip.conf"), bad).expect("write config file");
    let (ok, stdout, stderr) = check(dir.path());
    assert!(!ok, "a bad value is an error:\n{stdout}\n{stderr}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with(&format!("{file}:13: error:")) && l.contains("moh_passthrough")),
        "{stdout}\n{stderr}"
    );
}

#[tokio::test]
async fn a_redirect_of_a_ringing_call_out_is_refused_412_and_sends_nothing() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let far = Peer::listening().await;
    let created = wari
        .post(&format!(
            "/ari/channels/create?endpoint=PJSIP/trunk/sip:dave@{}&app={APP}&channelId=ringing",
            far.local()
        ))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    app.next_for("StasisStart", "ringing").await;
    assert_eq!(wari.post("/ari/channels/ringing/dial").await.status, 204);
    let invite = far.request_of("INVITE").await;
    far.reply(
        &invite,
        &response(&invite, "180 Ringing", Some("e1"), &[], ""),
    )
    .await;
    let ringing = app.next_for("ChannelStateChange", "ringing").await;
    assert_eq!(ringing["channel"]["state"], "Ringing", "{ringing}");

    let redirected = wari
        .post("/ari/channels/ringing/redirect?endpoint=PJSIP/sip:bob@127.0.0.1:5999")
        .await;
    assert_eq!(redirected.status, 412, "{:?}", redirected.body);
    assert_eq!(redirected.body["message"], "Channel in invalid state");
    // The call rings on; the next request the far end gets is the CANCEL of the hang-up,
    // no REFER.
    assert_eq!(state_of(&wari, "ringing").await, "Ringing");
    assert_eq!(wari.delete("/ari/channels/ringing").await.status, 204);
    let mut next = None;
    for _ in 0..SIP_BUDGET {
        let message = far.receive().await;
        if message.status() == 0 && !message.is_request("INVITE") {
            next = Some(message);
            break;
        }
    }
    let cancel = next.expect("a request after the INVITE");
    assert!(cancel.is_request("CANCEL"), "{cancel}");
    assert_eq!(cseq(&cancel), cseq(&invite), "{cancel}");
    far.reply(&cancel, &response(&cancel, "200 OK", Some("e1"), &[], ""))
        .await;
    far.reply(
        &invite,
        &response(&invite, "487 Request Terminated", Some("e1"), &[], ""),
    )
    .await;
    app.next_for("ChannelDestroyed", "ringing").await;
}

/// The far end of a call wari placed sends a re-INVITE offering `direction` (CSeq `seq`) in
/// the dialog of wari's `invite` and its `ok` (To tag `d1`), ACKs wari's 200 and returns it.
async fn far_reinvite(far: &Peer, invite: &Message, seq: u32, direction: &str) -> Message {
    let call_id = invite.header("call-id").expect("Call-ID");
    let wari_contact = invite.header("contact").expect("Contact");
    let target = wari_contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or_default();
    let to = invite.header("to").expect("To");
    let from = invite.header("from").expect("From");
    let in_dialog = |method: &str, branch: &str| {
        Request::new(method, target)
            .via("UDP", far.local(), branch)
            .header("From", &format!("{to};tag=d1"))
            .header("To", from)
            .header("Call-ID", call_id)
            .cseq(seq)
    };
    let reinvite = in_dialog("INVITE", &unique())
        .header("Contact", &format!("<sip:dave@{}>", far.local()))
        .sdp(&sdp_offer(4012, 2 + seq, direction))
        .text();
    far.reply(invite, &reinvite).await;
    let (ok, _) = far.final_response_of("INVITE", call_id).await;
    assert_eq!(ok.status(), 200, "{ok}");
    far.reply(invite, &in_dialog("ACK", &unique()).text()).await;
    ok
}

#[tokio::test]
async fn the_far_end_of_a_call_out_holds_it_with_a_reinvite_and_takes_it_back() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let far = Peer::listening().await;
    let created = wari
        .post(&format!(
            "/ari/channels?endpoint=PJSIP/desk/sip:dave@{}&app={APP}&channelId=far-held",
            far.local()
        ))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let invite = far.request_of("INVITE").await;
    let contact = format!("Contact: <sip:dave@{}>", far.local());
    far.reply(
        &invite,
        &response(
            &invite,
            "200 OK",
            Some("d1"),
            std::slice::from_ref(&contact),
            &sdp_offer(4012, 1, "sendrecv"),
        ),
    )
    .await;
    ack_of(&far, cseq(&invite)).await;
    app.next_for("ChannelStateChange", "far-held").await;

    // Held: wari answers recvonly and tells the application.
    let ok = far_reinvite(&far, &invite, 1, "sendonly").await;
    assert_eq!(direction(&ok.body).as_deref(), Some("recvonly"), "{ok}");
    app.next_for("ChannelHold", "far-held").await;
    // Taken back: sendrecv, ChannelUnhold.
    let ok = far_reinvite(&far, &invite, 2, "sendrecv").await;
    assert_eq!(direction(&ok.body).as_deref(), Some("sendrecv"), "{ok}");
    app.next_for("ChannelUnhold", "far-held").await;
    assert_eq!(state_of(&wari, "far-held").await, "Up");
    assert_eq!(wari.delete("/ari/channels/far-held").await.status, 204);
    far.request_of("BYE").await;
}
