//! Two-party call forward.
//!
//! A call enters the app with the endpoint to call as its first argument
//! (`Stasis(forward,Test/bob)`). The app:
//!
//! 1. indicates ringing to the caller and originates the endpoint into this same session
//!    (caller id: the caller's number; 30 s ring timeout);
//! 2. when the callee answers (its `StasisStart` arrives), answers the caller, creates a
//!    `mixing` bridge and adds both;
//! 3. when either side goes (hangup request, `StasisEnd`, or `ChannelDestroyed` of a callee
//!    that never answered), hangs up the other side and destroys the bridge.
//!
//! If the callee is still not up after [`RING_TIMEOUT_MS`] (in case wari does not report
//! the failed originate to the session), the caller is hung up with `no_answer`. A callee
//! that fails before answering hangs the caller up with a matching reason (`busy`,
//! `congestion`, ...). With no argument, or if the originate fails, the caller is hung up
//! (`unallocated`, `congestion`). Every failed operation is logged; teardown goes on.
//!
//! ```ini
//! [default]
//! exten => 300,1,Stasis(forward,Test/bob)
//! ```

use wari_guest_sdk::{App, Channel, Event, HangupReason, TimerId, call, log, timers};

/// How long the callee may ring (the originate's timeout).
pub const RING_SECONDS: u32 = 30;
/// When the app stops waiting for the callee's `StasisStart`.
pub const RING_TIMEOUT_MS: u64 = (RING_SECONDS as u64 + 5) * 1000;

/// The app: the state of one forwarded call.
#[derive(Debug, Default)]
pub struct Forward {
    /// The caller's channel.
    inbound: Option<String>,
    /// The callee's channel, once originated.
    outbound: Option<String>,
    /// The callee has answered and entered the app.
    outbound_up: bool,
    /// The bridge joining them.
    bridge: Option<String>,
    /// Gives up waiting for the callee.
    ring_timer: Option<TimerId>,
    /// One side has gone and the other was hung up: ignore what follows.
    done: bool,
}

impl Forward {
    fn start_inbound(&mut self, channel: &Channel, args: &[String]) {
        let id = channel.id.clone();
        self.inbound = Some(id.clone());
        let Some(endpoint) = args.first().filter(|a| !a.is_empty()) else {
            log::error(&format!("forward: no endpoint to call for {id}"));
            return self.tear_down(HangupReason::Unallocated);
        };
        if let Err(e) = call::ring(&id) {
            log::warn(&format!("forward: cannot ring {id}: {e}"));
        }
        let number = &channel.caller.number;
        let caller_id = (!number.is_empty()).then_some(number.as_str());
        match call::originate(endpoint, &[], caller_id, Some(RING_SECONDS)) {
            Ok(outbound) => {
                log::info(&format!("forward: {id} -> {endpoint} ({outbound})"));
                self.outbound = Some(outbound);
                self.ring_timer = Some(timers::set_timer(RING_TIMEOUT_MS));
            }
            Err(e) => {
                log::error(&format!("forward: cannot call {endpoint}: {e}"));
                self.tear_down(HangupReason::Congestion);
            }
        }
    }

    fn connect(&mut self) {
        self.outbound_up = true;
        if let Some(timer) = self.ring_timer.take() {
            timers::cancel_timer(timer);
        }
        let (Some(inbound), Some(outbound)) = (self.inbound.clone(), self.outbound.clone()) else {
            return;
        };
        if let Err(e) = call::answer(&inbound) {
            log::warn(&format!("forward: cannot answer {inbound}: {e}"));
        }
        let bridge = match call::create_bridge("mixing") {
            Ok(bridge) => bridge.id,
            Err(e) => {
                log::error(&format!("forward: cannot create a bridge: {e}"));
                return self.tear_down(HangupReason::Failure);
            }
        };
        self.bridge = Some(bridge.clone());
        for channel in [&inbound, &outbound] {
            if let Err(e) = call::add_to_bridge(&bridge, channel) {
                log::error(&format!("forward: cannot add {channel} to {bridge}: {e}"));
                return self.tear_down(HangupReason::Failure);
            }
        }
        log::info(&format!(
            "forward: {inbound} and {outbound} talk in {bridge}"
        ));
    }

