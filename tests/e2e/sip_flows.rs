//! Call flows that end without a conversation, driven by SIPp against wari's PJSIP
//! technology: the application turns a call down as busy or unanswered and the caller gets
//! the SIP status Asterisk maps that cause to (17 -> 486, 19 -> 480); a caller that gives
//! up while it rings (CANCEL) gets 200 and 487 and the channel goes. And wari registering
//! to a provider (`type=registration`): a SIPp registrar challenges it and checks its digest.
//!
//! SIPp runs a scenario written here (its own sequence of requests and expected answers);
//! a flow passes when SIPp counts the call successful, i.e. every expected answer came.

use std::time::Duration;

use crate::sip_fixture::{start_watching, trunk_pjsip};
use crate::sip_peers::{Scenario, Sipp};
use crate::support::{EventSocket, Wari};

const APP: &str = "flows";

const EXTENSIONS: &str = "[flows]\nexten => _X.,1,Stasis(flows)\n same => n,Hangup()\n";

/// How long SIPp may run one flow.
const FLOW_LIMIT: Duration = Duration::from_secs(15);

/// The INVITE every scenario starts with (a fixed branch, so that the ACK of a failure
/// and a CANCEL belong to its transaction).
const INVITE: &str = r#"
  <send>
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
    ]]>
  </send>
  <recv response="100" optional="true"/>
"#;

/// The ACK of the INVITE's failure answer.
const ACK: &str = r#"
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
"#;

/// A caller that expects the call to be turned down with `status`.
fn turned_down(status: u16) -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="turned down with {status}">
{INVITE}
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="{status}" timeout="10000"/>
{ACK}
</scenario>
"#
    )
}

/// A caller that cancels once it hears ringing, and expects 200 (CANCEL) and 487 (INVITE).
fn cancelling() -> String {
    format!(
        r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancels while ringing">
{INVITE}
  <recv response="180" timeout="10000"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK-[pid]-[call_number]-inv
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200" timeout="5000"/>
  <recv response="487" timeout="5000"/>
{ACK}
</scenario>
"#
    )
}

/// wari with the trunk, and the application's events socket.
/// (A trunk known by its address, 127.0.0.1 where SIPp runs, without a password.)
async fn start() -> (Wari, EventSocket) {
    let (wari, ws) = start_watching(&trunk_pjsip("flows", ""), EXTENSIONS, APP).await;
    assert!(wari.sip_udp.is_some(), "{:?}", wari.banner);
    (wari, ws)
}

/// SIPp calling extension 500 of wari with `scenario`, once.
fn caller(wari: &Wari, scenario: &str) -> Sipp {
    Sipp::start(
        Scenario::Xml(scenario),
        wari.sip_udp,
        1,
        FLOW_LIMIT,
        &["-s", "500"],
    )
}

/// The StasisStart of SIPp's call (failing with SIPp's and wari's logs when none comes).
async fn stasis_start(wari: &Wari, ws: &mut EventSocket, sipp: &Sipp) -> serde_json::Value {
    match tokio::time::timeout(Duration::from_secs(8), ws.next_of("StasisStart")).await {
        Ok(event) => event,
        Err(_) => panic!(
            "no StasisStart; SIPp:\n{}\nwari:\n{}",
            sipp.log(),
            wari.log()
        ),
    }
}

/// The application turns the call down with ARI hangup `reason`; the caller must get
/// `status`, and the channel's ChannelDestroyed says `cause`.
async fn turned_down_with(reason: &str, status: u16, cause: u64) {
    let (wari, mut ws) = start().await;
    let sipp = caller(&wari, &turned_down(status));
    let started = stasis_start(&wari, &mut ws, &sipp).await;
    let channel = started["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    assert!(
        started["channel"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("PJSIP/trunk-")),
        "{started}"
    );
    let reply = wari
        .delete(&format!("/ari/channels/{channel}?reason={reason}"))
        .await;
    assert!(reply.status.is_success(), "{}", reply.text);
    let destroyed = ws.next_for("ChannelDestroyed", &channel).await;
    assert_eq!(destroyed["cause"], cause, "{destroyed}");
    let outcome = sipp.finish(FLOW_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "SIPp expected {status}:\n{}",
        outcome.log
    );
}

#[tokio::test]
async fn an_application_turning_a_call_down_as_busy_answers_486() {
    turned_down_with("busy", 486, 17).await;
}

#[tokio::test]
async fn an_application_turning_a_call_down_as_unanswered_answers_480() {
    turned_down_with("no_answer", 480, 19).await;
}

#[tokio::test]
async fn a_caller_cancelling_while_it_rings_gets_487_and_the_channel_goes() {
    let (wari, mut ws) = start().await;
    let sipp = caller(&wari, &cancelling());
    let started = stasis_start(&wari, &mut ws, &sipp).await;
    let channel = started["channel"]["id"]
        .as_str()
        .expect("channel id")
        .to_string();
    let reply = wari.post(&format!("/ari/channels/{channel}/ring")).await;
    assert!(reply.status.is_success(), "{}", reply.text);
    ws.next_for("StasisEnd", &channel).await;
    ws.next_for("ChannelDestroyed", &channel).await;
    let outcome = sipp.finish(FLOW_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "{}",
        outcome.log
    );
    let reply = wari.get(&format!("/ari/channels/{channel}")).await;
    assert_eq!(reply.status, 404, "{}", reply.text);
}

/// A registrar: challenges the first REGISTER, checks the second's digest against user
/// `wari-user` / `s3cret` (SIPp's verifyauth) and accepts it for 120 s; a wrong digest
/// leaves the scenario waiting for a request that never comes (a failed call).
const REGISTRAR: &str = r#"<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="registrar">
  <recv request="REGISTER"/>
  <send>
    <![CDATA[
      SIP/2.0 401 Unauthorized
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      WWW-Authenticate: Digest realm="provider", nonce="[pid]n[call_number]", algorithm=MD5
      Content-Length: 0
    ]]>
  </send>
  <recv request="REGISTER">
    <action>
      <verifyauth assign_to="authvalid" username="wari-user" password="s3cret"/>
    </action>
  </recv>
  <nop hide="true" test="authvalid" next="accepted"/>
  <recv request="NOTIFY" timeout="2000"/>
  <label id="accepted"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      [last_Contact:];expires=120
      Content-Length: 0
    ]]>
  </send>
</scenario>
"#;

#[tokio::test]
async fn wari_registers_to_a_sipp_registrar_with_its_outbound_auth() {
    let registrar = Sipp::start(Scenario::Xml(REGISTRAR), None, 1, FLOW_LIMIT, &[]);
    let at = registrar.sip;
    let conf = format!(
        "[udp]\ntype = transport\nprotocol = udp\nbind = 127.0.0.1:0\n\n\
         [provider-auth]\ntype = auth\nauth_type = userpass\nusername = wari-user\npassword = s3cret\n\n\
         [provider]\ntype = registration\nserver_uri = sip:{at}\nclient_uri = sip:wari-user@{at}\n\
         outbound_auth = provider-auth\nexpiration = 120\n"
    );
    let wari = Wari::with(&[("pjsip.conf", conf.as_str())]);
    let outcome = registrar.finish(FLOW_LIMIT).await;
    assert_eq!(
        (outcome.successful, outcome.failed),
        (1, 0),
        "{}\nwari:\n{}",
        outcome.log,
        wari.log()
    );
    crate::support::eventually("the registration is logged", Duration::from_secs(5), || {
        let log = wari.log();
        async move {
            if log.contains("outbound registration: Registered") {
                Ok(())
            } else {
                Err(log)
            }
        }
    })
    .await;
}
