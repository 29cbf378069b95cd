//! SIP call flows end to end, against raw SIP peers on loopback (`sip_raw`): hang-up causes
//! both ways (a far end's BYE `Reason` is the channel's cause; our CANCEL carries the
//! channel's), a dialplan `Dial()` to two phones at once where the first to answer wins and
//! the other is CANCELled "answered elsewhere", the answers Asterisk gives to dial strings
//! it cannot call, an INVITE without SDP (late offer), and an endpoint's `language`.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::net::UdpSocket;

use crate::sip_fixture::{self, answered, dial_statuses, originate, start_watching};
use crate::sip_peers::{Scenario, Sipp};
use crate::sip_raw::{Dialog, Message, Peer, Request, out_of_dialog, response, sdp_offer, unique};
use crate::support::{EventSocket, Wari};

const APP: &str = "calls";

/// `far` is called at a URI (or an AOR); `phone` calls in from 127.0.0.1, in French.
fn pjsip(extra: &str) -> String {
    format!(
        "\
[udp]
type=transport
protocol=udp
bind=127.0.0.1:0

[far]
type=endpoint
context=calls
allow=ulaw
from_user=wari

[phone]
type=endpoint
context=calls
allow=ulaw
language=fr

[phone-ip]
type=identify
endpoint=phone
match=127.0.0.1
{extra}"
    )
}

const DIALPLAN: &str = "[calls]\nexten => _X.,1,Stasis(calls)\n same => n,Hangup()\n";

/// Most events read while waiting for a sequence.
const EVENT_BUDGET: usize = 200;

/// A peer's RTP socket, for the SDP it sends.
async fn rtp_socket() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket")
}

fn port(socket: &UdpSocket) -> u16 {
    socket.local_addr().expect("RTP address").port()
}

/// The peer answers wari's `invite` with `status` (its To tag `tag`, its Contact, and SDP
/// when `sdp` is not empty).
async fn answer(peer: &Peer, invite: &Message, status: &str, tag: &str, sdp: &str) {
    let contact = format!("Contact: <sip:bob@{}>", peer.local());
    peer.reply(
        invite,
        &response(invite, status, Some(tag), &[contact], sdp),
    )
    .await;
}

/// The URI in wari's Contact (where requests inside its dialog go).
fn contact_of(message: &Message) -> String {
    let contact = message.header("contact").expect("a Contact from wari");
    contact
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or(contact)
        .to_string()
}

/// The BYE of the peer that answered wari's `invite` with To tag `tag`, with `extra`
/// header lines.
fn bye_of_callee(invite: &Message, tag: &str, local: SocketAddr, extra: &str) -> String {
    let to = invite.header("to").expect("To");
    Request::new("BYE", &contact_of(invite))
        .via("UDP", local, &unique())
        .header("From", &format!("{to};tag={tag}"))
        .header("To", invite.header("from").expect("From"))
        .header("Call-ID", invite.header("call-id").expect("Call-ID"))
        .cseq(1)
        .extra(extra)
        .text()
}

/// A call wari made to `far` at a listening peer, which answered it with SDP.
struct OutboundCall {
    /// wari, with [`pjsip`] and [`DIALPLAN`].
    _wari: Wari,
    app: EventSocket,
    peer: Peer,
    /// The INVITE the peer answered.
    invite: Message,
    /// The peer's RTP socket, the one its SDP offered.
    _rtp: UdpSocket,
}

impl OutboundCall {
    /// wari calls the peer as channel `id`; the peer answers 200 with SDP (To tag `tag`)
    /// and reads wari's ACK.
    async fn answered(id: &str, tag: &str) -> OutboundCall {
        let peer = Peer::listening().await;
        let rtp = rtp_socket().await;
        let (wari, app) = start_watching(&pjsip(""), DIALPLAN, APP).await;
        originate(
            &wari,
            &format!(
                "endpoint=PJSIP/far/sip:bob@{}&app={APP}&channelId={id}",
                peer.local()
            ),
        )
        .await;
        let invite = peer.request_of("INVITE").await;
        answer(
            &peer,
            &invite,
            "200 OK",
            tag,
            &sdp_offer(port(&rtp), 1, "sendrecv"),
        )
        .await;
        peer.request_of("ACK").await;
        OutboundCall {
            _wari: wari,
            app,
            peer,
            invite,
            _rtp: rtp,
        }
    }
}

