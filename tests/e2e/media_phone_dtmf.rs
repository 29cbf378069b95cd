//! Keys pressed on a Test phone (`dtmf=DIGITS`) travel in band: a recording of the phone's
//! channel holds each key's dual tone, and ChannelDtmfReceived arrives once the tone has
//! been heard.

use crate::media_support::{MediaApp, keys_heard, keys_received, record, stop, stored_samples};

const DIALPLAN: &str = "\
[pd]
exten => _X.,1,Stasis(pd)
";

#[tokio::test]
async fn a_test_phones_keys_are_in_its_recording_and_received_after_their_tones() {
    let MediaApp {
        wari,
        mut ws,
        data: _data,
    } = MediaApp::start("pd", DIALPLAN).await;
    // Created, recorded, then dialled: the recording runs before the phone answers and
    // presses its keys (`w`: half a second; `1` twice, apart).
    let reply = wari
        .post("/ari/channels/create?endpoint=Test/keys/dtmf=1w1%235&app=pd&channelId=keys")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    ws.next_for("StasisStart", "keys").await;
    record(&wari, &mut ws, "channels/keys", "keys", "").await;
    let reply = wari.post("/ari/channels/keys/dial").await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    keys_received(&mut ws, "keys", "11#5", 100).await;

    // Stopped as soon as the last digit arrived: its tone is already recorded.
    stop(&wari, &mut ws, "keys").await;
    let samples = stored_samples(&wari, "keys").await;
    assert_eq!(keys_heard(&samples), "11#5", "the keys are heard in band");
}
