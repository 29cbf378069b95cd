//! The engine's tests.

use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use super::clock::PERIOD;
use super::finisher::Finisher;
use super::reporter::Reporter;
use super::test_support::{
    self, Recorded, Sim, next, paired_legs, record, record_request, wait_for,
};
use super::*;
use crate::media::MediaError;

/// `frames` frames of one constant sample value.
struct Constant {
    value: i16,
    left: usize,
    total: usize,
    rate: Rate,
}

impl Source for Constant {
    fn next_frame(&mut self) -> Option<AudioFrame> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let samples = vec![self.value; self.rate.samples_per_frame()];
        AudioFrame::from_samples(self.rate, &samples).ok()
    }

    fn restart(&mut self) {
        self.left = self.total;
    }
}

/// `File("N:V")` plays N frames of value V; anything else is missing.
struct Opener;

impl SourceOpener for Opener {
    fn open(&self, part: &Part, rate: Rate) -> Result<Box<dyn Source>, MediaError> {
        let unplayable = |why: &str| MediaError::NotPlayable(why.into());
        let Part::File(path) = part else {
            return Err(unplayable("not a file"));
        };
        let text = path.to_string_lossy();
        let (n, v) = text.split_once(':').ok_or(unplayable("no such file"))?;
        let total = n.parse().map_err(|_| unplayable("bad count"))?;
        Ok(Box::new(Constant {
            value: v.parse().map_err(|_| unplayable("bad value"))?,
            left: total,
            total,
            rate,
        }))
    }
}

fn engine() -> (Sim, Sim) {
    test_support::start(Arc::new(Opener))
}

fn file(spec: &str) -> Part {
    Part::File(spec.into())
}

#[test]
fn what_plays_on_one_half_is_recorded_on_the_other() {
    let (engine, rx) = engine();
    paired_legs(&engine);
    let (mut request, sink) = record_request("r", Target::Leg("b".into()));
    request.terminate_on = TerminateOn::Pound;
    engine.send(Command::Record(request));
    assert!(matches!(
        next(&rx),
        MediaEvent::Recording {
            state: RecordingState::Recording,
            ..
        }
    ));
    engine.send(Command::Play {
        id: "p".into(),
        target: Target::Leg("a".into()),
        items: vec![
            PlayItem {
                uri: "sound:one".into(),
                parts: vec![file("3:7")],
            },
            PlayItem {
                uri: "sound:two".into(),
                parts: vec![file("2:9")],
            },
        ],
        offset_ms: 0,
        skip_ms: 3000,
        rate: Rate::Narrow8k,
    });
    let started = next(&rx);
    assert_eq!(
        started,
        MediaEvent::Playback {
            id: "p".into(),
            state: PlaybackState::Playing,
            media_uri: "sound:one".into(),
            next_media_uri: Some("sound:two".into()),
        }
    );
    // Asterisk's order: the first item continuing to the second, then the second.
    assert_eq!(
        next(&rx),
        MediaEvent::Playback {
            id: "p".into(),
            state: PlaybackState::Continuing,
            media_uri: "sound:one".into(),
            next_media_uri: Some("sound:two".into()),
        }
    );
    assert_eq!(
        next(&rx),
        MediaEvent::Playback {
            id: "p".into(),
            state: PlaybackState::Playing,
            media_uri: "sound:two".into(),
            next_media_uri: None,
        }
    );
    assert!(matches!(
        next(&rx),
        MediaEvent::Playback {
            state: PlaybackState::Done,
            ..
        }
    ));
    engine.send(Command::DtmfReceived {
        leg: "b".into(),
        digit: '#',
    });
    let MediaEvent::Recording {
        state, duration_ms, ..
    } = next(&rx)
    else {
        panic!("the recording ends on #");
    };
    assert_eq!(state, RecordingState::Done);
    let (samples, finished) = (sink.firsts(), sink.finished());
    assert!(finished);
    assert_eq!(duration_ms, 20 * samples.len() as u64);
    let heard: Vec<i16> = samples.into_iter().filter(|s| *s != 0).collect();
    assert_eq!(
        heard,
        vec![7, 7, 7, 9, 9],
        "both items, in order, frame for frame"
    );
}

