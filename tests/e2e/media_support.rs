//! Media helpers shared by the media tests: starting wari on a data directory of sound
//! files, writing 8 kHz WAV files into it, and reading stored recordings back.

#![allow(dead_code)]

use std::path::Path;

use crate::support::{ARI_CONF, HTTP_CONF, Wari, client};

/// The only format the media tests use: 8 kHz, mono, 16-bit signed.
pub const SPEC_8K_MONO: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

/// Writes `samples` to `path` as an 8 kHz mono 16-bit WAV file, creating the parent
/// directories.
pub fn write_wav(path: &Path, samples: impl IntoIterator<Item = i16>) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    let mut writer = hound::WavWriter::create(path, SPEC_8K_MONO).expect("wav");
    for sample in samples {
        writer.write_sample(sample).expect("sample");
    }
    writer.finalize().expect("finalize");
}

/// The format and samples of a WAV file held in `bytes`.
pub fn decode_wav(bytes: &[u8]) -> (hound::WavSpec, Vec<i16>) {
    let mut reader = hound::WavReader::new(std::io::Cursor::new(bytes)).expect("WAV");
    let samples = reader
        .samples::<i16>()
        .map(|s| s.expect("sample"))
        .collect();
    (reader.spec(), samples)
}

/// The samples of stored recording `name`, downloaded as the test user.
pub async fn stored_samples(wari: &Wari, name: &str) -> Vec<i16> {
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

/// Starts wari with the test HTTP and ARI users, `dialplan` as `extensions.conf`, and
/// `data_dir` as `astdatadir` (where it finds `sounds/` and `moh/`).
pub fn start_with_data_dir(data_dir: &Path, dialplan: &str) -> Wari {
    let asterisk = format!("[directories]\nastdatadir => {}\n", data_dir.display());
    Wari::start(&[
        ("http.conf", HTTP_CONF),
        ("ari.conf", ARI_CONF),
        ("extensions.conf", dialplan),
        ("asterisk.conf", &asterisk),
    ])
}
