//! Unit tests of `media`: every refusal of the play, record and control operations, with
//! its status and message, and that it changes nothing.

use super::super::test_support::{TestCore, refusal, request};
use super::*;

#[test]
fn bad_record_requests_are_refused_with_their_status_and_change_nothing() {
    let t = TestCore::new(true);
    t.stasis_channel("rec");
    // Asterisk 23.4.1's statuses and messages (but 400 where it answers 500).
    let unknown_format = "specified format is unknown on this system";
    let cases: Vec<(RecordChannelRequest, u16, &str)> = vec![
        (request("", "wav"), 400, "Error parsing request"),
        (request("x", ""), 422, unknown_format),
        (
            RecordChannelRequest {
                max_duration_seconds: -1,
                ..request("x", "wav")
            },
            400,
            "max_duration_seconds cannot be negative",
        ),
        (
            RecordChannelRequest {
                max_silence_seconds: -1,
                ..request("x", "wav")
            },
            400,
            "max_silence_seconds cannot be negative",
        ),
        (
            RecordChannelRequest {
                if_exists: Some("sometimes".into()),
                ..request("x", "mp3")
            },
            400,
            "ifExists invalid",
        ),
        (
            RecordChannelRequest {
                terminate_on: Some("5".into()),
                ..request("x", "wav")
            },
            400,
            "terminateOn invalid",
        ),
        (request("../escape", "wav"), 400, "Error parsing request"),
        (request("x", "mp3"), 422, unknown_format),
    ];
    for (bad, status, message) in cases {
        assert_eq!(
            refusal(t.core.control().record_channel("rec", bad.clone(), None)),
            (status, message.to_string()),
            "{bad:?}"
        );
    }
    assert_eq!(
        refusal(
            t.core
                .control()
                .record_channel("ghost", request("x", "wav"), None)
        ),
        (404, "Channel not found".into())
    );
    assert_eq!(t.live_recordings(), 0);
    assert!(t.recording_files().is_empty(), "{:?}", t.recording_files());
    assert!(t.events.of_kind("RecordingFailed").is_empty());
}

#[test]
fn bad_play_and_control_requests_are_refused() {
    let t = TestCore::new(true);
    t.stasis_channel("player");
    let play = |media: &[&str], offset_ms: i64, skip_ms: i64| PlayRequest {
        media: media.iter().map(|m| m.to_string()).collect(),
        offset_ms,
        skip_ms,
        ..PlayRequest::default()
    };
    for (bad, message) in [
        (play(&[], 0, 3000), "Missing required parameter: media"),
        (
            play(&[" ", ""], 0, 3000),
            "Missing required parameter: media",
        ),
        (
            play(&["tone:ring"], -1, 3000),
            "offsetms cannot be negative",
        ),
        (play(&["tone:ring"], 0, -1), "skipms cannot be negative"),
    ] {
        assert_eq!(
            refusal(t.core.control().play_on_channel("player", bad.clone())),
            (400, message.to_string()),
            "{bad:?}"
        );
    }
    assert_eq!(
        refusal(
            t.core
                .control()
                .play_on_channel("ghost", play(&["tone:ring"], 0, 3000))
        ),
        (404, "Channel not found".into())
    );
    assert_eq!(
        refusal(t.core.control().control_playback("nothing", "")),
        (400, "Missing operation".into())
    );
    assert_eq!(
        refusal(t.core.control().control_playback("nothing", "jump")),
        (400, "Invalid operation jump".into())
    );
    assert_eq!(
        refusal(t.core.control().control_playback("nothing", "pause")),
        (404, "Playback not found".into())
    );
    assert_eq!(
        refusal(t.core.control().stop_playback("nothing")),
        (404, "Playback not found".into())
    );
    assert_eq!(
        refusal(
            t.core
                .control()
                .control_live_recording("nothing", crate::media::engine::RecordingOp::Stop)
        ),
        (404, "Recording not found".into())
    );
    t.core
        .with_state(|state| assert!(state.media.playbacks.is_empty()));
}

