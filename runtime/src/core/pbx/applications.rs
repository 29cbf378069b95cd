//! The dialplan applications a runner executes (NoOp, Verbose, Log, Answer, Hangup, Wait,
//! Set, Goto, GotoIf, Ringing, Progress, Playback, Dial, Stasis): each one's effect on the
//! channel and where the dialplan goes next.

use std::time::Duration;

use crate::core::cause;
use crate::core::channels::channel::{ChannelState, Control};
use crate::core::channels::hangup::HangupBy;
use crate::core::dialplan::expr;
use crate::core::tech::Indication;

use super::{ANSWER_MEDIA_WAIT, Next, Runner, StasisExit, ampersand_items};

impl Runner {
    /// `Set(name=value)`: a channel variable, or a function it writes (`GLOBAL(X)`,
    /// `CALLERID(num)`, ...).
    pub(super) fn set_var(&self, name: &str, value: &str) {
        let core = self.core.clone();
        core.with_state(|state| core.set_var_locked(state, &self.id, name, Some(value), None));
    }

    fn indicate(&self, indication: Indication) {
        let core = self.core.clone();
        core.with_state(|state| {
            if let Some(channel) = state.channels.get(&self.id) {
                let driver = channel.driver.clone();
                driver.indicate(
                    &mut crate::core::tech::Context::new(&core, state),
                    &self.id,
                    indication,
                );
            }
        });
    }

    /// Answers the channel as the dialplan does: a channel that was ringing then waits
    /// for media to flow, as long as [`ANSWER_MEDIA_WAIT`] (Asterisk's wait for the first
    /// frame; no frame comes before it here) or `delay`, whichever is longer. False when
    /// hung up meanwhile.
    async fn answer(&mut self, delay: Duration) -> bool {
        let core = self.core.clone();
        let was_ringing = core.with_state(|state| {
            let ringing = state
                .channels
                .get(&self.id)
                .is_some_and(|c| matches!(c.state, ChannelState::Ring | ChannelState::Ringing));
            core.answer_locked(state, &self.id);
            ringing
        });
        !was_ringing || self.pause(ANSWER_MEDIA_WAIT.max(delay)).await
    }

    pub(super) async fn execute(
        &mut self,
        app: &str,
        data: &str,
        context: &str,
        exten: &str,
    ) -> Next {
        match app.to_ascii_lowercase().as_str() {
            "noop" => Next::Step,
            "verbose" | "log" => {
                tracing::info!(channel = %self.id, "{data}");
                Next::Step
            }
            "answer" => {
                // Answer(delay): milliseconds.
                let delay = data.trim().parse::<u64>().unwrap_or(0);
                if self.answer(Duration::from_millis(delay)).await {
                    Next::Step
                } else {
                    Next::Stop
                }
            }
            "hangup" => {
                let cause = data.trim().parse::<u16>().unwrap_or(cause::NORMAL_CLEARING);
                let core = self.core.clone();
                core.with_state(|state| {
                    core.hangup_locked(state, &self.id, cause, HangupBy::Silent)
                });
                Next::Stop
            }
            "wait" => {
                let seconds = data.trim().parse::<f64>().unwrap_or(0.0).max(0.0);
                if self
                    .pause(Duration::from_secs_f64(seconds.min(86_400.0)))
                    .await
                {
                    Next::Step
                } else {
                    Next::Stop
                }
            }
            "set" => {
                match data.split_once('=') {
                    Some((name, value)) => self.set_var(name.trim(), value),
                    None => tracing::warn!(channel = %self.id, data, "Set() needs name=value"),
                }
                Next::Step
            }
            "goto" => self.goto(data, context, exten),
            "gotoif" => {
                let (condition, if_true, if_false) = expr::parse_gotoif(data);
                let branch = if expr::is_true(&condition) {
                    if_true
                } else {
                    if_false
                };
                match branch {
                    Some(target) if !target.is_empty() => self.goto(&target, context, exten),
                    _ => Next::Step,
                }
            }
            "ringing" => {
                self.indicate(Indication::Ringing);
                Next::Step
            }
            "progress" => {
                self.indicate(Indication::Progress);
                Next::Step
            }
            "playback" => self.playback(data).await,
            "stasis" => {
                let mut args = expr::split_args(data);
                let app = if args.is_empty() {
                    String::new()
                } else {
                    args.remove(0)
                };
                self.set_var("STASISSTATUS", "");
                if app.is_empty() {
                    self.set_var("STASISSTATUS", "FAILED");
                    return Next::Step;
                }
                match self.stasis(app, args).await {
                    StasisExit::Failed => {
                        self.set_var("STASISSTATUS", "FAILED");
                        Next::Step
                    }
                    StasisExit::HungUp => {
                        self.set_var("STASISSTATUS", "SUCCESS");
                        Next::Stop
                    }
                    StasisExit::Continue(c, e, p) => {
                        self.set_var("STASISSTATUS", "SUCCESS");
                        Next::Jump(c, e, p)
                    }
                    StasisExit::ContinueFailed(c, e, p) => {
                        self.set_var("STASISSTATUS", "FAILED");
                        Next::Jump(c, e, p)
                    }
                }
            }
            "dial" => self.dial(data).await,
            _ => {
                tracing::warn!(channel = %self.id, app, "no such dialplan application: hanging up");
                Next::Stop
            }
        }
    }

