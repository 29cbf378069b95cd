//! Unit tests of the mock host and of dispatching.

use crate::log::Level;
use crate::mock::{Call, CallKind, MockHost, Reply};
use crate::{
    App, Bridge, Channel, Direction, Error, Event, HangupReason, Playback, TimerId, ari, call, kv,
    log, timers,
};

/// Records which methods were called, in order.
#[derive(Default)]
struct Recorder {
    seen: Vec<String>,
}

impl App for Recorder {
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        self.seen
            .push(format!("start {} {}", channel.id, args.join(",")));
    }
    fn on_stasis_end(&mut self, channel: &Channel) {
        self.seen.push(format!("end {}", channel.id));
    }
    fn on_dtmf(&mut self, channel: &Channel, digit: char) {
        self.seen.push(format!("dtmf {} {digit}", channel.id));
    }
    fn on_timer(&mut self, id: TimerId) {
        self.seen.push(format!("timer {}", id.0));
    }
    fn on_hangup_requested(&mut self, channel: &Channel) {
        self.seen.push(format!("hangup {}", channel.id));
    }
    fn on_playback_finished(&mut self, playback: &Playback) {
        self.seen.push(format!("playback {}", playback.id));
    }
    fn on_event(&mut self, event: &Event) {
        self.seen.push(format!("event {}", event.event_type()));
    }
}

#[test]
fn dispatch_calls_the_specific_method_then_on_event() {
    let mut host = MockHost::new();
    let mut app = Recorder::default();
    let c = Channel::new("c1");
    host.deliver(
        &mut app,
        Event::StasisStart {
            channel: c.clone(),
            args: vec!["a".into(), "b".into()],
        },
    );
    host.deliver(
        &mut app,
        Event::Dtmf {
            channel: c.clone(),
            digit: '5',
            duration_ms: 100,
        },
    );
    host.deliver(&mut app, Event::Timer(TimerId(7)));
    host.deliver(
        &mut app,
        Event::PlaybackFinished {
            playback: Playback::new("p1", "sound:x", "c1"),
        },
    );
    host.deliver(
        &mut app,
        Event::HangupRequested {
            channel: c.clone(),
            cause: Some(16),
        },
    );
    host.deliver(
        &mut app,
        Event::Other {
            event_type: "ChannelVarset".into(),
            json: "{}".into(),
        },
    );
    host.deliver(&mut app, Event::StasisEnd { channel: c });
    assert_eq!(
        app.seen,
        [
            "start c1 a,b",
            "event StasisStart",
            "dtmf c1 5",
            "event ChannelDtmfReceived",
            "timer 7",
            "event Timer",
            "playback p1",
            "event PlaybackFinished",
            "hangup c1",
            "event ChannelHangupRequest",
            "event ChannelVarset",
            "end c1",
            "event StasisEnd",
        ]
    );
}

#[test]
fn default_app_methods_do_nothing() {
    #[derive(Default)]
    struct Nothing;
    impl App for Nothing {}
    let mut host = MockHost::new();
    host.deliver(
        &mut Nothing,
        Event::StasisStart {
            channel: Channel::new("c1"),
            args: vec![],
        },
    );
    host.deliver(&mut Nothing, Event::Timer(TimerId(1)));
    assert!(host.calls().is_empty());
}

#[test]
fn records_every_call_with_its_arguments_and_succeeds_by_default() {
    let host = MockHost::new();
    call::answer("c1").unwrap();
    call::hangup("c1", HangupReason::Busy).unwrap();
    call::ring("c1").unwrap();
    call::progress("c1").unwrap();
    call::send_dtmf("c1", "12#").unwrap();
    call::hold("c1", true).unwrap();
    call::mute("c1", Direction::In, false).unwrap();
    call::set_variable("c1", "X", "1").unwrap();
    call::add_to_bridge("b1", "c1").unwrap();
    call::remove_from_bridge("b1", "c1").unwrap();
    call::destroy_bridge("b1").unwrap();
    call::continue_in_dialplan("c1", "ctx", "s", Some(2)).unwrap();
    call::move_to_app("c1", "other", &["x"]).unwrap();
    assert_eq!(
        host.calls(),
        [
            Call::Answer {
                channel: "c1".into()
            },
            Call::Hangup {
                channel: "c1".into(),
                reason: HangupReason::Busy
            },
            Call::Ring {
                channel: "c1".into()
            },
            Call::Progress {
                channel: "c1".into()
            },
            Call::SendDtmf {
                channel: "c1".into(),
                digits: "12#".into()
            },
            Call::Hold {
                channel: "c1".into(),
                on: true
            },
            Call::Mute {
                channel: "c1".into(),
                direction: Direction::In,
                on: false
            },
            Call::SetVariable {
                channel: "c1".into(),
                name: "X".into(),
                value: "1".into()
            },
            Call::AddToBridge {
                bridge: "b1".into(),
                channel: "c1".into()
            },
            Call::RemoveFromBridge {
                bridge: "b1".into(),
                channel: "c1".into()
            },
            Call::DestroyBridge {
                bridge: "b1".into()
            },
            Call::ContinueInDialplan {
                channel: "c1".into(),
                context: "ctx".into(),
                exten: "s".into(),
                priority: Some(2)
            },
            Call::MoveToApp {
                channel: "c1".into(),
                app: "other".into(),
                args: vec!["x".into()]
            },
        ]
    );
}

