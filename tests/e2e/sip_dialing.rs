//! Calling a SIP endpoint's contacts, against raw SIP peers on loopback (`sip_raw`):
//! `Dial(${PJSIP_DIAL_CONTACTS(alice)})` rings every phone registered as alice and the
//! first to answer wins (the other is CANCELled), `PJSIP/alice` skips a contact that
//! qualify found unreachable, and an ARI redirect is what chan_pjsip sends: a ringing
//! call's INVITE answered 302 with the target as Contact, a REFER after the answer (in
//! calls both ways), and a hold is wari's music on hold to the phone (chan_pjsip's
//! default, no re-INVITE).

use tokio::net::UdpSocket;

use crate::media_support::{assert_hears, sine, write_wav};
use crate::sip_fixture::{answered, dial_statuses, originate};
use crate::sip_raw::{
    Dialog, Message, Peer, Register, SIP_TIMEOUT, UDP_TRANSPORT, out_of_dialog, register, response,
    sdp_offer, unique,
};
use crate::support::{EventSocket, Wari};

const APP: &str = "dialing";

/// A phone registers as `alice` from its own socket (alice has no `auth`).
async fn register_alice(phone: &Peer) {
    let text = register(&Register {
        uri: &format!("sip:{}", phone.wari()),
        user: "alice",
        local: phone.local(),
        transport: "UDP",
        call_id: &format!("dialing-{}", phone.local().port()),
        cseq: 1,
        expires: 60,
        authorization: None,
    });
    phone.send(text).await;
    let answer = phone.final_response("REGISTER").await;
    assert_eq!(answer.status(), 200, "{answer}");
}

/// The phone answers wari's `invite` with `status` (To tag `tag`, SDP when not empty).
async fn answer(phone: &Peer, invite: &Message, status: &str, tag: &str, sdp: &str) {
    let contact = format!("Contact: <sip:alice@{}>", phone.local());
    phone
        .reply(
            invite,
            &response(invite, status, Some(tag), &[contact], sdp),
        )
        .await;
}

#[tokio::test]
async fn dial_contacts_rings_every_registered_phone_and_the_first_to_answer_wins() {
    let pjsip = format!(
        "{UDP_TRANSPORT}\n[alice]\ntype=endpoint\ncontext=calls\nallow=ulaw\naors=alice\n\n\
         [alice]\ntype=aor\nmax_contacts=2\n"
    );
    let dialplan = "[calls]\nexten => ring,1,Dial(${PJSIP_DIAL_CONTACTS(alice)},5)\n \
                    same => n,Hangup()\n";
    let wari = Wari::with(&[
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", dialplan),
    ]);
    let sip = wari.sip_udp.expect("a SIP UDP transport");
    let (desk, mobile) = (Peer::to(sip).await, Peer::to(sip).await);
    register_alice(&desk).await;
    register_alice(&mobile).await;
    let mut app = EventSocket::watching(&wari, APP).await;
    originate(
        &wari,
        &format!("endpoint=Local/ring@calls&app={APP}&channelId=orig&otherChannelId=caller"),
    )
    .await;

    // Both phones ring at once.
    let invite_desk = desk.request_of("INVITE").await;
    let invite_mobile = mobile.request_of("INVITE").await;
    assert_eq!(
        invite_desk.request_line(),
        format!("INVITE sip:alice@{} SIP/2.0", desk.local())
    );
    assert_eq!(
        invite_mobile.request_line(),
        format!("INVITE sip:alice@{} SIP/2.0", mobile.local())
    );
    // The function reads as Asterisk's: every contact, oldest registration first.
    let (one, two) = (
        format!("alice/sip:alice@{}", desk.local()),
        format!("alice/sip:alice@{}", mobile.local()),
    );
    let read = wari
        .get("/ari/channels/caller/variable?variable=PJSIP_DIAL_CONTACTS(alice)")
        .await;
    assert_eq!(read.status, 200, "{:?}", read.body);
    assert_eq!(read.body["value"], format!("PJSIP/{one}&PJSIP/{two}"));

    // The mobile answers first: the desk is cancelled as answered elsewhere.
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let port = rtp.local_addr().expect("RTP address").port();
    answer(&desk, &invite_desk, "180 Ringing", "d1", "").await;
    answer(
        &mobile,
        &invite_mobile,
        "200 OK",
        "m1",
        &sdp_offer(port, 1, "sendrecv"),
    )
    .await;
    mobile.request_of("ACK").await;
    let cancel = desk.request_of("CANCEL").await;
    assert_eq!(cancel.header("call-id"), invite_desk.header("call-id"));
    desk.reply(&cancel, &response(&cancel, "200 OK", None, &[], ""))
        .await;
    answer(&desk, &invite_desk, "487 Request Terminated", "d1", "").await;
    desk.request_of("ACK").await;
    // Dial reports the mobile answered and the desk cancelled.
    let (mut answered, mut cancelled) = (false, false);
    let seen = app
        .until(|e| {
            answered |= e["type"] == "Dial"
                && e["dialstring"] == two.as_str()
                && e["dialstatus"] == "ANSWER";
            cancelled |= e["type"] == "Dial"
                && e["dialstring"] == one.as_str()
                && e["dialstatus"] == "CANCEL";
            answered && cancelled
        })
        .await;
    assert_eq!(dial_statuses(&seen, &two).last(), Some(&"ANSWER"));
    assert_eq!(dial_statuses(&seen, &one).last(), Some(&"CANCEL"));

    // The caller and the phone that answered talk until the caller hangs up.
    assert_eq!(wari.delete("/ari/channels/orig").await.status, 204);
    let bye = mobile.request_of("BYE").await;
    assert_eq!(bye.header("call-id"), invite_mobile.header("call-id"));
}