    /// A leg has gone (`gone`), with `reason` for the other one.
    fn leg_gone(&mut self, gone: &str, reason: HangupReason) {
        if self.done {
            return;
        }
        let is_inbound = self.inbound.as_deref() == Some(gone);
        let is_outbound = self.outbound.as_deref() == Some(gone);
        if !is_inbound && !is_outbound {
            return;
        }
        log::info(&format!("forward: {gone} has gone"));
        if is_inbound {
            self.inbound = None;
        } else {
            self.outbound = None;
        }
        self.tear_down(reason);
    }

    /// Hangs up whatever leg is left with `reason`, destroys the bridge; once.
    fn tear_down(&mut self, reason: HangupReason) {
        self.done = true;
        if let Some(timer) = self.ring_timer.take() {
            timers::cancel_timer(timer);
        }
        for channel in [self.inbound.take(), self.outbound.take()]
            .into_iter()
            .flatten()
        {
            if let Err(e) = call::hangup(&channel, reason) {
                log::warn(&format!("forward: cannot hang up {channel}: {e}"));
            }
        }
        if let Some(bridge) = self.bridge.take()
            && let Err(e) = call::destroy_bridge(&bridge)
        {
            log::warn(&format!("forward: cannot destroy {bridge}: {e}"));
        }
    }
}

/// The hangup reason matching a Q.850 cause of a callee that failed before answering.
pub fn reason_for_cause(cause: Option<u32>) -> HangupReason {
    match cause {
        Some(17) => HangupReason::Busy,
        Some(1) => HangupReason::Unallocated,
        Some(21) => HangupReason::Rejected,
        Some(34 | 38 | 42) => HangupReason::Congestion,
        _ => HangupReason::NoAnswer,
    }
}

/// Reads a top-level-looking integer field (`"cause": 17`) out of an event's JSON, without a
/// JSON parser.
fn json_u32(json: &str, field: &str) -> Option<u32> {
    let key = format!("\"{field}\"");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..digits].parse().ok()
}

impl App for Forward {
    fn on_stasis_start(&mut self, channel: &Channel, args: &[String]) {
        if self.done {
            return;
        }
        if self.inbound.is_none() && self.outbound.is_none() {
            self.start_inbound(channel, args);
        } else if self.outbound.as_deref() == Some(channel.id.as_str()) {
            self.connect();
        } else {
            log::warn(&format!(
                "forward: ignoring unexpected channel {}",
                channel.id
            ));
        }
    }

    fn on_hangup_requested(&mut self, channel: &Channel) {
        self.leg_gone(&channel.id, HangupReason::Normal);
    }

    fn on_stasis_end(&mut self, channel: &Channel) {
        self.leg_gone(&channel.id, HangupReason::Normal);
    }

    fn on_timer(&mut self, id: TimerId) {
        if self.ring_timer == Some(id) {
            self.ring_timer = None;
            log::info("forward: the callee did not answer in time");
            self.tear_down(HangupReason::NoAnswer);
        }
    }

    fn on_event(&mut self, event: &Event) {
        // A callee that never answered never enters the app: its end shows up as a raw
        // ChannelDestroyed, if wari reports it to the session at all.
        if let Event::Other { event_type, json } = event
            && event_type == "ChannelDestroyed"
            && !self.outbound_up
            && let Some(outbound) = self.outbound.clone()
            && json.contains(&format!("\"{outbound}\""))
        {
            let reason = reason_for_cause(json_u32(json, "cause"));
            self.leg_gone(&outbound, reason);
        }
    }
}