#[test]
fn a_playback_of_missing_media_fails_instead_of_hanging() {
    let (engine, rx) = engine();
    paired_legs(&engine);
    engine.send(Command::Play {
        id: "p".into(),
        target: Target::Leg("a".into()),
        items: vec![PlayItem {
            uri: "sound:nothing".into(),
            parts: vec![Part::Missing("no such sound".into())],
        }],
        offset_ms: 0,
        skip_ms: 3000,
        rate: Rate::Narrow8k,
    });
    assert!(matches!(
        next(&rx),
        MediaEvent::Playback {
            state: PlaybackState::Playing,
            ..
        }
    ));
    assert!(matches!(
        next(&rx),
        MediaEvent::Playback {
            state: PlaybackState::Failed,
            ..
        }
    ));
}

#[test]
fn a_recording_stops_at_its_maximum_duration_and_hangup_ends_playbacks() {
    let (engine, rx) = engine();
    paired_legs(&engine);
    engine.send(Command::Record(RecordRequest {
        name: "r".into(),
        target: Target::Leg("b".into()),
        sink: Box::new(Recorded::default()),
        max_duration_ms: 100,
        max_silence_ms: 0,
        terminate_on: TerminateOn::None,
    }));
    assert!(matches!(
        next(&rx),
        MediaEvent::Recording {
            state: RecordingState::Recording,
            ..
        }
    ));
    assert_eq!(
        next(&rx),
        MediaEvent::Recording {
            name: "r".into(),
            state: RecordingState::Done,
            duration_ms: 100,
            talking_ms: None,
        }
    );
    engine.send(Command::Play {
        id: "long".into(),
        target: Target::Leg("a".into()),
        items: vec![PlayItem {
            uri: "sound:long".into(),
            parts: vec![file("100000:1")],
        }],
        offset_ms: 0,
        skip_ms: 3000,
        rate: Rate::Narrow8k,
    });
    assert!(matches!(
        next(&rx),
        MediaEvent::Playback {
            state: PlaybackState::Playing,
            ..
        }
    ));
    engine.send(Command::RemoveLeg { id: "a".into() });
    assert!(matches!(
        next(&rx),
        MediaEvent::Playback {
            state: PlaybackState::Done,
            ..
        }
    ));
}

