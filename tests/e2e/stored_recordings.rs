//! Stored recordings on disk as clients and crashes leave them: a copy to a name with a dot
//! makes exactly the recording its reply names and never replaces another, and a recording
//! a crash cut short is repaired (or removed) when wari starts again.

use reqwest::StatusCode;

use crate::media_support::{decode_wav, sine, stored_samples, write_wav};
use crate::support::{Wari, client};

/// The files in the recordings directory, names sorted.
fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("recordings directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

async fn download(wari: &Wari, name: &str) -> (StatusCode, Vec<u8>) {
    let response = client()
        .get(wari.url(&format!("/ari/recordings/stored/{name}/file")))
        .basic_auth("asterisk", Some("secret"))
        .send()
        .await
        .expect("download");
    let status = response.status();
    (status, response.bytes().await.expect("bytes").to_vec())
}

#[tokio::test]
async fn a_copy_to_a_dotted_name_is_exactly_the_recording_named_and_replaces_nothing() {
    let wari = Wari::start_default();
    let dir = wari.data_dir().expect("data dir").join("recordings");
    // A victim's recording (several seconds, so the copy and download have work to do),
    // and another user's `backup` that a copy to `backup.<date>` must leave alone.
    write_wav(&dir.join("victim.wav"), sine(440.0, 8000 * 20));
    write_wav(&dir.join("backup.wav"), sine(1000.0, 800));
    let backup_before = std::fs::read(dir.join("backup.wav")).expect("backup");
    let victim = std::fs::read(dir.join("victim.wav")).expect("victim");

    for name in [
        "backup.2026-12-06",
        "backup.2026-12-07",
        "backup.2026-12-06.x.wav",
    ] {
        let copy = wari
            .post(&format!(
                "/ari/recordings/stored/victim/copy?destinationRecordingName={name}"
            ))
            .await;
        assert_eq!(copy.status, StatusCode::OK, "{name}: {}", copy.body);
        let named = name.strip_suffix(".wav").unwrap_or(name);
        assert_eq!(
            copy.body,
            serde_json::json!({"name": named, "format": "wav"})
        );
        assert_eq!(
            wari.get(&format!("/ari/recordings/stored/{named}"))
                .await
                .status,
            StatusCode::OK,
            "the copy is the recording its reply names"
        );
        assert_eq!(
            download(&wari, named).await,
            (StatusCode::OK, victim.clone())
        );
    }
    // Names already taken, by a copy or by another recording, are refused.
    for name in ["backup.2026-12-06", "backup", "backup.wav", "victim"] {
        let copy = wari
            .post(&format!(
                "/ari/recordings/stored/victim/copy?destinationRecordingName={name}"
            ))
            .await;
        assert_eq!(copy.status, StatusCode::CONFLICT, "{name}: {}", copy.body);
    }
    // Out of the recordings directory: refused.
    for name in [
        "..%2Fout",
        "a%2F..%2F..%2Fout",
        "%2Ftmp%2Fout",
        "a%2F.%2Fb",
        "a%2F%2Fb",
    ] {
        let copy = wari
            .post(&format!(
                "/ari/recordings/stored/victim/copy?destinationRecordingName={name}"
            ))
            .await;
        assert_eq!(copy.status, StatusCode::FORBIDDEN, "{name}: {}", copy.body);
    }
    assert_eq!(
        std::fs::read(dir.join("backup.wav")).expect("backup"),
        backup_before,
        "the other recording is untouched"
    );
    assert_eq!(
        files(&dir),
        [
            "backup.2026-12-06.wav",
            "backup.2026-12-06.x.wav",
            "backup.2026-12-07.wav",
            "backup.wav",
            "victim.wav"
        ],
        "no temporary file is left, nothing outside"
    );
    assert!(!wari.data_dir().expect("data").join("out.wav").exists());
    // The legitimate user's own recording is still served whole.
    let (spec, samples) = decode_wav(&download(&wari, "backup").await.1);
    assert_eq!((spec.sample_rate, samples.len()), (8000, 800));
    assert_eq!(
        stored_samples(&wari, "backup.2026-12-07").await.len(),
        8000 * 20
    );
}

/// A WAV file as a crash leaves it: the audio is written, the RIFF and `data` sizes are
/// still zero, and the last sample is torn in half.
fn cut_short_wav(samples: &[i16]) -> Vec<u8> {
    let file = tempfile::NamedTempFile::new().expect("temp");
    write_wav(file.path(), samples.iter().copied());
    let mut bytes = std::fs::read(file.path()).expect("wav");
    bytes[4..8].copy_from_slice(&[0; 4]);
    bytes[40..44].copy_from_slice(&[0; 4]);
    bytes.push(0x55);
    bytes
}

#[tokio::test]
async fn recordings_cut_short_by_a_crash_are_repaired_or_removed_at_start_up() {
    let wari = Wari::start_default();
    let dir = wari.data_dir().expect("data dir").join("recordings");
    let samples: Vec<i16> = sine(440.0, 4000).collect();
    std::fs::create_dir_all(dir.join("calls")).expect("dir");
    std::fs::write(dir.join("calls/cut.wav.partial"), cut_short_wav(&samples)).expect("write");
    std::fs::write(dir.join("raw.sln.partial"), [1u8, 0, 2, 0, 3]).expect("write");
    std::fs::write(dir.join("garbage.wav.partial"), b"RIFF????WAVEjunk").expect("write");
    std::fs::write(dir.join("odd.partial"), b"?").expect("write");
    std::fs::write(dir.join(".kept.wav.0123.copy"), b"half a copy").expect("write");
    // A complete recording whose name a cut-short one also has: the complete one wins.
    write_wav(&dir.join("kept.wav"), sine(1000.0, 800));
    std::fs::write(dir.join("kept.wav.partial"), cut_short_wav(&samples)).expect("write");
    let kept = std::fs::read(dir.join("kept.wav")).expect("kept");

    let wari = wari.restart();
    let listed = wari.get("/ari/recordings/stored").await;
    assert_eq!(
        listed.body,
        serde_json::json!([
            {"name": "calls/cut", "format": "wav"},
            {"name": "kept", "format": "wav"},
            {"name": "raw", "format": "sln"}
        ]),
        "the repaired recordings are listed"
    );
    assert_eq!(
        stored_samples(&wari, "calls%2Fcut").await,
        samples,
        "the whole audio, the torn sample cut off"
    );
    assert_eq!(
        download(&wari, "raw").await,
        (StatusCode::OK, vec![1, 0, 2, 0])
    );
    assert_eq!(download(&wari, "kept").await, (StatusCode::OK, kept));
    assert_eq!(
        files(&dir),
        ["calls", "kept.wav", "raw.sln"],
        "the rest is removed"
    );
    let log = wari.log();
    assert_eq!(log.matches("repaired and stored").count(), 2, "{log}");
    assert_eq!(
        log.matches("leftover recording file removed").count(),
        4,
        "{log}"
    );
    // The repaired recording is an ordinary one: it can be copied and deleted.
    let copy = wari
        .post("/ari/recordings/stored/calls%2Fcut/copy?destinationRecordingName=saved")
        .await;
    assert_eq!(copy.status, StatusCode::OK, "{}", copy.body);
    assert_eq!(
        wari.delete("/ari/recordings/stored/calls%2Fcut")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

/// Resident memory of the process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

#[tokio::test]
async fn a_large_recording_is_downloaded_in_chunks_not_held_in_memory() {
    const MIB: u64 = 1024 * 1024;
    let wari = Wari::start_default();
    let dir = wari.data_dir().expect("data dir").join("recordings");
    // 64 MiB of audio (about 70 minutes at 8 kHz).
    write_wav(
        &dir.join("long.wav"),
        (0..32 * MIB).map(|i| (i % 4001) as i16),
    );
    let size = std::fs::metadata(dir.join("long.wav")).expect("size").len();
    let before = rss_kib(wari.pid());

    // Two clients start downloading and then read slowly: wari holds a chunk for each.
    let mut downloads = Vec::new();
    for _ in 0..2 {
        let mut response = client()
            .get(wari.url("/ari/recordings/stored/long/file"))
            .basic_auth("asterisk", Some("secret"))
            .send()
            .await
            .expect("download");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.content_length(), Some(size));
        let first = response.chunk().await.expect("a chunk").expect("not empty");
        downloads.push((response, first.len() as u64));
    }
    let during = rss_kib(wari.pid());
    assert!(
        during.saturating_sub(before) < 32 * 1024,
        "two downloads of {size} bytes in progress: wari grew from {before} to {during} KiB"
    );
    // And they complete, whole.
    let ping = wari.get("/ari/asterisk/ping").await;
    assert_eq!(ping.status, StatusCode::OK);
    for (mut response, mut got) in downloads {
        while let Some(chunk) = response.chunk().await.expect("chunk") {
            got += chunk.len() as u64;
        }
        assert_eq!(got, size);
    }
}
