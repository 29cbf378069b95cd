//! A WebAssembly app names only its own application and its own recordings
//! (`<app>/...`): the hostile `foreign-names` component asks, through `ari.request` and the
//! typed calls, to snoop on or move its channel into another tenant's application and to
//! overwrite or play another tenant's recording. Every such request is refused with 403,
//! the other tenant sees nothing, and the app's own requests still work.

use reqwest::StatusCode;

use crate::media_support::{sine, write_wav};
use crate::support::{EventSocket, Wari, client, eventually};
use crate::wasm_apps::deploy;

const HOSTILE: [&str; 9] = [
    "ari POST /snoop app=victimapp&spy=both",
    "ari POST /move app=victimapp",
    "ari POST /record name=victimrec&format=wav&ifExists=overwrite&maxDurationSeconds=1",
    "ari POST /%72ecord name=victimrec&format=wav&ifExists=overwrite",
    "ari POST /record name=evil/../victimrec&format=wav&ifExists=overwrite",
    "ari POST /play media=sound:x&media=recording:victimrec",
    "move victimapp",
    "record victimrec",
    "play recording:victimrec",
];

const OWN: [(&str, &str); 2] = [
    ("ari POST /play media=tone:440", "201"),
    (
        "ari POST /record name=evil/mine&format=wav&maxDurationSeconds=1",
        "201",
    ),
];

#[tokio::test]
async fn an_app_cannot_name_another_tenants_application_or_recording() {
    let wari = Wari::start_default();
    let recordings = wari.data_dir().expect("data dir").join("recordings");
    write_wav(&recordings.join("victimrec.wav"), sine(440.0, 8000));
    let victim_recording = std::fs::read(recordings.join("victimrec.wav")).expect("victimrec");
    let mut victim = EventSocket::connect(&wari, "app=victimapp&api_key=asterisk:secret").await;
    deploy(&wari, "evil", "foreign-names").await;

    let arguments: Vec<&str> = HOSTILE
        .iter()
        .copied()
        .chain(OWN.iter().map(|(argument, _)| *argument))
        .collect();
    let response = client()
        .post(wari.url("/ari/channels"))
        .basic_auth("asterisk", Some("secret"))
        .query(&[
            ("endpoint", "Test/alice"),
            ("app", "evil"),
            ("channelId", "evilcall"),
            ("appArgs", &arguments.join(",")),
        ])
        .send()
        .await
        .expect("originate");
    assert_eq!(response.status(), StatusCode::OK);

    let expected = arguments.len();
    let lines = eventually(
        "the app made every request",
        std::time::Duration::from_secs(10),
        || {
            let log = wari.log();
            async move {
                let lines: Vec<String> = log
                    .lines()
                    .filter_map(|l| {
                        l.split_once("foreign-names: ")
                            .map(|(_, rest)| rest.to_string())
                    })
                    .collect();
                if lines.len() >= expected {
                    Ok(lines)
                } else {
                    Err(log)
                }
            }
        },
    )
    .await;
    for (argument, line) in HOSTILE.iter().zip(&lines) {
        assert!(
            line.starts_with(&format!("{argument} -> 403 ")),
            "refused: {line}"
        );
    }
    for ((argument, status), line) in OWN.iter().zip(&lines[HOSTILE.len()..]) {
        assert!(
            line.starts_with(&format!("{argument} -> {status}")),
            "the app's own names work: {line}"
        );
    }

    // The victim's recording is untouched, and the first call its application hears of is
    // its own.
    assert_eq!(
        std::fs::read(recordings.join("victimrec.wav")).expect("victimrec"),
        victim_recording
    );
    let reply = wari
        .post("/ari/channels?endpoint=Test/bob&app=victimapp&channelId=normal")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let first = victim.next_of("StasisStart").await;
    assert_eq!(first["channel"]["id"], "normal", "{first}");
    assert_eq!(
        wari.delete("/ari/channels/evilcall").await.status,
        StatusCode::NO_CONTENT
    );
}