#[tokio::test]
async fn a_bye_with_a_q850_reason_gives_an_outbound_call_its_cause() {
    let call = OutboundCall::answered("out1", "b1").await;
    let (peer, invite, mut app) = (&call.peer, &call.invite, call.app);
    let up = app.next_for("ChannelStateChange", "out1").await;
    assert_eq!(up["channel"]["state"], "Up", "{up}");
    // The far end leaves, saying why (Asterisk reads Q.850 first, then SIP causes).
    let bye = bye_of_callee(invite, "b1", peer.local(), "Reason: Q.850;cause=21\r\n");
    peer.reply(invite, &bye).await;
    assert_eq!(peer.final_response("BYE").await.status(), 200);
    let destroyed = app.next_for("ChannelDestroyed", "out1").await;
    assert_eq!(destroyed["cause"], 21, "{destroyed}");
    assert_eq!(destroyed["cause_txt"], "Call Rejected", "{destroyed}");
}

#[tokio::test]
async fn a_bye_without_a_reason_is_a_normal_clearing_of_an_outbound_call() {
    let call = OutboundCall::answered("out4", "b4").await;
    let (peer, invite, mut app) = (&call.peer, &call.invite, call.app);
    app.next_for("StasisStart", "out4").await;
    peer.reply(invite, &bye_of_callee(invite, "b4", peer.local(), ""))
        .await;
    assert_eq!(peer.final_response("BYE").await.status(), 200);
    let destroyed = app.next_for("ChannelDestroyed", "out4").await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
}

#[tokio::test]
async fn a_cancel_carries_the_cause_the_channel_was_hung_up_with() {
    let peer = Peer::listening().await;
    let (wari, mut app) = start_watching(&pjsip(""), DIALPLAN, APP).await;
    originate(
        &wari,
        &format!(
            "endpoint=PJSIP/far/sip:bob@{}&app={APP}&channelId=out2",
            peer.local()
        ),
    )
    .await;
    let invite = peer.request_of("INVITE").await;
    answer(&peer, &invite, "180 Ringing", "r2", "").await;
    let ringing = app.next_for("ChannelStateChange", "out2").await;
    assert_eq!(ringing["channel"]["state"], "Ringing", "{ringing}");
    let hung_up = wari.delete("/ari/channels/out2?reason=busy").await;
    assert_eq!(hung_up.status, 204);
    let cancel = peer.request_of("CANCEL").await;
    // The CANCEL of that INVITE (RFC 3261 §9.1) with the channel's cause.
    assert_eq!(cancel.header("call-id"), invite.header("call-id"));
    assert_eq!(cancel.header("via"), invite.header("via"));
    assert_eq!(cancel.header("from"), invite.header("from"));
    assert_eq!(
        cancel.header("cseq"),
        invite
            .header("cseq")
            .map(|c| c.replace("INVITE", "CANCEL"))
            .as_deref()
    );
    assert_eq!(
        cancel.all("reason").collect::<Vec<_>>(),
        ["Q.850;cause=17"],
        "{cancel}"
    );
    peer.reply(&cancel, &response(&cancel, "200 OK", None, &[], ""))
        .await;
    answer(&peer, &invite, "487 Request Terminated", "r2", "").await;
    peer.request_of("ACK").await;
    let destroyed = app.next_for("ChannelDestroyed", "out2").await;
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
}

/// Events until `done`, at most [`EVENT_BUDGET`].
async fn events_until(app: &mut EventSocket, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let mut seen = Vec::new();
    for _ in 0..EVENT_BUDGET {
        seen.push(app.next().await);
        if done(&seen) {
            return seen;
        }
    }
    panic!("the events never came: {seen:#?}");
}