#[tokio::test]
async fn a_call_to_an_endpoint_skips_the_contact_qualify_found_unreachable() {
    let (silent, answering) = (Peer::listening().await, Peer::listening().await);
    let (first, second) = (
        format!("sip:desk@{}", silent.local()),
        format!("sip:desk@{}", answering.local()),
    );
    // One qualify round at start, the next a minute later (none during the test).
    let pjsip = format!(
        "{UDP_TRANSPORT}\n[alice]\ntype=endpoint\ncontext=calls\nallow=ulaw\naors=alice\n\n\
         [alice]\ntype=aor\ncontact={first}\ncontact={second}\nqualify_frequency=60\n"
    );
    let wari = Wari::with(&[("pjsip.conf", pjsip.as_str())]);
    let mut app = EventSocket::watching(&wari, APP).await;
    let (status, _) = wari
        .post(&format!(
            "/ari/applications/{APP}/subscription?eventSource=endpoint:PJSIP/alice"
        ))
        .await
        .parts();
    assert_eq!(status, 200);
    // The second contact answers its OPTIONS; the first never does (3 s qualify timeout).
    let options = answering.request_of("OPTIONS").await;
    answering
        .reply(&options, &response(&options, "200 OK", None, &[], ""))
        .await;
    let mut statuses = Vec::new();
    while statuses.len() < 2 {
        let change = app.next_of("ContactStatusChange").await;
        let info = &change["contact_info"];
        statuses.push((
            info["uri"].as_str().unwrap_or_default().to_string(),
            info["contact_status"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    statuses.sort();
    let mut expected = vec![
        (first.clone(), "Unreachable".to_string()),
        (second.clone(), "Reachable".to_string()),
    ];
    expected.sort();
    assert_eq!(statuses, expected);

    let created = wari
        .post(&format!("/ari/channels?endpoint=PJSIP/alice&app={APP}"))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let invite = answering.request_of("INVITE").await;
    assert_eq!(invite.request_line(), format!("INVITE {second} SIP/2.0"));
    answer(&answering, &invite, "486 Busy Here", "b1", "").await;
    answering.request_of("ACK").await;
    // The unreachable contact got its qualify's OPTIONS (and their retransmissions) only.
    let mut buffer = vec![0u8; 65536];
    while let Ok((len, _)) = silent.socket.try_recv_from(&mut buffer) {
        let message = Message::parse(&String::from_utf8_lossy(&buffer[..len]));
        assert!(message.is_request("OPTIONS"), "{message}");
    }
}

/// `phone` calls in from 127.0.0.1 into the application; `bob` is reached at a static
/// contact (the redirects' target).
fn redirect_pjsip(bob: &str) -> String {
    format!(
        "{UDP_TRANSPORT}\n[phone]\ntype=endpoint\ncontext=calls\nallow=ulaw\n\n\
         [phone-ip]\ntype=identify\nendpoint=phone\nmatch=127.0.0.1\n\n\
         [far]\ntype=endpoint\ncontext=calls\nallow=ulaw\n\n\
         [bob]\ntype=endpoint\ncontext=calls\naors=bob\n\n\
         [bob]\ntype=aor\ncontact={bob}\n"
    )
}

const INTO_APP: &str = "[calls]\nexten => _X.,1,Stasis(dialing)\n same => n,Hangup()\n";

/// The phone at `peer` calls 100 (with an SDP offer for RTP port `port`): the INVITE's
/// text, its branch and the channel's id once the application has it.
async fn call_in(peer: &Peer, app: &mut EventSocket, port: u16) -> (String, String, String) {
    let (call_id, invite) = out_of_dialog("INVITE", "phone", "100", peer.local(), peer.wari());
    let branch = call_id.trim_end_matches("@peer").to_string();
    let invite = invite.sdp(&sdp_offer(port, 1, "sendrecv")).text();
    peer.send(&invite).await;
    let start = app.next_of("StasisStart").await;
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    (invite, branch, id)
}

#[tokio::test]
async fn a_redirect_of_a_ringing_call_answers_its_invite_302_with_the_target_as_contact() {
    let bob = "sip:bob@127.0.0.1:5999";
    let pjsip = redirect_pjsip(bob);
    let wari = Wari::with(&[
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", INTO_APP),
    ]);
    let mut app = EventSocket::watching(&wari, APP).await;
    let peer = Peer::of(&wari).await;
    let (invite, branch, id) = call_in(&peer, &mut app, 4000).await;
    assert_eq!(
        wari.post(&format!("/ari/channels/{id}/ring")).await.status,
        204
    );
    // An endpoint's name stands for its contact, as in chan_pjsip.
    let redirected = wari
        .post(&format!("/ari/channels/{id}/redirect?endpoint=PJSIP/bob"))
        .await;
    assert_eq!(redirected.status, 204, "{:?}", redirected.body);
    let moved = peer.final_response("INVITE").await;
    assert_eq!(moved.status(), 302, "{moved}");
    assert_eq!(
        moved.header("contact"),
        Some(format!("<{bob}>").as_str()),
        "{moved}"
    );
    let ringing_tag = moved.header("to").and_then(|to| to.split_once(";tag="));
    assert!(ringing_tag.is_some(), "our tag in To: {moved}");
    // The phone acknowledges the 302 in its INVITE transaction; the channel is gone,
    // redirected.
    let ack = Dialog::answered(&invite, &moved)
        .request("ACK", 1, peer.local(), &branch)
        .text();
    peer.send(&ack).await;
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    assert_eq!(destroyed["cause"], 23, "{destroyed}");
    assert!(
        wari.get("/ari/channels")
            .await
            .body
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    // The 302 is the INVITE's only final answer: nothing else comes after the ACK.
    let mut buffer = vec![0u8; 65536];
    while let Ok((len, _)) = peer.socket.try_recv_from(&mut buffer) {
        let message = Message::parse(&String::from_utf8_lossy(&buffer[..len]));
        assert!(
            message.status() < 200 || message.status() == 302,
            "{message}"
        );
    }
}

#[tokio::test]
async fn a_redirect_after_the_answer_is_a_refer_for_calls_in_and_out() {
    let pjsip = redirect_pjsip("sip:bob@127.0.0.1:5999");
    let wari = Wari::with(&[
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", INTO_APP),
    ]);
    let mut app = EventSocket::watching(&wari, APP).await;
    let carol = "sip:carol@127.0.0.1:5998";

    // A call in, answered: the REFER goes to the phone once the ACK of the 200 came.
    let peer = Peer::of(&wari).await;
    let (invite, _, id) = call_in(&peer, &mut app, 4002).await;
    let ok = answered(&wari, &peer, &id).await;
    let redirected = wari
        .post(&format!(
            "/ari/channels/{id}/redirect?endpoint=PJSIP/{carol}"
        ))
        .await;
    assert_eq!(redirected.status, 204, "{:?}", redirected.body);
    let dialog = Dialog::answered(&invite, &ok);
    peer.send(dialog.request("ACK", 1, peer.local(), &unique()).text())
        .await;
    let refer = peer.request_of("REFER").await;
    assert_eq!(
        refer.header("refer-to"),
        Some(format!("<{carol}>").as_str()),
        "{refer}"
    );
    assert_eq!(refer.header("call-id"), Some(dialog.call_id.as_str()));
    assert!(
        refer
            .header("referred-by")
            .is_some_and(|by| by.contains("sip:100@")),
        "{refer}"
    );
    peer.reply(&refer, &response(&refer, "202 Accepted", None, &[], ""))
        .await;
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}")).await.status,
        204
    );
    peer.request_of("BYE").await;

    // A call out, answered: the same REFER to the far end.
    let far = Peer::listening().await;
    originate(
        &wari,
        &format!(
            "endpoint=PJSIP/far/sip:dave@{}&app={APP}&channelId=out",
            far.local()
        ),
    )
    .await;
    let invite = far.request_of("INVITE").await;
    let contact = format!("Contact: <sip:dave@{}>", far.local());
    far.reply(
        &invite,
        &response(
            &invite,
            "200 OK",
            Some("d1"),
            &[contact],
            &sdp_offer(4004, 1, "sendrecv"),
        ),
    )
    .await;
    far.request_of("ACK").await;
    app.next_for("ChannelStateChange", "out").await;
    let redirected = wari
        .post("/ari/channels/out/redirect?endpoint=PJSIP/bob")
        .await;
    assert_eq!(redirected.status, 204, "{:?}", redirected.body);
    let refer = far.request_of("REFER").await;
    assert_eq!(
        refer.header("refer-to"),
        Some("<sip:bob@127.0.0.1:5999>"),
        "{refer}"
    );
    assert_eq!(refer.header("call-id"), invite.header("call-id"));
    let referred_by = refer.header("referred-by").unwrap_or_default();
    assert!(!referred_by.contains("tag="), "{refer}");
    far.reply(&refer, &response(&refer, "202 Accepted", None, &[], ""))
        .await;
    assert_eq!(wari.delete("/ari/channels/out").await.status, 204);
    far.request_of("BYE").await;
}

/// The next `count` RTP payloads `rtp` receives (PCMU), decoded.
async fn heard(rtp: &UdpSocket, count: usize) -> Vec<i16> {
    let mut samples = Vec::new();
    let mut buffer = [0u8; 2048];
    for _ in 0..count {
        let (len, _) = tokio::time::timeout(SIP_TIMEOUT, rtp.recv_from(&mut buffer))
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

/// Drops what `socket` has received so far.
fn drain(socket: &UdpSocket) -> usize {
    let mut buffer = [0u8; 2048];
    let mut dropped = 0;
    while socket.try_recv_from(&mut buffer).is_ok() {
        dropped += 1;
    }
    dropped
}

#[tokio::test]
async fn a_held_phone_hears_music_on_hold_without_a_reinvite_then_the_application_again() {
    // The default music-on-hold class plays `<data dir>/moh`: a 440 Hz tone.
    let data = tempfile::tempdir().expect("temp dir");
    write_wav(&data.path().join("moh/tone.wav"), sine(440.0, 16_000));
    let asterisk = format!("[directories]\nastdatadir => {}\n", data.path().display());
    let pjsip = redirect_pjsip("sip:bob@127.0.0.1:5999");
    let wari = Wari::with(&[
        ("pjsip.conf", pjsip.as_str()),
        ("extensions.conf", INTO_APP),
        ("asterisk.conf", asterisk.as_str()),
    ]);
    let mut app = EventSocket::watching(&wari, APP).await;
    let peer = Peer::of(&wari).await;
    let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
    let port = rtp.local_addr().expect("RTP address").port();
    let (invite, _, id) = call_in(&peer, &mut app, port).await;
    let ok = answered(&wari, &peer, &id).await;
    let dialog = Dialog::answered(&invite, &ok);
    peer.send(dialog.request("ACK", 1, peer.local(), &unique()).text())
        .await;

    // Held: the phone hears the music from wari; no re-INVITE (moh_passthrough=no).
    assert_eq!(
        wari.post(&format!("/ari/channels/{id}/hold")).await.status,
        204
    );
    drain(&rtp);
    let held = heard(&rtp, 50).await;
    assert_hears(&held[1600..], 440.0, 1000.0, "music on hold while held");
    let mut buffer = [0u8; 4096];
    while let Ok((len, _)) = peer.socket.try_recv_from(&mut buffer) {
        let message = Message::parse(&String::from_utf8_lossy(&buffer[..len]));
        assert!(
            !message.is_request("INVITE"),
            "no re-INVITE on hold: {message}"
        );
    }

    // Unheld: the music stops and the application's audio comes through.
    assert_eq!(
        wari.delete(&format!("/ari/channels/{id}/hold"))
            .await
            .status,
        204
    );
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
