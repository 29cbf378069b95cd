//! Channel runners: one task per channel that executes its dialplan, waits in a Stasis
//! application, or simply waits to be hung up, and finally removes the channel.
//!
//! Dialplan applications (`applications`): NoOp, Verbose, Log, Answer, Hangup, Wait, Set,
//! Goto, GotoIf, Ringing, Progress, Playback (plays its files through the media path, then
//! sets PLAYBACKSTATUS), Dial (Local and Test targets, `dial`), Stasis. Anything else is
//! logged and hangs the channel up, as Asterisk does for an unknown application.

mod applications;
mod dial;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::json;

use super::cause;
use super::channels::Destination;
use super::channels::channel::{Control, DialplanPosition, Execution};
use super::channels::hangup::HangupBy;
use super::dialplan::expr;
use super::event::{Event, Scope};
use super::media::MediaTopic;
use super::stasis::run::Announce;
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
pub(super) async fn run(core: Arc<Core>, id: Arc<str>, control: ControlReceiver, start: Start) {
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