#[test]
fn owners_are_kept_for_live_playbacks_and_recordings_only() {
    let (reporter, _events) = Reporter::channel();
    let finisher = Finisher::inline(reporter.clone());
    let mut graph = Graph::new(Arc::new(Opener), reporter, finisher);
    let start = Instant::now();
    for id in ["a", "b"] {
        graph.apply(Command::AddLeg {
            id: id.into(),
            rate: Rate::Narrow8k,
        });
    }
    graph.apply(Command::AddBridge {
        id: "br".into(),
        mixing: true,
    });
    let play = play_command;
    let record = |name: &str, target: Target, max_duration_ms| {
        Command::Record(RecordRequest {
            name: name.into(),
            target,
            sink: Box::new(Recorded::default()),
            max_duration_ms,
            max_silence_ms: 0,
            terminate_on: TerminateOn::None,
        })
    };
    graph.apply(play("short", Target::Leg("a".into()), "1:1"));
    graph.apply(play("stopped", Target::Leg("a".into()), "100:1"));
    graph.apply(play("on-b", Target::Leg("b".into()), "100:1"));
    graph.apply(play("nowhere", Target::Leg("gone".into()), "1:1"));
    graph.apply(record("limited", Target::Leg("a".into()), 20));
    graph.apply(record("stopped", Target::Leg("b".into()), 0));
    graph.apply(record("bridged", Target::Bridge("br".into()), 0));
    graph.apply(record("nowhere", Target::Bridge("gone".into()), 0));
    let live = |graph: &Graph| {
        let mut ids: Vec<String> = graph
            .playback_owners
            .keys()
            .map(|id| format!("p:{id}"))
            .chain(graph.recording_owners.keys().map(|n| format!("r:{n}")))
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(
        live(&graph),
        [
            "p:on-b",
            "p:short",
            "p:stopped",
            "r:bridged",
            "r:limited",
            "r:stopped"
        ]
    );
    for n in 1..=2 {
        assert!(graph.handle_timeout(start + PERIOD * n).is_some());
    }
    assert_eq!(
        live(&graph),
        ["p:on-b", "p:stopped", "r:bridged", "r:stopped"],
        "a playback and a recording that ran out"
    );
    graph.apply(Command::StopPlayback {
        id: "stopped".into(),
    });
    graph.apply(Command::ControlRecording {
        name: "stopped".into(),
        op: RecordingOp::Stop,
    });
    graph.apply(Command::RemoveLeg { id: "b".into() });
    graph.apply(Command::RemoveBridge { id: "br".into() });
    assert!(live(&graph).is_empty(), "{:?}", live(&graph));
}

/// Waits until every playback in `ids` is done, in whatever order.
fn wait_done(rx: &Sim, ids: &[&str]) {
    let mut left: Vec<&str> = ids.to_vec();
    for _ in 0..1000 {
        if left.is_empty() {
            return;
        }
        if let MediaEvent::Playback {
            id,
            state: PlaybackState::Done,
            ..
        } = next(rx)
        {
            left.retain(|l| *l != &*id);
        }
    }
    panic!("playbacks {left:?} never finished");
}

fn finished_playback(id: &'static str) -> impl Fn(&MediaEvent) -> bool {
    move |e| matches!(e, MediaEvent::Playback { id: p, state: PlaybackState::Done, .. } if &**p == id)
}

fn recording_ended(name: &'static str) -> impl Fn(&MediaEvent) -> bool {
    move |e| matches!(e, MediaEvent::Recording { name: n, state: RecordingState::Done, .. } if &**n == name)
}

/// A playback of one `sound:` item, `spec` as [`Opener`] reads it.
fn play_command(id: &str, target: Target, spec: &str) -> Command {
    Command::Play {
        id: id.into(),
        target,
        items: vec![PlayItem {
            uri: format!("sound:{spec}"),
            parts: vec![file(spec)],
        }],
        offset_ms: 0,
        skip_ms: 3000,
        rate: Rate::Narrow8k,
    }
}

fn play(engine: &Sim, id: &str, target: Target, spec: &str) {
    engine.send(play_command(id, target, spec));
}

fn stop(engine: &Sim, rx: &Sim, name: &'static str) {
    engine.send(Command::ControlRecording {
        name: name.into(),
        op: RecordingOp::Stop,
    });
    wait_for(rx, recording_ended(name));
}

/// Pairs `x1`/`x2` for each name; the `x1` halves join bridge `br`.
fn bridged_pairs(engine: &Sim, names: &[&str], mixing: bool) {
    engine.send(Command::AddBridge {
        id: "br".into(),
        mixing,
    });
    for name in names {
        let (one, two): (LegId, LegId) = (format!("{name}1").into(), format!("{name}2").into());
        for id in [&one, &two] {
            engine.send(Command::AddLeg {
                id: id.clone(),
                rate: Rate::Narrow8k,
            });
        }
        engine.send(Command::Pair {
            a: one.clone(),
            b: two,
        });
        engine.send(Command::JoinBridge {
            bridge: "br".into(),
            leg: one,
        });
    }
}

#[test]
fn a_bridge_member_hears_the_others_but_not_itself() {
    let (engine, rx) = engine();
    bridged_pairs(&engine, &["a", "b", "c"], true);
    let sinks: Vec<Recorded> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            record(
                &engine,
                &format!("{n}2"),
                Target::Leg(format!("{n}2").into()),
            )
        })
        .collect();
    let all = record(&engine, "all", Target::Bridge("br".into()));
    // What each `x2` half plays, its `x1` half reads and brings into the bridge.
    play(&engine, "pa", Target::Leg("a2".into()), "25:1");
    play(&engine, "pb", Target::Leg("b2".into()), "25:10");
    play(&engine, "pc", Target::Leg("c2".into()), "25:100");
    wait_done(&rx, &["pa", "pb", "pc"]);
    for name in ["a2", "b2", "c2", "all"] {
        stop(&engine, &rx, name);
    }
    let own_digit = |v: i16, place: i16| (v / place) % 10;
    for (sink, (place, others)) in sinks.iter().zip([(1, 110), (10, 101), (100, 11)]) {
        let samples = sink.firsts();
        assert!(
            samples.iter().filter(|v| **v == others).count() >= 20,
            "hears the other two most of the time: {samples:?}"
        );
        assert!(
            samples.iter().all(|v| own_digit(*v, place) == 0),
            "never hears itself: {samples:?}"
        );
    }
    let mixed = all.firsts();
    assert!(
        mixed.iter().filter(|v| **v == 111).count() >= 20,
        "the bridge recording hears everyone: {mixed:?}"
    );
}

