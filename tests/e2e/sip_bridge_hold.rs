//! A far end's hold reaches the other parties of its mixing bridge, as in Asterisk (the
//! holder's HOLD written into the bridge, indicated to everyone else): two raw SIP phones
//! (`sip_raw`) bridged by the application; when one holds with a `sendonly` re-INVITE the
//! other hears wari's music on hold (or, with `moh_passthrough=yes`, gets the `sendonly`
//! re-INVITE itself), and the `sendrecv` re-INVITE takes it back. ChannelHold/ChannelUnhold
//! come for the holder only. A party leaving the bridge while held is unheld.

use serde_json::Value;
use tokio::net::UdpSocket;

use crate::media_support::assert_hears;
use crate::sip_hold_passthrough::{
    ack_of, answered_call_in, cseq, direction, drain, events, heard, reinvite_after,
    wari_with_music,
};
use crate::sip_raw::{Dialog, Message, Peer, response, sdp_offer, unique};
use crate::support::{EventSocket, Wari};

/// One phone's call in, answered and acknowledged.
struct Phone {
    peer: Peer,
    rtp: UdpSocket,
    dialog: Dialog,
    id: String,
}

impl Phone {
    /// A call in from `user` (a pjsip.conf endpoint of `wari_with_music`), answered.
    async fn call(wari: &Wari, app: &mut EventSocket, user: &str) -> Phone {
        let peer = Peer::of(wari).await;
        let rtp = UdpSocket::bind("127.0.0.1:0").await.expect("RTP socket");
        let port = rtp.local_addr().expect("RTP address").port();
        let (dialog, _, id) = answered_call_in(wari, app, &peer, user, port).await;
        Phone {
            peer,
            rtp,
            dialog,
            id,
        }
    }

    /// The phone sends a re-INVITE offering `direction` (CSeq `seq`) and acknowledges
    /// wari's 200; returns the 200.
    async fn reinvite(&self, seq: u32, direction: &str) -> Message {
        let port = self.rtp.local_addr().expect("RTP address").port();
        let reinvite = self
            .dialog
            .request("INVITE", seq, self.peer.local(), &unique())
            .header("Contact", &format!("<sip:phone@{}>", self.peer.local()))
            .sdp(&sdp_offer(port, seq + 1, direction))
            .text();
        self.peer.send(&reinvite).await;
        let (ok, _) = self
            .peer
            .final_response_of("INVITE", &self.dialog.call_id)
            .await;
        assert_eq!(ok.status(), 200, "{ok}");
        self.peer
            .send(
                self.dialog
                    .request("ACK", seq, self.peer.local(), &unique())
                    .text(),
            )
            .await;
        ok
    }

    /// One second of what the phone hears from now on (the first 200 ms left out).
    async fn hears_now(&self) -> Vec<i16> {
        drain(&self.rtp);
        heard(&self.rtp, 50).await[1600..].to_vec()
    }

    /// The phone answers wari's re-INVITE `reinvite` with 200 offering `direction`, and
    /// waits for wari's ACK.
    async fn accept(&self, reinvite: &Message, version: u32, direction: &str) {
        let port = self.rtp.local_addr().expect("RTP address").port();
        let contact = format!("Contact: <sip:phone@{}>", self.peer.local());
        self.peer
            .reply(
                reinvite,
                &response(
                    reinvite,
                    "200 OK",
                    None,
                    std::slice::from_ref(&contact),
                    &sdp_offer(port, version, direction),
                ),
            )
            .await;
        ack_of(&self.peer, cseq(reinvite)).await;
    }
}

/// Both phones in mixing bridge `bridge`.
async fn bridged(wari: &Wari, app: &mut EventSocket, bridge: &str, a: &Phone, b: &Phone) {
    let created = wari
        .post(&format!("/ari/bridges?type=mixing&bridgeId={bridge}"))
        .await;
    assert_eq!(created.status, 200, "{:?}", created.body);
    let added = wari
        .post(&format!(
            "/ari/bridges/{bridge}/addChannel?channel={},{}",
            a.id, b.id
        ))
        .await;
    assert_eq!(added.status, 204, "{:?}", added.body);
    app.next_for("ChannelEnteredBridge", &a.id).await;
    app.next_for("ChannelEnteredBridge", &b.id).await;
}

/// The events up to the first `kind` (ChannelHold, ChannelUnhold); every hold event among
/// them must be about `holder`.
async fn hold_event_of(app: &mut EventSocket, kind: &str, holder: &str) {
    let seen = app.until(|e| e["type"] == kind).await;
    let holds: Vec<&Value> = seen
        .iter()
        .filter(|e| e["type"] == "ChannelHold" || e["type"] == "ChannelUnhold")
        .collect();
    assert!(
        holds.iter().all(|e| e["channel"]["id"] == holder),
        "hold events for the holder only: {holds:?}"
    );
}

