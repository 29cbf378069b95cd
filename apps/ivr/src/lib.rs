//! An IVR menu.
//!
//! When a call enters the app it is answered and hears the menu prompt
//! (`sound:hello-world`, `sound:demo-instruct`). Then:
//!
//! | caller does | the app |
//! |---|---|
//! | presses `1` | sets the channel variable `IVR_CHOICE=1` and sends the call on in the dialplan at `ivr-result,1,1` |
//! | presses `2` | hangs up with reason `busy` |
//! | presses `*` | plays the menu again (and starts counting attempts afresh) |
//! | presses anything else | plays `sound:option-is-invalid` and the menu again |
//! | presses nothing for 5 s | plays the menu again |
//!
//! The caller gets two tries: after a second timeout or invalid key the app hangs up
//! (reason `normal`). The 5 s run from the end of the prompt (its `PlaybackFinished`), or from
//! the moment the app gave up playing it: playing may fail (e.g. `501` while wari has no media
//! path), and the app then logs the error and carries on with the timeout, so the menu still
//! works by keys alone. Keys pressed during the prompt count at once.
//!
//! Use it from the dialplan, with somewhere for choice 1 to go:
//!
//! ```ini
//! [default]
//! exten => 200,1,Stasis(ivr)
//!
//! [ivr-result]
//! exten => 1,1,Verbose(caller chose ${IVR_CHOICE})
//!  same => n,Hangup()
//! ```

use wari_guest_sdk::{App, Channel, HangupReason, Playback, TimerId, call, log, timers};

/// The menu prompt.
pub const MENU: &[&str] = &["sound:hello-world", "sound:demo-instruct"];
/// Played before the menu after an invalid key.
pub const INVALID: &str = "sound:option-is-invalid";
/// How long the caller has to press a key after the prompt.
pub const TIMEOUT_MS: u64 = 5_000;
/// How many times the menu is offered before the app gives up.
pub const ATTEMPTS: u32 = 2;
/// Where choice `1` continues: context, extension, priority.
pub const RESULT_TARGET: (&str, &str, u32) = ("ivr-result", "1", 1);

/// The app: the state of one call.
#[derive(Debug, Default)]
pub struct Ivr {
    /// The caller's channel, once it entered.
    channel: Option<String>,
    /// How many times the menu has been offered.
    attempts: u32,
    /// The prompt playing now; the timeout starts when it finishes.
    prompt: Option<String>,
    /// The running timeout.
    timer: Option<TimerId>,
    /// The call has been routed or hung up: ignore whatever follows.
    done: bool,
}

impl Ivr {
    fn is_ours(&self, channel: &Channel) -> bool {
        self.channel.as_deref() == Some(channel.id.as_str())
    }

    /// Offers the menu (after `before`, if given) and arranges the timeout.
    fn offer_menu(&mut self, channel: &str, before: Option<&str>) {
        self.attempts += 1;
        let media: Vec<&str> = before.into_iter().chain(MENU.iter().copied()).collect();
        match call::play(channel, &media) {
            Ok(playback) => self.prompt = Some(playback),
            Err(e) => {
                log::warn(&format!("ivr: cannot play the menu to {channel}: {e}"));
                self.prompt = None;
                self.start_timeout();
            }
        }
    }

    fn start_timeout(&mut self) {
        self.cancel_timeout();
        self.timer = Some(timers::set_timer(TIMEOUT_MS));
    }

    fn cancel_timeout(&mut self) {
        if let Some(timer) = self.timer.take() {
            timers::cancel_timer(timer);
        }
    }

    /// One more try if the caller has any left, else goodbye.
    fn retry_or_give_up(&mut self, channel: &str, before: Option<&str>) {
        if self.attempts < ATTEMPTS {
            self.offer_menu(channel, before);
        } else {
            log::info(&format!("ivr: no valid choice from {channel}, hanging up"));
            self.hang_up(channel, HangupReason::Normal);
        }
    }

    fn hang_up(&mut self, channel: &str, reason: HangupReason) {
        self.finish();
        if let Err(e) = call::hangup(channel, reason) {
            log::warn(&format!("ivr: cannot hang up {channel}: {e}"));
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.prompt = None;
        self.cancel_timeout();
    }
}

impl App for Ivr {
    fn on_stasis_start(&mut self, channel: &Channel, _args: &[String]) {
        if self.channel.is_some() {
            log::warn(&format!("ivr: ignoring a second channel {}", channel.id));
            return;
        }
        self.channel = Some(channel.id.clone());
        if let Err(e) = call::answer(&channel.id) {
            log::warn(&format!("ivr: cannot answer {}: {e}", channel.id));
        }
        self.offer_menu(&channel.id, None);
    }