#[test]
fn bridge_playback_reaches_every_member_and_holding_bridges_do_not_mix() {
    let (engine, rx) = engine();
    bridged_pairs(&engine, &["a", "b"], false);
    let a = record(&engine, "a2", Target::Leg("a2".into()));
    let b = record(&engine, "b2", Target::Leg("b2".into()));
    play(&engine, "pa", Target::Leg("a2".into()), "30:1");
    play(&engine, "ann", Target::Bridge("br".into()), "10:1000");
    wait_done(&rx, &["ann", "pa"]);
    stop(&engine, &rx, "a2");
    stop(&engine, &rx, "b2");
    for sink in [&a, &b] {
        let samples = sink.firsts();
        assert!(
            samples.iter().filter(|v| **v == 1000).count() >= 9,
            "{samples:?}"
        );
        assert!(
            samples.iter().all(|v| *v == 0 || *v == 1000),
            "a holding bridge mixes nothing but the announcer: {samples:?}"
        );
    }
}

/// A recording sink whose completion waits until the test lets it go, as a disk that
/// stalls on fsync would.
struct Stalled(Mutex<mpsc::Receiver<()>>);

impl Sink for Stalled {
    fn write(&mut self, _frame: &AudioFrame) -> Result<(), MediaError> {
        Ok(())
    }
    fn finish(self: Box<Self>) -> Result<(), MediaError> {
        let failed = |why: &str| MediaError::io("stalled", std::io::Error::other(why));
        let released = self.0.lock().map_err(|_| failed("poisoned"))?;
        released
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| failed("never released"))
    }
    fn cancel(self: Box<Self>) {}
}

#[test]
fn a_recording_slow_to_complete_does_not_hold_up_the_clock() {
    let (engine, rx) = test_support::start_with_finisher_thread(Arc::new(Opener));
    paired_legs(&engine);
    let (release, released) = mpsc::channel();
    let (mut request, _) = record_request("slow", Target::Leg("a".into()));
    request.sink = Box::new(Stalled(Mutex::new(released)));
    engine.send(Command::Record(request));
    wait_for(&rx, |e| {
        matches!(
            e,
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        )
    });
    engine.send(Command::ControlRecording {
        name: "slow".into(),
        op: RecordingOp::Stop,
    });
    // While its file is being completed the clock goes on: a playback plays through,
    // and the recording is not reported done before its file is.
    play(&engine, "p", Target::Leg("b".into()), "5:1");
    loop {
        let event = next(&rx);
        assert!(!recording_ended("slow")(&event), "{event:?}");
        if test_support::playback_done(&event) {
            break;
        }
    }
    release.send(()).expect("release the sink");
    let ended = rx.event_from_thread();
    assert!(recording_ended("slow")(&ended), "{ended:?}");
}

