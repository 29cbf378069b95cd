//! Channel runners: one task per channel that executes its dialplan, waits in a Stasis
//! application, or simply waits to be hung up, and finally removes the channel.
//!
//! Dialplan applications: NoOp, Verbose, Log, Answer, Hangup, Wait, Set, Goto, GotoIf,
//! Ringing, Progress, Playback (plays its files through the media path, then sets
//! PLAYBACKSTATUS), Dial (Local and Test targets), Stasis. Anything else is logged and hangs the channel up, as
//! Asterisk does for an unknown application.

use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;

use super::cause;
use super::channel::{ChannelState, Control, DialplanPosition, Execution};
use super::channels::Destination;
use super::dialplan::expr;
use super::event::{self, Event, Scope};
use super::hangup::HangupBy;
use super::media::MediaTopic;
use super::snapshot::ChannelSnapshot;
use super::stasis_run::Announce;
use super::tech::{Indication, Request};
use super::{ControlReceiver, Core};

/// How long a channel answered by the dialplan waits for media to flow before going on.
const ANSWER_MEDIA_WAIT: Duration = Duration::from_millis(500);

/// What a runner does first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Wait until hung up (an outbound leg someone else drives).
    Idle,
    /// Run the dialplan from this place.
    Dialplan {
        context: String,
        exten: String,
        priority: u32,
    },
    /// An originated channel: wait for the answer, then go to the destination.
    Originated {
        destination: Destination,
        timeout: Option<Duration>,
    },
    /// Run this application at once (`/channels/create`): STASISSTATUS and the dialplan
    /// application are set as for an originated channel, and ChannelDialplan announces it.
    Stasis { app: String, args: Vec<String> },
    /// Enter this application at once, and nothing else (snoop and external media
    /// channels).
    Enter { app: String, args: Vec<String> },
    /// Already in its application (it entered while its call was placed): take control
    /// messages until it leaves.
    InStasis,
}

/// How a stint in Stasis ended.
enum StasisExit {
    /// The application was not available.
    Failed,
    HungUp,
    Continue(String, String, u32),
    /// The application failed during the call (its per-call connection broke, or a
    /// WebAssembly app failed with `on_failure = continue`): the channel goes on in the
    /// dialplan with STASISSTATUS=FAILED.
    ContinueFailed(String, String, u32),
}

/// What to do after a dialplan application.
enum Next {
    /// The next priority.
    Step,
    /// Jump to a place.
    Jump(String, String, u32),
    /// Stop executing: the channel hangs up.
    Stop,
}

struct Runner {
    core: Arc<Core>,
    id: Arc<str>,
    control: ControlReceiver,
}

/// Runs a channel from `start` until it is gone. Should the runner fail part-way (a bug
/// reached by some input), the channel is still hung up and destroyed, so that its
/// application hears it end and nothing is left that cannot be removed.
pub async fn run(core: Arc<Core>, id: Arc<str>, control: ControlReceiver, start: Start) {
    let runner = Runner { core, id, control };
    let id = runner.id.clone();
    let core = runner.core.clone();
    if AssertUnwindSafe(runner.run(start))
        .catch_unwind()
        .await
        .is_err()
    {
        tracing::error!(channel = %id, "Channel runner failed: hanging the channel up");
        core.with_state(|state| {
            core.hangup_locked(state, &id, cause::FAILURE, HangupBy::Silent);
            core.destroy_locked(state, &id);
        });
    }
}

/// The instant `after` from now; none when there is no limit, or when it lies beyond what
/// the clock can hold (which amounts to none).
fn deadline_after(after: Option<Duration>) -> Option<tokio::time::Instant> {
    after.and_then(|t| tokio::time::Instant::now().checked_add(t))
}