#[test]
fn controls_of_queued_media_and_lookups_of_unknown_media_are_refused() {
    use crate::media::engine::RecordingOp;
    let t = TestCore::new(true);
    t.stasis_channel("player");
    assert_eq!(
        refusal(t.core.control().get_playback("nothing")),
        (404, "Playback not found".into())
    );
    assert_eq!(
        refusal(t.core.control().get_live_recording("nothing")),
        (404, "Recording not found".into())
    );
    // Registered directly, so that the engine cannot start them during the test.
    let topic = MediaTopic::Channel(Arc::from("player"));
    t.core.with_state(|state| {
        state.media.add_playback(PlaybackInfo {
            id: Arc::from("queued"),
            media_uri: "tone:ring".into(),
            next_media_uri: None,
            key: Arc::from("queued"),
            target_uri: topic.uri(),
            language: "en".into(),
            state: "queued",
            topic: topic.clone(),
            audience: None,
        });
        state.media.add_recording(LiveRecordingInfo::queued(
            Arc::from("tape"),
            Format::from_name("wav").expect("wav"),
            topic.clone(),
        ));
    });
    // Only restart applies to a queued playback, only stop and cancel to a queued
    // recording.
    assert_eq!(
        refusal(t.core.control().control_playback("queued", "pause")),
        (409, "Can only pause while media is playing".into())
    );
    for op in [RecordingOp::Pause, RecordingOp::Unpause] {
        assert_eq!(
            refusal(t.core.control().control_live_recording("tape", op)),
            (409, "Recording not in session".into())
        );
    }
    assert_eq!(
        t.core.control().get_playback("queued").expect("playback")["state"],
        "queued"
    );
    assert_eq!(
        t.core
            .control()
            .get_live_recording("tape")
            .expect("recording")["state"],
        "queued"
    );
}

#[test]
fn without_the_media_engine_media_operations_answer_501() {
    let t = TestCore::new(false);
    t.stasis_channel("quiet");
    let not_running = (
        501,
        "The media engine is not running (it failed to start: see the log)".to_string(),
    );
    let play = PlayRequest {
        media: vec!["tone:ring".into()],
        ..PlayRequest::default()
    };
    assert_eq!(
        refusal(t.core.control().play_on_channel("quiet", play)),
        not_running
    );
    assert_eq!(
        refusal(
            t.core
                .control()
                .record_channel("quiet", request("x", "wav"), None)
        ),
        not_running
    );
    assert_eq!(
        refusal(t.core.control().start_channel_moh("quiet", "")),
        not_running
    );
    assert_eq!(
        refusal(t.core.control().list_stored_recordings()),
        not_running
    );
    assert_eq!(
        refusal(t.core.control().list_sounds(None, None)),
        not_running
    );
}

#[test]
fn a_bridge_made_again_with_the_same_id_reports_its_media_to_its_own_subscribers() {
    use super::super::stasis::SourceKind;
    use super::super::test_support::{APP, Collect};
    let t = TestCore::new(false);
    let other = Arc::new(Collect::default());
    let topic = MediaTopic::Bridge(Arc::from("b"));
    let playback = |id: &str| PlaybackInfo {
        id: Arc::from(id),
        media_uri: "tone:ring".into(),
        next_media_uri: None,
        key: Arc::from(id),
        target_uri: topic.uri(),
        language: "en".into(),
        state: "playing",
        topic: topic.clone(),
        audience: None,
    };
    let finished = |id: &str| MediaEvent::Playback {
        id: Arc::from(id),
        state: PlaybackState::Done,
        media_uri: String::new(),
        next_media_uri: None,
    };
    t.core.with_state(|state| {
        state.apps.register("other", other.clone(), false);
        // APP's bridge `b` is destroyed while its playback `old` is still ending...
        state.apps.subscribe(APP, SourceKind::Bridge, "b");
        state.media.add_playback(playback("old"));
        t.core.media_topic_closing(state, topic.clone());
        state.apps.unsubscribe(APP, SourceKind::Bridge, "b");
        // ...and `other` makes a bridge `b` of its own and plays on it.
        state.apps.subscribe("other", SourceKind::Bridge, "b");
        state.media.add_playback(playback("new"));
        t.core.media_event(state, finished("new"));
        t.core.media_event(state, finished("old"));
    });
    let ids = |events: Vec<Value>| -> Vec<Value> {
        events
            .into_iter()
            .map(|e| e["playback"]["id"].clone())
            .collect()
    };
    assert_eq!(ids(t.events.of_kind("PlaybackFinished")), ["old"]);
    assert_eq!(ids(other.of_kind("PlaybackFinished")), ["new"]);
}