/// Hangs both phones up.
async fn hang_up(wari: &Wari, phones: [&Phone; 2]) {
    for phone in phones {
        assert_eq!(
            wari.delete(&format!("/ari/channels/{}", phone.id))
                .await
                .status,
            204
        );
        phone.peer.request_of("BYE").await;
    }
}

#[tokio::test]
async fn a_phone_holding_a_bridged_call_gives_the_other_party_music_until_it_takes_it_back() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let a = Phone::call(&wari, &mut app, "desk").await;
    let b = Phone::call(&wari, &mut app, "desk").await;
    bridged(&wari, &mut app, "call", &a, &b).await;
    // What the bridge carries: a 1 kHz tone (music on hold is 440 Hz).
    let played = wari.post("/ari/bridges/call/play?media=tone:1000").await;
    assert_eq!(played.status, 201, "{:?}", played.body);
    app.next_of("PlaybackStarted").await;
    assert_hears(
        &b.hears_now().await,
        1000.0,
        440.0,
        "the bridge before hold",
    );

    let ok = a.reinvite(2, "sendonly").await;
    assert_eq!(direction(&ok.body).as_deref(), Some("recvonly"), "{ok}");
    hold_event_of(&mut app, "ChannelHold", &a.id).await;
    assert_hears(
        &b.hears_now().await,
        440.0,
        1000.0,
        "music on hold while the other party holds",
    );

    let ok = a.reinvite(3, "sendrecv").await;
    assert_eq!(direction(&ok.body).as_deref(), Some("sendrecv"), "{ok}");
    hold_event_of(&mut app, "ChannelUnhold", &a.id).await;
    assert_hears(
        &b.hears_now().await,
        1000.0,
        440.0,
        "the bridge after unhold",
    );
    hang_up(&wari, [&a, &b]).await;
}

#[tokio::test]
async fn with_moh_passthrough_the_other_party_gets_the_hold_as_reinvites() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let a = Phone::call(&wari, &mut app, "desk").await;
    let b = Phone::call(&wari, &mut app, "held").await;
    bridged(&wari, &mut app, "call", &a, &b).await;

    a.reinvite(2, "sendonly").await;
    hold_event_of(&mut app, "ChannelHold", &a.id).await;
    let hold = reinvite_after(&b.peer, 0).await;
    assert_eq!(direction(&hold.body).as_deref(), Some("sendonly"), "{hold}");
    b.accept(&hold, 2, "recvonly").await;

    a.reinvite(3, "sendrecv").await;
    hold_event_of(&mut app, "ChannelUnhold", &a.id).await;
    let unhold = reinvite_after(&b.peer, cseq(&hold)).await;
    assert_eq!(
        direction(&unhold.body).as_deref(),
        Some("sendrecv"),
        "{unhold}"
    );
    b.accept(&unhold, 3, "sendrecv").await;
    // The holder itself got no re-INVITE.
    let received = drain(&a.peer.socket);
    assert!(
        received.iter().all(|m| !m.is_request("INVITE")),
        "no re-INVITE to the holder: {received:?}"
    );
    hang_up(&wari, [&a, &b]).await;
}

#[tokio::test]
async fn a_party_taken_out_of_the_bridge_while_the_other_holds_is_unheld() {
    let (wari, _data) = wari_with_music();
    let mut app = events(&wari).await;
    let a = Phone::call(&wari, &mut app, "desk").await;
    let b = Phone::call(&wari, &mut app, "held").await;
    bridged(&wari, &mut app, "call", &a, &b).await;
    a.reinvite(2, "sendonly").await;
    let hold = reinvite_after(&b.peer, 0).await;
    assert_eq!(direction(&hold.body).as_deref(), Some("sendonly"), "{hold}");
    b.accept(&hold, 2, "recvonly").await;

    let removed = wari
        .post(&format!("/ari/bridges/call/removeChannel?channel={}", b.id))
        .await;
    assert_eq!(removed.status, 204, "{:?}", removed.body);
    let unhold = reinvite_after(&b.peer, cseq(&hold)).await;
    assert_eq!(
        direction(&unhold.body).as_deref(),
        Some("sendrecv"),
        "{unhold}"
    );
    b.accept(&unhold, 3, "sendrecv").await;
    hang_up(&wari, [&a, &b]).await;
}