#[test]
fn muted_members_are_not_mixed_and_own_playback_replaces_the_mix() {
    let (engine, rx) = engine();
    bridged_pairs(&engine, &["a", "b"], true);
    // a1 reads nothing into the bridge; b1 hears its own playback instead of the mix.
    engine.send(Command::Mute {
        leg: "a1".into(),
        inbound: true,
        outbound: false,
    });
    let b = record(&engine, "b2", Target::Leg("b2".into()));
    let a = record(&engine, "a2", Target::Leg("a2".into()));
    play(&engine, "pa", Target::Leg("a2".into()), "30:1");
    play(&engine, "pb", Target::Leg("b2".into()), "30:10");
    play(&engine, "own", Target::Leg("b1".into()), "30:7");
    wait_done(&rx, &["pa", "pb", "own"]);
    stop(&engine, &rx, "b2");
    stop(&engine, &rx, "a2");
    let samples = b.firsts();
    assert!(samples.contains(&7), "{samples:?}");
    assert!(
        !samples.contains(&1),
        "a is muted toward the bridge: {samples:?}"
    );
    let samples = a.firsts();
    assert!(samples.contains(&10), "a still hears b: {samples:?}");
}

#[test]
fn a_playback_ends_music_on_hold() {
    let (engine, rx) = engine();
    paired_legs(&engine);
    let sink = record(&engine, "r", Target::Leg("b".into()));
    engine.send(Command::StartHold {
        leg: "a".into(),
        hold: Hold::Moh(Box::new(Constant {
            value: 3,
            left: usize::MAX,
            total: usize::MAX,
            rate: Rate::Narrow8k,
        })),
    });
    play(&engine, "p", Target::Leg("a".into()), "5:9");
    wait_for(&rx, finished_playback("p"));
    // Held again after the playback ended? Stop the (gone) music on hold: nothing.
    engine.send(Command::StopHold {
        leg: "a".into(),
        kind: HoldKind::Moh,
    });
    play(&engine, "q", Target::Leg("a".into()), "5:8");
    wait_for(&rx, finished_playback("q"));
    stop(&engine, &rx, "r");
    let samples = sink.firsts();
    let after = samples
        .iter()
        .skip_while(|v| **v != 9)
        .skip_while(|v| **v == 9)
        .take_while(|v| **v != 8)
        .copied()
        .collect::<Vec<_>>();
    assert!(
        after.iter().all(|v| *v == 0),
        "no music on hold after the playback: {samples:?}"
    );
}

#[test]
fn removing_a_bridge_ends_its_playbacks_and_recordings_and_frees_its_members() {
    let (engine, rx) = engine();
    bridged_pairs(&engine, &["a", "b"], true);
    let all = record(&engine, "all", Target::Bridge("br".into()));
    wait_for(&rx, |e| {
        matches!(
            e,
            MediaEvent::Recording {
                state: RecordingState::Recording,
                ..
            }
        )
    });
    play(&engine, "long", Target::Bridge("br".into()), "100000:5");
    wait_for(&rx, |e| {
        matches!(
            e,
            MediaEvent::Playback {
                state: PlaybackState::Playing,
                ..
            }
        )
    });
    engine.send(Command::RemoveBridge { id: "br".into() });
    let mut ended = (false, false);
    for _ in 0..10 {
        if ended == (true, true) {
            break;
        }
        match next(&rx) {
            MediaEvent::Playback {
                state: PlaybackState::Done,
                ..
            } => ended.0 = true,
            MediaEvent::Recording {
                state: RecordingState::Done,
                ..
            } => ended.1 = true,
            _ => {}
        }
    }
    assert_eq!(ended, (true, true), "both end with the bridge");
    assert!(all.finished(), "the recording's file is finished");
    // The former members are plain legs again: a recording on a2 hears a1's silence.
    let a = record(&engine, "a2", Target::Leg("a2".into()));
    play(&engine, "pb", Target::Leg("b2".into()), "10:3");
    wait_done(&rx, &["pb"]);
    stop(&engine, &rx, "a2");
    assert!(a.firsts().iter().all(|v| *v == 0), "no bridge any more");
}
