//! CANCEL and its `Reason` both ways, with the raw SIP peer of `sip_raw` on loopback UDP:
//! a caller's CANCEL with `Reason: Q.850;cause=N` hangs the channel up with cause N (as
//! Asterisk reads it, for CANCEL as for BYE); a call wari makes and hangs up before any
//! response gets its CANCEL only once a provisional response came (RFC 3261 §9.1, as
//! Asterisk waits), and that CANCEL carries the channel's cause.

use std::time::Duration;

use crate::sip_fixture::{originate, start_watching};
use crate::sip_raw::{self as raw, Dialog, Peer, Request, response, udp_transport};

const APP: &str = "sipapp";

const DIALPLAN: &str = "[incoming]\nexten => _X.,1,Stasis(sipapp)\n";

/// A UDP transport; `alice` is identified by 127.0.0.1, `far` is called at a URI.
const PJSIP: &str = concat!(
    udp_transport!(),
    "
[alice]
type=endpoint
context=incoming
allow=ulaw

[alice-ip]
type=identify
endpoint=alice
match=127.0.0.1

[far]
type=endpoint
context=incoming
allow=ulaw
"
);

/// How long the callee listens for a CANCEL that must not come yet (INVITE
/// retransmissions, 500 ms apart, may).
const QUIET: Duration = Duration::from_millis(1200);

/// A request of `call` from the peer at `peer` with Via branch `branch`.
fn call_request(method: &str, call: &Dialog, peer: &Peer, branch: &str) -> Request {
    Request::new(method, &call.uri)
        .via("UDP", peer.local(), branch)
        .header("From", &format!("{};tag={}", call.from, call.from_tag))
        .header("To", &format!("<{}>", call.uri))
        .header("Call-ID", &call.call_id)
        .cseq(1)
}

#[tokio::test]
async fn a_cancel_with_a_q850_reason_gives_the_channel_that_cause() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let peer = Peer::of(&wari).await;
    let rtp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("rtp");
    let call = Dialog::new(&format!("sip:100@{}", peer.wari()), "<sip:alice@127.0.0.1>");
    let branch = format!("z9hG4bK{}", raw::unique());
    let invite = call_request("INVITE", &call, &peer, &branch)
        .header("Contact", &format!("<sip:alice@{}>", peer.local()))
        .sdp(&raw::sdp_offer(
            rtp.local_addr().expect("rtp").port(),
            1,
            "sendrecv",
        ))
        .text();
    peer.send(&invite).await;
    let started = app.next_of("StasisStart").await;
    let id = started["channel"]["id"].as_str().expect("id").to_string();

    // The caller gives up: "no answer" (19), says its CANCEL.
    let cancel = call_request("CANCEL", &call, &peer, &branch)
        .header("Reason", "Q.850;cause=19;text=\"No answer\"")
        .text();
    peer.send(&cancel).await;
    let (terminated, _) = peer.final_response_of("INVITE", &call.call_id).await;
    assert_eq!(terminated.status(), 487, "{terminated}");
    let destroyed = app.next_for("ChannelDestroyed", &id).await;
    assert_eq!(destroyed["cause"], 19, "{destroyed}");
    assert_eq!(
        destroyed["cause_txt"], "User alerting, no answer",
        "{destroyed}"
    );
}

#[tokio::test]
async fn a_call_hung_up_before_any_response_is_cancelled_after_the_first_with_its_reason() {
    let (wari, mut app) = start_watching(PJSIP, DIALPLAN, APP).await;
    let callee = Peer::listening().await;
    originate(
        &wari,
        &format!(
            "endpoint=PJSIP/far/sip:bob@{}&app={APP}&channelId=early-cancel",
            callee.local()
        ),
    )
    .await;
    let invite = callee.request_of("INVITE").await;

    // Hung up as busy (17) before the callee said anything: the channel goes at once,
    // the CANCEL waits.
    let hung_up = wari.delete("/ari/channels/early-cancel?reason=busy").await;
    assert_eq!(hung_up.status, 204);
    let destroyed = app.next_for("ChannelDestroyed", "early-cancel").await;
    assert_eq!(destroyed["cause"], 17, "{destroyed}");
    let deadline = tokio::time::Instant::now() + QUIET;
    for _ in 0..raw::SIP_BUDGET {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            break;
        }
        let Ok(message) = tokio::time::timeout(left, callee.receive_within(raw::SIP_TIMEOUT)).await
        else {
            break;
        };
        assert!(
            message.is_request("INVITE"),
            "only the INVITE (retransmitted) before a provisional, got {message}"
        );
    }

    // The callee rings: now the CANCEL of that INVITE comes, with the channel's cause.
    callee
        .reply(
            &invite,
            &response(&invite, "180 Ringing", Some("r1"), &[], ""),
        )
        .await;
    let cancel = callee.request_of("CANCEL").await;
    assert_eq!(cancel.header("call-id"), invite.header("call-id"));
    assert_eq!(cancel.header("via"), invite.header("via"));
    assert_eq!(
        cancel.all("reason").collect::<Vec<_>>(),
        ["Q.850;cause=17"],
        "{cancel}"
    );
    callee
        .reply(&cancel, &response(&cancel, "200 OK", None, &[], ""))
        .await;
    callee
        .reply(
            &invite,
            &response(&invite, "487 Request Terminated", Some("r1"), &[], ""),
        )
        .await;
    callee.request_of("ACK").await;
}