/// A `Dial` timeout in seconds: positive and finite. Anything else means no timeout, as in
/// Asterisk, which warns about it the same way.
fn dial_timeout(text: &str) -> Option<Duration> {
    let seconds = text.trim().parse::<f64>().ok()?;
    if seconds.is_nan() || seconds <= 0.0 {
        return None;
    }
    match Duration::try_from_secs_f64(seconds) {
        Ok(timeout) => Some(timeout),
        Err(_) => {
            tracing::warn!(timeout = %text.escape_debug(), "Invalid Dial timeout: no timeout");
            None
        }
    }
}

impl Runner {
    async fn run(mut self, start: Start) {
        let runner = &mut self;
        match start {
            Start::Idle => runner.wait_for_hangup().await,
            Start::Dialplan {
                context,
                exten,
                priority,
            } => runner.pbx(context, exten, priority).await,
            Start::Originated {
                destination,
                timeout,
            } => {
                if runner.wait_for_answer(timeout).await {
                    runner.go_to(destination).await;
                }
            }
            Start::Stasis { app, args } => runner.app_run(app, args, Announce::WithEvent).await,
            Start::Enter { app, args } => {
                let exit = runner.stasis(app, args).await;
                runner.after_app(exit).await;
            }
            Start::InStasis => {
                let exit = runner.in_stasis().await;
                runner.after_app(exit).await;
            }
        }
        runner.finish();
    }
}

impl Runner {
    fn is_hung_up(&self) -> bool {
        self.core
            .with_state(|state| state.channels.get(&self.id).is_none_or(|c| c.hanging_up))
    }

    /// Hangs the channel up if nobody did, then removes it.
    fn finish(&mut self) {
        let core = self.core.clone();
        core.with_state(|state| {
            core.hangup_locked(state, &self.id, cause::NORMAL_CLEARING, HangupBy::Silent);
            core.destroy_locked(state, &self.id);
        });
    }

    async fn wait_for_hangup(&mut self) {
        loop {
            match self.control.recv().await {
                None | Some(Control::Hangup) => return,
                Some(_) => {}
            }
        }
    }