#[test]
fn generates_ids_for_playbacks_channels_and_bridges() {
    let host = MockHost::new();
    assert_eq!(
        call::play("c1", &["sound:a", "sound:b"]).unwrap(),
        "playback-1"
    );
    assert_eq!(call::play("c1", &["sound:c"]).unwrap(), "playback-2");
    assert_eq!(
        call::originate("Test/bob", &[], Some("100"), Some(30)).unwrap(),
        "channel-1"
    );
    assert_eq!(
        call::originate("Test/carol", &["x"], None, None).unwrap(),
        "channel-2"
    );
    assert_eq!(
        call::create_bridge("mixing").unwrap(),
        Bridge::new("bridge-1", "mixing")
    );
    assert_eq!(call::record_channel("c1", "msg", "wav", 30).unwrap(), "msg");
    assert_eq!(call::get_channel("c9").unwrap(), Channel::new("c9"));
    assert_eq!(
        host.calls()[2],
        Call::Originate {
            endpoint: "Test/bob".into(),
            args: vec![],
            caller_id: Some("100".into()),
            timeout_seconds: Some(30)
        }
    );
    assert_eq!(
        host.calls()[0],
        Call::Play {
            channel: "c1".into(),
            media: vec!["sound:a".into(), "sound:b".into()]
        }
    );
}

#[test]
fn variables_round_trip_and_unknown_ones_are_404() {
    let mut host = MockHost::new();
    assert_eq!(call::get_variable("c1", "X").unwrap_err().status, 404);
    call::set_variable("c1", "X", "42").unwrap();
    assert_eq!(call::get_variable("c1", "X").unwrap(), "42");
    assert_eq!(host.variable("c1", "X").as_deref(), Some("42"));
    host.set_variable("c2", "Y", "y");
    assert_eq!(call::get_variable("c2", "Y").unwrap(), "y");
}

#[test]
fn configured_failures_persist_or_apply_once() {
    let mut host = MockHost::new();
    host.fail(CallKind::Play, Error::new(501, "no media"))
        .fail_once(CallKind::Answer, Error::new(409, "not ringing"));
    assert_eq!(
        call::answer("c1").unwrap_err(),
        Error::new(409, "not ringing")
    );
    assert!(call::answer("c1").is_ok());
    for _ in 0..3 {
        assert_eq!(call::play("c1", &["sound:x"]).unwrap_err().status, 501);
    }
    host.clear_replies();
    assert_eq!(call::play("c1", &["sound:x"]).unwrap(), "playback-1");
}

#[test]
fn once_replies_queue_in_order_before_persistent_ones() {
    let mut host = MockHost::new();
    host.reply(CallKind::Originate, Reply::Value("always".into()))
        .reply_once(CallKind::Originate, Reply::Value("first".into()))
        .reply_once(CallKind::Originate, Reply::Err(Error::new(400, "bad")));
    assert_eq!(call::originate("Test/a", &[], None, None).unwrap(), "first");
    assert_eq!(
        call::originate("Test/a", &[], None, None)
            .unwrap_err()
            .status,
        400
    );
    assert_eq!(
        call::originate("Test/a", &[], None, None).unwrap(),
        "always"
    );
}

#[test]
fn a_responder_can_answer_by_argument() {
    let mut host = MockHost::new();
    host.reply_with(|call| match call {
        Call::Hangup { channel, .. } if channel != "mine" => {
            Some(Reply::Err(Error::new(403, "not in this session")))
        }
        _ => None,
    });
    assert_eq!(
        call::hangup("theirs", HangupReason::Normal)
            .unwrap_err()
            .status,
        403
    );
    assert!(call::hangup("mine", HangupReason::Normal).is_ok());
    assert!(call::answer("theirs").is_ok());
}

#[test]
#[should_panic(expected = "a Play call needs a Reply::Value")]
fn a_reply_of_the_wrong_type_panics() {
    let mut host = MockHost::new();
    host.reply(CallKind::Play, Reply::Ok);
    let _ = call::play("c1", &["sound:x"]);
}

#[test]
fn kv_is_a_map_and_its_calls_are_recorded() {
    let mut host = MockHost::new();
    host.kv_set("preset", "1");
    assert_eq!(kv::get("preset").as_deref(), Some("1"));
    assert_eq!(kv::get("missing"), None);
    kv::set("a", "x");
    kv::set("a", "y");
    kv::delete("preset");
    assert_eq!(
        host.kv().into_iter().collect::<Vec<_>>(),
        [("a".to_owned(), "y".to_owned())]
    );
    assert_eq!(host.calls().len(), 5);
    assert!(host.control_calls().is_empty());
    assert_eq!(
        host.calls()[4],
        Call::KvDelete {
            key: "preset".into()
        }
    );
}

