//! Media helpers shared by the media tests: starting wari on a data directory of sound
//! files with an application connected, putting Local pairs in it and bridging them,
//! recording and playing with the events waited for, writing 8 kHz WAV files, reading
//! stored recordings back, and telling tones and keys apart in them.

use std::path::Path;

use serde_json::Value;
use wari::media::detect::goertzel_power;

use crate::support::{ARI_CONF, EventSocket, HTTP_CONF, Wari, client};

/// The only format the media tests use: 8 kHz, mono, 16-bit signed.
pub(crate) const SPEC_8K_MONO: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

/// Writes `samples` to `path` as an 8 kHz mono 16-bit WAV file, creating the parent
/// directories.
pub(crate) fn write_wav(path: &Path, samples: impl IntoIterator<Item = i16>) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let mut writer = hound::WavWriter::create(path, SPEC_8K_MONO).expect("wav");
    for sample in samples {
        writer.write_sample(sample).expect("sample");
    }
    writer.finalize().expect("finalize");
}

/// `len` samples at 8 kHz of a `freq` Hz sine of amplitude 8000.
pub(crate) fn sine(freq: f64, len: u32) -> impl Iterator<Item = i16> {
    (0..len).map(move |n| {
        let t = f64::from(n) / 8000.0;
        (8000.0 * (2.0 * std::f64::consts::PI * freq * t).sin()) as i16
    })
}

/// The format and samples of a WAV file held in `bytes`.
pub(crate) fn decode_wav(bytes: &[u8]) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("WAV");
    let samples = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    (reader.spec(), samples)
}

/// The samples of stored recording `name`, downloaded as the test user.
pub(crate) async fn stored_samples(wari: &Wari, name: &str) -> Vec<i16> {
    let file = client()
        .get(wari.url(&format!("/ari/recordings/stored/{name}/file")))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("download");
    assert_eq!(file.status(), 200, "recording {name}");
    let bytes = file.bytes().await.expect("bytes");
    decode_wav(&bytes).1
}

/// wari started on a fresh `astdatadir`, with one application's events socket connected.
pub(crate) struct MediaApp {
    pub wari: Wari,
    pub ws: EventSocket,
    /// The `astdatadir` (sounds and music on hold); removed when dropped, so a test keeps
    /// it bound while wari runs.
    pub data: tempfile::TempDir,
}

impl MediaApp {
    /// wari with `dialplan` on an empty data directory, application `app` connected.
    pub(crate) async fn start(app: &str, dialplan: &str) -> MediaApp {
        MediaApp::start_with(app, dialplan, |_| {}).await
    }

    /// Like [`MediaApp::start`], with files written into the data directory by `files`
    /// before wari starts (the sounds directory is indexed at start). wari runs with the
    /// test HTTP and ARI users, `dialplan` as `extensions.conf`, and the data directory as
    /// `astdatadir` (where it finds `sounds/` and `moh/`).
    pub(crate) async fn start_with(
        app: &str,
        dialplan: &str,
        files: impl FnOnce(&Path),
    ) -> MediaApp {
        let data = tempfile::tempdir().expect("temp dir");
        files(data.path());
        let asterisk = format!("[directories]\nastdatadir => {}\n", data.path().display());
        let wari = Wari::start(&[
            ("http.conf", HTTP_CONF),
            ("ari.conf", ARI_CONF),
            ("extensions.conf", dialplan),
            ("asterisk.conf", &asterisk),
        ]);
        let ws = EventSocket::connect(&wari, &format!("app={app}&api_key=asterisk:secret")).await;
        MediaApp { wari, ws, data }
    }
}