    /// Waits for the far end to answer; false when hung up or timed out.
    async fn wait_for_answer(&mut self, timeout: Option<Duration>) -> bool {
        let deadline = deadline_after(timeout);
        loop {
            let message = match deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.control.recv()).await {
                        Ok(message) => message,
                        Err(_) => {
                            // Given up: no Dial status, and no request event.
                            let core = self.core.clone();
                            core.with_state(|state| {
                                core.dial_abandoned(state, &self.id);
                                core.hangup_locked(
                                    state,
                                    &self.id,
                                    cause::NO_ANSWER,
                                    HangupBy::Silent,
                                );
                            });
                            return false;
                        }
                    }
                }
                None => self.control.recv().await,
            };
            match message {
                Some(Control::Answered) => return true,
                None | Some(Control::Hangup) => return false,
                Some(_) => {}
            }
        }
    }

    async fn go_to(&mut self, destination: Destination) {
        match destination {
            Destination::App { app, args } => {
                self.app_run(app, args, Announce::Silently).await;
            }
            Destination::Dialplan {
                context,
                exten,
                priority,
            } => self.pbx(context, exten, priority).await,
        }
    }

    /// The Stasis application as what the channel runs (an originated or created
    /// channel): STASISSTATUS and the dialplan application are set, the channel enters the
    /// application, and whatever follows it (a continued dialplan) runs before the run ends.
    async fn app_run(&mut self, app: String, args: Vec<String>, announce: Announce) {
        let core = self.core.clone();
        core.with_state(|state| core.begin_app_run(state, &self.id, &app, &args, announce));
        let exit = self.stasis(app, args).await;
        self.after_app(exit).await;
    }

    /// The end of an application run: a continued dialplan runs first (it is no PBX of
    /// its own), then STASISSTATUS tells how the application went. A channel whose
    /// application could not run is hung up, its cause unknown (0).
    async fn after_app(&mut self, exit: StasisExit) {
        let status = match exit {
            StasisExit::Failed => {
                let core = self.core.clone();
                core.with_state(|state| {
                    core.end_app_run(state, &self.id, "FAILED");
                    core.hangup_locked(state, &self.id, 0, HangupBy::Silent);
                });
                return;
            }
            StasisExit::HungUp => "SUCCESS",
            StasisExit::Continue(context, exten, priority) => {
                self.dialplan(context, exten, priority).await;
                "SUCCESS"
            }
            StasisExit::ContinueFailed(context, exten, priority) => {
                self.dialplan(context, exten, priority).await;
                "FAILED"
            }
        };
        let core = self.core.clone();
        core.with_state(|state| core.end_app_run(state, &self.id, status));
    }

    /// A dialplan run of its own (a PBX): when it ends, however it ends, Asterisk
    /// announces it with a soft hangup request. A channel hung up before it starts runs
    /// nothing.
    async fn pbx(&mut self, context: String, exten: String, priority: u32) {
        let core = self.core.clone();
        let started = core.with_state(|state| match state.channels.get_mut(&self.id) {
            Some(channel) if !channel.hanging_up => {
                if channel.execution == Execution::Idle {
                    channel.execution = Execution::Dialplan {
                        saved_app: channel.dialplan.app_name.clone(),
                        saved_data: channel.dialplan.app_data.clone(),
                    };
                }
                true
            }
            _ => false,
        });
        if !started {
            return;
        }
        // asterisk.conf `maxcalls`: counted while the dialplan runs, as Asterisk counts
        // its PBX threads; over it the channel runs nothing and is hung up with no cause
        // (0), as Asterisk 23.4.1 does (an originate has been answered 200 by then).
        let Some(_call) = core.quotas().start_call() else {
            tracing::warn!(
                channel = %crate::log_text::Escaped(&self.id),
                maxcalls = core.quotas().max_calls().unwrap_or_default(),
                "maxcalls reached: the channel does not run the dialplan and is hung up"
            );
            core.with_state(|state| core.hangup_locked(state, &self.id, 0, HangupBy::Silent));
            return;
        };
        self.dialplan(context, exten, priority).await;
        core.with_state(|state| core.dialplan_ended(state, &self.id));
    }

    /// A stint in Stasis: StasisStart, control until the channel leaves, StasisEnd.
    async fn stasis(&mut self, app: String, args: Vec<String>) -> StasisExit {
        let core = self.core.clone();
        // An application nobody registered may be served by a per-call outbound connection.
        let per_call = core.with_state(|state| {
            let connector = state.apps.per_call_for(&app)?;
            let name = state.channels.get(&self.id)?.name.clone();
            Some((connector, name))
        });
        let Some((connector, app)) = (match per_call {
            Some((connector, name)) => connector
                .connect(&app, &self.id, &name)
                .await
                .map(|ephemeral| (Some(connector), ephemeral)),
            None => Some((None, app)),
        }) else {
            tracing::info!(channel = %self.id, "per-call connection failed: STASISSTATUS=FAILED");
            return StasisExit::Failed;
        };
        let exit = self.stasis_stint(&app, args).await;
        match (connector.map(|c| c.finished(&app)), exit) {
            (Some(true), StasisExit::Continue(c, e, p)) => StasisExit::ContinueFailed(c, e, p),
            (_, exit) => exit,
        }
    }

    async fn stasis_stint(&mut self, app: &str, args: Vec<String>) -> StasisExit {
        let core = self.core.clone();
        if !core.with_state(|state| core.stasis_enter(state, &self.id, app, &args)) {
            tracing::info!(channel = %self.id, app, "Stasis application is not registered: STASISSTATUS=FAILED");
            return StasisExit::Failed;
        }
        self.in_stasis().await
    }

    /// Control of a channel in Stasis, until it leaves (StasisEnd).
    async fn in_stasis(&mut self) -> StasisExit {
        let core = self.core.clone();
        loop {
            match self.control.recv().await {
                None | Some(Control::Hangup) => {
                    // The application hears the end of the channel's media first.
                    core.finish_channel_media(&self.id).await;
                    core.with_state(|state| {
                        core.media_topic_closing(state, MediaTopic::Channel(self.id.clone()));
                        core.stasis_leave(state, &self.id);
                    });
                    return StasisExit::HungUp;
                }
                Some(Control::Continue {
                    context,
                    exten,
                    priority,
                    failed,
                }) => {
                    core.with_state(|state| core.stasis_leave(state, &self.id));
                    if failed {
                        return StasisExit::ContinueFailed(context, exten, priority);
                    }
                    return StasisExit::Continue(context, exten, priority);
                }
                Some(Control::Move { app: target, args }) => {
                    core.with_state(|state| {
                        if state.apps.is_active(&target) {
                            core.stasis_leave(state, &self.id);
                            core.stasis_enter(state, &self.id, &target, &args);
                        } else if let Some(current) = state.app_of_channel(&self.id) {
                            let snapshot = core.channel_snapshot(state, &self.id);
                            core.publish(
                                state,
                                Event::new("ApplicationMoveFailed", Scope::app(&current))
                                    .with_channel("channel", snapshot)
                                    .with("destination", json!(target))
                                    .with("args", json!(args)),
                            );
                        }
                    });
                }
                Some(_) => {}
            }
        }
    }

    /// Executes the dialplan from a place until it runs out or the channel hangs up.
    async fn dialplan(&mut self, mut context: String, mut exten: String, mut priority: u32) {
        let dialplan = self.core.dialplan();
        loop {
            if self.is_hung_up() {
                return;
            }
            let Some(step) = dialplan.step(&context, &exten, priority) else {
                tracing::debug!(channel = %self.id, context, exten, priority, "end of dialplan: hanging up");
                return;
            };
            let app = step.app.clone();
            let core = self.core.clone();
            let data = core.with_state(|state| {
                let data =
                    expr::substitute(&step.data, &|name| core.var_value(state, &self.id, name));
                core.set_dialplan_position(
                    state,
                    &self.id,
                    DialplanPosition {
                        context: context.clone(),
                        exten: exten.clone(),
                        priority: i64::from(priority),
                        app_name: app.clone(),
                        app_data: data.clone(),
                    },
                );
                data
            });
            match self.execute(&app, &data, &context, &exten).await {
                Next::Step => priority += 1,
                Next::Jump(c, e, p) => {
                    context = c;
                    exten = e;
                    priority = p;
                }
                Next::Stop => return,
            }
        }
    }

    /// `Set(name=value)`: a channel variable, or a function it writes (`GLOBAL(X)`,
    /// `CALLERID(num)`, ...).
    fn set_var(&self, name: &str, value: &str) {
        let core = self.core.clone();
        core.with_state(|state| core.set_var_locked(state, &self.id, name, Some(value), None));
    }

    fn indicate(&self, indication: Indication) {
        let core = self.core.clone();
        core.with_state(|state| {
            if let Some(channel) = state.channels.get(&self.id) {
                let driver = channel.driver.clone();
                driver.indicate(
                    &mut super::tech::Context::new(&core, state),
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

    async fn execute(&mut self, app: &str, data: &str, context: &str, exten: &str) -> Next {
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

    /// Dial(Tech/res[&Tech/res...][,timeout]): calls every target; the first to answer is
    /// bridged with this channel, the others are hung up. Sets DIALSTATUS.
    async fn dial(&mut self, data: &str) -> Next {
        let args = expr::split_args(data);
        let targets = ampersand_items(&args);
        let timeout = args.get(1).and_then(|t| dial_timeout(t));
        let core = self.core.clone();
        let (legs, snapshots) = core.with_state(|state| {
            let caller_json = core.channel_snapshot(state, &self.id);
            // The legs count against the quota of the user who made the caller.
            let owner = state
                .channels
                .get(&self.id)
                .and_then(|c| c.charge.as_ref())
                .map(|c| c.account().clone());
            let mut legs: Vec<Arc<str>> = Vec::new();
            let mut snapshots = std::collections::HashMap::new();
            for target in &targets {
                let requested =
                    core.request_channel(state, target, Request::default(), owner.as_ref());
                let (leg, rx) = match requested {
                    Ok(requested) => requested,
                    Err(e) => {
                        tracing::info!(channel = %self.id, target, error = %e, "Dial target unavailable");
                        continue;
                    }
                };
                core.spawn_runner(leg.clone(), rx, Start::Idle);
                state.dialers.insert(leg.clone(), self.id.clone());
                if let Some(channel) = state.channels.get_mut(&leg) {
                    channel.dialplan.app_name = "AppDial".to_string();
                    channel.dialplan.app_data = "(Outgoing Line)".to_string();
                }
                // The Dial events name what follows the technology (`200@default`).
                let dialstring = target
                    .split_once('/')
                    .map_or(target.as_str(), |(_, resource)| resource)
                    .to_string();
                let peer_json = core.channel_snapshot(state, &leg);
                snapshots.insert(leg.clone(), (peer_json.clone(), dialstring.clone()));
                core.publish(
                    state,
                    event::dial(
                        Some((&self.id, caller_json.clone())),
                        (&leg, peer_json.map(Arc::new)),
                        &dialstring,
                        "",
                    ),
                );
                if let Err(e) = core.call_locked(state, &leg) {
                    tracing::info!(channel = %self.id, target, error = %e, "Dial call failed");
                    core.hangup_locked(state, &leg, cause::FAILURE, HangupBy::Silent);
                }
                legs.push(leg);
            }
            (legs, snapshots)
        });
        if legs.is_empty() {
            self.set_var("DIALSTATUS", "CHANUNAVAIL");
            return Next::Step;
        }
        let outcome = self.await_legs(&legs, timeout, snapshots).await;
        core.with_state(|state| {
            for leg in &legs {
                state.dialers.remove(leg);
                state.leg_causes.remove(leg);
            }
        });
        match outcome {
            DialOutcome::CallerHungUp => Next::Stop,
            DialOutcome::Failed(status) => {
                self.set_var("DIALSTATUS", status);
                Next::Step
            }
            DialOutcome::Answered(winner) => {
                self.set_var("DIALSTATUS", "ANSWER");
                self.bridged_call(winner).await;
                Next::Stop
            }
        }
    }

    async fn await_legs(
        &mut self,
        legs: &[Arc<str>],
        timeout: Option<Duration>,
        mut snapshots: std::collections::HashMap<Arc<str>, (Option<ChannelSnapshot>, String)>,
    ) -> DialOutcome {
        let deadline = deadline_after(timeout);
        let mut reported: HashSet<(Arc<str>, &'static str)> = HashSet::new();
        // The last snapshot of each leg: a leg that fails may be gone before its final Dial
        // status is reported, which still names it.
        let core = self.core.clone();
        loop {
            let verdict = core.with_state(|state| {
                for leg in legs {
                    if state.channels.contains_key(leg)
                        && let Some(entry) = snapshots.get_mut(leg)
                    {
                        entry.0 = core.channel_snapshot(state, leg);
                    }
                }
                let caller_json = core.channel_snapshot(state, &self.id);
                let mut live = 0;
                let mut failure = "CHANUNAVAIL";
                let mut winner = None;
                for leg in legs {
                    let channel = state.channels.get(leg);
                    let (status, alive) = match channel {
                        Some(c) if c.hanging_up => (
                            cause::dial_status(
                                state.leg_causes.get(leg).copied().unwrap_or(c.hangup_cause),
                            ),
                            false,
                        ),
                        Some(c) if c.state == ChannelState::Up => ("ANSWER", true),
                        Some(c) if c.state == ChannelState::Ringing => ("RINGING", true),
                        Some(_) => ("", true),
                        None => (
                            cause::dial_status(state.leg_causes.get(leg).copied().unwrap_or(0)),
                            false,
                        ),
                    };
                    if alive {
                        live += 1;
                    } else {
                        failure = status;
                    }
                    if status == "ANSWER" && winner.is_none() {
                        winner = Some(leg.clone());
                    }
                    if !status.is_empty()
                        && let Some((peer_json, dialstring)) = snapshots.get(leg).cloned()
                        && reported.insert((leg.clone(), status))
                    {
                        core.publish(
                            state,
                            event::dial(
                                Some((&self.id, caller_json.clone())),
                                (leg, peer_json.map(Arc::new)),
                                &dialstring,
                                status,
                            ),
                        );
                    }
                }
                if let Some(winner) = winner {
                    for leg in legs.iter().filter(|l| **l != winner) {
                        core.hangup_locked(state, leg, 26, HangupBy::Silent);
                    }
                    return Some(DialOutcome::Answered(winner));
                }
                (live == 0).then_some(DialOutcome::Failed(failure))
            });
            if let Some(outcome) = verdict {
                return outcome;
            }
            let message = match deadline {
                Some(deadline) => {
                    match tokio::time::timeout_at(deadline, self.control.recv()).await {
                        Ok(message) => message,
                        Err(_) => {
                            core.with_state(|state| {
                                for leg in legs {
                                    core.hangup_locked(
                                        state,
                                        leg,
                                        cause::NO_ANSWER,
                                        HangupBy::Silent,
                                    );
                                }
                            });
                            return DialOutcome::Failed("NOANSWER");
                        }
                    }
                }
                None => self.control.recv().await,
            };
            if matches!(message, None | Some(Control::Hangup)) {
                core.with_state(|state| {
                    for leg in legs {
                        core.hangup_locked(state, leg, cause::NORMAL_CLEARING, HangupBy::Silent);
                    }
                });
                return DialOutcome::CallerHungUp;
            }
        }
    }

    /// Caller and answered leg share a basic bridge until either hangs up.
    async fn bridged_call(&mut self, winner: Arc<str>) {
        let core = self.core.clone();
        core.with_state(|state| {
            state.dialers.insert(winner.clone(), self.id.clone());
            core.answer_locked(state, &self.id);
            let bridge = core.create_basic_bridge_locked(state);
            core.join_bridge_locked(state, &bridge, &self.id);
            core.join_bridge_locked(state, &bridge, &winner);
        });
        loop {
            let peer_gone =
                core.with_state(|state| state.channels.get(&winner).is_none_or(|c| c.hanging_up));
            if peer_gone {
                break;
            }
            match self.control.recv().await {
                None | Some(Control::Hangup) => {
                    core.with_state(|state| {
                        core.hangup_locked(state, &winner, cause::NORMAL_CLEARING, HangupBy::Silent)
                    });
                    break;
                }
                Some(_) => {}
            }
        }
        core.with_state(|state| {
            state.dialers.remove(&winner);
        });
    }
}

enum DialOutcome {
    Answered(Arc<str>),
    Failed(&'static str),
    CallerHungUp,
}

/// The `&`-separated items of an application's first argument (Playback's files, Dial's
/// targets), trimmed, empty ones left out.
fn ampersand_items(args: &[String]) -> Vec<String> {
    args.first()
        .map(|first| {
            first
                .split('&')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ampersand_items_split_the_first_argument() {
        let args = expr::split_args("a& b &&c ,x&y");
        assert_eq!(ampersand_items(&args), ["a", "b", "c"]);
        assert!(ampersand_items(&[]).is_empty());
        assert!(ampersand_items(&expr::split_args(" & ")).is_empty());
    }
}