    fn on_playback_finished(&mut self, playback: &Playback) {
        if !self.done && self.prompt.as_deref() == Some(playback.id.as_str()) {
            self.prompt = None;
            self.start_timeout();
        }
    }

    fn on_dtmf(&mut self, channel: &Channel, digit: char) {
        if self.done || !self.is_ours(channel) {
            return;
        }
        let id = channel.id.as_str();
        self.cancel_timeout();
        self.prompt = None;
        match digit {
            '1' => {
                self.finish();
                if let Err(e) = call::set_variable(id, "IVR_CHOICE", "1") {
                    log::warn(&format!("ivr: cannot set IVR_CHOICE on {id}: {e}"));
                }
                let (context, exten, priority) = RESULT_TARGET;
                if let Err(e) = call::continue_in_dialplan(id, context, exten, Some(priority)) {
                    log::error(&format!("ivr: cannot continue {id} in the dialplan: {e}"));
                    self.hang_up(id, HangupReason::Normal);
                }
            }
            '2' => self.hang_up(id, HangupReason::Busy),
            '*' => {
                self.attempts = 0;
                self.offer_menu(id, None);
            }
            other => {
                log::info(&format!("ivr: invalid choice {other:?} from {id}"));
                self.retry_or_give_up(id, Some(INVALID));
            }
        }
    }

    fn on_timer(&mut self, id: TimerId) {
        if self.done || self.timer != Some(id) {
            return;
        }
        self.timer = None;
        if let Some(channel) = self.channel.clone() {
            log::info(&format!("ivr: no key from {channel}"));
            self.retry_or_give_up(&channel, None);
        }
    }

    fn on_hangup_requested(&mut self, channel: &Channel) {
        if self.is_ours(channel) {
            self.finish();
        }
    }

    fn on_stasis_end(&mut self, channel: &Channel) {
        if self.is_ours(channel) {
            self.finish();
        }
    }
}

wari_guest_sdk::export_app!(Ivr);

#[cfg(test)]
mod tests {
    use super::*;
    use wari_guest_sdk::mock::{Call, CallKind, MockHost};
    use wari_guest_sdk::{Error, Event};

    const CALLER: &str = "caller-1";

    fn menu(before: Option<&str>) -> Call {
        Call::Play {
            channel: CALLER.into(),
            media: before
                .into_iter()
                .chain(MENU.iter().copied())
                .map(String::from)
                .collect(),
        }
    }

    fn start(host: &mut MockHost, app: &mut Ivr) {
        host.deliver(
            app,
            Event::StasisStart {
                channel: Channel::new(CALLER),
                args: vec![],
            },
        );
    }

    fn press(host: &mut MockHost, app: &mut Ivr, digit: char) {
        host.deliver(
            app,
            Event::Dtmf {
                channel: Channel::new(CALLER),
                digit,
                duration_ms: 120,
            },
        );
    }

    fn finish_playback(host: &mut MockHost, app: &mut Ivr, id: &str) {
        host.deliver(
            app,
            Event::PlaybackFinished {
                playback: Playback::new(id, MENU[1], CALLER),
            },
        );
    }

    #[test]
    fn answers_and_plays_the_menu_then_waits_for_the_prompt_to_end() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        assert_eq!(
            host.take_calls(),
            [
                Call::Answer {
                    channel: CALLER.into()
                },
                menu(None),
            ]
        );
        assert!(host.pending_timers().is_empty());
        // Another playback finishing does not start the timeout.
        finish_playback(&mut host, &mut app, "someone-else");
        assert!(host.pending_timers().is_empty());
        finish_playback(&mut host, &mut app, "playback-1");
        assert_eq!(
            host.take_calls(),
            [Call::SetTimer {
                after_ms: TIMEOUT_MS
            }]
        );
    }