#[tokio::test]
async fn a_dial_to_two_phones_cancels_the_one_that_lost_as_answered_elsewhere() {
    // Asterisk calls every contact of an AOR this way: `Dial(${PJSIP_DIAL_CONTACTS(ep)})`
    // expands to one PJSIP/ep/<contact URI> per contact, joined by `&`.
    let (first, second) = (Peer::listening().await, Peer::listening().await);
    let rtp = rtp_socket().await;
    let one = format!("far/sip:a@{}", first.local());
    let two = format!("far/sip:b@{}", second.local());
    let dialplan =
        format!("[calls]\nexten => fork,1,Dial(PJSIP/{one}&PJSIP/{two},5)\n same => n,Hangup()\n");
    let (wari, mut app) = start_watching(&pjsip(""), &dialplan, APP).await;
    originate(
        &wari,
        &format!("endpoint=Local/fork@calls&app={APP}&channelId=orig&otherChannelId=caller"),
    )
    .await;
    let invite_one = first.request_of("INVITE").await;
    let invite_two = second.request_of("INVITE").await;
    answer(&first, &invite_one, "180 Ringing", "a1", "").await;
    answer(&second, &invite_two, "180 Ringing", "b1", "").await;
    // Both ring (wari has read both 180s) before the first answers.
    let mut seen = events_until(&mut app, |seen| {
        [&one, &two]
            .iter()
            .all(|d| dial_statuses(seen, d).contains(&"RINGING"))
    })
    .await;
    answer(
        &first,
        &invite_one,
        "200 OK",
        "a1",
        &sdp_offer(port(&rtp), 1, "sendrecv"),
    )
    .await;
    first.request_of("ACK").await;
    let cancel = second.request_of("CANCEL").await;
    assert_eq!(cancel.header("call-id"), invite_two.header("call-id"));
    assert_eq!(
        cancel.all("reason").collect::<Vec<_>>(),
        [
            "SIP;cause=200;text=\"Call completed elsewhere\"",
            "Q.850;cause=26"
        ],
        "{cancel}"
    );
    second
        .reply(&cancel, &response(&cancel, "200 OK", None, &[], ""))
        .await;
    answer(&second, &invite_two, "487 Request Terminated", "b1", "").await;
    second.request_of("ACK").await;
    let after = events_until(&mut app, |seen| {
        seen.iter().any(|e| {
            e["type"] == "ChannelDestroyed"
                && seen.iter().any(|d| {
                    d["type"] == "Dial"
                        && d["dialstring"] == two.as_str()
                        && d["peer"]["id"] == e["channel"]["id"]
                })
        })
    })
    .await;
    seen.extend(after);
    let destroyed = seen.last().expect("ChannelDestroyed");
    assert_eq!(destroyed["cause"], 26, "{destroyed}");
    assert_eq!(destroyed["cause_txt"], "Answered elsewhere", "{destroyed}");
    assert_eq!(dial_statuses(&seen, &two), ["", "RINGING", "CANCEL"]);
    assert_eq!(dial_statuses(&seen, &one), ["", "RINGING", "ANSWER"]);
    // The caller and the winner talk until the caller hangs up: the winner gets a BYE.
    assert_eq!(wari.delete("/ari/channels/orig").await.status, 204);
    let bye = first.request_of("BYE").await;
    assert_eq!(bye.header("call-id"), invite_one.header("call-id"));
}

#[tokio::test]
async fn dial_strings_chan_pjsip_cannot_call_fail_as_asterisk_and_aors_are_called() {
    let peer = Peer::listening().await;
    let office = format!("\n[office]\ntype=aor\ncontact=sip:desk@{}\n", peer.local());
    let wari = sip_fixture::start(&pjsip(&office), DIALPLAN);
    // No such endpoint, and a location that is neither an AOR nor a SIP URI (chan_pjsip
    // puts no `sip:` in front): chan_pjsip makes no channel, the originate answers 500.
    for endpoint in ["PJSIP/nobody", "PJSIP/far/notauri", "PJSIP/far/100@host"] {
        let refused = wari
            .post(&format!("/ari/channels?endpoint={endpoint}&app={APP}"))
            .await;
        assert_eq!(refused.status, 500, "{endpoint}: {:?}", refused.body);
        assert_eq!(refused.body["message"], "Allocation failed", "{endpoint}");
    }
    assert_eq!(wari.get("/ari/channels").await.body, serde_json::json!([]));
    // A location naming an AOR calls its contact; `user@endpoint` puts the user in.
    for (endpoint, request_line) in [
        (
            "PJSIP/far/office",
            format!("INVITE sip:desk@{} SIP/2.0", peer.local()),
        ),
        (
            "PJSIP/555@far/office",
            format!("INVITE sip:555@{} SIP/2.0", peer.local()),
        ),
    ] {
        let created = wari
            .post(&format!("/ari/channels?endpoint={endpoint}&app={APP}"))
            .await;
        assert_eq!(created.status, 200, "{endpoint}: {:?}", created.body);
        let invite = peer.request_of("INVITE").await;
        assert_eq!(invite.request_line(), request_line);
        answer(&peer, &invite, "486 Busy Here", "x", "").await;
        peer.request_of("ACK").await;
    }
}

