//! `rtp_timeout` end to end: a SIPp caller that answers no media (it sends no RTP) on an
//! endpoint with `rtp_timeout = 2` is hung up by wari 2 s after the answer, with
//! Asterisk's cause 44 (`REQUESTED_CHAN_UNAVAIL`), and gets a BYE; a caller that holds
//! the call (re-INVITE `sendonly`) is not, however long it stays silent.
//!
//! SIPp runs a scenario written here; a flow passes when SIPp counts the call successful,
//! i.e. every expected message came and nothing unexpected (a BYE while held fails it).

use std::time::Duration;

use crate::sip_fixture::{start_watching, trunk_pjsip};
use crate::sip_peers::{Scenario, Sipp};
use crate::support::{EventSocket, Wari};

const APP: &str = "quiet";

const EXTENSIONS: &str = "[quiet]\nexten => _X.,1,Stasis(quiet)\n same => n,Hangup()\n";

/// How long SIPp may run one flow.
const FLOW_LIMIT: Duration = Duration::from_secs(20);

/// An in-dialog request of SIPp's (`method`, CSeq `cseq`), `body` its SDP or empty.
fn request(method: &str, cseq: u32, body: &str) -> String {
    let content = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: application/sdp\n      ".to_string()
    };
    format!(
        r#"
  <send>
    <![CDATA[
      {method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-{cseq}{method}
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      {content}Content-Length: [len]
{body}
    ]]>
  </send>
"#
    )
}

/// SIPp's SDP: audio at its media port (where it sends nothing), `direction` given.
fn sdp(direction: &str) -> String {
    format!(
        "
      v=0
      o=sipp 53655765 {version} IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a={direction}",
        version = if direction == "sendrecv" { 1 } else { 2 },
    )
}

/// An answered INVITE (cseq 1) or re-INVITE (`cseq`), with its ACK.
fn invite(cseq: u32, direction: &str) -> String {
    let ack = request("ACK", cseq, "");
    format!(
        r#"{invite}
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true" timeout="10000"/>
{ack}"#,
        invite = request("INVITE", cseq, &sdp(direction)),
    )
}

/// A caller that sends no RTP and waits for wari's BYE (which it answers).
fn silent_caller() -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="silent caller">
{invite}
  <recv request="BYE" timeout="8000"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#,
        invite = invite(1, "sendrecv"),
    )
}

/// A caller that holds the call at once (re-INVITE sendonly), stays silent for 3.5 s (more
/// than `rtp_timeout`), and hangs up itself.
fn holding_caller() -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="holding caller">
{invite}
{hold}
  <pause milliseconds="3500"/>
{bye}
  <recv response="200" timeout="5000"/>
</scenario>
"#,
        invite = invite(1, "sendrecv"),
        hold = invite(2, "sendonly"),
        bye = request("BYE", 3, ""),
    )
}

/// wari with the trunk, the application's events socket (every event), and SIPp calling
/// extension 500 with `scenario`; returns them with the channel's id, answered.
async fn answered(scenario: &str) -> (Wari, EventSocket, Sipp, String) {
    // A trunk known by its address (127.0.0.1, where SIPp runs) whose calls are hung up
    // after 2 s without RTP.
    let pjsip = trunk_pjsip("quiet", "rtp_timeout = 2\n");
    let (wari, mut ws) = start_watching(&pjsip, EXTENSIONS, APP).await;
    assert!(wari.sip_udp.is_some(), "{:?}", wari.banner);
    let sipp = Sipp::start(
        Scenario::Xml(scenario),
        wari.sip_udp,
        1,
        FLOW_LIMIT,
        &["-s", "500"],
    );
    let started =
        match tokio::time::timeout(Duration::from_secs(8), ws.next_of("StasisStart")).await {
            Ok(event) => event,
            Err(_) => panic!(
                "no StasisStart; SIPp:\n{}\nwari:\n{}",
                sipp.log(),
                wari.log()
            ),
        };
    let channel = started["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    let reply = wari.post(&format!("/ari/channels/{channel}/answer")).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    (wari, ws, sipp, channel)
}

#[tokio::test]
async fn a_call_without_rtp_is_hung_up_after_rtp_timeout_with_cause_44() {
    let (wari, mut ws, sipp, channel) = answered(&silent_caller()).await;
    let answered_at = std::time::Instant::now();
    let destroyed = ws.next_for("ChannelDestroyed", &channel).await;
    let after = answered_at.elapsed();
    assert_eq!(destroyed["cause"], 44, "{destroyed}");
    assert!(
        after >= Duration::from_millis(1500) && after < Duration::from_secs(5),
        "hung up {after:?} after the answer"
    );
    let outcome = sipp.finish(FLOW_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "SIPp expected a BYE:\n{}\nwari:\n{}",
        outcome.log,
        wari.log()
    );
}

#[tokio::test]
async fn a_held_call_without_rtp_is_not_hung_up() {
    let (wari, mut ws, sipp, channel) = answered(&holding_caller()).await;
    let hold = ws.next_for("ChannelHold", &channel).await;
    assert_eq!(hold["channel"]["id"], channel.as_str(), "{hold}");
    // The caller hangs up by itself after 3.5 s held: normal clearing, not a timeout.
    let destroyed = ws.next_for("ChannelDestroyed", &channel).await;
    assert_eq!(destroyed["cause"], 16, "{destroyed}");
    let outcome = sipp.finish(FLOW_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "SIPp was hung up while holding:\n{}\nwari:\n{}",
        outcome.log,
        wari.log()
    );
}
