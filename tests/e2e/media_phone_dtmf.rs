//! Keys pressed on a Test phone (`dtmf=DIGITS`) travel in band: a recording of the phone's
//! channel holds each key's dual tone, and ChannelDtmfReceived arrives once the tone has
//! been heard.

use crate::media_support::{start_with_data_dir, stored_samples};
use crate::support::EventSocket;

const DIALPLAN: &str = "\
[pd]
exten => _X.,1,Stasis(pd)
";

/// The DTMF keys heard in `samples`, in order.
fn keys_heard(samples: &[i16]) -> String {
    let mut detector = wari::media::detect::DtmfDetector::new();
    samples
        .chunks_exact(160)
        .filter_map(|chunk| {
            let frame = wari::media::AudioFrame::from_samples(wari::media::Rate::Narrow8k, chunk)
                .expect("a 20 ms frame");
            detector.feed(&frame)
        })
        .collect()
}

#[tokio::test]
async fn a_test_phones_keys_are_in_its_recording_and_received_after_their_tones() {
    let data = tempfile::tempdir().expect("temp dir");
    let wari = start_with_data_dir(data.path(), DIALPLAN);
    let mut ws = EventSocket::connect(&wari, "app=pd&api_key=asterisk:secret").await;
    // Created, recorded, then dialled: the recording runs before the phone answers and
    // presses its keys (`w`: half a second; `1` twice, apart).
    let reply = wari
        .post("/ari/channels/create?endpoint=Test/keys/dtmf=1w1%235&app=pd&channelId=keys")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    ws.next_for("StasisStart", "keys").await;
    let reply = wari
        .post("/ari/channels/keys/record?name=keys&format=wav")
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let started = ws.next_of("RecordingStarted").await;
    assert_eq!(started["recording"]["name"], "keys", "{started}");
    let reply = wari.post("/ari/channels/keys/dial").await;
    assert_eq!(reply.status, 204, "{}", reply.body);

    let mut digits = String::new();
    for _ in 0..4 {
        let event = ws.next_for("ChannelDtmfReceived", "keys").await;
        assert_eq!(event["duration_ms"], 100, "{event}");
        digits.push_str(event["digit"].as_str().unwrap_or_default());
    }
    assert_eq!(digits, "11#5");

    // Stopped as soon as the last digit arrived: its tone is already recorded.
    let reply = wari.post("/ari/recordings/live/keys/stop").await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let done = ws.next_of("RecordingFinished").await;
    assert_eq!(done["recording"]["state"], "done", "{done}");
    let samples = stored_samples(&wari, "keys").await;
    assert_eq!(keys_heard(&samples), "11#5", "the keys are heard in band");
}