wari_guest_sdk::export_app!(Forward);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::mock::{Call, CallKind, MockHost};
    use wari_guest_sdk::{CallerId, Error};

    const CALLER: &str = "alice-1";
    const CALLEE: &str = "channel-1"; // the mock's first originated id

    fn inbound() -> Channel {
        let mut c = Channel::new(CALLER);
        c.state = "Ring".into();
        c.caller = CallerId::new("Alice", "100");
        c
    }

    fn start(host: &mut MockHost, app: &mut Forward, args: &[&str]) {
        host.deliver(
            app,
            Event::StasisStart {
                channel: inbound(),
                args: args.iter().map(|s| s.to_string()).collect(),
            },
        );
    }

    fn callee_answers(host: &mut MockHost, app: &mut Forward) {
        host.deliver(
            app,
            Event::StasisStart {
                channel: Channel::new(CALLEE),
                args: vec![],
            },
        );
    }

    fn connected(host: &mut MockHost) -> Forward {
        let mut app = Forward::default();
        start(host, &mut app, &["Test/bob"]);
        callee_answers(host, &mut app);
        host.take_calls();
        app
    }

    fn hangup(channel: &str, reason: HangupReason) -> Call {
        Call::Hangup {
            channel: channel.into(),
            reason,
        }
    }

    #[test]
    fn rings_the_caller_and_calls_the_endpoint() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob"]);
        assert_eq!(
            host.calls(),
            [
                Call::Ring {
                    channel: CALLER.into()
                },
                Call::Originate {
                    endpoint: "Test/bob".into(),
                    args: vec![],
                    caller_id: Some("100".into()),
                    timeout_seconds: Some(RING_SECONDS)
                },
                Call::SetTimer {
                    after_ms: RING_TIMEOUT_MS
                },
            ]
        );
    }

    #[test]
    fn bridges_both_legs_when_the_callee_answers() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob"]);
        let timer = host.pending_timers()[0].0;
        host.take_calls();
        callee_answers(&mut host, &mut app);
        assert_eq!(
            host.calls(),
            [
                Call::CancelTimer { id: timer },
                Call::Answer {
                    channel: CALLER.into()
                },
                Call::CreateBridge {
                    bridge_type: "mixing".into()
                },
                Call::AddToBridge {
                    bridge: "bridge-1".into(),
                    channel: CALLER.into()
                },
                Call::AddToBridge {
                    bridge: "bridge-1".into(),
                    channel: CALLEE.into()
                },
            ]
        );
    }

    #[test]
    fn the_caller_hanging_up_hangs_up_the_callee_and_destroys_the_bridge() {
        let mut host = MockHost::new();
        let mut app = connected(&mut host);
        host.deliver(
            &mut app,
            Event::HangupRequested {
                channel: inbound(),
                cause: Some(16),
            },
        );
        assert_eq!(
            host.take_calls(),
            [
                hangup(CALLEE, HangupReason::Normal),
                Call::DestroyBridge {
                    bridge: "bridge-1".into()
                },
            ]
        );
        // The StasisEnds that follow change nothing.
        for id in [CALLER, CALLEE] {
            host.deliver(
                &mut app,
                Event::StasisEnd {
                    channel: Channel::new(id),
                },
            );
        }
        assert!(host.calls().is_empty());
    }

    #[test]
    fn the_callee_leaving_hangs_up_the_caller() {
        let mut host = MockHost::new();
        let mut app = connected(&mut host);
        host.deliver(
            &mut app,
            Event::StasisEnd {
                channel: Channel::new(CALLEE),
            },
        );
        assert_eq!(
            host.take_calls(),
            [
                hangup(CALLER, HangupReason::Normal),
                Call::DestroyBridge {
                    bridge: "bridge-1".into()
                },
            ]
        );
    }

    #[test]
    fn the_caller_giving_up_while_ringing_cancels_the_callee() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob"]);
        let timer = host.pending_timers()[0].0;
        host.take_calls();
        host.deliver(&mut app, Event::StasisEnd { channel: inbound() });
        assert_eq!(
            host.calls(),
            [
                Call::CancelTimer { id: timer },
                hangup(CALLEE, HangupReason::Normal)
            ]
        );
    }

    #[test]
    fn a_busy_callee_hangs_up_the_caller_busy() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob/busy"]);
        host.take_calls();
        // Somebody else's channel going changes nothing.
        host.deliver(
            &mut app,
            Event::Other {
                event_type: "ChannelDestroyed".into(),
                json: r#"{"type":"ChannelDestroyed","cause":16,"channel":{"id":"channel-12"}}"#
                    .into(),
            },
        );
        assert!(host.calls().is_empty());
        host.deliver(
            &mut app,
            Event::Other {
                event_type: "ChannelDestroyed".into(),
                json: r#"{"type":"ChannelDestroyed","cause": 17,"cause_txt":"User busy","channel":{"id":"channel-1","state":"Down"}}"#.into(),
            },
        );
        assert_eq!(host.control_calls(), [hangup(CALLER, HangupReason::Busy)]);
    }

    #[test]
    fn no_answer_in_time_hangs_up_both() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob/noanswer"]);
        host.take_calls();
        host.fire_next_timer(&mut app).unwrap();
        assert_eq!(
            host.calls(),
            [
                hangup(CALLER, HangupReason::NoAnswer),
                hangup(CALLEE, HangupReason::NoAnswer),
            ]
        );
    }

    #[test]
    fn without_an_endpoint_the_caller_is_hung_up() {
        let mut host = MockHost::new();
        let mut app = Forward::default();
        start(&mut host, &mut app, &[]);
        assert_eq!(host.calls(), [hangup(CALLER, HangupReason::Unallocated)]);
    }

    #[test]
    fn a_failed_originate_hangs_up_the_caller() {
        let mut host = MockHost::new();
        host.fail(CallKind::Originate, Error::new(400, "Invalid endpoint"));
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Nope/x"]);
        assert_eq!(
            host.control_calls().last(),
            Some(&hangup(CALLER, HangupReason::Congestion))
        );
        assert!(host.pending_timers().is_empty());
        assert!(
            host.logs()
                .iter()
                .any(|(_, m)| m.contains("Invalid endpoint"))
        );
    }

    #[test]
    fn a_failed_bridge_add_tears_everything_down() {
        let mut host = MockHost::new();
        host.fail_once(
            CallKind::AddToBridge,
            Error::new(409, "Channel not in Stasis"),
        );
        let mut app = Forward::default();
        start(&mut host, &mut app, &["Test/bob"]);
        host.take_calls();
        callee_answers(&mut host, &mut app);
        let calls = host.control_calls();
        assert_eq!(
            calls[calls.len() - 3..],
            [
                hangup(CALLER, HangupReason::Failure),
                hangup(CALLEE, HangupReason::Failure),
                Call::DestroyBridge {
                    bridge: "bridge-1".into()
                },
            ]
        );
    }

    #[test]
    fn hangup_errors_are_logged_and_teardown_goes_on() {
        let mut host = MockHost::new();
        let mut app = connected(&mut host);
        host.fail(CallKind::Hangup, Error::new(404, "Channel not found"));
        host.deliver(&mut app, Event::StasisEnd { channel: inbound() });
        assert_eq!(
            host.calls()[1],
            Call::DestroyBridge {
                bridge: "bridge-1".into()
            }
        );
        assert!(
            host.logs()
                .iter()
                .any(|(_, m)| m.contains("cannot hang up"))
        );
    }

    #[test]
    fn reads_the_cause() {
        assert_eq!(json_u32(r#"{"cause":17}"#, "cause"), Some(17));
        assert_eq!(json_u32(r#"{"cause" : 34, "x":1}"#, "cause"), Some(34));
        assert_eq!(json_u32(r#"{"cause_txt":"x"}"#, "cause"), None);
        assert_eq!(reason_for_cause(Some(17)), HangupReason::Busy);
        assert_eq!(reason_for_cause(None), HangupReason::NoAnswer);
    }
}