#[test]
fn logs_are_kept_apart_from_calls() {
    let mut host = MockHost::new();
    log::info("hello");
    log::error("oops");
    log::log(Level::Trace, "fine");
    assert!(host.calls().is_empty());
    assert_eq!(
        host.take_logs(),
        [
            (Level::Info, "hello".to_owned()),
            (Level::Error, "oops".to_owned()),
            (Level::Trace, "fine".to_owned()),
        ]
    );
    assert!(host.logs().is_empty());
}

#[test]
fn timers_fire_in_due_order_and_cancelled_ones_never() {
    #[derive(Default)]
    struct Timers {
        fired: Vec<TimerId>,
    }
    impl App for Timers {
        fn on_timer(&mut self, id: TimerId) {
            self.fired.push(id);
        }
    }
    let mut host = MockHost::new();
    let mut app = Timers::default();
    let slow = timers::set_timer(5000);
    let fast = timers::set_timer(1000);
    let cancelled = timers::set_timer(10);
    timers::cancel_timer(cancelled);
    assert_eq!(host.pending_timers(), [(fast, 1000), (slow, 5000)]);
    assert_eq!(host.fire_next_timer(&mut app), Some(fast));
    // The clock moved to the first timer's due time.
    assert_eq!(host.pending_timers(), [(slow, 4000)]);
    let later = timers::set_timer(500);
    assert_eq!(host.fire_next_timer(&mut app), Some(later));
    assert_eq!(host.fire_next_timer(&mut app), Some(slow));
    assert_eq!(host.fire_next_timer(&mut app), None);
    assert_eq!(app.fired, [fast, later, slow]);
    assert_eq!(host.calls()[3], Call::CancelTimer { id: cancelled });
}

#[test]
#[should_panic(expected = "is not pending")]
fn firing_a_cancelled_timer_panics() {
    let mut host = MockHost::new();
    let id = timers::set_timer(10);
    timers::cancel_timer(id);
    host.fire_timer(&mut crate::tests::Recorder::default(), id);
}

#[test]
fn ari_requests_are_recorded_and_answered() {
    let mut host = MockHost::new();
    let r = ari::request("DELETE", "/playbacks/p1", &[("a", "b")], None);
    assert_eq!(r, ari::Response::new(200, ""));
    host.reply_once(
        CallKind::AriRequest,
        Reply::Response(ari::Response::new(204, "")),
    );
    assert!(ari::request("POST", "/x", &[], Some("{}")).is_success());
    host.fail_once(
        CallKind::AriRequest,
        Error::new(404, "Playback \"p1\" not found"),
    );
    let r = ari::request("GET", "/playbacks/p1", &[], None);
    assert_eq!(r.status, 404);
    assert_eq!(r.body, r#"{"message":"Playback \"p1\" not found"}"#);
    assert_eq!(
        host.calls()[0],
        Call::AriRequest {
            method: "DELETE".into(),
            path: "/playbacks/p1".into(),
            query: vec![("a".into(), "b".into())],
            body: None
        }
    );
}

#[test]
fn take_calls_drains() {
    let mut host = MockHost::new();
    call::answer("c1").unwrap();
    assert_eq!(host.take_calls().len(), 1);
    call::ring("c1").unwrap();
    assert_eq!(
        host.calls(),
        [Call::Ring {
            channel: "c1".into()
        }]
    );
}

#[test]
fn a_new_host_replaces_the_old_one_and_dropping_it_uninstalls_it() {
    let first = MockHost::new();
    kv::set("k", "1");
    let second = MockHost::new();
    assert_eq!(kv::get("k"), None);
    assert_eq!(first.kv().len(), 1);
    drop(first); // not the current one: nothing changes
    kv::set("k", "2");
    assert_eq!(second.kv()["k"], "2");
    drop(second);
    let result = std::panic::catch_unwind(|| kv::get("k"));
    assert!(result.is_err());
}

#[test]
fn export_app_accepts_an_app_with_default() {
    #[derive(Default)]
    struct Exported;
    impl App for Exported {}
    crate::export_app!(Exported);
}

#[test]
fn event_helpers() {
    let c = Channel::new("c1");
    assert!(c.is_up());
    let e = Event::HangupRequested {
        channel: c.clone(),
        cause: None,
    };
    assert_eq!(e.channel(), Some(&c));
    assert_eq!(Event::Timer(TimerId(1)).channel(), None);
    assert_eq!(HangupReason::NoAnswer.to_string(), "no_answer");
    assert_eq!(Direction::Out.as_str(), "out");
    assert_eq!(Error::new(404, "nope").to_string(), "404: nope");
}