    /// Playback(file[&file2...][,options]): answers first (unless `noanswer`; with `skip`
    /// an unanswered channel plays nothing), plays every file in turn through the media
    /// path and sets PLAYBACKSTATUS to FAILED when one could not be played, else SUCCESS.
    /// Without media the files "play" instantly.
    async fn playback(&mut self, data: &str) -> Next {
        let args = expr::split_args(data);
        let files = ampersand_items(&args);
        if files.is_empty() {
            tracing::warn!(channel = %self.id, "Playback() requires a file name: hanging up");
            return Next::Stop;
        }
        let options = args
            .get(1)
            .map(|o| o.to_ascii_lowercase())
            .unwrap_or_default();
        let up = self.core.with_state(|state| {
            state
                .channels
                .get(&self.id)
                .is_some_and(|c| c.state == ChannelState::Up)
        });
        if !up && options.contains("skip") {
            self.set_var("PLAYBACKSTATUS", "SUCCESS");
            return Next::Step;
        }
        if !options.contains("noanswer") && !self.answer(Duration::ZERO).await {
            return Next::Stop;
        }
        let mut failed = false;
        for file in &files {
            let mut done = match self.core.dialplan_play(&self.id, file) {
                Ok(done) => done,
                Err(error) => {
                    tracing::debug!(channel = %self.id, file, %error, "Playback() without media: nothing played");
                    continue;
                }
            };
            let this_failed = loop {
                tokio::select! {
                    // A dropped sender (the channel's media is gone) counts as failed.
                    result = &mut done => break result.unwrap_or(true),
                    message = self.control.recv() => match message {
                        None | Some(Control::Hangup) => return Next::Stop,
                        Some(_) => {}
                    },
                }
            };
            if this_failed {
                tracing::info!(channel = %self.id, file, "Playback() could not play a file");
                failed = true;
            }
        }
        self.set_var("PLAYBACKSTATUS", if failed { "FAILED" } else { "SUCCESS" });
        Next::Step
    }

    /// Waits, interrupted by a hangup; false when hung up.
    async fn pause(&mut self, duration: Duration) -> bool {
        let sleep = tokio::time::sleep(duration);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => return true,
                message = self.control.recv() => match message {
                    None | Some(Control::Hangup) => return false,
                    Some(_) => {}
                },
            }
        }
    }

    fn goto(&self, data: &str, context: &str, exten: &str) -> Next {
        let Some(target) = expr::parse_goto(data, context, exten) else {
            tracing::warn!(channel = %self.id, data, "invalid Goto target: hanging up");
            return Next::Stop;
        };
        let priority = match target.priority {
            expr::PriorityRef::Number(n) => Some(n),
            expr::PriorityRef::Label(label) => {
                self.core
                    .dialplan()
                    .find_label(&target.context, &target.exten, &label)
            }
        };
        match priority {
            Some(p) => Next::Jump(target.context, target.exten, p),
            None => {
                tracing::warn!(channel = %self.id, data, "Goto label not found: hanging up");
                Next::Stop
            }
        }
    }
}