/// The first RTP datagram `rtp` receives within `limit`.
async fn first_rtp(rtp: &UdpSocket, limit: Duration) -> Option<SocketAddr> {
    let mut buffer = [0u8; 2048];
    let (len, from) = tokio::time::timeout(limit, rtp.recv_from(&mut buffer))
        .await
        .ok()?
        .ok()?;
    // RTP version 2.
    (len >= 12 && buffer[0] >> 6 == 2).then_some(from)
}

#[tokio::test]
async fn an_invite_without_sdp_gets_our_offer_in_the_200_and_its_answer_in_the_ack() {
    let (wari, mut app) = start_watching(&pjsip(""), DIALPLAN, APP).await;
    let peer = Peer::of(&wari).await;
    let rtp = rtp_socket().await;
    let (_, invite) = out_of_dialog("INVITE", "phone", "100", peer.local(), peer.wari());
    let invite = invite.text();
    peer.send(&invite).await;
    let start = app.next_of("StasisStart").await;
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    let ok = answered(&wari, &peer, &id).await;
    // Our offer: G.711 µ-law (the endpoint's allow) and telephone-event.
    assert_eq!(ok.header("content-type"), Some("application/sdp"));
    let offer = crate::sip_raw::sdp_lines(&ok.body);
    let media = &offer["m"][0];
    assert!(media.starts_with("audio "), "{}", ok.body);
    assert!(
        media.split_whitespace().skip(3).any(|pt| pt == "0"),
        "{}",
        ok.body
    );
    let wari_rtp = crate::sip_raw::rtp_address(&ok);
    // The answer in the ACK says where wari sends: audio played to the channel arrives.
    let dialog = Dialog::answered(&invite, &ok);
    let ack = dialog
        .request("ACK", 1, peer.local(), &unique())
        .sdp(&sdp_offer(port(&rtp), 1, "sendrecv"))
        .text();
    peer.send(&ack).await;
    let played = wari
        .post(&format!("/ari/channels/{id}/play?media=tone:!1000/2000"))
        .await;
    assert_eq!(played.status, 201, "{:?}", played.body);
    let from = first_rtp(&rtp, Duration::from_secs(3)).await;
    assert_eq!(from, Some(wari_rtp), "RTP from the address of our offer");
    let bye = dialog.request("BYE", 2, peer.local(), &unique()).text();
    peer.send(&bye).await;
    assert_eq!(peer.final_response("BYE").await.status(), 200);
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
}