    #[test]
    fn one_sets_the_choice_and_continues_in_the_dialplan() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        finish_playback(&mut host, &mut app, "playback-1");
        let timer = host.pending_timers()[0].0;
        host.take_calls();
        press(&mut host, &mut app, '1');
        assert_eq!(
            host.calls(),
            [
                Call::CancelTimer { id: timer },
                Call::SetVariable {
                    channel: CALLER.into(),
                    name: "IVR_CHOICE".into(),
                    value: "1".into()
                },
                Call::ContinueInDialplan {
                    channel: CALLER.into(),
                    context: "ivr-result".into(),
                    exten: "1".into(),
                    priority: Some(1)
                },
            ]
        );
        assert_eq!(host.variable(CALLER, "IVR_CHOICE").as_deref(), Some("1"));
        // Later keys and events are ignored.
        host.take_calls();
        press(&mut host, &mut app, '2');
        host.deliver(
            &mut app,
            Event::StasisEnd {
                channel: Channel::new(CALLER),
            },
        );
        assert!(host.calls().is_empty());
    }

    #[test]
    fn one_hangs_up_if_the_dialplan_refuses() {
        let mut host = MockHost::new();
        host.fail(
            CallKind::ContinueInDialplan,
            Error::new(404, "context not found"),
        );
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        host.take_calls();
        press(&mut host, &mut app, '1');
        assert_eq!(
            host.control_calls().last(),
            Some(&Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Normal
            })
        );
    }

    #[test]
    fn two_hangs_up_busy_even_during_the_prompt() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        host.take_calls();
        press(&mut host, &mut app, '2');
        assert_eq!(
            host.calls(),
            [Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Busy
            }]
        );
        // The prompt ending afterwards starts nothing.
        finish_playback(&mut host, &mut app, "playback-1");
        assert!(host.pending_timers().is_empty());
    }

    #[test]
    fn a_timeout_replays_the_menu_once_then_hangs_up() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        finish_playback(&mut host, &mut app, "playback-1");
        host.take_calls();

        host.fire_next_timer(&mut app).unwrap();
        assert_eq!(host.take_calls(), [menu(None)]);
        finish_playback(&mut host, &mut app, "playback-2");
        assert_eq!(host.pending_timers()[0].1, TIMEOUT_MS);

        host.fire_next_timer(&mut app).unwrap();
        assert_eq!(
            host.control_calls(),
            [Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Normal
            }]
        );
        assert!(host.pending_timers().is_empty());
    }

    #[test]
    fn when_playing_fails_it_logs_and_times_out_from_now() {
        let mut host = MockHost::new();
        host.fail(CallKind::Play, Error::new(501, "Media is not implemented"));
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        assert_eq!(
            host.take_calls(),
            [
                Call::Answer {
                    channel: CALLER.into()
                },
                menu(None),
                Call::SetTimer {
                    after_ms: TIMEOUT_MS
                },
            ]
        );
        assert!(host.logs()[0].1.contains("501"));
        // The menu still works by keys.
        press(&mut host, &mut app, '2');
        assert_eq!(
            host.control_calls(),
            [Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Busy
            }]
        );
    }

    #[test]
    fn an_answer_failure_is_logged_and_the_menu_goes_on() {
        let mut host = MockHost::new();
        host.fail(CallKind::Answer, Error::new(409, "Channel not in Stasis"));
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        assert_eq!(host.control_calls()[1], menu(None));
        assert_eq!(host.logs().len(), 1);
    }

    #[test]
    fn an_invalid_key_says_so_and_counts_as_an_attempt() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        host.take_calls();
        press(&mut host, &mut app, '7');
        assert_eq!(host.take_calls(), [menu(Some(INVALID))]);
        press(&mut host, &mut app, '9');
        assert_eq!(
            host.take_calls(),
            [Call::Hangup {
                channel: CALLER.into(),
                reason: HangupReason::Normal
            }]
        );
    }

    #[test]
    fn star_repeats_the_menu_with_fresh_attempts() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        finish_playback(&mut host, &mut app, "playback-1");
        host.fire_next_timer(&mut app).unwrap(); // second attempt
        host.take_calls();
        press(&mut host, &mut app, '*');
        assert_eq!(host.take_calls(), [menu(None)]);
        // Two more timeouts are needed to hang up.
        finish_playback(&mut host, &mut app, "playback-3");
        host.fire_next_timer(&mut app).unwrap();
        finish_playback(&mut host, &mut app, "playback-4");
        assert!(
            host.control_calls()
                .iter()
                .all(|c| c.kind() == CallKind::Play)
        );
        host.fire_next_timer(&mut app).unwrap();
        assert_eq!(
            host.control_calls().last().unwrap().kind(),
            CallKind::Hangup
        );
    }

    #[test]
    fn a_hangup_cancels_the_timeout_and_stale_timers_are_ignored() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        finish_playback(&mut host, &mut app, "playback-1");
        let timer = host.pending_timers()[0].0;
        host.take_calls();
        host.deliver(
            &mut app,
            Event::HangupRequested {
                channel: Channel::new(CALLER),
                cause: Some(16),
            },
        );
        assert_eq!(host.take_calls(), [Call::CancelTimer { id: timer }]);
        // A timer event racing the cancellation changes nothing.
        host.deliver(&mut app, Event::Timer(timer));
        host.deliver(
            &mut app,
            Event::StasisEnd {
                channel: Channel::new(CALLER),
            },
        );
        assert!(host.calls().is_empty());
    }

    #[test]
    fn keys_from_another_channel_are_ignored() {
        let mut host = MockHost::new();
        let mut app = Ivr::default();
        start(&mut host, &mut app);
        host.take_calls();
        host.deliver(
            &mut app,
            Event::Dtmf {
                channel: Channel::new("stranger"),
                digit: '2',
                duration_ms: 100,
            },
        );
        assert!(host.calls().is_empty());
    }
}