/// Originates `endpoint` (a Local channel) into application `app` as the pair
/// `id`/`other_id`, and waits until both halves have entered the application.
pub(crate) async fn local_pair(
    wari: &Wari,
    ws: &mut EventSocket,
    app: &str,
    endpoint: &str,
    id: &str,
    other_id: &str,
) {
    let reply = wari
        .post(&format!(
            "/ari/channels?endpoint={endpoint}&app={app}&channelId={id}&otherChannelId={other_id}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    one_each(
        ws,
        "StasisStart",
        &[id, other_id],
        |e| &e["channel"]["id"],
        "the channels that entered the application",
    )
    .await;
}

/// Waits for one `kind` event per name of `names` and checks that `name_of` the events
/// gives exactly those names, in any order (`what` says whose, on failure); returns the
/// events as they came.
async fn one_each(
    ws: &mut EventSocket,
    kind: &str,
    names: &[&str],
    name_of: impl Fn(&Value) -> &Value,
    what: &str,
) -> Vec<Value> {
    let mut events = Vec::new();
    for _ in names {
        events.push(ws.next_of(kind).await);
    }
    let mut seen: Vec<&str> = events
        .iter()
        .map(|e| name_of(e).as_str().unwrap_or_default())
        .collect();
    seen.sort();
    let mut wanted = names.to_vec();
    wanted.sort();
    assert_eq!(seen, wanted, "{what}");
    events
}

/// [`local_pair`] for each name: the pair `<name>1`/`<name>2`.
pub(crate) async fn local_pairs(
    wari: &Wari,
    ws: &mut EventSocket,
    app: &str,
    endpoint: &str,
    names: &[&str],
) {
    for name in names {
        local_pair(
            wari,
            ws,
            app,
            endpoint,
            &format!("{name}1"),
            &format!("{name}2"),
        )
        .await;
    }
}

/// Creates mixing bridge `id` holding `members`, and waits until each has entered it.
pub(crate) async fn bridge(
    wari: &Wari,
    ws: &mut EventSocket,
    id: &str,
    members: &[impl AsRef<str>],
) {
    let members: Vec<&str> = members.iter().map(AsRef::as_ref).collect();
    let reply = wari.post(&format!("/ari/bridges/{id}?type=mixing")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = wari
        .post(&format!(
            "/ari/bridges/{id}/addChannel?channel={}",
            members.join(",")
        ))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    one_each(
        ws,
        "ChannelEnteredBridge",
        &members,
        |e| &e["channel"]["id"],
        &format!("the channels that entered bridge {id}"),
    )
    .await;
}

/// Starts recording `target` (`channels/<id>` or `bridges/<id>`) as wav recording `name`
/// (`extra`: more query parameters, `&key=value`) and waits for its RecordingStarted.
pub(crate) async fn record(
    wari: &Wari,
    ws: &mut EventSocket,
    target: &str,
    name: &str,
    extra: &str,
) {
    let reply = wari
        .post(&format!(
            "/ari/{target}/record?name={name}&format=wav{extra}"
        ))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let started = ws.next_of("RecordingStarted").await;
    assert_eq!(started["recording"]["name"], name, "{started}");
}

/// Waits for one RecordingFinished per name of `names` and checks that they are those
/// recordings (in any order), each done.
pub(crate) async fn recordings_finished(ws: &mut EventSocket, names: &[&str]) {
    let ended = one_each(
        ws,
        "RecordingFinished",
        names,
        |e| &e["recording"]["name"],
        "the recordings that finished",
    )
    .await;
    for done in ended {
        assert_eq!(done["recording"]["state"], "done", "{done}");
    }
}

/// Stops live recording `name` and waits until it has finished.
pub(crate) async fn stop(wari: &Wari, ws: &mut EventSocket, name: &str) {
    let reply = wari
        .post(&format!("/ari/recordings/live/{name}/stop"))
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    recordings_finished(ws, &[name]).await;
}

/// Stops the named live recordings, waits until each has finished (in any order), and
/// returns their stored samples, in the order of `names`.
pub(crate) async fn stop_all<const N: usize>(
    wari: &Wari,
    ws: &mut EventSocket,
    names: [&str; N],
) -> [Vec<i16>; N] {
    for name in names {
        let reply = wari
            .post(&format!("/ari/recordings/live/{name}/stop"))
            .await;
        assert_eq!(reply.status, 204, "{}", reply.body);
    }
    recordings_finished(ws, &names).await;
    let mut all = Vec::new();
    for name in names {
        all.push(stored_samples(wari, name).await);
    }
    all.try_into().expect("one recording per name")
}

/// Plays `media` on channel `channel` (the request accepted) and returns its
/// PlaybackFinished, whether the playback was done or failed.
pub(crate) async fn play(wari: &Wari, ws: &mut EventSocket, channel: &str, media: &str) -> Value {
    let reply = wari
        .post(&format!("/ari/channels/{channel}/play?media={media}"))
        .await;
    assert_eq!(reply.status, 201, "{media}: {}", reply.body);
    ws.next_of("PlaybackFinished").await
}

/// Plays `media` on channel `channel` and waits until it has finished.
pub(crate) async fn play_through(wari: &Wari, ws: &mut EventSocket, channel: &str, media: &str) {
    let finished = play(wari, ws, channel, media).await;
    assert_eq!(finished["playback"]["state"], "done", "{media}: {finished}");
}

/// The power of `freq` in `samples` (8 kHz), summed over 20 ms windows.
fn power(samples: &[i16], freq: f32) -> f32 {
    samples
        .chunks_exact(160)
        .map(|w| goertzel_power(w, freq, 8000))
        .sum()
}

/// True when `freq` clearly stands out of `samples` compared with `absent`.
pub(crate) fn hears(samples: &[i16], freq: f32, absent: f32) -> bool {
    power(samples, freq) > 100.0 * power(samples, absent).max(1.0)
}

/// Asserts that `freq` clearly stands out of `samples` against `absent` (see [`hears`]);
/// on failure the message is `what` with both powers.
#[track_caller]
pub(crate) fn assert_hears(samples: &[i16], freq: f32, absent: f32, what: &str) {
    assert!(
        hears(samples, freq, absent),
        "{what}: {freq} Hz at {} vs {absent} Hz at {}",
        power(samples, freq),
        power(samples, absent)
    );
}

/// The DTMF keys heard in `samples` (8 kHz), in order.
pub(crate) fn keys_heard(samples: &[i16]) -> String {
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

/// Waits for one ChannelDtmfReceived per key of `keys` and checks that each is for
/// `channel`, lasted `duration_ms`, and that together they are `keys`, in order.
pub(crate) async fn keys_received(
    ws: &mut EventSocket,
    channel: &str,
    keys: &str,
    duration_ms: u64,
) {
    let mut received = String::new();
    for _ in keys.chars() {
        let event = ws.next_of("ChannelDtmfReceived").await;
        assert_eq!(event["channel"]["id"], channel, "{event}");
        assert_eq!(event["duration_ms"], duration_ms, "{event}");
        received.push_str(event["digit"].as_str().unwrap_or_default());
    }
    assert_eq!(received, keys);
}

/// Plays `tone:!<freq>/<ms>` on each `(channel, freq)` at once, and waits until every
/// playback is done.
pub(crate) async fn play_tones(
    wari: &Wari,
    ws: &mut EventSocket,
    tones: &[(impl AsRef<str>, f32)],
    ms: u32,
) {
    for (channel, freq) in tones {
        let channel = channel.as_ref();
        let reply = wari
            .post(&format!(
                "/ari/channels/{channel}/play?media=tone:!{freq}/{ms}"
            ))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.body);
    }
    for _ in tones {
        let finished = ws.next_of("PlaybackFinished").await;
        assert_eq!(finished["playback"]["state"], "done", "{finished}");
    }
}