#[tokio::test]
async fn an_endpoints_language_is_its_channels_and_picks_the_sounds_played() {
    // A prompt only in French: found for a French channel, missing for others.
    let data = tempfile::tempdir().expect("temp dir");
    crate::media_support::write_wav(&data.path().join("sounds/fr/bonjour.wav"), vec![1000; 800]);
    let asterisk = format!("[directories]\nastdatadir => {}\n", data.path().display());
    let wari = Wari::with(&[
        ("pjsip.conf", &pjsip("")),
        ("extensions.conf", DIALPLAN),
        ("asterisk.conf", &asterisk),
    ]);
    let mut app = EventSocket::watching(&wari, APP).await;
    let peer = Peer::of(&wari).await;
    let rtp = rtp_socket().await;
    let (_, invite) = out_of_dialog("INVITE", "phone", "100", peer.local(), peer.wari());
    let invite = invite.sdp(&sdp_offer(port(&rtp), 1, "sendrecv")).text();
    peer.send(&invite).await;
    let start = app.next_of("StasisStart").await;
    assert_eq!(start["channel"]["language"], "fr", "{start}");
    let id = start["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    let variable = wari
        .get(&format!(
            "/ari/channels/{id}/variable?variable=CHANNEL(language)"
        ))
        .await;
    assert_eq!(variable.body["value"], "fr", "{:?}", variable.body);
    sip_fixture::answer(&wari, &id).await;
    let played = wari
        .post(&format!("/ari/channels/{id}/play?media=sound:bonjour"))
        .await;
    assert_eq!(played.status, 201, "{:?}", played.body);
    let finished = app.next_of("PlaybackFinished").await;
    assert_eq!(finished["playback"]["state"], "done", "{finished}");
    // `far` has no language: the system's (en), where there is no such prompt.
    let created = wari
        .post(&format!(
            "/ari/channels/create?endpoint=PJSIP/far/sip:bob@{}&app={APP}",
            peer.local()
        ))
        .await;
    assert_eq!(created.body["language"], "en", "{:?}", created.body);
}

/// How long SIPp may run one flow.
const SIPP_LIMIT: Duration = Duration::from_secs(15);

/// The headers of a SIPp answer to the INVITE it received last (To with its tag).
const ANSWER_HEADERS: &str = "
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:sipp@[local_ip]:[local_port]>";

/// A SIPp callee: it rings, then answers `last` (`486 Busy Here`, `200 OK` ...), or, with
/// `None`, never answers: it waits for the CANCEL, which must carry `Reason: Q.850;cause=19`.
fn sipp_callee(last: Option<&str>) -> String {
    let ringing = format!(
        "  <send>\n    <![CDATA[\n      SIP/2.0 180 Ringing{ANSWER_HEADERS}\n      Content-Length: 0\n    ]]>\n  </send>\n"
    );
    let rest = match last {
        Some(status) if status.starts_with('2') => format!(
            "  <send>\n    <![CDATA[\n      SIP/2.0 {status}{ANSWER_HEADERS}\n      Content-Type: application/sdp\n      Content-Length: [len]\n\n      v=0\n      o=sipp 1 1 IN IP[local_ip_type] [local_ip]\n      s=-\n      c=IN IP[media_ip_type] [media_ip]\n      t=0 0\n      m=audio [media_port] RTP/AVP 0\n      a=rtpmap:0 PCMU/8000\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n  <recv request=\"BYE\"/>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n"
        ),
        Some(status) => format!(
            "  <send>\n    <![CDATA[\n      SIP/2.0 {status}{ANSWER_HEADERS}\n      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n"
        ),
        None => "  <recv request=\"CANCEL\">\n    <action>\n      <ereg regexp=\"Q.850;cause=19\" search_in=\"hdr\" header=\"Reason:\" check_it=\"true\" assign_to=\"reason\"/>\n    </action>\n  </recv>\n  <send>\n    <![CDATA[\n      SIP/2.0 200 OK\n      [last_Via:]\n      [last_From:]\n      [last_To:]\n      [last_Call-ID:]\n      [last_CSeq:]\n      Content-Length: 0\n    ]]>\n  </send>\n  <send>\n    <![CDATA[\n      SIP/2.0 487 Request Terminated\n      [last_Via:]\n      [last_From:]\n      [last_To:];tag=[pid]SIPpTag01[call_number]\n      [last_Call-ID:]\n      CSeq: [$invite]\n      Content-Length: 0\n    ]]>\n  </send>\n  <recv request=\"ACK\"/>\n  <Reference variables=\"reason\"/>\n".to_string(),
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"callee\">\n  <recv request=\"INVITE\">\n    <action>\n      <ereg regexp=\"[0-9]+ INVITE\" search_in=\"hdr\" header=\"CSeq:\" assign_to=\"invite\"/>\n    </action>\n  </recv>\n{ringing}{rest}  <Reference variables=\"invite\"/>\n</scenario>\n"
    )
}

/// A SIPp callee running `scenario` for one call.
fn callee(scenario: &str) -> Sipp {
    Sipp::start(Scenario::Xml(scenario), None, 1, SIPP_LIMIT, &[])
}

/// SIPp ran its one call to the end.
async fn completed(sipp: Sipp) {
    let outcome = sipp.finish(SIPP_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "SIPp:\n{}",
        outcome.log
    );
}

#[tokio::test]
async fn originates_refused_by_a_sipp_callee_end_with_asterisks_causes() {
    let (wari, mut app) = start_watching(&pjsip(""), DIALPLAN, APP).await;
    for (n, (status, cause, text, dialstatus)) in [
        ("486 Busy Here", 17, "User busy", "BUSY"),
        (
            "480 Temporarily Unavailable",
            19,
            "User alerting, no answer",
            "NOANSWER",
        ),
        ("603 Decline", 21, "Call Rejected", "NOANSWER"),
    ]
    .into_iter()
    .enumerate()
    {
        let sipp = callee(&sipp_callee(Some(status)));
        let id = format!("o{n}");
        originate(
            &wari,
            &format!(
                "endpoint=PJSIP/far/sip:sipp@{}&app={APP}&channelId={id}",
                sipp.sip
            ),
        )
        .await;
        let seen = app
            .until(|e| e["type"] == "ChannelDestroyed" && e["channel"]["id"] == id.as_str())
            .await;
        let destroyed = seen.last().expect("ChannelDestroyed");
        assert_eq!(destroyed["cause"], cause, "{status}: {destroyed}");
        assert_eq!(destroyed["cause_txt"], text, "{status}");
        let statuses: Vec<&str> = seen
            .iter()
            .filter(|e| e["type"] == "Dial" && e["peer"]["id"] == id.as_str())
            .filter_map(|e| e["dialstatus"].as_str())
            .collect();
        assert_eq!(statuses, ["", "RINGING", dialstatus], "{status}");
        completed(sipp).await;
    }
}

#[tokio::test]
async fn an_originate_nobody_answers_is_cancelled_at_its_timeout_with_cause_19() {
    let (wari, mut app) = start_watching(&pjsip(""), DIALPLAN, APP).await;
    let sipp = callee(&sipp_callee(None));
    originate(
        &wari,
        &format!(
            "endpoint=PJSIP/far/sip:sipp@{}&app={APP}&channelId=late&timeout=1",
            sipp.sip
        ),
    )
    .await;
    let destroyed = app.next_for("ChannelDestroyed", "late").await;
    assert_eq!(destroyed["cause"], 19, "{destroyed}");
    // SIPp checked the CANCEL's Reason, answered it and the INVITE (487), got the ACK.
    completed(sipp).await;
}

/// The DIALSTATUS that `Dial(PJSIP/far/sip:sipp@<callee>,2)` sets, and its Dial events'
/// statuses, for a SIPp callee running `scenario`.
async fn dial_from_the_dialplan(scenario: &str) -> (String, Vec<String>) {
    let sipp = callee(scenario);
    let dialplan = format!(
        "[calls]\nexten => out,1,Dial(PJSIP/far/sip:sipp@{},2)\n same => n,Hangup()\n",
        sipp.sip
    );
    let (wari, mut app) = start_watching(&pjsip(""), &dialplan, APP).await;
    originate(
        &wari,
        &format!("endpoint=Local/out@calls&app={APP}&channelId=o&otherChannelId=c"),
    )
    .await;
    // Dial sets DIALSTATUS as it ends (when answered: before the bridged call).
    let seen = app
        .until(|e| {
            e["type"] == "ChannelVarset"
                && e["variable"] == "DIALSTATUS"
                && e["channel"]["id"] == "c"
        })
        .await;
    let statuses: Vec<String> = seen
        .iter()
        .filter(|e| e["type"] == "Dial" && e["caller"]["id"] == "c")
        .filter_map(|e| e["dialstatus"].as_str().map(str::to_string))
        .collect();
    let result = seen.last().expect("DIALSTATUS")["value"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if result == "ANSWER" {
        // The caller hangs up: SIPp gets the BYE.
        assert_eq!(wari.delete("/ari/channels/o").await.status, 204);
    }
    completed(sipp).await;
    (result, statuses)
}

#[tokio::test]
async fn dial_in_the_dialplan_reports_busy_declined_unanswered_and_answered_as_asterisk() {
    // Busy: the leg's Dial event and DIALSTATUS say BUSY.
    let (result, statuses) = dial_from_the_dialplan(&sipp_callee(Some("486 Busy Here"))).await;
    assert_eq!(
        (result.as_str(), statuses),
        ("BUSY", vec!["".into(), "RINGING".into(), "BUSY".into()])
    );
    // Declined (603, cause 21): app_dial's leg event says NOANSWER, its count CHANUNAVAIL.
    let (result, statuses) = dial_from_the_dialplan(&sipp_callee(Some("603 Decline"))).await;
    assert_eq!(
        (result.as_str(), statuses),
        (
            "CHANUNAVAIL",
            vec!["".into(), "RINGING".into(), "NOANSWER".into()]
        )
    );
    // Nobody answers within Dial's 2 s: NOANSWER, and the callee gets a CANCEL.
    let (result, statuses) = dial_from_the_dialplan(&sipp_callee(None)).await;
    assert_eq!(
        (result.as_str(), statuses),
        (
            "NOANSWER",
            vec!["".into(), "RINGING".into(), "NOANSWER".into()]
        )
    );
    // Answered: ANSWER, and the callee gets a BYE when the caller hangs up.
    let (result, statuses) = dial_from_the_dialplan(&sipp_callee(Some("200 OK"))).await;
    assert_eq!(
        (result.as_str(), statuses),
        ("ANSWER", vec!["".into(), "RINGING".into(), "ANSWER".into()])
    );
}
